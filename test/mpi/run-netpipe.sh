#!/bin/sh
# run-netpipe.sh: NetPIPE's MPI module in integrity-check mode (-i) on 2
# ranks through run-mpi.sh, i.e. through the BTL under test, from 1 byte up
# to NETPIPE_UPPER (default 16 MiB) with NetPIPE's usual +-3 byte
# perturbations.  Passing means mpirun succeeded AND NetPIPE's output shows
# a "passed" line for every trial, no "failed" line and no error text, and
# the sizes reached the upper bound; the exit code alone proves nothing
# because NetPIPE reports bad data by printing, not by exiting nonzero.
# Exits 77 (SKIP) only when no NetPIPE MPI binary is installed.
#
# Environment: NPMPI (the binary; default: NPmpi or Debian's NPopenmpi from
# the netpipe-openmpi package), NETPIPE_UPPER, NETPIPE_ARGS (extra NetPIPE
# options), plus everything run-mpi.sh reads.

set -u

np_bin=${NPMPI:-}
if [ -z "$np_bin" ]; then
    for c in NPmpi NPopenmpi; do
        if command -v "$c" >/dev/null 2>&1; then
            np_bin=$(command -v "$c")
            break
        fi
    done
fi
if [ -z "$np_bin" ]; then
    echo "SKIP: NetPIPE for Open MPI (NPmpi, or NPopenmpi from Debian's netpipe-openmpi) not found"
    exit 77
fi

upper=${NETPIPE_UPPER:-16777216}
here=$(cd "$(dirname "$0")" && pwd)
out=$(mktemp "${TMPDIR:-/tmp}/netpipe.XXXXXX") || exit 99
trap 'rm -f "$out"' EXIT

# -o /dev/null: the throughput table is of no use here and would litter
# the build tree with np.out.
# shellcheck disable=SC2086
NP=2 /bin/sh "$here/run-mpi.sh" "$np_bin" -i -u "$upper" -o /dev/null ${NETPIPE_ARGS:-} >"$out" 2>&1
rc=$?
cat "$out"

fail() {
    echo "run-netpipe.sh: FAIL: $*" >&2
    exit 1
}

[ "$rc" -eq 0 ] || fail "mpirun/NetPIPE exited with $rc"
if grep -i -E 'fail|error|abort' "$out" | grep -v '^+ timeout' >/dev/null; then
    fail "NetPIPE reported an integrity failure or error (see the lines above)"
fi
# Trial 0's line announces the integrity mode, and its verdict may land on
# another line when the two ranks' output interleaves (seen: "0: 5 bytes
# 419430 times --> 0: vm", the verdict on the next line), so trials count
# from number 1; a failure of trial 0 still shows as "fail" above.
trials=$(grep -c -E '^ *[1-9][0-9]*: +[0-9]+ bytes' "$out")
passed=$(grep -c -E '^ *[1-9][0-9]*: +[0-9]+ bytes .*Integrity check passed' "$out")
[ "$trials" -gt 0 ] || fail "NetPIPE printed no trials; was -i honoured?"
[ "$passed" -eq "$trials" ] || fail "only $passed of $trials NetPIPE trials say 'Integrity check passed'"
largest=$(sed -n -E 's/^ *[0-9]+: +([0-9]+) bytes.*/\1/p' "$out" | sort -n | tail -1)
[ "$largest" -ge $((upper / 2)) ] || fail "NetPIPE stopped at $largest bytes, before reaching $upper"
echo "run-netpipe.sh: $passed trials up to $largest bytes passed NetPIPE's integrity check"
exit 0
