/* SPDX-License-Identifier: GPL-2.0 */
/*
 * KUnit suite of the P2PDMA routing policy, included at the end of
 * p2pdma_route.c when CONFIG_PCI_P2PDMA_KUNIT_TEST is set, so that it can
 * reach the policy's static functions.
 */
#ifndef _DRIVERS_PCI_P2PDMA_ROUTE_KUNIT_H
#define _DRIVERS_PCI_P2PDMA_ROUTE_KUNIT_H

#include <kunit/test.h>
#include <linux/pci.h>

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

/*
 * Stand-ins for the devices and host bridges of the tables: p2pdma_decide()
 * only compares their addresses.  Index 0 (NONE) is never used.
 */
struct test_topo {
	struct pci_dev *dev;
	struct pci_host_bridge *bridge;
};

#define TEST_DEVS	64
#define TEST_BRIDGES	4

static struct test_topo *new_topo(struct kunit *test)
{
	struct test_topo *t = kunit_kzalloc(test, sizeof(*t), GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, t);
	t->dev = kunit_kcalloc(test, TEST_DEVS, sizeof(*t->dev), GFP_KERNEL);
	t->bridge = kunit_kcalloc(test, TEST_BRIDGES, sizeof(*t->bridge),
				  GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, t->dev);
	KUNIT_ASSERT_NOT_NULL(test, t->bridge);
	return t;
}

/* The host bridge @h, identified by a device of @vendor:@device if any. */
static void set_host(struct p2pdma_host *host, const struct test_topo *t,
		     unsigned long h, u16 vendor, u16 device)
{
	host->bridge = &t->bridge[h];
	if (vendor)
		snprintf(host->name, sizeof(host->name), "%04lx:00:00.0", h);
	else
		host->name[0] = '\0';
	host->vendor = vendor;
	host->device = device;
}

static void build_path(const struct test_path *tp, const struct test_topo *t,
		       struct p2pdma_path *path)
{
	unsigned int i;

	memset(path, 0, sizeof(*path));
	for (i = 0; i < TEST_HOPS && tp->ids[i] != NONE; i++) {
		path->dev[i] = &t->dev[tp->ids[i]];
		path->acs_ctrl[i] = tp->acs[i];
	}
	path->len = i;
	set_host(&path->host, t, tp->host, tp->vendor, tp->device);
}

static void p2pdma_test_policy(struct kunit *test)
{
	const struct policy_case *tc = test->param_value;
	struct test_topo *t = new_topo(test);
	struct p2pdma_path *p, *c;
	struct p2pdma_verdict v;

	p = kunit_kzalloc(test, sizeof(*p), GFP_KERNEL);
	c = kunit_kzalloc(test, sizeof(*c), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, p);
	KUNIT_ASSERT_NOT_NULL(test, c);
	build_path(&tc->p, t, p);
	build_path(&tc->c, t, c);

	p2pdma_decide(p, c, tc->cpu, &v);
	KUNIT_EXPECT_EQ(test, v.map, tc->map);
	KUNIT_EXPECT_EQ(test, v.distance, tc->distance);
	KUNIT_EXPECT_EQ(test, v.reason, tc->reason);
	KUNIT_EXPECT_EQ(test, v.acs_hops[0], tc->acs_p);
	KUNIT_EXPECT_EQ(test, v.acs_hops[1], tc->acs_c);
	KUNIT_EXPECT_EQ(test, v.bad_host, tc->bad_host);
}

/* A chain of @len devices from @base whose top @shared are common. */
static void build_chain(struct p2pdma_path *path, const struct test_topo *t,
			unsigned int base, unsigned int len, unsigned int shared)
{
	unsigned int i;

	memset(path, 0, sizeof(*path));
	for (i = 0; i < len; i++)
		path->dev[i] = &t->dev[i >= len - shared ? 40 + len - i :
				       base + i];
	path->len = len;
	set_host(&path->host, t, 1, PCI_VENDOR_ID_INTEL, 0x29c0);
}

static void p2pdma_test_policy_depth(struct kunit *test)
{
	struct test_topo *t = new_topo(test);
	struct p2pdma_path *p, *c;
	struct p2pdma_verdict v;

	p = kunit_kzalloc(test, sizeof(*p), GFP_KERNEL);
	c = kunit_kzalloc(test, sizeof(*c), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, p);
	KUNIT_ASSERT_NOT_NULL(test, c);

	/* As deep as the cap allows: still decided normally. */
	build_chain(p, t, 1, P2PDMA_MAX_HOPS, 2);
	build_chain(c, t, 1 + P2PDMA_MAX_HOPS, P2PDMA_MAX_HOPS, 2);
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

kunit_test_suite(p2pdma_policy_suite);

#endif /* _DRIVERS_PCI_P2PDMA_ROUTE_KUNIT_H */
