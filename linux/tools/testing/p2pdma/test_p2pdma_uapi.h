/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * Private ioctl interface of the P2PDMA test module (test_p2pdma.ko).
 *
 * The module turns each call of the public in-kernel P2PDMA API
 * (include/linux/pci-p2pdma.h) into one ioctl on /dev/test_p2pdma, so the
 * selftests in tools/testing/selftests/p2pdma can check the answers from
 * user space.  It is not a stable ABI: module and selftests are built from
 * the same tree.
 *
 * Conventions shared by every command:
 *  - PCI functions are named by struct test_p2pdma_bdf; reserved fields
 *    must be zero.
 *  - The ioctl itself fails (-EINVAL, -ENODEV, -EFAULT, -ENOTTY, -ENOMEM)
 *    only when the request cannot be carried out: malformed input, a BDF
 *    that names no device, bad user pointers.
 *  - When the API call was made, the ioctl returns 0 and the API's own
 *    answer (including its failures) is reported in the output fields.
 */
#ifndef _TEST_P2PDMA_UAPI_H
#define _TEST_P2PDMA_UAPI_H

#include <linux/types.h>
#include <linux/ioctl.h>

#define TEST_P2PDMA_DEVICE		"/dev/test_p2pdma"

#define TEST_P2PDMA_MAX_CLIENTS		8
#define TEST_P2PDMA_MAX_PAGES		16
#define TEST_P2PDMA_STR_LEN		64

/* A PCI function: domain, bus and devfn (PCI_DEVFN(slot, func)). */
struct test_p2pdma_bdf {
	__u32 domain;
	__u8 bus;
	__u8 devfn;
	__u16 reserved;
};

/*
 * How a DMA mapping of p2pmem for a client came out, as seen through
 * dma_map_sgtable().  Values are ours, not the kernel's enum.
 */
enum test_p2pdma_map_kind {
	TEST_P2PDMA_MAP_REFUSED		= -1,	/* dma_map_sgtable() failed */
	TEST_P2PDMA_MAP_NONE		= 0,	/* not probed */
	TEST_P2PDMA_MAP_BUS_ADDR	= 1,	/* PCI bus address, no IOMMU */
	TEST_P2PDMA_MAP_THRU_HOST_BRIDGE = 2,	/* CPU physical address/IOVA */
	TEST_P2PDMA_MAP_MIXED		= 3,	/* segments disagree */
};

/* test_p2pdma_distance.flags */
#define TEST_P2PDMA_F_VERBOSE		0x1U	/* verbose argument */
/* append a device that has no PCI ancestor to the client list */
#define TEST_P2PDMA_F_NON_PCI_CLIENT	0x2U

/* test_p2pdma_dma_map.map_flags */
#define TEST_P2PDMA_MAPPED_IOVA		0x1U	/* dma != CPU phys */

/* test_p2pdma_dma_seg.flags */
#define TEST_P2PDMA_SEG_BUS_MARKED	0x1U	/* sg_dma_is_bus_address */
#define TEST_P2PDMA_SEG_EQ_BUS		0x2U	/* dma == bus address */
#define TEST_P2PDMA_SEG_EQ_PHYS		0x4U	/* dma == CPU phys */

/*
 * TEST_P2PDMA_DISTANCE: pci_p2pdma_distance_many(provider, clients, n,
 * verbose).  0 <= nr_clients <= TEST_P2PDMA_MAX_CLIENTS; 0 passes an empty
 * list through to the API.  With exactly one PCI client the module also maps
 * one page of the provider's p2pmem for that client and reports the result
 * in map_kind/map_errno (TEST_P2PDMA_MAP_NONE and -ENOMEM when the provider
 * has no p2pmem to allocate from).
 */
struct test_p2pdma_distance {
	struct test_p2pdma_bdf provider;			/* in */
	struct test_p2pdma_bdf clients[TEST_P2PDMA_MAX_CLIENTS];/* in */
	__u32 nr_clients;					/* in */
	__u32 flags;						/* in */
	__s32 distance;						/* out */
	__s32 map_kind;						/* out */
	__s32 map_errno;					/* out */
	__u32 map_flags;					/* out */
};

/*
 * TEST_P2PDMA_FIND: pci_p2pmem_find_many(clients, n).  status is 0 and
 * provider is set when a provider was returned, -ENODEV when NULL was.
 */
struct test_p2pdma_find {
	struct test_p2pdma_bdf clients[TEST_P2PDMA_MAX_CLIENTS];/* in */
	__u32 nr_clients;					/* in */
	__u32 flags;				/* in: F_NON_PCI_CLIENT */
	__s32 status;						/* out */
	__u32 reserved;
	struct test_p2pdma_bdf provider;			/* out */
};

/*
 * TEST_P2PDMA_ALLOC / TEST_P2PDMA_ALLOC_SGL: pci_alloc_p2pmem(provider,
 * size) or pci_p2pmem_alloc_sgl(provider, &nents, size).  handle is 0 when
 * the API returned NULL; otherwise the allocation stays live until FREE
 * (resp. FREE_SGL) with that handle or until the file is closed.  bus_addr is
 * pci_p2pmem_virt_to_bus() of the (first) buffer and align its lowest set
 * bit.  1 <= size <= 4 GiB - 1.
 *
 * phys_addr is page_to_phys() of the (first) buffer's page plus its offset
 * in the page: the CPU physical address as the memory-model code sees it,
 * computed without the P2PDMA core, so that tests can hold bus_addr against
 * it and against the BAR in sysfs.  A provider that is being unbound or
 * removed gives handle 0, as the API would once its memory is gone.
 */
struct test_p2pdma_alloc {
	struct test_p2pdma_bdf provider;	/* in */
	__u64 size;				/* in */
	__u64 handle;				/* out */
	__u64 bus_addr;				/* out */
	__u64 align;				/* out */
	__u32 nents;				/* out: ALLOC_SGL only */
	__u32 reserved;
	__u64 phys_addr;			/* out */
};

/* TEST_P2PDMA_FREE / TEST_P2PDMA_FREE_SGL */
struct test_p2pdma_free {
	__u64 handle;				/* in */
};

struct test_p2pdma_dma_seg {
	__u64 dma_addr;
	__u64 bus_addr;		/* bus address of the segment's first byte */
	__u64 phys_addr;	/* CPU physical address of the same byte */
	__u32 dma_len;
	__u32 flags;		/* TEST_P2PDMA_SEG_* */
};

/*
 * TEST_P2PDMA_DMA_MAP: allocate npages (1..TEST_P2PDMA_MAX_PAGES) of p2pmem
 * from provider, describe them with one sg entry per page, dma_map_sgtable()
 * them for client, record every DMA segment, unmap and free.  The ioctl fails
 * with -ENOMEM when the provider cannot supply the pages.
 */
struct test_p2pdma_dma_map {
	struct test_p2pdma_bdf provider;			/* in */
	struct test_p2pdma_bdf client;				/* in */
	__u32 npages;						/* in */
	__s32 map_errno;					/* out */
	__s32 kind;						/* out */
	__u32 map_flags;					/* out */
	__u32 nsegs;						/* out */
	__u32 reserved;
	struct test_p2pdma_dma_seg segs[TEST_P2PDMA_MAX_PAGES];	/* out */
};

/* TEST_P2PDMA_HAS_P2PMEM: pci_has_p2pmem(dev) */
struct test_p2pdma_has_p2pmem {
	struct test_p2pdma_bdf dev;		/* in */
	__u32 has_p2pmem;			/* out */
	__u32 reserved;
};

/*
 * TEST_P2PDMA_ENABLE_STORE: pci_p2pdma_enable_store(input, ...) starting
 * from "off" (no device, use_p2pdma false), then pci_p2pdma_enable_show() of
 * the resulting state.  As a configfs attribute would, the state is only
 * taken over when the store succeeded: on failure show reports "off".  input
 * must be NUL-terminated within TEST_P2PDMA_STR_LEN bytes.
 */
struct test_p2pdma_enable {
	char input[TEST_P2PDMA_STR_LEN];	/* in */
	__s32 result;				/* out */
	__u32 use_p2pdma;			/* out */
	__u32 has_provider;			/* out */
	struct test_p2pdma_bdf provider;	/* out, if has_provider */
	char show[TEST_P2PDMA_STR_LEN];		/* out */
};

/*
 * TEST_P2PDMA_VIRT_TO_BUS: pci_p2pmem_virt_to_bus(provider, addr), where
 * addr is offset bytes into the buffer of allocation handle (of this file,
 * either kind; within the first entry for an SGL), or with handle 0 an
 * address in the test module's own data, which no provider owns.  -EINVAL
 * for an unknown handle or an offset past the allocation.
 */
struct test_p2pdma_virt_to_bus {
	struct test_p2pdma_bdf provider;	/* in */
	__u64 handle;				/* in */
	__u64 offset;				/* in */
	__u64 bus_addr;				/* out */
};

/*
 * TEST_P2PDMA_PUBLISH: pci_p2pmem_publish(dev, publish).  The published
 * state belongs to the provider's driver: a test that changes it restores it.
 */
struct test_p2pdma_publish {
	struct test_p2pdma_bdf dev;		/* in */
	__u32 publish;				/* in: 0 or 1 */
	__u32 reserved;
};

/* test_p2pdma_pattern.op */
#define TEST_P2PDMA_PATTERN_FILL	1
#define TEST_P2PDMA_PATTERN_CHECK	2

/*
 * TEST_P2PDMA_PATTERN: write (FILL) or verify (CHECK) a pattern over every
 * byte of a live allocation of this file (every entry of an SGL).  The
 * 64-bit word at byte offset o of the allocation holds
 * seed ^ (o * 0x9e3779b97f4a7c15).  CHECK sets bad_offset to the first
 * offset whose word differs, or to ~0ULL when all match.  -EINVAL for an
 * unknown handle, -ENODEV for a revoked one.
 */
struct test_p2pdma_pattern {
	__u64 handle;				/* in */
	__u64 seed;				/* in */
	__u32 op;				/* in */
	__u32 reserved;
	__u64 bad_offset;			/* out: CHECK only */
};

/*
 * Revocation.  Like any well-behaved kernel user, the module gives a
 * provider's memory back when the provider's driver unbinds or the device
 * is removed (bus notifier, BUS_NOTIFY_UNBIND_DRIVER and
 * BUS_NOTIFY_DEL_DEVICE): every allocation of every open file from that
 * provider is freed then, and its handle stays known as revoked.  FREE and
 * FREE_SGL of a revoked handle return -ENODEV and forget it; PATTERN and
 * VIRT_TO_BUS return -ENODEV.
 *
 * TEST_P2PDMA_STATS: what this file holds (allocations of a STRESS loop
 * that is running on the file are not counted).
 */
struct test_p2pdma_stats {
	__u64 live;				/* out: live allocations */
	__u64 live_bytes;			/* out: their sizes, summed */
	__u64 revoked;				/* out: revoked handles */
};

/*
 * TEST_P2PDMA_STRESS: on the calling thread, iterations rounds of: pick a
 * slot among 16; if it holds an allocation, CHECK its pattern and free it,
 * else allocate 1..max_pages pages (sizes drawn from seed, both powers of
 * two and others, through pci_alloc_p2pmem() or pci_p2pmem_alloc_sgl())
 * and FILL it.  Whatever is left is checked and freed at the end, and the
 * loop stops early, with revoked set, when the provider goes away.
 * 1 <= max_pages <= 512, 1 <= iterations <= 10000000.
 */
struct test_p2pdma_stress {
	struct test_p2pdma_bdf provider;	/* in */
	__u32 iterations;			/* in */
	__u32 max_pages;			/* in */
	__u64 seed;				/* in */
	__u64 allocs;				/* out: successful allocations */
	__u64 failures;				/* out: allocations the API refused */
	__u64 corrupt;				/* out: allocations whose CHECK failed */
	__u32 revoked;				/* out: stopped by a provider removal */
	__u32 reserved;
};

/*
 * TEST_P2PDMA_MAPLEVEL: how the calling process maps one of its addresses,
 * read from its page tables without the P2PDMA core: the size of the entry
 * that maps addr (PUD, PMD or PTE level; 0 when nothing is mapped there) and
 * the CPU physical address addr maps to.  A present PTE whose page the
 * module cannot read reports size 4 KiB and phys 0.  On x86, cache is the
 * entry's PAT index, the same at every level: PWT is bit 0, PCD bit 1 and
 * PAT bit 2 (Documentation/arch/x86/pat.rst has the table Linux programs:
 * 0 WB, 1 WC, 2 UC-, 3 UC); elsewhere it is TEST_P2PDMA_CACHE_UNKNOWN.
 */
struct test_p2pdma_maplevel {
	__u64 addr;				/* in */
	__u64 size;				/* out */
	__u64 phys;				/* out */
	__u32 cache;				/* out */
	__u32 reserved;
};

#define TEST_P2PDMA_CACHE_UNKNOWN	0xffffffffU

#define TEST_P2PDMA_IOC_MAGIC		0xB9

#define TEST_P2PDMA_DISTANCE	_IOWR(TEST_P2PDMA_IOC_MAGIC, 0x00, struct test_p2pdma_distance)
#define TEST_P2PDMA_FIND	_IOWR(TEST_P2PDMA_IOC_MAGIC, 0x01, struct test_p2pdma_find)
#define TEST_P2PDMA_ALLOC	_IOWR(TEST_P2PDMA_IOC_MAGIC, 0x02, struct test_p2pdma_alloc)
#define TEST_P2PDMA_FREE	_IOW(TEST_P2PDMA_IOC_MAGIC, 0x03, struct test_p2pdma_free)
#define TEST_P2PDMA_ALLOC_SGL	_IOWR(TEST_P2PDMA_IOC_MAGIC, 0x04, struct test_p2pdma_alloc)
#define TEST_P2PDMA_FREE_SGL	_IOW(TEST_P2PDMA_IOC_MAGIC, 0x05, struct test_p2pdma_free)
#define TEST_P2PDMA_DMA_MAP	_IOWR(TEST_P2PDMA_IOC_MAGIC, 0x06, struct test_p2pdma_dma_map)
#define TEST_P2PDMA_HAS_P2PMEM	_IOWR(TEST_P2PDMA_IOC_MAGIC, 0x07, struct test_p2pdma_has_p2pmem)
#define TEST_P2PDMA_ENABLE_STORE _IOWR(TEST_P2PDMA_IOC_MAGIC, 0x08, struct test_p2pdma_enable)
#define TEST_P2PDMA_VIRT_TO_BUS	_IOWR(TEST_P2PDMA_IOC_MAGIC, 0x09, struct test_p2pdma_virt_to_bus)

#define TEST_P2PDMA_PUBLISH	_IOW(TEST_P2PDMA_IOC_MAGIC, 0x0a, struct test_p2pdma_publish)
#define TEST_P2PDMA_PATTERN	_IOWR(TEST_P2PDMA_IOC_MAGIC, 0x0b, struct test_p2pdma_pattern)
#define TEST_P2PDMA_STATS	_IOR(TEST_P2PDMA_IOC_MAGIC, 0x0c, struct test_p2pdma_stats)
#define TEST_P2PDMA_STRESS	_IOWR(TEST_P2PDMA_IOC_MAGIC, 0x0d, struct test_p2pdma_stress)
#define TEST_P2PDMA_MAPLEVEL	_IOWR(TEST_P2PDMA_IOC_MAGIC, 0x0e, struct test_p2pdma_maplevel)

#endif /* _TEST_P2PDMA_UAPI_H */
