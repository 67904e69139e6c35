/*
** test_hot: many threads hammer 1,000 hot keys of one cache through SQL.
**
**   test_hot EXTENSION memory|filesystem THREADS OPS
**
** Each thread has its own connection and does OPS operations drawn at
** random: get (about half), set with a short TTL (50-500 ms) or none,
** delete, has, ttl, incr on 64 counters, and a scan of the pcache table.
** A value carries its key, its writer and sequence number, and a checksum
** of those ("key|writer|n|crc"), so that a get or a scan row that returns
** another key's value, or a torn one, is caught. Any SQL error fails the
** test; at the end each counter holds exactly the increments made to it
** (counters never expire), and some gets hit and some scans returned rows
** (else no value was checked).
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
static _Atomic int g_errors; /* only on a failure: no order between threads */

/* A thread's own counts, added up after the join (shared counters would
** order the threads for ThreadSanitizer and hide races between them). */
typedef struct {
  int tid;
  long hits, rows;
  long incrs[COUNTERS]; /* increments made to each counter */
} worker_arg;

static void fail(const char *what, const char *detail) {
  if (atomic_fetch_add(&g_errors, 1) < 20)
    fprintf(stderr, "test_hot: %s%s%s\n", what, detail ? ": " : "",
            detail ? detail : "");
}

static uint32_t crc_of(const unsigned char *p, int n) { /* FNV-1a */
  uint32_t h = 2166136261u;
  for (int i = 0; i < n; i++)
    h = (h ^ p[i]) * 16777619u;
  return h;
}

/* The value a writer stores: "k|writer|n|" and the checksum of those
** bytes, 8 hex digits. */
static int make_value(char *buf, size_t size, const char *k, int tid, int i) {
  int m = snprintf(buf, size, "%s|%d|%d|", k, tid, i);
  return m + snprintf(buf + m, size - (size_t)m, "%08x",
                      crc_of((const unsigned char *)buf, m));
}

/* Checks that value v is one a writer stored under key k, whole. */
static void check_value(const char *k, const unsigned char *v, int n) {
  size_t nk = strlen(k);
  char sum[9];
  if (v && n > 8) snprintf(sum, sizeof sum, "%08x", crc_of(v, n - 8));
  if (!v || n <= (int)nk + 8 || memcmp(v, k, nk) != 0 || v[nk] != '|' ||
      memcmp(v + n - 8, sum, 8) != 0) {
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
  worker_arg *a = arg;
  int tid = a->tid;
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
      int n = make_value(val, sizeof val, key, tid, i);
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
        a->hits++;
      } else if (op == S_SCAN) {
        const unsigned char *k = sqlite3_column_text(s, 0);
        if (k && k[0] == 'k') {
          check_value((const char *)k, sqlite3_column_text(s, 1),
                      sqlite3_column_bytes(s, 1));
          a->rows++;
        }
      }
    }
    if (rc != SQLITE_DONE) fail(SQL[op], sqlite3_errmsg(db));
    if (op == S_INCR && rc == SQLITE_DONE) a->incrs[c]++;
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
  alarm(600); /* under CTest's 900 s: a deadlock fails with SIGALRM */
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
  static worker_arg args[MAX_THREADS];
  pthread_t th[MAX_THREADS];
  for (int i = 0; i < threads; i++) {
    args[i].tid = i;
    if (pthread_create(&th[i], NULL, worker, &args[i]) != 0) return 1;
  }
  long hits = 0, rows = 0, incrs[COUNTERS] = {0};
  for (int i = 0; i < threads; i++) {
    pthread_join(th[i], NULL);
    hits += args[i].hits;
    rows += args[i].rows;
    for (int c = 0; c < COUNTERS; c++)
      incrs[c] += args[i].incrs[c];
  }

  long total = 0;
  for (int c = 0; c < COUNTERS; c++) {
    char sql[64];
    sqlite3_stmt *st;
    snprintf(sql, sizeof sql, "SELECT cache_get('n%02d', 'hot')", c);
    sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    long got = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
    if (got != incrs[c]) {
      char m[64];
      snprintf(m, sizeof m, "n%02d = %ld, want %ld", c, got, incrs[c]);
      fail("a counter lost increments", m);
    }
    total += got;
    sqlite3_finalize(st);
  }
  sqlite3_close(db);
  if (fs && ext_remove_tree("test_hot", dir)) fail("rm", dir);
  if (hits == 0 || rows == 0) fail("no value was checked", "0 hits or rows");
  printf("test_hot %s: %d threads x %d operations: %ld hits, %ld scan rows "
         "checked, %ld increments, %d errors\n",
         argv[2], threads, g_ops, hits, rows, total, (int)g_errors);
  return g_errors ? 1 : 0;
}
