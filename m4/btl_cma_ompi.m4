# BTL_CMA_CHECK_OMPI: locate the development headers and libopen-pal of the
# Open MPI this component will be loaded into, and the directory Open MPI
# searches for components.  Sets OMPI_CPPFLAGS, OMPI_LDFLAGS, OMPI_LIBS,
# MPICC, MPIRUN, OMPI_INFO and OMPI_PKGLIBDIR.
AC_DEFUN([BTL_CMA_CHECK_OMPI], [
    AC_ARG_WITH([ompi],
        [AS_HELP_STRING([--with-ompi=DIR],
            [Open MPI installation prefix (headers in DIR/include, DIR/include/openmpi; libraries in DIR/lib).  Default: ask mpicc.])],
        [], [with_ompi=auto])

    AC_PATH_PROGS([MPICC], [mpicc.openmpi mpicc], [],
        [AS_IF([test "x$with_ompi" != xauto], [$with_ompi/bin:])$PATH])
    AC_PATH_PROGS([MPIRUN], [mpirun.openmpi mpirun], [],
        [AS_IF([test "x$with_ompi" != xauto], [$with_ompi/bin:])$PATH])
    AC_PATH_PROG([OMPI_INFO], [ompi_info], [],
        [AS_IF([test "x$with_ompi" != xauto], [$with_ompi/bin:])$PATH])

    AS_IF([test "x$with_ompi" != xauto], [
        ompi_incdirs="$with_ompi/include $with_ompi/include/openmpi"
        ompi_libdirs="$with_ompi/lib"
    ], [test -n "$MPICC"], [
        ompi_incdirs=`$MPICC --showme:incdirs 2>/dev/null`
        ompi_libdirs=`$MPICC --showme:libdirs 2>/dev/null`
    ])
    OMPI_CPPFLAGS=
    for d in $ompi_incdirs; do OMPI_CPPFLAGS="$OMPI_CPPFLAGS -I$d"; done
    OMPI_LDFLAGS=
    for d in $ompi_libdirs; do OMPI_LDFLAGS="$OMPI_LDFLAGS -L$d"; done

    btl_cma_save_CPPFLAGS=$CPPFLAGS
    CPPFLAGS="$CPPFLAGS $OMPI_CPPFLAGS"
    AC_CHECK_HEADERS([opal_config.h opal/mca/btl/btl.h], [],
        [AC_MSG_ERROR([Open MPI development headers not found (looked in: $ompi_incdirs).
On Debian/Ubuntu install them with:  sudo apt-get install libopenmpi-dev openmpi-bin
or point configure at another Open MPI with --with-ompi=DIR.])],
        [[#include <opal_config.h>
]])
    AC_MSG_CHECKING([for the Open MPI version])
    AC_COMPUTE_INT([ompi_major], [OPAL_MAJOR_VERSION], [[#include <opal_config.h>]], [ompi_major=0])
    AC_COMPUTE_INT([ompi_minor], [OPAL_MINOR_VERSION], [[#include <opal_config.h>]], [ompi_minor=0])
    AC_MSG_RESULT([$ompi_major.$ompi_minor])
    AS_IF([test "$ompi_major" != 4], [AC_MSG_ERROR([btl-cma targets the Open MPI 4.x BTL API (3.1); found Open MPI $ompi_major.$ompi_minor headers. Use --with-ompi=DIR to select an Open MPI 4.x installation.])])
    CPPFLAGS=$btl_cma_save_CPPFLAGS

    btl_cma_save_LDFLAGS=$LDFLAGS
    LDFLAGS="$LDFLAGS $OMPI_LDFLAGS"
    AC_CHECK_LIB([open-pal], [opal_output], [OMPI_LIBS=-lopen-pal],
        [AC_MSG_ERROR([libopen-pal not found (looked in: $ompi_libdirs $libdir). Install libopenmpi-dev.])])
    LDFLAGS=$btl_cma_save_LDFLAGS

    AS_IF([test -z "$MPICC" || test -z "$MPIRUN"],
        [AC_MSG_ERROR([mpicc/mpirun of Open MPI not found. Install openmpi-bin and libopenmpi-dev.])])

    AC_ARG_WITH([component-dir],
        [AS_HELP_STRING([--with-component-dir=DIR],
            [where "make install" puts mca_btl_cma.so.  Default: the Open MPI component directory reported by "ompi_info --path pkglibdir".  Use --with-component-dir=user for ~/.openmpi/components (no root needed).])],
        [], [with_component_dir=auto])
    AS_CASE([$with_component_dir],
        [auto], [OMPI_PKGLIBDIR=`$OMPI_INFO --path pkglibdir --parsable 2>/dev/null | sed -n 's/^path:pkglibdir://p'`
                 AS_IF([test -z "$OMPI_PKGLIBDIR"], [AC_MSG_ERROR([could not ask ompi_info for the component directory; pass --with-component-dir=DIR])])],
        [user], [OMPI_PKGLIBDIR='$(HOME)/.openmpi/components'],
        [OMPI_PKGLIBDIR=$with_component_dir])
    AC_MSG_NOTICE([mca_btl_cma.so will be installed in $OMPI_PKGLIBDIR])

    AC_SUBST([OMPI_CPPFLAGS])
    AC_SUBST([OMPI_LDFLAGS])
    AC_SUBST([OMPI_LIBS])
    AC_SUBST([OMPI_PKGLIBDIR])
])
