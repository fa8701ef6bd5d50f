/* SPDX-License-Identifier: GPL-2.0 */
/*
 * NVMe queue leases for in-kernel holders: a driver of another PCI device
 * (an accelerator, a DMA engine) takes an I/O queue pair of an NVMe PCI
 * controller, with its queues and a data buffer in P2P memory both devices
 * reach, and drives it with its device's DMA.  See
 * Documentation/driver-api/pci/p2pdma.rst, "NVMe queue leases".
 */
#ifndef _LINUX_NVME_LEASE_H
#define _LINUX_NVME_LEASE_H

#include <linux/types.h>

struct device;
struct nvme_lease;
struct pci_dev;

/**
 * struct nvme_lease_request - what a holder asks for
 * @nsid: the namespace its commands address
 * @depth: entries of each queue, 2 to the controller's maximum
 * @data_size: bytes of P2P memory for data (rounded up to pages), or 0
 * @holder: the device whose DMA drives the queue, or NULL for the CPU; the
 *	lease holds a reference on it
 * @revoke: called once when the kernel takes the lease back (see
 *	nvme_lease_get()), or NULL
 * @priv: passed to @revoke
 *
 * @revoke runs in process context and may sleep.  No lock of the NVMe
 * driver or of the leases is held when it is called: when the controller
 * goes down it is called before nvme-pci takes its shutdown lock, from
 * the reset, timeout or removal path of the controller; otherwise from the
 * unbind or removal of a device the lease uses, the removal of its
 * namespace, or the task that ends the lease (nvme_lease_put() included).
 * It may take locks of its own, but none that a task holds around
 * nvme_lease_get() or nvme_lease_put() (those calls wait for resets and
 * revocations that wait for the callback), and it must not call the lease
 * API.  It must stop every access of @holder to the lease's addresses
 * before it returns, in bounded time.
 */
struct nvme_lease_request {
	u32 nsid;
	u32 depth;
	size_t data_size;
	struct device *holder;
	void (*revoke)(struct nvme_lease *lease, void *priv);
	void *priv;
};

/**
 * struct nvme_lease_info - a granted lease
 * @qid: queue id of the submission and the completion queue
 * @depth: entries of each queue
 * @nsid: the namespace
 * @lba_shift: log2 of its logical block size
 * @sq: kernel address of the submission queue
 * @cq: kernel address of the completion queue
 * @data: kernel address of the data buffer (NULL without one)
 * @data_size: its size
 * @sq_addr: the submission queue as the holder addresses it
 * @cq_addr: the completion queue as the holder addresses it
 * @data_addr: the data buffer as the holder addresses it
 * @sq_db_addr: the submission queue tail doorbell as the holder writes it
 * @cq_db_addr: the completion queue head doorbell as the holder writes it
 * @data_ctrl_addr: the data buffer as the controller sees it, for the PRP
 *	entries of the holder's commands
 *
 * The holder's addresses are DMA addresses of @holder (bus addresses below
 * a common switch, or mapped through the host bridge and any IOMMU, as the
 * P2PDMA verdict says); for a lease without a holder device they are the
 * controller's.
 */
struct nvme_lease_info {
	u16 qid;
	u32 depth;
	u32 nsid;
	unsigned int lba_shift;
	void *sq;
	void *cq;
	void *data;
	size_t data_size;
	dma_addr_t sq_addr;
	dma_addr_t cq_addr;
	dma_addr_t data_addr;
	dma_addr_t sq_db_addr;
	dma_addr_t cq_db_addr;
	u64 data_ctrl_addr;
};

#if IS_ENABLED(CONFIG_BLK_DEV_NVME)
struct nvme_lease *nvme_lease_get(struct pci_dev *ctrl,
				  const struct nvme_lease_request *req);
const struct nvme_lease_info *nvme_lease_info(struct nvme_lease *lease);
bool nvme_lease_revoked(struct nvme_lease *lease);
void nvme_lease_put(struct nvme_lease *lease);
#else
static inline struct nvme_lease *
nvme_lease_get(struct pci_dev *ctrl, const struct nvme_lease_request *req)
{
	return ERR_PTR(-EOPNOTSUPP);
}

static inline const struct nvme_lease_info *
nvme_lease_info(struct nvme_lease *lease)
{
	return NULL;
}

static inline bool nvme_lease_revoked(struct nvme_lease *lease)
{
	return true;
}

static inline void nvme_lease_put(struct nvme_lease *lease)
{
}
#endif

#endif /* _LINUX_NVME_LEASE_H */
