#!/bin/sh
# Segments that together exceed what the node has must be refused before
# any is allocated, with a message naming the sizes: on a 24 GiB machine,
# 16 ranks with btl_cma_ring_size 256 MiB and POSIX segments (64 GiB in
# all) brought in the OOM killer and left 16 GiB in /dev/shm.  Shown
# safely here with a 48 MiB /dev/shm in a private mount namespace: two
# ranks with 16 MiB rings need about 2 x 33 MiB.  Skipped (77) where
# mount namespaces are not permitted.
here=$(dirname "$0")
unshare -m true 2>/dev/null || { echo "unshare -m not permitted: skipped"; exit 77; }
exec unshare -m sh -c '
    mount -t tmpfs -o size=48m tmpfs /dev/shm || exit 77
    "$0/run.sh" --expect-error "local processes. segments (.* bytes in all) exceed the .* bytes of memory and /dev/shm space available" \
        --mca btl_cma_segment posix --mca btl_cma_ring_size 16777216 -- protocol_check 65536 ring' "$here"
