#!/usr/bin/env bash
# Prints debs.lock for the candidate versions apt sees now (run apt-get update first).
set -euo pipefail
packages=(base-files ca-certificates gcc-12-base libc6 libgcc-s1 netbase tzdata)
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
sed -n '/^#/p' "$(dirname "$0")/debs.lock"
(cd "$dir" && apt-get download -qq -o APT::Sandbox::User=root "${packages[@]/%/:amd64}" >/dev/null)
for deb in "$dir"/*.deb; do
  printf '%s %s %s %s\n' "$(dpkg-deb -f "$deb" Package)" "$(dpkg-deb -f "$deb" Version)" "$(dpkg-deb -f "$deb" Architecture)" "$(sha256sum "$deb" | cut -d' ' -f1)"
done
