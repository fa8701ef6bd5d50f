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

	if (p2p_env_scan(&self->env))
		SKIP(return, "no PCI function with p2pmem in this guest");
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

FIXTURE_TEARDOWN(unbind)
{
	EXPECT_EQ(self->t.avail0, rebind(&self->t));
	EXPECT_EQ(self->size0, p2p_attr(self->env.provider, "size"));
}

static void on_alarm(int sig)
{
}

/* waitpid() that gives up after UNBIND_LIMIT_S seconds (returns -1). */
static pid_t waitpid_bounded(pid_t pid, int *status)
{
	struct sigaction sa = { .sa_handler = on_alarm }, old;
	pid_t ret;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, &old);	/* no SA_RESTART: waitpid sees EINTR */
	alarm(UNBIND_LIMIT_S);
	ret = waitpid(pid, status, 0);
	alarm(0);
	sigaction(SIGALRM, &old, NULL);
	return ret;
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

	if (waitpid_bounded(pid, &status) != pid)
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

TEST_F_TIMEOUT(unbind, unbind_with_live_mapping, 180)
{
	const size_t len = 1 << 20;
	char *p;
	int fd;

	fd = p2p_open_allocate(self->env.provider, O_RDWR);
	ASSERT_LE(0, fd);
	p = p2p_map(fd, len);
	ASSERT_NE(MAP_FAILED, p);
	p2p_fill(p, len, 91);
	ASSERT_EQ(-1, p2p_mismatch(p, len, 91));
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
 */
static void dio_loop(const char *disk, int afd, size_t len)
{
	char path[64];
	int i, fd;
	char *p;

	snprintf(path, sizeof(path), "/dev/%s", disk);
	fd = open(path, O_RDONLY | O_DIRECT);
	p = p2p_map(afd, len);
	if (fd < 0 || p == MAP_FAILED)
		_exit(2);
	for (i = 0; i < 20000; i++)
		if (pread(fd, p, len, 0) != (ssize_t)len)
			_exit(0);
	_exit(1);
}

TEST_F_TIMEOUT(unbind, unbind_with_io_in_flight, 180)
{
	const size_t len = 1 << 20;
	int afd, status, ret;
	pid_t pid;

	if (self->env.peer[0] < 0)
		SKIP(return, "no NVMe namespace outside the provider");
	if (self->env.expect == P2P_EXPECT_REFUSED)
		SKIP(return, "P2P I/O is refused in topology %s",
		     self->env.topology);

	afd = p2p_open_allocate(self->env.provider, O_RDWR);
	ASSERT_LE(0, afd);
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid)
		dio_loop(self->env.nvme[self->env.peer[0]].disk, afd, len);
	close(afd);
	p2p_msleep(300);	/* let the reads get going */

	/* pinned pages in flight must not keep the unbind from finishing */
	ASSERT_EQ(0, unbind_bounded(&self->t));
	ASSERT_FALSE(p2p_has_p2pmem_dir(self->env.provider));

	/* and the reader ends by itself: an error, not a hang */
	ret = waitpid_bounded(pid, &status);
	if (ret != pid) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
	}
	ASSERT_EQ(pid, ret);
	/* exit 0: a read failed after the unbind; SIGBUS is fine too */
	ret = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	ASSERT_TRUE(ret == 0 || ret == 128 + SIGBUS);
}

TEST_HARNESS_MAIN
