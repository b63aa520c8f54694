package delivery_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
	"github.com/fedcommons/fedcommons/internal/delivery"
	"github.com/fedcommons/fedcommons/internal/federation"
	"github.com/fedcommons/fedcommons/internal/moderation"
	"github.com/fedcommons/fedcommons/internal/moderation/drivers"
	"github.com/fedcommons/fedcommons/internal/moderation/drivers/fakeserver"
	"github.com/fedcommons/fedcommons/internal/outbound"
	"github.com/fedcommons/fedcommons/internal/resources"
	"github.com/fedcommons/fedcommons/internal/software"
)

// proxy stands between the syncer and a fake admin server, over real
// HTTP: it counts every request by method and answers in the server's
// place when fail says so (a server error, a dropped page).
type proxy struct {
	*httptest.Server
	mu     sync.Mutex
	counts map[string]int
	fail   func(r *http.Request) int
	// around, when set, answers every request in the server's place; it
	// calls next to reach the server (faults_test.go).
	around func(w http.ResponseWriter, r *http.Request, next http.Handler)
}

func newProxy(t *testing.T, target string) *proxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	p := &proxy{counts: map[string]int{}}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.counts[r.Method]++
		fail, around := p.fail, p.around
		p.mu.Unlock()
		if around != nil {
			around(w, r, rp)
			return
		}
		if fail != nil {
			if status := fail(r); status != 0 {
				http.Error(w, `{"error":"injected"}`, status)
				return
			}
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(p.Close)
	return p
}

func (p *proxy) failWith(f func(r *http.Request) int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.fail = f
}

func (p *proxy) count(method string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.counts[method]
}

func (p *proxy) total() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, c := range p.counts {
		n += c
	}
	return n
}

// world is one namespace: an Instance, its server behind a proxy, a
// FederationPolicy selecting it and the policy results.
type world struct {
	t        *testing.T
	ctx      context.Context
	ns       string
	srv      *fakeserver.Server
	proxy    *proxy
	inst     *v1alpha1.Instance
	profile  *software.Profile
	objs     map[string]client.Object
	registry *federation.Registry
	// results replaces the Registry as the syncer's Results when set.
	results delivery.Results
	// listErr fails every FederationPolicy list.
	listErr error
	// syncer is kept across passes, as in the operator (its driver cache).
	syncer *delivery.Syncer
	c      client.Client
	// given is what the next passes are handed as read already.
	given delivery.Given
	// secretGets counts the Secrets read from the fake API, by name.
	secretGets map[string]int
}

const (
	ns           = "riverside"
	adminEmail   = "admin@riverside.example"
	adminPasswd  = "correct-horse-battery-staple"
	policyName   = "shared"
	instanceName = "social"
)

var scheme = func() *runtime.Scheme {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		panic(err)
	}
	if err := v1alpha1.AddToScheme(s); err != nil {
		panic(err)
	}
	return s
}()

// externalWorld: an external Mastodon reached with the sysadmin's token.
// pageSize 1 makes every list one page per entry.
func externalWorld(t *testing.T) *world {
	w := newWorld(t, fakeserver.NewMastodon(fakeserver.Options{PageSize: 1}), v1alpha1.SoftwareMastodon)
	w.inst.Spec.External = &v1alpha1.ExternalServer{URL: w.proxy.URL, TokenSecretRef: v1alpha1.SecretKeyReference{Name: "social-token"}}
	// An external server is never trusted: the proxy is reached because
	// the operator opened 127.0.0.1 (--outbound-allow-cidrs), as a co-op
	// opens its own private range.
	w.syncer.Options.Outbound = allowing(t, "127.0.0.1/32")
	w.put(&corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "social-token"},
		Data:       map[string][]byte{"token": []byte(fakeserver.DefaultToken)},
	})
	return w
}

// hostedWorld: a hosted GoToSocial whose admin token the syncer obtains
// by signing in with the generated password.
func hostedWorld(t *testing.T) *world {
	w := newWorld(t, fakeserver.NewGoToSocial(fakeserver.Options{AdminEmail: adminEmail, AdminPassword: adminPasswd}), v1alpha1.SoftwareGoToSocial)
	w.inst.Spec.Admin = &v1alpha1.AdminSpec{Username: "admin", Email: adminEmail}
	w.inst.Spec.Version = "0.20.1"
	// A hosted server is reached at its own Service, trusted by
	// construction: here the Service "social-web" is the proxy.
	w.inst.Spec.Federation.APIURL = w.proxy.URL
	w.inst.Status.Conditions = []metav1.Condition{{Type: v1alpha1.ConditionAdminReady, Status: metav1.ConditionTrue, Reason: "Bootstrapped"}}
	w.put(&corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: resources.AdminSecretName(w.inst)},
		Data:       map[string][]byte{w.profile.Admin.PasswordKey: []byte(adminPasswd)},
	})
	return w
}

func newWorld(t *testing.T, srv *fakeserver.Server, sw v1alpha1.Software) *world {
	t.Helper()
	t.Cleanup(srv.Close)
	profile, err := software.Lookup(sw)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	w := &world{
		t: t, ctx: ctx, ns: ns, srv: srv, proxy: newProxy(t, srv.URL), profile: profile,
		objs: map[string]client.Object{}, registry: federation.NewRegistry(),
		inst: &v1alpha1.Instance{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: instanceName, Generation: 1, Labels: map[string]string{"tier": "a"}},
			Spec: v1alpha1.InstanceSpec{
				Software:   sw,
				Domain:     "social.riverside.example",
				Federation: &v1alpha1.InstanceFederation{DriftCheckInterval: &metav1.Duration{Duration: time.Hour}},
			},
		},
	}
	w.syncer = &delivery.Syncer{Options: delivery.Options{
		DriftCheckInterval: time.Hour, SyncTimeout: 20 * time.Second,
		AdminRateLimit: drivers.RateLimit{Requests: -1},
		Outbound:       allowing(t),
		ServiceOrigins: func(namespace, name string, port int32) []outbound.Trusted {
			if namespace == ns && name == instanceName+"-web" {
				return []outbound.Trusted{{Host: strings.TrimPrefix(w.proxy.URL, "http://")}}
			}
			return nil
		},
	}}
	return w
}

// allowing is the operator's outbound stack with --outbound-allow-cidrs.
func allowing(t *testing.T, cidrs ...string) *outbound.Stack {
	t.Helper()
	var cfg outbound.Config
	for _, c := range cidrs {
		cfg.Allow = append(cfg.Allow, netip.MustParsePrefix(c))
	}
	s, err := outbound.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (w *world) put(obj client.Object) { w.objs[obj.GetName()+"/"+typeName(obj)] = obj }

func (w *world) remove(obj client.Object) { delete(w.objs, obj.GetName()+"/"+typeName(obj)) }

func typeName(obj client.Object) string {
	switch obj.(type) {
	case *corev1.Secret:
		return "Secret"
	default:
		return "FederationPolicy"
	}
}

// policy is the FederationPolicy "shared" selecting tier=a, at generation
// gen, as the API server would hold it.
func (w *world) policy(gen int64) *v1alpha1.FederationPolicy {
	p := &v1alpha1.FederationPolicy{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: policyName, Generation: gen},
		Spec: v1alpha1.FederationPolicySpec{
			InstanceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"tier": "a"}},
		},
	}
	p.Status.ObservedGeneration = gen
	meta.SetStatusCondition(&p.Status.Conditions, metav1.Condition{Type: v1alpha1.ConditionReady, Status: metav1.ConditionTrue, Reason: "Computed", ObservedGeneration: gen})
	return p
}

// result is the policy's computed result holding domains (suspended).
func (w *world) result(gen int64, domains ...string) *federation.Result {
	w.t.Helper()
	var local []moderation.Entry
	for _, d := range domains {
		local = append(local, moderation.Entry{Domain: d, Action: moderation.Suspend})
	}
	eff, err := moderation.Merge(moderation.MergeInput{Local: local})
	if err != nil {
		w.t.Fatal(err)
	}
	return &federation.Result{Policy: types.NamespacedName{Namespace: ns, Name: policyName}, Generation: gen,
		Effective: eff, Hash: eff.Hash(), ComputedAt: time.Now()}
}

// sync runs one pass the way the Instance reconciler does: the Kubernetes
// objects as they are now, the Outcome written to the Instance's status
// afterwards. It fails the test if Sync changed the Instance it was given.
func (w *world) sync() (delivery.Outcome, error) {
	w.t.Helper()
	var objs []client.Object
	for _, o := range w.objs {
		objs = append(objs, o.DeepCopyObject().(client.Object))
	}
	if w.secretGets == nil {
		w.secretGets = map[string]int{}
	}
	w.c = fake.NewClientBuilder().WithScheme(scheme).WithObjects(objs...).WithInterceptorFuncs(interceptor.Funcs{
		Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
			if _, ok := obj.(*corev1.Secret); ok {
				w.secretGets[key.Name]++
			}
			return c.Get(ctx, key, obj, opts...)
		},
		List: func(ctx context.Context, c client.WithWatch, list client.ObjectList, opts ...client.ListOption) error {
			if _, ok := list.(*v1alpha1.FederationPolicyList); ok && w.listErr != nil {
				return w.listErr
			}
			return c.List(ctx, list, opts...)
		},
	}).Build()
	w.syncer.Client, w.syncer.APIReader = w.c, w.c
	w.syncer.Tokens = &secretTokens{w: w}
	w.syncer.Results = delivery.RegistryResults{Registry: w.registry}
	if w.results != nil {
		w.syncer.Results = w.results
	}
	before := w.inst.DeepCopy()
	out, err := w.syncer.Sync(w.ctx, w.inst, w.profile, w.given)
	if !equality.Semantic.DeepEqual(before, w.inst) {
		w.t.Fatalf("Sync changed the Instance it was given")
	}
	// Write back what the token store stored, as the API server keeps it.
	sec := &corev1.Secret{}
	if err := w.c.Get(w.ctx, client.ObjectKey{Namespace: ns, Name: resources.AdminTokenSecretName(w.inst)}, sec); err == nil {
		w.put(sec)
	}
	if err == nil {
		record(w.inst, out)
	}
	return out, err
}

// record is what the Instance reconciler does with an Outcome.
func record(inst *v1alpha1.Instance, out delivery.Outcome) {
	switch {
	case out.RemoveCondition:
		meta.RemoveStatusCondition(&inst.Status.Conditions, v1alpha1.ConditionFederationSynced)
	case out.Condition != nil:
		meta.SetStatusCondition(&inst.Status.Conditions, metav1.Condition{Type: v1alpha1.ConditionFederationSynced,
			Status: out.Condition.Status, Reason: out.Condition.Reason, Message: out.Condition.Message, ObservedGeneration: inst.Generation})
	}
	if out.Status != nil {
		inst.Status.Federation = out.Status
	}
	inst.Status.ObservedGeneration = inst.Generation
}

// managed lists the server's entries carrying fedcommons' marker.
func (w *world) managed() []string {
	var out []string
	for _, b := range w.srv.Blocks() {
		if strings.HasPrefix(b.PrivateComment, drivers.Marker) {
			out = append(out, b.Domain)
		}
	}
	return out
}

// secretTokens stores obtained tokens in the fake API's Secret with the
// compare-and-swap delivery.TokenStore promises (the operator's is
// controllers.AdminTokenStore).
type secretTokens struct{ w *world }

func (s *secretTokens) Swap(ctx context.Context, inst *v1alpha1.Instance, old, token string) (string, error) {
	sec := &corev1.Secret{}
	err := s.w.c.Get(ctx, client.ObjectKey{Namespace: inst.Namespace, Name: resources.AdminTokenSecretName(inst)}, sec)
	if apierrors.IsNotFound(err) {
		return token, s.w.c.Create(ctx, resources.AdminTokenSecret(inst, resources.Params{}, token))
	}
	if err != nil {
		return "", err
	}
	if cur := string(sec.Data[resources.AdminTokenKey]); cur != "" && cur != old {
		return cur, nil
	}
	sec.Data = map[string][]byte{resources.AdminTokenKey: []byte(token)}
	return token, s.w.c.Update(ctx, sec)
}

// brokenResults is a Results whose answer for every policy is err.
type brokenResults struct{ err error }

func (b brokenResults) Result(context.Context, types.NamespacedName, int64) (*federation.Result, error) {
	return nil, b.err
}

var errTooBig = errors.New("the stored result is 3 MiB, over the 1 MiB it may hold")
