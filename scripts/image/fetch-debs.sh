#!/usr/bin/env bash
# Downloads the .deb files pinned in debs.lock into DIR (kept as a cache) and checks each sha256.
# Usage: fetch-debs.sh DIR
set -euo pipefail
lock="$(dirname "$0")/debs.lock"
dir=$1
mkdir -p "$dir"
while read -r name version arch sha256; do
  [[ -z $name || $name == \#* ]] && continue
  file="$dir/${name}_${version//:/%3a}_${arch}.deb"
  if [[ ! -f $file ]] || ! echo "$sha256  $file" | sha256sum --check --status; then
    rm -f "$file"
    if ! (cd "$dir" && apt-get download -qq -o APT::Sandbox::User=root "$name:$arch=$version" >/dev/null); then
      echo "fetch-debs: $name $version ($arch) is not available from apt; run apt-get update, or move debs.lock to the versions apt has (scripts/image/lock-debs.sh)" >&2
      exit 1
    fi
  fi
  if ! echo "$sha256  $file" | sha256sum --check --status; then
    echo "fetch-debs: $file does not have the sha256 pinned in debs.lock ($sha256)" >&2
    exit 1
  fi
  echo "$file"
done <"$lock"
