// SPDX-License-Identifier: GPL-2.0
/*
 * p2pdma-verdict - ask the kernel (through test_p2pdma.ko) whether a client
 * can DMA to a provider's p2pmem, and how.
 *
 *   p2pdma-verdict <provider-bdf> <client-bdf>
 *
 * Prints the distance pci_p2pdma_distance() reports and how a DMA mapping of
 * one p2pmem page for the client came out.  The kernel logs its reasons
 * (verbose mode) to dmesg.  Exit status: 0 P2P possible, 1 refused, 2 error.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include "test_p2pdma_uapi.h"

static int parse_bdf(const char *s, struct test_p2pdma_bdf *bdf)
{
	unsigned int dom, bus, dev, fn;

	if (sscanf(s, "%x:%x:%x.%x", &dom, &bus, &dev, &fn) != 4 ||
	    bus > 0xff || dev > 0x1f || fn > 7)
		return -1;
	memset(bdf, 0, sizeof(*bdf));
	bdf->domain = dom;
	bdf->bus = bus;
	bdf->devfn = (dev << 3) | fn;
	return 0;
}

static const char *kind_name(int kind)
{
	switch (kind) {
	case TEST_P2PDMA_MAP_BUS_ADDR:
		return "PCI bus address (peer-to-peer below a common bridge)";
	case TEST_P2PDMA_MAP_THRU_HOST_BRIDGE:
		return "through the host bridge (CPU physical address or IOVA)";
	case TEST_P2PDMA_MAP_REFUSED:
		return "refused";
	case TEST_P2PDMA_MAP_MIXED:
		return "mixed";
	default:
		return "not probed";
	}
}

int main(int argc, char **argv)
{
	struct test_p2pdma_distance d;
	int fd;

	memset(&d, 0, sizeof(d));
	if (argc != 3 || parse_bdf(argv[1], &d.provider) ||
	    parse_bdf(argv[2], &d.clients[0])) {
		fprintf(stderr, "usage: %s provider-bdf client-bdf\n", argv[0]);
		return 2;
	}
	d.nr_clients = 1;
	d.flags = TEST_P2PDMA_F_VERBOSE;

	fd = open(TEST_P2PDMA_DEVICE, O_RDWR);
	if (fd < 0 || ioctl(fd, TEST_P2PDMA_DISTANCE, &d)) {
		perror("p2pdma-verdict: " TEST_P2PDMA_DEVICE);
		return 2;
	}
	printf("distance %d, DMA mapping: %s", d.distance, kind_name(d.map_kind));
	if (d.map_kind == TEST_P2PDMA_MAP_REFUSED)
		printf(" (%s)", strerror(-d.map_errno));
	if (d.map_kind == TEST_P2PDMA_MAP_THRU_HOST_BRIDGE)
		printf(", %s", d.map_flags & TEST_P2PDMA_MAPPED_IOVA ? "IOMMU-mapped" : "direct");
	printf("\n");
	return d.distance < 0 ? 1 : 0;
}
