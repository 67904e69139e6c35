/*
** test_redis_fail: the Redis backend when the server fails, against real
** redis-server processes this test starts on free loopback ports and stops
** by their PIDs.
**
**   test_redis_fail
**
**   sigpipe   the host keeps SIGPIPE's default action (death); the server
**             is killed with SIGKILL under an open pool, and 200 writes to
**             it neither kill the process nor leave SIGPIPE blocked or
**             pending; under on_error=fallback none fails.
**   restart   the server comes back on the same port: operations use it
**             again within 2 s.
**   hang      the server is stopped (SIGSTOP), so connects succeed and
**             replies never come: no operation waits longer than
**             timeout_ms (+ slack), and once the breaker is open at most
**             one operation per second waits at all.
**   sleep     DEBUG SLEEP past timeout_ms: the get misses in about
**             timeout_ms; afterwards the value is served again.
**   kill      CLIENT KILL of every connection of the pool: the next
**             operations succeed, without an error (a fresh context).
**   raise     on_error=raise: a clear error, counted once, the URL's
**             password nowhere in the message or in the statistics.
**   auth      a server with a password: redis:// URLs with and without a
**             user (the password percent-encoded) on db 2; a server on a
**             unix socket: a unix:// URL with ?db=2. Every entry lands in
**             db 2.
**   procs     two processes share entries; a process with idle pooled
**             contexts forks and parent and child each do 2000 set/get of
**             their own keys at once: every reply is the right one.
**   load      2 threads do gets and sets while the server is killed with
**             SIGKILL and restarted twice: no operation fails or waits
**             longer than the timeouts allow, and the server is used
**             again after each restart.
** Every wait is bounded.
*/
#include "pc_test.h"

#include "redis_server.h"

#include <hiredis/hiredis.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- The cache ---- */

static pc_cache *open_cache(const char *name, const server *s,
                            const char *extra) {
  char cfg[512], err[256];
  snprintf(
      cfg, sizeof cfg,
      "{\"backend\":\"redis\",\"url\":\"redis://127.0.0.1:%d\","
      "\"prefix\":\"%s:\",\"connect_timeout_ms\":200,\"timeout_ms\":100%s}",
      s->port, name, extra ? extra : "");
  pc_cache *c = NULL;
  if (pc_cache_open(name, cfg, &c, err, sizeof err) != PC_OK) {
    fprintf(stderr, "open %s: %s\n", name, err);
    CHECK(!"open");
    exit(1);
  }
  return c;
}

static int set_int(pc_cache *c, const char *k, int64_t v) {
  pc_value val = {.type = PC_INTEGER, .i = v};
  return pc_set(c, k, strlen(k), &val, PC_TTL_NEVER, 0);
}

/* PC_OK and *v, or what pc_get said. */
static int get_int(pc_cache *c, const char *k, int64_t *v) {
  pc_value val;
  int rc = pc_get(c, k, strlen(k), &val);
  if (rc == PC_OK) {
    *v = val.type == PC_INTEGER ? val.i : INT64_MIN;
    pc_value_release(&val);
  }
  return rc;
}

static int64_t stat_errors(pc_cache *c) {
  pc_stats st;
  pc_get_stats(c, &st);
  return st.errors;
}

/* Waits until a get of k returns want; the milliseconds it took, or -1. */
static double until_served(pc_cache *c, const char *k, int64_t want,
                           int limit_ms) {
  double t0 = now_ms();
  while (now_ms() - t0 < limit_ms) {
    int64_t v;
    if (set_int(c, k, want) == PC_OK && get_int(c, k, &v) == PC_OK && v == want)
      return now_ms() - t0;
    sleep_ms(10);
  }
  return -1;
}

/* ---- Checks ---- */

static void check_sigpipe_and_restart(server *s) {
  signal(SIGPIPE, SIG_DFL);
  pc_cache *c = open_cache("sp", s, NULL);
  /* A pooled connection, then the server dies under it. */
  for (int i = 0; i < 50; i++)
    CHECK(set_int(c, "k", i) == PC_OK);
  server_kill(s, SIGKILL);
  /* A small write to a dead peer succeeds (the reset comes back later); a
  ** large one keeps writing after the reset, which is what raises SIGPIPE
  ** with write(2). The default action would end this process here. */
  size_t nbig = (size_t)8 << 20;
  char *big = calloc(1, nbig);
  CHECK(big != NULL);
  if (big) {
    pc_value v = pc_blob(big, nbig);
    CHECK(pc_set(c, "big", 3, &v, PC_TTL_DEFAULT, 0) == PC_DROPPED);
    free(big);
  }
  for (int i = 0; i < 200; i++)
    CHECK(set_int(c, "k", i) == PC_DROPPED);
  sigset_t mask, pend;
  pthread_sigmask(SIG_SETMASK, NULL, &mask);
  sigpending(&pend);
  CHECK(!sigismember(&mask, SIGPIPE));
  CHECK(!sigismember(&pend, SIGPIPE));
  CHECK(stat_errors(c) >= 201);
  int64_t v;
  CHECK(get_int(c, "k", &v) == PC_NOTFOUND);

  /* restart: used again within 2 s of coming back. */
  CHECK(server_start(s));
  double took = until_served(c, "k", 7, 5000);
  printf("restart: served again %.0f ms after the server came back\n", took);
  CHECK(took >= 0 && took <= 2000);
  pc_cache_release(c);
  pc_cache_close("sp");
}

static void check_hang(server *s) {
  pc_cache *c = open_cache("hang", s, NULL);
  CHECK(set_int(c, "k", 1) == PC_OK);
  server_kill(s, SIGSTOP);
  double worst = 0, t_end = now_ms() + 1500;
  int waited = 0, ops = 0;
  while (now_ms() < t_end) {
    double t0 = now_ms();
    int64_t v;
    int rc = get_int(c, "k", &v);
    double dt = now_ms() - t0;
    CHECK(rc == PC_NOTFOUND);
    if (dt > worst) worst = dt;
    if (dt > 50) waited++;
    ops++;
  }
  printf("hang: %d gets in 1.5 s, %d waited, the longest %.0f ms\n", ops,
         waited, worst);
  CHECK(worst <= 200 + 100 + 50); /* a connect and a read at most */
  CHECK(waited <= 3 + 2);         /* the trip, then a probe a second */
  CHECK(ops > 100);
  server_kill(s, SIGCONT);
  double took = until_served(c, "k", 2, 5000);
  CHECK(took >= 0 && took <= 2000);
  pc_cache_release(c);
  pc_cache_close("hang");
}

static void check_sleep(server *s) {
  pc_cache *c = open_cache("sleep", s, NULL);
  CHECK(set_int(c, "k", 5) == PC_OK);
  server_command(s, "DEBUG SLEEP 0.6", false);
  sleep_ms(50);
  double t0 = now_ms();
  int64_t v;
  CHECK(get_int(c, "k", &v) == PC_NOTFOUND);
  double dt = now_ms() - t0;
  printf("sleep: a get during DEBUG SLEEP returned a miss in %.0f ms\n", dt);
  CHECK(dt >= 90 && dt <= 100 + 60); /* one read timeout, no retry */
  sleep_ms(700);
  double took = until_served(c, "k", 5, 3000);
  CHECK(took >= 0);
  pc_cache_release(c);
  pc_cache_close("sleep");
}

static void check_client_kill(server *s) {
  pc_cache *c = open_cache("ck", s, NULL);
  CHECK(set_int(c, "k", 9) == PC_OK);
  int64_t e0 = stat_errors(c);
  server_command(s, "CLIENT KILL TYPE normal", true);
  int64_t v = 0;
  CHECK(get_int(c, "k", &v) == PC_OK && v == 9);
  CHECK(set_int(c, "k", 10) == PC_OK);
  CHECK(get_int(c, "k", &v) == PC_OK && v == 10);
  CHECK(stat_errors(c) == e0);
  pc_cache_release(c);
  pc_cache_close("ck");
}

static void check_raise(server *s) {
  char cfg[256], err[256];
  snprintf(cfg, sizeof cfg,
           "{\"backend\":\"redis\",\"url\":\"redis://u:hunter2@127.0.0.1:%d\","
           "\"on_error\":\"raise\",\"timeout_ms\":100}",
           s->port);
  pc_cache *c = NULL;
  CHECK(pc_cache_open("raise", cfg, &c, err, sizeof err) == PC_OK);
  if (!c) return;
  pc_value v;
  int rc = pc_get(c, "k", 1, &v);
  CHECK(rc == PC_UNAVAILABLE);
  pc_stats st;
  pc_get_stats(c, &st);
  CHECK_EQ_INT(st.errors, 1); /* one failure, counted once */
  CHECK_EQ_INT(st.misses, 0);
  CHECK(strstr(pc_errmsg(c), "AUTH") != NULL);
  CHECK(strstr(pc_errmsg(c), "hunter2") == NULL);
  char *js = pc_stats_json(c);
  CHECK(js && !strstr(js, "hunter2"));
  pc_free(js);
  char *conf = pc_cache_config_json(c);
  CHECK(conf && !strstr(conf, "hunter2") && strstr(conf, "***"));
  pc_free(conf);
  pc_cache_release(c);
  pc_cache_close("raise");
}

/* Opens `url` as cache `name` (on_error=raise), stores v under the key
** `name` and reads it back. */
static void use_url(const char *name, const char *url, int64_t v) {
  char cfg[320], err[256];
  snprintf(cfg, sizeof cfg,
           "{\"backend\":\"redis\",\"url\":\"%s\",\"on_error\":\"raise\"}",
           url);
  pc_cache *c = NULL;
  CHECK(pc_cache_open(name, cfg, &c, err, sizeof err) == PC_OK);
  if (!c) return;
  int rc = set_int(c, name, v);
  if (rc != PC_OK) fprintf(stderr, "%s: %s\n", name, pc_errmsg(c));
  CHECK(rc == PC_OK);
  int64_t got = 0;
  CHECK(get_int(c, name, &got) == PC_OK && got == v);
  pc_cache_release(c);
  pc_cache_close(name);
}

/* The number of keys in db 2 of the server on socket `sock`. */
static long long db2_size(const char *sock, const char *pass) {
  struct timeval tv = {2, 0};
  redisContext *c = redisConnectUnixWithTimeout(sock, tv);
  long long n = -1;
  if (c && !c->err) {
    redisReply *r = pass ? redisCommand(c, "AUTH %s", pass) : NULL;
    if (r) freeReplyObject(r);
    r = redisCommand(c, "SELECT 2");
    if (r) freeReplyObject(r);
    r = redisCommand(c, "DBSIZE");
    if (r && r->type == REDIS_REPLY_INTEGER) n = r->integer;
    if (r) freeReplyObject(r);
  }
  if (c) redisFree(c);
  return n;
}

/* A server of its own with a unix socket (and more arguments); false when
** it cannot start. */
static bool start_with_socket(server *a, char *sock, size_t nsock,
                              const char *pass) {
  snprintf(a->dir, sizeof a->dir, "/tmp/pc_redis_auth.XXXXXX");
  if (!mkdtemp(a->dir)) return false;
  snprintf(sock, nsock, "%s/redis.sock", a->dir);
  int n = 0;
  a->extra[n++] = "--unixsocket";
  a->extra[n++] = sock;
  if (pass) {
    a->extra[n++] = "--requirepass";
    a->extra[n++] = pass;
  }
  return server_start(a);
}

/* AUTH with and without a user (the password percent-encoded in the URL),
** SELECT of the URL's db, and a unix:// URL with ?db=. */
static void check_auth_db_unix(void) {
  const char *pass = "s3cr@t:/x";
  server a = {0}, b = {0};
  char sa[96], sb[96], url[160];
  CHECK(start_with_socket(&a, sa, sizeof sa, pass));
  if (!a.pid) return;
  snprintf(url, sizeof url, "redis://:s3cr%%40t%%3A%%2Fx@127.0.0.1:%d/2",
           a.port);
  use_url("auth", url, 100);
  snprintf(url, sizeof url, "redis://default:s3cr%%40t%%3A%%2Fx@127.0.0.1:%d/2",
           a.port);
  use_url("authuser", url, 101);
  CHECK(db2_size(sa, pass) == 2); /* both entries landed in db 2 */
  server_remove(&a);

  CHECK(start_with_socket(&b, sb, sizeof sb, NULL));
  if (!b.pid) return;
  snprintf(url, sizeof url, "unix://%s?db=2", sb);
  use_url("unix", url, 102);
  CHECK(db2_size(sb, NULL) == 1);
  server_remove(&b);
}

static void check_procs(server *s) {
  pc_cache *c = open_cache("procs", s, NULL);
  /* Idle contexts in the pool before the fork. */
  for (int i = 0; i < 20; i++)
    set_int(c, "warm", i);
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    alarm(60);
    int bad = 0;
    for (int i = 0; i < 2000; i++) {
      char k[32];
      snprintf(k, sizeof k, "child:%d", i % 50);
      int64_t v = -1;
      if (set_int(c, k, 1000000 + i) != PC_OK || get_int(c, k, &v) != PC_OK ||
          v != 1000000 + i)
        bad++;
    }
    CHECK(set_int(c, "from-child", 4242) == PC_OK);
    _exit(bad ? 1 : 0);
  }
  int bad = 0;
  for (int i = 0; i < 2000; i++) {
    char k[32];
    snprintf(k, sizeof k, "parent:%d", i % 50);
    int64_t v = -1;
    if (set_int(c, k, i) != PC_OK || get_int(c, k, &v) != PC_OK || v != i)
      bad++;
  }
  int status = -1;
  waitpid(pid, &status, 0);
  printf("procs: parent %d bad replies, child exit %d\n", bad,
         WIFEXITED(status) ? WEXITSTATUS(status) : -1);
  CHECK(bad == 0);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  int64_t v = 0;
  CHECK(get_int(c, "from-child", &v) == PC_OK && v == 4242);
  pc_cache_release(c);
  pc_cache_close("procs");
}

typedef struct load_arg {
  pc_cache *c;
  int id;
  atomic_bool *stop;
  double worst;
  long ops, fails;
} load_arg;

static void *load_thread(void *p) {
  load_arg *a = p;
  char k[32];
  for (long i = 0; !atomic_load(a->stop); i++) {
    snprintf(k, sizeof k, "t%d:%ld", a->id, i % 100);
    double t0 = now_ms();
    pc_value v = {.type = PC_INTEGER, .i = i};
    int rc = pc_set(a->c, k, strlen(k), &v, 60000, 0);
    if (rc != PC_OK && rc != PC_DROPPED) a->fails++;
    rc = pc_get(a->c, k, strlen(k), &v);
    if (rc == PC_OK)
      pc_value_release(&v);
    else if (rc != PC_NOTFOUND)
      a->fails++;
    double dt = now_ms() - t0;
    if (dt > a->worst) a->worst = dt;
    a->ops++;
  }
  return NULL;
}

static void check_load(server *s) {
  pc_cache *c = open_cache("load", s, NULL);
  atomic_bool stop = false;
  load_arg a[2];
  pthread_t th[2];
  for (int i = 0; i < 2; i++) {
    a[i] = (load_arg){c, i, &stop, 0, 0, 0};
    pthread_create(&th[i], NULL, load_thread, &a[i]);
  }
  for (int round = 0; round < 2; round++) {
    sleep_ms(300);
    server_kill(s, SIGKILL);
    sleep_ms(300);
    CHECK(server_start(s));
    double took = until_served(c, "probe", round, 5000);
    printf("load: round %d, served again %.0f ms after the restart\n", round,
           took);
    CHECK(took >= 0 && took <= 2000);
  }
  atomic_store(&stop, true);
  for (int i = 0; i < 2; i++) {
    pthread_join(th[i], NULL);
    printf("load: thread %d: %ld ops, %ld failed, the longest %.0f ms\n", i,
           a[i].ops, a[i].fails, a[i].worst);
    CHECK(a[i].fails == 0);
    /* Two exchanges, each a connect and a read at most, and a retry. */
    CHECK(a[i].worst <= 2 * (200 + 100) + 200);
  }
  pc_cache_release(c);
  pc_cache_close("load");
}

int main(void) {
  alarm(240);
  server s = {0};
  server_start_temp(&s, "redis_fail");
  check_sigpipe_and_restart(&s);
  check_hang(&s);
  check_sleep(&s);
  check_client_kill(&s);
  check_raise(&s);
  check_auth_db_unix();
  check_procs(&s);
  check_load(&s);
  server_remove(&s);
  PC_TEST_END();
}
