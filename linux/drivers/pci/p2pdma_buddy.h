/* SPDX-License-Identifier: GPL-2.0 */
/*
 * PCI P2PDMA buddy allocator (p2pdma_buddy.c): free blocks of page numbers
 * in hierarchical bitmaps.  The core numbers pages by bus page frame
 * number.
 */
#ifndef _DRIVERS_PCI_P2PDMA_BUDDY_H
#define _DRIVERS_PCI_P2PDMA_BUDDY_H

#include <linux/types.h>

/* Depth of a hierarchical bitmap: 64^8 = 2^48 leaf bits at most. */
#define P2PDMA_HBM_LEVELS	8

/**
 * struct p2pdma_hbm - hierarchical bitmap holding the free blocks of one order
 * @lvl: the levels, from the leaf bitmap (entry 0 of @lvl) up to the
 *	single-word top level (entry @top); bit i of a summary level is set
 *	when word i of the level below it is not zero
 * @nbits: number of leaf bits
 * @first: block number (at this order) of leaf bit 0
 * @top: index of the top level, which is a single word
 */
struct p2pdma_hbm {
	unsigned long *lvl[P2PDMA_HBM_LEVELS];
	unsigned long nbits;
	unsigned long first;
	unsigned int top;
};

/**
 * struct p2pdma_buddy - buddy allocator over a range of page numbers
 * @origin: first page number of the range
 * @npages: number of pages in the range
 * @nfree: number of free pages
 * @max_order: largest block order that fits in the range
 * @nonempty: bit n is set when some block of order n is free
 * @freemap: one bit per page, set while the page is free here (bit 0 for
 *	@origin); p2pdma_buddy_alloc_fit() looks for runs of free pages in it
 * @store: backing memory of every bitmap
 * @order: free blocks, one hierarchical bitmap per order
 *
 * Page numbers are absolute (the glue uses bus page frame numbers), and a
 * block of order n starts at a page number that is a multiple of 2^n, so
 * power-of-two allocations are naturally aligned in the bus address space.
 * Not locked: the caller serialises every call on one allocator.
 */
struct p2pdma_buddy {
	unsigned long origin;
	unsigned long npages;
	unsigned long nfree;
	unsigned int max_order;
	unsigned long nonempty;
	unsigned long *freemap;
	unsigned long *store;
	struct p2pdma_hbm order[];
};

struct p2pdma_buddy *p2pdma_buddy_create(unsigned long origin,
					 unsigned long npages, int nid);
void p2pdma_buddy_destroy(struct p2pdma_buddy *b);
bool p2pdma_buddy_alloc(struct p2pdma_buddy *b, unsigned long npages,
			unsigned long *first);
bool p2pdma_buddy_alloc_fit(struct p2pdma_buddy *b, unsigned long npages,
			    unsigned long *first);
unsigned long p2pdma_buddy_alloc_upto(struct p2pdma_buddy *b,
				      unsigned long max_pages,
				      unsigned long *first);
void p2pdma_buddy_free(struct p2pdma_buddy *b, unsigned long first,
		       unsigned long npages);
unsigned long p2pdma_find_run(const unsigned long *map, unsigned long nbits,
			      unsigned long n);

#endif /* _DRIVERS_PCI_P2PDMA_BUDDY_H */
