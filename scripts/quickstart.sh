#!/bin/sh
# The README's first command: install what is missing, build, and run the
# main demonstration: cma side by side with vader (single copy cma and none),
# UCX and MPICH, latency and bandwidth at every power of two, as ratios.
# Pass --full for the complete, repeated run (minutes) instead of the quick one.
set -e
cd "$(dirname "$0")/.."
scripts/deps.sh
scripts/build.sh
if [ "$(id -u)" = 0 ]; then
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
if [ "${1:-}" = "--full" ]; then
    shift
    exec bench/mpi/compare.sh "$@"
fi
exec bench/mpi/compare.sh --quick "$@"
