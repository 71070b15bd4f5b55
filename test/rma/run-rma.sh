#!/bin/sh
# run-rma.sh: runs one test of the one-sided (RMA) suite.  It owns the
# mapping from a test name to a command line: PROG-npN-MODE names the
# program (rma_PROG, with arguments from the table below), the rank count
# (always --oversubscribe, so 8 ranks share this machine's cores), and the
# mode: cma (single copy required), none (btl_cma_single_copy none: the
# rings), deny (under test/protocol/deny_cma, a seccomp filter failing
# process_vm_readv/writev with EPERM: the component must notice, warn
# once and use the rings), and two self-checks of the suite that must
# FAIL for the test to pass: bypass (--mca osc pt2pt carries the window
# over point-to-point messages instead of cma's put, get and atomics,
# which the cma counters must catch) and mislabel (single copy used while
# the program is told "none", which the counters must catch).  mpirun always gets pml ob1,
# btl cma,self, this build's component first, no osc selection; one
# mpirun at a time (the lock shared with test/mpi), a time limit, and no
# btl_cma.* file of ours may be left in /dev/shm.
#
# Usage: run-rma.sh NAME      e.g. run-rma.sh fop-np8-cma
# Environment: MPIRUN, OMPI_INFO, abs_top_builddir (from "make check"),
#   RMA_TEST_TIMEOUT (seconds per run, default 180), EXTRA_MCA (more
#   mpirun arguments).

set -u

if [ $# -ne 1 ]; then
    echo "usage: $0 PROG-npN-MODE" >&2
    exit 99
fi
name=$1
mode=${name##*-}
rest=${name%-*}
np=${rest##*-np}
prog=${rest%-np*}
case $np in ''|*[!0-9]*) echo "run-rma.sh: $name: expected PROG-npN-MODE" >&2; exit 99 ;; esac

MPIRUN=${MPIRUN:-mpirun.openmpi}
OMPI_INFO=${OMPI_INFO:-ompi_info}
RMA_TEST_TIMEOUT=${RMA_TEST_TIMEOUT:-180}
EXTRA_MCA=${EXTRA_MCA:-}
if [ -z "${abs_top_builddir:-}" ]; then
    abs_top_builddir=$(cd "$(dirname "$0")/../.." && pwd)
fi
bindir=$abs_top_builddir/test/rma

# Program arguments.  The defaults are what the issue asks for (16 MiB
# transfers, 10,000 fetch-and-ops per rank); the lock tests get fewer
# rounds with 8 ranks on 2 cores, where every acquisition waits for the
# holder to be scheduled.
args=
case $prog-np$np in
fence-*|pscw-*|dynamic-*|alloc-*|fop-*|acc-*) args= ;;
passive-np8) args=1000 ;;
passive-*)   args=2000 ;;
cas-np8)     args=1000 ;;
cas-*)       args=2000 ;;
casall-*)    prog=cas; args="100 all" ;;
*) echo "run-rma.sh: $name: no program '$prog' in the table" >&2; exit 99 ;;
esac

wrap= expect_fail= expect_msg= judged=$mode sc=
case $mode in
cma)  sc=cma ;;
none) sc=none ;;
deny)
    wrap=$abs_top_builddir/test/protocol/deny_cma
    if [ ! -x "$wrap" ]; then
        echo "run-rma.sh: $wrap is not built (make -C test/protocol deny_cma)" >&2
        exit 99
    fi ;;
bypass)
    sc=cma judged=cma expect_fail=1
    expect_msg="cma carried only 0 \|went through cma\|reached cma"
    EXTRA_MCA="$EXTRA_MCA --mca osc pt2pt" ;;
mislabel)
    sc=cma judged=none expect_fail=1 expect_msg="single copy is off, yet" ;;
*) echo "run-rma.sh: $name: unknown mode '$mode'" >&2; exit 99 ;;
esac

pkglibdir=$("$OMPI_INFO" --path pkglibdir --parsable 2>/dev/null | sed -n 's/^path:pkglibdir://p')
if [ -z "$pkglibdir" ]; then
    echo "run-rma.sh: cannot get pkglibdir from $OMPI_INFO" >&2
    exit 99
fi
component_dir=$abs_top_builddir/src/btl_cma/.libs
if [ ! -f "$component_dir/mca_btl_cma.so" ]; then
    echo "run-rma.sh: $component_dir/mca_btl_cma.so is not built; run make first" >&2
    exit 99
fi
if [ ! -x "$bindir/rma_$prog" ]; then
    echo "run-rma.sh: $bindir/rma_$prog is not built" >&2
    exit 99
fi
if [ "$(id -u)" = 0 ]; then
    OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
    export OMPI_ALLOW_RUN_AS_ROOT OMPI_ALLOW_RUN_AS_ROOT_CONFIRM
fi
RMATEST_MODE=$judged
export RMATEST_MODE

sc_mca=
[ -n "$sc" ] && sc_mca="--mca btl_cma_single_copy $sc"

# Files of dead processes are what a run can leave behind; files of live
# ones belong to whatever else runs on the machine.
leftovers() {
    for f in /dev/shm/btl_cma.*; do
        [ -e "$f" ] || continue
        pid=$(echo "${f#/dev/shm/}" | cut -d. -f3)
        case $pid in ''|*[!0-9]*) echo "$f"; continue ;; esac
        kill -0 "$pid" 2>/dev/null || echo "$f"
    done | sort
}

lock=${TMPDIR:-/tmp}/btl-cma-mpi-tests.$(id -u).lock
waited=$(date +%s)
if command -v flock >/dev/null 2>&1 && (: >>"$lock") 2>/dev/null; then
    exec 9>>"$lock"
    flock 9
fi
waited=$(( $(date +%s) - waited ))
[ "$waited" -gt 0 ] && echo "run-rma.sh: waited $waited s for other MPI suites (lock $lock)"

before=$(leftovers)
out=$(mktemp "${TMPDIR:-/tmp}/run-rma.XXXXXX") || exit 99
# shellcheck disable=SC2086  # the MCA strings are deliberately word-split
set -- "$MPIRUN" -np "$np" --oversubscribe --bind-to none \
    --mca pml ob1 --mca btl cma,self \
    --mca mca_base_component_path "$component_dir:$pkglibdir" \
    $sc_mca $EXTRA_MCA -x RMATEST_MODE $wrap "$bindir/rma_$prog" $args
echo "+ RMATEST_MODE=$RMATEST_MODE timeout $RMA_TEST_TIMEOUT $*"
start=$(date +%s)
timeout -k 10 "$RMA_TEST_TIMEOUT" "$@" >"$out" 2>&1
rc=$?
elapsed=$(( $(date +%s) - start ))
cat "$out"

status=0
if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
    echo "run-rma.sh: FAIL: no result after $RMA_TEST_TIMEOUT s (hang?); killed"
    status=1
elif [ -n "$expect_fail" ]; then
    if [ "$rc" = 0 ]; then
        echo "run-rma.sh: FAIL: this run must fail ('$expect_msg'), yet it passed: the suite's check does not bite"
        status=1
    elif ! grep -q -e "$expect_msg" "$out"; then
        echo "run-rma.sh: FAIL: exit $rc, but not with the expected '$expect_msg'"
        status=1
    else
        echo "run-rma.sh: the run failed as it must ('$expect_msg'), exit $rc"
    fi
elif [ "$rc" != 0 ]; then
    echo "run-rma.sh: FAIL: mpirun exited with $rc after $elapsed s"
    status=1
else
    echo "run-rma.sh: exit 0 after $elapsed s"
fi
if [ -z "$expect_fail" ] && grep -q 'btl:cma: refused' "$out"; then
    # A correct program's one-sided operations are never refused.
    echo "run-rma.sh: FAIL: cma refused one-sided requests of a correct program:"
    grep -m 3 'btl:cma: refused' "$out"
    status=1
fi
if [ "$mode" = deny ] && [ "$status" = 0 ]; then
    # One warning per node, and no per-transfer noise.
    n=$(grep -c 'cannot read the memory of another process' "$out")
    if [ "$n" != 1 ]; then
        echo "run-rma.sh: FAIL: single copy was denied; expected one warning, saw $n"
        status=1
    fi
fi
rm -f "$out"
after=$(leftovers)
new=$(printf '%s\n' "$after" | grep -vxF -e "$before" | grep . || true)
[ -z "$before" ] && new=$after
if [ -n "$new" ]; then
    echo "run-rma.sh: FAIL: files left in /dev/shm by dead processes:"
    echo "$new"
    status=1
fi
exit $status
