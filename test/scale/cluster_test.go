//go:build scale

package scale

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fedcommons/fedcommons/internal/devcluster"
	"github.com/fedcommons/fedcommons/internal/localcluster"
	"github.com/fedcommons/fedcommons/internal/manager"
	"github.com/fedcommons/fedcommons/internal/testenv"
)

// The identities whose requests the API server audits: the operator (its
// ServiceAccount's user name, so the shipped RBAC applies to it) and the
// baseline client. Everything else (the harness, kube-controller-manager,
// the scheduler, kwok, the stand-ins) is left out of the audit log, so
// the counts are the operator's own.
const (
	operatorUser = testenv.OperatorUser
	baselineUser = "fedcommons-scale-baseline"
)

// auditPolicy logs the metadata of every request of the two measured
// users once, when the response is complete (watches: when they end).
var auditPolicy = []byte(`apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived, ResponseStarted]
rules:
- level: Metadata
  users: ["` + operatorUser + `", "` + baselineUser + `"]
- level: None
`)

// rig is one local cluster with the platform installed and the stand-ins
// for cert-manager and a storage provisioner running.
type rig struct {
	t       *testing.T
	ctx     context.Context
	cluster *localcluster.Cluster
	admin   client.Client
	// watching reads Instances, Certificates and claims from informers
	// (writes and every other read go to the API server): the stand-ins
	// and the Ready poll look at every one of them every second.
	watching client.Client
}

// newRig starts a cluster sized for instances Instances rolled out twice
// (the operator's and the baseline's): a kwok node takes 110 Pods, an
// Instance runs one to five.
func newRig(t *testing.T, ctx context.Context, instances int) *rig {
	bin, err := localcluster.BinDir(ctx, os.Stderr)
	if err != nil {
		t.Fatalf("control-plane binaries: %v", err)
	}
	lc, err := localcluster.Start(ctx, localcluster.Options{
		BinDir: bin, Nodes: 2 + instances/12, Out: os.Stderr,
		AuditPolicy: auditPolicy,
		// The controller-manager and the scheduler get the harness's own
		// client limit. With their defaults (20 and 50 requests a second
		// per controller) the deployment controller, not the API server
		// or the operator, set the pace from 1,000 Instances on: at 3,000
		// its queue held 6,910 Deployments, its clients had waited
		// 18,000 s in their rate limiters, and the operator's queues were
		// empty. What is measured is the operator against the API server.
		ControllerQPS: 500,
		Users: []localcluster.User{
			{Name: operatorUser, Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + testenv.OperatorNamespace}},
			{Name: baselineUser, Groups: []string{"system:masters"}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := lc.Stop(); err != nil {
			t.Errorf("stopping the cluster: %v", err)
		}
	})
	cfg := lc.RESTConfig()
	// The harness creates thousands of objects and polls them; it is not
	// what is measured, so it is not held to client-go's default pace.
	cfg.QPS, cfg.Burst = 500, 1000
	scheme := manager.Scheme()
	must(t, apiextensionsv1.AddToScheme(scheme))
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	must(t, err)
	must(t, c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: testenv.OperatorNamespace}}))
	must(t, testenv.InstallOperatorRBAC(ctx, c))
	must(t, devcluster.InstallPlatform(ctx, c))
	// The stand-ins and the Ready poll List every Certificate, claim and
	// Instance of the cluster once a second. Uncached, at 3,000 Instances,
	// that kept the API server busier than the operator did (its queue
	// stood empty while Instances waited for volumes), so the cluster was
	// measured instead of the operator. From informers, as cert-manager
	// and a provisioner would read them, a List costs the API server
	// nothing. The stand-ins' Secret reads stay direct: they read one
	// Secret, and caching them all would be the harness's cost.
	standInsCtx, stop := context.WithCancel(ctx)
	informers, err := cache.New(cfg, cache.Options{Scheme: scheme})
	must(t, err)
	cacheDone := make(chan struct{})
	go func() { defer close(cacheDone); _ = informers.Start(standInsCtx) }()
	watching, err := client.New(cfg, client.Options{Scheme: scheme, Cache: &client.CacheOptions{
		Reader: informers, DisableFor: []client.Object{&corev1.Secret{}}}})
	must(t, err)
	done := make(chan struct{})
	go func() { defer close(done); devcluster.RunStandIns(standInsCtx, watching, logr.Discard()) }()
	t.Cleanup(func() { stop(); <-done; <-cacheDone })
	return &rig{t: t, ctx: ctx, cluster: lc, admin: c, watching: watching}
}

// buildOperator builds the operator's binary once per benchmark.
func buildOperator(t *testing.T) string {
	bin := filepath.Join(t.TempDir(), "fedcommons")
	build := exec.Command("go", "build", "-o", bin, "../../cmd/fedcommons")
	build.Stderr = os.Stderr
	must(t, build.Run())
	return bin
}

// operator is the manager running as a subprocess: its memory and CPU
// are read from /proc and its own /metrics.
type operator struct {
	cmd        *exec.Cmd
	metricsURL string
	log        *os.File
}

func (r *rig) startOperator(bin, logPath string, workers int, extra, env []string) *operator {
	port, err := freePort()
	must(r.t, err)
	args := []string{"manager",
		"--metrics-bind-address=127.0.0.1:" + strconv.Itoa(port), "--metrics-secure=false",
		"--health-probe-bind-address=0", "--feed-public-bind-address=0", "--feed-cluster-bind-address=0",
		"--leader-elect=false", "--operator-namespace=" + testenv.OperatorNamespace, "--zap-log-level=info"}
	if workers > 0 {
		args = append(args, "--workers="+strconv.Itoa(workers))
	}
	args = append(args, extra...)
	cmd := exec.Command(bin, args...)
	cmd.Env = append(append(os.Environ(), "KUBECONFIG="+r.cluster.UserKubeconfig(operatorUser)), env...)
	logFile, err := os.Create(logPath)
	must(r.t, err)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	must(r.t, cmd.Start())
	op := &operator{cmd: cmd, metricsURL: fmt.Sprintf("http://127.0.0.1:%d/metrics", port), log: logFile}
	r.t.Cleanup(op.stop)
	return op
}

// stop ends the operator (SIGTERM, then SIGKILL after 10 s). Safe to call
// twice.
func (o *operator) stop() {
	if o.cmd.ProcessState != nil {
		return
	}
	_ = o.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = o.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = o.cmd.Process.Kill()
		<-done
	}
	_ = o.log.Close()
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
