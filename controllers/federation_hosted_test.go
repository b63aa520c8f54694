package controllers_test

import (
	"time"

	certmanagerv1 "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
	"github.com/fedcommons/fedcommons/internal/moderation/drivers/fakeserver"
)

// hostedFederation points a hosted Instance's moderation at a fake admin
// server on loopback, with sync on (loadSample turns it off). The fake
// server stands for the Instance's own web Service (listenAsService).
func hostedFederation(inst *v1alpha1.Instance, srv *fakeserver.Server) {
	hostedFederationAt(inst, srv.URL)
}

func hostedFederationAt(inst *v1alpha1.Instance, apiURL string) {
	listenAsService(inst, apiURL)
	inst.Spec.Federation = &v1alpha1.InstanceFederation{
		Mode:               v1alpha1.FederationBlocklist,
		Sync:               ptr.To(true),
		APIURL:             apiURL,
		DriftCheckInterval: &metav1.Duration{Duration: time.Hour},
	}
}

// secretData waits for a Secret and returns its data.
func secretData(ns, name string) map[string][]byte {
	GinkgoHelper()
	s := &corev1.Secret{}
	Eventually(func() error {
		return k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, s)
	}).WithTimeout(20 * time.Second).Should(Succeed())
	return s.Data
}

func getSecret(ns, name string) *corev1.Secret {
	GinkgoHelper()
	s := &corev1.Secret{}
	Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, s)).To(Succeed())
	return s
}

// waitJob waits for the operator to create a Job.
func waitJob(ns, instance, name string) {
	GinkgoHelper()
	Eventually(func() []string { return jobNames(ns, instance) }).WithTimeout(20 * time.Second).Should(ContainElement(name))
}

// lastSync is the Instance's status.federation.lastSyncTime.
func lastSync(ns, name string) time.Time {
	inst := &v1alpha1.Instance{}
	if err := k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, inst); err != nil || inst.Status.Federation == nil || inst.Status.Federation.LastSyncTime == nil {
		return time.Time{}
	}
	return inst.Status.Federation.LastSyncTime.Time
}

// resync makes the Instance sync again at once and waits until it has,
// with the policy applied.
func resync(ns, name, hash string) {
	GinkgoHelper()
	before := lastSync(ns, name)
	// lastSyncTime has a one-second resolution.
	time.Sleep(1100 * time.Millisecond)
	touchInstance(ns, name)
	Eventually(func() time.Time { return lastSync(ns, name) }).WithTimeout(30 * time.Second).Should(BeTemporally(">", before))
	waitSynced(ns, name, hash)
}

var _ = Describe("Federation to hosted servers", func() {
	var ns string
	BeforeEach(func() {
		ns = newNamespace()
		createClusterIssuer("letsencrypt")
	})

	sharedPolicy := func() string {
		GinkgoHelper()
		Expect(k8sClient.Create(ctx, &v1alpha1.FederationPolicy{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "shared"},
			Spec: v1alpha1.FederationPolicySpec{Entries: []v1alpha1.PolicyEntry{
				{Domain: "spam.example", Action: v1alpha1.ActionSuspend, PublicComment: "spam"},
				{Domain: "bad.example", Action: v1alpha1.ActionSuspend},
			}},
		})).To(Succeed())
		return policyHash(ns, "shared")
	}

	It("signs in to a hosted GoToSocial as its admin once the admin exists, keeps the token in a Secret, and signs in again only after a 401", func() {
		gts := fakeserver.NewGoToSocial(fakeserver.Options{})
		DeferCleanup(gts.Close)
		hash := sharedPolicy()

		inst := loadSample("fedcommons_v1alpha1_instance_gotosocial.yaml", ns)
		hostedFederation(inst, gts)
		Expect(k8sClient.Create(ctx, inst)).To(Succeed())

		By("the admin's password is generated; the fake server's admin account gets it, as the admin Job would")
		admin := secretData(ns, "social-admin")
		Expect(admin).To(HaveKey("password"))
		gts.SetAdminCredentials(inst.Spec.Admin.Email, string(admin["password"]))

		rollOutDeployments(ns, "social")
		waitJob(ns, "social", "social-admin-bootstrap")
		Consistently(gts.Requests).WithTimeout(2*time.Second).Should(BeZero(), "no sign-in before the admin account exists")
		Expect(meta.FindStatusCondition(getInstance(ns, "social").Status.Conditions, v1alpha1.ConditionFederationSynced)).To(BeNil())

		gen := deployment(ns, "social-web").Generation
		finishJob(ns, "social-admin-bootstrap", true)
		eventuallyCondition(ns, "social", v1alpha1.ConditionAdminReady, metav1.ConditionTrue, "Bootstrapped")
		// GoToSocial restarts after the promotion: the new pods come up.
		Eventually(func() int64 { return deployment(ns, "social-web").Generation }).WithTimeout(20 * time.Second).Should(BeNumerically(">", gen))
		// From here on the operator may apply the template again (the
		// restart, then its own follow-up): play the Deployment controller
		// for the rest of the spec, as a cluster would.
		keepRollingOut(ns, "social")
		Eventually(func(g Gomega) {
			c := meta.FindStatusCondition(getInstance(ns, "social").Status.Conditions, v1alpha1.ConditionWorkloadAvailable)
			g.Expect(c).NotTo(BeNil())
			g.Expect(c.Status).To(Equal(metav1.ConditionTrue), c.Message)
		}).WithTimeout(30 * time.Second).Should(Succeed())
		issueCertificate(ns, "social-tls")

		By("the policy arrives over the obtained token and the Instance turns Ready")
		waitSynced(ns, "social", hash)
		eventuallyCondition(ns, "social", v1alpha1.ConditionReady, metav1.ConditionTrue, "Reconciled")
		Expect(managedDomains(gts)).To(ConsistOf("bad.example=", "spam.example="))
		Expect(gts.IssuedTokens()).To(HaveLen(1))
		Expect(gts.Calls()).To(HaveKeyWithValue("POST /auth/sign_in", 1))

		tokenSecret := getSecret(ns, "social-admin-token")
		Expect(string(tokenSecret.Data["token"])).To(Equal(gts.IssuedTokens()[0]))
		Expect(tokenSecret.Labels).To(HaveKeyWithValue(v1alpha1.LabelManagedBy, v1alpha1.ManagedByValue))
		Expect(tokenSecret.Labels).To(HaveKeyWithValue(v1alpha1.LabelInstance, "social"))
		Expect(tokenSecret.OwnerReferences).To(BeEmpty(), "deletionPolicy Retain: kept with the server's data")

		By("a second sync reuses the stored token: same Secret, no new sign-in")
		resync(ns, "social", hash)
		Expect(getSecret(ns, "social-admin-token").UID).To(Equal(tokenSecret.UID))
		Expect(gts.IssuedTokens()).To(HaveLen(1))
		Expect(gts.Calls()).To(HaveKeyWithValue("POST /auth/sign_in", 1))

		By("the server revokes the token: exactly one new token, stored in the same Secret")
		gts.RevokeTokens()
		gts.AddBlock(fakeserver.Record{Domain: "handmade.example", PrivateComment: "a human decided"})
		resync(ns, "social", hash)
		Expect(gts.IssuedTokens()).To(HaveLen(2))
		renewed := getSecret(ns, "social-admin-token")
		Expect(renewed.UID).To(Equal(tokenSecret.UID))
		Expect(string(renewed.Data["token"])).To(Equal(gts.IssuedTokens()[1]))
		Expect(managedDomains(gts)).To(ConsistOf("bad.example=", "spam.example="))
		resync(ns, "social", hash)
		Expect(gts.IssuedTokens()).To(HaveLen(2), "the new token is reused")
		Expect(getInstance(ns, "social").Status.Federation.UnmanagedEntries).To(BeEquivalentTo(1))
	})

	It("leaves a hosted server whose admin does not exist yet alone: WaitingForAdmin", func() {
		gts := fakeserver.NewGoToSocial(fakeserver.Options{})
		DeferCleanup(gts.Close)
		sharedPolicy()
		// Suspended from the start: nothing runs to create the admin in,
		// yet the rest of the Instance is in place.
		inst := loadSample("fedcommons_v1alpha1_instance_gotosocial.yaml", ns)
		hostedFederation(inst, gts)
		inst.Spec.Suspend = true
		Expect(k8sClient.Create(ctx, inst)).To(Succeed())
		Eventually(func() error {
			return k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "social-web"}, &appsv1.Deployment{})
		}).WithTimeout(20 * time.Second).Should(Succeed())
		rollOutDeployments(ns, "social")
		Eventually(func() error {
			return k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "social-tls"}, &certmanagerv1.Certificate{})
		}).WithTimeout(20 * time.Second).Should(Succeed())
		issueCertificate(ns, "social-tls")
		c := eventuallyCondition(ns, "social", v1alpha1.ConditionFederationSynced, metav1.ConditionFalse, "WaitingForAdmin")
		Expect(c.Message).To(ContainSubstring("admin bootstrap Job"))
		Expect(gts.Requests()).To(BeZero(), "no sign-in attempt, no admin API call")
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "social-admin-token"}, &corev1.Secret{})).NotTo(Succeed())
	})

	It("pushes the policy into a hosted Mastodon with the token its admin Job installs", func() {
		mast := fakeserver.NewMastodon(fakeserver.Options{})
		DeferCleanup(mast.Close)
		hash := sharedPolicy()
		createSecret(ns, "riverside-smtp", map[string]string{"username": "u", "password": "p"})

		inst := loadSample("fedcommons_v1alpha1_instance_mastodon.yaml", ns)
		hostedFederation(inst, mast)
		Expect(k8sClient.Create(ctx, inst)).To(Succeed())

		By("the operator generates the token; the fake server learns it, as from the admin Job's rails runner")
		admin := secretData(ns, "toot-admin")
		Expect(admin).To(HaveKey("token"))
		mast.AcceptToken(string(admin["token"]))

		waitJob(ns, "toot", "toot-prepare-4-5-2")
		finishJob(ns, "toot-prepare-4-5-2", true)
		for _, name := range []string{"toot-web", "toot-streaming", "toot-sidekiq", "toot-scheduler"} {
			Eventually(func() error {
				return k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &appsv1.Deployment{})
			}).WithTimeout(20*time.Second).Should(Succeed(), name)
		}
		rollOutDeployments(ns, "toot")
		readyStatefulSets(ns, "toot")
		waitJob(ns, "toot", "toot-admin-bootstrap")
		Consistently(mast.Requests).WithTimeout(2*time.Second).Should(BeZero(), "no call before the admin Job installed the token")
		finishJob(ns, "toot-admin-bootstrap", true)
		finishRegistrations(ns, "toot", "approval")
		issueCertificate(ns, "toot-tls")

		waitSynced(ns, "toot", hash)
		eventuallyCondition(ns, "toot", v1alpha1.ConditionReady, metav1.ConditionTrue, "Reconciled")
		Expect(managedDomains(mast)).To(ConsistOf("bad.example=suspend", "spam.example=suspend"))
		Expect(mast.Writes()).To(Equal(2))
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "toot-admin-token"}, &corev1.Secret{})).NotTo(Succeed(),
			"Mastodon's token is generated, never obtained by signing in")
	})
})
