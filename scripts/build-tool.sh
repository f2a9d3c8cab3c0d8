#!/usr/bin/env bash
# Builds a Go tool the tests and the demo need (helm, kwok or stern) from its pinned module in
# scripts/<tool>, into the same cache as the control plane, and prints the binary's path.
# A second run with the same pins reuses the cache.
#
#   scripts/build-tool.sh helm     PODLOGREADER_HELM=/path/to/helm uses an existing binary
#   scripts/build-tool.sh kwok     PODLOGREADER_KWOK=/path/to/kwok uses an existing binary
#   scripts/build-tool.sh stern    PODLOGREADER_STERN=/path/to/stern uses an existing binary
set -euo pipefail

tool=${1:-}
case "$tool" in
  helm) main_module=helm.sh/helm/v3; package=helm.sh/helm/v3/cmd/helm
        stamp="helm.sh/helm/v3/internal/version.version"; override=${PODLOGREADER_HELM:-} ;;
  kwok) main_module=sigs.k8s.io/kwok; package=sigs.k8s.io/kwok/cmd/kwok
        stamp=""; override=${PODLOGREADER_KWOK:-} ;;
  stern) main_module=github.com/stern/stern; package=github.com/stern/stern
         stamp="github.com/stern/stern/cmd.version"; override=${PODLOGREADER_STERN:-} ;;
  *) echo "usage: $0 helm|kwok|stern" >&2; exit 2 ;;
esac
log() { echo "build-$tool: $*" >&2; }

if [[ -n "$override" ]]; then
  [[ -x "$override" ]] || { log "PODLOGREADER_${tool^^}=$override is not executable"; exit 1; }
  echo "$override"
  exit 0
fi

here=$(cd "$(dirname "$0")" && pwd)
module="$here/$tool"
command -v go >/dev/null || { log "the Go toolchain is needed to build $tool (go not on PATH)"; exit 1; }
version=$(cd "$module" && go list -m -f '{{.Version}}' "$main_module")
sum=$(cat "$module/go.mod" "$module/go.sum" "$0" | sha256sum | cut -c1-12)
cache_root="${PODLOGREADER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/podlogreader}"
out="$cache_root/$tool/$version-$sum"
if [[ -x "$out/$tool" ]]; then
  echo "$out/$tool"
  exit 0
fi

log "building $tool $version into $out"
start=$SECONDS
mkdir -p "$cache_root/$tool"
tmp=$(mktemp -d "$cache_root/$tool/.build.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
ldflags="-s -w"
[[ -n "$stamp" ]] && ldflags+=" -X $stamp=$version"
cd "$module"
CGO_ENABLED=0 GOFLAGS="${GOFLAGS:-} -mod=readonly -trimpath" go build -ldflags "$ldflags" -o "$tmp/$tool" "$package"
rm -rf "$out"
mv "$tmp" "$out"
trap - EXIT
log "built in $((SECONDS - start))s"
echo "$out/$tool"
