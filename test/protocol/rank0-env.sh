#!/bin/sh
# Sets VAR=VALUE in the environment of MPI world rank 0 only, then runs the
# program: how a test gives one process different parameters from the
# rest.  Usage: rank0-env.sh VAR=VALUE PROGRAM ARGS...
[ "${OMPI_COMM_WORLD_RANK:-}" = 0 ] && export "$1"
shift
exec "$@"
