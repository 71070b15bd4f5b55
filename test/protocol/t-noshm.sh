#!/bin/sh
# /dev/shm too small (a 64 KiB tmpfs in a private mount namespace): with
# POSIX segments the job must fail with cma's message naming the cause, not
# crash; with memfd segments (not backed by /dev/shm) it must just work.
# Skipped (77) where mount namespaces are not permitted.
here=$(dirname "$0")
unshare -m true 2>/dev/null || { echo "unshare -m not permitted: skipped"; exit 77; }
exec unshare -m sh -c '
    mount -t tmpfs -o size=64k tmpfs /dev/shm || exit 77
    "$0/run.sh" --expect-error "could not create its shared-memory receive segment" \
        --mca btl_cma_segment posix -- protocol_check 65536 ring || exit 1
    "$0/run.sh" --mca btl_cma_segment memfd -- protocol_check 65536 ring' "$here"
