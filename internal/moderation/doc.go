// Package moderation is the shared-moderation engine: it parses published
// blocklists, normalises domains, merges a community's own decisions with
// its subscriptions by explicit trust and consensus, remembers why every
// effective entry exists (provenance), and computes the minimal changes
// that bring a server in line with the effective policy.
//
// It imports nothing from Kubernetes and nothing that speaks HTTP: the
// controllers feed it plain values and the drivers carry out its plans, so
// each side is tested on its own.
package moderation
