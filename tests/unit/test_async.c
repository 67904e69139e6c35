/*
** test_async: pc_get_async / pc_set_async / pc_delete_async.
**
** 10,000 operations submitted at once by 4 threads (sets, then gets and
** deletes of the keys set): every callback runs exactly once, with the
** outcome the synchronous call would have; a cache closed with 10,000
** operations pending completes or cancels each of them, once, and
** cancels all of them when every worker is busy until the close; a
** refused submission runs no callback. Runs under ThreadSanitizer in CI.
*/
#include "pc_test.h"

#include <pthread.h>
#include <stdatomic.h>

#define THREADS 4
#define PER_THREAD 2500 /* 10,000 operations in all */

typedef struct {
  int id;            /* which operation */
  _Atomic int calls; /* callbacks run for it */
  int rc;
  char got[32];
} op_record;

static op_record g_ops[THREADS * PER_THREAD];
static pc_cache *g_cache;
static _Atomic long g_callbacks;

static void on_done(void *arg, const pc_async_result *r) {
  op_record *o = arg;
  o->rc = r->rc;
  if (r->rc == PC_OK && r->value.type == PC_TEXT) {
    size_t n = r->value.n < sizeof o->got - 1 ? r->value.n : sizeof o->got - 1;
    memcpy(o->got, r->value.p, n);
    o->got[n] = 0;
  }
  atomic_fetch_add(&o->calls, 1);
  atomic_fetch_add(&g_callbacks, 1);
}

static void reset_records(void) {
  for (int i = 0; i < THREADS * PER_THREAD; i++) {
    g_ops[i].id = i;
    atomic_store(&g_ops[i].calls, 0);
    g_ops[i].rc = -1;
    g_ops[i].got[0] = 0;
  }
  atomic_store(&g_callbacks, 0);
}

typedef enum { PHASE_SET, PHASE_GET, PHASE_DELETE } phase;
static phase g_phase;
static _Atomic int g_refused;

static void *submitter(void *arg) {
  int t = (int)(size_t)arg;
  for (int k = 0; k < PER_THREAD; k++) {
    int i = t * PER_THREAD + k;
    char key[32], val[32];
    int nkey = snprintf(key, sizeof key, "key:%d", i);
    int nval = snprintf(val, sizeof val, "value:%d", i);
    int rc;
    if (g_phase == PHASE_SET) {
      pc_value v = pc_text(val, (size_t)nval);
      rc = pc_set_async(g_cache, key, (size_t)nkey, &v, 60000, 0, on_done,
                        &g_ops[i]);
    } else if (g_phase == PHASE_GET) {
      rc = pc_get_async(g_cache, key, (size_t)nkey, on_done, &g_ops[i]);
    } else {
      rc = pc_delete_async(g_cache, key, (size_t)nkey, on_done, &g_ops[i]);
    }
    if (rc != PC_OK) atomic_fetch_add(&g_refused, 1);
  }
  return NULL;
}

/* THREADS threads submit PER_THREAD operations each, at once. */
static void run_submitters(phase p) {
  g_phase = p;
  pthread_t th[THREADS];
  for (int t = 0; t < THREADS; t++)
    pthread_create(&th[t], NULL, submitter, (void *)(size_t)t);
  for (int t = 0; t < THREADS; t++)
    pthread_join(th[t], NULL);
}

static void run_phase(phase p) {
  run_submitters(p);
  CHECK_EQ_INT(pc_async_wait(30000), PC_OK);
}

/* How many operations ended with rc. */
static int count_rc(int rc) {
  int n = 0;
  for (int i = 0; i < THREADS * PER_THREAD; i++)
    n += g_ops[i].rc == rc;
  return n;
}

/* Every operation had exactly one callback. */
static void check_once(void) {
  int bad = 0;
  for (int i = 0; i < THREADS * PER_THREAD; i++)
    bad += atomic_load(&g_ops[i].calls) != 1;
  CHECK_EQ_INT(bad, 0);
  CHECK_EQ_INT(atomic_load(&g_callbacks), THREADS * PER_THREAD);
}

static void test_concurrent(void) {
  char err[PC_ERRMSG_MAX];
  CHECK_EQ_INT(pc_cache_open("async", "{}", &g_cache, err, sizeof err), PC_OK);

  reset_records();
  run_phase(PHASE_SET);
  check_once();
  CHECK_EQ_INT(count_rc(PC_OK), THREADS * PER_THREAD);

  reset_records();
  run_phase(PHASE_GET);
  check_once();
  int bad = 0;
  for (int i = 0; i < THREADS * PER_THREAD; i++) {
    char want[32];
    snprintf(want, sizeof want, "value:%d", i);
    bad += g_ops[i].rc != PC_OK || strcmp(g_ops[i].got, want) != 0;
  }
  CHECK_EQ_INT(bad, 0);

  reset_records();
  run_phase(PHASE_DELETE);
  check_once();
  CHECK_EQ_INT(count_rc(PC_OK), THREADS * PER_THREAD);

  /* The deletes happened: a get of any key now misses. */
  reset_records();
  run_phase(PHASE_GET);
  check_once();
  CHECK_EQ_INT(count_rc(PC_NOTFOUND), THREADS * PER_THREAD);
  CHECK_EQ_INT(atomic_load(&g_refused), 0);
  pc_cache_release(g_cache);
  CHECK_EQ_INT(pc_cache_close("async"), PC_OK);
}

/* Closing with operations pending: each completes or is cancelled, once;
** the ones that ran before the close saw the cache, the rest PC_CANCELLED. */
static void test_close_pending(void) {
  char err[PC_ERRMSG_MAX];
  CHECK_EQ_INT(pc_cache_open("closing", "{}", &g_cache, err, sizeof err),
               PC_OK);
  reset_records();
  run_submitters(PHASE_SET);
  /* Close at once, while most are queued. Our reference keeps the object
  ** alive; the pending operations hold references of their own. */
  CHECK_EQ_INT(pc_cache_close("closing"), PC_OK);
  pc_cache_release(g_cache);
  CHECK_EQ_INT(pc_async_wait(30000), PC_OK);
  check_once();
  int done = count_rc(PC_OK), cancelled = count_rc(PC_CANCELLED);
  printf("close with %d pending: %d completed, %d cancelled\n",
         THREADS * PER_THREAD, done, cancelled);
  CHECK_EQ_INT(done + cancelled, THREADS * PER_THREAD);
}

/* The same with every worker held in a callback until the cache is
** closed: nothing queued can run first, so all of it is cancelled (the
** test above depends on timing for how many). */
static pthread_mutex_t g_gate_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_gate_cv = PTHREAD_COND_INITIALIZER;
static int g_gate_open, g_gate_held;

static void gate(void *arg, const pc_async_result *r) {
  (void)arg, (void)r;
  pthread_mutex_lock(&g_gate_mu);
  g_gate_held++;
  pthread_cond_broadcast(&g_gate_cv);
  while (!g_gate_open)
    pthread_cond_wait(&g_gate_cv, &g_gate_mu);
  pthread_mutex_unlock(&g_gate_mu);
}

static void test_close_cancels(void) {
  enum { WORKERS = 4 }; /* pc_async.c's pool */
  char err[PC_ERRMSG_MAX];
  pc_cache *other;
  CHECK_EQ_INT(pc_cache_open("other", "{}", &other, err, sizeof err), PC_OK);
  CHECK_EQ_INT(pc_cache_open("gated", "{}", &g_cache, err, sizeof err), PC_OK);
  for (int i = 0; i < WORKERS; i++)
    CHECK_EQ_INT(pc_get_async(other, "k", 1, gate, NULL), PC_OK);
  pthread_mutex_lock(&g_gate_mu);
  while (g_gate_held < WORKERS)
    pthread_cond_wait(&g_gate_cv, &g_gate_mu);
  pthread_mutex_unlock(&g_gate_mu);
  reset_records();
  run_submitters(PHASE_SET);
  CHECK_EQ_INT(pc_cache_close("gated"), PC_OK);
  pc_cache_release(g_cache);
  pthread_mutex_lock(&g_gate_mu);
  g_gate_open = 1;
  pthread_cond_broadcast(&g_gate_cv);
  pthread_mutex_unlock(&g_gate_mu);
  CHECK_EQ_INT(pc_async_wait(30000), PC_OK);
  check_once();
  CHECK_EQ_INT(count_rc(PC_CANCELLED), THREADS * PER_THREAD);
  pc_cache_release(other);
  CHECK_EQ_INT(pc_cache_close("other"), PC_OK);
}

/* A refused submission runs no callback. */
static void test_refused(void) {
  op_record o = {0};
  atomic_store(&o.calls, 0);
  long before = atomic_load(&g_callbacks);
  CHECK(pc_get_async(NULL, "k", 1, on_done, &o) != PC_OK);
  CHECK(pc_set_async(NULL, "k", 1, NULL, 0, 0, on_done, &o) != PC_OK);
  pc_cache *c = pc_cache_find("default");
  CHECK(c != NULL);
  CHECK(pc_get_async(c, "k", 1, NULL, &o) != PC_OK);
  /* A set's value is copied at submission: the caller's buffer may go. */
  char buf[8] = "abc";
  pc_value v = pc_text(buf, 3);
  CHECK_EQ_INT(pc_set_async(c, "copy", 4, &v, 60000, 0, on_done, &o), PC_OK);
  memcpy(buf, "xyz", 3);
  CHECK_EQ_INT(pc_async_wait(30000), PC_OK);
  pc_value out;
  CHECK_EQ_INT(pc_get(c, "copy", 4, &out), PC_OK);
  CHECK(out.n == 3 && memcmp(out.p, "abc", 3) == 0);
  pc_value_release(&out);
  pc_cache_release(c);
  CHECK_EQ_INT(atomic_load(&o.calls), 1);
  CHECK_EQ_INT(atomic_load(&g_callbacks), before + 1);
}

int main(void) {
  test_concurrent();
  test_close_pending();
  test_close_cancels();
  test_refused();
  PC_TEST_END();
}
