#!/bin/bash
# compare.sh: runs mpi_bench (this directory) over the cma BTL and its peers
# (vader with single copy cma and none, UCX shared memory, MPICH), interleaved
# and repeated so that the drift of a noisy machine falls on every transport
# alike, and prints, per test, buffer mode and message size, the median of
# each transport and each peer's ratio to cma (>1 means cma wins), with the
# geometric mean of the ratios from 4 KiB to 64 MiB.  It owns building the
# benchmark for both MPIs (make for Open MPI, mpicc.mpich for MPICH), finding
# the uninstalled cma component in the build tree, checking that each
# transport launches at all, and keeping raw results and a plot on request.
# Run "compare.sh --help" for the options.
set -u
export LC_ALL=C

script_dir=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../idle.sh
. "$script_dir/../idle.sh"
src="$script_dir/mpi_bench.c"

reps=3 reps_set=0 max_size=64M tests=lat,bw,bibw modes=hot,cold quick=0
out="" builddir="" transports="cma,vader-cma,vader-none,ucx,mpich" ref=cma
bench_args="" plot="" run_timeout=900 wait_idle=120 retries=2 max_stall=5 phase_limit=2 phase_wait=120

usage() {
    cat <<EOF
usage: $0 [options] [BUILDDIR]
  BUILDDIR / --builddir D  top of the btl-cma build tree (default: two levels
                           above this script, i.e. an in-tree build)
  --reps N                 repetitions of every transport, interleaved (default 3)
  --max-size S             largest message, e.g. 4M (default 64M)
  --tests LIST             lat,bw,bibw (default all)
  --modes LIST             hot,cold (default both)
  --transports LIST        subset/order of: cma,vader-cma,vader-none,ucx,mpich, and the cma
                           variants cma-rings (single copy off), cma-advise, cma-collapse
                           (btl_cma_hugepage advise/collapse)
  --ref T                  transport the ratios refer to (default cma)
  --quick                  smoke run: sizes 0,64,4K,64K,1M,4M, short blocks, 1 rep
  --out DIR                keep raw results, logs, summary.md and plot.png in DIR
  --plot FILE              write the bandwidth plot here (needs gnuplot)
  --bench-args "ARGS"      extra mpi_bench options for every run (e.g. "--thp")
  --timeout SECS           limit per run (default 900)
  --wait-idle SECS         before each run wait up to SECS for an idle machine (default 120)
  --max-stall PCT          a run during which other tasks kept ours waiting for the CPU
                           (/proc/pressure/cpu) more than PCT % of its time is disturbed
                           and run again (default 5)
  --retries N              reruns of a disturbed run (default 2)
  --phase-limit F          a run before or after which a cache line took more than F times
                           the session's fastest to cross between the two cores
                           (bench/phase/phase_probe) ran in one of the VM's slow phases and
                           is run again (default 2: the slow phases read 3.5-5x; 0: no probe)
  --phase-wait SECS        before each run wait up to SECS for the fast phase (default 120)
EOF
}

while [ $# -gt 0 ]; do
    case $1 in
        --reps) reps=$2; reps_set=1; shift ;;
        --max-size) max_size=$2; shift ;;
        --tests) tests=$2; shift ;;
        --modes) modes=$2; shift ;;
        --transports) transports=$2; shift ;;
        --ref) ref=$2; shift ;;
        --quick) quick=1 ;;
        --out) out=$2; shift ;;
        --plot) plot=$2; shift ;;
        --builddir) builddir=$2; shift ;;
        --bench-args) bench_args=$2; shift ;;
        --timeout) run_timeout=$2; shift ;;
        --wait-idle) wait_idle=$2; shift ;;
        --max-stall) max_stall=$2; shift ;;
        --retries) retries=$2; shift ;;
        --phase-limit) phase_limit=$2; shift ;;
        --phase-wait) phase_wait=$2; shift ;;
        -h|--help) usage; exit 0 ;;
        -*) echo "compare.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
        *) builddir=$1 ;;
    esac
    shift
done
case $reps in ''|*[!0-9]*|0) echo "compare.sh: --reps needs a positive number" >&2; exit 2 ;; esac

builddir=$(cd "${builddir:-$script_dir/../..}" 2>/dev/null && pwd) ||
    { echo "compare.sh: build directory not found" >&2; exit 2; }
bindir="$builddir/bench/mpi"
cmadir="$builddir/src/btl_cma/.libs"

if [ -n "$out" ]; then
    mkdir -p "$out" && out=$(cd "$out" && pwd) || exit 2
    work="$out"
    [ -z "$plot" ] && plot="$out/plot.png"
else
    work=$(mktemp -d /tmp/compare.XXXXXX) || exit 2
    trap 'rm -rf "$work"' EXIT
fi
mkdir -p "$work/raw"
summary="$work/summary.md"
: >"$summary"
say() { printf '%s\n' "$*" | tee -a "$summary"; }

# Bytes of a size with an optional K/M/G suffix.
to_bytes() {
    local n=${1%[KkMmGg]} m=1
    case $1 in *[Kk]) m=1024 ;; *[Mm]) m=1048576 ;; *[Gg]) m=1073741824 ;; esac
    case $n in ''|*[!0-9]*) echo "compare.sh: bad size $1" >&2; exit 2 ;; esac
    echo $((n * m))
}
max_bytes=$(to_bytes "$max_size") || exit 2

# Sizes and block lengths for the benchmark itself.
size_args=(--max-size "$max_size")
if [ "$quick" = 1 ]; then
    [ "$reps_set" = 1 ] || reps=1
    qs=""
    for s in 0 64 4096 65536 1048576 4194304; do
        [ "$s" -le "$max_bytes" ] && qs="$qs${qs:+,}$s"
    done
    size_args=(--sizes "$qs" --scale 0.2)
fi
# shellcheck disable=SC2206  # word splitting of the user's extra options is wanted
bargs=("${size_args[@]}" --tests "$tests" --modes "$modes" $bench_args)

# ---- tools and binaries -------------------------------------------------
mpirun_ompi=$(command -v mpirun.openmpi || command -v mpirun)
mpicc_ompi=$(command -v mpicc.openmpi || command -v mpicc)
pkglibdir=$(ompi_info --path pkglibdir --parsable 2>/dev/null | sed -n 's/^path:pkglibdir://p')
[ "$(id -u)" = 0 ] && export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

declare -A note  # transport -> why it has no numbers
ompi_bin="$bindir/mpi_bench"
[ -f "$builddir/bench/phase/Makefile" ] && make -s -C "$builddir/bench/phase" phase_probe >/dev/null 2>&1
if [ -f "$bindir/Makefile" ]; then
    make -s -C "$bindir" mpi_bench >"$work/build-ompi.log" 2>&1 ||
        { echo "compare.sh: make mpi_bench failed, see $work/build-ompi.log" >&2; cat "$work/build-ompi.log" >&2; exit 1; }
else
    ompi_bin="$work/mpi_bench"
    "$mpicc_ompi" -O2 -Wall -Wextra -o "$ompi_bin" "$src" >"$work/build-ompi.log" 2>&1 ||
        { cat "$work/build-ompi.log" >&2; exit 1; }
fi
mpich_bin="$bindir/mpi_bench.mpich"
[ -w "$bindir" ] || mpich_bin="$work/mpi_bench.mpich"
if ! command -v mpicc.mpich >/dev/null || ! command -v mpirun.mpich >/dev/null; then
    note[mpich]="skipped: mpicc.mpich/mpirun.mpich not found (apt-get install mpich libmpich-dev)"
elif [ ! -x "$mpich_bin" ] || [ "$src" -nt "$mpich_bin" ]; then
    mpicc.mpich -O2 -Wall -Wextra -o "$mpich_bin" "$src" >"$work/build-mpich.log" 2>&1 ||
        note[mpich]="skipped: mpicc.mpich failed (see build-mpich.log)"
fi
if [ ! -f "$cmadir/mca_btl_cma.so" ]; then
    note[cma]="not built yet: $cmadir/mca_btl_cma.so is missing (make in $builddir)"
fi

# The command line of one transport, into the array CMD.
# shellcheck disable=SC2054  # the commas are inside MCA values, not separators
command_for() {
    local common=("$mpirun_ompi" -np 2 --bind-to core)
    case $1 in
        cma) CMD=("${common[@]}" --mca pml ob1 --mca btl cma,self
                  --mca mca_base_component_path "$cmadir:$pkglibdir" "$ompi_bin") ;;
        # Variants of cma, to measure one of its choices against the default.
        cma-rings) CMD=("${common[@]}" --mca pml ob1 --mca btl cma,self --mca btl_cma_single_copy none
                        --mca mca_base_component_path "$cmadir:$pkglibdir" "$ompi_bin") ;;
        cma-advise|cma-collapse)
            CMD=("${common[@]}" --mca pml ob1 --mca btl cma,self --mca btl_cma_hugepage "${1#cma-}"
                 --mca mca_base_component_path "$cmadir:$pkglibdir" "$ompi_bin") ;;
        vader-cma) CMD=("${common[@]}" --mca pml ob1 --mca btl vader,self
                        --mca btl_vader_single_copy_mechanism cma "$ompi_bin") ;;
        vader-none) CMD=("${common[@]}" --mca pml ob1 --mca btl vader,self
                         --mca btl_vader_single_copy_mechanism none "$ompi_bin") ;;
        ucx) CMD=("${common[@]}" --mca pml ucx --mca pml_ucx_tls any --mca pml_ucx_devices any
                  -x UCX_TLS=sm,self "$ompi_bin") ;;
        mpich) CMD=(mpirun.mpich -np 2 -bind-to core "$mpich_bin") ;;
        *) return 1 ;;
    esac
}

IFS=, read -r -a tlist <<<"$transports"
for t in "${tlist[@]}"; do
    command_for "$t" || { echo "compare.sh: unknown transport $t" >&2; exit 2; }
done

# ---- header ---------------------------------------------------------------
ver() { dpkg-query -W -f '${Version}' "$1" 2>/dev/null || echo '?'; }
say "# MPI point-to-point comparison: cma BTL and peers"
say ""
say "- date: $(date '+%Y-%m-%d %H:%M:%S %Z')"
say "- machine: $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores," \
    "L3 $(lscpu | sed -n 's/^L3 cache: *//p'), kernel $(uname -r)," \
    "THP $(sed -n 's/.*\[\(.*\)\].*/\1/p' /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null)," \
    "ptrace_scope $(cat /proc/sys/kernel/yama/ptrace_scope 2>/dev/null || echo n/a)," \
    "virt $(systemd-detect-virt --vm 2>/dev/null || echo '?')/$(systemd-detect-virt --container 2>/dev/null || echo '?')"
say "- software: Open MPI $(ver openmpi-bin), MPICH $(ver mpich), UCX $(ver libucx0)"
say "- tree: $builddir ($(git -C "$script_dir" describe --always --dirty 2>/dev/null || echo 'no git'))"
say "- cma component: $( [ -f "$cmadir/mca_btl_cma.so" ] && stat -c '%n, built %y' "$cmadir/mca_btl_cma.so" || echo "${note[cma]}")"
if [ -n "$pkglibdir" ] && [ -f "$pkglibdir/mca_btl_cma.so" ]; then
    say "- WARNING: $pkglibdir also holds an installed mca_btl_cma.so; the build tree's comes first in the path"
fi
say "- reps $reps (interleaved, order rotated each rep), mpi_bench options: ${bargs[*]}"
env | grep -E '^(OMPI_MCA_|UCX_|MPIR_CVAR_)' | sed 's/^/- environment: /' | tee -a "$summary"
say "- command lines:"
for t in "${tlist[@]}"; do
    command_for "$t"
    pre=""
    [ "$t" != mpich ] && [ "$(id -u)" = 0 ] && pre="OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 "
    say "    - $t: \`$pre${CMD[*]} ${bargs[*]}\`"
done
say ""

# Microseconds that runnable tasks have spent waiting for a CPU since boot
# (pressure stall information); empty where the kernel does not offer it.
psi_total() {
    sed -n 's/^some .*total=\([0-9]*\).*/\1/p' /proc/pressure/cpu 2>/dev/null
}


# One run of transport $1, repetition $2: results into raw/T.repN.txt.  Two
# ranks spin on two cores, so any other task that runs meanwhile makes one of
# them wait; the stall counter of /proc/pressure/cpu tells such a run, and it
# is run again (up to --retries times), and so is a run before or after which
# phase_probe found the VM in a slow phase; the least disturbed try is kept.
busy_runs=0 disturbed_runs=0 retried_runs=0 slow_runs=0
if [ "$phase_limit" != 0 ]; then
    phase_init "$builddir/bench/phase/phase_probe" ||
        say "note: no phase probe ($builddir/bench/phase/phase_probe): runs in a slow phase are not recognised"
fi
run_one() {
    local t=$1 r=$2 f="$work/raw/$1.rep$2" try state t0 t1 p0 p1 rc wall stall ph0 ph1 slow score
    local best_score=999999 best_stall=999999 best_rc=0 best_state="" best_slow=0
    command_for "$t"
    for ((try = 0; try <= retries; try++)); do
        state=$(wait_for_idle "$wait_idle")
        ph0=""
        [ -n "$phase_probe_bin" ] && ph0=$(phase_wait "$phase_limit" "$phase_wait") && phase_note "$ph0"
        p0=$(psi_total)
        t0=$(date +%s%N)
        timeout -k 10 "$run_timeout" "${CMD[@]}" "${bargs[@]}" >"$f.try.txt" 2>"$f.try.err" </dev/null
        rc=$?
        t1=$(date +%s%N)
        p1=$(psi_total)
        # A phase that began during the run shows only here: cma runs whose
        # probe read 160 ns afterwards took 16 instead of 10 s and moved 12
        # instead of 28 GB/s.  Probed once the machine is idle again.
        ph1=""
        if [ -n "$phase_probe_bin" ]; then
            wait_for_idle "$wait_idle" >/dev/null
            ph1=$(phase_now)
            [ -n "$ph1" ] && phase_note "$ph1"
        fi
        slow=0
        { phase_ok "$ph0" "$phase_limit" && phase_ok "$ph1" "$phase_limit"; } || slow=1
        wall=$(((t1 - t0) / 1000))
        stall=-1
        # Launching costs our own ranks some 20 ms of stall (mpirun, its
        # daemon and two ranks start on two cores): 50 ms are not counted.
        [ -n "$p0" ] && [ -n "$p1" ] &&
            stall=$((100 * (p1 - p0 > 50000 ? p1 - p0 - 50000 : 0) / (wall > 0 ? wall : 1)))
        printf '%-10s rep %d try %d: rc %d, %6.1f s, before: %s, cpu stall %s%%, line %s/%s ns (fastest %s)%s\n' \
            "$t" "$r" "$try" "$rc" "$(awk -v w="$wall" 'BEGIN { print w / 1e6 }')" "$state" "$stall" \
            "${ph0:--}" "${ph1:--}" "${phase_ref:--}" "$([ $slow = 1 ] && echo ', SLOW PHASE')" |
            tee -a "$work/runs.log" >&2
        # Keep the least disturbed try: a calm CPU first, then the fast phase.
        score=$(( (stall > max_stall ? 1000 + stall : 0) + slow * 100 ))
        if [ "$score" -lt "$best_score" ]; then
            mv "$f.try.txt" "$f.txt"
            mv "$f.try.err" "$f.err"
            best_score=$score best_stall=$stall best_rc=$rc best_state=$state best_slow=$slow
        fi
        [ "$score" -eq 0 ] && break
        [ "$try" -lt "$retries" ] && retried_runs=$((retried_runs + 1))
    done
    rm -f "$f.try.txt" "$f.try.err"
    case $best_state in busy*) busy_runs=$((busy_runs + 1)) ;; esac
    [ "$best_stall" -gt "$max_stall" ] && disturbed_runs=$((disturbed_runs + 1))
    [ "$best_slow" = 1 ] && slow_runs=$((slow_runs + 1))
    return $best_rc
}

# The most telling line of a failed launch: Open MPI prints the cause
# (component not loadable, pml refused, peers unreachable) before its
# generic MPI_INIT banner, so look for the causes first.
probe_reason() {
    local pat line
    for pat in 'unable to open mca_' 'CHECK FAILED' 'unable to reach|unreachable' \
               'No components were able to be opened|Component: |PML .* cannot be selected' \
               'timed out|Killed|Segmentation|signal' 'error|refused|abort|fail'; do
        line=$(grep -h -m1 -iE "$pat" "$@" 2>/dev/null | head -1)
        [ -n "$line" ] && { printf '%s' "$line" | sed 's/^\[[^]]*\] *//' | cut -c1-200; return; }
    done
    echo "no output (exit status only)"
}

# A tiny first run of each transport: does it launch, and are the data right?
declare -a active=()
for t in "${tlist[@]}"; do
    [ -n "${note[$t]:-}" ] && { echo "$t: ${note[$t]}" >&2; continue; }
    command_for "$t"
    if timeout -k 10 120 "${CMD[@]}" --sizes 0,4K,1M --tests lat,bw --modes hot --scale 0.01 \
            >"$work/probe.$t.txt" 2>"$work/probe.$t.err" </dev/null &&
       [ "$(grep -c '^RESULT .* [0-9.]*$' "$work/probe.$t.txt")" = 6 ]; then
        active+=("$t")
    else
        note[$t]="failed to run: $(probe_reason "$work/probe.$t.err" "$work/probe.$t.txt")"
        [ -n "$out" ] && note[$t]="${note[$t]} (log: $out/probe.$t.err)" ||
            note[$t]="${note[$t]} (rerun with --out DIR to keep the log)"
        echo "$t: ${note[$t]}" >&2
    fi
done
[ ${#active[@]} -gt 0 ] || { say "no transport ran"; exit 1; }

start=$(date +%s)
n=${#active[@]}
for ((r = 1; r <= reps; r++)); do
    for ((i = 0; i < n; i++)); do
        t=${active[$(((i + r - 1) % n))]}
        run_one "$t" "$r" || note[$t]="${note[$t]:-}some runs failed (rc != 0, see raw/$t.rep$r.err); "
    done
done
elapsed=$(($(date +%s) - start))

# ---- statistics -------------------------------------------------------------
# all.txt: "test mode size transport value" for every run.
for t in "${active[@]}"; do
    for f in "$work/raw/$t".rep*.txt; do
        awk -v t="$t" '$1 == "RESULT" { print $2, $3, $4, t, $5 }' "$f"
    done
done >"$work/all.txt"

# medians.txt: "test mode size transport median nvalues spread nfail";
# spread = (max - min) / median.
sort -k1,1 -k2,2 -k3,3n -k4,4 -k5,5g "$work/all.txt" | awk '
    function flush() {
        if (key == "") return
        med = n == 0 ? "-" : (n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2)
        spread = (n > 1 && med > 0) ? (v[n] - v[1]) / med : 0
        print key, med, n, spread, nfail
    }
    { k = $1 " " $2 " " $3 " " $4
      if (k != key) { flush(); key = k; n = 0; nfail = 0 }
      if ($5 ~ /^[0-9.eE+-]+$/) v[++n] = $5 + 0; else nfail++ }
    END { flush() }' >"$work/medians.txt"

awk -v reps="$reps" -v tests="$tests" -v modes="$modes" -v tlist="$transports" -v ref="$ref" \
    -v active=" ${active[*]} " -v nl_note="$(for t in "${tlist[@]}"; do
        [ -n "${note[$t]:-}" ] && printf '%s=%s\x1f' "$t" "${note[$t]}"; done)" '
function human(s) {
    if (s >= 1048576 && s % 1048576 == 0) return (s / 1048576) "M"
    if (s >= 1024 && s % 1024 == 0) return (s / 1024) "K"
    return s
}
function fmt(test, v) {
    if (v == "" || v == "-") return "-"
    if (test == "lat") return v < 10 ? sprintf("%.2f", v) : v < 1000 ? sprintf("%.1f", v) : sprintf("%.0f", v)
    return sprintf("%.0f", v)
}
BEGIN {
    nt = split(tests, T, ","); nm = split(modes, M, ","); ntr = split(tlist, TR, ",")
    nn = split(nl_note, NN, "\037")
    for (i = 1; i <= nn; i++) if (NN[i] != "") { p = index(NN[i], "="); why[substr(NN[i], 1, p - 1)] = substr(NN[i], p + 1) }
    unit["lat"] = "one-way latency, us, lower is better; ratio = peer/" ref
    unit["bw"] = "unidirectional bandwidth, MB/s, window 64; ratio = " ref "/peer"
    unit["bibw"] = "bidirectional bandwidth, MB/s (both directions), window 64; ratio = " ref "/peer"
}
{ med[$1, $2, $3, $4] = $5; spr[$1, $2, $4] += $7; nspr[$1, $2, $4]++
  if ($8 > 0) fails[$1, $2, $3, $4] = $8
  if (!(($1, $3) in seen)) { seen[$1, $3] = 1; ns[$1]++; S[$1, ns[$1]] = $3 } }
END {
    have_ref = index(active, " " ref " ") > 0
    for (i = 1; i <= ntr; i++) if (TR[i] in why) { print "- " TR[i] ": " why[TR[i]]; any = 1 }
    if (any) print ""
    for (a = 1; a <= nt; a++) for (b = 1; b <= nm; b++) {
        test = T[a]; mode = M[b]
        if (!(test in ns)) continue
        printf "## %s %s (%s)\n\n", test, mode, unit[test]
        hdr = "| size |"; sep = "|---:|"
        for (i = 1; i <= ntr; i++) { hdr = hdr " " TR[i] " |"; sep = sep "---:|" }
        for (i = 1; i <= ntr; i++) if (TR[i] != ref) { hdr = hdr " vs " TR[i] " |"; sep = sep "---:|" }
        print hdr; print sep
        for (i = 1; i <= ntr; i++) { gs[i] = 0; gn[i] = 0 }
        for (j = 1; j <= ns[test]; j++) {
            s = S[test, j]; line = "| " human(s) " |"
            for (i = 1; i <= ntr; i++) {
                c = ((test, mode, s, TR[i]) in med) ? fmt(test, med[test, mode, s, TR[i]]) : "-"
                if ((test, mode, s, TR[i]) in fails) c = c " (" fails[test, mode, s, TR[i]] " FAIL)"
                line = line " " c " |"
            }
            r0 = ((test, mode, s, ref) in med) ? med[test, mode, s, ref] : ""
            for (i = 1; i <= ntr; i++) {
                if (TR[i] == ref) continue
                p = ((test, mode, s, TR[i]) in med) ? med[test, mode, s, TR[i]] : ""
                if (r0 == "" || p == "" || r0 + 0 <= 0 || p + 0 <= 0) { line = line " - |"; continue }
                q = test == "lat" ? p / r0 : r0 / p
                line = line sprintf(" %.2f |", q)
                if (s >= 4096 && s <= 67108864) { gs[i] += log(q); gn[i]++ }
            }
            print line
        }
        line = "| geomean 4K-64M |"
        for (i = 1; i <= ntr; i++) line = line " |"
        for (i = 1; i <= ntr; i++) if (TR[i] != ref) line = line (gn[i] ? sprintf(" **%.2f** |", exp(gs[i] / gn[i])) : " - |")
        print line
        line = ""
        for (i = 1; i <= ntr; i++) if ((test, mode, TR[i]) in nspr)
            line = line sprintf("%s%s %.0f%%", line == "" ? "" : ", ", TR[i], 100 * spr[test, mode, TR[i]] / nspr[test, mode, TR[i]])
        print ""
        if (line != "" && reps > 1) print "Mean spread (max-min)/median over reps: " line "."
        if (!have_ref) print "No ratios: the reference transport " ref " has no results."
        print ""
    }
}' "$work/medians.txt" | tee -a "$summary"

nruns=$((reps * n))
say "Runs: $nruns in $elapsed s (including waits and reruns); reruns of disturbed runs: $retried_runs;" \
    "kept runs started on a busy machine: $busy_runs, disturbed (cpu stall > $max_stall%): $disturbed_runs," \
    "in a slow phase (line between the cores > $phase_limit x the fastest, ${phase_ref:-?} ns): $slow_runs."
[ $((busy_runs + disturbed_runs)) -gt 0 ] &&
    say "WARNING: other tasks used the CPUs during some kept runs (see runs.log); medians may be off."

# ---- plot -------------------------------------------------------------------
if [ -n "$plot" ] && command -v gnuplot >/dev/null; then
    plots=()
    for test in bw bibw lat; do
        case ",$tests," in *",$test,"*) ;; *) continue ;; esac
        for mode in hot cold; do
            case ",$modes," in *",$mode,"*) ;; *) continue ;; esac
            spec=""
            for t in "${tlist[@]}"; do
                d="$work/plot.$test.$mode.$t.dat"
                awk -v te="$test" -v mo="$mode" -v t="$t" '$1 == te && $2 == mo && $4 == t && $3 > 0 && $5 != "-" { print $3, $5 }' \
                    "$work/medians.txt" >"$d"
                [ -s "$d" ] && spec="$spec${spec:+, }'$d' using 1:2 with linespoints title '$t'"
            done
            [ -n "$spec" ] && plots+=("set title '$test $mode'; set ylabel '$( [ $test = lat ] && echo 'us (one way)' || echo 'MB/s')'; plot $spec")
        done
    done
    if [ ${#plots[@]} -gt 0 ]; then
        rows=$(((${#plots[@]} + 1) / 2))
        {
            echo "set terminal pngcairo size 1400,$((420 * rows)) font ',10'"
            echo "set output '$plot'"
            echo "set logscale x 2; set logscale y 10; set xtics 16; set format x '%.0b%B'"
            echo "set xlabel 'message size (bytes)'; set termoption noenhanced"
            echo "set key left top; set grid"
            echo "set multiplot layout $rows,2 title 'mpi_bench medians, $(date +%F) $(hostname)'"
            printf '%s\n' "${plots[@]}"
            echo "unset multiplot"
        } >"$work/plot.gp"
        gnuplot "$work/plot.gp" 2>"$work/plot.err" && say "Plot: $plot"
    fi
fi
[ -n "$out" ] && say "Raw results, logs and summary.md: $out"
exit 0
