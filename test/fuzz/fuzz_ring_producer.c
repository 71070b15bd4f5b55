/*
 * fuzz_ring_producer: the producer side of a ring facing a hostile
 * consumer.  The input picks a geometry, then is a program of ops
 * (fuzz_common.h) that overwrite the shared memory (header, consumer
 * position, cells) with arbitrary bytes, attach a producer over it, send
 * messages of fuzzed lengths (also with memory rewritten between reserve
 * and commit), and let an honest consumer in the same ring take messages.
 * It owns the producer's promises whatever the shared memory holds: attach
 * accepts exactly the valid headers; reserve returns 0, -EAGAIN or
 * -EMSGSIZE, the last exactly when len > max_msg, and writes nothing unless
 * it succeeds; the payload and the pad lie inside the ring's cells where
 * the protocol puts them; a call writes no byte the protocol does not give
 * it.  While no hostile byte was written it also checks the ring end to
 * end: the consumer gets every message, in order and intact, and an
 * empty ring accepts any message up to max_msg.
 */
#include "fuzz_common.h"

#define QUEUE_MAX 1024u /* more than any ring here can hold (256 cells) */

typedef struct sent {
    uint64_t msgno;
    uint32_t len;
    uint16_t tag;
} sent_t;

typedef struct prod_state {
    fuzz_mem_t mem;
    uint8_t *snap;
    shm_ring_producer_t p;
    shm_ring_consumer_t c;
    int attached;
    /* A hostile byte was written (or the producer was attached in a way the
     * API leaves undefined): from then on only memory safety and the
     * per-call promises are checked, not the end-to-end behaviour. */
    int tainted;
    uint32_t ncells, max_msg; /* the producer's, as its last attach saw them */
    /* The consumer's, from its one attach: a hostile header rewritten
     * before a producer re-attach can leave the two disagreeing. */
    uint32_t c_ncells, c_max_msg;
    sent_t queue[QUEUE_MAX];
    uint32_t qhead, qlen;
    uint64_t msgno;
} prod_state_t;

static uint8_t *cells_of(prod_state_t *s)
{
    return s->mem.base + SHM_RING_HEADER_SIZE;
}

static uint8_t pattern_byte(uint64_t msgno, uint32_t i)
{
    return (uint8_t) (msgno * 131u + i * 7u + (i >> 8) + 1u);
}

static void op_write(prod_state_t *s, fuzz_in_t *in)
{
    /* Before the first attach, moving only the consumer position is honest:
     * both sides start from it, so the fuzzer can take the ring to the wrap
     * points of the 32-bit seq and the 64-bit positions. */
    fuzz_in_t peek = *in;
    size_t off = fin_u16(&peek) % s->mem.size;
    size_t n = fin_u8(&peek);
    size_t pos = offsetof(shm_ring_shared_t, tail);
    if (s->attached || off < pos || off + n > pos + sizeof(uint64_t)) {
        s->tainted = 1;
    }
    fuzz_trace("write  %zu bytes at %zu%s", n, off, s->tainted ? " (tainted)" : "");
    fuzz_mem_write(&s->mem, in);
}

static int attach_producer(prod_state_t *s)
{
    shm_error_t err;
    memset(&err, 0, sizeof(err));
    fuzz_snap(&s->mem, s->snap);
    int rc = shm_ring_producer_attach(&s->p, s->mem.base, s->mem.size, &err);
    fuzz_check_attach_result(rc, &err, s->mem.base, s->mem.size);
    fuzz_trace("attach %d%s%s", rc, rc ? ": " : "", rc ? err.msg : "");
    size_t allow[1][2] = { { offsetof(shm_ring_shared_t, producer_state), sizeof(uint32_t) } };
    fuzz_diff_within(&s->mem, s->snap, (const size_t(*)[2]) allow, rc == 0 ? 1 : 0);
    if (rc != 0) {
        return 0;
    }
    const shm_ring_shared_t *sh = (const shm_ring_shared_t *) s->mem.base;
    FUZZ_CHECK(atomic_load_explicit(&sh->producer_state, memory_order_relaxed) == SHM_RING_PRODUCER_ATTACHED);
    FUZZ_CHECK(s->p.head == atomic_load_explicit(&sh->tail, memory_order_relaxed));
    FUZZ_CHECK(s->p.cells == cells_of(s) && s->p.ncells == sh->ncells && s->p.max_msg == sh->max_msg);
    s->ncells = s->p.ncells;
    s->max_msg = s->p.max_msg;
    return 1;
}

static int first_attach(prod_state_t *s)
{
    /* Calls that may not even look at memory they are not given. */
    shm_ring_producer_t p;
    shm_error_t err0;
    FUZZ_CHECK(shm_ring_producer_attach(&p, NULL, s->mem.size, &err0) == -EINVAL);
    FUZZ_CHECK(shm_ring_producer_attach(&p, s->mem.base + 8, s->mem.size - 8, &err0) == -EINVAL);
    FUZZ_CHECK(shm_ring_producer_attach(&p, s->mem.base, SHM_RING_HEADER_SIZE - 1, &err0) == -EINVAL);
    FUZZ_CHECK(fuzz_header_valid(s->mem.base, s->mem.size) ||
               shm_ring_producer_attach(&p, s->mem.base, s->mem.size, NULL) != 0);

    if (!attach_producer(s)) {
        return 0;
    }
    shm_error_t err;
    int rc = shm_ring_consumer_attach(&s->c, s->mem.base, s->mem.size, &err);
    /* Same memory, same header: the consumer must agree. */
    FUZZ_CHECK(rc == 0 && s->c.ncells == s->ncells && s->c.max_msg == s->max_msg);
    s->c_ncells = s->c.ncells;
    s->c_max_msg = s->c.max_msg;
    return 1;
}

/* A send through shm_ring_send, the two-part copy most callers use:
 * the bytes must land exactly in the cells reserve would have given. */
static void op_send_copy(prod_state_t *s, uint32_t len, uint16_t tag)
{
    static uint8_t src[8192]; /* > max_msg of the largest ring here */
    uint32_t mask = s->ncells - 1;
    uint64_t old_head = s->p.head;
    if (len > sizeof(src)) {
        len = sizeof(src);
    }
    for (uint32_t i = 0; i < len; ++i) {
        src[i] = pattern_byte(s->msgno, i);
    }
    size_t alen = (size_t) len * (tag & 0x7fu) / 0x7fu;

    fuzz_snap(&s->mem, s->snap);
    int rc = shm_ring_send(&s->p, tag, src, alen, src + alen, len - alen);
    fuzz_trace("send   %u bytes in %zu+%zu: %d, head %llu -> %llu%s", len, alen, len - alen, rc,
               (unsigned long long) old_head, (unsigned long long) s->p.head, s->tainted ? " (tainted)" : "");
    FUZZ_CHECK(rc == 0 || rc == -EAGAIN || rc == -EMSGSIZE);
    FUZZ_CHECK((rc == -EMSGSIZE) == (len > s->max_msg));
    if (rc != 0) {
        fuzz_diff_within(&s->mem, s->snap, NULL, 0);
        FUZZ_CHECK(s->p.head == old_head);
        FUZZ_CHECK(rc == -EMSGSIZE || s->tainted || s->qlen != 0 || s->c.published != s->c.tail);
        return;
    }
    uint32_t need = shm_ring_cells_for(len);
    uint32_t old_idx = (uint32_t) old_head & mask;
    uint32_t pad = old_idx + need > s->ncells ? s->ncells - old_idx : 0;
    uint32_t idx = (uint32_t) (old_head + pad) & mask;
    FUZZ_CHECK(s->p.head == old_head + pad + need && idx + need <= s->ncells);
    size_t allow[2][2] = {
        { SHM_RING_HEADER_SIZE + (size_t) old_idx * SHM_RING_CELL_SIZE, pad ? SHM_RING_MSG_HDR_SIZE : 0 },
        { SHM_RING_HEADER_SIZE + (size_t) idx * SHM_RING_CELL_SIZE, SHM_RING_MSG_HDR_SIZE + (size_t) len },
    };
    fuzz_diff_within(&s->mem, s->snap, (const size_t(*)[2]) allow, 2);
    const shm_ring_cell_hdr_t *h = shm_ring__cell(cells_of(s), idx);
    FUZZ_CHECK(atomic_load_explicit(&h->seq, memory_order_relaxed) == (uint32_t) (2 * (old_head + pad) + 1));
    FUZZ_CHECK(h->kind == SHM_RING_KIND_DATA && h->len == len && h->ncells == need && h->tag == tag);
    FUZZ_CHECK(memcmp((const uint8_t *) h + SHM_RING_MSG_HDR_SIZE, src, len) == 0);

    FUZZ_CHECK(s->qlen < QUEUE_MAX);
    sent_t *q = &s->queue[(s->qhead + s->qlen++) % QUEUE_MAX];
    q->msgno = s->msgno++;
    q->len = len;
    q->tag = tag;
}

static void op_send(prod_state_t *s, fuzz_in_t *in, int split)
{
    uint16_t raw = fin_u16(in);
    uint16_t tag = fin_u8(in);
    uint32_t len = (raw & FUZZ_LEN_RAW) ? (uint32_t) (raw & 0x7fffu) * 131071u : raw % (s->max_msg + 1u);
    uint32_t mask = s->ncells - 1;
    uint64_t old_head = s->p.head;
    void *payload = NULL;
    if (!split && (tag & 0x80u) && len <= s->max_msg + 1u) {
        op_send_copy(s, len, tag);
        return;
    }

    fuzz_snap(&s->mem, s->snap);
    int rc = shm_ring_reserve(&s->p, len, tag, &payload);
    fuzz_trace("send   %u bytes: reserve %d, head %llu -> %llu%s", len, rc, (unsigned long long) old_head,
               (unsigned long long) s->p.head, s->tainted ? " (tainted)" : "");
    FUZZ_CHECK(rc == 0 || rc == -EAGAIN || rc == -EMSGSIZE);
    FUZZ_CHECK((rc == -EMSGSIZE) == (len > s->max_msg));
    FUZZ_CHECK(s->p.ncells == s->ncells && s->p.max_msg == s->max_msg && s->p.cells == cells_of(s));
    if (rc != 0) {
        /* "nothing was written" */
        fuzz_diff_within(&s->mem, s->snap, NULL, 0);
        FUZZ_CHECK(s->p.head == old_head);
        if (rc == -EAGAIN && !s->tainted && s->qlen == 0 && s->c.published == s->c.tail) {
            fprintf(stderr, "fuzz: an empty ring of %u cells refused a %u-byte message (max_msg %u)\n",
                    s->ncells, len, s->max_msg);
            FUZZ_CHECK(!"an empty ring accepts any message up to max_msg");
        }
        return;
    }

    uint32_t need = shm_ring_cells_for(len);
    uint32_t old_idx = (uint32_t) old_head & mask;
    uint32_t pad = old_idx + need > s->ncells ? s->ncells - old_idx : 0;
    uint32_t idx = (uint32_t) s->p.head & mask;
    FUZZ_CHECK(s->p.head == old_head + pad);
    FUZZ_CHECK(idx + need <= s->ncells);
    FUZZ_CHECK((uint8_t *) payload == (uint8_t *) shm_ring__cell(cells_of(s), idx) + SHM_RING_MSG_HDR_SIZE);
    {
        size_t allow[1][2] = { { SHM_RING_HEADER_SIZE + (size_t) old_idx * SHM_RING_CELL_SIZE,
                                 SHM_RING_MSG_HDR_SIZE } };
        fuzz_diff_within(&s->mem, s->snap, (const size_t(*)[2]) allow, pad ? 1 : 0);
    }
    if (pad) {
        const shm_ring_cell_hdr_t *h = shm_ring__cell(cells_of(s), old_idx);
        FUZZ_CHECK(atomic_load_explicit(&h->seq, memory_order_relaxed) == (uint32_t) (2 * old_head + 1));
        FUZZ_CHECK(h->kind == SHM_RING_KIND_PAD && h->len == 0 && h->ncells == pad);
    }

    /* The caller fills all len bytes it was given: under ASan a payload
     * pointer reaching past the ring is reported right here. */
    for (uint32_t i = 0; i < len; ++i) {
        ((uint8_t *) payload)[i] = pattern_byte(s->msgno, i);
    }
    if (split) {
        op_write(s, in);
    }

    fuzz_snap(&s->mem, s->snap);
    shm_ring_commit(&s->p);
    {
        size_t allow[1][2] = { { SHM_RING_HEADER_SIZE + (size_t) idx * SHM_RING_CELL_SIZE,
                                 SHM_RING_MSG_HDR_SIZE } };
        fuzz_diff_within(&s->mem, s->snap, (const size_t(*)[2]) allow, 1);
    }
    const shm_ring_cell_hdr_t *h = shm_ring__cell(cells_of(s), idx);
    FUZZ_CHECK(atomic_load_explicit(&h->seq, memory_order_relaxed) == (uint32_t) (2 * (old_head + pad) + 1));
    FUZZ_CHECK(h->kind == SHM_RING_KIND_DATA && h->len == len && h->ncells == need && h->tag == tag);
    FUZZ_CHECK(s->p.head == old_head + pad + need);
    if (!s->tainted) {
        FUZZ_CHECK(shm_ring_producer_used(&s->p) <= s->ncells);
    }

    FUZZ_CHECK(s->qlen < QUEUE_MAX);
    sent_t *q = &s->queue[(s->qhead + s->qlen++) % QUEUE_MAX];
    q->msgno = s->msgno++;
    q->len = len;
    q->tag = tag;
}

static void op_consume(prod_state_t *s, fuzz_in_t *in)
{
    uint32_t n = fin_u8(in) % 32u + 1u;
    for (uint32_t k = 0; k < n; ++k) {
        shm_ring_msg_t m;
        int rc = shm_ring_peek(&s->c, &m);
        fuzz_trace("peek   %d: len %u", rc, rc == 1 ? m.len : 0);
        FUZZ_CHECK(rc == 1 || rc == 0 || rc == -EBADMSG);
        if (rc == -EBADMSG) {
            FUZZ_CHECK(s->tainted);
            return;
        }
        if (rc == 0) {
            FUZZ_CHECK(s->tainted || s->qlen == 0);
            return;
        }
        const uint8_t *lo = cells_of(s), *hi = lo + (size_t) s->c_ncells * SHM_RING_CELL_SIZE;
        const uint8_t *d = m.data;
        FUZZ_CHECK(s->c.ncells == s->c_ncells && s->c.max_msg == s->c_max_msg && m.len <= s->c_max_msg);
        FUZZ_CHECK(d >= lo + SHM_RING_MSG_HDR_SIZE && d <= hi && (size_t) (hi - d) >= m.len);
        if (!s->tainted) {
            FUZZ_CHECK(s->qlen > 0);
            const sent_t *q = &s->queue[s->qhead];
            FUZZ_CHECK(m.len == q->len && m.tag == q->tag);
            for (uint32_t i = 0; i < m.len; ++i) {
                FUZZ_CHECK(d[i] == pattern_byte(q->msgno, i));
            }
        }
        if (s->qlen > 0) {
            s->qhead = (s->qhead + 1) % QUEUE_MAX;
            s->qlen--;
        }
        shm_ring_release(&s->c, &m);
    }
}

static int op_attach(prod_state_t *s)
{
    /* shm_ring_producer_attach resumes at the published consumer position:
     * over unconsumed or unpublished messages the outcome is the caller's
     * fault, not a library bug. */
    if (s->qlen != 0 || s->c.published != s->c.tail) {
        s->tainted = 1;
    }
    s->qhead = s->qlen = 0;
    return attach_producer(s);
}

static void op_close(prod_state_t *s)
{
    fuzz_snap(&s->mem, s->snap);
    shm_ring_producer_close(&s->p);
    size_t allow[1][2] = { { offsetof(shm_ring_shared_t, producer_state), sizeof(uint32_t) } };
    fuzz_diff_within(&s->mem, s->snap, (const size_t(*)[2]) allow, 1);
    int rc = shm_ring_consumer_drained_closed(&s->c);
    fuzz_trace("close  drained_closed %d", rc);
    FUZZ_CHECK(rc == 0 || rc == 1);
    if (!s->tainted) {
        FUZZ_CHECK(rc == (s->qlen == 0));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_in_t in = { data, size };
    fuzz_geom_t g;
    prod_state_t *s = calloc(1, sizeof(*s));
    FUZZ_CHECK(s != NULL);
    fuzz_geom_decode(&in, &g);
    fuzz_mem_alloc(&s->mem, g.region);
    s->snap = malloc(g.region);
    FUZZ_CHECK(s->snap != NULL);
    FUZZ_CHECK(shm_ring_init(s->mem.base, s->mem.size, g.ncells, g.max_msg, g.batch, NULL) == 0);

    int tried = 0;
    while (in.n > 0) {
        uint8_t op = fin_u8(&in) % PROD_NOPS;
        if (op == PROD_OP_WRITE) {
            op_write(s, &in);
        } else {
            if (!tried) {
                tried = 1;
                s->attached = first_attach(s);
            } else if (op == PROD_OP_ATTACH) {
                s->attached = op_attach(s);
            }
            if (!s->attached) {
                break;
            }
            switch (op) {
            case PROD_OP_SEND:
                op_send(s, &in, 0);
                break;
            case PROD_OP_SPLIT:
                op_send(s, &in, 1);
                break;
            case PROD_OP_CONSUME:
                op_consume(s, &in);
                break;
            case PROD_OP_CLOSE:
                op_close(s);
                break;
            default:
                break;
            }
        }
        fuzz_mem_check(&s->mem);
    }
    if (!tried) {
        first_attach(s);
    }
    free(s->snap);
    fuzz_mem_free(&s->mem);
    free(s);
    return 0;
}
