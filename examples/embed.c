/*
** embed.c: PocketCache linked into a C program, with SQL and the C API
** side by side on the same process-wide caches.
**
**   cc embed.c $(pkg-config --cflags --libs pocketcache sqlite3) -o embed
**   (statically: cc embed.c $(pkg-config --cflags pocketcache) -o embed
**    "$(pkg-config --variable=libdir pocketcache)/libpocketcache.a"
**    -lsqlite3 -lcjson -lhiredis -pthread -lm)
**   ./embed [database]
**
** sqlite3_auto_extension registers the functions and virtual tables on
** every connection the program opens from then on: no .load, no
** extension loading enabled.
*/
#include <pocketcache.h>
#include <sqlite3.h>

#include <stdio.h>
#include <string.h>

static int run(sqlite3 *db, const char *sql) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
    fprintf(stderr, "embed: %s: %s\n", sql, sqlite3_errmsg(db));
    return 1;
  }
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    printf("  ");
    for (int i = 0; i < sqlite3_column_count(st); i++)
      printf("%s%s", i ? " | " : "", (const char *)sqlite3_column_text(st, i));
    printf("\n");
  }
  if (rc != SQLITE_DONE) fprintf(stderr, "embed: %s\n", sqlite3_errmsg(db));
  sqlite3_finalize(st);
  return rc != SQLITE_DONE;
}

int main(int argc, char **argv) {
  if (sqlite3_auto_extension((void (*)(void))sqlite3_pocketcache_init) !=
      SQLITE_OK)
    return 1;
  sqlite3 *db;
  if (sqlite3_open(argc > 1 ? argv[1] : ":memory:", &db) != SQLITE_OK) {
    fprintf(stderr, "embed: cannot open the database\n");
    return 1;
  }
  int failed = 0;
  printf("SQL, on a connection the program opened:\n");
  failed |= run(db, "SELECT pcache_version()");
  failed |= run(db, "SELECT cache_set('greeting', 'hello from SQL', 60)");
  failed |= run(db, "SELECT cache_incr('visits'), cache_incr('visits')");

  /* The C API sees the same caches: "default" is process-wide. */
  printf("C API, on the same cache:\n");
  pc_cache *c = pc_cache_find("default");
  pc_value v;
  if (!c || pc_get(c, "greeting", 8, &v) != PC_OK || v.type != PC_TEXT) {
    fprintf(stderr, "embed: the C API does not see the SQL value\n");
    failed = 1;
  } else {
    printf("  greeting = %.*s\n", (int)v.n, (const char *)v.p);
    pc_value_release(&v);
  }
  int64_t visits = 0;
  if (!c || pc_incr(c, "visits", 6, 1, PC_TTL_DEFAULT, &visits) != PC_OK ||
      visits != 3) {
    fprintf(stderr, "embed: visits %lld, not 3\n", (long long)visits);
    failed = 1;
  } else {
    printf("  visits = %lld after one more increment from C\n",
           (long long)visits);
  }
  pc_value w = pc_text("set from C", 10);
  if (c) pc_set(c, "from_c", 6, &w, 60 * 1000, 0);
  pc_cache_release(c);

  printf("SQL again:\n");
  failed |= run(db, "SELECT cache_get('from_c'), cache_get('visits')");
  sqlite3_close(db);
  printf("embed: %s\n", failed ? "FAILED" : "ok");
  return failed;
}
