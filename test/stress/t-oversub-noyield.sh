#!/bin/sh
# Report, not a requirement: the same oversubscribed loops with every yield
# switched off (--mca btl_cma_yield_idle 0 --mca mpi_yield_when_idle 0), so
# ranks spin until the scheduler preempts them.  Each barrier then costs
# scheduler time slices (26 to 73 ms here instead of 0.04 to 0.17 ms), so
# this runs a fifth of t-oversub.sh's loops (11 to 31 s here, depending on
# the machine's other load) and prints the per-operation times to compare
# with t-oversub.sh's log.  It fails only if the job does not finish within
# 120 s (a hang, not slowness).
. "${srcdir:-$(dirname "$0")}/common.sh"

stress_mpirun 8 180 --mca btl_cma_yield_idle 0 --mca mpi_yield_when_idle 0 -- \
    ./oversub -a 40 -b 4096 -B 400 -T 120 || exit 1
exit 0
