/*
** pc_redis.c: the Redis backend, pc__redis_backend ("redis"), on hiredis.
**
**   SELECT cache_open('api', json_object('backend','redis',
**                     'url','redis://127.0.0.1:6379/0', 'prefix','api:'));
**
** What it owns
**   A store: the parsed URL, the key prefix, a pool of hiredis contexts to
**   the server and a circuit breaker. Entries live in Redis under
**   prefix + key, as the engine's encoded bytes, with Redis's own expiry:
**   every process and machine that opens the same URL and prefix shares
**   them. Expiries are Unix time in milliseconds (wall_clock = true) and go
**   to Redis as a relative PX.
**
** How it works
**   - Connections. A pool of idle contexts under a mutex: an operation
**     takes one (or connects), sends its commands and gives it back.
**     hiredis contexts are not thread-safe, so a context serves one thread
**     at a time; a context that saw any I/O or protocol error is freed,
**     never reused (hiredis cannot recover one), and the idle ones are
**     dropped with it (after a restart or a CLIENT KILL they are all
**     dead). Connecting authenticates (AUTH [user] password, the URL's
**     percent-encoding decoded) and selects the database. After fork() a
**     child closes its parent's idle contexts without using them and
**     connects afresh (pc__fork_gen()).
**   - Time bounds. connect_timeout_ms bounds a connect, timeout_ms every
**     read and write (SO_RCVTIMEO/SO_SNDTIMEO through redisSetTimeout).
**     Host names are resolved by the system resolver before the connect
**     timeout starts: give an address (or a unix socket) where a slow DNS
**     matters.
**   - SIGPIPE. hiredis writes with write(2), which raises SIGPIPE on a
**     connection the server closed and would kill a host process that
**     keeps the default action. So hiredis only formats commands and reads
**     replies here: rd_send() writes its buffer with send(MSG_NOSIGNAL).
**     No signal is raised, no mask or disposition touched, and a request
**     costs the two system calls of a raw hiredis round trip.
**   - Circuit breaker. After RD_TRIP consecutive failures to reach the
**     server, operations fail at once (PC_UNAVAILABLE, no network wait) and
**     one caller per RD_PROBE_MS window is let through as a probe; its
**     success closes the breaker. So a dead server costs a statement no
**     wait at all, and a server that comes back is used again within about
**     a second.
**   - Operations. GET; SET with PX / NX / XX / KEEPTTL; UNLINK; PEXPIRE (or
**     PERSIST) for touch; GET + PTTL pipelined when the expiry is wanted;
**     the GETs (+ PTTLs) of many keys pipelined in one round trip
**     (get_many: the pcache table's `key IN (...)`);
**     incr as one Lua script (atomic on the server, the TTL set only when
**     the key is created; the value stays in the engine's encoding, exact
**     over all of int64); clear and scans with SCAN MATCH prefix* in
**     batches (clear UNLINKs each batch; never FLUSHDB).
**   - Memory tier. watch() starts a thread that holds one more
**     connection, subscribed to Redis's invalidations of the prefix's keys
**     (see "Invalidations for a memory tier" below).
**   - Errors. PC_UNAVAILABLE when the server cannot be reached or answers
**     with an error meaning it cannot serve (LOADING, READONLY, OOM, ...):
**     the engine turns that into a miss under on_error=fallback. A key that
**     holds another Redis type (WRONGTYPE) reads as a miss. Messages never
**     quote the URL.
**
** Why each bound exists
**   - RD_POOL_IDLE (16) idle contexts kept: enough for the threads of one
**     process to find one; more would hold server connections for nothing.
**   - RD_TRIP (3) failures: one lost connection (a restart, a CLIENT KILL)
**     is retried on a fresh context and does not open the breaker; three
**     in a row mean the server is gone.
**   - RD_PROBE_MS (1000): how soon a server that came back is used again.
**   - RD_SCAN_COUNT (256) keys per SCAN batch: a few round trips per
**     thousand keys, bounded memory and server time per call.
*/
#include "pc_internal.h"

#include <hiredis/hiredis.h>
#include <hiredis/sds.h>

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#define RD_POOL_IDLE 16
#define RD_TRIP 3
#define RD_PROBE_MS 1000
#define RD_SCAN_COUNT 256
#define RD_KEY_STACK 256 /* keys up to this long are built on the stack */
#define RD_INVALIDATE "__redis__:invalidate"

typedef struct rd_track rd_track;

typedef struct rd_store {
  char *url;    /* pc__free; holds the password: never print it */
  pc_url u;     /* points into url */
  char *prefix; /* pc__free; "" when none */
  size_t nprefix;
  int64_t connect_timeout_ms, timeout_ms;

  pthread_mutex_t mu;               /* guards idle, nidle, gen */
  redisContext *idle[RD_POOL_IDLE]; /* redisFree */
  int nidle;
  unsigned gen; /* pc__fork_gen() the idle contexts belong to */

  _Atomic int fails;        /* consecutive failures to reach the server */
  _Atomic int64_t probe_at; /* monotonic ms: the breaker's next probe */

  rd_track *track; /* track_stop; NULL unless watched */
} rd_store;

/* ---- Errors ---- */

/* "redis: <what>" with hiredis's description of a context error. */
static int rd_ctx_error(redisContext *c, const char *what) {
  if (!c) return pc__error(PC_NOMEM, "out of memory");
  return pc__error(PC_UNAVAILABLE, "redis: %s: %.100s", what,
                   c->errstr[0] ? c->errstr : strerror(errno));
}

/* Error replies that say the server cannot serve now, as opposed to a
** command it refused: these count as unavailability. */
static bool busy_error(const char *z) {
  static const char *const words[] = {
      "LOADING",  "READONLY",    "OOM",    "BUSY",      "MASTERDOWN",
      "TRYAGAIN", "CLUSTERDOWN", "NOAUTH", "WRONGPASS", "NOPERM",
      "MOVED",    "ASK",         NULL};
  for (int i = 0; words[i]; i++) {
    size_t n = strlen(words[i]);
    if (strncmp(z, words[i], n) == 0 && (z[n] == ' ' || z[n] == 0)) return true;
  }
  return false;
}

/* The outcome of an error reply (its first line, at most 100 bytes). */
static int rd_reply_error(const redisReply *r) {
  const char *z = r->str ? r->str : "";
  return pc__error(busy_error(z) ? PC_UNAVAILABLE : PC_ERROR, "redis: %.100s",
                   z);
}

/* ---- Writing without SIGPIPE ---- */

/* Sends what c has buffered (redisAppendCommand*) with send(MSG_NOSIGNAL),
** so that redisGetReply finds nothing to write and only reads. hiredis
** 0.14 writes with write(2), which raises SIGPIPE on a connection the
** server closed and would kill a host process that keeps the default
** action. On failure c carries the error as hiredis would set it (errno
** kept) and false is returned. */
static bool rd_send(redisContext *c) {
  size_t len = sdslen(c->obuf), off = 0;
  while (off < len) {
    ssize_t w = send(c->fd, c->obuf + off, len - off, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      int err = w < 0 ? errno : EPIPE;
      c->err = REDIS_ERR_IO;
      snprintf(c->errstr, sizeof c->errstr, "%s", strerror(err));
      errno = err;
      return false;
    }
    off += (size_t)w;
  }
  sdsclear(c->obuf);
  return true;
}

/* redisCommandArgv without write(2): the reply, or NULL with c->err set. */
static redisReply *rd_command(redisContext *c, int argc, const char **argv,
                              const size_t *lens) {
  void *r = NULL;
  if (redisAppendCommandArgv(c, argc, argv, lens) != REDIS_OK || !rd_send(c) ||
      redisGetReply(c, &r) != REDIS_OK)
    return NULL;
  return r;
}

/* ---- Connections ---- */

static struct timeval ms_tv(int64_t ms) {
  struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
  return tv;
}

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* Percent-decodes (z, n) into out (n + 1 bytes); returns the length. */
static size_t pct_decode(const char *z, size_t n, char *out) {
  size_t w = 0;
  for (size_t i = 0; i < n; i++) {
    int h, l;
    if (z[i] == '%' && i + 2 < n && (h = hexval(z[i + 1])) >= 0 &&
        (l = hexval(z[i + 2])) >= 0) {
      out[w++] = (char)(h << 4 | l);
      i += 2;
    } else {
      out[w++] = z[i];
    }
  }
  out[w] = 0;
  return w;
}

/* One command on a fresh context during connect; PC_OK or an error. */
static int setup_command(redisContext *c, int argc, const char **argv,
                         const size_t *lens, const char *what) {
  redisReply *r = rd_command(c, argc, argv, lens);
  if (!r) return rd_ctx_error(c, what);
  int rc = PC_OK;
  if (r->type == REDIS_REPLY_ERROR)
    /* The server's words on AUTH never hold the password. */
    rc = pc__error(PC_UNAVAILABLE, "redis: %s: %.100s", what,
                   r->str ? r->str : "");
  freeReplyObject(r);
  return rc;
}

/* A new context: connected, authenticated, on the URL's database. */
static int rd_connect(rd_store *s, redisContext **out) {
  const pc_url *u = &s->u;
  struct timeval ct = ms_tv(s->connect_timeout_ms);
  redisContext *c;
  if (u->is_unix) {
    char path[128];
    snprintf(path, sizeof path, "%.*s", (int)u->npath, u->path);
    c = redisConnectUnixWithTimeout(path, ct);
  } else {
    char host[256];
    if (u->nhost >= sizeof host)
      return pc__error(PC_ERROR, "redis: the host name is too long");
    snprintf(host, sizeof host, "%.*s", (int)u->nhost, u->host);
    c = redisConnectWithTimeout(host, u->port, ct);
  }
  if (!c || c->err) {
    int rc = rd_ctx_error(c, "cannot connect");
    if (c) redisFree(c);
    return rc;
  }
  int rc = PC_OK;
  if (redisSetTimeout(c, ms_tv(s->timeout_ms)) != REDIS_OK)
    rc = rd_ctx_error(c, "cannot set the timeout");
  if (rc == PC_OK && !u->is_unix) redisEnableKeepAlive(c);
  if (rc == PC_OK && u->has_pass) {
    char *user = pc__malloc(u->nuser + 1), *pass = pc__malloc(u->npass + 1);
    if (!user || !pass) {
      rc = pc__error(PC_NOMEM, "out of memory");
    } else {
      size_t nu = pct_decode(u->user, u->nuser, user);
      size_t np = pct_decode(u->pass, u->npass, pass);
      const char *argv[3] = {"AUTH", user, pass};
      size_t lens[3] = {4, nu, np};
      if (nu)
        rc = setup_command(c, 3, argv, lens, "AUTH failed");
      else
        rc = setup_command(c, 2, (const char *[]){"AUTH", pass},
                           (size_t[]){4, np}, "AUTH failed");
      memset(pass, 0, u->npass + 1);
    }
    pc__free(user);
    pc__free(pass);
  }
  if (rc == PC_OK && u->db) {
    char db[16];
    int n = snprintf(db, sizeof db, "%d", u->db);
    rc = setup_command(c, 2, (const char *[]){"SELECT", db},
                       (size_t[]){6, (size_t)n}, "SELECT failed");
  }
  if (rc != PC_OK) {
    redisFree(c);
    return rc;
  }
  *out = c;
  return PC_OK;
}

/* Empties the idle list into out[] (to free_all() once s->mu, which the
** caller holds, is released). A forked child closes its copies of the
** parent's sockets this way: redisFree sends nothing. */
static void take_idle_locked(rd_store *s, redisContext **out, int *nout) {
  for (int i = 0; i < s->nidle; i++)
    out[(*nout)++] = s->idle[i];
  s->nidle = 0;
}

static void free_all(redisContext **a, int n) {
  for (int i = 0; i < n; i++)
    redisFree(a[i]);
}

/* The breaker's verdict: true when an operation may use the network. */
static bool breaker_allows(rd_store *s) {
  if (atomic_load_explicit(&s->fails, memory_order_relaxed) < RD_TRIP)
    return true;
  int64_t now = pc_now_mono_ms();
  int64_t at = atomic_load(&s->probe_at);
  /* One caller per window probes; the others fail at once. */
  return now >= at &&
         atomic_compare_exchange_strong(&s->probe_at, &at, now + RD_PROBE_MS);
}

static void breaker_result(rd_store *s, bool reached) {
  if (reached) {
    if (atomic_load_explicit(&s->fails, memory_order_relaxed))
      atomic_store(&s->fails, 0);
    return;
  }
  if (atomic_fetch_add(&s->fails, 1) + 1 >= RD_TRIP)
    atomic_store(&s->probe_at, pc_now_mono_ms() + RD_PROBE_MS);
}

/* An idle context of this process, or a new one; *reused tells which. */
static int rd_take(rd_store *s, redisContext **out, bool *reused) {
  redisContext *stale[RD_POOL_IDLE];
  int nstale = 0;
  redisContext *c = NULL;
  pthread_mutex_lock(&s->mu);
  unsigned gen = pc__fork_gen();
  if (gen != s->gen) {
    take_idle_locked(s, stale, &nstale);
    s->gen = gen;
  }
  if (s->nidle) c = s->idle[--s->nidle];
  pthread_mutex_unlock(&s->mu);
  free_all(stale, nstale);
  *reused = c != NULL;
  if (c) {
    *out = c;
    return PC_OK;
  }
  return rd_connect(s, out);
}

/* Gives c back, or frees it (and every idle context) after an error. */
static void rd_give(rd_store *s, redisContext *c, bool broken) {
  redisContext *drop[RD_POOL_IDLE + 1];
  int ndrop = 0;
  pthread_mutex_lock(&s->mu);
  if (broken || c->err || s->gen != pc__fork_gen()) {
    drop[ndrop++] = c;
    if (broken || c->err) take_idle_locked(s, drop, &ndrop);
  } else if (s->nidle < RD_POOL_IDLE) {
    s->idle[s->nidle++] = c;
  } else {
    drop[ndrop++] = c;
  }
  pthread_mutex_unlock(&s->mu);
  free_all(drop, ndrop);
}

/* ---- Exchanges ---- */

/* A command as hiredis's argv form. */
typedef struct rd_cmd {
  int argc;
  const char **argv;
  const size_t *lens;
} rd_cmd;

/* Sends n commands pipelined and reads their n replies into r[] (the
** caller frees each with freeReplyObject). A reused context that the
** server had closed (EOF, EPIPE, ECONNRESET: a restart, a CLIENT KILL, an
** idle timeout) is retried once on a new one when `retry` (the commands
** are idempotent). PC_OK,
** or PC_UNAVAILABLE / PC_NOMEM with nothing in r[]. */
static int rd_exchange(rd_store *s, const rd_cmd *cmd, int n, redisReply **r,
                       bool retry) {
  if (!breaker_allows(s))
    return pc__error(PC_UNAVAILABLE,
                     "redis: unavailable (several attempts failed; the next "
                     "is tried within a second)");
  for (int attempt = 0;; attempt++) {
    redisContext *c = NULL;
    bool reused;
    int rc = rd_take(s, &c, &reused);
    if (rc != PC_OK) {
      if (rc == PC_UNAVAILABLE) breaker_result(s, false);
      return rc;
    }
    int i = 0, got = 0;
    for (; i < n; i++)
      if (redisAppendCommandArgv(c, cmd[i].argc, cmd[i].argv, cmd[i].lens) !=
          REDIS_OK)
        break;
    if (i == n && rd_send(c))
      for (; got < n; got++)
        if (redisGetReply(c, (void **)&r[got]) != REDIS_OK) break;
    int err = errno;
    if (got == n) {
      rd_give(s, c, false);
      breaker_result(s, true);
      return PC_OK;
    }
    for (int j = 0; j < got; j++)
      freeReplyObject(r[j]);
    rc = c->err == REDIS_ERR_OOM ? pc__error(PC_NOMEM, "out of memory")
                                 : rd_ctx_error(c, "request failed");
    /* Only a connection the server closed is worth a second try: after a
    ** timeout the server is slow, and a retry would double the wait. */
    bool closed =
        c->err == REDIS_ERR_EOF ||
        (c->err == REDIS_ERR_IO && (err == EPIPE || err == ECONNRESET));
    rd_give(s, c, true);
    if (rc == PC_NOMEM) return rc;
    if (!(retry && reused && closed && attempt == 0)) {
      breaker_result(s, false);
      return rc;
    }
  }
}

/* One command; *r is its reply. */
static int rd_one(rd_store *s, int argc, const char **argv, const size_t *lens,
                  redisReply **r, bool retry) {
  rd_cmd cmd = {argc, argv, lens};
  return rd_exchange(s, &cmd, 1, r, retry);
}

/* ---- Keys ---- */

/* prefix + key, in buf when it fits (RD_KEY_STACK bytes) else allocated;
** NULL when out of memory. The caller frees it when it is not buf. */
static char *full_key(const rd_store *s, const void *key, size_t nkey,
                      char *buf, size_t *n) {
  *n = s->nprefix + nkey;
  char *k = *n <= RD_KEY_STACK ? buf : pc__malloc(*n ? *n : 1);
  if (!k) return NULL;
  memcpy(k, s->prefix, s->nprefix);
  if (nkey) memcpy(k + s->nprefix, key, nkey);
  return k;
}

static void key_free(char *k, char *buf) {
  if (k != buf) pc__free(k);
}

/*
** A SCAN MATCH pattern for keys that start with prefix (escaped: glob
** characters match themselves) followed by p: ASCII letters of p as [xX]
** when nocase. Returns its length; out needs 4 * (nprefix + np) + 2 bytes.
*/
static size_t match_pattern(const char *prefix, size_t nprefix,
                            const unsigned char *p, size_t np, int nocase,
                            char *out) {
  size_t w = 0;
  for (size_t i = 0; i < nprefix + np; i++) {
    unsigned char ch = i < nprefix ? (unsigned char)prefix[i] : p[i - nprefix];
    bool letter = (ch | 32) >= 'a' && (ch | 32) <= 'z';
    if (nocase && i >= nprefix && letter) {
      out[w++] = '[';
      out[w++] = (char)(ch | 32);
      out[w++] = (char)(ch & ~32);
      out[w++] = ']';
      continue;
    }
    if (ch == '*' || ch == '?' || ch == '[' || ch == ']' || ch == '\\')
      out[w++] = '\\';
    out[w++] = (char)ch;
  }
  out[w++] = '*';
  out[w] = 0;
  return w;
}

/* ---- Invalidations for a memory tier ---- */

/*
** A memory tier in front of Redis (local_max_bytes) stays coherent through
** Redis's server-assisted client-side caching: one connection per store,
** owned by a thread of its own, asks for the invalidation of every key
** under the prefix (CLIENT TRACKING on REDIRECT <itself> BCAST PREFIX p)
** and subscribes to __redis__:invalidate, which works over RESP2. Each
** message names keys another client (or this process) changed; a nil
** message (FLUSHDB, FLUSHALL) means all of them. The thread hands each key
** to the engine's callback, and moves `version` where it cannot name them.
**
** version is 0 while the subscription is not up (connecting, after a drop,
** in a forked child until its own thread runs): the engine then bypasses
** the tier, since a change it would not hear of could be served stale. A
** new subscription takes a new version, so the engine drops all that the
** tier held from before. A silent connection is found by a PING after
** RD_TRACK_IDLE_MS without traffic that gets no answer within timeout_ms.
*/
#define RD_TRACK_IDLE_MS 1000
#define RD_TRACK_RETRY_MS 100 /* after a subscription that dropped */

typedef struct rd_track {
  void (*fn)(void *arg, const void *key, size_t nkey);
  void *arg;
  pthread_mutex_t mu; /* guards ctx and stop against close() */
  pthread_cond_t cv;  /* close() wakes the thread's retry wait */
  redisContext *ctx;  /* the thread's subscription; NULL between */
  bool stop;
  pthread_t thread;
  _Atomic unsigned fork_gen; /* the process the thread runs in */
  _Atomic unsigned claim;    /* a child's restart: taken by one caller */
  _Atomic uint64_t version;  /* 0 while not subscribed */
} rd_track;

/* Generations for version(), shared by every store of the process. */
static _Atomic uint64_t g_track_gen;

/* One command of the subscription's setup; *r is the reply (not an error). */
static int track_command(redisContext *c, int argc, const char **argv,
                         const size_t *lens, redisReply **r) {
  *r = rd_command(c, argc, argv, lens);
  if (!*r) return rd_ctx_error(c, "invalidation connection");
  if ((*r)->type != REDIS_REPLY_ERROR) return PC_OK;
  int rc = pc__error(PC_UNAVAILABLE, "redis: CLIENT TRACKING: %.100s",
                     (*r)->str ? (*r)->str : "");
  freeReplyObject(*r);
  *r = NULL;
  return rc;
}

/* Publishes or withdraws the thread's context; false once close() began. */
static bool track_publish(rd_track *t, redisContext *c) {
  pthread_mutex_lock(&t->mu);
  bool go = !t->stop;
  t->ctx = go ? c : NULL;
  pthread_mutex_unlock(&t->mu);
  return go;
}

/* A connection subscribed to the invalidations of the prefix's keys,
** published as soon as it is connected so that close() can cut short the
** setup's waits. */
static int track_subscribe(rd_store *s, redisContext **out) {
  redisContext *c;
  int rc = rd_connect(s, &c);
  if (rc != PC_OK) return rc;
  if (!track_publish(s->track, c)) {
    redisFree(c);
    return PC_ERROR; /* close() began */
  }
  redisReply *r;
  rc = track_command(c, 2, (const char *[]){"CLIENT", "ID"},
                     (const size_t[]){6, 2}, &r);
  char id[24];
  size_t nid = 0;
  if (rc == PC_OK) {
    if (r->type == REDIS_REPLY_INTEGER)
      nid = (size_t)snprintf(id, sizeof id, "%lld", r->integer);
    else
      rc = pc__error(PC_UNAVAILABLE, "redis: unexpected reply to CLIENT ID");
    freeReplyObject(r);
  }
  if (rc == PC_OK) {
    const char *argv[7] = {"CLIENT", "TRACKING", "on",    "REDIRECT",
                           id,       "BCAST",    "PREFIX"};
    size_t lens[8] = {6, 8, 2, 8, nid, 5, 6, s->nprefix};
    const char *args[8];
    memcpy(args, argv, sizeof argv);
    args[7] = s->prefix;
    /* Without a prefix, BCAST alone tracks every key. */
    rc = track_command(c, s->nprefix ? 8 : 6, args, lens, &r);
    if (rc == PC_OK) freeReplyObject(r);
  }
  if (rc == PC_OK) {
    rc = track_command(c, 2, (const char *[]){"SUBSCRIBE", RD_INVALIDATE},
                       (const size_t[]){9, sizeof RD_INVALIDATE - 1}, &r);
    if (rc == PC_OK) freeReplyObject(r);
  }
  if (rc != PC_OK) {
    track_publish(s->track, NULL);
    redisFree(c);
    return rc;
  }
  *out = c;
  return PC_OK;
}

/* Acts on one message of the subscription. */
static void track_message(rd_store *s, const redisReply *r) {
  rd_track *t = s->track;
  if (r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
      r->element[0]->type != REDIS_REPLY_STRING ||
      strcmp(r->element[0]->str, "message") != 0)
    return; /* the answer to a PING */
  const redisReply *keys = r->element[2];
  if (keys->type != REDIS_REPLY_ARRAY) { /* nil: every key */
    atomic_store(&t->version, atomic_fetch_add(&g_track_gen, 1) + 1);
    return;
  }
  for (size_t i = 0; i < keys->elements; i++) {
    const redisReply *k = keys->element[i];
    if (k->type == REDIS_REPLY_STRING && k->len >= s->nprefix &&
        memcmp(k->str, s->prefix, s->nprefix) == 0)
      t->fn(t->arg, k->str + s->nprefix, k->len - s->nprefix);
  }
}

/* Reads the subscription until it fails, goes silent or close() shuts it
** down. */
static void track_read(rd_store *s, redisContext *c) {
  bool pinged = false;
  for (;;) {
    /* First what is read already (the SUBSCRIBE reply may have brought
    ** messages along): poll() would not wake for those. */
    for (;;) {
      void *r = NULL;
      if (redisGetReplyFromReader(c, &r) != REDIS_OK) return;
      if (!r) break;
      track_message(s, r);
      freeReplyObject(r);
      pinged = false;
    }
    struct pollfd pf = {.fd = c->fd, .events = POLLIN};
    int n = poll(&pf, 1, pinged ? (int)s->timeout_ms : RD_TRACK_IDLE_MS);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return;
    if (n == 0) {
      if (pinged) return; /* no answer: the server or the path is gone */
      if (redisAppendCommand(c, "PING") != REDIS_OK || !rd_send(c)) return;
      pinged = true;
      continue;
    }
    if (redisBufferRead(c) != REDIS_OK) return; /* EOF after close() too */
  }
}

static void *track_main(void *p) {
  rd_store *s = p;
  rd_track *t = s->track;
  for (;;) {
    redisContext *c = NULL;
    int64_t wait = RD_PROBE_MS;
    if (track_subscribe(s, &c) == PC_OK) {
      atomic_store(&t->version, atomic_fetch_add(&g_track_gen, 1) + 1);
      track_read(s, c);
      atomic_store(&t->version, 0);
      track_publish(t, NULL);
      redisFree(c);
      wait = RD_TRACK_RETRY_MS;
    }
    struct timespec until;
    pc__deadline(CLOCK_REALTIME, wait, &until);
    pthread_mutex_lock(&t->mu);
    while (!t->stop && pthread_cond_timedwait(&t->cv, &t->mu, &until) == 0) {
    }
    bool stop = t->stop;
    pthread_mutex_unlock(&t->mu);
    if (stop) break;
  }
  return NULL;
}

/* Starts the thread with every signal blocked: the host's handlers never
** run on it. */
static int track_start(rd_store *s) {
  rd_track *t = s->track;
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  int err = pthread_create(&t->thread, NULL, track_main, s);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (err) return pc__error(PC_ERROR, "redis: cannot start a thread");
  return PC_OK;
}

/* In a forked child: the parent's thread is not here and its connection is
** the parent's. One caller frees the child's copy of that connection (no
** byte is sent) and starts a thread of the child's own. */
static void track_restart(rd_store *s, unsigned gen) {
  rd_track *t = s->track;
  unsigned seen = atomic_load(&t->claim);
  if (seen == gen || !atomic_compare_exchange_strong(&t->claim, &seen, gen))
    return;
  atomic_store(&t->version, 0);
  pthread_mutex_init(&t->mu, NULL);
  pthread_cond_init(&t->cv, NULL);
  if (t->ctx) redisFree(t->ctx);
  t->ctx = NULL;
  t->stop = false;
  if (track_start(s) == PC_OK) atomic_store(&t->fork_gen, gen);
}

static int rd_version(void *b, uint64_t *out) {
  rd_store *s = b;
  rd_track *t = s->track;
  *out = 0;
  if (!t) return PC_OK;
  unsigned gen = pc__fork_gen();
  if (atomic_load(&t->fork_gen) != gen) {
    track_restart(s, gen);
    return PC_OK;
  }
  *out = atomic_load(&t->version);
  return PC_OK;
}

static int rd_watch(void *b, void (*fn)(void *arg, const void *key, size_t n),
                    void *arg) {
  rd_store *s = b;
  if (s->track) return pc__error(PC_ERROR, "redis: already watched");
  rd_track *t = pc__malloc(sizeof *t);
  if (!t) return pc__error(PC_NOMEM, "out of memory");
  memset(t, 0, sizeof *t);
  t->fn = fn;
  t->arg = arg;
  pthread_mutex_init(&t->mu, NULL);
  pthread_cond_init(&t->cv, NULL);
  unsigned gen = pc__fork_gen();
  atomic_init(&t->fork_gen, gen);
  atomic_init(&t->claim, gen);
  s->track = t;
  int rc = track_start(s);
  if (rc != PC_OK) {
    s->track = NULL;
    pthread_cond_destroy(&t->cv);
    pthread_mutex_destroy(&t->mu);
    pc__free(t);
  }
  return rc;
}

/* Stops the thread (its blocking read is ended by shutting the socket
** down) and frees what it held. */
static void track_stop(rd_store *s) {
  rd_track *t = s->track;
  if (!t) return;
  if (atomic_load(&t->fork_gen) == pc__fork_gen()) {
    pthread_mutex_lock(&t->mu);
    t->stop = true;
    if (t->ctx) shutdown(t->ctx->fd, SHUT_RDWR);
    pthread_cond_signal(&t->cv);
    pthread_mutex_unlock(&t->mu);
    pthread_join(t->thread, NULL);
    pthread_cond_destroy(&t->cv);
    pthread_mutex_destroy(&t->mu);
  } else if (t->ctx) {
    redisFree(t->ctx); /* a child's copy of its parent's: nothing is sent */
  }
  pc__free(t);
  s->track = NULL;
}

/* ---- Open and close ---- */

static void rd_close(void *b) {
  rd_store *s = b;
  if (!s) return;
  track_stop(s);
  free_all(s->idle, s->nidle); /* a child's copies too: nothing is sent */
  pthread_mutex_destroy(&s->mu);
  if (s->url) memset(s->url, 0, strlen(s->url));
  pc__free(s->url);
  pc__free(s->prefix);
  pc__free(s);
}

static int rd_open(const pc_config *cfg, void **pb) {
  rd_store *s = pc__malloc(sizeof *s);
  if (!s) return pc__error(PC_NOMEM, "out of memory");
  memset(s, 0, sizeof *s);
  pthread_mutex_init(&s->mu, NULL);
  s->gen = pc__fork_gen();
  s->connect_timeout_ms = cfg->connect_timeout_ms;
  s->timeout_ms = cfg->timeout_ms;
  s->url = pc__strdup(cfg->url ? cfg->url : "");
  s->prefix = pc__strdup(cfg->prefix ? cfg->prefix : "");
  if (!s->url || !s->prefix) {
    rd_close(s);
    return pc__error(PC_NOMEM, "out of memory");
  }
  s->nprefix = strlen(s->prefix);
  const char *why = pc__url_parse(s->url, &s->u);
  if (why) {
    rd_close(s);
    return pc__error(PC_ERROR, "url: %s", why);
  }
  /* Opening never needs the server: with on_error=fallback a cache over a
  ** server that is down works (and misses) until the server is there. */
  *pb = s;
  return PC_OK;
}

/* ---- Operations ---- */

static int64_t wall_now(int64_t now) {
  return now == PC_NOW_LAZY ? pc_now_wall_ms() : now;
}

/* The release of a value taken over from a reply (hiredis allocates reply
** strings with malloc). */
static void reply_str_free(void *p) {
  free(p);
}

/* Takes the bulk string of a GET reply as *val (PC_OK), or the outcome of
** a reply that holds none. */
static int take_value(redisReply *r, pc_buf *val) {
  if (r->type == REDIS_REPLY_NIL) return PC_NOTFOUND;
  if (r->type == REDIS_REPLY_ERROR) {
    /* Another client's list or hash under our key is a miss. */
    if (r->str && strncmp(r->str, "WRONGTYPE", 9) == 0) return PC_NOTFOUND;
    return rd_reply_error(r);
  }
  if (r->type != REDIS_REPLY_STRING || !r->str)
    return pc__error(PC_ERROR, "redis: unexpected reply to GET");
  val->p = (const unsigned char *)r->str;
  val->n = r->len;
  val->free_fn = reply_str_free;
  r->str = NULL; /* freeReplyObject leaves it to val */
  return PC_OK;
}

/* The absolute expiry for a PTTL reply read at wall time now. */
static int pttl_expiry(const redisReply *r, int64_t now, int64_t *expires) {
  if (r->type != REDIS_REPLY_INTEGER || r->integer == -2) return PC_NOTFOUND;
  *expires =
      r->integer < 0 ? PC_EXPIRES_NEVER : pc__expiry_after(now, r->integer);
  return PC_OK;
}

static int rd_get(void *b, const void *key, size_t nkey, int64_t now,
                  pc_buf *val, int64_t *expires) {
  rd_store *s = b;
  char buf[RD_KEY_STACK];
  size_t nk;
  char *k = full_key(s, key, nkey, buf, &nk);
  if (!k) return pc__error(PC_NOMEM, "out of memory");
  const char *get[2] = {"GET", k}, *pttl[2] = {"PTTL", k};
  size_t lens[2] = {3, nk}, plens[2] = {4, nk};
  rd_cmd cmd[2] = {{2, get, lens}, {2, pttl, plens}};
  redisReply *r[2];
  int n = expires ? 2 : 1;
  int rc = rd_exchange(s, cmd, n, r, true);
  key_free(k, buf);
  if (rc != PC_OK) return rc;
  rc = take_value(r[0], val);
  if (rc == PC_OK && expires) {
    rc = pttl_expiry(r[1], wall_now(now), expires);
    if (rc != PC_OK) pc__buf_release(val); /* gone between the two */
  }
  for (int i = 0; i < n; i++)
    freeReplyObject(r[i]);
  return rc;
}

/* GET (+ PTTL when expires is wanted) of every key, pipelined: one round
** trip for all. */
static int rd_get_many(void *b, size_t n, const void *const *keys,
                       const size_t *nkeys, int64_t now, pc_buf *vals,
                       int64_t *expires, int *rcs) {
  rd_store *s = b;
  if (n > INT_MAX / 2)
    return pc__error(PC_TOOBIG, "redis: too many keys in one request");
  size_t total = 0;
  for (size_t i = 0; i < n; i++)
    total += s->nprefix + nkeys[i];
  char *kbuf = pc__malloc(total ? total : 1);
  size_t per = expires ? 2 : 1; /* commands per key: GET [+ PTTL] */
  const char **argv = pc__malloc(4 * n * sizeof *argv);
  size_t *lens = pc__malloc(4 * n * sizeof *lens);
  rd_cmd *cmd = pc__malloc(per * n * sizeof *cmd);
  redisReply **r = pc__malloc(per * n * sizeof *r);
  int rc = kbuf && argv && lens && cmd && r
               ? PC_OK
               : pc__error(PC_NOMEM, "out of memory");
  char *k = kbuf;
  for (size_t i = 0; rc == PC_OK && i < n; i++) {
    size_t nk = s->nprefix + nkeys[i];
    memcpy(k, s->prefix, s->nprefix);
    if (nkeys[i]) memcpy(k + s->nprefix, keys[i], nkeys[i]);
    const char **a = argv + 4 * i;
    size_t *l = lens + 4 * i;
    a[0] = "GET", l[0] = 3, a[1] = k, l[1] = nk;
    a[2] = "PTTL", l[2] = 4, a[3] = k, l[3] = nk;
    cmd[per * i] = (rd_cmd){2, a, l};
    if (expires) cmd[per * i + 1] = (rd_cmd){2, a + 2, l + 2};
    k += nk;
  }
  if (rc == PC_OK) rc = rd_exchange(s, cmd, (int)(per * n), r, true);
  if (rc == PC_OK) {
    int64_t wall = wall_now(now);
    size_t i = 0;
    for (; i < n; i++) {
      rcs[i] = take_value(r[per * i], &vals[i]);
      if (rcs[i] == PC_OK && expires) {
        rcs[i] = pttl_expiry(r[per * i + 1], wall, &expires[i]);
        if (rcs[i] != PC_OK) pc__buf_release(&vals[i]);
      }
      if (rcs[i] != PC_OK && rcs[i] != PC_NOTFOUND) break;
    }
    if (i < n) { /* an error reply: the whole request fails */
      rc = rcs[i];
      for (size_t j = 0; j < i; j++)
        if (rcs[j] == PC_OK) pc__buf_release(&vals[j]);
    }
    for (size_t j = 0; j < per * n; j++)
      freeReplyObject(r[j]);
  }
  pc__free(kbuf);
  pc__free(argv);
  pc__free(lens);
  pc__free(cmd);
  pc__free(r);
  return rc;
}

/* The PX argument for an absolute expiry: at least 1 ms. */
static int64_t px_for(int64_t expires, int64_t now) {
  int64_t ms = expires - wall_now(now);
  return ms < 1 ? 1 : ms;
}

static int rd_set(void *b, const void *key, size_t nkey, const void *val,
                  size_t nval, int64_t expires, int flags, int64_t now) {
  rd_store *s = b;
  char buf[RD_KEY_STACK], px[24];
  size_t nk;
  char *k = full_key(s, key, nkey, buf, &nk);
  if (!k) return pc__error(PC_NOMEM, "out of memory");
  const char *argv[6] = {"SET", k, nval ? val : ""};
  size_t lens[6] = {3, nk, nval};
  int argc = 3;
  /* KEEPTTL comes with XX (an UPDATE of the pcache table's value): the
  ** present key keeps its TTL, whatever the default TTL would give. */
  if (flags & PC_SET_KEEPTTL) {
    argv[argc] = "KEEPTTL";
    lens[argc++] = 7;
  } else if (expires != PC_EXPIRES_NEVER) {
    argv[argc] = "PX";
    lens[argc++] = 2;
    argv[argc] = px;
    lens[argc++] = (size_t)snprintf(px, sizeof px, "%lld",
                                    (long long)px_for(expires, now));
  }
  if (flags & (PC_SET_NX | PC_SET_XX)) {
    argv[argc] = flags & PC_SET_NX ? "NX" : "XX";
    lens[argc++] = 2;
  }
  redisReply *r;
  /* SET NX is not retried: a first attempt that stored the value but lost
  ** the reply would be answered "exists". */
  int rc = rd_one(s, argc, argv, lens, &r, !(flags & PC_SET_NX));
  key_free(k, buf);
  if (rc != PC_OK) return rc;
  if (r->type == REDIS_REPLY_NIL)
    rc = flags & PC_SET_NX ? PC_EXISTS : PC_NOTFOUND;
  else if (r->type == REDIS_REPLY_ERROR)
    rc = rd_reply_error(r);
  freeReplyObject(r);
  return rc;
}

/* An integer reply: PC_OK and *v, or the outcome of another reply. */
static int int_reply(redisReply *r, long long *v) {
  if (r->type == REDIS_REPLY_INTEGER) {
    *v = r->integer;
    return PC_OK;
  }
  if (r->type == REDIS_REPLY_ERROR) return rd_reply_error(r);
  return pc__error(PC_ERROR, "redis: unexpected reply");
}

static int rd_del(void *b, const void *key, size_t nkey, int64_t now) {
  (void)now;
  rd_store *s = b;
  char buf[RD_KEY_STACK];
  size_t nk;
  char *k = full_key(s, key, nkey, buf, &nk);
  if (!k) return pc__error(PC_NOMEM, "out of memory");
  redisReply *r;
  int rc =
      rd_one(s, 2, (const char *[]){"UNLINK", k}, (size_t[]){6, nk}, &r, true);
  key_free(k, buf);
  if (rc != PC_OK) return rc;
  long long n = 0;
  rc = int_reply(r, &n);
  freeReplyObject(r);
  if (rc == PC_OK && n == 0) rc = PC_NOTFOUND;
  return rc;
}

/* touch: PEXPIRE, or PERSIST + EXISTS for "never" (PERSIST answers 0 for a
** key that exists without a TTL). Not PEXPIRE XX, which would refuse a key
** that has no TTL yet. */
static int rd_touch(void *b, const void *key, size_t nkey, int64_t expires,
                    int64_t now) {
  rd_store *s = b;
  char buf[RD_KEY_STACK], px[24];
  size_t nk;
  char *k = full_key(s, key, nkey, buf, &nk);
  if (!k) return pc__error(PC_NOMEM, "out of memory");
  redisReply *r[2];
  int rc, n;
  if (expires == PC_EXPIRES_NEVER) {
    const char *persist[2] = {"PERSIST", k}, *exists[2] = {"EXISTS", k};
    size_t l1[2] = {7, nk}, l2[2] = {6, nk};
    rd_cmd cmd[2] = {{2, persist, l1}, {2, exists, l2}};
    n = 2;
    rc = rd_exchange(s, cmd, n, r, true);
  } else {
    size_t npx = (size_t)snprintf(px, sizeof px, "%lld",
                                  (long long)px_for(expires, now));
    n = 1;
    rc = rd_one(s, 3, (const char *[]){"PEXPIRE", k, px},
                (size_t[]){7, nk, npx}, r, true);
  }
  key_free(k, buf);
  if (rc != PC_OK) return rc;
  long long v = 0;
  rc = int_reply(r[n - 1], &v);
  for (int i = 0; i < n; i++)
    freeReplyObject(r[i]);
  if (rc == PC_OK && v == 0) rc = PC_NOTFOUND;
  return rc;
}

/*
** incr, atomic on the server. ARGV: the layout ("dec" or "le64"), the
** delta in decimal, PX (0 = none); for le64 the delta's low and high 32
** bits (unsigned, decimal) and the suffix of the encoding. Decimal values
** are Redis's own INCRBY; le64 values are added as two 32-bit halves with
** carry (Lua numbers are doubles: exact below 2^53, and each partial sum is
** below 2^34), the overflow of a signed add detected from the sign bits.
** The reply is the new encoded value, which the engine's codec decodes.
*/
static const char g_incr_lua[] =
    "local k, px = KEYS[1], tonumber(ARGV[3])\n"
    "if ARGV[1] == 'dec' then\n"
    "  local created = redis.call('EXISTS', k) == 0\n"
    "  redis.call('INCRBY', k, ARGV[2])\n"
    "  if created and px > 0 then redis.call('PEXPIRE', k, px) end\n"
    "  return redis.call('GET', k)\n"
    "end\n"
    "local sfx = ARGV[6]\n"
    "local v = redis.call('GET', k)\n"
    "local lo, hi = 0, 0\n"
    "if v then\n"
    "  if #v ~= 8 + #sfx or string.sub(v, 9) ~= sfx then\n"
    "    return redis.error_reply('PCMISMATCH')\n"
    "  end\n"
    "  lo, hi = struct.unpack('<I4I4', v)\n"
    "end\n"
    "local dlo, dhi = tonumber(ARGV[4]), tonumber(ARGV[5])\n"
    "local l, h = lo + dlo, hi + dhi\n"
    "if l >= 4294967296 then l = l - 4294967296; h = h + 1 end\n"
    "if h >= 4294967296 then h = h - 4294967296 end\n"
    "local sa, sd = hi >= 2147483648, dhi >= 2147483648\n"
    "if sa == sd and (h >= 2147483648) ~= sa then\n"
    "  return redis.error_reply('PCOVERFLOW')\n"
    "end\n"
    "local nv = struct.pack('<I4I4', l, h) .. sfx\n"
    "if v then redis.call('SET', k, nv, 'KEEPTTL')\n"
    "elseif px > 0 then redis.call('SET', k, nv, 'PX', px)\n"
    "else redis.call('SET', k, nv) end\n"
    "return nv\n";

static int rd_incr(void *b, const void *key, size_t nkey, int64_t delta,
                   int64_t expires, int64_t now, const pc_int_codec *codec,
                   int64_t *result) {
  rd_store *s = b;
  if (codec->layout != PC_INT_LE64 && codec->layout != PC_INT_DECIMAL)
    return pc__error(PC_UNSUPPORTED,
                     "incr is not supported by backend redis for this "
                     "serializer");
  char buf[RD_KEY_STACK], d[24], px[24], dlo[16], dhi[16];
  unsigned char enc[PC_INT_ENCODED_MAX];
  size_t nk;
  char *k = full_key(s, key, nkey, buf, &nk);
  if (!k) return pc__error(PC_NOMEM, "out of memory");
  int64_t pxv = expires == PC_EXPIRES_NEVER ? 0 : px_for(expires, now);
  uint64_t u = (uint64_t)delta;
  size_t nenc = codec->encode(0, enc);
  bool le64 = codec->layout == PC_INT_LE64;
  const char *argv[10] = {"EVAL", g_incr_lua, "1", k,   le64 ? "le64" : "dec",
                          d,      px,         dlo, dhi, ""};
  size_t lens[10] = {4, sizeof g_incr_lua - 1, 1, nk, le64 ? 4u : 3u};
  lens[5] = (size_t)snprintf(d, sizeof d, "%lld", (long long)delta);
  lens[6] = (size_t)snprintf(px, sizeof px, "%lld", (long long)pxv);
  lens[7] =
      (size_t)snprintf(dlo, sizeof dlo, "%u", (unsigned)(u & 0xffffffffu));
  lens[8] = (size_t)snprintf(dhi, sizeof dhi, "%u", (unsigned)(u >> 32));
  if (le64 && nenc > 8) {
    argv[9] = (const char *)enc + 8;
    lens[9] = nenc - 8;
  }
  redisReply *r;
  /* Never retried: a lost reply may follow an increment that happened. */
  int rc = rd_one(s, le64 ? 10 : 7, argv, lens, &r, false);
  key_free(k, buf);
  if (rc != PC_OK) return rc;
  if (r->type == REDIS_REPLY_STRING) {
    rc = codec->decode((const unsigned char *)r->str, r->len, result);
  } else if (r->type == REDIS_REPLY_ERROR && r->str) {
    if (strstr(r->str, "PCOVERFLOW") || strstr(r->str, "overflow"))
      rc = pc__error(PC_ERROR, "integer overflow");
    else if (strstr(r->str, "PCMISMATCH") || strstr(r->str, "not an integer") ||
             strstr(r->str, "WRONGTYPE"))
      rc = PC_MISMATCH;
    else
      rc = rd_reply_error(r);
  } else {
    rc = pc__error(PC_ERROR, "redis: unexpected reply to incr");
  }
  freeReplyObject(r);
  return rc;
}

/* ---- Scan and clear ---- */

typedef struct rd_iter {
  rd_store *s;
  char *pattern; /* pc__free; SCAN MATCH */
  size_t npattern;
  char cursor[24];
  bool last;         /* the server answered cursor 0: no more batches */
  int64_t now;       /* wall ms at open */
  redisReply **vals; /* pc__free; 2 per key of the batch */
  redisReply *keys;  /* freeReplyObject; the keys of the batch */
  size_t nkeys, next;
} rd_iter;

static void iter_drop_batch(rd_iter *it) {
  if (it->vals)
    for (size_t i = 0; i < 2 * it->nkeys; i++)
      if (it->vals[i]) freeReplyObject(it->vals[i]);
  pc__free(it->vals);
  it->vals = NULL;
  if (it->keys) freeReplyObject(it->keys);
  it->keys = NULL;
  it->nkeys = it->next = 0;
}

static void rd_scan_close(void *p) {
  rd_iter *it = p;
  if (!it) return;
  iter_drop_batch(it);
  pc__free(it->pattern);
  pc__free(it);
}

/* SCAN from the cursor: the next batch of keys in it->keys (maybe none). */
static int scan_batch(rd_iter *it) {
  char count[8];
  int nc = snprintf(count, sizeof count, "%d", RD_SCAN_COUNT);
  const char *argv[6] = {"SCAN",      it->cursor, "MATCH",
                         it->pattern, "COUNT",    count};
  size_t lens[6] = {4, strlen(it->cursor), 5, it->npattern, 5, (size_t)nc};
  redisReply *r;
  int rc = rd_one(it->s, 6, argv, lens, &r, true);
  if (rc != PC_OK) return rc;
  if (r->type == REDIS_REPLY_ERROR) {
    rc = rd_reply_error(r);
  } else if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
             r->element[0]->type != REDIS_REPLY_STRING ||
             r->element[1]->type != REDIS_REPLY_ARRAY ||
             r->element[0]->len >= sizeof it->cursor) {
    rc = pc__error(PC_ERROR, "redis: unexpected reply to SCAN");
  } else {
    memcpy(it->cursor, r->element[0]->str, r->element[0]->len);
    it->cursor[r->element[0]->len] = 0;
    it->last = strcmp(it->cursor, "0") == 0;
    it->keys = r->element[1];
    r->element[1] = NULL; /* taken over */
    r->elements = 1;
    it->nkeys = it->keys->elements;
    for (size_t i = 0; i < it->nkeys; i++)
      if (it->keys->element[i]->type != REDIS_REPLY_STRING)
        rc = pc__error(PC_ERROR, "redis: unexpected reply to SCAN");
  }
  freeReplyObject(r);
  return rc;
}

/* GET and PTTL of every key of the batch, in one round trip. */
static int fetch_batch(rd_iter *it) {
  size_t n = it->nkeys;
  if (!n) return PC_OK;
  it->vals = pc__malloc(2 * n * sizeof *it->vals);
  rd_cmd *cmd = pc__malloc(2 * n * sizeof *cmd);
  const char **argv = pc__malloc(4 * n * sizeof *argv);
  size_t *lens = pc__malloc(4 * n * sizeof *lens);
  int rc = PC_OK;
  if (!it->vals || !cmd || !argv || !lens) {
    rc = pc__error(PC_NOMEM, "out of memory");
  } else {
    memset(it->vals, 0, 2 * n * sizeof *it->vals);
    for (size_t i = 0; i < n; i++) {
      redisReply *k = it->keys->element[i];
      argv[4 * i] = "GET";
      lens[4 * i] = 3;
      argv[4 * i + 2] = "PTTL";
      lens[4 * i + 2] = 4;
      argv[4 * i + 1] = argv[4 * i + 3] = k->str;
      lens[4 * i + 1] = lens[4 * i + 3] = k->len;
      cmd[2 * i] = (rd_cmd){2, argv + 4 * i, lens + 4 * i};
      cmd[2 * i + 1] = (rd_cmd){2, argv + 4 * i + 2, lens + 4 * i + 2};
    }
    rc = rd_exchange(it->s, cmd, (int)(2 * n), it->vals, true);
    if (rc != PC_OK) memset(it->vals, 0, 2 * n * sizeof *it->vals);
  }
  pc__free(cmd);
  pc__free(argv);
  pc__free(lens);
  return rc;
}

static int rd_scan_next(void *p, pc_backend_item *item) {
  rd_iter *it = p;
  for (;;) {
    while (it->next < it->nkeys) {
      size_t i = it->next++;
      redisReply *k = it->keys->element[i];
      redisReply *v = it->vals[2 * i], *t = it->vals[2 * i + 1];
      int64_t expires;
      if (v->type != REDIS_REPLY_STRING ||
          pttl_expiry(t, it->now, &expires) != PC_OK)
        continue; /* gone, or not a string */
      item->key = k->str + it->s->nprefix;
      item->nkey = k->len - it->s->nprefix;
      item->expires = expires;
      return take_value(v, &item->val); /* a string: PC_OK */
    }
    iter_drop_batch(it);
    if (it->last) return PC_DONE;
    int rc = scan_batch(it);
    if (rc == PC_OK) rc = fetch_batch(it);
    if (rc != PC_OK) {
      iter_drop_batch(it);
      it->last = true;
      return rc;
    }
  }
}

static int rd_scan_open(void *b, const void *prefix, size_t nprefix, int nocase,
                        int64_t now, void **pit) {
  rd_store *s = b;
  rd_iter *it = pc__malloc(sizeof *it);
  if (!it) return pc__error(PC_NOMEM, "out of memory");
  memset(it, 0, sizeof *it);
  it->s = s;
  it->now = wall_now(now);
  strcpy(it->cursor, "0");
  it->pattern = pc__malloc(4 * (s->nprefix + nprefix) + 2);
  if (!it->pattern) {
    rd_scan_close(it);
    return pc__error(PC_NOMEM, "out of memory");
  }
  it->npattern = match_pattern(s->prefix, s->nprefix, prefix, nprefix, nocase,
                               it->pattern);
  *pit = it;
  return PC_OK;
}

/* SCAN the prefix and UNLINK each batch: never FLUSHDB, never a key of
** another prefix. */
static int rd_clear(void *b, int64_t now, int64_t *removed) {
  rd_store *s = b;
  rd_iter *it;
  *removed = 0;
  int rc = rd_scan_open(s, "", 0, 0, now, (void **)&it);
  if (rc != PC_OK) return rc;
  while (rc == PC_OK && !it->last) {
    rc = scan_batch(it);
    size_t n = it->nkeys;
    if (rc != PC_OK || !n) {
      iter_drop_batch(it);
      continue;
    }
    const char **argv = pc__malloc((n + 1) * sizeof *argv);
    size_t *lens = pc__malloc((n + 1) * sizeof *lens);
    if (!argv || !lens) {
      rc = pc__error(PC_NOMEM, "out of memory");
    } else {
      argv[0] = "UNLINK";
      lens[0] = 6;
      for (size_t i = 0; i < n; i++) {
        argv[i + 1] = it->keys->element[i]->str;
        lens[i + 1] = it->keys->element[i]->len;
      }
      redisReply *r;
      rc = rd_one(s, (int)n + 1, argv, lens, &r, true);
      if (rc == PC_OK) {
        long long k = 0;
        rc = int_reply(r, &k);
        /* No server unlinks more keys than it was given: a reply that
        ** says so is bounded, never summed past int64 (fuzz_redis). */
        *removed += k < 0 ? 0 : (size_t)k > n ? (int64_t)n : k;
        freeReplyObject(r);
      }
    }
    pc__free(argv);
    pc__free(lens);
    iter_drop_batch(it);
  }
  rd_scan_close(it);
  return rc;
}

#define RD_STR2(x) #x
#define RD_STR(x) RD_STR2(x)
const char *pc__hiredis_version(void) {
  return RD_STR(HIREDIS_MAJOR) "." RD_STR(HIREDIS_MINOR) "." RD_STR(
      HIREDIS_PATCH);
}

const pc_backend_methods pc__redis_backend = {
    .name = "redis",
    .wall_clock = true,
    .open = rd_open,
    .close = rd_close,
    .get = rd_get,
    .get_many = rd_get_many,
    .set = rd_set,
    .del = rd_del,
    .clear = rd_clear,
    .touch = rd_touch,
    .incr = rd_incr,
    .scan_open = rd_scan_open,
    .scan_next = rd_scan_next,
    .scan_close = rd_scan_close,
    .stats = NULL,
    .version = rd_version,
    .watch = rd_watch,
};
