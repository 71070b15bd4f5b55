#!/bin/sh
# Three ranks flood a sleeping rank 0 (70000 Isends each, 8 B to 5000 B: more than
# the 65536 sequence numbers of ob1, so a send overtaken by later ones would
# match the wrong receive instead of being put back in order)
# through 4 KiB rings: every stream must arrive in its own order, every
# byte intact, with queues behind three full rings at once.
exec "$(dirname "$0")/run.sh" --np 4 --oversubscribe --mca btl_cma_ring_size 4096 --mca btl_cma_small_ring_size 0 -- \
    backpressure_check incast 70000
