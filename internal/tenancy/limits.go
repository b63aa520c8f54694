package tenancy

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"golang.org/x/net/idna"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
)

// What a community may name is decided by the co-op, not by the community.
// A tenant writes its Instances; the co-op's sysadmin writes the Community
// (cluster-scoped, out of a tenant's reach) and the operator's settings.
// Everything here turns one of those into a refusal of a tenant's
// Instance, before the operator creates anything for it:
//
//   - domains: an Instance's domain and accountDomain must lie under one
//     of its Community's spec.domains. Otherwise a tenant could request a
//     certificate for, route, or shield from shared blocklists any name at
//     all (another community's, or a domain the co-op blocks).
//   - limits: which Ingress annotations a tenant may set (an annotation
//     can inject proxy configuration or point the ingress controller at
//     another namespace's Secret), which ClusterIssuers it may use, and
//     which Gateways in other namespaces it may attach to.

// RefusalReasons are every Refusal.Reason: an Instance Stalled with one of
// them was refused before anything was made for it.
var RefusalReasons = []string{
	v1alpha1.ReasonInvalidDomain, v1alpha1.ReasonDomainNotAllowed, v1alpha1.ReasonCommunityNotFound,
	v1alpha1.ReasonAnnotationNotAllowed, v1alpha1.ReasonIssuerNotAllowed, v1alpha1.ReasonGatewayNotAllowed,
}

// Refusal is why a tenant's Instance is refused: a condition reason and a
// message a sysadmin can act on.
type Refusal struct {
	Reason  string
	Message string
}

func (r *Refusal) Error() string { return r.Reason + ": " + r.Message }

// Limits are the platform administrator's bounds on what tenants may ask
// for, set once for the operator (flags, the chart's tenancy values).
type Limits struct {
	// IngressAnnotations are the annotation keys a tenant's
	// spec.ingress.annotations may set. A key ending in "/*" allows every
	// key with that prefix. Empty allows none.
	IngressAnnotations []string
	// ClusterIssuers are the ClusterIssuers a tenant's spec.tls.issuerRef
	// may name. Empty allows any: a certificate can only be for the
	// Instance's own domain, which CheckDomains already bounds. An Issuer
	// in the Instance's own namespace is always allowed.
	ClusterIssuers []string
	// Gateways ("namespace/name") are the Gateways in other namespaces a
	// tenant's spec.gateway.parentRefs may attach to. A Gateway in the
	// Instance's own namespace is always allowed; empty allows no other.
	Gateways []string
}

// CheckDomains refuses an Instance of community c whose domain or
// accountDomain is not valid IDNA or not under one of the community's
// spec.domains. A nil c (an Instance in a namespace no Community owns,
// which only the co-op's sysadmins can write to) is not bounded by a
// community, but its names must still be valid.
func CheckDomains(c *v1alpha1.Community, inst *v1alpha1.Instance) *Refusal {
	names := []struct{ field, name string }{{"spec.domain", string(inst.Spec.Domain)}}
	if inst.Spec.AccountDomain != "" {
		names = append(names, struct{ field, name string }{"spec.accountDomain", string(inst.Spec.AccountDomain)})
	}
	for _, n := range names {
		if err := ValidDomain(n.name); err != nil {
			return &Refusal{v1alpha1.ReasonInvalidDomain, fmt.Sprintf("%s %s is not a valid domain name: %v", n.field, n.name, err)}
		}
	}
	if c == nil {
		return nil
	}
	if len(c.Spec.Domains) == 0 {
		return &Refusal{v1alpha1.ReasonDomainNotAllowed, fmt.Sprintf(
			"Community %s declares no domains, so its Instances may use none; a co-op sysadmin adds the community's domain suffixes to the Community's spec.domains", c.Name)}
	}
	for _, n := range names {
		if !underAny(n.name, c.Spec.Domains) {
			return &Refusal{v1alpha1.ReasonDomainNotAllowed, fmt.Sprintf(
				"%s %s is not under the domains of Community %s (%s); use one of those, or ask a co-op sysadmin to add the domain to the Community's spec.domains",
				n.field, n.name, c.Name, joinDomains(c.Spec.Domains))}
		}
	}
	return nil
}

// ValidDomain checks a lower-case ASCII domain the way the engine and the
// servers will read it: every xn-- label must decode (IDNA 2008,
// registration rules). The CRD's pattern cannot check punycode.
func ValidDomain(d string) error {
	u, err := idnaProfile.ToUnicode(d)
	if err != nil {
		return err
	}
	a, err := idnaProfile.ToASCII(u)
	if err != nil {
		return err
	}
	if a != d {
		return fmt.Errorf("its canonical form is %s", a)
	}
	return nil
}

var idnaProfile = idna.New(idna.MapForLookup(), idna.BidiRule(), idna.ValidateLabels(true), idna.StrictDomainName(true), idna.Transitional(false))

func underAny(d string, suffixes []v1alpha1.Domain) bool {
	return slices.ContainsFunc(suffixes, func(s v1alpha1.Domain) bool {
		return d == string(s) || strings.HasSuffix(d, "."+string(s))
	})
}

func joinDomains(ds []v1alpha1.Domain) string {
	s := make([]string, len(ds))
	for i, d := range ds {
		s[i] = string(d)
	}
	return strings.Join(s, ", ")
}

// CheckLimits refuses an Instance that asks for an Ingress annotation, a
// ClusterIssuer or a Gateway the platform administrator does not allow.
func (l Limits) CheckLimits(inst *v1alpha1.Instance) *Refusal {
	if ing := inst.Spec.Ingress; ing != nil {
		var refused []string
		for k := range ing.Annotations {
			if !l.annotationAllowed(k) {
				refused = append(refused, k)
			}
		}
		if len(refused) > 0 {
			sort.Strings(refused)
			allowed := "none"
			if len(l.IngressAnnotations) > 0 {
				allowed = strings.Join(l.IngressAnnotations, ", ")
			}
			return &Refusal{v1alpha1.ReasonAnnotationNotAllowed, fmt.Sprintf(
				"spec.ingress.annotations: %s may not be set by a community (the co-op allows: %s); remove it, or ask a co-op sysadmin to allow it in the operator's tenancy settings",
				strings.Join(refused, ", "), allowed)}
		}
	}
	if tls := inst.Spec.TLS; tls != nil && tls.IssuerRef != nil && (tls.IssuerRef.Kind == "" || tls.IssuerRef.Kind == "ClusterIssuer") {
		if len(l.ClusterIssuers) > 0 && !slices.Contains(l.ClusterIssuers, tls.IssuerRef.Name) {
			return &Refusal{v1alpha1.ReasonIssuerNotAllowed, fmt.Sprintf(
				"spec.tls.issuerRef: ClusterIssuer %q is not one a community may use (the co-op allows: %s)",
				tls.IssuerRef.Name, strings.Join(l.ClusterIssuers, ", "))}
		}
	}
	if gw := inst.Spec.Gateway; gw != nil {
		for _, ref := range gw.ParentRefs {
			if ref.Namespace == "" || ref.Namespace == inst.Namespace {
				continue
			}
			if key := ref.Namespace + "/" + ref.Name; !slices.Contains(l.Gateways, key) {
				allowed := "none"
				if len(l.Gateways) > 0 {
					allowed = strings.Join(l.Gateways, ", ")
				}
				return &Refusal{v1alpha1.ReasonGatewayNotAllowed, fmt.Sprintf(
					"spec.gateway.parentRefs: Gateway %s is in another namespace and not one a community may use (the co-op allows: %s)", key, allowed)}
			}
		}
	}
	return nil
}

func (l Limits) annotationAllowed(key string) bool {
	for _, a := range l.IngressAnnotations {
		if prefix, ok := strings.CutSuffix(a, "/*"); ok {
			if strings.HasPrefix(key, prefix+"/") {
				return true
			}
		} else if key == a {
			return true
		}
	}
	return false
}
