/* SPDX-License-Identifier: GPL-2.0 */
/*
 * PCI P2PDMA routing policy: whether and how two devices can do
 * peer-to-peer DMA, decided from a description of their upstream paths
 * alone (p2pdma_route.c).  The core fills the descriptions from real
 * devices; the KUnit suite fills them from tables.
 */
#ifndef _DRIVERS_PCI_P2PDMA_ROUTE_H
#define _DRIVERS_PCI_P2PDMA_ROUTE_H

#include <linux/dma-map-ops.h>
#include <linux/pci_regs.h>
#include <linux/types.h>

struct pci_dev;
struct pci_host_bridge;

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

/* Room for a PCI address as pci_name() prints it ("10000:00:00.0"). */
#define P2PDMA_NAME_LEN		16

/* ACS control bits that push peer-to-peer TLPs towards the root complex. */
#define P2PDMA_ACS_REDIR_BITS	(PCI_ACS_RR | PCI_ACS_CR | PCI_ACS_EC)

/**
 * struct p2pdma_host - the host bridge above a path
 * @bridge: the host bridge; two paths below one host bridge point to the
 *	same one
 * @name: PCI address of the device that stands for @bridge in the allow
 *	list, copied when the path was described; empty if there is none
 * @vendor: vendor ID of that device (0 without one)
 * @device: device ID of that device (0 without one)
 */
struct p2pdma_host {
	const struct pci_host_bridge *bridge;
	char name[P2PDMA_NAME_LEN];
	u16 vendor;
	u16 device;
};

/**
 * struct p2pdma_path - a device and its upstream bridges
 * @len: number of valid entries in @dev and @acs_ctrl
 * @truncated: there are more than %P2PDMA_MAX_HOPS devices from the device
 *	up to its host bridge; @dev and @acs_ctrl hold the lowest
 *	%P2PDMA_MAX_HOPS of them and the path is refused
 * @dev: each device on the path, bottom up: entry 0 is the device itself
 *	and the last valid entry the topmost device below the host bridge;
 *	p2pdma_decide() only compares these pointers, never follows them
 * @acs_ctrl: ACS Control register of each device on the path, same index
 *	as in @dev, 0 for a device without an ACS capability
 * @host: the host bridge above the topmost device of the path
 *
 * Parallel arrays rather than an array of structures: no padding, so that
 * p2pdma_judge() can keep two of these on the stack.
 */
struct p2pdma_path {
	unsigned int len;
	bool truncated;
	const struct pci_dev *dev[P2PDMA_MAX_HOPS];
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

void p2pdma_decide(const struct p2pdma_path *provider,
		   const struct p2pdma_path *client, bool cpu_routes_p2p,
		   struct p2pdma_verdict *v);
enum p2pdma_reason p2pdma_check_host(const struct p2pdma_host *host,
				     bool same_bridge);

#endif /* _DRIVERS_PCI_P2PDMA_ROUTE_H */
