// SPDX-License-Identifier: GPL-2.0
/*
 * p2pbench - user-space P2PDMA measurements for make bench.
 *
 *   p2pbench mmap <provider-bdf> <MiB> <label>
 *	mmap that much of p2pmem/allocate, write one byte to every page,
 *	munmap; prints the wall time.
 *   p2pbench dio <provider-bdf> <blockdev> <MiB> <chunk-KiB>
 *	O_DIRECT reads from the block device into a p2pmem buffer; prints
 *	throughput and CPU time (user + system) per GiB.
 *
 * Output lines: "BENCH: <metric> <value> <unit>".
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <linux/fs.h>
#include <sys/ioctl.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double cpu_seconds(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	       ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static int open_allocate(const char *bdf)
{
	char path[256];
	int fd;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/p2pmem/allocate", bdf);
	fd = open(path, O_RDWR);
	if (fd < 0)
		perror(path);
	return fd;
}

static int bench_mmap(const char *bdf, size_t mib, const char *label)
{
	size_t len = mib << 20, off;
	volatile char *p;
	double t0, tm, tt, t1;
	int fd = open_allocate(bdf);

	if (fd < 0)
		return 1;
	t0 = now();
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		perror("p2pbench: mmap");
		return 1;
	}
	tm = now();
	for (off = 0; off < len; off += 4096)
		p[off] = 1;
	tt = now();
	munmap((void *)p, len);
	t1 = now();
	printf("BENCH: mmap_touch_%s %.1f ms\n", label, (t1 - t0) * 1e3);
	/* Where the time went; not a table row. */
	printf("PHASES: mmap_touch_%s mmap %.2f touch %.2f munmap %.2f ms\n",
	       label, (tm - t0) * 1e3, (tt - tm) * 1e3, (t1 - tt) * 1e3);
	close(fd);
	return 0;
}

static int bench_dio(const char *bdf, const char *dev, size_t mib, size_t kib)
{
	size_t chunk = kib << 10, total = mib << 20, done;
	unsigned long long devsize = 0;
	double t0, c0, secs, cpu;
	void *buf;
	int afd = open_allocate(bdf), dfd = open(dev, O_RDONLY | O_DIRECT);

	if (afd < 0 || dfd < 0 || ioctl(dfd, BLKGETSIZE64, &devsize) || devsize < chunk) {
		perror("p2pbench: open");
		return 1;
	}
	buf = mmap(NULL, chunk, PROT_READ | PROT_WRITE, MAP_SHARED, afd, 0);
	if (buf == MAP_FAILED) {
		perror("p2pbench: mmap");
		return 1;
	}
	devsize -= devsize % chunk;
	t0 = now();
	c0 = cpu_seconds();
	for (done = 0; done < total; done += chunk) {
		if (pread(dfd, buf, chunk, done % devsize) != (ssize_t)chunk) {
			perror("p2pbench: O_DIRECT read into p2pmem");
			return 1;
		}
	}
	secs = now() - t0;
	cpu = cpu_seconds() - c0;
	printf("BENCH: dio_read_to_p2pmem %.1f MiB/s\n", mib / secs);
	printf("BENCH: dio_cpu_per_gib %.1f ms\n", cpu * 1e3 * 1024 / mib);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 5 && !strcmp(argv[1], "mmap"))
		return bench_mmap(argv[2], strtoul(argv[3], NULL, 0), argv[4]);
	if (argc == 6 && !strcmp(argv[1], "dio"))
		return bench_dio(argv[2], argv[3], strtoul(argv[4], NULL, 0),
				 strtoul(argv[5], NULL, 0));
	fprintf(stderr, "usage: %s mmap BDF MiB LABEL | dio BDF DEV MiB CHUNK-KiB\n", argv[0]);
	return 2;
}
