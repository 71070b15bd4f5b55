#!/bin/bash
# compare.sh: sets the cma BTL against Open MPI's vader for one-sided MPI
# (osc rdma over each BTL) with rma_bench from this directory.  It owns the
# comparison: which transports run with which MCA parameters, running them
# interleaved and repeated (the order rotates every repetition, so a drift
# of a shared machine falls on every transport alike), waiting for an idle
# machine before each run and running a disturbed one again, and the table
# of medians with the ratio of each transport to cma (>1 means cma is
# faster: a latency ratio is other/cma, a bandwidth ratio cma/other).  It
# takes the same lock as the MPI test suites so it never runs beside them.
# Run "compare.sh --help" for the options.
set -u
export LC_ALL=C

script_dir=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../idle.sh
. "$script_dir/../idle.sh"
reps=7 transports=cma,vader tests=put_lat,get_lat,fop_lat,put_bw,get_bw,put_busy,get_busy,fop_busy max_size=4M
sync=flush win=create scale=1 out="" builddir="" wait_idle=120 max_stall=10 retries=2
run_timeout=600 bind=core report_only=0

usage() {
    cat <<EOF
usage: $0 [options] [BUILDDIR]
  BUILDDIR            top of the btl-cma build tree (default: two levels above this script)
  --reps N            repetitions of every transport, interleaved (default $reps)
  --transports LIST   of cma, cma-none (btl_cma_single_copy none), vader,
                      vader-none (btl_vader_single_copy_mechanism none); default $transports
  --tests LIST        of put_lat,get_lat,fop_lat,put_bw,get_bw,put_busy,get_busy,fop_busy
                      (default all; *_busy: the target computes 50 ms outside MPI)
  --max-size S        largest transfer (default $max_size)
  --sync flush|lock   lock_all + MPI_Win_flush per operation (default) or lock/unlock
  --win create|allocate   window from MPI_Win_create (default: goes through the
                      BTL) or MPI_Win_allocate (osc rdma maps it directly on one node)
  --scale X           multiply rma_bench's iteration counts (default $scale)
  --bind core|none    mpirun --bind-to (default $bind)
  --out DIR           keep raw results, runs.log and summary.md in DIR
  --wait-idle SECS    before each run wait up to SECS for >= 90% idle CPUs (default $wait_idle)
  --max-stall PCT     a run whose processes waited for a CPU (/proc/pressure/cpu)
                      more than PCT % of its time is disturbed and run again (default $max_stall)
  --retries N         reruns of a disturbed run (default $retries); the least
                      disturbed attempt is kept
  --timeout SECS      limit per run (default $run_timeout)
  --report-only       with --out DIR: print the table again from DIR's raw results
EOF
}

while [ $# -gt 0 ]; do
    case $1 in
    --reps) reps=$2; shift ;;
    --transports) transports=$2; shift ;;
    --tests) tests=$2; shift ;;
    --max-size) max_size=$2; shift ;;
    --sync) sync=$2; shift ;;
    --win) win=$2; shift ;;
    --scale) scale=$2; shift ;;
    --bind) bind=$2; shift ;;
    --out) out=$2; shift ;;
    --wait-idle) wait_idle=$2; shift ;;
    --max-stall) max_stall=$2; shift ;;
    --retries) retries=$2; shift ;;
    --timeout) run_timeout=$2; shift ;;
    --report-only) report_only=1 ;;
    -h|--help) usage; exit 0 ;;
    -*) echo "compare.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
    *) builddir=$1 ;;
    esac
    shift
done
case $reps in ''|*[!0-9]*|0) echo "compare.sh: --reps needs a positive number" >&2; exit 2 ;; esac

builddir=$(cd "${builddir:-$script_dir/../..}" 2>/dev/null && pwd) ||
    { echo "compare.sh: build directory not found" >&2; exit 2; }
bench=$builddir/bench/rma/rma_bench
cmadir=$builddir/src/btl_cma/.libs
if [ ! -x "$bench" ]; then
    make -C "$builddir/bench/rma" rma_bench >&2 || { echo "compare.sh: cannot build $bench" >&2; exit 2; }
fi
[ -f "$cmadir/mca_btl_cma.so" ] || { echo "compare.sh: $cmadir/mca_btl_cma.so not built (run make)" >&2; exit 2; }
MPIRUN=${MPIRUN:-mpirun.openmpi}
OMPI_INFO=${OMPI_INFO:-ompi_info}
pkglibdir=$("$OMPI_INFO" --path pkglibdir --parsable | sed -n 's/^path:pkglibdir://p')
[ -n "$pkglibdir" ] || { echo "compare.sh: no pkglibdir from $OMPI_INFO" >&2; exit 2; }
[ "$(id -u)" = 0 ] && export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

if [ "$report_only" = 1 ]; then
    [ -n "$out" ] && [ -d "$out/raw" ] || { echo "compare.sh: --report-only needs --out DIR with DIR/raw" >&2; exit 2; }
fi
if [ -n "$out" ]; then
    mkdir -p "$out" && work=$(cd "$out" && pwd) || exit 2
else
    work=$(mktemp -d "${TMPDIR:-/tmp}/rma-compare.XXXXXX") || exit 2
    trap 'rm -rf "$work"' EXIT
fi
mkdir -p "$work/raw"
[ "$report_only" = 1 ] || : >"$work/runs.log"

mca_of() {
    case $1 in
    cma) echo "--mca btl cma,self --mca mca_base_component_path $cmadir:$pkglibdir" ;;
    cma-none) echo "--mca btl cma,self --mca mca_base_component_path $cmadir:$pkglibdir --mca btl_cma_single_copy none" ;;
    vader) echo "--mca btl vader,self" ;;
    vader-none) echo "--mca btl vader,self --mca btl_vader_single_copy_mechanism none" ;;
    *) return 1 ;;
    esac
}
IFS=, read -r -a tlist <<<"$transports"
for t in "${tlist[@]}"; do
    mca_of "$t" >/dev/null || { echo "compare.sh: unknown transport $t" >&2; exit 2; }
done
ref=${tlist[0]}



# Microseconds some task waited for a CPU (pressure stall information).
stall_us() {
    sed -n 's/^some .*total=\([0-9]*\).*/\1/p' /proc/pressure/cpu 2>/dev/null
}

lock=${TMPDIR:-/tmp}/btl-cma-mpi-tests.$(id -u).lock
disturbed=0 busy=0 failed=0

run_one() {
    local t=$1 r=$2 f="$work/raw/$1.rep$2" try state s0 s1 t0 t1 rc wall stall best=999999
    for ((try = 0; try <= retries; try++)); do
        state=$(wait_for_idle "$wait_idle")
        # shellcheck disable=SC2046  # the MCA string is deliberately split
        (
            flock 9
            s0=$(stall_us); t0=$(date +%s%N)
            timeout -k 10 "$run_timeout" "$MPIRUN" -np 2 --bind-to "$bind" --mca pml ob1 $(mca_of "$t") \
                "$bench" -m "$max_size" -t "$tests" -s "$sync" -w "$win" -x "$scale" >"$f.try" 2>"$f.err"
            rc=$?
            s1=$(stall_us); t1=$(date +%s%N)
            echo "$rc $(( (t1 - t0) / 1000 )) ${s0:-} ${s1:-}" >"$f.meta"
        ) 9>>"$lock"
        read -r rc wall s0 s1 <"$f.meta"
        stall=-1
        [ -n "${s0:-}" ] && [ -n "${s1:-}" ] && stall=$((100 * (s1 - s0) / (wall > 0 ? wall : 1)))
        printf '%-10s rep %d try %d: rc %d, %5.1f s, before: %s, cpu stall %s%%\n' "$t" "$r" "$try" "$rc" \
            "$(awk -v w="$wall" 'BEGIN { print w / 1e6 }')" "$state" "$stall" | tee -a "$work/runs.log" >&2
        if [ "$rc" = 0 ] && [ "$stall" -lt "$best" ]; then
            best=$stall
            mv -f "$f.try" "$f"
            case $state in busy*) kept_busy=1 ;; *) kept_busy=0 ;; esac
        fi
        [ "$rc" = 0 ] && [ "$stall" -le "$max_stall" ] && break
        [ "$rc" != 0 ] && sed 's/^/    /' "$f.err" | tail -5 >&2
    done
    rm -f "$f.try" "$f.meta"
    if [ ! -f "$f" ]; then
        failed=$((failed + 1))
        return
    fi
    [ "$best" -gt "$max_stall" ] && disturbed=$((disturbed + 1))
    [ "${kept_busy:-0}" = 1 ] && busy=$((busy + 1))
}

if [ "$report_only" = 1 ]; then
    # shellcheck disable=SC1091  # written by the measuring run
    . "$work/meta" 2>/dev/null || { start_date="(unknown)"; failed="?" busy="?" disturbed="?"; }
else
    start_date=$(date -u '+%Y-%m-%d %H:%M UTC')
    for ((r = 1; r <= reps; r++)); do
        n=${#tlist[@]}
        for ((k = 0; k < n; k++)); do
            run_one "${tlist[$(((k + r - 1) % n))]}" "$r"
        done
    done
    printf 'start_date="%s" failed=%s busy=%s disturbed=%s\n' "$start_date" "$failed" "$busy" "$disturbed" >"$work/meta"
fi

# medians.txt: "test size transport median nvalues spread", spread being
# (max - min) / median over the repetitions, in the order of --tests.
for t in "${tlist[@]}"; do
    for f in "$work"/raw/"$t".rep*; do
        [ -f "$f" ] && grep -v '^#' "$f" | sed "s/^/$t /"
    done
done | awk -v tl="$tests" '
    BEGIN { n = split(tl, L, ","); for (i = 1; i <= n; i++) rank[L[i]] = i }
    { key = $2 " " $3 " " $1; v[key] = v[key] " " $4 }
    END {
        for (key in v) {
            n = split(substr(v[key], 2), a, " ")
            for (i = 2; i <= n; i++) { x = a[i]; for (j = i - 1; j >= 1 && a[j] + 0 > x + 0; j--) a[j + 1] = a[j]; a[j + 1] = x }
            med = (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
            split(key, kk, " ")
            print rank[kk[1]] + 0, key, med, n, (med > 0 ? (a[n] - a[1]) / med : 0)
        }
    }' | sort -k1,1n -k3,3n | cut -d' ' -f2- >"$work/medians.txt"

summary=$work/summary.md
{
    echo "rma_bench, cma BTL against $(IFS=,; echo "${tlist[*]:1}") (osc rdma), $start_date"
    echo
    echo "Machine: $(uname -n), $(nproc) CPUs ($(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -1)), kernel $(uname -r), $("$OMPI_INFO" --version 2>/dev/null | head -1)."
    echo "Command: compare.sh --reps $reps --transports $transports --tests $tests --max-size $max_size --sync $sync --win $win --scale $scale --bind $bind"
    echo "Medians of $reps interleaved runs; latency in us (lower is better), bandwidth in MB/s (higher is better);"
    echo "ratio >1 means $ref is faster (latency: other/$ref, bandwidth: $ref/other); spread = (max-min)/median of $ref."
    echo
    hdr="| test | size |" sep="|---|---:|"
    for t in "${tlist[@]}"; do hdr="$hdr $t |"; sep="$sep---:|"; done
    for t in "${tlist[@]:1}"; do hdr="$hdr $t/$ref |"; sep="$sep---:|"; done
    echo "$hdr spread |"
    echo "$sep---:|"
    awk -v tl="$transports" '
        BEGIN { nt = split(tl, T, ",") }
        { m[$1 " " $2 " " $3] = $4; s[$1 " " $2 " " $3] = $6; if (!(($1 " " $2) in seen)) { seen[$1 " " $2] = 1; order[++no] = $1 " " $2 } }
        END {
            for (o = 1; o <= no; o++) {
                split(order[o], ts, " ")
                line = "| " ts[1] " | " ts[2] " |"
                for (i = 1; i <= nt; i++) { k = order[o] " " T[i]; line = line " " ((k in m) ? m[k] : "-") " |" }
                ref = order[o] " " T[1]
                for (i = 2; i <= nt; i++) {
                    k = order[o] " " T[i]
                    if (!(k in m) || !(ref in m) || m[ref] == 0 || m[k] == 0) { line = line " - |"; continue }
                    r = (ts[1] ~ /_bw$/) ? m[ref] / m[k] : m[k] / m[ref]
                    line = line sprintf(" %.2f |", r)
                }
                line = line sprintf(" %.2f |", (ref in s) ? s[ref] : 0)
                print line
            }
        }' "$work/medians.txt"
    echo
    echo "Runs: $((reps * ${#tlist[@]})), failed: $failed, kept although started on a busy machine: $busy," \
        "kept although disturbed (cpu stall > $max_stall%): $disturbed (details in runs.log)."
} | tee "$summary"
[ "$failed" = 0 ]
