/*
** test_fs: the filesystem backend through the engine's C API (pc_core,
** linked with the system SQLite), on the manual clock: expiry, reclamation
** by writes, eviction bounds, persistence across close and reopen, and
** every allocation of an open, set and get failing in turn.
*/
#include "pc_internal.h"
#include "pc_test.h"

#include <sqlite3.h>

#include <stdint.h>
#include <unistd.h>

static char g_dir[] = "/tmp/pc_test_fs.XXXXXX";

static pc_cache *open_fs(const char *name, const char *sub, const char *extra) {
  char cfg[1024], err[PC_ERRMSG_MAX];
  snprintf(cfg, sizeof cfg,
           "{\"backend\":\"filesystem\",\"cache_dir\":\"%s/%s\"%s}", g_dir, sub,
           extra);
  pc_cache *c = NULL;
  int rc = pc_cache_open(name, cfg, &c, err, sizeof err);
  if (rc != PC_OK) fprintf(stderr, "open %s: %s\n", name, err);
  CHECK_EQ_INT(rc, PC_OK);
  return c;
}

static int set_text(pc_cache *c, const char *k, const char *v, int64_t ttl) {
  pc_value val = pc_text(v, strlen(v));
  return pc_set(c, k, strlen(k), &val, ttl, 0);
}

/* The text under k, compared with want (NULL: a miss). */
static void check_get(pc_cache *c, const char *k, const char *want) {
  pc_value v;
  int rc = pc_get(c, k, strlen(k), &v);
  if (!want) {
    CHECK_EQ_INT(rc, PC_NOTFOUND);
    return;
  }
  CHECK_EQ_INT(rc, PC_OK);
  if (rc != PC_OK) return;
  CHECK_EQ_INT(v.type, PC_TEXT);
  CHECK(v.n == strlen(want) && memcmp(v.p, want, v.n) == 0);
  pc_value_release(&v);
}

static void test_expiry_on_clock(void) {
  pc_cache *c = open_fs("exp", "exp", "");
  CHECK_EQ_INT(set_text(c, "a", "1", 1000), PC_OK);
  CHECK_EQ_INT(set_text(c, "b", "2", 5000), PC_OK);
  CHECK_EQ_INT(set_text(c, "never", "3", PC_TTL_NEVER), PC_OK);
  int64_t ttl;
  CHECK_EQ_INT(pc_ttl(c, "a", 1, &ttl), PC_OK);
  CHECK_EQ_INT(ttl, 1000);
  pc_test_advance(999);
  check_get(c, "a", "1");
  pc_test_advance(1);
  check_get(c, "a", NULL); /* expires <= now: gone */
  CHECK_EQ_INT(pc_has(c, "a", 1), PC_NOTFOUND);
  check_get(c, "b", "2");
  /* A write reclaims expired entries without a scan. */
  pc_test_advance(10000);
  CHECK_EQ_INT(set_text(c, "c", "4", PC_TTL_NEVER), PC_OK);
  pc_stats st;
  CHECK_EQ_INT(pc_get_stats(c, &st), PC_OK);
  CHECK_EQ_INT(st.expirations, 2);
  CHECK_EQ_INT(st.entries, 2);
  check_get(c, "never", "3");
  /* touch moves the expiry; an expired key cannot be touched. */
  CHECK_EQ_INT(set_text(c, "t", "5", 1000), PC_OK);
  CHECK_EQ_INT(pc_touch(c, "t", 1, 60000), PC_OK);
  pc_test_advance(2000);
  check_get(c, "t", "5");
  pc_test_advance(60000);
  CHECK_EQ_INT(pc_touch(c, "t", 1, 60000), PC_NOTFOUND);
  pc_cache_release(c);
  pc_cache_close("exp");
}

/* A write reclaims at most 8 expired entries: bounded work, never a scan. */
/* Through a memory tier: a value served from the tier until its expiry,
** never at or after it (the tier's lazy clock and the store's wall-clock
** expiry, on the manual clock). */
static void test_tier_expiry(void) {
  pc_cache *c = open_fs("tierexp", "tierexp", ",\"local_max_bytes\":\"1MB\"");
  CHECK_EQ_INT(set_text(c, "a", "1", 1000), PC_OK);
  check_get(c, "a", "1"); /* from the store, into the tier */
  check_get(c, "a", "1"); /* from the tier */
  char *json = pc_stats_json(c);
  const char *tier = json ? strstr(json, "\"tier\":") : NULL;
  CHECK(tier && strstr(tier, "\"hits\":1,"));
  pc_free(json);
  pc_test_advance(999);
  check_get(c, "a", "1");
  pc_test_advance(1);
  check_get(c, "a", NULL);
  CHECK_EQ_INT(pc_cache_close("tierexp"), PC_OK);
  pc_cache_release(c);
}

/* A tier over a store another cache writes (its own connections, as
** another process's would be): every write is seen by the next get, with
** the WAL-index header mapped and with the PRAGMA data_version fallback. */
static void test_tier_sees_writes(int map) {
  pc__fs_map_wal_index = map;
  pc_cache *t = open_fs("tv_tier", "tv", ",\"local_max_bytes\":\"1MB\"");
  pc_cache *w = open_fs("tv_writer", "tv", "");
  int stale = 0;
  for (int i = 0; i < 50; i++) {
    char v[16];
    snprintf(v, sizeof v, "%d", i);
    CHECK_EQ_INT(set_text(w, "k", v, PC_TTL_NEVER), PC_OK);
    for (int k = 0; k < 2; k++) { /* the first may fill the tier */
      pc_value got;
      if (pc_get(t, "k", 1, &got) != PC_OK) {
        stale++;
        continue;
      }
      stale += got.n != strlen(v) || memcmp(got.p, v, got.n) != 0;
      pc_value_release(&got);
    }
  }
  CHECK_EQ_INT(stale, 0);
  CHECK_EQ_INT(set_text(t, "k", "own", PC_TTL_NEVER), PC_OK);
  CHECK_EQ_INT(pc_delete(w, "k", 1), PC_OK);
  check_get(t, "k", NULL);
  char *json = pc_stats_json(t); /* and the tier did serve */
  const char *tier = json ? strstr(json, "\"tier\":") : NULL;
  CHECK(tier && !strstr(tier, "\"hits\":0,"));
  pc_free(json);
  pc_cache_release(t);
  pc_cache_release(w);
  CHECK_EQ_INT(pc_cache_close("tv_tier"), PC_OK);
  CHECK_EQ_INT(pc_cache_close("tv_writer"), PC_OK);
  pc__fs_map_wal_index = 1;
}

static void test_reclaim_bounded(void) {
  pc_cache *c = open_fs("recl", "recl", "");
  char k[32];
  for (int i = 0; i < 100; i++) {
    snprintf(k, sizeof k, "k%03d", i);
    CHECK_EQ_INT(set_text(c, k, "v", 1000), PC_OK);
  }
  pc_test_advance(2000);
  pc_stats st;
  for (int w = 1; w <= 3; w++) {
    snprintf(k, sizeof k, "w%d", w);
    CHECK_EQ_INT(set_text(c, k, "v", PC_TTL_NEVER), PC_OK);
    CHECK_EQ_INT(pc_get_stats(c, &st), PC_OK);
    CHECK_EQ_INT(st.expirations, 8 * w);
    CHECK_EQ_INT(st.entries, 100 - 8 * w + w);
  }
  pc_cache_release(c);
  pc_cache_close("recl");
}

/* An expiry written by another writer (here a second cache on the same
** directory, as another process would be) is reclaimed by this one's
** writes within one expiry bucket (~65 s), even if that writer never
** writes again and this one had found nothing to expire. */
static void test_reclaim_foreign(void) {
  pc_cache *a = open_fs("fa", "foreign", ""), *b = open_fs("fb", "foreign", "");
  CHECK_EQ_INT(set_text(a, "mine", "1", PC_TTL_NEVER), PC_OK);
  CHECK_EQ_INT(set_text(a, "mine", "2", PC_TTL_NEVER), PC_OK);
  CHECK_EQ_INT(set_text(b, "theirs", "3", 1000), PC_OK);
  pc_cache_release(b);
  pc_cache_close("fb");
  pc_test_advance(70000);
  CHECK_EQ_INT(set_text(a, "mine", "4", PC_TTL_NEVER), PC_OK);
  pc_stats st;
  CHECK_EQ_INT(pc_get_stats(a, &st), PC_OK);
  CHECK_EQ_INT(st.expirations, 1);
  CHECK_EQ_INT(st.entries, 1);
  pc_cache_release(a);
  pc_cache_close("fa");
}

static void test_bounds(void) {
  pc_cache *c = open_fs("bound", "bound", ",\"max_entries\":10");
  char k[32];
  for (int i = 0; i < 100; i++) {
    snprintf(k, sizeof k, "k%d", i);
    CHECK_EQ_INT(set_text(c, k, "value", PC_TTL_NEVER), PC_OK);
    /* Keep k0 read: the clock passes it over. */
    check_get(c, "k0", "value");
  }
  pc_stats st;
  CHECK_EQ_INT(pc_get_stats(c, &st), PC_OK);
  CHECK_EQ_INT(st.entries, 10);
  CHECK_EQ_INT(st.evictions, 90);
  check_get(c, "k99", "value"); /* the newest is never the victim */
  pc_cache_release(c);
  pc_cache_close("bound");

  c = open_fs("bytes", "bytes", ",\"max_bytes\":4096");
  char v[500];
  memset(v, 'x', sizeof v - 1);
  v[sizeof v - 1] = 0;
  for (int i = 0; i < 50; i++) {
    snprintf(k, sizeof k, "k%d", i);
    CHECK_EQ_INT(set_text(c, k, v, PC_TTL_NEVER), PC_OK);
    CHECK_EQ_INT(pc_get_stats(c, &st), PC_OK);
    CHECK(st.bytes <= 4096);
  }
  pc_cache_release(c);
  pc_cache_close("bytes");
}

static void test_persistence(void) {
  pc_cache *c = open_fs("p", "persist", "");
  CHECK_EQ_INT(set_text(c, "kept", "yes", 60000), PC_OK);
  int64_t n = 0;
  pc_value one = pc_int(1);
  CHECK_EQ_INT(pc_set(c, "i", 1, &one, PC_TTL_DEFAULT, 0), PC_OK);
  CHECK_EQ_INT(pc_incr(c, "i", 1, 41, PC_TTL_DEFAULT, &n), PC_OK);
  CHECK_EQ_INT(n, 42);
  pc_cache_release(c);
  pc_cache_close("p");
  c = open_fs("p2", "persist", "");
  check_get(c, "kept", "yes");
  int64_t ttl;
  CHECK_EQ_INT(pc_ttl(c, "kept", 4, &ttl), PC_OK);
  CHECK_EQ_INT(ttl, 60000);
  CHECK_EQ_INT(pc_incr(c, "i", 1, 1, PC_TTL_DEFAULT, &n), PC_OK);
  CHECK_EQ_INT(n, 43);
  pc_cache_release(c);
  pc_cache_close("p2");
}

/* Every engine allocation of open, set, get and close fails in turn:
** each is a clean error (never a crash) and nothing leaks. */
static void oom_attempt(void) {
  char cfg[600], err[PC_ERRMSG_MAX];
  snprintf(cfg, sizeof cfg,
           "{\"backend\":\"filesystem\",\"cache_dir\":\"%s/oom\"}", g_dir);
  pc_cache *c = NULL;
  int rc = pc_cache_open("oom", cfg, &c, err, sizeof err);
  if (rc != PC_OK) {
    CHECK(rc == PC_NOMEM);
    return;
  }
  rc = set_text(c, "k", "v", PC_TTL_NEVER);
  CHECK(rc == PC_OK || rc == PC_NOMEM);
  pc_value v;
  rc = pc_get(c, "k", 1, &v);
  CHECK(rc == PC_OK || rc == PC_NOMEM || rc == PC_NOTFOUND);
  if (rc == PC_OK) pc_value_release(&v);
  pc_cache_release(c);
  pc_cache_close("oom");
}

static void test_oom(void) {
  pc_test_each_allocation_failing(oom_attempt, 1000);
}

int main(void) {
  pc_test_use_failing_allocator();
  pc_test_use_manual_clock();
  if (!mkdtemp(g_dir)) {
    perror("mkdtemp");
    return 1;
  }
  test_expiry_on_clock();
  test_tier_expiry();
  test_tier_sees_writes(1);
  test_tier_sees_writes(0);
  test_reclaim_bounded();
  test_reclaim_foreign();
  test_bounds();
  test_persistence();
  test_oom();
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", g_dir);
  PC_TEST_END();
}
