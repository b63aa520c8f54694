package controllers_test

import (
	"fmt"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
	"github.com/fedcommons/fedcommons/internal/moderation/drivers/fakeserver"
)

// policyEvents lists "Type Reason: note" of the Events about a policy.
func policyEvents(g Gomega, ns, name string) []string {
	return eventsAbout(g, ns, "FederationPolicy", name)
}

// eventsAbout lists "Type Reason: note" of the Events about one object,
// with " (xN)" when the events API folded N repeats into a series.
func eventsAbout(g Gomega, ns, kind, name string) []string {
	list := &eventsv1.EventList{}
	g.Expect(k8sClient.List(ctx, list, client.InNamespace(ns))).To(Succeed())
	var out []string
	for _, e := range list.Items {
		if e.Regarding.Kind == kind && e.Regarding.Name == name {
			line := e.Type + " " + e.Reason + ": " + e.Note
			if e.Series != nil {
				line += fmt.Sprintf(" (x%d)", e.Series.Count)
			}
			out = append(out, line)
		}
	}
	return out
}

func condition(g Gomega, p *v1alpha1.FederationPolicy, t string) metav1.Condition {
	c := meta.FindStatusCondition(p.Status.Conditions, t)
	g.Expect(c).NotTo(BeNil(), "no %s condition: %v", t, p.Status.Conditions)
	return *c
}

// Issue 15 finding 4: what `kubectl describe` shows when a policy refuses
// an entry, when a source never answered and when a source only watches.
var _ = Describe("FederationPolicy problems are loud", func() {
	It("names the refused entry, the source never fetched and the watched source, and records Events once", func() {
		ns := newNamespace()
		mast := fakeserver.NewMastodon(fakeserver.Options{})
		DeferCleanup(mast.Close)
		externalFake(ns, "toot", v1alpha1.SoftwareMastodon, mast)
		feed := newFeedServer(map[string]string{"/down.txt": "", "/watched.txt": "w1.example\nw2.example\n", "/dups.txt": "d.example\nd.example\n"})
		own := "toot." + ns + ".example"
		Expect(k8sClient.Create(ctx, &v1alpha1.FederationPolicy{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "shared"},
			Spec: v1alpha1.FederationPolicySpec{
				Entries: []v1alpha1.PolicyEntry{
					{Domain: "spam.example", Action: v1alpha1.ActionSuspend},
					{Domain: v1alpha1.Domain(own), Action: v1alpha1.ActionSuspend},
				},
				Sources: []v1alpha1.PolicySource{
					{Name: "down", URL: feed.URL + "/down.txt", Format: v1alpha1.FormatPlain},
					{Name: "watched", URL: feed.URL + "/watched.txt", Format: v1alpha1.FormatPlain, Weight: ptr.To[int32](0)},
					{Name: "dups", URL: feed.URL + "/dups.txt", Format: v1alpha1.FormatPlain},
				},
			},
		})).To(Succeed())

		Eventually(func(g Gomega) {
			p := fedPolicy(ns, "shared")
			g.Expect(p.Status.ObservedGeneration).To(Equal(p.Generation))
			ready := condition(g, p, v1alpha1.ConditionReady)
			g.Expect(ready.Status).To(Equal(metav1.ConditionFalse), "a refused own entry is not Ready=True")
			g.Expect(ready.Reason).To(Equal("EntriesRefused"))
			g.Expect(ready.Message).To(ContainSubstring(own + " (spec.entries)"))
			g.Expect(ready.Message).To(ContainSubstring("down ("))
			g.Expect(ready.Message).To(ContainSubstring("never fetched successfully"))
			acc := condition(g, p, v1alpha1.ConditionEntriesAccepted)
			g.Expect(acc.Status).To(Equal(metav1.ConditionFalse))
			g.Expect(acc.Message).To(ContainSubstring(own))
			g.Expect(acc.Message).To(ContainSubstring("watched (2 entries)"))
			src := condition(g, p, v1alpha1.ConditionSourcesHealthy)
			g.Expect(src.Status).To(Equal(metav1.ConditionFalse))
			g.Expect(src.Message).To(ContainSubstring("never fetched successfully: none of its entries are in force"))
			g.Expect(src.Message).NotTo(ContainSubstring("last good copy"), "there is no last good copy")
			g.Expect(meta.FindStatusCondition(p.Status.Conditions, v1alpha1.ConditionStalled)).To(BeNil())
		}).WithTimeout(30 * time.Second).Should(Succeed())

		By("the rest of the policy still reaches the server")
		waitSynced(ns, "toot", policyHash(ns, "shared"))
		Expect(managedDomains(mast)).To(ConsistOf("spam.example=suspend", "d.example=suspend"))

		By("Events say what happened, each once")
		Eventually(func(g Gomega) {
			evs := strings.Join(policyEvents(g, ns, "shared"), "\n")
			g.Expect(evs).To(ContainSubstring("Warning EntriesRefused: 1 entry refused: " + own + " (spec.entries)"))
			g.Expect(evs).To(ContainSubstring("Normal EntriesChanged: 2 entries added: d.example (suspend), spam.example (suspend); handed to 1 selected Instance"))
			g.Expect(evs).To(ContainSubstring("Normal SourcesWatched: weight 0, watched and never applied: watched (2 entries)"))
			g.Expect(evs).To(MatchRegexp(`Warning SourceRowsSkipped: Source dups: 1 row skipped: line 2 "d.example": duplicate`))
		}).WithTimeout(30 * time.Second).Should(Succeed())

		By("a new entry reaching the servers is an Event too")
		patchPolicy(ns, "shared", func(p *v1alpha1.FederationPolicy) {
			p.Spec.Entries = append(p.Spec.Entries, v1alpha1.PolicyEntry{Domain: "new.example", Action: v1alpha1.ActionSilence})
		})
		Eventually(func(g Gomega) {
			g.Expect(strings.Join(policyEvents(g, ns, "shared"), "\n")).To(ContainSubstring("Normal EntriesChanged: 1 entry added: new.example (silence)"))
		}).WithTimeout(30 * time.Second).Should(Succeed())
		Consistently(func(g Gomega) {
			var refused []string
			for _, e := range policyEvents(g, ns, "shared") {
				if strings.Contains(e, "EntriesRefused") {
					refused = append(refused, e)
				}
			}
			g.Expect(refused).To(HaveLen(1), "the same refusal is not recorded again on the next pass")
			g.Expect(refused[0]).NotTo(HaveSuffix(")"), "nor folded into a series of repeats")
		}).WithTimeout(3 * time.Second).Should(Succeed())

		By("fixed: Ready again")
		patchPolicy(ns, "shared", func(p *v1alpha1.FederationPolicy) {
			p.Spec.Entries = p.Spec.Entries[:1]
			p.Spec.Sources = p.Spec.Sources[1:]
		})
		Eventually(func(g Gomega) {
			p := fedPolicy(ns, "shared")
			g.Expect(p.Status.ObservedGeneration).To(Equal(p.Generation))
			g.Expect(condition(g, p, v1alpha1.ConditionReady).Status).To(Equal(metav1.ConditionTrue))
		}).WithTimeout(30 * time.Second).Should(Succeed())
	})
})
