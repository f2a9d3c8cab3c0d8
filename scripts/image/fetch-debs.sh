#!/usr/bin/env bash
# Downloads the Debian packages of debs.lock into DIR (kept as a cache), prints the path of each
# .deb, and writes RESOLVED: one line per package with the version that went in.
#
# A Debian mirror serves only the current point release, so a locked version disappears every few
# weeks. IMAGE_LOCK chooses what happens then:
#   drift (default)  take the version apt offers now, say so in one line, and record it in RESOLVED
#   strict           fail with the same line (release builds)
# Integrity is the same either way: every .deb must have the sha256 that apt's signed index gives
# for its version, and a locked version must also have the sha256 in the lock.
#
# Usage: fetch-debs.sh DIR RESOLVED   (env: IMAGE_LOCK, IMAGE_DEBS_LOCK to read another lock;
# APT_CONFIG is apt's own, as everywhere)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
lock=${IMAGE_DEBS_LOCK:-$here/debs.lock}
mode=${IMAGE_LOCK:-drift}
dir=$1 resolved=$2
refresh="apt-get update && scripts/image/lock-debs.sh > scripts/image/debs.lock"
case $mode in drift | strict) ;; *) echo "fetch-debs: IMAGE_LOCK must be drift or strict, not '$mode'" >&2; exit 2 ;; esac
mkdir -p "$dir"

# The SHA256 that apt's index gives for NAME:ARCH=VERSION, or nothing when apt does not offer it.
index_sha256() { { apt-cache show --no-all-versions "$1:$2=$3" 2>/dev/null || true; } | sed -n 's/^SHA256: //p' | head -1; }
# The version apt would install now (its candidate), or nothing.
candidate() { { apt-cache show --no-all-versions "$1:$2" 2>/dev/null || true; } | sed -n 's/^Version: //p' | head -1; }

updated=0
# apt's package lists can be older than the mirror (a download then fails): refresh them once.
update_once() {
  (( updated )) && return 1
  updated=1
  echo "fetch-debs: refreshing apt's package lists (apt-get update)" >&2
  apt-get update -qq >&2 || echo "fetch-debs: apt-get update failed; going on with the lists apt has" >&2
}

# Puts NAME_VERSION_ARCH.deb in $dir with the sha256 EXPECTED, from the cache or from apt.
fetch() {
  local name=$1 version=$2 arch=$3 expected=$4
  local file="$dir/${name}_${version//:/%3a}_${arch}.deb"
  if [[ -f $file ]] && ! echo "$expected  $file" | sha256sum --check --status; then
    echo "fetch-debs: discarding the cached $file: its sha256 is not $expected" >&2
    rm -f "$file"
  fi
  if [[ ! -f $file ]]; then
    (cd "$dir" && apt-get download -qq -o APT::Sandbox::User=root "$name:$arch=$version" >/dev/null) || return 1
  fi
  if ! echo "$expected  $file" | sha256sum --check --status; then
    echo "fetch-debs: $file does not have the sha256 of $name $version ($expected)" >&2
    rm -f "$file"
    exit 1
  fi
  echo "$file"
}

: >"$resolved.tmp"
printf '# What went into the image: package version architecture sha256 locked-version\n' >>"$resolved.tmp"
while read -r name version arch sha256; do
  [[ -z $name || $name == \#* ]] && continue
  for attempt in 1 2; do
    offered=$(index_sha256 "$name" "$arch" "$version")
    if [[ -n $offered ]]; then
      if [[ $offered != "$sha256" ]]; then
        echo "fetch-debs: apt's index gives $name $version ($arch) the sha256 $offered, not the $sha256 in $lock" >&2
        exit 1
      fi
      used=$version used_sha=$sha256
    else
      used=$(candidate "$name" "$arch")
      if [[ -z $used ]]; then
        update_once && continue
        echo "fetch-debs: apt offers no version of $name ($arch)" >&2
        exit 1
      fi
      used_sha=$(index_sha256 "$name" "$arch" "$used")
      line="fetch-debs: $name $version ($arch) is no longer offered by apt, which offers $used"
      if [[ $mode == strict ]]; then
        echo "$line; IMAGE_LOCK=strict refuses it. Refresh the lock: $refresh" >&2
        exit 1
      fi
      echo "$line; using $used. Refresh the lock: $refresh" >&2
    fi
    if fetch "$name" "$used" "$arch" "$used_sha"; then
      echo "$name $used $arch $used_sha $version" >>"$resolved.tmp"
      break
    fi
    if (( attempt == 2 )) || ! update_once; then
      echo "fetch-debs: apt could not download $name $used ($arch)" >&2
      exit 1
    fi
  done
done <"$lock"
mv "$resolved.tmp" "$resolved"
