/*
 * The progress engine Open MPI calls from opal_progress: drain each receive
 * ring (at most a bounded batch per ring per call, so one busy peer cannot
 * starve the others), hand PML messages to the callback registered for
 * their tag and component control messages to their handlers, push queued
 * fragments, and every liveness_ms check that peers which have not been
 * through MPI_Finalize are still alive.  Also the oversubscription policy: after
 * yield_idle empty calls in a row, give the core away.
 */
#include "btl_cma.h"
#include "btl_cma_endpoint.h"

#include <sched.h>
#include <time.h>

#define MCA_BTL_CMA_POLL_BATCH 32
/* With many local peers most rings are idle at any moment: a ring empty for
 * COLD_AFTER polls in a row is then polled only every COLD_STRIDE-th call,
 * so the cost of progress follows the peers that talk, not the node size.
 * A message makes its ring hot again at once. */
#define MCA_BTL_CMA_HOT_PEERS_MIN 8
#define MCA_BTL_CMA_COLD_AFTER 256
#define MCA_BTL_CMA_COLD_STRIDE 8

static inline int poll_ring(mca_btl_cma_component_t *c, int i)
{
    shm_ring_consumer_t *rx = &c->rx[i];
    shm_ring_msg_t msg;
    int n = 0;

    /* One consumer per ring: under MPI_THREAD_MULTIPLE a second thread
     * skips a ring another thread is already draining. */
    if (OPAL_THREAD_TRYLOCK(&c->rx_lock[i])) {
        return 0;
    }
    while (n < MCA_BTL_CMA_POLL_BATCH) {
        int rc = shm_ring_peek(rx, &msg);
        if (OPAL_LIKELY(rc == 0)) {
            break;
        }
        if (OPAL_UNLIKELY(rc < 0)) {
            mca_btl_cma_endpoint_t *ep = c->peers[i];
            if (ep) {
                mca_btl_cma_peer_failed(ep, "its ring held a corrupted message header");
            } else {
                opal_output(0, "btl:cma: corrupted message from local rank %d ignored", i);
            }
            break;
        }
        if (OPAL_LIKELY(msg.tag < MCA_BTL_TAG_MAX)) {
            mca_btl_base_segment_t seg = {.seg_addr.pval = msg.data, .seg_len = msg.len};
            mca_btl_base_descriptor_t des = {.des_segments = &seg, .des_segment_count = 1};
            const mca_btl_active_message_callback_t *reg = mca_btl_base_active_message_trigger + msg.tag;
            if (OPAL_LIKELY(NULL != reg->cbfunc)) {
                reg->cbfunc(&mca_btl_cma.super, (mca_btl_base_tag_t) msg.tag, &des, reg->cbdata);
            }
        } else {
            mca_btl_cma_handle_ctrl(msg.tag, i, msg.data, msg.len);
        }
        shm_ring_release(rx, &msg);
        ++n;
    }
    if (n) {
        MCA_BTL_CMA_COUNT(ring_recvs, n);
    }
    OPAL_THREAD_UNLOCK(&c->rx_lock[i]);
    return n;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint64_t) ts.tv_sec * 1000000000ull + (uint64_t) ts.tv_nsec;
}

/* A peer that exits without going through MPI_Finalize was killed or
 * crashed: messages from it may be lost, so the job cannot continue
 * correctly.  A peer that finalized marked its own segment so (a peer that
 * finalized may well never have written to our ring). */
static void check_liveness(mca_btl_cma_component_t *c)
{
    for (int i = 0; i < c->nlocal; ++i) {
        mca_btl_cma_endpoint_t *ep = c->peers[i];
        if (!ep || ep->failed || shm_peer_alive(&ep->watch) != 0) {
            continue;
        }
        if (__atomic_load_n(&MCA_BTL_CMA_SEGMENT_HEADER(ep->segment.base)->finalized, __ATOMIC_ACQUIRE)) {
            ep->failed = true; /* orderly exit: nothing more will come */
            continue;
        }
        mca_btl_cma_peer_failed(ep, "the process exited or was killed without finalizing");
    }
}

int mca_btl_cma_component_progress(void)
{
    mca_btl_cma_component_t *c = &mca_btl_cma_component;
    int count = 0;

    if (OPAL_UNLIKELY(NULL == c->rx)) {
        return 0;
    }
    if (c->nlocal <= MCA_BTL_CMA_HOT_PEERS_MIN) {
        for (int i = 0; i < c->nlocal; ++i) {
            if (i != c->local_rank) {
                count += poll_ring(c, i);
            }
        }
    } else {
        bool sweep = (++c->poll_round % MCA_BTL_CMA_COLD_STRIDE) == 0;
        for (int i = 0; i < c->nlocal; ++i) {
            if (i == c->local_rank || (!sweep && c->rx_idle[i] >= MCA_BTL_CMA_COLD_AFTER)) {
                continue;
            }
            int n = poll_ring(c, i);
            c->rx_idle[i] = n ? 0 : (c->rx_idle[i] < MCA_BTL_CMA_COLD_AFTER ? c->rx_idle[i] + 1 : c->rx_idle[i]);
            count += n;
        }
    }
    if (OPAL_UNLIKELY(c->pending_sends > 0)) {
        for (int i = 0; i < c->nlocal; ++i) {
            mca_btl_cma_endpoint_t *ep = c->peers[i];
            if (ep && !ep->failed) {
                count += mca_btl_cma_progress_pending(ep);
                count += mca_btl_cma_emu_progress(ep);
            }
        }
    }
    if (OPAL_UNLIKELY(c->sc_denied_errno)) {
        mca_btl_cma_warn_single_copy_denied();
    }
    if (OPAL_LIKELY(count)) {
        c->idle_polls = 0;
        return count;
    }
    if ((++c->idle_polls & 1023) == 0 && c->liveness_ms) {
        uint64_t t = now_ns();
        if (t >= c->next_liveness_ns) {
            c->next_liveness_ns = t + (uint64_t) c->liveness_ms * 1000000ull;
            check_liveness(c);
        }
    }
    if (c->yield_idle > 0 && c->idle_polls % (unsigned) c->yield_idle == 0) {
        sched_yield();
    }
    return 0;
}
