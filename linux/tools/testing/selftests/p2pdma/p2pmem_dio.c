// SPDX-License-Identifier: GPL-2.0
/*
 * Data through a p2pmem buffer: O_DIRECT reads from one NVMe into a user
 * mapping of another NVMe's CMB and O_DIRECT writes from it, verified
 * against data written from host memory.  Also the cases that must fail
 * cleanly (misalignment, block devices that cannot do P2P, topologies that
 * refuse P2P) without touching any data, and buffered I/O, where the CPU
 * copies to and from the p2pmem pages like ordinary memory.
 *
 * Expected outcomes for NVMe on other ports come from P2P_TOPOLOGY.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>
#include <linux/io_uring.h>

#include "../kselftest_harness.h"
#include "p2pdma_common.h"

#define BUF_MAX		(8UL << 20)
#define LOOP_SIZE	(16UL << 20)
#define MARKER_SEED	0xdeadULL
#define DIO_TIMEOUT	300

struct dio_bufs {
	char *p2p;		/* BUF_MAX + one page of p2pmem */
	char *host;		/* BUF_MAX of host memory */
	char *check;		/* BUF_MAX of host memory */
};

FIXTURE(dio) {
	struct p2p_env env;
	long long avail0;
	size_t page;
	int map_fd;
	struct dio_bufs b;
	int loop_fd;
	char loop_file[64];
	char tmp_file[2][64];
};

FIXTURE_SETUP(dio)
{
	self->loop_fd = -1;
	self->map_fd = -1;
	p2p_require(_metadata, p2p_topology_from_env(),
		    !p2p_env_scan(&self->env),
		    "no PCI function with p2pmem in this guest");
	self->page = p2p_page_size();
	self->avail0 = p2p_attr(self->env.provider, "available");
	ASSERT_LE(0, self->avail0);
	p2p_require(_metadata, self->env.topo,
		    self->avail0 >= (long long)(BUF_MAX + self->page),
		    "only %lld bytes of p2pmem available", self->avail0);

	self->map_fd = p2p_open_allocate(self->env.provider, O_RDWR);
	ASSERT_LE(0, self->map_fd);
	self->b.p2p = p2p_map(self->map_fd, BUF_MAX + self->page);
	ASSERT_NE(MAP_FAILED, self->b.p2p);
	self->b.host = p2p_host_buffer(BUF_MAX);
	self->b.check = p2p_host_buffer(BUF_MAX);
	ASSERT_NE(NULL, self->b.host);
	ASSERT_NE(NULL, self->b.check);
}

FIXTURE_TEARDOWN(dio)
{
	int i;

	if (self->loop_fd >= 0)
		p2p_loop_detach(self->loop_fd);
	if (self->loop_file[0])
		unlink(self->loop_file);
	for (i = 0; i < 2; i++)
		if (self->tmp_file[i][0])
			unlink(self->tmp_file[i]);
	if (self->b.p2p && self->b.p2p != MAP_FAILED)
		munmap(self->b.p2p, BUF_MAX + self->page);
	if (self->map_fd >= 0)
		close(self->map_fd);
	free(self->b.host);
	free(self->b.check);
	EXPECT_EQ(self->avail0, p2p_attr(self->env.provider, "available"));
}

static int open_disk(const struct p2p_env *env, int idx)
{
	char path[64];

	snprintf(path, sizeof(path), "/dev/%s", env->nvme[idx].disk);
	return open(path, O_RDWR | O_DIRECT);
}

/* pread/pwrite that returns the count or -errno */
static ssize_t xfer(bool write_it, int fd, void *buf, size_t len, off_t off)
{
	ssize_t n = write_it ? pwrite(fd, buf, len, off) :
			       pread(fd, buf, len, off);

	return n < 0 ? -errno : n;
}

/* Put a known pattern on a device through host memory. */
static int seed_device(const struct dio_bufs *b, int fd, size_t len, off_t off,
		       uint64_t seed)
{
	p2p_fill(b->host, len, seed);
	return xfer(true, fd, b->host, len, off) == (ssize_t)len ? 0 : -EIO;
}

/* Does the device hold the pattern?  Read back through host memory. */
static bool device_holds(const struct dio_bufs *b, int fd, size_t len,
			 off_t off, uint64_t seed)
{
	memset(b->check, 0, len);
	return xfer(false, fd, b->check, len, off) == (ssize_t)len &&
	       p2p_mismatch(b->check, len, seed) == -1;
}

/* Expected errno (0: success) of P2P I/O between the provider and a peer. */
static int peer_errno(enum p2p_expect e)
{
	return e == P2P_EXPECT_REFUSED ? -EREMOTEIO : 0;
}

/*
 * src -> p2pmem -> dst for sizes from 4 KiB to 8 MiB.  When the topology
 * refuses P2P, both directions fail with EREMOTEIO and neither the buffer
 * nor the destination changes.
 */
static void copy_through_p2pmem(struct __test_metadata *_metadata,
				const struct dio_bufs *b, int src, int dst,
				off_t src_off, off_t dst_off, int want)
{
	size_t len;
	ssize_t n;

	for (len = 4096; len <= BUF_MAX; len *= 2) {
		ASSERT_EQ(0, seed_device(b, src, len, src_off, len));
		ASSERT_EQ(0, seed_device(b, dst, len, dst_off, ~len));
		p2p_fill(b->p2p, len, MARKER_SEED);

		n = xfer(false, src, b->p2p, len, src_off);
		ASSERT_EQ(want ? want : (ssize_t)len, n)
			TH_LOG("O_DIRECT read of %zu bytes into p2pmem", len);
		ASSERT_EQ(-1, p2p_mismatch(b->p2p, len,
					   want ? MARKER_SEED : len));

		if (want)
			p2p_fill(b->p2p, len, len);
		n = xfer(true, dst, b->p2p, len, dst_off);
		ASSERT_EQ(want ? want : (ssize_t)len, n)
			TH_LOG("O_DIRECT write of %zu bytes from p2pmem", len);
		ASSERT_TRUE(device_holds(b, dst, len, dst_off,
					 want ? ~len : len))
			TH_LOG("destination after %zu bytes", len);
	}
}

TEST_F_TIMEOUT(dio, peer_to_peer_copy, DIO_TIMEOUT)
{
	int src, dst;

	if (self->env.expect == P2P_EXPECT_UNKNOWN)
		SKIP(return, "no expectation for topology %s",
		     self->env.topology);
	if (self->env.topo && self->env.topo->nr_peers < 2)
		SKIP(return, "topology %s has %d NVMe without p2pmem, needs 2",
		     self->env.topology, self->env.topo->nr_peers);
	p2p_require(_metadata, self->env.topo,
		    self->env.peer[1] >= 0,
		    "needs two NVMe namespaces without p2pmem");

	src = open_disk(&self->env, self->env.peer[0]);
	dst = open_disk(&self->env, self->env.peer[1]);
	ASSERT_LE(0, src);
	ASSERT_LE(0, dst);
	TH_LOG("%s -> p2pmem(%s) -> %s, expecting %s",
	       self->env.nvme[self->env.peer[0]].disk, self->env.provider,
	       self->env.nvme[self->env.peer[1]].disk,
	       peer_errno(self->env.expect) ? "EREMOTEIO" : "success");
	copy_through_p2pmem(_metadata, &self->b, src, dst, 0, 0,
			    peer_errno(self->env.expect));
	close(src);
	close(dst);
}

/* The CMB's own namespace is distance 0 from it: works in every topology. */
TEST_F_TIMEOUT(dio, self_copy, DIO_TIMEOUT)
{
	int fd;

	p2p_require(_metadata, self->env.topo,
		    self->env.self >= 0,
		    "the provider has no block device");
	fd = open_disk(&self->env, self->env.self);
	ASSERT_LE(0, fd);
	copy_through_p2pmem(_metadata, &self->b, fd, fd, 0, 32 << 20, 0);
	close(fd);
}

/*
 * A vector mixing host memory and p2pmem is one request: it completes as a
 * whole or, where P2P is refused, fails as a whole.
 */
TEST_F(dio, mixed_vector)
{
	const size_t half = 64 << 10;
	struct iovec iov[2];
	int fd, want;
	ssize_t n;

	if (self->env.expect == P2P_EXPECT_UNKNOWN)
		SKIP(return, "no expectation for topology %s",
		     self->env.topology);
	p2p_require(_metadata, self->env.topo,
		    self->env.peer[0] >= 0,
		    "needs an NVMe namespace without p2pmem");
	want = peer_errno(self->env.expect);

	fd = open_disk(&self->env, self->env.peer[0]);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, seed_device(&self->b, fd, 2 * half, 0, 41));
	memset(self->b.check, 0, half);
	p2p_fill(self->b.p2p, half, MARKER_SEED);
	iov[0].iov_base = self->b.check;
	iov[0].iov_len = half;
	iov[1].iov_base = self->b.p2p;
	iov[1].iov_len = half;

	n = preadv(fd, iov, 2, 0);
	if (want) {
		ASSERT_EQ(-1, n);
		ASSERT_EQ(-want, errno);
		ASSERT_EQ(-1, p2p_mismatch(self->b.p2p, half, MARKER_SEED));
	} else {
		ASSERT_EQ((ssize_t)(2 * half), n);
		/* the pattern continues from host memory into p2pmem */
		memcpy(self->b.check + half, self->b.p2p, half);
		ASSERT_EQ(-1, p2p_mismatch(self->b.check, 2 * half, 41));
	}
	close(fd);
}

/* O_DIRECT alignment is checked before any page is pinned. */
TEST_F(dio, misaligned)
{
	int fd, idx = self->env.self >= 0 ? self->env.self : 0;

	p2p_require(_metadata, self->env.topo,
		    self->env.nr_nvme > 0,
		    "no NVMe namespace");
	fd = open_disk(&self->env, idx);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, seed_device(&self->b, fd, 2 * self->page, 0, 51));
	p2p_fill(self->b.p2p, 2 * self->page, MARKER_SEED);

	/* buffer not aligned to the queue's DMA alignment */
	ASSERT_EQ(-EINVAL, xfer(false, fd, self->b.p2p + 1, self->page, 0));
	ASSERT_EQ(-EINVAL, xfer(true, fd, self->b.p2p + 1, self->page, 0));
	/* position and length not multiples of the logical block size */
	ASSERT_EQ(-EINVAL, xfer(false, fd, self->b.p2p, self->page, 1));
	ASSERT_EQ(-EINVAL, xfer(false, fd, self->b.p2p, self->page, 256));
	ASSERT_EQ(-EINVAL, xfer(true, fd, self->b.p2p, self->page, 256));
	ASSERT_EQ(-EINVAL, xfer(false, fd, self->b.p2p, 100, 0));

	ASSERT_EQ(-1, p2p_mismatch(self->b.p2p, 2 * self->page, MARKER_SEED));
	ASSERT_TRUE(device_holds(&self->b, fd, 2 * self->page, 0, 51));
	close(fd);
}

/* preadv/pwritev of two halves of @buf: the count or -errno */
static ssize_t xferv(bool write_it, int fd, char *buf, size_t len, off_t off)
{
	struct iovec iov[2] = {
		{ .iov_base = buf, .iov_len = len / 2 },
		{ .iov_base = buf + len / 2, .iov_len = len - len / 2 },
	};
	ssize_t n = write_it ? pwritev(fd, iov, 2, off) :
			       preadv(fd, iov, 2, off);

	return n < 0 ? -errno : n;
}

/*
 * One read or write through a fresh io_uring (raw system calls, no
 * liburing in the guest): the completion's result, or -errno of the setup.
 */
static ssize_t xfer_uring(bool write_it, int fd, void *buf, size_t len,
			  off_t off)
{
	struct io_uring_params p = { 0 };
	size_t sq_len, cq_len, sqes_len;
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	char *sq, *cq;
	unsigned int *tail, head;
	ssize_t ret;
	int ring;

	ring = syscall(__NR_io_uring_setup, 1, &p);
	if (ring < 0)
		return -errno;
	sq_len = p.sq_off.array + p.sq_entries * sizeof(unsigned int);
	cq_len = p.cq_off.cqes + p.cq_entries * sizeof(*cqe);
	sqes_len = p.sq_entries * sizeof(*sqe);
	sq = mmap(NULL, sq_len, PROT_READ | PROT_WRITE, MAP_SHARED, ring,
		  IORING_OFF_SQ_RING);
	cq = mmap(NULL, cq_len, PROT_READ | PROT_WRITE, MAP_SHARED, ring,
		  IORING_OFF_CQ_RING);
	sqe = mmap(NULL, sqes_len, PROT_READ | PROT_WRITE, MAP_SHARED, ring,
		   IORING_OFF_SQES);
	if (sq == MAP_FAILED || cq == MAP_FAILED || sqe == MAP_FAILED) {
		ret = -ENOMEM;
		goto out;
	}
	memset(sqe, 0, sizeof(*sqe));
	sqe->opcode = write_it ? IORING_OP_WRITE : IORING_OP_READ;
	sqe->fd = fd;
	sqe->addr = (unsigned long)buf;
	sqe->len = len;
	sqe->off = off;
	((unsigned int *)(sq + p.sq_off.array))[0] = 0;
	tail = (unsigned int *)(sq + p.sq_off.tail);
	__atomic_store_n(tail, *tail + 1, __ATOMIC_RELEASE);
	if (syscall(__NR_io_uring_enter, ring, 1, 1, IORING_ENTER_GETEVENTS,
		    NULL, 0) < 0) {
		ret = -errno;
		goto out;
	}
	head = __atomic_load_n((unsigned int *)(cq + p.cq_off.head),
			       __ATOMIC_ACQUIRE);
	cqe = (struct io_uring_cqe *)(cq + p.cq_off.cqes) +
	      (head & *(unsigned int *)(cq + p.cq_off.ring_mask));
	ret = cqe->res;
out:
	if (sqe != MAP_FAILED)
		munmap(sqe, sqes_len);
	if (cq != MAP_FAILED)
		munmap(cq, cq_len);
	if (sq != MAP_FAILED)
		munmap(sq, sq_len);
	close(ring);
	return ret;
}

/*
 * The kernel log records after the mark of @fd: how many report a media
 * error, and how many are refusals of I/O with @provider's p2pmem that
 * name @client.
 */
static void kmsg_count(int fd, const char *provider, const char *client,
		       int *media, int *named)
{
	char rec[P2P_KMSG_REC];

	*media = 0;
	*named = 0;
	while (p2p_kmsg_next(fd, rec, sizeof(rec))) {
		if (strstr(rec, "critical target error") ||
		    strstr(rec, "I/O error"))
			(*media)++;
		if (strstr(rec, "I/O with p2pmem of") &&
		    strstr(rec, provider) && strstr(rec, client))
			(*named)++;
	}
}

/*
 * P2P I/O that the topology refuses fails with EREMOTEIO before a request
 * is built (a deliberate difference from stock 6.12): for read, write,
 * readv, writev, a read large enough to take several bios, and io_uring,
 * nothing reaches the controller (the disk's counters in
 * /sys/block/<disk>/stat do not move), no media error is logged, a line
 * names the provider, the client and the reason, and neither the disk nor
 * the buffer changes.  Stock 6.12 fails the same calls with EREMOTEIO only
 * after the request reached the driver, which logs "critical target error"
 * and counts the I/O; on baseline the test checks that instead, which
 * shows that its checks can fail.
 */
TEST_F_TIMEOUT(dio, refused_before_the_device, DIO_TIMEOUT)
{
	const size_t len = 64 << 10, big = 2 << 20;
	bool stock = p2p_kernel_is("baseline");
	char path[96], stat0[256], stat1[256];
	const struct p2p_nvme *peer;
	int fd, kmsg, media, named;

	if (self->env.expect != P2P_EXPECT_REFUSED)
		SKIP(return, "P2P is not refused in topology %s",
		     self->env.topology);
	p2p_require(_metadata, self->env.topo, self->env.peer[0] >= 0,
		    "needs an NVMe namespace without p2pmem");
	peer = &self->env.nvme[self->env.peer[0]];
	fd = open_disk(&self->env, self->env.peer[0]);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, seed_device(&self->b, fd, big, 0, 71));
	p2p_fill(self->b.p2p, big, MARKER_SEED);
	snprintf(path, sizeof(path), "/sys/block/%s/stat", peer->disk);
	ASSERT_LT(0, p2p_read_str(path, stat0, sizeof(stat0)));
	/* Earlier refusals may have used up the log's burst (10 per 5 s). */
	p2p_msleep(5500);
	kmsg = p2p_kmsg_open();
	ASSERT_LE(0, kmsg);

	EXPECT_EQ(-EREMOTEIO, xfer(false, fd, self->b.p2p, len, 0));
	EXPECT_EQ(-EREMOTEIO, xfer(true, fd, self->b.p2p, len, 0));
	EXPECT_EQ(-EREMOTEIO, xferv(false, fd, self->b.p2p, len, 0));
	EXPECT_EQ(-EREMOTEIO, xferv(true, fd, self->b.p2p, len, 0));
	EXPECT_EQ(-EREMOTEIO, xfer(false, fd, self->b.p2p, big, 0));
	EXPECT_EQ(-EREMOTEIO, xfer_uring(false, fd, self->b.p2p, len, 0));
	EXPECT_EQ(-EREMOTEIO, xfer_uring(true, fd, self->b.p2p, len, 0));

	ASSERT_LT(0, p2p_read_str(path, stat1, sizeof(stat1)));
	kmsg_count(kmsg, self->env.provider, peer->bdf, &media, &named);
	close(kmsg);
	EXPECT_EQ(-1, p2p_mismatch(self->b.p2p, big, MARKER_SEED));
	EXPECT_TRUE(device_holds(&self->b, fd, big, 0, 71));
	close(fd);
	TH_LOG("%s: %d media error line(s), %d naming %s and %s", peer->disk,
	       media, named, self->env.provider, peer->bdf);
	if (stock) {
		EXPECT_LT(0, media);
		EXPECT_STRNE(stat0, stat1);
		return;
	}
	EXPECT_EQ(0, media);
	EXPECT_STREQ(stat0, stat1) {
		TH_LOG("before: %s", stat0);
		TH_LOG("after:  %s", stat1);
	}
	/* One line per refused call at most, and at least one. */
	EXPECT_LE(1, named);
	EXPECT_GE(7, named);
}

/*
 * A loop device's queue cannot do P2P, so pinning p2pmem pages for it
 * fails: EREMOTEIO in both directions, nothing transferred.
 */
TEST_F(dio, loop_device_refused)
{
	char dev[32];
	int fd, ret;

	snprintf(self->loop_file, sizeof(self->loop_file),
		 "/tmp/p2pdma-loop-%d", getpid());
	ret = p2p_loop_attach(self->loop_file, LOOP_SIZE, dev, sizeof(dev));
	p2p_require(_metadata, self->env.topo,
		    ret != -ENOENT && ret != -ENODEV,
		    "no loop device support: %s", strerror(-ret));
	ASSERT_LE(0, ret);
	self->loop_fd = ret;
	fd = open(dev, O_RDWR | O_DIRECT);
	ASSERT_LE(0, fd);

	ASSERT_EQ(0, seed_device(&self->b, fd, 64 << 10, 0, 61));
	ASSERT_TRUE(device_holds(&self->b, fd, 64 << 10, 0, 61));
	p2p_fill(self->b.p2p, 64 << 10, MARKER_SEED);

	ASSERT_EQ(-EREMOTEIO, xfer(false, fd, self->b.p2p, 64 << 10, 0));
	ASSERT_EQ(-1, p2p_mismatch(self->b.p2p, 64 << 10, MARKER_SEED));
	ASSERT_EQ(-EREMOTEIO, xfer(true, fd, self->b.p2p, 64 << 10, 0));
	ASSERT_TRUE(device_holds(&self->b, fd, 64 << 10, 0, 61));
	close(fd);
}

TEST_F(dio, null_blk_refused)
{
	int fd;

	fd = open("/dev/nullb0", O_RDWR | O_DIRECT);
	p2p_require(_metadata, self->env.topo,
		    fd >= 0,
		    "/dev/nullb0: %s (modprobe null_blk)", strerror(errno));
	p2p_fill(self->b.p2p, 64 << 10, MARKER_SEED);
	ASSERT_EQ(-EREMOTEIO, xfer(false, fd, self->b.p2p, 64 << 10, 0));
	ASSERT_EQ(-1, p2p_mismatch(self->b.p2p, 64 << 10, MARKER_SEED));
	ASSERT_EQ(-EREMOTEIO, xfer(true, fd, self->b.p2p, 64 << 10, 0));
	close(fd);
}

/*
 * Buffered read()/write() copy between the page cache and the p2pmem
 * mapping with the CPU; no DMA touches the buffer, so this works in every
 * topology, on tmpfs files and on block devices alike.
 */
TEST_F(dio, buffered_io)
{
	const size_t len = 1 << 20;
	char path[64];
	int fd, out, bdev, i;

	for (i = 0; i < 2; i++)
		snprintf(self->tmp_file[i], sizeof(self->tmp_file[i]),
			 "/tmp/p2pdma-buf%d-%d", i, getpid());

	fd = open(self->tmp_file[0], O_RDWR | O_CREAT | O_TRUNC, 0600);
	ASSERT_LE(0, fd);
	p2p_fill(self->b.host, len, 71);
	ASSERT_EQ((ssize_t)len, pwrite(fd, self->b.host, len, 0));
	ASSERT_EQ((ssize_t)len, pread(fd, self->b.p2p, len, 0));
	ASSERT_EQ(-1, p2p_mismatch(self->b.p2p, len, 71));
	close(fd);

	out = open(self->tmp_file[1], O_RDWR | O_CREAT | O_TRUNC, 0600);
	ASSERT_LE(0, out);
	p2p_fill(self->b.p2p, len, 72);
	ASSERT_EQ((ssize_t)len, pwrite(out, self->b.p2p, len, 0));
	memset(self->b.check, 0, len);
	ASSERT_EQ((ssize_t)len, pread(out, self->b.check, len, 0));
	ASSERT_EQ(-1, p2p_mismatch(self->b.check, len, 72));
	close(out);

	if (!self->env.nr_nvme)
		return;
	i = self->env.peer[0] >= 0 ? self->env.peer[0] : 0;
	snprintf(path, sizeof(path), "/dev/%s", self->env.nvme[i].disk);
	bdev = open(path, O_RDWR);
	ASSERT_LE(0, bdev);
	p2p_fill(self->b.p2p, len, 73);
	ASSERT_EQ((ssize_t)len, pwrite(bdev, self->b.p2p, len, 48 << 20));
	ASSERT_EQ(0, fsync(bdev));
	memset(self->b.p2p, 0, len);
	ASSERT_EQ((ssize_t)len, pread(bdev, self->b.p2p, len, 48 << 20));
	ASSERT_EQ(-1, p2p_mismatch(self->b.p2p, len, 73));
	close(bdev);

	fd = open_disk(&self->env, i);
	ASSERT_LE(0, fd);
	ASSERT_TRUE(device_holds(&self->b, fd, len, 48 << 20, 73));
	close(fd);
}

TEST_HARNESS_MAIN
