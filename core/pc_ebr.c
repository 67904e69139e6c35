/*
** pc_ebr.c: epoch-based reclamation, for readers that take no lock.
**
** What it owns
**   One global epoch and one record per thread that has read: what lets a
**   writer that unlinked an object know when no reader can still be
**   looking at it. The objects themselves, and the lists of those waiting
**   (limbo), belong to the callers (core/pc_mem.c keeps one per shard,
**   under the shard lock).
**
** How it works (Fraser, "Practical lock-freedom", 2004)
**   - A reader announces the epoch it saw in its own record, with a full
**     fence, before it reads a shared pointer (pc__ebr_enter), and clears
**     the announcement when it is done (pc__ebr_exit). It writes only its
**     own cache line: two threads reading never share a written line,
**     which is what a lock taken by every reader makes them do.
**   - A writer unlinks an object, then tags it with pc__ebr_tag() (a full
**     fence, then the epoch). The epoch moves from E to E + 1 only when
**     every record that is inside a read section announced E; so once the
**     epoch is tag + 2, every reader that could have seen the object has
**     left, and pc__ebr_safe(tag) says the object may be freed.
**   - Advancing is tried by pc__ebr_safe() itself: a walk over the
**     records, at most twice per call (an object unlinked with no reader
**     about is free to go at once). Writers call it when they have
**     something waiting, so an idle process does no work.
**
** Thread records
**   Allocated on a thread's first read section with the system allocator
**   (they outlive every cache and belong to no SQLite connection, so they
**   are not counted by sqlite3_memory_used()), linked into a global list
**   and never freed: a thread's exit returns its record for the next new
**   thread (a pthread key destructor), so there are as many records as
**   threads ever ran at once. A record that cannot be allocated makes
**   pc__ebr_enter() return NULL: the caller takes its lock instead.
**   After fork() only the forking thread exists in the child: a handler
**   releases every other record, so threads of the parent that were
**   reading at the fork cannot hold the child's epoch still.
*/
#include "pc_internal.h"

#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

struct pc_ebr_rec {
  /* 0 outside a read section, else (epoch << 1) | 1: written by its
  ** thread, read by writers advancing the epoch. */
  alignas(128) _Atomic uint64_t state;
  _Atomic int used; /* owned by a live thread */
  pc_ebr_rec *next; /* in g_recs; set before the record is published */
};

/* Written only when it advances; it starts a line, and what shares the
** line with it is read-mostly too. */
static alignas(128) _Atomic uint64_t g_epoch = 1;
static _Atomic(pc_ebr_rec *) g_recs;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static pthread_key_t g_key;
static int g_key_ok;
/* initial-exec: read at a fixed offset from the thread pointer, with no
** __tls_get_addr() call in a shared library (every get reads it); 8 bytes
** fit in the static TLS that glibc keeps for libraries loaded later. */
static _Thread_local pc_ebr_rec *t_rec
    __attribute__((tls_model("initial-exec")));

static void rec_release(void *p) {
  pc_ebr_rec *r = p;
  atomic_store_explicit(&r->state, 0, memory_order_release);
  atomic_store_explicit(&r->used, 0, memory_order_release);
}

/* In a forked child: every record but the calling thread's is free. */
static void on_fork_child(void) {
  for (pc_ebr_rec *r = atomic_load(&g_recs); r; r = r->next)
    if (r != t_rec) rec_release(r);
}

/* The key's destructor, on the exiting thread: a later destructor that
** reads a cache takes a record anew instead of one another thread may
** own by then. */
static void rec_exit(void *p) {
  t_rec = NULL;
  rec_release(p);
}

static void ebr_init(void) {
  g_key_ok = pthread_key_create(&g_key, rec_exit) == 0;
  pthread_atfork(NULL, NULL, on_fork_child);
}

/* The calling thread's record: a free one taken over, or a new one. */
static pc_ebr_rec *rec_get(void) {
  pthread_once(&g_once, ebr_init);
  if (!g_key_ok) return NULL;
  pc_ebr_rec *r;
  for (r = atomic_load(&g_recs); r; r = r->next) {
    int free = 0;
    if (atomic_compare_exchange_strong(&r->used, &free, 1)) break;
  }
  if (!r) {
    void *p = NULL;
    if (posix_memalign(&p, alignof(pc_ebr_rec), sizeof *r) != 0) return NULL;
    r = p;
    memset(r, 0, sizeof *r);
    atomic_init(&r->state, 0);
    atomic_init(&r->used, 1);
    pc_ebr_rec *head = atomic_load(&g_recs);
    do {
      r->next = head;
    } while (!atomic_compare_exchange_weak(&g_recs, &head, r));
  }
  if (pthread_setspecific(g_key, r) != 0) {
    rec_release(r);
    return NULL;
  }
  t_rec = r;
  return r;
}

pc_ebr_rec *pc__ebr_enter(void) {
  pc_ebr_rec *r = t_rec;
  if (!r && !(r = rec_get())) return NULL;
  uint64_t e = atomic_load_explicit(&g_epoch, memory_order_relaxed);
#if defined(__x86_64__) || defined(__i386__)
  /* One locked exchange: the store and, on x86, a full barrier (a store
  ** then a fence costs a locked instruction on top of the store). */
  atomic_exchange_explicit(&r->state, e << 1 | 1, memory_order_seq_cst);
#else
  atomic_store_explicit(&r->state, e << 1 | 1, memory_order_relaxed);
  atomic_thread_fence(memory_order_seq_cst);
#endif
  return r;
}

void pc__ebr_exit(pc_ebr_rec *r) {
  atomic_store_explicit(&r->state, 0, memory_order_release);
}

uint32_t pc__ebr_tag(void) {
  atomic_thread_fence(memory_order_seq_cst);
  return (uint32_t)atomic_load(&g_epoch);
}

/* Whether epoch e is at least tag + 2, in 32 bits that may wrap (a tag is
** kept for far fewer than 2^31 epochs). */
static inline bool passed(uint64_t e, uint32_t tag) {
  return (int32_t)((uint32_t)e - tag) >= 2;
}

bool pc__ebr_safe(uint32_t tag) {
  uint64_t e = atomic_load(&g_epoch);
  for (int tries = 0; !passed(e, tag); tries++) {
    if (tries == 2) return false;
    atomic_thread_fence(memory_order_seq_cst);
    for (pc_ebr_rec *r = atomic_load(&g_recs); r; r = r->next) {
      uint64_t s = atomic_load_explicit(&r->state, memory_order_acquire);
      if ((s & 1) && s >> 1 != e) return false; /* a reader of an older one */
    }
    if (atomic_compare_exchange_strong(&g_epoch, &e, e + 1)) e++;
  }
  return true;
}
