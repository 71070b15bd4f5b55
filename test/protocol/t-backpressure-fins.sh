#!/bin/sh
# A 1 MiB exchange read 3 bytes at a time by single copy: one small FIN per
# read queues behind a full ring.  Each took a 32 KiB descriptor (1.5 GB
# per rank); small ones keep the ranks under 600 MiB.
exec "$(dirname "$0")/run.sh" --mca btl_cma_single_copy_min 0 --mca btl_cma_get_limit 3 -- \
    backpressure_check fins 1048576 600
