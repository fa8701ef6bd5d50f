// SPDX-License-Identifier: GPL-2.0
/*
 * NVMe queue leases.
 *
 * A controller reset can keep a few I/O queue pairs out of the block
 * layer's use (module parameter lease_queues).  A lease gives one of them
 * to a holder that submits and completes commands by itself: the
 * submission queue, the completion queue and a data buffer are PCI
 * peer-to-peer memory (or host memory for the completion queue when no
 * provider can hold it), and the holder rings the queue's doorbells.  The
 * kernel creates and deletes the queues, and takes them back whenever it
 * needs the controller: on a reset, on removal, on request.
 *
 * Locking:
 *  - lc->lock guards the list of leases, the queue ids in use and the
 *    controller's state; it is never held across an admin command, so
 *    that nvme_lease_ctrl_down(), called by nvme_dev_disable() while admin
 *    commands may be waiting for it, can always take it.
 *  - lc->admin_sem is held for reading around admin commands and for
 *    writing when the controller goes away, which keeps the admin queue
 *    alive while a lease uses it.
 *  - A lease whose admin commands are under way (lease->admin) belongs to
 *    the task issuing them: nvme_lease_ctrl_down() fences it but leaves its
 *    queue id and memory alone, because a command still queued runs once
 *    the controller is enabled again.  That task deletes what it may have
 *    created and frees the lease when its commands are back.
 *  - A lease to end because a device or a namespace goes is taken off to
 *    a private list once (lease->doomed, under lc->lock).
 *  - A lease whose queues could not be deleted (a zombie: revoked, still
 *    on lc->leases) keeps its queue id and memory until the controller is
 *    disabled, which only that stops from using them: the kernel resets the
 *    controller for it, and nvme_lease_ctrl_down() retires it.
 *  - lease->lock guards lease->revoked against the page fault handler,
 *    which inserts the pages of a mapping on demand: once revoked is set
 *    and the file's mappings are zapped, no access reaches the memory or
 *    the doorbells again.  It also guards lease->mapping, which goes with
 *    the lease file while the lease may outlive it.
 *  - nvme_lease_gone_lock serialises the ends of leases whose device goes,
 *    and with them the use of lease->wait_node.
 */
#include <linux/anon_inodes.h>
#include <linux/blk-mq.h>
#include <linux/dma-mapping.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/io.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/nvme.h>
#include <linux/nvme-lease.h>
#include <linux/nvme_lease.h>
#include <linux/pci.h>
#include <linux/pci-p2pdma.h>
#include <linux/poll.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "nvme.h"
#include "pci-lease.h"

MODULE_IMPORT_NS(NVME_TARGET_PASSTHRU);

#define NVME_LEASE_MAX_QUEUES	16
#define NVME_LEASE_MAX_DEPTH	65536
#define NVME_LEASE_MAX_DATA	SZ_256M

static unsigned int lease_queues;

static int lease_queues_set(const char *val, const struct kernel_param *kp)
{
	return param_set_uint_minmax(val, kp, 0, NVME_LEASE_MAX_QUEUES);
}

static const struct kernel_param_ops lease_queues_ops = {
	.set = lease_queues_set,
	.get = param_get_uint,
};
module_param_cb(lease_queues, &lease_queues_ops, &lease_queues, 0644);
MODULE_PARM_DESC(lease_queues,
		 "I/O queue pairs each controller keeps for leases (0-16, taken at controller reset)");

struct nvme_lease_ctrl {
	struct list_head node;		/* on nvme_lease_ctrls */
	struct kref ref;
	struct mutex lock;		/* see "Locking" above */
	struct mutex fence_lock;	/* serialises nvme_lease_ctrl_fence() */
	struct rw_semaphore admin_sem;
	struct nvme_ctrl *ctrl;		/* NULL once the controller is gone */
	struct pci_dev *pdev;
	struct list_head leases;
	struct nvme_lease_geometry geo;
	unsigned long busy;		/* bit n: queue geo.first_qid + n */
	unsigned int gen;		/* bumped each time the controller goes down */
	bool up;
};

/* Every controller's leases, for nvme_lease_get(). */
static LIST_HEAD(nvme_lease_ctrls);
static DEFINE_MUTEX(nvme_lease_ctrls_lock);
static DEFINE_MUTEX(nvme_lease_gone_lock);

/* A piece of lease memory and where the controller and the holder see it. */
struct nvme_lease_mem {
	struct pci_dev *provider;	/* NULL: host memory */
	void *vaddr;
	struct page *page;		/* host memory only */
	size_t size;
	struct scatterlist sg;		/* mapped for the controller */
	struct scatterlist hsg;		/* mapped for the holder device */
	bool mapped;
	bool hmapped;
};

struct nvme_lease {
	struct kref ref;
	struct nvme_lease_ctrl *lc;
	struct list_head node;		/* on lc->leases while it holds a qid */
	struct list_head gone;		/* on a list of nvme_lease_doom() */
	struct list_head wait_node;	/* on nvme_lease_device_gone()'s list */
	struct list_head fence_node;	/* on nvme_lease_ctrl_fence()'s list */
	struct mutex lock;		/* guards revoked and mapping */
	bool revoked;
	bool doomed;			/* on such a list; under lc->lock */
	bool queues;			/* the queues may exist on the controller */
	bool admin;			/* admin commands of this lease under way */
	bool creating;			/* nvme_lease_create() not done; lc->lock */
	bool retired;			/* queue id and memory given back */
	unsigned int gen;
	u16 qid;
	u32 depth;
	u32 nsid;
	struct nvme_lease_mem sq, cq, data;
	phys_addr_t db_phys;		/* page of the doorbells */
	struct device *holder;		/* the holder's device, or NULL */
	int db_map;			/* pci_p2pdma_map_resource() of the doorbells */
	dma_addr_t db_addr;
	void (*revoke)(struct nvme_lease *lease, void *priv);
	void *priv;
	bool revoke_called;
	bool revoke_done;
	struct nvme_lease_info info;
	struct nvme_lease_args args;
	struct address_space *mapping;	/* the file's, NULL once it is released */
	wait_queue_head_t wait;
};

unsigned int nvme_lease_queues_wanted(void)
{
	return READ_ONCE(lease_queues);
}

static void nvme_lease_ctrl_release(struct kref *ref)
{
	struct nvme_lease_ctrl *lc = container_of(ref, struct nvme_lease_ctrl, ref);

	pci_dev_put(lc->pdev);
	kfree(lc);
}

/*
 * The leases of the controller @pdev or @ctrl (the other one NULL), with a
 * reference, or NULL once that controller has gone from nvme-pci.
 */
static struct nvme_lease_ctrl *nvme_lease_ctrl_get(struct pci_dev *pdev,
						   struct nvme_ctrl *ctrl)
{
	struct nvme_lease_ctrl *lc, *found = NULL;

	mutex_lock(&nvme_lease_ctrls_lock);
	list_for_each_entry(lc, &nvme_lease_ctrls, node) {
		if ((pdev && lc->pdev == pdev) || (ctrl && lc->ctrl == ctrl)) {
			found = lc;
			kref_get(&found->ref);
			break;
		}
	}
	mutex_unlock(&nvme_lease_ctrls_lock);
	return found;
}

struct nvme_lease_ctrl *nvme_lease_ctrl_alloc(struct nvme_ctrl *ctrl,
					      struct pci_dev *pdev)
{
	struct nvme_lease_ctrl *lc = kzalloc(sizeof(*lc), GFP_KERNEL);

	if (!lc)
		return NULL;
	kref_init(&lc->ref);
	mutex_init(&lc->lock);
	mutex_init(&lc->fence_lock);
	init_rwsem(&lc->admin_sem);
	INIT_LIST_HEAD(&lc->leases);
	lc->ctrl = ctrl;
	lc->pdev = pci_dev_get(pdev);
	mutex_lock(&nvme_lease_ctrls_lock);
	list_add_tail(&lc->node, &nvme_lease_ctrls);
	mutex_unlock(&nvme_lease_ctrls_lock);
	return lc;
}

static void nvme_lease_mem_free(struct nvme_lease *l, struct nvme_lease_mem *m)
{
	struct nvme_lease_ctrl *lc = l->lc;

	if (m->hmapped)
		dma_unmap_sg_attrs(l->holder, &m->hsg, 1, DMA_BIDIRECTIONAL,
				   DMA_ATTR_SKIP_CPU_SYNC);
	m->hmapped = false;
	if (m->mapped)
		dma_unmap_sg(&lc->pdev->dev, &m->sg, 1, DMA_BIDIRECTIONAL);
	m->mapped = false;
	if (m->provider) {
		pci_free_p2pmem(m->provider, m->vaddr, m->size);
		pci_dev_put(m->provider);
	} else if (m->page) {
		__free_pages(m->page, get_order(m->size));
	}
	m->provider = NULL;
	m->page = NULL;
	m->vaddr = NULL;
}

/*
 * Memory for a queue or the data buffer: p2pmem of @provider (dropping the
 * reference the caller took) or, when @provider is NULL and @host is set,
 * host pages; mapped for the controller.
 */
static int nvme_lease_mem_alloc(struct nvme_lease *l, struct nvme_lease_mem *m,
				struct pci_dev *provider, bool host,
				size_t size)
{
	struct nvme_lease_ctrl *lc = l->lc;

	m->size = PAGE_ALIGN(size);
	if (provider) {
		m->vaddr = pci_alloc_p2pmem(provider, m->size);
		if (!m->vaddr) {
			pci_dev_put(provider);
			return -ENOMEM;
		}
		m->provider = provider;
	} else if (host) {
		m->page = alloc_pages(GFP_KERNEL | __GFP_ZERO,
				      get_order(m->size));
		if (!m->page)
			return -ENOMEM;
		m->vaddr = page_address(m->page);
	} else {
		return -EREMOTEIO;
	}
	memset(m->vaddr, 0, m->size);
	sg_init_one(&m->sg, m->vaddr, m->size);
	if (dma_map_sg(&lc->pdev->dev, &m->sg, 1, DMA_BIDIRECTIONAL) != 1) {
		nvme_lease_mem_free(l, m);
		return -EREMOTEIO;
	}
	m->mapped = true;
	if (!l->holder)
		return 0;
	/*
	 * The same memory as the holder's device reaches it: a second view of
	 * memory the controller's mapping already covers, and whose CPU
	 * syncs that mapping does, hence no syncs (nor an overlap report from
	 * DMA debugging) here.
	 */
	sg_init_one(&m->hsg, m->vaddr, m->size);
	if (dma_map_sg_attrs(l->holder, &m->hsg, 1, DMA_BIDIRECTIONAL,
			     DMA_ATTR_SKIP_CPU_SYNC) != 1) {
		nvme_lease_mem_free(l, m);
		return -EREMOTEIO;
	}
	m->hmapped = true;
	/* A P2P bus address is not checked against the mask by the DMA API. */
	if (sg_dma_address(&m->hsg) + m->size - 1 >
	    min_not_zero(dma_get_mask(l->holder), l->holder->bus_dma_limit)) {
		dev_warn(l->holder,
			 "queue lease memory at %pad is beyond this device's DMA mask\n",
			 &sg_dma_address(&m->hsg));
		nvme_lease_mem_free(l, m);
		return -EREMOTEIO;
	}
	return 0;
}

static u32 nvme_lease_mem_kind(struct nvme_lease_mem *m)
{
	return m->provider ? NVME_LEASE_MEM_P2PMEM : NVME_LEASE_MEM_HOST;
}

/* Log why no provider of p2pmem can serve this controller (and holder). */
static void nvme_lease_explain(struct nvme_lease *l)
{
	struct nvme_lease_ctrl *lc = l->lc;
	struct device *clients[2] = { &lc->pdev->dev, l->holder };
	struct pci_dev *p = NULL;
	bool any = false;

	if (l->holder)
		pci_info(lc->pdev,
			 "queue lease refused: no p2pmem within reach of this controller and %s\n",
			 dev_name(l->holder));
	else
		pci_info(lc->pdev,
			 "queue lease refused: no p2pmem within reach of this controller\n");
	for_each_pci_dev(p) {
		if (!pci_has_p2pmem(p))
			continue;
		any = true;
		/* Verbose: logs the reason of each refusal. */
		pci_p2pdma_distance_many(p, clients, l->holder ? 2 : 1, true);
	}
	if (!any)
		pci_info(lc->pdev, "queue lease refused: no device publishes p2pmem\n");
}

/* Phys address of the submission queue tail doorbell of @qid. */
static phys_addr_t nvme_lease_sq_db(struct nvme_lease_ctrl *lc, u16 qid)
{
	return pci_resource_start(lc->pdev, 0) + NVME_REG_DBS +
		(phys_addr_t)qid * 2 * lc->geo.db_stride;
}

/* Both doorbells as the holder's device writes them. */
static int nvme_lease_map_doorbells(struct nvme_lease *l)
{
	int map;

	if (!l->holder)
		return 0;
	map = pci_p2pdma_map_resource(l->lc->pdev, nvme_lease_sq_db(l->lc, l->qid),
				      l->lc->geo.db_stride + sizeof(u32),
				      l->holder, DMA_BIDIRECTIONAL, &l->db_addr);
	if (map < 0)
		return map;
	l->db_map = map;
	return 0;
}

static int nvme_lease_alloc_all(struct nvme_lease *l, size_t data_size)
{
	struct nvme_lease_ctrl *lc = l->lc;
	struct device *clients[2] = { &lc->pdev->dev, l->holder };
	int nc = l->holder ? 2 : 1;
	struct pci_dev *own = NULL;
	struct pci_dev *p;
	int ret;

	/* The controller's own CMB, if the holder reaches it too. */
	if (pci_has_p2pmem(lc->pdev) &&
	    (!l->holder ||
	     pci_p2pdma_distance_many(lc->pdev, &l->holder, 1, false) >= 0))
		own = lc->pdev;

	/* The submission queue: the own CMB if it may hold one, else the nearest. */
	if (own && lc->geo.cmb_sqs)
		p = pci_dev_get(own);
	else
		p = pci_p2pmem_find_except(clients, nc, own);
	if (!p) {
		nvme_lease_explain(l);
		return -EREMOTEIO;
	}
	ret = nvme_lease_mem_alloc(l, &l->sq, p, false,
				   l->depth * sizeof(struct nvme_command));
	if (ret)
		return ret;

	/* The completion queue: p2pmem that may hold one, else host memory. */
	if (own && lc->geo.cmb_cqs)
		p = pci_dev_get(own);
	else
		p = pci_p2pmem_find_except(clients, nc, own);
	ret = nvme_lease_mem_alloc(l, &l->cq, p, true,
				   l->depth * sizeof(struct nvme_completion));
	if (ret == -ENOMEM && p)
		ret = nvme_lease_mem_alloc(l, &l->cq, NULL, true,
					   l->depth * sizeof(struct nvme_completion));
	if (ret)
		return ret;

	if (!data_size)
		return nvme_lease_map_doorbells(l);
	p = own ? pci_dev_get(own) : pci_p2pmem_find_many(clients, nc);
	if (!p) {
		nvme_lease_explain(l);
		return -EREMOTEIO;
	}
	ret = nvme_lease_mem_alloc(l, &l->data, p, false, data_size);
	if (ret)
		return ret;
	return nvme_lease_map_doorbells(l);
}

static void nvme_lease_free_all(struct nvme_lease *l)
{
	if (l->db_map > 0)
		pci_p2pdma_unmap_resource(l->holder, l->db_addr,
					  l->lc->geo.db_stride + sizeof(u32),
					  DMA_BIDIRECTIONAL, l->db_map);
	l->db_map = 0;
	nvme_lease_mem_free(l, &l->data);
	nvme_lease_mem_free(l, &l->cq);
	nvme_lease_mem_free(l, &l->sq);
}

static void nvme_lease_release(struct kref *ref)
{
	struct nvme_lease *l = container_of(ref, struct nvme_lease, ref);

	put_device(l->holder);
	kref_put(&l->lc->ref, nvme_lease_ctrl_release);
	kfree(l);
}

/*
 * Cut the holder off: no new page of a mapping, the present ones zapped,
 * pollers woken.  Idempotent.
 */
static void nvme_lease_fence(struct nvme_lease *l)
{
	bool call;

	mutex_lock(&l->lock);
	l->revoked = true;
	call = l->revoke && !l->revoke_called;
	l->revoke_called = true;
	/* Under the lock: the release of the file ends the mapping's life. */
	if (l->mapping)
		unmap_mapping_range(l->mapping, 0, 0, 1);
	mutex_unlock(&l->lock);
	wake_up_all(&l->wait);
	/*
	 * The holder device stops its DMA before the queues and memory go;
	 * whoever gets here while another task runs the callback waits for it.
	 */
	if (call) {
		l->revoke(l, l->priv);
		WRITE_ONCE(l->revoke_done, true);
		wake_up_all(&l->wait);
	} else if (l->revoke) {
		wait_event(l->wait, READ_ONCE(l->revoke_done));
	}
}

/* Mark queue @qid taken or free, if this incarnation keeps it for leases. */
static void nvme_lease_mark(struct nvme_lease_ctrl *lc, u16 qid, bool taken)
{
	unsigned int n = qid - lc->geo.first_qid;

	if (qid < lc->geo.first_qid || n >= lc->geo.nr)
		return;
	if (taken)
		set_bit(n, &lc->busy);
	else
		clear_bit(n, &lc->busy);
}

/* The queue id and the memory go back: the queues are gone.  lc->lock held. */
static void nvme_lease_retire(struct nvme_lease *l)
{
	struct nvme_lease_ctrl *lc = l->lc;

	lockdep_assert_held(&lc->lock);
	nvme_lease_free_all(l);
	nvme_lease_mark(lc, l->qid, false);
	list_del_init(&l->node);
	WRITE_ONCE(l->retired, true);
	wake_up_all(&l->wait);
	kref_put(&l->ref, nvme_lease_release);
}

/*
 * Whether the doorbells of @qid, and the page of them that a lease file
 * maps, lie inside BAR0.
 */
static bool nvme_lease_db_in_bar(struct nvme_lease_ctrl *lc, u16 qid)
{
	phys_addr_t db = nvme_lease_sq_db(lc, qid);
	phys_addr_t last = db + lc->geo.db_stride + sizeof(u32) - 1;

	return (db & PAGE_MASK) >= pci_resource_start(lc->pdev, 0) &&
	       (last | ~PAGE_MASK) <= pci_resource_end(lc->pdev, 0);
}

void nvme_lease_ctrl_up(struct nvme_lease_ctrl *lc,
			const struct nvme_lease_geometry *geo)
{
	struct nvme_lease *l;
	u16 first, nr;

	if (!lc)
		return;
	mutex_lock(&lc->lock);
	lc->geo = *geo;
	/* Never a doorbell beyond BAR0, for the holder nor for a mapping. */
	while (lc->geo.nr &&
	       !nvme_lease_db_in_bar(lc, lc->geo.first_qid + lc->geo.nr - 1))
		lc->geo.nr--;
	if (lc->geo.nr < geo->nr)
		pci_warn(lc->pdev, "%u queue pair(s) kept for leases have doorbells beyond BAR0: not leased\n",
			 geo->nr - lc->geo.nr);
	lc->busy = 0;
	/* Queue ids still in the hands of a task that issues admin commands. */
	list_for_each_entry(l, &lc->leases, node)
		nvme_lease_mark(lc, l->qid, true);
	lc->up = lc->geo.nr > 0;
	first = lc->geo.first_qid;
	nr = lc->geo.nr;
	mutex_unlock(&lc->lock);
	if (nr)
		dev_info(lc->ctrl->device, "%u queue pair(s) kept for leases, qid %u-%u\n",
			 nr, first, first + nr - 1);
}

/**
 * nvme_lease_ctrl_fence() - cut off every holder of a controller going down
 * @lc: the controller's leases (may be NULL)
 *
 * Called by nvme_dev_disable() before it takes shutdown_lock: no lease is
 * made until the controller is up again, and the holder of every lease is
 * fenced, its revoke callback called, with no lock of nvme-pci or of the
 * leases held.  nvme_lease_ctrl_down() then gives everything back once the
 * controller is disabled.
 *
 * Context: process context; sleeps until the callbacks have returned.
 */
void nvme_lease_ctrl_fence(struct nvme_lease_ctrl *lc)
{
	struct nvme_lease *l, *next;
	LIST_HEAD(fence);

	if (!lc)
		return;
	mutex_lock(&lc->fence_lock);
	mutex_lock(&lc->lock);
	lc->up = false;
	list_for_each_entry(l, &lc->leases, node) {
		kref_get(&l->ref);
		list_add_tail(&l->fence_node, &fence);
	}
	mutex_unlock(&lc->lock);
	list_for_each_entry_safe(l, next, &fence, fence_node) {
		list_del(&l->fence_node);
		nvme_lease_fence(l);
		kref_put(&l->ref, nvme_lease_release);
	}
	mutex_unlock(&lc->fence_lock);
}

/**
 * nvme_lease_ctrl_down() - revoke every lease of a controller that stopped
 * @lc: the controller's leases (may be NULL)
 *
 * Called by nvme_dev_disable() once the controller is disabled and can no
 * longer do DMA: its queues are gone, so the memory of every lease goes
 * back without admin commands.  Takes no lock an admin command waits on.
 */
void nvme_lease_ctrl_down(struct nvme_lease_ctrl *lc)
{
	struct nvme_lease *l, *tmp;

	if (!lc)
		return;
	mutex_lock(&lc->lock);
	lc->gen++;
	lc->up = false;
	list_for_each_entry_safe(l, tmp, &lc->leases, node) {
		nvme_lease_fence(l);
		if (l->admin)
			continue;
		l->queues = false;
		nvme_lease_retire(l);
	}
	mutex_unlock(&lc->lock);
}

void nvme_lease_ctrl_free(struct nvme_lease_ctrl *lc)
{
	if (!lc)
		return;
	mutex_lock(&nvme_lease_ctrls_lock);
	list_del(&lc->node);
	mutex_unlock(&nvme_lease_ctrls_lock);
	down_write(&lc->admin_sem);
	WRITE_ONCE(lc->ctrl, NULL);
	up_write(&lc->admin_sem);
	/* A lease made while the controller was going away. */
	nvme_lease_ctrl_down(lc);
	kref_put(&lc->ref, nvme_lease_ctrl_release);
}

/* An admin command of a lease, waited for. */
struct nvme_lease_cmd {
	struct completion done;
	blk_status_t err;
};

static enum rq_end_io_ret
nvme_lease_admin_end(struct request *rq, blk_status_t err)
{
	struct nvme_lease_cmd *cmd = rq->end_io_data;

	cmd->err = err;
	complete(&cmd->done);
	return RQ_END_IO_NONE;
}

/*
 * The controller's tail in @l's completion queue, read from the entries:
 * it flips the phase tag of each entry it posts, pass after pass (the
 * queue starts zeroed, tag 0, and the first pass writes 1).  So entries
 * before the tail carry the tag of the current pass, those from it on the
 * tag of the one before: the tail is the first entry whose tag differs
 * from entry 0's, or 0 when none does.
 */
static u32 nvme_lease_cq_tail(struct nvme_lease *l)
{
	struct nvme_completion *cqe = l->cq.vaddr;
	u16 tag;
	u32 i;

	if (!l->cq.provider)
		dma_sync_sg_for_cpu(&l->lc->pdev->dev, &l->cq.sg, 1,
				    DMA_BIDIRECTIONAL);
	tag = le16_to_cpu(READ_ONCE(cqe[0].status)) & 1;
	for (i = 1; i < l->depth; i++)
		if ((le16_to_cpu(READ_ONCE(cqe[i].status)) & 1) != tag)
			return i;
	return 0;
}

/*
 * Wait for an admin command of @l, consuming @l's completion queue
 * meanwhile when @cq_db (its head doorbell) is given.  Deleting the
 * submission queue aborts what the holder left there, and the controller
 * posts an entry for each: a holder that stopped moving the head would
 * leave no room for them, and the deletion would wait for the admin
 * timeout and a reset.  The holder is fenced by now, so the kernel moves
 * the head up to the tail itself: a head the holder wrote lies at or
 * before the tail, so the write is always valid.
 */
static void nvme_lease_admin_wait(struct nvme_lease *l, struct completion *done,
				  void __iomem *cq_db)
{
	if (!cq_db) {
		wait_for_completion_io(done);
		return;
	}
	do {
		writel(nvme_lease_cq_tail(l), cq_db);
	} while (!wait_for_completion_io_timeout(done, msecs_to_jiffies(2)));
}

/*
 * Run admin command @c for @l on the incarnation of the controller that
 * gave @l its queue id, or not at all: it is queued only while that
 * incarnation is up (under lc->lock, which nvme_lease_ctrl_down() takes),
 * and marked as a user command, which nvme-pci dispatches only to a live
 * controller and, being fail-fast, fails rather than holding it for the
 * next one.  So a command caught by a reset never reaches a controller
 * whose queue ids may have moved.  With @cq_db, the wait keeps @l's
 * completion queue drained (nvme_lease_admin_wait()).  Return: 0, the
 * NVMe status, or -errno (-EAGAIN once the incarnation is gone, -EINTR
 * when the reset cancelled the command).
 */
static int nvme_lease_admin(struct nvme_lease *l, struct nvme_command *c,
			    void __iomem *cq_db)
{
	struct nvme_lease_ctrl *lc = l->lc;
	struct nvme_lease_cmd cmd = { };
	struct request *rq;
	int ret = -ENODEV;

	down_read(&lc->admin_sem);
	if (!lc->ctrl)
		goto out;
	rq = blk_mq_alloc_request(lc->ctrl->admin_q, nvme_req_op(c), 0);
	if (IS_ERR(rq)) {
		ret = PTR_ERR(rq);
		goto out;
	}
	nvme_init_request(rq, c);
	nvme_req(rq)->flags |= NVME_REQ_USERCMD;
	init_completion(&cmd.done);
	rq->end_io = nvme_lease_admin_end;
	rq->end_io_data = &cmd;

	ret = -EAGAIN;
	mutex_lock(&lc->lock);
	if (l->gen == lc->gen && lc->up) {
		blk_execute_rq_nowait(rq, false);
		ret = 0;
	}
	mutex_unlock(&lc->lock);
	if (ret) {
		blk_mq_free_request(rq);
		goto out;
	}
	nvme_lease_admin_wait(l, &cmd.done, cq_db);
	if (nvme_req(rq)->flags & NVME_REQ_CANCELLED)
		ret = -EINTR;
	else if (nvme_req(rq)->status)
		ret = nvme_req(rq)->status;
	else
		ret = blk_status_to_errno(cmd.err);
	blk_mq_free_request(rq);
out:
	up_read(&lc->admin_sem);
	return ret;
}

/*
 * Delete the submission or the completion queue: 0 once it does not exist,
 * also when the controller says that it did not (a create that failed).
 */
static int nvme_lease_delete_queue(struct nvme_lease *l, u8 opcode)
{
	struct nvme_lease_ctrl *lc = l->lc;
	void __iomem *cq_db = NULL;
	struct nvme_command c = { };
	int ret;

	/* Deleting the SQ may need room in the CQ: keep it drained. */
	if (opcode == nvme_admin_delete_sq)
		cq_db = pci_iomap_range(lc->pdev, 0, NVME_REG_DBS +
					(2 * l->qid + 1) * lc->geo.db_stride,
					sizeof(u32));
	c.delete_queue.opcode = opcode;
	c.delete_queue.qid = cpu_to_le16(l->qid);
	ret = nvme_lease_admin(l, &c, cq_db);
	if (cq_db)
		pci_iounmap(lc->pdev, cq_db);
	if (ret > 0 && (ret & NVME_SCT_SC_MASK) == NVME_SC_QID_INVALID)
		return 0;
	return ret;
}

/* Delete both queues; 0 when neither exists on this incarnation. */
static int nvme_lease_delete_queues(struct nvme_lease *l)
{
	int ret = nvme_lease_delete_queue(l, nvme_admin_delete_sq);

	if (!ret)
		ret = nvme_lease_delete_queue(l, nvme_admin_delete_cq);
	return ret;
}

static int nvme_lease_create_queues(struct nvme_lease *l)
{
	struct nvme_command c = { };
	int ret;

	c.create_cq.opcode = nvme_admin_create_cq;
	c.create_cq.prp1 = cpu_to_le64(sg_dma_address(&l->cq.sg));
	c.create_cq.cqid = cpu_to_le16(l->qid);
	c.create_cq.qsize = cpu_to_le16(l->depth - 1);
	/* No interrupt: the holder polls. */
	c.create_cq.cq_flags = cpu_to_le16(NVME_QUEUE_PHYS_CONTIG);
	l->queues = true;
	ret = nvme_lease_admin(l, &c, NULL);
	if (ret)
		goto fail;

	memset(&c, 0, sizeof(c));
	c.create_sq.opcode = nvme_admin_create_sq;
	c.create_sq.prp1 = cpu_to_le64(sg_dma_address(&l->sq.sg));
	c.create_sq.sqid = cpu_to_le16(l->qid);
	c.create_sq.qsize = cpu_to_le16(l->depth - 1);
	c.create_sq.sq_flags = cpu_to_le16(NVME_QUEUE_PHYS_CONTIG |
					   NVME_SQ_PRIO_MEDIUM);
	c.create_sq.cqid = cpu_to_le16(l->qid);
	ret = nvme_lease_admin(l, &c, NULL);
	if (!ret)
		return 0;
fail:
	/*
	 * A failed create may still have made the queue (an answer lost, or
	 * an error after the fact): delete what may be there.
	 */
	if (!nvme_lease_delete_queues(l))
		l->queues = false;
	return ret < 0 ? ret : -EIO;
}

/*
 * Back from admin commands (lc->lock held): free the lease if its queues
 * are gone, which they are when @deleted or when the controller went down
 * since the lease got its queue id.  Otherwise the controller may still
 * write to its memory: it stays until the controller goes down, and the
 * controller is reset for that.  Return: true when the caller may wait
 * for that reset to retire the lease (see nvme_lease_wait_retired()).
 */
static bool nvme_lease_admin_done(struct nvme_lease *l, bool deleted)
{
	struct nvme_lease_ctrl *lc = l->lc;
	struct nvme_ctrl *ctrl = READ_ONCE(lc->ctrl);
	bool resetting = false;

	lockdep_assert_held(&lc->lock);
	WRITE_ONCE(l->admin, false);
	wake_up_all(&l->wait);
	if (deleted || l->gen != lc->gen || !lc->up) {
		l->queues = false;
		nvme_lease_retire(l);
		return false;
	}
	mutex_lock(&l->lock);
	l->revoked = true;
	mutex_unlock(&l->lock);
	wake_up_all(&l->wait);
	/*
	 * lc->ctrl is valid while set and lc->lock is held: the controller's
	 * teardown clears it, then waits for the lock.  Only a reset that is
	 * scheduled or under way is waited for: during removal the controller
	 * goes down later in the very task that may be ending this lease.
	 */
	if (ctrl)
		resetting = !nvme_reset_ctrl(ctrl) ||
			    nvme_ctrl_state(ctrl) == NVME_CTRL_RESETTING;
	pci_warn(lc->pdev,
		 "lease of queue %u: queues not deleted, memory kept until the controller is down%s\n",
		 l->qid, resetting ? " (resetting it)" : "");
	return resetting;
}

/* Until the controller going down has given back what @l holds. */
static void nvme_lease_wait_retired(struct nvme_lease *l)
{
	wait_event(l->wait, READ_ONCE(l->retired));
}

/*
 * End a lease while the controller may be live: fence the holder, delete
 * the queues (aborting what the holder left in them), then give back the
 * queue id and the memory.
 */
static void nvme_lease_end(struct nvme_lease *l)
{
	struct nvme_lease_ctrl *lc = l->lc;
	bool wait;
	int ret = 0;

	nvme_lease_fence(l);

	mutex_lock(&lc->lock);
	/* Another task makes or ends it: the lease is over once it is done. */
	while (l->admin) {
		mutex_unlock(&lc->lock);
		wait_event(l->wait, !READ_ONCE(l->admin));
		mutex_lock(&lc->lock);
	}
	if (list_empty(&l->node)) {
		mutex_unlock(&lc->lock);
		return;
	}
	l->admin = true;
	mutex_unlock(&lc->lock);

	if (l->queues)
		ret = nvme_lease_delete_queues(l);

	mutex_lock(&lc->lock);
	wait = nvme_lease_admin_done(l, !ret);
	mutex_unlock(&lc->lock);
	if (wait)
		nvme_lease_wait_retired(l);
}

/* Whether @l depends on @dev: memory it provides, or the holder. */
static bool nvme_lease_uses(struct nvme_lease *l, struct device *dev)
{
	struct nvme_lease_mem *m[] = { &l->sq, &l->cq, &l->data };
	int i;

	if (l->holder == dev)
		return true;
	for (i = 0; i < ARRAY_SIZE(m); i++)
		if (m[i]->provider && &m[i]->provider->dev == dev)
			return true;
	return false;
}

/*
 * Put @l on @list, for nvme_lease_end_doomed(), unless it is being ended
 * or made already.  A zombie is doomed too: ending it deletes its queues
 * again, or waits for the reset that retires it.  lc->lock held.
 */
static void nvme_lease_doom(struct nvme_lease *l, struct list_head *list)
{
	lockdep_assert_held(&l->lc->lock);
	if (l->admin || l->doomed)
		return;
	l->doomed = true;
	kref_get(&l->ref);
	list_add_tail(&l->gone, list);
}

/* End every lease nvme_lease_doom() put on @list; @why goes to the log. */
static void nvme_lease_end_doomed(struct list_head *list, const char *why)
{
	struct nvme_lease *l, *next;

	list_for_each_entry_safe(l, next, list, gone) {
		list_del(&l->gone);
		pci_info(l->lc->pdev, "lease of queue %u revoked: %s\n",
			 l->qid, why);
		nvme_lease_end(l);
		kref_put(&l->ref, nvme_lease_release);
	}
}

/*
 * @dev loses its driver or goes away: end every lease whose memory it
 * provides, or whose holder it is, before its driver's teardown waits for
 * its p2pmem.  The controller's own removal goes through
 * nvme_lease_ctrl_down() instead.
 */
static void nvme_lease_device_gone(struct device *dev)
{
	struct nvme_lease_ctrl *lc;
	struct nvme_lease *l, *next;
	char why[64];
	LIST_HEAD(doomed);
	LIST_HEAD(making);
	int pass;

	snprintf(why, sizeof(why), "%s goes away", dev_name(dev));
	mutex_lock(&nvme_lease_gone_lock);
	/*
	 * A lease being made may be taking @dev's memory: wait until it is
	 * made (or not), then end it like the others, in a second pass.
	 */
	for (pass = 0; pass < 2; pass++) {
		mutex_lock(&nvme_lease_ctrls_lock);
		list_for_each_entry(lc, &nvme_lease_ctrls, node) {
			if (&lc->pdev->dev == dev)
				continue;
			mutex_lock(&lc->lock);
			list_for_each_entry(l, &lc->leases, node) {
				if (l->creating && !pass) {
					kref_get(&l->ref);
					list_add_tail(&l->wait_node, &making);
				} else if (!l->creating && nvme_lease_uses(l, dev)) {
					nvme_lease_doom(l, &doomed);
				}
			}
			mutex_unlock(&lc->lock);
		}
		mutex_unlock(&nvme_lease_ctrls_lock);

		nvme_lease_end_doomed(&doomed, why);
		list_for_each_entry_safe(l, next, &making, wait_node) {
			wait_event(l->wait, !READ_ONCE(l->creating));
			list_del(&l->wait_node);
			kref_put(&l->ref, nvme_lease_release);
		}
	}
	mutex_unlock(&nvme_lease_gone_lock);
}

/**
 * nvme_lease_ns_gone() - revoke the leases of a namespace being removed
 * @lc: the controller's leases (may be NULL)
 * @nsid: the namespace
 *
 * Called by nvme_ns_remove() once the namespace is marked as being
 * removed, while the controller may still be live: the queues of each
 * lease on @nsid are deleted, which aborts what its holder left in them.
 * A lease still being made sees the mark and fails.
 *
 * Context: process context; issues admin commands.
 */
void nvme_lease_ns_gone(struct nvme_lease_ctrl *lc, u32 nsid)
{
	struct nvme_lease *l;
	char why[64];
	LIST_HEAD(doomed);

	if (!lc)
		return;
	mutex_lock(&lc->lock);
	list_for_each_entry(l, &lc->leases, node)
		if (l->nsid == nsid)
			nvme_lease_doom(l, &doomed);
	mutex_unlock(&lc->lock);

	snprintf(why, sizeof(why), "namespace %u removed", nsid);
	nvme_lease_end_doomed(&doomed, why);
}

static int nvme_lease_bus_notify(struct notifier_block *nb,
				 unsigned long action, void *data)
{
	switch (action) {
	case BUS_NOTIFY_UNBIND_DRIVER:
	case BUS_NOTIFY_DEL_DEVICE:
		nvme_lease_device_gone(data);
		return NOTIFY_OK;
	default:
		return NOTIFY_DONE;
	}
}

static struct notifier_block nvme_lease_nb = {
	.notifier_call = nvme_lease_bus_notify,
};

int nvme_lease_init(void)
{
	return bus_register_notifier(&pci_bus_type, &nvme_lease_nb);
}

void nvme_lease_exit(void)
{
	bus_unregister_notifier(&pci_bus_type, &nvme_lease_nb);
}

/* Offsets of the regions of a lease file, in bytes. */
static void nvme_lease_layout(struct nvme_lease *l)
{
	struct nvme_lease_args *a = &l->args;
	u32 stride = l->lc->geo.db_stride;
	phys_addr_t sq_db = nvme_lease_sq_db(l->lc, l->qid);
	phys_addr_t cq_db = sq_db + stride;

	a->qid = l->qid;
	a->depth = l->depth;
	a->sq_mem = nvme_lease_mem_kind(&l->sq);
	a->cq_mem = nvme_lease_mem_kind(&l->cq);
	a->sq_off = 0;
	a->sq_size = l->sq.size;
	a->cq_off = a->sq_off + a->sq_size;
	a->cq_size = l->cq.size;
	a->data_off = a->cq_off + a->cq_size;
	a->data_size = l->data.size;
	a->data_addr = l->data.size ? sg_dma_address(&l->data.sg) : 0;
	a->db_off = a->data_off + a->data_size;
	l->db_phys = sq_db & PAGE_MASK;
	a->sq_db = sq_db - l->db_phys;
	a->cq_db = cq_db - l->db_phys;
	a->db_size = PAGE_ALIGN(a->cq_db + sizeof(u32));
}

/* What an in-kernel holder gets: its own addresses, or the controller's. */
static void nvme_lease_fill_info(struct nvme_lease *l)
{
	struct nvme_lease_info *i = &l->info;
	bool h = l->holder;

	i->qid = l->qid;
	i->depth = l->depth;
	i->nsid = l->nsid;
	i->lba_shift = l->args.lba_shift;
	i->sq = l->sq.vaddr;
	i->cq = l->cq.vaddr;
	i->data = l->data.vaddr;
	i->data_size = l->data.size;
	i->sq_addr = sg_dma_address(h ? &l->sq.hsg : &l->sq.sg);
	i->cq_addr = sg_dma_address(h ? &l->cq.hsg : &l->cq.sg);
	if (l->data.size) {
		i->data_addr = sg_dma_address(h ? &l->data.hsg : &l->data.sg);
		i->data_ctrl_addr = sg_dma_address(&l->data.sg);
	}
	i->sq_db_addr = h ? l->db_addr : nvme_lease_sq_db(l->lc, l->qid);
	i->cq_db_addr = i->sq_db_addr + l->lc->geo.db_stride;
}

/* The page frame of page @pgoff of the lease file, or 0. */
static unsigned long nvme_lease_pfn(struct nvme_lease *l, pgoff_t pgoff,
				    bool *mmio)
{
	struct nvme_lease_args *a = &l->args;
	u64 off = (u64)pgoff << PAGE_SHIFT;
	struct nvme_lease_mem *m = NULL;
	u64 base = 0;

	*mmio = false;
	if (off >= a->sq_off && off < a->sq_off + a->sq_size) {
		m = &l->sq;
		base = a->sq_off;
	} else if (off >= a->cq_off && off < a->cq_off + a->cq_size) {
		m = &l->cq;
		base = a->cq_off;
	} else if (off >= a->data_off && off < a->data_off + a->data_size) {
		m = &l->data;
		base = a->data_off;
	} else if (off >= a->db_off && off < a->db_off + a->db_size) {
		*mmio = true;
		return PHYS_PFN(l->db_phys + off - a->db_off);
	}
	if (!m || !m->vaddr)
		return 0;
	return PHYS_PFN(virt_to_phys(m->vaddr) + off - base);
}

static vm_fault_t nvme_lease_fault(struct vm_fault *vmf)
{
	struct nvme_lease *l = vmf->vma->vm_file->private_data;
	vm_fault_t ret = VM_FAULT_SIGBUS;
	unsigned long pfn;
	bool mmio;

	mutex_lock(&l->lock);
	if (!l->revoked) {
		pfn = nvme_lease_pfn(l, vmf->pgoff, &mmio);
		if (pfn)
			ret = vmf_insert_pfn(vmf->vma, vmf->address, pfn);
	}
	mutex_unlock(&l->lock);
	return ret;
}

static const struct vm_operations_struct nvme_lease_vm_ops = {
	.fault = nvme_lease_fault,
};

static int nvme_lease_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct nvme_lease *l = file->private_data;
	struct nvme_lease_args *a = &l->args;
	u64 start = (u64)vma->vm_pgoff << PAGE_SHIFT;
	u64 end = start + (vma->vm_end - vma->vm_start);
	bool inside = false;
	int i;
	const u64 regions[4][2] = {
		{ a->sq_off, a->sq_size }, { a->cq_off, a->cq_size },
		{ a->data_off, a->data_size }, { a->db_off, a->db_size },
	};

	if (!(vma->vm_flags & VM_SHARED))
		return -EINVAL;
	/* A mapping covers part of one region, never two. */
	for (i = 0; i < ARRAY_SIZE(regions); i++)
		if (regions[i][1] && start >= regions[i][0] &&
		    end <= regions[i][0] + regions[i][1])
			inside = true;
	if (!inside)
		return -EINVAL;
	if (READ_ONCE(l->revoked))
		return -ENODEV;
	if (start >= a->db_off)
		vma->vm_page_prot = pgprot_noncached(vma->vm_page_prot);
	vm_flags_set(vma, VM_IO | VM_PFNMAP | VM_DONTEXPAND | VM_DONTDUMP);
	vm_flags_clear(vma, VM_MAYEXEC);
	vma->vm_ops = &nvme_lease_vm_ops;
	return 0;
}

static __poll_t nvme_lease_poll(struct file *file, poll_table *pt)
{
	struct nvme_lease *l = file->private_data;

	poll_wait(file, &l->wait, pt);
	return READ_ONCE(l->revoked) ? EPOLLERR | EPOLLHUP : 0;
}

static int nvme_lease_file_release(struct inode *inode, struct file *file)
{
	struct nvme_lease *l = file->private_data;

	nvme_lease_end(l);
	/* The mapping goes with the file; a zombie lease outlives both. */
	mutex_lock(&l->lock);
	l->mapping = NULL;
	mutex_unlock(&l->lock);
	kref_put(&l->ref, nvme_lease_release);
	return 0;
}

static const struct file_operations nvme_lease_fops = {
	.owner		= THIS_MODULE,
	.mmap		= nvme_lease_mmap,
	.poll		= nvme_lease_poll,
	.release	= nvme_lease_file_release,
	.llseek		= noop_llseek,
};

static int nvme_lease_check_args(struct nvme_lease_args *a)
{
	int i;

	if (a->flags || a->depth < 2 || a->depth > NVME_LEASE_MAX_DEPTH ||
	    a->data_size > NVME_LEASE_MAX_DATA)
		return -EINVAL;
	for (i = 0; i < ARRAY_SIZE(a->rsvd); i++)
		if (a->rsvd[i])
			return -EINVAL;
	return 0;
}

/* Take a free queue id for @l; lc->lock held. */
static int nvme_lease_take_qid(struct nvme_lease_ctrl *lc, struct nvme_lease *l)
{
	unsigned int n;

	if (!lc->geo.nr)
		return -EOPNOTSUPP;
	if (!lc->up)
		return -EAGAIN;
	if (l->depth > lc->geo.max_depth)
		return -EINVAL;
	n = find_first_zero_bit(&lc->busy, lc->geo.nr);
	if (n >= lc->geo.nr)
		return -EBUSY;
	set_bit(n, &lc->busy);
	l->qid = lc->geo.first_qid + n;
	l->gen = lc->gen;
	l->admin = true;
	l->creating = true;
	kref_get(&l->ref);
	list_add_tail(&l->node, &lc->leases);
	return 0;
}

/* nvme_lease_create() is done with @l, made or not; lc->lock held. */
static void nvme_lease_created(struct nvme_lease *l)
{
	lockdep_assert_held(&l->lc->lock);
	WRITE_ONCE(l->creating, false);
	wake_up_all(&l->wait);
}

/*
 * Make a lease of @a's namespace and depth, for the holder @req names (NULL:
 * user space, or the CPU).  @a comes back with the namespace's block size.
 */
static struct nvme_lease *nvme_lease_create(struct nvme_lease_ctrl *lc,
					    struct nvme_lease_args *a,
					    const struct nvme_lease_request *req)
{
	struct nvme_ns *ns = NULL;
	struct nvme_lease *l;
	bool ns_gone;
	int ret;

	/*
	 * The namespace stays referenced until the lease is made: it must
	 * not be on its way out when the lease goes on lc->leases for good
	 * (nvme_lease_ns_gone() marks it before taking lc->lock).
	 */
	down_read(&lc->admin_sem);
	if (lc->ctrl)
		ns = nvme_find_get_ns(lc->ctrl, a->nsid);
	up_read(&lc->admin_sem);
	if (!ns)
		return ERR_PTR(-ENODEV);
	if (test_bit(NVME_NS_REMOVING, &ns->flags)) {
		nvme_put_ns(ns);
		return ERR_PTR(-ENODEV);
	}
	a->lba_shift = ns->head->lba_shift;

	l = kzalloc(sizeof(*l), GFP_KERNEL);
	if (!l) {
		nvme_put_ns(ns);
		return ERR_PTR(-ENOMEM);
	}
	kref_init(&l->ref);
	mutex_init(&l->lock);
	init_waitqueue_head(&l->wait);
	INIT_LIST_HEAD(&l->node);
	INIT_LIST_HEAD(&l->wait_node);
	INIT_LIST_HEAD(&l->fence_node);
	kref_get(&lc->ref);
	l->lc = lc;
	l->depth = a->depth;
	l->nsid = a->nsid;
	l->args = *a;
	if (req) {
		l->holder = get_device(req->holder);
		l->revoke = req->revoke;
		l->priv = req->priv;
	}

	mutex_lock(&lc->lock);
	ret = nvme_lease_take_qid(lc, l);
	mutex_unlock(&lc->lock);
	if (ret)
		goto out_put;

	ret = nvme_lease_alloc_all(l, a->data_size);
	if (!ret)
		ret = nvme_lease_create_queues(l);

	mutex_lock(&lc->lock);
	ns_gone = test_bit(NVME_NS_REMOVING, &ns->flags);
	if (!ret && l->gen == lc->gen && lc->up && !ns_gone) {
		nvme_lease_layout(l);
		nvme_lease_fill_info(l);
		WRITE_ONCE(l->admin, false);
		nvme_lease_created(l);
		mutex_unlock(&lc->lock);
		nvme_put_ns(ns);
		return l;
	}
	/* The controller went down meanwhile, or the namespace goes. */
	if (!ret)
		ret = ns_gone ? -ENODEV : -EAGAIN;
	/* Queues of an incarnation that went down went with it. */
	nvme_lease_admin_done(l, !l->queues);
	nvme_lease_created(l);
	mutex_unlock(&lc->lock);
out_put:
	kref_put(&l->ref, nvme_lease_release);
	nvme_put_ns(ns);
	return ERR_PTR(ret);
}

static long nvme_lease_ioctl_lease(struct nvme_lease_ctrl *lc,
				   struct nvme_lease_args __user *argp)
{
	struct nvme_lease_args a;
	struct nvme_lease *l;
	struct file *file;
	int fd, ret;

	if (!capable(CAP_SYS_ADMIN))
		return -EACCES;
	if (copy_from_user(&a, argp, sizeof(a)))
		return -EFAULT;
	ret = nvme_lease_check_args(&a);
	if (ret)
		return ret;

	l = nvme_lease_create(lc, &a, NULL);
	if (IS_ERR(l))
		return PTR_ERR(l);

	fd = get_unused_fd_flags(O_CLOEXEC);
	if (fd < 0) {
		ret = fd;
		goto out_end;
	}
	file = anon_inode_create_getfile("[nvme-lease]", &nvme_lease_fops, l,
					 O_RDWR | O_CLOEXEC, NULL);
	if (IS_ERR(file)) {
		ret = PTR_ERR(file);
		put_unused_fd(fd);
		goto out_end;
	}
	mutex_lock(&l->lock);
	l->mapping = file->f_mapping;
	mutex_unlock(&l->lock);
	if (copy_to_user(argp, &l->args, sizeof(l->args))) {
		/* Releasing the file ends the lease. */
		put_unused_fd(fd);
		fput(file);
		return -EFAULT;
	}
	fd_install(fd, file);
	return fd;

out_end:
	nvme_lease_end(l);
	kref_put(&l->ref, nvme_lease_release);
	return ret;
}

static long nvme_lease_ioctl_revoke(struct nvme_lease_ctrl *lc,
				    u32 __user *argp)
{
	struct nvme_lease *l, *found = NULL;
	u32 qid;

	if (!capable(CAP_SYS_ADMIN))
		return -EACCES;
	if (get_user(qid, argp))
		return -EFAULT;
	mutex_lock(&lc->lock);
	list_for_each_entry(l, &lc->leases, node) {
		if (l->qid == qid && !l->revoked) {
			found = l;
			kref_get(&found->ref);
			break;
		}
	}
	mutex_unlock(&lc->lock);
	if (!found)
		return -ENOENT;
	pci_info(lc->pdev, "lease of queue %u revoked on request\n", qid);
	nvme_lease_end(found);
	kref_put(&found->ref, nvme_lease_release);
	return 0;
}

/*
 * The controller's character device may outlive nvme-pci's hold on the
 * controller: look its leases up rather than trust a pointer that removal
 * frees.
 */
long nvme_lease_ioctl(struct nvme_ctrl *ctrl, unsigned int cmd,
		      void __user *argp)
{
	struct nvme_lease_ctrl *lc;
	long ret;

	if (cmd != NVME_IOCTL_LEASE && cmd != NVME_IOCTL_LEASE_REVOKE)
		return -ENOTTY;
	lc = nvme_lease_ctrl_get(NULL, ctrl);
	if (!lc)
		return -ENODEV;
	if (cmd == NVME_IOCTL_LEASE)
		ret = nvme_lease_ioctl_lease(lc, argp);
	else
		ret = nvme_lease_ioctl_revoke(lc, argp);
	kref_put(&lc->ref, nvme_lease_ctrl_release);
	return ret;
}

/**
 * nvme_lease_get() - lease an I/O queue pair to an in-kernel holder
 * @pdev: the NVMe controller, bound to nvme-pci with queues kept for leases
 *	(module parameter lease_queues)
 * @req: the namespace, the depth, the data buffer and the holder
 *
 * Creates a submission and a completion queue on the controller, in P2P
 * memory that both the controller and @req->holder reach (the completion
 * queue in host memory when no provider can hold it), with a data buffer of
 * P2P memory, and maps all of it and the queues' doorbells for the holder's
 * device.  The holder then drives the queues by itself: see
 * nvme_lease_info() for the addresses.  The completion queue raises no
 * interrupt.
 *
 * The kernel takes the lease back when the controller resets (also on a
 * timeout), is removed or unbound, when the namespace is removed, when a device
 * whose memory the lease uses or the holder goes, when the queue is revoked
 * through NVME_IOCTL_LEASE_REVOKE, and in nvme_lease_put().  It first calls
 * @req->revoke, once, which must make the holder's device stop touching every
 * address of the lease before it returns, in bounded time (see struct
 * nvme_lease_request for its context and the locks it may take).  Then the
 * queues are deleted and the memory goes back; nvme_lease_revoked() turns
 * true.  The caller still owns its reference and drops it with
 * nvme_lease_put().
 *
 * Context: process context; takes mutexes and issues admin commands.
 * Return: the lease, or an ERR_PTR(): -ENODEV if @pdev has no leases or
 * no such namespace, -EINVAL for a bad depth or size, -EOPNOTSUPP if the
 * controller keeps no queues for leases, -EBUSY if all are leased, -EAGAIN
 * while it resets, -EREMOTEIO if no P2P memory is within reach of both
 * devices or the holder cannot reach the doorbells (logged with the
 * reason), -ENOMEM.
 */
struct nvme_lease *nvme_lease_get(struct pci_dev *pdev,
				  const struct nvme_lease_request *req)
{
	struct nvme_lease_args a = { };
	struct nvme_lease_ctrl *lc;
	struct nvme_lease *l;

	a.nsid = req->nsid;
	a.depth = req->depth;
	a.data_size = req->data_size;
	if (nvme_lease_check_args(&a))
		return ERR_PTR(-EINVAL);

	lc = nvme_lease_ctrl_get(pdev, NULL);
	if (!lc)
		return ERR_PTR(-ENODEV);
	l = nvme_lease_create(lc, &a, req);
	kref_put(&lc->ref, nvme_lease_ctrl_release);
	return l;
}
EXPORT_SYMBOL_GPL(nvme_lease_get);

/**
 * nvme_lease_info() - the queues, buffer and doorbells of a lease
 * @lease: a lease from nvme_lease_get()
 *
 * Return: the lease's description, valid until nvme_lease_put(); its
 * addresses must not be used once the lease is revoked.
 */
const struct nvme_lease_info *nvme_lease_info(struct nvme_lease *lease)
{
	return &lease->info;
}
EXPORT_SYMBOL_GPL(nvme_lease_info);

/**
 * nvme_lease_revoked() - whether the kernel took a lease back
 * @lease: a lease from nvme_lease_get()
 *
 * Return: true once the holder has been told to stop (its revoke callback
 * has been called or is running).
 */
bool nvme_lease_revoked(struct nvme_lease *lease)
{
	return READ_ONCE(lease->revoked);
}
EXPORT_SYMBOL_GPL(nvme_lease_revoked);

/**
 * nvme_lease_put() - end a lease and drop it
 * @lease: a lease from nvme_lease_get(); NULL and error pointers are ignored
 *
 * Revokes the lease if the kernel has not yet (calling the holder's revoke
 * callback), deletes its queues and frees its memory, then drops the
 * caller's reference.  Returns once that is done, also when another task
 * was ending the lease; if its queues could not be deleted, once the
 * controller reset that this asks for has given the memory back (unless
 * the controller is being removed, which gives it back later).
 *
 * Context: process context; issues admin commands and may wait for a
 * controller reset.
 */
void nvme_lease_put(struct nvme_lease *lease)
{
	if (IS_ERR_OR_NULL(lease))
		return;
	nvme_lease_end(lease);
	kref_put(&lease->ref, nvme_lease_release);
}
EXPORT_SYMBOL_GPL(nvme_lease_put);
