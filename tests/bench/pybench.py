"""pybench.py: what the Python benchmarks (bench_fs.py, bench_redis.py)
share: a connection with the extension loaded, interleaved timing rounds,
and the table they print."""
import sqlite3
import time


def connect(ext):
    """A :memory: connection in autocommit with the extension at ext."""
    con = sqlite3.connect(":memory:", isolation_level=None)
    con.enable_load_extension(True)
    con.load_extension(ext)
    return con


def cache_calls(con, name, value, ttl=3600):
    """cache_set(k, value, ttl, name) and cache_get(k, name) from Python,
    as functions of k (the name written in the SQL, as an application
    does)."""
    ex = con.execute
    set_sql = "SELECT cache_set(?, ?, %d, '%s')" % (ttl, name)
    get_sql = "SELECT cache_get(?, '%s')" % name

    def cache_set(k):
        ex(set_sql, (k, value)).fetchone()

    def cache_get(k):
        return ex(get_sql, (k,)).fetchone()[0]

    return cache_set, cache_get


def best_times(rows, keys, rounds, ops_of):
    """Seconds per call of each row's function (row[1]), the best of
    `rounds` interleaved rounds of ops_of(row) calls over keys."""
    best = [float("inf")] * len(rows)
    for _ in range(rounds):
        for i, row in enumerate(rows):
            n = ops_of(row)
            fn = row[1]
            t0 = time.perf_counter()
            for j in range(n):
                fn(keys[j % len(keys)])
            best[i] = min(best[i], (time.perf_counter() - t0) / n)
    return best


def print_table(rows, best, versus):
    """The table: name, us/op, ops/s, throughput against the row's base
    (row[2]), and the bar where a row has one (row[3], > 0); returns how
    many bars are missed."""
    print("%-24s %10s %12s %14s" % ("operation", "us/op", "ops/s", versus))
    missed = 0
    for i, row in enumerate(rows):
        ratio = best[row[2]] / best[i]
        line = "%-24s %10.2f %12.0f %13.2fx" % (row[0], best[i] * 1e6,
                                                1 / best[i], ratio)
        bar = row[3] if len(row) > 3 else 0
        if bar:
            met = ratio >= bar
            missed += not met
            line += "  bar >= %.1fx: %s" % (bar, "met" if met else "NOT MET")
        print(line)
    return missed
