// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests for the PCI P2PDMA core: the routing policy, the page
 * allocator, the verdict cache encoding and the configfs parser.
 *
 * None of them needs P2P hardware; the policy and the allocator are fed
 * synthetic descriptions.  They run built in at boot, before NVMe or any
 * other provider has probed.
 */

#include <kunit/test.h>
#include <linux/bitmap.h>
#include <linux/pci.h>
#include <linux/pci-p2pdma.h>
#include <linux/slab.h>
#include <linux/xarray.h>

#include "p2pdma.h"

MODULE_IMPORT_NS(EXPORTED_FOR_KUNIT_TESTING);

/*
 * Routing policy
 */

#define TEST_HOPS	8

/* Device identities used in the tables; only equality matters. */
enum {
	NONE, EP_A, EP_B, FN0, FN1, DP0, DP1, DP2, UP, UP2, RP, RP1, RP2,
};

/* Host bridges: identity plus the device the allow list knows it by. */
#define Q35(h)	.host = (h), .vendor = PCI_VENDOR_ID_INTEL, .device = 0x29c0
#define SKX(h)	.host = (h), .vendor = PCI_VENDOR_ID_INTEL, .device = 0x2030
#define SNB(h)	.host = (h), .vendor = PCI_VENDOR_ID_INTEL, .device = 0x3c00
#define ANON(h)	.host = (h)

struct test_path {
	unsigned long ids[TEST_HOPS];	/* from the device up; NONE ends */
	u16 acs[TEST_HOPS];		/* ACS Control; 0 also: no ACS */
	unsigned long host;
	u16 vendor;			/* 0: no identifying device */
	u16 device;
};

struct policy_case {
	const char *name;
	struct test_path p;
	struct test_path c;
	bool cpu;
	enum pci_p2pdma_map_type map;
	int distance;
	enum p2pdma_reason reason;
	u32 acs_p;
	u32 acs_c;
	u8 bad_host;
};

#define SWITCH_P	.ids = { EP_A, DP0, UP, RP }
#define SWITCH_C	.ids = { EP_B, DP1, UP, RP }

static const struct policy_case policy_cases[] = {
	{
		.name = "same function",
		.p = { .ids = { EP_A, RP }, Q35(1) },
		.c = { .ids = { EP_A, RP }, Q35(1) },
		.map = PCI_P2PDMA_MAP_BUS_ADDR, .distance = 0,
		.reason = P2PDMA_REASON_DIRECT,
	},
	{
		.name = "two functions of one device",
		.p = { .ids = { FN0, DP0, UP, RP }, Q35(1) },
		.c = { .ids = { FN1, DP0, UP, RP }, Q35(1) },
		.map = PCI_P2PDMA_MAP_BUS_ADDR, .distance = 2,
		.reason = P2PDMA_REASON_DIRECT,
	},
	{
		.name = "one switch",
		.p = { SWITCH_P, Q35(1) },
		.c = { SWITCH_C, Q35(1) },
		.map = PCI_P2PDMA_MAP_BUS_ADDR, .distance = 4,
		.reason = P2PDMA_REASON_DIRECT,
	},
	{
		.name = "two-level switches",
		.p = { .ids = { EP_A, DP2, UP2, DP0, UP, RP }, Q35(1) },
		.c = { SWITCH_C, Q35(1) },
		.map = PCI_P2PDMA_MAP_BUS_ADDR, .distance = 6,
		.reason = P2PDMA_REASON_DIRECT,
	},
	{
		.name = "switch, ACS without redirect bits",
		.p = { SWITCH_P, .acs = { 0, PCI_ACS_SV | PCI_ACS_UF }, Q35(1) },
		.c = { SWITCH_C, .acs = { 0, PCI_ACS_TB }, Q35(1) },
		.map = PCI_P2PDMA_MAP_BUS_ADDR, .distance = 4,
		.reason = P2PDMA_REASON_DIRECT,
	},
	{
		.name = "switch, ACS RR on client port, unlisted host",
		.p = { SWITCH_P, Q35(1) },
		.c = { SWITCH_C, .acs = { 0, PCI_ACS_RR }, Q35(1) },
		.map = PCI_P2PDMA_MAP_NOT_SUPPORTED, .distance = 4,
		.reason = P2PDMA_REASON_HOST_UNLISTED,
		.acs_c = BIT(1), .bad_host = P2PDMA_SIDE_PROVIDER,
	},
	{
		.name = "switch, ACS CR on provider port, listed host",
		.p = { SWITCH_P, .acs = { 0, PCI_ACS_CR }, SKX(1) },
		.c = { SWITCH_C, SKX(1) },
		.map = PCI_P2PDMA_MAP_THRU_HOST_BRIDGE, .distance = 4,
		.reason = P2PDMA_REASON_HOST_LISTED, .acs_p = BIT(1),
	},
	{
		.name = "switch, ACS EC on the common port counts",
		.p = { SWITCH_P, .acs = { 0, 0, PCI_ACS_EC }, Q35(1) },
		.c = { SWITCH_C, .acs = { 0, 0, PCI_ACS_EC }, Q35(1) },
		.map = PCI_P2PDMA_MAP_NOT_SUPPORTED, .distance = 4,
		.reason = P2PDMA_REASON_HOST_UNLISTED, .acs_p = BIT(2),
		.bad_host = P2PDMA_SIDE_PROVIDER,
	},
	{
		.name = "switch, ACS above the common port is ignored",
		.p = { SWITCH_P, .acs = { 0, 0, 0, PCI_ACS_RR }, Q35(1) },
		.c = { SWITCH_C, .acs = { 0, 0, 0, PCI_ACS_RR }, Q35(1) },
		.map = PCI_P2PDMA_MAP_BUS_ADDR, .distance = 4,
		.reason = P2PDMA_REASON_DIRECT,
	},
	{
		.name = "switch, ACS RR on the client endpoint",
		.p = { SWITCH_P, SKX(1) },
		.c = { SWITCH_C, .acs = { PCI_ACS_RR }, SKX(1) },
		.map = PCI_P2PDMA_MAP_THRU_HOST_BRIDGE, .distance = 4,
		.reason = P2PDMA_REASON_HOST_LISTED, .acs_c = BIT(0),
	},
	{
		.name = "same function with ACS RR on itself",
		.p = { .ids = { EP_A, RP }, .acs = { PCI_ACS_RR }, Q35(1) },
		.c = { .ids = { EP_A, RP }, .acs = { PCI_ACS_RR }, Q35(1) },
		.map = PCI_P2PDMA_MAP_NOT_SUPPORTED, .distance = 0,
		.reason = P2PDMA_REASON_HOST_UNLISTED, .acs_p = BIT(0),
		.bad_host = P2PDMA_SIDE_PROVIDER,
	},
	{
		.name = "switch, ACS everywhere, AMD Zen",
		.p = { SWITCH_P, .acs = { 0, PCI_ACS_RR, PCI_ACS_CR }, Q35(1) },
		.c = { SWITCH_C, .acs = { 0, PCI_ACS_EC }, Q35(1) },
		.cpu = true,
		.map = PCI_P2PDMA_MAP_THRU_HOST_BRIDGE, .distance = 4,
		.reason = P2PDMA_REASON_CPU,
		.acs_p = BIT(1) | BIT(2), .acs_c = BIT(1),
	},
	{
		.name = "root ports, unlisted host bridge",
		.p = { .ids = { EP_A, RP1 }, Q35(1) },
		.c = { .ids = { EP_B, RP2 }, Q35(1) },
		.map = PCI_P2PDMA_MAP_NOT_SUPPORTED, .distance = 4,
		.reason = P2PDMA_REASON_HOST_UNLISTED,
		.bad_host = P2PDMA_SIDE_PROVIDER,
	},
	{
		.name = "root ports, ACS ignored without common bridge",
		.p = { .ids = { EP_A, RP1 }, .acs = { 0, PCI_ACS_RR }, SKX(1) },
		.c = { .ids = { EP_B, RP2 }, .acs = { 0, PCI_ACS_RR }, SKX(1) },
		.map = PCI_P2PDMA_MAP_THRU_HOST_BRIDGE, .distance = 4,
		.reason = P2PDMA_REASON_HOST_LISTED,
	},
	{
		.name = "root ports, AMD Zen",
		.p = { .ids = { EP_A, RP1 }, Q35(1) },
		.c = { .ids = { EP_B, RP2 }, Q35(1) },
		.cpu = true,
		.map = PCI_P2PDMA_MAP_THRU_HOST_BRIDGE, .distance = 4,
		.reason = P2PDMA_REASON_CPU,
	},
	{
		.name = "root ports, same-bridge-only entry, one host bridge",
		.p = { .ids = { EP_A, RP1 }, SNB(1) },
		.c = { .ids = { EP_B, DP0, UP, RP2 }, SNB(1) },
		.map = PCI_P2PDMA_MAP_THRU_HOST_BRIDGE, .distance = 6,
		.reason = P2PDMA_REASON_HOST_LISTED,
	},
	{
		.name = "host bridge without identifying device",
		.p = { .ids = { EP_A, RP1 }, ANON(1) },
		.c = { .ids = { EP_B, RP2 }, ANON(1) },
		.map = PCI_P2PDMA_MAP_NOT_SUPPORTED, .distance = 4,
		.reason = P2PDMA_REASON_HOST_UNKNOWN,
		.bad_host = P2PDMA_SIDE_PROVIDER,
	},
	{
		.name = "two host bridges, both listed",
		.p = { .ids = { EP_A, RP1 }, SKX(1) },
		.c = { .ids = { EP_B, RP2 }, SKX(2) },
		.map = PCI_P2PDMA_MAP_THRU_HOST_BRIDGE, .distance = 4,
		.reason = P2PDMA_REASON_HOST_LISTED,
	},
	{
		.name = "two host bridges, both same-bridge-only",
		.p = { .ids = { EP_A, RP1 }, SNB(1) },
		.c = { .ids = { EP_B, RP2 }, SNB(2) },
		.map = PCI_P2PDMA_MAP_NOT_SUPPORTED, .distance = 4,
		.reason = P2PDMA_REASON_HOST_SPLIT,
		.bad_host = P2PDMA_SIDE_PROVIDER | P2PDMA_SIDE_CLIENT,
	},
	{
		.name = "two host bridges, client's same-bridge-only",
		.p = { .ids = { EP_A, RP1 }, SKX(1) },
		.c = { .ids = { EP_B, RP2 }, SNB(2) },
		.map = PCI_P2PDMA_MAP_NOT_SUPPORTED, .distance = 4,
		.reason = P2PDMA_REASON_HOST_SPLIT,
		.bad_host = P2PDMA_SIDE_CLIENT,
	},
	{
		.name = "two host bridges, client's unlisted",
		.p = { .ids = { EP_A, RP1 }, SKX(1) },
		.c = { .ids = { EP_B, RP2 }, Q35(2) },
		.map = PCI_P2PDMA_MAP_NOT_SUPPORTED, .distance = 4,
		.reason = P2PDMA_REASON_HOST_UNLISTED,
		.bad_host = P2PDMA_SIDE_CLIENT,
	},
	{
		/* Devices of different domains have different host bridges. */
		.name = "two PCI domains, unlisted",
		.p = { .ids = { EP_A, DP0, UP, RP }, Q35(1) },
		.c = { .ids = { EP_B }, Q35(2) },
		.map = PCI_P2PDMA_MAP_NOT_SUPPORTED, .distance = 5,
		.reason = P2PDMA_REASON_HOST_UNLISTED,
		.bad_host = P2PDMA_SIDE_PROVIDER | P2PDMA_SIDE_CLIENT,
	},
	{
		.name = "two PCI domains, AMD Zen",
		.p = { .ids = { EP_A, DP0, UP, RP }, Q35(1) },
		.c = { .ids = { EP_B }, Q35(2) },
		.cpu = true,
		.map = PCI_P2PDMA_MAP_THRU_HOST_BRIDGE, .distance = 5,
		.reason = P2PDMA_REASON_CPU,
	},
};

KUNIT_ARRAY_PARAM_DESC(policy, policy_cases, name);

static void build_path(const struct test_path *t, struct p2pdma_path *path)
{
	unsigned int i;

	memset(path, 0, sizeof(*path));
	for (i = 0; i < TEST_HOPS && t->ids[i] != NONE; i++) {
		path->id[i] = (const void *)t->ids[i];
		path->acs_ctrl[i] = t->acs[i];
	}
	path->len = i;
	path->host.id = (const void *)t->host;
	path->host.vendor = t->vendor;
	path->host.device = t->device;
	path->host.known = t->vendor != 0;
}

static void p2pdma_test_policy(struct kunit *test)
{
	const struct policy_case *tc = test->param_value;
	struct p2pdma_path *p, *c;
	struct p2pdma_verdict v;

	p = kunit_kzalloc(test, sizeof(*p), GFP_KERNEL);
	c = kunit_kzalloc(test, sizeof(*c), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, p);
	KUNIT_ASSERT_NOT_NULL(test, c);
	build_path(&tc->p, p);
	build_path(&tc->c, c);

	p2pdma_decide(p, c, tc->cpu, &v);
	KUNIT_EXPECT_EQ(test, v.map, tc->map);
	KUNIT_EXPECT_EQ(test, v.distance, tc->distance);
	KUNIT_EXPECT_EQ(test, v.reason, tc->reason);
	KUNIT_EXPECT_EQ(test, v.acs_hops[0], tc->acs_p);
	KUNIT_EXPECT_EQ(test, v.acs_hops[1], tc->acs_c);
	KUNIT_EXPECT_EQ(test, v.bad_host, tc->bad_host);
}

/* Build a chain of @len hops whose top @shared hops are common. */
static void build_chain(struct p2pdma_path *path, unsigned long base,
			unsigned int len, unsigned int shared)
{
	unsigned int i;

	memset(path, 0, sizeof(*path));
	for (i = 0; i < len; i++) {
		unsigned long id = i >= len - shared ? 1000 + len - i : base + i;

		path->id[i] = (const void *)id;
	}
	path->len = len;
	path->host.id = (const void *)1;
	path->host.vendor = PCI_VENDOR_ID_INTEL;
	path->host.device = 0x29c0;
	path->host.known = true;
}

static void p2pdma_test_policy_depth(struct kunit *test)
{
	struct p2pdma_path *p, *c;
	struct p2pdma_verdict v;

	p = kunit_kzalloc(test, sizeof(*p), GFP_KERNEL);
	c = kunit_kzalloc(test, sizeof(*c), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, p);
	KUNIT_ASSERT_NOT_NULL(test, c);

	/* As deep as the cap allows: still decided normally. */
	build_chain(p, 100, P2PDMA_MAX_HOPS, 2);
	build_chain(c, 200, P2PDMA_MAX_HOPS, 2);
	p2pdma_decide(p, c, false, &v);
	KUNIT_EXPECT_EQ(test, v.map, PCI_P2PDMA_MAP_BUS_ADDR);
	KUNIT_EXPECT_EQ(test, v.distance, 2 * (P2PDMA_MAX_HOPS - 2));

	/* Deeper than the cap: refused, whatever the CPU can do. */
	c->truncated = true;
	p2pdma_decide(p, c, true, &v);
	KUNIT_EXPECT_EQ(test, v.map, PCI_P2PDMA_MAP_NOT_SUPPORTED);
	KUNIT_EXPECT_EQ(test, v.reason, P2PDMA_REASON_TOO_DEEP);
}

static void p2pdma_test_allow_list(struct kunit *test)
{
	bool same_only = false;

	KUNIT_EXPECT_TRUE(test, p2pdma_host_listed(PCI_VENDOR_ID_INTEL, 0x2030,
						   &same_only));
	KUNIT_EXPECT_FALSE(test, same_only);
	KUNIT_EXPECT_TRUE(test, p2pdma_host_listed(PCI_VENDOR_ID_INTEL, 0x09a2,
						   &same_only));
	KUNIT_EXPECT_FALSE(test, same_only);
	KUNIT_EXPECT_TRUE(test, p2pdma_host_listed(PCI_VENDOR_ID_INTEL, 0x2f01,
						   &same_only));
	KUNIT_EXPECT_TRUE(test, same_only);
	KUNIT_EXPECT_FALSE(test, p2pdma_host_listed(PCI_VENDOR_ID_INTEL,
						    0x29c0, &same_only));
	KUNIT_EXPECT_FALSE(test, p2pdma_host_listed(PCI_VENDOR_ID_AMD, 0x2030,
						    &same_only));
}

static struct kunit_case p2pdma_policy_cases[] = {
	KUNIT_CASE_PARAM(p2pdma_test_policy, policy_gen_params),
	KUNIT_CASE(p2pdma_test_policy_depth),
	KUNIT_CASE(p2pdma_test_allow_list),
	{}
};

static struct kunit_suite p2pdma_policy_suite = {
	.name = "pci_p2pdma_policy",
	.test_cases = p2pdma_policy_cases,
};

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

/* No clients is a refusal without looking at the provider (upstream: -1). */
static void p2pdma_test_distance_no_clients(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, pci_p2pdma_distance_many(NULL, NULL, 0, false), -1);
	KUNIT_EXPECT_EQ(test, pci_p2pdma_distance_many(NULL, NULL, -1, true), -1);
	KUNIT_EXPECT_EQ(test, pci_p2pdma_distance_many(NULL, NULL, INT_MIN, false),
			-1);
}

static struct kunit_case p2pdma_verdict_cases[] = {
	KUNIT_CASE(p2pdma_test_verdict_encoding),
	KUNIT_CASE(p2pdma_test_verdict_key),
	KUNIT_CASE(p2pdma_test_verdict_xarray),
	KUNIT_CASE(p2pdma_test_verdict_last),
	KUNIT_CASE(p2pdma_test_distance_no_clients),
	{}
};

static struct kunit_suite p2pdma_verdict_suite = {
	.name = "pci_p2pdma_verdict",
	.test_cases = p2pdma_verdict_cases,
};

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
		KUNIT_ASSERT_EQ(test, p2pdma_buddy_free(b, pg, 1), 0);
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
		KUNIT_ASSERT_EQ(test, p2pdma_buddy_free(b, 64 + i, 1), 0);
	KUNIT_EXPECT_EQ(test, b->nfree, 32UL);
	KUNIT_EXPECT_FALSE(test, p2pdma_buddy_alloc(b, 2, &pg));
	for (i = 0; i < 32; i++)
		KUNIT_ASSERT_EQ(test, p2pdma_buddy_free(b, 127 - 2 * i, 1), 0);

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
	KUNIT_EXPECT_EQ(test, p2pdma_buddy_free(b, 9, 4), 0);
	KUNIT_EXPECT_EQ(test, p2pdma_buddy_free(b, 8, 1), 0);
	KUNIT_EXPECT_EQ(test, p2pdma_buddy_free(b, 0, 4), 0);
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
	KUNIT_EXPECT_EQ(test, p2pdma_buddy_free(b, 24, 1000), 0);
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
	KUNIT_EXPECT_EQ(test, p2pdma_buddy_free(b, 255, 1), -ERANGE);
	KUNIT_EXPECT_EQ(test, p2pdma_buddy_free(b, 510, 4), -ERANGE);
	KUNIT_EXPECT_EQ(test, p2pdma_buddy_free(b, 512, 1), -ERANGE);
	KUNIT_EXPECT_EQ(test, p2pdma_buddy_free(b, 256, 0), -ERANGE);
	KUNIT_EXPECT_EQ(test, p2pdma_buddy_free(b, 256, ULONG_MAX), -ERANGE);

	/* Never allocated, partly allocated. */
	KUNIT_EXPECT_EQ(test, p2pdma_buddy_free(b, 300, 1), -ENOENT);
	KUNIT_EXPECT_EQ(test, p2pdma_buddy_free(b, 256, 9), -ENOENT);
	KUNIT_EXPECT_EQ(test, b->nfree, 248UL);
	KUNIT_EXPECT_EQ(test, b->nonempty, nonempty);

	/* Double free, whole and partial; nothing changes. */
	KUNIT_EXPECT_EQ(test, p2pdma_buddy_free(b, 258, 2), 0);
	KUNIT_EXPECT_EQ(test, p2pdma_buddy_free(b, 258, 1), -ENOENT);
	KUNIT_EXPECT_EQ(test, p2pdma_buddy_free(b, 256, 8), -ENOENT);
	KUNIT_EXPECT_EQ(test, b->nfree, 250UL);
	KUNIT_EXPECT_EQ(test, p2pdma_buddy_free(b, 256, 2), 0);
	KUNIT_EXPECT_EQ(test, p2pdma_buddy_free(b, 260, 4), 0);
	KUNIT_EXPECT_EQ(test, p2pdma_buddy_free(b, 260, 4), -ENOENT);
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
	KUNIT_EXPECT_EQ(test, p2pdma_buddy_free(b, pg, 1), 0);
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
			KUNIT_ASSERT_EQ(test, p2pdma_buddy_free(b, pg, n), 0);
			bitmap_clear(used, pg - origin, n);
			nused -= n;
			live[j].pg += n;
			live[j].n -= n;
			if (!live[j].n)
				live[j] = live[--nlive];
			/* Freeing it again is refused and changes nothing. */
			KUNIT_ASSERT_EQ(test, p2pdma_buddy_free(b, pg, 1),
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
	KUNIT_ASSERT_EQ(test, p2pdma_buddy_free(b, 3, 10), 0);

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
	KUNIT_ASSERT_EQ(test, p2pdma_buddy_free(b, 5, 4), 0);
	KUNIT_ASSERT_EQ(test, p2pdma_buddy_free(b, 40, 4), 0);
	KUNIT_ASSERT_TRUE(test, p2pdma_buddy_alloc_fit(b, 4, &pg));
	KUNIT_EXPECT_EQ(test, pg, 40UL);
	KUNIT_ASSERT_TRUE(test, p2pdma_buddy_alloc_fit(b, 4, &pg));
	KUNIT_EXPECT_EQ(test, pg, 5UL);

	/* Everything back, page by page: one block again. */
	for (i = 0; i < 64; i++)
		KUNIT_ASSERT_EQ(test, p2pdma_buddy_free(b, i, 1), 0);
	KUNIT_EXPECT_EQ(test, b->nfree, 64UL);
	KUNIT_EXPECT_EQ(test, b->nonempty, BIT(6));
}

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
 * Per-CPU caches, through a range with no pages behind it.
 */

#define CACHE_FIRST	0x40000UL	/* aligned to CACHE_PAGES */
#define CACHE_PAGES	4096UL

KUNIT_DEFINE_ACTION_WRAPPER(range_destroy_action, p2pdma_test_range_destroy,
			    struct p2pdma_range *);

static struct p2pdma_range *new_empty_range(struct kunit *test)
{
	struct p2pdma_range *range;

	range = p2pdma_test_range_create(CACHE_FIRST, CACHE_PAGES);
	KUNIT_ASSERT_NOT_NULL(test, range);
	KUNIT_ASSERT_EQ(test,
			kunit_add_action_or_reset(test, range_destroy_action,
						  range),
			0);
	return range;
}

static struct p2pdma_range *new_range(struct kunit *test)
{
	struct p2pdma_range *range = new_empty_range(test);
	unsigned long pg;

	/* One mapping of the whole range, as p2pmem_fill_vma() takes it. */
	KUNIT_ASSERT_EQ(test, p2pdma_test_range_take(range, CACHE_PAGES, false,
						     &pg),
			(long)CACHE_PAGES);
	KUNIT_ASSERT_EQ(test, pg, CACHE_FIRST);
	return range;
}

/*
 * Unmapping in address order: every run_max pages go to the buddy in one
 * piece, nothing is left cached, and the range ends as one free block.
 */
static void p2pdma_test_cache_unmap_in_order(struct kunit *test)
{
	struct p2pdma_range *range = new_range(test);
	struct p2pdma_test_range_info info;
	unsigned long i;

	p2pdma_test_range_info(range, &info);
	KUNIT_ASSERT_EQ(test, info.nfree, 0UL);
	KUNIT_ASSERT_GE(test, info.run_max, 16UL);

	/* One CPU's run: stay on this CPU while freeing. */
	migrate_disable();
	for (i = 0; i < CACHE_PAGES; i++) {
		p2pdma_test_range_page_free(range, CACHE_FIRST + i);
		if ((i + 1) % info.run_max)
			continue;
		p2pdma_test_range_info(range, &info);
		if (info.nfree != i + 1 || info.cached)
			break;
	}
	migrate_enable();
	KUNIT_EXPECT_EQ(test, info.nfree, CACHE_PAGES);
	KUNIT_EXPECT_EQ(test, info.cached, 0UL);
	KUNIT_EXPECT_EQ(test, info.nonempty, BIT(info.max_order));
}

/*
 * Unmapping in reverse: no page extends the run, so each becomes a lone
 * page on the one-page stack when the next comes back, and the stack gives
 * them to the buddy eight at a time; some stay cached, yet a contiguous
 * request for the whole range succeeds, after a drain.
 */
static void p2pdma_test_cache_unmap_reversed(struct kunit *test)
{
	struct p2pdma_range *range = new_range(test);
	struct p2pdma_test_range_info info;
	unsigned long i, pg;

	for (i = CACHE_PAGES; i-- > 0;)
		p2pdma_test_range_page_free(range, CACHE_FIRST + i);
	p2pdma_test_range_info(range, &info);
	KUNIT_EXPECT_EQ(test, info.nfree + info.cached, CACHE_PAGES);
	KUNIT_EXPECT_GE(test, info.cached, 1UL);

	KUNIT_EXPECT_EQ(test, p2pdma_test_range_take(range, CACHE_PAGES, true,
						     &pg),
			(long)CACHE_PAGES);
	KUNIT_EXPECT_EQ(test, pg, CACHE_FIRST);
	p2pdma_test_range_info(range, &info);
	KUNIT_EXPECT_EQ(test, info.nfree, 0UL);
	KUNIT_EXPECT_EQ(test, info.cached, 0UL);
}

/*
 * Pages freed in two interleaved streams (two mappings torn down at once)
 * break each other's runs; every page still comes back exactly once.
 */
static void p2pdma_test_cache_unmap_interleaved(struct kunit *test)
{
	struct p2pdma_range *range = new_range(test);
	struct p2pdma_test_range_info info;
	unsigned long i, pg, half = CACHE_PAGES / 2;

	for (i = 0; i < half; i++) {
		p2pdma_test_range_page_free(range, CACHE_FIRST + i);
		p2pdma_test_range_page_free(range, CACHE_FIRST + half + i);
	}
	p2pdma_test_range_info(range, &info);
	KUNIT_EXPECT_EQ(test, info.nfree + info.cached, CACHE_PAGES);

	/* Everything is free again, in one block once drained. */
	KUNIT_EXPECT_EQ(test, p2pdma_test_range_take(range, CACHE_PAGES, true,
						     &pg),
			(long)CACHE_PAGES);
	p2pdma_test_range_info(range, &info);
	KUNIT_EXPECT_EQ(test, info.nfree + info.cached, 0UL);
}

/* A page freed twice, or never allocated, is refused and changes nothing. */
static void p2pdma_test_cache_double_free(struct kunit *test)
{
	struct p2pdma_range *range = new_range(test);
	struct p2pdma_test_range_info before, after;
	unsigned long pg;

	KUNIT_EXPECT_EQ(test, p2pdma_test_range_page_free(range, CACHE_FIRST + 5),
			0);
	p2pdma_test_range_info(range, &before);
	KUNIT_EXPECT_EQ(test, p2pdma_test_range_page_free(range, CACHE_FIRST + 5),
			-ENOENT);
	p2pdma_test_range_info(range, &after);
	KUNIT_EXPECT_EQ(test, after.nfree, before.nfree);
	KUNIT_EXPECT_EQ(test, after.cached, before.cached);
	KUNIT_EXPECT_EQ(test, after.taken, before.taken);
	KUNIT_EXPECT_EQ(test, after.nfree + after.cached, 1UL);
	KUNIT_EXPECT_EQ(test, after.taken, CACHE_PAGES - 1);

	/* Outside the range: refused too. */
	KUNIT_EXPECT_EQ(test, p2pdma_test_range_page_free(range,
							  CACHE_FIRST + CACHE_PAGES),
			-ERANGE);
	p2pdma_test_range_info(range, &after);
	KUNIT_EXPECT_EQ(test, after.nfree + after.cached, 1UL);

	/* The one page is free once: a one-page request gets exactly it. */
	KUNIT_EXPECT_EQ(test, p2pdma_test_range_take(range, 1, false, &pg), 1L);
	KUNIT_EXPECT_EQ(test, pg, CACHE_FIRST + 5);
	KUNIT_EXPECT_EQ(test, p2pdma_test_range_take(range, 1, false, &pg),
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
	struct p2pdma_range *range = new_empty_range(test);
	struct p2pdma_test_range_info before, after;
	unsigned long x, y, z;

	KUNIT_ASSERT_EQ(test, p2pdma_test_range_kalloc(range, 32, &x), 32L);
	KUNIT_ASSERT_EQ(test, p2pdma_test_range_kalloc(range, 32, &y), 32L);
	KUNIT_ASSERT_EQ(test, y, x + 32);
	KUNIT_ASSERT_EQ(test, p2pdma_test_range_kalloc(range, 4, &z), 4L);
	p2pdma_test_range_info(range, &before);
	KUNIT_ASSERT_EQ(test, before.taken, 68UL);

	KUNIT_EXPECT_EQ(test, p2pdma_test_range_kfree(range, x, 16), -ENXIO);
	KUNIT_EXPECT_EQ(test, p2pdma_test_range_kfree(range, x, 31), -ENXIO);
	KUNIT_EXPECT_EQ(test, p2pdma_test_range_kfree(range, x, 33), -ENXIO);
	KUNIT_EXPECT_EQ(test, p2pdma_test_range_kfree(range, x, 64), -ENXIO);
	KUNIT_EXPECT_EQ(test, p2pdma_test_range_kfree(range, x + 16, 16),
			-ENXIO);
	KUNIT_EXPECT_EQ(test, p2pdma_test_range_kfree(range, x + 1, 31), -ENXIO);
	KUNIT_EXPECT_EQ(test, p2pdma_test_range_kfree(range, z, 2), -ENXIO);
	KUNIT_EXPECT_EQ(test, p2pdma_test_range_kfree(range, z, 8), -ENXIO);
	KUNIT_EXPECT_EQ(test, p2pdma_test_range_kfree(range,
						      CACHE_FIRST + CACHE_PAGES - 1,
						      2), -ERANGE);
	p2pdma_test_range_info(range, &after);
	KUNIT_EXPECT_EQ(test, after.taken, before.taken);
	KUNIT_EXPECT_EQ(test, after.nfree, before.nfree);
	KUNIT_EXPECT_EQ(test, after.cached, before.cached);

	/* Whole allocations go; the same free again is refused. */
	KUNIT_EXPECT_EQ(test, p2pdma_test_range_kfree(range, y, 32), 0);
	KUNIT_EXPECT_EQ(test, p2pdma_test_range_kfree(range, y, 32), -ENXIO);
	KUNIT_EXPECT_EQ(test, p2pdma_test_range_kfree(range, x, 32), 0);
	KUNIT_EXPECT_EQ(test, p2pdma_test_range_kfree(range, z, 4), 0);
	p2pdma_test_range_info(range, &after);
	KUNIT_EXPECT_EQ(test, after.taken, 0UL);
	KUNIT_EXPECT_EQ(test, after.nfree + after.cached, CACHE_PAGES);
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
	KUNIT_CASE(p2pdma_test_inuse_clear),
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
	KUNIT_CASE(p2pdma_test_cache_unmap_in_order),
	KUNIT_CASE(p2pdma_test_cache_unmap_reversed),
	KUNIT_CASE(p2pdma_test_cache_unmap_interleaved),
	KUNIT_CASE(p2pdma_test_cache_double_free),
	KUNIT_CASE(p2pdma_test_kfree_bounds),
	KUNIT_CASE(p2pdma_test_find_run),
	KUNIT_CASE(p2pdma_test_find_run_checkerboard),
	{}
};

static struct kunit_suite p2pdma_buddy_suite = {
	.name = "pci_p2pdma_alloc",
	.test_cases = p2pdma_buddy_cases,
};

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

kunit_test_suites(&p2pdma_policy_suite, &p2pdma_verdict_suite,
		  &p2pdma_buddy_suite, &p2pdma_enable_suite);

MODULE_DESCRIPTION("KUnit tests for PCI peer-to-peer DMA");
MODULE_LICENSE("GPL");
