/*
 * The progress engine Open MPI calls from opal_progress: drain each peer's
 * channel, its two receive rings taken in the producer's order
 * (btl_cma_channel.h), at most a bounded batch per peer per call (so one
 * busy peer cannot starve the others), hand PML messages to the callback
 * registered for their tag and component control messages to their
 * handlers, push queued fragments, and every liveness_ms check that peers
 * which have not been through MPI_Finalize are still alive.  With many
 * local peers, only the rings with traffic are polled; the others sleep
 * until their producer rings a doorbell.  Also the oversubscription
 * policy: after yield_idle empty calls in a row, give the core away.
 */
#include "btl_cma.h"
#include "btl_cma_endpoint.h"

#include "opal/runtime/opal_progress.h"

#include <sched.h>
#include <time.h>

#define MCA_BTL_CMA_POLL_BATCH 32
/* With many local peers most rings are idle at any moment, and polling
 * each of them on every call made progress cost grow with the node (at 64
 * ranks small-message latency was 0.45-0.78x vader's).  So a ring found
 * empty SLEEP_AFTER times in a row goes to sleep: it leaves the list
 * polled on every call and asks its producer for a notification, which
 * the producer gives by setting its bit in the doorbell words of our
 * segment header; progress reads those words (one cache line up to 512
 * ranks) on every call.  A doorbell lost in the race between a commit and
 * the ring falling asleep (see shm_ring_consumer_sleep) is found by a sweep
 * of the sleeping rings every SWEEP_EVERY calls. */
#define MCA_BTL_CMA_SWEEP_EVERY 1024

static inline int poll_ring(mca_btl_cma_component_t *c, int i)
{
    mca_btl_cma_channel_rx_t *rx = &c->rx[i];
    shm_ring_consumer_t *from;
    shm_ring_msg_t msg;
    int n = 0;

    /* One consumer per ring: under MPI_THREAD_MULTIPLE a second thread
     * skips a ring another thread is already draining. */
    if (OPAL_THREAD_TRYLOCK(&c->rx_lock[i])) {
        return 0;
    }
    int rc = mca_btl_cma_channel_peek(rx, &msg, &from);
    if (OPAL_LIKELY(rc == 0)) {
        OPAL_THREAD_UNLOCK(&c->rx_lock[i]);
        return 0;
    }
    /* The descriptor handed to the PML is not zeroed as a whole: that was a
     * rep stos of 104 bytes per message, 13 of the about 100 instructions
     * this loop spent on each one (callgrind, 1-byte messages).  Its list
     * item header is never read by a receive callback; every other field
     * is set, the segment ones again for each message. */
    mca_btl_base_segment_t seg;
    mca_btl_base_descriptor_t des;
    des.des_cbfunc = NULL;
    des.des_cbdata = NULL;
    des.des_context = NULL;
    des.des_flags = 0;
    des.order = 0;
    for (;;) {
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
            const mca_btl_active_message_callback_t *reg = mca_btl_base_active_message_trigger + msg.tag;
            seg.seg_addr.pval = msg.data;
            seg.seg_len = msg.len;
            des.des_segments = &seg;
            des.des_segment_count = 1;
            if (OPAL_LIKELY(NULL != reg->cbfunc)) {
                reg->cbfunc(&mca_btl_cma.super, (mca_btl_base_tag_t) msg.tag, &des, reg->cbdata);
            }
        } else {
            mca_btl_cma_handle_ctrl(msg.tag, i, msg.data, msg.len);
        }
        mca_btl_cma_channel_release(rx, from, &msg);
        if (++n == MCA_BTL_CMA_POLL_BATCH) {
            break;
        }
        rc = mca_btl_cma_channel_peek(rx, &msg, &from);
        if (OPAL_LIKELY(rc == 0)) {
            break;
        }
    }
    MCA_BTL_CMA_COUNT(ring_recvs, n);
    OPAL_THREAD_UNLOCK(&c->rx_lock[i]);
    return n;
}

static inline void wake_ring(mca_btl_cma_component_t *c, int i)
{
    mca_btl_cma_channel_wake(&c->rx[i]);
    c->asleep[i] = false;
    c->rx_idle[i] = 0;
    c->awake[c->nawake++] = i;
}

/* The doorbell words, the sleeping rings now and then, and the awake rings.
 * One thread at a time: the lists are private state of the poller. */
static int progress_awake_rings(mca_btl_cma_component_t *c)
{
    mca_btl_cma_segment_header_t *hdr = MCA_BTL_CMA_SEGMENT_HEADER(c->segment.base);
    int count = 0, nwords = (c->nlocal + 63) / 64;
    if (OPAL_THREAD_TRYLOCK(&c->poll_lock)) {
        return 0;
    }
    for (int w = 0; w < nwords; ++w) {
        /* Plain load first: the line stays shared with the producers until
         * one of them actually rings. */
        if (OPAL_LIKELY(0 == __atomic_load_n(&hdr->doorbell[w], __ATOMIC_RELAXED))) {
            continue;
        }
        uint64_t bits = __atomic_exchange_n(&hdr->doorbell[w], 0, __ATOMIC_ACQUIRE);
        while (bits) {
            int i = w * 64 + __builtin_ctzll(bits);
            bits &= bits - 1;
            if (i < c->nlocal && c->asleep[i]) {
                wake_ring(c, i);
                MCA_BTL_CMA_COUNT(doorbell_wakeups, 1);
            }
        }
    }
    if (OPAL_UNLIKELY(++c->poll_round % MCA_BTL_CMA_SWEEP_EVERY == 0)) {
        for (int i = 0; i < c->nlocal; ++i) {
            if (c->asleep[i] && poll_ring(c, i) > 0) {
                ++count;
                wake_ring(c, i);
                MCA_BTL_CMA_COUNT(sweep_wakeups, 1);
            }
        }
    }
    for (int k = 0; k < c->nawake;) {
        int i = c->awake[k];
        int n = poll_ring(c, i);
        count += n;
        if (n || ++c->rx_idle[i] < MCA_BTL_CMA_SLEEP_AFTER) {
            c->rx_idle[i] = n ? 0 : c->rx_idle[i];
            ++k;
            continue;
        }
        if (mca_btl_cma_channel_sleep(&c->rx[i])) {
            /* A message slipped in before the request was visible. */
            mca_btl_cma_channel_wake(&c->rx[i]);
            c->rx_idle[i] = 0;
            ++k;
            continue;
        }
        c->asleep[i] = true;
        c->awake[k] = c->awake[--c->nawake];
    }
    OPAL_THREAD_UNLOCK(&c->poll_lock);
    return count;
}

void mca_btl_cma_ring_doorbell(mca_btl_cma_endpoint_t *ep)
{
    mca_btl_cma_segment_header_t *hdr = MCA_BTL_CMA_SEGMENT_HEADER(ep->segment.base);
    int me = mca_btl_cma_component.local_rank;
    /* Release: harmless either way (the consumer's acquire load of the
     * message's seq is what makes the message visible), but a doorbell
     * seen before its message would only cost the consumer a wasted poll. */
    __atomic_fetch_or(&hdr->doorbell[me / 64], 1ull << (me % 64), __ATOMIC_RELEASE);
    MCA_BTL_CMA_COUNT(doorbells_rung, 1);
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint64_t) ts.tv_sec * 1000000000ull + (uint64_t) ts.tv_nsec;
}

/* A peer that exits without going through MPI_Finalize was killed or
 * crashed (unless orte_allowed_exit_without_sync says such exits are
 * intended): messages from it may be lost, so the job cannot continue
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
        if (c->exit_allowed) {
            /* The user allowed it (mpirun reports a crash itself); what the
             * peer wrote before exiting stays in our ring and is delivered. */
            ep->failed = true;
            MCA_BTL_CMA_VERBOSE(1, "local rank %d exited without MPI_Finalize, as orte_allowed_exit_without_sync "
                                   "allows: marked unreachable",
                                i);
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
    if (!c->sleep_rings) {
        for (int i = 0; i < c->nlocal; ++i) {
            if (i != c->local_rank) {
                count += poll_ring(c, i);
            }
        }
    } else {
        count += progress_awake_rings(c);
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
    /* Under the automatic policy, not when Open MPI already yields on every
     * idle progress call (mpi_yield_when_idle, which mpirun sets when it
     * knows the node is oversubscribed): a second yield only added system
     * calls (bench/scale). */
    if (c->yield_idle > 0 && c->idle_polls % (unsigned) c->yield_idle == 0 &&
        !(c->yield_auto && opal_progress_yield_when_idle)) {
        sched_yield();
    }
    return 0;
}
