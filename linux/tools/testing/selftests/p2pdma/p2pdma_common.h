/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the P2PDMA selftests: find the p2pmem provider and the
 * NVMe namespaces in sysfs, read and write sysfs/configfs attributes, map
 * p2pmem, fill and check data patterns, and tell what the topology under
 * test (environment variable P2P_TOPOLOGY) should do.
 */
#ifndef __P2PDMA_COMMON_H
#define __P2PDMA_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "test_p2pdma_uapi.h"

#define P2P_BDF_LEN		16
#define P2P_MIB			1048576ULL
#define P2P_MAX_NVME		16
#define P2P_PCI_DEVICES		"/sys/bus/pci/devices"
#define P2P_KMSG_REC		8192	/* room for one /dev/kmsg record */

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a)		(sizeof(a) / sizeof((a)[0]))
#endif

/*
 * What the P2PDMA routing between the provider and an NVMe without p2pmem
 * (on another port, or another function of the same device) should be,
 * from P2P_TOPOLOGY; see the table in p2pdma_common.c, which is written
 * from the topology descriptions in vm/topologies/, not from the kernel:
 *   switch           one PCIe switch without ACS: bus addresses, distance 4
 *   rootports-intel  separate root ports, Intel host bridge not allowed:
 *                    refused (distance -1)
 *   rootports-amd    separate root ports, AMD Zen CPU: through the host
 *                    bridge, DMA address = CPU physical address
 *   iommu            rootports-amd behind a vIOMMU: through the host
 *                    bridge, DMA address = IOVA
 *   acs              three functions of one device below one root port,
 *                    no ACS redirect: bus addresses, distance 2
 *   acs-redir        the same with ACS RR+CR on the root port
 *                    (pci=config_acs), Intel vCPU: refused
 *   acs-redir-amd    the same with an AMD Zen vCPU: through the host
 *                    bridge, distance still 2 (hops to the common port)
 *   acs-disabled     acs-redir plus pci=disable_acs_redir: bus addresses
 *   multi            AMD Zen; a switch with NVMe A, B (CMBs) and C, and
 *                    NVMe D (CMB) on a second root port; for A and C: bus
 *                    addresses, distance 4
 *   huge             a switch with NVMe D (1 GiB CMB), B and C
 *   stack            Intel; a switch with NVMe A (CMB), B, C and two
 *                    paths of a multipath namespace; its third path and
 *                    NVMe D on root ports of their own (refused); for A
 *                    and B, C: bus addresses, distance 4
 *   lease            Intel; a switch with NVMe A (CMB, two namespaces),
 *                    B (CMB), C and an edu; NVMe D on a root port of its
 *                    own (refused); two lease queues per controller; for
 *                    A and C: bus addresses, distance 4
 *   lease-amd        AMD Zen; NVMe A (CMB), B (CMB) and an edu on root
 *                    ports of their own, two lease queues per controller;
 *                    no NVMe without a CMB; between A and B: through the
 *                    host bridge, distance 4
 */
enum p2p_expect {
	P2P_EXPECT_UNKNOWN = 0,
	P2P_EXPECT_BUS_ADDR,
	P2P_EXPECT_REFUSED,
	P2P_EXPECT_HOST_BRIDGE,
	P2P_EXPECT_IOMMU,
};

struct p2p_topology {
	const char *name;
	enum p2p_expect expect;
	int distance;			/* provider <-> peer; -1 if refused */
	unsigned long long cmb_size;	/* length of each CMB BAR, bytes */
	const char *acs_port;		/* port with ACS RR+CR set, or NULL */
	int nr_providers;		/* functions with a CMB */
	int nr_peers;			/* NVMe without a CMB */
};

struct p2p_nvme {
	char disk[32];			/* block device name, e.g. "nvme1n1" */
	char bdf[P2P_BDF_LEN];		/* PCI function of its controller */
	bool provider;			/* that function has p2pmem */
};

struct p2p_env {
	char provider[P2P_BDF_LEN];	/* first function with p2pmem or "" */
	int nr_providers;
	struct p2p_nvme nvme[P2P_MAX_NVME];
	int nr_nvme;
	int self;			/* namespace on the provider, or -1 */
	int peer[2];			/* namespaces elsewhere, or -1 */
	enum p2p_expect expect;
	const char *topology;
	const struct p2p_topology *topo;	/* NULL: unknown topology */
};

/* Environment */
const struct p2p_topology *p2p_topology_from_env(void);
enum p2p_expect p2p_expect_from_env(void);
const char *p2p_topology_name(void);
bool p2p_kernel_is(const char *name);
size_t p2p_page_size(void);

/* Discovery */
int p2p_env_scan(struct p2p_env *env);
/* Functions with a p2pmem directory, in BDF order; returns how many. */
struct p2p_name {
	char bdf[P2P_BDF_LEN];
};

int p2p_list_providers(struct p2p_name *out, int max);
bool p2p_has_p2pmem_dir(const char *bdf);
int p2p_disk_bdf(const char *disk, char *bdf, size_t len);
int p2p_upstream_bdf(const char *bdf, char *out, size_t len);
int p2p_parse_bdf(const char *s, struct test_p2pdma_bdf *bdf);
void p2p_format_bdf(const struct test_p2pdma_bdf *bdf, char *s, size_t len);
bool p2p_is_nvme_function(const char *bdf);

/*
 * BARs from sysfs "resource" (CPU physical addresses as the PCI core
 * assigned them, read without the P2PDMA core).
 */
struct p2p_bar {
	int index;
	unsigned long long start, end, flags;
};

int p2p_read_bar(const char *bdf, int index, struct p2p_bar *bar);
/* The first memory BAR of @bdf that is exactly @len bytes long. */
int p2p_find_bar_of_len(const char *bdf, unsigned long long len,
			struct p2p_bar *bar);
/*
 * The BAR that holds @bdf's CMB: of the length the topology table gives,
 * or (unknown topology) of the length p2pmem/size says.
 */
int p2p_cmb_bar(const struct p2p_env *env, const char *bdf,
		struct p2p_bar *bar);

void p2p_copy_str(char *dst, size_t len, const char *src);

/* sysfs / configfs attributes; negative return values are -errno */
bool p2p_exists(const char *path);
ssize_t p2p_read_str(const char *path, char *buf, size_t len);
int p2p_write_str(const char *path, const char *s);
long long p2p_read_ll(const char *path);
long long p2p_attr(const char *bdf, const char *name);

/*
 * TEST_P2PDMA_ALLOC (or _SGL) of @size bytes from @provider into @a, and
 * TEST_P2PDMA_FREE (or _SGL) of @handle: 0 or -errno of the ioctl.
 */
int p2p_tp_alloc(int fd, const struct test_p2pdma_bdf *provider,
		 unsigned long long size, bool sgl, struct test_p2pdma_alloc *a);
int p2p_tp_free(int fd, unsigned long long handle, bool sgl);

/* waitpid() that gives up after @secs seconds (then -1 with EINTR). */
pid_t p2p_waitpid_bounded(pid_t pid, int *status, int secs);
/*
 * Write @val to @path from a child, so that a write stuck in the kernel
 * (a device removal that waits forever) cannot hang the test: 0, -errno
 * of the write, or -ETIMEDOUT after @secs seconds.  @ms, if not NULL, gets
 * how long the write took.
 */
int p2p_write_bounded(const char *path, const char *val, int secs,
		      long long *ms);
long long p2p_wait_attr(const char *bdf, const char *name, long long want,
			int timeout_ms);
void p2p_msleep(int ms);

/* p2pmem mappings */
int p2p_open_allocate(const char *bdf, int flags);
void *p2p_map(int fd, size_t len);

/* Data patterns: a word pattern that differs for every seed and offset */
void p2p_fill(void *buf, size_t len, uint64_t seed);
ssize_t p2p_mismatch(const void *buf, size_t len, uint64_t seed);
void *p2p_host_buffer(size_t len);

/*
 * Create @file of @size bytes and attach it to a free loop device, named in
 * @dev.  Returns an open descriptor of the loop device or -errno.
 */
int p2p_loop_attach(const char *file, size_t size, char *dev, size_t len);
void p2p_loop_detach(int loop_fd);

/* Touch one byte at @addr; true when that raised SIGBUS. */
bool p2p_touch_faults(char *addr, bool write);

/*
 * Size of the page-table entry that maps @addr in this process (the test
 * module's TEST_P2PDMA_MAPLEVEL): 4 KiB, 2 MiB or 1 GiB, 0 if none, -errno.
 */
long long p2p_map_level(const void *addr);

/* The entry size ours maps an aligned 2 MiB of p2pmem with; stock: 4 KiB. */
long long p2p_pmd_level(void);

/*
 * Kernel log: p2p_kmsg_open() marks the end of /dev/kmsg.  p2p_kmsg_next()
 * and p2p_kmsg_find() read on from the last record read, each record once;
 * p2p_kmsg_search() looks at every record after the mark, whatever was read
 * before, and moves nothing.
 */
int p2p_kmsg_open(void);
bool p2p_kmsg_next(int fd, char *rec, size_t len);
bool p2p_kmsg_search(int fd, const char *needle1, const char *needle2);
const char *p2p_kmsg_find(int fd, const char * const *needles, size_t n);
bool p2p_is_core_complaint(const char *rec);
const char *p2p_core_complaint(int fd);

/*
 * Helpers for tests built on kselftest_harness.h (included before this
 * header).  p2p_require() is for a precondition that every topology of the
 * table provides (the test module, a provider, peers, configured kernel
 * features): outside a known topology (a run by hand) its absence skips
 * the test; in a topology built for the test it fails it, so that a broken
 * harness cannot pass by skipping.  Both end the test (or the fixture
 * setup) as SKIP()/ASSERT do, from any depth.
 */
#ifdef __KSELFTEST_HARNESS_H
#include <stdarg.h>

static inline void
p2p_skip(struct __test_metadata *_metadata, const char *fmt, ...)
{
	char why[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	SKIP(longjmp(_metadata->env, 1), "%s", why);
}

static inline void
p2p_require(struct __test_metadata *_metadata, bool known_topology,
	    bool ok, const char *fmt, ...)
{
	char why[256];
	va_list ap;

	if (ok)
		return;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (!known_topology)
		p2p_skip(_metadata, "%s", why);
	TH_LOG("%s (topology %s)", why, p2p_topology_name());
	ASSERT_TRUE(ok);
}

/*
 * For the disruptive tests (removal, fault injection), which need devices
 * only the switch topology is sure to have: a precondition missing there
 * fails the test, elsewhere it skips.  Returns false when the test cannot
 * go on.
 */
static inline bool p2p_need(struct __test_metadata *_metadata, bool ok,
			    const char *why)
{
	if (ok)
		return true;
	if (!strcmp(p2p_topology_name(), "switch")) {
		TH_LOG("switch topology: %s", why);
		_metadata->exit_code = KSFT_FAIL;
		return false;
	}
	SKIP(return false, "%s", why);
}
#endif

#endif /* __P2PDMA_COMMON_H */
