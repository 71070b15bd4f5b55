#!/bin/sh
exec "$(dirname "$0")/run.sh" --mca btl_cma_single_copy_min 1099511627776 --mca btl_cma_single_copy_min_huge 1048576 --mca btl_cma_hugepage advise --mca btl_cma_hugepage_repeat 1 -- hugepage_check optout
