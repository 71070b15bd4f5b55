/*
 * Huge-page awareness of single copy: how much of a send buffer sits on
 * huge pages, remembered per buffer so a buffer sent again costs a table
 * lookup, and the optional policy that advises or collapses buffers which
 * are sent repeatedly.  process_vm_readv pins every source page, so a
 * buffer on 2 MiB pages is read several times faster than one on 4 KiB
 * pages; btl_cma_get.c asks here before it offers single copy.
 */
#ifndef MCA_BTL_CMA_HUGEPAGE_H
#define MCA_BTL_CMA_HUGEPAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum mca_btl_cma_hugepage_policy {
    MCA_BTL_CMA_HP_NONE = 0,     /* only look at the pages as they are */
    MCA_BTL_CMA_HP_ADVISE = 1,   /* madvise(MADV_HUGEPAGE): khugepaged collapses later */
    MCA_BTL_CMA_HP_COLLAPSE = 2, /* madvise(MADV_COLLAPSE): collapse now, synchronously */
};

/* Whether the kernel can say which pages are huge (PAGEMAP_SCAN, Linux
 * 6.7+); false also after the first failed query.  Sets *why otherwise. */
bool mca_btl_cma_hugepage_supported(const char **why);

/* Bytes of [base, base+len) backed by huge pages (transparent or hugetlb),
 * asked of the kernel now; -1 when it cannot tell. */
int64_t mca_btl_cma_huge_bytes(const void *base, size_t len);

/* The decision for a send buffer of at least single_copy_min_huge bytes:
 * true when enough of it is on huge pages for single copy to win.  Applies
 * the advise/collapse policy to buffers registered repeatedly. */
bool mca_btl_cma_send_buffer_on_huge_pages(const void *base, size_t len);

void mca_btl_cma_hugepage_init(void);
void mca_btl_cma_hugepage_fini(void);

#endif
