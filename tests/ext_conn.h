/*
** ext_conn.h: what the programs that load the extension into connections
** of their own share (tests/stress/, tests/bench/).
*/
#ifndef PC_EXT_CONN_H
#define PC_EXT_CONN_H

#include <sqlite3.h>

#include <stdio.h>
#include <stdlib.h>

/* A connection to path (":memory:" too) with the extension ext loaded and
** a busy timeout of busy_ms; NULL after printing why, as "<who>: ...". */
static inline sqlite3 *ext_connect(const char *who, const char *path,
                                   const char *ext, int busy_ms) {
  sqlite3 *db;
  char *err = NULL;
  if (sqlite3_open(path, &db) != SQLITE_OK) {
    fprintf(stderr, "%s: open %s: %s\n", who, path, sqlite3_errmsg(db));
    sqlite3_close(db);
    return NULL;
  }
  if (busy_ms > 0) sqlite3_busy_timeout(db, busy_ms);
  sqlite3_enable_load_extension(db, 1);
  if (sqlite3_load_extension(db, ext, NULL, &err) != SQLITE_OK) {
    fprintf(stderr, "%s: load: %s\n", who, err);
    sqlite3_free(err);
    sqlite3_close(db);
    return NULL;
  }
  return db;
}

/* Runs sql; 0, or 1 after printing the error as "<who>: sql: message". */
static inline int ext_exec(const char *who, sqlite3 *db, const char *sql) {
  char *err = NULL;
  if (sqlite3_exec(db, sql, NULL, NULL, &err) == SQLITE_OK) return 0;
  fprintf(stderr, "%s: %s: %s\n", who, sql, err);
  sqlite3_free(err);
  return 1;
}

/* The first column of sql's first row as an integer in *v: 0, or 1 after
** printing why, as "<who>: sql: message". */
static inline int ext_query_int(const char *who, sqlite3 *db, const char *sql,
                                long long *v) {
  sqlite3_stmt *st = NULL;
  int ok = sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK &&
           sqlite3_step(st) == SQLITE_ROW;
  if (ok)
    *v = sqlite3_column_int64(st, 0);
  else
    fprintf(stderr, "%s: %s: %s\n", who, sql, sqlite3_errmsg(db));
  sqlite3_finalize(st);
  return !ok;
}

/* "dir/name" in one of four rotating buffers, so that a call can take up
** to four such paths at once. */
static inline const char *ext_path(const char *dir, const char *name) {
  static char buf[4][512];
  static int i;
  char *p = buf[i++ % 4];
  snprintf(p, sizeof buf[0], "%s/%s", dir, name);
  return p;
}

/* Removes the directory tree dir; 0, or 1 after printing why. */
static inline int ext_remove_tree(const char *who, const char *dir) {
  char cmd[600];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) == 0) return 0;
  fprintf(stderr, "%s: cannot remove %s\n", who, dir);
  return 1;
}

#endif /* PC_EXT_CONN_H */
