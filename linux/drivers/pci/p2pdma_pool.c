// SPDX-License-Identifier: GPL-2.0
/*
 * PCI P2PDMA pool: the allocator of one p2pmem range.
 *
 * On top of the range's buddy allocator (p2pdma_buddy.c), the pool keeps
 * per-CPU caches of small blocks and keeps bitmaps of allocated pages that
 * check every free.  Nothing here knows about PCI.  Design and costs:
 * Documentation/driver-api/pci/p2pdma.rst, "The P2P Memory Allocator".
 */

#include <linux/bitmap.h>
#include <linux/cpumask.h>
#include <linux/lockdep.h>
#include <linux/minmax.h>
#include <linux/percpu.h>
#include <linux/slab.h>

#include "p2pdma_pool.h"

/*
 * Clear the bits of @mask in a word of a bitmap of allocated pages if they
 * are all set, and return true; else leave the word alone, return false.
 */
static bool p2pdma_inuse_clear(atomic_long_t *word, unsigned long mask)
{
	long old = atomic_long_read(word);

	do {
		if ((old & mask) != mask)
			return false;
	} while (!atomic_long_try_cmpxchg(word, &old, old & ~mask));
	return true;
}

/*
 * The pool of a range
 * ===================
 *
 * A pool hands out the pages of one range: power-of-two blocks of up to
 * 2^P2PDMA_PCP_MAX_ORDER pages through a small per-CPU stack per order,
 * anything else straight from the buddy.  Cached blocks look allocated to
 * the buddy, so every free is checked against a bitmap of allocated pages
 * instead, and kernel allocations also mark their first and last page so
 * that only a whole allocation can be freed.  Design and costs:
 * Documentation/driver-api/pci/p2pdma.rst, "The P2P Memory Allocator".
 *
 * The helpers of the cached path are __always_inline: left to itself the
 * compiler made each a call, and those calls cost the split core 1.2x per
 * small alloc+free pair under TCG.
 */

/* Bits [@bit, @next) of an in-use bitmap, all in the word of @bit. */
static unsigned long p2pdma_inuse_mask(unsigned long bit, unsigned long next)
{
	return GENMASK((next - 1) % BITS_PER_LONG, bit % BITS_PER_LONG);
}

/* End of the run of bits from @bit to @end that lies in one word. */
static unsigned long p2pdma_inuse_next(unsigned long bit, unsigned long end)
{
	return min(round_down(bit, BITS_PER_LONG) + BITS_PER_LONG, end);
}

/* Set the in-use bits of pages. */
static __always_inline void p2pdma_inuse_set(struct p2pdma_pool *pool,
					     unsigned long pg,
					     unsigned long npages)
{
	unsigned long bit = pg - pool->inuse_base, end = bit + npages, next;

	for (; bit < end; bit = next) {
		next = p2pdma_inuse_next(bit, end);
		atomic_long_or(p2pdma_inuse_mask(bit, next),
			       &pool->inuse[bit / BITS_PER_LONG]);
	}
}

/* Is [@pg, @pg + @npages) a non-empty span inside @pool? */
static bool p2pdma_pool_holds(const struct p2pdma_pool *pool,
			      unsigned long pg, unsigned long npages)
{
	const struct p2pdma_buddy *b = pool->buddy;

	return npages && pg >= b->origin && npages <= b->npages &&
	       pg - b->origin <= b->npages - npages;
}

/* Pages just taken from the buddy or a cache now belong to a user. */
static __always_inline void p2pdma_pool_hand_out(struct p2pdma_pool *pool,
						 unsigned long pg,
						 unsigned long npages)
{
	p2pdma_inuse_set(pool, pg, npages);
	this_cpu_add(pool->pcp->taken, npages);
}

/*
 * Claim pages for freeing by clearing their in-use bits, which must all be
 * set.  If some are not, the words cleared so far are set again and the
 * pages stay as they were.
 */
static __always_inline int p2pdma_inuse_claim(struct p2pdma_pool *pool,
					      unsigned long pg,
					      unsigned long npages)
{
	unsigned long start, bit, end, next;

	if (!p2pdma_pool_holds(pool, pg, npages))
		return -ERANGE;

	start = pg - pool->inuse_base;
	end = start + npages;
	for (bit = start; bit < end; bit = next) {
		next = p2pdma_inuse_next(bit, end);
		if (!p2pdma_inuse_clear(&pool->inuse[bit / BITS_PER_LONG],
					p2pdma_inuse_mask(bit, next)))
			break;
	}
	if (bit == end) {
		this_cpu_sub(pool->pcp->taken, npages);
		return 0;
	}
	p2pdma_inuse_set(pool, pg, bit - start);
	return -ENOENT;
}

/* Mark the first and last page of a kernel allocation. */
static void p2pdma_pool_mark(struct p2pdma_pool *pool, unsigned long pg,
			     unsigned long npages)
{
	set_bit(pg - pool->inuse_base, pool->heads);
	set_bit(pg + npages - 1 - pool->inuse_base, pool->tails);
}

static void p2pdma_pool_unmark(struct p2pdma_pool *pool, unsigned long pg,
			       unsigned long npages)
{
	clear_bit(pg - pool->inuse_base, pool->heads);
	clear_bit(pg + npages - 1 - pool->inuse_base, pool->tails);
}

/*
 * Is [@pg, @pg + @npages) exactly one kernel allocation?  One starts at @pg
 * and one ends at its last page, and none ends before that: since
 * allocations do not overlap, the one that ends there is the one that
 * starts at @pg.
 */
static bool p2pdma_pool_marked(struct p2pdma_pool *pool, unsigned long pg,
			       unsigned long npages)
{
	unsigned long first = pg - pool->inuse_base;
	unsigned long last = first + npages - 1;

	return test_bit(first, pool->heads) &&
	       find_next_bit(pool->tails, last + 1, first) == last;
}

/*
 * Free pages into the buddy, under the pool's lock.  Returns true when that
 * brings the pool back to less than 1/P2PDMA_PCP_SETTLE in use: the caller
 * then has the caches drained, since a cached page left in an otherwise
 * free area would keep it split for whatever is allocated next.
 */
static bool p2pdma_pool_give(struct p2pdma_pool *pool, unsigned long pg,
			     unsigned long npages)
{
	struct p2pdma_buddy *b = pool->buddy;
	unsigned long high = b->npages - b->npages / P2PDMA_PCP_SETTLE;

	lockdep_assert_held(&pool->lock);
	p2pdma_buddy_free(b, pg, npages);
	return b->nfree >= high && b->nfree - npages < high;
}

/* Give cached blocks of @order back to the buddy until @keep are left. */
static void p2pdma_pcp_flush(struct p2pdma_pool *pool, struct p2pdma_pcp *pcp,
			     unsigned int order, unsigned int keep)
{
	struct p2pdma_buddy *b = pool->buddy;

	lockdep_assert_held(&pcp->lock);
	if (pcp->count[order] <= keep)
		return;
	spin_lock(&pool->lock);
	while (pcp->count[order] > keep) {
		unsigned long pg = pcp->blk[order][--pcp->count[order]];

		p2pdma_buddy_free(b, pg, BIT(order));
		WRITE_ONCE(pcp->pages, pcp->pages - BIT(order));
	}
	spin_unlock(&pool->lock);
}

/* Refill the empty stack of @order in @pcp from the buddy. */
static unsigned int p2pdma_pcp_refill(struct p2pdma_pool *pool,
				      struct p2pdma_pcp *pcp,
				      unsigned int order)
{
	struct p2pdma_buddy *b = pool->buddy;
	unsigned long *blk = pcp->blk[order];
	unsigned int n = 0, i;
	bool exact;

	/*
	 * Batch only blocks that were already free at exactly this order;
	 * otherwise take one, splitting a larger block, and not the rest of
	 * that split: caching it would scatter cached blocks over the pool
	 * and cost larger allocations their room.
	 */
	spin_lock(&pool->lock);
	exact = b->nonempty & BIT(order);
	while (n < P2PDMA_PCP_BATCH &&
	       (!n || (exact && b->nonempty & BIT(order) &&
		       pcp->pages + ((n + 1UL) << order) <=
		       pool->pcp_high)) &&
	       p2pdma_buddy_alloc(b, BIT(order), &blk[n]))
		n++;
	WRITE_ONCE(pcp->pages, pcp->pages + ((unsigned long)n << order));
	spin_unlock(&pool->lock);
	/* Lowest block on top: hand them out in the buddy's order. */
	for (i = 0; i < n / 2; i++)
		swap(blk[i], blk[n - 1 - i]);
	return n;
}

/*
 * Take a block of @order from the current CPU's cache, refilling an empty
 * stack from the buddy first, and mark it allocated.  Being moved to
 * another CPU on the way only means using that CPU's cache, under its lock.
 */
static __always_inline bool p2pdma_pool_pop(struct p2pdma_pool *pool,
					    unsigned int order,
					    unsigned long *pg)
{
	struct p2pdma_pcp *pcp = raw_cpu_ptr(pool->pcp);
	unsigned long flags;
	unsigned int n;
	bool got = false;

	spin_lock_irqsave(&pcp->lock, flags);
	n = pcp->count[order];
	if (!n)
		n = p2pdma_pcp_refill(pool, pcp, order);
	if (n) {
		*pg = pcp->blk[order][--n];
		WRITE_ONCE(pcp->pages, pcp->pages - BIT(order));
		got = true;
	}
	pcp->count[order] = n;
	spin_unlock_irqrestore(&pcp->lock, flags);
	if (got)
		p2pdma_pool_hand_out(pool, *pg, BIT(order));
	return got;
}

/*
 * Put a free block of @order on its stack in @pcp.  A full stack first
 * gives P2PDMA_PCP_BATCH blocks back; stacks that would go over their limit
 * are emptied first (the limit is at least one block of any order).
 */
static void p2pdma_pcp_stack(struct p2pdma_pool *pool, struct p2pdma_pcp *pcp,
			     unsigned int order, unsigned long pg)
{
	unsigned int k;

	lockdep_assert_held(&pcp->lock);
	if (pcp->count[order] == P2PDMA_PCP_SLOTS)
		p2pdma_pcp_flush(pool, pcp, order,
				 P2PDMA_PCP_SLOTS - P2PDMA_PCP_BATCH);
	if (pcp->pages + BIT(order) > pool->pcp_high)
		for (k = 0; k < P2PDMA_PCP_ORDERS; k++)
			p2pdma_pcp_flush(pool, pcp, k, 0);
	pcp->blk[order][pcp->count[order]++] = pg;
	WRITE_ONCE(pcp->pages, pcp->pages + BIT(order));
}

/* Put a freed block of @order in the current CPU's cache. */
static __always_inline void p2pdma_pcp_push(struct p2pdma_pool *pool,
					    unsigned int order,
					    unsigned long pg)
{
	struct p2pdma_pcp *pcp = raw_cpu_ptr(pool->pcp);
	unsigned long flags;

	spin_lock_irqsave(&pcp->lock, flags);
	p2pdma_pcp_stack(pool, pcp, order, pg);
	spin_unlock_irqrestore(&pcp->lock, flags);
}

/**
 * p2pdma_pool_drain() - empty every CPU's cache into the buddy
 * @pool: the pool
 *
 * Return: true if any cache held pages.
 */
bool p2pdma_pool_drain(struct p2pdma_pool *pool)
{
	unsigned int cpu, order;
	unsigned long flags;
	bool any = false;

	for_each_possible_cpu(cpu) {
		struct p2pdma_pcp *pcp = per_cpu_ptr(pool->pcp, cpu);

		if (!READ_ONCE(pcp->pages))
			continue;
		spin_lock_irqsave(&pcp->lock, flags);
		for (order = 0; order < P2PDMA_PCP_ORDERS; order++) {
			if (!pcp->count[order])
				continue;
			p2pdma_pcp_flush(pool, pcp, order, 0);
			any = true;
		}
		spin_unlock_irqrestore(&pcp->lock, flags);
	}
	return any;
}

/*
 * The settle drain.  Frees run in any context, even with interrupts off, and
 * a drain visits every possible CPU: it runs from a work item instead.
 */
static void p2pdma_pool_settle(struct work_struct *work)
{
	p2pdma_pool_drain(container_of(work, struct p2pdma_pool, settle_work));
}

/**
 * p2pdma_pool_taken() - pages of a pool in use
 * @pool: the pool
 *
 * Summed over the CPUs without locks, so that readers never hold off
 * allocations; exact whenever no allocation or free is under way.
 *
 * Return: the number of pages handed out and not given back.
 */
unsigned long p2pdma_pool_taken(struct p2pdma_pool *pool)
{
	unsigned int cpu;
	long taken = 0;

	for_each_possible_cpu(cpu)
		taken += READ_ONCE(per_cpu_ptr(pool->pcp, cpu)->taken);
	return clamp_t(long, taken, 0, pool->buddy->npages);
}

/* Hand claimed pages back: a small aligned block to a cache, else the buddy. */
static __always_inline void p2pdma_pool_release(struct p2pdma_pool *pool,
						unsigned long pg,
						unsigned long npages)
{
	unsigned long flags;
	bool settled;

	if (p2pdma_pool_cacheable(npages) && IS_ALIGNED(pg, npages)) {
		p2pdma_pcp_push(pool, ilog2(npages), pg);
		return;
	}
	spin_lock_irqsave(&pool->lock, flags);
	settled = p2pdma_pool_give(pool, pg, npages);
	spin_unlock_irqrestore(&pool->lock, flags);
	if (settled)
		schedule_work(&pool->settle_work);
}

/**
 * p2pdma_pool_take() - allocate pages from the buddy
 * @pool: the pool
 * @npages: number of pages, or the most wanted without @contig
 * @contig: @npages contiguous pages (p2pdma_buddy_alloc_fit()); else one
 *	block of at most @npages (p2pdma_buddy_alloc_upto())
 * @pg: returns the first page number
 *
 * The pages are marked allocated.  Cached blocks are not looked at: the
 * caller drains the caches (p2pdma_pool_drain()) and tries again when this
 * fails.
 *
 * Return: the number of pages allocated, or 0 if there is no room.
 */
long p2pdma_pool_take(struct p2pdma_pool *pool, unsigned long npages,
		      bool contig, unsigned long *pg)
{
	unsigned long flags, n;

	spin_lock_irqsave(&pool->lock, flags);
	if (contig)
		n = p2pdma_buddy_alloc_fit(pool->buddy, npages, pg) ? npages : 0;
	else
		n = p2pdma_buddy_alloc_upto(pool->buddy, npages, pg);
	spin_unlock_irqrestore(&pool->lock, flags);
	if (n)
		p2pdma_pool_hand_out(pool, *pg, n);
	return n;
}

/**
 * p2pdma_pool_kalloc() - allocate a kernel allocation
 * @pool: the pool
 * @npages: number of contiguous pages
 * @pg: returns the first page number
 *
 * A small power of two comes from the current CPU's cache, anything else
 * (or when the cache cannot be refilled) from the buddy.  The pages are
 * marked allocated, and their bounds for p2pdma_pool_kfree().
 *
 * Return: @npages, or 0 if there is no room.
 */
long p2pdma_pool_kalloc(struct p2pdma_pool *pool, unsigned long npages,
			unsigned long *pg)
{
	long n = 0;

	if (p2pdma_pool_cacheable(npages) &&
	    p2pdma_pool_pop(pool, ilog2(npages), pg))
		n = npages;
	if (!n)
		n = p2pdma_pool_take(pool, npages, true, pg);
	if (n)
		p2pdma_pool_mark(pool, *pg, npages);
	return n;
}

/**
 * p2pdma_pool_free() - free pages of a user mapping
 * @pool: the pool
 * @pg: first page number
 * @npages: number of pages
 *
 * Return: 0, or -ERANGE if the span is not inside @pool, -ENOENT if some
 * page of it is not allocated; nothing changes then.
 */
int p2pdma_pool_free(struct p2pdma_pool *pool, unsigned long pg,
		     unsigned long npages)
{
	int err = p2pdma_inuse_claim(pool, pg, npages);

	if (!err)
		p2pdma_pool_release(pool, pg, npages);
	return err;
}

/**
 * p2pdma_pool_kfree() - free a kernel allocation
 * @pool: the pool
 * @pg: first page number
 * @npages: number of pages
 *
 * Checked before anything changes: the span must be exactly one live
 * allocation marked by p2pdma_pool_mark().
 *
 * Return: 0, or -ERANGE if the span is not inside @pool, -ENXIO if it is
 * not one whole allocation, -ENOENT if it is not allocated.
 */
int p2pdma_pool_kfree(struct p2pdma_pool *pool, unsigned long pg,
		      unsigned long npages)
{
	int err;

	if (!p2pdma_pool_holds(pool, pg, npages))
		return -ERANGE;
	if (!p2pdma_pool_marked(pool, pg, npages))
		return -ENXIO;
	err = p2pdma_inuse_claim(pool, pg, npages);
	if (err)
		return err;
	p2pdma_pool_unmark(pool, pg, npages);
	p2pdma_pool_release(pool, pg, npages);
	return 0;
}

/**
 * p2pdma_pool_init() - set up a pool with every page free
 * @pool: the pool, zeroed
 * @first: first page number
 * @npages: number of pages
 * @nid: NUMA node for the bitmaps
 *
 * Return: 0 or -ENOMEM.
 */
int p2pdma_pool_init(struct p2pdma_pool *pool, unsigned long first,
		     unsigned long npages, int nid)
{
	unsigned long nbits;
	unsigned int cpu;

	pool->buddy = p2pdma_buddy_create(first, npages, nid);
	if (!pool->buddy)
		return -ENOMEM;
	pool->inuse_base = round_down(first, BITS_PER_LONG);
	nbits = first + npages - pool->inuse_base;
	pool->inuse = kvcalloc_node(BITS_TO_LONGS(nbits),
				    sizeof(*pool->inuse), GFP_KERNEL, nid);
	pool->heads = kvcalloc_node(2 * BITS_TO_LONGS(nbits),
				    sizeof(*pool->heads), GFP_KERNEL, nid);
	pool->pcp = alloc_percpu(struct p2pdma_pcp);
	if (!pool->inuse || !pool->heads || !pool->pcp) {
		free_percpu(pool->pcp);
		kvfree(pool->heads);
		kvfree(pool->inuse);
		p2pdma_buddy_destroy(pool->buddy);
		return -ENOMEM;
	}
	pool->tails = pool->heads + BITS_TO_LONGS(nbits);
	spin_lock_init(&pool->lock);
	for_each_possible_cpu(cpu)
		spin_lock_init(&per_cpu_ptr(pool->pcp, cpu)->lock);
	INIT_WORK(&pool->settle_work, p2pdma_pool_settle);
	pool->pcp_high = max(npages / (P2PDMA_PCP_SHARE * num_possible_cpus()),
			     BIT(P2PDMA_PCP_MAX_ORDER));
	return 0;
}

/**
 * p2pdma_pool_retire() - empty the caches of a pool nobody uses any more
 * @pool: the pool
 *
 * Return: the number of pages still allocated (0 unless a user leaked).
 */
unsigned long p2pdma_pool_retire(struct p2pdma_pool *pool)
{
	cancel_work_sync(&pool->settle_work);
	p2pdma_pool_drain(pool);
	return pool->buddy->npages - pool->buddy->nfree;
}

/**
 * p2pdma_pool_exit() - free what p2pdma_pool_init() allocated
 * @pool: the pool
 */
void p2pdma_pool_exit(struct p2pdma_pool *pool)
{
	cancel_work_sync(&pool->settle_work);
	free_percpu(pool->pcp);
	kvfree(pool->heads);
	kvfree(pool->inuse);
	p2pdma_buddy_destroy(pool->buddy);
}

#ifdef CONFIG_PCI_P2PDMA_KUNIT_TEST
#include "p2pdma_pool_kunit.h"
#endif
