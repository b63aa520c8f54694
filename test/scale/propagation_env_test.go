//go:build scale

package scale

import (
	"context"
	"fmt"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
	"github.com/fedcommons/fedcommons/controllers"
	"github.com/fedcommons/fedcommons/internal/manager"
	"github.com/fedcommons/fedcommons/internal/moderation/drivers/fakeserver"
	"github.com/fedcommons/fedcommons/internal/outbound"
	"github.com/fedcommons/fedcommons/internal/testenv"
	"github.com/fedcommons/fedcommons/internal/thirdparty"
)

// The propagation benchmark's world: a real kube-apiserver and etcd
// (envtest), the operator started through manager.New with its shipped
// defaults (workers, admin rate budget, drift interval, no client-side
// API rate limit as ctrl.GetConfig gives it), running as its
// ServiceAccount under config/rbac, and the admin-API fake servers that
// test/conformance holds to real GoToSocial and Mastodon. The only
// test-only settings are the ones a co-op's own network would give: the
// fake servers listen on 127.0.0.1, which the outbound policy opens as
// --outbound-allow-cidrs would.

// propServer is one external Instance and the fake server behind it.
type propServer struct {
	name string
	srv  *fakeserver.Server
}

// startPropWorld starts the API server and the operator; both stop when
// the test ends.
func startPropWorld(t *testing.T, ctx context.Context, instanceWorkers int) (*rest.Config, client.Client) {
	t.Helper()
	logf.SetLogger(logr.Discard())
	crds, err := thirdparty.CRDDirs()
	if err != nil {
		t.Fatal(err)
	}
	env := &envtest.Environment{
		CRDDirectoryPaths:     append([]string{filepath.Join("..", "..", "config", "crd", "bases")}, crds...),
		ErrorIfCRDPathMissing: true,
	}
	cfg := testenv.Start(t, env)
	// As ctrl.GetConfig leaves it for the shipped operator: no
	// client-side rate limit, API Priority and Fairness on the server.
	cfg.QPS, cfg.Burst = -1, 0
	c, err := client.New(cfg, client.Options{Scheme: manager.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: testenv.OperatorNamespace}}); err != nil {
		t.Fatal(err)
	}
	if err := testenv.InstallOperatorRBAC(ctx, c); err != nil {
		t.Fatal(err)
	}
	mgr, err := manager.New(testenv.AsOperator(cfg), manager.Options{
		MetricsAddr: "0", ProbeAddr: "0", FeedPublicAddr: "0", FeedClusterAddr: "0",
		Controllers: controllers.Options{
			OperatorNamespace: testenv.OperatorNamespace,
			InstanceWorkers:   instanceWorkers,
			Outbound:          outbound.Config{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	mctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- mgr.Start(mctx) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("manager: %v", err)
		}
	})
	return cfg, c
}

// createCommunity creates the one Community the Instances belong to and
// waits until it is Ready (its namespace exists).
func createCommunity(ctx context.Context, c client.Client, name, domain string) error {
	com := &v1alpha1.Community{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       v1alpha1.CommunitySpec{DisplayName: "Propagation benchmark", Domains: []v1alpha1.Domain{v1alpha1.Domain(domain)}},
	}
	if err := c.Create(ctx, com); err != nil {
		return err
	}
	return propPoll(ctx, 60*time.Second, func() (bool, error) {
		got := &v1alpha1.Community{}
		if err := c.Get(ctx, client.ObjectKey{Name: name}, got); err != nil {
			return false, err
		}
		r := meta.FindStatusCondition(got.Status.Conditions, v1alpha1.ConditionReady)
		return r != nil && r.Status == metav1.ConditionTrue && r.ObservedGeneration == got.Generation, nil
	})
}

// startServers starts n fake admin servers, alternately Mastodon and
// GoToSocial, each answering every request after roundTrip, and connects
// each as an external Instance whose token is in a Secret.
func startServers(t *testing.T, ctx context.Context, c client.Client, ns, domain string, n int, roundTrip time.Duration) ([]*propServer, error) {
	out := make([]*propServer, 0, n)
	for i := range n {
		ps := &propServer{name: fmt.Sprintf("s%03d", i)}
		software := v1alpha1.SoftwareMastodon
		if i%2 == 0 {
			ps.srv = fakeserver.NewMastodon(fakeserver.Options{RoundTrip: roundTrip})
		} else {
			software = v1alpha1.SoftwareGoToSocial
			ps.srv = fakeserver.NewGoToSocial(fakeserver.Options{RoundTrip: roundTrip})
		}
		t.Cleanup(ps.srv.Close)
		out = append(out, ps)
		if err := c.Create(ctx, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: ps.name + "-token"},
			Data:       map[string][]byte{"token": []byte(fakeserver.DefaultToken)},
		}); err != nil {
			return nil, err
		}
		if err := c.Create(ctx, &v1alpha1.Instance{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: ps.name},
			Spec: v1alpha1.InstanceSpec{
				Software: software,
				Domain:   v1alpha1.Domain(ps.name + "." + domain),
				External: &v1alpha1.ExternalServer{URL: ps.srv.URL, TokenSecretRef: v1alpha1.SecretKeyReference{Name: ps.name + "-token"}},
			},
		}); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// propPoll calls done every 20 ms until it is true, fails or timeout passes.
func propPoll(ctx context.Context, timeout time.Duration, done func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	for {
		ok, err := done()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not done after %s", timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}
