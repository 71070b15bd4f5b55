#!/bin/sh
# vgping under memcheck with the rings only (single copy none).
# See valgrind.sh.
exec sh "${srcdir:-$(dirname "$0")}/valgrind.sh" none
