/* SPDX-License-Identifier: GPL-2.0 */
/*
 * NVMe queue leases: what nvme-pci (pci.c) calls in pci-lease.c.  The
 * controller's side of a lease: which queue ids are kept for leasing, when
 * the controller goes down (every lease is revoked), when one of its
 * namespaces goes (the leases on it are revoked) and the ioctls of its
 * character device.
 */
#ifndef _NVME_PCI_LEASE_H
#define _NVME_PCI_LEASE_H

#include <linux/types.h>

struct nvme_ctrl;
struct nvme_lease_ctrl;
struct pci_dev;

/**
 * struct nvme_lease_geometry - what a controller reset set up for leases
 * @first_qid: the lowest queue id kept for leasing
 * @nr: number of queue pairs kept, from @first_qid up
 * @db_stride: bytes from one doorbell register to the next
 * @max_depth: most entries a queue may have (CAP.MQES + 1)
 * @cmb_sqs: the controller's own p2pmem (its CMB) may hold submission
 *	queues
 * @cmb_cqs: ... and completion queues
 */
struct nvme_lease_geometry {
	u16 first_qid;
	u16 nr;
	u32 db_stride;
	u32 max_depth;
	bool cmb_sqs;
	bool cmb_cqs;
};

int nvme_lease_init(void);
void nvme_lease_exit(void);
unsigned int nvme_lease_queues_wanted(void);
struct nvme_lease_ctrl *nvme_lease_ctrl_alloc(struct nvme_ctrl *ctrl,
					      struct pci_dev *pdev);
void nvme_lease_ctrl_free(struct nvme_lease_ctrl *lc);
void nvme_lease_ctrl_up(struct nvme_lease_ctrl *lc,
			const struct nvme_lease_geometry *geo);
void nvme_lease_ctrl_fence(struct nvme_lease_ctrl *lc);
void nvme_lease_ctrl_down(struct nvme_lease_ctrl *lc);
void nvme_lease_ns_gone(struct nvme_lease_ctrl *lc, u32 nsid);
long nvme_lease_ioctl(struct nvme_ctrl *ctrl, unsigned int cmd,
		      void __user *argp);

#endif /* _NVME_PCI_LEASE_H */
