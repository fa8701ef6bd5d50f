/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Private interface of the PCI peer-to-peer DMA core.
 *
 * Two parts of p2pdma.c are plain data structures that know nothing of
 * struct pci_dev or struct page, so that the KUnit suite in p2pdma_test.c
 * can drive them with synthetic input:
 *
 *  - the routing policy: the glue code describes the two upstream paths
 *    (provider and client) in a struct p2pdma_path each, and
 *    p2pdma_decide() turns the pair into a struct p2pdma_verdict;
 *  - the page allocator: a binary buddy allocator per memory range whose
 *    free sets are hierarchical bitmaps (struct p2pdma_buddy).
 *
 * The functions declared here are static to p2pdma.c unless CONFIG_KUNIT
 * is enabled.
 */
#ifndef _DRIVERS_PCI_P2PDMA_H
#define _DRIVERS_PCI_P2PDMA_H

#include <linux/atomic.h>
#include <linux/dma-map-ops.h>
#include <linux/pci_regs.h>
#include <linux/types.h>

/*
 * Most devices a path may hold, counting the device itself and every bridge
 * up to the one below the host bridge.  The glue stops at this many and
 * marks the path truncated; p2pdma_decide() then refuses the pair
 * (P2PDMA_REASON_TOO_DEEP) without looking for a common device, even if
 * there is one within the first P2PDMA_MAX_HOPS devices.  A deliberate
 * limit that the previous implementation did not have.
 *
 * 16 is plenty for PCIe: it fits an endpoint and its root port with seven
 * levels of switches (an upstream and a downstream port each) in between.
 * Real machines have one to three levels; only long Thunderbolt daisy
 * chains come near the cap.  A small cap keeps small the two paths that
 * the DMA mapping path puts on the stack.
 */
#define P2PDMA_MAX_HOPS		16

/* ACS control bits that push peer-to-peer TLPs towards the root complex. */
#define P2PDMA_ACS_REDIR_BITS	(PCI_ACS_RR | PCI_ACS_CR | PCI_ACS_EC)

/**
 * struct p2pdma_host - the host bridge above a path
 * @id: identity of the host bridge; two paths below one host bridge
 *	carry the same @id
 * @dev: the device that identifies the host bridge (only for messages)
 * @vendor: vendor ID of @dev
 * @device: device ID of @dev
 * @known: an identifying device was found; @vendor and @device are valid
 */
struct p2pdma_host {
	const void *id;
	const void *dev;
	u16 vendor;
	u16 device;
	bool known;
};

/**
 * struct p2pdma_path - a device and its upstream bridges
 * @len: number of valid entries in @id and @acs_ctrl
 * @truncated: there are more than %P2PDMA_MAX_HOPS devices from the device
 *	up to its host bridge; @id and @acs_ctrl hold the lowest
 *	%P2PDMA_MAX_HOPS of them and the path is refused
 * @id: identity of each device on the path, bottom up: entry 0 of @id is
 *	the device itself and the last valid entry the topmost device below
 *	the host bridge; entries of two paths that share an identity are the
 *	same device (the glue stores the struct pci_dev pointer)
 * @acs_ctrl: ACS Control register of each device on the path, same index
 *	as in @id, 0 for a device without an ACS capability
 * @host: the host bridge above the topmost device of the path
 *
 * Parallel arrays rather than an array of structures: no padding, so that
 * p2pdma_judge() can keep two of these on the stack.
 */
struct p2pdma_path {
	unsigned int len;
	bool truncated;
	const void *id[P2PDMA_MAX_HOPS];
	u16 acs_ctrl[P2PDMA_MAX_HOPS];
	struct p2pdma_host host;
};

/**
 * enum p2pdma_reason - why a verdict came out the way it did
 * @P2PDMA_REASON_DIRECT: both devices sit below a common upstream device
 *	and nothing on the way redirects, so TLPs turn around in that device
 * @P2PDMA_REASON_CPU: the traffic crosses the host bridge and the CPU
 *	family is known to route peer-to-peer traffic there
 * @P2PDMA_REASON_HOST_LISTED: the traffic crosses the host bridge(s) and
 *	they are on the allow list
 * @P2PDMA_REASON_HOST_UNLISTED: refused, a host bridge is not on the
 *	allow list
 * @P2PDMA_REASON_HOST_UNKNOWN: refused, a host bridge has no device by
 *	which it could be looked up in the allow list
 * @P2PDMA_REASON_HOST_SPLIT: refused, the devices are below different
 *	host bridges and an allow list entry only covers traffic within one
 * @P2PDMA_REASON_TOO_DEEP: refused, a path has more than
 *	%P2PDMA_MAX_HOPS devices
 */
enum p2pdma_reason {
	P2PDMA_REASON_DIRECT,
	P2PDMA_REASON_CPU,
	P2PDMA_REASON_HOST_LISTED,
	P2PDMA_REASON_HOST_UNLISTED,
	P2PDMA_REASON_HOST_UNKNOWN,
	P2PDMA_REASON_HOST_SPLIT,
	P2PDMA_REASON_TOO_DEEP,
};

/* Bits of p2pdma_verdict.bad_host. */
#define P2PDMA_SIDE_PROVIDER	BIT(0)
#define P2PDMA_SIDE_CLIENT	BIT(1)

/**
 * struct p2pdma_verdict - outcome of p2pdma_decide()
 * @map: how DMA between the two devices must be mapped
 * @distance: hops up from the provider to the common upstream device plus
 *	hops up from the client to it, also when ACS redirects the traffic
 *	through the host bridge; without a common device (or for a truncated
 *	path), the sum of both path lengths
 * @reason: why @map was chosen
 * @common: a common upstream device exists
 * @up_provider: index of the common device in the provider's path (valid
 *	if @common)
 * @up_client: index of the common device in the client's path (valid if
 *	@common)
 * @acs_hops: one mask per path, the provider's first, of the path indexes
 *	whose ACS redirect forces the traffic up to the host bridge; zero
 *	without a common device
 * @bad_host: mask of the host bridges behind a refusal, made of
 *	%P2PDMA_SIDE_PROVIDER and %P2PDMA_SIDE_CLIENT
 */
struct p2pdma_verdict {
	enum pci_p2pdma_map_type map;
	int distance;
	enum p2pdma_reason reason;
	bool common;
	unsigned int up_provider;
	unsigned int up_client;
	u32 acs_hops[2];
	u8 bad_host;
};

/* Depth of a hierarchical bitmap: 64^8 = 2^48 leaf bits at most. */
#define P2PDMA_HBM_LEVELS	8

/**
 * struct p2pdma_hbm - hierarchical bitmap holding the free blocks of one order
 * @lvl: the levels, from the leaf bitmap (entry 0 of @lvl) up to the
 *	single-word top level (entry @top); bit i of a summary level is set
 *	when word i of the level below it is not zero
 * @nbits: number of leaf bits
 * @first: block number (at this order) of leaf bit 0
 * @top: index of the top level, which is a single word
 */
struct p2pdma_hbm {
	unsigned long *lvl[P2PDMA_HBM_LEVELS];
	unsigned long nbits;
	unsigned long first;
	unsigned int top;
};

/**
 * struct p2pdma_buddy - buddy allocator over a range of page numbers
 * @origin: first page number of the range
 * @npages: number of pages in the range
 * @nfree: number of free pages
 * @max_order: largest block order that fits in the range
 * @nonempty: bit n is set when some block of order n is free
 * @freemap: one bit per page, set while the page is free here (bit 0 for
 *	@origin); p2pdma_buddy_alloc_fit() looks for runs of free pages in it
 * @store: backing memory of every bitmap
 * @order: free blocks, one hierarchical bitmap per order
 *
 * Page numbers are absolute (the glue uses bus page frame numbers), and a
 * block of order n starts at a page number that is a multiple of 2^n, so
 * power-of-two allocations are naturally aligned in the bus address space.
 * Not locked: the caller serialises every call on one allocator.
 */
struct p2pdma_buddy {
	unsigned long origin;
	unsigned long npages;
	unsigned long nfree;
	unsigned int max_order;
	unsigned long nonempty;
	unsigned long *freemap;
	unsigned long *store;
	struct p2pdma_hbm order[];
};

#if IS_ENABLED(CONFIG_KUNIT)
void p2pdma_decide(const struct p2pdma_path *provider,
		   const struct p2pdma_path *client, bool cpu_routes_p2p,
		   struct p2pdma_verdict *v);
bool p2pdma_host_listed(u16 vendor, u16 device, bool *same_bridge_only);

unsigned long p2pdma_verdict_key(int domain, u16 devid);
void *p2pdma_verdict_encode(enum pci_p2pdma_map_type map, int distance);
enum pci_p2pdma_map_type p2pdma_verdict_decode(void *entry, int *distance);
unsigned long p2pdma_last_pack(unsigned long key, enum pci_p2pdma_map_type map,
			       int distance);
enum pci_p2pdma_map_type p2pdma_last_unpack(unsigned long last,
					    unsigned long key, int *distance);

struct p2pdma_buddy *p2pdma_buddy_create(unsigned long origin,
					 unsigned long npages, int nid);
void p2pdma_buddy_destroy(struct p2pdma_buddy *b);
bool p2pdma_buddy_alloc(struct p2pdma_buddy *b, unsigned long npages,
			unsigned long *first);
bool p2pdma_buddy_alloc_fit(struct p2pdma_buddy *b, unsigned long npages,
			    unsigned long *first);
unsigned long p2pdma_buddy_alloc_upto(struct p2pdma_buddy *b,
				      unsigned long max_pages,
				      unsigned long *first);
int p2pdma_buddy_free(struct p2pdma_buddy *b, unsigned long first,
		      unsigned long npages);
bool p2pdma_inuse_clear(atomic_long_t *word, unsigned long mask);
unsigned long p2pdma_find_run(const unsigned long *map, unsigned long nbits,
			      unsigned long n);

struct p2pdma_range;

/**
 * struct p2pdma_test_range_info - allocator state of a range, for KUnit
 * @nfree: pages free in the buddy
 * @cached: pages in the per-CPU caches, runs included
 * @nonempty: orders with a free block in the buddy (bit n for order n)
 * @max_order: largest order of the buddy
 * @run_max: a run of pages freed by ->page_free() goes to the buddy when
 *	its end is a multiple of this
 * @taken: pages handed out and not given back, as p2pmem/available counts
 */
struct p2pdma_test_range_info {
	unsigned long nfree;
	unsigned long cached;
	unsigned long taken;
	unsigned long nonempty;
	unsigned int max_order;
	unsigned long run_max;
};

struct p2pdma_range *p2pdma_test_range_create(unsigned long first,
					      unsigned long npages);
void p2pdma_test_range_destroy(struct p2pdma_range *range);
long p2pdma_test_range_take(struct p2pdma_range *range, unsigned long npages,
			    bool contig, unsigned long *pg);
int p2pdma_test_range_page_free(struct p2pdma_range *range,
				unsigned long pg);
long p2pdma_test_range_kalloc(struct p2pdma_range *range, unsigned long npages,
			      unsigned long *pg);
int p2pdma_test_range_kfree(struct p2pdma_range *range, unsigned long pg,
			    unsigned long npages);
void p2pdma_test_range_info(struct p2pdma_range *range,
			    struct p2pdma_test_range_info *info);
#endif

#endif /* _DRIVERS_PCI_P2PDMA_H */
