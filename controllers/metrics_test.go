package controllers_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
	"github.com/fedcommons/fedcommons/internal/moderation/drivers/fakeserver"
)

// series returns the values of every series of the metric whose labels
// include want, from the registry the manager serves on /metrics.
func series(name string, want map[string]string) []float64 {
	GinkgoHelper()
	families, err := ctrlmetrics.Registry.Gather()
	Expect(err).NotTo(HaveOccurred())
	var values []float64
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	metrics:
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			for k, v := range want {
				if labels[k] != v {
					continue metrics
				}
			}
			switch {
			case m.Counter != nil:
				values = append(values, m.GetCounter().GetValue())
			case m.Gauge != nil:
				values = append(values, m.GetGauge().GetValue())
			}
		}
	}
	return values
}

// value is the one series of the metric with exactly these labels' values,
// or -1 when there is none.
func value(name string, labels map[string]string) float64 {
	GinkgoHelper()
	v := series(name, labels)
	Expect(len(v)).To(BeNumerically("<=", 1), "%s%v: several series", name, labels)
	if len(v) == 0 {
		return -1
	}
	return v[0]
}

var _ = Describe("Metrics", func() {
	It("report syncs, changes, entries, fetches and merges, and go with their objects", func() {
		ns := newNamespace()
		mast := fakeserver.NewMastodon(fakeserver.Options{})
		DeferCleanup(mast.Close)
		var broken atomic.Bool
		feed := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if broken.Load() {
				http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
				return
			}
			fmt.Fprintln(w, "listed.example\nalso-listed.example\nthird.example")
		}))
		DeferCleanup(feed.Close)

		externalFake(ns, "toot", v1alpha1.SoftwareMastodon, mast)
		Expect(k8sClient.Create(ctx, &v1alpha1.FederationPolicy{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "shared"},
			Spec: v1alpha1.FederationPolicySpec{
				Entries: []v1alpha1.PolicyEntry{
					{Domain: "spam.example", Action: v1alpha1.ActionSuspend},
					{Domain: "co.uk", Action: v1alpha1.ActionSuspend}, // a public suffix: rejected
				},
				Sources: []v1alpha1.PolicySource{{Name: "list", URL: feed.URL + "/list.txt", Format: v1alpha1.FormatPlain, Weight: ptr.To[int32](1)}},
			},
		})).To(Succeed())
		hash := policyHash(ns, "shared")
		waitSynced(ns, "toot", hash)

		inst := map[string]string{"namespace": ns, "instance": "toot"}
		pol := map[string]string{"namespace": ns, "policy": "shared"}
		with := func(base map[string]string, k, v string) map[string]string {
			out := map[string]string{k: v}
			for key, val := range base {
				out[key] = val
			}
			return out
		}

		By("the first sync: four entries created, the server holds them")
		Expect(value("fedcommons_moderation_changes_total", with(inst, "operation", "create"))).To(Equal(4.0))
		Expect(value("fedcommons_moderation_entries", inst)).To(Equal(4.0))
		Expect(value("fedcommons_moderation_pending_changes", inst)).To(Equal(0.0))
		Expect(value("fedcommons_moderation_syncs_total", with(inst, "result", "complete"))).To(BeNumerically(">=", 1))
		synced := fedInstance(ns, "toot").Status.Federation.LastSyncTime
		Expect(value("fedcommons_moderation_last_complete_sync_timestamp_seconds", inst)).To(Equal(float64(synced.Unix())))
		Expect(value("fedcommons_policy_effective_entries", pol)).To(Equal(4.0))
		Expect(value("fedcommons_policy_rejected_entries", pol)).To(Equal(1.0))
		Expect(value("fedcommons_feed_fetches_total", with(with(pol, "source", "list"), "result", "applied"))).To(Equal(1.0))
		Expect(value("fedcommons_feed_entries", with(pol, "source", "list"))).To(Equal(3.0))

		By("a server that cannot be reached counts a failed sync and keeps the last known entries")
		mast.Close()
		touchInstance(ns, "toot")
		Eventually(func() float64 { return value("fedcommons_moderation_syncs_total", with(inst, "result", "failed")) }).
			WithTimeout(30 * 1e9).Should(BeNumerically(">=", 1))
		Expect(value("fedcommons_moderation_entries", inst)).To(Equal(4.0))

		By("a failing feed counts an error; the last good copy stays in force")
		broken.Store(true)
		p := fedPolicy(ns, "shared")
		base := p.DeepCopy()
		p.Spec.Sources[0].Name = "renamed" // a new source to the tracker: fetched at once
		Expect(k8sClient.Patch(ctx, p, client.MergeFrom(base))).To(Succeed())
		renamed := with(pol, "source", "renamed")
		Eventually(func() float64 { return value("fedcommons_feed_fetches_total", with(renamed, "result", "error")) }).
			WithTimeout(30 * 1e9).Should(Equal(1.0))
		// The fetch is counted before the merge that prunes the old name.
		Eventually(func() []float64 {
			return append(series("fedcommons_feed_entries", with(pol, "source", "list")), series("fedcommons_feed_fetches_total", with(pol, "source", "list"))...)
		}).Should(BeEmpty(), "an unsubscribed source stops being reported")

		By("deleting the Instance and the policy removes their series")
		Expect(k8sClient.Delete(ctx, fedInstance(ns, "toot"))).To(Succeed())
		Expect(k8sClient.Delete(ctx, fedPolicy(ns, "shared"))).To(Succeed())
		Eventually(func() []float64 {
			var all []float64
			for _, name := range []string{"fedcommons_moderation_syncs_total", "fedcommons_moderation_changes_total",
				"fedcommons_moderation_entries", "fedcommons_moderation_pending_changes", "fedcommons_moderation_last_complete_sync_timestamp_seconds"} {
				all = append(all, series(name, inst)...)
			}
			for _, name := range []string{"fedcommons_feed_fetches_total", "fedcommons_feed_entries",
				"fedcommons_policy_effective_entries", "fedcommons_policy_rejected_entries"} {
				all = append(all, series(name, pol)...)
			}
			return all
		}).WithTimeout(30 * 1e9).Should(BeEmpty())
	})
})
