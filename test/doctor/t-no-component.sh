#!/bin/sh
# Where Open MPI cannot find the component the doctor must fail and say how
# to install it; where it finds a file it cannot load it must fail quoting
# Open MPI's reason.  HOME points at an empty directory so that
# ~/.openmpi/components cannot supply a component; skipped (77) when the
# component is installed in Open MPI's own directory.
. "${srcdir:-.}/common.sh"
tmp=$(mktemp -d) || exit 99
trap 'rm -rf "$tmp"' EXIT
unset OMPI_MCA_mca_base_component_path
if HOME=$tmp ompi_info 2>/dev/null | grep -q 'MCA btl: cma'; then
    echo "cma is installed in Open MPI's component directory: skipped"
    exit 77
fi

run_doctor env HOME="$tmp" "$DOCTOR"
expect_rc 1
expect_line '^\[FAIL\] the cma component is not installed where Open MPI looks'
fix=$(fix_after '^\[FAIL\] the cma component')
echo "$fix" | grep -q "make install" || fail "the fix does not say make install: $fix"
echo "$fix" | grep -q -- "--with-component-dir=user" || fail "the fix does not name --with-component-dir=user: $fix"
expect_line 'thresholds \(component defaults, ompi_info did not list them\): eager up to 8192 bytes'
expect_fixes

mkdir "$tmp/broken"
echo "not a shared object" >"$tmp/broken/mca_btl_cma.so"
run_doctor env HOME="$tmp" "$DOCTOR" --component-dir "$tmp/broken"
expect_rc 1
expect_line "^\[FAIL\] the cma component is present \($tmp/broken/mca_btl_cma.so\) but Open MPI cannot load it: .*too short"
expect_fixes
exit 0
