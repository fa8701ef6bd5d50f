/* SPDX-License-Identifier: GPL-2.0 */
/*
 * KUnit suite of the P2PDMA verdict cache encoding, included at the end of
 * p2pdma_verdict.c when CONFIG_PCI_P2PDMA_KUNIT_TEST is set, so that it can
 * reach its static functions.
 */
#ifndef _DRIVERS_PCI_P2PDMA_VERDICT_KUNIT_H
#define _DRIVERS_PCI_P2PDMA_VERDICT_KUNIT_H

#include <kunit/test.h>
#include <linux/pci-p2pdma.h>

/*
 * Verdict cache encoding
 */

static void p2pdma_test_verdict_encoding(struct kunit *test)
{
	static const enum pci_p2pdma_map_type maps[] = {
		PCI_P2PDMA_MAP_NOT_SUPPORTED,
		PCI_P2PDMA_MAP_BUS_ADDR,
		PCI_P2PDMA_MAP_THRU_HOST_BRIDGE,
	};
	static const int distances[] = { 0, 2, 4, 63, 64, 2 * P2PDMA_MAX_HOPS };
	unsigned int i, j;
	int dist;

	for (i = 0; i < ARRAY_SIZE(maps); i++) {
		for (j = 0; j < ARRAY_SIZE(distances); j++) {
			void *e = p2pdma_verdict_encode(maps[i], distances[j]);

			KUNIT_EXPECT_TRUE(test, xa_is_value(e));
			dist = -1;
			KUNIT_EXPECT_EQ(test, p2pdma_verdict_decode(e, &dist),
					maps[i]);
			KUNIT_EXPECT_EQ(test, dist, distances[j]);
		}
	}

	/* No entry yet: unknown, distance untouched. */
	dist = 42;
	KUNIT_EXPECT_EQ(test, p2pdma_verdict_decode(NULL, &dist),
			PCI_P2PDMA_MAP_UNKNOWN);
	KUNIT_EXPECT_EQ(test, dist, 42);
}

static void p2pdma_test_verdict_key(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, p2pdma_verdict_key(0, 0x0100), 0x0100UL);
	KUNIT_EXPECT_EQ(test, p2pdma_verdict_key(1, 0x0100), 0x10100UL);
	/* Only a 64-bit index has room for domains above 0xffff. */
	if (IS_ENABLED(CONFIG_64BIT))
		KUNIT_EXPECT_EQ(test, p2pdma_verdict_key(0x10000, 0xffff),
				0x10000ffffUL);
	KUNIT_EXPECT_NE(test, p2pdma_verdict_key(1, 0),
			p2pdma_verdict_key(0, 0xffff));
}

/* Entries survive a trip through an xarray like the provider's cache. */
static void p2pdma_test_verdict_xarray(struct kunit *test)
{
	unsigned long key = p2pdma_verdict_key(2, 0x0308);
	struct xarray xa;
	int dist = -1;
	void *entry;

	xa_init_flags(&xa, XA_FLAGS_LOCK_IRQ);
	entry = p2pdma_verdict_encode(PCI_P2PDMA_MAP_BUS_ADDR, 4);
	KUNIT_ASSERT_FALSE(test, xa_is_err(xa_store(&xa, key, entry,
						    GFP_KERNEL)));
	KUNIT_EXPECT_EQ(test, p2pdma_verdict_decode(xa_load(&xa, key), &dist),
			PCI_P2PDMA_MAP_BUS_ADDR);
	KUNIT_EXPECT_EQ(test, dist, 4);
	KUNIT_EXPECT_EQ(test, p2pdma_verdict_decode(xa_load(&xa, key + 1),
						    &dist),
			PCI_P2PDMA_MAP_UNKNOWN);
	xa_destroy(&xa);
}

/* The one-word copy of the last verdict: exact round trip, or nothing. */
static void p2pdma_test_verdict_last(struct kunit *test)
{
	static const enum pci_p2pdma_map_type maps[] = {
		PCI_P2PDMA_MAP_NOT_SUPPORTED, PCI_P2PDMA_MAP_BUS_ADDR,
		PCI_P2PDMA_MAP_THRU_HOST_BRIDGE,
	};
	static const int dists[] = { 0, 4, 1000, BIT(14) - 1 };
	unsigned long keys[] = {
		p2pdma_verdict_key(0, 0x0100),
		p2pdma_verdict_key(0xffff, 0xffff),
		p2pdma_verdict_key(0x10000, 0),
	};
	unsigned int i, j, k;
	int dist;

	for (k = 0; k < ARRAY_SIZE(keys); k++) {
		for (i = 0; i < ARRAY_SIZE(maps); i++) {
			for (j = 0; j < ARRAY_SIZE(dists); j++) {
				unsigned long w = p2pdma_last_pack(keys[k], maps[i],
								   dists[j]);

				dist = -1;
				KUNIT_EXPECT_NE(test, w, 0UL);
				KUNIT_EXPECT_EQ(test,
						p2pdma_last_unpack(w, keys[k], &dist),
						maps[i]);
				KUNIT_EXPECT_EQ(test, dist, dists[j]);
				/* Another client's key finds nothing. */
				KUNIT_EXPECT_EQ(test,
						p2pdma_last_unpack(w, keys[k] ^ 1, &dist),
						PCI_P2PDMA_MAP_UNKNOWN);
			}
		}
	}

	/* Distances that do not fit are not packed; 0 holds no verdict. */
	KUNIT_EXPECT_EQ(test, p2pdma_last_pack(keys[0], PCI_P2PDMA_MAP_BUS_ADDR,
					       BIT(14)), 0UL);
	KUNIT_EXPECT_EQ(test, p2pdma_last_pack(keys[0], PCI_P2PDMA_MAP_BUS_ADDR,
					       -1), 0UL);
	dist = 7;
	KUNIT_EXPECT_EQ(test, p2pdma_last_unpack(0, 0, &dist),
			PCI_P2PDMA_MAP_UNKNOWN);
	KUNIT_EXPECT_EQ(test, dist, 7);
}

/*
 * Invalidation: a client's verdict goes, with the one-word copy if it was
 * the last; the others stay; forgetting all empties the cache; a verdict
 * worked out before an invalidation began is not stored.
 */
static void p2pdma_test_verdict_forget(struct kunit *test)
{
	unsigned long a = p2pdma_verdict_key(0, 0x0400);
	unsigned long b = p2pdma_verdict_key(0, 0x0500);
	struct p2pdma_verdicts vc;
	unsigned long epoch;
	int dist = -1;

	p2pdma_verdicts_init(&vc);
	epoch = p2pdma_verdicts_epoch();
	p2pdma_verdicts_store_key(&vc, a, PCI_P2PDMA_MAP_BUS_ADDR, 4, epoch);
	p2pdma_verdicts_store_key(&vc, b, PCI_P2PDMA_MAP_NOT_SUPPORTED, 6,
				  epoch);
	KUNIT_EXPECT_EQ(test, p2pdma_verdicts_lookup_key(&vc, a, &dist),
			PCI_P2PDMA_MAP_BUS_ADDR);
	KUNIT_EXPECT_EQ(test, dist, 4);

	/* b was stored last: forgetting it clears the one-word copy too. */
	p2pdma_verdicts_forget_key(&vc, b, false);
	KUNIT_EXPECT_EQ(test, vc.last, 0UL);
	KUNIT_EXPECT_EQ(test, p2pdma_verdicts_lookup_key(&vc, b, &dist),
			PCI_P2PDMA_MAP_UNKNOWN);
	KUNIT_EXPECT_EQ(test, p2pdma_verdicts_lookup_key(&vc, a, &dist),
			PCI_P2PDMA_MAP_BUS_ADDR);

	/* Forgetting a keeps the copy of another key. */
	p2pdma_verdicts_store_key(&vc, b, PCI_P2PDMA_MAP_NOT_SUPPORTED, 6,
				  epoch);
	p2pdma_verdicts_forget_key(&vc, a, false);
	KUNIT_EXPECT_NE(test, vc.last, 0UL);
	KUNIT_EXPECT_EQ(test, p2pdma_verdicts_lookup_key(&vc, a, &dist),
			PCI_P2PDMA_MAP_UNKNOWN);
	KUNIT_EXPECT_EQ(test, p2pdma_verdicts_lookup_key(&vc, b, &dist),
			PCI_P2PDMA_MAP_NOT_SUPPORTED);

	/* All of them. */
	p2pdma_verdicts_store_key(&vc, a, PCI_P2PDMA_MAP_BUS_ADDR, 4, epoch);
	p2pdma_verdicts_forget_key(&vc, 0, true);
	KUNIT_EXPECT_EQ(test, vc.last, 0UL);
	KUNIT_EXPECT_TRUE(test, xa_empty(&vc.xa));

	/* Worked out before an invalidation began: dropped. */
	p2pdma_verdicts_bump();
	p2pdma_verdicts_store_key(&vc, a, PCI_P2PDMA_MAP_BUS_ADDR, 4, epoch);
	KUNIT_EXPECT_EQ(test, p2pdma_verdicts_lookup_key(&vc, a, &dist),
			PCI_P2PDMA_MAP_UNKNOWN);
	KUNIT_EXPECT_TRUE(test, xa_empty(&vc.xa));
	p2pdma_verdicts_store_key(&vc, a, PCI_P2PDMA_MAP_BUS_ADDR, 4,
				  p2pdma_verdicts_epoch());
	KUNIT_EXPECT_EQ(test, p2pdma_verdicts_lookup_key(&vc, a, &dist),
			PCI_P2PDMA_MAP_BUS_ADDR);
	p2pdma_verdicts_destroy(&vc);
}

static struct kunit_case p2pdma_verdict_cases[] = {
	KUNIT_CASE(p2pdma_test_verdict_encoding),
	KUNIT_CASE(p2pdma_test_verdict_key),
	KUNIT_CASE(p2pdma_test_verdict_xarray),
	KUNIT_CASE(p2pdma_test_verdict_last),
	KUNIT_CASE(p2pdma_test_verdict_forget),
	{}
};

static struct kunit_suite p2pdma_verdict_suite = {
	.name = "pci_p2pdma_verdict",
	.test_cases = p2pdma_verdict_cases,
};

kunit_test_suite(p2pdma_verdict_suite);

#endif /* _DRIVERS_PCI_P2PDMA_VERDICT_KUNIT_H */
