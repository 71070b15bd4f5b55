#!/bin/sh
# Runs an MPI job with each rank under valgrind's memcheck and fails if
# valgrind reports any error whose stack passes through the cma component or
# its ring library.  Errors elsewhere (Open MPI, PMIx, ...) that ompi.supp
# does not cover are listed but do not fail the test: that noise depends on
# the Open MPI build, not on us.
# Usage: valgrind.sh cma|none|soak
#   cma   vgping (2 ranks, 0 B to 1 MiB, verified), single copy from 64 KiB
#   none  vgping with the rings only (btl_cma_single_copy none)
#   soak  a short soak (3 ranks, 1,500 random messages each up to 512 KiB,
#         ANY_SOURCE/ANY_TAG receives), single copy from 64 KiB: the
#         unexpected-message, back-pressure and many-peer paths
#
# What memcheck cannot see here: ring cells live in a MAP_SHARED mapping,
# which memcheck marks "defined" when it is mapped, and it tracks
# definedness per process; so bytes a peer copied out of its uninitialised
# memory arrive as defined, and copying them into the ring is no "use" in
# the writer either.  The same holds for the destination of process_vm_readv
# (marked defined after the call).  This test therefore finds what each
# process does wrong with its own memory (invalid reads and writes, uses of
# uninitialised values, leaks), not uninitialised data crossing processes.
# Also: valgrind 3.19 does not know pidfd_open (it warns "unhandled syscall
# 434") and fails it with ENOSYS, so under valgrind the component attaches
# memfd segments through /proc/PID/fd/N instead of pidfd_getfd and checks
# peer liveness with kill(pid, 0): its fallback paths are what runs here.
. "${srcdir:-$(dirname "$0")}/common.sh"

mode=${1:?usage: valgrind.sh cma|none|soak}
command -v valgrind >/dev/null 2>&1 || { echo "valgrind is not installed: skipped"; exit 77; }
supp=$srcdir/ompi.supp
# The file's own rules (see its header): nothing in it may match our code.
if grep -v '^#' "$supp" | grep -nE '^[[:space:]]*(\.\.\.|obj:\*[[:space:]]*$|fun:\*[[:space:]]*$|fun:(mca_btl_|shm_))|cma|shm_ring|libshmring'; then
    echo "FAIL: $supp has a pattern that could hide errors in the cma component"
    exit 1
fi

np=2
case $mode in
cma) mca="--mca btl_cma_single_copy cma --mca btl_cma_single_copy_min 65536" prog="./vgping get" ;;
none) mca="--mca btl_cma_single_copy none" prog="./vgping ring" ;;
soak) mca="--mca btl_cma_single_copy cma --mca btl_cma_single_copy_min 65536" np=3
      prog="./soak -n 1500 -w 300 -m 512k -e get" ;;
*) echo "usage: valgrind.sh cma|none|soak"; exit 99 ;;
esac

logs=$(mktemp -d "${TMPDIR:-/tmp}/stress-vg.XXXXXX")
out=$logs/mpirun.out
# --keep-debuginfo: Open MPI dlcloses components in MPI_Finalize, before the
# leak check runs; without it their frames would print as "???" and could
# not be told apart (or be suppressed by name).
# shellcheck disable=SC2086  # $mca, $prog: several words, split on purpose
stress_mpirun $np 600 $mca -- valgrind --tool=memcheck --error-exitcode=97 --num-callers=40 \
    --keep-debuginfo=yes --leak-check=full --show-leak-kinds=definite --errors-for-leak-kinds=definite \
    --suppressions="$supp" --gen-suppressions=all --log-file="$logs/vg.%p.log" \
    $prog >"$out" 2>&1
rc=$?
cat "$out"

status=0
case $rc in
0|97) ;;
*) echo "FAIL: the job failed (status $rc)"; status=1 ;;
esac
grep -qE '^vgping: .* verified|^soak: PASS' "$out" || { echo "FAIL: the program did not complete its checks"; status=1; }
nlogs=$(grep -l 'ERROR SUMMARY' "$logs"/vg.*.log 2>/dev/null | wc -l)
if [ "$nlogs" -ne "$np" ]; then
    echo "FAIL: expected $np complete valgrind logs, found $nlogs"
    status=1
fi

# An error record is the block between blank "==PID==" lines whose lines
# after the first are stack frames.  Ours: a frame in mca_btl_cma.so, in a
# source file of the component or the ring library, or in one of their
# exported functions.
for log in "$logs"/vg.*.log; do
    [ -e "$log" ] || continue
    awk -v logf="$log" '
        function flush() {
            if (nframes > 0) {
                if (ours) { nours++; print "OUR ERROR in " logf ":\n" rec }
                else { nother++; other = other rec "\n" }
            }
            rec = ""; nframes = 0; ours = 0
        }
        /^==[0-9]+== / {
            line = $0; sub(/^==[0-9]+== /, "", line)
            if (line ~ /^[[:space:]]*$/) { flush(); next }
            if (line ~ /^[[:space:]]+(at|by) 0x/) {
                nframes++
                if (line ~ /mca_btl_cma\.so|btl_cma_[a-z_]*\.[ch]:|shm_(ring|segment|peer)\.c:|mca_btl_cma_|[^a-z_]shm_(ring|segment|peer)_/)
                    ours = 1
            }
            rec = rec line "\n"
        }
        END {
            flush()
            if (nother > 0) printf "note: %d error(s) outside the cma component not covered by ompi.supp in %s:\n%s", nother, logf, other
            print "valgrind: " logf ": " (nours + 0) " error(s) in the cma component, " (nother + 0) " elsewhere"
            exit nours > 0
        }' "$log" || status=1
    grep -h 'ERROR SUMMARY' "$log"
done
if [ $status -eq 0 ]; then
    rm -rf "$logs"
else
    echo "valgrind logs kept in $logs"
fi
exit $status
