#!/bin/sh
# policy_report.sh BUILD_DIR [requests]
#
# Runs BUILD_DIR/tests/bench/policy_sim and writes, next to this script,
# results/policy.md (its whole output: the hit-ratio table and the checks
# of the default policy) and results/policy.png (hit ratio by cache size,
# one panel per trace, for the memory backend under each policy, for the
# W-TinyLFU model and for Belady's optimum), and puts policy.md into
# README.md between <!-- policy:begin --> and <!-- policy:end -->. Needs
# gnuplot (Debian gnuplot-nox; tests/run policy and tests/run bench install
# it). One command: tests/run policy.
set -eu
build=${1:?usage: policy_report.sh BUILD_DIR [requests]}
requests=${2:-2000000}
here=$(cd "$(dirname "$0")" && pwd)
out=$here/results
mkdir -p "$out"
csv=$(mktemp)
trap 'rm -f "$csv"' EXIT
{
  echo "Made by \`tests/bench/policy_report.sh $build\` (tests/run policy)" \
    "on $(date -u +%Y-%m-%d), $(uname -sm), $(nproc) cores:" \
    "\`$build/tests/bench/policy_sim $requests\`."
  echo
  "$build/tests/bench/policy_sim" "$requests" "$csv"
} >"$out/policy.md"
gnuplot <<GNUPLOT
set terminal pngcairo size 1200,760 font "sans,10"
set output "$out/policy.png"
set datafile separator ","
set key top left font ",8" samplen 2
set xrange [0:11]
set xtics ("1%%" 1, "5%%" 5, "10%%" 10)
set yrange [0:100]
set grid ytics
set xlabel "cache size (share of 100,000 keys)"
set ylabel "hit ratio %"
set multiplot layout 2,3 title "PocketCache memory backend: hit ratio by eviction policy ($requests requests per trace)"
do for [t in "zipf-0.7 zipf-0.9 zipf-1.1 zipf-0.9+scans loop shifting"] {
  set title t
  plot "$csv" using (strcol(1) eq t ? \$2 : NaN):7 skip 1 with linespoints lw 2 pt 7 title "lru", \
       "" using (strcol(1) eq t ? \$2 : NaN):8 skip 1 with linespoints lw 2 pt 5 title "sieve", \
       "" using (strcol(1) eq t ? \$2 : NaN):9 skip 1 with linespoints lw 2 pt 9 title "s3fifo (default)", \
       "" using (strcol(1) eq t ? \$2 : NaN):6 skip 1 with linespoints lw 1 dt 3 pt 2 lc rgb "#666666" title "W-TinyLFU (model)", \
       "" using (strcol(1) eq t ? \$2 : NaN):10 skip 1 with linespoints lw 1 dt 2 pt 1 lc rgb "#cc2222" title "Belady (optimum)"
}
unset multiplot
GNUPLOT
# The README shows policy.md between its policy markers.
readme=$here/../../README.md
awk -v md="$out/policy.md" '
  /<!-- policy:end -->/ { while ((getline line < md) > 0) print line; skip = 0 }
  !skip { print }
  /<!-- policy:begin -->/ { skip = 1 }
' "$readme" >"$readme.tmp" && mv "$readme.tmp" "$readme"
echo "policy_report: wrote $out/policy.md, $out/policy.png and README.md's table"
