/*
** pcx_util.c: conversions between SQLite and the engine, the per-connection
** cache lookup, and the mapping of engine codes to SQL errors. Every SQL
** error of PocketCache is made here, so each one reads "function: problem".
*/
#include "pcx.h"

#include <math.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <string.h>

/* ---- Per-connection state ---- */

pcx_conn *pcx_conn_new(void) {
  static _Atomic uint64_t serials;
  pcx_conn *conn = sqlite3_malloc64(sizeof *conn);
  if (conn) {
    memset(conn, 0, sizeof *conn);
    conn->serial = atomic_fetch_add(&serials, 1) + 1;
  }
  return conn;
}

static void conn_drop_slots(pcx_conn *conn) {
  pc_cache_release(conn->dflt);
  conn->dflt = NULL;
  for (int i = 0; i < PCX_SLOTS; i++) {
    pc_cache_release(conn->slot[i].c);
    sqlite3_free(conn->slot[i].name);
    conn->slot[i].c = NULL;
    conn->slot[i].name = NULL;
  }
}

void pcx_conn_unref(void *p) {
  pcx_conn *conn = p;
  if (conn && --conn->refs <= 0) {
    conn_drop_slots(conn);
    sqlite3_free(conn);
  }
}

pc_cache *pcx_cache(pcx_conn *conn, const char *name) {
  uint64_t v = pc_registry_version();
  if (v != conn->version) {
    conn_drop_slots(conn);
    conn->version = v;
  }
  if (!name || strcmp(name, "default") == 0) {
    /* Making "default" moves the version: the next call then drops and
    ** looks up again, once. Taking the new version here instead could
    ** swallow a close of another cache by another thread meanwhile. */
    if (!conn->dflt) conn->dflt = pc_cache_find("default");
    return conn->dflt;
  }
  for (int i = 0; i < PCX_SLOTS; i++)
    if (conn->slot[i].name && strcmp(conn->slot[i].name, name) == 0)
      return conn->slot[i].c;
  pc_cache *c = pc_cache_find(name);
  if (!c) return NULL;
  char *z = sqlite3_mprintf("%s", name);
  if (!z) {
    pc_cache_release(c);
    return NULL;
  }
  int i = conn->next_slot;
  conn->next_slot = (i + 1) % PCX_SLOTS;
  pc_cache_release(conn->slot[i].c);
  sqlite3_free(conn->slot[i].name);
  conn->slot[i].c = c;
  conn->slot[i].name = z;
  return c;
}

/* ---- Values ---- */

int pcx_value(sqlite3_value *v, pc_value *out) {
  int type = sqlite3_value_type(v);
  switch (type) {
  case SQLITE_INTEGER:
    *out = pc_int(sqlite3_value_int64(v));
    return SQLITE_OK;
  case SQLITE_FLOAT:
    *out = pc_real(sqlite3_value_double(v));
    return SQLITE_OK;
  case SQLITE_TEXT:
  case SQLITE_BLOB: {
    size_t n;
    const void *p = pcx_value_bytes(v, &n);
    if (!p) return SQLITE_NOMEM;
    if (type == SQLITE_BLOB) {
      *out = pc_blob(p, n);
      return SQLITE_OK;
    }
    *out = pc_text((const char *)p, n);
    out->is_json = sqlite3_value_subtype(v) == PCX_JSON_SUBTYPE;
    return SQLITE_OK;
  }
  default:
    *out = pc_null();
    return SQLITE_OK;
  }
}

void pcx_result_copy(sqlite3_context *ctx, const pc_value *v) {
  pc_value copy = *v;
  copy.free_fn = NULL;
  pcx_result(ctx, &copy);
}

/* 1 if (p, n) is well-formed UTF-8 (no overlongs, no surrogates). */
static int utf8_valid(const unsigned char *p, size_t n) {
  size_t i = 0;
  while (i < n) {
    unsigned char c = p[i];
    if (c < 0x80) {
      i++;
      continue;
    }
    size_t len;
    unsigned cp;
    if (c >= 0xC2 && c <= 0xDF)
      len = 2, cp = c & 0x1F;
    else if (c >= 0xE0 && c <= 0xEF)
      len = 3, cp = c & 0x0F;
    else if (c >= 0xF0 && c <= 0xF4)
      len = 4, cp = c & 0x07;
    else
      return 0;
    if (i + len > n) return 0;
    for (size_t k = 1; k < len; k++) {
      if ((p[i + k] & 0xC0) != 0x80) return 0;
      cp = (cp << 6) | (p[i + k] & 0x3F);
    }
    if ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
        (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
      return 0;
    i += len;
  }
  return 1;
}

void pcx_result_key(sqlite3_context *ctx, const void *key, size_t nkey) {
  if (utf8_valid(key, nkey) && !memchr(key, 0, nkey))
    sqlite3_result_text64(ctx, key, nkey, SQLITE_TRANSIENT, SQLITE_UTF8);
  else if (nkey == 0)
    sqlite3_result_zeroblob(ctx, 0);
  else
    sqlite3_result_blob64(ctx, key, nkey, SQLITE_TRANSIENT);
}

int pcx_ttl(sqlite3_value *v, int64_t *ttl_ms) {
  switch (sqlite3_value_type(v)) {
  case SQLITE_NULL:
    *ttl_ms = PC_TTL_DEFAULT;
    return PC_OK;
  case SQLITE_INTEGER: {
    sqlite3_int64 s = sqlite3_value_int64(v);
    if (s == -1) {
      *ttl_ms = PC_TTL_NEVER;
      return PC_OK;
    }
    if (s > 0 && s <= PC_TTL_MAX_MS / 1000) {
      *ttl_ms = s * 1000;
      return PC_OK;
    }
    /* Out of range or not positive: the REAL path words the error. */
    return pc_ttl_from_seconds((double)s, ttl_ms);
  }
  case SQLITE_FLOAT:
    return pc_ttl_from_seconds(sqlite3_value_double(v), ttl_ms);
  case SQLITE_TEXT: {
    const unsigned char *z = sqlite3_value_text(v);
    if (!z) return PC_NOMEM;
    return pc_ttl_from_text((const char *)z, (size_t)sqlite3_value_bytes(v),
                            ttl_ms);
  }
  default:
    return pc_ttl_from_text("", 0, ttl_ms);
  }
}

/* ---- Calls from the schema ---- */

static int ident_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || c == '_' || c == '$' || (c & 0x80);
}

/* Whether sql calls name: the word, in any case, followed by "(" after
** optional spaces. A table named by the file (cache_set_log) is not a
** call; a string or a comment that looks like one counts, which can only
** let a call through. */
static int spells(const char *sql, const char *name) {
  size_t n = strlen(name);
  for (const char *p = sql; p && *p; p++) {
    if (sqlite3_strnicmp(p, name, (int)n) != 0) continue;
    if (p > sql && ident_char(p[-1])) continue;
    const char *q = p + n;
    while (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r')
      q++;
    if (*q == '(') return 1;
  }
  return 0;
}

/* SQLite 3.40 refuses a DIRECTONLY function in a view or a trigger of a
** database file, and in a CHECK constraint only when the function is also
** DETERMINISTIC (resolve.c marks other calls there as not coming from the
** schema). None of ours can be deterministic, so a file's CHECK could
** change a cache, or open one where the file says, through the
** application's INSERT or UPDATE. A CHECK runs only in a write
** transaction: outside one, which is most calls, nothing more is read.
** Inside one the call is the application's when a running statement of
** the connection calls the function by name, or when the TEMP schema
** (the application's own triggers and views) does; otherwise it is
** refused. A statement prepared without its text (sqlite3_prepare, the
** legacy form) cannot be read and counts as the application's. */
int pcx_direct(sqlite3_context *ctx, const char *fname) {
  sqlite3 *db = sqlite3_context_db_handle(ctx);
  if (sqlite3_txn_state(db, NULL) != SQLITE_TXN_WRITE) return 1;
  for (sqlite3_stmt *st = sqlite3_next_stmt(db, NULL); st;
       st = sqlite3_next_stmt(db, st)) {
    if (!sqlite3_stmt_busy(st)) continue;
    const char *sql = sqlite3_sql(st);
    if (!sql || spells(sql, fname)) return 1;
  }
  sqlite3_stmt *q = NULL;
  int rc = sqlite3_prepare_v2(db, "SELECT sql FROM temp.sqlite_schema", -1, &q,
                              NULL);
  int found = 0;
  while (!found && rc == SQLITE_OK && (rc = sqlite3_step(q)) == SQLITE_ROW) {
    const char *sql = (const char *)sqlite3_column_text(q, 0);
    found = sql && spells(sql, fname);
    rc = SQLITE_OK;
  }
  sqlite3_finalize(q);
  if (found) return 1;
  if (rc == SQLITE_NOMEM)
    sqlite3_result_error_nomem(ctx);
  else
    pcx_errorf(ctx, fname, SQLITE_ERROR,
               "refused: called from the database's schema (a CHECK "
               "constraint), not by a statement of the application");
  return 0;
}

/* ---- Errors ---- */

int pcx_sqlite_code(int rc) {
  switch (rc) {
  case PC_OK:
    return SQLITE_OK;
  case PC_NOMEM:
    return SQLITE_NOMEM;
  case PC_TOOBIG:
    return SQLITE_TOOBIG;
  case PC_MISMATCH:
    return SQLITE_MISMATCH;
  default:
    return SQLITE_ERROR;
  }
}

void pcx_errorf(sqlite3_context *ctx, const char *fname, int code,
                const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *msg = sqlite3_vmprintf(fmt, ap);
  va_end(ap);
  char *z = msg ? sqlite3_mprintf("%s: %s", fname, msg) : NULL;
  sqlite3_free(msg);
  if (!z || code == SQLITE_NOMEM) {
    sqlite3_free(z);
    sqlite3_result_error_nomem(ctx);
    return;
  }
  sqlite3_result_error(ctx, z, -1);
  sqlite3_free(z);
  if (code != SQLITE_ERROR) sqlite3_result_error_code(ctx, code);
}

void pcx_error(sqlite3_context *ctx, const char *fname, int rc) {
  pcx_errorf(ctx, fname, pcx_sqlite_code(rc), "%s", pc_errmsg(NULL));
}
