// SPDX-License-Identifier: GPL-2.0
/*
 * NVMe queue leases (NVME_IOCTL_LEASE, <linux/nvme_lease.h>): an I/O
 * queue pair of an NVMe PCI controller, kept from the kernel by
 * nvme.lease_queues=, handed to user space with its queues and a data
 * buffer in P2P memory.  Covered: the fields a lease reports and where its
 * memory lives, data written and read by the holder and checked through the
 * kernel's block path (and the other way round) at several queue depths,
 * two leases at once, kernel I/O beside a lease, a lease on a controller
 * without a CMB, revocation (close, NVME_IOCTL_LEASE_REVOKE with commands
 * in flight, removal of the namespace, unbind and hot removal of the
 * provider of the completion queue, controller reset, hot removal of the
 * controller) and the refusals (EACCES, ENODEV, EINVAL, EBUSY, EREMOTEIO
 * with a log line), and admin commands of a lease that fail (nvme's
 * fault injection in debugfs): Create CQ, and the deletions on revocation
 * and on close, with the controller reset that must follow and the unbind
 * of a provider meanwhile.  Hot removal is the kernel's: the device's
 * sysfs "remove", then a rescan of the PCI bus brings it back.
 *
 * The holder's protocol, with no system call after the mmap()s: write
 * 64-byte commands at the submission queue's tail, a full barrier, then
 * the new tail to the SQ tail doorbell; poll the completion queue's entry
 * at the head until its phase tag is the expected one (1 on the first pass,
 * flipped at each wrap), then the new head to the CQ head doorbell.  Each
 * command moves one 4 KiB chunk through one PRP entry into its own slot of
 * the data buffer (slot = command id); at most depth - 1 are outstanding.
 * Every transfer is checked through O_DIRECT on the namespace.
 *
 * Built for the "lease" topology (vm/topologies/lease): NVMe A (CMB, two
 * namespaces), B (CMB), C and E behind one switch, D on a root port of its
 * own (Intel vCPU: no P2P through the host bridge).  E is in an NVMe
 * subsystem, so that Namespace Attachment can detach its namespace 1.  Stock 6.12 has no
 * leases: there every test checks that the ioctl is unknown (ENOTTY) and
 * skips.
 *
 * FIXTURE(edu) holds the lease in the kernel instead: test_edu_lease.ko
 * (tools/testing/p2pdma) leases a queue pair of A for QEMU's edu device,
 * whose DMA engine writes each command into the SQ, rings the doorbells and
 * fetches the completion, with no CPU access to the queues.  It runs where
 * the topology has an edu: in "lease" (on the switch) and in "lease-amd"
 * (A, B and the edu on root ports of their own, reaching each other through
 * the AMD host bridge).
 */
#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/nvme_ioctl.h>
#include <linux/nvme_lease.h>

#include "../kselftest_harness.h"
#include "p2pdma_common.h"
#include "test_edu_lease_uapi.h"

#define CHUNK		4096U		/* bytes per command: one PRP */
#define SQE_SIZE	64
#define CQE_SIZE	16
#define OPC_WRITE	0x01
#define OPC_READ	0x02
#define HOLDER_DEPTH	64		/* deepest queue the tests do I/O on */
#define HOST_LEN	(256 * CHUNK)	/* host buffer */
#define REAP_MS		10000		/* a completion later than this fails */
#define REVOKE_MS	5000
#define NS_BACK_MS	30000		/* a namespace back after a reset */
#define NS_GONE_MS	20000		/* detach to revocation: a rescan */
#define REMOVE_SECS	60		/* a device removal that takes longer hangs */
#define TEST_SECS	120
#define JUNK_SEED	0x6a756e6bULL	/* read slots hold this before a read */
#define NOBODY		65534
#define STOCK_SKIP	"stock 6.12: no NVMe queue leases (ENOTTY)"

/* A submission queue entry of an NVM read or write, PRP data pointer. */
struct lease_sqe {
	__u8	opcode;
	__u8	flags;
	__u16	cid;
	__u32	nsid;
	__u64	rsvd2;
	__u64	mptr;
	__u64	prp1;
	__u64	prp2;
	__u32	cdw10;			/* starting LBA, low */
	__u32	cdw11;			/* starting LBA, high */
	__u32	cdw12;			/* number of blocks - 1 */
	__u32	cdw13;
	__u32	cdw14;
	__u32	cdw15;
};

static_assert(sizeof(struct lease_sqe) == SQE_SIZE, "SQE is 64 bytes");

struct lease_cqe {
	__u32	dw0;
	__u32	dw1;
	__u16	sq_head;
	__u16	sq_id;
	__u16	cid;
	__u16	status;			/* bit 0: phase tag */
};

static_assert(sizeof(struct lease_cqe) == CQE_SIZE, "CQE is 16 bytes");

/* The holder's side of one lease. */
struct holder {
	int fd;				/* the lease, -1 when none */
	__u32 nsid;
	struct nvme_lease_args a;
	char *sq, *cq, *data, *db;	/* its four mappings, or NULL */
	unsigned int sq_tail;		/* next SQ entry to fill */
	unsigned int sq_head;		/* SQ head of the last completion */
	unsigned int cq_head;		/* next CQ entry to look at */
	unsigned int phase;		/* phase tag of new completions */
	unsigned int wraps;		/* times cq_head went back to 0 */
	unsigned int outstanding;	/* queued, not yet reaped */
	bool busy[HOLDER_DEPTH];	/* command ids (= data slots) in use */
	off_t chunk[HOLDER_DEPTH];	/* disk offset each one moves */
};

/*
 * Plain loads and stores the compiler may not drop, merge or split, for
 * the queues and doorbells, which the controller reads and writes.
 */
static void mmio_write32(char *addr, __u32 val)
{
	__atomic_store_n((__u32 *)addr, val, __ATOMIC_RELAXED);
}

static void mmio_write64(char *addr, __u64 val)
{
	__atomic_store_n((__u64 *)addr, val, __ATOMIC_RELAXED);
}

static __u32 mmio_read32(const char *addr)
{
	return __atomic_load_n((const __u32 *)addr, __ATOMIC_RELAXED);
}

static __u16 mmio_read16(const char *addr)
{
	return __atomic_load_n((const __u16 *)addr, __ATOMIC_RELAXED);
}

static long long ms_since(const struct timespec *t0)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - t0->tv_sec) * 1000LL +
	       (now.tv_nsec - t0->tv_nsec) / 1000000;
}

/* NVME_IOCTL_LEASE with @args as the caller set them: fd or -errno. */
static int lease_take_raw(int ctrl_fd, struct nvme_lease_args *args)
{
	int fd = ioctl(ctrl_fd, NVME_IOCTL_LEASE, args);

	return fd < 0 ? -errno : fd;
}

static int lease_take(int ctrl_fd, __u32 nsid, __u32 depth, __u64 data_size,
		      struct nvme_lease_args *a)
{
	memset(a, 0, sizeof(*a));
	a->nsid = nsid;
	a->depth = depth;
	a->data_size = data_size;
	return lease_take_raw(ctrl_fd, a);
}

static int lease_revoke(int ctrl_fd, __u32 qid)
{
	return ioctl(ctrl_fd, NVME_IOCTL_LEASE_REVOKE, &qid) ? -errno : 0;
}

/* poll() of a lease with @ms timeout: its revents, or -errno. */
static int lease_events(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int n = poll(&p, 1, ms);

	if (n < 0)
		return -errno;
	return n ? p.revents : 0;
}

/* Wait up to @ms for a revoked lease's POLLERR | POLLHUP. */
static int lease_wait_revoked(int fd, int ms)
{
	struct timespec t0;
	int ev;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		ev = lease_events(fd, 100);
	} while (ev >= 0 && !(ev & POLLHUP) && ms_since(&t0) < ms);
	return ev;
}

static char *lease_map(int fd, __u64 off, __u64 len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, off);

	return p == MAP_FAILED ? NULL : p;
}

static void unmap(char **p, __u64 len)
{
	if (*p)
		munmap(*p, len);
	*p = NULL;
}

static void holder_unmap(struct holder *h)
{
	unmap(&h->sq, h->a.sq_size);
	unmap(&h->cq, h->a.cq_size);
	unmap(&h->data, h->a.data_size);
	unmap(&h->db, h->a.db_size);
}

static void holder_close(struct holder *h)
{
	holder_unmap(h);
	if (h->fd >= 0)
		close(h->fd);
	h->fd = -1;
}

/*
 * Take a lease of @depth entries on namespace @nsid with a data slot per
 * entry, and map it.  0 or -errno.
 */
static int holder_open(struct holder *h, int ctrl_fd, __u32 nsid,
		       __u32 depth)
{
	int fd;

	memset(h, 0, sizeof(*h));
	h->fd = -1;
	if (depth > HOLDER_DEPTH)
		return -E2BIG;
	fd = lease_take(ctrl_fd, nsid, depth, (__u64)depth * CHUNK, &h->a);
	if (fd < 0)
		return fd;
	h->fd = fd;
	h->nsid = nsid;
	h->phase = 1;
	h->sq = lease_map(fd, h->a.sq_off, h->a.sq_size);
	h->cq = lease_map(fd, h->a.cq_off, h->a.cq_size);
	h->data = lease_map(fd, h->a.data_off, h->a.data_size);
	h->db = lease_map(fd, h->a.db_off, h->a.db_size);
	if (h->sq && h->cq && h->data && h->db)
		return 0;
	fd = -errno;
	holder_close(h);
	return fd;
}

static char *holder_slot(struct holder *h, unsigned int cid)
{
	return h->data + (size_t)cid * CHUNK;
}

static unsigned int holder_free_cid(const struct holder *h)
{
	unsigned int cid = 0;

	while (cid < h->a.depth - 1 && h->busy[cid])
		cid++;
	return cid;
}

/* No room for another command until a completion moves the head. */
static bool holder_sq_full(const struct holder *h)
{
	return (h->sq_tail + 1) % h->a.depth == h->sq_head;
}

/* Write one command at the tail, without ringing the doorbell. */
static void holder_queue(struct holder *h, __u8 opcode, unsigned int cid,
			 off_t off)
{
	__u64 lba = off >> h->a.lba_shift;
	struct lease_sqe e = {
		.opcode = opcode,
		.cid = cid,
		.nsid = h->nsid,
		.prp1 = h->a.data_addr + (__u64)cid * CHUNK,
		.cdw10 = (__u32)lba,
		.cdw11 = (__u32)(lba >> 32),
		.cdw12 = (CHUNK >> h->a.lba_shift) - 1,
	};
	char *dst = h->sq + (size_t)h->sq_tail * SQE_SIZE;
	__u64 w[SQE_SIZE / 8];
	unsigned int i;

	memcpy(w, &e, sizeof(w));
	for (i = 0; i < ARRAY_SIZE(w); i++)
		mmio_write64(dst + i * 8, w[i]);
	h->sq_tail = (h->sq_tail + 1) % h->a.depth;
	h->busy[cid] = true;
	h->chunk[cid] = off;
	h->outstanding++;
}

/* Make the queued commands visible, then tell the controller. */
static void holder_ring(struct holder *h)
{
	__sync_synchronize();
	mmio_write32(h->db + h->a.sq_db, h->sq_tail);
}

/*
 * Wait for the next completion and consume it: 0, -ETIMEDOUT after
 * REAP_MS, or -EPROTO for an entry that names no outstanding command of
 * this queue.
 */
static int holder_reap(struct holder *h, struct lease_cqe *cqe)
{
	char *e = h->cq + (size_t)h->cq_head * CQE_SIZE;
	__u32 w[CQE_SIZE / 4];
	struct timespec t0;
	unsigned int i;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while ((mmio_read16(e + 14) & 1) != h->phase) {
		if (ms_since(&t0) > REAP_MS)
			return -ETIMEDOUT;
		sched_yield();
	}
	__sync_synchronize();
	for (i = 0; i < ARRAY_SIZE(w); i++)
		w[i] = mmio_read32(e + i * 4);
	memcpy(cqe, w, sizeof(*cqe));
	if (++h->cq_head == h->a.depth) {
		h->cq_head = 0;
		h->phase ^= 1;
		h->wraps++;
	}
	mmio_write32(h->db + h->a.cq_db, h->cq_head);
	if (cqe->sq_id != h->a.qid || cqe->sq_head >= h->a.depth ||
	    cqe->cid >= h->a.depth || !h->busy[cqe->cid])
		return -EPROTO;
	h->sq_head = cqe->sq_head;
	h->busy[cqe->cid] = false;
	h->outstanding--;
	return 0;
}

/* The pattern of the chunk at disk offset @off, for a test's @seed. */
static uint64_t chunk_seed(uint64_t seed, off_t off)
{
	return seed + (uint64_t)(off / CHUNK);
}

/* Does slot @cid hold the chunk it read? */
static bool holder_slot_ok(struct holder *h, unsigned int cid, uint64_t seed)
{
	return p2p_mismatch(holder_slot(h, cid), CHUNK,
			    chunk_seed(seed, h->chunk[cid])) == -1;
}

/*
 * Queue one command of @opcode for the chunk at @off: a write carries its
 * pattern, a read slot is filled with junk first so that nothing left
 * from an earlier command can pass for the data.
 */
static void holder_queue_chunk(struct holder *h, __u8 opcode, off_t off,
			       uint64_t seed)
{
	unsigned int cid = holder_free_cid(h);

	p2p_fill(holder_slot(h, cid), CHUNK, opcode == OPC_WRITE ?
		 chunk_seed(seed, off) : JUNK_SEED);
	holder_queue(h, opcode, cid, off);
}

/* @count chunks from @off through one lease, up to depth - 1 at a time. */
struct job {
	__u8 opcode;
	off_t off;
	unsigned int count;
	uint64_t seed;
	unsigned int queued, done;
	unsigned int bad_status, bad_data;
	__u16 status;			/* of the first failed command */
};

static void job_init(struct job *j, __u8 opcode, off_t off,
		     unsigned int count, uint64_t seed)
{
	memset(j, 0, sizeof(*j));
	j->opcode = opcode;
	j->off = off;
	j->count = count;
	j->seed = seed;
}

static bool job_done(const struct job *j)
{
	return j->done == j->count;
}

/* Submit the next command if there is room, else reap one. */
static int job_step(struct holder *h, struct job *j)
{
	struct lease_cqe cqe;
	int ret;

	if (j->queued < j->count && h->outstanding < h->a.depth - 1) {
		holder_queue_chunk(h, j->opcode,
				   j->off + (off_t)j->queued * CHUNK, j->seed);
		holder_ring(h);
		j->queued++;
		return 0;
	}
	ret = holder_reap(h, &cqe);
	if (ret)
		return ret;
	j->done++;
	if (cqe.status >> 1) {
		if (!j->bad_status++)
			j->status = cqe.status;
	} else if (j->opcode == OPC_READ && !holder_slot_ok(h, cqe.cid, j->seed)) {
		j->bad_data++;
	}
	return 0;
}

/* 0, -errno of the queue, or -EIO for failed commands or wrong data. */
static int job_result(const struct job *j)
{
	return j->bad_status || j->bad_data ? -EIO : 0;
}

static int job_run(struct holder *h, struct job *j)
{
	int ret = 0;

	while (!ret && !job_done(j))
		ret = job_step(h, j);
	return ret ? ret : job_result(j);
}

/* --- devices --- */

enum { CTRL_A, CTRL_B, CTRL_C, CTRL_D, CTRL_E, NR_CTRL };

static const char * const serials[NR_CTRL] = {
	"cmbA", "cmbB", "plainC", "farD", "subsE",
};

struct lease_ctrl {
	char name[16];			/* nvme2 */
	char bdf[P2P_BDF_LEN];
	char ns[2][32];			/* disks of nsid 1 and 2, or "" */
	int cntlid;			/* its controller id */
	int fd;				/* /dev/nvmeN */
};

FIXTURE(lease) {
	struct lease_ctrl c[NR_CTRL];
	struct holder h[2];
	long long avail0[2];		/* available of A and B at setup */
	bool ready;			/* avail0 is set */
	char *buf;			/* HOST_LEN of host memory */
	uint64_t seed;			/* this test's patterns */
	pid_t helper;			/* a forked helper still running */
};

static void trim(char *s)
{
	size_t n = strlen(s);

	while (n && (s[n - 1] == '\n' || s[n - 1] == ' '))
		s[--n] = '\0';
}

static long long sysfs_ll(const char *fmt, const char *a, const char *b)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), fmt, a, b);
	return p2p_read_ll(path);
}

/*
 * File the disks of controller @c under their namespace ids.  A controller
 * in an NVMe subsystem (E) has path devices (nvme<s>c<c>n<n>) under it,
 * and its disk is the subsystem's head, nvme<s>n<n>.
 */
static void scan_namespaces(struct lease_ctrl *c)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *dir;

	snprintf(path, sizeof(path), "/sys/class/nvme/%s", c->name);
	dir = opendir(path);
	if (!dir)
		return;
	while ((de = readdir(dir))) {
		unsigned int inst, cntl, ns;
		char disk[32];
		long long nsid;
		int end = 0;

		if (sscanf(de->d_name, "nvme%uc%un%u%n", &inst, &cntl, &ns,
			   &end) == 3 && !de->d_name[end]) {
			snprintf(disk, sizeof(disk), "nvme%un%u", inst, ns);
		} else if (sscanf(de->d_name, "nvme%un%u%n", &inst, &ns,
				  &end) == 2 && !de->d_name[end]) {
			p2p_copy_str(disk, sizeof(disk), de->d_name);
		} else {
			continue;
		}
		nsid = sysfs_ll("/sys/class/nvme/%s/%s/nsid", c->name,
				de->d_name);
		if (nsid < 0)
			nsid = ns;
		if (nsid == 1 || nsid == 2)
			p2p_copy_str(c->ns[nsid - 1], sizeof(c->ns[0]), disk);
	}
	closedir(dir);
}

static void scan_ctrl(struct lease_ctrl *cs, const char *name)
{
	char path[PATH_MAX], real[PATH_MAX], serial[64];
	struct lease_ctrl *c = NULL;
	int i;

	snprintf(path, sizeof(path), "/sys/class/nvme/%s/serial", name);
	if (p2p_read_str(path, serial, sizeof(serial)) <= 0)
		return;
	trim(serial);
	for (i = 0; i < NR_CTRL; i++)
		if (!strcmp(serial, serials[i]))
			c = &cs[i];
	snprintf(path, sizeof(path), "/sys/class/nvme/%s/device", name);
	if (!c || !realpath(path, real))
		return;
	p2p_copy_str(c->name, sizeof(c->name), name);
	p2p_copy_str(c->bdf, sizeof(c->bdf), strrchr(real, '/') + 1);
	c->cntlid = sysfs_ll("/sys/class/nvme/%s/%s", name, "cntlid");
	scan_namespaces(c);
}

static void scan_ctrls(struct lease_ctrl *cs)
{
	struct dirent *de;
	DIR *dir;

	dir = opendir("/sys/class/nvme");
	if (!dir)
		return;
	while ((de = readdir(dir)))
		if (!strncmp(de->d_name, "nvme", 4))
			scan_ctrl(cs, de->d_name);
	closedir(dir);
}

static int ctrl_open(const struct lease_ctrl *c)
{
	char path[64];

	snprintf(path, sizeof(path), "/dev/%s", c->name);
	return open(path, O_RDWR);
}

/* FNV-1a of the test's name: every test writes patterns of its own. */
static uint64_t name_seed(const char *name)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	while (*name) {
		h ^= (unsigned char)*name++;
		h *= 0x100000001b3ULL;
	}
	return h;
}

/*
 * What both fixtures note at setup: A's and B's available p2pmem (@ready
 * once that is known), a host buffer of @len bytes, the test's seed.
 */
static void note_start(struct __test_metadata *_metadata,
		       const struct lease_ctrl *c, long long *avail0,
		       bool *ready, char **buf, size_t len, uint64_t *seed)
{
	int i;

	for (i = 0; i < 2; i++) {
		avail0[i] = p2p_attr(c[i].bdf, "available");
		ASSERT_LE(0, avail0[i]);
	}
	*ready = true;
	*buf = p2p_host_buffer(len);
	ASSERT_NE(NULL, *buf);
	*seed = name_seed(_metadata->name);
}

/* In the parent at teardown: A's and B's p2pmem all back within @ms. */
static void expect_start_back(struct __test_metadata *_metadata,
			      const struct lease_ctrl *c,
			      const long long *avail0, bool ready, int ms)
{
	int i;

	for (i = 0; ready && i < 2; i++)
		EXPECT_EQ(avail0[i],
			  p2p_wait_attr(c[i].bdf, "available", avail0[i], ms));
}

FIXTURE_SETUP(lease)
{
	struct nvme_lease_args a;
	int i;

	for (i = 0; i < NR_CTRL; i++)
		self->c[i].fd = -1;
	for (i = 0; i < 2; i++)
		self->h[i].fd = -1;
	if (!strcmp(p2p_topology_name(), "lease-amd"))
		SKIP(return, "lease-amd has no NVMe C and D, which these cases need (see lease)");
	if (strcmp(p2p_topology_name(), "lease"))
		SKIP(return, "needs the lease topology (vm/topologies/lease)");
	scan_ctrls(self->c);
	for (i = 0; i < NR_CTRL; i++) {
		/* E's namespace 1 is back only once its test passed */
		ASSERT_TRUE(self->c[i].name[0] &&
			    (i == CTRL_E || self->c[i].ns[0][0])) {
			TH_LOG("no NVMe with serial %s and namespace 1",
			       serials[i]);
		}
		self->c[i].fd = ctrl_open(&self->c[i]);
		ASSERT_LE(0, self->c[i].fd);
	}
	ASSERT_TRUE(self->c[CTRL_A].ns[1][0]) {
		TH_LOG("NVMe A (%s) has no namespace 2", self->c[CTRL_A].name);
	}
	if (p2p_kernel_is("baseline")) {
		ASSERT_EQ(-ENOTTY, lease_take(self->c[CTRL_A].fd, 1, 4, CHUNK,
					      &a));
		SKIP(return, STOCK_SKIP);
	}
	note_start(_metadata, self->c, self->avail0, &self->ready, &self->buf,
		   HOST_LEN, &self->seed);
}

/*
 * In the parent, after the test's process has exited, which closed and
 * unmapped every lease it held (also when an ASSERT ended it early): all
 * the p2pmem the leases took is back.
 */
FIXTURE_TEARDOWN_PARENT(lease)
{
	if (self->helper > 0)
		kill(self->helper, SIGKILL);
	expect_start_back(_metadata, self->c, self->avail0, self->ready, 2000);
}

/* --- the kernel's block path, through host memory --- */

/* One O_DIRECT transfer on /dev/@disk: 0 or -errno (-EIO when short). */
static int disk_io(const char *disk, bool write_it, void *buf, size_t len,
		   off_t off)
{
	char path[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/dev/%s", disk);
	fd = open(path, (write_it ? O_RDWR : O_RDONLY) | O_DIRECT);
	if (fd < 0)
		return -errno;
	n = write_it ? pwrite(fd, buf, len, off) : pread(fd, buf, len, off);
	if (n < 0)
		n = -errno;
	close(fd);
	return n < 0 ? (int)n : (n == (ssize_t)len ? 0 : -EIO);
}

/* Write @count chunks of @seed's patterns at @off. */
static int disk_put(char *buf, const char *disk, off_t off,
		    unsigned int count, uint64_t seed)
{
	unsigned int i;

	for (i = 0; i < count; i++)
		p2p_fill(buf + (size_t)i * CHUNK, CHUNK,
			 chunk_seed(seed, off + (off_t)i * CHUNK));
	return disk_io(disk, true, buf, (size_t)count * CHUNK, off);
}

/*
 * Read @count chunks at @off and compare them with @seed's patterns: 0,
 * -errno of the read, or 1 + the index of the first chunk that differs.
 */
static int disk_check(char *buf, const char *disk, off_t off,
		      unsigned int count, uint64_t seed)
{
	unsigned int i;
	int ret;

	memset(buf, 0, (size_t)count * CHUNK);
	ret = disk_io(disk, false, buf, (size_t)count * CHUNK, off);
	for (i = 0; !ret && i < count; i++)
		if (p2p_mismatch(buf + (size_t)i * CHUNK, CHUNK,
				 chunk_seed(seed, off + (off_t)i * CHUNK)) != -1)
			ret = i + 1;
	return ret;
}

/* --- steps the tests share --- */

static void open_holder(struct __test_metadata *_metadata, struct holder *h,
			const struct lease_ctrl *c, __u32 nsid, __u32 depth)
{
	int ret = holder_open(h, c->fd, nsid, depth);

	ASSERT_EQ(0, ret) {
		TH_LOG("lease of %s nsid %u depth %u: %s", c->name, nsid,
		       depth, strerror(-ret));
	}
	ASSERT_EQ(depth, h->a.depth);
	/* a chunk is at least one block */
	ASSERT_GE(12, h->a.lba_shift);
}

/* Move @count chunks at @off through @h and check every completion. */
static void lease_io(struct __test_metadata *_metadata, struct holder *h,
		     __u8 opcode, off_t off, unsigned int count, uint64_t seed)
{
	struct job j;
	int ret;

	job_init(&j, opcode, off, count, seed);
	ret = job_run(h, &j);
	ASSERT_EQ(0, ret) {
		TH_LOG("%s of %u chunks at %lld, qid %u: %s",
		       opcode == OPC_WRITE ? "write" : "read", count,
		       (long long)off, h->a.qid, strerror(-ret));
		TH_LOG("%u done, %u failed (first status 0x%x), %u wrong data",
		       j.done, j.bad_status, j.status, j.bad_data);
	}
}

static void check_disk(struct __test_metadata *_metadata, char *buf,
		       const char *disk, off_t off, unsigned int count,
		       uint64_t seed)
{
	int ret = disk_check(buf, disk, off, count, seed);

	EXPECT_EQ(0, ret) {
		if (ret < 0)
			TH_LOG("%s: O_DIRECT read at %lld: %s", disk,
			       (long long)off, strerror(-ret));
		else
			TH_LOG("%s: chunk %d of %u at %lld differs", disk,
			       ret - 1, count, (long long)off);
	}
}

/* Every mapping of a revoked lease raises SIGBUS. */
static void expect_mappings_gone(struct __test_metadata *_metadata,
				 struct holder *h)
{
	EXPECT_TRUE(p2p_touch_faults(h->sq, false));
	EXPECT_TRUE(p2p_touch_faults(h->cq, false));
	EXPECT_TRUE(p2p_touch_faults(h->data, false));
	EXPECT_TRUE(p2p_touch_faults(h->db + h->a.sq_db, false));
}

/* A lease revoked already: poll() says so, and every mapping faults. */
static void expect_revoked(struct __test_metadata *_metadata,
			   struct holder *h)
{
	EXPECT_EQ(POLLERR | POLLHUP,
		  lease_events(h->fd, 0) & (POLLERR | POLLHUP));
	expect_mappings_gone(_metadata, h);
}

/* @n reads of the chunks from @off queued and rung, not reaped. */
static void holder_reads_in_flight(struct holder *h, off_t off,
				   unsigned int n, uint64_t seed)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		holder_queue_chunk(h, OPC_READ, off + (off_t)i * CHUNK, seed);
	holder_ring(h);
}

/* Hot removal of the PCI function @bdf, done within @limit_ms. */
static void remove_function(struct __test_metadata *_metadata,
			    const char *bdf, long long limit_ms)
{
	char path[PATH_MAX];
	long long ms = 0;
	int ret;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/remove", bdf);
	ret = p2p_write_bounded(path, "1", REMOVE_SECS, &ms);
	ASSERT_EQ(0, ret) {
		TH_LOG("remove %s: %s", bdf, strerror(-ret));
	}
	EXPECT_GT(limit_ms, ms);
}

static void rescan_bus(struct __test_metadata *_metadata)
{
	int ret = p2p_write_bounded("/sys/bus/pci/rescan", "1", REMOVE_SECS,
				    NULL);

	ASSERT_EQ(0, ret) {
		TH_LOG("rescan: %s", strerror(-ret));
	}
}

static long long available(const struct lease_ctrl *c)
{
	return p2p_attr(c->bdf, "available");
}

/* Is [@addr, @addr + @len) inside @c's CMB (its 64 MiB BAR)? */
static bool in_cmb(const struct lease_ctrl *c, __u64 addr, __u64 len)
{
	struct p2p_bar bar;

	return !p2p_find_bar_of_len(c->bdf, 64 * P2P_MIB, &bar) &&
	       addr >= bar.start && addr + len - 1 <= bar.end;
}

/* Hardware queues the kernel uses on @disk (its mq/ directories). */
static int kernel_queues(const char *disk)
{
	char path[PATH_MAX];
	struct dirent *de;
	int n = 0;
	DIR *dir;

	snprintf(path, sizeof(path), "/sys/block/%s/mq", disk);
	dir = opendir(path);
	if (!dir)
		return -errno;
	while ((de = readdir(dir)))
		n += de->d_name[0] != '.';
	closedir(dir);
	return n;
}

/* --- tests --- */

TEST_F_TIMEOUT(lease, lease_fields, TEST_SECS)
{
	struct lease_ctrl *a = &self->c[CTRL_A];
	struct holder *h = &self->h[0];
	size_t page = p2p_page_size();
	long long lbs, nr_kq, wanted;
	struct nvme_lease_args a2;
	__u32 stride, depth = 8;
	int fd2;

	nr_kq = kernel_queues(a->ns[0]);
	ASSERT_LT(0, nr_kq);
	lbs = sysfs_ll("/sys/block/%s/queue/%s", a->ns[0],
		       "logical_block_size");
	ASSERT_LT(0, lbs);
	open_holder(_metadata, h, a, 1, depth);

	/* above every queue the kernel uses, within the ones kept */
	EXPECT_LT(nr_kq, h->a.qid);
	wanted = p2p_read_ll("/sys/module/nvme/parameters/lease_queues");
	if (wanted > 0)
		EXPECT_GE(nr_kq + wanted, h->a.qid);
	EXPECT_EQ(lbs, 1LL << h->a.lba_shift);

	/* SQ and data in A's CMB, CQ in B's (QEMU's CMB takes no CQs) */
	EXPECT_EQ(NVME_LEASE_MEM_P2PMEM, h->a.sq_mem);
	EXPECT_EQ(NVME_LEASE_MEM_P2PMEM, h->a.cq_mem);
	EXPECT_EQ((__u64)depth * CHUNK, h->a.data_size);
	EXPECT_EQ(0, h->a.data_addr % page);
	EXPECT_TRUE(in_cmb(a, h->a.data_addr, h->a.data_size)) {
		TH_LOG("data at 0x%llx, not in %s's CMB",
		       (unsigned long long)h->a.data_addr, a->bdf);
	}
	/* and they took exactly that much of A's and B's p2pmem */
	EXPECT_EQ((long long)(h->a.sq_size + h->a.data_size),
		  self->avail0[CTRL_A] - available(a));
	EXPECT_EQ((long long)h->a.cq_size,
		  self->avail0[CTRL_B] - available(&self->c[CTRL_B]));

	/* regions: page aligned, large enough, at page-aligned offsets */
	EXPECT_EQ(0, h->a.sq_size % page);
	EXPECT_EQ(0, h->a.cq_size % page);
	EXPECT_EQ(0, h->a.db_size % page);
	EXPECT_LE((__u64)depth * SQE_SIZE, h->a.sq_size);
	EXPECT_LE((__u64)depth * CQE_SIZE, h->a.cq_size);
	EXPECT_LE(page, h->a.db_size);
	EXPECT_EQ(0, h->a.sq_off % page);
	EXPECT_EQ(0, h->a.cq_off % page);
	EXPECT_EQ(0, h->a.data_off % page);
	EXPECT_EQ(0, h->a.db_off % page);

	/* the doorbells of this qid: 0x1000 + (2 * qid + n) * stride */
	stride = h->a.cq_db - h->a.sq_db;
	EXPECT_LT(h->a.sq_db, h->a.cq_db);
	EXPECT_EQ(0, h->a.sq_db % 4);
	EXPECT_EQ(0, stride & (stride - 1));
	EXPECT_GE(h->a.db_size, h->a.cq_db + 4ULL);
	EXPECT_EQ((0x1000 + 2ULL * h->a.qid * stride) % page,
		  h->a.sq_db % page);
	EXPECT_EQ(0, lease_events(h->fd, 0));

	/* a second lease: another qid, data rounded up to pages */
	fd2 = lease_take(a->fd, 1, 2, page + 1, &a2);
	ASSERT_LE(0, fd2) {
		TH_LOG("second lease: %s", strerror(-fd2));
	}
	EXPECT_NE(h->a.qid, a2.qid);
	EXPECT_EQ(2 * page, a2.data_size);
	EXPECT_EQ(2, a2.depth);
	close(fd2);
}

/* The holder writes 64 chunks on A's namespace 1, the kernel reads back. */
static void write_then_kernel_reads(struct __test_metadata *_metadata,
				    struct lease_ctrl *a, struct holder *h,
				    char *buf, uint64_t seed, __u32 depth)
{
	unsigned int count = 64;

	open_holder(_metadata, h, a, 1, depth);
	lease_io(_metadata, h, OPC_WRITE, 0, count, seed);
	/* every command went through the queues: several wraps */
	EXPECT_EQ(count / depth, h->wraps);
	check_disk(_metadata, buf, a->ns[0], 0, count, seed);
}

TEST_F_TIMEOUT(lease, write_then_kernel_reads_depth2, TEST_SECS)
{
	write_then_kernel_reads(_metadata, &self->c[CTRL_A], &self->h[0],
				self->buf, self->seed, 2);
}

TEST_F_TIMEOUT(lease, write_then_kernel_reads_depth4, TEST_SECS)
{
	write_then_kernel_reads(_metadata, &self->c[CTRL_A], &self->h[0],
				self->buf, self->seed, 4);
}

TEST_F_TIMEOUT(lease, write_then_kernel_reads_depth16, TEST_SECS)
{
	write_then_kernel_reads(_metadata, &self->c[CTRL_A], &self->h[0],
				self->buf, self->seed, 16);
}

TEST_F_TIMEOUT(lease, kernel_writes_then_lease_reads, TEST_SECS)
{
	struct lease_ctrl *a = &self->c[CTRL_A];
	struct holder *h = &self->h[0];
	off_t off = 4 * P2P_MIB;

	ASSERT_EQ(0, disk_put(self->buf, a->ns[0], off, 64, self->seed));
	open_holder(_metadata, h, a, 1, 8);
	lease_io(_metadata, h, OPC_READ, off, 64, self->seed);
}

TEST_F_TIMEOUT(lease, two_leases_two_namespaces, TEST_SECS)
{
	struct lease_ctrl *a = &self->c[CTRL_A];
	uint64_t seed[2] = { self->seed, ~self->seed };
	unsigned int count = 48, i;
	struct job j[2];
	int ret = 0;

	for (i = 0; i < 2; i++)
		open_holder(_metadata, &self->h[i], a, i + 1, 8);
	EXPECT_NE(self->h[0].a.qid, self->h[1].a.qid);

	/* one step on each queue in turn, writes and then reads */
	for (i = 0; i < 2; i++)
		job_init(&j[i], OPC_WRITE, 0, count, seed[i]);
	while (!ret && (!job_done(&j[0]) || !job_done(&j[1])))
		for (i = 0; !ret && i < 2; i++)
			if (!job_done(&j[i]))
				ret = job_step(&self->h[i], &j[i]);
	ASSERT_EQ(0, ret);
	ASSERT_EQ(0, job_result(&j[0]));
	ASSERT_EQ(0, job_result(&j[1]));
	for (i = 0; i < 2; i++)
		job_init(&j[i], OPC_READ, 0, count, seed[i]);
	while (!ret && (!job_done(&j[0]) || !job_done(&j[1])))
		for (i = 0; !ret && i < 2; i++)
			if (!job_done(&j[i]))
				ret = job_step(&self->h[i], &j[i]);
	ASSERT_EQ(0, ret);
	EXPECT_EQ(0, j[0].bad_status + j[0].bad_data);
	EXPECT_EQ(0, j[1].bad_status + j[1].bad_data);

	for (i = 0; i < 2; i++)
		check_disk(_metadata, self->buf, a->ns[i], 0, count, seed[i]);
}

/* What the helper doing kernel I/O reports, in shared memory. */
struct helper_stats {
	int stop;
	int cycles;			/* verified write + read cycles */
	int failures;
	int first_error;		/* disk_check() of the first failure */
};

#define HELPER_CHUNKS	16

/* Verified O_DIRECT write/read cycles on @disk until told to stop. */
static void helper_loop(struct helper_stats *st, char *buf, const char *disk,
			uint64_t seed)
{
	pid_t parent = getppid();
	int k = 0, ret;

	/* also stop when the test's process is gone */
	while (!__atomic_load_n(&st->stop, __ATOMIC_ACQUIRE) &&
	       getppid() == parent) {
		off_t off = (off_t)(k % 32) * HELPER_CHUNKS * CHUNK;
		uint64_t s = seed + (uint64_t)k++ * 1000;

		ret = disk_put(buf, disk, off, HELPER_CHUNKS, s);
		if (!ret)
			ret = disk_check(buf, disk, off, HELPER_CHUNKS, s);
		if (ret && !st->failures++)
			st->first_error = ret;
		__atomic_add_fetch(&st->cycles, 1, __ATOMIC_RELEASE);
	}
}

static int helper_cycles(struct helper_stats *st)
{
	return __atomic_load_n(&st->cycles, __ATOMIC_ACQUIRE);
}

TEST_F_TIMEOUT(lease, kernel_io_throughout, TEST_SECS)
{
	struct lease_ctrl *a = &self->c[CTRL_A];
	struct holder *h = &self->h[0];
	unsigned int count = 32, rounds, r;
	struct helper_stats *st;
	struct timespec t0;
	int status, start;
	pid_t pid;

	st = mmap(NULL, sizeof(*st), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, st);
	/* forked before the lease is taken: the helper holds none of it */
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		helper_loop(st, self->buf, a->ns[1], ~self->seed);
		_exit(0);
	}
	self->helper = pid;	/* self is shared: set by the parent only */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!helper_cycles(st) && ms_since(&t0) < NS_BACK_MS)
		p2p_msleep(10);
	ASSERT_LT(0, helper_cycles(st));

	/* lease I/O until the helper has done three cycles meanwhile */
	open_holder(_metadata, h, a, 1, 8);
	start = helper_cycles(st);
	for (rounds = 0; rounds < 32; rounds++) {
		lease_io(_metadata, h, OPC_WRITE,
			 (off_t)rounds * count * CHUNK, count, self->seed);
		if (rounds >= 2 && helper_cycles(st) - start >= 3)
			break;
	}
	EXPECT_LE(3, helper_cycles(st) - start);
	__atomic_store_n(&st->stop, 1, __ATOMIC_RELEASE);
	ASSERT_EQ(pid, p2p_waitpid_bounded(pid, &status, 60));
	self->helper = 0;
	EXPECT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status));
	EXPECT_EQ(0, st->failures) {
		TH_LOG("kernel I/O on %s: %d of %d cycles failed, first %d",
		       a->ns[1], st->failures, st->cycles, st->first_error);
	}

	for (r = 0; r <= rounds && r < 32; r++)
		check_disk(_metadata, self->buf, a->ns[0],
			   (off_t)r * count * CHUNK, count, self->seed);
	munmap(st, sizeof(*st));
}

TEST_F_TIMEOUT(lease, sq_in_another_provider, TEST_SECS)
{
	struct lease_ctrl *a = &self->c[CTRL_A], *b = &self->c[CTRL_B];
	struct lease_ctrl *c = &self->c[CTRL_C];
	struct holder *h = &self->h[0];
	long long taken;

	open_holder(_metadata, h, c, 1, 8);
	EXPECT_EQ(NVME_LEASE_MEM_P2PMEM, h->a.sq_mem);
	EXPECT_EQ(NVME_LEASE_MEM_P2PMEM, h->a.cq_mem);
	EXPECT_TRUE(in_cmb(a, h->a.data_addr, h->a.data_size) ||
		    in_cmb(b, h->a.data_addr, h->a.data_size)) {
		TH_LOG("data at 0x%llx, in neither %s's nor %s's CMB",
		       (unsigned long long)h->a.data_addr, a->bdf, b->bdf);
	}
	/* C has no p2pmem of its own: all of it comes from A and B */
	taken = self->avail0[CTRL_A] - available(a) +
		self->avail0[CTRL_B] - available(b);
	EXPECT_LE((long long)(h->a.sq_size + h->a.cq_size + h->a.data_size),
		  taken);

	lease_io(_metadata, h, OPC_WRITE, 0, 48, self->seed);
	check_disk(_metadata, self->buf, c->ns[0], 0, 48, self->seed);
	lease_io(_metadata, h, OPC_READ, 0, 48, self->seed);
}

TEST_F_TIMEOUT(lease, revoke_on_close, TEST_SECS)
{
	struct lease_ctrl *a = &self->c[CTRL_A], *b = &self->c[CTRL_B];
	struct holder *h = &self->h[0];

	open_holder(_metadata, h, a, 1, 4);
	lease_io(_metadata, h, OPC_WRITE, 0, 8, self->seed);
	EXPECT_GT(self->avail0[CTRL_A], available(a));
	EXPECT_GT(self->avail0[CTRL_B], available(b));
	holder_reads_in_flight(h, 0, 3, self->seed);

	/* the descriptor first, the mappings after */
	close(h->fd);
	h->fd = -1;
	holder_unmap(h);
	EXPECT_EQ(self->avail0[CTRL_A],
		  p2p_wait_attr(a->bdf, "available", self->avail0[CTRL_A],
				2000));
	EXPECT_EQ(self->avail0[CTRL_B],
		  p2p_wait_attr(b->bdf, "available", self->avail0[CTRL_B],
				2000));
	check_disk(_metadata, self->buf, a->ns[0], 0, 8, self->seed);

	/* the queue is free again */
	open_holder(_metadata, h, a, 1, 4);
	lease_io(_metadata, h, OPC_READ, 0, 8, self->seed);
}

TEST_F_TIMEOUT(lease, revoke_explicit_with_io_in_flight, TEST_SECS)
{
	struct lease_ctrl *a = &self->c[CTRL_A];
	struct holder *h = &self->h[0];
	off_t io_off = 8 * P2P_MIB;
	__u32 depth = 16, i;
	struct timespec t0;
	long long ms;
	int ev, ret;

	open_holder(_metadata, h, a, 1, depth);
	for (i = 0; i < depth - 1; i++)
		holder_queue_chunk(h, OPC_WRITE, (off_t)i * CHUNK, self->seed);
	EXPECT_TRUE(holder_sq_full(h));
	holder_ring(h);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	ret = lease_revoke(a->fd, h->a.qid);
	ms = ms_since(&t0);
	ASSERT_EQ(0, ret) {
		TH_LOG("revoke of qid %u: %s", h->a.qid, strerror(-ret));
	}
	EXPECT_GT(REVOKE_MS, ms);
	ev = lease_events(h->fd, 0);
	EXPECT_EQ(POLLERR | POLLHUP, ev & (POLLERR | POLLHUP));
	expect_mappings_gone(_metadata, h);
	EXPECT_EQ(-ENOENT, lease_revoke(a->fd, h->a.qid));

	/* the kernel's own queues are unharmed */
	ASSERT_EQ(0, disk_put(self->buf, a->ns[0], io_off, 16, self->seed));
	check_disk(_metadata, self->buf, a->ns[0], io_off, 16, self->seed);

	holder_close(h);
	EXPECT_EQ(self->avail0[CTRL_A],
		  p2p_wait_attr(a->bdf, "available", self->avail0[CTRL_A],
				2000));
	EXPECT_EQ(self->avail0[CTRL_B],
		  p2p_wait_attr(self->c[CTRL_B].bdf, "available",
				self->avail0[CTRL_B], 2000));

	open_holder(_metadata, h, a, 1, depth);
	lease_io(_metadata, h, OPC_WRITE, io_off, 32, ~self->seed);
	check_disk(_metadata, self->buf, a->ns[0], io_off, 32, ~self->seed);
}

/* Three commands fill a queue of four; reap them, twelve times over. */
static void full_rounds(struct __test_metadata *_metadata, struct holder *h,
			__u8 opcode, unsigned int rounds, uint64_t seed)
{
	unsigned int r, k, n = h->a.depth - 1;
	struct lease_cqe cqe;

	for (r = 0; r < rounds; r++) {
		for (k = 0; k < n; k++)
			holder_queue_chunk(h, opcode,
					   (off_t)(r * n + k) * CHUNK, seed);
		ASSERT_TRUE(holder_sq_full(h));
		holder_ring(h);
		for (k = 0; k < n; k++) {
			ASSERT_EQ(0, holder_reap(h, &cqe));
			ASSERT_EQ(0, cqe.status >> 1) {
				TH_LOG("round %u: status 0x%x", r, cqe.status);
			}
			if (opcode == OPC_READ)
				EXPECT_TRUE(holder_slot_ok(h, cqe.cid, seed));
		}
		/* every entry fetched: the last completion says so */
		EXPECT_EQ(h->sq_tail, h->sq_head);
	}
}

TEST_F_TIMEOUT(lease, depth_full, TEST_SECS)
{
	struct lease_ctrl *a = &self->c[CTRL_A];
	struct holder *h = &self->h[0];
	unsigned int rounds = 8;

	open_holder(_metadata, h, a, 1, 4);
	full_rounds(_metadata, h, OPC_WRITE, rounds, self->seed);
	check_disk(_metadata, self->buf, a->ns[0], 0, rounds * 3, self->seed);
	full_rounds(_metadata, h, OPC_READ, rounds, self->seed);
	/* 48 completions in a queue of 4 */
	EXPECT_EQ(2 * rounds * 3 / 4, h->wraps);
	EXPECT_EQ(0, h->outstanding);
}

TEST_F_TIMEOUT(lease, refuse_unprivileged, TEST_SECS)
{
	struct lease_ctrl *a = &self->c[CTRL_A];
	struct holder *h = &self->h[0];
	struct nvme_lease_args args;
	int pipefd[2], res[2] = { 0, 0 }, status;
	pid_t pid;

	open_holder(_metadata, h, a, 1, 4);
	ASSERT_EQ(0, pipe(pipefd));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		/* the controller's fd stays open; the capabilities go */
		close(pipefd[0]);
		if (setgid(NOBODY) || setuid(NOBODY))
			_exit(1);
		res[0] = lease_take(a->fd, 1, 4, CHUNK, &args);
		res[1] = lease_revoke(a->fd, h->a.qid);
		_exit(write(pipefd[1], res, sizeof(res)) != sizeof(res));
	}
	close(pipefd[1]);
	EXPECT_EQ(sizeof(res), read(pipefd[0], res, sizeof(res)));
	close(pipefd[0]);
	ASSERT_EQ(pid, p2p_waitpid_bounded(pid, &status, 30));
	EXPECT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status));
	EXPECT_EQ(-EACCES, res[0]);
	EXPECT_EQ(-EACCES, res[1]);

	/* the child's copies of the lease are gone, the lease is not */
	EXPECT_EQ(0, lease_events(h->fd, 0));
	lease_io(_metadata, h, OPC_WRITE, 0, 8, self->seed);
	check_disk(_metadata, self->buf, a->ns[0], 0, 8, self->seed);
}

TEST_F_TIMEOUT(lease, refuse_unknown_namespace, TEST_SECS)
{
	struct nvme_lease_args args;

	EXPECT_EQ(-ENODEV, lease_take(self->c[CTRL_A].fd, 99, 4, CHUNK, &args));
}

TEST_F_TIMEOUT(lease, refuse_bad_arguments, TEST_SECS)
{
	static const __u32 bad_depths[] = { 0, 1, 65537, 70000 };
	struct nvme_lease_args good = {
		.nsid = 1, .depth = 4, .data_size = CHUNK,
	}, args;
	int fd = self->c[CTRL_A].fd, ret;
	unsigned int i;

	args = good;
	args.flags = 1;
	EXPECT_EQ(-EINVAL, lease_take_raw(fd, &args));
	for (i = 0; i < ARRAY_SIZE(good.rsvd); i++) {
		args = good;
		args.rsvd[i] = 1;
		EXPECT_EQ(-EINVAL, lease_take_raw(fd, &args)) {
			TH_LOG("rsvd[%u] = 1", i);
		}
	}
	for (i = 0; i < ARRAY_SIZE(bad_depths); i++) {
		args = good;
		args.depth = bad_depths[i];
		EXPECT_EQ(-EINVAL, lease_take_raw(fd, &args)) {
			TH_LOG("depth %u", bad_depths[i]);
		}
	}
	/* none of them kept anything */
	args = good;
	ret = lease_take_raw(fd, &args);
	ASSERT_LE(0, ret) {
		TH_LOG("valid lease after the refusals: %s", strerror(-ret));
	}
	close(ret);
}

TEST_F_TIMEOUT(lease, refuse_all_queues_leased, TEST_SECS)
{
	struct nvme_lease_args args;
	int ctrl = self->c[CTRL_A].fd, fd[3], i;

	/* lease_queues=2: two live leases hold every queue kept */
	for (i = 0; i < 2; i++) {
		fd[i] = lease_take(ctrl, i + 1, 4, CHUNK, &args);
		ASSERT_LE(0, fd[i]) {
			TH_LOG("lease %d: %s", i, strerror(-fd[i]));
		}
	}
	EXPECT_EQ(-EBUSY, lease_take(ctrl, 1, 4, CHUNK, &args));
	close(fd[0]);
	fd[2] = lease_take(ctrl, 1, 4, CHUNK, &args);
	EXPECT_LE(0, fd[2]);
	if (fd[2] >= 0)
		close(fd[2]);
	close(fd[1]);
}

/*
 * The text of a /dev/kmsg record ("prio,seq,time,flags;text\n" and then
 * " KEY=value" lines, which name the device of any dev_printk()).
 */
static char *kmsg_text(char *rec)
{
	char *text = strchr(rec, ';');

	text = text ? text + 1 : rec;
	text[strcspn(text, "\n")] = '\0';
	return text;
}

TEST_F_TIMEOUT(lease, refuse_unreachable_p2pmem, TEST_SECS)
{
	struct lease_ctrl *d = &self->c[CTRL_D];
	struct nvme_lease_args args;
	char rec[P2P_KMSG_REC], want[128];
	int kmsg, ret;

	kmsg = p2p_kmsg_open();
	ASSERT_LE(0, kmsg);
	ret = lease_take(d->fd, 1, 4, CHUNK, &args);
	if (ret >= 0)
		close(ret);
	EXPECT_EQ(-EREMOTEIO, ret);
	/* the refusal is logged for D, ending there (no holder named) */
	snprintf(want, sizeof(want), "%s: %s\n", d->bdf,
		 "queue lease refused: no p2pmem within reach of this controller");
	EXPECT_TRUE(p2p_kmsg_search(kmsg, want, NULL)) {
		TH_LOG("no kernel log line \"%.*s\" (NVMe D, %s); lines naming it:",
		       (int)strlen(want) - 1, want, d->name);
		while (p2p_kmsg_next(kmsg, rec, sizeof(rec))) {
			char *text = kmsg_text(rec);

			if (strstr(text, d->bdf))
				TH_LOG("kmsg: %s", text);
		}
	}
	close(kmsg);
}

/*
 * B, whose p2pmem holds the completion queue of a lease on A, loses its
 * driver while the lease is live: the lease is revoked before B's teardown
 * waits for its p2pmem, so the unbind ends at once and nothing is left
 * allocated.  Without B, a new lease's CQ goes to host memory (A's CMB
 * takes no CQs); B comes back whole.
 */
TEST_F_TIMEOUT(lease, revoke_on_provider_unbind, TEST_SECS)
{
	struct lease_ctrl *a = &self->c[CTRL_A], *b = &self->c[CTRL_B];
	struct holder *h = &self->h[0];
	off_t io_off = 12 * P2P_MIB;
	struct timespec t0;
	int ret;

	open_holder(_metadata, h, a, 1, 4);
	ASSERT_EQ(NVME_LEASE_MEM_P2PMEM, h->a.cq_mem);
	lease_io(_metadata, h, OPC_WRITE, io_off, 4, self->seed);
	holder_reads_in_flight(h, io_off, 3, self->seed);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	ret = p2p_write_str("/sys/bus/pci/drivers/nvme/unbind", b->bdf);
	ASSERT_EQ(0, ret) {
		TH_LOG("unbind %s: %s", b->bdf, strerror(-ret));
	}
	EXPECT_GT(REVOKE_MS, ms_since(&t0));
	expect_revoked(_metadata, h);
	holder_close(h);
	EXPECT_EQ(self->avail0[CTRL_A],
		  p2p_wait_attr(a->bdf, "available", self->avail0[CTRL_A],
				2000));
	check_disk(_metadata, self->buf, a->ns[0], io_off, 4, self->seed);

	/* no provider but A's own CMB left: the CQ in host memory */
	open_holder(_metadata, h, a, 1, 4);
	EXPECT_EQ(NVME_LEASE_MEM_HOST, h->a.cq_mem);
	EXPECT_EQ(NVME_LEASE_MEM_P2PMEM, h->a.sq_mem);
	lease_io(_metadata, h, OPC_READ, io_off, 4, self->seed);
	holder_close(h);

	ret = p2p_write_str("/sys/bus/pci/drivers/nvme/bind", b->bdf);
	ASSERT_EQ(0, ret) {
		TH_LOG("bind %s: %s", b->bdf, strerror(-ret));
	}
	EXPECT_EQ(self->avail0[CTRL_B],
		  p2p_wait_attr(b->bdf, "available", self->avail0[CTRL_B],
				10000));
}

/*
 * Namespace Attachment, as an administrator does it: nvme-cli's attach-ns
 * or detach-ns of namespace @nsid for @c's own controller id.  The lease
 * topology boots the Debian userland, which has nvme-cli.  0, or nvme's
 * exit status (the NVMe status or an errno, as nvme-cli reports it).
 */
#define NVME_CLI	"/usr/sbin/nvme"

static int ns_attachment(const struct lease_ctrl *c, __u32 nsid, bool attach)
{
	char cmd[192];
	int ret;

	if (access(NVME_CLI, X_OK))
		return -ENOENT;
	snprintf(cmd, sizeof(cmd),
		 NVME_CLI " %s-ns /dev/%s --namespace-id=%u --controllers=%d >%s 2>&1",
		 attach ? "attach" : "detach", c->name, nsid, c->cntlid,
		 "/tmp/nvme-ns.out");
	ret = system(cmd);
	return WIFEXITED(ret) ? WEXITSTATUS(ret) : -ECHILD;
}

/* Have @c's controller scan its namespaces now. */
static void rescan_namespaces(const struct lease_ctrl *c)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "/sys/class/nvme/%s/rescan_controller",
		 c->name);
	p2p_write_str(path, "1");
}

/* Wait up to @ms until @c's namespace @nsid has a disk, or has none. */
static int wait_namespace(struct lease_ctrl *c, __u32 nsid, bool present,
			  int ms)
{
	struct timespec t0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		memset(c->ns, 0, sizeof(c->ns));
		scan_namespaces(c);
		if (!!c->ns[nsid - 1][0] == present)
			return 0;
		if (ms_since(&t0) > ms)
			return -ETIMEDOUT;
		p2p_msleep(100);
	}
}

/*
 * Namespace 1 of E is detached (Namespace Attachment, as an administrator
 * would) while a lease on it has commands in flight: the kernel removes
 * the namespace and, before it goes, revokes the lease, saying why.  A
 * lease on namespace 2 of E stays and works; a new lease on namespace 1 is
 * refused (ENODEV) while namespace 2 serves the kernel.
 * Attached again, it is back with its data, and leases on it work.
 */
TEST_F_TIMEOUT(lease, revoke_on_namespace_removal, TEST_SECS)
{
	struct lease_ctrl *e = &self->c[CTRL_E];
	struct holder *h = &self->h[0], *h2 = &self->h[1];
	struct nvme_lease_args args;
	off_t io_off = 4 * P2P_MIB;
	char disk2[32], want[80];
	__u32 depth = 8;
	struct timespec t0;
	int kmsg, ev, ret;

	ASSERT_TRUE(e->ns[0][0] && e->ns[1][0]) {
		TH_LOG("NVMe E (%s) lacks namespace 1 or 2", e->name);
	}
	ASSERT_LE(0, e->cntlid);
	p2p_copy_str(disk2, sizeof(disk2), e->ns[1]);
	kmsg = p2p_kmsg_open();
	ASSERT_LE(0, kmsg);

	open_holder(_metadata, h, e, 1, depth);
	open_holder(_metadata, h2, e, 2, 4);
	lease_io(_metadata, h, OPC_WRITE, io_off, 16, self->seed);
	holder_reads_in_flight(h, io_off, depth - 1, self->seed);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	ret = ns_attachment(e, 1, false);
	ASSERT_EQ(0, ret) {
		TH_LOG("nvme detach-ns of namespace 1 from %s (controller id %d): %d",
		       e->name, e->cntlid, ret);
	}
	/* the detach's effects or its event make the kernel rescan; so does this */
	rescan_namespaces(e);
	ev = lease_wait_revoked(h->fd, NS_GONE_MS);
	EXPECT_GT(NS_GONE_MS, ms_since(&t0));
	EXPECT_EQ(POLLERR | POLLHUP, ev & (POLLERR | POLLHUP));
	expect_mappings_gone(_metadata, h);
	snprintf(want, sizeof(want),
		 "lease of queue %u revoked: namespace 1 removed", h->a.qid);
	EXPECT_TRUE(p2p_kmsg_search(kmsg, want, NULL)) {
		TH_LOG("no kernel log line \"%s\"", want);
	}
	close(kmsg);
	EXPECT_EQ(0, wait_namespace(e, 1, false, NS_GONE_MS));
	EXPECT_EQ(0, lease_events(h2->fd, 0));
	lease_io(_metadata, h2, OPC_WRITE, io_off, 8, self->seed);
	check_disk(_metadata, self->buf, disk2, io_off, 8, self->seed);
	holder_close(h2);

	ret = lease_take(e->fd, 1, 4, CHUNK, &args);
	if (ret >= 0)
		close(ret);
	EXPECT_EQ(-ENODEV, ret);
	ASSERT_EQ(0, disk_put(self->buf, disk2, io_off, 16, ~self->seed));
	check_disk(_metadata, self->buf, disk2, io_off, 16, ~self->seed);
	holder_close(h);

	ret = ns_attachment(e, 1, true);
	ASSERT_EQ(0, ret) {
		TH_LOG("nvme attach-ns of namespace 1 to %s: %d", e->name, ret);
	}
	rescan_namespaces(e);
	ASSERT_EQ(0, wait_namespace(e, 1, true, NS_BACK_MS));
	check_disk(_metadata, self->buf, e->ns[0], io_off, 16, self->seed);
	open_holder(_metadata, h, e, 1, 4);
	lease_io(_metadata, h, OPC_READ, io_off, 16, self->seed);
}

/*
 * Hot removal of B, whose p2pmem holds the completion queue of a lease on
 * A with commands in flight: the lease is revoked before B's p2pmem goes,
 * so the removal ends in bounded time with nothing left allocated.  After
 * a rescan of the bus, B is back with all of its p2pmem and takes the
 * completion queues of new leases again.
 */
TEST_F_TIMEOUT(lease, revoke_on_provider_remove, TEST_SECS)
{
	struct lease_ctrl *a = &self->c[CTRL_A], *b = &self->c[CTRL_B];
	struct holder *h = &self->h[0];
	off_t io_off = 16 * P2P_MIB;

	open_holder(_metadata, h, a, 1, 8);
	ASSERT_EQ(NVME_LEASE_MEM_P2PMEM, h->a.cq_mem);
	lease_io(_metadata, h, OPC_WRITE, io_off, 8, self->seed);
	holder_reads_in_flight(h, io_off, 7, self->seed);

	remove_function(_metadata, b->bdf, REVOKE_MS);
	expect_revoked(_metadata, h);
	holder_close(h);
	EXPECT_EQ(self->avail0[CTRL_A],
		  p2p_wait_attr(a->bdf, "available", self->avail0[CTRL_A],
				2000));
	check_disk(_metadata, self->buf, a->ns[0], io_off, 8, self->seed);

	rescan_bus(_metadata);
	ASSERT_EQ(self->avail0[CTRL_B],
		  p2p_wait_attr(b->bdf, "available", self->avail0[CTRL_B],
				NS_BACK_MS));
	open_holder(_metadata, h, a, 1, 4);
	EXPECT_EQ(NVME_LEASE_MEM_P2PMEM, h->a.cq_mem);
	lease_io(_metadata, h, OPC_READ, io_off, 8, self->seed);
}

TEST_F_TIMEOUT(lease, revoke_on_reset, TEST_SECS)
{
	struct lease_ctrl *a = &self->c[CTRL_A];
	struct holder *h = &self->h[0];
	struct timespec t0;
	int ev, ret;

	open_holder(_metadata, h, a, 1, 8);
	lease_io(_metadata, h, OPC_WRITE, 0, 16, self->seed);
	holder_reads_in_flight(h, 0, 7, self->seed);
	ASSERT_EQ(0, ioctl(a->fd, NVME_IOCTL_RESET)) {
		TH_LOG("NVME_IOCTL_RESET on %s: %s", a->name, strerror(errno));
	}
	ev = lease_wait_revoked(h->fd, REVOKE_MS);
	EXPECT_EQ(POLLERR | POLLHUP, ev & (POLLERR | POLLHUP));
	expect_mappings_gone(_metadata, h);

	/* the namespace comes back to the kernel */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		ret = disk_put(self->buf, a->ns[0], 0, 16, ~self->seed);
		if (!ret)
			ret = disk_check(self->buf, a->ns[0], 0, 16,
					 ~self->seed);
		if (ret)
			p2p_msleep(200);
	} while (ret && ms_since(&t0) < NS_BACK_MS);
	ASSERT_EQ(0, ret) {
		TH_LOG("%s after the reset: %d", a->ns[0], ret);
	}

	holder_close(h);
	EXPECT_EQ(self->avail0[CTRL_A],
		  p2p_wait_attr(a->bdf, "available", self->avail0[CTRL_A],
				2000));
	EXPECT_EQ(self->avail0[CTRL_B],
		  p2p_wait_attr(self->c[CTRL_B].bdf, "available",
				self->avail0[CTRL_B], 2000));

	/* a fresh lease on the reset controller */
	open_holder(_metadata, h, a, 1, 8);
	lease_io(_metadata, h, OPC_WRITE, 0, 32, self->seed);
	check_disk(_metadata, self->buf, a->ns[0], 0, 32, self->seed);
	lease_io(_metadata, h, OPC_READ, 0, 32, self->seed);
}

/*
 * Hot removal of A under two leases with commands in flight: one on A, and
 * one on C that took memory from A's CMB (the provider is picked at random
 * among the nearest, hence a few tries).  Both are revoked and the removal
 * ends in bounded time; their files only report the revocation, and close
 * cleanly after the device has gone.  B's namespace serves the kernel
 * throughout.  After a rescan of the bus A is back with its data and all
 * of its p2pmem, and leases on it work.
 */
TEST_F_TIMEOUT(lease, revoke_on_controller_remove, TEST_SECS)
{
	struct lease_ctrl *a = &self->c[CTRL_A], *b = &self->c[CTRL_B];
	struct lease_ctrl *c = &self->c[CTRL_C];
	struct holder *ha = &self->h[0], *hc = &self->h[1];
	struct lease_ctrl now[NR_CTRL];
	off_t io_off = 36 * P2P_MIB;
	struct timespec t0;
	int tries;

	open_holder(_metadata, ha, a, 1, 8);
	lease_io(_metadata, ha, OPC_WRITE, io_off, 16, self->seed);
	for (tries = 0; tries < 8; tries++) {
		long long before = available(a);

		open_holder(_metadata, hc, c, 1, 4);
		if (available(a) < before)
			break;
		holder_close(hc);
	}
	ASSERT_GT(8, tries) {
		TH_LOG("no lease on C took memory of A's CMB in 8 tries");
	}
	holder_reads_in_flight(ha, io_off, 7, self->seed);
	holder_reads_in_flight(hc, 0, 3, self->seed);

	remove_function(_metadata, a->bdf, NS_GONE_MS);
	expect_revoked(_metadata, ha);
	expect_revoked(_metadata, hc);
	/* the removed controller's file takes no lease requests */
	EXPECT_EQ(-ENODEV, lease_revoke(a->fd, ha->a.qid));
	ASSERT_EQ(0, disk_put(self->buf, b->ns[0], io_off, 8, ~self->seed));
	check_disk(_metadata, self->buf, b->ns[0], io_off, 8, ~self->seed);
	holder_close(ha);
	holder_close(hc);
	close(a->fd);
	a->fd = -1;

	rescan_bus(_metadata);
	ASSERT_EQ(self->avail0[CTRL_A],
		  p2p_wait_attr(a->bdf, "available", self->avail0[CTRL_A],
				NS_BACK_MS));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		memset(now, 0, sizeof(now));
		scan_ctrls(now);
		if (now[CTRL_A].ns[0][0])
			break;
		p2p_msleep(200);
	} while (ms_since(&t0) < NS_BACK_MS);
	ASSERT_TRUE(now[CTRL_A].ns[0][0]) {
		TH_LOG("NVMe A (%s) is not back with namespace 1", a->bdf);
	}
	*a = now[CTRL_A];
	a->fd = ctrl_open(a);
	ASSERT_LE(0, a->fd);
	check_disk(_metadata, self->buf, a->ns[0], io_off, 16, self->seed);
	open_holder(_metadata, ha, a, 1, 8);
	lease_io(_metadata, ha, OPC_READ, io_off, 16, self->seed);
}

/* --- admin commands that fail: nvme's fault injection --- */

/* Write @val to attribute @attr of @c's admin fault injection. */
static int admin_fault_attr(const struct lease_ctrl *c, const char *attr,
			    const char *val)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "/sys/kernel/debug/%s/fault_inject/%s",
		 c->name, attr);
	return p2p_write_str(path, val);
}

/*
 * The next @times admin commands of @c complete with an error (nvme's
 * fault injection in debugfs: the controller runs each command, the driver
 * then sees Invalid Command Opcode with DNR), or none for @times 0; no
 * stack dump in the log (verbose 0).  0 or -errno.
 */
static int admin_faults(const struct lease_ctrl *c, int times)
{
	char val[16];
	int ret;

	ret = admin_fault_attr(c, "probability", "0");
	if (ret || !times)
		return ret;
	snprintf(val, sizeof(val), "%d", times);
	ret = admin_fault_attr(c, "verbose", "0");
	if (!ret)
		ret = admin_fault_attr(c, "times", val);
	return ret ? ret : admin_fault_attr(c, "probability", "100");
}

/*
 * A lease of namespace 1 of @c taken while its next @n admin commands
 * fail: it must be refused with EIO.
 */
static void take_with_admin_faults(struct __test_metadata *_metadata,
				   const struct lease_ctrl *c, int n)
{
	struct nvme_lease_args args;
	int ret;

	ASSERT_EQ(0, admin_faults(c, n));
	ret = lease_take(c->fd, 1, 4, 4 * CHUNK, &args);
	EXPECT_EQ(0, admin_faults(c, 0));
	if (ret >= 0)
		close(ret);
	EXPECT_EQ(-EIO, ret);
}

/* Wait up to @ms until @c's controller is live: 0 or -ETIMEDOUT. */
static int wait_live(const struct lease_ctrl *c, int ms)
{
	char path[PATH_MAX], state[32];
	struct timespec t0;

	snprintf(path, sizeof(path), "/sys/class/nvme/%s/state", c->name);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		if (p2p_read_str(path, state, sizeof(state)) > 0) {
			trim(state);
			if (!strcmp(state, "live"))
				return 0;
		}
		if (ms_since(&t0) > ms)
			return -ETIMEDOUT;
		p2p_msleep(100);
	}
}

/* @disk takes verified writes again within NS_BACK_MS (after a reset). */
static void expect_disk_back(struct __test_metadata *_metadata, char *buf,
			     const char *disk, uint64_t seed)
{
	struct timespec t0;
	int ret;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		ret = disk_put(buf, disk, 0, 16, seed);
		if (!ret)
			ret = disk_check(buf, disk, 0, 16, seed);
		if (ret)
			p2p_msleep(200);
	} while (ret && ms_since(&t0) < NS_BACK_MS);
	EXPECT_EQ(0, ret) {
		TH_LOG("%s after the reset: %d", disk, ret);
	}
}

/*
 * Create CQ fails (the lease's first admin command): the lease is refused
 * with EIO, and its queue id and memory come back at once, so that both
 * queue ids kept for leases can be leased again.
 */
TEST_F_TIMEOUT(lease, create_cq_failure_gives_all_back, TEST_SECS)
{
	struct lease_ctrl *a = &self->c[CTRL_A];

	take_with_admin_faults(_metadata, a, 1);
	EXPECT_EQ(self->avail0[CTRL_A],
		  p2p_wait_attr(a->bdf, "available", self->avail0[CTRL_A],
				2000));
	EXPECT_EQ(self->avail0[CTRL_B],
		  p2p_wait_attr(self->c[CTRL_B].bdf, "available",
				self->avail0[CTRL_B], 2000));

	/* both queue ids kept for leases are free */
	open_holder(_metadata, &self->h[0], a, 1, 4);
	open_holder(_metadata, &self->h[1], a, 2, 4);
	lease_io(_metadata, &self->h[1], OPC_WRITE, 0, 8, self->seed);
	check_disk(_metadata, self->buf, a->ns[1], 0, 8, self->seed);
}

/*
 * Delete SQ fails when the lease is revoked, and again when its file is
 * closed: the queues may still exist, so the lease outlives its file until
 * the controller resets, and the reset must not reach the file's mapping,
 * which went with the file (the debug kernel's KASAN reports the use after
 * free).  The kernel resets the controller by itself once a deletion
 * failed; the queue id and the memory come back, and A works after it.
 */
TEST_F_TIMEOUT(lease, close_after_failed_revoke, TEST_SECS)
{
	struct lease_ctrl *a = &self->c[CTRL_A];
	struct holder *h = &self->h[0];
	int ret;

	open_holder(_metadata, h, a, 1, 4);
	lease_io(_metadata, h, OPC_WRITE, 0, 4, self->seed);
	ASSERT_EQ(0, admin_faults(a, 1));
	ret = lease_revoke(a->fd, h->a.qid);
	EXPECT_EQ(0, admin_faults(a, 0));
	EXPECT_EQ(0, ret);
	expect_revoked(_metadata, h);
	/* given back by a reset, which nothing but the failure asked for */
	EXPECT_EQ(self->avail0[CTRL_A],
		  p2p_wait_attr(a->bdf, "available", self->avail0[CTRL_A],
				10000));
	ASSERT_EQ(0, wait_live(a, NS_BACK_MS));

	ASSERT_EQ(0, admin_faults(a, 1));
	close(h->fd);
	h->fd = -1;
	EXPECT_EQ(0, admin_faults(a, 0));
	holder_unmap(h);
	ASSERT_EQ(0, ioctl(a->fd, NVME_IOCTL_RESET)) {
		TH_LOG("NVME_IOCTL_RESET on %s: %s", a->name, strerror(errno));
	}
	ASSERT_EQ(0, wait_live(a, NS_BACK_MS));
	EXPECT_EQ(self->avail0[CTRL_A],
		  p2p_wait_attr(a->bdf, "available", self->avail0[CTRL_A],
				2000));
	EXPECT_EQ(self->avail0[CTRL_B],
		  p2p_wait_attr(self->c[CTRL_B].bdf, "available",
				self->avail0[CTRL_B], 2000));
	expect_disk_back(_metadata, self->buf, a->ns[0], ~self->seed);
	open_holder(_metadata, h, a, 1, 4);
	lease_io(_metadata, h, OPC_WRITE, 0, 8, self->seed);
	check_disk(_metadata, self->buf, a->ns[0], 0, 8, self->seed);
}

/*
 * Create CQ fails and so does the deletion after it: the queues may exist,
 * so the lease's memory, its CQ in B's p2pmem, cannot go back before the
 * controller resets, which the kernel must do by itself.  The unbind of B
 * meanwhile ends in bounded time, everything comes back, and A works
 * after its reset.  (Last of the fixture: before the fix, B's unbind
 * hangs for good.)
 */
TEST_F_TIMEOUT(lease, failed_cleanup_then_provider_unbind, TEST_SECS)
{
	struct lease_ctrl *a = &self->c[CTRL_A], *b = &self->c[CTRL_B];
	long long ms = 0;
	int ret;

	take_with_admin_faults(_metadata, a, 2);

	ret = p2p_write_bounded("/sys/bus/pci/drivers/nvme/unbind", b->bdf,
				REMOVE_SECS, &ms);
	ASSERT_EQ(0, ret) {
		TH_LOG("unbind %s: %s", b->bdf, strerror(-ret));
	}
	EXPECT_GT(NS_GONE_MS, ms);
	EXPECT_EQ(self->avail0[CTRL_A],
		  p2p_wait_attr(a->bdf, "available", self->avail0[CTRL_A],
				NS_BACK_MS));
	ASSERT_EQ(0, wait_live(a, NS_BACK_MS));
	expect_disk_back(_metadata, self->buf, a->ns[0], ~self->seed);

	ret = p2p_write_str("/sys/bus/pci/drivers/nvme/bind", b->bdf);
	ASSERT_EQ(0, ret) {
		TH_LOG("bind %s: %s", b->bdf, strerror(-ret));
	}
	EXPECT_EQ(self->avail0[CTRL_B],
		  p2p_wait_attr(b->bdf, "available", self->avail0[CTRL_B],
				10000));
	open_holder(_metadata, &self->h[0], a, 1, 4);
	EXPECT_EQ(NVME_LEASE_MEM_P2PMEM, self->h[0].a.cq_mem);
	lease_io(_metadata, &self->h[0], OPC_WRITE, 0, 8, self->seed);
	check_disk(_metadata, self->buf, a->ns[0], 0, 8, self->seed);
}

/* --- an in-kernel holder: test_edu_lease.ko drives A with QEMU's edu --- */

#define EDU_VENDOR	0x1234
#define EDU_DEVICE	0x11e8
#define EDU_DEPTH	4
#define EDU_CHUNKS	3		/* commands per data case */
#define EDU_DRIVE_MAX	200		/* writes of the revocation's writer */
/*
 * Namespace 1 of A (64 MiB) at offsets of the edu cases' own: the lease
 * cases above use its first 8.125 MiB.
 */
#define EDU_WRITE_OFF	(20 * P2P_MIB)
#define EDU_READ_OFF	(24 * P2P_MIB)
#define EDU_REVOKE_OFF	(28 * P2P_MIB)
#define EDU_KERNEL_OFF	(32 * P2P_MIB)

FIXTURE(edu) {
	struct lease_ctrl c[NR_CTRL];
	char edu[P2P_BDF_LEN];		/* the edu's PCI address */
	int fd;				/* /dev/edu_lease */
	long long avail0[2];		/* available of A and B at setup */
	bool ready;			/* avail0 is set */
	char *buf;			/* EDU_CHUNKS of host memory */
	uint64_t seed;
	pid_t child;			/* a forked writer still running */
};

/* The PCI address of QEMU's edu device (1234:11e8): 0 or -ENODEV. */
static int find_edu(char *bdf, size_t len)
{
	struct dirent *de;
	int ret = -ENODEV;
	DIR *dir;

	dir = opendir(P2P_PCI_DEVICES);
	if (!dir)
		return -errno;
	while (ret && (de = readdir(dir))) {
		if (de->d_name[0] == '.' ||
		    sysfs_ll(P2P_PCI_DEVICES "/%s/%s", de->d_name,
			     "vendor") != EDU_VENDOR ||
		    sysfs_ll(P2P_PCI_DEVICES "/%s/%s", de->d_name,
			     "device") != EDU_DEVICE)
			continue;
		p2p_copy_str(bdf, len, de->d_name);
		ret = 0;
	}
	closedir(dir);
	return ret;
}

/* The module takes one user: wait out the previous case's last close. */
static int edu_open_dev(void)
{
	struct timespec t0;
	int fd;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while ((fd = open(EDU_LEASE_DEVICE, O_RDWR)) < 0 && errno == EBUSY &&
	       ms_since(&t0) < REVOKE_MS)
		p2p_msleep(20);
	return fd < 0 ? -errno : fd;
}

static int edu_take(int fd, const struct lease_ctrl *c, __u32 nsid,
		    __u32 depth, struct edu_lease_take *t)
{
	memset(t, 0, sizeof(*t));
	p2p_copy_str(t->nvme, sizeof(t->nvme), c->bdf);
	t->nsid = nsid;
	t->depth = depth;
	return ioctl(fd, EDU_LEASE_TAKE, t) ? -errno : 0;
}

/* One command of @len bytes at disk offset @off: 0 or -errno. */
static int edu_rw(int fd, const struct edu_lease_take *t, bool write_it,
		  off_t off, unsigned int len, void *buf, __u16 *status)
{
	struct edu_lease_io io = {
		.write = write_it,
		.nblocks = len >> t->lba_shift,
		.slba = off >> t->lba_shift,
		.buf = (uintptr_t)buf,
	};
	int ret = ioctl(fd, EDU_LEASE_IO, &io) ? -errno : 0;

	*status = io.status;
	return ret;
}

static int edu_stats(int fd, struct edu_lease_stats *s)
{
	memset(s, 0, sizeof(*s));
	return ioctl(fd, EDU_LEASE_STATS, s) ? -errno : 0;
}

static int edu_drop(int fd)
{
	return ioctl(fd, EDU_LEASE_DROP) ? -errno : 0;
}

static off_t edu_chunk_off(off_t base, unsigned int i)
{
	return base + (off_t)i * 16 * CHUNK;	/* apart, not adjacent */
}

static bool in_bar(const struct p2p_bar *bar, __u64 addr, __u64 len)
{
	return addr >= bar->start && addr + len - 1 <= bar->end;
}

FIXTURE_SETUP(edu)
{
	const char *topo = p2p_topology_name();
	struct edu_lease_take t;
	int i;

	self->fd = -1;
	for (i = 0; i < NR_CTRL; i++)
		self->c[i].fd = -1;
	if (strcmp(topo, "lease") && strcmp(topo, "lease-amd"))
		SKIP(return, "no edu device here (see the lease and lease-amd topologies)");
	scan_ctrls(self->c);
	for (i = CTRL_A; i <= CTRL_B; i++) {
		ASSERT_TRUE(self->c[i].name[0] && self->c[i].ns[0][0]) {
			TH_LOG("no NVMe with serial %s and namespace 1",
			       serials[i]);
		}
		self->c[i].fd = ctrl_open(&self->c[i]);
		ASSERT_LE(0, self->c[i].fd);
	}
	ASSERT_EQ(0, find_edu(self->edu, sizeof(self->edu))) {
		TH_LOG("no edu (PCI %04x:%04x) in %s", EDU_VENDOR, EDU_DEVICE,
		       topo);
	}
	self->fd = edu_open_dev();
	ASSERT_LE(0, self->fd) {
		TH_LOG("%s: %s (test_edu_lease.ko not bound to %s?)",
		       EDU_LEASE_DEVICE, strerror(-self->fd), self->edu);
	}
	if (p2p_kernel_is("baseline")) {
		ASSERT_EQ(-ENOTTY, edu_take(self->fd, &self->c[CTRL_A], 1,
					    EDU_DEPTH, &t));
		SKIP(return, STOCK_SKIP);
	}
	note_start(_metadata, self->c, self->avail0, &self->ready, &self->buf,
		   EDU_CHUNKS * CHUNK, &self->seed);
}

/* After the case's process (and with it /dev/edu_lease) is gone. */
FIXTURE_TEARDOWN_PARENT(edu)
{
	if (self->child > 0)
		kill(self->child, SIGKILL);
	expect_start_back(_metadata, self->c, self->avail0, self->ready,
			  REVOKE_MS);
}

static void edu_lease(struct __test_metadata *_metadata, int fd,
		      const struct lease_ctrl *c, struct edu_lease_take *t)
{
	int ret = edu_take(fd, c, 1, EDU_DEPTH, t);

	ASSERT_EQ(0, ret) {
		TH_LOG("edu lease of %s nsid 1 depth %u: %s", c->name,
		       EDU_DEPTH, strerror(-ret));
	}
	ASSERT_LT(0, t->qid);
	/* a chunk is at least one block */
	ASSERT_GE(12, t->lba_shift);
}

/* One 4 KiB command through the edu, which must succeed. */
static void edu_chunk(struct __test_metadata *_metadata, int fd,
		      const struct edu_lease_take *t, bool write_it, off_t off,
		      char *buf)
{
	__u16 status = 0;
	int ret = edu_rw(fd, t, write_it, off, CHUNK, buf, &status);

	ASSERT_EQ(0, ret) {
		TH_LOG("edu %s at %lld, qid %u: %s, NVMe status 0x%x",
		       write_it ? "write" : "read", (long long)off, t->qid,
		       strerror(-ret), status);
	}
}

TEST_F_TIMEOUT(edu, edu_writes_kernel_reads, TEST_SECS)
{
	struct lease_ctrl *a = &self->c[CTRL_A];
	struct edu_lease_stats s0, s1;
	struct edu_lease_take t;
	unsigned int i;
	off_t off;

	edu_lease(_metadata, self->fd, a, &t);
	ASSERT_EQ(0, edu_stats(self->fd, &s0));
	for (i = 0; i < EDU_CHUNKS; i++) {
		off = edu_chunk_off(EDU_WRITE_OFF, i);
		p2p_fill(self->buf, CHUNK, chunk_seed(self->seed, off));
		edu_chunk(_metadata, self->fd, &t, true, off, self->buf);
	}
	ASSERT_EQ(0, edu_stats(self->fd, &s1));
	/* command block in, SQ entry, tail, CQ entry in and out, head */
	EXPECT_LE(s0.edu_dmas + 6 * EDU_CHUNKS, s1.edu_dmas);
	EXPECT_EQ(0, s1.revoked);
	EXPECT_EQ(0, s1.revoke_calls);
	for (i = 0; i < EDU_CHUNKS; i++)
		check_disk(_metadata, self->buf, a->ns[0],
			   edu_chunk_off(EDU_WRITE_OFF, i), 1, self->seed);
}

TEST_F_TIMEOUT(edu, kernel_writes_edu_reads, TEST_SECS)
{
	struct lease_ctrl *a = &self->c[CTRL_A];
	off_t off;
	struct edu_lease_take t;
	unsigned int i, lbs;
	__u16 status;
	int ret;

	for (i = 0; i < EDU_CHUNKS; i++) {
		off = edu_chunk_off(EDU_READ_OFF, i);
		ASSERT_EQ(0, disk_put(self->buf, a->ns[0], off, 1, self->seed));
	}
	edu_lease(_metadata, self->fd, a, &t);
	for (i = 0; i < EDU_CHUNKS; i++) {
		off = edu_chunk_off(EDU_READ_OFF, i);
		p2p_fill(self->buf, CHUNK, JUNK_SEED);
		edu_chunk(_metadata, self->fd, &t, false, off, self->buf);
		EXPECT_EQ(-1, p2p_mismatch(self->buf, CHUNK,
					   chunk_seed(self->seed, off))) {
			TH_LOG("edu read at %lld: wrong data", (long long)off);
		}
	}

	/* one block: that much comes back, not a byte more */
	lbs = 1U << t.lba_shift;
	memset(self->buf, 0xa5, CHUNK);
	ret = edu_rw(self->fd, &t, false, EDU_READ_OFF, lbs, self->buf,
		     &status);
	ASSERT_EQ(0, ret) {
		TH_LOG("edu read of one block: %s, NVMe status 0x%x",
		       strerror(-ret), status);
	}
	EXPECT_EQ(-1, p2p_mismatch(self->buf, lbs,
				   chunk_seed(self->seed, EDU_READ_OFF)));
	for (i = lbs; i < CHUNK; i++)
		if ((unsigned char)self->buf[i] != 0xa5)
			break;
	EXPECT_EQ(CHUNK, i);
}

/* The CMB of @c: a memory BAR of 64 MiB, never its registers (BAR0). */
static void cmb_bar(struct __test_metadata *_metadata,
		    const struct lease_ctrl *c, struct p2p_bar *bar)
{
	ASSERT_EQ(0, p2p_find_bar_of_len(c->bdf, 64 * P2P_MIB, bar)) {
		TH_LOG("%s (%s): no 64 MiB BAR", c->name, c->bdf);
	}
	ASSERT_NE(0, bar->index);
}

/*
 * The addresses the edu uses, against sysfs "resource": bus addresses are
 * CPU physical ones in both topologies (q35 has no offset, and no IOMMU
 * sits in between), below the switch and through the host bridge alike.
 */
TEST_F_TIMEOUT(edu, edu_addresses, TEST_SECS)
{
	struct lease_ctrl *a = &self->c[CTRL_A], *b = &self->c[CTRL_B];
	struct p2p_bar regs, cmb_a, cmb_b;
	struct edu_lease_take t;
	long long nr_kq;
	__u64 stride;

	nr_kq = kernel_queues(a->ns[0]);
	ASSERT_LT(0, nr_kq);
	cmb_bar(_metadata, a, &cmb_a);
	cmb_bar(_metadata, b, &cmb_b);
	ASSERT_EQ(0, p2p_read_bar(a->bdf, 0, &regs));
	edu_lease(_metadata, self->fd, a, &t);
	EXPECT_LT(nr_kq, t.qid);

	/* doorbells in A's BAR0 at 0x1000 + (2 * qid + n) * stride */
	EXPECT_LT(t.sq_db_addr, t.cq_db_addr);
	stride = t.cq_db_addr - t.sq_db_addr;
	EXPECT_EQ(0, stride & (stride - 1));
	EXPECT_EQ(regs.start + 0x1000 + 2 * t.qid * stride, t.sq_db_addr) {
		TH_LOG("SQ doorbell at 0x%llx, BAR0 of %s at 0x%llx, qid %u",
		       (unsigned long long)t.sq_db_addr, a->bdf, regs.start,
		       t.qid);
	}
	EXPECT_TRUE(in_bar(&regs, t.cq_db_addr, 4));

	/* SQ and data in A's CMB, CQ in B's */
	EXPECT_TRUE(in_bar(&cmb_a, t.sq_addr, EDU_DEPTH * SQE_SIZE)) {
		TH_LOG("SQ at 0x%llx, A's CMB 0x%llx-0x%llx",
		       (unsigned long long)t.sq_addr, cmb_a.start, cmb_a.end);
	}
	EXPECT_TRUE(in_bar(&cmb_a, t.data_addr, EDU_DEPTH * CHUNK)) {
		TH_LOG("data at 0x%llx, A's CMB 0x%llx-0x%llx",
		       (unsigned long long)t.data_addr, cmb_a.start,
		       cmb_a.end);
	}
	EXPECT_TRUE(in_bar(&cmb_b, t.cq_addr, EDU_DEPTH * CQE_SIZE)) {
		TH_LOG("CQ at 0x%llx, B's CMB 0x%llx-0x%llx",
		       (unsigned long long)t.cq_addr, cmb_b.start, cmb_b.end);
	}
	EXPECT_LE(EDU_DEPTH * (CHUNK + SQE_SIZE),
		  self->avail0[CTRL_A] - available(a));
	EXPECT_LE(EDU_DEPTH * CQE_SIZE, self->avail0[CTRL_B] - available(b));
}

/* What the writer of revoke_while_edu_drives reports, in shared memory. */
struct edu_writer {
	int done;			/* completed writes */
	int err;			/* -errno of the write that ended it */
	__u16 status;
};

/* Edu-driven writes of successive chunks until one fails. */
static void edu_write_loop(int fd, const struct edu_lease_take *t, char *buf,
			   uint64_t seed, struct edu_writer *w)
{
	pid_t parent = getppid();
	__u16 status = 0;
	int k, ret = 0;

	for (k = 0; !ret && k < EDU_DRIVE_MAX && getppid() == parent; k++) {
		off_t off = EDU_REVOKE_OFF + (off_t)k * CHUNK;

		p2p_fill(buf, CHUNK, chunk_seed(seed, off));
		ret = edu_rw(fd, t, true, off, CHUNK, buf, &status);
		if (!ret)
			__atomic_add_fetch(&w->done, 1, __ATOMIC_RELEASE);
	}
	w->status = status;
	__atomic_store_n(&w->err, ret, __ATOMIC_RELEASE);
}

TEST_F_TIMEOUT(edu, revoke_while_edu_drives, TEST_SECS)
{
	struct lease_ctrl *a = &self->c[CTRL_A], *b = &self->c[CTRL_B];
	struct edu_lease_stats s;
	struct edu_lease_take t;
	struct edu_writer *w;
	struct timespec t0;
	int status, ret, i;
	long long ms;
	__u16 st;
	pid_t pid;

	w = mmap(NULL, sizeof(*w), PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, w);
	edu_lease(_metadata, self->fd, a, &t);
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		edu_write_loop(self->fd, &t, self->buf, self->seed, w);
		_exit(0);
	}
	self->child = pid;	/* self is shared: set by the parent only */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (__atomic_load_n(&w->done, __ATOMIC_ACQUIRE) < 2 &&
	       !__atomic_load_n(&w->err, __ATOMIC_ACQUIRE) &&
	       ms_since(&t0) < NS_BACK_MS)
		p2p_msleep(10);
	ASSERT_LE(2, __atomic_load_n(&w->done, __ATOMIC_ACQUIRE)) {
		TH_LOG("the edu's writes: %d done, then %s (status 0x%x)",
		       w->done, strerror(-w->err), w->status);
	}

	clock_gettime(CLOCK_MONOTONIC, &t0);
	ret = lease_revoke(a->fd, t.qid);
	ms = ms_since(&t0);
	ASSERT_EQ(0, ret) {
		TH_LOG("revoke of qid %u: %s", t.qid, strerror(-ret));
	}
	EXPECT_GT(REVOKE_MS, ms);
	ASSERT_EQ(pid, p2p_waitpid_bounded(pid, &status, REVOKE_MS / 1000)) {
		TH_LOG("the edu's writer still runs %d ms after the revocation",
		       REVOKE_MS);
	}
	self->child = 0;
	EXPECT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status));
	EXPECT_EQ(-ENODEV, w->err) {
		TH_LOG("the writer ended with %s (status 0x%x) after %d writes",
		       strerror(-w->err), w->status, w->done);
	}
	ASSERT_EQ(0, edu_stats(self->fd, &s));
	EXPECT_EQ(1, s.revoked);
	EXPECT_EQ(1, s.revoke_calls);
	EXPECT_EQ(-ENODEV, edu_rw(self->fd, &t, true, EDU_REVOKE_OFF, CHUNK,
				  self->buf, &st));
	EXPECT_EQ(-ENOENT, lease_revoke(a->fd, t.qid));

	/* what the edu completed is on the disk; the kernel's queues work */
	for (i = 0; i < w->done; i++)
		check_disk(_metadata, self->buf, a->ns[0],
			   EDU_REVOKE_OFF + (off_t)i * CHUNK, 1, self->seed);
	ASSERT_EQ(0, disk_put(self->buf, a->ns[0], EDU_KERNEL_OFF, EDU_CHUNKS,
			      ~self->seed));
	check_disk(_metadata, self->buf, a->ns[0], EDU_KERNEL_OFF, EDU_CHUNKS,
		   ~self->seed);

	/* the put calls no second revoke */
	EXPECT_EQ(0, edu_drop(self->fd));
	ASSERT_EQ(0, edu_stats(self->fd, &s));
	EXPECT_EQ(1, s.revoke_calls);
	EXPECT_EQ(-ENOENT, edu_drop(self->fd));
	EXPECT_EQ(self->avail0[CTRL_A],
		  p2p_wait_attr(a->bdf, "available", self->avail0[CTRL_A],
				2000));
	EXPECT_EQ(self->avail0[CTRL_B],
		  p2p_wait_attr(b->bdf, "available", self->avail0[CTRL_B],
				2000));
	munmap(w, sizeof(*w));
}

#define EDU_DMA_BITS	"/sys/module/test_edu_lease/parameters/dma_bits"

/*
 * A holder whose DMA mask cannot reach the lease's addresses (the edu with
 * a 28-bit mask; A's BAR0 and the CMBs lie above 256 MiB) is refused with
 * EREMOTEIO and a line saying why, not handed bus addresses it would wrap
 * around.  Below a switch the DMA API never sees these addresses, so the
 * core and the lease code check the mask themselves; through the host
 * bridge dma_map_resource() checks it (lease-amd: skipped).  With the mask
 * back at 64 bits the same lease works.
 */
TEST_F_TIMEOUT(edu, edu_refused_beyond_dma_mask, TEST_SECS)
{
	struct lease_ctrl *a = &self->c[CTRL_A];
	struct edu_lease_take t;
	int kmsg, ret;

	if (strcmp(p2p_topology_name(), "lease"))
		SKIP(return, "%s: through the host bridge the DMA API checks the mask",
		     p2p_topology_name());
	kmsg = p2p_kmsg_open();
	ASSERT_LE(0, kmsg);
	ASSERT_EQ(0, p2p_write_str(EDU_DMA_BITS, "28"));
	ret = edu_take(self->fd, a, 1, EDU_DEPTH, &t);
	if (!ret)
		edu_drop(self->fd);
	ASSERT_EQ(0, p2p_write_str(EDU_DMA_BITS, "64"));
	EXPECT_EQ(-EREMOTEIO, ret) {
		TH_LOG("edu lease of %s with a 28-bit mask: %s", a->name,
		       strerror(-ret));
	}
	EXPECT_TRUE(p2p_kmsg_search(kmsg, self->edu,
				    "beyond this device's DMA mask"));
	close(kmsg);
	ASSERT_EQ(0, edu_take(self->fd, a, 1, EDU_DEPTH, &t));
	edu_drop(self->fd);
	EXPECT_EQ(self->avail0[CTRL_A],
		  p2p_wait_attr(a->bdf, "available", self->avail0[CTRL_A],
				2000));
}

/*
 * In "lease", NVMe D sits on a root port of its own and the Intel host
 * bridge routes no P2P: no p2pmem is within reach of both D and the edu.
 */
TEST_F_TIMEOUT(edu, edu_refused_unreachable, TEST_SECS)
{
	struct lease_ctrl *d = &self->c[CTRL_D];
	struct edu_lease_take t;
	char rec[P2P_KMSG_REC], want[256];
	int kmsg, ret, both = 0;

	if (strcmp(p2p_topology_name(), "lease"))
		SKIP(return, "%s: the AMD host bridge puts every NVMe in the edu's reach",
		     p2p_topology_name());
	ASSERT_TRUE(d->name[0]) {
		TH_LOG("no NVMe with serial %s", serials[CTRL_D]);
	}
	kmsg = p2p_kmsg_open();
	ASSERT_LE(0, kmsg);
	ret = edu_take(self->fd, d, 1, EDU_DEPTH, &t);
	if (!ret)
		edu_drop(self->fd);
	EXPECT_EQ(-EREMOTEIO, ret) {
		TH_LOG("edu lease of %s (D): %s", d->name, strerror(-ret));
	}
	/* the refusal is logged on D, naming the edu */
	snprintf(want, sizeof(want),
		 "%s: queue lease refused: no p2pmem within reach of this controller and %s",
		 d->bdf, self->edu);
	while (p2p_kmsg_next(kmsg, rec, sizeof(rec))) {
		char *text = kmsg_text(rec);

		if (!strstr(text, d->bdf))
			continue;
		both += !!strstr(text, want);
		TH_LOG("kmsg: %s", text);
	}
	close(kmsg);
	EXPECT_EQ(1, both) {
		TH_LOG("no \"%s\" in the kernel log", want);
	}
}

TEST_HARNESS_MAIN
