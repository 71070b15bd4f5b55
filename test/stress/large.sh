#!/bin/sh
# Runs the large program (one 3 GiB + 13 B message, 2 ranks) through one
# protocol and lets it check the counters.  Usage: large.sh ring|get|denied|emu
#   ring    --mca btl_cma_single_copy none: the ring pipeline
#   get     --mca btl_cma_single_copy cma, single_copy_min 64 KiB:
#           process_vm_readv, which must loop past 2 GiB
#   denied  default (auto) single copy, min 64 KiB, every rank under
#           test/protocol's seccomp wrapper (deny_cma): denied from the start
#   emu     default (auto) single copy, min 64 KiB, the receiver denies
#           itself process_vm_readv after MPI_Init: its first read fails and
#           the component turns it into an emulated get through the rings
# Memory: 3 GiB per rank; runs one at a time (the lock in common.sh).
. "${srcdir:-$(dirname "$0")}/common.sh"

wrap="" opt=""
case ${1:-} in
ring) mca="--mca btl_cma_single_copy none" ;;
get) mca="--mca btl_cma_single_copy cma --mca btl_cma_single_copy_min 65536" ;;
denied)
    mca="--mca btl_cma_single_copy_min 65536"
    wrap=$top_builddir/test/protocol/deny_cma
    [ -x "$wrap" ] || { echo "$wrap is not built (make -C ../protocol deny_cma)"; exit 99; } ;;
emu) mca="--mca btl_cma_single_copy_min 65536" opt=-d ;;
*) echo "usage: large.sh ring|get|denied|emu"; exit 99 ;;
esac
avail=$(awk '/^MemAvailable:/ {print int($2 / 1048576)}' /proc/meminfo)
if [ "${avail:-0}" -lt 8 ]; then
    echo "only ${avail} GiB of memory available, 8 needed: skipped"
    exit 77
fi
out=$(mktemp)
# shellcheck disable=SC2086  # empty or several words, split on purpose
stress_mpirun 2 300 $mca -- $wrap ./large $opt "$1" >"$out" 2>&1
rc=$?
cat "$out"
# Where single copy is denied the user hears it once per node, not per
# message or per process.
warnings=$(grep -c 'cannot read the memory of another process' "$out")
rm -f "$out"
case $1 in
denied|emu)
    if [ "$warnings" != 1 ]; then
        echo "FAIL: $warnings single-copy warnings printed, expected exactly 1"
        rc=1
    fi ;;
esac
[ $rc = 0 ] || exit 1
exit 0
