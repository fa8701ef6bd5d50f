// SPDX-License-Identifier: GPL-2.0
/*
 * Unbinding the driver of a p2pmem provider, with and without a live user
 * mapping, and with O_DIRECT I/O into p2pmem in flight: the unbind must
 * finish (user mappings are torn down, not waited for), the mapping then
 * raises SIGBUS, and after rebinding the provider offers the same amount of
 * p2pmem again.
 *
 * Run this LAST: rebinding NVMe renumbers controllers and namespaces.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../kselftest_harness.h"
#include "p2pdma_common.h"

#define UNBIND_LIMIT_S	60
#define REBIND_WAIT_MS	60000

/* The provider and the driver it is bound to */
struct unbind_target {
	char bdf[P2P_BDF_LEN];
	char driver[PATH_MAX];		/* /sys/bus/pci/drivers/<name> */
	long long avail0;
};

FIXTURE(unbind) {
	struct p2p_env env;
	struct unbind_target t;
	long long size0;
};

static bool is_bound(const char *bdf)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), P2P_PCI_DEVICES "/%s/driver", bdf);
	return p2p_exists(path);
}

FIXTURE_SETUP(unbind)
{
	char path[PATH_MAX], real[PATH_MAX];

	p2p_require(_metadata, p2p_topology_from_env(),
		    !p2p_env_scan(&self->env),
		    "no PCI function with p2pmem in this guest");
	snprintf(path, sizeof(path), P2P_PCI_DEVICES "/%s/driver",
		 self->env.provider);
	ASSERT_NE(NULL, realpath(path, real));
	p2p_copy_str(self->t.driver, sizeof(self->t.driver), real);
	p2p_copy_str(self->t.bdf, sizeof(self->t.bdf), self->env.provider);
	self->t.avail0 = p2p_attr(self->env.provider, "available");
	self->size0 = p2p_attr(self->env.provider, "size");
	ASSERT_LE(0, self->t.avail0);
	ASSERT_LT(0, self->size0);
}

static int driver_write(const struct unbind_target *t, const char *file)
{
	char path[PATH_MAX + 16];

	snprintf(path, sizeof(path), "%s/%s", t->driver, file);
	return p2p_write_str(path, t->bdf);
}

/* Bind again and wait for the provider to offer its p2pmem again. */
static long long rebind(const struct unbind_target *t)
{
	if (!is_bound(t->bdf) && driver_write(t, "bind"))
		return -EIO;
	return p2p_wait_attr(t->bdf, "available", t->avail0, REBIND_WAIT_MS);
}

/*
 * In the parent: kselftest_harness.h of 6.12 skips a plain
 * FIXTURE_TEARDOWN when an ASSERT failed in the test body, and a provider
 * left unbound would fail every test after this one.
 */
FIXTURE_TEARDOWN_PARENT(unbind)
{
	EXPECT_EQ(self->t.avail0, rebind(&self->t));
	EXPECT_EQ(self->size0, p2p_attr(self->env.provider, "size"));
}

/*
 * Unbind from a child so that a hung unbind (stuck in the kernel, where no
 * signal reaches it) cannot hang the test itself; give up after
 * UNBIND_LIMIT_S seconds.  Returns 0, -errno of the write, or -ETIMEDOUT.
 */
static int unbind_bounded(const struct unbind_target *t)
{
	int status;
	pid_t pid;

	pid = fork();
	if (pid < 0)
		return -errno;
	if (!pid)
		_exit(-driver_write(t, "unbind"));

	if (p2p_waitpid_bounded(pid, &status, UNBIND_LIMIT_S) != pid)
		return -ETIMEDOUT;
	if (!WIFEXITED(status))
		return -EINTR;
	return -WEXITSTATUS(status);
}

TEST_F_TIMEOUT(unbind, unbind_rebind_idle, 180)
{
	ASSERT_EQ(0, unbind_bounded(&self->t));
	ASSERT_FALSE(is_bound(self->env.provider));
	ASSERT_FALSE(p2p_has_p2pmem_dir(self->env.provider));

	ASSERT_EQ(self->t.avail0, rebind(&self->t));
	ASSERT_TRUE(is_bound(self->env.provider));
	ASSERT_EQ(self->size0, p2p_attr(self->env.provider, "size"));
}

/* 4 MiB: mm aligns it to 2 MiB, and ours maps it with two PMDs. */
TEST_F_TIMEOUT(unbind, unbind_with_live_mapping, 180)
{
	const size_t len = 4 << 20;
	char *p;
	int fd;

	fd = p2p_open_allocate(self->env.provider, O_RDWR);
	ASSERT_LE(0, fd);
	p = p2p_map(fd, len);
	ASSERT_NE(MAP_FAILED, p);
	p2p_fill(p, len, 91);
	ASSERT_EQ(-1, p2p_mismatch(p, len, 91));
	ASSERT_EQ(p2p_pmd_level(), p2p_map_level(p + len / 2));
	ASSERT_EQ(self->t.avail0 - (long long)len,
		  p2p_attr(self->env.provider, "available"));

	/* the mapping is torn down, not waited for */
	ASSERT_EQ(0, unbind_bounded(&self->t));
	ASSERT_FALSE(p2p_has_p2pmem_dir(self->env.provider));
	ASSERT_TRUE(p2p_touch_faults(p, false));
	ASSERT_TRUE(p2p_touch_faults(p + len - 1, true));
	ASSERT_EQ(0, munmap(p, len));
	close(fd);

	ASSERT_EQ(self->t.avail0, rebind(&self->t));

	/* the provider is usable again */
	fd = p2p_open_allocate(self->env.provider, O_RDWR);
	ASSERT_LE(0, fd);
	p = p2p_map(fd, len);
	ASSERT_NE(MAP_FAILED, p);
	p2p_fill(p, len, 92);
	ASSERT_EQ(-1, p2p_mismatch(p, len, 92));
	ASSERT_EQ(0, munmap(p, len));
	close(fd);
}

/*
 * Child: O_DIRECT reads from a peer NVMe into a p2pmem mapping, over and
 * over, until one fails (the provider went away) or the budget runs out.
 * Every read that completed is counted in *@done (shared with the parent).
 */
static void dio_loop(const char *disk, int afd, size_t len,
		     unsigned long *done)
{
	char path[64];
	int i, fd;
	char *p;

	snprintf(path, sizeof(path), "/dev/%s", disk);
	fd = open(path, O_RDONLY | O_DIRECT);
	p = p2p_map(afd, len);
	if (fd < 0 || p == MAP_FAILED)
		_exit(2);
	for (i = 0; i < 20000; i++) {
		if (pread(fd, p, len, 0) != (ssize_t)len)
			_exit(0);
		__atomic_add_fetch(done, 1, __ATOMIC_SEQ_CST);
	}
	_exit(1);
}

/* Wait up to @ms for *@done to reach @want; returns the last value. */
static unsigned long wait_count(unsigned long *done,
				unsigned long want, int ms)
{
	unsigned long n;

	while ((n = __atomic_load_n(done, __ATOMIC_SEQ_CST)) < want && ms > 0) {
		p2p_msleep(10);
		ms -= 10;
	}
	return n;
}

/*
 * The reads must really be going when the unbind starts: the reader has
 * completed reads before it (counted), and is still reading (alive).  Not
 * getting I/O going in a topology where P2P works is a failure.
 */
TEST_F_TIMEOUT(unbind, unbind_with_io_in_flight, 180)
{
	const size_t len = 2 << 20;	/* one PMD on ours */
	unsigned long *done;
	unsigned long before;
	int afd, status, ret;
	pid_t pid;

	if (self->env.expect == P2P_EXPECT_REFUSED)
		SKIP(return, "P2P I/O is refused in topology %s",
		     self->env.topology);
	ASSERT_LE(0, self->env.peer[0])
		TH_LOG("no NVMe namespace outside the provider in %s",
		       self->env.topology);

	done = mmap(NULL, sizeof(*done), PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, done);
	*done = 0;

	afd = p2p_open_allocate(self->env.provider, O_RDWR);
	ASSERT_LE(0, afd);
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid)
		dio_loop(self->env.nvme[self->env.peer[0]].disk, afd, len,
			 done);
	close(afd);

	/* two reads done, so the loop is past its setup and reading */
	before = wait_count(done, 2, 30000);
	ret = waitpid(pid, &status, WNOHANG);
	if (before < 2 || ret) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
	}
	ASSERT_LE(2, before)
		TH_LOG("only %lu O_DIRECT reads into p2pmem completed in 30 s",
		       before);
	ASSERT_EQ(0, ret) TH_LOG("the reader ended before the unbind");

	/* pinned pages in flight must not keep the unbind from finishing */
	ASSERT_EQ(0, unbind_bounded(&self->t));
	ASSERT_FALSE(p2p_has_p2pmem_dir(self->env.provider));

	/* and the reader ends by itself: an error, not a hang */
	ret = p2p_waitpid_bounded(pid, &status, UNBIND_LIMIT_S);
	if (ret != pid) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
	}
	ASSERT_EQ(pid, ret);
	/* exit 0: a read failed after the unbind; SIGBUS is fine too */
	ret = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	ASSERT_TRUE(ret == 0 || ret == 128 + SIGBUS)
		TH_LOG("reader status %d after %lu reads", ret, *done);
	TH_LOG("%lu reads before the unbind, %lu in all", before, *done);
	munmap(done, sizeof(*done));
}

static int tp_alloc(int fd, const char *bdf, unsigned long long size,
		    bool sgl, struct test_p2pdma_alloc *a)
{
	memset(a, 0, sizeof(*a));
	if (p2p_parse_bdf(bdf, &a->provider))
		return -EINVAL;
	a->size = size;
	return ioctl(fd, sgl ? TEST_P2PDMA_ALLOC_SGL : TEST_P2PDMA_ALLOC, a) ?
	       -errno : 0;
}

static int tp_pattern(int fd, unsigned long long handle, unsigned int op,
		      unsigned long long *bad)
{
	struct test_p2pdma_pattern p = {
		.handle = handle, .seed = handle * 31, .op = op,
	};

	if (ioctl(fd, TEST_P2PDMA_PATTERN, &p))
		return -errno;
	if (bad)
		*bad = p.bad_offset;
	return 0;
}

/* Child: a long STRESS run that only a revocation stops; result in @out. */
static void stress_child(const char *bdf, int out)
{
	struct test_p2pdma_stress st = {
		.iterations = 10000000, .max_pages = 8, .seed = 3,
	};
	int fd = open(TEST_P2PDMA_DEVICE, O_RDWR);

	if (fd < 0 || p2p_parse_bdf(bdf, &st.provider))
		_exit(2);
	if (ioctl(fd, TEST_P2PDMA_STRESS, &st))
		_exit(3);
	if (write(out, &st, sizeof(st)) != sizeof(st))
		_exit(4);
	_exit(0);
}

/*
 * A kernel user holding p2pmem (the test module) gives it back when the
 * provider's driver unbinds: its allocations are revoked, a STRESS loop on
 * the provider stops, the unbind finishes in bounded time, and the handles
 * answer ENODEV until freed.  After the rebind the provider serves again.
 */
TEST_F_TIMEOUT(unbind, unbind_with_module_allocations, 180)
{
	struct test_p2pdma_alloc a[3];
	struct test_p2pdma_stress st;
	struct test_p2pdma_stats sts;
	unsigned long long bad = 0;
	int fd, kmsg, pipefd[2], i, status;
	pid_t pid;

	fd = open(TEST_P2PDMA_DEVICE, O_RDWR);
	ASSERT_LE(0, fd) TH_LOG("%s: %s (insmod test_p2pdma.ko)",
				TEST_P2PDMA_DEVICE, strerror(errno));
	for (i = 0; i < 3; i++) {
		ASSERT_EQ(0, tp_alloc(fd, self->env.provider,
				      (i + 1) * 8192, i == 1, &a[i]));
		ASSERT_NE(0, a[i].handle);
		ASSERT_EQ(0, tp_pattern(fd, a[i].handle,
					TEST_P2PDMA_PATTERN_FILL, NULL));
	}

	ASSERT_EQ(0, pipe(pipefd));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid)
		stress_child(self->env.provider, pipefd[1]);
	close(pipefd[1]);
	/* the loop holds memory most of the time once it runs */
	for (i = 0; i < 500 && p2p_attr(self->env.provider, "available") >=
	     self->t.avail0 - (8192 + 16384 + 24576); i++)
		p2p_msleep(10);

	kmsg = p2p_kmsg_open();
	ASSERT_LE(0, kmsg);
	ASSERT_EQ(0, unbind_bounded(&self->t));
	EXPECT_TRUE(p2p_kmsg_search(kmsg, "revoked", self->env.provider));
	close(kmsg);

	ASSERT_EQ(pid, p2p_waitpid_bounded(pid, &status, UNBIND_LIMIT_S));
	ASSERT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status))
		TH_LOG("stress child status %#x", status);
	ASSERT_EQ(sizeof(st), read(pipefd[0], &st, sizeof(st)));
	close(pipefd[0]);
	TH_LOG("stress: %llu allocations before the unbind",
	       (unsigned long long)st.allocs);
	EXPECT_EQ(1, st.revoked);
	EXPECT_EQ(0, st.corrupt);
	EXPECT_LT(0, st.allocs);

	ASSERT_EQ(0, ioctl(fd, TEST_P2PDMA_STATS, &sts));
	EXPECT_EQ(0, sts.live);
	EXPECT_EQ(3, sts.revoked);
	for (i = 0; i < 3; i++) {
		EXPECT_EQ(-ENODEV, tp_pattern(fd, a[i].handle,
					      TEST_P2PDMA_PATTERN_CHECK, &bad));
		EXPECT_EQ(-ENODEV, p2p_tp_free(fd, a[i].handle, i == 1));
		EXPECT_EQ(-EINVAL, p2p_tp_free(fd, a[i].handle, i == 1));
	}
	ASSERT_EQ(0, ioctl(fd, TEST_P2PDMA_STATS, &sts));
	EXPECT_EQ(0, sts.revoked);

	/* nothing to allocate from while unbound */
	ASSERT_EQ(0, tp_alloc(fd, self->env.provider, 4096, false, &a[0]));
	EXPECT_EQ(0, a[0].handle);

	ASSERT_EQ(self->t.avail0, rebind(&self->t));
	ASSERT_EQ(0, tp_alloc(fd, self->env.provider, 4096, false, &a[0]));
	ASSERT_NE(0, a[0].handle);
	ASSERT_EQ(0, tp_pattern(fd, a[0].handle, TEST_P2PDMA_PATTERN_FILL,
				NULL));
	ASSERT_EQ(0, tp_pattern(fd, a[0].handle, TEST_P2PDMA_PATTERN_CHECK,
				&bad));
	ASSERT_EQ(~0ULL, bad);
	close(fd);
}

TEST_HARNESS_MAIN
