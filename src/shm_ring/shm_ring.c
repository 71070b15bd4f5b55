/*
 * The out-of-line half of the ring: formatting and validating a ring's
 * shared header, the producer's slow path (space check against the
 * consumer's published position, pad insertion at the ring's end) and the
 * consumer's slow path (empty ring, pads, corrupted cells).  The hot path
 * lives in shm_ring.h; the protocol it follows is described there.
 */
#define _GNU_SOURCE
#include "shm_ring.h"

#include <stdarg.h>
#include <stdio.h>

#include "shm_error.h"

#include <stdbool.h>

int shm_error_set(shm_error_t *err, int code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
        va_end(ap);
        err->code = code;
    }
    return code;
}

size_t shm_ring_memsize(uint32_t ncells)
{
    return SHM_RING_HEADER_SIZE + (size_t) ncells * SHM_RING_CELL_SIZE;
}

uint32_t shm_ring_max_payload(uint32_t ncells)
{
    /* A message of at most ncells/2 cells always fits into an empty ring,
     * even when it must be preceded by a pad. */
    return (ncells / 2) * SHM_RING_CELL_SIZE - SHM_RING_MSG_HDR_SIZE;
}

static int is_pow2(uint32_t x)
{
    return x && !(x & (x - 1));
}

static int check_geometry(uint32_t ncells, uint32_t max_msg, uint32_t batch, size_t memsize,
                          shm_error_t *err)
{
    if (!is_pow2(ncells) || ncells < SHM_RING_MIN_CELLS || ncells > SHM_RING_MAX_CELLS) {
        return shm_error_set(err, -EINVAL,
                             "ring cell count %u is invalid: it must be a power of two between %u and %u",
                             ncells, SHM_RING_MIN_CELLS, SHM_RING_MAX_CELLS);
    }
    if (max_msg > shm_ring_max_payload(ncells)) {
        return shm_error_set(err, -EINVAL,
                             "largest message %u bytes does not fit a ring of %u cells (at most %u bytes): "
                             "enlarge the ring or lower the message size",
                             max_msg, ncells, shm_ring_max_payload(ncells));
    }
    if (batch == 0 || batch > ncells / 2) {
        return shm_error_set(err, -EINVAL, "consumer batch %u is invalid for a ring of %u cells (1..%u)",
                             batch, ncells, ncells / 2);
    }
    if (memsize < shm_ring_memsize(ncells)) {
        return shm_error_set(err, -EINVAL, "ring of %u cells needs %zu bytes, only %zu given", ncells,
                             shm_ring_memsize(ncells), memsize);
    }
    return 0;
}

static int ring_format(void *mem, size_t memsize, uint32_t ncells, uint32_t max_msg, uint32_t batch, bool zeroed,
                       shm_error_t *err)
{
    if (mem == NULL || ((uintptr_t) mem % SHM_RING_CELL_SIZE) != 0) {
        return shm_error_set(err, -EINVAL, "ring memory must be non-NULL and %u-byte aligned",
                             SHM_RING_CELL_SIZE);
    }
    if (ncells != 0 && is_pow2(ncells)) {
        if (max_msg == 0) {
            max_msg = shm_ring_max_payload(ncells);
        }
        if (batch == 0) {
            batch = ncells / 8 ? ncells / 8 : 1;
        }
    }
    int rc = check_geometry(ncells, max_msg, batch, memsize, err);
    if (rc) {
        return rc;
    }
    shm_ring_shared_t *s = mem;
    /* Cells must start free (even seq); zeroed memory already is. */
    memset(mem, 0, zeroed ? SHM_RING_HEADER_SIZE : shm_ring_memsize(ncells));
    s->version = SHM_RING_VERSION;
    s->ncells = ncells;
    s->cell_size = SHM_RING_CELL_SIZE;
    s->max_msg = max_msg;
    s->batch = batch;
    atomic_store_explicit(&s->tail, 0, memory_order_relaxed);
    atomic_store_explicit(&s->producer_state, SHM_RING_PRODUCER_NONE, memory_order_relaxed);
    atomic_store_explicit(&s->notify, 0u, memory_order_relaxed);
    /* Magic last, with release: a peer that sees it sees a formatted ring. */
    atomic_thread_fence(memory_order_release);
    *(volatile uint64_t *) &s->magic = SHM_RING_MAGIC;
    return 0;
}

int shm_ring_init(void *mem, size_t memsize, uint32_t ncells, uint32_t max_msg, uint32_t batch,
                  shm_error_t *err)
{
    return ring_format(mem, memsize, ncells, max_msg, batch, false, err);
}

int shm_ring_init_zeroed(void *mem, size_t memsize, uint32_t ncells, uint32_t max_msg, uint32_t batch,
                         shm_error_t *err)
{
    return ring_format(mem, memsize, ncells, max_msg, batch, true, err);
}

/* Copy the geometry out of shared memory once and validate the copy. */
static int read_geometry(void *mem, size_t memsize, uint32_t *ncells, uint32_t *max_msg, uint32_t *batch,
                         shm_error_t *err)
{
    if (mem == NULL || ((uintptr_t) mem % SHM_RING_CELL_SIZE) != 0 || memsize < SHM_RING_HEADER_SIZE) {
        return shm_error_set(err, -EINVAL, "ring memory is NULL, misaligned or smaller than its header");
    }
    shm_ring_shared_t *s = mem;
    uint64_t magic = *(volatile uint64_t *) &s->magic;
    atomic_thread_fence(memory_order_acquire);
    if (magic != SHM_RING_MAGIC) {
        return shm_error_set(err, -EPROTO, "memory does not hold a ring (bad magic 0x%llx)",
                             (unsigned long long) magic);
    }
    uint32_t version = *(volatile uint32_t *) &s->version;
    uint32_t cell_size = *(volatile uint32_t *) &s->cell_size;
    if (version != SHM_RING_VERSION || cell_size != SHM_RING_CELL_SIZE) {
        return shm_error_set(err, -EPROTO,
                             "ring format version %u / cell size %u, this library speaks %u / %u: "
                             "all processes of a job must load the same btl-cma build",
                             version, cell_size, SHM_RING_VERSION, SHM_RING_CELL_SIZE);
    }
    *ncells = *(volatile uint32_t *) &s->ncells;
    *max_msg = *(volatile uint32_t *) &s->max_msg;
    *batch = *(volatile uint32_t *) &s->batch;
    return check_geometry(*ncells, *max_msg, *batch, memsize, err);
}

int shm_ring_producer_attach(shm_ring_producer_t *p, void *mem, size_t memsize, shm_error_t *err)
{
    uint32_t ncells, max_msg, batch;
    int rc = read_geometry(mem, memsize, &ncells, &max_msg, &batch, err);
    if (rc) {
        return rc;
    }
    memset(p, 0, sizeof(*p));
    p->shared = mem;
    p->cells = (uint8_t *) mem + SHM_RING_HEADER_SIZE;
    p->ncells = ncells;
    p->mask = ncells - 1;
    p->max_msg = max_msg;
    /* A producer may take over a ring whose previous producer left cleanly:
     * resume at the consumer's position only when everything was consumed. */
    p->head = p->tail_cache = atomic_load_explicit(&p->shared->tail, memory_order_acquire);
    atomic_store_explicit(&p->shared->producer_state, SHM_RING_PRODUCER_ATTACHED, memory_order_release);
    return 0;
}

int shm_ring_consumer_attach(shm_ring_consumer_t *c, void *mem, size_t memsize, shm_error_t *err)
{
    uint32_t ncells, max_msg, batch;
    int rc = read_geometry(mem, memsize, &ncells, &max_msg, &batch, err);
    if (rc) {
        return rc;
    }
    memset(c, 0, sizeof(*c));
    c->shared = mem;
    c->cells = (uint8_t *) mem + SHM_RING_HEADER_SIZE;
    c->ncells = ncells;
    c->mask = ncells - 1;
    c->max_msg = max_msg;
    c->batch = batch;
    c->tail = c->published = atomic_load_explicit(&c->shared->tail, memory_order_acquire);
    return 0;
}

void shm_ring_producer_close(shm_ring_producer_t *p)
{
    /* Release: every message committed before is visible before the close. */
    atomic_store_explicit(&p->shared->producer_state, SHM_RING_PRODUCER_CLOSED, memory_order_release);
}

int shm_ring_consumer_drained_closed(shm_ring_consumer_t *c)
{
    if (atomic_load_explicit(&c->shared->producer_state, memory_order_acquire) != SHM_RING_PRODUCER_CLOSED) {
        return 0;
    }
    shm_ring_msg_t m;
    return shm_ring_peek(c, &m) == 0;
}

int shm_ring_reserve_slow(shm_ring_producer_t *p, uint32_t need)
{
    uint32_t idx = (uint32_t) p->head & p->mask;
    uint32_t pad = idx + need > p->ncells ? p->ncells - idx : 0;
    uint64_t total = (uint64_t) pad + need;
    if (p->head + total - p->tail_cache > p->ncells) {
        /* Acquire: pairs with the consumer's release store in
         * shm_ring_publish; its cell clears are visible before we reuse the
         * cells. */
        p->tail_cache = atomic_load_explicit(&p->shared->tail, memory_order_acquire);
        if (p->head + total - p->tail_cache > p->ncells) {
            p->full_events++;
            return -EAGAIN;
        }
    }
    if (pad) {
        shm_ring_cell_hdr_t *h = shm_ring__cell(p->cells, idx);
        h->len = 0;
        h->ncells = pad;
        h->kind = SHM_RING_KIND_PAD;
        h->reserved = 0;
        h->tag = 0;
        atomic_store_explicit(&h->seq, (uint32_t) (2 * p->head + 1), memory_order_release);
        p->head += pad;
    }
    return 0;
}

int shm_ring_peek_slow(shm_ring_consumer_t *c, shm_ring_msg_t *msg, uint32_t seq)
{
    if (c->broken) {
        return -EBADMSG;
    }
    for (;;) {
        uint32_t idx = (uint32_t) c->tail & c->mask;
        shm_ring_cell_hdr_t *h = shm_ring__cell(c->cells, idx);
        if (seq != (uint32_t) (2 * c->tail + 1)) {
            if ((seq & 1u) == 0) {
                /* Empty: hand back whatever we consumed so far, so a producer
                 * waiting for space is never stuck behind our batching. */
                shm_ring_publish(c);
                return 0;
            }
            c->broken = 1;
            return -EBADMSG;
        }
        uint32_t len = h->len, ncells = h->ncells;
        uint8_t kind = h->kind;
        if (kind == SHM_RING_KIND_PAD) {
            if (len != 0 || ncells == 0 || idx + ncells != c->ncells) {
                c->broken = 1;
                return -EBADMSG;
            }
            atomic_store_explicit(&h->seq, 0, memory_order_relaxed);
            c->tail += ncells;
            if (c->tail - c->published >= c->batch) {
                shm_ring_publish(c);
            }
            h = shm_ring__cell(c->cells, 0);
            seq = atomic_load_explicit(&h->seq, memory_order_acquire);
            if (seq == (uint32_t) (2 * c->tail + 1)) {
                return shm_ring_peek(c, msg);
            }
            continue;
        }
        if (kind != SHM_RING_KIND_DATA || len > c->max_msg || ncells != shm_ring_cells_for(len) ||
            idx + ncells > c->ncells) {
            c->broken = 1;
            return -EBADMSG;
        }
        msg->data = (uint8_t *) h + SHM_RING_MSG_HDR_SIZE;
        msg->len = len;
        msg->tag = h->tag;
        msg->ncells = ncells;
        return 1;
    }
}
