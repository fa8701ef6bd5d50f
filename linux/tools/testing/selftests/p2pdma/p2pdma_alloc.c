// SPDX-License-Identifier: GPL-2.0
/*
 * The in-kernel p2pmem allocation API through the test module:
 * pci_alloc_p2pmem()/pci_free_p2pmem(), pci_p2pmem_alloc_sgl()/
 * pci_p2pmem_free_sgl() and pci_p2pmem_virt_to_bus().  The provider's
 * "available" attribute must account for every page exactly.
 *
 * Natural alignment of power-of-two allocations is an improvement over
 * stock 6.12 (whose genalloc pool packs allocations first-fit): that test
 * runs only with P2P_KERNEL=ours.  Load test_p2pdma.ko first.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "../kselftest_harness.h"
#include "p2pdma_common.h"

#define MAX_HANDLES	65536

FIXTURE(alloc) {
	struct p2p_env env;
	long long avail0;
	size_t page;
	int fd;
	struct test_p2pdma_bdf provider;
};

FIXTURE_SETUP(alloc)
{
	self->fd = open(TEST_P2PDMA_DEVICE, O_RDWR);
	if (self->fd < 0)
		SKIP(return, "%s: %s (insmod test_p2pdma.ko)",
		     TEST_P2PDMA_DEVICE, strerror(errno));
	if (p2p_env_scan(&self->env))
		SKIP(return, "no PCI function with p2pmem in this guest");
	self->page = p2p_page_size();
	self->avail0 = p2p_attr(self->env.provider, "available");
	ASSERT_LE(0, self->avail0);
	if (self->avail0 < (1 << 20))
		SKIP(return, "only %lld bytes of p2pmem available", self->avail0);
	ASSERT_EQ(0, p2p_parse_bdf(self->env.provider, &self->provider));
}

/* Closing the file frees whatever a failed test left allocated. */
FIXTURE_TEARDOWN(alloc)
{
	close(self->fd);
	EXPECT_EQ(self->avail0, p2p_attr(self->env.provider, "available"));
}

static long long avail(const struct p2p_env *env)
{
	return p2p_attr(env->provider, "available");
}

static int do_alloc(int fd, const struct test_p2pdma_bdf *provider,
		    unsigned long long size, bool sgl,
		    struct test_p2pdma_alloc *a)
{
	memset(a, 0, sizeof(*a));
	a->provider = *provider;
	a->size = size;
	return ioctl(fd, sgl ? TEST_P2PDMA_ALLOC_SGL : TEST_P2PDMA_ALLOC, a) ?
	       -errno : 0;
}

static int do_free(int fd, unsigned long long handle, bool sgl)
{
	struct test_p2pdma_free f = { .handle = handle };

	return ioctl(fd, sgl ? TEST_P2PDMA_FREE_SGL : TEST_P2PDMA_FREE, &f) ?
	       -errno : 0;
}

TEST_F(alloc, free_restores_available)
{
	static const size_t sizes[] = { 4096, 65536, 1 << 20 };
	struct test_p2pdma_alloc a[3];
	long long expect = self->avail0;
	int i;

	for (i = 0; i < 3; i++) {
		ASSERT_EQ(0, do_alloc(self->fd, &self->provider, sizes[i],
				      false, &a[i]));
		ASSERT_NE(0, a[i].handle);
		ASSERT_NE(0, a[i].bus_addr);
		ASSERT_EQ(0, a[i].bus_addr % self->page);
		expect -= sizes[i];
		ASSERT_EQ(expect, avail(&self->env));
	}
	for (i = 2; i >= 0; i--) {
		ASSERT_EQ(0, do_free(self->fd, a[i].handle, false));
		expect += sizes[i];
		ASSERT_EQ(expect, avail(&self->env));
	}
	ASSERT_EQ(self->avail0, avail(&self->env));
}

/* Sizes are rounded up to whole pages, nothing more. */
TEST_F(alloc, page_granularity)
{
	static const size_t sizes[] = { 1, 100, 4097, 3 * 4096, 5 * 4096 + 1 };
	struct test_p2pdma_alloc a;
	size_t i, rounded;

	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		rounded = (sizes[i] + self->page - 1) & ~(self->page - 1);
		ASSERT_EQ(0, do_alloc(self->fd, &self->provider, sizes[i],
				      false, &a));
		ASSERT_NE(0, a.handle);
		ASSERT_EQ(self->avail0 - (long long)rounded, avail(&self->env))
			TH_LOG("size %zu", sizes[i]);
		ASSERT_EQ(0, do_free(self->fd, a.handle, false));
		ASSERT_EQ(self->avail0, avail(&self->env));
	}
}

/* Closing the file gives back everything it still holds. */
TEST_F(alloc, close_frees)
{
	struct test_p2pdma_alloc a;
	int fd, i;

	fd = open(TEST_P2PDMA_DEVICE, O_RDWR);
	ASSERT_LE(0, fd);
	for (i = 0; i < 8; i++) {
		ASSERT_EQ(0, do_alloc(fd, &self->provider, 3 * self->page,
				      i & 1, &a));
		ASSERT_NE(0, a.handle);
	}
	ASSERT_EQ(self->avail0 - 24 * (long long)self->page, avail(&self->env));
	close(fd);
	ASSERT_EQ(self->avail0, avail(&self->env));
}

/*
 * Exhaustion: more than is available fails cleanly; then taking 1 MiB and
 * then single pages until the API says no uses up every byte, and freeing
 * all of it (by closing) restores the start value.
 */
TEST_F(alloc, exhaustion)
{
	struct test_p2pdma_alloc a;
	long long taken = 0;
	int fd, i, n = 0;
	size_t chunk;

	ASSERT_EQ(0, do_alloc(self->fd, &self->provider,
			      self->avail0 + self->page, false, &a));
	ASSERT_EQ(0, a.handle);
	ASSERT_EQ(self->avail0, avail(&self->env));

	fd = open(TEST_P2PDMA_DEVICE, O_RDWR);
	ASSERT_LE(0, fd);
	for (i = 0; i < 2; i++) {
		chunk = i ? self->page : 1 << 20;
		for (;;) {
			ASSERT_EQ(0, do_alloc(fd, &self->provider, chunk,
					      false, &a));
			if (!a.handle)
				break;
			taken += chunk;
			ASSERT_GT(MAX_HANDLES, ++n);
		}
	}
	TH_LOG("%d allocations, %lld bytes", n, taken);
	ASSERT_EQ(self->avail0, taken);
	ASSERT_EQ(0, avail(&self->env));

	ASSERT_EQ(0, do_alloc(fd, &self->provider, 1, true, &a));
	ASSERT_EQ(0, a.handle);
	close(fd);
	ASSERT_EQ(self->avail0, avail(&self->env));
}

/* A function without p2pmem has nothing to hand out. */
TEST_F(alloc, no_p2pmem_provider)
{
	struct test_p2pdma_bdf peer;
	struct test_p2pdma_alloc a;

	if (self->env.peer[0] < 0)
		SKIP(return, "no NVMe without p2pmem");
	ASSERT_EQ(0, p2p_parse_bdf(self->env.nvme[self->env.peer[0]].bdf,
				   &peer));
	ASSERT_EQ(0, do_alloc(self->fd, &peer, self->page, false, &a));
	ASSERT_EQ(0, a.handle);
	ASSERT_EQ(0, do_alloc(self->fd, &peer, self->page, true, &a));
	ASSERT_EQ(0, a.handle);
}

TEST_F(alloc, bad_input)
{
	struct test_p2pdma_bdf bad = { .bus = 0xff, .devfn = 0xff };
	struct test_p2pdma_alloc a;

	ASSERT_EQ(-EINVAL, do_alloc(self->fd, &self->provider, 0, false, &a));
	ASSERT_EQ(-EINVAL, do_alloc(self->fd, &self->provider, 1ULL << 32,
				    true, &a));
	ASSERT_EQ(-ENODEV, do_alloc(self->fd, &bad, self->page, false, &a));
	ASSERT_EQ(-EINVAL, do_free(self->fd, 0, false));
	ASSERT_EQ(-EINVAL, do_free(self->fd, 12345, false));
	ASSERT_EQ(-EINVAL, do_free(self->fd, 1ULL << 40, true));
	ASSERT_EQ(self->avail0, avail(&self->env));
}

/* A handle is freed once, and only through the matching command. */
TEST_F(alloc, handle_checks)
{
	struct test_p2pdma_alloc a, s;

	ASSERT_EQ(0, do_alloc(self->fd, &self->provider, self->page, false, &a));
	ASSERT_NE(0, a.handle);
	ASSERT_EQ(0, do_alloc(self->fd, &self->provider, self->page, true, &s));
	ASSERT_NE(0, s.handle);
	ASSERT_NE(a.handle, s.handle);

	ASSERT_EQ(-EINVAL, do_free(self->fd, a.handle, true));
	ASSERT_EQ(-EINVAL, do_free(self->fd, s.handle, false));
	ASSERT_EQ(0, do_free(self->fd, a.handle, false));
	ASSERT_EQ(-EINVAL, do_free(self->fd, a.handle, false));
	ASSERT_EQ(0, do_free(self->fd, s.handle, true));
	ASSERT_EQ(-EINVAL, do_free(self->fd, s.handle, true));
	ASSERT_EQ(self->avail0, avail(&self->env));
}

TEST_F(alloc, sgl)
{
	static const size_t sizes[] = { 4096, 12288, 65536, 1 << 20 };
	struct test_p2pdma_alloc a;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		ASSERT_EQ(0, do_alloc(self->fd, &self->provider, sizes[i],
				      true, &a));
		ASSERT_NE(0, a.handle);
		ASSERT_EQ(1, a.nents);
		ASSERT_NE(0, a.bus_addr);
		ASSERT_EQ(0, a.bus_addr % self->page);
		ASSERT_EQ(self->avail0 - (long long)sizes[i], avail(&self->env));
		ASSERT_EQ(0, do_free(self->fd, a.handle, true));
		ASSERT_EQ(self->avail0, avail(&self->env));
	}
}

/* Allocations from the module and user mappings share one pool. */
TEST_F(alloc, shared_with_user_mappings)
{
	struct test_p2pdma_alloc a;
	size_t len = 16 * self->page;
	char *p;
	int fd;

	fd = p2p_open_allocate(self->env.provider, O_RDWR);
	ASSERT_LE(0, fd);
	p = p2p_map(fd, len);
	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, do_alloc(self->fd, &self->provider, len, false, &a));
	ASSERT_NE(0, a.handle);
	ASSERT_EQ(self->avail0 - 2 * (long long)len, avail(&self->env));
	ASSERT_EQ(0, munmap(p, len));
	close(fd);
	ASSERT_EQ(self->avail0 - (long long)len, avail(&self->env));
	ASSERT_EQ(0, do_free(self->fd, a.handle, false));
	ASSERT_EQ(self->avail0, avail(&self->env));
}

/*
 * Power-of-two allocations come back naturally aligned (bus address
 * multiple of the size), even when smaller ones were made before them.
 */
TEST_F(alloc, natural_alignment)
{
	struct test_p2pdma_alloc a;
	unsigned long long size;
	long long expect = self->avail0;

	if (!p2p_kernel_is("ours"))
		SKIP(return, "improvement over stock 6.12 (unaligned genalloc); P2P_KERNEL=%s",
		     getenv("P2P_KERNEL") ?: "unset");

	for (size = self->page; size <= (4 << 20) &&
	     (long long)size * 2 <= expect; size *= 2) {
		ASSERT_EQ(0, do_alloc(self->fd, &self->provider, size, false,
				      &a));
		ASSERT_NE(0, a.handle);
		EXPECT_LE(size, a.align)
			TH_LOG("size %#llx at bus %#llx", size,
			       (unsigned long long)a.bus_addr);
		expect -= size;
		ASSERT_EQ(expect, avail(&self->env));
	}
	/* freed on close by the teardown */
}

static int virt_to_bus(int fd, const struct test_p2pdma_bdf *provider,
		       unsigned long long handle, unsigned long long offset,
		       unsigned long long *bus)
{
	struct test_p2pdma_virt_to_bus v = {
		.provider = *provider, .handle = handle, .offset = offset,
	};

	if (ioctl(fd, TEST_P2PDMA_VIRT_TO_BUS, &v))
		return -errno;
	*bus = v.bus_addr;
	return 0;
}

/*
 * pci_p2pmem_virt_to_bus() follows the offset inside an allocation, and
 * says 0 for an address the provider does not own.  Stock 6.12 returns
 * gen_pool_virt_to_phys()'s -1 (all ones) there instead: a deliberate
 * difference (nvme-pci tests the result against 0), checked per kernel.
 */
TEST_F(alloc, virt_to_bus)
{
	unsigned long long bus = 0, foreign;
	struct test_p2pdma_alloc a;

	ASSERT_EQ(0, do_alloc(self->fd, &self->provider, 3 * self->page,
			      false, &a));
	ASSERT_NE(0, a.handle);
	ASSERT_EQ(0, virt_to_bus(self->fd, &self->provider, a.handle, 0, &bus));
	EXPECT_EQ(a.bus_addr, bus);
	ASSERT_EQ(0, virt_to_bus(self->fd, &self->provider, a.handle,
				 2 * self->page + 5, &bus));
	EXPECT_EQ(a.bus_addr + 2 * self->page + 5, bus);

	/* Past the allocation, or no such handle: the module refuses. */
	EXPECT_EQ(-EINVAL, virt_to_bus(self->fd, &self->provider, a.handle,
				       3 * self->page, &bus));
	EXPECT_EQ(-EINVAL, virt_to_bus(self->fd, &self->provider,
				       a.handle + 1000, 0, &bus));

	foreign = p2p_kernel_is("ours") ? 0 : ~0ULL;
	ASSERT_EQ(0, virt_to_bus(self->fd, &self->provider, 0, 0, &bus));
	EXPECT_EQ(foreign, bus);
	ASSERT_EQ(0, do_free(self->fd, a.handle, false));
}

struct held {
	unsigned long long handle;
	bool hole;
};

/*
 * Lay down 60 KiB allocations, each followed by a one-page one, until at
 * most @left bytes are available, then free the single pages: the occupied
 * part is riddled with one-page holes.  Returns the number of allocations
 * still held in @h, or -1.
 */
static int fragment(int fd, const struct test_p2pdma_bdf *provider,
		    const struct p2p_env *env, long long left,
		    struct held *h, int max)
{
	struct test_p2pdma_alloc a;
	int n = 0, i, kept = 0;

	while (avail(env) > left + 64 * 1024 && n + 2 <= max) {
		if (do_alloc(fd, provider, 60 * 1024, false, &a) || !a.handle)
			return -1;
		h[n].handle = a.handle;
		h[n++].hole = false;
		if (do_alloc(fd, provider, 4096, false, &a) || !a.handle)
			return -1;
		h[n].handle = a.handle;
		h[n++].hole = true;
	}
	for (i = 0; i < n; i++) {
		if (!h[i].hole)
			h[kept++] = h[i];
		else if (do_free(fd, h[i].handle, false))
			return -1;
	}
	return kept;
}

static int release(int fd, const struct held *h, int n)
{
	int i;

	for (i = 0; i < n; i++)
		if (do_free(fd, h[i].handle, false))
			return -1;
	return 0;
}

/*
 * Upstream's first-fit pool finds any contiguous free run.  Ours must too,
 * even in a nearly full pool with holes everywhere and after earlier
 * fragmentation left pages in the per-CPU caches: a 1 MiB allocation
 * succeeds while more than that is free in one piece above the holes.
 */
TEST_F(alloc, large_after_fragmentation)
{
	static struct held h[MAX_HANDLES];
	struct test_p2pdma_alloc a;
	int n, i;

	if (self->avail0 < (8 << 20))
		SKIP(return, "needs 8 MiB of p2pmem, %lld available",
		     self->avail0);

	/* A first round at half the pool, with small churn on top. */
	n = fragment(self->fd, &self->provider, &self->env, self->avail0 / 2,
		     h, MAX_HANDLES);
	ASSERT_LT(0, n);
	for (i = 0; i < 64; i++) {
		ASSERT_EQ(0, do_alloc(self->fd, &self->provider,
				      i & 1 ? 65536 : 4096, false, &a));
		ASSERT_NE(0, a.handle);
		ASSERT_EQ(0, do_free(self->fd, a.handle, false));
	}
	ASSERT_EQ(0, release(self->fd, h, n));
	ASSERT_EQ(self->avail0, avail(&self->env));

	/* Then nearly full: about 1.5 MiB left in one piece. */
	n = fragment(self->fd, &self->provider, &self->env, 3 << 19, h,
		     MAX_HANDLES);
	ASSERT_LT(0, n);
	TH_LOG("%d allocations, %lld bytes available", n, avail(&self->env));
	ASSERT_EQ(0, do_alloc(self->fd, &self->provider, 1 << 20, false, &a));
	EXPECT_NE(0, a.handle);
	if (a.handle)
		ASSERT_EQ(0, do_free(self->fd, a.handle, false));
	ASSERT_EQ(0, release(self->fd, h, n));
}

TEST_HARNESS_MAIN
