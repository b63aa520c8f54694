package resources

import (
	"fmt"
	"strings"

	"github.com/fedcommons/fedcommons/api/v1alpha1"
	"github.com/fedcommons/fedcommons/internal/software"
)

// AdminEndpoint is where and how the operator reaches an Instance's admin
// API.
type AdminEndpoint struct {
	// URL is the base URL: scheme://host[:port][/path], no trailing slash.
	URL string
	// Host, when set, is the Host header every request to URL carries, and
	// Forwarded the X-Forwarded-Proto it carries: set for the in-cluster
	// Service, so a request looks to the server exactly like one its
	// ingress forwards (servers route, sign and check requests by the name
	// they are configured with, and Mastodon redirects anything it believes
	// arrived over plain HTTP to https://).
	Host string
	// InCluster is true when URL is the hosted Instance's own Service.
	InCluster bool
}

// AdminURL is the base URL of an Instance's admin API: see
// AdminEndpointOf. It is the one place this address is decided; anything
// that must recognise it (an outbound address guard allowing exactly this
// origin) calls it rather than rebuilding it.
func AdminURL(inst *v1alpha1.Instance) (string, error) {
	ep, err := AdminEndpointOf(inst)
	return ep.URL, err
}

// AdminEndpointOf chooses where the admin API is reached, in this order:
//   - spec.federation.apiURL, when the sysadmin set it;
//   - an external server's spec.external.url;
//   - for a hosted Instance, its own Service inside the cluster,
//     http://<instance>-<component>.<namespace>.svc:<port>: it answers as
//     soon as the pods are ready, before (and whether or not) public DNS
//     and the certificate are in place, and the NetworkPolicy admits the
//     operator's namespace to exactly that port. The servers answer their
//     API over plain HTTP there, as they do behind the ingress
//     (GoToSocial with GTS_PROTOCOL=https included);
//   - https://<domain>, only for a hosted Instance whose software profile
//     names no admin API component (none does today).
func AdminEndpointOf(inst *v1alpha1.Instance) (AdminEndpoint, error) {
	if f := inst.Spec.Federation; f != nil && f.APIURL != "" {
		return AdminEndpoint{URL: strings.TrimSuffix(f.APIURL, "/")}, nil
	}
	if inst.Spec.External != nil {
		return AdminEndpoint{URL: strings.TrimSuffix(inst.Spec.External.URL, "/")}, nil
	}
	p, err := software.Lookup(inst.Spec.Software)
	if err != nil {
		return AdminEndpoint{}, err
	}
	c, ok := AdminComponent(p)
	if !ok {
		return AdminEndpoint{URL: "https://" + string(inst.Spec.Domain)}, nil
	}
	return AdminEndpoint{
		URL:       fmt.Sprintf("http://%s.%s.svc:%d", ComponentName(inst, c.Name), inst.Namespace, c.Port.Port),
		Host:      string(inst.Spec.Domain),
		InCluster: true,
	}, nil
}

// AdminComponent is the component of a profile that serves the admin API
// on a port. Which component that is does not change between the series a
// profile supports (a test holds every profile to it), so no version is
// needed to find it.
func AdminComponent(p *software.Profile) (software.Component, bool) {
	for _, c := range p.Components(software.Version{}) {
		if c.AdminAPI && c.Port != nil {
			return c, true
		}
	}
	return software.Component{}, false
}
