/*
 * hold: an MPI job that stays alive, in a loop of barriers, until told to
 * stop, so t-access.sh can inspect its ranks from outside while their cma
 * segments are live.  Each rank writes DIR/rank.N with one line:
 *   PID FD ADDR LEN
 * FD: the rank's cma segment descriptor as it appears in /proc/self/fd (a
 * memfd named "btl_cma..."), -1 when it holds none (POSIX segments are
 * closed once mapped); ADDR/LEN: a buffer of this rank a reader from
 * outside could try to copy.  The loop ends when DIR/release exists (rank 0
 * looks, everyone learns it through a broadcast) or after LIMIT seconds.
 *
 * Usage: hold DIR [LIMIT_SECONDS]
 */
#include "stress.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int find_segment_fd(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *de;
    int found = -1;
    if (!d) {
        return -1;
    }
    while ((de = readdir(d)) != NULL && found < 0) {
        char path[300], target[300];
        snprintf(path, sizeof(path), "/proc/self/fd/%s", de->d_name);
        ssize_t n = readlink(path, target, sizeof(target) - 1);
        if (n > 0) {
            target[n] = '\0';
            if (strstr(target, "memfd:btl_cma")) {
                found = atoi(de->d_name);
            }
        }
    }
    closedir(d);
    return found;
}

int main(int argc, char **argv)
{
    static char secret[64] = "the payload of a rank that no other user may read";
    st_init(&argc, &argv, "hold");
    if (argc < 2) {
        st_fail("usage: hold DIR [LIMIT_SECONDS]");
    }
    const char *dir = argv[1];
    double limit = argc > 2 ? atof(argv[2]) : 120.0;
    char path[4096], tmp[4200];
    snprintf(path, sizeof(path), "%s/rank.%d", dir, st_rank);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    /* One message each way first, so every connection (and with it every
     * attach of a peer's segment) is certainly complete. */
    int token = st_rank, got;
    MPI_Sendrecv(&token, 1, MPI_INT, (st_rank + 1) % st_size, 0, &got, 1, MPI_INT,
                 (st_rank + st_size - 1) % st_size, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    MPI_Barrier(MPI_COMM_WORLD);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        st_fail("cannot write %s", tmp);
    }
    fprintf(f, "%d %d %p %zu\n", (int) getpid(), find_segment_fd(), (void *) secret, sizeof(secret));
    fclose(f);
    rename(tmp, path); /* the reader never sees half a line */

    snprintf(path, sizeof(path), "%s/release", dir);
    double t0 = st_now();
    int stop = 0;
    while (!stop) {
        MPI_Barrier(MPI_COMM_WORLD);
        if (st_rank == 0) {
            stop = access(path, F_OK) == 0 || st_now() - t0 > limit;
        }
        MPI_Bcast(&stop, 1, MPI_INT, 0, MPI_COMM_WORLD);
        usleep(20000); /* a barrier loop, but leave the cores to the inspection */
    }
    return st_finalize(0);
}
