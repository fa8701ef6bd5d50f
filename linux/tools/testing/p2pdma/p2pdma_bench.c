// SPDX-License-Identifier: GPL-2.0
/*
 * Micro-benchmarks of the public P2PDMA API, in the manner of
 * lib/test_vmalloc.c: load the module with parameters, it measures, prints
 * one "RESULT" line per measurement; unload it before the next run.
 *
 *   insmod p2pdma_bench.ko provider=0000:03:00.0 client=0000:04:00.0
 *
 * Only public interfaces are used, so the same source builds against our
 * kernel and against stock upstream and the numbers compare like for like.
 *
 * Allocator rows time one pci_alloc_p2pmem() + pci_free_p2pmem() pair of a
 * given size while the pool is held at a given occupancy.  The occupied part
 * sits at the bottom of the pool and is fragmented (a 4 KiB hole every
 * 64 KiB); the free part is above it.  A first-fit search that walks the
 * pool pays for every occupied page it passes; a structure indexed by free
 * block size does not.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/completion.h>
#include <linux/dma-mapping.h>
#include <linux/fs.h>
#include <linux/kthread.h>
#include <linux/ktime.h>
#include <linux/module.h>
#include <linux/pci.h>
#include <linux/pci-p2pdma.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>
#include <linux/sort.h>

static char *provider;
module_param(provider, charp, 0444);
MODULE_PARM_DESC(provider, "PCI address of the p2pmem provider (required)");

static char *client;
module_param(client, charp, 0444);
MODULE_PARM_DESC(client, "PCI address of a DMA client (distance, dma_map_sg rows)");

static unsigned int iters = 2000;
module_param(iters, uint, 0444);
MODULE_PARM_DESC(iters, "operations per measurement (default 2000)");

static char *label = "pool";
module_param(label, charp, 0444);
MODULE_PARM_DESC(label, "name prefix of the allocator rows (e.g. pool64M)");

static unsigned int checkerboard;
module_param(checkerboard, uint, 0444);
MODULE_PARM_DESC(checkerboard, "time failing 8 KiB allocations in a pool with every other page free: 1 also, 2 only");

static bool alloc_only;
module_param(alloc_only, bool, 0444);
MODULE_PARM_DESC(alloc_only, "only the alloc_free rows, for looking into them");

static bool percall_only;
module_param(percall_only, bool, 0444);
MODULE_PARM_DESC(percall_only, "only the per-call rows (distance, dma_map_sg); needs client=");

#define FRAG_CHUNK	(60 * 1024)	/* kept allocation ... */
#define FRAG_HOLE	(4 * 1024)	/* ... followed by a 4 KiB hole */
#define MAP_SEGS	16
/* The per-call rows take the median of this many timed loops. */
#define TRIALS		7

struct held {
	void *addr;
	size_t size;
};

struct fill {
	struct pci_dev *pdev;
	struct held *held;
	unsigned int nr;
	unsigned int max;
};

static int fill_take(struct fill *f, size_t size)
{
	void *addr;

	if (f->nr == f->max)
		return -ENOSPC;
	addr = pci_alloc_p2pmem(f->pdev, size);
	if (!addr)
		return -ENOMEM;
	f->held[f->nr].addr = addr;
	f->held[f->nr].size = size;
	f->nr++;
	return 0;
}

static void fill_release(struct fill *f, bool holes_only)
{
	unsigned int i, kept = 0;

	for (i = 0; i < f->nr; i++) {
		if (holes_only && f->held[i].size != FRAG_HOLE) {
			f->held[kept++] = f->held[i];
			continue;
		}
		pci_free_p2pmem(f->pdev, f->held[i].addr, f->held[i].size);
	}
	f->nr = kept;
}

/* Size of the pool in bytes, found by allocating it whole in 2 MiB steps. */
static size_t pool_bytes(struct fill *f)
{
	size_t total = 0;

	while (!fill_take(f, SZ_2M))
		total += SZ_2M;
	while (!fill_take(f, PAGE_SIZE))
		total += PAGE_SIZE;
	fill_release(f, false);
	return total;
}

/*
 * Occupy @percent of the pool from the bottom up: 60 KiB kept + 4 KiB hole,
 * repeated; the holes are freed at the end so the occupied part is riddled
 * with single free pages.
 */
static int fragment(struct fill *f, size_t pool, unsigned int percent)
{
	size_t target = pool / 100 * percent, used = 0;
	int ret;

	while (used + FRAG_CHUNK <= target) {
		ret = fill_take(f, FRAG_CHUNK);
		if (!ret)
			ret = fill_take(f, FRAG_HOLE);
		if (ret)
			return ret;
		used += FRAG_CHUNK;
	}
	fill_release(f, true);
	return 0;
}

struct worker {
	struct pci_dev *pdev;
	size_t size;
	u64 ns;
	unsigned int failed;
	struct completion *go;
	struct completion done;
};

static void alloc_free_loop(struct worker *w)
{
	ktime_t t0 = ktime_get();
	unsigned int i;
	void *addr;

	for (i = 0; i < iters; i++) {
		addr = pci_alloc_p2pmem(w->pdev, w->size);
		if (!addr) {
			w->failed++;
			continue;
		}
		pci_free_p2pmem(w->pdev, addr, w->size);
	}
	w->ns = ktime_to_ns(ktime_sub(ktime_get(), t0));
}

static int alloc_free_thread(void *data)
{
	struct worker *w = data;

	wait_for_completion(w->go);
	alloc_free_loop(w);
	complete(&w->done);
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	u64 x = *(const u64 *)a, y = *(const u64 *)b;

	return x < y ? -1 : x > y;
}

/* Median of @n timings, @n odd. */
static u64 median_of(u64 *ns, unsigned int n)
{
	sort(ns, n, sizeof(*ns), cmp_u64, NULL);
	return ns[n / 2];
}

/*
 * Median of TRIALS timings: one interrupt or host hiccup under TCG can
 * double a single loop of a few hundred microseconds.
 */
static u64 median(u64 *ns)
{
	return median_of(ns, TRIALS);
}

/*
 * One timed loop of @nthreads concurrent threads; returns ns per alloc+free
 * pair, averaged over the threads, and adds their failures to *@failed.
 * Returns 0 if a thread could not be started.
 */
static u64 alloc_trial(struct pci_dev *pdev, size_t size,
		       unsigned int nthreads, unsigned int *failed)
{
	struct worker w[2] = {};
	DECLARE_COMPLETION_ONSTACK(go);
	struct task_struct *t;
	unsigned int i, started;
	u64 ns = 0;

	for (i = 0; i < nthreads; i++) {
		w[i].pdev = pdev;
		w[i].size = size;
		w[i].go = &go;
		init_completion(&w[i].done);
		t = kthread_run(alloc_free_thread, &w[i], "p2pbench/%u", i);
		if (IS_ERR(t)) {
			pr_err("cannot start a thread: %ld\n", PTR_ERR(t));
			break;
		}
	}
	started = i;
	complete_all(&go);
	for (i = 0; i < started; i++) {
		wait_for_completion(&w[i].done);
		ns += w[i].ns;
		*failed += w[i].failed;
	}
	if (started < nthreads)
		return 0;
	return div_u64(ns, iters * nthreads);
}

/*
 * ns per alloc+free pair: the median of TRIALS timed loops (one loop of
 * 2000 small pairs lasts about a millisecond, and one host hiccup under
 * TCG doubled single loops), or of fewer, but at least three, once the
 * loops have taken ALLOC_BUDGET_NS: a first-fit search in a fragmented
 * pool takes about a second per loop.  @tag ends the row's name.
 */
#define ALLOC_BUDGET_NS	(2 * NSEC_PER_SEC)

static void bench_alloc(struct pci_dev *pdev, unsigned int percent,
			size_t size, unsigned int nthreads, const char *tag)
{
	unsigned int t, failed = 0;
	u64 ns[TRIALS], spent = 0;

	for (t = 0; t < TRIALS; t++) {
		ns[t] = alloc_trial(pdev, size, nthreads, &failed);
		if (!ns[t])
			return;
		spent += ns[t] * iters;
		if (failed || (t >= 2 && !(t & 1) && spent > ALLOC_BUDGET_NS))
			break;
	}
	if (failed)
		pr_info("RESULT alloc_free_%s_occ%u_%zuK_t%u%s=FAILED %u of %u\n",
			label, percent, size / 1024, nthreads, tag, failed,
			iters * nthreads * (t + 1));
	else
		pr_info("RESULT alloc_free_%s_occ%u_%zuK_t%u%s=%llu ns/op\n",
			label, percent, size / 1024, nthreads, tag,
			median_of(ns, min(t + 1, TRIALS)));
}

static void bench_allocator(struct pci_dev *pdev)
{
	static const unsigned int occupancy[] = { 0, 50, 90 };
	static const size_t sizes[] = { SZ_4K, SZ_64K, SZ_2M };
	struct fill f = { .pdev = pdev };
	unsigned int o, s;
	size_t pool;

	/* Enough slots to fragment a pool of up to 4 GiB. */
	f.max = 2 * (SZ_4G / FRAG_CHUNK) + 2048;
	f.held = kvmalloc_array(f.max, sizeof(*f.held), GFP_KERNEL);
	if (!f.held)
		return;

	pool = pool_bytes(&f);
	pr_info("RESULT pool_bytes_%s=%zu bytes\n", label, pool);

	for (o = 0; o < ARRAY_SIZE(occupancy); o++) {
		if (fragment(&f, pool, occupancy[o])) {
			pr_err("cannot reach %u%% occupancy\n", occupancy[o]);
			break;
		}
		for (s = 0; s < ARRAY_SIZE(sizes); s++) {
			bench_alloc(pdev, occupancy[o], sizes[s], 1, "");
			bench_alloc(pdev, occupancy[o], sizes[s], 2, "");
		}
		fill_release(&f, false);
	}
	kvfree(f.held);
}

static void bench_distance(struct pci_dev *pdev, struct pci_dev *cdev)
{
	struct device *dev = &cdev->dev;
	u64 ns[TRIALS];
	unsigned int i, t;
	ktime_t t0;
	int dist;

	/* The first call computes and caches the verdict. */
	dist = pci_p2pdma_distance(pdev, dev, false);
	for (t = 0; t < TRIALS; t++) {
		t0 = ktime_get();
		for (i = 0; i < iters * 10; i++)
			dist = pci_p2pdma_distance(pdev, dev, false);
		ns[t] = ktime_to_ns(ktime_sub(ktime_get(), t0));
	}
	pr_info("RESULT distance_cached=%llu ns/op (distance %d)\n",
		div_u64(median(ns), iters * 10), dist);
}

static void bench_dma_map(struct pci_dev *pdev, struct pci_dev *cdev)
{
	struct scatterlist sgl[MAP_SEGS];
	unsigned int i, t;
	u64 ns[TRIALS];
	void *buf;
	ktime_t t0;
	int n = 0;

	buf = pci_alloc_p2pmem(pdev, MAP_SEGS * PAGE_SIZE);
	if (!buf) {
		pr_err("no p2pmem for the dma_map_sg rows\n");
		return;
	}
	sg_init_table(sgl, MAP_SEGS);
	for (i = 0; i < MAP_SEGS; i++)
		sg_set_buf(&sgl[i], buf + i * PAGE_SIZE, PAGE_SIZE);

	for (t = 0; t < TRIALS && n >= 0; t++) {
		t0 = ktime_get();
		for (i = 0; i < iters; i++) {
			n = dma_map_sg(&cdev->dev, sgl, MAP_SEGS,
				       DMA_BIDIRECTIONAL);
			if (n <= 0) {
				n = n ?: -EIO;
				break;
			}
			dma_unmap_sg(&cdev->dev, sgl, MAP_SEGS,
				     DMA_BIDIRECTIONAL);
		}
		ns[t] = ktime_to_ns(ktime_sub(ktime_get(), t0));
	}
	if (n < 0)
		pr_info("RESULT dma_map_sg_p2p=FAILED (%d)\n", n);
	else
		pr_info("RESULT dma_map_sg_p2p=%llu ns/segment\n",
			div_u64(median(ns), iters * MAP_SEGS));
	pci_free_p2pmem(pdev, buf, MAP_SEGS * PAGE_SIZE);
}

/*
 * A contiguous request that must fail, in the hardest pool for a search of
 * free runs: every other page free, so no two free pages are adjacent.
 * Rows: the median ns of a failing 8 KiB pci_alloc_p2pmem(), and the
 * longest single call, which bounds how long it may keep interrupts off.
 */
static void bench_fail_checkerboard(struct pci_dev *pdev)
{
	struct fill f = { .pdev = pdev };
	unsigned int i, t, kept = 0, got = 0;
	u64 ns[TRIALS], worst = 0, sum, d;
	void *addr;
	ktime_t t0;

	f.max = SZ_4G / PAGE_SIZE;
	f.held = kvmalloc_array(f.max, sizeof(*f.held), GFP_KERNEL);
	if (!f.held)
		return;
	while (!fill_take(&f, PAGE_SIZE))
		;
	/* Free the pages at odd bus page numbers, whatever order they came in. */
	for (i = 0; i < f.nr; i++) {
		if ((pci_p2pmem_virt_to_bus(pdev, f.held[i].addr) >> PAGE_SHIFT) & 1)
			pci_free_p2pmem(pdev, f.held[i].addr, PAGE_SIZE);
		else
			f.held[kept++] = f.held[i];
	}
	f.nr = kept;

	for (t = 0; t < TRIALS; t++) {
		sum = 0;
		for (i = 0; i < 4; i++) {
			t0 = ktime_get();
			addr = pci_alloc_p2pmem(pdev, 2 * PAGE_SIZE);
			d = ktime_to_ns(ktime_sub(ktime_get(), t0));
			if (addr) {
				pci_free_p2pmem(pdev, addr, 2 * PAGE_SIZE);
				got++;
			}
			sum += d;
			worst = max(worst, d);
		}
		ns[t] = div_u64(sum, 4);
	}
	if (got) {
		pr_info("RESULT alloc_fail_checkerboard_%s_8K=FAILED %u allocations succeeded\n",
			label, got);
	} else {
		pr_info("RESULT alloc_fail_checkerboard_%s_8K=%llu ns/op\n",
			label, median(ns));
		pr_info("RESULT alloc_fail_checkerboard_%s_8K_longest=%llu ns\n",
			label, worst);
	}
	fill_release(&f, false);
	kvfree(f.held);
}

struct reader {
	struct file *file;
	u64 reads;
};

/* Read p2pmem/available over and over, as any user may. */
static int reader_thread(void *data)
{
	struct reader *r = data;
	char buf[32];
	loff_t pos;

	while (!kthread_should_stop()) {
		pos = 0;
		if (kernel_read(r->file, buf, sizeof(buf), &pos) > 0)
			r->reads++;
		cond_resched();
	}
	return 0;
}

/* The 4 KiB row again, with another thread looping on p2pmem/available. */
static void bench_alloc_with_reader(struct pci_dev *pdev)
{
	struct reader r = {};
	struct task_struct *t;
	char *path;

	path = kasprintf(GFP_KERNEL, "/sys/bus/pci/devices/%s/p2pmem/available",
			 pci_name(pdev));
	if (!path)
		return;
	r.file = filp_open(path, O_RDONLY, 0);
	kfree(path);
	if (IS_ERR(r.file)) {
		pr_err("cannot open p2pmem/available: %ld\n", PTR_ERR(r.file));
		return;
	}
	t = kthread_run(reader_thread, &r, "p2pbench/reader");
	if (!IS_ERR(t)) {
		bench_alloc(pdev, 0, SZ_4K, 1, "_reader");
		kthread_stop(t);
		pr_info("reader: %llu reads of available\n", r.reads);
	}
	filp_close(r.file, NULL);
}

static struct pci_dev *get_by_name(const char *name)
{
	struct device *dev;

	if (!name)
		return NULL;
	dev = bus_find_device_by_name(&pci_bus_type, NULL, name);
	return dev ? to_pci_dev(dev) : NULL;
}

static int __init p2pdma_bench_init(void)
{
	struct pci_dev *pdev, *cdev;

	if (!iters || iters > 10000000) {
		pr_err("iters must be between 1 and 10000000\n");
		return -EINVAL;
	}
	pdev = get_by_name(provider);
	if (!pdev) {
		pr_err("provider=<PCI address> names no PCI device\n");
		return -ENODEV;
	}
	cdev = get_by_name(client);

	/*
	 * Mapping rows first, while the pool is as the driver left it: the
	 * buffer then sits at the same place on every boot of a kernel,
	 * where after the allocator rows it would land wherever they left a
	 * free block, and under TCG dma_map_sg varied by 20 % between boots
	 * of one kernel with it (QEMU's software TLB is our suspect).
	 */
	if (percall_only) {
		int ret = 0;

		if (cdev) {
			bench_distance(pdev, cdev);
			bench_dma_map(pdev, cdev);
			pr_info("DONE\n");
		} else {
			pr_err("percall_only needs client=<PCI address>\n");
			ret = -ENODEV;
		}
		pci_dev_put(cdev);
		pci_dev_put(pdev);
		return ret;
	}
	if (alloc_only) {
		pci_dev_put(cdev);
		bench_allocator(pdev);
		pci_dev_put(pdev);
		pr_info("DONE\n");
		return 0;
	}
	if (cdev && checkerboard < 2) {
		bench_distance(pdev, cdev);
		bench_dma_map(pdev, cdev);
	}
	pci_dev_put(cdev);
	if (checkerboard < 2) {
		bench_allocator(pdev);
		bench_alloc_with_reader(pdev);
	}
	if (checkerboard)
		bench_fail_checkerboard(pdev);
	pci_dev_put(pdev);
	pr_info("DONE\n");
	return 0;
}
module_init(p2pdma_bench_init);

static void __exit p2pdma_bench_exit(void)
{
}
module_exit(p2pdma_bench_exit);

MODULE_DESCRIPTION("P2PDMA API micro-benchmarks");
MODULE_LICENSE("GPL");
