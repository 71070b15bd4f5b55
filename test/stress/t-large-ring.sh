#!/bin/sh
# One 3 GiB + 13 B message through the ring pipeline (single copy none),
# verified, counters checked.  See large.sh.
exec sh "${srcdir:-$(dirname "$0")}/large.sh" ring
