package hostile

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zapcore"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/yaml"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
	"github.com/fedcommons/fedcommons/config"
	"github.com/fedcommons/fedcommons/controllers"
	"github.com/fedcommons/fedcommons/internal/manager"
	"github.com/fedcommons/fedcommons/internal/moderation/drivers"
	"github.com/fedcommons/fedcommons/internal/moderation/drivers/fakeserver"
	"github.com/fedcommons/fedcommons/internal/outbound"
	"github.com/fedcommons/fedcommons/internal/testenv"
)

const operatorNamespace = "fedcommons-system"

// env is the API server and the operator running against it.
type env struct {
	t   *testing.T
	ctx context.Context
	cfg *rest.Config
	c   client.Client
}

// start runs envtest and the operator as cmd/fedcommons assembles it
// (manager.New), for the life of the test. The feed fetcher refuses
// private addresses by default; the test-only SourceAllowPrefixes lets
// through the loopback servers the feeds are served from, as in the
// controllers suite.
func start(t *testing.T) *env {
	logf.SetLogger(zap.New(zap.WriteTo(os.Stderr), zap.Level(zapcore.ErrorLevel)))
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	cfg := testenv.Start(t, &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join("..", "..", "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
	})
	c, err := client.New(cfg, client.Options{Scheme: manager.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, ctx: ctx, cfg: cfg, c: c}
	for _, doc := range strings.Split(string(config.CommunityRoles), "\n---") {
		obj := map[string]any{}
		if err := yaml.Unmarshal([]byte(doc), &obj); err != nil {
			t.Fatal(err)
		}
		if len(obj) == 0 {
			continue
		}
		e.create(&unstructured.Unstructured{Object: obj})
	}
	e.create(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: operatorNamespace}})
	mgr, err := manager.New(cfg, manager.Options{
		MetricsAddr: "0", ProbeAddr: "0",
		Controllers: controllers.Options{
			OperatorNamespace:   operatorNamespace,
			DriftCheckInterval:  time.Hour,
			AdminRateLimit:      drivers.RateLimit{Requests: -1}, // the fake servers do not limit
			SourceAllowPrefixes: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
			// The victims' and the bystander's fake admin servers are on
			// loopback: opened as a co-op opens its own private ranges
			// (--outbound-allow-cidrs), in this test only.
			Outbound: outbound.Config{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("manager: %v", err)
		}
	})
	return e
}

func (e *env) create(obj client.Object) {
	e.t.Helper()
	if err := e.c.Create(e.ctx, obj); err != nil {
		e.t.Fatalf("create %T %s: %v", obj, obj.GetName(), err)
	}
}

// eventually polls check every 100 ms until it returns nil, and fails the
// test with its last error after timeout.
func (e *env) eventually(timeout time.Duration, what string, check func() error) {
	e.t.Helper()
	var last error
	err := wait.PollUntilContextTimeout(e.ctx, 100*time.Millisecond, timeout, true, func(context.Context) (bool, error) {
		last = check()
		return last == nil, nil
	})
	if err != nil {
		e.t.Fatalf("%s: not within %s: %v", what, timeout, last)
	}
}

// community creates a Community owning the given domain suffix, with room
// for many policies and Instances, and waits for its namespace.
func (e *env) community(name, domain string, size int32) {
	e.t.Helper()
	e.create(&v1alpha1.Community{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: v1alpha1.CommunitySpec{
			DisplayName: strings.ToUpper(name[:1]) + name[1:],
			Domains:     []v1alpha1.Domain{v1alpha1.Domain(domain)},
			Quota:       &v1alpha1.CommunityQuota{Instances: &size, Policies: &size},
		},
	})
	e.eventually(30*time.Second, "Community "+name+" ready", func() error {
		c := &v1alpha1.Community{}
		if err := e.c.Get(e.ctx, client.ObjectKey{Name: name}, c); err != nil {
			return err
		}
		if r := meta.FindStatusCondition(c.Status.Conditions, v1alpha1.ConditionReady); r == nil || r.Status != metav1.ConditionTrue {
			return fmt.Errorf("conditions %v", c.Status.Conditions)
		}
		return nil
	})
}

// server connects a fake Mastodon admin API, in this process, as an
// external Instance of the namespace.
func (e *env) server(ns, name, domain string, labels map[string]string) *fakeserver.Server {
	e.t.Helper()
	srv := fakeserver.NewMastodon(fakeserver.Options{PageSize: 200})
	e.t.Cleanup(srv.Close)
	e.connect(ns, name, domain, srv.URL, labels)
	return srv
}

// connect makes the admin API at url an external Instance of the
// namespace, labelled so that one policy can select it alone.
func (e *env) connect(ns, name, domain, url string, labels map[string]string) {
	e.t.Helper()
	e.create(&corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name + "-token"},
		Data:       map[string][]byte{"token": []byte(fakeserver.DefaultToken)},
	})
	e.create(&v1alpha1.Instance{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels},
		Spec: v1alpha1.InstanceSpec{
			Software: v1alpha1.SoftwareMastodon,
			Domain:   v1alpha1.Domain(domain),
			External: &v1alpha1.ExternalServer{URL: url, TokenSecretRef: v1alpha1.SecretKeyReference{Name: name + "-token"}},
			Federation: &v1alpha1.InstanceFederation{
				DriftCheckInterval: &metav1.Duration{Duration: time.Hour},
			},
		},
	})
}

func (e *env) policy(ns, name string) (*v1alpha1.FederationPolicy, error) {
	p := &v1alpha1.FederationPolicy{}
	return p, e.c.Get(e.ctx, client.ObjectKey{Namespace: ns, Name: name}, p)
}

func (e *env) instance(ns, name string) (*v1alpha1.Instance, error) {
	inst := &v1alpha1.Instance{}
	return inst, e.c.Get(e.ctx, client.ObjectKey{Namespace: ns, Name: name}, inst)
}

// synced reports nil once the Instance holds the policy hash it is given,
// at its current generation.
func (e *env) synced(ns, name, hash string) error {
	inst, err := e.instance(ns, name)
	if err != nil {
		return err
	}
	c := meta.FindStatusCondition(inst.Status.Conditions, v1alpha1.ConditionFederationSynced)
	switch {
	case c == nil:
		return fmt.Errorf("no FederationSynced condition: %v", inst.Status.Conditions)
	case c.Status != metav1.ConditionTrue || c.ObservedGeneration != inst.Generation:
		return fmt.Errorf("FederationSynced %s %s: %s", c.Status, c.Reason, c.Message)
	case inst.Status.Federation == nil || inst.Status.Federation.PolicyHash != hash:
		return fmt.Errorf("holds %+v, want hash %s", inst.Status.Federation, hash)
	}
	return nil
}
