// SPDX-License-Identifier: GPL-2.0
/*
 * An in-kernel holder of an NVMe queue lease whose commands a device's DMA
 * engine moves, for the selftest nvme_lease (FIXTURE edu).
 *
 * QEMU's "edu" test device (PCI 1234:11e8) copies between its 4 KiB buffer
 * and any bus address, one transfer at a time, each some 100 ms after its
 * start.  This module leases an I/O queue pair of an NVMe controller with
 * the edu as the holder (nvme_lease_get()) and lets the edu do the work:
 * the CPU fills the data slot of a write and prepares the 64-byte command
 * and the new doorbell values in host memory; the edu fetches them, writes
 * the command into the submission queue, rings the tail doorbell, reads the
 * completion queue entry back until its phase tag turns, and rings the head
 * doorbell.  /dev/edu_lease (test_edu_lease_uapi.h) hands this to user
 * space, one command per ioctl.
 *
 * Revocation: the revoke callback sets a flag under a spinlock that the
 * I/O path holds while it checks the flag and starts a transfer, then waits
 * for the edu to go idle.  A transfer started before the flag was set is
 * thus over when the callback returns, and none starts after it.  The data
 * slots are copied under the same lock: the lease's memory goes back once
 * the callback has returned.
 *
 * Stock kernels have no <linux/nvme-lease.h>: there the module still binds
 * the edu and offers /dev/edu_lease, whose lease commands fail with ENOTTY.
 */
#include <linux/atomic.h>
#include <linux/bitops.h>
#include <linux/delay.h>
#include <linux/dma-mapping.h>
#include <linux/io.h>
#include <linux/jiffies.h>
#include <linux/kref.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/nvme.h>
#include <linux/pci.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include <linux/wait.h>

/* sparse lacks __has_include: it checks the stock variant */
#ifdef __has_include
#if __has_include("linux/nvme-lease.h")
#include <linux/nvme-lease.h>
#define EDU_HAVE_LEASES		1
#endif
#endif
#ifndef EDU_HAVE_LEASES
#define EDU_HAVE_LEASES		0
#endif

#include "test_edu_lease_uapi.h"

/* The DMA engine's registers in BAR0; source and destination are 64-bit. */
#define EDU_REG_DMA_SRC		0x80
#define EDU_REG_DMA_DST		0x88
#define EDU_REG_DMA_COUNT	0x90
#define EDU_REG_DMA_CMD		0x98
#define EDU_CMD_RUN		BIT(0)	/* write: start; read: still running */
#define EDU_CMD_TO_BUS		BIT(1)	/* buffer -> bus address */

/* The edu's buffer, at these addresses of the device's own. */
#define EDU_BUF_BASE		0x40000
#define EDU_BUF_SIZE		4096

#define EDU_XFER_TIMEOUT_MS	2000
#define EDU_CQ_TIMEOUT_MS	10000
#define EDU_REVOKE_WAIT_MS	5000

/*
 * The command block, laid out alike in host memory and in the edu's
 * buffer: the CPU fills the command and both doorbell values, the edu
 * fetches them in one transfer, and each completion entry it reads comes
 * back to the host through @cqe.
 */
struct edu_mbox {
	struct nvme_command sqe;
	__le32 sq_tail;
	__le32 cq_head;
	u8 rsvd[56];
	struct nvme_completion cqe;
};

#define EDU_MBOX_OFF(field)	offsetof(struct edu_mbox, field)
static_assert(sizeof(struct edu_mbox) < EDU_BUF_SIZE);

/**
 * struct edu_holder - a bound edu and the lease it holds
 * @pdev: the edu
 * @regs: its BAR0
 * @misc: /dev/edu_lease
 * @ref: one for the binding, one for the open file
 * @lock: serialises the file's commands and the unbinding; guards the
 *	fields from @gone to @broken
 * @gone: the edu was unbound: its registers are no more
 * @busy: the file is open
 * @mbox: host copy of the command block
 * @mbox_dma: its address for the edu
 * @bounce: one chunk of user data
 * @lease: the lease, or NULL
 * @info: its addresses
 * @sq_tail: next submission queue entry, also command id and data slot
 * @cq_head: next completion queue entry
 * @phase: phase tag of a new completion
 * @broken: a command went missing: the queue state is unknown
 * @revoke_lock: guards @revoked, @revoke_calls and @in_revoke, and is held
 *	while a transfer starts or a data slot is copied
 * @revoked: the lease was revoked: no transfer, no touching its memory
 * @revoke_calls: revoke callbacks for the current lease
 * @in_revoke: a revoke callback is running
 * @revoke_wq: woken when it has returned
 * @dmas: transfers started since the edu was bound
 */
struct edu_holder {
	struct pci_dev *pdev;
	void __iomem *regs;
	struct miscdevice misc;
	struct kref ref;
	struct mutex lock;		/* commands vs. unbind */
	bool gone;
	bool busy;
	struct edu_mbox *mbox;
	dma_addr_t mbox_dma;
	void *bounce;
	struct nvme_lease *lease;
	const struct nvme_lease_info *info;
	u32 sq_tail;
	u32 cq_head;
	u16 phase;
	bool broken;
	spinlock_t revoke_lock;		/* vs. the revoke callback */
	bool revoked;
	u32 revoke_calls;
	bool in_revoke;
	wait_queue_head_t revoke_wq;
	atomic64_t dmas;
};

/* One edu serves /dev/edu_lease; a second stays unbound. */
static unsigned long edu_claimed;

/*
 * The DMA mask a lease is taken with, in bits: the selftest narrows it to
 * see a lease refused whose addresses the edu could not reach.
 */
static unsigned int edu_dma_bits = 64;
module_param_named(dma_bits, edu_dma_bits, uint, 0644);
MODULE_PARM_DESC(dma_bits, "DMA mask of the edu when it takes a lease (24-64)");

#if EDU_HAVE_LEASES

/* Wait until the edu has no transfer running: 0 or -ETIMEDOUT. */
static int edu_wait_idle(struct edu_holder *e)
{
	unsigned long end = jiffies + msecs_to_jiffies(EDU_XFER_TIMEOUT_MS);

	while (readl(e->regs + EDU_REG_DMA_CMD) & EDU_CMD_RUN) {
		if (time_after(jiffies, end))
			return -ETIMEDOUT;
		usleep_range(5000, 10000);
	}
	return 0;
}

/**
 * edu_xfer() - one DMA transfer of the edu, waited for
 * @e: the edu
 * @bus: the bus address of the other side
 * @off: offset in the edu's buffer
 * @len: bytes
 * @to_bus: from the buffer to @bus (else from @bus into the buffer)
 *
 * QEMU stops the whole machine on a buffer range outside the device's;
 * before QEMU's fix of its bounds check (stable 7.2.x) a range that ends
 * at the buffer's last byte counted as outside too: stop one byte short.
 *
 * Return: 0, -EINVAL for a bad range, -ENODEV once the lease is revoked,
 * -ETIMEDOUT when the edu does not finish.
 */
static int edu_xfer(struct edu_holder *e, dma_addr_t bus, u32 off, u32 len,
		    bool to_bus)
{
	u64 local = EDU_BUF_BASE + off;
	int ret;

	if (!len || off >= EDU_BUF_SIZE || len >= EDU_BUF_SIZE - off)
		return -EINVAL;
	ret = edu_wait_idle(e);
	if (ret)
		return ret;
	writeq(to_bus ? local : bus, e->regs + EDU_REG_DMA_SRC);
	writeq(to_bus ? bus : local, e->regs + EDU_REG_DMA_DST);
	writel(len, e->regs + EDU_REG_DMA_COUNT);
	/* The callback's read of the command register follows this write. */
	spin_lock(&e->revoke_lock);
	ret = e->revoked ? -ENODEV : 0;
	if (!ret)
		writel(EDU_CMD_RUN | (to_bus ? EDU_CMD_TO_BUS : 0),
		       e->regs + EDU_REG_DMA_CMD);
	spin_unlock(&e->revoke_lock);
	if (ret)
		return ret;
	atomic64_inc(&e->dmas);
	return edu_wait_idle(e);
}

static int edu_into_buf(struct edu_holder *e, dma_addr_t src, u32 off,
			u32 len)
{
	return edu_xfer(e, src, off, len, false);
}

static int edu_from_buf(struct edu_holder *e, u32 off, dma_addr_t dst,
			u32 len)
{
	return edu_xfer(e, dst, off, len, true);
}

/*
 * Copy between the bounce buffer and data slot @slot, unless the lease was
 * revoked: its memory may be gone.
 */
static int edu_slot_copy(struct edu_holder *e, u32 slot, size_t len,
			 bool to_slot)
{
	void *data = e->info->data + (size_t)slot * EDU_LEASE_CHUNK;
	int ret = -ENODEV;

	spin_lock(&e->revoke_lock);
	if (!e->revoked) {
		if (to_slot)
			memcpy(data, e->bounce, len);
		else
			memcpy(e->bounce, data, len);
		ret = 0;
	}
	spin_unlock(&e->revoke_lock);
	return ret;
}

/* The command for slot @slot and the doorbell values after it. */
static void edu_build(struct edu_holder *e, const struct edu_lease_io *io,
		      u32 slot)
{
	const struct nvme_lease_info *info = e->info;
	struct edu_mbox *m = e->mbox;

	memset(m, 0, sizeof(*m));
	m->sqe.rw.opcode = io->write ? nvme_cmd_write : nvme_cmd_read;
	m->sqe.rw.command_id = slot;
	m->sqe.rw.nsid = cpu_to_le32(info->nsid);
	m->sqe.rw.dptr.prp1 = cpu_to_le64(info->data_ctrl_addr +
					  (u64)slot * EDU_LEASE_CHUNK);
	m->sqe.rw.slba = cpu_to_le64(io->slba);
	m->sqe.rw.length = cpu_to_le16(io->nblocks - 1);
	m->sq_tail = cpu_to_le32((slot + 1) % info->depth);
	m->cq_head = cpu_to_le32((e->cq_head + 1) % info->depth);
}

/* The command block into the edu, the command into the SQ, ring it. */
static int edu_submit(struct edu_holder *e, u32 slot)
{
	const struct nvme_lease_info *info = e->info;
	u32 sqe = sizeof(struct nvme_command);
	int ret;

	ret = edu_into_buf(e, e->mbox_dma, 0, EDU_MBOX_OFF(rsvd));
	if (!ret)
		ret = edu_from_buf(e, EDU_MBOX_OFF(sqe),
				   info->sq_addr + (u64)slot * sqe, sqe);
	if (!ret)
		ret = edu_from_buf(e, EDU_MBOX_OFF(sq_tail), info->sq_db_addr,
				   sizeof(__le32));
	if (!ret)
		e->sq_tail = (slot + 1) % info->depth;
	return ret;
}

/*
 * Fetch the completion entry at the head through the edu until its phase
 * tag is the current one, then ring the head doorbell.  0, -EIO with the
 * NVMe status in @status, or -errno.
 */
static int edu_reap(struct edu_holder *e, u32 slot, u16 *status)
{
	const struct nvme_lease_info *info = e->info;
	unsigned long end = jiffies + msecs_to_jiffies(EDU_CQ_TIMEOUT_MS);
	u32 len = sizeof(struct nvme_completion);
	dma_addr_t entry = info->cq_addr + (u64)e->cq_head * len;
	struct nvme_completion cqe;
	int ret;

	for (;;) {
		ret = edu_into_buf(e, entry, EDU_MBOX_OFF(cqe), len);
		if (!ret)
			ret = edu_from_buf(e, EDU_MBOX_OFF(cqe),
					   e->mbox_dma + EDU_MBOX_OFF(cqe), len);
		if (ret)
			return ret;
		cqe = e->mbox->cqe;
		if ((le16_to_cpu(cqe.status) & 1) == e->phase)
			break;
		if (time_after(jiffies, end))
			return -ETIMEDOUT;
	}
	if (++e->cq_head == info->depth) {
		e->cq_head = 0;
		e->phase ^= 1;
	}
	ret = edu_from_buf(e, EDU_MBOX_OFF(cq_head), info->cq_db_addr,
			   sizeof(__le32));
	if (ret)
		return ret;
	if (le16_to_cpu(cqe.sq_id) != info->qid || cqe.command_id != slot)
		return -EPROTO;
	*status = le16_to_cpu(cqe.status) >> 1;
	return *status ? -EIO : 0;
}

/* Bytes of @io's data, or -errno. */
static long edu_io_len(struct edu_holder *e, const struct edu_lease_io *io)
{
	unsigned int shift = e->info->lba_shift;

	if (io->write > 1 || memchr_inv(io->rsvd, 0, sizeof(io->rsvd)))
		return -EINVAL;
	if (!io->nblocks || io->nblocks > (EDU_LEASE_CHUNK >> shift))
		return -EINVAL;
	return (long)io->nblocks << shift;
}

/* One command of @io, the edu moving it; e->lock held. */
static int edu_do_io(struct edu_holder *e, const struct edu_lease_io *io,
		     u16 *status)
{
	void __user *buf = u64_to_user_ptr(io->buf);
	u32 slot = e->sq_tail;
	long len;
	int ret;

	if (!e->lease)
		return -ENOENT;
	if (e->broken)
		return -EIO;
	len = edu_io_len(e, io);
	if (len < 0)
		return len;
	if (io->write && copy_from_user(e->bounce, buf, len))
		return -EFAULT;
	if (io->write) {
		ret = edu_slot_copy(e, slot, len, true);
		if (ret)
			return ret;
	}
	edu_build(e, io, slot);
	ret = edu_submit(e, slot);
	if (!ret)
		ret = edu_reap(e, slot, status);
	if (ret && ret != -EIO && ret != -ENODEV)
		e->broken = true;
	if (ret || io->write)
		return ret;
	ret = edu_slot_copy(e, slot, len, false);
	if (!ret && copy_to_user(buf, e->bounce, len))
		ret = -EFAULT;
	return ret;
}

static long edu_io(struct edu_holder *e, struct edu_lease_io __user *uarg)
{
	struct edu_lease_io io;
	u16 status = 0;
	int ret;

	if (copy_from_user(&io, uarg, sizeof(io)))
		return -EFAULT;
	ret = edu_do_io(e, &io, &status);
	if (put_user(status, &uarg->status))
		return -EFAULT;
	return ret;
}

/* Called once by the lease core; must leave the edu idle. */
static void edu_revoke(struct nvme_lease *lease, void *priv)
{
	struct edu_holder *e = priv;

	spin_lock(&e->revoke_lock);
	e->revoked = true;
	e->revoke_calls++;
	e->in_revoke = true;
	spin_unlock(&e->revoke_lock);
	/* A transfer started before the flag was set is the last one. */
	if (edu_wait_idle(e))
		pci_warn(e->pdev, "DMA still running at revocation\n");
	spin_lock(&e->revoke_lock);
	e->in_revoke = false;
	spin_unlock(&e->revoke_lock);
	wake_up_all(&e->revoke_wq);
}

static bool edu_revoke_over(struct edu_holder *e)
{
	bool over;

	spin_lock(&e->revoke_lock);
	over = e->revoke_calls && !e->in_revoke;
	spin_unlock(&e->revoke_lock);
	return over;
}

/*
 * End the lease; e->lock held.  When another task began the revocation,
 * nvme_lease_put() may return before that task's call of the callback has:
 * wait for it, since the callback uses the edu's registers.
 */
static void edu_drop(struct edu_holder *e)
{
	if (!e->lease)
		return;
	nvme_lease_put(e->lease);
	if (!wait_event_timeout(e->revoke_wq, edu_revoke_over(e),
				msecs_to_jiffies(EDU_REVOKE_WAIT_MS)))
		pci_warn(e->pdev, "lease put, revoke callback not over\n");
	e->lease = NULL;
	e->info = NULL;
}

/* The PCI function named "dddd:bb:dd.f", with a reference. */
static struct pci_dev *edu_find_pci(const char *name)
{
	unsigned int domain, bus, slot, fn;
	struct pci_dev *pdev;
	char end;

	if (sscanf(name, "%x:%x:%x.%x%c", &domain, &bus, &slot, &fn,
		   &end) != 4 || bus > 0xff || slot > 0x1f || fn > 7)
		return ERR_PTR(-EINVAL);
	pdev = pci_get_domain_bus_and_slot(domain, bus, PCI_DEVFN(slot, fn));
	return pdev ?: ERR_PTR(-ENODEV);
}

static void edu_lease_start(struct edu_holder *e)
{
	spin_lock(&e->revoke_lock);
	e->revoked = false;
	e->revoke_calls = 0;
	spin_unlock(&e->revoke_lock);
	e->sq_tail = 0;
	e->cq_head = 0;
	e->phase = 1;
	e->broken = false;
}

static void edu_take_report(struct edu_holder *e, struct edu_lease_take *t)
{
	const struct nvme_lease_info *info = e->info;

	t->qid = info->qid;
	t->lba_shift = info->lba_shift;
	t->sq_addr = info->sq_addr;
	t->cq_addr = info->cq_addr;
	t->sq_db_addr = info->sq_db_addr;
	t->cq_db_addr = info->cq_db_addr;
	t->data_addr = info->data_addr;
}

static long edu_take(struct edu_holder *e, struct edu_lease_take __user *uarg)
{
	struct nvme_lease_request req = { };
	struct edu_lease_take t;
	struct nvme_lease *lease;
	struct pci_dev *ctrl;
	int ret;

	if (copy_from_user(&t, uarg, sizeof(t)))
		return -EFAULT;
	if (t.rsvd || !memchr(t.nvme, '\0', sizeof(t.nvme)))
		return -EINVAL;
	if (e->lease)
		return -EBUSY;
	ctrl = edu_find_pci(t.nvme);
	if (IS_ERR(ctrl))
		return PTR_ERR(ctrl);
	ret = dma_set_mask_and_coherent(&e->pdev->dev,
					DMA_BIT_MASK(clamp(edu_dma_bits, 24U, 64U)));
	if (ret) {
		pci_dev_put(ctrl);
		return ret;
	}
	edu_lease_start(e);
	req.nsid = t.nsid;
	req.depth = t.depth;
	req.data_size = (size_t)t.depth * EDU_LEASE_CHUNK;
	req.holder = &e->pdev->dev;
	req.revoke = edu_revoke;
	req.priv = e;
	lease = nvme_lease_get(ctrl, &req);
	pci_dev_put(ctrl);
	if (IS_ERR(lease))
		return PTR_ERR(lease);
	e->lease = lease;
	e->info = nvme_lease_info(lease);
	edu_take_report(e, &t);
	if (copy_to_user(uarg, &t, sizeof(t))) {
		edu_drop(e);
		return -EFAULT;
	}
	return 0;
}

/* TAKE, IO and DROP; e->lock held. */
static long edu_lease_ioctl(struct edu_holder *e, unsigned int cmd,
			    void __user *argp)
{
	switch (cmd) {
	case EDU_LEASE_TAKE:
		return edu_take(e, argp);
	case EDU_LEASE_IO:
		return edu_io(e, argp);
	case EDU_LEASE_DROP:
		if (!e->lease)
			return -ENOENT;
		edu_drop(e);
		return 0;
	default:
		return -ENOTTY;
	}
}

#else /* !EDU_HAVE_LEASES */

static long edu_lease_ioctl(struct edu_holder *e, unsigned int cmd,
			    void __user *argp)
{
	return -ENOTTY;
}

static void edu_drop(struct edu_holder *e)
{
}

#endif /* EDU_HAVE_LEASES */

static long edu_stats(struct edu_holder *e, void __user *argp)
{
	struct edu_lease_stats s = { .edu_dmas = atomic64_read(&e->dmas) };

	spin_lock(&e->revoke_lock);
	s.revoked = e->revoked;
	s.revoke_calls = e->revoke_calls;
	spin_unlock(&e->revoke_lock);
	return copy_to_user(argp, &s, sizeof(s)) ? -EFAULT : 0;
}

static long edu_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct edu_holder *e = file->private_data;
	void __user *argp = (void __user *)arg;
	long ret;

	/* Without the lock: it reports while a command is in progress. */
	if (cmd == EDU_LEASE_STATS)
		return edu_stats(e, argp);
	mutex_lock(&e->lock);
	ret = e->gone ? -ENODEV : edu_lease_ioctl(e, cmd, argp);
	mutex_unlock(&e->lock);
	return ret;
}

static void edu_free(struct kref *ref)
{
	struct edu_holder *e = container_of(ref, struct edu_holder, ref);

	kfree(e->bounce);
	kfree(e);
}

/* misc_open() holds misc_mtx, which misc_deregister() takes too. */
static int edu_open(struct inode *inode, struct file *file)
{
	struct edu_holder *e = container_of(file->private_data,
					    struct edu_holder, misc);
	int ret = 0;

	mutex_lock(&e->lock);
	if (e->busy)
		ret = -EBUSY;
	else
		e->busy = true;
	mutex_unlock(&e->lock);
	if (ret)
		return ret;
	kref_get(&e->ref);
	file->private_data = e;
	return stream_open(inode, file);
}

static int edu_release(struct inode *inode, struct file *file)
{
	struct edu_holder *e = file->private_data;

	mutex_lock(&e->lock);
	edu_drop(e);
	e->busy = false;
	mutex_unlock(&e->lock);
	kref_put(&e->ref, edu_free);
	return 0;
}

static const struct file_operations edu_fops = {
	.owner		= THIS_MODULE,
	.open		= edu_open,
	.release	= edu_release,
	.unlocked_ioctl	= edu_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
};

static struct edu_holder *edu_alloc(struct pci_dev *pdev)
{
	struct edu_holder *e = kzalloc(sizeof(*e), GFP_KERNEL);

	if (!e)
		return NULL;
	e->bounce = kmalloc(EDU_LEASE_CHUNK, GFP_KERNEL);
	if (!e->bounce) {
		kfree(e);
		return NULL;
	}
	e->pdev = pdev;
	kref_init(&e->ref);
	mutex_init(&e->lock);
	spin_lock_init(&e->revoke_lock);
	init_waitqueue_head(&e->revoke_wq);
	e->misc.minor = MISC_DYNAMIC_MINOR;
	e->misc.name = "edu_lease";
	e->misc.fops = &edu_fops;
	e->misc.mode = 0600;
	e->misc.parent = &pdev->dev;
	return e;
}

/* BAR0, 64-bit DMA (QEMU's dma_mask property must allow it), bus master. */
static int edu_enable(struct pci_dev *pdev, void __iomem **regs)
{
	int ret = pcim_enable_device(pdev);

	if (ret)
		return ret;
	ret = dma_set_mask_and_coherent(&pdev->dev, DMA_BIT_MASK(64));
	if (ret)
		return ret;
	*regs = pcim_iomap_region(pdev, 0, KBUILD_MODNAME);
	if (IS_ERR(*regs))
		return PTR_ERR(*regs);
	pci_set_master(pdev);
	return 0;
}

static int edu_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	struct edu_holder *e;
	int ret;

	if (test_and_set_bit(0, &edu_claimed)) {
		pci_info(pdev, "another edu serves /dev/edu_lease\n");
		return -EBUSY;
	}
	ret = -ENOMEM;
	e = edu_alloc(pdev);
	if (!e)
		goto unclaim;
	ret = edu_enable(pdev, &e->regs);
	if (ret)
		goto free;
	ret = -ENOMEM;
	e->mbox = dmam_alloc_coherent(&pdev->dev, sizeof(*e->mbox),
				      &e->mbox_dma, GFP_KERNEL);
	if (!e->mbox)
		goto free;
	ret = misc_register(&e->misc);
	if (ret)
		goto free;
	pci_set_drvdata(pdev, e);
	pci_info(pdev, "DMA engine on /dev/%s%s\n", e->misc.name,
		 EDU_HAVE_LEASES ? "" : ", no NVMe queue leases in this kernel");
	return 0;
free:
	kref_put(&e->ref, edu_free);
unclaim:
	clear_bit(0, &edu_claimed);
	return ret;
}

/* The lease goes first: its revoke callback reads the registers. */
static void edu_remove(struct pci_dev *pdev)
{
	struct edu_holder *e = pci_get_drvdata(pdev);

	misc_deregister(&e->misc);
	mutex_lock(&e->lock);
	edu_drop(e);
	e->gone = true;
	mutex_unlock(&e->lock);
	kref_put(&e->ref, edu_free);
	clear_bit(0, &edu_claimed);
}

static const struct pci_device_id edu_ids[] = {
	{ PCI_DEVICE(0x1234, 0x11e8) },	/* QEMU's edu */
	{ }
};
MODULE_DEVICE_TABLE(pci, edu_ids);

static struct pci_driver edu_driver = {
	.name		= KBUILD_MODNAME,
	.id_table	= edu_ids,
	.probe		= edu_probe,
	.remove		= edu_remove,
};
module_pci_driver(edu_driver);

MODULE_DESCRIPTION("NVMe queue lease held by QEMU's edu DMA engine, for the P2PDMA selftests");
MODULE_LICENSE("GPL");
