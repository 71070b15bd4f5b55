/*
 * Send descriptors ("fragments"): what btl_alloc and btl_prepare_src hand
 * to the PML and btl_send takes back.  Each comes from the component's free
 * list with a buffer of max_send_size bytes; a contiguous payload is not
 * copied into it but referenced in place by a second segment, so the only
 * copies are user->ring and ring->user.
 */
#ifndef MCA_BTL_CMA_FRAG_H
#define MCA_BTL_CMA_FRAG_H

#include "btl_cma.h"

typedef struct mca_btl_cma_frag_t {
    mca_btl_base_descriptor_t base;
    mca_btl_base_segment_t segments[2];
    struct mca_btl_base_endpoint_t *endpoint;
    uint16_t tag; /* PML tag (< 256) or a component control tag */
    unsigned char *buffer; /* max_send_size bytes, owned by the free list */
} mca_btl_cma_frag_t;

OBJ_CLASS_DECLARATION(mca_btl_cma_frag_t);

static inline mca_btl_cma_frag_t *mca_btl_cma_frag_alloc(struct mca_btl_base_endpoint_t *ep)
{
    mca_btl_cma_frag_t *frag = (mca_btl_cma_frag_t *) opal_free_list_get(&mca_btl_cma_component.frags);
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
    opal_free_list_return(&mca_btl_cma_component.frags, &frag->base.super);
}

#endif /* MCA_BTL_CMA_FRAG_H */
