/*
 * Everything that writes into a peer's ring: btl_sendi (header and payload
 * packed straight into the ring, no descriptor), btl_alloc/btl_prepare_src
 * (descriptors from the free list; contiguous payloads referenced in place),
 * btl_send, and the per-endpoint queue of descriptors that found the ring
 * full.  Ordering invariant: once a fragment is queued on an endpoint, every
 * later send to that endpoint queues behind it, so per-pair FIFO order
 * (which MPI matching relies on) survives back-pressure.
 */
#include "btl_cma.h"
#include "btl_cma_endpoint.h"
#include "btl_cma_frag.h"

#include "opal/datatype/opal_convertor.h"

mca_btl_base_descriptor_t *mca_btl_cma_alloc(struct mca_btl_base_module_t *btl, struct mca_btl_base_endpoint_t *ep,
                                             uint8_t order, size_t size, uint32_t flags)
{
    (void) btl;
    if (size > mca_btl_cma_frag_max_bytes()) {
        return NULL;
    }
    mca_btl_cma_frag_t *frag = mca_btl_cma_frag_alloc(ep, size);
    if (OPAL_UNLIKELY(NULL == frag)) {
        return NULL;
    }
    frag->segments[0].seg_len = size;
    frag->base.des_flags = flags;
    frag->base.order = order;
    return &frag->base;
}

int mca_btl_cma_free(struct mca_btl_base_module_t *btl, mca_btl_base_descriptor_t *des)
{
    (void) btl;
    mca_btl_cma_frag_return((mca_btl_cma_frag_t *) des);
    return OPAL_SUCCESS;
}

mca_btl_base_descriptor_t *mca_btl_cma_prepare_src(struct mca_btl_base_module_t *btl,
                                                   struct mca_btl_base_endpoint_t *ep,
                                                   struct opal_convertor_t *conv, uint8_t order, size_t reserve,
                                                   size_t *size, uint32_t flags)
{
    (void) btl;
    size_t cap = mca_btl_cma_frag_max_bytes();
    if (reserve > cap) {
        return NULL;
    }
    if (reserve + *size > cap) {
        *size = cap - reserve;
    }
    bool pack = opal_convertor_need_buffers(conv);
    /* A contiguous payload stays where it is: the buffer holds the header. */
    mca_btl_cma_frag_t *frag = mca_btl_cma_frag_alloc(ep, pack ? reserve + *size : reserve);
    if (OPAL_UNLIKELY(NULL == frag)) {
        return NULL;
    }
    struct iovec iov;
    uint32_t iov_count = 1;
    if (pack) {
        iov.iov_base = frag->buffer + reserve;
        iov.iov_len = *size;
        if (opal_convertor_pack(conv, &iov, &iov_count, size) < 0) {
            mca_btl_cma_frag_return(frag);
            return NULL;
        }
        frag->segments[0].seg_len = reserve + *size;
    } else {
        /* Contiguous: a NULL iov_base asks the convertor for a pointer into
         * the user buffer (and advances it) instead of copying; btl_send
         * copies straight from there into the ring.  A piece that is not
         * the message's last (rendezvous and pipeline fragments: the PML
         * sends the rest from where this one ends) is cut where the next
         * one's data lines up with the ring. */
        if (conv->bConverted + *size < conv->local_size) {
            void *cur;
            opal_convertor_get_current_pointer(conv, &cur);
            size_t cut = mca_btl_cma_channel_coaligned_len(cur, *size, reserve);
            if (cut != *size) {
                MCA_BTL_CMA_COUNT(coaligned_cuts, 1);
                *size = cut;
            }
        }
        iov.iov_base = NULL;
        iov.iov_len = *size;
        if (opal_convertor_pack(conv, &iov, &iov_count, size) < 0) {
            mca_btl_cma_frag_return(frag);
            return NULL;
        }
        frag->segments[0].seg_len = reserve;
        if (*size) {
            frag->segments[1].seg_addr.pval = iov.iov_base;
            frag->segments[1].seg_len = *size;
            frag->base.des_segment_count = 2;
        }
    }
    frag->base.des_flags = flags;
    frag->base.order = order;
    return &frag->base;
}

/* Local completion of a fragment that left for the ring. */
static void frag_complete(mca_btl_cma_frag_t *frag, bool always_callback)
{
    uint32_t flags = frag->base.des_flags;
    if (always_callback && frag->base.des_cbfunc) {
        frag->base.des_cbfunc(&mca_btl_cma.super, frag->endpoint, &frag->base, OPAL_SUCCESS);
    }
    if (flags & MCA_BTL_DES_FLAGS_BTL_OWNERSHIP) {
        mca_btl_cma_frag_return(frag);
    }
}

static inline int frag_write(mca_btl_cma_endpoint_t *ep, mca_btl_cma_frag_t *frag)
{
    const mca_btl_base_segment_t *s = frag->segments;
    return mca_btl_cma_ring_write(ep, frag->tag, s[0].seg_addr.pval, s[0].seg_len, s[1].seg_addr.pval,
                                  frag->base.des_segment_count > 1 ? s[1].seg_len : 0);
}

int mca_btl_cma_send(struct mca_btl_base_module_t *btl, struct mca_btl_base_endpoint_t *ep,
                     mca_btl_base_descriptor_t *des, mca_btl_base_tag_t tag)
{
    mca_btl_cma_frag_t *frag = (mca_btl_cma_frag_t *) des;
    (void) btl;
    if (OPAL_UNLIKELY(ep->failed)) {
        return OPAL_ERR_UNREACH;
    }
    frag->tag = tag;
    frag->endpoint = ep;
    MCA_BTL_CMA_COUNT(pipeline_frags, 1);
    MCA_BTL_CMA_COUNT(pipeline_bytes, des->des_segments[0].seg_len +
                                          (des->des_segment_count > 1 ? des->des_segments[1].seg_len : 0));

    OPAL_THREAD_LOCK(&ep->tx_lock);
    int rc = opal_list_is_empty(&ep->pending) ? frag_write(ep, frag) : OPAL_ERR_OUT_OF_RESOURCE;
    if (OPAL_ERR_OUT_OF_RESOURCE == rc) {
        /* Accepted but not sent: completion (callback) comes from progress. */
        MCA_BTL_CMA_COUNT(ring_full, 1);
        opal_list_append(&ep->pending, &frag->base.super.super);
        OPAL_THREAD_ADD_FETCH32(&mca_btl_cma_component.pending_sends, 1);
        OPAL_THREAD_UNLOCK(&ep->tx_lock);
        return OPAL_SUCCESS;
    }
    OPAL_THREAD_UNLOCK(&ep->tx_lock);
    if (OPAL_UNLIKELY(OPAL_SUCCESS != rc)) {
        return OPAL_ERROR;
    }
    frag_complete(frag, des->des_flags & MCA_BTL_DES_SEND_ALWAYS_CALLBACK);
    return 1; /* completed inline */
}

int mca_btl_cma_sendi(struct mca_btl_base_module_t *btl, struct mca_btl_base_endpoint_t *ep,
                      struct opal_convertor_t *conv, void *header, size_t header_size, size_t payload_size,
                      uint8_t order, uint32_t flags, mca_btl_base_tag_t tag, mca_btl_base_descriptor_t **descriptor)
{
    size_t total = header_size + payload_size;
    void *dst;
    if (descriptor) {
        *descriptor = NULL;
    }
    if (OPAL_UNLIKELY(ep->failed)) {
        return OPAL_ERR_UNREACH;
    }
    if (OPAL_UNLIKELY(total > ep->tx.max_msg)) {
        return OPAL_ERR_OUT_OF_RESOURCE;
    }

    OPAL_THREAD_LOCK(&ep->tx_lock);
    if (OPAL_UNLIKELY(!opal_list_is_empty(&ep->pending)) ||
        OPAL_UNLIKELY(0 != mca_btl_cma_channel_reserve(&ep->tx, (uint32_t) total, tag, &dst))) {
        OPAL_THREAD_UNLOCK(&ep->tx_lock);
        /* Hand back a descriptor, as btl.h asks: ob1 packs the message into
         * it and btl_send queues it behind the ones already waiting.
         * Without one, ob1 set the send aside on a list of its own, and
         * later sends that found room in the ring overtook it: 80000
         * Isends of 8 bytes into a slow receiver arrived out of order,
         * matched the wrong receives once ob1's 16-bit sequence numbers
         * wrapped, and then hung (a helper's sweep; vader was right). */
        if (descriptor) {
            *descriptor = mca_btl_cma_alloc(btl, ep, order, total, flags);
        }
        if (!descriptor || !*descriptor) {
            /* ob1 keeps this one; with a descriptor btl_send counts it if
             * it still has to wait. */
            MCA_BTL_CMA_COUNT(ring_full, 1);
        }
        return OPAL_ERR_RESOURCE_BUSY;
    }
    shm_ring_copy(dst, header, header_size);
    if (payload_size) {
        if (!opal_convertor_need_buffers(conv)) {
            void *src;
            opal_convertor_get_current_pointer(conv, &src);
            shm_ring_copy((char *) dst + header_size, src, payload_size);
        } else {
            struct iovec iov = {.iov_base = (char *) dst + header_size, .iov_len = payload_size};
            uint32_t iov_count = 1;
            size_t packed = payload_size;
            (void) opal_convertor_pack(conv, &iov, &iov_count, &packed);
        }
    }
    mca_btl_cma_ring_commit(ep, total);
    OPAL_THREAD_UNLOCK(&ep->tx_lock);
    return OPAL_SUCCESS;
}

int mca_btl_cma_send_ctrl(mca_btl_cma_endpoint_t *ep, uint16_t tag, const void *hdr, size_t hdrlen,
                          const void *data, size_t datalen)
{
    OPAL_THREAD_LOCK(&ep->tx_lock);
    int rc = opal_list_is_empty(&ep->pending) ? mca_btl_cma_ring_write(ep, tag, hdr, hdrlen, data, datalen)
                                              : OPAL_ERR_OUT_OF_RESOURCE;
    if (OPAL_ERR_OUT_OF_RESOURCE == rc && hdrlen + datalen <= mca_btl_cma_frag_max_bytes()) {
        mca_btl_cma_frag_t *frag = mca_btl_cma_frag_alloc(ep, hdrlen + datalen);
        if (frag) {
            memcpy(frag->buffer, hdr, hdrlen);
            if (datalen) {
                memcpy(frag->buffer + hdrlen, data, datalen);
            }
            frag->segments[0].seg_len = hdrlen + datalen;
            frag->base.des_flags = MCA_BTL_DES_FLAGS_BTL_OWNERSHIP;
            frag->tag = tag;
            MCA_BTL_CMA_COUNT(ring_full, 1);
            opal_list_append(&ep->pending, &frag->base.super.super);
            OPAL_THREAD_ADD_FETCH32(&mca_btl_cma_component.pending_sends, 1);
            rc = OPAL_SUCCESS;
        }
    }
    OPAL_THREAD_UNLOCK(&ep->tx_lock);
    return rc;
}

/* Move queued fragments into the ring while it has room; completions run
 * after the lock is dropped because they re-enter the PML. */
int mca_btl_cma_progress_pending(mca_btl_cma_endpoint_t *ep)
{
    opal_list_t done;
    int count = 0;
    OBJ_CONSTRUCT(&done, opal_list_t);
    OPAL_THREAD_LOCK(&ep->tx_lock);
    while (!opal_list_is_empty(&ep->pending)) {
        mca_btl_cma_frag_t *frag = (mca_btl_cma_frag_t *) opal_list_get_first(&ep->pending);
        if (OPAL_SUCCESS != frag_write(ep, frag)) {
            break;
        }
        opal_list_remove_first(&ep->pending);
        opal_list_append(&done, &frag->base.super.super);
        OPAL_THREAD_ADD_FETCH32(&mca_btl_cma_component.pending_sends, -1);
        ++count;
    }
    OPAL_THREAD_UNLOCK(&ep->tx_lock);
    opal_list_item_t *item;
    while (NULL != (item = opal_list_remove_first(&done))) {
        /* The PML got OPAL_SUCCESS (not 1) for these: it awaits a callback. */
        frag_complete((mca_btl_cma_frag_t *) item, true);
    }
    OBJ_DESTRUCT(&done);
    return count;
}
