package e2e

import (
	"context"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zapcore"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/yaml"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
	crds "github.com/fedcommons/fedcommons/config/crd"
	"github.com/fedcommons/fedcommons/controllers"
	"github.com/fedcommons/fedcommons/internal/localcluster"
	"github.com/fedcommons/fedcommons/internal/manager"
	"github.com/fedcommons/fedcommons/internal/outbound"
	"github.com/fedcommons/fedcommons/internal/testenv"
)

// env is one local cluster with the operator running against it, shared by
// the tests of this package (starting a control plane takes ~10 s).
type env struct {
	cfg          *rest.Config
	client       client.Client
	stopOperator func()
}

var shared *env

func TestMain(m *testing.M) {
	logf.SetLogger(zap.New(zap.WriteTo(os.Stderr), zap.Level(zapcore.ErrorLevel)))
	ctx, cancel := context.WithCancel(context.Background())
	code, err := run(ctx, m)
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	os.Exit(code)
}

func run(ctx context.Context, m *testing.M) (int, error) {
	bin, err := localcluster.BinDir(ctx, os.Stderr)
	if err != nil {
		return 0, err
	}
	cluster, err := localcluster.Start(ctx, localcluster.Options{BinDir: bin, Out: os.Stderr, DataDir: os.Getenv("FEDCOMMONS_E2E_DATA_DIR")})
	if err != nil {
		return 0, err
	}
	defer func() { _ = cluster.Stop() }()

	cfg := cluster.RESTConfig()
	scheme := manager.Scheme()
	if err := apiextensionsv1.AddToScheme(scheme); err != nil {
		return 0, err
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return 0, err
	}
	if err := installCRDs(ctx, c); err != nil {
		return 0, err
	}
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: testenv.OperatorNamespace}}); err != nil {
		return 0, err
	}
	// The operator runs as its ServiceAccount under config/rbac, leader
	// election included, as the image does; the tests' client is admin.
	if err := testenv.InstallOperatorRBAC(ctx, c); err != nil {
		return 0, err
	}
	if err := testenv.InstallAdmissionPolicy(ctx, c); err != nil {
		return 0, err
	}
	shared = &env{cfg: cfg, client: c}
	if err := shared.startOperator(ctx); err != nil {
		return 0, err
	}
	defer shared.stopOperator()
	return m.Run(), nil
}

// startOperator runs a fresh operator process-equivalent: a new manager
// with empty caches and no memory of earlier passes.
func (e *env) startOperator(ctx context.Context) error {
	mgr, err := manager.New(testenv.AsOperator(e.cfg), manager.Options{
		MetricsAddr: "0", ProbeAddr: "0", FeedPublicAddr: "0", FeedClusterAddr: "0",
		LeaderElection: true, LeaderElectionNamespace: testenv.OperatorNamespace,
		// The move test's fake admin APIs run in this process, on
		// loopback: opened as a co-op opens its own network
		// (--outbound-allow-cidrs), as the demo does.
		Controllers: controllers.Options{OperatorNamespace: testenv.OperatorNamespace,
			Outbound: outbound.Config{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}},
		SkipControllerNameValidation: true,
	})
	if err != nil {
		return err
	}
	mgrCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		err := mgr.Start(mgrCtx)
		if err != nil && mgrCtx.Err() == nil {
			// A lost lease or a refused request at start: say so, or
			// every test after this waits for an operator that is gone.
			fmt.Fprintln(os.Stderr, "e2e: the operator stopped:", err)
		}
		done <- err
	}()
	var once sync.Once
	e.stopOperator = func() { once.Do(func() { stop(); <-done }) }
	return nil
}

// installCRDs creates our CRDs and waits until the API server serves them.
func installCRDs(ctx context.Context, c client.Client) error {
	return fs.WalkDir(crds.Bases, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := crds.Bases.ReadFile(path)
		if err != nil {
			return err
		}
		crd := &apiextensionsv1.CustomResourceDefinition{}
		if err := yaml.Unmarshal(data, crd); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if err := c.Create(ctx, crd); err != nil {
			return fmt.Errorf("create CRD %s: %w", crd.Name, err)
		}
		return wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
			live := &apiextensionsv1.CustomResourceDefinition{}
			if err := c.Get(ctx, client.ObjectKeyFromObject(crd), live); err != nil {
				return false, nil
			}
			for _, cond := range live.Status.Conditions {
				if cond.Type == apiextensionsv1.Established && cond.Status == apiextensionsv1.ConditionTrue {
					return true, nil
				}
			}
			return false, nil
		})
	})
}

func externalInstance(ns, name string) *v1alpha1.Instance {
	return &v1alpha1.Instance{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: v1alpha1.InstanceSpec{
			Software: v1alpha1.SoftwareMastodon,
			Domain:   v1alpha1.Domain(name + "." + ns + ".example"),
			External: &v1alpha1.ExternalServer{URL: "https://" + name + "." + ns + ".example",
				TokenSecretRef: v1alpha1.SecretKeyReference{Name: "token"}},
			Federation: &v1alpha1.InstanceFederation{Sync: ptr.To(false)},
		},
	}
}

func eventually(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	last := ""
	for time.Now().Before(deadline) {
		ok, detail := cond()
		if ok {
			return
		}
		last = detail
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("%s: not within %s (last: %s)", what, timeout, last)
}

// TestQuotaRefusesTheInstanceBeyondTheCount is the Community quota as a
// co-op relies on it: the API server itself refuses the Instance beyond the
// community's count, with the quota's own message.
func TestQuotaRefusesTheInstanceBeyondTheCount(t *testing.T) {
	ctx := context.Background()
	c := shared.client
	community := &v1alpha1.Community{
		ObjectMeta: metav1.ObjectMeta{Name: "quota-commons"},
		Spec: v1alpha1.CommunitySpec{Domains: []v1alpha1.Domain{"quota-commons.example"},
			Quota: &v1alpha1.CommunityQuota{Instances: ptr.To[int32](2)}},
	}
	if err := c.Create(ctx, community); err != nil {
		t.Fatal(err)
	}
	ns := "quota-commons"
	eventually(t, 30*time.Second, "the community becomes Ready", func() (bool, string) {
		live := &v1alpha1.Community{}
		if err := c.Get(ctx, client.ObjectKeyFromObject(community), live); err != nil {
			return false, err.Error()
		}
		ready := meta.FindStatusCondition(live.Status.Conditions, v1alpha1.ConditionReady)
		return ready != nil && ready.Status == metav1.ConditionTrue, fmt.Sprint(live.Status.Conditions)
	})
	// The API server enforces an object-count quota once the
	// controller-manager's quota controller has filled its status; it
	// notices a CRD installed after it started on its 30 s rediscovery.
	eventually(t, 90*time.Second, "the quota is tracked", func() (bool, string) {
		q := &corev1.ResourceQuota{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "fedcommons-quota"}, q); err != nil {
			return false, err.Error()
		}
		_, tracked := q.Status.Used["count/instances.fedcommons.io"]
		return tracked, fmt.Sprint(q.Status)
	})
	if err := c.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "token"}, StringData: map[string]string{"token": "t"}}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"first", "second"} {
		if err := c.Create(ctx, externalInstance(ns, name)); err != nil {
			t.Fatalf("instance %s within the quota was refused: %v", name, err)
		}
	}
	// Admission counts each Instance into status.used at once, but the
	// quota controller may write back a recount from an informer cache
	// that has not seen them yet, until its next resync (quota is
	// eventually consistent). Wait for a count of 2 that holds.
	steady := 0
	eventually(t, 60*time.Second, "the quota counts both instances", func() (bool, string) {
		q := &corev1.ResourceQuota{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "fedcommons-quota"}, q); err != nil {
			return false, err.Error()
		}
		used := q.Status.Used["count/instances.fedcommons.io"]
		if used.Value() != 2 {
			steady = 0
			return false, "used " + used.String()
		}
		if steady++; steady < 3 {
			time.Sleep(time.Second)
			return false, fmt.Sprintf("used %s, %d reads so far", used.String(), steady)
		}
		return true, ""
	})
	err := c.Create(ctx, externalInstance(ns, "third"))
	if err == nil {
		t.Fatal("the third Instance of a community limited to two was admitted")
	}
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "exceeded quota: fedcommons-quota") ||
		!strings.Contains(err.Error(), "count/instances.fedcommons.io") {
		t.Fatalf("want the quota's refusal, got: %v", err)
	}
	t.Logf("refused as expected: %v", err)

	eventually(t, 30*time.Second, "the community counts its instances", func() (bool, string) {
		live := &v1alpha1.Community{}
		if err := c.Get(ctx, client.ObjectKeyFromObject(community), live); err != nil {
			return false, err.Error()
		}
		return live.Status.Instances == 2, fmt.Sprint(live.Status.Instances)
	})
}
