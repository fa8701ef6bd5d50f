// SPDX-License-Identifier: GPL-2.0
/*
 * Hot removal of a p2pmem provider and of a P2P client through
 * /sys/bus/pci/devices/<bdf>/remove, then /sys/bus/pci/rescan: idle, with
 * a live user mapping of p2pmem, with O_DIRECT reads into p2pmem in
 * flight, while the test module holds allocations and SGLs, with O_DIRECT
 * writes from p2pmem to a client that goes away, and in the middle of a
 * stress run of every CPU plus a user mapper.
 *
 * Every removal must finish in bounded time (it runs in a child that is
 * given REMOVE_LIMIT_S seconds), users must see SIGBUS or an I/O error
 * afterwards, never a hang, the core must not log that pages were still
 * allocated or refused at removal, and after a rescan the provider offers
 * the same p2pmem as before: the size of its BAR in sysfs "resource", and
 * the same "available".
 *
 * Devices are named by PCI address: the provider keeps its address across
 * a rescan, its nvme instance number may change.  Runs after the unbind
 * tests (the guest suite runs binaries ending in _remove last).
 *
 * In the switch topology, built for these tests, a missing device or test
 * module fails the test; elsewhere it skips.  No behaviour here is
 * specific to our core: stock 6.12 must pass too, except that its
 * messages for pages left at removal differ (so the log check can only
 * fail on ours).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../kselftest_harness.h"
#include "p2pdma_common.h"

#define REMOVE_LIMIT_S		60
#define RESCAN_WAIT_MS		60000
#define IO_START_WAIT_MS	30000
#define MAX_STRESS_THREADS	16
#define STRESS_MAX_PAGES	16
#define CALIBRATE_ROUNDS	200
#define IORESOURCE_MEM_FLAG	0x200

FIXTURE(remove) {
	struct p2p_env env;
	char bdf[P2P_BDF_LEN];		/* the provider */
	struct test_p2pdma_bdf provider;
	long long size0, avail0;
	unsigned long long bar_len;
	int bar;
	int nr_nvme0;
	int kmsg;
	int tfd;			/* /dev/test_p2pdma or -1 */
};

/* Atomic access to what threads and child processes share. */
#define LOAD(x)		__atomic_load_n(&(x), __ATOMIC_SEQ_CST)
#define STORE(x, v)	__atomic_store_n(&(x), (v), __ATOMIC_SEQ_CST)
#define INC(x)		__atomic_add_fetch(&(x), 1, __ATOMIC_SEQ_CST)

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static bool pci_present(const char *bdf)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), P2P_PCI_DEVICES "/%s", bdf);
	return p2p_exists(path);
}

/*
 * The length of the memory BAR of @bdf that is exactly @len long, from
 * sysfs "resource" (one "start end flags" line per BAR); its index in
 * *@bar.  0 when there is none.
 */
static unsigned long long bar_of_len(const char *bdf, long long len, int *bar)
{
	unsigned long long start, end, flags;
	char path[PATH_MAX];
	FILE *f;
	int i;

	snprintf(path, sizeof(path), P2P_PCI_DEVICES "/%s/resource", bdf);
	f = fopen(path, "r");
	if (!f)
		return 0;
	for (i = 0; i < 6; i++) {
		if (fscanf(f, "%llx %llx %llx", &start, &end, &flags) != 3)
			break;
		if (start && (flags & IORESOURCE_MEM_FLAG) &&
		    end - start + 1 == (unsigned long long)len) {
			fclose(f);
			*bar = i;
			return end - start + 1;
		}
	}
	fclose(f);
	return 0;
}

/* Length of BAR @bar of @bdf, 0 if unset. */
static unsigned long long bar_len(const char *bdf, int bar)
{
	unsigned long long start = 0, end = 0, flags;
	char path[PATH_MAX];
	FILE *f;
	int i;

	snprintf(path, sizeof(path), P2P_PCI_DEVICES "/%s/resource", bdf);
	f = fopen(path, "r");
	if (!f)
		return 0;
	for (i = 0; i <= bar; i++)
		if (fscanf(f, "%llx %llx %llx", &start, &end, &flags) != 3)
			start = 0;
	fclose(f);
	return start ? end - start + 1 : 0;
}

static int write_bounded(const char *path, const char *val, long long *ms)
{
	return p2p_write_bounded(path, val, REMOVE_LIMIT_S, ms);
}

static int pci_remove(const char *bdf, long long *ms)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), P2P_PCI_DEVICES "/%s/remove", bdf);
	return write_bounded(path, "1", ms);
}

/* Index in @env of the namespace of the controller at @bdf, or -1. */
static int disk_of(const struct p2p_env *env, const char *bdf)
{
	int i;

	for (i = 0; i < env->nr_nvme; i++)
		if (!strcmp(env->nvme[i].bdf, bdf))
			return i;
	return -1;
}

/*
 * Rescan the PCI bus and wait until the provider offers @avail0 bytes
 * again and every NVMe namespace there was is back.  Returns 0 or
 * -ETIMEDOUT; @env is rescanned.
 */
static int rescan_and_wait(struct p2p_env *env, const char *bdf,
			   long long avail0, int nr_nvme0)
{
	long long deadline;
	int ret;

	ret = write_bounded("/sys/bus/pci/rescan", "1", NULL);
	if (ret)
		return ret;
	deadline = now_ms() + RESCAN_WAIT_MS;
	for (;;) {
		p2p_env_scan(env);
		if (p2p_has_p2pmem_dir(bdf) &&
		    p2p_attr(bdf, "available") == avail0 &&
		    env->nr_nvme >= nr_nvme0)
			return 0;
		if (now_ms() > deadline)
			return -ETIMEDOUT;
		p2p_msleep(50);
	}
}

#define RESCAN()	rescan_and_wait(&self->env, self->bdf, self->avail0, \
					self->nr_nvme0)

FIXTURE_SETUP(remove)
{
	self->kmsg = -1;
	self->tfd = -1;
	if (!p2p_need(_metadata, !p2p_env_scan(&self->env),
		      "no PCI function with p2pmem"))
		return;
	p2p_copy_str(self->bdf, sizeof(self->bdf), self->env.provider);
	ASSERT_EQ(0, p2p_parse_bdf(self->bdf, &self->provider));
	self->nr_nvme0 = self->env.nr_nvme;
	self->size0 = p2p_attr(self->bdf, "size");
	self->avail0 = p2p_attr(self->bdf, "available");
	ASSERT_LT(0, self->size0);
	ASSERT_LE(1 << 22, self->avail0);
	/* the CMB covers a whole BAR in QEMU: the BAR length is the oracle */
	self->bar_len = bar_of_len(self->bdf, self->size0, &self->bar);
	ASSERT_NE(0, self->bar_len)
		TH_LOG("no memory BAR of %s is %lld bytes long", self->bdf,
		       self->size0);
	self->kmsg = p2p_kmsg_open();
	ASSERT_LE(0, self->kmsg);
	self->tfd = open(TEST_P2PDMA_DEVICE, O_RDWR);
}

FIXTURE_TEARDOWN(remove)
{
	const char *complaint;

	if (self->tfd >= 0)
		close(self->tfd);
	/* the next test starts from the same devices */
	EXPECT_EQ(0, RESCAN());
	EXPECT_EQ(self->size0, p2p_attr(self->bdf, "size"));
	EXPECT_EQ(self->avail0, p2p_attr(self->bdf, "available"));
	EXPECT_EQ(self->bar_len, bar_len(self->bdf, self->bar));
	complaint = p2p_core_complaint(self->kmsg);
	EXPECT_EQ(NULL, complaint) TH_LOG("kernel log: \"%s\"", complaint);
	if (self->kmsg >= 0)
		close(self->kmsg);
}

/* Remove the provider, bounded; it must be gone afterwards. */
#define REMOVE_PROVIDER() do {						\
	long long _ms = 0;						\
	ASSERT_EQ(0, pci_remove(self->bdf, &_ms));			\
	TH_LOG("removal of %s took %lld ms", self->bdf, _ms);		\
	ASSERT_FALSE(pci_present(self->bdf));				\
} while (0)

/* Map, write and check a little p2pmem, then unmap: pages go to the caches. */
static int map_cycle(const char *bdf, size_t len, __u64 seed)
{
	int fd, ret = 0;
	char *p;

	fd = p2p_open_allocate(bdf, O_RDWR);
	if (fd < 0)
		return fd;
	p = p2p_map(fd, len);
	if (p == MAP_FAILED) {
		ret = -errno;
	} else {
		p2p_fill(p, len, seed);
		if (p2p_mismatch(p, len, seed) != -1)
			ret = -EILSEQ;
		munmap(p, len);
	}
	close(fd);
	return ret;
}

TEST_F_TIMEOUT(remove, provider_idle, 240)
{
	char buf[16];
	char path[PATH_MAX];

	/*
	 * Leave pages in the per-CPU caches (a user mapping's pages come back
	 * one by one): the removal must account for them.
	 */
	ASSERT_EQ(0, map_cycle(self->bdf, 1 << 20, 11));
	ASSERT_EQ(0, map_cycle(self->bdf, 64 << 10, 12));
	ASSERT_EQ(self->avail0, p2p_attr(self->bdf, "available"));

	REMOVE_PROVIDER();

	ASSERT_EQ(0, RESCAN());
	ASSERT_EQ(self->size0, p2p_attr(self->bdf, "size"));
	ASSERT_EQ(self->bar_len, bar_len(self->bdf, self->bar));
	ASSERT_EQ(self->avail0, p2p_attr(self->bdf, "available"));
	snprintf(path, sizeof(path), P2P_PCI_DEVICES "/%s/p2pmem/published",
		 self->bdf);
	ASSERT_LT(0, p2p_read_str(path, buf, sizeof(buf)));
	ASSERT_STREQ("1\n", buf);
	ASSERT_EQ(0, map_cycle(self->bdf, 1 << 20, 13));
}

/* 4 MiB: mm aligns it to 2 MiB, and ours maps it with two PMDs. */
TEST_F_TIMEOUT(remove, provider_with_live_mapping, 240)
{
	const size_t len = 4 << 20;
	char *p;
	int fd;

	fd = p2p_open_allocate(self->bdf, O_RDWR);
	ASSERT_LE(0, fd);
	p = p2p_map(fd, len);
	ASSERT_NE(MAP_FAILED, p);
	p2p_fill(p, len, 21);
	ASSERT_EQ(-1, p2p_mismatch(p, len, 21));
	ASSERT_EQ(p2p_pmd_level(), p2p_map_level(p + len / 2));
	ASSERT_EQ(self->avail0 - (long long)len,
		  p2p_attr(self->bdf, "available"));

	/* the mapping is torn down, not waited for */
	REMOVE_PROVIDER();
	ASSERT_TRUE(p2p_touch_faults(p, false));
	ASSERT_TRUE(p2p_touch_faults(p + len / 2, true));
	ASSERT_TRUE(p2p_touch_faults(p + len - 1, true));
	ASSERT_EQ(0, munmap(p, len));
	close(fd);

	ASSERT_EQ(0, RESCAN());
	ASSERT_EQ(0, map_cycle(self->bdf, len, 22));
}

/* What a child doing I/O tells its parent (shared anonymous memory). */
struct io_report {
	int done;		/* I/Os completed in full */
	int verified;		/* the first read carried the pattern */
	int err;		/* errno of the I/O that failed */
	int calls;
};

static struct io_report *new_report(void)
{
	void *p = mmap(NULL, sizeof(struct io_report), PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/* O_DIRECT write of @seed's pattern to the first @len bytes of @disk. */
static int disk_write_pattern(const char *disk, size_t len, __u64 seed)
{
	char path[64];
	void *buf;
	int fd, ret = 0;

	snprintf(path, sizeof(path), "/dev/%s", disk);
	buf = p2p_host_buffer(len);
	if (!buf)
		return -ENOMEM;
	p2p_fill(buf, len, seed);
	fd = open(path, O_WRONLY | O_DIRECT);
	if (fd < 0)
		ret = -errno;
	else if (pwrite(fd, buf, len, 0) != (ssize_t)len)
		ret = -EIO;
	if (fd >= 0 && fsync(fd))
		ret = -errno;
	if (fd >= 0)
		close(fd);
	free(buf);
	return ret;
}

/* Does @disk start with @seed's pattern?  1 yes, 0 no, -errno. */
static int disk_has_pattern(const char *disk, size_t len, __u64 seed)
{
	char path[64];
	void *buf;
	int fd, ret;

	snprintf(path, sizeof(path), "/dev/%s", disk);
	buf = p2p_host_buffer(len);
	if (!buf)
		return -ENOMEM;
	fd = open(path, O_RDONLY | O_DIRECT);
	if (fd < 0)
		ret = -errno;
	else if (pread(fd, buf, len, 0) != (ssize_t)len)
		ret = -EIO;
	else
		ret = p2p_mismatch(buf, len, seed) == -1;
	if (fd >= 0)
		close(fd);
	free(buf);
	return ret;
}

/*
 * Child: O_DIRECT reads (@write false) from @disk into a p2pmem mapping,
 * or writes from it, over and over until one fails or the budget runs out
 * (exit 1).  A read's data must carry @seed's pattern.
 */
static void io_loop(const char *disk, int afd, size_t len, bool write,
		    __u64 seed, struct io_report *r)
{
	char path[64];
	ssize_t n;
	int i, fd;
	char *p;

	snprintf(path, sizeof(path), "/dev/%s", disk);
	fd = open(path, (write ? O_WRONLY : O_RDONLY) | O_DIRECT);
	p = p2p_map(afd, len);
	if (fd < 0 || p == MAP_FAILED)
		_exit(2);
	if (write)
		p2p_fill(p, len, seed);
	for (i = 0; i < 100000; i++) {
		INC(r->calls);
		n = write ? pwrite(fd, p, len, 0) : pread(fd, p, len, 0);
		if (n != (ssize_t)len) {
			STORE(r->err, n < 0 ? errno : EIO);
			_exit(0);
		}
		if (!write && !LOAD(r->done))
			STORE(r->verified, p2p_mismatch(p, len, seed) == -1);
		INC(r->done);
	}
	_exit(1);
}

/* Wait (bounded) for the child's first complete I/O. */
static bool io_started(const struct io_report *r)
{
	long long deadline = now_ms() + IO_START_WAIT_MS;

	while (!LOAD(r->done) && !LOAD(r->err) && now_ms() < deadline)
		p2p_msleep(10);
	return LOAD(r->done) > 0;
}

/* Reap an I/O child: its exit code, 128 + signal, or -1 if it hung. */
static int reap_io_child(pid_t pid)
{
	int status;

	if (p2p_waitpid_bounded(pid, &status, REMOVE_LIMIT_S) != pid) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		return -1;
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) :
				   128 + WTERMSIG(status);
}

static bool p2p_io_works(const struct p2p_env *env)
{
	return env->expect != P2P_EXPECT_REFUSED;
}

TEST_F_TIMEOUT(remove, provider_with_dio_in_flight, 240)
{
	const size_t len = 2 << 20;	/* one PMD on ours */
	struct io_report *r;
	int afd, ret, done, idx;
	const char *disk;
	pid_t pid;

	/*
	 * Reads from a peer; where P2P between devices is refused, from the
	 * provider's own namespace into its own CMB (always allowed).
	 */
	idx = p2p_io_works(&self->env) ? self->env.peer[0] : self->env.self;
	if (!p2p_need(_metadata, idx >= 0,
		      "no NVMe namespace that can read into the provider's p2pmem"))
		return;
	disk = self->env.nvme[idx].disk;
	TH_LOG("O_DIRECT reads from %s", disk);
	ASSERT_EQ(0, disk_write_pattern(disk, len, 31));
	r = new_report();
	ASSERT_NE(NULL, r);

	afd = p2p_open_allocate(self->bdf, O_RDWR);
	ASSERT_LE(0, afd);
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid)
		io_loop(disk, afd, len, false, 31, r);
	close(afd);

	/* a read has completed, with the right data: I/O is under way */
	ASSERT_TRUE(io_started(r)) TH_LOG("reader: errno %d", LOAD(r->err));
	ASSERT_TRUE(LOAD(r->verified));

	REMOVE_PROVIDER();
	done = LOAD(r->done);

	/* the reader ends by itself: an error, not a hang */
	ret = reap_io_child(pid);
	TH_LOG("%d reads before removal, %d in all, last errno %d (%s), exit %d",
	       done, r->done, r->err, strerror(r->err), ret);
	ASSERT_NE(-1, ret);
	/* exit 0: a read failed; SIGBUS if it touched the torn-down mapping */
	ASSERT_TRUE(ret == 0 || ret == 128 + SIGBUS);
	if (ret == 0)
		ASSERT_NE(0, r->err);
	munmap(r, sizeof(*r));
}

static int tp_pattern(int fd, unsigned long long handle, __u64 seed,
		      unsigned int op, unsigned long long *bad)
{
	struct test_p2pdma_pattern pt = {
		.handle = handle, .seed = seed, .op = op,
	};
	int ret = ioctl(fd, TEST_P2PDMA_PATTERN, &pt) ? -errno : 0;

	if (bad)
		*bad = pt.bad_offset;
	return ret;
}

static int tp_stats(int fd, struct test_p2pdma_stats *st)
{
	memset(st, 0, sizeof(*st));
	return ioctl(fd, TEST_P2PDMA_STATS, st) ? -errno : 0;
}

TEST_F_TIMEOUT(remove, provider_with_kernel_allocations, 240)
{
	static const struct {
		unsigned long long size;
		bool sgl;
	} want[] = {
		{ 4096, false }, { 64 << 10, false }, { 1 << 20, false },
		{ 256 << 10, true }, { 2 << 20, true },
	};
	struct test_p2pdma_alloc a[ARRAY_SIZE(want)];
	struct test_p2pdma_stats st;
	unsigned long long bytes = 0, bad;
	size_t i;

	if (!p2p_need(_metadata, self->tfd >= 0,
		      TEST_P2PDMA_DEVICE " missing (insmod test_p2pdma.ko)"))
		return;
	for (i = 0; i < ARRAY_SIZE(want); i++) {
		ASSERT_EQ(0, p2p_tp_alloc(self->tfd, &self->provider, want[i].size,
					  want[i].sgl, &a[i]));
		ASSERT_NE(0, a[i].handle);
		ASSERT_EQ(0, tp_pattern(self->tfd, a[i].handle, 40 + i,
					TEST_P2PDMA_PATTERN_FILL, NULL));
		bytes += want[i].size;
	}
	ASSERT_EQ(self->avail0 - (long long)bytes,
		  p2p_attr(self->bdf, "available"));
	ASSERT_EQ(0, tp_stats(self->tfd, &st));
	ASSERT_EQ(ARRAY_SIZE(want), st.live);
	ASSERT_EQ(bytes, st.live_bytes);
	ASSERT_EQ(0, st.revoked);
	for (i = 0; i < ARRAY_SIZE(want); i++) {
		ASSERT_EQ(0, tp_pattern(self->tfd, a[i].handle, 40 + i,
					TEST_P2PDMA_PATTERN_CHECK, &bad));
		ASSERT_EQ(~0ULL, bad);
	}

	/* the module gives everything back when the provider goes away */
	REMOVE_PROVIDER();
	ASSERT_EQ(0, tp_stats(self->tfd, &st));
	EXPECT_EQ(0, st.live);
	EXPECT_EQ(0, st.live_bytes);
	EXPECT_EQ(ARRAY_SIZE(want), st.revoked);

	ASSERT_EQ(-ENODEV, tp_pattern(self->tfd, a[0].handle, 40,
				      TEST_P2PDMA_PATTERN_CHECK, &bad));
	for (i = 0; i < ARRAY_SIZE(want); i++)
		EXPECT_EQ(-ENODEV, p2p_tp_free(self->tfd, a[i].handle,
					       want[i].sgl));
	/* a revoked handle is forgotten once freed */
	EXPECT_EQ(-EINVAL, p2p_tp_free(self->tfd, a[0].handle, false));
	ASSERT_EQ(0, tp_stats(self->tfd, &st));
	EXPECT_EQ(0, st.revoked);

	/* the provider that comes back serves the module again */
	ASSERT_EQ(0, RESCAN());
	ASSERT_EQ(0, p2p_parse_bdf(self->bdf, &self->provider));
	ASSERT_EQ(0, p2p_tp_alloc(self->tfd, &self->provider, 1 << 20, true, &a[0]));
	ASSERT_NE(0, a[0].handle);
	ASSERT_EQ(0, tp_pattern(self->tfd, a[0].handle, 49,
				TEST_P2PDMA_PATTERN_FILL, NULL));
	ASSERT_EQ(0, tp_pattern(self->tfd, a[0].handle, 49,
				TEST_P2PDMA_PATTERN_CHECK, &bad));
	ASSERT_EQ(~0ULL, bad);
	ASSERT_EQ(0, p2p_tp_free(self->tfd, a[0].handle, true));
}

TEST_F_TIMEOUT(remove, client_with_dio_in_flight, 240)
{
	const size_t len = 1 << 20;
	char client[P2P_BDF_LEN], disk[32];
	struct io_report *r;
	int afd, ret, done, idx;
	pid_t pid;

	if (!p2p_need(_metadata, self->env.peer[0] >= 0,
		      "no NVMe namespace outside the provider"))
		return;
	if (!p2p_io_works(&self->env))
		SKIP(return, "no NVMe can do P2P with the provider in topology %s",
		     self->env.topology);
	p2p_copy_str(client, sizeof(client),
		     self->env.nvme[self->env.peer[0]].bdf);
	p2p_copy_str(disk, sizeof(disk), self->env.nvme[self->env.peer[0]].disk);
	ASSERT_STRNE(client, self->bdf);
	/* something else than what the writer writes */
	ASSERT_EQ(0, disk_write_pattern(disk, len, 50));
	r = new_report();
	ASSERT_NE(NULL, r);

	afd = p2p_open_allocate(self->bdf, O_RDWR);
	ASSERT_LE(0, afd);
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid)
		io_loop(disk, afd, len, true, 51, r);
	close(afd);
	ASSERT_TRUE(io_started(r)) TH_LOG("writer: errno %d", LOAD(r->err));

	ASSERT_EQ(0, pci_remove(client, NULL));
	ASSERT_FALSE(pci_present(client));
	done = LOAD(r->done);

	ret = reap_io_child(pid);
	TH_LOG("%d writes before removal, %d in all, last errno %d (%s), exit %d",
	       done, r->done, r->err, strerror(r->err), ret);
	ASSERT_EQ(0, ret);
	/* an I/O error, not a fault on the p2pmem buffer */
	ASSERT_NE(0, r->err);
	ASSERT_NE(EFAULT, r->err);
	/* the provider is untouched and got every page back */
	ASSERT_TRUE(p2p_has_p2pmem_dir(self->bdf));
	ASSERT_EQ(self->avail0, p2p_wait_attr(self->bdf, "available",
					      self->avail0, 5000));

	/* the client comes back, with what was written from p2pmem */
	ASSERT_EQ(0, RESCAN());
	idx = disk_of(&self->env, client);
	ASSERT_LE(0, idx) TH_LOG("no namespace on %s after rescan", client);
	ASSERT_EQ(1, disk_has_pattern(self->env.nvme[idx].disk, len, 51));
	munmap(r, sizeof(*r));
}

/* The stress run: threads, a user mapper and a reader of the provider. */
struct stress_ctx {
	int fd;
	struct test_p2pdma_stress s;
	int ret;			/* 0 or -errno of the ioctl */
	int finished;
};

struct mapper_ctx {
	char bdf[P2P_BDF_LEN];
	int stop;
	int cycles;
	int mismatches;
	int faults;		/* SIGBUS while filling */
	int enomem;		/* mmap failures for want of p2pmem */
	int err;		/* errno that ended the loop */
	int finished;
};

struct reader_ctx {
	char bdf[P2P_BDF_LEN];
	struct test_p2pdma_bdf provider;
	int fd;
	int stop;
	long reads;
	int finished;
};

static void *stress_thread(void *arg)
{
	struct stress_ctx *c = arg;

	c->ret = ioctl(c->fd, TEST_P2PDMA_STRESS, &c->s) ? -errno : 0;
	STORE(c->finished, 1);
	return NULL;
}

static __thread sigjmp_buf mapper_jmp;

static void mapper_sigbus(int sig)
{
	siglongjmp(mapper_jmp, 1);
}

/*
 * Map, fill, check and unmap p2pmem of varying sizes until mmap fails
 * (the provider went away) or told to stop.
 */
static void *mapper_thread(void *arg)
{
	static const size_t sizes[] = { 64 << 10, 256 << 10, 1 << 20, 4096 };
	struct mapper_ctx *m = arg;
	size_t len;
	char *p;
	int fd, i;

	fd = p2p_open_allocate(m->bdf, O_RDWR);
	if (fd < 0) {
		STORE(m->err, -fd);
		goto out;
	}
	for (i = 0; !LOAD(m->stop); i++) {
		len = sizes[i % ARRAY_SIZE(sizes)];
		p = p2p_map(fd, len);
		if (p == MAP_FAILED && errno == ENOMEM) {
			/* the stress threads hold the pool for a moment */
			INC(m->enomem);
			p2p_msleep(1);
			continue;
		}
		if (p == MAP_FAILED) {
			STORE(m->err, errno);
			break;
		}
		if (!sigsetjmp(mapper_jmp, 1)) {
			p2p_fill(p, len, 600 + i);
			if (p2p_mismatch(p, len, 600 + i) != -1)
				INC(m->mismatches);
		} else {
			INC(m->faults);
		}
		munmap(p, len);
		INC(m->cycles);
	}
	close(fd);
out:
	STORE(m->finished, 1);
	return NULL;
}

/*
 * Read the provider's state through every path that looks at it: sysfs
 * "available" and the module's pci_has_p2pmem() and find.  Under KASAN
 * this is the reader that a release freeing the provider's state too
 * early would trip over.
 */
static void *reader_thread(void *arg)
{
	struct reader_ctx *rd = arg;
	struct test_p2pdma_has_p2pmem h;
	struct test_p2pdma_find f;

	while (!LOAD(rd->stop)) {
		p2p_attr(rd->bdf, "available");
		memset(&h, 0, sizeof(h));
		h.dev = rd->provider;
		ioctl(rd->fd, TEST_P2PDMA_HAS_P2PMEM, &h);
		memset(&f, 0, sizeof(f));
		f.clients[0] = rd->provider;
		f.nr_clients = 1;
		ioctl(rd->fd, TEST_P2PDMA_FIND, &f);
		INC(rd->reads);
	}
	STORE(rd->finished, 1);
	return NULL;
}

/* Wait (bounded) until *@flag is set. */
static bool wait_flag(int *flag, long long deadline)
{
	while (!LOAD(*flag)) {
		if (now_ms() > deadline)
			return false;
		p2p_msleep(10);
	}
	return true;
}

/* Iterations of one stress call that take about @ms on this machine. */
static int calibrate_stress(int fd, const struct test_p2pdma_bdf *provider,
			    unsigned int *iterations, int ms)
{
	struct test_p2pdma_stress s = {
		.provider = *provider, .iterations = CALIBRATE_ROUNDS,
		.max_pages = STRESS_MAX_PAGES, .seed = 1,
	};
	long long t0 = now_ms(), dt;
	unsigned long long n;

	if (ioctl(fd, TEST_P2PDMA_STRESS, &s))
		return -errno;
	if (s.corrupt || s.revoked || !s.allocs)
		return -EILSEQ;
	dt = now_ms() - t0;
	n = (unsigned long long)CALIBRATE_ROUNDS * ms / (dt > 0 ? dt : 1);
	*iterations = n < CALIBRATE_ROUNDS ? CALIBRATE_ROUNDS :
		      n > 10000000 ? 10000000 : n;
	return 0;
}

TEST_F_TIMEOUT(remove, stress_with_provider_removal, 300)
{
	struct stress_ctx sc[MAX_STRESS_THREADS];
	pthread_t st[MAX_STRESS_THREADS], mt, rt;
	struct mapper_ctx m = { 0 };
	struct reader_ctx rd = { 0 };
	struct sigaction sa = { 0 };
	unsigned int iterations = 0;
	long long deadline;
	int i, ncpu;

	if (!p2p_need(_metadata, self->tfd >= 0,
		      TEST_P2PDMA_DEVICE " missing (insmod test_p2pdma.ko)"))
		return;
	ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	if (ncpu < 1)
		ncpu = 1;
	if (ncpu > MAX_STRESS_THREADS)
		ncpu = MAX_STRESS_THREADS;

	/* long enough (~40 s alone) that only the removal can stop them */
	ASSERT_EQ(0, calibrate_stress(self->tfd, &self->provider, &iterations,
				      40000));
	TH_LOG("%d stress threads of %u iterations", ncpu, iterations);

	memset(sc, 0, sizeof(sc));
	for (i = 0; i < ncpu; i++) {
		sc[i].fd = open(TEST_P2PDMA_DEVICE, O_RDWR);
		ASSERT_LE(0, sc[i].fd);
		sc[i].s.provider = self->provider;
		sc[i].s.iterations = iterations;
		sc[i].s.max_pages = STRESS_MAX_PAGES;
		sc[i].s.seed = 1000 + i;
	}
	sa.sa_handler = mapper_sigbus;
	sigemptyset(&sa.sa_mask);
	ASSERT_EQ(0, sigaction(SIGBUS, &sa, NULL));
	p2p_copy_str(m.bdf, sizeof(m.bdf), self->bdf);
	p2p_copy_str(rd.bdf, sizeof(rd.bdf), self->bdf);
	rd.provider = self->provider;
	rd.fd = self->tfd;

	for (i = 0; i < ncpu; i++)
		ASSERT_EQ(0, pthread_create(&st[i], NULL, stress_thread, &sc[i]));
	ASSERT_EQ(0, pthread_create(&mt, NULL, mapper_thread, &m));
	ASSERT_EQ(0, pthread_create(&rt, NULL, reader_thread, &rd));

	/* everyone is busy: the mapper went round a few times */
	deadline = now_ms() + IO_START_WAIT_MS;
	while (LOAD(m.cycles) < 3 && !LOAD(m.finished) && now_ms() < deadline)
		p2p_msleep(20);
	p2p_msleep(500);
	ASSERT_LE(3, LOAD(m.cycles)) TH_LOG("mapper: errno %d", LOAD(m.err));
	for (i = 0; i < ncpu; i++)
		ASSERT_FALSE(LOAD(sc[i].finished))
			TH_LOG("stress %d ended early", i);

	REMOVE_PROVIDER();

	/* every thread stops by itself, in bounded time */
	deadline = now_ms() + REMOVE_LIMIT_S * 1000LL;
	for (i = 0; i < ncpu; i++)
		ASSERT_TRUE(wait_flag(&sc[i].finished, deadline))
			TH_LOG("stress thread %d still running", i);
	ASSERT_TRUE(wait_flag(&m.finished, deadline))
		TH_LOG("mapper still running after %d cycles", m.cycles);
	STORE(rd.stop, 1);
	ASSERT_TRUE(wait_flag(&rd.finished, deadline));
	for (i = 0; i < ncpu; i++) {
		pthread_join(st[i], NULL);
		close(sc[i].fd);
	}
	pthread_join(mt, NULL);
	pthread_join(rt, NULL);

	for (i = 0; i < ncpu; i++) {
		TH_LOG("stress %d: ret %d, %llu allocs, %llu failures, %llu corrupt, revoked %u",
		       i, sc[i].ret, sc[i].s.allocs, sc[i].s.failures,
		       sc[i].s.corrupt, sc[i].s.revoked);
		EXPECT_EQ(0, sc[i].ret);
		EXPECT_EQ(0, sc[i].s.corrupt);
		EXPECT_EQ(1, sc[i].s.revoked);
		EXPECT_LT(0, sc[i].s.allocs);
	}
	TH_LOG("mapper: %d cycles, %d mismatches, %d SIGBUS, %d ENOMEM, errno %d (%s)",
	       m.cycles, m.mismatches, m.faults, m.enomem, m.err,
	       strerror(m.err));
	TH_LOG("reader: %ld rounds", rd.reads);
	EXPECT_EQ(0, m.mismatches);
	/* the mapper ended because the file went away with the provider */
	EXPECT_EQ(ENODEV, m.err);
}

TEST_HARNESS_MAIN
