// SPDX-License-Identifier: GPL-2.0
/*
 * Non-disruptive stress: every online CPU allocates and frees p2pmem of
 * mixed sizes through the test module (TEST_P2PDMA_STRESS: each allocation
 * filled with its own pattern and checked before it is freed), while user
 * space maps and unmaps p2pmem/allocate and checks what it wrote.  Bounded
 * in time; nothing may be corrupted or refused (the pool is much larger
 * than what is held at once), and every provider's "available" is back
 * at its start value at the end.  With several providers the CPUs spread
 * over them.  Load test_p2pdma.ko first.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "../kselftest_harness.h"
#include "p2pdma_common.h"

#define MAX_PROVIDERS	8
#define MAX_THREADS	64
#define RUN_MS		3000	/* per test: a few seconds under TCG */
#define ROUND_ITERS	64	/* iterations per STRESS call */

FIXTURE(stress) {
	struct p2p_name provider[MAX_PROVIDERS];
	long long avail0[MAX_PROVIDERS];
	int nr_providers;
};

FIXTURE_SETUP(stress)
{
	int fd, i;

	fd = open(TEST_P2PDMA_DEVICE, O_RDWR);
	ASSERT_LE(0, fd) TH_LOG("%s: %s (insmod test_p2pdma.ko)",
				TEST_P2PDMA_DEVICE, strerror(errno));
	close(fd);
	self->nr_providers = p2p_list_providers(self->provider, MAX_PROVIDERS);
	if (!self->nr_providers && !p2p_topology_from_env())
		SKIP(return, "no PCI function with p2pmem in this guest");
	ASSERT_LT(0, self->nr_providers)
		TH_LOG("topology %s has p2pmem, none found",
		       p2p_topology_name());
	for (i = 0; i < self->nr_providers; i++) {
		self->avail0[i] = p2p_attr(self->provider[i].bdf, "available");
		ASSERT_LT(4 << 20, self->avail0[i]);
	}
}

/* In the parent, so that it also runs after a failed ASSERT. */
FIXTURE_TEARDOWN_PARENT(stress)
{
	int i;

	/* pages unmapped by user space may come back a little later */
	for (i = 0; i < self->nr_providers; i++)
		EXPECT_EQ(self->avail0[i],
			  p2p_wait_attr(self->provider[i].bdf, "available",
					self->avail0[i], 2000))
			TH_LOG("%s", self->provider[i].bdf);
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

struct worker {
	pthread_t thread;
	int cpu;
	const char *provider;
	long long deadline;
	/* results */
	int err;			/* errno of a failed ioctl, or 0 */
	bool pinned;
	unsigned long long rounds, allocs, failures, corrupt, revoked;
};

/* One CPU: STRESS rounds with a different size mix each round. */
static void *kernel_worker(void *arg)
{
	static const unsigned int max_pages[] = { 1, 4, 16, 3, 64, 7 };
	struct worker *w = arg;
	struct test_p2pdma_stress st;
	cpu_set_t set;
	int fd;

	CPU_ZERO(&set);
	CPU_SET(w->cpu, &set);
	w->pinned = !pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	fd = open(TEST_P2PDMA_DEVICE, O_RDWR);
	if (fd < 0) {
		w->err = errno;
		return NULL;
	}
	while (now_ms() < w->deadline) {
		memset(&st, 0, sizeof(st));
		if (p2p_parse_bdf(w->provider, &st.provider)) {
			w->err = EINVAL;
			break;
		}
		st.iterations = ROUND_ITERS;
		st.max_pages = max_pages[w->rounds % ARRAY_SIZE(max_pages)];
		st.seed = ((unsigned long long)w->cpu << 32) + w->rounds;
		if (ioctl(fd, TEST_P2PDMA_STRESS, &st)) {
			w->err = errno;
			break;
		}
		w->rounds++;
		w->allocs += st.allocs;
		w->failures += st.failures;
		w->corrupt += st.corrupt;
		w->revoked += st.revoked;
	}
	close(fd);
	return NULL;
}

struct mapper {
	pthread_t thread;
	const struct p2p_name *provider;
	int nr_providers;
	long long deadline;
	int err;
	unsigned long long maps, mismatches;
};

/* User space: map, write, read back, unmap, sizes from 4 KiB to 1 MiB. */
static void *user_mapper(void *arg)
{
	static const size_t sizes[] = { 4096, 65536, 12288, 1 << 20, 8192 };
	struct mapper *m = arg;
	size_t len;
	char *p;
	int fd;

	while (now_ms() < m->deadline) {
		len = sizes[m->maps % ARRAY_SIZE(sizes)];
		fd = p2p_open_allocate(m->provider[m->maps % m->nr_providers].bdf,
				       O_RDWR);
		if (fd < 0) {
			m->err = -fd;
			break;
		}
		p = p2p_map(fd, len);
		if (p == MAP_FAILED) {
			m->err = errno;
			close(fd);
			break;
		}
		p2p_fill(p, len, m->maps);
		if (p2p_mismatch(p, len, m->maps) >= 0)
			m->mismatches++;
		munmap(p, len);
		close(fd);
		m->maps++;
	}
	return NULL;
}

TEST_F_TIMEOUT(stress, all_cpus_with_user_mappings, 120)
{
	static struct worker w[MAX_THREADS];
	struct mapper m = { 0 };
	long long deadline;
	cpu_set_t online;
	int i, n = 0;

	ASSERT_EQ(0, sched_getaffinity(0, sizeof(online), &online));
	deadline = now_ms() + RUN_MS;
	for (i = 0; i < CPU_SETSIZE && n < MAX_THREADS; i++) {
		if (!CPU_ISSET(i, &online))
			continue;
		memset(&w[n], 0, sizeof(w[n]));
		w[n].cpu = i;
		w[n].provider = self->provider[n % self->nr_providers].bdf;
		w[n].deadline = deadline;
		ASSERT_EQ(0, pthread_create(&w[n].thread, NULL, kernel_worker,
					    &w[n]));
		n++;
	}
	m.provider = self->provider;
	m.nr_providers = self->nr_providers;
	m.deadline = deadline;
	ASSERT_EQ(0, pthread_create(&m.thread, NULL, user_mapper, &m));

	for (i = 0; i < n; i++)
		pthread_join(w[i].thread, NULL);
	pthread_join(m.thread, NULL);

	for (i = 0; i < n; i++) {
		TH_LOG("cpu %d on %s: %llu rounds, %llu allocations, %llu refused, %llu corrupt",
		       w[i].cpu, w[i].provider, w[i].rounds, w[i].allocs,
		       w[i].failures, w[i].corrupt);
		EXPECT_EQ(0, w[i].err) TH_LOG("cpu %d: %s", w[i].cpu,
					      strerror(w[i].err));
		EXPECT_TRUE(w[i].pinned);
		EXPECT_LT(0, w[i].allocs);
		EXPECT_EQ(0, w[i].corrupt);
		EXPECT_EQ(0, w[i].failures);
		EXPECT_EQ(0, w[i].revoked);
	}
	TH_LOG("user space: %llu mappings", m.maps);
	EXPECT_EQ(0, m.err) TH_LOG("mapper: %s", strerror(m.err));
	EXPECT_LT(0, m.maps);
	EXPECT_EQ(0, m.mismatches);
}

TEST_HARNESS_MAIN
