/*
 * semantics: the point-to-point rules of MPI that a transport can break
 * even when single messages arrive intact.  Wildcard receives
 * (MPI_ANY_SOURCE, MPI_ANY_TAG) with their status fields and MPI_Get_count;
 * per-pair non-overtaking order of hundreds of mixed small and large
 * messages on one tag, with receives posted late and early; MPI_Ssend and
 * the synchronous rule that an Issend cannot complete before its receive is
 * posted; MPI_Sendrecv_replace; non-contiguous derived datatypes (vector,
 * indexed, struct with padding) on either or both sides at about 1 KiB,
 * 100 KiB and 5 MiB, checking data bytes and that gaps stay untouched; and
 * MPI_Probe, MPI_Iprobe, MPI_Mprobe and MPI_Improbe; large messages between
 * buffers at odd offsets on either side.  Runs on any number of ranks >= 2;
 * ranks pair as (r, r xor 1) where a phase needs pairs.
 */
#include "mpitest.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { PH_ANY = 21, PH_ORDER, PH_SSEND, PH_REPLACE, PH_DTYPE, PH_PROBE, PH_OFFSET };
enum { TAG_ANY_BASE = 100, TAG_ORDER = 200, TAG_READY = 201, TAG_SSEND = 202,
       TAG_GO = 203, TAG_REPLACE = 204, TAG_DTYPE = 205, TAG_OFFSET = 206, TAG_PROBE_BASE = 300 };

#define MiB ((size_t) 1 << 20)
#define GUARD 64

static uint64_t seed_of(int phase, int src, int dst, uint64_t idx)
{
    return mt_seed((uint64_t) phase, ((uint64_t) src << 20) | (uint64_t) dst, idx, 0);
}

/* Partner for pair phases, or -1 for the odd rank out. */
static int pair_peer(void)
{
    int p = mt_rank ^ 1;

    return p < mt_size ? p : -1;
}

/* ---- wildcards ------------------------------------------------------- */

static const size_t any_sizes[] = { 0, 1, 1000, 4097, 100 * 1024 + 3, 5 * MiB + 1 };
#define N_ANY (int) (sizeof(any_sizes) / sizeof(any_sizes[0]))

/* Every other rank sends N_ANY messages (tag encodes sender and index) to
 * root.  Pass 0 receives them all with MPI_ANY_SOURCE/MPI_ANY_TAG; pass 1
 * takes the sources one by one in descending order with MPI_ANY_TAG, so
 * the other senders' messages wait in the unexpected queue meanwhile. */
static void test_wildcards(int root, int pass)
{
    size_t cap = 5 * MiB + 1 + GUARD;
    unsigned char *buf = mt_malloc(cap);
    int k;

    if (mt_rank != root) {
        for (k = 0; k < N_ANY; k++) {
            size_t s = any_sizes[k];

            mt_fill(buf, s, seed_of(PH_ANY, mt_rank, root, (uint64_t) (pass << 8 | k)));
            MT_MPI(MPI_Send(buf, (int) s, MPI_BYTE, root, TAG_ANY_BASE + mt_rank * 8 + k,
                            MPI_COMM_WORLD));
        }
    } else {
        int *next = calloc((size_t) mt_size, sizeof(int));
        int n, total = (mt_size - 1) * N_ANY, order_src = mt_size - 1;

        if (!next)
            mt_fail("out of memory");
        for (n = 0; n < total; n++) {
            MPI_Status st;
            int want_src = MPI_ANY_SOURCE, src, tag, count, ints, idx;
            size_t s;

            if (pass == 1) {
                while (order_src == root || next[order_src] == N_ANY)
                    order_src--;
                want_src = order_src;
            }
            mt_guard_set(buf, cap);
            MT_MPI(MPI_Recv(buf, (int) cap, MPI_BYTE, want_src, MPI_ANY_TAG, MPI_COMM_WORLD, &st));
            src = st.MPI_SOURCE;
            tag = st.MPI_TAG;
            if (src < 0 || src >= mt_size || src == root)
                mt_fail("wildcard receive pass %d: status.MPI_SOURCE = %d", pass, src);
            if (pass == 1 && src != want_src)
                mt_fail("receive from %d with MPI_ANY_TAG: status.MPI_SOURCE = %d", want_src, src);
            if (tag - TAG_ANY_BASE < 0 || (tag - TAG_ANY_BASE) / 8 != src)
                mt_fail("wildcard receive pass %d: tag %d does not belong to source %d", pass, tag, src);
            idx = (tag - TAG_ANY_BASE) % 8;
            if (idx != next[src])
                mt_fail("wildcard receive pass %d: message %d from rank %d arrived when %d "
                        "was due (non-overtaking broken)", pass, idx, src, next[src]);
            next[src]++;
            s = any_sizes[idx];
            MT_MPI(MPI_Get_count(&st, MPI_BYTE, &count));
            if ((size_t) count != s)
                mt_fail("wildcard receive from %d tag %d: MPI_Get_count %d bytes, sent %zu",
                        src, tag, count, s);
            /* A count in MPI_INT is exact only when the size divides. */
            MT_MPI(MPI_Get_count(&st, MPI_INT, &ints));
            if (s % sizeof(int) == 0 ? ints != (int) (s / sizeof(int)) : ints != MPI_UNDEFINED)
                mt_fail("wildcard receive from %d: MPI_Get_count(MPI_INT) = %d for %zu bytes",
                        src, ints, s);
            mt_check(buf, s, seed_of(PH_ANY, src, root, (uint64_t) (pass << 8 | idx)),
                     "wildcard receive pass %d from rank %d tag %d", pass, src, tag);
            mt_guard_check(buf + s, GUARD, s, "wildcard receive");
        }
        free(next);
    }
    free(buf);
    MT_MPI(MPI_Barrier(MPI_COMM_WORLD));
}

/* ---- non-overtaking order -------------------------------------------- */

static const size_t order_cycle[] = { 0, 1, 17, 100, 1000, 4000, 4096, 4097, 8193,
                                      32769, 65537, 150001, 1048577, 3, 2 * MiB + 5, 64 };
#define N_CYCLE (sizeof(order_cycle) / sizeof(order_cycle[0]))
#define N_ORDER 400

static size_t order_size(int i)
{
    return order_cycle[(size_t) i % N_CYCLE];
}

/* One direction: sender streams N_ORDER messages on one tag mixing Send and
 * Isend; "late" makes the receiver start only after all were issued (the
 * eager ones arrive unexpected), otherwise all receives are pre-posted. */
static void order_one_way(int sender, int receiver, int late)
{
    size_t total = 0, off, maxs = 0;
    unsigned char *buf;
    MPI_Request *req;
    int i, n = 0;

    for (i = 0; i < N_ORDER; i++) {
        total += order_size(i);
        if (order_size(i) > maxs)
            maxs = order_size(i);
    }
    buf = mt_malloc(total + maxs + GUARD);
    req = mt_malloc(sizeof(*req) * N_ORDER);

    if (mt_rank == sender) {
        if (!late)
            MT_MPI(MPI_Recv(NULL, 0, MPI_BYTE, receiver, TAG_READY, MPI_COMM_WORLD, MPI_STATUS_IGNORE));
        for (i = 0, off = 0; i < N_ORDER; off += order_size(i), i++) {
            size_t s = order_size(i);

            mt_fill(buf + off, s, seed_of(PH_ORDER, sender, receiver, (uint64_t) (late << 16 | i)));
            /* MPI lets any blocking send wait for its receive, and the
             * late receiver waits for READY, so only Isend there. */
            if (i % 3 == 0 && !late)
                MT_MPI(MPI_Send(buf + off, (int) s, MPI_BYTE, receiver, TAG_ORDER, MPI_COMM_WORLD));
            else
                MT_MPI(MPI_Isend(buf + off, (int) s, MPI_BYTE, receiver, TAG_ORDER, MPI_COMM_WORLD,
                                 &req[n++]));
        }
        if (late)
            MT_MPI(MPI_Send(NULL, 0, MPI_BYTE, receiver, TAG_READY, MPI_COMM_WORLD));
        MT_MPI(MPI_Waitall(n, req, MPI_STATUSES_IGNORE));
    } else if (late) {
        MT_MPI(MPI_Recv(NULL, 0, MPI_BYTE, sender, TAG_READY, MPI_COMM_WORLD, MPI_STATUS_IGNORE));
        for (i = 0; i < N_ORDER; i++) {
            size_t s = order_size(i);
            MPI_Status st;
            int count;

            /* Room for the largest message: a wrong match would show in
             * the count rather than as a truncation error. */
            MT_MPI(MPI_Recv(buf, (int) maxs, MPI_BYTE, sender, TAG_ORDER, MPI_COMM_WORLD, &st));
            MT_MPI(MPI_Get_count(&st, MPI_BYTE, &count));
            if ((size_t) count != s)
                mt_fail("ordered stream (late receives) from %d: message %d has %d bytes, "
                        "expected %zu: messages overtook each other", sender, i, count, s);
            mt_check(buf, s, seed_of(PH_ORDER, sender, receiver, (uint64_t) (late << 16 | i)),
                     "ordered stream (late receives) from rank %d, message %d", sender, i);
        }
    } else {
        MPI_Status *st = mt_malloc(sizeof(*st) * N_ORDER);

        for (i = 0, off = 0; i < N_ORDER; off += order_size(i), i++)
            MT_MPI(MPI_Irecv(buf + off, (int) order_size(i), MPI_BYTE, sender, TAG_ORDER,
                             MPI_COMM_WORLD, &req[i]));
        MT_MPI(MPI_Send(NULL, 0, MPI_BYTE, sender, TAG_READY, MPI_COMM_WORLD));
        MT_MPI(MPI_Waitall(N_ORDER, req, st));
        for (i = 0, off = 0; i < N_ORDER; off += order_size(i), i++) {
            int count;

            MT_MPI(MPI_Get_count(&st[i], MPI_BYTE, &count));
            if ((size_t) count != order_size(i))
                mt_fail("ordered stream (pre-posted) from %d: message %d has %d bytes, "
                        "expected %zu", sender, i, count, order_size(i));
            mt_check(buf + off, order_size(i),
                     seed_of(PH_ORDER, sender, receiver, (uint64_t) (late << 16 | i)),
                     "ordered stream (pre-posted) from rank %d, message %d", sender, i);
        }
        free(st);
    }
    free(req);
    free(buf);
}

static void test_order(void)
{
    int peer = pair_peer(), late, lo, hi;

    if (peer >= 0) {
        lo = mt_rank < peer ? mt_rank : peer;
        hi = mt_rank < peer ? peer : mt_rank;
        for (late = 0; late < 2; late++) {
            order_one_way(lo, hi, late);
            order_one_way(hi, lo, late);
        }
    }
    MT_MPI(MPI_Barrier(MPI_COMM_WORLD));
}

/* ---- synchronous send ------------------------------------------------ */

static const size_t ssend_sizes[] = { 0, 1024, 100 * 1024, 5 * MiB };

static void test_ssend(void)
{
    int peer = pair_peer(), dir;
    unsigned char *buf = mt_malloc(5 * MiB + GUARD);
    size_t k;

    for (k = 0; peer >= 0 && k < sizeof(ssend_sizes) / sizeof(ssend_sizes[0]); k++) {
        size_t s = ssend_sizes[k];

        for (dir = 0; dir < 2; dir++) {
            int sender = (dir == 0) == (mt_rank < peer);
            uint64_t seed = seed_of(PH_SSEND, sender ? mt_rank : peer, sender ? peer : mt_rank, k << 1 | (unsigned) dir);

            if (sender) {
                MPI_Request req;
                double t;
                int done = 0;

                /* The receiver waits for GO before posting, so the Issend
                 * must stay incomplete however long we poll. */
                mt_fill(buf, s, seed);
                MT_MPI(MPI_Issend(buf, (int) s, MPI_BYTE, peer, TAG_SSEND, MPI_COMM_WORLD, &req));
                for (t = MPI_Wtime(); MPI_Wtime() - t < 0.02 && !done;)
                    MT_MPI(MPI_Test(&req, &done, MPI_STATUS_IGNORE));
                if (done)
                    mt_fail("MPI_Issend of %zu bytes to rank %d completed before the "
                            "receive was posted", s, peer);
                MT_MPI(MPI_Send(NULL, 0, MPI_BYTE, peer, TAG_GO, MPI_COMM_WORLD));
                MT_MPI(MPI_Wait(&req, MPI_STATUS_IGNORE));
                /* Then a plain blocking MPI_Ssend of the same data. */
                MT_MPI(MPI_Ssend(buf, (int) s, MPI_BYTE, peer, TAG_SSEND, MPI_COMM_WORLD));
            } else {
                int rep;

                MT_MPI(MPI_Recv(NULL, 0, MPI_BYTE, peer, TAG_GO, MPI_COMM_WORLD, MPI_STATUS_IGNORE));
                for (rep = 0; rep < 2; rep++) {
                    mt_guard_set(buf + s, GUARD);
                    MT_MPI(MPI_Recv(buf, (int) s, MPI_BYTE, peer, TAG_SSEND, MPI_COMM_WORLD, MPI_STATUS_IGNORE));
                    mt_check(buf, s, seed, "%s from rank %d", rep ? "MPI_Ssend" : "MPI_Issend", peer);
                    mt_guard_check(buf + s, GUARD, s, "Ssend receive");
                }
            }
        }
    }
    free(buf);
    MT_MPI(MPI_Barrier(MPI_COMM_WORLD));
}

/* ---- buffer offsets -------------------------------------------------- */

/* Send and receive buffers at many offsets within a 64-byte line, with
 * sizes past the eager limit: the component cuts rendezvous and pipeline
 * fragments where the next one's data lines up with its ring (see
 * btl_cma_channel.h), so fragment lengths depend on the sender's offset.
 * Every byte must arrive, and nothing before or after the receive buffer
 * may change. */
static void test_offsets(void)
{
    static const size_t soffs[] = { 0, 1, 8, 16, 40, 48, 63 };
    static const size_t roffs[] = { 0, 7, 48 };
    static const size_t sizes[] = { 8191, 8195, 40000, 100003, 1000003 }; /* ascending */
    const size_t nsizes = sizeof(sizes) / sizeof(sizes[0]);
    int peer = pair_peer();
    unsigned char *buf = mt_malloc(GUARD + 64 + sizes[nsizes - 1] + GUARD);
    size_t si, ri, k;
    uint64_t idx = 0;
    int dir;

    for (dir = 0; peer >= 0 && dir < 2; dir++) {
        /* The lower rank of the pair sends first, then the higher. */
        int lo = mt_rank < peer ? mt_rank : peer, sender = dir == 0 ? lo : (lo == mt_rank ? peer : mt_rank);
        for (si = 0; si < sizeof(soffs) / sizeof(soffs[0]); si++) {
            for (ri = 0; ri < sizeof(roffs) / sizeof(roffs[0]); ri++) {
                for (k = 0; k < nsizes; k++, idx++) {
                    size_t s = sizes[k];
                    uint64_t seed = seed_of(PH_OFFSET, sender, sender == mt_rank ? peer : mt_rank, idx);
                    if (mt_rank == sender) {
                        mt_fill(buf + GUARD + soffs[si], s, seed);
                        /* Every other message synchronous: a rendezvous even below the eager limit. */
                        if (idx % 2)
                            MT_MPI(MPI_Ssend(buf + GUARD + soffs[si], (int) s, MPI_BYTE, peer, TAG_OFFSET,
                                             MPI_COMM_WORLD));
                        else
                            MT_MPI(MPI_Send(buf + GUARD + soffs[si], (int) s, MPI_BYTE, peer, TAG_OFFSET,
                                            MPI_COMM_WORLD));
                    } else {
                        unsigned char *r = buf + GUARD + roffs[ri];
                        MPI_Status st;
                        int count;
                        mt_guard_set(buf, GUARD + roffs[ri]);
                        mt_guard_set(r + s, GUARD);
                        MT_MPI(MPI_Recv(r, (int) s, MPI_BYTE, peer, TAG_OFFSET, MPI_COMM_WORLD, &st));
                        MT_MPI(MPI_Get_count(&st, MPI_BYTE, &count));
                        if ((size_t) count != s)
                            mt_fail("offsets: received %d bytes, expected %zu", count, s);
                        mt_check(r, s, seed, "%zu bytes sent from offset %zu into offset %zu", s, soffs[si],
                                 roffs[ri]);
                        mt_guard_check(buf, GUARD + roffs[ri], s, "bytes before the receive buffer");
                        mt_guard_check(r + s, GUARD, s, "bytes after the receive buffer");
                    }
                }
            }
        }
    }
    free(buf);
    MT_MPI(MPI_Barrier(MPI_COMM_WORLD));
}

/* ---- Sendrecv_replace ------------------------------------------------ */

static void test_replace(void)
{
    static const size_t sizes[] = { 1024, 100 * 1024, 5 * MiB };
    int right = (mt_rank + 1) % mt_size, left = (mt_rank + mt_size - 1) % mt_size;
    unsigned char *buf = mt_malloc(5 * MiB + GUARD);
    size_t k;

    for (k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
        size_t s = sizes[k];
        MPI_Status st;
        int count;

        mt_fill(buf, s, seed_of(PH_REPLACE, mt_rank, right, k));
        mt_guard_set(buf + s, GUARD);
        MT_MPI(MPI_Sendrecv_replace(buf, (int) s, MPI_BYTE, right, TAG_REPLACE, left, TAG_REPLACE,
                                    MPI_COMM_WORLD, &st));
        MT_MPI(MPI_Get_count(&st, MPI_BYTE, &count));
        if ((size_t) count != s || st.MPI_SOURCE != left || st.MPI_TAG != TAG_REPLACE)
            mt_fail("MPI_Sendrecv_replace: status source %d tag %d count %d, expected %d %d %zu",
                    st.MPI_SOURCE, st.MPI_TAG, count, left, TAG_REPLACE, s);
        mt_check(buf, s, seed_of(PH_REPLACE, left, mt_rank, k), "MPI_Sendrecv_replace from rank %d", left);
        mt_guard_check(buf + s, GUARD, s, "MPI_Sendrecv_replace");
    }
    free(buf);
    MT_MPI(MPI_Barrier(MPI_COMM_WORLD));
}

/* ---- derived datatypes ----------------------------------------------- */

/* One element of a datatype described independently of MPI: data blocks
 * (offset, length) in type-map order, and the extent.  The checks walk
 * these, so a datatype engine or transport bug cannot hide behind itself. */
struct layout {
    const char *name;
    MPI_Datatype type;
    size_t extent;
    int nblocks;
    size_t off[8];
    size_t len[8];
};

/* A C struct with padding after c and at the end: 21 data bytes in 32. */
struct rec {
    char c;
    double d;
    int i[3];
};

enum { L_CONTIG, L_VECTOR, L_INDEXED, L_STRUCT, L_PACKED, N_LAYOUTS };
static struct layout layouts[N_LAYOUTS];

static size_t layout_size(const struct layout *l)
{
    size_t s = 0;
    int j;

    for (j = 0; j < l->nblocks; j++)
        s += l->len[j];
    return s;
}

/* Cross-check the hand-made description against what MPI says. */
static void layout_commit(struct layout *l)
{
    MPI_Aint lb, extent;
    int size;

    MT_MPI(MPI_Type_commit(&l->type));
    MT_MPI(MPI_Type_size(l->type, &size));
    MT_MPI(MPI_Type_get_extent(l->type, &lb, &extent));
    if ((size_t) size != layout_size(l) || lb != 0 || (size_t) extent != l->extent)
        mt_fail("datatype %s: MPI says size %d lb %ld extent %ld, expected %zu 0 %zu",
                l->name, size, (long) lb, (long) extent, layout_size(l), l->extent);
}

static void make_layouts(void)
{
    static const int idx_len[4] = { 1, 5, 2, 7 }, idx_disp[4] = { 0, 3, 12, 16 };
    struct layout *l;
    int j;

    l = &layouts[L_CONTIG];
    l->name = "MPI_INT";
    l->type = MPI_INT;
    l->extent = sizeof(int);
    l->nblocks = 1;
    l->off[0] = 0;
    l->len[0] = sizeof(int);

    /* 8 blocks of 3 ints every 5 ints: gaps inside the element, none after
     * it (MPI's extent ends with the last block). */
    l = &layouts[L_VECTOR];
    l->name = "vector(8, 3, 5, MPI_INT)";
    MT_MPI(MPI_Type_vector(8, 3, 5, MPI_INT, &l->type));
    l->extent = (7 * 5 + 3) * sizeof(int);
    l->nblocks = 8;
    for (j = 0; j < 8; j++) {
        l->off[j] = (size_t) j * 5 * sizeof(int);
        l->len[j] = 3 * sizeof(int);
    }
    layout_commit(l);

    l = &layouts[L_INDEXED];
    l->name = "indexed({1,5,2,7}, {0,3,12,16}, MPI_INT)";
    MT_MPI(MPI_Type_indexed(4, idx_len, idx_disp, MPI_INT, &l->type));
    l->extent = (16 + 7) * sizeof(int);
    l->nblocks = 4;
    for (j = 0; j < 4; j++) {
        l->off[j] = (size_t) idx_disp[j] * sizeof(int);
        l->len[j] = (size_t) idx_len[j] * sizeof(int);
    }
    layout_commit(l);

    {
        int bl[3] = { 1, 1, 3 };
        MPI_Aint disp[3] = { offsetof(struct rec, c), offsetof(struct rec, d), offsetof(struct rec, i) };
        MPI_Datatype types[3] = { MPI_CHAR, MPI_DOUBLE, MPI_INT }, tmp;

        l = &layouts[L_STRUCT];
        l->name = "struct {char; double; int[3]} with padding";
        MT_MPI(MPI_Type_create_struct(3, bl, disp, types, &tmp));
        MT_MPI(MPI_Type_create_resized(tmp, 0, sizeof(struct rec), &l->type));
        MT_MPI(MPI_Type_free(&tmp));
        l->extent = sizeof(struct rec);
        l->nblocks = 3;
        for (j = 0; j < 3; j++)
            l->off[j] = (size_t) disp[j];
        l->len[0] = 1;
        l->len[1] = sizeof(double);
        l->len[2] = 3 * sizeof(int);
        layout_commit(l);

        /* The same type signature without padding (an unaligned double);
         * MPI rounds a struct's extent up to its alignment, so resize it. */
        disp[0] = 0;
        disp[1] = 1;
        disp[2] = 1 + sizeof(double);
        l = &layouts[L_PACKED];
        l->name = "packed struct {char; double; int[3]}";
        l->extent = 1 + sizeof(double) + 3 * sizeof(int);
        MT_MPI(MPI_Type_create_struct(3, bl, disp, types, &tmp));
        MT_MPI(MPI_Type_create_resized(tmp, 0, (MPI_Aint) l->extent, &l->type));
        MT_MPI(MPI_Type_free(&tmp));
        l->nblocks = 3;
        for (j = 0; j < 3; j++)
            l->off[j] = (size_t) disp[j];
        l->len[0] = 1;
        l->len[1] = sizeof(double);
        l->len[2] = 3 * sizeof(int);
        layout_commit(l);
    }
}

/* Walks the data bytes of count elements of a layout in type-map order. */
struct cursor {
    const struct layout *l;
    size_t elem, count;
    int block;
    size_t in_block;
};

/* Absolute offset of the next run of contiguous data bytes and its length,
 * or 0 length at the end. */
static size_t cursor_run(struct cursor *c, size_t *off)
{
    if (c->elem == c->count)
        return 0;
    *off = c->elem * c->l->extent + c->l->off[c->block] + c->in_block;
    return c->l->len[c->block] - c->in_block;
}

static void cursor_advance(struct cursor *c, size_t n)
{
    c->in_block += n;
    if (c->in_block == c->l->len[c->block]) {
        c->in_block = 0;
        if (++c->block == c->l->nblocks) {
            c->block = 0;
            c->elem++;
        }
    }
}

/* Check a received buffer of rcount elements of R against a sender buffer
 * of scount elements of S filled with the pattern for seed over its whole
 * extent: data bytes must follow S's data bytes in order, gaps of R must
 * still hold the guard byte. */
static void check_dtype(unsigned char *rbuf, const struct layout *S, size_t scount,
                        const struct layout *R, size_t rcount, uint64_t seed, int src)
{
    struct cursor sc = { S, 0, scount, 0, 0 }, rc = { R, 0, rcount, 0, 0 };
    size_t rspan = rcount * R->extent, sent = 0, prev_end = 0, soff = 0, roff = 0, x;
    size_t nbytes = layout_size(S) * scount;

    mt_corrupt_hook(rbuf, rspan);
    for (;;) {
        size_t slen = cursor_run(&sc, &soff), rlen = cursor_run(&rc, &roff), n;

        if (!slen || !rlen) {
            if (slen || rlen)
                mt_fail("datatype test %s -> %s: layouts disagree on the size", S->name, R->name);
            break;
        }
        /* Bytes between the previous data run and this one are a gap. */
        for (x = prev_end; x < roff; x++)
            if (rbuf[x] != MT_GUARD_BYTE)
                mt_fail("datatype %s -> %s from rank %d: message size %zu bytes: gap byte at "
                        "receive offset %zu was overwritten (0x%02x)",
                        S->name, R->name, src, nbytes, x, rbuf[x]);
        n = slen < rlen ? slen : rlen;
        for (x = 0; x < n; x++)
            if (rbuf[roff + x] != mt_byte(seed, soff + x))
                mt_fail("datatype %s -> %s from rank %d: message size %zu bytes: first wrong "
                        "byte at data offset %zu (receive buffer offset %zu, got 0x%02x, "
                        "expected 0x%02x)", S->name, R->name, src, nbytes, sent + x,
                        roff + x, rbuf[roff + x], mt_byte(seed, soff + x));
        sent += n;
        prev_end = roff + n;
        cursor_advance(&sc, n);
        cursor_advance(&rc, n);
    }
    for (x = prev_end; x < rspan; x++)
        if (rbuf[x] != MT_GUARD_BYTE)
            mt_fail("datatype %s -> %s from rank %d: message size %zu bytes: trailing gap byte "
                    "at receive offset %zu was overwritten", S->name, R->name, src, nbytes, x);
}

static void dtype_transfer(int sender, int receiver, int si, int ri, size_t payload, unsigned idx)
{
    const struct layout *S = &layouts[si], *R = &layouts[ri];
    size_t ssz = layout_size(S), rsz = layout_size(R);
    /* A whole number of elements on both sides: round the payload to a
     * multiple of lcm(ssz, rsz). */
    size_t a = ssz, b = rsz, lcm, units, scount, rcount;
    uint64_t seed = seed_of(PH_DTYPE, sender, receiver, idx);

    while (b) {
        size_t t = a % b;

        a = b;
        b = t;
    }
    lcm = ssz / a * rsz;
    units = (payload + lcm / 2) / lcm;
    if (units == 0)
        units = 1;
    scount = units * lcm / ssz;
    rcount = units * lcm / rsz;

    if (mt_rank == sender) {
        unsigned char *buf = mt_malloc(scount * S->extent);

        /* Gaps carry pattern too: sending them would show as wrong data. */
        mt_fill(buf, scount * S->extent, seed);
        MT_MPI(MPI_Send(buf, (int) scount, S->type, receiver, TAG_DTYPE, MPI_COMM_WORLD));
        free(buf);
    } else {
        unsigned char *buf = mt_malloc(rcount * R->extent);
        MPI_Status st;
        int count;

        mt_guard_set(buf, rcount * R->extent);
        MT_MPI(MPI_Recv(buf, (int) rcount, R->type, sender, TAG_DTYPE, MPI_COMM_WORLD, &st));
        MT_MPI(MPI_Get_count(&st, R->type, &count));
        if ((size_t) count != rcount)
            mt_fail("datatype %s -> %s: MPI_Get_count %d elements, expected %zu",
                    S->name, R->name, count, rcount);
        check_dtype(buf, S, scount, R, rcount, seed, sender);
        free(buf);
    }
}

static void test_dtypes(void)
{
    static const int combos[][2] = {
        { L_VECTOR, L_CONTIG }, { L_CONTIG, L_VECTOR }, { L_VECTOR, L_INDEXED },
        { L_INDEXED, L_VECTOR }, { L_INDEXED, L_CONTIG }, { L_STRUCT, L_STRUCT },
        { L_STRUCT, L_PACKED }, { L_PACKED, L_STRUCT },
    };
    static const size_t payloads[] = { 1024, 100 * 1024, 5 * MiB };
    int peer = pair_peer(), lo, hi, j;
    size_t c, p;

    make_layouts();
    if (peer >= 0) {
        lo = mt_rank < peer ? mt_rank : peer;
        hi = mt_rank < peer ? peer : mt_rank;
        for (p = 0; p < sizeof(payloads) / sizeof(payloads[0]); p++) {
            mt_log("derived datatypes, about %zu bytes", payloads[p]);
            for (c = 0; c < sizeof(combos) / sizeof(combos[0]); c++) {
                unsigned idx = (unsigned) (p << 8 | c << 1);

                dtype_transfer(lo, hi, combos[c][0], combos[c][1], payloads[p], idx);
                dtype_transfer(hi, lo, combos[c][0], combos[c][1], payloads[p], idx | 1);
            }
        }
    }
    for (j = L_VECTOR; j < N_LAYOUTS; j++)
        MT_MPI(MPI_Type_free(&layouts[j].type));
    MT_MPI(MPI_Barrier(MPI_COMM_WORLD));
}

/* ---- probes ---------------------------------------------------------- */

static const size_t probe_sizes[] = { 0, 1024, 100 * 1024 + 7, 5 * MiB + 3 };
#define N_PROBE (int) (sizeof(probe_sizes) / sizeof(probe_sizes[0]))

/* Receiver learns source, tag and size from the probe alone, allocates
 * exactly that and receives; variant v picks Probe, Iprobe, Mprobe or
 * Improbe.  Tags are per message so the order is checked too. */
static void probe_one_way(int sender, int receiver, int v)
{
    int k;

    if (mt_rank == sender) {
        unsigned char *buf = mt_malloc(5 * MiB + 3);

        for (k = 0; k < N_PROBE; k++) {
            mt_fill(buf, probe_sizes[k], seed_of(PH_PROBE, sender, receiver, (uint64_t) (v << 8 | k)));
            MT_MPI(MPI_Send(buf, (int) probe_sizes[k], MPI_BYTE, receiver, TAG_PROBE_BASE + k,
                            MPI_COMM_WORLD));
        }
        return;
    }
    for (k = 0; k < N_PROBE; k++) {
        static const char *names[4] = { "MPI_Probe", "MPI_Iprobe", "MPI_Mprobe", "MPI_Improbe" };
        MPI_Message msg = MPI_MESSAGE_NULL;
        MPI_Status st;
        unsigned char *buf;
        int flag = 0, count, count2;

        switch (v) {
        case 0:
            MT_MPI(MPI_Probe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &st));
            break;
        case 1:
            while (!flag)
                MT_MPI(MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &flag, &st));
            break;
        case 2:
            MT_MPI(MPI_Mprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &msg, &st));
            break;
        default:
            while (!flag)
                MT_MPI(MPI_Improbe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &flag, &msg, &st));
            break;
        }
        MT_MPI(MPI_Get_count(&st, MPI_BYTE, &count));
        if (st.MPI_SOURCE != sender || st.MPI_TAG != TAG_PROBE_BASE + k ||
            (size_t) count != probe_sizes[k])
            mt_fail("%s: source %d tag %d count %d, expected %d %d %zu", names[v],
                    st.MPI_SOURCE, st.MPI_TAG, count, sender, TAG_PROBE_BASE + k, probe_sizes[k]);
        buf = mt_malloc((size_t) count);
        if (v < 2)
            MT_MPI(MPI_Recv(buf, count, MPI_BYTE, st.MPI_SOURCE, st.MPI_TAG, MPI_COMM_WORLD, &st));
        else
            MT_MPI(MPI_Mrecv(buf, count, MPI_BYTE, &msg, &st));
        MT_MPI(MPI_Get_count(&st, MPI_BYTE, &count2));
        if (count2 != count)
            mt_fail("%s then receive: probe said %d bytes, receive got %d", names[v], count, count2);
        mt_check(buf, (size_t) count, seed_of(PH_PROBE, sender, receiver, (uint64_t) (v << 8 | k)),
                 "%s-guided receive from rank %d", names[v], sender);
        free(buf);
    }
}

static void test_probe(void)
{
    int peer = pair_peer(), v;

    for (v = 0; peer >= 0 && v < 4; v++) {
        int lo = mt_rank < peer ? mt_rank : peer, hi = mt_rank < peer ? peer : mt_rank;

        probe_one_way(lo, hi, v);
        probe_one_way(hi, lo, v);
    }
    MT_MPI(MPI_Barrier(MPI_COMM_WORLD));
}

int main(int argc, char **argv)
{
    int pass;

    mt_init(&argc, &argv, "semantics", MPI_THREAD_SINGLE);
    if (mt_size < 2)
        mt_fail("needs at least 2 ranks");

    for (pass = 0; pass < 2; pass++) {
        mt_log("wildcards pass %d, root 0", pass);
        test_wildcards(0, pass);
        if (mt_size > 2) {
            mt_log("wildcards pass %d, root %d", pass, mt_size - 1);
            test_wildcards(mt_size - 1, pass);
        }
    }
    mt_log("non-overtaking order, %d mixed messages each way", N_ORDER);
    test_order();
    mt_log("MPI_Issend / MPI_Ssend");
    test_ssend();
    mt_log("buffer offsets 0-63 on both sides, 8191 B-1 MB");
    test_offsets();
    mt_log("MPI_Sendrecv_replace ring");
    test_replace();
    test_dtypes();
    mt_log("MPI_Probe / Iprobe / Mprobe / Improbe");
    test_probe();
    return mt_finalize();
}
