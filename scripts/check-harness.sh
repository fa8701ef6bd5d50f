#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Checks of the harness's own checkers on synthetic input, so that a check
# that could never fail shows up here rather than in a real run.  Each case
# prints one "P2P-RESULT:" line (part of the static checks):
#
#  - static.harness.scan-splats.<case>: scripts/scan-splats.sh reports a
#    log made of ordinary boot lines plus one kernel report (exit status 1,
#    the report's line printed), and passes the ordinary lines alone.
#
#   scripts/check-harness.sh
#
# Needs no kernel tree; scratch files go to a temporary directory.
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failed=0

result() {
	if [ "$1" = ok ]; then
		echo "P2P-RESULT: ok $2"
	else
		echo "P2P-RESULT: not ok $2 # $3"
		failed=1
	fi
}

# Lines every console log has, none of them a report.
cat > "$tmp/clean.log" <<'EOF'
[    0.000000] Linux version 6.12.0 (root@build) #1 SMP PREEMPT_DYNAMIC
[    0.000000] Kernel command line: console=ttyS0 p2p.topology=switch
[    1.234567] nvme 0000:01:00.0: added peer-to-peer DMA memory 0x00000000fe000000-0x00000000feffffff
[    2.345678] DMA-API: preallocated 65536 debug entries
P2P-RESULT: ok smoke.switch.cmb_published_as_p2pmem
EOF

# scan_case <case> <line>: the clean log with <line> in its middle must be
# reported, with that line.
scan_case() {
	local name=static.harness.scan-splats.$1 log=$tmp/$1.log out rc
	{ head -n 3 "$tmp/clean.log"; echo "$2"; tail -n +4 "$tmp/clean.log"; } > "$log"
	out=$("$top/scripts/scan-splats.sh" "$log" 2> /dev/null)
	rc=$?
	if [ $rc -ne 1 ]; then
		result fail "$name" "exit status $rc, expected 1"
	elif [ "$out" != "4:$2" ]; then
		result fail "$name" "reported '$out', expected '4:$2'"
	else
		result ok "$name"
	fi
}

out=$("$top/scripts/scan-splats.sh" "$tmp/clean.log" 2> /dev/null)
rc=$?
if [ $rc -eq 0 ] && [ -z "$out" ]; then
	result ok static.harness.scan-splats.clean_log
else
	result fail static.harness.scan-splats.clean_log "exit status $rc, reported '$out'"
fi
# mm's reports, in 6.12's words (x86 pud_ERROR() and pmd_ERROR(),
# print_bad_pte(), bad_page(), check_mm()).
scan_case bad_pud '[   61.000001] mm/pgtable-generic.c:42: bad pud 00000000c0ffee00(82000001400000e7)'
scan_case bad_pmd '[   61.000002] mm/pgtable-generic.c:51: bad pmd 00000000c0ffee08(80000001400000e7)'
scan_case bad_page_map '[   61.000003] BUG: Bad page map in process p2pmem_huge  pte:8000000140000267 pmd:1234067'
scan_case bad_page_state '[   61.000004] BUG: Bad page state in process p2pmem_huge  pfn:140000'
scan_case bad_rss_counter '[   61.000005] BUG: Bad rss-counter state mm:00000000deadbeef type:MM_FILEPAGES val:512'

# expected.sh in a tree of its own: scripts/expected.sh, the list in
# vm/expected/ours/t, the results of a make test in build/.
et=$tmp/tree
mkdir -p "$et/scripts" "$et/vm/expected/ours" "$et/build"
cp "$top/scripts/expected.sh" "$et/scripts/"
cat > "$et/list" <<'LIST'
# a list as make expected writes it
skip selftest.t.bin.fix.blank #
skip selftest.t.bin.fix.refused # P2P is not refused in topology t
ok smoke.t.copy
LIST
cat > "$et/log" <<'LOG'
P2P-RESULT: ok smoke.t.copy
P2P-RESULT: skip selftest.t.bin.fix.refused #  P2P is not refused in topology t 
P2P-RESULT: skip selftest.t.bin.fix.blank # 
P2P-RESULT: ok boot.t
LOG

# expected_case <case> <want> <sed script for the log> [<for the list>]:
# "expected.sh check" on the edited log and list prints exactly <want>.
expected_case() {
	local name=static.harness.expected.$1 out
	sed -e "${4:-}" "$et/list" > "$et/vm/expected/ours/t"
	sed -e "$3" "$et/log" > "$et/t.log"
	out=$("$et/scripts/expected.sh" check ours t "$et/t.log" 2> /dev/null)
	if [ "$out" = "$2" ]; then
		result ok "$name"
	else
		result fail "$name" "printed '$(echo "$out" | tr '\n' '|')', expected '$2'"
	fi
}

expected_case agree 'P2P-RESULT: ok expected.t' ''
expected_case status_changed \
	'P2P-RESULT: not ok expected.t.selftest.t.bin.fix.refused # ok, expected skip' \
	's/^P2P-RESULT: skip \(selftest.t.bin.fix.refused\).*/P2P-RESULT: ok \1/'
expected_case reason_changed \
	'P2P-RESULT: not ok expected.t.selftest.t.bin.fix.refused # skipped because "no expectation for topology t", listed because "P2P is not refused in topology t"' \
	's/P2P is not refused in/no expectation for/'
expected_case blank_reason_listed \
	'P2P-RESULT: not ok expected.t.selftest.t.bin.fix.blank # skipped because "needs 2", listed because ""' \
	's/\(fix.blank #\).*/\1 needs 2/'
expected_case missing \
	'P2P-RESULT: not ok expected.t.smoke.t.copy # missing (listed as ok)' \
	'/smoke.t.copy/d'
expected_case not_listed \
	'P2P-RESULT: not ok expected.t.kunit.s.c # skip but not listed in vm/expected/ours/t' \
	'$a P2P-RESULT: skip kunit.s.c # why'
expected_case failed_not_repeated 'P2P-RESULT: ok expected.t' \
	's/^P2P-RESULT: ok smoke.t.copy/P2P-RESULT: not ok smoke.t.copy # see log/'
# a list written before reasons were kept: its skips match any reason
expected_case reasonless_list 'P2P-RESULT: ok expected.t' \
	's/P2P is not refused in/no expectation for/' 's/ #.*$//'

# update: the list of each boot in build/results-ours.txt, skips with
# their reasons, as check reads them back (test.sh drops an empty "# ").
{
	echo "P2P-RESULT: ok build.kernel"
	echo "# boot t"
	sed 's/# *$//' "$et/log"
} > "$et/build/results-ours.txt"
rm -f "$et/vm/expected/ours/t"
if ! "$et/scripts/expected.sh" update ours > "$tmp/update.log" 2>&1; then
	result fail static.harness.expected.update "update failed: $(tr '\n' '|' < "$tmp/update.log")"
elif ! diff -u <(grep -v '^#' "$et/list") \
		<(grep -v '^#' "$et/vm/expected/ours/t") > "$tmp/update.diff"; then
	result fail static.harness.expected.update "wrote: $(tr '\n' '|' < "$tmp/update.diff")"
else
	result ok static.harness.expected.update
fi

exit $failed
