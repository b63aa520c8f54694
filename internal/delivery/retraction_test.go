package delivery_test

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
	"github.com/fedcommons/fedcommons/internal/federation"
	"github.com/fedcommons/fedcommons/internal/resources"
)

// An error is never a retraction (issue 12 case 5; ARCHITECTURE.md):
// only a complete, successful computation may remove anything from a
// server. Every case starts from a first complete sync that put
// keep.example and drop.example on a real-HTTP fake server, then the
// policy's author drops drop.example (generation 2, computed), so a pass
// that acted would send exactly one DELETE. Each error case breaks one
// thing on the way from the policy to the server and must send none, keep
// drop.example and keep status.federation at what was last applied. The
// controls prove the count sees a DELETE when one is due.
func TestNoErrorPathDeletes(t *testing.T) {
	key := types.NamespacedName{Namespace: ns, Name: policyName}
	onlyPath := func(method, suffix string, status int) func(*world) {
		return func(w *world) {
			w.proxy.failWith(func(r *http.Request) int {
				if r.Method == method && strings.HasSuffix(r.URL.Path, suffix) {
					return status
				}
				return 0
			})
		}
	}
	stalled := func(reason string) func(*world) {
		return func(w *world) {
			p := w.policy(2)
			meta.SetStatusCondition(&p.Status.Conditions, metav1.Condition{Type: v1alpha1.ConditionStalled, Status: metav1.ConditionTrue, Reason: reason, ObservedGeneration: 2})
			meta.SetStatusCondition(&p.Status.Conditions, metav1.Condition{Type: v1alpha1.ConditionReady, Status: metav1.ConditionFalse, Reason: reason, ObservedGeneration: 2})
			w.put(p)
		}
	}
	cases := []struct {
		name   string
		world  func(*testing.T) *world
		breaks func(*world)
		// reason is the FederationSynced reason wanted; "" wants Sync to
		// return an error (nothing decided, the server not contacted).
		reason  string
		message string
		deletes int
	}{
		{name: "control: a complete result without drop.example deletes it", world: externalWorld,
			breaks: func(*world) {}, reason: v1alpha1.ReasonSynced, deletes: 1},
		{name: "control: the policy deleted by its author retracts all its entries", world: externalWorld,
			breaks: func(w *world) { w.remove(w.policy(2)); w.registry.Delete(key) }, reason: v1alpha1.ReasonSynced, deletes: 2},
		{name: "control (hosted): a revoked token is renewed by signing in, then the result applies", world: hostedWorld,
			breaks: func(w *world) { w.srv.RevokeTokens() }, reason: v1alpha1.ReasonSynced, deletes: 1},

		{name: "policy not computed for its current generation", world: externalWorld,
			breaks:  func(w *world) { w.registry.Put(w.result(1, "keep.example", "drop.example")) },
			reason:  v1alpha1.ReasonWaitingForPolicy,
			message: "shared (not computed yet)"},
		{name: "policy result missing (operator restarted)", world: externalWorld,
			breaks: func(w *world) { w.registry.Delete(key) }, reason: v1alpha1.ReasonWaitingForPolicy, message: "not computed yet"},
		{name: "policy Stalled at its generation, an older result of that generation still held", world: externalWorld,
			breaks: stalled("MergeFailed"), reason: v1alpha1.ReasonWaitingForPolicy, message: "Stalled: MergeFailed"},
		{name: "policy selector cannot be evaluated (In without values): it would select nothing", world: externalWorld,
			breaks: func(w *world) {
				stalled("InvalidSelector")(w)
				p := w.objs[policyName+"/FederationPolicy"].(*v1alpha1.FederationPolicy)
				p.Spec.InstanceSelector = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "tier", Operator: metav1.LabelSelectorOpIn}}}
				w.registry.Put(w.result(1, "keep.example", "drop.example"))
			},
			reason: v1alpha1.ReasonWaitingForPolicy, message: "instanceSelector cannot be evaluated"},
		{name: "policy result unreadable (too big)", world: externalWorld,
			breaks: func(w *world) { w.results = brokenResults{err: errTooBig} }, reason: v1alpha1.ReasonWaitingForPolicy, message: "cannot be read"},
		{name: "policy result incomplete (no effective policy)", world: externalWorld,
			breaks: func(w *world) {
				w.registry.Put(&federation.Result{Policy: key, Generation: 2, Hash: w.result(2, "keep.example").Hash})
			},
			reason: v1alpha1.ReasonWaitingForPolicy, message: "its result is empty"},
		{name: "a second selecting policy not computed yet", world: externalWorld,
			breaks: func(w *world) {
				p := w.policy(1)
				p.Name = "extra"
				w.put(p)
			},
			reason: v1alpha1.ReasonWaitingForPolicy, message: "extra (not computed yet)"},
		{name: "FederationPolicy list fails", world: externalWorld,
			breaks: func(w *world) { w.listErr = errors.New("etcdserver: request timed out") }},
		// A pass soon after a successful one reuses its probe
		// (probe.go); a restarted operator's first pass probes.
		{name: "server probe fails", world: externalWorld,
			breaks: func(w *world) {
				w.restart()
				onlyPath(http.MethodGet, "/instance", http.StatusServiceUnavailable)(w)
			}, reason: v1alpha1.ReasonSyncFailed},
		{name: "server list fails", world: externalWorld,
			breaks: func(w *world) {
				w.proxy.failWith(func(r *http.Request) int {
					if r.Method == http.MethodGet && r.URL.Query().Get("limit") == "200" {
						return http.StatusInternalServerError
					}
					return 0
				})
			},
			reason: v1alpha1.ReasonSyncFailed},
		{name: "server list partial: a later page fails", world: externalWorld,
			breaks: func(w *world) {
				w.proxy.failWith(func(r *http.Request) int {
					if r.URL.Query().Has("max_id") {
						return http.StatusBadGateway
					}
					return 0
				})
			},
			reason: v1alpha1.ReasonSyncFailed},
		{name: "server unreachable", world: externalWorld,
			breaks: func(w *world) { w.proxy.Close() }, reason: v1alpha1.ReasonSyncFailed},
		{name: "the sysadmin's token Secret is gone", world: externalWorld,
			breaks: func(w *world) { w.remove(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "social-token"}}) },
			reason: v1alpha1.ReasonSyncFailed, message: "social-token"},
		{name: "the server refuses the sysadmin's token", world: externalWorld,
			breaks: func(w *world) {
				w.put(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "social-token"}, Data: map[string][]byte{"token": []byte("revoked")}})
			},
			// Mastodon's admin API refuses a token it does not know with
			// 403 (test/conformance/testdata/mastodon).
			reason: v1alpha1.ReasonSyncFailed, message: "403"},
		{name: "hosted: the admin account is not ready", world: hostedWorld,
			breaks: func(w *world) {
				w.inst.Status.Conditions = []metav1.Condition{{Type: v1alpha1.ConditionAdminReady, Status: metav1.ConditionFalse, Reason: "JobRunning"}}
			},
			reason: v1alpha1.ReasonWaitingForAdmin},
		{name: "hosted: the token is revoked and signing in again fails", world: hostedWorld,
			breaks: func(w *world) {
				w.srv.RevokeTokens()
				w.srv.SetAdminCredentials(adminEmail, "changed-by-a-human")
			},
			reason: v1alpha1.ReasonSyncFailed, message: "obtaining a new one failed"},
		{name: "hosted: the token Secret is gone and signing in fails", world: hostedWorld,
			breaks: func(w *world) {
				w.remove(resources.AdminTokenSecret(w.inst, resources.Params{}, ""))
				w.srv.SetAdminCredentials(adminEmail, "changed-by-a-human")
			},
			reason: v1alpha1.ReasonSyncFailed, message: "obtain an admin token"},
		{name: "external: the server's URL moves to an address the operator did not open", world: externalWorld,
			breaks: func(w *world) { w.inst.Spec.External.URL = strings.Replace(w.proxy.URL, "127.0.0.1", "127.0.0.2", 1) },
			reason: v1alpha1.ReasonAddressRefused, message: "refused: 127.0.0.2 is a loopback address"},
		{name: "hosted: apiURL names an address that is not the Instance's own Service", world: hostedWorld,
			breaks: func(w *world) {
				w.inst.Spec.Federation.APIURL = strings.Replace(w.proxy.URL, "127.0.0.1", "127.0.0.2", 1)
				w.remove(resources.AdminTokenSecret(w.inst, resources.Params{}, ""))
			},
			reason: v1alpha1.ReasonAddressRefused, message: "refused: 127.0.0.2 is a loopback address"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := tc.world(t)
			w.put(w.policy(1))
			w.registry.Put(w.result(1, "keep.example", "drop.example"))
			out, err := w.sync()
			if err != nil || out.Condition == nil || out.Condition.Reason != v1alpha1.ReasonSynced {
				t.Fatalf("first sync: %v, %+v", err, out.Condition)
			}
			if got := w.managed(); !slices.Equal(got, []string{"drop.example", "keep.example"}) {
				t.Fatalf("after the first sync the server holds %v", got)
			}
			applied := *w.inst.Status.Federation
			requests := w.proxy.total()

			// The author drops drop.example; then the case breaks one thing.
			w.put(w.policy(2))
			w.registry.Put(w.result(2, "keep.example"))
			tc.breaks(w)
			out, err = w.sync()

			deletes := w.proxy.count(http.MethodDelete)
			for call, n := range w.srv.Calls() {
				if strings.HasPrefix(call, "DELETE ") && n != deletes {
					t.Errorf("the server counted %d %s, the proxy %d DELETEs", n, call, deletes)
				}
			}
			if deletes != tc.deletes {
				t.Errorf("%d DELETE requests reached the server, want %d", deletes, tc.deletes)
			}
			if tc.reason == "" {
				if err == nil {
					t.Fatalf("Sync succeeded (%+v), want an error", out.Condition)
				}
				if n := w.proxy.total(); n != requests {
					t.Errorf("the server was contacted (%d requests) though nothing could be decided", n-requests)
				}
				return
			}
			if err != nil {
				t.Fatalf("Sync: %v", err)
			}
			if out.Condition == nil || out.Condition.Reason != tc.reason || !strings.Contains(out.Condition.Message, tc.message) {
				t.Fatalf("FederationSynced %+v, want reason %s with %q", out.Condition, tc.reason, tc.message)
			}
			if tc.deletes > 0 {
				return
			}
			if got := w.managed(); !slices.Contains(got, "drop.example") {
				t.Errorf("drop.example was removed from the server: it holds %v", got)
			}
			if got := w.inst.Status.Federation; got == nil || got.PolicyHash != applied.PolicyHash || got.Entries != applied.Entries {
				t.Errorf("status.federation %+v, want the last applied state %+v kept", got, applied)
			}
		})
	}
}
