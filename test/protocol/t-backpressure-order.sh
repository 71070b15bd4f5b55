#!/bin/sh
# 100000 Isends posted while the receiver sleeps: far more than the ring
# holds, so most wait for room; they must still arrive in posting order
# with every byte (they were overtaken, matched the wrong receives, and
# hung).
exec "$(dirname "$0")/run.sh" -- backpressure_check order 100000
