#!/bin/sh
# The README's second command: install what is missing, build, and run every
# test: the ring library's unit and multi-process tests, the MPI suite
# through the cma BTL (make check), and the ring tests again under
# AddressSanitizer+UBSan and ThreadSanitizer (make check-sanitize), and
# 60 s of libFuzzer on the ring decoders (make check-fuzz).
. "$(dirname "$0")/prepare.sh"
make check
make check-sanitize
make check-fuzz
echo "btl-cma: all tests passed"
