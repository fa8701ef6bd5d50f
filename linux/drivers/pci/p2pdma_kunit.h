/* SPDX-License-Identifier: GPL-2.0 */
/*
 * KUnit suites of the P2PDMA core, included at the end of p2pdma.c when
 * CONFIG_PCI_P2PDMA_KUNIT_TEST is set: the configfs helpers, and the
 * argument checks of the exported functions.
 */
#ifndef _DRIVERS_PCI_P2PDMA_KUNIT_H
#define _DRIVERS_PCI_P2PDMA_KUNIT_H

#include <kunit/test.h>

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
	{}
};

static struct kunit_suite p2pdma_core_suite = {
	.name = "pci_p2pdma_core",
	.test_cases = p2pdma_core_cases,
};

kunit_test_suites(&p2pdma_enable_suite, &p2pdma_core_suite);

#endif /* _DRIVERS_PCI_P2PDMA_KUNIT_H */
