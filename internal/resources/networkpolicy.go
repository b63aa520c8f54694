package resources

import (
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/fedcommons/fedcommons/api/v1alpha1"
	"github.com/fedcommons/fedcommons/internal/software"
)

// DefaultIngressNamespaceSelector selects ingress-nginx's namespace.
var DefaultIngressNamespaceSelector = metav1.LabelSelector{MatchLabels: map[string]string{corev1.LabelMetadataName: "ingress-nginx"}}

// NetworkPolicies admit into the Instance's pods only what it needs:
//   - the ingress controller (or gateway) to the ports it routes to;
//   - the operator's namespace to the admin API port, for moderation;
//   - the Instance's own pods (application, Jobs) to its bundled
//     PostgreSQL and Redis, and nothing else to them.
//
// Egress stays open: federation talks to any server on the internet.
// NetworkPolicies add up: the community's namespace policies still apply.
func NetworkPolicies(inst *v1alpha1.Instance, p *software.Profile, version string, params Params) ([]*networkingv1.NetworkPolicy, error) {
	v, err := p.CheckVersion(version, inst.Spec.Image)
	if err != nil {
		return nil, err
	}
	ingressNS := DefaultIngressNamespaceSelector.DeepCopy()
	if params.IngressNamespaceSelector != nil {
		ingressNS = params.IngressNamespaceSelector.DeepCopy()
	}

	var names []string
	var routed, admin []networkingv1.NetworkPolicyPort
	for _, c := range p.Components(v) {
		names = append(names, c.Name)
		if c.Port == nil {
			continue
		}
		port := networkingv1.NetworkPolicyPort{Protocol: ptr(corev1.ProtocolTCP), Port: ptr(intstr.FromInt32(c.Port.Port))}
		if len(c.Routes) > 0 {
			routed = append(routed, port)
		}
		if c.AdminAPI {
			admin = append(admin, port)
		}
	}

	var rules []networkingv1.NetworkPolicyIngressRule
	if len(routed) > 0 {
		rules = append(rules, networkingv1.NetworkPolicyIngressRule{
			From:  []networkingv1.NetworkPolicyPeer{{NamespaceSelector: ingressNS}},
			Ports: routed,
		})
	}
	if len(admin) > 0 && params.OperatorNamespace != "" {
		rules = append(rules, networkingv1.NetworkPolicyIngressRule{
			From: []networkingv1.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{
				MatchLabels: map[string]string{corev1.LabelMetadataName: params.OperatorNamespace},
			}}},
			Ports: admin,
		})
	}
	app := &networkingv1.NetworkPolicy{
		TypeMeta:   typeMeta("networking.k8s.io/v1", "NetworkPolicy"),
		ObjectMeta: objectMeta(inst, inst.Name, "network", params),
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{
				MatchLabels: map[string]string{v1alpha1.LabelInstance: inst.Name},
				MatchExpressions: []metav1.LabelSelectorRequirement{{
					Key: v1alpha1.LabelComponent, Operator: metav1.LabelSelectorOpIn, Values: names,
				}},
			},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress},
			Ingress:     rules,
		},
	}
	out := []*networkingv1.NetworkPolicy{app}

	for _, backend := range []struct {
		on        bool
		name      string
		component string
		port      int32
	}{
		{BundledPostgres(inst, p), PostgresName(inst), "postgres", postgresPort},
		{BundledRedis(inst, p), RedisName(inst), "redis", redisPort},
	} {
		if !backend.on {
			continue
		}
		out = append(out, &networkingv1.NetworkPolicy{
			TypeMeta:   typeMeta("networking.k8s.io/v1", "NetworkPolicy"),
			ObjectMeta: objectMeta(inst, backend.name, backend.component, params),
			Spec: networkingv1.NetworkPolicySpec{
				PodSelector: metav1.LabelSelector{MatchLabels: SelectorLabels(inst, backend.component)},
				PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress},
				Ingress: []networkingv1.NetworkPolicyIngressRule{{
					// Pods of this Instance only (in its namespace: a bare podSelector).
					From:  []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{v1alpha1.LabelInstance: inst.Name}}}},
					Ports: []networkingv1.NetworkPolicyPort{{Protocol: ptr(corev1.ProtocolTCP), Port: ptr(intstr.FromInt32(backend.port))}},
				}},
			},
		})
	}
	return out, nil
}
