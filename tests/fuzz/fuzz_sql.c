/*
** fuzz_sql: random sequences of statements over the SQL surface: every
** scalar function, the pcache and pcache_view virtual tables (reads and
** writes, tables made and dropped, inside transactions and savepoints),
** cache_query, and cache_open with configurations of the memory backend.
**
** The input is a program: each statement is one opcode byte followed by
** the bytes its arguments take (a key from a small pool or raw bytes, a
** value of any type, a TTL, a cache name). Every argument is a bound
** parameter, so raw bytes reach the functions as they are. A fresh
** connection runs each input, and every cache it made is closed after it,
** so that an input's outcome does not depend on the ones before.
**
** Oracle, beyond "no crash, leak or sanitizer report": a scalar
** function's error (SQLITE_ERROR) starts with its name.
*/
#include <pocketcache.h>
#include <sqlite3.h>

#include "../pc_test.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  const uint8_t *p;
  size_t n;
} input;

static unsigned byte(input *in) {
  if (!in->n) return 0;
  in->n--;
  return *in->p++;
}

/* Up to max bytes of the input, as (p, n). */
static const uint8_t *bytes(input *in, size_t max, size_t *n) {
  size_t want = byte(in) % (max + 1);
  if (want > in->n) want = in->n;
  const uint8_t *p = in->p;
  in->p += want;
  in->n -= want;
  *n = want;
  return p;
}

static const char *const KEYS[] = {"k0", "k1", "k2", "counter", "view:x"};
static const char *const CACHES[] = {"default", "a", "b", "t1", "nope", ""};
static const char *const CONFIGS[] = {
    "{}",
    "{\"max_entries\":3}",
    "{\"max_entries\":2,\"eviction\":\"lru\"}",
    "{\"max_entries\":4,\"eviction\":\"sieve\"}",
    "{\"max_bytes\":\"1KB\",\"eviction\":\"s3fifo\"}",
    "{\"serializer\":\"json\"}",
    "{\"default_ttl\":1}",
    "{\"max_key_bytes\":4,\"max_value_bytes\":8}",
    "{\"backend\":\"memory\",\"eviction\":\"none\",\"max_entries\":1}",
    "{\"on_error\":\"raise\"}",
};
static const char *const QUERIES[] = {
    "SELECT 1 AS one",          "SELECT key, value, ttl FROM pcache",
    "SELECT * FROM t",          "SELECT x, typeof(x) FROM t WHERE x > ?1",
    "SELECT cache_get('k0')",   "SELECT json_object('a', 1) AS j",
    "INSERT INTO t VALUES (1)", "SELECT * FROM pcache_stats",
};
#define COUNT(a) (sizeof(a) / sizeof(a[0]))

/* Binds parameter i to a value of any type taken from the input. */
static void bind_value(sqlite3_stmt *st, int i, input *in) {
  unsigned b = byte(in);
  size_t n;
  const uint8_t *p;
  switch (b % 10) {
  case 0:
    sqlite3_bind_null(st, i);
    break;
  case 1:
    sqlite3_bind_int64(st, i, (int)byte(in) - 128);
    break;
  case 2: {
    int64_t v = 0;
    p = bytes(in, 8, &n);
    memcpy(&v, p, n);
    sqlite3_bind_int64(st, i, v);
    break;
  }
  case 3: {
    double v = 0;
    p = bytes(in, 8, &n);
    memcpy(&v, p, n);
    sqlite3_bind_double(st, i, v);
    break;
  }
  case 4:
  case 5:
    p = bytes(in, 64, &n);
    sqlite3_bind_text(st, i, (const char *)p, (int)n, SQLITE_TRANSIENT);
    break;
  case 6:
    p = bytes(in, 64, &n);
    sqlite3_bind_blob(st, i, p, (int)n, SQLITE_TRANSIENT);
    break;
  case 7:
    sqlite3_bind_zeroblob(st, i, (int)byte(in) * 64);
    break;
  case 8:
    sqlite3_bind_text(st, i, KEYS[byte(in) % COUNT(KEYS)], -1, SQLITE_STATIC);
    break;
  default: /* a TTL as people write them */
    sqlite3_bind_double(st, i, (double)(byte(in) % 8) - 1.5);
    break;
  }
}

/* A key: mostly one of a few, so that statements meet each other's. */
static void bind_key(sqlite3_stmt *st, int i, input *in) {
  unsigned b = byte(in);
  if (b < 200)
    sqlite3_bind_text(st, i, KEYS[b % COUNT(KEYS)], -1, SQLITE_STATIC);
  else
    bind_value(st, i, in);
}

static void bind_cache(sqlite3_stmt *st, int i, input *in) {
  unsigned b = byte(in);
  if (b < 240)
    sqlite3_bind_text(st, i, CACHES[b % COUNT(CACHES)], -1, SQLITE_STATIC);
  else
    bind_value(st, i, in);
}

static void fail(const char *what, const char *sql, const char *msg) {
  fprintf(stderr, "fuzz_sql: %s\n  statement: %s\n  message: %s\n", what, sql,
          msg);
  abort();
}

/* Runs sql with its parameters bound by the opcode's binder, to the end. */
static void run(sqlite3 *db, const char *sql, const char *fname, input *in,
                const char *kinds) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) return;
  for (int i = 0; kinds[i]; i++) {
    switch (kinds[i]) {
    case 'k':
      bind_key(st, i + 1, in);
      break;
    case 'c':
      bind_cache(st, i + 1, in);
      break;
    case 'o': /* a configuration */
      sqlite3_bind_text(st, i + 1, CONFIGS[byte(in) % COUNT(CONFIGS)], -1,
                        SQLITE_STATIC);
      break;
    case 'q':
      sqlite3_bind_text(st, i + 1, QUERIES[byte(in) % COUNT(QUERIES)], -1,
                        SQLITE_STATIC);
      break;
    default:
      bind_value(st, i + 1, in);
    }
  }
  int rc, steps = 0;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW && ++steps < 1000)
    for (int c = 0; c < sqlite3_column_count(st); c++)
      (void)sqlite3_column_bytes(st, c);
  if (rc == SQLITE_ERROR && fname) {
    const char *msg = sqlite3_errmsg(db);
    if (strncmp(msg, fname, strlen(fname)) != 0)
      fail("an error that does not start with the function's name", sql, msg);
  }
  sqlite3_finalize(st);
}

/* Statement templates: the SQL, the function whose errors must name it
** (NULL: not a scalar function call), the kinds of its parameters (k key,
** c cache name, o configuration, q query, v any value). */
static const struct {
  const char *sql, *fname, *kinds;
} OPS[] = {
    {"SELECT cache_get(?1)", "cache_get", "k"},
    {"SELECT cache_get(?1, ?2)", "cache_get", "kc"},
    {"SELECT cache_set(?1, ?2)", "cache_set", "kv"},
    {"SELECT cache_set(?1, ?2, ?3, ?4)", "cache_set", "kvvc"},
    {"SELECT cache_set(?1, iif(json_valid(?2), json(?2), NULL))", "cache_set",
     "kv"},
    {"SELECT cache_add(?1, ?2, ?3)", "cache_add", "kvv"},
    {"SELECT cache_add(?1, ?2, ?3, ?4)", "cache_add", "kvvc"},
    {"SELECT cache_delete(?1, ?2)", "cache_delete", "kc"},
    {"SELECT cache_has(?1, ?2)", "cache_has", "kc"},
    {"SELECT cache_ttl(?1, ?2)", "cache_ttl", "kc"},
    {"SELECT cache_touch(?1, ?2, ?3)", "cache_touch", "kvc"},
    {"SELECT cache_incr(?1)", "cache_incr", "k"},
    {"SELECT cache_incr(?1, ?2, ?3, ?4)", "cache_incr", "kvvc"},
    {"SELECT cache_clear(?1)", "cache_clear", "c"},
    {"SELECT cache_stats(?1)", "cache_stats", "c"},
    {"SELECT cache_open(?1, ?2)", "cache_open", "co"},
    {"SELECT cache_open(?1, ?2)", "cache_open", "cv"},
    {"SELECT cache_close(?1)", "cache_close", "c"},
    {"SELECT cache_query(?1)", "cache_query", "q"},
    {"SELECT cache_query(?1, ?2, ?3)", "cache_query", "qvc"},
    {"SELECT coalesce(cache_get(?1), cache_set(?1, ?2, 60))", NULL, "kv"},
    {"SELECT key, value, ttl, expires_at, size FROM pcache", NULL, ""},
    {"SELECT key, value, ttl, size FROM pcache(?1)", NULL, "c"},
    {"SELECT value FROM pcache WHERE key = ?1", NULL, "k"},
    {"SELECT key FROM pcache WHERE key >= ?1 ORDER BY key LIMIT 2", NULL, "k"},
    {"INSERT INTO pcache(key, value, ttl) VALUES (?1, ?2, ?3)", NULL, "kvv"},
    {"INSERT OR REPLACE INTO pcache(key, value, expires_at) VALUES (?1, ?2, "
     "?3)",
     NULL, "kvv"},
    {"INSERT OR IGNORE INTO pcache(key, value, cache) VALUES (?1, ?2, ?3)",
     NULL, "kvc"},
    {"UPDATE pcache SET value = ?2, ttl = ?3 WHERE key = ?1", NULL, "kvv"},
    {"UPDATE pcache SET key = ?2 WHERE key = ?1", NULL, "kk"},
    {"DELETE FROM pcache WHERE key = ?1", NULL, "k"},
    {"DELETE FROM pcache", NULL, ""},
    {"CREATE VIRTUAL TABLE IF NOT EXISTS t1 USING pcache(max_entries=2)", NULL,
     ""},
    {"CREATE VIRTUAL TABLE IF NOT EXISTS t1 USING pcache(serializer=json, "
     "default_ttl=5)",
     NULL, ""},
    {"INSERT OR REPLACE INTO t1(key, value) VALUES (?1, ?2)", NULL, "kv"},
    {"SELECT * FROM t1", NULL, ""},
    {"DROP TABLE IF EXISTS t1", NULL, ""},
    {"CREATE TABLE IF NOT EXISTS t(x)", NULL, ""},
    {"INSERT INTO t VALUES (?1)", NULL, "v"},
    {"CREATE VIRTUAL TABLE IF NOT EXISTS v1 USING pcache_view(sql='SELECT x "
     "FROM t WHERE x > ?1', ttl=60, invalidate=auto)",
     NULL, ""},
    {"SELECT * FROM v1(?1)", NULL, "v"},
    {"DROP TABLE IF EXISTS v1", NULL, ""},
    {"SELECT * FROM pcache_stats", NULL, ""},
    {"BEGIN", NULL, ""},
    {"COMMIT", NULL, ""},
    {"ROLLBACK", NULL, ""},
    {"SAVEPOINT s", NULL, ""},
    {"ROLLBACK TO s", NULL, ""},
};

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  sqlite3_auto_extension((void (*)(void))sqlite3_pocketcache_init);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  sqlite3 *db;
  if (sqlite3_open(":memory:", &db) != SQLITE_OK) abort();
  input in = {data, size};
  for (int n = 0; in.n && n < 64; n++) {
    unsigned op = byte(&in) % COUNT(OPS);
    run(db, OPS[op].sql, OPS[op].fname, &in, OPS[op].kinds);
  }
  sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
  sqlite3_close_v2(db);
  /* Every cache the input opened is closed: the next input starts from an
  ** empty registry. */
  if (pc_test_close_all_caches() != PC_OK) abort();
  return 0;
}
