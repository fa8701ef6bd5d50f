#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Scan a guest console log for kernel splats: warnings, BUGs, oopses,
# sanitizer and lockdep reports, RCU stalls, hung tasks, soft lockups,
# DMA-API and debugobjects reports, kmemleak reports (and kmemleak switching
# itself off), mm's page table and page map reports, and the P2PDMA core's
# own error messages.  The one implementation used by every boot (make test,
# make run, make boot).
#
#   scripts/scan-splats.sh LOG [OUT]
#
# Prints the matching lines (and writes them to OUT when given); exit status
# 1 when there is at least one, 0 when the log is clean, 2 when LOG is
# missing.
#
# Deliberate reports are excused, nothing else:
#  - a fault-injection report ("FAULT_INJECTION: forcing a failure." and the
#    stack dump after it, up to its "</TASK>" line), which the fail-nth tests
#    cause on purpose, and the kernel's report of an allocation that failed
#    in the fail-nth test ("p2pdma_fail_nth: vmalloc error: ...", "page
#    allocation failure", "vmemmap alloc failure"; stock 6.12's genalloc
#    vzalloc()s without __GFP_NOWARN);
#  - lines between "P2P-SPLAT-EXPECTED-BEGIN <why>" and
#    "P2P-SPLAT-EXPECTED-END", which a test writes to /dev/kmsg around an
#    operation that must WARN (the test itself checks that it did).
# The number of excused lines is printed on stderr.
set -uo pipefail

log=${1:?usage: scan-splats.sh LOG [OUT]}
out=${2:-/dev/null}
[ "$out" = /dev/null ] || : > "$out"
[ -f "$log" ] || { echo "scan-splats: no log $log" >&2; exit 2; }

# Extended regular expressions, one per line.  mm's reports, as 6.12 words
# them: x86's pgd/p4d/pud/pmd/pte_ERROR() ("mm/pgtable-generic.c:42: bad
# pud 0000000012345678(82000001400000e7)", pr_err, no "BUG:"), print_bad_pte()
# ("BUG: Bad page map in process"), bad_page() ("BUG: Bad page state") and
# check_mm() ("BUG: Bad rss-counter state"); the last three also match
# "BUG:", and are listed so that they stay caught on their own.
patterns='WARNING:
BUG:
kernel BUG
Oops
Kernel panic
general protection fault
KASAN
KFENCE
UBSAN
possible circular locking
possible recursive locking
inconsistent lock state
suspicious RCU usage
rcu: INFO
detected stalls on CPUs
INFO: task .* blocked for more than
hung_task
soft lockup
hard LOCKUP
DMA-API:
ODEBUG:
unreferenced object
kmemleak: Kernel memory leak detector disabled
kmemleak: Cannot allocate
Call Trace
:[0-9]+: bad (pgd|p4d|pud|pmd|pte)[[:space:]]
Bad page map
Bad page state
Bad rss-counter
p2pmem: not freeing
still allocated at removal'

# Informational lines that match a pattern but report nothing wrong.
# kmemleak's "scan area" line is its fallback when an allocation of its own
# fails (a fail-nth test can fail it): it goes on scanning the whole object.
# The failure that matters, "Cannot allocate a kmemleak_object structure",
# still matches, and kmemleak then switches itself off.
benign='DMA-API: preallocated [0-9]+ debug entries
DMA-API: debugging enabled by kernel config
DMA-API: dma_debug_entry pool grown to
ODEBUG: selftest passed
kmemleak: Cannot allocate a scan area, scanning the full object
Kernel command line:'

awk -v pats="$patterns" -v ok="$benign" -v out="$out" '
BEGIN {
	np = split(pats, p, "\n")
	nb = split(ok, b, "\n")
	excused = 0; found = 0; fr = 0; xr = 0
}
{
	line = $0
	# An excused region ends at its END marker, at the end of the
	# suite, or after 300 lines, whichever comes first.
	if (line ~ /P2P-SPLAT-EXPECTED-BEGIN/) { xr = 300; next }
	if (line ~ /P2P-SPLAT-EXPECTED-END|P2P-DMESG-BEGIN|P2P-EXIT:/) xr = 0
	if (line ~ /FAULT_INJECTION: forcing a failure/) { fr = 100; next }
	if (line ~ /p2pdma_fail_nth: (vmalloc error|page allocation failure|vmemmap alloc failure):/) { fr = 100; next }
	hit = 0
	for (i = 1; i <= np; i++)
		if (line ~ p[i]) { hit = 1; break }
	if (hit)
		for (i = 1; i <= nb; i++)
			if (line ~ b[i]) { hit = 0; break }
	# A fault-injection report is only a stack dump: its "Call Trace"
	# line is excused, any other report inside it is not.
	if (hit && (xr > 0 || (fr > 0 && line ~ /Call Trace/))) {
		excused++
		hit = 0
	}
	if (xr > 0) xr--
	if (fr > 0) fr--
	if (line ~ /<\/TASK>/) fr = 0
	if (hit) {
		found++
		printf "%d:%s\n", NR, line
		printf "%d:%s\n", NR, line > out
	}
}
END {
	if (excused)
		printf "scan-splats: %d matching line(s) excused (fault injection or P2P-SPLAT-EXPECTED)\n", excused > "/dev/stderr"
	exit found ? 1 : 0
}' "$log"
