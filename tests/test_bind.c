/*
** test_bind: keys and values bound the ways applications bind them, which
** SQL scripts cannot do: TEXT bound as UTF-16, with its length and
** SQLITE_TRANSIENT (as Python's sqlite3 binds every str), with a NUL
** inside. The extension reads TEXT arguments without asking SQLite for a
** NUL-terminated copy; each must still name and store the same bytes as
** the same text written as a literal.
**
**   test_bind EXTENSION
*/
#include "ext_conn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int g_fail;
static char g_dir[] = "/tmp/pc_test_bind.XXXXXX";

static void expect(const char *what, const unsigned char *got,
                   const char *want) {
  if (got && want && strcmp((const char *)got, want) == 0) return;
  if (!got && !want) return;
  fprintf(stderr, "test_bind: %s: got %s, want %s\n", what,
          got ? (const char *)got : "NULL", want ? want : "NULL");
  g_fail = 1;
}

static sqlite3_stmt *prep(sqlite3 *db, const char *sql) {
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
    fprintf(stderr, "test_bind: %s: %s\n", sql, sqlite3_errmsg(db));
    g_fail = 1;
  }
  return st;
}

static int row(sqlite3 *db, sqlite3_stmt *st) {
  int rc = sqlite3_step(st);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
    fprintf(stderr, "test_bind: step: %s\n", sqlite3_errmsg(db));
    g_fail = 1;
  }
  return rc == SQLITE_ROW;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: test_bind EXTENSION\n");
    return 2;
  }
  char sql[256];
  /* A connection in a UTF-8 database with a memory cache, the same with a
  ** filesystem cache, then one in a UTF-16 database (its TEXT arguments
  ** arrive as UTF-16). */
  for (int b = 0; b < 3; b++) {
    sqlite3 *db = ext_connect("test_bind", ":memory:", argv[1], 0);
    if (!db) return 1;
    if (b == 2 && ext_exec("test_bind", db, "PRAGMA encoding = 'UTF-16le'"))
      return 1;
    if (b == 1) {
      if (!mkdtemp(g_dir)) return 1;
      snprintf(sql, sizeof sql,
               "SELECT cache_open('fs', json_object('backend', "
               "'filesystem', 'cache_dir', '%s/c'))",
               g_dir);
      if (ext_exec("test_bind", db, sql)) return 1;
    }
    const char *c = b == 1 ? ", 'fs'" : "";

    /* The UTF-16 database only reads what the first pass wrote (the
    ** default cache is the process's): its keys must be the same bytes. */
    if (b == 2) goto literal;
    /* UTF-16 key and value, read back through UTF-8 literals. */
    snprintf(sql, sizeof sql, "SELECT cache_set(?1, ?2, NULL%s)", c);
    sqlite3_stmt *st = prep(db, sql);
    static const unsigned short k16[] = {'k', 0xE9, '1', 0}; /* ké1 */
    static const unsigned short v16[] = {'v', 0x263A, 0};    /* v☺ */
    sqlite3_bind_text16(st, 1, k16, -1, SQLITE_STATIC);
    sqlite3_bind_text16(st, 2, v16, -1, SQLITE_STATIC);
    row(db, st);
    sqlite3_finalize(st);
    snprintf(sql, sizeof sql,
             "SELECT cache_get('k\xc3\xa9"
             "1'%s), typeof(cache_get('k\xc3\xa9"
             "1'%s))",
             c, c);
    st = prep(db, sql);
    if (row(db, st)) {
      expect("UTF-16 bound", sqlite3_column_text(st, 0), "v\xe2\x98\xba");
      expect("UTF-16 bound, type", sqlite3_column_text(st, 1), "text");
    }
    sqlite3_finalize(st);

    /* With its length and SQLITE_TRANSIENT, a NUL inside; and ''. */
    snprintf(sql, sizeof sql,
             "SELECT cache_set(?1, ?2, NULL%s), cache_get(?1%s), "
             "length(cache_get(?1%s)), cache_get('a'%s), "
             "cache_set('', 'empty', NULL%s), cache_get(''%s)",
             c, c, c, c, c, c);
    st = prep(db, sql);
    sqlite3_bind_text(st, 1, "a\0b", 3, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, "value bound with its length", 27,
                      SQLITE_TRANSIENT);
    if (row(db, st)) {
      expect("transient", sqlite3_column_text(st, 1),
             "value bound with its length");
      expect("transient, length", sqlite3_column_text(st, 2), "27");
      expect("a NUL ends no key", sqlite3_column_text(st, 3), NULL);
      expect("empty key", sqlite3_column_text(st, 5), "empty");
    }
    sqlite3_finalize(st);

  literal:
    /* The same literal key on several rows: the argument's register is
    ** reused from row to row. */
    snprintf(sql, sizeof sql,
             "SELECT cache_get('k\xc3\xa9"
             "1'%s), typeof('k\xc3\xa9"
             "1') FROM (VALUES (1), (2), (3))",
             c);
    st = prep(db, sql);
    int n = 0;
    while (row(db, st)) {
      n++;
      expect("literal, row after row", sqlite3_column_text(st, 0),
             "v\xe2\x98\xba");
      expect("literal stays TEXT", sqlite3_column_text(st, 1), "text");
    }
    sqlite3_finalize(st);
    if (n != 3) g_fail = 1;
    sqlite3_close(db);
  }

  /* Written from a UTF-16 database (key and value arrive as UTF-16, and a
  ** memory and a filesystem cache store their UTF-8 bytes), read from a
  ** UTF-8 one. */
  static const unsigned short k16[] = {'u', 0xE9, '2', 0}; /* ué2 */
  static const unsigned short v16[] = {'w', 0x263A, 0};    /* w☺ */
  for (int pass = 0; pass < 2; pass++) {
    sqlite3 *db = ext_connect("test_bind", ":memory:", argv[1], 0);
    if (!db) return 1;
    sqlite3_stmt *st;
    if (pass == 0) {
      if (ext_exec("test_bind", db, "PRAGMA encoding = 'UTF-16le'")) return 1;
      st = prep(db, "SELECT cache_set(?1, ?2), cache_set(?1, ?2, NULL, 'fs')");
      sqlite3_bind_text16(st, 1, k16, -1, SQLITE_STATIC);
      sqlite3_bind_text16(st, 2, v16, -1, SQLITE_STATIC);
      row(db, st);
    } else {
      st = prep(db, "SELECT hex(cache_get('u\xc3\xa9"
                    "2')), "
                    "typeof(cache_get('u\xc3\xa9"
                    "2')), "
                    "hex(cache_get('u\xc3\xa9"
                    "2', 'fs'))");
      if (row(db, st)) {
        expect("from UTF-16, memory", sqlite3_column_text(st, 0), "77E298BA");
        expect("from UTF-16, type", sqlite3_column_text(st, 1), "text");
        expect("from UTF-16, filesystem", sqlite3_column_text(st, 2),
               "77E298BA");
      }
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
  }
  if (ext_remove_tree("test_bind", g_dir)) g_fail = 1;
  if (!g_fail) printf("test_bind: ok\n");
  return g_fail;
}
