// SPDX-License-Identifier: GPL-2.0
/*
 * User mappings of p2pmem through /sys/bus/pci/devices/<bdf>/p2pmem/allocate:
 * every mmap() takes exactly its (page-rounded) length from the provider and
 * every way a mapping can end gives exactly that back.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../kselftest_harness.h"
#include "p2pdma_common.h"

#define MAX_MAPS	80

struct tracked_map {
	char *addr;
	size_t len;
};

FIXTURE(mmap) {
	struct p2p_env env;
	long long avail0;
	size_t page;
	int fd;
	struct tracked_map maps[MAX_MAPS];
};

FIXTURE_SETUP(mmap)
{
	p2p_require(_metadata, p2p_topology_from_env(),
		    !p2p_env_scan(&self->env),
		    "no PCI function with p2pmem in this guest");
	self->page = p2p_page_size();
	self->avail0 = p2p_attr(self->env.provider, "available");
	ASSERT_LE(0, self->avail0);
	p2p_require(_metadata, self->env.topo,
		    self->avail0 >= 64 * (long long)self->page,
		    "only %lld bytes of p2pmem available", self->avail0);
	self->fd = p2p_open_allocate(self->env.provider, O_RDWR);
	ASSERT_LE(0, self->fd);
}

/*
 * Unmap what an aborted test left behind, then check that the provider got
 * all of it back.  Pages of a process that exited are returned while the
 * exit completes, hence the bounded wait before the exact check.
 */
FIXTURE_TEARDOWN(mmap)
{
	int i;

	for (i = 0; i < MAX_MAPS; i++)
		if (self->maps[i].addr)
			munmap(self->maps[i].addr, self->maps[i].len);
	close(self->fd);
	EXPECT_EQ(self->avail0, p2p_wait_attr(self->env.provider, "available",
					      self->avail0, 5000));
}

static long long avail(const struct p2p_env *env)
{
	return p2p_attr(env->provider, "available");
}

/* mmap() that the teardown will undo if the test stops half way */
static char *map_tracked(struct tracked_map *maps, int fd, size_t len)
{
	char *addr = p2p_map(fd, len);
	int i;

	if (addr == MAP_FAILED)
		return NULL;
	for (i = 0; i < MAX_MAPS; i++) {
		if (!maps[i].addr) {
			maps[i].addr = addr;
			maps[i].len = len;
			return addr;
		}
	}
	munmap(addr, len);
	errno = ENOSPC;
	return NULL;
}

static int unmap_tracked(struct tracked_map *maps, char *addr)
{
	int i;

	for (i = 0; i < MAX_MAPS; i++) {
		if (maps[i].addr == addr) {
			maps[i].addr = NULL;
			return munmap(addr, maps[i].len);
		}
	}
	return -1;
}

TEST_F(mmap, page_multiple_sizes)
{
	static const size_t pages[] = { 1, 2, 3, 16, 33, 256, 771 };
	size_t i, len;
	char *p;

	for (i = 0; i < ARRAY_SIZE(pages); i++) {
		len = pages[i] * self->page;
		p = map_tracked(self->maps, self->fd, len);
		ASSERT_NE(NULL, p) TH_LOG("mmap %zu bytes: %s", len, strerror(errno));
		ASSERT_EQ(self->avail0 - (long long)len, avail(&self->env));
		p2p_fill(p, len, i);
		ASSERT_EQ(-1, p2p_mismatch(p, len, i));
		ASSERT_EQ(0, unmap_tracked(self->maps, p));
		ASSERT_EQ(self->avail0, avail(&self->env));
	}
}

/* mmap() rounds the length up to whole pages, and so does the provider. */
TEST_F(mmap, length_rounded_to_pages)
{
	char *p;

	p = map_tracked(self->maps, self->fd, 100);
	ASSERT_NE(NULL, p);
	ASSERT_EQ(self->avail0 - (long long)self->page, avail(&self->env));
	ASSERT_EQ(0, unmap_tracked(self->maps, p));

	p = map_tracked(self->maps, self->fd, self->page + 1);
	ASSERT_NE(NULL, p);
	ASSERT_EQ(self->avail0 - 2 * (long long)self->page, avail(&self->env));
	ASSERT_EQ(0, unmap_tracked(self->maps, p));
	ASSERT_EQ(self->avail0, avail(&self->env));
}

/*
 * All free p2pmem in one mapping.  At start-up the free space is one
 * contiguous range (nvme took its SQs from the front), so a provider must
 * be able to hand it out whole, as stock 6.12 does.
 */
TEST_F(mmap, whole_available)
{
	size_t len = self->avail0;
	char *p, *q;

	p = map_tracked(self->maps, self->fd, len);
	ASSERT_NE(NULL, p) TH_LOG("mmap of all %zu available bytes: %s",
				  len, strerror(errno));
	ASSERT_EQ(0, avail(&self->env));

	q = p2p_map(self->fd, self->page);
	ASSERT_EQ(MAP_FAILED, q);
	ASSERT_EQ(ENOMEM, errno);

	p2p_fill(p, self->page, 1);
	p2p_fill(p + len - self->page, self->page, 2);
	ASSERT_EQ(-1, p2p_mismatch(p, self->page, 1));
	ASSERT_EQ(-1, p2p_mismatch(p + len - self->page, self->page, 2));
	ASSERT_EQ(0, unmap_tracked(self->maps, p));
	ASSERT_EQ(self->avail0, avail(&self->env));
}

/* The allocate mmap handler fails with ENOMEM and takes nothing. */
TEST_F(mmap, larger_than_available)
{
	long long size = p2p_attr(self->env.provider, "size");
	char *p;

	p = p2p_map(self->fd, self->avail0 + self->page);
	ASSERT_EQ(MAP_FAILED, p);
	ASSERT_EQ(ENOMEM, errno);
	ASSERT_EQ(self->avail0, avail(&self->env));

	p = p2p_map(self->fd, 2 * size);
	ASSERT_EQ(MAP_FAILED, p);
	ASSERT_EQ(ENOMEM, errno);
	ASSERT_EQ(self->avail0, avail(&self->env));
}

TEST_F(mmap, private_mapping_refused)
{
	char *p;

	p = mmap(NULL, self->page, PROT_READ | PROT_WRITE, MAP_PRIVATE,
		 self->fd, 0);
	ASSERT_EQ(MAP_FAILED, p);
	ASSERT_EQ(EINVAL, errno);
	p = mmap(NULL, self->page, PROT_READ, MAP_PRIVATE, self->fd, 0);
	ASSERT_EQ(MAP_FAILED, p);
	ASSERT_EQ(EINVAL, errno);
	ASSERT_EQ(self->avail0, avail(&self->env));
}

TEST_F(mmap, nonzero_offset_refused)
{
	char *p;

	p = mmap(NULL, self->page, PROT_READ | PROT_WRITE, MAP_SHARED,
		 self->fd, self->page);
	ASSERT_EQ(MAP_FAILED, p);
	ASSERT_EQ(EINVAL, errno);
	p = mmap(NULL, self->page, PROT_READ | PROT_WRITE, MAP_SHARED,
		 self->fd, 16 * self->page);
	ASSERT_EQ(MAP_FAILED, p);
	ASSERT_EQ(EINVAL, errno);
	ASSERT_EQ(self->avail0, avail(&self->env));
}

/* A read-only open allows read-only shared mappings and no others. */
TEST_F(mmap, read_only_file)
{
	int fd = p2p_open_allocate(self->env.provider, O_RDONLY);
	char *p;

	ASSERT_LE(0, fd);
	p = p2p_map(fd, self->page);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EACCES, errno);
	EXPECT_EQ(self->avail0, avail(&self->env));

	p = mmap(NULL, 2 * self->page, PROT_READ, MAP_SHARED, fd, 0);
	EXPECT_NE(MAP_FAILED, p);
	EXPECT_EQ(self->avail0 - 2 * (long long)self->page, avail(&self->env));
	if (p != MAP_FAILED) {
		EXPECT_FALSE(p2p_touch_faults(p, false));
		EXPECT_EQ(0, munmap(p, 2 * self->page));
	}
	close(fd);
	EXPECT_EQ(self->avail0, avail(&self->env));
}

/* The mapping outlives the file descriptor it came from. */
TEST_F(mmap, close_keeps_mapping)
{
	size_t len = 8 * self->page;
	int fd = p2p_open_allocate(self->env.provider, O_RDWR);
	char *p;

	ASSERT_LE(0, fd);
	p = p2p_map(fd, len);
	ASSERT_NE(MAP_FAILED, p);
	close(fd);

	p2p_fill(p, len, 7);
	ASSERT_EQ(-1, p2p_mismatch(p, len, 7));
	ASSERT_EQ(self->avail0 - (long long)len, avail(&self->env));
	ASSERT_EQ(0, munmap(p, len));
	ASSERT_EQ(self->avail0, avail(&self->env));
}

/* A child inherits the shared mapping: same pages, no new allocation. */
TEST_F(mmap, fork_shares_mapping)
{
	size_t len = 4 * self->page;
	int status;
	pid_t pid;
	char *p;

	p = map_tracked(self->maps, self->fd, len);
	ASSERT_NE(NULL, p);
	p2p_fill(p, len, 11);

	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		if (p2p_mismatch(p, len, 11) != -1)
			_exit(1);
		p2p_fill(p, len, 12);
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(0, WEXITSTATUS(status));

	ASSERT_EQ(-1, p2p_mismatch(p, len, 12));
	ASSERT_EQ(self->avail0 - (long long)len, avail(&self->env));
	ASSERT_EQ(0, unmap_tracked(self->maps, p));
	ASSERT_EQ(self->avail0, avail(&self->env));
}

/* Unmapping part of a mapping returns exactly those pages. */
TEST_F(mmap, partial_munmap)
{
	size_t page = self->page, len = 16 * page;
	long long before;
	int i;
	char *p;

	p = map_tracked(self->maps, self->fd, len);
	ASSERT_NE(NULL, p);
	for (i = 0; i < 16; i++)
		p2p_fill(p + i * page, page, 200 + i);
	before = avail(&self->env);
	ASSERT_EQ(self->avail0 - (long long)len, before);

	ASSERT_EQ(0, munmap(p + 4 * page, 4 * page));
	ASSERT_EQ(before + 4 * (long long)page, avail(&self->env));

	ASSERT_EQ(0, munmap(p, page));
	ASSERT_EQ(before + 5 * (long long)page, avail(&self->env));

	ASSERT_EQ(0, munmap(p + 15 * page, page));
	ASSERT_EQ(before + 6 * (long long)page, avail(&self->env));

	/* the pages still mapped kept their data */
	for (i = 1; i < 15; i++) {
		if (i >= 4 && i < 8)
			continue;
		ASSERT_EQ(-1, p2p_mismatch(p + i * page, page, 200 + i));
	}

	ASSERT_EQ(0, unmap_tracked(self->maps, p));
	ASSERT_EQ(self->avail0, avail(&self->env));
}

/*
 * MADV_DONTNEED on part of a mapping.  Stock 6.12 frees the dropped pages
 * and a touch then raises SIGBUS.  Ours keeps the memory with the mapping
 * and the pages fault back in with their data, as for any shared file
 * mapping: a deliberate change, made for huge mappings, where mm zaps a
 * whole PMD or PUD whenever a VMA is split inside it and does not tell the
 * driver why (p2pmem_huge covers those cases).
 */
TEST_F(mmap, dontneed)
{
	size_t page = self->page, len = 8 * page;
	char *p;

	p = map_tracked(self->maps, self->fd, len);
	ASSERT_NE(NULL, p);
	p2p_fill(p, len, 31);

	ASSERT_EQ(0, madvise(p + 2 * page, 2 * page, MADV_DONTNEED));
	if (p2p_kernel_is("baseline")) {
		ASSERT_EQ(self->avail0 - 6 * (long long)page, avail(&self->env));
		ASSERT_TRUE(p2p_touch_faults(p + 2 * page, false));
		ASSERT_EQ(self->avail0 - 6 * (long long)page,
			  avail(&self->env));
	} else {
		ASSERT_EQ(self->avail0 - 8 * (long long)page, avail(&self->env));
		ASSERT_FALSE(p2p_touch_faults(p + 2 * page, false));
		ASSERT_EQ(-1, p2p_mismatch(p, len, 31));
	}
	ASSERT_FALSE(p2p_touch_faults(p + 4 * page, true));

	ASSERT_EQ(0, unmap_tracked(self->maps, p));
	ASSERT_EQ(self->avail0, avail(&self->env));
}

/* Run in a child: map and fill 1, 8 and 64 pages, report, wait for @go. */
static void child_maps_and_waits(int fd, size_t page, int ready, int go)
{
	static const size_t pages[] = { 1, 8, 64 };
	char c = 'r';
	size_t i;

	for (i = 0; i < ARRAY_SIZE(pages); i++) {
		char *q = p2p_map(fd, pages[i] * page);

		if (q == MAP_FAILED) {
			c = 'f';
			break;
		}
		p2p_fill(q, pages[i] * page, i);
	}
	if (write(ready, &c, 1) != 1 || c != 'r')
		_exit(1);
	/* returns 0 once the parent closes its end; never munmap */
	_exit(read(go, &c, 1) == 0 ? 0 : 2);
}

/* A process that exits, or is killed, with live mappings leaks nothing. */
TEST_F(mmap, exit_frees_everything)
{
	static const int how[] = { 0, SIGKILL };
	int status, ready[2], go[2];
	size_t i;
	pid_t pid;
	char c;

	for (i = 0; i < ARRAY_SIZE(how); i++) {
		ASSERT_EQ(0, pipe(ready));
		ASSERT_EQ(0, pipe(go));
		pid = fork();
		ASSERT_LE(0, pid);
		if (!pid) {
			close(ready[0]);
			close(go[1]);
			child_maps_and_waits(self->fd, self->page, ready[1],
					     go[0]);
		}
		close(ready[1]);
		close(go[0]);
		ASSERT_EQ(1, read(ready[0], &c, 1));
		ASSERT_EQ('r', c);
		close(ready[0]);
		ASSERT_EQ(self->avail0 - 73 * (long long)self->page, avail(&self->env));

		if (how[i])
			kill(pid, how[i]);
		close(go[1]);
		ASSERT_EQ(pid, waitpid(pid, &status, 0));
		ASSERT_TRUE(how[i] ? WIFSIGNALED(status) :
			    WIFEXITED(status) && !WEXITSTATUS(status));
		ASSERT_EQ(self->avail0,
			  p2p_wait_attr(self->env.provider, "available",
					self->avail0, 5000));
	}
}

/*
 * Several processes map at the same time: each gets its own pages (its
 * pattern survives the others), the provider accounts for all of them, and
 * everything comes back when they exit.
 */
TEST_F(mmap, concurrent_mappers)
{
	const int nr = 4;
	size_t len = (self->avail0 / 8) & ~(self->page - 1);
	int i, ready[2], go[2], status, failed = 0;
	pid_t pids[4];
	char c;

	if (len > (4 << 20))
		len = 4 << 20;
	ASSERT_EQ(0, pipe(ready));
	ASSERT_EQ(0, pipe(go));
	for (i = 0; i < nr; i++) {
		pids[i] = fork();
		ASSERT_LE(0, pids[i]);
		if (!pids[i]) {
			int fd = p2p_open_allocate(self->env.provider, O_RDWR);
			char *q = fd < 0 ? MAP_FAILED : p2p_map(fd, len);

			close(go[1]);
			c = q == MAP_FAILED ? 'f' : 'r';
			if (q != MAP_FAILED)
				p2p_fill(q, len, 100 + i);
			if (write(ready[1], &c, 1) != 1 || c != 'r')
				_exit(1);
			/* wait until the parent has seen all mappings */
			if (read(go[0], &c, 1) != 0)
				_exit(2);
			_exit(p2p_mismatch(q, len, 100 + i) == -1 ? 0 : 3);
		}
	}
	close(ready[1]);
	close(go[0]);
	for (i = 0; i < nr; i++) {
		ASSERT_EQ(1, read(ready[0], &c, 1));
		failed += c != 'r';
	}
	close(ready[0]);
	ASSERT_EQ(0, failed);
	ASSERT_EQ(self->avail0 - nr * (long long)len, avail(&self->env));
	close(go[1]);

	for (i = 0; i < nr; i++) {
		ASSERT_EQ(pids[i], waitpid(pids[i], &status, 0));
		EXPECT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status))
			TH_LOG("mapper %d: status %#x", i, status);
	}
	ASSERT_EQ(self->avail0, p2p_wait_attr(self->env.provider, "available",
					      self->avail0, 5000));
}

/* Many one-page mappings freed in an interleaved order all come back. */
TEST_F(mmap, many_small_mappings)
{
	const int nr = 64;
	char *p[64];
	int i, pass;

	for (i = 0; i < nr; i++) {
		p[i] = map_tracked(self->maps, self->fd, self->page);
		ASSERT_NE(NULL, p[i]);
		p2p_fill(p[i], self->page, 500 + i);
	}
	ASSERT_EQ(self->avail0 - nr * (long long)self->page, avail(&self->env));
	for (pass = 1; pass >= 0; pass--) {
		for (i = pass; i < nr; i += 2) {
			ASSERT_EQ(-1, p2p_mismatch(p[i], self->page, 500 + i));
			ASSERT_EQ(0, unmap_tracked(self->maps, p[i]));
		}
	}
	ASSERT_EQ(self->avail0, avail(&self->env));
}

TEST_HARNESS_MAIN
