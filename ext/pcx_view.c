/*
** pcx_view.c: the virtual table `pcache_view`, a cached view with
** parameters.
**
**   CREATE VIRTUAL TABLE user_orders USING pcache_view(
**     sql='SELECT id, total FROM orders WHERE user_id = ?1', ttl=60,
**     invalidate=auto);
**   SELECT * FROM user_orders(42);
**
** The table's columns are the statement's result columns, with their names
** and declared types; each parameter is a HIDDEN column after them, named
** as written ("?1", or "user" for :user, @user and $user), so that the
** view is called like a table-valued function. A query must give every
** argument. Rows come through the path of cache_query (ext/pcx_query.c):
** the key is derived from the statement, the databases of the connection
** and the arguments, a miss runs the statement on the calling connection
** (once in the process for concurrent misses), and the rows are stored as
** one value for ttl seconds (NULL or absent: the cache's default_ttl).
**
** Arguments: sql (required), ttl, cache (a cache opened by cache_open or
** a pcache table; default "default"), invalidate (none, the default, or
** auto). SQLite keeps the CREATE statement in the schema: the view comes
** back whenever the database is opened with PocketCache loaded.
**
** invalidate=auto. The tables that the statement reads are found when the
** view is made, from the program SQLite compiles for it (the OpenRead
** instructions of EXPLAIN name their b-trees; each b-tree's table comes
** from sqlite_schema). Each such table gets three triggers (AFTER INSERT,
** UPDATE, DELETE) that give its row of `pcache_view_gen` a new random
** counter, and the view
** reads those counters with every query and puts them in the key. The
** counters are written in the writer's own transaction, so:
**   - every writer is seen, whatever connection or process, with or
**     without PocketCache loaded: the triggers are plain SQL;
**   - a reader reads the counters and the rows from one snapshot, so an
**     entry is always stored under the counters of the data it was
**     computed from; a read that begins after a write has committed reads
**     the new counters and cannot find rows computed before the write;
**   - REPLACE fires the INSERT trigger, WITHOUT ROWID tables fire
**     triggers like any other, and a DELETE without WHERE runs row by row
**     (no truncation) when a trigger exists.
** A write costs one more row update per row changed. `pcache_view_watch`
** records which view watches which table, so that DROP TABLE of the last
** view watching a table removes its triggers. The schema version is read
** with the counters: a DDL statement moves it, and the view then checks
** that its triggers still exist (DROP TABLE of a watched table drops them).
** Only tables of the view's own database can be watched (a trigger cannot
** write another database), and not virtual tables (nothing is known of
** their writes): either is an error when the view is made.
**
** The stored payload: the column count (4 bytes), then each row's values
** in order, each a tag byte (0 NULL, 1 INTEGER, 2 REAL, 3 TEXT, 4 BLOB)
** and its data (8 bytes little-endian; TEXT and BLOB a 4-byte length and
** the bytes). A payload that does not walk exactly is a miss.
*/
#include "pcx.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define VIEW_MAGIC "pcv1:"

enum { TAG_NULL, TAG_INT, TAG_REAL, TAG_TEXT, TAG_BLOB };

/* The name of a trigger of invalidate=auto, for the table (%w) and the
** operation (%s); check_triggers() spells it in SQL. */
#define TRIGGER_NAME "\"pcache_view_gen:%w:%s\""

/* A list of names (tables, columns). */
typedef struct name_list {
  int n;
  char **z; /* sqlite3_free each and the array */
} name_list;

static void list_free(name_list *l) {
  for (int i = 0; i < l->n; i++)
    sqlite3_free(l->z[i]);
  sqlite3_free(l->z);
  l->n = 0;
  l->z = NULL;
}

static int list_has(const name_list *l, const char *t) {
  for (int i = 0; i < l->n; i++)
    if (sqlite3_stricmp(l->z[i], t) == 0) return 1;
  return 0;
}

static int list_add(name_list *l, const char *t) {
  if (list_has(l, t)) return SQLITE_OK;
  char **w = sqlite3_realloc64(l->z, sizeof *w * (size_t)(l->n + 1));
  char *copy = sqlite3_mprintf("%s", t);
  if (w) l->z = w;
  if (!w || !copy) {
    sqlite3_free(copy);
    return SQLITE_NOMEM;
  }
  l->z[l->n++] = copy;
  return SQLITE_OK;
}

typedef struct view_vtab {
  sqlite3_vtab base;
  sqlite3 *db;
  pcx_conn *conn;
  char *schema; /* the view's database: "main", ... */
  char *name;
  char *sql;
  char *cache; /* NULL: "default" */
  int64_t ttl_ms;
  int ncol, nparam;
  sqlite3_stmt *run; /* the statement, prepared once */
  /* invalidate=auto */
  int autoinv;
  name_list watch;        /* the tables read */
  name_list cols;         /* the result column names, as declared */
  sqlite3_stmt *gens;     /* one row: each watched table's counter */
  sqlite3_stmt *schemav;  /* PRAGMA schema_version */
  int64_t checked_schema; /* the schema version whose triggers were seen */
  char *broken; /* a stored view that cannot run: why ("pcache_view: ...") */
} view_vtab;

typedef struct view_cursor {
  sqlite3_vtab_cursor base;
  pcx_cached q;
  sqlite3_value **args; /* nparam, sqlite3_value_free */
  const unsigned char *next, *end;
  const unsigned char **vals; /* the current row's values */
  sqlite3_int64 row;
  int eof;
} view_cursor;

static int view_error(sqlite3_vtab *vt, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int view_error(sqlite3_vtab *vt, int rc, const char *fmt, ...) {
  if (rc == SQLITE_NOMEM) return rc;
  va_list ap;
  va_start(ap, fmt);
  char *msg = sqlite3_vmprintf(fmt, ap);
  va_end(ap);
  sqlite3_free(vt->zErrMsg);
  vt->zErrMsg =
      msg ? sqlite3_mprintf("pcache_view: %s: %s", ((view_vtab *)vt)->name, msg)
          : NULL;
  sqlite3_free(msg);
  return vt->zErrMsg ? rc : SQLITE_NOMEM;
}

/* ---- The payload ---- */

static void put32(sqlite3_str *s, uint32_t v) {
  char b[4] = {(char)v, (char)(v >> 8), (char)(v >> 16), (char)(v >> 24)};
  sqlite3_str_append(s, b, 4);
}

static void put64(sqlite3_str *s, uint64_t v) {
  put32(s, (uint32_t)v);
  put32(s, (uint32_t)(v >> 32));
}

/* Appends v in the payload's form (also the arguments' form in the key). */
static int put_value(sqlite3_str *s, sqlite3_value *v) {
  switch (sqlite3_value_type(v)) {
  case SQLITE_INTEGER:
    sqlite3_str_appendchar(s, 1, TAG_INT);
    put64(s, (uint64_t)sqlite3_value_int64(v));
    return SQLITE_OK;
  case SQLITE_FLOAT: {
    double r = sqlite3_value_double(v);
    uint64_t u;
    memcpy(&u, &r, 8);
    sqlite3_str_appendchar(s, 1, TAG_REAL);
    put64(s, u);
    return SQLITE_OK;
  }
  case SQLITE_TEXT:
  case SQLITE_BLOB: {
    int text = sqlite3_value_type(v) == SQLITE_TEXT;
    size_t n;
    const void *p = pcx_value_bytes(v, &n);
    if (!p) return SQLITE_NOMEM;
    sqlite3_str_appendchar(s, 1, text ? TAG_TEXT : TAG_BLOB);
    put32(s, (uint32_t)n);
    if (n) sqlite3_str_append(s, p, (int)n);
    return SQLITE_OK;
  }
  default:
    sqlite3_str_appendchar(s, 1, TAG_NULL);
    return SQLITE_OK;
  }
}

/* The end of the value at p (which is before end), or NULL if it does not
** fit. */
static const unsigned char *skip_value(const unsigned char *p,
                                       const unsigned char *end) {
  switch (*p) {
  case TAG_NULL:
    return p + 1;
  case TAG_INT:
  case TAG_REAL:
    return end - p >= 9 ? p + 9 : NULL;
  case TAG_TEXT:
  case TAG_BLOB:
    if (end - p < 5 || (uint64_t)(end - p - 5) < pcx_get32le(p + 1))
      return NULL;
    return p + 5 + pcx_get32le(p + 1);
  default:
    return NULL;
  }
}

/* Whether a stored payload has this view's column count and walks to its
** end in whole rows: only then are its bytes read as rows. */
static int payload_ok(const view_vtab *p, const char *z, size_t n) {
  const unsigned char *u = (const unsigned char *)z, *end = u + n;
  if (n < 4 || pcx_get32le(u) != (uint32_t)p->ncol) return 0;
  u += 4;
  for (size_t i = 0; u < end; i++) {
    if (!(u = skip_value(u, end))) return 0;
    if (u == end) return (i + 1) % (size_t)p->ncol == 0;
  }
  return 1; /* no rows */
}

static int payload_valid(void *arg, const char *z, size_t n) {
  view_cursor *cur = arg;
  return payload_ok((view_vtab *)cur->base.pVtab, z, n);
}

/* ---- Computing on a miss ---- */

/* Whether st returns the columns the view declared (names and number). */
static int same_columns(const view_vtab *p, sqlite3_stmt *st) {
  if (sqlite3_column_count(st) != p->ncol) return 0;
  for (int i = 0; i < p->ncol; i++) {
    const char *z = sqlite3_column_name(st, i);
    if (!z || strcmp(z, p->cols.z[i]) != 0) return 0;
  }
  return 1;
}

static int view_compute(void *arg, sqlite3_str *out, int64_t limit,
                        char **err) {
  view_cursor *cur = arg;
  view_vtab *p = (view_vtab *)cur->base.pVtab;
  sqlite3_stmt *st = p->run, *own = NULL;
  int rc;
  if (sqlite3_stmt_busy(st)) { /* the view is read by its own statement */
    rc = pcx_prepare_query(p->db, p->sql, 1, &own, err);
    if (rc != SQLITE_OK) return rc;
    st = own;
  }
  rc = SQLITE_OK;
  for (int i = 0; i < p->nparam && rc == SQLITE_OK; i++)
    rc = sqlite3_bind_value(st, i + 1, cur->args[i]);
  if (rc != SQLITE_OK) {
    sqlite3_clear_bindings(st);
    sqlite3_finalize(own);
    return rc;
  }
  put32(out, (uint32_t)p->ncol);
  int first = 1;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW || first) {
    /* After the first step: a schema change re-prepares the statement,
    ** and the view's columns are fixed when it connects. */
    if (first && (rc == SQLITE_ROW || rc == SQLITE_DONE) &&
        !same_columns(p, st)) {
      *err = sqlite3_mprintf("sql now returns other columns than the view "
                             "has (drop the view and create it again)");
      rc = *err ? SQLITE_ERROR : SQLITE_NOMEM;
      break;
    }
    first = 0;
    if (rc != SQLITE_ROW) break;
    for (int i = 0; i < p->ncol && rc == SQLITE_ROW; i++)
      if (put_value(out, sqlite3_column_value(st, i)) != SQLITE_OK)
        rc = SQLITE_NOMEM;
    if (rc != SQLITE_ROW) break;
    if (sqlite3_str_errcode(out)) {
      rc = sqlite3_str_errcode(out);
      break;
    }
    if (sqlite3_str_length(out) > limit) {
      rc = SQLITE_TOOBIG;
      break;
    }
  }
  if (rc == SQLITE_DONE) rc = SQLITE_OK;
  if (rc != SQLITE_OK && rc != SQLITE_TOOBIG && rc != SQLITE_NOMEM && !*err)
    *err = sqlite3_mprintf("%s", sqlite3_errmsg(p->db));
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  sqlite3_finalize(own);
  return rc;
}

/* ---- invalidate=auto ---- */

/* The tables that p->sql reads, from the b-trees its program opens, into
** out. On an error *err may say why (else the connection's message). */
static int find_tables(view_vtab *p, name_list *out, char **err) {
  sqlite3_stmt *ex = NULL, *name = NULL;
  char *z = sqlite3_mprintf("EXPLAIN %s", p->sql);
  int rc = z ? sqlite3_prepare_v2(p->db, z, -1, &ex, NULL) : SQLITE_NOMEM;
  sqlite3_free(z);
  if (rc == SQLITE_OK) {
    z = sqlite3_mprintf("SELECT tbl_name FROM \"%w\".sqlite_schema WHERE "
                        "rootpage = ?1 AND type IN ('table', 'index')",
                        p->schema);
    rc = z ? sqlite3_prepare_v2(p->db, z, -1, &name, NULL) : SQLITE_NOMEM;
    sqlite3_free(z);
  }
  int step;
  while (rc == SQLITE_OK && (step = sqlite3_step(ex)) == SQLITE_ROW) {
    const char *op = (const char *)sqlite3_column_text(ex, 1);
    if (!op) {
      rc = SQLITE_NOMEM;
      break;
    }
    if (strcmp(op, "VOpen") == 0) {
      *err = sqlite3_mprintf("invalidate=auto cannot watch a virtual table, "
                             "and sql reads one");
      rc = SQLITE_ERROR;
      break;
    }
    if (strcmp(op, "OpenRead") != 0 && strcmp(op, "ReopenIdx") != 0) continue;
    int root = sqlite3_column_int(ex, 3), iDb = sqlite3_column_int(ex, 4);
    const char *db = sqlite3_db_name(p->db, iDb);
    if (!db || strcmp(db, p->schema) != 0) {
      *err = sqlite3_mprintf("invalidate=auto watches tables of the view's "
                             "own database (%s), and sql reads one of %s",
                             p->schema, db ? db : "another");
      rc = SQLITE_ERROR;
      break;
    }
    sqlite3_bind_int(name, 1, root);
    int found = sqlite3_step(name);
    if (found == SQLITE_ROW) {
      const char *t = (const char *)sqlite3_column_text(name, 0);
      rc = t ? list_add(out, t) : SQLITE_NOMEM;
    } else if (found == SQLITE_DONE) {
      *err = sqlite3_mprintf("invalidate=auto cannot watch the schema "
                             "table, and sql reads it");
      rc = SQLITE_ERROR;
    } else {
      rc = found;
    }
    sqlite3_reset(name);
  }
  if (rc == SQLITE_OK && step != SQLITE_DONE) rc = step;
  sqlite3_finalize(ex);
  sqlite3_finalize(name);
  if (rc == SQLITE_OK && out->n == 0) {
    *err = sqlite3_mprintf("invalidate=auto: sql reads no table");
    rc = SQLITE_ERROR;
  }
  return rc;
}

static const char *const trigger_ops[] = {"INSERT", "UPDATE", "DELETE"};

/* CREATE: the counter tables, a counter and triggers per watched table,
** and this view's rows in pcache_view_watch. */
static int install_triggers(view_vtab *p) {
  sqlite3_str *s = sqlite3_str_new(p->db);
  sqlite3_str_appendf(
      s,
      "CREATE TABLE IF NOT EXISTS \"%w\".pcache_view_gen(tbl TEXT PRIMARY "
      "KEY, gen INTEGER NOT NULL) WITHOUT ROWID;"
      "CREATE TABLE IF NOT EXISTS \"%w\".pcache_view_watch(view TEXT, tbl "
      "TEXT, PRIMARY KEY(view, tbl)) WITHOUT ROWID;",
      p->schema, p->schema);
  for (int i = 0; i < p->watch.n; i++) {
    const char *t = p->watch.z[i];
    sqlite3_str_appendf(
        s,
        "INSERT OR IGNORE INTO \"%w\".pcache_view_gen VALUES(%Q, random());"
        "INSERT OR IGNORE INTO \"%w\".pcache_view_watch VALUES(%Q, %Q);",
        p->schema, t, p->schema, p->name, t);
    /* Made anew: one of this name may sit on a table renamed since. */
    for (int k = 0; k < 3; k++)
      sqlite3_str_appendf(
          s,
          "DROP TRIGGER IF EXISTS \"%w\"." TRIGGER_NAME ";"
          "CREATE TRIGGER \"%w\"." TRIGGER_NAME " "
          "AFTER %s ON \"%w\" BEGIN UPDATE pcache_view_gen SET gen = random() "
          "WHERE tbl = %Q; END;",
          p->schema, t, trigger_ops[k], p->schema, t, trigger_ops[k],
          trigger_ops[k], t, t);
  }
  char *sql = sqlite3_str_finish(s);
  if (!sql) return SQLITE_NOMEM;
  int rc = sqlite3_exec(p->db, sql, NULL, NULL, NULL);
  sqlite3_free(sql);
  if (rc != SQLITE_OK)
    return view_error(&p->base, rc, "invalidate=auto: %s",
                      sqlite3_errmsg(p->db));
  return SQLITE_OK;
}

/* Runs sql (from sqlite3_mprintf; freed here) with ?1 bound to text a:
** to its end, or with row not NULL only to its first row, *row saying
** whether there is one. SQLITE_OK or an error code. */
static int run1(sqlite3 *db, char *sql, const char *a, int *row) {
  sqlite3_stmt *st = NULL;
  int rc = sql ? sqlite3_prepare_v2(db, sql, -1, &st, NULL) : SQLITE_NOMEM;
  sqlite3_free(sql);
  if (rc != SQLITE_OK) return rc;
  sqlite3_bind_text(st, 1, a, -1, SQLITE_STATIC);
  while ((rc = sqlite3_step(st)) == SQLITE_ROW && !row) {
  }
  sqlite3_finalize(st);
  if (row) *row = rc == SQLITE_ROW;
  return rc == SQLITE_DONE || rc == SQLITE_ROW ? SQLITE_OK : rc;
}

/* DROP TABLE: this view's watch rows, and the triggers and counters of
** tables that no other view watches any more; the last view gone, the two
** tables. Driven by pcache_view_watch, not by the statement, so that a
** view whose statement no longer prepares can be dropped too. */
static int remove_triggers(view_vtab *p) {
  sqlite3 *db = p->db;
  const char *sch = p->schema;
  int row;
  int rc = run1(db,
                sqlite3_mprintf("SELECT 1 FROM \"%w\".sqlite_schema WHERE "
                                "type = 'table' AND name = ?1",
                                sch),
                "pcache_view_watch", &row);
  if (rc != SQLITE_OK || !row) return rc; /* none: nothing to remove */
  /* The tables this view watched. */
  name_list tables = {0};
  sqlite3_stmt *st = NULL;
  char *q = sqlite3_mprintf(
      "SELECT tbl FROM \"%w\".pcache_view_watch WHERE view = ?1", sch);
  rc = q ? sqlite3_prepare_v2(db, q, -1, &st, NULL) : SQLITE_NOMEM;
  sqlite3_free(q);
  if (rc == SQLITE_OK) {
    sqlite3_bind_text(st, 1, p->name, -1, SQLITE_STATIC);
    while (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
      const char *t = (const char *)sqlite3_column_text(st, 0);
      rc = t ? list_add(&tables, t) : SQLITE_NOMEM;
    }
    int frc = sqlite3_finalize(st);
    if (rc == SQLITE_OK) rc = frc;
  }
  if (rc == SQLITE_OK)
    rc = run1(db,
              sqlite3_mprintf(
                  "DELETE FROM \"%w\".pcache_view_watch WHERE view = ?1", sch),
              p->name, NULL);
  for (int i = 0; rc == SQLITE_OK && i < tables.n; i++) {
    const char *t = tables.z[i];
    rc = run1(db,
              sqlite3_mprintf(
                  "SELECT 1 FROM \"%w\".pcache_view_watch WHERE tbl = ?1", sch),
              t, &row);
    if (rc != SQLITE_OK || row) continue; /* another view watches it */
    rc = run1(db,
              sqlite3_mprintf(
                  "DELETE FROM \"%w\".pcache_view_gen WHERE tbl = ?1", sch),
              t, NULL);
    for (int k = 0; rc == SQLITE_OK && k < 3; k++) {
      q = sqlite3_mprintf("DROP TRIGGER IF EXISTS \"%w\"." TRIGGER_NAME, sch, t,
                          trigger_ops[k]);
      rc = q ? sqlite3_exec(db, q, NULL, NULL, NULL) : SQLITE_NOMEM;
      sqlite3_free(q);
    }
  }
  list_free(&tables);
  if (rc == SQLITE_OK)
    rc = run1(
        db,
        sqlite3_mprintf("SELECT 1 FROM \"%w\".pcache_view_watch LIMIT 1", sch),
        "", &row);
  if (rc == SQLITE_OK && !row) {
    q = sqlite3_mprintf("DROP TABLE \"%w\".pcache_view_watch;"
                        "DROP TABLE IF EXISTS \"%w\".pcache_view_gen;",
                        sch, sch);
    rc = q ? sqlite3_exec(db, q, NULL, NULL, NULL) : SQLITE_NOMEM;
    sqlite3_free(q);
  }
  if (rc != SQLITE_OK)
    return view_error(&p->base, rc, "%s", sqlite3_errmsg(db));
  return SQLITE_OK;
}

/* After a schema change: every watched table still has its three
** triggers (on the table of that name: a renamed table takes its
** triggers along), and the statement reads no table it did not. */
static int check_triggers(view_vtab *p) {
  name_list now = {0};
  char *why = NULL;
  int rc = find_tables(p, &now, &why);
  for (int i = 0; rc == SQLITE_OK && i < now.n; i++) {
    if (list_has(&p->watch, now.z[i])) continue;
    why = sqlite3_mprintf("sql now reads table %s, which the view does not "
                          "watch: drop the view and create it again",
                          now.z[i]);
    rc = SQLITE_ERROR;
  }
  list_free(&now);
  if (rc != SQLITE_OK) {
    rc = view_error(&p->base, rc, "%s", why ? why : sqlite3_errmsg(p->db));
    sqlite3_free(why);
    return rc;
  }
  sqlite3_stmt *st = NULL;
  char *q = sqlite3_mprintf(
      "SELECT count(*) FROM \"%w\".sqlite_schema WHERE type = 'trigger' AND "
      "name = 'pcache_view_gen:' || ?1 || ':' || ?2 AND " /* TRIGGER_NAME */
      "tbl_name = ?1 COLLATE NOCASE",
      p->schema);
  rc = q ? sqlite3_prepare_v2(p->db, q, -1, &st, NULL) : SQLITE_NOMEM;
  sqlite3_free(q);
  for (int i = 0; rc == SQLITE_OK && i < p->watch.n; i++) {
    for (int k = 0; rc == SQLITE_OK && k < 3; k++) {
      sqlite3_bind_text(st, 1, p->watch.z[i], -1, SQLITE_STATIC);
      sqlite3_bind_text(st, 2, trigger_ops[k], -1, SQLITE_STATIC);
      rc = sqlite3_step(st);
      int n = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
      rc = sqlite3_reset(st);
      if (rc == SQLITE_OK && n != 1) {
        sqlite3_finalize(st);
        return view_error(&p->base, SQLITE_ERROR,
                          "table %s lost the triggers of invalidate=auto "
                          "(was it dropped or renamed, and made again?): "
                          "drop the view and create it again",
                          p->watch.z[i]);
      }
    }
  }
  sqlite3_finalize(st);
  if (rc != SQLITE_OK)
    return view_error(&p->base, rc, "%s", sqlite3_errmsg(p->db));
  return SQLITE_OK;
}

/* Prepares the statements that read the counters and the schema version. */
static int prepare_gens(view_vtab *p) {
  sqlite3_str *s = sqlite3_str_new(p->db);
  sqlite3_str_appendall(s, "SELECT ");
  for (int i = 0; i < p->watch.n; i++)
    sqlite3_str_appendf(s,
                        "%s(SELECT gen FROM \"%w\".pcache_view_gen WHERE tbl "
                        "= %Q)",
                        i ? ", " : "", p->schema, p->watch.z[i]);
  char *sql = sqlite3_str_finish(s);
  int rc = sql ? sqlite3_prepare_v3(p->db, sql, -1, SQLITE_PREPARE_PERSISTENT,
                                    &p->gens, NULL)
               : SQLITE_NOMEM;
  sqlite3_free(sql);
  if (rc == SQLITE_OK) {
    sql = sqlite3_mprintf("PRAGMA \"%w\".schema_version", p->schema);
    rc = sql ? sqlite3_prepare_v3(p->db, sql, -1, SQLITE_PREPARE_PERSISTENT,
                                  &p->schemav, NULL)
             : SQLITE_NOMEM;
    sqlite3_free(sql);
  }
  if (rc != SQLITE_OK)
    return view_error(&p->base, rc, "invalidate=auto: %s",
                      sqlite3_errmsg(p->db));
  p->checked_schema = -1;
  return SQLITE_OK;
}

/* Appends the counters of the watched tables to the key's extra part, and
** checks the triggers once per schema version. */
static int append_gens(view_vtab *p, sqlite3_str *extra) {
  sqlite3 *db = p->db;
  int rc = sqlite3_step(p->schemav);
  int64_t sv = rc == SQLITE_ROW ? sqlite3_column_int64(p->schemav, 0) : -1;
  rc = sqlite3_reset(p->schemav);
  if (rc != SQLITE_OK)
    return view_error(&p->base, rc, "%s", sqlite3_errmsg(db));
  if (sv != p->checked_schema) {
    rc = check_triggers(p);
    if (rc != SQLITE_OK) return rc;
    p->checked_schema = sv;
  }
  put64(extra, (uint64_t)sv);
  rc = sqlite3_step(p->gens);
  for (int i = 0; rc == SQLITE_ROW && i < p->watch.n; i++) {
    if (sqlite3_column_type(p->gens, i) == SQLITE_NULL) {
      sqlite3_reset(p->gens);
      return view_error(&p->base, SQLITE_ERROR,
                        "the change counter of table %s is missing from "
                        "pcache_view_gen: drop the view and create it again",
                        p->watch.z[i]);
    }
    put64(extra, (uint64_t)sqlite3_column_int64(p->gens, i));
  }
  rc = sqlite3_reset(p->gens);
  if (rc != SQLITE_OK)
    return view_error(&p->base, rc, "%s", sqlite3_errmsg(db));
  return SQLITE_OK;
}

/* ---- Connecting ---- */

/* The value of a key=value argument: quotes removed ('it''s' -> it's). */
static char *arg_value(const char *z) {
  while (*z == ' ' || *z == '\t' || *z == '\n' || *z == '\r')
    z++;
  size_t n = strlen(z);
  while (n > 0 && strchr(" \t\n\r", z[n - 1]))
    n--;
  char q = n >= 2 ? z[0] : 0;
  if (q == '[') q = ']';
  if (n < 2 || !(q == '\'' || q == '"' || q == '`' || q == ']') ||
      z[n - 1] != q)
    return sqlite3_mprintf("%.*s", (int)n, z);
  char *out = sqlite3_malloc64(n);
  if (!out) return NULL;
  size_t k = 0;
  for (size_t i = 1; i + 1 < n; i++) {
    out[k++] = z[i];
    if (z[i] == q && i + 2 < n && z[i + 1] == q) i++;
  }
  out[k] = 0;
  return out;
}

static void view_free(view_vtab *p) {
  if (!p) return;
  sqlite3_finalize(p->run);
  sqlite3_finalize(p->gens);
  sqlite3_finalize(p->schemav);
  list_free(&p->watch);
  list_free(&p->cols);
  sqlite3_free(p->schema);
  sqlite3_free(p->name);
  sqlite3_free(p->sql);
  sqlite3_free(p->cache);
  sqlite3_free(p->broken);
  pcx_conn_unref(p->conn);
  sqlite3_free(p->base.zErrMsg);
  sqlite3_free(p);
}

/* Reads the arguments into p. */
static int parse_args(view_vtab *p, int argc, const char *const *argv,
                      char **pzErr) {
  int have_ttl = 0;
  p->ttl_ms = PC_TTL_DEFAULT;
  for (int i = 3; i < argc; i++) {
    const char *eq = strchr(argv[i], '=');
    const char *k = argv[i];
    while (*k == ' ' || *k == '\t' || *k == '\n')
      k++;
    size_t nk = eq ? (size_t)(eq - k) : 0;
    while (nk > 0 && strchr(" \t\n\r", k[nk - 1]))
      nk--;
    if (!eq || nk == 0) {
      *pzErr = sqlite3_mprintf("pcache_view: %s: arguments are key=value "
                               "(sql, ttl, cache, invalidate), not '%s'",
                               p->name, argv[i]);
      return SQLITE_ERROR;
    }
    char *v = arg_value(eq + 1);
    if (!v) return SQLITE_NOMEM;
    char **slot = NULL;
    const char *bad = NULL;
    if (nk == 3 && sqlite3_strnicmp(k, "sql", 3) == 0) {
      slot = &p->sql;
    } else if (nk == 5 && sqlite3_strnicmp(k, "cache", 5) == 0) {
      slot = &p->cache;
    } else if (nk == 3 && sqlite3_strnicmp(k, "ttl", 3) == 0) {
      if (have_ttl++)
        bad = "is given twice";
      else if (sqlite3_stricmp(v, "NULL") != 0 &&
               pc_ttl_from_text(v, strlen(v), &p->ttl_ms) != PC_OK)
        bad = pc_errmsg(NULL);
    } else if (nk == 10 && sqlite3_strnicmp(k, "invalidate", 10) == 0) {
      if (sqlite3_stricmp(v, "auto") == 0)
        p->autoinv = 1;
      else if (sqlite3_stricmp(v, "none") != 0)
        bad = "must be auto or none";
    } else {
      *pzErr = sqlite3_mprintf("pcache_view: %s: unknown argument '%.*s' "
                               "(sql, ttl, cache, invalidate)",
                               p->name, (int)nk, k);
      sqlite3_free(v);
      return SQLITE_ERROR;
    }
    if (slot) {
      if (*slot)
        bad = "is given twice";
      else
        *slot = v, v = NULL;
    }
    sqlite3_free(v);
    if (bad) {
      int named = strncmp(bad, "ttl ", 4) != 0; /* the TTL rule names it */
      *pzErr = sqlite3_mprintf("pcache_view: %s: %.*s%s%s", p->name,
                               named ? (int)nk : 0, k, named ? " " : "", bad);
      return *pzErr ? SQLITE_ERROR : SQLITE_NOMEM;
    }
  }
  if (!p->sql) {
    *pzErr = sqlite3_mprintf("pcache_view: %s: sql='SELECT ...' is required",
                             p->name);
    return SQLITE_ERROR;
  }
  return SQLITE_OK;
}

/* The name of parameter i (1-based) as a column: "?N", or the name
** without its prefix character. */
static const char *param_column(sqlite3_stmt *st, int i, char *buf, size_t n) {
  const char *z = sqlite3_bind_parameter_name(st, i);
  if (!z || z[0] == '?') {
    snprintf(buf, n, "?%d", i);
    return buf;
  }
  return z + 1;
}

/* CREATE TABLE x(...) for the view: result columns, then the parameters
** as HIDDEN columns. */
static int declare(view_vtab *p, sqlite3_stmt *st) {
  sqlite3_str *s = sqlite3_str_new(p->db);
  char buf[24], buf2[24];
  int total = p->ncol + p->nparam;
  sqlite3_str_appendall(s, "CREATE TABLE x(");
  for (int i = 0; i < total; i++) {
    const char *name = i < p->ncol
                           ? sqlite3_column_name(st, i)
                           : param_column(st, i - p->ncol + 1, buf, sizeof buf);
    if (!name) {
      sqlite3_free(sqlite3_str_finish(s));
      return SQLITE_NOMEM;
    }
    for (int j = 0; j < i; j++) {
      const char *other =
          j < p->ncol ? sqlite3_column_name(st, j)
                      : param_column(st, j - p->ncol + 1, buf2, sizeof buf2);
      if (other && sqlite3_stricmp(other, name) == 0) {
        sqlite3_free(sqlite3_str_finish(s));
        return view_error(
            &p->base, SQLITE_ERROR,
            "sql has two %s named \"%s\" (name them apart "
            "with AS)",
            i < p->ncol ? "result columns" : "columns or parameters", name);
      }
    }
    const char *type = i < p->ncol ? sqlite3_column_decltype(st, i) : NULL;
    sqlite3_str_appendf(s, "%s\"%w\"", i ? ", " : "", name);
    if (type) sqlite3_str_appendf(s, " %s", type);
    if (i >= p->ncol) sqlite3_str_appendall(s, " HIDDEN");
  }
  sqlite3_str_appendall(s, ")");
  char *sql = sqlite3_str_finish(s);
  if (!sql) return SQLITE_NOMEM;
  int rc = sqlite3_declare_vtab(p->db, sql);
  sqlite3_free(sql);
  if (rc != SQLITE_OK)
    return view_error(&p->base, rc, "%s", sqlite3_errmsg(p->db));
  return SQLITE_OK;
}

static int view_init(sqlite3 *db, void *pAux, int argc, const char *const *argv,
                     sqlite3_vtab **ppVtab, char **pzErr, int create) {
  view_vtab *p = sqlite3_malloc64(sizeof *p);
  if (!p) return SQLITE_NOMEM;
  memset(p, 0, sizeof *p);
  p->db = db;
  p->conn = pAux;
  p->conn->refs++;
  p->schema = sqlite3_mprintf("%s", argv[1]);
  p->name = sqlite3_mprintf("%s", argv[2]);
  int rc =
      p->schema && p->name ? parse_args(p, argc, argv, pzErr) : SQLITE_NOMEM;
  if (rc == SQLITE_OK && create && p->cache && !pcx_cache(p->conn, p->cache)) {
    *pzErr = sqlite3_mprintf("pcache_view: %s: no cache named '%s' is open",
                             p->name, p->cache);
    rc = SQLITE_ERROR;
  }
  char *why = NULL;
  if (rc == SQLITE_OK) {
    rc = pcx_prepare_query(db, p->sql, 1, &p->run, &why);
    if (rc != SQLITE_OK && why) view_error(&p->base, rc, "%s", why);
    sqlite3_free(why);
  }
  int declared = 0;
  if (rc == SQLITE_OK) {
    p->ncol = sqlite3_column_count(p->run);
    p->nparam = sqlite3_bind_parameter_count(p->run);
    rc = declare(p, p->run);
    declared = rc == SQLITE_OK;
    /* Names are distinct (declare() checked), so list_add keeps each. */
    for (int i = 0; rc == SQLITE_OK && i < p->ncol; i++) {
      const char *z = sqlite3_column_name(p->run, i);
      rc = z ? list_add(&p->cols, z) : SQLITE_NOMEM;
    }
  }
  if (rc == SQLITE_OK && p->autoinv) {
    rc = find_tables(p, &p->watch, &why);
    if (rc != SQLITE_OK && rc != SQLITE_NOMEM)
      view_error(&p->base, rc, "%s", why ? why : sqlite3_errmsg(db));
    sqlite3_free(why);
    if (rc == SQLITE_OK && create) rc = install_triggers(p);
    if (rc == SQLITE_OK) rc = prepare_gens(p);
  }
  int transient = rc == SQLITE_NOMEM || (rc & 0xff) == SQLITE_BUSY ||
                  (rc & 0xff) == SQLITE_LOCKED;
  if (rc != SQLITE_OK && !transient && !create && p->name && p->schema) {
    /* A stored view that no longer works (a table it reads was dropped):
    ** connected all the same, with one column, so that DROP TABLE
    ** can remove it; every read says why it cannot run. */
    const char *why = *pzErr ? *pzErr : p->base.zErrMsg;
    p->broken = sqlite3_mprintf("%s", why ? why : sqlite3_errmsg(db));
    sqlite3_free(*pzErr);
    *pzErr = NULL;
    sqlite3_free(p->base.zErrMsg);
    p->base.zErrMsg = NULL;
    sqlite3_finalize(p->run);
    p->run = NULL;
    p->ncol = p->nparam = 0;
    rc = !p->broken ? SQLITE_NOMEM
         : declared ? SQLITE_OK /* once only; every read fails anyway */
                    : sqlite3_declare_vtab(db, "CREATE TABLE x(broken)");
  }
  if (rc != SQLITE_OK) {
    if (!*pzErr && p->base.zErrMsg) {
      *pzErr = p->base.zErrMsg;
      p->base.zErrMsg = NULL;
    }
    view_free(p);
    return rc;
  }
  sqlite3_vtab_config(db, SQLITE_VTAB_DIRECTONLY);
  *ppVtab = &p->base;
  return SQLITE_OK;
}

static int viewCreate(sqlite3 *db, void *pAux, int argc,
                      const char *const *argv, sqlite3_vtab **ppVtab,
                      char **pzErr) {
  return view_init(db, pAux, argc, argv, ppVtab, pzErr, 1);
}

static int viewConnect(sqlite3 *db, void *pAux, int argc,
                       const char *const *argv, sqlite3_vtab **ppVtab,
                       char **pzErr) {
  return view_init(db, pAux, argc, argv, ppVtab, pzErr, 0);
}

static int viewDisconnect(sqlite3_vtab *vt) {
  view_free((view_vtab *)vt);
  return SQLITE_OK;
}

static int viewDestroy(sqlite3_vtab *vt) {
  view_vtab *p = (view_vtab *)vt;
  if (p->autoinv) {
    int rc = remove_triggers(p);
    if (rc != SQLITE_OK) return rc;
  }
  view_free(p);
  return SQLITE_OK;
}

static int viewRename(sqlite3_vtab *vt, const char *zNew) {
  view_vtab *p = (view_vtab *)vt;
  if (!p->autoinv) return SQLITE_OK;
  char *q = sqlite3_mprintf(
      "UPDATE \"%w\".pcache_view_watch SET view = %Q WHERE view = %Q",
      p->schema, zNew, p->name);
  int rc = q ? sqlite3_exec(p->db, q, NULL, NULL, NULL) : SQLITE_NOMEM;
  sqlite3_free(q);
  if (rc != SQLITE_OK) return view_error(vt, rc, "%s", sqlite3_errmsg(p->db));
  char *name = sqlite3_mprintf("%s", zNew);
  if (!name) return SQLITE_NOMEM;
  sqlite3_free(p->name);
  p->name = name;
  return SQLITE_OK;
}

/* ---- Planning ---- */

/* Every parameter must be given by an equality (v(42) is `"?1" = 42`);
** the arguments reach xFilter in parameter order. */
static int viewBestIndex(sqlite3_vtab *vt, sqlite3_index_info *info) {
  view_vtab *p = (view_vtab *)vt;
  if (p->broken) {
    sqlite3_free(vt->zErrMsg);
    vt->zErrMsg = sqlite3_mprintf("%s (drop the view, or make again what it "
                                  "reads and open the database again)",
                                  p->broken);
    return vt->zErrMsg ? SQLITE_ERROR : SQLITE_NOMEM;
  }
  int unusable = 0;
  for (int k = 0; k < p->nparam; k++) {
    int found = -1;
    for (int i = 0; i < info->nConstraint; i++) {
      const struct sqlite3_index_constraint *c = &info->aConstraint[i];
      if (c->iColumn != p->ncol + k || c->op != SQLITE_INDEX_CONSTRAINT_EQ)
        continue;
      if (c->usable) {
        found = i;
        break;
      }
      found = -2;
    }
    if (found == -2) {
      unusable = 1;
    } else if (found < 0) {
      sqlite3_str *s = sqlite3_str_new(NULL);
      char buf[24];
      for (int j = 1; j <= p->nparam; j++)
        sqlite3_str_appendf(s, "%s%s", j > 1 ? ", " : "",
                            param_column(p->run, j, buf, sizeof buf));
      char *names = sqlite3_str_finish(s);
      if (!names) return SQLITE_NOMEM;
      view_error(vt, SQLITE_ERROR,
                 "takes %d argument%s (%s): give each, as in SELECT * FROM "
                 "%s(...)",
                 p->nparam, p->nparam == 1 ? "" : "s", names, p->name);
      sqlite3_free(names);
      return SQLITE_ERROR;
    } else {
      info->aConstraintUsage[found].argvIndex = k + 1;
      info->aConstraintUsage[found].omit = 1;
    }
  }
  /* An argument from another table of a join: ask for a plan where that
  ** table comes first. */
  if (unusable) return SQLITE_CONSTRAINT;
  info->estimatedCost = 10;
  info->estimatedRows = 25;
  return SQLITE_OK;
}

/* ---- Cursors ---- */

static int viewOpen(sqlite3_vtab *vt, sqlite3_vtab_cursor **ppCursor) {
  view_vtab *p = (view_vtab *)vt;
  size_t bytes = sizeof(view_cursor) +
                 sizeof(sqlite3_value *) * (size_t)p->nparam +
                 sizeof(unsigned char *) * (size_t)p->ncol;
  view_cursor *cur = sqlite3_malloc64(bytes);
  if (!cur) return SQLITE_NOMEM;
  memset(cur, 0, bytes);
  cur->args = (sqlite3_value **)(cur + 1);
  cur->vals = (const unsigned char **)(cur->args + p->nparam);
  cur->eof = 1;
  *ppCursor = &cur->base;
  return SQLITE_OK;
}

static void view_cursor_reset(view_cursor *cur) {
  view_vtab *p = (view_vtab *)cur->base.pVtab;
  pcx_cached_done(&cur->q);
  for (int i = 0; i < p->nparam; i++) {
    sqlite3_value_free(cur->args[i]);
    cur->args[i] = NULL;
  }
  cur->eof = 1;
}

static int viewClose(sqlite3_vtab_cursor *vc) {
  view_cursor_reset((view_cursor *)vc);
  sqlite3_free(vc);
  return SQLITE_OK;
}

/* Moves to the next row of the payload (already checked whole). */
static int viewNext(sqlite3_vtab_cursor *vc) {
  view_cursor *cur = (view_cursor *)vc;
  view_vtab *p = (view_vtab *)vc->pVtab;
  if (cur->next >= cur->end) {
    cur->eof = 1;
    return SQLITE_OK;
  }
  const unsigned char *u = cur->next;
  for (int i = 0; i < p->ncol; i++) {
    cur->vals[i] = u;
    u = skip_value(u, cur->end);
  }
  cur->next = u;
  cur->row++;
  return SQLITE_OK;
}

static int viewFilter(sqlite3_vtab_cursor *vc, int idxNum, const char *idxStr,
                      int argc, sqlite3_value **argv) {
  (void)idxNum, (void)idxStr;
  view_cursor *cur = (view_cursor *)vc;
  view_vtab *p = (view_vtab *)vc->pVtab;
  view_cursor_reset(cur);
  if (argc != p->nparam) /* xBestIndex asks for every argument */
    return view_error(vc->pVtab, SQLITE_INTERNAL, "%d arguments, not %d", argc,
                      p->nparam);
  sqlite3_str *extra = sqlite3_str_new(p->db);
  int rc = SQLITE_OK;
  for (int i = 0; i < p->nparam && rc == SQLITE_OK; i++) {
    cur->args[i] = sqlite3_value_dup(argv[i]);
    rc = cur->args[i] ? put_value(extra, argv[i]) : SQLITE_NOMEM;
  }
  if (rc == SQLITE_OK && p->autoinv) rc = append_gens(p, extra);
  if (rc == SQLITE_OK) rc = sqlite3_str_errcode(extra);
  /* In hex: the identity stays text, for a cache that stores TEXT only. */
  int nbin = sqlite3_str_length(extra);
  unsigned char *bin = (unsigned char *)sqlite3_str_finish(extra);
  if (rc == SQLITE_OK && !bin && nbin) rc = SQLITE_NOMEM;
  int nextra = 2 * nbin;
  char *x = rc == SQLITE_OK ? sqlite3_malloc64((size_t)nextra + 1) : NULL;
  if (rc == SQLITE_OK && !x) rc = SQLITE_NOMEM;
  for (int i = 0; x && i < nbin; i++) {
    x[2 * i] = "0123456789abcdef"[bin[i] >> 4];
    x[2 * i + 1] = "0123456789abcdef"[bin[i] & 15];
  }
  sqlite3_free(bin);
  pc_cache *c = NULL;
  if (rc == SQLITE_OK) {
    c = p->cache ? pcx_cache(p->conn, p->cache) : pcx_default(p->conn);
    if (!c)
      rc = p->cache ? view_error(vc->pVtab, SQLITE_ERROR,
                                 "no cache named '%s' is open", p->cache)
                    : SQLITE_NOMEM;
  }
  if (rc == SQLITE_OK && strcmp(pc_cache_backend_name(c), "memory") != 0) {
    /* The rule of a pcache table's definition (SPEC §7): a file that is
    ** not trusted cannot have its statements' rows written to a shared
    ** or persistent store. */
    int trusted = 1;
    sqlite3_db_config(p->db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, -1, &trusted);
    if (!trusted)
      rc =
          view_error(vc->pVtab, SQLITE_ERROR,
                     "cache '%s' (backend %s) cannot be used by a table "
                     "definition read from a database file while "
                     "trusted_schema is OFF",
                     p->cache ? p->cache : "default", pc_cache_backend_name(c));
  }
  if (rc == SQLITE_OK) {
    cur->q = (pcx_cached){.db = p->db,
                          .conn = p->conn,
                          .c = c,
                          .magic = VIEW_MAGIC,
                          .blob = 1,
                          .sql = p->sql,
                          .extra = x,
                          .nextra = (size_t)nextra,
                          .ttl_ms = p->ttl_ms,
                          .compute = view_compute,
                          .valid = payload_valid};
    cur->q.arg = cur;
    rc = pcx_cached_run(&cur->q);
    if (rc != SQLITE_OK && rc != SQLITE_NOMEM && cur->q.errmsg)
      view_error(vc->pVtab, rc, "%s", cur->q.errmsg);
  }
  sqlite3_free(x);
  if (rc != SQLITE_OK) return rc;
  cur->next = (const unsigned char *)cur->q.payload + 4;
  cur->end = (const unsigned char *)cur->q.payload + cur->q.npayload;
  cur->eof = 0;
  cur->row = 0;
  return viewNext(vc);
}

static int viewEof(sqlite3_vtab_cursor *vc) {
  return ((view_cursor *)vc)->eof;
}

static int viewColumn(sqlite3_vtab_cursor *vc, sqlite3_context *ctx, int i) {
  view_cursor *cur = (view_cursor *)vc;
  view_vtab *p = (view_vtab *)vc->pVtab;
  if (i >= p->ncol) {
    sqlite3_result_value(ctx, cur->args[i - p->ncol]);
    return SQLITE_OK;
  }
  const unsigned char *u = cur->vals[i];
  switch (*u) {
  case TAG_INT:
    sqlite3_result_int64(ctx, (sqlite3_int64)pcx_get64le(u + 1));
    break;
  case TAG_REAL: {
    uint64_t bits = pcx_get64le(u + 1);
    double r;
    memcpy(&r, &bits, 8);
    sqlite3_result_double(ctx, r);
    break;
  }
  case TAG_TEXT:
    sqlite3_result_text(ctx, (const char *)u + 5, (int)pcx_get32le(u + 1),
                        SQLITE_TRANSIENT);
    break;
  case TAG_BLOB:
    sqlite3_result_blob(ctx, u + 5, (int)pcx_get32le(u + 1), SQLITE_TRANSIENT);
    break;
  default:
    sqlite3_result_null(ctx);
  }
  return SQLITE_OK;
}

static int viewRowid(sqlite3_vtab_cursor *vc, sqlite3_int64 *pRowid) {
  *pRowid = ((view_cursor *)vc)->row;
  return SQLITE_OK;
}

sqlite3_module pcx_view_module = {
    .iVersion = 1,
    .xCreate = viewCreate,
    .xConnect = viewConnect,
    .xBestIndex = viewBestIndex,
    .xDisconnect = viewDisconnect,
    .xDestroy = viewDestroy,
    .xOpen = viewOpen,
    .xClose = viewClose,
    .xFilter = viewFilter,
    .xNext = viewNext,
    .xEof = viewEof,
    .xColumn = viewColumn,
    .xRowid = viewRowid,
    .xRename = viewRename,
};
