#!/bin/sh
# One 3 GiB + 13 B message with single copy denied from the start (every
# rank under test/protocol's seccomp wrapper): all bytes through the rings,
# one warning.  See large.sh.
exec sh "${srcdir:-$(dirname "$0")}/large.sh" denied
