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

# The VM's phases: for minutes at a time the host runs our two vCPUs where
# a cache line takes 2-3x longer between them, and every transport's
# small-message figures rise alike.  phase_probe (bench/phase) measures
# that line's one-way time in 0.1 s.  phase_init sets the reference: the
# fastest of five probes, lowered whenever a faster one is seen.
phase_probe_bin="" phase_ref=""
phase_init() {
    local bin=$1 v i
    phase_probe_bin="" phase_ref=""
    [ -x "$bin" ] || return 1
    for i in 1 2 3 4 5; do
        v=$("$bin") || return 1
        phase_note "$v"
    done
    phase_probe_bin=$bin
}

# Records a probe: lowers the reference when faster.
phase_note() {
    if [ -z "$phase_ref" ] || awk -v a="$1" -v b="$phase_ref" 'BEGIN { exit !(a < b) }'; then
        phase_ref=$1
    fi
}

# One probe (ns, empty when no probe is available).  Usually called as
# $(phase_now), in a subshell: the caller passes the value to phase_note.
phase_now() {
    [ -n "$phase_probe_bin" ] || return 0
    "$phase_probe_bin" || true
}

# 0 when probe $1 is within factor $2 of the reference.
phase_ok() {
    [ -z "$1" ] || [ -z "$phase_ref" ] || awk -v v="$1" -v r="$phase_ref" -v f="$2" 'BEGIN { exit !(v <= f * r) }'
}

# Waits up to $2 seconds for a probe within factor $1 of the reference;
# prints the last probe (for the caller's phase_note).
phase_wait() {
    local f=$1 limit=$2 waited=0 v
    v=$(phase_now)
    while ! phase_ok "$v" "$f" && [ "$waited" -lt "$limit" ]; do
        sleep 5
        waited=$((waited + 5))
        v=$(phase_now)
    done
    echo "$v"
}
