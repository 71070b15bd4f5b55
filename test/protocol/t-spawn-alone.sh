#!/bin/sh
# Two jobs on one node with only cma and self: nothing can connect the
# jobs, so the spawn must fail with cma's message naming the fix, not hang
# or crash.
exec "$(dirname "$0")/run.sh" --expect-error "belongs to another MPI job" --oversubscribe -- spawn_check
