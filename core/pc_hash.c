/*
** pc_hash.c: the keyed hash of cache keys (pc__hash).
**
** Owns SipHash (written here from the algorithm description of Aumasson and
** Bernstein) and the process-wide 128-bit hash key.
**
** How it works: pc__hash() is SipHash-1-3 with 64-bit output. The key is
** drawn once per process, under pthread_once, from getrandom(); if that
** fails, from /dev/urandom; if both fail, from a mix of the clocks, the pid
** and a stack address (weak, but it still differs between processes).
** Keys chosen from outside therefore cannot be picked to collide in the
** hash tables of the backends. The round counts are parameters of
** pc__siphash() so that the tests can check the implementation against the
** published SipHash-2-4 vectors. Input bytes are read with memcpy, so any
** alignment is fine.
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

uint64_t pc__siphash(const unsigned char k[16], const void *p, size_t n,
                     int c_rounds, int d_rounds);

static inline uint64_t rotl64(uint64_t x, int b) {
  return (x << b) | (x >> (64 - b));
}

static inline uint64_t load_le64(const unsigned char *p) {
  unsigned char b[8];
  memcpy(b, p, 8);
  return (uint64_t)b[0] | (uint64_t)b[1] << 8 | (uint64_t)b[2] << 16 |
         (uint64_t)b[3] << 24 | (uint64_t)b[4] << 32 | (uint64_t)b[5] << 40 |
         (uint64_t)b[6] << 48 | (uint64_t)b[7] << 56;
}

typedef struct sip_state {
  uint64_t v0, v1, v2, v3;
} sip_state;

static inline void sip_round(sip_state *s) {
  s->v0 += s->v1;
  s->v1 = rotl64(s->v1, 13);
  s->v1 ^= s->v0;
  s->v0 = rotl64(s->v0, 32);
  s->v2 += s->v3;
  s->v3 = rotl64(s->v3, 16);
  s->v3 ^= s->v2;
  s->v0 += s->v3;
  s->v3 = rotl64(s->v3, 21);
  s->v3 ^= s->v0;
  s->v2 += s->v1;
  s->v1 = rotl64(s->v1, 17);
  s->v1 ^= s->v2;
  s->v2 = rotl64(s->v2, 32);
}

static inline void sip_compress(sip_state *s, uint64_t m, int c_rounds) {
  s->v3 ^= m;
  for (int i = 0; i < c_rounds; i++)
    sip_round(s);
  s->v0 ^= m;
}

/*
** SipHash-c-d of (p, n) under the 16-byte key k, 64-bit output. Exposed
** (outside pc_internal.h) only for the known-answer tests; the engine calls
** pc__hash().
*/
uint64_t pc__siphash(const unsigned char k[16], const void *p, size_t n,
                     int c_rounds, int d_rounds) {
  const unsigned char *in = p;
  uint64_t k0 = load_le64(k), k1 = load_le64(k + 8);
  sip_state s = {k0 ^ 0x736f6d6570736575ULL, k1 ^ 0x646f72616e646f6dULL,
                 k0 ^ 0x6c7967656e657261ULL, k1 ^ 0x7465646279746573ULL};
  size_t left = n;
  while (left >= 8) {
    sip_compress(&s, load_le64(in), c_rounds);
    in += 8;
    left -= 8;
  }
  /* The last block: the remaining bytes, and the length (mod 256) in the
  ** top byte. */
  uint64_t b = (uint64_t)(n & 0xff) << 56;
  for (size_t i = 0; i < left; i++)
    b |= (uint64_t)in[i] << (8 * i);
  sip_compress(&s, b, c_rounds);
  s.v2 ^= 0xff;
  for (int i = 0; i < d_rounds; i++)
    sip_round(&s);
  return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}

/* ---- The process key ---- */

static unsigned char g_key[16];
static pthread_once_t g_key_once = PTHREAD_ONCE_INIT;
static uint64_t g_k0, g_k1; /* the key as the multipliers, made odd */
static _Atomic int g_ready; /* set once g_k0 and g_k1 hold the key */

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
static uint64_t mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

/* Last resort: the clocks, the pid and a stack address (ASLR). */
static void key_from_time(unsigned char *buf) {
  struct timespec rt = {0, 0}, mono = {0, 0};
  clock_gettime(CLOCK_REALTIME, &rt);
  clock_gettime(CLOCK_MONOTONIC, &mono);
  uint64_t seed = (uint64_t)rt.tv_sec * 1000000000ULL + (uint64_t)rt.tv_nsec;
  seed ^= mix64((uint64_t)mono.tv_sec * 1000000000ULL + (uint64_t)mono.tv_nsec);
  seed ^= mix64((uint64_t)getpid() << 32);
  seed ^= mix64((uint64_t)(uintptr_t)&seed);
  uint64_t a = mix64(seed), b = mix64(a ^ 0x5bd1e9955bd1e995ULL);
  memcpy(buf, &a, 8);
  memcpy(buf + 8, &b, 8);
}

static void key_init(void) {
  unsigned char k[16];
  if (!key_from_getrandom(k, sizeof k) && !key_from_urandom(k, sizeof k))
    key_from_time(k);
  memcpy(g_key, k, sizeof k);
  g_k0 = load_le64(k) | 1;
  g_k1 = load_le64(k + 8) | 1;
  atomic_store_explicit(&g_ready, 1, memory_order_release);
}

/*
** SipHash-1-3 of the key bytes under the process key. The same bytes give
** the same value for the life of the process, and a different value in
** another process. nkey may be 0 (key may then be NULL).
*/
static inline uint64_t fold_mul(uint64_t a, uint64_t b) {
  __uint128_t r = (__uint128_t)a * b;
  return (uint64_t)r ^ (uint64_t)(r >> 64);
}
static inline uint64_t load_le32(const unsigned char *p) {
  return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 |
         (uint64_t)p[3] << 24;
}

uint64_t pc__hash(const void *key, size_t nkey) {
  if (!atomic_load_explicit(&g_ready, memory_order_acquire))
    pthread_once(&g_key_once, key_init);
  uint64_t k0 = g_k0, k1 = g_k1;
  const unsigned char *p = key;
  uint64_t a, b, seed = k0;
  if (nkey <= 16) {
    if (nkey >= 4) {
      size_t mid = (nkey >> 3) << 2;
      a = load_le32(p) << 32 | load_le32(p + mid);
      b = load_le32(p + nkey - 4) << 32 | load_le32(p + nkey - 4 - mid);
    } else if (nkey > 0) {
      a = (uint64_t)p[0] << 16 | (uint64_t)p[nkey >> 1] << 8 | p[nkey - 1];
      b = 0;
    } else {
      a = b = 0;
    }
  } else {
    size_t i = nkey;
    while (i > 16) {
      seed = fold_mul(load_le64(p) ^ k1, load_le64(p + 8) ^ seed);
      p += 16;
      i -= 16;
    }
    a = load_le64(p + i - 16);
    b = load_le64(p + i - 8);
  }
  return fold_mul(k1 ^ nkey, fold_mul(a ^ k1, b ^ seed));
}
