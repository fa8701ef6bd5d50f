// SPDX-License-Identifier: GPL-2.0
/*
 * P2PDMA routing verdicts through the test module (/dev/test_p2pdma):
 * distance, provider choice, how the DMA layer maps p2pmem for a client,
 * pci_has_p2pmem() and the enable_store/enable_show attribute helpers.
 *
 * Expected verdicts between the provider and an NVMe on another port come
 * from P2P_TOPOLOGY (the table in p2pdma_common.c, written from the
 * topology descriptions); checks that need one skip when the topology is
 * unknown, and fail when a device the topology has is missing.  In the
 * multi-provider topology the providers are told apart by their position
 * (ports above them in sysfs, BAR sizes), never by asking the kernel which
 * one is closest.  Load test_p2pdma.ko first.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "../kselftest_harness.h"
#include "p2pdma_common.h"

struct unpublished {
	struct test_p2pdma_bdf dev[4];
	int n;
};

FIXTURE(topo) {
	struct p2p_env env;
	long long avail0;
	int fd;
	struct test_p2pdma_bdf provider;
	struct test_p2pdma_bdf peer[2];
	int nr_peers;
	struct test_p2pdma_bdf bridge;	/* provider's upstream bridge */
	bool has_bridge;
	struct unpublished unpub;	/* to publish again */
};

FIXTURE_SETUP(topo)
{
	char up[P2P_BDF_LEN];
	int i;

	self->fd = open(TEST_P2PDMA_DEVICE, O_RDWR);
	p2p_require(_metadata, p2p_topology_from_env(),
		    self->fd >= 0,
		    "%s: %s (insmod test_p2pdma.ko)", TEST_P2PDMA_DEVICE,
		    strerror(errno));
	p2p_require(_metadata, p2p_topology_from_env(),
		    !p2p_env_scan(&self->env),
		    "no PCI function with p2pmem in this guest");
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

static int publish(int fd, const struct test_p2pdma_bdf *dev, unsigned int on)
{
	struct test_p2pdma_publish p = { .dev = *dev, .publish = on };

	return ioctl(fd, TEST_P2PDMA_PUBLISH, &p) ? -errno : 0;
}

/*
 * In the parent, after the test's process has exited (and closed its
 * files): kselftest_harness.h of 6.12 skips a plain FIXTURE_TEARDOWN when
 * an ASSERT failed in the test body, and a provider left unpublished would
 * change what every later test finds.
 */
FIXTURE_TEARDOWN_PARENT(topo)
{
	int i, fd;

	/* the published state belongs to the driver: give it back */
	fd = open(TEST_P2PDMA_DEVICE, O_RDWR);
	for (i = 0; i < self->unpub.n; i++)
		EXPECT_EQ(0, publish(fd, &self->unpub.dev[i], 1));
	if (fd >= 0)
		close(fd);
	EXPECT_EQ(self->avail0, p2p_attr(self->env.provider, "available"));
}

/* Unpublish @dev for the rest of the test; the teardown publishes it. */
static int unpublish(int fd, struct unpublished *u,
		     const struct test_p2pdma_bdf *dev)
{
	if (u->n == ARRAY_SIZE(u->dev))
		return -ENOSPC;
	u->dev[u->n++] = *dev;
	return publish(fd, dev, 0);
}

/* Distance between the provider and one NVMe without p2pmem. */
static int peer_distance(const struct p2p_env *env)
{
	return env->topo->distance;
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
 * A test that needs a known topology with @n NVMe without p2pmem: skips in
 * an unknown topology or one that has fewer by design (the table), fails
 * when the topology should have them and they are not there.
 */
static void need_peers(struct __test_metadata *_metadata,
		       const struct p2p_env *env, int found, int n)
{
	if (!env->topo)
		p2p_skip(_metadata, "no expectation for topology %s",
			 env->topology);
	if (env->topo->nr_peers < n)
		p2p_skip(_metadata, "topology %s has %d NVMe without p2pmem, needs %d",
			 env->topology, env->topo->nr_peers, n);
	ASSERT_LE(n, found)
		TH_LOG("topology %s should have %d NVMe without p2pmem",
		       env->topology, env->topo->nr_peers);
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
	struct test_p2pdma_distance d;
	int i, round;

	need_peers(_metadata, &self->env, self->nr_peers, 1);
	for (round = 0; round < 3; round++) {
		for (i = 0; i < self->nr_peers; i++) {
			ASSERT_EQ(0, do_distance(self->fd, &self->provider,
						 &self->peer[i], 1,
						 round == 1 ? TEST_P2PDMA_F_VERBOSE : 0,
						 &d));
			ASSERT_EQ(peer_distance(&self->env), d.distance);
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
	struct test_p2pdma_bdf list[TEST_P2PDMA_MAX_CLIENTS];
	struct test_p2pdma_distance d;
	int i, one;

	need_peers(_metadata, &self->env, self->nr_peers, 2);
	one = peer_distance(&self->env);
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
	struct test_p2pdma_distance d;
	int kmsg;

	need_peers(_metadata, &self->env, self->nr_peers, 1);
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
	struct test_p2pdma_bdf list[2];
	struct test_p2pdma_find f;
	int round;

	need_peers(_metadata, &self->env, self->nr_peers, 2);
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
	const unsigned int npages = TEST_P2PDMA_MAX_PAGES;
	enum p2p_expect e = self->env.expect;
	struct test_p2pdma_dma_map m;
	unsigned int i, flags;

	need_peers(_metadata, &self->env, self->nr_peers, 1);
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
		TEST_P2PDMA_ENABLE_STORE, TEST_P2PDMA_VIRT_TO_BUS,
		TEST_P2PDMA_PUBLISH, TEST_P2PDMA_PATTERN, TEST_P2PDMA_STATS,
		TEST_P2PDMA_STRESS,
	};
	size_t i;

	ASSERT_EQ(-1, ioctl(self->fd, _IO(TEST_P2PDMA_IOC_MAGIC, 0x7f), NULL));
	ASSERT_EQ(ENOTTY, errno);
	for (i = 0; i < ARRAY_SIZE(cmds); i++) {
		EXPECT_EQ(-1, ioctl(self->fd, cmds[i], NULL));
		EXPECT_EQ(EFAULT, errno) TH_LOG("cmd %#lx", cmds[i]);
	}
}

/*
 * ACS redirect on the port above the pair (pci=config_acs in the acs-redir
 * topologies): a verbose verdict says so and names the port.  Each kernel
 * has its own wording: ours names the bits and the port ("... is
 * redirected to the host bridge by ACS RR+CR on 0000:00:04.0"); stock 6.12
 * says "ACS redirect is set between the client and provider (<provider>)"
 * without the bits.  Both then give the pci=disable_acs_redir=<port> hint.
 * Where the topology sets no redirect, no ACS message may appear.
 */
#define UPSTREAM_ACS_MSG \
	"ACS redirect is set between the client and provider"

TEST_F(topo, acs_redirect_logged)
{
	const char *port;
	struct test_p2pdma_distance d;
	char want[128];
	int kmsg;

	need_peers(_metadata, &self->env, self->nr_peers, 1);
	port = self->env.topo->acs_port;
	kmsg = p2p_kmsg_open();
	ASSERT_LE(0, kmsg);
	ASSERT_EQ(0, do_distance(self->fd, &self->provider, &self->peer[0], 1,
				 TEST_P2PDMA_F_VERBOSE, &d));
	ASSERT_EQ(peer_distance(&self->env), d.distance);
	if (!port) {
		EXPECT_FALSE(p2p_kmsg_search(kmsg, "ACS", self->env.provider));
		close(kmsg);
		return;
	}
	if (p2p_kernel_is("ours")) {
		snprintf(want, sizeof(want), "by ACS RR+CR on %s", port);
		EXPECT_TRUE(p2p_kmsg_search(kmsg, want, self->env.provider))
			TH_LOG("no \"%s\" line", want);
	} else {
		EXPECT_TRUE(p2p_kmsg_search(kmsg, UPSTREAM_ACS_MSG,
					    self->env.provider));
	}
	snprintf(want, sizeof(want), "pci=disable_acs_redir=%s", port);
	EXPECT_TRUE(p2p_kmsg_search(kmsg, want, NULL))
		TH_LOG("no \"%s\" hint", want);
	close(kmsg);
}

/*
 * pci_p2pmem_publish(): an unpublished provider is not found for anyone,
 * not even for itself as the client (then nothing is found where it is the
 * only provider, another one where there are several), and its sysfs
 * "published" says 0; published again, it is found.
 */
TEST_F(topo, publish_hides_from_find)
{
	char path[128];
	struct test_p2pdma_find f;
	struct test_p2pdma_publish p;

	snprintf(path, sizeof(path), P2P_PCI_DEVICES "/%s/p2pmem/published",
		 self->env.provider);
	ASSERT_EQ(1, p2p_read_ll(path));
	ASSERT_EQ(0, unpublish(self->fd, &self->unpub, &self->provider));
	ASSERT_EQ(0, p2p_read_ll(path));
	ASSERT_EQ(0, do_find(self->fd, &self->provider, 1, 0, &f));
	if (self->env.nr_providers == 1) {
		ASSERT_EQ(-ENODEV, f.status);
	} else {
		ASSERT_EQ(0, f.status);
		ASSERT_FALSE(same_bdf(&self->provider, &f.provider));
	}
	ASSERT_EQ(0, publish(self->fd, &self->provider, 1));
	ASSERT_EQ(1, p2p_read_ll(path));
	ASSERT_EQ(0, do_find(self->fd, &self->provider, 1, 0, &f));
	ASSERT_EQ(0, f.status);
	ASSERT_TRUE(same_bdf(&self->provider, &f.provider));

	memset(&p, 0, sizeof(p));
	p.dev = self->provider;
	p.publish = 2;
	ASSERT_EQ(-1, ioctl(self->fd, TEST_P2PDMA_PUBLISH, &p));
	ASSERT_EQ(EINVAL, errno);
	p.publish = 1;
	p.reserved = 1;
	ASSERT_EQ(-1, ioctl(self->fd, TEST_P2PDMA_PUBLISH, &p));
	ASSERT_EQ(EINVAL, errno);
	p.reserved = 0;
	p.dev.bus = 0xff;
	p.dev.devfn = 0xff;
	ASSERT_EQ(-1, ioctl(self->fd, TEST_P2PDMA_PUBLISH, &p));
	ASSERT_EQ(ENODEV, errno);
	ASSERT_EQ(1, p2p_read_ll(path));
}

/*
 * The multi topology, from its description: below root port 0000:00:04.0
 * a switch whose downstream ports hold NVMe A and B (64 MiB CMB each) and
 * C (none); NVMe D (64 MiB CMB) on another root port; an AMD Zen vCPU, so
 * D is reached through the host bridge.
 */
#define MULTI_SWITCH_PORT	"0000:00:04.0"

struct multi {
	char name[4][P2P_BDF_LEN];		/* A, B, C, D */
	struct test_p2pdma_bdf a, b, c, d;
};

/*
 * Ports above @bdf up to the host bridge; the top one in @root.  Returns
 * how many, from the sysfs device path (no P2PDMA code involved).
 */
static int ports_above(const char *bdf, char *root, size_t len)
{
	char cur[P2P_BDF_LEN], up[P2P_BDF_LEN];
	int n = 0;

	p2p_copy_str(cur, sizeof(cur), bdf);
	while (!p2p_upstream_bdf(cur, up, sizeof(up)) && n < 32) {
		p2p_copy_str(cur, sizeof(cur), up);
		n++;
	}
	p2p_copy_str(root, len, cur);
	return n;
}

/* Tell A, B, C and D apart by position and BAR size; 0 when all found. */
static int multi_layout(const struct p2p_env *env, struct multi *m)
{
	char root[P2P_BDF_LEN];
	struct dirent **list;
	struct p2p_bar bar;
	int i, n, depth, cmb, ret = 0;

	memset(m, 0, sizeof(*m));
	n = scandir(P2P_PCI_DEVICES, &list, NULL, alphasort);
	if (n < 0)
		return -errno;
	for (i = 0; i < n; i++) {
		const char *bdf = list[i]->d_name;
		char *slot = NULL;

		if (bdf[0] != '.' && p2p_is_nvme_function(bdf)) {
			depth = ports_above(bdf, root, sizeof(root));
			cmb = !p2p_find_bar_of_len(bdf, env->topo->cmb_size,
						   &bar);
			if (!strcmp(root, MULTI_SWITCH_PORT) && depth == 3)
				slot = !cmb ? m->name[2] :
				       !m->name[0][0] ? m->name[0] : m->name[1];
			else if (depth == 1 && cmb)
				slot = m->name[3];
			if (!slot || slot[0])
				ret = -EEXIST;	/* not in the description */
			else
				p2p_copy_str(slot, P2P_BDF_LEN, bdf);
		}
		free(list[i]);
	}
	free(list);
	for (i = 0; i < 4; i++)
		if (!m->name[i][0])
			ret = -ENODEV;
	if (!ret)
		ret = p2p_parse_bdf(m->name[0], &m->a) ?:
		      p2p_parse_bdf(m->name[1], &m->b) ?:
		      p2p_parse_bdf(m->name[2], &m->c) ?:
		      p2p_parse_bdf(m->name[3], &m->d);
	return ret;
}

static void need_multi(struct __test_metadata *_metadata,
		       const struct p2p_env *env, struct multi *m)
{
	if (!env->topo || env->topo->nr_providers < 3)
		p2p_skip(_metadata, "topology %s has no three providers",
			 env->topology);
	ASSERT_EQ(0, multi_layout(env, m))
		TH_LOG("devices do not match the multi layout");
	TH_LOG("A %s, B %s, C %s, D %s", m->name[0], m->name[1], m->name[2],
	       m->name[3]);
}

static int find_one(int fd, const struct test_p2pdma_bdf *client,
		    struct multi *m)
{
	struct test_p2pdma_find f;

	if (do_find(fd, client, 1, 0, &f))
		return -1;
	if (f.status)
		return f.status;
	if (same_bdf(&f.provider, &m->a))
		return 'A';
	if (same_bdf(&f.provider, &m->b))
		return 'B';
	if (same_bdf(&f.provider, &m->d))
		return 'D';
	return '?';
}

/*
 * pci_p2pmem_find_many() for C returns a closest provider: A or B (4 hops
 * through the switch), never D (6, through the host bridge); it spreads its
 * choice over A and B; it skips an unpublished provider, down to D when
 * both near ones are unpublished.
 */
TEST_F(topo, multi_find_closest)
{
	int i, got, seen_a = 0, seen_b = 0;
	struct multi m;

	need_multi(_metadata, &self->env, &m);
	for (i = 0; i < 64; i++) {
		got = find_one(self->fd, &m.c, &m);
		ASSERT_TRUE(got == 'A' || got == 'B')
			TH_LOG("call %d returned %c (%d)", i, got, got);
		seen_a += got == 'A';
		seen_b += got == 'B';
	}
	TH_LOG("A %d times, B %d times", seen_a, seen_b);
	EXPECT_LT(0, seen_a);
	EXPECT_LT(0, seen_b);

	ASSERT_EQ(0, unpublish(self->fd, &self->unpub, &m.a));
	for (i = 0; i < 16; i++)
		ASSERT_EQ('B', find_one(self->fd, &m.c, &m));
	ASSERT_EQ(0, unpublish(self->fd, &self->unpub, &m.b));
	for (i = 0; i < 16; i++)
		ASSERT_EQ('D', find_one(self->fd, &m.c, &m));
	ASSERT_EQ(0, unpublish(self->fd, &self->unpub, &m.d));
	ASSERT_EQ(-ENODEV, find_one(self->fd, &m.c, &m));
}

/*
 * For a list of clients the closest provider is the one with the least
 * total distance: for {C, A} that is A (4 + 0), not B (4 + 4) nor D.
 */
TEST_F(topo, multi_find_for_list)
{
	struct test_p2pdma_bdf list[2];
	struct test_p2pdma_find f;
	struct multi m;
	int i;

	need_multi(_metadata, &self->env, &m);
	for (i = 0; i < 16; i++) {
		list[0] = m.c;
		list[1] = i & 1 ? m.b : m.a;
		ASSERT_EQ(0, do_find(self->fd, list, 2, 0, &f));
		ASSERT_EQ(0, f.status);
		ASSERT_TRUE(same_bdf(&list[1], &f.provider))
			TH_LOG("for {C, %c}", i & 1 ? 'B' : 'A');
	}
}

/* Every pair's verdict, written down from the topology description. */
TEST_F(topo, multi_distances)
{
	struct multi m;
	const struct {
		const struct test_p2pdma_bdf *provider, *client;
		const char *what;
		int distance, kind;
	} pairs[] = {
		{ &m.a, &m.c, "A->C", 4, TEST_P2PDMA_MAP_BUS_ADDR },
		{ &m.b, &m.c, "B->C", 4, TEST_P2PDMA_MAP_BUS_ADDR },
		{ &m.d, &m.c, "D->C", 6, TEST_P2PDMA_MAP_THRU_HOST_BRIDGE },
		{ &m.a, &m.b, "A->B", 4, TEST_P2PDMA_MAP_BUS_ADDR },
		{ &m.b, &m.a, "B->A", 4, TEST_P2PDMA_MAP_BUS_ADDR },
		{ &m.a, &m.d, "A->D", 6, TEST_P2PDMA_MAP_THRU_HOST_BRIDGE },
		{ &m.d, &m.a, "D->A", 6, TEST_P2PDMA_MAP_THRU_HOST_BRIDGE },
	};
	struct test_p2pdma_distance d;
	size_t i;

	need_multi(_metadata, &self->env, &m);
	for (i = 0; i < ARRAY_SIZE(pairs); i++) {
		ASSERT_EQ(0, do_distance(self->fd, pairs[i].provider,
					 pairs[i].client, 1, 0, &d));
		EXPECT_EQ(pairs[i].distance, d.distance)
			TH_LOG("%s", pairs[i].what);
		EXPECT_EQ(pairs[i].kind, d.map_kind)
			TH_LOG("%s", pairs[i].what);
		EXPECT_EQ(0, d.map_errno) TH_LOG("%s", pairs[i].what);
	}
}

TEST_HARNESS_MAIN
