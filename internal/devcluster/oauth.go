package devcluster

import "net/netip"

// goToSocialOAuthAvailable says whether the operator can obtain a
// GoToSocial admin token (by OAuth, signing in with the generated admin
// password). It can; set it to false to run the demo's GoToSocial instance
// with federation.sync false should that ever regress.
const goToSocialOAuthAvailable = true

// loopbackOnly lets the operator fetch the demo's blocklist, served on
// 127.0.0.1: by default subscribed URLs may reach only public addresses.
var loopbackOnly = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
