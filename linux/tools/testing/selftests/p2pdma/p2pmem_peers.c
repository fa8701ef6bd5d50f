// SPDX-License-Identifier: GPL-2.0
/*
 * p2pmem/peers: the verdict of every possible client of a provider, in
 * the format of Documentation/ABI/testing/sysfs-bus-pci.  Everything the
 * lines are checked against comes from outside the P2PDMA core: the set of
 * PCI functions and their classes from sysfs, the common upstream device
 * from the sysfs device hierarchy, the host bridge's IDs from its config
 * files, and map type, distance and ACS port from the topology table
 * (p2pdma_common.c).  The file is new in our kernel: stock upstream has
 * none, so the tests skip there.  So does the p2pdma trace event, which
 * the last test checks: reading the file works verdicts out, and each one
 * is traced; a DMA mapping the kernel refuses is traced too.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <unistd.h>

#include "../kselftest_harness.h"
#include "p2pdma_common.h"

#define MAX_LINES	256
#define CPU_ROUTES	"the CPU routes peer-to-peer traffic through its host bridges"

struct peer_line {
	char bdf[P2P_BDF_LEN];
	char map[24];
	int distance;
	char reason[320];
};

struct peers {
	struct peer_line line[MAX_LINES];
	int n;
};

/* Parse p2pmem/peers of @provider; -errno if it cannot be read. */
static int read_peers(const char *provider, struct peers *p)
{
	char path[PATH_MAX], buf[512];
	FILE *f;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/p2pmem/peers",
		 provider);
	f = fopen(path, "r");
	if (!f)
		return -errno;
	p->n = 0;
	while (fgets(buf, sizeof(buf), f) && p->n < MAX_LINES) {
		struct peer_line *l = &p->line[p->n];
		int off = 0;

		buf[strcspn(buf, "\n")] = '\0';
		if (sscanf(buf, "%15s %23s %d %n", l->bdf, l->map, &l->distance,
			   &off) != 3 || !off) {
			l->reason[0] = '\0';
			l->distance = INT_MIN;	/* malformed */
		} else {
			p2p_copy_str(l->reason, sizeof(l->reason), buf + off);
		}
		p->n++;
	}
	fclose(f);
	return 0;
}

static const struct peer_line *find_line(const struct peers *p,
					 const char *bdf)
{
	int i;

	for (i = 0; i < p->n; i++)
		if (!strcmp(p->line[i].bdf, bdf))
			return &p->line[i];
	return NULL;
}

/* PCI class of @bdf from sysfs, or -1. */
static long pci_class(const char *bdf)
{
	char path[PATH_MAX], buf[32];
	FILE *f;
	long c = -1;

	if (snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/class",
		     bdf) >= (int)sizeof(path))
		return -1;
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (fgets(buf, sizeof(buf), f))
		c = strtol(buf, NULL, 16);
	fclose(f);
	return c;
}

/* A hex ID file of @bdf (vendor, device) from sysfs, or -1. */
static long pci_id(const char *bdf, const char *name)
{
	char path[PATH_MAX], buf[32];
	FILE *f;
	long v = -1;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/%s", bdf, name);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (fgets(buf, sizeof(buf), f))
		v = strtol(buf, NULL, 16);
	fclose(f);
	return v;
}

/* Does @s look like a PCI address, dddd:bb:dd.f? */
static bool is_bdf(const char *s)
{
	return strlen(s) == 12 && s[4] == ':' && s[7] == ':' && s[10] == '.' &&
	       isxdigit(s[0]) && isxdigit(s[11]);
}

/*
 * The PCI devices from the root bus down to @bdf, from the sysfs device
 * path (/sys/devices/pci0000:00/0000:00:04.0/.../<bdf>).
 */
static int sysfs_chain(const char *bdf, char chain[][P2P_BDF_LEN], int max)
{
	char path[PATH_MAX], real[PATH_MAX], *tok, *save;
	int n = 0;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s", bdf);
	if (!realpath(path, real))
		return -errno;
	for (tok = strtok_r(real, "/", &save); tok;
	     tok = strtok_r(NULL, "/", &save))
		if (is_bdf(tok) && n < max)
			p2p_copy_str(chain[n++], P2P_BDF_LEN, tok);
	return n;
}

/* The lowest device on both chains, or "" when they share none. */
static void common_upstream(const char *a, const char *b, char *out)
{
	char ca[16][P2P_BDF_LEN], cb[16][P2P_BDF_LEN];
	int na = sysfs_chain(a, ca, 16), nb = sysfs_chain(b, cb, 16), i;

	out[0] = '\0';
	for (i = 0; i < na && i < nb && !strcmp(ca[i], cb[i]); i++)
		p2p_copy_str(out, P2P_BDF_LEN, ca[i]);
}

FIXTURE(peers) {
	struct p2p_env env;
	struct peers p;
	const struct p2p_topology *topo;
};

FIXTURE_SETUP(peers)
{
	int err;

	self->topo = p2p_topology_from_env();
	p2p_require(_metadata, self->topo, !p2p_env_scan(&self->env),
		    "no PCI function with p2pmem in this guest");
	err = read_peers(self->env.provider, &self->p);
	if (err == -ENOENT && p2p_kernel_is("baseline"))
		SKIP(return, "p2pmem/peers is new in our kernel");
	ASSERT_EQ(0, err) {
		TH_LOG("p2pmem/peers of %s: %s", self->env.provider,
		       strerror(-err));
	}
}

FIXTURE_TEARDOWN(peers)
{
}

/*
 * One well-formed line for each PCI function that is not a bridge, and for
 * nothing else.
 */
TEST_F(peers, one_line_per_function)
{
	struct p2p_name fn[MAX_LINES];
	char path[PATH_MAX];
	int i, nfn = 0;
	FILE *ls;

	for (i = 0; i < self->p.n; i++) {
		const struct peer_line *l = &self->p.line[i];

		EXPECT_NE(INT_MIN, l->distance) {
			TH_LOG("malformed line for %s", l->bdf);
		}
		EXPECT_TRUE(!strcmp(l->map, "bus_addr") ||
			    !strcmp(l->map, "thru_host_bridge") ||
			    !strcmp(l->map, "not_supported")) {
			TH_LOG("%s: map type %s", l->bdf, l->map);
		}
		EXPECT_EQ(!strcmp(l->map, "not_supported"), l->distance == -1);
		EXPECT_NE('\0', l->reason[0]);
	}

	ls = popen("ls /sys/bus/pci/devices", "r");
	ASSERT_NE(NULL, ls);
	while (nfn < MAX_LINES && fgets(path, sizeof(path), ls)) {
		path[strcspn(path, "\n")] = '\0';
		if ((pci_class(path) >> 16) == 0x06)	/* bridge */
			continue;
		p2p_copy_str(fn[nfn++].bdf, P2P_BDF_LEN, path);
	}
	pclose(ls);
	ASSERT_LT(0, nfn);
	for (i = 0; i < nfn; i++)
		EXPECT_NE(NULL, find_line(&self->p, fn[i].bdf)) {
			TH_LOG("no line for %s", fn[i].bdf);
		}
	EXPECT_EQ(nfn, self->p.n);
}

/* The provider can reach its own memory: distance 0. */
TEST_F(peers, provider_itself)
{
	const struct peer_line *l = find_line(&self->p, self->env.provider);

	ASSERT_NE(NULL, l);
	EXPECT_STREQ("bus_addr", l->map);
	EXPECT_EQ(0, l->distance);
	EXPECT_STREQ("same device", l->reason);
}

/* Each NVMe without p2pmem gets the verdict the topology table gives. */
TEST_F(peers, verdict_of_each_peer)
{
	const struct p2p_topology *t = self->topo;
	char common[P2P_BDF_LEN], want[160];
	int i;

	p2p_require(_metadata, t, t,
		    "unknown topology: nothing to compare with");
	p2p_require(_metadata, true, self->env.peer[0] >= 0,
		    "no NVMe without p2pmem in this guest");
	for (i = 0; i < 2 && self->env.peer[i] >= 0; i++) {
		const char *bdf = self->env.nvme[self->env.peer[i]].bdf;
		const struct peer_line *l = find_line(&self->p, bdf);

		ASSERT_NE(NULL, l) {
			TH_LOG("no line for peer %s", bdf);
		}
		TH_LOG("%s %s %d %s", l->bdf, l->map, l->distance, l->reason);
		switch (t->expect) {
		case P2P_EXPECT_BUS_ADDR:
			EXPECT_STREQ("bus_addr", l->map);
			break;
		case P2P_EXPECT_REFUSED:
			EXPECT_STREQ("not_supported", l->map);
			break;
		default:
			EXPECT_STREQ("thru_host_bridge", l->map);
			break;
		}
		EXPECT_EQ(t->distance, l->distance);

		common_upstream(self->env.provider, bdf, common);
		if (common[0])
			snprintf(want, sizeof(want), "common upstream device %s",
				 common);
		else
			snprintf(want, sizeof(want), "no common upstream device");
		EXPECT_NE(NULL, strstr(l->reason, want)) {
			TH_LOG("wanted \"%s\"", want);
		}
		if (t->acs_port) {
			snprintf(want, sizeof(want), "ACS RR+CR on %s",
				 t->acs_port);
			EXPECT_NE(NULL, strstr(l->reason, want)) {
				TH_LOG("wanted \"%s\"", want);
			}
		} else {
			EXPECT_EQ(NULL, strstr(l->reason, "ACS"));
		}
		if (t->expect == P2P_EXPECT_REFUSED) {
			/* q35: the host bridge function is 00:00.0. */
			snprintf(want, sizeof(want),
				 "host bridge 0000:00:00.0 (%04lx:%04lx) not on the allow list",
				 pci_id("0000:00:00.0", "vendor"),
				 pci_id("0000:00:00.0", "device"));
			EXPECT_NE(NULL, strstr(l->reason, want)) {
				TH_LOG("wanted \"%s\"", want);
			}
		} else if (t->expect != P2P_EXPECT_BUS_ADDR) {
			EXPECT_NE(NULL, strstr(l->reason, CPU_ROUTES));
		}
	}
}

/* tracefs, mounted if need be; NULL if there is none. */
static const char *tracefs(void)
{
	static const char * const dirs[] = {
		"/sys/kernel/tracing", "/sys/kernel/debug/tracing",
	};
	char path[PATH_MAX];
	unsigned int i;

	for (i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/trace", dirs[i]);
		if (!access(path, F_OK))
			return dirs[i];
	}
	if (!mount("nodev", dirs[0], "tracefs", 0, NULL))
		return dirs[0];
	return NULL;
}

static int write_file(const char *dir, const char *name, const char *s)
{
	char path[PATH_MAX];
	FILE *f;
	int ret;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	if (!f)
		return -errno;
	ret = fputs(s, f) < 0 ? -EIO : 0;
	if (fclose(f))
		ret = -errno;
	return ret;
}

/* Does the trace buffer hold a line with both @a and @b? */
static bool trace_has(const char *dir, const char *a, const char *b)
{
	char path[PATH_MAX], buf[512];
	bool found = false;
	FILE *f;

	snprintf(path, sizeof(path), "%s/trace", dir);
	f = fopen(path, "r");
	if (!f)
		return false;
	while (!found && fgets(buf, sizeof(buf), f))
		found = strstr(buf, a) && strstr(buf, b);
	fclose(f);
	return found;
}

/*
 * Reading p2pmem/peers traces nothing: any user may read it, and the
 * trace is for verdicts that DMA users get.  Such a verdict is traced with
 * the map type and distance the file shows for the pair: asked through the
 * test module for a function no driver asks about (q35's SATA or SMBus
 * controller), so that it is worked out, not taken from the cache.  In a
 * topology that refuses, a DMA mapping through the test module traces
 * p2pdma_map_refused.
 */
TEST_F(peers, trace_events)
{
	struct test_p2pdma_distance d = { .nr_clients = 1 };
	const struct peer_line *l = NULL;
	const char *dir = tracefs();
	char want[128], what[96];
	int i, fd;

	p2p_require(_metadata, self->topo, dir, "no tracefs");
	ASSERT_EQ(0, write_file(dir, "trace", ""));
	ASSERT_EQ(0, write_file(dir, "events/p2pdma/enable", "1"));
	ASSERT_EQ(0, read_peers(self->env.provider, &self->p));
	EXPECT_FALSE(trace_has(dir, "p2pdma_verdict", "provider=")) {
		TH_LOG("reading p2pmem/peers traced verdicts");
	}

	for (i = 0; i < self->p.n && !l; i++)
		if (strcmp(self->p.line[i].bdf, self->env.provider) &&
		    !p2p_is_nvme_function(self->p.line[i].bdf))
			l = &self->p.line[i];
	p2p_require(_metadata, self->topo, l, "no function but NVMe");
	fd = open(TEST_P2PDMA_DEVICE, O_RDWR);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, p2p_parse_bdf(self->env.provider, &d.provider));
	ASSERT_EQ(0, p2p_parse_bdf(l->bdf, &d.clients[0]));
	ASSERT_EQ(0, ioctl(fd, TEST_P2PDMA_DISTANCE, &d));
	close(fd);
	EXPECT_EQ(l->distance, d.distance);
	snprintf(want, sizeof(want), "provider=%s client=%s ",
		 self->env.provider, l->bdf);
	snprintf(what, sizeof(what), "map=%s distance=%d ", l->map,
		 l->distance);
	EXPECT_TRUE(trace_has(dir, want, what)) {
		TH_LOG("no p2pdma_verdict event \"%s%s\"", want, what);
	}
	write_file(dir, "events/p2pdma/p2pdma_verdict/enable", "0");

	if (self->topo && self->topo->expect == P2P_EXPECT_REFUSED &&
	    self->env.peer[0] >= 0) {
		const char *peer = self->env.nvme[self->env.peer[0]].bdf;

		memset(&d, 0, sizeof(d));
		d.nr_clients = 1;
		fd = open(TEST_P2PDMA_DEVICE, O_RDWR);
		ASSERT_LE(0, fd);
		ASSERT_EQ(0, p2p_parse_bdf(self->env.provider, &d.provider));
		ASSERT_EQ(0, p2p_parse_bdf(peer, &d.clients[0]));
		ASSERT_EQ(0, ioctl(fd, TEST_P2PDMA_DISTANCE, &d));
		close(fd);
		EXPECT_EQ(-EREMOTEIO, d.map_errno);
		snprintf(want, sizeof(want), "provider=%s dev=%s",
			 self->env.provider, peer);
		EXPECT_TRUE(trace_has(dir, "p2pdma_map_refused", want)) {
			TH_LOG("no p2pdma_map_refused event \"%s\"", want);
		}
	}
	write_file(dir, "events/p2pdma/enable", "0");
}

TEST_HARNESS_MAIN
