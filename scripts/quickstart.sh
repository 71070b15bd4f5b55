#!/bin/sh
# The README's first command: install what is missing, build, and run the
# main demonstration: cma side by side with vader (single copy cma and none),
# UCX and MPICH, latency and bandwidth at every power of two, as ratios.
# Pass --full for the complete, repeated run (minutes) instead of the quick one.
. "$(dirname "$0")/prepare.sh"
if [ "${1:-}" = "--full" ]; then
    shift
    exec bench/mpi/compare.sh "$@"
fi
exec bench/mpi/compare.sh --quick "$@"
