package controllers_test

import (
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
	"github.com/fedcommons/fedcommons/internal/moderation/drivers/fakeserver"
)

// A policy change reaches the servers of many Instances at once, not a
// few at a time: an Instance's pass mostly waits on its server, so the
// Instance controller has more workers (InstanceWorkers) than the others.
// With the general 4 workers, 8 servers each taking writeDelay to answer a
// write got the entry in two waves, writeDelay or more apart.
var _ = Describe("Instance workers", func() {
	It("deliver one policy change to 8 slow servers in one wave", func() {
		const servers, writeDelay = 8, 3 * time.Second
		ns := newNamespace()
		var fakes []*fakeserver.Server
		for i := range servers {
			srv := fakeserver.NewMastodon(fakeserver.Options{Latency: writeDelay})
			DeferCleanup(srv.Close)
			fakes = append(fakes, srv)
			externalFake(ns, fmt.Sprintf("slow%d", i), v1alpha1.SoftwareMastodon, srv)
		}
		Expect(k8sClient.Create(ctx, &v1alpha1.FederationPolicy{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "wave"},
			Spec:       v1alpha1.FederationPolicySpec{Entries: []v1alpha1.PolicyEntry{{Domain: "spam.example", Action: v1alpha1.ActionSuspend}}},
		})).To(Succeed())

		var stored []time.Time
		Eventually(func(g Gomega) {
			stored = stored[:0]
			for _, srv := range fakes {
				blocks := srv.Blocks()
				g.Expect(blocks).To(HaveLen(1))
				stored = append(stored, blocks[0].CreatedAt)
			}
		}).WithTimeout(60 * time.Second).Should(Succeed())
		first, last := stored[0], stored[0]
		for _, t := range stored {
			first, last = minTime(first, t), maxTime(last, t)
		}
		GinkgoWriter.Printf("%d servers answering writes after %s stored the entry within %s of each other\n", servers, writeDelay, last.Sub(first).Round(time.Millisecond))
		Expect(last.Sub(first)).To(BeNumerically("<", writeDelay), "the writes went out in more than one wave")
	})
})

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
