#!/bin/sh
# btl_cma_max_send_size and btl_cma_eager_limit of -1 (SIZE_MAX) ended
# MPI_Init with SIGFPE, and values above what a ring holds hung the first
# large send: both are now lowered to 64 MiB - 64 with a message, and data
# flows.
exec "$(dirname "$0")/run.sh" --expect-output "btl_cma_max_send_size = 18446744073709551615" \
    --expect-output "btl_cma_eager_limit = 18446744073709551615" --expect-output "Used:       67108800" \
    --mca btl_cma_max_send_size -1 --mca btl_cma_eager_limit -1 -- backpressure_check order 3000
