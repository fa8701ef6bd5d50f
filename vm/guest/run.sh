# SPDX-License-Identifier: GPL-2.0
# The main job (make run): show the published p2pmem, the kernel's P2P verdict
# and an O_DIRECT copy NVMe B -> p2pmem of NVMe A -> NVMe C, verified; then
# the same through a RAID: NVMe A -> p2pmem -> md raid0 over B and C.
. /opt/p2p/guest/lib.sh

provider=; providerns=; others=; clients=
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
p2pcopy "$provider" "$1" "$2" 16 1024
rc=$?
echo "== p2pmem of $provider after the copy: available $(cat $d/available)"
[ $rc -eq 0 ] || dmesg | grep -i 'peer-to-peer' | tail -n 5

# Through a stacked device: md raid0 (64 KiB chunks, no superblock) over
# the two namespaces.  Stock 6.12 refuses P2P memory on md (EREMOTEIO);
# only our kernel must get it through.
if [ "$providerns" != none ] && p2pbench raid0 md9 64 "$1" "$2"; then
	echo "== /dev/md9: raid0 over $1 $2, queue/pci_p2pdma $(cat /sys/block/md9/queue/pci_p2pdma 2>/dev/null || echo absent)"
	echo "== O_DIRECT copy $providerns -> p2pmem($provider) -> /dev/md9"
	p2pcopy "$provider" "$providerns" /dev/md9 16 1024
	mdrc=$?
	[ "$P2P_KERNEL" = ours ] && [ $mdrc -ne 0 ] && rc=$mdrc
fi
exit $rc
