#!/usr/bin/env bash
# Builds a Go tool the tests and the demo need (helm, kwok or stern) from its pinned module in
# scripts/<tool>, into the same cache as the control plane, and prints the binary's path.
# A second run with the same pins reuses the cache.
#
#   scripts/build-tool.sh helm     PODLOGREADER_HELM=/path/to/helm uses an existing binary
#   scripts/build-tool.sh kwok     PODLOGREADER_KWOK=/path/to/kwok uses an existing binary
#   scripts/build-tool.sh stern    PODLOGREADER_STERN=/path/to/stern uses an existing binary
set -euo pipefail
what=${1:-tool}
here=$(cd "$(dirname "$0")" && pwd)
source "$here/build/go.sh"

case "$what" in
  helm) main_module=helm.sh/helm/v3; package=helm.sh/helm/v3/cmd/helm
        stamp="helm.sh/helm/v3/internal/version.version"; override=${PODLOGREADER_HELM:-} ;;
  kwok) main_module=sigs.k8s.io/kwok; package=sigs.k8s.io/kwok/cmd/kwok
        stamp=""; override=${PODLOGREADER_KWOK:-} ;;
  stern) main_module=github.com/stern/stern; package=github.com/stern/stern
         stamp="github.com/stern/stern/cmd.version"; override=${PODLOGREADER_STERN:-} ;;
  *) echo "usage: $0 helm|kwok|stern" >&2; exit 2 ;;
esac

if [[ -n "$override" ]]; then
  [[ -x "$override" ]] || { log "PODLOGREADER_${what^^}=$override is not executable"; exit 1; }
  echo "$override"
  exit 0
fi

module="$here/$what"
need_go
version=$(cd "$module" && go list -m -f '{{.Version}}' "$main_module")
out="$cache_root/$what/$version-$(cache_key "$module/go.mod" "$module/go.sum" "$0")"
ldflags="-s -w"
[[ -n "$stamp" ]] && ldflags+=" -X $stamp=$version"
go_build_into "$out" "$module" -ldflags "$ldflags" -o "{}/$what" "$package"
echo "$out/$what"
