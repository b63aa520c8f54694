package controllers_test

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
	"github.com/fedcommons/fedcommons/internal/moderation/drivers"
	"github.com/fedcommons/fedcommons/internal/moderation/drivers/fakeserver"
)

// patchPolicy applies change to the policy's spec.
func patchPolicy(ns, name string, change func(*v1alpha1.FederationPolicy)) {
	GinkgoHelper()
	p := fedPolicy(ns, name)
	base := p.DeepCopy()
	change(p)
	Expect(k8sClient.Patch(ctx, p, client.MergeFrom(base))).To(Succeed())
}

func sourceNamed(p *v1alpha1.FederationPolicy, name string) v1alpha1.SourceStatus {
	for _, s := range p.Status.Sources {
		if s.Name == name {
			return s
		}
	}
	return v1alpha1.SourceStatus{}
}

// feedServer serves plain lists by path; a path set to "" answers 503.
type feedServer struct {
	*httptest.Server
	lists atomic.Pointer[map[string]string]
}

func newFeedServer(lists map[string]string) *feedServer {
	f := &feedServer{}
	f.lists.Store(&lists)
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, ok := (*f.lists.Load())[r.URL.Path]
		switch {
		case !ok:
			http.NotFound(w, r)
		case body == "":
			http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
		default:
			fmt.Fprint(w, body)
		}
	}))
	DeferCleanup(f.Close)
	return f
}

var _ = Describe("FederationPolicy", func() {
	It("wakes a subscriber when a policy it reads stops being published, and the subscriber drops its entries", func() {
		hill := newNamespace()
		ns := newNamespace()
		Expect(k8sClient.Create(ctx, &v1alpha1.FederationPolicy{
			ObjectMeta: metav1.ObjectMeta{Namespace: hill, Name: "published"},
			Spec: v1alpha1.FederationPolicySpec{
				Entries: []v1alpha1.PolicyEntry{{Domain: "hill.example", Action: v1alpha1.ActionSuspend}},
				Publish: &v1alpha1.PublishSpec{Visibility: v1alpha1.VisibilityCluster},
			},
		})).To(Succeed())
		Expect(k8sClient.Create(ctx, &v1alpha1.FederationPolicy{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "subscriber"},
			Spec: v1alpha1.FederationPolicySpec{Sources: []v1alpha1.PolicySource{
				{Name: "hillside", PolicyRef: &v1alpha1.PolicyReference{Namespace: hill, Name: "published"}},
			}},
		})).To(Succeed())
		Eventually(func() int32 { return fedPolicy(ns, "subscriber").Status.Entries }).WithTimeout(30 * time.Second).Should(BeEquivalentTo(1))
		published := policyHash(hill, "published")

		By("the publisher withdraws its policy: same entries, same hash, visibility none")
		patchPolicy(hill, "published", func(p *v1alpha1.FederationPolicy) { p.Spec.Publish.Visibility = v1alpha1.VisibilityNone })
		// Nothing else wakes the subscriber: it has no url source to refetch.
		Eventually(func(g Gomega) {
			p := fedPolicy(ns, "subscriber")
			g.Expect(p.Status.Entries).To(BeZero())
			g.Expect(sourceNamed(p, "hillside").Error).To(ContainSubstring("not published"))
		}).WithTimeout(10 * time.Second).Should(Succeed())
		Expect(policyHash(hill, "published")).To(Equal(published), "the publisher's own entries did not change")

		By("published again, the subscriber reads it again")
		patchPolicy(hill, "published", func(p *v1alpha1.FederationPolicy) { p.Spec.Publish.Visibility = v1alpha1.VisibilityCluster })
		Eventually(func() int32 { return fedPolicy(ns, "subscriber").Status.Entries }).WithTimeout(10 * time.Second).Should(BeEquivalentTo(1))
	})

	It("keeps a source's last good copy when its new URL is down, until the new URL answers", func() {
		ns := newNamespace()
		feed := newFeedServer(map[string]string{"/old.txt": "a.example\nb.example\nc.example\n", "/moved.txt": "", "/new.txt": "z.example\n"})
		Expect(k8sClient.Create(ctx, &v1alpha1.FederationPolicy{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "shared"},
			Spec: v1alpha1.FederationPolicySpec{Sources: []v1alpha1.PolicySource{
				{Name: "list", URL: feed.URL + "/old.txt", Format: v1alpha1.FormatPlain},
			}},
		})).To(Succeed())
		Eventually(func() int32 { return fedPolicy(ns, "shared").Status.Entries }).WithTimeout(30 * time.Second).Should(BeEquivalentTo(3))

		By("the URL changes to one that is down")
		patchPolicy(ns, "shared", func(p *v1alpha1.FederationPolicy) { p.Spec.Sources[0].URL = feed.URL + "/moved.txt" })
		Eventually(func(g Gomega) {
			p := fedPolicy(ns, "shared")
			g.Expect(p.Status.ObservedGeneration).To(Equal(p.Generation))
			g.Expect(p.Status.Entries).To(BeEquivalentTo(3), "an outage at the new URL retracts nothing")
			g.Expect(sourceNamed(p, "list").Error).To(ContainSubstring("503"))
			g.Expect(sourceNamed(p, "list").Error).To(ContainSubstring("the copy of the previous list stays in force"))
			c := meta.FindStatusCondition(p.Status.Conditions, v1alpha1.ConditionSourcesHealthy)
			g.Expect(c).NotTo(BeNil())
			g.Expect(c.Message).To(ContainSubstring("the copy of the previous list stays in force"))
		}).WithTimeout(30 * time.Second).Should(Succeed())
		Consistently(func() int32 { return fedPolicy(ns, "shared").Status.Entries }).WithTimeout(2 * time.Second).Should(BeEquivalentTo(3))

		By("a URL that answers replaces the old copy whole")
		patchPolicy(ns, "shared", func(p *v1alpha1.FederationPolicy) { p.Spec.Sources[0].URL = feed.URL + "/new.txt" })
		Eventually(func(g Gomega) {
			p := fedPolicy(ns, "shared")
			g.Expect(p.Status.Entries).To(BeEquivalentTo(1))
			g.Expect(sourceNamed(p, "list").Error).To(BeEmpty())
		}).WithTimeout(30 * time.Second).Should(Succeed())
	})

	It("computes and publishes a policy whose fetched state is too large to save, and says which sources are not kept", func() {
		ns := newNamespace()
		// 20,000 rows (the most kept per source) with 96 random characters
		// of comment each: about 2.5 MB that gzip cannot shrink below the
		// ConfigMap's 1 MiB. On the previous main every save failed and the
		// policy was never computed.
		var b strings.Builder
		b.WriteString("#domain,#severity,#public_comment\n")
		noise := make([]byte, 72)
		for i := range 20_000 {
			_, _ = rand.Read(noise)
			fmt.Fprintf(&b, "spam%05d.example,suspend,%s\n", i, base64.RawURLEncoding.EncodeToString(noise))
		}
		feed := newFeedServer(map[string]string{"/huge.csv": b.String(), "/small.txt": "small.example\n"})
		Expect(k8sClient.Create(ctx, &v1alpha1.FederationPolicy{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "shared"},
			Spec: v1alpha1.FederationPolicySpec{Sources: []v1alpha1.PolicySource{
				{Name: "huge", URL: feed.URL + "/huge.csv", Format: v1alpha1.FormatMastodonCSV},
				{Name: "small", URL: feed.URL + "/small.txt", Format: v1alpha1.FormatPlain},
			}},
		})).To(Succeed())
		policyHash(ns, "shared")
		Eventually(func(g Gomega) {
			p := fedPolicy(ns, "shared")
			g.Expect(p.Status.Entries).To(BeEquivalentTo(20_001))
			c := meta.FindStatusCondition(p.Status.Conditions, v1alpha1.ConditionSourceStateSaved)
			g.Expect(c).NotTo(BeNil())
			g.Expect(c.Status).To(Equal(metav1.ConditionFalse))
			g.Expect(c.Reason).To(Equal("TooLarge"))
			g.Expect(c.Message).To(ContainSubstring("last good copies of huge are not saved"))
		}).WithTimeout(60 * time.Second).Should(Succeed())
		cm := &corev1.ConfigMap{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "shared-sources"}, cm)).To(Succeed())
		size := len(cm.BinaryData["state.json.gz"]) + len(cm.Data["sources.json"])
		Expect(size).To(BeNumerically("<=", 768<<10))
		GinkgoWriter.Printf("saved state: %d bytes\n", size)
	})

	It("after a restart waits for a source whose copy was not saved, and leaves the servers alone meanwhile", func() {
		ns := newNamespace()
		mast := fakeserver.NewMastodon(fakeserver.Options{})
		DeferCleanup(mast.Close)
		// What an earlier run of the operator pushed, from the lost copy.
		mast.AddBlock(fakeserver.Record{Domain: "listed.example", Severity: "suspend", PrivateComment: drivers.Marker + " list (1) ≥ 1"})
		feed := newFeedServer(map[string]string{"/down.txt": "", "/up.txt": "listed.example\n"})

		By("the state an earlier run saved over its budget: the source without its copy")
		state := fmt.Sprintf(`{"v":1,"sources":{"list":{"lastFetch":%q,"lastSuccess":%q,"needed":2,"replace":true,"unsaved":true}}}`,
			time.Now().Add(-time.Hour).UTC().Format(time.RFC3339), time.Now().Add(-time.Hour).UTC().Format(time.RFC3339))
		Expect(k8sClient.Create(ctx, &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "shared-sources", Labels: map[string]string{v1alpha1.LabelManagedBy: v1alpha1.ManagedByValue}},
			BinaryData: map[string][]byte{"state.json.gz": []byte(state)},
			Data:       map[string]string{"sources.json": fmt.Sprintf(`{"list":%q}`, feed.URL+"/down.txt|plain")},
		})).To(Succeed())
		externalFake(ns, "toot", v1alpha1.SoftwareMastodon, mast)
		Expect(k8sClient.Create(ctx, &v1alpha1.FederationPolicy{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "shared"},
			Spec: v1alpha1.FederationPolicySpec{
				Entries: []v1alpha1.PolicyEntry{{Domain: "spam.example", Action: v1alpha1.ActionSuspend}},
				Sources: []v1alpha1.PolicySource{{Name: "list", URL: feed.URL + "/down.txt", Format: v1alpha1.FormatPlain}},
			},
		})).To(Succeed())

		Eventually(func(g Gomega) {
			p := fedPolicy(ns, "shared")
			c := meta.FindStatusCondition(p.Status.Conditions, v1alpha1.ConditionReady)
			g.Expect(c).NotTo(BeNil())
			g.Expect(c.Reason).To(Equal("WaitingForSource"))
			g.Expect(c.Message).To(ContainSubstring("url source list to be fetched again"))
			g.Expect(p.Status.PolicyHash).To(BeEmpty(), "nothing computed")
		}).WithTimeout(30 * time.Second).Should(Succeed())
		// The Instance learns of the policy once it is computed; reconciled
		// meanwhile for any other reason (here a spec change), it waits.
		touchInstance(ns, "toot")
		Eventually(func(g Gomega) {
			c := meta.FindStatusCondition(fedInstance(ns, "toot").Status.Conditions, v1alpha1.ConditionFederationSynced)
			g.Expect(c).NotTo(BeNil())
			g.Expect(c.Reason).To(Equal("WaitingForPolicy"))
		}).WithTimeout(30 * time.Second).Should(Succeed())
		Consistently(managedDomains).WithArguments(mast).WithTimeout(3*time.Second).Should(ConsistOf("listed.example=suspend"),
			"a policy that cannot be computed retracts nothing")
		Expect(mast.Writes()).To(BeZero())

		By("the source answers (here at a new address): computed, delivered")
		patchPolicy(ns, "shared", func(p *v1alpha1.FederationPolicy) { p.Spec.Sources[0].URL = feed.URL + "/up.txt" })
		hash := policyHash(ns, "shared")
		waitSynced(ns, "toot", hash)
		Expect(managedDomains(mast)).To(ConsistOf("listed.example=suspend", "spam.example=suspend"))
	})

	It("follows the Instances a policy selects as their labels and its selector change", func() {
		ns := newNamespace()
		mast := fakeserver.NewMastodon(fakeserver.Options{})
		DeferCleanup(mast.Close)
		externalFake(ns, "toot", v1alpha1.SoftwareMastodon, mast)
		Expect(k8sClient.Create(ctx, &v1alpha1.FederationPolicy{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "shared"},
			Spec: v1alpha1.FederationPolicySpec{
				InstanceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"tier": "main"}},
				Entries:          []v1alpha1.PolicyEntry{{Domain: "spam.example", Action: v1alpha1.ActionSuspend}},
			},
		})).To(Succeed())
		hash := policyHash(ns, "shared")
		Expect(fedPolicy(ns, "shared").Status.Instances).To(BeZero())

		By("the Instance gets the label: selected, synced")
		inst := fedInstance(ns, "toot")
		base := inst.DeepCopy()
		inst.Labels = map[string]string{"tier": "main"}
		Expect(k8sClient.Patch(ctx, inst, client.MergeFrom(base))).To(Succeed())
		waitSynced(ns, "toot", hash)
		Expect(managedDomains(mast)).To(ConsistOf("spam.example=suspend"))

		By("the selector moves away from it: what the policy put there goes")
		patchPolicy(ns, "shared", func(p *v1alpha1.FederationPolicy) {
			p.Spec.InstanceSelector.MatchLabels["tier"] = "other"
		})
		Eventually(managedDomains).WithArguments(mast).WithTimeout(30 * time.Second).Should(BeEmpty())
		Eventually(func() int32 { return fedPolicy(ns, "shared").Status.Instances }).Should(BeZero())
	})
})
