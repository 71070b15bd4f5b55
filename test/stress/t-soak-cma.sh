#!/bin/sh
# Soak (soak.c) on 4 ranks with btl_cma_single_copy=cma from 64 KiB: the
# counters must show process_vm_readv traffic.  See soak.sh.
exec sh "${srcdir:-$(dirname "$0")}/soak.sh" cma
