#!/usr/bin/env bash
# Packs the compiled binaries the way kubectl plugins are distributed: a tar.gz (zip for Windows)
# per OS/arch with the binary, LICENSE and README.md; then SHA256SUMS and a krew plugin manifest
# with each archive's sha256. Archives are reproducible: every timestamp is SOURCE_DATE_EPOCH.
# Usage: package.sh BINDIR OUTDIR TARGET...   (env: VERSION, SOURCE_URL, RELEASE_URL, SOURCE_DATE_EPOCH)
set -euo pipefail
bindir=$1 out=$2
shift 2
: "${VERSION:?}" "${SOURCE_URL:?}" "${RELEASE_URL:?}" "${SOURCE_DATE_EPOCH:?}"
top=$(cd "$(dirname "$0")/../.." && pwd)
rm -rf "$out"
mkdir -p "$out"
out=$(realpath "$out")
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT

# bun target -> "os arch variant" as krew and Go name them.
platform() {
  case $1 in
    linux-x64-baseline) echo "linux amd64 -" ;;
    linux-x64-musl) echo "linux amd64 musl" ;;
    linux-arm64) echo "linux arm64 -" ;;
    darwin-x64) echo "darwin amd64 -" ;;
    darwin-arm64) echo "darwin arm64 -" ;;
    windows-x64) echo "windows amd64 -" ;;
    *) echo "package: unknown target $1" >&2; return 1 ;;
  esac
}

krew_platforms=""
for target in "$@"; do
  read -r os arch variant < <(platform "$target")
  name="podlogreader_${VERSION}_${os}_${arch}$([[ $variant == - ]] || echo "_$variant")"
  exe=podlogreader$([[ $os == windows ]] && echo .exe || true)
  dir="$stage/$name"
  mkdir -p "$dir"
  install -m 0755 "$bindir/$target/$exe" "$dir/$exe"
  install -m 0644 "$top/LICENSE" "$top/README.md" "$dir/"
  find "$dir" -exec touch --date="@$SOURCE_DATE_EPOCH" {} +
  if [[ $os == windows ]]; then
    archive=$name.zip
    (cd "$dir" && TZ=UTC zip -q -X -D "$out/$archive" "$exe" LICENSE README.md)
  else
    archive=$name.tar.gz
    tar --sort=name --mtime="@$SOURCE_DATE_EPOCH" --owner=0 --group=0 --numeric-owner -C "$dir" -cf - "$exe" LICENSE README.md | gzip -n >"$out/$archive"
  fi
  sha=$(sha256sum "$out/$archive" | cut -d' ' -f1)
  # krew picks one archive per os/arch: the glibc build for Linux (musl is a download only).
  if [[ $variant == - ]]; then
    krew_platforms+="  - selector:
      matchLabels:
        os: $os
        arch: $arch
    uri: $RELEASE_URL/$archive
    sha256: $sha
    bin: $exe
"
  fi
  echo "Packed $out/$archive"
done

(cd "$out" && sha256sum -- *.tar.gz *.zip >SHA256SUMS)
cat >"$out/podlogreader.yaml" <<MANIFEST
apiVersion: krew.googlecontainertools.github.com/v1alpha2
kind: Plugin
metadata:
  name: podlogreader
spec:
  version: v$VERSION
  homepage: $SOURCE_URL
  shortDescription: Grant a workload's pod logs, and only those
  description: |
    Keeps, per opted-in workload, a Role that grants 'get pods/log' on exactly that workload's
    current pods. As a plugin: 'kubectl podlogreader status', 'audit' and 'kubeconfig'
    (a short-lived kubeconfig that reads one workload's logs and nothing else).
  platforms:
$krew_platforms
MANIFEST
echo "Wrote $out/SHA256SUMS and $out/podlogreader.yaml"
