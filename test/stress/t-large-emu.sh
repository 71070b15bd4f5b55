#!/bin/sh
# One 3 GiB + 13 B message whose single-copy read is denied only when it
# happens: served as one emulated get through the rings, one warning.
# See large.sh.
exec sh "${srcdir:-$(dirname "$0")}/large.sh" emu
