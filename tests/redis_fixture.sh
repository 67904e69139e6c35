#!/bin/sh
# A redis-server for the SQL tests, on a free loopback port, stopped by its
# PID (a CTest fixture: FIXTURES_SETUP / FIXTURES_CLEANUP).
#
#   tests/redis_fixture.sh start DIR   starts it; writes DIR/url, DIR/pid
#   tests/redis_fixture.sh stop DIR    stops it (SIGTERM, then SIGKILL)
#
# No persistence, DEBUG allowed from loopback (the failure tests use
# DEBUG SLEEP). Every wait is bounded.
set -eu
cmd=$1
dir=$2
case "$cmd" in
start)
  mkdir -p "$dir"
  command -v redis-server >/dev/null || {
    echo "redis_fixture: redis-server is missing (apt-get install redis-server)" >&2
    exit 1
  }
  # A port from the pid, then the next ones until one binds.
  base=$((20000 + ($$ * 7) % 30000))
  for i in 0 1 2 3 4 5 6 7 8 9; do
    port=$((base + i * 97))
    redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
      --dir "$dir" --enable-debug-command local --logfile "$dir/redis.log" \
      </dev/null >/dev/null 2>&1 &
    pid=$!
    n=0
    while [ $n -lt 50 ]; do # 5 s
      if ! kill -0 "$pid" 2>/dev/null; then break; fi
      if redis-cli -p "$port" ping 2>/dev/null | grep -q PONG; then
        echo "$pid" >"$dir/pid"
        echo "redis://127.0.0.1:$port" >"$dir/url"
        echo "redis_fixture: redis-server pid $pid on port $port"
        exit 0
      fi
      sleep 0.1
      n=$((n + 1))
    done
    kill -9 "$pid" 2>/dev/null || true
  done
  echo "redis_fixture: could not start redis-server (see $dir/redis.log)" >&2
  exit 1
  ;;
stop)
  [ -f "$dir/pid" ] || exit 0
  pid=$(cat "$dir/pid")
  kill "$pid" 2>/dev/null || true
  n=0
  while kill -0 "$pid" 2>/dev/null && [ $n -lt 50 ]; do
    sleep 0.1
    n=$((n + 1))
  done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$dir/pid" "$dir/url"
  ;;
*)
  sed -n '2,9p' "$0"
  exit 2
  ;;
esac
