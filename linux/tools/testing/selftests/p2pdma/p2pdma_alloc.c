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
 *
 * Oracles that do not come from the P2PDMA core: the CMB's BAR as the PCI
 * core assigned it (sysfs "resource"), the CPU physical address of each
 * allocation as the memory-model code computes it (page_to_phys() in the
 * test module), and data patterns written into every live allocation and
 * read back before any of them is freed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
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
	struct p2p_bar bar;		/* the provider's CMB */
};

FIXTURE_SETUP(alloc)
{
	self->fd = open(TEST_P2PDMA_DEVICE, O_RDWR);
	p2p_require(_metadata, p2p_topology_from_env(),
		    self->fd >= 0,
		    "%s: %s (insmod test_p2pdma.ko)", TEST_P2PDMA_DEVICE,
		    strerror(errno));
	p2p_require(_metadata, p2p_topology_from_env(),
		    !p2p_env_scan(&self->env),
		    "no PCI function with p2pmem in this guest");
	self->page = p2p_page_size();
	self->avail0 = p2p_attr(self->env.provider, "available");
	ASSERT_LE(0, self->avail0);
	p2p_require(_metadata, self->env.topo,
		    self->avail0 >= (1 << 20),
		    "only %lld bytes of p2pmem available", self->avail0);
	ASSERT_EQ(0, p2p_parse_bdf(self->env.provider, &self->provider));
	ASSERT_EQ(0, p2p_cmb_bar(&self->env, self->env.provider, &self->bar))
		TH_LOG("no BAR of the CMB's size on %s", self->env.provider);
}

/*
 * Closing the file frees whatever a failed test left allocated.  This
 * runs in the parent, after the test's process has exited and so closed
 * its files: kselftest_harness.h of 6.12 skips a plain FIXTURE_TEARDOWN
 * when an ASSERT failed in the test body.
 */
FIXTURE_TEARDOWN_PARENT(alloc)
{
	EXPECT_EQ(self->avail0, p2p_attr(self->env.provider, "available"));
}

static long long avail(const struct p2p_env *env)
{
	return p2p_attr(env->provider, "available");
}

static unsigned long long lowest_bit(unsigned long long x)
{
	return x & -x;
}

/*
 * An allocation of @size bytes lies inside the CMB's BAR.  On q35 (x86)
 * the host bridge applies no offset between CPU physical and PCI bus
 * addresses, and sysfs "resource" shows CPU physical addresses: so the
 * bus address the P2PDMA core reports must equal the physical address
 * the memory-model code gives for the same page, and both fall in the
 * BAR.
 */
static void check_in_bar(struct __test_metadata *_metadata,
			 const struct p2p_bar *bar,
			 const struct test_p2pdma_alloc *a,
			 unsigned long long size)
{
	EXPECT_EQ(a->phys_addr, a->bus_addr)
		TH_LOG("bus %#llx phys %#llx", (unsigned long long)a->bus_addr,
		       (unsigned long long)a->phys_addr);
	ASSERT_LE(bar->start, a->phys_addr)
		TH_LOG("phys %#llx below BAR%d %#llx-%#llx",
		       (unsigned long long)a->phys_addr, bar->index,
		       bar->start, bar->end);
	ASSERT_LE(a->phys_addr + size - 1, bar->end)
		TH_LOG("phys %#llx + %#llx past BAR%d %#llx-%#llx",
		       (unsigned long long)a->phys_addr, size, bar->index,
		       bar->start, bar->end);
	/* pages are the allocation unit */
	ASSERT_EQ(0, (a->phys_addr - bar->start) % p2p_page_size());
}

TEST_F(alloc, free_restores_available)
{
	static const size_t sizes[] = { 4096, 65536, 1 << 20 };
	struct test_p2pdma_alloc a[3];
	long long expect = self->avail0;
	int i;

	for (i = 0; i < 3; i++) {
		ASSERT_EQ(0, p2p_tp_alloc(self->fd, &self->provider, sizes[i],
					  false, &a[i]));
		ASSERT_NE(0, a[i].handle);
		check_in_bar(_metadata, &self->bar, &a[i], sizes[i]);
		expect -= sizes[i];
		ASSERT_EQ(expect, avail(&self->env));
	}
	for (i = 2; i >= 0; i--) {
		ASSERT_EQ(0, p2p_tp_free(self->fd, a[i].handle, false));
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
		ASSERT_EQ(0, p2p_tp_alloc(self->fd, &self->provider, sizes[i],
					  false, &a));
		ASSERT_NE(0, a.handle);
		ASSERT_EQ(self->avail0 - (long long)rounded, avail(&self->env))
			TH_LOG("size %zu", sizes[i]);
		ASSERT_EQ(0, p2p_tp_free(self->fd, a.handle, false));
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
		ASSERT_EQ(0, p2p_tp_alloc(fd, &self->provider, 3 * self->page,
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

	ASSERT_EQ(0, p2p_tp_alloc(self->fd, &self->provider,
				  self->avail0 + self->page, false, &a));
	ASSERT_EQ(0, a.handle);
	ASSERT_EQ(self->avail0, avail(&self->env));

	fd = open(TEST_P2PDMA_DEVICE, O_RDWR);
	ASSERT_LE(0, fd);
	for (i = 0; i < 2; i++) {
		chunk = i ? self->page : 1 << 20;
		for (;;) {
			ASSERT_EQ(0, p2p_tp_alloc(fd, &self->provider, chunk,
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

	ASSERT_EQ(0, p2p_tp_alloc(fd, &self->provider, 1, true, &a));
	ASSERT_EQ(0, a.handle);
	close(fd);
	ASSERT_EQ(self->avail0, avail(&self->env));
}

/* A function without p2pmem has nothing to hand out. */
TEST_F(alloc, no_p2pmem_provider)
{
	struct test_p2pdma_bdf peer;
	struct test_p2pdma_alloc a;

	p2p_require(_metadata, self->env.topo,
		    self->env.peer[0] >= 0,
		    "no NVMe without p2pmem");
	ASSERT_EQ(0, p2p_parse_bdf(self->env.nvme[self->env.peer[0]].bdf,
				   &peer));
	ASSERT_EQ(0, p2p_tp_alloc(self->fd, &peer, self->page, false, &a));
	ASSERT_EQ(0, a.handle);
	ASSERT_EQ(0, p2p_tp_alloc(self->fd, &peer, self->page, true, &a));
	ASSERT_EQ(0, a.handle);
}

TEST_F(alloc, bad_input)
{
	struct test_p2pdma_bdf bad = { .bus = 0xff, .devfn = 0xff };
	struct test_p2pdma_alloc a;

	ASSERT_EQ(-EINVAL, p2p_tp_alloc(self->fd, &self->provider, 0, false, &a));
	ASSERT_EQ(-EINVAL, p2p_tp_alloc(self->fd, &self->provider, 1ULL << 32,
					true, &a));
	ASSERT_EQ(-ENODEV, p2p_tp_alloc(self->fd, &bad, self->page, false, &a));
	ASSERT_EQ(-EINVAL, p2p_tp_free(self->fd, 0, false));
	ASSERT_EQ(-EINVAL, p2p_tp_free(self->fd, 12345, false));
	ASSERT_EQ(-EINVAL, p2p_tp_free(self->fd, 1ULL << 40, true));
	ASSERT_EQ(self->avail0, avail(&self->env));
}

/* A handle is freed once, and only through the matching command. */
TEST_F(alloc, handle_checks)
{
	struct test_p2pdma_alloc a, s;

	ASSERT_EQ(0, p2p_tp_alloc(self->fd, &self->provider, self->page, false, &a));
	ASSERT_NE(0, a.handle);
	ASSERT_EQ(0, p2p_tp_alloc(self->fd, &self->provider, self->page, true, &s));
	ASSERT_NE(0, s.handle);
	ASSERT_NE(a.handle, s.handle);

	ASSERT_EQ(-EINVAL, p2p_tp_free(self->fd, a.handle, true));
	ASSERT_EQ(-EINVAL, p2p_tp_free(self->fd, s.handle, false));
	ASSERT_EQ(0, p2p_tp_free(self->fd, a.handle, false));
	ASSERT_EQ(-EINVAL, p2p_tp_free(self->fd, a.handle, false));
	ASSERT_EQ(0, p2p_tp_free(self->fd, s.handle, true));
	ASSERT_EQ(-EINVAL, p2p_tp_free(self->fd, s.handle, true));
	ASSERT_EQ(self->avail0, avail(&self->env));
}

TEST_F(alloc, sgl)
{
	static const size_t sizes[] = { 4096, 12288, 65536, 1 << 20 };
	struct test_p2pdma_alloc a;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		ASSERT_EQ(0, p2p_tp_alloc(self->fd, &self->provider, sizes[i],
					  true, &a));
		ASSERT_NE(0, a.handle);
		ASSERT_EQ(1, a.nents);
		check_in_bar(_metadata, &self->bar, &a, sizes[i]);
		ASSERT_EQ(self->avail0 - (long long)sizes[i], avail(&self->env));
		ASSERT_EQ(0, p2p_tp_free(self->fd, a.handle, true));
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
	ASSERT_EQ(0, p2p_tp_alloc(self->fd, &self->provider, len, false, &a));
	ASSERT_NE(0, a.handle);
	ASSERT_EQ(self->avail0 - 2 * (long long)len, avail(&self->env));
	ASSERT_EQ(0, munmap(p, len));
	close(fd);
	ASSERT_EQ(self->avail0 - (long long)len, avail(&self->env));
	ASSERT_EQ(0, p2p_tp_free(self->fd, a.handle, false));
	ASSERT_EQ(self->avail0, avail(&self->env));
}

/*
 * Power-of-two allocations come back naturally aligned (bus address
 * multiple of the size), even when smaller ones were made before them.
 * The alignment is computed here from the bus address, checked against
 * the physical address and the BAR, not taken from the module's "align".
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
		ASSERT_EQ(0, p2p_tp_alloc(self->fd, &self->provider, size, false,
					  &a));
		ASSERT_NE(0, a.handle);
		check_in_bar(_metadata, &self->bar, &a, size);
		EXPECT_LE(size, lowest_bit(a.bus_addr))
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
 * The expected bus address is the page's physical address plus the offset
 * (equal on q35, see check_in_bar()), inside the BAR.
 */
TEST_F(alloc, virt_to_bus)
{
	unsigned long long bus = 0, foreign;
	struct test_p2pdma_alloc a;

	ASSERT_EQ(0, p2p_tp_alloc(self->fd, &self->provider, 3 * self->page,
				  false, &a));
	ASSERT_NE(0, a.handle);
	check_in_bar(_metadata, &self->bar, &a, 3 * self->page);
	ASSERT_EQ(0, virt_to_bus(self->fd, &self->provider, a.handle, 0, &bus));
	EXPECT_EQ(a.phys_addr, bus);
	ASSERT_EQ(0, virt_to_bus(self->fd, &self->provider, a.handle,
				 2 * self->page + 5, &bus));
	EXPECT_EQ(a.phys_addr + 2 * self->page + 5, bus);

	/* Past the allocation, or no such handle: the module refuses. */
	EXPECT_EQ(-EINVAL, virt_to_bus(self->fd, &self->provider, a.handle,
				       3 * self->page, &bus));
	EXPECT_EQ(-EINVAL, virt_to_bus(self->fd, &self->provider,
				       a.handle + 1000, 0, &bus));

	foreign = p2p_kernel_is("ours") ? 0 : ~0ULL;
	ASSERT_EQ(0, virt_to_bus(self->fd, &self->provider, 0, 0, &bus));
	EXPECT_EQ(foreign, bus);
	ASSERT_EQ(0, p2p_tp_free(self->fd, a.handle, false));
}

static int pattern(int fd, unsigned long long handle, unsigned long long seed,
		   unsigned int op, unsigned long long *bad)
{
	struct test_p2pdma_pattern p = {
		.handle = handle, .seed = seed, .op = op,
	};

	if (ioctl(fd, TEST_P2PDMA_PATTERN, &p))
		return -errno;
	if (bad)
		*bad = p.bad_offset;
	return 0;
}

static int stats(int fd, struct test_p2pdma_stats *st)
{
	return ioctl(fd, TEST_P2PDMA_STATS, st) ? -errno : 0;
}

/*
 * The module's pattern: what one seed wrote, the same seed reads back and
 * another does not (first word already); a FILL reaches every byte of an
 * odd-sized allocation and of an SGL.
 */
TEST_F(alloc, pattern_ioctl)
{
	struct test_p2pdma_alloc a, s;
	unsigned long long bad = 0;

	ASSERT_EQ(0, p2p_tp_alloc(self->fd, &self->provider, 3 * self->page + 5,
				  false, &a));
	ASSERT_NE(0, a.handle);
	ASSERT_EQ(0, p2p_tp_alloc(self->fd, &self->provider, 2 * self->page,
				  true, &s));
	ASSERT_NE(0, s.handle);

	ASSERT_EQ(0, pattern(self->fd, a.handle, 7, TEST_P2PDMA_PATTERN_FILL,
			     NULL));
	ASSERT_EQ(0, pattern(self->fd, s.handle, 8, TEST_P2PDMA_PATTERN_FILL,
			     NULL));
	ASSERT_EQ(0, pattern(self->fd, a.handle, 7, TEST_P2PDMA_PATTERN_CHECK,
			     &bad));
	ASSERT_EQ(~0ULL, bad);
	ASSERT_EQ(0, pattern(self->fd, s.handle, 8, TEST_P2PDMA_PATTERN_CHECK,
			     &bad));
	ASSERT_EQ(~0ULL, bad);
	ASSERT_EQ(0, pattern(self->fd, a.handle, 8, TEST_P2PDMA_PATTERN_CHECK,
			     &bad));
	ASSERT_EQ(0, bad);

	/* bad input */
	ASSERT_EQ(-EINVAL, pattern(self->fd, a.handle, 7, 0, NULL));
	ASSERT_EQ(-EINVAL, pattern(self->fd, a.handle, 7, 3, NULL));
	ASSERT_EQ(-EINVAL, pattern(self->fd, 0, 7, TEST_P2PDMA_PATTERN_FILL,
				   NULL));
	ASSERT_EQ(-EINVAL, pattern(self->fd, s.handle + a.handle + 100, 7,
				   TEST_P2PDMA_PATTERN_CHECK, NULL));

	ASSERT_EQ(0, p2p_tp_free(self->fd, a.handle, false));
	ASSERT_EQ(-EINVAL, pattern(self->fd, a.handle, 7,
				   TEST_P2PDMA_PATTERN_CHECK, NULL));
	ASSERT_EQ(0, p2p_tp_free(self->fd, s.handle, true));
}

TEST_F(alloc, stats_ioctl)
{
	struct test_p2pdma_stats st;
	struct test_p2pdma_alloc a, s;

	ASSERT_EQ(0, stats(self->fd, &st));
	ASSERT_EQ(0, st.live);
	ASSERT_EQ(0, st.live_bytes);
	ASSERT_EQ(0, st.revoked);
	ASSERT_EQ(0, p2p_tp_alloc(self->fd, &self->provider, 100, false, &a));
	ASSERT_NE(0, a.handle);
	ASSERT_EQ(0, p2p_tp_alloc(self->fd, &self->provider, 3 * self->page,
				  true, &s));
	ASSERT_NE(0, s.handle);
	ASSERT_EQ(0, stats(self->fd, &st));
	ASSERT_EQ(2, st.live);
	ASSERT_EQ(100 + 3 * self->page, st.live_bytes);
	ASSERT_EQ(0, st.revoked);
	ASSERT_EQ(0, p2p_tp_free(self->fd, a.handle, false));
	ASSERT_EQ(0, stats(self->fd, &st));
	ASSERT_EQ(1, st.live);
	ASSERT_EQ(-EFAULT, ioctl(self->fd, TEST_P2PDMA_STATS, NULL) ? -errno : 0);
}

static int stress(int fd, const struct test_p2pdma_bdf *provider,
		  unsigned int iterations, unsigned int max_pages,
		  unsigned long long seed, struct test_p2pdma_stress *st)
{
	memset(st, 0, sizeof(*st));
	st->provider = *provider;
	st->iterations = iterations;
	st->max_pages = max_pages;
	st->seed = seed;
	return ioctl(fd, TEST_P2PDMA_STRESS, st) ? -errno : 0;
}

/* A short STRESS run on this thread: no corruption, everything back. */
TEST_F(alloc, stress_ioctl)
{
	struct test_p2pdma_stress st;
	struct test_p2pdma_stats sts;

	ASSERT_EQ(0, stress(self->fd, &self->provider, 300, 16, 1, &st));
	TH_LOG("%llu allocations, %llu refused",
	       (unsigned long long)st.allocs, (unsigned long long)st.failures);
	ASSERT_LT(100, st.allocs);
	ASSERT_EQ(0, st.failures);
	ASSERT_EQ(0, st.corrupt);
	ASSERT_EQ(0, st.revoked);
	ASSERT_EQ(self->avail0, avail(&self->env));
	ASSERT_EQ(0, stats(self->fd, &sts));
	ASSERT_EQ(0, sts.live);

	ASSERT_EQ(-EINVAL, stress(self->fd, &self->provider, 0, 16, 1, &st));
	ASSERT_EQ(-EINVAL, stress(self->fd, &self->provider, 10, 0, 1, &st));
	ASSERT_EQ(-EINVAL, stress(self->fd, &self->provider, 10, 513, 1, &st));
	ASSERT_EQ(-EINVAL, stress(self->fd, &self->provider, 10000001, 1, 1,
				  &st));
}

struct live {
	struct test_p2pdma_alloc a;
	unsigned long long size;	/* whole pages */
	unsigned long long seed;
	bool sgl;
	bool freed;
};

/* Do two of the physical ranges overlap?  Which, in *@pi and *@pj. */
static bool overlapping(const struct live *l, int n, int *pi, int *pj)
{
	int i, j;

	for (i = 0; i < n; i++) {
		for (j = i + 1; j < n; j++) {
			if (l[i].a.phys_addr + l[i].size > l[j].a.phys_addr &&
			    l[j].a.phys_addr + l[j].size > l[i].a.phys_addr) {
				*pi = i;
				*pj = j;
				return true;
			}
		}
	}
	return false;
}

/*
 * Live allocations never share a byte.  Many allocations of mixed sizes
 * (powers of two and not, whole pages and not, both kinds), each filled
 * with its own pattern; their physical ranges must be disjoint, and before
 * each free every allocation still live must read back its pattern.
 */
TEST_F(alloc, no_overlap)
{
	static const unsigned int pages[] = {
		1, 3, 2, 5, 1, 4, 7, 1, 6, 2, 1, 3, 8, 1, 5, 1,
		2, 7, 1, 3, 1, 4, 1, 6, 1, 2, 3, 1, 5, 1, 7, 1,
	};
	enum { N = ARRAY_SIZE(pages) };
	static struct live l[N];
	unsigned long long bad = 0, req;
	int i, j, k;

	for (i = 0; i < N; i++) {
		l[i].size = pages[i] * self->page;
		req = l[i].size - (i % 3 == 1 ? 100 : 0);
		l[i].sgl = i % 4 == 3;
		l[i].seed = 0x5eed0000ULL + i;
		l[i].freed = false;
		ASSERT_EQ(0, p2p_tp_alloc(self->fd, &self->provider, req,
					  l[i].sgl, &l[i].a));
		ASSERT_NE(0, l[i].a.handle);
		check_in_bar(_metadata, &self->bar, &l[i].a, l[i].size);
		ASSERT_EQ(0, pattern(self->fd, l[i].a.handle, l[i].seed,
				     TEST_P2PDMA_PATTERN_FILL, NULL));
	}
	ASSERT_FALSE(overlapping(l, N, &i, &j))
		TH_LOG("#%d %#llx+%#llx overlaps #%d %#llx+%#llx",
		       i, (unsigned long long)l[i].a.phys_addr, l[i].size, j,
		       (unsigned long long)l[j].a.phys_addr, l[j].size);

	/* free in an order unrelated to allocation order */
	for (k = 0; k < N; k++) {
		for (j = 0; j < N; j++) {
			if (l[j].freed)
				continue;
			ASSERT_EQ(0, pattern(self->fd, l[j].a.handle,
					     l[j].seed,
					     TEST_P2PDMA_PATTERN_CHECK, &bad));
			ASSERT_EQ(~0ULL, bad)
				TH_LOG("#%d (%llu bytes at %#llx): word at %#llx differs",
				       j, l[j].size,
				       (unsigned long long)l[j].a.phys_addr,
				       bad);
		}
		i = (k * 7) % N;
		ASSERT_EQ(0, p2p_tp_free(self->fd, l[i].a.handle, l[i].sgl));
		l[i].freed = true;
	}
	ASSERT_EQ(self->avail0, avail(&self->env));
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
		if (p2p_tp_alloc(fd, provider, 60 * 1024, false, &a) || !a.handle)
			return -1;
		h[n].handle = a.handle;
		h[n++].hole = false;
		if (p2p_tp_alloc(fd, provider, 4096, false, &a) || !a.handle)
			return -1;
		h[n].handle = a.handle;
		h[n++].hole = true;
	}
	for (i = 0; i < n; i++) {
		if (!h[i].hole)
			h[kept++] = h[i];
		else if (p2p_tp_free(fd, h[i].handle, false))
			return -1;
	}
	return kept;
}

static int release(int fd, const struct held *h, int n)
{
	int i;

	for (i = 0; i < n; i++)
		if (p2p_tp_free(fd, h[i].handle, false))
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

	p2p_require(_metadata, self->env.topo,
		    self->avail0 >= (8 << 20),
		    "needs 8 MiB of p2pmem, %lld available", self->avail0);

	/* A first round at half the pool, with small churn on top. */
	n = fragment(self->fd, &self->provider, &self->env, self->avail0 / 2,
		     h, MAX_HANDLES);
	ASSERT_LT(0, n);
	for (i = 0; i < 64; i++) {
		ASSERT_EQ(0, p2p_tp_alloc(self->fd, &self->provider,
					  i & 1 ? 65536 : 4096, false, &a));
		ASSERT_NE(0, a.handle);
		ASSERT_EQ(0, p2p_tp_free(self->fd, a.handle, false));
	}
	ASSERT_EQ(0, release(self->fd, h, n));
	ASSERT_EQ(self->avail0, avail(&self->env));

	/* Then nearly full: about 1.5 MiB left in one piece. */
	n = fragment(self->fd, &self->provider, &self->env, 3 << 19, h,
		     MAX_HANDLES);
	ASSERT_LT(0, n);
	TH_LOG("%d allocations, %lld bytes available", n, avail(&self->env));
	ASSERT_EQ(0, p2p_tp_alloc(self->fd, &self->provider, 1 << 20, false, &a));
	EXPECT_NE(0, a.handle);
	if (a.handle)
		ASSERT_EQ(0, p2p_tp_free(self->fd, a.handle, false));
	ASSERT_EQ(0, release(self->fd, h, n));
}

TEST_HARNESS_MAIN
