#!/usr/bin/env bash
# Builds the Kubernetes control-plane binaries this project needs from Go
# modules, because release tarballs cannot be downloaded on the machines we
# build on (only the Go module proxy and Debian's packages are reachable).
#
# Usage: hack/k8s-assets.sh [binary ...]
#   binaries: kube-apiserver etcd kube-controller-manager kube-scheduler kubectl kwok
#   (default: kube-apiserver etcd — what envtest needs)
#
# Prints the directory holding the binaries on stdout (progress goes to
# stderr), so callers can do KUBEBUILDER_ASSETS=$(hack/k8s-assets.sh).
#
# - KUBEBUILDER_ASSETS, when set and holding the requested binaries, is
#   honoured and nothing is built.
# - Binaries are cached outside the checkout, keyed by version:
#   ${FEDCOMMONS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/fedcommons}/k8s/<version>
#   Only missing binaries are built; a fresh clone reuses the cache.
set -euo pipefail

# Versions are pinned here and kept in step with go.mod (k8s.io/api v0.X.Y
# pairs with Kubernetes v1.X.Y); `make verify-versions` checks the pairing.
K8S_VERSION=${K8S_VERSION:-v1.37.0}
ETCD_VERSION=${ETCD_VERSION:-v3.6.5}
KWOK_VERSION=${KWOK_VERSION:-v0.8.0}
STAGING_VERSION="v0.${K8S_VERSION#v1.}"

want=("$@")
[ ${#want[@]} -gt 0 ] || want=(kube-apiserver etcd)

log() { printf '[k8s-assets] %s\n' "$*" >&2; }

have_all() {
  local dir=$1 b
  for b in "${want[@]}"; do [ -x "$dir/$b" ] || return 1; done
}

if [ -n "${KUBEBUILDER_ASSETS:-}" ] && have_all "$KUBEBUILDER_ASSETS"; then
  echo "$KUBEBUILDER_ASSETS"
  exit 0
fi

cache_root=${FEDCOMMONS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/fedcommons}
out="$cache_root/k8s/$K8S_VERSION"
mkdir -p "$out"
# Stage files written by an earlier version of this script lacked document
# separators; rebuild them (cheap) when that is what the cache holds.
if [ -x "$out/kwok" ] && ! grep -q '^---' "$out/kwok-stages/pod-fast.yaml" 2>/dev/null; then
  rm -f "$out/kwok"
fi

if have_all "$out"; then
  echo "$out"
  exit 0
fi

work="$cache_root/build"
mkdir -p "$work"
# Keep the build modules out of any surrounding module or workspace.
export GOWORK=off GOFLAGS="${GOFLAGS:-} -mod=mod"

# kubernetes' own go.mod replaces each staging module with a local path, so
# `go install k8s.io/kubernetes/cmd/...@version` refuses. A throw-away module
# that requires k8s.io/kubernetes and points each staging module at its
# published version builds fine.
kube_module() {
  local dir="$work/kubernetes-$K8S_VERSION"
  if [ ! -f "$dir/.ready" ]; then
    log "preparing a build module for k8s.io/kubernetes $K8S_VERSION (first time: downloads for a few minutes)"
    rm -rf "$dir"; mkdir -p "$dir"
    local gomod
    gomod=$(cd "$dir" && go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
    {
      echo "module fedcommons.local/k8sbuild"
      echo
      echo "go $(sed -n 's/^go //p' "$gomod")"
      echo
      echo "require k8s.io/kubernetes $K8S_VERSION"
      echo
      sed -n 's#^[[:space:]]*\(k8s.io/[^ ]*\) => ./staging/.*#replace \1 => \1 '"$STAGING_VERSION"'#p' "$gomod"
    } >"$dir/go.mod"
    printf 'package main\n\nimport (\n\t_ "k8s.io/kubernetes/cmd/kube-apiserver/app"\n)\n\nfunc main() {}\n' >"$dir/deps.go"
    (cd "$dir" && go mod tidy >&2)
    rm "$dir/deps.go"
    touch "$dir/.ready"
  fi
  echo "$dir"
}

build_kube() { # binary, package
  local dir; dir=$(kube_module)
  log "building $1 $K8S_VERSION (first build takes minutes; later ones use the Go build cache)"
  (cd "$dir" && go get "$2@$K8S_VERSION" >&2 2>/dev/null || true; cd "$dir" && go build -trimpath -ldflags="-s -w" -o "$out/$1.tmp" "$2")
  mv "$out/$1.tmp" "$out/$1"
}

build_etcd() {
  local dir="$work/etcd-$ETCD_VERSION"
  log "building etcd $ETCD_VERSION"
  mkdir -p "$dir"
  cat >"$dir/main.go" <<'GO'
// Command etcd is etcd's own main, built from its Go module.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
GO
  if [ ! -f "$dir/go.mod" ]; then
    (cd "$dir" && go mod init fedcommons.local/etcdbuild >&2 2>&1 && go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION" >&2 && go mod tidy >&2)
  fi
  (cd "$dir" && go build -trimpath -ldflags="-s -w" -o "$out/etcd.tmp" .)
  mv "$out/etcd.tmp" "$out/etcd"
}

build_kwok() {
  log "building kwok $KWOK_VERSION"
  GOBIN="$out" go install "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"
  # kwok needs Stage objects to move nodes and pods along; they ship in its module.
  local src
  src=$(cd "$work" && go mod download -json "sigs.k8s.io/kwok@$KWOK_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
  mkdir -p "$out/kwok-stages"
  local s
  # One multi-document file per stage folder: every stage YAML, each
  # introduced by "---" (kwok reads one object per document), and not the
  # folder's kustomization.yaml.
  for s in node/fast node/heartbeat pod/fast; do
    local dest f
    dest="$out/kwok-stages/$(echo "$s" | tr / -).yaml"
    for f in "$src/kustomize/stage/$s"/*.yaml; do
      [ "$(basename "$f")" = kustomization.yaml ] && continue
      printf -- '---\n'
      cat "$f"
    done >"$dest.tmp"
    mv "$dest.tmp" "$dest"
  done
}

for b in "${want[@]}"; do
  [ -x "$out/$b" ] && continue
  case "$b" in
    kube-apiserver) build_kube kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver ;;
    kube-controller-manager) build_kube kube-controller-manager k8s.io/kubernetes/cmd/kube-controller-manager ;;
    kube-scheduler) build_kube kube-scheduler k8s.io/kubernetes/cmd/kube-scheduler ;;
    kubectl) build_kube kubectl k8s.io/kubernetes/cmd/kubectl ;;
    etcd) build_etcd ;;
    kwok) build_kwok ;;
    *) log "unknown binary: $b"; exit 2 ;;
  esac
done
log "binaries ready in $out"
echo "$out"
