package controllers_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync/atomic"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
	"github.com/fedcommons/fedcommons/controllers"
	"github.com/fedcommons/fedcommons/internal/manager"
	"github.com/fedcommons/fedcommons/internal/moderation/drivers"
	"github.com/fedcommons/fedcommons/internal/moderation/drivers/fakeserver"
	"github.com/fedcommons/fedcommons/internal/outbound"
	"github.com/fedcommons/fedcommons/internal/testenv"
)

// Durable backoff across an operator restart (issue 14, admin API
// faults): a server that answers 500 gets one failed pass, recorded as
// status.federation.failures and nextRetryTime; a freshly started
// operator (a new manager: empty workqueue, no driver, nothing in memory)
// and reconciles for unrelated reasons (an annotation) send it nothing
// before nextRetryTime. A spec change retries at once, and the recovered
// server gets the policy.
var _ = Describe("Federation backoff", func() {
	It("survives an operator restart: no request to a failing server before nextRetryTime", func() {
		ns := newNamespace()
		srv := fakeserver.NewMastodon(fakeserver.Options{})
		DeferCleanup(srv.Close)
		var failing atomic.Bool
		var requests atomic.Int64
		failing.Store(true)
		proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			requests.Add(1)
			if failing.Load() {
				http.Error(w, `{"error":"Internal Server Error"}`, http.StatusInternalServerError)
				return
			}
			req, _ := http.NewRequestWithContext(r.Context(), r.Method, srv.URL+r.URL.RequestURI(), r.Body)
			req.Header = r.Header.Clone()
			resp, err := http.DefaultTransport.RoundTrip(req)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadGateway)
				return
			}
			defer resp.Body.Close()
			for k, vs := range resp.Header {
				w.Header()[k] = vs
			}
			w.WriteHeader(resp.StatusCode)
			buf := make([]byte, 32<<10)
			for {
				n, err := resp.Body.Read(buf)
				_, _ = w.Write(buf[:n])
				if err != nil {
					return
				}
			}
		}))
		DeferCleanup(proxy.Close)

		Expect(k8sClient.Create(ctx, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "struggling-token"},
			Data:       map[string][]byte{"token": []byte(fakeserver.DefaultToken)},
		})).To(Succeed())
		Expect(k8sClient.Create(ctx, &v1alpha1.Instance{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "struggling"},
			Spec: v1alpha1.InstanceSpec{
				Software: v1alpha1.SoftwareMastodon, Domain: v1alpha1.Domain("struggling." + ns + ".example"),
				External:   &v1alpha1.ExternalServer{URL: proxy.URL, TokenSecretRef: v1alpha1.SecretKeyReference{Name: "struggling-token"}},
				Federation: &v1alpha1.InstanceFederation{DriftCheckInterval: &metav1.Duration{Duration: time.Hour}},
			},
		})).To(Succeed())
		Expect(k8sClient.Create(ctx, &v1alpha1.FederationPolicy{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "shared"},
			Spec:       v1alpha1.FederationPolicySpec{Entries: []v1alpha1.PolicyEntry{{Domain: "spam.example", Action: v1alpha1.ActionSuspend}}},
		})).To(Succeed())
		hash := policyHash(ns, "shared")

		By("one failed pass is written down")
		var next time.Time
		Eventually(func(g Gomega) {
			inst := fedInstance(ns, "struggling")
			c := meta.FindStatusCondition(inst.Status.Conditions, v1alpha1.ConditionFederationSynced)
			g.Expect(c).NotTo(BeNil())
			g.Expect(c.Reason).To(Equal(v1alpha1.ReasonSyncFailed))
			g.Expect(inst.Status.Federation).NotTo(BeNil())
			g.Expect(inst.Status.Federation.Failures).To(BeEquivalentTo(1))
			g.Expect(inst.Status.Federation.NextRetryTime).NotTo(BeNil())
			next = inst.Status.Federation.NextRetryTime.Time
		}).WithTimeout(60 * time.Second).Should(Succeed())
		Expect(time.Until(next)).To(BeNumerically(">", 20*time.Second), "the first wait is about a minute")
		before := requests.Load()

		By("a restarted operator, and reconciles for other reasons, leave the server alone")
		stop := startSecondOperator("0")
		defer stop()
		for i := range 3 {
			inst := fedInstance(ns, "struggling")
			base := inst.DeepCopy()
			if inst.Annotations == nil {
				inst.Annotations = map[string]string{}
			}
			inst.Annotations["example.org/poke"] = string(rune('a' + i))
			Expect(k8sClient.Patch(ctx, inst, client.MergeFrom(base))).To(Succeed())
			time.Sleep(3 * time.Second)
		}
		Expect(time.Now()).To(BeTemporally("<", next), "the window ended before nextRetryTime")
		Expect(requests.Load()-before).To(BeZero(), "requests to the failing server before nextRetryTime")
		stop()

		By("the server recovers; a spec change retries at once and the policy lands")
		failing.Store(false)
		touchInstance(ns, "struggling")
		inst := waitSynced(ns, "struggling", hash)
		Expect(inst.Status.Federation.Failures).To(BeZero())
		Expect(inst.Status.Federation.NextRetryTime).To(BeNil())
		Expect(managedDomains(srv)).To(ConsistOf("spam.example=suspend"))
	})
})

// startSecondOperator runs another manager against the suite's API server,
// as the operator's ServiceAccount, with empty memory: what an operator
// restarted (or a new leader) starts from. Its cluster feed listener is
// at clusterAddr ("0": none). stop ends it and waits; calling it twice is
// fine.
func startSecondOperator(clusterAddr string) (stop func()) {
	GinkgoHelper()
	mctx, mcancel := context.WithCancel(ctx)
	second, err := manager.New(testenv.AsOperator(cfg), manager.Options{
		MetricsAddr: "0", ProbeAddr: "0", FeedPublicAddr: "0", FeedClusterAddr: clusterAddr,
		SkipControllerNameValidation: true,
		Controllers: controllers.Options{OperatorNamespace: operatorNamespace, DriftCheckInterval: time.Hour,
			AdminRateLimit:      drivers.RateLimit{Requests: -1},
			SourceAllowPrefixes: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
			Outbound:            outbound.Config{Allow: harnessAllow, Resolver: testNames},
			ServiceOrigins:      serviceOrigins},
	})
	Expect(err).NotTo(HaveOccurred())
	done := make(chan struct{})
	go func() {
		defer GinkgoRecover()
		defer close(done)
		Expect(second.Start(mctx)).To(Succeed())
	}()
	return func() {
		mcancel()
		<-done
	}
}
