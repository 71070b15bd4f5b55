/*
 * The MPI side of the two-host test (run by multinode.sh, 4 ranks, 2 on
 * each simulated host): proves that Open MPI sees two nodes, that every
 * rank exchanges verified messages of 0, 1, 100, 64 KiB and 4 MiB bytes
 * with every other rank, and, through the cma component's MPI_T counters,
 * that cma carried the same-host pairs and never a byte of a cross-host
 * pair.  Phase "cross" talks only to the other host and requires the
 * counters not to move at all; phase "all" talks to every peer at once and
 * requires the bytes cma carried between the two ranks of a host to be at
 * least their payload and at most that plus a PML header per message: a
 * cross-host message more would not fit.
 */
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NRANKS 4
#define PER_HOST 2
/* Includes an empty message, one byte, an eager one, one for the ring
 * pipeline and one for single copy (multinode.sh pins
 * btl_cma_single_copy_min so the protocol per size does not depend on
 * the startup calibration). */
static const int sizes[] = {0, 1, 100, 64 * 1024, 4 * 1024 * 1024};
#define NSIZES ((int) (sizeof(sizes) / sizeof(sizes[0])))
/* A PML header is well under this; an extra cross-host message is not. */
#define HEADER_ALLOWANCE 128
/* Fail with a message instead of waiting for multinode.sh's kill. */
#define PHASE_DEADLINE_S 20.0

typedef struct counter {
    const char *name;
    MPI_T_pvar_handle handle;
} counter_t;

static counter_t counters[] = {
    {"btl_cma_ring_sends", 0}, {"btl_cma_ring_bytes", 0}, {"btl_cma_get_count", 0},
    {"btl_cma_get_bytes", 0},  {"btl_cma_put_count", 0},  {"btl_cma_put_bytes", 0},
    {"btl_cma_pipeline_frags", 0},
};
enum { RING_SENDS, RING_BYTES, GET_COUNT, GET_BYTES, PUT_COUNT, PUT_BYTES, PIPE_FRAGS, NCOUNTERS };

static MPI_T_pvar_session session;
static int rank;
static char host[MPI_MAX_PROCESSOR_NAME];

#define FAIL(...)                                                         \
    do {                                                                  \
        fprintf(stderr, "multinode rank %d on %s: FAIL: ", rank, host);   \
        fprintf(stderr, __VA_ARGS__);                                     \
        fprintf(stderr, "\n");                                            \
        fflush(stderr);                                                   \
        MPI_Abort(MPI_COMM_WORLD, 1);                                     \
    } while (0)

static void open_counters(void)
{
    int n;
    MPI_T_pvar_get_num(&n);
    MPI_T_pvar_session_create(&session);
    for (int c = 0; c < NCOUNTERS; ++c) {
        int found = 0;
        for (int i = 0; i < n && !found; ++i) {
            char name[256], desc[1024];
            int nl = sizeof(name), dl = sizeof(desc), verb, cls, bind, ro, cont, atomic, count;
            MPI_Datatype dt;
            MPI_T_enum en;
            MPI_T_pvar_get_info(i, name, &nl, &verb, &cls, &dt, &en, desc, &dl, &bind, &ro, &cont, &atomic);
            if (strcmp(name, counters[c].name) == 0) {
                MPI_T_pvar_handle_alloc(session, i, NULL, &counters[c].handle, &count);
                found = 1;
            }
        }
        if (!found) {
            /* On the second host this means the orted lost the component
             * path: the test would otherwise pass with tcp alone. */
            FAIL("performance variable %s not found: cma is not loaded here", counters[c].name);
        }
    }
}

static void read_counters(uint64_t v[NCOUNTERS])
{
    for (int c = 0; c < NCOUNTERS; ++c) {
        unsigned long long x = 0;
        MPI_T_pvar_read(session, counters[c].handle, &x);
        v[c] = x;
    }
}

static unsigned char pattern(int src, int dst, int s, size_t i)
{
    /* Depends on sender, receiver and size, so a message delivered to the
     * wrong rank or matched to the wrong receive is caught too. */
    return (unsigned char) (i * 131u + (i >> 12) + (unsigned) (src * 37 + dst * 11 + s * 5));
}

typedef struct exchange {
    int npeers;
    int peers[NRANKS];
    unsigned char *sbuf[NRANKS][NSIZES], *rbuf[NRANKS][NSIZES];
    MPI_Request req[2 * NRANKS * NSIZES];
} exchange_t;

/* Posts every receive and send of one phase at once: the phase's traffic
 * with all its peers overlaps, as in a real application's halo exchange. */
static void post(exchange_t *x)
{
    int r = 0;
    for (int p = 0; p < x->npeers; ++p) {
        for (int s = 0; s < NSIZES; ++s) {
            int peer = x->peers[p];
            size_t n = (size_t) sizes[s];
            x->sbuf[p][s] = malloc(n + 1);
            x->rbuf[p][s] = malloc(n + 1);
            for (size_t i = 0; i < n; ++i) {
                x->sbuf[p][s][i] = pattern(rank, peer, s, i);
            }
            memset(x->rbuf[p][s], 0, n + 1);
            MPI_Irecv(x->rbuf[p][s], sizes[s], MPI_BYTE, peer, s, MPI_COMM_WORLD, &x->req[r++]);
        }
    }
    for (int p = 0; p < x->npeers; ++p) {
        for (int s = 0; s < NSIZES; ++s) {
            MPI_Isend(x->sbuf[p][s], sizes[s], MPI_BYTE, x->peers[p], s, MPI_COMM_WORLD, &x->req[r++]);
        }
    }
}

/* Progresses the phase to completion.  When frozen is given, the cma
 * counters are read on every pass and must equal it: the first cma
 * operation on a cross-host pair fails the test right there, before a
 * misrouted rendezvous could hang it. */
static void complete(exchange_t *x, const char *phase, const uint64_t *frozen)
{
    int n = 2 * x->npeers * NSIZES, done = 0;
    double deadline = MPI_Wtime() + PHASE_DEADLINE_S;
    MPI_Status st[2 * NRANKS * NSIZES];
    while (!done) {
        MPI_Testall(n, x->req, &done, st);
        if (frozen) {
            uint64_t now[NCOUNTERS];
            read_counters(now);
            for (int c = 0; c < NCOUNTERS; ++c) {
                if (now[c] != frozen[c]) {
                    FAIL("phase %s (cross-host peers only): %s moved from %llu to %llu: cma carried "
                         "cross-host traffic",
                         phase, counters[c].name, (unsigned long long) frozen[c], (unsigned long long) now[c]);
                }
            }
        }
        if (!done && MPI_Wtime() > deadline) {
            FAIL("phase %s did not complete in %.0f s", phase, PHASE_DEADLINE_S);
        }
    }
    for (int p = 0; p < x->npeers; ++p) {
        for (int s = 0; s < NSIZES; ++s) {
            int got;
            MPI_Get_count(&st[p * NSIZES + s], MPI_BYTE, &got);
            if (got != sizes[s]) {
                FAIL("phase %s: from rank %d got %d bytes, expected %d", phase, x->peers[p], got, sizes[s]);
            }
            for (size_t i = 0; i < (size_t) sizes[s]; ++i) {
                if (x->rbuf[p][s][i] != pattern(x->peers[p], rank, s, i)) {
                    FAIL("phase %s: %d-byte message from rank %d wrong at offset %zu", phase, sizes[s],
                         x->peers[p], i);
                }
            }
            free(x->sbuf[p][s]);
            free(x->rbuf[p][s]);
        }
    }
}

int main(int argc, char **argv)
{
    int provided, size, len;
    MPI_T_init_thread(MPI_THREAD_SINGLE, &provided);
    MPI_Init(&argc, &argv);
    /* Before any traffic: from here on every cma operation of this
     * process shows in its counters. */
    open_counters();
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    MPI_Get_processor_name(host, &len);
    if (size != NRANKS) {
        FAIL("run with %d ranks (%d per host), not %d", NRANKS, PER_HOST, size);
    }
    /* multinode.sh maps by slot, 2 slots per host: ranks 0-1 on the first
     * host, 2-3 on the second.  Assumed here so that the cross-host phase
     * can run first, and verified below against Open MPI's view. */
    const int local_peer = rank ^ 1;
    exchange_t cross = {0}, all = {0};
    for (int r = 0; r < NRANKS; ++r) {
        if (r != rank) {
            all.peers[all.npeers++] = r;
        }
        if (r / PER_HOST != rank / PER_HOST) {
            cross.peers[cross.npeers++] = r;
        }
    }

    /* Phase cross, the first traffic of the job: no same-host message was
     * ever sent, so the counters, which count only this process's own
     * ring writes and single-copy operations, must stay where they are.
     * A cma that claimed a cross-host peer fails here, at its first ring
     * write, before the misrouted message could hang a collective. */
    uint64_t before[NCOUNTERS], after[NCOUNTERS];
    read_counters(before);
    post(&cross);
    complete(&cross, "cross", before);

    /* Open MPI's notion of "same node" (the locality flags cma claims
     * peers by) must split the job into the two hosts, agree with the
     * host names the ranks see, and with the mapping assumed above. */
    char names[NRANKS][MPI_MAX_PROCESSOR_NAME];
    MPI_Allgather(host, MPI_MAX_PROCESSOR_NAME, MPI_CHAR, names, MPI_MAX_PROCESSOR_NAME, MPI_CHAR, MPI_COMM_WORLD);
    MPI_Comm node;
    int node_size, node_rank, nlocal_by_name = 0;
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node);
    MPI_Comm_size(node, &node_size);
    MPI_Comm_rank(node, &node_rank);
    for (int r = 0; r < NRANKS; ++r) {
        nlocal_by_name += strcmp(names[r], host) == 0;
    }
    if (node_size != PER_HOST || nlocal_by_name != PER_HOST) {
        FAIL("Open MPI puts %d ranks on this node and %d ranks report host name %s; expected %d and %d",
             node_size, nlocal_by_name, host, PER_HOST, PER_HOST);
    }
    int members[PER_HOST];
    MPI_Allgather(&rank, 1, MPI_INT, members, 1, MPI_INT, node);
    for (int i = 0; i < PER_HOST; ++i) {
        if (members[i] != rank && members[i] != local_peer) {
            FAIL("Open MPI puts rank %d on my node, expected rank %d (mapping by slot)", members[i], local_peer);
        }
        if (strcmp(names[members[i]], host) != 0) {
            FAIL("rank %d is on my node for Open MPI but reports host %s", members[i], names[members[i]]);
        }
    }
    printf("rank %d on %s: same-host peer %d (%s), cross-host peers %d (%s) %d (%s)\n", rank, host, local_peer,
           names[local_peer], cross.peers[0], names[cross.peers[0]], cross.peers[1], names[cross.peers[1]]);
    fflush(stdout);

    /* Phase all.  The counters count what this process wrote into rings
     * (payload + PML header, both directions' control messages) and read
     * or wrote by single copy; summed over the host's two ranks they must
     * cover both ranks' same-host payload and exceed it only by headers.
     * The barrier's own messages have completed when it returns, so they
     * stay out of the measurement. */
    MPI_Barrier(MPI_COMM_WORLD);
    read_counters(before);
    post(&all);
    complete(&all, "all", NULL);
    read_counters(after);
    uint64_t mine[NCOUNTERS], theirs[NCOUNTERS];
    for (int c = 0; c < NCOUNTERS; ++c) {
        mine[c] = after[c] - before[c];
    }
    MPI_Sendrecv(mine, NCOUNTERS, MPI_UINT64_T, 1 - node_rank, 0, theirs, NCOUNTERS, MPI_UINT64_T, 1 - node_rank, 0,
                 node, MPI_STATUS_IGNORE);
    uint64_t payload = 0, largest = 0;
    for (int s = 0; s < NSIZES; ++s) {
        payload += (uint64_t) sizes[s];
        largest = (uint64_t) sizes[s] > largest ? (uint64_t) sizes[s] : largest;
    }
    payload *= 2; /* both ranks of the host sent the full set to each other */
    uint64_t carried = 0, msgs = mine[RING_SENDS] + theirs[RING_SENDS];
    const int moved[] = {RING_BYTES, GET_BYTES, PUT_BYTES};
    for (size_t i = 0; i < sizeof(moved) / sizeof(moved[0]); ++i) {
        carried += mine[moved[i]] + theirs[moved[i]];
    }
    uint64_t limit = payload + HEADER_ALLOWANCE * msgs;
    printf("rank %d on %s: phase all: cma carried %llu bytes for %llu bytes of same-host payload (%llu ring "
           "messages, %llu+%llu single-copy reads, %llu+%llu pipeline fragments)\n",
           rank, host, (unsigned long long) carried, (unsigned long long) payload, (unsigned long long) msgs,
           (unsigned long long) mine[GET_COUNT], (unsigned long long) theirs[GET_COUNT],
           (unsigned long long) mine[PIPE_FRAGS], (unsigned long long) theirs[PIPE_FRAGS]);
    if (carried < payload) {
        FAIL("phase all: cma carried %llu bytes, less than the %llu bytes of same-host payload: the same-host "
             "pair went (partly) through another BTL",
             (unsigned long long) carried, (unsigned long long) payload);
    }
    if (carried > limit) {
        FAIL("phase all: cma carried %llu bytes, more than same-host payload %llu + headers (%llu): cross-host "
             "traffic went through cma",
             (unsigned long long) carried, (unsigned long long) payload, (unsigned long long) (limit - payload));
    }
    /* The allowance must stay below the payload of one large message, or
     * the bound above proves nothing. */
    if (limit - payload >= largest) {
        FAIL("phase all: header allowance %llu is not below one %llu-byte message",
             (unsigned long long) (limit - payload), (unsigned long long) largest);
    }
    /* The 64 KiB messages are above the eager limit and below
     * single_copy_min: without fragments the run did not go through the
     * path it was meant to.  Single copy is not required: where the kernel
     * denies it, the 4 MiB messages go through the rings, which the byte
     * bounds above account for all the same. */
    if (mine[PIPE_FRAGS] + theirs[PIPE_FRAGS] == 0) {
        FAIL("phase all: no ring pipeline fragments between the same-host ranks");
    }

    MPI_Comm_free(&node);
    for (int c = 0; c < NCOUNTERS; ++c) {
        MPI_T_pvar_handle_free(session, &counters[c].handle);
    }
    MPI_T_pvar_session_free(&session);
    /* MPI_T_finalize before MPI_Finalize: Open MPI 4.1.4 crashes in the
     * reverse order. */
    MPI_T_finalize();
    MPI_Finalize();
    if (rank == 0) {
        printf("multinode: PASS\n");
    }
    return 0;
}
