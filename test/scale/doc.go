//go:build scale

// Package scale is the scale benchmark of issue 16 (`make bench-scale`):
// on a local control plane with kwok nodes it rolls out communities of
// hosted Instances under the operator (a subprocess, so its memory and CPU
// are its own), measures what the rollout and the steady state after it
// cost, and compares the rollout with the physical limit: a plain client
// server-side-applying the same child objects at full speed.
//
// It is a benchmark, not a test: it asserts nothing about the figures
// (they depend on the machine) and fails only when the harness itself
// cannot do its work. Everything here is behind the build tag `scale`, so
// `go test ./...` and `make test` never start it.
//
// Each benchmark writes one JSON file per run into the report directory
// (SCALE_REPORT_DIR), with a "benchmark" field naming it. TestScaleReport
// renders report.md and the plots from whatever JSON files are there: a
// benchmark adds its own section by registering a renderer in sections
// (see report_test.go), so several benchmarks share one report.
package scale
