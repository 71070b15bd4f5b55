#!/bin/sh
# One 3 GiB + 13 B message by process_vm_readv (single copy cma from
# 64 KiB): one read of the whole message, looping past 2 GiB.  See large.sh.
exec sh "${srcdir:-$(dirname "$0")}/large.sh" get
