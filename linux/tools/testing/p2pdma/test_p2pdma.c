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
 * when the file is closed, so a crashed or killed test leaks nothing, or
 * when its provider's driver unbinds or the device goes away (see
 * "Tracking and revocation" below), as any kernel user of p2pmem must.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/dma-mapping.h>
#include <linux/list.h>
#include <linux/log2.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/notifier.h>
#include <linux/pci.h>
#include <linux/pci-p2pdma.h>
#include <linux/rwsem.h>
#include <linux/scatterlist.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include <linux/xarray.h>

#include "test_p2pdma_uapi.h"

#ifndef CONFIG_PCI_P2PDMA
#error "test_p2pdma needs a kernel built with CONFIG_PCI_P2PDMA=y"
#endif

/*
 * Tracking and revocation.
 *
 * Every allocation made through an open file is an entry of the file's
 * xarray; the handle user space sees is its index.  When a provider's
 * driver unbinds, its probe fails or the device is deleted, the bus
 * notifier frees every tracked allocation from that provider before the
 * driver's teardown waits for its pages, and keeps the entry as a revoked
 * handle (provider NULL).  From then until the driver has let go of the
 * memory the provider is on the dying list and gets no new allocation.
 *
 * Locking:
 *  - tp_revoke_rwsem: held for reading by every path that allocates
 *    tracked memory, touches or frees it, or reads a file's entries; held
 *    for writing by the notifier, which therefore needs no other lock to
 *    walk the files.  Readers never take a device lock, which the notifier
 *    runs under.  Nothing is copied to or from user space under it.
 *  - tp_files_lock: the list of open files, taken inside the rwsem.
 *  - tf->lock: one file's entries, taken inside the rwsem for reading, so
 *    that a FREE cannot pull memory from under a PATTERN of the same file.
 */
struct tp_alloc {
	struct pci_dev *provider;	/* holds a reference; NULL: revoked */
	void *addr;			/* kernel address of the (first) buffer */
	size_t size;
	struct scatterlist *sgl;	/* ALLOC_SGL: the list */
	bool is_sgl;
	bool internal;			/* a STRESS slot: hidden from handles */
};

/* A STRESS loop running on a file; the notifier sets revoked. */
struct tp_stress_ctx {
	struct list_head node;
	struct pci_dev *provider;
	bool revoked;
};

struct tp_file {
	struct list_head node;		/* on tp_files */
	struct mutex lock;
	struct xarray allocs;		/* handle -> struct tp_alloc */
	struct list_head stress;	/* running struct tp_stress_ctx */
};

/* A provider between the start of its unbind and the end of it. */
struct tp_dying {
	struct list_head node;
	struct pci_dev *pdev;		/* identity only, no reference */
};

static DECLARE_RWSEM(tp_revoke_rwsem);
static DEFINE_MUTEX(tp_files_lock);
static LIST_HEAD(tp_files);
static LIST_HEAD(tp_dying_list);	/* under tp_revoke_rwsem */

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

/* Caller holds tp_revoke_rwsem. */
static bool tp_provider_dying(struct pci_dev *pdev)
{
	struct tp_dying *d;

	list_for_each_entry(d, &tp_dying_list, node)
		if (d->pdev == pdev)
			return true;
	return false;
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

	/* Not tracked, but held only for this call: no unbind meanwhile. */
	down_read(&tp_revoke_rwsem);
	addr = tp_provider_dying(provider) ? NULL :
	       pci_alloc_p2pmem(provider, size);
	if (!addr) {
		up_read(&tp_revoke_rwsem);
		return -ENOMEM;
	}

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
	up_read(&tp_revoke_rwsem);
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

/* Give the memory back; the entry stays, as a revoked one. */
static void tp_free_mem(struct tp_alloc *a)
{
	if (a->is_sgl)
		pci_p2pmem_free_sgl(a->provider, a->sgl);
	else
		pci_free_p2pmem(a->provider, a->addr, a->size);
	pci_dev_put(a->provider);
	a->provider = NULL;
	a->sgl = NULL;
	a->addr = NULL;
}

/* Free an entry already taken out of its file; tp_revoke_rwsem held. */
static void tp_release_alloc(struct tp_alloc *a)
{
	if (a->provider)
		tp_free_mem(a);
	kfree(a);
}

/*
 * Make an allocation from @provider (referenced by the caller, whose
 * reference the allocation takes over on success); tp_revoke_rwsem held.
 * NULL when the API said no or the provider is going away.
 */
static struct tp_alloc *tp_new_alloc(struct pci_dev *provider, size_t size,
				     bool sgl, u32 *nents)
{
	struct tp_alloc *a;

	*nents = 0;
	if (tp_provider_dying(provider))
		return NULL;
	a = kzalloc(sizeof(*a), GFP_KERNEL);
	if (!a)
		return NULL;
	a->size = size;
	a->is_sgl = sgl;
	if (sgl) {
		a->sgl = pci_p2pmem_alloc_sgl(provider, nents, size);
		if (a->sgl)
			a->addr = sg_virt(a->sgl);
	} else {
		a->addr = pci_alloc_p2pmem(provider, size);
	}
	if (!a->addr) {
		kfree(a);
		return NULL;
	}
	a->provider = provider;
	return a;
}

/*
 * Look up a handle user space may use: live or revoked, of the right kind
 * (@sgl < 0: either).  tf->lock held.
 */
static struct tp_alloc *tp_lookup(struct tp_file *tf, u64 handle, int sgl)
{
	struct tp_alloc *a;

	if (!handle || handle > U32_MAX)
		return NULL;
	a = xa_load(&tf->allocs, handle);
	if (!a || a->internal || (sgl >= 0 && a->is_sgl != !!sgl))
		return NULL;
	return a;
}

static long tp_ioctl_alloc(struct tp_file *tf, void __user *uarg, bool sgl)
{
	struct test_p2pdma_alloc arg;
	struct pci_dev *provider;
	struct tp_alloc *a;
	u32 id;
	int ret = 0;

	if (copy_from_user(&arg, uarg, sizeof(arg)))
		return -EFAULT;
	if (!arg.size || arg.size > U32_MAX || arg.reserved)
		return -EINVAL;

	provider = tp_get_pdev(&arg.provider);
	if (IS_ERR(provider))
		return PTR_ERR(provider);

	arg.handle = 0;
	arg.bus_addr = 0;
	arg.align = 0;
	arg.phys_addr = 0;

	down_read(&tp_revoke_rwsem);
	a = tp_new_alloc(provider, arg.size, sgl, &arg.nents);
	if (!a) {
		pci_dev_put(provider);
		goto out_unlock;
	}
	/* Before it has a handle: a racing FREE could guess that one. */
	arg.bus_addr = pci_p2pmem_virt_to_bus(provider, a->addr);
	arg.align = arg.bus_addr & -arg.bus_addr;
	arg.phys_addr = page_to_phys(virt_to_page(a->addr)) +
			offset_in_page(a->addr);
	mutex_lock(&tf->lock);
	ret = xa_alloc(&tf->allocs, &id, a, xa_limit_31b, GFP_KERNEL);
	mutex_unlock(&tf->lock);
	if (ret) {
		tp_release_alloc(a);
		goto out_unlock;
	}
	arg.handle = id;
out_unlock:
	up_read(&tp_revoke_rwsem);
	if (ret)
		return ret;
	/* On -EFAULT the allocation stays tracked and is freed on close. */
	return copy_to_user(uarg, &arg, sizeof(arg)) ? -EFAULT : 0;
}

static long tp_ioctl_free(struct tp_file *tf, void __user *uarg, bool sgl)
{
	struct test_p2pdma_free arg;
	struct tp_alloc *a;
	long ret;

	if (copy_from_user(&arg, uarg, sizeof(arg)))
		return -EFAULT;

	down_read(&tp_revoke_rwsem);
	mutex_lock(&tf->lock);
	/* Look up and remove in one step so a handle is freed only once. */
	a = tp_lookup(tf, arg.handle, sgl);
	if (a)
		xa_erase(&tf->allocs, arg.handle);
	mutex_unlock(&tf->lock);

	if (!a)
		ret = -EINVAL;
	else
		ret = a->provider ? 0 : -ENODEV;
	if (a)
		tp_release_alloc(a);
	up_read(&tp_revoke_rwsem);
	return ret;
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

static long tp_ioctl_publish(void __user *uarg)
{
	struct test_p2pdma_publish arg;
	struct pci_dev *pdev;

	if (copy_from_user(&arg, uarg, sizeof(arg)))
		return -EFAULT;
	if (arg.publish > 1 || arg.reserved)
		return -EINVAL;

	pdev = tp_get_pdev(&arg.dev);
	if (IS_ERR(pdev))
		return PTR_ERR(pdev);
	pci_p2pmem_publish(pdev, arg.publish);
	pci_dev_put(pdev);
	return 0;
}

#define TP_PATTERN_MUL	0x9e3779b97f4a7c15ULL
#define TP_NO_BAD	(~0ULL)

static u64 tp_pattern_word(u64 seed, u64 off)
{
	return seed ^ (off * TP_PATTERN_MUL);
}

/*
 * Fill or check @len bytes at @buf, which are the bytes from @base on of an
 * allocation.  Whole aligned words are accessed as words, anything else
 * byte by byte with the bytes the word would have in memory.  Returns the
 * offset of the first word that differs, or TP_NO_BAD.
 */
static u64 tp_pattern_range(u8 *buf, size_t len, u64 base, u64 seed,
			    bool check)
{
	size_t i = 0, since_resched = 0;
	u8 bytes[sizeof(u64)];
	u64 off, word;

	while (i < len) {
		off = base + i;
		word = tp_pattern_word(seed, off & ~7ULL);
		if (!(off & 7) && len - i >= 8 &&
		    IS_ALIGNED((unsigned long)(buf + i), 8)) {
			u64 *p = (u64 *)(buf + i);

			if (!check)
				WRITE_ONCE(*p, word);
			else if (READ_ONCE(*p) != word)
				return off;
			i += 8;
			since_resched += 8;
		} else {
			memcpy(bytes, &word, sizeof(bytes));
			if (!check)
				WRITE_ONCE(buf[i], bytes[off & 7]);
			else if (READ_ONCE(buf[i]) != bytes[off & 7])
				return off & ~7ULL;
			i++;
			since_resched++;
		}
		/* Under emulation every access to a BAR traps: be fair. */
		if (since_resched >= PAGE_SIZE) {
			since_resched = 0;
			cond_resched();
		}
	}
	return TP_NO_BAD;
}

/* Fill or check a live allocation, every entry of an SGL. */
static u64 tp_pattern_alloc(struct tp_alloc *a, u64 seed, bool check)
{
	struct scatterlist *sg;
	u64 base = 0, bad;

	if (!a->is_sgl)
		return tp_pattern_range(a->addr, a->size, 0, seed, check);

	for (sg = a->sgl; sg; sg = sg_next(sg)) {
		bad = tp_pattern_range(sg_virt(sg), sg->length, base, seed,
				       check);
		if (bad != TP_NO_BAD)
			return bad;
		base += sg->length;
	}
	return TP_NO_BAD;
}

static long tp_ioctl_pattern(struct tp_file *tf, void __user *uarg)
{
	struct test_p2pdma_pattern arg;
	struct tp_alloc *a;
	long ret = 0;
	bool check;

	if (copy_from_user(&arg, uarg, sizeof(arg)))
		return -EFAULT;
	if (arg.reserved || (arg.op != TEST_P2PDMA_PATTERN_FILL &&
			     arg.op != TEST_P2PDMA_PATTERN_CHECK))
		return -EINVAL;
	check = arg.op == TEST_P2PDMA_PATTERN_CHECK;

	down_read(&tp_revoke_rwsem);
	mutex_lock(&tf->lock);
	a = tp_lookup(tf, arg.handle, -1);
	if (!a)
		ret = -EINVAL;
	else if (!a->provider)
		ret = -ENODEV;
	else
		arg.bad_offset = tp_pattern_alloc(a, arg.seed, check);
	mutex_unlock(&tf->lock);
	up_read(&tp_revoke_rwsem);
	if (ret)
		return ret;
	return copy_to_user(uarg, &arg, sizeof(arg)) ? -EFAULT : 0;
}

static long tp_ioctl_stats(struct tp_file *tf, void __user *uarg)
{
	struct test_p2pdma_stats arg = {};
	struct tp_alloc *a;
	unsigned long id;

	down_read(&tp_revoke_rwsem);
	mutex_lock(&tf->lock);
	xa_for_each(&tf->allocs, id, a) {
		if (a->internal)
			continue;
		if (a->provider) {
			arg.live++;
			arg.live_bytes += a->size;
		} else {
			arg.revoked++;
		}
	}
	mutex_unlock(&tf->lock);
	up_read(&tp_revoke_rwsem);
	return copy_to_user(uarg, &arg, sizeof(arg)) ? -EFAULT : 0;
}

#define TP_STRESS_SLOTS		16
#define TP_STRESS_MAX_PAGES	512
#define TP_STRESS_MAX_ITER	10000000

/* splitmix64: a small, seedable generator, so that a run can be replayed. */
static u64 tp_rand(u64 *state)
{
	u64 z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Half powers of two, half any count of pages; one in four not whole pages. */
static size_t tp_stress_size(u64 r, u32 max_pages)
{
	size_t size;
	u32 npages;

	if (r & 1)
		npages = 1U << ((r >> 8) % (ilog2(max_pages) + 1));
	else
		npages = 1 + (r >> 8) % max_pages;
	size = (size_t)npages * PAGE_SIZE;
	if (!((r >> 1) & 3))
		size -= (r >> 40) % PAGE_SIZE;
	return size;
}

struct tp_stress_run {
	struct tp_file *tf;
	struct tp_stress_ctx ctx;
	u32 handle[TP_STRESS_SLOTS];	/* 0: empty */
	u64 seed[TP_STRESS_SLOTS];
	u64 state;
	struct test_p2pdma_stress *arg;
};

/* Check and free a slot; tp_revoke_rwsem for reading and tf->lock held. */
static void tp_stress_drop(struct tp_stress_run *run, unsigned int slot)
{
	struct tp_alloc *a = xa_erase(&run->tf->allocs, run->handle[slot]);

	run->handle[slot] = 0;
	if (WARN_ON_ONCE(!a))
		return;
	if (a->provider &&
	    tp_pattern_alloc(a, run->seed[slot], true) != TP_NO_BAD)
		run->arg->corrupt++;
	tp_release_alloc(a);
}

/* Fill an empty slot; same locks held. */
static void tp_stress_add(struct tp_stress_run *run, unsigned int slot, u64 r)
{
	struct pci_dev *provider = pci_dev_get(run->ctx.provider);
	struct tp_alloc *a;
	u32 id, nents;

	a = tp_new_alloc(provider, tp_stress_size(r, run->arg->max_pages),
			 (r >> 3) & 1, &nents);
	if (!a) {
		pci_dev_put(provider);
		run->arg->failures++;
		return;
	}
	a->internal = true;
	if (xa_alloc(&run->tf->allocs, &id, a, xa_limit_31b, GFP_KERNEL)) {
		tp_release_alloc(a);
		run->arg->failures++;
		return;
	}
	run->handle[slot] = id;
	run->seed[slot] = tp_rand(&run->state);
	tp_pattern_alloc(a, run->seed[slot], false);
	run->arg->allocs++;
}

static long tp_ioctl_stress(struct tp_file *tf, void __user *uarg)
{
	struct test_p2pdma_stress arg;
	struct tp_stress_run *run;
	unsigned int slot;
	bool stop;
	long ret = 0;
	u32 i;
	u64 r;

	if (copy_from_user(&arg, uarg, sizeof(arg)))
		return -EFAULT;
	if (!arg.max_pages || arg.max_pages > TP_STRESS_MAX_PAGES ||
	    !arg.iterations || arg.iterations > TP_STRESS_MAX_ITER)
		return -EINVAL;

	run = kzalloc(sizeof(*run), GFP_KERNEL);
	if (!run)
		return -ENOMEM;
	run->ctx.provider = tp_get_pdev(&arg.provider);
	if (IS_ERR(run->ctx.provider)) {
		ret = PTR_ERR(run->ctx.provider);
		kfree(run);
		return ret;
	}
	run->tf = tf;
	run->arg = &arg;
	run->state = arg.seed;
	arg.allocs = 0;
	arg.failures = 0;
	arg.corrupt = 0;
	arg.revoked = 0;
	arg.reserved = 0;

	down_read(&tp_revoke_rwsem);
	mutex_lock(&tf->lock);
	list_add(&run->ctx.node, &tf->stress);
	run->ctx.revoked = tp_provider_dying(run->ctx.provider);
	mutex_unlock(&tf->lock);
	up_read(&tp_revoke_rwsem);

	for (i = 0; i < arg.iterations; i++) {
		if (fatal_signal_pending(current)) {
			ret = -EINTR;
			break;
		}
		cond_resched();
		r = tp_rand(&run->state);
		slot = r % TP_STRESS_SLOTS;

		down_read(&tp_revoke_rwsem);
		mutex_lock(&tf->lock);
		stop = run->ctx.revoked;
		if (!stop && run->handle[slot])
			tp_stress_drop(run, slot);
		else if (!stop)
			tp_stress_add(run, slot, r >> 4);
		mutex_unlock(&tf->lock);
		up_read(&tp_revoke_rwsem);
		if (stop)
			break;
	}

	down_read(&tp_revoke_rwsem);
	mutex_lock(&tf->lock);
	for (slot = 0; slot < TP_STRESS_SLOTS; slot++)
		if (run->handle[slot])
			tp_stress_drop(run, slot);
	list_del(&run->ctx.node);
	arg.revoked = run->ctx.revoked;
	mutex_unlock(&tf->lock);
	up_read(&tp_revoke_rwsem);

	pci_dev_put(run->ctx.provider);
	kfree(run);
	if (ret)
		return ret;
	return copy_to_user(uarg, &arg, sizeof(arg)) ? -EFAULT : 0;
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
		/* Under the locks, so that a FREE or a revocation waits. */
		down_read(&tp_revoke_rwsem);
		mutex_lock(&tf->lock);
		a = tp_lookup(tf, arg.handle, -1);
		if (!a)
			ret = -EINVAL;
		else if (!a->provider)
			ret = -ENODEV;
		/* An SGL's entries need not be contiguous: its first only. */
		else if (arg.offset >= (a->is_sgl ? a->sgl->length : a->size))
			ret = -EINVAL;
		else
			arg.bus_addr = pci_p2pmem_virt_to_bus(provider,
							      a->addr + arg.offset);
		mutex_unlock(&tf->lock);
		up_read(&tp_revoke_rwsem);
	}
	pci_dev_put(provider);
	if (ret)
		return ret;
	return copy_to_user(uarg, &arg, sizeof(arg)) ? -EFAULT : 0;
}

/*
 * The PAT index of a leaf entry @val (@pat: where the level keeps its PAT
 * bit), so that a test can compare the cache mode of PTE, PMD and PUD
 * entries of one BAR.
 */
static u32 tp_cache_index(u64 val, u64 pat)
{
#ifdef CONFIG_X86
	u32 index = 0;

	if (val & _PAGE_PWT)
		index |= 1;
	if (val & _PAGE_PCD)
		index |= 2;
	if (val & pat)
		index |= 4;
	return index;
#else
	return TEST_P2PDMA_CACHE_UNKNOWN;
#endif
}

#ifdef CONFIG_X86
#define TP_PAT_PTE	_PAGE_PAT
#define TP_PAT_LARGE	_PAGE_PAT_LARGE
#else
#define TP_PAT_PTE	0
#define TP_PAT_LARGE	0
#endif

/*
 * The entry mapping @addr in @mm, walked by hand under the mmap lock (no
 * page table of a live VMA is freed under it): size, physical address and
 * cache mode.
 */
static void tp_walk(struct mm_struct *mm, unsigned long addr,
		    struct test_p2pdma_maplevel *ml)
{
	pgd_t *pgd = pgd_offset(mm, addr);
	pte_t *ptep, pte;
	p4d_t *p4d;
	pud_t pud;
	pmd_t pmd;

	if (pgd_none(*pgd) || pgd_bad(*pgd))
		return;
	p4d = p4d_offset(pgd, addr);
	if (p4d_none(*p4d) || p4d_bad(*p4d))
		return;
	pud = READ_ONCE(*pud_offset(p4d, addr));
	if (!pud_present(pud))
		return;
	if (pud_leaf(pud)) {
		ml->size = PUD_SIZE;
		ml->phys = PFN_PHYS(pud_pfn(pud)) + (addr & ~PUD_MASK);
		ml->cache = tp_cache_index(pud_val(pud), TP_PAT_LARGE);
		return;
	}
	pmd = pmdp_get_lockless(pmd_offset(pud_offset(p4d, addr), addr));
	if (!pmd_present(pmd))
		return;
	if (pmd_leaf(pmd)) {
		ml->size = PMD_SIZE;
		ml->phys = PFN_PHYS(pmd_pfn(pmd)) + (addr & ~PMD_MASK);
		ml->cache = tp_cache_index(pmd_val(pmd), TP_PAT_LARGE);
		return;
	}
	ptep = (pte_t *)pmd_page_vaddr(pmd) + pte_index(addr);
	pte = ptep_get(ptep);
	if (pte_present(pte)) {
		ml->size = PAGE_SIZE;
		ml->phys = PFN_PHYS(pte_pfn(pte)) + offset_in_page(addr);
		ml->cache = tp_cache_index(pte_val(pte), TP_PAT_PTE);
	}
}

static long tp_ioctl_maplevel(void __user *uarg)
{
	struct test_p2pdma_maplevel arg;
	struct mm_struct *mm = current->mm;

	if (copy_from_user(&arg, uarg, sizeof(arg)))
		return -EFAULT;
	arg.size = 0;
	arg.phys = 0;
	arg.cache = TEST_P2PDMA_CACHE_UNKNOWN;
	if (!mm || arg.addr >= TASK_SIZE || arg.reserved)
		return -EINVAL;
	mmap_read_lock(mm);
	if (find_vma_intersection(mm, arg.addr, arg.addr + 1))
		tp_walk(mm, arg.addr, &arg);
	mmap_read_unlock(mm);
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
	case TEST_P2PDMA_PUBLISH:
		return tp_ioctl_publish(uarg);
	case TEST_P2PDMA_PATTERN:
		return tp_ioctl_pattern(tf, uarg);
	case TEST_P2PDMA_STATS:
		return tp_ioctl_stats(tf, uarg);
	case TEST_P2PDMA_STRESS:
		return tp_ioctl_stress(tf, uarg);
	case TEST_P2PDMA_MAPLEVEL:
		return tp_ioctl_maplevel(uarg);
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
	mutex_init(&tf->lock);
	xa_init_flags(&tf->allocs, XA_FLAGS_ALLOC1);
	INIT_LIST_HEAD(&tf->stress);
	file->private_data = tf;

	mutex_lock(&tp_files_lock);
	list_add(&tf->node, &tp_files);
	mutex_unlock(&tp_files_lock);
	return 0;
}

static int tp_release(struct inode *inode, struct file *file)
{
	struct tp_file *tf = file->private_data;
	struct tp_alloc *a;
	unsigned long id;

	down_read(&tp_revoke_rwsem);
	mutex_lock(&tp_files_lock);
	list_del(&tf->node);
	mutex_unlock(&tp_files_lock);
	xa_for_each(&tf->allocs, id, a) {
		xa_erase(&tf->allocs, id);
		tp_release_alloc(a);
	}
	up_read(&tp_revoke_rwsem);

	xa_destroy(&tf->allocs);
	mutex_destroy(&tf->lock);
	kfree(tf);
	return 0;
}

/* Free @pdev's allocations of one file; tp_revoke_rwsem held for writing. */
static unsigned int tp_revoke_file(struct tp_file *tf, struct pci_dev *pdev)
{
	struct tp_stress_ctx *ctx;
	unsigned int n = 0;
	struct tp_alloc *a;
	unsigned long id;

	list_for_each_entry(ctx, &tf->stress, node)
		if (ctx->provider == pdev)
			ctx->revoked = true;
	xa_for_each(&tf->allocs, id, a) {
		if (a->provider != pdev)
			continue;
		tp_free_mem(a);
		n++;
	}
	return n;
}

static void tp_revoke(struct pci_dev *pdev)
{
	struct tp_file *tf;
	struct tp_dying *d;
	unsigned int n = 0;

	/* Tiny and not worth failing an unbind over: failslab skips NOFAIL. */
	d = kmalloc(sizeof(*d), GFP_KERNEL | __GFP_NOFAIL);
	d->pdev = pdev;

	down_write(&tp_revoke_rwsem);
	if (tp_provider_dying(pdev))
		kfree(d);
	else
		list_add(&d->node, &tp_dying_list);
	mutex_lock(&tp_files_lock);
	list_for_each_entry(tf, &tp_files, node)
		n += tp_revoke_file(tf, pdev);
	mutex_unlock(&tp_files_lock);
	up_write(&tp_revoke_rwsem);

	if (n)
		pci_info(pdev, "%s: revoked %u allocation(s)\n", KBUILD_MODNAME,
			 n);
}

static void tp_forget_dying(struct pci_dev *pdev)
{
	struct tp_dying *d, *tmp;

	down_write(&tp_revoke_rwsem);
	list_for_each_entry_safe(d, tmp, &tp_dying_list, node) {
		if (d->pdev == pdev) {
			list_del(&d->node);
			kfree(d);
		}
	}
	up_write(&tp_revoke_rwsem);
}

/*
 * A provider's memory goes away in the devres teardown that follows
 * BUS_NOTIFY_UNBIND_DRIVER (unbind) and BUS_NOTIFY_DRIVER_NOT_BOUND (failed
 * probe); BUS_NOTIFY_DEL_DEVICE covers a device deleted with no unbind
 * before.  The teardown waits for every page to come back, so give them
 * back here.  The end of each of those (UNBOUND_DRIVER, REMOVED_DEVICE) or
 * the next probe (BIND_DRIVER) ends the window in which nothing new may be
 * allocated.
 */
static int tp_bus_notify(struct notifier_block *nb, unsigned long action,
			 void *data)
{
	struct pci_dev *pdev = to_pci_dev(data);

	switch (action) {
	case BUS_NOTIFY_UNBIND_DRIVER:
	case BUS_NOTIFY_DRIVER_NOT_BOUND:
	case BUS_NOTIFY_DEL_DEVICE:
		tp_revoke(pdev);
		break;
	case BUS_NOTIFY_BIND_DRIVER:
	case BUS_NOTIFY_UNBOUND_DRIVER:
	case BUS_NOTIFY_REMOVED_DEVICE:
		tp_forget_dying(pdev);
		break;
	}
	return NOTIFY_DONE;
}

static struct notifier_block tp_pci_nb = {
	.notifier_call = tp_bus_notify,
};

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

static int __init tp_init(void)
{
	int ret;

	ret = bus_register_notifier(&pci_bus_type, &tp_pci_nb);
	if (ret)
		return ret;
	ret = misc_register(&tp_misc);
	if (ret)
		bus_unregister_notifier(&pci_bus_type, &tp_pci_nb);
	return ret;
}
module_init(tp_init);

static void __exit tp_exit(void)
{
	struct tp_dying *d, *tmp;

	/* No file is open: each holds a reference on the module. */
	misc_deregister(&tp_misc);
	bus_unregister_notifier(&pci_bus_type, &tp_pci_nb);
	list_for_each_entry_safe(d, tmp, &tp_dying_list, node) {
		list_del(&d->node);
		kfree(d);
	}
}
module_exit(tp_exit);

MODULE_DESCRIPTION("Test driver exposing the PCI P2PDMA API to selftests");
MODULE_LICENSE("GPL");
