package controllers_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
)

// Issue 12 case 9: with one worker per controller, a policy with 32 slow
// sources fetched one after another held the only policy worker for
// about 16 minutes, and every other community's policy waited behind it.
var _ = Describe("One community's slow sources", func() {
	It("do not hold up another community's policy", func() {
		blackHole := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			<-r.Context().Done() // never answers; the fetch gives up
		}))
		DeferCleanup(blackHole.Close)
		slowNS, quickNS := "fair-slow", "fair-quick"
		for _, ns := range []string{slowNS, quickNS} {
			Expect(k8sClient.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})).To(Succeed())
		}
		var sources []v1alpha1.PolicySource
		for i := range 32 {
			sources = append(sources, v1alpha1.PolicySource{
				Name: fmt.Sprintf("slow-%02d", i), URL: fmt.Sprintf("%s/%02d.txt", blackHole.URL, i),
				Format: v1alpha1.FormatPlain, Weight: ptr.To[int32](1),
			})
		}
		slow := &v1alpha1.FederationPolicy{
			ObjectMeta: metav1.ObjectMeta{Namespace: slowNS, Name: "slow"},
			Spec:       v1alpha1.FederationPolicySpec{Sources: sources},
		}
		Expect(k8sClient.Create(ctx, slow)).To(Succeed())
		DeferCleanup(func() { Expect(k8sClient.Delete(ctx, slow)).To(Succeed()) })
		// Let the slow policy's reconcile start and block on its sources.
		time.Sleep(time.Second)

		start := time.Now()
		Expect(k8sClient.Create(ctx, &v1alpha1.FederationPolicy{
			ObjectMeta: metav1.ObjectMeta{Namespace: quickNS, Name: "quick"},
			Spec:       v1alpha1.FederationPolicySpec{Entries: []v1alpha1.PolicyEntry{{Domain: "spam.example", Action: v1alpha1.ActionSuspend}}},
		})).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(fedPolicy(quickNS, "quick").Status.PolicyHash).NotTo(BeEmpty())
		}).WithTimeout(10*time.Second).Should(Succeed(), "the quick policy waited behind the slow one")
		GinkgoWriter.Printf("quick policy computed %s after creation while another community's 32 sources hang\n", time.Since(start).Round(time.Millisecond))
		// The slow policy is still waiting on its sources: the quick one
		// really was computed alongside it, not after it.
		Expect(fedPolicy(slowNS, "slow").Status.PolicyHash).To(BeEmpty())
	})
})
