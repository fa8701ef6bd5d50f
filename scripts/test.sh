#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make test: build the flavour's kernel, run the static checks, then boot every
# topology and run the guest test suite in it.  Ends with one line
# "N passed, N failed, N skipped" and exits non-zero on any failure.
#
#   scripts/test.sh [ours|baseline] [topology...]
set -uo pipefail

flavour=${KERNEL:-ours}
top=$(cd "$(dirname "$0")/.." && pwd)
topologies=${TOPOLOGIES:-switch rootports-intel rootports-amd iommu}
results=$top/build/results-$flavour.txt
mkdir -p "$top/build"
: > "$results"
t0=$(date +%s)

stage() {
	printf '\n=== [%4ds] %s\n' $(( $(date +%s) - t0 )) "$*"
}

# Record a result line; failures also name the log to read.
record() {
	echo "P2P-RESULT: $*" | tee -a "$results"
}

stage "assemble $flavour tree"
"$top/scripts/assemble.sh" "$flavour" || { record "not ok build.assemble"; exit 1; }

stage "build $flavour kernel"
if ! flock /tmp/p2p-build.lock "$top/scripts/build-kernel.sh" "$flavour" \
	> "$top/build/build-$flavour.log" 2>&1; then
	tail -n 30 "$top/build/build-$flavour.log"
	record "not ok build.kernel # see build/build-$flavour.log"
	echo "0 passed, 1 failed"
	exit 1
fi
tail -n 1 "$top/build/build-$flavour.log"
record "ok build.kernel"

if [ "$flavour" = ours ] && [ -z "${SKIP_STATIC:-}" ]; then
	stage "static checks (checkpatch, sparse, kernel-doc, coccicheck)"
	"$top/scripts/static-checks.sh" "$flavour" | grep '^P2P-RESULT' | tee -a "$results"
fi

stage "initramfs"
if ! "$top/vm/mkinitramfs.sh" "$flavour" > "$top/build/initramfs-$flavour.log" 2>&1; then
	tail -n 30 "$top/build/initramfs-$flavour.log"
	record "not ok build.initramfs # see build/initramfs-$flavour.log"
fi

for topo in $topologies; do
	stage "boot $flavour in $topo"
	log=$top/build/vm/$flavour-$topo-test.log
	"$top/vm/boot.sh" "$flavour" "$topo" test "${BOOT_TIMEOUT:-1200}"
	rc=$?
	if [ -f "$log" ]; then
		grep '^P2P-RESULT:' "$log" | sed 's/# *$//' >> "$results"
		grep '^P2P-RESULT: not ok' "$log" | sed "s|\$| (log: ${log#$top/})|"
		echo "   $(grep -c '^P2P-RESULT: ok' "$log") ok, $(grep -c '^P2P-RESULT: not ok' "$log") not ok, $(grep -c '^P2P-RESULT: skip' "$log") skipped"
	fi
	if [ $rc -eq 0 ]; then
		record "ok boot.$topo"
	else
		record "not ok boot.$topo # status $rc, see ${log#$top/}"
	fi
	# Any kernel splat in the guest's log fails the run.
	if [ -f "$log" ] && grep -nE 'WARNING:|BUG:|Oops|Kernel panic|KASAN|KFENCE|possible circular locking|possible recursive locking|inconsistent lock state|suspicious RCU usage|unreferenced object|Call Trace' "$log" > "$top/build/vm/$flavour-$topo-splats.txt"; then
		head -n 5 "$top/build/vm/$flavour-$topo-splats.txt"
		record "not ok dmesg.$topo # kernel splat, see ${log#$top/}"
	else
		record "ok dmesg.$topo"
	fi
done

stage "summary ($flavour)"
passed=$(grep -c '^P2P-RESULT: ok' "$results")
failed=$(grep -c '^P2P-RESULT: not ok' "$results")
skipped=$(grep -c '^P2P-RESULT: skip' "$results")
grep '^P2P-RESULT: not ok' "$results" | sed 's/^P2P-RESULT: /FAILED: /'
echo "results: $results"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
