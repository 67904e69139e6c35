#!/bin/sh
# Counts that timings on a shared VM cannot give, per call, each as the
# difference between N calls and none after the same start-up:
#   - instructions (callgrind) of the SQL floor, cache_get and cache_set on
#     bench_sql's loop, and of the hand-written table's get and pc_get on
#     bench_fs's;
#   - system calls (strace -c) of the table's and the C library's get and
#     set on bench_fs's loop.
#
#   tests/bench/profile.sh [build-dir]     (default build-bench)
#
# Needs valgrind and strace (Debian packages of those names; tests/run bench
# installs them).
set -eu
dir=${1:-build-bench}
ext=$dir/pocketcache.so
sql=$dir/tests/bench/bench_sql
fs=$dir/tests/bench/bench_fs
N=100000
instr() { # instr OPS PROGRAM ARG: instructions of one run
  n=$(valgrind --tool=callgrind --callgrind-out-file=/dev/null "$2" "$ext" \
    "$1" "$3" 2>&1 | awk '/refs:/ {gsub(",", "", $NF); print $NF}')
  [ -n "$n" ] || { echo "profile.sh: callgrind gave no count" >&2; exit 1; }
  echo "$n"
}
per_call() { # per_call PROGRAM ARG LABEL
  base=$(instr 0 "$1" "$2")
  total=$(instr $N "$1" "$2")
  echo "$3: $(((total - base) / N)) instructions per call"
}
for q in "SELECT ?1" "SELECT cache_get(?1)" "SELECT cache_set(?1, ?2)"; do
  per_call "$sql" "$q" "$q"
done
N=20000
per_call "$fs" 0 "bench_fs table get"
per_call "$fs" 1 "bench_fs pc_get"

syscalls() { # syscalls OP LABEL: fcntl and pwrite64 calls per operation
  out=$(mktemp)
  # 2000 and 6000 calls: steady state (the first ones after the fill also
  # pay the WAL checkpoint the fill brings on)
  strace -f -c -o "$out.0" "$fs" "$ext" 2000 "$1" >/dev/null
  strace -f -c -o "$out.n" "$fs" "$ext" 6000 "$1" >/dev/null
  for call in fcntl pwrite64; do
    a=$(awk -v c=$call '$NF == c {print $4}' "$out.0")
    b=$(awk -v c=$call '$NF == c {print $4}' "$out.n")
    awk -v l="$2" -v c=$call -v a="${a:-0}" -v b="${b:-0}" \
      'BEGIN {printf "%s: %s %.1f per call\n", l, c, (b - a) / 4000}'
  done
  rm -f "$out" "$out.0" "$out.n"
}
syscalls 0 "bench_fs table get"
syscalls 1 "bench_fs pc_get"
syscalls 4 "bench_fs table set"
syscalls 5 "bench_fs pc_set"
