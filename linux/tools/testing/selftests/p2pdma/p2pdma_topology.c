// SPDX-License-Identifier: GPL-2.0
/*
 * P2PDMA routing verdicts through the test module (/dev/test_p2pdma):
 * distance, provider choice, how the DMA layer maps p2pmem for a client,
 * pci_has_p2pmem() and the enable_store/enable_show attribute helpers.
 *
 * Expected verdicts between the provider and an NVMe on another port come
 * from P2P_TOPOLOGY (see p2pdma_common.h); checks that need one skip when
 * the topology is unknown.  Load test_p2pdma.ko first.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "../kselftest_harness.h"
#include "p2pdma_common.h"

FIXTURE(topo) {
	struct p2p_env env;
	long long avail0;
	int fd;
	struct test_p2pdma_bdf provider;
	struct test_p2pdma_bdf peer[2];
	int nr_peers;
	struct test_p2pdma_bdf bridge;	/* provider's upstream bridge */
	bool has_bridge;
};

FIXTURE_SETUP(topo)
{
	char up[P2P_BDF_LEN];
	int i;

	self->fd = open(TEST_P2PDMA_DEVICE, O_RDWR);
	if (self->fd < 0)
		SKIP(return, "%s: %s (insmod test_p2pdma.ko)",
		     TEST_P2PDMA_DEVICE, strerror(errno));
	if (p2p_env_scan(&self->env))
		SKIP(return, "no PCI function with p2pmem in this guest");
	self->avail0 = p2p_attr(self->env.provider, "available");
	ASSERT_LE(0, self->avail0);
	ASSERT_EQ(0, p2p_parse_bdf(self->env.provider, &self->provider));
	for (i = 0; i < 2 && self->env.peer[i] >= 0; i++) {
		ASSERT_EQ(0, p2p_parse_bdf(self->env.nvme[self->env.peer[i]].bdf,
					   &self->peer[i]));
	}
	self->nr_peers = i;
	if (!p2p_upstream_bdf(self->env.provider, up, sizeof(up))) {
		ASSERT_EQ(0, p2p_parse_bdf(up, &self->bridge));
		self->has_bridge = true;
	}
}

FIXTURE_TEARDOWN(topo)
{
	close(self->fd);
	EXPECT_EQ(self->avail0, p2p_attr(self->env.provider, "available"));
}

/* Distance between the provider and one NVMe on another port. */
static int peer_distance(enum p2p_expect e)
{
	/* two hops up from each endpoint to the switch or the host bridge */
	return e == P2P_EXPECT_REFUSED ? -1 : 4;
}

static int peer_kind(enum p2p_expect e)
{
	switch (e) {
	case P2P_EXPECT_BUS_ADDR:
		return TEST_P2PDMA_MAP_BUS_ADDR;
	case P2P_EXPECT_REFUSED:
		return TEST_P2PDMA_MAP_REFUSED;
	default:
		return TEST_P2PDMA_MAP_THRU_HOST_BRIDGE;
	}
}

/*
 * Why a test that needs @n NVMe without p2pmem and a known topology cannot
 * run here, or NULL when it can.
 */
static const char *missing_peers(const struct p2p_env *env, int nr_peers,
				 int n)
{
	static char why[128];

	if (env->expect == P2P_EXPECT_UNKNOWN)
		snprintf(why, sizeof(why), "no expectation for topology %s",
			 env->topology);
	else if (nr_peers < n)
		snprintf(why, sizeof(why), "needs %d NVMe without p2pmem, found %d",
			 n, nr_peers);
	else
		return NULL;
	return why;
}

static int do_distance(int fd, const struct test_p2pdma_bdf *provider,
		       const struct test_p2pdma_bdf *clients, unsigned int n,
		       unsigned int flags, struct test_p2pdma_distance *d)
{
	memset(d, 0, sizeof(*d));
	d->provider = *provider;
	if (n)
		memcpy(d->clients, clients, n * sizeof(*clients));
	d->nr_clients = n;
	d->flags = flags;
	return ioctl(fd, TEST_P2PDMA_DISTANCE, d) ? -errno : 0;
}

static int do_find(int fd, const struct test_p2pdma_bdf *clients,
		   unsigned int n, unsigned int flags, struct test_p2pdma_find *f)
{
	memset(f, 0, sizeof(*f));
	if (n)
		memcpy(f->clients, clients, n * sizeof(*clients));
	f->nr_clients = n;
	f->flags = flags;
	return ioctl(fd, TEST_P2PDMA_FIND, f) ? -errno : 0;
}

static int do_map(int fd, const struct test_p2pdma_bdf *provider,
		  const struct test_p2pdma_bdf *client, unsigned int npages,
		  struct test_p2pdma_dma_map *m)
{
	memset(m, 0, sizeof(*m));
	m->provider = *provider;
	m->client = *client;
	m->npages = npages;
	return ioctl(fd, TEST_P2PDMA_DMA_MAP, m) ? -errno : 0;
}

static int has_p2pmem(int fd, const struct test_p2pdma_bdf *bdf)
{
	struct test_p2pdma_has_p2pmem h = { .dev = *bdf };

	return ioctl(fd, TEST_P2PDMA_HAS_P2PMEM, &h) ? -errno : (int)h.has_p2pmem;
}

static bool same_bdf(const struct test_p2pdma_bdf *a,
		     const struct test_p2pdma_bdf *b)
{
	return a->domain == b->domain && a->bus == b->bus &&
	       a->devfn == b->devfn;
}

TEST_F(topo, has_p2pmem)
{
	int i;

	ASSERT_EQ(1, has_p2pmem(self->fd, &self->provider));
	for (i = 0; i < self->nr_peers; i++)
		ASSERT_EQ(0, has_p2pmem(self->fd, &self->peer[i]));
	if (self->has_bridge)
		ASSERT_EQ(0, has_p2pmem(self->fd, &self->bridge));
}

TEST_F(topo, bad_bdf)
{
	struct test_p2pdma_bdf bdf = { .domain = 0, .bus = 0xff,
				       .devfn = 0xff };

	ASSERT_EQ(-ENODEV, has_p2pmem(self->fd, &bdf));
	bdf = self->provider;
	bdf.reserved = 1;
	ASSERT_EQ(-EINVAL, has_p2pmem(self->fd, &bdf));
	bdf = self->provider;
	bdf.domain = 0x80000000u;
	ASSERT_EQ(-EINVAL, has_p2pmem(self->fd, &bdf));
}

/* A provider is its own closest client: distance 0, bus addresses. */
TEST_F(topo, distance_to_self)
{
	struct test_p2pdma_distance d;
	int verbose;

	for (verbose = 0; verbose <= 1; verbose++) {
		ASSERT_EQ(0, do_distance(self->fd, &self->provider,
					 &self->provider, 1,
					 verbose ? TEST_P2PDMA_F_VERBOSE : 0, &d));
		ASSERT_EQ(0, d.distance);
		ASSERT_EQ(TEST_P2PDMA_MAP_BUS_ADDR, d.map_kind);
		ASSERT_EQ(0, d.map_errno);
		ASSERT_EQ(0, d.map_flags);
	}
}

/* Repeated calls agree with each other (the verdict may be cached). */
TEST_F(topo, distance_to_peer)
{
	const char *why;
	struct test_p2pdma_distance d;
	int i, round;

	why = missing_peers(&self->env, self->nr_peers, 1);
	if (why)
		SKIP(return, "%s", why);
	for (round = 0; round < 3; round++) {
		for (i = 0; i < self->nr_peers; i++) {
			ASSERT_EQ(0, do_distance(self->fd, &self->provider,
						 &self->peer[i], 1,
						 round == 1 ? TEST_P2PDMA_F_VERBOSE : 0,
						 &d));
			ASSERT_EQ(peer_distance(self->env.expect), d.distance);
			ASSERT_EQ(peer_kind(self->env.expect), d.map_kind);
			ASSERT_EQ(self->env.expect == P2P_EXPECT_REFUSED ?
				  -EREMOTEIO : 0, d.map_errno);
			ASSERT_EQ(self->env.expect == P2P_EXPECT_IOMMU ?
				  TEST_P2PDMA_MAPPED_IOVA : 0, d.map_flags);
		}
	}
}

/* The distance of a client list is the sum, or -1 if any is refused. */
TEST_F(topo, distance_many)
{
	const char *why;
	struct test_p2pdma_bdf list[TEST_P2PDMA_MAX_CLIENTS];
	int one = peer_distance(self->env.expect);
	struct test_p2pdma_distance d;
	int i;

	why = missing_peers(&self->env, self->nr_peers, 2);
	if (why)
		SKIP(return, "%s", why);
	ASSERT_EQ(0, do_distance(self->fd, &self->provider, self->peer, 2, 0, &d));
	ASSERT_EQ(one < 0 ? -1 : 2 * one, d.distance);
	ASSERT_EQ(TEST_P2PDMA_MAP_NONE, d.map_kind);

	list[0] = self->provider;
	list[1] = self->peer[0];
	ASSERT_EQ(0, do_distance(self->fd, &self->provider, list, 2, 0, &d));
	ASSERT_EQ(one, d.distance);

	ASSERT_EQ(0, do_distance(self->fd, &self->provider, list, 2,
				 TEST_P2PDMA_F_VERBOSE, &d));
	ASSERT_EQ(one, d.distance);

	for (i = 0; i < TEST_P2PDMA_MAX_CLIENTS; i++)
		list[i] = self->provider;
	ASSERT_EQ(0, do_distance(self->fd, &self->provider, list,
				 TEST_P2PDMA_MAX_CLIENTS, 0, &d));
	ASSERT_EQ(0, d.distance);
}

TEST_F(topo, distance_empty_list)
{
	struct test_p2pdma_distance d;

	ASSERT_EQ(0, do_distance(self->fd, &self->provider, NULL, 0, 0, &d));
	ASSERT_EQ(-1, d.distance);
	ASSERT_EQ(TEST_P2PDMA_MAP_NONE, d.map_kind);
}

/* A client without any PCI device above it can never be reached. */
TEST_F(topo, distance_non_pci_client)
{
	struct test_p2pdma_distance d;
	int kmsg;

	ASSERT_EQ(0, do_distance(self->fd, &self->provider, NULL, 0,
				 TEST_P2PDMA_F_NON_PCI_CLIENT, &d));
	ASSERT_EQ(-1, d.distance);
	ASSERT_EQ(0, do_distance(self->fd, &self->provider, &self->provider, 1,
				 TEST_P2PDMA_F_NON_PCI_CLIENT, &d));
	ASSERT_EQ(-1, d.distance);
	ASSERT_EQ(TEST_P2PDMA_MAP_NONE, d.map_kind);

	kmsg = p2p_kmsg_open();
	ASSERT_LE(0, kmsg);
	ASSERT_EQ(0, do_distance(self->fd, &self->provider, NULL, 0,
				 TEST_P2PDMA_F_NON_PCI_CLIENT |
				 TEST_P2PDMA_F_VERBOSE, &d));
	ASSERT_EQ(-1, d.distance);
	EXPECT_TRUE(p2p_kmsg_search(kmsg, "peer-to-peer DMA", "test_p2pdma"));
	close(kmsg);
}

/* A verbose refusal says why, naming the provider. */
TEST_F(topo, refusal_is_logged)
{
	const char *why;
	struct test_p2pdma_distance d;
	int kmsg;

	why = missing_peers(&self->env, self->nr_peers, 1);
	if (why)
		SKIP(return, "%s", why);
	if (self->env.expect != P2P_EXPECT_REFUSED)
		SKIP(return, "peers are reachable in topology %s",
		     self->env.topology);
	kmsg = p2p_kmsg_open();
	ASSERT_LE(0, kmsg);
	ASSERT_EQ(0, do_distance(self->fd, &self->provider, &self->peer[0], 1,
				 TEST_P2PDMA_F_VERBOSE, &d));
	ASSERT_EQ(-1, d.distance);
	EXPECT_TRUE(p2p_kmsg_search(kmsg, "peer-to-peer DMA",
				    self->env.provider));
	close(kmsg);
}

TEST_F(topo, distance_bad_input)
{
	struct test_p2pdma_bdf bad = { .bus = 0xff, .devfn = 0xff };
	struct test_p2pdma_distance d;

	ASSERT_EQ(-EINVAL, do_distance(self->fd, &self->provider,
				       &self->provider, 1, 0x80, &d));
	ASSERT_EQ(-ENODEV, do_distance(self->fd, &bad, &self->provider, 1,
				       0, &d));
	ASSERT_EQ(-ENODEV, do_distance(self->fd, &self->provider, &bad, 1,
				       0, &d));
	memset(&d, 0, sizeof(d));
	d.provider = self->provider;
	d.nr_clients = TEST_P2PDMA_MAX_CLIENTS + 1;
	ASSERT_EQ(-1, ioctl(self->fd, TEST_P2PDMA_DISTANCE, &d));
	ASSERT_EQ(EINVAL, errno);
}

TEST_F(topo, find_for_self)
{
	struct test_p2pdma_find f;

	ASSERT_EQ(0, do_find(self->fd, &self->provider, 1, 0, &f));
	ASSERT_EQ(0, f.status);
	ASSERT_TRUE(same_bdf(&self->provider, &f.provider));
}

TEST_F(topo, find_for_peers)
{
	const char *why;
	struct test_p2pdma_bdf list[2];
	struct test_p2pdma_find f;
	int round;

	why = missing_peers(&self->env, self->nr_peers, 2);
	if (why)
		SKIP(return, "%s", why);
	if (self->env.nr_providers != 1)
		SKIP(return, "%d providers: the choice is random",
		     self->env.nr_providers);
	list[0] = self->provider;
	list[1] = self->peer[0];
	for (round = 0; round < 4; round++) {
		ASSERT_EQ(0, do_find(self->fd, self->peer, round % 2 + 1, 0, &f));
		if (self->env.expect == P2P_EXPECT_REFUSED) {
			ASSERT_EQ(-ENODEV, f.status);
		} else {
			ASSERT_EQ(0, f.status);
			ASSERT_TRUE(same_bdf(&self->provider, &f.provider));
		}
		ASSERT_EQ(0, do_find(self->fd, list, 2, 0, &f));
		ASSERT_EQ(self->env.expect == P2P_EXPECT_REFUSED ? -ENODEV : 0,
			  f.status);
	}
}

TEST_F(topo, find_nothing)
{
	struct test_p2pdma_find f;

	ASSERT_EQ(0, do_find(self->fd, NULL, 0, 0, &f));
	ASSERT_EQ(-ENODEV, f.status);
	ASSERT_EQ(0, do_find(self->fd, &self->provider, 1,
			     TEST_P2PDMA_F_NON_PCI_CLIENT, &f));
	ASSERT_EQ(-ENODEV, f.status);
	ASSERT_EQ(-EINVAL, do_find(self->fd, NULL, 0, TEST_P2PDMA_F_VERBOSE,
				   &f));
}

static size_t total_len(const struct test_p2pdma_dma_map *m)
{
	size_t sum = 0;
	unsigned int i;

	for (i = 0; i < m->nsegs; i++)
		sum += m->segs[i].dma_len;
	return sum;
}

TEST_F(topo, dma_map_self)
{
	const unsigned int npages = TEST_P2PDMA_MAX_PAGES;
	struct test_p2pdma_dma_map m;
	unsigned int i;

	ASSERT_EQ(0, do_map(self->fd, &self->provider, &self->provider,
			    npages, &m));
	ASSERT_EQ(0, m.map_errno);
	ASSERT_EQ(TEST_P2PDMA_MAP_BUS_ADDR, m.kind);
	ASSERT_EQ(0, m.map_flags);
	ASSERT_EQ(npages * p2p_page_size(), total_len(&m));
	for (i = 0; i < m.nsegs; i++) {
		ASSERT_EQ(TEST_P2PDMA_SEG_BUS_MARKED | TEST_P2PDMA_SEG_EQ_BUS,
			  m.segs[i].flags & (TEST_P2PDMA_SEG_BUS_MARKED |
					     TEST_P2PDMA_SEG_EQ_BUS));
	}
}

TEST_F(topo, dma_map_peer)
{
	const char *why;
	const unsigned int npages = TEST_P2PDMA_MAX_PAGES;
	enum p2p_expect e = self->env.expect;
	struct test_p2pdma_dma_map m;
	unsigned int i, flags;

	why = missing_peers(&self->env, self->nr_peers, 1);
	if (why)
		SKIP(return, "%s", why);
	ASSERT_EQ(0, do_map(self->fd, &self->provider, &self->peer[0],
			    npages, &m));
	ASSERT_EQ(peer_kind(e), m.kind);
	if (e == P2P_EXPECT_REFUSED) {
		ASSERT_EQ(-EREMOTEIO, m.map_errno);
		return;
	}
	ASSERT_EQ(0, m.map_errno);
	ASSERT_EQ(npages * p2p_page_size(), total_len(&m));
	ASSERT_EQ(e == P2P_EXPECT_IOMMU ? TEST_P2PDMA_MAPPED_IOVA : 0,
		  m.map_flags);
	for (i = 0; i < m.nsegs; i++) {
		flags = m.segs[i].flags;
		TH_LOG("seg %u: dma %#llx len %u bus %#llx phys %#llx flags %#x",
		       i, (unsigned long long)m.segs[i].dma_addr,
		       m.segs[i].dma_len,
		       (unsigned long long)m.segs[i].bus_addr,
		       (unsigned long long)m.segs[i].phys_addr, flags);
		switch (e) {
		case P2P_EXPECT_BUS_ADDR:
			ASSERT_TRUE(flags & TEST_P2PDMA_SEG_BUS_MARKED);
			ASSERT_TRUE(flags & TEST_P2PDMA_SEG_EQ_BUS);
			break;
		case P2P_EXPECT_HOST_BRIDGE:
			ASSERT_FALSE(flags & TEST_P2PDMA_SEG_BUS_MARKED);
			ASSERT_TRUE(flags & TEST_P2PDMA_SEG_EQ_PHYS);
			break;
		default:
			ASSERT_FALSE(flags & TEST_P2PDMA_SEG_BUS_MARKED);
			ASSERT_FALSE(flags & TEST_P2PDMA_SEG_EQ_PHYS);
			break;
		}
	}
}

TEST_F(topo, dma_map_bad_input)
{
	struct test_p2pdma_bdf bad = { .bus = 0xff, .devfn = 0xff };
	struct test_p2pdma_dma_map m;

	ASSERT_EQ(-EINVAL, do_map(self->fd, &self->provider, &self->provider,
				  0, &m));
	ASSERT_EQ(-EINVAL, do_map(self->fd, &self->provider, &self->provider,
				  TEST_P2PDMA_MAX_PAGES + 1, &m));
	ASSERT_EQ(-ENODEV, do_map(self->fd, &self->provider, &bad, 1, &m));
	ASSERT_EQ(-ENODEV, do_map(self->fd, &bad, &self->provider, 1, &m));
	/* a function without p2pmem has nothing to map */
	if (self->nr_peers) {
		ASSERT_EQ(-ENOMEM, do_map(self->fd, &self->peer[0],
					  &self->provider, 1, &m));
	}
}

struct store_case {
	const char *input;
	int result;
	const char *show;
};

static int do_store(int fd, const char *input, struct test_p2pdma_enable *e)
{
	memset(e, 0, sizeof(*e));
	snprintf(e->input, sizeof(e->input), "%s", input);
	return ioctl(fd, TEST_P2PDMA_ENABLE_STORE, e) ? -errno : 0;
}

/*
 * Booleans in kstrtobool() forms, except that "0" and "1" must stand
 * alone (so a mistyped BDF is not taken for a boolean); anything that is
 * neither a boolean nor a PCI device fails with ENODEV.
 */
TEST_F(topo, enable_store_words)
{
	static const struct store_case cases[] = {
		{ "y", 0, "1\n" },	{ "Y", 0, "1\n" },
		{ "yes", 0, "1\n" },	{ "n", 0, "0\n" },
		{ "on", 0, "1\n" },	{ "off", 0, "0\n" },
		{ "1", 0, "1\n" },	{ "0", 0, "0\n" },
		{ "1\n", 0, "1\n" },	{ "0\n", 0, "0\n" },
		{ "10", -ENODEV, "0\n" },	{ "0x1", -ENODEV, "0\n" },
		{ "2", -ENODEV, "0\n" },	{ "garbage", -ENODEV, "0\n" },
		{ "", -ENODEV, "0\n" },
		{ "0000:ff:1f.7", -ENODEV, "0\n" },
	};
	struct test_p2pdma_enable e;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		ASSERT_EQ(0, do_store(self->fd, cases[i].input, &e));
		EXPECT_EQ(cases[i].result, e.result)
			TH_LOG("input \"%s\"", cases[i].input);
		EXPECT_STREQ(cases[i].show, e.show)
			TH_LOG("input \"%s\"", cases[i].input);
		EXPECT_EQ(0, e.has_provider);
		EXPECT_EQ(!e.result && cases[i].show[0] == '1', e.use_p2pdma);
	}
}

TEST_F(topo, enable_store_devices)
{
	struct test_p2pdma_enable e;
	char want[P2P_BDF_LEN + 2], input[P2P_BDF_LEN + 2];
	int i;

	snprintf(want, sizeof(want), "%s\n", self->env.provider);
	for (i = 0; i < 2; i++) {
		snprintf(input, sizeof(input), "%s%s", self->env.provider,
			 i ? "\n" : "");
		ASSERT_EQ(0, do_store(self->fd, input, &e));
		ASSERT_EQ(0, e.result);
		ASSERT_EQ(1, e.use_p2pdma);
		ASSERT_EQ(1, e.has_provider);
		ASSERT_TRUE(same_bdf(&self->provider, &e.provider));
		ASSERT_STREQ(want, e.show);
	}

	/* existing functions without p2pmem are refused */
	for (i = 0; i < self->nr_peers; i++) {
		ASSERT_EQ(0, do_store(self->fd,
				      self->env.nvme[self->env.peer[i]].bdf, &e));
		ASSERT_EQ(-ENODEV, e.result);
		ASSERT_STREQ("0\n", e.show);
	}
	if (self->has_bridge) {
		char up[P2P_BDF_LEN];

		p2p_format_bdf(&self->bridge, up, sizeof(up));
		ASSERT_EQ(0, do_store(self->fd, up, &e));
		ASSERT_EQ(-ENODEV, e.result);
	}
}

TEST_F(topo, enable_store_unterminated)
{
	struct test_p2pdma_enable e;

	memset(&e, 'y', sizeof(e));
	ASSERT_EQ(-1, ioctl(self->fd, TEST_P2PDMA_ENABLE_STORE, &e));
	ASSERT_EQ(EINVAL, errno);
}

TEST_F(topo, bad_ioctls)
{
	static const unsigned long cmds[] = {
		TEST_P2PDMA_DISTANCE, TEST_P2PDMA_FIND, TEST_P2PDMA_ALLOC,
		TEST_P2PDMA_FREE, TEST_P2PDMA_ALLOC_SGL, TEST_P2PDMA_FREE_SGL,
		TEST_P2PDMA_DMA_MAP, TEST_P2PDMA_HAS_P2PMEM,
		TEST_P2PDMA_ENABLE_STORE,
	};
	size_t i;

	ASSERT_EQ(-1, ioctl(self->fd, _IO(TEST_P2PDMA_IOC_MAGIC, 0x7f), NULL));
	ASSERT_EQ(ENOTTY, errno);
	for (i = 0; i < ARRAY_SIZE(cmds); i++) {
		EXPECT_EQ(-1, ioctl(self->fd, cmds[i], NULL));
		EXPECT_EQ(EFAULT, errno) TH_LOG("cmd %#lx", cmds[i]);
	}
}

TEST_HARNESS_MAIN
