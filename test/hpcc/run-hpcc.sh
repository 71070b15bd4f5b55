#!/bin/sh
# run-hpcc.sh NP [MCA args...]: runs Debian's HPCC (HPL, PTRANS, RandomAccess,
# FFT, STREAM, DGEMM, PingPong, RandomRing) with NP ranks in a scratch
# directory with the small input kept here (hpccinf-npNP.txt), through the
# BTLs named by BTL (default "cma,self") and this build's component, and
# checks every verification HPCC makes.  The summary figures of the
# communication tests are printed as "HPCC key=value" lines.
# Exit: 0 passed, 1 failed, 77 when hpcc is not installed.
set -u
np=$1; shift
srcdir=$(cd "$(dirname "$0")" && pwd)
top=$(cd ../.. 2>/dev/null && pwd)
: "${MPIRUN:=mpirun.openmpi}" "${BTL:=cma,self}"
command -v hpcc >/dev/null 2>&1 || { echo "hpcc not installed (apt-get install hpcc): skipped"; exit 77; }
[ "$(id -u)" = 0 ] && export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
pkglib=$(ompi_info --path pkglibdir --parsable | sed -n 's/^path:pkglibdir://p')
compdir=${CMA_COMPONENT_DIR:-$top/src/btl_cma/.libs}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$srcdir/hpccinf-np$np.txt" "$work/hpccinf.txt"
cd "$work" || exit 1
timeout -k 10 600 "$MPIRUN" -np "$np" --oversubscribe --bind-to none --mca pml ob1 --mca btl "$BTL" \
    --mca mca_base_component_path "$compdir:$pkglib" "$@" hpcc >run.log 2>&1
rc=$?
out=hpccoutf.txt
fail() { echo "FAIL: $*"; tail -20 run.log; exit 1; }
[ "$rc" -eq 0 ] || fail "hpcc exited with $rc"
[ -f "$out" ] || fail "no $out written"
summary=$(sed -n '/Begin of Summary section/,/End of Summary section/p' "$out")
val() { echo "$summary" | sed -n "s/^$1=//p"; }
[ "$(val Success)" = 1 ] || fail "HPCC reports Success=$(val Success)"
! grep -q FAILED "$out" || fail "a residual check FAILED: $(grep FAILED "$out" | head -3)"
grep -q "tests completed and passed residual checks" "$out" || fail "HPL did not pass its residual checks"
[ "$(val MPIRandomAccess_Errors)" = 0 ] || fail "MPIRandomAccess found $(val MPIRandomAccess_Errors) errors"
[ "$(val MPIRandomAccess_LCG_Errors)" = 0 ] || fail "MPIRandomAccess (LCG) found errors"
awk -v r="$(val PTRANS_residual)" 'BEGIN { exit !(r + 0 < 1e-10) }' || fail "PTRANS residual $(val PTRANS_residual)"
awk -v e="$(val MPIFFT_maxErr)" 'BEGIN { exit !(e != "" && e + 0 < 1e-10) }' || fail "MPIFFT error $(val MPIFFT_maxErr)"
for k in AvgPingPongLatency_usec AvgPingPongBandwidth_GBytes NaturallyOrderedRingLatency_usec \
         RandomlyOrderedRingLatency_usec NaturallyOrderedRingBandwidth_GBytes RandomlyOrderedRingBandwidth_GBytes; do
    echo "HPCC $k=$(val $k)"
done
echo "hpcc with $np ranks through $BTL: every verification passed"
