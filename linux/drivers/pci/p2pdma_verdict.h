/* SPDX-License-Identifier: GPL-2.0 */
/*
 * PCI P2PDMA verdicts (p2pdma_verdict.c): the routing policy applied to
 * real devices, with the refusal messages and each provider's cache of
 * verdicts.
 */
#ifndef _DRIVERS_PCI_P2PDMA_VERDICT_H
#define _DRIVERS_PCI_P2PDMA_VERDICT_H

#include <linux/seq_buf.h>
#include <linux/xarray.h>

#include "p2pdma_route.h"

/**
 * struct p2pdma_verdicts - a provider's cache of verdicts
 * @xa: map type and distance of each client, keyed by the client's domain
 *	and bus/devfn
 * @last: the verdict cached last, with its key, in one word (0 for none):
 *	a lookup for the same client skips @xa
 */
struct p2pdma_verdicts {
	struct xarray xa;
	unsigned long last;
};

void p2pdma_verdicts_init(struct p2pdma_verdicts *vc);
void p2pdma_verdicts_destroy(struct p2pdma_verdicts *vc);
enum pci_p2pdma_map_type p2pdma_verdicts_lookup(struct p2pdma_verdicts *vc,
						struct pci_dev *client,
						int *distance);
void p2pdma_verdicts_store(struct p2pdma_verdicts *vc, struct pci_dev *client,
			   const struct p2pdma_verdict *v, unsigned long epoch);
unsigned long p2pdma_verdicts_epoch(void);
void p2pdma_verdicts_bump(void);
void p2pdma_verdicts_forget(struct p2pdma_verdicts *vc,
			    struct pci_dev *client);
void p2pdma_judge(struct pci_dev *provider, struct pci_dev *client,
		  bool verbose, struct p2pdma_verdict *v);
void p2pdma_print_peer(struct seq_buf *sb, struct pci_dev *provider,
		       struct pci_dev *client, struct p2pdma_path paths[2]);
void p2pdma_print_why(struct seq_buf *sb, struct pci_dev *provider,
		      struct pci_dev *client, struct p2pdma_path paths[2]);

/* Room for the reason of one verdict (p2pdma_print_why()). */
#define P2PDMA_WHY_LEN		256

#endif /* _DRIVERS_PCI_P2PDMA_VERDICT_H */
