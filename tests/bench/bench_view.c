/*
** bench_view: cached query results against the statement they cache, and
** a hit against a plain cache_get of the same stored bytes.
**
**   bench_view EXTENSION
**
** The data: a table of 100,000 orders (id, user_id, region, total) in a
** WAL database file. The statement: an aggregate over all of it,
**   SELECT region, count(*) AS n, sum(total) AS total, avg(total) AS avg
**   FROM orders GROUP BY region ORDER BY region     (8 rows)
** run as it is, through a pcache_view (without and with invalidate=auto)
** and through cache_query, on the memory backend. Then, for the overhead
** of a hit itself, the bytes that the view and cache_query stored are put
** under a plain key and read with cache_get. Every statement is prepared
** once and stepped to its last row, each column read as its type. Each
** figure is the best of 20 interleaved rounds (rounds of 20 runs for the
** statement itself, 20,000 for the others).
**
** What invalidate=auto costs a writer: 10,000 rows inserted in one
** transaction into a table that a view watches (its triggers set a
** counter per row) and into the same table unwatched; best of 10 rounds.
*/
#include <sqlite3.h>

#include "bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NROWS 100000
#define ROUNDS 20

#define AGGREGATE                                                              \
  "SELECT region, count(*) AS n, sum(total) AS total, avg(total) AS avg "      \
  "FROM orders GROUP BY region ORDER BY region"

typedef struct {
  const char *name;
  const char *sql;
  long ops; /* per round */
  sqlite3_stmt *st;
  double best; /* ns per run */
} bench_op;

static sqlite3 *g_db;

static void exec(const char *sql) {
  bench_exec("bench_view", g_db, sql);
}

/* Runs st to its end, reading every column. */
static void drain(bench_op *op) {
  int rc;
  while ((rc = sqlite3_step(op->st)) == SQLITE_ROW) {
    int n = sqlite3_column_count(op->st);
    for (int i = 0; i < n; i++)
      bench_read_column(op->st, i);
  }
  if (rc != SQLITE_DONE) bench_die("bench_view", op->sql, sqlite3_errmsg(g_db));
  sqlite3_reset(op->st);
}

static void round_of(bench_op *op) {
  double t0 = bench_now_s();
  for (long i = 0; i < op->ops; i++)
    drain(op);
  double ns = (bench_now_s() - t0) * 1e9 / (double)op->ops;
  if (ns < op->best) op->best = ns;
}

/* The stored value under the first key of the view's or cache_query's
** entries, copied to `name` with cache_set. */
static void copy_entry(const char *glob_type, const char *name) {
  char *sql =
      sqlite3_mprintf("SELECT cache_set(%Q, value) FROM pcache WHERE key GLOB "
                      "'pcache:query:*' AND typeof(value) = %Q LIMIT 1",
                      name, glob_type);
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(g_db, sql, -1, &st, NULL) != SQLITE_OK ||
      sqlite3_step(st) != SQLITE_ROW)
    bench_die("bench_view", sql, sqlite3_errmsg(g_db));
  sqlite3_finalize(st);
  sqlite3_free(sql);
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: bench_view EXTENSION\n");
    return 2;
  }
  char dir[] = "/tmp/pc_bench_view_XXXXXX";
  if (!mkdtemp(dir)) bench_die("bench_view", "mkdtemp", "failed");
  char path[128];
  snprintf(path, sizeof path, "%s/orders.db", dir);
  g_db = bench_connect("bench_view", path, argv[1]);
  exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
       "CREATE TABLE orders(id INTEGER PRIMARY KEY, user_id INTEGER, "
       "region TEXT, total REAL);"
       "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s "
       "WHERE i < 100000) INSERT INTO orders SELECT i, i % 1000, "
       "'region-' || (i % 8), (i * 7919 % 10000) / 100.0 FROM s;"
       "CREATE VIRTUAL TABLE region_totals USING pcache_view(sql='" AGGREGATE
       "', ttl=-1);"
       "CREATE VIRTUAL TABLE region_totals_auto USING pcache_view(sql='"
       "SELECT region, count(*) AS n, sum(total) AS total, avg(total) AS avg "
       "FROM orders GROUP BY region ORDER BY region -- auto', ttl=-1, "
       "invalidate=auto);");

  bench_op ops[] = {
      {"statement itself", AGGREGATE, 20, NULL, 1e30},
      {"pcache_view hit", "SELECT * FROM region_totals", 20000, NULL, 1e30},
      {"pcache_view hit, auto", "SELECT * FROM region_totals_auto", 20000, NULL,
       1e30},
      {"cache_get, same bytes", "SELECT cache_get('view-bytes')", 20000, NULL,
       1e30},
      {"cache_query hit", "SELECT cache_query('" AGGREGATE "', -1)", 20000,
       NULL, 1e30},
      {"cache_get, same bytes ", "SELECT cache_get('query-bytes')", 20000, NULL,
       1e30},
  };
  int nops = (int)(sizeof ops / sizeof ops[0]);
  /* Fill the cache (the first run of each is a miss), then copy. */
  for (int i = 0; i < nops; i++) {
    if (i == 3) copy_entry("blob", "view-bytes");
    if (i == 5) copy_entry("text", "query-bytes");
    if (sqlite3_prepare_v2(g_db, ops[i].sql, -1, &ops[i].st, NULL) != SQLITE_OK)
      bench_die("bench_view", ops[i].sql, sqlite3_errmsg(g_db));
    drain(&ops[i]);
  }
  for (int r = 0; r < ROUNDS; r++)
    for (int i = 0; i < nops; i++)
      round_of(&ops[i]);

  printf("bench_view %s: cached results of an aggregate over %d rows (8 "
         "result rows), memory backend, one connection, best of %d rounds\n",
         argv[1], NROWS, ROUNDS);
  printf("run on %s, %s; command: bench_view EXTENSION\n", bench_date(),
         bench_system());
  printf("%-24s %12s %12s %12s\n", "operation", "us/run", "runs/s",
         "vs statement");
  for (int i = 0; i < nops; i++)
    printf("%-24s %12.2f %12.0f %11.0fx\n", ops[i].name, ops[i].best / 1e3,
           1e9 / ops[i].best, ops[0].best / ops[i].best);
  printf("speed-up of a view hit over the statement: %.0fx (auto: %.0fx)\n",
         ops[0].best / ops[1].best, ops[0].best / ops[2].best);
  printf("a view hit costs %.2fx a cache_get of its bytes (%+.0f ns: 8 rows "
         "decoded and stepped), with auto %.2fx (%+.0f ns: the change "
         "counters read)\n",
         ops[1].best / ops[3].best, ops[1].best - ops[3].best,
         ops[2].best / ops[3].best, ops[2].best - ops[3].best);
  printf("a cache_query hit costs %.2fx a cache_get of its bytes (%+.0f ns)\n",
         ops[4].best / ops[5].best, ops[4].best - ops[5].best);
  for (int i = 0; i < nops; i++)
    sqlite3_finalize(ops[i].st);

  /* Writes to a watched table against the same writes unwatched. */
  exec("CREATE TABLE plain(id INTEGER PRIMARY KEY, user_id INTEGER, "
       "total REAL);"
       "CREATE TABLE watched(id INTEGER PRIMARY KEY, user_id INTEGER, "
       "total REAL);"
       "CREATE VIRTUAL TABLE watched_view USING pcache_view(sql='SELECT "
       "count(*) AS n FROM watched', invalidate=auto);");
  const char *ins[2] = {
      "BEGIN; DELETE FROM plain; WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL "
      "SELECT i + 1 FROM s WHERE i < 10000) INSERT INTO plain SELECT i, i % "
      "100, i / 7.0 FROM s; COMMIT;",
      "BEGIN; DELETE FROM watched; WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL "
      "SELECT i + 1 FROM s WHERE i < 10000) INSERT INTO watched SELECT i, i % "
      "100, i / 7.0 FROM s; COMMIT;"};
  double best[2] = {1e30, 1e30};
  for (int r = 0; r < 10; r++)
    for (int k = 0; k < 2; k++) {
      double t0 = bench_now_s();
      exec(ins[k]);
      double us = (bench_now_s() - t0) * 1e6;
      if (us < best[k]) best[k] = us;
    }
  printf("writes: 10,000 rows deleted and 10,000 inserted in one transaction: "
         "%.0f us unwatched, %.0f us watched by an invalidate=auto view "
         "(%.2fx, %+.2f us per row changed)\n",
         best[0], best[1], best[1] / best[0], (best[1] - best[0]) / 20000);
  sqlite3_close(g_db);
  char cmd[160];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  return system(cmd) == 0 ? 0 : 1;
}
