package controllers_test

import (
	"context"
	"net"
	"net/netip"
	"net/url"
	"sync"

	. "github.com/onsi/gomega"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
	"github.com/fedcommons/fedcommons/internal/delivery"
	"github.com/fedcommons/fedcommons/internal/outbound"
	"github.com/fedcommons/fedcommons/internal/resources"
)

// The suite's stand-in for what a cluster's network would be. The
// operator's outbound stack is the shipped one, with two test-only inputs:
//
//   - harnessAllow opens 127.0.0.1 as a co-op opens its own network with
//     --outbound-allow-cidrs: the fake admin servers of external Instances
//     and the fake feeds listen there. Nothing else on loopback is open;
//     the cross-tenant spec uses 127.0.0.2 for a server that only its own
//     Instance may reach.
//   - inCluster says where a hosted Instance's Service listens (the
//     in-process fake server) instead of cluster DNS; the operator's rule
//     that only the Instance's own Service is trusted is the shipped one.
//   - testNames resolves names the specs make up, then the system's.
var harnessAllow = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}

var inCluster sync.Map // "namespace/service" → []outbound.Trusted

func serviceOrigins(namespace, name string, port int32) []outbound.Trusted {
	if t, ok := inCluster.Load(namespace + "/" + name); ok {
		return t.([]outbound.Trusted)
	}
	return delivery.ClusterDNS("")(namespace, name, port)
}

// listenAsService makes rawURL where the hosted Instance's web Service
// listens, as if cluster DNS answered for it.
func listenAsService(inst *v1alpha1.Instance, rawURL string) {
	u, err := url.Parse(rawURL)
	Expect(err).NotTo(HaveOccurred())
	inCluster.Store(inst.Namespace+"/"+resources.ComponentName(inst, "web"), []outbound.Trusted{{Host: outbound.HostPort(u)}})
}

type names struct{ m sync.Map } // host → []netip.Addr

var testNames = &names{}

func (n *names) set(host string, addrs ...string) {
	var out []netip.Addr
	for _, a := range addrs {
		out = append(out, netip.MustParseAddr(a))
	}
	n.m.Store(host, out)
}

func (n *names) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	if a, ok := n.m.Load(host); ok {
		return a.([]netip.Addr), nil
	}
	return net.DefaultResolver.LookupNetIP(ctx, network, host)
}
