/*
** pc_hash.c: the seeded hash of cache keys (pc__hash).
**
** What it owns
**   pc__hash() and the two 64-bit secrets that seed it. The secrets are
**   drawn once per process, under pthread_once, from getrandom(); if that
**   fails, from /dev/urandom; if both fail, from a mix of the clocks, the pid
**   and a stack address (weak, but it still differs between processes).
**   Both are made odd, so a secret used as a multiplier is never zero.
**
** How it works
**   One step is mix(x, y): the 128-bit product x * y, folded to 64 bits by
**   XOR of its halves. A key of 16 bytes or less is read as two 64-bit words
**   a and b (below); a longer key is folded 16 bytes at a time into a
**   chaining value h (h = mix(w0 ^ s1, w1 ^ h), h starting at s0), and its
**   last 16 bytes, which may overlap the last folded block, become a and b.
**   Then h = mix(a ^ s1, b ^ h), and the result is mix(h ^ nkey, s1): the
**   length goes in at the end, through a multiply, so keys that give the
**   same words at different lengths (runs of zeros, say) still differ.
**
**   Keys of 4..16 bytes are read as four 32-bit loads, two from each end:
**   at 0 and n-4, then at 4 and n-8 when n >= 8 (else at 0 and n-4 again).
**   They overlap unless n is 8 or 16, but together they cover every byte,
**   with no branch per length and no read outside the key. Keys of 1..3
**   bytes are read as their first, middle and last bytes. nkey = 0 reads
**   nothing (key may be NULL).
**
** Why it is seeded
**   Keys come from outside. With a fixed function, anyone could compute
**   offline a set of keys that all land in one bucket and turn the chains of
**   the memory backend's hash table into lists. With a per-process secret
**   nobody can precompute such keys. This is not a cryptographic PRF like
**   SipHash (which this file used to implement: 25 ns for a 7-byte key
**   against a few ns here): someone who can watch timings long enough may
**   learn about the secret, and a product with a zero operand forgets the
**   other one. What is at stake is the length of hash chains, not secrets:
**   the memory backend compares full keys, so a collision costs time, never
**   a wrong answer.
*/
#include "pc_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

/* ---- The process secrets ---- */

static uint64_t g_s0, g_s1; /* written once by key_init, then only read */
static _Atomic int g_ready; /* set (release) once g_s0 and g_s1 are written */
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

/* Fills buf from getrandom(); true on success. */
static bool key_from_getrandom(unsigned char *buf, size_t n) {
  size_t got = 0;
  while (got < n) {
    ssize_t r = getrandom(buf + got, n - got, 0);
    if (r < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    got += (size_t)r;
  }
  return true;
}

/* Fills buf from /dev/urandom; true on success. */
static bool key_from_urandom(unsigned char *buf, size_t n) {
  int fd;
  do {
    fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) return false;
  size_t got = 0;
  while (got < n) {
    ssize_t r = read(fd, buf + got, n - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    got += (size_t)r;
  }
  close(fd);
  return got == n;
}

/* splitmix64: spreads the few varying bits of the fallback seed. */
static uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

/* Last resort: the clocks, the pid and a stack address (ASLR). */
static void key_from_time(uint64_t out[2]) {
  struct timespec rt = {0, 0}, mono = {0, 0};
  clock_gettime(CLOCK_REALTIME, &rt);
  clock_gettime(CLOCK_MONOTONIC, &mono);
  uint64_t seed = (uint64_t)rt.tv_sec * 1000000000ULL + (uint64_t)rt.tv_nsec;
  seed ^= splitmix64((uint64_t)mono.tv_sec * 1000000000ULL +
                     (uint64_t)mono.tv_nsec);
  seed ^= splitmix64((uint64_t)getpid() << 32);
  seed ^= splitmix64((uint64_t)(uintptr_t)&seed);
  out[0] = splitmix64(seed);
  out[1] = splitmix64(out[0] ^ 0x5bd1e9955bd1e995ULL);
}

static void key_init(void) {
  uint64_t s[2];
  if (!key_from_getrandom((unsigned char *)s, sizeof s) &&
      !key_from_urandom((unsigned char *)s, sizeof s))
    key_from_time(s);
  g_s0 = s[0] | 1;
  g_s1 = s[1] | 1;
  atomic_store_explicit(&g_ready, 1, memory_order_release);
}

/*
** The slow path of secrets_ready(): the first call(s) in the process. It
** returns only after an acquire load that saw g_ready set, so the reads of
** g_s0 and g_s1 that follow are ordered after key_init's writes.
** pthread_once returns only once key_init has run, so the loop runs at most
** twice.
*/
static __attribute__((noinline, cold)) void secrets_init(void) {
  while (!atomic_load_explicit(&g_ready, memory_order_acquire))
    pthread_once(&g_once, key_init);
}

/* Returns once the secrets can be read: after the first calls, one acquire
** load that finds g_ready set. */
static inline void secrets_ready(void) {
  if (!atomic_load_explicit(&g_ready, memory_order_acquire)) secrets_init();
}

/* ---- The hash ---- */

/* The 128-bit product of x and y, folded to 64 bits by XOR of its halves. */
static inline uint64_t mix(uint64_t x, uint64_t y) {
#ifdef __SIZEOF_INT128__
  __uint128_t r = (__uint128_t)x * y;
  return (uint64_t)r ^ (uint64_t)(r >> 64);
#else
  /* No 128-bit type (32-bit targets): the same product from 32-bit halves. */
  uint64_t xl = (uint32_t)x, xh = x >> 32, yl = (uint32_t)y, yh = y >> 32;
  uint64_t ll = xl * yl, lh = xl * yh, hl = xh * yl, hh = xh * yh;
  uint64_t mid = (ll >> 32) + (uint32_t)lh + (uint32_t)hl;
  uint64_t lo = mid << 32 | (uint32_t)ll;
  uint64_t hi = hh + (lh >> 32) + (hl >> 32) + (mid >> 32);
  return lo ^ hi;
#endif
}

/* Little-endian loads from any alignment (one load instruction each). */
static inline uint64_t load32(const unsigned char *p) {
  uint32_t v;
  memcpy(&v, p, sizeof v);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  v = __builtin_bswap32(v);
#endif
  return v;
}
static inline uint64_t load64(const unsigned char *p) {
  uint64_t v;
  memcpy(&v, p, sizeof v);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  v = __builtin_bswap64(v);
#endif
  return v;
}

/*
** The hash of the nkey bytes at key under the process secrets: the same
** bytes give the same value for the life of the process, and (almost
** always) a different value in another process. nkey may be 0, and key is
** then not read (it may be NULL).
*/
uint64_t pc__hash(const void *key, size_t nkey) {
  secrets_ready();
  const uint64_t s0 = g_s0, s1 = g_s1;
  const unsigned char *p = key;
  uint64_t a = 0, b = 0, h = s0;
  if (nkey <= 16) {
    if (nkey >= 4) {
      size_t mid = (nkey >> 3) << 2; /* 4 if nkey >= 8, else 0 */
      a = load32(p) << 32 | load32(p + mid);
      b = load32(p + nkey - 4) << 32 | load32(p + nkey - 4 - mid);
    } else if (nkey > 0) {
      a = (uint64_t)p[0] << 16 | (uint64_t)p[nkey >> 1] << 8 | p[nkey - 1];
    }
  } else {
    size_t left = nkey;
    while (left > 16) {
      h = mix(load64(p) ^ s1, load64(p + 8) ^ h);
      p += 16;
      left -= 16;
    }
    /* 1..16 bytes are left: read the last 16 bytes of the key. */
    a = load64(p + left - 16);
    b = load64(p + left - 8);
  }
  h = mix(a ^ s1, b ^ h);
  return mix(h ^ (uint64_t)nkey, s1);
}
