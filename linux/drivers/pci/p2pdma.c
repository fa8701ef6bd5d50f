// SPDX-License-Identifier: GPL-2.0
/*
 * PCI peer-to-peer DMA core.
 *
 * A provider driver registers ranges of one of its BARs.  Each range gets
 * ZONE_DEVICE struct pages (MEMORY_DEVICE_PCI_P2PDMA) and a page pool
 * (p2pdma_pool.c).  Clients allocate from it in the kernel
 * (pci_alloc_p2pmem() and friends) or user space maps it through
 * p2pmem/allocate (p2pdma_user.c); the DMA mapping code asks
 * pci_p2pdma_map_segment() how a client reaches those pages, which the
 * verdicts of p2pdma_verdict.c answer.
 *
 * This file owns providers, ranges and their teardown, the exported API,
 * DMA mapping and the configfs helpers.  pci_p2pmem_alloc_sgl() and
 * pci_p2pmem_free_sgl() keep the behaviour of the original P2PDMA code by
 * Logan Gunthorpe, Christoph Hellwig and others (Microsemi, Eideticom,
 * 2016-2018).
 *
 * Lifetime rules:
 *  - pdev->p2pdma is RCU protected.  It is cleared, and freed after a grace
 *    period, by the devm action registered when the first range is added,
 *    so it outlives every range.
 *  - Every allocation holds one reference on the owning range's
 *    pgmap->ref, taken with percpu_ref_tryget_live_rcu(); a user mapping
 *    holds one per block of memory it took, dropped when it gives the
 *    block back (p2pdma_user.c).
 *  - Nobody holds P2P pages by their reference counts: kernel users own
 *    their allocations, and user mappings are devmap entries that take no
 *    page references.  Only GUP does, for the time of the I/O.  So a range
 *    may be made of huge folios (p2pdma_folio_order()) and still be
 *    carved into 4 KiB allocations.
 *  - A range is torn down by three devm actions, in this order: stop new
 *    allocations and revoke user mappings; devm_memunmap_pages(), which
 *    waits for every reference above; unlink and free the range.
 *  - The provider's lock guards its range list and the ranges' live flags;
 *    each range's pool has a lock of its own.  Kernel users may free from
 *    any context, so the pool's locks are taken with interrupts disabled.
 */

#define pr_fmt(fmt) "pci-p2pdma: " fmt
#include <linux/ctype.h>
#include <linux/dma-map-ops.h>
#include <linux/memremap.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/pci-p2pdma.h>
#include <linux/percpu-refcount.h>
#include <linux/random.h>
#include <linux/ratelimit.h>
#include <linux/rculist.h>
#include <linux/seq_buf.h>
#include <linux/slab.h>
#include <linux/xarray.h>

#include "p2pdma.h"

#include <trace/events/p2pdma.h>

/*
 * Ranges
 */

static unsigned long p2pdma_bytes_to_pages(size_t size)
{
	return (size >> PAGE_SHIFT) + !!offset_in_page(size);
}

static void *p2pdma_range_addr(struct p2pdma_range *range, unsigned long pg)
{
	return range->kaddr + ((pg - range->pool.buddy->origin) << PAGE_SHIFT);
}

static bool p2pdma_range_holds(struct p2pdma_range *range, void *addr)
{
	return addr >= range->kaddr &&
	       (unsigned long)(addr - range->kaddr) >> PAGE_SHIFT <
	       range->pool.buddy->npages;
}

static unsigned long p2pdma_range_pgno(struct p2pdma_range *range,
				       void *addr)
{
	return range->pool.buddy->origin + ((addr - range->kaddr) >> PAGE_SHIFT);
}

static const char *p2pdma_free_error(int err)
{
	switch (err) {
	case -EINVAL:
		return "address is not page aligned";
	case -ERANGE:
		return "not inside any p2pmem range";
	case -ENOENT:
		return "some of it is not allocated (double free?)";
	case -ENXIO:
		return "not one whole allocation (wrong address or size)";
	default:
		return "no p2pmem on this device";
	}
}

/*
 * The core itself freed pages it does not hold: the allocator's state is
 * corrupt.  Warn once, with a backtrace, and change nothing.
 */
void p2pdma_free_refused(struct p2pdma_range *range, unsigned long pg,
			 unsigned long npages, int err)
{
	dev_WARN_ONCE(&range->provider->dev, true,
		      "p2pmem: not freeing %lu page(s) at bus pfn %#lx: %s\n",
		      npages, pg, p2pdma_free_error(err));
}

/*
 * A P2P page only drops to a count of zero if it was put once more than it
 * was got: no mapping or allocation holds pages by their counts.  Say so,
 * and leave the pool alone: the page's owner still has it.
 */
static void p2pdma_page_free(struct page *page)
{
	struct p2pdma_range *range = to_p2pdma_range(page_pgmap(page));

	dev_WARN_ONCE(&range->provider->dev, true,
		      "p2pmem: page at pfn %#lx put once too often\n",
		      page_to_pfn(page));
}

static const struct dev_pagemap_ops p2pdma_pgmap_ops = {
	.page_free = p2pdma_page_free,
};

/*
 * Pages from the first live range that has them, with a reference on that
 * range: a kernel allocation of @npages contiguous pages
 * (p2pdma_pool_kalloc()), or for a user mapping one block of at most
 * @npages.  Called under rcu_read_lock().  Returns the number of pages
 * taken, -ENOMEM if no live range has room, -ENODEV if there is none.
 */
static __always_inline long p2pdma_take_once(struct pci_p2pdma *p2pdma,
					     unsigned long npages, bool kernel,
					     struct p2pdma_range **rangep,
					     unsigned long *pg)
{
	struct p2pdma_range *range;
	long n, ret = -ENODEV;

	list_for_each_entry_rcu(range, &p2pdma->ranges, node) {
		if (!READ_ONCE(range->live) ||
		    !percpu_ref_tryget_live_rcu(&range->pgmap.ref))
			continue;
		if (kernel)
			n = p2pdma_pool_kalloc(&range->pool, npages, pg);
		else
			n = p2pdma_pool_take(&range->pool, npages, false, pg);
		if (n) {
			*rangep = range;
			return n;
		}
		percpu_ref_put(&range->pgmap.ref);
		ret = -ENOMEM;
	}
	return ret;
}

/**
 * p2pdma_drain() - empty the per-CPU caches of every live range
 * @p2pdma: the provider's state, under rcu_read_lock()
 *
 * Return: true if the caches held any pages.
 */
bool p2pdma_drain(struct pci_p2pdma *p2pdma)
{
	struct p2pdma_range *range;
	bool any = false;

	list_for_each_entry_rcu(range, &p2pdma->ranges, node)
		if (READ_ONCE(range->live))
			any |= p2pdma_pool_drain(&range->pool);
	return any;
}

/* No live range had room: drain the caches and try once more. */
static noinline long p2pdma_take_again(struct pci_p2pdma *p2pdma,
				       unsigned long npages, bool kernel,
				       struct p2pdma_range **rangep,
				       unsigned long *pg)
{
	if (!p2pdma_drain(p2pdma))
		return -ENOMEM;
	return p2pdma_take_once(p2pdma, npages, kernel, rangep, pg);
}

/*
 * p2pdma_take_once(), tried once more after draining the per-CPU caches if
 * no range had room, so that cached pages never make it fail.  Inline: it
 * is on the path of every pci_alloc_p2pmem(), where under TCG each call
 * and return costs a lookup.
 */
static __always_inline long __p2pdma_take(struct pci_p2pdma *p2pdma,
					  unsigned long npages, bool kernel,
					  struct p2pdma_range **rangep,
					  unsigned long *pg)
{
	long ret = p2pdma_take_once(p2pdma, npages, kernel, rangep, pg);

	if (unlikely(ret == -ENOMEM))
		ret = p2pdma_take_again(p2pdma, npages, kernel, rangep, pg);
	return ret;
}

/**
 * p2pdma_take() - allocate pages of a provider
 * @p2pdma: the provider's state, under rcu_read_lock()
 * @npages: number of pages; the most wanted for a user mapping
 * @kernel: a kernel allocation: @npages contiguous pages; else any block
 *	of at most @npages pages, for a user mapping
 * @rangep: returns the range of the pages, with a reference held
 * @pg: returns the first page number
 *
 * Tries once more after draining the per-CPU caches, so that cached pages
 * never make it fail.
 *
 * Return: the number of pages taken, -ENOMEM or -ENODEV.
 */
long p2pdma_take(struct pci_p2pdma *p2pdma, unsigned long npages, bool kernel,
		 struct p2pdma_range **rangep, unsigned long *pg)
{
	return __p2pdma_take(p2pdma, npages, kernel, rangep, pg);
}

/*
 * Free kernel-allocated memory; returns its range, whose ref to drop.
 * Called under rcu_read_lock().
 */
static struct p2pdma_range *p2pdma_free_pages(struct pci_p2pdma *p2pdma,
					      void *addr, unsigned long npages)
{
	struct p2pdma_range *range;
	int err;

	if (!PAGE_ALIGNED(addr))
		return ERR_PTR(-EINVAL);

	list_for_each_entry_rcu(range, &p2pdma->ranges, node) {
		if (!p2pdma_range_holds(range, addr))
			continue;
		err = p2pdma_pool_kfree(&range->pool,
					p2pdma_range_pgno(range, addr), npages);
		return err ? ERR_PTR(err) : range;
	}
	return ERR_PTR(-ERANGE);
}

/*
 * Setup and teardown
 */

/* Every provider's state, for invalidating their verdict caches (RCU). */
static LIST_HEAD(p2pdma_providers);
static DEFINE_SPINLOCK(p2pdma_providers_lock);

/* Last devm action of a provider: all ranges are gone by now. */
static void p2pdma_release(void *data)
{
	struct pci_dev *pdev = data;
	struct pci_p2pdma *p2pdma = rcu_dereference_protected(pdev->p2pdma, 1);

	RCU_INIT_POINTER(pdev->p2pdma, NULL);
	spin_lock(&p2pdma_providers_lock);
	list_del_rcu(&p2pdma->node);
	spin_unlock(&p2pdma_providers_lock);
	synchronize_rcu();

	p2pmem_sysfs_remove(pdev);
	p2pdma_verdicts_destroy(&p2pdma->verdicts);
	kfree(p2pdma);
}

static int p2pdma_setup(struct pci_dev *pdev)
{
	struct pci_p2pdma *p2pdma;
	int err;

	p2pdma = kzalloc(sizeof(*p2pdma), GFP_KERNEL);
	if (!p2pdma)
		return -ENOMEM;
	spin_lock_init(&p2pdma->lock);
	INIT_LIST_HEAD(&p2pdma->ranges);
	p2pdma_verdicts_init(&p2pdma->verdicts);

	err = p2pmem_sysfs_create(pdev);
	if (err) {
		kfree(p2pdma);
		return err;
	}

	spin_lock(&p2pdma_providers_lock);
	list_add_rcu(&p2pdma->node, &p2pdma_providers);
	spin_unlock(&p2pdma_providers_lock);
	rcu_assign_pointer(pdev->p2pdma, p2pdma);
	return devm_add_action_or_reset(&pdev->dev, p2pdma_release, pdev);
}

/*
 * Verdicts describe the topology as it was when they were worked out.  A
 * device that comes or goes may be a bridge on any path, or a new device
 * at a removed client's address: every cache is emptied.  A device that
 * gets or loses a driver is judged again as a client.  The ACS settings
 * the kernel makes are made when a device is added.
 */
static int p2pdma_bus_notify(struct notifier_block *nb, unsigned long action,
			     void *data)
{
	struct pci_dev *pdev = to_pci_dev(data);
	struct pci_p2pdma *p2pdma;

	switch (action) {
	case BUS_NOTIFY_ADD_DEVICE:
	case BUS_NOTIFY_DEL_DEVICE:
		pdev = NULL;
		break;
	case BUS_NOTIFY_BOUND_DRIVER:
	case BUS_NOTIFY_UNBOUND_DRIVER:
		break;
	default:
		return NOTIFY_DONE;
	}

	p2pdma_verdicts_bump();
	rcu_read_lock();
	list_for_each_entry_rcu(p2pdma, &p2pdma_providers, node)
		p2pdma_verdicts_forget(&p2pdma->verdicts, pdev);
	rcu_read_unlock();
	return NOTIFY_OK;
}

static struct notifier_block p2pdma_bus_nb = {
	.notifier_call = p2pdma_bus_notify,
};

static int __init p2pdma_init(void)
{
	return bus_register_notifier(&pci_bus_type, &p2pdma_bus_nb);
}
subsys_initcall(p2pdma_init);

/*
 * First devm action of a range, run before its pages are unmapped: stop
 * allocations from it, then revoke p2pmem/allocate, so that the pages of
 * user mappings come back and devm_memunmap_pages() does not wait on them
 * forever.
 */
static void p2pdma_range_quiesce(void *data)
{
	struct p2pdma_range *range = data;
	struct pci_dev *pdev = range->provider;
	unsigned long flags;

	spin_lock_irqsave(&range->p2pdma->lock, flags);
	WRITE_ONCE(range->live, false);
	spin_unlock_irqrestore(&range->p2pdma->lock, flags);

	p2pmem_sysfs_revoke(pdev);
}

/* Last devm action of a range, run after its pages are unmapped. */
static void p2pdma_range_retire(void *data)
{
	struct p2pdma_range *range = data;
	struct pci_p2pdma *p2pdma = range->p2pdma;
	unsigned long flags, left;

	if (!list_empty(&range->node)) {
		left = p2pdma_pool_retire(&range->pool);
		if (left)
			pci_warn(range->provider,
				 "p2pmem: %lu page(s) still allocated at removal\n",
				 left);
		spin_lock_irqsave(&p2pdma->lock, flags);
		list_del_rcu(&range->node);
		spin_unlock_irqrestore(&p2pdma->lock, flags);
		/* pci_p2pmem_virt_to_bus() walks the list under RCU only. */
		synchronize_rcu();
	}
	p2pdma_pool_exit(&range->pool);
	kfree(range);
}

/*
 * The folio orders this kernel can map whole into user space: as a PMD or
 * PUD of device memory (vmf_insert_pfn_pmd(), vmf_insert_pfn_pud()).
 */
static unsigned long p2pdma_folio_orders(void)
{
	unsigned long orders = 0;

	if (!IS_ENABLED(CONFIG_TRANSPARENT_HUGEPAGE) ||
	    !has_transparent_hugepage())
		return 0;
	orders |= BIT(PMD_ORDER);
	if (IS_ENABLED(CONFIG_HAVE_ARCH_TRANSPARENT_HUGEPAGE_PUD) &&
	    has_transparent_pud_hugepage())
		orders |= BIT(PUD_ORDER);
	return orders;
}

/**
 * p2pdma_folio_order() - the folio order of a new range
 * @start: CPU physical address of the range
 * @size: bytes in the range
 * @bus_offset: PCI bus address minus CPU physical address
 * @orders: the orders allowed, one bit each (p2pdma_folio_orders())
 *
 * The largest allowed order whose folio size divides the start, the size
 * and the bus offset of the range, so that the range is made of whole,
 * naturally aligned folios (memremap_pages() needs that) and a block the
 * pool aligns in bus addresses is aligned in CPU addresses too.  Orders
 * below 8 are never returned: the vmemmap of such folios cannot be shared
 * and they buy nothing.  Nothing else is needed from the range: kernel
 * allocations carve folios freely, since nobody holds P2P pages by their
 * reference counts.
 *
 * Return: the order, 0 for a range of single pages.
 */
static unsigned int p2pdma_folio_order(u64 start, u64 size, u64 bus_offset,
				       unsigned long orders)
{
	u64 bits = start | size | bus_offset;
	unsigned int order;

	orders &= ~GENMASK(7, 0);
	while (orders) {
		order = __fls(orders);
		if (!(bits & ((PAGE_SIZE << order) - 1)))
			return order;
		orders &= ~BIT(order);
	}
	return 0;
}

static struct p2pdma_range *p2pdma_range_create(struct pci_dev *pdev, int bar,
						size_t size, u64 offset)
{
	struct p2pdma_range *range;
	struct dev_pagemap *pgmap;
	int nid = dev_to_node(&pdev->dev);
	u64 bus_start;

	range = kzalloc_node(sizeof(*range), GFP_KERNEL, nid);
	if (!range)
		return NULL;

	pgmap = &range->pgmap;
	pgmap->range.start = pci_resource_start(pdev, bar) + offset;
	pgmap->range.end = pgmap->range.start + size - 1;
	pgmap->nr_range = 1;
	pgmap->type = MEMORY_DEVICE_PCI_P2PDMA;
	pgmap->ops = &p2pdma_pgmap_ops;

	range->provider = pdev;
	range->p2pdma = rcu_dereference_protected(pdev->p2pdma, 1);
	INIT_LIST_HEAD(&range->node);
	range->bus_offset = pci_bus_address(pdev, bar) -
			    pci_resource_start(pdev, bar);
	bus_start = pgmap->range.start + range->bus_offset;
	pgmap->vmemmap_shift = p2pdma_folio_order(pgmap->range.start, size,
						  range->bus_offset,
						  p2pdma_folio_orders());

	if (p2pdma_pool_init(&range->pool, bus_start >> PAGE_SHIFT,
			     size >> PAGE_SHIFT, nid)) {
		kfree(range);
		return NULL;
	}
	return range;
}

/**
 * pci_p2pdma_add_resource() - offer part of a BAR as peer-to-peer memory
 * @pdev: the provider
 * @bar: BAR holding the memory; must be a memory BAR
 * @size: bytes to offer, or 0 for everything from @offset to the BAR's end
 * @offset: where the memory starts within the BAR
 *
 * Creates struct pages for the range, so that it can take part in any
 * DMA, and adds it to the provider's allocator.  The first call also
 * creates the p2pmem/ sysfs directory.  The device may call this more than
 * once; everything is undone by devm when the driver unbinds.  The start
 * and size of the range must be multiples of memremap_compat_align() (2 MiB
 * on x86), the unit in which memory hotplug adds struct pages.
 *
 * A range whose start, size and bus offset are multiples of 2 MiB or 1 GiB
 * gets struct pages as folios of that size (the largest that fits), which
 * costs a few vmemmap pages per folio instead of one per 64 KiB of BAR,
 * and lets user mappings use PMD and PUD entries.  Small allocations are
 * not affected.
 *
 * Return: 0 on success, -EINVAL for a bad BAR, offset or size, or another
 * negative errno if the memory could not be set up.
 */
int pci_p2pdma_add_resource(struct pci_dev *pdev, int bar, size_t size,
			    u64 offset)
{
	resource_size_t len = pci_resource_len(pdev, bar);
	struct p2pdma_range *range;
	unsigned long flags;
	void *addr;
	int err;

	if (!(pci_resource_flags(pdev, bar) & IORESOURCE_MEM))
		return -EINVAL;
	if (offset >= len)
		return -EINVAL;
	if (!size)
		size = len - offset;
	if (size > len - offset)
		return -EINVAL;
	if (!IS_ALIGNED(pci_resource_start(pdev, bar) + offset,
			memremap_compat_align()) ||
	    !IS_ALIGNED(size, memremap_compat_align())) {
		pci_info(pdev, "p2pmem: %#zx bytes at BAR %d offset %#llx: not aligned to %#lx\n",
			 size, bar, offset, memremap_compat_align());
		return -EINVAL;
	}

	if (!rcu_access_pointer(pdev->p2pdma)) {
		err = p2pdma_setup(pdev);
		if (err)
			return err;
	}

	range = p2pdma_range_create(pdev, bar, size, offset);
	if (!range)
		return -ENOMEM;

	/* devm runs actions in reverse: retire last, quiesce first. */
	err = devm_add_action_or_reset(&pdev->dev, p2pdma_range_retire, range);
	if (err)
		return err;

	addr = devm_memremap_pages(&pdev->dev, &range->pgmap);
	if (IS_ERR(addr) && range->pgmap.vmemmap_shift) {
		/* Huge folios are a saving, never a reason to fail. */
		pci_dbg(pdev, "p2pmem: no folios of order %lu: %pe\n",
			range->pgmap.vmemmap_shift, addr);
		range->pgmap.vmemmap_shift = 0;
		addr = devm_memremap_pages(&pdev->dev, &range->pgmap);
	}
	if (IS_ERR(addr)) {
		err = PTR_ERR(addr);
		goto retire;
	}

	err = devm_add_action(&pdev->dev, p2pdma_range_quiesce, range);
	if (err)
		goto unmap;

	range->kaddr = addr;
	spin_lock_irqsave(&range->p2pdma->lock, flags);
	WRITE_ONCE(range->live, true);
	list_add_tail_rcu(&range->node, &range->p2pdma->ranges);
	spin_unlock_irqrestore(&range->p2pdma->lock, flags);

	pci_info(pdev, "added peer-to-peer DMA memory %#llx-%#llx\n",
		 range->pgmap.range.start, range->pgmap.range.end);
	pci_dbg(pdev, "p2pmem: folios of %lu KiB\n",
		(PAGE_SIZE << range->pgmap.vmemmap_shift) >> 10);
	return 0;

unmap:
	devm_memunmap_pages(&pdev->dev, &range->pgmap);
retire:
	devm_release_action(&pdev->dev, p2pdma_range_retire, range);
	return err;
}
EXPORT_SYMBOL_GPL(pci_p2pdma_add_resource);

/*
 * Verdicts
 */

/* Cached verdict of a pair; %PCI_P2PDMA_MAP_UNKNOWN if there is none. */
static enum pci_p2pdma_map_type
p2pdma_cached_verdict(struct pci_dev *provider, struct pci_dev *client,
		      int *distance)
{
	enum pci_p2pdma_map_type map = PCI_P2PDMA_MAP_UNKNOWN;
	struct pci_p2pdma *p2pdma;

	rcu_read_lock();
	p2pdma = rcu_dereference(provider->p2pdma);
	if (p2pdma)
		map = p2pdma_verdicts_lookup(&p2pdma->verdicts, client,
					     distance);
	rcu_read_unlock();
	return map;
}

/* Work out the verdict of a pair (logging it if @verbose) and cache it. */
static void p2pdma_judge_cached(struct pci_dev *provider,
				struct pci_dev *client, bool verbose,
				struct p2pdma_verdict *v)
{
	unsigned long epoch = p2pdma_verdicts_epoch();
	struct pci_p2pdma *p2pdma;

	p2pdma_judge(provider, client, verbose, v);
	rcu_read_lock();
	p2pdma = rcu_dereference(provider->p2pdma);
	if (p2pdma)
		p2pdma_verdicts_store(&p2pdma->verdicts, client, v, epoch);
	rcu_read_unlock();
}

/* The nearest PCI device at or above @dev, with a reference, or NULL. */
static struct pci_dev *p2pdma_pci_parent(struct device *dev)
{
	struct device *parent;

	for (dev = get_device(dev); dev; dev = parent) {
		if (dev_is_pci(dev))
			return to_pci_dev(dev);
		parent = get_device(dev->parent);
		put_device(dev);
	}
	return NULL;
}

/**
 * pci_p2pdma_distance_many() - how well a provider suits a set of clients
 * @provider: device with P2P memory
 * @clients: devices that would DMA to or from it; each may be a PCI device
 *	or any device below one (its nearest PCI ancestor is used)
 * @num_clients: number of entries in @clients
 * @verbose: work every verdict out afresh and log its reasons: why an
 *	unsuitable client cannot reach @provider, and which ACS redirects send
 *	a pair's traffic through the host bridge, even where that route is then
 *	allowed
 *
 * The distance of a pair counts the hops from each device up to the
 * nearest device they share (0 for a device and itself, 2 for two
 * functions of one device, 4 for two devices on one switch), also when an
 * ACS redirect sends the pair's traffic through the host bridge instead.
 * A pair without a common device counts both paths in full, every device
 * from each end up to the topmost one below its host bridge (4 for two
 * endpoints on two root ports).  A pair in which a path has more than
 * %P2PDMA_MAX_HOPS devices, bridges included, cannot do P2P DMA.
 *
 * Without @verbose, a verdict comes from @provider's verdict cache when it
 * has one for the client and is computed and cached otherwise; a @verbose
 * call always computes it (and refreshes the cache) so that the reasons
 * can be logged.
 *
 * Return: the sum of the distances to all clients (lower is better), or
 * -1 if any client cannot do P2P DMA with @provider.  Also -1 for a
 * @num_clients of 0 or below (the previous implementation returned 0 for
 * a negative count).
 */
int pci_p2pdma_distance_many(struct pci_dev *provider, struct device **clients,
			     int num_clients, bool verbose)
{
	bool refused = false;
	int i, total = 0;

	if (num_clients <= 0)
		return -1;

	for (i = 0; i < num_clients; i++) {
		struct pci_dev *client = p2pdma_pci_parent(clients[i]);
		enum pci_p2pdma_map_type map = PCI_P2PDMA_MAP_UNKNOWN;
		struct p2pdma_verdict v;
		int distance;

		if (!client) {
			if (verbose)
				dev_warn(clients[i],
					 "peer-to-peer DMA with %s refused: not a PCI device, nor below one\n",
					 pci_name(provider));
			refused = true;
		} else {
			if (!verbose)
				map = p2pdma_cached_verdict(provider, client,
							    &distance);
			if (map == PCI_P2PDMA_MAP_UNKNOWN) {
				p2pdma_judge_cached(provider, client, verbose, &v);
				map = v.map;
				distance = v.distance;
			}
			pci_dev_put(client);
			if (map == PCI_P2PDMA_MAP_NOT_SUPPORTED)
				refused = true;
			else
				total += distance;
		}
		/* Verbose callers get every reason, not just the first. */
		if (refused && !verbose)
			break;
	}
	return refused ? -1 : total;
}
EXPORT_SYMBOL_GPL(pci_p2pdma_distance_many);

/**
 * pci_p2pdma_map_resource() - map a peer's register range for a device's DMA
 * @target: the PCI device whose memory BAR holds the range
 * @phys: CPU physical address of the range
 * @size: its length in bytes
 * @initiator: the device that will access the range by DMA
 * @dir: the direction of that DMA
 * @addr: where to store the address @initiator must use
 *
 * For a range of a peer that is not p2pmem, such as the doorbell registers
 * of an NVMe controller that another device rings.  The P2PDMA verdict
 * between @target and @initiator decides, as it does for p2pmem: the PCI
 * bus address when the traffic stays below a common upstream device, a
 * mapping by dma_map_resource() (through any IOMMU) when it crosses a host
 * bridge that routes peer-to-peer traffic, and a refusal, logged with its
 * reason, otherwise.  A bus address beyond @initiator's DMA mask (or bus
 * DMA limit) is refused too: the device would reach another address.
 *
 * Return: the map type (%PCI_P2PDMA_MAP_BUS_ADDR or
 * %PCI_P2PDMA_MAP_THRU_HOST_BRIDGE), to be passed to
 * pci_p2pdma_unmap_resource(); -EINVAL if the range is not inside one
 * memory BAR of @target, -EREMOTEIO if @initiator cannot reach it, -ENOMEM
 * if the DMA mapping fails.
 */
int pci_p2pdma_map_resource(struct pci_dev *target, phys_addr_t phys,
			    size_t size, struct device *initiator,
			    enum dma_data_direction dir, dma_addr_t *addr)
{
	struct p2pdma_verdict v;
	struct pci_dev *client;
	int bar;

	if (!size || phys + size - 1 < phys)
		return -EINVAL;
	for (bar = 0; bar < PCI_STD_NUM_BARS; bar++) {
		struct resource *r = pci_resource_n(target, bar);

		if ((r->flags & IORESOURCE_MEM) && phys >= r->start &&
		    phys + size - 1 <= r->end)
			break;
	}
	if (bar == PCI_STD_NUM_BARS)
		return -EINVAL;

	client = p2pdma_pci_parent(initiator);
	if (!client) {
		dev_warn(initiator,
			 "peer-to-peer DMA with %s refused: not a PCI device, nor below one\n",
			 pci_name(target));
		return -EREMOTEIO;
	}
	p2pdma_judge_cached(target, client, true, &v);
	pci_dev_put(client);

	switch (v.map) {
	case PCI_P2PDMA_MAP_BUS_ADDR:
		*addr = pci_bus_address(target, bar) +
			(phys - pci_resource_start(target, bar));
		/* No DMA API on this path: it would check the mask. */
		if (*addr + size - 1 > min_not_zero(dma_get_mask(initiator),
						    initiator->bus_dma_limit)) {
			dev_warn(initiator,
				 "peer-to-peer DMA with %s refused: bus address %pad is beyond this device's DMA mask\n",
				 pci_name(target), addr);
			return -EREMOTEIO;
		}
		return v.map;
	case PCI_P2PDMA_MAP_THRU_HOST_BRIDGE:
		*addr = dma_map_resource(initiator, phys, size, dir, 0);
		if (dma_mapping_error(initiator, *addr))
			return -ENOMEM;
		return v.map;
	default:
		return -EREMOTEIO;
	}
}
EXPORT_SYMBOL_GPL(pci_p2pdma_map_resource);

/**
 * pci_p2pdma_unmap_resource() - undo pci_p2pdma_map_resource()
 * @initiator: the device it was mapped for
 * @addr: the address it returned
 * @size: the size it was given
 * @dir: the direction it was given
 * @map: the map type it returned
 */
void pci_p2pdma_unmap_resource(struct device *initiator, dma_addr_t addr,
			       size_t size, enum dma_data_direction dir,
			       int map)
{
	if (map == PCI_P2PDMA_MAP_THRU_HOST_BRIDGE)
		dma_unmap_resource(initiator, addr, size, dir, 0);
}
EXPORT_SYMBOL_GPL(pci_p2pdma_unmap_resource);

/**
 * pci_has_p2pmem() - whether a device offers P2P memory to other drivers
 * @pdev: device to check
 *
 * Return: true if @pdev has P2P memory and has published it.
 */
bool pci_has_p2pmem(struct pci_dev *pdev)
{
	struct pci_p2pdma *p2pdma;
	bool ret;

	rcu_read_lock();
	p2pdma = rcu_dereference(pdev->p2pdma);
	ret = p2pdma && READ_ONCE(p2pdma->published);
	rcu_read_unlock();
	return ret;
}
EXPORT_SYMBOL_GPL(pci_has_p2pmem);

/**
 * pci_p2pmem_find_except() - pick the closest published provider but one
 * @clients: devices that will use the memory
 * @num_clients: number of entries in @clients
 * @except: a provider not to pick (its memory is unsuitable), or NULL
 *
 * Considers every device with published P2P memory, other than @except,
 * that all clients can reach (see pci_p2pdma_distance_many()) and returns
 * the one with the smallest distance; among equally close ones each is
 * equally likely, so that load spreads over them.
 *
 * Return: the provider with a reference held (drop it with pci_dev_put()),
 * or NULL if none suits.
 */
struct pci_dev *pci_p2pmem_find_except(struct device **clients,
				       int num_clients, struct pci_dev *except)
{
	struct pci_dev *pdev = NULL, *best = NULL;
	int best_dist = INT_MAX;
	u32 ties = 0;

	for_each_pci_dev(pdev) {
		int dist;

		if (pdev == except || !pci_has_p2pmem(pdev))
			continue;
		dist = pci_p2pdma_distance_many(pdev, clients, num_clients,
						false);
		if (dist < 0 || dist > best_dist)
			continue;
		if (dist < best_dist) {
			best_dist = dist;
			ties = 0;
		}
		/* Reservoir sampling: keep the k-th tie with probability 1/k. */
		if (get_random_u32_below(++ties) == 0) {
			pci_dev_put(best);
			best = pci_dev_get(pdev);
		}
	}
	return best;
}
EXPORT_SYMBOL_GPL(pci_p2pmem_find_except);

/**
 * pci_p2pmem_find_many() - pick the closest published provider for clients
 * @clients: devices that will use the memory
 * @num_clients: number of entries in @clients
 *
 * pci_p2pmem_find_except() with no provider left out.
 *
 * Return: the provider with a reference held (drop it with pci_dev_put()),
 * or NULL if none suits.
 */
struct pci_dev *pci_p2pmem_find_many(struct device **clients, int num_clients)
{
	return pci_p2pmem_find_except(clients, num_clients, NULL);
}
EXPORT_SYMBOL_GPL(pci_p2pmem_find_many);

/**
 * pci_alloc_p2pmem() - allocate P2P memory from a provider
 * @pdev: the provider
 * @size: bytes to allocate (rounded up to whole pages)
 *
 * The memory is physically contiguous; if @size is a power of two pages,
 * its bus address is aligned to @size.  So an allocation of 2 MiB or more
 * from a range of huge folios (see pci_p2pdma_add_resource()) is one folio,
 * or lies in one, if @size is a power of two.  Safe in atomic context.
 *
 * Return: kernel address of the memory, or NULL if @pdev has no P2P
 * memory, none of that size is free, or it is being removed.
 */
void *pci_alloc_p2pmem(struct pci_dev *pdev, size_t size)
{
	unsigned long pg, npages = p2pdma_bytes_to_pages(size);
	struct p2pdma_range *range;
	struct pci_p2pdma *p2pdma;
	long n = -ENODEV;

	if (!size)
		return NULL;

	/* RCU keeps p2pdma valid; the range ref then pins the memory. */
	rcu_read_lock();
	p2pdma = rcu_dereference(pdev->p2pdma);
	if (p2pdma)
		n = __p2pdma_take(p2pdma, npages, true, &range, &pg);
	rcu_read_unlock();
	return n > 0 ? p2pdma_range_addr(range, pg) : NULL;
}
EXPORT_SYMBOL_GPL(pci_alloc_p2pmem);

/**
 * pci_free_p2pmem() - free memory from pci_alloc_p2pmem()
 * @pdev: the provider it came from
 * @addr: address returned by pci_alloc_p2pmem(); NULL is ignored
 * @size: the size passed to pci_alloc_p2pmem()
 *
 * The request is checked, in whole pages, before anything is freed: @addr
 * must be the start of a live allocation from @pdev and @size must round up
 * to the same number of pages as the size it was allocated with.  Anything
 * else (an address inside an allocation or outside @pdev's memory, a size
 * that covers less or more than the allocation, memory freed already, or
 * pages of a user mapping) is a caller bug: the first one warns with a
 * backtrace, and none of them frees memory or drops a reference.
 */
void pci_free_p2pmem(struct pci_dev *pdev, void *addr, size_t size)
{
	struct p2pdma_range *range = ERR_PTR(-ENODEV);
	struct pci_p2pdma *p2pdma;

	if (!addr)
		return;

	rcu_read_lock();
	p2pdma = rcu_dereference(pdev->p2pdma);
	if (p2pdma)
		range = p2pdma_free_pages(p2pdma, addr,
					  p2pdma_bytes_to_pages(size));
	rcu_read_unlock();

	if (IS_ERR(range)) {
		pci_WARN_ONCE(pdev, true,
			      "p2pmem: not freeing %zu bytes at %p: %s\n",
			      size, addr, p2pdma_free_error(PTR_ERR(range)));
		return;
	}
	percpu_ref_put(&range->pgmap.ref);
}
EXPORT_SYMBOL_GPL(pci_free_p2pmem);

/**
 * pci_p2pmem_virt_to_bus() - PCI bus address of P2P memory
 * @pdev: the provider the memory belongs to
 * @addr: kernel address inside memory from pci_alloc_p2pmem()
 *
 * Return: the bus address to program into a peer device, or 0 if @addr is
 * NULL or not P2P memory of @pdev (the previous implementation returned an
 * all-ones address for memory that was not in the provider's pool).
 */
pci_bus_addr_t pci_p2pmem_virt_to_bus(struct pci_dev *pdev, void *addr)
{
	struct p2pdma_range *range;
	struct pci_p2pdma *p2pdma;
	pci_bus_addr_t bus = 0;

	if (!addr)
		return 0;

	rcu_read_lock();
	p2pdma = rcu_dereference(pdev->p2pdma);
	if (p2pdma) {
		list_for_each_entry_rcu(range, &p2pdma->ranges, node) {
			if (p2pdma_range_holds(range, addr)) {
				bus = range->pgmap.range.start +
				      (addr - range->kaddr) + range->bus_offset;
				break;
			}
		}
	}
	rcu_read_unlock();
	return bus;
}
EXPORT_SYMBOL_GPL(pci_p2pmem_virt_to_bus);

/**
 * pci_p2pmem_alloc_sgl() - allocate P2P memory described by a scatterlist
 * @pdev: the provider
 * @nents: returns the number of entries in the list
 * @length: bytes to allocate
 *
 * Return: a scatterlist (one entry) over freshly allocated P2P memory, to
 * be freed with pci_p2pmem_free_sgl(), or NULL on failure.
 */
struct scatterlist *pci_p2pmem_alloc_sgl(struct pci_dev *pdev,
					 unsigned int *nents, u32 length)
{
	struct scatterlist *sg;
	void *addr;

	sg = kmalloc(sizeof(*sg), GFP_KERNEL);
	if (!sg)
		return NULL;

	addr = pci_alloc_p2pmem(pdev, length);
	if (!addr) {
		kfree(sg);
		return NULL;
	}

	sg_init_table(sg, 1);
	sg_set_buf(sg, addr, length);
	*nents = 1;
	return sg;
}
EXPORT_SYMBOL_GPL(pci_p2pmem_alloc_sgl);

/**
 * pci_p2pmem_free_sgl() - free a list from pci_p2pmem_alloc_sgl()
 * @pdev: the provider the memory came from
 * @sgl: the list; the memory of every entry is freed, then the list
 */
void pci_p2pmem_free_sgl(struct pci_dev *pdev, struct scatterlist *sgl)
{
	struct scatterlist *sg;

	for (sg = sgl; sg; sg = sg_next(sg))
		pci_free_p2pmem(pdev, sg_virt(sg), sg->length);
	kfree(sgl);
}
EXPORT_SYMBOL_GPL(pci_p2pmem_free_sgl);

/**
 * pci_p2pmem_publish() - let other drivers find a provider's memory
 * @pdev: the provider
 * @publish: true to offer the memory through pci_p2pmem_find(), false to
 *	keep it for the provider's own driver
 *
 * Does nothing if @pdev has no P2P memory.
 */
void pci_p2pmem_publish(struct pci_dev *pdev, bool publish)
{
	struct pci_p2pdma *p2pdma;

	rcu_read_lock();
	p2pdma = rcu_dereference(pdev->p2pdma);
	if (p2pdma)
		WRITE_ONCE(p2pdma->published, publish);
	rcu_read_unlock();
}
EXPORT_SYMBOL_GPL(pci_p2pmem_publish);

/*
 * DMA mapping
 */

/* How @dev reaches the memory of @pgmap, also for p2pdma_block.c. */
enum pci_p2pdma_map_type p2pdma_map_type(struct dev_pagemap *pgmap,
					 struct device *dev)
{
	struct pci_dev *provider = to_p2pdma_range(pgmap)->provider;
	enum pci_p2pdma_map_type map;
	struct p2pdma_verdict v;
	struct pci_dev *client;
	int distance;

	if (!dev_is_pci(dev))
		return PCI_P2PDMA_MAP_NOT_SUPPORTED;
	client = to_pci_dev(dev);

	map = p2pdma_cached_verdict(provider, client, &distance);
	if (map != PCI_P2PDMA_MAP_UNKNOWN)
		return map;

	p2pdma_judge_cached(provider, client, true, &v);
	return v.map;
}

/*
 * Out of line: the verdict lookup needs a stack frame, and the common case,
 * the same range as the segment before, should not pay for setting one up.
 */
static noinline void p2pdma_map_state_set(struct pci_p2pdma_map_state *state,
					  struct dev_pagemap *pgmap,
					  struct device *dev)
{
	state->pgmap = pgmap;
	state->map = p2pdma_map_type(pgmap, dev);
	state->bus_off = to_p2pdma_range(pgmap)->bus_offset;
	if (state->map == PCI_P2PDMA_MAP_NOT_SUPPORTED)
		trace_p2pdma_map_refused(to_p2pdma_range(pgmap)->provider, dev);
}

/**
 * pci_p2pdma_map_segment() - map a P2P scatterlist segment if it can be
 * @state: per-list state, zeroed before the first segment
 * @dev: the device that will do the DMA
 * @sg: a segment whose page is a P2P page
 *
 * For dma_map_sg() implementations.  Looks up how @dev reaches the memory
 * whenever the segment's provider range differs from that of the segment
 * before it (@state remembers the last one): from the provider's verdict
 * cache, or on a miss by computing the verdict, logging it as a verbose
 * pci_p2pdma_distance() would, and caching it.  For
 * %PCI_P2PDMA_MAP_BUS_ADDR the segment is mapped here, to its bus address,
 * and marked as such; for %PCI_P2PDMA_MAP_THRU_HOST_BRIDGE the caller maps
 * it like system memory; %PCI_P2PDMA_MAP_NOT_SUPPORTED means it cannot be
 * mapped for @dev (always the case, unlogged, if @dev is not a PCI
 * device).
 *
 * Return: the map type for the segment.
 */
enum pci_p2pdma_map_type
pci_p2pdma_map_segment(struct pci_p2pdma_map_state *state, struct device *dev,
		       struct scatterlist *sg)
{
	struct dev_pagemap *pgmap = page_pgmap(sg_page(sg));

	if (unlikely(state->pgmap != pgmap))
		p2pdma_map_state_set(state, pgmap, dev);

	if (state->map == PCI_P2PDMA_MAP_BUS_ADDR) {
		sg->dma_address = sg_phys(sg) + state->bus_off;
		sg_dma_len(sg) = sg->length;
		sg_dma_mark_bus_address(sg);
	}
	return state->map;
}

/* One line per refused I/O, ratelimited: the provider, the client, why. */
static void p2pdma_log_refusal(struct pci_dev *provider, struct pci_dev *client)
{
	static DEFINE_RATELIMIT_STATE(rs, DEFAULT_RATELIMIT_INTERVAL,
				      DEFAULT_RATELIMIT_BURST);
	struct p2pdma_path *paths;
	struct seq_buf sb;
	char *why;

	if (!__ratelimit(&rs))
		return;
	/* The caller may be an IOCB_NOWAIT submission: do not sleep. */
	why = kmalloc(P2PDMA_WHY_LEN, GFP_NOWAIT | __GFP_NOWARN);
	paths = kmalloc_array(2, sizeof(*paths), GFP_NOWAIT | __GFP_NOWARN);
	if (why && paths) {
		seq_buf_init(&sb, why, P2PDMA_WHY_LEN);
		p2pdma_print_why(&sb, provider, client, paths);
	}
	pci_warn(client, "peer-to-peer I/O with p2pmem of %s refused: %s\n",
		 pci_name(provider),
		 why && paths ? seq_buf_str(&sb) : "see its p2pmem/peers");
	kfree(paths);
	kfree(why);
}

/**
 * pci_p2pdma_check_page() - can a device DMA to or from a P2P page
 * @dev: the device that would do the DMA
 * @page: a P2P page (is_pci_p2pdma_page()), held by the caller
 *
 * For code that gathers pages for a device before it maps them, such as
 * the block layer pinning user pages for direct I/O, so that P2P memory
 * the device cannot reach is refused there, before a request is built,
 * rather than when the DMA mapping of a request already handed to the
 * driver fails.  Answers from the provider's verdict cache, as
 * pci_p2pdma_map_segment() does, and like it explains a verdict it has to
 * compute.  Each refusal fires the p2pdma_map_refused trace event and logs
 * one ratelimited line naming the provider, the client and the reason.
 *
 * Return: 0 if @dev can reach @page, -EREMOTEIO if it cannot.
 */
int pci_p2pdma_check_page(struct device *dev, struct page *page)
{
	struct dev_pagemap *pgmap = page_pgmap(page);
	struct pci_dev *provider = to_p2pdma_range(pgmap)->provider;

	if (p2pdma_map_type(pgmap, dev) != PCI_P2PDMA_MAP_NOT_SUPPORTED)
		return 0;
	trace_p2pdma_map_refused(provider, dev);
	if (dev_is_pci(dev))
		p2pdma_log_refusal(provider, to_pci_dev(dev));
	return -EREMOTEIO;
}
EXPORT_SYMBOL_GPL(pci_p2pdma_check_page);

/*
 * configfs/sysfs helpers
 */

/**
 * pci_p2pdma_enable_store() - parse a "use P2P memory" attribute
 * @page: the written value: a PCI device name (e.g. "0000:01:00.0") or a
 *	boolean as kstrtobool() takes it; a trailing newline is fine
 * @p2p_dev: returns the named device, with a reference held, when a
 *	device was given; left alone for a boolean
 * @use_p2pdma: returns whether P2P memory is to be used
 *
 * A device must have published P2P memory.  "0" and "1" only count as
 * booleans on their own, so a mistyped device name such as "0000:01:00.7"
 * is not taken for "0".  Show the attribute with pci_p2pdma_enable_show().
 *
 * Return: 0 on success, -ENODEV if the value names no usable device and is
 * no boolean either.
 */
int pci_p2pdma_enable_store(const char *page, struct pci_dev **p2p_dev,
			    bool *use_p2pdma)
{
	int len = strcspn(page, "\n");
	struct device *dev;
	bool val;

	dev = bus_find_device_by_name(&pci_bus_type, NULL, page);
	if (dev) {
		struct pci_dev *pdev = to_pci_dev(dev);

		if (!pci_has_p2pmem(pdev)) {
			pci_err(pdev,
				"cannot be the p2pmem provider: it has no peer-to-peer memory\n");
			pci_dev_put(pdev);
			return -ENODEV;
		}
		*p2p_dev = pdev;
		*use_p2pdma = true;
		return 0;
	}

	if ((page[0] != '0' && page[0] != '1') || iscntrl(page[1])) {
		if (!kstrtobool(page, &val)) {
			*use_p2pdma = val;
			return 0;
		}
	}

	pr_err("p2pmem: \"%.*s\" is neither a PCI device nor a boolean\n",
	       len, page);
	return -ENODEV;
}
EXPORT_SYMBOL_GPL(pci_p2pdma_enable_store);

/**
 * pci_p2pdma_enable_show() - format a "use P2P memory" attribute
 * @page: buffer of at least PAGE_SIZE bytes
 * @p2p_dev: the chosen provider, or NULL
 * @use_p2pdma: whether P2P memory is used
 *
 * Return: the length written: "0" when off, "1" when on with any provider,
 * else the provider's name, each followed by a newline.
 */
ssize_t pci_p2pdma_enable_show(char *page, struct pci_dev *p2p_dev,
			       bool use_p2pdma)
{
	const char *val = "0";

	if (use_p2pdma)
		val = p2p_dev ? pci_name(p2p_dev) : "1";
	return scnprintf(page, PAGE_SIZE, "%s\n", val);
}
EXPORT_SYMBOL_GPL(pci_p2pdma_enable_show);

#ifdef CONFIG_PCI_P2PDMA_KUNIT_TEST
#include "p2pdma_kunit.h"
#endif
