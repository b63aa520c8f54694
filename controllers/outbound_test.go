package controllers_test

import (
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
	"github.com/fedcommons/fedcommons/internal/moderation/drivers/fakeserver"
)

// serviceDoor is a hosted server's Service as the suite builds it: a
// reverse proxy on 127.0.0.2 (which the harness does not open) in front of
// a fake admin server, remembering every bearer token that reached it.
type serviceDoor struct {
	*httptest.Server
	mu     sync.Mutex
	tokens []string
}

func newServiceDoor(target string) *serviceDoor {
	GinkgoHelper()
	u, err := url.Parse(target)
	Expect(err).NotTo(HaveOccurred())
	l, err := net.Listen("tcp", "127.0.0.2:0")
	Expect(err).NotTo(HaveOccurred(), "Linux routes all of 127.0.0.0/8 to loopback")
	d := &serviceDoor{}
	rp := httputil.NewSingleHostReverseProxy(u)
	d.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d.mu.Lock()
		d.tokens = append(d.tokens, strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "))
		d.mu.Unlock()
		rp.ServeHTTP(w, r)
	}))
	_ = d.Listener.Close()
	d.Listener = l
	d.Start()
	DeferCleanup(d.Close)
	return d
}

func (d *serviceDoor) sawToken(token string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, t := range d.tokens {
		if t == token {
			return true
		}
	}
	return false
}

// Issue 12 case 6: an admin API URL is the tenant's word. Community B
// points Instances at community A's hosted server (its address, a name
// resolving to it, A's Service name): each is refused with a condition
// that says so, B's token reaches nothing, and A's own delivery, to the
// same address, goes on.
var _ = Describe("Admin API addresses: one community cannot reach another's server", Ordered, func() {
	const (
		river = "ob-river"
		hill  = "ob-hill"
		bob   = "bob@ob-hill.example"
		// B's token: were it to reach A's server, the door would see it.
		bobToken = "hill-token-0123456789"
	)
	var (
		mast *fakeserver.Server
		door *serviceDoor
		hash string
	)

	BeforeAll(func() {
		for _, c := range []*v1alpha1.Community{
			{ObjectMeta: metav1.ObjectMeta{Name: river}, Spec: v1alpha1.CommunitySpec{Domains: []v1alpha1.Domain{"ob-river.example"}}},
			{ObjectMeta: metav1.ObjectMeta{Name: hill}, Spec: v1alpha1.CommunitySpec{
				Domains: []v1alpha1.Domain{"ob-hill.example"},
				Members: []v1alpha1.CommunityMember{{Kind: v1alpha1.SubjectUser, Name: bob, Role: v1alpha1.RoleAdmin}}}},
		} {
			Expect(k8sClient.Create(ctx, c)).To(Succeed())
			readyCommunity(c.Name)
		}
		createClusterIssuer("letsencrypt")
		mast = fakeserver.NewMastodon(fakeserver.Options{})
		DeferCleanup(mast.Close)
		door = newServiceDoor(mast.URL)
	})

	It("delivers to community A's hosted server at its own Service, an address no one else may reach", func() {
		Expect(k8sClient.Create(ctx, &v1alpha1.FederationPolicy{
			ObjectMeta: metav1.ObjectMeta{Namespace: river, Name: "shared"},
			Spec: v1alpha1.FederationPolicySpec{Entries: []v1alpha1.PolicyEntry{
				{Domain: "spam.example", Action: v1alpha1.ActionSuspend},
			}},
		})).To(Succeed())
		hash = policyHash(river, "shared")
		createSecret(river, "riverside-smtp", map[string]string{"username": "u", "password": "p"})
		inst := loadSample("fedcommons_v1alpha1_instance_mastodon.yaml", river)
		inst.Spec.Domain = "toot.ob-river.example"
		hostedFederationAt(inst, door.URL)
		Expect(k8sClient.Create(ctx, inst)).To(Succeed())

		admin := secretData(river, "toot-admin")
		mast.AcceptToken(string(admin["token"]))
		waitJob(river, "toot", "toot-prepare-4-5-2")
		finishJob(river, "toot-prepare-4-5-2", true)
		for _, name := range []string{"toot-web", "toot-streaming", "toot-sidekiq", "toot-scheduler"} {
			Eventually(func() error {
				return k8sClient.Get(ctx, client.ObjectKey{Namespace: river, Name: name}, &appsv1.Deployment{})
			}).WithTimeout(20*time.Second).Should(Succeed(), name)
		}
		rollOutDeployments(river, "toot")
		readyStatefulSets(river, "toot")
		waitJob(river, "toot", "toot-admin-bootstrap")
		finishJob(river, "toot-admin-bootstrap", true)
		finishRegistrations(river, "toot", "approval")
		issueCertificate(river, "toot-tls")

		waitSynced(river, "toot", hash)
		Expect(managedDomains(mast)).To(ConsistOf("spam.example=suspend"))
		Expect(door.sawToken(string(admin["token"]))).To(BeTrue(), "A's delivery went through its Service")
	})

	It("refuses community B's Instances aimed at A's server, by address, by name and by A's Service name", func() {
		tenant := as(bob)
		Expect(tenant.Create(ctx, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: hill, Name: "token"},
			StringData: map[string]string{"token": bobToken},
		})).To(Succeed())
		Expect(tenant.Create(ctx, &v1alpha1.FederationPolicy{
			ObjectMeta: metav1.ObjectMeta{Namespace: hill, Name: "mine"},
			Spec: v1alpha1.FederationPolicySpec{Entries: []v1alpha1.PolicyEntry{
				{Domain: "rival.example", Action: v1alpha1.ActionSuspend},
			}},
		})).To(Succeed())

		_, port, err := net.SplitHostPort(door.Listener.Addr().String())
		Expect(err).NotTo(HaveOccurred())
		// A name of B's, whose DNS B controls, pointing at A's server; and
		// A's Service name as cluster DNS would answer it (a ClusterIP).
		testNames.set("social.ob-hill.example", "127.0.0.2")
		testNames.set("toot-web.ob-river.svc", "10.96.14.7")
		for name, c := range map[string]struct{ url, says string }{
			"by-address": {door.URL, "refused: 127.0.0.2 is a loopback address"},
			"by-name":    {"http://social.ob-hill.example:" + port, "refused: social.ob-hill.example resolves to 127.0.0.2, a loopback address"},
			"by-service": {"http://toot-web.ob-river.svc:3000", "refused: toot-web.ob-river.svc resolves to 10.96.14.7, a private address"},
		} {
			Expect(tenant.Create(ctx, &v1alpha1.Instance{
				ObjectMeta: metav1.ObjectMeta{Namespace: hill, Name: name},
				Spec: v1alpha1.InstanceSpec{
					Software: v1alpha1.SoftwareMastodon, Domain: v1alpha1.Domain(name + ".ob-hill.example"),
					External:   &v1alpha1.ExternalServer{URL: c.url, TokenSecretRef: v1alpha1.SecretKeyReference{Name: "token"}},
					Federation: &v1alpha1.InstanceFederation{Sync: ptr.To(true)},
				},
			})).To(Succeed())
			cond := eventuallyCondition(hill, name, v1alpha1.ConditionFederationSynced, metav1.ConditionFalse, "AddressRefused")
			Expect(cond.Message).To(ContainSubstring(c.says), name)
			Expect(cond.Message).To(ContainSubstring("--outbound-allow-cidrs"), "the condition says what may be reached")
		}
		Consistently(func() bool { return door.sawToken(bobToken) }).WithTimeout(3*time.Second).Should(BeFalse(),
			"B's token never reached A's server")
		Expect(managedDomains(mast)).To(ConsistOf("spam.example=suspend"), "nothing of B's on A's server")

		By("A's own delivery to the same address goes on")
		Expect(k8sClient.Create(ctx, &v1alpha1.FederationPolicy{
			ObjectMeta: metav1.ObjectMeta{Namespace: river, Name: "more"},
			Spec: v1alpha1.FederationPolicySpec{Entries: []v1alpha1.PolicyEntry{
				{Domain: "more-spam.example", Action: v1alpha1.ActionSuspend},
			}},
		})).To(Succeed())
		policyHash(river, "more")
		Eventually(func() []string { return managedDomains(mast) }).WithTimeout(30 * time.Second).
			Should(ConsistOf("spam.example=suspend", "more-spam.example=suspend"))
	})
})
