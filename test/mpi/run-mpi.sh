#!/bin/sh
# run-mpi.sh: runs one MPI test program under Open MPI's mpirun restricted to
# the BTL under test (pml ob1, btl $BTL, components searched first in this
# build tree), with a time limit so a hang fails the test instead of blocking
# CI, and one mpirun at a time even under "make -j check" because the tests
# busy-poll and a 2-core machine cannot run two jobs side by side.
#
# Usage: run-mpi.sh PROGRAM [ARGS...]
# Environment (all optional):
#   NP               ranks (default 2); always --oversubscribe
#   BTL              btl list (default "cma,self"); "vader,self" to develop
#                    and compare against Open MPI's own shared-memory BTL
#   SINGLE_COPY      cma | none: the rendezvous path, translated to the BTL's
#                    parameter (btl_cma_single_copy or, for vader,
#                    btl_vader_single_copy_mechanism); empty = BTL default
#   EXTRA_MCA        more mpirun arguments, e.g. "--mca btl_cma_foo 1"
#   MPI_TEST_TIMEOUT seconds before the run is killed (default 300)
#   MPIRUN, OMPI_INFO, abs_top_builddir   normally exported by "make check"
#   MPITEST_CORRUPT, MPITEST_CORRUPT_SKIP   forwarded to the ranks (see
#                    mpitest.h); set only to prove the checks fail

set -u

NP=${NP:-2}
BTL=${BTL:-cma,self}
SINGLE_COPY=${SINGLE_COPY:-}
EXTRA_MCA=${EXTRA_MCA:-}
MPIRUN=${MPIRUN:-mpirun.openmpi}
OMPI_INFO=${OMPI_INFO:-ompi_info}
MPI_TEST_TIMEOUT=${MPI_TEST_TIMEOUT:-300}
if [ -z "${abs_top_builddir:-}" ]; then
    # Run by hand from an in-tree build: this script lives in test/mpi.
    abs_top_builddir=$(cd "$(dirname "$0")/../.." && pwd)
fi

if [ $# -lt 1 ]; then
    echo "usage: $0 PROGRAM [ARGS...]" >&2
    exit 99
fi

# Open MPI's own component directory: asked at run time because configure's
# OMPI_PKGLIBDIR is where our component gets installed, which a
# --with-component-dir may have pointed elsewhere.
pkglibdir=$("$OMPI_INFO" --path pkglibdir --parsable 2>/dev/null | sed -n 's/^path:pkglibdir://p')
if [ -z "$pkglibdir" ]; then
    echo "run-mpi.sh: cannot get pkglibdir from '$OMPI_INFO --path pkglibdir --parsable'" >&2
    exit 99
fi
component_dir=$abs_top_builddir/src/btl_cma/.libs

case ",$BTL," in
*,cma,*)
    if [ ! -f "$component_dir/mca_btl_cma.so" ]; then
        echo "run-mpi.sh: $component_dir/mca_btl_cma.so is not built; run make first," >&2
        echo "            or test another BTL with: make check BTL=vader,self" >&2
        exit 99
    fi ;;
esac

single_copy_mca=
if [ -n "$SINGLE_COPY" ]; then
    case ",$BTL," in
    *,cma,*)   single_copy_mca="--mca btl_cma_single_copy $SINGLE_COPY" ;;
    *,vader,*) single_copy_mca="--mca btl_vader_single_copy_mechanism $SINGLE_COPY" ;;
    *) echo "run-mpi.sh: note: BTL '$BTL' has no known single-copy parameter; SINGLE_COPY=$SINGLE_COPY ignored" ;;
    esac
fi

if [ "$(id -u)" = 0 ]; then
    # Containers and CI runners often build as root; Open MPI refuses that
    # unless told twice.
    OMPI_ALLOW_RUN_AS_ROOT=1
    OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
    export OMPI_ALLOW_RUN_AS_ROOT OMPI_ALLOW_RUN_AS_ROOT_CONFIRM
fi

# What was asked for, so the ranks can check through MPI_T that the BTL
# did it (mpitest.c, mt_verify_single_copy).
MPITEST_BTL=$BTL
MPITEST_SINGLE_COPY=$SINGLE_COPY
export MPITEST_BTL MPITEST_SINGLE_COPY
forward="-x MPITEST_BTL -x MPITEST_SINGLE_COPY"
if [ -n "${MPITEST_CORRUPT:-}" ]; then
    export MPITEST_CORRUPT
    forward="$forward -x MPITEST_CORRUPT"
    if [ -n "${MPITEST_CORRUPT_SKIP:-}" ]; then
        export MPITEST_CORRUPT_SKIP
        forward="$forward -x MPITEST_CORRUPT_SKIP"
    fi
fi

# shellcheck disable=SC2086  # the MCA strings are deliberately word-split
set -- "$MPIRUN" -np "$NP" --oversubscribe --bind-to none \
    --mca pml ob1 --mca btl "$BTL" \
    --mca mca_base_component_path "$component_dir:$pkglibdir" \
    $single_copy_mca $EXTRA_MCA $forward "$@"

lock=${TMPDIR:-/tmp}/btl-cma-mpi-tests.$(id -u).lock
# A failed "exec 9>>file" would end the script, so probe the file first;
# without flock or a writable lock file the tests simply run unserialised.
if command -v flock >/dev/null 2>&1 && (: >>"$lock") 2>/dev/null; then
    exec 9>>"$lock"
    flock 9
fi

echo "+ timeout $MPI_TEST_TIMEOUT $*"
start=$(date +%s)
timeout -k 10 "$MPI_TEST_TIMEOUT" "$@"
rc=$?
end=$(date +%s)
case $rc in
124|137)
    echo "run-mpi.sh: FAIL: no result after ${MPI_TEST_TIMEOUT} s (hang?); killed" >&2
    exit 1 ;;
0)
    echo "run-mpi.sh: exit 0 after $((end - start)) s" ;;
*)
    # Any failure is a plain FAIL: a stray 77 or 99 must not read as the
    # harness's SKIP or ERROR.
    echo "run-mpi.sh: FAIL: mpirun exited with $rc after $((end - start)) s" >&2
    exit 1 ;;
esac
exit 0
