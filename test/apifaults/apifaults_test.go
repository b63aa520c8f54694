package apifaults

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"go.uber.org/zap/zapcore"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
	"github.com/fedcommons/fedcommons/controllers"
	"github.com/fedcommons/fedcommons/internal/devcluster"
	"github.com/fedcommons/fedcommons/internal/localcluster"
	"github.com/fedcommons/fedcommons/internal/manager"
	"github.com/fedcommons/fedcommons/internal/moderation/drivers"
	"github.com/fedcommons/fedcommons/internal/moderation/drivers/fakeserver"
	"github.com/fedcommons/fedcommons/internal/outbound"
	"github.com/fedcommons/fedcommons/internal/testenv"
	"github.com/fedcommons/fedcommons/internal/testenv/apifault"
)

const operatorNamespace = testenv.OperatorNamespace

// counter sums a controller-runtime counter over every controller, from
// the registry the manager serves on /metrics.
func counter(t *testing.T, name string) float64 {
	t.Helper()
	families, err := ctrlmetrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, f := range families {
		if f.GetName() == name {
			for _, m := range f.GetMetric() {
				sum += m.GetCounter().GetValue()
			}
		}
	}
	return sum
}

func eventually(t *testing.T, ctx context.Context, timeout time.Duration, what string, check func() error) {
	t.Helper()
	var last error
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, timeout, true, func(context.Context) (bool, error) {
		last = check()
		return last == nil, nil
	})
	if err != nil {
		t.Fatalf("%s: not within %s: %v", what, timeout, last)
	}
}

// TestAPIServerFaults: the operator converges through each fault, and its
// reconcile errors stay bounded by the faults injected and stop once they
// stop.
func TestAPIServerFaults(t *testing.T) {
	logf.SetLogger(zap.New(zap.WriteTo(os.Stderr), zap.Level(zapcore.ErrorLevel)))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// A local cluster rather than envtest: its kube-apiserver can be
	// restarted (etcd keeping the data), and kwok with the stand-ins lets
	// hosted Instances roll out for real during the restart.
	bin, err := localcluster.BinDir(ctx, os.Stderr)
	if err != nil {
		t.Fatalf("control-plane binaries: %v", err)
	}
	lc, err := localcluster.Start(ctx, localcluster.Options{BinDir: bin})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := lc.Stop(); err != nil {
			t.Errorf("stopping the cluster: %v", err)
		}
	}()
	cfg := lc.RESTConfig()
	scheme := manager.Scheme()
	must(t, apiextensionsv1.AddToScheme(scheme))
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	// The operator's RBAC (which includes the community roles) first,
	// then the CRDs (ours, cert-manager's): InstallPlatform takes the
	// roles and the namespace already there.
	must(t, c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: operatorNamespace}}))
	must(t, testenv.InstallOperatorRBAC(ctx, c))
	must(t, devcluster.InstallPlatform(ctx, c))
	standInsCtx, stopStandIns := context.WithCancel(ctx)
	standIns := make(chan struct{})
	go func() { defer close(standIns); devcluster.RunStandIns(standInsCtx, c, logr.Discard()) }()
	defer func() { stopStandIns(); <-standIns }()
	proxy, err := apifault.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	mgr, err := manager.New(proxy.Config(testenv.AsOperator(cfg)), manager.Options{
		MetricsAddr: "0", ProbeAddr: "0",
		Controllers: controllers.Options{
			OperatorNamespace: operatorNamespace, DriftCheckInterval: time.Hour,
			AdminRateLimit: drivers.RateLimit{Requests: -1},
			Outbound:       outbound.Config{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	mctx, mcancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- mgr.Start(mctx) }()
	defer func() {
		mcancel()
		if err := <-done; err != nil {
			t.Errorf("manager: %v", err)
		}
	}()

	srv := fakeserver.NewMastodon(fakeserver.Options{PageSize: 200})
	defer srv.Close()
	round := 0
	// wave creates a Community with an external Instance and a policy,
	// and returns a check that they converged.
	wave := func() func() error {
		round++
		name := fmt.Sprintf("wave%d", round)
		must(t, c.Create(ctx, &v1alpha1.Community{ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: v1alpha1.CommunitySpec{Domains: []v1alpha1.Domain{v1alpha1.Domain(name + ".example")}}}))
		eventually(t, ctx, 60*time.Second, "namespace "+name, func() error {
			return c.Get(ctx, client.ObjectKey{Name: name}, &corev1.Namespace{})
		})
		create(t, ctx, c, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: name, Name: "social-token"},
			Data: map[string][]byte{"token": []byte(fakeserver.DefaultToken)}})
		create(t, ctx, c, &v1alpha1.Instance{ObjectMeta: metav1.ObjectMeta{Namespace: name, Name: "social"},
			Spec: v1alpha1.InstanceSpec{Software: v1alpha1.SoftwareMastodon, Domain: v1alpha1.Domain("social." + name + ".example"),
				External:   &v1alpha1.ExternalServer{URL: srv.URL, TokenSecretRef: v1alpha1.SecretKeyReference{Name: "social-token"}},
				Federation: &v1alpha1.InstanceFederation{DriftCheckInterval: &metav1.Duration{Duration: time.Hour}}}})
		create(t, ctx, c, &v1alpha1.FederationPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: name, Name: "shared"},
			Spec: v1alpha1.FederationPolicySpec{Entries: []v1alpha1.PolicyEntry{{Domain: v1alpha1.Domain("spam-" + name + ".example"), Action: v1alpha1.ActionSuspend}}}})
		return func() error {
			com := &v1alpha1.Community{}
			if err := c.Get(ctx, client.ObjectKey{Name: name}, com); err != nil {
				return err
			}
			if r := meta.FindStatusCondition(com.Status.Conditions, v1alpha1.ConditionReady); r == nil || r.Status != metav1.ConditionTrue || r.ObservedGeneration != com.Generation {
				return fmt.Errorf("Community %s: %v", name, com.Status.Conditions)
			}
			inst := &v1alpha1.Instance{}
			if err := c.Get(ctx, client.ObjectKey{Namespace: name, Name: "social"}, inst); err != nil {
				return err
			}
			if s := meta.FindStatusCondition(inst.Status.Conditions, v1alpha1.ConditionFederationSynced); s == nil || s.Status != metav1.ConditionTrue {
				return fmt.Errorf("Instance %s/social: %v", name, inst.Status.Conditions)
			}
			return nil
		}
	}
	// quiet: once the faults stop, the error counter stops too.
	quiet := func(what string) {
		t.Helper()
		before := counter(t, "controller_runtime_reconcile_errors_total")
		time.Sleep(5 * time.Second)
		if after := counter(t, "controller_runtime_reconcile_errors_total"); after != before {
			t.Errorf("%s: %v reconcile errors in a quiet 5s after the faults stopped", what, after-before)
		}
	}
	start := time.Now()
	ok0 := wave()
	eventually(t, ctx, 90*time.Second, "a first wave with no faults", ok0)
	errs0, total0 := counter(t, "controller_runtime_reconcile_errors_total"), counter(t, "controller_runtime_reconcile_total")

	t.Run("conflicts on every status write for 10s", func(t *testing.T) {
		proxy.StatusConflicts.Store(true)
		ok := wave()
		time.Sleep(10 * time.Second)
		proxy.StatusConflicts.Store(false)
		eventually(t, ctx, 120*time.Second, "converged after the conflicts", ok)
		errs := counter(t, "controller_runtime_reconcile_errors_total") - errs0
		conflicts := proxy.Counts().StatusConflicts
		t.Logf("%d status writes answered 409; %v reconcile errors", conflicts, errs)
		if conflicts == 0 {
			t.Fatal("no status write met the fault: the test proved nothing")
		}
		// Each reconcile error is one failed write at most: the
		// reconcilers neither loop on a conflict nor multiply it.
		if errs > float64(conflicts) {
			t.Errorf("%v reconcile errors for %d conflicts", errs, conflicts)
		}
		quiet("after conflicts")
	})
	t.Run("every watch dropped", func(t *testing.T) {
		if n := proxy.CutWatches(); n == 0 {
			t.Fatal("no watch open through the proxy")
		}
		ok := wave()
		eventually(t, ctx, 90*time.Second, "converged after the watches were cut", ok)
		eventually(t, ctx, 30*time.Second, "watches re-established", func() error {
			if proxy.OpenWatches() == 0 {
				return fmt.Errorf("no watch open")
			}
			return nil
		})
		quiet("after cut watches")
	})
	t.Run("expired resourceVersion: 410 Gone on every re-watch for 5s", func(t *testing.T) {
		proxy.ExpireWatches.Store(true)
		proxy.CutWatches()
		ok := wave()
		time.Sleep(5 * time.Second)
		proxy.ExpireWatches.Store(false)
		if proxy.Counts().ExpiredWatches == 0 {
			t.Fatal("no watch met the 410: the test proved nothing")
		}
		eventually(t, ctx, 90*time.Second, "converged after 410s", ok)
		quiet("after 410s")
	})
	t.Run("API server restarted mid-reconcile", func(t *testing.T) {
		ok := wave()
		// Hosted Instances of both kinds too: their rollout (Secrets,
		// workloads, Jobs, certificates) is many reconciles long.
		name := fmt.Sprintf("wave%d", round)
		hosted := []string{"toot", "gts"}
		for i, n := range hosted {
			sw, version := v1alpha1.SoftwareMastodon, "4.5.2"
			if i == 1 {
				sw, version = v1alpha1.SoftwareGoToSocial, "0.20.1"
			}
			in := &v1alpha1.Instance{ObjectMeta: metav1.ObjectMeta{Namespace: name, Name: n},
				Spec: v1alpha1.InstanceSpec{Software: sw, Version: version, Domain: v1alpha1.Domain(n + "." + name + ".example"),
					Federation: &v1alpha1.InstanceFederation{Sync: ptr.To(false)}}}
			create(t, ctx, c, in)
		}
		// The rollout is under way (the Instances exist, nothing is Ready):
		// stop the API server (etcd keeps the data) and start it again on
		// the same address.
		time.Sleep(500 * time.Millisecond)
		for _, n := range hosted {
			in := &v1alpha1.Instance{}
			must(t, c.Get(ctx, client.ObjectKey{Namespace: name, Name: n}, in))
			if meta.IsStatusConditionTrue(in.Status.Conditions, v1alpha1.ConditionReady) {
				t.Fatalf("Instance %s/%s already Ready before the restart: the restart would not be mid-rollout", name, n)
			}
		}
		errsBefore := counter(t, "controller_runtime_reconcile_errors_total")
		began := time.Now()
		if err := lc.RestartAPIServer(ctx); err != nil {
			t.Fatal(err)
		}
		down := time.Since(began)
		eventually(t, ctx, 180*time.Second, "converged after the API server restart", func() error {
			if err := ok(); err != nil {
				return err
			}
			for _, n := range hosted {
				in := &v1alpha1.Instance{}
				if err := c.Get(ctx, client.ObjectKey{Namespace: name, Name: n}, in); err != nil {
					return err
				}
				if r := meta.FindStatusCondition(in.Status.Conditions, v1alpha1.ConditionReady); r == nil || r.Status != metav1.ConditionTrue || r.ObservedGeneration != in.Generation {
					return fmt.Errorf("Instance %s/%s not Ready: %v", name, n, r)
				}
			}
			return nil
		})
		errs := counter(t, "controller_runtime_reconcile_errors_total") - errsBefore
		t.Logf("API server down and back in %s; %v reconcile errors until converged", down.Round(100*time.Millisecond), errs)
		// Bounded: a failed reconcile is retried with backoff (5ms doubling
		// to 1000s per object), so an outage of a few seconds costs each
		// object at most a dozen or so errors; a reconciler that hot-looped
		// on the refused connections would make hundreds.
		if limit := 200.0; errs > limit {
			t.Errorf("%v reconcile errors across a %s API server restart (limit %v)", errs, down.Round(100*time.Millisecond), limit)
		}
		quiet("after the restart")
	})
	eventually(t, ctx, 60*time.Second, "the first wave is still in place", ok0)
	c1 := proxy.Counts()
	t.Logf("faults injected: %d status conflicts, %d watches cut, %d watches expired; "+
		"reconcile errors %v of %v reconciles; %s",
		c1.StatusConflicts, c1.CutWatches, c1.ExpiredWatches,
		counter(t, "controller_runtime_reconcile_errors_total")-errs0, counter(t, "controller_runtime_reconcile_total")-total0, time.Since(start).Round(time.Second))
}

// create creates obj in a community's namespace. A new community's
// ResourceQuota admits nothing it counts until kube-controller-manager has
// filled its status (a second or two): that refusal is waited out, any
// other fails the test.
func create(t *testing.T, ctx context.Context, c client.Client, obj client.Object) {
	t.Helper()
	var last error
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 60*time.Second, true, func(context.Context) (bool, error) {
		last = c.Create(ctx, obj)
		if apierrors.IsForbidden(last) && strings.Contains(last.Error(), "status unknown for quota") {
			return false, nil
		}
		return true, last
	})
	if err != nil {
		t.Fatalf("create %T %s/%s: %v (last: %v)", obj, obj.GetNamespace(), obj.GetName(), err, last)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
