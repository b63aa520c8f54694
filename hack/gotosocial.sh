#!/usr/bin/env bash
# Prints the path of a GoToSocial server binary for the conformance suite
# (test/conformance), with its web/ templates in the same directory.
#
# GOTOSOCIAL_BIN is either the binary itself (a release's `gotosocial`, with
# the release's web/ next to it), a release archive
# (gotosocial_<version>_linux_amd64.tar.gz, or CI's
# gotosocial-<version>-linux-amd64.tgz), or a directory holding one. An archive is
# extracted once into ~/.cache/fedcommons/gotosocial/<version>/ (outside the
# checkout, reused by every later run) and the binary there is printed.
#
# Exit status 2 with one line on stderr when GOTOSOCIAL_BIN is unset or
# points at nothing usable.
set -euo pipefail

src="${GOTOSOCIAL_BIN:-}"
if [ -z "$src" ]; then
  echo "gotosocial.sh: GOTOSOCIAL_BIN is not set (the path to a gotosocial binary or to a release .tgz)" >&2
  exit 2
fi
if [ ! -e "$src" ]; then
  echo "gotosocial.sh: GOTOSOCIAL_BIN=$src does not exist" >&2
  exit 2
fi
# A directory holding one release archive (such as ../shared/tools/gotosocial/).
if [ -d "$src" ]; then
  shopt -s nullglob
  archives=("$src"/gotosocial[-_]*.tgz "$src"/gotosocial[-_]*.tar.gz)
  if [ ${#archives[@]} -ne 1 ]; then
    echo "gotosocial.sh: GOTOSOCIAL_BIN=$src is a directory with ${#archives[@]} gotosocial release archives; name one" >&2
    exit 2
  fi
  src="${archives[0]}"
fi

case "$src" in
  *.tgz | *.tar.gz)
    # gotosocial-0.20.0-rc1-linux-amd64.tgz (CI's copy) or
    # gotosocial_0.20.0_linux_amd64.tar.gz (a release download).
    name="$(basename "$src")"
    version="${name#gotosocial[-_]}"
    version="${version%.tgz}"
    version="${version%.tar.gz}"
    version="${version%[-_]linux[-_]amd64}"
    cache="${XDG_CACHE_HOME:-$HOME/.cache}/fedcommons/gotosocial/$version"
    if [ ! -x "$cache/gotosocial" ] || [ ! -d "$cache/web/template" ]; then
      mkdir -p "$(dirname "$cache")"
      tmp="$(mktemp -d "$(dirname "$cache")/.extract.XXXXXX")"
      trap 'rm -rf "$tmp"' EXIT
      tar -xzf "$src" -C "$tmp"
      if [ ! -x "$tmp/gotosocial" ] || [ ! -d "$tmp/web/template" ]; then
        echo "gotosocial.sh: $src holds no gotosocial binary with web/template next to it" >&2
        exit 2
      fi
      rm -rf "$cache"
      # Atomic: a concurrent run sees either nothing or the whole release.
      mv "$tmp" "$cache" 2>/dev/null || [ -x "$cache/gotosocial" ]
      echo "gotosocial.sh: extracted $name into $cache" >&2
    fi
    echo "$cache/gotosocial"
    ;;
  *)
    if [ ! -x "$src" ]; then
      echo "gotosocial.sh: GOTOSOCIAL_BIN=$src is not executable" >&2
      exit 2
    fi
    echo "$(cd "$(dirname "$src")" && pwd)/$(basename "$src")"
    ;;
esac
