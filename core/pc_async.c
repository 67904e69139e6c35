/*
** pc_async.c: get, set and delete that return at once and report their
** outcome to a callback, run by a small pool of worker threads.
**
**   static void done(void *arg, const pc_async_result *r) {
**     if (r->rc == PC_OK) use(r->value.p, r->value.n);
**   }
**   pc_get_async(c, "k", 1, done, ctx);
**
** The pool. PC_ASYNC_WORKERS threads, process-wide, started by the first
** submission; they take operations from one FIFO queue in order of
** submission and run each with the synchronous function (pc_get, pc_set,
** pc_delete), so an asynchronous operation behaves as the synchronous one
** does, errors and statistics included. The queue holds every operation
** submitted and not yet run: submission only allocates, never waits.
**
** Exactly one callback. A submission that returns PC_OK has taken the
** operation: its callback runs once, on a worker thread, with the outcome,
** or with PC_CANCELLED if its cache was closed (pc_cache_close) before a
** worker reached it. One that returns an error took nothing and runs no
** callback. Each operation holds a reference to its cache, so closing
** never frees a cache under a pending operation. pc_async_wait() waits
** until every operation submitted so far has had its callback.
**
** fork(): the prepare handler stops the workers from taking operations and
** waits until none is inside one (where it could hold an engine lock the
** child would inherit taken); the child then has no workers and an empty
** queue: the parent's pending operations are the parent's to complete.
** pc_async_wait() waits until the oldest operation not finished (queued or
** running) was submitted after the call began; operations finish out of
** order across workers, so counting completions would not do.
*/
#include "pc_internal.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#define PC_ASYNC_WORKERS 4

enum { OP_GET, OP_SET, OP_DELETE };

typedef struct async_op {
  struct async_op *next;
  uint64_t seq; /* order of submission */
  int kind;
  pc_cache *c; /* held */
  pc_async_cb cb;
  void *arg;
  int64_t ttl_ms;
  int flags;
  pc_value v;  /* set: the value, its bytes in this block after the key */
  size_t nkey; /* the key's bytes follow the struct */
  unsigned char key[];
} async_op;

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_work = PTHREAD_COND_INITIALIZER;
static pthread_cond_t g_idle; /* CLOCK_MONOTONIC; made in async_init */
static async_op *g_head, *g_tail;
static uint64_t g_next_seq = 1;              /* the next operation's number */
static uint64_t g_running[PC_ASYNC_WORKERS]; /* per worker: its op, or 0 */
static int g_nrunning;                       /* workers inside an operation */
static int g_waiters; /* threads in pc_async_wait or a fork's prepare */
static int g_forking; /* a fork is being prepared: take nothing new */
static int g_workers; /* started */
/* On a worker thread: its slot + 1 (0 elsewhere). */
static _Thread_local int t_worker;

static void *worker(void *slot);

/* The number of the oldest operation not yet finished (queued or
** running), or g_next_seq if none (g_mu held). Operations are queued in
** order of their numbers. */
static uint64_t oldest_unfinished(void) {
  uint64_t oldest = g_head ? g_head->seq : g_next_seq;
  for (int i = 0; i < g_workers; i++)
    if (g_running[i] && g_running[i] < oldest) oldest = g_running[i];
  return oldest;
}

/* Before fork(): no worker may be inside an operation, where it could
** hold a lock of the engine that the child would inherit taken. New
** operations wait; the ones running finish (but the caller's own, when a
** callback forks). */
static void atfork_prepare(void) {
  pthread_mutex_lock(&g_mu);
  g_forking = 1;
  g_waiters++;
  while (g_nrunning > (t_worker ? 1 : 0))
    pthread_cond_wait(&g_idle, &g_mu);
  g_waiters--;
}
/* g_idle waits with deadlines on the monotonic clock (pc_async_wait). */
static void idle_init(void) {
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&g_idle, &ca);
  pthread_condattr_destroy(&ca);
}
static void atfork_parent(void) {
  g_forking = 0;
  pthread_cond_broadcast(&g_work);
  pthread_mutex_unlock(&g_mu);
}
static void atfork_child(void) {
  /* The parent's operations and workers stay with the parent; the queued
  ** blocks are the child's copies: left, not freed (their caches'
  ** references are the parent's). This thread holds g_mu (prepare). */
  g_head = g_tail = NULL;
  memset(g_running, 0, sizeof g_running);
  g_nrunning = g_waiters = g_forking = g_workers = 0;
  t_worker = 0; /* a callback that forked: the child's thread is no worker */
  pthread_cond_init(&g_work, NULL);
  idle_init();
  pthread_mutex_unlock(&g_mu);
}
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static void async_init(void) {
  idle_init();
  pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
}

/* Queues op, starting the workers on first use (g_mu held). Workers block
** every signal: a process-directed signal goes to the application's
** threads, not to PocketCache's. */
static int enqueue_locked(async_op *op) {
  while (g_workers < PC_ASYNC_WORKERS) {
    pthread_t t;
    pthread_attr_t attr;
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int e = pthread_create(&t, &attr, worker, (void *)(intptr_t)g_workers);
    pthread_attr_destroy(&attr);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (e != 0) {
      if (g_workers > 0) break; /* fewer workers, still a pool */
      return pc__error(PC_ERROR, "cannot start the async workers (%s)",
                       strerror(e));
    }
    g_workers++;
  }
  op->next = NULL;
  op->seq = g_next_seq++;
  if (g_tail)
    g_tail->next = op;
  else
    g_head = op;
  g_tail = op;
  pthread_cond_signal(&g_work);
  return PC_OK;
}

static int submit(pc_cache *c, int kind, const void *key, size_t nkey,
                  const pc_value *v, int64_t ttl_ms, int flags, pc_async_cb cb,
                  void *arg) {
  if (!c || !cb || (!key && nkey))
    return pc__error(PC_ERROR, "async: a cache, a key and a callback are "
                               "needed");
  pthread_once(&g_once, async_init);
  size_t nval = 0;
  if (v && (v->type == PC_TEXT || v->type == PC_BLOB)) {
    if (!v->p && v->n) return pc__error(PC_ERROR, "value has no bytes");
    nval = v->n;
  }
  if (nkey > SIZE_MAX / 2 || nval > SIZE_MAX / 2)
    return pc__error(PC_TOOBIG, "async: key or value too large");
  async_op *op = pc__malloc(sizeof *op + nkey + nval + 1);
  if (!op) return pc__error(PC_NOMEM, "out of memory");
  memset(op, 0, sizeof *op);
  op->kind = kind;
  op->c = c;
  op->cb = cb;
  op->arg = arg;
  op->ttl_ms = ttl_ms;
  op->flags = flags;
  op->nkey = nkey;
  if (nkey) memcpy(op->key, key, nkey);
  if (v) {
    op->v = *v;
    op->v.free_fn = NULL; /* the copy below is the op's */
    if (nval) memcpy(op->key + nkey, v->p, nval);
    if (v->type == PC_TEXT || v->type == PC_BLOB) op->v.p = op->key + nkey;
  }
  pc_cache_retain(c);
  pthread_mutex_lock(&g_mu);
  int rc = enqueue_locked(op);
  pthread_mutex_unlock(&g_mu);
  if (rc != PC_OK) {
    pc_cache_release(c);
    pc__free(op);
  }
  return rc;
}

int pc_get_async(pc_cache *c, const void *key, size_t nkey, pc_async_cb cb,
                 void *arg) {
  return submit(c, OP_GET, key, nkey, NULL, 0, 0, cb, arg);
}

int pc_set_async(pc_cache *c, const void *key, size_t nkey, const pc_value *v,
                 int64_t ttl_ms, int flags, pc_async_cb cb, void *arg) {
  if (!v) return pc__error(PC_ERROR, "async: set needs a value");
  return submit(c, OP_SET, key, nkey, v, ttl_ms, flags, cb, arg);
}

int pc_delete_async(pc_cache *c, const void *key, size_t nkey, pc_async_cb cb,
                    void *arg) {
  return submit(c, OP_DELETE, key, nkey, NULL, 0, 0, cb, arg);
}

/* Runs op and its callback, then releases what it holds. */
static void run(async_op *op) {
  pc_async_result r;
  memset(&r, 0, sizeof r);
  if (pc__cache_closed(op->c)) {
    r.rc = PC_CANCELLED;
    r.errmsg = "the cache was closed before the operation ran";
  } else {
    switch (op->kind) {
    case OP_GET:
      r.rc = pc_get(op->c, op->key, op->nkey, &r.value);
      break;
    case OP_SET:
      r.rc = pc_set(op->c, op->key, op->nkey, &op->v, op->ttl_ms, op->flags);
      break;
    default:
      r.rc = pc_delete(op->c, op->key, op->nkey);
    }
    if (r.rc != PC_OK && r.rc != PC_NOTFOUND && r.rc != PC_EXISTS &&
        r.rc != PC_DROPPED)
      r.errmsg = pc_errmsg(NULL);
  }
  op->cb(op->arg, &r);
  if (op->kind == OP_GET && r.rc == PC_OK) pc_value_release(&r.value);
  pc_cache_release(op->c);
  pc__free(op);
}

static void *worker(void *slot) {
  int me = (int)(intptr_t)slot;
  t_worker = me + 1;
  pthread_mutex_lock(&g_mu);
  for (;;) {
    while (!g_head || g_forking)
      pthread_cond_wait(&g_work, &g_mu);
    async_op *op = g_head;
    g_head = op->next;
    if (!g_head) g_tail = NULL;
    g_running[me] = op->seq;
    g_nrunning++;
    pthread_mutex_unlock(&g_mu);
    run(op);
    pthread_mutex_lock(&g_mu);
    g_running[me] = 0;
    g_nrunning--;
    if (g_waiters) pthread_cond_broadcast(&g_idle);
  }
  return NULL;
}

int pc_async_wait(int timeout_ms) {
  if (timeout_ms < 0)
    return pc__error(PC_ERROR, "async: timeout_ms must be >= 0");
  if (t_worker) /* its own operation would never finish first */
    return pc__error(PC_ERROR, "async: pc_async_wait from a callback");
  pthread_once(&g_once, async_init);
  struct timespec until;
  pc__deadline(CLOCK_MONOTONIC, timeout_ms, &until);
  pthread_mutex_lock(&g_mu);
  uint64_t target = g_next_seq; /* every operation numbered below it */
  int rc = PC_OK;
  g_waiters++;
  while (oldest_unfinished() < target && rc == PC_OK)
    if (pthread_cond_timedwait(&g_idle, &g_mu, &until) != 0 &&
        oldest_unfinished() < target)
      rc = pc__error(PC_ERROR, "async: operations still pending after %d ms",
                     timeout_ms);
  g_waiters--;
  pthread_mutex_unlock(&g_mu);
  return rc;
}
