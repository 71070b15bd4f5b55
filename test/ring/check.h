/*
 * check.h: the assertion helper of the ring tests.  A failed check prints
 * file:line, the failing expression and, for the comparison forms, both
 * values, then ends the process with status 1.  It works the same in a
 * forked child, whose parent turns any non-zero status into a failure, and
 * it is independent of NDEBUG so that no build can silence a test.
 */
#ifndef RING_TEST_CHECK_H
#define RING_TEST_CHECK_H

#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

__attribute__((noreturn, format(printf, 3, 4), unused)) static void check_fail(const char *file, int line,
                                                                                const char *fmt, ...)
{
    va_list ap;
    fflush(stdout);
    fprintf(stderr, "%s:%d: [pid %d] check failed: ", file, line, (int) getpid());
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fflush(stderr);
    /* _exit: a forked child must not run atexit handlers or flush stdio
     * buffers it inherited from its parent. */
    _exit(1);
}

#define CHECK(expr)                                                                                          \
    do {                                                                                                     \
        if (!(expr)) {                                                                                       \
            check_fail(__FILE__, __LINE__, "%s", #expr);                                                     \
        }                                                                                                    \
    } while (0)

/* Integer comparison that shows both sides; the operands are evaluated once. */
#define CHECK_OP(a, op, b)                                                                                   \
    do {                                                                                                     \
        long long check_a_ = (long long) (a), check_b_ = (long long) (b);                                    \
        if (!(check_a_ op check_b_)) {                                                                       \
            check_fail(__FILE__, __LINE__, "%s %s %s (%lld vs %lld)", #a, #op, #b, check_a_, check_b_);      \
        }                                                                                                    \
    } while (0)

#define CHECK_EQ(a, b) CHECK_OP(a, ==, b)
#define CHECK_NE(a, b) CHECK_OP(a, !=, b)
#define CHECK_LT(a, b) CHECK_OP(a, <, b)
#define CHECK_LE(a, b) CHECK_OP(a, <=, b)
#define CHECK_GE(a, b) CHECK_OP(a, >=, b)
#define CHECK_GT(a, b) CHECK_OP(a, >, b)

/* Like CHECK, with a formatted explanation. */
#define CHECK_MSG(expr, ...)                                                                                 \
    do {                                                                                                     \
        if (!(expr)) {                                                                                       \
            char check_m_[512];                                                                              \
            snprintf(check_m_, sizeof(check_m_), __VA_ARGS__);                                               \
            check_fail(__FILE__, __LINE__, "%s: %s", #expr, check_m_);                                       \
        }                                                                                                    \
    } while (0)

#endif
