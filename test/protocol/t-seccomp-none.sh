#!/bin/sh
exec "$(dirname "$0")/run.sh" --deny-cma --expect-warnings 0 --mca btl_cma_single_copy none -- protocol_check 4194304 ring
