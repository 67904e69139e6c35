#!/usr/bin/python3
"""Caching slow API responses on disk with PocketCache, from Python.

    /usr/bin/python3 examples/python_app.py build/pocketcache.so [cache_dir]

The responses go to a filesystem cache (an SQLite file in cache_dir,
default: a new temporary directory), so they survive the program and are
shared by every process that opens the same directory. A second process
started at the end reads them without calling the API. Use Debian's
/usr/bin/python3: its sqlite3 module can load extensions.
"""
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time

CALLS = 0


def slow_api(url):
    """Stands for a remote API: 50 ms per call."""
    global CALLS
    CALLS += 1
    time.sleep(0.05)
    return json.dumps({"url": url, "items": [1, 2, 3]})


def open_cache(ext, cache_dir):
    con = sqlite3.connect(":memory:", isolation_level=None)
    con.enable_load_extension(True)
    con.load_extension(ext)
    con.enable_load_extension(False)
    con.execute("SELECT cache_open('api', json_object('backend', 'filesystem',"
                " 'cache_dir', ?, 'default_ttl', 300, 'max_bytes', '64MB'))",
                (cache_dir,))
    return con


def fetch(con, url):
    """The response for url: from the cache, or from the API and then kept
    for five minutes (the cache's default_ttl)."""
    body = con.execute("SELECT cache_get(?, 'api')", (url,)).fetchone()[0]
    if body is None:
        body = slow_api(url)
        con.execute("SELECT cache_set(?, ?, NULL, 'api')", (url, body))
    return json.loads(body)


def main():
    ext = os.path.abspath(sys.argv[1])
    if len(sys.argv) > 2 and sys.argv[2] == "--reader":
        # The second process: every response is already on disk.
        con = open_cache(ext, sys.argv[3])
        for url in sys.argv[4:]:
            fetch(con, url)
        print("reader process: %d API calls" % CALLS)
        return 0 if CALLS == 0 else 1
    own_dir = len(sys.argv) <= 2
    cache_dir = tempfile.mkdtemp() if own_dir else sys.argv[2]
    try:
        return run(ext, cache_dir)
    finally:
        if own_dir:
            shutil.rmtree(cache_dir)


def run(ext, cache_dir):
    con = open_cache(ext, cache_dir)
    urls = ["https://api.example.com/users/%d" % i for i in range(5)]
    t0 = time.perf_counter()
    for url in urls:
        fetch(con, url)
    cold = time.perf_counter() - t0
    t0 = time.perf_counter()
    for _ in range(20):
        for url in urls:
            assert fetch(con, url)["url"] == url
    warm = (time.perf_counter() - t0) / 20
    print("first pass: %d API calls, %.0f ms" % (CALLS, cold * 1000))
    print("next 20 passes: %d API calls in all, %.2f ms per pass"
          % (CALLS, warm * 1000))
    stats = json.loads(con.execute("SELECT cache_stats('api')").fetchone()[0])
    print("cache: %d entries, %d hits, %d misses"
          % (stats["entries"], stats["hits"], stats["misses"]))
    reader = subprocess.run([sys.executable, __file__, ext, "--reader",
                             cache_dir] + urls, timeout=60)
    return 0 if CALLS == 5 and reader.returncode == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
