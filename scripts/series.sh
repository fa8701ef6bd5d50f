#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make series: export the overlay and the quilt patches as a numbered
# git format-patch series against the pristine Debian tree, with a cover
# letter, one commit per line of kernel/series.map.  Then checks that every
# patch passes checkpatch --strict, that the series applies with git am and
# with quilt to a pristine tree, and (BUILD_EACH=1) that every step builds
# with the test config; BOOT_EACH=1 also boots every step (boot_step).
#
# Output: build/series/out/*.patch
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
work=$top/build/series
# src/ and obj/ side by side, as in build/<flavour>/, so that ccache (with
# CCACHE_BASEDIR) sees the same relative paths and reuses our builds.
tree=$work/src
out=$work/out
map=$top/kernel/series.map
pristine=$top/build/pristine

[ -d "$pristine" ] || "$top/scripts/assemble.sh" baseline >/dev/null
name=$(git -C "$top" config user.name)
email=$(git -C "$top" config user.email)
export GIT_AUTHOR_NAME=$name GIT_AUTHOR_EMAIL=$email
export GIT_COMMITTER_NAME=$name GIT_COMMITTER_EMAIL=$email
export GIT_AUTHOR_DATE="2026-01-01T00:00:00Z" GIT_COMMITTER_DATE="2026-01-01T00:00:00Z"

# Every overlay file and patch must be in exactly one entry of the map.
items=$(grep -v '^\s*\(#\|$\)' "$map" | cut -d' ' -f2- | tr ' ' '\n' | grep -v '^$')
missing=0
while read -r f; do
	hit=0
	for i in $items; do
		case "$f" in "$i"|"$i"/*) hit=$((hit + 1)) ;; esac
	done
	if [ $hit -ne 1 ]; then
		echo "series: $f is covered by $hit entries of kernel/series.map" >&2
		missing=1
	fi
done < <(cd "$top" && { find linux -type f; sed 's|^|patches/|' patches/series; } | sort)
# A step may hold back part of a file it adds: "-kernel/series/X.diff"
# after the file takes X.diff out again (patch -R), and a later step puts
# it in with "kernel/series/X.diff".  Each diff is held once and applied
# once, later.
for d in $(cd "$top" && ls kernel/series/*.diff 2>/dev/null); do
	held=$(grep -v '^\s*\(#\|$\)' "$map" | grep -n -- " -$d\( \|$\)" | cut -d: -f1 || true)
	put=$(grep -v '^\s*\(#\|$\)' "$map" | grep -n -- " $d\( \|$\)" | cut -d: -f1 || true)
	if [ "$(wc -w <<< "$held")" -ne 1 ] || [ "$(wc -w <<< "$put")" -ne 1 ] ||
	   [ "$held" -ge "$put" ]; then
		echo "series: $d must be held back by one step and applied by a later one" >&2
		missing=1
	fi
done
[ $missing -eq 0 ] || exit 1

# A git repository of the pristine tree, made once per tarball.
stamp=$(cat "$pristine/.stamp")
if [ "$(cat "$work/base.stamp" 2>/dev/null)" != "$stamp" ]; then
	echo "series: making a git repository of the pristine tree (once)"
	rm -rf "$tree"
	mkdir -p "$tree"
	cp -a "$pristine/." "$tree/"
	rm -f "$tree/.stamp"
	git -C "$tree" init -q
	git -C "$tree" add -f -A
	git -C "$tree" commit -qm "$(cat "$top/build/baseline/BASE" 2>/dev/null | head -n 1 || echo base)"
	git -C "$tree" tag -f base >/dev/null
	echo "$stamp" > "$work/base.stamp"
fi
git -C "$tree" checkout -q -B p2pdma base
git -C "$tree" reset -q --hard base
git -C "$tree" clean -qfdx

grep -v '^\s*\(#\|$\)' "$map" | while read -r msg parts; do
	for p in $parts; do
		case "$p" in
		patches/*)
			[ -f "$top/$p" ] || continue
			patch -s -p1 -d "$tree" --no-backup-if-mismatch < "$top/$p" ;;
		linux/*)
			[ -e "$top/$p" ] || continue
			mkdir -p "$tree/$(dirname "${p#linux/}")"
			cp -r "$top/$p" "$tree/$(dirname "${p#linux/}")/" ;;
		-kernel/series/*.diff)
			patch -s -R -F0 -p1 -d "$tree" --no-backup-if-mismatch < "$top/${p#-}" ;;
		kernel/series/*.diff)
			patch -s -F0 -p1 -d "$tree" --no-backup-if-mismatch < "$top/$p" ;;
		*)
			echo "series: $msg: unknown part $p" >&2; exit 1 ;;
		esac
	done
	git -C "$tree" add -f -A
	git -C "$tree" commit -qs -F "$top/kernel/series/$msg"
done

# What was held back came back: the last step has every file as it is here.
while read -r f; do
	cmp -s "$top/$f" "$tree/${f#linux/}" ||
		{ echo "series: $f differs at the end of the series" >&2; exit 1; }
done < <(cd "$top" && find linux -type f)

rm -rf "$out"
git -C "$tree" format-patch -q --cover-letter --subject-prefix=PATCH -o "$out" base..p2pdma
cover=$(ls "$out"/0000-*)
bench=$top/build/bench/table.txt
python3 - "$cover" "$top/kernel/series/cover.txt" "$bench" <<'PY'
import sys, os
cover, text, bench = sys.argv[1:4]
s = open(cover).read()
body = open(text).read()
subject, blurb = body.split("\n", 1)
if os.path.exists(bench):
    blurb += "\nBenchmark (make bench; medians, ratio = ours / upstream):\n\n"
    blurb += "".join("  " + l for l in open(bench))
s = s.replace("*** SUBJECT HERE ***", subject).replace("*** BLURB HERE ***", blurb.strip("\n"))
open(cover, "w").write(s)
PY

echo "series: $(ls "$out" | wc -l) files in ${out#$top/}"
# checkpatch asks whether MAINTAINERS needs updating whenever a patch adds
# a file, since with --no-tree it cannot look.  A patch whose new files the
# P2PDMA entry already covers (an F: directory of an earlier step) needs
# no MAINTAINERS change: get_maintainer.pl in the exported tree must name
# that entry for every one of them, and only then is the warning dropped.
maintained() {
	local f sections new
	new=$(awk '/^diff --git / { f = $4 }
		/^new file mode/ { sub(/^b\//, "", f); print f }' "$1")
	[ -n "$new" ] || return 1
	for f in $new; do
		sections=$(cd "$tree" && ./scripts/get_maintainer.pl --no-git \
			--no-rolestats --sections -f "$f" 2>/dev/null) || return 1
		grep -qx 'PCI PEER-TO-PEER DMA (P2PDMA)' <<< "$sections" || return 1
	done
}
bad=0
for p in "$out"/*.patch; do
	case "$p" in */0000-*) continue ;; esac
	ignore=
	if ! grep -q '^+++ b/MAINTAINERS$' "$p" && maintained "$p"; then
		ignore="--ignore FILE_PATH_CHANGES"
	fi
	if ! "$tree/scripts/checkpatch.pl" --strict -q --no-tree $ignore "$p" > "$p.checkpatch" 2>&1; then
		echo "series: checkpatch --strict: $(basename "$p"): $(tail -n 1 "$p.checkpatch")"
		bad=1
	else
		echo "series: checkpatch --strict clean: $(basename "$p")${ignore:+ (new files under the P2PDMA entry of MAINTAINERS)}"
		rm -f "$p.checkpatch"
	fi
done

# It applies with git am and with quilt to the pristine tree.
git -C "$tree" checkout -q -B am-check base
if git -C "$tree" am -q $(ls "$out"/*.patch | grep -v '/0000-') 2>/dev/null ||
   { git -C "$tree" am --abort; false; }; then
	echo "series: applies with git am"
else
	echo "series: git am failed"; bad=1
fi
rm -rf "$work/quilt"
cp -al "$pristine" "$work/quilt"
mkdir -p "$work/quilt/patches"
for p in "$out"/0*-*.patch; do
	case "$p" in */0000-*) continue ;; esac
	cp "$p" "$work/quilt/patches/"
	basename "$p" >> "$work/quilt/patches/series"
done
if (cd "$work/quilt" && QUILT_PATCHES=patches quilt push -aq >/dev/null); then
	echo "series: applies with quilt"
else
	echo "series: quilt push failed"; bad=1
fi
rm -rf "$work/quilt"
git -C "$tree" checkout -q p2pdma

# BOOT_EACH=1: boot the step just built in the switch topology with the
# test initramfs of ours (make test builds it) and the guest suite "step":
# the main job must pass (on upstream's core before the switch, on ours
# after), every KUnit case the step has must pass, and the console must
# have no kernel splat (boot.sh fails then).
boot_step() {
	local log=$top/build/vm/ours-switch-step.log n bad_cases
	if ! P2P_KERNEL_IMAGE=$obj/arch/x86/boot/bzImage \
		"$top/vm/boot.sh" ours switch step 900 > /dev/null 2>&1; then
		echo "series: BOOT FAILS: $1 (see ${log#$top/})"
		cp "$log" "$work/boot-fail-$(git -C "$tree" log -1 --format=%h).log" 2>/dev/null
		return 1
	fi
	n=$(grep -c '^P2P-RESULT: ok kunit\.pci_p2pdma' "$log" || true)
	bad_cases=$(grep -c '^P2P-RESULT: not ok' "$log" || true)
	if [ "$bad_cases" -ne 0 ]; then
		echo "series: BOOT FAILS: $1 ($bad_cases failing results, see ${log#$top/})"
		return 1
	fi
	echo "series: boots: $1 ($n P2PDMA KUnit cases pass, make run's job passes)"
}

# The test modules and the selftests a step has build too (the modules
# from a copy, as vm/mkinitramfs.sh does, so the step's tree stays clean).
build_tests() {
	local t=$tree/tools/testing
	if [ -d "$t/p2pdma" ]; then
		rm -rf "$obj/testmod"
		cp -r "$t/p2pdma" "$obj/testmod"
		if ! make -s -C "$obj" LOCALVERSION= M="$obj/testmod" modules \
			> "$obj/testmod.log" 2>&1; then
			echo "series: TEST MODULES FAIL TO BUILD: $1"; return 1
		fi
	fi
	if [ -d "$t/selftests/p2pdma" ]; then
		rm -rf "$obj/selftests" && mkdir -p "$obj/selftests"
		if ! make -s -C "$t/selftests/p2pdma" OUTPUT="$obj/selftests" \
			> "$obj/selftests.log" 2>&1; then
			echo "series: SELFTESTS FAIL TO BUILD: $1"; return 1
		fi
		git -C "$tree" clean -qfdx -- tools/testing/selftests
		echo "series: selftests build: $(ls "$obj/selftests" | tr '\n' ' ')"
	fi
}

[ -z "${BOOT_EACH:-}" ] || BUILD_EACH=1
[ -z "${BOOT_EACH:-}" ] || [ -f "$top/build/ours/initramfs.cpio.gz" ] ||
	{ echo "series: BOOT_EACH needs build/ours/initramfs.cpio.gz (make test or make initramfs)" >&2; exit 1; }
if [ -n "${BUILD_EACH:-}" ]; then
	export CCACHE_DIR=${CCACHE_DIR:-/var/cache/p2pdma-ccache}
	export CCACHE_BASEDIR=$top/build
	export CCACHE_SLOPPINESS=time_macros,include_file_mtime,include_file_ctime
	obj=$work/obj
	mkdir -p "$obj"
	cat "$top/kernel/p2pdma-test.config" "$top/kernel/ours.config" > "$obj/fragment"
	for c in $(git -C "$tree" rev-list --reverse base..p2pdma); do
		git -C "$tree" checkout -q "$c"
		# LOCALVERSION set (empty): no "+" for an untagged git tree, so
		# that the test initramfs's modules load in BOOT_EACH.
		make -s -C "$tree" O="$obj" LOCALVERSION= KCONFIG_ALLCONFIG="$obj/fragment" allnoconfig >/dev/null
		subject=$(git -C "$tree" log -1 --format=%s "$c")
		if flock "${P2P_BUILD_LOCK:-/tmp/p2p-build.lock}" make -s -C "$tree" O="$obj" -j"$(nproc)" \
			LOCALVERSION= CC="ccache gcc" bzImage modules > "$obj/build.log" 2>&1; then
			echo "series: builds: $subject"
			build_tests "$subject" || bad=1
			[ -z "${BOOT_EACH:-}" ] || boot_step "$subject" || bad=1
		else
			echo "series: BUILD FAILS: $subject"; bad=1
		fi
	done
	git -C "$tree" checkout -q p2pdma
fi
exit $bad
