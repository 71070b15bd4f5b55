#!/bin/sh
# Other bounds (and a small ring raised to hold two 2000-byte messages).
exec "$(dirname "$0")/run.sh" --mca btl_cma_small_min 64 --mca btl_cma_small_max 2000 --mca btl_cma_small_ring_size 4096 -- small_check 64 2000
