/*
** sqlrun: runs an SQL script against the built extension and compares its
** whole output, error messages included, byte for byte with an expected
** file (the idea of SQLite's do_catchsql_test, without Tcl).
**
**   sqlrun EXTENSION SCRIPT.sql EXPECTED [--update]
**
** Each statement is echoed as "> statement" and followed by its rows, one
** line each, columns separated by "|" and written as SQL literals (NULL,
** 42, 1.5, 'text', X'0102'), so types show: '' is an empty text, not NULL.
** A failing statement prints "error: message" and the script goes on.
**
** Lines starting with "." are directives:
**   .open NAME     closes the connection and opens NAME (a file in a fresh
**                  temporary directory; :memory: for memory) with the
**                  extension loaded
**   .load          loads the extension once more into the connection
**   .sleep MS      waits MS milliseconds (for the few expiry checks that
**                  must go through SQL; core tests move a clock instead)
**   .print TEXT    prints TEXT
**   .shell CMD     runs CMD with /bin/sh and prints its output (for files:
**                  modes, damage)
**
** The parameter $redis of any statement is bound to the URL of the test's
** redis-server, read from the file named by PC_REDIS_URL_FILE (the
** fixture tests/redis_fixture.sh writes it); the echo shows "$redis".
**
** The script runs in a fresh temporary directory (its working directory),
** removed at the end, so relative paths (cache_dir='.cache') are private
** to the run and print the same in every run.
**
** With --update the output is written to EXPECTED instead of compared.
** Exit status: 0 when the output matches, 1 when not (the diff is shown).
*/
#include <sqlite3.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct {
  char *p;
  size_t n, cap;
} buf;

static void put(buf *b, const char *z, size_t n) {
  if (b->n + n + 1 > b->cap) {
    b->cap = (b->n + n + 1) * 2;
    b->p = realloc(b->p, b->cap);
    if (!b->p) abort();
  }
  memcpy(b->p + b->n, z, n);
  b->n += n;
  b->p[b->n] = 0;
}
static void puts_(buf *b, const char *z) {
  put(b, z, strlen(z));
}

static void put_value(buf *b, sqlite3_stmt *st, int i) {
  char tmp[64];
  switch (sqlite3_column_type(st, i)) {
  case SQLITE_NULL:
    puts_(b, "NULL");
    break;
  case SQLITE_INTEGER:
    snprintf(tmp, sizeof tmp, "%lld", (long long)sqlite3_column_int64(st, i));
    puts_(b, tmp);
    break;
  case SQLITE_FLOAT: {
    char *z = sqlite3_mprintf("%!.15g", sqlite3_column_double(st, i));
    puts_(b, z);
    sqlite3_free(z);
    break;
  }
  case SQLITE_TEXT: {
    const unsigned char *z = sqlite3_column_text(st, i);
    int n = sqlite3_column_bytes(st, i);
    puts_(b, "'");
    for (int k = 0; k < n; k++) {
      if (z[k] == '\'')
        puts_(b, "''");
      else if (z[k] == 0)
        puts_(b, "\\0");
      else
        put(b, (const char *)z + k, 1);
    }
    puts_(b, "'");
    break;
  }
  default: {
    const unsigned char *z = sqlite3_column_blob(st, i);
    int n = sqlite3_column_bytes(st, i);
    puts_(b, "X'");
    for (int k = 0; k < n; k++) {
      snprintf(tmp, sizeof tmp, "%02X", z[k]);
      puts_(b, tmp);
    }
    puts_(b, "'");
  }
  }
}

static const char *g_ext;
static char g_dir[] = "/tmp/sqlrun.XXXXXX";

static sqlite3 *open_db(const char *name, buf *out) {
  char path[4096];
  if (strcmp(name, ":memory:") == 0)
    snprintf(path, sizeof path, ":memory:");
  else
    snprintf(path, sizeof path, "%s/%s", g_dir, name);
  sqlite3 *db;
  if (sqlite3_open(path, &db) != SQLITE_OK) {
    fprintf(stderr, "sqlrun: cannot open %s\n", path);
    exit(2);
  }
  sqlite3_enable_load_extension(db, 1);
  char *err = NULL;
  if (sqlite3_load_extension(db, g_ext, NULL, &err) != SQLITE_OK) {
    puts_(out, "error: load: ");
    puts_(out, err ? err : "?");
    puts_(out, "\n");
    sqlite3_free(err);
  }
  return db;
}

/* The URL of the test's redis-server, bound to the parameter $redis. */
static const char *g_redis_url;

static void run_statement(sqlite3 *db, const char *sql, buf *out) {
  const char *tail = sql;
  while (tail && *tail) {
    sqlite3_stmt *st = NULL;
    const char *next;
    if (sqlite3_prepare_v2(db, tail, -1, &st, &next) != SQLITE_OK) {
      puts_(out, "error: ");
      puts_(out, sqlite3_errmsg(db));
      puts_(out, "\n");
      return;
    }
    if (!st) break; /* only whitespace or comments were left */
    int ip = sqlite3_bind_parameter_index(st, "$redis");
    if (ip) {
      if (!g_redis_url) {
        fprintf(stderr, "sqlrun: the script uses $redis but no redis-server "
                        "was started (PC_REDIS_URL_FILE)\n");
        exit(1);
      }
      sqlite3_bind_text(st, ip, g_redis_url, -1, SQLITE_STATIC);
    }
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
      for (int i = 0; i < sqlite3_column_count(st); i++) {
        if (i) puts_(out, "|");
        put_value(out, st, i);
      }
      puts_(out, "\n");
    }
    if (rc != SQLITE_DONE) {
      puts_(out, "error: ");
      puts_(out, sqlite3_errmsg(db));
      puts_(out, "\n");
    }
    sqlite3_finalize(st);
    tail = next;
  }
}

static char *read_file(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long len = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *p = malloc((size_t)len + 1);
  if (!p || fread(p, 1, (size_t)len, f) != (size_t)len) {
    fclose(f);
    free(p);
    return NULL;
  }
  p[len] = 0;
  fclose(f);
  if (n) *n = (size_t)len;
  return p;
}

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: sqlrun EXTENSION SCRIPT EXPECTED [--update]\n");
    return 2;
  }
  /* Absolute, since the script runs in its own directory. */
  static char ext_path[4096];
  g_ext = realpath(argv[1], ext_path) ? ext_path : argv[1];
  int update = argc > 4 && strcmp(argv[4], "--update") == 0;
  char *script = read_file(argv[2], NULL);
  if (!script) {
    fprintf(stderr, "sqlrun: cannot read %s\n", argv[2]);
    return 2;
  }
  /* The expected file's path, absolute: the script runs elsewhere. */
  char expected_path[4096], cwd[2048];
  if (argv[3][0] == '/' || !getcwd(cwd, sizeof cwd))
    snprintf(expected_path, sizeof expected_path, "%s", argv[3]);
  else
    snprintf(expected_path, sizeof expected_path, "%s/%s", cwd, argv[3]);
  if (!mkdtemp(g_dir) || chdir(g_dir) != 0) {
    perror("sqlrun: temporary directory");
    return 2;
  }
  const char *url_file = getenv("PC_REDIS_URL_FILE");
  char *url = url_file ? read_file(url_file, NULL) : NULL;
  if (url) {
    url[strcspn(url, "\r\n")] = 0;
    g_redis_url = url;
  }
  buf out = {0}, stmt = {0};
  sqlite3 *db = open_db(":memory:", &out);
  char *line = script;
  while (line && *line) {
    char *eol = strchr(line, '\n');
    size_t n = eol ? (size_t)(eol - line) : strlen(line);
    if (stmt.n == 0 && line[0] == '.') {
      char arg[1024];
      snprintf(arg, sizeof arg, "%.*s", (int)n, line);
      if (strncmp(arg, ".open ", 6) == 0) {
        sqlite3_close(db);
        db = open_db(arg + 6, &out);
      } else if (strcmp(arg, ".load") == 0) {
        char *err = NULL;
        if (sqlite3_load_extension(db, g_ext, NULL, &err) != SQLITE_OK) {
          puts_(&out, "error: load: ");
          puts_(&out, err ? err : "?");
          puts_(&out, "\n");
        }
        sqlite3_free(err);
      } else if (strncmp(arg, ".sleep ", 7) == 0) {
        long ms = atol(arg + 7);
        struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
      } else if (strncmp(arg, ".shell ", 7) == 0) {
        fflush(stdout);
        FILE *p = popen(arg + 7, "r");
        char chunk[512];
        size_t got;
        while (p && (got = fread(chunk, 1, sizeof chunk, p)) > 0)
          put(&out, chunk, got);
        if (!p || pclose(p) != 0) puts_(&out, "(command failed)\n");
      } else if (strncmp(arg, ".print ", 7) == 0) {
        puts_(&out, arg + 7);
        puts_(&out, "\n");
      } else {
        fprintf(stderr, "sqlrun: unknown directive %s\n", arg);
        return 2;
      }
    } else if (stmt.n > 0 || (n > 0 && strncmp(line, "--", 2) != 0)) {
      put(&stmt, line, n);
      put(&stmt, "\n", 1);
      if (sqlite3_complete(stmt.p)) {
        while (stmt.n && (stmt.p[stmt.n - 1] == '\n'))
          stmt.p[--stmt.n] = 0;
        puts_(&out, "> ");
        puts_(&out, stmt.p);
        puts_(&out, "\n");
        run_statement(db, stmt.p, &out);
        stmt.n = 0;
        stmt.p[0] = 0;
      }
    } else if (n > 0) {
      /* Comments between statements are kept: they explain the output. */
      put(&out, line, n);
      puts_(&out, "\n");
    }
    line = eol ? eol + 1 : NULL;
  }
  sqlite3_close(db);
  char cmd[4200];
  if (chdir("/") != 0) perror("sqlrun: chdir");
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
  if (system(cmd) != 0) fprintf(stderr, "sqlrun: could not remove %s\n", g_dir);

  if (update) {
    FILE *f = fopen(expected_path, "wb");
    if (!f || fwrite(out.p ? out.p : "", 1, out.n, f) != out.n) {
      fprintf(stderr, "sqlrun: cannot write %s\n", argv[3]);
      return 2;
    }
    fclose(f);
    printf("sqlrun: wrote %s\n", argv[3]);
    free(out.p);
    free(stmt.p);
    free(script);
    return 0;
  }
  size_t nexp;
  char *expected = read_file(expected_path, &nexp);
  int same = expected && nexp == out.n && memcmp(expected, out.p, out.n) == 0;
  free(expected);
  free(script);
  free(stmt.p);
  if (same) {
    printf("sqlrun: %s: output matches\n", argv[2]);
    free(out.p);
    return 0;
  }
  char got[] = "/tmp/sqlrun.got.XXXXXX";
  int fd = mkstemp(got);
  if (fd >= 0) {
    if (write(fd, out.p ? out.p : "", out.n) != (ssize_t)out.n) {
      fprintf(stderr, "sqlrun: short write\n");
    }
    close(fd);
    snprintf(cmd, sizeof cmd, "diff -u '%s' '%s'", expected_path, got);
    if (system(cmd) == -1) fprintf(stderr, "sqlrun: cannot run diff\n");
    unlink(got);
  }
  fprintf(stderr, "sqlrun: %s: output differs from %s\n", argv[2], argv[3]);
  free(out.p);
  return 1;
}
