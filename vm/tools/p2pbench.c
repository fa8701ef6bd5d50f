// SPDX-License-Identifier: GPL-2.0
/*
 * p2pbench - user-space P2PDMA measurements for make bench.
 *
 *   p2pbench mmap <provider-bdf> <MiB> <label> [<stride-KiB>]
 *	mmap that much of p2pmem/allocate, write one byte every stride
 *	(default 4 KiB, every page; 0: no write at all), munmap; prints the
 *	wall time as mmap_touch_<label> (every page), mmap_munmap_<label>
 *	(no write) or mmap_touch<stride>_<label>.
 *   p2pbench dio <provider-bdf> <blockdev> <MiB> <chunk-KiB> [<suffix>]
 *	O_DIRECT reads from the block device into a p2pmem buffer of one
 *	chunk; prints throughput and CPU time (user + system) per GiB, the
 *	metric names ending in _<suffix> if one is given.
 *   p2pbench raid0 <mdN> <chunk-KiB> <blockdev>...
 *	build md raid0 array mdN over the block devices, without
 *	superblocks (what mdadm --build does), for the dio row through it.
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
#include <linux/major.h>
#include <linux/raid/md_p.h>
#include <linux/raid/md_u.h>
#include <sys/ioctl.h>
#include <sys/sysmacros.h>

#include "bench_time.h"

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

static int bench_mmap(const char *bdf, size_t mib, const char *label,
		      size_t stride_kib)
{
	size_t len = mib << 20, off, stride = stride_kib << 10;
	volatile char *p;
	double t0, tm, tt, t1;
	char name[64];
	int fd = open_allocate(bdf);

	if (fd < 0)
		return 1;
	if (!stride)
		snprintf(name, sizeof(name), "mmap_munmap_%s", label);
	else if (stride_kib == 4)
		snprintf(name, sizeof(name), "mmap_touch_%s", label);
	else if (!(stride_kib % 1024))
		snprintf(name, sizeof(name), "mmap_touch%zum_%s",
			 stride_kib >> 10, label);
	else
		snprintf(name, sizeof(name), "mmap_touch%zuk_%s", stride_kib,
			 label);
	t0 = now();
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		perror("p2pbench: mmap");
		return 1;
	}
	tm = now();
	for (off = 0; stride && off < len; off += stride)
		p[off] = 1;
	tt = now();
	munmap((void *)p, len);
	t1 = now();
	printf("BENCH: %s %.2f ms\n", name, (t1 - t0) * 1e3);
	/* Where the time went; not a table row. */
	printf("PHASES: %s mmap %.2f touch %.2f munmap %.2f ms\n",
	       name, (tm - t0) * 1e3, (tt - tm) * 1e3, (t1 - tt) * 1e3);
	close(fd);
	return 0;
}

static int bench_dio(const char *bdf, const char *dev, size_t mib, size_t kib,
		     const char *suffix)
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
	printf("BENCH: dio_read_to_p2pmem%s%s %.1f MiB/s\n", *suffix ? "_" : "",
	       suffix, mib / secs);
	printf("BENCH: dio_cpu_per_gib%s%s %.1f ms\n", *suffix ? "_" : "",
	       suffix, cpu * 1e3 * 1024 / mib);
	return 0;
}

static int md_raid0(const char *md, size_t chunk_kib, char **devs, int n)
{
	mdu_array_info_t a = {
		.level = 0, .nr_disks = n, .raid_disks = n, .not_persistent = 1,
		.state = 1 << MD_SB_CLEAN, .chunk_size = chunk_kib << 10,
	};
	mdu_param_t run = { 0 };
	char node[64];
	struct stat st;
	int fd, i;

	fd = open("/sys/module/md_mod/parameters/new_array", O_WRONLY);
	if (fd < 0 || write(fd, md, strlen(md)) < 0) {
		perror("p2pbench: md new_array");
		return 1;
	}
	close(fd);
	snprintf(node, sizeof(node), "/dev/%s", md);
	fd = open(node, O_RDWR);
	if (fd < 0 || ioctl(fd, SET_ARRAY_INFO, &a)) {
		perror("p2pbench: SET_ARRAY_INFO");
		return 1;
	}
	for (i = 0; i < n; i++) {
		mdu_disk_info_t d = {
			.number = i, .raid_disk = i,
			.state = (1 << MD_DISK_SYNC) | (1 << MD_DISK_ACTIVE),
		};

		if (stat(devs[i], &st)) {
			perror(devs[i]);
			return 1;
		}
		d.major = major(st.st_rdev);
		d.minor = minor(st.st_rdev);
		if (ioctl(fd, ADD_NEW_DISK, &d)) {
			perror("p2pbench: ADD_NEW_DISK");
			return 1;
		}
	}
	if (ioctl(fd, RUN_ARRAY, &run)) {
		perror("p2pbench: RUN_ARRAY");
		return 1;
	}
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	if ((argc == 5 || argc == 6) && !strcmp(argv[1], "mmap"))
		return bench_mmap(argv[2], strtoul(argv[3], NULL, 0), argv[4],
				  argc == 6 ? strtoul(argv[5], NULL, 0) : 4);
	if ((argc == 6 || argc == 7) && !strcmp(argv[1], "dio"))
		return bench_dio(argv[2], argv[3], strtoul(argv[4], NULL, 0),
				 strtoul(argv[5], NULL, 0),
				 argc == 7 ? argv[6] : "");
	if (argc >= 5 && !strcmp(argv[1], "raid0"))
		return md_raid0(argv[2], strtoul(argv[3], NULL, 0), argv + 4,
				argc - 4);
	fprintf(stderr, "usage: %s mmap BDF MiB LABEL [STRIDE-KiB] | "
		"dio BDF DEV MiB CHUNK-KiB [SUFFIX] | "
		"raid0 mdN CHUNK-KiB DEV...\n", argv[0]);
	return 2;
}
