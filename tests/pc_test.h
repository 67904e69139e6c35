/*
** pc_test.h: the small harness of the C unit tests.
**
** CHECK() does not depend on NDEBUG. A failing allocator (pc_test_alloc)
** fails allocation number N (counting from 1) when pc_test_fail_at is N,
** and counts outstanding allocations so that tests can prove no path
** leaks. A manual clock (pc_test_clock) lets tests move time instead of
** sleeping. Each test file defines main() and ends with PC_TEST_END().
*/
#ifndef PC_TEST_H
#define PC_TEST_H

#include "pocketcache.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PC_TEST_UNUSED __attribute__((unused))

PC_TEST_UNUSED static int pc_test_failures = 0;
PC_TEST_UNUSED static int pc_test_checks = 0;

#define CHECK(cond)                                                            \
  do {                                                                         \
    pc_test_checks++;                                                          \
    if (!(cond)) {                                                             \
      pc_test_failures++;                                                      \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
    }                                                                          \
  } while (0)

#define CHECK_EQ_INT(a, b)                                                     \
  do {                                                                         \
    long long pc_a_ = (long long)(a), pc_b_ = (long long)(b);                  \
    pc_test_checks++;                                                          \
    if (pc_a_ != pc_b_) {                                                      \
      pc_test_failures++;                                                      \
      fprintf(stderr, "%s:%d: CHECK failed: %s == %s (%lld != %lld)\n",        \
              __FILE__, __LINE__, #a, #b, pc_a_, pc_b_);                       \
    }                                                                          \
  } while (0)

#define PC_TEST_END()                                                          \
  do {                                                                         \
    printf("%d passed, %d failed\n", pc_test_checks - pc_test_failures,        \
           pc_test_failures);                                                  \
    return pc_test_failures ? 1 : 0;                                           \
  } while (0)

/* ---- Failing, counting allocator (thread-safe) ---- */
PC_TEST_UNUSED static _Atomic long pc_test_alloc_count; /* allocations made */
PC_TEST_UNUSED static _Atomic long pc_test_live;    /* allocations not freed */
PC_TEST_UNUSED static _Atomic size_t pc_test_bytes; /* their bytes */
PC_TEST_UNUSED static _Atomic long pc_test_fail_at; /* fail this allocation
                                                      (0 = never) */

typedef struct {
  size_t n;
  size_t pad_;
} pc_test_hdr;

/* Whether this allocation is the one to fail. */
PC_TEST_UNUSED static int pc_test_failing(void) {
  long at = pc_test_fail_at;
  return atomic_fetch_add(&pc_test_alloc_count, 1) + 1 == at && at;
}
PC_TEST_UNUSED static void *pc_test_malloc(size_t n) {
  if (pc_test_failing()) return NULL;
  pc_test_hdr *h = (pc_test_hdr *)malloc(sizeof(pc_test_hdr) + n);
  if (!h) return NULL;
  h->n = n;
  pc_test_live++;
  pc_test_bytes += n;
  return h + 1;
}
PC_TEST_UNUSED static void pc_test_free(void *p) {
  if (!p) return;
  pc_test_hdr *h = (pc_test_hdr *)p - 1;
  pc_test_live--;
  pc_test_bytes -= h->n;
  free(h);
}
PC_TEST_UNUSED static void *pc_test_realloc(void *p, size_t n) {
  if (!p) return pc_test_malloc(n);
  if (pc_test_failing()) return NULL;
  size_t old = ((pc_test_hdr *)p - 1)->n;
  pc_test_hdr *h =
      (pc_test_hdr *)realloc((pc_test_hdr *)p - 1, sizeof(pc_test_hdr) + n);
  if (!h) return NULL;
  h->n = n;
  pc_test_bytes += n;
  pc_test_bytes -= old;
  return h + 1;
}
PC_TEST_UNUSED static void pc_test_use_failing_allocator(void) {
  pc_allocator a = {pc_test_malloc, pc_test_realloc, pc_test_free};
  pc_set_allocator(&a);
}
/* Arm the allocator to fail allocation number n from now (0: never). */
PC_TEST_UNUSED static void pc_test_fail_after(long n) {
  pc_test_alloc_count = 0;
  pc_test_fail_at = n;
}

/* Runs attempt() with allocation 1, 2, 3... failing in turn, until an
** attempt makes fewer allocations than the one failed (each has had its
** turn), at most `max` times; after each, every allocation made must have
** been freed. attempt() checks that each failure is a clean error. */
PC_TEST_UNUSED static void
pc_test_each_allocation_failing(void (*attempt)(void), long max) {
  long base = pc_test_live;
  for (long n = 1; n < max; n++) {
    pc_test_fail_after(n);
    attempt();
    long made = pc_test_alloc_count;
    pc_test_fail_after(0);
    CHECK_EQ_INT(pc_test_live, base);
    if (made < n) break;
  }
}

/* ---- Values ---- */
/* Whether two values are the same: type, integer, double bit for bit,
** bytes (and is_json for TEXT). */
PC_TEST_UNUSED static int pc_test_values_equal(const pc_value *a,
                                               const pc_value *b) {
  if (a->type != b->type) return 0;
  switch (a->type) {
  case PC_NULL:
    return 1;
  case PC_INTEGER:
    return a->i == b->i;
  case PC_REAL:
    return !memcmp(&a->r, &b->r, sizeof a->r);
  case PC_TEXT:
    if (!!a->is_json != !!b->is_json) return 0;
    /* fall through */
  default:
    return a->n == b->n &&
           (a->n == 0 || (a->p && b->p && !memcmp(a->p, b->p, a->n)));
  }
}

/* ---- Caches ---- */
/* Closes every open cache, so that what comes next starts from an empty
** registry: PC_OK, or the error of listing them. */
PC_TEST_UNUSED static int pc_test_close_all_caches(void) {
  char **names;
  int count;
  int rc = pc_cache_names(&names, &count);
  if (rc != PC_OK) return rc;
  for (int i = 0; i < count; i++)
    pc_cache_close(names[i]);
  pc_free(names);
  return PC_OK;
}

/* ---- Manual clock ---- */
PC_TEST_UNUSED static int64_t pc_test_mono = 1000000;
PC_TEST_UNUSED static int64_t pc_test_wall = 1700000000000LL;
PC_TEST_UNUSED static int64_t pc_test_mono_fn(void *ctx) {
  (void)ctx;
  return pc_test_mono;
}
PC_TEST_UNUSED static int64_t pc_test_wall_fn(void *ctx) {
  (void)ctx;
  return pc_test_wall;
}
PC_TEST_UNUSED static void pc_test_use_manual_clock(void) {
  pc_clock c = {pc_test_mono_fn, pc_test_wall_fn, NULL};
  pc_set_clock(&c);
}
PC_TEST_UNUSED static void pc_test_advance(int64_t ms) {
  pc_test_mono += ms;
  pc_test_wall += ms;
}

#endif /* PC_TEST_H */
