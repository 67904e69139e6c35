/*
** pcx_query.c: cache_query(sql [, ttl [, cache]]), the rows of a read-only
** statement as JSON, computed once and served from a cache while fresh.
**
**   SELECT cache_query('SELECT region, sum(total) AS total FROM orders
**                       GROUP BY region', 60);
**   -- [{"region":"eu","total":1250.5},{"region":"us","total":980}]
**
** The key. A result depends on the statement and on the data it reads, so
** the key is derived from the SQL text and from every database of the
** connection but TEMP (schema name and file name; an in-memory or temporary
** database is named by its connection, whose data no other connection
** sees). It is "pcache:query:" and 32 hex digits of a 128-bit hash of that
** identity; the stored value repeats the identity, and a hit whose identity
** differs (a hash collision) is a miss.
**
** The stored value is TEXT (so that either serializer takes it): "pcq1:",
** the identity's length in decimal, ":", the identity, then the JSON text
** that cache_query returns (with the JSON subtype, so that json_each() and
** ->> read it directly).
**
** The JSON. One object per row, keys the result column names in order.
** INTEGER and REAL are JSON numbers (a REAL always has a '.' or an exponent,
** so it reads back as REAL; infinities are 9e999 and -9e999 as SQLite's
** json() writes them), TEXT a string, NULL null, and a BLOB the object
** {"$base64": "<standard base64 with padding>"}.
**
** When the statement does not go through the cache:
**   - in a write transaction of the calling connection (its uncommitted
**     changes must neither be served to nor hidden from anyone else): the
**     statement runs and its rows are returned, nothing is read or stored;
**   - while the connection has any TEMP table, view or trigger: TEMP data
**     is private to a connection, and a TEMP view or table may shadow a
**     main one of the same name, so the SQL text no longer says what runs.
** Concurrent misses of one key in the process compute once (pc_flight).
*/
#include "pcx.h"

#include "pc_internal.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define QUERY_PREFIX "pcache:query:"
#define QUERY_MAGIC "pcq1:"
#define QUERY_MAGIC_LEN 5

/* ---- Identity and key ---- */

/* A 64-bit hash of (p, n) under seed: deterministic across processes (the
** key of a shared store), unlike the engine's seeded hash. */
static uint64_t hash64(const unsigned char *p, size_t n, uint64_t seed) {
  uint64_t h = seed ^ (n * 0x9E3779B97F4A7C15ull);
  for (size_t i = 0; i < n; i++) {
    h ^= p[i];
    h *= 0x100000001B3ull; /* FNV-1a prime */
    h ^= h >> 29;
  }
  h ^= h >> 33;
  h *= 0xFF51AFD7ED558CCDull;
  h ^= h >> 33;
  h *= 0xC4CEB9FE1A85EC53ull;
  return h ^ (h >> 33);
}

/* 16 random bytes drawn once per process, in hex: with the pid and the
** connection's serial they name an in-memory database, which no other
** connection, process or later process may share (pids are reused; a
** shared store outlives processes). */
static char g_nonce[33];
static void draw_nonce(void) {
  unsigned char r[16];
  sqlite3_randomness(sizeof r, r);
  for (int i = 0; i < 16; i++)
    snprintf(g_nonce + 2 * i, 3, "%02x", r[i]);
}

/* Appends the databases of db but TEMP, then sql, to s; each field with
** its length in front, so that no two setups read the same. */
static void append_identity(sqlite3_str *s, sqlite3 *db, pcx_conn *conn,
                            const char *sql) {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, draw_nonce);
  for (int i = 0;; i++) {
    const char *name = sqlite3_db_name(db, i);
    if (!name) break;
    if (i == 1) continue; /* TEMP: see the header */
    const char *file = sqlite3_db_filename(db, name);
    char mem[96];
    if (!file || !*file) {
      snprintf(mem, sizeof mem, ":memory:%s:%d:%llu", g_nonce, (int)getpid(),
               (unsigned long long)conn->serial);
      file = mem;
    }
    sqlite3_str_appendf(s, "%d:%s%d:%s", (int)strlen(name), name,
                        (int)strlen(file), file);
  }
  sqlite3_str_appendf(s, "%d:%s", (int)strlen(sql), sql);
}

/* Whether the connection has TEMP tables, views or triggers: then a
** statement's meaning may be its own (a TEMP view or table shadows a main
** one), and it is neither read from nor stored in the cache. */
static int has_temp_schema(sqlite3 *db, int *out) {
  sqlite3_stmt *st;
  sqlite3_file *f;
  *out = 0;
  /* Without a TEMP database opened there can be no TEMP object: no query
  ** (the common case, and the cost of a hit otherwise). */
  if (sqlite3_file_control(db, "temp", SQLITE_FCNTL_FILE_POINTER, &f) !=
      SQLITE_OK)
    return SQLITE_OK;
  int rc = sqlite3_prepare_v2(db, "SELECT 1 FROM temp.sqlite_schema LIMIT 1",
                              -1, &st, NULL);
  if (rc != SQLITE_OK) return rc;
  rc = sqlite3_step(st);
  *out = rc == SQLITE_ROW;
  sqlite3_finalize(st);
  return rc == SQLITE_ROW || rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* ---- Running the statement ---- */

/* Appends z (n bytes) as a JSON string (the json serializer's writer). */
static int json_string(sqlite3_str *s, const char *z, size_t n) {
  unsigned char *q = NULL;
  size_t nq = 0;
  int rc = pc__json_quote((const unsigned char *)z, n, &q, &nq);
  if (rc != PC_OK) return rc == PC_NOMEM ? SQLITE_NOMEM : SQLITE_TOOBIG;
  sqlite3_str_append(s, (const char *)q, (int)nq);
  pc__free(q);
  return SQLITE_OK;
}

static void json_base64(sqlite3_str *s, const unsigned char *p, size_t n) {
  static const char b64[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  sqlite3_str_appendall(s, "{\"$base64\":\"");
  for (size_t i = 0; i < n; i += 3) {
    uint32_t v = (uint32_t)p[i] << 16;
    if (i + 1 < n) v |= (uint32_t)p[i + 1] << 8;
    if (i + 2 < n) v |= p[i + 2];
    char out[4] = {b64[v >> 18], b64[(v >> 12) & 63],
                   i + 1 < n ? b64[(v >> 6) & 63] : '=',
                   i + 2 < n ? b64[v & 63] : '='};
    sqlite3_str_append(s, out, 4);
  }
  sqlite3_str_appendall(s, "\"}");
}

/* A REAL as the json serializer writes it; infinities as SQLite's json()
** writes them (JSON has no infinity). */
static void json_real(sqlite3_str *s, double r) {
  if (isinf(r)) {
    sqlite3_str_appendall(s, r > 0 ? "9e999" : "-9e999");
  } else if (isnan(r)) { /* SQLite stores none; for safety */
    sqlite3_str_appendall(s, "null");
  } else {
    char buf[40];
    sqlite3_str_append(s, buf, (int)pc__fmt_real(r, buf, sizeof buf));
  }
}

/* Runs st to the end, appending its rows as JSON to s. Stops with
** SQLITE_TOOBIG when s grows over limit bytes. */
static int run_to_json(sqlite3_stmt *st, sqlite3_str *s, int64_t limit) {
  int ncol = sqlite3_column_count(st), rc, nrow = 0;
  sqlite3_str_appendchar(s, 1, '[');
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    sqlite3_str_appendall(s, nrow++ ? ",{" : "{");
    for (int i = 0; i < ncol; i++) {
      if (i) sqlite3_str_appendchar(s, 1, ',');
      const char *name = sqlite3_column_name(st, i);
      if (!name) return SQLITE_NOMEM;
      int e = json_string(s, name, strlen(name));
      if (e != SQLITE_OK) return e;
      sqlite3_str_appendchar(s, 1, ':');
      switch (sqlite3_column_type(st, i)) {
      case SQLITE_INTEGER:
        sqlite3_str_appendf(s, "%lld", sqlite3_column_int64(st, i));
        break;
      case SQLITE_FLOAT:
        json_real(s, sqlite3_column_double(st, i));
        break;
      case SQLITE_TEXT: {
        const char *z = (const char *)sqlite3_column_text(st, i);
        if (!z) return SQLITE_NOMEM;
        int e = json_string(s, z, (size_t)sqlite3_column_bytes(st, i));
        if (e != SQLITE_OK) return e;
        break;
      }
      case SQLITE_BLOB: {
        const void *p = sqlite3_column_blob(st, i);
        int n = sqlite3_column_bytes(st, i);
        if (!p && n > 0) return SQLITE_NOMEM;
        json_base64(s, p, (size_t)n);
        break;
      }
      default:
        sqlite3_str_appendall(s, "null");
      }
    }
    sqlite3_str_appendchar(s, 1, '}');
    if (sqlite3_str_errcode(s)) return sqlite3_str_errcode(s);
    if (sqlite3_str_length(s) > limit) return SQLITE_TOOBIG;
  }
  if (rc != SQLITE_DONE) return rc;
  sqlite3_str_appendchar(s, 1, ']');
  return sqlite3_str_errcode(s);
}

/* ---- cache_query ---- */

/* The stored payload if v is an envelope of identity (id, nid). */
static const char *envelope_payload(const pc_value *v, const char *id,
                                    size_t nid, size_t *n) {
  char head[40];
  int nhead = snprintf(head, sizeof head, QUERY_MAGIC "%zu:", nid);
  if (v->type != PC_TEXT || v->n < (size_t)nhead + nid ||
      memcmp(v->p, head, (size_t)nhead) != 0 ||
      memcmp((const char *)v->p + nhead, id, nid) != 0)
    return NULL;
  *n = v->n - (size_t)nhead - nid;
  return (const char *)v->p + nhead + nid;
}

/* Looks the key up; on an envelope of this identity returns its JSON as
** the result and 1; 0 on a miss; -1 after reporting an error. */
static int serve_hit(sqlite3_context *ctx, pc_cache *c, const char *key,
                     size_t nkey, const char *id, size_t nid) {
  pc_value v;
  int rc = pc_get(c, key, nkey, &v);
  if (rc != PC_OK) {
    if (rc == PC_NOTFOUND) return 0;
    pcx_error(ctx, "cache_query", rc); /* on_error=raise, or no memory */
    return -1;
  }
  size_t n;
  const char *json = envelope_payload(&v, id, nid, &n);
  if (json) {
    sqlite3_result_text64(ctx, json, n, SQLITE_TRANSIENT, SQLITE_UTF8);
    sqlite3_result_subtype(ctx, PCX_JSON_SUBTYPE);
  }
  pc_value_release(&v);
  return json != NULL;
}

/* Prepares sql as exactly one read-only statement without parameters. */
static int prepare_query(sqlite3_context *ctx, sqlite3 *db, const char *sql,
                         sqlite3_stmt **out) {
  const char *tail;
  *out = NULL;
  int rc = sqlite3_prepare_v2(db, sql, -1, out, &tail);
  if (rc != SQLITE_OK) {
    pcx_errorf(ctx, "cache_query", rc, "%s", sqlite3_errmsg(db));
    return rc;
  }
  const char *why = NULL;
  if (!*out) {
    why = "sql has no statement";
  } else if (!sqlite3_stmt_readonly(*out)) {
    why = "sql must be a read-only statement (a SELECT)";
  } else if (sqlite3_column_count(*out) == 0 || sqlite3_stmt_isexplain(*out)) {
    why = "sql must be a query that returns rows (a SELECT)";
  } else if (sqlite3_bind_parameter_count(*out) > 0) {
    why = "sql must not have parameters (a pcache_view takes arguments)";
  } else if (*tail) {
    sqlite3_stmt *more = NULL;
    rc = sqlite3_prepare_v2(db, tail, -1, &more, NULL);
    if (rc != SQLITE_OK || more) why = "sql must be a single statement";
    sqlite3_finalize(more);
  }
  if (!why) return SQLITE_OK;
  pcx_errorf(ctx, "cache_query", SQLITE_ERROR, "%s", why);
  sqlite3_finalize(*out);
  *out = NULL;
  return SQLITE_ERROR;
}

static void too_big(sqlite3_context *ctx, int64_t limit) {
  pcx_errorf(ctx, "cache_query", SQLITE_TOOBIG,
             "the result is larger than max_value_bytes (%lld)",
             (long long)limit);
}

void pcx_query(sqlite3_context *ctx, pcx_conn *conn, pc_cache *c,
               const char *sql, int64_t ttl_ms) {
  sqlite3 *db = sqlite3_context_db_handle(ctx);
  sqlite3_stmt *st = NULL;
  sqlite3_str *id = sqlite3_str_new(db), *out = NULL;
  char *idz = NULL, *json = NULL;
  pc_flight *flight = NULL;
  pc_cache *held = NULL;
  append_identity(id, db, conn, sql);
  if (sqlite3_str_errcode(id)) {
    sqlite3_result_error_nomem(ctx);
    goto done;
  }
  size_t nid = (size_t)sqlite3_str_length(id);
  idz = sqlite3_str_finish(id);
  id = NULL;
  if (!idz) {
    sqlite3_result_error_nomem(ctx);
    goto done;
  }
  char key[sizeof QUERY_PREFIX + 32];
  snprintf(key, sizeof key, QUERY_PREFIX "%016llx%016llx",
           (unsigned long long)hash64((const unsigned char *)idz, nid, 1),
           (unsigned long long)hash64((const unsigned char *)idz, nid, 2));
  size_t nkey = strlen(key);

  int cached = sqlite3_txn_state(db, NULL) != SQLITE_TXN_WRITE;
  if (cached) {
    int temp;
    int rc = has_temp_schema(db, &temp);
    if (rc != SQLITE_OK) {
      pcx_errorf(ctx, "cache_query", rc, "%s", sqlite3_errmsg(db));
      goto done;
    }
    cached = !temp;
  }
  while (cached) {
    if (serve_hit(ctx, c, key, nkey, idz, nid)) goto done; /* or error */
    int rc = pc_flight_begin(c, key, nkey, &flight);
    if (rc == PC_OK) break;
    if (rc != PC_EXISTS) {
      pcx_error(ctx, "cache_query", rc);
      goto done;
    }
  }
  /* A miss. c is the connection's, borrowed: the statement may look up
  ** other caches on this connection, which can drop it; hold it. */
  pc_cache_retain(c);
  held = c;
  /* The statement is checked here: only a statement that passed is ever
  ** stored, so a hit needs no prepare. */
  if (prepare_query(ctx, db, sql, &st) != SQLITE_OK) goto done;
  out = sqlite3_str_new(db);

  /* The envelope: its head and the identity, then the rows. */
  sqlite3_str_appendf(out, QUERY_MAGIC "%llu:", (unsigned long long)nid);
  sqlite3_str_append(out, idz, (int)nid);
  size_t head = (size_t)sqlite3_str_length(out);
  int64_t limit = pc_cache_max_value_bytes(c);
  int rc = run_to_json(st, out, (int64_t)head + limit);
  if (rc == SQLITE_TOOBIG) {
    too_big(ctx, limit);
    goto done;
  }
  if (rc != SQLITE_OK) {
    pcx_errorf(ctx, "cache_query", rc, "%s",
               rc == SQLITE_NOMEM ? "" : sqlite3_errmsg(db));
    goto done;
  }
  size_t n = (size_t)sqlite3_str_length(out);
  json = sqlite3_str_finish(out);
  out = NULL;
  if (!json) {
    sqlite3_result_error_nomem(ctx);
    goto done;
  }
  if (cached) {
    pc_value v = pc_text(json, n);
    rc = pc_set(c, key, nkey, &v, ttl_ms, 0);
    if (rc == PC_TOOBIG) { /* the envelope's head tipped it over */
      too_big(ctx, limit);
      goto done;
    }
    if (rc != PC_OK && rc != PC_DROPPED) {
      pcx_error(ctx, "cache_query", rc);
      goto done;
    }
  }
  sqlite3_result_text64(ctx, json + head, n - head, SQLITE_TRANSIENT,
                        SQLITE_UTF8);
  sqlite3_result_subtype(ctx, PCX_JSON_SUBTYPE);
done:
  pc_flight_end(flight);
  sqlite3_free(json);
  sqlite3_free(idz);
  sqlite3_free(sqlite3_str_finish(id));
  sqlite3_free(sqlite3_str_finish(out));
  sqlite3_finalize(st);
  pc_cache_release(held);
}
