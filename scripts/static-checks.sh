#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Static checks on what we own, each printed as a "P2P-RESULT:" line:
# checkpatch --strict on every patch and overlay source file, sparse on the
# objects built from our files, coccicheck on drivers/pci (reports on our
# files count), kernel-doc warnings on our files, our .rst
# (scripts/check-docs.sh) and the harness's own checkers
# (scripts/check-harness.sh).
#
#   scripts/static-checks.sh [ours]
set -uo pipefail

flavour=${1:-ours}
top=$(cd "$(dirname "$0")/.." && pwd)
src=$top/build/$flavour/src
obj=$top/build/$flavour/obj
logdir=$top/build/static
mkdir -p "$logdir"
# checkpatch run from inside our own git checkout misparses patch files
# (it looks at the checkout's git state); run everything from the tree.
cd "$src"

result() {
	if [ "$1" = ok ]; then
		echo "P2P-RESULT: ok $2"
	else
		echo "P2P-RESULT: not ok $2 # see $3"
	fi
}

# Our kernel source files (overlay), relative to the tree.
mapfile -t ours < <(cd "$top/linux" && find . -type f \( -name '*.c' -o -name '*.h' \) | sed 's|^\./||' | sort)

for p in $(grep -v '^\s*\(#\|$\)' "$top/patches/series" 2>/dev/null | cut -d' ' -f1); do
	log=$logdir/checkpatch-$p.log
	if "$src/scripts/checkpatch.pl" --strict --no-tree -q "$top/patches/$p" > "$log" 2>&1; then
		result ok "static.checkpatch.patches/$p"
	else
		result fail "static.checkpatch.patches/$p" "$log"
	fi
done

for f in "${ours[@]}"; do
	log=$logdir/checkpatch-$(echo "$f" | tr / _).log
	if "$src/scripts/checkpatch.pl" --strict --no-tree -q -f "$src/$f" > "$log" 2>&1; then
		result ok "static.checkpatch.$f"
	else
		result fail "static.checkpatch.$f" "$log"
	fi
done

# sparse: rebuild our in-tree objects with C=2 (objects the config builds).
# A make that fails (sparse missing or crashing, a build error) fails the
# file, and so does checking no object at all.
nsparse=0
for f in "${ours[@]}"; do
	case "$f" in tools/*|*.h) continue ;; esac
	o=${f%.c}.o
	[ -f "$obj/$o" ] || continue
	nsparse=$((nsparse + 1))
	log=$logdir/sparse-$(echo "$f" | tr / _).log
	make -s -C "$src" O="$obj" C=2 CC="ccache gcc" "$o" > "$log" 2>&1
	rc=$?
	[ $rc -eq 0 ] || echo "static-checks: make C=2 $o: exit status $rc" >> "$log"
	if [ $rc -ne 0 ] || grep -q "$f.*\(warning\|error\)" "$log"; then
		result fail "static.sparse.$f" "$log"
	else
		result ok "static.sparse.$f"
	fi
done
if [ $nsparse -eq 0 ]; then
	log=$logdir/sparse.log
	echo "static-checks: no object of ours in $obj" > "$log"
	result fail static.sparse "$log"
fi

# kernel-doc on everything we own in the kernel proper.
for f in "${ours[@]}"; do
	case "$f" in tools/*) continue ;; esac
	log=$logdir/kerneldoc-$(echo "$f" | tr / _).log
	"$src/scripts/kernel-doc" -none -Wall "$src/$f" > "$log" 2>&1
	if [ -s "$log" ]; then
		result fail "static.kernel-doc.$f" "$log"
	else
		result ok "static.kernel-doc.$f"
	fi
done

# coccicheck over drivers/pci; only reports on files we own count.  M= is
# absolute: with O=, make runs in $obj, and spatch would look for sources
# in $obj/drivers/pci, find none, and report nothing.
log=$logdir/coccicheck.log
make -s -C "$src" O="$obj" coccicheck MODE=report M="$src/drivers/pci" J=2 \
	> "$log" 2>&1
rc=$?
bad=0
# spatch missing or failing, or a make error: coccicheck exits non-zero
# (reports alone leave it at 0; a failing spatch is seen where it runs
# with --jobs, which Debian's coccinelle has).
if [ $rc -ne 0 ]; then
	echo "static-checks: make coccicheck: exit status $rc" >> "$log"
	bad=1
fi
for f in "${ours[@]}"; do
	grep -q "^$f:\|/$f:" "$log" && bad=1
done
if [ $bad -eq 0 ]; then
	result ok "static.coccicheck.drivers/pci"
else
	result fail "static.coccicheck.drivers/pci" "$log"
fi

# Documentation: kernel-doc of the files our .rst pulls in, and the .rst
# itself through docutils (scripts/check-docs.sh).
"$top/scripts/check-docs.sh" "$flavour" | grep '^P2P-RESULT'

# The harness's own checkers fed synthetic logs (scripts/check-harness.sh).
"$top/scripts/check-harness.sh" | grep '^P2P-RESULT'
