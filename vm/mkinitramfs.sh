#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the guest initramfs for one flavour: static busybox, our /init and
# suites, the kernel's modules, the test module and the static test binaries.
#
#   vm/mkinitramfs.sh ours|baseline
set -euo pipefail

flavour=${1:?usage: mkinitramfs.sh ours|baseline}
top=$(cd "$(dirname "$0")/.." && pwd)
src=$top/build/$flavour/src
obj=$top/build/$flavour/obj${P2P_VARIANT:+-$P2P_VARIANT}
out=$top/build/$flavour${P2P_VARIANT:+/$P2P_VARIANT}
root=$out/initramfs
mkdir -p "$out/bin"

# User-space tools of the harness (static, so no libc in the guest).
for t in "$top"/vm/tools/*.c; do
	b=$out/bin/$(basename "$t" .c)
	if [ ! -x "$b" ] || [ "$t" -nt "$b" ] ||
	   [ -n "$(find "$top/vm/tools" -name '*.h' -newer "$b")" ]; then
		gcc -O2 -Wall -Wextra -static -I"$top/linux/tools/testing/p2pdma" -o "$b" "$t"
	fi
done

# The test modules, built against this flavour's kernel (public API only),
# from a copy per kernel build so objects of one never link into another.
mod=$out/testmod
if [ -d "$src/tools/testing/p2pdma" ]; then
	mkdir -p "$mod"
	rsync -rc "$src/tools/testing/p2pdma/" "$mod/"
	make -s -C "$obj" M="$mod" modules
fi

# The kselftests.
sel=$src/tools/testing/selftests/p2pdma
if [ -f "$sel/Makefile" ]; then
	rm -rf "$out/selftests"
	mkdir -p "$out/selftests"
	make -s -C "$sel" OUTPUT="$out/selftests" >/dev/null
	# The shell tests (TEST_PROGS) run from the source.
	for t in "$sel"/*.sh; do
		[ -f "$t" ] && install -m 755 "$t" "$out/selftests/"
	done
fi

rm -rf "$root"
# The merged-/usr layout of Debian's own root (bin, sbin and lib are links
# into usr/), so that this archive unpacks cleanly over the Debian userland
# (vm/mkrootfs.sh) as well as alone.
mkdir -p "$root"/{usr/bin,usr/sbin,usr/lib/modules,proc,sys,dev,tmp,run,etc} \
	"$root"/opt/p2p/{bin,guest,modules,selftests}
ln -s usr/bin "$root/bin"
ln -s usr/sbin "$root/sbin"
ln -s usr/lib "$root/lib"
cp /bin/busybox "$root/usr/bin/busybox"
ln -s busybox "$root/usr/bin/sh"
cp "$top/vm/guest/init" "$root/init"
cp "$top"/vm/guest/*.sh "$root/opt/p2p/guest/"
cp "$out"/bin/* "$root/opt/p2p/bin/"
cp -r "${P2P_MODROOT:-$obj/modroot}/lib/modules/." "$root/usr/lib/modules/" 2>/dev/null || true
find "$mod" -name '*.ko' -exec cp {} "$root/opt/p2p/modules/" \; 2>/dev/null || true
if [ -d "$out/selftests" ]; then
	find "$out/selftests" -maxdepth 1 -type f -perm -u+x \
		-exec cp {} "$root/opt/p2p/selftests/" \;
fi
initrd=${P2P_INITRD:-$out/initramfs.cpio.gz}
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) > "$initrd"
echo "initramfs: $initrd ($(du -h "$initrd" | cut -f1))"
