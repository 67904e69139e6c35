/*
** test_fs_procs: the filesystem backend shared by real processes.
**
**   test_fs_procs EXTENSION [crash-runs [mixed-ops]]
**
** Each check forks workers that open their own SQLite connection, load the
** extension and work on one cache directory (a fresh temporary directory):
**   incr   4 processes x 500 cache_incr on one key give exactly 2000.
**   add    8 processes first open a new cache directory together and race
**          cache_add on one key: exactly one wins; 20 times, each on a new
**          directory (the store's creation races too).
**   mixed  4 processes x 2 threads, each thread on its own connection, do
**          mixed-ops (default 10,000) operations: half set the thread's
**          own 8 keys to an increasing sequence, half read any thread's
**          key. No error (a busy one included), no key read going back
**          to an older sequence, and PRAGMA integrity_check ok after.
**   reopen a pcache table written by one process shows the same ttl and
**          expires_at in another.
**   tier   a reader with a memory tier (local_max_bytes) and a writer in
**          another process: 300 times the writer commits a new value and
**          says so on a pipe, and the reader's next get returns exactly it
**          (never the value its tier held). Then a process whose tier
**          holds a value another connection has replaced forks: the child
**          reads the new value too (its tier cannot know what it missed).
**   crash  a writer acknowledges each cache_set on a pipe and is killed
**          with SIGKILL at a random moment, crash-runs times (default 50):
**          every time PRAGMA integrity_check is ok and every acknowledged
**          set reads back exactly, in a new process.
** Every wait is bounded: workers get an alarm, and the parent kills what
** is left after its own deadline.
*/
#include "../ext_conn.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define WHO "test_fs_procs"
#define ADD_REPS 20

static const char *g_ext;
static char g_dir[] = "/tmp/pc_fs_procs.XXXXXX";
static int g_failed;

#define CHECK(cond, ...)                                                       \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                     \
      fprintf(stderr, __VA_ARGS__);                                            \
      fprintf(stderr, "\n");                                                   \
      g_failed = 1;                                                            \
    }                                                                          \
  } while (0)

/* A connection with the extension loaded and cache 'c' open on dir. */
static sqlite3 *open_cache(const char *dbfile, const char *dir) {
  sqlite3 *db = ext_connect(WHO, dbfile, g_ext, 0);
  if (!db) _exit(91);
  if (dir) {
    char *sql = sqlite3_mprintf(
        "SELECT cache_open('c', json_object('backend', 'filesystem', "
        "'cache_dir', %Q))",
        dir);
    if (!sql || ext_exec(WHO, db, sql)) _exit(92);
    sqlite3_free(sql);
  }
  return db;
}

/* One integer from SQL, exiting the worker on error. */
static long long query_int(sqlite3 *db, const char *sql) {
  long long v = -1;
  if (ext_query_int(WHO, db, sql, &v)) _exit(93);
  return v;
}

/* Waits for every pid, at most `seconds`; returns how many exited 0, and
** adds their exit codes to *sum when sum is not NULL. A worker that did not
** exit (a signal, a kill at the deadline) adds 100: it can never pass for
** a normal outcome. */
static int wait_all(pid_t *pids, int n, int seconds, int *sum) {
  int ok = 0;
  time_t deadline = time(NULL) + seconds;
  for (int left = n; left > 0;) {
    int status;
    pid_t p = waitpid(-1, &status, WNOHANG);
    if (p > 0) {
      for (int i = 0; i < n; i++)
        if (pids[i] == p) {
          pids[i] = 0;
          left--;
          if (WIFEXITED(status)) {
            if (sum) *sum += WEXITSTATUS(status);
            ok += !sum ? WEXITSTATUS(status) == 0 : 1;
          } else if (sum) {
            *sum += 100;
          }
        }
      continue;
    }
    if (time(NULL) > deadline) {
      for (int i = 0; i < n; i++)
        if (pids[i]) kill(pids[i], SIGKILL);
      CHECK(0, "workers did not finish within %d s", seconds);
      deadline = time(NULL) + 5;
      seconds = 5;
    }
    usleep(2000);
  }
  return ok;
}

/* ---- incr ---- */

static void check_incr(void) {
  char dir[512];
  snprintf(dir, sizeof dir, "%s/incr", g_dir);
  pid_t pids[4];
  for (int i = 0; i < 4; i++) {
    pids[i] = fork();
    if (pids[i] == 0) {
      alarm(60);
      sqlite3 *db = open_cache(":memory:", dir);
      for (int k = 0; k < 500; k++)
        query_int(db, "SELECT cache_incr('n', 1, NULL, 'c')");
      sqlite3_close(db);
      _exit(0);
    }
  }
  int ok = wait_all(pids, 4, 120, NULL);
  CHECK(ok == 4, "incr: %d of 4 workers succeeded", ok);
  pid_t p = fork();
  if (p == 0) {
    sqlite3 *db = open_cache(":memory:", dir);
    _exit(query_int(db, "SELECT cache_get('n', 'c')") == 2000 ? 0 : 1);
  }
  CHECK(wait_all(&p, 1, 30, NULL) == 1, "incr: the total is not 2000");
  printf("incr: 4 processes x 500 increments: %s\n", g_failed ? "FAIL" : "ok");
}

/* ---- add ---- */

static int add_once(int rep) {
  char dir[512];
  snprintf(dir, sizeof dir, "%s/add%d", g_dir, rep);
  int gate[2];
  if (pipe(gate) != 0) abort();
  pid_t pids[8];
  for (int i = 0; i < 8; i++) {
    pids[i] = fork();
    if (pids[i] == 0) {
      alarm(60);
      close(gate[1]);
      sqlite3 *db = open_cache(":memory:", dir);
      char c;
      (void)!read(gate[0], &c, 1); /* all start together at EOF */
      char sql[128];
      snprintf(sql, sizeof sql, "SELECT cache_add('lock', %d, 60, 'c')",
               (int)getpid());
      long long won = query_int(db, sql);
      sqlite3_close(db);
      _exit(won == 1 ? 1 : 0); /* the exit code counts the winners */
    }
  }
  close(gate[0]);
  usleep(200000); /* let them open the store */
  close(gate[1]);
  int winners = 0;
  wait_all(pids, 8, 120, &winners);
  return winners;
}

static void check_add(void) {
  int good = 0;
  for (int rep = 0; rep < ADD_REPS; rep++) {
    int winners = add_once(rep);
    CHECK(winners == 1, "add: %d winners of 8 (want 1; 90+ is an error exit)",
          winners);
    good += winners == 1;
  }
  printf("add: 8 processes opening a new store and racing, %d times: "
         "one winner %d times\n",
         ADD_REPS, good);
}

/* Whether the store in dir opens and PRAGMA integrity_check says ok (never
** exits: a damaged store is what the callers look for). */
static int store_intact(const char *dir) {
  char file[600];
  snprintf(file, sizeof file, "%s/pocketcache.db", dir);
  sqlite3 *raw;
  sqlite3_stmt *st = NULL;
  int ok =
      sqlite3_open_v2(file, &raw, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK &&
      sqlite3_prepare_v2(raw, "PRAGMA integrity_check", -1, &st, NULL) ==
          SQLITE_OK &&
      sqlite3_step(st) == SQLITE_ROW &&
      strcmp((const char *)sqlite3_column_text(st, 0), "ok") == 0;
  sqlite3_finalize(st);
  sqlite3_close(raw);
  return ok;
}

/* ---- mixed ---- */

#define MIX_PROCS 4
#define MIX_THREADS 2
#define MIX_WRITERS (MIX_PROCS * MIX_THREADS)
#define MIX_KEYS 8

typedef struct {
  int writer; /* proc * MIX_THREADS + thread */
  int ops;
  const char *dir;
  int errors;
} mix_arg;

/* One thread of a worker process: sets its own keys to an increasing
** sequence and reads everyone's, checking that no key ever goes back. */
static void *mix_thread(void *p) {
  mix_arg *a = p;
  sqlite3 *db = open_cache(":memory:", a->dir);
  sqlite3_stmt *set, *get;
  long long last[MIX_WRITERS][MIX_KEYS];
  memset(last, 0, sizeof last);
  if (sqlite3_prepare_v2(db, "SELECT cache_set(?1, ?2, NULL, 'c')", -1, &set,
                         NULL) != SQLITE_OK ||
      sqlite3_prepare_v2(db, "SELECT cache_get(?1, 'c')", -1, &get, NULL) !=
          SQLITE_OK)
    _exit(94);
  unsigned r = (unsigned)a->writer * 2654435761u + 1;
  for (int i = 1; i <= a->ops; i++) {
    r = r * 1103515245u + 12345u;
    char key[32];
    int w = (int)(r >> 8) % MIX_WRITERS, k = (int)(r >> 16) % MIX_KEYS;
    int writing = i % 2;
    if (writing) w = a->writer;
    snprintf(key, sizeof key, "s%d:%d", w, k);
    sqlite3_stmt *st = writing ? set : get;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_TRANSIENT);
    if (writing) sqlite3_bind_int64(st, 2, i);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
      if (a->errors++ < 5)
        fprintf(stderr, "mixed: writer %d: %s: %s\n", a->writer,
                writing ? "set" : "get", sqlite3_errmsg(db));
    } else if (writing) {
      last[w][k] = i;
    } else if (sqlite3_column_type(st, 0) != SQLITE_NULL) {
      long long v = sqlite3_column_int64(st, 0);
      if (v < last[w][k] && a->errors++ < 5)
        fprintf(stderr, "mixed: %s went back from %lld to %lld\n", key,
                last[w][k], v);
      if (v > last[w][k]) last[w][k] = v;
    }
    sqlite3_reset(st);
  }
  sqlite3_finalize(set);
  sqlite3_finalize(get);
  sqlite3_close(db);
  return NULL;
}

/* 4 processes x 2 threads x ops operations on one cache: no error (busy
** included), no key read going back, and integrity_check ok after. */
static void check_mixed(int ops) {
  char dir[512];
  snprintf(dir, sizeof dir, "%s/mixed", g_dir);
  pid_t pids[MIX_PROCS];
  /* 300 s, and a second more for every 100 operations a thread. */
  unsigned limit = 300 + (unsigned)(ops / 100);
  for (int p = 0; p < MIX_PROCS; p++) {
    pids[p] = fork();
    if (pids[p] == 0) {
      alarm(limit);
      pthread_t th[MIX_THREADS];
      mix_arg a[MIX_THREADS];
      for (int t = 0; t < MIX_THREADS; t++) {
        a[t] = (mix_arg){p * MIX_THREADS + t, ops, dir, 0};
        pthread_create(&th[t], NULL, mix_thread, &a[t]);
      }
      int errors = 0;
      for (int t = 0; t < MIX_THREADS; t++) {
        pthread_join(th[t], NULL);
        errors += a[t].errors;
      }
      _exit(errors ? 1 : 0);
    }
  }
  int ok = wait_all(pids, MIX_PROCS, (int)limit + 30, NULL); /* past it */
  CHECK(ok == MIX_PROCS, "mixed: %d of %d workers had no error", ok, MIX_PROCS);
  int intact = store_intact(dir);
  CHECK(intact, "mixed: integrity_check failed");
  printf("mixed: %d processes x %d threads x %d operations: %s\n", MIX_PROCS,
         MIX_THREADS, ops, ok == MIX_PROCS && intact ? "ok" : "FAIL");
}

/* ---- reopen ---- */

static void check_reopen(void) {
  char file[512], sql[1024];
  snprintf(file, sizeof file, "%s/app.db", g_dir);
  snprintf(sql, sizeof sql,
           "CREATE VIRTUAL TABLE pages USING pcache(backend=filesystem, "
           "cache_dir='%s/pages');"
           "INSERT INTO pages(key, value, ttl) VALUES ('/a', 'page a', 100);",
           g_dir);
  int fds[2];
  if (pipe(fds) != 0) abort();
  pid_t p = fork();
  if (p == 0) {
    alarm(60);
    sqlite3 *db = open_cache(file, NULL);
    if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK) _exit(2);
    long long at =
        query_int(db, "SELECT CAST(expires_at * 1000 AS INTEGER) FROM pages");
    (void)!write(fds[1], &at, sizeof at);
    _exit(0);
  }
  close(fds[1]); /* a writer that dies unheard gives EOF, not a hang */
  long long written = 0;
  CHECK(wait_all(&p, 1, 60, NULL) == 1, "reopen: writer failed");
  CHECK(read(fds[0], &written, sizeof written) == sizeof written,
        "reopen: no expiry from the writer");
  p = fork();
  if (p == 0) {
    alarm(60);
    sqlite3 *db = open_cache(file, NULL);
    long long at =
        query_int(db, "SELECT CAST(expires_at * 1000 AS INTEGER) FROM pages "
                      "WHERE key = '/a'");
    long long ttl = query_int(
        db, "SELECT ttl > 99 AND ttl <= 100 FROM pages WHERE key = '/a'");
    _exit(at == written && ttl == 1 ? 0 : 1);
  }
  CHECK(wait_all(&p, 1, 60, NULL) == 1,
        "reopen: ttl or expires_at differ in another process");
  printf("reopen: ttl and expires_at seen by another process: %s\n",
         g_failed ? "FAIL" : "ok");
}

/* ---- tier ---- */

static void check_tier(void) {
  char dir[512];
  snprintf(dir, sizeof dir, "%s/tier", g_dir);
  int to_reader[2], to_writer[2];
  if (pipe(to_reader) != 0 || pipe(to_writer) != 0) abort();
  pid_t pids[2];
  pids[0] = fork();
  if (pids[0] == 0) { /* the reader */
    alarm(60);
    close(to_reader[1]);
    close(to_writer[0]);
    sqlite3 *db = open_cache(":memory:", NULL);
    char *sql = sqlite3_mprintf(
        "SELECT cache_open('c', json_object('backend', 'filesystem', "
        "'cache_dir', %Q, 'local_max_bytes', '1MB'))",
        dir);
    if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK) _exit(97);
    int i, bad = 0;
    while (read(to_reader[0], &i, sizeof i) == sizeof i) {
      /* Twice: the first read may fill the tier, the second is served
      ** from it. */
      for (int k = 0; k < 2; k++)
        if (query_int(db, "SELECT cache_get('k', 'c')") != i) {
          fprintf(stderr, "tier: wrote %d, read something else\n", i);
          bad++;
        }
      if (write(to_writer[1], &i, sizeof i) != sizeof i) _exit(98);
    }
    _exit(bad ? 1 : 0);
  }
  pids[1] = fork();
  if (pids[1] == 0) { /* the writer */
    alarm(60);
    close(to_reader[0]);
    close(to_writer[1]);
    sqlite3 *db = open_cache(":memory:", dir);
    for (int i = 1; i <= 300; i++) {
      char sql[64];
      snprintf(sql, sizeof sql, "SELECT cache_set('k', %d, NULL, 'c')", i);
      query_int(db, sql);
      int back;
      if (write(to_reader[1], &i, sizeof i) != sizeof i ||
          read(to_writer[0], &back, sizeof back) != sizeof back)
        _exit(99);
    }
    _exit(0);
  }
  close(to_reader[0]);
  close(to_reader[1]);
  close(to_writer[0]);
  close(to_writer[1]);
  int ok = wait_all(pids, 2, 120, NULL);
  CHECK(ok == 2, "tier: a reader served a value older than a committed write");
  printf("tier: 300 writes by another process, each seen at once: %s\n",
         ok == 2 ? "ok" : "FAIL");

  /* Fork after a change the tier has not looked at yet. */
  pid_t p = fork();
  if (p == 0) {
    alarm(60);
    sqlite3 *db = open_cache(":memory:", NULL);
    char *sql = sqlite3_mprintf(
        "SELECT cache_open('t', json_object('backend', 'filesystem', "
        "'cache_dir', %Q, 'local_max_bytes', '1MB')), "
        "cache_open('o', json_object('backend', 'filesystem', "
        "'cache_dir', %Q))",
        dir, dir);
    if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK) _exit(97);
    query_int(db, "SELECT cache_set('f', 1, NULL, 't')");
    query_int(db, "SELECT cache_get('f', 't')");          /* in the tier now */
    query_int(db, "SELECT cache_set('f', 2, NULL, 'o')"); /* another store */
    pid_t child = fork();
    if (child == 0) /* the child's first read after the fork */
      _exit(query_int(db, "SELECT cache_get('f', 't')") == 2 ? 0 : 1);
    int status;
    waitpid(child, &status, 0);
    _exit(WIFEXITED(status) && WEXITSTATUS(status) == 0 &&
                  query_int(db, "SELECT cache_get('f', 't')") == 2
              ? 0
              : 1);
  }
  ok = wait_all(&p, 1, 60, NULL);
  CHECK(ok == 1, "tier: a forked child served a value its tier had missed");
  printf("tier: a child forked after another write reads it: %s\n",
         ok == 1 ? "ok" : "FAIL");
}

/* ---- crash ---- */

/* The value of set number i: its length and bytes depend on i. */
static int crash_value(int i, unsigned char *buf) {
  int n = 50 + (i * 37) % 900;
  for (int k = 0; k < n; k++)
    buf[k] = (unsigned char)(i * 31 + k);
  return n;
}

static void crash_writer(const char *dir, int run, int ack) {
  sqlite3 *db = open_cache(":memory:", dir);
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db, "SELECT cache_set(?1, ?2, NULL, 'c')", -1, &st,
                         NULL) != SQLITE_OK)
    _exit(94);
  unsigned char buf[1024];
  for (int i = 0;; i++) {
    char key[32];
    snprintf(key, sizeof key, "%d:%d", run, i);
    sqlite3_bind_text(st, 1, key, -1, SQLITE_TRANSIENT);
    sqlite3_bind_blob(st, 2, buf, crash_value(i, buf), SQLITE_TRANSIENT);
    if (sqlite3_step(st) != SQLITE_ROW) _exit(95);
    sqlite3_reset(st);
    if (write(ack, &i, sizeof i) != sizeof i) _exit(96);
  }
}

/* Exit 0 when the store is intact and sets 0..acked of the run read back. */
static int crash_checker(const char *dir, int run, int acked) {
  sqlite3_stmt *st;
  if (!store_intact(dir)) {
    fprintf(stderr, "crash run %d: integrity_check failed\n", run);
    return 1;
  }
  sqlite3 *db = open_cache(":memory:", dir);
  sqlite3_prepare_v2(db, "SELECT cache_get(?1, 'c')", -1, &st, NULL);
  unsigned char want[1024];
  for (int i = 0; i <= acked; i++) {
    char key[32];
    snprintf(key, sizeof key, "%d:%d", run, i);
    sqlite3_bind_text(st, 1, key, -1, SQLITE_TRANSIENT);
    int n = crash_value(i, want);
    if (sqlite3_step(st) != SQLITE_ROW ||
        sqlite3_column_type(st, 0) != SQLITE_BLOB ||
        sqlite3_column_bytes(st, 0) != n ||
        memcmp(sqlite3_column_blob(st, 0), want, (size_t)n) != 0) {
      fprintf(stderr, "crash run %d: acknowledged set %d does not read back\n",
              run, i);
      return 1;
    }
    sqlite3_reset(st);
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  return 0;
}

static void check_crash(int runs) {
  char dir[512];
  snprintf(dir, sizeof dir, "%s/crash", g_dir);
  int bad = 0;
  long total_acked = 0;
  srand((unsigned)time(NULL));
  for (int run = 0; run < runs && !bad; run++) {
    int fds[2];
    if (pipe(fds) != 0) abort();
    pid_t w = fork();
    if (w == 0) {
      alarm(60);
      close(fds[0]);
      crash_writer(dir, run, fds[1]);
      _exit(0);
    }
    close(fds[1]);
    /* Kill at a random moment after the first acknowledgment. */
    int i, last = -1;
    if (read(fds[0], &i, sizeof i) == sizeof i) last = i;
    struct timespec ts = {0, (long)(rand() % 40) * 1000000L};
    nanosleep(&ts, NULL);
    kill(w, SIGKILL);
    while (read(fds[0], &i, sizeof i) == sizeof i)
      last = i;
    close(fds[0]);
    int status;
    waitpid(w, &status, 0);
    if (last < 0 || !WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL) {
      fprintf(stderr, "crash run %d: the writer stopped by itself (%d sets)\n",
              run, last + 1);
      bad = 1;
      break;
    }
    total_acked += last + 1;
    pid_t c = fork();
    if (c == 0) {
      alarm(60);
      _exit(crash_checker(dir, run, last));
    }
    if (wait_all(&c, 1, 60, NULL) != 1) bad = 1;
  }
  CHECK(!bad, "crash: a store did not survive SIGKILL intact");
  printf("crash: %d SIGKILLs, %ld acknowledged sets all read back: %s\n", runs,
         total_acked, bad ? "FAIL" : "ok");
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr,
            "usage: test_fs_procs EXTENSION [crash-runs [mixed-ops]]\n");
    return 2;
  }
  g_ext = argv[1];
  int runs = argc > 2 ? atoi(argv[2]) : 50;
  int mix_ops = argc > 3 ? atoi(argv[3]) : 10000;
  if (!mkdtemp(g_dir)) {
    perror("mkdtemp");
    return 2;
  }
  check_incr();
  check_add();
  check_mixed(mix_ops);
  check_reopen();
  check_tier();
  check_crash(runs);
  ext_remove_tree(WHO, g_dir);
  printf("%s\n", g_failed ? "FAILED" : "all ok");
  return g_failed;
}
