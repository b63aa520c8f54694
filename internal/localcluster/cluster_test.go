package localcluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// syncBuffer collects progress lines written from several goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// testBinDir finds (or builds) the binaries; the project builds them, so a
// missing binary is a failure, not a skip.
func testBinDir(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	dir, err := BinDir(ctx, testWriter{t})
	if err != nil {
		t.Fatalf("control-plane binaries: %v", err)
	}
	return dir
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// TestClusterRunsPods starts the whole control plane from the cached
// binaries and checks that it does what envtest cannot: Deployments get
// available Pods, Jobs complete, object-count quotas are enforced. Then it
// checks Stop leaves no process and no temporary directory behind.
func TestClusterRunsPods(t *testing.T) {
	bin := testBinDir(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	// Start's context bounds the cluster's life; cancelling it (below) stops
	// the cluster like Ctrl-C in `fedcommons-dev` would.
	clusterCtx, stopCluster := context.WithCancel(ctx)
	defer stopCluster()
	out := &syncBuffer{}
	begin := time.Now()
	c, err := Start(clusterCtx, Options{BinDir: bin, Out: out})
	t.Logf("progress:\n%s", out.String())
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Logf("start-up time: %s", time.Since(begin).Round(10*time.Millisecond))

	pids := map[string]int{}
	for _, p := range c.procs {
		pids[p.name] = p.pid()
	}
	stopped := false
	t.Cleanup(func() {
		if stopped {
			return
		}
		if t.Failed() {
			dumpLogs(t, c)
		}
		_ = c.Stop()
	})
	if len(pids) != 5 {
		t.Fatalf("want 5 processes, got %v", pids)
	}

	// The kubeconfig works as written for kubectl.
	kcfg, err := clientcmd.BuildConfigFromFlags("", c.KubeconfigPath())
	if err != nil {
		t.Fatalf("loading %s: %v", c.KubeconfigPath(), err)
	}
	if kcfg.Host != c.Endpoint() || !strings.HasPrefix(c.Endpoint(), "https://127.0.0.1:") {
		t.Fatalf("kubeconfig server %q, Endpoint %q", kcfg.Host, c.Endpoint())
	}
	cs := kubernetes.NewForConfigOrDie(kcfg)

	const ns = "default"
	labels := map[string]string{"app": "web"}
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr(int32(1)),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name:  "web",
					Image: "example.invalid/fake:1", // kwok never pulls it
					Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
						corev1.ResourceCPU:    resource.MustParse("500m"),
						corev1.ResourceMemory: resource.MustParse("512Mi"),
					}},
				}}},
			},
		},
	}
	if _, err := cs.AppsV1().Deployments(ns).Create(ctx, dep, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating Deployment: %v", err)
	}
	job := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "migrate", Namespace: ns},
		Spec: batchv1.JobSpec{
			BackoffLimit: ptr(int32(0)),
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				RestartPolicy: corev1.RestartPolicyNever,
				Containers:    []corev1.Container{{Name: "migrate", Image: "example.invalid/fake:1"}},
			}},
		},
	}
	if _, err := cs.BatchV1().Jobs(ns).Create(ctx, job, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating Job: %v", err)
	}

	workloads := time.Now()
	eventually(ctx, t, 90*time.Second, "Deployment web Available", func() error {
		d, err := cs.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			return err
		}
		for _, cond := range d.Status.Conditions {
			if cond.Type == appsv1.DeploymentAvailable && cond.Status == corev1.ConditionTrue && d.Status.AvailableReplicas == 1 {
				return nil
			}
		}
		return fmt.Errorf("status %+v", d.Status)
	})
	eventually(ctx, t, 90*time.Second, "Job migrate Complete", func() error {
		j, err := cs.BatchV1().Jobs(ns).Get(ctx, "migrate", metav1.GetOptions{})
		if err != nil {
			return err
		}
		for _, cond := range j.Status.Conditions {
			if cond.Type == batchv1.JobComplete && cond.Status == corev1.ConditionTrue {
				return nil
			}
		}
		return fmt.Errorf("status %+v", j.Status)
	})
	t.Logf("Deployment Available and Job Complete after %s", time.Since(workloads).Round(10*time.Millisecond))

	checkQuota(ctx, t, cs)

	// Stop: every component gone, the temporary DataDir removed.
	dataDir := c.DataDir()
	stopBegin := time.Now()
	stopped = true
	// Cancel the context and call Stop at the same time: whichever wins,
	// both return only once everything has stopped.
	stopCluster()
	if err := c.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	t.Logf("stopped in %s", time.Since(stopBegin).Round(10*time.Millisecond))
	for name, pid := range pids {
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("%s (pid %d) still exists after Stop (kill -0: %v)", name, pid, err)
		}
		if err := syscall.Kill(-pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("process group of %s (%d) still has members after Stop (kill -0: %v)", name, pid, err)
		}
	}
	if left := processesMentioning(dataDir); len(left) > 0 {
		t.Errorf("processes still running with %s in their command line: %v", dataDir, left)
	}
	if _, err := os.Stat(dataDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("temporary DataDir %s still exists after Stop (stat: %v)", dataDir, err)
	}
	select {
	case <-c.Done():
	default:
		t.Error("Done not closed after Stop")
	}
	if err := c.Err(); err != nil {
		t.Errorf("Err after a normal Stop: %v", err)
	}
}

// checkQuota verifies that object-count quotas are enforced once the
// controller-manager has filled the quota's status. count/deployments.apps
// takes the same path as count/instances.fedcommons.io (the generic object
// counter for a resource without a dedicated evaluator); count/secrets is a
// core count. (count/configmaps would collide with the kube-root-ca.crt
// ConfigMap the controller-manager puts in every namespace.)
func checkQuota(ctx context.Context, t *testing.T, cs kubernetes.Interface) {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "quota-test"}}
	if _, err := cs.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating namespace: %v", err)
	}
	quota := &corev1.ResourceQuota{
		ObjectMeta: metav1.ObjectMeta{Name: "one-each", Namespace: ns.Name},
		Spec: corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{
			"count/deployments.apps": resource.MustParse("1"),
			"count/secrets":          resource.MustParse("1"),
		}},
	}
	if _, err := cs.CoreV1().ResourceQuotas(ns.Name).Create(ctx, quota, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating ResourceQuota: %v", err)
	}
	eventually(ctx, t, 60*time.Second, "ResourceQuota status filled by kube-controller-manager", func() error {
		q, err := cs.CoreV1().ResourceQuotas(ns.Name).Get(ctx, quota.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if len(q.Status.Hard) != len(quota.Spec.Hard) {
			return fmt.Errorf("status %+v", q.Status)
		}
		return nil
	})

	secret := func(name string) *corev1.Secret {
		return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns.Name}}
	}
	deployment := func(name string) *appsv1.Deployment {
		l := map[string]string{"app": name}
		return &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns.Name},
			Spec: appsv1.DeploymentSpec{
				Replicas: ptr(int32(0)),
				Selector: &metav1.LabelSelector{MatchLabels: l},
				Template: corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Labels: l},
					Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "example.invalid/fake:1"}}},
				},
			},
		}
	}
	cases := []struct {
		name   string
		create func(name string) error
	}{
		{"count/secrets", func(name string) error {
			_, err := cs.CoreV1().Secrets(ns.Name).Create(ctx, secret(name), metav1.CreateOptions{})
			return err
		}},
		{"count/deployments.apps", func(name string) error {
			_, err := cs.AppsV1().Deployments(ns.Name).Create(ctx, deployment(name), metav1.CreateOptions{})
			return err
		}},
	}
	for _, tc := range cases {
		if err := tc.create("first"); err != nil {
			t.Fatalf("%s: first object refused: %v", tc.name, err)
		}
		// Admission records the first object in status.used, but the
		// quota controller may recount from an informer cache that has
		// not seen it yet and write the old count back (Kubernetes quota
		// is eventually consistent). Such a stale count lasts until its
		// next resync, so wait for a count of 1 that holds.
		waitForSteadyUsage(ctx, t, cs, ns.Name, quota.Name, corev1.ResourceName(tc.name), 1)
		err := tc.create("second")
		if err == nil || !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "exceeded quota") {
			t.Fatalf("%s: second object: want an \"exceeded quota\" error, got %v", tc.name, err)
		}
		t.Logf("%s enforced: %v", tc.name, err)
	}
}

// waitForSteadyUsage waits until the quota reports want as the usage of
// resource in three reads in a row, a second apart.
func waitForSteadyUsage(ctx context.Context, t *testing.T, cs kubernetes.Interface, ns, name string, resource corev1.ResourceName, want int64) {
	t.Helper()
	steady := 0
	eventually(ctx, t, 60*time.Second, fmt.Sprintf("%s usage %d, steady", resource, want), func() error {
		q, err := cs.CoreV1().ResourceQuotas(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		used := q.Status.Used[resource]
		if used.Value() != want {
			steady = 0
			return fmt.Errorf("used %s", used.String())
		}
		if steady++; steady < 3 {
			time.Sleep(time.Second)
			return fmt.Errorf("used %s, %d reads so far", used.String(), steady)
		}
		return nil
	})
}

func eventually(ctx context.Context, t *testing.T, timeout time.Duration, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			t.Fatalf("%s: not within %s: %v", what, timeout, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// processesMentioning lists the PIDs whose command line contains s (Linux;
// elsewhere it finds nothing).
func processesMentioning(s string) []string {
	var pids []string
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || e.Name() == "self" {
			continue
		}
		if bytes.Contains(cmdline, []byte(s)) {
			pids = append(pids, e.Name()+": "+strings.ReplaceAll(string(cmdline), "\x00", " "))
		}
	}
	return pids
}

func dumpLogs(t *testing.T, c *Cluster) {
	for _, p := range c.procs {
		t.Logf("last lines of %s:\n%s", p.logPath, indent(tailFile(p.logPath, 30)))
	}
}

func ptr[T any](v T) *T { return &v }
