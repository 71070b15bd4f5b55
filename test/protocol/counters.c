/*
 * The MPI_T counter access, message pattern and failure report shared by
 * the protocol tests (counters.h).
 */
#include "counters.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void pt_fail(const char *prog, const char *fmt, ...)
{
    int rank = -1;
    va_list ap;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    fprintf(stderr, "%s rank %d: FAIL: ", prog, rank);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
    MPI_Abort(MPI_COMM_WORLD, 1);
    exit(1);
}

int pt_init(const char *prog, int *argc, char ***argv, MPI_T_pvar_session *session, pt_counter_t *c, int n)
{
    int provided, rank, size;
    MPI_T_init_thread(MPI_THREAD_SINGLE, &provided);
    MPI_Init(argc, argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (size != 2) {
        pt_fail(prog, "run with 2 ranks, not %d", size);
    }
    pt_counters_open(prog, session, c, n);
    return rank;
}

void pt_counters_open(const char *prog, MPI_T_pvar_session *session, pt_counter_t *c, int n)
{
    int nvars;
    MPI_T_pvar_get_num(&nvars);
    MPI_T_pvar_session_create(session);
    for (int k = 0; k < n; ++k) {
        int found = 0;
        for (int i = 0; i < nvars && !found; ++i) {
            char name[256], desc[1024];
            int nl = sizeof(name), dl = sizeof(desc), verb, cls, bind, ro, cont, atomic;
            MPI_Datatype dt;
            MPI_T_enum en;
            MPI_T_pvar_get_info(i, name, &nl, &verb, &cls, &dt, &en, desc, &dl, &bind, &ro, &cont, &atomic);
            if (strcmp(name, c[k].name) == 0) {
                int count;
                MPI_T_pvar_handle_alloc(*session, i, NULL, &c[k].handle, &count);
                found = 1;
            }
        }
        if (!found) {
            pt_fail(prog, "performance variable %s not found: is the cma component loaded?", c[k].name);
        }
    }
}

void pt_counters_read(MPI_T_pvar_session session, const pt_counter_t *c, int n, uint64_t *values)
{
    for (int k = 0; k < n; ++k) {
        unsigned long x = 0;
        MPI_T_pvar_read(session, c[k].handle, &x);
        values[k] = x;
    }
}

void pt_counters_close(MPI_T_pvar_session *session, pt_counter_t *c, int n)
{
    for (int k = 0; k < n; ++k) {
        MPI_T_pvar_handle_free(*session, &c[k].handle);
    }
    MPI_T_pvar_session_free(session);
}

void pt_fill(unsigned char *b, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; ++i) {
        b[i] = (unsigned char) (i * 131u + seed + (i >> 12));
    }
}

void pt_verify(const char *prog, const unsigned char *b, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; ++i) {
        if (b[i] != (unsigned char) (i * 131u + seed + (i >> 12))) {
            pt_fail(prog, "payload of %zu bytes wrong at offset %zu", n, i);
        }
    }
}
