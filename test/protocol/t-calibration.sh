#!/bin/sh
# The calibration cache describes the machine, so what one job could not
# measure must not reach it: a job whose process_vm_readv is refused by a
# seccomp profile writes no cache (and says why at verbosity 1), a cache
# such a job left behind in older versions (single_copy_gbps 0) is measured
# again, the first four jobs each measure and the cache keeps each rate's
# best (so one job on a busy node cannot set the thresholds for good), a
# cache of four measurements is reused, and one that local rank 0 cannot
# rewrite (a read-only directory) is used without waiting for it.
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
field() { sed -n "s/^$1 //p" "$cal"; }

echo "== 1: single copy denied by seccomp"
job --deny-cma --expect-warnings 1 --mca btl_cma_calibration_file "$cal" --mca btl_cma_verbose 1 \
    -- protocol_check 4194304 emu || fail "job under the denial failed"
grep -q 'calibration skipped: process_vm_readv cannot read even this process' "$dir/out" ||
    fail "no verbose line says why calibration was skipped"
[ -e "$cal" ] && fail "the denied job wrote $cal: $(cat "$cal")"

echo "== 2: allowed: measured, cached with a real rate as 1 sample"
job --mca btl_cma_single_copy_min 65536 --mca btl_cma_calibration_file "$cal" --mca btl_cma_verbose 1 \
    -- protocol_check 4194304 get || fail "job failed"
grep -q 'calibration (measured; best of 1 of the 4' "$dir/out" || fail "nothing was measured"
[ -s "$cal" ] || fail "no cache written"
awk -v r="$(rate)" 'BEGIN { exit !(r > 0) }' || fail "cached single_copy_gbps is '$(rate)'"
[ "$(field samples)" = 1 ] || fail "samples is '$(field samples)', expected 1"

echo "== 3: a cache with single_copy_gbps 0 is measured again"
sed -i 's/^single_copy_gbps .*/single_copy_gbps 0.00/; s/^single_copy_min .*/single_copy_min 18446744073709551615/' "$cal"
job --mca btl_cma_single_copy_min 65536 --mca btl_cma_calibration_file "$cal" --mca btl_cma_verbose 1 \
    -- protocol_check 4194304 get || fail "job failed"
grep -q 'calibration (measured; best of 1 of the 4' "$dir/out" || fail "the zero-rate cache was trusted"
awk -v r="$(rate)" 'BEGIN { exit !(r > 0) }' || fail "cache not rewritten: single_copy_gbps '$(rate)'"

echo "== 4: the next jobs merge their measurements, keeping each rate's best"
# A low memcpy rate, as a busy node measures, must be replaced by this
# job's; a single-copy rate no machine reaches must stay, and the
# thresholds must follow the merged rates (single copy 100x the pipeline:
# no longer "never").
sed -i 's/^memcpy_gbps .*/memcpy_gbps 0.01/; s/^single_copy_gbps .*/single_copy_gbps 9999.00/' "$cal"
sed -i 's/^single_copy_min .*/single_copy_min 18446744073709551615/' "$cal"
job --mca btl_cma_single_copy_min 65536 --mca btl_cma_calibration_file "$cal" --mca btl_cma_verbose 1 \
    -- protocol_check 4194304 get || fail "job failed"
grep -q "calibration (measured, merged into $cal; best of 2 of the 4" "$dir/out" || fail "no merged measurement"
[ "$(field samples)" = 2 ] || fail "samples is '$(field samples)', expected 2"
awk -v r="$(field memcpy_gbps)" 'BEGIN { exit !(r > 0.01) }' || fail "memcpy_gbps kept the low '$(field memcpy_gbps)'"
[ "$(rate)" = 9999.00 ] || fail "single_copy_gbps lost its best: '$(rate)'"
[ "$(field single_copy_min)" != 18446744073709551615 ] || fail "single_copy_min not derived from the merged rates"
for n in 3 4; do
    job --mca btl_cma_single_copy_min 65536 --mca btl_cma_calibration_file "$cal" --mca btl_cma_verbose 1 \
        -- protocol_check 4194304 get || fail "job failed"
    [ "$(field samples)" = $n ] || fail "samples is '$(field samples)', expected $n"
done

echo "== 5: a cache of four measurements is reused"
cp "$cal" "$dir/before"
job --mca btl_cma_single_copy_min 65536 --mca btl_cma_calibration_file "$cal" --mca btl_cma_verbose 1 \
    -- protocol_check 4194304 get || fail "job failed"
grep -q 'calibration (measured' "$dir/out" && fail "measured again although the cache had 4 samples"
grep -q "calibration (cached in $cal; best of 4 of the 4" "$dir/out" || fail "the cache was not used"
cmp -s "$cal" "$dir/before" || fail "the final cache was rewritten"
echo "== 6: a cache local rank 0 cannot rewrite is used at once"
# A cache of 1 sample makes the other ranks wait up to 500 ms for local
# rank 0 to measure and rewrite it; in a read-only directory (a file an
# administrator provides) nobody can, so nobody may wait.  The same cache
# in a writable directory is the control: there a rank does wait.
sed 's/^samples .*/samples 1/' "$dir/before" >"$cal"
job --mca btl_cma_single_copy_min 65536 --mca btl_cma_calibration_file "$cal" --mca btl_cma_verbose 10 \
    -- protocol_check 4194304 get || fail "job failed"
grep -q "waiting up to 500 ms for local rank 0 to update the calibration cache $cal" "$dir/out" ||
    fail "control: no rank waited for a writable 1-sample cache"
if unshare -m true 2>/dev/null; then
    mkdir "$dir/ro"
    sed 's/^samples .*/samples 1/' "$dir/before" >"$dir/ro/calibration"
    unshare -m sh -c 'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" && shift &&
        exec "$@"' sh "$dir/ro" "$here/run.sh" --mca btl_cma_single_copy_min 65536 \
        --mca btl_cma_calibration_file "$dir/ro/calibration" --mca btl_cma_verbose 10 \
        -- protocol_check 4194304 get >"$dir/out" 2>&1 || fail "job with a read-only cache failed"
    cat "$dir/out"
    grep -q "calibration cache $dir/ro/calibration cannot be written (Read-only file system): its values are used as they are" \
        "$dir/out" || fail "local rank 0 did not say that the cache cannot be written"
    grep -q 'waiting up to' "$dir/out" && fail "a rank waited for a cache nobody can rewrite"
    [ "$(grep -c "calibration (cached in $dir/ro/calibration; best of 1 of the 4" "$dir/out")" = 2 ] ||
        fail "the read-only cache was not used by both ranks"
    grep -q '^samples 1$' "$dir/ro/calibration" || fail "the read-only cache changed"
else
    echo "unshare -m not permitted: the read-only part is skipped"
fi
[ $rc = 0 ] && echo "PASS"
exit $rc
