#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make deb: Debian binary packages (bindeb-pkg) of our kernel with the test
# config, then an install-and-boot check: the linux-image package is
# unpacked, and its kernel and modules boot the switch topology and run the
# main job (verified P2P copy).
#
# Output: build/deb/*.deb
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
src=$top/build/ours/src
obj=$top/build/ours/obj
out=$top/build/deb
version=${DEB_VERSION:-$(make -s -C "$src" kernelversion)-p2pdma1}

"$top/scripts/assemble.sh" ours
flock "${P2P_BUILD_LOCK:-/tmp/p2p-build.lock}" "$top/scripts/build-kernel.sh" ours | tail -n 1

echo "deb: building packages $version"
rm -f "$top"/build/ours/*.deb "$top"/build/ours/*.buildinfo "$top"/build/ours/*.changes
# The kernel's own packaging puts the packages next to the build directory.
flock "${P2P_BUILD_LOCK:-/tmp/p2p-build.lock}" make -s -C "$src" O="$obj" -j"$(nproc)" CC="ccache gcc" \
	KDEB_PKGVERSION="$version" \
	DPKG_FLAGS="-Ppkg.linux-upstream.nokernelheaders" bindeb-pkg > "$top/build/deb.log" 2>&1 ||
	{ tail -n 30 "$top/build/deb.log"; exit 1; }
rm -rf "$out"
mkdir -p "$out"
mv "$top"/build/ours/*.deb "$out/"
ls -1 "$out"

# Install check: unpack the image package as dpkg would install it, then
# boot its kernel with its modules.
image=$(ls "$out"/linux-image-*.deb | grep -v dbg | head -n 1)
root=$out/root
dpkg-deb -x "$image" "$root"
kver=$(ls "$root/lib/modules")
echo "deb: $(basename "$image") installs /boot/vmlinuz-$kver and $(find "$root/lib/modules" -name '*.ko*' | wc -l) modules"
P2P_KERNEL_IMAGE=$root/boot/vmlinuz-$kver P2P_MODROOT=$root \
	P2P_INITRD=$out/initramfs.cpio.gz "$top/vm/mkinitramfs.sh" ours
P2P_KERNEL_IMAGE=$root/boot/vmlinuz-$kver P2P_INITRD=$out/initramfs.cpio.gz \
	"$top/vm/boot.sh" ours switch run 900
echo "deb: the packaged kernel boots the switch topology and passes the main job"
