// SPDX-License-Identifier: GPL-2.0
/*
 * PCI P2PDMA buddy allocator.
 *
 * A binary buddy allocator over page numbers: the free blocks of each order
 * sit in a hierarchical bitmap (a leaf bit per block, and summary levels in
 * which a bit says that a word below is not zero), so finding, inserting
 * and removing a block cost O(log64 N) whatever the fragmentation.  A flat
 * bitmap of free pages serves the unaligned fallback for contiguous
 * requests that no free block can hold.  Nothing here knows about PCI, and
 * nothing is locked: the pool of a range (p2pdma_pool.c) serialises the
 * calls.  Design and costs: Documentation/driver-api/pci/p2pdma.rst, "The
 * P2P Memory Allocator".
 */

#include <linux/bitmap.h>
#include <linux/minmax.h>
#include <linux/overflow.h>
#include <linux/slab.h>

#include "p2pdma_buddy.h"

/*
 * Hierarchical bitmaps
 */

static unsigned int p2pdma_hbm_layout(unsigned long nbits, unsigned long *words)
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

static void p2pdma_hbm_bind(struct p2pdma_hbm *h, unsigned long *store)
{
	unsigned long nbits = h->nbits;
	unsigned int l;

	for (l = 0; l <= h->top; l++) {
		h->lvl[l] = store;
		store += BITS_TO_LONGS(nbits);
		nbits = BITS_TO_LONGS(nbits);
	}
}

static bool p2pdma_hbm_test(const struct p2pdma_hbm *h, unsigned long pos)
{
	return h->lvl[0][pos / BITS_PER_LONG] & BIT(pos % BITS_PER_LONG);
}

static bool p2pdma_hbm_empty(const struct p2pdma_hbm *h)
{
	return !h->lvl[h->top][0];
}

static void p2pdma_hbm_set(struct p2pdma_hbm *h, unsigned long pos)
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

static void p2pdma_hbm_clear(struct p2pdma_hbm *h, unsigned long pos)
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
static unsigned long p2pdma_hbm_find_next(const struct p2pdma_hbm *h,
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

/*
 * Buddy allocator
 */

/* Number of the first block of order @order that starts at or after @pg. */
static unsigned long p2pdma_buddy_first_block(unsigned long pg,
					      unsigned int order)
{
	return (pg >> order) + !!(pg & (BIT(order) - 1));
}

static bool p2pdma_buddy_is_free(const struct p2pdma_buddy *b,
				 unsigned int order, unsigned long blk)
{
	const struct p2pdma_hbm *h = &b->order[order];

	return blk >= h->first && blk - h->first < h->nbits &&
	       p2pdma_hbm_test(h, blk - h->first);
}

static void p2pdma_buddy_insert(struct p2pdma_buddy *b, unsigned int order,
				unsigned long blk)
{
	p2pdma_hbm_set(&b->order[order], blk - b->order[order].first);
	b->nonempty |= BIT(order);
}

static void p2pdma_buddy_remove(struct p2pdma_buddy *b, unsigned int order,
				unsigned long blk)
{
	struct p2pdma_hbm *h = &b->order[order];

	p2pdma_hbm_clear(h, blk - h->first);
	if (p2pdma_hbm_empty(h))
		b->nonempty &= ~BIT(order);
}

/* Free one block, merging it with its buddy for as long as that is free. */
static void p2pdma_buddy_put_block(struct p2pdma_buddy *b, unsigned int order,
				   unsigned long blk)
{
	bitmap_set(b->freemap, (blk << order) - b->origin, BIT(order));
	while (order < b->max_order && p2pdma_buddy_is_free(b, order, blk ^ 1)) {
		p2pdma_buddy_remove(b, order, blk ^ 1);
		blk >>= 1;
		order++;
	}
	p2pdma_buddy_insert(b, order, blk);
}

/* Order of the largest aligned block that starts at @pg and ends by @end. */
static unsigned int p2pdma_buddy_span_order(unsigned long pg, unsigned long end)
{
	unsigned int order = ilog2(end - pg);

	if (pg)
		order = min_t(unsigned int, order, __ffs(pg));
	return order;
}

/* Free [@pg, @pg + @n) without checks; counters are the caller's job. */
static void p2pdma_buddy_put_span(struct p2pdma_buddy *b, unsigned long pg,
				  unsigned long n)
{
	unsigned long end = pg + n;

	while (pg < end) {
		unsigned int order = p2pdma_buddy_span_order(pg, end);

		p2pdma_buddy_put_block(b, order, pg >> order);
		pg += BIT(order);
	}
}

/* Take the lowest free block of the smallest order >= @order and split it. */
static bool p2pdma_buddy_take(struct p2pdma_buddy *b, unsigned int order,
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
	j = p2pdma_hbm_find_next(&b->order[k], 0) + b->order[k].first;
	p2pdma_buddy_remove(b, k, j);

	/* Keep the lower half, hand the upper half back, until small enough. */
	while (k > order) {
		k--;
		j <<= 1;
		p2pdma_buddy_insert(b, k, j + 1);
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
struct p2pdma_buddy *p2pdma_buddy_create(unsigned long origin,
					 unsigned long npages, int nid)
{
	unsigned long end, words = 0, used = 0;
	unsigned int max_order = 0, k;
	struct p2pdma_buddy *b;

	if (!npages || check_add_overflow(origin, npages, &end))
		return NULL;

	/* The largest order with at least one aligned block in the range. */
	while (max_order + 1 < BITS_PER_LONG &&
	       (end >> (max_order + 1)) >
	       p2pdma_buddy_first_block(origin, max_order + 1))
		max_order++;

	b = kzalloc_node(struct_size(b, order, max_order + 1), GFP_KERNEL, nid);
	if (!b)
		return NULL;

	for (k = 0; k <= max_order; k++) {
		struct p2pdma_hbm *h = &b->order[k];
		unsigned long n;

		h->first = p2pdma_buddy_first_block(origin, k);
		h->nbits = (end >> k) - h->first;
		h->top = p2pdma_hbm_layout(h->nbits, &n);
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

		p2pdma_hbm_bind(&b->order[k], b->store + used);
		p2pdma_hbm_layout(b->order[k].nbits, &n);
		used += n;
	}
	b->freemap = b->store + used;

	b->origin = origin;
	b->npages = npages;
	b->nfree = npages;
	b->max_order = max_order;
	/* Seeding merges nothing: the span splits into maximal blocks. */
	p2pdma_buddy_put_span(b, origin, npages);
	return b;

fail:
	kfree(b);
	return NULL;
}

/**
 * p2pdma_buddy_destroy() - free an allocator
 * @b: allocator from p2pdma_buddy_create(), or NULL
 */
void p2pdma_buddy_destroy(struct p2pdma_buddy *b)
{
	if (!b)
		return;
	kvfree(b->store);
	kfree(b);
}

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
bool p2pdma_buddy_alloc(struct p2pdma_buddy *b, unsigned long npages,
			unsigned long *first)
{
	unsigned long blk, pg;
	unsigned int order;

	if (!npages || npages > b->nfree)
		return false;

	order = order_base_2(npages);
	if (!p2pdma_buddy_take(b, order, &blk))
		return false;

	pg = blk << order;
	p2pdma_buddy_put_span(b, pg + npages, BIT(order) - npages);
	b->nfree -= npages;
	*first = pg;
	return true;
}

/* Order of the free block that holds page @pg, or -1 if @pg is not free. */
static int p2pdma_buddy_free_order(const struct p2pdma_buddy *b,
				   unsigned long pg)
{
	unsigned int k;

	for (k = 0; k <= b->max_order; k++)
		if ((b->nonempty & BIT(k)) && p2pdma_buddy_is_free(b, k, pg >> k))
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
unsigned long p2pdma_find_run(const unsigned long *map, unsigned long nbits,
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

/* First page of the lowest run of @npages free pages, or ULONG_MAX. */
static unsigned long p2pdma_buddy_find_run(const struct p2pdma_buddy *b,
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
bool p2pdma_buddy_alloc_fit(struct p2pdma_buddy *b, unsigned long npages,
			    unsigned long *first)
{
	unsigned long pg, stop;
	int o;

	if (!npages || npages > b->nfree)
		return false;
	if (p2pdma_buddy_alloc(b, npages, first))
		return true;

	*first = p2pdma_buddy_find_run(b, npages);
	if (*first == ULONG_MAX)
		return false;

	/* Take every block of the run; the last one may reach past it. */
	stop = *first + npages;
	for (pg = *first; pg < stop; pg += BIT(o)) {
		o = p2pdma_buddy_free_order(b, pg);
		p2pdma_buddy_remove(b, o, pg >> o);
	}
	bitmap_clear(b->freemap, *first - b->origin, npages);
	p2pdma_buddy_put_span(b, stop, pg - stop);
	b->nfree -= npages;
	return true;
}

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
unsigned long p2pdma_buddy_alloc_upto(struct p2pdma_buddy *b,
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
	if (!p2pdma_buddy_take(b, order, &blk))
		return 0;

	b->nfree -= BIT(order);
	*first = blk << order;
	return BIT(order);
}

/**
 * p2pdma_buddy_free() - free pages
 * @b: allocator
 * @first: first page number
 * @npages: number of pages
 *
 * The span may be any part of earlier allocations, down to a single page.
 * Nothing is checked: the caller knows the pages are allocated (the pool
 * checks its bitmap of allocated pages first).
 */
void p2pdma_buddy_free(struct p2pdma_buddy *b, unsigned long first,
		       unsigned long npages)
{
	p2pdma_buddy_put_span(b, first, npages);
	b->nfree += npages;
}

#ifdef CONFIG_PCI_P2PDMA_KUNIT_TEST
#include "p2pdma_buddy_kunit.h"
#endif
