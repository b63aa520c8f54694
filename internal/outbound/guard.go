package outbound

import (
	"fmt"
	"net/netip"
)

// RefusedError is a call the stack would not make: an address it must not
// connect to, a redirect it must not follow. Its text is ours only (no
// remote bytes), worded for a status condition.
type RefusedError struct {
	// Host is the host name as written in the URL, when known.
	Host string
	// Addr is the refused address, when the refusal is about one.
	Addr netip.Addr
	// Why is a sentence fragment: "a private address", "a redirect to
	// another server (https://b.example:443)".
	Why string
}

func (e *RefusedError) Error() string {
	switch {
	case e.Addr.IsValid() && e.Host != "" && e.Host != e.Addr.String():
		return fmt.Sprintf("refused: %s resolves to %s, %s", e.Host, e.Addr, e.Why)
	case e.Addr.IsValid():
		return fmt.Sprintf("refused: %s is %s", e.Addr, e.Why)
	default:
		return "refused: " + e.Why
	}
}

type addrRange struct {
	prefix netip.Prefix
	what   string
}

func ranges(rs ...string) []addrRange {
	out := make([]addrRange, 0, len(rs)/2)
	for i := 0; i < len(rs); i += 2 {
		out = append(out, addrRange{netip.MustParsePrefix(rs[i]), rs[i+1]})
	}
	return out
}

// never are refused whatever Allow says and for trusted origins too:
// connecting to them means nothing sensible (0.0.0.0 reaches the local host
// on Linux).
var never = ranges(
	"0.0.0.0/32", "the unspecified address",
	"::/128", "the unspecified address",
	"224.0.0.0/4", "a multicast address",
	"ff00::/8", "a multicast address",
	"255.255.255.255/32", "the broadcast address",
)

// linkLocal are refused for trusted origins too: a Service of the cluster
// is never there, the cloud metadata endpoint is.
var linkLocal = ranges(
	"169.254.169.254/32", "the cloud metadata address",
	"169.254.0.0/16", "a link-local address",
	"fd00:ec2::254/128", "the cloud metadata address",
	"fe80::/10", "a link-local address",
)

// special are refused unless Allow covers them. Order matters: the first
// match names the reason, so the specific ranges come before the general.
var special = ranges(
	"0.0.0.0/8", `a "this network" address`,
	"10.0.0.0/8", "a private address",
	"100.64.0.0/10", "a shared (carrier-grade NAT) address",
	"127.0.0.0/8", "a loopback address",
	"169.254.169.254/32", "the cloud metadata address",
	"169.254.0.0/16", "a link-local address",
	"172.16.0.0/12", "a private address",
	"192.0.0.0/24", "an IETF protocol address",
	"192.0.2.0/24", "a documentation address",
	"192.168.0.0/16", "a private address",
	"198.18.0.0/15", "a benchmarking address",
	"198.51.100.0/24", "a documentation address",
	"203.0.113.0/24", "a documentation address",
	"240.0.0.0/4", "a reserved address",
	"::1/128", "a loopback address",
	"::/96", "a deprecated IPv4-compatible address",
	"64:ff9b:1::/48", "a local-use NAT64 address",
	"100::/64", "a discard-only address",
	"2001::/32", "a Teredo tunnel address",
	"2001:db8::/32", "a documentation address",
	"fd00:ec2::254/128", "the cloud metadata address",
	"fc00::/7", "a private (unique local) address",
	"fe80::/10", "a link-local address",
	"fec0::/10", "a site-local address",
)

var (
	nat64  = netip.MustParsePrefix("64:ff9b::/96")
	sixto4 = netip.MustParsePrefix("2002::/16")
)

// guard decides which addresses may be connected to.
type guard struct {
	allow, deny []netip.Prefix
}

// refusal says why a must not be connected to, or "" when it may. trusted
// is an origin the operator built itself (a hosted Instance's Service): it
// may be anywhere in the cluster, so only what no Service can be is
// refused, and the operator's Allow and Deny ranges (which are about
// tenant-named destinations) do not apply.
func (g guard) refusal(a netip.Addr, trusted bool) string {
	a = a.Unmap().WithZone("")
	if !trusted {
		for _, p := range g.deny {
			if p.Contains(a) {
				return "in a range the operator denies (" + p.String() + ")"
			}
		}
	}
	for _, r := range never {
		if r.prefix.Contains(a) {
			return r.what
		}
	}
	// IPv6 forms that carry an IPv4 address reach that address through a
	// translator: judge them by what they carry.
	if nat64.Contains(a) || sixto4.Contains(a) {
		b := a.As16()
		var v4 [4]byte
		if nat64.Contains(a) {
			copy(v4[:], b[12:16])
		} else {
			copy(v4[:], b[2:6])
		}
		inner := netip.AddrFrom4(v4)
		if why := g.refusal(inner, trusted); why != "" {
			return fmt.Sprintf("an IPv6 form of %s, %s", inner, why)
		}
		return ""
	}
	if trusted {
		for _, r := range linkLocal {
			if r.prefix.Contains(a) {
				return r.what
			}
		}
		return ""
	}
	for _, p := range g.allow {
		if p.Contains(a) {
			return ""
		}
	}
	for _, r := range special {
		if r.prefix.Contains(a) {
			return r.what
		}
	}
	return ""
}
