#!/bin/sh
# A short 3-rank soak (random sizes, ANY_SOURCE/ANY_TAG) under memcheck with
# single copy from 64 KiB.  See valgrind.sh.
exec sh "${srcdir:-$(dirname "$0")}/valgrind.sh" soak
