package controllers_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/fedcommons/fedcommons/controllers"
	"github.com/fedcommons/fedcommons/internal/manager"
	"github.com/fedcommons/fedcommons/internal/moderation/drivers"
	"github.com/fedcommons/fedcommons/internal/outbound"
	"github.com/fedcommons/fedcommons/internal/testenv"
	"github.com/fedcommons/fedcommons/internal/thirdparty"
)

// The suite runs the real operator (manager.New, every reconciler) against
// a real kube-apiserver and etcd, with RBAC authorization on.
var (
	testEnv   *envtest.Environment
	cfg       *rest.Config
	k8sClient client.Client
	scheme    *runtime.Scheme
	ctx       context.Context
	cancel    context.CancelFunc

	// writes records every write the operator's client sends, by object,
	// for the steady-state (zero writes) assertions.
	writes writeLog

	// feedPublicURL and feedClusterURL are the operator's two feed
	// listeners (http://127.0.0.1:port), as the world and the cluster
	// reach them.
	feedPublicURL, feedClusterURL string
)

type writeLog struct {
	mu    sync.Mutex
	total int64
	byKey map[string]int64 // "namespace/name" ("/name" when cluster-scoped)
}

func (w *writeLog) record(namespace, name string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.byKey == nil {
		w.byKey = map[string]int64{}
	}
	w.total++
	w.byKey[namespace+"/"+name]++
}

// count returns how many writes went to objects the filter accepts.
func (w *writeLog) count(accept func(namespace, name string) bool) int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	var n int64
	for key, c := range w.byKey {
		ns, name, _ := strings.Cut(key, "/")
		if accept(ns, name) {
			n += c
		}
	}
	return n
}

const operatorNamespace = testenv.OperatorNamespace

func TestControllers(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Controllers suite")
}

var _ = BeforeSuite(func() {
	// Every log line is also kept for the secrets hygiene check.
	logf.SetLogger(zap.New(zap.WriteTo(io.MultiWriter(GinkgoWriter, &logCapture)), zap.UseDevMode(true)))
	ctx, cancel = context.WithCancel(context.Background())

	assets, err := testenv.Assets()
	Expect(err).NotTo(HaveOccurred())

	thirdPartyCRDs, err := thirdparty.CRDDirs()
	Expect(err).NotTo(HaveOccurred())
	testEnv = &envtest.Environment{
		BinaryAssetsDirectory: assets,
		CRDDirectoryPaths:     append([]string{filepath.Join("..", "config", "crd", "bases")}, thirdPartyCRDs...),
		ErrorIfCRDPathMissing: true,
	}
	// The strictest owner-reference check a cluster may run (OpenShift
	// does): setting blockOwnerDeletion needs update on the owner's
	// finalizers, changing an object's ownerReferences needs delete on it.
	// The shipped RBAC must hold up under it.
	testEnv.ControlPlane.GetAPIServer().Configure().
		Set("enable-admission-plugins", "OwnerReferencesPermissionEnforcement")
	cfg, err = testEnv.Start()
	Expect(err).NotTo(HaveOccurred())

	scheme = manager.Scheme()
	// The test's own client is an admin: assertions see everything.
	k8sClient, err = client.New(cfg, client.Options{Scheme: scheme})
	Expect(err).NotTo(HaveOccurred())

	Expect(k8sClient.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: operatorNamespace}})).To(Succeed())
	Expect(testenv.InstallOperatorRBAC(ctx, k8sClient)).To(Succeed())
	// The approvals' admission policy, from the file config/ and the
	// chart ship (review_admission_test.go).
	Expect(testenv.InstallAdmissionPolicy(ctx, k8sClient)).To(Succeed())

	publicAddr, clusterAddr := freeLoopbackAddr(), freeLoopbackAddr()
	feedPublicURL, feedClusterURL = "http://"+publicAddr, "http://"+clusterAddr
	// The operator runs as its ServiceAccount under config/rbac, as
	// shipped: a verb missing there fails the specs that need it.
	mgr, err := manager.New(testenv.AsOperator(cfg), manager.Options{
		MetricsAddr:     "0",
		ProbeAddr:       "0",
		FeedPublicAddr:  publicAddr,
		FeedClusterAddr: clusterAddr,
		NewClient:       countingClient,
		Controllers: controllers.Options{OperatorNamespace: operatorNamespace, DriftCheckInterval: time.Hour,
			// The fake admin servers do not limit; the sources are on loopback.
			AdminRateLimit:      drivers.RateLimit{Requests: -1},
			SourceAllowPrefixes: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
			// See outbound_harness_test.go: 127.0.0.1 opened as a co-op
			// opens its network; hosted servers reached as their Service.
			Outbound:       outbound.Config{Allow: harnessAllow, Resolver: testNames},
			ServiceOrigins: serviceOrigins, FeedClusterURL: feedClusterURL,
			// The image the s3 backup Jobs run the backup agent from.
			AgentImage: testAgentImage},
	})
	Expect(err).NotTo(HaveOccurred())
	go func() {
		defer GinkgoRecover()
		Expect(mgr.Start(ctx)).To(Succeed())
	}()
})

var _ = AfterSuite(func() {
	defer func() {
		if cancel != nil {
			cancel()
		}
		if testEnv != nil {
			Expect(testEnv.Stop()).To(Succeed())
		}
	}()
	// The cluster is still up: read back what the operator left to see.
	if k8sClient != nil {
		checkSecretsHygiene()
	}
})

// freeLoopbackAddr returns a loopback address with a port free a moment
// ago, for a listener the manager opens itself.
func freeLoopbackAddr() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	Expect(err).NotTo(HaveOccurred())
	addr := ln.Addr().String()
	Expect(ln.Close()).To(Succeed())
	return addr
}

// countingClient is the manager's own client with every write counted.
func countingClient(config *rest.Config, options client.Options) (client.Client, error) {
	c, err := client.NewWithWatch(config, options)
	if err != nil {
		return nil, err
	}
	count := func(obj interface {
		GetNamespace() string
		GetName() string
	}) {
		writes.record(obj.GetNamespace(), obj.GetName())
	}
	return interceptor.NewClient(c, interceptor.Funcs{
		Create: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
			count(obj)
			return c.Create(ctx, obj, opts...)
		},
		Update: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.UpdateOption) error {
			count(obj)
			return c.Update(ctx, obj, opts...)
		},
		Patch: func(ctx context.Context, c client.WithWatch, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
			count(obj)
			return c.Patch(ctx, obj, patch, opts...)
		},
		Apply: func(ctx context.Context, c client.WithWatch, obj runtime.ApplyConfiguration, opts ...client.ApplyOption) error {
			if named, ok := obj.(interface {
				GetNamespace() string
				GetName() string
			}); ok {
				count(named)
			} else {
				writes.record("?", "?")
			}
			return c.Apply(ctx, obj, opts...)
		},
		Delete: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.DeleteOption) error {
			count(obj)
			return c.Delete(ctx, obj, opts...)
		},
		SubResourceUpdate: func(ctx context.Context, c client.Client, sub string, obj client.Object, opts ...client.SubResourceUpdateOption) error {
			count(obj)
			return c.SubResource(sub).Update(ctx, obj, opts...)
		},
		SubResourcePatch: func(ctx context.Context, c client.Client, sub string, obj client.Object, patch client.Patch, opts ...client.SubResourcePatchOption) error {
			count(obj)
			return c.SubResource(sub).Patch(ctx, obj, patch, opts...)
		},
	}), nil
}

var nsCounter atomic.Int64

// uniqueName gives each test its own names: namespaces never finish
// deleting in envtest (no namespace controller), so tests never reuse them.
func uniqueName(prefix string) string {
	return fmt.Sprintf("%s-%d-%d", prefix, GinkgoParallelProcess(), nsCounter.Add(1))
}

// newNamespace creates a fresh namespace for one test.
func newNamespace() string {
	name := uniqueName("t")
	Expect(k8sClient.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}})).To(Succeed())
	return name
}
