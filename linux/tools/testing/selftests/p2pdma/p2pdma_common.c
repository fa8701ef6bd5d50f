// SPDX-License-Identifier: GPL-2.0
/*
 * Helpers shared by the P2PDMA selftests, see p2pdma_common.h.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/loop.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "p2pdma_common.h"

/*
 * Expected verdicts per topology, from the descriptions in vm/topologies/
 * (see p2pdma_common.h).  Distances count the hops up from each side to
 * the common upstream device (two each across a switch or the host bridge,
 * one each to the root port above functions of one device).
 */
static const struct p2p_topology p2p_topologies[] = {
	/* name, expect, distance, CMB, ACS port, providers, peers */
	{ "switch",		P2P_EXPECT_BUS_ADDR,	 4, 64 * P2P_MIB, NULL, 1, 2 },
	{ "rootports-intel",	P2P_EXPECT_REFUSED,	-1, 64 * P2P_MIB, NULL, 1, 2 },
	{ "rootports-amd",	P2P_EXPECT_HOST_BRIDGE,	 4, 64 * P2P_MIB, NULL, 1, 2 },
	{ "iommu",		P2P_EXPECT_IOMMU,	 4, 64 * P2P_MIB, NULL, 1, 2 },
	{ "acs",		P2P_EXPECT_BUS_ADDR,	 2, 64 * P2P_MIB, NULL, 1, 2 },
	{ "acs-redir",		P2P_EXPECT_REFUSED,	-1, 64 * P2P_MIB,
	  "0000:00:04.0", 1, 2 },
	{ "acs-redir-amd",	P2P_EXPECT_HOST_BRIDGE,	 2, 64 * P2P_MIB,
	  "0000:00:04.0", 1, 2 },
	{ "acs-disabled",	P2P_EXPECT_BUS_ADDR,	 2, 64 * P2P_MIB, NULL, 1, 2 },
	{ "multi",		P2P_EXPECT_BUS_ADDR,	 4, 64 * P2P_MIB, NULL, 3, 1 },
	{ "huge",		P2P_EXPECT_BUS_ADDR,	 4, 1024 * P2P_MIB, NULL, 1, 2 },
	{ "stack",		P2P_EXPECT_BUS_ADDR,	 4, 64 * P2P_MIB, NULL, 1, 3 },
	{ "lease",		P2P_EXPECT_BUS_ADDR,	 4, 64 * P2P_MIB, NULL, 2, 2 },
	{ "lease-amd",		P2P_EXPECT_HOST_BRIDGE,	 4, 64 * P2P_MIB, NULL, 2, 0 },
};

const struct p2p_topology *p2p_topology_from_env(void)
{
	const char *topo = getenv("P2P_TOPOLOGY");
	size_t i;

	for (i = 0; topo && i < ARRAY_SIZE(p2p_topologies); i++)
		if (!strcmp(topo, p2p_topologies[i].name))
			return &p2p_topologies[i];
	return NULL;
}

enum p2p_expect p2p_expect_from_env(void)
{
	const struct p2p_topology *t = p2p_topology_from_env();

	return t ? t->expect : P2P_EXPECT_UNKNOWN;
}

const char *p2p_topology_name(void)
{
	const char *topo = getenv("P2P_TOPOLOGY");

	return topo && *topo ? topo : "(P2P_TOPOLOGY unset)";
}

bool p2p_kernel_is(const char *name)
{
	const char *kernel = getenv("P2P_KERNEL");

	return kernel && !strcmp(kernel, name);
}

size_t p2p_page_size(void)
{
	return (size_t)sysconf(_SC_PAGESIZE);
}

/* Copy a NUL-terminated string, truncating to fit @len bytes. */
void p2p_copy_str(char *dst, size_t len, const char *src)
{
	size_t n = strnlen(src, len - 1);

	memcpy(dst, src, n);
	dst[n] = '\0';
}

bool p2p_exists(const char *path)
{
	struct stat st;

	return !stat(path, &st);
}

ssize_t p2p_read_str(const char *path, char *buf, size_t len)
{
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	if (n < 0)
		n = -errno;
	else
		buf[n] = '\0';
	close(fd);
	return n;
}

int p2p_write_str(const char *path, const char *s)
{
	size_t len = strlen(s);
	ssize_t n;
	int fd, ret = 0;

	fd = open(path, O_WRONLY);
	if (fd < 0)
		return -errno;
	n = write(fd, s, len);
	if (n < 0)
		ret = -errno;
	else if ((size_t)n != len)
		ret = -EIO;
	close(fd);
	return ret;
}

long long p2p_read_ll(const char *path)
{
	char buf[64], *end;
	long long val;
	ssize_t n;

	n = p2p_read_str(path, buf, sizeof(buf));
	if (n < 0)
		return n;
	errno = 0;
	val = strtoll(buf, &end, 0);
	if (errno || end == buf || (*end && *end != '\n') || val < 0)
		return -EINVAL;
	return val;
}

long long p2p_attr(const char *bdf, const char *name)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), P2P_PCI_DEVICES "/%s/p2pmem/%s", bdf, name);
	return p2p_read_ll(path);
}

void p2p_msleep(int ms)
{
	struct timespec ts = {
		.tv_sec = ms / 1000,
		.tv_nsec = (ms % 1000) * 1000000L,
	};

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/*
 * Poll a p2pmem attribute until it reads @want or @timeout_ms passes, and
 * return the last value read.  Used where the kernel frees pages after the
 * syscall we wait for has returned (process exit, driver rebind); the
 * caller still asserts the exact value.
 */
long long p2p_wait_attr(const char *bdf, const char *name, long long want,
			int timeout_ms)
{
	long long val;
	int waited = 0;

	for (;;) {
		val = p2p_attr(bdf, name);
		if (val == want || waited >= timeout_ms)
			return val;
		p2p_msleep(20);
		waited += 20;
	}
}

bool p2p_has_p2pmem_dir(const char *bdf)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), P2P_PCI_DEVICES "/%s/p2pmem", bdf);
	return p2p_exists(path);
}

bool p2p_is_nvme_function(const char *bdf)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), P2P_PCI_DEVICES "/%s/class", bdf);
	/* mass storage, non-volatile memory, NVMe programming interface */
	return p2p_read_ll(path) == 0x010802;
}

int p2p_read_bar(const char *bdf, int index, struct p2p_bar *bar)
{
	char path[PATH_MAX], line[128];
	int i, ret = -ENOENT;
	FILE *f;

	snprintf(path, sizeof(path), P2P_PCI_DEVICES "/%s/resource", bdf);
	f = fopen(path, "r");
	if (!f)
		return -errno;
	for (i = 0; fgets(line, sizeof(line), f); i++) {
		if (i != index)
			continue;
		memset(bar, 0, sizeof(*bar));
		bar->index = index;
		if (sscanf(line, "%llx %llx %llx", &bar->start, &bar->end,
			   &bar->flags) != 3)
			ret = -EINVAL;
		else
			ret = bar->end > bar->start ? 0 : -ENOENT;
		break;
	}
	fclose(f);
	return ret;
}

int p2p_find_bar_of_len(const char *bdf, unsigned long long len,
			struct p2p_bar *bar)
{
	int i;

	/* BARs 0-5; IORESOURCE_MEM is 0x200 in the flags */
	for (i = 0; i < 6; i++)
		if (!p2p_read_bar(bdf, i, bar) && (bar->flags & 0x200) &&
		    bar->end - bar->start + 1 == len)
			return 0;
	return -ENOENT;
}

int p2p_cmb_bar(const struct p2p_env *env, const char *bdf,
		struct p2p_bar *bar)
{
	long long len;

	if (env->topo)
		return p2p_find_bar_of_len(bdf, env->topo->cmb_size, bar);
	len = p2p_attr(bdf, "size");
	if (len <= 0)
		return len ? (int)len : -ENOENT;
	return p2p_find_bar_of_len(bdf, len, bar);
}

static bool p2p_is_pci_name(const char *name)
{
	char path[PATH_MAX];
	unsigned int d, b, s, f;
	int end = 0;

	if (sscanf(name, "%x:%x:%x.%x%n", &d, &b, &s, &f, &end) != 4 ||
	    name[end])
		return false;
	snprintf(path, sizeof(path), P2P_PCI_DEVICES "/%s", name);
	return p2p_exists(path);
}

/* basename of the target of @link, if that names a PCI function */
static int p2p_link_to_pci(const char *link, char *bdf, size_t len)
{
	char real[PATH_MAX];
	const char *base;

	if (!realpath(link, real))
		return -errno;
	base = strrchr(real, '/');
	base = base ? base + 1 : real;
	if (!p2p_is_pci_name(base))
		return -ENODEV;
	p2p_copy_str(bdf, len, base);
	return 0;
}

/*
 * Find the PCI function behind an NVMe block device.  The disk's parent is
 * either its controller (whose parent is the PCI function) or, for a
 * multipath head, the NVMe subsystem, which links to its controllers.
 */
int p2p_disk_bdf(const char *disk, char *bdf, size_t len)
{
	char parent[PATH_MAX], path[PATH_MAX + 300];
	struct dirent *de;
	int ret = -ENODEV;
	DIR *dir;

	snprintf(path, sizeof(path), "/sys/block/%s/device", disk);
	if (!realpath(path, parent))
		return -errno;

	snprintf(path, sizeof(path), "%s/device", parent);
	if (!p2p_link_to_pci(path, bdf, len))
		return 0;

	dir = opendir(parent);
	if (!dir)
		return -errno;
	while (ret && (de = readdir(dir))) {
		unsigned int inst;
		int end = 0;

		if (sscanf(de->d_name, "nvme%u%n", &inst, &end) != 1 ||
		    de->d_name[end])
			continue;
		snprintf(path, sizeof(path), "%s/%s/device", parent, de->d_name);
		ret = p2p_link_to_pci(path, bdf, len);
	}
	closedir(dir);
	return ret;
}

/* The PCI function directly above @bdf, from the sysfs device path. */
int p2p_upstream_bdf(const char *bdf, char *out, size_t len)
{
	char path[PATH_MAX], real[PATH_MAX], *slash;

	snprintf(path, sizeof(path), P2P_PCI_DEVICES "/%s", bdf);
	if (!realpath(path, real))
		return -errno;
	slash = strrchr(real, '/');
	if (!slash)
		return -ENODEV;
	*slash = '\0';
	slash = strrchr(real, '/');
	if (!slash || !p2p_is_pci_name(slash + 1))
		return -ENODEV;
	p2p_copy_str(out, len, slash + 1);
	return 0;
}

int p2p_parse_bdf(const char *s, struct test_p2pdma_bdf *bdf)
{
	unsigned int d, b, slot, f;
	int end = 0;

	if (sscanf(s, "%x:%x:%x.%x%n", &d, &b, &slot, &f, &end) != 4 ||
	    (s[end] && s[end] != '\n') || b > 0xff || slot > 0x1f || f > 7)
		return -EINVAL;
	memset(bdf, 0, sizeof(*bdf));
	bdf->domain = d;
	bdf->bus = b;
	bdf->devfn = (slot << 3) | f;
	return 0;
}

void p2p_format_bdf(const struct test_p2pdma_bdf *bdf, char *s, size_t len)
{
	snprintf(s, len, "%04x:%02x:%02x.%x", bdf->domain, bdf->bus,
		 bdf->devfn >> 3, bdf->devfn & 7);
}

static int p2p_filter_disk(const struct dirent *de)
{
	unsigned int ctrl, ns;
	int end = 0;

	/* "nvme<N>n<M>" only: skips partitions and hidden "nvme<N>c<C>n<M>" */
	return sscanf(de->d_name, "nvme%un%u%n", &ctrl, &ns, &end) == 2 &&
	       !de->d_name[end];
}

static void p2p_scan_providers(struct p2p_env *env)
{
	struct dirent **list;
	int i, n;

	n = scandir(P2P_PCI_DEVICES, &list, NULL, alphasort);
	for (i = 0; i < n; i++) {
		if (list[i]->d_name[0] != '.' &&
		    p2p_has_p2pmem_dir(list[i]->d_name)) {
			if (!env->nr_providers++)
				p2p_copy_str(env->provider,
					     sizeof(env->provider),
					     list[i]->d_name);
		}
		free(list[i]);
	}
	if (n >= 0)
		free(list);
}

int p2p_list_providers(struct p2p_name *out, int max)
{
	struct dirent **list;
	int i, n, nr = 0;

	n = scandir(P2P_PCI_DEVICES, &list, NULL, alphasort);
	for (i = 0; i < n; i++) {
		if (list[i]->d_name[0] != '.' &&
		    p2p_has_p2pmem_dir(list[i]->d_name) && nr < max)
			p2p_copy_str(out[nr++].bdf, P2P_BDF_LEN,
				     list[i]->d_name);
		free(list[i]);
	}
	if (n >= 0)
		free(list);
	return nr;
}

static void p2p_scan_disks(struct p2p_env *env)
{
	struct dirent **list;
	struct p2p_nvme *nv;
	int i, n;

	n = scandir("/sys/block", &list, p2p_filter_disk, alphasort);
	for (i = 0; i < n; i++) {
		nv = &env->nvme[env->nr_nvme];
		if (env->nr_nvme < P2P_MAX_NVME &&
		    !p2p_disk_bdf(list[i]->d_name, nv->bdf, sizeof(nv->bdf))) {
			p2p_copy_str(nv->disk, sizeof(nv->disk),
				     list[i]->d_name);
			nv->provider = p2p_has_p2pmem_dir(nv->bdf);
			env->nr_nvme++;
		}
		free(list[i]);
	}
	if (n >= 0)
		free(list);
}

/*
 * Fill @env from sysfs.  Only PCI NVMe namespaces are listed (fabrics
 * controllers have no PCI function).  self is the namespace on the
 * provider, peer[] up to two namespaces of controllers without p2pmem.
 */
int p2p_env_scan(struct p2p_env *env)
{
	int i, nr_peers = 0;

	memset(env, 0, sizeof(*env));
	env->self = -1;
	env->peer[0] = -1;
	env->peer[1] = -1;
	env->topo = p2p_topology_from_env();
	env->expect = p2p_expect_from_env();
	env->topology = p2p_topology_name();

	p2p_scan_providers(env);
	p2p_scan_disks(env);

	for (i = 0; i < env->nr_nvme; i++) {
		if (env->provider[0] && !strcmp(env->nvme[i].bdf, env->provider)) {
			if (env->self < 0)
				env->self = i;
		} else if (!env->nvme[i].provider && nr_peers < 2) {
			env->peer[nr_peers++] = i;
		}
	}
	return env->provider[0] ? 0 : -ENODEV;
}

int p2p_open_allocate(const char *bdf, int flags)
{
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), P2P_PCI_DEVICES "/%s/p2pmem/allocate", bdf);
	fd = open(path, flags);
	return fd < 0 ? -errno : fd;
}

void *p2p_map(int fd, size_t len)
{
	return mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
}

static uint64_t p2p_word(uint64_t seed, size_t index)
{
	uint64_t x = (seed + 1) * 0x9e3779b97f4a7c15ULL + index;

	/* a cheap mixer: neighbouring words and seeds differ in many bits */
	x ^= x >> 29;
	x *= 0xbf58476d1ce4e5b9ULL;
	return x ^ (x >> 32);
}

void p2p_fill(void *buf, size_t len, uint64_t seed)
{
	uint64_t *w = buf;
	size_t i;

	for (i = 0; i < len / sizeof(*w); i++)
		w[i] = p2p_word(seed, i);
}

/* Offset of the first word that does not match, or -1 when all do. */
ssize_t p2p_mismatch(const void *buf, size_t len, uint64_t seed)
{
	const uint64_t *w = buf;
	size_t i;

	for (i = 0; i < len / sizeof(*w); i++)
		if (w[i] != p2p_word(seed, i))
			return (ssize_t)(i * sizeof(*w));
	return -1;
}

void *p2p_host_buffer(size_t len)
{
	void *buf;

	if (posix_memalign(&buf, p2p_page_size(), len))
		return NULL;
	return buf;
}

int p2p_loop_attach(const char *file, size_t size, char *dev, size_t len)
{
	int file_fd, ctl = -1, loop_fd = -1, nr = -1, ret = 0;

	file_fd = open(file, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (file_fd < 0)
		return -errno;
	if (ftruncate(file_fd, size))
		ret = -errno;
	if (!ret) {
		ctl = open("/dev/loop-control", O_RDWR);
		if (ctl < 0)
			ret = -errno;
	}
	if (!ret) {
		nr = ioctl(ctl, LOOP_CTL_GET_FREE);
		if (nr < 0)
			ret = -errno;
	}
	if (!ret) {
		snprintf(dev, len, "/dev/loop%d", nr);
		loop_fd = open(dev, O_RDWR);
		if (loop_fd < 0 || ioctl(loop_fd, LOOP_SET_FD, file_fd))
			ret = -errno;
	}
	if (ret && loop_fd >= 0)
		close(loop_fd);
	if (ctl >= 0)
		close(ctl);
	close(file_fd);
	return ret ? ret : loop_fd;
}

void p2p_loop_detach(int loop_fd)
{
	ioctl(loop_fd, LOOP_CLR_FD, 0);
	close(loop_fd);
}

static sigjmp_buf p2p_fault_env;

static void p2p_fault_handler(int sig)
{
	siglongjmp(p2p_fault_env, 1);
}

bool p2p_touch_faults(char *addr, bool write)
{
	struct sigaction sa = { .sa_handler = p2p_fault_handler }, old;
	bool faulted = false;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, &old);
	if (!sigsetjmp(p2p_fault_env, 1)) {
		/* atomic accesses: the compiler may not drop or merge them */
		if (write)
			__atomic_store_n(addr, 0x5a, __ATOMIC_RELAXED);
		else
			__atomic_load_n(addr, __ATOMIC_RELAXED);
	} else {
		faulted = true;
	}
	sigaction(SIGBUS, &old, NULL);
	return faulted;
}

long long p2p_map_level(const void *addr)
{
	struct test_p2pdma_maplevel ml = { .addr = (uintptr_t)addr };
	int fd = open(TEST_P2PDMA_DEVICE, O_RDWR), ret;

	if (fd < 0)
		return -errno;
	ret = ioctl(fd, TEST_P2PDMA_MAPLEVEL, &ml) ? -errno : 0;
	close(fd);
	return ret ? ret : (long long)ml.size;
}

long long p2p_pmd_level(void)
{
	return p2p_kernel_is("baseline") ? (long long)p2p_page_size() : 2 << 20;
}

/*
 * The mark of each handle from p2p_kmsg_open(), by file descriptor: the
 * sequence number of the first record after it.
 */
#define P2P_KMSG_FDS		1024
static unsigned long long p2p_kmsg_mark[P2P_KMSG_FDS];

/* The sequence number of record @rec ("prio,seq,time,flags;text"). */
static bool p2p_kmsg_seq(const char *rec, unsigned long long *seq)
{
	return sscanf(rec, "%*u,%llu,", seq) == 1;
}

/*
 * Read the whole buffer, so that the mark is the sequence number after the
 * last record in it: p2p_kmsg_search() then finds the records after it
 * from any handle.
 */
int p2p_kmsg_open(void)
{
	char rec[P2P_KMSG_REC];
	unsigned long long seq, mark = 0;
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK);

	if (fd < 0)
		return -errno;
	if (fd >= P2P_KMSG_FDS) {
		close(fd);
		return -EMFILE;
	}
	errno = 0;
	while (p2p_kmsg_next(fd, rec, sizeof(rec)))
		if (p2p_kmsg_seq(rec, &seq))
			mark = seq + 1;
	if (errno != EAGAIN) {
		close(fd);
		return errno ? -errno : -EIO;
	}
	p2p_kmsg_mark[fd] = mark;
	return fd;
}

/*
 * The next record after the mark (or the last one read) into @rec, as a
 * string; false when there is none.  Records overwritten since are skipped.
 */
bool p2p_kmsg_next(int fd, char *rec, size_t len)
{
	ssize_t n;

	for (;;) {
		n = read(fd, rec, len - 1);
		if (n < 0 && errno == EPIPE)
			continue;
		if (n <= 0)
			return false;
		rec[n] = '\0';
		return true;
	}
}

/*
 * Read every record not read yet from @fd (all those after the mark on a
 * fresh handle); the first of @needles that one of them contains, or NULL.
 */
const char *p2p_kmsg_find(int fd, const char * const *needles, size_t n)
{
	char rec[P2P_KMSG_REC];
	const char *hit = NULL;
	size_t i;

	while (p2p_kmsg_next(fd, rec, sizeof(rec)))
		for (i = 0; i < n && !hit; i++)
			if (strstr(rec, needles[i]))
				hit = needles[i];
	return hit;
}

/* What the core logs when it finds pages it cannot account for. */
static const char * const p2p_complaints[] = {
	"still allocated at removal",
	"p2pmem: not freeing",
};

/* Is the log record @rec one of the core's complaints? */
bool p2p_is_core_complaint(const char *rec)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(p2p_complaints); i++)
		if (strstr(rec, p2p_complaints[i]))
			return true;
	return false;
}

/*
 * The first of the core's complaints in the records not read yet from @fd
 * (all those after the mark on a fresh handle), or NULL (also for fd < 0).
 * Reads every record.
 */
const char *p2p_core_complaint(int fd)
{
	if (fd < 0)
		return NULL;
	return p2p_kmsg_find(fd, p2p_complaints, ARRAY_SIZE(p2p_complaints));
}

/*
 * Is there a record after the mark of @fd that contains both needles?  Every
 * record after the mark counts, however many were read from @fd before (by
 * an earlier search too); @fd itself is not read.  Aborts on a bad @fd or
 * when /dev/kmsg cannot be opened again: a search never passes unread.
 */
bool p2p_kmsg_search(int fd, const char *needle1, const char *needle2)
{
	char rec[P2P_KMSG_REC];
	unsigned long long seq;
	bool hit = false;
	int all;

	if (fd < 0 || fd >= P2P_KMSG_FDS) {
		fprintf(stderr, "%s: %d is not from p2p_kmsg_open()\n",
			__func__, fd);
		abort();
	}
	/* a new handle starts at the first record in the buffer */
	all = open("/dev/kmsg", O_RDONLY | O_NONBLOCK);
	if (all < 0) {
		fprintf(stderr, "%s: /dev/kmsg: %s\n", __func__,
			strerror(errno));
		abort();
	}
	while (!hit && p2p_kmsg_next(all, rec, sizeof(rec))) {
		if (p2p_kmsg_seq(rec, &seq) && seq < p2p_kmsg_mark[fd])
			continue;
		hit = strstr(rec, needle1) && (!needle2 || strstr(rec, needle2));
	}
	close(all);
	return hit;
}

int p2p_tp_alloc(int fd, const struct test_p2pdma_bdf *provider,
		 unsigned long long size, bool sgl, struct test_p2pdma_alloc *a)
{
	memset(a, 0, sizeof(*a));
	a->provider = *provider;
	a->size = size;
	return ioctl(fd, sgl ? TEST_P2PDMA_ALLOC_SGL : TEST_P2PDMA_ALLOC, a) ?
	       -errno : 0;
}

int p2p_tp_free(int fd, unsigned long long handle, bool sgl)
{
	struct test_p2pdma_free f = { .handle = handle };

	return ioctl(fd, sgl ? TEST_P2PDMA_FREE_SGL : TEST_P2PDMA_FREE, &f) ?
	       -errno : 0;
}

static void p2p_on_alarm(int sig)
{
}

pid_t p2p_waitpid_bounded(pid_t pid, int *status, int secs)
{
	struct sigaction sa = { .sa_handler = p2p_on_alarm }, old;
	pid_t ret;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, &old);	/* no SA_RESTART: waitpid sees EINTR */
	alarm(secs);
	ret = waitpid(pid, status, 0);
	alarm(0);
	sigaction(SIGALRM, &old, NULL);
	return ret;
}

/* The child only makes system calls: safe from a threaded process too. */
int p2p_write_bounded(const char *path, const char *val, int secs,
		      long long *ms)
{
	struct timespec t0, t1;
	int status;
	pid_t pid;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (!pid)
		_exit(-p2p_write_str(path, val));
	if (p2p_waitpid_bounded(pid, &status, secs) != pid)
		return -ETIMEDOUT;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (ms)
		*ms = (t1.tv_sec - t0.tv_sec) * 1000LL +
		      (t1.tv_nsec - t0.tv_nsec) / 1000000;
	if (!WIFEXITED(status))
		return -EINTR;
	return -WEXITSTATUS(status);
}
