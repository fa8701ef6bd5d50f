#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Do the per-CPU caches of the p2pmem pools earn their place?  Builds our
# bench kernel twice, as it is ("on") and with scripts/bench-pcp-off.diff
# applied ("off": every allocation and free goes to the buddy, and pages of
# user mappings go back one by one, with no per-CPU stacks or runs), then
# boots them alternately in the bench topology, REPS times each (default
# 3), and prints the make bench table as off | on | ratio on/off.  With
# WITH_BASELINE=1 it boots stock upstream's bench kernel (make bench builds
# it) in each repetition too and also prints upstream | on.
# Output: build/bench-pcp/{raw.csv,table.txt,ratios.png}, and
# build/bench-pcp/upstream/ for the second table.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
reps=${REPS:-3}
out=$top/build/bench-pcp
src=$top/build/ours/src
obj=$top/build/ours/obj-bench
mkdir -p "$out"
export P2P_VARIANT=bench

build() {
	flock "${P2P_BUILD_LOCK:-/tmp/p2p-build.lock}" "$top/scripts/build-kernel.sh" ours \
		> "$out/build-$1.log" 2>&1 || { tail -n 20 "$out/build-$1.log"; exit 1; }
	cp "$obj/arch/x86/boot/bzImage" "$out/bzImage-$1"
}

"$top/scripts/assemble.sh" ours
build on
patch -s -p1 -d "$src" < "$top/scripts/bench-pcp-off.diff"
build off
# Back to the sources as they are (assemble rewrites what differs).
"$top/scripts/assemble.sh" ours
build on
"$top/vm/mkinitramfs.sh" ours > /dev/null

kernels="off on"
[ -n "${WITH_BASELINE:-}" ] && kernels="baseline off on"
echo "kernel,rep,metric,value,unit" > "$out/raw.csv"
for ((r = 1; r <= reps; r++)); do
	for k in $kernels; do
		echo "=== repetition $r/$reps: $k"
		if [ "$k" = baseline ]; then
			flavour=baseline image=$top/build/baseline/obj-bench/arch/x86/boot/bzImage
		else
			flavour=ours image=$out/bzImage-$k
		fi
		P2P_MEM=3G P2P_KERNEL_IMAGE=$image \
			"$top/vm/boot.sh" $flavour bench bench 1800 > /dev/null ||
			{ echo "bench-pcp: guest failed, see build/vm/$flavour-bench-bench.log"; exit 1; }
		sed -n 's/^BENCH: \([^ ]*\) \([^ ]*\) \(.*\)$/'"$k,$r"',\1,\2,\3/p' \
			"$top/build/vm/$flavour-bench-bench.log" >> "$out/raw.csv"
		cp "$top/build/vm/$flavour-bench-bench.log" "$out/$k-$r.log"
	done
done
BENCH_KERNELS="off on" /usr/bin/python3 "$top/scripts/bench-report.py" "$out"
if [ -n "${WITH_BASELINE:-}" ]; then
	mkdir -p "$out/upstream"
	cp "$out/raw.csv" "$out/upstream/"
	BENCH_KERNELS="baseline on" /usr/bin/python3 "$top/scripts/bench-report.py" "$out/upstream"
fi
