package crash

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
	"github.com/fedcommons/fedcommons/internal/devcluster"
	"github.com/fedcommons/fedcommons/internal/localcluster"
	"github.com/fedcommons/fedcommons/internal/manager"
	"github.com/fedcommons/fedcommons/internal/testenv"
)

// kinds the inventory covers: what the operator creates for a Community
// and a hosted Instance.
var kinds = []schema.GroupVersionKind{
	{Version: "v1", Kind: "Namespace"},
	{Version: "v1", Kind: "Secret"},
	{Version: "v1", Kind: "ConfigMap"},
	{Version: "v1", Kind: "Service"},
	{Version: "v1", Kind: "PersistentVolumeClaim"},
	{Version: "v1", Kind: "ResourceQuota"},
	{Version: "v1", Kind: "ServiceAccount"},
	{Group: "apps", Version: "v1", Kind: "Deployment"},
	{Group: "apps", Version: "v1", Kind: "StatefulSet"},
	{Group: "batch", Version: "v1", Kind: "Job"},
	{Group: "batch", Version: "v1", Kind: "CronJob"},
	{Group: "networking.k8s.io", Version: "v1", Kind: "Ingress"},
	{Group: "networking.k8s.io", Version: "v1", Kind: "NetworkPolicy"},
	{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "RoleBinding"},
	{Group: "policy", Version: "v1", Kind: "PodDisruptionBudget"},
	{Group: "cert-manager.io", Version: "v1", Kind: "Certificate"},
}

type cluster struct {
	t   *testing.T
	ctx context.Context
	c   client.Client
	bin string
	kc  string
	// bodies keeps the normalized body of each inventoried object, to
	// show what differs.
	bodies map[string]string
	// logs holds every line every manager process logged, for the
	// secrets-hygiene check.
	logs testenv.SyncBuffer
}

// checkHygiene is issue 14's secrets-hygiene check over a crash run: no
// value of the run's Secrets in any manager's log (info level), any Event
// or any status.
func (cl *cluster) checkHygiene(prefix string) {
	cl.t.Helper()
	list := &corev1.SecretList{}
	must(cl.t, cl.c.List(cl.ctx, list))
	values := testenv.SecretValues(list.Items, func(s *corev1.Secret) bool { return strings.HasPrefix(s.Namespace, prefix+"-") })
	text, events, statuses, err := testenv.Observable(cl.ctx, cl.c)
	must(cl.t, err)
	logs := cl.logs.String()
	hits := testenv.SecretLeaks(logs+text, values)
	cl.t.Logf("secrets hygiene: %d secret values scanned in %d log bytes, %d Events, %d statuses: %d hits", len(values), len(logs), events, statuses, len(hits))
	if len(values) == 0 {
		cl.t.Error("no secret values to look for: the hygiene check proved nothing")
	}
	if len(hits) > 0 {
		cl.t.Errorf("secret values seen in logs, Events or status (by Secret/key): %v", hits)
	}
}

func TestCrashConsistencySmall(t *testing.T) {
	crashRun(t, 4, 5, 3)
}

// crashRun rolls out communities×perCommunity hosted Instances twice, in
// two sets of communities: once with a manager left alone (the clean
// run), once with the manager SIGKILLed kills times at random moments.
func crashRun(t *testing.T, communities, perCommunity, kills int) {
	start := time.Now()
	cl := newCluster(t, communities*perCommunity)
	readyTimeout := 3*time.Minute + time.Duration(communities*perCommunity)*3*time.Second

	// The clean run.
	mgr := cl.startManager()
	cleanBegan := time.Now()
	must(t, cl.rollout("clean", communities, perCommunity))
	cl.settle("clean", readyTimeout)
	// How long a rollout takes undisturbed: the kills are spread over it.
	span := time.Since(cleanBegan)
	clean := cl.inventory("clean")
	mgr.kill()

	// The crash run: kills at random moments of the rollout, from the
	// creation of the first object to when the clean run was all Ready.
	at := make([]time.Duration, kills)
	for i := range at {
		at[i] = time.Duration(rand.Int64N(int64(span)))
	}
	slices.Sort(at)
	seen := map[string]map[string][]byte{}
	mgr = cl.startManager()
	crashBegan := time.Now()
	rolled := make(chan error, 1)
	go func() { rolled <- cl.rollout("crash", communities, perCommunity) }()
	survived := 0
	for i := range kills {
		// A manager gets at least half a second to start and do some work.
		time.Sleep(max(time.Until(crashBegan.Add(at[i])), 500*time.Millisecond))
		cl.recordSecrets("crash", seen)
		mgr.kill()
		survived++
		t.Logf("kill %d/%d at %s into the rollout", i+1, kills, time.Since(crashBegan).Round(time.Millisecond))
		mgr = cl.startManager()
	}
	t.Logf("%d kills spread over %s, the clean run's rollout time", survived, span.Round(time.Second))
	must(t, <-rolled)
	killsEnded := time.Now()
	ready := cl.settle("crash", readyTimeout)
	cl.recordSecrets("crash", seen)
	crash := cl.inventory("crash")
	defer mgr.kill()

	// Compare.
	lost := 0
	for k, v := range clean {
		if crash[k] != v {
			lost++
			t.Errorf("after the kills %s differs from the clean run:\n crash %s\n clean %s", k, cl.bodies["crash"+k], cl.bodies["clean"+k])
		}
	}
	for k := range crash {
		if _, ok := clean[k]; !ok {
			lost++
			t.Errorf("after the kills there is %s, not in the clean run", k)
		}
	}
	changed := cl.checkSecrets("crash", seen)
	orphans := cl.checkOwners("crash")
	cl.checkHygiene("crash")
	t.Logf("crash consistency: %d Instances in %d communities, %d kills survived, %d objects compared, %d differences, "+
		"%d generated Secrets changed, %d orphans, every Instance Ready %s after the rollout and the kills ended (inventory still and checks done %s after); %s",
		communities*perCommunity, communities, survived, len(clean), lost, changed, orphans,
		ready.Round(time.Second), time.Since(killsEnded).Round(time.Second), time.Since(start).Round(time.Second))
}

// newCluster starts a local cluster (etcd, kube-apiserver,
// kube-controller-manager, kube-scheduler, and kwok nodes that make Pods
// run and Jobs complete) sized for instances Instances per run, installs
// the platform (CRDs, community roles, the ClusterIssuer) and the
// operator's RBAC, runs the stand-ins for cert-manager and a storage
// provisioner, and builds the operator binary once.
func newCluster(t *testing.T, instances int) *cluster {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	bin, err := localcluster.BinDir(ctx, os.Stderr)
	if err != nil {
		t.Fatalf("control-plane binaries: %v", err)
	}
	// Two runs (clean and crash) of a handful of Pods per Instance; a kwok
	// node takes 110 Pods.
	lc, err := localcluster.Start(ctx, localcluster.Options{BinDir: bin, Nodes: 2 + instances/8})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := lc.Stop(); err != nil {
			t.Errorf("stopping the cluster: %v", err)
		}
	})
	cfg := lc.RESTConfig()
	scheme := manager.Scheme()
	must(t, apiextensionsv1.AddToScheme(scheme))
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	// The operator's RBAC (which includes the community roles) first:
	// InstallPlatform takes the roles and the namespace already there.
	must(t, c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: testenv.OperatorNamespace}}))
	must(t, testenv.InstallOperatorRBAC(ctx, c))
	must(t, devcluster.InstallPlatform(ctx, c))
	standInsCtx, stopStandIns := context.WithCancel(ctx)
	standIns := make(chan struct{})
	go func() { defer close(standIns); devcluster.RunStandIns(standInsCtx, c, logr.Discard()) }()
	// Registered after the cluster's Stop, so run before it.
	t.Cleanup(func() { stopStandIns(); <-standIns })
	dir := t.TempDir()
	cl := &cluster{t: t, ctx: ctx, c: c, bin: filepath.Join(dir, "fedcommons"), kc: filepath.Join(dir, "kubeconfig")}
	build := exec.Command("go", "build", "-o", cl.bin, "../../cmd/fedcommons")
	build.Stderr = os.Stderr
	must(t, build.Run())
	must(t, writeKubeconfig(cfg, cl.kc))
	return cl
}

// writeKubeconfig writes a kubeconfig for cfg's admin credentials,
// impersonating the operator's ServiceAccount (testenv.AsOperator).
func writeKubeconfig(cfg *rest.Config, path string) error {
	op := testenv.AsOperator(cfg)
	kc := clientcmdapi.NewConfig()
	kc.Clusters["envtest"] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: cfg.CAData}
	kc.AuthInfos["operator"] = &clientcmdapi.AuthInfo{
		ClientCertificateData: cfg.CertData, ClientKeyData: cfg.KeyData, Token: cfg.BearerToken,
		Impersonate: op.Impersonate.UserName, ImpersonateGroups: op.Impersonate.Groups,
	}
	kc.Contexts["operator"] = &clientcmdapi.Context{Cluster: "envtest", AuthInfo: "operator"}
	kc.CurrentContext = "operator"
	return clientcmd.WriteToFile(*kc, path)
}

type proc struct{ cmd *exec.Cmd }

func (p *proc) kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	_ = p.cmd.Wait()
}

func (cl *cluster) startManager(flags ...string) *proc {
	cl.t.Helper()
	if len(flags) == 0 {
		flags = []string{"--leader-elect=false"}
	}
	cmd := exec.Command(cl.bin, append([]string{"manager", "--metrics-bind-address=0",
		"--health-probe-bind-address=0", "--feed-public-bind-address=0", "--feed-cluster-bind-address=0",
		"--operator-namespace=" + testenv.OperatorNamespace, "--zap-log-level=info"}, flags...)...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+cl.kc)
	// Every line is kept for the secrets-hygiene check; errors are shown.
	cmd.Stderr = io.MultiWriter(&cl.logs, errorLines{os.Stderr})
	must(cl.t, cmd.Start())
	return &proc{cmd: cmd}
}

// rollout creates the run's Communities and, once their namespaces
// exist, their Instances. It returns an error instead of failing the test:
// the crash run calls it from another goroutine, where t.Fatal must not be
// called.
func (cl *cluster) rollout(prefix string, communities, perCommunity int) error {
	for i := range communities {
		ns := fmt.Sprintf("%s-%d", prefix, i)
		if err := cl.c.Create(cl.ctx, &v1alpha1.Community{ObjectMeta: metav1.ObjectMeta{Name: ns},
			Spec: v1alpha1.CommunitySpec{Domains: []v1alpha1.Domain{v1alpha1.Domain(fmt.Sprintf("c%d-%s.example", i, prefix))}}}); err != nil {
			return err
		}
	}
	for i := range communities {
		ns := fmt.Sprintf("%s-%d", prefix, i)
		for j := range perCommunity {
			sw, version := v1alpha1.SoftwareMastodon, "4.5.2"
			if j%2 == 1 {
				sw, version = v1alpha1.SoftwareGoToSocial, "0.20.1"
			}
			in := &v1alpha1.Instance{
				ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("srv%d", j)},
				Spec: v1alpha1.InstanceSpec{Software: sw, Version: version,
					Domain:     v1alpha1.Domain(fmt.Sprintf("srv%d.c%d-%s.example", j, i, prefix)),
					Federation: &v1alpha1.InstanceFederation{Sync: ptr.To(false)}},
			}
			if err := cl.poll(120*time.Second, "create Instance "+ns+"/"+in.Name, func() error {
				err := cl.c.Create(cl.ctx, in.DeepCopy())
				switch {
				case err == nil, apierrors.IsAlreadyExists(err):
					return nil
				case apierrors.IsNotFound(err):
					// The Community controller has not made the namespace yet.
					return errRetry{err}
				case apierrors.IsForbidden(err) && strings.Contains(err.Error(), "status unknown for quota"):
					// The community's ResourceQuota is new: nothing it
					// covers is admitted until kube-controller-manager has
					// filled its status.
					return errRetry{err}
				}
				return err
			}); err != nil {
				return err
			}
		}
	}
	return nil
}

// errRetry marks an error poll waits out; any other error ends it.
type errRetry struct{ error }

// settle waits until every Instance of the run is Ready at its
// generation (Pods run on kwok, Jobs complete, the stand-ins issue
// certificates and bind volumes), and the inventory holds still for three
// seconds. It returns how long the Instances took to be Ready.
func (cl *cluster) settle(prefix string, timeout time.Duration) time.Duration {
	began := time.Now()
	cl.eventually(timeout, prefix+" Instances Ready", func() error {
		list := &v1alpha1.InstanceList{}
		if err := cl.c.List(cl.ctx, list); err != nil {
			return err
		}
		notReady, first := 0, ""
		for _, in := range list.Items {
			if !strings.HasPrefix(in.Namespace, prefix+"-") {
				continue
			}
			r := meta.FindStatusCondition(in.Status.Conditions, v1alpha1.ConditionReady)
			if in.Status.ObservedGeneration != in.Generation || r == nil || r.Status != metav1.ConditionTrue || r.ObservedGeneration != in.Generation {
				if notReady == 0 {
					first = fmt.Sprintf("%s/%s: observed %d of %d, Ready %v", in.Namespace, in.Name, in.Status.ObservedGeneration, in.Generation, r)
				}
				notReady++
			}
		}
		if notReady > 0 {
			return fmt.Errorf("%d not Ready, e.g. %s", notReady, first)
		}
		return nil
	})
	ready := time.Since(began)
	prev := cl.inventory(prefix)
	cl.eventually(120*time.Second, prefix+" inventory still", func() error {
		time.Sleep(3 * time.Second)
		cur := cl.inventory(prefix)
		same := len(cur) == len(prev)
		for k, v := range cur {
			same = same && prev[k] == v
		}
		prev = cur
		if !same {
			return fmt.Errorf("still changing (%d objects)", len(cur))
		}
		return nil
	})
	return ready
}

// inventory is kind/namespace/name → hash of the object's spec (data for
// Secrets and ConfigMaps, except generated Secrets' random values, checked
// apart), with the run's prefix taken out so two runs compare.
func (cl *cluster) inventory(prefix string) map[string]string {
	out := map[string]string{}
	for _, gvk := range kinds {
		list := &unstructured.UnstructuredList{}
		list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
		if err := cl.c.List(cl.ctx, list); err != nil {
			cl.t.Fatalf("list %s: %v", gvk.Kind, err)
		}
		for _, o := range list.Items {
			ns, name := o.GetNamespace(), o.GetName()
			scope := ns
			if ns == "" {
				scope = name
			}
			if !strings.HasPrefix(scope, prefix+"-") {
				continue
			}
			if len(o.GetFinalizers()) > 0 && o.GetDeletionTimestamp() != nil {
				cl.t.Errorf("%s %s/%s is stuck deleting with finalizers %v", gvk.Kind, ns, name, o.GetFinalizers())
			}
			key := gvk.Kind + "/" + strings.TrimPrefix(ns, prefix) + "/" + strings.ReplaceAll(name, prefix, "")
			if _, dup := out[key]; dup {
				cl.t.Errorf("duplicate %s", key)
			}
			var body any
			switch {
			case gvk.Kind == "Secret" && o.GetLabels()[v1alpha1.LabelManagedBy] == v1alpha1.ManagedByValue:
				body = keys(o.Object["data"])
			case gvk.Kind == "Secret" || gvk.Kind == "ConfigMap":
				body = o.Object["data"]
			default:
				spec, _ := o.Object["spec"].(map[string]any)
				if gvk.Kind == "Service" {
					// Assigned by the API server, different in any two runs.
					delete(spec, "clusterIP")
					delete(spec, "clusterIPs")
				}
				body = spec
			}
			b, _ := json.Marshal(body)
			// Owners' and Jobs' uids differ in any two runs; the owner
			// itself is checked by checkOwners.
			b = uidPattern.ReplaceAll(b, []byte("UID"))
			b = []byte(strings.ReplaceAll(string(b), prefix, "RUN"))
			if cl.bodies == nil {
				cl.bodies = map[string]string{}
			}
			cl.bodies[prefix+key] = string(b)
			sum := sha256.Sum256(b)
			out[key] = hex.EncodeToString(sum[:8])
		}
	}
	return out
}

var uidPattern = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)

func keys(m any) []string {
	var out []string
	if mm, ok := m.(map[string]any); ok {
		for k := range mm {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// recordSecrets keeps the first version of every Secret the operator made.
func (cl *cluster) recordSecrets(prefix string, seen map[string]map[string][]byte) {
	list := &corev1.SecretList{}
	if err := cl.c.List(cl.ctx, list, client.MatchingLabels{v1alpha1.LabelManagedBy: v1alpha1.ManagedByValue}); err != nil {
		cl.t.Fatal(err)
	}
	for _, s := range list.Items {
		k := s.Namespace + "/" + s.Name
		if strings.HasPrefix(s.Namespace, prefix+"-") && seen[k] == nil {
			d := map[string][]byte{}
			for kk, v := range s.Data {
				d[kk] = v
			}
			seen[k] = d
		}
	}
}

func (cl *cluster) checkSecrets(prefix string, seen map[string]map[string][]byte) int {
	changed := 0
	for k, first := range seen {
		ns, name, _ := strings.Cut(k, "/")
		s := &corev1.Secret{}
		if err := cl.c.Get(cl.ctx, client.ObjectKey{Namespace: ns, Name: name}, s); err != nil {
			cl.t.Errorf("generated Secret %s: %v", k, err)
			changed++
			continue
		}
		same := len(s.Data) == len(first)
		for kk, v := range first {
			same = same && string(s.Data[kk]) == string(v)
		}
		if !same {
			changed++
			cl.t.Errorf("generated Secret %s changed after a kill", k)
		}
	}
	if len(seen) == 0 {
		cl.t.Error("no generated Secret seen: the test proved nothing")
	}
	return changed
}

// checkOwners: every owner named by an object of the run exists, with the
// uid named.
func (cl *cluster) checkOwners(prefix string) int {
	orphans := 0
	for _, gvk := range kinds {
		list := &unstructured.UnstructuredList{}
		list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
		must(cl.t, cl.c.List(cl.ctx, list))
		for _, o := range list.Items {
			if !strings.HasPrefix(o.GetNamespace(), prefix+"-") {
				continue
			}
			for _, ref := range o.GetOwnerReferences() {
				owner := &unstructured.Unstructured{}
				owner.SetAPIVersion(ref.APIVersion)
				owner.SetKind(ref.Kind)
				err := cl.c.Get(cl.ctx, client.ObjectKey{Namespace: o.GetNamespace(), Name: ref.Name}, owner)
				if err != nil || owner.GetUID() != ref.UID {
					orphans++
					cl.t.Errorf("%s %s/%s: owner %s %s missing (%v)", gvk.Kind, o.GetNamespace(), o.GetName(), ref.Kind, ref.Name, err)
				}
			}
		}
	}
	return orphans
}

func (cl *cluster) eventually(timeout time.Duration, what string, check func() error) {
	cl.t.Helper()
	err := cl.poll(timeout, what, func() error {
		if err := check(); err != nil {
			return errRetry{err}
		}
		return nil
	})
	if err != nil {
		cl.t.Fatal(err)
	}
}

// poll calls check until it returns nil, waiting out an errRetry and
// ending at any other error. Safe off the test goroutine.
func (cl *cluster) poll(timeout time.Duration, what string, check func() error) error {
	var last error
	err := wait.PollUntilContextTimeout(cl.ctx, 250*time.Millisecond, timeout, true, func(context.Context) (bool, error) {
		last = check()
		var retry errRetry
		if last != nil && !errors.As(last, &retry) {
			return false, last
		}
		return last == nil, nil
	})
	if err != nil {
		return fmt.Errorf("%s: not within %s: %v", what, timeout, last)
	}
	return nil
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// errorLines passes on only the lines a manager logged at error level, as
// --zap-log-level=error showed before the log was kept for the hygiene
// check. A write is one log line (zap writes each entry whole).
type errorLines struct{ w io.Writer }

func (e errorLines) Write(p []byte) (int, error) {
	if bytes.Contains(p, []byte(`"level":"error"`)) || bytes.Contains(p, []byte("\tERROR\t")) {
		_, _ = e.w.Write(p)
	}
	return len(p), nil
}
