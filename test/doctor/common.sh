# Sourced by every test in test/doctor: finds the doctor, runs it with its
# output kept in $out and its status in $rc, and offers the assertions the
# tests share.  Every run's output goes to the test's log, so a failed
# assertion can be read against what the doctor actually said.
set -u
: "${DOCTOR:?DOCTOR must name the built btl-cma-doctor}"
: "${COMPONENT_DIR:=}"
if [ ! -x "$DOCTOR" ]; then
    echo "$DOCTOR is not built: run make in src/doctor first" >&2
    exit 99
fi
builddir=$(pwd)
# The tests expect the component's defaults; a caller's settings would move
# the thresholds they check.
for var in $(env | sed -n 's/^\(OMPI_MCA_btl_cma_[A-Za-z0-9_]*\)=.*/\1/p'); do
    unset "$var"
done

# run_doctor COMMAND...: the command runs "$DOCTOR", possibly through a
# wrapper (deny_cma, env, unshare); stdout and stderr both land in $out.
run_doctor() {
    echo "+ $*"
    out=$("$@" 2>&1)
    rc=$?
    printf '%s\n' "$out"
    echo "+ exit status $rc"
}

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

expect_rc() {
    [ "$rc" -eq "$1" ] || fail "exit status $rc, expected $1"
}

# expect_line REGEX: some line of the output matches (grep -E).
expect_line() {
    printf '%s\n' "$out" | grep -Eq -- "$1" || fail "no line matches: $1"
}

expect_no_line() {
    printf '%s\n' "$out" | grep -Eq -- "$1" && fail "a line matches: $1"
    return 0
}

# fix_after REGEX: the line after the (first) finding matching REGEX
# (which must exist), i.e. its "fix:" line.
fix_after() {
    printf '%s\n' "$out" | awk -v re="$1" 'found { print; exit } $0 ~ re { found = 1 }'
}

# Every WARN and FAIL is followed by an indented fix line.
expect_fixes() {
    printf '%s\n' "$out" | awk '
        pending { if ($0 !~ /^       fix: ./) { print "no fix after: " prev; bad = 1 } pending = 0 }
        /^\[(WARN|FAIL)\] / { pending = 1; prev = $0 }
        END { if (pending) { print "no fix after: " prev; bad = 1 } exit bad }' >&2 ||
        fail "a problem without its fix line"
}
