#!/bin/sh
# t_bug_sticky_broken.sh (expected to fail until libshmring is fixed): the
# fuzz reproducer of test/ring/t_bug_sticky_broken.  repro/fuzz_ring/
# sticky_broken makes a cell corrupt (peek returns -EBADMSG), rewrites it
# into a valid message, and peeks again: shm_ring.h promises -EBADMSG for
# good, the inline fast path returns the message and fuzz_ring aborts.
# Listed in XFAIL_TESTS; an XPASS means the bug is fixed: move this test
# out of XFAIL_TESTS and drop sticky_broken from FUZZ_KNOWN_BUGS.
ulimit -c 0 2>/dev/null
unset SHM_FUZZ_KNOWN
exec ./fuzz_ring_corpus "${FUZZ_SRCDIR:-.}/repro/fuzz_ring/sticky_broken"
