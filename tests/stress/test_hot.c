/*
** test_hot: many threads hammer 1,000 hot keys of one cache through SQL.
**
**   test_hot EXTENSION memory|filesystem THREADS OPS
**
** Each thread has its own connection and does OPS operations drawn at
** random: get (about half), set with a short TTL (50-500 ms) or none,
** delete, has, ttl, incr on 64 counters, and a scan of the pcache table.
** A value carries its key and a checksum of it ("key|crc|writer|n"), so
** that a get or a scan row that returns another key's value, or a torn
** one, is caught. Any SQL error fails the test; at the end each counter
** holds exactly the increments made to it (counters never expire).
** stress.hot and stress.hot_fs run it (under ThreadSanitizer too, in CI).
*/
#include "../ext_conn.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define HOT 1000
#define COUNTERS 64
#define MAX_THREADS 64

static const char *g_ext;
static int g_ops;
static _Atomic int g_errors;
static _Atomic long g_incrs[COUNTERS]; /* increments made to each */
static _Atomic long g_hits, g_rows;

static void fail(const char *what, const char *detail) {
  if (atomic_fetch_add(&g_errors, 1) < 20)
    fprintf(stderr, "test_hot: %s%s%s\n", what, detail ? ": " : "",
            detail ? detail : "");
}

static uint32_t crc_of(const char *s) { /* FNV-1a: a checksum of the key */
  uint32_t h = 2166136261u;
  for (; *s; s++)
    h = (h ^ (unsigned char)*s) * 16777619u;
  return h;
}

/* Checks that value v belongs to key k: "k|crc(k)|writer|n". */
static void check_value(const char *k, const unsigned char *v, int n) {
  char want[64];
  int m = snprintf(want, sizeof want, "%s|%08x|", k, crc_of(k));
  if (!v || n < m || memcmp(v, want, (size_t)m) != 0) {
    char got[80];
    snprintf(got, sizeof got, "key %s, value %.*s", k, n > 60 ? 60 : n,
             v ? (const char *)v : "(null)");
    fail("a value that is not its key's", got);
  }
}

static uint64_t rnd(uint64_t *s) { /* xorshift64* */
  *s ^= *s >> 12;
  *s ^= *s << 25;
  *s ^= *s >> 27;
  return *s * 2685821657736338717ull;
}

enum { S_GET, S_SET, S_DEL, S_HAS, S_TTL, S_INCR, S_SCAN, NS };
static const char *const SQL[NS] = {
    "SELECT cache_get(?1, 'hot')",
    "SELECT cache_set(?1, ?2, ?3, 'hot')",
    "SELECT cache_delete(?1, 'hot')",
    "SELECT cache_has(?1, 'hot')",
    "SELECT cache_ttl(?1, 'hot')",
    "SELECT cache_incr(?1, 1, NULL, 'hot')",
    "SELECT key, value FROM pcache('hot') WHERE key >= ?1 LIMIT 20",
};

static void *worker(void *arg) {
  int tid = (int)(size_t)arg;
  uint64_t seed = 0x9E3779B97F4A7C15ull * (uint64_t)(tid + 1);
  sqlite3 *db = ext_connect("test_hot", ":memory:", g_ext, 10000);
  sqlite3_stmt *st[NS];
  if (!db) {
    fail("connect", NULL);
    return NULL;
  }
  for (int i = 0; i < NS; i++)
    if (sqlite3_prepare_v2(db, SQL[i], -1, &st[i], NULL) != SQLITE_OK) {
      fail("prepare", sqlite3_errmsg(db));
      return NULL;
    }
  char key[32], val[96];
  for (int i = 0; i < g_ops; i++) {
    uint64_t r = rnd(&seed);
    unsigned pick = (unsigned)(r % 100);
    int op = pick < 50   ? S_GET
             : pick < 75 ? S_SET
             : pick < 83 ? S_DEL
             : pick < 87 ? S_HAS
             : pick < 90 ? S_TTL
             : pick < 99 ? S_INCR
                         : S_SCAN;
    int c = (int)((r >> 32) % COUNTERS);
    if (op == S_INCR)
      snprintf(key, sizeof key, "n%02d", c);
    else
      snprintf(key, sizeof key, "k%03d", (int)((r >> 16) % HOT));
    sqlite3_stmt *s = st[op];
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    if (op == S_SET) {
      int n =
          snprintf(val, sizeof val, "%s|%08x|%d|%d", key, crc_of(key), tid, i);
      sqlite3_bind_text(s, 2, val, n, SQLITE_STATIC);
      if ((r >> 40) % 4) /* most with a TTL of 50-500 ms */
        sqlite3_bind_double(s, 3, (double)(50 + (r >> 44) % 451) / 1000);
      else
        sqlite3_bind_null(s, 3);
    }
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
      if (op == S_GET && sqlite3_column_type(s, 0) != SQLITE_NULL) {
        check_value(key, sqlite3_column_text(s, 0), sqlite3_column_bytes(s, 0));
        g_hits++;
      } else if (op == S_SCAN) {
        const unsigned char *k = sqlite3_column_text(s, 0);
        if (k && k[0] == 'k') {
          check_value((const char *)k, sqlite3_column_text(s, 1),
                      sqlite3_column_bytes(s, 1));
          g_rows++;
        }
      }
    }
    if (rc != SQLITE_DONE) fail(SQL[op], sqlite3_errmsg(db));
    if (op == S_INCR && rc == SQLITE_DONE) g_incrs[c]++;
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
  }
  for (int i = 0; i < NS; i++)
    sqlite3_finalize(st[i]);
  sqlite3_close(db);
  return NULL;
}

int main(int argc, char **argv) {
  if (argc < 5) {
    fprintf(stderr,
            "usage: test_hot EXTENSION memory|filesystem THREADS OPS\n");
    return 2;
  }
  g_ext = argv[1];
  int fs = strcmp(argv[2], "filesystem") == 0;
  int threads = atoi(argv[3]);
  g_ops = atoi(argv[4]);
  if (threads < 1 || threads > MAX_THREADS || g_ops < 1) return 2;
  alarm(900); /* a deadlock fails the test instead of hanging CI */
  sqlite3 *db = ext_connect("test_hot", ":memory:", g_ext, 10000);
  if (!db) return 1;
  char dir[] = "/tmp/pc_hot.XXXXXX", *open_sql;
  if (fs) {
    if (!mkdtemp(dir)) return 1;
    open_sql = sqlite3_mprintf("SELECT cache_open('hot', json_object('backend',"
                               " 'filesystem', 'cache_dir', %Q))",
                               dir);
  } else {
    open_sql = sqlite3_mprintf("SELECT cache_open('hot')");
  }
  if (ext_exec("test_hot", db, open_sql)) return 1;
  sqlite3_free(open_sql);
  pthread_t th[MAX_THREADS];
  for (int i = 0; i < threads; i++)
    pthread_create(&th[i], NULL, worker, (void *)(size_t)i);
  for (int i = 0; i < threads; i++)
    pthread_join(th[i], NULL);

  long total = 0;
  for (int c = 0; c < COUNTERS; c++) {
    char sql[64];
    sqlite3_stmt *st;
    snprintf(sql, sizeof sql, "SELECT cache_get('n%02d', 'hot')", c);
    sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    long got = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
    if (got != g_incrs[c]) {
      char m[64];
      snprintf(m, sizeof m, "n%02d = %ld, want %ld", c, got, (long)g_incrs[c]);
      fail("a counter lost increments", m);
    }
    total += got;
    sqlite3_finalize(st);
  }
  sqlite3_close(db);
  if (fs) {
    char cmd[64];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fail("rm", dir);
  }
  printf("test_hot %s: %d threads x %d operations: %ld hits, %ld scan rows "
         "checked, %ld increments, %d errors\n",
         argv[2], threads, g_ops, (long)g_hits, (long)g_rows, total,
         (int)g_errors);
  return g_errors ? 1 : 0;
}
