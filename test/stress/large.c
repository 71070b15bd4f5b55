/*
 * large: one message of 3 GiB + 13 bytes from rank 0 to rank 1, every byte
 * verified, and the cma component's MPI_T counters checked to prove which
 * protocol carried it.  Past 2 GiB a transport must loop: Linux moves at
 * most about 2 GiB - 4 KiB per process_vm_readv, and lengths kept in an int
 * overflow.  The count handed to MPI must fit an int, so the message is
 * COUNT elements of a contiguous type of D bytes (D the smallest divisor of
 * the size that makes COUNT fit).
 *
 * Usage: large [-s SIZE] [-d] EXPECT
 *   EXPECT  get   one process_vm_readv transfer (get) of the whole message
 *           ring  no single copy at all: the ring pipeline carried it
 *           denied  single copy denied from the start (seccomp wrapper):
 *                 nothing read by single copy, all bytes through the rings
 *           emu   single copy denied only after start-up (-d): the first
 *                 read fails and the component serves it as an emulated get
 *                 through the rings
 *   -d      rank 1 installs a seccomp filter denying process_vm_readv and
 *           process_vm_writev after MPI_Init (connection-time probe passed)
 */
#include "stress.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define GUARD 64
#define GUARD_BYTE 0xa5
#define HUGE ((size_t) 2 << 20)

int main(int argc, char **argv)
{
    size_t total = ((size_t) 3 << 30) + 13;
    int opt, late_deny = 0;

    st_init(&argc, &argv, "large");
    while ((opt = getopt(argc, argv, "s:d")) != -1) {
        switch (opt) {
        case 's': total = st_parse_size(optarg); break;
        case 'd': late_deny = 1; break;
        default: st_fail("usage: large [-s size] [-d] get|ring|denied|emu");
        }
    }
    if (optind != argc - 1 || st_size != 2) {
        st_fail("usage: large [-s size] [-d] get|ring|denied|emu, on 2 ranks");
    }
    const char *expect = argv[optind];
    if (strcmp(expect, "get") && strcmp(expect, "ring") && strcmp(expect, "denied") && strcmp(expect, "emu")) {
        st_fail("unknown expectation '%s'", expect);
    }
    size_t unit = 1;
    while (total / unit > INT_MAX || total % unit) {
        if (++unit > 4096) {
            st_fail("%zu bytes: no contiguous type of at most 4096 bytes divides it into an int count", total);
        }
    }
    int count = (int) (total / unit);
    MPI_Datatype type;
    MPI_Type_contiguous((int) unit, MPI_BYTE, &type);
    MPI_Type_commit(&type);
    st_counters_open();
    if (late_deny && st_rank == 1) {
        st_deny_single_copy();
    }

    /* Only what each side needs (3 GiB each); the guard catches a write
     * past the end of the receive buffer.  Transparent huge pages where the
     * system allows them ("madvise" mode here): touching 3 GiB in 4 KiB
     * pages costs this VM more time than the transfer itself. */
    size_t len = (total + GUARD + HUGE - 1) / HUGE * HUGE;
    unsigned char *buf = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (buf == MAP_FAILED) {
        st_fail("cannot map %zu bytes: %s", len, strerror(errno));
    }
    (void) madvise(buf, len, MADV_HUGEPAGE);
    uint64_t seed = st_seed(3, 0, 1, total, 0);
    if (st_rank == 0) {
        st_fill(buf, total, seed);
    } else {
        memset(buf, 0, total);
        memset(buf + total, GUARD_BYTE, GUARD);
    }
    st_log("%zu bytes (%d x %zu-byte contiguous type) from rank 0 to rank 1, expecting %s", total, count, unit,
           expect);
    uint64_t before[ST_NCOUNTERS], after[ST_NCOUNTERS];
    MPI_Barrier(MPI_COMM_WORLD);
    st_counters_read(before);
    double t0 = st_now();
    if (st_rank == 0) {
        MPI_Send(buf, count, type, 1, 77, MPI_COMM_WORLD);
    } else {
        MPI_Status status;
        int got;
        MPI_Recv(buf, count, type, 0, 77, MPI_COMM_WORLD, &status);
        MPI_Get_count(&status, type, &got);
        if (got != count) {
            st_fail("received %d elements, expected %d", got, count);
        }
    }
    double secs = st_now() - t0;
    MPI_Barrier(MPI_COMM_WORLD);
    st_counters_read(after);
    if (st_rank == 1) {
        long long bad = st_check(buf, total, seed);
        if (bad >= 0) {
            st_fail("received message wrong at byte %lld of %zu", bad, total);
        }
        for (size_t i = 0; i < GUARD; ++i) {
            if (buf[total + i] != GUARD_BYTE) {
                st_fail("byte %zu past the end of the receive buffer was overwritten", i);
            }
        }
    }

    /* Both ranks' counter deltas, side by side on rank 0. */
    uint64_t d[ST_NCOUNTERS], both[2 * ST_NCOUNTERS];
    for (int c = 0; c < ST_NCOUNTERS; ++c) {
        d[c] = after[c] - before[c];
    }
    MPI_Gather(d, ST_NCOUNTERS, MPI_UINT64_T, both, ST_NCOUNTERS, MPI_UINT64_T, 0, MPI_COMM_WORLD);
    int status = 0;
    if (st_rank == 0) {
        const uint64_t *snd = both, *rcv = both + ST_NCOUNTERS;
        for (int c = 0; c < ST_NCOUNTERS; ++c) {
            printf("large:   %-32s sender %12llu  receiver %12llu\n", st_counter_names[c],
                   (unsigned long long) snd[c], (unsigned long long) rcv[c]);
        }
        const char *why = NULL;
        uint64_t reads = snd[ST_GET_COUNT] + rcv[ST_GET_COUNT];
        if (strcmp(expect, "get") == 0) {
            if (rcv[ST_GET_COUNT] != 1 || rcv[ST_GET_BYTES] != total) {
                why = "expected one process_vm_readv transfer of the whole message by the receiver";
            } else if (snd[ST_RING_BYTES] >= total / 100) {
                why = "single copy expected, but the sender also pushed the payload through the rings";
            }
        } else if (reads != 0) {
            why = "process_vm_readv moved bytes where single copy was off or denied";
        } else if (snd[ST_RING_BYTES] < total) {
            why = "fewer bytes went through the sender's rings than the message holds";
        } else if (strcmp(expect, "ring") == 0 && (rcv[ST_EMU_GETS] != 0 || snd[ST_PIPE_BYTES] < total)) {
            why = "expected the copy pipeline (btl_send fragments) to carry the message";
        } else if (strcmp(expect, "emu") == 0 &&
                   (rcv[ST_EMU_GETS] != 1 || rcv[ST_EMU_GET_BYTES] != total || rcv[ST_SC_FALLBACKS] != 1)) {
            why = "expected the receiver's one failed read to become one emulated get of the whole message";
        }
        printf("large: %zu bytes in %.2f s (%.0f MB/s), %s%s\n", total, secs, (double) total / secs / 1e6,
               why ? "FAIL: " : "verified; protocol as expected: ", why ? why : expect);
        if (strcmp(expect, "denied") == 0 && !why) {
            printf("large: single copy denied from the start: %s carried it\n",
                   rcv[ST_EMU_GETS] ? "emulated gets" : "the copy pipeline");
        }
        status = why != NULL;
        fflush(stdout);
    }
    MPI_Bcast(&status, 1, MPI_INT, 0, MPI_COMM_WORLD);
    MPI_Type_free(&type);
    munmap(buf, len);
    return st_finalize(status);
}
