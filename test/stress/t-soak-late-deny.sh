#!/bin/sh
# Soak (soak.c) on 4 ranks, single copy from 64 KiB, the odd ranks denied
# process_vm_readv when the soak phase starts: in-flight reads become
# emulated gets, nothing is lost or reordered.  See soak.sh.
exec sh "${srcdir:-$(dirname "$0")}/soak.sh" late-deny
