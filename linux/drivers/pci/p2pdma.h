/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the files of the PCI P2PDMA core share: the state of a provider and
 * of its memory ranges.  p2pdma.c owns both; p2pdma_user.c maps their
 * pages into user space, and p2pdma_block.c answers stacked block devices
 * about the pages of their bios.  The layers below, p2pdma_pool.c (with
 * p2pdma_buddy.c) and p2pdma_verdict.c (with p2pdma_route.c), know nothing
 * of either.
 */
#ifndef _DRIVERS_PCI_P2PDMA_H
#define _DRIVERS_PCI_P2PDMA_H

#include <linux/list.h>
#include <linux/memremap.h>
#include <linux/spinlock.h>

#include "p2pdma_pool.h"
#include "p2pdma_verdict.h"

struct pci_dev;

/**
 * struct pci_p2pdma - peer-to-peer state of one provider
 * @lock: guards @ranges and the @live flag of every range
 * @ranges: struct p2pdma_range list; RCU for readers
 * @verdicts: cached routing verdicts of the clients
 * @node: entry in the list of all providers, whose caches change of
 *	topology empties
 * @published: other drivers may pick this provider via pci_p2pmem_find()
 */
struct pci_p2pdma {
	spinlock_t lock;	/* ranges and their live flags */
	struct list_head ranges;
	struct p2pdma_verdicts verdicts;
	struct list_head node;
	bool published;
};

/**
 * struct p2pdma_range - one pci_p2pdma_add_resource() call
 * @pgmap: the ZONE_DEVICE mapping; @pgmap.ref counts users of the range
 * @provider: the device whose BAR holds the range
 * @p2pdma: state of @provider; outlives the range
 * @node: entry in @p2pdma->ranges
 * @live: new allocations may come from this range (set under
 *	@p2pdma->lock, read without it)
 * @kaddr: kernel address of the first page
 * @bus_offset: PCI bus address minus CPU physical address
 * @pool: the allocator of the range, in bus page frame numbers
 */
struct p2pdma_range {
	struct dev_pagemap pgmap;
	struct pci_dev *provider;
	struct pci_p2pdma *p2pdma;
	struct list_head node;
	bool live;
	void *kaddr;
	u64 bus_offset;
	struct p2pdma_pool pool;
};

static inline struct p2pdma_range *to_p2pdma_range(struct dev_pagemap *pgmap)
{
	return container_of(pgmap, struct p2pdma_range, pgmap);
}

long p2pdma_take(struct pci_p2pdma *p2pdma, unsigned long npages, bool kernel,
		 struct p2pdma_range **rangep, unsigned long *pg);
bool p2pdma_drain(struct pci_p2pdma *p2pdma);
void p2pdma_free_refused(struct p2pdma_range *range, unsigned long pg,
			 unsigned long npages, int err);
enum pci_p2pdma_map_type p2pdma_map_type(struct dev_pagemap *pgmap,
					 struct device *dev);

int p2pmem_sysfs_create(struct pci_dev *pdev);
void p2pmem_sysfs_remove(struct pci_dev *pdev);
void p2pmem_sysfs_revoke(struct pci_dev *pdev);

#endif /* _DRIVERS_PCI_P2PDMA_H */
