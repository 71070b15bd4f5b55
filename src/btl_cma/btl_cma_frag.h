/*
 * Send descriptors ("fragments"): what btl_alloc and btl_prepare_src hand
 * to the PML and btl_send takes back.  Each comes from one of the
 * component's free lists, by the bytes it must hold: MCA_BTL_CMA_FRAG_SMALL
 * for protocol headers and short messages, the eager limit, and the
 * largest fragment.  A descriptor per message is what a stream of short
 * sends costs while the ring is full, and one buffer size for all (32 KiB
 * for a 40-byte ob1 FIN) took 1.5 GB per rank in a helper's run where
 * vader took 98 MB.  A contiguous payload is not copied into the buffer but
 * referenced in place by a second segment, so the only copies are
 * user->ring and ring->user.
 */
#ifndef MCA_BTL_CMA_FRAG_H
#define MCA_BTL_CMA_FRAG_H

#include "btl_cma.h"

typedef struct mca_btl_cma_frag_t {
    mca_btl_base_descriptor_t base;
    mca_btl_base_segment_t segments[2];
    struct mca_btl_base_endpoint_t *endpoint;
    uint16_t tag; /* PML tag (< 256) or a component control tag */
    unsigned char *buffer; /* owned by the free list */
    opal_free_list_t *list; /* where it goes back */
} mca_btl_cma_frag_t;

OBJ_CLASS_DECLARATION(mca_btl_cma_frag_t);

/* A descriptor whose buffer holds at least bytes (at most
 * mca_btl_cma_frag_max_bytes()), or NULL when the lists are exhausted. */
static inline mca_btl_cma_frag_t *mca_btl_cma_frag_alloc(struct mca_btl_base_endpoint_t *ep, size_t bytes)
{
    const mca_btl_cma_component_t *c = &mca_btl_cma_component;
    int k = 0;
    while (k < MCA_BTL_CMA_FRAG_CLASSES - 1 && bytes > c->frag_bytes[k]) {
        ++k;
    }
    mca_btl_cma_frag_t *frag = (mca_btl_cma_frag_t *) opal_free_list_get(&mca_btl_cma_component.frags[k]);
    /* A list at btl_cma_free_list_max: a larger buffer does as well. */
    while (OPAL_UNLIKELY(NULL == frag) && ++k < MCA_BTL_CMA_FRAG_CLASSES) {
        frag = (mca_btl_cma_frag_t *) opal_free_list_get(&mca_btl_cma_component.frags[k]);
    }
    if (OPAL_LIKELY(frag)) {
        frag->endpoint = ep;
        frag->base.des_segments = frag->segments;
        frag->base.des_segment_count = 1;
        frag->base.des_cbfunc = NULL;
        frag->segments[0].seg_addr.pval = frag->buffer;
        frag->segments[0].seg_len = 0;
        frag->segments[1].seg_len = 0;
    }
    return frag;
}

static inline void mca_btl_cma_frag_return(mca_btl_cma_frag_t *frag)
{
    opal_free_list_return(frag->list, &frag->base.super);
}

/* The largest buffer a descriptor can have. */
static inline size_t mca_btl_cma_frag_max_bytes(void)
{
    return mca_btl_cma_component.frag_bytes[MCA_BTL_CMA_FRAG_CLASSES - 1];
}

#endif /* MCA_BTL_CMA_FRAG_H */
