/* SPDX-License-Identifier: GPL-2.0 */
/*
 * KUnit suites of the P2PDMA core, included at the end of p2pdma.c when
 * CONFIG_PCI_P2PDMA_KUNIT_TEST is set: the configfs helpers, the argument
 * checks of the exported functions, how a P2P page of a compound folio is
 * recognised, and the folio size of new ranges.
 */
#ifndef _DRIVERS_PCI_P2PDMA_KUNIT_H
#define _DRIVERS_PCI_P2PDMA_KUNIT_H

#include <kunit/test.h>
#include <linux/sizes.h>

/*
 * configfs helpers
 */

struct enable_case {
	const char *name;
	const char *input;
	int ret;
	bool use;
};

static const struct enable_case enable_cases[] = {
	{ "y", "y", 0, true },
	{ "n", "n", 0, false },
	{ "on", "on", 0, true },
	{ "off newline", "off\n", 0, false },
	{ "0", "0", 0, false },
	{ "1", "1", 0, true },
	{ "1 newline", "1\n", 0, true },
	{ "10", "10", -ENODEV, false },
	{ "garbage", "garbage", -ENODEV, false },
	{ "empty", "", -ENODEV, false },
	{ "no such device", "0000:ff:1f.7", -ENODEV, false },
	{ "no such device newline", "0000:ff:1f.7\n", -ENODEV, false },
};

KUNIT_ARRAY_PARAM_DESC(enable, enable_cases, name);

static void p2pdma_test_enable_store(struct kunit *test)
{
	const struct enable_case *tc = test->param_value;
	struct pci_dev *dev = NULL;
	bool use = !tc->use;

	KUNIT_EXPECT_EQ(test, pci_p2pdma_enable_store(tc->input, &dev, &use),
			tc->ret);
	KUNIT_EXPECT_NULL(test, dev);
	if (!tc->ret)
		KUNIT_EXPECT_EQ(test, use, tc->use);
}

static void p2pdma_test_enable_show(struct kunit *test)
{
	char *page = kunit_kzalloc(test, PAGE_SIZE, GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, page);
	KUNIT_EXPECT_EQ(test, pci_p2pdma_enable_show(page, NULL, false), 2);
	KUNIT_EXPECT_STREQ(test, page, "0\n");
	KUNIT_EXPECT_EQ(test, pci_p2pdma_enable_show(page, NULL, true), 2);
	KUNIT_EXPECT_STREQ(test, page, "1\n");
}

/*
 * With whatever PCI device the machine has that offers no P2P memory:
 * naming it is refused and no device is handed back.  Whether the lookup
 * reference is dropped is not checked: the device's reference count can
 * change under us (other users, probing at boot), so comparing it before
 * and after would be racy.
 */
static void p2pdma_test_enable_device(struct kunit *test)
{
	struct pci_dev *pdev = NULL, *dev = NULL;
	char *page, *name;
	bool use = false;

	for_each_pci_dev(pdev)
		if (!pci_has_p2pmem(pdev))
			break;
	if (!pdev)
		kunit_skip(test, "no PCI device without p2pmem");

	page = kunit_kzalloc(test, PAGE_SIZE, GFP_KERNEL);
	name = kunit_kzalloc(test, 32, GFP_KERNEL);
	if (!page || !name)
		goto out;
	scnprintf(name, 32, "%s\n", pci_name(pdev));

	KUNIT_EXPECT_EQ(test, pci_p2pdma_enable_store(name, &dev, &use),
			-ENODEV);
	KUNIT_EXPECT_NULL(test, dev);

	pci_p2pdma_enable_show(page, pdev, true);
	KUNIT_EXPECT_STREQ(test, page, name);
out:
	pci_dev_put(pdev);
}

/*
 * No clients, or a negative count, is a refusal without looking at the
 * provider.  Upstream returns -1 for 0 clients but 0 (a distance) for a
 * negative count; ours refuses both.
 */
static void p2pdma_test_distance_no_clients(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, pci_p2pdma_distance_many(NULL, NULL, 0, false), -1);
	KUNIT_EXPECT_EQ(test, pci_p2pdma_distance_many(NULL, NULL, -1, true), -1);
	KUNIT_EXPECT_EQ(test, pci_p2pdma_distance_many(NULL, NULL, INT_MIN, false),
			-1);
}

/*
 * A compound ZONE_DEVICE folio of @nr pages made up in memory, as
 * memmap_init_compound() leaves one: only the head page records @pgmap,
 * each tail's word holds the head's address plus one.
 */
static struct page *p2pdma_fake_folio(struct kunit *test,
				      struct dev_pagemap *pgmap,
				      unsigned int nr)
{
	struct page *pages;
	unsigned int i;

	pages = kunit_kcalloc(test, nr, sizeof(*pages), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, pages);
	for (i = 0; i < nr; i++) {
		set_page_zone(&pages[i], ZONE_DEVICE);
		if (i)
			set_compound_head(&pages[i], pages);
	}
	__set_bit(PG_head, &pages->flags);
	pages->pgmap = pgmap;
	return pages;
}

/*
 * Every page of a P2P folio is a P2P page with the folio's pgmap, tails
 * included (the DMA mapping and GUP see tails); every page of a folio of
 * another type is not.
 */
static void p2pdma_test_compound_pages(struct kunit *test)
{
	struct dev_pagemap *p2p, *other;
	struct page *a, *b;
	unsigned int i;

	p2p = kunit_kzalloc(test, sizeof(*p2p), GFP_KERNEL);
	other = kunit_kzalloc(test, sizeof(*other), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, p2p);
	KUNIT_ASSERT_NOT_NULL(test, other);
	p2p->type = MEMORY_DEVICE_PCI_P2PDMA;
	other->type = MEMORY_DEVICE_GENERIC;
	a = p2pdma_fake_folio(test, p2p, 4);
	b = p2pdma_fake_folio(test, other, 4);

	for (i = 0; i < 4; i++) {
		KUNIT_EXPECT_PTR_EQ(test, page_pgmap(&a[i]), p2p);
		KUNIT_EXPECT_TRUE(test, is_pci_p2pdma_page(&a[i]));
		KUNIT_EXPECT_PTR_EQ(test, page_pgmap(&b[i]), other);
		KUNIT_EXPECT_FALSE(test, is_pci_p2pdma_page(&b[i]));
	}
}

/*
 * Folio sizes of new ranges.  The expected sizes come from the alignment
 * rules of memremap_pages() and the pool (start, size and bus offset all
 * multiples of the folio), not from the function: the 64 MiB and 1 GiB
 * CMBs are those of the QEMU topologies, the 1 GiB one at 0x100000000.
 */
struct folio_order_case {
	const char *name;
	u64 start;
	u64 size;
	u64 bus_offset;
	unsigned long orders;	/* BIT(0): PMD size allowed, BIT(1): PUD */
	u64 folio;		/* expected folio size in bytes */
};

static const struct folio_order_case folio_order_cases[] = {
	{ "1G CMB at 4G", SZ_4G, SZ_1G, 0, 3, SZ_1G },
	{ "1G CMB, PMD only", SZ_4G, SZ_1G, 0, 1, SZ_2M },
	{ "1G CMB, no huge mappings", SZ_4G, SZ_1G, 0, 0, PAGE_SIZE },
	{ "3G at 1G", SZ_1G, 3ULL * SZ_1G, 0, 3, SZ_1G },
	{ "1G + 2M at 4G", SZ_4G, SZ_1G + SZ_2M, 0, 3, SZ_2M },
	{ "1G at 4G + 512M", SZ_4G + SZ_512M, SZ_1G, 0, 3, SZ_2M },
	{ "1G, bus offset 2M", SZ_4G, SZ_1G, SZ_2M, 3, SZ_2M },
	{ "1G, bus offset 64K", SZ_4G, SZ_1G, SZ_64K, 3, PAGE_SIZE },
	{ "1G, negative bus offset", SZ_4G, SZ_1G, -(u64)SZ_1G, 3, SZ_1G },
	{ "64M CMB", 0xfc000000ULL, SZ_64M, 0, 3, SZ_2M },
	{ "64M CMB at 1M", 0xfc100000ULL, SZ_64M, 0, 3, PAGE_SIZE },
	{ "1M", 0xfc000000ULL, SZ_1M, 0, 3, PAGE_SIZE },
};

KUNIT_ARRAY_PARAM_DESC(folio_order, folio_order_cases, name);

static void p2pdma_test_folio_order(struct kunit *test)
{
	const struct folio_order_case *tc = test->param_value;
	unsigned long orders = 0;
	unsigned int order;

	if (tc->orders & 1)
		orders |= BIT(ilog2(SZ_2M / PAGE_SIZE));
	if (tc->orders & 2)
		orders |= BIT(ilog2(SZ_1G / PAGE_SIZE));
	order = p2pdma_folio_order(tc->start, tc->size, tc->bus_offset, orders);
	KUNIT_EXPECT_EQ(test, (u64)PAGE_SIZE << order, tc->folio);
}

/* Orders that buy nothing (vmemmap not shared below order 8) are not used. */
static void p2pdma_test_folio_order_small(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, p2pdma_folio_order(SZ_4G, SZ_1G, 0, BIT(4)), 0U);
	KUNIT_EXPECT_EQ(test, p2pdma_folio_order(SZ_4G, SZ_1G, 0,
						 BIT(4) | BIT(8)), 8U);
}

static struct kunit_case p2pdma_enable_cases[] = {
	KUNIT_CASE_PARAM(p2pdma_test_enable_store, enable_gen_params),
	KUNIT_CASE(p2pdma_test_enable_show),
	KUNIT_CASE(p2pdma_test_enable_device),
	{}
};

static struct kunit_suite p2pdma_enable_suite = {
	.name = "pci_p2pdma_enable",
	.test_cases = p2pdma_enable_cases,
};

static struct kunit_case p2pdma_core_cases[] = {
	KUNIT_CASE(p2pdma_test_distance_no_clients),
	KUNIT_CASE(p2pdma_test_compound_pages),
	KUNIT_CASE_PARAM(p2pdma_test_folio_order, folio_order_gen_params),
	KUNIT_CASE(p2pdma_test_folio_order_small),
	{}
};

static struct kunit_suite p2pdma_core_suite = {
	.name = "pci_p2pdma_core",
	.test_cases = p2pdma_core_cases,
};

kunit_test_suites(&p2pdma_enable_suite, &p2pdma_core_suite);

#endif /* _DRIVERS_PCI_P2PDMA_KUNIT_H */
