#!/usr/bin/python3
"""bench_redis.py: PocketCache's Redis backend from Python, side by side
with redis-py (Debian's python3-redis) on the same server, in one run.

    /usr/bin/python3 tests/bench/bench_redis.py build/pocketcache.so URL-FILE

URL-FILE holds the server's redis:// URL (tests/redis_fixture.sh writes
it). PocketCache is used the way a Python program uses it: SQL through the
standard sqlite3 module on one connection with the extension loaded, each
call a prepared statement. redis-py is a plain redis.Redis client on a
single connection, its values str (decode_responses), as an application
would cache text. 1,000 keys, 100-byte str values, one-hour TTL; each
figure is the best of 20 short interleaved rounds. No bar of SPEC section
9 is set for Python here (the Redis bar is against hiredis, in
bench_redis.c); the ratios say what a Python program gains or pays for
calling through SQLite, and what the memory tier saves.
"""
import datetime
import os
import platform
import sqlite3
import sys

import redis

import pybench

ROUNDS = 20
NKEYS = 1000


def main():
    ext = os.path.abspath(sys.argv[1])
    with open(sys.argv[2]) as f:
        url = f.read().strip()
    ops = int(sys.argv[3]) if len(sys.argv) > 3 else 20000
    keys = ["key:%d" % i for i in range(NKEYS)]
    value = "v" * 100
    r = redis.Redis.from_url(url, decode_responses=True)
    con = pybench.connect(ext)
    con.execute("SELECT cache_open('r', json_object('backend', 'redis', "
                "'url', ?, 'prefix', 'pybench:'))", (url,))
    con.execute("SELECT cache_open('rt', json_object('backend', 'redis', "
                "'url', ?, 'prefix', 'pybench:t:', 'local_max_bytes', "
                "'16MB'))", (url,))
    ex = con.execute

    def py_set(k):
        r.set("py:" + k, value, ex=3600)

    def py_get(k):
        return r.get("py:" + k)

    pc_set, pc_get = pybench.cache_calls(con, "r", value)
    tier_set, tier_get = pybench.cache_calls(con, "rt", value)

    for k in keys:  # every key present everywhere
        py_set(k)
        pc_set(k)
        tier_set(k)
    assert py_get(keys[1]) == value and pc_get(keys[1]) == value
    assert tier_get(keys[1]) == value
    # name, function, the row it is compared with
    rows = [
        ["redis-py SET", py_set, 0],
        ["PocketCache cache_set", pc_set, 0],
        ["redis-py GET", py_get, 2],
        ["PocketCache cache_get", pc_get, 2],
        ["PocketCache get, tier", tier_get, 2],
    ]
    best = pybench.best_times(rows, keys, ROUNDS, lambda row: ops // ROUNDS)
    print("bench_redis.py %s: Redis backend vs redis-py %s from Python %s, "
          "Redis %s, SQLite %s, %s %s, best of %d rounds"
          % (datetime.date.today(), redis.__version__,
             platform.python_version(), r.info()["redis_version"],
             sqlite3.sqlite_version, platform.system(), platform.machine(),
             ROUNDS))
    pybench.print_table(rows, best, "vs redis-py")
    ex("SELECT cache_clear('r'), cache_clear('rt')").fetchone()
    r.delete(*["py:" + k for k in keys])
    con.close()


if __name__ == "__main__":
    main()
