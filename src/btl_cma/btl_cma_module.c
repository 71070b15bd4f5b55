/*
 * The cma module: its function table and the life of endpoints.  add_procs
 * claims exactly the peers that Open MPI says share this node, belong to
 * this job and published a cma modex entry, attaches each one's receive
 * segment, takes the producer side of our ring in it, and probes once
 * whether process_vm_readv on that peer is permitted.  del_procs and finalize undo
 * it all, so nothing stays mapped or open after MPI_Finalize.
 */
#include "btl_cma.h"
#include "btl_cma_endpoint.h"
#include "btl_cma_frag.h"
#include "btl_cma_topo.h"

#include "opal/class/opal_bitmap.h"
#include "opal/mca/btl/base/base.h"
#include "opal/mca/hwloc/hwloc-internal.h"
#include "opal/mca/pmix/pmix.h"
#include "opal/util/proc.h"

#include <sys/uio.h>
#include <unistd.h>

static int cma_register_error(struct mca_btl_base_module_t *btl, mca_btl_base_module_error_cb_fn_t cbfunc);
static int cma_ft_event(int state);

mca_btl_cma_module_t mca_btl_cma = {
    .super = {
        .btl_component = &mca_btl_cma_component.super,
        .btl_add_procs = mca_btl_cma_add_procs,
        .btl_del_procs = mca_btl_cma_del_procs,
        .btl_finalize = mca_btl_cma_finalize,
        .btl_alloc = mca_btl_cma_alloc,
        .btl_free = mca_btl_cma_free,
        .btl_prepare_src = mca_btl_cma_prepare_src,
        .btl_send = mca_btl_cma_send,
        .btl_sendi = mca_btl_cma_sendi,
        .btl_get = mca_btl_cma_get,
        .btl_put = mca_btl_cma_put,
        .btl_atomic_op = mca_btl_cma_atomic_op,
        .btl_atomic_fop = mca_btl_cma_atomic_fop,
        .btl_atomic_cswap = mca_btl_cma_atomic_cswap,
        .btl_register_mem = mca_btl_cma_register_mem,
        .btl_deregister_mem = mca_btl_cma_deregister_mem,
        .btl_register_error = cma_register_error,
        .btl_ft_event = cma_ft_event,
    },
};

static void frag_construct(mca_btl_cma_frag_t *frag)
{
    frag->base.des_segments = frag->segments;
    frag->base.des_segment_count = 1;
    frag->buffer = NULL;
}
OBJ_CLASS_INSTANCE(mca_btl_cma_frag_t, mca_btl_base_descriptor_t, frag_construct, NULL);

static void endpoint_construct(mca_btl_cma_endpoint_t *ep)
{
    OBJ_CONSTRUCT(&ep->tx_lock, opal_mutex_t);
    OBJ_CONSTRUCT(&ep->pending, opal_list_t);
    OBJ_CONSTRUCT(&ep->emu_serving, opal_list_t);
    memset(&ep->segment, 0, sizeof(ep->segment));
    /* OBJ_NEW does not zero: the destructor and the error paths test these. */
    memset(&ep->tx, 0, sizeof(ep->tx));
    ep->local_rank = -1;
    ep->segment.fd = -1;
    ep->watch.pidfd = -1;
    ep->proc = NULL;
    ep->failed = false;
}

static void endpoint_destruct(mca_btl_cma_endpoint_t *ep)
{
    mca_btl_cma_component_t *c = &mca_btl_cma_component;
    if (ep->tx.last && c->tx_last_small && ep->local_rank >= 0 && ep->local_rank < c->nlocal) {
        /* A later endpoint to the same peer continues this channel: its
         * first message must know which ring the peer reads now. */
        c->tx_last_small[ep->local_rank] = ep->tx.last == &ep->tx.small;
    }
    if (ep->tx.large.shared) {
        shm_ring_producer_close(&ep->tx.large);
        ep->tx.large.shared = NULL;
    }
    if (ep->tx.small.shared) {
        shm_ring_producer_close(&ep->tx.small);
        ep->tx.small.shared = NULL;
    }
    shm_segment_detach(&ep->segment);
    shm_peer_unwatch(&ep->watch);
    OBJ_DESTRUCT(&ep->pending);
    OBJ_DESTRUCT(&ep->emu_serving);
    OBJ_DESTRUCT(&ep->tx_lock);
}
OBJ_CLASS_INSTANCE(mca_btl_cma_endpoint_t, opal_list_item_t, endpoint_construct, endpoint_destruct);

static int cma_register_error(struct mca_btl_base_module_t *btl, mca_btl_base_module_error_cb_fn_t cbfunc)
{
    ((mca_btl_cma_module_t *) btl)->error_cb = cbfunc;
    return OPAL_SUCCESS;
}

static int cma_ft_event(int state)
{
    (void) state;
    return OPAL_SUCCESS;
}

/* One 8-byte process_vm_readv of a word the peer published: the same
 * permission check every later single copy will face (Yama, seccomp,
 * capabilities, dumpability), paid once per peer. */
static int probe_single_copy(mca_btl_cma_endpoint_t *ep)
{
    uint64_t got = 0;
    struct iovec local = {.iov_base = &got, .iov_len = sizeof(got)};
    struct iovec remote = {.iov_base = (void *) (uintptr_t) ep->probe_addr, .iov_len = sizeof(got)};
    ssize_t n = process_vm_readv(ep->pid, &local, 1, &remote, 1, 0);
    if (n != (ssize_t) sizeof(got)) {
        return n < 0 ? errno : EIO;
    }
    return got == ep->probe_value ? 0 : EIO;
}

static mca_btl_cma_endpoint_t *create_endpoint(struct opal_proc_t *proc, const mca_btl_cma_modex_t *mx)
{
    mca_btl_cma_component_t *c = &mca_btl_cma_component;
    shm_error_t err = {0};
    mca_btl_cma_endpoint_t *ep = OBJ_NEW(mca_btl_cma_endpoint_t);
    if (!ep) {
        return NULL;
    }
    ep->proc = proc;
    ep->local_rank = mx->local_rank;
    ep->pid = mx->segment.pid;
    ep->probe_addr = mx->probe_addr;
    ep->probe_value = mx->probe_value;

    uint64_t ring_end = mx->ring_offset + (uint64_t) (c->local_rank + 1) * mx->ring_stride;
    int rc = shm_segment_attach(&ep->segment, &mx->segment, &err);
    if (rc != 0) {
        mca_btl_cma_show_help("segment attach failed",
                              "cannot attach the shared receive segment of process %d on %s: %s. Fix: with "
                              "memfd segments set '--mca btl_cma_segment posix'; with posix segments keep "
                              "/dev/shm/btl_cma.* files from being removed while jobs start; or exclude cma "
                              "with '--mca btl ^cma'.",
                              (int) ep->pid, opal_process_info.nodename, err.msg);
        OBJ_RELEASE(ep);
        return NULL;
    }
    if (ring_end > ep->segment.size) {
        opal_output(0, "btl:cma: segment of process %d is smaller than its rings: mismatched builds?",
                    (int) ep->pid);
        OBJ_RELEASE(ep);
        return NULL;
    }
    char *ring = (char *) ep->segment.base + mx->ring_offset + (size_t) c->local_rank * mx->ring_stride;
    if (mx->small_cells && (mx->small_offset < SHM_RING_HEADER_SIZE || mx->small_offset >= mx->ring_stride)) {
        opal_output(0, "btl:cma: process %d describes a small ring outside its ring slot: mismatched builds?",
                    (int) ep->pid);
        OBJ_RELEASE(ep);
        return NULL;
    }
    rc = shm_ring_producer_attach(&ep->tx.large, ring, mx->small_cells ? mx->small_offset : mx->ring_stride, &err);
    if (rc == 0 && mx->small_cells) {
        rc = shm_ring_producer_attach(&ep->tx.small, ring + mx->small_offset, mx->ring_stride - mx->small_offset,
                                      &err);
    }
    mca_btl_cma_channel_tx_setup(&ep->tx, c->small_min, c->small_max);
    if (rc == 0 && c->tx_last_small[ep->local_rank] && ep->tx.small.shared) {
        ep->tx.last = &ep->tx.small;
    }
    if (rc != 0) {
        opal_output(0, "btl:cma: ring of process %d is unusable: %s", (int) ep->pid, err.msg);
        OBJ_RELEASE(ep);
        return NULL;
    }
    if (ep->tx.max_msg < mca_btl_cma_frag_max_bytes()) {
        /* The peer sized its rings for smaller messages than ours: it was
         * given other size parameters.  Our largest message would never
         * fit, and the send would wait for ever. */
        char mine[32], theirs[32];
        snprintf(mine, sizeof(mine), "%zu", mca_btl_cma_frag_max_bytes());
        snprintf(theirs, sizeof(theirs), "%u", ep->tx.max_msg);
        mca_btl_cma_show_help("ring too small",
                              "on %s, process %d's rings take messages of up to %s bytes but this process "
                              "sends up to %s (btl_cma_eager_limit, btl_cma_max_send_size); give every process "
                              "the same values.",
                              opal_process_info.nodename, (int) ep->pid, theirs, mine);
        OBJ_RELEASE(ep);
        return NULL;
    }
    if (!c->sleep_rings) {
        /* With few peers the receiver cleared these rings when it made them,
         * so their pages exist; mapping them now saves the fault per 4 KiB
         * page that the first lap through the ring took (130 per peer: the
         * first 10000 0-byte ping-pongs of a job averaged 12-15 ns slower
         * than the next 10000).  With many peers the rings stay untouched
         * until used, to save memory. */
        (void) shm_segment_prefault(&ep->segment, (size_t) (ring - (char *) ep->segment.base), mx->ring_stride);
    }
    if (c->keep_pidfds) {
        (void) shm_peer_watch(&ep->watch, ep->pid, NULL);
    } else {
        (void) shm_peer_watch_nofd(&ep->watch, ep->pid, NULL);
    }

    ep->peer_can_read_me = !c->cannot_read_me[ep->local_rank];
    ep->can_read_peer = false;
    if (MCA_BTL_CMA_SC_NONE != c->single_copy) {
        int e = probe_single_copy(ep);
        ep->can_read_peer = (0 == e);
        if (e) {
            mca_btl_cma_single_copy_denied(ep, e, true);
            if (MCA_BTL_CMA_SC_CMA == c->single_copy) {
                OBJ_RELEASE(ep); /* the user required single copy: refuse the peer */
                return NULL;
            }
        }
    }
    char cpuset[sizeof(mx->cpuset)];
    memcpy(cpuset, mx->cpuset, sizeof(cpuset));
    cpuset[sizeof(cpuset) - 1] = '\0';
    ep->peer_class = mca_btl_cma_peer_class(cpuset);
    MCA_BTL_CMA_VERBOSE(10, "connected to local rank %d (pid %d, %s, cpus %s): single copy %s", ep->local_rank,
                        (int) ep->pid, mca_btl_cma_peer_class_name((mca_btl_cma_peer_class_t) ep->peer_class),
                        cpuset[0] ? cpuset : "unbound", ep->can_read_peer ? "permitted" : "off");
    return ep;
}

/* Whether a selected BTL other than the job-local ones could reach a
 * process of another job.  Open MPI's shared-memory BTLs (vader, and sm
 * and smcuda) connect only the processes of one job, like cma: with
 * "cma,vader,self" the hint was left out and the spawn failed with only
 * the PML's generic message. */
static bool job_crossing_btl_selected(void)
{
    static const char *const job_local[] = {"cma", "self", "vader", "sm", "smcuda"};
    mca_btl_base_selected_module_t *sm;
    OPAL_LIST_FOREACH (sm, &mca_btl_base_modules_initialized, mca_btl_base_selected_module_t) {
        const char *name = sm->btl_component->btl_version.mca_component_name;
        size_t k = 0;
        while (k < sizeof(job_local) / sizeof(job_local[0]) && 0 != strcmp(name, job_local[k])) {
            ++k;
        }
        if (k == sizeof(job_local) / sizeof(job_local[0])) {
            return true; /* tcp, ofi, ... */
        }
    }
    return false;
}

/* A local process of another job (MPI_Comm_spawn, MPI_Comm_connect/accept,
 * MPI_Comm_join).  Rings and doorbell bits are indexed by local rank, which
 * is only unique within one job: such a peer's local rank names a ring that
 * a process of our own job already writes, so cma must not claim it.  When
 * no other BTL can either, the job is about to fail with the PML's generic
 * "unreachable" message; say once which BTL to add. */
static void foreign_peer(const opal_proc_t *proc)
{
    static bool told;
    MCA_BTL_CMA_VERBOSE(10, "peer %s belongs to another job: not claimed (cma connects the processes of one job)",
                        OPAL_NAME_PRINT(proc->proc_name));
    if (!told && !job_crossing_btl_selected()) {
        told = true;
        mca_btl_cma_show_help("other job",
                              "on %s, process %s belongs to another job (MPI_Comm_spawn or MPI_Comm_connect); cma "
                              "connects only the processes of one job. Add a BTL that reaches it, e.g. "
                              "'--mca btl cma,self,tcp'.",
                              opal_process_info.nodename, OPAL_NAME_PRINT(proc->proc_name));
    }
}

int mca_btl_cma_add_procs(struct mca_btl_base_module_t *btl, size_t nprocs, struct opal_proc_t **procs,
                          struct mca_btl_base_endpoint_t **peers, struct opal_bitmap_t *reachable)
{
    mca_btl_cma_component_t *c = &mca_btl_cma_component;
    const opal_proc_t *me = opal_proc_local_get();
    (void) btl;

    OPAL_THREAD_LOCK(&c->lock);
    for (size_t i = 0; i < nprocs; ++i) {
        peers[i] = NULL;
        opal_proc_t *proc = procs[i];
        if (proc == me) {
            continue; /* ourselves: for self */
        }
        /* Before the locality test: Open MPI may not know where a process of
         * another mpirun runs (MPI_Comm_connect), and the hint applies. */
        if (proc->proc_name.jobid != me->proc_name.jobid) {
            foreign_peer(proc);
            continue;
        }
        if (!OPAL_PROC_ON_LOCAL_NODE(proc->proc_flags)) {
            continue; /* off-node peers are for tcp/ofi */
        }
        mca_btl_cma_modex_t *mx = NULL;
        size_t size = 0;
        int rc;
        OPAL_MODEX_RECV(rc, &c->super.btl_version, &proc->proc_name, (void **) &mx, &size);
        if (OPAL_SUCCESS != rc || size != sizeof(*mx) || mx->version != MCA_BTL_CMA_MODEX_VERSION ||
            mx->local_rank < 0 || mx->local_rank >= c->nlocal || mx->local_rank == c->local_rank ||
            mx->nrings != c->nlocal) {
            MCA_BTL_CMA_VERBOSE(10, "peer %s has no usable cma information: not claimed",
                                OPAL_NAME_PRINT(proc->proc_name));
            free(mx);
            continue;
        }
        mca_btl_cma_endpoint_t *ep = c->peers[mx->local_rank];
        if (!ep) {
            ep = create_endpoint(proc, mx);
            c->peers[mx->local_rank] = ep;
            mx->cpuset[sizeof(mx->cpuset) - 1] = '\0';
            mca_btl_cma_note_peer_cpus(mx->cpuset);
        }
        free(mx);
        if (ep) {
            peers[i] = ep;
            if (reachable) {
                opal_bitmap_set_bit(reachable, (int) i);
            }
        }
    }
    mca_btl_cma_decide_yield();
    OPAL_THREAD_UNLOCK(&c->lock);
    return OPAL_SUCCESS;
}

int mca_btl_cma_del_procs(struct mca_btl_base_module_t *btl, size_t nprocs, struct opal_proc_t **procs,
                          struct mca_btl_base_endpoint_t **peers)
{
    mca_btl_cma_component_t *c = &mca_btl_cma_component;
    (void) btl;
    (void) procs;
    OPAL_THREAD_LOCK(&c->lock);
    for (size_t i = 0; i < nprocs; ++i) {
        mca_btl_cma_endpoint_t *ep = peers[i];
        if (ep && ep->local_rank >= 0 && ep->local_rank < c->nlocal && c->peers[ep->local_rank] == ep) {
            c->peers[ep->local_rank] = NULL;
            OBJ_RELEASE(ep);
        }
    }
    OPAL_THREAD_UNLOCK(&c->lock);
    return OPAL_SUCCESS;
}

int mca_btl_cma_finalize(struct mca_btl_base_module_t *btl)
{
    mca_btl_cma_component_t *c = &mca_btl_cma_component;
    (void) btl;
    if (c->segment.base) {
        /* Peers that outlive us must not take our exit for a crash. */
        __atomic_store_n(&MCA_BTL_CMA_SEGMENT_HEADER(c->segment.base)->finalized, 1, __ATOMIC_RELEASE);
    }
    for (int i = 0; c->peers && i < c->nlocal; ++i) {
        if (c->peers[i]) {
            OBJ_RELEASE(c->peers[i]);
            c->peers[i] = NULL;
        }
    }
    mca_btl_cma_component_release();
    return OPAL_SUCCESS;
}

/* A peer died (or its ring was corrupted): tell the PML once, which aborts
 * the job with the dead rank's name instead of letting it hang. */
void mca_btl_cma_peer_failed(mca_btl_cma_endpoint_t *ep, const char *why)
{
    if (ep->failed) {
        return;
    }
    ep->failed = true;
    /* Every survivor on the node sees the failure; one of them tells the
     * user (a bit per dead local rank in local rank 0's segment, which
     * stays mapped here even when rank 0 is the one that died). */
    mca_btl_cma_component_t *c = &mca_btl_cma_component;
    void *base = 0 == c->local_rank ? c->segment.base : c->peers[0] ? c->peers[0]->segment.base : NULL;
    bool reported = false;
    if (base && ep->local_rank >= 0 && ep->local_rank < 64) {
        uint64_t bit = (uint64_t) 1 << ep->local_rank;
        reported = __atomic_fetch_or(&MCA_BTL_CMA_SEGMENT_HEADER(base)->failure_told, bit, __ATOMIC_RELAXED) & bit;
    }
    if (reported) {
        MCA_BTL_CMA_VERBOSE(1, "local peer process %d failed: %s (reported by another process)", (int) ep->pid, why);
    } else {
        mca_btl_cma_show_help("peer failed", "local peer process %d (%s) on %s failed: %s.", (int) ep->pid,
                              ep->proc ? OPAL_NAME_PRINT(ep->proc->proc_name) : "?", opal_process_info.nodename,
                              why);
    }
    if (mca_btl_cma.error_cb) {
        mca_btl_cma.error_cb(&mca_btl_cma.super, MCA_BTL_ERROR_FLAGS_FATAL, ep->proc, (char *) why);
    }
}
