#!/bin/sh
# The command line: --help documents every option and exits 0; a wrong
# option, a bad --ranks, a stray argument or a missing --component-dir
# directory exit 2 with a message on stderr and no findings.
. "${srcdir:-.}/common.sh"
run_doctor "$DOCTOR" --help
expect_rc 0
for opt in --quiet --component-dir --ranks --help; do
    expect_line "^ +(-[a-z], )?$opt"
done
for args in "--bogus" "--ranks 0" "--ranks 12x" "--ranks" "stray" "--component-dir /nonexistent/dir"; do
    # shellcheck disable=SC2086
    run_doctor "$DOCTOR" $args
    expect_rc 2
    expect_no_line '^\[( OK |WARN|FAIL)\]'
done
exit 0
