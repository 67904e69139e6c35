/*
** test_oom: every SQL scenario with allocation N = 1, 2, 3, ... failing.
**
**   test_oom [scenario-name-prefix]
**
** A host program as any could be: SQLite's allocator is replaced with
** sqlite3_config(SQLITE_CONFIG_MALLOC) before SQLite starts, and the
** engine's with pc_set_allocator; both count into one sequence, so that
** "allocation N" is the N-th of either. The extension is linked in and
** registered with sqlite3_auto_extension.
**
** Each scenario has setup statements (run with nothing failing), one
** statement run with allocation N failing, and a check run after it with
** nothing failing. For each N, until the statement completes without
** reaching allocation N:
**   - the statement succeeds, or fails with SQLITE_NOMEM or an error
**     that says "out of memory" (never another error, never a crash or a
**     sanitizer report; CI runs this under ASan and UBSan too);
**   - the check holds: what the statement writes is there whole or not at
**     all (it returns one row whose first column is 1);
**   - once the connection is closed and the scenario's caches closed,
**     sqlite3_memory_used() and the engine's live bytes are back at what
**     they were before it began.
** hiredis allocates with malloc and aborts when that fails (it has no
** hook): the Redis backend is not covered (README, Tests).
*/
#include <sqlite3.h>

#include "pc_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- The failing allocators: one count for both ---- */
/* The engine's is pc_test.h's; SQLite's wraps its own allocator and fails
** through the same count. */

static sqlite3_mem_methods g_sqlite; /* SQLite's own, wrapped */

static void *sq_malloc(int n) {
  return pc_test_failing() ? NULL : g_sqlite.xMalloc(n);
}
static void *sq_realloc(void *p, int n) {
  return pc_test_failing() ? NULL : g_sqlite.xRealloc(p, n);
}

/* ---- Scenarios ---- */

typedef struct {
  const char *name;
  const char *setup; /* statements, nothing failing */
  const char *stmt;  /* one statement, allocation N failing */
  const char *check; /* one row, first column 1; or, when the statement
                        failed, "no such table" for the table it did not
                        make */
} scenario;

/* A value of 2,000 bytes, written in the statement: a value computed by
** another function (hex(zeroblob(n))) can reach cache_set already damaged
** when that function runs out of memory, since SQLite 3.40 gives a
** function no way to see that (README, Tests). */
#define B10 "0123456789"
#define B100 B10 B10 B10 B10 B10 B10 B10 B10 B10 B10
#define B500 B100 B100 B100 B100 B100
#define BIG B500 B500 B500 B500

/* A cache is filled with: */
#define FILL(c, blob)                                                          \
  "SELECT cache_set('k', 'old value', 60, '" c "');"                           \
  "SELECT cache_set('n', 41, NULL, '" c "');"                                  \
  "SELECT cache_set('b', " blob ", NULL, '" c "');"

/* Either value, never a third. */
#define OLD_OR_NEW(c, new)                                                     \
  "SELECT cache_get('k', '" c "') IN ('old value', " new ")"

#define BACKEND_SCENARIOS(tag, c, open, blob)                                  \
  {tag " get hit", open FILL(c, blob), "SELECT cache_get('k', '" c "')",       \
   OLD_OR_NEW(c, "'old value'")},                                              \
      {tag " get miss", open FILL(c, blob),                                    \
       "SELECT cache_get('nope', '" c "')",                                    \
       "SELECT cache_get('nope', '" c "') IS NULL"},                           \
      {tag " get blob", open FILL(c, blob), "SELECT cache_get('b', '" c "')",  \
       "SELECT cache_get('b', '" c "') = " blob},                              \
      {tag " set", open FILL(c, blob),                                         \
       "SELECT cache_set('k', 'a new value', 60, '" c "')",                    \
       OLD_OR_NEW(c, "'a new value'")},                                        \
      {tag " set new key", open FILL(c, blob),                                 \
       "SELECT cache_set('k2', '" BIG "', NULL, '" c "')",                     \
       "SELECT coalesce(cache_get('k2', '" c "') = '" BIG "', 1)"},            \
      {tag " add", open FILL(c, blob),                                         \
       "SELECT cache_add('a', 1, 60, '" c "')",                                \
       "SELECT coalesce(cache_get('a', '" c "') = 1, 1)"},                     \
      {tag " delete", open FILL(c, blob), "SELECT cache_delete('k', '" c "')", \
       OLD_OR_NEW(c, "NULL") " OR cache_get('k', '" c "') IS NULL"},           \
      {tag " incr", open FILL(c, blob),                                        \
       "SELECT cache_incr('n', 1, NULL, '" c "')",                             \
       "SELECT cache_get('n', '" c "') IN (41, 42)"},                          \
      {tag " touch", open FILL(c, blob),                                       \
       "SELECT cache_touch('k', 5, '" c "')", OLD_OR_NEW(c, "'old value'")},   \
      {tag " ttl", open FILL(c, blob), "SELECT cache_ttl('k', '" c "')",       \
       OLD_OR_NEW(c, "'old value'")},                                          \
      {tag " has", open FILL(c, blob), "SELECT cache_has('k', '" c "')",       \
       OLD_OR_NEW(c, "'old value'")},                                          \
      {tag " stats", open FILL(c, blob), "SELECT cache_stats('" c "')",        \
       OLD_OR_NEW(c, "'old value'")},                                          \
      {tag " clear", open FILL(c, blob), "SELECT cache_clear('" c "')",        \
       "SELECT (SELECT count(*) FROM pcache('" c "')) = 0 OR "                 \
       "cache_get('k', '" c "') = 'old value'"},                               \
      {tag " vtab scan", open FILL(c, blob),                                   \
       "SELECT key, value, ttl, expires_at, size FROM pcache('" c "')",        \
       OLD_OR_NEW(c, "'old value'")},                                          \
      {tag " vtab point", open FILL(c, blob),                                  \
       "SELECT value, ttl FROM pcache('" c "') WHERE key = 'k'",               \
       OLD_OR_NEW(c, "'old value'")},                                          \
      {tag " vtab insert", open FILL(c, blob),                                 \
       "INSERT INTO pcache(key, value, ttl, cache) VALUES ('v', 'vee', 60, "   \
       "'" c "')",                                                             \
       "SELECT coalesce(cache_get('v', '" c "') = 'vee', 1)"},                 \
      {tag " vtab update", open FILL(c, blob),                                 \
       "UPDATE pcache SET value = 'upd' WHERE cache = '" c "' AND key = 'k'",  \
       OLD_OR_NEW(c, "'upd'")},                                                \
      {tag " vtab delete", open FILL(c, blob),                                 \
       "DELETE FROM pcache WHERE cache = '" c "' AND key = 'k'",               \
       OLD_OR_NEW(c, "NULL") " OR cache_get('k', '" c "') IS NULL"},           \
      {tag " cache_query",                                                     \
       open FILL(c, blob) "CREATE TABLE t(x);"                                 \
                          "INSERT INTO t VALUES (1), (2);",                    \
       "SELECT cache_query('SELECT x FROM t ORDER BY x', 60, '" c "')",        \
       "SELECT cache_query('SELECT x FROM t ORDER BY x', 60, '" c              \
       "') = '[{\"x\":1},{\"x\":2}]'"},                                        \
  {                                                                            \
    tag " cache_query hit",                                                    \
        open FILL(c, blob) "CREATE TABLE t(x);"                                \
                           "INSERT INTO t VALUES (1), (2);"                    \
                           "SELECT cache_query('SELECT x FROM "                \
                           "t', 60, '" c "');",                                \
        "SELECT cache_query('SELECT x FROM t', 60, '" c "')",                  \
        "SELECT cache_query('SELECT x FROM t', 60, '" c                        \
        "') = '[{\"x\":1},{\"x\":2}]'"                                         \
  }

/* A filesystem cache, emptied: each attempt starts from the same store. */
#define FS_OPEN                                                                \
  "SELECT cache_open('f', json_object('backend', 'filesystem', "               \
  "'cache_dir', :dir)); SELECT cache_clear('f');"

#define CONFIG_C                                                               \
  "'{\"max_bytes\":\"1MB\",\"eviction\":\"lru\",\"default_ttl\":300}'"

static const scenario SCENARIOS[] = {
    BACKEND_SCENARIOS("memory", "default", "", "x'00ff00'"),
    BACKEND_SCENARIOS("bounded", "m",
                      "SELECT cache_open('m', '{\"max_entries\":3,"
                      "\"eviction\":\"sieve\"}');",
                      "x'00ff00'"),
    BACKEND_SCENARIOS("json", "j",
                      "SELECT cache_open('j', '{\"serializer\":\"json\"}');",
                      "'bee'"),
    BACKEND_SCENARIOS("filesystem", "f", FS_OPEN, "x'00ff00'"),
    /* In a UTF-16 database each TEXT argument is converted to UTF-8 for
    ** the engine, an allocation of its own. */
    {"utf16 set", "PRAGMA encoding = 'UTF-16le';",
     "SELECT cache_set('k16', 'sixteen bits')",
     "SELECT coalesce(cache_get('k16') = 'sixteen bits', 1)"},
    {"utf16 vtab insert", "PRAGMA encoding = 'UTF-16le';",
     "INSERT INTO pcache(key, value) VALUES ('v16', 'sixteen bits')",
     "SELECT coalesce(cache_get('v16') = 'sixteen bits', 1)"},
    /* The configuration is there whole or not at all: opening it again is
    ** a no-op or opens it, never "a different configuration". */
    {"config json", "", "SELECT cache_open('c', " CONFIG_C ")",
     "SELECT cache_open('c', " CONFIG_C ") IS NOT NULL"},
    {"config kv", "",
     "CREATE VIRTUAL TABLE c USING pcache(max_entries=10, serializer=json)",
     "SELECT (SELECT count(*) FROM c) = 0 AND cache_open('c', "
     "'{\"max_entries\":10,\"serializer\":\"json\"}') IS NOT NULL"},
    {"vtab declared write", "CREATE VIRTUAL TABLE c USING pcache();",
     "INSERT INTO c(key, value) VALUES ('x', 'y')",
     "SELECT coalesce((SELECT value FROM c WHERE key = 'x') = 'y', 1)"},
    {"view",
     "CREATE TABLE t(a, b); INSERT INTO t VALUES (1, 'one'), (2, 'two');"
     "CREATE VIRTUAL TABLE v USING pcache_view(sql='SELECT b FROM t "
     "WHERE a = ?1', ttl=60);",
     "SELECT * FROM v(2)", "SELECT (SELECT b FROM v(2)) = 'two'"},
    {"view create", "CREATE TABLE t(a, b); INSERT INTO t VALUES (1, 'one');",
     "CREATE VIRTUAL TABLE v USING pcache_view(sql='SELECT b FROM t WHERE a "
     "= ?1', ttl=60, invalidate=auto)",
     "SELECT (SELECT b FROM v(1)) = 'one'"},
};
#define NSCENARIOS (sizeof SCENARIOS / sizeof SCENARIOS[0])

static char g_dir[] = "/tmp/pc_oom.XXXXXX";
static int g_errors;
static int g_warm; /* the warm-up pass: memory not compared */

static void fail(const scenario *s, long n, const char *what, const char *msg) {
  fprintf(stderr, "test_oom: %s, allocation %ld failing: %s%s%s\n", s->name, n,
          what, msg ? ": " : "", msg ? msg : "");
  g_errors++;
}

/* Runs each statement of sql (":dir" bound to g_dir); 0 or the first
** error code, its message in *msg (sqlite3_free it). */
static int exec_all(sqlite3 *db, const char *sql, char **msg) {
  *msg = NULL;
  while (sql && *sql) {
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, &sql);
    if (rc == SQLITE_OK && st) {
      int i = sqlite3_bind_parameter_index(st, ":dir");
      if (i) rc = sqlite3_bind_text(st, i, g_dir, -1, SQLITE_STATIC);
      while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW)
        rc = SQLITE_OK;
      if (rc == SQLITE_DONE) rc = SQLITE_OK;
      sqlite3_finalize(st);
    }
    if (rc != SQLITE_OK) {
      *msg = sqlite3_mprintf("%s", sqlite3_errmsg(db));
      return rc;
    }
  }
  return SQLITE_OK;
}

/* One attempt with allocation n failing; true when it never got that far. */
static int attempt(const scenario *s, long n) {
  sqlite3_int64 base_sq = sqlite3_memory_used();
  size_t base_pc = pc_test_bytes;
  sqlite3 *db;
  char *msg = NULL;
  if (sqlite3_open(":memory:", &db) != SQLITE_OK) {
    fail(s, n, "open", NULL);
    return 1;
  }
  if (exec_all(db, s->setup, &msg) != SQLITE_OK) fail(s, n, "setup", msg);
  sqlite3_free(msg);

  pc_test_fail_after(n);
  int rc = exec_all(db, s->stmt, &msg);
  int done = pc_test_alloc_count < n; /* allocation n was never reached */
  pc_test_fail_after(0);
  if (rc != SQLITE_OK &&
      !(rc == SQLITE_NOMEM || (msg && strstr(msg, "out of memory"))))
    fail(s, n, "an error other than out of memory", msg);
  if (rc != SQLITE_OK && done) fail(s, n, "failed with nothing failing", msg);
  sqlite3_free(msg);

  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db, s->check, -1, &st, NULL) != SQLITE_OK) {
    if (rc == SQLITE_OK || strncmp(sqlite3_errmsg(db), "no such table", 13))
      fail(s, n, "check", sqlite3_errmsg(db));
  } else if (sqlite3_step(st) != SQLITE_ROW) {
    fail(s, n, "check", sqlite3_errmsg(db));
  } else if (sqlite3_column_int(st, 0) != 1) {
    fail(s, n, "check", "does not hold");
  }
  sqlite3_finalize(st);
  if (sqlite3_close(db) != SQLITE_OK) fail(s, n, "close", NULL);
  if (pc_test_close_all_caches() != PC_OK) fail(s, n, "close the caches", NULL);
  if (g_warm) return done;
  if (sqlite3_memory_used() != base_sq) {
    char m[80];
    snprintf(m, sizeof m, "%lld bytes, not %lld",
             (long long)sqlite3_memory_used(), (long long)base_sq);
    fail(s, n, "sqlite3_memory_used() not back", m);
  }
  if (pc_test_bytes != base_pc) {
    char m[80];
    snprintf(m, sizeof m, "%zu bytes, not %zu", (size_t)pc_test_bytes, base_pc);
    fail(s, n, "engine bytes not back", m);
  }
  return done;
}

int main(int argc, char **argv) {
  const char *only = argc > 1 ? argv[1] : "";
  alarm(300); /* under CTest's 600 s */
  if (sqlite3_config(SQLITE_CONFIG_GETMALLOC, &g_sqlite) != SQLITE_OK) return 1;
  sqlite3_mem_methods m = g_sqlite;
  m.xMalloc = sq_malloc;
  m.xRealloc = sq_realloc;
  if (sqlite3_config(SQLITE_CONFIG_MALLOC, &m) != SQLITE_OK ||
      sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 1) != SQLITE_OK) {
    fprintf(stderr, "test_oom: cannot install the allocator\n");
    return 1;
  }
  pc_test_use_failing_allocator();
  if (sqlite3_auto_extension((void (*)(void))sqlite3_pocketcache_init) !=
          SQLITE_OK ||
      !mkdtemp(g_dir))
    return 1;
  /* Once each with nothing failing: what the process allocates once and
  ** keeps (a thread's records, the registry's array) is made before the
  ** baselines. */
  g_warm = 1;
  for (size_t i = 0; i < NSCENARIOS; i++)
    attempt(&SCENARIOS[i], 0);
  g_warm = 0;
  long total = 0;
  for (size_t i = 0; i < NSCENARIOS; i++) {
    const scenario *s = &SCENARIOS[i];
    if (strncmp(s->name, only, strlen(only)) != 0) continue;
    long n = 1;
    while (n < 100000 && !attempt(s, n))
      n++;
    if (n >= 100000) fail(s, n, "never completed", NULL);
    printf("%-28s completes at allocation %ld\n", s->name, n);
    total += n;
  }
  char cmd[64];
  snprintf(cmd, sizeof cmd, "rm -rf %s", g_dir);
  if (system(cmd) != 0) g_errors++;
  printf("test_oom: %ld attempts, %d errors\n", total, g_errors);
  return g_errors ? 1 : 0;
}
