/*
 * shm_ring: single-producer/single-consumer message rings in shared memory,
 * the segments that hold them, and a liveness watch on the peer process.
 * This header is the whole public interface of libshmring.  The library is
 * plain C11 + Linux system calls: it knows nothing of MPI, and it places its
 * rings in memory the caller provides (usually part of a shm_segment), so a
 * front end decides how many rings a segment holds and where.
 *
 * Thread safety
 *   - A producer handle (shm_ring_producer_t) may be used by one thread at a
 *     time; callers that send from several threads serialise around it.
 *   - A consumer handle (shm_ring_consumer_t) likewise belongs to one thread
 *     at a time.
 *   - The producer and the consumer of one ring run concurrently, in two
 *     processes or two threads, with no lock: that is the point of the ring.
 *   - Segment and peer functions are thread-safe on distinct objects.
 *
 * Wire layout of a ring (all offsets from the ring's start, 64-byte lines)
 *   line 0  constant header written once by shm_ring_init (magic, version,
 *           geometry); validated by every attach.
 *   line 1  the consumer's published position (written by the consumer in
 *           batches, read by the producer only when the ring looks full).
 *   line 2  written rarely: the producer's state (attached/closed) and the
 *           consumer's request to be notified (see shm_ring_consumer_sleep).
 *   then    ncells cells of SHM_RING_CELL_SIZE bytes.  A message occupies
 *           1..n consecutive cells and never wraps: the first cell starts
 *           with a 16-byte shm_ring_cell_hdr, the payload follows
 *           contiguously.  A PAD message fills the tail of the ring when the
 *           next message would not fit before the end.
 *
 * Publication protocol (the invariant every function below preserves)
 *   A cell whose first word is even is free.  The producer writes the header
 *   fields and payload, then stores seq = 2*pos+1 (pos = the message's
 *   free-running cell index) with release ordering; the consumer polls only
 *   that word with acquire ordering, so it never reads the producer's index.
 *   After use the consumer stores 0 into the first word of every cell of the
 *   message, then (in batches) publishes its position with release ordering;
 *   the producer's acquire load of that position orders those clears before
 *   its next writes.  Hence a stale payload word can never be mistaken for a
 *   header: every cell the consumer can reach is either cleared or freshly
 *   published for exactly this position.
 */
#ifndef SHM_RING_H
#define SHM_RING_H

#include <errno.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Errors                                                                    */

/* Every fallible call returns 0 or a negative errno value and, when given a
 * shm_error_t, fills msg with a sentence naming the cause and the remedy. */
typedef struct shm_error {
    int code;       /* negative errno, same as the return value */
    char msg[256];
} shm_error_t;

/* ------------------------------------------------------------------------ */
/* Segments                                                                  */

enum shm_segment_kind {
    SHM_SEGMENT_AUTO = 0,  /* memfd if the kernel has it, else POSIX shm   */
    SHM_SEGMENT_MEMFD = 1, /* anonymous memfd: no name ever exists         */
    SHM_SEGMENT_POSIX = 2, /* /dev/shm name, removed once all peers attach */
};

enum shm_segment_flags {
    /* Allocate every page now (fallocate) so that a full tmpfs is reported
     * as ENOSPC at creation, never as SIGBUS on first touch. */
    SHM_SEGMENT_PREALLOCATE = 1u << 0,
};

#define SHM_SEGMENT_NAME_MAX 64

/* What a peer needs to attach a segment: plain bytes, safe to publish. */
typedef struct shm_segment_desc {
    uint32_t kind;
    int32_t pid;    /* creator */
    int32_t fd;     /* creator's descriptor number (memfd)  */
    uint32_t nattach; /* POSIX: attaches after which the name is removed */
    uint64_t size;
    uint64_t id;    /* random; also stored in the segment, checked by attach */
    char name[SHM_SEGMENT_NAME_MAX]; /* POSIX: /dev/shm name */
} shm_segment_desc_t;

typedef struct shm_segment {
    void *base;
    size_t size;
    int fd;      /* -1 once closed */
    int kind;
    int owner;   /* 1 in the creating process */
    pid_t pid;   /* creator */
    char name[SHM_SEGMENT_NAME_MAX];
    _Atomic uint32_t *attach_count; /* POSIX: in the segment's first page */
    uint32_t nattach;
    uint64_t id;
} shm_segment_t;

/* Bytes at the start of every segment reserved for the library's own
 * bookkeeping; callers place their data at or after this offset. */
#define SHM_SEGMENT_RESERVED 64

/* Create and map a segment of at least size bytes (rounded up to pages).
 * nattach: how many other processes will attach (POSIX kind: the last of
 * them removes the name; ignored for memfd).  tag: a short word that goes
 * into the POSIX name so an administrator can tell whose file it is. */
int shm_segment_create(shm_segment_t *seg, size_t size, int kind, unsigned flags,
                       uint32_t nattach, const char *tag, shm_error_t *err);

void shm_segment_describe(const shm_segment_t *seg, shm_segment_desc_t *desc);

/* Map a peer's segment.  memfd: pidfd_getfd(), falling back to
 * /proc/PID/fd/N; both need the same ptrace-read permission over the
 * creator that process_vm_readv needs.  POSIX: shm_open by name.  The
 * segment's random id must match the description's: a descriptor number
 * reused by the creator after shm_segment_seal gives -ESTALE, never a
 * mapping of some other file. */
int shm_segment_attach(shm_segment_t *seg, const shm_segment_desc_t *desc, shm_error_t *err);

/* Stop further attaches: close the memfd, or remove the POSIX name.  The
 * mapping stays valid.  Idempotent. */
void shm_segment_seal(shm_segment_t *seg);

/* Unmap and close; the creator also removes a POSIX name still present. */
void shm_segment_detach(shm_segment_t *seg);

/* Enter the pages of [offset, offset + len) of a mapped segment into this
 * process's page tables now, writable, instead of one fault per page at
 * first use.  Pages nobody has written yet are allocated, so call it only
 * for memory that is used at once.  Returns 0 or a negative errno (-EINVAL
 * for a range outside the segment). */
int shm_segment_prefault(shm_segment_t *seg, size_t offset, size_t len);

/* ------------------------------------------------------------------------ */
/* Peer liveness                                                             */

typedef struct shm_peer {
    pid_t pid;
    int pidfd; /* -1 when the kernel has no pidfd_open: kill(pid, 0) is used */
} shm_peer_t;

int shm_peer_watch(shm_peer_t *peer, pid_t pid, shm_error_t *err);
/* The same without holding a descriptor (kill(pid, 0), which cannot tell a
 * reused pid): for a process that cannot spend one descriptor per peer. */
int shm_peer_watch_nofd(shm_peer_t *peer, pid_t pid, shm_error_t *err);
/* 1 alive, 0 exited (or was killed), negative errno on failure.  One poll()
 * system call: call it when a ring has been idle, not on every poll. */
int shm_peer_alive(const shm_peer_t *peer);
void shm_peer_unwatch(shm_peer_t *peer);

/* ------------------------------------------------------------------------ */
/* Rings                                                                     */

#define SHM_RING_CELL_SIZE 64u
#define SHM_RING_MAGIC 0x676e6972336d6873ull /* "shm3ring" */
/* 2: line 2 carries the consumer's notification request. */
#define SHM_RING_VERSION 2u
#define SHM_RING_HEADER_SIZE (3u * SHM_RING_CELL_SIZE)
#define SHM_RING_MIN_CELLS 4u
#define SHM_RING_MAX_CELLS (1u << 24)

enum shm_ring_kind { SHM_RING_KIND_DATA = 1, SHM_RING_KIND_PAD = 2 };
enum shm_ring_producer_state { SHM_RING_PRODUCER_NONE = 0, SHM_RING_PRODUCER_ATTACHED = 1, SHM_RING_PRODUCER_CLOSED = 2 };

/* Header at the start of a message's first cell. */
typedef struct shm_ring_cell_hdr {
    _Atomic uint32_t seq; /* 2*pos+1 when published, even when free */
    uint32_t len;         /* payload bytes */
    uint32_t ncells;      /* cells the message occupies, header included */
    uint8_t kind;         /* enum shm_ring_kind */
    uint8_t reserved;
    uint16_t tag;         /* opaque to the ring */
} shm_ring_cell_hdr_t;

#define SHM_RING_MSG_HDR_SIZE ((uint32_t) sizeof(shm_ring_cell_hdr_t))

typedef struct shm_ring_shared {
    /* line 0: geometry, constant after init */
    uint64_t magic;
    uint32_t version;
    uint32_t ncells;
    uint32_t cell_size;
    uint32_t max_msg;
    uint32_t batch;
    uint32_t pad0[9];
    /* line 1: consumer position */
    _Atomic uint64_t tail;
    uint64_t pad1[7];
    /* line 2: rarely written */
    _Atomic uint32_t producer_state;
    _Atomic uint32_t notify; /* 1: the consumer stopped polling, tell it of messages */
    uint32_t pad2[14];
} shm_ring_shared_t;

_Static_assert(sizeof(shm_ring_cell_hdr_t) == 16, "cell header is part of the wire format");
_Static_assert(sizeof(shm_ring_shared_t) == SHM_RING_HEADER_SIZE, "ring header is part of the wire format");
_Static_assert(offsetof(shm_ring_shared_t, tail) == 64, "consumer line");
_Static_assert(offsetof(shm_ring_shared_t, producer_state) == 128, "producer line");

typedef struct shm_ring_producer {
    shm_ring_shared_t *shared;
    uint8_t *cells;
    uint32_t ncells;
    uint32_t mask;
    uint32_t max_msg;
    uint64_t head;        /* next free position (free-running) */
    uint64_t tail_cache;  /* last consumer position seen */
    uint64_t pending_pos; /* reserved, not yet committed */
    uint32_t pending_cells;
    uint32_t pending_len;
    uint16_t pending_tag;
    uint64_t full_events; /* reservations refused for lack of space */
} shm_ring_producer_t;

typedef struct shm_ring_consumer {
    shm_ring_shared_t *shared;
    uint8_t *cells;
    uint32_t ncells;
    uint32_t mask;
    uint32_t max_msg;
    uint32_t batch;
    uint64_t tail;      /* next position to read */
    uint64_t published; /* last position stored into shared->tail */
    int broken;         /* a corrupted cell was seen: ring unusable */
} shm_ring_consumer_t;

/* A message handed out by shm_ring_peek; valid until shm_ring_release. */
typedef struct shm_ring_msg {
    void *data;
    uint32_t len;
    uint16_t tag;
    uint32_t ncells;
} shm_ring_msg_t;

/* Bytes a ring of ncells cells needs (header included). */
size_t shm_ring_memsize(uint32_t ncells);

/* Largest payload a ring of ncells cells accepts when max_msg is 0 in
 * shm_ring_init: half the ring, so a message always fits after a pad. */
uint32_t shm_ring_max_payload(uint32_t ncells);

/* Format memory as an empty ring.  ncells: power of two in
 * [SHM_RING_MIN_CELLS, SHM_RING_MAX_CELLS]; max_msg: largest payload, at
 * most shm_ring_max_payload(ncells) (0 = that maximum); batch: how many
 * cells the consumer may consume before publishing its position (0 = an
 * eighth of the ring). */
int shm_ring_init(void *mem, size_t memsize, uint32_t ncells, uint32_t max_msg,
                  uint32_t batch, shm_error_t *err);
/* The same for memory known to hold only zeros (a segment just created by
 * shm_segment_create): only the header is written, so a cell's page is
 * first touched by the first message that uses it, and rings that never
 * carry traffic cost address space, not memory. */
int shm_ring_init_zeroed(void *mem, size_t memsize, uint32_t ncells, uint32_t max_msg, uint32_t batch,
                         shm_error_t *err);

/* Validate a ring written by shm_ring_init (possibly by another process)
 * and build a handle.  The handle keeps only local copies of the geometry,
 * so later changes to the shared header cannot steer it out of bounds. */
int shm_ring_producer_attach(shm_ring_producer_t *p, void *mem, size_t memsize, shm_error_t *err);
int shm_ring_consumer_attach(shm_ring_consumer_t *c, void *mem, size_t memsize, shm_error_t *err);

/* Orderly shutdown: tells the consumer no more messages will come. */
void shm_ring_producer_close(shm_ring_producer_t *p);
/* 1 when the producer closed the ring and everything it sent was read. */
int shm_ring_consumer_drained_closed(shm_ring_consumer_t *c);

/* Slow path of reservation (full check against the shared position, pad
 * insertion); out of line, see shm_ring.c. */
int shm_ring_reserve_slow(shm_ring_producer_t *p, uint32_t need);
/* Decode and validate a cell that is not a plain in-bounds DATA message. */
int shm_ring_peek_slow(shm_ring_consumer_t *c, shm_ring_msg_t *msg, uint32_t seq);

static inline uint32_t shm_ring_cells_for(uint32_t len)
{
    return (uint32_t) (((uint64_t) len + SHM_RING_MSG_HDR_SIZE + SHM_RING_CELL_SIZE - 1) / SHM_RING_CELL_SIZE);
}

/* Where payloads land relative to 64-byte lines: ring memory is
 * SHM_RING_CELL_SIZE-aligned and every payload starts right after its
 * first cell's header, so a payload's byte k sits at an address congruent
 * to SHM_RING_MSG_HDR_SIZE + k modulo SHM_RING_CELL_SIZE.  Callers that
 * can choose where their data starts use this to line it up with the
 * buffer it is copied from. */
static inline size_t shm_ring_payload_line_offset(size_t k)
{
    return (SHM_RING_MSG_HDR_SIZE + k) % SHM_RING_CELL_SIZE;
}

static inline shm_ring_cell_hdr_t *shm_ring__cell(uint8_t *cells, uint32_t index)
{
    return (shm_ring_cell_hdr_t *) (cells + (size_t) index * SHM_RING_CELL_SIZE);
}

/* Reserve room for a len-byte message with the given tag; on success
 * *payload points at len writable bytes inside the ring and the caller must
 * call shm_ring_commit before any other reservation.  Returns 0, -EAGAIN
 * when the ring is full (retry after the consumer progresses; nothing was
 * written), or -EMSGSIZE when len exceeds the ring's max_msg. */
static inline int shm_ring_reserve(shm_ring_producer_t *p, uint32_t len, uint16_t tag, void **payload)
{
    if (__builtin_expect(len > p->max_msg, 0)) {
        return -EMSGSIZE;
    }
    uint32_t need = shm_ring_cells_for(len);
    uint32_t idx = (uint32_t) p->head & p->mask;
    /* Fast path: fits before the ring's end and within the space last known
     * to be free.  No shared load at all. */
    if (__builtin_expect(idx + need > p->ncells || p->head + need - p->tail_cache > p->ncells, 0)) {
        int rc = shm_ring_reserve_slow(p, need);
        if (rc != 0) {
            return rc;
        }
        idx = (uint32_t) p->head & p->mask;
    }
    p->pending_pos = p->head;
    p->pending_cells = need;
    p->pending_len = len;
    p->pending_tag = tag;
    *payload = (uint8_t *) shm_ring__cell(p->cells, idx) + SHM_RING_MSG_HDR_SIZE;
    return 0;
}

/* Publish the message reserved last. */
static inline void shm_ring_commit(shm_ring_producer_t *p)
{
    shm_ring_cell_hdr_t *h = shm_ring__cell(p->cells, (uint32_t) p->pending_pos & p->mask);
    h->len = p->pending_len;
    h->ncells = p->pending_cells;
    h->kind = SHM_RING_KIND_DATA;
    h->reserved = 0;
    h->tag = p->pending_tag;
    /* Release: the payload and the fields above become visible no later than
     * seq; pairs with the consumer's acquire load in shm_ring_peek. */
    atomic_store_explicit(&h->seq, (uint32_t) (2 * p->pending_pos + 1), memory_order_release);
    p->head = p->pending_pos + p->pending_cells;
}

/* Copy n bytes into a reserved message.  Below 128 bytes the copy is
 * inline and reads nothing outside [src, src + n): a first 64 bytes in four
 * 16-byte moves when n exceeds 64, then the rest as two fixed-size moves
 * that may overlap (first and last 4, 8, 16 or 32 bytes).  Why not memcpy:
 * on the development machine (AMD EPYC, glibc 2.36's AVX-512 memcpy)
 * copying 8-15 or 65-127 bytes from a buffer not in cache ran at a third to
 * half the message rate of the neighbouring sizes through MPI (8 B: 4.5
 * against 12 million messages per second; 80 B: 0.43 against 0.90 GB/s),
 * and these moves do not.  Overlapping 64-byte halves for 65-127 bytes
 * were measured too and made hot latency at 127 bytes 30 % worse, hence the
 * head-then-rest order.  always_inline: with the 65-127 byte branch gcc
 * stopped inlining it, which cost 3-7 % of small-message latency. */
struct shm_ring__b16 {
    uint64_t w[2];
};
static inline __attribute__((always_inline)) void shm_ring_copy(void *dst, const void *src, size_t n)
{
    uint8_t *d = (uint8_t *) dst;
    const uint8_t *s = (const uint8_t *) src;
    if (n >= 128) {
        memcpy(d, s, n);
        return;
    }
    if (n > 64) {
        struct shm_ring__b16 h0, h1, h2, h3;
        memcpy(&h0, s, 16);
        memcpy(&h1, s + 16, 16);
        memcpy(&h2, s + 32, 16);
        memcpy(&h3, s + 48, 16);
        memcpy(d, &h0, 16);
        memcpy(d + 16, &h1, 16);
        memcpy(d + 32, &h2, 16);
        memcpy(d + 48, &h3, 16);
        d += 64;
        s += 64;
        n -= 64;
    }
    if (n == 64) {
        memcpy(d, s, n);
    } else if (n >= 16) {
        /* The temporaries let the compiler use 16-byte moves; all loads
         * come before the stores, which is what makes overlap safe. */
        struct shm_ring__b16 a, b, c, e;
        if (n >= 32) {
            memcpy(&a, s, 16);
            memcpy(&b, s + 16, 16);
            memcpy(&c, s + n - 32, 16);
            memcpy(&e, s + n - 16, 16);
            memcpy(d, &a, 16);
            memcpy(d + 16, &b, 16);
            memcpy(d + n - 32, &c, 16);
            memcpy(d + n - 16, &e, 16);
        } else {
            memcpy(&a, s, 16);
            memcpy(&e, s + n - 16, 16);
            memcpy(d, &a, 16);
            memcpy(d + n - 16, &e, 16);
        }
    } else if (n >= 8) {
        uint64_t a, e;
        memcpy(&a, s, 8);
        memcpy(&e, s + n - 8, 8);
        memcpy(d, &a, 8);
        memcpy(d + n - 8, &e, 8);
    } else if (n >= 4) {
        uint32_t a, e;
        memcpy(&a, s, 4);
        memcpy(&e, s + n - 4, 4);
        memcpy(d, &a, 4);
        memcpy(d + n - 4, &e, 4);
    } else if (n) {
        uint8_t a = s[0], m = s[n / 2], e = s[n - 1];
        d[0] = a;
        d[n / 2] = m;
        d[n - 1] = e;
    }
}

/* Copy a message of up to two parts (e.g. a protocol header and a payload)
 * into the ring.  Returns 0, -EAGAIN or -EMSGSIZE as shm_ring_reserve. */
static inline int shm_ring_send(shm_ring_producer_t *p, uint16_t tag, const void *a, size_t alen,
                                const void *b, size_t blen)
{
    void *dst;
    if (alen + blen > UINT32_MAX) {
        return -EMSGSIZE;
    }
    int rc = shm_ring_reserve(p, (uint32_t) (alen + blen), tag, &dst);
    if (rc != 0) {
        return rc;
    }
    shm_ring_copy(dst, a, alen);
    shm_ring_copy((uint8_t *) dst + alen, b, blen);
    shm_ring_commit(p);
    return 0;
}

/* Publish the consumer's position now (also done automatically in batches
 * and whenever shm_ring_peek finds the ring empty). */
static inline void shm_ring_publish(shm_ring_consumer_t *c)
{
    if (c->published != c->tail) {
        /* Release: the cell clears made in shm_ring_release happen-before the
         * producer's acquire load of tail, so it never overwrites a cell
         * before we cleared it, and our clear never lands on its new data. */
        atomic_store_explicit(&c->shared->tail, c->tail, memory_order_release);
        c->published = c->tail;
    }
}

/* Look at the next message without consuming it.  Returns 1 and fills msg,
 * 0 when the ring is empty, or -EBADMSG when the next cell is corrupted
 * (the ring then stays unusable: every later call returns -EBADMSG). */
static inline int shm_ring_peek(shm_ring_consumer_t *c, shm_ring_msg_t *msg)
{
    uint32_t idx = (uint32_t) c->tail & c->mask;
    shm_ring_cell_hdr_t *h = shm_ring__cell(c->cells, idx);
    /* Acquire: pairs with the producer's release store of seq, making the
     * header and payload written before it visible here. */
    uint32_t seq = atomic_load_explicit(&h->seq, memory_order_acquire);
    /* broken is checked here too: a peer that rewrites a rejected cell into
     * a valid-looking one must not revive a ring we declared corrupted. */
    if (seq != (uint32_t) (2 * c->tail + 1) || __builtin_expect(c->broken, 0)) {
        /* Empty, the common answer of a poll: inline, no call.  Hand back
         * what we consumed so far, so that a producer waiting for space is
         * never stuck behind our batching. */
        if ((seq & 1u) == 0 && !c->broken) {
            shm_ring_publish(c);
            return 0;
        }
        return shm_ring_peek_slow(c, msg, seq);
    }
    /* Read each field once into locals and validate the copies: the peer
     * could rewrite the shared cell after these checks. */
    uint32_t len = h->len, ncells = h->ncells;
    uint8_t kind = h->kind;
    if (__builtin_expect(kind != SHM_RING_KIND_DATA || len > c->max_msg ||
                         ncells != shm_ring_cells_for(len) || idx + ncells > c->ncells, 0)) {
        return shm_ring_peek_slow(c, msg, seq);
    }
    msg->data = (uint8_t *) h + SHM_RING_MSG_HDR_SIZE;
    msg->len = len;
    msg->tag = h->tag;
    msg->ncells = ncells;
    return 1;
}

/* Consume the message last returned by shm_ring_peek. */
static inline void shm_ring_release(shm_ring_consumer_t *c, const shm_ring_msg_t *msg)
{
    uint32_t idx = (uint32_t) c->tail & c->mask;
    /* The first cell too: keeping its seq (a last-lap value the consumer
     * could tell from a new one) saved this store but halved the streaming
     * rate of 32-byte messages (bench/ring, 3.0e7 against 6.5-6.8e7 msg/s):
     * a line the producer finds modified in the consumer's cache comes back
     * faster than one it must take from shared. */
    for (uint32_t i = 0; i < msg->ncells; ++i) {
        /* Relaxed: ordered before the producer's reuse by the release store
         * of tail in shm_ring_publish. */
        atomic_store_explicit(&shm_ring__cell(c->cells, idx + i)->seq, 0, memory_order_relaxed);
    }
    c->tail += msg->ncells;
    if (c->tail - c->published >= c->batch) {
        shm_ring_publish(c);
    }
}

/* Notification, for consumers with many rings that poll only the busy
 * ones.  A consumer that stops polling a ring calls shm_ring_consumer_sleep;
 * a producer checks shm_ring_producer_notify_wanted after each commit and,
 * when it is set, tells the consumer by a means of the caller's own (the
 * library has no doorbell; a bit in shared memory does).  The producer side
 * has no fence (one per message would cost more than the polling it
 * saves), so a commit and a request that cross can both miss each other:
 * a notification may be lost, and the consumer must still look at its
 * sleeping rings now and then.  shm_ring_consumer_sleep narrows the window:
 * it returns 1 when a message had arrived before the request became
 * visible, and the caller should then keep polling. */
static inline int shm_ring_consumer_sleep(shm_ring_consumer_t *c)
{
    atomic_store_explicit(&c->shared->notify, 1u, memory_order_relaxed);
    /* Full fence: the request is globally visible before we look at the
     * ring once more (store-load order needs more than release/acquire). */
    atomic_thread_fence(memory_order_seq_cst);
    shm_ring_cell_hdr_t *h = shm_ring__cell(c->cells, (uint32_t) c->tail & c->mask);
    return atomic_load_explicit(&h->seq, memory_order_acquire) == (uint32_t) (2 * c->tail + 1) || c->broken;
}

/* The consumer polls the ring again: no notifications needed. */
static inline void shm_ring_consumer_wake(shm_ring_consumer_t *c)
{
    atomic_store_explicit(&c->shared->notify, 0u, memory_order_relaxed);
}

/* 1 when the consumer asked to be told of new messages.  Line 2 is written
 * only when the consumer falls asleep or wakes, so this load hits the cache
 * on every other call. */
static inline int shm_ring_producer_notify_wanted(const shm_ring_producer_t *p)
{
    return atomic_load_explicit(&p->shared->notify, memory_order_relaxed) != 0;
}

/* Cells currently holding unconsumed messages, as the producer sees them
 * (an upper bound: it uses the last published consumer position). */
static inline uint32_t shm_ring_producer_used(const shm_ring_producer_t *p)
{
    return (uint32_t) (p->head - atomic_load_explicit(&p->shared->tail, memory_order_acquire));
}

#ifdef __cplusplus
}
#endif

#endif /* SHM_RING_H */
