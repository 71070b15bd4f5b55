/*
 * A pattern that needs several send descriptors at once: both ranks
 * buffer-send six messages (0 B to 3 MiB: eager, rendezvous and pipelined)
 * to each other before either receives, then receive them in the reverse
 * order, verifying every byte.  With btl_cma_free_list_max 1 this hung for
 * good (ob1 set a send aside for lack of a descriptor and was never told
 * to retry it); the component now raises such a value, and t-freelist-min
 * runs this program with it under the harness's time limit.
 *   bsend_check
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

#include "counters.h"

#define PROG "bsend_check"

static const size_t sizes[] = {0, 5, 8192, 40000, 1 << 20, 3 << 20};
#define NSIZES (sizeof(sizes) / sizeof(sizes[0]))
#define LARGEST ((size_t) 3 << 20)

int main(int argc, char **argv)
{
    int rank, size;
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (size != 2) {
        pt_fail(PROG, "run with 2 ranks, not %d", size);
    }
    int peer = rank ^ 1;
    unsigned char *out = malloc(LARGEST * NSIZES), *in = malloc(LARGEST);
    size_t total = 0;
    for (size_t i = 0; i < NSIZES; ++i) {
        total += sizes[i];
    }
    int bytes = (int) total + (int) NSIZES * MPI_BSEND_OVERHEAD;
    void *attached = malloc((size_t) bytes);
    if (!out || !in || !attached) {
        pt_fail(PROG, "out of memory");
    }
    MPI_Buffer_attach(attached, bytes);
    for (size_t i = 0; i < NSIZES; ++i) {
        unsigned char *b = out + i * LARGEST;
        pt_fill(b, sizes[i], (unsigned) (i * 2 + (size_t) rank));
        MPI_Bsend(b, (int) sizes[i], MPI_BYTE, peer, (int) i, MPI_COMM_WORLD);
    }
    for (size_t i = NSIZES; i-- > 0;) {
        MPI_Status st;
        int got;
        MPI_Recv(in, (int) LARGEST, MPI_BYTE, peer, (int) i, MPI_COMM_WORLD, &st);
        MPI_Get_count(&st, MPI_BYTE, &got);
        if ((size_t) got != sizes[i]) {
            pt_fail(PROG, "message %zu: %d bytes, expected %zu", i, got, sizes[i]);
        }
        pt_verify(PROG, in, sizes[i], (unsigned) (i * 2 + (size_t) peer));
    }
    MPI_Buffer_detach(&attached, &bytes);
    MPI_Barrier(MPI_COMM_WORLD);
    if (0 == rank) {
        printf(PROG ": ok, %zu messages each way\n", NSIZES);
    }
    free(attached);
    free(in);
    free(out);
    MPI_Finalize();
    return 0;
}
