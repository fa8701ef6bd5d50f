#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# P2P memory through md arrays and dm devices built the way users build
# them: mdadm (metadata 1.2, internal bitmap, a write-mostly member with
# write-behind, --fail/--remove/--re-add and resync) and dmsetup (create,
# reload), with fio moving and verifying the data from a buffer that is an
# mmap of the provider's p2pmem/allocate (fio's --mem=mmapshared:<file>).
#
# Runs in the stack topology (vm/topologies/stack), whose guest has Debian's
# mdadm, dmsetup and fio (USERLAND=debian): NVMe A publishes its CMB as
# p2pmem; B and C sit under the same switch (reachable by bus address); D
# is on another root port of an Intel host bridge, so it cannot reach A's
# memory.
#
# What is checked, and where the expected values come from:
#  - fio's verify (crc32c headers written, read back into P2P memory and
#    checked) for every transfer;
#  - md's own view: mdadm --detail for the members' states, the raid1
#    "check" pass's mismatch_cnt for mirror equality after a resync;
#  - md's write-behind counter (md/bitmap/max_backlog_used): P2P writes
#    must not take the write-behind path, which would copy the P2P pages
#    with the CPU; host-memory writes through the same array must (the
#    control that shows write-behind is really on);
#  - the same fio job onto D fails with EREMOTEIO (the buffer really is P2P
#    memory, and the refusal reaches the user).
#
# On stock 6.12 (P2P_KERNEL=baseline) no stacked device takes P2P memory:
# each stacked case checks that its first P2P write is refused, and skips.
#
# Output: KTAP, one line per case.

STOCK="stock 6.12: no P2P memory on stacked devices (EREMOTEIO)"
TMP=${TMPDIR:-/tmp}/p2pdma_stack_tools.$$
SIZE=8m			# bytes each fio job moves
BS=128k
n=0
failed=0
R1_STOCK=

ktap_ok() { n=$((n + 1)); echo "ok $n $1"; }
ktap_fail() { n=$((n + 1)); echo "not ok $n $1"; failed=1; }
ktap_skip() { n=$((n + 1)); echo "ok $n $1 # SKIP $2"; }
log() { echo "# $*"; }

# The NVMe namespace whose controller has serial $1 (nvme2n1).
disk_of() {
	local c
	for c in /sys/class/nvme/nvme*; do
		[ "$(cat "$c/serial" 2>/dev/null | tr -d ' ')" = "$1" ] || continue
		for ns in "$c"/nvme*n1; do
			[ -e "$ns" ] && { basename "$ns"; return 0; }
		done
	done
	return 1
}

provider() {
	local d
	for d in /sys/bus/pci/devices/*/p2pmem; do
		[ -d "$d" ] && { basename "$(dirname "$d")"; return 0; }
	done
	return 1
}

# The kernel name of a dm device (dm-0): without udev, /dev/mapper/<name>
# is a node of its own, not a link.
dm_dev() { dmsetup info -c --noheadings -o blkdevname "$1"; }

# A job's device must be a block device: fio would create a regular file
# of that name and "pass".
is_bdev() {
	[ -b "/dev/$2" ] && return 0
	echo "no block device /dev/$2" > "$TMP/$1.out"
	return 1
}

# fio_job <mem> <name> <dev> <rw> [fio options...]: a fio job with buffer
# <mem> (fio's --mem); verify=crc32c, so a write is read back and checked.
# Output in $TMP/<name>.out; status is fio's.
fio_job() {
	local mem=$1 name=$2 dev=$3 rw=$4
	shift 4
	is_bdev "$name" "$dev" || return 2
	fio --name="$name" --filename="/dev/$dev" --rw="$rw" --bs=$BS \
		--size=$SIZE --direct=1 --ioengine=psync --verify=crc32c \
		--mem="$mem" "$@" > "$TMP/$name.out" 2>&1
}

# p2p_fio <name> <dev> <rw> [options]: the buffer is an mmap of
# p2pmem/allocate, so the data is read back into P2P memory.
p2p_fio() {
	fio_job "mmapshared:/sys/bus/pci/devices/$PROV/p2pmem/allocate" "$@"
}

# host_fio: the same from an ordinary (anonymous) host buffer.
host_fio() { fio_job malloc "$@"; }

# Show the end of a job's output (for a failure).
show() { tail -n 8 "$TMP/$1.out" | sed 's/^/#   /'; }

# fio_refused <name>: the job failed with EREMOTEIO.
fio_refused() { grep -q 'Remote I/O error' "$TMP/$1.out"; }

# stock_refuses <name> <dev>: on baseline, a P2P write onto <dev> is
# refused (then the case skips); if stock took it, the case goes on.
stock_refuses() {
	[ "${P2P_KERNEL:-}" = baseline ] || return 1
	! p2p_fio "$1" "$2" write --size=$BS && fio_refused "$1"
}

md_dev() { basename "$(readlink -f "/dev/md/$1")"; }

md_sysfs() { cat "/sys/block/$(md_dev "$1")/md/$2"; }

md_stop() { mdadm --stop "/dev/md/$1" > /dev/null 2>&1; }

# mdadm --create, answering its questions, with the metadata users get.
md_create() {
	local name=$1
	shift
	mdadm --create "/dev/md/$name" --run --metadata=1.2 --homehost=any \
		"$@" > "$TMP/create-$name.out" 2>&1 < /dev/null
}

# Wait for a resync or recovery to end, then run raid1's "check" pass and
# print mismatch_cnt (sectors that differ between the mirrors).
md_check() {
	local dev
	dev=$(md_dev "$1")
	mdadm --wait "/dev/md/$1" > /dev/null 2>&1
	echo check > "/sys/block/$dev/md/sync_action"
	sleep 0.2
	mdadm --wait "/dev/md/$1" > /dev/null 2>&1
	cat "/sys/block/$dev/md/mismatch_cnt"
}

wipe_members() {
	local d
	for d in "$@"; do
		mdadm --zero-superblock "/dev/$d" > /dev/null 2>&1
		dd if=/dev/zero of="/dev/$d" bs=1M count=1 2> /dev/null
	done
}

cleanup() {
	local m
	for m in p2p-r1 p2p-r0 p2p-lin; do
		md_stop "$m"
	done
	dmsetup remove p2p-dm-linear > /dev/null 2>&1
	dmsetup remove p2p-dm-striped > /dev/null 2>&1
	wipe_members "$B" "$C" "$D"
	rm -rf "$TMP"
}

# --- raid1: bitmap, write-mostly member, write-behind ---
case_raid1_write_mostly() {
	local t=mdadm_raid1_bitmap_write_mostly_no_behind_for_p2p
	local used detail

	if ! md_create p2p-r1 --level=1 --raid-devices=2 --bitmap=internal \
		--write-behind=256 "/dev/$B" --write-mostly "/dev/$C"; then
		sed 's/^/#   /' "$TMP/create-p2p-r1.out"
		ktap_fail "$t"
		return 1
	fi
	detail=$(mdadm --detail /dev/md/p2p-r1)
	if ! echo "$detail" | grep -q 'Intent Bitmap : Internal' ||
	   ! echo "$detail" | grep "/dev/$C" | grep -q writemostly; then
		echo "$detail" | sed 's/^/#   /'
		ktap_fail "$t"
		return 1
	fi
	mdadm --wait /dev/md/p2p-r1 > /dev/null 2>&1
	if stock_refuses s1 "$(md_dev p2p-r1)"; then
		R1_STOCK=1
		ktap_skip "$t" "$STOCK"
		return 1
	fi
	echo 0 > "/sys/block/$(md_dev p2p-r1)/md/bitmap/max_backlog_used"
	if ! p2p_fio r1p2p "$(md_dev p2p-r1)" write; then
		show r1p2p
		ktap_fail "$t"
		return 1
	fi
	used=$(md_sysfs p2p-r1 bitmap/max_backlog_used)
	log "write-behind slots used by P2P writes: $used"
	# The control: host-memory writes through the same array do go
	# behind, so a 0 above is not write-behind being off.
	echo 0 > "/sys/block/$(md_dev p2p-r1)/md/bitmap/max_backlog_used"
	host_fio r1host "$(md_dev p2p-r1)" write --offset=$SIZE --iodepth=16 \
		--ioengine=libaio
	log "write-behind slots used by host writes: $(md_sysfs p2p-r1 bitmap/max_backlog_used)"
	if [ "$used" != 0 ] ||
	   [ "$(md_sysfs p2p-r1 bitmap/max_backlog_used)" = 0 ]; then
		ktap_fail "$t"
		return 1
	fi
	ktap_ok "$t"
}

# --- raid1: fail, remove, re-add, bitmap resync; data on each mirror ---
case_raid1_fail_readd() {
	local t=mdadm_raid1_fail_remove_readd_resync

	if [ -n "$R1_STOCK" ]; then
		ktap_skip "$t" "$STOCK"
		return
	fi
	if [ ! -e /dev/md/p2p-r1 ]; then
		log "no array from the case before"
		ktap_fail "$t"
		return
	fi
	mdadm /dev/md/p2p-r1 --fail "/dev/$C" > /dev/null 2>&1
	mdadm /dev/md/p2p-r1 --remove "/dev/$C" > /dev/null 2>&1
	if [ "$(md_sysfs p2p-r1 degraded)" != 1 ]; then
		log "degraded: $(md_sysfs p2p-r1 degraded)"
		ktap_fail "$t"
		return
	fi
	# A new pattern (another fio seed) while C is out: only the bitmap
	# remembers which regions C missed.
	if ! p2p_fio deg "$(md_dev p2p-r1)" write --randseed=7; then
		show deg
		ktap_fail "$t"
		return
	fi
	if ! mdadm /dev/md/p2p-r1 --re-add "/dev/$C" > "$TMP/readd.out" 2>&1; then
		sed 's/^/#   /' "$TMP/readd.out"
		ktap_fail "$t"
		return
	fi
	mm=$(md_check p2p-r1)
	log "after re-add: degraded $(md_sysfs p2p-r1 degraded), mismatch_cnt $mm"
	if [ "$(md_sysfs p2p-r1 degraded)" != 0 ] || [ "$mm" != 0 ]; then
		ktap_fail "$t"
		return
	fi
	# Only C (the re-added, write-mostly mirror) left: a P2P read must
	# still verify the degraded-time pattern.
	mdadm /dev/md/p2p-r1 --fail "/dev/$B" > /dev/null 2>&1
	if ! p2p_fio deg "$(md_dev p2p-r1)" write --randseed=7 --verify_only=1; then
		show deg
		ktap_fail "$t"
		return
	fi
	ktap_ok "$t"
}

# --- raid0 and linear, superblock 1.2 ---
case_md_level() {
	local level=$1 name=$2 t="mdadm_${1}_p2p_write_verify" off

	wipe_members "$B" "$C"
	if ! md_create "$name" --level="$level" --raid-devices=2 "/dev/$B" \
		"/dev/$C"; then
		sed 's/^/#   /' "$TMP/create-$name.out"
		ktap_fail "$t"
		return
	fi
	# Linear: from 4 MiB before the end of B's data into C.
	off=0
	[ "$level" = linear ] &&
		off=$(( $(md_sysfs "$name" "dev-$B/size") * 1024 - 4194304 ))
	if stock_refuses "s-$name" "$(md_dev "$name")"; then
		ktap_skip "$t" "$STOCK"
	elif p2p_fio "$name" "$(md_dev "$name")" write --offset=$off; then
		ktap_ok "$t"
	else
		show "$name"
		ktap_fail "$t"
	fi
	md_stop "$name"
}

# Sectors of a block device.
sectors() { cat "/sys/class/block/$1/size"; }

# --- dm linear and striped with dmsetup; reload onto D and back ---
case_dm() {
	local t=dmsetup_linear_striped_reload half lin
	local sb sc sd seam

	wipe_members "$B" "$C" "$D"
	sb=$(sectors "$B"); sc=$(sectors "$C"); sd=$(sectors "$D")
	lin="0 $sb linear /dev/$B 0
$sb $sc linear /dev/$C 0"
	if ! echo "$lin" | dmsetup create p2p-dm-linear; then
		ktap_fail "$t"
		return
	fi
	lin=$(dm_dev p2p-dm-linear)
	if stock_refuses s-dm "$lin"; then
		ktap_skip "$t" "$STOCK"
		return
	fi
	# Across the boundary between B and C.
	if ! p2p_fio dml "$lin" write --offset=$((sb * 512 - 4 * 1048576)); then
		show dml
		ktap_fail "$t"
		return
	fi
	half=$((sb < sc ? sb : sc))
	half=$((half / 128 * 128))
	if ! echo "0 $((half * 2)) striped 2 128 /dev/$B 0 /dev/$C 0" |
		dmsetup create p2p-dm-striped ||
	   ! p2p_fio dms "$(dm_dev p2p-dm-striped)" write; then
		show dms
		ktap_fail "$t"
		return
	fi
	dmsetup remove p2p-dm-striped
	# Reload the linear device with D (which cannot reach A's memory) as
	# its second target: a P2P write across the seam is refused with
	# EREMOTEIO, not failed half-way; host I/O there still works.
	echo "0 $sb linear /dev/$B 0
$sb $sd linear /dev/$D 0" | dmsetup reload p2p-dm-linear &&
		dmsetup resume p2p-dm-linear
	seam=$((sb * 512 - 65536))
	dmsetup deps -o devname p2p-dm-linear | sed 's/^/# /'
	if p2p_fio dmfar "$lin" write --size=$BS --offset=$seam ||
	   ! fio_refused dmfar ||
	   ! host_fio dmhost "$lin" write --size=$BS --offset=$seam; then
		show dmfar
		ktap_fail "$t"
		return
	fi
	# And back to B + C: P2P works again.
	echo "0 $sb linear /dev/$B 0
$sb $sc linear /dev/$C 0" | dmsetup reload p2p-dm-linear &&
		dmsetup resume p2p-dm-linear
	if ! p2p_fio dmback "$lin" write; then
		show dmback
		ktap_fail "$t"
		return
	fi
	dmsetup remove p2p-dm-linear
	ktap_ok "$t"
}

# --- the control: D refuses fio's P2P buffer ---
case_far_disk() {
	local t=fio_p2p_buffer_refused_by_unreachable_disk

	if p2p_fio far "$D" write --size=$BS || ! fio_refused far; then
		show far
		ktap_fail "$t"
		return
	fi
	ktap_ok "$t"
}

echo "TAP version 13"
if [ "${P2P_TOPOLOGY:-}" != stack ]; then
	echo "1..0 # SKIP needs the stack topology (vm/topologies/stack)"
	exit 4
fi
for tool in mdadm dmsetup fio; do
	if ! command -v $tool > /dev/null; then
		echo "1..0 # SKIP no $tool (the topology's USERLAND=debian guest has it)"
		exit 4
	fi
done
mkdir -p "$TMP"
B=$(disk_of plainB); C=$(disk_of plainC); D=$(disk_of farD); PROV=$(provider)
log "provider $PROV, B $B, C $C, D $D, $(mdadm --version 2>&1), $(fio --version)"
if [ -z "$B" ] || [ -z "$C" ] || [ -z "$D" ] || [ -z "$PROV" ]; then
	echo "1..0 # SKIP the stack topology's NVMe devices are missing"
	exit 4
fi
echo "1..6"
trap cleanup EXIT
cleanup 2> /dev/null
mkdir -p "$TMP"
case_far_disk
case_raid1_write_mostly
case_raid1_fail_readd
md_stop p2p-r1
case_md_level raid0 p2p-r0
case_md_level linear p2p-lin
case_dm
exit $failed
