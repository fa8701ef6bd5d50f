// SPDX-License-Identifier: GPL-2.0
/*
 * leasebench - random 4 KiB reads from one NVMe namespace at one queue
 * depth, three ways, for make bench:
 *
 *   leasebench <ctrl> <nsdev> <depth> <count> [<suffix>]
 *	e.g. leasebench /dev/nvme1 /dev/nvme1n1 8 16384
 *
 * lease: a queue pair of <ctrl> leased with NVME_IOCTL_LEASE (depth
 *	entries, a slot each in the lease's data buffer, which is p2pmem),
 *	driven from user space: commands written into the submission queue,
 *	completions found by busy-polling the phase tag of the completion
 *	queue, both doorbells rung through the mapping.  A queue of depth
 *	entries holds depth - 1 commands.
 * uring: io_uring on <nsdev> opened O_DIRECT with IORING_SETUP_IOPOLL and
 *	registered buffers of host memory (IORING_OP_READ_FIXED), depth
 *	reads in flight.
 *	IOPOLL needs a polled queue (nvme.poll_queues when the controller
 *	was probed); without one the ring is interrupt driven and the
 *	metrics are named qd_uring_irq_*.
 * pread: pread() with O_DIRECT into host memory, one read at a time: a
 *	synchronous call has depth 1, whatever <depth> says.
 *
 * Each way reads <count> blocks at offsets drawn from one fixed seed within
 * the first 32 MiB of the namespace and prints "BENCH: qd_<way>_iops",
 * "qd_<way>_cpu_us" (user + system time per read) and "qd_<way>_syscalls"
 * (system calls per read).  The system calls are counted, not assumed: a
 * forked child runs count / 4 reads of the same way under ptrace, and the
 * parent counts the system call entries between two getppid() markers the
 * child makes around its loop.  The timed run is never traced.
 *
 * A <suffix> goes after the way in the rows of io_uring and pread
 * (qd_uring<suffix>_iops): make bench measures them once with the
 * controller as the kernel sets it up by default and once with queues kept
 * for leases (nvme.lease_queues), which turns shadow doorbells off.
 *
 * Every completion must succeed, else that way prints no row and the exit
 * status is 1.  A kernel without queue leases (ENOTTY), or a controller
 * that keeps no queues for them (EOPNOTSUPP), prints no lease row.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/fs.h>
#include <linux/io_uring.h>
#include <linux/nvme_ioctl.h>
/* From this tree: the host's headers may not have it. */
#include "../../linux/include/uapi/linux/nvme_lease.h"
#include "bench_time.h"

#define BLOCK		4096U
#define SPAN		(32U << 20)	/* reads stay in the first 32 MiB */
#define SEED		0x243f6a8885a308d3ULL
#define MAX_DEPTH	64
#define SQE_SIZE	64
#define CQE_SIZE	16
#define OPC_READ	0x02
/* Empty polls of a completion queue between two looks at the clock. */
#define POLLS_PER_LOOK	1048576U
#define STUCK_SECS	30
#define NS_WAIT_SECS	30

struct bench {
	const char *ctrl, *nsdev;
	unsigned int depth, count;
	__u32 nsid;
	unsigned int blocks;		/* where reads may land */
	bool iopoll;			/* uring: a polled ring */
	const char *suffix;		/* of the uring and pread rows */
};

/* The holder's side of a leased queue pair. */
struct lease_q {
	struct nvme_lease_args a;
	char *sq, *cq, *data, *db;
	unsigned int sq_tail, cq_head, phase;
};

/* An io_uring and its mappings. */
struct ring {
	int fd;
	char *sq_map, *cq_map;
	size_t sq_len, cq_len, sqes_len;
	struct io_uring_sqe *sqes;
	struct io_uring_cqe *cqes;
	unsigned int *sq_tail, *cq_head, *cq_tail;
	unsigned int sq_mask, cq_mask;
};

/* What one run of one way holds; run_end() gives back what is set. */
struct run {
	const struct bench *b;
	int ctrl_fd, lease_fd, ns_fd;
	char *buf;			/* host memory: depth blocks */
	struct lease_q q;
	struct ring g;
};

struct way {
	const char *name;		/* qd_<name>_* */
	int (*setup)(struct run *r);
	int (*loop)(struct run *r, unsigned int count);
};

/* Command ids, which are also data slots, not in flight. */
struct slots {
	unsigned int nr;
	unsigned int free[MAX_DEPTH];
	bool busy[MAX_DEPTH];
};

static void slots_init(struct slots *s, unsigned int nr)
{
	unsigned int i;

	s->nr = nr;
	for (i = 0; i < nr; i++) {
		s->free[i] = i;
		s->busy[i] = false;
	}
}

static unsigned int slot_get(struct slots *s)
{
	unsigned int id = s->free[--s->nr];

	s->busy[id] = true;
	return id;
}

/* -EPROTO for an id that is not in flight: a completion we did not ask for. */
static int slot_put(struct slots *s, __u64 id)
{
	if (id >= MAX_DEPTH || !s->busy[id])
		return -EPROTO;
	s->busy[id] = false;
	s->free[s->nr++] = id;
	return 0;
}

/* xorshift64: the same offsets for every way and every run. */
static __u64 next_offset(__u64 *x, unsigned int blocks)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return (*x % blocks) * (__u64)BLOCK;
}

static char *map(int fd, __u64 off, size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, off);

	return p == MAP_FAILED ? NULL : p;
}

static void unmap(char *p, size_t len)
{
	if (p)
		munmap(p, len);
}

/* --- the leased queue --- */

/* Single accesses the compiler keeps as they are: the device sees them. */
static void mmio_put32(char *addr, __u32 val)
{
	__atomic_store_n((__u32 *)addr, val, __ATOMIC_RELAXED);
}

static void mmio_put64(char *addr, __u64 val)
{
	__atomic_store_n((__u64 *)addr, val, __ATOMIC_RELAXED);
}

static __u32 mmio_get32(const char *addr)
{
	return __atomic_load_n((const __u32 *)addr, __ATOMIC_RELAXED);
}

static int lease_setup(struct run *r)
{
	struct lease_q *q = &r->q;

	r->ctrl_fd = open(r->b->ctrl, O_RDWR);
	if (r->ctrl_fd < 0)
		return -errno;
	q->a.nsid = r->b->nsid;
	q->a.depth = r->b->depth;
	q->a.data_size = (__u64)r->b->depth * BLOCK;
	r->lease_fd = ioctl(r->ctrl_fd, NVME_IOCTL_LEASE, &q->a);
	if (r->lease_fd < 0)
		return -errno;
	/* a read is whole blocks of at least 512 bytes */
	if (q->a.lba_shift < 9 || q->a.lba_shift > 12)
		return -EINVAL;
	q->phase = 1;
	q->sq = map(r->lease_fd, q->a.sq_off, q->a.sq_size);
	q->cq = map(r->lease_fd, q->a.cq_off, q->a.cq_size);
	q->data = map(r->lease_fd, q->a.data_off, q->a.data_size);
	q->db = map(r->lease_fd, q->a.db_off, q->a.db_size);
	return q->sq && q->cq && q->data && q->db ? 0 : -errno;
}

/* Write a read of the block at @off into slot @cid at the SQ tail. */
static void lease_queue(struct run *r, unsigned int cid, __u64 off)
{
	struct lease_q *q = &r->q;
	__u64 lba = off >> q->a.lba_shift;
	/* little endian: dword 0 is opcode and command id, dword 1 nsid */
	__u64 cmd[SQE_SIZE / 8] = {
		[0] = OPC_READ | (__u64)cid << 16 | (__u64)r->b->nsid << 32,
		[3] = q->a.data_addr + (__u64)cid * BLOCK,	/* PRP 1 */
		[5] = lba,					/* CDW 10-11 */
		[6] = (BLOCK >> q->a.lba_shift) - 1,		/* CDW 12 */
	};
	char *e = q->sq + (size_t)q->sq_tail * SQE_SIZE;
	unsigned int i;

	for (i = 0; i < SQE_SIZE / 8; i++)
		mmio_put64(e + i * 8, cmd[i]);
	q->sq_tail = (q->sq_tail + 1) % q->a.depth;
}

/* Is the entry at the CQ head new?  Its dword 3 in @dw3. */
static bool lease_cqe_ready(struct lease_q *q, __u32 *dw3)
{
	*dw3 = mmio_get32(q->cq + (size_t)q->cq_head * CQE_SIZE + 12);
	return ((*dw3 >> 16) & 1) == q->phase;
}

/* Consume the entry at the head: dword 3 is command id, phase, status. */
static int lease_complete(struct lease_q *q, struct slots *s, __u32 dw3)
{
	char *e = q->cq + (size_t)q->cq_head * CQE_SIZE;
	__u32 dw2;

	/* the rest of the entry no earlier than its phase tag */
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	dw2 = mmio_get32(e + 8);
	if (++q->cq_head == q->a.depth) {
		q->cq_head = 0;
		q->phase ^= 1;
	}
	if (dw3 >> 17) {
		fprintf(stderr, "leasebench: lease read failed, status 0x%x\n",
			dw3 >> 17);
		return -EIO;
	}
	if ((dw2 >> 16) != q->a.qid)
		return -EPROTO;
	return slot_put(s, dw3 & 0xffff);
}

/*
 * Busy-poll for completions and consume all there are: how many, or
 * -errno.  The clock is read only after a million empty polls, far
 * longer than a read takes, so a healthy run makes no system call here.
 */
static int lease_reap(struct lease_q *q, struct slots *s)
{
	unsigned int polls = 0;
	time_t t0 = 0;
	__u32 dw3;
	int n = 0, ret;

	while (!lease_cqe_ready(q, &dw3)) {
		if (++polls < POLLS_PER_LOOK)
			continue;
		polls = 0;
		if (!t0)
			t0 = time(NULL);
		else if (time(NULL) - t0 > STUCK_SECS)
			return -ETIMEDOUT;
	}
	do {
		ret = lease_complete(q, s, dw3);
		if (ret)
			return ret;
		n++;
	} while (lease_cqe_ready(q, &dw3));
	mmio_put32(q->db + q->a.cq_db, q->cq_head);
	return n;
}

static int lease_loop(struct run *r, unsigned int count)
{
	struct lease_q *q = &r->q;
	unsigned int queued = 0, done = 0, n;
	__u64 x = SEED;
	struct slots s;
	int ret;

	slots_init(&s, q->a.depth - 1);
	while (done < count) {
		for (n = 0; queued < count && s.nr; n++, queued++)
			lease_queue(r, slot_get(&s),
				    next_offset(&x, r->b->blocks));
		if (n) {
			/* the commands before the tail that announces them */
			__sync_synchronize();
			mmio_put32(q->db + q->a.sq_db, q->sq_tail);
		}
		ret = lease_reap(q, &s);
		if (ret < 0)
			return ret;
		done += ret;
	}
	return 0;
}

/* --- io_uring and pread, on the block device --- */

static int ns_open(struct run *r)
{
	r->ns_fd = open(r->b->nsdev, O_RDONLY | O_DIRECT);
	if (r->ns_fd < 0)
		return -errno;
	r->buf = mmap(NULL, (size_t)r->b->depth * BLOCK, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (r->buf == MAP_FAILED) {
		r->buf = NULL;
		return -errno;
	}
	return 0;
}

static int ring_map(struct ring *g, const struct io_uring_params *p)
{
	unsigned int *array, i;

	g->sq_len = p->sq_off.array + p->sq_entries * sizeof(__u32);
	g->cq_len = p->cq_off.cqes + p->cq_entries * sizeof(*g->cqes);
	g->sqes_len = p->sq_entries * sizeof(*g->sqes);
	g->sq_map = map(g->fd, IORING_OFF_SQ_RING, g->sq_len);
	g->cq_map = map(g->fd, IORING_OFF_CQ_RING, g->cq_len);
	g->sqes = (void *)map(g->fd, IORING_OFF_SQES, g->sqes_len);
	if (!g->sq_map || !g->cq_map || !g->sqes)
		return -errno;
	g->sq_tail = (unsigned int *)(g->sq_map + p->sq_off.tail);
	g->sq_mask = *(unsigned int *)(g->sq_map + p->sq_off.ring_mask);
	g->cq_head = (unsigned int *)(g->cq_map + p->cq_off.head);
	g->cq_tail = (unsigned int *)(g->cq_map + p->cq_off.tail);
	g->cq_mask = *(unsigned int *)(g->cq_map + p->cq_off.ring_mask);
	g->cqes = (void *)(g->cq_map + p->cq_off.cqes);
	/* SQ slot i always names SQE i */
	array = (unsigned int *)(g->sq_map + p->sq_off.array);
	for (i = 0; i < p->sq_entries; i++)
		array[i] = i;
	return 0;
}

static int ring_setup(struct run *r)
{
	struct io_uring_params p;
	struct iovec iov[MAX_DEPTH];
	unsigned int i;
	int ret = ns_open(r);

	if (ret)
		return ret;
	memset(&p, 0, sizeof(p));
	p.flags = r->b->iopoll ? IORING_SETUP_IOPOLL : 0;
	r->g.fd = syscall(__NR_io_uring_setup, r->b->depth, &p);
	if (r->g.fd < 0)
		return -errno;
	ret = ring_map(&r->g, &p);
	if (ret)
		return ret;
	for (i = 0; i < r->b->depth; i++) {
		iov[i].iov_base = r->buf + (size_t)i * BLOCK;
		iov[i].iov_len = BLOCK;
	}
	if (syscall(__NR_io_uring_register, r->g.fd, IORING_REGISTER_BUFFERS,
		    iov, r->b->depth))
		return -errno;
	return 0;
}

static void ring_queue(struct run *r, unsigned int tail, unsigned int slot,
		       __u64 off)
{
	struct io_uring_sqe *e = &r->g.sqes[tail & r->g.sq_mask];

	memset(e, 0, sizeof(*e));
	e->opcode = IORING_OP_READ_FIXED;
	e->fd = r->ns_fd;
	e->addr = (unsigned long)(r->buf + (size_t)slot * BLOCK);
	e->len = BLOCK;
	e->off = off;
	e->buf_index = slot;
	e->user_data = slot;
}

/* Consume the completions there are: how many, or -errno. */
static int ring_reap(struct ring *g, struct slots *s)
{
	unsigned int head = *g->cq_head;
	unsigned int tail = __atomic_load_n(g->cq_tail, __ATOMIC_ACQUIRE);
	int n = 0, ret = 0;

	for (; !ret && head != tail; head++, n++) {
		struct io_uring_cqe *c = &g->cqes[head & g->cq_mask];

		if (c->res != (int)BLOCK)
			ret = c->res < 0 ? c->res : -EIO;
		else
			ret = slot_put(s, c->user_data);
	}
	__atomic_store_n(g->cq_head, head, __ATOMIC_RELEASE);
	return ret ? ret : n;
}

static int ring_loop(struct run *r, unsigned int count)
{
	unsigned int queued = 0, done = 0, n, tail = *r->g.sq_tail;
	__u64 x = SEED;
	struct slots s;
	int ret;

	slots_init(&s, r->b->depth);
	while (done < count) {
		for (n = 0; queued < count && s.nr; n++, queued++)
			ring_queue(r, tail++, slot_get(&s),
				   next_offset(&x, r->b->blocks));
		__atomic_store_n(r->g.sq_tail, tail, __ATOMIC_RELEASE);
		/* submit the new ones and wait for (or poll) one at least */
		ret = syscall(__NR_io_uring_enter, r->g.fd, n, 1,
			      IORING_ENTER_GETEVENTS, NULL, 0);
		if (ret < 0)
			return -errno;
		if ((unsigned int)ret != n)
			return -EIO;
		ret = ring_reap(&r->g, &s);
		if (ret < 0)
			return ret;
		done += ret;
	}
	return 0;
}

static int pread_loop(struct run *r, unsigned int count)
{
	__u64 x = SEED;
	unsigned int i;
	ssize_t n;

	for (i = 0; i < count; i++) {
		n = pread(r->ns_fd, r->buf, BLOCK, next_offset(&x, r->b->blocks));
		if (n != (ssize_t)BLOCK)
			return n < 0 ? -errno : -EIO;
	}
	return 0;
}

static const struct way lease_way = { "lease", lease_setup, lease_loop };
static const struct way uring_way = { "uring", ring_setup, ring_loop };
static const struct way uring_irq_way = { "uring_irq", ring_setup, ring_loop };
static const struct way pread_way = { "pread", ns_open, pread_loop };

/* --- runs --- */

static int run_start(struct run *r, const struct bench *b, const struct way *w)
{
	memset(r, 0, sizeof(*r));
	r->b = b;
	r->ctrl_fd = -1;
	r->lease_fd = -1;
	r->ns_fd = -1;
	r->g.fd = -1;
	return w->setup(r);
}

/* Unmapping and closing the lease ends it: the kernel deletes its queues. */
static void run_end(struct run *r)
{
	struct lease_q *q = &r->q;
	struct ring *g = &r->g;

	unmap(q->sq, q->a.sq_size);
	unmap(q->cq, q->a.cq_size);
	unmap(q->data, q->a.data_size);
	unmap(q->db, q->a.db_size);
	unmap(g->sq_map, g->sq_len);
	unmap(g->cq_map, g->cq_len);
	unmap((char *)g->sqes, g->sqes_len);
	unmap(r->buf, (size_t)r->b->depth * BLOCK);
	if (g->fd >= 0)
		close(g->fd);
	if (r->lease_fd >= 0)
		close(r->lease_fd);
	if (r->ctrl_fd >= 0)
		close(r->ctrl_fd);
	if (r->ns_fd >= 0)
		close(r->ns_fd);
}

/* The timed run: @count reads, wall and CPU seconds. */
static int run_timed(const struct bench *b, const struct way *w,
		     unsigned int count, double *secs, double *cpu)
{
	double t0, c0;
	struct run r;
	int ret = run_start(&r, b, w);

	if (!ret) {
		t0 = now();
		c0 = cpu_seconds();
		ret = w->loop(&r, count);
		*cpu = cpu_seconds() - c0;
		*secs = now() - t0;
	}
	run_end(&r);
	return ret;
}

/* In the child: be traced, then the loop between two markers. */
static int traced_child(const struct bench *b, const struct way *w,
			unsigned int count)
{
	struct run r;
	int ret;

	if (ptrace(PTRACE_TRACEME, 0, NULL, NULL) || raise(SIGSTOP))
		return 1;
	ret = run_start(&r, b, w);
	if (!ret) {
		syscall(SYS_getppid);
		ret = w->loop(&r, count);
		syscall(SYS_getppid);
	}
	run_end(&r);
	if (ret)
		fprintf(stderr, "leasebench: %s, traced: %s\n", w->name,
			strerror(-ret));
	return ret ? 1 : 0;
}

/*
 * Follow the child from stop to stop; count the system call entries
 * after its first getppid() and before its second.
 */
static int trace_count(pid_t pid, unsigned long *calls)
{
	struct __ptrace_syscall_info si;
	int st, sig = 0, marks = 0;

	if (waitpid(pid, &st, 0) != pid || !WIFSTOPPED(st))
		return -ECHILD;
	if (ptrace(PTRACE_SETOPTIONS, pid, NULL,
		   (void *)(long)(PTRACE_O_TRACESYSGOOD | PTRACE_O_EXITKILL)))
		return -errno;
	for (;;) {
		if (ptrace(PTRACE_SYSCALL, pid, NULL, (void *)(long)sig))
			return -errno;
		if (waitpid(pid, &st, 0) != pid)
			return -errno;
		if (!WIFSTOPPED(st))
			break;
		sig = WSTOPSIG(st) == (SIGTRAP | 0x80) ? 0 : WSTOPSIG(st);
		if (sig || ptrace(PTRACE_GET_SYSCALL_INFO, pid,
				  (void *)sizeof(si), &si) <= 0 ||
		    si.op != PTRACE_SYSCALL_INFO_ENTRY)
			continue;
		if (si.entry.nr == SYS_getppid)
			marks++;
		else if (marks == 1)
			(*calls)++;
	}
	return WIFEXITED(st) && !WEXITSTATUS(st) && marks == 2 ? 0 : -EIO;
}

/* The traced run: system calls per read, in a child of @count reads. */
static int run_traced(const struct bench *b, const struct way *w,
		      unsigned int count, double *per_io)
{
	unsigned long calls = 0;
	pid_t pid;
	int ret;

	/* nothing buffered may come out twice */
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (!pid)
		_exit(traced_child(b, w, count));
	ret = trace_count(pid, &calls);
	if (ret) {
		kill(pid, SIGKILL);
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	*per_io = (double)calls / count;
	return ret;
}

/* Both runs of one way and its rows: 0, or 1 when it failed. */
static int bench_way(const struct bench *b, const struct way *w)
{
	const char *sfx = w == &lease_way ? "" : b->suffix;
	unsigned int traced = b->count / 4;
	double secs = 0, cpu = 0, calls = 0;
	int ret;

	ret = run_timed(b, w, b->count, &secs, &cpu);
	if ((ret == -ENOTTY || ret == -EOPNOTSUPP) && w == &lease_way) {
		fprintf(stderr, "leasebench: no queue leases on %s (%s), no lease rows\n",
			b->ctrl, strerror(-ret));
		return 0;
	}
	if (!ret)
		ret = run_traced(b, w, traced, &calls);
	if (ret) {
		fprintf(stderr, "leasebench: %s on %s: %s\n", w->name,
			w == &lease_way ? b->ctrl : b->nsdev, strerror(-ret));
		return 1;
	}
	printf("BENCH: qd_%s%s_iops %.0f IOPS-qd%u\n", w->name, sfx,
	       b->count / secs, w == &pread_way ? 1 : b->depth);
	printf("BENCH: qd_%s%s_cpu_us %.2f us/IO\n", w->name, sfx,
	       cpu * 1e6 / b->count);
	printf("BENCH: qd_%s%s_syscalls %.3f calls/IO\n", w->name, sfx, calls);
	return 0;
}

/*
 * One read through a polled ring: without a polled queue behind the
 * namespace it fails with EOPNOTSUPP, and the interrupt-driven ring is
 * measured instead.  Any other failure is left to the measured run.
 */
static bool ring_polls(struct bench *b)
{
	struct run r;
	int ret;

	b->iopoll = true;
	ret = run_start(&r, b, &uring_way);
	if (!ret)
		ret = ring_loop(&r, 1);
	run_end(&r);
	if (ret != -EOPNOTSUPP && ret != -EINVAL)
		return true;
	fprintf(stderr, "leasebench: no polled io_uring on %s (%s): rows qd_uring_irq_*\n",
		b->nsdev, strerror(-ret));
	b->iopoll = false;
	return false;
}

/* Wait until the namespace answers a read; its nsid and size. */
static int ns_ready(struct bench *b)
{
	unsigned long long size = 0;
	time_t t0 = time(NULL);
	struct run r;
	int nsid, ret;
	ssize_t n;

	for (;;) {
		ret = run_start(&r, b, &pread_way);
		if (!ret) {
			n = pread(r.ns_fd, r.buf, BLOCK, 0);
			if (n != (ssize_t)BLOCK)
				ret = n < 0 ? -errno : -EIO;
		}
		if (!ret)
			break;
		run_end(&r);
		if (time(NULL) - t0 > NS_WAIT_SECS)
			return ret;
		usleep(200 * 1000);
	}
	nsid = ioctl(r.ns_fd, NVME_IOCTL_ID);
	if (nsid < 0 || ioctl(r.ns_fd, BLKGETSIZE64, &size))
		ret = -errno;
	run_end(&r);
	if (ret)
		return ret;
	b->nsid = nsid;
	b->blocks = (size < SPAN ? size : SPAN) / BLOCK;
	return nsid && b->blocks ? 0 : -EINVAL;
}

int main(int argc, char **argv)
{
	struct bench b = { 0 };
	int ret, failed = 0;

	b.suffix = argc == 6 ? argv[5] : "";
	if (argc == 5 || argc == 6) {
		b.ctrl = argv[1];
		b.nsdev = argv[2];
		b.depth = strtoul(argv[3], NULL, 0);
		b.count = strtoul(argv[4], NULL, 0);
	}
	if (b.depth < 2 || b.depth > MAX_DEPTH || b.count < 4) {
		fprintf(stderr, "usage: %s CTRL NSDEV DEPTH(2-%d) COUNT(>=4) [SUFFIX]\n",
			argv[0], MAX_DEPTH);
		return 2;
	}
	ret = ns_ready(&b);
	if (ret) {
		fprintf(stderr, "leasebench: %s: %s\n", b.nsdev, strerror(-ret));
		return 1;
	}
	fprintf(stderr, "leasebench: pread runs at depth 1, lease and io_uring at %u\n",
		b.depth);
	failed |= bench_way(&b, &lease_way);
	failed |= bench_way(&b, ring_polls(&b) ? &uring_way : &uring_irq_way);
	failed |= bench_way(&b, &pread_way);
	return failed;
}
