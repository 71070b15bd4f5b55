#!/bin/sh
# btl_cma_small_ring_size 0: no small rings; small_check must then see no
# message through one, so it is expected to fail with that complaint.
exec "$(dirname "$0")/run.sh" --expect-error "through the small ring, expected 1 and 1" --mca btl_cma_small_ring_size 0 -- small_check 160 2112
