package localcluster

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// TestRestartAPIServer: the API server process is replaced (a new pid, on
// the same address), the objects written before the restart are still
// there (etcd kept them), the cluster does not report the stopped process
// as a failure, and the controller-manager, reconnected, still acts on new
// objects (a new namespace gets its default ServiceAccount).
func TestRestartAPIServer(t *testing.T) {
	bin := testBinDir(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out := &syncBuffer{}
	c, err := Start(ctx, Options{BinDir: bin, Out: out})
	if err != nil {
		t.Fatalf("Start: %v\n%s", err, out.String())
	}
	t.Cleanup(func() {
		if t.Failed() {
			dumpLogs(t, c)
			t.Logf("progress:\n%s", out.String())
		}
		_ = c.Stop()
	})
	cs := kubernetes.NewForConfigOrDie(c.RESTConfig())
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "before", Namespace: "default"}, Data: map[string]string{"k": "v"}}
	if _, err := cs.CoreV1().ConfigMaps("default").Create(ctx, cm, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	apiPID := func() int {
		for _, p := range c.procs {
			if p.name == "kube-apiserver" {
				return p.pid()
			}
		}
		return 0
	}
	oldPID, endpoint := apiPID(), c.Endpoint()

	began := time.Now()
	if err := c.RestartAPIServer(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("restart took %s", time.Since(began).Round(10*time.Millisecond))
	if newPID := apiPID(); newPID == oldPID || newPID == 0 {
		t.Fatalf("kube-apiserver pid %d before, %d after: not restarted", oldPID, newPID)
	}
	if c.Endpoint() != endpoint {
		t.Fatalf("endpoint moved from %s to %s", endpoint, c.Endpoint())
	}
	select {
	case <-c.Done():
		t.Fatalf("the cluster reports a failure after a planned restart: %v", c.Err())
	default:
	}
	got, err := cs.CoreV1().ConfigMaps("default").Get(ctx, "before", metav1.GetOptions{})
	if err != nil || got.Data["k"] != "v" {
		t.Fatalf("ConfigMap written before the restart: %v %v", got, err)
	}
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "after"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(90 * time.Second)
	for {
		if _, err := cs.CoreV1().ServiceAccounts("after").Get(ctx, "default", metav1.GetOptions{}); err == nil {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("the controller-manager did not act after the restart: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	if c.Err() != nil {
		t.Fatalf("Err after Stop: %v", c.Err())
	}
}
