/*
 * t_ring_copy: shm_ring_copy, the inline copy every send uses for small
 * payloads.  Each length from 0 to 300 bytes is copied from a source that
 * ends exactly at a page followed by an inaccessible page, and from one that
 * starts exactly after an inaccessible page, so a read outside [src, src+n)
 * faults; the destination, at every offset in a cache line, must hold the
 * source bytes and leave the bytes on both sides untouched.
 */
#define _GNU_SOURCE
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "testlib.h"

#define MAX_LEN 300
#define CANARY 0xA5

/* Three pages, the outer two inaccessible; returns the middle one. */
static uint8_t *fenced_page(size_t pg)
{
    uint8_t *m = mmap(NULL, 3 * pg, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(m != MAP_FAILED);
    CHECK_EQ(mprotect(m + pg, pg, PROT_READ | PROT_WRITE), 0);
    return m + pg;
}

static void check_copy(const uint8_t *src, size_t n, size_t dst_off)
{
    uint8_t buf[64 + MAX_LEN + 64];
    memset(buf, CANARY, sizeof(buf));
    uint8_t *dst = buf + 64 + dst_off; /* dst_off < 64: room for MAX_LEN */
    shm_ring_copy(dst, src, n);
    for (uint8_t *q = buf; q < dst; ++q) {
        CHECK_MSG(*q == CANARY, "n %zu off %zu: byte %td before the copy written", n, dst_off, dst - q);
    }
    CHECK_MSG(memcmp(dst, src, n) == 0, "n %zu off %zu: copied bytes differ", n, dst_off);
    for (uint8_t *q = dst + n; q < buf + sizeof(buf); ++q) {
        CHECK_MSG(*q == CANARY, "n %zu off %zu: byte %td after the copy written", n, dst_off, q - dst - (ptrdiff_t) n);
    }
}

int main(void)
{
    test_init("t_ring_copy", 60);
    size_t pg = (size_t) sysconf(_SC_PAGESIZE);
    CHECK_GE(pg, 2 * MAX_LEN);
    uint8_t *page = fenced_page(pg);
    uint64_t rng = 0x9e3779b97f4a7c15ull;
    for (size_t i = 0; i < pg; ++i) {
        /* Never the canary, so a skipped byte cannot pass as copied. */
        uint8_t v = (uint8_t) rng_next(&rng);
        page[i] = v == CANARY ? (uint8_t) (v + 1) : v;
    }
    for (size_t n = 0; n <= MAX_LEN; ++n) {
        for (size_t off = 0; off < 64; ++off) {
            check_copy(page + pg - n, n, off); /* ends at the fence */
            check_copy(page, n, off);          /* starts at the fence */
        }
    }
    CHECK_EQ(munmap(page - pg, 3 * pg), 0);
    return test_pass();
}
