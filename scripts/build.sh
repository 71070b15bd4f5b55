#!/bin/sh
# Builds btl-cma in the source tree (autogen + configure + make) unless it is
# already configured; extra arguments go to configure.
set -e
cd "$(dirname "$0")/.."
[ -x configure ] || ./autogen.sh
[ -f Makefile ] || ./configure "$@"
make -j"$(nproc)"
