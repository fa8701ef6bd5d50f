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
         "block/bio.c", "drivers/nvme/host/core.c", "drivers/nvme/host/pci.c",
         "block/blk-settings.c", "drivers/nvme/host/nvme.h",
         "drivers/nvme/host/multipath.c", "drivers/md/md.h", "drivers/md/md.c",
         "drivers/md/raid0.c", "drivers/md/raid1.c", "drivers/md/md-linear.c",
         "include/linux/device-mapper.h", "drivers/md/dm-table.c",
         "drivers/md/dm.c", "drivers/md/dm-linear.c", "drivers/md/dm-stripe.c",
         "block/blk-sysfs.c", "Documentation/ABI/stable/sysfs-block",
         "drivers/nvme/host/Makefile", "drivers/nvme/host/ioctl.c",
         "mm/huge_memory.c", "mm/mremap.c"]
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


def insert_before(text, anchor, new):
    assert anchor in text, anchor
    return text.replace(anchor, new + anchor, 1)


def include_p2pdma(f, name, after):
    """#include <linux/pci-p2pdma.h> in @name, after the include @after."""
    f[name] = insert_after(f[name], "#include <%s>\n" % after,
                           "#include <linux/pci-p2pdma.h>\n")


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


BIO_CHECK_DECL = """bool pci_p2pdma_bio_has_pages(struct bio *bio);
int pci_p2pdma_bio_check(struct block_device *bdev, struct bio *bio,
			 bool report);
"""
BIO_CHECK_STUB = """
static inline bool pci_p2pdma_bio_has_pages(struct bio *bio)
{
	return false;
}

static inline int pci_p2pdma_bio_check(struct block_device *bdev,
				       struct bio *bio, bool report)
{
	return 0;
}
"""


def step_bio_check(f):
    t = f["drivers/pci/Makefile"]
    t = insert_after(t, "obj-$(CONFIG_PCI_P2PDMA)\t+= p2pdma_user.o\n",
                     "ifdef CONFIG_BLOCK\n"
                     "obj-$(CONFIG_PCI_P2PDMA)\t+= p2pdma_block.o\n"
                     "endif\n")
    f["drivers/pci/Makefile"] = t
    maint_f(f, "drivers/pci/p2pdma_block.c")
    h = "include/linux/pci-p2pdma.h"
    f[h] = replace(f[h], "struct block_device;\n",
                   "struct bio;\nstruct block_device;\n")
    f[h] = insert_after(f[h], CHECK_PAGE_DECL, BIO_CHECK_DECL)
    f[h] = insert_after(f[h], CHECK_PAGE_STUB.rstrip("\n") + "\n",
                        BIO_CHECK_STUB)


def step_stack_feature(f):
    s = "block/blk-settings.c"
    f[s] = replace(f[s], """	/*
	 * BLK_FEAT_NOWAIT and BLK_FEAT_POLL need to be supported both by the
	 * stacking driver and all underlying devices.  The stacking driver sets
	 * the flags before stacking the limits, and this will clear the flags
	 * if any of the underlying devices does not support it.
	 */
	if (!(b->features & BLK_FEAT_NOWAIT))
		t->features &= ~BLK_FEAT_NOWAIT;
	if (!(b->features & BLK_FEAT_POLL))
		t->features &= ~BLK_FEAT_POLL;
""", """	/*
	 * BLK_FEAT_NOWAIT, BLK_FEAT_POLL and BLK_FEAT_PCI_P2PDMA need to be
	 * supported both by the stacking driver and all underlying devices.
	 * The stacking driver sets the flags before stacking the limits, and
	 * this will clear the flags if any of the underlying devices does not
	 * support it.
	 */
	if (!(b->features & BLK_FEAT_NOWAIT))
		t->features &= ~BLK_FEAT_NOWAIT;
	if (!(b->features & BLK_FEAT_POLL))
		t->features &= ~BLK_FEAT_POLL;
	if (!(b->features & BLK_FEAT_PCI_P2PDMA))
		t->features &= ~BLK_FEAT_PCI_P2PDMA;
""")


QUEUE_P2P_ABI = """What:		/sys/block/<disk>/queue/pci_p2pdma
Date:		December 2026
Contact:	linux-block@vger.kernel.org
Description:
		[RO] This file shows '1' if the device takes I/O whose
		buffers are PCI peer-to-peer DMA memory (a user mapping of
		p2pmem for O_DIRECT, say), '0' if not.  A stacked device
		(nvme multipath, md, dm) shows '1' only if all of its
		members do; whether a member can reach a given provider's
		memory is decided per I/O, see
		/sys/bus/pci/devices/.../p2pmem/peers.


"""


def step_queue_sysfs(f):
    s = "block/blk-sysfs.c"
    f[s] = replace(f[s], "QUEUE_SYSFS_FEATURE_SHOW(dax, BLK_FEAT_DAX);\n",
                   "QUEUE_SYSFS_FEATURE_SHOW(dax, BLK_FEAT_DAX);\n"
                   "QUEUE_SYSFS_FEATURE_SHOW(pci_p2pdma, BLK_FEAT_PCI_P2PDMA);\n")
    f[s] = replace(f[s], 'QUEUE_RO_ENTRY(queue_dax, "dax");\n',
                   'QUEUE_RO_ENTRY(queue_dax, "dax");\n'
                   'QUEUE_RO_ENTRY(queue_pci_p2pdma, "pci_p2pdma");\n')
    f[s] = replace(f[s], "\t&queue_dax_entry.attr,\n",
                   "\t&queue_dax_entry.attr,\n\t&queue_pci_p2pdma_entry.attr,\n")
    a = "Documentation/ABI/stable/sysfs-block"
    f[a] = replace(f[a], "What:\t\t/sys/block/<disk>/queue/physical_block_size\n",
                   QUEUE_P2P_ABI + "What:\t\t/sys/block/<disk>/queue/physical_block_size\n")


MPATH_P2P = """
/*
 * A path that cannot take I/O now but may soon: its controller is being
 * reset or reconnected, or its ANA state is changing.
 */
static bool nvme_p2pdma_path_may_return(struct nvme_ns *ns)
{
	if (test_bit(NVME_CTRL_FAILFAST_EXPIRED, &ns->ctrl->flags))
		return false;
	switch (nvme_ctrl_state(ns->ctrl)) {
	case NVME_CTRL_RESETTING:
	case NVME_CTRL_CONNECTING:
		return true;
	case NVME_CTRL_LIVE:
		return ns->ana_state == NVME_ANA_CHANGE ||
		       test_bit(NVME_NS_ANA_PENDING, &ns->flags);
	default:
		return false;
	}
}

/*
 * A bio with P2P memory must go to a controller that can reach it.  If the
 * path the I/O policy chose cannot, take a usable path that can, an
 * optimized one if there is one.  If the only paths that can are down for
 * now (a reset, an ANA transition), return NULL: the bio waits on the
 * requeue list as it would with no usable path at all.  Only when no path
 * can reach the memory is the bio refused: requeued or failed over, it
 * would come back to the same answer.
 */
static struct nvme_ns *nvme_p2pdma_path(struct nvme_ns_head *head,
					struct nvme_ns *ns, struct bio *bio)
{
	struct nvme_ns *p, *fallback = NULL;
	bool later = false;

	if (!pci_p2pdma_bio_check(ns->disk->part0, bio, false))
		return ns;
	list_for_each_entry_srcu(p, &head->list, siblings,
				 srcu_read_lock_held(&head->srcu)) {
		if (p == ns || pci_p2pdma_bio_check(p->disk->part0, bio, false))
			continue;
		if (nvme_path_is_disabled(p)) {
			later |= nvme_p2pdma_path_may_return(p);
			continue;
		}
		if (p->ana_state == NVME_ANA_OPTIMIZED)
			return p;
		if (p->ana_state == NVME_ANA_NONOPTIMIZED && !fallback)
			fallback = p;
		else if (p->ana_state == NVME_ANA_CHANGE)
			later = true;
	}
	if (fallback)
		return fallback;
	if (later)
		return NULL;
	pci_p2pdma_bio_check(ns->disk->part0, bio, true);
	return ERR_PTR(-EREMOTEIO);
}
"""

MPATH_RESTORE = """
/*
 * Paths narrow the head's limits as they join, and nothing widens them when
 * one leaves.  Give P2P back to the head once every remaining path can take
 * P2P memory again.
 */
void nvme_mpath_restore_p2pdma(struct nvme_ns_head *head)
{
	struct queue_limits lim;
	struct nvme_ns *ns;
	int srcu_idx;

	if (!head->disk || blk_queue_pci_p2pdma(head->disk->queue))
		return;
	lim = queue_limits_start_update(head->disk->queue);
	lim.features |= BLK_FEAT_PCI_P2PDMA;
	srcu_idx = srcu_read_lock(&head->srcu);
	list_for_each_entry_srcu(ns, &head->list, siblings,
				 srcu_read_lock_held(&head->srcu))
		if (!blk_queue_pci_p2pdma(ns->queue))
			lim.features &= ~BLK_FEAT_PCI_P2PDMA;
	srcu_read_unlock(&head->srcu, srcu_idx);
	if (list_empty(&head->list))
		lim.features &= ~BLK_FEAT_PCI_P2PDMA;
	queue_limits_commit_update(head->disk->queue, &lim);
}
"""


def step_nvme_mpath(f):
    m = "drivers/nvme/host/multipath.c"
    include_p2pdma(f, m, "linux/moduleparam.h")
    f[m] = insert_before(f[m], "static struct nvme_ns *__nvme_find_path(",
                         MPATH_P2P.lstrip("\n") + "\n")
    f[m] = replace(f[m], """	srcu_idx = srcu_read_lock(&head->srcu);
	ns = nvme_find_path(head);
	if (likely(ns)) {
		bio_set_dev(bio, ns->disk->part0);""", """	srcu_idx = srcu_read_lock(&head->srcu);
	ns = nvme_find_path(head);
	if (likely(ns) && unlikely(pci_p2pdma_bio_has_pages(bio)))
		ns = nvme_p2pdma_path(head, ns, bio);
	if (IS_ERR(ns)) {
		bio->bi_status = BLK_STS_TARGET;
		bio_endio(bio);
	} else if (likely(ns)) {
		bio_set_dev(bio, ns->disk->part0);""")
    f[m] = replace(f[m], """	lim.features |= BLK_FEAT_IO_STAT | BLK_FEAT_NOWAIT | BLK_FEAT_POLL;
	lim.max_zone_append_sectors = 0;
""", """	lim.features |= BLK_FEAT_IO_STAT | BLK_FEAT_NOWAIT | BLK_FEAT_POLL;
	/* Each path stacks on this: P2P stays only if every path has it. */
	lim.features |= BLK_FEAT_PCI_P2PDMA;
	lim.max_zone_append_sectors = 0;
""")
    f[m] = insert_before(f[m], "int nvme_mpath_alloc_disk(struct nvme_ctrl *ctrl, struct nvme_ns_head *head)\n",
                         MPATH_RESTORE.lstrip("\n") + "\n")
    h = "drivers/nvme/host/nvme.h"
    f[h] = replace(f[h], "void nvme_mpath_shutdown_disk(struct nvme_ns_head *head);\n",
                   "void nvme_mpath_shutdown_disk(struct nvme_ns_head *head);\n"
                   "void nvme_mpath_restore_p2pdma(struct nvme_ns_head *head);\n")
    f[h] = replace(f[h], """static inline void nvme_mpath_shutdown_disk(struct nvme_ns_head *head)
{
}
""", """static inline void nvme_mpath_shutdown_disk(struct nvme_ns_head *head)
{
}

static inline void nvme_mpath_restore_p2pdma(struct nvme_ns_head *head)
{
}
""")
    c = "drivers/nvme/host/core.c"
    f[c] = replace(f[c], """	if (last_path)
		nvme_mpath_shutdown_disk(ns->head);
	nvme_put_ns(ns);""", """	if (last_path)
		nvme_mpath_shutdown_disk(ns->head);
	else
		nvme_mpath_restore_p2pdma(ns->head);
	nvme_put_ns(ns);""")


MD_P2P = """
/*
 * Check a bio with P2P memory against every member in a slot of the array
 * (not spares) before the personality splits or clones it: refused at the
 * bottom, by one member, it would be taken for a media error (a failed
 * mirror, a bad block) and the others would have written it.  Called with
 * active_io held, as the personality will be: a spare enters a slot only
 * while the array is suspended, which waits for active_io, so the members
 * checked are those the bio will meet, raid1's read retries included.
 */
static bool md_p2pdma_refused(struct mddev *mddev, struct bio *bio)
{
	struct md_rdev *rdev;
	bool refused = false;

	if (likely(!pci_p2pdma_bio_has_pages(bio)))
		return false;
	if (pci_p2pdma_bio_check(bio->bi_bdev, bio, true))
		return true;
	rcu_read_lock();
	rdev_for_each_rcu(rdev, mddev) {
		if (rdev->raid_disk < 0)
			continue;
		if (pci_p2pdma_bio_check(rdev->bdev, bio, true)) {
			refused = true;
			break;
		}
	}
	rcu_read_unlock();
	return refused;
}

"""

MD_RESTORE = """
/*
 * Members narrow the array's limits as they join; one that could not take
 * P2P memory leaves the feature off after it failed and was removed.  A
 * personality that allows P2P calls this when it takes @gone out of its
 * slot, with the array locked.
 */
void mddev_restore_p2pdma(struct mddev *mddev, struct md_rdev *gone)
{
	struct request_queue *q;
	struct queue_limits lim;
	struct md_rdev *rdev;

	if (mddev_is_dm(mddev))
		return;
	q = mddev->gendisk->queue;
	if (blk_queue_pci_p2pdma(q))
		return;
	lim = queue_limits_start_update(q);
	lim.features |= BLK_FEAT_PCI_P2PDMA;
	rdev_for_each(rdev, mddev) {
		if (rdev == gone || rdev->raid_disk < 0)
			continue;
		if (!blk_queue_pci_p2pdma(bdev_get_queue(rdev->bdev)))
			lim.features &= ~BLK_FEAT_PCI_P2PDMA;
	}
	queue_limits_commit_update(q, &lim);
}
EXPORT_SYMBOL_GPL(mddev_restore_p2pdma);
"""


def step_md(f):
    c = "drivers/md/md.c"
    include_p2pdma(f, c, "linux/part_stat.h")
    f[c] = insert_before(f[c], "bool md_handle_request(struct mddev *mddev, struct bio *bio)\n",
                         MD_P2P.lstrip("\n"))
    f[c] = replace(f[c], """		if (!percpu_ref_tryget_live(&mddev->active_io))
			goto check_suspended;
	}
""", """		if (!percpu_ref_tryget_live(&mddev->active_io))
			goto check_suspended;
		if (unlikely(md_p2pdma_refused(mddev, bio))) {
			percpu_ref_put(&mddev->active_io);
			bio->bi_status = BLK_STS_TARGET;
			bio_endio(bio);
			return true;
		}
	}
""")
    f[c] = replace(f[c], "EXPORT_SYMBOL_GPL(mddev_stack_new_rdev);\n",
                   "EXPORT_SYMBOL_GPL(mddev_stack_new_rdev);\n" + MD_RESTORE)
    h = "drivers/md/md.h"
    f[h] = replace(f[h], "int mddev_stack_new_rdev(struct mddev *mddev, struct md_rdev *rdev);\n",
                   "int mddev_stack_new_rdev(struct mddev *mddev, struct md_rdev *rdev);\n"
                   "void mddev_restore_p2pdma(struct mddev *mddev, struct md_rdev *gone);\n")


def step_md_personalities(f):
    for name, anchor in (
            ("drivers/md/raid0.c", "\tlim.max_hw_sectors = mddev->chunk_sectors;\n"
             "\tlim.max_write_zeroes_sectors = mddev->chunk_sectors;\n"
             "\tlim.io_min = mddev->chunk_sectors << 9;\n"
             "\tlim.io_opt = lim.io_min * mddev->raid_disks;\n"),
            ("drivers/md/raid1.c", "\tlim.max_write_zeroes_sectors = 0;\n"),
            ("drivers/md/md-linear.c", "\tlim.max_hw_sectors = mddev->chunk_sectors;\n"
             "\tlim.max_write_zeroes_sectors = mddev->chunk_sectors;\n"
             "\tlim.io_min = mddev->chunk_sectors << 9;\n")):
        f[name] = replace(f[name], "\tmd_init_stacking_limits(&lim);\n" + anchor,
                          "\tmd_init_stacking_limits(&lim);\n" + anchor +
                          "\tlim.features |= BLK_FEAT_PCI_P2PDMA;\n")
    r = "drivers/md/raid1.c"
    include_p2pdma(f, r, "linux/ratelimit.h")
    f[r] = replace(f[r], """	bool write_behind = false;
""", """	bool write_behind = false;
	/* write-behind would copy the P2P pages with the CPU */
	bool may_copy = !pci_p2pdma_bio_has_pages(bio);
""")
    f[r] = replace(f[r], """		if (!is_discard && rdev && test_bit(WriteMostly, &rdev->flags))
			write_behind = true;""", """		if (!is_discard && rdev && test_bit(WriteMostly, &rdev->flags))
			write_behind = may_copy;""")
    f[r] = replace(f[r], """		clear_bit(WantReplacement, &rdev->flags);
		err = md_integrity_register(mddev);
	}
abort:
""", """		clear_bit(WantReplacement, &rdev->flags);
		err = md_integrity_register(mddev);
		mddev_restore_p2pdma(mddev, rdev);
	}
abort:
""")


DM_TARGET_P2P = """
/*
 * A target passes bios with P2P memory down to its devices unchanged
 */
#define DM_TARGET_PCI_P2PDMA		0x00000400
#define dm_target_passes_pci_p2pdma(type) \\
	((type)->features & DM_TARGET_PCI_P2PDMA)
"""

DM_TABLE_P2P = """
static bool dm_table_supports_pci_p2pdma(struct dm_table *t)
{
	if (!__table_type_bio_based(t->type))
		return false;
	for (unsigned int i = 0; i < t->num_targets; i++) {
		struct dm_target *ti = dm_table_get_target(t, i);

		if (!dm_target_passes_pci_p2pdma(ti->type))
			return false;
	}

	return true;
}
"""

DM_P2P = """
/*
 * The table may have changed since the pages of a bio with P2P memory were
 * pinned: check it against every device of the live table before it is
 * split and cloned, so that a device which cannot take it refuses the
 * whole bio and nothing is written.
 */
static bool dm_p2pdma_refused(struct dm_table *map, struct bio *bio)
{
	struct dm_dev_internal *dd;

	if (likely(!pci_p2pdma_bio_has_pages(bio)))
		return false;
	if (pci_p2pdma_bio_check(bio->bi_bdev, bio, true))
		return true;
	list_for_each_entry(dd, dm_table_get_devices(map), list)
		if (pci_p2pdma_bio_check(dd->dm_dev->bdev, bio, true))
			return true;
	return false;
}

"""


def step_dm(f):
    h = "include/linux/device-mapper.h"
    f[h] = replace(f[h], """#define DM_TARGET_MIXED_ZONED_MODEL	0x00000000
#define dm_target_supports_mixed_zoned_model(type) (false)
#endif
""", """#define DM_TARGET_MIXED_ZONED_MODEL	0x00000000
#define dm_target_supports_mixed_zoned_model(type) (false)
#endif
""" + DM_TARGET_P2P)
    t = "drivers/md/dm-table.c"
    f[t] = replace(f[t], """	limits->features |= BLK_FEAT_IO_STAT | BLK_FEAT_NOWAIT | BLK_FEAT_POLL;
}
""", """	limits->features |= BLK_FEAT_IO_STAT | BLK_FEAT_NOWAIT | BLK_FEAT_POLL |
			    BLK_FEAT_PCI_P2PDMA;
}
""")
    f[t] = insert_before(f[t], "static int device_not_discard_capable(",
                         DM_TABLE_P2P.lstrip("\n") + "\n")
    f[t] = replace(f[t], """	if (!dm_table_supports_nowait(t))
		limits->features &= ~BLK_FEAT_NOWAIT;
""", """	if (!dm_table_supports_nowait(t))
		limits->features &= ~BLK_FEAT_NOWAIT;

	if (!dm_table_supports_pci_p2pdma(t))
		limits->features &= ~BLK_FEAT_PCI_P2PDMA;
""")
    d = "drivers/md/dm.c"
    include_p2pdma(f, d, "linux/part_stat.h")
    f[d] = insert_before(f[d], "static void dm_submit_bio(struct bio *bio)\n",
                         DM_P2P.lstrip("\n"))
    f[d] = replace(f[d], """			queue_io(md, bio);
		goto out;
	}

	dm_split_and_process_bio(md, map, bio);
""", """			queue_io(md, bio);
		goto out;
	}

	if (unlikely(dm_p2pdma_refused(map, bio))) {
		bio->bi_status = BLK_STS_TARGET;
		bio_endio(bio);
		goto out;
	}

	dm_split_and_process_bio(md, map, bio);
""")
    l = "drivers/md/dm-linear.c"
    f[l] = replace(f[l], """	.features = DM_TARGET_PASSES_INTEGRITY | DM_TARGET_NOWAIT |
		    DM_TARGET_ZONED_HM | DM_TARGET_PASSES_CRYPTO,
""", """	.features = DM_TARGET_PASSES_INTEGRITY | DM_TARGET_NOWAIT |
		    DM_TARGET_ZONED_HM | DM_TARGET_PASSES_CRYPTO |
		    DM_TARGET_PCI_P2PDMA,
""")
    s = "drivers/md/dm-stripe.c"
    f[s] = replace(f[s], """	.features = DM_TARGET_PASSES_INTEGRITY | DM_TARGET_NOWAIT,
	.module = THIS_MODULE,
	.ctr    = stripe_ctr,""", """	.features = DM_TARGET_PASSES_INTEGRITY | DM_TARGET_NOWAIT |
		    DM_TARGET_PCI_P2PDMA,
	.module = THIS_MODULE,
	.ctr    = stripe_ctr,""")


# End of the PCI_P2PDMA entry's help, after which the KUnit symbol goes.
P2PDMA_HELP_END = None


FIND_EXCEPT_DECL = """struct pci_dev *pci_p2pmem_find_except(struct device **clients,
				       int num_clients, struct pci_dev *except);
"""
FIND_EXCEPT_STUB = """static inline struct pci_dev *pci_p2pmem_find_except(struct device **clients,
						     int num_clients,
						     struct pci_dev *except)
{
	return NULL;
}
"""


def step_find_except(f):
    h = "include/linux/pci-p2pdma.h"
    f[h] = insert_after(
        f[h], "struct pci_dev *pci_p2pmem_find_many(struct device **clients, int num_clients);\n",
        FIND_EXCEPT_DECL)
    anchor = "static inline void *pci_alloc_p2pmem(struct pci_dev *pdev, size_t size)\n"
    f[h] = insert_before(f[h], anchor, "\n" + FIND_EXCEPT_STUB + "\n")


MAP_RESOURCE_DECL = """int pci_p2pdma_map_resource(struct pci_dev *target, phys_addr_t phys,
			    size_t size, struct device *initiator,
			    enum dma_data_direction dir, dma_addr_t *addr);
void pci_p2pdma_unmap_resource(struct device *initiator, dma_addr_t addr,
			       size_t size, enum dma_data_direction dir,
			       int map);
"""
MAP_RESOURCE_STUB = """static inline int pci_p2pdma_map_resource(struct pci_dev *target,
					  phys_addr_t phys, size_t size,
					  struct device *initiator,
					  enum dma_data_direction dir,
					  dma_addr_t *addr)
{
	return -EREMOTEIO;
}

static inline void pci_p2pdma_unmap_resource(struct device *initiator,
					     dma_addr_t addr, size_t size,
					     enum dma_data_direction dir,
					     int map)
{
}
"""


def step_map_resource(f):
    h = "include/linux/pci-p2pdma.h"
    f[h] = insert_after(f[h], FIND_EXCEPT_DECL, MAP_RESOURCE_DECL)
    f[h] = insert_after(f[h], FIND_EXCEPT_STUB + "\n", MAP_RESOURCE_STUB + "\n")


LEASE_DBBUF_OFF = """
/*
 * While queues are kept for leases the controller must not use shadow
 * doorbells: it would take the tail of every I/O submission queue from
 * host memory, where the holder of a leased queue writes nothing.
 */
static void nvme_dbbuf_off(struct nvme_dev *dev)
{
	unsigned int i;

	nvme_dbbuf_dma_free(dev);
	for (i = 1; i < dev->nr_allocated_queues; i++)
		nvme_dbbuf_free(&dev->queues[i]);
}

/* Take lease_queues for this (re)start; shadow doorbells only without. */
static void nvme_pci_lease_prepare(struct nvme_dev *dev)
{
	dev->nr_lease_queues = nvme_lease_queues_wanted();
	if (dev->nr_lease_queues)
		nvme_dbbuf_off(dev);
	else
		nvme_dbbuf_dma_alloc(dev);
}
"""
LEASE_UP = """	geo.first_qid = first_lease;
	geo.nr = leased;
	geo.db_stride = dev->db_stride * 4;
	geo.max_depth = NVME_CAP_MQES(dev->ctrl.cap) + 1;
	geo.cmb_sqs = dev->cmbsz & NVME_CMBSZ_SQS;
	geo.cmb_cqs = dev->cmbsz & NVME_CMBSZ_CQS;
	nvme_lease_ctrl_up(dev->leases, &geo);
"""
LEASE_OPS = """static void nvme_pci_ns_removed(struct nvme_ctrl *ctrl, u32 nsid)
{
	nvme_lease_ns_gone(to_nvme_dev(ctrl)->leases, nsid);
}

"""


def step_nvme_lease(f):
    mk = "drivers/nvme/host/Makefile"
    f[mk] = replace(f[mk], "nvme-y\t\t\t\t\t+= pci.o\n",
                    "nvme-y\t\t\t\t\t+= pci.o pci-lease.o\n")
    maint_f(f, "drivers/nvme/host/pci-lease.*")
    maint_f(f, "include/uapi/linux/nvme_lease.h")

    h = "drivers/nvme/host/nvme.h"
    f[h] = insert_after(f[h], "	bool (*supports_pci_p2pdma)(struct nvme_ctrl *ctrl);\n",
                        "	long (*lease_ioctl)(struct nvme_ctrl *ctrl, unsigned int cmd,\n"
                        "			    void __user *argp);\n"
                        "	void (*ns_removed)(struct nvme_ctrl *ctrl, u32 nsid);\n")

    c = "drivers/nvme/host/core.c"
    f[c] = insert_after(f[c], """	nvme_fault_inject_fini(&ns->fault_inject);
""", """
	/* Whatever the transport handed out for this namespace ends first. */
	if (ns->ctrl->ops->ns_removed)
		ns->ctrl->ops->ns_removed(ns->ctrl, ns->head->ns_id);
""")

    c = "drivers/nvme/host/ioctl.c"
    f[c] = insert_after(f[c], "#include <linux/nvme_ioctl.h>\n",
                        "#include <linux/nvme_lease.h>\n")
    f[c] = replace(f[c], """		nvme_queue_scan(ctrl);
		return 0;
	default:
		return -ENOTTY;
	}
}""", """		nvme_queue_scan(ctrl);
		return 0;
	case NVME_IOCTL_LEASE:
	case NVME_IOCTL_LEASE_REVOKE:
		if (!ctrl->ops->lease_ioctl)
			return -ENOTTY;
		return ctrl->ops->lease_ioctl(ctrl, cmd, argp);
	default:
		return -ENOTTY;
	}
}""")

    p = "drivers/nvme/host/pci.c"
    t = f[p]
    t = insert_after(t, '#include "nvme.h"\n', '#include "pci-lease.h"\n')
    t = replace(t, "	unsigned int nr_poll_queues;\n};\n",
                "	unsigned int nr_poll_queues;\n"
                "	struct nvme_lease_ctrl *leases;\n"
                "	unsigned int nr_lease_queues;\n};\n")
    t = insert_after(t, """		for (i = 1; i < dev->online_queues; i++)
			nvme_dbbuf_free(&dev->queues[i]);
	}
}
""", LEASE_DBBUF_OFF)
    # Probe and reset both set up the doorbell buffer before the queues.
    assert t.count("\n	nvme_dbbuf_dma_alloc(dev);\n") == 2
    t = t.replace("\n	nvme_dbbuf_dma_alloc(dev);\n", "\n	nvme_pci_lease_prepare(dev);\n")
    t = replace(t, """	struct nvme_queue *adminq = &dev->queues[0];
	struct pci_dev *pdev = to_pci_dev(dev->dev);
	unsigned int nr_io_queues;
""", """	struct nvme_queue *adminq = &dev->queues[0];
	struct pci_dev *pdev = to_pci_dev(dev->dev);
	struct nvme_lease_geometry geo = { };
	unsigned int nr_io_queues, leased, first_lease;
""")
    t = replace(t, """			   dev->nr_allocated_queues - 1);
	result = nvme_set_queue_count(&dev->ctrl, &nr_io_queues);
	if (result < 0)
		return result;

	if (nr_io_queues == 0)
		return 0;
""", """			   dev->nr_allocated_queues - 1);
	nr_io_queues += dev->nr_lease_queues;
	result = nvme_set_queue_count(&dev->ctrl, &nr_io_queues);
	if (result < 0)
		return result;

	if (nr_io_queues == 0)
		return 0;

	/* The highest queue ids go to leases; the kernel keeps at least one. */
	leased = min(dev->nr_lease_queues, nr_io_queues - 1);
	first_lease = nr_io_queues - leased + 1;
	nr_io_queues -= leased;
""")
    t = replace(t, """		goto retry;
	}
	dev_info(dev->ctrl.device, "%d/%d/%d default/read/poll queues\\n",""",
                """		goto retry;
	}
""" + LEASE_UP + """	dev_info(dev->ctrl.device, "%d/%d/%d default/read/poll queues\\n",""")
    t = replace(t, """	bool dead;

	mutex_lock(&dev->shutdown_lock);
	dead = nvme_pci_ctrl_is_dead(dev);
""", """	bool dead;

	/* Holders stop first, their callbacks called with no lock held. */
	nvme_lease_ctrl_fence(dev->leases);
	mutex_lock(&dev->shutdown_lock);
	dead = nvme_pci_ctrl_is_dead(dev);
""")
    t = replace(t, """	nvme_reap_pending_cqes(dev);

	nvme_cancel_tagset(&dev->ctrl);""", """	nvme_reap_pending_cqes(dev);
	/* No DMA any more: leased queues are gone, their memory can go. */
	nvme_lease_ctrl_down(dev->leases);

	nvme_cancel_tagset(&dev->ctrl);""")
    t = replace(t, """	nvme_free_tagset(dev);
	put_device(dev->dev);
	kfree(dev->queues);""", """	nvme_free_tagset(dev);
	nvme_lease_ctrl_free(dev->leases);
	put_device(dev->dev);
	kfree(dev->queues);""")
    t = insert_before(t, "static const struct nvme_ctrl_ops nvme_pci_ctrl_ops = {\n",
                      LEASE_OPS)
    t = replace(t, "	.supports_pci_p2pdma	= nvme_pci_supports_pci_p2pdma,\n};",
                "	.supports_pci_p2pdma	= nvme_pci_supports_pci_p2pdma,\n"
                "	.lease_ioctl		= nvme_lease_ioctl,\n"
                "	.ns_removed		= nvme_pci_ns_removed,\n};")
    t = replace(t, """	dev->ctrl.max_integrity_segments = 1;
	return dev;
""", """	dev->ctrl.max_integrity_segments = 1;
	/* Without it the controller only refuses leases. */
	dev->leases = nvme_lease_ctrl_alloc(&dev->ctrl, pdev);
	return dev;
""")
    t = replace(t, """	BUILD_BUG_ON(nvme_pci_npages_prp() > NVME_MAX_NR_ALLOCATIONS);

	return pci_register_driver(&nvme_driver);
}
""", """	BUILD_BUG_ON(nvme_pci_npages_prp() > NVME_MAX_NR_ALLOCATIONS);

	/* Leases end when the memory they use or their holder goes away. */
	ret = nvme_lease_init();
	if (ret)
		return ret;
	ret = pci_register_driver(&nvme_driver);
	if (ret)
		nvme_lease_exit();
	return ret;
}
""")
    t = replace(t, """static int __init nvme_init(void)
{
""", """static int __init nvme_init(void)
{
	int ret;

""")
    t = replace(t, """	pci_unregister_driver(&nvme_driver);
	flush_workqueue(nvme_wq);
""", """	pci_unregister_driver(&nvme_driver);
	nvme_lease_exit();
	flush_workqueue(nvme_wq);
""")
    t = replace(t, """	nvme_remove_namespaces(&dev->ctrl);
	nvme_dev_disable(dev, true);
	nvme_free_host_mem(dev);""", """	nvme_remove_namespaces(&dev->ctrl);
	nvme_dev_disable(dev, true);
	nvme_lease_ctrl_free(dev->leases);
	dev->leases = NULL;
	nvme_free_host_mem(dev);""")
    f[p] = t


def step_pud_cache_mode(f):
    h = "mm/huge_memory.c"
    f[h] = replace(f[h], """static void insert_pfn_pud(struct vm_area_struct *vma, unsigned long addr,
		pud_t *pud, pfn_t pfn, bool write)
{
	struct mm_struct *mm = vma->vm_mm;
	pgprot_t prot = vma->vm_page_prot;
""", """static void insert_pfn_pud(struct vm_area_struct *vma, unsigned long addr,
		pud_t *pud, pfn_t pfn, pgprot_t prot, bool write)
{
	struct mm_struct *mm = vma->vm_mm;
""")
    f[h] = replace(f[h], "\tinsert_pfn_pud(vma, addr, vmf->pud, pfn, write);\n",
                   "\tinsert_pfn_pud(vma, addr, vmf->pud, pfn, pgprot, write);\n")


def step_mremap_huge_pud(f):
    m = "mm/mremap.c"
    f[m] = replace(f[m], """	pud = pud_offset(p4d, addr);
	if (pud_none_or_clear_bad(pud))
		return NULL;

	return pud;
}
""", """	pud = pud_offset(p4d, addr);
	if (pud_none(*pud))
		return NULL;
	/* A leaf is not a bad table: move_page_tables() moves or splits it. */
	if (pud_trans_huge(*pud) || pud_devmap(*pud))
		return pud;
	if (unlikely(pud_bad(*pud))) {
		pud_clear_bad(pud);
		return NULL;
	}

	return pud;
}
""")
    f[m] = replace(f[m], """	pud = get_old_pud(mm, addr);
	if (!pud)
		return NULL;

	pmd = pmd_offset(pud, addr);
""", """	pud = get_old_pud(mm, addr);
	if (!pud || pud_trans_huge(*pud) || pud_devmap(*pud))
		return NULL;

	pmd = pmd_offset(pud, addr);
""")
    f[m] = replace(f[m], """				move_pgt_entry(HPAGE_PUD, vma, old_addr, new_addr,
					       old_pud, new_pud, need_rmap_locks);
				/* We ignore and continue on error? */
				continue;
			}
		} else if""", """				move_pgt_entry(HPAGE_PUD, vma, old_addr, new_addr,
					       old_pud, new_pud, need_rmap_locks);
				/* We ignore and continue on error? */
				continue;
			}
			/* Part of it moves: drop the entry, it refaults. */
			split_huge_pud(vma, old_pud, old_addr);
		} else if""")


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
    ("0011-pci-p2pdma-bio-check.patch", step_bio_check,
     "PCI/P2PDMA: let stacking block drivers check the P2P memory of a bio",
     """A stacked block device (nvme multipath, md, dm) has no DMA device of
its own: it hands each bio to one or more members, and a member that
cannot reach the bio's P2P memory fails it only when it maps it for DMA,
as a target error.  The nvme head does not fail over on that, md takes
it for a media error (a failed mirror, bad blocks), and on a mirror the
other members have written the data by then.

Add pci_p2pdma_bio_has_pages(), a walk of the bio's multi-page vectors,
and pci_p2pdma_bio_check(), which says whether a member can take the
P2P memory of a bio: not at all without BLK_FEAT_PCI_P2PDMA, by the
provider's verdict cache when the member names its DMA device
(queue_limits.dma_dev), and trusted when it is itself stacked, because
it checks again.  It logs the reason only when asked, so that a driver
can try several members quietly.  They live in a file of their own,
drivers/pci/p2pdma_block.c, built with CONFIG_BLOCK."""),
    ("0012-block-stack-pci-p2pdma.patch", step_stack_feature,
     "block: stack BLK_FEAT_PCI_P2PDMA as NOWAIT and POLL are stacked",
     """BLK_FEAT_PCI_P2PDMA says a queue takes bios whose pages are P2P memory;
only nvme-pci sets it, on a bare namespace.  blk_stack_limits() neither
inherits nor clears it, so a stacking driver that set it would keep it
over a member that cannot do P2P at all (a loop device, a fabrics
namespace).  Clear it when a bottom device lacks it, as NOWAIT and POLL
are: a stacking driver that can pass P2P bios down sets it before it
stacks its members, and it stays only if every member has it.  Drivers
that never set it are unaffected."""),
    ("0013-block-queue-pci-p2pdma-sysfs.patch", step_queue_sysfs,
     "block: show BLK_FEAT_PCI_P2PDMA in queue/pci_p2pdma",
     """Whether a block device takes P2P memory decides whether O_DIRECT with
a user mapping of p2pmem can work on it at all, and for stacked devices
it now follows their members.  Show it as the read-only queue attribute
pci_p2pdma, as fua and dax are shown, so that a user can tell a device
that refuses P2P memory from one whose member cannot reach a provider."""),
    ("0014-nvme-multipath-pci-p2pdma.patch", step_nvme_mpath,
     "nvme-multipath: P2P memory through the multipath head",
     """O_DIRECT with a user mapping of p2pmem on a namespace with native
multipath failed with EREMOTEIO when its pages were pinned: the head
disk never set BLK_FEAT_PCI_P2PDMA, although every path could do the
transfer.

The head now sets it before its paths stack their limits, so it keeps
it when every path's controller can do P2P.  Per bio, the path the I/O
policy chose must reach the bio's P2P memory; if it cannot, a usable
path that can is taken, an optimized one first.  If none can, the bio
ends with BLK_STS_TARGET (EREMOTEIO) at once, logged once with the
reason: a requeue or a failover would come back to the same answer.
When a path goes away, the head gets P2P back if every remaining path
has it (the limits of a head are otherwise only narrowed)."""),
    ("0015-md-pci-p2pdma.patch", step_md,
     "md: check bios with P2P memory against the members",
     """A member of an array that cannot reach the P2P memory of a bio fails
it when it maps it for DMA, and md takes that for a media error: raid1
records bad blocks or fails the mirror, while the other mirrors have
written the data.

md_submit_bio() now checks a bio that carries P2P memory against the
array and every member in a slot (not spares) before the personality
sees it, and ends it with BLK_STS_TARGET
(EREMOTEIO) when one cannot take it: nothing is written and no member
is blamed.  mddev_restore_p2pdma() lets a personality give the array
P2P back after it removed the member that could not do P2P; stacking
only ever narrows the limits."""),
    ("0016-md-raid0-raid1-linear-pci-p2pdma.patch", step_md_personalities,
     "md/raid0, md/raid1, md-linear: pass P2P memory to the members",
     """raid0 and linear split and remap bios, raid1 clones them for each
mirror; the clones share the pages, so every member does its DMA to or
from the same P2P memory.  Set BLK_FEAT_PCI_P2PDMA before stacking the
members, so that it stays when all of them have it.  raid1 gives it
back when a member is removed, so that an array that lost its one
member without P2P (a loop device, say) can do P2P again.

raid1's resync and recovery use buffers of their own in host memory, so
they never touch the user's P2P pages.  Write-behind to a write-mostly
member would copy the data into host pages with the CPU, reading the
P2P memory through its uncached mapping: raid1 writes such bios to
every member synchronously instead.  raid5 and raid10 do not set the
flag."""),
    ("0017-dm-linear-stripe-pci-p2pdma.patch", step_dm,
     "dm: P2P memory through dm-linear and dm-stripe",
     """A new target feature, DM_TARGET_PCI_P2PDMA, says a target passes the
pages of a bio down unchanged.  Bio-based tables whose targets all have
it keep BLK_FEAT_PCI_P2PDMA, which the table's devices narrow as they
stack; linear and striped set it.  A table reload recomputes it, so
loading a table with a device that cannot do P2P turns it off.

dm_submit_bio() checks a bio with P2P memory against every device of
the live table before it splits and clones it: its pages may have been
pinned under an older table.  A device that cannot take the memory
ends the bio with BLK_STS_TARGET (EREMOTEIO) and nothing is written."""),
    ("0018-pci-p2pdma-find-except.patch", step_find_except,
     "PCI/P2PDMA: pick the closest provider but one",
     """A device may need P2P memory from a provider other than one it knows
to be unsuitable: an NVMe controller whose own CMB may not hold
completion queues wants the nearest other provider for them.  Add
pci_p2pmem_find_except(), pci_p2pmem_find_many() with one provider
left out; pci_p2pmem_find_many() becomes its special case."""),
    ("0019-pci-p2pdma-map-resource.patch", step_map_resource,
     "PCI/P2PDMA: map a peer's registers for a device's DMA",
     """A device that drives another one by itself, an accelerator ringing an
NVMe controller's doorbells for instance, needs the address at which it
reaches the other device's registers.  That is the same question the
P2PDMA verdict answers for p2pmem: the bus address below a common
switch, a mapping through the host bridge (and the IOMMU) where that
routes peer-to-peer traffic, or no way at all.

Add pci_p2pdma_map_resource() and pci_p2pdma_unmap_resource() for a
range inside a memory BAR that is not p2pmem.  A refusal is logged with
its reason, as for p2pmem."""),
    ("0020-nvme-pci-queue-leases.patch", step_nvme_lease,
     "nvme-pci: lease I/O queue pairs in P2P memory to a holder",
     """An accelerator, or a user-space driver, that wants to submit NVMe
commands itself today unbinds the kernel driver, takes the device
through vfio, or patches kernel queues behind the driver's back.  Let
the kernel hand out queues instead, and keep the controller.

The new module parameter lease_queues keeps that many I/O queue pairs,
the highest ids the controller grants, out of the block layer's use at
each reset.  NVME_IOCTL_LEASE on the controller's character device
(CAP_SYS_ADMIN) creates a pair for one namespace: the submission queue
in the controller's CMB when it may hold one, else in the nearest other
provider's P2P memory; the completion queue in P2P memory that may hold
it, else in host memory; a data buffer in P2P memory.  It returns a file
whose mmap gives the queues, the buffer and the queues' doorbell page,
and which tells the buffer's address as the controller sees it.  The
holder then needs no system call per command.  A driver of another PCI
device can hold a lease too (nvme_lease_get(), <linux/nvme-lease.h>):
the memory is then placed within reach of both devices and mapped for
the holder's device, doorbells included.

The kernel stays in control: closing the file, NVME_IOCTL_LEASE_REVOKE,
a controller reset or timeout recovery, removal of the controller,
removal of the lease's namespace (a new ns_removed controller operation,
called by nvme_ns_remove()), and the unbind or removal of a device that
provides the lease's memory or holds it end the lease.  The holder is
fenced first (its mappings are zapped and fault with SIGBUS, poll()
reports EPOLLERR | EPOLLHUP), then the queues are deleted, which aborts
what is left in them, or die with the disabled controller, and only then
the memory goes back.  The lease code lives in
drivers/nvme/host/pci-lease.c; pci.c only reserves the queue ids, turns
shadow doorbells off while queues are kept (the controller would read
the submission tail of every queue from host memory, which a holder does
not write), and tells the lease code when the controller goes down."""),
    ("0021-mm-huge-memory-pud-cache-mode.patch", step_pud_cache_mode,
     "mm/huge_memory: keep the cache mode vmf_insert_pfn_pud() looked up",
     """vmf_insert_pfn_pud() asks track_pfn_insert() for the cache mode of the
pfn, as the PTE and PMD variants do, and then insert_pfn_pud() builds
the entry from vma->vm_page_prot, throwing the answer away.  A PUD of
device memory that the kernel tracks as uncached-minus (P2PDMA's
memremap_pages() of a BAR) is then mapped write-back on x86, while the
PMDs and PTEs of the same BAR are UC-: CPU stores to a PCI BAR stay in
the cache, and the memory type conflicts with the kernel's own mapping.

Pass the pgprot track_pfn_insert() settled on down to insert_pfn_pud().
Mainline fixed the same in 2025 when it reworked these helpers; 6.12.y
still has the old code."""),
    ("0022-mm-mremap-move-or-split-huge-pud.patch", step_mremap_huge_pud,
     "mm/mremap: move or split a huge PUD of device memory, never clear it",
     """get_old_pud() runs pud_none_or_clear_bad() on the source entry, and on
x86 pud_bad() is true for any leaf PUD (_PAGE_PSE is not a table bit).
So mremap() of a VMA mapped by a devmap PUD (device-dax, P2PDMA's
p2pmem/allocate) logs "bad pud" and clears the entry without a TLB
flush: the old address keeps a stale 1 GiB translation until something
else flushes, while the memory may already be given back.  The code
that moves a whole huge PUD (move_huge_pud()) is never reached.

Return a leaf PUD from get_old_pud() as it is, let move_page_tables()
move it when a whole, aligned PUD moves, and split it otherwise (for
device memory that drops the entry with a flush; the new place refaults
it).  get_old_pmd() must not walk below a leaf: it returns NULL there."""),
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
