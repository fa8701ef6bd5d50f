// SPDX-License-Identifier: GPL-2.0
/*
 * PCI P2PDMA in user space: the p2pmem/ sysfs directory of a provider
 * (size, available, published, the verdict of every possible client in
 * peers) and p2pmem/allocate, whose mmap() hands fresh P2P memory to user
 * space, e.g. as an O_DIRECT buffer.
 */

#include <linux/anon_inodes.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/pci.h>
#include <linux/pci-p2pdma.h>
#include <linux/percpu-refcount.h>
#include <linux/pfn_t.h>
#include <linux/rcupdate.h>
#include <linux/rwsem.h>
#include <linux/seq_buf.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/sysfs.h>
#include <linux/workqueue.h>

#include "p2pdma.h"

/*
 * Size and free bytes of a provider, read without its lock: p2pmem/size and
 * available are world-readable, and a reader looping on them must not hold
 * off allocations, or interrupts, for a walk over every CPU.  Free means not
 * handed out, wherever it sits (buddy or cache); the count only changes when
 * pages go to or come back from a user, so it is exact whenever no
 * allocation or free is under way, drains and refills included.
 */
static void p2pdma_totals(struct pci_dev *pdev, size_t *size, size_t *avail)
{
	struct p2pdma_range *range;
	struct pci_p2pdma *p2pdma;
	unsigned long npages;

	*size = 0;
	*avail = 0;
	rcu_read_lock();
	p2pdma = rcu_dereference(pdev->p2pdma);
	if (p2pdma) {
		list_for_each_entry_rcu(range, &p2pdma->ranges, node) {
			npages = range->pool.buddy->npages;
			*size += npages << PAGE_SHIFT;
			*avail += (npages - p2pdma_pool_taken(&range->pool)) <<
				  PAGE_SHIFT;
		}
	}
	rcu_read_unlock();
}

static ssize_t size_show(struct device *dev, struct device_attribute *attr,
			 char *buf)
{
	size_t size, avail;

	p2pdma_totals(to_pci_dev(dev), &size, &avail);
	return sysfs_emit(buf, "%zu\n", size);
}
static DEVICE_ATTR_RO(size);

static ssize_t available_show(struct device *dev,
			      struct device_attribute *attr, char *buf)
{
	size_t size, avail;

	p2pdma_totals(to_pci_dev(dev), &size, &avail);
	return sysfs_emit(buf, "%zu\n", avail);
}
static DEVICE_ATTR_RO(available);

static ssize_t published_show(struct device *dev,
			      struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%d\n", pci_has_p2pmem(to_pci_dev(dev)));
}
static DEVICE_ATTR_RO(published);

/*
 * Mappings of p2pmem/allocate
 *
 * Each mmap() takes all its memory at once, as naturally aligned blocks,
 * and swaps the sysfs file of the VMA for a file of its own (an anonymous
 * inode) whose private data is a struct p2pmem_map.  Faults then map the
 * blocks: a PUD or PMD where a block, its alignment and the VMA allow it,
 * else 4 KiB entries.  All are devmap entries: they take no page reference
 * and write no struct page, which the tail pages of a huge folio need (their
 * vmemmap is shared).  Fork, mremap, splits and MADV_DONTNEED just refault.
 *
 * So pages are not owned through their counts: the map owns them, page by
 * page, and gives back those that no VMA of its file covers any more, when
 * a VMA goes (a partial munmap), when the file is released (the last VMA is
 * gone) or when the provider revokes the map; but only once GUP holds no
 * folio of them (an O_DIRECT still in flight).  What GUP held is looked at
 * again every few ms by a worker.
 *
 * Which VMAs cover what is tracked by the map itself (->open and ->close),
 * not read from the file's i_mmap tree: a VMA leaves i_mmap before its mm's
 * TLB flush, but its ->close comes after it, so a page is never given back
 * while a CPU may still reach it through a stale translation.
 */

/**
 * struct p2pmem_blk - one block of memory of a mapping
 * @range: the range of the block; the map holds one reference on it while
 *	it owns any page of the block
 * @pg: first page number, in @range's pool
 * @off: first page offset of the block in the mapping
 * @npages: number of pages
 * @owned: pages of the block the map still owns
 */
struct p2pmem_blk {
	struct p2pdma_range *range;
	unsigned long pg;
	unsigned long off;
	unsigned long npages;
	unsigned long owned;
};

/**
 * struct p2pmem_vma - a VMA that maps a p2pmem_map (its vm_private_data)
 * @node: entry in the map's @vmas
 * @vma: the VMA; its range is read under the file's i_mmap lock, which
 *	every change of it (a split, a merge) holds
 */
struct p2pmem_vma {
	struct list_head node;
	struct vm_area_struct *vma;
};

/**
 * struct p2pmem_map - the memory of one mmap() of p2pmem/allocate
 * @lock: faults read @revoked under it; revocation writes it
 * @revoked: faults give SIGBUS; the pages may be gone
 * @node: entry in p2pmem_maps until the map is freed
 * @pdev: the provider; only used while the map is not revoked
 * @mapping: of the map's file, while it is not released
 * @released: the file is gone
 * @dead: freed, or about to be; the worker must not touch the map
 * @npages: length of the mapping in pages
 * @owned: number of pages still owned
 * @owned_map: one bit per page of the mapping, set while owned
 * @vmas: the VMAs that map it, until their ->close
 * @untracked: a VMA could not be tracked (no memory at ->open): give back
 *	nothing before the file is released
 * @nblk: number of blocks in @blk
 * @blk: the blocks, by offset in the mapping
 * @free_work: gives back pages that GUP still held at release
 *
 * All fields but @lock, @revoked and the (fixed) blocks are guarded by
 * p2pmem_maps_lock.
 */
struct p2pmem_map {
	struct rw_semaphore lock;	/* @revoked against faults */
	bool revoked;
	struct list_head node;
	struct pci_dev *pdev;
	struct address_space *mapping;
	bool released;
	bool dead;
	unsigned long npages;
	unsigned long owned;
	unsigned long *owned_map;
	struct list_head vmas;
	bool untracked;
	unsigned int nblk;
	struct p2pmem_blk *blk;
	struct delayed_work free_work;
};

/* Every map with pages or a file left. */
static LIST_HEAD(p2pmem_maps);
static DEFINE_MUTEX(p2pmem_maps_lock);

/* How often the worker looks whether GUP let go of a page. */
#define P2PMEM_PIN_POLL_MS	10

/*
 * Entries mapped around a 4 KiB fault (an aligned window of this many
 * pages), as graphics drivers prefault: one fault instead of sixteen.
 */
#define P2PMEM_FAULT_AROUND	16

static struct page *p2pmem_page(struct p2pdma_range *range, unsigned long pg)
{
	return pfn_to_page(PHYS_PFN(range->pgmap.range.start) +
			   (pg - range->pool.buddy->origin));
}

/* Whether GUP holds a folio of the pages: idle P2P folios have count 1. */
static bool p2pmem_pinned(struct p2pdma_range *range, unsigned long pg,
			  unsigned long npages)
{
	unsigned long i = 0;

	while (i < npages) {
		struct page *page = p2pmem_page(range, pg + i);
		struct folio *folio = page_folio(page);

		if (folio_ref_count(folio) != 1)
			return true;
		i += folio_nr_pages(folio) - folio_page_idx(folio, page);
	}
	return false;
}

/* Give pages [@first, @end) of block @b back to the pool, all owned. */
static void p2pmem_blk_give_back(struct p2pmem_blk *b, unsigned long first,
				 unsigned long end)
{
	unsigned long pg = b->pg + (first - b->off), n = end - first;
	int err = p2pdma_pool_free(&b->range->pool, pg, n);

	if (err)
		p2pdma_free_refused(b->range, pg, n, err);
	b->owned -= n;
	if (!b->owned)
		percpu_ref_put(&b->range->pgmap.ref);
}

/*
 * Give back the pages of [@first, @end) that the map owns and GUP does not
 * hold.  No VMA may map them any more: GUP-fast takes its reference before
 * it checks the entry again, so a count seen at 1 once the entry is gone
 * stays free of new pins; smp_mb() orders the zap before the reads.
 * Called under p2pmem_maps_lock.  Returns the pages kept for GUP.
 */
static unsigned long p2pmem_map_give_back(struct p2pmem_map *map,
					  unsigned long first,
					  unsigned long end)
{
	unsigned long kept = 0, lo, hi, a, b;
	unsigned int i;

	/* The entries are gone: read the counts only after that. */
	smp_mb();
	for (i = 0; i < map->nblk && map->owned; i++) {
		struct p2pmem_blk *blk = &map->blk[i];

		lo = max(first, blk->off);
		hi = min(end, blk->off + blk->npages);
		if (lo >= hi || !blk->owned)
			continue;
		a = lo;
		for_each_set_bitrange_from(a, b, map->owned_map, hi) {
			if (p2pmem_pinned(blk->range, blk->pg + (a - blk->off),
					  b - a)) {
				kept += b - a;
				continue;
			}
			p2pmem_blk_give_back(blk, a, b);
			bitmap_clear(map->owned_map, a, b - a);
			map->owned -= b - a;
		}
	}
	return kept;
}

static unsigned long p2pmem_give_back_uncovered(struct p2pmem_map *map,
						pgoff_t cur, pgoff_t end);

static void p2pmem_map_free(struct p2pmem_map *map)
{
	kvfree(map->owned_map);
	kvfree(map->blk);
	kfree(map);
}

/*
 * Give back all a map owns, once nothing maps it.  Called under
 * p2pmem_maps_lock.  Returns true if the map is done with and dead: the
 * caller frees it once the lock is dropped.
 */
static bool p2pmem_map_retire(struct p2pmem_map *map)
{
	if (p2pmem_map_give_back(map, 0, map->npages)) {
		schedule_delayed_work(&map->free_work,
				      msecs_to_jiffies(P2PMEM_PIN_POLL_MS));
		return false;
	}
	if (!map->released)
		return false;
	map->dead = true;
	list_del(&map->node);
	return true;
}

/*
 * Pages that GUP held when they were given back: a released or revoked map
 * gives back all it owns, a live one what no VMA covers (a partial munmap),
 * so that the memory does not wait for the file to go.
 */
static void p2pmem_map_free_work(struct work_struct *work)
{
	struct p2pmem_map *map = container_of(to_delayed_work(work),
					      struct p2pmem_map, free_work);
	bool done = false;

	mutex_lock(&p2pmem_maps_lock);
	if (map->dead)
		;
	else if (map->released || map->revoked)
		done = p2pmem_map_retire(map);
	else if (p2pmem_give_back_uncovered(map, 0, map->npages))
		schedule_delayed_work(&map->free_work,
				      msecs_to_jiffies(P2PMEM_PIN_POLL_MS));
	mutex_unlock(&p2pmem_maps_lock);
	if (done)
		p2pmem_map_free(map);
}

/* The last VMA of the mapping is gone: give its memory back. */
static int p2pmem_map_release(struct inode *inode, struct file *file)
{
	struct p2pmem_map *map = file->private_data;
	bool done;

	if (!map)
		return 0;
	mutex_lock(&p2pmem_maps_lock);
	map->released = true;
	map->mapping = NULL;
	done = p2pmem_map_retire(map);
	mutex_unlock(&p2pmem_maps_lock);
	if (done) {
		/* A worker may still be on its way out. */
		cancel_delayed_work_sync(&map->free_work);
		p2pmem_map_free(map);
	}
	return 0;
}

static const struct file_operations p2pmem_map_fops = {
	.owner = THIS_MODULE,
	.release = p2pmem_map_release,
};

/*
 * Give back the pages of [@cur, @end) that no tracked VMA covers.  Called
 * under p2pmem_maps_lock, the map not released.  Returns the pages kept
 * for GUP.
 */
static unsigned long p2pmem_give_back_uncovered(struct p2pmem_map *map,
						pgoff_t cur, pgoff_t end)
{
	unsigned long kept = 0;
	struct p2pmem_vma *pv;
	pgoff_t next, cover;

	if (map->untracked)
		return 0;
	/* VMA splits and merges change ranges under it. */
	i_mmap_lock_read(map->mapping);
	while (cur < end) {
		/* How far VMAs cover from @cur, else where the next starts. */
		next = end;
		cover = cur;
		list_for_each_entry(pv, &map->vmas, node) {
			pgoff_t lo = pv->vma->vm_pgoff;
			pgoff_t hi = lo + vma_pages(pv->vma);

			if (hi <= cur || lo >= end)
				continue;
			if (lo <= cur)
				cover = max(cover, hi);
			else
				next = min(next, lo);
		}
		if (cover > cur) {
			cur = cover;
			continue;
		}
		kept += p2pmem_map_give_back(map, cur, min(next, map->npages));
		cur = next;
	}
	i_mmap_unlock_read(map->mapping);
	return kept;
}

/* A copy of a VMA (fork, a split, mremap's new place) maps the map too. */
static void p2pmem_open(struct vm_area_struct *vma)
{
	struct p2pmem_map *map = vma->vm_file->private_data;
	struct p2pmem_vma *pv = kmalloc(sizeof(*pv), GFP_KERNEL);

	vma->vm_private_data = pv;
	mutex_lock(&p2pmem_maps_lock);
	if (pv) {
		pv->vma = vma;
		list_add(&pv->node, &map->vmas);
	} else {
		map->untracked = true;
	}
	mutex_unlock(&p2pmem_maps_lock);
}

/*
 * A VMA is gone (munmap, exit, or the old place of an mremap), after its
 * mm flushed its TLB: give back the pages of its span that no other VMA,
 * of this process or another, maps.  Pages GUP still holds are retried by
 * the worker.
 */
static void p2pmem_close(struct vm_area_struct *vma)
{
	struct p2pmem_map *map = vma->vm_file->private_data;
	struct p2pmem_vma *pv = vma->vm_private_data;

	mutex_lock(&p2pmem_maps_lock);
	if (pv) {
		list_del(&pv->node);
		kfree(pv);
	}
	if (p2pmem_give_back_uncovered(map, vma->vm_pgoff,
				       vma->vm_pgoff + vma_pages(vma)))
		schedule_delayed_work(&map->free_work,
				      msecs_to_jiffies(P2PMEM_PIN_POLL_MS));
	mutex_unlock(&p2pmem_maps_lock);
}

/* The block holding page @pgoff of the mapping, or NULL. */
static struct p2pmem_blk *p2pmem_map_find(struct p2pmem_map *map,
					  pgoff_t pgoff)
{
	unsigned int lo = 0, hi = map->nblk;

	while (lo < hi) {
		unsigned int mid = lo + (hi - lo) / 2;
		struct p2pmem_blk *b = &map->blk[mid];

		if (pgoff < b->off)
			hi = mid;
		else if (pgoff >= b->off + b->npages)
			lo = mid + 1;
		else
			return b;
	}
	return NULL;
}

/* Devmap entries: GUP finds the page, mm takes no reference of its own. */
static pfn_t p2pmem_blk_pfn(struct p2pmem_blk *b, pgoff_t pgoff)
{
	struct page *page = p2pmem_page(b->range, b->pg + (pgoff - b->off));

	return __pfn_to_pfn_t(page_to_pfn(page), PFN_DEV | PFN_MAP);
}

static vm_fault_t p2pmem_insert_pte(struct vm_area_struct *vma,
				    unsigned long addr, struct p2pmem_blk *b,
				    pgoff_t pgoff)
{
	return vmf_insert_mixed(vma, addr, p2pmem_blk_pfn(b, pgoff));
}

/*
 * A 4 KiB fault: map the page, then the others of its window that are in
 * the VMA and the same block.  Entries already there are left alone.
 */
static vm_fault_t p2pmem_fault_pte(struct vm_fault *vmf, struct p2pmem_blk *b,
				   pgoff_t pgoff)
{
	struct vm_area_struct *vma = vmf->vma;
	unsigned long addr = vmf->address & PAGE_MASK;
	pgoff_t first = ALIGN_DOWN(pgoff, P2PMEM_FAULT_AROUND);
	pgoff_t pg, lo, hi;
	vm_fault_t ret;

	ret = p2pmem_insert_pte(vma, addr, b, pgoff);
	if (ret != VM_FAULT_NOPAGE)
		return ret;

	lo = max3(first, b->off, (pgoff_t)vma->vm_pgoff);
	hi = min3(first + P2PMEM_FAULT_AROUND, b->off + b->npages,
		  (pgoff_t)(vma->vm_pgoff + vma_pages(vma)));
	for (pg = lo; pg < hi; pg++) {
		if (pg == pgoff)
			continue;
		p2pmem_insert_pte(vma, addr + ((pg - pgoff) << PAGE_SHIFT), b,
				  pg);
	}
	return VM_FAULT_NOPAGE;
}

/*
 * A PMD or PUD entry, if the block holds the whole, aligned span.  A PUD
 * needs one folio under it too: GUP of a PUD takes the references of all
 * its pages on the folio of the first one (follow_huge_pud() sets a page
 * mask), and unpins them page by page.  A range of 2 MiB folios (one that
 * is not a multiple of 1 GiB) or of single pages still gives 1 GiB blocks;
 * those get PMDs, whose GUP takes each page's own folio.
 */
static vm_fault_t p2pmem_fault_huge(struct vm_fault *vmf, struct p2pmem_blk *b,
				    pgoff_t pgoff, unsigned int order)
{
	bool write = vmf->flags & FAULT_FLAG_WRITE;
	pfn_t pfn = p2pmem_blk_pfn(b, pgoff);

	if (pgoff + (1UL << order) > b->off + b->npages ||
	    !IS_ALIGNED(pfn_t_to_pfn(pfn), 1UL << order))
		return VM_FAULT_FALLBACK;
	if (order == PMD_ORDER)
		return vmf_insert_pfn_pmd(vmf, pfn, write);
	if (IS_ENABLED(CONFIG_HAVE_ARCH_TRANSPARENT_HUGEPAGE_PUD) &&
	    order == PUD_ORDER &&
	    b->range->pgmap.vmemmap_shift >= PUD_ORDER)
		return vmf_insert_pfn_pud(vmf, pfn, write);
	return VM_FAULT_FALLBACK;
}

/*
 * Map what the fault asks for: a PUD or PMD entry when its aligned span
 * lies in the VMA and in one block whose memory is just as aligned,
 * else VM_FAULT_FALLBACK and mm asks again for less.  mm zaps a whole huge
 * entry when a VMA is split inside it; the halves fault back in here.
 */
static vm_fault_t p2pmem_huge_fault(struct vm_fault *vmf, unsigned int order)
{
	struct vm_area_struct *vma = vmf->vma;
	struct p2pmem_map *map = vma->vm_file->private_data;
	unsigned long size = PAGE_SIZE << order;
	unsigned long addr = ALIGN_DOWN(vmf->address, size);
	struct p2pmem_blk *b;
	vm_fault_t ret;
	pgoff_t pgoff;

	if (addr < vma->vm_start || addr + size > vma->vm_end)
		return VM_FAULT_FALLBACK;
	pgoff = vma->vm_pgoff + ((addr - vma->vm_start) >> PAGE_SHIFT);

	down_read(&map->lock);
	b = map->revoked ? NULL : p2pmem_map_find(map, pgoff);
	if (!b)
		ret = VM_FAULT_SIGBUS;
	else if (order)
		ret = p2pmem_fault_huge(vmf, b, pgoff, order);
	else
		ret = p2pmem_fault_pte(vmf, b, pgoff);
	up_read(&map->lock);
	return ret;
}

static vm_fault_t p2pmem_fault(struct vm_fault *vmf)
{
	return p2pmem_huge_fault(vmf, 0);
}

static const struct vm_operations_struct p2pmem_vm_ops = {
	.open = p2pmem_open,
	.close = p2pmem_close,
	.fault = p2pmem_fault,
	.huge_fault = p2pmem_huge_fault,
};

static int p2pmem_blk_cmp(const void *a, const void *b)
{
	const struct p2pmem_blk *x = a, *y = b;

	return x->npages < y->npages ? 1 : x->npages > y->npages ? -1 : 0;
}

/* Make room for one more block. */
static int p2pmem_map_grow(struct p2pmem_map *map, unsigned int *room)
{
	struct p2pmem_blk *blk;

	if (map->nblk < *room)
		return 0;
	blk = kvmalloc_array(*room * 2, sizeof(*blk), GFP_KERNEL);
	if (!blk)
		return -ENOMEM;
	memcpy(blk, map->blk, map->nblk * sizeof(*blk));
	kvfree(map->blk);
	map->blk = blk;
	*room *= 2;
	return 0;
}

/* Give back every block of a map that was never mapped. */
static void p2pmem_map_unwind(struct p2pmem_map *map)
{
	unsigned int i;

	for (i = 0; i < map->nblk; i++)
		p2pmem_blk_give_back(&map->blk[i], map->blk[i].off,
				     map->blk[i].off + map->blk[i].npages);
	map->nblk = 0;
}

/*
 * Take @npages pages for a new mapping, in as few blocks as the pool gives,
 * and lay the blocks out largest first: each then starts at an offset that
 * is a multiple of its size, as its address is, so every block of 2 MiB or
 * more can be mapped by PMDs (or PUDs) once the VMA is aligned too.
 */
static int p2pmem_map_take(struct p2pmem_map *map, struct pci_dev *pdev,
			   unsigned long npages)
{
	unsigned int room = 8, i;
	struct pci_p2pdma *p2pdma;
	unsigned long off = 0;
	int err = 0;

	map->blk = kvmalloc_array(room, sizeof(*map->blk), GFP_KERNEL);
	/* One bit per page: 32 KiB per GiB, too much for kmalloc past 128 GiB. */
	map->owned_map = kvcalloc(BITS_TO_LONGS(npages), sizeof(unsigned long),
				  GFP_KERNEL);
	if (!map->blk || !map->owned_map)
		return -ENOMEM;

	/*
	 * Pages that came back one by one and sit in the per-CPU caches keep
	 * their blocks split: give them back to the buddy first, so that the
	 * mapping gets the lowest, largest free blocks.
	 */
	rcu_read_lock();
	p2pdma = rcu_dereference(pdev->p2pdma);
	if (p2pdma)
		p2pdma_drain(p2pdma);
	rcu_read_unlock();

	while (off < npages) {
		struct p2pmem_blk *b;
		long n;

		err = p2pmem_map_grow(map, &room);
		if (err)
			break;
		b = &map->blk[map->nblk];
		rcu_read_lock();
		p2pdma = rcu_dereference(pdev->p2pdma);
		n = p2pdma ? p2pdma_take(p2pdma, npages - off, false,
					 &b->range, &b->pg) : -ENODEV;
		rcu_read_unlock();
		if (n < 0) {
			err = n;
			break;
		}
		b->off = 0;	/* laid out below */
		b->npages = n;
		b->owned = n;
		map->nblk++;
		off += n;
	}
	if (err) {
		p2pmem_map_unwind(map);
		return err;
	}

	sort(map->blk, map->nblk, sizeof(*map->blk), p2pmem_blk_cmp, NULL);
	for (off = 0, i = 0; i < map->nblk; i++) {
		map->blk[i].off = off;
		off += map->blk[i].npages;
	}
	map->npages = npages;
	map->owned = npages;
	bitmap_set(map->owned_map, 0, npages);
	return 0;
}

static struct p2pmem_map *p2pmem_map_create(struct pci_dev *pdev,
					    unsigned long npages)
{
	struct p2pmem_map *map;
	int err;

	map = kzalloc(sizeof(*map), GFP_KERNEL);
	if (!map)
		return ERR_PTR(-ENOMEM);
	init_rwsem(&map->lock);
	INIT_LIST_HEAD(&map->node);
	INIT_LIST_HEAD(&map->vmas);
	INIT_DELAYED_WORK(&map->free_work, p2pmem_map_free_work);
	map->pdev = pdev;
	err = p2pmem_map_take(map, pdev, npages);
	if (err) {
		p2pmem_map_free(map);
		return ERR_PTR(err);
	}
	return map;
}

/*
 * mmap of p2pmem/allocate: fresh P2P memory for user space, e.g. as an
 * O_DIRECT buffer.  The memory is taken now, and mapped as it is touched.
 */
static int p2pmem_alloc_mmap(struct file *filp, struct kobject *kobj,
			     struct bin_attribute *attr,
			     struct vm_area_struct *vma)
{
	struct pci_dev *pdev = to_pci_dev(kobj_to_dev(kobj));
	struct p2pmem_map *map;
	struct p2pmem_vma *pv;
	size_t size, avail;
	struct file *file;

	if (!(vma->vm_flags & VM_MAYSHARE)) {
		pci_info_ratelimited(pdev,
				     "%s: p2pmem can only be mapped shared\n",
				     current->comm);
		return -EINVAL;
	}
	if (vma->vm_pgoff) {
		pci_info_ratelimited(pdev,
				     "%s: p2pmem must be mapped at offset 0\n",
				     current->comm);
		return -EINVAL;
	}

	/* Fail early rather than take part of it and give it back. */
	if (!rcu_access_pointer(pdev->p2pdma))
		return -ENODEV;
	p2pdma_totals(pdev, &size, &avail);
	if (avail < vma->vm_end - vma->vm_start)
		return -ENOMEM;

	pv = kmalloc(sizeof(*pv), GFP_KERNEL);
	if (!pv)
		return -ENOMEM;
	map = p2pmem_map_create(pdev, vma_pages(vma));
	if (IS_ERR(map)) {
		kfree(pv);
		return PTR_ERR(map);
	}
	file = anon_inode_create_getfile("[p2pmem]", &p2pmem_map_fops, map,
					 O_RDWR, file_inode(filp));
	if (IS_ERR(file)) {
		kfree(pv);
		p2pmem_map_unwind(map);
		p2pmem_map_free(map);
		return PTR_ERR(file);
	}

	/* From here on the file owns the map, and the VMA the file. */
	map->mapping = file->f_mapping;
	pv->vma = vma;
	vma->vm_private_data = pv;
	mutex_lock(&p2pmem_maps_lock);
	list_add(&pv->node, &map->vmas);
	list_add_tail(&map->node, &p2pmem_maps);
	mutex_unlock(&p2pmem_maps_lock);
	vma_set_file(vma, file);
	fput(file);

	/*
	 * Never VM_PFNMAP, which GUP refuses.  VM_HUGEPAGE: with THP set to
	 * "madvise" mm only tries PMD and PUD faults for marked VMAs.
	 */
	vma->vm_ops = &p2pmem_vm_ops;
	vm_flags_set(vma, VM_MIXEDMAP | VM_HUGEPAGE | VM_DONTEXPAND);
	return 0;
}

/*
 * Revoke every mapping of @pdev: no more faults, every entry zapped, and
 * the memory given back as soon as GUP lets go of it.
 */
static void p2pmem_revoke_maps(struct pci_dev *pdev)
{
	struct p2pmem_map *map;

	mutex_lock(&p2pmem_maps_lock);
	list_for_each_entry(map, &p2pmem_maps, node) {
		if (map->pdev != pdev || map->revoked || map->released)
			continue;
		down_write(&map->lock);
		map->revoked = true;
		up_write(&map->lock);
		unmap_mapping_range(map->mapping, 0, 0, 1);
		/* Not released: the file still owns the map. */
		p2pmem_map_retire(map);
	}
	mutex_unlock(&p2pmem_maps_lock);
}

static struct bin_attribute p2pmem_alloc_attr = {
	.attr = { .name = "allocate", .mode = 0660 },
	.mmap = p2pmem_alloc_mmap,
	/*
	 * The file has no contents to read; a huge size only keeps tools that
	 * check the mapping length against the file size (Python's mmap) from
	 * refusing.
	 */
	.size = SZ_1T,
};

/* Room for one line of p2pmem/peers; the longest reasons have 4 clauses. */
#define P2PMEM_PEER_LINE	384

/* Bridges forward TLPs; every other function may be a DMA client. */
static bool p2pmem_peer_candidate(struct pci_dev *pdev)
{
	return (pdev->class >> 16) != PCI_BASE_CLASS_BRIDGE;
}

/* The whole list, as one text. */
static char *p2pmem_peers_text(struct pci_dev *provider, size_t *used)
{
	struct p2pdma_path *paths;
	struct pci_dev *client = NULL;
	unsigned int n = 0, tries;
	struct seq_buf sb;
	char *text = NULL;
	size_t len;

	for_each_pci_dev(client)
		n++;
	len = (n + 1) * P2PMEM_PEER_LINE;
	paths = kmalloc_array(2, sizeof(*paths), GFP_KERNEL);
	if (!paths)
		return NULL;
	/* Devices added meanwhile, or long reasons: try with more room. */
	for (tries = 0; tries < 3; tries++, len *= 2) {
		text = kvmalloc(len, GFP_KERNEL);
		if (!text)
			break;
		seq_buf_init(&sb, text, len);
		for_each_pci_dev(client)
			if (p2pmem_peer_candidate(client))
				p2pdma_print_peer(&sb, provider, client, paths);
		if (!seq_buf_has_overflowed(&sb))
			break;
		kvfree(text);
		text = NULL;
	}
	kfree(paths);
	if (text)
		*used = seq_buf_used(&sb);
	return text;
}

/*
 * The text of the last reader, kept for its later read() calls: a reader
 * taking the file in small chunks (dd bs=4k) would otherwise make every
 * call work out every verdict.  A read at offset 0 always builds it anew,
 * so each pass of a reader over the file sees the topology as it is.  The
 * open file and the provider are only a key, never followed.
 */
static DEFINE_MUTEX(p2pmem_peers_lock);
static const struct file *p2pmem_peers_reader;
static const struct pci_dev *p2pmem_peers_provider;
static char *p2pmem_peers_cache;
static size_t p2pmem_peers_used;

static ssize_t p2pmem_peers_read(struct file *filp, struct kobject *kobj,
				 struct bin_attribute *attr, char *buf,
				 loff_t off, size_t count)
{
	struct pci_dev *provider = to_pci_dev(kobj_to_dev(kobj));
	size_t used;
	ssize_t ret;
	char *text;

	mutex_lock(&p2pmem_peers_lock);
	if (off && filp == p2pmem_peers_reader &&
	    provider == p2pmem_peers_provider) {
		ret = memory_read_from_buffer(buf, count, &off,
					      p2pmem_peers_cache,
					      p2pmem_peers_used);
		goto out;
	}
	text = p2pmem_peers_text(provider, &used);
	if (!text) {
		ret = -ENOMEM;
		goto out;
	}
	kvfree(p2pmem_peers_cache);
	p2pmem_peers_cache = text;
	p2pmem_peers_used = used;
	p2pmem_peers_reader = filp;
	p2pmem_peers_provider = provider;
	ret = memory_read_from_buffer(buf, count, &off, text, used);
out:
	mutex_unlock(&p2pmem_peers_lock);
	return ret;
}

/*
 * p2pmem/peers: the verdict of every device that could be a client of this
 * provider (Documentation/ABI/testing/sysfs-bus-pci).  World-readable, as
 * lspci's view of the topology is.
 */
static struct bin_attribute p2pmem_peers_attr = {
	.attr = { .name = "peers", .mode = 0444 },
	.read = p2pmem_peers_read,
};

static struct attribute *p2pmem_attrs[] = {
	&dev_attr_size.attr,
	&dev_attr_available.attr,
	&dev_attr_published.attr,
	NULL,
};

static struct bin_attribute *p2pmem_bin_attrs[] = {
	&p2pmem_alloc_attr,
	&p2pmem_peers_attr,
	NULL,
};

static const struct attribute_group p2pmem_group = {
	.name = "p2pmem",
	.attrs = p2pmem_attrs,
	.bin_attrs = p2pmem_bin_attrs,
};

/**
 * p2pmem_sysfs_create() - add the p2pmem/ directory of a provider
 * @pdev: the provider
 *
 * Return: 0 or a negative errno.
 */
int p2pmem_sysfs_create(struct pci_dev *pdev)
{
	return sysfs_create_group(&pdev->dev.kobj, &p2pmem_group);
}

/**
 * p2pmem_sysfs_remove() - remove the p2pmem/ directory of a provider
 * @pdev: the provider
 */
void p2pmem_sysfs_remove(struct pci_dev *pdev)
{
	sysfs_remove_group(&pdev->dev.kobj, &p2pmem_group);
}

/**
 * p2pmem_sysfs_revoke() - remove p2pmem/allocate and revoke its mappings
 * @pdev: the provider
 *
 * Once the file is gone (kernfs waits for mmap() calls under way), every
 * mapping of it is zapped and faults give SIGBUS.  The memory of a mapping
 * comes back as soon as no GUP holds it.  The file stays gone.
 */
void p2pmem_sysfs_revoke(struct pci_dev *pdev)
{
	sysfs_remove_file_from_group(&pdev->dev.kobj, &p2pmem_alloc_attr.attr,
				     p2pmem_group.name);
	p2pmem_revoke_maps(pdev);
}
