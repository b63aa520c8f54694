package resources

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/fedcommons/fedcommons/api/v1alpha1"
)

func ports(ps []networkingv1.NetworkPolicyPort) []int32 {
	var out []int32
	for _, p := range ps {
		out = append(out, p.Port.IntVal)
	}
	return out
}

func TestNetworkPoliciesMastodonBundled(t *testing.T) {
	inst := mastodonBundled()
	nps, err := NetworkPolicies(inst, profile(t, inst), "4.5.2", params)
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]*networkingv1.NetworkPolicy{}
	for _, np := range nps {
		byName[np.Name] = np
		if np.Kind != "NetworkPolicy" || len(np.Spec.PolicyTypes) != 1 || np.Spec.PolicyTypes[0] != networkingv1.PolicyTypeIngress {
			t.Errorf("%s: only ingress is restricted (egress open for federation)", np.Name)
		}
	}
	app := byName["toot"]
	if app == nil || len(byName) != 3 {
		t.Fatalf("policies = %v", byName)
	}
	sel := app.Spec.PodSelector
	if sel.MatchLabels[v1alpha1.LabelInstance] != "toot" || len(sel.MatchExpressions) != 1 || len(sel.MatchExpressions[0].Values) != 4 {
		t.Errorf("app selector = %+v", sel)
	}
	if len(app.Spec.Ingress) != 2 {
		t.Fatalf("app rules = %+v", app.Spec.Ingress)
	}
	fromIngress := app.Spec.Ingress[0]
	if fromIngress.From[0].NamespaceSelector.MatchLabels[corev1.LabelMetadataName] != "ingress-nginx" {
		t.Errorf("ingress peer = %+v", fromIngress.From)
	}
	if got := ports(fromIngress.Ports); len(got) != 2 || got[0] != 3000 || got[1] != 4000 {
		t.Errorf("ingress ports = %v, want web 3000 and streaming 4000", got)
	}
	fromOperator := app.Spec.Ingress[1]
	if fromOperator.From[0].NamespaceSelector.MatchLabels[corev1.LabelMetadataName] != "fedcommons-system" {
		t.Errorf("operator peer = %+v", fromOperator.From)
	}
	if got := ports(fromOperator.Ports); len(got) != 1 || got[0] != 3000 {
		t.Errorf("operator ports = %v, want the admin API on 3000", got)
	}
	for name, port := range map[string]int32{"toot-postgres": 5432, "toot-redis": 6379} {
		np := byName[name]
		if np == nil {
			t.Errorf("%s missing", name)
			continue
		}
		rule := np.Spec.Ingress[0]
		if len(np.Spec.Ingress) != 1 || rule.From[0].PodSelector.MatchLabels[v1alpha1.LabelInstance] != "toot" || rule.From[0].NamespaceSelector != nil {
			t.Errorf("%s admits %+v, want only this instance's pods", name, rule.From)
		}
		if got := ports(rule.Ports); len(got) != 1 || got[0] != port {
			t.Errorf("%s ports = %v", name, got)
		}
	}
}

func TestNetworkPoliciesCustomIngressNamespace(t *testing.T) {
	inst := gotosocialSQLite()
	custom := params
	custom.IngressNamespaceSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"role": "ingress"}}
	nps, err := NetworkPolicies(inst, profile(t, inst), "0.20.1", custom)
	if err != nil {
		t.Fatal(err)
	}
	if len(nps) != 1 {
		t.Fatalf("policies = %d, want 1 (no bundled backends)", len(nps))
	}
	rule := nps[0].Spec.Ingress[0]
	if rule.From[0].NamespaceSelector.MatchLabels["role"] != "ingress" || ports(rule.Ports)[0] != 8080 {
		t.Errorf("rule = %+v", rule)
	}
}
