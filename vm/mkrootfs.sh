#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the guest's Debian userland: Debian's "essential" set plus the
# packages in vm/rootfs.packages (mdadm, dmsetup, nvme-cli, fio, trace-cmd,
# ...), installed by mmdebstrap from the machine's own apt sources, trimmed
# of documentation and locales, and packed as a gzip'd cpio archive.
#
# A topology that sets USERLAND=debian boots this archive followed by the
# flavour's own initramfs (vm/mkinitramfs.sh): the kernel unpacks both, in
# that order, so our /init, busybox and suites land on top of Debian's.
#
# The image is cached as build/rootfs/debian-<key>.cpio.gz, where <key> is a
# hash of the package list, this script and the suite; a second run only
# prints its path.  The installed versions are listed beside it
# (debian-<key>.manifest), so that two runs can be compared.
#
#   vm/mkrootfs.sh          build (or find) the image; print its path last
#   vm/mkrootfs.sh --path   print the path the image has, or would have
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
suite=${P2P_DEBIAN_SUITE:-bookworm}
list=$top/vm/rootfs.packages
dir=$top/build/rootfs
pkgs=$(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$list" | tr -s ' \n' ',' | sed 's/,$//')
key=$( { echo "$suite"; echo "$pkgs"; cat "$0"; } | sha256sum | cut -c1-12)
img=$dir/debian-$key.cpio.gz

if [ "${1:-}" = --path ]; then
	echo "$img"
	exit 0
fi
if [ -s "$img" ]; then
	echo "rootfs: cached $img ($(du -h "$img" | cut -f1))"
	echo "$img"
	exit 0
fi

command -v mmdebstrap > /dev/null || {
	echo "rootfs: mmdebstrap is missing (make deps installs it)" >&2
	exit 1
}
mkdir -p "$dir"
# Only one build at a time (make test starts one in the background, and a
# make run beside it would start another).
exec 9> "$dir/.lock"
flock 9
if [ -s "$img" ]; then
	echo "rootfs: $img (built meanwhile)"
	echo "$img"
	exit 0
fi

work=$(mktemp -d "$dir/work.XXXXXX")
trap 'rm -rf "$work"' EXIT
start=$(date +%s)
echo "rootfs: mmdebstrap $suite, essential + $pkgs"
# Leave out what a guest that only runs tools never reads: documentation,
# manual pages, locales and apt's lists; and, once installed, python3 and
# perl's modules (only fio's helper scripts and debconf use them) and
# iconv's modules.  The fixed time stamp makes the
# file times, and with them the archive, the same from run to run.
SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-1700000000} \
mmdebstrap --quiet --mode=root --variant=essential --include="$pkgs" \
	--dpkgopt='path-exclude=/usr/share/doc/*' \
	--dpkgopt='path-exclude=/usr/share/man/*' \
	--dpkgopt='path-exclude=/usr/share/info/*' \
	--dpkgopt='path-exclude=/usr/share/locale/*' \
	--dpkgopt='path-exclude=/usr/share/lintian/*' \
	--customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/* "$1"/var/log/*' \
	--customize-hook='rm -rf "$1"/usr/lib/python3* "$1"/usr/lib/x86_64-linux-gnu/perl "$1"/usr/share/perl "$1"/usr/lib/x86_64-linux-gnu/gconv' \
	--customize-hook='chroot "$1" dpkg-query -W -f="\${Package} \${Version}\n" > "$1"/.manifest' \
	"$suite" "$work/root"

mv "$work/root/.manifest" "$work/manifest"
# The guest's /init comes from the flavour's archive; Debian's init system
# is not used.  An empty /run and /etc/mdadm keep mdadm quiet.
rm -f "$work/root/sbin/init" "$work/root/init"
mkdir -p "$work/root/run" "$work/root/etc/mdadm"
: > "$work/root/etc/mdadm/mdadm.conf"
(cd "$work/root" && find . -print0 | LC_ALL=C sort -z |
	cpio -o -0 -H newc --quiet --reproducible | gzip -1 -n) > "$work/img"
mv "$work/manifest" "${img%.cpio.gz}.manifest"
mv "$work/img" "$img"
echo "rootfs: built $img ($(du -h "$img" | cut -f1), $(wc -l < "${img%.cpio.gz}.manifest") packages) in $(( $(date +%s) - start )) s"
echo "$img"
