#!/bin/sh
# vgping under memcheck with single copy (process_vm_readv from 64 KiB).
# See valgrind.sh.
exec sh "${srcdir:-$(dirname "$0")}/valgrind.sh" cma
