package delivery_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
	"github.com/fedcommons/fedcommons/internal/delivery"
	"github.com/fedcommons/fedcommons/internal/moderation/drivers/fakeserver"
)

// Admin API faults (issue 14, fault suite 2). A real-HTTP fake Mastodon
// sits behind a proxy that injects one kind of fault while the policy
// asks for one create (new.example) and one delete (drop.example); a
// moderator's own block (hand.example, no marker) is on the server all
// along. For every fault the operator must:
//   - fail the pass (or stop it) without deleting anything the plan did
//     not say, and never touch hand.example;
//   - write the failure durably (status.federation.failures and
//     nextRetryTime), so that a restarted operator (a fresh Syncer, as
//     after a crash) sends not one request before nextRetryTime;
//   - back off further (doubling) while the fault lasts;
//   - converge once the server recovers: keep, new on the server as ours,
//     drop gone, hand.example as the moderator left it, no duplicates.
func TestAdminAPIFaultsBackOffDurably(t *testing.T) {
	type around = func(w http.ResponseWriter, r *http.Request, next http.Handler)
	cases := []struct {
		name  string
		fault func(w *world) around
		// once: the fault happens on one pass only (a race with a human);
		// the next attempt already meets a healthy server.
		once bool
		// minWait is the least nextRetryTime - now after the first failure.
		minWait time.Duration
		// message is in the FederationSynced message of the failed pass.
		message string
		// harmless: the fault may go unnoticed (a list that loses or
		// repeats an entry is still a valid list); what matters is that
		// nothing is lost, deleted twice or duplicated.
		harmless bool
	}{
		{name: "500 on every call", fault: func(*world) around {
			return answer(http.StatusInternalServerError, `{"error":"Internal Server Error"}`, nil)
		},
			minWait: 50 * time.Second, message: "500"},
		{name: "503 on writes only", fault: func(*world) around {
			return onlyWrites(answer(http.StatusServiceUnavailable, "<html>maintenance</html>", nil))
		}, minWait: 50 * time.Second, message: "503"},
		{name: "429 with Retry-After: 600", fault: func(*world) around {
			return answer(http.StatusTooManyRequests, `{"error":"Too many requests"}`, http.Header{"Retry-After": {"600"}})
		}, minWait: 600 * time.Second, message: "rate limited"},
		{name: "hang until the client gives up", fault: func(*world) around { return hang }, minWait: 50 * time.Second, message: "deadline"},
		{name: "close mid-body", fault: func(*world) around { return onlyLists(closeMidBody) }, minWait: 50 * time.Second},
		{name: "malformed JSON", fault: func(*world) around {
			return onlyLists(answer(http.StatusOK, `[{"id":"1","domain":"keep.example","severity":`, nil))
		}, minWait: 50 * time.Second},
		{name: "a list that loses an entry (keep.example)", fault: func(*world) around {
			return onlyLists(rewriteList(func(l []map[string]any) []map[string]any {
				return slices.DeleteFunc(l, func(e map[string]any) bool { return e["domain"] == "keep.example" })
			}))
		}, harmless: true},
		{name: "a list that duplicates an entry (drop.example)", fault: func(*world) around {
			return onlyLists(rewriteList(func(l []map[string]any) []map[string]any {
				for _, e := range l {
					if e["domain"] == "drop.example" {
						return append(l, e)
					}
				}
				return l
			}))
		}, harmless: true},
		{name: "a moderator takes drop.example over between the list and the write", once: true, fault: func(w *world) around {
			var mu sync.Mutex
			lists := 0
			return func(rw http.ResponseWriter, r *http.Request, next http.Handler) {
				if isBlockList(r) && r.URL.Query().Get("limit") != "1" {
					mu.Lock()
					lists++
					n := lists
					mu.Unlock()
					if n == 2 {
						// The first full list made the plan; this is the
						// driver's own re-read before writing, and the
						// moderator's edit lands just before it. (Between
						// that re-read and the DELETE itself no client can
						// close the window: Mastodon has no conditional
						// delete.)
						w.handEdit("drop.example", "kept on purpose by the moderators")
					}
				}
				next.ServeHTTP(rw, r)
			}
		}, minWait: 50 * time.Second, message: "marker"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := faultWorld(t)
			hand := w.srv.AddBlock(fakeserver.Record{Domain: "hand.example", Severity: "silence", PrivateComment: "ours, not the operator's"})
			w.put(w.policy(1))
			w.registry.Put(w.result(1, "keep.example", "drop.example"))
			if out, err := w.sync(); err != nil || out.Condition.Reason != v1alpha1.ReasonSynced {
				t.Fatalf("first sync: %v %+v", err, out.Condition)
			}
			dropID := w.blockID("drop.example")
			w.put(w.policy(2))
			w.registry.Put(w.result(2, "keep.example", "new.example"))

			var deletes []string
			var dmu sync.Mutex
			inject := tc.fault(w)
			w.proxy.mu.Lock()
			w.proxy.around = func(rw http.ResponseWriter, r *http.Request, next http.Handler) {
				if r.Method == http.MethodDelete {
					dmu.Lock()
					deletes = append(deletes, r.URL.Path)
					dmu.Unlock()
				}
				inject(rw, r, next)
			}
			w.proxy.mu.Unlock()

			// The faulty pass.
			before := time.Now()
			out, err := w.sync()
			if err != nil {
				t.Fatalf("Sync: %v", err)
			}
			if tc.harmless {
				w.checkHand(hand)
				w.checkNoDuplicates()
				// The server recovers; a drift check later the list is
				// whole again and the operator's count is right again.
				w.proxy.mu.Lock()
				w.proxy.around = nil
				w.proxy.mu.Unlock()
				w.inst.Status.Federation.LastSyncTime = &metav1.Time{Time: time.Now().Add(-2 * time.Hour)}
				out, err = w.sync()
				if err != nil || out.Condition.Reason != v1alpha1.ReasonSynced {
					t.Fatalf("after recovery: %v %+v", err, out.Condition)
				}
				if got := w.managed(); !slices.Equal(got, []string{"keep.example", "new.example"}) {
					t.Errorf("ours on the server after recovery: %v, want [keep.example new.example]", got)
				}
				if e := w.inst.Status.Federation.Entries; e != 2 {
					t.Errorf("status.federation.entries = %d after recovery, want 2", e)
				}
				w.checkHand(hand)
				w.checkNoDuplicates()
				if len(deletes) > 1 || (len(deletes) == 1 && deletes[0] != "/api/v1/admin/domain_blocks/"+dropID) {
					t.Errorf("DELETE requests %v, want at most one, of drop.example (%s)", deletes, dropID)
				}
				return
			}
			if out.Condition == nil || out.Condition.Reason == v1alpha1.ReasonSynced {
				t.Fatalf("the faulty pass reported %+v, want a failure", out.Condition)
			}
			if !strings.Contains(out.Condition.Message, tc.message) {
				t.Errorf("message %q does not say %q", out.Condition.Message, tc.message)
			}
			st := w.inst.Status.Federation
			if st.Failures != 1 || st.NextRetryTime == nil {
				t.Fatalf("status.federation after the first failure: failures=%d nextRetryTime=%v, want 1 and a time", st.Failures, st.NextRetryTime)
			}
			if wait := st.NextRetryTime.Sub(before); wait < tc.minWait {
				t.Errorf("nextRetryTime is %v after the failure, want at least %v", wait, tc.minWait)
			}
			if out.RequeueAfter < tc.minWait-time.Second {
				t.Errorf("requeue after %v, want at least %v", out.RequeueAfter, tc.minWait)
			}
			w.checkHand(hand)

			// The operator restarts (a fresh Syncer: no driver, no rate
			// budget, no workqueue memory) and reconciles at once.
			w.restart()
			n := w.proxy.total()
			for range 3 {
				if _, err := w.sync(); err != nil {
					t.Fatal(err)
				}
			}
			if got := w.proxy.total() - n; got != 0 {
				t.Errorf("a restarted operator sent %d requests to the struggling server before nextRetryTime, want 0", got)
			}
			if w.inst.Status.Federation.Failures != 1 {
				t.Errorf("failures = %d after the restart, want 1 kept", w.inst.Status.Federation.Failures)
			}

			if !tc.once {
				// Time passes; the fault lasts: the wait doubles.
				w.elapse()
				before = time.Now()
				if _, err := w.sync(); err != nil {
					t.Fatal(err)
				}
				st = w.inst.Status.Federation
				if st.Failures != 2 || st.NextRetryTime.Sub(before) < max(tc.minWait, 100*time.Second) {
					t.Errorf("second failure: failures=%d, next retry in %v; want 2 and a doubled wait", st.Failures, st.NextRetryTime.Sub(before))
				}
				w.checkHand(hand)
				w.proxy.mu.Lock()
				w.proxy.around = func(rw http.ResponseWriter, r *http.Request, next http.Handler) {
					if r.Method == http.MethodDelete {
						dmu.Lock()
						deletes = append(deletes, r.URL.Path)
						dmu.Unlock()
					}
					next.ServeHTTP(rw, r)
				}
				w.proxy.mu.Unlock()
			}

			// The server recovers; time passes. A fresh Syncer stands for
			// the minutes gone by: the test does not wait them, and the
			// driver's in-memory pause of a 429 would have run out.
			w.elapse()
			w.restart()
			out, err = w.sync()
			if err != nil || out.Condition == nil || out.Condition.Reason != v1alpha1.ReasonSynced {
				t.Fatalf("after recovery: %v %+v", err, out.Condition)
			}
			st = w.inst.Status.Federation
			if st.Failures != 0 || st.NextRetryTime != nil || st.LastError != "" {
				t.Errorf("after recovery status.federation keeps failures=%d nextRetryTime=%v lastError=%q", st.Failures, st.NextRetryTime, st.LastError)
			}
			w.checkHand(hand)
			if got := w.managed(); !slices.Equal(got, []string{"keep.example", "new.example"}) {
				t.Errorf("ours on the server after recovery: %v, want [keep.example new.example]", got)
			}
			seen := w.checkNoDuplicates()
			// Never more deleted than the plan said: DELETEs only of
			// drop.example (repeated while the server answered them 5xx),
			// and none when a moderator took it over.
			want := []string{"/api/v1/admin/domain_blocks/" + dropID}
			if tc.once {
				want = nil
				if !seen["drop.example"] {
					t.Errorf("drop.example, taken over by a moderator, was deleted")
				}
			}
			if got := slices.Compact(slices.Clone(deletes)); !slices.Equal(got, want) {
				t.Errorf("DELETE requests %v, want only %v", deletes, want)
			}
		})
	}
}

// faultWorld is externalWorld with Mastodon's default page size, so a
// rewritten list page holds every entry, and a short pass deadline for
// the hanging server.
func faultWorld(t *testing.T) *world {
	w := newWorld(t, fakeserver.NewMastodon(fakeserver.Options{PageSize: 100}), v1alpha1.SoftwareMastodon)
	w.inst.Spec.External = &v1alpha1.ExternalServer{URL: w.proxy.URL, TokenSecretRef: v1alpha1.SecretKeyReference{Name: "social-token"}}
	w.syncer.Options.Outbound = allowing(t, "127.0.0.1/32")
	w.syncer.Options.SyncTimeout = 2 * time.Second
	w.put(&corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "social-token"},
		Data:       map[string][]byte{"token": []byte(fakeserver.DefaultToken)},
	})
	return w
}

// restart replaces the Syncer by a fresh one, as a restarted operator has.
func (w *world) restart() {
	w.syncer = &delivery.Syncer{Options: w.syncer.Options}
}

// elapse moves the Instance's nextRetryTime into the past: the wait is
// over (a test does not sleep for minutes).
func (w *world) elapse() {
	if st := w.inst.Status.Federation; st != nil && st.NextRetryTime != nil {
		past := metav1.NewTime(time.Now().Add(-time.Second))
		st.NextRetryTime = &past
	}
}

func (w *world) blockID(domain string) string {
	for _, b := range w.srv.Blocks() {
		if b.Domain == domain {
			return b.ID
		}
	}
	w.t.Fatalf("no block for %s", domain)
	return ""
}

// handEdit is a moderator changing a block's private comment in the admin
// API, as they would in Mastodon's settings: the marker is gone.
func (w *world) handEdit(domain, comment string) {
	req, _ := http.NewRequest(http.MethodPut, w.srv.URL+"/api/v1/admin/domain_blocks/"+w.blockID(domain),
		strings.NewReader(url.Values{"private_comment": {comment}}.Encode()))
	req.Header.Set("Authorization", "Bearer "+fakeserver.DefaultToken)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		w.t.Errorf("hand edit of %s: %v %v", domain, err, resp)
	}
	if resp != nil {
		resp.Body.Close()
	}
}

// checkNoDuplicates fails the test if a domain has two blocks; it returns
// the domains blocked.
func (w *world) checkNoDuplicates() map[string]bool {
	w.t.Helper()
	seen := map[string]bool{}
	for _, b := range w.srv.Blocks() {
		if seen[b.Domain] {
			w.t.Errorf("duplicate block for %s on the server", b.Domain)
		}
		seen[b.Domain] = true
	}
	return seen
}

// checkHand fails the test unless the moderator's own block is exactly as
// they made it.
func (w *world) checkHand(want fakeserver.Record) {
	w.t.Helper()
	for _, b := range w.srv.Blocks() {
		if b.Domain == want.Domain {
			if b.ID != want.ID || b.Severity != want.Severity || b.PrivateComment != want.PrivateComment {
				w.t.Errorf("the moderator's block was touched: %+v, was %+v", b, want)
			}
			return
		}
	}
	w.t.Errorf("the moderator's block %s was deleted", want.Domain)
}

func answer(status int, body string, h http.Header) func(http.ResponseWriter, *http.Request, http.Handler) {
	return func(w http.ResponseWriter, _ *http.Request, _ http.Handler) {
		for k, vs := range h {
			w.Header()[k] = vs
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}
}

func hang(w http.ResponseWriter, r *http.Request, _ http.Handler) {
	select {
	case <-r.Context().Done():
	case <-time.After(time.Minute):
	}
}

// closeMidBody promises 4096 bytes of JSON, sends 20 and hangs up.
func closeMidBody(w http.ResponseWriter, _ *http.Request, _ http.Handler) {
	conn, buf, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	_, _ = buf.WriteString("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 4096\r\n\r\n[{\"id\":\"1\",\"domain\":")
	_ = buf.Flush()
}

func isBlockList(r *http.Request) bool {
	return r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/admin/domain_blocks")
}

func onlyLists(f func(http.ResponseWriter, *http.Request, http.Handler)) func(http.ResponseWriter, *http.Request, http.Handler) {
	return func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		if isBlockList(r) {
			f(w, r, next)
			return
		}
		next.ServeHTTP(w, r)
	}
}

func onlyWrites(f func(http.ResponseWriter, *http.Request, http.Handler)) func(http.ResponseWriter, *http.Request, http.Handler) {
	return func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		if r.Method != http.MethodGet {
			f(w, r, next)
			return
		}
		next.ServeHTTP(w, r)
	}
}

// rewriteList passes the server's list page through edit.
func rewriteList(edit func([]map[string]any) []map[string]any) func(http.ResponseWriter, *http.Request, http.Handler) {
	return func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		var list []map[string]any
		body := rec.Body.Bytes()
		if rec.Code == http.StatusOK && json.Unmarshal(body, &list) == nil {
			body, _ = json.Marshal(edit(list))
		}
		for k, vs := range rec.Header() {
			w.Header()[k] = vs
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(rec.Code)
		_, _ = bytes.NewReader(body).WriteTo(w)
	}
}

// TestBackoffHoldsBeforeTheCacheCatchesUp: the Instance reconciler writes
// a failed pass's nextRetryTime, but a pass queued meanwhile may start
// from a cached Instance that does not show it yet. That pass must not
// call the failing server again (seen in the controllers suite's backoff
// spec under load: one request before nextRetryTime).
func TestBackoffHoldsBeforeTheCacheCatchesUp(t *testing.T) {
	w := faultWorld(t)
	w.put(w.policy(1))
	w.registry.Put(w.result(1, "keep.example"))
	if out, err := w.sync(); err != nil || out.Condition.Reason != v1alpha1.ReasonSynced {
		t.Fatalf("first sync: %v %+v", err, out.Condition)
	}
	w.put(w.policy(2))
	w.registry.Put(w.result(2, "keep.example", "new.example"))
	w.proxy.mu.Lock()
	w.proxy.around = answer(http.StatusInternalServerError, `{"error":"Internal Server Error"}`, nil)
	w.proxy.mu.Unlock()

	stale := w.inst.DeepCopy() // the cache, before the failure is written
	if _, err := w.sync(); err != nil {
		t.Fatal(err)
	}
	if st := w.inst.Status.Federation; st == nil || st.NextRetryTime == nil {
		t.Fatalf("the failed pass wrote no nextRetryTime: %+v", st)
	}
	n := w.proxy.total()
	for range 3 {
		w.inst = stale.DeepCopy()
		if _, err := w.sync(); err != nil {
			t.Fatal(err)
		}
	}
	if got := w.proxy.total() - n; got != 0 {
		t.Errorf("passes starting from a cache without the failure sent %d requests to the failing server, want 0", got)
	}

	// A spec change (new generation) is not held back by what this
	// process remembers: it retries at once.
	w.inst = stale.DeepCopy()
	w.inst.Generation++
	if _, err := w.sync(); err != nil {
		t.Fatal(err)
	}
	if w.proxy.total() == n {
		t.Error("a spec change was held back by the remembered backoff")
	}
}
