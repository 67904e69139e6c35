/*
** pcx_vtab.c: the virtual tables `pcache` (live entries, writable) and
** `pcache_stats` (one row per open cache).
**
**   SELECT key, ttl FROM pcache WHERE key GLOB 'user:*';
**   SELECT * FROM pcache('api') WHERE key = 'x';
**   INSERT OR REPLACE INTO pcache(key, value, ttl) VALUES ('k', 'v', 60);
**   CREATE VIRTUAL TABLE pages USING pcache(default_ttl=3600,
**                                           max_bytes='64MB');
**
** How it works
**   `pcache` is eponymous (xCreate is xConnect): used by its own name it
**   shows the cache named by the hidden `cache` column, "default" without
**   one. Declared with CREATE VIRTUAL TABLE it shows a cache named after
**   the table, configured by the arguments. SQLite keeps the statement in
**   the schema, so the table comes back whenever the database is opened;
**   its cache is opened when a statement first uses the table (and again
**   if it was closed). Connecting only checks the arguments: a database
**   file from someone else cannot open or reconfigure a cache just by
**   declaring a table, since the use that would open it is refused
**   (SQLITE_VTAB_DIRECTONLY) unless it comes from the application itself.
**   DROP TABLE closes the cache.
**
**   Rows are identified by a hidden PRIMARY KEY `id`, the cache name and
**   the key in one BLOB (name, a 0 byte, key): WITHOUT ROWID, so xUpdate
**   receives the id of the row it changes or deletes and knows its cache,
**   whatever cache the scan that found it named.
**
**   Writes follow a table's rules: a plain INSERT on a live key fails with
**   a UNIQUE constraint error, INSERT OR REPLACE overwrites, OR IGNORE
**   skips. An UPDATE changes only entries that still exist (one that
**   expired or was deleted since the scan stays gone) and may move a row to
**   another key or cache under the same rule. Each row is written as it
**   comes: a cache has no transactions, so rows written before a failing
**   row of the same statement stay.
**
** The vtab declares SQLITE_VTAB_DIRECTONLY: a view or trigger in a database
** file could otherwise read or change any cache of the process.
*/
#include "pcx.h"

#include <stdarg.h>
#include <string.h>

#define PCACHE_COLUMN_KEY 0
#define PCACHE_COLUMN_VALUE 1
#define PCACHE_COLUMN_TTL 2
#define PCACHE_COLUMN_EXPIRES_AT 3
#define PCACHE_COLUMN_SIZE 4
#define PCACHE_COLUMN_CACHE 5
#define PCACHE_COLUMN_ID 6

typedef struct pcache_vtab {
  sqlite3_vtab base;
  sqlite3 *db;
  char *name;  /* declared table: its cache; NULL if eponymous. sqlite3_free */
  int nargs;   /* declared table: configuration arguments */
  char **args; /* one sqlite3_malloc block: pointers then strings */
} pcache_vtab;

typedef struct pcache_cursor {
  sqlite3_vtab_cursor base;
  pc_cache *c; /* pc_cache_release */
  pc_iter *it; /* pc_iter_close; NULL for a point lookup */
  pc_item item;
  void *key_copy; /* point lookup or IN: the key bytes. sqlite3_free */
  /* key IN (...): what pc_get_items found, handed to item one by one. */
  pc_item *items; /* sqlite3_free; the values of rcs[i] == PC_OK */
  int *rcs;       /* sqlite3_free */
  size_t nitems, pos;
  int eof;
} pcache_cursor;

static int vtab_error(sqlite3_vtab *vt, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  sqlite3_free(vt->zErrMsg);
  vt->zErrMsg = sqlite3_vmprintf(fmt, ap);
  va_end(ap);
  return SQLITE_ERROR;
}

/* An engine error on a vtab: "pcache: message", with the matching code. */
static int vtab_pc_error(sqlite3_vtab *vt, int rc) {
  if (rc == PC_NOMEM) return SQLITE_NOMEM;
  vtab_error(vt, "pcache: %s", pc_errmsg(NULL));
  return pcx_sqlite_code(rc);
}

/* A zeroed block for a vtab or cursor struct, or NULL (sqlite3_free). */
static void *zalloc(size_t n) {
  void *p = sqlite3_malloc64(n);
  if (p) memset(p, 0, n);
  return p;
}

/* ---- Connecting ---- */

/* xCreate and xConnect (the same function makes the table eponymous, so a
** definition read from the database file cannot be told from the CREATE
** statement): with trusted_schema OFF every declared table is held to the
** rules of an untrusted definition (memory caches only; cache_open() has
** no such limit). */
static int pcacheConnect(sqlite3 *db, void *pAux, int argc,
                         const char *const *argv, sqlite3_vtab **ppVtab,
                         char **pzErr) {
  (void)pAux;
  int trusted = 1;
  sqlite3_db_config(db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, -1, &trusted);
  int flags = PC_DEF_TABLE | (trusted ? 0 : PC_DEF_UNTRUSTED);
  int eponymous = argc == 3 && sqlite3_stricmp(argv[0], argv[2]) == 0;
  if (!eponymous && strcmp(argv[2], "default") == 0) {
    *pzErr = sqlite3_mprintf("pcache: a table cannot be named default (that "
                             "cache always exists)");
    return SQLITE_ERROR;
  }
  int rc = sqlite3_declare_vtab(
      db, "CREATE TABLE x(key NOT NULL, value, ttl REAL, expires_at REAL, "
          "size INTEGER, cache HIDDEN, id HIDDEN PRIMARY KEY) WITHOUT ROWID");
  if (rc != SQLITE_OK) return rc;
  pcache_vtab *p = zalloc(sizeof *p);
  if (!p) return SQLITE_NOMEM;
  p->db = db;
  if (!eponymous) {
    /* Keep the arguments: the cache is opened from them on first use. */
    int nargs = argc - 3;
    size_t bytes = sizeof(char *) * (size_t)(nargs + 1);
    for (int i = 3; i < argc; i++)
      bytes += strlen(argv[i]) + 1;
    p->name = sqlite3_mprintf("%s", argv[2]);
    p->args = sqlite3_malloc64(bytes);
    if (!p->name || !p->args) {
      sqlite3_free(p->name);
      sqlite3_free(p->args);
      sqlite3_free(p);
      return SQLITE_NOMEM;
    }
    char *z = (char *)(p->args + nargs + 1);
    for (int i = 0; i < nargs; i++) {
      size_t n = strlen(argv[i + 3]) + 1;
      memcpy(z, argv[i + 3], n);
      p->args[i] = z;
      z += n;
    }
    p->nargs = nargs;
    char err[PC_ERRMSG_MAX];
    rc = pc_cache_check_kv(p->name, nargs, (const char *const *)p->args, flags,
                           err, sizeof err);
    if (rc != PC_OK) {
      if (rc != PC_NOMEM) *pzErr = sqlite3_mprintf("pcache: %s", err);
      sqlite3_free(p->name);
      sqlite3_free(p->args);
      sqlite3_free(p);
      return rc == PC_NOMEM ? SQLITE_NOMEM : SQLITE_ERROR;
    }
  }
  sqlite3_vtab_config(db, SQLITE_VTAB_CONSTRAINT_SUPPORT, 1);
  sqlite3_vtab_config(db, SQLITE_VTAB_DIRECTONLY);
  *ppVtab = &p->base;
  return SQLITE_OK;
}

static int pcacheDisconnect(sqlite3_vtab *vt) {
  pcache_vtab *p = (pcache_vtab *)vt;
  sqlite3_free(p->name);
  sqlite3_free(p->args);
  sqlite3_free(p);
  return SQLITE_OK;
}

/* DROP TABLE: the table's cache is closed (persistent entries remain). */
static int pcacheDestroy(sqlite3_vtab *vt) {
  pcache_vtab *p = (pcache_vtab *)vt;
  if (p->name) pc_cache_close(p->name);
  return pcacheDisconnect(vt);
}

/* A new reference to the cache `name` (NULL: the table's own, or default
** for the eponymous table). A declared table's cache is opened from its
** definition, which must match a cache of that name already open. */
static int vtab_cache(pcache_vtab *p, const char *name, pc_cache **out) {
  *out = NULL;
  if (p->name) {
    if (name && strcmp(name, p->name) != 0)
      return vtab_error(&p->base, "pcache: rows of table %s belong to cache %s",
                        p->name, p->name);
    char err[PC_ERRMSG_MAX];
    int rc = pc_cache_open_kv(p->name, p->nargs, (const char *const *)p->args,
                              out, err, sizeof err);
    if (rc == PC_NOMEM) return SQLITE_NOMEM;
    if (rc != PC_OK) return vtab_error(&p->base, "pcache: %s", err);
    return SQLITE_OK;
  }
  *out = pc_cache_find(name ? name : "default");
  if (*out) return SQLITE_OK;
  if (!name) return SQLITE_NOMEM;
  return vtab_error(&p->base, "pcache: no cache named '%s' is open", name);
}

/* ---- Planning ---- */

/*
** idxNum bits (and the order of the xFilter arguments):
**   PCACHE_IDX_CACHE  `cache = ?` on the eponymous table: argv[0]
**   PCACHE_IDX_KEY    `key = ?` (binary collation): a point lookup, next
**                     argument
**   PCACHE_IDX_GLOB   `key GLOB ?`: scan only the literal prefix
**   PCACHE_IDX_LIKE   `key LIKE ?`: the same, ASCII letters in either case
**   PCACHE_IDX_IN     with KEY: `key IN (...)`, all the values at once
**                     (sqlite3_vtab_in), fetched in one pc_get_items
**   PCACHE_IDX_NOTTL  with IN: neither ttl nor expires_at is read, so
**                     the expiries are not fetched
** At most one of KEY, GLOB, LIKE is used, in that order of preference.
** GLOB and LIKE are not omitted: SQLite checks the whole pattern, the
** table narrows the scan to its prefix. An equality under another
** collation (key = ? COLLATE NOCASE) is left to SQLite.
*/
#define PCACHE_IDX_CACHE 1
#define PCACHE_IDX_KEY 2
#define PCACHE_IDX_GLOB 4
#define PCACHE_IDX_LIKE 8
#define PCACHE_IDX_IN 16
#define PCACHE_IDX_NOTTL 32

static int pcacheBestIndex(sqlite3_vtab *vt, sqlite3_index_info *info) {
  pcache_vtab *p = (pcache_vtab *)vt;
  int iCache = -1, iKey = -1, iGlob = -1, iLike = -1, cacheUnusable = 0;
  for (int i = 0; i < info->nConstraint; i++) {
    const struct sqlite3_index_constraint *c = &info->aConstraint[i];
    if (c->iColumn == PCACHE_COLUMN_CACHE && !p->name &&
        c->op == SQLITE_INDEX_CONSTRAINT_EQ) {
      if (c->usable)
        iCache = i;
      else
        cacheUnusable = 1;
    }
    if (c->iColumn != PCACHE_COLUMN_KEY || !c->usable) continue;
    if (c->op == SQLITE_INDEX_CONSTRAINT_EQ) {
      const char *coll = sqlite3_vtab_collation(info, i);
      if (!coll || sqlite3_stricmp(coll, "BINARY") == 0) iKey = i;
    }
    if (c->op == SQLITE_INDEX_CONSTRAINT_GLOB) iGlob = i;
    if (c->op == SQLITE_INDEX_CONSTRAINT_LIKE) iLike = i;
  }
  /* A cache named by another table of a join must be known before the
  ** scan: ask for a plan where it is. */
  if (cacheUnusable && iCache < 0) return SQLITE_CONSTRAINT;
  int idx = 0, argn = 0;
  if (iCache >= 0) {
    idx |= PCACHE_IDX_CACHE;
    info->aConstraintUsage[iCache].argvIndex = ++argn;
    info->aConstraintUsage[iCache].omit = 1;
  }
  if (iKey >= 0) {
    idx |= PCACHE_IDX_KEY;
    info->aConstraintUsage[iKey].argvIndex = ++argn;
    info->aConstraintUsage[iKey].omit = 1;
    info->estimatedCost = 1;
    info->estimatedRows = 1;
    if (sqlite3_vtab_in(info, iKey, 1)) {
      idx |= PCACHE_IDX_IN; /* one xFilter for the whole list */
      sqlite3_uint64 ttl_cols = (sqlite3_uint64)1 << PCACHE_COLUMN_TTL |
                                (sqlite3_uint64)1 << PCACHE_COLUMN_EXPIRES_AT;
      if (!(info->colUsed & ttl_cols)) idx |= PCACHE_IDX_NOTTL;
      info->estimatedCost = 10;
      info->estimatedRows = 10;
    } else {
      info->idxFlags = SQLITE_INDEX_SCAN_UNIQUE;
    }
  } else if (iGlob >= 0 || iLike >= 0) {
    int i = iGlob >= 0 ? iGlob : iLike;
    idx |= iGlob >= 0 ? PCACHE_IDX_GLOB : PCACHE_IDX_LIKE;
    info->aConstraintUsage[i].argvIndex = ++argn;
    info->estimatedCost = 1000;
    info->estimatedRows = 100;
  } else {
    info->estimatedCost = 1e6;
    info->estimatedRows = 100000;
  }
  info->idxNum = idx;
  info->idxStr = idx & PCACHE_IDX_IN     ? "key IN"
                 : idx & PCACHE_IDX_KEY  ? "key="
                 : idx & PCACHE_IDX_GLOB ? "key GLOB prefix"
                 : idx & PCACHE_IDX_LIKE ? "key LIKE prefix"
                                         : "scan";
  return SQLITE_OK;
}

/* ---- Cursors ---- */

static int pcacheOpen(sqlite3_vtab *vt, sqlite3_vtab_cursor **ppCursor) {
  (void)vt;
  pcache_cursor *cur = zalloc(sizeof *cur);
  if (!cur) return SQLITE_NOMEM;
  cur->eof = 1;
  *ppCursor = &cur->base;
  return SQLITE_OK;
}

static void cursor_reset(pcache_cursor *cur) {
  pc_value_release(&cur->item.value);
  memset(&cur->item, 0, sizeof cur->item);
  pc_iter_close(cur->it);
  cur->it = NULL;
  pc_cache_release(cur->c);
  cur->c = NULL;
  sqlite3_free(cur->key_copy);
  cur->key_copy = NULL;
  for (size_t i = 0; i < cur->nitems; i++)
    if (cur->rcs[i] == PC_OK) pc_value_release(&cur->items[i].value);
  sqlite3_free(cur->items);
  sqlite3_free(cur->rcs);
  cur->items = NULL;
  cur->rcs = NULL;
  cur->nitems = cur->pos = 0;
  cur->eof = 1;
}

static int pcacheClose(sqlite3_vtab_cursor *vc) {
  pcache_cursor *cur = (pcache_cursor *)vc;
  cursor_reset(cur);
  sqlite3_free(cur);
  return SQLITE_OK;
}

static int pcacheNext(sqlite3_vtab_cursor *vc) {
  pcache_cursor *cur = (pcache_cursor *)vc;
  pc_value_release(&cur->item.value);
  if (cur->items) { /* key IN: the next key found */
    while (cur->pos < cur->nitems && cur->rcs[cur->pos] != PC_OK)
      cur->pos++;
    if (cur->pos == cur->nitems) {
      cur->eof = 1;
      return SQLITE_OK;
    }
    cur->item = cur->items[cur->pos];
    cur->rcs[cur->pos++] = PC_NOTFOUND; /* the value is item's now */
    return SQLITE_OK;
  }
  if (!cur->it) {
    cur->eof = 1;
    return SQLITE_OK;
  }
  int rc = pc_iter_next(cur->it, &cur->item);
  if (rc == PC_DONE) {
    cur->eof = 1;
    return SQLITE_OK;
  }
  if (rc != PC_OK) return vtab_pc_error(vc->pVtab, rc);
  return SQLITE_OK;
}

/* The literal prefix of a GLOB or LIKE pattern. A LIKE prefix stops at the
** first non-ASCII byte: the engine folds only ASCII letters, and like() may
** be one (ICU's) that folds more. */
static size_t pattern_prefix(const char *z, size_t n, int like) {
  const char *stop = like ? "%_" : "*?[";
  size_t i = 0;
  while (i < n && !strchr(stop, z[i]) && !(like && (unsigned char)z[i] >= 0x80))
    i++;
  return i;
}

/* Walks the list: counts its keys and their bytes into *n and *total, and
** with w copies each key into w (keys[] and nkeys[] point to the copies).
** The list's values last only until the next step, hence the copies. */
static int in_walk(sqlite3_value *list, unsigned char *w, const void **keys,
                   size_t *nkeys, size_t *n, size_t *total) {
  sqlite3_value *v;
  int rc;
  *n = *total = 0;
  for (rc = sqlite3_vtab_in_first(list, &v); rc == SQLITE_OK && v;
       rc = sqlite3_vtab_in_next(list, &v)) {
    const void *key;
    size_t nkey;
    int k = pcx_key(v, &key, &nkey);
    if (k == SQLITE_NOMEM) return SQLITE_NOMEM;
    if (k == 1) continue; /* NULL matches nothing */
    if (w) {
      if (nkey) memcpy(w + *total, key, nkey);
      keys[*n] = w + *total;
      nkeys[*n] = nkey;
    }
    (*n)++;
    *total += nkey;
  }
  return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* key IN (list): every key of the list in one pc_get_items. */
static int filter_in(pcache_cursor *cur, sqlite3_value *list, int flags) {
  size_t n, total;
  int rc = in_walk(list, NULL, NULL, NULL, &n, &total);
  if (rc != SQLITE_OK || n == 0) return rc;
  cur->key_copy = sqlite3_malloc64(total ? total : 1);
  const void **keys = sqlite3_malloc64(n * sizeof *keys);
  size_t *nkeys = sqlite3_malloc64(n * sizeof *nkeys);
  cur->items = sqlite3_malloc64(n * sizeof *cur->items);
  cur->rcs = sqlite3_malloc64(n * sizeof *cur->rcs);
  if (!cur->key_copy || !keys || !nkeys || !cur->items || !cur->rcs)
    rc = SQLITE_NOMEM;
  if (rc == SQLITE_OK)
    rc = in_walk(list, cur->key_copy, keys, nkeys, &n, &total);
  if (rc == SQLITE_OK) {
    int prc = pc_get_items(cur->c, n, keys, nkeys, flags, cur->items, cur->rcs);
    if (prc == PC_OK)
      cur->nitems = n;
    else
      rc = vtab_pc_error(cur->base.pVtab, prc);
  }
  sqlite3_free(keys);
  sqlite3_free(nkeys);
  if (rc != SQLITE_OK) return rc;
  cur->eof = 0;
  return pcacheNext(&cur->base);
}

static int pcacheFilter(sqlite3_vtab_cursor *vc, int idxNum, const char *idxStr,
                        int argc, sqlite3_value **argv) {
  pcache_cursor *cur = (pcache_cursor *)vc;
  pcache_vtab *p = (pcache_vtab *)vc->pVtab;
  (void)idxStr, (void)argc;
  cursor_reset(cur);
  int argn = 0;
  const char *name = NULL;
  if (idxNum & PCACHE_IDX_CACHE) {
    if (sqlite3_value_type(argv[0]) == SQLITE_NULL) return SQLITE_OK;
    name = (const char *)sqlite3_value_text(argv[argn++]);
    if (!name) return SQLITE_NOMEM;
  }
  int rc = vtab_cache(p, name, &cur->c);
  if (rc != SQLITE_OK) return rc;

  if (idxNum & PCACHE_IDX_IN)
    return filter_in(cur, argv[argn],
                     idxNum & PCACHE_IDX_NOTTL ? PC_ITEMS_NO_TTL : 0);
  if (idxNum & PCACHE_IDX_KEY) {
    const void *key;
    size_t nkey;
    int k = pcx_key(argv[argn], &key, &nkey);
    if (k == SQLITE_NOMEM) return SQLITE_NOMEM;
    if (k == 1) return SQLITE_OK; /* key = NULL matches nothing */
    cur->key_copy = sqlite3_malloc64(nkey ? nkey : 1);
    if (!cur->key_copy) return SQLITE_NOMEM;
    memcpy(cur->key_copy, key, nkey);
    rc = pc_get_item(cur->c, cur->key_copy, nkey, &cur->item);
    if (rc == PC_OK) cur->eof = 0;
    return rc == PC_OK || rc == PC_NOTFOUND ? SQLITE_OK
                                            : vtab_pc_error(vc->pVtab, rc);
  }
  const char *prefix = NULL;
  size_t nprefix = 0;
  int like = (idxNum & PCACHE_IDX_LIKE) != 0;
  if (idxNum & (PCACHE_IDX_GLOB | PCACHE_IDX_LIKE)) {
    if (sqlite3_value_type(argv[argn]) == SQLITE_NULL) return SQLITE_OK;
    prefix = (const char *)sqlite3_value_text(argv[argn]);
    if (!prefix) return SQLITE_NOMEM;
    nprefix =
        pattern_prefix(prefix, (size_t)sqlite3_value_bytes(argv[argn]), like);
  }
  rc = pc_iter_open(cur->c, prefix, nprefix, like, &cur->it);
  if (rc != PC_OK) return vtab_pc_error(vc->pVtab, rc);
  cur->eof = 0;
  return pcacheNext(vc);
}

static int pcacheEof(sqlite3_vtab_cursor *vc) {
  return ((pcache_cursor *)vc)->eof;
}

/* The id of a row: the cache name, a 0 byte, the key. */
static void result_id(sqlite3_context *ctx, const char *name, const void *key,
                      size_t nkey) {
  size_t nname = strlen(name);
  unsigned char *z = sqlite3_malloc64(nname + 1 + nkey);
  if (!z) {
    sqlite3_result_error_nomem(ctx);
    return;
  }
  memcpy(z, name, nname + 1);
  if (nkey) memcpy(z + nname + 1, key, nkey);
  sqlite3_result_blob64(ctx, z, nname + 1 + nkey, sqlite3_free);
}

/* Splits an id into its cache name (NUL-terminated inside the value) and
** key. 0 on success, 1 if v is not an id. */
static int parse_id(sqlite3_value *v, const char **name, const void **key,
                    size_t *nkey) {
  const unsigned char *z = sqlite3_value_blob(v);
  size_t n = (size_t)sqlite3_value_bytes(v);
  const unsigned char *zero = z ? memchr(z, 0, n) : NULL;
  if (sqlite3_value_type(v) != SQLITE_BLOB || !zero) return 1;
  *name = (const char *)z;
  *key = zero + 1;
  *nkey = n - (size_t)(zero + 1 - z);
  return 0;
}

static int pcacheColumn(sqlite3_vtab_cursor *vc, sqlite3_context *ctx, int i) {
  pcache_cursor *cur = (pcache_cursor *)vc;
  const pc_item *it = &cur->item;
  /* An UPDATE that does not change a column need not fetch it. */
  if (i != PCACHE_COLUMN_KEY && i != PCACHE_COLUMN_CACHE &&
      i != PCACHE_COLUMN_ID && sqlite3_vtab_nochange(ctx))
    return SQLITE_OK;
  switch (i) {
  case PCACHE_COLUMN_KEY:
    pcx_result_key(ctx, it->key, it->nkey);
    break;
  case PCACHE_COLUMN_VALUE:
    pcx_result_copy(ctx, &it->value);
    break;
  case PCACHE_COLUMN_TTL:
    if (it->ttl_ms != PC_TTL_NEVER)
      sqlite3_result_double(ctx, (double)it->ttl_ms / 1000.0);
    break;
  case PCACHE_COLUMN_EXPIRES_AT:
    if (it->expires_at != PC_TTL_NEVER)
      sqlite3_result_double(ctx, (double)it->expires_at / 1000.0);
    break;
  case PCACHE_COLUMN_SIZE:
    sqlite3_result_int64(ctx, it->size);
    break;
  case PCACHE_COLUMN_CACHE:
    sqlite3_result_text(ctx, pc_cache_name(cur->c), -1, SQLITE_TRANSIENT);
    break;
  default:
    result_id(ctx, pc_cache_name(cur->c), it->key, it->nkey);
    break;
  }
  return SQLITE_OK;
}

static int pcacheRowid(sqlite3_vtab_cursor *vc, sqlite3_int64 *pRowid) {
  (void)vc;
  *pRowid = 0; /* WITHOUT ROWID: never asked */
  return SQLITE_OK;
}

/* ---- Writing ---- */

/* The TTL of a written row: `ttl` if given, else `expires_at` (Unix
** seconds) if given, else keep (UPDATE) or default (INSERT). In an UPDATE,
** `SET ttl = NULL` means the cache's default_ttl (as in cache_set) and
** `SET expires_at = NULL` means no expiry (as the column reads). */
static int row_ttl(pcache_vtab *p, sqlite3_value *ttl, sqlite3_value *exp,
                   int is_update, int64_t *ttl_ms, int *keep) {
  int rc;
  int ttl_given = !sqlite3_value_nochange(ttl) &&
                  (is_update || sqlite3_value_type(ttl) != SQLITE_NULL);
  int exp_given = !sqlite3_value_nochange(exp) &&
                  (is_update || sqlite3_value_type(exp) != SQLITE_NULL);
  *keep = 0;
  if (ttl_given) {
    rc = pcx_ttl(ttl, ttl_ms);
  } else if (exp_given) {
    if (sqlite3_value_type(exp) == SQLITE_NULL) {
      *ttl_ms = PC_TTL_NEVER;
      return SQLITE_OK;
    }
    if (sqlite3_value_type(exp) != SQLITE_INTEGER &&
        sqlite3_value_type(exp) != SQLITE_FLOAT)
      return vtab_error(&p->base, "pcache: expires_at must be a Unix time");
    double left = sqlite3_value_double(exp) - (double)pc_now_wall_ms() / 1000.0;
    if (!(left > 0))
      return vtab_error(&p->base, "pcache: expires_at is in the past");
    rc = pc_ttl_from_seconds(left, ttl_ms);
  } else {
    *ttl_ms = PC_TTL_DEFAULT;
    *keep = is_update;
    return SQLITE_OK;
  }
  return rc == PC_OK ? SQLITE_OK : vtab_pc_error(&p->base, rc);
}

/* Writes (key, v) in c by the statement's conflict rule; *written tells
** whether it was stored (OR IGNORE may skip it). */
static int write_row(pcache_vtab *p, pc_cache *c, const void *key, size_t nkey,
                     const pc_value *v, int64_t ttl, int *written) {
  int conflict = sqlite3_vtab_on_conflict(p->db);
  int rc =
      pc_set(c, key, nkey, v, ttl, conflict == SQLITE_REPLACE ? 0 : PC_SET_NX);
  *written = rc == PC_OK;
  if (rc == PC_OK || rc == PC_DROPPED) return SQLITE_OK;
  if (rc == PC_EXISTS) {
    if (conflict == SQLITE_IGNORE) return SQLITE_OK;
    vtab_error(&p->base, "UNIQUE constraint failed: %s.key",
               p->name ? p->name : "pcache");
    return SQLITE_CONSTRAINT_PRIMARYKEY;
  }
  return vtab_pc_error(&p->base, rc);
}

/* The cache named by a row's `cache` column (NULL: the table's own or
** default), a reference. */
static int column_cache(pcache_vtab *p, sqlite3_value *v, pc_cache **out) {
  const char *name = NULL;
  if (sqlite3_value_type(v) != SQLITE_NULL) {
    name = (const char *)sqlite3_value_text(v);
    if (!name) return SQLITE_NOMEM;
  }
  return vtab_cache(p, name, out);
}

/* The key and TTL columns of a row being written (see row_ttl). */
static int row_key_ttl(pcache_vtab *p, sqlite3_value **col, int update,
                       const void **key, size_t *nkey, int64_t *ttl,
                       int *keep) {
  int k = pcx_key(col[PCACHE_COLUMN_KEY], key, nkey);
  if (k == SQLITE_NOMEM) return SQLITE_NOMEM;
  if (k == 1) return vtab_error(&p->base, "pcache: key must not be NULL");
  return row_ttl(p, col[PCACHE_COLUMN_TTL], col[PCACHE_COLUMN_EXPIRES_AT],
                 update, ttl, keep);
}

/* UPDATE of the row (old cache, old key) to the new column values. */
static int update_row(pcache_vtab *p, sqlite3_value **col, const char *oname,
                      const void *okey, size_t nokey) {
  sqlite3_vtab *vt = &p->base;
  const void *key = NULL;
  size_t nkey = 0;
  int64_t ttl;
  int keep;
  int rc = row_key_ttl(p, col, 1, &key, &nkey, &ttl, &keep);
  if (rc != SQLITE_OK) return rc;
  pc_cache *oc = NULL, *nc = NULL;
  rc = vtab_cache(p, oname, &oc);
  if (rc == SQLITE_OK) rc = column_cache(p, col[PCACHE_COLUMN_CACHE], &nc);
  if (rc != SQLITE_OK) goto done;

  int value_kept = sqlite3_value_nochange(col[PCACHE_COLUMN_VALUE]);
  pc_value v;
  if (!value_kept && pcx_value(col[PCACHE_COLUMN_VALUE], &v) != SQLITE_OK) {
    rc = SQLITE_NOMEM;
    goto done;
  }
  if (oc == nc && nokey == nkey && memcmp(okey, key, nkey) == 0) {
    /* The same entry: only one that still exists is changed (XX). */
    int r = PC_OK;
    if (!value_kept)
      r = pc_set(nc, key, nkey, &v, ttl,
                 PC_SET_XX | (keep ? PC_SET_KEEPTTL : 0));
    else if (!keep)
      r = pc_touch(nc, key, nkey, ttl);
    if (r != PC_OK && r != PC_NOTFOUND && r != PC_DROPPED)
      rc = vtab_pc_error(vt, r);
    goto done;
  }
  /* Moved to another key or cache: written there under the conflict rule,
  ** then removed here, if it was written. */
  pc_item cur = {0};
  int r = pc_get_item(oc, okey, nokey, &cur);
  if (r == PC_OK) {
    if (keep)
      ttl = cur.ttl_ms == PC_TTL_NEVER ? PC_TTL_NEVER
                                       : (cur.ttl_ms > 0 ? cur.ttl_ms : 1);
    int written;
    rc = write_row(p, nc, key, nkey, value_kept ? &cur.value : &v, ttl,
                   &written);
    if (rc == SQLITE_OK && written) pc_delete(oc, okey, nokey);
    pc_value_release(&cur.value);
  } else if (r != PC_NOTFOUND) {
    rc = vtab_pc_error(vt, r);
  }
done:
  pc_cache_release(oc);
  pc_cache_release(nc);
  return rc;
}

static int pcacheUpdate(sqlite3_vtab *vt, int argc, sqlite3_value **argv,
                        sqlite3_int64 *pRowid) {
  pcache_vtab *p = (pcache_vtab *)vt;
  (void)pRowid;
  const char *oname = NULL;
  const void *okey = NULL;
  size_t nokey = 0;
  int rc;
  if (sqlite3_value_type(argv[0]) != SQLITE_NULL &&
      parse_id(argv[0], &oname, &okey, &nokey))
    return vtab_error(vt, "pcache: not a row id");

  if (argc == 1) { /* DELETE */
    pc_cache *c;
    rc = vtab_cache(p, oname, &c);
    if (rc != SQLITE_OK) return rc;
    int r = pc_delete(c, okey, nokey);
    if (r != PC_OK && r != PC_NOTFOUND) rc = vtab_pc_error(vt, r);
    pc_cache_release(c);
    return rc;
  }

  sqlite3_value **col = argv + 2;
  if (!sqlite3_value_nochange(col[PCACHE_COLUMN_SIZE]) &&
      sqlite3_value_type(col[PCACHE_COLUMN_SIZE]) != SQLITE_NULL)
    return vtab_error(vt, "pcache: column size is read-only");
  if (sqlite3_value_type(argv[0]) != SQLITE_NULL)
    return update_row(p, col, oname, okey, nokey);

  /* INSERT */
  const void *key = NULL;
  size_t nkey = 0;
  int64_t ttl;
  int keep;
  rc = row_key_ttl(p, col, 0, &key, &nkey, &ttl, &keep);
  if (rc != SQLITE_OK) return rc;
  pc_cache *c;
  rc = column_cache(p, col[PCACHE_COLUMN_CACHE], &c);
  if (rc != SQLITE_OK) return rc;
  pc_value v;
  int written;
  if (pcx_value(col[PCACHE_COLUMN_VALUE], &v) != SQLITE_OK)
    rc = SQLITE_NOMEM;
  else
    rc = write_row(p, c, key, nkey, &v, ttl, &written);
  pc_cache_release(c);
  return rc;
}

static sqlite3_module pcacheModule = {
    .iVersion = 0,
    .xCreate = pcacheConnect, /* same as xConnect: eponymous and declarable */
    .xConnect = pcacheConnect,
    .xBestIndex = pcacheBestIndex,
    .xDisconnect = pcacheDisconnect,
    .xDestroy = pcacheDestroy,
    .xOpen = pcacheOpen,
    .xClose = pcacheClose,
    .xFilter = pcacheFilter,
    .xNext = pcacheNext,
    .xEof = pcacheEof,
    .xColumn = pcacheColumn,
    .xRowid = pcacheRowid,
    .xUpdate = pcacheUpdate,
};

/* ---- pcache_stats: one row per open cache ---- */

#define STATS_COLUMNS                                                          \
  "CREATE TABLE x(cache TEXT, backend TEXT, entries INTEGER, bytes INTEGER, "  \
  "hits INTEGER, misses INTEGER, hit_ratio REAL, sets INTEGER, "               \
  "deletes INTEGER, evictions INTEGER, expirations INTEGER, errors INTEGER)"

typedef struct stats_cursor {
  sqlite3_vtab_cursor base;
  char **names; /* pc_free */
  int count, i;
  pc_cache *c; /* current row's cache: pc_cache_release */
  pc_stats st;
} stats_cursor;

static int statsConnect(sqlite3 *db, void *pAux, int argc,
                        const char *const *argv, sqlite3_vtab **ppVtab,
                        char **pzErr) {
  (void)pAux, (void)argc, (void)argv, (void)pzErr;
  int rc = sqlite3_declare_vtab(db, STATS_COLUMNS);
  if (rc != SQLITE_OK) return rc;
  sqlite3_vtab *vt = zalloc(sizeof *vt);
  if (!vt) return SQLITE_NOMEM;
  sqlite3_vtab_config(db, SQLITE_VTAB_DIRECTONLY);
  *ppVtab = vt;
  return SQLITE_OK;
}

static int statsDisconnect(sqlite3_vtab *vt) {
  sqlite3_free(vt);
  return SQLITE_OK;
}

static int statsBestIndex(sqlite3_vtab *vt, sqlite3_index_info *info) {
  (void)vt;
  info->estimatedCost = 10;
  info->estimatedRows = 10;
  return SQLITE_OK;
}

static int statsOpen(sqlite3_vtab *vt, sqlite3_vtab_cursor **ppCursor) {
  (void)vt;
  stats_cursor *cur = zalloc(sizeof *cur);
  if (!cur) return SQLITE_NOMEM;
  *ppCursor = &cur->base;
  return SQLITE_OK;
}

static void stats_reset(stats_cursor *cur) {
  pc_cache_release(cur->c);
  cur->c = NULL;
  pc_free(cur->names);
  cur->names = NULL;
  cur->count = cur->i = 0;
}

static int statsClose(sqlite3_vtab_cursor *vc) {
  stats_reset((stats_cursor *)vc);
  sqlite3_free(vc);
  return SQLITE_OK;
}

/* Moves to the next cache that is still open, taking its counters. */
static int statsNext(sqlite3_vtab_cursor *vc) {
  stats_cursor *cur = (stats_cursor *)vc;
  pc_cache_release(cur->c);
  cur->c = NULL;
  while (cur->i < cur->count) {
    cur->c = pc_cache_find(cur->names[cur->i++]);
    if (cur->c) {
      pc_get_stats(cur->c, &cur->st);
      return SQLITE_OK;
    }
  }
  return SQLITE_OK;
}

static int statsFilter(sqlite3_vtab_cursor *vc, int idxNum, const char *idxStr,
                       int argc, sqlite3_value **argv) {
  stats_cursor *cur = (stats_cursor *)vc;
  (void)idxNum, (void)idxStr, (void)argc, (void)argv;
  stats_reset(cur);
  pc_cache_release(pc_cache_find("default")); /* it always exists */
  if (pc_cache_names(&cur->names, &cur->count) != PC_OK) return SQLITE_NOMEM;
  return statsNext(vc);
}

static int statsEof(sqlite3_vtab_cursor *vc) {
  return ((stats_cursor *)vc)->c == NULL;
}

static int statsColumn(sqlite3_vtab_cursor *vc, sqlite3_context *ctx, int i) {
  stats_cursor *cur = (stats_cursor *)vc;
  const pc_stats *s = &cur->st;
  int64_t lookups = s->hits + s->misses;
  switch (i) {
  case 0:
    sqlite3_result_text(ctx, pc_cache_name(cur->c), -1, SQLITE_TRANSIENT);
    break;
  case 1:
    sqlite3_result_text(ctx, pc_cache_backend_name(cur->c), -1,
                        SQLITE_TRANSIENT);
    break;
  case 6:
    sqlite3_result_double(ctx, lookups ? (double)s->hits / lookups : 0.0);
    break;
  default: {
    const int64_t v[] = {
        0, 0,       s->entries, s->bytes,     s->hits,        s->misses,
        0, s->sets, s->deletes, s->evictions, s->expirations, s->errors};
    sqlite3_result_int64(ctx, v[i]);
  }
  }
  return SQLITE_OK;
}

static int statsRowid(sqlite3_vtab_cursor *vc, sqlite3_int64 *pRowid) {
  *pRowid = ((stats_cursor *)vc)->i;
  return SQLITE_OK;
}

static sqlite3_module statsModule = {
    .iVersion = 0,
    .xCreate = NULL, /* eponymous only */
    .xConnect = statsConnect,
    .xBestIndex = statsBestIndex,
    .xDisconnect = statsDisconnect,
    .xDestroy = statsDisconnect,
    .xOpen = statsOpen,
    .xClose = statsClose,
    .xFilter = statsFilter,
    .xNext = statsNext,
    .xEof = statsEof,
    .xColumn = statsColumn,
    .xRowid = statsRowid,
};

int pcx_register_vtabs(sqlite3 *db, pcx_conn *conn) {
  static const struct {
    const char *name;
    sqlite3_module *module;
  } aMod[] = {{"pcache", &pcacheModule},
              {"pcache_stats", &statsModule},
              {"pcache_view", &pcx_view_module}};
  for (size_t i = 0; i < sizeof aMod / sizeof aMod[0]; i++) {
    int view = aMod[i].module == &pcx_view_module;
    if (view) conn->refs++; /* released by pcx_conn_unref, even on failure */
    int rc = sqlite3_create_module_v2(db, aMod[i].name, aMod[i].module,
                                      view ? conn : NULL,
                                      view ? pcx_conn_unref : NULL);
    if (rc != SQLITE_OK) return rc;
  }
  return SQLITE_OK;
}
