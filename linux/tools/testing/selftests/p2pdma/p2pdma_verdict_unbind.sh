#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The verdict cache against driver rebinds, watched with trace-cmd: each
# time the kernel works out a verdict (instead of finding it cached) it
# fires the p2pdma:p2pdma_verdict trace event, which names the client.
#
#  - verdict_cached_between_transfers: a second fio job reading NVMe B into
#    a p2pmem buffer fires no event for B (the first one cached the
#    verdict; this is the control for the next case);
#  - verdict_judged_again_after_rebind: once B's driver is unbound and
#    bound again, the same job fires the event for B again (a device that
#    gets or loses a driver is judged anew), and the verdict is the one
#    p2pmem/peers shows.
#
# Needs trace-cmd and fio (the topology's USERLAND=debian guest: switch);
# without them it plans nothing.  Stock 6.12 has no p2pdma trace events:
# there each case skips.  Unbinds a driver, hence the name (run with the
# disruptive tests, after the others).
#
# Output: KTAP.

TMP=${TMPDIR:-/tmp}/p2pdma_verdict_unbind.$$
n=0
failed=0

ktap_ok() { n=$((n + 1)); echo "ok $n $1"; }
ktap_fail() { n=$((n + 1)); echo "not ok $n $1"; failed=1; }
ktap_skip() { n=$((n + 1)); echo "ok $n $1 # SKIP $2"; }
log() { echo "# $*"; }

provider() {
	local d
	for d in /sys/bus/pci/devices/*/p2pmem; do
		[ -d "$d" ] && { basename "$(dirname "$d")"; return 0; }
	done
	return 1
}

# The namespace of the NVMe controller at PCI address $1 (nvme1n1).
ns_of() {
	local ns
	for ns in /sys/bus/pci/devices/"$1"/nvme/nvme*/nvme*n1; do
		[ -e "$ns" ] && { basename "$ns"; return 0; }
	done
	return 1
}

# A client of the provider that its peers file says is reached by bus
# address, with a namespace: its PCI address.
client() {
	local bdf map rest
	while read -r bdf map rest; do
		[ "$bdf" != "$PROV" ] && [ "$map" = bus_addr ] &&
			ns_of "$bdf" > /dev/null && { echo "$bdf"; return 0; }
	done < "/sys/bus/pci/devices/$PROV/p2pmem/peers"
	return 1
}

# events <name>: p2pdma_verdict events for client $B while a fio job reads
# $B's namespace into a p2pmem buffer.  Prints the count; fails if fio did.
events() {
	local ns
	ns=$(ns_of "$B") || { log "$B has no namespace"; return 1; }
	trace-cmd record -q -e p2pdma:p2pdma_verdict -o "$TMP/$1.dat" \
		fio --name="$1" --filename="/dev/$ns" --rw=read --bs=64k \
		--size=1m --direct=1 --ioengine=psync \
		--mem="mmapshared:/sys/bus/pci/devices/$PROV/p2pmem/allocate" \
		> "$TMP/$1.out" 2>&1 || { tail -n 5 "$TMP/$1.out" | sed 's/^/#   /'; return 1; }
	trace-cmd report -i "$TMP/$1.dat" 2> /dev/null > "$TMP/$1.txt"
	grep -c "p2pdma_verdict:.*client=$B " "$TMP/$1.txt"
}

rebind() {
	local i
	echo "$B" > /sys/bus/pci/drivers/nvme/unbind || return 1
	echo "$B" > /sys/bus/pci/drivers/nvme/bind || return 1
	for i in $(seq 100); do
		ns=$(ns_of "$B") && [ -b "/dev/$ns" ] && return 0
		sleep 0.1
	done
	return 1
}

echo "TAP version 13"
for tool in trace-cmd fio; do
	if ! command -v $tool > /dev/null; then
		echo "1..0 # SKIP no $tool (a USERLAND=debian guest has it)"
		exit 4
	fi
done
if [ ! -d /sys/kernel/tracing/events/p2pdma ]; then
	echo "1..2"
	ktap_skip verdict_cached_between_transfers "stock 6.12: no p2pdma trace events"
	ktap_skip verdict_judged_again_after_rebind "stock 6.12: no p2pdma trace events"
	exit 0
fi
PROV=$(provider) || { echo "1..0 # SKIP no p2pmem provider"; exit 4; }
B=$(client) || { echo "1..0 # SKIP no NVMe reached by bus address"; exit 4; }
mkdir -p "$TMP"
trap 'rm -rf "$TMP"' EXIT
echo "1..2"
log "provider $PROV, client $B ($(ns_of "$B"))"

# The first job caches the verdict (if nothing did before); the second
# must find it.
events prime > /dev/null
c=$(events cached | tail -n 1)
log "events for $B with the verdict cached: $c"
if [ "$c" = 0 ]; then
	ktap_ok verdict_cached_between_transfers
else
	ktap_fail verdict_cached_between_transfers
fi

if ! rebind; then
	log "$B did not come back with a namespace after unbind and bind"
	ktap_fail verdict_judged_again_after_rebind
	exit 1
fi
c=$(events rebound | tail -n 1)
peer=$(grep "^$B " "/sys/bus/pci/devices/$PROV/p2pmem/peers")
log "events for $B after the rebind: $c; peers: $peer"
# The event's verdict is the peers line's: map type and distance.
set -- $peer
if [ "${c:-0}" -ge 1 ] &&
   grep -q "client=$B map=$2 distance=$3 " "$TMP/rebound.txt"; then
	ktap_ok verdict_judged_again_after_rebind
else
	ktap_fail verdict_judged_again_after_rebind
fi
exit $failed
