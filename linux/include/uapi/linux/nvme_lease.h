/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * NVMe queue leases: an I/O queue pair of an NVMe PCI controller, with its
 * queues and a data buffer in PCI peer-to-peer memory, handed to a holder
 * that submits and completes commands itself.  See
 * Documentation/driver-api/pci/p2pdma.rst, "NVMe queue leases".
 */
#ifndef _UAPI_LINUX_NVME_LEASE_H
#define _UAPI_LINUX_NVME_LEASE_H

#include <linux/ioctl.h>
#include <linux/types.h>

/* Where the completion queue of a lease lives (nvme_lease_args.cq_mem). */
#define NVME_LEASE_MEM_P2PMEM	1	/* p2pmem of a PCI provider */
#define NVME_LEASE_MEM_HOST	2	/* host memory */

/**
 * struct nvme_lease_args - argument of NVME_IOCTL_LEASE
 * @nsid:	in: the namespace the holder will address
 * @depth:	in: entries of the submission and of the completion queue,
 *		2 to the controller's maximum queue size
 * @data_size:	in: bytes of p2pmem for data, rounded up to pages; 0 for
 *		none; out: the size mapped
 * @flags:	in: none defined, must be 0
 * @qid:	out: the queue identifier of both queues
 * @lba_shift:	out: log2 of the namespace's logical block size
 * @sq_db:	out: byte offset of the submission queue tail doorbell in the
 *		doorbell region
 * @cq_db:	out: byte offset of the completion queue head doorbell in the
 *		doorbell region
 * @sq_mem:	out: where the submission queue lives (NVME_LEASE_MEM_*)
 * @cq_mem:	out: where the completion queue lives (NVME_LEASE_MEM_*)
 * @sq_off:	out: mmap offset of the submission queue on the lease file
 * @sq_size:	out: its size in bytes (page aligned)
 * @cq_off:	out: mmap offset of the completion queue
 * @cq_size:	out: its size in bytes (page aligned)
 * @data_off:	out: mmap offset of the data buffer (@data_size bytes)
 * @db_off:	out: mmap offset of the doorbell region
 * @db_size:	out: its size in bytes (page aligned)
 * @data_addr:	out: address of the data buffer as the controller sees it,
 *		for the PRP entries of the holder's commands
 * @rsvd:	reserved, 0
 *
 * On success the ioctl returns a new file descriptor, the lease.  It is
 * revoked when that file is closed, and by the kernel on NVME_IOCTL_RESET,
 * controller reset or timeout recovery, removal or driver unbind of the
 * controller or of a device whose p2pmem the lease uses, and
 * NVME_IOCTL_LEASE_REVOKE.  A revoked lease polls as EPOLLERR | EPOLLHUP,
 * and its mappings raise SIGBUS.
 */
struct nvme_lease_args {
	__u32	nsid;
	__u32	depth;
	__u64	data_size;
	__u32	flags;
	__u16	qid;
	__u16	lba_shift;
	__u32	sq_db;
	__u32	cq_db;
	__u32	sq_mem;
	__u32	cq_mem;
	__u64	sq_off;
	__u64	sq_size;
	__u64	cq_off;
	__u64	cq_size;
	__u64	data_off;
	__u64	db_off;
	__u64	db_size;
	__u64	data_addr;
	__u64	rsvd[4];
};

/* On the controller's character device (/dev/nvmeN); CAP_SYS_ADMIN. */
#define NVME_IOCTL_LEASE	_IOWR('N', 0x50, struct nvme_lease_args)
/* Revoke the lease of queue @qid (a __u32) of this controller. */
#define NVME_IOCTL_LEASE_REVOKE	_IOW('N', 0x51, __u32)

#endif /* _UAPI_LINUX_NVME_LEASE_H */
