// SPDX-License-Identifier: GPL-2.0
/*
 * P2P memory through stacked block devices: O_DIRECT from a user mapping
 * of p2pmem to and from an nvme multipath head, md raid0, raid1 and linear
 * arrays, and dm linear and striped devices.  Every transfer is checked
 * against the members themselves, read back through host memory: what
 * landed where follows from the layout (chunk size, order of the members,
 * table), not from the stacked device.
 *
 * The cases that must be refused (a member without P2P support, a member
 * or path that cannot reach the provider) fail with EREMOTEIO before any
 * member is written, and md blames no member for it.
 *
 * Built for the "stack" topology (vm/topologies/stack): NVMe A (CMB), B
 * and C and multipath paths 1 and 2 behind one switch; path 3 and NVMe D
 * on root ports of their own, which the Intel vCPU's host bridge does not
 * route P2P through.  md arrays are built without superblocks (as mdadm
 * --build does) and dm devices are made through their ioctls, so the guest
 * needs neither mdadm nor dmsetup.  Stock 6.12 has no P2P on any stacked
 * device: there every case checks that it refuses and skips.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/dm-ioctl.h>
#include <linux/major.h>
#include <linux/raid/md_p.h>
#include <linux/raid/md_u.h>

#include "../kselftest_harness.h"
#include "p2pdma_common.h"

#define BUF_LEN		(4UL << 20)
#define MEMBER_LEN	(64UL << 20)	/* every drive of the topology */
#define CHUNK		(64UL << 10)
#define FAR_PORT	"0000:00:05.0"	/* rp2 in vm/topologies/stack */
#define MAX_PATHS	4

struct stack_path {
	char ctrl[16];			/* nvme3 */
	char bdf[P2P_BDF_LEN];
	char disk[32];			/* hidden path disk, nvme0c3n1 */
	bool far;			/* below FAR_PORT */
};

struct stack_env {
	char provider[P2P_BDF_LEN];
	char disk_b[32], disk_c[32], disk_d[32];	/* bare namespaces */
	char head[32];				/* multipath head */
	struct stack_path path[MAX_PATHS];
	int nr_paths;
	long long avail0;
	int map_fd;
	char *p2p;			/* BUF_LEN of p2pmem */
	char *host, *check, *expect;	/* BUF_LEN of host memory each */
	char md[16];			/* array built by the test, or "" */
	char dm[32];			/* dm device made by the test, or "" */
	int loop_fd;
	char loop_dev[32];
	char loop_file[64];
};

FIXTURE(stack) {
	struct stack_env e;
};

static bool in_stack_topology(void)
{
	return !strcmp(p2p_topology_name(), "stack");
}

static void trim(char *s)
{
	size_t n = strlen(s);

	while (n && (s[n - 1] == '\n' || s[n - 1] == ' '))
		s[--n] = 0;
}

/* The first namespace entry of controller @ctrl in sysfs. */
static bool ctrl_disk(const char *ctrl, char *disk, size_t len)
{
	char path[PATH_MAX];
	struct dirent *de;
	bool found = false;
	DIR *dir;

	snprintf(path, sizeof(path), "/sys/class/nvme/%s", ctrl);
	dir = opendir(path);
	if (!dir)
		return false;
	while (!found && (de = readdir(dir))) {
		unsigned int a, b;
		char c;

		if (sscanf(de->d_name, "nvme%u%c%u", &a, &c, &b) == 3 &&
		    (c == 'n' || c == 'c')) {
			p2p_copy_str(disk, len, de->d_name);
			found = true;
		}
	}
	closedir(dir);
	return found;
}

/* PCI address of controller @ctrl. */
static bool ctrl_bdf(const char *ctrl, char *bdf, size_t len)
{
	char path[PATH_MAX], real[PATH_MAX];

	snprintf(path, sizeof(path), "/sys/class/nvme/%s/device", ctrl);
	if (!realpath(path, real))
		return false;
	p2p_copy_str(bdf, len, strrchr(real, '/') + 1);
	return true;
}

/* nvme0c3n1 -> nvme0n1 */
static void head_of(const char *path_disk, char *head, size_t len)
{
	unsigned int s, c, n;

	if (sscanf(path_disk, "nvme%uc%un%u", &s, &c, &n) == 3)
		snprintf(head, len, "nvme%un%u", s, n);
}

static void scan(struct __test_metadata *_metadata, struct stack_env *self)
{
	struct p2p_name prov[4];
	struct dirent *de;
	DIR *dir;

	ASSERT_LE(1, p2p_list_providers(prov, 4));
	p2p_copy_str(self->provider, sizeof(self->provider), prov[0].bdf);
	dir = opendir("/sys/class/nvme");
	ASSERT_NE(NULL, dir);
	while ((de = readdir(dir))) {
		char path[PATH_MAX], serial[64], disk[32], *dst = NULL;
		struct stack_path *p;

		if (strncmp(de->d_name, "nvme", 4))
			continue;
		snprintf(path, sizeof(path), "/sys/class/nvme/%s/serial",
			 de->d_name);
		if (p2p_read_str(path, serial, sizeof(serial)) <= 0)
			continue;
		trim(serial);
		if (!ctrl_disk(de->d_name, disk, sizeof(disk)))
			continue;
		if (!strcmp(serial, "plainB"))
			dst = self->disk_b;
		else if (!strcmp(serial, "plainC"))
			dst = self->disk_c;
		else if (!strcmp(serial, "farD"))
			dst = self->disk_d;
		if (dst) {
			p2p_copy_str(dst, 32, disk);
			continue;
		}
		if (strcmp(serial, "mp0") || self->nr_paths == MAX_PATHS)
			continue;
		p = &self->path[self->nr_paths++];
		p2p_copy_str(p->ctrl, sizeof(p->ctrl), de->d_name);
		p2p_copy_str(p->disk, sizeof(p->disk), disk);
		head_of(disk, self->head, sizeof(self->head));
		ASSERT_TRUE(ctrl_bdf(de->d_name, p->bdf, sizeof(p->bdf)));
	}
	closedir(dir);
}

static int md_stop(const char *md);
static int dm_remove(const char *name);

static const char * const dm_names[] = {
	"p2p-linear", "p2p-striped", "p2p-reload", "p2p-far",
};

/*
 * Stop the arrays and remove the dm devices an earlier test left behind
 * (one that failed an ASSERT: the harness may skip the teardown after its
 * longjmp), so that one failure does not hold B and C for every later test.
 */
static void leftovers_away(void)
{
	char path[64], md[8];
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(dm_names); i++)
		dm_remove(dm_names[i]);
	for (i = 1; i < 10; i++) {
		snprintf(md, sizeof(md), "md%u", i);
		snprintf(path, sizeof(path), "/sys/block/%s/md", md);
		if (p2p_exists(path))
			md_stop(md);
	}
}

FIXTURE_SETUP(stack)
{
	struct stack_env *s = &self->e;
	int i;

	s->map_fd = -1;
	s->loop_fd = -1;
	if (!in_stack_topology())
		SKIP(return, "needs the stack topology (vm/topologies/stack)");
	leftovers_away();
	scan(_metadata, s);
	ASSERT_TRUE(s->disk_b[0] && s->disk_c[0] && s->disk_d[0]) {
		TH_LOG("NVMe B '%s', C '%s', D '%s'", s->disk_b,
		       s->disk_c, s->disk_d);
	}
	/* three paths, fewer after the tests that remove some */
	ASSERT_LE(1, s->nr_paths);
	ASSERT_TRUE(s->head[0]);
	for (i = 0; i < s->nr_paths; i++) {
		char up[P2P_BDF_LEN];

		ASSERT_EQ(0, p2p_upstream_bdf(s->path[i].bdf, up,
					      sizeof(up)));
		s->path[i].far = !strcmp(up, FAR_PORT);
	}

	s->avail0 = p2p_attr(s->provider, "available");
	ASSERT_LE((long long)BUF_LEN, s->avail0);
	s->map_fd = p2p_open_allocate(s->provider, O_RDWR);
	ASSERT_LE(0, s->map_fd);
	s->p2p = p2p_map(s->map_fd, BUF_LEN);
	ASSERT_NE(MAP_FAILED, s->p2p);
	s->host = p2p_host_buffer(BUF_LEN);
	s->check = p2p_host_buffer(BUF_LEN);
	s->expect = p2p_host_buffer(BUF_LEN);
	ASSERT_TRUE(s->host && s->check && s->expect);
}

FIXTURE_TEARDOWN(stack)
{
	struct stack_env *s = &self->e;

	if (s->dm[0])
		EXPECT_EQ(0, dm_remove(s->dm));
	if (s->md[0])
		EXPECT_EQ(0, md_stop(s->md));
	if (s->loop_fd >= 0)
		p2p_loop_detach(s->loop_fd);
	if (s->loop_file[0])
		unlink(s->loop_file);
	if (s->p2p && s->p2p != MAP_FAILED)
		munmap(s->p2p, BUF_LEN);
	if (s->map_fd >= 0)
		close(s->map_fd);
	free(s->host);
	free(s->check);
	free(s->expect);
	if (s->avail0 > 0)
		EXPECT_EQ(s->avail0, p2p_attr(s->provider, "available"));
}

/* --- block I/O --- */

static int dev_open(const char *dev, int mode)
{
	char path[64];

	if (dev[0] == '/')
		return open(dev, mode | O_DIRECT);
	snprintf(path, sizeof(path), "/dev/%s", dev);
	return open(path, mode | O_DIRECT);
}

/* One O_DIRECT transfer: 0, or -errno (-EIO for a short one). */
static int dev_io(const char *dev, bool write_it, void *buf, size_t len,
		  off_t off)
{
	int fd = dev_open(dev, write_it ? O_RDWR : O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write_it ? pwrite(fd, buf, len, off) : pread(fd, buf, len, off);
	if (n < 0)
		n = -errno;
	close(fd);
	return n < 0 ? n : (n == (ssize_t)len ? 0 : -EIO);
}

/* Put @seed's pattern on @dev through host memory. */
static int seed_dev(struct stack_env *self, const char *dev, size_t len,
		    off_t off, uint64_t seed)
{
	p2p_fill(self->host, len, seed);
	return dev_io(dev, true, self->host, len, off);
}

/*
 * Does @dev hold @len bytes of @want at @off?  Read back through host
 * memory, which no P2P code touches.
 */
static bool dev_holds(struct stack_env *self, const char *dev,
		      const char *want, size_t len, off_t off)
{
	memset(self->check, 0, len);
	return !dev_io(dev, false, self->check, len, off) &&
	       !memcmp(self->check, want, len);
}

static int p2p_write(struct stack_env *self, const char *dev, size_t len,
		     off_t off, uint64_t seed)
{
	p2p_fill(self->p2p, len, seed);
	p2p_fill(self->expect, len, seed);
	return dev_io(dev, true, self->p2p, len, off);
}

/* Read @len bytes at @off of @dev into p2pmem; do they match @seed? */
static bool p2p_read_matches(struct stack_env *self, const char *dev,
			     size_t len, off_t off, uint64_t seed)
{
	memset(self->p2p, 0, len);
	return !dev_io(dev, false, self->p2p, len, off) &&
	       p2p_mismatch(self->p2p, len, seed) == -1;
}

/*
 * On stock 6.12 no stacked device has BLK_FEAT_PCI_P2PDMA: pinning the
 * p2pmem fails.  Record that and skip the rest, which needs our kernel.
 */
#define STOCK_REFUSES	"stock 6.12: no P2P memory on stacked devices (EREMOTEIO)"

/*
 * On stock 6.12 no stacked device has BLK_FEAT_PCI_P2PDMA, so pinning the
 * p2pmem fails: the test checks that and skips (returning from the test,
 * not jumping out of it, so that the teardown runs).  If stock took the
 * memory after all, the test goes on and fails.
 */
static bool stock_refuses(struct stack_env *self, const char *dev)
{
	return p2p_kernel_is("baseline") &&
	       p2p_write(self, dev, CHUNK, 0, 1) == -EREMOTEIO;
}

static bool dev_numbers(const char *dev, unsigned int *maj, unsigned int *min)
{
	char path[PATH_MAX], buf[32];
	const char *name = strrchr(dev, '/') ? strrchr(dev, '/') + 1 : dev;

	snprintf(path, sizeof(path), "/sys/class/block/%s/dev", name);
	return p2p_read_str(path, buf, sizeof(buf)) > 0 &&
	       sscanf(buf, "%u:%u", maj, min) == 2;
}

static long long sysfs_ll(const char *fmt, const char *name, const char *attr)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), fmt, name, attr);
	return p2p_read_ll(path);
}

/* queue/pci_p2pdma of @dev: 1 if it takes P2P memory at all. */
static long long takes_p2p(const char *dev)
{
	const char *name = strrchr(dev, '/') ? strrchr(dev, '/') + 1 : dev;

	return sysfs_ll("/sys/class/block/%s/queue/%s", name, "pci_p2pdma");
}

/* --- md arrays without superblocks, as mdadm --build makes them --- */

static int md_open(const char *md)
{
	char path[64];

	snprintf(path, sizeof(path), "/dev/%s", md);
	return open(path, O_RDWR);
}

static int md_build(struct stack_env *self, const char *md, int level,
		    const char * const *members, int n)
{
	mdu_array_info_t a = {
		.level = level,
		.size = MEMBER_LEN >> 10,
		.nr_disks = n,
		.raid_disks = n,
		.not_persistent = 1,
		.state = 1 << MD_SB_CLEAN,
		.chunk_size = CHUNK,
	};
	mdu_param_t param = { 0 };
	int fd, i, ret;

	ret = p2p_write_str("/sys/module/md_mod/parameters/new_array", md);
	if (ret)
		return ret;
	p2p_copy_str(self->md, sizeof(self->md), md);
	fd = md_open(md);
	if (fd < 0)
		return -errno;
	ret = ioctl(fd, SET_ARRAY_INFO, &a);
	for (i = 0; !ret && i < n; i++) {
		mdu_disk_info_t d = {
			.number = i,
			.raid_disk = i,
			.state = (1 << MD_DISK_SYNC) | (1 << MD_DISK_ACTIVE),
		};
		unsigned int maj, min;

		if (!dev_numbers(members[i], &maj, &min)) {
			close(fd);
			return -ENODEV;
		}
		d.major = maj;
		d.minor = min;
		ret = ioctl(fd, ADD_NEW_DISK, &d);
	}
	if (!ret)
		ret = ioctl(fd, RUN_ARRAY, &param);
	ret = ret ? -errno : 0;
	close(fd);
	return ret;
}

/*
 * SET_DISK_FAULTY, HOT_REMOVE_DISK or HOT_ADD_DISK of @member.  A failed
 * member is busy until md's thread has handled the failure: retry EBUSY
 * for a while.
 */
static int md_member(const char *md, unsigned long cmd, const char *member)
{
	unsigned int maj, min;
	int fd, ret, i;

	if (!dev_numbers(member, &maj, &min))
		return -ENODEV;
	fd = md_open(md);
	if (fd < 0)
		return -errno;
	for (i = 0; i < 50; i++) {
		ret = ioctl(fd, cmd, (unsigned long)makedev(maj, min)) ?
		      -errno : 0;
		if (ret != -EBUSY)
			break;
		p2p_msleep(100);
	}
	close(fd);
	return ret;
}

static int md_stop(const char *md)
{
	int fd = md_open(md), ret;

	if (fd < 0)
		return -errno;
	ret = ioctl(fd, STOP_ARRAY, 0) ? -errno : 0;
	close(fd);
	return ret;
}

static long long md_attr(const char *md, const char *attr)
{
	return sysfs_ll("/sys/block/%s/md/%s", md, attr);
}

/* Wait (bounded) until a raid1 has all its mirrors in sync again. */
static bool md_wait_in_sync(const char *md, int secs)
{
	char path[PATH_MAX], action[32];
	int i;

	snprintf(path, sizeof(path), "/sys/block/%s/md/sync_action", md);
	for (i = 0; i < secs * 10; i++) {
		if (p2p_read_str(path, action, sizeof(action)) > 0 &&
		    !strncmp(action, "idle", 4) && md_attr(md, "degraded") == 0)
			return true;
		p2p_msleep(100);
	}
	return false;
}

/* --- dm devices through /dev/mapper/control --- */

struct dm_target {
	unsigned long long start, len;	/* sectors */
	const char *type;
	char params[128];
};

struct dm_req {
	struct dm_ioctl io;
	char data[4096];
};

static void dm_req_init(struct dm_req *r, const char *name)
{
	memset(r, 0, sizeof(*r));
	r->io.version[0] = DM_VERSION_MAJOR;
	r->io.data_size = sizeof(*r);
	r->io.data_start = sizeof(r->io);
	p2p_copy_str(r->io.name, sizeof(r->io.name), name);
}

static int dm_call(unsigned long cmd, struct dm_req *r)
{
	int fd = open("/dev/mapper/control", O_RDWR), ret;

	if (fd < 0)
		return -errno;
	ret = ioctl(fd, cmd, r) ? -errno : 0;
	close(fd);
	return ret;
}

static int dm_load(const char *name, const struct dm_target *t, int n)
{
	struct dm_req r;
	size_t off = 0;
	int i;

	dm_req_init(&r, name);
	for (i = 0; i < n; i++) {
		struct dm_target_spec *s = (void *)(r.data + off);
		size_t plen = strlen(t[i].params) + 1;
		size_t next = (sizeof(*s) + plen + 7) & ~7UL;

		if (off + next > sizeof(r.data))
			return -E2BIG;
		s->sector_start = t[i].start;
		s->length = t[i].len;
		s->next = next;
		p2p_copy_str(s->target_type, sizeof(s->target_type), t[i].type);
		memcpy(s + 1, t[i].params, plen);
		off += next;
	}
	r.io.target_count = n;
	return dm_call(DM_TABLE_LOAD, &r);
}

static int dm_resume(const char *name)
{
	struct dm_req r;

	dm_req_init(&r, name);
	return dm_call(DM_DEV_SUSPEND, &r);
}

/* Load @t, suspend if live, resume: the table is now @t. */
static int dm_swap(const char *name, const struct dm_target *t, int n)
{
	struct dm_req r;
	int ret = dm_load(name, t, n);

	if (ret)
		return ret;
	dm_req_init(&r, name);
	r.io.flags = DM_SUSPEND_FLAG;
	ret = dm_call(DM_DEV_SUSPEND, &r);
	return ret ? ret : dm_resume(name);
}

/* Make dm device @name with table @t; its node goes to @dev. */
static int dm_make(struct stack_env *self, const char *name,
		   const struct dm_target *t, int n, char *dev, size_t len)
{
	struct dm_req r;
	int ret;

	dm_req_init(&r, name);
	ret = dm_call(DM_DEV_CREATE, &r);
	if (ret)
		return ret;
	p2p_copy_str(self->dm, sizeof(self->dm), name);
	snprintf(dev, len, "/dev/dm-%u", minor(r.io.dev));
	ret = dm_load(name, t, n);
	return ret ? ret : dm_resume(name);
}

static int dm_remove(const char *name)
{
	struct dm_req r;

	dm_req_init(&r, name);
	return dm_call(DM_DEV_REMOVE, &r);
}

static void dm_member(struct dm_target *t, unsigned long long start,
		      unsigned long long len, const char *disk,
		      unsigned long long off)
{
	unsigned int maj = 0, min = 0;

	dev_numbers(disk, &maj, &min);
	t->start = start;
	t->len = len;
	t->type = "linear";
	snprintf(t->params, sizeof(t->params), "%u:%u %llu", maj, min, off);
}

static int attach_loop(struct stack_env *self)
{
	snprintf(self->loop_file, sizeof(self->loop_file), "/tmp/stack-loop");
	self->loop_fd = p2p_loop_attach(self->loop_file, MEMBER_LEN,
					self->loop_dev, sizeof(self->loop_dev));
	return self->loop_fd < 0 ? self->loop_fd : 0;
}

/*
 * Members hold what a striped layout over @n of them puts there: chunk k of
 * the stacked device at chunk k / n of member k % n.
 */
static bool members_hold_stripes(struct stack_env *self,
				 const char * const *members, int n,
				 size_t len)
{
	size_t k;

	for (k = 0; k < len / CHUNK; k++)
		if (!dev_holds(self, members[k % n], self->expect + k * CHUNK,
			       CHUNK, (k / n) * CHUNK))
			return false;
	return true;
}

/* --- md --- */

TEST_F(stack, md_raid0_p2p_write_read)
{
	struct stack_env *s = &self->e;
	const char * const m[] = { s->disk_b, s->disk_c };

	ASSERT_EQ(0, md_build(s, "md1", 0, m, 2));
	if (stock_refuses(s, "md1"))
		SKIP(return, STOCK_REFUSES);
	EXPECT_EQ(1, takes_p2p("md1"));
	ASSERT_EQ(0, p2p_write(s, "md1", BUF_LEN, 0, 10));
	EXPECT_TRUE(members_hold_stripes(s, m, 2, BUF_LEN));
	EXPECT_TRUE(p2p_read_matches(s, "md1", BUF_LEN, 0, 10));
}

TEST_F(stack, md_raid1_p2p_write_reaches_both_mirrors)
{
	struct stack_env *s = &self->e;
	const char * const m[] = { s->disk_b, s->disk_c };

	ASSERT_EQ(0, md_build(s, "md2", 1, m, 2));
	if (stock_refuses(s, "md2"))
		SKIP(return, STOCK_REFUSES);
	EXPECT_EQ(1, takes_p2p("md2"));
	ASSERT_EQ(0, p2p_write(s, "md2", BUF_LEN, CHUNK, 20));
	EXPECT_TRUE(dev_holds(s, s->disk_b, s->expect, BUF_LEN, CHUNK));
	EXPECT_TRUE(dev_holds(s, s->disk_c, s->expect, BUF_LEN, CHUNK));
	EXPECT_TRUE(p2p_read_matches(s, "md2", BUF_LEN, CHUNK, 20));
}

TEST_F(stack, md_linear_p2p_write_across_members)
{
	struct stack_env *s = &self->e;
	const char * const m[] = { s->disk_b, s->disk_c };
	off_t off = MEMBER_LEN - BUF_LEN / 2;

	ASSERT_EQ(0, md_build(s, "md3", LEVEL_LINEAR, m, 2));
	if (stock_refuses(s, "md3"))
		SKIP(return, STOCK_REFUSES);
	EXPECT_EQ(1, takes_p2p("md3"));
	ASSERT_EQ(0, p2p_write(s, "md3", BUF_LEN, off, 30));
	/* the first half is the end of B, the second the start of C */
	EXPECT_TRUE(dev_holds(s, s->disk_b, s->expect, BUF_LEN / 2,
			      off));
	EXPECT_TRUE(dev_holds(s, s->disk_c, s->expect + BUF_LEN / 2,
			      BUF_LEN / 2, 0));
	EXPECT_TRUE(p2p_read_matches(s, "md3", BUF_LEN, off, 30));
}

TEST_F_TIMEOUT(stack, md_raid1_degraded_readded_resynced, 300)
{
	struct stack_env *s = &self->e;
	const char * const m[] = { s->disk_b, s->disk_c };
	char *before;

	ASSERT_EQ(0, md_build(s, "md4", 1, m, 2));
	if (stock_refuses(s, "md4"))
		SKIP(return, STOCK_REFUSES);
	ASSERT_EQ(0, p2p_write(s, "md4", BUF_LEN, 0, 40));
	before = p2p_host_buffer(BUF_LEN);
	ASSERT_NE(NULL, before);
	memcpy(before, s->expect, BUF_LEN);

	/* C fails and goes: the array runs on B alone */
	ASSERT_EQ(0, md_member("md4", SET_DISK_FAULTY, s->disk_c));
	ASSERT_EQ(0, md_member("md4", HOT_REMOVE_DISK, s->disk_c));
	EXPECT_EQ(1, md_attr("md4", "degraded"));
	ASSERT_EQ(0, seed_dev(s, s->disk_c, BUF_LEN, BUF_LEN, 0x4c));
	ASSERT_EQ(0, p2p_write(s, "md4", BUF_LEN, BUF_LEN, 41));
	EXPECT_TRUE(dev_holds(s, s->disk_b, s->expect, BUF_LEN,
			      BUF_LEN));

	/* C comes back and is rebuilt from B in host memory */
	ASSERT_EQ(0, md_member("md4", HOT_ADD_DISK, s->disk_c));
	ASSERT_TRUE(md_wait_in_sync("md4", 240));
	EXPECT_TRUE(dev_holds(s, s->disk_c, before, BUF_LEN, 0));
	EXPECT_TRUE(dev_holds(s, s->disk_c, s->expect, BUF_LEN,
			      BUF_LEN));
	free(before);

	/* and P2P writes reach both mirrors again */
	ASSERT_EQ(0, p2p_write(s, "md4", BUF_LEN, 2 * BUF_LEN, 42));
	EXPECT_TRUE(dev_holds(s, s->disk_b, s->expect, BUF_LEN,
			      2 * BUF_LEN));
	EXPECT_TRUE(dev_holds(s, s->disk_c, s->expect, BUF_LEN,
			      2 * BUF_LEN));
}

/*
 * A refused write must leave every member as it was and blame none: no
 * failed mirror, no degraded array, no I/O error in the log.  @dev holds
 * what was there before (self->expect, afterwards), and so does @member
 * when it is a mirror of @dev (or @dev itself); the caller checks the
 * members of other layouts.
 */
static void expect_refused_untouched(struct __test_metadata *_metadata,
				     struct stack_env *self,
				     const char *dev, const char *member,
				     off_t off)
{
	int kmsg = p2p_kmsg_open();

	ASSERT_LE(0, kmsg);
	ASSERT_EQ(0, seed_dev(self, dev, BUF_LEN, off, 0x5e));
	ASSERT_EQ(-EREMOTEIO, p2p_write(self, dev, BUF_LEN, off, 50));
	p2p_fill(self->expect, BUF_LEN, 0x5e);
	if (member)
		EXPECT_TRUE(dev_holds(self, member, self->expect, BUF_LEN,
				      off));
	EXPECT_TRUE(dev_holds(self, dev, self->expect, BUF_LEN, off));
	EXPECT_FALSE(p2p_kmsg_search(kmsg, "I/O error", NULL));
	EXPECT_FALSE(p2p_kmsg_search(kmsg, "critical target error", NULL));
	EXPECT_FALSE(p2p_kmsg_search(kmsg, "Disk failure", NULL));
	close(kmsg);
}

TEST_F(stack, md_raid1_loop_member_refused_until_removed)
{
	struct stack_env *s = &self->e;
	const char *m[2];

	ASSERT_EQ(0, attach_loop(s));
	m[0] = s->disk_b;
	m[1] = s->loop_dev;
	ASSERT_EQ(0, md_build(s, "md5", 1, m, 2));
	if (stock_refuses(s, "md5"))
		SKIP(return, STOCK_REFUSES);
	EXPECT_EQ(0, takes_p2p(s->loop_dev));
	EXPECT_EQ(0, takes_p2p("md5"));
	expect_refused_untouched(_metadata, s, "md5", s->disk_b, 0);
	EXPECT_EQ(0, md_attr("md5", "degraded"));

	/* the loop member fails and goes: the array can do P2P again */
	ASSERT_EQ(0, md_member("md5", SET_DISK_FAULTY, s->loop_dev));
	ASSERT_EQ(0, md_member("md5", HOT_REMOVE_DISK, s->loop_dev));
	EXPECT_EQ(1, takes_p2p("md5"));
	ASSERT_EQ(0, p2p_write(s, "md5", BUF_LEN, 0, 51));
	EXPECT_TRUE(dev_holds(s, s->disk_b, s->expect, BUF_LEN, 0));
}

TEST_F(stack, md_raid1_unreachable_member_refused)
{
	struct stack_env *s = &self->e;
	const char * const m[] = { s->disk_b, s->disk_d };

	ASSERT_EQ(0, md_build(s, "md6", 1, m, 2));
	if (stock_refuses(s, "md6"))
		SKIP(return, STOCK_REFUSES);
	/* both members do P2P, only not with this provider's memory */
	EXPECT_EQ(1, takes_p2p("md6"));
	expect_refused_untouched(_metadata, s, "md6", s->disk_b, 0);
	EXPECT_EQ(0, md_attr("md6", "degraded"));
	/* D, which cannot reach the CMB, was not written either */
	EXPECT_TRUE(dev_holds(s, s->disk_d, s->expect, BUF_LEN, 0));
}

/* --- dm --- */

/*
 * dm linear over the first half of B and the first half of @second; a
 * transfer at SEAM straddles the two.
 */
#define SEAM	(MEMBER_LEN / 2 - BUF_LEN / 2)

static int dm_make_halves(struct stack_env *self, const char *name,
			  const char *second, char *dev, size_t len)
{
	unsigned long long half = MEMBER_LEN / 2 / 512;
	struct dm_target t[2];

	dm_member(&t[0], 0, half, self->disk_b, 0);
	dm_member(&t[1], half, half, second, 0);
	return dm_make(self, name, t, 2, dev, len);
}

/* B's end and @second's start hold self->expect, as written at SEAM. */
static bool halves_hold_expect(struct stack_env *self, const char *second)
{
	return dev_holds(self, self->disk_b, self->expect, BUF_LEN / 2, SEAM) &&
	       dev_holds(self, second, self->expect + BUF_LEN / 2,
			 BUF_LEN / 2, 0);
}

TEST_F(stack, dm_linear_p2p_write_across_members)
{
	struct stack_env *s = &self->e;
	char dev[32];

	ASSERT_EQ(0, dm_make_halves(s, "p2p-linear", s->disk_c, dev,
				    sizeof(dev)));
	if (stock_refuses(s, dev))
		SKIP(return, STOCK_REFUSES);
	ASSERT_EQ(0, p2p_write(s, dev, BUF_LEN, SEAM, 60));
	EXPECT_TRUE(halves_hold_expect(s, s->disk_c));
	EXPECT_TRUE(p2p_read_matches(s, dev, BUF_LEN, SEAM, 60));
}

TEST_F(stack, dm_striped_p2p_write_read)
{
	struct stack_env *s = &self->e;
	const char * const m[] = { s->disk_b, s->disk_c };
	unsigned int bmaj = 0, bmin = 0, cmaj = 0, cmin = 0;
	struct dm_target t = {
		.start = 0, .len = MEMBER_LEN / 512, .type = "striped",
	};
	char dev[32];

	dev_numbers(s->disk_b, &bmaj, &bmin);
	dev_numbers(s->disk_c, &cmaj, &cmin);
	snprintf(t.params, sizeof(t.params), "2 %lu %u:%u 0 %u:%u 0",
		 CHUNK / 512, bmaj, bmin, cmaj, cmin);
	ASSERT_EQ(0, dm_make(s, "p2p-striped", &t, 1, dev, sizeof(dev)));
	if (stock_refuses(s, dev))
		SKIP(return, STOCK_REFUSES);
	EXPECT_EQ(1, takes_p2p(dev));
	ASSERT_EQ(0, p2p_write(s, dev, BUF_LEN, 0, 70));
	EXPECT_TRUE(members_hold_stripes(s, m, 2, BUF_LEN));
	EXPECT_TRUE(p2p_read_matches(s, dev, BUF_LEN, 0, 70));
}

TEST_F(stack, dm_reload_with_non_p2p_member_refuses)
{
	struct stack_env *s = &self->e;
	unsigned long long half = MEMBER_LEN / 2 / 512;
	struct dm_target t[2];
	char dev[32];

	ASSERT_EQ(0, attach_loop(s));
	dm_member(&t[0], 0, half, s->disk_b, 0);
	ASSERT_EQ(0, dm_make(s, "p2p-reload", t, 1, dev, sizeof(dev)));
	if (stock_refuses(s, dev))
		SKIP(return, STOCK_REFUSES);
	EXPECT_EQ(1, takes_p2p(dev));
	ASSERT_EQ(0, p2p_write(s, dev, BUF_LEN, 0, 80));
	EXPECT_TRUE(dev_holds(s, s->disk_b, s->expect, BUF_LEN, 0));

	/* a loop device joins: P2P is off for the whole device */
	dm_member(&t[1], half, half, s->loop_dev, 0);
	ASSERT_EQ(0, dm_swap("p2p-reload", t, 2));
	EXPECT_EQ(0, takes_p2p(dev));
	expect_refused_untouched(_metadata, s, dev, s->disk_b, 0);

	/* and back on when the table no longer has it */
	ASSERT_EQ(0, dm_swap("p2p-reload", t, 1));
	EXPECT_EQ(1, takes_p2p(dev));
	ASSERT_EQ(0, p2p_write(s, dev, BUF_LEN, 0, 81));
	EXPECT_TRUE(dev_holds(s, s->disk_b, s->expect, BUF_LEN, 0));
}

TEST_F(stack, dm_linear_unreachable_member_refused)
{
	struct stack_env *s = &self->e;
	char dev[32];

	ASSERT_EQ(0, dm_make_halves(s, "p2p-far", s->disk_d, dev,
				    sizeof(dev)));
	if (stock_refuses(s, dev))
		SKIP(return, STOCK_REFUSES);
	/* half on B, half on D: B must not be written either */
	expect_refused_untouched(_metadata, s, dev, NULL, SEAM);
	EXPECT_TRUE(halves_hold_expect(s, s->disk_d));
}

/* --- nvme multipath --- */

static long long path_writes(struct stack_env *self, int i)
{
	char path[PATH_MAX], buf[256];
	long long r, rm, rs, rt, w;

	snprintf(path, sizeof(path), "/sys/block/%s/stat", self->path[i].disk);
	if (p2p_read_str(path, buf, sizeof(buf)) <= 0 ||
	    sscanf(buf, "%lld %lld %lld %lld %lld", &r, &rm, &rs, &rt, &w) != 5)
		return -1;
	return w;
}

static int far_path(struct stack_env *self)
{
	int i;

	for (i = 0; i < self->nr_paths; i++)
		if (self->path[i].far)
			return i;
	return -1;
}

/* The I/O policy of the subsystem, the parent device of the head disk. */
static int set_iopolicy(struct stack_env *self, const char *policy)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "/sys/block/%s/device/iopolicy",
		 self->head);
	return p2p_write_str(path, policy);
}

TEST_F(stack, multipath_head_p2p_write_read)
{
	struct stack_env *s = &self->e;

	ASSERT_EQ(3, s->nr_paths);
	ASSERT_LE(0, far_path(s));
	if (stock_refuses(s, s->head))
		SKIP(return, STOCK_REFUSES);
	EXPECT_EQ(1, takes_p2p(s->head));
	ASSERT_EQ(0, p2p_write(s, s->head, BUF_LEN, 0, 90));
	EXPECT_TRUE(dev_holds(s, s->head, s->expect, BUF_LEN, 0));
	EXPECT_TRUE(p2p_read_matches(s, s->head, BUF_LEN, 0, 90));
}

TEST_F(stack, multipath_round_robin_avoids_far_path)
{
	struct stack_env *s = &self->e;
	int far = far_path(s), i;
	long long w0, w1, w2;

	ASSERT_EQ(3, s->nr_paths);
	ASSERT_LE(0, far);
	if (stock_refuses(s, s->head))
		SKIP(return, STOCK_REFUSES);
	ASSERT_EQ(0, set_iopolicy(s, "round-robin"));
	/* host memory: round robin sends some writes down the far path */
	w0 = path_writes(s, far);
	for (i = 0; i < 24; i++)
		ASSERT_EQ(0, seed_dev(s, s->head, CHUNK, i * CHUNK, i));
	w1 = path_writes(s, far);
	EXPECT_LT(w0, w1);
	/* p2pmem: every write goes down a path that reaches the CMB */
	for (i = 0; i < 24; i++) {
		ASSERT_EQ(0, p2p_write(s, s->head, CHUNK, i * CHUNK,
				       100 + i));
		ASSERT_TRUE(dev_holds(s, s->head, s->expect, CHUNK,
				      i * CHUNK));
	}
	w2 = path_writes(s, far);
	EXPECT_EQ(w1, w2);
	EXPECT_EQ(0, set_iopolicy(s, "numa"));
}

/* Reset controller @ctrl (nvme3); sysfs waits for the reset to finish. */
static int reset_ctrl(const char *ctrl)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "/sys/class/nvme/%s/reset_controller",
		 ctrl);
	return p2p_write_str(path, "1");
}

static bool ctrl_live(const char *ctrl)
{
	char path[PATH_MAX], state[32] = "";

	snprintf(path, sizeof(path), "/sys/class/nvme/%s/state", ctrl);
	if (p2p_read_str(path, state, sizeof(state)) <= 0)
		return false;
	trim(state);
	return !strcmp(state, "live");
}

/*
 * The two paths that reach the CMB are being reset while the far path is
 * live: a P2P write to the head waits for them (on the head's requeue
 * list) rather than failing with EREMOTEIO, then lands on one of them,
 * never on the far path.  The write goes out only once both resets are
 * seen under way; the first tries whose resets end too soon are retried.
 */
TEST_F_TIMEOUT(stack, multipath_p2p_waits_for_resetting_paths, 180)
{
	struct stack_env *s = &self->e;
	int far = far_path(s), i, j, n, status, ret = -1, tries;
	pid_t kid[MAX_PATHS];
	bool down = false;
	long long w0;

	ASSERT_EQ(3, s->nr_paths);
	ASSERT_LE(0, far);
	if (stock_refuses(s, s->head))
		SKIP(return, STOCK_REFUSES);
	for (tries = 0; tries < 5 && !down; tries++) {
		w0 = path_writes(s, far);
		for (i = 0, n = 0; i < s->nr_paths; i++) {
			if (i == far)
				continue;
			kid[n] = fork();
			ASSERT_LE(0, kid[n]);
			if (!kid[n])
				_exit(-reset_ctrl(s->path[i].ctrl));
			n++;
		}
		/* both near controllers out of "live", for up to 2 s */
		for (j = 0; j < 2000 && !down; j++) {
			down = true;
			for (i = 0; i < s->nr_paths; i++)
				if (i != far && ctrl_live(s->path[i].ctrl))
					down = false;
			if (!down)
				p2p_msleep(1);
		}
		if (down)
			ret = p2p_write(s, s->head, CHUNK, 0, 150 + tries);
		for (i = 0; i < n; i++) {
			ASSERT_EQ(kid[i], p2p_waitpid_bounded(kid[i], &status,
							      60));
			ASSERT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status));
		}
	}
	ASSERT_TRUE(down) TH_LOG("the resets never overlapped");
	TH_LOG("write issued on try %d with both near paths resetting", tries);
	ASSERT_EQ(0, ret) TH_LOG("P2P write while the paths reset: %s",
				 strerror(-ret));
	EXPECT_TRUE(dev_holds(s, s->head, s->expect, CHUNK, 0));
	EXPECT_EQ(w0, path_writes(s, far));
}

static int remove_pci(const char *bdf)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), P2P_PCI_DEVICES "/%s/remove", bdf);
	return p2p_write_str(path, "1");
}

/*
 * What the writer child of the path removal shares with the test (in a
 * shared mapping; read and written with __atomic builtins).
 */
struct io_progress {
	int done;	/* verified P2P writes */
	int removed;	/* set once the path is gone */
	int after;	/* verified writes begun after that */
};

static int get(int *v)
{
	return __atomic_load_n(v, __ATOMIC_SEQ_CST);
}

static void bump(int *v)
{
	__atomic_add_fetch(v, 1, __ATOMIC_SEQ_CST);
}

/*
 * Verified P2P writes on the head until 16 more have begun after the
 * removal; exit status 0 if all of them went through.
 */
static void write_through_removal(struct stack_env *self,
				  struct io_progress *prog)
{
	int i;

	for (i = 0; i < 4000 && get(&prog->after) < 16; i++) {
		int removed = get(&prog->removed);
		off_t off = (i % 64) * CHUNK;

		if (p2p_write(self, self->head, CHUNK, off, 200 + i) ||
		    !dev_holds(self, self->head, self->expect, CHUNK, off))
			_exit(1);
		bump(&prog->done);
		if (removed)
			bump(&prog->after);
	}
	_exit(get(&prog->after) < 16);
}

/*
 * A near path removed while a child writes P2P memory to the head in a
 * loop, each write read back: the writes go on over the other near path.
 */
TEST_F_TIMEOUT(stack, multipath_path_removed_during_p2p_io, 300)
{
	struct stack_env *s = &self->e;
	int far = far_path(s), gone = -1, i, status;
	struct io_progress *prog;
	pid_t pid;

	ASSERT_EQ(3, s->nr_paths);
	if (stock_refuses(s, s->head))
		SKIP(return, STOCK_REFUSES);
	for (i = 0; i < s->nr_paths && gone < 0; i++)
		if (i != far)
			gone = i;
	ASSERT_LE(0, gone);
	prog = mmap(NULL, sizeof(*prog), PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, prog);
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid)
		write_through_removal(s, prog);
	for (i = 0; i < 3000 && get(&prog->done) < 4; i++)
		p2p_msleep(10);
	EXPECT_LE(4, get(&prog->done));
	EXPECT_EQ(0, remove_pci(s->path[gone].bdf));
	__atomic_store_n(&prog->removed, 1, __ATOMIC_SEQ_CST);
	ASSERT_EQ(pid, p2p_waitpid_bounded(pid, &status, 240));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		TH_LOG("%d writes, %d after the removal", prog->done,
		       prog->after);
	}
	munmap(prog, sizeof(*prog));
}

/* Last: only the far path is left, which cannot reach the CMB. */
TEST_F_TIMEOUT(stack, multipath_no_reachable_path_refused, 120)
{
	struct stack_env *s = &self->e;
	int far = far_path(s), i;

	ASSERT_LE(0, far);
	if (stock_refuses(s, s->head))
		SKIP(return, STOCK_REFUSES);
	for (i = 0; i < s->nr_paths; i++)
		if (i != far)
			ASSERT_EQ(0, remove_pci(s->path[i].bdf));
	expect_refused_untouched(_metadata, s, s->head,
				 s->head, 0);
}

TEST_HARNESS_MAIN
