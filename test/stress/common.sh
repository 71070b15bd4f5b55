# Sourced by every test of test/stress: how an MPI job of this suite is run.
# stress_mpirun starts mpirun with "--mca pml ob1 --mca btl cma,self", this
# build's component directory first on the component path, a time limit (a
# hang fails the test instead of blocking the harness), under the lock that
# test/mpi/run-mpi.sh takes (this machine has 2 cores: two busy-polling MPI
# jobs side by side would distort each other's timing and memory), and
# afterwards checks that no segment name of ours was left in /dev/shm.
#
# Environment: MPIRUN, OMPI_INFO (from make check), STRESS_COMPONENT_DIR (a
# component directory to test instead of this build's, used to show that a
# test fails against a deliberately broken copy), STRESS_SCALE (a factor for
# message counts, default 1).

set -u

builddir=$(pwd)
: "${srcdir:=$(dirname "$0")}"
top_builddir=$(cd "$builddir/../.." && pwd)
: "${MPIRUN:=mpirun.openmpi}"
: "${OMPI_INFO:=ompi_info}"
: "${STRESS_COMPONENT_DIR:=$top_builddir/src/btl_cma/.libs}"
pkglibdir=$("$OMPI_INFO" --path pkglibdir --parsable 2>/dev/null | sed -n 's/^path:pkglibdir://p')
if [ -z "$pkglibdir" ] || [ ! -f "$STRESS_COMPONENT_DIR/mca_btl_cma.so" ]; then
    echo "cannot find Open MPI's pkglibdir or $STRESS_COMPONENT_DIR/mca_btl_cma.so (run make first)"
    exit 99
fi
if [ "$(id -u)" = 0 ]; then
    OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
    export OMPI_ALLOW_RUN_AS_ROOT OMPI_ALLOW_RUN_AS_ROOT_CONFIRM
fi

stress_lockfile=${TMPDIR:-/tmp}/btl-cma-mpi-tests.$(id -u).lock

stress_lock() {
    if command -v flock >/dev/null 2>&1 && (: >>"$stress_lockfile") 2>/dev/null; then
        exec 9>>"$stress_lockfile"
        flock 9
    fi
}

stress_unlock() {
    command -v flock >/dev/null 2>&1 && flock -u 9 2>/dev/null
    exec 9>&- 2>/dev/null
    return 0
}

# Our POSIX segment names whose creating process is gone: what a job that
# failed to clean up leaves behind.  (Names of live jobs, possibly another
# suite's, are not counted.)
stress_stale_names() {
    for f in /dev/shm/btl_cma.*; do
        [ -e "$f" ] || continue
        pid=$(echo "$f" | sed -n 's/.*\.\([0-9][0-9]*\)\.[0-9][0-9]*$/\1/p')
        [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null && [ ! -d "/proc/$pid" ] && echo "$f"
    done
    return 0
}

# stress_mpirun NP TIMEOUT [mpirun arguments...] -- PROGRAM [ARGS...]
# Prints the job's output; returns mpirun's status, 124 when the time limit
# killed it, 125 when it left a stale segment name.  $stress_as, if set, is a
# command prefix for mpirun (to run the job as another user).
stress_mpirun() {
    np=$1 limit=$2
    shift 2
    mca=""
    while [ $# -gt 0 ] && [ "$1" != "--" ]; do mca="$mca $1"; shift; done
    [ $# -gt 0 ] && shift
    stale_before=$(stress_stale_names)
    stress_lock
    echo "+ timeout $limit ${stress_as:+$stress_as }$MPIRUN -np $np$mca $*"
    start=$(date +%s)
    # shellcheck disable=SC2086  # the MCA arguments are word-split on purpose
    timeout -k 10 "$limit" ${stress_as:-} "$MPIRUN" -np "$np" --oversubscribe --bind-to none \
        --mca pml ob1 --mca btl cma,self \
        --mca mca_base_component_path "$STRESS_COMPONENT_DIR:$pkglibdir" $mca "$@"
    rc=$?
    stress_elapsed=$(( $(date +%s) - start ))
    stress_unlock
    case $rc in
    124|137) echo "FAIL: no result within $limit s (hang?); killed"; rc=124 ;;
    0) echo "(mpirun exited 0 after $stress_elapsed s)" ;;
    *) echo "FAIL: mpirun exited $rc after $stress_elapsed s" ;;
    esac
    stale_after=$(stress_stale_names)
    if [ "$stale_after" != "$stale_before" ]; then
        echo "FAIL: segment names left in /dev/shm:"
        echo "$stale_after"
        [ "$rc" = 0 ] && rc=125
    fi
    return $rc
}
