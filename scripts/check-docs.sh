#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Check our Documentation/ .rst files without a full "make htmldocs" (Sphinx
# over the whole tree takes far too long on two cores).  For every .rst file
# in the overlay, on the assembled tree build/<flavour>/src:
#
#  - static.docs.kernel-doc.<file>: "scripts/kernel-doc -none -Wall" on each
#    source file named by a kernel-doc directive; any output fails;
#  - static.docs.rst.<rst>: expand each kernel-doc directive with
#    "scripts/kernel-doc -rst" and the options Sphinx would pass, then parse
#    the result with docutils (Debian's python3-docutils), failing on any
#    warning or error; Sphinx-only roles and directives are registered as
#    stand-ins by scripts/check-docs.py;
#  - static.docs.toctree.<rst>: a toctree next to the file lists it.
#
#   scripts/check-docs.sh [ours]
#
# Logs and the expanded .rst text are in build/static/.
set -uo pipefail

flavour=${1:-ours}
top=$(cd "$(dirname "$0")/.." && pwd)
src=$top/build/$flavour/src
logdir=$top/build/static
helper=$top/scripts/check-docs.py
# Debian's interpreter, where python3-docutils installs, whatever PATH says.
py=/usr/bin/python3
failed=0
mkdir -p "$logdir"

result() {
	if [ "$1" = ok ]; then
		echo "P2P-RESULT: ok $2"
	else
		echo "P2P-RESULT: not ok $2 # see $3"
		failed=1
	fi
}

logname() {
	echo "$logdir/docs-$1-$(echo "$2" | tr / _).log"
}

if [ ! -x "$src/scripts/kernel-doc" ]; then
	echo "check-docs: no assembled tree in $src (run scripts/assemble.sh $flavour)" >&2
	exit 2
fi

# docutils: install python3-docutils if it is missing.
log=$logdir/docs-deps.log
: > "$log"
if ! "$py" -c 'import docutils' >> "$log" 2>&1 && [ "$(id -u)" = 0 ]; then
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -q python3-docutils >> "$log" 2>&1 ||
		{ apt-get update -q >> "$log" 2>&1 &&
		  apt-get install -y -q python3-docutils >> "$log" 2>&1; }
fi
if ! "$py" -c 'import docutils; print("docutils", docutils.__version__)' >> "$log" 2>&1; then
	result fail static.docs.deps "$log"
	exit 1
fi

# kernel-doc picks its output dialect by Sphinx version, as kerneldoc.py
# tells it; without Sphinx assume Debian 12's (python3-sphinx 5.3.0).
sphinx_version=$("$py" -c 'import sphinx; print(sphinx.__version__)' 2>/dev/null || echo 5.3.0)

mapfile -t docs < <(cd "$top/linux" && find Documentation -name '*.rst' 2>/dev/null | sort)
if [ ${#docs[@]} -eq 0 ]; then
	echo "check-docs: no .rst files in the overlay" >&2
	exit 0
fi

declare -A checked
for rst in "${docs[@]}"; do
	if [ ! -f "$src/$rst" ]; then
		log=$(logname rst "$rst")
		echo "$rst is not in $src (run scripts/assemble.sh $flavour)" > "$log"
		result fail "static.docs.rst.$rst" "$log"
		continue
	fi
	cmp -s "$top/linux/$rst" "$src/$rst" ||
		echo "check-docs: $src/$rst differs from the overlay; checking the assembled copy" >&2

	mapfile -t files < <("$py" "$helper" files "$src/$rst")
	for f in "${files[@]}"; do
		if [ -z "$f" ] || [ -n "${checked[$f]:-}" ]; then
			continue
		fi
		checked[$f]=1
		log=$(logname kernel-doc "$f")
		(cd "$src" && scripts/kernel-doc -none -Wall "$f") > "$log" 2>&1
		if [ -s "$log" ]; then
			result fail "static.docs.kernel-doc.$f" "$log"
		else
			result ok "static.docs.kernel-doc.$f"
		fi
	done

	log=$(logname rst "$rst")
	expanded=$logdir/docs-$(echo "$rst" | tr / _).expanded.rst
	if "$py" "$helper" check --srctree "$src" --sphinx-version "$sphinx_version" \
		--expanded "$expanded" "$rst" > "$log" 2>&1; then
		result ok "static.docs.rst.$rst"
	else
		result fail "static.docs.rst.$rst" "$log"
	fi

	log=$(logname toctree "$rst")
	if "$py" "$helper" toctree --srctree "$src" "$rst" > "$log" 2>&1; then
		result ok "static.docs.toctree.$rst"
	else
		result fail "static.docs.toctree.$rst" "$log"
	fi
done

exit $failed
