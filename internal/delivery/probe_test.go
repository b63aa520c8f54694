package delivery_test

import (
	"net/http"
	"testing"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
)

// A pass soon after a successful one does not probe the server again: a
// policy change costs the server its lists and the writes, not the
// version and capability checks first (make bench-propagation). A failed
// pass makes the next one probe.
func TestProbeReusedUntilAFailure(t *testing.T) {
	w := externalWorld(t)
	probes := func() int { return w.srv.Calls()["GET /api/v1/instance"] }
	pass := func(gen int64, domains ...string) string {
		t.Helper()
		w.put(w.policy(gen))
		w.registry.Put(w.result(gen, domains...))
		out, err := w.sync()
		if err != nil || out.Condition == nil {
			t.Fatalf("pass %d: %v, %+v", gen, err, out.Condition)
		}
		if out.Status != nil {
			w.inst.Status.Federation = out.Status
		}
		return out.Condition.Reason
	}

	if r := pass(1, "a.example"); r != v1alpha1.ReasonSynced || probes() != 1 {
		t.Fatalf("first pass: %s, %d probes; want Synced after one probe", r, probes())
	}
	gets := w.proxy.count(http.MethodGet)
	if r := pass(2, "a.example", "b.example"); r != v1alpha1.ReasonSynced {
		t.Fatalf("second pass: %s", r)
	}
	if probes() != 1 {
		t.Errorf("the second pass probed again (%d probes in all)", probes())
	}
	// Mastodon: domain_blocks and domain_allows, one page each (the
	// world's page size is 1: a.example's page, then an empty one).
	if n := w.proxy.count(http.MethodGet) - gets; n > 3 {
		t.Errorf("the second pass read %d times; the lists alone are 3 reads", n)
	}
	if got := w.managed(); len(got) != 2 {
		t.Fatalf("the server holds %v", got)
	}

	// The server fails a write: the next pass probes again.
	w.proxy.failWith(func(r *http.Request) int {
		if r.Method == http.MethodPost {
			return http.StatusInternalServerError
		}
		return 0
	})
	if r := pass(3, "a.example", "b.example", "c.example"); r != v1alpha1.ReasonSyncFailed {
		t.Fatalf("a failing write: %s, want SyncFailed", r)
	}
	w.proxy.failWith(nil)
	// A spec change retries at once, without waiting out the backoff;
	// the same Syncer, so nothing but the failure made it forget.
	w.inst.Generation++
	before := probes()
	if r := pass(3, "a.example", "b.example", "c.example"); r != v1alpha1.ReasonSynced {
		t.Fatalf("after the failure: %s", r)
	}
	if probes() != before+1 {
		t.Errorf("the pass after a failure did not probe (%d probes before, %d after)", before, probes())
	}
}
