# SPDX-License-Identifier: GPL-2.0
#
# P2PDMA core for Linux 6.12: build, boot and test harness.
#   make deps      install the Debian packages the harness needs (root)
#   make run       build, boot the switch topology, show a verified P2P copy
#   make test      static checks + KUnit + selftests in every topology
#   make test KERNEL=baseline   the same on stock upstream P2PDMA
#   make kernel / baseline      just build our / the upstream kernel
#   make rootfs    the guest's Debian userland (mmdebstrap; cached in build/rootfs)
#   make boot TOPO=<name> SUITE=test|run [KERNEL=...]   one guest run
#   make bench     the same measurements on upstream and ours, one table
#   make series    export the git format-patch series (BUILD_EACH=1: build each step,
#                  BOOT_EACH=1: build and boot each step)
#   make deb       Debian packages of our kernel + install/boot check
#   make check     static checks only
#   make expected  rewrite vm/expected/<flavour>/* from the last make test
#                  (after adding or removing a test; review the diff)
#   make clean     remove build/ (ccache is kept outside)

KERNEL ?= ours
TOPO ?= switch
SUITE ?= test

PACKAGES := linux-source-6.12 qemu-system-x86 busybox-static sparse coccinelle \
	ccache quilt bc flex bison libelf-dev libssl-dev cpio kmod dwarves \
	rsync xz-utils python3 python3-docutils gcc make patch util-linux \
	mmdebstrap

.PHONY: deps run test bench series deb kernel baseline boot check initramfs rootfs expected clean

deps:
	@missing=$$(for p in $(PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "deps: installing$$(echo $$missing | sed 's/^/ /')"; \
		apt-get update -q >/dev/null && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing >/dev/null; \
	fi

kernel: deps
	scripts/assemble.sh $(KERNEL)
	flock $${P2P_BUILD_LOCK:-/tmp/p2p-build.lock} scripts/build-kernel.sh $(KERNEL)

baseline:
	$(MAKE) kernel KERNEL=baseline

initramfs: kernel
	vm/mkinitramfs.sh $(KERNEL)

# The guest's Debian userland (mdadm, dmsetup, nvme-cli, fio, trace-cmd),
# for the topologies with USERLAND=debian; cached in build/rootfs.
rootfs: deps
	vm/mkrootfs.sh

# boot.sh fails (status 3) when the console log has a kernel splat
# (scripts/scan-splats.sh), even if the copy succeeded.
run: initramfs rootfs
	vm/boot.sh $(KERNEL) switch run 900

boot: initramfs
	vm/boot.sh $(KERNEL) $(TOPO) $(SUITE)

check: kernel
	scripts/static-checks.sh $(KERNEL)

test: deps
	KERNEL=$(KERNEL) scripts/test.sh

expected:
	scripts/expected.sh update $(KERNEL)

bench: deps
	@dpkg-query -W python3-matplotlib >/dev/null 2>&1 || \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-matplotlib >/dev/null
	scripts/bench.sh

series: deps
	scripts/series.sh

deb: deps
	@dpkg-query -W -f='$${Status}' debhelper 2>/dev/null | grep -q 'ok installed' || \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q dpkg-dev debhelper >/dev/null
	scripts/deb.sh

clean:
	rm -rf build
