/*
** test_hash.c: unit tests of pc__hash (core/pc_hash.c).
**
** The secrets are random per process, so there are no known answers: the
** tests check properties that must hold under any secrets (stable, every
** byte and the length matter, any alignment, no read past the key, the same
** values when many threads make the first call at once) and statistics
** that a good hash meets with overwhelming probability under random secrets
** (no collisions among all short keys, chi-square of bucket and shard
** counts, avalanche). The last test prints a rough timing; it asserts
** nothing.
*/
#include "pc_internal.h"
/* pc_test.h defines static helpers this file does not all use. */
#pragma GCC diagnostic ignored "-Wunused-function"
#include "pc_test.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

static int cmp_u64(const void *x, const void *y) {
  uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
  return a < b ? -1 : a > b;
}

/* The number of values in h[0..n) equal to an earlier one (sorts h). */
static int count_duplicates(uint64_t *h, size_t n) {
  qsort(h, n, sizeof *h, cmp_u64);
  int dup = 0;
  for (size_t i = 1; i < n; i++)
    if (h[i] == h[i - 1]) dup++;
  return dup;
}

/* A fixed-seed generator for the test's random keys. */
static uint64_t rng_state = 0x0123456789abcdefULL;
static uint64_t rng_next(void) {
  uint64_t x = (rng_state += 0x9e3779b97f4a7c15ULL);
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

/* ---- First use from many threads at once (must run first) ---- */

#define NTHREADS 16
static uint64_t thread_results[NTHREADS];
static atomic_int thread_go;

static void *hash_thread(void *arg) {
  int i = (int)(intptr_t)arg;
  while (!atomic_load(&thread_go)) {
  }
  thread_results[i] = pc__hash("concurrent", 10);
  return NULL;
}

static void test_first_use_threads(void) {
  pthread_t th[NTHREADS];
  int started = 0;
  for (int i = 0; i < NTHREADS; i++) {
    if (pthread_create(&th[i], NULL, hash_thread, (void *)(intptr_t)i) != 0)
      break;
    started++;
  }
  atomic_store(&thread_go, 1);
  for (int i = 0; i < started; i++)
    pthread_join(th[i], NULL);
  CHECK(started > 1);
  for (int i = 1; i < started; i++)
    CHECK(thread_results[i] == thread_results[0]);
  CHECK(pc__hash("concurrent", 10) == thread_results[0]);
}

/* ---- Properties that hold under any secrets ---- */

static void test_stable(void) {
  CHECK(pc__hash("hello", 5) == pc__hash("hello", 5));
  char a[] = "hello", b[] = "hello";
  CHECK(pc__hash(a, 5) == pc__hash(b, 5));
  CHECK(pc__hash("hello", 5) != pc__hash("hellp", 5));
  CHECK(pc__hash("hello", 5) != pc__hash("hello", 4));
}

static void test_empty(void) {
  uint64_t h = pc__hash("", 0);
  CHECK(pc__hash(NULL, 0) == h);
  CHECK(pc__hash("x", 0) == h);
  CHECK(pc__hash("\0", 1) != h);
}

static void test_lengths_differ(void) {
  /* Runs of zero bytes of lengths 0..300 read as the same words at many
  ** lengths (all zero up to 16): only the length tells them apart. */
  static const unsigned char zeros[300];
  uint64_t h[301];
  for (size_t n = 0; n <= 300; n++)
    h[n] = pc__hash(zeros, n);
  CHECK_EQ_INT(count_duplicates(h, 301), 0);
}

static void test_bit_flips(void) {
  /* For keys of lengths 1..40 (both paths, one to three folded blocks):
  ** the key and each of its single-bit flips all hash differently. */
  unsigned char k[40];
  uint64_t h[40 * 8 + 1];
  int dup = 0;
  for (size_t n = 1; n <= 40; n++) {
    for (size_t i = 0; i < n; i++)
      k[i] = (unsigned char)(i * 37 + n);
    size_t m = 0;
    h[m++] = pc__hash(k, n);
    for (size_t bit = 0; bit < n * 8; bit++) {
      k[bit / 8] ^= (unsigned char)(1u << (bit % 8));
      h[m++] = pc__hash(k, n);
      k[bit / 8] ^= (unsigned char)(1u << (bit % 8));
    }
    int d = count_duplicates(h, m);
    if (d) fprintf(stderr, "length %zu: %d equal hashes\n", n, d);
    dup += d;
  }
  CHECK_EQ_INT(dup, 0);
}

static void test_unaligned(void) {
  const char *text = "a key that is longer than a few 16-byte blocks, "
                     "so that the folding loop runs too.";
  size_t n = strlen(text);
  unsigned char buf[128];
  int bad = 0;
  for (size_t len = 0; len <= n; len++) {
    uint64_t ref = pc__hash(text, len);
    for (int off = 0; off < 16; off++) {
      memset(buf, 0xaa, sizeof buf);
      memcpy(buf + off, text, len);
      if (pc__hash(buf + off, len) != ref) bad++;
    }
    /* An exact-size heap copy, so ASan sees any read past the end. */
    unsigned char *p = malloc(len ? len : 1);
    if (!p) continue;
    memcpy(p, text, len);
    if (pc__hash(p, len) != ref) bad++;
    free(p);
  }
  CHECK_EQ_INT(bad, 0);
}

/* ---- Statistics under random secrets ---- */

static void test_short_keys_distinct(void) {
  /* The empty key, all 256 one-byte keys and all 65,536 two-byte keys. */
  enum { N = 1 + 256 + 65536 };
  uint64_t *h = malloc(N * sizeof *h);
  CHECK(h != NULL);
  if (!h) return;
  size_t m = 0;
  h[m++] = pc__hash(NULL, 0);
  for (int i = 0; i < 256; i++) {
    unsigned char k = (unsigned char)i;
    h[m++] = pc__hash(&k, 1);
  }
  for (int i = 0; i < 65536; i++) {
    unsigned char k[2] = {(unsigned char)i, (unsigned char)(i >> 8)};
    h[m++] = pc__hash(k, 2);
  }
  CHECK_EQ_INT(m, N);
  CHECK_EQ_INT(count_duplicates(h, m), 0);
  free(h);
}

/* Chi-square of counts[0..n) against total/n each, and whether it is
** below dof + 6 * sqrt(2 * dof) (six standard deviations above its mean). */
static bool chi_square_ok(const char *what, const int *counts, int n,
                          int total) {
  double expect = (double)total / n, chi = 0;
  int lo = total, hi = 0;
  for (int i = 0; i < n; i++) {
    double d = counts[i] - expect;
    chi += d * d / expect;
    if (counts[i] < lo) lo = counts[i];
    if (counts[i] > hi) hi = counts[i];
  }
  double dof = n - 1, bound = dof + 6 * sqrt(2 * dof);
  printf("  %-28s chi2 %8.1f (dof %4.0f, bound %6.1f), counts %d..%d\n", what,
         chi, dof, bound, lo, hi);
  return chi < bound;
}

static void test_distribution(void) {
  /* The memory backend takes the bucket from the low bits of the hash and
  ** the shard from the top bits: both must be even for keys like these. */
  enum { NKEYS = 200000, NBUCKETS = 4096, NSHARDS = 64 };
  static int bucket[NBUCKETS], shard[NSHARDS];
  char k[32];
  for (int i = 0; i < NKEYS; i++) {
    int n = snprintf(k, sizeof k, "key:%d", i);
    uint64_t h = pc__hash(k, (size_t)n);
    bucket[h & (NBUCKETS - 1)]++;
    shard[h >> 58]++;
  }
  CHECK(chi_square_ok("\"key:%d\" low 12 bits", bucket, NBUCKETS, NKEYS));
  CHECK(chi_square_ok("\"key:%d\" top 6 bits", shard, NSHARDS, NKEYS));
}

/* Mean number of output bits that flip when one input bit of a random
** n-byte key flips, over nkeys keys and every input bit; also the lowest and
** highest mean over single input bit positions. */
static double avalanche(size_t n, int nkeys, double *worst_lo,
                        double *worst_hi) {
  unsigned char k[64];
  static long per_bit[64 * 8];
  memset(per_bit, 0, sizeof per_bit);
  long total = 0;
  for (int t = 0; t < nkeys; t++) {
    for (size_t i = 0; i < n; i++)
      k[i] = (unsigned char)rng_next();
    uint64_t base = pc__hash(k, n);
    for (size_t bit = 0; bit < n * 8; bit++) {
      k[bit / 8] ^= (unsigned char)(1u << (bit % 8));
      int flips = __builtin_popcountll(pc__hash(k, n) ^ base);
      k[bit / 8] ^= (unsigned char)(1u << (bit % 8));
      per_bit[bit] += flips;
      total += flips;
    }
  }
  *worst_lo = 64;
  *worst_hi = 0;
  for (size_t bit = 0; bit < n * 8; bit++) {
    double m = (double)per_bit[bit] / nkeys;
    if (m < *worst_lo) *worst_lo = m;
    if (m > *worst_hi) *worst_hi = m;
  }
  return (double)total / ((double)nkeys * (double)(n * 8));
}

static void test_avalanche(void) {
  static const size_t lens[] = {8, 24};
  for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
    double lo, hi, mean = avalanche(lens[i], 10000, &lo, &hi);
    printf("  avalanche, %2zu-byte keys:    mean %.2f output bits per input "
           "bit (per input bit %.2f..%.2f)\n",
           lens[i], mean, lo, hi);
    CHECK(mean > 28 && mean < 36);
  }
}

/* ---- Timing (printed, not asserted) ---- */

static double ns_per_hash(size_t n) {
  /* A pool of different keys: writing into the key just hashed would stall
  ** the next wide load of it (store forwarding) and time that instead. */
  enum { NPOOL = 256, ITER = 2000000 };
  static unsigned char pool[NPOOL][64];
  for (int j = 0; j < NPOOL; j++)
    for (size_t i = 0; i < n; i++)
      pool[j][i] = (unsigned char)('a' + (i * 7 + (size_t)j * 13) % 26);
  uint64_t acc = 0;
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (int i = 0; i < ITER; i++)
    acc += pc__hash(pool[i % NPOOL], n);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double ns =
      (double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec);
  if (acc == 42) printf("(unlikely)\n"); /* keeps acc, and the calls, live */
  return ns / ITER;
}

static void print_timing(void) {
  printf("  timing (not asserted; meaningless under sanitizers):\n");
  printf("    7-byte key:  %.2f ns per hash\n", ns_per_hash(7));
  printf("    64-byte key: %.2f ns per hash\n", ns_per_hash(64));
}

int main(void) {
  test_first_use_threads();
  test_stable();
  test_empty();
  test_lengths_differ();
  test_bit_flips();
  test_unaligned();
  test_short_keys_distinct();
  test_distribution();
  test_avalanche();
  print_timing();
  PC_TEST_END();
}
