/*
** pc_util.c: the process-wide plumbing every part of core/ uses: the
** allocator, the per-thread error message, the clock, the TTL rules and the
** pc_value constructors.
*/
#include "pc_internal.h"

#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- Allocator ---- */

static pc_allocator g_alloc = {malloc, realloc, free};

int pc_set_allocator(const pc_allocator *a) {
  if (a && (!a->malloc_fn || !a->realloc_fn || !a->free_fn)) return PC_ERROR;
  pc_allocator d = {malloc, realloc, free};
  g_alloc = a ? *a : d;
  return PC_OK;
}

void *pc__malloc(size_t n) {
  return g_alloc.malloc_fn(n ? n : 1);
}
void *pc__realloc(void *p, size_t n) {
  return g_alloc.realloc_fn(p, n ? n : 1);
}
void pc__free(void *p) {
  if (p) g_alloc.free_fn(p);
}
void *pc_malloc(size_t n) {
  return pc__malloc(n);
}
void pc_free(void *p) {
  pc__free(p);
}

char *pc__strdup(const char *z) {
  if (!z) return NULL;
  size_t n = strlen(z);
  char *p = pc__malloc(n + 1);
  if (p) memcpy(p, z, n + 1);
  return p;
}

/* ---- Errors ---- */

/* One message per thread: a cache is shared by threads, so a message kept
** in the cache object could be overwritten by another thread's call. */
static _Thread_local char t_errmsg[PC_ERRMSG_MAX];

int pc__error(int rc, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(t_errmsg, sizeof t_errmsg, fmt, ap);
  va_end(ap);
  return rc;
}

const char *pc__errbuf(void) {
  return t_errmsg;
}

const char *pc_errmsg(const pc_cache *c) {
  (void)c;
  return t_errmsg;
}

/* ---- Clock ---- */

static int64_t sys_ms(clockid_t id) {
  struct timespec ts;
  clock_gettime(id, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
static int64_t sys_mono(void *ctx) {
  (void)ctx;
  return sys_ms(CLOCK_MONOTONIC);
}
static int64_t sys_wall(void *ctx) {
  (void)ctx;
  return sys_ms(CLOCK_REALTIME);
}

static pc_clock g_clock = {sys_mono, sys_wall, NULL};

/* A monotonic time not before now, in ms, cheaply: the system's coarse
** clock (the last timer tick, 4.7 ns a read here against 16.8 for the
** precise one) plus its resolution, rounded up; an installed clock as it
** is. An expiry after it has not passed: most reads need no more. */
int64_t pc__now_mono_late_ms(void) {
  static _Atomic int64_t res_ms; /* 0: not known yet; -1: no coarse clock */
  if (g_clock.mono_ms != sys_mono) return g_clock.mono_ms(g_clock.ctx);
  int64_t r = atomic_load_explicit(&res_ms, memory_order_relaxed);
  if (r == 0) {
    struct timespec ts;
    r = clock_getres(CLOCK_MONOTONIC_COARSE, &ts) == 0 && ts.tv_sec == 0
            ? ts.tv_nsec / 1000000 + 2 /* the tick, and the ms rounding */
            : -1;
    atomic_store_explicit(&res_ms, r, memory_order_relaxed);
  }
  return r < 0 ? sys_mono(NULL) : sys_ms(CLOCK_MONOTONIC_COARSE) + r;
}

void pc_set_clock(const pc_clock *clk) {
  pc_clock d = {sys_mono, sys_wall, NULL};
  g_clock = clk ? *clk : d;
}
int64_t pc_now_mono_ms(void) {
  return g_clock.mono_ms(g_clock.ctx);
}
int64_t pc_now_wall_ms(void) {
  return g_clock.wall_ms(g_clock.ctx);
}

/* ---- TTL rules (SPEC §3) ---- */

int pc_ttl_from_seconds(double s, int64_t *ttl_ms) {
  if (s == -1.0) {
    *ttl_ms = PC_TTL_NEVER;
    return PC_OK;
  }
  if (!(s > 0) || !isfinite(s)) return pc__error(PC_ERROR, PC_TTL_RULE);
  /* s * 1000 is rounded in binary (2.007 gives 2007.0000000000002): a
  ** product within a few ulps of a whole number is that number; a part of
  ** a millisecond otherwise rounds up (0.0001 s is 1 ms, never 0). */
  double ms = s * 1000.0, whole = nearbyint(ms);
  ms = fabs(ms - whole) <= whole * 4 * DBL_EPSILON ? whole : ceil(ms);
  if (ms > (double)PC_TTL_MAX_MS)
    return pc__error(PC_ERROR, "ttl is too large (at most 2^53 ms)");
  *ttl_ms = (int64_t)ms;
  return PC_OK;
}

int pc_ttl_from_text(const char *z, size_t n, int64_t *ttl_ms) {
  char buf[64];
  while (n > 0 && (*z == ' ' || *z == '\t'))
    z++, n--;
  while (n > 0 && (z[n - 1] == ' ' || z[n - 1] == '\t'))
    n--;
  if (n == 0 || n >= sizeof buf || memchr(z, 0, n))
    return pc__error(PC_ERROR, PC_TTL_RULE);
  memcpy(buf, z, n);
  buf[n] = 0;
  /* strtod would accept "inf", "nan" and hex floats: allow only decimal. */
  for (size_t i = 0; i < n; i++) {
    if (!strchr("0123456789+-.eE", buf[i]))
      return pc__error(PC_ERROR, PC_TTL_RULE);
  }
  char *end;
  double s = strtod(buf, &end);
  if (end != buf + n) return pc__error(PC_ERROR, PC_TTL_RULE);
  return pc_ttl_from_seconds(s, ttl_ms);
}

/* ---- Values ---- */

pc_value pc_null(void) {
  pc_value v = {0};
  v.type = PC_NULL;
  return v;
}
pc_value pc_int(int64_t i) {
  pc_value v = {0};
  v.type = PC_INTEGER;
  v.i = i;
  return v;
}
pc_value pc_real(double r) {
  pc_value v = {0};
  v.type = PC_REAL;
  v.r = r;
  return v;
}
pc_value pc_text(const char *p, size_t n) {
  pc_value v = {0};
  v.type = PC_TEXT;
  v.p = p ? p : "";
  v.n = n;
  return v;
}
pc_value pc_blob(const void *p, size_t n) {
  pc_value v = pc_text(p, n);
  v.type = PC_BLOB;
  return v;
}

void pc_value_release(pc_value *v) {
  if (v && v->free_fn) {
    v->free_fn((void *)v->p);
    v->free_fn = NULL;
  }
}

/* ---- Fork ---- */

/* The number of fork()s this process descends through, counted by an
** atfork handler: a backend remembers the generation its connections were
** opened in, so that a child never uses its parent's, without a getpid()
** system call on every operation. */
static _Atomic unsigned g_fork_gen;
static pthread_once_t g_fork_once = PTHREAD_ONCE_INIT;

static void on_fork_child(void) {
  atomic_fetch_add(&g_fork_gen, 1);
}

static void fork_watch(void) {
  pthread_atfork(NULL, NULL, on_fork_child);
}

unsigned pc__fork_gen(void) {
  pthread_once(&g_fork_once, fork_watch);
  return atomic_load_explicit(&g_fork_gen, memory_order_relaxed);
}

/* ---- Names of registered parts ---- */

int pc__check_reg_name(const char *kind, const char *name) {
  size_t n = strlen(name);
  int ok = n >= 1 && n <= PC_REG_NAME_MAX;
  for (size_t i = 0; ok && i < n; i++)
    ok = (name[i] >= 'a' && name[i] <= 'z') ||
         (name[i] >= '0' && name[i] <= '9') || name[i] == '_';
  if (ok) return PC_OK;
  return pc__error(PC_ERROR, "%s name '%.40s': 1 to %d of a-z, 0-9 and _", kind,
                   name, PC_REG_NAME_MAX);
}

int pc__word_eq(const char *word, const char *z, size_t n) {
  size_t i = 0;
  for (; i < n && word[i]; i++)
    if ((z[i] >= 'A' && z[i] <= 'Z' ? z[i] + 32 : z[i]) != word[i]) return 0;
  return i == n && word[i] == 0;
}

/* ---- Deadlines ---- */

void pc__deadline(clockid_t clock, int64_t ms, struct timespec *out) {
  clock_gettime(clock, out);
  out->tv_sec += (time_t)(ms / 1000);
  out->tv_nsec += (long)(ms % 1000) * 1000000L;
  if (out->tv_nsec >= 1000000000L) {
    out->tv_sec++;
    out->tv_nsec -= 1000000000L;
  }
}
