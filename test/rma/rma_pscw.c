/*
 * Generalized active target synchronization (MPI_Win_post, MPI_Win_start,
 * MPI_Win_complete, MPI_Win_wait and MPI_Win_test) on a window from
 * MPI_Win_create over malloc'd memory: ring neighbours writing into and
 * reading from each other; even ranks exposing to odd ranks only (targets
 * poll MPI_Win_test); everyone with everyone.  Sizes 8 B to 1 MiB + 5,
 * every byte verified, and the cma counters must show puts and gets.
 */
#include "rmatest.h"

#include <stdlib.h>
#include <string.h>

enum { TAG_RING = 1, TAG_OWN, TAG_ODD, TAG_ALL };

static uint64_t put_remote, get_remote;

/* A group of the distinct ranks in list (a rank may appear twice when
 * left and right neighbour coincide). */
static MPI_Group group_of(const int *list, int n)
{
    MPI_Group world, g;
    int *u = rt_malloc(sizeof(int) * (size_t) (n ? n : 1)), nu = 0, i, j;

    for (i = 0; i < n; i++) {
        for (j = 0; j < nu && u[j] != list[i]; j++)
            ;
        if (j == nu)
            u[nu++] = list[i];
    }
    RT_MPI(MPI_Comm_group(MPI_COMM_WORLD, &world));
    RT_MPI(MPI_Group_incl(world, nu, u, &g));
    RT_MPI(MPI_Group_free(&world));
    free(u);
    return g;
}

/* Slots: 0 from the left neighbour, 1 from the right one, 2 our own data
 * that the left neighbour reads. */
static void ring(MPI_Win win, unsigned char *w, unsigned char *o, unsigned char *g, size_t s, int round)
{
    int n = rt_size, right = (rt_rank + 1) % n, left = (rt_rank + n - 1) % n, nb[2] = { left, right };
    MPI_Group grp = group_of(nb, 2);

    rt_fill(w + 2 * s, s, rt_seed(TAG_OWN, (uint64_t) rt_rank, s, (uint64_t) round));
    rt_fill(o, s, rt_seed(TAG_RING, (uint64_t) rt_rank, 0, s));
    rt_fill(o + s, s, rt_seed(TAG_RING, (uint64_t) rt_rank, 1, s));
    memset(g, 0, s);
    RT_MPI(MPI_Win_post(grp, 0, win));
    RT_MPI(MPI_Win_start(grp, 0, win));
    RT_MPI(MPI_Put(o, (int) s, MPI_BYTE, right, 0, (int) s, MPI_BYTE, win));
    RT_MPI(MPI_Put(o + s, (int) s, MPI_BYTE, left, (MPI_Aint) s, (int) s, MPI_BYTE, win));
    RT_MPI(MPI_Get(g, (int) s, MPI_BYTE, right, (MPI_Aint) (2 * s), (int) s, MPI_BYTE, win));
    RT_MPI(MPI_Win_complete(win));
    RT_MPI(MPI_Win_wait(win));
    rt_check(w, s, rt_seed(TAG_RING, (uint64_t) left, 0, s), "PSCW ring: put from the left neighbour %d", left);
    rt_check(w + s, s, rt_seed(TAG_RING, (uint64_t) right, 1, s), "PSCW ring: put from the right neighbour %d",
             right);
    rt_check(g, s, rt_seed(TAG_OWN, (uint64_t) right, s, (uint64_t) round), "PSCW ring: get from rank %d", right);
    if (n > 1)
        put_remote += 2 * s, get_remote += s;
    RT_MPI(MPI_Group_free(&grp));
}

/* Even ranks are targets of all odd ranks, which write a slot each. */
static void even_odd(MPI_Win win, unsigned char *w, unsigned char *o, size_t s)
{
    int n = rt_size, *list = rt_malloc(sizeof(int) * (size_t) n), cnt = 0, i, flag = 0;
    MPI_Group grp;

    for (i = (rt_rank % 2) ? 0 : 1; i < n; i += 2)
        list[cnt++] = i;
    grp = group_of(list, cnt);
    if (rt_rank % 2 == 0) {
        long polls = 0;

        RT_MPI(MPI_Win_post(grp, 0, win));
        /* MPI_Win_test must eventually succeed without a blocking wait. */
        while (!flag) {
            RT_MPI(MPI_Win_test(win, &flag));
            polls++;
        }
        for (i = 1; i < n; i += 2)
            rt_check(w + (size_t) i * s, s, rt_seed(TAG_ODD, (uint64_t) i, (uint64_t) rt_rank, s),
                     "PSCW even/odd: slot of odd rank %d (after %ld MPI_Win_test calls)", i, polls);
    } else {
        RT_MPI(MPI_Win_start(grp, 0, win));
        for (i = 0; i < cnt; i++) {
            rt_fill(o + (size_t) i * s, s, rt_seed(TAG_ODD, (uint64_t) rt_rank, (uint64_t) list[i], s));
            RT_MPI(MPI_Put(o + (size_t) i * s, (int) s, MPI_BYTE, list[i], (MPI_Aint) ((size_t) rt_rank * s),
                           (int) s, MPI_BYTE, win));
            put_remote += s;
        }
        RT_MPI(MPI_Win_complete(win));
    }
    RT_MPI(MPI_Group_free(&grp));
    free(list);
}

/* Everyone exposes to and accesses everyone, like a fence. */
static void all_to_all(MPI_Win win, unsigned char *w, unsigned char *o, size_t s)
{
    int n = rt_size, *list = rt_malloc(sizeof(int) * (size_t) n), t;
    MPI_Group grp;

    for (t = 0; t < n; t++)
        list[t] = t;
    grp = group_of(list, n);
    RT_MPI(MPI_Win_post(grp, 0, win));
    RT_MPI(MPI_Win_start(grp, 0, win));
    for (t = 0; t < n; t++) {
        rt_fill(o + (size_t) t * s, s, rt_seed(TAG_ALL, (uint64_t) rt_rank, (uint64_t) t, s));
        RT_MPI(MPI_Put(o + (size_t) t * s, (int) s, MPI_BYTE, t, (MPI_Aint) ((size_t) rt_rank * s), (int) s,
                       MPI_BYTE, win));
        if (t != rt_rank)
            put_remote += s;
    }
    RT_MPI(MPI_Win_complete(win));
    RT_MPI(MPI_Win_wait(win));
    for (t = 0; t < n; t++)
        rt_check(w + (size_t) t * s, s, rt_seed(TAG_ALL, (uint64_t) t, (uint64_t) rt_rank, s),
                 "PSCW all-to-all: slot of rank %d", t);
    RT_MPI(MPI_Group_free(&grp));
    free(list);
}

int main(int argc, char **argv)
{
    static const size_t sizes[] = { 8, 4099, 65536, 1048581 };
    size_t k, max = 1048581, len;
    unsigned char *w, *o, *g;
    rt_traffic_t traffic;
    MPI_Win win;
    int round;

    rt_init(&argc, &argv, "rma_pscw");
    len = (size_t) (rt_size > 3 ? rt_size : 3) * max;
    w = rt_malloc(len);
    o = rt_malloc(len);
    g = rt_malloc(max);
    memset(w, 0, len);
    RT_MPI(MPI_Win_create(w, (MPI_Aint) len, 1, MPI_INFO_NULL, MPI_COMM_WORLD, &win));
    rt_traffic_begin(&traffic);
    for (k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
        for (round = 0; round < 3; round++)
            ring(win, w, o, g, sizes[k], round);
        if (rt_size > 1)
            even_odd(win, w, o, sizes[k]);
        all_to_all(win, w, o, sizes[k]);
        rt_log("%zu bytes: ring, even/odd (MPI_Win_test) and all-to-all PSCW epochs verified", sizes[k]);
    }
    rt_traffic_end(&traffic, "PSCW", RT_PUT | RT_GET, put_remote, get_remote);
    RT_MPI(MPI_Win_free(&win));
    free(w), free(o), free(g);
    return rt_finalize();
}
