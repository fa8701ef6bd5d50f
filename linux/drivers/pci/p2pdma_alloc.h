/* SPDX-License-Identifier: GPL-2.0 */
/*
 * PCI P2PDMA page allocator (p2pdma_alloc.c): a buddy allocator over page
 * numbers whose free blocks sit in hierarchical bitmaps, and the pool of
 * one memory range built on it (per-CPU caches of small blocks, bitmaps of
 * allocated pages).  Nothing here knows about PCI or struct page; the core
 * numbers pages by bus page frame number.
 */
#ifndef _DRIVERS_PCI_P2PDMA_ALLOC_H
#define _DRIVERS_PCI_P2PDMA_ALLOC_H

#include <linux/atomic.h>
#include <linux/bits.h>
#include <linux/log2.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/workqueue.h>

/* Depth of a hierarchical bitmap: 64^8 = 2^48 leaf bits at most. */
#define P2PDMA_HBM_LEVELS	8

/**
 * struct p2pdma_hbm - hierarchical bitmap holding the free blocks of one order
 * @lvl: the levels, from the leaf bitmap (entry 0 of @lvl) up to the
 *	single-word top level (entry @top); bit i of a summary level is set
 *	when word i of the level below it is not zero
 * @nbits: number of leaf bits
 * @first: block number (at this order) of leaf bit 0
 * @top: index of the top level, which is a single word
 */
struct p2pdma_hbm {
	unsigned long *lvl[P2PDMA_HBM_LEVELS];
	unsigned long nbits;
	unsigned long first;
	unsigned int top;
};

/**
 * struct p2pdma_buddy - buddy allocator over a range of page numbers
 * @origin: first page number of the range
 * @npages: number of pages in the range
 * @nfree: number of free pages
 * @max_order: largest block order that fits in the range
 * @nonempty: bit n is set when some block of order n is free
 * @freemap: one bit per page, set while the page is free here (bit 0 for
 *	@origin); p2pdma_buddy_alloc_fit() looks for runs of free pages in it
 * @store: backing memory of every bitmap
 * @order: free blocks, one hierarchical bitmap per order
 *
 * Page numbers are absolute (the glue uses bus page frame numbers), and a
 * block of order n starts at a page number that is a multiple of 2^n, so
 * power-of-two allocations are naturally aligned in the bus address space.
 * Not locked: the caller serialises every call on one allocator.
 */
struct p2pdma_buddy {
	unsigned long origin;
	unsigned long npages;
	unsigned long nfree;
	unsigned int max_order;
	unsigned long nonempty;
	unsigned long *freemap;
	unsigned long *store;
	struct p2pdma_hbm order[];
};

/* Blocks of order 0 to this (64 KiB with 4 KiB pages) are cached per CPU. */
#define P2PDMA_PCP_MAX_ORDER	4
#define P2PDMA_PCP_ORDERS	(P2PDMA_PCP_MAX_ORDER + 1)
#define P2PDMA_PCP_SLOTS	16
#define P2PDMA_PCP_BATCH	8
/*
 * The stacks of all CPUs' caches together keep at most 1/P2PDMA_PCP_SHARE
 * of a range out of its buddy, and each may hold one block of the largest
 * cached order whatever the range's size.  Each CPU's run of pages freed by
 * ->page_free() keeps at most as much again.
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
 * @pages: number of pages cached, run included; it changes under the
 *	pool's lock too whenever blocks move to or from the buddy
 * @taken: pages handed out on this CPU minus pages given back on it; the
 *	sum over all CPUs is the number of pages in use (p2pdma_pool_taken())
 * @count: number of cached blocks per order
 * @blk: first page number of each cached block, per order, used as a stack
 * @run_pg: first page of @run_len adjacent pages freed by ->page_free()
 * @run_len: length of that run, 0 if there is none
 */
struct p2pdma_pcp {
	spinlock_t lock;	/* this cache */
	unsigned long pages;
	u8 count[P2PDMA_PCP_ORDERS];
	unsigned long blk[P2PDMA_PCP_ORDERS][P2PDMA_PCP_SLOTS];
	unsigned long run_pg;
	unsigned long run_len;
	long taken;
};

/**
 * struct p2pdma_pool - the allocator of one memory range
 * @lock: guards @buddy; taken with interrupts off, possibly under a
 *	&struct p2pdma_pcp lock, never the other way round
 * @buddy: free pages, in page numbers
 * @pcp: per-CPU caches of small free blocks
 * @pcp_high: most pages one CPU's stacks may hold
 * @run_max: power of two at most @pcp_high: a run of pages freed one by
 *	one goes to the buddy when its end is a multiple of it
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
	unsigned long run_max;
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

struct p2pdma_buddy *p2pdma_buddy_create(unsigned long origin,
					 unsigned long npages, int nid);
void p2pdma_buddy_destroy(struct p2pdma_buddy *b);
bool p2pdma_buddy_alloc(struct p2pdma_buddy *b, unsigned long npages,
			unsigned long *first);
bool p2pdma_buddy_alloc_fit(struct p2pdma_buddy *b, unsigned long npages,
			    unsigned long *first);
unsigned long p2pdma_buddy_alloc_upto(struct p2pdma_buddy *b,
				      unsigned long max_pages,
				      unsigned long *first);
void p2pdma_buddy_free(struct p2pdma_buddy *b, unsigned long first,
		       unsigned long npages);
unsigned long p2pdma_find_run(const unsigned long *map, unsigned long nbits,
			      unsigned long n);

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
int p2pdma_pool_free_mapped(struct p2pdma_pool *pool, unsigned long pg);
int p2pdma_pool_kfree(struct p2pdma_pool *pool, unsigned long pg,
		      unsigned long npages);
unsigned long p2pdma_pool_taken(struct p2pdma_pool *pool);
unsigned long p2pdma_pool_retire(struct p2pdma_pool *pool);

#endif /* _DRIVERS_PCI_P2PDMA_ALLOC_H */
