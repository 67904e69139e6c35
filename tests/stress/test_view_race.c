/*
** test_view_race: a read that begins after a write has committed never
** returns rows from before it, under concurrency. One thread sets a
** counter row to 1, 2, ... N (each an autocommit UPDATE, in WAL mode) and
** publishes each value once its UPDATE has returned; 3 threads, each on
** its own connection, read the counter through a pcache_view with
** invalidate=auto and check that what they read is at least the value
** published before their read began. Every read that races a write must
** get either the old counter computed now or the new one; a stale entry
** stored under the new counters would show as a value below the mark.
**
**   test_view_race EXTENSION [memory|filesystem]
**
** memory: the default cache; filesystem: a cache in the test's directory.
*/
#include "../ext_conn.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WRITES 2000
#define READERS 3

static const char *g_ext;
static char *g_config; /* NULL: the default cache */
static char g_path[256];
static atomic_long g_published;
static atomic_int g_done, g_failed;
static atomic_long g_reads;

static sqlite3 *connect(void) {
  return ext_connect("test_view_race", g_path, g_ext, 10000);
}

static int exec(sqlite3 *db, const char *sql) {
  return ext_exec("test_view_race", db, sql);
}

static void *writer(void *arg) {
  (void)arg;
  sqlite3 *db = connect();
  sqlite3_stmt *st = NULL;
  if (!db || sqlite3_prepare_v2(db, "UPDATE counter SET v = ?1", -1, &st,
                                NULL) != SQLITE_OK) {
    atomic_store(&g_failed, 1);
  } else {
    for (long i = 1; i <= WRITES && !atomic_load(&g_failed); i++) {
      sqlite3_bind_int64(st, 1, i);
      if (sqlite3_step(st) != SQLITE_DONE) {
        fprintf(stderr, "test_view_race: write: %s\n", sqlite3_errmsg(db));
        atomic_store(&g_failed, 1);
      }
      sqlite3_reset(st);
      atomic_store(&g_published, i); /* committed: reads from now see it */
    }
  }
  atomic_store(&g_done, 1);
  sqlite3_finalize(st);
  sqlite3_close(db);
  return NULL;
}

static void *reader(void *arg) {
  (void)arg;
  sqlite3 *db = connect();
  sqlite3_stmt *st = NULL;
  if (!db || sqlite3_prepare_v2(db, "SELECT v FROM counter_view", -1, &st,
                                NULL) != SQLITE_OK) {
    fprintf(stderr, "test_view_race: reader: %s\n",
            db ? sqlite3_errmsg(db) : "no connection");
    atomic_store(&g_failed, 1);
  }
  while (st && !atomic_load(&g_done) && !atomic_load(&g_failed)) {
    long mark = atomic_load(&g_published);
    if (sqlite3_step(st) != SQLITE_ROW) {
      fprintf(stderr, "test_view_race: read: %s\n", sqlite3_errmsg(db));
      atomic_store(&g_failed, 1);
      break;
    }
    long got = (long)sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    if (got < mark) {
      fprintf(stderr,
              "test_view_race: read %ld after %ld had committed: stale\n", got,
              mark);
      atomic_store(&g_failed, 1);
    }
    atomic_fetch_add(&g_reads, 1);
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  return NULL;
}

/* The hits counted by the cache `name`, or -1. */
static long cache_hits(sqlite3 *db, const char *name) {
  sqlite3_stmt *st = NULL;
  long hits = -1;
  if (sqlite3_prepare_v2(db, "SELECT json_extract(cache_stats(?1), '$.hits')",
                         -1, &st, NULL) == SQLITE_OK) {
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW)
      hits = (long)sqlite3_column_int64(st, 0);
  }
  sqlite3_finalize(st);
  return hits;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: test_view_race EXTENSION [memory|filesystem]\n");
    return 2;
  }
  g_ext = argv[1];
  char dir[] = "/tmp/pc_view_race_XXXXXX";
  if (!mkdtemp(dir)) return 1;
  snprintf(g_path, sizeof g_path, "%s/data.db", dir);
  if (argc > 2 && strcmp(argv[2], "filesystem") == 0)
    g_config = sqlite3_mprintf(
        "{\"backend\":\"filesystem\",\"cache_dir\":\"%s/cache\"}", dir);
  sqlite3 *db = connect();
  int failed = !db;
  char *sql = sqlite3_mprintf(
      "PRAGMA journal_mode=WAL; CREATE TABLE counter(v INTEGER);"
      "INSERT INTO counter VALUES (0);"
      "CREATE VIRTUAL TABLE counter_view USING pcache_view(sql='SELECT v "
      "FROM counter', ttl=-1, invalidate=auto%s);",
      g_config ? ", cache=race" : "");
  if (!failed && g_config) {
    /* The cache is the process's: opened once, here. */
    char *open = sqlite3_mprintf("SELECT cache_open('race', %Q)", g_config);
    failed = exec(db, open);
    sqlite3_free(open);
  }
  if (!failed) failed = exec(db, sql);
  sqlite3_free(sql);
  if (!failed) {
    pthread_t w, r[READERS];
    for (int i = 0; i < READERS; i++)
      pthread_create(&r[i], NULL, reader, NULL);
    pthread_create(&w, NULL, writer, NULL);
    pthread_join(w, NULL);
    for (int i = 0; i < READERS; i++)
      pthread_join(r[i], NULL);
    failed = atomic_load(&g_failed);
    long hits = cache_hits(db, g_config ? "race" : "default");
    printf("test_view_race: %d writes, %ld reads (%ld served from the "
           "cache), cache %s\n",
           WRITES, atomic_load(&g_reads), hits,
           g_config ? g_config : "default");
    /* The test must have raced: reads while writes went on, some of them
    ** served from the cache (a view that never cached would pass the
    ** check of the values). */
    if (atomic_load(&g_reads) < 100 || hits < 1) {
      fprintf(stderr, "test_view_race: too few reads or no hit to mean "
                      "anything\n");
      failed = 1;
    }
  }
  sqlite3_close(db);
  sqlite3_free(g_config);
  if (ext_remove_tree("test_view_race", dir)) failed = 1;
  printf("test_view_race: %s\n", failed ? "FAILED" : "ok");
  return failed;
}
