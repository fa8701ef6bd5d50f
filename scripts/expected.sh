#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The lists of results each boot of make test must produce:
# vm/expected/<flavour>/<boot>, one "ok <name>" or "skip <name> # <reason>"
# per line, sorted by name, where <boot> is the topology, prefixed with the
# kernel variant for variant kernels ("debug.switch"), and <reason> is the
# skip's reason as the guest reported it (blanks at either end dropped; it
# may be empty).  Only guest results are listed (kunit.*, config.*, smoke.*,
# selftest.*, kmemleak.*); the host's own steps are not.
#
#   scripts/expected.sh check <flavour> <boot> <guest-log>
#	Print one "P2P-RESULT:" line per difference between the guest's
#	results and the list: "not ok expected.<boot>.<name> # missing" for a
#	listed result that did not appear (a KUnit suite or selftest binary
#	that did not run shows up this way), "# skip, expected ok" (or the
#	other way round) for a changed status, "# skipped because ..., listed
#	because ..." for a skip whose reason changed, "# not listed" for a new
#	one; or a single "ok expected.<boot>" when they agree.  A result that
#	failed in the guest is a failure already and is not reported again.
#	A "skip <name>" line without "#" (lists written before reasons were
#	kept) matches a skip for any reason; the count of such lines goes to
#	stderr, until make expected rewrites the list.
#
#   scripts/expected.sh update [flavour]	(make expected [KERNEL=...])
#	Rewrite the lists from build/results-<flavour>.txt of the last
#	make test, for every boot that ran there (its "# boot <boot>"
#	section).  A boot that failed or has a failing result is left alone
#	unless EXPECTED_FORCE=1 (then its failing results are listed as ok,
#	which is what they should be).  Adding or removing a test is then:
#	make test; make expected; review and commit the diff of vm/expected/.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cmd=${1:?usage: expected.sh check FLAVOUR BOOT LOG | update [FLAVOUR]}

# "ok|not-ok name" or "skip name # reason" for each guest result in the
# P2P-RESULT lines on stdin, sorted by name.  A name never holds "#" (the
# guest cuts TAP and KTAP names there), so the first "#" starts the reason.
guest_results() {
	sed -n 's/^P2P-RESULT: //p' |
		sed -E 's/^not ok /not-ok /' |
		awk '$2 ~ /^(build|boot|dmesg|static|expected)\./ ||
		     $2 ~ /^[a-z0-9_-]+\.(boot|dmesg|expected)\./ { next }
		     $1 != "skip" { print $1, $2; next }
		     {
			i = index($0, "#")
			why = i ? substr($0, i + 1) : ""
			gsub(/^[ \t]+|[ \t]+$/, "", why)
			print $1, $2, "#", why
		     }' |
		sed 's/ $//' |
		sort -k2,2 -u
}

case "$cmd" in
check)
	flavour=${2:?flavour}; boot=${3:?boot}; log=${4:?log}
	list=$top/vm/expected/$flavour/$boot
	if [ ! -f "$list" ]; then
		echo "P2P-RESULT: not ok expected.$boot # no list ${list#$top/}: run make test, then make expected, and review the diff"
		exit 0
	fi
	actual=$(mktemp)
	trap 'rm -f "$actual"' EXIT
	if [ -f "$log" ]; then
		guest_results < "$log" > "$actual"
	fi
	# Join the list (status, name, reason of a skip) with what ran, on
	# the name.
	awk -v boot="$boot" -v listname="${list#$top/}" '
	function reason(line, i) {
		i = index(line, "#")
		line = substr(line, i + 1)
		gsub(/^[ \t]+|[ \t]+$/, "", line)
		return line
	}
	FNR == NR {
		if ($0 ~ /^#/ || NF < 2 || (NF > 2 && $3 !~ /^#/))
			next
		want[$2] = $1
		if ($1 == "skip" && NF > 2)
			wwhy[$2] = reason($0)
		else if ($1 == "skip")
			unexplained++
		next
	}
	{
		got[$2] = $1
		if ($1 == "skip")
			gwhy[$2] = reason($0)
	}
	END {
		bad = 0
		for (n in want) {
			if (!(n in got)) {
				printf "P2P-RESULT: not ok expected.%s.%s # missing (listed as %s)\n", boot, n, want[n]
				bad++
			} else if (got[n] != want[n] && got[n] != "not-ok") {
				printf "P2P-RESULT: not ok expected.%s.%s # %s, expected %s\n", boot, n, got[n], want[n]
				bad++
			} else if (got[n] == "skip" && (n in wwhy) &&
				   gwhy[n] != wwhy[n]) {
				printf "P2P-RESULT: not ok expected.%s.%s # skipped because \"%s\", listed because \"%s\"\n", boot, n, gwhy[n], wwhy[n]
				bad++
			}
		}
		if (unexplained)
			printf "expected: %s lists %d skip(s) without a reason, which match any reason (make expected writes them)\n", listname, unexplained > "/dev/stderr"
		for (n in got)
			if (!(n in want) && got[n] != "not-ok") {
				printf "P2P-RESULT: not ok expected.%s.%s # %s but not listed in %s\n", boot, n, got[n], listname
				bad++
			}
		if (!bad)
			printf "P2P-RESULT: ok expected.%s\n", boot
	}' "$list" "$actual" | sort
	;;
update)
	flavour=${2:-${KERNEL:-ours}}
	results=$top/build/results-$flavour.txt
	[ -f "$results" ] || { echo "expected: no $results; run make test first" >&2; exit 1; }
	mkdir -p "$top/vm/expected/$flavour"
	boots=$(sed -n 's/^# boot //p' "$results")
	[ -n "$boots" ] || { echo "expected: no boot in $results" >&2; exit 1; }
	rc=0
	for boot in $boots; do
		section=$(awk -v b="# boot $boot" '$0 == b { on = 1; next } /^# boot / { on = 0 } on' "$results")
		if echo "$section" | grep -q "^P2P-RESULT: not ok boot\.$boot\b" &&
		   [ -z "${EXPECTED_FORCE:-}" ]; then
			echo "expected: $boot: the boot failed, list left alone (EXPECTED_FORCE=1 to write it anyway)" >&2
			rc=1
			continue
		fi
		res=$(echo "$section" | guest_results)
		if echo "$res" | grep -q '^not-ok ' && [ -z "${EXPECTED_FORCE:-}" ]; then
			echo "expected: $boot: failing results, list left alone (EXPECTED_FORCE=1 lists them as ok):" >&2
			echo "$res" | grep '^not-ok ' | sed 's/^/  /' >&2
			rc=1
			continue
		fi
		list=$top/vm/expected/$flavour/$boot
		{
			echo "# Results of make test for $flavour in boot $boot (scripts/expected.sh)."
			echo "# Regenerate: make test; make expected$([ "$flavour" = ours ] || echo " KERNEL=$flavour"); review the diff."
			echo "$res" | sed 's/^not-ok /ok /'
		} > "$list"
		echo "expected: ${list#$top/}: $(grep -c '^ok ' "$list") ok, $(grep -c '^skip ' "$list") skip"
	done
	git -C "$top" status --short -- vm/expected || true
	exit $rc
	;;
*)
	echo "usage: expected.sh check FLAVOUR BOOT LOG | update [FLAVOUR]" >&2
	exit 2
	;;
esac
