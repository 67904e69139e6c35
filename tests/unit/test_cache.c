/*
** test_cache.c: the engine (core/pc_cache.c, core/pc_util.c): registry,
** open/close semantics, TTL rules on the manual clock, statistics,
** iteration, and out-of-memory paths through the failing allocator.
*/
#include "pc_internal.h"
#include "pc_test.h"

#include <math.h>
#include <pthread.h>

static pc_cache *open_or_die(const char *name, const char *cfg) {
  pc_cache *c = NULL;
  char err[PC_ERRMSG_MAX];
  int rc = pc_cache_open(name, cfg, &c, err, sizeof err);
  if (rc != PC_OK) fprintf(stderr, "open %s: %s\n", name, err);
  CHECK_EQ_INT(rc, PC_OK);
  return c;
}

static void test_ttl_rules(void) {
  int64_t ms;
  CHECK_EQ_INT(pc_ttl_from_seconds(10, &ms), PC_OK);
  CHECK_EQ_INT(ms, 10000);
  CHECK_EQ_INT(pc_ttl_from_seconds(0.0001, &ms), PC_OK);
  CHECK_EQ_INT(ms, 1); /* rounded up: a positive TTL never becomes 0 */
  CHECK_EQ_INT(pc_ttl_from_seconds(-1, &ms), PC_OK);
  CHECK_EQ_INT(ms, PC_TTL_NEVER);
  CHECK_EQ_INT(pc_ttl_from_seconds(0, &ms), PC_ERROR);
  CHECK(strstr(pc_errmsg(NULL), "ttl must be a positive number") != NULL);
  CHECK_EQ_INT(pc_ttl_from_seconds(-5, &ms), PC_ERROR);
  CHECK_EQ_INT(pc_ttl_from_seconds(NAN, &ms), PC_ERROR);
  CHECK_EQ_INT(pc_ttl_from_seconds(INFINITY, &ms), PC_ERROR);
  CHECK_EQ_INT(pc_ttl_from_seconds(1e300, &ms), PC_ERROR);
  CHECK_EQ_INT(pc_ttl_from_seconds(9007199254740.992, &ms), PC_OK);
  CHECK_EQ_INT(ms, PC_TTL_MAX_MS);
  CHECK_EQ_INT(pc_ttl_from_seconds(9007199254741.0, &ms), PC_ERROR);
  CHECK_EQ_INT(pc_ttl_from_text("1.5", 3, &ms), PC_OK);
  CHECK_EQ_INT(ms, 1500);
  CHECK_EQ_INT(pc_ttl_from_text("abc", 3, &ms), PC_ERROR);
  CHECK_EQ_INT(pc_ttl_from_text("10abc", 5, &ms), PC_ERROR);
  CHECK_EQ_INT(pc_ttl_from_text("inf", 3, &ms), PC_ERROR);
  CHECK_EQ_INT(pc_ttl_from_text("0x10", 4, &ms), PC_ERROR);
  CHECK_EQ_INT(pc_ttl_from_text("", 0, &ms), PC_ERROR);
  CHECK_EQ_INT(pc_ttl_from_text("-1", 2, &ms), PC_OK);
  CHECK_EQ_INT(ms, PC_TTL_NEVER);
}

static void test_registry(void) {
  pc_cache *d = pc_cache_find("default");
  CHECK(d != NULL);
  CHECK(strcmp(pc_cache_backend_name(d), "memory") == 0);
  pc_cache_release(d);
  CHECK(pc_cache_find("nope") == NULL);

  uint64_t v0 = pc_registry_version();
  pc_cache *a = open_or_die("a", "{\"max_entries\":10}");
  CHECK(pc_registry_version() != v0);
  pc_cache *a2 = open_or_die("a", "{\"max_entries\":10}");
  CHECK(a == a2); /* same configuration: the same cache */
  pc_cache *bad = NULL;
  char err[PC_ERRMSG_MAX];
  CHECK_EQ_INT(
      pc_cache_open("a", "{\"max_entries\":11}", &bad, err, sizeof err),
      PC_ERROR);
  CHECK(bad == NULL);
  CHECK(strcmp(err, "cache 'a' is already open with a different max_entries") ==
        0);
  CHECK_EQ_INT(pc_cache_open("", NULL, &bad, err, sizeof err), PC_ERROR);
  CHECK_EQ_INT(pc_cache_open("x", "{\"nope\":1}", &bad, err, sizeof err),
               PC_ERROR);
  CHECK(strstr(err, "nope") != NULL);
  CHECK_EQ_INT(pc_cache_open("x", "{", &bad, err, sizeof err), PC_ERROR);

  char **names;
  int n;
  CHECK_EQ_INT(pc_cache_names(&names, &n), PC_OK);
  CHECK_EQ_INT(n, 2);
  CHECK(strcmp(names[0], "a") == 0 && strcmp(names[1], "default") == 0);
  pc_free(names);

  /* A closed cache keeps working for those who hold it. */
  pc_value v = pc_int(7);
  CHECK_EQ_INT(pc_set(a, "k", 1, &v, PC_TTL_DEFAULT, 0), PC_OK);
  CHECK_EQ_INT(pc_cache_close("a"), PC_OK);
  CHECK_EQ_INT(pc_cache_close("a"), PC_NOTFOUND);
  CHECK(pc_cache_find("a") == NULL);
  pc_value out;
  CHECK_EQ_INT(pc_get(a, "k", 1, &out), PC_OK);
  CHECK_EQ_INT(out.i, 7);
  pc_cache_release(a);
  pc_cache_release(a2);

  /* Closing default drops it; the next use makes a fresh one. */
  d = pc_cache_find("default");
  CHECK_EQ_INT(pc_set(d, "k", 1, &v, PC_TTL_DEFAULT, 0), PC_OK);
  pc_cache_release(d);
  CHECK_EQ_INT(pc_cache_close("default"), PC_OK);
  d = pc_cache_find("default");
  CHECK(d != NULL);
  CHECK_EQ_INT(pc_has(d, "k", 1), PC_NOTFOUND);
  pc_cache_release(d);
}

static void test_ttl_on_clock(void) {
  pc_cache *c = open_or_die("ttl", "{\"default_ttl\":10}");
  pc_value v = pc_text("x", 1), out;
  int64_t ms;
  CHECK_EQ_INT(pc_set(c, "d", 1, &v, PC_TTL_DEFAULT, 0), PC_OK);
  CHECK_EQ_INT(pc_set(c, "n", 1, &v, PC_TTL_NEVER, 0), PC_OK);
  CHECK_EQ_INT(pc_set(c, "s", 1, &v, 2000, 0), PC_OK);
  CHECK_EQ_INT(pc_set(c, "z", 1, &v, 0, 0), PC_ERROR);
  CHECK_EQ_INT(pc_set(c, "z", 1, &v, -5, 0), PC_ERROR);
  CHECK_EQ_INT(pc_ttl(c, "d", 1, &ms), PC_OK);
  CHECK_EQ_INT(ms, 10000);
  CHECK_EQ_INT(pc_ttl(c, "n", 1, &ms), PC_OK);
  CHECK_EQ_INT(ms, PC_TTL_NEVER);
  pc_test_advance(1999);
  CHECK_EQ_INT(pc_ttl(c, "s", 1, &ms), PC_OK);
  CHECK_EQ_INT(ms, 1);
  pc_test_advance(1);
  CHECK_EQ_INT(pc_get(c, "s", 1, &out), PC_NOTFOUND); /* expired at 2000 */
  CHECK_EQ_INT(pc_touch(c, "d", 1, 5000), PC_OK);
  pc_test_advance(4999);
  CHECK_EQ_INT(pc_has(c, "d", 1), PC_OK);
  pc_test_advance(1);
  CHECK_EQ_INT(pc_has(c, "d", 1), PC_NOTFOUND);
  CHECK_EQ_INT(pc_touch(c, "d", 1, 5000), PC_NOTFOUND);

  /* incr: the TTL applies only when the call creates the key. */
  int64_t r;
  CHECK_EQ_INT(pc_incr(c, "i", 1, 1, 1000, &r), PC_OK);
  CHECK_EQ_INT(r, 1);
  pc_test_advance(500);
  CHECK_EQ_INT(pc_incr(c, "i", 1, 5, 1000, &r), PC_OK);
  CHECK_EQ_INT(r, 6);
  pc_test_advance(500);
  CHECK_EQ_INT(pc_incr(c, "i", 1, 1, 1000, &r), PC_OK);
  CHECK_EQ_INT(r, 1); /* the window ended: a new one starts */
  CHECK_EQ_INT(pc_incr(c, "n", 1, 1, PC_TTL_DEFAULT, &r), PC_MISMATCH);
  CHECK(strcmp(pc_errmsg(c), "the stored value is not an integer") == 0);
  pc_value big = pc_int(INT64_MAX);
  CHECK_EQ_INT(pc_set(c, "big", 3, &big, PC_TTL_NEVER, 0), PC_OK);
  CHECK_EQ_INT(pc_incr(c, "big", 3, 1, PC_TTL_DEFAULT, &r), PC_ERROR);
  pc_cache_release(c);
  pc_cache_close("ttl");
}

static void test_limits_and_stats(void) {
  pc_cache *c = open_or_die(
      "lim",
      "{\"max_key_bytes\":4,\"max_value_bytes\":8,\"serializer\":\"json\"}");
  pc_value v = pc_text("12345678", 8), out;
  CHECK_EQ_INT(pc_set(c, "kkkkk", 5, &v, PC_TTL_DEFAULT, 0), PC_TOOBIG);
  CHECK(strcmp(pc_errmsg(c), "key is larger than max_key_bytes (4)") == 0);
  CHECK_EQ_INT(pc_set(c, "k", 1, &v, PC_TTL_DEFAULT, 0), PC_OK);
  v = pc_text("123456789", 9);
  CHECK_EQ_INT(pc_set(c, "k", 1, &v, PC_TTL_DEFAULT, 0), PC_TOOBIG);
  CHECK(strcmp(pc_errmsg(c), "value is larger than max_value_bytes (8)") == 0);
  v = pc_blob("ab", 2);
  CHECK_EQ_INT(pc_set(c, "b", 1, &v, PC_TTL_DEFAULT, 0), PC_ERROR);
  CHECK(strcmp(pc_errmsg(c), "the json serializer cannot store a BLOB") == 0);
  CHECK_EQ_INT(pc_get(c, "k", 1, &out), PC_OK); /* nothing half-written */
  CHECK(out.type == PC_TEXT && out.n == 8 && !memcmp(out.p, "12345678", 8));
  pc_value_release(&out);
  CHECK_EQ_INT(pc_get(c, "nope", 4, &out), PC_NOTFOUND);
  CHECK_EQ_INT(pc_delete(c, "k", 1), PC_OK);
  CHECK_EQ_INT(pc_delete(c, "k", 1), PC_NOTFOUND);
  pc_stats s;
  pc_get_stats(c, &s);
  CHECK_EQ_INT(s.hits, 1);
  CHECK_EQ_INT(s.misses, 1);
  CHECK_EQ_INT(s.sets, 1);
  CHECK_EQ_INT(s.deletes, 1);
  CHECK_EQ_INT(s.entries, 0);
  char *js = pc_stats_json(c);
  CHECK(js && strstr(js, "\"cache\":\"lim\",\"backend\":\"memory\"") != NULL);
  CHECK(js && strstr(js, "\"hit_ratio\":0.5000") != NULL);
  pc_free(js);
  pc_cache_release(c);
  pc_cache_close("lim");
}

static void test_iteration(void) {
  pc_cache *c = open_or_die("it", NULL);
  char key[16];
  for (int i = 0; i < 100; i++) {
    int n = snprintf(key, sizeof key, "%s:%d", i % 2 ? "odd" : "Even", i);
    pc_value v = pc_int(i);
    CHECK_EQ_INT(pc_set(c, key, (size_t)n, &v, i < 10 ? 1000 : PC_TTL_NEVER, 0),
                 PC_OK);
  }
  pc_test_advance(1000); /* the first ten expire */
  pc_iter *it;
  pc_item item;
  int n = 0, sum = 0;
  CHECK_EQ_INT(pc_iter_open(c, "even", 4, 1, &it), PC_OK);
  while (pc_iter_next(it, &item) == PC_OK) {
    n++;
    sum += (int)item.value.i;
    CHECK(item.ttl_ms == PC_TTL_NEVER);
    CHECK_EQ_INT(item.size, (int64_t)item.nkey + 10);
    pc_value_release(&item.value);
  }
  pc_iter_close(it);
  CHECK_EQ_INT(n, 45);
  CHECK_EQ_INT(sum, 2450 - 20); /* 10..98 even */
  int64_t removed;
  CHECK_EQ_INT(pc_clear(c, &removed), PC_OK);
  CHECK_EQ_INT(removed, 90);
  pc_cache_release(c);
  pc_cache_close("it");
}

/* A scan read slowly is checked against the time of each row: entries
** that expire while it runs are not handed out. */
static void test_slow_scan(void) {
  pc_cache *c = open_or_die("slow", NULL);
  char key[16];
  for (int i = 0; i < 50; i++) {
    int n = snprintf(key, sizeof key, "k%d", i);
    pc_value v = pc_int(i);
    CHECK_EQ_INT(pc_set(c, key, (size_t)n, &v, 1000, 0), PC_OK);
  }
  pc_iter *it;
  pc_item item;
  CHECK_EQ_INT(pc_iter_open(c, NULL, 0, 0, &it), PC_OK);
  CHECK_EQ_INT(pc_iter_next(it, &item), PC_OK);
  CHECK_EQ_INT(item.ttl_ms, 1000);
  pc_value_release(&item.value);
  pc_test_advance(1000);
  CHECK_EQ_INT(pc_iter_next(it, &item), PC_DONE);
  pc_iter_close(it);
  pc_cache_release(c);
  pc_cache_close("slow");
}

/* More threads than statistics stripes they can own: counts stay exact. */
#define STAT_THREADS 100
#define STAT_GETS 2000
static pc_cache *g_stat_cache;
static void *stat_worker(void *arg) {
  (void)arg;
  pc_value out;
  for (int i = 0; i < STAT_GETS; i++)
    if (pc_get(g_stat_cache, "k", 1, &out) == PC_OK) pc_value_release(&out);
  return NULL;
}
static void test_stats_many_threads(void) {
  pc_set_allocator(NULL); /* the counting allocator is single-threaded */
  g_stat_cache = open_or_die("threads", NULL);
  pc_value v = pc_int(1);
  CHECK_EQ_INT(pc_set(g_stat_cache, "k", 1, &v, PC_TTL_NEVER, 0), PC_OK);
  pthread_t th[STAT_THREADS];
  for (int i = 0; i < STAT_THREADS; i++)
    pthread_create(&th[i], NULL, stat_worker, NULL);
  for (int i = 0; i < STAT_THREADS; i++)
    pthread_join(th[i], NULL);
  pc_stats st;
  pc_get_stats(g_stat_cache, &st);
  CHECK_EQ_INT(st.hits, STAT_THREADS * STAT_GETS);
  pc_cache_release(g_stat_cache);
  pc_cache_close("threads");
  pc_test_use_failing_allocator();
}

/* Every allocation of open, set, get and close fails once in turn. */
/* One open, set, get and close; every allocation fails in turn. */
static void oom_attempt(void) {
  pc_cache *c = NULL;
  int rc = pc_cache_open("oom", "{\"max_bytes\":\"1MB\"}", &c, NULL, 0);
  if (rc == PC_OK) {
    pc_value v = pc_text("value", 5), out;
    rc = pc_set(c, "k", 1, &v, PC_TTL_DEFAULT, 0);
    CHECK(rc == PC_OK || rc == PC_NOMEM);
    if (rc == PC_OK && pc_get(c, "k", 1, &out) == PC_OK) {
      CHECK(out.n == 5 && memcmp(out.p, "value", 5) == 0);
      pc_value_release(&out);
    }
    pc_cache_release(c);
    pc_cache_close("oom");
  } else {
    CHECK(rc == PC_NOMEM);
  }
}

static void test_oom(void) {
  pc_test_each_allocation_failing(oom_attempt, 200);
}

/* The late clock is never behind the precise one, which is what lets an
** expiry after it count as not passed, and is at most a few ticks ahead;
** an installed clock is read as it is. */
static void test_late_clock(void) {
  pc_set_clock(NULL);
  int behind = 0, far = 0;
  for (int i = 0; i < 200000; i++) {
    int64_t now = pc_now_mono_ms();
    int64_t late = pc__now_mono_late_ms();
    behind += late < now;
    far += late - now > 100;
  }
  CHECK_EQ_INT(behind, 0);
  CHECK_EQ_INT(far, 0);
  pc_test_use_manual_clock();
  CHECK_EQ_INT(pc__now_mono_late_ms(), pc_now_mono_ms());
}

/* An expiry past what int64 ms hold saturates just below "never" (a TTL
** from SQL, a Redis PTTL, a tier's copy), never overflows or means never;
** and a TTL from SQL that would reach it through a clock does too. */
static void test_expiry_saturates(void) {
  CHECK_EQ_INT(pc__expiry_after(5, 10), 15);
  CHECK_EQ_INT(pc__expiry_after(INT64_MAX - 101, 100), INT64_MAX - 1);
  CHECK_EQ_INT(pc__expiry_after(INT64_MAX - 100, 100), PC_EXPIRES_NEVER - 1);
  CHECK_EQ_INT(pc__expiry_after(INT64_MAX - 10, INT64_MAX),
               PC_EXPIRES_NEVER - 1);
  CHECK_EQ_INT(pc__expiry_after(0, 0), 0);
  int64_t mono = pc_test_mono;
  pc_test_mono = INT64_MAX - 1000; /* a clock installed by a host */
  pc_cache *c;
  CHECK_EQ_INT(pc_cache_open("sat", "{}", &c, NULL, 0), PC_OK);
  pc_value v = pc_int(1);
  CHECK_EQ_INT(pc_set(c, "k", 1, &v, 1000, 0), PC_OK);
  int64_t ttl = 0;
  CHECK_EQ_INT(pc_ttl(c, "k", 1, &ttl), PC_OK);
  CHECK(ttl != PC_TTL_NEVER && ttl > 0 && ttl <= 1000);
  pc_cache_release(c);
  pc_cache_close("sat");
  pc_test_mono = mono;
}

int main(void) {
  pc_test_use_failing_allocator();
  test_late_clock();
  pc_test_use_manual_clock();
  test_expiry_saturates();
  pc_test_use_manual_clock();
  test_ttl_rules();
  test_registry();
  test_ttl_on_clock();
  test_limits_and_stats();
  test_iteration();
  test_slow_scan();
  test_oom();
  test_stats_many_threads();
  PC_TEST_END();
}
