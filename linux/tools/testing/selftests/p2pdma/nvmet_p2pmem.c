// SPDX-License-Identifier: GPL-2.0
/*
 * The NVMe target's per-namespace "p2pmem" configfs attribute, which is
 * parsed by pci_p2pdma_enable_store() and shown by pci_p2pdma_enable_show(),
 * and the P2P checks nvmet makes when such a namespace is enabled.  Ends
 * with a loop-transport host connected through /dev/nvme-fabrics (no
 * nvme-cli needed) doing verified O_DIRECT I/O.
 *
 * Errno note: the issue asked for EINVAL on an unknown BDF or garbage.
 * pci_p2pdma_enable_store() in 6.12 returns ENODEV for both, and the
 * project rule is that upstream's errno wins, so ENODEV is asserted.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../kselftest_harness.h"
#include "p2pdma_common.h"

#define NVMET_CFS	"/sys/kernel/config/nvmet"
#define LOOP_SIZE	(16UL << 20)

/* The target configuration a test builds in configfs. */
struct nvmet_cfg {
	char nqn[96];
	char subsys[256];
	char ns[300];
	char port[256];
	char link[400];
	bool made_port, linked;
};

FIXTURE(nvmet) {
	struct p2p_env env;
	long long avail0;
	struct nvmet_cfg cfg;
	int instance;		/* host controller of the loop connection */
	int loop_fd;
	char loop_file[64];
};

FIXTURE_SETUP(nvmet)
{
	char path[300];

	self->instance = -1;
	self->loop_fd = -1;
	p2p_require(_metadata, p2p_topology_from_env(),
		    p2p_exists(NVMET_CFS),
		    "%s missing: CONFIG_NVME_TARGET and configfs needed",
		    NVMET_CFS);
	p2p_require(_metadata, p2p_topology_from_env(),
		    !p2p_env_scan(&self->env),
		    "no PCI function with p2pmem in this guest");
	self->avail0 = p2p_attr(self->env.provider, "available");
	ASSERT_LE(0, self->avail0);

	snprintf(self->cfg.nqn, sizeof(self->cfg.nqn),
		 "nqn.2014-08.org.kernel:p2pdma-selftest-%d", getpid());
	snprintf(self->cfg.subsys, sizeof(self->cfg.subsys), NVMET_CFS "/subsystems/%s",
		 self->cfg.nqn);
	snprintf(self->cfg.ns, sizeof(self->cfg.ns), "%s/namespaces/1", self->cfg.subsys);
	ASSERT_EQ(0, mkdir(self->cfg.subsys, 0755));
	snprintf(path, sizeof(path), "%s/attr_allow_any_host", self->cfg.subsys);
	ASSERT_EQ(0, p2p_write_str(path, "1"));
	ASSERT_EQ(0, mkdir(self->cfg.ns, 0755));
}

static int ns_write(const struct nvmet_cfg *cfg, const char *attr,
		    const char *val)
{
	char path[400];

	snprintf(path, sizeof(path), "%s/%s", cfg->ns, attr);
	return p2p_write_str(path, val);
}

static const char *ns_read(const struct nvmet_cfg *cfg, const char *attr,
			   char *buf, size_t len)
{
	char path[400];

	snprintf(path, sizeof(path), "%s/%s", cfg->ns, attr);
	if (p2p_read_str(path, buf, len) < 0)
		snprintf(buf, len, "(unreadable)");
	return buf;
}

static bool disk_is_gone(const char *disk)
{
	char path[96];

	snprintf(path, sizeof(path), "/sys/block/%s", disk);
	return !p2p_exists(path);
}

static void delete_host_ctrl(int instance)
{
	char path[96];

	snprintf(path, sizeof(path), "/sys/class/nvme/nvme%d/delete_controller",
		 instance);
	p2p_write_str(path, "1");
}

FIXTURE_TEARDOWN(nvmet)
{
	if (self->instance >= 0)
		delete_host_ctrl(self->instance);
	ns_write(&self->cfg, "enable", "0");
	if (self->cfg.linked)
		unlink(self->cfg.link);
	if (self->cfg.made_port)
		rmdir(self->cfg.port);
	rmdir(self->cfg.ns);
	EXPECT_EQ(0, rmdir(self->cfg.subsys));
	if (self->loop_fd >= 0)
		p2p_loop_detach(self->loop_fd);
	if (self->loop_file[0])
		unlink(self->loop_file);
	EXPECT_EQ(self->avail0, p2p_attr(self->env.provider, "available"));
}

/* Set p2pmem and check what reads back. */
#define EXPECT_P2PMEM(val, shown) do {					\
	const char *_val = (val);					\
	char _buf[64];							\
	EXPECT_EQ(0, ns_write(&self->cfg, "p2pmem", _val))		\
		TH_LOG("p2pmem <- \"%s\"", _val);			\
	EXPECT_STREQ((shown), ns_read(&self->cfg, "p2pmem", _buf,	\
				      sizeof(_buf)));			\
} while (0)

/* A refused value fails with @err and leaves @kept in place. */
#define EXPECT_P2PMEM_REFUSED(val, err, kept) do {			\
	const char *_val = (val);					\
	char _buf[64];							\
	EXPECT_EQ(-(err), ns_write(&self->cfg, "p2pmem", _val))		\
		TH_LOG("p2pmem <- \"%s\"", _val);			\
	EXPECT_STREQ((kept), ns_read(&self->cfg, "p2pmem", _buf,	\
				     sizeof(_buf)));			\
} while (0)

TEST_F(nvmet, p2pmem_default_off)
{
	char buf[64];

	ASSERT_STREQ("0\n", ns_read(&self->cfg, "p2pmem", buf, sizeof(buf)));
}

TEST_F(nvmet, p2pmem_booleans)
{
	EXPECT_P2PMEM("y", "1\n");
	EXPECT_P2PMEM("n", "0\n");
	EXPECT_P2PMEM("1", "1\n");
	EXPECT_P2PMEM("0", "0\n");
	EXPECT_P2PMEM("on\n", "1\n");
	EXPECT_P2PMEM("off\n", "0\n");
	EXPECT_P2PMEM("1\n", "1\n");
}

TEST_F(nvmet, p2pmem_provider_bdf)
{
	char val[P2P_BDF_LEN + 2];

	snprintf(val, sizeof(val), "%s\n", self->env.provider);
	EXPECT_P2PMEM(self->env.provider, val);
	EXPECT_P2PMEM("0", "0\n");
	/* echo appends a newline: same result */
	EXPECT_P2PMEM(val, val);
	EXPECT_P2PMEM("1", "1\n");
}

TEST_F(nvmet, p2pmem_unknown_bdf_keeps_value)
{
	char val[P2P_BDF_LEN + 2];

	snprintf(val, sizeof(val), "%s\n", self->env.provider);
	EXPECT_P2PMEM(self->env.provider, val);
	EXPECT_P2PMEM_REFUSED("0000:ff:1f.7", ENODEV, val);
	EXPECT_P2PMEM_REFUSED("0000:ff:1f.7\n", ENODEV, val);
}

TEST_F(nvmet, p2pmem_garbage_keeps_value)
{
	EXPECT_P2PMEM("1", "1\n");
	EXPECT_P2PMEM_REFUSED("garbage", ENODEV, "1\n");
	EXPECT_P2PMEM_REFUSED("10", ENODEV, "1\n");
	EXPECT_P2PMEM_REFUSED("0x1", ENODEV, "1\n");
	EXPECT_P2PMEM("0", "0\n");
	EXPECT_P2PMEM_REFUSED("2\n", ENODEV, "0\n");
}

/* Existing PCI functions that have no p2pmem are refused too. */
TEST_F(nvmet, p2pmem_device_without_p2pmem)
{
	char up[P2P_BDF_LEN];

	EXPECT_P2PMEM("1", "1\n");
	if (self->env.peer[0] >= 0)
		EXPECT_P2PMEM_REFUSED(self->env.nvme[self->env.peer[0]].bdf,
				      ENODEV, "1\n");
	if (!p2p_upstream_bdf(self->env.provider, up, sizeof(up)))
		EXPECT_P2PMEM_REFUSED(up, ENODEV, "1\n");
}

/*
 * Back the target namespace with a PCI NVMe namespace: one without p2pmem
 * (@want_peer) or the provider's own.  Returns its index in @env or -1.
 */
static int backing_disk(const struct nvmet_cfg *cfg,
			const struct p2p_env *env, bool want_peer)
{
	int idx = want_peer ? env->peer[0] : env->self;
	char path[64];

	if (idx < 0)
		return -1;
	snprintf(path, sizeof(path), "/dev/%s", env->nvme[idx].disk);
	return ns_write(cfg, "device_path", path) ? -1 : idx;
}

TEST_F(nvmet, p2pmem_busy_while_enabled)
{
	char buf[64];

	p2p_require(_metadata, self->env.topo,
		    backing_disk(&self->cfg, &self->env, true) >= 0 ||
		    backing_disk(&self->cfg, &self->env, false) >= 0,
		    "no NVMe namespace to back the target namespace");
	ASSERT_EQ(0, ns_write(&self->cfg, "enable", "1"));
	ASSERT_STREQ("1\n", ns_read(&self->cfg, "enable", buf, sizeof(buf)));
	EXPECT_P2PMEM_REFUSED("1", EBUSY, "0\n");
	EXPECT_P2PMEM_REFUSED(self->env.provider, EBUSY, "0\n");
	ASSERT_EQ(0, ns_write(&self->cfg, "enable", "0"));
	EXPECT_P2PMEM("1", "1\n");
}

/* Enable and disable a few times, expecting @want from each enable. */
static void enable_cycles(struct __test_metadata *_metadata,
			  const struct nvmet_cfg *cfg, int want)
{
	char buf[64];
	int i;

	for (i = 0; i < 3; i++) {
		ASSERT_EQ(want, ns_write(cfg, "enable", "1"));
		ASSERT_STREQ(want ? "0\n" : "1\n",
			     ns_read(cfg, "enable", buf, sizeof(buf)));
		ASSERT_EQ(0, ns_write(cfg, "enable", "0"));
		ASSERT_STREQ("0\n", ns_read(cfg, "enable", buf, sizeof(buf)));
	}
}

/*
 * nvmet checks the distance between the named provider and the backing
 * device when the namespace is enabled: EINVAL where P2P is refused.
 */
TEST_F(nvmet, enable_with_provider)
{
	if (self->env.expect == P2P_EXPECT_UNKNOWN)
		SKIP(return, "no expectation for topology %s",
		     self->env.topology);
	p2p_require(_metadata, self->env.topo,
		    backing_disk(&self->cfg, &self->env, true) >= 0,
		    "needs an NVMe namespace without p2pmem");
	ASSERT_EQ(0, ns_write(&self->cfg, "p2pmem", self->env.provider));
	enable_cycles(_metadata, &self->cfg,
		      self->env.expect == P2P_EXPECT_REFUSED ? -EINVAL : 0);
}

/* "1": nvmet looks for any published provider the device can reach. */
TEST_F(nvmet, enable_with_any_provider)
{
	if (self->env.expect == P2P_EXPECT_UNKNOWN)
		SKIP(return, "no expectation for topology %s",
		     self->env.topology);
	p2p_require(_metadata, self->env.topo,
		    backing_disk(&self->cfg, &self->env, true) >= 0,
		    "needs an NVMe namespace without p2pmem");
	ASSERT_EQ(0, ns_write(&self->cfg, "p2pmem", "1"));
	enable_cycles(_metadata, &self->cfg,
		      self->env.expect == P2P_EXPECT_REFUSED ? -EINVAL : 0);
}

/* The provider's own namespace is always reachable (distance 0). */
TEST_F(nvmet, enable_on_provider_namespace)
{
	p2p_require(_metadata, self->env.topo,
		    backing_disk(&self->cfg, &self->env, false) >= 0,
		    "the provider has no block device");
	ASSERT_EQ(0, ns_write(&self->cfg, "p2pmem", self->env.provider));
	enable_cycles(_metadata, &self->cfg, 0);
	ASSERT_EQ(0, ns_write(&self->cfg, "p2pmem", "1"));
	enable_cycles(_metadata, &self->cfg, 0);
}

/* A block device whose queue cannot do P2P cannot use p2pmem. */
TEST_F(nvmet, enable_on_loop_device_refused)
{
	char dev[32];
	int ret;

	snprintf(self->loop_file, sizeof(self->loop_file),
		 "/tmp/p2pdma-nvmet-loop-%d", getpid());
	ret = p2p_loop_attach(self->loop_file, LOOP_SIZE, dev, sizeof(dev));
	p2p_require(_metadata, self->env.topo,
		    ret != -ENOENT && ret != -ENODEV,
		    "no loop device support: %s", strerror(-ret));
	ASSERT_LE(0, ret);
	self->loop_fd = ret;

	ASSERT_EQ(0, ns_write(&self->cfg, "device_path", dev));
	ASSERT_EQ(0, ns_write(&self->cfg, "p2pmem", self->env.provider));
	enable_cycles(_metadata, &self->cfg, -EINVAL);
	ASSERT_EQ(0, ns_write(&self->cfg, "p2pmem", "0"));
	enable_cycles(_metadata, &self->cfg, 0);
}

static int make_loop_port(struct nvmet_cfg *cfg)
{
	char path[300];
	int id;

	/* port ids are u16; pick one unlikely to be in use */
	for (id = 1000 + getpid() % 1000; id < 3000; id++) {
		snprintf(cfg->port, sizeof(cfg->port), NVMET_CFS "/ports/%d",
			 id);
		if (!mkdir(cfg->port, 0755))
			break;
		if (errno != EEXIST)
			return -errno;
	}
	if (id >= 3000)
		return -EEXIST;
	cfg->made_port = true;
	snprintf(path, sizeof(path), "%s/addr_trtype", cfg->port);
	return p2p_write_str(path, "loop");
}

static int link_subsystem(struct nvmet_cfg *cfg)
{
	snprintf(cfg->link, sizeof(cfg->link), "%s/subsystems/%s",
		 cfg->port, cfg->nqn);
	if (symlink(cfg->subsys, cfg->link))
		return -errno;
	cfg->linked = true;
	return 0;
}

/* Write the options to /dev/nvme-fabrics; it answers "instance=N,...". */
static int fabrics_connect(const char *nqn, int *instance)
{
	char opts[256], reply[128];
	int fd, ret = 0;
	ssize_t n;

	fd = open("/dev/nvme-fabrics", O_RDWR);
	if (fd < 0)
		return -errno;
	snprintf(opts, sizeof(opts), "transport=loop,nqn=%s", nqn);
	if (write(fd, opts, strlen(opts)) != (ssize_t)strlen(opts))
		ret = -errno;
	if (!ret) {
		n = read(fd, reply, sizeof(reply) - 1);
		if (n <= 0)
			ret = -EIO;
		else
			reply[n] = '\0';
	}
	if (!ret && sscanf(reply, "instance=%d", instance) != 1)
		ret = -EIO;
	close(fd);
	return ret;
}

/* Find the block device whose subsystem is @nqn, waiting up to 30 s. */
static int find_fabrics_disk(const char *nqn, char *disk, size_t len)
{
	char path[PATH_MAX], val[256];
	struct dirent *de;
	int waited;
	DIR *dir;

	for (waited = 0; waited < 30000; waited += 100) {
		dir = opendir("/sys/block");
		if (!dir)
			return -errno;
		while ((de = readdir(dir))) {
			unsigned int a, b;
			int end = 0;

			if (sscanf(de->d_name, "nvme%un%u%n", &a, &b, &end) != 2 ||
			    de->d_name[end])
				continue;
			snprintf(path, sizeof(path),
				 "/sys/block/%s/device/subsysnqn", de->d_name);
			if (p2p_read_str(path, val, sizeof(val)) <= 0)
				continue;
			val[strcspn(val, "\n")] = '\0';
			if (!strcmp(val, nqn)) {
				p2p_copy_str(disk, len, de->d_name);
				closedir(dir);
				return 0;
			}
		}
		closedir(dir);
		p2p_msleep(100);
	}
	return -ETIMEDOUT;
}

/*
 * open() of a disk that has just shown up in /sys/block: its device node or
 * the disk itself may not be live yet (ENOENT, ENXIO) for a moment, longer
 * under a KASAN kernel in TCG.  Wait for it, up to 10 s.
 */
static int open_new_disk(const char *dev, int flags)
{
	int fd, waited;

	for (waited = 0; waited < 10000; waited += 100) {
		fd = open(dev, flags);
		if (fd >= 0 || (errno != ENXIO && errno != ENOENT))
			return fd;
		p2p_msleep(100);
	}
	return -1;
}

/* O_DIRECT write and read back at a few sizes, through host memory. */
static void verify_io(struct __test_metadata *_metadata, const char *dev,
		      const char *backing)
{
	static const size_t sizes[] = { 4096, 65536, 1 << 20 };
	char *buf = p2p_host_buffer(1 << 20);
	off_t off = 0;
	int fd, bfd;
	size_t i;

	ASSERT_NE(NULL, buf);
	fd = open_new_disk(dev, O_RDWR | O_DIRECT);
	ASSERT_LE(0, fd) TH_LOG("%s: %s", dev, strerror(errno));
	bfd = open(backing, O_RDONLY | O_DIRECT);
	ASSERT_LE(0, bfd);
	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		p2p_fill(buf, sizes[i], 300 + i);
		ASSERT_EQ((ssize_t)sizes[i], pwrite(fd, buf, sizes[i], off));
		memset(buf, 0, sizes[i]);
		ASSERT_EQ((ssize_t)sizes[i], pread(fd, buf, sizes[i], off));
		ASSERT_EQ(-1, p2p_mismatch(buf, sizes[i], 300 + i));
		/* the data really went to the backing namespace */
		memset(buf, 0, sizes[i]);
		ASSERT_EQ((ssize_t)sizes[i], pread(bfd, buf, sizes[i], off));
		ASSERT_EQ(-1, p2p_mismatch(buf, sizes[i], 300 + i));
		off += 2 << 20;
	}
	close(bfd);
	close(fd);
	free(buf);
}

/*
 * A host connected over the loop transport to a namespace configured with
 * p2pmem.  The loop transport has no PCI device of its own, so nvmet does
 * not place its buffers in p2pmem; the point is that the configuration is
 * accepted and the I/O path works and carries the right data.
 */
TEST_F_TIMEOUT(nvmet, loop_host_io, 120)
{
	bool peer = self->env.expect != P2P_EXPECT_UNKNOWN &&
		    self->env.expect != P2P_EXPECT_REFUSED;
	char disk[32], dev[48], backing[48];
	int idx, waited;

	idx = backing_disk(&self->cfg, &self->env, peer);
	p2p_require(_metadata, self->env.topo,
		    idx >= 0,
		    "no NVMe namespace to back the target namespace");
	snprintf(backing, sizeof(backing), "/dev/%s", self->env.nvme[idx].disk);
	ASSERT_EQ(0, ns_write(&self->cfg, "p2pmem", self->env.provider));
	ASSERT_EQ(0, ns_write(&self->cfg, "enable", "1"));

	ASSERT_EQ(0, make_loop_port(&self->cfg));
	ASSERT_EQ(0, link_subsystem(&self->cfg));
	ASSERT_EQ(0, fabrics_connect(self->cfg.nqn, &self->instance));
	TH_LOG("connected nvme%d to %s backed by %s", self->instance,
	       self->cfg.nqn, backing);
	ASSERT_EQ(0, find_fabrics_disk(self->cfg.nqn, disk, sizeof(disk)));
	snprintf(dev, sizeof(dev), "/dev/%s", disk);

	verify_io(_metadata, dev, backing);

	delete_host_ctrl(self->instance);
	self->instance = -1;
	for (waited = 0; waited < 30000 && !disk_is_gone(disk); waited += 100)
		p2p_msleep(100);
	ASSERT_TRUE(disk_is_gone(disk));
}

TEST_HARNESS_MAIN
