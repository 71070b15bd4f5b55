#!/bin/sh
# run.sh: runs ring_bench the way RESULTS.md was produced - on an otherwise
# idle machine (it waits, up to a limit, for other busy processes to finish,
# because every figure here is a cross-core latency that any neighbour
# distorts) - and prints what the run needs to be reproduced.
# Usage: bench/ring/run.sh [ring_bench options]   (e.g. -r 9, -m 8192 -n 1024)
set -e
here=$(cd "$(dirname "$0")" && pwd)
bin="$here/ring_bench"
if [ ! -x "$bin" ]; then
    make -C "$here" ring_bench >/dev/null
fi
# Threads runnable right now besides the one reading the count (the
# fourth field of /proc/loadavg counts threads, which ps -e would miss).
busy() {
    awk '{ split($4, r, "/"); print r[1] - 1 }' /proc/loadavg
}
# Idle means three quiet samples in a row.
waited=0
quiet=0
while [ $quiet -lt 3 ] && [ $waited -lt "${RUN_WAIT_S:-300}" ]; do
    if [ "$(busy)" -eq 0 ]; then
        quiet=$((quiet + 1))
    else
        quiet=0
    fi
    sleep 2
    waited=$((waited + 2))
done
echo "# date: $(date)"
echo "# load before: $(cat /proc/loadavg) (waited ${waited} s for an idle machine)"
"$bin" "$@"
echo "# load after: $(cat /proc/loadavg)"
