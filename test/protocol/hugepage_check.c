/*
 * Proves that the page size of a send buffer steers the protocol: a buffer
 * on transparent huge pages goes by single copy from
 * btl_cma_single_copy_min_huge, the same message from 4 KiB pages through
 * the rings, and the btl_cma_hugepage policies (none, advise, collapse) do
 * what they say to a buffer that is sent repeatedly.  Which pages back a
 * buffer is read from /proc/self/smaps (AnonHugePages, VmFlags), not from
 * the component, so the component's own detection is what is under test.
 * Every byte is verified.  Usage:  hugepage_check MODE  where MODE is
 *   threshold  run with single_copy_min_huge=1 MiB (and single copy off
 *              for 4 KiB pages): sizes around the threshold, huge and not
 *   none       policy none, hugepage_repeat 2: a 4 KiB-page buffer sent 3
 *              times never goes by single copy and is left alone
 *   collapse   policy collapse, hugepage_repeat 2: the second send
 *              collapses it, the second and third go by single copy
 *   advise     policy advise, hugepage_repeat 1: the buffer's mapping is
 *              marked for huge pages (VmFlags hg) after the first send
 *   optout     policy advise, hugepage_repeat 1: a buffer the application
 *              marked MADV_NOHUGEPAGE, then one sent after
 *              prctl(PR_SET_THP_DISABLE), are left as they are
 * Exits 77 (skip) where the kernel has no THP to give.
 */
#define _GNU_SOURCE
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>

#include "counters.h"

#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25
#endif

#define MIB ((size_t) 1 << 20)
#define HUGE_PAGE (2 * MIB)

static MPI_T_pvar_session session;
static int rank;

static pt_counter_t counters[] = {
    {"btl_cma_get_count", 0},      {"btl_cma_get_bytes", 0},        {"btl_cma_ring_bytes", 0},
    {"btl_cma_hugepage_sends", 0}, {"btl_cma_hugepage_advised", 0},
};
enum { GET_COUNT, GET_BYTES, RING_BYTES, HP_SENDS, HP_ADVISED, NCOUNTERS };

#define FAIL(...) pt_fail("hugepage_check", __VA_ARGS__)

/* The smaps block of the mapping containing addr: AnonHugePages in bytes,
 * and whether VmFlags carries "hg" (MADV_HUGEPAGE); *refused, when not
 * NULL, whether it carries "nh" (MADV_NOHUGEPAGE). */
static size_t smaps_flags(const void *addr, int *advised, int *refused)
{
    FILE *f = fopen("/proc/self/smaps", "r");
    char line[512];
    int inside = 0;
    size_t huge = 0;
    uintptr_t a = (uintptr_t) addr;
    *advised = 0;
    if (!f) {
        FAIL("cannot open /proc/self/smaps");
    }
    while (fgets(line, sizeof(line), f)) {
        unsigned long lo, hi, kb;
        if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2) { /* a mapping's first line */
            inside = a >= lo && a < hi;
            continue;
        }
        if (inside && sscanf(line, "AnonHugePages: %lu kB", &kb) == 1) {
            huge = kb * 1024;
        }
        if (inside && strncmp(line, "VmFlags:", 8) == 0) {
            *advised = strstr(line, " hg") != NULL;
            if (refused) {
                *refused = strstr(line, " nh") != NULL;
            }
            break;
        }
    }
    fclose(f);
    return huge;
}

static size_t smaps_huge(const void *addr, int *advised)
{
    return smaps_flags(addr, advised, NULL);
}

/* len bytes starting `skew` bytes past a 2 MiB boundary, in a mapping of
 * its own so its page-size advice touches nothing else. */
static unsigned char *map_buffer(size_t len, size_t skew, int advice)
{
    size_t span = len + skew + 2 * HUGE_PAGE;
    unsigned char *m = mmap(NULL, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (MAP_FAILED == m) {
        FAIL("mmap of %zu bytes failed", span);
    }
    unsigned char *b = (unsigned char *) (((uintptr_t) m + HUGE_PAGE - 1) & ~(uintptr_t) (HUGE_PAGE - 1)) + skew;
    if (advice >= 0 && madvise(m, span, advice) != 0) {
        FAIL("madvise(%d) failed", advice);
    }
    memset(m, 0, span);
    return b;
}

static unsigned char *rbuf;

/* One message of n bytes from src (rank 0) to rank 1; returns the
 * counter deltas summed over both ranks. */
static void transfer(const char *what, unsigned char *src, size_t n, unsigned seed, uint64_t delta[NCOUNTERS])
{
    uint64_t before[NCOUNTERS], after[NCOUNTERS], mine[NCOUNTERS];
    MPI_Barrier(MPI_COMM_WORLD);
    pt_counters_read(session, counters, NCOUNTERS, before);
    if (0 == rank) {
        pt_fill(src, n, seed);
        MPI_Send(src, (int) n, MPI_BYTE, 1, (int) seed, MPI_COMM_WORLD);
        pt_verify("hugepage_check", src, n, seed); /* a collapse must not have changed it */
    } else {
        memset(rbuf, 0, n);
        MPI_Recv(rbuf, (int) n, MPI_BYTE, 0, (int) seed, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        pt_verify("hugepage_check", rbuf, n, seed);
    }
    MPI_Barrier(MPI_COMM_WORLD);
    pt_counters_read(session, counters, NCOUNTERS, after);
    for (int c = 0; c < NCOUNTERS; ++c) {
        mine[c] = after[c] - before[c];
    }
    MPI_Allreduce(mine, delta, NCOUNTERS, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD);
    if (0 == rank) {
        printf("%-44s %9zu bytes: single-copy reads %llu, huge-page sends %llu, advised %llu\n", what, n,
               (unsigned long long) delta[GET_COUNT], (unsigned long long) delta[HP_SENDS],
               (unsigned long long) delta[HP_ADVISED]);
    }
}

static void expect_single_copy(const char *what, const uint64_t d[NCOUNTERS], size_t n, int yes)
{
    if (yes && (d[GET_COUNT] != 1 || d[GET_BYTES] != n || d[HP_SENDS] != 1)) {
        FAIL("%s: expected one single-copy read of %zu bytes chosen for huge pages, saw %llu reads of %llu "
             "bytes, %llu huge-page sends",
             what, n, (unsigned long long) d[GET_COUNT], (unsigned long long) d[GET_BYTES],
             (unsigned long long) d[HP_SENDS]);
    }
    if (!yes && (d[GET_COUNT] != 0 || d[HP_SENDS] != 0 || d[RING_BYTES] < n)) {
        FAIL("%s: expected the rings, saw %llu single-copy reads, %llu huge-page sends, %llu ring bytes", what,
             (unsigned long long) d[GET_COUNT], (unsigned long long) d[HP_SENDS],
             (unsigned long long) d[RING_BYTES]);
    }
}

/* Rank 0's buffer really is on huge pages, or the kernel had none to give
 * (fragmented memory, THP off): then there is nothing to test. */
static void require_huge(const unsigned char *b, size_t n)
{
    int advised, ok = 1;
    if (0 == rank) {
        ok = smaps_huge(b, &advised) >= n - n % HUGE_PAGE;
    }
    MPI_Bcast(&ok, 1, MPI_INT, 0, MPI_COMM_WORLD);
    if (!ok) {
        if (0 == rank) {
            printf("SKIP: the kernel gave no transparent huge pages for a MADV_HUGEPAGE buffer\n");
        }
        MPI_Finalize();
        exit(77);
    }
}

int main(int argc, char **argv)
{
    uint64_t d[NCOUNTERS];
    if (argc != 2) {
        fprintf(stderr, "usage: hugepage_check threshold|none|collapse|advise|optout\n");
        return 2;
    }
    const char *mode = argv[1];
    rank = pt_init("hugepage_check", &argc, &argv, &session, counters, NCOUNTERS);
    rbuf = map_buffer(8 * MIB, 0, -1);

    if (0 == strcmp(mode, "threshold")) {
        /* 3 huge pages; offsets keep the odd sizes inside them. */
        unsigned char *huge = map_buffer(6 * MIB, 0, MADV_HUGEPAGE);
        unsigned char *small = map_buffer(6 * MIB, 0, MADV_NOHUGEPAGE);
        require_huge(huge, 6 * MIB);
        transfer("huge pages, one byte below the threshold", huge, MIB - 1, 1, d);
        expect_single_copy("huge, threshold - 1", d, MIB - 1, 0);
        transfer("huge pages, at the threshold", huge, MIB, 2, d);
        expect_single_copy("huge, threshold", d, MIB, 1);
        transfer("huge pages, odd size above", huge + 13, 4 * MIB + 13, 3, d);
        expect_single_copy("huge, 4 MiB + 13 at offset 13", d, 4 * MIB + 13, 1);
        transfer("4 KiB pages, same size", small + 13, 4 * MIB + 13, 4, d);
        expect_single_copy("4 KiB pages, 4 MiB + 13", d, 4 * MIB + 13, 0);
        /* Half huge, half 4 KiB: below the 7/8 rule. */
        unsigned char *mixed = map_buffer(4 * MIB, 0, -1);
        if (0 == rank && madvise(mixed + 2 * MIB, 2 * MIB, MADV_NOHUGEPAGE) != 0) {
            FAIL("madvise(MADV_NOHUGEPAGE) failed");
        }
        if (0 == rank && madvise(mixed, 2 * MIB, MADV_COLLAPSE) != 0) {
            printf("note: MADV_COLLAPSE of the first half failed; the mixed case is all 4 KiB pages\n");
        }
        transfer("half huge, half 4 KiB pages", mixed, 4 * MIB, 5, d);
        expect_single_copy("mixed pages", d, 4 * MIB, 0);
    } else if (0 == strcmp(mode, "none") || 0 == strcmp(mode, "collapse")) {
        int collapse = 0 == strcmp(mode, "collapse");
        /* Default advice: under THP "madvise" a touched anonymous buffer
         * sits on 4 KiB pages. */
        unsigned char *buf = map_buffer(4 * MIB + 13, 0, -1);
        int advised;
        if (0 == rank && smaps_huge(buf, &advised) >= 2 * MIB) {
            printf("SKIP: THP mode 'always' already put the buffer on huge pages\n");
            MPI_Finalize();
            return 77;
        }
        for (unsigned i = 0; i < 3; ++i) {
            char what[64];
            snprintf(what, sizeof(what), "%s policy, send %u of the same buffer", mode, i + 1);
            transfer(what, buf, 4 * MIB + 13, 10 + i, d);
            int sc = collapse && i >= 1;
            if (collapse && 1 == i && 0 == rank && smaps_huge(buf, &advised) < 4 * MIB) {
                /* The kernel may fail a collapse (no free huge page): then
                 * the buffer must simply stay on the rings. */
                printf("SKIP: MADV_COLLAPSE found no huge pages to give\n");
                MPI_Abort(MPI_COMM_WORLD, 77);
            }
            expect_single_copy(what, d, 4 * MIB + 13, sc);
            if (d[HP_ADVISED] != (uint64_t) (collapse && 1 == i)) {
                FAIL("%s: %llu buffers advised", what, (unsigned long long) d[HP_ADVISED]);
            }
        }
    } else if (0 == strcmp(mode, "advise")) {
        unsigned char *buf = map_buffer(4 * MIB, 0, -1);
        int advised = 1;
        if (0 == rank) {
            (void) smaps_huge(buf, &advised);
        }
        MPI_Bcast(&advised, 1, MPI_INT, 0, MPI_COMM_WORLD);
        if (advised) {
            FAIL("the fresh mapping already carries VmFlags hg");
        }
        transfer("advise policy, first send", buf, 4 * MIB, 20, d);
        if (d[HP_ADVISED] != 1) {
            FAIL("advise: %llu buffers advised, expected 1", (unsigned long long) d[HP_ADVISED]);
        }
        if (0 == rank) {
            (void) smaps_huge(buf, &advised);
            if (!advised) {
                FAIL("advise: the buffer's mapping does not carry VmFlags hg after MADV_HUGEPAGE");
            }
        }
    } else if (0 == strcmp(mode, "optout")) {
        /* The application's own choice wins over the policy: advising
         * would clear MADV_NOHUGEPAGE and let khugepaged collapse it. */
        unsigned char *buf = map_buffer(4 * MIB, 0, MADV_NOHUGEPAGE);
        int advised, refused;
        transfer("advise policy, MADV_NOHUGEPAGE buffer", buf, 4 * MIB, 30, d);
        if (d[HP_ADVISED] != 0) {
            FAIL("optout: %llu buffers advised, expected none", (unsigned long long) d[HP_ADVISED]);
        }
        if (0 == rank) {
            (void) smaps_flags(buf, &advised, &refused);
            if (advised || !refused) {
                FAIL("optout: the MADV_NOHUGEPAGE buffer's VmFlags now read%s%s", advised ? " hg" : "",
                     refused ? " nh" : " (no nh)");
            }
        }
        /* Process-wide: THP disabled after MPI_Init, a buffer without advice. */
        unsigned char *plain = map_buffer(4 * MIB, 0, -1);
        if (0 == rank && prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0) != 0) {
            FAIL("prctl(PR_SET_THP_DISABLE) failed");
        }
        transfer("advise policy, THP disabled by prctl", plain, 4 * MIB, 31, d);
        if (d[HP_ADVISED] != 0) {
            FAIL("optout: %llu buffers advised under PR_SET_THP_DISABLE, expected none",
                 (unsigned long long) d[HP_ADVISED]);
        }
        if (0 == rank) {
            (void) smaps_flags(plain, &advised, &refused);
            if (advised) {
                FAIL("optout: the buffer was advised (VmFlags hg) although the process disabled THP");
            }
        }
    } else {
        FAIL("unknown mode '%s'", mode);
    }

    pt_counters_close(&session, counters, NCOUNTERS);
    /* MPI_T_finalize before MPI_Finalize: Open MPI 4.1.4 crashes in the
     * reverse order. */
    MPI_T_finalize();
    MPI_Finalize();
    if (0 == rank) {
        printf("PASS %s\n", mode);
    }
    return 0;
}
