// SPDX-License-Identifier: GPL-2.0
/*
 * PCI P2PDMA verdicts: the glue between real devices and the routing
 * policy.  It describes the upstream paths of a provider and a client for
 * p2pdma_decide(), explains refusals and ACS redirects in the kernel log,
 * and keeps each provider's cache of verdicts.  Message formats:
 * Documentation/driver-api/pci/p2pdma.rst, "Kernel Log Messages".
 *
 * The CPU rule and the choice of the device that stands for a host bridge
 * keep the behaviour of the original P2PDMA code by Logan Gunthorpe,
 * Christoph Hellwig and others (Microsemi, Eideticom, 2016-2018).
 */

#include <linux/pci.h>
#include <linux/seq_buf.h>
#include <linux/xarray.h>

#include "p2pdma_verdict.h"

#define CREATE_TRACE_POINTS
#include <trace/events/p2pdma.h>

/*
 * Verdict cache entries: the map type in the low bits, the distance above,
 * as an xarray value entry.  No entry means "not computed yet", which is
 * PCI_P2PDMA_MAP_UNKNOWN (0).
 */
#define P2PDMA_VERDICT_MAP_BITS	2
#define P2PDMA_VERDICT_MAP_MASK	(BIT(P2PDMA_VERDICT_MAP_BITS) - 1)

/**
 * p2pdma_verdict_key() - verdict cache index of a client
 * @domain: PCI domain of the client
 * @devid: bus and devfn of the client (pci_dev_id())
 *
 * With a 32-bit unsigned long only the low 16 bits of @domain fit, so
 * domains 0x10000 apart share indexes there.
 *
 * Return: the index.
 */
static unsigned long p2pdma_verdict_key(int domain, u16 devid)
{
	return (unsigned long)(u32)domain << 16 | devid;
}

/**
 * p2pdma_verdict_encode() - pack a map type and a distance
 * @map: map type, not %PCI_P2PDMA_MAP_UNKNOWN
 * @distance: distance, negative values are stored as 0
 *
 * Return: an xarray value entry.
 */
static void *p2pdma_verdict_encode(enum pci_p2pdma_map_type map, int distance)
{
	static_assert(PCI_P2PDMA_MAP_THRU_HOST_BRIDGE <= P2PDMA_VERDICT_MAP_MASK);

	return xa_mk_value((unsigned long)max(distance, 0) <<
			   P2PDMA_VERDICT_MAP_BITS | map);
}

/**
 * p2pdma_verdict_decode() - unpack a verdict cache entry
 * @entry: entry from the cache, or NULL
 * @distance: returns the distance (untouched for a missing entry)
 *
 * Return: the map type, %PCI_P2PDMA_MAP_UNKNOWN if @entry holds none.
 */
static enum pci_p2pdma_map_type p2pdma_verdict_decode(void *entry,
						      int *distance)
{
	unsigned long val;

	if (!xa_is_value(entry))
		return PCI_P2PDMA_MAP_UNKNOWN;
	val = xa_to_value(entry);
	*distance = val >> P2PDMA_VERDICT_MAP_BITS;
	return val & P2PDMA_VERDICT_MAP_MASK;
}

/* The CPU rule: AMD Zen and later route P2P through the root complex. */
static bool p2pdma_cpu_routes_p2p(void)
{
#ifdef CONFIG_X86
	const struct cpuinfo_x86 *c = &cpu_data(0);

	return c->x86_vendor == X86_VENDOR_AMD && c->x86 >= 0x17;
#else
	return false;
#endif
}

/*
 * The device that stands for a host bridge in the allow list: the first
 * device on its root bus, if that is 00.0 (a classic host bridge function)
 * or a root port (platforms without such a function list root ports).
 * Its IDs and address are copied at once and no pointer to it is kept, so
 * a message printed later never follows it.  The walk takes no pci_bus_sem
 * (this runs in atomic context, from DMA mapping): only removing that very
 * device through sysfs could race with it, as in stock 6.12.
 */
static void p2pdma_describe_host(struct pci_host_bridge *bridge,
				 struct p2pdma_host *host)
{
	struct pci_dev *first;

	host->bridge = bridge;
	host->name[0] = '\0';
	host->vendor = 0;
	host->device = 0;
	first = list_first_entry_or_null(&bridge->bus->devices, struct pci_dev,
					 bus_list);
	if (!first || (first->devfn != PCI_DEVFN(0, 0) &&
		       pci_pcie_type(first) != PCI_EXP_TYPE_ROOT_PORT))
		return;
	host->vendor = first->vendor;
	host->device = first->device;
	strscpy(host->name, pci_name(first));
}

static void p2pdma_describe(struct pci_dev *pdev, struct p2pdma_path *path)
{
	struct pci_dev *dev;

	path->len = 0;
	path->truncated = false;
	/* Bridges need no references: pdev holds its parents. */
	for (dev = pdev; dev; dev = pci_upstream_bridge(dev)) {
		unsigned int i = path->len;

		if (i == P2PDMA_MAX_HOPS) {
			path->truncated = true;
			break;
		}
		path->dev[i] = dev;
		path->acs_ctrl[i] = 0;
		if (dev->acs_cap)
			pci_read_config_word(dev, dev->acs_cap + PCI_ACS_CTRL,
					     &path->acs_ctrl[i]);
		path->len++;
	}

	p2pdma_describe_host(pci_find_host_bridge(pdev->bus), &path->host);
}

/* "RR", "RR+CR", ... for the redirect bits set in @ctrl. */
static const char *p2pdma_acs_names(u16 ctrl, char *buf, size_t len)
{
	static const struct {
		u16 bit;
		const char *name;
	} bits[] = {
		{ PCI_ACS_RR, "RR" }, { PCI_ACS_CR, "CR" }, { PCI_ACS_EC, "EC" },
	};
	struct seq_buf sb;
	unsigned int i;

	seq_buf_init(&sb, buf, len);
	for (i = 0; i < ARRAY_SIZE(bits); i++)
		if (ctrl & bits[i].bit)
			seq_buf_printf(&sb, "%s%s", seq_buf_used(&sb) ? "+" : "",
				       bits[i].name);
	return seq_buf_str(&sb);
}

static void p2pdma_explain_acs(struct pci_dev *client, const char *provider,
			       const struct p2pdma_path paths[2],
			       const struct p2pdma_verdict *v)
{
	struct seq_buf list;
	char buf[128], names[12];
	unsigned int side;

	seq_buf_init(&list, buf, sizeof(buf));
	for (side = 0; side < 2; side++) {
		unsigned long mask = v->acs_hops[side];
		unsigned int i;

		for_each_set_bit(i, &mask, P2PDMA_MAX_HOPS) {
			const struct pci_dev *dev = paths[side].dev[i];
			u16 ctrl = paths[side].acs_ctrl[i];

			pci_warn(client,
				 "peer-to-peer DMA with %s is redirected to the host bridge by ACS %s on %s\n",
				 provider,
				 p2pdma_acs_names(ctrl, names, sizeof(names)),
				 pci_name(dev));
			seq_buf_printf(&list, "%s%s", seq_buf_used(&list) ?
				       ";" : "", pci_name(dev));
		}
	}
	pci_warn(client,
		 "peer-to-peer DMA with %s could stay below the common upstream bridge with pci=disable_acs_redir=%s\n",
		 provider, seq_buf_str(&list));
}

static void p2pdma_explain_host(struct pci_dev *client, const char *provider,
				const struct p2pdma_path paths[2],
				const struct p2pdma_verdict *v)
{
	bool same = paths[0].host.bridge == paths[1].host.bridge;
	unsigned int side;

	for (side = 0; side < 2; side++) {
		const struct p2pdma_host *host = &paths[side].host;

		if (!(v->bad_host & BIT(side)))
			continue;

		switch (p2pdma_check_host(host, same)) {
		case P2PDMA_REASON_HOST_UNKNOWN:
			pci_warn(client,
				 "peer-to-peer DMA with %s refused: the host bridge above the %s has no device to look up in the P2PDMA allow list\n",
				 provider, side ? "client" : "provider");
			break;
		case P2PDMA_REASON_HOST_UNLISTED:
			pci_warn(client,
				 "peer-to-peer DMA with %s refused: host bridge %s (%04x:%04x) is not on the P2PDMA allow list\n",
				 provider, host->name, host->vendor,
				 host->device);
			break;
		case P2PDMA_REASON_HOST_SPLIT:
			pci_warn(client,
				 "peer-to-peer DMA with %s refused: client and provider are below different host bridges, and %s (%04x:%04x) only supports it below one\n",
				 provider, host->name, host->vendor,
				 host->device);
			break;
		default:
			break;
		}
	}
}

/*
 * Say why traffic between a client and a provider has to go through the
 * host bridge, whenever an ACS redirect is the reason (even if the host
 * bridge then routes it: the redirect may be worth turning off), and why
 * a client cannot reach a provider at all.  Kept out of line so its
 * buffers do not add to p2pdma_judge()'s frame, which the DMA mapping
 * path may need.
 */
static noinline_for_stack void
p2pdma_explain(struct pci_dev *provider, struct pci_dev *client,
	       const struct p2pdma_path paths[2], const struct p2pdma_verdict *v)
{
	const char *name = pci_name(provider);

	if (v->reason == P2PDMA_REASON_TOO_DEEP) {
		pci_warn(client,
			 "peer-to-peer DMA with %s refused: PCI hierarchy deeper than %d levels\n",
			 name, P2PDMA_MAX_HOPS);
		return;
	}

	if (v->acs_hops[0] || v->acs_hops[1])
		p2pdma_explain_acs(client, name, paths, v);

	if (v->map != PCI_P2PDMA_MAP_NOT_SUPPORTED)
		return;

	/* Without a common device there is no ACS redirect to blame. */
	if (!v->common)
		pci_warn(client,
			 "peer-to-peer DMA with %s has to cross the host bridge: no upstream bridge is shared\n",
			 name);
	p2pdma_explain_host(client, name, paths, v);
}

/*
 * p2pmem/peers: the verdict of each possible client, one line each, as
 * Documentation/ABI/testing/sysfs-bus-pci describes:
 *
 *   <client> <map type> <distance> <reason>
 *
 * The reason is made of clauses separated by "; ", the same facts the
 * verbose messages above give.
 */

static const char * const p2pdma_map_names[] = {
	[PCI_P2PDMA_MAP_UNKNOWN] = "unknown",
	[PCI_P2PDMA_MAP_NOT_SUPPORTED] = "not_supported",
	[PCI_P2PDMA_MAP_BUS_ADDR] = "bus_addr",
	[PCI_P2PDMA_MAP_THRU_HOST_BRIDGE] = "thru_host_bridge",
};

/* enum p2pdma_reason in the p2pdma_verdict trace event. */
static const char * const p2pdma_reason_names[] = {
	[P2PDMA_REASON_DIRECT] = "direct",
	[P2PDMA_REASON_CPU] = "cpu",
	[P2PDMA_REASON_HOST_LISTED] = "host_listed",
	[P2PDMA_REASON_HOST_UNLISTED] = "host_unlisted",
	[P2PDMA_REASON_HOST_UNKNOWN] = "host_unknown",
	[P2PDMA_REASON_HOST_SPLIT] = "host_split",
	[P2PDMA_REASON_TOO_DEEP] = "too_deep",
};

/* The distance as pci_p2pdma_distance() returns it: -1 when refused. */
static int p2pdma_public_distance(const struct p2pdma_verdict *v)
{
	return v->map == PCI_P2PDMA_MAP_NOT_SUPPORTED ? -1 : v->distance;
}

static void p2pdma_trace_verdict(struct pci_dev *provider,
				 struct pci_dev *client,
				 const struct p2pdma_verdict *v)
{
	trace_p2pdma_verdict(provider, client, p2pdma_map_names[v->map],
			     p2pdma_public_distance(v),
			     p2pdma_reason_names[v->reason]);
}

static void p2pdma_clause(struct seq_buf *sb, bool *first, const char *fmt,
			  ...)
{
	va_list args;

	if (!*first)
		seq_buf_puts(sb, "; ");
	*first = false;
	va_start(args, fmt);
	seq_buf_vprintf(sb, fmt, args);
	va_end(args);
}

/* The host bridge clause of one side of a pair that crosses it. */
static void p2pdma_host_clause(struct seq_buf *sb, bool *first,
			       const struct p2pdma_host *host, bool same,
			       const char *side)
{
	switch (p2pdma_check_host(host, same)) {
	case P2PDMA_REASON_HOST_UNKNOWN:
		p2pdma_clause(sb, first,
			      "host bridge above the %s has no device to look up in the allow list",
			      side);
		break;
	case P2PDMA_REASON_HOST_UNLISTED:
		p2pdma_clause(sb, first,
			      "host bridge %s (%04x:%04x) not on the allow list",
			      host->name, host->vendor, host->device);
		break;
	case P2PDMA_REASON_HOST_SPLIT:
		p2pdma_clause(sb, first,
			      "host bridge %s (%04x:%04x) only allowed with both devices below it",
			      host->name, host->vendor, host->device);
		break;
	default:
		p2pdma_clause(sb, first,
			      "host bridge %s (%04x:%04x) on the allow list",
			      host->name, host->vendor, host->device);
		break;
	}
}

/* The reason of a verdict, in clauses: where, what redirects, who allows. */
static void p2pdma_print_reason(struct seq_buf *sb,
				const struct p2pdma_path paths[2],
				const struct p2pdma_verdict *v)
{
	bool same = paths[0].host.bridge == paths[1].host.bridge;
	bool first = true;
	unsigned int side;
	char names[12];

	if (v->reason == P2PDMA_REASON_TOO_DEEP) {
		p2pdma_clause(sb, &first, "PCI hierarchy deeper than %d levels",
			      P2PDMA_MAX_HOPS);
		return;
	}
	if (v->common && paths[0].dev[v->up_provider] == paths[0].dev[0] &&
	    paths[1].dev[v->up_client] == paths[1].dev[0])
		p2pdma_clause(sb, &first, "same device");
	else if (v->common)
		p2pdma_clause(sb, &first, "common upstream device %s",
			      pci_name(paths[0].dev[v->up_provider]));
	else
		p2pdma_clause(sb, &first, "no common upstream device");

	for (side = 0; side < 2; side++) {
		unsigned long mask = v->acs_hops[side];
		unsigned int i;

		for_each_set_bit(i, &mask, P2PDMA_MAX_HOPS)
			p2pdma_clause(sb, &first, "ACS %s on %s",
				      p2pdma_acs_names(paths[side].acs_ctrl[i],
						       names, sizeof(names)),
				      pci_name(paths[side].dev[i]));
	}

	switch (v->reason) {
	case P2PDMA_REASON_DIRECT:
		break;
	case P2PDMA_REASON_CPU:
		p2pdma_clause(sb, &first,
			      "the CPU routes peer-to-peer traffic through its host bridges");
		break;
	case P2PDMA_REASON_HOST_LISTED:
		p2pdma_host_clause(sb, &first, &paths[0].host, same, "provider");
		if (!same)
			p2pdma_host_clause(sb, &first, &paths[1].host, false,
					   "client");
		break;
	default:
		for (side = 0; side < 2; side++)
			if (v->bad_host & BIT(side))
				p2pdma_host_clause(sb, &first, &paths[side].host,
						   same, side ? "client" : "provider");
		break;
	}
}

/* Describe both ends as they are now and decide, without the cache. */
static void p2pdma_work_out(struct pci_dev *provider, struct pci_dev *client,
			    struct p2pdma_path paths[2], struct p2pdma_verdict *v)
{
	p2pdma_describe(provider, &paths[0]);
	p2pdma_describe(client, &paths[1]);
	p2pdma_decide(&paths[0], &paths[1], p2pdma_cpu_routes_p2p(), v);
}

/**
 * p2pdma_print_peer() - one line of p2pmem/peers
 * @sb: where the line goes
 * @provider: the device with P2P memory
 * @client: the device that would DMA to or from it
 * @paths: room for the two paths (384 bytes on 64-bit), kept off the stack
 *	of a caller that prints many lines
 *
 * The verdict is worked out afresh, as pci_p2pdma_distance() would for a
 * client not seen before; the cache is neither read nor filled.  The
 * distance is -1 when the pair is refused, as pci_p2pdma_distance()
 * returns it.  Nothing is traced: any user may read p2pmem/peers, and the
 * trace is for the verdicts DMA users get.
 */
void p2pdma_print_peer(struct seq_buf *sb, struct pci_dev *provider,
		       struct pci_dev *client, struct p2pdma_path paths[2])
{
	struct p2pdma_verdict v;

	p2pdma_work_out(provider, client, paths, &v);
	seq_buf_printf(sb, "%s %s %d ", pci_name(client),
		       p2pdma_map_names[v.map], p2pdma_public_distance(&v));
	p2pdma_print_reason(sb, paths, &v);
	seq_buf_putc(sb, '\n');
}

/**
 * p2pdma_print_why() - the reason of a pair's verdict, in words
 * @sb: where to print (no newline is added)
 * @provider: the device with P2P memory
 * @client: the device that would DMA to or from it
 * @paths: room for the two path descriptions (too large for the stack)
 *
 * The reason clauses of p2pmem/peers, for a message about one pair.  Works
 * the verdict out from the topology as it is now, like p2pdma_print_peer(),
 * but neither caches nor traces it.
 */
void p2pdma_print_why(struct seq_buf *sb, struct pci_dev *provider,
		      struct pci_dev *client, struct p2pdma_path paths[2])
{
	struct p2pdma_verdict v;

	p2pdma_work_out(provider, client, paths, &v);
	p2pdma_print_reason(sb, paths, &v);
}

/*
 * The verdict cache: map type and distance of each client, one cache per
 * provider, keyed by the client's domain and bus/devfn, freed with the
 * provider's P2P state.  The core drops entries when the topology changes
 * (p2pdma_verdicts_forget()), so that a device added at a removed client's
 * address gets a verdict of its own.  Details: p2pdma.rst, "Verdict cache".
 */
static unsigned long p2pdma_client_key(struct pci_dev *client)
{
	return p2pdma_verdict_key(pci_domain_nr(client->bus),
				  pci_dev_id(client));
}

/*
 * One word for the most recent verdict: key, distance, map type.  Keys
 * take at most 48 bits (P2PDMA needs 64-bit), which leaves 14 bits for the
 * distance; a verdict whose distance does not fit only goes to the xarray.
 */
#define P2PDMA_LAST_DIST_BITS	14
#define P2PDMA_LAST_KEY_SHIFT	(P2PDMA_LAST_DIST_BITS + P2PDMA_VERDICT_MAP_BITS)

/**
 * p2pdma_last_pack() - pack a verdict and its key into one word
 * @key: verdict cache index of the client (p2pdma_verdict_key())
 * @map: map type, not %PCI_P2PDMA_MAP_UNKNOWN
 * @distance: distance
 *
 * Return: the word, or 0 (no verdict) if @distance is negative or too
 * large to fit.
 */
static unsigned long p2pdma_last_pack(unsigned long key,
				      enum pci_p2pdma_map_type map, int distance)
{
	if (distance < 0 || distance >= BIT(P2PDMA_LAST_DIST_BITS))
		return 0;
	return key << P2PDMA_LAST_KEY_SHIFT |
	       (unsigned long)distance << P2PDMA_VERDICT_MAP_BITS | map;
}

/**
 * p2pdma_last_unpack() - the verdict in a packed word, if it is for @key
 * @last: word from p2pdma_last_pack(), or 0
 * @key: verdict cache index of the client
 * @distance: returns the distance (untouched when there is no verdict)
 *
 * Return: the map type, %PCI_P2PDMA_MAP_UNKNOWN if @last holds no verdict
 * or one for another client.
 */
static enum pci_p2pdma_map_type
p2pdma_last_unpack(unsigned long last, unsigned long key, int *distance)
{
	if (!last || last >> P2PDMA_LAST_KEY_SHIFT != key)
		return PCI_P2PDMA_MAP_UNKNOWN;
	*distance = (last >> P2PDMA_VERDICT_MAP_BITS) &
		    (BIT(P2PDMA_LAST_DIST_BITS) - 1);
	return last & P2PDMA_VERDICT_MAP_MASK;
}

/*
 * Bumped by every invalidation.  A verdict worked out before a bump may
 * describe the topology as it was; p2pdma_verdicts_store() drops it.
 */
static atomic_long_t p2pdma_verdict_epoch = ATOMIC_LONG_INIT(0);

/**
 * p2pdma_verdicts_epoch() - the invalidation count, to pass to
 *	p2pdma_verdicts_store() for a verdict about to be worked out
 *
 * Return: the number of invalidations so far.
 */
unsigned long p2pdma_verdicts_epoch(void)
{
	return atomic_long_read(&p2pdma_verdict_epoch);
}

/**
 * p2pdma_verdicts_bump() - start an invalidation
 *
 * Verdicts worked out from now on may be stored; any under way are not.
 * The caller then drops the stale entries with p2pdma_verdicts_forget().
 */
void p2pdma_verdicts_bump(void)
{
	/* Fully ordered: before the caller takes any cache's lock. */
	atomic_long_inc_return(&p2pdma_verdict_epoch);
}

/* Drop the verdict of key @key, or with @all every verdict. */
static void p2pdma_verdicts_forget_key(struct p2pdma_verdicts *vc,
				       unsigned long key, bool all)
{
	unsigned long flags, idx;
	void *entry;

	xa_lock_irqsave(&vc->xa, flags);
	if (all) {
		xa_for_each(&vc->xa, idx, entry)
			__xa_erase(&vc->xa, idx);
		WRITE_ONCE(vc->last, 0);
	} else {
		__xa_erase(&vc->xa, key);
		if (vc->last >> P2PDMA_LAST_KEY_SHIFT == key)
			WRITE_ONCE(vc->last, 0);
	}
	xa_unlock_irqrestore(&vc->xa, flags);
}

/* Cache @map and @distance under @key unless an invalidation began. */
static void p2pdma_verdicts_store_key(struct p2pdma_verdicts *vc,
				      unsigned long key,
				      enum pci_p2pdma_map_type map,
				      int distance, unsigned long epoch)
{
	unsigned long flags;

	xa_lock_irqsave(&vc->xa, flags);
	if (epoch == atomic_long_read(&p2pdma_verdict_epoch)) {
		__xa_store(&vc->xa, key, p2pdma_verdict_encode(map, distance),
			   GFP_ATOMIC);
		WRITE_ONCE(vc->last, p2pdma_last_pack(key, map, distance));
	}
	xa_unlock_irqrestore(&vc->xa, flags);
}

/* The cached verdict of key @key: the last one, else the xarray's. */
static enum pci_p2pdma_map_type
p2pdma_verdicts_lookup_key(struct p2pdma_verdicts *vc, unsigned long key,
			   int *distance)
{
	enum pci_p2pdma_map_type map;

	map = p2pdma_last_unpack(READ_ONCE(vc->last), key, distance);
	if (map == PCI_P2PDMA_MAP_UNKNOWN)
		map = p2pdma_verdict_decode(xa_load(&vc->xa, key), distance);
	return map;
}

/**
 * p2pdma_verdicts_forget() - drop cached verdicts
 * @vc: the provider's cache, under rcu_read_lock()
 * @client: the client whose verdict goes, or NULL for all of them
 */
void p2pdma_verdicts_forget(struct p2pdma_verdicts *vc, struct pci_dev *client)
{
	p2pdma_verdicts_forget_key(vc, client ? p2pdma_client_key(client) : 0,
				   !client);
}

/**
 * p2pdma_verdicts_init() - set up an empty verdict cache
 * @vc: the cache
 */
void p2pdma_verdicts_init(struct p2pdma_verdicts *vc)
{
	/* Verdicts are stored from the DMA mapping path, in any context. */
	xa_init_flags(&vc->xa, XA_FLAGS_LOCK_IRQ);
	vc->last = 0;
}

/**
 * p2pdma_verdicts_destroy() - free a verdict cache
 * @vc: the cache, which nobody can reach any more
 */
void p2pdma_verdicts_destroy(struct p2pdma_verdicts *vc)
{
	xa_destroy(&vc->xa);
}

/**
 * p2pdma_verdicts_lookup() - the cached verdict for a client
 * @vc: the provider's cache, under rcu_read_lock()
 * @client: the client
 * @distance: returns the distance (untouched when there is no verdict)
 *
 * Return: the map type, %PCI_P2PDMA_MAP_UNKNOWN if none is cached.
 */
enum pci_p2pdma_map_type p2pdma_verdicts_lookup(struct p2pdma_verdicts *vc,
						struct pci_dev *client,
						int *distance)
{
	return p2pdma_verdicts_lookup_key(vc, p2pdma_client_key(client),
					  distance);
}

/**
 * p2pdma_verdicts_store() - cache the verdict for a client
 * @vc: the provider's cache, under rcu_read_lock()
 * @client: the client
 * @v: its verdict
 * @epoch: p2pdma_verdicts_epoch() from before @v was worked out
 *
 * Nothing is stored if an invalidation began since @epoch.  May fail for
 * lack of memory, which only means working the verdict out again next
 * time.
 */
void p2pdma_verdicts_store(struct p2pdma_verdicts *vc, struct pci_dev *client,
			   const struct p2pdma_verdict *v, unsigned long epoch)
{
	p2pdma_verdicts_store_key(vc, p2pdma_client_key(client), v->map,
				  v->distance, epoch);
}

/**
 * p2pdma_judge() - work out the verdict for a pair of devices
 * @provider: the device with P2P memory
 * @client: the device that would DMA to or from it
 * @verbose: log why a pair is refused or redirected through the host bridge
 * @v: returns the verdict
 *
 * Can run in atomic context, deep in a storage stack, from dma_map_sg(), so
 * the frame is kept small: the two paths take 384 bytes on 64-bit.
 */
void p2pdma_judge(struct pci_dev *provider, struct pci_dev *client,
		  bool verbose, struct p2pdma_verdict *v)
{
	struct p2pdma_path paths[2];

	p2pdma_describe(provider, &paths[0]);
	p2pdma_describe(client, &paths[1]);
	p2pdma_decide(&paths[0], &paths[1], p2pdma_cpu_routes_p2p(), v);
	p2pdma_trace_verdict(provider, client, v);
	if (verbose)
		p2pdma_explain(provider, client, paths, v);
}

#ifdef CONFIG_PCI_P2PDMA_KUNIT_TEST
#include "p2pdma_verdict_kunit.h"
#endif
