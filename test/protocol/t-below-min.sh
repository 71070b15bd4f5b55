#!/bin/sh
exec "$(dirname "$0")/run.sh" --mca btl_cma_single_copy_min 8388608 --mca btl_cma_single_copy_min_huge 8388608 -- protocol_check 4194304 ring
