# SPDX-License-Identifier: GPL-2.0
# The main job (make run): show the NVMe controllers (nvme list) and the CMB
# (nvme show-regs), the published p2pmem, the kernel's P2P verdict and an
# O_DIRECT copy NVMe B -> p2pmem of NVMe A -> NVMe C, verified, with the
# verdict trace events trace-cmd recorded during it; then the same through a
# RAID: NVMe A -> p2pmem -> md raid0 (mdadm) over B and C.  The Debian tools
# come with USERLAND=debian (vm/topologies/switch); without them the job
# falls back to the harness's own helpers.
. /opt/p2p/guest/lib.sh

provider=; providerns=; others=; clients=
if command -v nvme > /dev/null; then
	echo "== nvme list"
	nvme list | sed 's/ *$//; s/^/   /'
fi
echo "== NVMe controllers (ctrl, PCI address, namespace, has p2pmem)"
nvme_inventory | while read -r line; do echo "   $line"; done
while read -r c bdf ns p2p; do
	if [ "$p2p" = 1 ] && [ -z "$provider" ]; then
		provider=$bdf; providerns=$ns
	elif [ "$ns" != none ]; then
		others="$others $ns"
		clients="$clients $bdf"
	fi
done <<INV
$(nvme_inventory)
INV
if [ -z "$provider" ]; then
	echo "run: no device publishes p2pmem"
	exit 1
fi
d=/sys/bus/pci/devices/$provider/p2pmem
pctrl=$(basename /sys/bus/pci/devices/"$provider"/nvme/nvme*)
if command -v nvme > /dev/null; then
	echo "== the CMB of /dev/$pctrl, as nvme-cli reads it (nvme show-regs -H)"
	nvme show-regs "/dev/$pctrl" -H 2>&1 | grep -A 12 '^cmbloc' |
		grep -v '^ *$' | sed 's/^/   /'
fi
echo "== p2pmem of $provider: size $(cat $d/size) bytes, available $(cat $d/available), published $(cat $d/published)"

set -- $others
if [ $# -lt 2 ]; then
	echo "run: need two NVMe namespaces besides the provider"
	exit 1
fi
# The verdict of every pair: one cat of each provider's p2pmem/peers.  A
# kernel without that file (stock upstream) answers through the test module.
peers=
for f in /sys/bus/pci/devices/*/p2pmem/peers; do
	[ -r "$f" ] || continue
	echo "== cat $f"
	sed 's/^/   /' "$f"
	peers=1
done
if [ -z "$peers" ] && [ -x /opt/p2p/bin/p2pdma-verdict ]; then
	insmod /opt/p2p/modules/test_p2pdma.ko 2>/dev/null
	for c in $clients; do
		echo "== kernel verdict, provider $provider -> client $c:"
		if ! p2pdma-verdict "$provider" "$c" > /tmp/verdict; then
			dmesg | grep -i 'peer-to-peer\|acs\|host bridge' |
				grep -v 'added peer-to-peer' | tail -n 3 >> /tmp/verdict
		fi
		sed 's/^/   /' /tmp/verdict
	done
fi
echo "== O_DIRECT copy $1 -> p2pmem($provider) -> $2"
if command -v trace-cmd > /dev/null; then
	# The verdicts the copy asks for, as trace-cmd records them.
	trace-cmd record -q -e p2pdma -o /tmp/p2p.dat \
		p2pcopy "$provider" "$1" "$2" 16 1024
	rc=$?
	echo "== trace-cmd report (trace-cmd record -e p2pdma, during the copy)"
	trace-cmd report -i /tmp/p2p.dat 2>/dev/null | grep p2pdma_ |
		head -n 6 | sed 's/^ */   /'
else
	p2pcopy "$provider" "$1" "$2" 16 1024
	rc=$?
fi
echo "== p2pmem of $provider after the copy: available $(cat $d/available)"
[ $rc -eq 0 ] || dmesg | grep -i 'peer-to-peer' | tail -n 5

# Through a stacked device: an md raid0 over the two namespaces, made by
# mdadm as users make it (superblock 1.2); in the busybox guest, without
# a superblock by p2pbench's md ioctls.  Stock 6.12 refuses P2P memory on
# md (EREMOTEIO); only our kernel must get it through.
md=
if [ "$providerns" = none ]; then
	:
elif command -v mdadm > /dev/null; then
	if mdadm --create /dev/md/p2p-raid0 --run --metadata=1.2 --level=0 \
		--chunk=64 --raid-devices=2 "$1" "$2" < /dev/null > /tmp/mdadm 2>&1; then
		md=/dev/$(basename "$(readlink -f /dev/md/p2p-raid0)")
		echo "== mdadm --detail /dev/md/p2p-raid0 ($md)"
		mdadm --detail /dev/md/p2p-raid0 |
			grep -E 'Raid Level|Array Size|Version|Chunk|active sync' |
			sed 's/^ */   /'
	else
		sed 's/^/   /' /tmp/mdadm
	fi
elif p2pbench raid0 md9 64 "$1" "$2"; then
	md=/dev/md9
	echo "== $md: raid0 over $1 $2 (no superblock)"
fi
if [ -n "$md" ]; then
	echo "== $md: queue/pci_p2pdma $(cat /sys/block/${md#/dev/}/queue/pci_p2pdma 2>/dev/null || echo absent)"
	echo "== O_DIRECT copy $providerns -> p2pmem($provider) -> $md"
	p2pcopy "$provider" "$providerns" "$md" 16 1024
	mdrc=$?
	[ "$P2P_KERNEL" = ours ] && [ $mdrc -ne 0 ] && rc=$mdrc
fi
exit $rc
