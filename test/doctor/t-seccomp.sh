#!/bin/sh
# Under a seccomp filter that fails process_vm_readv with EPERM (what a
# container runtime's profile does), the doctor must fail (exit 1), blame
# the filter in the single-copy finding with a fix naming the seccomp
# profile and btl_cma_single_copy none, and not blame the rest: the memfd
# segment still works, since the filter leaves pidfd_getfd alone.
. "${srcdir:-.}/common.sh"
run_doctor "$builddir/deny_cma" "$DOCTOR" --component-dir "$COMPONENT_DIR"
expect_rc 1
expect_line '^\[FAIL\] single copy: process_vm_readv fails \(EPERM, Operation not permitted\) even on the process.s own memory: refused by the seccomp filter'
fix=$(fix_after '^\[FAIL\] single copy:')
echo "$fix" | grep -q '^       fix: .*seccomp profile' || fail "the fix does not name the seccomp profile: $fix"
echo "$fix" | grep -q 'btl_cma_single_copy none' || fail "the fix does not offer btl_cma_single_copy none: $fix"
expect_line '^\[WARN\] seccomp: [0-9]+ filter\(s\) on this process \(Seccomp: 2\), refusing process_vm_readv'
expect_line '^\[ OK \] memfd segment shared between sibling processes'
expect_line 'single copy \(denied here, so the ring pipeline\) from 262144 bytes'
expect_line '^summary: .* [1-9][0-9]* FAIL'
expect_fixes
exit 0
