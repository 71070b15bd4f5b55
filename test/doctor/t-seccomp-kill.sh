#!/bin/sh
# Under a seccomp filter that kills whoever calls process_vm_readv (SIGSYS),
# the doctor itself must survive (only its probe child makes the call), fail
# (exit 1) with a single-copy finding naming SIGSYS, the call and the
# seccomp filter, keep the other probes' verdicts, and leave no core file.
. "${srcdir:-.}/common.sh"
"$builddir/seccomp_wrap" --check || exit 77
tmp=$(mktemp -d) || exit 99
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 99
run_doctor "$builddir/seccomp_wrap" kill process_vm_readv "$DOCTOR" --component-dir "$COMPONENT_DIR"
expect_rc 1
expect_line '^\[FAIL\] single copy: the probe process was killed by SIGSYS in process_vm_readv: a seccomp filter kills'
fix=$(fix_after '^\[FAIL\] single copy:')
echo "$fix" | grep -q '^       fix: .*seccomp profile' || fail "the fix does not name the seccomp profile: $fix"
expect_line '^\[WARN\] seccomp: .*refusing process_vm_readv'
expect_line '^\[ OK \] memfd segment shared between sibling processes'
expect_fixes
[ -z "$(ls -A "$tmp")" ] || fail "files left behind: $(ls -A "$tmp")"
exit 0
