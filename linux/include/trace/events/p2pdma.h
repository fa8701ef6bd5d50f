/* SPDX-License-Identifier: GPL-2.0 */
/*
 * PCI peer-to-peer DMA decisions: each verdict the core works out for a
 * provider and a client, and each DMA mapping it refuses.
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM p2pdma

#if !defined(_TRACE_P2PDMA_H) || defined(TRACE_HEADER_MULTI_READ)
#define _TRACE_P2PDMA_H

#include <linux/device.h>
#include <linux/pci.h>
#include <linux/tracepoint.h>

/**
 * p2pdma_verdict - a verdict was worked out (not read from the cache)
 * @provider: the device with P2P memory
 * @client: the device that would DMA to or from it
 * @map: the map type, as p2pmem/peers spells it
 * @distance: the distance, -1 when refused
 * @reason: what decided: direct, cpu, host_listed, host_unlisted,
 *	host_unknown, host_split or too_deep
 */
TRACE_EVENT(p2pdma_verdict,
	    TP_PROTO(struct pci_dev *provider, struct pci_dev *client,
		     const char *map, int distance, const char *reason),
	    TP_ARGS(provider, client, map, distance, reason),
	    TP_STRUCT__entry(__string(provider, pci_name(provider))
			     __string(client, pci_name(client))
			     __string(map, map)
			     __field(int, distance)
			     __string(reason, reason)),
	    TP_fast_assign(__assign_str(provider);
			   __assign_str(client);
			   __assign_str(map);
			   __entry->distance = distance;
			   __assign_str(reason);),
	    TP_printk("provider=%s client=%s map=%s distance=%d reason=%s",
		      __get_str(provider), __get_str(client), __get_str(map),
		      __entry->distance, __get_str(reason))
);

/**
 * p2pdma_map_refused - a DMA mapping of P2P memory was refused
 * @provider: the device whose P2P memory was to be mapped
 * @dev: the device it was to be mapped for (not always a PCI device)
 */
TRACE_EVENT(p2pdma_map_refused,
	    TP_PROTO(struct pci_dev *provider, struct device *dev),
	    TP_ARGS(provider, dev),
	    TP_STRUCT__entry(__string(provider, pci_name(provider))
			     __string(dev, dev_name(dev))),
	    TP_fast_assign(__assign_str(provider);
			   __assign_str(dev);),
	    TP_printk("provider=%s dev=%s", __get_str(provider), __get_str(dev))
);

#endif /* _TRACE_P2PDMA_H */

/* Outside the guard: define_trace.h reads this file again. */
#include <trace/define_trace.h>
