#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make test: build the flavour's kernel, run the static checks, then boot every
# topology and run the guest test suite in it; for our tree, then build the
# debug kernel (kernel/debug.config: KASAN, UBSAN, DMA-API debugging, ...) and
# boot it in DEBUG_TOPOLOGIES.  Every boot is checked three ways: the guest
# ended on its own (boot.<boot>), its console log has no kernel splat
# (dmesg.<boot>, scripts/scan-splats.sh), and its results are exactly those
# listed in vm/expected/<flavour>/<boot> (expected.<boot>, scripts/expected.sh;
# after adding a test: make test, make expected, review the diff).
#
# Ends with a line counting the infrastructure steps (build.*, static.*,
# boot.*) and then the line "N passed, N failed, N skipped" counting the tests
# (everything else: kunit.*, config.*, smoke.*, selftest.*, kmemleak.*,
# dmesg.*, expected.*).  Exits non-zero on any failure of either kind.
#
#   KERNEL=ours|baseline TOPOLOGIES="..." DEBUG_TOPOLOGIES="..." scripts/test.sh
#   (DEBUG_TOPOLOGIES= (empty) leaves the debug kernel out; SKIP_BUILD=1 boots
#   the kernels already built.)
set -uo pipefail

flavour=${KERNEL:-ours}
top=$(cd "$(dirname "$0")/.." && pwd)
topologies=${TOPOLOGIES:-switch rootports-intel rootports-amd iommu acs acs-redir acs-redir-amd acs-disabled multi huge stack lease lease-amd}
debug_topologies=${DEBUG_TOPOLOGIES-switch acs-redir stack lease}
[ "$flavour" = ours ] || debug_topologies=
results=$top/build/results-$flavour.txt
timings=$top/build/timings-$flavour.txt
mkdir -p "$top/build/vm"
: > "$results"
: > "$timings"
t0=$(date +%s)

stage() {
	printf '\n=== [%4ds] %s\n' $(( $(date +%s) - t0 )) "$*"
}

# Record a result line; failures also name the log to read.
record() {
	echo "P2P-RESULT: $*" | tee -a "$results"
}

# timing <what> <start>: seconds since <start>, kept in build/timings-*.txt.
timing() {
	echo "$1 $(( $(date +%s) - $2 )) s" | tee -a "$timings"
}

# build <variant>: the kernel (P2P_VARIANT=<variant>) and its initramfs.
# SKIP_BUILD=1 boots the kernel already in build/ instead (after make kernel;
# the build step is then skipped, the initramfs is packed again).
build() {
	local v=$1 tag=$flavour${1:+-$1} s
	stage "build $tag kernel"
	if [ -n "${SKIP_BUILD:-}" ]; then
		local obj=$top/build/$flavour/obj${v:+-$v}
		if [ ! -f "$obj/arch/x86/boot/bzImage" ]; then
			record "not ok build.kernel${v:+-$v} # SKIP_BUILD, but no kernel in ${obj#$top/}"
			return 1
		fi
		record "skip build.kernel${v:+-$v} # SKIP_BUILD: $(date -r "$obj/arch/x86/boot/bzImage" '+%F %T') kernel"
	else
		s=$(date +%s)
		if ! P2P_VARIANT=$v flock "${P2P_BUILD_LOCK:-/tmp/p2p-build.lock}" \
			"$top/scripts/build-kernel.sh" "$flavour" > "$top/build/build-$tag.log" 2>&1; then
			tail -n 30 "$top/build/build-$tag.log"
			record "not ok build.kernel${v:+-$v} # see build/build-$tag.log"
			return 1
		fi
		tail -n 1 "$top/build/build-$tag.log"
		timing "build.kernel${v:+-$v}" "$s"
		record "ok build.kernel${v:+-$v}"
	fi

	stage "initramfs $tag"
	if ! P2P_VARIANT=$v "$top/vm/mkinitramfs.sh" "$flavour" \
		> "$top/build/initramfs-$tag.log" 2>&1; then
		tail -n 30 "$top/build/initramfs-$tag.log"
		record "not ok build.initramfs${v:+-$v} # see build/initramfs-$tag.log"
		return 1
	fi
	record "ok build.initramfs${v:+-$v}"
}

# boot <variant> <topology> <timeout>: one guest run and its three checks.
boot() {
	local v=$1 topo=$2 limit=$3 key=${1:+$1.}$2 tag=$flavour${1:+-$1} log rc s
	log=$top/build/vm/$tag-$topo-test.log
	stage "boot $tag in $topo"
	echo "# boot $key" >> "$results"
	rm -f "$log"
	s=$(date +%s)
	P2P_VARIANT=$v "$top/vm/boot.sh" "$flavour" "$topo" test "$limit"
	rc=$?
	timing "boot.$key" "$s"
	if [ -f "$log" ]; then
		grep '^P2P-RESULT:' "$log" | sed 's/# *$//' >> "$results"
		grep '^P2P-RESULT: not ok' "$log" | sed "s|\$| (log: ${log#$top/})|"
		echo "   $(grep -c '^P2P-RESULT: ok' "$log") ok, $(grep -c '^P2P-RESULT: not ok' "$log") not ok, $(grep -c '^P2P-RESULT: skip' "$log") skipped"
	fi
	if [ $rc -eq 0 ]; then
		record "ok boot.$key"
	else
		record "not ok boot.$key # status $rc, see ${log#$top/}"
	fi
	# Any kernel splat in the guest's log fails the run.
	if [ ! -f "$log" ]; then
		record "not ok dmesg.$key # no log"
	elif "$top/scripts/scan-splats.sh" "$log" "$top/build/vm/$tag-$topo-splats.txt" > /dev/null; then
		record "ok dmesg.$key"
	else
		head -n 5 "$top/build/vm/$tag-$topo-splats.txt"
		record "not ok dmesg.$key # kernel splat, see ${log#$top/} and build/vm/$tag-$topo-splats.txt"
	fi
	# Exactly the listed results, each with its listed status.
	case " ${P2P_GUEST_ARGS:-} " in
	*" p2p.only="*)
		record "skip expected.$key # p2p.only= runs a part of the suite" ;;
	*)
		# Every line to the results, then the first few to the screen:
		# "| tee | head" would cut the results off at 20 differences.
		"$top/scripts/expected.sh" check "$flavour" "$key" "$log" \
			> "$top/build/vm/$tag-$topo-expected.txt"
		cat "$top/build/vm/$tag-$topo-expected.txt" >> "$results"
		head -n 20 "$top/build/vm/$tag-$topo-expected.txt" ;;
	esac
}

# The Debian userland of the topologies that boot one (USERLAND=debian in
# vm/topologies/*), built beside the kernel: mmdebstrap waits mostly on the
# network and dpkg, the kernel build on the CPU.  Cached under build/rootfs.
rootfs_pid=
if grep -qx 'USERLAND=debian' $(for t in $topologies $debug_topologies; do echo "$top/vm/topologies/$t"; done | sort -u); then
	stage "Debian userland (vm/mkrootfs.sh, in the background)"
	"$top/vm/mkrootfs.sh" > "$top/build/rootfs.log" 2>&1 &
	rootfs_pid=$!
fi
# Wait for it once, before the first boot, and record how it went.
rootfs_wait() {
	[ -n "$rootfs_pid" ] || return 0
	s=$(date +%s)
	if wait "$rootfs_pid"; then
		tail -n 2 "$top/build/rootfs.log" | head -n 1
		record "ok build.rootfs"
	else
		tail -n 20 "$top/build/rootfs.log"
		record "not ok build.rootfs # see build/rootfs.log"
	fi
	timing build.rootfs.wait "$s"
	rootfs_pid=
}

stage "assemble $flavour tree"
[ -n "${SKIP_BUILD:-}" ] || "$top/scripts/assemble.sh" "$flavour" || { record "not ok build.assemble"; echo "0 passed, 0 failed, 0 skipped"; exit 1; }

if build ""; then
	if [ "$flavour" = ours ] && [ -z "${SKIP_STATIC:-}" ]; then
		stage "static checks (checkpatch, sparse, kernel-doc, coccicheck)"
		s=$(date +%s)
		"$top/scripts/static-checks.sh" "$flavour" | grep '^P2P-RESULT' | tee -a "$results"
		timing static "$s"
	fi
	rootfs_wait
	for topo in $topologies; do
		boot "" "$topo" "${BOOT_TIMEOUT:-1200}"
	done
else
	debug_topologies=
fi

# The debug kernel: KASAN and friends make it several times slower under
# TCG, hence its own boot timeout.
if [ -n "$debug_topologies" ] && build debug; then
	rootfs_wait
	for topo in $debug_topologies; do
		boot debug "$topo" "${DEBUG_BOOT_TIMEOUT:-2700}"
	done
fi

rootfs_wait
stage "summary ($flavour)"
timing total "$t0" > /dev/null
# count <status> infra|tests
infra='^P2P-RESULT: (ok|not ok|skip) (build|static|boot)\.'
count() {
	if [ "$2" = infra ]; then
		grep -E "^P2P-RESULT: $1 " "$results" | grep -cE "$infra"
	else
		grep -E "^P2P-RESULT: $1 " "$results" | grep -cvE "$infra"
	fi
}
grep '^P2P-RESULT: not ok' "$results" | sed 's/^P2P-RESULT: /FAILED: /'
echo "results: $results, timings: $timings"
sed 's/^/   /' "$timings"
ipass=$(count ok infra); ifail=$(count 'not ok' infra); iskip=$(count skip infra)
passed=$(count ok tests); failed=$(count 'not ok' tests); skipped=$(count skip tests)
# A splat is only in the guest's log, which CI does not keep: print where
# each one starts, last, so that the tail of the output shows it.
for f in $(grep -oE '^P2P-RESULT: not ok dmesg\.[^ ]+ # kernel splat, see [^ ]+' "$results" | awk '{print $NF}'); do
	first=$("$top/scripts/scan-splats.sh" "$top/$f" 2>/dev/null | head -n 1 | cut -d: -f1)
	[ -n "$first" ] || continue
	echo "first splat in $f (line $first), with the lines around it:"
	sed -n "$((first > 8 ? first - 8 : 1)),$((first + 24))p" "$top/$f" | cut -c1-160 | sed 's/^/   | /'
done
echo "infrastructure (build, static checks, boots): $ipass ok, $ifail failed, $iskip skipped"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ] && [ "$ifail" -eq 0 ]
