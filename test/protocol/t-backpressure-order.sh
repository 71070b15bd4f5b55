#!/bin/sh
# 100000 Isends posted while the receiver sleeps: far more than the ring
# holds, so most wait for room; they must still arrive in posting order
# with every byte (they were overtaken, matched the wrong receives, and
# hung). Also that btl_cma_ring_full counts each waiting fragment once (it
# counted every retry: 23 million here).
exec "$(dirname "$0")/run.sh" -- backpressure_check order 100000 waits
