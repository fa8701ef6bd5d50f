# SPDX-License-Identifier: GPL-2.0
# Helpers shared by the guest suites (sourced).

# result ok|fail|skip name [reason]: one line the host counts.  A kernel
# variant (p2p.variant=debug) prefixes the name, so that the results of the
# debug kernel do not clash with the normal one's.
result() {
	local name=${P2P_VARIANT:+$P2P_VARIANT.}$2
	case "$1" in
	ok) echo "P2P-RESULT: ok $name" ;;
	skip) echo "P2P-RESULT: skip $name # ${3:-}" ;;
	*) echo "P2P-RESULT: not ok $name # ${3:-}"; FAILED=1 ;;
	esac
}

# One result per case of the KUnit suites that ran at boot (built in).
kunit_results() {
	local dir suite line name
	for dir in /sys/kernel/debug/kunit/*/; do
		[ -f "$dir/results" ] || continue
		suite=$(basename "$dir")
		# Test cases are the KTAP lines indented by exactly four spaces.
		grep -E '^    (not )?ok [0-9]+ ' "$dir/results" | while read -r line; do
			name=$(echo "$line" | sed -E 's/^(not )?ok [0-9]+ ([^ #]+).*/\2/')
			case "$line" in
			*"# SKIP"*) result skip "kunit.$suite.$name" "${line#*# SKIP}" ;;
			"not ok"*) result fail "kunit.$suite.$name" ;;
			*) result ok "kunit.$suite.$name" ;;
			esac
		done
	done
}

# PCI address of an NVMe controller (nvme0 -> 0000:03:00.0).
ctrl_bdf() {
	basename "$(readlink -f "/sys/class/nvme/$1/device")"
}

# The block device of a controller's first namespace.  With multipath the
# controller holds the hidden path nvme<S>c<C>n1 and the disk is nvme<S>n1.
ctrl_ns() {
	local n
	for n in /sys/class/nvme/$1/nvme*n1; do
		n=$(basename "$n" | sed -E 's/c[0-9]+n/n/')
		[ -b "/dev/$n" ] && { echo "/dev/$n"; return 0; }
	done
	return 1
}

# Print "<ctrl> <bdf> <blockdev> <has-p2pmem 0|1>" for every controller.
nvme_inventory() {
	local c bdf
	for c in $(ls /sys/class/nvme/ 2>/dev/null); do
		bdf=$(ctrl_bdf "$c")
		echo "$c $bdf $(ctrl_ns "$c" || echo none) $([ -d "/sys/bus/pci/devices/$bdf/p2pmem" ] && echo 1 || echo 0)"
	done
}

# Is there a QEMU edu device (PCI 1234:11e8)?
has_edu() {
	local d
	for d in /sys/bus/pci/devices/*; do
		[ "$(cat "$d/vendor")" = 0x1234 ] &&
			[ "$(cat "$d/device")" = 0x11e8 ] && return 0
	done
	return 1
}
