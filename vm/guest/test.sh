# SPDX-License-Identifier: GPL-2.0
# The test suite (make test), per topology: KUnit results from boot, a P2P
# smoke test with the verdict this topology expects, the p2pdma kselftests,
# and a kmemleak scan.  Prints one "P2P-RESULT:" line per test.
. /opt/p2p/guest/lib.sh
FAILED=0
T=$P2P_TOPOLOGY

# --- KUnit suites that ran at boot (built-in) ---
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
if [ "$T" = switch ] || [ -n "${P2P_KUNIT_EVERYWHERE:-}" ]; then
	kunit_results
fi

# --- smoke: the provider is published and P2P does what the topology says ---
provider=; others=
while read -r c bdf ns p2p; do
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
		if [ "$P2P_KERNEL" != ours ]; then
			result skip "smoke.$T.refusal_names_culprit" "stock upstream does not name it"
		elif echo "$refusals" | grep -q "refused: host bridge [0-9a-f:.]* ([0-9a-f]\{4\}:[0-9a-f]\{4\})\|redirected to the host bridge by ACS [A-Z+]* on "; then
			result ok "smoke.$T.refusal_names_culprit"
		else
			result fail "smoke.$T.refusal_names_culprit" "$(echo "$refusals" | tail -n 1)"
		fi ;;
	*) result fail "smoke.$T.odirect_copy" "expected $P2P_EXPECT, p2pcopy status $rc" ;;
	esac
else
	result fail "smoke.$T.devices" "provider '$provider', namespaces '$others'"
fi

# --- kselftests (TAP from kselftest_harness), unbind/hotplug tests last ---
if [ -d /opt/p2p/selftests ]; then
	insmod /opt/p2p/modules/test_p2pdma.ko || result fail "selftest.$T.load_test_module"
	# A block device without P2P support, for the refusal tests.
	modprobe null_blk 2>/dev/null
	for t in $(ls /opt/p2p/selftests | grep -v unbind) \
		 $(ls /opt/p2p/selftests | grep unbind); do
		[ -x "/opt/p2p/selftests/$t" ] || continue
		[ -n "${P2P_ONLY:-}" ] && [ "$t" != "$P2P_ONLY" ] && continue
		echo "# selftest $t"
		P2P_TOPOLOGY=$T P2P_KERNEL=$P2P_KERNEL timeout 600 "/opt/p2p/selftests/$t" > /tmp/tap 2>&1
		rc=$?
		sed 's/^/# /' /tmp/tap
		grep -E '^(not )?ok [0-9]+ ' /tmp/tap | while read -r line; do
			name=$(echo "$line" | sed -E 's/^(not )?ok [0-9]+ ([^#]*[^# ]).*/\2/' | tr ' ' '_')
			case "$line" in
			*"# SKIP"*) result skip "selftest.$T.$t.$name" "${line#*# SKIP}" ;;
			"not ok"*) result fail "selftest.$T.$t.$name" ;;
			*) result ok "selftest.$T.$t.$name" ;;
			esac
		done
		if [ $rc -ne 0 ] && [ $rc -ne 4 ] && ! grep -q '^not ok' /tmp/tap; then
			result fail "selftest.$T.$t" "exit status $rc without a failing test"
		fi
	done
fi

# --- leaks: kmemleak reports objects unreferenced for 5 s or more ---
if [ -w /sys/kernel/debug/kmemleak ]; then
	sleep 5
	echo scan > /sys/kernel/debug/kmemleak
	leaks=$(grep -c '^unreferenced object' /sys/kernel/debug/kmemleak)
	if [ "$leaks" -eq 0 ]; then
		result ok "kmemleak.$T"
	else
		cat /sys/kernel/debug/kmemleak | head -n 60 | sed 's/^/# /'
		result fail "kmemleak.$T" "$leaks unreferenced objects"
	fi
fi
exit 0
