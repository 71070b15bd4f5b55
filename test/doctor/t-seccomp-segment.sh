#!/bin/sh
# The segment probes under filters on the calls memfd segments need:
#  - pidfd_getfd refused: the memfd is still shared, through /proc/PID/fd
#    (as libshmring falls back), so OK and exit 0;
#  - memfd_create unknown (ENOSYS, an old kernel or profile): a WARN, since
#    the component falls back to POSIX segments, and exit 0;
#  - memfd_create refused (EPERM): a FAIL blaming the filter, with the fix
#    btl_cma_segment posix, exit 1;
#  - pidfd_open unknown: a WARN that dead peers are found with kill(pid, 0).
. "${srcdir:-.}/common.sh"
"$builddir/seccomp_wrap" --check || exit 77
wrap="$builddir/seccomp_wrap"

run_doctor "$wrap" eperm pidfd_getfd "$DOCTOR" --component-dir "$COMPONENT_DIR"
expect_rc 0
expect_line '^\[ OK \] memfd segment shared between sibling processes through /proc/PID/fd \(pidfd_getfd: EPERM'
expect_line '^\[ OK \] single copy: process_vm_readv between two sibling processes works'
expect_fixes

run_doctor "$wrap" enosys memfd_create "$DOCTOR" --component-dir "$COMPONENT_DIR"
expect_rc 0
expect_line '^\[WARN\] memfd_create is not available \(ENOSYS, .*\): cma falls back to POSIX segments in /dev/shm'
expect_no_line 'memfd segment shared'
expect_line '^\[ OK \] /dev/shm: .* in /dev/shm \(POSIX segments\)$'
expect_fixes

run_doctor "$wrap" eperm memfd_create "$DOCTOR" --component-dir "$COMPONENT_DIR"
expect_rc 1
expect_line '^\[FAIL\] memfd_create fails \(EPERM, Operation not permitted\), refused by the seccomp filter'
fix=$(fix_after '^\[FAIL\] memfd_create fails')
echo "$fix" | grep -q -- '--mca btl_cma_segment posix' || fail "the fix does not offer btl_cma_segment posix: $fix"
expect_line '^\[WARN\] seccomp: .*refusing memfd_create'
fix=$(fix_after '^\[WARN\] seccomp:')
echo "$fix" | grep -q 'allow memfd_create in the seccomp profile' || fail "the seccomp fix does not name memfd_create: $fix"
expect_fixes

run_doctor "$wrap" enosys pidfd_open "$DOCTOR" --component-dir "$COMPONENT_DIR"
expect_rc 0
expect_line '^\[WARN\] pidfd_open is not available \(ENOSYS, .*\): dead peers are found with kill\(pid, 0\)'
expect_line '^\[ OK \] memfd segment shared between sibling processes through /proc/PID/fd \(pidfd_open: ENOSYS'
expect_line '^\[ OK \] seccomp: .*refusing pidfd_open; cma falls back \(below\)$'
expect_fixes
exit 0
