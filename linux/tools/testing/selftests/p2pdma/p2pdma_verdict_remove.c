// SPDX-License-Identifier: GPL-2.0
/*
 * Cached verdicts follow the topology: a client that is removed and
 * rescanned into the same PCI address, behind a port whose ACS redirect
 * bits were set meanwhile, gets a verdict of its own, in the distance
 * query, the DMA mapping path, pci_p2pmem_find_many() and p2pmem/peers.
 *
 * Built for the acs topology: NVMe A (CMB), B and C are functions of one
 * device below root port 00:04.0, whose ACS capability has no redirect,
 * so A and B talk by bus address at distance 2 (topology table).  The test
 * sets RR+CR on the port through its config space in sysfs, which the
 * kernel does not watch, then removes B and rescans: the new B is redirected
 * through the host bridge, which an Intel vCPU refuses.  It clears the bits
 * and does it again, and B is back at distance 2.  The expected verdicts
 * come from the topology table and the ACS bits the test wrote.
 *
 * Stock 6.12 never forgets a verdict while the provider stays bound: the
 * new B inherits the old one (a difference the README lists), so the test
 * skips there.  Elsewhere than the acs topology it skips; there, a missing
 * device fails it.  Runs with the other _remove binaries, last.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "../kselftest_harness.h"
#include "p2pdma_common.h"

#define PCI_EXT_CAP_ID_ACS	0x0d
#define PCI_ACS_CTRL		0x06
#define PCI_ACS_RR		0x0004
#define PCI_ACS_CR		0x0008
#define RESCAN_WAIT_MS		30000

/* Offset of extended capability @id in @bdf's config space, or -1. */
static int ext_cap(const char *bdf, unsigned int id)
{
	char path[PATH_MAX];
	unsigned int hdr, off = 0x100, n = 0;
	int fd, ret = -1;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/config", bdf);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	while (off >= 0x100 && n++ < 64) {
		if (pread(fd, &hdr, 4, off) != 4 || !hdr || hdr == ~0U)
			break;
		if ((hdr & 0xffff) == id) {
			ret = off;
			break;
		}
		off = (hdr >> 20) & 0xffc;
	}
	close(fd);
	return ret;
}

static int cfg_rw16(const char *bdf, int off, unsigned short *val, bool write)
{
	char path[PATH_MAX];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/config", bdf);
	fd = open(path, write ? O_RDWR : O_RDONLY);
	if (fd < 0)
		return -errno;
	n = write ? pwrite(fd, val, 2, off) : pread(fd, val, 2, off);
	close(fd);
	return n == 2 ? 0 : -EIO;
}

static int write_str(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY), ret = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, s, strlen(s)) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

/* Remove @bdf, rescan, and wait for it to come back; 0 or -errno. */
static int remove_rescan(const char *bdf)
{
	char path[PATH_MAX];
	int ret, ms;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/remove", bdf);
	ret = write_str(path, "1");
	if (ret)
		return ret;
	ret = write_str("/sys/bus/pci/rescan", "1");
	if (ret)
		return ret;
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s", bdf);
	for (ms = 0; ms < RESCAN_WAIT_MS; ms += 100) {
		if (!access(path, F_OK))
			return 0;
		usleep(100 * 1000);
	}
	return -ETIMEDOUT;
}

/* The p2pmem/peers line of @client, without its address; "" if none. */
static void peers_line(const char *provider, const char *client, char *out,
		       size_t len)
{
	char path[PATH_MAX], buf[512];
	size_t n = strlen(client);
	FILE *f;

	out[0] = '\0';
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/p2pmem/peers",
		 provider);
	f = fopen(path, "r");
	if (!f)
		return;
	while (fgets(buf, sizeof(buf), f)) {
		if (!strncmp(buf, client, n) && buf[n] == ' ') {
			buf[strcspn(buf, "\n")] = '\0';
			p2p_copy_str(out, len, buf + n + 1);
			break;
		}
	}
	fclose(f);
}

FIXTURE(verdict) {
	struct p2p_env env;
	int fd;
	char client[P2P_BDF_LEN];
	char port[P2P_BDF_LEN];
	int acs;
	unsigned short ctrl0;
	bool changed;
};

FIXTURE_SETUP(verdict)
{
	bool acs_topo = !strcmp(p2p_topology_name(), "acs");

	if (!acs_topo)
		SKIP(return, "needs the acs topology (functions below a root port with ACS)");
	if (p2p_kernel_is("baseline"))
		SKIP(return,
		     "stock 6.12 keeps a removed client's verdict for the next device at its address");
	self->fd = open(TEST_P2PDMA_DEVICE, O_RDWR);
	ASSERT_LE(0, self->fd) {
		TH_LOG("%s: %s (insmod test_p2pdma.ko)", TEST_P2PDMA_DEVICE,
		       strerror(errno));
	}
	ASSERT_EQ(0, p2p_env_scan(&self->env));
	ASSERT_LE(0, self->env.peer[0]);
	p2p_copy_str(self->client, sizeof(self->client),
		     self->env.nvme[self->env.peer[0]].bdf);
	ASSERT_EQ(0, p2p_upstream_bdf(self->env.provider, self->port,
				      sizeof(self->port)));
	self->acs = ext_cap(self->port, PCI_EXT_CAP_ID_ACS);
	ASSERT_LT(0, self->acs) {
		TH_LOG("no ACS capability on %s", self->port);
	}
	ASSERT_EQ(0, cfg_rw16(self->port, self->acs + PCI_ACS_CTRL,
			      &self->ctrl0, false));
	ASSERT_EQ(0, self->ctrl0 & (PCI_ACS_RR | PCI_ACS_CR));
}

FIXTURE_TEARDOWN(verdict)
{
	if (self->changed) {
		cfg_rw16(self->port, self->acs + PCI_ACS_CTRL, &self->ctrl0,
			 true);
		remove_rescan(self->client);
	}
	if (self->fd >= 0)
		close(self->fd);
}

/* distance query (cached, non-verbose) and DMA map of p2pmem for @client */
static int query(int fd, const char *provider, const char *client,
		 struct test_p2pdma_distance *d)
{
	memset(d, 0, sizeof(*d));
	if (p2p_parse_bdf(provider, &d->provider) ||
	    p2p_parse_bdf(client, &d->clients[0]))
		return -EINVAL;
	d->nr_clients = 1;
	return ioctl(fd, TEST_P2PDMA_DISTANCE, d) ? -errno : 0;
}

static int find(int fd, const char *client)
{
	struct test_p2pdma_find f = { .nr_clients = 1 };

	if (p2p_parse_bdf(client, &f.clients[0]))
		return -EINVAL;
	if (ioctl(fd, TEST_P2PDMA_FIND, &f))
		return -errno;
	return f.status;
}

TEST_F(verdict, fresh_after_rescan)
{
	const struct p2p_topology *t = p2p_topology_from_env();
	struct test_p2pdma_distance d;
	unsigned short ctrl = self->ctrl0 | PCI_ACS_RR | PCI_ACS_CR;
	char line[320], want[128];

	/* Before: bus addresses at the table's distance, and cached now. */
	ASSERT_EQ(0, query(self->fd, self->env.provider, self->client, &d));
	ASSERT_EQ(t->distance, d.distance);
	ASSERT_EQ(0, d.map_errno);
	ASSERT_EQ(0, find(self->fd, self->client));

	/* RR+CR on the port, behind the kernel's back; B goes and comes back. */
	ASSERT_EQ(0, cfg_rw16(self->port, self->acs + PCI_ACS_CTRL, &ctrl,
			      true));
	self->changed = true;
	ASSERT_EQ(0, remove_rescan(self->client));

	ASSERT_EQ(0, query(self->fd, self->env.provider, self->client, &d));
	EXPECT_EQ(-1, d.distance);
	EXPECT_EQ(-EREMOTEIO, d.map_errno);
	EXPECT_EQ(-ENODEV, find(self->fd, self->client));
	peers_line(self->env.provider, self->client, line, sizeof(line));
	snprintf(want, sizeof(want), "ACS RR+CR on %s", self->port);
	EXPECT_EQ(0, strncmp(line, "not_supported -1 ", 17)) {
		TH_LOG("peers: %s", line);
	}
	EXPECT_NE(NULL, strstr(line, want)) {
		TH_LOG("peers: %s", line);
	}

	/* Bits cleared, B rescanned again: bus addresses again. */
	ASSERT_EQ(0, cfg_rw16(self->port, self->acs + PCI_ACS_CTRL,
			      &self->ctrl0, true));
	self->changed = false;
	ASSERT_EQ(0, remove_rescan(self->client));
	ASSERT_EQ(0, query(self->fd, self->env.provider, self->client, &d));
	EXPECT_EQ(t->distance, d.distance);
	EXPECT_EQ(0, d.map_errno);
	EXPECT_EQ(0, find(self->fd, self->client));
}

TEST_HARNESS_MAIN
