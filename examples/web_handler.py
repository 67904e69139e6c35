#!/usr/bin/python3
"""A web handler that caches a slow query with a PocketCache view.

    /usr/bin/python3 examples/web_handler.py build/pocketcache.so

A small HTTP service on a free loopback port (the standard library's
ThreadingHTTPServer, a thread per request, connections from a pool):

    GET  /users/<id>/report   a slow report query, through the cached view
                              user_report (pcache_view, invalidate=auto)
    POST /users/<id>/orders   adds an order (body: the total)

The report's statement counts its runs (report_runs()), so the example can
show what the cache saves: 8 concurrent first requests run it once (single
flight), later requests do not run it at all, and an order posted through
any connection is in the very next report. Use Debian's /usr/bin/python3:
its sqlite3 module can load extensions.
"""
import json
import os
import queue
import shutil
import sqlite3
import sys
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

RUNS = 0
RUNS_LOCK = threading.Lock()


def report_runs():
    """Called by the report's statement: counts its runs, and takes 50 ms
    more, as a slow query on a busy server would."""
    global RUNS
    with RUNS_LOCK:
        RUNS += 1
    time.sleep(0.05)
    return 0


REPORT_SQL = """
SELECT count(*) AS orders, round(sum(total), 2) AS spent,
       round(avg(total), 2) AS average, max(total) AS largest,
       report_runs() AS _
FROM orders WHERE user_id = ?1
"""


class Pool:
    """A few connections, each with PocketCache loaded, shared by the
    request threads (one thread uses a connection at a time)."""

    def __init__(self, ext, path, size=4):
        self.free = queue.Queue()
        for _ in range(size):
            con = sqlite3.connect(path, isolation_level=None,
                                  check_same_thread=False, timeout=10)
            con.enable_load_extension(True)
            con.load_extension(ext)
            con.enable_load_extension(False)
            con.create_function("report_runs", 0, report_runs)
            self.free.put(con)

    def run(self, fn):
        con = self.free.get(timeout=10)
        try:
            return fn(con)
        finally:
            self.free.put(con)

    def close(self):
        while not self.free.empty():
            self.free.get().close()


def setup(ext, path):
    con = sqlite3.connect(path, isolation_level=None)
    con.enable_load_extension(True)
    con.load_extension(ext)
    con.create_function("report_runs", 0, report_runs)
    con.executescript("""
        PRAGMA journal_mode=WAL;
        CREATE TABLE orders(id INTEGER PRIMARY KEY, user_id INTEGER,
                            total REAL);
        WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n
                                WHERE i < 200000)
        INSERT INTO orders(user_id, total)
          SELECT i % 500, (i * 7919 % 10000) / 100.0 FROM n;
    """)
    # ?1 becomes the view's argument: SELECT * FROM user_report(42).
    con.execute("CREATE VIRTUAL TABLE user_report USING pcache_view("
                "sql='%s', ttl=300, invalidate=auto)"
                % REPORT_SQL.replace("'", "''"))
    con.close()


def make_handler(pool):
    class Handler(BaseHTTPRequestHandler):
        def reply(self, code, body):
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            parts = self.path.strip("/").split("/")
            if len(parts) != 3 or parts[0] != "users" or parts[2] != "report":
                return self.reply(404, {"error": "not found"})
            row = pool.run(lambda con: con.execute(
                "SELECT orders, spent, average, largest FROM user_report(?)",
                (int(parts[1]),)).fetchone())
            self.reply(200, dict(zip(
                ("orders", "spent", "average", "largest"), row)))

        def do_POST(self):
            parts = self.path.strip("/").split("/")
            if len(parts) != 3 or parts[0] != "users" or parts[2] != "orders":
                return self.reply(404, {"error": "not found"})
            total = float(self.rfile.read(
                int(self.headers["Content-Length"])))
            pool.run(lambda con: con.execute(
                "INSERT INTO orders(user_id, total) VALUES (?, ?)",
                (int(parts[1]), total)))
            self.reply(201, {"ok": True})

        def log_message(self, *args):
            pass

    return Handler


def request(base, path, body=None):
    req = urllib.request.Request(base + path, data=body,
                                 method="POST" if body else "GET")
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


def main():
    ext = os.path.abspath(sys.argv[1])
    tmp = tempfile.mkdtemp()
    path = os.path.join(tmp, "shop.db")
    server = None
    pool = None
    try:
        setup(ext, path)
        pool = Pool(ext, path)
        server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(pool))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        base = "http://127.0.0.1:%d" % server.server_address[1]
        ok = True

        t0 = time.perf_counter()
        with ThreadPoolExecutor(8) as ex:
            first = list(ex.map(lambda _: request(base, "/users/42/report"),
                                range(8)))
        cold = time.perf_counter() - t0
        print("8 concurrent first requests: %.0f ms, the query ran %d time(s)"
              % (cold * 1000, RUNS))
        ok &= RUNS == 1 and all(r == first[0] for r in first)

        t0 = time.perf_counter()
        for _ in range(50):
            warm = request(base, "/users/42/report")
        per = (time.perf_counter() - t0) / 50
        print("50 more requests: %.2f ms each, the query ran %d time(s) in all"
              % (per * 1000, RUNS))
        ok &= RUNS == 1 and warm == first[0]

        request(base, "/users/42/orders", b"1000")
        after = request(base, "/users/42/report")
        print("after POST /users/42/orders: %d orders (was %d), the query "
              "ran %d time(s) in all" % (after["orders"], first[0]["orders"],
                                         RUNS))
        ok &= after["orders"] == first[0]["orders"] + 1 and RUNS == 2
        ok &= after["largest"] == 1000

        other = request(base, "/users/7/report")
        print("another user: %d orders, the query ran %d time(s) in all"
              % (other["orders"], RUNS))
        ok &= RUNS == 3
        print("web_handler: %s" % ("ok" if ok else "FAILED"))
        return 0 if ok else 1
    finally:
        if server:
            server.shutdown()
            server.server_close()
        if pool:
            pool.close()
        shutil.rmtree(tmp)


if __name__ == "__main__":
    sys.exit(main())
