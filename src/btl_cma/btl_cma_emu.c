/*
 * One-sided operations served through the rings instead of by the kernel:
 * gets and puts to a peer whose memory this process may not access with
 * process_vm_readv/writev (single copy denied or switched off), and every
 * atomic operation (which no system call can perform on another process's
 * memory).  The origin sends a request; the target's progress executes it
 * on its own memory and answers.  This file owns the wire format of those
 * control messages, the origin's table of operations awaiting an answer,
 * the target's streams of data chunks, and the dispatch of every control
 * tag.  Each request names the registration it targets and is checked
 * against it before any byte of the target's memory is touched.
 */
#include "btl_cma.h"
#include "btl_cma_endpoint.h"
#include "btl_cma_rdma.h"

/* GET_REQ: send me [addr, addr+size) */
typedef struct emu_get_req_t {
    uint64_t cookie;
    uint64_t addr;
    uint64_t size;
    struct mca_btl_base_registration_handle_t handle;
} emu_get_req_t;

/* GET_DATA: bytes of a GET_REQ at offset (payload follows) */
typedef struct emu_get_data_t {
    uint64_t cookie;
    uint64_t offset;
} emu_get_data_t;

/* PUT_DATA: store the payload at addr + offset; total bytes of the put */
typedef struct emu_put_data_t {
    uint64_t cookie;
    uint64_t addr;
    uint64_t offset;
    uint64_t total;
    struct mca_btl_base_registration_handle_t handle;
} emu_put_data_t;

/* AMO_REQ: apply op to the word at addr; answer with its previous value */
typedef struct emu_amo_req_t {
    uint64_t cookie;
    uint64_t addr;
    uint64_t operand;
    uint64_t compare;
    uint32_t op; /* mca_btl_base_atomic_op_t, or MCA_BTL_CMA_AMO_CSWAP */
    uint32_t flags;
    struct mca_btl_base_registration_handle_t handle;
} emu_amo_req_t;

/* PUT_ACK and AMO_RESP */
typedef struct emu_answer_t {
    uint64_t cookie;
    uint64_t value;
} emu_answer_t;

/* REFUSED: the target did not execute the request with this cookie, whose
 * answer would have come with answer_tag; the origin completes it with
 * status (an OPAL error code) instead of waiting for ever. */
typedef struct emu_refusal_t {
    uint64_t cookie;
    uint32_t answer_tag;
    int32_t status;
} emu_refusal_t;

/* An operation this process issued and awaits an answer for. */
typedef struct emu_op_t {
    opal_list_item_t super;
    uint64_t cookie;
    mca_btl_cma_endpoint_t *ep;
    uint16_t answer_tag; /* the tag whose arrival completes it */
    char *local;         /* GET: destination; AMO: where the old value goes (or NULL) */
    size_t size, received;
    struct mca_btl_base_registration_handle_t *local_handle;
    mca_btl_base_rdma_completion_fn_t cbfunc;
    void *cbcontext, *cbdata;
} emu_op_t;
static OBJ_CLASS_INSTANCE(emu_op_t, opal_list_item_t, NULL, NULL);

/* A stream of data chunks this process pushes to a peer: the answer to
 * its GET_REQ, or the payload of our own emulated put. */
typedef struct emu_stream_t {
    opal_list_item_t super;
    uint16_t tag; /* GET_DATA or PUT_DATA */
    uint64_t cookie;
    uint64_t src;  /* local bytes */
    uint64_t dst;  /* PUT: remote address */
    uint64_t size, offset;
    struct mca_btl_base_registration_handle_t handle; /* PUT: remote registration */
} emu_stream_t;
static OBJ_CLASS_INSTANCE(emu_stream_t, opal_list_item_t, NULL, NULL);

static emu_op_t *op_new(mca_btl_cma_endpoint_t *ep, uint16_t answer_tag, void *local, size_t size,
                        struct mca_btl_base_registration_handle_t *local_handle,
                        mca_btl_base_rdma_completion_fn_t cbfunc, void *cbcontext, void *cbdata)
{
    mca_btl_cma_component_t *c = &mca_btl_cma_component;
    emu_op_t *op = OBJ_NEW(emu_op_t);
    if (!op) {
        return NULL;
    }
    op->ep = ep;
    op->answer_tag = answer_tag;
    op->local = local;
    op->size = size;
    op->received = 0;
    op->local_handle = local_handle;
    op->cbfunc = cbfunc;
    op->cbcontext = cbcontext;
    op->cbdata = cbdata;
    OPAL_THREAD_LOCK(&c->lock);
    op->cookie = ++c->emu_next_cookie;
    opal_list_append(&c->emu_waiting, &op->super);
    OPAL_THREAD_UNLOCK(&c->lock);
    return op;
}

static void op_cancel(emu_op_t *op)
{
    mca_btl_cma_component_t *c = &mca_btl_cma_component;
    OPAL_THREAD_LOCK(&c->lock);
    opal_list_remove_item(&c->emu_waiting, &op->super);
    OPAL_THREAD_UNLOCK(&c->lock);
    OBJ_RELEASE(op);
}

/* Find the operation an answer from local rank src belongs to; the cookie
 * alone is not trusted, the answering peer and tag must match too.  Called
 * with c->lock held. */
static emu_op_t *op_find(uint64_t cookie, int src, uint16_t tag)
{
    emu_op_t *it;
    OPAL_LIST_FOREACH (it, &mca_btl_cma_component.emu_waiting, emu_op_t) {
        if (it->cookie == cookie && it->ep->local_rank == src && it->answer_tag == tag) {
            return it;
        }
    }
    return NULL;
}

static void op_complete(emu_op_t *op, int status)
{
    op->cbfunc(&mca_btl_cma.super, op->ep, op->local, op->local_handle, op->cbcontext, op->cbdata, status);
    OBJ_RELEASE(op);
}

static void stream_start(mca_btl_cma_endpoint_t *ep, emu_stream_t *s)
{
    OPAL_THREAD_LOCK(&ep->tx_lock);
    opal_list_append(&ep->emu_serving, &s->super);
    OPAL_THREAD_UNLOCK(&ep->tx_lock);
    OPAL_THREAD_ADD_FETCH32(&mca_btl_cma_component.pending_sends, 1);
}

/* ---------------------------------------------------------------------- */
/* origin side                                                             */

int mca_btl_cma_emu_get(mca_btl_cma_endpoint_t *ep, void *local, uint64_t remote,
                        struct mca_btl_base_registration_handle_t *local_handle,
                        struct mca_btl_base_registration_handle_t *remote_handle, size_t size,
                        mca_btl_base_rdma_completion_fn_t cbfunc, void *cbcontext, void *cbdata)
{
    emu_op_t *op = op_new(ep, MCA_BTL_CMA_TAG_GET_DATA, local, size, local_handle, cbfunc, cbcontext, cbdata);
    if (!op) {
        return OPAL_ERR_OUT_OF_RESOURCE;
    }
    emu_get_req_t req = {.cookie = op->cookie, .addr = remote, .size = size, .handle = *remote_handle};
    int rc = mca_btl_cma_send_ctrl(ep, MCA_BTL_CMA_TAG_GET_REQ, &req, sizeof(req), NULL, 0);
    if (OPAL_SUCCESS != rc) {
        op_cancel(op);
        return rc;
    }
    MCA_BTL_CMA_COUNT(emulated_gets, 1);
    MCA_BTL_CMA_COUNT(emulated_get_bytes, size);
    return OPAL_SUCCESS;
}

int mca_btl_cma_emu_put(mca_btl_cma_endpoint_t *ep, void *local, uint64_t remote,
                        struct mca_btl_base_registration_handle_t *local_handle,
                        struct mca_btl_base_registration_handle_t *remote_handle, size_t size,
                        mca_btl_base_rdma_completion_fn_t cbfunc, void *cbcontext, void *cbdata)
{
    emu_op_t *op = op_new(ep, MCA_BTL_CMA_TAG_PUT_ACK, local, size, local_handle, cbfunc, cbcontext, cbdata);
    emu_stream_t *s = OBJ_NEW(emu_stream_t);
    if (!op || !s) {
        if (op) {
            op_cancel(op);
        }
        if (s) {
            OBJ_RELEASE(s);
        }
        return OPAL_ERR_OUT_OF_RESOURCE;
    }
    s->tag = MCA_BTL_CMA_TAG_PUT_DATA;
    s->cookie = op->cookie;
    s->src = (uint64_t) (uintptr_t) local;
    s->dst = remote;
    s->size = size;
    s->offset = 0;
    s->handle = *remote_handle;
    stream_start(ep, s);
    MCA_BTL_CMA_COUNT(emulated_puts, 1);
    MCA_BTL_CMA_COUNT(emulated_put_bytes, size);
    return OPAL_SUCCESS;
}

int mca_btl_cma_emu_atomic(mca_btl_cma_endpoint_t *ep, void *local, uint64_t remote,
                           struct mca_btl_base_registration_handle_t *local_handle,
                           struct mca_btl_base_registration_handle_t *remote_handle, uint32_t op_code,
                           uint64_t operand, uint64_t compare, int flags, mca_btl_base_rdma_completion_fn_t cbfunc,
                           void *cbcontext, void *cbdata)
{
    size_t width = (flags & MCA_BTL_ATOMIC_FLAG_32BIT) ? 4 : 8;
    emu_op_t *op = op_new(ep, MCA_BTL_CMA_TAG_AMO_RESP, local, width, local_handle, cbfunc, cbcontext, cbdata);
    if (!op) {
        return OPAL_ERR_OUT_OF_RESOURCE;
    }
    emu_amo_req_t req = {.cookie = op->cookie,
                         .addr = remote,
                         .operand = operand,
                         .compare = compare,
                         .op = op_code,
                         .flags = (uint32_t) flags,
                         .handle = *remote_handle};
    int rc = mca_btl_cma_send_ctrl(ep, MCA_BTL_CMA_TAG_AMO_REQ, &req, sizeof(req), NULL, 0);
    if (OPAL_SUCCESS != rc) {
        op_cancel(op);
        return rc;
    }
    MCA_BTL_CMA_COUNT(atomics, 1);
    return OPAL_SUCCESS;
}

/* ---------------------------------------------------------------------- */
/* progress: push stream chunks while the peer's ring has room             */

int mca_btl_cma_emu_progress(mca_btl_cma_endpoint_t *ep)
{
    int count = 0;
    OPAL_THREAD_LOCK(&ep->tx_lock);
    while (!opal_list_is_empty(&ep->emu_serving)) {
        emu_stream_t *s = (emu_stream_t *) opal_list_get_first(&ep->emu_serving);
        do {
            union {
                emu_get_data_t get;
                emu_put_data_t put;
            } hdr;
            size_t hlen = MCA_BTL_CMA_TAG_GET_DATA == s->tag ? sizeof(hdr.get) : sizeof(hdr.put);
            size_t chunk = s->size - s->offset, room = ep->tx.max_msg - hlen;
            if (chunk > room) {
                chunk = room;
            }
            if (MCA_BTL_CMA_TAG_GET_DATA == s->tag) {
                hdr.get = (emu_get_data_t){.cookie = s->cookie, .offset = s->offset};
            } else {
                hdr.put = (emu_put_data_t){
                    .cookie = s->cookie, .addr = s->dst, .offset = s->offset, .total = s->size, .handle = s->handle};
            }
            if (OPAL_SUCCESS != mca_btl_cma_ring_write(ep, s->tag, &hdr, hlen,
                                                       (const void *) (uintptr_t) (s->src + s->offset), chunk)) {
                OPAL_THREAD_UNLOCK(&ep->tx_lock);
                return count;
            }
            s->offset += chunk;
            ++count;
        } while (s->offset < s->size); /* a 0-byte stream still sends one chunk */
        opal_list_remove_first(&ep->emu_serving);
        OBJ_RELEASE(s);
        OPAL_THREAD_ADD_FETCH32(&mca_btl_cma_component.pending_sends, -1);
    }
    OPAL_THREAD_UNLOCK(&ep->tx_lock);
    return count;
}

/* ---------------------------------------------------------------------- */
/* target side                                                             */

static mca_btl_cma_endpoint_t *requester(int src, size_t len, size_t want, const char *what)
{
    mca_btl_cma_endpoint_t *ep = mca_btl_cma_component.peers[src];
    if (len < want || !ep) {
        opal_output(0, "btl:cma: malformed %s from local rank %d ignored", what, src);
        return NULL;
    }
    return ep;
}

/* Tell the origin that the request with this cookie was not executed, so
 * that it fails there instead of waiting for an answer. */
static void refuse(mca_btl_cma_endpoint_t *ep, uint64_t cookie, uint16_t answer_tag, int status)
{
    emu_refusal_t r = {.cookie = cookie, .answer_tag = answer_tag, .status = status};
    (void) mca_btl_cma_send_ctrl(ep, MCA_BTL_CMA_TAG_REFUSED, &r, sizeof(r), NULL, 0);
}

static bool admitted(const struct mca_btl_base_registration_handle_t *h, uint64_t addr, uint64_t size, int src,
                     const char *what)
{
    if (mca_btl_cma_in_bounds(h, addr, size)) {
        return true;
    }
    if (what) {
        opal_output(0, "btl:cma: %s from local rank %d outside its registration refused", what, src);
    }
    return false;
}

static void serve_get(int src, const void *data, size_t len)
{
    emu_get_req_t req;
    mca_btl_cma_endpoint_t *ep = requester(src, len, sizeof(req), "get request");
    if (!ep) {
        return;
    }
    memcpy(&req, data, sizeof(req));
    if (!admitted(&req.handle, req.addr, req.size, src, "get request")) {
        refuse(ep, req.cookie, MCA_BTL_CMA_TAG_GET_DATA, OPAL_ERR_BAD_PARAM);
        return;
    }
    emu_stream_t *s = OBJ_NEW(emu_stream_t);
    if (!s) {
        refuse(ep, req.cookie, MCA_BTL_CMA_TAG_GET_DATA, OPAL_ERR_OUT_OF_RESOURCE);
        return;
    }
    s->tag = MCA_BTL_CMA_TAG_GET_DATA;
    s->cookie = req.cookie;
    s->src = req.addr;
    s->size = req.size;
    s->offset = 0;
    stream_start(ep, s);
}

static void store_put(int src, const void *data, size_t len)
{
    emu_put_data_t hdr;
    mca_btl_cma_endpoint_t *ep = requester(src, len, sizeof(hdr), "put");
    if (!ep) {
        return;
    }
    memcpy(&hdr, data, sizeof(hdr));
    size_t n = len - sizeof(hdr);
    if (hdr.offset > hdr.total || n > hdr.total - hdr.offset) {
        opal_output(0, "btl:cma: malformed put chunk from local rank %d ignored", src);
        return;
    }
    if (!admitted(&hdr.handle, hdr.addr, hdr.total, src, hdr.offset ? NULL : "put")) {
        /* Every chunk is refused; the last one answers, as a stored put's
         * last chunk would. */
        if (hdr.offset + n == hdr.total) {
            refuse(ep, hdr.cookie, MCA_BTL_CMA_TAG_PUT_ACK, OPAL_ERR_BAD_PARAM);
        }
        return;
    }
    memcpy((char *) (uintptr_t) (hdr.addr + hdr.offset), (const char *) data + sizeof(hdr), n);
    if (hdr.offset + n == hdr.total) {
        /* Chunks of one put travel in order through one ring: the last one
         * completes it. */
        emu_answer_t ack = {.cookie = hdr.cookie};
        (void) mca_btl_cma_send_ctrl(ep, MCA_BTL_CMA_TAG_PUT_ACK, &ack, sizeof(ack), NULL, 0);
    }
}

static void execute_atomic(int src, const void *data, size_t len)
{
    emu_amo_req_t req;
    mca_btl_cma_endpoint_t *ep = requester(src, len, sizeof(req), "atomic");
    if (!ep) {
        return;
    }
    memcpy(&req, data, sizeof(req));
    size_t width = (req.flags & MCA_BTL_ATOMIC_FLAG_32BIT) ? 4 : 8;
    if (!admitted(&req.handle, req.addr, width, src, "atomic")) {
        refuse(ep, req.cookie, MCA_BTL_CMA_TAG_AMO_RESP, OPAL_ERR_BAD_PARAM);
        return;
    }
    emu_answer_t resp = {.cookie = req.cookie};
    int rc = mca_btl_cma_atomic_apply((void *) (uintptr_t) req.addr, req.op, req.operand, req.compare,
                                      (int) req.flags, &resp.value);
    if (OPAL_SUCCESS != rc) {
        opal_output(0, "btl:cma: atomic operation %u on %zu bytes at 0x%" PRIx64 " from local rank %d refused: %s",
                    req.op, width, req.addr, src,
                    OPAL_ERR_NOT_SUPPORTED == rc ? "not supported" : "misaligned for this CPU");
        refuse(ep, req.cookie, MCA_BTL_CMA_TAG_AMO_RESP, rc);
        return;
    }
    (void) mca_btl_cma_send_ctrl(ep, MCA_BTL_CMA_TAG_AMO_RESP, &resp, sizeof(resp), NULL, 0);
}

/* ---------------------------------------------------------------------- */
/* answers at the origin                                                   */

static void receive_get_data(int src, const void *data, size_t len)
{
    mca_btl_cma_component_t *c = &mca_btl_cma_component;
    emu_get_data_t hdr;
    if (len < sizeof(hdr)) {
        return;
    }
    memcpy(&hdr, data, sizeof(hdr));
    size_t n = len - sizeof(hdr);
    OPAL_THREAD_LOCK(&c->lock);
    emu_op_t *op = op_find(hdr.cookie, src, MCA_BTL_CMA_TAG_GET_DATA);
    if (!op || hdr.offset > op->size || n > op->size - hdr.offset) {
        OPAL_THREAD_UNLOCK(&c->lock);
        opal_output(0, "btl:cma: unexpected get data from local rank %d ignored", src);
        return;
    }
    memcpy(op->local + hdr.offset, (const char *) data + sizeof(hdr), n);
    op->received += n;
    bool done = op->received == op->size;
    if (done) {
        opal_list_remove_item(&c->emu_waiting, &op->super);
    }
    OPAL_THREAD_UNLOCK(&c->lock);
    if (done) {
        op_complete(op, OPAL_SUCCESS);
    }
}

/* The awaited operation an answer completes, taken off the table; NULL
 * when none matches. */
static emu_op_t *op_take(uint64_t cookie, int src, uint16_t tag)
{
    mca_btl_cma_component_t *c = &mca_btl_cma_component;
    OPAL_THREAD_LOCK(&c->lock);
    emu_op_t *op = op_find(cookie, src, tag);
    if (op) {
        opal_list_remove_item(&c->emu_waiting, &op->super);
    }
    OPAL_THREAD_UNLOCK(&c->lock);
    return op;
}

static void receive_answer(uint16_t tag, int src, const void *data, size_t len)
{
    emu_answer_t ans;
    if (len != sizeof(ans)) {
        return;
    }
    memcpy(&ans, data, sizeof(ans));
    emu_op_t *op = op_take(ans.cookie, src, tag);
    if (!op) {
        opal_output(0, "btl:cma: unexpected answer %u from local rank %d ignored", tag, src);
        return;
    }
    if (MCA_BTL_CMA_TAG_AMO_RESP == tag && op->local) {
        if (4 == op->size) {
            uint32_t v = (uint32_t) ans.value;
            memcpy(op->local, &v, sizeof(v));
        } else {
            memcpy(op->local, &ans.value, sizeof(ans.value));
        }
    }
    op_complete(op, OPAL_SUCCESS);
}

static void receive_refusal(int src, const void *data, size_t len)
{
    emu_refusal_t r;
    if (len != sizeof(r)) {
        return;
    }
    memcpy(&r, data, sizeof(r));
    emu_op_t *op = op_take(r.cookie, src, (uint16_t) r.answer_tag);
    if (!op) {
        opal_output(0, "btl:cma: unexpected refusal from local rank %d ignored", src);
        return;
    }
    op_complete(op, r.status < 0 ? r.status : OPAL_ERROR);
}

void mca_btl_cma_handle_ctrl(uint16_t tag, int src, const void *data, size_t len)
{
    mca_btl_cma_component_t *c = &mca_btl_cma_component;
    switch (tag) {
    case MCA_BTL_CMA_TAG_GET_REQ:
        serve_get(src, data, len);
        break;
    case MCA_BTL_CMA_TAG_GET_DATA:
        receive_get_data(src, data, len);
        break;
    case MCA_BTL_CMA_TAG_PUT_DATA:
        store_put(src, data, len);
        break;
    case MCA_BTL_CMA_TAG_AMO_REQ:
        execute_atomic(src, data, len);
        break;
    case MCA_BTL_CMA_TAG_PUT_ACK:
    case MCA_BTL_CMA_TAG_AMO_RESP:
        receive_answer(tag, src, data, len);
        break;
    case MCA_BTL_CMA_TAG_REFUSED:
        receive_refusal(src, data, len);
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
