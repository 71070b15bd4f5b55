#!/bin/sh
# t_bug_sticky_broken.sh: regression test for the first bug the fuzzer
# found.  repro/fuzz_ring/sticky_broken makes a cell corrupt (peek returns
# -EBADMSG), rewrites it into a valid message, and peeks again: shm_ring.h
# promises -EBADMSG for good; before the fix the inline fast path returned
# the message and fuzz_ring aborted.
ulimit -c 0 2>/dev/null
unset SHM_FUZZ_KNOWN
exec ./fuzz_ring_corpus "${FUZZ_SRCDIR:-.}/repro/fuzz_ring/sticky_broken"
