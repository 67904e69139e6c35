#!/usr/bin/python3
"""bench_fs.py: PocketCache's filesystem backend from Python, side by side
with python-diskcache (Debian's python3-diskcache), in one run.

    /usr/bin/python3 tests/bench/bench_fs.py build/pocketcache.so [ops]

Both caches live in a fresh temporary directory with their default
settings (both are SQLite in WAL mode). PocketCache is used the way a
Python program uses it: SQL through the standard sqlite3 module on one
connection with the extension loaded, each call a prepared statement
(sqlite3 caches them). 1,000 keys, 100-byte str values, one-hour TTL, keys
cycled; each figure is the best of 40 short interleaved rounds. The last
row, `SELECT ?` through the same module, is what any call from Python costs
before the cache does anything. Bars (SPEC
section 9): set >= 3x, get >= 1.5x, get with a memory tier >= 4x
diskcache's throughput.
"""
import datetime
import os
import platform
import shutil
import sqlite3
import sys
import tempfile

import diskcache

import pybench

ROUNDS = 40
NKEYS = 1000


def main():
    ext = os.path.abspath(sys.argv[1])
    ops = int(sys.argv[2]) if len(sys.argv) > 2 else 50000
    keys = ["key:%d" % i for i in range(NKEYS)]
    value = "v" * 100
    top = tempfile.mkdtemp(prefix="bench_fs_py.")
    try:
        dc = diskcache.Cache(os.path.join(top, "diskcache"))
        con = pybench.connect(ext)
        con.execute("SELECT cache_open('fs', json_object('backend', "
                    "'filesystem', 'cache_dir', ?))",
                    (os.path.join(top, "pc"),))
        con.execute("SELECT cache_open('tier', json_object('backend', "
                    "'filesystem', 'cache_dir', ?, 'local_max_bytes', "
                    "'16MB'))", (os.path.join(top, "pc_tier"),))
        ex = con.execute

        def dc_set(k):
            dc.set(k, value, expire=3600)

        def dc_get(k):
            return dc.get(k)

        pc_set, pc_get = pybench.cache_calls(con, "fs", value)
        tier_set, tier_get = pybench.cache_calls(con, "tier", value)

        def floor(k):
            return ex("SELECT ?", (k,)).fetchone()[0]

        # name, function, the row it is compared with, bar, write?
        rows = [
            ["diskcache set", dc_set, 0, 0, True],
            ["PocketCache set", pc_set, 0, 3.0, True],
            ["diskcache get", dc_get, 2, 0, False],
            ["PocketCache get", pc_get, 2, 1.5, False],
            ["PocketCache get, tier", tier_get, 2, 4.0, False],
            ["SELECT ? (Python's floor)", floor, 2, 0, False],
        ]
        for k in keys:  # every key present everywhere
            dc_set(k)
            pc_set(k)
            tier_set(k)
        assert pc_get(keys[1]) == value and dc_get(keys[1]) == value
        assert tier_get(keys[1]) == value
        best = pybench.best_times(
            rows, keys, ROUNDS,
            lambda row: (ops // 10 if row[4] else ops) // ROUNDS)
        print("bench_fs.py %s: filesystem backend vs python-diskcache %s "
              "from Python %s, SQLite %s, %s %s, best of %d rounds"
              % (datetime.date.today(), diskcache.__version__,
                 platform.python_version(), sqlite3.sqlite_version,
                 platform.system(), platform.machine(), ROUNDS))
        missed = pybench.print_table(rows, best, "vs diskcache")
        print("bars (SPEC section 9): %s"
              % ("not all met" if missed else "all met"))
        dc.close()
        con.close()
    finally:
        shutil.rmtree(top)


if __name__ == "__main__":
    main()
