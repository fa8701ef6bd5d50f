// SPDX-License-Identifier: GPL-2.0
/*
 * The p2pmem sysfs group of a P2PDMA provider: size, available, published
 * and the "allocate" file.  It must exist exactly on the functions that
 * registered p2pmem (here: NVMe controllers with a CMB).
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

FIXTURE(sysfs) {
	struct p2p_env env;
	long long avail0;
};

FIXTURE_SETUP(sysfs)
{
	p2p_require(_metadata, p2p_topology_from_env(),
		    !p2p_env_scan(&self->env),
		    "no PCI function with p2pmem in this guest");
	self->avail0 = p2p_attr(self->env.provider, "available");
	ASSERT_LE(0, self->avail0);
}

FIXTURE_TEARDOWN(sysfs)
{
	EXPECT_EQ(self->avail0, p2p_attr(self->env.provider, "available"));
}

static void attr_path(char *path, size_t len, const char *bdf, const char *name)
{
	snprintf(path, len, P2P_PCI_DEVICES "/%s/p2pmem/%s", bdf, name);
}

/* "<decimal>\n" and nothing else */
static bool is_decimal_line(const char *s)
{
	size_t digits = strspn(s, "0123456789");

	return digits && s[digits] == '\n' && !s[digits + 1];
}

TEST_F(sysfs, provider_values)
{
	long long size = p2p_attr(self->env.provider, "size");
	long long avail = p2p_attr(self->env.provider, "available");
	long long published = p2p_attr(self->env.provider, "published");
	long long page = p2p_page_size();

	TH_LOG("provider %s: size %lld available %lld published %lld",
	       self->env.provider, size, avail, published);
	ASSERT_LT(0, size);
	ASSERT_EQ(0, size % page);
	ASSERT_LE(0, avail);
	ASSERT_LE(avail, size);
	ASSERT_EQ(0, avail % page);
	ASSERT_EQ(self->avail0, avail);
	ASSERT_TRUE(published == 0 || published == 1);
	/* nvme publishes a CMB that supports both reads and writes */
	if (p2p_is_nvme_function(self->env.provider))
		ASSERT_EQ(1, published);
}

TEST_F(sysfs, attribute_format)
{
	static const char * const names[] = { "size", "available", "published" };
	char path[PATH_MAX], buf[64];
	size_t i;

	for (i = 0; i < ARRAY_SIZE(names); i++) {
		attr_path(path, sizeof(path), self->env.provider, names[i]);
		ASSERT_LT(0, p2p_read_str(path, buf, sizeof(buf)));
		EXPECT_TRUE(is_decimal_line(buf))
			TH_LOG("%s reads \"%s\"", names[i], buf);
	}
}

/* Only the "allocate" file is writable; root cannot open the others so. */
TEST_F(sysfs, attributes_read_only)
{
	static const char * const names[] = { "size", "available", "published" };
	char path[PATH_MAX];
	struct stat st;
	size_t i;
	int fd;

	for (i = 0; i < ARRAY_SIZE(names); i++) {
		attr_path(path, sizeof(path), self->env.provider, names[i]);
		ASSERT_EQ(0, stat(path, &st));
		EXPECT_EQ(0444, st.st_mode & 0777);
		fd = open(path, O_WRONLY);
		EXPECT_EQ(-1, fd);
		EXPECT_EQ(EACCES, errno);
		if (fd >= 0)
			close(fd);
	}
}

/*
 * "allocate" is a binary attribute that only supports mmap: 0660, a very
 * large size so that tools comparing mmap length with file size accept it,
 * and read()/write() fail with EIO.
 */
TEST_F(sysfs, allocate_file)
{
	char path[PATH_MAX], buf[16];
	struct stat st;
	int fd;

	attr_path(path, sizeof(path), self->env.provider, "allocate");
	ASSERT_EQ(0, stat(path, &st));
	EXPECT_EQ(0660, st.st_mode & 0777);
	EXPECT_EQ(1ULL << 40, (unsigned long long)st.st_size);

	fd = open(path, O_RDWR);
	ASSERT_LE(0, fd);
	EXPECT_EQ(-1, read(fd, buf, sizeof(buf)));
	EXPECT_EQ(EIO, errno);
	memset(buf, 0, sizeof(buf));
	EXPECT_EQ(-1, pwrite(fd, buf, sizeof(buf), 0));
	EXPECT_EQ(EIO, errno);
	close(fd);
}

/* The nvme "cmb" controller attribute is visible iff CMBSZ is non-zero. */
static int nvme_has_cmb(const char *bdf)
{
	char path[PATH_MAX + 300];
	struct dirent *de;
	int ret = -ENODEV;
	DIR *dir;

	snprintf(path, sizeof(path), P2P_PCI_DEVICES "/%s/nvme", bdf);
	dir = opendir(path);
	if (!dir)
		return -errno;
	while ((de = readdir(dir))) {
		if (strncmp(de->d_name, "nvme", 4))
			continue;
		snprintf(path, sizeof(path), P2P_PCI_DEVICES "/%s/nvme/%s/cmb",
			 bdf, de->d_name);
		ret = p2p_exists(path);
		break;
	}
	closedir(dir);
	return ret;
}

/*
 * In the project's topologies only the CMB NVMe controllers (as many as
 * the topology table says) provide p2pmem: every other function, the plain
 * NVMe controllers included, has no group.
 */
TEST_F(sysfs, only_cmb_devices_have_p2pmem)
{
	struct dirent **list;
	int i, n, cmb;

	if (self->env.expect == P2P_EXPECT_UNKNOWN)
		SKIP(return, "no expectation for topology %s",
		     self->env.topology);

	EXPECT_EQ(self->env.topo->nr_providers, self->env.nr_providers);
	EXPECT_TRUE(p2p_is_nvme_function(self->env.provider));
	for (i = 0; i < self->env.topo->nr_peers && i < 2; i++)
		ASSERT_LE(0, self->env.peer[i]);

	n = scandir(P2P_PCI_DEVICES, &list, NULL, alphasort);
	ASSERT_LT(0, n);
	for (i = 0; i < n; i++) {
		const char *bdf = list[i]->d_name;

		if (bdf[0] == '.')
			continue;
		if (p2p_is_nvme_function(bdf)) {
			cmb = nvme_has_cmb(bdf);
			EXPECT_LE(0, cmb) TH_LOG("%s: no nvme controller", bdf);
			EXPECT_EQ(cmb > 0, p2p_has_p2pmem_dir(bdf))
				TH_LOG("%s: cmb %d", bdf, cmb);
		} else {
			EXPECT_FALSE(p2p_has_p2pmem_dir(bdf))
				TH_LOG("%s is not an NVMe controller", bdf);
		}
	}
	for (i = 0; i < n; i++)
		free(list[i]);
	free(list);

	for (i = 0; i < self->env.topo->nr_peers && i < 2; i++) {
		const char *peer = self->env.nvme[self->env.peer[i]].bdf;

		EXPECT_FALSE(p2p_has_p2pmem_dir(peer)) TH_LOG("%s", peer);
	}
}

/* Reading the attributes does not change them. */
TEST_F(sysfs, values_stable)
{
	long long size = p2p_attr(self->env.provider, "size");
	int i;

	for (i = 0; i < 100; i++) {
		ASSERT_EQ(size, p2p_attr(self->env.provider, "size"));
		ASSERT_EQ(self->avail0,
			  p2p_attr(self->env.provider, "available"));
	}
}

TEST_HARNESS_MAIN
