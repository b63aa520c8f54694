// Package moderation is the shared-moderation engine: it parses published
// blocklists, normalises domains, merges a community's own decisions with
// its subscriptions by explicit trust and consensus, remembers why every
// effective entry exists (provenance), and computes the minimal changes
// that bring a server in line with the effective policy.
//
// It imports nothing from Kubernetes and nothing that speaks HTTP: the
// controllers feed it plain values and the drivers carry out its plans, so
// each side is tested on its own.
//
// Where things are, for a merge (read in this order):
//
//   - policy.go: what a merge takes (MergeInput) and gives (Policy, with
//     provenance on every entry), and the policy's hash;
//   - merge.go: Merge itself, its rules, input checks and preparation;
//   - kway.go: the k-way walk over sorted sources, cut into parts that run
//     on every core, with the arenas that hold provenance;
//   - decide.go: what one domain's entries decide;
//   - verdict.go: how actions and flags combine under max and min;
//   - protect.go: the names no block may cover (instances, exceptions,
//     parents of local allows);
//   - render.go: every text a person reads about a decision (decision,
//     summary, explanation);
//   - explain.go: why any domain is or is not blocked.
//
// And for parsing: parse.go (formats, caps, the builder every format
// shares), parse_seen.go (the builder's index of domains, for
// duplicates), parse_csv.go (CSV columns and the caps scan, csvShape),
// csv_read.go (CSV records, read as encoding/csv reads them),
// csv_scan.go and parse_seekable.go (the same records read in chunks
// without a copy a row, for a local file, with the stream path as the
// fallback that gives every error),
// normalize.go and normalize_idna.go (domain names), sort_domains.go
// (the radix sort of a list by domain, for ParseOptions.SortByDomain and
// Merge's unsorted sources).
package moderation
