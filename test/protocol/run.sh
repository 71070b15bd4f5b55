#!/bin/sh
# Runs one protocol test: mpirun with 2 ranks (or --np N) through "cma,self" (or --btl LIST), the
# build tree's component first on the component path, a time limit so a
# hang fails instead of blocking, and a check that no file of ours was left
# in /dev/shm.  Usage: run.sh [--btl LIST] [--np N] [--deny-cma] [--drop-ptrace] [--expect-warnings N]
# [--expect-death] [--expect-error TEXT] [--expect-output TEXT]... [--rank0-env VAR=VALUE]
# MPIRUN-ARGS... -- PROGRAM ARGS...
set -u
. "$(dirname "$0")/env.sh"
wrap="" maxwarn="" expect_death="" expect_error="" btl=cma,self np=2
expect_output_file=$(mktemp)
trap 'rm -f "$expect_output_file"' EXIT
while :; do
    case "${1:-}" in
    --btl) btl=$2; shift 2 ;;
    --np) np=$2; shift 2 ;;
    --deny-cma) wrap="$wrap $builddir/deny_cma"; shift ;;
    --rank0-env) wrap="$wrap $(dirname "$0")/rank0-env.sh $2"; shift 2 ;;
    --drop-ptrace)
        # root's CAP_SYS_PTRACE overrides non-dumpability: drop it so the
        # denial is what an unprivileged user sees.
        [ "$(id -u)" = 0 ] && wrap="$wrap setpriv --inh-caps=-sys_ptrace --bounding-set=-sys_ptrace"
        shift ;;
    --expect-warnings) maxwarn=$2; shift 2 ;;
    --expect-death) expect_death=1; shift ;;
    --expect-error) expect_error=$2; shift 2 ;;
    # The output must contain TEXT (repeatable), whatever the exit status.
    --expect-output) printf '%s\n' "$2" >>"$expect_output_file"; shift 2 ;;
    *) break ;;
    esac
done
mca=""
while [ $# -gt 0 ] && [ "$1" != "--" ]; do mca="$mca $1"; shift; done
shift
prog=$1; shift
before=$(ls /dev/shm | grep -c '^btl_cma\.' || true)
out=$(mktemp)
start=$(date +%s)
timeout 120 $MPIRUN -np "$np" --bind-to none --mca pml ob1 --mca btl "$btl" \
    --mca mca_base_component_path "$top/src/btl_cma/.libs:$pkglib" $mca \
    $wrap "$builddir/$prog" "$@" >"$out" 2>&1
rc=$?
cat "$out"
if [ -n "$expect_error" ]; then
    # A misconfiguration must end in a clear message, never in a crash.
    if [ "$rc" -eq 0 ] || [ "$rc" -eq 124 ]; then
        echo "FAIL: expected a clean failure, got exit $rc"; rc=1
    elif grep -qiE 'segmentation fault|bus error|core dumped|signal 11|signal 7' "$out"; then
        echo "FAIL: crashed instead of reporting the problem"; rc=1
    elif ! grep -q "$expect_error" "$out"; then
        echo "FAIL: the message '$expect_error' was not printed"; rc=1
    else
        echo "failed cleanly with: $expect_error"; rc=0
    fi
fi
if [ -n "$expect_death" ]; then
    # A killed peer must end the job (not hang until the time limit) with
    # an error naming the failed process.
    elapsed=$(( $(date +%s) - start ))
    if [ "$rc" -eq 0 ] || [ "$rc" -eq 124 ] || [ "$elapsed" -gt 60 ]; then
        echo "FAIL: job with a killed rank exited $rc after ${elapsed}s (expected an error within 60 s)"; rc=1
    elif ! grep -qi 'signal 9\|killed\|failed' "$out"; then
        echo "FAIL: no message names the killed process"; rc=1
    else
        echo "killed peer: job ended with status $rc after ${elapsed}s"; rc=0
    fi
fi
if [ -n "$maxwarn" ]; then
    n=$(grep -c 'cannot read the memory of another process' "$out" || true)
    if [ "$n" -gt "$maxwarn" ]; then
        echo "FAIL: $n single-copy warnings printed, at most $maxwarn expected"; rc=1
    fi
    if [ "$maxwarn" -gt 0 ] && [ "$n" -eq 0 ]; then
        echo "FAIL: single copy was denied but no warning was printed"; rc=1
    fi
    if grep -q 'Read -1, expected' "$out"; then echo "FAIL: per-message error spam"; rc=1; fi
fi
while IFS= read -r text; do
    if ! grep -qF -- "$text" "$out"; then
        echo "FAIL: the output lacks '$text'"; rc=1
    fi
done <"$expect_output_file"
rm -f "$out"
after=$(ls /dev/shm | grep -c '^btl_cma\.' || true)
if [ "$after" -gt "$before" ]; then
    echo "FAIL: $((after - before)) new btl_cma.* files left in /dev/shm"; rc=1
fi
exit $rc
