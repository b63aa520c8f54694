#!/usr/bin/env bash
# Runs every native Go fuzz target in the module for a short budget each
# (`go test -fuzz` takes one target per run). Usage: hack/fuzz.sh [budget]
#
# The budget is an execution count ("20000x") by default, not a duration:
# up to Go 1.26 a duration can end in a spurious "context deadline exceeded"
# failure when it expires while a worker is busy, most often on a loaded
# machine (golang/go#75804, fixed in Go 1.27). A count has no deadline to
# race; a duration still works for a longer session (hack/fuzz.sh 10m).
set -euo pipefail
fuzztime=${1:-20000x}
cd "$(dirname "$0")/.."
log=$(mktemp)
trap 'rm -f "$log"' EXIT
count=0
for pkg in $(go list ./...); do
  dir=$(go list -f '{{.Dir}}' "$pkg")
  grep -lqs '^func Fuzz' "$dir"/*_test.go 2>/dev/null || continue
  for target in $(go test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true); do
    echo "fuzz: $pkg $target ($fuzztime)"
    go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg" >"$log" 2>&1 || {
      cat "$log"; exit 1; }
    count=$((count + 1))
  done
done
echo "fuzz: $count target(s) ran for $fuzztime each without a failure"
