#!/bin/sh
# Soak (soak.c) on 4 ranks with the component's default single-copy mode
# (auto); the counters are reported, not asserted.  See soak.sh.
exec sh "${srcdir:-$(dirname "$0")}/soak.sh" auto
