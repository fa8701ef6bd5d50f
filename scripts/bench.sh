#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make bench: boot baseline (stock upstream P2PDMA) and ours in the bench
# topology, alternating, REPS times each, run the same measurements in both
# and print one table (median, min-max, ratio ours/upstream).  Raw numbers go
# to build/bench/raw.csv, the table to build/bench/table.txt, a chart of the
# ratios to build/bench/ratios.png.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
reps=${REPS:-5}
out=$top/build/bench
mkdir -p "$out"
# Measure production-like kernels: the test config minus its debug set.
export P2P_VARIANT=bench

for k in baseline ours; do
	echo "=== build $k"
	"$top/scripts/assemble.sh" "$k"
	flock "${P2P_BUILD_LOCK:-/tmp/p2p-build.lock}" "$top/scripts/build-kernel.sh" "$k" > "$top/build/build-$k.log" 2>&1 ||
		{ tail -n 20 "$top/build/build-$k.log"; exit 1; }
	"$top/vm/mkinitramfs.sh" "$k" > /dev/null
done

echo "kernel,rep,metric,value,unit" > "$out/raw.csv"
for ((r = 1; r <= reps; r++)); do
	for k in baseline ours; do
		echo "=== repetition $r/$reps: $k"
		P2P_MEM=3G "$top/vm/boot.sh" "$k" bench bench 1800 > /dev/null ||
			{ echo "bench: $k guest failed, see build/vm/$k-bench-bench.log"; exit 1; }
		sed -n 's/^BENCH: \([^ ]*\) \([^ ]*\) \(.*\)$/'"$k,$r"',\1,\2,\3/p' \
			"$top/build/vm/$k-bench-bench.log" >> "$out/raw.csv"
		cp "$top/build/vm/$k-bench-bench.log" "$out/$k-$r.log"
	done
done
# Debian's interpreter, where python3-matplotlib installs, whatever PATH says.
/usr/bin/python3 "$top/scripts/bench-report.py" "$out"
