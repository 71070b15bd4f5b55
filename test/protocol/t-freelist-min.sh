#!/bin/sh
# btl_cma_free_list_max 1 hung a Bsend exchange; it must now be raised to
# the minimum, with a message saying so, and the exchange must complete.
exec "$(dirname "$0")/run.sh" --expect-output "btl_cma_free_list_max = 1" --expect-output "Used:       32" \
    --mca btl_cma_free_list_max 1 -- bsend_check
