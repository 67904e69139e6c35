#!/usr/bin/python3
"""report.py: every comparison of PocketCache, side by side in one run, with
each quality bar of SPEC section 9 marked met or not.

    /usr/bin/python3 tests/bench/report.py BUILD_DIR

BUILD_DIR is a Release build (tests/run bench makes build-bench and calls
this). It starts a redis-server on a free loopback port
(tests/redis_fixture.sh, stopped by its PID at the end), runs the
benchmarks one after the other, and writes, next to this script:

    results/report.md   the machine, the date, a table of the bars, and
                        each benchmark's whole output under the command
                        that made it
    results/bars.png    each bar's margin: measured / required (for an
                        upper bound, required / measured); 1 = just met
    results/policy.md, results/policy.png   from policy_report.sh

and puts into README.md the table of the bars, between the markers
<!-- bench:begin --> and <!-- bench:end -->, and each benchmark's output
between <!-- out:NAME:begin --> and <!-- out:NAME:end --> (BLOCKS below;
policy_report.sh puts policy.md between its own markers). It exits 1 when
a bar is missed, after writing everything.

A bar is any output line of the form
    <what>  <measured>[x|%| B| ms| points]  bar <op> <bound>...: met|NOT MET
the benchmarks print; this script adds none of its own except the Redis
tier's invalidation time, read from test_redis_tier's `procs:` line.
"""
import datetime
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile

# The short name of each benchmark (in the table and the plot) and what it
# compares (the report's headings).
TITLES = {
    "memory": "Memory backend vs SELECT ?1 and a :memory: table",
    "threads": "Thread scaling, 1 and 2 threads",
    "memory per entry": "Memory per entry beyond key and value",
    "eviction": "Eviction policies: hit ratios",
    "filesystem (C)": "Filesystem backend vs a hand-written WAL table (C)",
    "filesystem (Python)": "Filesystem backend vs python-diskcache",
    "redis (C)": "Redis backend vs hiredis (C)",
    "redis (Python)": "Redis backend vs redis-py",
    "redis tier": "Redis memory tier: invalidation from another process",
    "views": "Cached views and cache_query vs the statement",
    "profile": "Instructions and system calls per call (profile.sh)",
}
# README blocks: NAME -> (the step whose output it shows, the prefix of
# the lines it keeps, or None for all of them).
BLOCKS = {
    "bench_sql": ("memory", None),
    "bench_threads": ("threads", None),
    "bench_memory": ("memory per entry", None),
    "bench_fs": ("filesystem (C)", None),
    "bench_fs.py": ("filesystem (Python)", None),
    "bench_redis": ("redis (C)", None),
    "bench_view": ("views", None),
    "profile_sql": ("profile", "SELECT"),
    "profile_fs": ("profile", "bench_fs"),
}
HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
OUT = os.path.join(HERE, "results")
BAR = re.compile(r"^(?P<what>.*?)[\s:]+(?P<val>[-+]?[0-9.]+)"
                 r"(?P<unit>x|%| B| ms| points)?\s+bar (?P<op>>=|<=) "
                 r"(?P<bound>[0-9.]+)[^:]*: (?P<res>met|NOT MET)\s*$")


def machine():
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    debian = ""
    try:
        with open("/etc/debian_version") as f:
            debian = "Debian " + f.read().strip() + ", "
    except OSError:
        pass
    return "%s%s %s, %s, %d cores" % (debian, platform.system(),
                                     platform.machine(), cpu,
                                     os.cpu_count() or 0)


def run(cmd, may_fail=False):
    """The command's standard output and exit code, run from the top of
    the repository; its failure stops the report unless may_fail (a
    program whose own check failed still printed the figure it checked:
    the caller decides)."""
    print("report: " + " ".join(cmd), flush=True)
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, timeout=900, stdin=subprocess.DEVNULL,
                       cwd=TOP)
    if p.returncode != 0 and not may_fail:
        sys.stdout.write(p.stdout)
        sys.exit("report: %s failed (exit %d)" % (cmd[0], p.returncode))
    return p.stdout, p.returncode


def bars_of(text):
    out = []
    for line in text.splitlines():
        m = BAR.match(line.strip())
        if m:
            what = re.split(r"\s{2,}", m.group("what").strip())[0]
            out.append((what, float(m.group("val")), m.group("unit") or "",
                        m.group("op"), float(m.group("bound")),
                        m.group("res") == "met"))
    return out


def margin(b):
    what, val, unit, op, bound, met = b
    if op == ">=":
        return val / bound
    return bound / val if val > 0 else 10.0


def plot(rows, path):
    data = tempfile.NamedTemporaryFile("w", suffix=".dat", delete=False)
    for i, (section, b) in enumerate(rows):
        label = ("%s: %s" % (section, b[0])).replace('"', "'")
        if len(label) > 70:
            label = label[:67] + "..."
        data.write('%d "%s" %.4f %d\n' % (i, label, min(margin(b), 3.0),
                                          0x2e8b57 if b[5] else 0xcc2222))
    data.close()
    script = """
set terminal pngcairo size 1000,%d font "sans,9" noenhanced
set output "%s"
set title "Each bar of SPEC section 9: measured / required (bounds from above: required / measured); 1 = just met, capped at 3"
set style fill solid 0.85 noborder
set yrange [-0.6:%f] reverse
set xrange [0:3.05]
set xtics 0.5
set grid xtics
set arrow from 1, graph 0 to 1, graph 1 nohead lw 2 lc rgb "#000000"
unset key
plot "%s" using ($3 / 2):1:(0):3:($1 - 0.35):($1 + 0.35):4:ytic(2) \\
     with boxxyerror lc rgb variable
""" % (100 + 26 * len(rows), path, len(rows) - 0.4, data.name)
    try:
        subprocess.run(["gnuplot"], input=script, text=True, check=True)
    finally:
        os.unlink(data.name)


def replace_between(path, begin, end, text):
    with open(path) as f:
        s = f.read()
    a, b = s.find(begin), s.find(end)
    if a < 0 or b < a:
        sys.exit("report: %s has no %s ... %s" % (path, begin, end))
    s = s[:a + len(begin)] + "\n" + text.rstrip() + "\n" + s[b:]
    with open(path, "w") as f:
        f.write(s)


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: report.py BUILD_DIR")
    build = os.path.abspath(sys.argv[1])
    ext = os.path.join(build, "pocketcache.so")
    bench = os.path.join(build, "tests", "bench")
    os.makedirs(OUT, exist_ok=True)
    rdir = tempfile.mkdtemp(prefix="pc_report_redis.")
    fixture = os.path.join(TOP, "tests", "redis_fixture.sh")
    sections = []  # (title, command shown, output)
    try:
        run([fixture, "start", rdir])
        url = os.path.join(rdir, "url")
        steps = [
            ("memory",
             [os.path.join(bench, "bench_sql"), ext]),
            ("threads", [os.path.join(bench, "bench_threads"), ext]),
            ("memory per entry", [os.path.join(bench, "bench_memory")]),
            ("eviction",
             [os.path.join(HERE, "policy_report.sh"),
              os.path.relpath(build, TOP)]),
            ("filesystem (C)",
             [os.path.join(bench, "bench_fs"), ext]),
            ("filesystem (Python)",
             ["/usr/bin/python3", os.path.join(HERE, "bench_fs.py"), ext]),
            ("redis (C)",
             [os.path.join(bench, "bench_redis"), ext, url]),
            ("redis (Python)",
             ["/usr/bin/python3", os.path.join(HERE, "bench_redis.py"), ext,
              url]),
            ("redis tier",
             [os.path.join(build, "tests", "test_redis_tier")]),
            ("views",
             [os.path.join(bench, "bench_view"), ext]),
            ("profile", [os.path.join(HERE, "profile.sh"), build]),
        ]
        for title, cmd in steps:
            text, rc = run(cmd, may_fail=cmd[0].endswith("test_redis_tier"))
            if cmd[0].endswith("policy_report.sh"):
                with open(os.path.join(OUT, "policy.md")) as f:
                    text = f.read()
            if cmd[0].endswith("test_redis_tier"):
                m = re.search(r"^procs: .*?([0-9.]+) ms \(p95\)", text, re.M)
                if not m:
                    sys.exit("report: no procs: line from test_redis_tier")
                p95 = float(m.group(1))
                if rc != 0 and p95 <= 10:  # failed a check of its own
                    sys.stdout.write(text)
                    sys.exit("report: test_redis_tier failed (exit %d)" % rc)
                text = [l for l in text.splitlines()
                        if l.startswith(("procs:", "live:", "flush:", "ttl:",
                                         "drop:"))]
                text = "\n".join(text) + (
                    "\ninvalidation reaching another process's tier (p95): "
                    "%.2f ms  bar <= 10 ms: %s\n"
                    % (p95, "met" if p95 <= 10 else "NOT MET"))
            shown = " ".join(os.path.relpath(c, TOP) if c.startswith(TOP)
                             else c for c in cmd)
            sections.append((title, shown, text))
    finally:
        subprocess.run([fixture, "stop", rdir])
        shutil.rmtree(rdir, ignore_errors=True)

    rows = [(title, b) for title, _, text in sections for b in bars_of(text)]
    met = sum(1 for _, b in rows if b[5])
    date = datetime.date.today().isoformat()
    head = ("Made by `tests/run bench` on %s, on %s; SQLite %s. "
            "%d of %d bars met.\n\n"
            % (date, machine(), sqlite_version(), met, len(rows)))
    table = ["| area | bar (SPEC section 9) | measured | required | |",
             "|---|---|---|---|---|"]
    for title, (what, val, unit, op, bound, ok) in rows:
        u = unit if unit.strip() in ("points", "B", "ms") else unit.strip()
        table.append("| %s | %s | %g%s | %s %g%s | %s |"
                     % (title, what, val, u, op, bound, u,
                        "met" if ok else "**NOT MET**"))
    summary = head + "\n".join(table) + "\n"
    plot(rows, os.path.join(OUT, "bars.png"))
    with open(os.path.join(OUT, "report.md"), "w") as f:
        f.write("# PocketCache benchmark report\n\n" + summary)
        f.write("\n![bars](bars.png)\n\n![policies](policy.png)\n")
        for title, shown, text in sections:
            f.write("\n## %s\n\n`%s`\n\n```\n%s\n```\n"
                    % (TITLES[title], shown, text.rstrip()))
    readme = os.path.join(TOP, "README.md")
    replace_between(readme, "<!-- bench:begin -->", "<!-- bench:end -->",
                    summary)
    outputs = {title: text for title, _, text in sections}
    for name, (title, prefix) in BLOCKS.items():
        lines = [l for l in outputs[title].rstrip().splitlines()
                 if prefix is None or l.startswith(prefix)]
        replace_between(readme, "<!-- out:%s:begin -->" % name,
                        "<!-- out:%s:end -->" % name,
                        "```\n" + "\n".join(lines) + "\n```")
    print("report: wrote %s, %s; README.md updated; %d of %d bars met"
          % (os.path.join(OUT, "report.md"), os.path.join(OUT, "bars.png"),
             met, len(rows)))
    sys.exit(0 if met == len(rows) else 1)


def sqlite_version():
    import sqlite3
    return sqlite3.sqlite_version


if __name__ == "__main__":
    main()
