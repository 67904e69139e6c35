/*
** test_threads: 4 threads, each with its own connection to one process,
** do 100k mixed operations on one cache through SQL; the final counters
** must be exact and every value read must be the one its key was given.
**
**   test_threads EXTENSION [memory|filesystem]
**
** With filesystem the cache is a store in a fresh temporary directory and
** the threads do 10k operations (each write is a transaction on disk).
*/
#include "../ext_conn.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define THREADS 4
static int OPS = 25000; /* per thread: 100k in all (memory) */

static const char *g_ext;
static int g_errors;
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;

static void fail(const char *what, sqlite3 *db) {
  pthread_mutex_lock(&g_mu);
  g_errors++;
  fprintf(stderr, "test_threads: %s: %s\n", what, db ? sqlite3_errmsg(db) : "");
  pthread_mutex_unlock(&g_mu);
}

static sqlite3 *connect(void) {
  return ext_connect("test_threads", ":memory:", g_ext, 0);
}

static sqlite3_int64 step_int(sqlite3 *db, sqlite3_stmt *st, const char *what) {
  sqlite3_int64 v = -1;
  if (sqlite3_step(st) == SQLITE_ROW)
    v = sqlite3_column_int64(st, 0);
  else
    fail(what, db);
  sqlite3_reset(st);
  return v;
}

static void *worker(void *arg) {
  int tid = (int)(size_t)arg;
  sqlite3 *db = connect();
  if (!db) {
    fail("connect", NULL);
    return NULL;
  }
  sqlite3_stmt *incr, *set, *get, *del;
  sqlite3_prepare_v2(db, "SELECT cache_incr('counter', 1, -1, 'threads')", -1,
                     &incr, NULL);
  sqlite3_prepare_v2(db, "SELECT cache_set(?1, ?2, NULL, 'threads')", -1, &set,
                     NULL);
  sqlite3_prepare_v2(db, "SELECT cache_get(?1, 'threads')", -1, &get, NULL);
  sqlite3_prepare_v2(db, "SELECT cache_delete(?1, 'threads')", -1, &del, NULL);
  char key[64];
  for (int i = 0; i < OPS; i++) {
    switch (i % 4) {
    case 0:
      step_int(db, incr, "incr");
      break;
    case 1: /* a key of this thread, valued i */
      snprintf(key, sizeof key, "t%d:%d", tid, i);
      sqlite3_bind_text(set, 1, key, -1, SQLITE_TRANSIENT);
      sqlite3_bind_int(set, 2, i);
      step_int(db, set, "set");
      break;
    case 2: /* reads it back: a hit with exactly that value */
      snprintf(key, sizeof key, "t%d:%d", tid, i - 1);
      sqlite3_bind_text(get, 1, key, -1, SQLITE_TRANSIENT);
      if (step_int(db, get, "get") != i - 1) fail("get: wrong value", NULL);
      break;
    default: /* and deletes it: it was there */
      snprintf(key, sizeof key, "t%d:%d", tid, i - 2);
      sqlite3_bind_text(del, 1, key, -1, SQLITE_TRANSIENT);
      if (step_int(db, del, "delete") != 1) fail("delete: missing", NULL);
    }
  }
  sqlite3_finalize(incr);
  sqlite3_finalize(set);
  sqlite3_finalize(get);
  sqlite3_finalize(del);
  sqlite3_close(db);
  return NULL;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: test_threads EXTENSION\n");
    return 2;
  }
  g_ext = argv[1];
  sqlite3 *db = connect();
  if (!db) return 1;
  char dir[] = "/tmp/pc_threads.XXXXXX";
  int fs = argc > 2 && strcmp(argv[2], "filesystem") == 0;
  char *open_sql;
  if (fs) {
    if (!mkdtemp(dir)) return 1;
    OPS = 2500;
    open_sql = sqlite3_mprintf("SELECT cache_open('threads', json_object("
                               "'backend', 'filesystem', 'cache_dir', %Q))",
                               dir);
  } else {
    open_sql = sqlite3_mprintf("SELECT cache_open('threads')");
  }
  char *err = NULL;
  if (sqlite3_exec(db, open_sql, NULL, NULL, &err) != SQLITE_OK) {
    fprintf(stderr, "test_threads: %s\n", err);
    return 1;
  }
  sqlite3_free(open_sql);
  pthread_t th[THREADS];
  for (int i = 0; i < THREADS; i++)
    pthread_create(&th[i], NULL, worker, (void *)(size_t)i);
  for (int i = 0; i < THREADS; i++)
    pthread_join(th[i], NULL);

  sqlite3_stmt *st;
  sqlite3_prepare_v2(db,
                     "SELECT cache_get('counter', 'threads'), entries, hits, "
                     "misses, sets, deletes FROM pcache_stats "
                     "WHERE cache = 'threads'",
                     -1, &st, NULL);
  int checks = 0, failed = g_errors;
  if (sqlite3_step(st) == SQLITE_ROW) {
    const sqlite3_int64 want[] = {THREADS * OPS / 4, 1,
                                  THREADS * OPS / 4, 0,
                                  THREADS * OPS / 2, THREADS * OPS / 4};
    const char *names[] = {"counter", "entries", "hits",
                           "misses",  "sets",    "deletes"};
    for (int i = 0; i < 6; i++) {
      checks++;
      sqlite3_int64 got = sqlite3_column_int64(st, i);
      if (got != want[i]) {
        failed++;
        fprintf(stderr, "test_threads: %s = %lld, want %lld\n", names[i],
                (long long)got, (long long)want[i]);
      }
    }
  } else {
    failed++;
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  if (fs) ext_remove_tree("test_threads", dir);
  printf("%d passed, %d failed\n", checks + 1 - (g_errors > 0), failed);
  return failed ? 1 : 0;
}
