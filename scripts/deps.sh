#!/bin/sh
# Installs, from Debian 12's archive, everything btl-cma needs to build, test
# and be compared with its peers.  Runs apt-get through sudo unless root.
# Skips the network entirely when every package is already present.
set -e
PKGS="build-essential autoconf automake libtool pkg-config
      libopenmpi-dev openmpi-bin libhwloc-dev hwloc libfabric-dev
      mpich libmpich-dev netpipe-openmpi hpcc gnuplot-nox
      clang libclang-rt-14-dev valgrind util-linux iproute2"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo
echo "btl-cma: installing:$missing"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
