/*
** pcx.h: what the files of ext/ share. ext/ is the SQLite glue: it turns
** sqlite3_value into pc_value and PC_* codes into SQL errors, and holds no
** caching logic. Only ext/pocketcache.c says SQLITE_EXTENSION_INIT1; the
** other files reach SQLite through the same sqlite3_api pointer.
*/
#ifndef PCX_H
#define PCX_H

#include "sqlite3ext.h"
#ifndef SQLITE_CORE
SQLITE_EXTENSION_INIT3
#endif

#include "pocketcache.h"

#include <stdint.h>

/* SQLite 3.45 added this flag for functions that set a result subtype;
** older versions ignore the bit. */
#ifndef SQLITE_RESULT_SUBTYPE
#define SQLITE_RESULT_SUBTYPE 0x001000000
#endif
#define PCX_JSON_SUBTYPE 'J'

/*
** Per-connection state, the user data of every function.
** It keeps references to the caches this connection has named, and looks
** again only when pc_registry_version() moves, so a call does not take the
** registry lock. Functions of one connection run under the connection's
** mutex, so the state needs no lock of its own.
*/
#define PCX_SLOTS 8
typedef struct pcx_conn {
  int refs;         /* one per registration holding it; freed at zero */
  uint64_t version; /* pc_registry_version() when the slots were filled */
  pc_cache *dflt;   /* pc_cache_release; "default", or NULL */
  struct {
    char *name;  /* sqlite3_free */
    pc_cache *c; /* pc_cache_release */
  } slot[PCX_SLOTS];
  int next_slot;   /* round-robin replacement */
  uint64_t serial; /* unique in the process: names its in-memory databases */
} pcx_conn;

pcx_conn *pcx_conn_new(void);
void pcx_conn_unref(void *p); /* destructor for registrations */

/* The cache named by `name` (NULL = "default"), borrowed from the
** connection state: valid until the next lookup. NULL if none is open. */
pc_cache *pcx_cache(pcx_conn *conn, const char *name);

/* The little-endian words at p (the stored layouts of cached views and
** the keys of cached results read the same on every machine). */
static inline uint32_t pcx_get32le(const unsigned char *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
         (uint32_t)p[3] << 24;
}
static inline uint64_t pcx_get64le(const unsigned char *p) {
  return pcx_get32le(p) | (uint64_t)pcx_get32le(p + 4) << 32;
}

/* pcx_cache(conn, NULL) without the call when nothing changed: the path of
** every function called without a cache name. */
static inline pc_cache *pcx_default(pcx_conn *conn) {
  if (conn->dflt && conn->version == pc_registry_version()) return conn->dflt;
  return pcx_cache(conn, NULL);
}

/* The bytes of a TEXT (in UTF-8) or BLOB value, as they are:
** sqlite3_value_bytes() converts a UTF-16 value first (and counts a
** zeroblob's zeros), then sqlite3_value_blob() returns the bytes (a TEXT
** value stays TEXT). sqlite3_value_text() would also add a NUL,
** which for a value bound with its length (Python's sqlite3 binds every
** str so, with SQLITE_TRANSIENT) means copying it into a new allocation
** on every call: 190 instructions and a malloc behind SQLite's global
** memory mutex per argument. NULL only when out of memory. */
static inline const void *pcx_value_bytes(sqlite3_value *v, size_t *n) {
  int nb = sqlite3_value_bytes(v);
  const void *p = sqlite3_value_blob(v);
  if (nb == 0 && sqlite3_value_type(v) == SQLITE_TEXT) {
    /* Empty, or UTF-16 text whose conversion ran out of memory: then bytes
    ** says 0 and blob hands back the unconverted bytes. */
    p = sqlite3_value_text(v);
    nb = sqlite3_value_bytes(v);
    if (!p) return NULL;
  }
  *n = (size_t)nb;
  return p ? p : nb > 0 ? NULL : "";
}

/* Key of an SQL value: TEXT and BLOB as they are, numbers in text form.
** Returns 1 for a NULL key, SQLITE_NOMEM on OOM, else 0. Inline: every
** function takes this path. */
static inline int pcx_key(sqlite3_value *v, const void **key, size_t *nkey) {
  switch (sqlite3_value_type(v)) {
  case SQLITE_NULL:
    return 1;
  case SQLITE_TEXT:
  case SQLITE_BLOB:
    *key = pcx_value_bytes(v, nkey);
    return *key ? 0 : SQLITE_NOMEM;
  default: {
    const unsigned char *p = sqlite3_value_text(v);
    if (!p) return SQLITE_NOMEM;
    *key = p;
    *nkey = (size_t)sqlite3_value_bytes(v);
    return 0;
  }
  }
}

/* A pc_value borrowing the SQL value's bytes. */
int pcx_value(sqlite3_value *v, pc_value *out);

/* Hands v to SQLite as the function result (without a copy when the
** engine gave a releasable buffer) and releases it. Inline: the result of
** every cache_get. */
static inline void pcx_result(sqlite3_context *ctx, pc_value *v) {
  switch (v->type) {
  case PC_INTEGER:
    sqlite3_result_int64(ctx, v->i);
    break;
  case PC_REAL:
    sqlite3_result_double(ctx, v->r);
    break;
  case PC_TEXT:
    if (v->free_fn) {
      /* SQLite takes the bytes and calls free_fn when done with them. A
      ** length of -1 tells it the text is NUL-terminated (it finds the
      ** NUL): sqlite3_column_text() can then return the bytes as they
      ** are, where otherwise it copies them to add a terminator. */
      if (v->n <= 0x7fffffff) /* the int form skips a conversion check */
        sqlite3_result_text(ctx, v->p, v->nul_terminated ? -1 : (int)v->n,
                            v->free_fn);
      else
        sqlite3_result_text64(ctx, v->p, v->n, v->free_fn, SQLITE_UTF8);
      v->free_fn = NULL;
    } else {
      sqlite3_result_text64(ctx, v->p, v->n, SQLITE_TRANSIENT, SQLITE_UTF8);
    }
    if (v->is_json) sqlite3_result_subtype(ctx, PCX_JSON_SUBTYPE);
    break;
  case PC_BLOB:
    if (v->n == 0) {
      /* A NULL or zero-length pointer would read back as NULL. */
      sqlite3_result_zeroblob(ctx, 0);
    } else if (v->free_fn) {
      sqlite3_result_blob64(ctx, v->p, v->n, v->free_fn);
      v->free_fn = NULL;
    } else {
      sqlite3_result_blob64(ctx, v->p, v->n, SQLITE_TRANSIENT);
    }
    break;
  default:
    sqlite3_result_null(ctx);
    break;
  }
  if (v->free_fn) pc_value_release(v);
}

/* The same for a column of a virtual table: SQLite copies, v is kept. */
void pcx_result_copy(sqlite3_context *ctx, const pc_value *v);

/* The SQL key form: TEXT if the bytes are valid UTF-8, else BLOB. */
void pcx_result_key(sqlite3_context *ctx, const void *key, size_t nkey);

/* TTL argument: NULL = default, numbers and numeric text per SPEC §3.
** On error writes the message (without function name) and returns
** PC_ERROR. */
int pcx_ttl(sqlite3_value *v, int64_t *ttl_ms);

/* Reports the error "fname: <fmt, ...>" with result code `code`
** (SQLITE_NOMEM: SQLite's own out-of-memory error). */
void pcx_errorf(sqlite3_context *ctx, const char *fname, int code,
                const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Reports an engine error as "fname: message" with the matching code. */
void pcx_error(sqlite3_context *ctx, const char *fname, int rc);

/* Whether a function that changes or opens caches was called by the
** application, not by a CHECK constraint of a database file (which SQLite
** 3.40 does not refuse: see pcx_util.c). 1: go on; 0: an error was
** reported. */
int pcx_direct(sqlite3_context *ctx, const char *fname);

/* The SQLite code for an engine code. */
int pcx_sqlite_code(int rc);

/* Registration of the parts. */
int pcx_register_functions(sqlite3 *db, pcx_conn *conn);

/* cache_query's work (ext/pcx_query.c), once its arguments are checked:
** the rows of the read-only statement sql as JSON, from cache c while
** fresh, else run on the calling connection and stored for ttl_ms. */
void pcx_query(sqlite3_context *ctx, pcx_conn *conn, pc_cache *c,
               const char *sql, int64_t ttl_ms);

/*
** The path that cache_query and pcache_view share (ext/pcx_query.c): a
** result of a statement on the calling connection, computed on a miss
** (once in the process for concurrent misses) and served from a cache
** while fresh. The key is derived from the statement, the connection's
** databases and `extra` (arguments, versions); the stored envelope repeats
** all of it, so a value under the key from any other computation is a
** miss. Neither read nor stored inside a write transaction of the
** connection or while it has TEMP objects (see ext/pcx_query.c).
*/
typedef struct pcx_cached {
  /* Set by the caller. */
  sqlite3 *db;
  pcx_conn *conn;
  pc_cache *c;       /* borrowed; held during a miss */
  const char *magic; /* envelope tag, e.g. "pcq1:" */
  int blob;          /* the payload is binary: stored as BLOB, or as base64
                     ** TEXT where the cache takes no BLOB. Else TEXT. */
  const char *sql;
  const void *extra; /* appended to the identity */
  size_t nextra;
  int64_t ttl_ms;
  /* Appends the payload to out; SQLITE_TOOBIG once out is over limit
  ** bytes. An error may set *err (sqlite3_malloc'd), else the message is
  ** the connection's. */
  int (*compute)(void *arg, sqlite3_str *out, int64_t limit, char **err);
  /* Optional: 0 if a stored payload cannot be used (a miss). */
  int (*valid)(void *arg, const char *p, size_t n);
  void *arg;
  /* After pcx_cached_run: the payload, valid until pcx_cached_done. */
  const char *payload;
  size_t npayload;
  char *errmsg; /* on an error other than SQLITE_NOMEM: the problem */
  /* Private. */
  char key[48];
  size_t nkey;
  char *id;
  size_t nid;
  int as_text; /* blob, stored as base64 TEXT */
  pc_value hit;
  char *buf;
  pc_cache *held;
} pcx_cached;

/* SQLITE_OK with q->payload set, or an SQLite code (with q->errmsg unless
** SQLITE_NOMEM). Call pcx_cached_done in either case. */
int pcx_cached_run(pcx_cached *q);
void pcx_cached_done(pcx_cached *q);

/* Prepares sql as one read-only statement that returns rows (params 0:
** without parameters). On an error *why is the problem, sqlite3_free. */
int pcx_prepare_query(sqlite3 *db, const char *sql, int params,
                      sqlite3_stmt **out, char **why);

int pcx_register_vtabs(sqlite3 *db, pcx_conn *conn);
extern sqlite3_module pcx_view_module; /* ext/pcx_view.c */

#endif /* PCX_H */
