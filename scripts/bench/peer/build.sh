#!/usr/bin/env bash
# Builds the controller-runtime peer of the benchmark (scripts/bench/peer) into the same cache as
# the control plane and prints the binary's path. A second run with the same sources reuses it.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
log() { echo "build-peer: $*" >&2; }
command -v go >/dev/null || { log "the Go toolchain is needed to build the peer (go not on PATH)"; exit 1; }
sum=$(cat "$here"/go.mod "$here"/go.sum "$here"/*.go "$0" | sha256sum | cut -c1-12)
cache_root="${PODLOGREADER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/podlogreader}"
out="$cache_root/peer/$sum"
if [[ -x "$out/peer" ]]; then
  echo "$out/peer"
  exit 0
fi
log "building into $out"
start=$SECONDS
mkdir -p "$cache_root/peer"
tmp=$(mktemp -d "$cache_root/peer/.build.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cd "$here"
CGO_ENABLED=0 GOFLAGS="${GOFLAGS:-} -mod=readonly -trimpath" go build -ldflags "-s -w" -o "$tmp/peer" .
rm -rf "$out"
mv "$tmp" "$out"
trap - EXIT
log "built in $((SECONDS - start))s"
echo "$out/peer"
