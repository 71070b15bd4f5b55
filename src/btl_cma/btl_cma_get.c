/*
 * Reads from a peer's memory: btl_get (the receiver side of ob1's RGET
 * protocol) with process_vm_readv, and, where the kernel denies single copy
 * for a peer, the same get emulated through the rings (GET_REQ out, the
 * peer's progress answers with GET_DATA chunks), so a denial costs speed,
 * never correctness.  Also memory registration, which is where the
 * protocol is chosen per message: a NULL handle for the sender's buffer
 * makes ob1 use the copy pipeline instead of RGET.
 */
#include "btl_cma.h"
#include "btl_cma_endpoint.h"
#include "btl_cma_rdma.h"

#include "opal/util/proc.h"

typedef struct emu_get_req_t {
    uint64_t cookie;
    uint64_t addr;
    uint64_t size;
    struct mca_btl_base_registration_handle_t handle;
} emu_get_req_t;

typedef struct emu_get_data_t {
    uint64_t cookie;
    uint64_t offset;
} emu_get_data_t;

/* A get this process issued and is waiting to be answered. */
typedef struct emu_waiting_t {
    opal_list_item_t super;
    uint64_t cookie;
    mca_btl_cma_endpoint_t *ep;
    char *local;
    size_t size, received;
    struct mca_btl_base_registration_handle_t *local_handle;
    mca_btl_base_rdma_completion_fn_t cbfunc;
    void *cbcontext, *cbdata;
} emu_waiting_t;
static OBJ_CLASS_INSTANCE(emu_waiting_t, opal_list_item_t, NULL, NULL);

/* A get a peer issued against this process's memory. */
typedef struct emu_serving_t {
    opal_list_item_t super;
    uint64_t cookie;
    uint64_t addr, size, offset;
} emu_serving_t;
static OBJ_CLASS_INSTANCE(emu_serving_t, opal_list_item_t, NULL, NULL);

struct mca_btl_base_registration_handle_t *mca_btl_cma_register_mem(struct mca_btl_base_module_t *btl,
                                                                    struct mca_btl_base_endpoint_t *ep,
                                                                    void *base, size_t size, uint32_t flags)
{
    const mca_btl_cma_component_t *c = &mca_btl_cma_component;
    (void) btl;
    if (flags & MCA_BTL_REG_FLAG_REMOTE_READ) {
        /* The sender's buffer: offer it for single copy only where that is
         * the faster protocol and the peer is able to read us. */
        if (MCA_BTL_CMA_SC_NONE == c->single_copy || size < c->single_copy_min ||
            (ep && !ep->peer_can_read_me)) {
            return NULL;
        }
    }
    struct mca_btl_base_registration_handle_t *h = malloc(sizeof(*h));
    if (h) {
        h->base = (uint64_t) (uintptr_t) base;
        h->size = size;
    }
    return h;
}

int mca_btl_cma_deregister_mem(struct mca_btl_base_module_t *btl, struct mca_btl_base_registration_handle_t *handle)
{
    (void) btl;
    free(handle);
    return OPAL_SUCCESS;
}

void mca_btl_cma_warn_single_copy_denied(void)
{
    mca_btl_cma_component_t *c = &mca_btl_cma_component;
    int err = c->sc_denied_errno;
    c->sc_denied_errno = 0;
    /* One warning per node, not per process: the first process to claim
     * the flag in local rank 0's segment prints it. */
    void *base = 0 == c->local_rank ? c->segment.base : c->peers[0] ? c->peers[0]->segment.base : NULL;
    if (base && __atomic_exchange_n(&MCA_BTL_CMA_SEGMENT_HEADER(base)->sc_warned, 1, __ATOMIC_RELAXED)) {
        return;
    }
    mca_btl_cma_show_help("single copy denied",
                          "single copy (process_vm_readv) between processes on %s is denied: %s. Large messages "
                          "go through shared-memory rings instead (correct, but slower). Fix: allow ptrace "
                          "between the job's processes (Yama ptrace_scope 0, --cap-add=SYS_PTRACE or a seccomp "
                          "profile allowing process_vm_readv in containers, and no prctl(PR_SET_DUMPABLE, 0)), "
                          "or silence this with '--mca btl_cma_single_copy none'.",
                          opal_process_info.nodename, strerror(err));
}

void mca_btl_cma_single_copy_denied(mca_btl_cma_endpoint_t *ep, int err, bool tell_peer)
{
    mca_btl_cma_component_t *c = &mca_btl_cma_component;
    ep->can_read_peer = false;
    MCA_BTL_CMA_COUNT(sc_fallbacks, 1);
    if (tell_peer) {
        (void) mca_btl_cma_send_ctrl(ep, MCA_BTL_CMA_TAG_NO_SC, NULL, 0, NULL, 0);
    }
    char pid[16];
    snprintf(pid, sizeof(pid), "%d", (int) ep->pid);
    if (MCA_BTL_CMA_SC_CMA == c->single_copy) {
        mca_btl_cma_show_help("single copy required",
                              "btl_cma_single_copy=cma was requested, but reading process %s on %s with "
                              "process_vm_readv failed: %s. Fix: allow ptrace between the job's processes "
                              "(Yama: echo 0 > /proc/sys/kernel/yama/ptrace_scope; containers: "
                              "--cap-add=SYS_PTRACE or a seccomp profile allowing process_vm_readv), or use "
                              "btl_cma_single_copy=auto.",
                              pid, opal_process_info.nodename, strerror(err));
    } else if (!c->warned_sc_denied && MCA_BTL_CMA_SC_AUTO == c->single_copy) {
        /* Printed from progress, not here: this usually runs inside
         * add_procs during MPI_Init, where Open MPI 4.1.4's forwarding of
         * help messages to mpirun was seen to garble them. */
        c->warned_sc_denied = true;
        c->sc_denied_errno = err;
    }
    MCA_BTL_CMA_VERBOSE(1, "single copy with local rank %d disabled: %s", ep->local_rank, strerror(err));
}

static int emulated_get(mca_btl_cma_endpoint_t *ep, void *local, uint64_t remote,
                        struct mca_btl_base_registration_handle_t *local_handle,
                        struct mca_btl_base_registration_handle_t *remote_handle, size_t size,
                        mca_btl_base_rdma_completion_fn_t cbfunc, void *cbcontext, void *cbdata)
{
    mca_btl_cma_component_t *c = &mca_btl_cma_component;
    emu_waiting_t *w = OBJ_NEW(emu_waiting_t);
    if (!w) {
        return OPAL_ERR_OUT_OF_RESOURCE;
    }
    w->ep = ep;
    w->local = local;
    w->size = size;
    w->received = 0;
    w->local_handle = local_handle;
    w->cbfunc = cbfunc;
    w->cbcontext = cbcontext;
    w->cbdata = cbdata;
    emu_get_req_t req = {.addr = remote, .size = size, .handle = *remote_handle};
    OPAL_THREAD_LOCK(&c->lock);
    w->cookie = req.cookie = ++c->emu_next_cookie;
    opal_list_append(&c->emu_waiting, &w->super);
    OPAL_THREAD_UNLOCK(&c->lock);
    int rc = mca_btl_cma_send_ctrl(ep, MCA_BTL_CMA_TAG_GET_REQ, &req, sizeof(req), NULL, 0);
    if (OPAL_SUCCESS != rc) {
        OPAL_THREAD_LOCK(&c->lock);
        opal_list_remove_item(&c->emu_waiting, &w->super);
        OPAL_THREAD_UNLOCK(&c->lock);
        OBJ_RELEASE(w);
        return rc;
    }
    MCA_BTL_CMA_COUNT(emulated_gets, 1);
    MCA_BTL_CMA_COUNT(emulated_get_bytes, size);
    return OPAL_SUCCESS;
}

int mca_btl_cma_get(struct mca_btl_base_module_t *btl, struct mca_btl_base_endpoint_t *ep, void *local_address,
                    uint64_t remote_address, struct mca_btl_base_registration_handle_t *local_handle,
                    struct mca_btl_base_registration_handle_t *remote_handle, size_t size, int flags, int order,
                    mca_btl_base_rdma_completion_fn_t cbfunc, void *cbcontext, void *cbdata)
{
    (void) flags;
    (void) order;
    int rc = mca_btl_cma_rdma_admit(ep, remote_handle, remote_address, size);
    if (OPAL_UNLIKELY(OPAL_SUCCESS != rc)) {
        return rc;
    }
    if (OPAL_LIKELY(ep->can_read_peer)) {
        int err = mca_btl_cma_vm_copy(ep->pid, local_address, remote_address, size, false);
        if (OPAL_LIKELY(0 == err)) {
            MCA_BTL_CMA_COUNT(get_count, 1);
            MCA_BTL_CMA_COUNT(get_bytes, size);
            cbfunc(btl, ep, local_address, local_handle, cbcontext, cbdata, OPAL_SUCCESS);
            return OPAL_SUCCESS;
        }
        if (ESRCH == err) {
            mca_btl_cma_peer_failed(ep, "it vanished during a single-copy read");
            return OPAL_ERR_UNREACH;
        }
        if (!mca_btl_cma_is_denial(err)) {
            opal_output(0, "btl:cma: process_vm_readv of %zu bytes from process %d failed: %s", size,
                        (int) ep->pid, strerror(err));
            return OPAL_ERROR;
        }
        mca_btl_cma_single_copy_denied(ep, err, true);
        if (MCA_BTL_CMA_SC_CMA == mca_btl_cma_component.single_copy) {
            return OPAL_ERROR;
        }
    }
    return emulated_get(ep, local_address, remote_address, local_handle, remote_handle, size, cbfunc, cbcontext,
                        cbdata);
}

static void serve_get_request(int src, const void *data, size_t len)
{
    mca_btl_cma_endpoint_t *ep = mca_btl_cma_component.peers[src];
    emu_get_req_t req;
    if (len != sizeof(req) || !ep) {
        opal_output(0, "btl:cma: malformed get request from local rank %d ignored", src);
        return;
    }
    memcpy(&req, data, sizeof(req));
    if (!mca_btl_cma_in_bounds(&req.handle, req.addr, req.size)) {
        opal_output(0, "btl:cma: get request from local rank %d outside its registration refused", src);
        return;
    }
    emu_serving_t *s = OBJ_NEW(emu_serving_t);
    if (!s) {
        return;
    }
    s->cookie = req.cookie;
    s->addr = req.addr;
    s->size = req.size;
    s->offset = 0;
    OPAL_THREAD_LOCK(&ep->tx_lock);
    opal_list_append(&ep->emu_serving, &s->super);
    OPAL_THREAD_UNLOCK(&ep->tx_lock);
    OPAL_THREAD_ADD_FETCH32(&mca_btl_cma_component.pending_sends, 1);
}

/* Push answers to a peer's emulated gets while its ring has room. */
int mca_btl_cma_emu_progress(mca_btl_cma_endpoint_t *ep)
{
    int count = 0;
    OPAL_THREAD_LOCK(&ep->tx_lock);
    while (!opal_list_is_empty(&ep->emu_serving)) {
        emu_serving_t *s = (emu_serving_t *) opal_list_get_first(&ep->emu_serving);
        while (s->offset < s->size || 0 == s->size) {
            size_t chunk = s->size - s->offset;
            size_t room = ep->tx.max_msg - sizeof(emu_get_data_t);
            if (chunk > room) {
                chunk = room;
            }
            emu_get_data_t hdr = {.cookie = s->cookie, .offset = s->offset};
            if (OPAL_SUCCESS != mca_btl_cma_ring_write(ep, MCA_BTL_CMA_TAG_GET_DATA, &hdr, sizeof(hdr),
                                                       (const void *) (uintptr_t) (s->addr + s->offset), chunk)) {
                OPAL_THREAD_UNLOCK(&ep->tx_lock);
                return count;
            }
            s->offset += chunk;
            ++count;
            if (0 == s->size) {
                break;
            }
        }
        opal_list_remove_first(&ep->emu_serving);
        OBJ_RELEASE(s);
        OPAL_THREAD_ADD_FETCH32(&mca_btl_cma_component.pending_sends, -1);
    }
    OPAL_THREAD_UNLOCK(&ep->tx_lock);
    return count;
}

static void receive_get_data(int src, const void *data, size_t len)
{
    mca_btl_cma_component_t *c = &mca_btl_cma_component;
    emu_get_data_t hdr;
    if (len < sizeof(hdr)) {
        return;
    }
    memcpy(&hdr, data, sizeof(hdr));
    size_t n = len - sizeof(hdr);
    emu_waiting_t *w = NULL, *it;
    OPAL_THREAD_LOCK(&c->lock);
    OPAL_LIST_FOREACH (it, &c->emu_waiting, emu_waiting_t) {
        if (it->cookie == hdr.cookie && it->ep->local_rank == src) {
            w = it;
            break;
        }
    }
    if (!w || hdr.offset > w->size || n > w->size - hdr.offset) {
        OPAL_THREAD_UNLOCK(&c->lock);
        opal_output(0, "btl:cma: unexpected get data from local rank %d ignored", src);
        return;
    }
    memcpy(w->local + hdr.offset, (const char *) data + sizeof(hdr), n);
    w->received += n;
    bool done = w->received == w->size;
    if (done) {
        opal_list_remove_item(&c->emu_waiting, &w->super);
    }
    OPAL_THREAD_UNLOCK(&c->lock);
    if (done) {
        w->cbfunc(&mca_btl_cma.super, w->ep, w->local, w->local_handle, w->cbcontext, w->cbdata, OPAL_SUCCESS);
        OBJ_RELEASE(w);
    }
}

void mca_btl_cma_handle_ctrl(uint16_t tag, int src, const void *data, size_t len)
{
    mca_btl_cma_component_t *c = &mca_btl_cma_component;
    switch (tag) {
    case MCA_BTL_CMA_TAG_GET_REQ:
        serve_get_request(src, data, len);
        break;
    case MCA_BTL_CMA_TAG_GET_DATA:
        receive_get_data(src, data, len);
        break;
    case MCA_BTL_CMA_TAG_NO_SC:
        c->cannot_read_me[src] = true;
        if (c->peers[src]) {
            c->peers[src]->peer_can_read_me = false;
        }
        MCA_BTL_CMA_VERBOSE(1, "local rank %d cannot read this process: no single copy offered to it", src);
        break;
    default:
        opal_output(0, "btl:cma: unknown control message %u from local rank %d ignored", tag, src);
    }
}
