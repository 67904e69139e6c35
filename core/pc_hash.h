/*
** pc_hash.h: the seeded hash of cache keys, inline because it runs on every
** lookup (a call costs a fifth of the hash). How it works and why it is
** seeded: pc_hash.c, which owns the secrets.
*/
#ifndef PC_HASH_H
#define PC_HASH_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

extern uint64_t pc__hash_s0, pc__hash_s1; /* the process secrets (odd) */
extern _Atomic int pc__hash_ready;        /* set once they are written */

/* Draws the secrets on first use; returns once they can be read. */
__attribute__((cold)) void pc__hash_init(void);

/* Returns once the secrets can be read: after the first calls, one acquire
** load that finds pc__hash_ready set. */
static inline void pc__hash_ready_check(void) {
  if (!atomic_load_explicit(&pc__hash_ready, memory_order_acquire))
    pc__hash_init();
}

/* ---- The hash ---- */

/* The 128-bit product of x and y, folded to 64 bits by XOR of its halves. */
static inline uint64_t pc__mix(uint64_t x, uint64_t y) {
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
static inline uint64_t pc__load32(const unsigned char *p) {
  uint32_t v;
  memcpy(&v, p, sizeof v);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  v = __builtin_bswap32(v);
#endif
  return v;
}
static inline uint64_t pc__load64(const unsigned char *p) {
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
static inline uint64_t pc__hash(const void *key, size_t nkey) {
  pc__hash_ready_check();
  const uint64_t s0 = pc__hash_s0, s1 = pc__hash_s1;
  const unsigned char *p = key;
  uint64_t a = 0, b = 0, h = s0;
  if (nkey <= 16) {
    if (nkey >= 4) {
      size_t mid = (nkey >> 3) << 2; /* 4 if nkey >= 8, else 0 */
      a = pc__load32(p) << 32 | pc__load32(p + mid);
      b = pc__load32(p + nkey - 4) << 32 | pc__load32(p + nkey - 4 - mid);
    } else if (nkey > 0) {
      a = (uint64_t)p[0] << 16 | (uint64_t)p[nkey >> 1] << 8 | p[nkey - 1];
    }
  } else {
    size_t left = nkey;
    while (left > 16) {
      h = pc__mix(pc__load64(p) ^ s1, pc__load64(p + 8) ^ h);
      p += 16;
      left -= 16;
    }
    /* 1..16 bytes are left: read the last 16 bytes of the key. */
    a = pc__load64(p + left - 16);
    b = pc__load64(p + left - 8);
  }
  h = pc__mix(a ^ s1, b ^ h);
  return pc__mix(h ^ (uint64_t)nkey, s1);
}

#endif /* PC_HASH_H */
