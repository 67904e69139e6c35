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

#include <math.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define QUERY_PREFIX "pcache:query:"
#define QUERY_MAGIC "pcq1:"

/* ---- Identity and key ---- */

static inline uint64_t rotl64(uint64_t x, int r) {
  return x << r | x >> (64 - r);
}

static inline uint64_t fmix64(uint64_t h) {
  h ^= h >> 33;
  h *= 0xFF51AFD7ED558CCDull;
  h ^= h >> 33;
  h *= 0xC4CEB9FE1A85EC53ull;
  return h ^ (h >> 33);
}

/* A 128-bit hash of (p, n), deterministic across processes and machines
** (the key of a shared store), unlike the engine's seeded hash: two lanes
** over 8-byte words, mixed into each other at the end. Not a defence
** against chosen collisions; the envelope catches any collision. */
static void hash128(const unsigned char *p, size_t n, uint64_t out[2]) {
  uint64_t a = 0x9E3779B97F4A7C15ull ^ n, b = 0xC2B2AE3D27D4EB4Full + n;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w = pcx_get64le(p + i);
    a = rotl64(a ^ (w * 0x87C37B91114253D5ull), 31) * 0x4CF5AD432745937Full;
    b = rotl64(b + (w * 0x4CF5AD432745937Full), 27) * 0x87C37B91114253D5ull;
  }
  uint64_t w = 0;
  for (size_t k = n; k > i; k--)
    w = w << 8 | p[k - 1];
  a ^= w * 0x87C37B91114253D5ull;
  b += w * 0x4CF5AD432745937Full;
  a = fmix64(a + b);
  b = fmix64(b + a);
  out[0] = a;
  out[1] = b;
}

/* Writes the decimal form of v at out (20 bytes at most) without printf;
** returns its length. */
static size_t put_uint(char *out, uint64_t v) {
  char buf[20];
  size_t k = sizeof buf;
  do
    buf[--k] = (char)('0' + v % 10);
  while (v /= 10);
  memcpy(out, buf + k, sizeof buf - k);
  return sizeof buf - k;
}

/* Appends "<length>:<bytes>" (a field no other field can run into). */
static void append_field(sqlite3_str *s, const char *z, size_t n) {
  char buf[20];
  sqlite3_str_append(s, buf, (int)put_uint(buf, n));
  sqlite3_str_appendchar(s, 1, ':');
  sqlite3_str_append(s, z, (int)n);
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

/* The identity of a computation: its kind (the envelope's magic: a view
** and cache_query of one statement are two entries), the databases of db
** but TEMP, sql and extra, each field with its length in front, so that
** no two setups read the same. One allocation (sqlite3_free), NULL without
*memory. */
static char *make_identity(sqlite3 *db, pcx_conn *conn, const char *kind,
                           const char *sql, const void *extra, size_t nextra,
                           size_t *len) {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, draw_nonce);
  char mem[96] = "";
  sqlite3_str *id = sqlite3_str_new(db);
  append_field(id, kind, strlen(kind));
  for (int i = 0;; i++) {
    const char *name = sqlite3_db_name(db, i);
    if (!name) break;
    if (i == 1) continue; /* TEMP: see the header */
    const char *file = sqlite3_db_filename(db, name);
    if (!file || !*file) {
      if (!*mem)
        snprintf(mem, sizeof mem, ":memory:%s:%d:%llu", g_nonce, (int)getpid(),
                 (unsigned long long)conn->serial);
      file = mem;
    }
    append_field(id, name, strlen(name));
    append_field(id, file, strlen(file));
  }
  append_field(id, sql, strlen(sql));
  sqlite3_str_append(id, extra, (int)nextra);
  *len = (size_t)sqlite3_str_length(id);
  if (sqlite3_str_errcode(id) != SQLITE_OK) {
    sqlite3_free(sqlite3_str_finish(id));
    return NULL;
  }
  return sqlite3_str_finish(id);
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
  char *q = NULL;
  size_t nq = 0;
  int rc = pc_json_string(z, n, &q, &nq);
  if (rc != PC_OK) return rc == PC_NOMEM ? SQLITE_NOMEM : SQLITE_TOOBIG;
  sqlite3_str_append(s, q, (int)nq);
  pc_free(q);
  return SQLITE_OK;
}

static const char b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Appends p (n bytes) in standard base64 with padding. */
static void append_base64(sqlite3_str *s, const unsigned char *p, size_t n) {
  for (size_t i = 0; i < n; i += 3) {
    uint32_t v = (uint32_t)p[i] << 16;
    if (i + 1 < n) v |= (uint32_t)p[i + 1] << 8;
    if (i + 2 < n) v |= p[i + 2];
    char out[4] = {b64[v >> 18], b64[(v >> 12) & 63],
                   i + 1 < n ? b64[(v >> 6) & 63] : '=',
                   i + 2 < n ? b64[v & 63] : '='};
    sqlite3_str_append(s, out, 4);
  }
}

/* The value of each base64 digit, 64 for a byte that is none. */
static unsigned char g_b64_value[256];
static void b64_values(void) {
  memset(g_b64_value, 64, sizeof g_b64_value);
  for (int i = 0; i < 64; i++)
    g_b64_value[(unsigned char)b64[i]] = (unsigned char)i;
}

/* Decodes base64 text (as append_base64 writes it) into a new buffer
** (sqlite3_free); NULL if it is not such text or without memory. */
static unsigned char *decode_base64(const char *z, size_t n, size_t *nout) {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, b64_values);
  if (n % 4) return NULL;
  unsigned char *out = sqlite3_malloc64(n / 4 * 3 + 1), *w = out;
  if (!out) return NULL;
  for (size_t i = 0; i < n; i += 4) {
    uint32_t v = 0;
    int pad = 0;
    for (int k = 0; k < 4; k++) {
      unsigned d = g_b64_value[(unsigned char)z[i + k]];
      int last = i + 4 == n;
      if (z[i + k] == '=' && last && k >= 2 && (k == 3 || z[i + 3] == '=')) {
        pad++;
        v <<= 6;
      } else if (d < 64 && !pad) {
        v = v << 6 | d;
      } else {
        sqlite3_free(out);
        return NULL;
      }
    }
    *w++ = (unsigned char)(v >> 16);
    if (pad < 2) *w++ = (unsigned char)(v >> 8);
    if (pad < 1) *w++ = (unsigned char)v;
  }
  *nout = (size_t)(w - out);
  return out;
}

static void json_base64(sqlite3_str *s, const unsigned char *p, size_t n) {
  sqlite3_str_appendall(s, "{\"$base64\":\"");
  append_base64(s, p, n);
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
    sqlite3_str_append(s, buf, (int)pc_format_real(r, buf, sizeof buf));
  }
}

/* run_to_json's rows, with the quoted names names at offsets off. */
static int rows_to_json(sqlite3_stmt *st, sqlite3_str *s, int64_t limit,
                        const char *names, const int *off) {
  int ncol = sqlite3_column_count(st), rc, nrow = 0;
  sqlite3_str_appendchar(s, 1, '[');
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    sqlite3_str_appendall(s, nrow++ ? ",{" : "{");
    for (int i = 0; i < ncol; i++) {
      if (i) sqlite3_str_appendchar(s, 1, ',');
      sqlite3_str_append(s, names + off[i], off[i + 1] - off[i]);
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

/* Runs st to the end, appending its rows as JSON to s. Stops with
** SQLITE_TOOBIG when s grows over limit bytes. */
static int run_to_json(sqlite3_stmt *st, sqlite3_str *s, int64_t limit) {
  int ncol = sqlite3_column_count(st), rc;
  /* The column names as JSON strings, each followed by ':', quoted once:
  ** names[i] is at offset off[i] of the text, off[ncol] its end. */
  sqlite3_str *ns = sqlite3_str_new(sqlite3_db_handle(st));
  int *off = sqlite3_malloc64(sizeof(int) * ((size_t)ncol + 1));
  rc = off ? SQLITE_OK : SQLITE_NOMEM;
  for (int i = 0; rc == SQLITE_OK && i < ncol; i++) {
    const char *name = sqlite3_column_name(st, i);
    off[i] = sqlite3_str_length(ns);
    rc = name ? json_string(ns, name, strlen(name)) : SQLITE_NOMEM;
    sqlite3_str_appendchar(ns, 1, ':');
  }
  if (rc == SQLITE_OK) rc = sqlite3_str_errcode(ns);
  if (off) off[ncol] = sqlite3_str_length(ns);
  char *names = sqlite3_str_finish(ns);
  if (rc == SQLITE_OK && ncol && !names) rc = SQLITE_NOMEM;
  if (rc == SQLITE_OK) rc = rows_to_json(st, s, limit, names, off);
  sqlite3_free(names);
  sqlite3_free(off);
  return rc;
}

/* ---- A result computed once, served from a cache while fresh ---- */

/* The head of q's envelope, before its identity: the magic, the
** identity's length, ':'. Returns its length; head holds 48 bytes. */
static size_t envelope_head(const pcx_cached *q, char *head) {
  size_t nhead = strlen(q->magic);
  memcpy(head, q->magic, nhead);
  nhead += put_uint(head + nhead, q->nid);
  head[nhead++] = ':';
  return nhead;
}

/* The stored payload if v is an envelope of identity (id, nid). */
static const char *envelope_payload(const pcx_cached *q, const pc_value *v,
                                    size_t *n) {
  char head[48];
  size_t nhead = envelope_head(q, head);
  if (v->type != (q->blob && !q->as_text ? PC_BLOB : PC_TEXT) ||
      v->n < (size_t)nhead + q->nid || memcmp(v->p, head, (size_t)nhead) != 0 ||
      memcmp((const char *)v->p + nhead, q->id, q->nid) != 0)
    return NULL;
  *n = v->n - (size_t)nhead - q->nid;
  return (const char *)v->p + nhead + q->nid;
}

/* Looks the key up: 1 on an envelope of this identity whose payload the
** caller can use (q->payload set, q->hit held), 0 on a miss, else an
** engine error code (negated). */
static int lookup(pcx_cached *q) {
  pc_value v;
  int rc = pc_get(q->c, q->key, q->nkey, &v);
  if (rc == PC_NOTFOUND) return 0;
  if (rc != PC_OK) return -rc; /* on_error=raise, or no memory */
  size_t n;
  const char *p = envelope_payload(q, &v, &n);
  if (p && q->as_text) { /* a binary payload in base64 */
    q->buf = (char *)decode_base64(p, n, &n);
    p = q->buf;
  }
  if (p && (!q->valid || q->valid(q->arg, p, n))) {
    q->hit = v;
    q->payload = p;
    q->npayload = n;
    return 1;
  }
  sqlite3_free(q->buf);
  q->buf = NULL;
  pc_value_release(&v);
  return 0;
}

static int set_error(pcx_cached *q, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int set_error(pcx_cached *q, int code, const char *fmt, ...) {
  if (code != SQLITE_NOMEM) {
    va_list ap;
    va_start(ap, fmt);
    sqlite3_free(q->errmsg);
    q->errmsg = sqlite3_vmprintf(fmt, ap);
    va_end(ap);
    if (!q->errmsg) code = SQLITE_NOMEM;
  }
  return code;
}

static int engine_error(pcx_cached *q, int rc) {
  return set_error(q, pcx_sqlite_code(rc), "%s", pc_errmsg(NULL));
}

static int too_big(pcx_cached *q, int64_t limit) {
  return set_error(q, SQLITE_TOOBIG,
                   "the result is larger than max_value_bytes (%lld)",
                   (long long)limit);
}

static int cached_run(pcx_cached *q, pc_flight **flight) {
  sqlite3 *db = q->db;
  sqlite3_str *out = NULL;
  int rc;
  /* A binary payload goes into a cache whose serializer takes no BLOB
  ** (json) as base64 TEXT. */
  q->as_text = q->blob && !pc_cache_stores_type(q->c, PC_BLOB);
  int cached = sqlite3_txn_state(db, NULL) != SQLITE_TXN_WRITE;
  if (cached) {
    int temp;
    rc = has_temp_schema(db, &temp);
    if (rc != SQLITE_OK) return set_error(q, rc, "%s", sqlite3_errmsg(db));
    cached = !temp;
  }
  if (cached) { /* the identity and the key it hashes to */
    q->id = make_identity(db, q->conn, q->magic, q->sql, q->extra, q->nextra,
                          &q->nid);
    if (!q->id) return SQLITE_NOMEM;
    uint64_t h[2];
    hash128((const unsigned char *)q->id, q->nid, h);
    memcpy(q->key, QUERY_PREFIX, sizeof QUERY_PREFIX - 1);
    char *x = q->key + sizeof QUERY_PREFIX - 1;
    for (int k = 0; k < 2; k++) {
      uint64_t v = h[k];
      for (int i = 15; i >= 0; i--, v >>= 4)
        x[16 * k + i] = "0123456789abcdef"[v & 15];
    }
    q->nkey = sizeof QUERY_PREFIX - 1 + 32;
  }
  while (cached) {
    rc = lookup(q);
    if (rc > 0) return SQLITE_OK;
    if (rc < 0) return engine_error(q, -rc);
    rc = pc_flight_begin(q->c, q->key, q->nkey, flight);
    if (rc == PC_OK) break;
    if (rc != PC_EXISTS) return engine_error(q, rc);
  }
  /* A miss. c is the connection's, borrowed: the statement may look up
  ** other caches on this connection, which can drop it; hold it. */
  pc_cache_retain(q->c);
  q->held = q->c;
  out = sqlite3_str_new(db);
  if (cached) { /* the envelope's head and identity, then the payload */
    char h[48];
    sqlite3_str_append(out, h, (int)envelope_head(q, h));
    sqlite3_str_append(out, q->id, (int)q->nid);
  }
  size_t head = (size_t)sqlite3_str_length(out);
  int64_t limit = pc_cache_max_value_bytes(q->c);
  char *err = NULL;
  rc = q->compute(q->arg, out, (int64_t)head + limit, &err);
  if (rc == SQLITE_OK) rc = sqlite3_str_errcode(out);
  size_t n = (size_t)sqlite3_str_length(out);
  char *buf = sqlite3_str_finish(out);
  if (rc == SQLITE_OK && !buf) rc = SQLITE_NOMEM;
  if (rc != SQLITE_OK) {
    sqlite3_free(buf);
    if (err) {
      set_error(q, rc, "%s", err);
      sqlite3_free(err);
      return rc;
    }
    if (rc == SQLITE_TOOBIG) return too_big(q, limit);
    return set_error(q, rc, "%s", sqlite3_errmsg(db));
  }
  q->buf = buf;
  if (cached) {
    char *text = NULL;
    size_t ntext = n;
    if (q->as_text) { /* the same head, then the payload in base64 */
      sqlite3_str *t = sqlite3_str_new(db);
      sqlite3_str_append(t, buf, (int)head);
      append_base64(t, (const unsigned char *)buf + head, n - head);
      rc = sqlite3_str_errcode(t);
      ntext = (size_t)sqlite3_str_length(t);
      text = sqlite3_str_finish(t);
      if (rc == SQLITE_OK && !text) rc = SQLITE_NOMEM;
      if (rc != SQLITE_OK) {
        sqlite3_free(text);
        return rc == SQLITE_TOOBIG ? too_big(q, limit) : rc;
      }
    }
    pc_value v = q->blob && !q->as_text ? pc_blob(buf, n)
                 : text                 ? pc_text(text, ntext)
                                        : pc_text(buf, n);
    rc = pc_set(q->c, q->key, q->nkey, &v, q->ttl_ms, 0);
    sqlite3_free(text);
    if (rc == PC_TOOBIG) return too_big(q, limit); /* the head tipped it */
    if (rc != PC_OK && rc != PC_DROPPED) return engine_error(q, rc);
  }
  q->payload = buf + head;
  q->npayload = n - head;
  return SQLITE_OK;
}

int pcx_cached_run(pcx_cached *q) {
  pc_flight *flight = NULL;
  int rc = cached_run(q, &flight);
  /* The result is stored (or failed): waiters go on now, not when the
  ** caller is done with the payload (a view's cursor lives as long as its
  ** statement; another cursor of it may need the same key). */
  pc_flight_end(flight);
  return rc;
}

void pcx_cached_done(pcx_cached *q) {
  pc_value_release(&q->hit);
  memset(&q->hit, 0, sizeof q->hit);
  sqlite3_free(q->buf);
  sqlite3_free(q->id);
  sqlite3_free(q->errmsg);
  q->buf = q->id = q->errmsg = NULL;
  pc_cache_release(q->held);
  q->held = NULL;
  q->payload = NULL;
  q->npayload = 0;
}

/* ---- cache_query ---- */

/* Prepares sql as exactly one read-only statement that returns rows;
** with params 0 it may not have parameters. On failure *why is the
** problem (sqlite3_free) or NULL for SQLite's own message. */
int pcx_prepare_query(sqlite3 *db, const char *sql, int params,
                      sqlite3_stmt **out, char **why) {
  const char *tail, *w = NULL;
  *out = NULL;
  *why = NULL;
  int rc = sqlite3_prepare_v2(db, sql, -1, out, &tail);
  if (rc != SQLITE_OK) {
    *why = sqlite3_mprintf("%s", sqlite3_errmsg(db));
    return *why ? rc : SQLITE_NOMEM;
  }
  if (!*out) {
    w = "sql has no statement";
  } else if (!sqlite3_stmt_readonly(*out)) {
    w = "sql must be a read-only statement (a SELECT)";
  } else if (sqlite3_column_count(*out) == 0 || sqlite3_stmt_isexplain(*out)) {
    w = "sql must be a query that returns rows (a SELECT)";
  } else if (!params && sqlite3_bind_parameter_count(*out) > 0) {
    w = "sql must not have parameters (a pcache_view takes arguments)";
  } else if (*tail) {
    sqlite3_stmt *more = NULL;
    rc = sqlite3_prepare_v2(db, tail, -1, &more, NULL);
    if (rc != SQLITE_OK || more) w = "sql must be a single statement";
    sqlite3_finalize(more);
  }
  if (!w) return SQLITE_OK;
  sqlite3_finalize(*out);
  *out = NULL;
  *why = sqlite3_mprintf("%s", w);
  return *why ? SQLITE_ERROR : SQLITE_NOMEM;
}

typedef struct query_arg {
  sqlite3 *db;
  const char *sql;
} query_arg;

static int query_compute(void *arg, sqlite3_str *out, int64_t limit,
                         char **err) {
  query_arg *a = arg;
  sqlite3_stmt *st;
  /* The statement is checked here: only a statement that passed is ever
  ** stored, so a hit needs no prepare. */
  int rc = pcx_prepare_query(a->db, a->sql, 0, &st, err);
  if (rc != SQLITE_OK) return rc;
  rc = run_to_json(st, out, limit);
  sqlite3_finalize(st);
  return rc;
}

void pcx_query(sqlite3_context *ctx, pcx_conn *conn, pc_cache *c,
               const char *sql, int64_t ttl_ms) {
  query_arg a = {sqlite3_context_db_handle(ctx), sql};
  pcx_cached q = {.db = a.db,
                  .conn = conn,
                  .c = c,
                  .magic = QUERY_MAGIC,
                  .sql = sql,
                  .ttl_ms = ttl_ms,
                  .compute = query_compute,
                  .arg = &a};
  int rc = pcx_cached_run(&q);
  if (rc != SQLITE_OK) {
    pcx_errorf(ctx, "cache_query", rc, "%s", q.errmsg ? q.errmsg : "");
  } else {
    sqlite3_result_text64(ctx, q.payload, q.npayload, SQLITE_TRANSIENT,
                          SQLITE_UTF8);
    sqlite3_result_subtype(ctx, PCX_JSON_SUBTYPE);
  }
  pcx_cached_done(&q);
}
