/*
 * fuzz_ring: the consumer side of a ring facing a hostile producer.  The
 * input picks a geometry, then is a program of ops (fuzz_common.h) that
 * overwrite the ring's shared header and cells with arbitrary bytes or with
 * plausible commits, attach a consumer, and peek/release with the memory
 * rewritten between (and during) peeks, as a producer in another process
 * could.  It owns the invariants the consumer promises whatever the shared
 * memory holds: attach accepts exactly the valid headers; peek returns 1, 0
 * or -EBADMSG, and -EBADMSG for good once returned; a message lies inside
 * the cells of the attached geometry, at the consumer's position, no longer
 * than max_msg; and peek and release write only the seq words and the
 * consumer position the protocol gives them.
 */
#include "fuzz_common.h"

typedef struct cons_state {
    fuzz_mem_t mem;
    uint8_t *snap;
    shm_ring_consumer_t c;
    int attached;
    int broken_seen; /* a peek returned -EBADMSG on this handle */
    /* Geometry as attach validated it; the handle must keep using it even
     * after the shared header is rewritten. */
    uint32_t ncells, max_msg;
    int tolerate_sticky;
} cons_state_t;

static uint8_t *cells_of(cons_state_t *s)
{
    return s->mem.base + SHM_RING_HEADER_SIZE;
}

/* The position a CELL op counts from: the consumer's when attached, else
 * whatever the header says the consumer will start from. */
static uint64_t cell_base(cons_state_t *s)
{
    if (s->attached) {
        return s->c.tail;
    }
    shm_ring_shared_t *sh = (shm_ring_shared_t *) s->mem.base;
    return atomic_load_explicit(&sh->tail, memory_order_relaxed);
}

/* A commit as an honest producer would make it, with the kind, length and
 * cell count left to the input so that near-valid cells are common. */
static void op_cell(cons_state_t *s, fuzz_in_t *in, uint32_t init_ncells)
{
    uint8_t k = fin_u8(in), kind = fin_u8(in);
    uint16_t len = fin_u16(in);
    int8_t dcells = (int8_t) fin_u8(in);
    uint32_t ncells = s->attached ? s->ncells : init_ncells;
    uint64_t pos = cell_base(s) + k;
    shm_ring_cell_hdr_t *h = shm_ring__cell(cells_of(s), (uint32_t) pos & (ncells - 1));
    h->len = len;
    h->ncells = shm_ring_cells_for(len) + (uint32_t) (int32_t) dcells;
    h->kind = kind;
    h->reserved = 0;
    h->tag = k;
    atomic_store_explicit(&h->seq, (uint32_t) (2 * pos + 1), memory_order_release);
    fuzz_trace("cell   pos %llu (cell %u): kind %u len %u ncells %u", (unsigned long long) pos,
               (uint32_t) pos & (ncells - 1), kind, len, h->ncells);
}

static void op_mutate(cons_state_t *s, fuzz_in_t *in, uint32_t init_ncells)
{
    if (fin_u8(in) & 1) {
        op_cell(s, in, init_ncells);
    } else {
        fuzz_mem_write(&s->mem, in);
    }
}

static void do_attach(cons_state_t *s)
{
    shm_error_t err;
    memset(&err, 0, sizeof(err));
    int rc = shm_ring_consumer_attach(&s->c, s->mem.base, s->mem.size, &err);
    fuzz_check_attach_result(rc, &err, s->mem.base, s->mem.size);
    fuzz_trace("attach %d%s%s", rc, rc ? ": " : "", rc ? err.msg : "");
    s->attached = rc == 0;
    s->broken_seen = 0;
    if (rc == 0) {
        const shm_ring_shared_t *sh = (const shm_ring_shared_t *) s->mem.base;
        s->ncells = sh->ncells;
        s->max_msg = sh->max_msg;
        FUZZ_CHECK(s->c.ncells == s->ncells && s->c.max_msg == s->max_msg);
        FUZZ_CHECK(s->c.batch == sh->batch && s->c.cells == cells_of(s));
        FUZZ_CHECK(s->c.tail == atomic_load_explicit(&sh->tail, memory_order_relaxed));
        FUZZ_CHECK(s->c.broken == 0);
    }
}

/* Calls that may not even look at memory they are not given. */
static void attach_misuse(cons_state_t *s)
{
    shm_ring_consumer_t c;
    shm_error_t err;
    FUZZ_CHECK(shm_ring_consumer_attach(&c, NULL, s->mem.size, &err) == -EINVAL);
    FUZZ_CHECK(shm_ring_consumer_attach(&c, s->mem.base + 8, s->mem.size - 8, &err) == -EINVAL);
    FUZZ_CHECK(shm_ring_consumer_attach(&c, s->mem.base, SHM_RING_HEADER_SIZE - 1, &err) == -EINVAL);
}

/* Reads every payload byte, as a caller copying the message out would, so
 * that a message reaching past the ring is an ASan report at the read. */
static uint32_t touch(const shm_ring_msg_t *m)
{
    const volatile uint8_t *p = m->data;
    uint32_t sum = 0;
    for (uint32_t i = 0; i < m->len; ++i) {
        sum += p[i];
    }
    return sum;
}

static void op_peek(cons_state_t *s, fuzz_in_t *in, uint32_t init_ncells)
{
    uint8_t flags = fin_u8(in);
    shm_ring_msg_t m;
    uint64_t before = s->c.tail;
    uint32_t mask = s->ncells - 1;
    memset(&m, 0, sizeof(m));

    fuzz_snap(&s->mem, s->snap);
    int rc = shm_ring_peek(&s->c, &m);
    fuzz_trace("peek   %d: tail %llu -> %llu, len %u ncells %u", rc, (unsigned long long) before,
               (unsigned long long) s->c.tail, rc == 1 ? m.len : 0, rc == 1 ? m.ncells : 0);
    uint32_t sum = rc == 1 ? touch(&m) : 0;
    (void) sum;

    {
        /* Peek writes only when it consumes pads, which start at the old
         * position or (after a first pad) at cell 0: their seq words go to
         * zero, and the position may be published. */
        uint32_t pads[2] = { (uint32_t) before & mask, 0 };
        size_t allow[3][2] = { { offsetof(shm_ring_shared_t, tail), sizeof(uint64_t) } };
        for (int i = 0; i < 2; ++i) {
            size_t off = SHM_RING_HEADER_SIZE + (size_t) pads[i] * SHM_RING_CELL_SIZE;
            uint32_t now;
            memcpy(&now, s->mem.base + off, sizeof(now));
            FUZZ_CHECK(now == 0 || memcmp(s->snap + off, &now, sizeof(now)) == 0);
            allow[1 + i][0] = off;
            allow[1 + i][1] = sizeof(uint32_t);
        }
        fuzz_diff_within(&s->mem, s->snap, (const size_t(*)[2]) allow, 3);
    }

    FUZZ_CHECK(rc == 1 || rc == 0 || rc == -EBADMSG);
    if (s->broken_seen && !s->tolerate_sticky) {
        /* shm_ring.h: "the ring then stays unusable: every later call
         * returns -EBADMSG". */
        FUZZ_CHECK(rc == -EBADMSG);
    }
    /* The position moves only past pads, which end at the ring's end. */
    uint64_t moved = s->c.tail - before;
    FUZZ_CHECK(moved == 0 || ((s->c.tail & mask) == 0 && moved <= 2 * (uint64_t) s->ncells));
    FUZZ_CHECK(s->c.ncells == s->ncells && s->c.max_msg == s->max_msg && s->c.cells == cells_of(s));

    if (rc == -EBADMSG) {
        FUZZ_CHECK(s->c.broken);
        s->broken_seen = 1;
        return;
    }
    const shm_ring_cell_hdr_t *h = shm_ring__cell(cells_of(s), (uint32_t) s->c.tail & mask);
    if (rc == 0) {
        FUZZ_CHECK((atomic_load_explicit(&h->seq, memory_order_relaxed) & 1u) == 0);
        FUZZ_CHECK(s->c.published == s->c.tail);
        return;
    }

    /* rc == 1: the message is the one at the consumer's position, whole,
     * inside the cells of the attached geometry. */
    const uint8_t *lo = cells_of(s), *hi = lo + (size_t) s->ncells * SHM_RING_CELL_SIZE;
    const uint8_t *d = m.data;
    FUZZ_CHECK(m.len <= s->max_msg);
    FUZZ_CHECK(d >= lo + SHM_RING_MSG_HDR_SIZE && d <= hi && (size_t) (hi - d) >= m.len);
    FUZZ_CHECK(d == (const uint8_t *) h + SHM_RING_MSG_HDR_SIZE);
    FUZZ_CHECK(m.ncells == shm_ring_cells_for(m.len));
    FUZZ_CHECK(((uint32_t) s->c.tail & mask) + m.ncells <= s->ncells);
    FUZZ_CHECK(atomic_load_explicit(&h->seq, memory_order_relaxed) == (uint32_t) (2 * s->c.tail + 1));
    FUZZ_CHECK(h->kind == SHM_RING_KIND_DATA && h->len == m.len && h->ncells == m.ncells && h->tag == m.tag);

    if (!(flags & PEEK_RELEASE)) {
        return;
    }
    if (flags & PEEK_RACE) {
        /* The producer rewrites memory while the message is processed;
         * release must rely only on what peek validated. */
        op_mutate(s, in, init_ncells);
    }
    before = s->c.tail;
    uint64_t published = s->c.published;
    fuzz_snap(&s->mem, s->snap);
    shm_ring_release(&s->c, &m);
    fuzz_trace("release %u cells", m.ncells);
    if (flags & PEEK_PUBLISH) {
        shm_ring_publish(&s->c);
        FUZZ_CHECK(s->c.published == s->c.tail);
    }
    FUZZ_CHECK(s->c.tail == before + m.ncells);
    {
        /* The released cells' seq words become zero (so that a stale word
         * can never pass for a header); nothing else changes but the
         * consumer position. */
        static size_t allow[1 + 512][2]; /* rings here have at most ~450 cells */
        FUZZ_CHECK(m.ncells < sizeof(allow) / sizeof(allow[0]));
        allow[0][0] = offsetof(shm_ring_shared_t, tail);
        allow[0][1] = sizeof(uint64_t);
        for (uint32_t i = 0; i < m.ncells; ++i) {
            const shm_ring_cell_hdr_t *c = shm_ring__cell(cells_of(s), ((uint32_t) before & mask) + i);
            FUZZ_CHECK(atomic_load_explicit(&c->seq, memory_order_relaxed) == 0);
            allow[1 + i][0] = (size_t) ((const uint8_t *) c - s->mem.base);
            allow[1 + i][1] = sizeof(uint32_t);
        }
        fuzz_diff_within(&s->mem, s->snap, (const size_t(*)[2]) allow, 1 + m.ncells);
    }
    if (s->c.published != published) {
        const shm_ring_shared_t *sh = (const shm_ring_shared_t *) s->mem.base;
        FUZZ_CHECK(atomic_load_explicit(&sh->tail, memory_order_relaxed) == s->c.tail);
    }
}

static void op_close(cons_state_t *s, fuzz_in_t *in)
{
    shm_ring_shared_t *sh = (shm_ring_shared_t *) s->mem.base;
    uint32_t state = fin_u8(in) % 3u;
    atomic_store_explicit(&sh->producer_state, state, memory_order_release);
    int was_broken = s->c.broken;
    int rc = shm_ring_consumer_drained_closed(&s->c);
    fuzz_trace("close  state %u: drained_closed %d", state, rc);
    FUZZ_CHECK(rc == 0 || rc == 1);
    if (rc == 1) {
        FUZZ_CHECK(state == SHM_RING_PRODUCER_CLOSED);
        if (!s->tolerate_sticky) {
            FUZZ_CHECK(!was_broken);
        }
    }
    if (s->c.broken) {
        s->broken_seen = 1;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int tolerate = -1;
    if (tolerate < 0) {
        tolerate = fuzz_known_bug("sticky_broken");
    }
    fuzz_in_t in = { data, size };
    fuzz_geom_t g;
    cons_state_t s;
    memset(&s, 0, sizeof(s));
    s.tolerate_sticky = tolerate;
    fuzz_geom_decode(&in, &g);
    fuzz_mem_alloc(&s.mem, g.region);
    s.snap = malloc(g.region);
    FUZZ_CHECK(s.snap != NULL);
    FUZZ_CHECK(shm_ring_init(s.mem.base, s.mem.size, g.ncells, g.max_msg, g.batch, NULL) == 0);
    attach_misuse(&s);

    int tried = 0; /* an attach was attempted: it is lazy, after the
                    * leading ops that shape the header it validates */
    while (in.n > 0) {
        uint8_t op = fin_u8(&in) % CONS_NOPS;
        if (op == CONS_OP_WRITE) {
            fuzz_trace("write");
            fuzz_mem_write(&s.mem, &in);
        } else if (op == CONS_OP_CELL) {
            op_cell(&s, &in, g.ncells);
        } else {
            if (!tried || op == CONS_OP_ATTACH) {
                tried = 1;
                do_attach(&s);
            }
            if (!s.attached) {
                break;
            }
            if (op == CONS_OP_PEEK) {
                op_peek(&s, &in, g.ncells);
            } else if (op == CONS_OP_CLOSE) {
                op_close(&s, &in);
            }
        }
        fuzz_mem_check(&s.mem);
    }
    if (!tried) {
        do_attach(&s);
    }
    free(s.snap);
    fuzz_mem_free(&s.mem);
    return 0;
}
