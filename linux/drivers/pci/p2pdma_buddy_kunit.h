/* SPDX-License-Identifier: GPL-2.0 */
/*
 * KUnit suite of the P2PDMA buddy allocator, included at the end of
 * p2pdma_buddy.c when CONFIG_PCI_P2PDMA_KUNIT_TEST is set, so that it can
 * reach static functions.  Allocations and frees are checked against
 * bitmap models.
 */
#ifndef _DRIVERS_PCI_P2PDMA_BUDDY_KUNIT_H
#define _DRIVERS_PCI_P2PDMA_BUDDY_KUNIT_H

#include <kunit/test.h>

/*
 * Page allocator
 */

KUNIT_DEFINE_ACTION_WRAPPER(buddy_destroy_action, p2pdma_buddy_destroy,
			    struct p2pdma_buddy *);

static struct p2pdma_buddy *new_buddy(struct kunit *test, unsigned long origin,
				      unsigned long npages)
{
	struct p2pdma_buddy *b;

	b = p2pdma_buddy_create(origin, npages, NUMA_NO_NODE);
	KUNIT_ASSERT_NOT_NULL(test, b);
	KUNIT_ASSERT_EQ(test,
			kunit_add_action_or_reset(test, buddy_destroy_action, b),
			0);
	KUNIT_ASSERT_EQ(test, b->nfree, npages);
	return b;
}

/*
 * A free checked the slow way, for the tables below: the span lies in the
 * range and every page of it is allocated, else nothing changes.  Then the
 * production free does the work.  (In the kernel, the pool's bitmap of
 * allocated pages does the checking.)
 */

/* True when no page of block @blk of order @order is free. */
static bool test_block_busy(const struct p2pdma_buddy *b, unsigned int order,
			    unsigned long blk)
{
	unsigned long j = blk;
	unsigned int k;

	/* A free block of this order or above that covers it... */
	for (k = order; k <= b->max_order; k++, j >>= 1)
		if (p2pdma_buddy_is_free(b, k, j))
			return false;

	/* ...or a smaller free block inside it. */
	for (k = 0; k < order; k++) {
		const struct p2pdma_hbm *h = &b->order[k];
		unsigned long lo = (blk << (order - k)) - h->first;
		unsigned long hi = ((blk + 1) << (order - k)) - h->first;

		if (p2pdma_hbm_find_next(h, lo) < hi)
			return false;
	}
	return true;
}

static int test_buddy_free(struct p2pdma_buddy *b, unsigned long first,
			   unsigned long npages)
{
	unsigned long pg, end;

	if (!npages || first < b->origin || npages > b->npages ||
	    first - b->origin > b->npages - npages)
		return -ERANGE;

	end = first + npages;
	for (pg = first; pg < end; ) {
		unsigned int order = p2pdma_buddy_span_order(pg, end);

		if (!test_block_busy(b, order, pg >> order))
			return -ENOENT;
		pg += BIT(order);
	}
	p2pdma_buddy_free(b, first, npages);
	return 0;
}

static void p2pdma_test_buddy_alignment(struct kunit *test)
{
	/* An origin that is not aligned to anything larger than a page. */
	struct p2pdma_buddy *b = new_buddy(test, 0x100003, 4093);
	unsigned long pg;
	unsigned int order;

	for (order = 0; order <= 10; order++) {
		KUNIT_ASSERT_TRUE(test, p2pdma_buddy_alloc(b, BIT(order), &pg));
		KUNIT_EXPECT_EQ(test, pg & (BIT(order) - 1), 0UL);
		KUNIT_EXPECT_GE(test, pg, 0x100003UL);
		KUNIT_EXPECT_LE(test, pg + BIT(order), 0x100003UL + 4093);
	}
	KUNIT_EXPECT_EQ(test, b->nfree, 4093UL - (BIT(11) - 1));
}

static void p2pdma_test_buddy_exhaustion(struct kunit *test)
{
	struct p2pdma_buddy *b = new_buddy(test, 0, 100);
	DECLARE_BITMAP(seen, 100) = {};
	unsigned long pg, n = 0;

	/* 100 = 64 + 32 + 4: no 128-page block, but every page single. */
	KUNIT_EXPECT_FALSE(test, p2pdma_buddy_alloc(b, 65, &pg));
	KUNIT_EXPECT_FALSE(test, p2pdma_buddy_alloc(b, 101, &pg));
	KUNIT_EXPECT_FALSE(test, p2pdma_buddy_alloc(b, 0, &pg));
	KUNIT_EXPECT_EQ(test, b->nfree, 100UL);

	/* Smallest block first: the 4-page block at 96 goes first. */
	while (p2pdma_buddy_alloc(b, 1, &pg)) {
		if (!n)
			KUNIT_EXPECT_EQ(test, pg, 96UL);
		KUNIT_ASSERT_LT(test, pg, 100UL);
		KUNIT_ASSERT_FALSE(test, test_and_set_bit(pg, seen));
		n++;
	}
	KUNIT_EXPECT_EQ(test, n, 100UL);
	KUNIT_EXPECT_EQ(test, b->nfree, 0UL);
	KUNIT_EXPECT_EQ(test, p2pdma_buddy_alloc_upto(b, 8, &pg), 0UL);

	for (pg = 0; pg < 100; pg++)
		KUNIT_ASSERT_EQ(test, test_buddy_free(b, pg, 1), 0);
	KUNIT_EXPECT_EQ(test, b->nfree, 100UL);
	KUNIT_EXPECT_TRUE(test, p2pdma_buddy_alloc(b, 64, &pg));
	KUNIT_EXPECT_EQ(test, pg, 0UL);
}

static void p2pdma_test_buddy_coalescing(struct kunit *test)
{
	struct p2pdma_buddy *b = new_buddy(test, 64, 64);
	unsigned long pg, i;

	for (i = 0; i < 64; i++)
		KUNIT_ASSERT_TRUE(test, p2pdma_buddy_alloc(b, 1, &pg));

	/* Free the even pages, then the odd ones, scattered. */
	for (i = 0; i < 64; i += 2)
		KUNIT_ASSERT_EQ(test, test_buddy_free(b, 64 + i, 1), 0);
	KUNIT_EXPECT_EQ(test, b->nfree, 32UL);
	KUNIT_EXPECT_FALSE(test, p2pdma_buddy_alloc(b, 2, &pg));
	for (i = 0; i < 32; i++)
		KUNIT_ASSERT_EQ(test, test_buddy_free(b, 127 - 2 * i, 1), 0);

	/* All merged back into the one 64-page block. */
	KUNIT_EXPECT_EQ(test, b->nonempty, BIT(6));
	KUNIT_EXPECT_TRUE(test, p2pdma_buddy_alloc(b, 64, &pg));
	KUNIT_EXPECT_EQ(test, pg, 64UL);
}

static void p2pdma_test_buddy_odd_sizes(struct kunit *test)
{
	struct p2pdma_buddy *b = new_buddy(test, 0, 16);
	unsigned long pg, pg2;

	/* 3 pages cost 3 pages; the 4th page of the block stays free. */
	KUNIT_ASSERT_TRUE(test, p2pdma_buddy_alloc(b, 3, &pg));
	KUNIT_EXPECT_EQ(test, pg, 0UL);
	KUNIT_EXPECT_EQ(test, b->nfree, 13UL);
	KUNIT_ASSERT_TRUE(test, p2pdma_buddy_alloc(b, 1, &pg2));
	KUNIT_EXPECT_EQ(test, pg2, 3UL);

	/* 5 pages from an 8-page block at 8. */
	KUNIT_ASSERT_TRUE(test, p2pdma_buddy_alloc(b, 5, &pg2));
	KUNIT_EXPECT_EQ(test, pg2, 8UL);
	KUNIT_EXPECT_EQ(test, b->nfree, 7UL);

	/* Free them piecewise, as user mappings do. */
	KUNIT_EXPECT_EQ(test, test_buddy_free(b, 9, 4), 0);
	KUNIT_EXPECT_EQ(test, test_buddy_free(b, 8, 1), 0);
	KUNIT_EXPECT_EQ(test, test_buddy_free(b, 0, 4), 0);
	KUNIT_EXPECT_EQ(test, b->nfree, 16UL);
	KUNIT_EXPECT_EQ(test, b->nonempty, BIT(4));
}

static void p2pdma_test_buddy_odd_range(struct kunit *test)
{
	/* 1000 pages from 24: blocks of 8, 32, 64, 128, 256 and 512 */
	struct p2pdma_buddy *b = new_buddy(test, 24, 1000);
	unsigned long pg, total = 0, n;

	KUNIT_EXPECT_EQ(test, b->max_order, 9U);
	while ((n = p2pdma_buddy_alloc_upto(b, 1000, &pg))) {
		KUNIT_EXPECT_EQ(test, pg & (n - 1), 0UL);
		KUNIT_EXPECT_GE(test, pg, 24UL);
		KUNIT_EXPECT_LE(test, pg + n, 1024UL);
		total += n;
	}
	KUNIT_EXPECT_EQ(test, total, 1000UL);
	KUNIT_EXPECT_EQ(test, test_buddy_free(b, 24, 1000), 0);
	KUNIT_EXPECT_EQ(test, b->nfree, 1000UL);
}

static void p2pdma_test_buddy_bad_free(struct kunit *test)
{
	struct p2pdma_buddy *b = new_buddy(test, 256, 256);
	unsigned long pg, nonempty;

	KUNIT_ASSERT_TRUE(test, p2pdma_buddy_alloc(b, 8, &pg));
	KUNIT_ASSERT_EQ(test, pg, 256UL);
	nonempty = b->nonempty;

	/* Outside the range, or empty. */
	KUNIT_EXPECT_EQ(test, test_buddy_free(b, 255, 1), -ERANGE);
	KUNIT_EXPECT_EQ(test, test_buddy_free(b, 510, 4), -ERANGE);
	KUNIT_EXPECT_EQ(test, test_buddy_free(b, 512, 1), -ERANGE);
	KUNIT_EXPECT_EQ(test, test_buddy_free(b, 256, 0), -ERANGE);
	KUNIT_EXPECT_EQ(test, test_buddy_free(b, 256, ULONG_MAX), -ERANGE);

	/* Never allocated, partly allocated. */
	KUNIT_EXPECT_EQ(test, test_buddy_free(b, 300, 1), -ENOENT);
	KUNIT_EXPECT_EQ(test, test_buddy_free(b, 256, 9), -ENOENT);
	KUNIT_EXPECT_EQ(test, b->nfree, 248UL);
	KUNIT_EXPECT_EQ(test, b->nonempty, nonempty);

	/* Double free, whole and partial; nothing changes. */
	KUNIT_EXPECT_EQ(test, test_buddy_free(b, 258, 2), 0);
	KUNIT_EXPECT_EQ(test, test_buddy_free(b, 258, 1), -ENOENT);
	KUNIT_EXPECT_EQ(test, test_buddy_free(b, 256, 8), -ENOENT);
	KUNIT_EXPECT_EQ(test, b->nfree, 250UL);
	KUNIT_EXPECT_EQ(test, test_buddy_free(b, 256, 2), 0);
	KUNIT_EXPECT_EQ(test, test_buddy_free(b, 260, 4), 0);
	KUNIT_EXPECT_EQ(test, test_buddy_free(b, 260, 4), -ENOENT);
	KUNIT_EXPECT_EQ(test, b->nfree, 256UL);
	KUNIT_EXPECT_EQ(test, b->nonempty, BIT(8));
}

/* Leaf and summary bits of all orders: about two bits per page. */
static void p2pdma_test_buddy_footprint(struct kunit *test)
{
	unsigned long npages = 1UL << 20;	/* 4 GiB of 4 KiB pages */
	struct p2pdma_buddy *b = new_buddy(test, 0x400000 + 3, npages);
	unsigned long bits = 0, pg;
	unsigned int k, l;

	for (k = 0; k <= b->max_order; k++) {
		unsigned long n = b->order[k].nbits;

		for (l = 0; l <= b->order[k].top; l++) {
			n = BITS_TO_LONGS(n);
			bits += n * BITS_PER_LONG;
		}
	}
	KUNIT_EXPECT_LE(test, bits, 2 * npages + npages / 16 +
			BITS_PER_LONG * P2PDMA_HBM_LEVELS * (b->max_order + 1));

	KUNIT_EXPECT_TRUE(test, p2pdma_buddy_alloc(b, 1, &pg));
	KUNIT_EXPECT_EQ(test, test_buddy_free(b, pg, 1), 0);
	KUNIT_EXPECT_TRUE(test, p2pdma_buddy_alloc(b, 1UL << 19, &pg));
	KUNIT_EXPECT_EQ(test, pg & ((1UL << 19) - 1), 0UL);
}

/* Small deterministic generator, so failures reproduce. */
static u32 test_rand(u32 *state)
{
	*state ^= *state << 13;
	*state ^= *state >> 17;
	*state ^= *state << 5;
	return *state;
}

/* A fully free, aligned block of 2^order pages in the model? */
static bool model_has_block(unsigned long *used, unsigned long origin,
			    unsigned long npages, unsigned int order)
{
	unsigned long pg = round_up(origin, BIT(order));

	for (; pg + BIT(order) <= origin + npages; pg += BIT(order))
		if (find_next_bit(used, pg - origin + BIT(order),
				  pg - origin) >= pg - origin + BIT(order))
			return true;
	return false;
}

/* Start of the first run of @n free pages in the model, or @npages. */
static unsigned long model_run(unsigned long *used, unsigned long npages,
			       unsigned long n)
{
	return bitmap_find_next_zero_area(used, npages, 0, n, 0);
}

/*
 * Random allocations and frees checked against a bitmap model: no overlap,
 * exact counters, natural alignment whenever an aligned free block exists,
 * and a failed allocation only when no aligned free block exists
 * (p2pdma_buddy_alloc()) or no run of free pages is long enough
 * (p2pdma_buddy_alloc_fit()).
 */
static void buddy_random(struct kunit *test, bool fit)
{
	const unsigned long origin = 7, npages = 333;
	struct p2pdma_buddy *b = new_buddy(test, origin, npages);
	struct { unsigned long pg, n; } *live;
	unsigned long *used, nlive = 0, nused = 0, runs = 0;
	u32 seed = 0x2545f491;
	unsigned int i;

	used = kunit_kzalloc(test, BITS_TO_LONGS(npages) * sizeof(long),
			     GFP_KERNEL);
	live = kunit_kcalloc(test, npages, sizeof(*live), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, used);
	KUNIT_ASSERT_NOT_NULL(test, live);

	for (i = 0; i < 4000; i++) {
		u32 r = test_rand(&seed);
		unsigned long pg, n, j;
		bool aligned, ok;

		if (r % 8 < 5 || !nlive) {
			n = 1 + (r >> 8) % 24;
			aligned = model_has_block(used, origin, npages,
						  order_base_2(n));
			ok = fit ? p2pdma_buddy_alloc_fit(b, n, &pg) :
				   p2pdma_buddy_alloc(b, n, &pg);
			if (!ok) {
				KUNIT_ASSERT_FALSE(test, aligned);
				if (fit)
					KUNIT_ASSERT_GE(test, model_run(used, npages, n),
							npages);
				continue;
			}
			KUNIT_ASSERT_TRUE(test, fit || aligned);
			runs += !aligned;
			KUNIT_ASSERT_GE(test, pg, origin);
			KUNIT_ASSERT_LE(test, pg + n, origin + npages);
			if (is_power_of_2(n) && aligned)
				KUNIT_ASSERT_EQ(test, pg & (n - 1), 0UL);
			KUNIT_ASSERT_GE(test, find_next_bit(used, pg - origin + n,
							    pg - origin),
					pg - origin + n);
			bitmap_set(used, pg - origin, n);
			nused += n;
			live[nlive].pg = pg;
			live[nlive++].n = n;
		} else {
			j = (r >> 8) % nlive;
			pg = live[j].pg;
			/* Sometimes only the first page, as ->page_free does. */
			n = r & BIT(31) ? 1 : live[j].n;
			KUNIT_ASSERT_EQ(test, test_buddy_free(b, pg, n), 0);
			bitmap_clear(used, pg - origin, n);
			nused -= n;
			live[j].pg += n;
			live[j].n -= n;
			if (!live[j].n)
				live[j] = live[--nlive];
			/* Freeing it again is refused and changes nothing. */
			KUNIT_ASSERT_EQ(test, test_buddy_free(b, pg, 1),
					-ENOENT);
		}
		KUNIT_ASSERT_EQ(test, b->nfree, npages - nused);
	}
	/* The fallback must actually have been exercised. */
	if (fit)
		KUNIT_EXPECT_GT(test, runs, 0UL);
}

static void p2pdma_test_buddy_random(struct kunit *test)
{
	buddy_random(test, false);
}

static void p2pdma_test_buddy_fit_random(struct kunit *test)
{
	buddy_random(test, true);
}

/*
 * No aligned block is free, but a run of blocks is: the fallback takes the
 * lowest run, and what is left of its last block stays free.
 */
static void p2pdma_test_buddy_fit(struct kunit *test)
{
	struct p2pdma_buddy *b = new_buddy(test, 0, 64);
	unsigned long pg, i;

	for (i = 0; i < 64; i++)
		KUNIT_ASSERT_TRUE(test, p2pdma_buddy_alloc(b, 1, &pg));
	/* Pages 3..12 free: blocks 3, 4-7, 8-11 and 12. */
	KUNIT_ASSERT_EQ(test, test_buddy_free(b, 3, 10), 0);

	KUNIT_EXPECT_FALSE(test, p2pdma_buddy_alloc(b, 8, &pg));
	KUNIT_EXPECT_FALSE(test, p2pdma_buddy_alloc_fit(b, 11, &pg));
	KUNIT_ASSERT_TRUE(test, p2pdma_buddy_alloc_fit(b, 8, &pg));
	KUNIT_EXPECT_EQ(test, pg, 3UL);
	KUNIT_EXPECT_EQ(test, b->nfree, 2UL);

	/* 11 and 12 are left, not an aligned pair. */
	KUNIT_EXPECT_FALSE(test, p2pdma_buddy_alloc(b, 2, &pg));
	KUNIT_ASSERT_TRUE(test, p2pdma_buddy_alloc_fit(b, 2, &pg));
	KUNIT_EXPECT_EQ(test, pg, 11UL);
	KUNIT_EXPECT_EQ(test, b->nfree, 0UL);

	/* An aligned block, when one is free, wins over a lower run. */
	KUNIT_ASSERT_EQ(test, test_buddy_free(b, 5, 4), 0);
	KUNIT_ASSERT_EQ(test, test_buddy_free(b, 40, 4), 0);
	KUNIT_ASSERT_TRUE(test, p2pdma_buddy_alloc_fit(b, 4, &pg));
	KUNIT_EXPECT_EQ(test, pg, 40UL);
	KUNIT_ASSERT_TRUE(test, p2pdma_buddy_alloc_fit(b, 4, &pg));
	KUNIT_EXPECT_EQ(test, pg, 5UL);

	/* Everything back, page by page: one block again. */
	for (i = 0; i < 64; i++)
		KUNIT_ASSERT_EQ(test, test_buddy_free(b, i, 1), 0);
	KUNIT_EXPECT_EQ(test, b->nfree, 64UL);
	KUNIT_EXPECT_EQ(test, b->nonempty, BIT(6));
}

/* Start of the lowest run of @n set bits, the slow way. */
static unsigned long model_find_run(const unsigned long *map,
				    unsigned long nbits, unsigned long n)
{
	unsigned long i, len = 0;

	for (i = 0; i < nbits; i++) {
		len = test_bit(i, map) ? len + 1 : 0;
		if (len == n)
			return i + 1 - n;
	}
	return nbits;
}

/*
 * The run search of the fallback against the slow way, over random bitmaps
 * made of runs within and across words, and lengths up to more than two
 * words, often exactly that of a run in the bitmap.
 */
static void p2pdma_test_find_run(struct kunit *test)
{
	const unsigned long maxbits = 300;
	unsigned long *map, nbits, n, i;
	u32 seed = 0x9e3779b9;
	unsigned int round;

	map = kunit_kzalloc(test, BITS_TO_LONGS(maxbits) * sizeof(long),
			    GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, map);

	for (round = 0; round < 3000; round++) {
		unsigned long len, runs[32], nruns = 0;
		bool set = test_rand(&seed) & 1;

		/*
		 * Alternating runs of set and clear bits, 1 to 100 long, so
		 * that runs cross words; n is often exactly the length of one
		 * of the set runs, where an off-by-one shows.
		 */
		nbits = 1 + test_rand(&seed) % maxbits;
		bitmap_zero(map, maxbits);
		for (i = 0; i < nbits; i += len, set = !set) {
			len = min(1 + test_rand(&seed) % 100, nbits - i);
			if (!set)
				continue;
			bitmap_set(map, i, len);
			if (nruns < ARRAY_SIZE(runs))
				runs[nruns++] = len;
		}
		/* Bits past nbits must not count. */
		for (i = nbits; i < round_up(nbits, BITS_PER_LONG); i++)
			__set_bit(i, map);
		n = 1 + test_rand(&seed) % 140;
		if (nruns && test_rand(&seed) & 1)
			n = runs[test_rand(&seed) % nruns];
		KUNIT_ASSERT_EQ_MSG(test, p2pdma_find_run(map, nbits, n),
				    model_find_run(map, nbits, n),
				    "round %u nbits %lu n %lu", round, nbits, n);
	}

	/* Exact lengths across one and across several word boundaries. */
	bitmap_zero(map, maxbits);
	bitmap_set(map, 60, 10);
	KUNIT_EXPECT_EQ(test, p2pdma_find_run(map, maxbits, 10), 60UL);
	KUNIT_EXPECT_EQ(test, p2pdma_find_run(map, maxbits, 11), maxbits);
	bitmap_set(map, 100, 140);
	KUNIT_EXPECT_EQ(test, p2pdma_find_run(map, maxbits, 140), 100UL);
	KUNIT_EXPECT_EQ(test, p2pdma_find_run(map, maxbits, 141), maxbits);
}

/*
 * The case that made the fallback slow: a 1 GiB pool with every other page
 * free has no run of two, and a run of one is the first free page.
 */
static void p2pdma_test_find_run_checkerboard(struct kunit *test)
{
	const unsigned long nbits = 1UL << 18;
	unsigned long *map;

	map = kunit_kzalloc(test, BITS_TO_LONGS(nbits) * sizeof(long),
			    GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, map);
	memset(map, 0xaa, BITS_TO_LONGS(nbits) * sizeof(long));

	KUNIT_EXPECT_EQ(test, p2pdma_find_run(map, nbits, 1), 1UL);
	KUNIT_EXPECT_EQ(test, p2pdma_find_run(map, nbits, 2), nbits);
	__set_bit(nbits - 2, map);
	KUNIT_EXPECT_EQ(test, p2pdma_find_run(map, nbits, 2), nbits - 3);
	KUNIT_EXPECT_EQ(test, p2pdma_find_run(map, nbits, 3), nbits - 3);
	KUNIT_EXPECT_EQ(test, p2pdma_find_run(map, nbits, 4), nbits);
}

static struct kunit_case p2pdma_buddy_cases[] = {
	KUNIT_CASE(p2pdma_test_buddy_alignment),
	KUNIT_CASE(p2pdma_test_buddy_exhaustion),
	KUNIT_CASE(p2pdma_test_buddy_coalescing),
	KUNIT_CASE(p2pdma_test_buddy_odd_sizes),
	KUNIT_CASE(p2pdma_test_buddy_odd_range),
	KUNIT_CASE(p2pdma_test_buddy_bad_free),
	KUNIT_CASE(p2pdma_test_buddy_footprint),
	KUNIT_CASE(p2pdma_test_buddy_random),
	KUNIT_CASE(p2pdma_test_buddy_fit),
	KUNIT_CASE(p2pdma_test_buddy_fit_random),
	KUNIT_CASE(p2pdma_test_find_run),
	KUNIT_CASE(p2pdma_test_find_run_checkerboard),
	{}
};

static struct kunit_suite p2pdma_buddy_suite = {
	.name = "pci_p2pdma_alloc",
	.test_cases = p2pdma_buddy_cases,
};

kunit_test_suite(p2pdma_buddy_suite);

#endif /* _DRIVERS_PCI_P2PDMA_BUDDY_KUNIT_H */
