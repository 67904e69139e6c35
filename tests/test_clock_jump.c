/*
** test_clock_jump: the wall clock jumps by an hour either way (Debian's
** libfaketime) while caches hold entries with a TTL of 2 s. The memory
** backend and the memory tier expire on the monotonic clock: a jump
** changes nothing, the entries go 2 s after their set in real time. The
** filesystem backend stores wall-clock expiries: an entry may expire early
** (clock ahead) or late, but never outlives its TTL by more than the jump.
**
** The program re-executes itself with libfaketime preloaded, reading its
** offset from a file that the child rewrites ("+0", "+1h", "-1h") with the
** monotonic clocks left alone. Real time is read with the clock_gettime
** system call, which libfaketime does not intercept. A first check is the
** control that the fake clock moves CLOCK_REALTIME and SQLite's 'now' by
** an hour and leaves CLOCK_MONOTONIC alone: without it the rest proves
** nothing. One line per check, then the verdict.
**
**   test_clock_jump EXTENSION LIBFAKETIME
**
** LIBFAKETIME: libfaketime.so.1 (Debian package libfaketime, under
** /usr/lib/<multiarch>/faketime/). Its absence is a failure, not a skip.
*/
#define _GNU_SOURCE /* nftw */
#include "ext_conn.h"

#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define ME "test_clock_jump"
#define CHILD_ENV "PC_TEST_CLOCK_JUMP_DIR" /* set: this is the child */
#define HOUR 3600
#define TTL_SLACK 0.5    /* s: what cache_ttl may exceed TTL + jump by */
#define JUMP_SLACK 60000 /* ms: how far a jump may miss its hour */
#define CHILD_LIMIT 50   /* s: the child is killed after this */

static int g_fail;
static char g_clock_file[512]; /* libfaketime's offset, rewritten */
static sqlite3 *g_db;

/* ---- Reporting ---- */

static void vline(const char *tag, const char *fmt, va_list ap) {
  printf("  %-4s  ", tag);
  vprintf(fmt, ap);
  printf("\n");
  fflush(stdout);
}

/* One line per check: "ok" or "FAIL", then what was checked and seen. */
static void check(int ok, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vline(ok ? "ok" : "FAIL", fmt, ap);
  va_end(ap);
  if (!ok) g_fail = 1;
}

/* What is measured and reported, not required. */
static void info(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vline("info", fmt, ap);
  va_end(ap);
}

/* ---- Clocks ---- */

/* The clock as the process sees it (through libfaketime). */
static int64_t libc_ms(clockid_t id) {
  struct timespec ts;
  clock_gettime(id, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The kernel's clock, bypassing libfaketime's clock_gettime. */
static int64_t raw_ms(clockid_t id) {
  struct timespec ts;
  if (syscall(SYS_clock_gettime, id, &ts) != 0) return 0;
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t real_mono(void) {
  return raw_ms(CLOCK_MONOTONIC);
}

static const char *offset_name(int off) {
  return off > 0 ? "+1h" : off < 0 ? "-1h" : "+0";
}

/* Moves the wall clock to real time + off seconds (0, HOUR or -HOUR):
** rewrites the offset file (atomically: libfaketime rereads it on every
** call) and checks that the process sees it, and that the monotonic clock
** stayed put. A failure is reported (the first three); the caller goes
** on regardless. */
static void jump(int off) {
  char tmp[600];
  snprintf(tmp, sizeof tmp, "%s.tmp", g_clock_file);
  FILE *f = fopen(tmp, "w");
  if (!f || fprintf(f, "%s\n", offset_name(off)) < 0 || fclose(f) != 0 ||
      rename(tmp, g_clock_file) != 0) {
    check(0, "clock: writing %s: %s", g_clock_file, strerror(errno));
    return;
  }
  int64_t wall = libc_ms(CLOCK_REALTIME) - raw_ms(CLOCK_REALTIME);
  int64_t mono = libc_ms(CLOCK_MONOTONIC) - raw_ms(CLOCK_MONOTONIC);
  static int shown; /* a clock that does not work fails every jump */
  if (llabs(wall - (int64_t)off * 1000) <= JUMP_SLACK && llabs(mono) <= 1000)
    return;
  g_fail = 1;
  if (shown++ < 3)
    check(0,
          "clock: at %s the process's wall clock is %+.1f s from real "
          "time (want %+d), its monotonic clock %+.1f s (want 0)",
          offset_name(off), wall / 1e3, off, mono / 1e3);
}

/* Sleeps until the real monotonic clock reaches `at` ms; never more than
** 3 s in all (a longer wait is a bug of this test, reported). */
static void wait_until(int64_t at) {
  int64_t now = real_mono();
  if (at - now > 3000) {
    check(0, "wait: %.1f s is longer than this test allows", (at - now) / 1e3);
    return;
  }
  for (int i = 0; i < 1000 && (now = real_mono()) < at; i++) {
    int64_t ms = at - now < 50 ? at - now : 50;
    struct timespec ts = {0, (long)ms * 1000000};
    nanosleep(&ts, NULL);
  }
}

/* ---- SQL ---- */

typedef struct {
  int err, null;
  double num;
  char text[256];
} val;

/* The first column of sql's first row, with ?1 and ?2 bound as TEXT when
** not NULL. An error is reported (and err set). */
static val sql1(const char *sql, const char *a, const char *b) {
  val v = {.null = 1};
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_prepare_v2(g_db, sql, -1, &st, NULL);
  if (rc == SQLITE_OK && a) sqlite3_bind_text(st, 1, a, -1, SQLITE_TRANSIENT);
  if (rc == SQLITE_OK && b) sqlite3_bind_text(st, 2, b, -1, SQLITE_TRANSIENT);
  if (rc == SQLITE_OK) rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    v.null = sqlite3_column_type(st, 0) == SQLITE_NULL;
    v.num = sqlite3_column_double(st, 0);
    const unsigned char *t = sqlite3_column_text(st, 0);
    snprintf(v.text, sizeof v.text, "%s", t ? (const char *)t : "");
  } else {
    v.err = 1;
    snprintf(v.text, sizeof v.text, "error: %s", sqlite3_errmsg(g_db));
    check(0, "sql: %s [%s, %s]: %s", sql, a ? a : "", b ? b : "",
          sqlite3_errmsg(g_db));
  }
  sqlite3_finalize(st);
  return v;
}

static void set2(const char *key, const char *cache) {
  sql1("SELECT cache_set(?1, 'v', 2, ?2)", key, cache);
}
static val get(const char *key, const char *cache) {
  return sql1("SELECT cache_get(?1, ?2)", key, cache);
}
static val ttl(const char *key, const char *cache) {
  return sql1("SELECT cache_ttl(?1, ?2)", key, cache);
}
static long long tier_hits(const char *cache) {
  return (long long)sql1("SELECT json_extract(cache_stats(?1), '$.tier.hits')",
                         cache, NULL)
      .num;
}

static int is_v(val v) {
  return !v.err && !v.null && !strcmp(v.text, "v");
}
static int is_miss(val v) {
  return !v.err && v.null;
}
static int ttl_in(val v, double lo, double hi) {
  return !v.err && !v.null && v.num > lo && v.num <= hi;
}
/* At most the TTL plus the jump: absent, or ttl <= 2 + 3600 (+ slack). */
static int ttl_bounded(val v) {
  return !v.err && (v.null || v.num <= 2 + HOUR + TTL_SLACK);
}

/* A value as reported: 'text', a number, NULL. */
static const char *show(val v) {
  static char buf[4][300];
  static int i;
  char *p = buf[i++ % 4];
  if (v.err || v.null)
    snprintf(p, sizeof buf[0], "%s", v.err ? v.text : "NULL");
  else if (!strcmp(v.text, "v"))
    snprintf(p, sizeof buf[0], "'v'");
  else
    snprintf(p, sizeof buf[0], "%.3f", v.num);
  return p;
}

/* A get of k: a miss, or the failure says what, the key and what came. */
static void check_miss(const char *k, const char *cache, const char *what) {
  val g = get(k, cache);
  check(is_miss(g), "%s: get '%s' %s (want NULL)", what, k, show(g));
}

/* An entry a jump back may keep: a TTL of at most its own plus the jump,
** and a value exactly when there is a TTL. */
static int kept_within_jump(val g, val t) {
  return ttl_bounded(t) && (t.null ? is_miss(g) : is_v(g));
}

/* ---- The checks ---- */

/* The fake clock moves the wall clock by the hour, SQLite's 'now' with
** it, and leaves the monotonic clocks alone. */
static void control(void) {
  const char *now = "SELECT unixepoch('now')";
  jump(0);
  int64_t w0 = libc_ms(CLOCK_REALTIME), m0 = real_mono();
  double e0 = sql1(now, NULL, NULL).num;
  for (int off = HOUR; off >= -HOUR; off -= 2 * HOUR) {
    jump(off);
    int64_t w = libc_ms(CLOCK_REALTIME), m = real_mono();
    double e = sql1(now, NULL, NULL).num;
    double moved = ((w - w0) - (m - m0)) / 1e3;
    double mono = (libc_ms(CLOCK_MONOTONIC) - real_mono()) / 1e3;
    double coarse =
        (libc_ms(CLOCK_MONOTONIC_COARSE) - raw_ms(CLOCK_MONOTONIC_COARSE)) /
        1e3;
    int ok = moved > off - 60 && moved < off + 60 && e - e0 > off - 60 &&
             e - e0 < off + 60 && mono > -1 && mono < 1 && coarse > -1 &&
             coarse < 1;
    check(ok,
          "control: at %s CLOCK_REALTIME moved %+.1f s, unixepoch('now') "
          "%+.0f s (want %+d +- 60); CLOCK_MONOTONIC %+.3f s, "
          "CLOCK_MONOTONIC_COARSE %+.3f s from the kernel's (want 0)",
          offset_name(off), moved, e - e0, off, mono, coarse);
  }
  jump(0);
}

/* A memory entry set at set_at (real ms) with a TTL of 2 s, read before
** its expiry: it is there and its ttl in (0, 2]. A read that a stalled
** process made 2 s or more after the set is reported, not judged. */
static void fresh(const char *key, int64_t set_at, const char *what) {
  val g = get(key, "m"), t = ttl(key, "m");
  int ok = is_v(g) && ttl_in(t, 0, 2);
  double late = (real_mono() - set_at) / 1e3;
  if (!ok && late >= 2)
    info("memory: %s: read %.2f s after the set, too late to judge", what,
         late);
  else
    check(ok, "memory: %s: get '%s' %s, ttl %s (want 'v', ttl in (0, 2])", what,
          key, show(g), show(t));
}

/* A memory cache: the jumps change nothing. */
static void memory_cache(void) {
  char what[100];
  sql1("SELECT cache_open('m', ?1)", "{\"backend\":\"memory\"}", NULL);
  jump(0);
  int64_t t_k = real_mono();
  set2("k", "m");
  for (int off = HOUR; off >= -HOUR; off -= 2 * HOUR) {
    jump(off);
    snprintf(what, sizeof what, "at %s, 'k' set at +0 (TTL 2 s)",
             offset_name(off));
    fresh("k", t_k, what);
  }
  /* Set at -1h, read at +0: a wall-clock expiry would be past. */
  int64_t t_k2 = real_mono();
  set2("k2", "m");
  jump(0);
  fresh("k2", t_k2, "at +0, 'k2' set at -1h (TTL 2 s)");
  /* Set at +1h, read at +0: a wall-clock expiry would be an hour away. */
  jump(HOUR);
  int64_t t_k3 = real_mono();
  set2("k3", "m");
  jump(0);
  fresh("k3", t_k3, "at +0, 'k3' set at +1h (TTL 2 s)");
  /* Not early: still there 1.6 s after the set, whatever the clock. */
  wait_until(t_k + 1600);
  for (int off = -HOUR; off <= HOUR; off += HOUR) {
    jump(off);
    snprintf(what, sizeof what, "1.6 s after the set, at %s", offset_name(off));
    fresh("k", t_k, what);
  }
  /* Not late: gone 2.2 s after the set, whatever the clock. */
  wait_until(t_k + 2200);
  for (int off = -HOUR; off <= HOUR; off += HOUR) {
    jump(off);
    val g = get("k", "m"), t = ttl("k", "m");
    check(is_miss(g) && is_miss(t),
          "memory: 2.2 s after the set, at %s: get 'k' %s, ttl %s (want NULL, "
          "NULL)",
          offset_name(off), show(g), show(t));
  }
  wait_until(t_k2 + 2200);
  jump(-HOUR);
  val g = get("k2", "m");
  jump(0);
  val g0 = get("k2", "m");
  check(is_miss(g) && is_miss(g0),
        "memory: 'k2' (set at -1h) 2.2 s later: get at -1h %s, at +0 %s "
        "(want NULL)",
        show(g), show(g0));
  wait_until(t_k3 + 2200);
  check_miss("k3", "m",
             "memory: set at +1h, 2.2 s later, at +0 (not an hour later)");
}

/* A filesystem cache: expiries are wall-clock ms; a jump back keeps an
** entry at most an hour longer, a jump ahead expires it early. */
static void filesystem_cache(const char *dir) {
  sql1("SELECT cache_open('f', json_object('backend', 'filesystem', "
       "'cache_dir', ?1))",
       dir, NULL);
  jump(0);
  int64_t t_k = real_mono();
  set2("k", "f");
  jump(-HOUR);
  val g = get("k", "f"), t = ttl("k", "f");
  check(kept_within_jump(g, t),
        "filesystem: at -1h, 'k' (set at +0, TTL 2 s): get %s, ttl %s (want "
        "ttl <= 3602, the entry may stay)",
        show(g), show(t));
  jump(HOUR);
  g = get("k", "f"), t = ttl("k", "f");
  check(is_miss(g) && is_miss(t),
        "filesystem: at +1h, 'k': get %s, ttl %s (want NULL, NULL: expired "
        "early)",
        show(g), show(t));
  set2("k2", "f");
  jump(0);
  g = get("k2", "f"), t = ttl("k2", "f");
  check(kept_within_jump(g, t),
        "filesystem: at +0, 'k2' (set at +1h, TTL 2 s): get %s, ttl %s (want "
        "ttl <= 3602)",
        show(g), show(t));
  wait_until(t_k + 2200);
  check_miss("k", "f", "filesystem: at +0, 2.2 s after the set");
}

/* A filesystem cache with a memory tier: the tier's copy expires on the
** monotonic clock, the store's on the wall clock. */
static void tiered_cache(const char *dir) {
  sql1("SELECT cache_open('t', json_object('backend', 'filesystem', "
       "'cache_dir', ?1, 'local_max_bytes', 1048576))",
       dir, NULL);
  jump(0);
  int64_t t_k = real_mono();
  set2("k", "t");
  val g = get("k", "t"); /* fills the tier */
  long long tier_entries =
      (long long)sql1("SELECT json_extract(cache_stats('t'), "
                      "'$.tier.entries')",
                      NULL, NULL)
          .num;
  check(is_v(g) && tier_entries == 1,
        "tier: at +0, 'k' (TTL 2 s) read once: get %s, tier entries %lld "
        "(want 'v', 1)",
        show(g), tier_entries);
  jump(HOUR);
  long long h = tier_hits("t");
  g = get("k", "t");
  val t = ttl("k", "t");
  info("tier: at +1h, before the tier's expiry: get %s (%s), ttl %s (the "
       "store's)",
       show(g), tier_hits("t") > h ? "served by the tier" : "not the tier",
       show(t));
  jump(-HOUR);
  g = get("k", "t"), t = ttl("k", "t");
  check(ttl_bounded(t) && !g.err,
        "tier: at -1h, 'k': get %s, ttl %s (want ttl <= 3602)", show(g),
        show(t));
  wait_until(t_k + 2200);
  jump(0);
  g = get("k", "t");
  jump(HOUR);
  val g1 = get("k", "t");
  check(is_miss(g) && is_miss(g1),
        "tier: 2.2 s after the set: get 'k' at +0 %s, at +1h %s (want NULL)",
        show(g), show(g1));
  /* Behind the clock the store still has it, and a read refills the tier
  ** with the time the store says is left. */
  jump(-HOUR);
  g = get("k", "t"), t = ttl("k", "t");
  check(ttl_bounded(t),
        "tier: 2.2 s after the set, at -1h: get %s, ttl %s (want ttl <= "
        "3602)",
        show(g), show(t));
  jump(0);
  h = tier_hits("t");
  g = get("k", "t"), t = ttl("k", "t");
  info("tier: then back at +0: get %s (%s), ttl %s (the store's)", show(g),
       tier_hits("t") > h ? "served by the tier" : "not the tier", show(t));
}

static int child(const char *ext, const char *dir) {
  snprintf(g_clock_file, sizeof g_clock_file, "%s/faketime.rc", dir);
  g_db = ext_connect(ME, ":memory:", ext, 0);
  if (!g_db) return 1;
  char fs[600], tier[600];
  snprintf(fs, sizeof fs, "%s/fs", dir);
  snprintf(tier, sizeof tier, "%s/tier", dir);
  control();
  memory_cache();
  filesystem_cache(fs);
  tiered_cache(tier);
  jump(0);
  sqlite3_close(g_db);
  return g_fail;
}

/* ---- The parent: environment, child, cleanup ---- */

static int rm_one(const char *path, const struct stat *st, int flag,
                  struct FTW *ftw) {
  (void)st, (void)flag, (void)ftw;
  return remove(path);
}

/* Appends " value" to the variable (or sets it); sep between the two. */
static int env_append(const char *name, const char *sep, const char *value) {
  const char *old = getenv(name);
  char buf[4096];
  if (old && *old)
    snprintf(buf, sizeof buf, "%s%s%s", old, sep, value);
  else
    snprintf(buf, sizeof buf, "%s", value);
  return setenv(name, buf, 1);
}

/* Runs the child and waits for it, at most CHILD_LIMIT s. */
static int run_child(char **argv) {
  pid_t pid = fork();
  if (pid < 0) {
    perror(ME ": fork");
    return 1;
  }
  if (pid == 0) {
    execv("/proc/self/exe", argv);
    perror(ME ": exec /proc/self/exe");
    _exit(127);
  }
  int status = 0;
  for (int i = 0; i < CHILD_LIMIT * 10; i++) {
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) break;
    if (r < 0) {
      perror(ME ": waitpid");
      return 1;
    }
    struct timespec ts = {0, 100000000};
    nanosleep(&ts, NULL);
    if (i == CHILD_LIMIT * 10 - 1) {
      fprintf(stderr, ME ": the child ran over %d s: killed\n", CHILD_LIMIT);
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      return 1;
    }
  }
  if (WIFSIGNALED(status)) {
    fprintf(stderr, ME ": the child died of signal %d\n", WTERMSIG(status));
    return 1;
  }
  return !WIFEXITED(status) || WEXITSTATUS(status) != 0;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: " ME " EXTENSION LIBFAKETIME\n");
    return 2;
  }
  const char *dir = getenv(CHILD_ENV);
  if (dir) return child(argv[1], dir);

  if (access(argv[2], R_OK) != 0) {
    fprintf(stderr,
            ME ": %s: %s: install libfaketime (Debian: apt-get install "
               "libfaketime) to run this test\n",
            argv[2], strerror(errno));
    printf(ME ": FAILED\n");
    return 1;
  }
  char tmpl[] = "/tmp/pc_test_clock_jump.XXXXXX";
  if (!mkdtemp(tmpl)) {
    perror(ME ": mkdtemp");
    return 1;
  }
  char rc_file[600];
  snprintf(rc_file, sizeof rc_file, "%s/faketime.rc", tmpl);
  FILE *f = fopen(rc_file, "w");
  int bad = !f || fputs("+0\n", f) < 0;
  if (f && fclose(f) != 0) bad = 1;
  /* FAKETIME would take priority over the file. libfaketime 0.9.10 leaves
  ** the monotonic clocks alone with FAKETIME_DONT_FAKE_MONOTONIC (its
  ** README's name) or DONT_FAKE_MONOTONIC (the older one): both are set.
  ** An ASan runtime must otherwise come first among preloaded libraries. */
  unsetenv("FAKETIME");
  if (bad || env_append("LD_PRELOAD", " ", argv[2]) ||
      setenv("FAKETIME_TIMESTAMP_FILE", rc_file, 1) ||
      setenv("FAKETIME_NO_CACHE", "1", 1) ||
      setenv("FAKETIME_DONT_FAKE_MONOTONIC", "1", 1) ||
      setenv("DONT_FAKE_MONOTONIC", "1", 1) ||
      env_append("ASAN_OPTIONS", ":", "verify_asan_link_order=0") ||
      setenv(CHILD_ENV, tmpl, 1)) {
    perror(ME ": setup");
    bad = 1;
  }
  fflush(stdout);
  if (!bad) bad = run_child(argv);
  if (nftw(tmpl, rm_one, 16, FTW_DEPTH | FTW_PHYS) != 0) {
    fprintf(stderr, ME ": cleanup of %s failed\n", tmpl);
    bad = 1;
  }
  printf(ME ": %s\n", bad ? "FAILED" : "ok");
  return bad;
}
