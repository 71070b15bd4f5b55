/*
 * soak: long randomized point-to-point traffic through the cma BTL, every
 * byte and MPI's ordering guarantee checked, and resident memory compared
 * between the end of a warm-up phase and the end of the soak phase (which
 * repeat the same traffic pattern) to catch leaks.  Each rank sends a fixed
 * number of messages (sizes 0 B to 8 MiB, mostly small; random destinations
 * and tags; a window of nonblocking sends) and receives with MPI_ANY_SOURCE
 * and random or wildcard tags (a window of nonblocking receives).  The
 * whole schedule comes from one PRNG seed, so every rank can compute what
 * it will receive; the payload is derived from (sender, receiver, tag,
 * per-(sender, receiver, tag) sequence number, size).
 *
 * Usage: soak [-n MSGS] [-w WARMUP_MSGS] [-m MAXSIZE] [-W WINDOW] [-s SEED]
 *             [-e any|get|ring|emu] [-d] [-L LEAK_BYTES] [-O]
 *   -e   what the counters must show: get (some bytes moved by
 *        process_vm_readv), ring (none), emu (some reads served as emulated
 *        gets after a denial), any (report only)
 *   -d   odd ranks deny themselves process_vm_readv/writev (seccomp) when
 *        the soak phase starts: reads already under way when the peers
 *        learn of it must fall back to emulated gets
 *   -L   leak this many bytes per received message; -O send two messages
 *        of one (receiver, tag) stream out of order.  Both exist only to
 *        show that the checks fail when the behaviour breaks.
 */
#include "stress.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NTAGS 8
#define HDR_SIZE 16
#define HDR_MAGIC 0x534f414bu /* "SOAK" */
#define NO_SEQ UINT32_MAX
#define MAX_WINDOW 64

typedef struct msg {
    int dest, tag;
    uint32_t size, seq;
} msg_t;

/* One completed receive, kept until the phase ends: sorting a stream's
 * receives by the order in which they were posted gives the order in which
 * MPI matched them, which must be the send order. */
typedef struct rec {
    uint64_t postnum;
    uint32_t size, seq;
    unsigned char small[HDR_SIZE];
} rec_t;

typedef struct hdr {
    uint32_t magic, seq;
    uint16_t src, tag;
    uint32_t size;
} hdr_t;

static size_t max_size = (size_t) 8 << 20;
static uint64_t run_seed = 20240607;
static int window = 8;
static size_t leak_bytes;
static int break_order;
static int late_deny;

/* Skewed toward small: half the messages up to 256 B (eager, one ring
 * message), and a tail through every protocol up to max_size. */
static uint32_t draw_size(st_rng_t *r)
{
    static const struct {
        unsigned permille;
        size_t lo, hi;
    } classes[] = {
        {500, 0, 256},
        {250, 257, 8192},
        {150, 8193, 131072},
        {80, 131073, (size_t) 1 << 20},
        {20, ((size_t) 1 << 20) + 1, (size_t) 8 << 20},
    };
    unsigned u = (unsigned) st_rng_below(r, 1000), acc = 0;
    size_t lo = 0, hi = 0;
    for (size_t c = 0; c < sizeof(classes) / sizeof(classes[0]); ++c) {
        acc += classes[c].permille;
        if (u < acc) {
            lo = classes[c].lo;
            hi = classes[c].hi;
            break;
        }
    }
    size_t size;
    if (hi <= 256) {
        size = lo + st_rng_below(r, hi - lo + 1);
    } else {
        /* Log-uniform inside the class: pick a power-of-two band, then a
         * size in it, so the class's small end is not starved. */
        int elo = 63 - __builtin_clzll(lo), ehi = 63 - __builtin_clzll(hi);
        int e = elo + (int) st_rng_below(r, (uint64_t) (ehi - elo + 1));
        size_t blo = (size_t) 1 << e, bhi = ((size_t) 2 << e) - 1;
        blo = blo < lo ? lo : blo;
        bhi = bhi > hi ? hi : bhi;
        size = blo + st_rng_below(r, bhi - blo + 1);
    }
    return (uint32_t) (size > max_size ? max_size : size);
}

/* The messages rank src sends in a phase, in send order. */
static void schedule(int src, int phase, int n, msg_t *out)
{
    st_rng_t r;
    uint32_t *next = calloc((size_t) st_size * NTAGS, sizeof(*next));
    if (!next) {
        st_fail("out of memory");
    }
    st_rng_init(&r, st_seed(run_seed, 1, (uint64_t) src, (uint64_t) phase, 0));
    for (int i = 0; i < n; ++i) {
        int d = (int) st_rng_below(&r, (uint64_t) st_size - 1);
        out[i].dest = d >= src ? d + 1 : d; /* never ourselves: that is the self BTL */
        out[i].tag = (int) st_rng_below(&r, NTAGS);
        out[i].size = draw_size(&r);
        out[i].seq = next[out[i].dest * NTAGS + out[i].tag]++;
    }
    free(next);
}

static uint64_t msg_seed(int src, int dest, int tag, uint32_t seq, uint32_t size)
{
    return st_seed(run_seed, (uint64_t) src, (uint64_t) dest, (uint64_t) tag, ((uint64_t) seq << 32) | size);
}

static void make_payload(unsigned char *buf, int src, const msg_t *m)
{
    uint64_t seed = msg_seed(src, m->dest, m->tag, m->seq, m->size);
    if (m->size >= HDR_SIZE) {
        hdr_t h = {.magic = HDR_MAGIC, .seq = m->seq, .src = (uint16_t) src, .tag = (uint16_t) m->tag,
                   .size = m->size};
        memcpy(buf, &h, sizeof(h));
        st_fill(buf + HDR_SIZE, m->size - HDR_SIZE, seed);
    } else {
        st_fill(buf, m->size, seed);
    }
}

typedef struct phase_stats {
    uint64_t sent_msgs, sent_bytes, recv_msgs, recv_bytes;
    uint64_t posted[4]; /* receives posted as (src, tag), (ANY, tag), (src, ANY), (ANY, ANY) */
    double seconds;
} phase_stats_t;

/* Per receiving stream (source, tag): expected sizes in send order, and
 * the receives completed so far. */
typedef struct stream {
    uint32_t count, done;
    uint32_t *sizes;
    rec_t *recs;
} stream_t;

/* All bookkeeping is allocated (and touched) once, for the larger phase,
 * before the warm-up: tables allocated per phase would move malloc's
 * high-water mark between the two measurements and read as a leak. */
static stream_t *streams;  /* [src * NTAGS + tag] */
static uint32_t *size_pool; /* expected sizes of every stream, back to back */
static rec_t *rec_pool;     /* completed receives of every stream, back to back */
static msg_t *all_msgs;     /* every rank's schedule: [src * n + i] */

static void alloc_tables(int nmax)
{
    size_t incoming = (size_t) (st_size - 1) * (size_t) nmax;
    streams = st_malloc_touched((size_t) st_size * NTAGS * sizeof(*streams));
    size_pool = st_malloc_touched((incoming + 1) * sizeof(*size_pool));
    rec_pool = st_malloc_touched((incoming + 1) * sizeof(*rec_pool));
    all_msgs = st_malloc_touched((size_t) st_size * (size_t) nmax * sizeof(*all_msgs));
}

static void build_streams(int n, const msg_t *all)
{
    memset(streams, 0, (size_t) st_size * NTAGS * sizeof(*streams));
    for (int s = 0; s < st_size; ++s) {
        for (int i = 0; i < n; ++i) {
            const msg_t *m = &all[(size_t) s * n + i];
            if (m->dest == st_rank) {
                streams[s * NTAGS + m->tag].count++;
            }
        }
    }
    size_t off = 0;
    for (int k = 0; k < st_size * NTAGS; ++k) {
        streams[k].sizes = size_pool + off;
        streams[k].recs = rec_pool + off;
        off += streams[k].count;
    }
    for (int s = 0; s < st_size; ++s) {
        for (int i = 0; i < n; ++i) {
            const msg_t *m = &all[(size_t) s * n + i];
            if (m->dest == st_rank) {
                /* seq numbers of a stream are 0, 1, 2, ... in send order */
                streams[s * NTAGS + m->tag].sizes[m->seq] = m->size;
            }
        }
    }
}

static void verify_receive(int phase, const unsigned char *buf, int src, int tag, int size, uint64_t postnum)
{
    stream_t *st = &streams[src * NTAGS + tag];
    if (st->done >= st->count) {
        st_fail("phase %d: message %d beyond the %u expected from rank %d tag %d", phase, (int) st->done + 1,
                st->count, src, tag);
    }
    rec_t *rec = &st->recs[st->done++];
    rec->postnum = postnum;
    rec->size = (uint32_t) size;
    rec->seq = NO_SEQ;
    if (size >= HDR_SIZE) {
        hdr_t h;
        memcpy(&h, buf, sizeof(h));
        if (h.magic != HDR_MAGIC || h.src != src || h.tag != tag || h.size != (uint32_t) size) {
            st_fail("phase %d: %d-byte message from rank %d tag %d has a wrong header (magic %#x src %u tag %u "
                    "size %u)",
                    phase, size, src, tag, h.magic, h.src, h.tag, h.size);
        }
        if (h.seq >= st->count || st->sizes[h.seq] != (uint32_t) size) {
            st_fail("phase %d: message seq %u from rank %d tag %d: size %d, expected %u", phase, h.seq, src, tag,
                    size, h.seq < st->count ? st->sizes[h.seq] : 0);
        }
        long long bad = st_check(buf + HDR_SIZE, (size_t) size - HDR_SIZE,
                                 msg_seed(src, st_rank, tag, h.seq, (uint32_t) size));
        if (bad >= 0) {
            st_fail("phase %d: message seq %u of %d bytes from rank %d tag %d is corrupted at byte %lld", phase,
                    h.seq, size, src, tag, bad + HDR_SIZE);
        }
        rec->seq = h.seq;
    } else {
        memcpy(rec->small, buf, (size_t) size);
    }
}

static int cmp_postnum(const void *a, const void *b)
{
    const rec_t *x = a, *y = b;
    return x->postnum < y->postnum ? -1 : x->postnum > y->postnum;
}

/* The ordering check: within each (source, tag) stream the k-th matched
 * receive must hold the k-th message sent. */
static void verify_order(int phase)
{
    for (int s = 0; s < st_size; ++s) {
        for (int t = 0; t < NTAGS; ++t) {
            stream_t *st = &streams[s * NTAGS + t];
            if (st->done != st->count) {
                st_fail("phase %d: received %u of %u messages from rank %d tag %d", phase, st->done, st->count, s,
                        t);
            }
            qsort(st->recs, st->done, sizeof(rec_t), cmp_postnum);
            for (uint32_t k = 0; k < st->done; ++k) {
                const rec_t *rec = &st->recs[k];
                if (rec->size != st->sizes[k]) {
                    st_fail("phase %d: out of order: receive %u of the stream from rank %d tag %d got %u bytes, "
                            "message %u has %u",
                            phase, k, s, t, rec->size, k, st->sizes[k]);
                }
                if (rec->seq != NO_SEQ && rec->seq != k) {
                    st_fail("phase %d: out of order: receive %u of the stream from rank %d tag %d got message %u",
                            phase, k, s, t, rec->seq);
                }
                if (rec->seq == NO_SEQ) {
                    long long bad = st_check(rec->small, rec->size, msg_seed(s, st_rank, t, k, rec->size));
                    if (bad >= 0) {
                        st_fail("phase %d: message %u of %u bytes from rank %d tag %d is wrong at byte %lld "
                                "(corrupted or out of order)",
                                phase, k, rec->size, s, t, bad);
                    }
                }
            }
        }
    }
}

typedef struct rslot {
    int src, tag; /* the posted pattern, MPI_ANY_* included */
    uint64_t postnum;
    unsigned char *buf;
} rslot_t;

static int overlaps(int a, int b)
{
    return a == b || a < 0 || b < 0; /* MPI_ANY_SOURCE and MPI_ANY_TAG are negative */
}

static void run_phase(int phase, int n, unsigned char **sbuf, unsigned char **rbuf, phase_stats_t *ps)
{
    msg_t *all = all_msgs;
    for (int s = 0; s < st_size; ++s) {
        schedule(s, phase, n, &all[(size_t) s * n]);
    }
    build_streams(n, all);
    msg_t *mine = &all[(size_t) st_rank * n];
    if (break_order) {
        /* Two consecutive messages of one stream, posted swapped. */
        for (int i = 0; i < n && break_order == 1; ++i) {
            for (int j = i + 1; j < n; ++j) {
                if (mine[j].dest == mine[i].dest && mine[j].tag == mine[i].tag) {
                    if (mine[i].size >= HDR_SIZE && mine[j].size >= HDR_SIZE) {
                        msg_t tmp = mine[i];
                        mine[i] = mine[j];
                        mine[j] = tmp;
                        break_order = 2;
                    }
                    break;
                }
            }
        }
    }

    /* Messages this rank still has to receive, per (source, tag). */
    uint32_t *remaining = calloc((size_t) st_size * NTAGS, sizeof(*remaining));
    uint64_t nrecv = 0;
    for (int k = 0; k < st_size * NTAGS; ++k) {
        remaining[k] = streams[k].count;
        nrecv += streams[k].count;
    }
    MPI_Request *reqs = malloc(2 * (size_t) window * sizeof(*reqs));
    MPI_Status *stats = malloc(2 * (size_t) window * sizeof(*stats));
    int *idx = malloc(2 * (size_t) window * sizeof(*idx));
    rslot_t *rs = calloc((size_t) window, sizeof(*rs));
    if (!remaining || !reqs || !stats || !idx || !rs) {
        st_fail("out of memory");
    }
    for (int i = 0; i < 2 * window; ++i) {
        reqs[i] = MPI_REQUEST_NULL;
    }
    for (int i = 0; i < window; ++i) {
        rs[i].buf = rbuf[i];
    }
    st_rng_t rr;
    st_rng_init(&rr, st_seed(run_seed, 2, (uint64_t) st_rank, (uint64_t) phase, 0));
    int next_send = 0, sends_out = 0, recvs_out = 0;
    uint64_t recvs_done = 0, postnum = 0;
    memset(ps, 0, sizeof(*ps));
    double t0 = st_now();

    MPI_Barrier(MPI_COMM_WORLD);
    while (next_send < n || sends_out > 0 || recvs_done < nrecv) {
        for (int w = 0; w < window && next_send < n; ++w) {
            if (reqs[w] != MPI_REQUEST_NULL) {
                continue;
            }
            const msg_t *m = &mine[next_send++];
            make_payload(sbuf[w], st_rank, m);
            MPI_Isend(sbuf[w], (int) m->size, MPI_BYTE, m->dest, m->tag, MPI_COMM_WORLD, &reqs[w]);
            ++sends_out;
            ps->sent_msgs++;
            ps->sent_bytes += m->size;
        }
        for (int w = 0; w < window && recvs_done + (uint64_t) recvs_out < nrecv; ++w) {
            if (reqs[window + w] != MPI_REQUEST_NULL) {
                continue;
            }
            /* A receive may be posted with a pattern only if enough of the
             * messages still to come match it that the receives already
             * posted which could take them (earlier posted receives win)
             * cannot leave it without one; otherwise it would wait forever.
             * One receive of (ANY_SOURCE, ANY_TAG) is always kept posted, so
             * every arriving message finds a match and no sender stalls. */
            int any_any = 0;
            for (int v = 0; v < window; ++v) {
                if (reqs[window + v] != MPI_REQUEST_NULL && rs[v].src < 0 && rs[v].tag < 0) {
                    any_any = 1;
                }
            }
            int src = MPI_ANY_SOURCE, tag = MPI_ANY_TAG;
            if (any_any) {
                uint64_t pick = st_rng_below(&rr, nrecv - recvs_done), acc = 0;
                int k = 0;
                for (k = 0; k < st_size * NTAGS; ++k) {
                    acc += remaining[k];
                    if (pick < acc) {
                        break;
                    }
                }
                switch (st_rng_below(&rr, 4)) {
                case 0: src = k / NTAGS; tag = k % NTAGS; break;
                case 1: tag = k % NTAGS; break;
                case 2: src = k / NTAGS; break;
                default: break;
                }
                uint64_t matching = 0;
                for (int q = 0; q < st_size * NTAGS; ++q) {
                    if (overlaps(src, q / NTAGS) && overlaps(tag, q % NTAGS)) {
                        matching += remaining[q];
                    }
                }
                uint64_t rivals = 0;
                for (int v = 0; v < window; ++v) {
                    if (reqs[window + v] != MPI_REQUEST_NULL && overlaps(rs[v].src, src) &&
                        overlaps(rs[v].tag, tag)) {
                        ++rivals;
                    }
                }
                if (matching < rivals + 1) {
                    src = MPI_ANY_SOURCE;
                    tag = MPI_ANY_TAG;
                }
            }
            rs[w].src = src;
            rs[w].tag = tag;
            ps->posted[(src < 0) + 2 * (tag < 0)]++;
            rs[w].postnum = postnum++;
            MPI_Irecv(rs[w].buf, (int) max_size, MPI_BYTE, src, tag, MPI_COMM_WORLD, &reqs[window + w]);
            ++recvs_out;
        }
        int outcount;
        if (MPI_Waitsome(2 * window, reqs, &outcount, idx, stats) != MPI_SUCCESS || outcount == MPI_UNDEFINED) {
            st_fail("phase %d: MPI_Waitsome failed (%d sends, %d receives outstanding)", phase, sends_out,
                    recvs_out);
        }
        for (int i = 0; i < outcount; ++i) {
            if (idx[i] < window) {
                --sends_out;
                continue;
            }
            int w = idx[i] - window, count;
            MPI_Get_count(&stats[i], MPI_BYTE, &count);
            int s = stats[i].MPI_SOURCE, t = stats[i].MPI_TAG;
            if (s < 0 || s >= st_size || s == st_rank || t < 0 || t >= NTAGS || count < 0 ||
                (size_t) count > max_size) {
                st_fail("phase %d: impossible receive: source %d tag %d count %d", phase, s, t, count);
            }
            if ((rs[w].src >= 0 && rs[w].src != s) || (rs[w].tag >= 0 && rs[w].tag != t)) {
                st_fail("phase %d: receive posted for source %d tag %d matched source %d tag %d", phase, rs[w].src,
                        rs[w].tag, s, t);
            }
            verify_receive(phase, rs[w].buf, s, t, count, rs[w].postnum);
            remaining[s * NTAGS + t]--;
            --recvs_out;
            ++recvs_done;
            ps->recv_msgs++;
            ps->recv_bytes += (uint64_t) count;
            if (leak_bytes) {
                void *lost = malloc(leak_bytes);
                if (lost) {
                    memset(lost, 1, leak_bytes);
                }
            }
        }
    }
    ps->seconds = st_now() - t0;
    verify_order(phase);
    free(remaining);
    free(reqs);
    free(stats);
    free(idx);
    free(rs);
}

static void report_counters(const uint64_t before[ST_NCOUNTERS], const uint64_t after[ST_NCOUNTERS],
                            uint64_t total[ST_NCOUNTERS])
{
    uint64_t d[ST_NCOUNTERS];
    for (int c = 0; c < ST_NCOUNTERS; ++c) {
        d[c] = after[c] - before[c];
    }
    MPI_Allreduce(d, total, ST_NCOUNTERS, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD);
    st_log("counters (all ranks): ring %llu msgs %llu bytes, pipeline %llu frags, process_vm_readv %llu reads "
           "%llu bytes, emulated gets %llu",
           (unsigned long long) total[ST_RING_SENDS], (unsigned long long) total[ST_RING_BYTES],
           (unsigned long long) total[ST_PIPE_FRAGS], (unsigned long long) total[ST_GET_COUNT],
           (unsigned long long) total[ST_GET_BYTES], (unsigned long long) total[ST_EMU_GETS]);
}

int main(int argc, char **argv)
{
    int nmsg = 20000, nwarm = 5000, opt, status = 0;
    const char *expect = "any";

    st_init(&argc, &argv, "soak");
    while ((opt = getopt(argc, argv, "n:w:m:W:s:e:L:Od")) != -1) {
        switch (opt) {
        case 'n': nmsg = atoi(optarg); break;
        case 'w': nwarm = atoi(optarg); break;
        case 'm': max_size = st_parse_size(optarg); break;
        case 'W': window = atoi(optarg); break;
        case 's': run_seed = strtoull(optarg, NULL, 0); break;
        case 'e': expect = optarg; break;
        case 'L': leak_bytes = st_parse_size(optarg); break;
        case 'O': break_order = 1; break;
        case 'd': late_deny = 1; break;
        default: st_fail("usage: soak [-n msgs] [-w warmup] [-m maxsize] [-W window] [-s seed] "
                         "[-e any|get|ring|emu] [-d] [-L leakbytes] [-O]");
        }
    }
    if (st_size < 2 || nmsg < 1 || nwarm < 1 || window < 1 || window > MAX_WINDOW || max_size > INT32_MAX) {
        st_fail("needs 2 or more ranks, positive counts, a window of 1..%d and sizes below 2 GiB", MAX_WINDOW);
    }
    st_counters_open();
    alloc_tables(nmsg > nwarm ? nmsg : nwarm);
    unsigned char *sbuf[MAX_WINDOW], *rbuf[MAX_WINDOW];
    for (int w = 0; w < window; ++w) {
        sbuf[w] = st_malloc_touched(max_size);
        rbuf[w] = st_malloc_touched(max_size);
    }
    st_log("%d ranks, %d warm-up then %d soak messages per rank, sizes 0..%zu, window %d, seed %llu", st_size,
           nwarm, nmsg, max_size, window, (unsigned long long) run_seed);

    phase_stats_t warm, soak;
    run_phase(0, nwarm, sbuf, rbuf, &warm);
    MPI_Barrier(MPI_COMM_WORLD);
    long rss_warm = st_rss_kib();
    struct mallinfo2 mi_warm = mallinfo2();
    st_log("warm-up done in %.1f s", warm.seconds);

    uint64_t before[ST_NCOUNTERS], after[ST_NCOUNTERS], total[ST_NCOUNTERS];
    st_counters_read(before);
    if (late_deny && st_rank % 2 == 1) {
        st_deny_single_copy();
    }
    run_phase(1, nmsg, sbuf, rbuf, &soak);
    MPI_Barrier(MPI_COMM_WORLD);
    long rss_end = st_rss_kib();
    struct mallinfo2 mi_end = mallinfo2();
    st_counters_read(after);

    uint64_t mine[8] = {soak.sent_msgs, soak.sent_bytes, soak.recv_msgs, soak.recv_bytes,
                        soak.posted[0], soak.posted[1], soak.posted[2], soak.posted[3]},
             sum[8];
    double slowest;
    MPI_Reduce(mine, sum, 8, MPI_UINT64_T, MPI_SUM, 0, MPI_COMM_WORLD);
    MPI_Reduce(&soak.seconds, &slowest, 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
    if (st_rank == 0) {
        if (sum[0] != sum[2] || sum[1] != sum[3]) {
            st_fail("sent %llu messages (%llu bytes) but received %llu (%llu bytes)", (unsigned long long) sum[0],
                    (unsigned long long) sum[1], (unsigned long long) sum[2], (unsigned long long) sum[3]);
        }
        st_log("soak: %llu messages, %llu bytes (%.2f GiB) moved and verified in %.1f s (%.0f MB/s, %.0f msgs/s)",
               (unsigned long long) sum[0], (unsigned long long) sum[1], (double) sum[1] / (1 << 30), slowest,
               (double) sum[1] / slowest / 1e6, (double) sum[0] / slowest);
        st_log("receives posted as (source, tag) %llu, (ANY_SOURCE, tag) %llu, (source, ANY_TAG) %llu, "
               "(ANY_SOURCE, ANY_TAG) %llu",
               (unsigned long long) sum[4], (unsigned long long) sum[5], (unsigned long long) sum[6],
               (unsigned long long) sum[7]);
    }
    report_counters(before, after, total);
    if (strcmp(expect, "get") == 0 && (total[ST_GET_COUNT] == 0 || total[ST_GET_BYTES] == 0)) {
        st_log("FAIL: single copy was expected, but no process_vm_readv moved any byte");
        status = 1;
    } else if (strcmp(expect, "emu") == 0 && total[ST_EMU_GETS] == 0) {
        st_log("FAIL: single copy was denied during the soak, but no read was served as an emulated get");
        status = 1;
    } else if (strcmp(expect, "ring") == 0 && (total[ST_GET_COUNT] != 0 || total[ST_EMU_GETS] != 0)) {
        st_log("FAIL: rings only were expected, but %llu single-copy and %llu emulated reads happened",
               (unsigned long long) total[ST_GET_COUNT], (unsigned long long) total[ST_EMU_GETS]);
        status = 1;
    }

    /* The leak check.  After the warm-up, Open MPI's free lists and request
     * pools, the unexpected-message queues and malloc's arenas have grown to
     * the high-water mark of this traffic pattern; the soak repeats the
     * pattern with other random draws, so only a slightly different burst
     * (a few more descriptors or unexpected fragments, i.e. a few hundred
     * KiB) or malloc fragmentation may add pages.  The allowance is the
     * larger of 5% and 4 MiB: the 4 MiB floor covers that noise when the
     * process is small; 5% covers it when it is large (the message buffers
     * alone are 2 x window x 8 MiB, about 128 MiB here, and scale the same
     * noise).  A leak of L bytes per message adds about nmsg x L to each
     * rank over the soak (a rank receives about as many messages as it
     * sends): with the 60,000 messages t-soak-*.sh send and about 8 MiB
     * allowed, a leak from about 150 bytes per message up is caught. */
    long grow = rss_end - rss_warm, allow = rss_warm / 20 > 4096 ? rss_warm / 20 : 4096;
    long heap_grow = (long) (mi_end.uordblks / 1024) - (long) (mi_warm.uordblks / 1024);
    long all[4] = {rss_warm, rss_end, heap_grow, grow > allow}, *every = NULL;
    if (st_rank == 0) {
        every = malloc(4 * sizeof(long) * (size_t) st_size);
    }
    MPI_Gather(all, 4, MPI_LONG, every, 4, MPI_LONG, 0, MPI_COMM_WORLD);
    if (st_rank == 0) {
        for (int r = 0; r < st_size; ++r) {
            long w = every[4 * r], e = every[4 * r + 1];
            long a = w / 20 > 4096 ? w / 20 : 4096;
            printf("soak rank %d: VmRSS after warm-up %ld KiB, after soak %ld KiB, growth %+ld KiB (allowed %ld); "
                   "malloc in use %+ld KiB%s\n",
                   r, w, e, e - w, a, every[4 * r + 2], every[4 * r + 3] ? "  <-- LEAK" : "");
            if (every[4 * r + 3]) {
                status = 1;
            }
        }
        if (status == 0) {
            printf("soak: PASS\n");
        } else {
            printf("soak: FAIL\n");
        }
        fflush(stdout);
        free(every);
    }
    MPI_Bcast(&status, 1, MPI_INT, 0, MPI_COMM_WORLD);
    for (int w = 0; w < window; ++w) {
        free(sbuf[w]);
        free(rbuf[w]);
    }
    return st_finalize(status);
}
