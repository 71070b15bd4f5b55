#!/bin/sh
# Soak (soak.c) on 4 ranks with btl_cma_single_copy=none: the rings must
# carry everything (no single-copy or emulated read).  See soak.sh.
exec sh "${srcdir:-$(dirname "$0")}/soak.sh" none
