package apifault

import (
	"bufio"
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// upstream stands in for the API server's wire (this package's job is the
// wire, not the API): status writes succeed, watches stream an event a
// tick until the client leaves.
func upstream(t *testing.T) *Proxy {
	t.Helper()
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isWatch(r) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusOK)
			for {
				_, _ = w.Write([]byte(`{"type":"BOOKMARK","object":{"kind":"ConfigMap","apiVersion":"v1","metadata":{"resourceVersion":"7"}}}` + "\n"))
				w.(http.Flusher).Flush()
				select {
				case <-r.Context().Done():
					return
				case <-time.After(20 * time.Millisecond):
				}
			}
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"x","namespace":"ns","resourceVersion":"8"}}`))
	}))
	t.Cleanup(be.Close)
	u, _ := url.Parse(be.URL)
	p, err := start(u, http.DefaultTransport)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

func TestStatusConflictsAreConflictsToClientGo(t *testing.T) {
	p := upstream(t)
	cs := kubernetes.NewForConfigOrDie(p.Config(&restConfigZero))
	ctx := context.Background()
	pod := `{"status":{"phase":"Running"}}`
	patch := func() error {
		_, err := cs.CoreV1().Pods("ns").Patch(ctx, "x", "application/merge-patch+json", []byte(pod), metav1.PatchOptions{}, "status")
		return err
	}
	if err := patch(); err != nil {
		t.Fatalf("without faults: %v", err)
	}
	p.StatusConflicts.Store(true)
	if err := patch(); !apierrors.IsConflict(err) {
		t.Fatalf("status patch with StatusConflicts: %v, want a Conflict", err)
	}
	// Not a status write: passes.
	if _, err := cs.CoreV1().ConfigMaps("ns").Get(ctx, "x", metav1.GetOptions{}); err != nil {
		t.Fatalf("a GET went through the fault: %v", err)
	}
	if c := p.Counts(); c.StatusConflicts != 1 {
		t.Errorf("counts %+v, want 1 conflict", c)
	}
}

func TestExpireWatchesSendsGone(t *testing.T) {
	p := upstream(t)
	p.ExpireWatches.Store(true)
	cs := kubernetes.NewForConfigOrDie(p.Config(&restConfigZero))
	w, err := cs.CoreV1().ConfigMaps("ns").Watch(context.Background(), metav1.ListOptions{ResourceVersion: "5"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	ev := <-w.ResultChan()
	st, ok := ev.Object.(*metav1.Status)
	if ev.Type != "ERROR" || !ok || st.Code != http.StatusGone {
		t.Fatalf("first event %s %#v, want ERROR with 410", ev.Type, ev.Object)
	}
	if _, open := <-w.ResultChan(); open {
		t.Errorf("the stream stayed open after the 410")
	}
	if c := p.Counts(); c.ExpiredWatches != 1 {
		t.Errorf("counts %+v", c)
	}
}

func TestCutWatchesEndsOpenStreams(t *testing.T) {
	p := upstream(t)
	resp, err := http.Get(p.URL + "/api/v1/namespaces/ns/configmaps?watch=true&resourceVersion=5")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	if !sc.Scan() || !strings.Contains(sc.Text(), "BOOKMARK") {
		t.Fatalf("no event through the proxy: %q %v", sc.Text(), sc.Err())
	}
	if n := p.CutWatches(); n != 1 {
		t.Fatalf("CutWatches closed %d streams, want 1", n)
	}
	done := make(chan struct{})
	go func() {
		for sc.Scan() {
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the watch stream is still open after CutWatches")
	}
	if c := p.Counts(); c.CutWatches != 1 {
		t.Errorf("counts %+v", c)
	}
}

var restConfigZero = rest.Config{}
