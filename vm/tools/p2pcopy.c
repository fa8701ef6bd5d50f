// SPDX-License-Identifier: GPL-2.0
/*
 * p2pcopy - copy between two block devices with O_DIRECT through a buffer
 * that lives in a PCI device's p2pmem (mmap of p2pmem/allocate), then verify.
 *
 *   p2pcopy <provider-bdf> <src-blockdev> <dst-blockdev> [total-MiB] [chunk-KiB]
 *
 * The source is first filled with a seeded pattern from host memory; the copy
 * is src -> p2pmem -> dst; the destination is read back into host memory and
 * compared.  Exit status: 0 data verified, 1 data mismatch, 2 the P2P I/O was
 * refused or failed (the errno is printed), 3 set-up error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void fill(uint64_t *buf, size_t len, uint64_t off)
{
	size_t i;

	for (i = 0; i < len / 8; i++)
		buf[i] = (off + i * 8) * 0x9e3779b97f4a7c15ull ^ 0x5aa5c33cull;
}

static int xfer(int write_it, int fd, void *buf, size_t len, off_t off,
		const char *what)
{
	ssize_t n = write_it ? pwrite(fd, buf, len, off) : pread(fd, buf, len, off);

	if (n == (ssize_t)len)
		return 0;
	fprintf(stderr, "p2pcopy: %s at %lld: %s\n", what, (long long)off,
		n < 0 ? strerror(errno) : "short transfer");
	return -1;
}

int main(int argc, char **argv)
{
	size_t total, chunk, off;
	char path[256];
	void *p2p, *host, *check;
	double t0, secs;
	int afd, sfd, dfd;

	if (argc < 4) {
		fprintf(stderr, "usage: %s provider-bdf src dst [MiB] [chunk-KiB]\n", argv[0]);
		return 3;
	}
	total = (argc > 4 ? strtoul(argv[4], NULL, 0) : 16) << 20;
	chunk = (argc > 5 ? strtoul(argv[5], NULL, 0) : 1024) << 10;
	if (!total || !chunk || total % chunk) {
		fprintf(stderr, "p2pcopy: total must be a multiple of chunk\n");
		return 3;
	}

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/p2pmem/allocate", argv[1]);
	afd = open(path, O_RDWR);
	sfd = open(argv[2], O_RDWR | O_DIRECT);
	dfd = open(argv[3], O_RDWR | O_DIRECT);
	if (afd < 0 || sfd < 0 || dfd < 0) {
		perror("p2pcopy: open");
		return 3;
	}
	p2p = mmap(NULL, chunk, PROT_READ | PROT_WRITE, MAP_SHARED, afd, 0);
	if (p2p == MAP_FAILED) {
		perror("p2pcopy: mmap p2pmem/allocate");
		return 3;
	}
	if (posix_memalign(&host, 4096, chunk) || posix_memalign(&check, 4096, chunk))
		return 3;

	for (off = 0; off < total; off += chunk) {
		fill(host, chunk, off);
		if (xfer(1, sfd, host, chunk, off, "seed write"))
			return 3;
	}

	t0 = now();
	for (off = 0; off < total; off += chunk) {
		if (xfer(0, sfd, p2p, chunk, off, "O_DIRECT read into p2pmem") ||
		    xfer(1, dfd, p2p, chunk, off, "O_DIRECT write from p2pmem"))
			return 2;
	}
	secs = now() - t0;

	for (off = 0; off < total; off += chunk) {
		fill(host, chunk, off);
		if (xfer(0, dfd, check, chunk, off, "verify read"))
			return 3;
		if (memcmp(host, check, chunk)) {
			fprintf(stderr, "p2pcopy: data mismatch in chunk at %zu\n", off);
			return 1;
		}
	}
	printf("p2pcopy: %zu MiB %s -> p2pmem(%s) -> %s verified, %.1f MiB/s read+write\n",
	       total >> 20, argv[2], argv[1], argv[3], (total >> 20) / secs);
	return 0;
}
