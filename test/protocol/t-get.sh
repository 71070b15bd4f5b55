#!/bin/sh
exec "$(dirname "$0")/run.sh" --mca btl_cma_single_copy_min 65536 -- protocol_check 4194304 get
