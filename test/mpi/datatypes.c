/*
 * datatypes: every pair of seven send and receive layouts of the same
 * number of data bytes, at sizes around each protocol boundary (eager
 * limit 8192, fragment 32768, small and large pipelined messages), with
 * every data byte checked in type-map order and every gap byte of the
 * receive buffer checked untouched.  The layouts are the ones that break
 * packing code: contiguous, single-byte vector, vector plus a tail in a
 * struct, indexed with random blocks and gaps, a resized byte with a
 * negative lower bound, a struct of gapped elements with a negative lower
 * bound, and indexed with decreasing (negative) displacements.  Then two
 * hvectors whose strides exceed 4 GiB in a sparse mapping.  Rank 0 sends,
 * rank 1 receives; other ranks only take part in the barriers.
 */
#include "mpitest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define NLAYOUTS 7
#define FILL_SENT 0x55
#define FILL_UNTOUCHED 0xee

typedef struct layout {
    MPI_Datatype type;
    int count;
    unsigned char *alloc; /* the whole buffer, with 64 spare bytes each side */
    size_t alloc_len;
    unsigned char *base; /* what the MPI call gets */
} layout_t;

/* xorshift, seeded per layout, for the random indexed blocks. */
static uint64_t rnd_state;
static uint64_t rnd(void)
{
    rnd_state ^= rnd_state << 13;
    rnd_state ^= rnd_state >> 7;
    rnd_state ^= rnd_state << 17;
    return rnd_state;
}

static MPI_Datatype make_type(int kind, size_t n, int *count)
{
    MPI_Datatype t = MPI_DATATYPE_NULL;
    *count = 1;
    switch (kind) {
    case 0:
        MT_MPI(MPI_Type_contiguous((int) n, MPI_BYTE, &t));
        break;
    case 1:
        MT_MPI(MPI_Type_vector((int) n, 1, 2, MPI_BYTE, &t));
        break;
    case 2: { /* blocks of 3 bytes every 7, then the rest after a gap */
        int q = (int) (n / 3), bl[2] = {1, (int) (n % 3)};
        MPI_Datatype v, ty[2];
        MT_MPI(MPI_Type_vector(q, 3, 7, MPI_BYTE, &v));
        MPI_Aint d[2] = {0, (MPI_Aint) q * 7 + 5};
        ty[0] = v;
        ty[1] = MPI_BYTE;
        MT_MPI(MPI_Type_create_struct(2, bl, d, ty, &t));
        MT_MPI(MPI_Type_free(&v));
        break;
    }
    case 3: { /* blocks of 1-300 bytes with gaps of 0-49 */
        int *bl = mt_malloc(sizeof(int) * (n + 1)), *dp = mt_malloc(sizeof(int) * (n + 1)), nb = 0, pos = 0;
        for (size_t left = n; left; ++nb) {
            int b = 1 + (int) (rnd() % 300);
            if ((size_t) b > left) {
                b = (int) left;
            }
            pos += (int) (rnd() % 50);
            bl[nb] = b;
            dp[nb] = pos;
            pos += b;
            left -= (size_t) b;
        }
        MT_MPI(MPI_Type_indexed(nb, bl, dp, MPI_BYTE, &t));
        free(bl);
        free(dp);
        break;
    }
    case 4: /* one byte per 3-byte extent, lower bound -1; n of them */
        MT_MPI(MPI_Type_create_resized(MPI_BYTE, -1, 3, &t));
        *count = (int) n;
        break;
    case 5: { /* elements of 3 bytes at -8 and 2 at 5, lb -16, extent 32 */
        int bl[2] = {3, 2}, q = (int) (n / 5), bl2[2] = {1, (int) (n % 5)};
        MPI_Aint d[2] = {-8, 5}, d2[2] = {0, (MPI_Aint) q * 32 + 3};
        MPI_Datatype ty[2] = {MPI_BYTE, MPI_BYTE}, s0, e, c, ty2[2];
        MT_MPI(MPI_Type_create_struct(2, bl, d, ty, &s0));
        MT_MPI(MPI_Type_create_resized(s0, -16, 32, &e));
        MT_MPI(MPI_Type_contiguous(q, e, &c));
        ty2[0] = c;
        ty2[1] = MPI_BYTE;
        MT_MPI(MPI_Type_create_struct(2, bl2, d2, ty2, &t));
        MT_MPI(MPI_Type_free(&s0));
        MT_MPI(MPI_Type_free(&e));
        MT_MPI(MPI_Type_free(&c));
        break;
    }
    default: { /* blocks of 100 bytes at decreasing, negative displacements */
        int nb = (int) ((n + 99) / 100), *bl = mt_malloc(sizeof(int) * (size_t) nb),
            *dp = mt_malloc(sizeof(int) * (size_t) nb);
        for (int i = 0; i < nb; ++i) {
            bl[i] = i == nb - 1 ? (int) (n - 100 * (size_t) (nb - 1)) : 100;
            dp[i] = -(i * 130);
        }
        MT_MPI(MPI_Type_indexed(nb, bl, dp, MPI_BYTE, &t));
        free(bl);
        free(dp);
        break;
    }
    }
    MT_MPI(MPI_Type_commit(&t));
    return t;
}

static void layout_make(layout_t *l, int kind, size_t n, uint64_t seed)
{
    rnd_state = seed * 7919 + (uint64_t) kind * 104729 + n;
    l->type = make_type(kind, n, &l->count);
    MPI_Aint lb, extent, tlb, textent;
    int size;
    MT_MPI(MPI_Type_get_extent(l->type, &lb, &extent));
    MT_MPI(MPI_Type_get_true_extent(l->type, &tlb, &textent));
    MT_MPI(MPI_Type_size(l->type, &size));
    if ((size_t) size * (size_t) l->count != n) {
        mt_fail("layout %d holds %d x %d bytes, not %zu", kind, size, l->count, n);
    }
    MPI_Aint lo = tlb, hi = tlb + textent + (MPI_Aint) (l->count - 1) * extent;
    l->alloc_len = (size_t) (hi - lo) + 128;
    l->alloc = mt_malloc(l->alloc_len);
    l->base = l->alloc + 64 - lo;
}

static void layout_free(layout_t *l)
{
    MT_MPI(MPI_Type_free(&l->type));
    free(l->alloc);
}

/* One message of n data bytes, rank 0's layout ks to rank 1's layout kr. */
static void transfer(int ks, int kr, size_t n, int tag)
{
    uint64_t seed = mt_seed((uint64_t) ks, (uint64_t) kr, n, (uint64_t) tag);
    unsigned char *packed = mt_malloc(n + 1);
    layout_t l;
    int pos = 0;
    if (0 == mt_rank) {
        layout_make(&l, ks, n, (uint64_t) tag);
        mt_fill(packed, n, seed);
        memset(l.alloc, FILL_SENT, l.alloc_len);
        MT_MPI(MPI_Unpack(packed, (int) n, &pos, l.base, l.count, l.type, MPI_COMM_SELF));
        MT_MPI(MPI_Send(l.base, l.count, l.type, 1, tag, MPI_COMM_WORLD));
    } else if (1 == mt_rank) {
        layout_make(&l, kr, n, (uint64_t) tag + 1000);
        /* The map of data bytes: zeros unpacked into an untouched buffer. */
        unsigned char *map = mt_malloc(l.alloc_len);
        memset(map, FILL_UNTOUCHED, l.alloc_len);
        memset(packed, 0, n + 1);
        MT_MPI(MPI_Unpack(packed, (int) n, &pos, map + (l.base - l.alloc), l.count, l.type, MPI_COMM_SELF));
        memset(l.alloc, FILL_UNTOUCHED, l.alloc_len);
        MPI_Status st;
        int got;
        MT_MPI(MPI_Recv(l.base, l.count, l.type, 0, tag, MPI_COMM_WORLD, &st));
        MT_MPI(MPI_Get_count(&st, MPI_BYTE, &got));
        if ((size_t) got != n) {
            mt_fail("layouts %d->%d, %zu bytes: received %d", ks, kr, n, got);
        }
        pos = 0;
        MT_MPI(MPI_Pack(l.base, l.count, l.type, packed, (int) n, &pos, MPI_COMM_SELF));
        mt_corrupt_hook(packed, n);
        size_t bad = mt_find_error(packed, n, seed);
        if (bad != (size_t) -1) {
            mt_fail("layouts %d->%d, %zu bytes: data byte %zu (in type-map order) wrong", ks, kr, n, bad);
        }
        for (size_t k = 0; k < l.alloc_len; ++k) {
            if (FILL_UNTOUCHED == map[k] && FILL_UNTOUCHED != l.alloc[k]) {
                mt_fail("layouts %d->%d, %zu bytes: gap byte %zu of the receive buffer written", ks, kr, n, k);
            }
        }
        free(map);
    } else {
        free(packed);
        return;
    }
    layout_free(&l);
    free(packed);
}

/* hvectors with strides beyond 4 GiB (sparse, MAP_NORESERVE: only the
 * blocks are touched), sent with one stride and received with another. */
static void huge_strides(void)
{
    const size_t stride = ((size_t) 4 << 30) + 3, rstride = ((size_t) 3 << 30) + 1;
    const int nb = 8, bl = 5000;
    size_t span = (stride * (size_t) nb > rstride * (size_t) nb * 2 ? stride * (size_t) nb : rstride * (size_t) nb * 2) + 4096;
    unsigned char *m = mmap(NULL, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    int ok = m != MAP_FAILED, all;
    MT_MPI(MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD));
    if (!all) {
        mt_log("no 32 GiB sparse mapping here: huge strides skipped");
        if (ok) {
            munmap(m, span);
        }
        return;
    }
    uint64_t seed = mt_seed(77, 0, 0, 0);
    MPI_Datatype hv;
    if (0 == mt_rank) {
        MT_MPI(MPI_Type_create_hvector(nb, bl, (MPI_Aint) stride, MPI_BYTE, &hv));
        MT_MPI(MPI_Type_commit(&hv));
        for (int b = 0; b < nb; ++b) {
            for (int j = 0; j < bl; ++j) {
                m[(size_t) b * stride + (size_t) j] = mt_byte(seed, (size_t) b * bl + (size_t) j);
            }
        }
        MT_MPI(MPI_Send(m, 1, hv, 1, 5000, MPI_COMM_WORLD));
        MT_MPI(MPI_Type_free(&hv));
    } else if (1 == mt_rank) {
        MT_MPI(MPI_Type_create_hvector(nb * 2, bl / 2, (MPI_Aint) rstride, MPI_BYTE, &hv));
        MT_MPI(MPI_Type_commit(&hv));
        MT_MPI(MPI_Recv(m, 1, hv, 0, 5000, MPI_COMM_WORLD, MPI_STATUS_IGNORE));
        size_t k = 0;
        for (int b = 0; b < nb * 2; ++b) {
            for (int j = 0; j < bl / 2; ++j, ++k) {
                if (m[(size_t) b * rstride + (size_t) j] != mt_byte(seed, k)) {
                    mt_fail("hvector with 3 GiB strides: data byte %zu wrong", k);
                }
            }
            if (m[(size_t) b * rstride + (size_t) (bl / 2)] != 0) {
                mt_fail("hvector with 3 GiB strides: the byte after block %d written", b);
            }
        }
        MT_MPI(MPI_Type_free(&hv));
    }
    munmap(m, span);
    mt_log("hvectors with 4 GiB and 3 GiB strides");
}

int main(int argc, char **argv)
{
    static const size_t sizes[] = {1,     100,   8191,  8192,          8193,      32767,
                                   32768, 32769, 65553, (size_t) 1 << 20, (1 << 20) + 3};
    mt_init(&argc, &argv, "datatypes", MPI_THREAD_SINGLE);
    if (mt_size < 2) {
        mt_fail("needs at least 2 ranks");
    }
    int tag = 0;
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); ++i) {
        for (int ks = 0; ks < NLAYOUTS; ++ks) {
            for (int kr = 0; kr < NLAYOUTS; ++kr) {
                transfer(ks, kr, sizes[i], tag++);
            }
        }
        mt_log("%zu bytes: %d x %d layouts", sizes[i], NLAYOUTS, NLAYOUTS);
    }
    MT_MPI(MPI_Barrier(MPI_COMM_WORLD));
    huge_strides();
    return mt_finalize();
}
