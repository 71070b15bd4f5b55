/*
 * ring_bench: latency and message rate of libshmring between two processes
 * pinned to two different cores, next to the references that bound it: the
 * raw limit (one cache line bounced between the cores with atomics), a
 * pipe() ping-pong and a socketpair() ping-pong.  For each message size
 * (0 and powers of two up to -m) it measures the ring's one-way latency
 * (half a ping-pong round trip) and its streaming message rate; each figure
 * is the median of -r repetitions, and the repetitions of all measurements
 * are interleaved so that a noisy neighbour on a shared VM hits all of them
 * alike.  The parent drives; the child serves whatever the parent posts in
 * a shared control line.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "shm_ring.h"

#if defined(__x86_64__) || defined(__i386__)
#define cpu_relax() __builtin_ia32_pause()
#elif defined(__aarch64__)
#define cpu_relax() __asm__ __volatile__("yield" ::: "memory")
#else
#define cpu_relax() ((void) 0)
#endif

enum op {
    OP_NONE,
    OP_RAW,
    OP_RING_PP,
    OP_RING_STREAM,
    OP_PIPE_PP,
    OP_SOCK_PP,
    /* Gap analysis at one size: the steps between the raw limit and the ring. */
    OP_RAW2,          /* one line per direction */
    OP_EMU,           /* the ring protocol inlined: header+payload, seq, clear */
    OP_EMU_NOCLEAR,   /* the same without the reader's clear */
    OP_EMU_FIXED,     /* no clear, and always the same cell */
    OP_EMU_SEQONLY,   /* no clear, moving cells, only the seq word stored */
    OP_RING_PP_LATE,  /* the library ring, receiver releases after replying */
    OP_EXIT
};

/* Each field the two sides spin on has a cache line of its own, so that the
 * control traffic never shares a line with what is measured. */
typedef struct control {
    _Alignas(64) _Atomic uint32_t cmd_seq; /* parent -> child */
    uint32_t op, size;
    uint64_t iters;
    _Alignas(64) _Atomic uint32_t done_seq; /* child -> parent */
    _Alignas(64) _Atomic uint64_t raw;      /* the bounced line */
    _Alignas(64) _Atomic uint64_t raw2;     /* OP_RAW2: there... */
    _Alignas(64) _Atomic uint64_t raw_back; /* ...and back, on another line */
} control_t;

/* A cell of the inlined protocol (same layout as a ring cell). */
typedef struct emu_cell {
    _Alignas(64) _Atomic uint32_t seq;
    uint32_t len, ncells;
    uint8_t kind, reserved;
    uint16_t tag;
    uint8_t payload[48];
} emu_cell_t;



typedef struct side {
    shm_ring_producer_t tx;
    shm_ring_consumer_t rx;
    int pipe_rd, pipe_wr, sock;
    uint8_t *buf;
    emu_cell_t *emu_tx, *emu_rx;
    uint32_t emu_mask; /* as many cells as the library's rings */
    uint64_t emu_pos;  /* both sides advance in step */
    uint64_t raw_pos, raw2_pos;
} side_t;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000000000ull + (uint64_t) ts.tv_nsec;
}

static void die(const char *what)
{
    perror(what);
    exit(1);
}

static void pin(int cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (sched_setaffinity(0, sizeof(set), &set) != 0) {
        die("sched_setaffinity");
    }
}

/* ---- the measured loops (one side each; "initiator" starts the exchange) */

/* The bounced values continue across calls (both sides count the same
 * exchanges), so the parent may time a run in chunks. */
static void raw_pp(control_t *ctl, side_t *s, uint64_t iters, int initiator)
{
    /* Odd values travel parent->child, even ones back. */
    for (uint64_t i = 0; i < iters; ++i, ++s->raw_pos) {
        uint64_t v = 2 * s->raw_pos;
        if (initiator) {
            atomic_store_explicit(&ctl->raw, v + 1, memory_order_release);
            while (atomic_load_explicit(&ctl->raw, memory_order_acquire) != v + 2) {
                cpu_relax();
            }
        } else {
            while (atomic_load_explicit(&ctl->raw, memory_order_acquire) != v + 1) {
                cpu_relax();
            }
            atomic_store_explicit(&ctl->raw, v + 2, memory_order_release);
        }
    }
}

static void raw2_pp(control_t *ctl, side_t *s, uint64_t iters, int initiator)
{
    for (uint64_t i = 0; i < iters; ++i) {
        uint64_t v = ++s->raw2_pos;
        if (initiator) {
            atomic_store_explicit(&ctl->raw2, v, memory_order_release);
            while (atomic_load_explicit(&ctl->raw_back, memory_order_acquire) != v) {
                cpu_relax();
            }
        } else {
            while (atomic_load_explicit(&ctl->raw2, memory_order_acquire) != v) {
                cpu_relax();
            }
            atomic_store_explicit(&ctl->raw_back, v, memory_order_release);
        }
    }
}

/* The ring's publication protocol written out inline, for an 8-byte
 * payload: what the library costs beyond the protocol itself. */
static void emu_send(side_t *s, uint64_t pos, int mode)
{
    emu_cell_t *c = &s->emu_tx[mode == OP_EMU_FIXED ? 0 : pos & s->emu_mask];
    if (mode == OP_EMU_SEQONLY) {
        atomic_store_explicit(&c->seq, (uint32_t) (2 * pos + 1), memory_order_release);
        return;
    }
    memcpy(c->payload, s->buf, 8);
    c->len = 8;
    c->ncells = 1;
    c->kind = 1;
    c->reserved = 0;
    c->tag = 0;
    atomic_store_explicit(&c->seq, (uint32_t) (2 * pos + 1), memory_order_release);
}

static void emu_recv(side_t *s, uint64_t pos, int mode)
{
    emu_cell_t *c = &s->emu_rx[mode == OP_EMU_FIXED ? 0 : pos & s->emu_mask];
    while (atomic_load_explicit(&c->seq, memory_order_acquire) != (uint32_t) (2 * pos + 1)) {
        cpu_relax();
    }
    if (mode == OP_EMU_SEQONLY) {
        return;
    }
    memcpy(s->buf, c->payload, c->len <= 48 ? c->len : 48);
    if (mode == OP_EMU) {
        atomic_store_explicit(&c->seq, 0, memory_order_relaxed);
    }
}

static void emu_pp(side_t *s, uint64_t iters, int initiator, int mode)
{
    for (uint64_t i = 0; i < iters; ++i, ++s->emu_pos) {
        if (initiator) {
            emu_send(s, s->emu_pos, mode);
            emu_recv(s, s->emu_pos, mode);
        } else {
            emu_recv(s, s->emu_pos, mode);
            emu_send(s, s->emu_pos, mode);
        }
    }
}

static void ring_send(side_t *s, uint32_t size)
{
    while (shm_ring_send(&s->tx, 0, s->buf, size, NULL, 0) == -EAGAIN) {
        cpu_relax();
    }
}

/* Receive one message and copy it out, as a transport's eager path does. */
static void ring_recv(side_t *s)
{
    shm_ring_msg_t m;
    int rc;
    while ((rc = shm_ring_peek(&s->rx, &m)) == 0) {
        cpu_relax();
    }
    if (rc < 0) {
        fprintf(stderr, "ring_bench: peek failed: %d\n", rc);
        exit(1);
    }
    memcpy(s->buf, m.data, m.len);
    shm_ring_release(&s->rx, &m);
}

/* Receiver copies the message out, replies, and only then releases: the
 * release's stores to the received cell leave the reply's critical path. */
static void ring_pp_late(side_t *s, uint32_t size, uint64_t iters, int initiator)
{
    for (uint64_t i = 0; i < iters; ++i) {
        shm_ring_msg_t m;
        if (initiator) {
            ring_send(s, size);
        }
        while (shm_ring_peek(&s->rx, &m) == 0) {
            cpu_relax();
        }
        memcpy(s->buf, m.data, m.len);
        if (!initiator) {
            ring_send(s, size);
        }
        shm_ring_release(&s->rx, &m);
    }
}

static void ring_pp(side_t *s, uint32_t size, uint64_t iters, int initiator)
{
    for (uint64_t i = 0; i < iters; ++i) {
        if (initiator) {
            ring_send(s, size);
            ring_recv(s);
        } else {
            ring_recv(s);
            ring_send(s, size);
        }
    }
}

static void ring_stream(side_t *s, uint32_t size, uint64_t iters, int sender)
{
    if (sender) {
        for (uint64_t i = 0; i < iters; ++i) {
            ring_send(s, size);
        }
        ring_recv(s); /* the receiver's "all received" */
    } else {
        for (uint64_t i = 0; i < iters; ++i) {
            ring_recv(s);
        }
        ring_send(s, 0);
    }
}

static void full_write(int fd, const void *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            die("write");
        }
        p = (const uint8_t *) p + w;
        n -= (size_t) w;
    }
}

static void full_read(int fd, void *p, size_t n)
{
    while (n) {
        ssize_t r = read(fd, p, n);
        if (r <= 0) {
            if (r < 0 && errno == EINTR) {
                continue;
            }
            die("read");
        }
        p = (uint8_t *) p + r;
        n -= (size_t) r;
    }
}

/* Byte streams carry no empty message: size 0 is sent as 1 byte. */
static void fd_pp(int rd, int wr, uint8_t *buf, uint32_t size, uint64_t iters, int initiator)
{
    size_t n = size ? size : 1;
    for (uint64_t i = 0; i < iters; ++i) {
        if (initiator) {
            full_write(wr, buf, n);
            full_read(rd, buf, n);
        } else {
            full_read(rd, buf, n);
            full_write(wr, buf, n);
        }
    }
}

static void run_op(control_t *ctl, side_t *s, uint32_t op, uint32_t size, uint64_t iters, int parent)
{
    switch (op) {
    case OP_RAW:
        raw_pp(ctl, s, iters, parent);
        break;
    case OP_RING_PP:
        ring_pp(s, size, iters, parent);
        break;
    case OP_RING_STREAM:
        ring_stream(s, size, iters, parent);
        break;
    case OP_PIPE_PP:
        fd_pp(s->pipe_rd, s->pipe_wr, s->buf, size, iters, parent);
        break;
    case OP_SOCK_PP:
        fd_pp(s->sock, s->sock, s->buf, size, iters, parent);
        break;
    case OP_RAW2:
        raw2_pp(ctl, s, iters, parent);
        break;
    case OP_EMU:
    case OP_EMU_NOCLEAR:
    case OP_EMU_FIXED:
    case OP_EMU_SEQONLY:
        emu_pp(s, iters, parent, (int) op);
        break;
    case OP_RING_PP_LATE:
        ring_pp_late(s, size, iters, parent);
        break;
    }
}

static void child_loop(control_t *ctl, side_t *s)
{
    uint32_t seen = 0;
    for (;;) {
        uint32_t seq;
        while ((seq = atomic_load_explicit(&ctl->cmd_seq, memory_order_acquire)) == seen) {
            cpu_relax();
        }
        seen = seq;
        if (ctl->op == OP_EXIT) {
            _exit(0);
        }
        run_op(ctl, s, ctl->op, ctl->size, ctl->iters, 0);
        atomic_store_explicit(&ctl->done_seq, seq, memory_order_release);
    }
}

static double median(double *v, int n);

/* Runs warm + iters exchanges with the child and returns nanoseconds per
 * iteration.  A ping-pong is timed in CHUNKS pieces and the median piece
 * counts, so a preemption or an interrupt spoils one piece, not the figure;
 * a stream can only be timed whole. */
#define CHUNKS 16
static double measure(control_t *ctl, side_t *s, uint32_t op, uint32_t size, uint64_t iters, uint64_t warm)
{
    static uint32_t seq;
    double per = 0;
    for (int phase = 0; phase < 2; ++phase) {
        uint64_t n = phase ? iters : warm;
        int chunks = op == OP_RING_STREAM || n < CHUNKS ? 1 : CHUNKS;
        if (n == 0) {
            continue;
        }
        n = n / (uint64_t) chunks * (uint64_t) chunks;
        ctl->op = op;
        ctl->size = size;
        ctl->iters = n;
        atomic_store_explicit(&ctl->cmd_seq, ++seq, memory_order_release);
        double piece[CHUNKS];
        for (int c = 0; c < chunks; ++c) {
            uint64_t t0 = now_ns();
            run_op(ctl, s, op, size, n / (uint64_t) chunks, 1);
            piece[c] = (double) (now_ns() - t0);
        }
        while (atomic_load_explicit(&ctl->done_seq, memory_order_acquire) != seq) {
            cpu_relax();
        }
        per = median(piece, chunks) / (double) (n / (uint64_t) chunks);
    }
    return per;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    double *c = malloc(sizeof(double) * (size_t) n);
    memcpy(c, v, sizeof(double) * (size_t) n);
    qsort(c, (size_t) n, sizeof(double), cmp_double);
    double m = n % 2 ? c[n / 2] : (c[n / 2 - 1] + c[n / 2]) / 2;
    free(c);
    return m;
}

static double vmin(const double *v, int n)
{
    double m = v[0];
    for (int i = 1; i < n; ++i) {
        m = v[i] < m ? v[i] : m;
    }
    return m;
}

static double vmax(const double *v, int n)
{
    double m = v[0];
    for (int i = 1; i < n; ++i) {
        m = v[i] > m ? v[i] : m;
    }
    return m;
}

static void usage(const char *argv0)
{
    fprintf(stderr,
            "usage: %s [-m max_size] [-r reps] [-s scale] [-n ring_cells] [-b batch] [-c cpuA,cpuB]\n"
            "  -m  largest message size, a power of two (default 4096, the eager size)\n"
            "  -r  repetitions per figure, median reported (default 11)\n"
            "  -s  iteration-count scale factor (default 1.0; 0.2 for a quick look)\n"
            "  -n  cells per ring (default 512: 32 KiB, max payload 16368 bytes)\n"
            "  -b  consumer batch in cells (default 0: the library's default, an eighth of the ring)\n"
            "  -c  the two cores to pin the processes to (default 0,1)\n",
            argv0);
    exit(2);
}

static void print_machine(int argc, char **argv)
{
    struct utsname u;
    char model[256] = "?", line[256];
    FILE *f = fopen("/proc/cpuinfo", "r");
    while (f && fgets(line, sizeof(line), f)) {
        if (strncmp(line, "model name", 10) == 0) {
            char *c = strchr(line, ':');
            snprintf(model, sizeof(model), "%s", c ? c + 2 : line);
            model[strcspn(model, "\n")] = 0;
            break;
        }
    }
    if (f) {
        fclose(f);
    }
    uname(&u);
    time_t t = time(NULL);
    printf("# ring_bench:");
    for (int i = 0; i < argc; ++i) {
        printf(" %s", argv[i]);
    }
    char load[128] = "?";
    f = fopen("/proc/loadavg", "r");
    if (f && fgets(load, sizeof(load), f)) {
        load[strcspn(load, "\n")] = 0;
    }
    if (f) {
        fclose(f);
    }
    printf("\n# %s, %ld cpus online, %s %s %s\n# %s# loadavg at start: %s\n", model, sysconf(_SC_NPROCESSORS_ONLN),
           u.sysname, u.release, u.machine, ctime(&t), load);
}

int main(int argc, char **argv)
{
    uint32_t max_size = 4096, ncells = 512, batch = 0;
    int reps = 11, cpu_a = 0, cpu_b = 1, opt;
    double scale = 1.0;
    while ((opt = getopt(argc, argv, "m:r:s:n:b:c:h")) != -1) {
        switch (opt) {
        case 'm': max_size = (uint32_t) strtoul(optarg, NULL, 0); break;
        case 'r': reps = atoi(optarg); break;
        case 's': scale = atof(optarg); break;
        case 'n': ncells = (uint32_t) strtoul(optarg, NULL, 0); break;
        case 'b': batch = (uint32_t) strtoul(optarg, NULL, 0); break;
        case 'c':
            if (sscanf(optarg, "%d,%d", &cpu_a, &cpu_b) != 2) {
                usage(argv[0]);
            }
            break;
        default: usage(argv[0]);
        }
    }
    if (reps > 64) {
        reps = 64;
    }
    if (reps < 1 || scale <= 0 || max_size == 0 || (max_size & (max_size - 1)) != 0) {
        usage(argv[0]);
    }
    if (max_size > shm_ring_max_payload(ncells)) {
        fprintf(stderr, "ring_bench: -m %u exceeds the %u-byte max payload of a %u-cell ring; raise -n\n", max_size,
                shm_ring_max_payload(ncells), ncells);
        return 2;
    }
    print_machine(argc, argv);

    /* Sizes 0, 1, 2, 4 ... max_size. */
    uint32_t sizes[40];
    int nsizes = 0;
    sizes[nsizes++] = 0;
    for (uint32_t s = 1; s <= max_size; s *= 2) {
        sizes[nsizes++] = s;
    }

    /* Shared memory: control lines and one ring per direction. */
    shm_segment_t seg;
    shm_error_t err;
    size_t ring_size = shm_ring_memsize(ncells);
    size_t ring_span = (ring_size + 4095) & ~(size_t) 4095, emu_span = ncells * sizeof(emu_cell_t);
    size_t ctl_off = SHM_SEGMENT_RESERVED, ab_off = 4096, ba_off = ab_off + ring_span;
    size_t emu_ab_off = ba_off + ring_span, emu_ba_off = emu_ab_off + emu_span;
    if (shm_segment_create(&seg, emu_ba_off + emu_span, SHM_SEGMENT_MEMFD, 0, 0, "bench", &err) != 0) {
        fprintf(stderr, "ring_bench: %s\n", err.msg);
        return 1;
    }
    uint8_t *base = seg.base;
    control_t *ctl = (control_t *) (base + ((ctl_off + 63) & ~(size_t) 63));
    memset(ctl, 0, sizeof(*ctl));
    if (shm_ring_init(base + ab_off, ring_size, ncells, 0, batch, &err) != 0 ||
        shm_ring_init(base + ba_off, ring_size, ncells, 0, batch, &err) != 0) {
        fprintf(stderr, "ring_bench: %s\n", err.msg);
        return 1;
    }
    int p2c[2], c2p[2], sv[2];
    if (pipe(p2c) || pipe(c2p) || socketpair(AF_UNIX, SOCK_STREAM, 0, sv)) {
        die("pipe/socketpair");
    }
    side_t me = {0};
    me.buf = aligned_alloc(64, max_size + 64);
    memset(me.buf, 0x5a, max_size + 64);
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) {
        die("fork");
    }
    int parent = pid != 0;
    if (!parent) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
    }
    pin(parent ? cpu_a : cpu_b);
    /* The parent sends on a->b and receives on b->a; the child the reverse. */
    uint8_t *tx = base + (parent ? ab_off : ba_off), *rx = base + (parent ? ba_off : ab_off);
    if (shm_ring_producer_attach(&me.tx, tx, ring_size, &err) || shm_ring_consumer_attach(&me.rx, rx, ring_size, &err)) {
        fprintf(stderr, "ring_bench: %s\n", err.msg);
        return 1;
    }
    me.pipe_rd = parent ? c2p[0] : p2c[0];
    me.pipe_wr = parent ? p2c[1] : c2p[1];
    me.sock = parent ? sv[0] : sv[1];
    me.emu_tx = (emu_cell_t *) (base + (parent ? emu_ab_off : emu_ba_off));
    me.emu_rx = (emu_cell_t *) (base + (parent ? emu_ba_off : emu_ab_off));
    me.emu_mask = ncells - 1;
    if (!parent) {
        child_loop(ctl, &me);
    }
    shm_segment_seal(&seg);
    printf("# parent on cpu %d, child on cpu %d; ring %u cells (%zu bytes), batch %u; %d repetitions, "
           "median; scale %.2f\n",
           cpu_a, cpu_b, ncells, ring_size, me.rx.batch, reps, scale);

    /* Iteration counts: 20-100 ms per measurement here.  Short units keep a
     * burst of foreign load inside few repetitions, which the median drops. */
    uint64_t it_raw = (uint64_t) (400000 * scale), it_pp = (uint64_t) (200000 * scale);
    uint64_t it_fd = (uint64_t) (3000 * scale);
    double raw[64], *ring = calloc((size_t) (nsizes * reps), sizeof(double));
    double *stream = calloc((size_t) (nsizes * reps), sizeof(double));
    double *pp_pipe = calloc((size_t) (nsizes * reps), sizeof(double));
    double *pp_sock = calloc((size_t) (nsizes * reps), sizeof(double));
    /* Gap analysis rows, at 8 bytes. */
    enum { G_RAW1, G_RAW2, G_EMU_FIXED, G_EMU_SEQONLY, G_EMU_NOCLEAR, G_EMU, G_RING_LATE, G_RING, G_N };
    static const char *const gap_name[G_N] = {
        "raw: one line bounced (the limit)",
        "raw: one line per direction",
        "inlined protocol, one fixed cell each way",
        "inlined, moving cells, seq store only",
        "inlined, moving cells, header+payload+seq",
        "inlined ring protocol (+ reader's clear)",
        "libshmring, release after reply",
        "libshmring (peek, copy, release, reply)",
    };
    double gap[G_N][64];
    /* One untimed pass warms caches, page tables and the scheduler. */
    measure(ctl, &me, OP_RAW, 0, it_raw / 4, 0);
    for (int i = 0; i < nsizes; ++i) {
        measure(ctl, &me, OP_RING_PP, sizes[i], it_pp / 10, 0);
        measure(ctl, &me, OP_PIPE_PP, sizes[i], it_fd / 10, 0);
        measure(ctl, &me, OP_SOCK_PP, sizes[i], it_fd / 10, 0);
    }
    for (int r = 0; r < reps; ++r) {
        raw[r] = measure(ctl, &me, OP_RAW, 0, it_raw, it_raw / 10) / 2;
        for (int i = 0; i < nsizes; ++i) {
            uint32_t sz = sizes[i];
            uint64_t it_st = (uint64_t) (2000000 * scale);
            if (sz > 256) {
                it_st = (uint64_t) (2000000.0 * 256 / sz * scale);
            }
            pp_pipe[i * reps + r] = measure(ctl, &me, OP_PIPE_PP, sz, it_fd, it_fd / 10) / 2;
            ring[i * reps + r] = measure(ctl, &me, OP_RING_PP, sz, it_pp, it_pp / 10) / 2;
            pp_sock[i * reps + r] = measure(ctl, &me, OP_SOCK_PP, sz, it_fd, it_fd / 10) / 2;
            stream[i * reps + r] = measure(ctl, &me, OP_RING_STREAM, sz, it_st, it_st / 10);
        }
        gap[G_RAW1][r] = raw[r];
        gap[G_RAW2][r] = measure(ctl, &me, OP_RAW2, 8, it_raw, it_raw / 10) / 2;
        gap[G_EMU_FIXED][r] = measure(ctl, &me, OP_EMU_FIXED, 8, it_pp, it_pp / 10) / 2;
        gap[G_EMU_SEQONLY][r] = measure(ctl, &me, OP_EMU_SEQONLY, 8, it_pp, it_pp / 10) / 2;
        gap[G_EMU_NOCLEAR][r] = measure(ctl, &me, OP_EMU_NOCLEAR, 8, it_pp, it_pp / 10) / 2;
        gap[G_EMU][r] = measure(ctl, &me, OP_EMU, 8, it_pp, it_pp / 10) / 2;
        gap[G_RING_LATE][r] = measure(ctl, &me, OP_RING_PP_LATE, 8, it_pp, it_pp / 10) / 2;
        gap[G_RING][r] = measure(ctl, &me, OP_RING_PP, 8, it_pp, it_pp / 10) / 2;
        fprintf(stderr, "\r# repetition %d/%d done", r + 1, reps);
    }
    fprintf(stderr, "\n");

    double raw_med = median(raw, reps);
    printf("# raw limit (one cache line bounced between the cores, one way): median %.1f ns (min %.1f, max %.1f)\n",
           raw_med, vmin(raw, reps), vmax(raw, reps));
    printf("#\n# one-way latency = half a ping-pong round trip; rate = streaming messages/s into the other core;\n"
           "# pipe and socketpair send 1 byte for size 0.  'x raw' = ring / raw; 'pipe/ring', 'sock/ring' = speedup.\n");
    printf("%8s | %9s %7s | %9s %9s | %9s %9s | %11s %9s\n", "size B", "ring ns", "x raw", "pipe ns", "pipe/ring",
           "sock ns", "sock/ring", "ring msg/s", "ring MB/s");
    printf("---------+-------------------+---------------------+---------------------+----------------------\n");
    for (int i = 0; i < nsizes; ++i) {
        double rl = median(ring + i * reps, reps), pl = median(pp_pipe + i * reps, reps);
        double sl = median(pp_sock + i * reps, reps), st = median(stream + i * reps, reps);
        double rate = 1e9 / st;
        printf("%8u | %9.1f %7.2f | %9.1f %9.1f | %9.1f %9.1f | %11.3e %9.1f\n", sizes[i], rl, rl / raw_med, pl,
               pl / rl, sl, sl / rl, rate, rate * sizes[i] / 1e6);
    }
    /* The 8-byte row against the targets, with the spread of each figure. */
    int i8 = 0;
    while (i8 < nsizes && sizes[i8] != 8) {
        i8++;
    }
    if (i8 < nsizes) {
        double *r8 = ring + i8 * reps, *p8 = pp_pipe + i8 * reps;
        double rl = median(r8, reps), pl = median(p8, reps);
        printf("#\n# 8 B one-way: ring %.1f ns (min %.1f, max %.1f), raw %.1f ns, pipe %.1f ns (min %.1f, max %.1f)\n",
               rl, vmin(r8, reps), vmax(r8, reps), raw_med, pl, vmin(p8, reps), vmax(p8, reps));
        printf("# target ring <= 1.5 x raw: %.2f x -> %s\n", rl / raw_med, rl / raw_med <= 1.5 ? "MET" : "NOT MET");
        printf("# target ring >= 10 x faster than pipe: %.1f x -> %s\n", pl / rl, pl / rl >= 10 ? "MET" : "NOT MET");
    }
    printf("#\n# gap analysis, 8 B one-way latency (median, min..max over the repetitions):\n");
    for (int g = 0; g < G_N; ++g) {
        double m = median(gap[g], reps);
        printf("#   %-42s %7.1f ns  (%5.1f..%5.1f)  %5.2f x raw\n", gap_name[g], m, vmin(gap[g], reps),
               vmax(gap[g], reps), m / raw_med);
    }
    ctl->op = OP_EXIT;
    atomic_store_explicit(&ctl->cmd_seq, atomic_load(&ctl->cmd_seq) + 1, memory_order_release);
    waitpid(pid, NULL, 0);
    shm_segment_detach(&seg);
    free(ring);
    free(stream);
    free(pp_pipe);
    free(pp_sock);
    free(me.buf);
    return 0;
}
