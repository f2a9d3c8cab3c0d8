#!/usr/bin/env bash
# Builds etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kubectl from the pinned Go
# module in scripts/controlplane into a cache outside the work tree, and prints the
# directory holding them. A second run with the same versions reuses the cache.
#
#   PODLOGREADER_CONTROL_PLANE_BIN=/dir   use binaries already in /dir instead of building
#   PODLOGREADER_CACHE=/dir               cache root (default: ${XDG_CACHE_HOME:-~/.cache}/podlogreader)
set -euo pipefail
what=control-plane
here=$(cd "$(dirname "$0")" && pwd)
source "$here/build/go.sh"
module="$here/controlplane"
binaries=(etcd kube-apiserver kube-controller-manager kube-scheduler kubectl)

if [[ -n "${PODLOGREADER_CONTROL_PLANE_BIN:-}" ]]; then
  for b in "${binaries[@]}"; do
    [[ -x "$PODLOGREADER_CONTROL_PLANE_BIN/$b" ]] || { log "PODLOGREADER_CONTROL_PLANE_BIN=$PODLOGREADER_CONTROL_PLANE_BIN has no executable $b"; exit 1; }
  done
  echo "$PODLOGREADER_CONTROL_PLANE_BIN"
  exit 0
fi

need_go
kube_version=$(cd "$module" && go list -m -f '{{.Version}}' k8s.io/kubernetes)
etcd_version=$(cd "$module" && go list -m -f '{{.Version}}' go.etcd.io/etcd/server/v3)
[[ -n "$kube_version" && -n "$etcd_version" ]] || { log "cannot read versions from $module/go.mod"; exit 1; }
out="$cache_root/control-plane/kube-$kube_version-etcd-$etcd_version-$(cache_key "$module/go.mod" "$module/go.sum" "$module/etcd/main.go" "$0")"

minor=${kube_version#v1.}; minor=${minor%%.*}
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X $pkg.gitVersion=$kube_version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
  ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
done
[[ -e "$out/.complete" ]] || log "building Kubernetes $kube_version and etcd $etcd_version (the first time takes several minutes)"
go_build_into "$out" "$module" \
  -ldflags "$ldflags" -o "{}/" k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl -- \
  -ldflags "-s -w" -o "{}/etcd" ./etcd
echo "$out"
