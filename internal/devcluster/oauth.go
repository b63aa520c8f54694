package devcluster

import "net/netip"

// goToSocialOAuthAvailable says whether the operator can obtain a
// GoToSocial admin token. It cannot yet (controllers' oauthToken refuses),
// so the demo's GoToSocial instance runs with federation.sync false and the
// table says why.
const goToSocialOAuthAvailable = false

// loopbackOnly lets the operator fetch the demo's blocklist, served on
// 127.0.0.1: by default subscribed URLs may reach only public addresses.
var loopbackOnly = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
