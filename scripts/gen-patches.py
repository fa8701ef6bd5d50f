#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Regenerate the patches of patches/ to upstream files (build glue:
Makefile, Kconfig, MAINTAINERS, the selftests TARGETS and the sysfs ABI;
and the few lines the block layer, NVMe and <linux/pci-p2pdma.h> need)
from the pristine tree.

Each patch is one step of kernel/series.map: it builds the files that step
adds and lists them in MAINTAINERS.  The edits are written here as small
Python functions applied in order; each patch is the diff between the tree
before and after its step.  Run from the top of the repository after
scripts/assemble.sh has made build/pristine:

    scripts/gen-patches.py
"""
import difflib
import os
import subprocess
import sys

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PRISTINE = os.path.join(TOP, "build", "pristine")
ABI = "Documentation/ABI/testing/sysfs-bus-pci"
FILES = ["drivers/pci/Kconfig", "drivers/pci/Makefile", "MAINTAINERS",
         "tools/testing/selftests/Makefile", ABI,
         "include/linux/pci-p2pdma.h", "include/linux/memremap.h",
         "include/linux/blkdev.h",
         "block/bio.c", "drivers/nvme/host/core.c", "drivers/nvme/host/pci.c"]
PEERS_ABI = """
What:		/sys/bus/pci/devices/.../p2pmem/peers
Date:		December 2026
Contact:	linux-pci@vger.kernel.org
Description:
		The peer-to-peer DMA verdict between this device's p2pmem and
		every PCI function that could be a DMA client of it (every
		function that is not a bridge, this device included), one
		line each, in the order of the PCI device list:

		  <client> <map> <distance> <reason>

		<client> is the PCI address of the function, as in
		/sys/bus/pci/devices.  <map> says how a DMA mapping of this
		device's p2pmem for that client is made: "bus_addr" (the
		traffic stays below a common upstream device and the client
		is given PCI bus addresses), "thru_host_bridge" (the traffic
		crosses the host bridge and is mapped as system memory is),
		or "not_supported" (refused: the mapping fails).  <distance>
		is what pci_p2pdma_distance() returns for the pair: hops from
		either device up to their common upstream device, or the sum
		of both paths to the host bridge, and -1 when refused.
		<reason> is the rest of the line: clauses separated by "; ",
		each one of

		  same device
		  common upstream device <PCI address>
		  no common upstream device
		  ACS <bits> on <PCI address>
		  the CPU routes peer-to-peer traffic through its host bridges
		  host bridge <PCI address> (<vendor>:<device>) on the allow list
		  host bridge <PCI address> (<vendor>:<device>) not on the allow list
		  host bridge <PCI address> (<vendor>:<device>) only allowed with both devices below it
		  host bridge above the <provider|client> has no device to look up in the allow list
		  PCI hierarchy deeper than 16 levels

		where <bits> are the ACS redirect controls set on a port on
		the way (RR, CR, EC, joined by "+"), one clause per port,
		which pci=disable_acs_redir= can clear.  The verdict is
		worked out when the file is read; a reader that needs one
		pair greps for its address.
"""


def author():
    def cfg(k):
        return subprocess.run(["git", "-C", TOP, "config", k], check=True,
                              capture_output=True, text=True).stdout.strip()
    return "%s <%s>" % (cfg("user.name"), cfg("user.email"))


def insert_after(text, anchor, new):
    assert anchor in text, anchor
    return text.replace(anchor, anchor + new, 1)


def replace(text, old, new):
    assert old in text, old
    return text.replace(old, new, 1)


MK_ANCHOR = "obj-$(CONFIG_PCI_P2PDMA)\t+= p2pdma.o\n"
MT_ANCHOR = "F:\tDocumentation/driver-api/pci/p2pdma.rst\n"
KUNIT_KCONFIG = """
config PCI_P2PDMA_KUNIT_TEST
	bool "KUnit tests for PCI peer-to-peer DMA" if !KUNIT_ALL_TESTS
	depends on KUNIT=y && PCI_P2PDMA
	default KUNIT_ALL_TESTS
	help
	  Unit tests for the P2PDMA routing policy, the P2P memory
	  allocator, the verdict cache and the configfs enable helpers.
	  They need no P2P-capable hardware.

	  If unsure, say N.
"""


def make_line(f, obj):
    """Add obj after the last p2pdma object line of the Makefile."""
    t = f["drivers/pci/Makefile"]
    lines = t.split("\n")
    last = max(i for i, l in enumerate(lines)
               if l.startswith("obj-$(CONFIG_PCI_P2PDMA)"))
    lines.insert(last + 1, "obj-$(CONFIG_PCI_P2PDMA)\t+= %s" % obj)
    f["drivers/pci/Makefile"] = "\n".join(lines)


def maint_f(f, pattern):
    """Add an F: line to the P2PDMA entry, in sorted order."""
    t = f["MAINTAINERS"]
    start = t.index("PCI PEER-TO-PEER DMA (P2PDMA)\n")
    end = t.index("\n\n", start)
    entry = t[start:end].split("\n")
    fl = [l for l in entry if l.startswith("F:\t")]
    rest = [l for l in entry if not l.startswith("F:\t")]
    fl.append("F:\t" + pattern)
    fl.sort()
    f["MAINTAINERS"] = t[:start] + "\n".join(rest + fl) + t[end:]


def step_route(f):
    make_line(f, "p2pdma_route.o")
    f["drivers/pci/Kconfig"] = insert_after(
        f["drivers/pci/Kconfig"], P2PDMA_HELP_END, KUNIT_KCONFIG)
    f["MAINTAINERS"] = insert_after(
        f["MAINTAINERS"], "PCI PEER-TO-PEER DMA (P2PDMA)\n"
        "M:\tBjorn Helgaas <bhelgaas@google.com>\n"
        "M:\tLogan Gunthorpe <logang@deltatee.com>\n",
        "M:\t%s\n" % author())
    maint_f(f, "drivers/pci/.kunitconfig")
    maint_f(f, "drivers/pci/p2pdma*_kunit.h")
    maint_f(f, "drivers/pci/p2pdma_route.*")


def step_buddy(f):
    make_line(f, "p2pdma_buddy.o")
    maint_f(f, "drivers/pci/p2pdma_buddy.*")


def step_pool(f):
    make_line(f, "p2pdma_pool.o")
    maint_f(f, "drivers/pci/p2pdma_pool.*")


def step_verdict(f):
    make_line(f, "p2pdma_verdict.o")
    maint_f(f, "drivers/pci/p2pdma_verdict.*")
    maint_f(f, "include/trace/events/p2pdma.h")


PAGE_PGMAP = """/*
 * The dev_pagemap of a ZONE_DEVICE page.  Only the head page of a compound
 * ZONE_DEVICE page (pgmap->vmemmap_shift) records it: in a tail page the
 * same word holds compound_head.
 */
static inline struct dev_pagemap *page_pgmap(const struct page *page)
{
	return compound_head(page)->pgmap;
}

"""


def step_page_pgmap(f):
    h = "include/linux/memremap.h"
    f[h] = replace(f[h], "static inline bool is_device_private_page(",
                   PAGE_PGMAP + "static inline bool is_device_private_page(")
    f[h] = replace(f[h], """		is_zone_device_page(page) &&
		page->pgmap->type == MEMORY_DEVICE_PCI_P2PDMA;""",
                   """		is_zone_device_page(page) &&
		page_pgmap(page)->type == MEMORY_DEVICE_PCI_P2PDMA;""")


def step_core(f):
    f["drivers/pci/Kconfig"] = replace(
        f["drivers/pci/Kconfig"],
        "\tdepends on 64BIT\n\tselect GENERIC_ALLOCATOR\n",
        "\tdepends on 64BIT\n")
    make_line(f, "p2pdma_user.o")
    f["MAINTAINERS"] = replace(f["MAINTAINERS"],
                               "F:\tdrivers/pci/p2pdma.c\n",
                               "F:\tdrivers/pci/p2pdma.[ch]\n")
    maint_f(f, "drivers/pci/p2pdma_user.c")


def step_peers(f):
    f[ABI] = insert_after(
        f[ABI],
        "\t\tThis memory can be used in O_DIRECT calls to NVMe backed\n"
        "\t\tfiles for Peer-to-Peer copies.\n", PEERS_ABI)


CHECK_PAGE_DECL = """int pci_p2pdma_check_page(struct device *dev, struct page *page);
"""
CHECK_PAGE_STUB = """
static inline int pci_p2pdma_check_page(struct device *dev,
					struct page *page)
{
	return -EREMOTEIO;
}

"""
QUEUE_DMA_DEV = """
	/*
	 * With BLK_FEAT_PCI_P2PDMA: the device that does the DMA, so that P2P
	 * memory it cannot reach is refused before a request is built.
	 */
	struct device		*dma_dev;
"""
BIO_CHECK = """
/*
 * Refuse P2P pages that the DMA device of the queue cannot reach now, before
 * a request is built for them: at DMA map time the failure would end a
 * request the driver had already started, as a target error.
 */
static int bio_check_p2pdma(struct bio *bio, struct page **pages,
			    unsigned int nr_pages)
{
	struct device *dma_dev = bdev_get_queue(bio->bi_bdev)->limits.dma_dev;
	struct dev_pagemap *checked = NULL;
	unsigned int i;

	if (!dma_dev)
		return 0;
	for (i = 0; i < nr_pages; i++) {
		if (!is_pci_p2pdma_page(pages[i]) || pages[i]->pgmap == checked)
			continue;
		if (pci_p2pdma_check_page(dma_dev, pages[i]))
			return -EREMOTEIO;
		checked = pages[i]->pgmap;
	}
	return 0;
}
"""


def check_page_header(f):
    h = "include/linux/pci-p2pdma.h"
    f[h] = insert_after(
        f[h], "void pci_p2pmem_publish(struct pci_dev *pdev, bool publish);\n",
        CHECK_PAGE_DECL)
    f[h] = insert_after(
        f[h], "static inline void pci_p2pmem_publish(struct pci_dev *pdev, "
        "bool publish)\n{\n}\n", CHECK_PAGE_STUB)


def step_refuse_early(f):
    check_page_header(f)
    f["include/linux/blkdev.h"] = insert_after(
        f["include/linux/blkdev.h"],
        "\tunsigned int\t\tdma_alignment;\n\tunsigned int\t\tdma_pad_mask;\n",
        QUEUE_DMA_DEV)
    b = "block/bio.c"
    f[b] = insert_after(f[b], "#include <linux/xarray.h>\n",
                        "#include <linux/pci-p2pdma.h>\n")
    f[b] = replace(
        f[b], "#define PAGE_PTRS_PER_BVEC", BIO_CHECK.lstrip("\n") +
        "\n#define PAGE_PTRS_PER_BVEC")
    f[b] = replace(
        f[b], """	if (unlikely(!size)) {
		ret = -EFAULT;
		goto out;
	}
""", """	if (unlikely(!size)) {
		ret = -EFAULT;
		goto out;
	}

	if (extraction_flags & ITER_ALLOW_P2PDMA) {
		ret = bio_check_p2pdma(bio, pages, nr_pages);
		if (unlikely(ret)) {
			/*
			 * Fail the whole bio, not just this segment: a short
			 * bio would let the caller do the rest of the I/O
			 * another way (a block device reads it buffered).
			 */
			iov_iter_revert(iter, size + bio->bi_iter.bi_size);
			bio_release_pages(bio, false);
			bio->bi_vcnt = 0;
			bio->bi_iter.bi_size = 0;
			goto out;
		}
	}
""")
    c = "drivers/nvme/host/core.c"
    f[c] = replace(f[c], """	if (ctrl->ops->supports_pci_p2pdma &&
	    ctrl->ops->supports_pci_p2pdma(ctrl))
		lim.features |= BLK_FEAT_PCI_P2PDMA;
""", """	if (ctrl->ops->supports_pci_p2pdma &&
	    ctrl->ops->supports_pci_p2pdma(ctrl)) {
		lim.features |= BLK_FEAT_PCI_P2PDMA;
		lim.dma_dev = ctrl->dev;
	}
""")
    n = "drivers/nvme/host/pci.c"
    f[n] = replace(f[n], """	if (rc) {
		if (rc == -EREMOTEIO)
			ret = BLK_STS_TARGET;
		goto out_free_sg;
	}
""", """	if (rc) {
		if (rc == -EREMOTEIO) {
			/* P2P memory out of reach: no media error to report */
			req->rq_flags |= RQF_QUIET;
			ret = BLK_STS_TARGET;
		}
		goto out_free_sg;
	}
""")


def step_testmod(f):
    maint_f(f, "tools/testing/p2pdma/")


def step_selftests(f):
    f["tools/testing/selftests/Makefile"] = insert_after(
        f["tools/testing/selftests/Makefile"], "TARGETS += nsfs\n",
        "TARGETS += p2pdma\n")
    maint_f(f, "tools/testing/selftests/p2pdma/")


# End of the PCI_P2PDMA entry's help, after which the KUnit symbol goes.
P2PDMA_HELP_END = None

STEPS = [
    ("0001-pci-p2pdma-route.patch", step_route,
     "PCI/P2PDMA: build the routing policy and its KUnit suite",
     """Builds drivers/pci/p2pdma_route.o, the routing policy as a pure
function, and adds PCI_P2PDMA_KUNIT_TEST.  Each KUnit suite of the
P2PDMA core is a header included at the end of the file it tests (as
mm/damon does), so that it can reach static functions: production builds
carry no test hooks and export nothing for the tests.  So the symbol is
a bool that needs KUnit built in.  The files, the suites,
drivers/pci/.kunitconfig and a maintainer join the P2PDMA entry of
MAINTAINERS."""),
    ("0002-pci-p2pdma-buddy.patch", step_buddy,
     "PCI/P2PDMA: build the buddy allocator",
     """Builds drivers/pci/p2pdma_buddy.o, the buddy allocator over page
numbers, and lists its files in MAINTAINERS."""),
    ("0003-pci-p2pdma-pool.patch", step_pool,
     "PCI/P2PDMA: build the pool of a range",
     """Builds drivers/pci/p2pdma_pool.o, the allocator of one p2pmem range
(per-CPU caches, checked frees) on top of the buddy allocator, and lists
its files in MAINTAINERS."""),
    ("0004-pci-p2pdma-verdict.patch", step_verdict,
     "PCI/P2PDMA: build the verdicts",
     """Builds drivers/pci/p2pdma_verdict.o (path descriptions of real devices,
refusal messages, the verdict cache, the p2pdma trace events) and lists
its files in MAINTAINERS."""),
    ("0005-mm-memremap-pgmap-of-compound-tail-pages.patch", step_page_pgmap,
     "mm/memremap: is_pci_p2pdma_page() of a tail page",
     """In a compound ZONE_DEVICE page (pgmap->vmemmap_shift) only the head
page records its dev_pagemap: a tail page's pgmap field shares its word
with compound_head, so is_pci_p2pdma_page() of a tail page followed the
head's address plus one and read some bytes of the head's struct page as
a pgmap type.  GUP checks every subpage of a devmap PMD or PUD with it,
and the DMA mapping code and the block layer see tail pages in
scatterlists and bio_vecs.  With P2PDMA providers that register compound
pages, a tail page would pass for host memory and escape both
FOLL_PCI_P2PDMA and the P2P DMA mapping.

Add page_pgmap(), which looks at the head page, and use it in
is_pci_p2pdma_page().  Nothing changes for pages that are not compound.
zone_device_pages_have_same_pgmap() still compares the raw fields: a
tail's is odd and never equals a real pgmap, so at worst it keeps two
folios of one pgmap in separate segments."""),
    ("0006-pci-p2pdma-core.patch", step_core,
     "PCI/P2PDMA: build the user mapping, stop selecting GENERIC_ALLOCATOR",
     """Builds drivers/pci/p2pdma_user.o (sysfs p2pmem/ and its mmap) and lists
it and the core's private header in MAINTAINERS.  The core now allocates
p2pmem from its own buddy allocator, so it no longer needs genalloc."""),
    ("0007-pci-p2pdma-peers.patch", step_peers,
     "PCI/P2PDMA: document p2pmem/peers",
     """Documents the new p2pmem/peers file, the verdict of every possible
client, in the sysfs ABI."""),
    ("0008-block-nvme-refuse-unreachable-p2pmem-early.patch",
     step_refuse_early,
     "block, nvme-pci: refuse P2P memory the controller cannot reach early",
     """Direct I/O from a user mapping of p2pmem to an NVMe namespace whose
controller cannot reach that memory (no common upstream bridge and a host
bridge not known to route P2P, or ACS redirecting it) used to fail only
at DMA map time, in nvme_queue_rq(): the request had been started and
counted in the disk's statistics, and its end was logged as "critical
target error", a media error, before the caller saw EREMOTEIO.

A queue with BLK_FEAT_PCI_P2PDMA now names the device that does its DMA
(queue_limits.dma_dev, set by the NVMe core to the controller's device),
and __bio_iov_iter_get_pages() asks the new pci_p2pdma_check_page() about
the first page of each P2P range it pins.  Memory out of reach fails the
whole bio with EREMOTEIO there, before it is submitted (also when host
pages came before it in the vector, which would otherwise leave a short
bio whose rest a block device reads buffered): nothing reaches the
driver, the statistics do not move, and the P2PDMA core logs one
ratelimited line naming the provider, the client and the reason.

Stacked devices have no DMA device of their own; what they pass down
can still be refused at map time.  nvme-pci then marks the request
RQF_QUIET, so that this is not reported as a media error either."""),
    ("0009-p2pdma-test-modules.patch", step_testmod,
     "PCI/P2PDMA: cover the test modules in MAINTAINERS",
     """The test and benchmark modules of the P2PDMA API live in
tools/testing/p2pdma/; list them in the P2PDMA entry."""),
    ("0010-selftests-p2pdma.patch", step_selftests,
     "selftests: add p2pdma to TARGETS, cover it in MAINTAINERS",
     """Build and run the P2PDMA selftests with the others.  They drive the
test module of tools/testing/p2pdma/ and live in
tools/testing/selftests/p2pdma/."""),
]


def main():
    global P2PDMA_HELP_END
    f = {}
    for name in FILES:
        with open(os.path.join(PRISTINE, name)) as fh:
            f[name] = fh.read()
    k = f["drivers/pci/Kconfig"]
    start = k.index("config PCI_P2PDMA\n")
    end = k.index("\t  If unsure, say N.\n", start) + len("\t  If unsure, say N.\n")
    P2PDMA_HELP_END = k[start:end]
    who = author()
    names = []
    for fname, step, subject, body in STEPS:
        before = dict(f)
        step(f)
        diff = []
        for name in FILES:
            if before[name] == f[name]:
                continue
            d = list(difflib.unified_diff(
                before[name].splitlines(True), f[name].splitlines(True),
                "a/" + name, "b/" + name, n=3))
            d[0] = "--- a/%s\n" % name
            d[1] = "+++ b/%s\n" % name
            diff.append("diff --git a/%s b/%s\n" % (name, name) + "".join(d))
        text = ("From: %s\nSubject: [PATCH] %s\n\n%s\n\nSigned-off-by: %s\n\n---\n"
                % (who, subject, body, who)) + "".join(diff)
        with open(os.path.join(TOP, "patches", fname), "w") as fh:
            fh.write(text)
        names.append(fname)
    with open(os.path.join(TOP, "patches", "series"), "w") as fh:
        fh.write("\n".join(names) + "\n")


if __name__ == "__main__":
    sys.exit(main())
