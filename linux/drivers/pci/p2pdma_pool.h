/* SPDX-License-Identifier: GPL-2.0 */
/*
 * PCI P2PDMA pool (p2pdma_pool.c): the allocator of one p2pmem range, with
 * per-CPU caches of small blocks and bitmaps of allocated pages, on top of
 * the range's buddy allocator.
 */
#ifndef _DRIVERS_PCI_P2PDMA_POOL_H
#define _DRIVERS_PCI_P2PDMA_POOL_H

#include <linux/atomic.h>
#include <linux/bits.h>
#include <linux/log2.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/workqueue.h>

#include "p2pdma_buddy.h"

/* Blocks of order 0 to this (64 KiB with 4 KiB pages) are cached per CPU. */
#define P2PDMA_PCP_MAX_ORDER	4
#define P2PDMA_PCP_ORDERS	(P2PDMA_PCP_MAX_ORDER + 1)
#define P2PDMA_PCP_SLOTS	16
#define P2PDMA_PCP_BATCH	8
/*
 * The stacks of all CPUs' caches together keep at most 1/P2PDMA_PCP_SHARE
 * of a range out of its buddy, and each may hold one block of the largest
 * cached order whatever the range's size.
 */
#define P2PDMA_PCP_SHARE	256
/*
 * A free that brings a range back to less than 1/P2PDMA_PCP_SETTLE of its
 * pages in use drains the range's caches.
 */
#define P2PDMA_PCP_SETTLE	8

/**
 * struct p2pdma_pcp - one CPU's cache of free blocks of one range
 * @lock: guards the cache; taken from another CPU by drains, and by a
 *	task that moved to another CPU after picking this cache
 * @pages: number of pages cached; it changes under the pool's lock too
 *	whenever blocks move to or from the buddy
 * @taken: pages handed out on this CPU minus pages given back on it; the
 *	sum over all CPUs is the number of pages in use (p2pdma_pool_taken())
 * @count: number of cached blocks per order
 * @blk: first page number of each cached block, per order, used as a stack
 */
struct p2pdma_pcp {
	spinlock_t lock;	/* this cache */
	unsigned long pages;
	u8 count[P2PDMA_PCP_ORDERS];
	unsigned long blk[P2PDMA_PCP_ORDERS][P2PDMA_PCP_SLOTS];
	long taken;
};

/**
 * struct p2pdma_pool - the allocator of one memory range
 * @lock: guards @buddy; taken with interrupts off, possibly under a
 *	&struct p2pdma_pcp lock, never the other way round
 * @buddy: free pages, in page numbers
 * @pcp: per-CPU caches of small free blocks
 * @pcp_high: most pages one CPU's stacks may hold
 * @inuse: one bit per allocated page, bit 0 standing for page @inuse_base
 * @inuse_base: @buddy->origin rounded down to a multiple of BITS_PER_LONG,
 *	so that an aligned block of up to BITS_PER_LONG pages is in one word
 * @heads: bit set on the first page of each kernel allocation, same
 *	indexes as @inuse
 * @tails: bit set on the last page of each kernel allocation
 * @settle_work: drains the caches once the pool is mostly free again
 */
struct p2pdma_pool {
	spinlock_t lock;	/* the buddy */
	struct p2pdma_buddy *buddy;
	struct p2pdma_pcp __percpu *pcp;
	unsigned long pcp_high;
	atomic_long_t *inuse;
	unsigned long inuse_base;
	unsigned long *heads;
	unsigned long *tails;
	struct work_struct settle_work;
};

/* Whether a kernel allocation of @npages pages goes through the caches. */
static inline bool p2pdma_pool_cacheable(unsigned long npages)
{
	return npages <= BIT(P2PDMA_PCP_MAX_ORDER) && is_power_of_2(npages);
}

int p2pdma_pool_init(struct p2pdma_pool *pool, unsigned long first,
		     unsigned long npages, int nid);
void p2pdma_pool_exit(struct p2pdma_pool *pool);
long p2pdma_pool_take(struct p2pdma_pool *pool, unsigned long npages,
		      bool contig, unsigned long *pg);
long p2pdma_pool_kalloc(struct p2pdma_pool *pool, unsigned long npages,
			unsigned long *pg);
bool p2pdma_pool_drain(struct p2pdma_pool *pool);
int p2pdma_pool_free(struct p2pdma_pool *pool, unsigned long pg,
		     unsigned long npages);
int p2pdma_pool_kfree(struct p2pdma_pool *pool, unsigned long pg,
		      unsigned long npages);
unsigned long p2pdma_pool_taken(struct p2pdma_pool *pool);
unsigned long p2pdma_pool_retire(struct p2pdma_pool *pool);

#endif /* _DRIVERS_PCI_P2PDMA_POOL_H */
