// Package feeds moves blocklists across the network, in both directions,
// and decides when what came in may be trusted.
//
// Three parts, each usable alone:
//
//   - Fetcher reads a subscribed source URL with hard bounds on size, time,
//     redirects, schemes and — most importantly — the addresses it will
//     connect to. A FederationPolicy is written by a community moderator,
//     not by the cluster's sysadmins, so a source URL is untrusted input
//     that the operator fetches from inside the cluster: without the
//     address guard it would be a ready-made SSRF into the kube-apiserver,
//     cloud metadata endpoints and every other community's services. The
//     guard is the operator's one outbound stack (internal/outbound), the
//     same as for admin APIs: it runs at dial time on the address actually
//     connected to, so a name that resolves to a public address when
//     checked and to 10.0.0.5 when dialled (DNS rebinding) still cannot get
//     through, and it never takes a proxy from the environment.
//
//   - Tracker keeps, per source, the last good copy and decides whether a
//     new fetch applies. Subscribed lists fail in ways that look like
//     retractions: an outage, an empty file during a deploy, a truncated
//     export. A failed fetch therefore never changes anything, a fetch that
//     shrinks a source too much is held, and a domain that disappears is
//     removed only after several clean fetches in a row confirm it. The
//     state is plain data, serialisable as JSON, so the operator can keep it
//     across restarts.
//
//   - Server publishes each community's effective policy as feeds that
//     Mastodon, GoToSocial and FediBlockHole understand (CSV, JSON, plain
//     text) and as a human-readable transparency page, with strong ETags;
//     for a reviewed policy, the page also shows its decided changes
//     (SetHistory).
//     Who may read what is decided by which listener a request arrived on
//     (see Audience), never by anything the request says about itself.
//
// FetchSource glues the first two to the engine's parsers, and
// Subscriptions holds one policy's url sources from pass to pass: the
// Tracker, which list each source was fetched from, when each is due, and
// a bounded saved form to outlive a restart. Nothing here
// imports Kubernetes types: the controllers translate.
package feeds
