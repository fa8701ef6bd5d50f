/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * Private ioctl interface of test_edu_lease.ko, an in-kernel holder of an
 * NVMe queue lease (<linux/nvme-lease.h>) whose commands are moved by the
 * DMA engine of QEMU's "edu" test device (PCI 1234:11e8), never by the CPU:
 * the edu writes each command into the leased submission queue, rings the
 * doorbells and fetches the completion.  One open file at a time, one
 * lease per file, one command at a time.  Not a stable ABI: the module and
 * the selftest (tools/testing/selftests/p2pdma/nvme_lease.c) are built from
 * the same tree.
 */
#ifndef _TEST_EDU_LEASE_UAPI_H
#define _TEST_EDU_LEASE_UAPI_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define EDU_LEASE_DEVICE	"/dev/edu_lease"
#define EDU_LEASE_CHUNK		4096	/* data slot per queue entry */

/**
 * struct edu_lease_take - argument of EDU_LEASE_TAKE
 * @nvme:	in: PCI address of the NVMe controller, "0000:03:00.0"
 * @nsid:	in: the namespace the commands address
 * @depth:	in: entries of each queue (a data slot of EDU_LEASE_CHUNK
 *		bytes per entry)
 * @qid:	out: the queue id of the lease
 * @rsvd:	reserved, 0
 * @lba_shift:	out: log2 of the namespace's logical block size
 * @sq_addr:	out: the submission queue as the edu addresses it
 * @cq_addr:	out: the completion queue as the edu addresses it
 * @sq_db_addr:	out: the submission queue tail doorbell, for the edu
 * @cq_db_addr:	out: the completion queue head doorbell, for the edu
 * @data_addr:	out: the data buffer as the edu addresses it
 */
struct edu_lease_take {
	char	nvme[16];
	__u32	nsid;
	__u32	depth;
	__u16	qid;
	__u16	rsvd;
	__u32	lba_shift;
	__u64	sq_addr;
	__u64	cq_addr;
	__u64	sq_db_addr;
	__u64	cq_db_addr;
	__u64	data_addr;
};

/**
 * struct edu_lease_io - argument of EDU_LEASE_IO
 * @write:	in: 1 for an NVM write, 0 for a read
 * @nblocks:	in: logical blocks, at most EDU_LEASE_CHUNK bytes of them
 * @slba:	in: the first logical block
 * @buf:	in: user address of the data, @nblocks blocks
 * @status:	out: NVMe status of the completion (status field >> 1),
 *		non-zero when the ioctl fails with EIO
 * @rsvd:	reserved, 0
 */
struct edu_lease_io {
	__u32	write;
	__u32	nblocks;
	__u64	slba;
	__u64	buf;
	__u16	status;
	__u16	rsvd[3];
};

/**
 * struct edu_lease_stats - result of EDU_LEASE_STATS
 * @edu_dmas:	transfers the edu was started on since the module bound it
 * @revoked:	1 once the current (or last) lease was revoked
 * @revoke_calls: calls of the revoke callback for that lease
 */
struct edu_lease_stats {
	__u64	edu_dmas;
	__u32	revoked;
	__u32	revoke_calls;
};

/*
 * TAKE: nvme_lease_get() for the edu; EBUSY while the file holds a lease,
 * the lease API's errors as they come, ENOTTY on a kernel without in-kernel
 * leases.  IO: one command; 0, EIO (NVMe status in @status), ETIMEDOUT,
 * ENODEV once the lease was revoked, ENOENT without a lease.  DROP:
 * nvme_lease_put() (also done on close and when the edu unbinds).
 */
#define EDU_LEASE_TAKE		_IOWR('E', 0xe0, struct edu_lease_take)
#define EDU_LEASE_IO		_IOWR('E', 0xe1, struct edu_lease_io)
#define EDU_LEASE_STATS		_IOR('E', 0xe2, struct edu_lease_stats)
#define EDU_LEASE_DROP		_IO('E', 0xe3)

#endif /* _TEST_EDU_LEASE_UAPI_H */
