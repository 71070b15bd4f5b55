/*
 * One endpoint per peer process on this node: the peer's receive segment
 * mapped here, the producer side of the channel (two rings) this process
 * writes in it,
 * fragments waiting for ring space, what single copy is allowed with this
 * peer, and the pidfd that tells whether the peer still lives.  The hot
 * path (lock, try to write one message) is inline here.
 */
#ifndef MCA_BTL_CMA_ENDPOINT_H
#define MCA_BTL_CMA_ENDPOINT_H

#include "btl_cma.h"

#include "opal/util/proc.h"

typedef struct mca_btl_base_endpoint_t {
    opal_list_item_t super;
    struct opal_proc_t *proc;
    int local_rank;
    pid_t pid;
    shm_segment_t segment;   /* the peer's receive segment */
    mca_btl_cma_channel_tx_t tx; /* my rings inside it */
    opal_mutex_t tx_lock;    /* serialises tx, pending and emu_serving */
    opal_list_t pending;     /* frags waiting for ring space, in order */
    opal_list_t emu_serving; /* emulated gets this process is answering */
    shm_peer_t watch;
    uint64_t probe_addr, probe_value;
    bool can_read_peer;      /* process_vm_readv/writev on the peer works */
    bool peer_can_read_me;   /* the peer told us nothing to the contrary */
    bool failed;
    int peer_class;          /* mca_btl_cma_peer_class_t */
} mca_btl_base_endpoint_t;

typedef mca_btl_base_endpoint_t mca_btl_cma_endpoint_t;
OBJ_CLASS_DECLARATION(mca_btl_cma_endpoint_t);

/* After a commit to ring r: the peer may have stopped polling it (only
 * done with more than MCA_BTL_CMA_HOT_PEERS_MIN local ranks, so small jobs
 * pay not even the load). */
static inline void mca_btl_cma_ring_notify(mca_btl_cma_endpoint_t *ep, const shm_ring_producer_t *r)
{
    if (OPAL_UNLIKELY(mca_btl_cma_component.sleep_rings) && shm_ring_producer_notify_wanted(r)) {
        mca_btl_cma_ring_doorbell(ep);
    }
}

/* Publish the message reserved with mca_btl_cma_channel_reserve. */
static inline void mca_btl_cma_ring_commit(mca_btl_cma_endpoint_t *ep, size_t len)
{
    const shm_ring_producer_t *r = mca_btl_cma_channel_commit(&ep->tx);
    mca_btl_cma_ring_notify(ep, r);
    MCA_BTL_CMA_COUNT(ring_sends, 1);
    MCA_BTL_CMA_COUNT(ring_bytes, len);
    if (r == &ep->tx.small) {
        MCA_BTL_CMA_COUNT(small_ring_sends, 1);
    }
}

/* Copy a two-part message into the peer's channel.  Caller holds tx_lock.
 * Returns OPAL_SUCCESS or OPAL_ERR_OUT_OF_RESOURCE when the ring is full. */
static inline int mca_btl_cma_ring_write(mca_btl_cma_endpoint_t *ep, uint16_t tag, const void *a, size_t alen,
                                         const void *b, size_t blen)
{
    void *dst;
    size_t len = alen + blen;
    int rc = len > UINT32_MAX ? -EMSGSIZE : mca_btl_cma_channel_reserve(&ep->tx, (uint32_t) len, tag, &dst);
    if (OPAL_LIKELY(0 == rc)) {
        shm_ring_copy(dst, a, alen);
        shm_ring_copy((char *) dst + alen, b, blen);
        mca_btl_cma_ring_commit(ep, len);
        return OPAL_SUCCESS;
    }
    if (-EAGAIN == rc) {
        /* Not counted in ring_full here: a queued message is retried on
         * every progress call, and the counter counts messages that waited. */
        return OPAL_ERR_OUT_OF_RESOURCE;
    }
    return OPAL_ERR_BAD_PARAM; /* -EMSGSIZE: larger than the ring allows */
}

#endif /* MCA_BTL_CMA_ENDPOINT_H */
