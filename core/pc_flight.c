/*
** pc_flight.c: single flight. When several threads miss the same key at
** once, one of them (the leader) computes the value while the others wait
** for it to finish and then read what it stored.
**
** The flights in progress are few (one per key being computed right now),
** so they are a list under one mutex; every waiter sleeps on one condition
** variable, woken when any flight ends. A flight is freed by the last of
** its leader and waiters to let go of it. A thread that would wait for
** itself, directly or through leaders that wait for other flights (A's
** computation needs B's key while B's needs A's), gets PC_ERROR instead.
*/
#include "pc_internal.h"

#include <pthread.h>
#include <string.h>

struct pc_flight {
  pc_flight *next;
  const pc_cache *c;
  pthread_t leader;
  int waiters; /* threads inside pc_flight_begin waiting for it */
  int done;    /* pc_flight_end was called */
  size_t nkey;
  unsigned char key[];
};

/* A thread waiting for a flight: what a deadlock check follows. */
typedef struct waiter {
  struct waiter *next;
  pthread_t thread;
  pc_flight *on;
} waiter;

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_cv = PTHREAD_COND_INITIALIZER;
static pc_flight *g_flights; /* in progress, under g_mu */
static waiter *g_waiters;    /* threads waiting, under g_mu */

/* Whether waiting for f would wait, through a chain of leaders each
** waiting for another flight, for this thread itself. Under g_mu. */
static int would_deadlock(const pc_flight *f) {
  pthread_t self = pthread_self();
  for (int hops = 0; f && hops < 1000; hops++) {
    if (pthread_equal(f->leader, self)) return 1;
    const waiter *w = g_waiters;
    while (w && !pthread_equal(w->thread, f->leader))
      w = w->next;
    f = w ? w->on : NULL;
  }
  return f != NULL; /* a chain that long: refuse rather than risk it */
}

/* A forked child has only the thread that forked: the flights of the
** parent's other threads never end there, so the child starts with none
** (their memory is left, as with every lock the child inherits). */
static void flight_atfork_prepare(void) {
  pthread_mutex_lock(&g_mu);
}
static void flight_atfork_parent(void) {
  pthread_mutex_unlock(&g_mu);
}
static void flight_atfork_child(void) {
  g_flights = NULL;
  g_waiters = NULL;
  pthread_mutex_init(&g_mu, NULL);
  pthread_cond_init(&g_cv, NULL);
}
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static void flight_init(void) {
  pthread_atfork(flight_atfork_prepare, flight_atfork_parent,
                 flight_atfork_child);
}

int pc_flight_begin(pc_cache *c, const void *key, size_t nkey,
                    pc_flight **out) {
  *out = NULL;
  pthread_once(&g_once, flight_init);
  pthread_mutex_lock(&g_mu);
  pc_flight *f = g_flights;
  while (f && !(f->c == c && f->nkey == nkey &&
                (nkey == 0 || memcmp(f->key, key, nkey) == 0)))
    f = f->next;
  if (f && would_deadlock(f)) {
    pthread_mutex_unlock(&g_mu);
    return pc__error(PC_ERROR, "the computation of this key needs its own "
                               "result (it would wait for itself)");
  }
  if (f) {
    waiter me = {g_waiters, pthread_self(), f};
    g_waiters = &me;
    f->waiters++;
    while (!f->done)
      pthread_cond_wait(&g_cv, &g_mu);
    waiter **link = &g_waiters;
    while (*link != &me)
      link = &(*link)->next;
    *link = me.next;
    int last = --f->waiters == 0;
    pthread_mutex_unlock(&g_mu);
    if (last) pc__free(f);
    return PC_EXISTS;
  }
  f = pc__malloc(sizeof *f + nkey);
  if (!f) {
    pthread_mutex_unlock(&g_mu);
    return pc__error(PC_NOMEM, "out of memory");
  }
  f->c = c;
  f->leader = pthread_self();
  f->waiters = 0;
  f->done = 0;
  f->nkey = nkey;
  if (nkey) memcpy(f->key, key, nkey);
  f->next = g_flights;
  g_flights = f;
  pthread_mutex_unlock(&g_mu);
  *out = f;
  return PC_OK;
}

void pc_flight_end(pc_flight *f) {
  if (!f) return;
  pthread_mutex_lock(&g_mu);
  pc_flight **link = &g_flights;
  while (*link != f)
    link = &(*link)->next;
  *link = f->next;
  f->done = 1;
  int waited = f->waiters > 0;
  if (waited) pthread_cond_broadcast(&g_cv);
  pthread_mutex_unlock(&g_mu);
  if (!waited) pc__free(f);
}
