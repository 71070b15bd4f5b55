#!/bin/sh
# Segments are private to the job.  While a 4-rank job holds its cma
# segments (hold, in a barrier loop), this checks from outside, for memfd
# and for POSIX segments:
#   * POSIX: no /dev/shm/btl_cma.* name of the job's ranks is left once all
#     peers attached; every segment mapped by a rank (found through
#     /proc/PID/maps, inspected through /proc/PID/map_files, which works after
#     the name is gone) has mode 0600 and belongs to the job's user;
#   * a process of the job's user CAN take a rank's memfd through
#     /proc/PID/fd/N and pidfd_getfd and read it with process_vm_readv (the
#     probe works, and the threat model trusts the same user), while a
#     process of ANOTHER user can do none of these, nor open the mapped
#     segment files.  (A memfd's inode has mode 0777, as the kernel makes
#     them; it has no name, so only those descriptor paths could reach it.)
# Done twice: with the job run by the invoking user (root here) and
# "nobody" as the outsider, and with the job run by "nobody" and "daemon"
# as the outsider (two unprivileged users: the case a shared node has).
# Needs root to switch users; skipped (77) otherwise.
. "${srcdir:-$(dirname "$0")}/common.sh"

if [ "$(id -u)" != 0 ]; then
    echo "running other users' processes needs root: skipped"
    exit 77
fi
command -v setpriv >/dev/null 2>&1 || { echo "setpriv (util-linux) missing: skipped"; exit 77; }
for u in nobody daemon; do
    id "$u" >/dev/null 2>&1 || { echo "no user '$u': skipped"; exit 77; }
done

status=0
fail() { echo "FAIL: $*"; status=1; }

ranks_reported() { # DIR: how many rank.N files hold has written
    n=0
    for f in "$1"/rank.*; do
        case $f in *.tmp) ;; *) [ -e "$f" ] && n=$((n + 1)) ;; esac
    done
    echo $n
}

as_user() { # USER COMMAND...: run COMMAND as USER (and that user's primary group)
    u=$1; shift
    if [ "$u" = "$(id -un)" ]; then "$@"; else
        setpriv --reuid="$u" --regid="$(id -g "$u")" --clear-groups "$@"; fi
}

# run_case KIND JOB_USER OUTSIDER
run_case() {
    kind=$1 job_user=$2 outsider=$3
    job_uid=$(id -u "$job_user")
    echo "=== $kind segments, job run by $job_user, outsider $outsider"
    d=$(mktemp -d "${TMPDIR:-/tmp}/stress-access.XXXXXX")
    chown "$job_user" "$d"
    chmod 755 "$d"
    if [ "$job_user" = "$(id -un)" ]; then stress_as=""; else
        # HOME: the component's calibration cache goes under it.
        stress_as="setpriv --reuid=$job_user --regid=$(id -g "$job_user") --clear-groups env HOME=$d"; fi
    (stress_as=$stress_as stress_mpirun 4 180 --mca btl_cma_segment "$kind" -- ./hold "$d" 150 >"$d/job.out" 2>&1
     echo $? >"$d/job.rc") &
    # The job may first wait for the MPI lock (another suite's job), then
    # has its own time limit: wait for its ranks or its end.
    waited=0
    while [ "$(ranks_reported "$d")" -lt 4 ] && [ ! -e "$d/job.rc" ] && [ $waited -lt 1200 ]; do
        sleep 1; waited=$((waited + 1))
    done
    if [ "$(ranks_reported "$d")" -lt 4 ]; then
        fail "the job did not report its 4 ranks"
    fi
    for r in "$d"/rank.*; do
        case $r in *.tmp) continue ;; esac
        [ -e "$r" ] || continue
        read -r pid fd addr len <"$r"
        echo "--- rank pid $pid: segment fd $fd"
        if [ "$kind" = memfd ] && [ "$fd" -lt 0 ]; then
            fail "rank $pid holds no memfd segment descriptor"
        fi
        # Segments this rank maps, its own and its peers'.
        maps=$(grep -E '/dev/shm/btl_cma\.|/memfd:btl_cma' "/proc/$pid/maps" | awk '{print $1}')
        [ -n "$maps" ] || fail "rank $pid maps no cma segment"
        files=""
        for m in $maps; do
            f=/proc/$pid/map_files/$m
            mode=$(stat -L -c %a "$f") uid=$(stat -L -c %u "$f")
            echo "mapped segment $m: mode $mode, owner uid $uid"
            [ "$uid" = "$job_uid" ] || fail "segment $m of rank $pid belongs to uid $uid, not the job's $job_uid"
            if [ "$kind" = posix ] && [ "$mode" != 600 ]; then
                fail "POSIX segment $m of rank $pid has mode $mode, not 600"
            fi
            files="$files $f"
        done
        for n in /dev/shm/btl_cma.*."$pid".*; do
            [ -e "$n" ] || continue
            mode=$(stat -c %a "$n") uid=$(stat -c %u "$n")
            echo "$n still exists: mode $mode, owner uid $uid"
            if [ "$mode" != 600 ] || [ "$uid" != "$job_uid" ]; then
                fail "$n: mode $mode, owner uid $uid"
            fi
            fail "$n of rank $pid still exists after all peers attached"
            files="$files $n"
        done

        # The job's own user: everything must work, else the probe proves nothing.
        # shellcheck disable=SC2086
        as_user "$job_user" ./peek "$pid" "$fd" "$addr" "$len" | sed 's/^/  as '"$job_user"': /'
        expect=1
        [ "$fd" -ge 0 ] && expect=3
        # shellcheck disable=SC2086
        allowed=$(as_user "$job_user" ./peek "$pid" "$fd" "$addr" "$len" | grep -c ': allowed$')
        [ "$allowed" = "$expect" ] || fail "as the job's user only $allowed of $expect accesses worked: the probe is broken"
        # Another user: nothing may work, the mapped segment files included.
        # shellcheck disable=SC2086
        out=$(as_user "$outsider" ./peek "$pid" "$fd" "$addr" "$len" $files)
        echo "$out" | sed 's/^/  as '"$outsider"': /'
        if echo "$out" | grep -q ': allowed$'; then
            fail "user $outsider reached the memory of rank $pid"
        fi
    done
    touch "$d/release"
    chmod 644 "$d/release"
    waited=0
    while [ ! -e "$d/job.rc" ] && [ $waited -lt 200 ]; do sleep 1; waited=$((waited + 1)); done
    cat "$d/job.out"
    [ "$(cat "$d/job.rc" 2>/dev/null)" = 0 ] || fail "the job itself failed"
    rm -rf "$d"
}

run_case memfd "$(id -un)" nobody
run_case posix "$(id -un)" nobody
run_case memfd nobody daemon
run_case posix nobody daemon
[ $status = 0 ] && echo "access: PASS"
exit $status
