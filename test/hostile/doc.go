// Package hostile serves every feed of the hostile catalogue
// (internal/feeds/hostile) over real HTTP to the real operator
// (internal/manager, every reconciler) on a real API server (envtest):
// each feed is subscribed to by a FederationPolicy of community "victim",
// whose policies each select one server of its own (a fake Mastodon admin
// API, internal/moderation/drivers/fakeserver, run in a child process so
// that it does not count in the operator's heap), while community
// "bystander" keeps changing its own policy. The suite checks, for every feed, the condition a sysadmin reads,
// what reached the victim's server (nothing, for a refused feed), the
// process's peak heap, and that the bystander's changes kept reaching its
// server while the feeds were processed (issue 12, "Done when").
//
// There is no non-test code here: `go test ./test/hostile/` runs it, and
// `make test` runs it with everything else.
package hostile
