# idle.sh: sourced by the benchmark scripts (mpi/compare.sh, rma/compare.sh,
# scale/run.sh).  It owns telling whether the machine is idle enough to
# measure: on two cores anything else that runs takes the CPU from a
# measuring rank, and a benchmark started on a busy machine disturbs
# someone else's measurement as much.

# Percentage of CPU time idle over one second, from /proc/stat.
idle_pct() {
    local a b tot=0 i idle
    read -r -a a < <(head -1 /proc/stat)
    sleep 1
    read -r -a b < <(head -1 /proc/stat)
    for i in 1 2 3 4 5 6 7 8; do tot=$((tot + b[i] - a[i])); done
    idle=$((b[4] + b[5] - a[4] - a[5]))
    [ "$tot" -gt 0 ] && echo $((100 * idle / tot)) || echo 100
}

# Waits up to $1 seconds for at least 90 % idle CPU and says how it went:
# "idle(P%, waited N s)" or "busy(P% idle after waiting N s)" (callers
# match the leading word).
wait_for_idle() {
    local limit=$1 waited=0 p
    while p=$(idle_pct); [ "$p" -lt 90 ]; do
        if [ "$waited" -ge "$limit" ]; then
            echo "busy($p% idle after waiting ${waited} s)"
            return
        fi
        sleep 2
        waited=$((waited + 3))
    done
    echo "idle($p%, waited ${waited} s)"
}
