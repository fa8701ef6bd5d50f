#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Boot one kernel flavour in one topology under QEMU (TCG) and run a guest
# suite.  The console goes to build/vm/<flavour>-<topology>-<suite>.log
# (build/vm/<flavour>-<variant>-<topology>-<suite>.log for a P2P_VARIANT
# kernel other than bench, whose log name scripts/bench.sh reads).  The
# guest learns the variant from p2p.variant= and prefixes its result names
# with it.  Every log is scanned for kernel splats (scripts/scan-splats.sh).
#
#   vm/boot.sh ours|baseline <topology> run|test|bench [timeout-seconds]
#
# Exit status: that of the guest suite (reported on the console as
# "P2P-EXIT: N"), 124 when the guest hung and was killed, 125 when the guest
# died without reporting, 3 when a run or bench guest succeeded but the log
# has a kernel splat (for the test suite, scripts/test.sh records the scan as
# its own result, so the status stays the guest's).
set -euo pipefail

flavour=${1:?usage: boot.sh flavour topology suite [timeout]}
topo=${2:?topology}
suite=${3:?suite}
limit=${4:-900}
top=$(cd "$(dirname "$0")/.." && pwd)
obj=$top/build/$flavour/obj${P2P_VARIANT:+-$P2P_VARIANT}
variant=${P2P_VARIANT:-}
tag=$flavour${variant:+-$variant}
[ "$variant" = bench ] && tag=$flavour
vmdir=$top/build/vm/$tag-$topo
log=$top/build/vm/$tag-$topo-$suite.log
splats=$top/build/vm/$tag-$topo-$suite-splats.txt

[ -f "$top/vm/topologies/$topo" ] || { echo "boot: no topology '$topo'" >&2; exit 2; }
DESCRIPTION=; EXPECT=; CPU=qemu64; MACHINE_OPTS=; APPEND=; OBJECTS=; DEVICES=; DISKS=0
USERLAND=busybox
# shellcheck source=/dev/null
. "$top/vm/topologies/$topo"

mkdir -p "$vmdir"
drives=()
for ((i = 0; i < DISKS; i++)); do
	rm -f "$vmdir/disk$i.img"
	truncate -s 64M "$vmdir/disk$i.img"
	drives+=(-drive "file=$vmdir/disk$i.img,if=none,id=d$i,format=raw")
done
rm -f "$vmdir/pmr.img"
truncate -s 16M "$vmdir/pmr.img"

# The initramfs: the flavour's own (busybox, /init, suites, modules), after
# the Debian userland (vm/mkrootfs.sh) when the topology asks for it.  The
# kernel unpacks concatenated archives one after the other.
initrd=${P2P_INITRD:-$top/build/$flavour${P2P_VARIANT:+/$P2P_VARIANT}/initramfs.cpio.gz}
case "$USERLAND" in
busybox) ;;
debian)
	rootfs=$("$top/vm/mkrootfs.sh" | tail -n 1)
	cat "$rootfs" "$initrd" > "$vmdir/initrd-debian.cpio.gz"
	initrd=$vmdir/initrd-debian.cpio.gz ;;
*)
	echo "boot: topology $topo: unknown USERLAND '$USERLAND'" >&2
	exit 2 ;;
esac

# shellcheck disable=SC2206
devices=(${DEVICES//@VMDIR@/$vmdir} ${OBJECTS//@VMDIR@/$vmdir})
append="console=ttyS0 panic=-1 oops=panic loglevel=5 kunit.enable=1 $APPEND"
append+=" p2p.suite=$suite p2p.topology=$topo p2p.expect=$EXPECT"
append+=" p2p.kernel=$flavour${variant:+ p2p.variant=$variant} ${P2P_GUEST_ARGS:-}"
# The debug kernel (KASAN outline, lockdep, debugobjects) under TCG on a busy
# 2-core host spends over 20 s in single boot initcalls without scheduling
# (net_dev_init: "soft lockup - CPU#0 stuck for 23s"), which the default
# soft-lockup threshold (20 s) reports.  Scale the lockup and RCU stall
# thresholds: a real lockup is still reported, after 60 s.
if [ "$variant" = debug ]; then
	append+=" watchdog_thresh=30 rcupdate.rcu_cpu_stall_timeout=60"
fi

echo "boot: $flavour kernel, topology $topo ($DESCRIPTION), $USERLAND userland, suite $suite, log $log"
start=$(date +%s)
set +e
timeout --foreground -k 10 "$limit" qemu-system-x86_64 \
	-machine "q35$MACHINE_OPTS" -accel tcg -cpu "$CPU" -smp 2 -m "${P2P_MEM:-2G}" \
	-nographic -no-reboot -serial mon:stdio -display none \
	-kernel "${P2P_KERNEL_IMAGE:-$obj/arch/x86/boot/bzImage}" \
	-initrd "$initrd" \
	-append "$append" \
	"${drives[@]}" "${devices[@]}" < /dev/null > "$log" 2>&1
qemu_rc=$?
set -e
tr -d '\r' < "$log" > "$log.tmp" && mv "$log.tmp" "$log"
elapsed=$(( $(date +%s) - start ))

if [ $qemu_rc -eq 124 ] || [ $qemu_rc -eq 137 ]; then
	echo "boot: guest hung, killed after $limit s (log: $log)" >&2
	exit 124
fi
rc=$(sed -n 's/^P2P-EXIT: \([0-9]*\)$/\1/p' "$log" | tail -n 1)
if [ -z "$rc" ]; then
	echo "boot: guest ended without a result after $elapsed s (qemu status $qemu_rc, log: $log)" >&2
	exit 125
fi
if [ "$suite" != test ]; then
	# Show what the suite printed (the kernel log is in the file).
	sed -n '/^P2P-GUEST:/,/^P2P-DMESG-BEGIN/p' "$log" | grep -v '^P2P-DMESG-BEGIN'
fi
echo "boot: guest finished in $elapsed s, status $rc"
if ! "$top/scripts/scan-splats.sh" "$log" "$splats" > /dev/null; then
	echo "boot: kernel splat in the guest log ($(wc -l < "$splats") lines, first ones below; all in ${splats#$top/})" >&2
	head -n 5 "$splats" >&2
	if [ "$suite" != test ] && [ "$rc" -eq 0 ]; then
		exit 3
	fi
fi
exit "$rc"
