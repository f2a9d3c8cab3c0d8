#!/usr/bin/env bash
# Assembles a distroless-equivalent root filesystem (as gcr.io/distroless/base-nossl-debian12:
# glibc, CA certificates, time zones, /etc/passwd with nonroot 65532) plus the binary.
# Usage: rootfs.sh ROOTFS BINARY DEB...
set -euo pipefail
root=$1 binary=$2
shift 2
rm -rf "$root"
mkdir -p "$root"
mkdir -p "$root/var/lib/dpkg/status.d"
for deb in "$@"; do
  dpkg-deb -x "$deb" "$root"
  name=$(dpkg-deb -f "$deb" Package)
  # What scanners (trivy, grype, syft) read in distroless images to know the packages.
  { dpkg-deb -f "$deb" Package Version Architecture Source Maintainer Description | sed '1a Status: install ok installed'; } >"$root/var/lib/dpkg/status.d/$name"
done

# Maintainer scripts never run; keep the licences and drop what a container never reads.
find "$root/usr/share/doc" -mindepth 2 ! -name copyright ! -type d -delete
find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete
rm -rf "$root"/usr/share/{man,info,lintian,base-files} "$root"/etc/update-motd.d "$root"/etc/profile.d "$root"/etc/skel

# What update-ca-certificates would write: every certificate of the Mozilla bundle, in order.
mkdir -p "$root/etc/ssl/certs"
find "$root/usr/share/ca-certificates" -name '*.crt' | LC_ALL=C sort | xargs cat >"$root/etc/ssl/certs/ca-certificates.crt"

cat >"$root/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin
nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin
PASSWD
cat >"$root/etc/group" <<'GROUP'
root:x:0:
nobody:x:65534:
tty:x:5:
staff:x:50:
nonroot:x:65532:
GROUP
printf 'hosts: files dns\n' >"$root/etc/nsswitch.conf"
ln -sfn /usr/share/zoneinfo/Etc/UTC "$root/etc/localtime"
printf 'Etc/UTC\n' >"$root/etc/timezone"
mkdir -p "$root/home/nonroot" "$root/root" "$root/tmp" "$root/proc" "$root/var/run"
chmod 0700 "$root/root" "$root/home/nonroot"
chown 65532:65532 "$root/home/nonroot"
chmod 1777 "$root/tmp"

install -m 0755 "$binary" "$root/podlogreader"
