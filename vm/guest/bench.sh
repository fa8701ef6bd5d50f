# SPDX-License-Identifier: GPL-2.0
# make bench, inside the guest: the same measurements on whichever kernel
# booted.  Prints "BENCH: <metric> <value> <unit>" lines.
. /opt/p2p/guest/lib.sh

# The bench module's "RESULT <metric>=<value> <unit>" lines in the kernel
# log, as BENCH lines.
bench_results() {
	dmesg | sed -n 's/.*p2pdma_bench: RESULT \([^=]*\)=\([^ ]*\) \(.*\)$/BENCH: \1 \2 \3/p'
}

small=; large=; client=; clientns=; client2ns=
while read -r c bdf ns p2p; do
	if [ "$p2p" = 1 ]; then
		size=$(cat /sys/bus/pci/devices/$bdf/p2pmem/size)
		if [ "$size" -le $((64 << 20)) ]; then small=$bdf; else large=$bdf; fi
	elif [ -z "$client" ]; then
		client=$bdf; clientns=$ns
	elif [ -z "$client2ns" ]; then
		client2ns=$ns
	fi
done <<INV
$(nvme_inventory)
INV
echo "bench: small pool $small, large pool $large, client $client ($clientns)"
[ -n "$small" ] && [ -n "$client" ] || exit 1

# fio, as users measure: random 4 KiB reads (psync at depth 1, io_uring at
# depth 8) and sequential 128 KiB reads from the first client's namespace,
# into a buffer that is an mmap of the small pool's p2pmem/allocate
# (--mem=mmapshared:<file>) and, as the reference, into host memory.  Rows
# fio_<engine>_<pattern>_<p2p|host>_{iops,mibs,usr_cpu,sys_cpu}, from fio's
# terse output (version 3: field 8 read IOPS, 7 read KiB/s, 88 and 89 user
# and system CPU, "12.5%").  Where md9 exists (the raid0 of the dio rows),
# the same small host-memory reads through it and through a dm linear
# device on it (rows *_md_host, *_dmmd_host): what the P2P check on every
# bio of md and dm costs I/O that has no P2P memory.  Needs the Debian
# userland (USERLAND=debian).
fio_row() {		# <row> <device> <engine> <depth> <rw> <bs> <mem>
	local line
	line=$(fio --name=b --filename="$2" --direct=1 --rw="$5" --bs="$6" \
		--ioengine="$3" --iodepth="$4" --size=48m --time_based \
		--runtime=3 --ramp_time=1 --mem="$7" \
		--output-format=terse --terse-version=3 2>&1 | grep '^3;')
	[ -n "$line" ] || { echo "bench: fio for $1 failed"; return 0; }
	echo "$line" | awk -F';' -v m="$1" '{
		printf "BENCH: %s_iops %s IOPS\n", m, $8
		printf "BENCH: %s_mibs %.1f MiB/s\n", m, $7 / 1024
		printf "BENCH: %s_usr_cpu %.1f %%\n", m, $88 + 0
		printf "BENCH: %s_sys_cpu %.1f %%\n", m, $89 + 0 }'
}
fio_rows() {
	local eng depth pat bs buf mem dm
	local p2p=mmapshared:/sys/bus/pci/devices/$small/p2pmem/allocate
	command -v fio > /dev/null || { echo "bench: no fio in this guest"; return 0; }
	for eng in psync:1 io_uring:8; do
		depth=${eng#*:}; eng=${eng%:*}
		for pat in randread:4k:rand4k read:128k:seq128k; do
			bs=$(echo "$pat" | cut -d: -f2)
			for buf in p2p host; do
				mem=malloc
				[ $buf = p2p ] && mem=$p2p
				fio_row "fio_${eng}_${pat##*:}_$buf" "$clientns" \
					$eng "$depth" "${pat%%:*}" "$bs" $mem
			done
		done
	done
	[ -b /dev/md9 ] || return 0
	fio_row fio_psync_rand4k_md_host /dev/md9 psync 1 randread 4k malloc
	echo "0 $(cat /sys/block/md9/size) linear /dev/md9 0" |
		dmsetup create p2p-bench 2> /dev/null || return 0
	dm=/dev/$(dmsetup info -c --noheadings -o blkdevname p2p-bench)
	fio_row fio_psync_rand4k_dmmd_host "$dm" psync 1 randread 4k malloc
	dmsetup remove p2p-bench
}

# p2p.only=mmap or p2p.only=dio: seven runs of just that user-space row,
# each printed (the mmap ones with their phases), for looking into one row;
# p2p.only=alloc: three runs of the small pool's alloc_free rows;
# p2p.only=fio: three runs of the fio rows;
# p2p.only=map: seven runs of the per-call rows (distance, dma_map_sg):
# make boot TOPO=bench SUITE=bench P2P_GUEST_ARGS=p2p.only=mmap P2P_MEM=3G
case "${P2P_ONLY:-}" in
mmap)
	[ -n "$large" ] || exit 1
	max=$(( ($(cat /sys/bus/pci/devices/$large/p2pmem/available) >> 21) << 1 ))
	for i in 1 2 3 4 5 6 7; do
		p2pbench mmap "$large" 64 64M
		p2pbench mmap "$large" $max max 0
		p2pbench mmap "$large" $max max 2048
	done
	exit 0 ;;
dio)
	for i in 1 2 3 4 5 6 7; do p2pbench dio "$small" "$clientns" 64 1024; done
	exit 0 ;;
alloc)
	for i in 1 2 3; do
		insmod /opt/p2p/modules/p2pdma_bench.ko provider="$small" label=pool64M alloc_only=1
		rmmod p2pdma_bench
	done
	bench_results
	exit 0 ;;
map)
	for i in 1 2 3 4 5 6 7; do
		insmod /opt/p2p/modules/p2pdma_bench.ko provider="$small" client="$client" percall_only=1
		rmmod p2pdma_bench
	done
	bench_results
	exit 0 ;;
fio)
	[ -n "$client2ns" ] && p2pbench raid0 md9 64 "$clientns" "$client2ns"
	for i in 1 2 3; do fio_rows; done
	exit 0 ;;
checkerboard)
	[ -n "$large" ] || exit 1
	insmod /opt/p2p/modules/p2pdma_bench.ko provider="$large" label=poolmax checkerboard=2
	rmmod p2pdma_bench
	bench_results
	exit 0 ;;
esac

# In-kernel rows: allocator, cached distance, dma_map_sg of P2P pages.
bench_module() {
	dmesg -c > /dev/null
	insmod /opt/p2p/modules/p2pdma_bench.ko provider="$1" client="$client" label="$2" $3
	rmmod p2pdma_bench
	bench_results
}
# The per-call rows (cached distance, dma_map_sg) are taken three times,
# at the start, after the allocator rows and at the end, and their median
# is the row: a host that slows the guest for a few seconds slows both
# rows of that moment alike (seen on both kernels: 1.5x on one boot of
# three), and one such moment must not decide a boot's value.
percall=/tmp/percall
bench_module "$small" pool64M > /tmp/rows
grep 'distance_cached\|dma_map_sg' /tmp/rows > "$percall"
grep -v 'distance_cached\|dma_map_sg' /tmp/rows
[ -n "$large" ] && bench_module "$large" poolmax checkerboard=1 |
	grep 'alloc_free\|alloc_fail'
bench_module "$small" pool64M percall_only=1 >> "$percall"

# Run a command N times and print, per BENCH metric, the median of its
# values: a single run of a user-space row varied by 10-20 % between boots
# of the same kernel under TCG.
median_runs() {
	n=$1
	shift
	for i in $(seq "$n"); do "$@"; done | awk '
	!/^BENCH: / { print; next }
	/^BENCH: / {
		m = $2
		if (!(m in cnt)) { order[++nm] = m }
		val[m, ++cnt[m]] = $3
		u = $4; for (i = 5; i <= NF; i++) u = u " " $i
		unit[m] = u
	}
	END {
		for (k = 1; k <= nm; k++) {
			m = order[k]; n = cnt[m]
			for (i = 1; i <= n; i++) a[i] = val[m, i]
			for (i = 2; i <= n; i++) {
				x = a[i]
				for (j = i - 1; j > 0 && a[j] + 0 > x + 0; j--)
					a[j + 1] = a[j]
				a[j + 1] = x
			}
			print "BENCH: " m " " a[int((n + 1) / 2)] " " unit[m]
		}
	}'
}

# User-space rows.
# mmap + first touch of every page: 64 MiB and the largest size, from the
# large pool (the small one is 64 MiB minus the nvme driver's submission
# queues).  The largest size is all that is free in whole 2 MiB (1022 MiB:
# 1 GiB minus the SQs), so that mm's default placement aligns it to 2 MiB.
# Then the same size mapped and unmapped untouched, and with one write per
# 2 MiB (huge mappings: what mapping costs, without QEMU's MMIO writes).
if [ -n "$large" ]; then
	avail=$(cat /sys/bus/pci/devices/$large/p2pmem/available)
	max=$(( (avail >> 21) << 1 ))
	median_runs 7 p2pbench mmap "$large" 64 64M
	median_runs 3 p2pbench mmap "$large" $max max
	median_runs 7 p2pbench mmap "$large" $max max 0
	median_runs 7 p2pbench mmap "$large" $max max 2048
fi
median_runs 5 p2pbench dio "$small" "$clientns" 64 1024
# O_DIRECT into a 2 MiB buffer of the large pool: one PMD on ours.
[ -n "$large" ] && median_runs 5 p2pbench dio "$large" "$clientns" 64 2048 2m
# The same 1 MiB reads through md raid0 over both plain NVMe (64 KiB
# chunks), against the bare namespace above.  Stock 6.12 refuses P2P
# memory on md: p2pbench fails and the row has no upstream value.
if [ -n "$client2ns" ] && p2pbench raid0 md9 64 "$clientns" "$client2ns"; then
	median_runs 5 p2pbench dio "$small" /dev/md9 64 1024 raid0
fi
bench_module "$small" pool64M percall_only=1 >> "$percall"
median_runs 1 cat "$percall"
fio_rows

# Random 4 KiB reads at queue depth 8 from the first client's namespace: a
# queue leased to user space and polled there, io_uring on a polled queue
# with registered buffers, and pread at depth 1 (vm/tools/leasebench.c).
# The client is bound anew, so that its probe takes poll_queues (and
# lease_queues): a reset re-reads both, but the block layer keeps the queue
# maps of the first probe and would never poll.  md9 sits on the client:
# stopped first.  Two passes: the controller as the kernel sets it up by
# default (io_uring and pread, the rows that compare with upstream), then,
# where the kernel has leases, with two queue pairs kept for them, which
# turns shadow doorbells off (the lease rows, and io_uring and pread again
# as qd_*_lq_*).  Stock 6.12 has no lease_queues: one pass, no lease row.
nvmep=/sys/module/nvme/parameters
[ -e /sys/block/md9/md/array_state ] && echo clear > /sys/block/md9/md/array_state
echo 1 > $nvmep/poll_queues
qd_pass() {
	local qdctrl= qdns= c bdf ns p2p i

	echo "$client" > /sys/bus/pci/drivers/nvme/unbind
	echo "$client" > /sys/bus/pci/drivers/nvme/bind
	for i in $(seq 30); do
		while read -r c bdf ns p2p; do
			[ "$bdf" = "$client" ] && [ "$ns" != none ] && { qdctrl=/dev/$c; qdns=$ns; }
		done <<INV
$(nvme_inventory)
INV
		[ -n "$qdns" ] && break
		sleep 1
	done
	if [ -n "$qdns" ]; then
		median_runs 3 leasebench "$qdctrl" "$qdns" 8 16384 "$@"
	else
		echo "bench: $client has no namespace after binding it again"
	fi
}
qd_pass
if [ -e $nvmep/lease_queues ]; then
	echo 2 > $nvmep/lease_queues
	qd_pass _lq
fi

# struct pages (vmemmap) spent on the registered BARs: all of them, then
# each pool's share, from what /proc/vmstat loses when its NVMe driver
# unbinds (the last rows: nothing runs after them).
memmap() { sed -n 's/^nr_memmap_pages //p' /proc/vmstat; }
per_gib() { echo $(( $1 * 4096 * 1024 / ($2 >> 20) / 1024 )); }
all=$(memmap)
bar=0
for d in /sys/bus/pci/devices/*/p2pmem; do
	bar=$(( bar + $(cat "$d/size") ))
done
[ "$bar" -gt 0 ] && echo "BENCH: vmemmap_per_gib $(per_gib "$all" "$bar") KiB"
for pool in "$small:64m" "$large:1g"; do
	bdf=${pool%:*}
	[ -n "$bdf" ] || continue
	size=$(cat "/sys/bus/pci/devices/$bdf/p2pmem/size")
	before=$(memmap)
	echo "$bdf" > /sys/bus/pci/drivers/nvme/unbind
	echo "BENCH: vmemmap_per_gib_${pool##*:} $(per_gib $(( before - $(memmap) )) "$size") KiB"
done
exit 0
