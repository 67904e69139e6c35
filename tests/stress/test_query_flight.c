/*
** test_query_flight: single flight of cache_query and pcache_view. 8
** threads, each with its own connection to one database file, ask for the
** same result at once; the statement calls a slow counting function, which
** must run once per round (the other 7 wait for the first and read what it
** stored).
**
**   test_query_flight EXTENSION [query|view|auto]
**
** query: cache_query; between rounds the key is deleted, as an expiry
**        would drop it.
** view:  the same through a pcache_view.
** auto:  a pcache_view with invalidate=auto; between rounds another
**        connection of the process inserts a row, and a connection that
**        read the view before the write reads the new rows after it.
*/
#include "../ext_conn.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define THREADS 8
#define ROUNDS 3
#define QUERY "SELECT slow_count() AS n, count(*) AS c FROM t"

static enum { MODE_QUERY, MODE_VIEW, MODE_AUTO } g_mode;

static const char *g_ext;
static char g_path[256];
static atomic_int g_calls; /* runs of slow_count() */
static int g_errors;
static pthread_barrier_t g_start;
static char g_results[THREADS][128];

/* slow_count(): counts its runs and takes 100 ms, so that all 8 threads
** miss while the first computes. */
static void slow_count(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc, (void)argv;
  int n = atomic_fetch_add(&g_calls, 1) + 1;
  struct timespec ts = {0, 100 * 1000 * 1000};
  nanosleep(&ts, NULL);
  sqlite3_result_int(ctx, n);
}

static sqlite3 *connect(void) {
  sqlite3 *db = ext_connect("test_query_flight", g_path, g_ext, 5000);
  if (db)
    sqlite3_create_function(db, "slow_count", 0, SQLITE_UTF8, NULL, slow_count,
                            NULL, NULL);
  return db;
}

static void *worker(void *arg) {
  int tid = (int)(size_t)arg;
  sqlite3 *db = connect();
  sqlite3_stmt *st = NULL;
  if (db)
    sqlite3_prepare_v2(db,
                       g_mode == MODE_QUERY
                           ? "SELECT cache_query('" QUERY "', 60)"
                           : "SELECT n || ',' || c FROM flight_view",
                       -1, &st, NULL);
  pthread_barrier_wait(&g_start);
  if (st && sqlite3_step(st) == SQLITE_ROW) {
    snprintf(g_results[tid], sizeof g_results[tid], "%s",
             (const char *)sqlite3_column_text(st, 0));
  } else {
    fprintf(stderr, "test_query_flight: thread %d: %s\n", tid,
            db ? sqlite3_errmsg(db) : "no connection");
    __atomic_add_fetch(&g_errors, 1, __ATOMIC_SEQ_CST);
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  return NULL;
}

static int exec(sqlite3 *db, const char *sql) {
  return ext_exec("test_query_flight", db, sql);
}

/* The one row of flight_view on db, "n,c", into out. */
static int read_view(sqlite3 *db, char *out, size_t n) {
  sqlite3_stmt *st = NULL;
  int ok = sqlite3_prepare_v2(db, "SELECT n || ',' || c FROM flight_view", -1,
                              &st, NULL) == SQLITE_OK &&
           sqlite3_step(st) == SQLITE_ROW;
  if (ok)
    snprintf(out, n, "%s", (const char *)sqlite3_column_text(st, 0));
  else
    fprintf(stderr, "test_query_flight: read: %s\n", sqlite3_errmsg(db));
  sqlite3_finalize(st);
  return ok;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: test_query_flight EXTENSION [query|view|auto]\n");
    return 2;
  }
  g_ext = argv[1];
  const char *mode = argc > 2 ? argv[2] : "query";
  g_mode = strcmp(mode, "view") == 0   ? MODE_VIEW
           : strcmp(mode, "auto") == 0 ? MODE_AUTO
                                       : MODE_QUERY;
  char dir[] = "/tmp/pc_flight_XXXXXX";
  if (!mkdtemp(dir)) return 1;
  snprintf(g_path, sizeof g_path, "%s/data.db", dir);
  sqlite3 *db = connect();
  int failed = !db || exec(db, "PRAGMA journal_mode=WAL; CREATE TABLE t(x);"
                               "INSERT INTO t VALUES (1), (2), (3);");
  if (!failed && g_mode != MODE_QUERY)
    failed =
        exec(db, g_mode == MODE_VIEW ? "CREATE VIRTUAL TABLE flight_view USING "
                                       "pcache_view(sql='" QUERY "', ttl=2)"
                                     : "CREATE VIRTUAL TABLE flight_view USING "
                                       "pcache_view(sql='" QUERY "', ttl=60, "
                                       "invalidate=auto)");
  sqlite3 *reader = g_mode == MODE_AUTO && !failed ? connect() : NULL;
  for (int r = 1; r <= ROUNDS && !failed; r++) {
    atomic_store(&g_calls, 0);
    memset(g_results, 0, sizeof g_results);
    pthread_barrier_init(&g_start, NULL, THREADS);
    pthread_t th[THREADS];
    for (int i = 0; i < THREADS; i++)
      pthread_create(&th[i], NULL, worker, (void *)(size_t)i);
    for (int i = 0; i < THREADS; i++)
      pthread_join(th[i], NULL);
    pthread_barrier_destroy(&g_start);
    int calls = atomic_load(&g_calls);
    printf("round %d: slow_count() ran %d time(s) for %d threads; result %s\n",
           r, calls, THREADS, g_results[0]);
    if (calls != 1 || g_errors) failed = 1;
    char want[64];
    if (g_mode == MODE_QUERY)
      snprintf(want, sizeof want, "[{\"n\":1,\"c\":3}]");
    else
      snprintf(want, sizeof want, "1,%d", g_mode == MODE_AUTO ? 2 + r : 3);
    for (int i = 0; i < THREADS; i++)
      if (strcmp(g_results[i], want) != 0) {
        fprintf(stderr, "test_query_flight: thread %d read %s, not %s\n", i,
                g_results[i], want);
        failed = 1;
      }
    if (g_mode == MODE_VIEW) { /* a real expiry */
      struct timespec ts = {2, 200 * 1000 * 1000};
      nanosleep(&ts, NULL);
      continue;
    }
    if (g_mode == MODE_QUERY) {
      /* What an expiry does: the key goes. */
      failed |= exec(db, "SELECT cache_delete(key) FROM pcache "
                         "WHERE key GLOB 'pcache:query:*'");
      continue;
    }
    /* A connection that has read the rows, another that writes. */
    char got[64];
    atomic_store(&g_calls, 100);
    if (!reader || !read_view(reader, got, sizeof got) ||
        strcmp(got, want) != 0 || atomic_load(&g_calls) != 100) {
      fprintf(stderr, "test_query_flight: before the write: %s\n", got);
      failed = 1;
    }
    failed |= exec(db, "INSERT INTO t VALUES (0)");
    snprintf(want, sizeof want, "101,%d", 3 + r);
    if (!reader || !read_view(reader, got, sizeof got) ||
        strcmp(got, want) != 0) {
      fprintf(stderr, "test_query_flight: after the write: %s, not %s\n", got,
              want);
      failed = 1;
    }
    printf("round %d: after another connection's write: %s\n", r, got);
    failed |= exec(db, "DELETE FROM t WHERE x = 0; INSERT INTO t VALUES (4)");
    /* The next round computes once more: the write changed the key. */
  }
  sqlite3_close(reader);
  sqlite3_close(db);
  if (ext_remove_tree("test_query_flight", dir)) failed = 1;
  printf("test_query_flight: %s\n", failed ? "FAILED" : "ok");
  return failed;
}
