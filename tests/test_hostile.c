/*
** test_hostile: a database file written by someone else (SPEC §7). Its
** schema declares pcache tables on filesystem and Redis backends, a
** pcache_view over a filesystem cache of the application, and views,
** triggers and CHECK constraints that call the cache functions. Opened
** with PRAGMA trusted_schema=OFF, every use must fail with a clear error
** while no file is created, no connection is attempted and no cache
** changes. The Redis URL points at a listening socket of this test, so
** that a connection attempt is seen whether or not anything answers.
** Then, as a control that the checks can fail, the same file opened
** trusted does create the table's files and does connect. Paths never
** escape by ".." or a symbolic link, trusted or not.
**
**   test_hostile EXTENSION
*/
#include "ext_conn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

static int g_fail;
static char g_dir[] = "/tmp/pc_test_hostile.XXXXXX";
static int g_listener = -1;

static void failf(const char *what, const char *detail) {
  fprintf(stderr, "test_hostile: %s%s%s\n", what, detail ? ": " : "",
          detail ? detail : "");
  g_fail = 1;
}

/* A path under the test's directory. */
static const char *at(const char *name) {
  return ext_path(g_dir, name);
}

static int exists(const char *name) {
  struct stat st;
  return lstat(at(name), &st) == 0;
}

/* Runs sql, which must fail with an error containing `want`. */
static void refused(sqlite3 *db, const char *sql, const char *want) {
  char *err = NULL;
  int rc = sqlite3_exec(db, sql, NULL, NULL, &err);
  if (rc == SQLITE_OK)
    failf("should have failed", sql);
  else if (!err || !strstr(err, want)) {
    char msg[1024];
    snprintf(msg, sizeof msg, "%s: error '%s', not '%s'", sql,
             err ? err : "(none)", want);
    failf("wrong error", msg);
  }
  sqlite3_free(err);
}

/* The first column of the first row of sql, as an integer (-1: an error,
** reported). */
static long long query_int(sqlite3 *db, const char *sql) {
  long long v = -1;
  if (ext_query_int("test_hostile", db, sql, &v)) g_fail = 1;
  return v;
}

/* How many connections reached the listener since the last call. */
static int connections(void) {
  int n = 0, fd;
  while ((fd = accept(g_listener, NULL, NULL)) >= 0) {
    close(fd);
    n++;
  }
  if (errno != EAGAIN && errno != EWOULDBLOCK) failf("accept", strerror(errno));
  return n;
}

static int listen_loopback(void) {
  struct sockaddr_in a = {.sin_family = AF_INET};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t n = sizeof a;
  g_listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  if (g_listener < 0 || bind(g_listener, (struct sockaddr *)&a, n) != 0 ||
      listen(g_listener, 16) != 0 ||
      getsockname(g_listener, (struct sockaddr *)&a, &n) != 0) {
    perror("test_hostile: listen");
    return -1;
  }
  return ntohs(a.sin_port);
}

/* CHECK constraints of the file calling the other functions that change
** or open caches: a table c_<function> each. The application's INSERT
** names the table, and so spells the function's name without calling it:
** that must not let the CHECK through. */
static const struct {
  const char *fn, *check;
} k_writers[] = {
    {"cache_add", "cache_add('from-check', 1) >= 0"},
    {"cache_delete", "cache_delete('canary') >= 0"},
    {"cache_touch", "cache_touch('canary', 1) >= 0"},
    {"cache_incr", "cache_incr('from-check') > 0"},
    {"cache_clear", "cache_clear() >= 0"},
    {"cache_query", "cache_query('SELECT 1') IS NOT NULL"},
    {"cache_close", "cache_close('appfs') = 1"},
};
#define N_WRITERS (sizeof k_writers / sizeof k_writers[0])

/* The attacker's file. Writing it opens nothing: definitions are only
** checked until a statement uses them. */
static int write_file(const char *ext, int port) {
  sqlite3 *db = ext_connect("test_hostile", at("hostile.db"), ext, 0);
  if (!db) return 1;
  char *sql = sqlite3_mprintf(
      "CREATE TABLE t(x);"
      "SELECT cache_open('appfs');" /* a view is made over an open cache */
      "CREATE VIRTUAL TABLE fsx USING pcache(backend=filesystem, "
      "  cache_dir='%q');"
      "CREATE VIRTUAL TABLE rx USING pcache(backend=redis, "
      "  url='redis://127.0.0.1:%d/0', connect_timeout_ms=300, "
      "  timeout_ms=300, on_error=raise);"
      "CREATE VIRTUAL TABLE cvfs USING pcache_view(sql='SELECT x FROM t', "
      "  ttl=60, cache='appfs');"
      "CREATE VIEW v_open AS SELECT cache_open('evil', json_object("
      "  'backend', 'filesystem', 'cache_dir', '%q'));"
      "CREATE VIEW v_fsx AS SELECT * FROM fsx;"
      "CREATE TRIGGER tr AFTER INSERT ON t BEGIN"
      "  SELECT cache_open('evil2', json_object('backend', 'redis', 'url',"
      "    'redis://127.0.0.1:%d/0'));"
      "  SELECT cache_set('from-trigger', 1);"
      "END;"
      /* json_object() here would make the whole schema unreadable with
      ** trusted_schema OFF: the configuration is spelled out. */
      "CREATE TABLE c_open(x CHECK (cache_open('evil3', "
      "  '{\"backend\": \"filesystem\", \"cache_dir\": \"%q\"}') = 1));"
      "CREATE TABLE c_set(x CHECK (cache_set('from-check', x) IS NOT NULL));"
      "PRAGMA ignore_check_constraints=ON;" /* a row to UPDATE */
      "INSERT INTO c_set VALUES (0);"
      "PRAGMA ignore_check_constraints=OFF;"
      /* Refused by CREATE, so written into the schema directly. */
      "PRAGMA writable_schema=ON;"
      "INSERT INTO sqlite_schema VALUES ('table', 'up', 'up', 0, "
      "  'CREATE VIRTUAL TABLE up USING pcache(backend=filesystem, "
      "  cache_dir=''../escape'')');"
      "INSERT INTO sqlite_schema VALUES ('table', 'vialink', 'vialink', 0, "
      "  'CREATE VIRTUAL TABLE vialink USING pcache(backend=filesystem, "
      "  cache_dir=''%q'')');"
      "PRAGMA writable_schema=OFF;"
      "SELECT cache_close('appfs');",
      at("fs-table"), port, at("from-view"), port, at("from-check"),
      at("link/c"));
  int rc = sql ? ext_exec("test_hostile", db, sql) : 1;
  sqlite3_free(sql);
  for (size_t i = 0; i < N_WRITERS && rc == 0; i++) {
    sql = sqlite3_mprintf("CREATE TABLE c_%s(x CHECK (%s))", k_writers[i].fn,
                          k_writers[i].check);
    rc = sql ? ext_exec("test_hostile", db, sql) : 1;
    sqlite3_free(sql);
  }
  sqlite3_close(db);
  return rc;
}

/* What the application itself has: a filesystem cache of its own and an
** entry in the default cache. */
static sqlite3 *app_open(const char *ext, int trusted) {
  sqlite3 *db = ext_connect("test_hostile", at("hostile.db"), ext, 0);
  if (!db) return NULL;
  char *sql = sqlite3_mprintf(
      "PRAGMA trusted_schema=%s;"
      "SELECT cache_open('appfs', json_object('backend', 'filesystem', "
      "  'cache_dir', '%q'));"
      "SELECT cache_set('canary', 1);",
      trusted ? "ON" : "OFF", at("appfs"));
  if (!sql || ext_exec("test_hostile", db, sql)) {
    sqlite3_close(db);
    db = NULL;
  }
  sqlite3_free(sql);
  return db;
}

static void untrusted(const char *ext) {
  sqlite3 *db = app_open(ext, 0);
  if (!db) {
    g_fail = 1;
    return;
  }
  /* A TEMP table of the application whose name spells a function does
  ** not call it: the CHECKs below stay refused. */
  if (ext_exec("test_hostile", db, "CREATE TEMP TABLE cache_set_log(x)"))
    g_fail = 1;
  const char *def = "cannot be opened from a table definition read from a "
                    "database file while trusted_schema is OFF";
  refused(db, "SELECT * FROM fsx", def);
  refused(db, "INSERT INTO fsx(key, value) VALUES ('k', 'v')", def);
  refused(db, "SELECT * FROM rx", def);
  refused(db, "SELECT cache_get('k', 'rx')", "no cache named 'rx' is open");
  refused(db, "SELECT * FROM cvfs",
          "cache 'appfs' (backend filesystem) cannot be used by a table "
          "definition");
  refused(db, "SELECT * FROM v_open", "unsafe use of cache_open()");
  refused(db, "SELECT * FROM v_fsx", def);
  refused(db, "INSERT INTO t VALUES (1)", "unsafe use of cache_open()");
  refused(db, "INSERT INTO c_open VALUES (1)", "cache_open: refused");
  refused(db, "INSERT INTO c_set VALUES (1)", "cache_set: refused");
  refused(db, "UPDATE c_set SET x = 2", "cache_set: refused");
  for (size_t i = 0; i < N_WRITERS; i++) {
    char sql[64], want[64];
    snprintf(sql, sizeof sql, "INSERT INTO c_%s VALUES (1)", k_writers[i].fn);
    snprintf(want, sizeof want, "%s: refused", k_writers[i].fn);
    refused(db, sql, want);
  }
  refused(db, "SELECT * FROM up", def);
  refused(db, "SELECT * FROM vialink", def);

  /* Nothing was created, nothing connected, no cache changed. */
  const char *never[] = {"fs-table", "from-view", "from-check", "escape",
                         "real/c"};
  for (size_t i = 0; i < sizeof never / sizeof never[0]; i++)
    if (exists(never[i])) failf("a file was created", at(never[i]));
  if (connections() != 0) failf("a connection was attempted", NULL);
  if (query_int(db, "SELECT count(*) FROM pcache_stats WHERE cache IN "
                    "('fsx', 'rx', 'evil', 'evil2', 'evil3', 'up', "
                    "'vialink')") != 0)
    failf("a cache of the file was opened", NULL);
  if (query_int(db, "SELECT cache_get('canary')") != 1 ||
      query_int(db, "SELECT cache_ttl('canary')") != -1 ||
      query_int(db, "SELECT cache_has('from-check') + "
                    "cache_has('from-trigger')") != 0)
    failf("the default cache changed", NULL);
  if (query_int(db, "SELECT count(*) FROM pcache('appfs')") != 0)
    failf("the view wrote to the application's cache", NULL);

  /* The application's own statements still work in a write transaction,
  ** where the CHECK guard looks, and through its own TEMP trigger. */
  if (ext_exec("test_hostile", db,
               "CREATE TABLE mine(x);"
               "CREATE TEMP TRIGGER inv AFTER INSERT ON mine BEGIN"
               "  SELECT cache_delete('canary');"
               "END;"
               "BEGIN;"
               "INSERT INTO mine VALUES (cache_set('app', 2));"
               "SELECT cache_incr('n');"
               "COMMIT;") ||
      query_int(db, "SELECT cache_get('app') * 10 + cache_has('canary')") != 20)
    failf("the application's own calls in a transaction", NULL);
  sqlite3_close(db);
}

/* Controls: trusted, the same definitions do reach their stores, so the
** checks above can fail; escapes stay refused. */
static void trusted(const char *ext) {
  sqlite3 *db = app_open(ext, 1);
  if (!db) {
    g_fail = 1;
    return;
  }
  if (query_int(db, "SELECT count(*) FROM fsx") != 0 || !exists("fs-table"))
    failf("control: a trusted filesystem table creates its directory", NULL);
  sqlite3_exec(db, "SELECT * FROM rx", NULL, NULL, NULL); /* times out */
  if (connections() != 1)
    failf("control: a trusted Redis table connects", NULL);
  refused(db, "SELECT * FROM up", "..");
  refused(db, "SELECT * FROM vialink", "symbolic link");
  refused(db, "INSERT INTO c_set VALUES (1)", "cache_set: refused");
  if (exists("escape") || exists("real/c"))
    failf("a trusted definition escaped", NULL);
  sqlite3_close(db);
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: test_hostile EXTENSION\n");
    return 2;
  }
  if (!mkdtemp(g_dir)) {
    perror("test_hostile: mkdtemp");
    return 1;
  }
  /* The working directory is a level down: "../escape" would land in
  ** the test's directory, where it is looked for. */
  if (mkdir(at("work"), 0700) != 0 || chdir(at("work")) != 0 ||
      mkdir(at("real"), 0700) != 0 || symlink(at("real"), at("link")) != 0) {
    perror("test_hostile: setup");
    return 1;
  }
  int port = listen_loopback();
  if (port < 0 || write_file(argv[1], port)) return 1;
  if (connections() != 0 || exists("fs-table"))
    failf("writing the file opened something", NULL);
  untrusted(argv[1]);
  trusted(argv[1]);
  if (ext_remove_tree("test_hostile", g_dir)) g_fail = 1;
  printf("test_hostile: %s\n", g_fail ? "FAILED" : "ok");
  return g_fail;
}
