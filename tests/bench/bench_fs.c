/*
** bench_fs: the filesystem backend side by side with a hand-written SQLite
** cache table on the same settings, from C, in one run.
**
**   bench_fs EXTENSION [ops]
**   bench_fs EXTENSION ops N    (profiling: runs only operation N, silent)
**
** Everything lives in a fresh temporary directory, in WAL mode with
** synchronous=NORMAL (the backend's default):
**   table      CREATE TABLE cache(key TEXT PRIMARY KEY, value BLOB,
**              expires INTEGER) in its own database, on its own connection;
**              get: SELECT value FROM cache WHERE key = ?1 AND expires > ?2
**              set: INSERT OR REPLACE INTO cache VALUES (?1, ?2, ?3)
**   pc_get/set the C library (core/pocketcache.h) on a filesystem cache,
**              and gets on another with a 16 MB memory tier in front (its
**              store is written only before the rounds: any commit to a
**              store empties its tier)
**   SQL        SELECT cache_get(?1, 'fs') / cache_set(...) through the
**              extension on an application connection: the same store
**              plus the cost of one more statement per call
** 1,000 keys, 100-byte TEXT values with a one-hour TTL, keys cycled; each
** figure is the best of 100 short interleaved rounds. Bars (SPEC §9), C library
** against the table: get >= 1.0x, set >= 0.9x.
*/
#include "pocketcache.h"

#include <sqlite3.h>

#include "bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define NKEYS 1000
#define ROUNDS 100

static char g_keys[NKEYS][16];
static char g_value[101];
static sqlite3 *g_table, *g_app;
static sqlite3_stmt *g_tget, *g_tset, *g_sget, *g_sset;
static pc_cache *g_fs, *g_tier;

static void die(const char *what, const char *msg) {
  bench_die("bench_fs", what, msg);
}

static sqlite3_stmt *prep(sqlite3 *db, const char *sql) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
    die(sql, sqlite3_errmsg(db));
  return st;
}

static void step(sqlite3 *db, sqlite3_stmt *st) {
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW)
    bench_read_column(st, 0);
  else if (rc != SQLITE_DONE)
    die("step", sqlite3_errmsg(db));
  sqlite3_reset(st);
}

/* ---- The operations: key i ---- */

static void table_get(int i) {
  sqlite3_bind_text(g_tget, 1, g_keys[i], -1, SQLITE_STATIC);
  sqlite3_bind_int64(g_tget, 2, (sqlite3_int64)time(NULL));
  step(g_table, g_tget);
}
static void table_set(int i) {
  sqlite3_bind_text(g_tset, 1, g_keys[i], -1, SQLITE_STATIC);
  sqlite3_bind_text(g_tset, 2, g_value, 100, SQLITE_STATIC);
  sqlite3_bind_int64(g_tset, 3, (sqlite3_int64)time(NULL) + 3600);
  step(g_table, g_tset);
}
static void c_get(pc_cache *c, int i) {
  pc_value v;
  int rc = pc_get(c, g_keys[i], strlen(g_keys[i]), &v);
  if (rc != PC_OK) die("pc_get", pc_errmsg(c));
  pc_value_release(&v);
}
static void c_set(pc_cache *c, int i) {
  pc_value v = pc_text(g_value, 100);
  if (pc_set(c, g_keys[i], strlen(g_keys[i]), &v, 3600000, 0) != PC_OK)
    die("pc_set", pc_errmsg(c));
}
static void fs_get(int i) {
  c_get(g_fs, i);
}
static void fs_set(int i) {
  c_set(g_fs, i);
}
static void tier_get(int i) {
  c_get(g_tier, i);
}
static void sql_get(int i) {
  sqlite3_bind_text(g_sget, 1, g_keys[i], -1, SQLITE_STATIC);
  step(g_app, g_sget);
}
static void sql_set(int i) {
  sqlite3_bind_text(g_sset, 1, g_keys[i], -1, SQLITE_STATIC);
  sqlite3_bind_text(g_sset, 2, g_value, 100, SQLITE_STATIC);
  step(g_app, g_sset);
}

typedef struct {
  const char *name;
  void (*fn)(int i);
  int base; /* the row it is compared with */
  double bar;
  int write;
  double best;
} op_t;

static op_t g_ops[] = {
    {"table get", table_get, 0, 0, 0, 1e30},
    {"pc_get", fs_get, 0, 1.0, 0, 1e30},
    {"pc_get, memory tier", tier_get, 0, 0, 0, 1e30},
    {"SELECT cache_get (SQL)", sql_get, 0, 0, 0, 1e30},
    {"table set", table_set, 4, 0, 1, 1e30},
    {"pc_set", fs_set, 4, 0.9, 1, 1e30},
    {"SELECT cache_set (SQL)", sql_set, 4, 0, 1, 1e30},
};
#define NOPS ((int)(sizeof g_ops / sizeof g_ops[0]))

static void run_round(op_t *op, long ops) {
  double t0 = bench_now_s();
  for (long i = 0; i < ops; i++)
    op->fn((int)(i % NKEYS));
  double ns = (bench_now_s() - t0) * 1e9 / (double)ops;
  if (ns < op->best) op->best = ns;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: bench_fs EXTENSION [ops [N]]\n");
    return 2;
  }
  long ops = argc > 2 ? atol(argv[2]) : 200000;
  for (int i = 0; i < NKEYS; i++)
    snprintf(g_keys[i], 16, "key:%d", i);
  memset(g_value, 'v', 100);
  char dir[] = "/tmp/bench_fs.XXXXXX";
  if (!mkdtemp(dir)) return 1;
  char buf[512], err[PC_ERRMSG_MAX];

  /* The hand-written table. */
  snprintf(buf, sizeof buf, "%s/table.db", dir);
  if (sqlite3_open(buf, &g_table) != SQLITE_OK) die("open", buf);
  bench_exec("bench_fs", g_table,
             "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;"
             "CREATE TABLE cache(key TEXT PRIMARY KEY, value BLOB, "
             "expires INTEGER)");
  g_tget = prep(g_table, "SELECT value FROM cache WHERE key = ?1 "
                         "AND expires > ?2");
  g_tset = prep(g_table, "INSERT OR REPLACE INTO cache VALUES (?1, ?2, ?3)");

  /* The C library. */
  snprintf(buf, sizeof buf,
           "{\"backend\":\"filesystem\",\"cache_dir\":\"%s/fs\"}", dir);
  if (pc_cache_open("fs", buf, &g_fs, err, sizeof err) != PC_OK)
    die("pc_cache_open", err);
  snprintf(buf, sizeof buf,
           "{\"backend\":\"filesystem\",\"cache_dir\":\"%s/tier\","
           "\"local_max_bytes\":\"16MB\"}",
           dir);
  if (pc_cache_open("tier", buf, &g_tier, err, sizeof err) != PC_OK)
    die("pc_cache_open", err);

  /* The extension, on an application connection, on its own store. */
  g_app = bench_connect("bench_fs", ":memory:", argv[1]);
  snprintf(buf, sizeof buf,
           "SELECT cache_open('fs', json_object('backend', 'filesystem', "
           "'cache_dir', '%s/sql'))",
           dir);
  bench_exec("bench_fs", g_app, buf);
  g_sget = prep(g_app, "SELECT cache_get(?1, 'fs')");
  g_sset = prep(g_app, "SELECT cache_set(?1, ?2, 3600, 'fs')");

  for (int i = 0; i < NKEYS; i++) /* every key present everywhere */
    c_set(g_tier, i);
  for (int i = 0; i < NOPS; i++)
    if (g_ops[i].write) run_round(&g_ops[i], NKEYS);
  /* Every get below is a hit: the keys are in the table and in each cache
  ** (pc_get checks its own result). */
  for (int i = 0; i < NKEYS; i++) {
    sqlite3_bind_text(g_tget, 1, g_keys[i], -1, SQLITE_STATIC);
    sqlite3_bind_int64(g_tget, 2, (sqlite3_int64)time(NULL));
    sqlite3_bind_text(g_sget, 1, g_keys[i], -1, SQLITE_STATIC);
    if (sqlite3_step(g_tget) != SQLITE_ROW ||
        sqlite3_step(g_sget) != SQLITE_ROW ||
        sqlite3_column_bytes(g_tget, 0) != 100 ||
        sqlite3_column_bytes(g_sget, 0) != 100)
      die("fill", "a key is missing");
    sqlite3_reset(g_tget);
    sqlite3_reset(g_sget);
  }
  if (argc > 3) {
    run_round(&g_ops[atoi(argv[3])], ops);
  } else {
    for (int r = 0; r < ROUNDS; r++)
      for (int i = 0; i < NOPS; i++)
        run_round(&g_ops[i], (g_ops[i].write ? ops / 10 : ops) / ROUNDS);

    printf("bench_fs %s: filesystem backend vs a hand-written SQLite table, "
           "WAL, synchronous=NORMAL, from C, %ld gets and %ld sets each in "
           "%d interleaved rounds (best round), SQLite %s, %s\n",
           bench_date(), ops, ops / 10, ROUNDS, sqlite3_libversion(),
           bench_system());
    printf("%-26s %10s %12s %10s\n", "operation", "us/op", "ops/s", "vs table");
    int missed = 0;
    for (int i = 0; i < NOPS; i++) {
      op_t *o = &g_ops[i];
      double ratio = g_ops[o->base].best / o->best;
      printf("%-26s %10.2f %12.0f %9.2fx", o->name, o->best / 1000,
             1e9 / o->best, ratio);
      if (o->bar > 0) {
        printf("  bar >= %.1fx: %s", o->bar,
               ratio >= o->bar ? "met" : "NOT MET");
        missed += ratio < o->bar;
      }
      printf("\n");
    }
    printf("bars (SPEC section 9): %s\n", missed ? "not all met" : "all met");
  }
  sqlite3_finalize(g_tget);
  sqlite3_finalize(g_tset);
  sqlite3_finalize(g_sget);
  sqlite3_finalize(g_sset);
  sqlite3_close(g_table);
  sqlite3_close(g_app);
  pc_cache_release(g_fs);
  pc_cache_release(g_tier);
  pc_cache_close("fs");
  pc_cache_close("tier");
  snprintf(buf, sizeof buf, "rm -rf '%s'", dir);
  if (system(buf) != 0) fprintf(stderr, "could not remove %s\n", dir);
  return 0;
}
