# SPDX-License-Identifier: GPL-2.0
# The test suite (make test), per topology: KUnit results from boot, config
# space checks (extended config space, ACS), a P2P smoke test with the
# verdict this topology expects, the p2pdma kselftests, and a kmemleak scan.
# Prints one "P2P-RESULT:" line per test (prefixed with the kernel variant,
# e.g. "debug.", when p2p.variant= is set).  Which results a topology must
# produce is listed in vm/expected/ and checked on the host.
. /opt/p2p/guest/lib.sh
FAILED=0
T=$P2P_TOPOLOGY

# --- KUnit suites that ran at boot (built-in) ---
if [ "$T" = switch ] || [ -n "${P2P_KUNIT_EVERYWHERE:-}" ]; then
	kunit_results
fi

# --- config space: what the kernel can see of the devices' capabilities ---
# 16-bit and 32-bit little-endian reads of a device's config space (sysfs).
cfg16() { od -An -tu2 -j "$2" -N2 "/sys/bus/pci/devices/$1/config" | tr -d ' '; }
cfg32() { od -An -tu4 -j "$2" -N4 "/sys/bus/pci/devices/$1/config" | tr -d ' '; }
# Offset of extended capability $2 of device $1 (nothing when absent).
ext_cap() {
	local off=256 hdr n=0
	while [ "$off" -ge 256 ] && [ $n -lt 64 ]; do
		hdr=$(cfg32 "$1" "$off")
		[ -z "$hdr" ] || [ "$hdr" = 0 ] || [ "$hdr" = 4294967295 ] && return 1
		[ $((hdr & 0xffff)) -eq "$2" ] && { echo "$off"; return 0; }
		off=$(((hdr >> 20) & 0xffc))
		n=$((n + 1))
	done
	return 1
}
# Every PCIe device (it has the PCIe-only link attributes, which come from
# the capability in the first 256 bytes) must show 4096 bytes of config
# space; 256 means the kernel cannot reach extended config space (no
# MMCONFIG) and every ACS check is dead code.
npcie=0; short=
for d in /sys/bus/pci/devices/*; do
	[ -e "$d/current_link_speed" ] || continue
	npcie=$((npcie + 1))
	size=$(stat -c %s "$d/config")
	[ "$size" = 4096 ] || short="$short $(basename "$d")=$size"
done
if [ $npcie -eq 0 ]; then
	result fail "config.$T.extended_config_space" "no PCIe device found"
elif [ -n "$short" ]; then
	result fail "config.$T.extended_config_space" "config space not 4096 bytes:$short"
else
	result ok "config.$T.extended_config_space"
fi
# ACS on the root port above the one-slot NVMe functions (0000:00:04.0):
# the control register read back from config space, P2P Request and
# Completion Redirect (bits 2 and 3) set by pci=config_acs in acs-redir*,
# clear in acs (never set) and acs-disabled (set for the IOMMU, cleared by
# pci=disable_acs_redir).
rp=0000:00:04.0
case "$T" in
acs-redir|acs-redir-amd) want=set ;;
acs|acs-disabled) want=clear ;;
*) want= ;;
esac
if [ -n "$want" ]; then
	pos=$(ext_cap $rp 13)
	if [ -z "$pos" ]; then
		result fail "config.$T.acs_rr_cr_$want" "no ACS capability on $rp"
	else
		ctrl=$(cfg16 $rp $((pos + 6)))
		rrcr=$((ctrl & 12))
		echo "# $rp: ACS capability at $pos, control $(printf 0x%04x "$ctrl")"
		if { [ $want = set ] && [ $rrcr -eq 12 ]; } ||
		   { [ $want = clear ] && [ $rrcr -eq 0 ]; }; then
			result ok "config.$T.acs_rr_cr_$want"
		else
			result fail "config.$T.acs_rr_cr_$want" "ACS control $(printf 0x%04x "$ctrl")"
		fi
	fi
	# acs-disabled: the kernel set RR+CR on every root port for the
	# IOMMU; the empty root port 0000:00:05.0 keeps them.
	if [ "$T" = acs-disabled ]; then
		pos=$(ext_cap 0000:00:05.0 13)
		ctrl=$(cfg16 0000:00:05.0 $((${pos:-0} + 6)))
		if [ -n "$pos" ] && [ $((ctrl & 12)) -eq 12 ]; then
			result ok "config.$T.acs_rr_cr_set_on_other_port"
		else
			result fail "config.$T.acs_rr_cr_set_on_other_port" "0000:00:05.0 ACS at '$pos', control $ctrl"
		fi
	fi
	if [ $want = set ]; then
		if dmesg | grep -q "$rp: Configured ACS to 0x000c"; then
			result ok "config.$T.acs_configured_logged"
		else
			result fail "config.$T.acs_configured_logged" "no 'Configured ACS to 0x000c' for $rp in dmesg"
		fi
	fi
fi

# --- smoke: the provider is published and P2P does what the topology says ---
# The provider is NVMe A (serial cmbA) when there is one, else the first
# controller with p2pmem; the others with a namespace are the copy's ends,
# but for paths of a multipath namespace and controllers put out of the
# provider's reach on purpose (serial far*), which the stacked-device
# selftests use.  With only one other (lease-amd: A and B), the copy goes
# from it to the provider's own namespace.
provider=; others=
for c in $(ls /sys/class/nvme/ 2>/dev/null); do
	[ "$(cat /sys/class/nvme/$c/serial 2>/dev/null | tr -d ' ')" = cmbA ] || continue
	bdf=$(ctrl_bdf "$c")
	[ -d "/sys/bus/pci/devices/$bdf/p2pmem" ] && provider=$bdf
done
own=
while read -r c bdf ns p2p; do
	[ "$bdf" = "$provider" ] && { own=$ns; continue; }
	case "$(tr -d ' ' < /sys/class/nvme/$c/serial)" in far*) continue ;; esac
	ls -d /sys/class/nvme/$c/nvme*c*n* >/dev/null 2>&1 && continue
	if [ "$p2p" = 1 ] && [ -z "$provider" ]; then
		provider=$bdf
	elif [ "$ns" != none ]; then
		others="$others $ns"
	fi
done <<INV
$(nvme_inventory)
INV
if [ -n "$provider" ] && [ "$(cat /sys/bus/pci/devices/$provider/p2pmem/published)" = 1 ]; then
	result ok "smoke.$T.cmb_published_as_p2pmem"
else
	result fail "smoke.$T.cmb_published_as_p2pmem" "no published p2pmem"
fi
set -- $others
[ $# -eq 1 ] && [ "$own" != none ] && [ -n "$own" ] && set -- "$1" "$own"
if [ -n "$provider" ] && [ $# -ge 2 ]; then
	out=$(p2pcopy "$provider" "$1" "$2" 4 1024 2>&1); rc=$?
	echo "$out" | sed 's/^/# /'
	case "$P2P_EXPECT:$rc" in
	bus-addr:0|host-bridge:0) result ok "smoke.$T.odirect_copy_through_p2pmem" ;;
	refused:2)
		if echo "$out" | grep -q 'Remote I/O error'; then
			result ok "smoke.$T.odirect_copy_refused"
		else
			result fail "smoke.$T.odirect_copy_refused" "wrong errno"
		fi
		# A refusal names the provider; the provider's own "added
		# peer-to-peer DMA memory" line at probe time does not count.
		refusals=$(dmesg | grep -v 'added peer-to-peer DMA memory' |
			grep "peer-to-peer DMA.*$provider")
		if [ -n "$refusals" ]; then
			result ok "smoke.$T.refusal_reason_logged"
		else
			result fail "smoke.$T.refusal_reason_logged" "no reason in dmesg"
		fi
		# Ours names the culprit: the host bridge with its vendor:device
		# ID, or the bridge with the ACS bits that redirect.
		# In acs-redir it must be the root port and the bits set there.
		culprit="refused: host bridge [0-9a-f:.]* ([0-9a-f]\{4\}:[0-9a-f]\{4\})\|redirected to the host bridge by ACS [A-Z+]* on "
		[ "$T" = acs-redir ] &&
			culprit="redirected to the host bridge by ACS RR+CR on 0000:00:04.0"
		if [ "$P2P_KERNEL" != ours ]; then
			result skip "smoke.$T.refusal_names_culprit" "stock upstream does not name it"
		elif echo "$refusals" | grep -q "$culprit"; then
			result ok "smoke.$T.refusal_names_culprit"
		else
			result fail "smoke.$T.refusal_names_culprit" "$(echo "$refusals" | tail -n 1)"
		fi ;;
	*) result fail "smoke.$T.odirect_copy" "expected $P2P_EXPECT, p2pcopy status $rc" ;;
	esac
else
	result fail "smoke.$T.devices" "provider '$provider', namespaces '$others'"
fi

# --- kselftests (TAP from kselftest_harness) ---
# Disruptive binaries last: first all others, then those ending in _unbind
# (driver unbind/rebind), then those ending in _remove (PCI removal and
# rescan), each group in name order (a shell test's .sh aside).  A shell
# test that needs the Debian userland's tools plans nothing without them
# ("1..0 # SKIP"), so a busybox guest lists no result of it.
if [ -d /opt/p2p/selftests ]; then
	insmod /opt/p2p/modules/test_p2pdma.ko || result fail "selftest.$T.load_test_module"
	# The in-kernel lease holder that drives QEMU's edu device, where the
	# topology has one (lease, lease-amd); nothing else would use it.
	if has_edu; then
		insmod /opt/p2p/modules/test_edu_lease.ko || result fail "selftest.$T.load_edu_module"
	fi
	# A block device without P2P support, for the refusal tests.
	modprobe null_blk 2>/dev/null
	all=$(ls /opt/p2p/selftests)
	for t in $(echo "$all" | grep -Ev '_(unbind|remove)(\.sh)?$') \
		 $(echo "$all" | grep -E '_unbind(\.sh)?$') \
		 $(echo "$all" | grep -E '_remove(\.sh)?$'); do
		[ -x "/opt/p2p/selftests/$t" ] || continue
		# p2p.only=<name>[,<name>...]: just those selftests.
		case ",${P2P_ONLY:-$t}," in *",$t,"*) ;; *) continue ;; esac
		# Built for one topology, where it runs alone (p2p.only): it
		# would only skip elsewhere.
		case "$t" in p2pdma_stack*) [ "$T" != stack ] && continue ;; esac
		[ "$t" = nvme_lease ] && [ "$T" != lease ] && [ "$T" != lease-amd ] && continue
		echo "# selftest $t"
		P2P_TOPOLOGY=$T P2P_KERNEL=$P2P_KERNEL timeout 600 "/opt/p2p/selftests/$t" > /tmp/tap 2>&1
		rc=$?
		sed 's/^/# /' /tmp/tap
		# A shell selftest (foo.sh) reports as foo.
		grep -E '^(not )?ok [0-9]+ ' /tmp/tap | while read -r line; do
			name=$(echo "$line" | sed -E 's/^(not )?ok [0-9]+ ([^#]*[^# ]).*/\2/' | tr ' ' '_')
			case "$line" in
			*"# SKIP"*) result skip "selftest.$T.${t%.sh}.$name" "${line#*# SKIP}" ;;
			"not ok"*) result fail "selftest.$T.${t%.sh}.$name" ;;
			*) result ok "selftest.$T.${t%.sh}.$name" ;;
			esac
		done
		if [ $rc -ne 0 ] && [ $rc -ne 4 ] && ! grep -q '^not ok' /tmp/tap; then
			result fail "selftest.$T.${t%.sh}" "exit status $rc without a failing test"
		fi
	done
fi

# --- leaks: kmemleak reports objects unreferenced for 5 s or more ---
# The test config has kmemleak: a missing file or a detector that switched
# itself off (it does on an internal error) fails instead of passing empty.
if dmesg | grep -q 'kmemleak: Kernel memory leak detector disabled'; then
	result fail "kmemleak.$T" "kmemleak disabled itself: $(dmesg | grep kmemleak: | head -n 3 | tr '\n' ' ')"
elif [ ! -w /sys/kernel/debug/kmemleak ]; then
	result fail "kmemleak.$T" "no /sys/kernel/debug/kmemleak"
else
	sleep 5
	if ! echo scan > /sys/kernel/debug/kmemleak; then
		result fail "kmemleak.$T" "scan refused (kmemleak off?)"
	else
		leaks=$(grep -c '^unreferenced object' /sys/kernel/debug/kmemleak)
		if [ "$leaks" -eq 0 ]; then
			result ok "kmemleak.$T"
		else
			head -n 60 /sys/kernel/debug/kmemleak | sed 's/^/# /'
			result fail "kmemleak.$T" "$leaks unreferenced objects"
		fi
	fi
fi
exit 0
