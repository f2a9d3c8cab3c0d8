#!/usr/bin/env bash
# Builds the OCI image without a Docker daemon: a distroless-equivalent root filesystem from the
# Debian packages of debs.lock, plus BINARY, packed with umoci into an OCI layout and an OCI
# archive. Same inputs, same digest: every timestamp is SOURCE_DATE_EPOCH. OUTDIR/debs.resolved
# and the SBOM say which Debian versions went in (fetch-debs.sh: IMAGE_LOCK=drift|strict).
# Usage: build.sh BINARY OUTDIR   (env: VERSION, REVISION, SOURCE_URL, SOURCE_DATE_EPOCH, BUN)
set -euo pipefail
binary=$1 out=$2
here=$(cd "$(dirname "$0")" && pwd)
: "${VERSION:?}" "${REVISION:?}" "${SOURCE_URL:?}" "${SOURCE_DATE_EPOCH:?}" "${BUN:?}"
created=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ)
layout=$out/oci
rootfs=$out/rootfs
archive=$out/podlogreader-$VERSION.oci.tar

mkdir -p "$out"
"$here/fetch-debs.sh" "$out/debs" "$out/debs.resolved" >"$out/debs.list"
mapfile -t debs <"$out/debs.list"
rm "$out/debs.list"
"$here/rootfs.sh" "$rootfs" "$binary" "${debs[@]}"
sbom_args=(--name podlogreader --version "$VERSION" --revision "$REVISION" --source "$SOURCE_URL" --created "$SOURCE_DATE_EPOCH" --binary "$binary" --bun-target bun-linux-x64-baseline)
for deb in "${debs[@]}"; do sbom_args+=(--deb "$deb"); done
while read -r name version _ _ locked; do
  [[ -z $name || $name == \#* || $version == "$locked" ]] || sbom_args+=(--locked "$name=$locked")
done <"$out/debs.resolved"
mkdir -p "$rootfs/usr/share/podlogreader"
"$BUN" "$here/sbom.ts" "${sbom_args[@]}" >"$rootfs/usr/share/podlogreader/sbom.spdx.json"
cp "$rootfs/usr/share/podlogreader/sbom.spdx.json" "$out/sbom.spdx.json"
find "$rootfs" -exec touch --no-dereference --date="@$SOURCE_DATE_EPOCH" {} +

image_env=()
while IFS= read -r kv; do image_env+=(--config.env "$kv"); done < <("$BUN" "$here/env.ts")
[[ ${#image_env[@]} -gt 0 ]] || { echo "build.sh: scripts/image/env.ts printed no environment" >&2; exit 1; }

rm -rf "$layout"
umoci init --layout "$layout"
umoci new --image "$layout:$VERSION"
umoci config --image "$layout:$VERSION" --no-history --created "$created" --os linux --architecture amd64 \
  --config.user 65532:65532 --config.workingdir / --config.entrypoint /podlogreader \
  --config.env PATH=/usr/local/bin:/usr/bin:/bin --config.env SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
  "${image_env[@]}" \
  --config.label org.opencontainers.image.title=podlogreader \
  --config.label org.opencontainers.image.source="$SOURCE_URL" \
  --config.label org.opencontainers.image.revision="$REVISION" \
  --config.label org.opencontainers.image.version="$VERSION" \
  --config.label org.opencontainers.image.licenses=Apache-2.0 \
  --config.label org.opencontainers.image.created="$created" \
  --config.label dev.podlogreader.sbom=/usr/share/podlogreader/sbom.spdx.json \
  --manifest.annotation org.opencontainers.image.source="$SOURCE_URL" \
  --manifest.annotation org.opencontainers.image.revision="$REVISION" \
  --manifest.annotation org.opencontainers.image.version="$VERSION" \
  --manifest.annotation org.opencontainers.image.licenses=Apache-2.0
umoci insert --image "$layout:$VERSION" --history.created "$created" --history.created_by "scripts/image/build.sh" \
  --history.comment "Debian 12 packages of scripts/image/debs.lock (as in debs.resolved) and /podlogreader" "$rootfs" /
umoci gc --layout "$layout"
find "$layout" -exec touch --no-dereference --date="@$SOURCE_DATE_EPOCH" {} +
tar --sort=name --mtime="@$SOURCE_DATE_EPOCH" --owner=0 --group=0 --numeric-owner -cf "$archive" -C "$layout" .

digest=$("$BUN" -e 'const i = await Bun.file(process.argv[1]).json(); console.log(i.manifests[0].digest)' "$layout/index.json")
echo "$digest" >"$out/digest"
echo "Built $archive (OCI layout $layout, tag $VERSION)"
echo "SBOM $out/sbom.spdx.json"
echo "Image digest: $digest"
