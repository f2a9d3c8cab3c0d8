#!/usr/bin/env bash
# Builds etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kubectl from the pinned Go
# module in scripts/controlplane into a cache outside the work tree, and prints the
# directory holding them. A second run with the same versions reuses the cache.
#
#   PODLOGREADER_CONTROL_PLANE_BIN=/dir   use binaries already in /dir instead of building
#   PODLOGREADER_CACHE=/dir               cache root (default: ${XDG_CACHE_HOME:-~/.cache}/podlogreader)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
module="$here/controlplane"
binaries=(etcd kube-apiserver kube-controller-manager kube-scheduler kubectl)

log() { echo "build-control-plane: $*" >&2; }

if [[ -n "${PODLOGREADER_CONTROL_PLANE_BIN:-}" ]]; then
  for b in "${binaries[@]}"; do
    if [[ ! -x "$PODLOGREADER_CONTROL_PLANE_BIN/$b" ]]; then
      log "PODLOGREADER_CONTROL_PLANE_BIN=$PODLOGREADER_CONTROL_PLANE_BIN has no executable $b"
      exit 1
    fi
  done
  echo "$PODLOGREADER_CONTROL_PLANE_BIN"
  exit 0
fi

command -v go >/dev/null || { log "the Go toolchain is needed to build the control plane (go not on PATH)"; exit 1; }
kube_version=$(cd "$module" && go list -m -f '{{.Version}}' k8s.io/kubernetes)
etcd_version=$(cd "$module" && go list -m -f '{{.Version}}' go.etcd.io/etcd/server/v3)
[[ -n "$kube_version" && -n "$etcd_version" ]] || { log "cannot read versions from $module/go.mod"; exit 1; }
# The key also covers go.sum, so any change to the pinned dependencies rebuilds.
sum=$(cat "$module/go.mod" "$module/go.sum" "$module/etcd/main.go" "$0" | sha256sum | cut -c1-12)
cache_root="${PODLOGREADER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/podlogreader}"
out="$cache_root/control-plane/kube-$kube_version-etcd-$etcd_version-$sum"

complete=1
for b in "${binaries[@]}"; do [[ -x "$out/$b" ]] || complete=0; done
if (( complete )); then
  echo "$out"
  exit 0
fi

log "building Kubernetes $kube_version and etcd $etcd_version into $out (first time takes several minutes)"
start=$SECONDS
mkdir -p "$cache_root/control-plane"
tmp=$(mktemp -d "$cache_root/control-plane/.build.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

minor=${kube_version#v1.}; minor=${minor%%.*}
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X $pkg.gitVersion=$kube_version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
  ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
done

cd "$module"
export CGO_ENABLED=0 GOFLAGS="${GOFLAGS:-} -mod=readonly -trimpath"
go build -ldflags "$ldflags" -o "$tmp/" \
  k8s.io/kubernetes/cmd/kube-apiserver \
  k8s.io/kubernetes/cmd/kube-controller-manager \
  k8s.io/kubernetes/cmd/kube-scheduler \
  k8s.io/kubernetes/cmd/kubectl
go build -ldflags "-s -w" -o "$tmp/etcd" ./etcd

rm -rf "$out"
mv "$tmp" "$out"
trap - EXIT
log "built in $((SECONDS - start))s"
echo "$out"
