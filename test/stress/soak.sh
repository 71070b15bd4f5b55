#!/bin/sh
# Runs the soak program on 4 ranks with one single-copy configuration.
# Usage: soak.sh auto|none|cma|late-deny
#   auto  the component's defaults (single copy where permitted and
#         calibrated faster: on a VM often never); counters reported only
#   none  --mca btl_cma_single_copy none: the rings carry everything
#   cma   --mca btl_cma_single_copy cma --mca btl_cma_single_copy_min 65536:
#         every message from 64 KiB up is read with process_vm_readv
#   late-deny  default mode, single copy from 64 KiB, and the odd ranks
#         lose process_vm_readv (seccomp) when the soak phase starts: reads
#         in flight must become emulated gets; one warning for the node
# SOAK_MSGS / SOAK_WARMUP override the per-rank message counts.
. "${srcdir:-$(dirname "$0")}/common.sh"

# 15 to 30 s per run on this 2-core VM, depending on what else it runs.
msgs=${SOAK_MSGS:-60000}
warm=${SOAK_WARMUP:-15000}
case ${1:-} in
auto) mca="" expect=any ;;
none) mca="--mca btl_cma_single_copy none" expect=ring ;;
cma) mca="--mca btl_cma_single_copy cma --mca btl_cma_single_copy_min 65536" expect=get ;;
late-deny) mca="--mca btl_cma_single_copy_min 65536" expect="emu -d" ;;
*) echo "usage: soak.sh auto|none|cma|late-deny"; exit 99 ;;
esac
out=$(mktemp)
# shellcheck disable=SC2086  # $expect may carry -d
stress_mpirun 4 300 $mca -- ./soak -n "$msgs" -w "$warm" -e $expect >"$out" 2>&1
rc=$?
cat "$out"
warnings=$(grep -c 'cannot read the memory of another process' "$out")
rm -f "$out"
if [ "$1" = late-deny ] && [ "$warnings" != 1 ]; then
    echo "FAIL: $warnings single-copy warnings printed, expected exactly 1"
    rc=1
fi
[ $rc = 0 ] || exit 1
exit 0
