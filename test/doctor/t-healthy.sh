#!/bin/sh
# A run on this (healthy) machine with the build tree's component: no FAIL,
# exit 0, the live single-copy and memfd probes pass, and --quiet prints
# nothing but problems.  The probes must leave no file in /dev/shm.
. "${srcdir:-.}/common.sh"
before=$(ls /dev/shm | grep '^btl_cma\.' | sort)
run_doctor "$DOCTOR" --component-dir "$COMPONENT_DIR"
expect_rc 0
expect_no_line '^\[FAIL\]'
expect_line '^\[ OK \] Open MPI 4\.'
expect_line '^\[ OK \] the cma component loads: "MCA btl: cma"'
expect_line '^\[ OK \] single copy: process_vm_readv between two sibling processes works'
expect_line '^\[ OK \] memfd segment shared between sibling processes'
expect_line '^\[ OK \] /dev/shm: '
expect_line '^\[ OK \] topology: [0-9]+ package\(s\), [0-9]+ NUMA node\(s\), [0-9]+ core\(s\)'
expect_line '^\[ OK \] thresholds \(from ompi_info\): eager up to 8192 bytes; ring pipeline in 32768-byte fragments; single copy from 262144 bytes; 524288 \(automatic for 2 local ranks\)-byte ring per peer'
expect_line '^summary: [0-9]+ OK, [0-9]+ WARN, 0 FAIL'
expect_fixes

# A parameter set in the environment is what ompi_info, and so the doctor, reports.
run_doctor env OMPI_MCA_btl_cma_ring_size=262144 "$DOCTOR" --component-dir "$COMPONENT_DIR"
expect_rc 0
expect_line '262144 \(set by environment\)-byte ring per peer'

run_doctor "$DOCTOR" --quiet --component-dir "$COMPONENT_DIR"
expect_rc 0
expect_no_line '^\[ OK \]'
expect_no_line '^summary:'

after=$(ls /dev/shm | grep '^btl_cma\.' | sort)
[ "$before" = "$after" ] || fail "files left in /dev/shm: $after"
exit 0
