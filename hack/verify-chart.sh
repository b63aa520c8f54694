#!/usr/bin/env bash
# Fails if the chart's generated files (CRDs, manager ClusterRole rules,
# community roles, admission policy) differ from what hack/sync-chart.sh makes of config/.
# The sync runs in a scratch copy, so the checkout is never modified.
# (hack/verify-generated.sh covers the step before: markers -> config/.)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
cd "$root"
mkdir -p "$scratch/hack" "$scratch/config" "$scratch/charts/fedcommons"
cp -p hack/sync-chart.sh "$scratch/hack/"
cp -Rp config/crd config/rbac config/admission "$scratch/config/"
cp -Rp charts/fedcommons/templates "$scratch/charts/fedcommons/"
"$scratch/hack/sync-chart.sh"
if ! diff -ruN charts/fedcommons/templates "$scratch/charts/fedcommons/templates" >"$scratch/diff.txt"; then
  echo "The chart's generated files are out of date with config/; run 'make manifests' (or hack/sync-chart.sh) and commit:"
  head -n 40 "$scratch/diff.txt"
  exit 1
fi
echo "The chart is in sync with config/."
