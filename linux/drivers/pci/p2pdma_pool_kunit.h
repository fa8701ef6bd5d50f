/* SPDX-License-Identifier: GPL-2.0 */
/*
 * KUnit suite of the P2PDMA pool, included at the end of p2pdma_pool.c
 * when CONFIG_PCI_P2PDMA_KUNIT_TEST is set, so that it can reach static
 * functions.  The pool is driven through the calls the core makes.
 */
#ifndef _DRIVERS_PCI_P2PDMA_POOL_KUNIT_H
#define _DRIVERS_PCI_P2PDMA_POOL_KUNIT_H

#include <kunit/test.h>

/* The in-use check of a free: all bits of the block set, or no change. */
static void p2pdma_test_inuse_clear(struct kunit *test)
{
	atomic_long_t word = ATOMIC_LONG_INIT(0xff);

	KUNIT_EXPECT_TRUE(test, p2pdma_inuse_clear(&word, 0x0f));
	KUNIT_EXPECT_EQ(test, atomic_long_read(&word), 0xf0L);
	/* Already free, then partly free: refused, word unchanged. */
	KUNIT_EXPECT_FALSE(test, p2pdma_inuse_clear(&word, 0x03));
	KUNIT_EXPECT_FALSE(test, p2pdma_inuse_clear(&word, 0x1c));
	KUNIT_EXPECT_EQ(test, atomic_long_read(&word), 0xf0L);
	KUNIT_EXPECT_TRUE(test, p2pdma_inuse_clear(&word, 0x30));
	KUNIT_EXPECT_EQ(test, atomic_long_read(&word), 0xc0L);

	/* The top bit, as a block at the end of a word has it. */
	atomic_long_set(&word, -1L);
	KUNIT_EXPECT_TRUE(test, p2pdma_inuse_clear(&word, BIT(BITS_PER_LONG - 1)));
	KUNIT_EXPECT_EQ(test, atomic_long_read(&word), LONG_MAX);
	KUNIT_EXPECT_FALSE(test, p2pdma_inuse_clear(&word, ~0UL));
	KUNIT_EXPECT_EQ(test, atomic_long_read(&word), LONG_MAX);
	KUNIT_EXPECT_TRUE(test, p2pdma_inuse_clear(&word, LONG_MAX));
	KUNIT_EXPECT_EQ(test, atomic_long_read(&word), 0L);
}

/*
 * The pool of a range: per-CPU caches and checked frees.
 */

#define CACHE_FIRST	0x40000UL	/* aligned to CACHE_PAGES */
#define CACHE_PAGES	4096UL

/* What the tests look at in a pool. */
struct test_pool_info {
	unsigned long nfree;
	unsigned long cached;
	unsigned long taken;
	unsigned long nonempty;
	unsigned int max_order;
};

KUNIT_DEFINE_ACTION_WRAPPER(pool_exit_action, p2pdma_pool_exit,
			    struct p2pdma_pool *);

static struct p2pdma_pool *new_empty_pool(struct kunit *test)
{
	struct p2pdma_pool *pool = kunit_kzalloc(test, sizeof(*pool),
						 GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, pool);
	KUNIT_ASSERT_EQ(test, p2pdma_pool_init(pool, CACHE_FIRST, CACHE_PAGES,
					       NUMA_NO_NODE), 0);
	KUNIT_ASSERT_EQ(test,
			kunit_add_action_or_reset(test, pool_exit_action, pool),
			0);
	return pool;
}

/* Pages for a user mapping, drained and tried again as the core does. */
static long test_pool_take(struct p2pdma_pool *pool, unsigned long npages,
			   bool contig, unsigned long *pg)
{
	long n = p2pdma_pool_take(pool, npages, contig, pg);

	if (!n && p2pdma_pool_drain(pool))
		n = p2pdma_pool_take(pool, npages, contig, pg);
	return n ?: -ENOMEM;
}

/* A kernel allocation, drained and tried again as the core does. */
static long test_pool_kalloc(struct p2pdma_pool *pool, unsigned long npages,
			     unsigned long *pg)
{
	long n = p2pdma_pool_kalloc(pool, npages, pg);

	if (!n && p2pdma_pool_drain(pool))
		n = p2pdma_pool_kalloc(pool, npages, pg);
	return n ?: -ENOMEM;
}

/*
 * A user mapping giving back pages [@pg, @pg + @npages); a settle drain it
 * queues has run on return.
 */
static int test_pool_free(struct p2pdma_pool *pool, unsigned long pg,
			  unsigned long npages)
{
	int err = p2pdma_pool_free(pool, pg, npages);

	flush_work(&pool->settle_work);
	return err;
}

/* pci_free_p2pmem(), short of the warning on a refused free. */
static int test_pool_kfree(struct p2pdma_pool *pool, unsigned long pg,
			   unsigned long npages)
{
	int err = p2pdma_pool_kfree(pool, pg, npages);

	flush_work(&pool->settle_work);
	return err;
}

static void test_pool_info(struct p2pdma_pool *pool,
			   struct test_pool_info *info)
{
	unsigned long flags;
	unsigned int cpu;

	spin_lock_irqsave(&pool->lock, flags);
	info->nfree = pool->buddy->nfree;
	info->nonempty = pool->buddy->nonempty;
	info->max_order = pool->buddy->max_order;
	spin_unlock_irqrestore(&pool->lock, flags);
	info->cached = 0;
	for_each_possible_cpu(cpu)
		info->cached += READ_ONCE(per_cpu_ptr(pool->pcp, cpu)->pages);
	info->taken = p2pdma_pool_taken(pool);
}

static struct p2pdma_pool *new_pool(struct kunit *test)
{
	struct p2pdma_pool *pool = new_empty_pool(test);
	unsigned long pg;

	/* One mapping of the whole range, as p2pmem_map_take() takes it. */
	KUNIT_ASSERT_EQ(test, test_pool_take(pool, CACHE_PAGES, false, &pg),
			(long)CACHE_PAGES);
	KUNIT_ASSERT_EQ(test, pg, CACHE_FIRST);
	return pool;
}

/*
 * A whole mapping given back at once, as when its last VMA goes: the span
 * goes to the buddy in one piece, nothing is cached, and the range is one
 * free block again.
 */
static void p2pdma_test_free_whole_mapping(struct kunit *test)
{
	struct p2pdma_pool *pool = new_pool(test);
	struct test_pool_info info;

	KUNIT_EXPECT_EQ(test, test_pool_free(pool, CACHE_FIRST, CACHE_PAGES), 0);
	test_pool_info(pool, &info);
	KUNIT_EXPECT_EQ(test, info.nfree, CACHE_PAGES);
	KUNIT_EXPECT_EQ(test, info.cached, 0UL);
	KUNIT_EXPECT_EQ(test, info.taken, 0UL);
	KUNIT_EXPECT_EQ(test, info.nonempty, BIT(info.max_order));
}

/*
 * Pages given back one at a time in reverse (a mapping unmapped page by
 * page from its end): each goes onto the one-page stack, which gives them
 * to the buddy eight at a time; some stay cached, yet a contiguous request
 * for the whole range succeeds, after a drain.
 */
static void p2pdma_test_cache_unmap_reversed(struct kunit *test)
{
	struct p2pdma_pool *pool = new_pool(test);
	struct test_pool_info info;
	unsigned long i, pg;

	for (i = CACHE_PAGES; i-- > 0;)
		test_pool_free(pool, CACHE_FIRST + i, 1);
	test_pool_info(pool, &info);
	KUNIT_EXPECT_EQ(test, info.nfree + info.cached, CACHE_PAGES);
	KUNIT_EXPECT_GE(test, info.cached, 1UL);

	KUNIT_EXPECT_EQ(test, test_pool_take(pool, CACHE_PAGES, true, &pg),
			(long)CACHE_PAGES);
	KUNIT_EXPECT_EQ(test, pg, CACHE_FIRST);
	test_pool_info(pool, &info);
	KUNIT_EXPECT_EQ(test, info.nfree, 0UL);
	KUNIT_EXPECT_EQ(test, info.cached, 0UL);
}

/*
 * Pages freed in two interleaved streams (two mappings torn down page by
 * page at once): every page still comes back exactly once.
 */
static void p2pdma_test_cache_unmap_interleaved(struct kunit *test)
{
	struct p2pdma_pool *pool = new_pool(test);
	struct test_pool_info info;
	unsigned long i, pg, half = CACHE_PAGES / 2;

	for (i = 0; i < half; i++) {
		test_pool_free(pool, CACHE_FIRST + i, 1);
		test_pool_free(pool, CACHE_FIRST + half + i, 1);
	}
	test_pool_info(pool, &info);
	KUNIT_EXPECT_EQ(test, info.nfree + info.cached, CACHE_PAGES);

	/* Everything is free again, in one block once drained. */
	KUNIT_EXPECT_EQ(test, test_pool_take(pool, CACHE_PAGES, true, &pg),
			(long)CACHE_PAGES);
	test_pool_info(pool, &info);
	KUNIT_EXPECT_EQ(test, info.nfree + info.cached, 0UL);
}

/* A page freed twice, or never allocated, is refused and changes nothing. */
static void p2pdma_test_cache_double_free(struct kunit *test)
{
	struct p2pdma_pool *pool = new_pool(test);
	struct test_pool_info before, after;
	unsigned long pg;

	KUNIT_EXPECT_EQ(test, test_pool_free(pool, CACHE_FIRST + 5, 1),
			0);
	test_pool_info(pool, &before);
	KUNIT_EXPECT_EQ(test, test_pool_free(pool, CACHE_FIRST + 5, 1),
			-ENOENT);
	test_pool_info(pool, &after);
	KUNIT_EXPECT_EQ(test, after.nfree, before.nfree);
	KUNIT_EXPECT_EQ(test, after.cached, before.cached);
	KUNIT_EXPECT_EQ(test, after.taken, before.taken);
	KUNIT_EXPECT_EQ(test, after.nfree + after.cached, 1UL);
	KUNIT_EXPECT_EQ(test, after.taken, CACHE_PAGES - 1);

	/* Outside the range: refused too. */
	KUNIT_EXPECT_EQ(test, test_pool_free(pool, CACHE_FIRST + CACHE_PAGES, 1),
			-ERANGE);
	test_pool_info(pool, &after);
	KUNIT_EXPECT_EQ(test, after.nfree + after.cached, 1UL);

	/* The one page is free once: a one-page request gets exactly it. */
	KUNIT_EXPECT_EQ(test, test_pool_take(pool, 1, false, &pg), 1L);
	KUNIT_EXPECT_EQ(test, pg, CACHE_FIRST + 5);
	KUNIT_EXPECT_EQ(test, test_pool_take(pool, 1, false, &pg),
			-ENOMEM);
}

/*
 * pci_free_p2pmem() of anything but one whole live allocation is refused
 * and changes nothing: no page, no count.  Two adjacent allocations of 32
 * pages (an empty range hands out its lowest blocks) let a free cover half
 * of one or spill into the next.
 */
static void p2pdma_test_kfree_bounds(struct kunit *test)
{
	struct p2pdma_pool *pool = new_empty_pool(test);
	struct test_pool_info before, after;
	unsigned long x, y, z;

	KUNIT_ASSERT_EQ(test, test_pool_kalloc(pool, 32, &x), 32L);
	KUNIT_ASSERT_EQ(test, test_pool_kalloc(pool, 32, &y), 32L);
	KUNIT_ASSERT_EQ(test, y, x + 32);
	KUNIT_ASSERT_EQ(test, test_pool_kalloc(pool, 4, &z), 4L);
	test_pool_info(pool, &before);
	KUNIT_ASSERT_EQ(test, before.taken, 68UL);

	KUNIT_EXPECT_EQ(test, test_pool_kfree(pool, x, 16), -ENXIO);
	KUNIT_EXPECT_EQ(test, test_pool_kfree(pool, x, 31), -ENXIO);
	KUNIT_EXPECT_EQ(test, test_pool_kfree(pool, x, 33), -ENXIO);
	KUNIT_EXPECT_EQ(test, test_pool_kfree(pool, x, 64), -ENXIO);
	KUNIT_EXPECT_EQ(test, test_pool_kfree(pool, x + 16, 16),
			-ENXIO);
	KUNIT_EXPECT_EQ(test, test_pool_kfree(pool, x + 1, 31), -ENXIO);
	KUNIT_EXPECT_EQ(test, test_pool_kfree(pool, z, 2), -ENXIO);
	KUNIT_EXPECT_EQ(test, test_pool_kfree(pool, z, 8), -ENXIO);
	KUNIT_EXPECT_EQ(test, test_pool_kfree(pool,
					      CACHE_FIRST + CACHE_PAGES - 1, 2),
			-ERANGE);
	test_pool_info(pool, &after);
	KUNIT_EXPECT_EQ(test, after.taken, before.taken);
	KUNIT_EXPECT_EQ(test, after.nfree, before.nfree);
	KUNIT_EXPECT_EQ(test, after.cached, before.cached);

	/* Whole allocations go; the same free again is refused. */
	KUNIT_EXPECT_EQ(test, test_pool_kfree(pool, y, 32), 0);
	KUNIT_EXPECT_EQ(test, test_pool_kfree(pool, y, 32), -ENXIO);
	KUNIT_EXPECT_EQ(test, test_pool_kfree(pool, x, 32), 0);
	KUNIT_EXPECT_EQ(test, test_pool_kfree(pool, z, 4), 0);
	test_pool_info(pool, &after);
	KUNIT_EXPECT_EQ(test, after.taken, 0UL);
	KUNIT_EXPECT_EQ(test, after.nfree + after.cached, CACHE_PAGES);
}

static struct kunit_case p2pdma_pool_cases[] = {
	KUNIT_CASE(p2pdma_test_inuse_clear),
	KUNIT_CASE(p2pdma_test_free_whole_mapping),
	KUNIT_CASE(p2pdma_test_cache_unmap_reversed),
	KUNIT_CASE(p2pdma_test_cache_unmap_interleaved),
	KUNIT_CASE(p2pdma_test_cache_double_free),
	KUNIT_CASE(p2pdma_test_kfree_bounds),
	{}
};

static struct kunit_suite p2pdma_pool_suite = {
	.name = "pci_p2pdma_pool",
	.test_cases = p2pdma_pool_cases,
};

kunit_test_suite(p2pdma_pool_suite);

#endif /* _DRIVERS_PCI_P2PDMA_POOL_KUNIT_H */
