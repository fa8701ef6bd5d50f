// SPDX-License-Identifier: GPL-2.0
/*
 * PCI peer-to-peer DMA core.
 *
 * A provider driver registers ranges of one of its BARs.  Each range gets
 * ZONE_DEVICE struct pages (MEMORY_DEVICE_PCI_P2PDMA) and joins the
 * provider's page allocator.  Clients allocate from it in the kernel
 * (pci_alloc_p2pmem() and friends) or user space maps it through the
 * p2pmem/allocate sysfs file; the DMA mapping code then asks
 * pci_p2pdma_map_segment() how a client reaches those pages.
 *
 * The file is ordered by layer: the page allocator and the routing policy
 * first (plain data structures, table-tested by p2pdma_test.c), then page
 * ownership, sysfs, setup and teardown, the topology glue and verdict
 * cache, the exported API, DMA mapping and the configfs helpers.
 *
 * Lifetime rules, in one place:
 *  - pdev->p2pdma is RCU protected.  It is cleared, and freed after a grace
 *    period, by the devm action registered when the first range is added,
 *    so it outlives every range.
 *  - Every allocation holds one reference on the owning range's
 *    pgmap->ref, taken with percpu_ref_tryget_live_rcu(); a user mapping
 *    holds one per mapped page, dropped by ->page_free() even if the
 *    allocator refuses the page.
 *  - A range is torn down by three devm actions, in this order: stop new
 *    allocations and zap user mappings; devm_memunmap_pages(), which waits
 *    for every reference above; unlink and free the range.
 *  - One spinlock per provider guards the range list and every range's
 *    buddy allocator.  Each range also has a per-CPU cache of small free
 *    blocks with a spinlock of its own, which may be held when taking the
 *    provider's lock, never the other way round.  Pages can be freed from
 *    any context (the last put_page() of a mapped page), so both are
 *    always taken with interrupts disabled.
 */

#define pr_fmt(fmt) "pci-p2pdma: " fmt
#include <linux/ctype.h>
#include <linux/dma-map-ops.h>
#include <linux/memremap.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/pci-p2pdma.h>
#include <linux/percpu.h>
#include <linux/percpu-refcount.h>
#include <linux/random.h>
#include <linux/rculist.h>
#include <linux/seq_buf.h>
#include <linux/slab.h>
#include <linux/xarray.h>
#include <kunit/visibility.h>

#include "p2pdma.h"

/**
 * struct pci_p2pdma - peer-to-peer state of one provider
 * @lock: guards @ranges and the allocator of every range
 * @ranges: struct p2pdma_range list; RCU for readers that do not allocate
 * @verdicts: cached routing verdicts, keyed by client (p2pdma_verdict_key())
 * @last_verdict: the verdict cached last, with its key (p2pdma_last_pack()),
 *	or 0: a lookup for the same client skips the xarray
 * @published: other drivers may pick this provider via pci_p2pmem_find()
 */
struct pci_p2pdma {
	spinlock_t lock;	/* ranges and their allocators */
	struct list_head ranges;
	struct xarray verdicts;
	unsigned long last_verdict;
	bool published;
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
 *	provider's lock too whenever blocks move to or from the buddy
 * @taken: pages handed out on this CPU minus pages given back on it; the
 *	sum over all CPUs is the number of pages in use (p2pdma_totals())
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
 * struct p2pdma_range - one pci_p2pdma_add_resource() call
 * @pgmap: the ZONE_DEVICE mapping; @pgmap.ref counts users of the range
 * @provider: the device whose BAR holds the range
 * @p2pdma: state of @provider; outlives the range
 * @node: entry in @p2pdma->ranges
 * @live: new allocations may come from this range (under @p2pdma->lock)
 * @kaddr: kernel address of the first page
 * @bus_offset: PCI bus address minus CPU physical address
 * @buddy: allocator over the range, in bus page frame numbers
 * @pcp: per-CPU caches of small free blocks
 * @pcp_high: most pages one CPU's stacks may hold
 * @run_max: power of two at most @pcp_high: a run of pages freed by
 *	->page_free() goes to the buddy when its end is a multiple of it,
 *	so no run is longer
 * @inuse: one bit per allocated page, bit 0 standing for page @inuse_base
 * @inuse_base: @buddy->origin rounded down to a multiple of BITS_PER_LONG,
 *	so that an aligned block of up to BITS_PER_LONG pages is in one word
 * @heads: bit set on the first page of each kernel allocation, same
 *	indexes as @inuse
 * @tails: bit set on the last page of each kernel allocation
 * @settle_work: drains the caches once the range is mostly free again
 */
struct p2pdma_range {
	struct dev_pagemap pgmap;
	struct pci_dev *provider;
	struct pci_p2pdma *p2pdma;
	struct list_head node;
	bool live;
	void *kaddr;
	u64 bus_offset;
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

static struct p2pdma_range *to_p2pdma_range(struct dev_pagemap *pgmap)
{
	return container_of(pgmap, struct p2pdma_range, pgmap);
}

/*
 * Page allocator
 * ==============
 *
 * Why not genalloc: gen_pool_alloc() finds a run of free bits with a
 * first-fit scan of a bitmap, so its cost grows with the BAR size and with
 * fragmentation (aligned allocation, gen_pool_first_fit_align(), is the
 * same scan).  The rest of genalloc is cheap and lock-free: a free finds
 * its chunk under RCU and clears its bits with cmpxchg, and an allocation
 * sets its bits the same way once the scan has found a run.
 *
 * This is a binary buddy allocator over page numbers.  The free blocks of
 * each order sit in a hierarchical bitmap: a leaf bitmap with one bit per
 * block, and summary levels in which bit i says that word i of the level
 * below is not zero.  Finding the first free block descends one word per
 * level, and setting or clearing a bit touches at most one word per level,
 * so each is O(log64 N) for N blocks.  A word of per-order flags says which
 * orders have a free block at all, so picking the order to take from is
 * one bit search.
 *
 * Costs, with "orders" the number of block orders of the range (at most
 * log2 of its page count, plus one), and independent of fragmentation:
 *  - allocating is one search, O(log64 N), then one insert per order for
 *    splitting a larger block down to the requested order, and one per
 *    block (at most one per order, never merged) of the tail that a
 *    non-power-of-two request gives back: O(orders * log64 N) at worst,
 *    O(log64 N) for a power-of-two request served by a free block of
 *    exactly its size;
 *  - freeing n pages cuts the span into at most 2 * log2(n) + 1 aligned
 *    blocks; each is first checked to be fully allocated (a bit test per
 *    order from its own up, a search per order below it), then freed with
 *    at most one merge per order, each merge O(log64 N): O((1 + log n) *
 *    orders * log64 N), so O(orders * log64 N) for a single page.  The
 *    glue skips the check, which the bitmap of allocated pages below
 *    replaces: its frees cost at most one merge per order.
 *
 * The leaf bitmaps of all orders add up to about two bits per page,
 * summaries to 1/63 of that, and the flat bitmap of free pages to one more.
 *
 * Blocks are aligned to their size in absolute page numbers (the glue uses
 * bus page frame numbers), so a power-of-two allocation is naturally
 * aligned on the bus.  A request of n pages takes a 2^ceil(log2 n) block
 * and gives the tail back, so it costs n pages.  When no block is large
 * enough, a contiguous request takes the lowest run of adjacent free
 * blocks that is long enough, unaligned (p2pdma_buddy_alloc_fit()), so it
 * fails only where a first-fit search would.  That fallback scans a flat
 * bitmap of free pages a word at a time, whatever the fragmentation: about
 * N/64 words for N pages (4096 for a 1 GiB BAR), where a first-fit search
 * steps from free run to free run.
 *
 * Per-CPU caches: a power-of-two block of up to 2^P2PDMA_PCP_MAX_ORDER
 * pages comes from, and goes back to, a small stack per order in the
 * range's cache for the current CPU, much like mm's per-CPU page lists.
 * Pushing or popping is O(1) under the cache's own lock, which only drains
 * and tasks that moved to another CPU contend for.  An empty stack takes
 * P2PDMA_PCP_BATCH blocks from the buddy at once (only blocks free at
 * exactly that order, so as not to split larger ones for it), a full one
 * gives that many back, each time under the provider's lock.  A CPU's stacks hold at most
 * 1/(P2PDMA_PCP_SHARE * CPUs) of the range, or one 2^P2PDMA_PCP_MAX_ORDER
 * block if that is more, and its run (below) at most as much again.
 * Cached blocks are allocated as far as the buddy knows, so they cannot
 * merge and allocations that bypass the caches are placed around them.
 * Two drains keep that in check: whenever the buddy cannot serve a
 * request, every CPU's caches of every live range are drained into it and
 * the request is tried once more, so they never cause a failure on their
 * own; and when a free brings a range back to less than
 * 1/P2PDMA_PCP_SETTLE in use, a work item drains the range's caches, since
 * a cached page left in an otherwise free area would keep it split for
 * whatever is allocated next.  The available count includes
 * cached pages.
 *
 * Because a cached block looks allocated to the buddy, frees are checked
 * against a bitmap of allocated pages instead: every allocation sets its
 * pages' bits, every free clears them with one cmpxchg per word, and a free
 * of a page whose bit is clear is refused with a warning.  A span that
 * covers several words and fails part of the way restores the words it
 * cleared.  Kernel allocations also mark their first and last page, so
 * that pci_free_p2pmem() of anything but one whole allocation is refused
 * before a page or a reference changes hands.
 *
 * The price: one more bit per page, pages kept out of the buddy (and its
 * merges) until a drain, and drains that visit every possible CPU.  Larger
 * and non-power-of-two requests, cache refills and overflows, and filling
 * user mappings still take the provider's spinlock with interrupts disabled,
 * so those serialise on one provider.
 *
 * Pages of user mappings come back one by one through ->page_free(); each
 * CPU gathers adjacent ones into a run that goes to the buddy in one piece
 * (p2pdma_range_gather()), so that unmapping a mapping built from large
 * blocks costs one buddy insert per run rather than a merge per page.  A
 * run of one page, left by a page that did not extend it, goes onto the
 * one-page stack instead.
 */

static unsigned int hbm_layout(unsigned long nbits, unsigned long *words)
{
	unsigned int top = 0;

	*words = 0;
	for (;;) {
		unsigned long n = BITS_TO_LONGS(nbits);

		*words += n;
		if (n == 1)
			return top;
		nbits = n;
		top++;
	}
}

static void hbm_bind(struct p2pdma_hbm *h, unsigned long *store)
{
	unsigned long nbits = h->nbits;
	unsigned int l;

	for (l = 0; l <= h->top; l++) {
		h->lvl[l] = store;
		store += BITS_TO_LONGS(nbits);
		nbits = BITS_TO_LONGS(nbits);
	}
}

static bool hbm_test(const struct p2pdma_hbm *h, unsigned long pos)
{
	return h->lvl[0][pos / BITS_PER_LONG] & BIT(pos % BITS_PER_LONG);
}

static bool hbm_empty(const struct p2pdma_hbm *h)
{
	return !h->lvl[h->top][0];
}

static void hbm_set(struct p2pdma_hbm *h, unsigned long pos)
{
	unsigned int l;

	for (l = 0; l <= h->top; l++) {
		unsigned long *word = &h->lvl[l][pos / BITS_PER_LONG];
		bool was_empty = !*word;

		*word |= BIT(pos % BITS_PER_LONG);
		if (!was_empty)
			return;
		pos /= BITS_PER_LONG;
	}
}

static void hbm_clear(struct p2pdma_hbm *h, unsigned long pos)
{
	unsigned int l;

	for (l = 0; l <= h->top; l++) {
		unsigned long *word = &h->lvl[l][pos / BITS_PER_LONG];

		*word &= ~BIT(pos % BITS_PER_LONG);
		if (*word)
			return;
		pos /= BITS_PER_LONG;
	}
}

/* First set bit at or after @pos, or h->nbits if there is none. */
static unsigned long hbm_find_next(const struct p2pdma_hbm *h,
				   unsigned long pos)
{
	unsigned long nbits = h->nbits;
	unsigned int l = 0;
	unsigned long word;

	/* Climb until a word has a set bit at or after @pos. */
	for (;;) {
		if (pos >= nbits)
			return h->nbits;
		word = h->lvl[l][pos / BITS_PER_LONG] &
		       (~0UL << (pos % BITS_PER_LONG));
		if (word)
			break;
		if (l == h->top)
			return h->nbits;
		pos = pos / BITS_PER_LONG + 1;
		nbits = BITS_TO_LONGS(nbits);
		l++;
	}
	pos = round_down(pos, BITS_PER_LONG) + __ffs(word);

	/* Each summary bit promises a non-zero word below: follow it. */
	while (l > 0) {
		l--;
		pos = pos * BITS_PER_LONG + __ffs(h->lvl[l][pos]);
	}
	return pos;
}

/* Number of the first block of order @order that starts at or after @pg. */
static unsigned long buddy_first_block(unsigned long pg, unsigned int order)
{
	return (pg >> order) + !!(pg & (BIT(order) - 1));
}

static bool buddy_is_free(const struct p2pdma_buddy *b, unsigned int order,
			  unsigned long blk)
{
	const struct p2pdma_hbm *h = &b->order[order];

	return blk >= h->first && blk - h->first < h->nbits &&
	       hbm_test(h, blk - h->first);
}

static void buddy_insert(struct p2pdma_buddy *b, unsigned int order,
			 unsigned long blk)
{
	hbm_set(&b->order[order], blk - b->order[order].first);
	b->nonempty |= BIT(order);
}

static void buddy_remove(struct p2pdma_buddy *b, unsigned int order,
			 unsigned long blk)
{
	struct p2pdma_hbm *h = &b->order[order];

	hbm_clear(h, blk - h->first);
	if (hbm_empty(h))
		b->nonempty &= ~BIT(order);
}

/* Free one block, merging it with its buddy for as long as that is free. */
static void buddy_put_block(struct p2pdma_buddy *b, unsigned int order,
			    unsigned long blk)
{
	bitmap_set(b->freemap, (blk << order) - b->origin, BIT(order));
	while (order < b->max_order && buddy_is_free(b, order, blk ^ 1)) {
		buddy_remove(b, order, blk ^ 1);
		blk >>= 1;
		order++;
	}
	buddy_insert(b, order, blk);
}

/* Order of the largest aligned block that starts at @pg and ends by @end. */
static unsigned int buddy_span_order(unsigned long pg, unsigned long end)
{
	unsigned int order = ilog2(end - pg);

	if (pg)
		order = min_t(unsigned int, order, __ffs(pg));
	return order;
}

/* Free [@pg, @pg + @n) without checks; counters are the caller's job. */
static void buddy_put_span(struct p2pdma_buddy *b, unsigned long pg,
			   unsigned long n)
{
	unsigned long end = pg + n;

	while (pg < end) {
		unsigned int order = buddy_span_order(pg, end);

		buddy_put_block(b, order, pg >> order);
		pg += BIT(order);
	}
}

#if IS_ENABLED(CONFIG_KUNIT)
/*
 * Checked frees are for the KUnit suite only: the glue checks its frees
 * against the range's bitmap of allocated pages, since blocks in the
 * per-CPU caches look allocated to the buddy.
 */

/* True when no page of block @blk of order @order is free. */
static bool buddy_block_busy(const struct p2pdma_buddy *b, unsigned int order,
			     unsigned long blk)
{
	unsigned long j = blk;
	unsigned int k;

	/* A free block of this order or above that covers it... */
	for (k = order; k <= b->max_order; k++, j >>= 1)
		if (buddy_is_free(b, k, j))
			return false;

	/* ...or a smaller free block inside it. */
	for (k = 0; k < order; k++) {
		const struct p2pdma_hbm *h = &b->order[k];
		unsigned long lo = (blk << (order - k)) - h->first;
		unsigned long hi = ((blk + 1) << (order - k)) - h->first;

		if (hbm_find_next(h, lo) < hi)
			return false;
	}
	return true;
}
#endif

/* Take the lowest free block of the smallest order >= @order and split it. */
static bool buddy_take(struct p2pdma_buddy *b, unsigned int order,
		       unsigned long *blk)
{
	unsigned long candidates, j;
	unsigned int k;

	if (order > b->max_order)
		return false;
	candidates = b->nonempty & (~0UL << order);
	if (!candidates)
		return false;

	k = __ffs(candidates);
	j = hbm_find_next(&b->order[k], 0) + b->order[k].first;
	buddy_remove(b, k, j);

	/* Keep the lower half, hand the upper half back, until small enough. */
	while (k > order) {
		k--;
		j <<= 1;
		buddy_insert(b, k, j + 1);
	}
	bitmap_clear(b->freemap, (j << order) - b->origin, BIT(order));
	*blk = j;
	return true;
}

/**
 * p2pdma_buddy_create() - set up an allocator with every page free
 * @origin: first page number
 * @npages: number of pages; need not be a power of two
 * @nid: NUMA node for the bitmaps
 *
 * Return: the allocator, or NULL if out of memory or the range is empty,
 * wraps around or is too large for %P2PDMA_HBM_LEVELS levels.
 */
VISIBLE_IF_KUNIT struct p2pdma_buddy *
p2pdma_buddy_create(unsigned long origin, unsigned long npages, int nid)
{
	unsigned long end, words = 0, used = 0;
	unsigned int max_order = 0, k;
	struct p2pdma_buddy *b;

	if (!npages || check_add_overflow(origin, npages, &end))
		return NULL;

	/* The largest order with at least one aligned block in the range. */
	while (max_order + 1 < BITS_PER_LONG &&
	       (end >> (max_order + 1)) >
	       buddy_first_block(origin, max_order + 1))
		max_order++;

	b = kzalloc_node(struct_size(b, order, max_order + 1), GFP_KERNEL, nid);
	if (!b)
		return NULL;

	for (k = 0; k <= max_order; k++) {
		struct p2pdma_hbm *h = &b->order[k];
		unsigned long n;

		h->first = buddy_first_block(origin, k);
		h->nbits = (end >> k) - h->first;
		h->top = hbm_layout(h->nbits, &n);
		if (h->top >= P2PDMA_HBM_LEVELS)
			goto fail;
		words += n;
	}

	words += BITS_TO_LONGS(npages);
	b->store = kvcalloc_node(words, sizeof(unsigned long), GFP_KERNEL, nid);
	if (!b->store)
		goto fail;

	for (k = 0; k <= max_order; k++) {
		unsigned long n;

		hbm_bind(&b->order[k], b->store + used);
		hbm_layout(b->order[k].nbits, &n);
		used += n;
	}
	b->freemap = b->store + used;

	b->origin = origin;
	b->npages = npages;
	b->nfree = npages;
	b->max_order = max_order;
	/* Seeding merges nothing: the span splits into maximal blocks. */
	buddy_put_span(b, origin, npages);
	return b;

fail:
	kfree(b);
	return NULL;
}
EXPORT_SYMBOL_IF_KUNIT(p2pdma_buddy_create);

/**
 * p2pdma_buddy_destroy() - free an allocator
 * @b: allocator from p2pdma_buddy_create(), or NULL
 */
VISIBLE_IF_KUNIT void p2pdma_buddy_destroy(struct p2pdma_buddy *b)
{
	if (!b)
		return;
	kvfree(b->store);
	kfree(b);
}
EXPORT_SYMBOL_IF_KUNIT(p2pdma_buddy_destroy);

/**
 * p2pdma_buddy_alloc() - allocate contiguous pages
 * @b: allocator
 * @npages: number of pages
 * @first: returns the first page number
 *
 * A power-of-two request is aligned to its size.  Any other request is
 * carved from the next larger power-of-two block, whose tail goes back.
 *
 * Return: true on success, false if no free block is large enough.
 */
VISIBLE_IF_KUNIT bool p2pdma_buddy_alloc(struct p2pdma_buddy *b,
					 unsigned long npages,
					 unsigned long *first)
{
	unsigned long blk, pg;
	unsigned int order;

	if (!npages || npages > b->nfree)
		return false;

	order = order_base_2(npages);
	if (!buddy_take(b, order, &blk))
		return false;

	pg = blk << order;
	buddy_put_span(b, pg + npages, BIT(order) - npages);
	b->nfree -= npages;
	*first = pg;
	return true;
}
EXPORT_SYMBOL_IF_KUNIT(p2pdma_buddy_alloc);

/* Order of the free block that holds page @pg, or -1 if @pg is not free. */
static int buddy_free_order(const struct p2pdma_buddy *b, unsigned long pg)
{
	unsigned int k;

	for (k = 0; k <= b->max_order; k++)
		if ((b->nonempty & BIT(k)) && buddy_is_free(b, k, pg >> k))
			return k;
	return -1;
}

/*
 * Start of the lowest run of @n set bits among the first @nbits of @map, or
 * @nbits if there is none, in one pass over the words.  A run that crosses
 * words is carried over as the number of set bits at the top of the words
 * before; runs inside a word are found by ANDing the word with itself
 * shifted, which leaves bit i set where bits i..i+n-1 all are.
 */
VISIBLE_IF_KUNIT unsigned long p2pdma_find_run(const unsigned long *map,
					       unsigned long nbits,
					       unsigned long n)
{
	unsigned long nwords = BITS_TO_LONGS(nbits), carry = 0, w;

	for (w = 0; w < nwords; w++) {
		unsigned long word = map[w], base = w * BITS_PER_LONG;
		unsigned long m, k, step;

		if (w == nwords - 1)
			word &= BITMAP_LAST_WORD_MASK(nbits);
		if (word == ~0UL) {
			carry += BITS_PER_LONG;
			if (carry >= n)
				return base + BITS_PER_LONG - carry;
			continue;
		}
		/* A run from the words below ends at this word's first 0. */
		if (carry && carry + __ffs(~word) >= n)
			return base - carry;
		if (n <= BITS_PER_LONG) {
			for (m = word, k = 1; m && k < n; k += step) {
				step = min(k, n - k);
				m &= m >> step;
			}
			if (m)
				return base + __ffs(m);
		}
		carry = BITS_PER_LONG - 1 - __fls(~word);
	}
	return nbits;
}
EXPORT_SYMBOL_IF_KUNIT(p2pdma_find_run);

/* First page of the lowest run of @npages free pages, or ULONG_MAX. */
static unsigned long buddy_find_run(const struct p2pdma_buddy *b,
				    unsigned long npages)
{
	unsigned long i = p2pdma_find_run(b->freemap, b->npages, npages);

	return i < b->npages ? b->origin + i : ULONG_MAX;
}

/**
 * p2pdma_buddy_alloc_fit() - allocate contiguous pages, aligned if possible
 * @b: allocator
 * @npages: number of pages
 * @first: returns the first page number
 *
 * As p2pdma_buddy_alloc(), but when no free block is large enough, the
 * lowest run of adjacent free blocks that is long enough is taken instead,
 * without alignment.  So a request fails only when no @npages free pages
 * are contiguous, as with a first-fit search, while the usual case keeps
 * the buddy's cost and natural alignment.  The run search reads the
 * bitmap of free pages a word at a time: O(@b->npages / BITS_PER_LONG).
 *
 * Return: true on success, false if no run of @npages free pages exists.
 */
VISIBLE_IF_KUNIT bool p2pdma_buddy_alloc_fit(struct p2pdma_buddy *b,
					     unsigned long npages,
					     unsigned long *first)
{
	unsigned long pg, stop;
	int o;

	if (!npages || npages > b->nfree)
		return false;
	if (p2pdma_buddy_alloc(b, npages, first))
		return true;

	*first = buddy_find_run(b, npages);
	if (*first == ULONG_MAX)
		return false;

	/* Take every block of the run; the last one may reach past it. */
	stop = *first + npages;
	for (pg = *first; pg < stop; pg += BIT(o)) {
		o = buddy_free_order(b, pg);
		buddy_remove(b, o, pg >> o);
	}
	bitmap_clear(b->freemap, *first - b->origin, npages);
	buddy_put_span(b, stop, pg - stop);
	b->nfree -= npages;
	return true;
}
EXPORT_SYMBOL_IF_KUNIT(p2pdma_buddy_alloc_fit);

/**
 * p2pdma_buddy_alloc_upto() - allocate one block of at most @max_pages
 * @b: allocator
 * @max_pages: upper bound of the block size
 * @first: returns the first page number
 *
 * For callers that need pages but not contiguity (user mappings): takes a
 * block of the largest power of two that fits in @max_pages (and in the
 * range), split from a larger free block if need be, or the largest free
 * block if all free blocks are smaller.
 *
 * Return: the number of pages allocated (a power of two), 0 if none.
 */
VISIBLE_IF_KUNIT unsigned long p2pdma_buddy_alloc_upto(struct p2pdma_buddy *b,
						       unsigned long max_pages,
						       unsigned long *first)
{
	unsigned long blk;
	unsigned int order;

	if (!max_pages || !b->nfree)
		return 0;

	order = min_t(unsigned int, ilog2(max_pages), b->max_order);
	if (!(b->nonempty & (~0UL << order)))
		order = __fls(b->nonempty);
	if (!buddy_take(b, order, &blk))
		return 0;

	b->nfree -= BIT(order);
	*first = blk << order;
	return BIT(order);
}
EXPORT_SYMBOL_IF_KUNIT(p2pdma_buddy_alloc_upto);

#if IS_ENABLED(CONFIG_KUNIT)
/**
 * p2pdma_buddy_free() - free pages
 * @b: allocator
 * @first: first page number
 * @npages: number of pages
 *
 * The span may be any part of earlier allocations, down to a single page.
 * It is checked before anything changes, so a bad request leaves the
 * allocator as it was.
 *
 * Return: 0 on success, -ERANGE if the span is empty or leaves the range,
 * -ENOENT if some page of it is already free.
 */
VISIBLE_IF_KUNIT int p2pdma_buddy_free(struct p2pdma_buddy *b,
				       unsigned long first,
				       unsigned long npages)
{
	unsigned long pg, end;

	if (!npages || first < b->origin || npages > b->npages ||
	    first - b->origin > b->npages - npages)
		return -ERANGE;

	end = first + npages;
	for (pg = first; pg < end; ) {
		unsigned int order = buddy_span_order(pg, end);

		if (!buddy_block_busy(b, order, pg >> order))
			return -ENOENT;
		pg += BIT(order);
	}

	buddy_put_span(b, first, npages);
	b->nfree += npages;
	return 0;
}
EXPORT_SYMBOL_IF_KUNIT(p2pdma_buddy_free);
#endif

/**
 * p2pdma_inuse_clear() - clear bits of a word if they are all set
 * @word: word of a bitmap of allocated pages
 * @mask: bits to clear
 *
 * Return: true if every bit of @mask was set and is now clear, false if
 * some was clear, in which case @word is left as it was.
 */
VISIBLE_IF_KUNIT bool p2pdma_inuse_clear(atomic_long_t *word,
					 unsigned long mask)
{
	long old = atomic_long_read(word);

	do {
		if ((old & mask) != mask)
			return false;
	} while (!atomic_long_try_cmpxchg(word, &old, old & ~mask));
	return true;
}
EXPORT_SYMBOL_IF_KUNIT(p2pdma_inuse_clear);

/*
 * Routing policy
 * ==============
 *
 * p2pdma_decide() only looks at two struct p2pdma_path descriptions, so the
 * whole policy is table-tested without devices.  Rules:
 *  - A path with more than P2PDMA_MAX_HOPS devices is refused outright.
 *  - Below a common upstream device, TLPs turn around in that device unless
 *    an ACS redirect on the way sends them up: BUS_ADDR, distance = hops up
 *    from each side to the common device.  Which devices' ACS counts: the
 *    provider's path up to and including the common device, the client's
 *    path below it (the common device counts once, on the provider side).
 *    A pair that ACS redirects keeps that distance.
 *  - Otherwise the traffic crosses the host bridge.  That works when the
 *    CPU is known to route it, or when the host bridge(s) are on the allow
 *    list; an entry may only vouch for traffic within one host bridge.
 *    Without a common device the distance is the sum of both path lengths.
 */

static const struct p2pdma_allowed_host {
	u16 vendor;
	u16 device;
	bool same_bridge_only;
} p2pdma_allowed_hosts[] = {
	/* Xeon E5 / Core i7 (Sandy Bridge-EP) */
	{ PCI_VENDOR_ID_INTEL, 0x3c00, true },
	{ PCI_VENDOR_ID_INTEL, 0x3c01, true },
	/* Xeon E5 v3 / E7 v3 / Core i7 (Haswell-EP) */
	{ PCI_VENDOR_ID_INTEL, 0x2f00, true },
	{ PCI_VENDOR_ID_INTEL, 0x2f01, true },
	/* Xeon Scalable (Skylake-SP) and later */
	{ PCI_VENDOR_ID_INTEL, 0x2030, false },
	{ PCI_VENDOR_ID_INTEL, 0x2031, false },
	{ PCI_VENDOR_ID_INTEL, 0x2032, false },
	{ PCI_VENDOR_ID_INTEL, 0x2033, false },
	{ PCI_VENDOR_ID_INTEL, 0x2020, false },
	{ PCI_VENDOR_ID_INTEL, 0x09a2, false },
};

/**
 * p2pdma_host_listed() - look a host bridge up in the allow list
 * @vendor: vendor ID of the device identifying the host bridge
 * @device: device ID of that device
 * @same_bridge_only: returns whether the entry only covers traffic that
 *	stays below this one host bridge
 *
 * Return: true if the host bridge is on the list.
 */
VISIBLE_IF_KUNIT bool p2pdma_host_listed(u16 vendor, u16 device,
					 bool *same_bridge_only)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(p2pdma_allowed_hosts); i++) {
		const struct p2pdma_allowed_host *e = &p2pdma_allowed_hosts[i];

		if (e->vendor == vendor && e->device == device) {
			*same_bridge_only = e->same_bridge_only;
			return true;
		}
	}
	return false;
}
EXPORT_SYMBOL_IF_KUNIT(p2pdma_host_listed);

static enum p2pdma_reason p2pdma_check_host(const struct p2pdma_host *host,
					    bool same_bridge)
{
	bool same_bridge_only;

	if (!host->known)
		return P2PDMA_REASON_HOST_UNKNOWN;
	if (!p2pdma_host_listed(host->vendor, host->device, &same_bridge_only))
		return P2PDMA_REASON_HOST_UNLISTED;
	if (same_bridge_only && !same_bridge)
		return P2PDMA_REASON_HOST_SPLIT;
	return P2PDMA_REASON_HOST_LISTED;
}

static void p2pdma_decide_host(const struct p2pdma_path *p,
			       const struct p2pdma_path *c,
			       bool cpu_routes_p2p, struct p2pdma_verdict *v)
{
	bool same = p->host.id == c->host.id;
	enum p2pdma_reason r;

	v->map = PCI_P2PDMA_MAP_THRU_HOST_BRIDGE;
	if (cpu_routes_p2p) {
		v->reason = P2PDMA_REASON_CPU;
		return;
	}

	v->reason = p2pdma_check_host(&p->host, same);
	if (v->reason != P2PDMA_REASON_HOST_LISTED)
		v->bad_host |= P2PDMA_SIDE_PROVIDER;
	if (!same) {
		r = p2pdma_check_host(&c->host, false);
		if (r != P2PDMA_REASON_HOST_LISTED) {
			if (!v->bad_host)
				v->reason = r;
			v->bad_host |= P2PDMA_SIDE_CLIENT;
		}
	}
	if (v->bad_host)
		v->map = PCI_P2PDMA_MAP_NOT_SUPPORTED;
}

/* Lowest device of @p that is also on @c, and where it sits on both. */
static bool p2pdma_common_hop(const struct p2pdma_path *p,
			      const struct p2pdma_path *c,
			      unsigned int *ip, unsigned int *ic)
{
	unsigned int i, j;

	for (i = 0; i < p->len; i++) {
		for (j = 0; j < c->len; j++) {
			if (p->id[i] == c->id[j]) {
				*ip = i;
				*ic = j;
				return true;
			}
		}
	}
	return false;
}

/* Mask of the hops below @n on @path whose ACS redirects P2P upstream. */
static u32 p2pdma_acs_redirects(const struct p2pdma_path *path, unsigned int n)
{
	u32 mask = 0;
	unsigned int i;

	for (i = 0; i < n; i++)
		if (path->acs_ctrl[i] & P2PDMA_ACS_REDIR_BITS)
			mask |= BIT(i);
	return mask;
}

/**
 * p2pdma_decide() - routing verdict for a provider and a client
 * @provider: path of the provider
 * @client: path of the client
 * @cpu_routes_p2p: the CPU's root complex is known to route P2P traffic
 * @v: returns the verdict
 *
 * A truncated path is refused (%P2PDMA_REASON_TOO_DEEP).  A pair with a
 * common device and no ACS redirect on the way to it gets
 * %PCI_P2PDMA_MAP_BUS_ADDR; any other pair crosses the host bridge, which
 * p2pdma_decide_host() allows or refuses.  The distance is that to the
 * common device whenever there is one, redirected or not, and the sum of
 * both path lengths otherwise.
 */
VISIBLE_IF_KUNIT void p2pdma_decide(const struct p2pdma_path *provider,
				    const struct p2pdma_path *client,
				    bool cpu_routes_p2p,
				    struct p2pdma_verdict *v)
{
	static_assert(P2PDMA_MAX_HOPS <= 32);	/* fits acs_hops[] */

	memset(v, 0, sizeof(*v));
	if (provider->truncated || client->truncated) {
		v->map = PCI_P2PDMA_MAP_NOT_SUPPORTED;
		v->reason = P2PDMA_REASON_TOO_DEEP;
		v->distance = provider->len + client->len;
		return;
	}

	v->common = p2pdma_common_hop(provider, client, &v->up_provider,
				      &v->up_client);
	if (!v->common) {
		v->distance = provider->len + client->len;
		p2pdma_decide_host(provider, client, cpu_routes_p2p, v);
		return;
	}

	v->distance = v->up_provider + v->up_client;
	v->acs_hops[0] = p2pdma_acs_redirects(provider, v->up_provider + 1);
	v->acs_hops[1] = p2pdma_acs_redirects(client, v->up_client);
	if (!v->acs_hops[0] && !v->acs_hops[1]) {
		v->map = PCI_P2PDMA_MAP_BUS_ADDR;
		v->reason = P2PDMA_REASON_DIRECT;
		return;
	}
	p2pdma_decide_host(provider, client, cpu_routes_p2p, v);
}
EXPORT_SYMBOL_IF_KUNIT(p2pdma_decide);

/*
 * Verdict cache entries: the map type in the low bits, the distance above,
 * as an xarray value entry.  No entry means "not computed yet", which is
 * PCI_P2PDMA_MAP_UNKNOWN (0).
 */
#define P2PDMA_VERDICT_MAP_BITS	2
#define P2PDMA_VERDICT_MAP_MASK	(BIT(P2PDMA_VERDICT_MAP_BITS) - 1)

/**
 * p2pdma_verdict_key() - verdict cache index of a client
 * @domain: PCI domain of the client
 * @devid: bus and devfn of the client (pci_dev_id())
 *
 * With a 32-bit unsigned long only the low 16 bits of @domain fit, so
 * domains 0x10000 apart share indexes there.
 *
 * Return: the index.
 */
VISIBLE_IF_KUNIT unsigned long p2pdma_verdict_key(int domain, u16 devid)
{
	return (unsigned long)(u32)domain << 16 | devid;
}
EXPORT_SYMBOL_IF_KUNIT(p2pdma_verdict_key);

/**
 * p2pdma_verdict_encode() - pack a map type and a distance
 * @map: map type, not %PCI_P2PDMA_MAP_UNKNOWN
 * @distance: distance, negative values are stored as 0
 *
 * Return: an xarray value entry.
 */
VISIBLE_IF_KUNIT void *p2pdma_verdict_encode(enum pci_p2pdma_map_type map,
					     int distance)
{
	static_assert(PCI_P2PDMA_MAP_THRU_HOST_BRIDGE <= P2PDMA_VERDICT_MAP_MASK);

	return xa_mk_value((unsigned long)max(distance, 0) <<
			   P2PDMA_VERDICT_MAP_BITS | map);
}
EXPORT_SYMBOL_IF_KUNIT(p2pdma_verdict_encode);

/**
 * p2pdma_verdict_decode() - unpack a verdict cache entry
 * @entry: entry from the cache, or NULL
 * @distance: returns the distance (untouched for a missing entry)
 *
 * Return: the map type, %PCI_P2PDMA_MAP_UNKNOWN if @entry holds none.
 */
VISIBLE_IF_KUNIT enum pci_p2pdma_map_type p2pdma_verdict_decode(void *entry,
								int *distance)
{
	unsigned long val;

	if (!xa_is_value(entry))
		return PCI_P2PDMA_MAP_UNKNOWN;
	val = xa_to_value(entry);
	*distance = val >> P2PDMA_VERDICT_MAP_BITS;
	return val & P2PDMA_VERDICT_MAP_MASK;
}
EXPORT_SYMBOL_IF_KUNIT(p2pdma_verdict_decode);

/*
 * Ranges and page ownership
 */

static unsigned long p2pdma_bytes_to_pages(size_t size)
{
	return (size >> PAGE_SHIFT) + !!offset_in_page(size);
}

static void *p2pdma_range_addr(struct p2pdma_range *range, unsigned long pg)
{
	return range->kaddr + ((pg - range->buddy->origin) << PAGE_SHIFT);
}

static bool p2pdma_range_holds(struct p2pdma_range *range, void *addr)
{
	return addr >= range->kaddr &&
	       (unsigned long)(addr - range->kaddr) >> PAGE_SHIFT <
	       range->buddy->npages;
}

static unsigned long p2pdma_range_pgno(struct p2pdma_range *range,
				       void *addr)
{
	return range->buddy->origin + ((addr - range->kaddr) >> PAGE_SHIFT);
}

static struct page *p2pdma_range_page(struct p2pdma_range *range,
				      unsigned long pg)
{
	return pfn_to_page(PHYS_PFN(range->pgmap.range.start) +
			   (pg - range->buddy->origin));
}

static const char *p2pdma_free_error(int err)
{
	switch (err) {
	case -EINVAL:
		return "address is not page aligned";
	case -ERANGE:
		return "not inside any p2pmem range";
	case -ENOENT:
		return "some of it is not allocated (double free?)";
	case -ENXIO:
		return "not one whole allocation (wrong address or size)";
	default:
		return "no p2pmem on this device";
	}
}

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
static void p2pdma_inuse_set(struct p2pdma_range *range, unsigned long pg,
			     unsigned long npages)
{
	unsigned long bit = pg - range->inuse_base, end = bit + npages, next;

	for (; bit < end; bit = next) {
		next = p2pdma_inuse_next(bit, end);
		atomic_long_or(p2pdma_inuse_mask(bit, next),
			       &range->inuse[bit / BITS_PER_LONG]);
	}
}

/* [@pg, @pg + @npages) is a non-empty span inside the range. */
static bool p2pdma_range_spans(struct p2pdma_range *range, unsigned long pg,
			       unsigned long npages)
{
	const struct p2pdma_buddy *b = range->buddy;

	return npages && pg >= b->origin && npages <= b->npages &&
	       pg - b->origin <= b->npages - npages;
}

/* Pages just taken from the buddy or a cache now belong to a user. */
static void p2pdma_range_hand_out(struct p2pdma_range *range, unsigned long pg,
				  unsigned long npages)
{
	p2pdma_inuse_set(range, pg, npages);
	this_cpu_add(range->pcp->taken, npages);
}

/*
 * Claim pages for freeing by clearing their in-use bits, which must all be
 * set.  If some are not, the words cleared so far are set again and the
 * pages stay as they were.
 */
static int p2pdma_inuse_claim(struct p2pdma_range *range, unsigned long pg,
			      unsigned long npages)
{
	unsigned long start, bit, end, next;

	if (!p2pdma_range_spans(range, pg, npages))
		return -ERANGE;

	start = pg - range->inuse_base;
	end = start + npages;
	for (bit = start; bit < end; bit = next) {
		next = p2pdma_inuse_next(bit, end);
		if (!p2pdma_inuse_clear(&range->inuse[bit / BITS_PER_LONG],
					p2pdma_inuse_mask(bit, next)))
			break;
	}
	if (bit == end) {
		this_cpu_sub(range->pcp->taken, npages);
		return 0;
	}
	p2pdma_inuse_set(range, pg, bit - start);
	return -ENOENT;
}

/* Mark the first and last page of a kernel allocation. */
static void p2pdma_bounds_mark(struct p2pdma_range *range, unsigned long pg,
			       unsigned long npages)
{
	set_bit(pg - range->inuse_base, range->heads);
	set_bit(pg + npages - 1 - range->inuse_base, range->tails);
}

static void p2pdma_bounds_clear(struct p2pdma_range *range, unsigned long pg,
				unsigned long npages)
{
	clear_bit(pg - range->inuse_base, range->heads);
	clear_bit(pg + npages - 1 - range->inuse_base, range->tails);
}

/*
 * Is [@pg, @pg + @npages) exactly one kernel allocation?  One starts at @pg
 * and one ends at its last page, and none ends before that: since
 * allocations do not overlap, the one that ends there is the one that
 * starts at @pg.
 */
static bool p2pdma_bounds_match(struct p2pdma_range *range, unsigned long pg,
				unsigned long npages)
{
	unsigned long first = pg - range->inuse_base;
	unsigned long last = first + npages - 1;

	return test_bit(first, range->heads) &&
	       find_next_bit(range->tails, last + 1, first) == last;
}

/*
 * Free pages into the buddy, under the provider's lock.  Returns true when
 * that brings the range back to less than 1/P2PDMA_PCP_SETTLE in use: the
 * caller then drains the range's caches (p2pdma_pcp_drain()), since a
 * cached page left in an otherwise free area would keep it split for
 * whatever is allocated next.
 */
static bool p2pdma_buddy_give(struct p2pdma_range *range, unsigned long pg,
			      unsigned long npages)
{
	struct p2pdma_buddy *b = range->buddy;
	unsigned long high = b->npages - b->npages / P2PDMA_PCP_SETTLE;

	lockdep_assert_held(&range->p2pdma->lock);
	buddy_put_span(b, pg, npages);
	b->nfree += npages;
	return b->nfree >= high && b->nfree - npages < high;
}

/* Pages on @pcp's stacks, that is, cached but not in its run. */
static unsigned long p2pdma_pcp_stacked(const struct p2pdma_pcp *pcp)
{
	return pcp->pages - pcp->run_len;
}

/* Give cached blocks of @order back to the buddy until @keep are left. */
static void p2pdma_pcp_flush(struct p2pdma_range *range,
			     struct p2pdma_pcp *pcp, unsigned int order,
			     unsigned int keep)
{
	struct p2pdma_buddy *b = range->buddy;

	lockdep_assert_held(&pcp->lock);
	if (pcp->count[order] <= keep)
		return;
	spin_lock(&range->p2pdma->lock);
	while (pcp->count[order] > keep) {
		unsigned long pg = pcp->blk[order][--pcp->count[order]];

		buddy_put_block(b, order, pg >> order);
		b->nfree += BIT(order);
		WRITE_ONCE(pcp->pages, pcp->pages - BIT(order));
	}
	spin_unlock(&range->p2pdma->lock);
}

/*
 * Take a block of @order from the current CPU's cache, refilling an empty
 * stack from the buddy.  Being moved to another CPU on the way only means
 * using that CPU's cache, under its lock.
 */
static bool p2pdma_pcp_pop(struct p2pdma_range *range, unsigned int order,
			   unsigned long *pg)
{
	struct p2pdma_pcp *pcp = raw_cpu_ptr(range->pcp);
	unsigned long *blk = pcp->blk[order];
	unsigned long flags;
	unsigned int n, i;
	bool got = false, exact;

	spin_lock_irqsave(&pcp->lock, flags);
	n = pcp->count[order];
	if (!n) {
		/*
		 * Batch only blocks that were already free at exactly this
		 * order; otherwise take one, splitting a larger block, and not
		 * the rest of that split: caching it would scatter cached
		 * blocks over the pool and cost larger allocations their room.
		 */
		spin_lock(&range->p2pdma->lock);
		exact = range->buddy->nonempty & BIT(order);
		while (n < P2PDMA_PCP_BATCH &&
		       (!n || (exact && range->buddy->nonempty & BIT(order) &&
			       p2pdma_pcp_stacked(pcp) + ((n + 1UL) << order) <=
			       range->pcp_high)) &&
		       p2pdma_buddy_alloc(range->buddy, BIT(order), &blk[n]))
			n++;
		WRITE_ONCE(pcp->pages, pcp->pages + ((unsigned long)n << order));
		spin_unlock(&range->p2pdma->lock);
		/* Lowest block on top: hand them out in the buddy's order. */
		for (i = 0; i < n / 2; i++)
			swap(blk[i], blk[n - 1 - i]);
	}
	if (n) {
		*pg = blk[--n];
		WRITE_ONCE(pcp->pages, pcp->pages - BIT(order));
		got = true;
	}
	pcp->count[order] = n;
	spin_unlock_irqrestore(&pcp->lock, flags);
	return got;
}

/*
 * Put a free block of @order on its stack in @pcp.  A full stack first
 * gives P2PDMA_PCP_BATCH blocks back; stacks that would go over their limit
 * are emptied first (the limit is at least one block of any order).
 */
static void p2pdma_pcp_stack(struct p2pdma_range *range,
			     struct p2pdma_pcp *pcp, unsigned int order,
			     unsigned long pg)
{
	unsigned int k;

	lockdep_assert_held(&pcp->lock);
	if (pcp->count[order] == P2PDMA_PCP_SLOTS)
		p2pdma_pcp_flush(range, pcp, order,
				 P2PDMA_PCP_SLOTS - P2PDMA_PCP_BATCH);
	if (p2pdma_pcp_stacked(pcp) + BIT(order) > range->pcp_high)
		for (k = 0; k < P2PDMA_PCP_ORDERS; k++)
			p2pdma_pcp_flush(range, pcp, k, 0);
	pcp->blk[order][pcp->count[order]++] = pg;
	WRITE_ONCE(pcp->pages, pcp->pages + BIT(order));
}

/* Put a freed block of @order in the current CPU's cache. */
static void p2pdma_pcp_push(struct p2pdma_range *range, unsigned int order,
			    unsigned long pg)
{
	struct p2pdma_pcp *pcp = raw_cpu_ptr(range->pcp);
	unsigned long flags;

	spin_lock_irqsave(&pcp->lock, flags);
	p2pdma_pcp_stack(range, pcp, order, pg);
	spin_unlock_irqrestore(&pcp->lock, flags);
}

/*
 * Give the run of pages freed by ->page_free() back: a lone page onto the
 * one-page stack, a longer run to the buddy.  Returns what
 * p2pdma_buddy_give() does.
 */
static bool p2pdma_pcp_put_run(struct p2pdma_range *range,
			       struct p2pdma_pcp *pcp)
{
	unsigned long pg = pcp->run_pg, n = pcp->run_len;
	bool settled;

	lockdep_assert_held(&pcp->lock);
	if (!n)
		return false;
	pcp->run_len = 0;
	WRITE_ONCE(pcp->pages, pcp->pages - n);
	if (n == 1) {
		p2pdma_pcp_stack(range, pcp, 0, pg);
		return false;
	}
	spin_lock(&range->p2pdma->lock);
	settled = p2pdma_buddy_give(range, pg, n);
	spin_unlock(&range->p2pdma->lock);
	return settled;
}

/* Empty every CPU's cache of @range into its buddy; true if any held some. */
static bool p2pdma_pcp_drain(struct p2pdma_range *range)
{
	unsigned int cpu, order;
	unsigned long flags;
	bool any = false;

	for_each_possible_cpu(cpu) {
		struct p2pdma_pcp *pcp = per_cpu_ptr(range->pcp, cpu);

		if (!READ_ONCE(pcp->pages))
			continue;
		spin_lock_irqsave(&pcp->lock, flags);
		/* The run first: a lone page of it goes onto a stack. */
		if (pcp->run_len) {
			p2pdma_pcp_put_run(range, pcp);
			any = true;
		}
		for (order = 0; order < P2PDMA_PCP_ORDERS; order++) {
			if (!pcp->count[order])
				continue;
			p2pdma_pcp_flush(range, pcp, order, 0);
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
static void p2pdma_settle_work(struct work_struct *work)
{
	p2pdma_pcp_drain(container_of(work, struct p2pdma_range, settle_work));
}

#if IS_ENABLED(CONFIG_KUNIT)
/* Pages a range's caches hold, summed without locks: a statistic. */
static unsigned long p2pdma_pcp_pages(struct p2pdma_range *range)
{
	unsigned long pages = 0;
	unsigned int cpu;

	for_each_possible_cpu(cpu)
		pages += READ_ONCE(per_cpu_ptr(range->pcp, cpu)->pages);
	return pages;
}
#endif

/* Pages of a range in use, summed over the CPUs without locks. */
static unsigned long p2pdma_range_taken(struct p2pdma_range *range)
{
	unsigned int cpu;
	long taken = 0;

	for_each_possible_cpu(cpu)
		taken += READ_ONCE(per_cpu_ptr(range->pcp, cpu)->taken);
	return clamp_t(long, taken, 0, range->buddy->npages);
}

/* Hand claimed pages back: a small aligned block to a cache, else the buddy. */
static void p2pdma_range_release(struct p2pdma_range *range, unsigned long pg,
				 unsigned long npages)
{
	unsigned long flags;
	bool settled;

	if (npages <= BIT(P2PDMA_PCP_MAX_ORDER) && is_power_of_2(npages) &&
	    IS_ALIGNED(pg, npages)) {
		p2pdma_pcp_push(range, ilog2(npages), pg);
		return;
	}
	spin_lock_irqsave(&range->p2pdma->lock, flags);
	settled = p2pdma_buddy_give(range, pg, npages);
	spin_unlock_irqrestore(&range->p2pdma->lock, flags);
	if (settled)
		schedule_work(&range->settle_work);
}

/*
 * A page of a user mapping comes back, already claimed.  When a mapping
 * goes away whole, its pages come back one at a time in address order, and
 * so, mostly, in the order of the blocks they were mapped from.  Pushing
 * each onto the order-0 stack would send them to the buddy eight at a time,
 * to be merged there page by page; instead the current CPU keeps a run of
 * adjacent freed pages and gives it to the buddy whole once its end
 * reaches a multiple of @range->run_max pages, or when a page that does
 * not extend it comes back: one insert, already merged, for a run that
 * covers an aligned block.  Pages that come back out of order leave runs
 * of one page, which go onto the one-page stack like a kernel free.
 */
static void p2pdma_range_gather(struct p2pdma_range *range, unsigned long pg)
{
	struct p2pdma_pcp *pcp = raw_cpu_ptr(range->pcp);
	unsigned long flags;
	bool settled = false;

	spin_lock_irqsave(&pcp->lock, flags);
	if (pcp->run_len && pg == pcp->run_pg + pcp->run_len) {
		pcp->run_len++;
	} else {
		settled = p2pdma_pcp_put_run(range, pcp);
		pcp->run_pg = pg;
		pcp->run_len = 1;
	}
	WRITE_ONCE(pcp->pages, pcp->pages + 1);
	if (IS_ALIGNED(pg + 1, range->run_max))
		settled |= p2pdma_pcp_put_run(range, pcp);
	spin_unlock_irqrestore(&pcp->lock, flags);
	if (settled)
		schedule_work(&range->settle_work);
}

/*
 * The core itself freed pages it does not hold: the allocator's state is
 * corrupt.  Warn once, with a backtrace, and change nothing.
 */
static void p2pdma_free_refused(struct p2pdma_range *range, unsigned long pg,
				unsigned long npages, int err)
{
	dev_WARN_ONCE(&range->provider->dev, true,
		      "p2pmem: not freeing %lu page(s) at bus pfn %#lx: %s\n",
		      npages, pg, p2pdma_free_error(err));
}

/* Give pages of a user mapping back; the caller drops the range refs. */
static void p2pdma_range_free(struct p2pdma_range *range, unsigned long pg,
			      unsigned long npages)
{
	int err = p2pdma_inuse_claim(range, pg, npages);

	if (err)
		p2pdma_free_refused(range, pg, npages, err);
	else
		p2pdma_range_release(range, pg, npages);
}

/* Free one page of a user mapping; the caller drops its range reference. */
static int p2pdma_range_free_mapped(struct p2pdma_range *range,
				    unsigned long pg)
{
	int err = p2pdma_inuse_claim(range, pg, 1);

	if (!err)
		p2pdma_range_gather(range, pg);
	return err;
}

/*
 * Free a kernel allocation, checked before anything changes: the span must
 * be exactly one live allocation from pci_alloc_p2pmem().  The caller drops
 * the range reference of the allocation only when this succeeds.
 */
static int p2pdma_range_kfree(struct p2pdma_range *range, unsigned long pg,
			      unsigned long npages)
{
	int err;

	if (!p2pdma_range_spans(range, pg, npages))
		return -ERANGE;
	if (!p2pdma_bounds_match(range, pg, npages))
		return -ENXIO;
	err = p2pdma_inuse_claim(range, pg, npages);
	if (err)
		return err;
	p2pdma_bounds_clear(range, pg, npages);
	p2pdma_range_release(range, pg, npages);
	return 0;
}

/*
 * The last reference to a page of a user mapping is gone (mm resets the
 * count to 1 afterwards): the page is free again, and the mapping's
 * reference on the range goes with it.  The reference is dropped even if
 * the allocator refuses the page (already logged): it was taken when the
 * page was mapped, and keeping it would make devm_memunmap_pages() wait
 * forever when the provider goes away.
 */
static void p2pdma_page_free(struct page *page)
{
	struct p2pdma_range *range = to_p2pdma_range(page->pgmap);
	unsigned long pg = range->buddy->origin +
			   (page_to_pfn(page) - PHYS_PFN(range->pgmap.range.start));
	int err = p2pdma_range_free_mapped(range, pg);

	if (err)
		p2pdma_free_refused(range, pg, 1, err);
	percpu_ref_put(&range->pgmap.ref);
}

static const struct dev_pagemap_ops p2pdma_pgmap_ops = {
	.page_free = p2pdma_page_free,
};

/*
 * Take pages from the buddy of the first live range that has them, with a
 * reference on that range: @npages contiguous pages if @contig, else one
 * block of at most @npages (p2pdma_buddy_alloc_upto()).  Called under
 * rcu_read_lock().  Returns the number of pages taken, -ENOMEM if no live
 * range has enough, -ENODEV if there is no live range.
 */
static long p2pdma_take_once(struct pci_p2pdma *p2pdma, unsigned long npages,
			     bool contig, struct p2pdma_range **rangep,
			     unsigned long *pg)
{
	struct p2pdma_range *range;
	unsigned long flags, n;
	long ret = -ENODEV;

	spin_lock_irqsave(&p2pdma->lock, flags);
	list_for_each_entry(range, &p2pdma->ranges, node) {
		if (!range->live || !percpu_ref_tryget_live_rcu(&range->pgmap.ref))
			continue;
		if (contig)
			n = p2pdma_buddy_alloc_fit(range->buddy, npages, pg) ?
			    npages : 0;
		else
			n = p2pdma_buddy_alloc_upto(range->buddy, npages, pg);
		if (n) {
			*rangep = range;
			ret = n;
			break;
		}
		percpu_ref_put(&range->pgmap.ref);
		ret = -ENOMEM;
	}
	spin_unlock_irqrestore(&p2pdma->lock, flags);
	return ret;
}

/* Drain the caches of every live range; true if they held any pages. */
static bool p2pdma_drain(struct pci_p2pdma *p2pdma)
{
	struct p2pdma_range *range;
	bool any = false;

	list_for_each_entry_rcu(range, &p2pdma->ranges, node)
		if (READ_ONCE(range->live))
			any |= p2pdma_pcp_drain(range);
	return any;
}

/*
 * p2pdma_take_once(), tried again after draining the caches if it finds no
 * room, so that cached pages never make it fail.  Marks the pages taken as
 * allocated.  Called under rcu_read_lock(), without the provider's lock.
 */
static long p2pdma_take(struct pci_p2pdma *p2pdma, unsigned long npages,
			bool contig, struct p2pdma_range **rangep,
			unsigned long *pg)
{
	long ret = p2pdma_take_once(p2pdma, npages, contig, rangep, pg);

	if (ret == -ENOMEM && p2pdma_drain(p2pdma))
		ret = p2pdma_take_once(p2pdma, npages, contig, rangep, pg);
	if (ret > 0)
		p2pdma_range_hand_out(*rangep, *pg, ret);
	return ret;
}

/*
 * A block of @order from the cache of the first live range that has one,
 * or whose buddy can refill it, with a reference on that range.  Called
 * under rcu_read_lock().  Returns the number of pages taken or -ENOMEM.
 */
static long p2pdma_take_cached(struct pci_p2pdma *p2pdma, unsigned int order,
			       struct p2pdma_range **rangep, unsigned long *pg)
{
	struct p2pdma_range *range;

	list_for_each_entry_rcu(range, &p2pdma->ranges, node) {
		if (!READ_ONCE(range->live) ||
		    !percpu_ref_tryget_live_rcu(&range->pgmap.ref))
			continue;
		if (p2pdma_pcp_pop(range, order, pg)) {
			p2pdma_range_hand_out(range, *pg, BIT(order));
			*rangep = range;
			return BIT(order);
		}
		percpu_ref_put(&range->pgmap.ref);
	}
	return -ENOMEM;
}

/*
 * A kernel allocation: a small power of two from a cache, anything else
 * from a buddy.  Called under rcu_read_lock().  Returns @npages with a
 * reference on *@rangep, or a negative errno.
 */
static long p2pdma_kalloc(struct pci_p2pdma *p2pdma, unsigned long npages,
			  struct p2pdma_range **rangep, unsigned long *pg)
{
	long n = -ENOMEM;

	if (npages <= BIT(P2PDMA_PCP_MAX_ORDER) && is_power_of_2(npages))
		n = p2pdma_take_cached(p2pdma, ilog2(npages), rangep, pg);
	if (n <= 0)
		n = p2pdma_take(p2pdma, npages, true, rangep, pg);
	if (n > 0)
		p2pdma_bounds_mark(*rangep, *pg, npages);
	return n;
}

/*
 * Free kernel-allocated memory; returns its range, whose ref to drop.
 * Called under rcu_read_lock().
 */
static struct p2pdma_range *p2pdma_free_pages(struct pci_p2pdma *p2pdma,
					      void *addr, unsigned long npages)
{
	struct p2pdma_range *range;
	int err;

	if (!PAGE_ALIGNED(addr))
		return ERR_PTR(-EINVAL);

	list_for_each_entry_rcu(range, &p2pdma->ranges, node) {
		if (!p2pdma_range_holds(range, addr))
			continue;
		err = p2pdma_range_kfree(range, p2pdma_range_pgno(range, addr),
					 npages);
		return err ? ERR_PTR(err) : range;
	}
	return ERR_PTR(-ERANGE);
}

/*
 * Size and free bytes of a provider, read without its lock: p2pmem/size and
 * available are world-readable, and a reader looping on them must not hold
 * off allocations, or interrupts, for a walk over every CPU.  Free means not
 * handed out, wherever it sits (buddy or cache); the count only changes when
 * pages go to or come back from a user, so it is exact whenever no
 * allocation or free is under way, drains and refills included.
 */
static void p2pdma_totals(struct pci_dev *pdev, size_t *size, size_t *avail)
{
	struct p2pdma_range *range;
	struct pci_p2pdma *p2pdma;

	*size = 0;
	*avail = 0;
	rcu_read_lock();
	p2pdma = rcu_dereference(pdev->p2pdma);
	if (p2pdma) {
		list_for_each_entry_rcu(range, &p2pdma->ranges, node) {
			*size += range->buddy->npages << PAGE_SHIFT;
			*avail += (range->buddy->npages -
				   p2pdma_range_taken(range)) << PAGE_SHIFT;
		}
	}
	rcu_read_unlock();
}

/*
 * sysfs: p2pmem/{size,available,published,allocate}
 */

static ssize_t size_show(struct device *dev, struct device_attribute *attr,
			 char *buf)
{
	size_t size, avail;

	p2pdma_totals(to_pci_dev(dev), &size, &avail);
	return sysfs_emit(buf, "%zu\n", size);
}
static DEVICE_ATTR_RO(size);

static ssize_t available_show(struct device *dev,
			      struct device_attribute *attr, char *buf)
{
	size_t size, avail;

	p2pdma_totals(to_pci_dev(dev), &size, &avail);
	return sysfs_emit(buf, "%zu\n", avail);
}
static DEVICE_ATTR_RO(available);

static ssize_t published_show(struct device *dev,
			      struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%d\n", pci_has_p2pmem(to_pci_dev(dev)));
}
static DEVICE_ATTR_RO(published);

/*
 * Pages handed to one vm_insert_pages() call, which walks the page tables
 * once per call (and takes the PTE lock once per eight pages) where
 * vm_insert_page() walks and locks once per page.
 */
#define P2PMEM_MAP_BATCH	32

/*
 * Map one allocated block into @vma at @uaddr.  Each inserted page hands its
 * count back to 1 and takes a range reference: from then on the mapping
 * owns it, and zapping the mapping frees it through ->page_free().  On
 * failure only the pages not inserted yet are freed here.
 */
static int p2pmem_map_block(struct vm_area_struct *vma, unsigned long uaddr,
			    struct p2pdma_range *range, unsigned long pg,
			    unsigned long count)
{
	struct page *pages[P2PMEM_MAP_BATCH];
	unsigned long done = 0, batch, left, mapped, i;
	int ret;

	while (done < count) {
		batch = min_t(unsigned long, count - done, P2PMEM_MAP_BATCH);
		for (i = 0; i < batch; i++)
			pages[i] = p2pdma_range_page(range, pg + done + i);
		left = batch;
		ret = vm_insert_pages(vma, uaddr + (done << PAGE_SHIFT), pages,
				      &left);
		mapped = batch - left;
		percpu_ref_get_many(&range->pgmap.ref, mapped);
		for (i = 0; i < mapped; i++)
			put_page(pages[i]);
		done += mapped;
		if (ret) {
			p2pdma_range_free(range, pg + done, count - done);
			return ret;
		}
		/* A whole BAR can be a few hundred thousand pages. */
		cond_resched();
	}
	return 0;
}

static int p2pmem_fill_vma(struct pci_dev *pdev, struct vm_area_struct *vma)
{
	unsigned long uaddr = vma->vm_start;
	unsigned long left = vma_pages(vma);
	struct pci_p2pdma *p2pdma;

	/*
	 * A mapping wants few, large blocks.  Pages that came back from an
	 * earlier mapping one by one and still sit in the per-CPU caches would
	 * keep their blocks split: give them back to the buddy first, so that
	 * a mapping is built from the lowest, largest free blocks.
	 */
	rcu_read_lock();
	p2pdma = rcu_dereference(pdev->p2pdma);
	if (p2pdma)
		p2pdma_drain(p2pdma);
	rcu_read_unlock();

	while (left) {
		struct p2pdma_range *range;
		unsigned long pg, count;
		long n;
		int ret;

		rcu_read_lock();
		p2pdma = rcu_dereference(pdev->p2pdma);
		n = p2pdma ? p2pdma_take(p2pdma, left, false, &range, &pg) :
			     -ENODEV;
		rcu_read_unlock();
		if (n < 0)
			return n;
		count = n;

		/* The block's range reference keeps range and p2pdma alive. */
		ret = p2pmem_map_block(vma, uaddr, range, pg, count);
		percpu_ref_put(&range->pgmap.ref);
		if (ret)
			return ret;
		uaddr += count << PAGE_SHIFT;
		left -= count;
	}
	return 0;
}

/*
 * mmap of p2pmem/allocate: fresh P2P memory for user space, e.g. as an
 * O_DIRECT buffer.  The pages need not be contiguous, so any free pages
 * will do.  If the mapping fails half way, mm unmaps what was inserted.
 */
static int p2pmem_alloc_mmap(struct file *filp, struct kobject *kobj,
			     struct bin_attribute *attr,
			     struct vm_area_struct *vma)
{
	struct pci_dev *pdev = to_pci_dev(kobj_to_dev(kobj));
	size_t size, avail;

	if (!(vma->vm_flags & VM_MAYSHARE)) {
		pci_info_ratelimited(pdev,
				     "%s: p2pmem can only be mapped shared\n",
				     current->comm);
		return -EINVAL;
	}
	if (vma->vm_pgoff) {
		pci_info_ratelimited(pdev,
				     "%s: p2pmem must be mapped at offset 0\n",
				     current->comm);
		return -EINVAL;
	}

	/* Fail early rather than map part of it and unwind. */
	if (!rcu_access_pointer(pdev->p2pdma))
		return -ENODEV;
	p2pdma_totals(pdev, &size, &avail);
	if (avail < vma->vm_end - vma->vm_start)
		return -ENOMEM;

	return p2pmem_fill_vma(pdev, vma);
}

static struct bin_attribute p2pmem_alloc_attr = {
	.attr = { .name = "allocate", .mode = 0660 },
	.mmap = p2pmem_alloc_mmap,
	/*
	 * The file has no contents to read; a huge size only keeps tools that
	 * check the mapping length against the file size (Python's mmap) from
	 * refusing.
	 */
	.size = SZ_1T,
};

static struct attribute *p2pmem_attrs[] = {
	&dev_attr_size.attr,
	&dev_attr_available.attr,
	&dev_attr_published.attr,
	NULL,
};

static struct bin_attribute *p2pmem_bin_attrs[] = {
	&p2pmem_alloc_attr,
	NULL,
};

static const struct attribute_group p2pmem_group = {
	.name = "p2pmem",
	.attrs = p2pmem_attrs,
	.bin_attrs = p2pmem_bin_attrs,
};

/*
 * Setup and teardown
 */

/* Last devm action of a provider: all ranges are gone by now. */
static void p2pdma_release(void *data)
{
	struct pci_dev *pdev = data;
	struct pci_p2pdma *p2pdma = rcu_dereference_protected(pdev->p2pdma, 1);

	RCU_INIT_POINTER(pdev->p2pdma, NULL);
	synchronize_rcu();

	sysfs_remove_group(&pdev->dev.kobj, &p2pmem_group);
	xa_destroy(&p2pdma->verdicts);
	kfree(p2pdma);
}

static int p2pdma_setup(struct pci_dev *pdev)
{
	struct pci_p2pdma *p2pdma;
	int err;

	p2pdma = kzalloc(sizeof(*p2pdma), GFP_KERNEL);
	if (!p2pdma)
		return -ENOMEM;
	spin_lock_init(&p2pdma->lock);
	INIT_LIST_HEAD(&p2pdma->ranges);
	/* Verdicts are stored from the DMA mapping path, in any context. */
	xa_init_flags(&p2pdma->verdicts, XA_FLAGS_LOCK_IRQ);

	err = sysfs_create_group(&pdev->dev.kobj, &p2pmem_group);
	if (err) {
		kfree(p2pdma);
		return err;
	}

	rcu_assign_pointer(pdev->p2pdma, p2pdma);
	return devm_add_action_or_reset(&pdev->dev, p2pdma_release, pdev);
}

/*
 * First devm action of a range, run before its pages are unmapped: stop
 * allocations from it, then remove p2pmem/allocate, which makes kernfs
 * zap every user mapping of the file so those pages come back through
 * ->page_free() and devm_memunmap_pages() does not wait on them forever.
 * The file stays gone; the device is going away.
 */
static void p2pdma_range_quiesce(void *data)
{
	struct p2pdma_range *range = data;
	struct pci_dev *pdev = range->provider;
	unsigned long flags;

	spin_lock_irqsave(&range->p2pdma->lock, flags);
	WRITE_ONCE(range->live, false);
	spin_unlock_irqrestore(&range->p2pdma->lock, flags);

	sysfs_remove_file_from_group(&pdev->dev.kobj, &p2pmem_alloc_attr.attr,
				     p2pmem_group.name);
}

/*
 * Set up a range's allocator over @npages pages from page number @first:
 * buddy, per-CPU caches and bitmap of allocated pages.
 */
static int p2pdma_range_pool_init(struct p2pdma_range *range,
				  unsigned long first, unsigned long npages,
				  int nid)
{
	unsigned long nbits;
	unsigned int cpu;

	range->buddy = p2pdma_buddy_create(first, npages, nid);
	if (!range->buddy)
		return -ENOMEM;
	range->inuse_base = round_down(first, BITS_PER_LONG);
	nbits = first + npages - range->inuse_base;
	range->inuse = kvcalloc_node(BITS_TO_LONGS(nbits),
				     sizeof(*range->inuse), GFP_KERNEL, nid);
	range->heads = kvcalloc_node(2 * BITS_TO_LONGS(nbits),
				     sizeof(*range->heads), GFP_KERNEL, nid);
	range->pcp = alloc_percpu(struct p2pdma_pcp);
	if (!range->inuse || !range->heads || !range->pcp) {
		free_percpu(range->pcp);
		kvfree(range->heads);
		kvfree(range->inuse);
		p2pdma_buddy_destroy(range->buddy);
		return -ENOMEM;
	}
	range->tails = range->heads + BITS_TO_LONGS(nbits);
	for_each_possible_cpu(cpu)
		spin_lock_init(&per_cpu_ptr(range->pcp, cpu)->lock);
	INIT_WORK(&range->settle_work, p2pdma_settle_work);
	range->pcp_high = max(npages / (P2PDMA_PCP_SHARE * num_possible_cpus()),
			      BIT(P2PDMA_PCP_MAX_ORDER));
	range->run_max = rounddown_pow_of_two(range->pcp_high);
	return 0;
}

static void p2pdma_range_pool_exit(struct p2pdma_range *range)
{
	cancel_work_sync(&range->settle_work);
	free_percpu(range->pcp);
	kvfree(range->heads);
	kvfree(range->inuse);
	p2pdma_buddy_destroy(range->buddy);
}

/* Last devm action of a range, run after its pages are unmapped. */
static void p2pdma_range_retire(void *data)
{
	struct p2pdma_range *range = data;
	struct pci_p2pdma *p2pdma = range->p2pdma;
	unsigned long flags;

	if (!list_empty(&range->node)) {
		/* No page of the range is in use: nothing queues it again. */
		cancel_work_sync(&range->settle_work);
		p2pdma_pcp_drain(range);
		if (range->buddy->nfree != range->buddy->npages)
			pci_warn(range->provider,
				 "p2pmem: %lu page(s) still allocated at removal\n",
				 range->buddy->npages - range->buddy->nfree);
		spin_lock_irqsave(&p2pdma->lock, flags);
		list_del_rcu(&range->node);
		spin_unlock_irqrestore(&p2pdma->lock, flags);
		/* pci_p2pmem_virt_to_bus() walks the list under RCU only. */
		synchronize_rcu();
	}
	p2pdma_range_pool_exit(range);
	kfree(range);
}

static struct p2pdma_range *p2pdma_range_create(struct pci_dev *pdev, int bar,
						size_t size, u64 offset)
{
	struct p2pdma_range *range;
	struct dev_pagemap *pgmap;
	int nid = dev_to_node(&pdev->dev);
	u64 bus_start;

	range = kzalloc_node(sizeof(*range), GFP_KERNEL, nid);
	if (!range)
		return NULL;

	pgmap = &range->pgmap;
	pgmap->range.start = pci_resource_start(pdev, bar) + offset;
	pgmap->range.end = pgmap->range.start + size - 1;
	pgmap->nr_range = 1;
	pgmap->type = MEMORY_DEVICE_PCI_P2PDMA;
	pgmap->ops = &p2pdma_pgmap_ops;

	range->provider = pdev;
	range->p2pdma = rcu_dereference_protected(pdev->p2pdma, 1);
	INIT_LIST_HEAD(&range->node);
	range->bus_offset = pci_bus_address(pdev, bar) -
			    pci_resource_start(pdev, bar);
	bus_start = pgmap->range.start + range->bus_offset;

	if (p2pdma_range_pool_init(range, bus_start >> PAGE_SHIFT,
				   size >> PAGE_SHIFT, nid)) {
		kfree(range);
		return NULL;
	}
	return range;
}

#if IS_ENABLED(CONFIG_KUNIT)
/*
 * Hooks for the KUnit suite: a live range with no pages, whose allocator,
 * caches, in-use bitmap and reference count are the real ones, driven the
 * way user mappings drive a range.  Its provider is a bare device that
 * only gives refused frees a name to log.
 */

static void p2pdma_test_range_ref_release(struct percpu_ref *ref)
{
}

static void p2pdma_test_provider_release(struct device *dev)
{
	kfree(to_pci_dev(dev));
}

static struct pci_dev *p2pdma_test_provider(void)
{
	struct pci_dev *pdev = kzalloc(sizeof(*pdev), GFP_KERNEL);

	if (!pdev)
		return NULL;
	device_initialize(&pdev->dev);
	pdev->dev.release = p2pdma_test_provider_release;
	if (dev_set_name(&pdev->dev, "p2pdma-kunit")) {
		put_device(&pdev->dev);
		return NULL;
	}
	return pdev;
}

VISIBLE_IF_KUNIT struct p2pdma_range *
p2pdma_test_range_create(unsigned long first, unsigned long npages)
{
	struct p2pdma_range *range = kzalloc(sizeof(*range), GFP_KERNEL);
	struct pci_p2pdma *p2pdma = kzalloc(sizeof(*p2pdma), GFP_KERNEL);

	if (!range || !p2pdma)
		goto fail;
	range->provider = p2pdma_test_provider();
	if (!range->provider)
		goto fail;
	if (percpu_ref_init(&range->pgmap.ref, p2pdma_test_range_ref_release,
			    0, GFP_KERNEL))
		goto fail_provider;
	if (p2pdma_range_pool_init(range, first, npages, NUMA_NO_NODE))
		goto fail_ref;
	spin_lock_init(&p2pdma->lock);
	INIT_LIST_HEAD(&p2pdma->ranges);
	xa_init(&p2pdma->verdicts);
	range->p2pdma = p2pdma;
	range->live = true;
	list_add(&range->node, &p2pdma->ranges);
	return range;

fail_ref:
	percpu_ref_exit(&range->pgmap.ref);
fail_provider:
	put_device(&range->provider->dev);
fail:
	kfree(p2pdma);
	kfree(range);
	return NULL;
}
EXPORT_SYMBOL_IF_KUNIT(p2pdma_test_range_create);

/* Every reference taken must have been dropped by now. */
VISIBLE_IF_KUNIT void p2pdma_test_range_destroy(struct p2pdma_range *range)
{
	percpu_ref_exit(&range->pgmap.ref);
	p2pdma_range_pool_exit(range);
	put_device(&range->provider->dev);
	kfree(range->p2pdma);
	kfree(range);
}
EXPORT_SYMBOL_IF_KUNIT(p2pdma_test_range_destroy);

/* Pages for a user mapping: p2pdma_take(), drain and retry included. */
VISIBLE_IF_KUNIT long p2pdma_test_range_take(struct p2pdma_range *range,
					     unsigned long npages, bool contig,
					     unsigned long *pg)
{
	struct p2pdma_range *got;
	long n;

	rcu_read_lock();
	n = p2pdma_take(range->p2pdma, npages, contig, &got, pg);
	rcu_read_unlock();
	if (n > 0)
		percpu_ref_put(&got->pgmap.ref);
	return n;
}
EXPORT_SYMBOL_IF_KUNIT(p2pdma_test_range_take);

/*
 * What ->page_free() does for page number @pg, short of the warning on a
 * refused page; a settle drain it queues has run on return.
 */
VISIBLE_IF_KUNIT int p2pdma_test_range_page_free(struct p2pdma_range *range,
						 unsigned long pg)
{
	int err = p2pdma_range_free_mapped(range, pg);

	flush_work(&range->settle_work);
	return err;
}
EXPORT_SYMBOL_IF_KUNIT(p2pdma_test_range_page_free);

/* What pci_alloc_p2pmem() does, in page numbers. */
VISIBLE_IF_KUNIT long p2pdma_test_range_kalloc(struct p2pdma_range *range,
					       unsigned long npages,
					       unsigned long *pg)
{
	struct p2pdma_range *got;
	long n;

	rcu_read_lock();
	n = p2pdma_kalloc(range->p2pdma, npages, &got, pg);
	rcu_read_unlock();
	if (n > 0)
		percpu_ref_put(&got->pgmap.ref);
	return n;
}
EXPORT_SYMBOL_IF_KUNIT(p2pdma_test_range_kalloc);

/* What pci_free_p2pmem() does, short of the warning on a refused free. */
VISIBLE_IF_KUNIT int p2pdma_test_range_kfree(struct p2pdma_range *range,
					     unsigned long pg,
					     unsigned long npages)
{
	int err = p2pdma_range_kfree(range, pg, npages);

	flush_work(&range->settle_work);
	return err;
}
EXPORT_SYMBOL_IF_KUNIT(p2pdma_test_range_kfree);

VISIBLE_IF_KUNIT void p2pdma_test_range_info(struct p2pdma_range *range,
					     struct p2pdma_test_range_info *info)
{
	unsigned long flags;

	spin_lock_irqsave(&range->p2pdma->lock, flags);
	info->nfree = range->buddy->nfree;
	info->nonempty = range->buddy->nonempty;
	info->max_order = range->buddy->max_order;
	info->cached = p2pdma_pcp_pages(range);
	spin_unlock_irqrestore(&range->p2pdma->lock, flags);
	info->run_max = range->run_max;
	info->taken = p2pdma_range_taken(range);
}
EXPORT_SYMBOL_IF_KUNIT(p2pdma_test_range_info);
#endif

/**
 * pci_p2pdma_add_resource() - offer part of a BAR as peer-to-peer memory
 * @pdev: the provider
 * @bar: BAR holding the memory; must be a memory BAR
 * @size: bytes to offer, or 0 for everything from @offset to the BAR's end
 * @offset: where the memory starts within the BAR
 *
 * Creates struct pages for the range, so that it can take part in any
 * DMA, and adds it to the provider's allocator.  The first call also
 * creates the p2pmem/ sysfs directory.  The device may call this more than
 * once; everything is undone by devm when the driver unbinds.  The start
 * and size of the range must be page aligned.
 *
 * Return: 0 on success, -EINVAL for a bad BAR, offset or size, or another
 * negative errno if the memory could not be set up.
 */
int pci_p2pdma_add_resource(struct pci_dev *pdev, int bar, size_t size,
			    u64 offset)
{
	resource_size_t len = pci_resource_len(pdev, bar);
	struct p2pdma_range *range;
	unsigned long flags;
	void *addr;
	int err;

	if (!(pci_resource_flags(pdev, bar) & IORESOURCE_MEM))
		return -EINVAL;
	if (offset >= len)
		return -EINVAL;
	if (!size)
		size = len - offset;
	if (size > len - offset)
		return -EINVAL;
	if (!PAGE_ALIGNED(pci_resource_start(pdev, bar) + offset) ||
	    !PAGE_ALIGNED(size))
		return -EINVAL;

	if (!rcu_access_pointer(pdev->p2pdma)) {
		err = p2pdma_setup(pdev);
		if (err)
			return err;
	}

	range = p2pdma_range_create(pdev, bar, size, offset);
	if (!range)
		return -ENOMEM;

	/* devm runs actions in reverse: retire last, quiesce first. */
	err = devm_add_action_or_reset(&pdev->dev, p2pdma_range_retire, range);
	if (err)
		return err;

	addr = devm_memremap_pages(&pdev->dev, &range->pgmap);
	if (IS_ERR(addr)) {
		err = PTR_ERR(addr);
		goto retire;
	}

	err = devm_add_action(&pdev->dev, p2pdma_range_quiesce, range);
	if (err)
		goto unmap;

	range->kaddr = addr;
	spin_lock_irqsave(&range->p2pdma->lock, flags);
	WRITE_ONCE(range->live, true);
	list_add_tail_rcu(&range->node, &range->p2pdma->ranges);
	spin_unlock_irqrestore(&range->p2pdma->lock, flags);

	pci_info(pdev, "added peer-to-peer DMA memory %#llx-%#llx\n",
		 range->pgmap.range.start, range->pgmap.range.end);
	return 0;

unmap:
	devm_memunmap_pages(&pdev->dev, &range->pgmap);
retire:
	devm_release_action(&pdev->dev, p2pdma_range_retire, range);
	return err;
}
EXPORT_SYMBOL_GPL(pci_p2pdma_add_resource);

/*
 * Topology glue: describe real devices for p2pdma_decide(), explain its
 * refusals, cache its verdicts.
 */

/* The CPU rule: AMD Zen and later route P2P through the root complex. */
static bool p2pdma_cpu_routes_p2p(void)
{
#ifdef CONFIG_X86
	const struct cpuinfo_x86 *c = &cpu_data(0);

	return c->x86_vendor == X86_VENDOR_AMD && c->x86 >= 0x17;
#else
	return false;
#endif
}

/*
 * The device that stands for a host bridge in the allow list: the first
 * device on its root bus, if that is 00.0 (a classic host bridge function)
 * or a root port (platforms without such a function list root ports).
 * Walks the bus list without pci_bus_sem so it can run in atomic context;
 * the caller holds a reference on a device below the bridge, which keeps
 * the bridge's first device in place.
 */
static struct pci_dev *p2pdma_host_dev(struct pci_host_bridge *host)
{
	struct pci_dev *first;

	first = list_first_entry_or_null(&host->bus->devices, struct pci_dev,
					 bus_list);
	if (first && (first->devfn == PCI_DEVFN(0, 0) ||
		      pci_pcie_type(first) == PCI_EXP_TYPE_ROOT_PORT))
		return first;
	return NULL;
}

static void p2pdma_describe(struct pci_dev *pdev, struct p2pdma_path *path)
{
	struct pci_host_bridge *host = pci_find_host_bridge(pdev->bus);
	struct pci_dev *hostdev = p2pdma_host_dev(host);
	struct pci_dev *dev;

	path->len = 0;
	path->truncated = false;
	/* Bridges need no references: pdev holds its parents. */
	for (dev = pdev; dev; dev = pci_upstream_bridge(dev)) {
		unsigned int i = path->len;

		if (i == P2PDMA_MAX_HOPS) {
			path->truncated = true;
			break;
		}
		path->id[i] = dev;
		path->acs_ctrl[i] = 0;
		if (dev->acs_cap)
			pci_read_config_word(dev, dev->acs_cap + PCI_ACS_CTRL,
					     &path->acs_ctrl[i]);
		path->len++;
	}

	path->host.id = host;
	path->host.dev = hostdev;
	path->host.known = hostdev;
	path->host.vendor = hostdev ? hostdev->vendor : 0;
	path->host.device = hostdev ? hostdev->device : 0;
}

/* "RR", "RR+CR", ... for the redirect bits set in @ctrl. */
static const char *p2pdma_acs_names(u16 ctrl, char *buf, size_t len)
{
	static const struct {
		u16 bit;
		const char *name;
	} bits[] = {
		{ PCI_ACS_RR, "RR" }, { PCI_ACS_CR, "CR" }, { PCI_ACS_EC, "EC" },
	};
	struct seq_buf sb;
	unsigned int i;

	seq_buf_init(&sb, buf, len);
	for (i = 0; i < ARRAY_SIZE(bits); i++)
		if (ctrl & bits[i].bit)
			seq_buf_printf(&sb, "%s%s", seq_buf_used(&sb) ? "+" : "",
				       bits[i].name);
	return seq_buf_str(&sb);
}

static void p2pdma_explain_acs(struct pci_dev *client, const char *provider,
			       const struct p2pdma_path paths[2],
			       const struct p2pdma_verdict *v)
{
	struct seq_buf list;
	char buf[128], names[12];
	unsigned int side;

	seq_buf_init(&list, buf, sizeof(buf));
	for (side = 0; side < 2; side++) {
		unsigned long mask = v->acs_hops[side];
		unsigned int i;

		for_each_set_bit(i, &mask, P2PDMA_MAX_HOPS) {
			const struct pci_dev *dev = paths[side].id[i];
			u16 ctrl = paths[side].acs_ctrl[i];

			pci_warn(client,
				 "peer-to-peer DMA with %s is redirected to the host bridge by ACS %s on %s\n",
				 provider,
				 p2pdma_acs_names(ctrl, names, sizeof(names)),
				 pci_name(dev));
			seq_buf_printf(&list, "%s%s", seq_buf_used(&list) ?
				       ";" : "", pci_name(dev));
		}
	}
	pci_warn(client,
		 "peer-to-peer DMA with %s could stay below the common upstream bridge with pci=disable_acs_redir=%s\n",
		 provider, seq_buf_str(&list));
}

static void p2pdma_explain_host(struct pci_dev *client, const char *provider,
				const struct p2pdma_path paths[2],
				const struct p2pdma_verdict *v)
{
	bool same = paths[0].host.id == paths[1].host.id;
	unsigned int side;

	for (side = 0; side < 2; side++) {
		const struct p2pdma_host *host = &paths[side].host;
		const struct pci_dev *hostdev = host->dev;

		if (!(v->bad_host & BIT(side)))
			continue;

		switch (p2pdma_check_host(host, same)) {
		case P2PDMA_REASON_HOST_UNKNOWN:
			pci_warn(client,
				 "peer-to-peer DMA with %s refused: the host bridge above the %s has no device to look up in the P2PDMA allow list\n",
				 provider, side ? "client" : "provider");
			break;
		case P2PDMA_REASON_HOST_UNLISTED:
			pci_warn(client,
				 "peer-to-peer DMA with %s refused: host bridge %s (%04x:%04x) is not on the P2PDMA allow list\n",
				 provider, pci_name(hostdev), host->vendor,
				 host->device);
			break;
		case P2PDMA_REASON_HOST_SPLIT:
			pci_warn(client,
				 "peer-to-peer DMA with %s refused: client and provider are below different host bridges, and %s (%04x:%04x) only supports it below one\n",
				 provider, pci_name(hostdev), host->vendor,
				 host->device);
			break;
		default:
			break;
		}
	}
}

/*
 * Say why traffic between a client and a provider has to go through the
 * host bridge, whenever an ACS redirect is the reason (even if the host
 * bridge then routes it: the redirect may be worth turning off), and why
 * a client cannot reach a provider at all.  Kept out of line so its
 * buffers do not add to p2pdma_judge()'s frame, which the DMA mapping
 * path may need.
 */
static noinline_for_stack void
p2pdma_explain(struct pci_dev *provider, struct pci_dev *client,
	       const struct p2pdma_path paths[2], const struct p2pdma_verdict *v)
{
	const char *name = pci_name(provider);

	if (v->reason == P2PDMA_REASON_TOO_DEEP) {
		pci_warn(client,
			 "peer-to-peer DMA with %s refused: PCI hierarchy deeper than %d levels\n",
			 name, P2PDMA_MAX_HOPS);
		return;
	}

	if (v->acs_hops[0] || v->acs_hops[1])
		p2pdma_explain_acs(client, name, paths, v);

	if (v->map != PCI_P2PDMA_MAP_NOT_SUPPORTED)
		return;

	/* Without a common device there is no ACS redirect to blame. */
	if (!v->common)
		pci_warn(client,
			 "peer-to-peer DMA with %s has to cross the host bridge: no upstream bridge is shared\n",
			 name);
	p2pdma_explain_host(client, name, paths, v);
}

/*
 * The verdict cache: each provider keeps the map type and distance of its
 * clients in its struct pci_p2pdma, keyed by the client's domain and
 * bus/devfn.  It is freed with the provider's P2P state when the provider
 * driver unbinds (p2pdma_release()), so a provider that is replaced or
 * rebound starts with an empty cache.
 *
 * Entries are never invalidated while the provider stays bound.  If a
 * client is hot-removed and another device later shows up at the same
 * domain and bus/devfn, the old verdict is served for it, although the
 * newcomer may sit behind other bridges or have other ACS settings (bus
 * numbers get reused when the hierarchy below a hotplug port is rebuilt).
 * The previous implementation had the same limitation.  The DMA mapping
 * path and non-verbose distance queries read the cache; only a verbose
 * query recomputes and refreshes the entry.  A real fix needs a hook in
 * PCI device removal that drops the client from every provider's cache.
 */
static unsigned long p2pdma_client_key(struct pci_dev *client)
{
	return p2pdma_verdict_key(pci_domain_nr(client->bus),
				  pci_dev_id(client));
}

/*
 * One word for the most recent verdict: key, distance, map type.  Keys
 * take at most 48 bits (P2PDMA needs 64-bit), which leaves 14 bits for the
 * distance; a verdict whose distance does not fit only goes to the xarray.
 */
#define P2PDMA_LAST_DIST_BITS	14
#define P2PDMA_LAST_KEY_SHIFT	(P2PDMA_LAST_DIST_BITS + P2PDMA_VERDICT_MAP_BITS)

/**
 * p2pdma_last_pack() - pack a verdict and its key into one word
 * @key: verdict cache index of the client (p2pdma_verdict_key())
 * @map: map type, not %PCI_P2PDMA_MAP_UNKNOWN
 * @distance: distance
 *
 * Return: the word, or 0 (no verdict) if @distance is negative or too
 * large to fit.
 */
VISIBLE_IF_KUNIT unsigned long p2pdma_last_pack(unsigned long key,
						enum pci_p2pdma_map_type map,
						int distance)
{
	if (distance < 0 || distance >= BIT(P2PDMA_LAST_DIST_BITS))
		return 0;
	return key << P2PDMA_LAST_KEY_SHIFT |
	       (unsigned long)distance << P2PDMA_VERDICT_MAP_BITS | map;
}
EXPORT_SYMBOL_IF_KUNIT(p2pdma_last_pack);

/**
 * p2pdma_last_unpack() - the verdict in a packed word, if it is for @key
 * @last: word from p2pdma_last_pack(), or 0
 * @key: verdict cache index of the client
 * @distance: returns the distance (untouched when there is no verdict)
 *
 * Return: the map type, %PCI_P2PDMA_MAP_UNKNOWN if @last holds no verdict
 * or one for another client.
 */
VISIBLE_IF_KUNIT enum pci_p2pdma_map_type
p2pdma_last_unpack(unsigned long last, unsigned long key, int *distance)
{
	if (!last || last >> P2PDMA_LAST_KEY_SHIFT != key)
		return PCI_P2PDMA_MAP_UNKNOWN;
	*distance = (last >> P2PDMA_VERDICT_MAP_BITS) &
		    (BIT(P2PDMA_LAST_DIST_BITS) - 1);
	return last & P2PDMA_VERDICT_MAP_MASK;
}
EXPORT_SYMBOL_IF_KUNIT(p2pdma_last_unpack);

/* Cached verdict of a pair; %PCI_P2PDMA_MAP_UNKNOWN if there is none. */
static enum pci_p2pdma_map_type
p2pdma_cached_verdict(struct pci_dev *provider, struct pci_dev *client,
		      int *distance)
{
	enum pci_p2pdma_map_type map = PCI_P2PDMA_MAP_UNKNOWN;
	unsigned long key = p2pdma_client_key(client);
	struct pci_p2pdma *p2pdma;

	rcu_read_lock();
	p2pdma = rcu_dereference(provider->p2pdma);
	if (p2pdma) {
		map = p2pdma_last_unpack(READ_ONCE(p2pdma->last_verdict), key,
					 distance);
		if (map == PCI_P2PDMA_MAP_UNKNOWN)
			map = p2pdma_verdict_decode(xa_load(&p2pdma->verdicts,
							    key), distance);
	}
	rcu_read_unlock();
	return map;
}

static void p2pdma_cache_verdict(struct pci_dev *provider,
				 struct pci_dev *client,
				 const struct p2pdma_verdict *v)
{
	unsigned long key = p2pdma_client_key(client);
	struct pci_p2pdma *p2pdma;
	unsigned long flags;

	rcu_read_lock();
	p2pdma = rcu_dereference(provider->p2pdma);
	if (p2pdma) {
		/* A failed store only means computing it again next time. */
		xa_lock_irqsave(&p2pdma->verdicts, flags);
		__xa_store(&p2pdma->verdicts, key,
			   p2pdma_verdict_encode(v->map, v->distance),
			   GFP_ATOMIC);
		WRITE_ONCE(p2pdma->last_verdict,
			   p2pdma_last_pack(key, v->map, v->distance));
		xa_unlock_irqrestore(&p2pdma->verdicts, flags);
	}
	rcu_read_unlock();
}

/*
 * Compute, cache and (if @verbose) explain the verdict for a pair.  This
 * can run in atomic context, deep in a storage stack, from dma_map_sg(),
 * so the frame is kept small: the two paths take 384 bytes on 64-bit.
 */
static void p2pdma_judge(struct pci_dev *provider, struct pci_dev *client,
			 bool verbose, struct p2pdma_verdict *v)
{
	struct p2pdma_path paths[2];

	p2pdma_describe(provider, &paths[0]);
	p2pdma_describe(client, &paths[1]);
	p2pdma_decide(&paths[0], &paths[1], p2pdma_cpu_routes_p2p(), v);
	if (verbose)
		p2pdma_explain(provider, client, paths, v);
	p2pdma_cache_verdict(provider, client, v);
}

/* The nearest PCI device at or above @dev, with a reference, or NULL. */
static struct pci_dev *p2pdma_pci_parent(struct device *dev)
{
	struct device *parent;

	for (dev = get_device(dev); dev; dev = parent) {
		if (dev_is_pci(dev))
			return to_pci_dev(dev);
		parent = get_device(dev->parent);
		put_device(dev);
	}
	return NULL;
}

/**
 * pci_p2pdma_distance_many() - how well a provider suits a set of clients
 * @provider: device with P2P memory
 * @clients: devices that would DMA to or from it; each may be a PCI device
 *	or any device below one (its nearest PCI ancestor is used)
 * @num_clients: number of entries in @clients
 * @verbose: work every verdict out afresh and log its reasons: why an
 *	unsuitable client cannot reach @provider, and which ACS redirects send
 *	a pair's traffic through the host bridge, even where that route is then
 *	allowed
 *
 * The distance of a pair counts the hops from each device up to the
 * nearest device they share (0 for a device and itself, 2 for two
 * functions of one device, 4 for two devices on one switch), also when an
 * ACS redirect sends the pair's traffic through the host bridge instead.
 * A pair without a common device counts both paths in full, every device
 * from each end up to the topmost one below its host bridge (4 for two
 * endpoints on two root ports).  A pair in which a path has more than
 * %P2PDMA_MAX_HOPS devices, bridges included, cannot do P2P DMA.
 *
 * Without @verbose, a verdict comes from @provider's verdict cache when it
 * has one for the client and is computed and cached otherwise; a @verbose
 * call always computes it (and refreshes the cache) so that the reasons
 * can be logged.
 *
 * Return: the sum of the distances to all clients (lower is better), or
 * -1 if any client cannot do P2P DMA with @provider.  Also -1 for a
 * @num_clients of 0 or below (the previous implementation returned 0 for
 * a negative count).
 */
int pci_p2pdma_distance_many(struct pci_dev *provider, struct device **clients,
			     int num_clients, bool verbose)
{
	bool refused = false;
	int i, total = 0;

	if (num_clients <= 0)
		return -1;

	for (i = 0; i < num_clients; i++) {
		struct pci_dev *client = p2pdma_pci_parent(clients[i]);
		enum pci_p2pdma_map_type map = PCI_P2PDMA_MAP_UNKNOWN;
		struct p2pdma_verdict v;
		int distance;

		if (!client) {
			if (verbose)
				dev_warn(clients[i],
					 "peer-to-peer DMA with %s refused: not a PCI device, nor below one\n",
					 pci_name(provider));
			refused = true;
		} else {
			if (!verbose)
				map = p2pdma_cached_verdict(provider, client,
							    &distance);
			if (map == PCI_P2PDMA_MAP_UNKNOWN) {
				p2pdma_judge(provider, client, verbose, &v);
				map = v.map;
				distance = v.distance;
			}
			pci_dev_put(client);
			if (map == PCI_P2PDMA_MAP_NOT_SUPPORTED)
				refused = true;
			else
				total += distance;
		}
		/* Verbose callers get every reason, not just the first. */
		if (refused && !verbose)
			break;
	}
	return refused ? -1 : total;
}
EXPORT_SYMBOL_GPL(pci_p2pdma_distance_many);

/**
 * pci_has_p2pmem() - whether a device offers P2P memory to other drivers
 * @pdev: device to check
 *
 * Return: true if @pdev has P2P memory and has published it.
 */
bool pci_has_p2pmem(struct pci_dev *pdev)
{
	struct pci_p2pdma *p2pdma;
	bool ret;

	rcu_read_lock();
	p2pdma = rcu_dereference(pdev->p2pdma);
	ret = p2pdma && READ_ONCE(p2pdma->published);
	rcu_read_unlock();
	return ret;
}
EXPORT_SYMBOL_GPL(pci_has_p2pmem);

/**
 * pci_p2pmem_find_many() - pick the closest published provider for clients
 * @clients: devices that will use the memory
 * @num_clients: number of entries in @clients
 *
 * Considers every device with published P2P memory that all clients can
 * reach (see pci_p2pdma_distance_many()) and returns the one with the
 * smallest distance; among equally close ones each is equally likely, so
 * that load spreads over them.
 *
 * Return: the provider with a reference held (drop it with pci_dev_put()),
 * or NULL if none suits.
 */
struct pci_dev *pci_p2pmem_find_many(struct device **clients, int num_clients)
{
	struct pci_dev *pdev = NULL, *best = NULL;
	int best_dist = INT_MAX;
	u32 ties = 0;

	for_each_pci_dev(pdev) {
		int dist;

		if (!pci_has_p2pmem(pdev))
			continue;
		dist = pci_p2pdma_distance_many(pdev, clients, num_clients,
						false);
		if (dist < 0 || dist > best_dist)
			continue;
		if (dist < best_dist) {
			best_dist = dist;
			ties = 0;
		}
		/* Reservoir sampling: keep the k-th tie with probability 1/k. */
		if (get_random_u32_below(++ties) == 0) {
			pci_dev_put(best);
			best = pci_dev_get(pdev);
		}
	}
	return best;
}
EXPORT_SYMBOL_GPL(pci_p2pmem_find_many);

/**
 * pci_alloc_p2pmem() - allocate P2P memory from a provider
 * @pdev: the provider
 * @size: bytes to allocate (rounded up to whole pages)
 *
 * The memory is physically contiguous; if @size is a power of two pages,
 * its bus address is aligned to @size.  Safe in atomic context.
 *
 * Return: kernel address of the memory, or NULL if @pdev has no P2P
 * memory, none of that size is free, or it is being removed.
 */
void *pci_alloc_p2pmem(struct pci_dev *pdev, size_t size)
{
	unsigned long pg, npages = p2pdma_bytes_to_pages(size);
	struct p2pdma_range *range;
	struct pci_p2pdma *p2pdma;
	long n = -ENODEV;

	if (!size)
		return NULL;

	/* RCU keeps p2pdma valid; the range ref then pins the memory. */
	rcu_read_lock();
	p2pdma = rcu_dereference(pdev->p2pdma);
	if (p2pdma)
		n = p2pdma_kalloc(p2pdma, npages, &range, &pg);
	rcu_read_unlock();
	return n > 0 ? p2pdma_range_addr(range, pg) : NULL;
}
EXPORT_SYMBOL_GPL(pci_alloc_p2pmem);

/**
 * pci_free_p2pmem() - free memory from pci_alloc_p2pmem()
 * @pdev: the provider it came from
 * @addr: address returned by pci_alloc_p2pmem(); NULL is ignored
 * @size: the size passed to pci_alloc_p2pmem()
 *
 * The request is checked, in whole pages, before anything is freed: @addr
 * must be the start of a live allocation from @pdev and @size must round up
 * to the same number of pages as the size it was allocated with.  Anything
 * else (an address inside an allocation or outside @pdev's memory, a size
 * that covers less or more than the allocation, memory freed already, or
 * pages of a user mapping) is a caller bug: the first one warns with a
 * backtrace, and none of them frees memory or drops a reference.
 */
void pci_free_p2pmem(struct pci_dev *pdev, void *addr, size_t size)
{
	struct p2pdma_range *range = ERR_PTR(-ENODEV);
	struct pci_p2pdma *p2pdma;

	if (!addr)
		return;

	rcu_read_lock();
	p2pdma = rcu_dereference(pdev->p2pdma);
	if (p2pdma)
		range = p2pdma_free_pages(p2pdma, addr,
					  p2pdma_bytes_to_pages(size));
	rcu_read_unlock();

	if (IS_ERR(range)) {
		pci_WARN_ONCE(pdev, true,
			      "p2pmem: not freeing %zu bytes at %p: %s\n",
			      size, addr, p2pdma_free_error(PTR_ERR(range)));
		return;
	}
	percpu_ref_put(&range->pgmap.ref);
}
EXPORT_SYMBOL_GPL(pci_free_p2pmem);

/**
 * pci_p2pmem_virt_to_bus() - PCI bus address of P2P memory
 * @pdev: the provider the memory belongs to
 * @addr: kernel address inside memory from pci_alloc_p2pmem()
 *
 * Return: the bus address to program into a peer device, or 0 if @addr is
 * NULL or not P2P memory of @pdev (the previous implementation returned an
 * all-ones address for memory that was not in the provider's pool).
 */
pci_bus_addr_t pci_p2pmem_virt_to_bus(struct pci_dev *pdev, void *addr)
{
	struct p2pdma_range *range;
	struct pci_p2pdma *p2pdma;
	pci_bus_addr_t bus = 0;

	if (!addr)
		return 0;

	rcu_read_lock();
	p2pdma = rcu_dereference(pdev->p2pdma);
	if (p2pdma) {
		list_for_each_entry_rcu(range, &p2pdma->ranges, node) {
			if (p2pdma_range_holds(range, addr)) {
				bus = range->pgmap.range.start +
				      (addr - range->kaddr) + range->bus_offset;
				break;
			}
		}
	}
	rcu_read_unlock();
	return bus;
}
EXPORT_SYMBOL_GPL(pci_p2pmem_virt_to_bus);

/**
 * pci_p2pmem_alloc_sgl() - allocate P2P memory described by a scatterlist
 * @pdev: the provider
 * @nents: returns the number of entries in the list
 * @length: bytes to allocate
 *
 * Return: a scatterlist (one entry) over freshly allocated P2P memory, to
 * be freed with pci_p2pmem_free_sgl(), or NULL on failure.
 */
struct scatterlist *pci_p2pmem_alloc_sgl(struct pci_dev *pdev,
					 unsigned int *nents, u32 length)
{
	struct scatterlist *sg;
	void *addr;

	sg = kmalloc(sizeof(*sg), GFP_KERNEL);
	if (!sg)
		return NULL;

	addr = pci_alloc_p2pmem(pdev, length);
	if (!addr) {
		kfree(sg);
		return NULL;
	}

	sg_init_table(sg, 1);
	sg_set_buf(sg, addr, length);
	*nents = 1;
	return sg;
}
EXPORT_SYMBOL_GPL(pci_p2pmem_alloc_sgl);

/**
 * pci_p2pmem_free_sgl() - free a list from pci_p2pmem_alloc_sgl()
 * @pdev: the provider the memory came from
 * @sgl: the list; the memory of every entry is freed, then the list
 */
void pci_p2pmem_free_sgl(struct pci_dev *pdev, struct scatterlist *sgl)
{
	struct scatterlist *sg;

	for (sg = sgl; sg; sg = sg_next(sg))
		pci_free_p2pmem(pdev, sg_virt(sg), sg->length);
	kfree(sgl);
}
EXPORT_SYMBOL_GPL(pci_p2pmem_free_sgl);

/**
 * pci_p2pmem_publish() - let other drivers find a provider's memory
 * @pdev: the provider
 * @publish: true to offer the memory through pci_p2pmem_find(), false to
 *	keep it for the provider's own driver
 *
 * Does nothing if @pdev has no P2P memory.
 */
void pci_p2pmem_publish(struct pci_dev *pdev, bool publish)
{
	struct pci_p2pdma *p2pdma;

	rcu_read_lock();
	p2pdma = rcu_dereference(pdev->p2pdma);
	if (p2pdma)
		WRITE_ONCE(p2pdma->published, publish);
	rcu_read_unlock();
}
EXPORT_SYMBOL_GPL(pci_p2pmem_publish);

/*
 * DMA mapping
 */

static enum pci_p2pdma_map_type p2pdma_map_type(struct dev_pagemap *pgmap,
						struct device *dev)
{
	struct pci_dev *provider = to_p2pdma_range(pgmap)->provider;
	enum pci_p2pdma_map_type map;
	struct p2pdma_verdict v;
	struct pci_dev *client;
	int distance;

	if (!dev_is_pci(dev))
		return PCI_P2PDMA_MAP_NOT_SUPPORTED;
	client = to_pci_dev(dev);

	map = p2pdma_cached_verdict(provider, client, &distance);
	if (map != PCI_P2PDMA_MAP_UNKNOWN)
		return map;

	p2pdma_judge(provider, client, true, &v);
	return v.map;
}

/*
 * Out of line: the verdict lookup needs a stack frame, and the common case,
 * the same range as the segment before, should not pay for setting one up.
 */
static noinline void p2pdma_map_state_set(struct pci_p2pdma_map_state *state,
					  struct dev_pagemap *pgmap,
					  struct device *dev)
{
	state->pgmap = pgmap;
	state->map = p2pdma_map_type(pgmap, dev);
	state->bus_off = to_p2pdma_range(pgmap)->bus_offset;
}

/**
 * pci_p2pdma_map_segment() - map a P2P scatterlist segment if it can be
 * @state: per-list state, zeroed before the first segment
 * @dev: the device that will do the DMA
 * @sg: a segment whose page is a P2P page
 *
 * For dma_map_sg() implementations.  Looks up how @dev reaches the memory
 * whenever the segment's provider range differs from that of the segment
 * before it (@state remembers the last one): from the provider's verdict
 * cache, or on a miss by computing the verdict, logging it as a verbose
 * pci_p2pdma_distance() would, and caching it.  For
 * %PCI_P2PDMA_MAP_BUS_ADDR the segment is mapped here, to its bus address,
 * and marked as such; for %PCI_P2PDMA_MAP_THRU_HOST_BRIDGE the caller maps
 * it like system memory; %PCI_P2PDMA_MAP_NOT_SUPPORTED means it cannot be
 * mapped for @dev (always the case, unlogged, if @dev is not a PCI
 * device).
 *
 * Return: the map type for the segment.
 */
enum pci_p2pdma_map_type
pci_p2pdma_map_segment(struct pci_p2pdma_map_state *state, struct device *dev,
		       struct scatterlist *sg)
{
	struct dev_pagemap *pgmap = sg_page(sg)->pgmap;

	if (unlikely(state->pgmap != pgmap))
		p2pdma_map_state_set(state, pgmap, dev);

	if (state->map == PCI_P2PDMA_MAP_BUS_ADDR) {
		sg->dma_address = sg_phys(sg) + state->bus_off;
		sg_dma_len(sg) = sg->length;
		sg_dma_mark_bus_address(sg);
	}
	return state->map;
}

/*
 * configfs/sysfs helpers
 */

/**
 * pci_p2pdma_enable_store() - parse a "use P2P memory" attribute
 * @page: the written value: a PCI device name (e.g. "0000:01:00.0") or a
 *	boolean as kstrtobool() takes it; a trailing newline is fine
 * @p2p_dev: returns the named device, with a reference held, when a
 *	device was given; left alone for a boolean
 * @use_p2pdma: returns whether P2P memory is to be used
 *
 * A device must have published P2P memory.  "0" and "1" only count as
 * booleans on their own, so a mistyped device name such as "0000:01:00.7"
 * is not taken for "0".  Show the attribute with pci_p2pdma_enable_show().
 *
 * Return: 0 on success, -ENODEV if the value names no usable device and is
 * no boolean either.
 */
int pci_p2pdma_enable_store(const char *page, struct pci_dev **p2p_dev,
			    bool *use_p2pdma)
{
	int len = strcspn(page, "\n");
	struct device *dev;
	bool val;

	dev = bus_find_device_by_name(&pci_bus_type, NULL, page);
	if (dev) {
		struct pci_dev *pdev = to_pci_dev(dev);

		if (!pci_has_p2pmem(pdev)) {
			pci_err(pdev,
				"cannot be the p2pmem provider: it has no peer-to-peer memory\n");
			pci_dev_put(pdev);
			return -ENODEV;
		}
		*p2p_dev = pdev;
		*use_p2pdma = true;
		return 0;
	}

	if ((page[0] != '0' && page[0] != '1') || iscntrl(page[1])) {
		if (!kstrtobool(page, &val)) {
			*use_p2pdma = val;
			return 0;
		}
	}

	pr_err("p2pmem: \"%.*s\" is neither a PCI device nor a boolean\n",
	       len, page);
	return -ENODEV;
}
EXPORT_SYMBOL_GPL(pci_p2pdma_enable_store);

/**
 * pci_p2pdma_enable_show() - format a "use P2P memory" attribute
 * @page: buffer of at least PAGE_SIZE bytes
 * @p2p_dev: the chosen provider, or NULL
 * @use_p2pdma: whether P2P memory is used
 *
 * Return: the length written: "0" when off, "1" when on with any provider,
 * else the provider's name, each followed by a newline.
 */
ssize_t pci_p2pdma_enable_show(char *page, struct pci_dev *p2p_dev,
			       bool use_p2pdma)
{
	const char *val = "0";

	if (use_p2pdma)
		val = p2p_dev ? pci_name(p2p_dev) : "1";
	return scnprintf(page, PAGE_SIZE, "%s\n", val);
}
EXPORT_SYMBOL_GPL(pci_p2pdma_enable_show);
