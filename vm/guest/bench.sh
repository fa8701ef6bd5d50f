# SPDX-License-Identifier: GPL-2.0
# make bench, inside the guest: the same measurements on whichever kernel
# booted.  Prints "BENCH: <metric> <value> <unit>" lines.
. /opt/p2p/guest/lib.sh

small=; large=; client=; clientns=
while read -r c bdf ns p2p; do
	if [ "$p2p" = 1 ]; then
		size=$(cat /sys/bus/pci/devices/$bdf/p2pmem/size)
		if [ "$size" -le $((64 << 20)) ]; then small=$bdf; else large=$bdf; fi
	elif [ -z "$client" ]; then
		client=$bdf; clientns=$ns
	fi
done <<INV
$(nvme_inventory)
INV
echo "bench: small pool $small, large pool $large, client $client ($clientns)"
[ -n "$small" ] && [ -n "$client" ] || exit 1

# In-kernel rows: allocator, cached distance, dma_map_sg of P2P pages.
bench_module() {
	dmesg -c > /dev/null
	insmod /opt/p2p/modules/p2pdma_bench.ko provider="$1" client="$client" label="$2"
	rmmod p2pdma_bench
	dmesg | sed -n 's/.*p2pdma_bench: RESULT \([^=]*\)=\([^ ]*\) \(.*\)$/BENCH: \1 \2 \3/p'
}
bench_module "$small" pool64M
[ -n "$large" ] && bench_module "$large" poolmax | grep alloc_free

# User-space rows.
# mmap + first touch: 64 MiB and the largest size, from the large pool (the
# small one is 64 MiB minus the nvme driver's submission queues).
if [ -n "$large" ]; then
	avail=$(cat /sys/bus/pci/devices/$large/p2pmem/available)
	p2pbench mmap "$large" 64 64M
	p2pbench mmap "$large" $(( avail >> 20 )) max
fi
p2pbench dio "$small" "$clientns" 64 1024

# struct pages (vmemmap) spent on the registered BARs.
memmap=$(sed -n 's/^nr_memmap_pages //p' /proc/vmstat)
bar=0
for d in /sys/bus/pci/devices/*/p2pmem; do
	bar=$(( bar + $(cat "$d/size") ))
done
[ "$bar" -gt 0 ] && echo "BENCH: vmemmap_per_gib $(( memmap * 4096 * 1024 / (bar >> 20) / 1024 )) KiB"
exit 0
