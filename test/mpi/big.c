/*
 * big: one message larger than 2 GiB (2 GiB + 4097 bytes by default) from
 * rank 0 to rank 1 and another back, every byte verified.  Sizes past
 * INT_MAX break transports that keep lengths in an int or hand the whole
 * length to one process_vm_readv/writev call (Linux moves at most about
 * 2 GiB - 4 KiB per call and reports a short count).  The count passed to
 * MPI must fit an int, so the message is one element of a struct datatype:
 * N blocks of a 1 MiB contiguous byte type followed by the remainder bytes,
 * which Open MPI sees as one contiguous region.
 *
 * Options: -s SIZE (total bytes, default 2g + 4097).
 */
#include "mpitest.h"

#include <stdlib.h>
#include <unistd.h>

#define CHUNK ((size_t) 1 << 20)
#define GUARD 64
#define TAG_BIG 31

/* One element covering total bytes: a struct of (total / 1 MiB) chunks
 * and (total % 1 MiB) single bytes. */
static MPI_Datatype make_type(size_t total)
{
    MPI_Datatype chunk, t;
    int bl[2] = { (int) (total / CHUNK), (int) (total % CHUNK) };
    MPI_Aint disp[2] = { 0, (MPI_Aint) (total / CHUNK * CHUNK) };
    MPI_Datatype types[2];
    MPI_Count size, lb, extent;

    MT_MPI(MPI_Type_contiguous((int) CHUNK, MPI_BYTE, &chunk));
    types[0] = chunk;
    types[1] = MPI_BYTE;
    MT_MPI(MPI_Type_create_struct(2, bl, disp, types, &t));
    MT_MPI(MPI_Type_commit(&t));
    MT_MPI(MPI_Type_free(&chunk));
    MT_MPI(MPI_Type_size_x(t, &size));
    MT_MPI(MPI_Type_get_extent_x(t, &lb, &extent));
    if ((size_t) size != total || lb != 0 || (size_t) extent != total)
        mt_fail("big datatype: size %lld lb %lld extent %lld, wanted %zu",
                (long long) size, (long long) lb, (long long) extent, total);
    return t;
}

int main(int argc, char **argv)
{
    size_t total = ((size_t) 2 << 30) + 4097;
    unsigned char *buf;
    MPI_Datatype type;
    int opt, dir;

    mt_init(&argc, &argv, "big", MPI_THREAD_SINGLE);
    while ((opt = getopt(argc, argv, "s:")) != -1) {
        if (opt == 's')
            total = mt_parse_size(optarg);
        else
            mt_fail("usage: big [-s size]");
    }
    if (mt_size != 2)
        mt_fail("runs on exactly 2 ranks, not %d", mt_size);
    type = make_type(total);
    buf = mt_malloc(total + GUARD);

    for (dir = 0; dir < 2; dir++) {
        int sender = dir, receiver = 1 - dir;
        uint64_t seed = mt_seed(41, (uint64_t) sender, (uint64_t) receiver, total);

        mt_log("%zu bytes from rank %d to rank %d", total, sender, receiver);
        if (mt_rank == sender) {
            mt_fill(buf, total, seed);
            MT_MPI(MPI_Send(buf, 1, type, receiver, TAG_BIG, MPI_COMM_WORLD));
        } else {
            MPI_Status st;
            MPI_Count elements;
            int count;

            mt_guard_set(buf, total + GUARD);
            MT_MPI(MPI_Recv(buf, 1, type, sender, TAG_BIG, MPI_COMM_WORLD, &st));
            MT_MPI(MPI_Get_count(&st, type, &count));
            MT_MPI(MPI_Get_elements_x(&st, type, &elements));
            if (count != 1 || (size_t) elements != total)
                mt_fail("big receive: MPI_Get_count %d (want 1), MPI_Get_elements_x %lld "
                        "(want %zu)", count, (long long) elements, total);
            mt_check(buf, total, seed, "big message from rank %d", sender);
            mt_guard_check(buf + total, GUARD, total, "big message");
        }
        mt_log("verified");
        MT_MPI(MPI_Barrier(MPI_COMM_WORLD));
    }
    MT_MPI(MPI_Type_free(&type));
    free(buf);
    return mt_finalize();
}
