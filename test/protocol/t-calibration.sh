#!/bin/sh
# The calibration cache describes the machine, so what one job could not
# measure must not reach it: a job whose process_vm_readv is refused by a
# seccomp profile writes no cache (and says why at verbosity 1), a cache
# such a job left behind in older versions (single_copy_gbps 0) is measured
# again, and a sound cache is reused.
set -u
here=$(cd "$(dirname "$0")" && pwd)
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cal="$dir/calibration"
rc=0
fail() { echo "FAIL: $*"; rc=1; }
# single_copy_min fixed so the protocol asserted below does not depend on
# this machine's rates; single_copy_min_huge left to the calibration.
job() { "$here/run.sh" "$@" >"$dir/out" 2>&1; r=$?; cat "$dir/out"; return $r; }
rate() { sed -n 's/^single_copy_gbps //p' "$cal"; }

echo "== 1: single copy denied by seccomp"
job --deny-cma --expect-warnings 1 --mca btl_cma_calibration_file "$cal" --mca btl_cma_verbose 1 \
    -- protocol_check 4194304 emu || fail "job under the denial failed"
grep -q 'calibration skipped: process_vm_readv cannot read even this process' "$dir/out" ||
    fail "no verbose line says why calibration was skipped"
[ -e "$cal" ] && fail "the denied job wrote $cal: $(cat "$cal")"

echo "== 2: allowed: measured once, cached with a real rate"
job --mca btl_cma_single_copy_min 65536 --mca btl_cma_calibration_file "$cal" --mca btl_cma_verbose 1 \
    -- protocol_check 4194304 get || fail "job failed"
grep -q 'calibration (measured)' "$dir/out" || fail "nothing was measured"
[ -s "$cal" ] || fail "no cache written"
awk -v r="$(rate)" 'BEGIN { exit !(r > 0) }' || fail "cached single_copy_gbps is '$(rate)'"

echo "== 3: a cache with single_copy_gbps 0 is measured again"
sed -i 's/^single_copy_gbps .*/single_copy_gbps 0.00/; s/^single_copy_min .*/single_copy_min 18446744073709551615/' "$cal"
job --mca btl_cma_single_copy_min 65536 --mca btl_cma_calibration_file "$cal" --mca btl_cma_verbose 1 \
    -- protocol_check 4194304 get || fail "job failed"
grep -q 'calibration (measured)' "$dir/out" || fail "the zero-rate cache was trusted"
awk -v r="$(rate)" 'BEGIN { exit !(r > 0) }' || fail "cache not rewritten: single_copy_gbps '$(rate)'"

echo "== 4: a sound cache is reused"
job --mca btl_cma_single_copy_min 65536 --mca btl_cma_calibration_file "$cal" --mca btl_cma_verbose 1 \
    -- protocol_check 4194304 get || fail "job failed"
grep -q 'calibration (measured)' "$dir/out" && fail "measured again although the cache was sound"
grep -q "calibration (cached in $cal)" "$dir/out" || fail "the cache was not used"
[ $rc = 0 ] && echo "PASS"
exit $rc
