#!/bin/sh
# As t-spawn-alone.sh with vader beside cma: vader connects only the
# processes of one job too, so cma's message naming the fix must still be
# printed (it was left out whenever any BTL besides cma and self was listed).
exec "$(dirname "$0")/run.sh" --btl cma,vader,self --expect-error "belongs to another MPI job" --oversubscribe -- spawn_check
