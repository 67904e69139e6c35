#!/bin/sh
# Instructions per call of the SQL floor, cache_get and cache_set, counted by
# callgrind on bench_sql's loop (repeatable, unlike timings on a shared VM):
#
#   tests/bench/profile.sh [build-dir]     (default build-bench)
#
# Each statement runs N times after the same start-up; the start-up alone
# (0 runs) is subtracted. Needs valgrind (Debian package valgrind).
set -eu
dir=${1:-build-bench}
bench=$dir/tests/bench/bench_sql
ext=$dir/pocketcache.so
N=100000
count() { # count OPS SQL: total instructions of one run
  valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bench" "$ext" \
    "$1" "$2" 2>&1 | awk '/refs:/ {gsub(",", "", $NF); print $NF}'
}
for sql in "SELECT ?1" "SELECT cache_get(?1)" "SELECT cache_set(?1, ?2)"; do
  base=$(count 0 "$sql")
  total=$(count $N "$sql")
  echo "$sql: $(((total - base) / N)) instructions per call"
done
