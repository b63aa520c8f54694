#!/usr/bin/env bash
# Runs every native Go fuzz target in the module for a short time each
# (`go test -fuzz` takes one target per run). Usage: hack/fuzz.sh [duration]
set -euo pipefail
fuzztime=${1:-4s}
cd "$(dirname "$0")/.."
count=0
for pkg in $(go list ./...); do
  dir=$(go list -f '{{.Dir}}' "$pkg")
  grep -lqs '^func Fuzz' "$dir"/*_test.go 2>/dev/null || continue
  for target in $(go test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true); do
    echo "fuzz: $pkg $target ($fuzztime)"
    go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg" >/tmp/fedcommons-fuzz.log 2>&1 || {
      cat /tmp/fedcommons-fuzz.log; exit 1; }
    count=$((count + 1))
  done
done
echo "fuzz: $count target(s) ran for $fuzztime each without a failure"
