// Package chart_test checks the Helm chart the way a user meets it: helm
// lint, helm template with default and non-default values, the values
// schema rejecting mistakes, and the rendered objects accepted by a real
// API server (server-side apply, dry run). Helm is the pinned module in
// hack/tools/go.mod, so no helm binary has to be installed.
package chart_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	psapi "k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"

	"github.com/fedcommons/fedcommons/internal/testenv"
)

const (
	release   = "fedcommons"
	namespace = "fedcommons-system"
	// The tests run in charts/fedcommons; the chart is ".".
	repoRoot = "../.."
)

// nonDefault turns on everything that is off by default and changes what
// a user typically changes.
var nonDefault = []string{
	"--set", "metrics.serviceMonitor.enabled=true",
	"--set", "metrics.serviceMonitor.labels.release=prometheus",
	"--set", "feeds.ingress.enabled=true",
	"--set", "feeds.ingress.host=feeds.example.coop",
	"--set", "feeds.ingress.className=nginx",
	"--set", "feeds.ingress.tls[0].secretName=feeds-tls",
	"--set", "feeds.ingress.tls[0].hosts[0]=feeds.example.coop",
	"--set", "crds.enabled=false",
	"--set", "manager.extraArgs={--zap-log-level=debug,--drift-check-interval=1h}",
	"--set", "image.repository=registry.example.coop/fedcommons",
	"--set", "image.tag=v9.9.9",
	"--set", "image.pullPolicy=Always",
	"--set", "replicaCount=2",
	"--set", "nodeSelector.kubernetes\\.io/os=linux",
	"--set", "tolerations[0].key=dedicated",
	"--set", "tolerations[0].operator=Exists",
	"--set", "outbound.allowCIDRs={10.20.0.0/16,192.168.7.0/24}",
	"--set", "outbound.proxy=http://proxy.coop.internal:3128",
}

var helmPath = sync.OnceValues(func() (string, error) {
	// `go tool -n` builds (or reuses from the build cache) the pinned helm
	// and prints where the binary is, so each test runs it directly
	// instead of paying for `go tool` on every call.
	cmd := exec.Command("go", "tool", "-modfile=hack/tools/go.mod", "-n", "helm")
	cmd.Dir = repoRoot
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", errors.New("building helm from hack/tools/go.mod: " + err.Error() + ": " + stderr.String())
	}
	return strings.TrimSpace(string(out)), nil
})

// helm runs the pinned helm with its state directories in a scratch
// directory, so the user's own helm configuration never leaks in.
func helm(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	bin, err := helmPath()
	if err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(),
		"HELM_CACHE_HOME="+filepath.Join(home, "cache"),
		"HELM_CONFIG_HOME="+filepath.Join(home, "config"),
		"HELM_DATA_HOME="+filepath.Join(home, "data"),
	)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	return out.String(), errOut.String(), err
}

// render runs helm template and parses every rendered document.
func render(t *testing.T, extra ...string) []*unstructured.Unstructured {
	t.Helper()
	args := append([]string{"template", release, ".", "--namespace", namespace}, extra...)
	out, stderr, err := helm(t, args...)
	if err != nil {
		t.Fatalf("helm template: %v\n%s", err, stderr)
	}
	return parseYAML(t, []byte(out))
}

func parseYAML(t *testing.T, data []byte) []*unstructured.Unstructured {
	t.Helper()
	var objs []*unstructured.Unstructured
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return objs
		}
		if err != nil {
			t.Fatalf("reading rendered YAML: %v", err)
		}
		var m map[string]any
		if err := yaml.Unmarshal(doc, &m); err != nil {
			t.Fatalf("parsing rendered YAML: %v\n%s", err, doc)
		}
		if len(m) == 0 {
			continue
		}
		objs = append(objs, &unstructured.Unstructured{Object: m})
	}
}

func readYAMLFile(t *testing.T, path string) []*unstructured.Unstructured {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return parseYAML(t, data)
}

func ofKind(objs []*unstructured.Unstructured, kind string) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, o := range objs {
		if o.GetKind() == kind {
			out = append(out, o)
		}
	}
	return out
}

func named(t *testing.T, objs []*unstructured.Unstructured, kind, name string) *unstructured.Unstructured {
	t.Helper()
	for _, o := range objs {
		if o.GetKind() == kind && o.GetName() == name {
			return o
		}
	}
	t.Fatalf("no %s %q rendered", kind, name)
	return nil
}

func kindCounts(objs []*unstructured.Unstructured) map[string]int {
	counts := map[string]int{}
	for _, o := range objs {
		counts[o.GetKind()]++
	}
	return counts
}

func toTyped(t *testing.T, u *unstructured.Unstructured, into any) {
	t.Helper()
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, into); err != nil {
		t.Fatalf("converting %s %s: %v", u.GetKind(), u.GetName(), err)
	}
}

func TestLint(t *testing.T) {
	for name, args := range map[string][]string{"defaults": nil, "non-default values": nonDefault} {
		t.Run(name, func(t *testing.T) {
			out, stderr, err := helm(t, append([]string{"lint", "--strict", "."}, args...)...)
			if err != nil {
				t.Fatalf("helm lint --strict: %v\n%s%s", err, out, stderr)
			}
		})
	}
}

func TestTemplateDefaults(t *testing.T) {
	objs := render(t)

	want := map[string]int{
		"CustomResourceDefinition": 5,
		"ServiceAccount":           1,
		// manager, metrics-auth, metrics-reader and the three community roles
		"ClusterRole":        6,
		"ClusterRoleBinding": 2,
		"Role":               1,
		"RoleBinding":        1,
		// metrics, public feeds, cluster feeds
		"Service":    3,
		"Deployment": 1,
		// the cluster feed listener admits pods of the cluster only
		"NetworkPolicy": 1,
		// approvals in their author's name only (config/admission)
		"ValidatingAdmissionPolicy":        1,
		"ValidatingAdmissionPolicyBinding": 1,
	}
	if diff := cmp.Diff(want, kindCounts(objs)); diff != "" {
		t.Errorf("rendered kinds (-want +got):\n%s", diff)
	}

	clusterScoped := map[string]bool{"CustomResourceDefinition": true, "ClusterRole": true, "ClusterRoleBinding": true,
		"ValidatingAdmissionPolicy": true, "ValidatingAdmissionPolicyBinding": true}
	for _, o := range objs {
		if got := o.GetNamespace(); clusterScoped[o.GetKind()] != (got == "") || (got != "" && got != namespace) {
			t.Errorf("%s %s: namespace %q, want %q for namespaced kinds and none for cluster-scoped ones", o.GetKind(), o.GetName(), got, namespace)
		}
	}

	t.Run("CRDs are config/crd/bases plus the keep annotation", func(t *testing.T) {
		bases, err := filepath.Glob(filepath.Join(repoRoot, "config/crd/bases/*.yaml"))
		if err != nil || len(bases) == 0 {
			t.Fatalf("no CRDs in config/crd/bases: %v", err)
		}
		for _, path := range bases {
			for _, base := range readYAMLFile(t, path) {
				got := named(t, objs, "CustomResourceDefinition", base.GetName())
				annotations := got.GetAnnotations()
				if annotations["helm.sh/resource-policy"] != "keep" {
					t.Errorf("CRD %s: annotations %v, want helm.sh/resource-policy: keep", got.GetName(), annotations)
				}
				if got.GetLabels()["app.kubernetes.io/part-of"] != "fedcommons" {
					t.Errorf("CRD %s: labels %v, want the chart's labels", got.GetName(), got.GetLabels())
				}
				// Apart from what the chart adds, the CRD is the generated one.
				stripped := got.DeepCopy()
				delete(annotations, "helm.sh/resource-policy")
				stripped.SetAnnotations(annotations)
				stripped.SetLabels(nil)
				if diff := cmp.Diff(base.Object, stripped.Object); diff != "" {
					t.Errorf("CRD %s differs from %s (-config +chart):\n%s", base.GetName(), path, diff)
				}
			}
		}
	})

	t.Run("manager ClusterRole rules are config/rbac/role.yaml's", func(t *testing.T) {
		generated := readYAMLFile(t, filepath.Join(repoRoot, "config/rbac/role.yaml"))
		if len(generated) != 1 {
			t.Fatalf("config/rbac/role.yaml: %d objects, want 1", len(generated))
		}
		got := named(t, objs, "ClusterRole", release+"-manager")
		if diff := cmp.Diff(generated[0].Object["rules"], got.Object["rules"]); diff != "" {
			t.Errorf("manager ClusterRole rules (-role.yaml +chart):\n%s", diff)
		}
		binding := named(t, objs, "ClusterRoleBinding", release+"-manager")
		if ref, _, _ := unstructured.NestedString(binding.Object, "roleRef", "name"); ref != release+"-manager" {
			t.Errorf("manager ClusterRoleBinding roleRef %q", ref)
		}
		assertBoundToServiceAccount(t, binding)
	})

	t.Run("community roles are config/rbac/community_roles.yaml", func(t *testing.T) {
		for _, want := range readYAMLFile(t, filepath.Join(repoRoot, "config/rbac/community_roles.yaml")) {
			got := named(t, objs, "ClusterRole", want.GetName())
			if diff := cmp.Diff(want.Object, got.Object); diff != "" {
				t.Errorf("ClusterRole %s (-config +chart):\n%s", want.GetName(), diff)
			}
		}
	})

	t.Run("admission policy is config/admission's", func(t *testing.T) {
		assertAdmissionPolicy(t, objs)
	})

	t.Run("leader election and metrics auth", func(t *testing.T) {
		// These templates are written by hand, not synced: their rules
		// must still be config/rbac's, which the envtest and e2e suites
		// run the operator under and docs/operator-rbac.md explains.
		for file, name := range map[string]string{
			"config/rbac/leader_election_role.yaml": release + "-leader-election",
			"config/rbac/metrics_auth_role.yaml":    release + "-metrics-auth",
		} {
			want := readYAMLFile(t, filepath.Join(repoRoot, file))
			if len(want) != 1 {
				t.Fatalf("%s: %d objects, want 1", file, len(want))
			}
			got := named(t, objs, want[0].GetKind(), name)
			if diff := cmp.Diff(want[0].Object["rules"], got.Object["rules"]); diff != "" {
				t.Errorf("%s %s rules (-%s +chart):\n%s", want[0].GetKind(), name, file, diff)
			}
		}
		assertBoundToServiceAccount(t, named(t, objs, "RoleBinding", release+"-leader-election"))
		assertBoundToServiceAccount(t, named(t, objs, "ClusterRoleBinding", release+"-metrics-auth"))
		reader := named(t, objs, "ClusterRole", release+"-metrics-reader")
		if !strings.Contains(toJSON(t, reader.Object["rules"]), `"/metrics"`) {
			t.Errorf("metrics-reader ClusterRole: %s", toJSON(t, reader.Object["rules"]))
		}
	})

	t.Run("Deployment", func(t *testing.T) {
		var d appsv1.Deployment
		toTyped(t, named(t, objs, "Deployment", release), &d)
		if d.Spec.Replicas == nil || *d.Spec.Replicas != 1 {
			t.Errorf("replicas %v, want 1", d.Spec.Replicas)
		}
		pod := d.Spec.Template.Spec
		c := pod.Containers[0]
		if want := "ghcr.io/fedcommons/fedcommons:" + chartAppVersion(t); c.Image != want {
			t.Errorf("image %q, want %q", c.Image, want)
		}
		if c.ImagePullPolicy != corev1.PullIfNotPresent {
			t.Errorf("pullPolicy %q", c.ImagePullPolicy)
		}
		for _, arg := range []string{
			"manager", "--leader-elect=true", "--metrics-bind-address=:8443", "--health-probe-bind-address=:8081",
			"--feed-public-bind-address=:8090", "--feed-cluster-bind-address=:8091",
		} {
			if !slices.Contains(c.Args, arg) {
				t.Errorf("args %v lack %s", c.Args, arg)
			}
		}
		if c.Args[0] != "manager" {
			t.Errorf("args %v: the subcommand must come first", c.Args)
		}
		// Nothing opened and no proxy unless the values say so.
		for _, arg := range c.Args {
			if strings.HasPrefix(arg, "--outbound-") {
				t.Errorf("args %v: %s by default", c.Args, arg)
			}
		}
		if !slices.Contains(c.Args, "--cluster-domain=cluster.local") {
			t.Errorf("args %v lack --cluster-domain=cluster.local", c.Args)
		}
		if pod.AutomountServiceAccountToken == nil || !*pod.AutomountServiceAccountToken {
			t.Errorf("automountServiceAccountToken must be true: the manager needs its token")
		}
		if pod.ServiceAccountName != release {
			t.Errorf("serviceAccountName %q", pod.ServiceAccountName)
		}
		env := map[string]string{}
		for _, e := range c.Env {
			if e.ValueFrom != nil && e.ValueFrom.FieldRef != nil {
				env[e.Name] = e.ValueFrom.FieldRef.FieldPath
			}
		}
		if env["POD_NAMESPACE"] != "metadata.namespace" {
			t.Errorf("POD_NAMESPACE must come from the downward API: %v", c.Env)
		}
		ports := map[string]int32{}
		for _, p := range c.Ports {
			ports[p.Name] = p.ContainerPort
		}
		if diff := cmp.Diff(map[string]int32{"metrics": 8443, "health": 8081, "feed-public": 8090, "feed-cluster": 8091}, ports); diff != "" {
			t.Errorf("container ports (-want +got):\n%s", diff)
		}
		for probe, path := range map[*corev1.Probe]string{c.LivenessProbe: "/healthz", c.ReadinessProbe: "/readyz"} {
			if probe == nil || probe.HTTPGet == nil || probe.HTTPGet.Path != path || ports[probe.HTTPGet.Port.String()] != 8081 {
				t.Errorf("probe %+v, want GET %s on the health port 8081", probe, path)
			}
		}
		if c.Resources.Requests.Cpu().IsZero() || c.Resources.Limits.Memory().IsZero() {
			t.Errorf("resources %+v: want requests and a memory limit", c.Resources)
		}
		assertRestricted(t, &d)
	})

	t.Run("Services", func(t *testing.T) {
		var d appsv1.Deployment
		toTyped(t, named(t, objs, "Deployment", release), &d)
		for name, port := range map[string]int32{
			release + "-metrics": 8443, release + "-feeds-public": 8090, release + "-feeds-cluster": 8091,
		} {
			var svc corev1.Service
			toTyped(t, named(t, objs, "Service", name), &svc)
			assertServiceReachesPod(t, &svc, port, &d)
			if svc.Spec.Type != corev1.ServiceTypeClusterIP {
				t.Errorf("Service %s: type %s, want ClusterIP by default", name, svc.Spec.Type)
			}
		}
	})
}

// TestFeedsNetworkPolicy (issue 12 case 11: the NetworkPolicy that keeps
// the cluster feed listener inside the cluster shipped nowhere): it
// selects the manager's pods, opens the public feed, probe and metrics
// ports to anyone and the cluster feed port to pods of the cluster only,
// and config/manager ships the same rules to kustomize users.
func TestFeedsNetworkPolicy(t *testing.T) {
	objs := render(t)
	var d appsv1.Deployment
	toTyped(t, named(t, objs, "Deployment", release), &d)
	var np networkingv1.NetworkPolicy
	toTyped(t, named(t, objs, "NetworkPolicy", release+"-feeds"), &np)
	checkFeedsNetworkPolicy(t, &np, d.Spec.Template.Labels)

	var kustomized networkingv1.NetworkPolicy
	toTyped(t, readYAMLFile(t, filepath.Join(repoRoot, "config/manager/feeds_networkpolicy.yaml"))[0], &kustomized)
	var manager appsv1.Deployment
	toTyped(t, readYAMLFile(t, filepath.Join(repoRoot, "config/manager/manager.yaml"))[0], &manager)
	checkFeedsNetworkPolicy(t, &kustomized, manager.Spec.Template.Labels)
	kustomization, err := os.ReadFile(filepath.Join(repoRoot, "config/manager/kustomization.yaml"))
	if err != nil || !strings.Contains(string(kustomization), "feeds_networkpolicy.yaml") {
		t.Errorf("config/manager/kustomization.yaml does not list feeds_networkpolicy.yaml (%v)", err)
	}

	if n := len(ofKind(render(t, "--set", "feeds.networkPolicy.enabled=false"), "NetworkPolicy")); n != 0 {
		t.Errorf("feeds.networkPolicy.enabled=false still renders %d NetworkPolicies", n)
	}
	var noMetrics networkingv1.NetworkPolicy
	toTyped(t, named(t, render(t, "--set", "metrics.enabled=false"), "NetworkPolicy", release+"-feeds"), &noMetrics)
	if strings.Contains(toJSON(t, noMetrics.Spec.Ingress), "8443") {
		t.Errorf("metrics.enabled=false still opens the metrics port: %s", toJSON(t, noMetrics.Spec.Ingress))
	}
}

func checkFeedsNetworkPolicy(t *testing.T, np *networkingv1.NetworkPolicy, podLabels map[string]string) {
	t.Helper()
	sel, err := metav1.LabelSelectorAsSelector(&np.Spec.PodSelector)
	if err != nil || sel.Empty() || !sel.Matches(labels.Set(podLabels)) {
		t.Errorf("NetworkPolicy %s selects %v (%v), not the manager's pods (%v)", np.Name, np.Spec.PodSelector, err, podLabels)
	}
	if !slices.Equal(np.Spec.PolicyTypes, []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}) {
		t.Errorf("NetworkPolicy %s policyTypes %v, want [Ingress]", np.Name, np.Spec.PolicyTypes)
	}
	// from[port] is who may reach each port: "anyone" or "cluster pods".
	from := map[int32]string{}
	for _, rule := range np.Spec.Ingress {
		who := "anyone"
		if len(rule.From) > 0 {
			who = "?"
			if len(rule.From) == 1 && rule.From[0].PodSelector == nil && rule.From[0].IPBlock == nil &&
				rule.From[0].NamespaceSelector != nil && len(rule.From[0].NamespaceSelector.MatchLabels) == 0 &&
				len(rule.From[0].NamespaceSelector.MatchExpressions) == 0 {
				who = "cluster pods"
			}
		}
		if len(rule.Ports) == 0 {
			t.Errorf("NetworkPolicy %s: a rule without ports opens every port to %s", np.Name, who)
		}
		for _, p := range rule.Ports {
			if p.Port == nil || p.Port.IntValue() == 0 || p.EndPort != nil {
				t.Errorf("NetworkPolicy %s: port %v, want a single port number", np.Name, p.Port)
				continue
			}
			from[int32(p.Port.IntValue())] = who
		}
	}
	want := map[int32]string{8090: "anyone", 8081: "anyone", 8443: "anyone", 8091: "cluster pods"}
	if diff := cmp.Diff(want, from); diff != "" {
		t.Errorf("NetworkPolicy %s: who reaches which port (-want +got):\n%s", np.Name, diff)
	}
}

func TestTemplateNonDefault(t *testing.T) {
	objs := render(t, nonDefault...)
	counts := kindCounts(objs)
	if counts["CustomResourceDefinition"] != 0 {
		t.Errorf("crds.enabled=false still renders %d CRDs", counts["CustomResourceDefinition"])
	}
	if counts["ServiceMonitor"] != 1 || counts["Ingress"] != 1 {
		t.Errorf("want one ServiceMonitor and one Ingress, got %v", counts)
	}
	// Turning the CRDs off must not take the community roles with them:
	// the operator binds them by name.
	for _, role := range []string{"fedcommons-community-admin", "fedcommons-community-moderator", "fedcommons-community-viewer"} {
		named(t, objs, "ClusterRole", role)
	}
	// Nor the admission policy: approvals in the cluster (the CRDs managed
	// apart) must still be in their author's name.
	assertAdmissionPolicy(t, objs)

	var d appsv1.Deployment
	toTyped(t, named(t, objs, "Deployment", release), &d)
	if d.Spec.Replicas == nil || *d.Spec.Replicas != 2 {
		t.Errorf("replicas %v, want 2", d.Spec.Replicas)
	}
	pod := d.Spec.Template.Spec
	c := pod.Containers[0]
	if c.Image != "registry.example.coop/fedcommons:v9.9.9" || c.ImagePullPolicy != corev1.PullAlways {
		t.Errorf("image %q pullPolicy %q", c.Image, c.ImagePullPolicy)
	}
	// Extra args come last, so that they override the chart's own flags
	// (the Go flag package keeps the last value).
	if n := len(c.Args); n < 2 || c.Args[n-2] != "--zap-log-level=debug" || c.Args[n-1] != "--drift-check-interval=1h" {
		t.Errorf("args %v: want the extra args at the end", c.Args)
	}
	for _, arg := range []string{"--outbound-allow-cidrs=10.20.0.0/16,192.168.7.0/24", "--outbound-proxy=http://proxy.coop.internal:3128"} {
		if !slices.Contains(c.Args, arg) {
			t.Errorf("args %v lack %s", c.Args, arg)
		}
	}
	if pod.NodeSelector["kubernetes.io/os"] != "linux" || len(pod.Tolerations) != 1 || pod.Tolerations[0].Key != "dedicated" {
		t.Errorf("nodeSelector %v tolerations %v", pod.NodeSelector, pod.Tolerations)
	}
	assertRestricted(t, &d)

	sm := ofKind(objs, "ServiceMonitor")[0]
	if sm.GetLabels()["release"] != "prometheus" {
		t.Errorf("ServiceMonitor labels %v lack the extra label", sm.GetLabels())
	}
	endpoints, _, _ := unstructured.NestedSlice(sm.Object, "spec", "endpoints")
	if len(endpoints) != 1 {
		t.Fatalf("ServiceMonitor endpoints %v", endpoints)
	}
	ep := endpoints[0].(map[string]any)
	if ep["port"] != "https" || ep["scheme"] != "https" || ep["path"] != "/metrics" {
		t.Errorf("ServiceMonitor endpoint %v, want https /metrics on the metrics Service's port", ep)
	}
	var metrics corev1.Service
	toTyped(t, named(t, objs, "Service", release+"-metrics"), &metrics)
	selector, _, _ := unstructured.NestedStringMap(sm.Object, "spec", "selector", "matchLabels")
	for k, v := range selector {
		if metrics.Labels[k] != v {
			t.Errorf("ServiceMonitor selects %s=%s, which the metrics Service (labels %v) lacks", k, v, metrics.Labels)
		}
	}

	ing := ofKind(objs, "Ingress")[0]
	rules, _, _ := unstructured.NestedSlice(ing.Object, "spec", "rules")
	rulesJSON := toJSON(t, rules)
	if len(rules) != 1 || !strings.Contains(rulesJSON, `"host":"feeds.example.coop"`) ||
		!strings.Contains(rulesJSON, `"name":"`+release+`-feeds-public"`) || strings.Contains(rulesJSON, "feeds-cluster") {
		t.Errorf("Ingress rules %s: want the host routed to the public feed Service only", rulesJSON)
	}
	if class, _, _ := unstructured.NestedString(ing.Object, "spec", "ingressClassName"); class != "nginx" {
		t.Errorf("ingressClassName %q", class)
	}
	if tls, _, _ := unstructured.NestedSlice(ing.Object, "spec", "tls"); !strings.Contains(toJSON(t, tls), "feeds-tls") {
		t.Errorf("Ingress tls %v", tls)
	}
}

func TestTemplateCRDsWithoutKeep(t *testing.T) {
	objs := render(t, "--set", "crds.keep=false")
	crds := ofKind(objs, "CustomResourceDefinition")
	if len(crds) != 5 {
		t.Fatalf("%d CRDs rendered, want 5", len(crds))
	}
	for _, crd := range crds {
		if _, ok := crd.GetAnnotations()["helm.sh/resource-policy"]; ok {
			t.Errorf("CRD %s keeps the resource policy with crds.keep=false", crd.GetName())
		}
	}
}

// The schema is what turns a typo in a values file into an error instead
// of a silently ignored setting.
func TestSchemaRejectsBadValues(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"replicaCount not a number", []string{"--set", "replicaCount=two"}, "at '/replicaCount': got string, want integer"},
		{"unknown top-level key", []string{"--set", "replicaCont=2"}, "additional properties 'replicaCont' not allowed"},
		{"unknown nested key", []string{"--set", "image.pullpolicy=Always"}, "additional properties 'pullpolicy' not allowed"},
		{"invalid pullPolicy", []string{"--set", "image.pullPolicy=Sometimes"}, "at '/image/pullPolicy': value must be one of 'Always', 'IfNotPresent', 'Never'"},
		{"ingress without host", []string{"--set", "feeds.ingress.enabled=true"}, "at '/feeds/ingress/host'"},
		{"port out of range", []string{"--set", "feeds.public.port=70000"}, "at '/feeds/public/port'"},
		{"drift interval not a duration", []string{"--set", "manager.driftCheckInterval=daily"}, "at '/manager/driftCheckInterval'"},
		{"allowed range without a mask", []string{"--set", "outbound.allowCIDRs={10.0.0.0}"}, "at '/outbound/allowCIDRs/0'"},
		{"proxy without a scheme", []string{"--set", "outbound.proxy=proxy:3128"}, "at '/outbound/proxy'"},
		{"unknown outbound key", []string{"--set", "outbound.allowCidrs={10.0.0.0/8}"}, "additional properties 'allowCidrs' not allowed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, stderr, err := helm(t, append([]string{"template", release, ".", "--namespace", namespace}, tc.args...)...)
			if err == nil {
				t.Fatalf("helm template %v succeeded; the schema must reject it", tc.args)
			}
			if !strings.Contains(stderr, "values don't meet the specifications of the schema") || !strings.Contains(stderr, tc.want) {
				t.Errorf("helm template %v failed without the expected schema error %q:\n%s", tc.args, tc.want, stderr)
			}
		})
	}
}

// TestServerSideDryRun applies the rendered chart to a real API server:
// what helm template produces is not proof that the API server accepts it
// (unknown fields, invalid enums, immutable selectors, RBAC rule shapes).
func TestServerSideDryRun(t *testing.T) {
	cfg := testenv.Start(t, &envtest.Environment{})
	warnings := &warningRecorder{}
	cfg.WarningHandlerWithContext = warnings
	c, err := client.New(cfg, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// The release namespace, for real, enforcing and warning on the
	// restricted Pod Security level: the manager must run there.
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace, Labels: map[string]string{
		psapi.EnforceLevelLabel: string(psapi.LevelRestricted),
		psapi.WarnLevelLabel:    string(psapi.LevelRestricted),
	}}}
	if err := c.Create(ctx, ns); err != nil {
		t.Fatal(err)
	}
	// Pod Security admission is on in this API server: a privileged pod is
	// refused, so the absence of warnings below means something.
	privileged := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "privileged", Namespace: namespace},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "c", Image: "busybox", SecurityContext: &corev1.SecurityContext{Privileged: new(true)},
		}}},
	}
	if err := c.Create(ctx, privileged, client.DryRunAll); !apierrors.IsForbidden(err) {
		t.Fatalf("a privileged pod in a restricted namespace: got %v, want Forbidden by Pod Security admission", err)
	}

	apply := func(t *testing.T, o *unstructured.Unstructured, opts ...client.ApplyOption) {
		t.Helper()
		warnings.reset()
		opts = append(opts, client.FieldOwner("fedcommons-chart-test"), client.ForceOwnership)
		if err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(o), opts...); err != nil {
			t.Errorf("server-side apply of %s %s: %v", o.GetKind(), o.GetName(), err)
		}
		if w := warnings.get(); len(w) > 0 {
			t.Errorf("server-side apply of %s %s: warnings %q", o.GetKind(), o.GetName(), w)
		}
	}

	t.Run("default values", func(t *testing.T) {
		objs := render(t)
		// The CRDs for real first, as helm install would: objects of
		// their kinds (and the operator) need them established.
		for _, crd := range ofKind(objs, "CustomResourceDefinition") {
			apply(t, crd)
		}
		for _, crd := range ofKind(objs, "CustomResourceDefinition") {
			waitEstablished(ctx, t, c, crd.GetName())
		}
		for _, o := range objs {
			if o.GetKind() != "CustomResourceDefinition" {
				apply(t, o, client.DryRunAll)
			}
		}
	})

	t.Run("non-default values", func(t *testing.T) {
		// The ServiceMonitor's CRD belongs to the prometheus-operator, which
		// this API server does not have; its shape is checked in
		// TestTemplateNonDefault.
		args := append(slices.Clone(nonDefault), "--set", "metrics.serviceMonitor.enabled=false")
		objs := render(t, args...)
		if n := len(ofKind(objs, "Ingress")); n != 1 {
			t.Fatalf("%d Ingresses rendered, want 1", n)
		}
		for _, o := range objs {
			apply(t, o, client.DryRunAll)
		}
	})
}

func waitEstablished(ctx context.Context, t *testing.T, c client.Client, name string) {
	t.Helper()
	for {
		crd := &unstructured.Unstructured{}
		crd.SetAPIVersion("apiextensions.k8s.io/v1")
		crd.SetKind("CustomResourceDefinition")
		if err := c.Get(ctx, client.ObjectKey{Name: name}, crd); err == nil {
			conditions, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
			for _, cond := range conditions {
				if m, ok := cond.(map[string]any); ok && m["type"] == "Established" && m["status"] == "True" {
					return
				}
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("CRD %s never became Established", name)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// warningRecorder keeps the API server's warnings (deprecated APIs,
// Pod Security violations of the warn level) so the test can fail on them.
type warningRecorder struct {
	mu       sync.Mutex
	warnings []string
}

func (w *warningRecorder) HandleWarningHeaderWithContext(_ context.Context, _ int, _ string, text string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.warnings = append(w.warnings, text)
}

func (w *warningRecorder) reset() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.warnings = nil
}

func (w *warningRecorder) get() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.warnings)
}

// assertRestricted checks the manager's pod against the Pod Security
// "restricted" level with the same library the API server uses, and the
// fields the conventions name explicitly.
func assertRestricted(t *testing.T, d *appsv1.Deployment) {
	t.Helper()
	evaluator, err := policy.NewEvaluator(policy.DefaultChecks(), nil)
	if err != nil {
		t.Fatal(err)
	}
	level := psapi.LevelVersion{Level: psapi.LevelRestricted, Version: psapi.LatestVersion()}
	result := policy.AggregateCheckResults(evaluator.EvaluatePod(level, &d.Spec.Template.ObjectMeta, &d.Spec.Template.Spec))
	if !result.Allowed {
		t.Errorf("manager pod violates Pod Security restricted: %s: %s", result.ForbiddenReason(), result.ForbiddenDetail())
	}
	pod := d.Spec.Template.Spec
	psc := pod.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot ||
		psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("pod securityContext %+v: want runAsNonRoot and seccomp RuntimeDefault", psc)
	}
	for _, c := range pod.Containers {
		sc := c.SecurityContext
		if sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
			sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
			sc.Capabilities == nil || !reflect.DeepEqual(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
			t.Errorf("container %s securityContext %+v: want no privilege escalation, a read-only root and ALL capabilities dropped", c.Name, sc)
		}
	}
}

// assertAdmissionPolicy checks that the chart renders config/admission's
// policy and binding as they are, the binding denying.
func assertAdmissionPolicy(t *testing.T, objs []*unstructured.Unstructured) {
	t.Helper()
	want := readYAMLFile(t, filepath.Join(repoRoot, "config/admission/policyapprovals.yaml"))
	if len(want) != 2 {
		t.Fatalf("config/admission/policyapprovals.yaml: %d objects, want the policy and its binding", len(want))
	}
	for _, w := range want {
		got := named(t, objs, w.GetKind(), w.GetName())
		if diff := cmp.Diff(w.Object, got.Object); diff != "" {
			t.Errorf("%s %s (-config +chart):\n%s", w.GetKind(), w.GetName(), diff)
		}
	}
	binding := named(t, objs, "ValidatingAdmissionPolicyBinding", "fedcommons-policyapprovals")
	actions, _, _ := unstructured.NestedStringSlice(binding.Object, "spec", "validationActions")
	policy, _, _ := unstructured.NestedString(binding.Object, "spec", "policyName")
	if !slices.Equal(actions, []string{"Deny"}) || policy != "fedcommons-policyapprovals" {
		t.Errorf("binding: policy %q actions %v, want fedcommons-policyapprovals and [Deny]", policy, actions)
	}
}

func assertBoundToServiceAccount(t *testing.T, binding *unstructured.Unstructured) {
	t.Helper()
	subjects, _, _ := unstructured.NestedSlice(binding.Object, "subjects")
	want := []any{map[string]any{"kind": "ServiceAccount", "name": release, "namespace": namespace}}
	if diff := cmp.Diff(want, subjects); diff != "" {
		t.Errorf("%s %s subjects (-want +got):\n%s", binding.GetKind(), binding.GetName(), diff)
	}
}

// assertServiceReachesPod checks that the Service selects the manager's
// pods and that its target port names one of the container's ports.
func assertServiceReachesPod(t *testing.T, svc *corev1.Service, port int32, d *appsv1.Deployment) {
	t.Helper()
	podLabels := d.Spec.Template.Labels
	for k, v := range svc.Spec.Selector {
		if podLabels[k] != v {
			t.Errorf("Service %s selects %s=%s; the manager's pods have %v", svc.Name, k, v, podLabels)
		}
	}
	if len(svc.Spec.Selector) == 0 {
		t.Errorf("Service %s has no selector", svc.Name)
	}
	if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Port != port {
		t.Fatalf("Service %s ports %+v, want %d", svc.Name, svc.Spec.Ports, port)
	}
	target := svc.Spec.Ports[0].TargetPort.String()
	for _, p := range d.Spec.Template.Spec.Containers[0].Ports {
		if p.Name == target {
			if p.ContainerPort != port {
				t.Errorf("Service %s: port %d reaches container port %d", svc.Name, port, p.ContainerPort)
			}
			return
		}
	}
	t.Errorf("Service %s targets port %q, which the manager container does not declare", svc.Name, target)
}

func chartAppVersion(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile("Chart.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var chart struct {
		AppVersion string `json:"appVersion"`
	}
	if err := yaml.Unmarshal(data, &chart); err != nil || chart.AppVersion == "" {
		t.Fatalf("Chart.yaml appVersion: %v", err)
	}
	return chart.AppVersion
}

func toJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
