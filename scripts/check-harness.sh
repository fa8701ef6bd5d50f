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

exit $failed
