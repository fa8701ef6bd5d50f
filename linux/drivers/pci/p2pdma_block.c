// SPDX-License-Identifier: GPL-2.0
/*
 * P2P memory in the bios of stacked block devices.
 *
 * A queue with BLK_FEAT_PCI_P2PDMA takes bios whose pages are P2P memory.
 * A driver at the bottom of a stack names the device that does its DMA
 * (queue_limits.dma_dev); a stacking driver (nvme multipath, md, dm) has
 * none and passes the bio to one or more members.  If a member cannot reach
 * the memory, its DMA mapping fails with a target error the stacking driver
 * would take for a path or media error: a failover, a failed mirror, a bad
 * block.  So the stacking driver asks here first, per bio, before it clones
 * or remaps it, and picks another member or refuses the whole bio.
 */

#define pr_fmt(fmt) "pci-p2pdma: " fmt

#include <linux/bio.h>
#include <linux/blkdev.h>
#include <linux/pci-p2pdma.h>

#include "p2pdma.h"

/**
 * pci_p2pdma_bio_has_pages() - does a bio carry P2P memory
 * @bio: the bio, with the range its iterator covers
 *
 * A multi-page bio_vec never mixes P2P pages with other pages, nor pages of
 * two providers, so it is enough to look at the first page of each.
 *
 * Return: true if a page of @bio is a P2P page.
 */
bool pci_p2pdma_bio_has_pages(struct bio *bio)
{
	struct bvec_iter iter;
	struct bio_vec bv;

	if (!bio_has_data(bio))
		return false;
	bio_for_each_bvec(bv, bio, iter)
		if (is_pci_p2pdma_page(bv.bv_page))
			return true;
	return false;
}
EXPORT_SYMBOL_GPL(pci_p2pdma_bio_has_pages);

/**
 * pci_p2pdma_bio_check() - can a block device take the P2P memory of a bio
 * @bdev: the device the bio would be passed to
 * @bio: the bio
 * @report: log why, when the answer is no
 *
 * For stacking drivers, which choose the member a bio goes to.  A member
 * without BLK_FEAT_PCI_P2PDMA cannot take P2P memory at all.  A member that
 * names its DMA device is asked about every provider whose memory is in
 * @bio, from the provider's verdict cache.  A member that is itself stacked
 * (no DMA device) is trusted: it checks again when it passes the bio on.
 * With @report, a refusal logs one ratelimited line with the reason and
 * fires the p2pdma_map_refused trace event, as pci_p2pdma_check_page() does;
 * without it nothing is logged, so that a driver may try several members.
 *
 * Return: 0 if @bdev can take @bio (also when it holds no P2P memory),
 * -EREMOTEIO if it cannot.
 */
int pci_p2pdma_bio_check(struct block_device *bdev, struct bio *bio,
			 bool report)
{
	struct request_queue *q = bdev_get_queue(bdev);
	struct dev_pagemap *pgmap, *checked = NULL;
	struct device *dma_dev = q->limits.dma_dev;
	struct bvec_iter iter;
	struct bio_vec bv;

	if (!bio_has_data(bio))
		return 0;
	bio_for_each_bvec(bv, bio, iter) {
		if (!is_pci_p2pdma_page(bv.bv_page))
			continue;
		if (!blk_queue_pci_p2pdma(q)) {
			if (report)
				pr_warn_ratelimited("%pg cannot do peer-to-peer DMA: P2P memory refused\n",
						    bdev);
			return -EREMOTEIO;
		}
		if (!dma_dev)
			return 0;
		pgmap = page_pgmap(bv.bv_page);
		if (pgmap == checked)
			continue;
		if (p2pdma_map_type(pgmap, dma_dev) ==
		    PCI_P2PDMA_MAP_NOT_SUPPORTED) {
			if (report)
				pci_p2pdma_check_page(dma_dev, bv.bv_page);
			return -EREMOTEIO;
		}
		checked = pgmap;
	}
	return 0;
}
EXPORT_SYMBOL_GPL(pci_p2pdma_bio_check);
