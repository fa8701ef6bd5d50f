#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Assemble a kernel source tree: Debian's linux-source-6.12 + our overlay
# (linux/) + our quilt series (patches/).  Only files whose content changed
# are rewritten, so make rebuilds just what an edit touched.
#
#   scripts/assemble.sh ours|baseline
#
# "baseline" leaves out what kernel/baseline-exclude lists (our core files and
# core patches), giving stock upstream P2PDMA with the same config and tests.
set -euo pipefail

flavour=${1:?usage: assemble.sh ours|baseline}
top=$(cd "$(dirname "$0")/.." && pwd)
build=$top/build
tarball=${LINUX_TARBALL:-$(ls /usr/src/linux-source-6.12.tar.xz)}
pristine=$build/pristine
stage=$build/$flavour/stage
src=$build/$flavour/src

# One assembly per flavour at a time: they share the stage directory.
mkdir -p "$build"
exec 9> "$build/.assemble-$flavour.lock"
flock 9

excluded() {
	grep -qxF "$1" "$top/kernel/baseline-exclude"
}

# 1. Pristine tree, unpacked once per tarball.
stamp=$(stat -c '%s-%Y' "$tarball")
if [ "$(cat "$pristine/.stamp" 2>/dev/null)" != "$stamp" ]; then
	echo "assemble: unpacking $tarball"
	rm -rf "$pristine"
	mkdir -p "$pristine"
	tar -xJf "$tarball" -C "$pristine" --strip-components=1
	echo "$stamp" > "$pristine/.stamp"
fi

# Huge P2P mappings rely on mm splitting a PUD where a VMA is cut
# (split_huge_leaf() in vma_adjust_trans_huge(), in 6.12.118); older
# 6.12.y walk below a PUD entry there as if it were a page table.
if [ "$flavour" != baseline ] &&
	! grep -q '^static void split_huge_leaf(' "$pristine/mm/huge_memory.c"; then
	echo "assemble: $tarball lacks split_huge_leaf() in mm/huge_memory.c;" \
		"ours needs a 6.12.y that splits PUDs at VMA cuts (6.12.118 does)" >&2
	exit 1
fi

# 2. Stage = hard links to pristine, then overlay files and patches on top
#    (both replace files rather than write through the links).
rm -rf "$stage"
mkdir -p "$(dirname "$stage")"
cp -al "$pristine" "$stage"
rm -f "$stage/.stamp"

(cd "$top/linux" && find . -type f ! -name '.*.swp' | sed 's|^\./||') |
while read -r f; do
	if [ "$flavour" = baseline ] && excluded "linux/$f"; then
		continue
	fi
	mkdir -p "$stage/$(dirname "$f")"
	cp --remove-destination "$top/linux/$f" "$stage/$f"
done

if [ -f "$top/patches/series" ]; then
	grep -v '^\s*\(#\|$\)' "$top/patches/series" | while read -r p _; do
		if [ "$flavour" = baseline ] && excluded "patches/$p"; then
			continue
		fi
		patch -s -p1 -d "$stage" --no-backup-if-mismatch -r - \
			< "$top/patches/$p" || {
			echo "assemble: patches/$p does not apply" >&2
			exit 1
		}
	done
fi

# 3. Sync into the build source tree by content, so unchanged files keep
#    their mtimes.  Files that the overlay once added and no longer does are
#    removed from the tree.
mkdir -p "$src"
rsync -rlc --delete "$stage/" "$src/"
rm -rf "$stage"

version=$(make -s -C "$src" kernelversion)
deb=$(dpkg-query -W -f='${Version}' linux-source-6.12 2>/dev/null || echo unknown)
printf 'base: linux-source-6.12 %s (kernel %s)\nflavour: %s\n' \
	"$deb" "$version" "$flavour" > "$build/$flavour/BASE"
echo "assemble: $flavour tree ready ($(head -1 "$build/$flavour/BASE"))"
