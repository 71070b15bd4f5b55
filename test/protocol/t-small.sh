#!/bin/sh
# Default bounds of the small ring, spelled out so the test checks them.
exec "$(dirname "$0")/run.sh" --mca btl_cma_small_min 160 --mca btl_cma_small_max 2112 -- small_check 160 2112
