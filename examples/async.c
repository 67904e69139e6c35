/*
** async.c: PocketCache's asynchronous API in an event loop.
**
**   cc async.c $(pkg-config --cflags --libs pocketcache) -o async
**   ./async
**
** An event-loop program must not block on a cache (a Redis round trip, a
** filesystem store busy with another process). It submits operations,
** and the callbacks, which run on PocketCache's worker threads, hand their
** results back to the loop through a pipe; the loop wakes with poll() as
** it would for a socket.
*/
#include <pocketcache.h>

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define REQUESTS 8

typedef struct request {
  int id;
  int rc;
  char value[64];
} request;

static int g_pipe[2]; /* callbacks write a request pointer, the loop reads */

/* On a worker thread: copy what the loop needs, then wake it. */
static void on_result(void *arg, const pc_async_result *r) {
  request *req = arg;
  req->rc = r->rc;
  if (r->rc == PC_OK && r->value.type == PC_TEXT)
    snprintf(req->value, sizeof req->value, "%.*s", (int)r->value.n,
             (const char *)r->value.p);
  if (write(g_pipe[1], &req, sizeof req) != sizeof req) abort();
}

int main(void) {
  char err[PC_ERRMSG_MAX];
  pc_cache *c;
  if (pc_cache_open("pages", "{\"max_bytes\": \"16MB\"}", &c, err,
                    sizeof err) != PC_OK) {
    fprintf(stderr, "async: %s\n", err);
    return 1;
  }
  if (pipe(g_pipe) != 0) return 1;

  /* Some pages are cached already (the odd ones). */
  for (int i = 1; i < REQUESTS; i += 2) {
    char key[16], page[32];
    int nk = snprintf(key, sizeof key, "page:%d", i);
    int np = snprintf(page, sizeof page, "<html>page %d</html>", i);
    pc_value v = pc_text(page, (size_t)np);
    pc_set(c, key, (size_t)nk, &v, 60 * 1000, 0);
  }

  /* The loop's requests: each a get, answered when it completes. */
  request reqs[REQUESTS];
  for (int i = 0; i < REQUESTS; i++) {
    char key[16];
    int nk = snprintf(key, sizeof key, "page:%d", i);
    reqs[i] = (request){.id = i, .rc = -1};
    if (pc_get_async(c, key, (size_t)nk, on_result, &reqs[i]) != PC_OK) {
      fprintf(stderr, "async: %s\n", pc_errmsg(NULL));
      return 1;
    }
  }
  printf("submitted %d gets; the loop goes on\n", REQUESTS);

  int answered = 0, hits = 0;
  while (answered < REQUESTS) {
    struct pollfd p = {.fd = g_pipe[0], .events = POLLIN};
    if (poll(&p, 1, 5000) != 1) {
      fprintf(stderr, "async: no result within 5 s\n");
      return 1;
    }
    request *req;
    if (read(g_pipe[0], &req, sizeof req) != sizeof req) return 1;
    answered++;
    if (req->rc == PC_OK) {
      hits++;
      printf("page %d: hit, %s\n", req->id, req->value);
    } else {
      printf("page %d: miss\n", req->id);
    }
  }
  /* Everything submitted has had its callback: safe to close. */
  pc_async_wait(5000);
  pc_cache_release(c);
  pc_cache_close("pages");
  printf("async: %d answers, %d hits: %s\n", answered, hits,
         hits == REQUESTS / 2 ? "ok" : "FAILED");
  return hits == REQUESTS / 2 ? 0 : 1;
}
