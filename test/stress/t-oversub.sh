#!/bin/sh
# Oversubscription: 8 ranks on this machine's 2 cores must finish 200
# MPI_Alltoall (4 KiB per pair, verified) and 2000 MPI_Barrier within 30 s
# (measured here: 0.1 to 0.5 s; without any yielding the same loops take
# 86 to 106 s, see t-oversub-noyield.sh).  Twice: with the defaults (mpirun
# also sets mpi_yield_when_idle=1 when it oversubscribes, which alone keeps
# the job moving; btl_cma_yield_idle is 0 by default), and with Open MPI's
# own yield off and the component's on (btl_cma_yield_idle -1: yield after
# 64 idle polls when ranks outnumber cores), so that only the component's
# policy stands between the job and the 100 s: that run fails if the
# component's policy stops working.  Third, 2 ranks confined to one CPU by
# taskset, which Open MPI does not count as oversubscribed: the component
# must see from the ranks' CPU sets that they share one (measured: 0.4 s
# with its yield, 9.2 s when it counted online cores instead), so the run
# has 5 s.
. "${srcdir:-$(dirname "$0")}/common.sh"

status=0
stress_mpirun 8 120 -- ./oversub -a 200 -b 4096 -B 2000 -T 30 || status=1
stress_mpirun 8 120 --mca mpi_yield_when_idle 0 --mca btl_cma_yield_idle -1 -- ./oversub -a 200 -b 4096 -B 2000 -T 30 || status=1
if command -v taskset >/dev/null 2>&1; then
    stress_as="taskset -c 0" stress_mpirun 2 120 --mca mpi_yield_when_idle 0 --mca btl_cma_yield_idle -1 \
        -- ./oversub -a 200 -b 4096 -B 2000 -T 5 || status=1
fi
exit $status
