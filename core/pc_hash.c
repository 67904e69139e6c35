/*
** pc_hash.c: the seeded hash of cache keys (pc__hash).
**
** What it owns
**   The two 64-bit secrets that seed pc__hash() (pc_hash.h, inline: it runs
**   on every lookup). The secrets are
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
#include "pc_hash.h"
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

uint64_t pc__hash_s0, pc__hash_s1; /* written once by key_init, then read */
_Atomic int pc__hash_ready; /* set (release) once the secrets are written */
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
  pc__hash_s0 = s[0] | 1;
  pc__hash_s1 = s[1] | 1;
  atomic_store_explicit(&pc__hash_ready, 1, memory_order_release);
}

/*
** The slow path of pc__hash_ready_check(): the first call(s) in the process. It
** returns only after an acquire load that saw pc__hash_ready set, so the reads
*of
** pc__hash_s0 and pc__hash_s1 that follow are ordered after key_init's writes.
** pthread_once returns only once key_init has run, so the loop runs at most
** twice.
*/
void pc__hash_init(void) {
  while (!atomic_load_explicit(&pc__hash_ready, memory_order_acquire))
    pthread_once(&g_once, key_init);
}
