#!/bin/sh
# A rank killed in a 4-rank job: the job must end with an error naming the
# dead process (run.sh --expect-death), and the three survivors, which all
# see the failure, must print cma's "peer failed" message once, not three
# times.
out=$("$(dirname "$0")/run.sh" --np 4 --expect-death --oversubscribe -- kill_peer eager 2>&1)
rc=$?
printf '%s\n' "$out"
[ "$rc" -eq 0 ] || exit 1
n=$(printf '%s\n' "$out" | grep -c 'A process of this job on the same node failed')
if [ "$n" -ne 1 ]; then
    echo "FAIL: the peer-failed message was printed $n times, expected once"
    exit 1
fi
echo "peer-failed message printed once"
