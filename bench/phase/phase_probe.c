/*
 * phase_probe: how fast one cache line travels between two cores right
 * now.  The development VM's host moves its vCPUs, and for minutes at a
 * time every transport's small-message latency reads 2-3x higher (0.13 or
 * 0.33 us for the same binary); this 0.1-second probe, run by the
 * comparison scripts before and after each benchmark run, tells such a
 * phase apart so that the run can be repeated instead of being compared.
 * Two processes pinned to the two given cores (those `mpirun --bind-to core`
 * gives two ranks) bounce one line; the median of 64 timed blocks of the
 * one-way time is printed in nanoseconds.
 *   phase_probe [cpuA cpuB]   (default 0 1)
 */
#define _GNU_SOURCE
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BLOCKS 64
#define PER_BLOCK 2000

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000000000ull + (uint64_t) ts.tv_nsec;
}

static void pin(int cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (sched_setaffinity(0, sizeof(set), &set) != 0) {
        perror("phase_probe: sched_setaffinity");
        exit(2);
    }
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    int cpu[2] = {argc > 2 ? atoi(argv[1]) : 0, argc > 2 ? atoi(argv[2]) : 1};
    _Atomic uint64_t *line = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (line == MAP_FAILED) {
        perror("phase_probe: mmap");
        return 2;
    }
    atomic_store(line, 0);
    pid_t pid = fork();
    if (pid < 0) {
        perror("phase_probe: fork");
        return 2;
    }
    int me = pid == 0;
    pin(cpu[me]);
    double block[BLOCKS];
    uint64_t v = 0;
    /* One untimed block first: both processes running, lines placed. */
    for (int b = -1; b < BLOCKS; ++b) {
        uint64_t t = now_ns();
        for (int i = 0; i < PER_BLOCK; ++i, v += 2) {
            if (!me) {
                atomic_store_explicit(line, v + 1, memory_order_release);
                while (atomic_load_explicit(line, memory_order_acquire) != v + 2) {
                }
            } else {
                while (atomic_load_explicit(line, memory_order_acquire) != v + 1) {
                }
                atomic_store_explicit(line, v + 2, memory_order_release);
            }
        }
        if (b >= 0) {
            block[b] = (double) (now_ns() - t) / (2.0 * PER_BLOCK);
        }
    }
    if (me) {
        _exit(0);
    }
    int status;
    waitpid(pid, &status, 0);
    qsort(block, BLOCKS, sizeof(block[0]), cmp);
    printf("%.1f\n", block[BLOCKS / 2]);
    return 0;
}
