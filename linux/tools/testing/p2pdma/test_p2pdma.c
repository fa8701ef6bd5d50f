// SPDX-License-Identifier: GPL-2.0
/*
 * Test driver for PCI peer-to-peer DMA (P2PDMA).
 *
 * /dev/test_p2pdma hands the public P2PDMA API (include/linux/pci-p2pdma.h)
 * and the DMA API to user space, one ioctl per call, for the selftests in
 * tools/testing/selftests/p2pdma.  Nothing private to drivers/pci is used,
 * so the same source builds out of tree (M=) against any kernel with
 * CONFIG_PCI_P2PDMA and lets the selftests compare implementations.
 *
 * Memory allocated through an open file is tracked per file and returned
 * when the file is closed, so a crashed or killed test leaks nothing.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/dma-mapping.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/pci.h>
#include <linux/pci-p2pdma.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include <linux/xarray.h>

#include "test_p2pdma_uapi.h"

#ifndef CONFIG_PCI_P2PDMA
#error "test_p2pdma needs a kernel built with CONFIG_PCI_P2PDMA=y"
#endif

/* One live allocation made through an open file. */
struct tp_alloc {
	struct pci_dev *provider;	/* holds a reference */
	void *addr;			/* pci_alloc_p2pmem() result */
	size_t size;
	struct scatterlist *sgl;	/* set for ALLOC_SGL allocations */
};

struct tp_file {
	struct xarray allocs;		/* handle -> struct tp_alloc */
};

static struct miscdevice tp_misc;

/* Returns a referenced pci_dev or an ERR_PTR; never NULL. */
static struct pci_dev *tp_get_pdev(const struct test_p2pdma_bdf *bdf)
{
	struct pci_dev *pdev;

	if (bdf->reserved || bdf->domain > INT_MAX)
		return ERR_PTR(-EINVAL);

	pdev = pci_get_domain_bus_and_slot(bdf->domain, bdf->bus, bdf->devfn);
	return pdev ?: ERR_PTR(-ENODEV);
}

static void tp_set_bdf(struct test_p2pdma_bdf *bdf, struct pci_dev *pdev)
{
	bdf->domain = pci_domain_nr(pdev->bus);
	bdf->bus = pdev->bus->number;
	bdf->devfn = pdev->devfn;
	bdf->reserved = 0;
}

/* A client list as the API takes it, plus the references behind it. */
struct tp_clients {
	struct pci_dev *pdev[TEST_P2PDMA_MAX_CLIENTS];
	struct device *dev[TEST_P2PDMA_MAX_CLIENTS + 1];
	unsigned int nr_pci;
	unsigned int nr;
};

static void tp_put_clients(struct tp_clients *c)
{
	while (c->nr_pci)
		pci_dev_put(c->pdev[--c->nr_pci]);
	c->nr = 0;
}

static int tp_get_clients(struct tp_clients *c,
			  const struct test_p2pdma_bdf *bdfs, u32 nr,
			  bool non_pci)
{
	struct pci_dev *pdev;

	c->nr_pci = 0;
	c->nr = 0;
	if (nr > TEST_P2PDMA_MAX_CLIENTS)
		return -EINVAL;

	while (c->nr_pci < nr) {
		pdev = tp_get_pdev(&bdfs[c->nr_pci]);
		if (IS_ERR(pdev)) {
			tp_put_clients(c);
			return PTR_ERR(pdev);
		}
		c->pdev[c->nr_pci] = pdev;
		c->dev[c->nr_pci++] = &pdev->dev;
	}
	c->nr = c->nr_pci;

	/* The misc device is virtual: no PCI device above it. */
	if (non_pci)
		c->dev[c->nr++] = tp_misc.this_device;
	return 0;
}

static int tp_kind_of(unsigned int marked, unsigned int nsegs)
{
	if (marked == nsegs)
		return TEST_P2PDMA_MAP_BUS_ADDR;
	return marked ? TEST_P2PDMA_MAP_MIXED :
			TEST_P2PDMA_MAP_THRU_HOST_BRIDGE;
}

/*
 * Record what dma_map_sgtable() made of @sgt.  Must run before the unmap:
 * unmapping clears the bus-address marks.  The buffer is contiguous, so the
 * byte a DMA segment starts with is found by summing the lengths before it.
 */
static void tp_record_segments(struct sg_table *sgt, phys_addr_t phys,
			       pci_bus_addr_t bus,
			       struct test_p2pdma_dma_map *out)
{
	struct test_p2pdma_dma_seg *seg;
	struct scatterlist *sg;
	unsigned int marked = 0;
	u64 offset = 0;
	int i;

	out->nsegs = 0;
	for_each_sgtable_dma_sg(sgt, sg, i) {
		if (i >= TEST_P2PDMA_MAX_PAGES)
			break;
		seg = &out->segs[i];
		seg->dma_addr = sg_dma_address(sg);
		seg->dma_len = sg_dma_len(sg);
		seg->bus_addr = bus + offset;
		seg->phys_addr = phys + offset;
		seg->flags = 0;
		if (sg_dma_is_bus_address(sg)) {
			seg->flags |= TEST_P2PDMA_SEG_BUS_MARKED;
			marked++;
		}
		if (seg->dma_addr == seg->bus_addr)
			seg->flags |= TEST_P2PDMA_SEG_EQ_BUS;
		if (seg->dma_addr == seg->phys_addr)
			seg->flags |= TEST_P2PDMA_SEG_EQ_PHYS;
		else if (!(seg->flags & TEST_P2PDMA_SEG_BUS_MARKED))
			out->map_flags |= TEST_P2PDMA_MAPPED_IOVA;
		offset += seg->dma_len;
		out->nsegs++;
	}
	out->kind = tp_kind_of(marked, out->nsegs);
}

/*
 * Map @npages of @provider's p2pmem for @client the way a driver would and
 * report the outcome in @out.  -ENOMEM when no p2pmem could be allocated.
 */
static int tp_map_for_client(struct pci_dev *provider, struct pci_dev *client,
			     unsigned int npages,
			     struct test_p2pdma_dma_map *out)
{
	size_t size = (size_t)npages * PAGE_SIZE;
	struct scatterlist *sg;
	struct sg_table sgt;
	void *addr;
	int i, ret;

	addr = pci_alloc_p2pmem(provider, size);
	if (!addr)
		return -ENOMEM;

	ret = sg_alloc_table(&sgt, npages, GFP_KERNEL);
	if (ret)
		goto out_free;
	for_each_sgtable_sg(&sgt, sg, i)
		sg_set_page(sg, virt_to_page(addr + i * PAGE_SIZE), PAGE_SIZE, 0);

	out->map_flags = 0;
	out->nsegs = 0;
	out->map_errno = dma_map_sgtable(&client->dev, &sgt, DMA_BIDIRECTIONAL,
					 DMA_ATTR_NO_WARN);
	if (out->map_errno) {
		out->kind = TEST_P2PDMA_MAP_REFUSED;
	} else {
		tp_record_segments(&sgt, page_to_phys(virt_to_page(addr)),
				   pci_p2pmem_virt_to_bus(provider, addr), out);
		dma_unmap_sgtable(&client->dev, &sgt, DMA_BIDIRECTIONAL, 0);
	}
	sg_free_table(&sgt);
out_free:
	pci_free_p2pmem(provider, addr, size);
	return ret;
}

static long tp_ioctl_distance(void __user *uarg)
{
	struct test_p2pdma_distance arg;
	struct test_p2pdma_dma_map *map;
	struct pci_dev *provider;
	struct tp_clients c;
	int ret;

	if (copy_from_user(&arg, uarg, sizeof(arg)))
		return -EFAULT;
	if (arg.flags & ~(TEST_P2PDMA_F_VERBOSE | TEST_P2PDMA_F_NON_PCI_CLIENT))
		return -EINVAL;

	provider = tp_get_pdev(&arg.provider);
	if (IS_ERR(provider))
		return PTR_ERR(provider);
	ret = tp_get_clients(&c, arg.clients, arg.nr_clients,
			     arg.flags & TEST_P2PDMA_F_NON_PCI_CLIENT);
	if (ret)
		goto out_provider;

	arg.distance = pci_p2pdma_distance_many(provider, c.dev, c.nr,
						arg.flags & TEST_P2PDMA_F_VERBOSE);
	arg.map_kind = TEST_P2PDMA_MAP_NONE;
	arg.map_errno = 0;
	arg.map_flags = 0;

	if (c.nr == 1 && c.nr_pci == 1) {
		map = kzalloc(sizeof(*map), GFP_KERNEL);
		if (!map) {
			ret = -ENOMEM;
			goto out_clients;
		}
		if (tp_map_for_client(provider, c.pdev[0], 1, map)) {
			arg.map_errno = -ENOMEM;
		} else {
			arg.map_kind = map->kind;
			arg.map_errno = map->map_errno;
			arg.map_flags = map->map_flags;
		}
		kfree(map);
	}

	if (copy_to_user(uarg, &arg, sizeof(arg)))
		ret = -EFAULT;
out_clients:
	tp_put_clients(&c);
out_provider:
	pci_dev_put(provider);
	return ret;
}

static long tp_ioctl_find(void __user *uarg)
{
	struct test_p2pdma_find arg;
	struct pci_dev *found;
	struct tp_clients c;
	int ret;

	if (copy_from_user(&arg, uarg, sizeof(arg)))
		return -EFAULT;
	if (arg.flags & ~TEST_P2PDMA_F_NON_PCI_CLIENT)
		return -EINVAL;

	ret = tp_get_clients(&c, arg.clients, arg.nr_clients,
			     arg.flags & TEST_P2PDMA_F_NON_PCI_CLIENT);
	if (ret)
		return ret;

	found = pci_p2pmem_find_many(c.dev, c.nr);
	memset(&arg.provider, 0, sizeof(arg.provider));
	arg.status = found ? 0 : -ENODEV;
	if (found) {
		tp_set_bdf(&arg.provider, found);
		pci_dev_put(found);
	}
	tp_put_clients(&c);

	return copy_to_user(uarg, &arg, sizeof(arg)) ? -EFAULT : 0;
}

static void tp_release_alloc(struct tp_alloc *a)
{
	if (a->sgl)
		pci_p2pmem_free_sgl(a->provider, a->sgl);
	else
		pci_free_p2pmem(a->provider, a->addr, a->size);
	pci_dev_put(a->provider);
	kfree(a);
}

/* Make the allocation; false when the API said no (not an ioctl error). */
static bool tp_do_alloc(struct tp_alloc *a, bool sgl, u32 *nents)
{
	*nents = 0;
	if (!sgl) {
		a->addr = pci_alloc_p2pmem(a->provider, a->size);
		return !!a->addr;
	}
	a->sgl = pci_p2pmem_alloc_sgl(a->provider, nents, a->size);
	if (!a->sgl)
		return false;
	a->addr = sg_virt(a->sgl);
	return true;
}

static long tp_ioctl_alloc(struct tp_file *tf, void __user *uarg, bool sgl)
{
	struct test_p2pdma_alloc arg;
	struct pci_dev *provider;
	struct tp_alloc *a;
	u32 id;
	int ret;

	if (copy_from_user(&arg, uarg, sizeof(arg)))
		return -EFAULT;
	if (!arg.size || arg.size > U32_MAX || arg.reserved)
		return -EINVAL;

	provider = tp_get_pdev(&arg.provider);
	if (IS_ERR(provider))
		return PTR_ERR(provider);

	a = kzalloc(sizeof(*a), GFP_KERNEL);
	if (!a) {
		pci_dev_put(provider);
		return -ENOMEM;
	}
	a->provider = provider;
	a->size = arg.size;

	arg.handle = 0;
	arg.bus_addr = 0;
	arg.align = 0;
	if (!tp_do_alloc(a, sgl, &arg.nents)) {
		pci_dev_put(provider);
		kfree(a);
		goto out_copy;
	}

	ret = xa_alloc(&tf->allocs, &id, a, xa_limit_31b, GFP_KERNEL);
	if (ret) {
		tp_release_alloc(a);
		return ret;
	}
	arg.handle = id;
	arg.bus_addr = pci_p2pmem_virt_to_bus(provider, a->addr);
	arg.align = arg.bus_addr & -arg.bus_addr;

out_copy:
	/* On -EFAULT the allocation stays tracked and is freed on close. */
	return copy_to_user(uarg, &arg, sizeof(arg)) ? -EFAULT : 0;
}

static long tp_ioctl_free(struct tp_file *tf, void __user *uarg, bool sgl)
{
	struct test_p2pdma_free arg;
	struct tp_alloc *a;

	if (copy_from_user(&arg, uarg, sizeof(arg)))
		return -EFAULT;
	if (!arg.handle || arg.handle > U32_MAX)
		return -EINVAL;

	/* Look up and remove in one step so a handle is freed only once. */
	xa_lock(&tf->allocs);
	a = xa_load(&tf->allocs, arg.handle);
	if (a && !a->sgl == !sgl)
		__xa_erase(&tf->allocs, arg.handle);
	else
		a = NULL;
	xa_unlock(&tf->allocs);

	if (!a)
		return -EINVAL;
	tp_release_alloc(a);
	return 0;
}

static long tp_ioctl_dma_map(void __user *uarg)
{
	struct test_p2pdma_dma_map *arg;
	struct pci_dev *provider, *client;
	long ret;

	arg = memdup_user(uarg, sizeof(*arg));
	if (IS_ERR(arg))
		return PTR_ERR(arg);

	ret = -EINVAL;
	if (!arg->npages || arg->npages > TEST_P2PDMA_MAX_PAGES || arg->reserved)
		goto out_free;

	provider = tp_get_pdev(&arg->provider);
	if (IS_ERR(provider)) {
		ret = PTR_ERR(provider);
		goto out_free;
	}
	client = tp_get_pdev(&arg->client);
	if (IS_ERR(client)) {
		ret = PTR_ERR(client);
		goto out_provider;
	}

	memset(arg->segs, 0, sizeof(arg->segs));
	ret = tp_map_for_client(provider, client, arg->npages, arg);
	if (!ret && copy_to_user(uarg, arg, sizeof(*arg)))
		ret = -EFAULT;

	pci_dev_put(client);
out_provider:
	pci_dev_put(provider);
out_free:
	kfree(arg);
	return ret;
}

static long tp_ioctl_has_p2pmem(void __user *uarg)
{
	struct test_p2pdma_has_p2pmem arg;
	struct pci_dev *pdev;

	if (copy_from_user(&arg, uarg, sizeof(arg)))
		return -EFAULT;
	if (arg.reserved)
		return -EINVAL;

	pdev = tp_get_pdev(&arg.dev);
	if (IS_ERR(pdev))
		return PTR_ERR(pdev);
	arg.has_p2pmem = pci_has_p2pmem(pdev);
	pci_dev_put(pdev);

	return copy_to_user(uarg, &arg, sizeof(arg)) ? -EFAULT : 0;
}

static long tp_ioctl_enable_store(void __user *uarg)
{
	struct test_p2pdma_enable *arg;
	struct pci_dev *chosen = NULL;
	bool use = false;
	char *page;
	long ret;

	arg = memdup_user(uarg, sizeof(*arg));
	if (IS_ERR(arg))
		return PTR_ERR(arg);

	ret = -EINVAL;
	if (!memchr(arg->input, '\0', sizeof(arg->input)))
		goto out_arg;

	/* The API works on sysfs/configfs pages; give it a whole page. */
	ret = -ENOMEM;
	page = kzalloc(PAGE_SIZE, GFP_KERNEL);
	if (!page)
		goto out_arg;
	strscpy(page, arg->input, PAGE_SIZE);

	arg->result = pci_p2pdma_enable_store(page, &chosen, &use);
	if (arg->result) {
		/*
		 * The outputs are not defined on failure (a device may
		 * already have been put): keep the previous state, as
		 * nvmet's configfs attribute does.
		 */
		chosen = NULL;
		use = false;
	}

	arg->use_p2pdma = use;
	arg->has_provider = !!chosen;
	memset(&arg->provider, 0, sizeof(arg->provider));
	if (chosen)
		tp_set_bdf(&arg->provider, chosen);

	memset(page, 0, PAGE_SIZE);
	pci_p2pdma_enable_show(page, chosen, use);
	strscpy(arg->show, page, sizeof(arg->show));
	pci_dev_put(chosen);
	kfree(page);

	ret = copy_to_user(uarg, arg, sizeof(*arg)) ? -EFAULT : 0;
out_arg:
	kfree(arg);
	return ret;
}

static long tp_ioctl_virt_to_bus(struct tp_file *tf, void __user *uarg)
{
	struct test_p2pdma_virt_to_bus arg;
	struct pci_dev *provider;
	struct tp_alloc *a;
	long ret = 0;

	if (copy_from_user(&arg, uarg, sizeof(arg)))
		return -EFAULT;
	if (arg.handle > U32_MAX)
		return -EINVAL;
	provider = tp_get_pdev(&arg.provider);
	if (IS_ERR(provider))
		return PTR_ERR(provider);

	if (!arg.handle) {
		arg.bus_addr = pci_p2pmem_virt_to_bus(provider, &tp_misc);
	} else {
		/* Under the lock, so that a concurrent FREE waits. */
		xa_lock(&tf->allocs);
		a = xa_load(&tf->allocs, arg.handle);
		/* An SGL's entries need not be contiguous: its first only. */
		if (a && arg.offset < (a->sgl ? a->sgl->length : a->size))
			arg.bus_addr = pci_p2pmem_virt_to_bus(provider,
							      a->addr + arg.offset);
		else
			ret = -EINVAL;
		xa_unlock(&tf->allocs);
	}
	pci_dev_put(provider);
	if (ret)
		return ret;
	return copy_to_user(uarg, &arg, sizeof(arg)) ? -EFAULT : 0;
}

static long tp_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct tp_file *tf = file->private_data;
	void __user *uarg = (void __user *)arg;

	switch (cmd) {
	case TEST_P2PDMA_DISTANCE:
		return tp_ioctl_distance(uarg);
	case TEST_P2PDMA_FIND:
		return tp_ioctl_find(uarg);
	case TEST_P2PDMA_ALLOC:
		return tp_ioctl_alloc(tf, uarg, false);
	case TEST_P2PDMA_FREE:
		return tp_ioctl_free(tf, uarg, false);
	case TEST_P2PDMA_ALLOC_SGL:
		return tp_ioctl_alloc(tf, uarg, true);
	case TEST_P2PDMA_FREE_SGL:
		return tp_ioctl_free(tf, uarg, true);
	case TEST_P2PDMA_DMA_MAP:
		return tp_ioctl_dma_map(uarg);
	case TEST_P2PDMA_HAS_P2PMEM:
		return tp_ioctl_has_p2pmem(uarg);
	case TEST_P2PDMA_ENABLE_STORE:
		return tp_ioctl_enable_store(uarg);
	case TEST_P2PDMA_VIRT_TO_BUS:
		return tp_ioctl_virt_to_bus(tf, uarg);
	default:
		return -ENOTTY;
	}
}

static int tp_open(struct inode *inode, struct file *file)
{
	struct tp_file *tf;

	tf = kzalloc(sizeof(*tf), GFP_KERNEL);
	if (!tf)
		return -ENOMEM;
	xa_init_flags(&tf->allocs, XA_FLAGS_ALLOC1);
	file->private_data = tf;
	return 0;
}

static int tp_release(struct inode *inode, struct file *file)
{
	struct tp_file *tf = file->private_data;
	struct tp_alloc *a;
	unsigned long id;

	xa_for_each(&tf->allocs, id, a) {
		xa_erase(&tf->allocs, id);
		tp_release_alloc(a);
	}
	xa_destroy(&tf->allocs);
	kfree(tf);
	return 0;
}

static const struct file_operations tp_fops = {
	.owner		= THIS_MODULE,
	.open		= tp_open,
	.release	= tp_release,
	.unlocked_ioctl	= tp_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
};

static struct miscdevice tp_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "test_p2pdma",
	.fops	= &tp_fops,
};

module_misc_device(tp_misc);

MODULE_DESCRIPTION("Test driver exposing the PCI P2PDMA API to selftests");
MODULE_LICENSE("GPL");
