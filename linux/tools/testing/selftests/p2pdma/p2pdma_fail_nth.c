// SPDX-License-Identifier: GPL-2.0
/*
 * Allocation failures injected into P2PDMA call chains, one at a time.
 *
 * A chain is first run without faults and must succeed.  Then, for
 * n = 1, 2, ..., the n-th allocation the chain makes is failed through
 * /proc/thread-self/fail-nth (failslab and fail_page_alloc both count), and
 * the chain must end with success or a clean errno, leave nothing behind
 * (the provider's "available" back where it was, no complaint of the core
 * in the kernel log) and crash nothing.  The loop ends when a run leaves
 * the fault unconsumed (fail-nth reads back non-zero): the chain then ran
 * through with no allocation left to fail, and must have succeeded.
 *
 * Chains: mmap of p2pmem/allocate with a write to every page;
 * pci_alloc_p2pmem()/pci_p2pmem_alloc_sgl() and frees through the test
 * module; an nvmet namespace's p2pmem attribute plus enable; and binding
 * the nvme driver to the provider (pci_p2pdma_add_resource()).  Binding
 * through sysfs "bind" probes in the writing task (the PCI core probes
 * from a workqueue only on NUMA machines), so fail-nth reaches it; the
 * probe makes hundreds of allocations, so a coarse pass first finds the
 * ones under pci_p2pdma_add_resource() (nvme logs "failed to register the
 * CMB" when it fails), and every one of those is then failed in turn.
 *
 * The fault attributes are set so that GFP_KERNEL and order-0 allocations
 * can fail (ignore-gfp-wait=N, min-order=0) and quietly (verbose=0: no
 * stack dumps for the log scan to count); ignore-gfp-highmem stays Y so
 * that the test's own user page faults (highmem allocations) are left
 * alone.  Probability stays 0: only fail-nth injects.  Everything is
 * restored at the end.
 *
 * Nothing here is specific to our core; stock 6.12 must pass too.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../kselftest_harness.h"
#include "p2pdma_common.h"

#define DEBUGFS			"/sys/kernel/debug"
#define NVMET_CFS		"/sys/kernel/config/nvmet"
#define MMAP_LEN		(4UL << 20)
#define MAX_NTH			4000
#define BIND_LIMIT_S		60
/*
 * How far the bind chain goes.  The probe's own allocations under
 * pci_p2pdma_add_resource() come first: the last fault that left no CMB
 * was the 31st (34th with KASAN).  After them come hundreds of allocations
 * whose failure the kernel absorbs without a message (__GFP_NOWARN
 * attempts with a fallback, such as kvmalloc()'s), at 0.5 s a bind under
 * TCG and 5 s with KASAN: the chain stops after BIND_MAX_FAULTS faults or
 * BIND_BUDGET_S seconds.
 */
#define BIND_MAX_FAULTS		64
#define BIND_BUDGET_S		120

/* A fault attribute knob we change, and its value before. */
struct knob {
	char path[96];
	char value[32];
	char saved[32];
	bool changed;
};

/* The fixture's data, in a struct of its own so that helpers can take it. */
struct fn_state {
	struct p2p_env env;
	char bdf[P2P_BDF_LEN];
	struct test_p2pdma_bdf provider;
	long long avail0, size0;
	int nth;			/* /proc/thread-self/fail-nth */
	int kmsg;
	int tfd;			/* /dev/test_p2pdma */
	struct knob knobs[13];	/* 5 always, 8 for the stack filter */
	char allocate[PATH_MAX];
};

FIXTURE(fail_nth) {
	struct fn_state st;
};

static int set_knob(struct knob *k)
{
	ssize_t n = p2p_read_str(k->path, k->saved, sizeof(k->saved));

	if (n < 0)
		return n;
	k->saved[strcspn(k->saved, "\n")] = '\0';
	k->changed = true;
	return p2p_write_str(k->path, k->value);
}

/* Arm the n-th fault of this thread. */
static int arm(int nth, unsigned int n)
{
	char buf[16];
	int len = snprintf(buf, sizeof(buf), "%u", n);

	return pwrite(nth, buf, len, 0) == len ? 0 : -errno;
}

/* Disarm; return what was left of the count (0: the fault was injected). */
static long disarm(int nth)
{
	char buf[32];
	ssize_t len;
	long left;

	len = pread(nth, buf, sizeof(buf) - 1, 0);
	left = len > 0 ? (buf[len] = '\0', strtol(buf, NULL, 10)) : -1;
	pwrite(nth, "0", 1, 0);
	return left;
}

FIXTURE_SETUP(fail_nth)
{
	struct fn_state *st = &self->st;
	static const struct { const char *path, *value; } want[] = {
		{ DEBUGFS "/failslab/ignore-gfp-wait", "N" },
		{ DEBUGFS "/failslab/verbose", "0" },
		{ DEBUGFS "/fail_page_alloc/ignore-gfp-wait", "N" },
		{ DEBUGFS "/fail_page_alloc/min-order", "0" },
		{ DEBUGFS "/fail_page_alloc/verbose", "0" },
	};
	size_t i;

	st->nth = -1;
	st->kmsg = -1;
	st->tfd = -1;
	if (!p2p_need(_metadata, !p2p_env_scan(&st->env),
		      "no PCI function with p2pmem"))
		return;
	if (!p2p_need(_metadata, p2p_exists(DEBUGFS "/failslab") &&
		      p2p_exists(DEBUGFS "/fail_page_alloc"),
		      "no failslab or fail_page_alloc in debugfs"))
		return;
	st->nth = open("/proc/thread-self/fail-nth", O_RDWR);
	if (!p2p_need(_metadata, st->nth >= 0, "no /proc/thread-self/fail-nth"))
		return;

	p2p_copy_str(st->bdf, sizeof(st->bdf), st->env.provider);
	ASSERT_EQ(0, p2p_parse_bdf(st->bdf, &st->provider));
	snprintf(st->allocate, sizeof(st->allocate),
		 P2P_PCI_DEVICES "/%s/p2pmem/allocate", st->bdf);
	st->size0 = p2p_attr(st->bdf, "size");
	st->avail0 = p2p_attr(st->bdf, "available");
	ASSERT_LE((long long)MMAP_LEN, st->avail0);

	for (i = 0; i < ARRAY_SIZE(want); i++) {
		p2p_copy_str(st->knobs[i].path, sizeof(st->knobs[i].path),
			     want[i].path);
		p2p_copy_str(st->knobs[i].value, sizeof(st->knobs[i].value),
			     want[i].value);
		ASSERT_EQ(0, set_knob(&st->knobs[i]))
			TH_LOG("%s", want[i].path);
	}
	st->kmsg = p2p_kmsg_open();
	ASSERT_LE(0, st->kmsg);
	st->tfd = open(TEST_P2PDMA_DEVICE, O_RDWR);
}

static char driver_dir[PATH_MAX];
static bool is_bound(const char *bdf);
static int bind_plain(const char *bdf);

FIXTURE_TEARDOWN(fail_nth)
{
	struct fn_state *st = &self->st;
	const char *complaint;
	size_t i;

	/* a bind test that stopped half way leaves the provider unbound */
	if (driver_dir[0] && !is_bound(st->bdf))
		EXPECT_EQ(0, bind_plain(st->bdf));

	if (st->nth >= 0) {
		pwrite(st->nth, "0", 1, 0);
		close(st->nth);
	}
	for (i = 0; i < ARRAY_SIZE(st->knobs); i++)
		if (st->knobs[i].changed)
			p2p_write_str(st->knobs[i].path, st->knobs[i].saved);
	if (st->tfd >= 0)
		close(st->tfd);
	if (st->kmsg >= 0) {
		complaint = p2p_core_complaint(st->kmsg);
		EXPECT_EQ(NULL, complaint) TH_LOG("kernel log: \"%s\"", complaint);
		close(st->kmsg);
	}
	EXPECT_EQ(st->avail0, p2p_wait_attr(st->bdf, "available",
					    st->avail0, 10000));
}

/*
 * The driver of every chain: a clean run, then the n-th fault for every n
 * until a run consumes none.  @chain returns 0 or -errno; @ok lists the
 * errnos a failed allocation may produce.  After every run "available"
 * must be back and the core must not have complained.  Returns the number
 * of faults injected, or -1 after the first bad run.
 */
typedef int (*chain_fn)(struct fn_state *self);
/* after a run, unarmed: check and undo what the run left; 0 or -EBADE */
typedef int (*undo_fn)(struct fn_state *self, int ret);

static bool errno_ok(int err, const int *ok)
{
	for (; *ok; ok++)
		if (err == *ok)
			return true;
	return false;
}

static int run_chain(struct __test_metadata *_metadata,
		     struct fn_state *self, chain_fn chain,
		     undo_fn undo, const int *ok)
{
	int ret, errs = 0, oks = 0;
	const char *complaint;
	unsigned int n;
	long left;

	ret = chain(self);
	if (undo && undo(self, ret))
		ret = -EBADE;
	if (ret) {
		TH_LOG("the chain fails without a fault: %s", strerror(-ret));
		return -1;
	}
	/* what the chain touches is mapped now; keep it so */
	mlockall(MCL_CURRENT);

	for (n = 1; n <= MAX_NTH; n++) {
		if (arm(self->nth, n))
			return -1;
		ret = chain(self);
		left = disarm(self->nth);
		if (undo && undo(self, ret)) {
			TH_LOG("n=%u: state after the run does not match its result %d",
			       n, ret);
			return -1;
		}
		if (left != 0) {
			/* ran through without a fault: the clean result */
			if (ret)
				TH_LOG("n=%u: no fault left, but %s", n,
				       strerror(-ret));
			if (ret)
				return -1;
			break;
		}
		if (ret && !errno_ok(-ret, ok)) {
			TH_LOG("n=%u: unexpected errno %d (%s)", n, -ret,
			       strerror(-ret));
			return -1;
		}
		ret ? errs++ : oks++;
		if (p2p_wait_attr(self->bdf, "available", self->avail0,
				  2000) != self->avail0) {
			TH_LOG("n=%u: available %lld, was %lld", n,
			       p2p_attr(self->bdf, "available"), self->avail0);
			return -1;
		}
		complaint = p2p_core_complaint(self->kmsg);
		if (complaint) {
			TH_LOG("n=%u: kernel log: \"%s\"", n, complaint);
			return -1;
		}
	}
	munlockall();
	TH_LOG("%u faults injected: %d runs failed cleanly, %d succeeded anyway",
	       n - 1, errs, oks);
	if (n > MAX_NTH)
		TH_LOG("still consuming faults after %d runs", MAX_NTH);
	return n > MAX_NTH ? -1 : (int)n - 1;
}

/* open + mmap of p2pmem/allocate, a write to every page, read back, unmap */
static int chain_mmap(struct fn_state *self)
{
	size_t page = p2p_page_size(), off;
	__u64 *w, want;
	int fd, ret = 0;
	char *p;

	fd = open(self->allocate, O_RDWR);
	if (fd < 0)
		return -errno;
	p = mmap(NULL, MMAP_LEN, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		ret = -errno;
		close(fd);
		return ret;
	}
	/* atomic accesses: one real load or store per page */
	for (off = 0; off < MMAP_LEN; off += page) {
		w = (__u64 *)(p + off);
		__atomic_store_n(w, off * 0x9e3779b97f4a7c15ULL + 1,
				 __ATOMIC_RELAXED);
	}
	for (off = 0; off < MMAP_LEN; off += page) {
		w = (__u64 *)(p + off);
		want = off * 0x9e3779b97f4a7c15ULL + 1;
		if (__atomic_load_n(w, __ATOMIC_RELAXED) != want)
			ret = -EILSEQ;
	}
	munmap(p, MMAP_LEN);
	close(fd);
	return ret;
}

TEST_F_TIMEOUT(fail_nth, mmap_allocate, 120)
{
	/*
	 * EFAULT: vm_insert_pages() reports a page table it could not
	 * allocate above the PTE level as -EFAULT.
	 */
	static const int ok[] = { ENOMEM, EFAULT, 0 };
	struct fn_state *st = &self->st;

	ASSERT_LT(0, run_chain(_metadata, st, chain_mmap, NULL, ok));
}

/* One allocation through the module: 0, -ENOMEM, or -EAGAIN (API said no). */
static int tp_alloc(int fd, const struct test_p2pdma_bdf *provider,
		    unsigned long long size, bool sgl, unsigned long long *h)
{
	struct test_p2pdma_alloc a = { .provider = *provider, .size = size };

	*h = 0;
	if (ioctl(fd, sgl ? TEST_P2PDMA_ALLOC_SGL : TEST_P2PDMA_ALLOC, &a))
		return -errno;
	*h = a.handle;
	return a.handle ? 0 : -EAGAIN;
}

static int tp_free(int fd, unsigned long long handle, bool sgl)
{
	struct test_p2pdma_free f = { .handle = handle };

	return ioctl(fd, sgl ? TEST_P2PDMA_FREE_SGL : TEST_P2PDMA_FREE, &f) ?
	       -errno : 0;
}

/* alloc 4 KiB, 64 KiB, an SGL of 1 MiB and 2 MiB; free them */
static int chain_module(struct fn_state *self)
{
	static const struct {
		unsigned long long size;
		bool sgl;
	} what[] = {
		{ 4096, false }, { 64 << 10, false },
		{ 1 << 20, true }, { 2 << 20, true },
	};
	unsigned long long h[ARRAY_SIZE(what)];
	int ret = 0, r;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(what); i++) {
		r = tp_alloc(self->tfd, &self->provider, what[i].size,
			     what[i].sgl, &h[i]);
		if (r && !ret)
			ret = r;
	}
	for (i = 0; i < ARRAY_SIZE(what); i++) {
		if (!h[i])
			continue;
		r = tp_free(self->tfd, h[i], what[i].sgl);
		if (r)
			ret = -EBADE;	/* a free must never fail */
	}
	return ret;
}

TEST_F_TIMEOUT(fail_nth, module_alloc_sgl_free, 120)
{
	/* EAGAIN: the API returned NULL (see tp_alloc) */
	static const int ok[] = { ENOMEM, EAGAIN, 0 };
	struct fn_state *st = &self->st;
	struct test_p2pdma_stats stats;

	if (!p2p_need(_metadata, st->tfd >= 0,
		      TEST_P2PDMA_DEVICE " missing (insmod test_p2pdma.ko)"))
		return;
	ASSERT_LT(0, run_chain(_metadata, st, chain_module, NULL, ok));
	/* the module holds nothing (older modules have no STATS) */
	if (!ioctl(st->tfd, TEST_P2PDMA_STATS, &stats)) {
		EXPECT_EQ(0, stats.live);
		EXPECT_EQ(0, stats.live_bytes);
	}
}

/* nvmet: a subsystem with one namespace backed by an NVMe namespace */
static char nvmet_ns[PATH_MAX], nvmet_subsys[256];

static int ns_write(const char *attr, const char *val)
{
	char path[PATH_MAX + 32];

	snprintf(path, sizeof(path), "%s/%s", nvmet_ns, attr);
	return p2p_write_str(path, val);
}

/* set p2pmem to the provider and enable the namespace */
static int chain_nvmet(struct fn_state *self)
{
	int ret;

	ret = ns_write("p2pmem", self->bdf);
	if (!ret)
		ret = ns_write("enable", "1");
	return ret;
}

/* after each run, unarmed: an enable that said yes must be on; undo it */
static int undo_nvmet(struct fn_state *self, int ret)
{
	char path[PATH_MAX + 32], buf[8] = "";

	snprintf(path, sizeof(path), "%s/enable", nvmet_ns);
	if (p2p_read_str(path, buf, sizeof(buf)) < 0)
		return -EBADE;
	if ((buf[0] == '1') != !ret)
		return -EBADE;
	if (buf[0] == '1' && ns_write("enable", "0"))
		return -EBADE;
	return ns_write("p2pmem", "0") ? -EBADE : 0;
}

TEST_F_TIMEOUT(fail_nth, nvmet_p2pmem_enable, 120)
{
	static const int ok[] = { ENOMEM, 0 };
	struct fn_state *st = &self->st;
	char path[PATH_MAX + 32];
	int idx, ret;

	if (!p2p_need(_metadata, p2p_exists(NVMET_CFS), NVMET_CFS " missing"))
		return;
	/* a backing namespace the provider can serve: a peer, or its own */
	idx = st->env.expect != P2P_EXPECT_REFUSED &&
	      st->env.expect != P2P_EXPECT_UNKNOWN ? st->env.peer[0] : -1;
	if (idx < 0)
		idx = st->env.self;
	if (!p2p_need(_metadata, idx >= 0, "no NVMe namespace to back nvmet's"))
		return;

	snprintf(nvmet_subsys, sizeof(nvmet_subsys),
		 NVMET_CFS "/subsystems/nqn.2014-08.org.kernel:p2pdma-fail-nth-%d",
		 getpid());
	snprintf(nvmet_ns, sizeof(nvmet_ns), "%s/namespaces/1", nvmet_subsys);
	ASSERT_EQ(0, mkdir(nvmet_subsys, 0755));
	ASSERT_EQ(0, mkdir(nvmet_ns, 0755));
	snprintf(path, sizeof(path), "/dev/%s", st->env.nvme[idx].disk);
	ASSERT_EQ(0, ns_write("device_path", path));

	ret = run_chain(_metadata, st, chain_nvmet, undo_nvmet, ok);

	ns_write("enable", "0");
	rmdir(nvmet_ns);
	EXPECT_EQ(0, rmdir(nvmet_subsys));
	ASSERT_LT(0, ret);
}

/*
 * Binding the nvme driver to the provider.  The probe runs in the task
 * that writes "bind" (pci_call_probe() moves it to a workqueue only for
 * a device on a NUMA node), so that task's fail-nth reaches
 * pci_p2pdma_add_resource().  Each armed bind runs in a child, so that a
 * probe stuck in the kernel cannot hang the test.
 */
static bool is_bound(const char *bdf)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), P2P_PCI_DEVICES "/%s/driver", bdf);
	return p2p_exists(path);
}

struct bind_run {
	int rc;		/* 0 or -errno of the write */
	long left;	/* fail-nth after the write */
};

/*
 * Write @bdf to the driver's @file from a child with the n-th fault armed
 * (n = 0: none).  Returns 0, or -ETIMEDOUT/-ECHILD when the child hung or
 * died.
 */
static int driver_write(const char *file, const char *bdf, unsigned int n,
			struct bind_run *out)
{
	struct bind_run *r;
	char path[PATH_MAX + 16];
	int status, ret = 0;
	pid_t pid;

	r = mmap(NULL, sizeof(*r), PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (r == MAP_FAILED)
		return -errno;
	r->rc = -EINTR;
	r->left = -1;
	snprintf(path, sizeof(path), "%s/%s", driver_dir, file);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (!pid) {
		int nth = open("/proc/thread-self/fail-nth", O_RDWR);
		int fd = open(path, O_WRONLY);
		ssize_t len = strlen(bdf), w;

		if (nth < 0 || fd < 0)
			_exit(1);
		if (n && arm(nth, n))
			_exit(1);
		w = write(fd, bdf, len);
		r->left = n ? disarm(nth) : 0;
		r->rc = w == len ? 0 : w < 0 ? -errno : -EIO;
		_exit(0);
	}
	if (p2p_waitpid_bounded(pid, &status, BIND_LIMIT_S) != pid)
		ret = -ETIMEDOUT;
	else if (!WIFEXITED(status) || WEXITSTATUS(status))
		ret = -ECHILD;
	*out = *r;
	munmap(r, sizeof(*r));
	return ret;
}

static int bind_plain(const char *bdf)
{
	struct bind_run r;
	int ret = driver_write("bind", bdf, 0, &r);

	return ret ? ret : r.rc;
}

#define SEEN_COMPLAINT	0x1
#define SEEN_CMB_FAILED	0x2
#define SEEN_ADDED	0x4

/* What the kernel logged since the last call, as SEEN_* bits. */
static int kmsg_seen(int fd)
{
	char rec[P2P_KMSG_REC];
	int seen = 0;

	while (p2p_kmsg_next(fd, rec, sizeof(rec))) {
		if (p2p_is_core_complaint(rec))
			seen |= SEEN_COMPLAINT;
		if (strstr(rec, "failed to register the CMB"))
			seen |= SEEN_CMB_FAILED;
		if (strstr(rec, "added peer-to-peer DMA memory"))
			seen |= SEEN_ADDED;
	}
	return seen;
}

/*
 * One bind with the n-th fault armed, checked and undone: returns the
 * SEEN_* bits, with 0x100 added when the fault was consumed, or -1 after
 * a bad result (logged).
 */
static int bind_once(struct __test_metadata *_metadata,
		     struct fn_state *self, unsigned int n)
{
	struct bind_run r;
	bool bound, p2p;
	char msg[64];
	int seen, ret;

	/* so that a splat or a hang in the console log shows its n */
	snprintf(msg, sizeof(msg), "p2pdma_fail_nth: bind with fail-nth %u\n",
		 n);
	p2p_write_str("/dev/kmsg", msg);
	ret = driver_write("bind", self->bdf, n, &r);
	if (ret) {
		TH_LOG("n=%u: bind %s", n, ret == -ETIMEDOUT ? "hung" : "died");
		return -1;
	}
	bound = is_bound(self->bdf);
	p2p = p2p_has_p2pmem_dir(self->bdf);
	seen = kmsg_seen(self->kmsg);
	if (seen & SEEN_COMPLAINT) {
		TH_LOG("n=%u: the core complained in the kernel log", n);
		return -1;
	}
	if (!bound && p2p) {
		TH_LOG("n=%u: probe failed (%d) but p2pmem/ stayed", n, r.rc);
		return -1;
	}
	if (bound != !r.rc) {
		TH_LOG("n=%u: bind returned %d but the device is %sbound", n,
		       r.rc, bound ? "" : "not ");
		return -1;
	}
	/*
	 * add_resource failed: nvme goes on without its CMB.  p2pmem/ may
	 * stay (stock 6.12 keeps it when only the range failed), but then
	 * empty: no half-registered range.
	 */
	if ((seen & SEEN_CMB_FAILED) &&
	    (!bound || (p2p && (p2p_attr(self->bdf, "size") ||
				p2p_attr(self->bdf, "available"))))) {
		TH_LOG("n=%u: CMB registration failed, bound %d, size %lld",
		       n, bound, p2p ? p2p_attr(self->bdf, "size") : -1);
		return -1;
	}
	if (bound) {
		ret = driver_write("unbind", self->bdf, 0, &r);
		if (ret || r.rc || is_bound(self->bdf) ||
		    p2p_has_p2pmem_dir(self->bdf)) {
			TH_LOG("n=%u: unbind after the run: %d/%d", n, ret, r.rc);
			return -1;
		}
		if (kmsg_seen(self->kmsg) & SEEN_COMPLAINT) {
			TH_LOG("n=%u: the core complained at unbind", n);
			return -1;
		}
	}
	return seen | (r.left == 0 && n ? 0x100 : 0);
}

/*
 * [start, end) of the text of @name, from /proc/kallsyms: its address and
 * the next higher one.  0 when not found.
 */
static int symbol_range(const char *name, unsigned long *start,
			unsigned long *end)
{
	char line[512], sym[256], type;
	unsigned long addr, next = ~0UL;
	FILE *f;

	*start = 0;
	f = fopen("/proc/kallsyms", "r");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx %c %255s", &addr, &type, sym) != 3)
			continue;
		if (!strcmp(sym, name))
			*start = addr;
	}
	rewind(f);
	while (*start && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx %c %255s", &addr, &type, sym) != 3)
			continue;
		if (addr > *start && addr < next)
			next = addr;
	}
	fclose(f);
	*end = next;
	return *start && next != ~0UL ? 0 : -ENOENT;
}

/*
 * Only the probe's allocations under pci_p2pdma_add_resource() are
 * failed: the stack-trace filter of failslab and fail_page_alloc
 * (CONFIG_FAULT_INJECTION_STACKTRACE_FILTER) makes fail-nth count only
 * allocations whose stack holds an address in [require-start,
 * require-end).  Without the filter, fail-nth fails every allocation of
 * the whole probe in turn, and that breaks code outside P2PDMA: in QEMU
 * a failed allocation in ACPI's _PRT evaluation while the device is
 * enabled corrupts ACPICA's reference counts, and the unbind that follows
 * oopses in acpi_ns_repair_PRT() (stock 6.12 as well).  So without the
 * filter the test skips.  Allocations of mm's memremap_pages() are left
 * alone (reject-start/reject-end): they are mm's, and some of their
 * failures are not handled gracefully in stock 6.12 either.  x86's
 * arch_add_memory() tail-calls add_pages(), which warns on any failure to
 * allocate the BAR's struct pages, and its page tables for the linear map
 * are dereferenced by phys_pmd_init() even when their allocation failed.
 */
TEST_F_TIMEOUT(fail_nth, nvme_bind_add_resource, 300)
{
	static const char * const filters[] = {
		DEBUGFS "/failslab", DEBUGFS "/fail_page_alloc",
	};
	char path[PATH_MAX], real[PATH_MAX];
	unsigned int n, faults = 0, empty = 0;
	time_t t0;
	struct fn_state *st = &self->st;
	unsigned long start = 0, end = 0, rstart = 0, rend = 0;
	struct bind_run r;
	struct knob *k;
	int seen;
	size_t i;

	/* The probe's fault paths do not depend on the topology: one runs it. */
	if (strcmp(p2p_topology_name(), "switch"))
		SKIP(return, "the bind chain runs in the switch topology");
	if (!p2p_need(_metadata, p2p_exists(DEBUGFS "/failslab/require-start"),
		      "needs CONFIG_FAULT_INJECTION_STACKTRACE_FILTER"))
		return;
	ASSERT_EQ(0, symbol_range("pci_p2pdma_add_resource", &start, &end));
	ASSERT_EQ(0, symbol_range("memremap_pages", &rstart, &rend));
	/* the fixture's teardown restores them */
	for (i = 0; i < ARRAY_SIZE(filters); i++) {
		k = &st->knobs[5 + 2 * i];
		snprintf(k->path, sizeof(k->path), "%s/require-start",
			 filters[i]);
		snprintf(k->value, sizeof(k->value), "%lu", start);
		ASSERT_EQ(0, set_knob(k)) TH_LOG("%s", k->path);
		k++;
		snprintf(k->path, sizeof(k->path), "%s/require-end",
			 filters[i]);
		snprintf(k->value, sizeof(k->value), "%lu", end);
		ASSERT_EQ(0, set_knob(k)) TH_LOG("%s", k->path);
		k = &st->knobs[9 + 2 * i];
		snprintf(k->path, sizeof(k->path), "%s/reject-start",
			 filters[i]);
		snprintf(k->value, sizeof(k->value), "%lu", rstart);
		ASSERT_EQ(0, set_knob(k)) TH_LOG("%s", k->path);
		k++;
		snprintf(k->path, sizeof(k->path), "%s/reject-end",
			 filters[i]);
		snprintf(k->value, sizeof(k->value), "%lu", rend);
		ASSERT_EQ(0, set_knob(k)) TH_LOG("%s", k->path);
	}

	snprintf(path, sizeof(path), P2P_PCI_DEVICES "/%s/driver", st->bdf);
	ASSERT_NE(NULL, realpath(path, real));
	p2p_copy_str(driver_dir, sizeof(driver_dir), real);
	ASSERT_EQ(0, driver_write("unbind", st->bdf, 0, &r));
	ASSERT_EQ(0, r.rc);
	ASSERT_FALSE(p2p_has_p2pmem_dir(st->bdf));

	/* a clean bind first */
	seen = bind_once(_metadata, st, 0);
	ASSERT_LE(0, seen);
	ASSERT_EQ(SEEN_ADDED, seen & (SEEN_ADDED | SEEN_CMB_FAILED));

	t0 = time(NULL);
	for (n = 1; n < 1000; n++) {
		seen = bind_once(_metadata, st, n);
		ASSERT_LE(0, seen);
		if (!(seen & 0x100)) {
			/* no allocation left to fail: a clean bind */
			ASSERT_EQ(SEEN_ADDED,
				  seen & (SEEN_ADDED | SEEN_CMB_FAILED));
			break;
		}
		faults++;
		if (seen & SEEN_CMB_FAILED)
			empty++;
		if (faults == BIND_MAX_FAULTS || time(NULL) - t0 > BIND_BUDGET_S)
			break;
	}
	TH_LOG("%u faults under add_resource, %s: %u left no CMB, the others did not affect it",
	       faults, n < 1000 && (seen & 0x100) ? "stopped early" :
	       "all of them", empty);
	/* at least the core's own allocations failed the CMB cleanly */
	ASSERT_LT(4, empty);
	ASSERT_GT(1000, n);

	/* and binds cleanly afterwards */
	ASSERT_EQ(0, bind_plain(st->bdf));
	ASSERT_EQ(st->avail0, p2p_wait_attr(st->bdf, "available",
					    st->avail0, 10000));
	ASSERT_EQ(st->size0, p2p_attr(st->bdf, "size"));
}

TEST_HARNESS_MAIN
