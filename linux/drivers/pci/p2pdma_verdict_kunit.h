/* SPDX-License-Identifier: GPL-2.0 */
/*
 * KUnit suite of the P2PDMA verdict cache and of the reason clauses,
 * included at the end of p2pdma_verdict.c when CONFIG_PCI_P2PDMA_KUNIT_TEST
 * is set, so that it can reach its static functions.
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

/*
 * Reason clauses: the words of p2pmem/peers for paths made up here.  The
 * expected texts are written from the format in
 * Documentation/ABI/testing/sysfs-bus-pci and from what the real
 * topologies print, not from the code.
 */
struct reason_side {
	const char *devs[4];		/* names, from the device up */
	u16 acs[4];			/* ACS Control of each */
	int host;			/* which of two host bridges */
};

struct reason_case {
	const char *name;
	struct reason_side p, c;
	u16 host_device;		/* Intel device ID of both; 0: none */
	bool cpu;			/* the CPU routes P2P */
	bool deep;			/* the provider's path is truncated */
	const char *want;
};

#define RR_CR		(PCI_ACS_RR | PCI_ACS_CR)
#define Q35_HOST	0x29c0		/* not on the allow list */
#define SKX_HOST	0x2030		/* listed */
#define SNB_HOST	0x3c00		/* listed, within one host bridge */
#define PORT_A		{ "0000:01:00.0", "0000:00:01.0" }
#define PORT_B		{ "0000:02:00.0", "0000:00:02.0" }
#define FUNCS_0		{ "0000:01:00.0", "0000:00:04.0" }
#define FUNCS_1		{ "0000:01:00.1", "0000:00:04.0" }

static const struct reason_case reason_cases[] = {
	{
		.name = "same device",
		.p = { PORT_A }, .c = { PORT_A }, .host_device = Q35_HOST,
		.want = "same device",
	},
	{
		.name = "switch",
		.p = { { "0000:03:00.0", "0000:02:00.0", "0000:01:00.0",
			 "0000:00:1c.0" } },
		.c = { { "0000:04:00.0", "0000:02:01.0", "0000:01:00.0",
			 "0000:00:1c.0" } },
		.host_device = Q35_HOST,
		.want = "common upstream device 0000:01:00.0",
	},
	{
		.name = "ACS redirect, refused",
		.p = { FUNCS_0, { 0, RR_CR } }, .c = { FUNCS_1, { 0, RR_CR } },
		.host_device = Q35_HOST,
		.want =
			"common upstream device 0000:00:04.0; ACS RR+CR on 0000:00:04.0; host bridge 0000:00:00.0 (8086:29c0) not on the allow list",
	},
	{
		.name = "ACS redirect, CPU routes",
		.p = { FUNCS_0, { 0, RR_CR } }, .c = { FUNCS_1, { 0, RR_CR } },
		.host_device = Q35_HOST, .cpu = true,
		.want =
			"common upstream device 0000:00:04.0; ACS RR+CR on 0000:00:04.0; the CPU routes peer-to-peer traffic through its host bridges",
	},
	{
		.name = "ACS egress control below the common port",
		.p = { { "0000:03:00.0", "0000:02:00.0", "0000:01:00.0",
			 "0000:00:1c.0" }, { 0, PCI_ACS_EC } },
		.c = { { "0000:04:00.0", "0000:02:01.0", "0000:01:00.0",
			 "0000:00:1c.0" }, { 0, PCI_ACS_RR } },
		.host_device = SKX_HOST,
		.want =
			"common upstream device 0000:01:00.0; ACS EC on 0000:02:00.0; ACS RR on 0000:02:01.0; host bridge 0000:00:00.0 (8086:2030) on the allow list",
	},
	{
		.name = "root ports, host bridge not listed",
		.p = { PORT_A }, .c = { PORT_B }, .host_device = Q35_HOST,
		.want =
			"no common upstream device; host bridge 0000:00:00.0 (8086:29c0) not on the allow list",
	},
	{
		.name = "root ports, CPU routes",
		.p = { PORT_A }, .c = { PORT_B }, .host_device = Q35_HOST,
		.cpu = true,
		.want =
			"no common upstream device; the CPU routes peer-to-peer traffic through its host bridges",
	},
	{
		.name = "root ports, host bridge listed",
		.p = { PORT_A }, .c = { PORT_B }, .host_device = SKX_HOST,
		.want =
			"no common upstream device; host bridge 0000:00:00.0 (8086:2030) on the allow list",
	},
	{
		.name = "root ports, no host bridge device",
		.p = { PORT_A }, .c = { PORT_B },
		.want =
			"no common upstream device; host bridge above the provider has no device to look up in the allow list",
	},
	{
		.name = "two host bridges",
		.p = { PORT_A }, .c = { PORT_B, .host = 1 },
		.host_device = SNB_HOST,
		.want =
			"no common upstream device; host bridge 0000:00:00.0 (8086:3c00) only allowed with both devices below it; host bridge 0001:00:00.0 (8086:3c00) only allowed with both devices below it",
	},
	{
		.name = "too deep",
		.p = { PORT_A }, .c = { PORT_B }, .host_device = SKX_HOST,
		.deep = true,
		.want = "PCI hierarchy deeper than 16 levels",
	},
};

KUNIT_ARRAY_PARAM_DESC(reason, reason_cases, name);

struct reason_ctx {
	struct kunit *test;
	struct pci_dev *devs[12];
	unsigned int nr;
	struct pci_host_bridge *bridge[2];
};

/* The made-up device called @name: only its name and identity matter. */
static struct pci_dev *reason_dev(struct reason_ctx *ctx, const char *name)
{
	struct pci_dev *pdev;
	unsigned int i;

	for (i = 0; i < ctx->nr; i++)
		if (!strcmp(pci_name(ctx->devs[i]), name))
			return ctx->devs[i];
	KUNIT_ASSERT_LT(ctx->test, ctx->nr, ARRAY_SIZE(ctx->devs));
	pdev = kunit_kzalloc(ctx->test, sizeof(*pdev), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(ctx->test, pdev);
	pdev->dev.init_name = name;
	ctx->devs[ctx->nr++] = pdev;
	return pdev;
}

static void reason_path(struct reason_ctx *ctx, const struct reason_case *rc,
			const struct reason_side *side, struct p2pdma_path *path)
{
	unsigned int i;

	memset(path, 0, sizeof(*path));
	for (i = 0; i < ARRAY_SIZE(side->devs) && side->devs[i]; i++) {
		path->dev[i] = reason_dev(ctx, side->devs[i]);
		path->acs_ctrl[i] = side->acs[i];
	}
	path->len = i;
	path->host.bridge = ctx->bridge[side->host];
	if (rc->host_device) {
		strscpy(path->host.name, side->host ? "0001:00:00.0" :
						       "0000:00:00.0");
		path->host.vendor = PCI_VENDOR_ID_INTEL;
		path->host.device = rc->host_device;
	}
}

static void p2pdma_test_reason_words(struct kunit *test)
{
	const struct reason_case *rc = test->param_value;
	struct reason_ctx ctx = { .test = test };
	struct p2pdma_path *paths;
	struct p2pdma_verdict v;
	struct seq_buf sb;
	char *buf;

	paths = kunit_kcalloc(test, 2, sizeof(*paths), GFP_KERNEL);
	buf = kunit_kzalloc(test, P2PDMA_WHY_LEN, GFP_KERNEL);
	ctx.bridge[0] = kunit_kzalloc(test, sizeof(*ctx.bridge[0]), GFP_KERNEL);
	ctx.bridge[1] = kunit_kzalloc(test, sizeof(*ctx.bridge[1]), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, paths);
	KUNIT_ASSERT_NOT_NULL(test, buf);
	KUNIT_ASSERT_NOT_NULL(test, ctx.bridge[0]);
	KUNIT_ASSERT_NOT_NULL(test, ctx.bridge[1]);

	reason_path(&ctx, rc, &rc->p, &paths[0]);
	reason_path(&ctx, rc, &rc->c, &paths[1]);
	paths[0].truncated = rc->deep;
	p2pdma_decide(&paths[0], &paths[1], rc->cpu, &v);
	seq_buf_init(&sb, buf, P2PDMA_WHY_LEN);
	p2pdma_print_reason(&sb, paths, &v);
	KUNIT_EXPECT_FALSE(test, seq_buf_has_overflowed(&sb));
	KUNIT_EXPECT_STREQ(test, seq_buf_str(&sb), rc->want);
}

static struct kunit_case p2pdma_verdict_cases[] = {
	KUNIT_CASE(p2pdma_test_verdict_encoding),
	KUNIT_CASE(p2pdma_test_verdict_key),
	KUNIT_CASE(p2pdma_test_verdict_xarray),
	KUNIT_CASE(p2pdma_test_verdict_last),
	KUNIT_CASE(p2pdma_test_verdict_forget),
	KUNIT_CASE_PARAM(p2pdma_test_reason_words, reason_gen_params),
	{}
};

static struct kunit_suite p2pdma_verdict_suite = {
	.name = "pci_p2pdma_verdict",
	.test_cases = p2pdma_verdict_cases,
};

kunit_test_suite(p2pdma_verdict_suite);

#endif /* _DRIVERS_PCI_P2PDMA_VERDICT_KUNIT_H */
