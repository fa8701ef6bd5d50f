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
#define P2P_MAX_NVME		16
#define P2P_PCI_DEVICES		"/sys/bus/pci/devices"

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a)		(sizeof(a) / sizeof((a)[0]))
#endif

/*
 * What the P2PDMA routing between the provider and an NVMe on another port
 * should be, from P2P_TOPOLOGY:
 *   switch           one PCIe switch without ACS: bus addresses, distance 4
 *   rootports-intel  separate root ports, Intel host bridge not allowed:
 *                    refused (distance -1)
 *   rootports-amd    separate root ports, AMD Zen CPU: through the host
 *                    bridge, DMA address = CPU physical address
 *   iommu            rootports-amd behind a vIOMMU: through the host
 *                    bridge, DMA address = IOVA
 */
enum p2p_expect {
	P2P_EXPECT_UNKNOWN = 0,
	P2P_EXPECT_BUS_ADDR,
	P2P_EXPECT_REFUSED,
	P2P_EXPECT_HOST_BRIDGE,
	P2P_EXPECT_IOMMU,
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
};

/* Environment */
enum p2p_expect p2p_expect_from_env(void);
const char *p2p_topology_name(void);
bool p2p_kernel_is(const char *name);
size_t p2p_page_size(void);

/* Discovery */
int p2p_env_scan(struct p2p_env *env);
bool p2p_has_p2pmem_dir(const char *bdf);
int p2p_disk_bdf(const char *disk, char *bdf, size_t len);
int p2p_upstream_bdf(const char *bdf, char *out, size_t len);
int p2p_parse_bdf(const char *s, struct test_p2pdma_bdf *bdf);
void p2p_format_bdf(const struct test_p2pdma_bdf *bdf, char *s, size_t len);
bool p2p_is_nvme_function(const char *bdf);

void p2p_copy_str(char *dst, size_t len, const char *src);

/* sysfs / configfs attributes; negative return values are -errno */
bool p2p_exists(const char *path);
ssize_t p2p_read_str(const char *path, char *buf, size_t len);
int p2p_write_str(const char *path, const char *s);
long long p2p_read_ll(const char *path);
long long p2p_attr(const char *bdf, const char *name);
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

/* Kernel log: remember the end of /dev/kmsg, later search what follows */
int p2p_kmsg_open(void);
bool p2p_kmsg_search(int fd, const char *needle1, const char *needle2);

#endif /* __P2PDMA_COMMON_H */
