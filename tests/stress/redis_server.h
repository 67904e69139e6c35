/*
** redis_server.h: a redis-server of a test's own, for the C tests of the
** Redis backend: started on a free loopback port (or a given one), with
** extra arguments, stopped by its PID; a side connection for commands.
** Every wait is bounded. Needs pc_test.h (CHECK) included first.
*/
#ifndef PC_REDIS_SERVER_H
#define PC_REDIS_SERVER_H

#include <hiredis/hiredis.h>

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

PC_TEST_UNUSED static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

PC_TEST_UNUSED static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
  }
}

/* ---- A redis-server of our own ---- */

typedef struct server {
  pid_t pid;
  int port;
  char dir[64];
  const char *extra[6]; /* more redis-server arguments, NULL-terminated */
} server;

PC_TEST_UNUSED static bool server_ping(int port, int wait_ms) {
  double end = now_ms() + wait_ms;
  do {
    struct timeval tv = {0, 200000};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);
    if (c && !c->err) {
      redisSetTimeout(c, tv);
      redisReply *r = redisCommand(c, "PING");
      /* Up: PONG, or a demand for the password it was started with. */
      bool ok = r && (r->type == REDIS_REPLY_STATUS ||
                      (r->type == REDIS_REPLY_ERROR && r->str &&
                       strncmp(r->str, "NOAUTH", 6) == 0));
      if (r) freeReplyObject(r);
      redisFree(c);
      if (ok) return true;
    } else if (c) {
      redisFree(c);
    }
    sleep_ms(20);
  } while (now_ms() < end);
  return false;
}

/* Starts redis-server on s->port (a free one when 0). */
PC_TEST_UNUSED static bool server_start(server *s) {
  for (int attempt = 0; attempt < 10; attempt++) {
    static int started; /* another port for each attempt of this run */
    int port =
        s->port ? s->port : 20000 + (getpid() * 13 + started++ * 101) % 30000;
    char portz[16];
    snprintf(portz, sizeof portz, "%d", port);
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) return false;
    if (pid == 0) {
      if (!freopen("/dev/null", "w", stdout)) _exit(127);
      const char *argv[24] = {
          "redis-server", "--port", portz,  "--bind",
          "127.0.0.1",    "--save", "",     "--appendonly",
          "no",           "--dir",  s->dir, "--enable-debug-command",
          "local"};
      int n = 13;
      for (int i = 0; s->extra[i]; i++)
        argv[n++] = s->extra[i];
      argv[n] = NULL;
      execvp("redis-server", (char *const *)argv);
      _exit(127);
    }
    /* Up, and ours: a server already on that port answers pings too,
    ** while ours has exited for want of the port. */
    if (server_ping(port, 5000) && waitpid(pid, NULL, WNOHANG) == 0) {
      s->pid = pid;
      s->port = port;
      return true;
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    if (s->port) sleep_ms(200); /* the same port: let it free up */
  }
  return false;
}

PC_TEST_UNUSED static void server_kill(server *s, int sig) {
  if (s->pid <= 0) return;
  if (sig == SIGSTOP || sig == SIGCONT) {
    kill(s->pid, sig);
    return;
  }
  kill(s->pid, sig);
  waitpid(s->pid, NULL, 0);
  s->pid = 0;
}

/* A command on a connection of its own (the test's side channel). */
PC_TEST_UNUSED static void server_command(const server *s, const char *cmd,
                                          bool wait) {
  struct timeval tv = {2, 0};
  redisContext *c = redisConnectWithTimeout("127.0.0.1", s->port, tv);
  if (!c || c->err) {
    CHECK(!"side connection");
    if (c) redisFree(c);
    return;
  }
  if (wait) {
    redisReply *r = redisCommand(c, cmd);
    if (r) freeReplyObject(r);
  } else {
    redisAppendCommand(c, cmd);
    int done = 0;
    redisBufferWrite(c, &done);
  }
  redisFree(c);
}

/* A server of test `name`'s own in a new /tmp directory, or exit(1). */
PC_TEST_UNUSED static void server_start_temp(server *s, const char *name) {
  snprintf(s->dir, sizeof s->dir, "/tmp/pc_%s.XXXXXX", name);
  if (!mkdtemp(s->dir)) exit(2);
  if (!server_start(s)) {
    fprintf(stderr,
            "test_%s: cannot start redis-server (apt-get install "
            "redis-server)\n",
            name);
    exit(1);
  }
  printf("redis-server pid %d on port %d\n", (int)s->pid, s->port);
}

/* Stops the server and removes its directory. */
PC_TEST_UNUSED static void server_remove(server *a) {
  server_kill(a, SIGKILL);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", a->dir);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", a->dir);
}

#endif
