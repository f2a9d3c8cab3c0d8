#!/usr/bin/env bash
# Builds helm from the pinned Go module in scripts/helm into the same cache as the control plane,
# and prints the path of the helm binary. PODLOGREADER_HELM=/path/to/helm uses an existing one.
set -euo pipefail

if [[ -n "${PODLOGREADER_HELM:-}" ]]; then
  [[ -x "$PODLOGREADER_HELM" ]] || { echo "build-helm: PODLOGREADER_HELM=$PODLOGREADER_HELM is not executable" >&2; exit 1; }
  echo "$PODLOGREADER_HELM"
  exit 0
fi

here=$(cd "$(dirname "$0")" && pwd)
module="$here/helm"
command -v go >/dev/null || { echo "build-helm: the Go toolchain is needed to build helm (go not on PATH)" >&2; exit 1; }
version=$(cd "$module" && go list -m -f '{{.Version}}' helm.sh/helm/v3)
sum=$(cat "$module/go.mod" "$module/go.sum" "$0" | sha256sum | cut -c1-12)
cache_root="${PODLOGREADER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/podlogreader}"
out="$cache_root/helm/$version-$sum"
if [[ -x "$out/helm" ]]; then
  echo "$out/helm"
  exit 0
fi

echo "build-helm: building helm $version into $out" >&2
start=$SECONDS
mkdir -p "$cache_root/helm"
tmp=$(mktemp -d "$cache_root/helm/.build.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cd "$module"
CGO_ENABLED=0 GOFLAGS="${GOFLAGS:-} -mod=readonly -trimpath" \
  go build -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$version" -o "$tmp/helm" helm.sh/helm/v3/cmd/helm
rm -rf "$out"
mv "$tmp" "$out"
trap - EXIT
echo "build-helm: built in $((SECONDS - start))s" >&2
echo "$out/helm"
