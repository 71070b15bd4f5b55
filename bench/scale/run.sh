#!/bin/bash
# run.sh: runs scale_bench (this directory) with the cma BTL and its peers
# (vader with single copy none and cma, UCX shared memory) at several rank
# counts on one node - 2, 8, 32 and 64 by default, which on a two-core
# machine means oversubscribed - and prints three markdown tables: the
# small-message latency of ranks 0 and 1 per rank count and size, with each
# peer's ratio to cma (>1 means cma is faster); the memory per process (Pss,
# Rss, shared mappings); and how often the scheduler took the CPU from the
# two measuring ranks.  Transports are interleaved within each rank count
# and the whole round repeated, so that the drift of a noisy machine falls
# on all of them alike; the tables hold medians over the repetitions.  It
# owns building the benchmark (mpicc.openmpi, into the output folder), a
# private copy of the cma component (a rebuild during the run must not
# change what is measured), the command line of each transport, waiting for
# an idle machine and rerunning a run that other tasks disturbed, a time
# limit per run, keeping /dev/shm free of what its own failed runs left
# there, and recording every failure in the tables instead of hiding it.
# Run "run.sh --help" for the options.
set -u
export LC_ALL=C

script_dir=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../idle.sh
. "$script_dir/../idle.sh"
src="$script_dir/scale_bench.c"

reps=3 nps="2,8,32,64" transports="cma,vader-none,vader-cma,ucx" ref=cma
out="" run_timeout=300 bench_args="" mpirun_args="" builddir=""
wait_idle=120 max_foreign=10 retries=2

usage() {
    cat <<EOF
usage: $0 [options]
  --reps N             repetitions of every (rank count, transport), interleaved (default 3)
  --np LIST            rank counts, comma separated (default 2,8,32,64)
  --transports LIST    subset/order of: cma,vader-none,vader-cma,ucx (default all)
  --out DIR            keep the binary, raw results, logs and summary.md in DIR
  --timeout SECS       limit per run (default 300)
  --bench-args "ARGS"  extra scale_bench options for every run (e.g. "--blocks 51")
  --mpirun-args "ARGS" extra mpirun options for every run (e.g. "--mca mpi_yield_when_idle 0")
  --builddir D         top of the btl-cma build tree (default: two levels above this script)
  --wait-idle SECS     before each run wait up to SECS for an idle machine (default 120)
  --max-foreign PCT    a run during which other tasks used more than PCT % of the CPUs
                       is disturbed and run again (default 10)
  --retries N          reruns of a disturbed run (default 2); the least disturbed is kept
EOF
}

while [ $# -gt 0 ]; do
    case $1 in
        --reps) reps=$2; shift ;;
        --np) nps=$2; shift ;;
        --transports) transports=$2; shift ;;
        --out) out=$2; shift ;;
        --timeout) run_timeout=$2; shift ;;
        --bench-args) bench_args=$2; shift ;;
        --mpirun-args) mpirun_args=$2; shift ;;
        --builddir) builddir=$2; shift ;;
        --wait-idle) wait_idle=$2; shift ;;
        --max-foreign) max_foreign=$2; shift ;;
        --retries) retries=$2; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "run.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
    esac
    shift
done
case $reps in ''|*[!0-9]*|0) echo "run.sh: --reps needs a positive number" >&2; exit 2 ;; esac
case $run_timeout in ''|*[!0-9]*|0) echo "run.sh: --timeout needs a positive number" >&2; exit 2 ;; esac
for v in "$wait_idle" "$max_foreign" "$retries"; do
    case $v in ''|*[!0-9]*) echo "run.sh: --wait-idle, --max-foreign and --retries need numbers" >&2; exit 2 ;; esac
done
IFS=', ' read -r -a nplist <<<"$nps"
for np in "${nplist[@]}"; do
    case $np in ''|*[!0-9]*|0|1) echo "run.sh: rank counts must be numbers >= 2 (got '$np')" >&2; exit 2 ;; esac
done
IFS=', ' read -r -a tlist <<<"$transports"

builddir=$(cd "${builddir:-$script_dir/../..}" 2>/dev/null && pwd) ||
    { echo "run.sh: build directory not found" >&2; exit 2; }
cmadir="$builddir/src/btl_cma/.libs"

if [ -n "$out" ]; then
    mkdir -p "$out" && out=$(cd "$out" && pwd) || exit 2
    work="$out"
else
    work=$(mktemp -d /tmp/scale.XXXXXX) || exit 2
    trap 'rm -rf "$work"' EXIT
fi
mkdir -p "$work/raw"
summary="$work/summary.md"
: >"$summary"
: >"$work/runs.log"
: >"$work/shm.log"
: >"$work/failed.list"
say() { printf '%s\n' "$*" | tee -a "$summary"; }

# ---- tools and binary -------------------------------------------------------
mpirun_ompi=$(command -v mpirun.openmpi || command -v mpirun)
mpicc_ompi=$(command -v mpicc.openmpi || command -v mpicc)
pkglibdir=$(ompi_info --path pkglibdir --parsable 2>/dev/null | sed -n 's/^path:pkglibdir://p')
[ "$(id -u)" = 0 ] && export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
ncores=$(nproc)

# The binary is built here, not by make, so that a run records exactly the
# source it measured, whether or not the tree was configured.
bin="$work/scale_bench"
"$mpicc_ompi" -O2 -Wall -Wextra -o "$bin" "$src" >"$work/build.log" 2>&1 ||
    { echo "run.sh: $mpicc_ompi failed:" >&2; cat "$work/build.log" >&2; exit 1; }
# Every cma run loads the same copy of the component, taken now: the build
# tree may be rebuilt while a long run goes on.  The component links
# shm_ring statically, so the .so alone is enough.
compdir="$work/component"
mkdir -p "$compdir"
rm -f "$compdir/mca_btl_cma.so"
if [ -f "$cmadir/mca_btl_cma.so" ]; then
    cp -p "$cmadir/mca_btl_cma.so" "$compdir/"
else
    echo "run.sh: $cmadir/mca_btl_cma.so is missing (make in $builddir): cma runs will fail" >&2
fi

# The command line of transport $1 at $2 ranks, into the array CMD.  With
# "btl cma,self" and pml ob1 nothing but cma can carry traffic between two
# ranks: a job in which cma could not reach a peer fails instead of falling
# back, so a finished cma run is proof that cma carried it.  Two ranks are
# bound to a core each, as in bench/mpi; more ranks than that are left
# unbound, since binding 64 ranks to 2 cores would pin 32 to each and keep
# the scheduler from moving the two measuring ranks apart.
# shellcheck disable=SC2054  # the commas are inside MCA values, not separators
command_for() {
    local t=$1 np=$2
    CMD=("$mpirun_ompi" -np "$np")
    [ "$np" -gt "$ncores" ] && CMD+=(--oversubscribe)
    if [ "$np" -gt 2 ]; then CMD+=(--bind-to none); else CMD+=(--bind-to core); fi
    # shellcheck disable=SC2206  # word splitting of the user's extra options is wanted
    CMD+=($mpirun_args)
    case $t in
        cma) CMD+=(--mca pml ob1 --mca btl cma,self --mca mca_base_component_path "$compdir:$pkglibdir") ;;
        vader-none) CMD+=(--mca pml ob1 --mca btl vader,self --mca btl_vader_single_copy_mechanism none) ;;
        vader-cma) CMD+=(--mca pml ob1 --mca btl vader,self --mca btl_vader_single_copy_mechanism cma) ;;
        ucx) CMD+=(--mca pml ucx --mca pml_ucx_tls any --mca pml_ucx_devices any -x UCX_TLS=sm,self) ;;
        *) return 1 ;;
    esac
    # shellcheck disable=SC2206
    CMD+=("$bin" --label "$t" $bench_args)
}
for t in "${tlist[@]}"; do
    command_for "$t" 2 || { echo "run.sh: unknown transport $t" >&2; exit 2; }
done

# ---- /dev/shm -------------------------------------------------------------
# A run killed by the time limit can leave its segments in /dev/shm (vader's
# are files there).  Only names that appeared during one of our own runs are
# ever removed, and only when no live process has them open or mapped;
# everything else is listed and left alone.
declare -A ours=()
shm_list() { find /dev/shm -mindepth 1 -maxdepth 1 -printf '%f\n' 2>/dev/null | sort; }
shm_in_use() {
    grep -qsF "/dev/shm/$1" /proc/[0-9]*/maps 2>/dev/null && return 0
    [ -n "$(find /proc/[0-9]*/fd -lname "/dev/shm/$1" -print -quit 2>/dev/null)" ]
}
shm_reap() {
    local f
    for f in "${!ours[@]}"; do
        [ -e "/dev/shm/$f" ] || { unset "ours[$f]"; continue; }
        if shm_in_use "$f"; then
            echo "still in use, kept: /dev/shm/$f" >>"$work/shm.log"
        else
            rm -f -- "/dev/shm/$f" && echo "removed leftover of ${ours[$f]}: /dev/shm/$f" >>"$work/shm.log"
            unset "ours[$f]"
        fi
    done
}
shm_list >"$work/shm.before"

# ---- header -----------------------------------------------------------------
ver() { dpkg-query -W -f '${Version}' "$1" 2>/dev/null || echo '?'; }
say "# Scaling on one node: cma BTL and peers, 2 to 64 ranks"
say ""
say "- date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
say "- machine: $(lscpu | sed -n 's/^Model name: *//p' | head -1), $ncores cores," \
    "$(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)," \
    "kernel $(uname -r), virt $(systemd-detect-virt --vm 2>/dev/null || echo '?')"
say "- software: Open MPI $(ver openmpi-bin), UCX $(ver libucx0)"
say "- tree: $builddir ($(git -C "$script_dir" describe --always --dirty 2>/dev/null || echo 'no git'))"
say "- cma component: copy of $(stat -c '%n, built %y' "$cmadir/mca_btl_cma.so" 2>/dev/null || echo "missing $cmadir/mca_btl_cma.so")," \
    "sha256 $(sha256sum "$compdir/mca_btl_cma.so" 2>/dev/null | cut -c1-16)"
say "- reps $reps (transports interleaved within each rank count, order rotated each rep), limit $run_timeout s per run"
env | grep -E '^(OMPI_MCA_|UCX_)' | sed 's/^/- environment: /' | tee -a "$summary"
say "- command lines for NP ranks; with NP > 2, --bind-to none instead of --bind-to core, and with NP > $ncores (the cores)" \
    "also --oversubscribe:"
for t in "${tlist[@]}"; do
    command_for "$t" 2
    line="${CMD[*]}"
    pre=""
    [ "$(id -u)" = 0 ] && pre="OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 "
    say "    - $t: \`$pre${line/ -np 2 / -np NP }\`"
done
say ""

# ---- running ------------------------------------------------------------------
# Busy and steal time of all CPUs, in clock ticks, from /proc/stat.
cpu_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8, $9 }' /proc/stat; }
hz=$(getconf CLK_TCK)

# CPU seconds (user + system) of the finished children of this shell, into
# CHILD_CPU.  Not a $(...): a subshell starts with no children of its own.
children_cpu() {
    times >"$work/.times"
    CHILD_CPU=$(awk 'NR == 2 { t = 0; for (i = 1; i <= 2; i++) { split($i, a, "m"); t += a[1] * 60 + a[2] }
                               printf "%.3f", t }' "$work/.times")
}



# The most telling line of a failed run's output.
fail_reason() {
    local pat line
    for pat in '^FAIL' 'unable to open mca_' 'unable to reach|unreachable' \
               'No components were able to be opened|PML .* cannot be selected' \
               'Killed|Segmentation|signal|core dumped' 'error|refused|abort|fail'; do
        line=$(grep -h -m1 -iE "$pat" "$@" 2>/dev/null | head -1)
        [ -n "$line" ] && { printf '%s' "$line" | sed 's/^\[[^]]*\] *//' | cut -c1-160; return; }
    done
    echo "no output (exit status only)"
}

declare -A note=()   # "np transport" -> failures, for the tables
nsizes=$(printf '%s\n' "$bench_args" | sed -n 's/.*--sizes[ =]\([0-9,]*\).*/\1/p' | tr ',' '\n' | grep -c .)
[ "$nsizes" -gt 0 ] || nsizes=5
start=$(date +%s)
nt=${#tlist[@]}
retried_runs=0 disturbed_runs=0
for np in "${nplist[@]}"; do
    for ((r = 1; r <= reps; r++)); do
        for ((i = 0; i < nt; i++)); do
            t=${tlist[$(((i + r - 1) % nt))]}
            f="$work/raw/$t.np$np.rep$r"
            command_for "$t" "$np"
            best=-1
            for ((try = 0; try <= retries; try++)); do
                shm_reap
                shm_list >"$f.shm.before"
                state=$(wait_for_idle "$wait_idle")
                read -r busy0 steal0 < <(cpu_ticks)
                children_cpu
                ours0=$CHILD_CPU
                t0=$(date +%s%N)
                timeout -k 10 "$run_timeout" "${CMD[@]}" >"$f.try.txt" 2>"$f.try.err" </dev/null
                rc=$?
                wall=$((($(date +%s%N) - t0) / 1000000))
                read -r busy1 steal1 < <(cpu_ticks)
                children_cpu
                ours1=$CHILD_CPU
                shm_list >"$f.shm.after"
                while read -r name; do
                    [ -n "$name" ] || continue
                    ours[$name]="$t np $np rep $r"
                    echo "left by $t np $np rep $r try $try (rc $rc): /dev/shm/$name" >>"$work/shm.log"
                done < <(comm -13 "$f.shm.before" "$f.shm.after")
                # Foreign: CPU time that the machine spent busy, minus what
                # this run's processes used, as a share of all CPUs.
                read -r foreign steal < <(awk -v b="$((busy1 - busy0))" -v s="$((steal1 - steal0))" \
                    -v o0="$ours0" -v o1="$ours1" -v hz="$hz" -v w="$wall" -v n="$ncores" 'BEGIN {
                        cap = w / 1000 * n; if (cap <= 0) cap = 1
                        f = 100 * (b / hz - (o1 - o0)) / cap; if (f < 0) f = 0
                        printf "%.0f %.0f\n", f, 100 * s / hz / cap }')
                nlat=$(grep -c "^RESULT $t $np lat " "$f.try.txt")
                why=""
                if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
                    why="timed out after $run_timeout s"
                elif [ "$rc" != 0 ] || grep -q '^FAIL' "$f.try.txt" || [ "$nlat" != "$nsizes" ]; then
                    why="rc $rc: $(fail_reason "$f.try.txt" "$f.try.err")"
                fi
                printf '%-10s np %3d rep %d try %d: rc %3d, %6.1f s, before: %s, other tasks %s%% of the CPUs, steal %s%%%s\n' \
                    "$t" "$np" "$r" "$try" "$rc" "$(awk -v w="$wall" 'BEGIN { print w / 1000 }')" "$state" \
                    "$foreign" "$steal" "${why:+, FAILED: $why}" | tee -a "$work/runs.log" >&2
                # A failure is not retried: it is a result, and it is reported.
                if [ -n "$why" ] || [ "$best" -lt 0 ] || [ "$foreign" -lt "$best" ]; then
                    mv "$f.try.txt" "$f.txt"
                    mv "$f.try.err" "$f.err"
                    best=$foreign best_why=$why
                fi
                [ -n "$why" ] && break
                [ "$foreign" -le "$max_foreign" ] && break
                [ "$try" -lt "$retries" ] && retried_runs=$((retried_runs + 1))
            done
            rm -f "$f.try.txt" "$f.try.err" "$work/.times"
            [ "$best" -gt "$max_foreign" ] && disturbed_runs=$((disturbed_runs + 1))
            if [ -n "$best_why" ]; then
                note["$np $t"]="${note["$np $t"]:-}rep $r: $best_why (raw/$t.np$np.rep$r.err); "
                echo "$f.txt" >>"$work/failed.list"
            fi
        done
    done
done
elapsed=$(($(date +%s) - start))
shm_reap
shm_list >"$work/shm.after"

# ---- statistics -----------------------------------------------------------------
# all.txt: "np transport kind key value" for every successful run; a failed
# run's partial output (a timeout after the latency) counts for nothing.
for f in "$work"/raw/*.txt; do
    [ -e "$f" ] || continue
    grep -qxF "$f" "$work/failed.list" && continue
    awk '$1 == "RESULT" { print $3, $2, $4, $5, $6 }' "$f"
done >"$work/all.txt"

# medians.txt: "np transport kind key median n spread", spread = (max-min)/median.
# (version sort puts the sizes in numeric order and the names in alphabetic)
sort -k1,1n -k2,2 -k3,3 -k4,4V -k5,5g "$work/all.txt" | awk '
    function flush() {
        if (k == "") return
        med = n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
        print k, med, n, (n > 1 && med > 0) ? (v[n] - v[1]) / med : 0
    }
    { key = $1 " " $2 " " $3 " " $4
      if (key != k) { flush(); k = key; n = 0 }
      v[++n] = $5 + 0 }
    END { flush() }' >"$work/medians.txt"

awk -v tlist="${tlist[*]}" -v nplist="${nplist[*]}" -v ref="$ref" -v reps="$reps" \
    -v notes="$(for k in "${!note[@]}"; do printf '%s=%s\x1f' "$k" "${note[$k]}"; done)" '
function lat(v) { return v < 10 ? sprintf("%.2f", v) : v < 1000 ? sprintf("%.1f", v) : sprintf("%.0f", v) }
function mib(v) { return sprintf("%.1f", v / 1024) }
function get(np, t, kind, key) { return ((np, t, kind, key) in med) ? med[np, t, kind, key] : "" }
function human(s) { return s >= 1024 && s % 1024 == 0 ? (s / 1024) "K" : s }
BEGIN {
    ntr = split(tlist, TR, " "); nnp = split(nplist, NP, " ")
    nn = split(notes, NN, "\037")
    for (i = 1; i <= nn; i++) if (NN[i] != "") {
        p = index(NN[i], "="); w = substr(NN[i], p + 1); sub(/; $/, "", w); why[substr(NN[i], 1, p - 1)] = w
    }
}
{ med[$1, $2, $3, $4] = $5; cnt[$1, $2, $3, $4] = $6
  if ($3 == "lat") { spr[$2] += $7; nspr[$2]++
      if (!(($1, $4) in seen)) { seen[$1, $4] = 1; ns[$1]++; S[$1, ns[$1]] = $4 } } }
END {
    printf "## Latency of ranks 0 and 1 (one way, us, median of %d reps; ratio = peer/%s, >1 means %s is faster)\n\n", reps, ref, ref
    hdr = "| np | size |"; sep = "|---:|---:|"
    for (i = 1; i <= ntr; i++) { hdr = hdr " " TR[i] " |"; sep = sep "---:|" }
    for (i = 1; i <= ntr; i++) if (TR[i] != ref) { hdr = hdr " " TR[i] "/" ref " |"; sep = sep "---:|" }
    print hdr; print sep
    for (a = 1; a <= nnp; a++) {
        np = NP[a]
        if (!(np in ns)) {
            line = "| " np " | - |"
            for (i = 1; i <= ntr; i++) line = line " fail |"
            for (i = 1; i <= ntr; i++) if (TR[i] != ref) line = line " - |"
            print line; continue
        }
        for (j = 1; j <= ns[np]; j++) {
            s = S[np, j]; line = "| " np " | " human(s) " |"
            for (i = 1; i <= ntr; i++) {
                v = get(np, TR[i], "lat", s)
                c = v == "" ? "fail" : lat(v)
                if (v != "" && cnt[np, TR[i], "lat", s] < reps) c = c " (" cnt[np, TR[i], "lat", s] "/" reps ")"
                line = line " " c " |"
            }
            r0 = get(np, ref, "lat", s)
            for (i = 1; i <= ntr; i++) {
                if (TR[i] == ref) continue
                p = get(np, TR[i], "lat", s)
                line = line ((r0 == "" || p == "" || r0 <= 0) ? " - |" : sprintf(" %.2f |", p / r0))
            }
            print line
        }
    }
    line = ""
    for (i = 1; i <= ntr; i++) if (TR[i] in nspr)
        line = line sprintf("%s%s %.0f%%", line == "" ? "" : ", ", TR[i], 100 * spr[TR[i]] / nspr[TR[i]])
    print ""
    if (line != "" && reps > 1) print "Mean spread (max-min)/median of the latency over reps: " line "."
    print ""

    printf "## Memory per process (MiB, median of %d reps; Pss and Rss from /proc/self/smaps_rollup after all pairs connected and the ping-pong ran)\n\n", reps
    print "| np | transport | Pss median | Pss min-max | Rss median | Pss_Shmem median | VmHWM median | rank 0 shm mapped | rank 0 shm maps | rank 0 largest map | rank 0 shm resident |"
    print "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    for (a = 1; a <= nnp; a++) for (i = 1; i <= ntr; i++) {
        np = NP[a]; t = TR[i]
        if (get(np, t, "mem", "pss_median_kib") == "") { printf "| %s | %s | fail | | | | | | | | |\n", np, t; continue }
        maps = ""
        for (k = 1; k <= 3; k++) {
            kind = k == 1 ? "memfd" : k == 2 ? "devshm" : "sysv"
            c = get(np, t, "mem", "rank0_" kind "_count")
            if (c > 0) maps = maps (maps == "" ? "" : " + ") c " " kind
        }
        big = 0
        for (k = 1; k <= 3; k++) {
            kind = k == 1 ? "memfd" : k == 2 ? "devshm" : "sysv"
            b = get(np, t, "mem", "rank0_" kind "_largest_kib"); if (b > big) big = b
        }
        printf "| %s | %s | %s | %s-%s | %s | %s | %s | %s | %s | %s | %s |\n", np, t,
            mib(get(np, t, "mem", "pss_median_kib")),
            mib(get(np, t, "mem", "pss_min_kib")), mib(get(np, t, "mem", "pss_max_kib")),
            mib(get(np, t, "mem", "rss_median_kib")),
            get(np, t, "mem", "pss_shmem_median_kib") == "" ? "-" : mib(get(np, t, "mem", "pss_shmem_median_kib")),
            mib(get(np, t, "mem", "vmhwm_median_kib")),
            mib(get(np, t, "mem", "rank0_shm_total_kib")), maps == "" ? "0" : maps, mib(big),
            mib(get(np, t, "mem", "rank0_shm_total_rss_kib"))
    }
    print ""
    print "shm = mappings of memfd segments, files under /dev/shm and System V segments; mapped = address space, resident = its pages present in rank 0."
    print ""

    printf "## Scheduling of ranks 0 and 1 while they measured (median of %d reps)\n\n", reps
    print "Preempted: involuntary context switches of rank 0 / rank 1 during the ping-pong phase (200 ms of warm-up, then all sizes);"
    print "same CPU: share of the timed blocks that began with both ranks on one CPU (mean over the sizes)."
    print ""
    hdr = "| np |"; sep = "|---:|"
    for (i = 1; i <= ntr; i++) { hdr = hdr " " TR[i] " preempted | " TR[i] " same CPU |"; sep = sep "---:|---:|" }
    print hdr; print sep
    for (a = 1; a <= nnp; a++) {
        np = NP[a]; line = "| " np " |"
        for (i = 1; i <= ntr; i++) {
            p0 = get(np, TR[i], "sched", "preempted_rank0"); p1 = get(np, TR[i], "sched", "preempted_rank1")
            line = line (p0 == "" ? " - |" : sprintf(" %.0f / %.0f |", p0, p1))
            sum = 0; m = 0
            for (j = 1; j <= ns[np]; j++) { v = get(np, TR[i], "samecpu", S[np, j]); if (v != "") { sum += v; m++ } }
            line = line (m ? sprintf(" %.0f%% |", 100 * sum / m) : " - |")
        }
        print line
    }
    any = 0
    for (a = 1; a <= nnp; a++) for (i = 1; i <= ntr; i++) if ((NP[a] " " TR[i]) in why) {
        if (!any) { print ""; print "Failures:"; any = 1 }
        print "- np " NP[a] " " TR[i] ": " why[NP[a] " " TR[i]]
    }
    print ""
}' "$work/medians.txt" | tee -a "$summary"

nruns=$((reps * nt * ${#nplist[@]}))
say "Runs: $nruns in $elapsed s (including waits and reruns); reruns of disturbed runs: $retried_runs;" \
    "kept runs during which other tasks used more than $max_foreign % of the CPUs: $disturbed_runs" \
    "(per-run times, exit codes and disturbance in runs.log)."
comm -13 "$work/shm.before" "$work/shm.after" >"$work/shm.new"
if [ -s "$work/shm.new" ]; then
    say "/dev/shm: $(wc -l <"$work/shm.new") entries new since the start remain: $(tr '\n' ' ' <"$work/shm.new")(see shm.log)"
else
    say "/dev/shm: nothing left behind by these runs$( [ -s "$work/shm.log" ] && echo " (removed leftovers are listed in shm.log)")."
fi
[ -n "$out" ] && say "Raw results, logs and summary.md: $out"
exit 0
