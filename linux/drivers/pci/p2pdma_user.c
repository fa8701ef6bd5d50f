// SPDX-License-Identifier: GPL-2.0
/*
 * PCI P2PDMA in user space: the p2pmem/ sysfs directory of a provider
 * (size, available, published, the verdict of every possible client in
 * peers) and p2pmem/allocate, whose mmap() hands fresh P2P memory to user
 * space, e.g. as an O_DIRECT buffer.
 */

#include <linux/mm.h>
#include <linux/pci.h>
#include <linux/pci-p2pdma.h>
#include <linux/percpu-refcount.h>
#include <linux/rcupdate.h>
#include <linux/seq_buf.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/sysfs.h>

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
 * Pages handed to one vm_insert_pages() call, which walks the page tables
 * once per call (and takes the PTE lock once per eight pages) where
 * vm_insert_page() walks and locks once per page.
 */
#define P2PMEM_MAP_BATCH	32

static struct page *p2pmem_page(struct p2pdma_range *range, unsigned long pg)
{
	return pfn_to_page(PHYS_PFN(range->pgmap.range.start) +
			   (pg - range->pool.buddy->origin));
}

/* Free the pages of a block that could not be mapped. */
static void p2pmem_unwind(struct p2pdma_range *range, unsigned long pg,
			  unsigned long npages)
{
	int err = p2pdma_pool_free(&range->pool, pg, npages);

	if (err)
		p2pdma_free_refused(range, pg, npages, err);
}

/*
 * Map one allocated block into @vma at @uaddr.  Each inserted page hands its
 * count back to 1 and takes a range reference: from then on the mapping
 * owns it, and zapping the mapping frees it through ->page_free().  On
 * failure only the pages not inserted yet are freed here.
 */
static int p2pmem_map_block(struct vm_area_struct *vma, unsigned long uaddr,
			    struct p2pdma_range *range, unsigned long pg,
			    unsigned long count)
{
	struct page *pages[P2PMEM_MAP_BATCH];
	unsigned long done = 0, batch, left, mapped, i;
	int ret;

	while (done < count) {
		batch = min_t(unsigned long, count - done, P2PMEM_MAP_BATCH);
		for (i = 0; i < batch; i++)
			pages[i] = p2pmem_page(range, pg + done + i);
		left = batch;
		ret = vm_insert_pages(vma, uaddr + (done << PAGE_SHIFT), pages,
				      &left);
		mapped = batch - left;
		percpu_ref_get_many(&range->pgmap.ref, mapped);
		for (i = 0; i < mapped; i++)
			put_page(pages[i]);
		done += mapped;
		if (ret) {
			p2pmem_unwind(range, pg + done, count - done);
			return ret;
		}
		/* A whole BAR can be a few hundred thousand pages. */
		cond_resched();
	}
	return 0;
}

static int p2pmem_fill_vma(struct pci_dev *pdev, struct vm_area_struct *vma)
{
	unsigned long uaddr = vma->vm_start;
	unsigned long left = vma_pages(vma);
	struct pci_p2pdma *p2pdma;

	/*
	 * A mapping wants few, large blocks.  Pages that came back from an
	 * earlier mapping one by one and still sit in the per-CPU caches would
	 * keep their blocks split: give them back to the buddy first, so that
	 * a mapping is built from the lowest, largest free blocks.
	 */
	rcu_read_lock();
	p2pdma = rcu_dereference(pdev->p2pdma);
	if (p2pdma)
		p2pdma_drain(p2pdma);
	rcu_read_unlock();

	while (left) {
		struct p2pdma_range *range;
		unsigned long pg, count;
		long n;
		int ret;

		rcu_read_lock();
		p2pdma = rcu_dereference(pdev->p2pdma);
		n = p2pdma ? p2pdma_take(p2pdma, left, false, &range, &pg) :
			     -ENODEV;
		rcu_read_unlock();
		if (n < 0)
			return n;
		count = n;

		/* The block's range reference keeps range and p2pdma alive. */
		ret = p2pmem_map_block(vma, uaddr, range, pg, count);
		percpu_ref_put(&range->pgmap.ref);
		if (ret)
			return ret;
		uaddr += count << PAGE_SHIFT;
		left -= count;
	}
	return 0;
}

/*
 * mmap of p2pmem/allocate: fresh P2P memory for user space, e.g. as an
 * O_DIRECT buffer.  The pages need not be contiguous, so any free pages
 * will do.  If the mapping fails half way, mm unmaps what was inserted.
 */
static int p2pmem_alloc_mmap(struct file *filp, struct kobject *kobj,
			     struct bin_attribute *attr,
			     struct vm_area_struct *vma)
{
	struct pci_dev *pdev = to_pci_dev(kobj_to_dev(kobj));
	size_t size, avail;

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

	/* Fail early rather than map part of it and unwind. */
	if (!rcu_access_pointer(pdev->p2pdma))
		return -ENODEV;
	p2pdma_totals(pdev, &size, &avail);
	if (avail < vma->vm_end - vma->vm_start)
		return -ENOMEM;

	return p2pmem_fill_vma(pdev, vma);
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

/*
 * The whole list, written into a buffer for each read() call: a reader
 * such as cat that reads it through in a few calls sees one list unless a
 * device comes or goes meanwhile.
 */
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

static ssize_t p2pmem_peers_read(struct file *filp, struct kobject *kobj,
				 struct bin_attribute *attr, char *buf,
				 loff_t off, size_t count)
{
	struct pci_dev *provider = to_pci_dev(kobj_to_dev(kobj));
	size_t used;
	ssize_t ret;
	char *text;

	text = p2pmem_peers_text(provider, &used);
	if (!text)
		return -ENOMEM;
	ret = memory_read_from_buffer(buf, count, &off, text, used);
	kvfree(text);
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
 * p2pmem_sysfs_revoke() - remove p2pmem/allocate, zapping its mappings
 * @pdev: the provider
 *
 * kernfs unmaps every user mapping of the file when it goes, so their
 * pages come back through ->page_free().  The file stays gone.
 */
void p2pmem_sysfs_revoke(struct pci_dev *pdev)
{
	sysfs_remove_file_from_group(&pdev->dev.kobj, &p2pmem_alloc_attr.attr,
				     p2pmem_group.name);
}
