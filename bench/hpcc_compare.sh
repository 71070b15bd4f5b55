#!/bin/sh
# HPCC's communication figures (PingPong, natural and random rings) through
# cma and through vader, from one interleaved, repeated run, with every HPCC
# verification checked on each run (test/hpcc/run-hpcc.sh).  Prints one
# Markdown table per rank count: the median of each figure and cma/vader.
# Usage: bench/hpcc_compare.sh [REPS]   (from the top of a built tree)
set -u
reps=${1:-3}
top=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "# HPCC through cma and vader ($(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, $(uname -r), $reps reps)"
for np in 2 4; do
    for r in $(seq "$reps"); do
        for btl in cma,self vader,self; do
            (cd "$top/test/hpcc" && BTL=$btl ./run-hpcc.sh "$np") >"$tmp/$np-$btl-$r.log" 2>&1 ||
                { echo "run failed: np $np $btl rep $r"; tail -5 "$tmp/$np-$btl-$r.log"; exit 1; }
        done
    done
    echo
    echo "## $np ranks (\`test/hpcc/run-hpcc.sh $np\`, BTL=cma,self or vader,self)"
    echo
    echo "| figure | cma | vader | cma/vader (lat: vader/cma) |"
    echo "|---|---:|---:|---:|"
    for k in AvgPingPongLatency_usec AvgPingPongBandwidth_GBytes NaturallyOrderedRingLatency_usec \
             RandomlyOrderedRingLatency_usec NaturallyOrderedRingBandwidth_GBytes RandomlyOrderedRingBandwidth_GBytes; do
        med() { cat "$tmp/$np-$1-"*.log | sed -n "s/^HPCC $k=//p" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
        c=$(med cma,self); v=$(med vader,self)
        ratio=$(awk -v c="$c" -v v="$v" -v k="$k" 'BEGIN { if (k ~ /usec/) printf "%.2f", v / c; else printf "%.2f", c / v }')
        echo "| $k | $c | $v | $ratio |"
    done
done
