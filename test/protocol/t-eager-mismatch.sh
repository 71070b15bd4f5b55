#!/bin/sh
# Rank 0 alone is given a 1 MiB eager limit: rank 1's rings cannot hold its
# messages, which waited for ever with no word.  cma must refuse that peer
# and say why (a 400000-byte exchange: eager from rank 0).
exec "$(dirname "$0")/run.sh" --rank0-env OMPI_MCA_btl_cma_eager_limit=1048576 \
    --expect-error "made its receive rings for smaller" -- backpressure_check fins 400000 2000
