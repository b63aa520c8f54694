#!/usr/bin/env bash
# Regenerates deepcopy, CRDs and RBAC in a scratch copy of the tree and
# fails if the committed files differ: generated files are committed so
# that `kubectl apply -k config/` and the chart work from a clone, and
# they must never drift from the Go markers.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
cd "$root"
{ git ls-files; git ls-files --others --exclude-standard; } | sort -u | while read -r f; do
  [ -e "$f" ] && mkdir -p "$scratch/$(dirname "$f")" && cp -p "$f" "$scratch/$f"
done
(cd "$scratch" && make -s generate manifests >/dev/null)
status=0
for d in api config/crd config/rbac charts/fedcommons/templates; do
  if ! diff -ruN "$root/$d" "$scratch/$d" >"$scratch/diff.txt"; then
    echo "Generated files under $d are out of date; run 'make generate manifests' and commit:"
    head -n 40 "$scratch/diff.txt"
    status=1
  fi
done
[ $status -eq 0 ] && echo "Generated files are up to date."
exit $status
