#!/bin/sh
# The README's second command: install what is missing, build, and run every
# test: the ring library's unit and multi-process tests, the MPI suite
# through the cma BTL (make check), and the ring tests again under
# AddressSanitizer+UBSan and ThreadSanitizer (make check-sanitize).
set -e
cd "$(dirname "$0")/.."
scripts/deps.sh
scripts/build.sh
if [ "$(id -u)" = 0 ]; then
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
make check
make check-sanitize
echo "btl-cma: all tests passed"
