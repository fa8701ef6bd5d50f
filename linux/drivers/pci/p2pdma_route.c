// SPDX-License-Identifier: GPL-2.0
/*
 * PCI P2PDMA routing policy.
 *
 * p2pdma_decide() turns two struct p2pdma_path descriptions into a verdict:
 * bus address below a common upstream device unless ACS redirects the
 * traffic up, else through the host bridge where the CPU or the allow list
 * vouches for it, else refused.  It reads no hardware, so the KUnit suite
 * at the end drives it from tables.  Rules and distances:
 * Documentation/driver-api/pci/p2pdma.rst, "Routing Policy".
 */

#include <linux/bits.h>
#include <linux/build_bug.h>
#include <linux/kernel.h>
#include <linux/pci_ids.h>
#include <linux/string.h>

#include "p2pdma_route.h"

static const struct p2pdma_allowed_host {
	u16 vendor;
	u16 device;
	bool same_bridge_only;
} p2pdma_allowed_hosts[] = {
	/* Xeon E5 / Core i7 (Sandy Bridge-EP) */
	{ PCI_VENDOR_ID_INTEL, 0x3c00, true },
	{ PCI_VENDOR_ID_INTEL, 0x3c01, true },
	/* Xeon E5 v3 / E7 v3 / Core i7 (Haswell-EP) */
	{ PCI_VENDOR_ID_INTEL, 0x2f00, true },
	{ PCI_VENDOR_ID_INTEL, 0x2f01, true },
	/* Xeon Scalable (Skylake-SP) and later */
	{ PCI_VENDOR_ID_INTEL, 0x2030, false },
	{ PCI_VENDOR_ID_INTEL, 0x2031, false },
	{ PCI_VENDOR_ID_INTEL, 0x2032, false },
	{ PCI_VENDOR_ID_INTEL, 0x2033, false },
	{ PCI_VENDOR_ID_INTEL, 0x2020, false },
	{ PCI_VENDOR_ID_INTEL, 0x09a2, false },
};

/**
 * p2pdma_host_listed() - look a host bridge up in the allow list
 * @vendor: vendor ID of the device identifying the host bridge
 * @device: device ID of that device
 * @same_bridge_only: returns whether the entry only covers traffic that
 *	stays below this one host bridge
 *
 * Return: true if the host bridge is on the list.
 */
static bool p2pdma_host_listed(u16 vendor, u16 device,
			       bool *same_bridge_only)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(p2pdma_allowed_hosts); i++) {
		const struct p2pdma_allowed_host *e = &p2pdma_allowed_hosts[i];

		if (e->vendor == vendor && e->device == device) {
			*same_bridge_only = e->same_bridge_only;
			return true;
		}
	}
	return false;
}

/**
 * p2pdma_check_host() - may traffic cross this host bridge?
 * @host: the host bridge above one of the two paths
 * @same_bridge: both paths are below @host
 *
 * Return: %P2PDMA_REASON_HOST_LISTED if the allow list vouches for the
 * traffic, else the reason it does not.
 */
enum p2pdma_reason p2pdma_check_host(const struct p2pdma_host *host,
				     bool same_bridge)
{
	bool same_bridge_only;

	if (!host->name[0])
		return P2PDMA_REASON_HOST_UNKNOWN;
	if (!p2pdma_host_listed(host->vendor, host->device, &same_bridge_only))
		return P2PDMA_REASON_HOST_UNLISTED;
	if (same_bridge_only && !same_bridge)
		return P2PDMA_REASON_HOST_SPLIT;
	return P2PDMA_REASON_HOST_LISTED;
}

static void p2pdma_decide_host(const struct p2pdma_path *p,
			       const struct p2pdma_path *c,
			       bool cpu_routes_p2p, struct p2pdma_verdict *v)
{
	bool same = p->host.bridge == c->host.bridge;
	enum p2pdma_reason r;

	v->map = PCI_P2PDMA_MAP_THRU_HOST_BRIDGE;
	if (cpu_routes_p2p) {
		v->reason = P2PDMA_REASON_CPU;
		return;
	}

	v->reason = p2pdma_check_host(&p->host, same);
	if (v->reason != P2PDMA_REASON_HOST_LISTED)
		v->bad_host |= P2PDMA_SIDE_PROVIDER;
	if (!same) {
		r = p2pdma_check_host(&c->host, false);
		if (r != P2PDMA_REASON_HOST_LISTED) {
			if (!v->bad_host)
				v->reason = r;
			v->bad_host |= P2PDMA_SIDE_CLIENT;
		}
	}
	if (v->bad_host)
		v->map = PCI_P2PDMA_MAP_NOT_SUPPORTED;
}

/* Lowest device of @p that is also on @c, and where it sits on both. */
static bool p2pdma_common_hop(const struct p2pdma_path *p,
			      const struct p2pdma_path *c,
			      unsigned int *ip, unsigned int *ic)
{
	unsigned int i, j;

	for (i = 0; i < p->len; i++) {
		for (j = 0; j < c->len; j++) {
			if (p->dev[i] == c->dev[j]) {
				*ip = i;
				*ic = j;
				return true;
			}
		}
	}
	return false;
}

/* Mask of the hops below @n on @path whose ACS redirects P2P upstream. */
static u32 p2pdma_acs_redirects(const struct p2pdma_path *path, unsigned int n)
{
	u32 mask = 0;
	unsigned int i;

	for (i = 0; i < n; i++)
		if (path->acs_ctrl[i] & P2PDMA_ACS_REDIR_BITS)
			mask |= BIT(i);
	return mask;
}

/**
 * p2pdma_decide() - routing verdict for a provider and a client
 * @provider: path of the provider
 * @client: path of the client
 * @cpu_routes_p2p: the CPU's root complex is known to route P2P traffic
 * @v: returns the verdict
 *
 * A truncated path is refused (%P2PDMA_REASON_TOO_DEEP).  A pair with a
 * common device and no ACS redirect on the way to it gets
 * %PCI_P2PDMA_MAP_BUS_ADDR; any other pair crosses the host bridge, which
 * p2pdma_decide_host() allows or refuses.  The distance is that to the
 * common device whenever there is one, redirected or not, and the sum of
 * both path lengths otherwise.
 */
void p2pdma_decide(const struct p2pdma_path *provider,
		   const struct p2pdma_path *client, bool cpu_routes_p2p,
		   struct p2pdma_verdict *v)
{
	static_assert(P2PDMA_MAX_HOPS <= 32);	/* fits acs_hops[] */

	memset(v, 0, sizeof(*v));
	if (provider->truncated || client->truncated) {
		v->map = PCI_P2PDMA_MAP_NOT_SUPPORTED;
		v->reason = P2PDMA_REASON_TOO_DEEP;
		v->distance = provider->len + client->len;
		return;
	}

	v->common = p2pdma_common_hop(provider, client, &v->up_provider,
				      &v->up_client);
	if (!v->common) {
		v->distance = provider->len + client->len;
		p2pdma_decide_host(provider, client, cpu_routes_p2p, v);
		return;
	}

	v->distance = v->up_provider + v->up_client;
	v->acs_hops[0] = p2pdma_acs_redirects(provider, v->up_provider + 1);
	v->acs_hops[1] = p2pdma_acs_redirects(client, v->up_client);
	if (!v->acs_hops[0] && !v->acs_hops[1]) {
		v->map = PCI_P2PDMA_MAP_BUS_ADDR;
		v->reason = P2PDMA_REASON_DIRECT;
		return;
	}
	p2pdma_decide_host(provider, client, cpu_routes_p2p, v);
}

#ifdef CONFIG_PCI_P2PDMA_KUNIT_TEST
#include "p2pdma_route_kunit.h"
#endif
