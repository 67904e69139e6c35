/*
** test_mem.c: unit tests of the memory backend (core/pc_mem.c), called
** directly through pc__memory_backend with the `now` each test chooses.
**
** Single-threaded tests run on the counting allocator of pc_test.h and
** check that every store frees all it allocated; the threaded tests (scan
** under concurrent writes, the 4-thread stress) switch back to the system
** allocator, because the counting one is not thread-safe. The last test
** fails every allocation in turn for each kind of operation. Build with
** -fsanitize=address (use after free of a reader's bytes) and with
** -fsanitize=thread (the threaded tests).
*/
#include "pc_internal.h"
#include "pc_test.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#define MEM (&pc__memory_backend)
#define MiB (1024 * 1024)
#define NEVER PC_EXPIRES_NEVER

static int64_t T0 = 1000000; /* the `now` of the tests, moved by hand */

/* ---- Helpers ---- */

/* The eviction policy of the stores mem_open() makes ("" = the default);
** main() runs the tests that evict under each policy. */
static const char *g_policy = "";

static void *mem_open(int64_t max_entries, int64_t max_bytes) {
  pc_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.max_entries = max_entries;
  cfg.max_bytes = max_bytes;
  snprintf(cfg.eviction, sizeof cfg.eviction, "%s", g_policy);
  void *b = NULL;
  int rc = MEM->open(&cfg, &b);
  CHECK_EQ_INT(rc, PC_OK);
  CHECK(b != NULL);
  return b;
}

static int set_s(void *b, const char *k, const char *v, int64_t exp, int flags,
                 int64_t now) {
  return MEM->set(b, k, strlen(k), v, strlen(v), exp, flags, now);
}

/* Gets k; on PC_OK copies the value (NUL-terminated) into out and releases
** the buffer. */
static int get_s(void *b, const char *k, int64_t now, char *out, size_t nout,
                 int64_t *expires) {
  pc_buf v;
  int rc = MEM->get(b, k, strlen(k), now, &v, expires);
  if (rc == PC_OK) {
    CHECK(v.p != NULL);
    size_t n = v.n < nout - 1 ? v.n : nout - 1;
    memcpy(out, v.p, n);
    out[n] = 0;
    pc__buf_release(&v);
  }
  return rc;
}

static int has_s(void *b, const char *k, int64_t now) {
  char tmp[8];
  return get_s(b, k, now, tmp, sizeof tmp, NULL) == PC_OK;
}

static pc_stats stats_of(void *b) {
  pc_stats st;
  memset(&st, 0, sizeof st);
  MEM->stats(b, &st);
  return st;
}

/* Scans everything; returns the count and the sum of nkey + nval. */
static int64_t scan_all(void *b, int64_t now, int64_t *bytes) {
  void *it;
  int64_t n = 0, sum = 0;
  CHECK_EQ_INT(MEM->scan_open(b, NULL, 0, 0, now, &it), PC_OK);
  pc_backend_item item;
  int rc;
  while ((rc = MEM->scan_next(it, &item)) == PC_OK) {
    n++;
    sum += (int64_t)(item.nkey + item.val.n);
    pc__buf_release(&item.val);
  }
  CHECK_EQ_INT(rc, PC_DONE);
  MEM->scan_close(it);
  if (bytes) *bytes = sum;
  return n;
}

/* A tiny integer codec: 'I' and 8 little-endian bytes. */
static int tc_decode(const unsigned char *p, size_t n, int64_t *out) {
  if (n != 9 || p[0] != 'I') return PC_MISMATCH;
  uint64_t u = 0;
  for (int i = 0; i < 8; i++)
    u |= (uint64_t)p[1 + i] << (8 * i);
  *out = (int64_t)u;
  return PC_OK;
}
static size_t tc_encode(int64_t v, unsigned char *buf) {
  uint64_t u = (uint64_t)v;
  buf[0] = 'I';
  for (int i = 0; i < 8; i++)
    buf[1 + i] = (unsigned char)(u >> (8 * i));
  return 9;
}
static const pc_int_codec test_codec = {tc_decode, tc_encode, PC_INT_LE64};

static int64_t get_int(void *b, const char *k, int64_t now) {
  pc_buf v;
  int64_t x = INT64_MIN;
  if (MEM->get(b, k, strlen(k), now, &v, NULL) == PC_OK) {
    CHECK_EQ_INT(tc_decode(v.p, v.n, &x), PC_OK);
    pc__buf_release(&v);
  }
  return x;
}

/* ---- Single-threaded tests ---- */

static void test_basic(void) {
  long base = pc_test_live;
  void *b = mem_open(0, 64 * MiB);
  char out[64];
  CHECK_EQ_INT(get_s(b, "k", T0, out, sizeof out, NULL), PC_NOTFOUND);
  CHECK_EQ_INT(set_s(b, "k", "v1", NEVER, 0, T0), PC_OK);
  int64_t exp = 0;
  CHECK_EQ_INT(get_s(b, "k", T0, out, sizeof out, &exp), PC_OK);
  CHECK(strcmp(out, "v1") == 0);
  CHECK_EQ_INT(exp, NEVER);
  CHECK_EQ_INT(set_s(b, "k", "value two", T0 + 50, 0, T0), PC_OK);
  CHECK_EQ_INT(get_s(b, "k", T0, out, sizeof out, &exp), PC_OK);
  CHECK(strcmp(out, "value two") == 0);
  CHECK_EQ_INT(exp, T0 + 50);
  CHECK_EQ_INT(stats_of(b).entries, 1);
  /* Binary keys: a NUL inside, and keys differing only after it. */
  CHECK_EQ_INT(MEM->set(b, "a\0b", 3, "x", 1, NEVER, 0, T0), PC_OK);
  CHECK_EQ_INT(MEM->set(b, "a\0c", 3, "y", 1, NEVER, 0, T0), PC_OK);
  pc_buf v;
  CHECK_EQ_INT(MEM->get(b, "a\0c", 3, T0, &v, NULL), PC_OK);
  CHECK(v.n == 1 && v.p[0] == 'y');
  pc__buf_release(&v);
  CHECK_EQ_INT(MEM->get(b, "a", 1, T0, &v, NULL), PC_NOTFOUND);
  /* Empty key. */
  CHECK_EQ_INT(MEM->set(b, "", 0, "e", 1, NEVER, 0, T0), PC_OK);
  CHECK_EQ_INT(MEM->get(b, "", 0, T0, &v, NULL), PC_OK);
  CHECK(v.n == 1 && v.p[0] == 'e');
  pc__buf_release(&v);
  CHECK_EQ_INT(stats_of(b).entries, 4);
  CHECK_EQ_INT(MEM->del(b, "k", 1, T0), PC_OK);
  CHECK_EQ_INT(MEM->del(b, "k", 1, T0), PC_NOTFOUND);
  CHECK_EQ_INT(get_s(b, "k", T0, out, sizeof out, NULL), PC_NOTFOUND);
  CHECK_EQ_INT(stats_of(b).entries, 3);
  /* Many keys: the per-shard tables grow. */
  char k[32];
  for (int i = 0; i < 5000; i++) {
    snprintf(k, sizeof k, "key%d", i);
    CHECK_EQ_INT(set_s(b, k, k, NEVER, 0, T0), PC_OK);
  }
  int bad = 0;
  for (int i = 0; i < 5000; i++) {
    snprintf(k, sizeof k, "key%d", i);
    if (get_s(b, k, T0, out, sizeof out, NULL) != PC_OK || strcmp(out, k))
      bad++;
  }
  CHECK_EQ_INT(bad, 0);
  CHECK_EQ_INT(stats_of(b).entries, 5003);
  CHECK_EQ_INT(scan_all(b, T0, NULL), 5003);
  MEM->close(b);
  CHECK_EQ_INT(pc_test_live, base);
}

static void test_empty_value(void) {
  long base = pc_test_live;
  void *b = mem_open(0, 64 * MiB);
  CHECK_EQ_INT(MEM->set(b, "e", 1, NULL, 0, NEVER, 0, T0), PC_OK);
  pc_buf v = {0};
  CHECK_EQ_INT(MEM->get(b, "e", 1, T0, &v, NULL), PC_OK);
  CHECK(v.p != NULL);
  CHECK_EQ_INT(v.n, 0);
  CHECK(v.free_fn != NULL);
  pc__buf_release(&v);
  CHECK_EQ_INT(stats_of(b).bytes, 1);
  MEM->close(b);
  CHECK_EQ_INT(pc_test_live, base);
}

/* Keys at and past 64 KiB - 1 bytes keep their length before their
** bytes (the key word's length field is 16 bits): set, get, a key that
** differs only in length or in its last byte, scan, delete. */
static void test_long_key(void) {
  long base = pc_test_live;
  void *b = mem_open(0, 64 * MiB);
  enum { N = 70000 };
  char *k = malloc(N + 1);
  CHECK(k != NULL);
  memset(k, 'k', N + 1);
  size_t lens[] = {65534, 65535, 65536, N};
  for (int i = 0; i < 4; i++)
    CHECK_EQ_INT(MEM->set(b, k, lens[i], &i, sizeof i, NEVER, 0, T0), PC_OK);
  for (int i = 0; i < 4; i++) {
    pc_buf v;
    CHECK_EQ_INT(MEM->get(b, k, lens[i], T0, &v, NULL), PC_OK);
    CHECK(v.n == sizeof i && memcmp(v.p, &i, sizeof i) == 0);
    pc__buf_release(&v);
  }
  k[N - 1] = 'x';
  pc_buf v;
  CHECK_EQ_INT(MEM->get(b, k, N, T0, &v, NULL), PC_NOTFOUND);
  CHECK_EQ_INT(MEM->get(b, k, N + 1, T0, &v, NULL), PC_NOTFOUND);
  k[N - 1] = 'k';
  int64_t bytes;
  CHECK_EQ_INT(scan_all(b, T0, &bytes), 4);
  CHECK_EQ_INT(bytes, 65534 + 65535 + 65536 + N + 4 * (int64_t)sizeof(int));
  CHECK_EQ_INT(stats_of(b).bytes, bytes);
  CHECK_EQ_INT(MEM->del(b, k, 65536, T0), PC_OK);
  CHECK_EQ_INT(MEM->get(b, k, 65536, T0, &v, NULL), PC_NOTFOUND);
  CHECK_EQ_INT(MEM->get(b, k, 65535, T0, &v, NULL), PC_OK);
  pc__buf_release(&v);
  free(k);
  MEM->close(b);
  CHECK_EQ_INT(pc_test_live, base);
}

static void test_flags(void) {
  long base = pc_test_live;
  void *b = mem_open(0, 64 * MiB);
  char out[32];
  int64_t exp;
  /* NX */
  CHECK_EQ_INT(set_s(b, "a", "1", NEVER, PC_SET_NX, T0), PC_OK);
  CHECK_EQ_INT(set_s(b, "a", "2", NEVER, PC_SET_NX, T0), PC_EXISTS);
  CHECK_EQ_INT(get_s(b, "a", T0, out, sizeof out, NULL), PC_OK);
  CHECK(strcmp(out, "1") == 0);
  /* NX over an expired entry: absent. */
  CHECK_EQ_INT(set_s(b, "x", "old", T0 + 10, 0, T0), PC_OK);
  CHECK_EQ_INT(set_s(b, "x", "new", NEVER, PC_SET_NX, T0 + 10), PC_OK);
  CHECK_EQ_INT(get_s(b, "x", T0 + 10, out, sizeof out, NULL), PC_OK);
  CHECK(strcmp(out, "new") == 0);
  CHECK_EQ_INT(stats_of(b).expirations, 1);
  /* XX */
  CHECK_EQ_INT(set_s(b, "none", "1", NEVER, PC_SET_XX, T0), PC_NOTFOUND);
  CHECK_EQ_INT(get_s(b, "none", T0, out, sizeof out, NULL), PC_NOTFOUND);
  CHECK_EQ_INT(set_s(b, "a", "3", NEVER, PC_SET_XX, T0), PC_OK);
  CHECK_EQ_INT(get_s(b, "a", T0, out, sizeof out, NULL), PC_OK);
  CHECK(strcmp(out, "3") == 0);
  CHECK_EQ_INT(set_s(b, "y", "1", T0 + 5, 0, T0), PC_OK);
  CHECK_EQ_INT(set_s(b, "y", "2", NEVER, PC_SET_XX, T0 + 5), PC_NOTFOUND);
  CHECK_EQ_INT(get_s(b, "y", T0 + 5, out, sizeof out, NULL), PC_NOTFOUND);
  /* KEEPTTL: keeps a live entry's expiry, else uses the given one. */
  CHECK_EQ_INT(set_s(b, "t", "1", T0 + 100, 0, T0), PC_OK);
  CHECK_EQ_INT(set_s(b, "t", "2", T0 + 999, PC_SET_KEEPTTL, T0), PC_OK);
  CHECK_EQ_INT(get_s(b, "t", T0, out, sizeof out, &exp), PC_OK);
  CHECK(strcmp(out, "2") == 0);
  CHECK_EQ_INT(exp, T0 + 100);
  CHECK_EQ_INT(set_s(b, "t2", "1", T0 + 777, PC_SET_KEEPTTL, T0), PC_OK);
  CHECK_EQ_INT(get_s(b, "t2", T0, out, sizeof out, &exp), PC_OK);
  CHECK_EQ_INT(exp, T0 + 777);
  CHECK_EQ_INT(set_s(b, "t", "3", T0 + 50, PC_SET_KEEPTTL | PC_SET_XX, T0),
               PC_OK);
  CHECK_EQ_INT(get_s(b, "t", T0, out, sizeof out, &exp), PC_OK);
  CHECK_EQ_INT(exp, T0 + 100);
  /* KEEPTTL over an expired entry takes the given expiry. */
  CHECK_EQ_INT(set_s(b, "t", "4", T0 + 500, PC_SET_KEEPTTL, T0 + 100), PC_OK);
  CHECK_EQ_INT(get_s(b, "t", T0 + 100, out, sizeof out, &exp), PC_OK);
  CHECK_EQ_INT(exp, T0 + 500);
  MEM->close(b);
  CHECK_EQ_INT(pc_test_live, base);
}

static void test_expiry(void) {
  long base = pc_test_live;
  void *b = mem_open(0, 64 * MiB);
  char out[32];
  CHECK_EQ_INT(set_s(b, "a", "1", T0 + 100, 0, T0), PC_OK);
  CHECK_EQ_INT(set_s(b, "b", "2", T0 + 100, 0, T0), PC_OK);
  CHECK_EQ_INT(set_s(b, "c", "3", T0 + 100, 0, T0), PC_OK);
  CHECK_EQ_INT(set_s(b, "n", "4", NEVER, 0, T0), PC_OK);
  CHECK_EQ_INT(get_s(b, "a", T0 + 99, out, sizeof out, NULL), PC_OK);
  /* expires <= now is expired. */
  CHECK_EQ_INT(get_s(b, "a", T0 + 100, out, sizeof out, NULL), PC_NOTFOUND);
  pc_stats st = stats_of(b);
  CHECK_EQ_INT(st.expirations, 1);
  CHECK_EQ_INT(st.entries, 3);
  CHECK_EQ_INT(st.bytes, 6);
  /* del of an expired entry: NOTFOUND, counted as an expiration. */
  CHECK_EQ_INT(MEM->del(b, "b", 1, T0 + 200), PC_NOTFOUND);
  CHECK_EQ_INT(stats_of(b).expirations, 2);
  /* touch: a live entry's expiry; an expired one is absent. */
  CHECK_EQ_INT(MEM->touch(b, "c", 1, T0 + 1000, T0 + 200), PC_NOTFOUND);
  CHECK_EQ_INT(stats_of(b).expirations, 3);
  CHECK_EQ_INT(MEM->touch(b, "n", 1, T0 + 300, T0 + 200), PC_OK);
  int64_t exp;
  CHECK_EQ_INT(get_s(b, "n", T0 + 299, out, sizeof out, &exp), PC_OK);
  CHECK_EQ_INT(exp, T0 + 300);
  CHECK_EQ_INT(MEM->touch(b, "n", 1, NEVER, T0 + 299), PC_OK);
  CHECK_EQ_INT(get_s(b, "n", INT64_MAX - 1, out, sizeof out, &exp), PC_OK);
  CHECK_EQ_INT(exp, NEVER);
  CHECK_EQ_INT(MEM->touch(b, "zz", 2, NEVER, T0), PC_NOTFOUND);
  /* Expired entries are not in a scan, and clear does not count them. */
  CHECK_EQ_INT(set_s(b, "d", "5", T0 + 400, 0, T0), PC_OK);
  CHECK_EQ_INT(scan_all(b, T0 + 400, NULL), 1);
  int64_t removed = -1;
  CHECK_EQ_INT(MEM->clear(b, T0 + 400, &removed), PC_OK);
  CHECK_EQ_INT(removed, 1);
  st = stats_of(b);
  CHECK_EQ_INT(st.entries, 0);
  CHECK_EQ_INT(st.bytes, 0);
  CHECK_EQ_INT(st.expirations, 4);
  CHECK_EQ_INT(st.evictions, 0);
  MEM->close(b);
  CHECK_EQ_INT(pc_test_live, base);
}

/* Expired entries go away through writes of other keys: no get, no scan. */
static void test_reclaim(void) {
  long base = pc_test_live;
  void *b = mem_open(0, 64 * MiB); /* 64 shards */
  char k[32];
  for (int i = 0; i < 4000; i++) {
    snprintf(k, sizeof k, "short%d", i);
    CHECK_EQ_INT(set_s(b, k, "v", T0 + 10, 0, T0), PC_OK);
  }
  for (int i = 0; i < 10; i++) {
    snprintf(k, sizeof k, "long%d", i);
    CHECK_EQ_INT(set_s(b, k, "v", NEVER, 0, T0), PC_OK);
  }
  CHECK_EQ_INT(stats_of(b).entries, 4010);
  int64_t now = T0 + 20;
  /* One write does a bounded amount of work. */
  CHECK_EQ_INT(set_s(b, "w0", "v", NEVER, 0, now), PC_OK);
  pc_stats st = stats_of(b);
  CHECK(st.expirations <= 2 * 24); /* two steps of 4 buckets */
  CHECK(st.entries >= 4011 - 2 * 24);
  int writes = 1;
  while (stats_of(b).entries > 20 && writes < 200000) {
    snprintf(k, sizeof k, "w%d", writes % 10);
    CHECK_EQ_INT(set_s(b, k, "v", NEVER, 0, now), PC_OK);
    writes++;
  }
  st = stats_of(b);
  CHECK_EQ_INT(st.entries, 20);
  CHECK_EQ_INT(st.bytes, 10 * (5 + 1) + 10 * (2 + 1));
  CHECK_EQ_INT(st.expirations, 4000);
  /* Gradual, not one sweep. The shards the writes do not reach are swept
  ** by the foreign step of every 8th write of a shard, 4 buckets at a time:
  ** with at most 128 buckets a shard that is about 64 * 32 * 8 = 16384
  ** writes; each shard paces its own steps, so the visits are not exactly
  ** uniform: allow twice that. */
  CHECK(writes > 100);
  CHECK(writes <= 2 * (64 * 32 * 8 + 64 * 8));
  printf("reclaim: 4000 expired entries reclaimed by %d writes of other "
         "keys\n",
         writes);
  /* incr reclaims too. */
  for (int i = 0; i < 100; i++) {
    snprintf(k, sizeof k, "again%d", i);
    CHECK_EQ_INT(set_s(b, k, "v", now + 1, 0, now), PC_OK);
  }
  int64_t r;
  for (int i = 0; i < 20000 && stats_of(b).entries > 21; i++)
    CHECK_EQ_INT(MEM->incr(b, "ctr", 3, 1, NEVER, now + 1, &test_codec, &r),
                 PC_OK);
  CHECK_EQ_INT(stats_of(b).entries, 21);
  MEM->close(b);
  CHECK_EQ_INT(pc_test_live, base);
}

static void test_bytes(void) {
  long base = pc_test_live;
  void *b = mem_open(0, 64 * MiB);
  CHECK_EQ_INT(set_s(b, "a", "xyz", NEVER, 0, T0), PC_OK);
  CHECK_EQ_INT(stats_of(b).bytes, 4);
  CHECK_EQ_INT(set_s(b, "a", "0123456789", NEVER, 0, T0), PC_OK);
  CHECK_EQ_INT(stats_of(b).bytes, 11);
  CHECK_EQ_INT(set_s(b, "a", "", NEVER, 0, T0), PC_OK);
  CHECK_EQ_INT(stats_of(b).bytes, 1);
  CHECK_EQ_INT(set_s(b, "bb", "12345", NEVER, 0, T0), PC_OK);
  CHECK_EQ_INT(stats_of(b).bytes, 8);
  CHECK_EQ_INT(set_s(b, "bb", "zzz", NEVER, PC_SET_NX, T0), PC_EXISTS);
  CHECK_EQ_INT(stats_of(b).bytes, 8);
  CHECK_EQ_INT(MEM->del(b, "a", 1, T0), PC_OK);
  CHECK_EQ_INT(stats_of(b).bytes, 7);
  int64_t r;
  CHECK_EQ_INT(MEM->incr(b, "n", 1, 5, NEVER, T0, &test_codec, &r), PC_OK);
  CHECK_EQ_INT(stats_of(b).bytes, 7 + 10);
  CHECK_EQ_INT(MEM->incr(b, "n", 1, 5, NEVER, T0, &test_codec, &r), PC_OK);
  CHECK_EQ_INT(stats_of(b).bytes, 7 + 10);
  int64_t removed;
  CHECK_EQ_INT(MEM->clear(b, T0, &removed), PC_OK);
  CHECK_EQ_INT(removed, 2);
  CHECK_EQ_INT(stats_of(b).bytes, 0);
  CHECK_EQ_INT(stats_of(b).entries, 0);
  CHECK_EQ_INT(MEM->clear(b, T0, NULL), PC_OK);
  /* Eviction under max_bytes: exact totals. */
  MEM->close(b);
  b = mem_open(0, 1000); /* one shard */
  char k[16], v[600];
  memset(v, 'v', sizeof v);
  for (int i = 0; i < 20; i++) {
    snprintf(k, sizeof k, "k%02d", i); /* 3 + 197 = 200 bytes each */
    CHECK_EQ_INT(MEM->set(b, k, 3, v, 197, NEVER, 0, T0), PC_OK);
    pc_stats st = stats_of(b);
    CHECK_EQ_INT(st.bytes, (i < 5 ? i + 1 : 5) * 200);
  }
  pc_stats st = stats_of(b);
  CHECK_EQ_INT(st.entries, 5);
  CHECK_EQ_INT(st.evictions, 15);
  /* A bigger value evicts as many as needed. */
  CHECK_EQ_INT(MEM->set(b, "big", 3, v, 597, NEVER, 0, T0), PC_OK);
  st = stats_of(b);
  CHECK_EQ_INT(st.bytes, 600 + 2 * 200);
  CHECK_EQ_INT(st.entries, 3);
  CHECK_EQ_INT(st.evictions, 18);
  int64_t sum;
  CHECK_EQ_INT(scan_all(b, T0, &sum), 3);
  CHECK_EQ_INT(sum, st.bytes);
  MEM->close(b);
  CHECK_EQ_INT(pc_test_live, base);
}

static void test_lru(void) {
  long base = pc_test_live;
  g_policy = "lru";
  void *b = mem_open(3, 64 * MiB); /* max_entries=3: one shard, exact LRU */
  CHECK_EQ_INT(set_s(b, "a", "1", NEVER, 0, T0), PC_OK);
  CHECK_EQ_INT(set_s(b, "b", "2", NEVER, 0, T0), PC_OK);
  CHECK_EQ_INT(set_s(b, "c", "3", NEVER, 0, T0), PC_OK);
  CHECK(has_s(b, "a", T0));                              /* order: a c b */
  CHECK_EQ_INT(set_s(b, "d", "4", NEVER, 0, T0), PC_OK); /* evicts b */
  CHECK(!has_s(b, "b", T0));
  CHECK_EQ_INT(stats_of(b).entries, 3);
  CHECK_EQ_INT(stats_of(b).evictions, 1);
  /* order: d a c */
  CHECK_EQ_INT(set_s(b, "e", "5", NEVER, 0, T0), PC_OK); /* evicts c */
  CHECK(!has_s(b, "c", T0));
  CHECK(has_s(b, "d", T0));                                  /* order: d e a */
  CHECK_EQ_INT(set_s(b, "a", "again", NEVER, 0, T0), PC_OK); /* a d e */
  CHECK_EQ_INT(set_s(b, "f", "6", NEVER, 0, T0), PC_OK);     /* evicts e */
  CHECK(!has_s(b, "e", T0));
  CHECK(has_s(b, "a", T0));
  CHECK(has_s(b, "d", T0));
  CHECK(has_s(b, "f", T0)); /* order: f d a */
  /* touch refreshes too. */
  CHECK_EQ_INT(MEM->touch(b, "a", 1, NEVER, T0), PC_OK); /* a f d */
  CHECK_EQ_INT(set_s(b, "g", "7", NEVER, 0, T0), PC_OK); /* evicts d */
  CHECK(!has_s(b, "d", T0));
  pc_stats st = stats_of(b);
  CHECK_EQ_INT(st.entries, 3);
  CHECK_EQ_INT(st.evictions, 4);
  CHECK_EQ_INT(st.bytes, 2 + 2 + 6); /* a=again, f=6, g=7 */
  MEM->close(b);
  /* An expired victim counts as an expiration, not an eviction. */
  b = mem_open(2, 64 * MiB);
  CHECK_EQ_INT(set_s(b, "x", "1", T0 + 1, 0, T0), PC_OK);
  CHECK_EQ_INT(set_s(b, "y", "2", NEVER, 0, T0), PC_OK);
  CHECK_EQ_INT(set_s(b, "z", "3", NEVER, 0, T0 + 5), PC_OK);
  st = stats_of(b);
  CHECK_EQ_INT(st.entries, 2);
  CHECK_EQ_INT(st.evictions, 0);
  CHECK_EQ_INT(st.expirations, 1);
  MEM->close(b);
  g_policy = "";
  CHECK_EQ_INT(pc_test_live, base);
}

static void test_sieve(void) {
  long base = pc_test_live;
  g_policy = "sieve";
  void *b = mem_open(3, 64 * MiB);
  CHECK_EQ_INT(set_s(b, "a", "1", NEVER, 0, T0), PC_OK);
  CHECK_EQ_INT(set_s(b, "b", "2", NEVER, 0, T0), PC_OK);
  CHECK_EQ_INT(set_s(b, "c", "3", NEVER, 0, T0), PC_OK);
  CHECK(has_s(b, "a", T0)); /* visited; the order stays c b a (FIFO) */
  /* The hand starts at the tail: a loses its bit, b goes. */
  CHECK_EQ_INT(set_s(b, "d", "4", NEVER, 0, T0), PC_OK);
  CHECK(!has_s(b, "b", T0));
  /* The hand goes on toward the head: c goes, not a (already passed). */
  CHECK_EQ_INT(set_s(b, "e", "5", NEVER, 0, T0), PC_OK);
  CHECK(!has_s(b, "c", T0));
  /* Order e d a, hand at d: d was visited (the has above), e goes. */
  CHECK(has_s(b, "d", T0));
  CHECK_EQ_INT(set_s(b, "f", "6", NEVER, 0, T0), PC_OK);
  CHECK(!has_s(b, "e", T0));
  CHECK(has_s(b, "a", T0));
  CHECK(has_s(b, "d", T0));
  CHECK(has_s(b, "f", T0));
  CHECK_EQ_INT(stats_of(b).evictions, 3);
  /* An overwrite keeps the entry's place and counts as a hit; deleting
  ** the entry under the hand moves the hand on. */
  CHECK_EQ_INT(set_s(b, "a", "longer value", NEVER, 0, T0), PC_OK);
  CHECK_EQ_INT(MEM->del(b, "d", 1, T0), PC_OK);
  CHECK_EQ_INT(set_s(b, "g", "7", NEVER, 0, T0), PC_OK);
  CHECK_EQ_INT(set_s(b, "h", "8", NEVER, 0, T0), PC_OK);
  CHECK_EQ_INT(stats_of(b).entries, 3);
  CHECK(has_s(b, "a", T0));
  MEM->close(b);
  /* The hand on the entry just written (an overwrite takes its place):
  ** a lap that clears bits is not a lap with nothing to evict. */
  b = mem_open(0, 100);
  static const char v29[] = "12345678901234567890123456789";
  CHECK_EQ_INT(set_s(b, "A", v29, NEVER, 0, T0), PC_OK);
  CHECK_EQ_INT(set_s(b, "B", v29, NEVER, 0, T0), PC_OK);
  CHECK_EQ_INT(set_s(b, "C", v29, NEVER, 0, T0), PC_OK);
  CHECK_EQ_INT(set_s(b, "D", v29, NEVER, 0, T0), PC_OK); /* A goes */
  CHECK(has_s(b, "C", T0));
  CHECK(has_s(b, "D", T0));
  CHECK_EQ_INT(set_s(b, "B", "12345678901234567890123456789012345678901234",
                     NEVER, 0, T0),
               PC_OK); /* 105 bytes: C goes, its bit cleared on the way */
  CHECK(stats_of(b).bytes <= 100);
  CHECK(!has_s(b, "C", T0));
  CHECK(has_s(b, "B", T0) && has_s(b, "D", T0));
  MEM->close(b);
  g_policy = "";
  CHECK_EQ_INT(pc_test_live, base);
}

/* Sets `n` keys "<prefix><i>" that are never read. */
static void scan_keys(void *b, const char *prefix, int n) {
  char k[32];
  for (int i = 0; i < n; i++) {
    snprintf(k, sizeof k, "%s%d", prefix, i);
    CHECK_EQ_INT(set_s(b, k, "v", NEVER, 0, T0), PC_OK);
  }
}

/* Keys read twice survive a scan under S3-FIFO, not under LRU; a key
** evicted from the small queue and written again goes to main. */
static void test_s3fifo(void) {
  long base = pc_test_live;
  const char *pols[] = {"s3fifo", "lru"};
  char k[32];
  for (int p = 0; p < 2; p++) {
    g_policy = pols[p];
    void *b = mem_open(10, 64 * MiB);
    for (int i = 0; i < 5; i++) {
      snprintf(k, sizeof k, "hot%d", i);
      CHECK_EQ_INT(set_s(b, k, "v", NEVER, 0, T0), PC_OK);
      CHECK(has_s(b, k, T0));
      CHECK(has_s(b, k, T0));
    }
    scan_keys(b, "scan", 100);
    int kept = 0;
    for (int i = 0; i < 5; i++) {
      snprintf(k, sizeof k, "hot%d", i);
      kept += has_s(b, k, T0);
    }
    CHECK_EQ_INT(kept, p == 0 ? 5 : 0);
    CHECK_EQ_INT(stats_of(b).entries, 10);
    CHECK_EQ_INT(stats_of(b).evictions, 95);
    MEM->close(b);
  }
  g_policy = "s3fifo";
  void *b = mem_open(10, 64 * MiB);
  scan_keys(b, "old", 20); /* old0..old9 evicted from small: ghosts */
  CHECK(!has_s(b, "old0", T0));
  CHECK_EQ_INT(set_s(b, "old0", "back", NEVER, 0, T0), PC_OK); /* main */
  CHECK_EQ_INT(set_s(b, "new", "once", NEVER, 0, T0), PC_OK);  /* small */
  scan_keys(b, "more", 20);
  CHECK(has_s(b, "old0", T0));
  CHECK(!has_s(b, "new", T0));
  /* Clear forgets the ghosts too: more10, evicted last before it (a ghost
  ** still young: nothing was added to the ghost since), comes back after
  ** nine new keys as a new key, to small, and the scan takes it. */
  CHECK_EQ_INT(MEM->clear(b, T0, NULL), PC_OK);
  scan_keys(b, "fresh", 9);
  CHECK_EQ_INT(set_s(b, "more10", "back", NEVER, 0, T0), PC_OK);
  scan_keys(b, "again", 20);
  CHECK(!has_s(b, "more10", T0));
  MEM->close(b);
  g_policy = "";
  CHECK_EQ_INT(pc_test_live, base);
}

static uint64_t rng_next(uint64_t *s) {
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}

/* SPEC section 9: at most 48 bytes per entry beyond key and value, all the
** store's allocations counted (entries in the slab, bucket arrays, the
** store): 300k keys of 11 bytes, values of 50 to 150 (tests/bench/
** bench_memory measures 1M with the heap and the resident set). */
static void test_memory_per_entry(void) {
  enum { N = 300000 };
  size_t bytes0 = pc_test_bytes;
  void *b = mem_open(0, 0);
  static unsigned char val[150];
  memset(val, 'v', sizeof val);
  uint64_t seed = 42, kv = 0;
  char k[16];
  for (int i = 0; i < N; i++) {
    size_t n = 50 + (size_t)(rng_next(&seed) % 101);
    snprintf(k, sizeof k, "key:%07d", i);
    CHECK_EQ_INT(MEM->set(b, k, 11, val, n, NEVER, 0, T0), PC_OK);
    kv += 11 + n;
  }
  double per = ((double)(pc_test_bytes - bytes0) - (double)kv) / N;
  printf("memory per entry: %.1f bytes beyond key and value\n", per);
  CHECK(per > 32 && per <= 48);
  MEM->close(b);
  CHECK_EQ_INT(pc_test_bytes, bytes0);
}

/* max_bytes is never exceeded after a write returns; totals stay exact. */
static void check_bound(int64_t max_bytes, int64_t max_entries) {
  long base = pc_test_live;
  void *b = mem_open(max_entries, max_bytes);
  static unsigned char val[100 * 1024];
  memset(val, 'q', sizeof val);
  uint64_t seed = 88172645463325252ULL;
  int over = 0;
  char k[32];
  for (int i = 0; i < 3000; i++) {
    snprintf(k, sizeof k, "key%d", (int)(rng_next(&seed) % 1000));
    size_t n = (size_t)(rng_next(&seed) % 3 == 0 ? rng_next(&seed) % sizeof val
                                                 : rng_next(&seed) % 2000);
    CHECK_EQ_INT(MEM->set(b, k, strlen(k), val, n, NEVER, 0, T0), PC_OK);
    pc_stats st = stats_of(b);
    if (st.bytes > max_bytes || (max_entries && st.entries > max_entries))
      over++;
  }
  CHECK_EQ_INT(over, 0);
  pc_stats st = stats_of(b);
  CHECK(st.evictions > 0);
  int64_t sum;
  CHECK_EQ_INT(scan_all(b, T0, &sum), st.entries);
  CHECK_EQ_INT(sum, st.bytes);
  MEM->close(b);
  CHECK_EQ_INT(pc_test_live, base);
}

static void test_max_bytes(void) {
  check_bound(1 * MiB, 0);    /* one shard */
  check_bound(4 * MiB, 0);    /* four shards: evictions across shards */
  check_bound(64 * MiB, 300); /* one shard by max_entries */
  check_bound(3 * MiB, 0);    /* two shards */
  /* Many shards, a value bigger than a shard's share: others give way. */
  long base = pc_test_live;
  void *b = mem_open(0, 64 * MiB); /* 64 shards of 1 MiB */
  static unsigned char v[8 * MiB];
  memset(v, 'z', sizeof v);
  char k[32];
  for (int i = 0; i < 12; i++) {
    snprintf(k, sizeof k, "big%d", i);
    CHECK_EQ_INT(MEM->set(b, k, strlen(k), v, sizeof v, NEVER, 0, T0), PC_OK);
    CHECK(stats_of(b).bytes <= 64 * MiB);
    CHECK(has_s(b, k, T0)); /* the entry just written is never the victim */
  }
  pc_stats st = stats_of(b);
  CHECK_EQ_INT(st.entries, 7);
  CHECK_EQ_INT(st.evictions, 5);
  MEM->close(b);
  CHECK_EQ_INT(pc_test_live, base);
}

static void test_toobig(void) {
  long base = pc_test_live;
  void *b = mem_open(0, 1 * MiB);
  static unsigned char v[MiB + 1];
  memset(v, 'x', sizeof v);
  CHECK_EQ_INT(set_s(b, "k", "small", NEVER, 0, T0), PC_OK);
  CHECK_EQ_INT(MEM->set(b, "k", 1, v, MiB, NEVER, 0, T0), PC_TOOBIG);
  CHECK(strcmp(pc__errbuf(), "value is larger than max_bytes") == 0);
  CHECK_EQ_INT(MEM->set(b, "other", 5, v, MiB + 1, NEVER, 0, T0), PC_TOOBIG);
  char out[16];
  CHECK_EQ_INT(get_s(b, "k", T0, out, sizeof out, NULL), PC_OK);
  CHECK(strcmp(out, "small") == 0);
  pc_stats st = stats_of(b);
  CHECK_EQ_INT(st.entries, 1);
  CHECK_EQ_INT(st.bytes, 6);
  CHECK_EQ_INT(st.evictions, 0);
  /* Exactly max_bytes fits, alone. */
  CHECK_EQ_INT(MEM->set(b, "k", 1, v, MiB - 1, NEVER, 0, T0), PC_OK);
  CHECK_EQ_INT(stats_of(b).bytes, MiB);
  MEM->close(b);
  CHECK_EQ_INT(pc_test_live, base);
}

/* A reader's bytes outlive delete, overwrite, clear and close. */
static void test_reader_survives(void) {
  long base = pc_test_live;
  void *b = mem_open(2, 64 * MiB);
  pc_buf v1, v2, v3, v4, v5;
  CHECK_EQ_INT(set_s(b, "k", "first value", NEVER, 0, T0), PC_OK);
  CHECK_EQ_INT(MEM->get(b, "k", 1, T0, &v1, NULL), PC_OK);
  CHECK_EQ_INT(MEM->get(b, "k", 1, T0, &v5, NULL), PC_OK); /* same entry */
  CHECK(v1.p == v5.p);
  /* A value of the same size is not written in place while readers hold
  ** the entry: they keep the old bytes, new readers get the new ones. */
  pc_buf v7;
  CHECK_EQ_INT(set_s(b, "k", "other value", NEVER, 0, T0), PC_OK);
  CHECK_EQ_INT(MEM->get(b, "k", 1, T0, &v7, NULL), PC_OK);
  CHECK(v7.p != v1.p);
  CHECK(v7.n == 11 && memcmp(v7.p, "other value", 11) == 0);
  CHECK(v1.n == 11 && memcmp(v1.p, "first value", 11) == 0);
  pc__buf_release(&v7);
  CHECK_EQ_INT(set_s(b, "k", "second value", NEVER, 0, T0), PC_OK);
  CHECK_EQ_INT(MEM->get(b, "k", 1, T0, &v2, NULL), PC_OK);
  CHECK_EQ_INT(MEM->del(b, "k", 1, T0), PC_OK);
  CHECK_EQ_INT(set_s(b, "c", "cleared value", NEVER, 0, T0), PC_OK);
  CHECK_EQ_INT(MEM->get(b, "c", 1, T0, &v3, NULL), PC_OK);
  CHECK_EQ_INT(MEM->clear(b, T0, NULL), PC_OK);
  CHECK_EQ_INT(set_s(b, "e1", "evicted value", NEVER, 0, T0), PC_OK);
  CHECK_EQ_INT(MEM->get(b, "e1", 2, T0, &v4, NULL), PC_OK);
  CHECK_EQ_INT(set_s(b, "e2", "x", NEVER, 0, T0), PC_OK);
  CHECK_EQ_INT(set_s(b, "e3", "x", NEVER, 0, T0), PC_OK); /* evicts e1 */
  CHECK_EQ_INT(stats_of(b).evictions, 1);
  pc_buf v6;
  CHECK_EQ_INT(set_s(b, "e3", "held at close", NEVER, 0, T0), PC_OK);
  CHECK_EQ_INT(MEM->get(b, "e3", 2, T0, &v6, NULL), PC_OK);
  MEM->close(b);
  CHECK(v1.n == 11 && memcmp(v1.p, "first value", 11) == 0);
  pc__buf_release(&v1);
  CHECK(v5.n == 11 && memcmp(v5.p, "first value", 11) == 0);
  pc__buf_release(&v5);
  CHECK(v2.n == 12 && memcmp(v2.p, "second value", 12) == 0);
  pc__buf_release(&v2);
  CHECK(v3.n == 13 && memcmp(v3.p, "cleared value", 13) == 0);
  pc__buf_release(&v3);
  CHECK(v4.n == 13 && memcmp(v4.p, "evicted value", 13) == 0);
  pc__buf_release(&v4);
  CHECK(v6.n == 13 && memcmp(v6.p, "held at close", 13) == 0);
  pc__buf_release(&v6);
  CHECK_EQ_INT(pc_test_live, base);
}

static void test_incr(void) {
  long base = pc_test_live;
  void *b = mem_open(0, 64 * MiB);
  int64_t r = 0, exp;
  pc_buf v;
  CHECK_EQ_INT(MEM->incr(b, "n", 1, 5, T0 + 100, T0, &test_codec, &r), PC_OK);
  CHECK_EQ_INT(r, 5);
  CHECK_EQ_INT(MEM->get(b, "n", 1, T0, &v, &exp), PC_OK);
  CHECK_EQ_INT(exp, T0 + 100);
  pc__buf_release(&v);
  /* A present key keeps its expiry. */
  CHECK_EQ_INT(MEM->incr(b, "n", 1, -7, T0 + 999, T0, &test_codec, &r), PC_OK);
  CHECK_EQ_INT(r, -2);
  CHECK_EQ_INT(MEM->get(b, "n", 1, T0, &v, &exp), PC_OK);
  CHECK_EQ_INT(exp, T0 + 100);
  pc__buf_release(&v);
  CHECK_EQ_INT(get_int(b, "n", T0), -2);
  /* An expired key starts again at 0 with the given expiry. */
  CHECK_EQ_INT(MEM->incr(b, "n", 1, 1, NEVER, T0 + 100, &test_codec, &r),
               PC_OK);
  CHECK_EQ_INT(r, 1);
  CHECK_EQ_INT(MEM->get(b, "n", 1, T0 + 100, &v, &exp), PC_OK);
  CHECK_EQ_INT(exp, NEVER);
  pc__buf_release(&v);
  CHECK_EQ_INT(stats_of(b).expirations, 1);
  /* Overflow, both ways: an error, the value untouched. */
  CHECK_EQ_INT(MEM->incr(b, "big", 3, INT64_MAX, NEVER, T0, &test_codec, &r),
               PC_OK);
  r = 42;
  CHECK_EQ_INT(MEM->incr(b, "big", 3, 1, NEVER, T0, &test_codec, &r), PC_ERROR);
  CHECK(strcmp(pc__errbuf(), "integer overflow") == 0);
  CHECK_EQ_INT(r, 42);
  CHECK_EQ_INT(get_int(b, "big", T0), INT64_MAX);
  CHECK_EQ_INT(MEM->incr(b, "small", 5, INT64_MIN, NEVER, T0, &test_codec, &r),
               PC_OK);
  CHECK_EQ_INT(MEM->incr(b, "small", 5, -1, NEVER, T0, &test_codec, &r),
               PC_ERROR);
  CHECK_EQ_INT(get_int(b, "small", T0), INT64_MIN);
  CHECK_EQ_INT(MEM->incr(b, "fresh", 5, INT64_MIN, NEVER, T0, &test_codec, &r),
               PC_OK);
  CHECK_EQ_INT(r, INT64_MIN);
  /* Mismatch passes through, the value untouched. */
  CHECK_EQ_INT(set_s(b, "t", "text", T0 + 50, 0, T0), PC_OK);
  CHECK_EQ_INT(MEM->incr(b, "t", 1, 1, NEVER, T0, &test_codec, &r),
               PC_MISMATCH);
  char out[16];
  CHECK_EQ_INT(get_s(b, "t", T0, out, sizeof out, &exp), PC_OK);
  CHECK(strcmp(out, "text") == 0);
  CHECK_EQ_INT(exp, T0 + 50);
  pc_stats st = stats_of(b);
  CHECK_EQ_INT(st.entries, 5);
  CHECK_EQ_INT(st.bytes, (1 + 9) + (3 + 9) + (5 + 9) + (5 + 9) + (1 + 4));
  MEM->close(b);
  CHECK_EQ_INT(pc_test_live, base);
}

/* Scans with prefix `p` and returns the number of items; checks that each
** item's value is "v:" + its key and that the key starts with want (in the
** case given by want). */
static int scan_count(void *b, const char *p, int nocase, int64_t now) {
  void *it;
  int n = 0;
  CHECK_EQ_INT(MEM->scan_open(b, p, p ? strlen(p) : 0, nocase, now, &it),
               PC_OK);
  pc_backend_item item;
  while (MEM->scan_next(it, &item) == PC_OK) {
    n++;
    CHECK(item.val.n == item.nkey + 2);
    CHECK(memcmp(item.val.p, "v:", 2) == 0);
    CHECK(memcmp(item.val.p + 2, item.key, item.nkey) == 0);
    pc__buf_release(&item.val);
  }
  MEM->scan_close(it);
  return n;
}

static void set_kv(void *b, const char *k, int64_t exp) {
  char v[64];
  snprintf(v, sizeof v, "v:%s", k);
  CHECK_EQ_INT(set_s(b, k, v, exp, 0, T0), PC_OK);
}

static void test_scan(void) {
  long base = pc_test_live;
  void *b = mem_open(0, 64 * MiB);
  CHECK_EQ_INT(scan_count(b, NULL, 0, T0), 0);
  set_kv(b, "user:1", NEVER);
  set_kv(b, "User:2", NEVER);
  set_kv(b, "USER:3", T0 + 500);
  set_kv(b, "usEr;4", NEVER);
  set_kv(b, "user:5", T0 + 10); /* expired at T0 + 10 */
  set_kv(b, "use", NEVER);
  set_kv(b, "", NEVER);
  set_kv(b, "other", NEVER);
  for (int i = 0; i < 300; i++) {
    char k[32];
    snprintf(k, sizeof k, "bulk:%03d", i);
    set_kv(b, k, NEVER);
  }
  int64_t now = T0 + 10;
  CHECK_EQ_INT(scan_count(b, NULL, 0, now), 307);
  CHECK_EQ_INT(scan_count(b, "", 0, now), 307);
  CHECK_EQ_INT(scan_count(b, "user:", 0, now), 1);
  CHECK_EQ_INT(scan_count(b, "user:", 1, now), 3);
  CHECK_EQ_INT(scan_count(b, "USER:", 1, now), 3);
  CHECK_EQ_INT(scan_count(b, "uSe", 1, now), 5);
  CHECK_EQ_INT(scan_count(b, "use", 0, now), 2);
  CHECK_EQ_INT(scan_count(b, "user:1", 0, now), 1);
  CHECK_EQ_INT(scan_count(b, "user:1x", 0, now), 0);
  CHECK_EQ_INT(scan_count(b, "bulk:", 0, now), 300);
  CHECK_EQ_INT(scan_count(b, "BULK:", 0, now), 0);
  CHECK_EQ_INT(scan_count(b, "BULK:", 1, now), 300);
  CHECK_EQ_INT(scan_count(b, "bulk;", 1, now), 0);
  /* Only ASCII letters fold: '@' (0x40) is not '`' (0x60), ':' (0x3a) is
  ** not 0x1a, and bytes >= 0x80 compare exactly. */
  set_kv(b, "`x", NEVER);
  set_kv(b, "\x1a:", NEVER);
  set_kv(b, "\xc3\xa9t\xc3\xa9", NEVER);
  CHECK_EQ_INT(scan_count(b, "@", 1, now), 0);
  CHECK_EQ_INT(scan_count(b, "`", 1, now), 1);
  CHECK_EQ_INT(scan_count(b, ":", 1, now), 0);
  CHECK_EQ_INT(scan_count(b, "\x1a", 1, now), 1);
  CHECK_EQ_INT(scan_count(b, "\xe3\xa9", 1, now), 0);
  CHECK_EQ_INT(scan_count(b, "\xc3\xa9T", 1, now), 1);
  CHECK_EQ_INT(scan_count(b, "\xc3\x89", 1, now), 0);
  CHECK_EQ_INT(MEM->del(b, "`x", 2, now), PC_OK);
  CHECK_EQ_INT(MEM->del(b, "\x1a:", 2, now), PC_OK);
  CHECK_EQ_INT(MEM->del(b, "\xc3\xa9t\xc3\xa9", 5, now), PC_OK);
  /* Expiry as the scan sees it. */
  void *it;
  pc_backend_item item;
  CHECK_EQ_INT(MEM->scan_open(b, "USER:3", 6, 0, now, &it), PC_OK);
  CHECK_EQ_INT(MEM->scan_next(it, &item), PC_OK);
  CHECK_EQ_INT(item.expires, T0 + 500);
  pc__buf_release(&item.val);
  CHECK_EQ_INT(MEM->scan_next(it, &item), PC_DONE);
  CHECK_EQ_INT(MEM->scan_next(it, &item), PC_DONE);
  MEM->scan_close(it);
  /* The key stays valid until the next call even if the caller released
  ** the value and the entry was deleted; values held outlive clear. */
  CHECK_EQ_INT(MEM->scan_open(b, "bulk:", 5, 0, now, &it), PC_OK);
  CHECK_EQ_INT(MEM->scan_next(it, &item), PC_OK);
  pc_buf held = item.val;
  CHECK_EQ_INT(MEM->scan_next(it, &item), PC_OK);
  pc__buf_release(&item.val);
  CHECK_EQ_INT(MEM->del(b, item.key, item.nkey, now), PC_OK);
  CHECK(item.nkey == 8 && memcmp(item.key, "bulk:", 5) == 0);
  CHECK_EQ_INT(MEM->clear(b, now, NULL), PC_OK);
  int more = 0;
  while (MEM->scan_next(it, &item) == PC_OK) {
    CHECK(memcmp(item.val.p, "v:bulk:", 7) == 0);
    pc__buf_release(&item.val);
    more++;
  }
  CHECK(more < 300);
  MEM->scan_close(it);
  CHECK(held.n == 10 && memcmp(held.p, "v:bulk:", 7) == 0);
  pc__buf_release(&held);
  CHECK_EQ_INT(scan_count(b, NULL, 0, now), 0);
  /* Closing early drops what was collected and not handed out. */
  for (int i = 0; i < 50; i++) {
    char k[32];
    snprintf(k, sizeof k, "again:%d", i);
    set_kv(b, k, NEVER);
  }
  CHECK_EQ_INT(MEM->scan_open(b, NULL, 0, 0, now, &it), PC_OK);
  CHECK_EQ_INT(MEM->scan_next(it, &item), PC_OK);
  pc__buf_release(&item.val);
  MEM->scan_close(it);
  CHECK_EQ_INT(MEM->scan_open(b, NULL, 0, 0, now, &it), PC_OK);
  MEM->scan_close(it);
  MEM->close(b);
  CHECK_EQ_INT(pc_test_live, base);
}

/* ---- Threaded tests (system allocator) ---- */

/* Values of the threaded tests: "<key>|" then a fill byte repeated, so a
** torn or misplaced value is visible. */
static size_t make_val(char *out, const char *key, unsigned version) {
  size_t n = (size_t)sprintf(out, "%s|", key);
  size_t fill = 16 + version % 200;
  memset(out + n, 'a' + (int)(version % 26), fill);
  return n + fill;
}

static int val_ok(const unsigned char *p, size_t n, const void *key,
                  size_t nkey) {
  if (n < nkey + 1 + 16 || memcmp(p, key, nkey) != 0 || p[nkey] != '|')
    return 0;
  if (p[nkey + 1] < 'a' || p[nkey + 1] > 'z') return 0;
  for (size_t i = nkey + 2; i < n; i++)
    if (p[i] != p[nkey + 1]) return 0;
  return 1;
}

typedef struct writer_arg {
  void *b;
  int iters;
  _Atomic int done;
} writer_arg;

static void *writer_main(void *p) {
  writer_arg *a = p;
  char k[32], v[512];
  for (int i = 0; i < a->iters; i++) {
    snprintf(k, sizeof k, "w:%d", i % 700);
    size_t n = make_val(v, k, (unsigned)i);
    MEM->set(a->b, k, strlen(k), v, n, i % 3 ? NEVER : T0 + 5, 0,
             T0 + i / 1000);
    if (i % 7 == 0) {
      snprintf(k, sizeof k, "w:%d", (i * 13) % 700);
      MEM->del(a->b, k, strlen(k), T0);
    }
    if (i % 2500 == 0) MEM->clear(a->b, T0, NULL);
  }
  atomic_store(&a->done, 1);
  return NULL;
}

static void test_scan_concurrent(void) {
  void *b = mem_open(0, 4 * MiB); /* 4 shards, evictions happen too */
  writer_arg a = {b, 30000, 0};
  pthread_t th;
  CHECK_EQ_INT(pthread_create(&th, NULL, writer_main, &a), 0);
  int scans = 0, bad = 0;
  long items = 0;
  pc_buf kept[64];
  int nkept = 0;
  while (!atomic_load(&a.done) && scans < 100000) {
    void *it;
    CHECK_EQ_INT(MEM->scan_open(b, "w:", 2, scans & 1, T0, &it), PC_OK);
    pc_backend_item item;
    while (MEM->scan_next(it, &item) == PC_OK) {
      items++;
      if (!val_ok(item.val.p, item.val.n, item.key, item.nkey)) bad++;
      if (nkept < 64 && items % 97 == 0)
        kept[nkept++] = item.val; /* released after the writer is done */
      else
        pc__buf_release(&item.val);
    }
    MEM->scan_close(it);
    scans++;
  }
  pthread_join(th, NULL);
  CHECK_EQ_INT(bad, 0);
  for (int i = 0; i < nkept; i++) {
    const unsigned char *p = kept[i].p;
    const unsigned char *bar = memchr(p, '|', kept[i].n);
    CHECK(bar != NULL);
    if (bar) CHECK(val_ok(p, kept[i].n, p, (size_t)(bar - p)));
    pc__buf_release(&kept[i]);
  }
  int64_t sum;
  pc_stats st = stats_of(b);
  CHECK_EQ_INT(scan_all(b, 0, &sum), st.entries);
  CHECK_EQ_INT(sum, st.bytes);
  printf("scan under writes: %d scans, %ld items, %d values kept\n", scans,
         items, nkept);
  MEM->close(b);
}

enum { STRESS_THREADS = 4, STRESS_KEYS = 256, STRESS_ITERS = 40000 };

typedef struct stress_arg {
  void *b;
  int id;
  int64_t incrs; /* incr calls on the shared counter */
  unsigned char present[STRESS_KEYS];
  size_t nval[STRESS_KEYS];
  int bad;
} stress_arg;

static void *stress_main(void *p) {
  stress_arg *a = p;
  uint64_t seed = 0x9E3779B97F4A7C15ULL * (uint64_t)(a->id + 1);
  char k[32], v[512];
  for (int i = 0; i < STRESS_ITERS; i++) {
    uint64_t r = rng_next(&seed);
    int key = (int)(r % STRESS_KEYS);
    int other = (int)((r >> 20) % STRESS_THREADS);
    int op = (int)((r >> 8) % 100);
    snprintf(k, sizeof k, "t%d:%d", a->id, key);
    size_t nk = strlen(k);
    if (op < 30) {
      size_t n = make_val(v, k, (unsigned)(r >> 32));
      int flags = op < 5 ? PC_SET_NX : op < 10 ? PC_SET_XX : 0;
      int rc = MEM->set(a->b, k, nk, v, n, NEVER, flags, T0);
      int want = (flags == PC_SET_NX && a->present[key])    ? PC_EXISTS
                 : (flags == PC_SET_XX && !a->present[key]) ? PC_NOTFOUND
                                                            : PC_OK;
      if (rc != want) a->bad++;
      if (rc == PC_OK) {
        a->present[key] = 1;
        a->nval[key] = n;
      }
    } else if (op < 40) {
      int rc = MEM->del(a->b, k, nk, T0);
      if (rc != (a->present[key] ? PC_OK : PC_NOTFOUND)) a->bad++;
      a->present[key] = 0;
    } else if (op < 50) {
      int64_t res;
      if (MEM->incr(a->b, "shared", 6, 1, NEVER, T0, &test_codec, &res) !=
          PC_OK)
        a->bad++;
      a->incrs++;
    } else if (op < 55) {
      if (MEM->touch(a->b, k, nk, NEVER, T0) !=
          (a->present[key] ? PC_OK : PC_NOTFOUND))
        a->bad++;
    } else {
      /* get: own key (exact), or another thread's (consistent if found) */
      if (op >= 80) snprintf(k, sizeof k, "t%d:%d", other, key);
      nk = strlen(k);
      pc_buf buf;
      int rc = MEM->get(a->b, k, nk, T0, &buf, NULL);
      if (rc == PC_OK) {
        if (!val_ok(buf.p, buf.n, k, nk)) a->bad++;
        if (op < 80 && buf.n != a->nval[key]) a->bad++;
        pc__buf_release(&buf);
      }
      if (op < 80 && (rc == PC_OK) != a->present[key]) a->bad++;
    }
  }
  return NULL;
}

static void test_stress(void) {
  void *b = mem_open(0, 1024 * MiB); /* 64 shards, no eviction */
  stress_arg args[STRESS_THREADS];
  pthread_t th[STRESS_THREADS];
  memset(args, 0, sizeof args);
  for (int t = 0; t < STRESS_THREADS; t++) {
    args[t].b = b;
    args[t].id = t;
    CHECK_EQ_INT(pthread_create(&th[t], NULL, stress_main, &args[t]), 0);
  }
  int64_t entries = 0, bytes = 0, incrs = 0;
  for (int t = 0; t < STRESS_THREADS; t++) {
    pthread_join(th[t], NULL);
    CHECK_EQ_INT(args[t].bad, 0);
    incrs += args[t].incrs;
    for (int k = 0; k < STRESS_KEYS; k++) {
      if (!args[t].present[k]) continue;
      char key[32];
      entries++;
      bytes += snprintf(key, sizeof key, "t%d:%d", t, k);
      bytes += (int64_t)args[t].nval[k];
    }
  }
  if (incrs) {
    entries++;
    bytes += 6 + 9;
  }
  pc_stats st = stats_of(b);
  CHECK_EQ_INT(st.entries, entries);
  CHECK_EQ_INT(st.bytes, bytes);
  CHECK_EQ_INT(st.evictions, 0);
  CHECK_EQ_INT(st.expirations, 0);
  CHECK_EQ_INT(get_int(b, "shared", T0), incrs);
  int64_t sum;
  CHECK_EQ_INT(scan_all(b, T0, &sum), entries);
  CHECK_EQ_INT(sum, bytes);
  MEM->close(b);
}

/* Gets without the shard lock, against a writer that doubles the tables
** many times, rewrites values of the same size in place, and deletes and
** re-adds: a key inserted before a get started is never missed, and no
** value is ever torn. 32 shards, each doubled from 64 to 8192 buckets on
** the way. */
enum { LF_KEYS = 200000, LF_READERS = 2 };

typedef struct lf_arg {
  void *b;
  _Atomic int published; /* keys g:0 .. published-1 are in */
  _Atomic int done;
  _Atomic int bad;
} lf_arg;

static void *lf_writer(void *p) {
  lf_arg *a = p;
  char k[32], v[512];
  for (int i = 0; i < LF_KEYS; i++) {
    snprintf(k, sizeof k, "g:%d", i);
    size_t n = make_val(v, k, (unsigned)i);
    if (MEM->set(a->b, k, strlen(k), v, n, NEVER, 0, T0) != PC_OK) a->bad++;
    atomic_store(&a->published, i + 1);
    n = make_val(v, "hot", (unsigned)(i % 2) * 200); /* same size: in place */
    if (MEM->set(a->b, "hot", 3, v, n, NEVER, 0, T0) != PC_OK) a->bad++;
    if (i % 5 == 0) {
      MEM->del(a->b, "churn", 5, T0);
      n = make_val(v, "churn", (unsigned)i);
      MEM->set(a->b, "churn", 5, v, n, NEVER, 0, T0);
    }
  }
  atomic_store(&a->done, 1);
  return NULL;
}

static void *lf_reader(void *p) {
  lf_arg *a = p;
  uint64_t seed = (uint64_t)(uintptr_t)&seed;
  char k[32];
  while (!atomic_load(&a->done)) {
    int n = atomic_load(&a->published);
    if (n == 0) continue;
    snprintf(k, sizeof k, "g:%d", (int)(rng_next(&seed) % (uint64_t)n));
    pc_buf v;
    if (MEM->get(a->b, k, strlen(k), T0, &v, NULL) != PC_OK) {
      a->bad++;
      continue;
    }
    if (!val_ok(v.p, v.n, k, strlen(k))) a->bad++;
    pc__buf_release(&v);
    const char *others[] = {"hot", "churn"};
    for (int i = 0; i < 2; i++) {
      if (MEM->get(a->b, others[i], strlen(others[i]), T0, &v, NULL) == PC_OK) {
        if (!val_ok(v.p, v.n, others[i], strlen(others[i]))) a->bad++;
        pc__buf_release(&v);
      }
    }
  }
  return NULL;
}

static void test_lockfree_readers(void) {
  void *b = mem_open(0, 60 * MiB); /* 32 shards, nothing evicted */
  lf_arg a;
  memset(&a, 0, sizeof a);
  a.b = b;
  pthread_t wt, rt[LF_READERS];
  for (int i = 0; i < LF_READERS; i++) {
    CHECK_EQ_INT(pthread_create(&rt[i], NULL, lf_reader, &a), 0);
  }
  CHECK_EQ_INT(pthread_create(&wt, NULL, lf_writer, &a), 0);
  pthread_join(wt, NULL);
  for (int i = 0; i < LF_READERS; i++)
    pthread_join(rt[i], NULL);
  CHECK_EQ_INT(a.bad, 0);
  CHECK_EQ_INT(stats_of(b).entries, LF_KEYS + 2);
  MEM->close(b);
}

/* clear() against gets without the lock and a writer overwriting keys
** (whose limbo work moves the epoch on): a get sees a whole value of its
** own key or nothing, never bytes of a freed or reused slot. */
enum { CR_KEYS = 2000, CR_ROUNDS = 60 };

typedef struct cr_arg {
  void *b;
  _Atomic int done;
  _Atomic int bad;
  int id;
} cr_arg;

static void *cr_writer(void *p) {
  cr_arg *a = p;
  char k[32], v[512];
  for (int r = 0; r < CR_ROUNDS; r++) {
    for (int i = 0; i < CR_KEYS; i++) {
      snprintf(k, sizeof k, "c:%d", (i * 7 + r) % CR_KEYS);
      size_t n = make_val(v, k, (unsigned)(i + r));
      MEM->set(a->b, k, strlen(k), v, n, NEVER, 0, T0);
      if (a->id == 0 && i % 500 == 0) MEM->clear(a->b, T0, NULL);
    }
  }
  return NULL;
}

static void *cr_reader(void *p) {
  cr_arg *a = p;
  uint64_t seed = (uint64_t)(uintptr_t)&seed;
  char k[32];
  while (!atomic_load(&a->done)) {
    snprintf(k, sizeof k, "c:%d", (int)(rng_next(&seed) % CR_KEYS));
    pc_buf v;
    if (MEM->get(a->b, k, strlen(k), T0, &v, NULL) == PC_OK) {
      if (!val_ok(v.p, v.n, k, strlen(k))) atomic_fetch_add(&a->bad, 1);
      pc__buf_release(&v);
    }
  }
  return NULL;
}

static void test_clear_race(void) {
  void *b = mem_open(0, 64 * MiB);
  cr_arg a[2];
  memset(a, 0, sizeof a);
  pthread_t w[2], r;
  for (int i = 0; i < 2; i++) {
    a[i].b = b;
    a[i].id = i;
  }
  CHECK_EQ_INT(pthread_create(&r, NULL, cr_reader, &a[0]), 0);
  for (int i = 0; i < 2; i++)
    CHECK_EQ_INT(pthread_create(&w[i], NULL, cr_writer, &a[i]), 0);
  for (int i = 0; i < 2; i++)
    pthread_join(w[i], NULL);
  atomic_store(&a[0].done, 1);
  pthread_join(r, NULL);
  CHECK_EQ_INT(a[0].bad, 0);
  MEM->close(b);
}

/* Threads filling a bounded cache: evictions = inserts - entries exactly. */
typedef struct fill_arg {
  void *b;
  int id, n;
} fill_arg;

static void *fill_main(void *p) {
  fill_arg *a = p;
  char k[32];
  for (int i = 0; i < a->n; i++) {
    int nk = snprintf(k, sizeof k, "f%d:%d", a->id, i);
    MEM->set(a->b, k, (size_t)nk, "0123456789", 10, NEVER, 0, T0);
    if (i % 16 == 0) {
      pc_buf v;
      if (MEM->get(a->b, k, (size_t)nk, T0, &v, NULL) == PC_OK)
        pc__buf_release(&v);
    }
  }
  return NULL;
}

static void test_stress_bounded(void) {
  void *b = mem_open(4096, 1024 * MiB); /* 4 shards of >= 1024 entries */
  fill_arg args[STRESS_THREADS];
  pthread_t th[STRESS_THREADS];
  for (int t = 0; t < STRESS_THREADS; t++) {
    args[t].b = b;
    args[t].id = t;
    args[t].n = 20000;
    CHECK_EQ_INT(pthread_create(&th[t], NULL, fill_main, &args[t]), 0);
  }
  for (int t = 0; t < STRESS_THREADS; t++)
    pthread_join(th[t], NULL);
  pc_stats st = stats_of(b);
  CHECK(st.entries <= 4096);
  CHECK(st.entries >= 4096 - STRESS_THREADS);
  CHECK_EQ_INT(st.evictions, STRESS_THREADS * 20000 - st.entries);
  int64_t sum;
  CHECK_EQ_INT(scan_all(b, T0, &sum), st.entries);
  CHECK_EQ_INT(sum, st.bytes);
  MEM->close(b);
}

/* ---- Allocation failures ---- */

/* Runs op with allocation N failing, N = 1, 2, ... until it does not fail
** with PC_NOMEM; after each PC_NOMEM, check() must see nothing changed.
** Returns the final code. */
#define OOM_LOOP(rcvar, op, ...)                                               \
  do {                                                                         \
    for (long n_ = 1; n_ < 1000; n_++) {                                       \
      pc_test_fail_after(n_);                                                  \
      rcvar = (op);                                                            \
      pc_test_fail_after(0);                                                   \
      if (rcvar != PC_NOMEM) break;                                            \
      __VA_ARGS__;                                                             \
    }                                                                          \
  } while (0)

#define NEWER "newer, and 40 bytes long................" /* 40 */

static void test_oom(void) {
  long base = pc_test_live;
  int rc;
  void *b = NULL;
  pc_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.max_bytes = 64 * MiB;
  int opens = 0;
  OOM_LOOP(rc, MEM->open(&cfg, &b), opens++; CHECK_EQ_INT(pc_test_live, base));
  CHECK_EQ_INT(rc, PC_OK);
  CHECK(opens > 1);
  char k[32], out[32];
  /* Inserts, through several table doublings (entries share slab pages:
  ** most inserts allocate nothing, the first of a page or a table does). */
  int nomem = 0;
  for (int i = 0; i < 200; i++) {
    snprintf(k, sizeof k, "k%d", i);
    OOM_LOOP(rc, set_s(b, k, "val", NEVER, 0, T0), nomem++;
             CHECK_EQ_INT(stats_of(b).entries, i);
             CHECK_EQ_INT(get_s(b, k, T0, out, sizeof out, NULL), PC_NOTFOUND));
    CHECK_EQ_INT(rc, PC_OK);
  }
  CHECK(nomem >= 1);
  CHECK_EQ_INT(stats_of(b).entries, 200);
  /* Overwrite with a new size (a slot of another class, on a page not yet
  ** made): the old value stays on failure. */
  int failed = 0;
  OOM_LOOP(rc, set_s(b, "k7", NEWER, NEVER, 0, T0), failed++;
           CHECK_EQ_INT(get_s(b, "k7", T0, out, sizeof out, NULL), PC_OK);
           CHECK(strcmp(out, "val") == 0));
  CHECK_EQ_INT(rc, PC_OK);
  CHECK(failed >= 1);
  /* With the same size and no reader, in place: nothing to allocate. */
  pc_test_fail_after(1);
  CHECK_EQ_INT(set_s(b, "k8", "new", NEVER, 0, T0), PC_OK);
  pc_test_fail_after(0);
  CHECK_EQ_INT(stats_of(b).bytes, 200 * 3 + 37 + 10 * 2 + 90 * 3 + 100 * 4);
  /* incr, new and existing. */
  int64_t r = 0;
  OOM_LOOP(rc, MEM->incr(b, "c", 1, 2, NEVER, T0, &test_codec, &r),
           CHECK_EQ_INT(get_s(b, "c", T0, out, sizeof out, NULL), PC_NOTFOUND));
  CHECK_EQ_INT(rc, PC_OK);
  OOM_LOOP(rc, MEM->incr(b, "c", 1, 2, NEVER, T0, &test_codec, &r),
           CHECK_EQ_INT(get_int(b, "c", T0), 2));
  CHECK_EQ_INT(rc, PC_OK);
  CHECK_EQ_INT(get_int(b, "c", T0), 4);
  /* NX on a present key says EXISTS without allocating. */
  OOM_LOOP(rc, set_s(b, "k1", "x", NEVER, PC_SET_NX, T0), (void)0);
  CHECK_EQ_INT(rc, PC_EXISTS);
  /* get, del, touch, clear do not allocate. */
  pc_test_fail_after(1);
  CHECK_EQ_INT(get_s(b, "k1", T0, out, sizeof out, NULL), PC_OK);
  CHECK_EQ_INT(MEM->touch(b, "k1", 2, T0 + 100, T0), PC_OK);
  CHECK_EQ_INT(MEM->del(b, "k2", 2, T0), PC_OK);
  pc_test_fail_after(0);
  /* scan: open, then each next that collects a shard. */
  void *it = NULL;
  OOM_LOOP(rc, MEM->scan_open(b, "k", 1, 0, T0, &it), (void)0);
  CHECK_EQ_INT(rc, PC_OK);
  int items = 0, fails = 0;
  for (;;) {
    pc_backend_item item;
    OOM_LOOP(rc, MEM->scan_next(it, &item), fails++);
    if (rc != PC_OK) break;
    items++;
    pc__buf_release(&item.val);
  }
  CHECK_EQ_INT(rc, PC_DONE);
  CHECK_EQ_INT(items, 199);
  CHECK(fails > 0);
  MEM->scan_close(it);
  /* A scan abandoned after a failure, holding references. */
  CHECK_EQ_INT(MEM->scan_open(b, NULL, 0, 0, T0, &it), PC_OK);
  pc_backend_item item;
  pc_test_fail_after(1);
  CHECK_EQ_INT(MEM->scan_next(it, &item), PC_NOMEM);
  pc_test_fail_after(0);
  CHECK_EQ_INT(MEM->scan_next(it, &item), PC_OK);
  pc__buf_release(&item.val);
  MEM->scan_close(it);
  int64_t removed;
  CHECK_EQ_INT(MEM->clear(b, T0, &removed), PC_OK);
  CHECK_EQ_INT(removed, 200);
  MEM->close(b);
  CHECK_EQ_INT(pc_test_live, base);
}

int main(void) {
  pc_test_use_failing_allocator();
  test_basic();
  test_empty_value();
  test_long_key();
  test_flags();
  test_expiry();
  test_reclaim();
  test_bytes();
  test_lru();
  test_sieve();
  test_s3fifo();
  test_toobig();
  test_incr();
  test_scan();
  test_memory_per_entry();
  static const char *const pols[] = {"s3fifo", "sieve", "lru"};
  for (int p = 0; p < 3; p++) { /* what evicts, under each policy */
    g_policy = pols[p];
    test_max_bytes();
    test_reader_survives();
    test_oom();
  }
  CHECK_EQ_INT(pc_test_live, 0);

  /* Threads: every store closed, every entry and table in limbo and every
  ** slot a reader held must be freed, as without threads. */
  for (int p = 0; p < 3; p++) {
    g_policy = pols[p];
    test_scan_concurrent();
    test_stress_bounded();
    if (p < 2) test_lockfree_readers(); /* LRU's gets take the lock */
    CHECK_EQ_INT(pc_test_live, 0);
  }
  test_clear_race();
  test_stress();
  CHECK_EQ_INT(pc_test_live, 0);
  PC_TEST_END();
}
