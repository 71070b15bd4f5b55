#!/bin/sh
# btl_cma_small_min above btl_cma_small_max: no size fits between them, so
# the component must say so and create no small rings (small_check then
# sees no message through one and fails with that complaint).
exec "$(dirname "$0")/run.sh" --expect-output "btl_cma_small_min, btl_cma_small_max = 3000, 200" \
    --expect-error "through the small ring, expected 1 and 1" \
    --mca btl_cma_small_min 3000 --mca btl_cma_small_max 200 -- small_check 160 2112
