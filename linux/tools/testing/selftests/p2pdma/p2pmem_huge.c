// SPDX-License-Identifier: GPL-2.0
/*
 * Huge mappings of p2pmem/allocate: a mapping whose address and memory are
 * both 2 MiB (1 GiB) aligned is mapped by PMD (PUD) entries, and every way
 * mm has of cutting such an entry (fork, munmap or mprotect of part of it,
 * MADV_DONTNEED, mremap) keeps the data and gives back exactly what is no
 * longer mapped.
 *
 * How an address is mapped is read from the page tables by the test module
 * (TEST_P2PDMA_MAPLEVEL), not guessed from timings; the BAR the memory must
 * lie in comes from sysfs.  Stock 6.12 maps p2pmem with 4 KiB pages only,
 * which is what these tests expect of it.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../kselftest_harness.h"
#include "p2pdma_common.h"

#define SZ_2M		(2ULL * 1024 * 1024)
#define SZ_1G		(1024ULL * 1024 * 1024)

FIXTURE(huge) {
	struct p2p_env env;
	struct p2p_bar bar;
	long long avail0;
	size_t page;
	bool stock;
	/* entry sizes of aligned 2 MiB and 1 GiB spans: 4 KiB on stock */
	unsigned long long pmd, pud;
	int fd;
	int tp;
};

FIXTURE_SETUP(huge)
{
	p2p_require(_metadata, p2p_topology_from_env(),
		    !p2p_env_scan(&self->env),
		    "no PCI function with p2pmem in this guest");
	self->page = p2p_page_size();
	self->stock = p2p_kernel_is("baseline");
	self->pmd = self->stock ? self->page : SZ_2M;
	self->pud = self->stock ? self->page : SZ_1G;
	self->avail0 = p2p_attr(self->env.provider, "available");
	ASSERT_LE(0, self->avail0);
	p2p_require(_metadata, self->env.topo, self->avail0 >= 8 * SZ_2M,
		    "only %lld bytes of p2pmem available", self->avail0);
	ASSERT_EQ(0, p2p_cmb_bar(&self->env, self->env.provider, &self->bar));
	self->fd = p2p_open_allocate(self->env.provider, O_RDWR);
	ASSERT_LE(0, self->fd);
	self->tp = open(TEST_P2PDMA_DEVICE, O_RDWR);
	ASSERT_LE(0, self->tp) TH_LOG("%s: %s", TEST_P2PDMA_DEVICE,
				      strerror(errno));
}

FIXTURE_TEARDOWN(huge)
{
	close(self->tp);
	close(self->fd);
	EXPECT_EQ(self->avail0, p2p_wait_attr(self->env.provider, "available",
					      self->avail0, 5000));
}

static long long avail(const struct p2p_env *env)
{
	return p2p_attr(env->provider, "available");
}

/*
 * Map @len bytes of p2pmem at an address that is a multiple of @align plus
 * @skew: room is reserved with an anonymous mapping first.
 */
static char *map_at(int fd, size_t len, size_t align, size_t skew)
{
	char *room, *want, *p;

	room = mmap(NULL, len + 2 * align, PROT_NONE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (room == MAP_FAILED)
		return NULL;
	want = (char *)(((uintptr_t)room + align - 1) & -(uintptr_t)align);
	want += skew;
	munmap(room, len + 2 * align);
	p = mmap(want, len, PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_FIXED_NOREPLACE, fd, 0);
	return p == MAP_FAILED ? NULL : p;
}

/* Size of the entry mapping @addr (0: none) and the physical address. */
static unsigned long long level(int tp, const void *addr,
				unsigned long long *phys)
{
	struct test_p2pdma_maplevel ml = { .addr = (uintptr_t)addr };

	if (ioctl(tp, TEST_P2PDMA_MAPLEVEL, &ml))
		return ~0ULL;
	if (phys)
		*phys = ml.phys;
	return ml.size;
}

/* PAT index of the entry mapping @addr (see the test module's uapi). */
static unsigned int cache_index(int tp, const void *addr)
{
	struct test_p2pdma_maplevel ml = { .addr = (uintptr_t)addr };

	if (ioctl(tp, TEST_P2PDMA_MAPLEVEL, &ml))
		return TEST_P2PDMA_CACHE_UNKNOWN;
	return ml.cache;
}

#define PAT_MEMTYPES	"/sys/kernel/debug/x86/pat_memtype_list"

/*
 * The PAT index the kernel's memtype list (x86 debugfs) gives the BAR's
 * memory, by the table Documentation/arch/x86/pat.rst says Linux programs
 * (index 0 WB, 1 WC, 2 UC-, 3 UC, 5 WP, 7 WT); -1 if the list has no entry
 * for it.
 */
static int bar_pat_index(const struct p2p_bar *bar)
{
	static const struct { const char *name; int index; } types[] = {
		{ "write-back", 0 }, { "write-combining", 1 },
		{ "uncached-minus", 2 }, { "uncached", 3 },
		{ "write-protected", 5 }, { "write-through", 7 },
	};
	unsigned long long start, end;
	char line[256], name[64];
	int index = -1;
	size_t i;
	FILE *f = fopen(PAT_MEMTYPES, "r");

	if (!f)
		return -1;
	while (index < 0 && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "PAT: [mem %llx-%llx] %63s", &start, &end,
			   name) != 3 || bar->start < start || bar->start >= end)
			continue;
		for (i = 0; i < ARRAY_SIZE(types); i++)
			if (!strcmp(name, types[i].name))
				index = types[i].index;
	}
	fclose(f);
	return index;
}

/*
 * One word per page of [@from, @to) of the mapping at @p, made of @seed and
 * the page's offset: enough to see a page in the wrong place.
 */
static uint64_t word(uint64_t seed, size_t off)
{
	return seed * 0x9e3779b97f4a7c15ULL ^ off;
}

static void mark(char *p, size_t from, size_t to, size_t page, uint64_t seed)
{
	size_t off;

	for (off = from; off < to; off += page)
		__atomic_store_n((uint64_t *)(p + off), word(seed, off),
				 __ATOMIC_RELAXED);
}

/* Offset of the first page whose word is wrong, or -1. */
static ssize_t marked(const char *p, size_t from, size_t to, size_t page,
		      uint64_t seed)
{
	size_t off;

	for (off = from; off < to; off += page)
		if (__atomic_load_n((const uint64_t *)(p + off),
				    __ATOMIC_RELAXED) != word(seed, off))
			return off;
	return -1;
}

static sigjmp_buf fault_env;

static void on_fault(int sig)
{
	siglongjmp(fault_env, sig);
}

/* 0 if the access went through, else the signal it raised. */
static int access_signal(char *addr, bool write)
{
	struct sigaction sa = { .sa_handler = on_fault }, osegv, obus;
	int sig;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, &osegv);
	sigaction(SIGBUS, &sa, &obus);
	sig = sigsetjmp(fault_env, 1);
	if (!sig) {
		if (write)
			__atomic_store_n(addr, 0x5a, __ATOMIC_RELAXED);
		else
			__atomic_load_n(addr, __ATOMIC_RELAXED);
	}
	sigaction(SIGSEGV, &osegv, NULL);
	sigaction(SIGBUS, &obus, NULL);
	return sig;
}

/*
 * Every page of [p, p + len) is mapped by an entry of @size, in @bar; the
 * test module is open as @tp.
 */
static void expect_level(struct __test_metadata *_metadata, int tp,
			 const struct p2p_bar *bar, size_t page, char *p,
			 size_t len, unsigned long long size)
{
	unsigned long long phys = 0, base = 0;
	size_t off;

	for (off = 0; off < len; off += page) {
		ASSERT_EQ(size, level(tp, p + off, &phys))
			TH_LOG("entry size at offset %#zx", off);
		ASSERT_LE(bar->start, phys);
		ASSERT_GE(bar->end, phys);
		/* one entry maps one aligned, contiguous span */
		if (!(off % size))
			base = phys;
		ASSERT_EQ(base + off % size, phys);
		if (!(off % size))
			ASSERT_EQ(0, phys % size);
	}
}

TEST_F(huge, pmd_mapped)
{
	size_t len = 2 * SZ_2M;
	char *p = map_at(self->fd, len, SZ_2M, 0);

	ASSERT_NE(NULL, p) TH_LOG("mmap: %s", strerror(errno));
	ASSERT_EQ(self->avail0 - (long long)len, avail(&self->env));
	/* nothing is mapped before the first touch (stock maps at mmap) */
	if (!self->stock)
		ASSERT_EQ(0, level(self->tp, p, NULL));
	mark(p, 0, len, self->page, 1);
	expect_level(_metadata, self->tp, &self->bar, self->page,
		     p, len, self->pmd);
	ASSERT_EQ(-1, marked(p, 0, len, self->page, 1));
	ASSERT_EQ(0, munmap(p, len));
	ASSERT_EQ(self->avail0, avail(&self->env));
}

/* The 1 GiB CMB of the huge topology, at a 1 GiB aligned address. */
TEST_F(huge, pud_mapped)
{
	unsigned long long phys;
	size_t len = SZ_1G, off;
	char *p;

	if (!self->env.topo || self->env.topo->cmb_size < SZ_1G)
		SKIP(return, "no 1 GiB CMB in this topology");
	ASSERT_LE(SZ_1G, self->avail0)
		TH_LOG("the topology boots with nvme.use_cmb_sqes=0");
	p = map_at(self->fd, len, SZ_1G, 0);
	ASSERT_NE(NULL, p) TH_LOG("mmap: %s", strerror(errno));
	ASSERT_EQ(self->avail0 - (long long)len, avail(&self->env));
	mark(p, 0, len, SZ_2M, 2);
	ASSERT_EQ(self->pud, level(self->tp, p, &phys));
	/* all of the CMB, in order */
	ASSERT_EQ(self->bar.start, phys);
	for (off = 0; off < len; off += 64 * SZ_2M + self->page) {
		ASSERT_EQ(self->pud, level(self->tp, p + off, &phys));
		ASSERT_EQ(self->bar.start + off, phys);
	}
	ASSERT_EQ(-1, marked(p, 0, len, SZ_2M, 2));
	ASSERT_EQ(0, munmap(p, len));
	ASSERT_EQ(self->avail0, avail(&self->env));
}

/* Address and memory not aligned alike, or a short mapping: 4 KiB entries. */
TEST_F(huge, unaligned_uses_pages)
{
	size_t len = 2 * SZ_2M;
	char *p = map_at(self->fd, len, SZ_2M, self->page);
	char *q;

	ASSERT_NE(NULL, p);
	mark(p, 0, len, self->page, 3);
	expect_level(_metadata, self->tp, &self->bar, self->page,
		     p, len, self->page);
	ASSERT_EQ(-1, marked(p, 0, len, self->page, 3));

	q = map_at(self->fd, self->page, SZ_2M, 0);
	ASSERT_NE(NULL, q);
	mark(q, 0, self->page, self->page, 4);
	expect_level(_metadata, self->tp, &self->bar, self->page,
		     q, self->page, self->page);
	ASSERT_EQ(self->avail0 - (long long)(len + self->page),
		  avail(&self->env));
	ASSERT_EQ(0, munmap(q, self->page));
	ASSERT_EQ(0, munmap(p, len));
}

/* A child maps the same memory (again by PMD) and its writes are seen. */
TEST_F(huge, fork_shares)
{
	size_t len = 2 * SZ_2M;
	char *p = map_at(self->fd, len, SZ_2M, 0);
	int status;
	pid_t pid;

	ASSERT_NE(NULL, p);
	mark(p, 0, len, self->page, 5);
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		if (marked(p, 0, len, self->page, 5) != -1)
			_exit(1);
		if (level(self->tp, p + SZ_2M, NULL) != self->pmd)
			_exit(2);
		mark(p, 0, len, self->page, 6);
		_exit(0);
	}
	ASSERT_EQ(pid, p2p_waitpid_bounded(pid, &status, 30));
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(0, WEXITSTATUS(status));
	ASSERT_EQ(-1, marked(p, 0, len, self->page, 6));
	ASSERT_EQ(self->avail0 - (long long)len, avail(&self->env));
	ASSERT_EQ(0, munmap(p, len));
}

/* Unmapping a page inside a PMD gives that page back, the rest stays. */
TEST_F(huge, partial_munmap)
{
	size_t len = 2 * SZ_2M, page = self->page;
	char *p = map_at(self->fd, len, SZ_2M, 0);

	ASSERT_NE(NULL, p);
	mark(p, 0, len, page, 7);
	expect_level(_metadata, self->tp, &self->bar, self->page,
		     p, len, self->pmd);

	ASSERT_EQ(0, munmap(p + SZ_2M / 2, page));
	ASSERT_EQ(self->avail0 - (long long)(len - page), avail(&self->env));
	ASSERT_EQ(SIGSEGV, access_signal(p + SZ_2M / 2, false));
	/* the cut PMD comes back as pages, the other stays whole */
	ASSERT_EQ(-1, marked(p, 0, SZ_2M / 2, page, 7));
	ASSERT_EQ(-1, marked(p, SZ_2M / 2 + page, len, page, 7));
	expect_level(_metadata, self->tp, &self->bar, self->page,
		     p, SZ_2M / 2, page);
	expect_level(_metadata, self->tp, &self->bar, self->page,
		     p + SZ_2M, SZ_2M, self->pmd);

	/* a whole PMD */
	ASSERT_EQ(0, munmap(p + SZ_2M, SZ_2M));
	ASSERT_EQ(self->avail0 - (long long)(SZ_2M - page), avail(&self->env));
	ASSERT_EQ(0, munmap(p, SZ_2M));
	ASSERT_EQ(self->avail0, avail(&self->env));
}

/* A read-only page inside a PMD: writes to it fault, the rest is as was. */
TEST_F(huge, mprotect_middle)
{
	size_t len = 2 * SZ_2M, page = self->page;
	char *p = map_at(self->fd, len, SZ_2M, 0);
	char *ro;

	ASSERT_NE(NULL, p);
	ro = p + SZ_2M / 2;
	mark(p, 0, len, page, 8);
	ASSERT_EQ(0, mprotect(ro, page, PROT_READ));
	ASSERT_EQ(SIGSEGV, access_signal(ro, true));
	ASSERT_EQ(0, access_signal(ro, false));
	/* every other page takes writes, the read-only one kept its word */
	mark(p, 0, SZ_2M / 2, page, 9);
	mark(p, SZ_2M / 2 + page, len, page, 9);
	ASSERT_EQ(-1, marked(p, SZ_2M / 2, SZ_2M / 2 + page, page, 8));
	ASSERT_EQ(0, mprotect(ro, page, PROT_READ | PROT_WRITE));
	mark(p, SZ_2M / 2, SZ_2M / 2 + page, page, 9);
	ASSERT_EQ(-1, marked(p, 0, len, page, 9));
	expect_level(_metadata, self->tp, &self->bar, self->page,
		     p + SZ_2M, SZ_2M, self->pmd);
	ASSERT_EQ(self->avail0 - (long long)len, avail(&self->env));
	ASSERT_EQ(0, munmap(p, len));
}

/*
 * MADV_DONTNEED drops entries, not memory: on ours the pages refault with
 * their data, from a PMD again where the span allows it.  Stock 6.12 frees
 * the pages and a touch then raises SIGBUS; ours changes that on purpose,
 * since mm zaps a whole huge entry whenever a VMA is split inside it and
 * tells the driver nothing, so a zap cannot mean "free".
 */
TEST_F(huge, dontneed_keeps_data)
{
	size_t len = 2 * SZ_2M, page = self->page;
	char *p = map_at(self->fd, len, SZ_2M, 0);

	ASSERT_NE(NULL, p);
	mark(p, 0, len, page, 10);
	ASSERT_EQ(0, madvise(p + page, page, MADV_DONTNEED));
	ASSERT_EQ(0, madvise(p + SZ_2M, SZ_2M, MADV_DONTNEED));
	if (self->stock) {
		ASSERT_EQ(self->avail0 - (long long)(len - SZ_2M - page),
			  avail(&self->env));
		ASSERT_EQ(SIGBUS, access_signal(p + SZ_2M, false));
		ASSERT_EQ(0, munmap(p, len));
		return;
	}
	ASSERT_EQ(0, level(self->tp, p + SZ_2M, NULL));
	ASSERT_EQ(self->avail0 - (long long)len, avail(&self->env));
	ASSERT_EQ(-1, marked(p, 0, len, page, 10));
	expect_level(_metadata, self->tp, &self->bar, self->page,
		     p, len, SZ_2M);
	ASSERT_EQ(0, munmap(p, len));
}

/*
 * PTE, PMD and PUD entries of one BAR map it with one cache mode, the one
 * the kernel recorded for the BAR (uncached-minus for P2P memory).  6.12's
 * vmf_insert_pfn_pud() dropped the mode it looked up and wrote PUDs
 * write-back: CPU stores to the CMB then sat in the cache.  Stock 6.12
 * maps p2pmem with vm_insert_page() and the VMA's default protection, so
 * its 4 KiB entries are write-back too (PAT index 0): that is what the
 * test expects of it, a difference made on purpose.
 */
TEST_F(huge, same_cache_mode_at_every_level)
{
	int want = bar_pat_index(&self->bar);
	unsigned int pte, pmd, pud;
	size_t len = 2 * SZ_2M;
	char *p;

	p2p_require(_metadata, self->env.topo, p2p_exists(PAT_MEMTYPES),
		    "no %s", PAT_MEMTYPES);
	ASSERT_LE(0, want) TH_LOG("no memtype for the BAR at %#llx",
				  self->bar.start);

	p = map_at(self->fd, len, SZ_2M, 0);
	ASSERT_NE(NULL, p);
	mark(p, 0, len, SZ_2M, 12);
	ASSERT_EQ(self->pmd, level(self->tp, p, NULL));
	pmd = cache_index(self->tp, p);
	ASSERT_EQ(0, munmap(p, len));

	p = map_at(self->fd, len, SZ_2M, self->page);
	ASSERT_NE(NULL, p);
	mark(p, 0, self->page, self->page, 12);
	ASSERT_EQ(self->page, level(self->tp, p, NULL));
	pte = cache_index(self->tp, p);
	ASSERT_EQ(0, munmap(p, len));

	if (self->stock) {
		ASSERT_EQ(0, pte);
		ASSERT_EQ(0, pmd);
		return;
	}
	ASSERT_EQ(want, pte);
	ASSERT_EQ(want, pmd);
	if (!self->env.topo || self->env.topo->cmb_size < SZ_1G)
		return;
	p = map_at(self->fd, SZ_1G, SZ_1G, 0);
	ASSERT_NE(NULL, p);
	mark(p, 0, SZ_2M, SZ_2M, 12);
	ASSERT_EQ(self->pud, level(self->tp, p, NULL));
	pud = cache_index(self->tp, p);
	ASSERT_EQ(0, munmap(p, SZ_1G));
	ASSERT_EQ(want, pud) TH_LOG("PUD entry PAT index %u, PTE %u", pud,
				    pte);
}

/*
 * Room for @n GiB of mappings at a 1 GiB aligned address, reserved with an
 * inaccessible anonymous mapping; *@room is what to munmap at the end.
 */
static char *gib_room(size_t n, char **room)
{
	*room = mmap(NULL, (n + 1) * SZ_1G, PROT_NONE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (*room == MAP_FAILED)
		return NULL;
	return (char *)(((uintptr_t)*room + SZ_1G - 1) & -(uintptr_t)SZ_1G);
}

/*
 * Cutting a VMA inside a PUD (munmap of one page): the PUD must go first.
 * 6.12's VMA split looks for a PMD to split under the cut and, under a PUD
 * entry, would read the P2P memory as a page table.  The rest keeps its
 * data and comes back as PMDs; exactly the page is given back.
 */
TEST_F(huge, pud_munmap_one_page)
{
	size_t len = SZ_1G, page = self->page, cut = SZ_1G / 2 + page;
	char *p;

	if (!self->env.topo || self->env.topo->cmb_size < SZ_1G)
		SKIP(return, "no 1 GiB CMB in this topology");
	ASSERT_LE(SZ_1G, self->avail0);
	p = map_at(self->fd, len, SZ_1G, 0);
	ASSERT_NE(NULL, p);
	mark(p, 0, len, SZ_2M, 13);
	ASSERT_EQ(self->pud, level(self->tp, p, NULL));

	ASSERT_EQ(0, munmap(p + cut, page));
	ASSERT_EQ(self->avail0 - (long long)(len - page), avail(&self->env));
	ASSERT_EQ(SIGSEGV, access_signal(p + cut, false));
	ASSERT_EQ(-1, marked(p, 0, len, SZ_2M, 13));
	ASSERT_EQ(self->pmd, level(self->tp, p, NULL));
	ASSERT_EQ(self->pmd, level(self->tp, p + len - SZ_2M, NULL));
	ASSERT_EQ(self->page, level(self->tp, p + cut - page, NULL));
	ASSERT_EQ(0, munmap(p, len));
	ASSERT_EQ(self->avail0, avail(&self->env));
}

/*
 * mremap of a PUD-mapped GiB: whole to another 1 GiB aligned address (the
 * PUD moves), then to an address only 2 MiB aligned (PMDs), then 2 MiB of
 * it elsewhere.  The data follows, the old addresses are gone (SIGSEGV),
 * and no memory is given back until the last munmap.  6.12's mremap took
 * the PUD entry for a bad page table and cleared it without a TLB flush.
 */
TEST_F(huge, pud_mremap)
{
	size_t len = SZ_1G, piece = 100 * SZ_2M;
	char *room, *base, *p, *q, *r, *s;
	int kmsg;

	if (!self->env.topo || self->env.topo->cmb_size < SZ_1G)
		SKIP(return, "no 1 GiB CMB in this topology");
	ASSERT_LE(SZ_1G, self->avail0);
	kmsg = p2p_kmsg_open();
	ASSERT_LE(0, kmsg);
	base = gib_room(5, &room);
	ASSERT_NE(NULL, base);
	p = mmap(base, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
		 self->fd, 0);
	ASSERT_EQ(base, p) TH_LOG("mmap: %s", strerror(errno));
	mark(p, 0, len, SZ_2M, 14);
	ASSERT_EQ(self->pud, level(self->tp, p, NULL));

	q = base + 2 * SZ_1G;
	ASSERT_EQ(q, mremap(p, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, q));
	ASSERT_EQ(0, level(self->tp, p, NULL));
	ASSERT_EQ(SIGSEGV, access_signal(p, false));
	ASSERT_EQ(-1, marked(q, 0, len, SZ_2M, 14));
	ASSERT_EQ(self->pud, level(self->tp, q, NULL));
	ASSERT_EQ(self->avail0 - (long long)len, avail(&self->env));

	r = base + SZ_2M;
	ASSERT_EQ(r, mremap(q, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, r));
	ASSERT_EQ(SIGSEGV, access_signal(q + len / 2, false));
	ASSERT_EQ(-1, marked(r, 0, len, SZ_2M, 14));
	ASSERT_EQ(self->pmd, level(self->tp, r, NULL));
	ASSERT_EQ(self->pmd, level(self->tp, r + len - SZ_2M, NULL));

	s = base + 4 * SZ_1G;
	ASSERT_EQ(s, mremap(r + piece, SZ_2M, SZ_2M,
			    MREMAP_MAYMOVE | MREMAP_FIXED, s));
	ASSERT_EQ(word(14, piece),
		  __atomic_load_n((uint64_t *)s, __ATOMIC_RELAXED));
	ASSERT_EQ(SIGSEGV, access_signal(r + piece, false));
	ASSERT_EQ(-1, marked(r, 0, piece, SZ_2M, 14));
	ASSERT_EQ(-1, marked(r, piece + SZ_2M, len, SZ_2M, 14));
	ASSERT_EQ(self->avail0 - (long long)len, avail(&self->env));

	ASSERT_EQ(0, munmap(room, 6 * SZ_1G));
	ASSERT_EQ(self->avail0, avail(&self->env));
	/* mm's complaint when it takes a huge PUD for a bad table */
	ASSERT_FALSE(p2p_kmsg_search(kmsg, "bad pud", NULL));
	close(kmsg);
}

/* A thread reading 2 MiB at a time into a mapping until told to stop. */
struct reader {
	int fd;
	char *buf;
	int reads;
	int stop;
	int err;
};

static void *reader_loop(void *arg)
{
	struct reader *r = arg;
	int i;

	for (i = 0; !__atomic_load_n(&r->stop, __ATOMIC_SEQ_CST); i++) {
		if (pread(r->fd, r->buf + SZ_2M * (i % 16), SZ_2M, 0) != SZ_2M) {
			r->err = errno;
			break;
		}
		__atomic_add_fetch(&r->reads, 1, __ATOMIC_SEQ_CST);
	}
	return NULL;
}

/*
 * Pages unmapped while GUP holds their folio (here: O_DIRECT reads by
 * another thread into another part of the same 1 GiB folio, back to back)
 * are kept, then given back once the pins are gone, while the rest of the
 * mapping stays: not only when the file is released.  A thread, not a
 * child: a child's copy of the mapping would give the pages back at its
 * exit.  On stock every 4 KiB page is a folio of its own and nothing is
 * kept; there only the final count is checked.
 */
TEST_F_TIMEOUT(huge, unmapped_while_pinned_comes_back, 120)
{
	struct reader r = { 0 };
	size_t len = SZ_1G, gone = 0;
	bool kept = false;
	char path[64];
	pthread_t th;
	char *p;
	int i;

	if (!self->env.topo || self->env.topo->cmb_size < SZ_1G)
		SKIP(return, "needs the 1 GiB folio of the huge topology");
	ASSERT_LE(0, self->env.peer[0]);
	p = map_at(self->fd, len, SZ_1G, 0);
	ASSERT_NE(NULL, p);
	mark(p, 0, len, SZ_2M, 16);

	snprintf(path, sizeof(path), "/dev/%s",
		 self->env.nvme[self->env.peer[0]].disk);
	r.fd = open(path, O_RDONLY | O_DIRECT);
	ASSERT_LE(0, r.fd);
	r.buf = p + len / 2;
	ASSERT_EQ(0, pthread_create(&th, NULL, reader_loop, &r));
	for (i = 0; i < 3000 && __atomic_load_n(&r.reads, __ATOMIC_SEQ_CST) < 2;
	     i++)
		p2p_msleep(10);
	if (__atomic_load_n(&r.reads, __ATOMIC_SEQ_CST) < 2) {
		__atomic_store_n(&r.stop, 1, __ATOMIC_SEQ_CST);
		pthread_join(th, NULL);
		ASSERT_LE(2, r.reads) TH_LOG("reader: %s", strerror(r.err));
	}

	/* 2 MiB at a time from the start, until one is kept for a pin */
	for (i = 0; i < 16 && !kept; i++) {
		ASSERT_EQ(0, munmap(p + gone, SZ_2M));
		gone += SZ_2M;
		kept = avail(&self->env) != self->avail0 - (long long)(len - gone);
	}
	__atomic_store_n(&r.stop, 1, __ATOMIC_SEQ_CST);
	ASSERT_EQ(0, pthread_join(th, NULL));
	ASSERT_EQ(0, r.err) TH_LOG("reader: %s", strerror(r.err));
	TH_LOG("%d reads, %zu MiB unmapped, kept: %d", r.reads, gone >> 20,
	       kept);
	if (!self->stock)
		ASSERT_TRUE(kept) TH_LOG("no unmapped page was ever pinned");
	ASSERT_EQ(self->avail0 - (long long)(len - gone),
		  p2p_wait_attr(self->env.provider, "available",
				self->avail0 - (long long)(len - gone), 2000));
	ASSERT_EQ(-1, marked(p, gone, len / 2, SZ_2M, 16));
	ASSERT_EQ(0, munmap(p + gone, len - gone));
	close(r.fd);
}

/*
 * @len bytes of a pattern (@seed) written to the first peer, read into
 * @buf by O_DIRECT, written from @buf to the second peer and read back
 * into host memory: the data must have gone through @buf intact.
 */
static void peer_copy(struct __test_metadata *_metadata,
		      const struct p2p_env *env, char *buf, size_t len,
		      uint64_t seed)
{
	char src[64], dst[64], *host;
	int in, out;

	ASSERT_LE(0, env->peer[1]);
	snprintf(src, sizeof(src), "/dev/%s", env->nvme[env->peer[0]].disk);
	snprintf(dst, sizeof(dst), "/dev/%s", env->nvme[env->peer[1]].disk);
	host = p2p_host_buffer(len);
	ASSERT_NE(NULL, host);
	p2p_fill(host, len, seed);
	in = open(src, O_RDWR | O_DIRECT);
	out = open(dst, O_RDWR | O_DIRECT);
	ASSERT_LE(0, in);
	ASSERT_LE(0, out);
	ASSERT_EQ((ssize_t)len, pwrite(in, host, len, 0));
	ASSERT_EQ((ssize_t)len, pread(in, buf, len, 0));
	ASSERT_EQ((ssize_t)len, pwrite(out, buf, len, 0));
	memset(host, 0, len);
	ASSERT_EQ((ssize_t)len, pread(out, host, len, 0));
	ASSERT_EQ(-1, p2p_mismatch(host, len, seed));
	close(in);
	close(out);
	free(host);
}

/* QEMU's ivshmem-plain: a RAM-backed BAR 2 that no guest driver claims. */
#define IVSHMEM_VENDOR	0x1af4
#define IVSHMEM_DEVICE	0x1110
#define PROVIDER_MOD	"test_p2pdma_provider"
#define PROVIDER_DRV	"/sys/bus/pci/drivers/" PROVIDER_MOD

/* The first PCI function with IDs @vendor:@device, into @bdf. */
static bool find_function(unsigned int vendor, unsigned int device,
			  char *bdf, size_t len)
{
	char path[PATH_MAX];
	struct dirent *de;
	bool found = false;
	DIR *d = opendir(P2P_PCI_DEVICES);

	while (d && !found && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), P2P_PCI_DEVICES "/%s/vendor",
			 de->d_name);
		if (p2p_read_ll(path) != vendor)
			continue;
		snprintf(path, sizeof(path), P2P_PCI_DEVICES "/%s/device",
			 de->d_name);
		if (p2p_read_ll(path) != device)
			continue;
		p2p_copy_str(bdf, len, de->d_name);
		found = true;
	}
	if (d)
		closedir(d);
	return found;
}

/*
 * Bind @bdf to the test provider driver with @ranges ("bar:offset:size,..."
 * as the module takes them); 0 or -errno.
 */
static int provider_bind(const char *bdf, const char *ranges)
{
	char path[PATH_MAX];
	int err;

	char load[160];

	snprintf(load, sizeof(load), "modprobe %s 2>/dev/null || insmod %s/%s.ko",
		 PROVIDER_MOD, "/opt/p2p/modules", PROVIDER_MOD);
	if (!p2p_exists("/sys/module/" PROVIDER_MOD) && system(load))
		return -ENOENT;
	err = p2p_write_str("/sys/module/" PROVIDER_MOD "/parameters/ranges",
			    ranges);
	if (err)
		return err;
	snprintf(path, sizeof(path), P2P_PCI_DEVICES "/%s/driver_override",
		 bdf);
	err = p2p_write_str(path, PROVIDER_MOD);
	if (err)
		return err;
	return p2p_write_bounded(PROVIDER_DRV "/bind", bdf, 30, NULL);
}

/* Unbind @bdf from the test provider, bounded; 0 or -errno. */
static int provider_unbind(const char *bdf)
{
	char path[PATH_MAX];
	int err = 0;

	snprintf(path, sizeof(path), PROVIDER_DRV "/%s", bdf);
	if (p2p_exists(path))
		err = p2p_write_bounded(PROVIDER_DRV "/unbind", bdf, 30, NULL);
	snprintf(path, sizeof(path), P2P_PCI_DEVICES "/%s/driver_override",
		 bdf);
	p2p_write_str(path, "\n");
	return err;
}

/*
 * The ivshmem function of the huge topology and its 2 GiB BAR 2, into
 * @bdf and @bar; the test skips outside that topology.
 */
static void ivshmem_bar(struct __test_metadata *_metadata,
			struct _test_data_huge *self, char *bdf, size_t len,
			struct p2p_bar *bar)
{
	if (!self->env.topo || self->env.topo->cmb_size < SZ_1G)
		p2p_skip(_metadata, "not the huge topology");
	p2p_require(_metadata, self->env.topo,
		    find_function(IVSHMEM_VENDOR, IVSHMEM_DEVICE, bdf, len),
		    "no ivshmem-plain function");
	ASSERT_EQ(0, p2p_read_bar(bdf, 2, bar));
	ASSERT_EQ(2 * SZ_1G, bar->end - bar->start + 1);
}

/*
 * A range that is not a multiple of 1 GiB gets 2 MiB folios, yet its first
 * GiB is one 1 GiB block of the pool.  Mapped at a 1 GiB aligned address,
 * that block must get PMDs, not a PUD: GUP of a PUD takes every page's
 * reference on the first page's folio and unpins page by page, so a
 * folio stays pinned for ever and the map never gives the memory back.
 * The range: 1.5 GiB of the ivshmem BAR, offered by test_p2pdma_provider.
 * An O_DIRECT read from B into the untouched mapping across two folios
 * (GUP faults the entry in), the data checked through C, then every page
 * back at munmap and a bounded unbind.
 */
TEST_F_TIMEOUT(huge, pud_needs_a_gib_folio, 240)
{
	const unsigned long long size = SZ_1G + SZ_1G / 2;
	size_t len = SZ_1G, io = 2 * SZ_2M;
	char bdf[32], ranges[64], *room, *base, *p;
	struct p2p_bar bar;
	int fd;

	ivshmem_bar(_metadata, self, bdf, sizeof(bdf), &bar);
	ASSERT_LE(0, self->env.peer[1]);
	snprintf(ranges, sizeof(ranges), "2:0:%#llx", size);
	ASSERT_EQ(0, provider_bind(bdf, ranges));
	ASSERT_EQ((long long)size, p2p_attr(bdf, "size"));
	ASSERT_EQ((long long)size, p2p_attr(bdf, "available"));

	fd = p2p_open_allocate(bdf, O_RDWR);
	ASSERT_LE(0, fd);
	base = gib_room(1, &room);
	ASSERT_NE(NULL, base);
	p = mmap(base, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
		 fd, 0);
	ASSERT_EQ(base, p) TH_LOG("mmap: %s", strerror(errno));
	close(fd);

	/* nothing mapped yet: GUP faults the entry in and follows it */
	peer_copy(_metadata, &self->env, p + SZ_1G / 2 - SZ_2M, io, 15);
	ASSERT_EQ(self->pmd, level(self->tp, p + SZ_1G / 2, NULL));

	ASSERT_EQ(0, munmap(room, 2 * SZ_1G));
	ASSERT_EQ((long long)size, p2p_wait_attr(bdf, "available", size, 2000));
	ASSERT_EQ(0, provider_unbind(bdf));
	ASSERT_FALSE(p2p_has_p2pmem_dir(bdf));
}

static int cmp_ull(const void *a, const void *b)
{
	unsigned long long x = *(const unsigned long long *)a;
	unsigned long long y = *(const unsigned long long *)b;

	return x < y ? -1 : x > y;
}

/*
 * One provider, four ranges of one BAR (pci_p2pdma_add_resource() called
 * four times, in no order of address): 2 MiB at the start, 4 MiB at 1 GiB,
 * 2 MiB at the end, 6 MiB at 1.5 GiB.  size and available add them up; one
 * mapping of all of it takes every page of every range once, each in its
 * range of the BAR (from sysfs resource and the offsets the test chose),
 * PMD-mapped; O_DIRECT through it is verified; munmap gives all back and
 * the unbind is bounded.  Stock allocates a mapping from one range only:
 * there it maps the 6 MiB.
 */
TEST_F_TIMEOUT(huge, provider_with_several_ranges, 240)
{
	static const unsigned long long rng[][2] = {
		{ 0, SZ_2M }, { SZ_1G, 2 * SZ_2M },
		{ 2 * SZ_1G - SZ_2M, SZ_2M }, { SZ_1G + SZ_1G / 2, 3 * SZ_2M },
	};
	unsigned long long size = 0, phys = 0, *seen;
	char bdf[32], ranges[160], *p;
	size_t len, off, npages, io = SZ_2M, i, j;
	struct p2p_bar bar;
	int fd, n = 0;

	ivshmem_bar(_metadata, self, bdf, sizeof(bdf), &bar);
	ASSERT_LE(0, self->env.peer[1]);
	for (i = 0; i < 4; i++) {
		n += snprintf(ranges + n, sizeof(ranges) - n, "%s2:%#llx:%#llx",
			      i ? "," : "", rng[i][0], rng[i][1]);
		size += rng[i][1];
	}
	ASSERT_EQ(0, provider_bind(bdf, ranges));
	ASSERT_EQ((long long)size, p2p_attr(bdf, "size"));
	ASSERT_EQ((long long)size, p2p_attr(bdf, "available"));

	len = self->stock ? rng[3][1] : size;
	fd = p2p_open_allocate(bdf, O_RDWR);
	ASSERT_LE(0, fd);
	p = map_at(fd, len, SZ_2M, 0);
	ASSERT_NE(NULL, p) TH_LOG("mmap: %s", strerror(errno));
	close(fd);
	ASSERT_EQ((long long)(size - len), p2p_attr(bdf, "available"));

	/* every page in one of the ranges, none twice */
	npages = len / self->page;
	seen = calloc(npages, sizeof(*seen));
	ASSERT_NE(NULL, seen);
	mark(p, 0, len, self->page, 17);
	for (off = 0; off < len; off += self->page) {
		ASSERT_NE(0, level(self->tp, p + off, &phys));
		for (j = 0; j < 4; j++)
			if (phys >= bar.start + rng[j][0] &&
			    phys < bar.start + rng[j][0] + rng[j][1])
				break;
		ASSERT_GT(4, j) TH_LOG("page %#zx at %#llx: in no range", off,
				       phys);
		seen[off / self->page] = phys;
	}
	qsort(seen, npages, sizeof(*seen), cmp_ull);
	for (i = 1; i < npages; i++)
		ASSERT_NE(seen[i - 1], seen[i]);
	free(seen);
	ASSERT_EQ(-1, marked(p, 0, len, self->page, 17));
	expect_level(_metadata, self->tp, &bar, self->page, p, len,
		     self->pmd);

	/* the last 2 MiB: the end of the last block */
	peer_copy(_metadata, &self->env, p + len - io, io, 18);

	ASSERT_EQ(0, munmap(p, len));
	ASSERT_EQ((long long)size, p2p_wait_attr(bdf, "available", size, 2000));
	ASSERT_EQ(0, provider_unbind(bdf));
	ASSERT_FALSE(p2p_has_p2pmem_dir(bdf));
}

/*
 * A range that memory hotplug cannot take (an offset that is not a
 * multiple of 2 MiB, its unit on x86) is refused with EINVAL and a line
 * naming it, before memremap_pages(): stock 6.12 handed it on, which
 * WARNed in __add_pages() ("Misaligned __add_pages") and then failed.  The
 * device is left without p2pmem, and the driver binds fine afterwards.
 */
TEST_F(huge, misaligned_range_refused)
{
	struct p2p_bar bar;
	char bdf[32];
	int kmsg;

	ivshmem_bar(_metadata, self, bdf, sizeof(bdf), &bar);
	if (self->stock)
		SKIP(return, "stock 6.12 WARNs in __add_pages() (fixed on purpose)");
	kmsg = p2p_kmsg_open();
	ASSERT_LE(0, kmsg);
	ASSERT_EQ(-EINVAL, provider_bind(bdf, "2:0x1000:0x200000"));
	ASSERT_FALSE(p2p_has_p2pmem_dir(bdf));
	ASSERT_EQ(-EINVAL, provider_bind(bdf, "2:0:0x201000"));
	ASSERT_TRUE(p2p_kmsg_search(kmsg, bdf, "not aligned to"));
	ASSERT_FALSE(p2p_kmsg_search(kmsg, "Misaligned", NULL));
	ASSERT_EQ(0, provider_bind(bdf, "2:0x200000:0x200000"));
	ASSERT_EQ(SZ_2M, p2p_attr(bdf, "size"));
	ASSERT_EQ(0, provider_unbind(bdf));
	close(kmsg);
}

/* mremap to another aligned address moves the data, PMDs and all. */
TEST_F(huge, mremap_moves)
{
	size_t len = 2 * SZ_2M, page = self->page;
	char *p = map_at(self->fd, len, SZ_2M, 0);
	char *q;

	ASSERT_NE(NULL, p);
	mark(p, 0, len, page, 11);
	q = mmap(NULL, len + SZ_2M, PROT_NONE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	ASSERT_NE(MAP_FAILED, q);
	q = (char *)(((uintptr_t)q + SZ_2M - 1) & ~(uintptr_t)(SZ_2M - 1));
	ASSERT_EQ(q, mremap(p, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, q));
	ASSERT_EQ(-1, marked(q, 0, len, page, 11));
	expect_level(_metadata, self->tp, &self->bar, self->page,
		     q, len, self->pmd);
	ASSERT_EQ(self->avail0 - (long long)len, avail(&self->env));
	ASSERT_EQ(0, munmap(q, len));
}

/* Data through the disks: NVMe -> PMD-mapped p2pmem -> NVMe, verified. */
TEST_F(huge, odirect_copy)
{
	size_t len = SZ_2M;
	char *p = map_at(self->fd, len, SZ_2M, 0), *host;
	char src[64], dst[64];
	int in, out;

	ASSERT_NE(NULL, p);
	if (self->env.peer[0] < 0 || self->env.peer[1] < 0 ||
	    self->env.expect == P2P_EXPECT_REFUSED) {
		munmap(p, len);
		SKIP(return, "no two NVMe peers the provider may reach");
	}
	snprintf(src, sizeof(src), "/dev/%s",
		 self->env.nvme[self->env.peer[0]].disk);
	snprintf(dst, sizeof(dst), "/dev/%s",
		 self->env.nvme[self->env.peer[1]].disk);
	host = p2p_host_buffer(len);
	ASSERT_NE(NULL, host);
	p2p_fill(host, len, 12);

	in = open(src, O_RDWR | O_DIRECT);
	out = open(dst, O_RDWR | O_DIRECT);
	ASSERT_LE(0, in);
	ASSERT_LE(0, out);
	ASSERT_EQ((ssize_t)len, pwrite(in, host, len, 0));
	mark(p, 0, len, self->page, 13);
	ASSERT_EQ((ssize_t)len, pread(in, p, len, 0));
	expect_level(_metadata, self->tp, &self->bar, self->page,
		     p, len, self->pmd);
	ASSERT_EQ((ssize_t)len, pwrite(out, p, len, 0));
	memset(host, 0, len);
	ASSERT_EQ((ssize_t)len, pread(out, host, len, 0));
	ASSERT_EQ(-1, p2p_mismatch(host, len, 12));
	close(in);
	close(out);
	free(host);
	ASSERT_EQ(0, munmap(p, len));
}

/*
 * GUP without FOLL_PCI_P2PDMA must not get P2P pages out of a PMD either:
 * a read of the mapping through /proc/self/mem (slow GUP) fails with EIO,
 * and O_DIRECT to null_blk, which has no P2P support (fast GUP), with
 * EREMOTEIO, as for 4 KiB pages.
 */
TEST_F(huge, gup_without_p2p_refused)
{
	size_t len = SZ_2M;
	char *p = map_at(self->fd, len, SZ_2M, 0);
	char buf[64];
	int fd;

	ASSERT_NE(NULL, p);
	mark(p, 0, len, self->page, 14);
	expect_level(_metadata, self->tp, &self->bar, self->page,
		     p, self->page, self->pmd);
	fd = open("/proc/self/mem", O_RDONLY);
	ASSERT_LE(0, fd);
	ASSERT_EQ(-1, pread(fd, buf, sizeof(buf), (uintptr_t)(p + self->page)));
	ASSERT_EQ(EIO, errno);
	close(fd);
	fd = open("/dev/nullb0", O_RDWR | O_DIRECT);
	ASSERT_LE(0, fd) TH_LOG("/dev/nullb0: %s", strerror(errno));
	ASSERT_EQ(-1, pread(fd, p, SZ_2M, 0));
	ASSERT_EQ(EREMOTEIO, errno);
	ASSERT_EQ(-1, pwrite(fd, p, SZ_2M, 0));
	ASSERT_EQ(EREMOTEIO, errno);
	close(fd);
	ASSERT_EQ(-1, marked(p, 0, len, self->page, 14));
	ASSERT_EQ(0, munmap(p, len));
}

/* Write the provider's address to the nvme driver's @file (bind, unbind). */
static int nvme_driver_write(const char *bdf, const char *file)
{
	char path[128];

	snprintf(path, sizeof(path), "/sys/bus/pci/drivers/nvme/%s", file);
	return p2p_write_str(path, bdf);
}

/*
 * The provider goes away under a live PUD mapping with O_DIRECT reads into
 * it in flight, by an unbind of its nvme driver or a hot removal (sysfs
 * remove): the unbind or removal finishes in bounded time, the reader ends
 * with an error or SIGBUS, a touch of the mapping raises SIGBUS, and after
 * the rebind (or a rescan) the whole GiB is back.  Only in the huge
 * topology, where this binary runs alone: the NVMe devices are renumbered,
 * which would upset the tests that run after it elsewhere.
 */
static void gone_under_pud(struct __test_metadata *_metadata,
			   struct _test_data_huge *self, bool remove)
{
	size_t len = SZ_1G;
	unsigned long long phys;
	int status, in, i, *done;
	pid_t pid, unbinder;
	char path[64];
	char *p;

	ASSERT_LE(0, self->env.peer[0]);
	p = map_at(self->fd, len, SZ_1G, 0);
	ASSERT_NE(NULL, p);
	mark(p, 0, len, SZ_2M, 15);
	ASSERT_EQ(self->pud, level(self->tp, p, &phys));

	/* a child reads 2 MiB from a peer into the mapping, over and over */
	snprintf(path, sizeof(path), "/dev/%s",
		 self->env.nvme[self->env.peer[0]].disk);
	in = open(path, O_RDONLY | O_DIRECT);
	ASSERT_LE(0, in);
	done = mmap(NULL, sizeof(*done), PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, done);
	*done = 0;
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		for (i = 0; i < 100000; i++) {
			if (pread(in, p + SZ_2M * (i % 64), SZ_2M, 0) != SZ_2M)
				_exit(0);
			__atomic_add_fetch(done, 1, __ATOMIC_SEQ_CST);
		}
		_exit(1);
	}
	/* two reads done: the reader is past its setup and reading */
	for (i = 0; i < 3000 && __atomic_load_n(done, __ATOMIC_SEQ_CST) < 2; i++)
		p2p_msleep(10);
	ASSERT_LE(2, __atomic_load_n(done, __ATOMIC_SEQ_CST));

	unbinder = fork();
	ASSERT_LE(0, unbinder);
	if (!unbinder && remove) {
		snprintf(path, sizeof(path), P2P_PCI_DEVICES "/%s/remove",
			 self->env.provider);
		_exit(-p2p_write_str(path, "1"));
	}
	if (!unbinder)
		_exit(-nvme_driver_write(self->env.provider, "unbind"));
	ASSERT_EQ(unbinder, p2p_waitpid_bounded(unbinder, &status, 60));
	ASSERT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status));
	ASSERT_FALSE(p2p_has_p2pmem_dir(self->env.provider));

	ASSERT_EQ(pid, p2p_waitpid_bounded(pid, &status, 60));
	ASSERT_TRUE((WIFEXITED(status) && !WEXITSTATUS(status)) ||
		    (WIFSIGNALED(status) && WTERMSIG(status) == SIGBUS));
	TH_LOG("%d O_DIRECT reads into the PUD mapping", *done);
	ASSERT_EQ(SIGBUS, access_signal(p, false));
	ASSERT_EQ(SIGBUS, access_signal(p + len - SZ_2M, true));
	ASSERT_EQ(0, munmap(p, len));
	munmap(done, sizeof(*done));
	close(in);
	close(self->fd);

	if (remove) {
		ASSERT_EQ(0, p2p_write_bounded("/sys/bus/pci/rescan", "1", 60,
					       NULL));
	} else {
		ASSERT_EQ(0, nvme_driver_write(self->env.provider, "bind"));
	}
	ASSERT_EQ(self->avail0, p2p_wait_attr(self->env.provider, "available",
					      self->avail0, 30000));
	self->fd = p2p_open_allocate(self->env.provider, O_RDWR);
	ASSERT_LE(0, self->fd);
}

TEST_F_TIMEOUT(huge, unbind_with_pud_mapping_and_io, 240)
{
	if (!self->env.topo || strcmp(self->env.topology, "huge"))
		SKIP(return, "unbinds the provider: huge topology only");
	gone_under_pud(_metadata, self, false);
}

TEST_F_TIMEOUT(huge, remove_with_pud_mapping_and_io, 240)
{
	if (!self->env.topo || strcmp(self->env.topology, "huge"))
		SKIP(return, "removes the provider: huge topology only");
	gone_under_pud(_metadata, self, true);
}

TEST_HARNESS_MAIN
