// Package outbound is the operator's one HTTP stack for everything it
// fetches or calls outside itself: subscribed feeds, servers' admin APIs and
// the OAuth sign-in to them. Every destination of these calls is written by
// a tenant (a source URL, an Instance's apiURL or external.url, a domain
// whose DNS the tenant controls), and the calls are made from inside the
// cluster, from a namespace every community's NetworkPolicy admits. Without
// a guard each of them is a ready-made SSRF into the kube-apiserver, the
// cloud metadata endpoint, the operator's own metrics and every other
// community's services.
//
// What every client of a Stack does, whatever the caller:
//
//   - Address guard at dial time. The host is resolved here and every
//     address checked before one is connected to, by IP, so the address
//     checked is the address used: a name cannot resolve to something
//     harmless when checked and to 10.0.0.5 when dialled (DNS rebinding).
//     The net.Dialer's Control func checks the socket address once more,
//     whatever path led to the dial. Refused: loopback, private, link-local
//     (and the cloud metadata address), shared/CGNAT, multicast,
//     unspecified, reserved and documentation ranges, and the IPv6 forms
//     that carry one of those (IPv4-mapped, NAT64, 6to4, Teredo).
//   - Trusted origins. The operator reaches some servers inside the cluster
//     on purpose: a hosted Instance's own Service. Such an origin (host and
//     port) is trusted only when the caller built it itself and passes it
//     to Client for that server alone; it is never a range a tenant can
//     name. A trusted name is resolved as an absolute name, so the
//     resolver's search path cannot substitute a record someone else
//     controls.
//   - Allow and Deny ranges are the operator's, by flag
//     (--outbound-allow-cidrs, --outbound-deny-cidrs): empty by default.
//   - No proxy unless configured (--outbound-proxy). HTTP_PROXY in the
//     environment is never read: through a proxy the guard would check the
//     proxy's address, and the proxy would connect wherever the URL says.
//   - Redirects: by default only within the origin (scheme, host and port)
//     and never from https to http. Callers that carry no credentials (feed
//     fetches) may follow other public origins, credentials stripped.
//   - Bounds on dial, TLS handshake, response headers (time and size) and
//     the whole exchange. Body size is bounded by the callers, who know
//     what they read.
//   - Reason turns a non-2xx answer into text fit for a status condition:
//     the status and, at most, a short cleaned message from a JSON error
//     document. The remote server controls its body; raw bytes of it are
//     never quoted.
package outbound
