"""Loading PocketCache from Python's sqlite3 module, as the README shows.

Run with an interpreter whose sqlite3 can load extensions (Debian's
/usr/bin/python3):  python3 tests/test_python_load.py build/pocketcache.so
Values keep their Python type through the cache; two connections share it.
"""
import sqlite3
import sys


def connect(ext):
    conn = sqlite3.connect(":memory:")
    conn.enable_load_extension(True)
    conn.load_extension(ext)
    conn.enable_load_extension(False)
    return conn


def main():
    ext = sys.argv[1]
    a, b = connect(ext), connect(ext)
    passed = failed = 0

    def check(name, got, want):
        nonlocal passed, failed
        if got == want and type(got) is type(want):
            passed += 1
        else:
            failed += 1
            print(f"{name}: got {got!r}, want {want!r}")

    values = {"text": "héllo", "bytes": b"\x00\xff", "int": 2**62,
              "float": 1.5, "empty": "", "none": None}
    for key, value in values.items():
        a.execute("SELECT cache_set(?, ?, 60)", (key, value))
    for key, value in values.items():
        # Written on one connection, read on another: caches are per process.
        got = b.execute("SELECT cache_get(?)", (key,)).fetchone()[0]
        check(key, got, value)
    check("has none", b.execute("SELECT cache_has('none')").fetchone()[0], 1)
    check("miss", b.execute("SELECT cache_get('missing')").fetchone()[0], None)
    try:
        a.execute("SELECT cache_set('k', 'v', 0)")
        check("ttl error", "no error", "error")
    except sqlite3.OperationalError as e:
        check("ttl error", str(e),
              "cache_set: ttl must be a positive number of seconds, -1 or NULL")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
