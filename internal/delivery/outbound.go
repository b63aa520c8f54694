package delivery

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/fedcommons/fedcommons/internal/outbound"
	"github.com/fedcommons/fedcommons/internal/resources"
	"github.com/fedcommons/fedcommons/internal/software"
)

// DefaultClusterDomain is the cluster's DNS domain when Options do not say.
const DefaultClusterDomain = "cluster.local"

// ServiceOrigins says at which host:port the operator reaches a Service in
// the cluster. ClusterDNS is the real one; a test that runs servers
// in-process maps a Service to where it listens instead.
type ServiceOrigins func(namespace, name string, port int32) []outbound.Trusted

// ClusterDNS reaches a Service by its cluster DNS names,
// <name>.<namespace>.svc and <name>.<namespace>.svc.<domain>, both looked
// up as the absolute name <name>.<namespace>.svc.<domain>. (."svc" alone
// resolves only through the search path, and a search domain could put
// another namespace's record first: a Service "ns-a" with a pod named
// "social-web" in a namespace named "svc" answers for
// social-web.ns-a.svc.svc.cluster.local.)
func ClusterDNS(domain string) ServiceOrigins {
	domain = strings.Trim(domain, ".")
	if domain == "" {
		domain = DefaultClusterDomain
	}
	return func(namespace, name string, port int32) []outbound.Trusted {
		short := name + "." + namespace + ".svc"
		fqdn := short + "." + domain
		p := ":" + strconv.Itoa(int(port))
		return []outbound.Trusted{{Host: short + p, Resolve: fqdn}, {Host: fqdn + p, Resolve: fqdn}}
	}
}

// trustedFor returns apiURL's origin as a trusted one when the Instance is
// hosted here and apiURL names one of its own Services (as the CRD suggests:
// http://social-web.riverside.svc:8080), and nil otherwise. This is the
// only way an admin API call reaches a private address without the
// operator's --outbound-allow-cidrs: by construction, for the Instance's
// own server, never for a URL that names another namespace's Service or an
// address (an external server is never trusted; its address is the
// tenant's word).
func (s *Syncer) trustedFor(p *pass, apiURL string) []outbound.Trusted {
	inst := p.inst
	if inst.Spec.External != nil || p.profile == nil {
		return nil
	}
	u, err := url.Parse(apiURL)
	if err != nil {
		return nil
	}
	want := outbound.HostPort(u)
	origins := s.Options.ServiceOrigins
	if origins == nil {
		origins = ClusterDNS(s.Options.ClusterDomain)
	}
	version := inst.Status.Version
	if version == "" {
		version = inst.Spec.Version
	}
	v, err := software.ParseVersion(version)
	if err != nil {
		return nil
	}
	for _, c := range p.profile.Components(v) {
		if c.Port == nil {
			continue
		}
		for _, t := range origins(inst.Namespace, resources.ComponentName(inst, c.Name), c.Port.Port) {
			if strings.EqualFold(t.Host, want) {
				return []outbound.Trusted{t}
			}
		}
	}
	return nil
}

// httpClient is the client a driver or a sign-in for one server sends with.
func (s *Syncer) httpClient(trusted []outbound.Trusted) (*http.Client, error) {
	stack := s.Options.Outbound
	if stack == nil {
		stack = outbound.Default()
	}
	hc, err := stack.Client(outbound.SameOrigin, trusted...)
	if err != nil {
		return nil, fmt.Errorf("outbound client: %w", err)
	}
	return hc, nil
}

// refusedHint tells a sysadmin what may be reached, after a refused address.
const refusedHint = "admin APIs are called at public addresses only, or, for a server the co-op hosts, at the Instance's own Service " +
	"(http://<instance>-web.<namespace>.svc:<port>); a platform admin may open the co-op's own private ranges with --outbound-allow-cidrs"
