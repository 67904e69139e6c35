/*
** fuzz_redis: the Redis backend's handling of whatever a server replies.
**
** A fake server in a thread of this process listens on a unix socket and
** answers every command it reads with the next reply of the input, so
** that each reply the backend reads (to AUTH, SELECT, GET, SET, the
** scripts of incr, PTTL, MGET, SCAN, CLIENT TRACKING and the invalidation
** messages of the memory tier) can be any bytes: a well-formed reply of
** the wrong type or size, a value that is not a valid encoding, an error,
** or raw bytes. When the input has no reply left, or a raw reply is not
** one whole reply, the server closes the connection after it (the backend
** sees the end of the stream, never a hang).
**
** Input: a flags byte (bit 0: a memory tier in front; bit 1:
** on_error=raise), an operation count
** n (at most 16) and n operation bytes, then the replies: a byte below
** 0xC0 picks one of the canned replies, a byte from 0xC0 is followed by a
** length byte and that many raw bytes.
**
** Oracle, beyond "no crash, leak or sanitizer report": every call returns,
** bounded by timeout_ms (libFuzzer's -timeout catches one that does not).
** A unix socket, not a loopback port: connecting costs a third as much,
** but a run that crashes leaves its directory (/tmp/pc_fuzz_redis.*).
*/
#include <pocketcache.h>

#include <hiredis/hiredis.h>

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define MAX_CLIENTS 16

/* Replies worth trying, each a whole RESP2 reply. Native encodings end in
** their two trailer bytes: 0x00 0x23 (TEXT) or 0x50 0x14 (BLOB), 0x50
** 0x11 (INTEGER). */
static const struct {
  const char *p;
  size_t n;
} CANNED[] = {
#define R(s)                                                                   \
  { s, sizeof(s) - 1 }
    R("+OK\r\n"),
    R("$-1\r\n"),
    R(":0\r\n"),
    R(":1\r\n"),
    R(":-1\r\n"),
    R(":-2\r\n"),
    R(":60000\r\n"),
    R(":9223372036854775807\r\n"),
    R("-ERR unknown command\r\n"),
    R("-NOAUTH Authentication required.\r\n"),
    R("-LOADING Redis is loading\r\n"),
    R("-WRONGTYPE Operation against a key\r\n"),
    R("$3\r\nabc\r\n"),
    R("$7\r\nhello\x00\x23\r\n"),
    R("$4\r\nab\x50\x14\r\n"),
    R("$10\r\n\x05\x00\x00\x00\x00\x00\x00\x00\x50\x11\r\n"),
    R("$0\r\n\r\n"),
    R("$2\r\n42\r\n"),
    R("*0\r\n"),
    R("*-1\r\n"),
    R("*2\r\n$1\r\n0\r\n*2\r\n$2\r\nk0\r\n$2\r\nk1\r\n"),
    R("*2\r\n$2\r\n17\r\n*1\r\n$2\r\nk2\r\n"),
    R("*2\r\n$1\r\n0\r\n*1\r\n:5\r\n"),
    R("*2\r\n$7\r\nhello\x00\x23\r\n$-1\r\n"),
    R("*2\r\n:1\r\n:-1\r\n"),
    R("*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n*1\r\n$"
      "2\r\nk0\r\n"),
    R("*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n$-1\r\n"),
    R("*3\r\n$9\r\nsubscribe\r\n$20\r\n__redis__:invalidate\r\n:1\r\n"),
    R("*1\r\n*1\r\n*1\r\n:1\r\n"),
#undef R
};
#define NCANNED (sizeof CANNED / sizeof CANNED[0])

static char g_dir[] = "/tmp/pc_fuzz_redis.XXXXXX";
static char g_sock[200], g_url[220];

/* The replies of the current input, taken in the order commands arrive. */
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static const uint8_t *g_rp;
static size_t g_rn;

/* Connections the server holds open. An input waits until the server has
** closed the ones it made (and freed their readers): libFuzzer runs the
** slow leak check after every input whose mallocs and frees differ, and a
** reader freed after the input ended made nearly every input one. */
static pthread_cond_t g_idle = PTHREAD_COND_INITIALIZER;
static int g_clients;

static void clients_add(int d) {
  pthread_mutex_lock(&g_mu);
  g_clients += d;
  if (!g_clients) pthread_cond_broadcast(&g_idle);
  pthread_mutex_unlock(&g_mu);
}

/* The next reply, copied into out (512 bytes: the input may be gone by the
** time it is sent, when a tier's thread reads late), its length in *n;
** false when none is left. *whole: it is one complete reply (else the
** server closes the connection after it). */
static bool next_reply(char *out, size_t *n, bool *whole) {
  const char *p;
  pthread_mutex_lock(&g_mu);
  bool ok = g_rn > 0;
  if (ok) {
    unsigned b = *g_rp++;
    g_rn--;
    if (b < 0xC0) {
      p = CANNED[b % NCANNED].p;
      *n = CANNED[b % NCANNED].n;
      *whole = true;
    } else {
      size_t len = g_rn ? *g_rp : 0;
      if (g_rn) g_rp++, g_rn--;
      if (len > g_rn) len = g_rn;
      p = (const char *)g_rp;
      *n = len;
      g_rp += len;
      g_rn -= len;
      redisReader *r = redisReaderCreate();
      void *reply = NULL;
      *whole = r && redisReaderFeed(r, p, *n) == REDIS_OK &&
               redisReaderGetReply(r, &reply) == REDIS_OK && reply &&
               r->pos == r->len;
      if (reply) freeReplyObject(reply);
      if (r) redisReaderFree(r);
    }
    memcpy(out, p, *n);
  }
  pthread_mutex_unlock(&g_mu);
  return ok;
}

static void send_all(int fd, const char *p, size_t n) {
  while (n) {
    ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
    if (w <= 0) return;
    p += w;
    n -= (size_t)w;
  }
}

/* Serves one client's readable bytes; false when it is to be closed. */
static bool serve(int fd, redisReader *rd) {
  char buf[4096];
  ssize_t got = recv(fd, buf, sizeof buf, 0);
  if (got <= 0 || redisReaderFeed(rd, buf, (size_t)got) != REDIS_OK)
    return false;
  for (;;) {
    void *cmd = NULL;
    if (redisReaderGetReply(rd, &cmd) != REDIS_OK) return false;
    if (!cmd) return true;
    freeReplyObject(cmd);
    char reply[512];
    size_t n;
    bool whole;
    if (!next_reply(reply, &n, &whole)) return false;
    send_all(fd, reply, n);
    if (!whole) return false;
  }
}

static void *server(void *arg) {
  int lfd = *(int *)arg;
  struct pollfd pf[MAX_CLIENTS + 1];
  redisReader *rd[MAX_CLIENTS + 1];
  int n = 1;
  pf[0].fd = lfd;
  pf[0].events = POLLIN;
  for (;;) {
    if (poll(pf, (nfds_t)n, -1) < 0 && errno != EINTR) abort();
    for (int i = n - 1; i >= 1; i--) {
      if (!pf[i].revents) continue;
      if (!serve(pf[i].fd, rd[i])) {
        close(pf[i].fd);
        redisReaderFree(rd[i]);
        pf[i] = pf[n - 1];
        rd[i] = rd[n - 1];
        n--;
        clients_add(-1);
      }
    }
    if (pf[0].revents & POLLIN) {
      int fd = accept(lfd, NULL, NULL);
      if (fd >= 0 && n <= MAX_CLIENTS) {
        pf[n].fd = fd;
        pf[n].events = POLLIN;
        pf[n].revents = 0;
        rd[n] = redisReaderCreate();
        n++;
        clients_add(1);
      } else if (fd >= 0) {
        close(fd);
      }
    }
  }
  return NULL;
}

static void cleanup(void) {
  unlink(g_sock);
  rmdir(g_dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  static int lfd;
  struct sockaddr_un a = {.sun_family = AF_UNIX};
  if (!mkdtemp(g_dir)) abort();
  snprintf(g_sock, sizeof g_sock, "%s/redis.sock", g_dir);
  snprintf(g_url, sizeof g_url, "unix://%s", g_sock);
  snprintf(a.sun_path, sizeof a.sun_path, "%s", g_sock);
  lfd = socket(AF_UNIX, SOCK_STREAM, 0);
  if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof a) != 0 ||
      listen(lfd, 64) != 0)
    abort();
  atexit(cleanup);
  pthread_t th;
  if (pthread_create(&th, NULL, server, &lfd) != 0) abort();
  pthread_detach(th);
  return 0;
}

static void run_op(pc_cache *c, unsigned op) {
  static const char *const keys[] = {"k0", "k1", "k2"};
  const char *k = keys[(op >> 4) % 3];
  pc_value v;
  int64_t i64;
  switch (op % 12) {
  case 0:
    if (pc_get(c, k, 2, &v) == PC_OK) pc_value_release(&v);
    break;
  case 1:
    v = pc_text("hello", 5);
    (void)pc_set(c, k, 2, &v, 60000, (int)(op >> 6));
    break;
  case 2:
    v = pc_int(5);
    (void)pc_set(c, k, 2, &v, PC_TTL_DEFAULT, 0);
    break;
  case 3:
    (void)pc_delete(c, k, 2);
    break;
  case 4:
    (void)pc_has(c, k, 2);
    break;
  case 5:
    (void)pc_ttl(c, k, 2, &i64);
    break;
  case 6:
    (void)pc_touch(c, k, 2, 1000);
    break;
  case 7:
    (void)pc_incr(c, k, 2, (op & 0x80) ? -3 : 1, 60000, &i64);
    break;
  case 8:
    (void)pc_clear(c, &i64);
    break;
  case 9: {
    pc_iter *it;
    pc_item item;
    if (pc_iter_open(c, (op & 0x40) ? "k" : "", (op & 0x40) ? 1 : 0, 0, &it) ==
        PC_OK) {
      for (int n = 0; n < 64 && pc_iter_next(it, &item) == PC_OK; n++)
        pc_value_release(&item.value);
      pc_iter_close(it);
    }
    break;
  }
  case 10: {
    const void *ks[3] = {"k0", "k1", "k2"};
    size_t nk[3] = {2, 2, 2};
    pc_item items[3];
    int rcs[3];
    if (pc_get_items(c, 3, ks, nk, (op & 0x40) ? PC_ITEMS_NO_TTL : 0, items,
                     rcs) == PC_OK)
      for (int i = 0; i < 3; i++)
        if (rcs[i] == PC_OK) pc_value_release(&items[i].value);
    break;
  }
  default: {
    pc_stats st;
    (void)pc_get_stats(c, &st);
    char *j = pc_stats_json(c);
    pc_free(j);
    break;
  }
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2) return 0;
  unsigned flags = data[0], nops = data[1] % 17;
  if (size < 2 + nops) return 0;
  const uint8_t *ops = data + 2;
  pthread_mutex_lock(&g_mu);
  g_rp = data + 2 + nops;
  g_rn = size - 2 - nops;
  pthread_mutex_unlock(&g_mu);

  char config[400];
  snprintf(config, sizeof config,
           "{\"backend\":\"redis\",\"url\":\"%s\",\"prefix\":\"f:\","
           "\"connect_timeout_ms\":200,\"timeout_ms\":200%s%s}",
           g_url, (flags & 1) ? ",\"local_max_bytes\":\"64KB\"" : "",
           (flags & 2) ? ",\"on_error\":\"raise\"" : "");
  pc_cache *c;
  if (pc_cache_open("r", config, &c, NULL, 0) == PC_OK) {
    for (unsigned i = 0; i < nops; i++)
      run_op(c, ops[i]);
    pc_cache_release(c);
    pc_cache_close("r");
  }
  pthread_mutex_lock(&g_mu);
  g_rn = 0; /* what is left of this input answers no later command */
  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += 2; /* bounded: a late close only costs a leak check */
  while (g_clients > 0 && pthread_cond_timedwait(&g_idle, &g_mu, &until) == 0) {
  }
  pthread_mutex_unlock(&g_mu);
  return 0;
}
