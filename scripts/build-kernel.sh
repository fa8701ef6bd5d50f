#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Configure and build one flavour's kernel out of tree, with ccache.
#
#   [P2P_VARIANT=bench|debug] scripts/build-kernel.sh ours|baseline
#
# Config = allnoconfig + kernel/p2pdma-test.config (+ kernel/ours.config for
# our tree); the variant bench drops the debugging part, the variant debug
# adds kernel/debug.config (KASAN, UBSAN, ...).  Variants build in
# build/<flavour>/obj-<variant>.  Every "CONFIG_...=" line of the fragment
# must be in the final .config (olddefconfig drops what it cannot satisfy).
set -euo pipefail

flavour=${1:?usage: build-kernel.sh ours|baseline}
top=$(cd "$(dirname "$0")/.." && pwd)
src=$top/build/$flavour/src
obj=$top/build/$flavour/obj${P2P_VARIANT:+-$P2P_VARIANT}
jobs=${JOBS:-$(nproc)}

export CCACHE_DIR=${CCACHE_DIR:-/var/cache/p2pdma-ccache}
export CCACHE_BASEDIR=$top/build
export CCACHE_MAXSIZE=${CCACHE_MAXSIZE:-8G}
export CCACHE_SLOPPINESS=time_macros,include_file_mtime,include_file_ctime
mkdir -p "$CCACHE_DIR" "$obj"

frags=("$top/kernel/p2pdma-test.config")
[ "$flavour" = ours ] && frags+=("$top/kernel/ours.config")
if [ "${P2P_VARIANT:-}" = bench ]; then
	# Benchmarks run without the debug set (lockdep, DEBUG_VM, KFENCE,
	# kmemleak), which would dominate what they measure.
	sed '/^# --- debugging/,$d' "${frags[@]}" > "$obj/fragment.new"
elif [ "${P2P_VARIANT:-}" = debug ]; then
	cat "${frags[@]}" "$top/kernel/debug.config" > "$obj/fragment.new"
else
	cat "${frags[@]}" > "$obj/fragment.new"
fi

if ! cmp -s "$obj/fragment.new" "$obj/fragment" || [ ! -f "$obj/.config" ]; then
	echo "build: configuring $flavour (allnoconfig + fragment)"
	make -s -C "$src" O="$obj" KCONFIG_ALLCONFIG="$obj/fragment.new" \
		allnoconfig >/dev/null
	make -s -C "$src" O="$obj" olddefconfig >/dev/null
	mv "$obj/fragment.new" "$obj/fragment"
else
	rm -f "$obj/fragment.new"
fi

# Fail loudly when a required symbol did not survive.
missing=0
while IFS= read -r line; do
	case "$line" in CONFIG_*=*) ;; *) continue ;; esac
	if ! grep -qxF "$line" "$obj/.config"; then
		echo "build: required $line is not in the final .config" >&2
		missing=1
	fi
done < "$obj/fragment"
if [ $missing -ne 0 ]; then
	rm -f "$obj/fragment"
	exit 1
fi

start=$(date +%s)
make -s -C "$src" O="$obj" -j"$jobs" CC="ccache gcc" bzImage modules
rm -rf "$obj/modroot"
make -s -C "$src" O="$obj" INSTALL_MOD_PATH="$obj/modroot" \
	INSTALL_MOD_STRIP=1 modules_install >/dev/null
cp "$top/build/$flavour/BASE" "$obj/BASE"
echo "build: $flavour${P2P_VARIANT:+ ($P2P_VARIANT)} kernel $(cat "$obj/include/config/kernel.release") built in $(( $(date +%s) - start )) s"
