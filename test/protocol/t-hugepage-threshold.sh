#!/bin/sh
# Page size of the send buffer picks the protocol: huge pages by single copy
# from single_copy_min_huge (1 MiB here), 4 KiB pages never (min 1 TiB).
exec "$(dirname "$0")/run.sh" --mca btl_cma_single_copy_min 1099511627776 --mca btl_cma_single_copy_min_huge 1048576 -- hugepage_check threshold
