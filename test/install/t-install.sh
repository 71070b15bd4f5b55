#!/bin/sh
# Installs the build into scratch locations and uses the installed copies,
# the way users do: (1) the system install (Open MPI's component directory,
# the doctor and its man page) staged with DESTDIR; (2) the user install
# into ~/.openmpi/components with HOME pointing at a scratch directory, which
# Open MPI searches without any parameter.  Each time: ompi_info lists the
# component, a 2-rank job runs through it, a help message is found beside
# the installed component, and make uninstall removes every file again.
set -u
top=$(cd ../.. && pwd)
: "${MPIRUN:=mpirun.openmpi}"
[ "$(id -u)" = 0 ] && export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
pkglib=$(ompi_info --path pkglibdir --parsable | sed -n 's/^path:pkglibdir://p')
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

prog=$scratch/hello
cat > "$scratch/hello.c" <<'EOC'
#include <mpi.h>
#include <stdio.h>
int main(int argc, char **argv)
{
    int rank, v;
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    v = rank ? 0 : 42;
    MPI_Bcast(&v, 1, MPI_INT, 0, MPI_COMM_WORLD);
    if (v != 42) { printf("bad value %d\n", v); MPI_Abort(MPI_COMM_WORLD, 1); }
    if (!rank) printf("hello through the installed cma\n");
    MPI_Finalize();
    return 0;
}
EOC
mpicc.openmpi -o "$prog" "$scratch/hello.c" || fail "cannot build the test program"

# Uses the component found on PATH $1 (a component path, or "" for Open
# MPI's default search path), with only cma and self.
use_installed() {
    path=$1
    if [ -n "$path" ]; then
        env_path="OMPI_MCA_mca_base_component_path=$path"
    else
        env_path="OMPI_MCA_btl_cma_verbose=0"
    fi
    env "$env_path" ompi_info | grep -q "MCA btl: cma" || fail "ompi_info does not list the installed cma ($path)"
    out=$(env "$env_path" timeout -k 5 120 "$MPIRUN" -np 2 --bind-to none --mca pml ob1 --mca btl cma,self "$prog" 2>&1) ||
        fail "2-rank job through the installed cma failed: $out"
    echo "$out" | grep -q "hello through the installed cma" || fail "no output from the job: $out"
    # The help file must be found next to the installed component: ask for
    # single copy while forbidding it, which prints a help topic.
    out=$(env "$env_path" timeout -k 5 120 "$MPIRUN" -np 2 --bind-to none --mca pml ob1 --mca btl cma,self \
        --mca btl_cma_single_copy cma "$top/test/protocol/deny_cma" "$prog" 2>&1)
    echo "$out" | grep -q "requires single copy, but process_vm_readv" ||
        fail "the installed help file was not used: $out"
}

# 1. System install, staged.
stage=$scratch/stage
make -s -C "$top" install DESTDIR="$stage" >/dev/null || fail "make install DESTDIR failed"
so=$stage$pkglib/mca_btl_cma.so
[ -f "$so" ] || fail "mca_btl_cma.so not installed into Open MPI's component directory ($pkglib)"
[ -f "$stage$pkglib/help-btl-cma.txt" ] || fail "help file not installed beside the component"
find "$stage" -name btl-cma-doctor -type f | grep -q . || fail "btl-cma-doctor not installed"
find "$stage" -name btl-cma-doctor.1 -type f | grep -q . || fail "btl-cma-doctor man page not installed"
use_installed "$stage$pkglib:$pkglib"
make -s -C "$top" uninstall DESTDIR="$stage" >/dev/null || fail "make uninstall failed"
left=$(find "$stage" -type f | head -5)
[ -z "$left" ] || fail "make uninstall left files: $left"
echo "system install (staged): ok"

# 2. User install, no root: ~/.openmpi/components is on Open MPI's default
# search path.
home=$scratch/home
mkdir -p "$home"
make -s -C "$top/src/btl_cma" install mcacompdir="$home/.openmpi/components" >/dev/null 2>&1 || fail "user install failed"
[ -f "$home/.openmpi/components/mca_btl_cma.so" ] || fail "mca_btl_cma.so not in ~/.openmpi/components"
HOME=$home use_installed ""
make -s -C "$top/src/btl_cma" uninstall mcacompdir="$home/.openmpi/components" >/dev/null || fail "user uninstall failed"
left=$(find "$home/.openmpi" -type f | head -5)
[ -z "$left" ] || fail "user uninstall left files: $left"
echo "user install (~/.openmpi/components): ok"
