// SPDX-License-Identifier: GPL-2.0
/*
 * A P2PDMA provider whose ranges a test chooses, for the selftests of
 * ranges that no real driver registers: a size that is not a multiple of
 * 1 GiB (QEMU's NVMe CMB is always a power of two), an offset into the
 * BAR, several ranges of one BAR.
 *
 * The driver matches no device by itself; a test binds it to a function
 * through driver_override, after setting the module parameter "ranges":
 *
 *	echo 2:0:0x60000000,2:0x70000000:0x200000 > \
 *		/sys/module/test_p2pdma_provider/parameters/ranges
 *	echo test_p2pdma_provider > /sys/bus/pci/devices/$BDF/driver_override
 *	echo $BDF > /sys/bus/pci/drivers_probe
 *
 * Each range is <bar>:<offset>:<size>, handed to pci_p2pdma_add_resource()
 * as it is, in order; the memory is then published.  Probe fails with the
 * first error (and devm undoes what was added).  Unbinding the device
 * takes everything away again, as for any provider driver.
 */
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/pci.h>
#include <linux/pci-p2pdma.h>
#include <linux/string.h>

#define TPP_MAX_RANGES	8

static char tpp_ranges[256];
module_param_string(ranges, tpp_ranges, sizeof(tpp_ranges), 0644);
MODULE_PARM_DESC(ranges,
		 "ranges to offer at probe: <bar>:<offset>:<size>[,...]");

/* Parse one "<bar>:<offset>:<size>" and add it. */
static int tpp_add_range(struct pci_dev *pdev, char *spec)
{
	char *bar_s = strsep(&spec, ":"), *off_s = strsep(&spec, ":");
	unsigned long long off, size;
	unsigned int bar;
	int err;

	if (!off_s || !spec || kstrtouint(bar_s, 0, &bar) ||
	    kstrtoull(off_s, 0, &off) || kstrtoull(spec, 0, &size) ||
	    bar >= PCI_STD_NUM_BARS)
		return -EINVAL;
	err = pci_p2pdma_add_resource(pdev, bar, size, off);
	if (err)
		pci_err(pdev, "range %u:%#llx:%#llx refused: %d\n", bar, off,
			size, err);
	return err;
}

static int tpp_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	char buf[sizeof(tpp_ranges)], *rest = buf, *spec;
	unsigned int n = 0;
	int err;

	err = pcim_enable_device(pdev);
	if (err)
		return err;
	strscpy(buf, strim(tpp_ranges), sizeof(buf));
	while ((spec = strsep(&rest, ",")) && *spec) {
		if (++n > TPP_MAX_RANGES)
			return -E2BIG;
		err = tpp_add_range(pdev, spec);
		if (err)
			return err;
	}
	if (!n)
		return -EINVAL;
	pci_p2pmem_publish(pdev, true);
	return 0;
}

static struct pci_driver tpp_driver = {
	.name = "test_p2pdma_provider",
	.probe = tpp_probe,
};
module_pci_driver(tpp_driver);

MODULE_DESCRIPTION("P2PDMA provider with ranges chosen by a test");
MODULE_LICENSE("GPL");
