#!/bin/sh
# A rank that exits (status 0) without MPI_Finalize under mpirun's
# orte_allowed_exit_without_sync must not end the job: the other rank gets
# the message sent before the exit and finalizes (cma reported the peer as
# failed and the job ended with 255; vader let it finish).
exec "$(dirname "$0")/run.sh" --expect-output "its message arrived and rank 0 finalized" \
    --mca orte_allowed_exit_without_sync 1 -- kill_peer exit
