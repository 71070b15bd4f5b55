# Sourced by run.sh and the tests that start mpirun themselves: the build
# directory the harness runs them from (which differs from the source
# directory in VPATH builds such as make distcheck), the tree's top, the
# mpirun to use, Open MPI's own component directory (searched after this
# build's), and mpirun's consent to run as root.
builddir=$(pwd)
top=$(cd "$builddir/../.." && pwd)
: "${MPIRUN:=mpirun.openmpi}"
pkglib=$(ompi_info --path pkglibdir --parsable | sed -n 's/^path:pkglibdir://p')
[ "$(id -u)" = 0 ] && export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
