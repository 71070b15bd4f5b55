#!/bin/sh
# The smallest settings: 128-byte eager limit and fragments, 512-byte
# rings.  Descriptors still carry up to 256 bytes (protocol headers), so
# the rings must be made for those: sized for 128 bytes, each process
# refused its peers as "rings too small" although both had the same values.
exec "$(dirname "$0")/run.sh" --mca btl_cma_ring_size 512 --mca btl_cma_eager_limit 128 \
    --mca btl_cma_max_send_size 128 --mca btl_cma_small_ring_size 0 -- backpressure_check order 3000
