#!/bin/sh
# Under a low descriptor limit cma must not spend one pidfd per peer (32
# ranks under ulimit -n 32 failed in MPI_Init while vader ran): with a
# limit below its margin it watches peers with kill() instead, says so at
# verbosity 1, and the job works.
ulimit -n 200 || { echo "cannot lower the descriptor limit: skipped"; exit 77; }
exec "$(dirname "$0")/run.sh" --expect-output "keeping no pidfd" --mca btl_cma_verbose 1 -- protocol_check 65536 ring
