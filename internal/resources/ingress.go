package resources

import (
	"sort"

	networkingv1 "k8s.io/api/networking/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/fedcommons/fedcommons/api/v1alpha1"
	"github.com/fedcommons/fedcommons/internal/software"
)

// AnnotationNginxBodySize is ingress-nginx's request body limit. Its
// default (1m) would refuse media uploads.
const AnnotationNginxBodySize = "nginx.ingress.kubernetes.io/proxy-body-size"

type route struct {
	path      string
	component software.Component
}

// routes are the path prefixes of the components, longest first, so the
// most specific one is listed (and matched) first.
func routes(p *software.Profile, v software.Version) []route {
	var out []route
	for _, c := range p.Components(v) {
		if c.Port == nil {
			continue
		}
		for _, path := range c.Routes {
			out = append(out, route{path: path, component: c})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return len(out[i].path) > len(out[j].path) })
	return out
}

// Ingress returns the Ingress in front of the server, or nil when it is
// exposed through a Gateway (spec.gateway). Without spec.ingress the
// cluster's default IngressClass is used. TLS uses the issued or the
// sysadmin's certificate; without spec.tls the ingress controller's
// default certificate applies.
func Ingress(inst *v1alpha1.Instance, p *software.Profile, version string, params Params) (*networkingv1.Ingress, error) {
	if inst.Spec.Gateway != nil {
		return nil, nil
	}
	v, err := p.CheckVersion(version, inst.Spec.Image)
	if err != nil {
		return nil, err
	}
	prefix := networkingv1.PathTypePrefix
	var paths []networkingv1.HTTPIngressPath
	for _, r := range routes(p, v) {
		paths = append(paths, networkingv1.HTTPIngressPath{
			Path:     r.path,
			PathType: &prefix,
			Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{
				Name: ComponentName(inst, r.component.Name),
				Port: networkingv1.ServiceBackendPort{Name: r.component.Port.Name},
			}},
		})
	}
	ing := &networkingv1.Ingress{
		TypeMeta:   typeMeta("networking.k8s.io/v1", "Ingress"),
		ObjectMeta: objectMeta(inst, inst.Name, "ingress", params),
		Spec: networkingv1.IngressSpec{
			Rules: []networkingv1.IngressRule{{
				Host:             string(inst.Spec.Domain),
				IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{Paths: paths}},
			}},
		},
	}
	annotations := map[string]string{}
	if p.MaxRequestBody != "" {
		annotations[AnnotationNginxBodySize] = p.MaxRequestBody
	}
	if s := inst.Spec.Ingress; s != nil {
		if s.ClassName != "" {
			ing.Spec.IngressClassName = ptr(s.ClassName)
		}
		// The sysadmin's annotations win over ours.
		for k, val := range s.Annotations {
			annotations[k] = val
		}
	}
	ing.Annotations = annotations
	if inst.Spec.TLS != nil {
		ing.Spec.TLS = []networkingv1.IngressTLS{{Hosts: []string{string(inst.Spec.Domain)}, SecretName: TLSSecretName(inst)}}
	}
	return ing, nil
}

// HTTPRoute returns the Gateway API route to the server when spec.gateway
// is set, nil otherwise. TLS is the Gateway listener's business.
func HTTPRoute(inst *v1alpha1.Instance, p *software.Profile, version string, params Params) (*gatewayv1.HTTPRoute, error) {
	if inst.Spec.Gateway == nil {
		return nil, nil
	}
	v, err := p.CheckVersion(version, inst.Spec.Image)
	if err != nil {
		return nil, err
	}
	var parents []gatewayv1.ParentReference
	for _, ref := range inst.Spec.Gateway.ParentRefs {
		pr := gatewayv1.ParentReference{Name: gatewayv1.ObjectName(ref.Name)}
		if ref.Namespace != "" {
			pr.Namespace = ptr(gatewayv1.Namespace(ref.Namespace))
		}
		if ref.SectionName != "" {
			pr.SectionName = ptr(gatewayv1.SectionName(ref.SectionName))
		}
		parents = append(parents, pr)
	}
	var rules []gatewayv1.HTTPRouteRule
	for _, r := range routes(p, v) {
		rules = append(rules, gatewayv1.HTTPRouteRule{
			Matches: []gatewayv1.HTTPRouteMatch{{Path: &gatewayv1.HTTPPathMatch{
				Type:  ptr(gatewayv1.PathMatchPathPrefix),
				Value: ptr(r.path),
			}}},
			BackendRefs: []gatewayv1.HTTPBackendRef{{BackendRef: gatewayv1.BackendRef{BackendObjectReference: gatewayv1.BackendObjectReference{
				Name: gatewayv1.ObjectName(ComponentName(inst, r.component.Name)),
				Port: ptr(gatewayv1.PortNumber(r.component.Port.Port)),
			}}}},
		})
	}
	return &gatewayv1.HTTPRoute{
		TypeMeta:   typeMeta(gatewayv1.GroupVersion.String(), "HTTPRoute"),
		ObjectMeta: objectMeta(inst, inst.Name, "ingress", params),
		Spec: gatewayv1.HTTPRouteSpec{
			CommonRouteSpec: gatewayv1.CommonRouteSpec{ParentRefs: parents},
			Hostnames:       []gatewayv1.Hostname{gatewayv1.Hostname(inst.Spec.Domain)},
			Rules:           rules,
		},
	}, nil
}
