#!/bin/sh
# With an 8 MiB /dev/shm (a tmpfs mounted over it in a private mount
# namespace, so the machine's own is untouched) the doctor must report the
# shortage with a fix (--shm-size, remount), and exit 1 exactly when it
# calls it a failure.  Two sizes: 2 ranks fit in 8 MiB but leave it under the
# 64 MiB low-water mark; 64 ranks need more than there is, a WARN while cma
# can use memfd segments and a FAIL (exit 1) where memfd_create is missing,
# since cma must then live in /dev/shm.  Skipped (77) where mount namespaces
# or tmpfs mounts are not permitted.
. "${srcdir:-.}/common.sh"
command -v unshare >/dev/null 2>&1 || { echo "no unshare: skipped"; exit 77; }
unshare -m sh -c 'mount -t tmpfs -o size=8M tmpfs /dev/shm' 2>/dev/null ||
    { echo "cannot mount a tmpfs in a private mount namespace: skipped"; exit 77; }

check_shm() {
    expect_line "^\[(WARN|FAIL)\] /dev/shm: (only )?8 MiB free of 8 MiB"
    fix=$(fix_after '^\[(WARN|FAIL)\] /dev/shm:')
    echo "$fix" | grep -q '^       fix: .*--shm-size' || fail "the fix does not name --shm-size: $fix"
    echo "$fix" | grep -q 'mount -o remount,size=' || fail "the fix does not name the remount: $fix"
    if printf '%s\n' "$out" | grep -q '^\[FAIL\]'; then
        expect_rc 1
    else
        expect_rc 0
    fi
}

run_doctor unshare -m sh -c 'mount -t tmpfs -o size=8M tmpfs /dev/shm && exec "$0" "$@"' "$DOCTOR" \
    --ranks 2 --component-dir "$COMPONENT_DIR"
check_shm
expect_line '^\[WARN\] /dev/shm: only 8 MiB free of 8 MiB, under 64 MiB: enough for 2 ranks'

run_doctor unshare -m sh -c 'mount -t tmpfs -o size=8M tmpfs /dev/shm && exec "$0" "$@"' "$DOCTOR" \
    --ranks 64 --component-dir "$COMPONENT_DIR"
check_shm
expect_line '^\[WARN\] /dev/shm: 8 MiB free of 8 MiB, but 64 ranks on this node need about [0-9.]+ MiB'

"$builddir/seccomp_wrap" --check || exit 0
run_doctor unshare -m sh -c 'mount -t tmpfs -o size=8M tmpfs /dev/shm && exec "$0" "$@"' \
    "$builddir/seccomp_wrap" enosys memfd_create "$DOCTOR" --ranks 64 --component-dir "$COMPONENT_DIR"
check_shm
expect_rc 1
expect_line '^\[FAIL\] /dev/shm: 8 MiB free of 8 MiB, but 64 ranks on this node need about [0-9.]+ MiB .*cma must use POSIX segments'
exit 0
