/*
** test_hash.c: unit tests of pc__hash (core/pc_hash.c).
**
** The process key is random, so pc__hash() itself is checked for its
** properties (stable, sensitive to every byte and to the length, any
** alignment, thread-safe first use). The SipHash core is checked through
** pc__siphash() with the rounds set to 2-4 against the 64 published
** SipHash-2-4 vectors (key 00..0f, message 00..n-1), and with 1-3 against
** SipHash-1-3 values other implementations publish for the all-zero key.
*/
#include "pc_internal.h"
/* pc_test.h defines static helpers this file does not all use. */
#pragma GCC diagnostic ignored "-Wunused-function"
#include "pc_test.h"

#include <pthread.h>

uint64_t pc__siphash(const unsigned char k[16], const void *p, size_t n,
                     int c_rounds, int d_rounds);

/* SipHash-2-4, key 00 01 .. 0f, message 00 01 .. (n-1), n = 0..63: the
** vectors of the SipHash paper / reference implementation, as 64-bit
** little-endian words. */
static const uint64_t sip24_vectors[64] = {
    0x726fdb47dd0e0e31ULL, 0x74f839c593dc67fdULL, 0x0d6c8009d9a94f5aULL,
    0x85676696d7fb7e2dULL, 0xcf2794e0277187b7ULL, 0x18765564cd99a68dULL,
    0xcbc9466e58fee3ceULL, 0xab0200f58b01d137ULL, 0x93f5f5799a932462ULL,
    0x9e0082df0ba9e4b0ULL, 0x7a5dbbc594ddb9f3ULL, 0xf4b32f46226bada7ULL,
    0x751e8fbc860ee5fbULL, 0x14ea5627c0843d90ULL, 0xf723ca908e7af2eeULL,
    0xa129ca6149be45e5ULL, 0x3f2acc7f57c29bdbULL, 0x699ae9f52cbe4794ULL,
    0x4bc1b3f0968dd39cULL, 0xbb6dc91da77961bdULL, 0xbed65cf21aa2ee98ULL,
    0xd0f2cbb02e3b67c7ULL, 0x93536795e3a33e88ULL, 0xa80c038ccd5ccec8ULL,
    0xb8ad50c6f649af94ULL, 0xbce192de8a85b8eaULL, 0x17d835b85bbb15f3ULL,
    0x2f2e6163076bcfadULL, 0xde4daaaca71dc9a5ULL, 0xa6a2506687956571ULL,
    0xad87a3535c49ef28ULL, 0x32d892fad841c342ULL, 0x7127512f72f27cceULL,
    0xa7f32346f95978e3ULL, 0x12e0b01abb051238ULL, 0x15e034d40fa197aeULL,
    0x314dffbe0815a3b4ULL, 0x027990f029623981ULL, 0xcadcd4e59ef40c4dULL,
    0x9abfd8766a33735cULL, 0x0e3ea96b5304a7d0ULL, 0xad0c42d6fc585992ULL,
    0x187306c89bc215a9ULL, 0xd4a60abcf3792b95ULL, 0xf935451de4f21df2ULL,
    0xa9538f0419755787ULL, 0xdb9acddff56ca510ULL, 0xd06c98cd5c0975ebULL,
    0xe612a3cb9ecba951ULL, 0xc766e62cfcadaf96ULL, 0xee64435a9752fe72ULL,
    0xa192d576b245165aULL, 0x0a8787bf8ecb74b2ULL, 0x81b3e73d20b49b6fULL,
    0x7fa8220ba3b2eceaULL, 0x245731c13ca42499ULL, 0xb78dbfaf3a8d83bdULL,
    0xea1ad565322a1a0bULL, 0x60e61c23a3795013ULL, 0x6606d7e446282b93ULL,
    0x6ca4ecb15c5f91e1ULL, 0x9f626da15c9625f3ULL, 0xe51b38608ef25f57ULL,
    0x958a324ceb064572ULL,
};

/* ---- First use from many threads at once ---- */

#define NTHREADS 8
static uint64_t thread_results[NTHREADS];

static void *hash_thread(void *arg) {
  int i = (int)(intptr_t)arg;
  thread_results[i] = pc__hash("concurrent", 10);
  return NULL;
}

static void test_first_use_threads(void) {
  pthread_t th[NTHREADS];
  int started = 0;
  for (int i = 0; i < NTHREADS; i++) {
    if (pthread_create(&th[i], NULL, hash_thread, (void *)(intptr_t)i) == 0)
      started++;
    else
      break;
  }
  for (int i = 0; i < started; i++)
    pthread_join(th[i], NULL);
  CHECK(started > 0);
  for (int i = 1; i < started; i++)
    CHECK(thread_results[i] == thread_results[0]);
  CHECK(pc__hash("concurrent", 10) == thread_results[0]);
}

/* ---- Known answers ---- */

static void test_siphash24_vectors(void) {
  unsigned char key[16], msg[64];
  for (int i = 0; i < 16; i++)
    key[i] = (unsigned char)i;
  for (int i = 0; i < 64; i++)
    msg[i] = (unsigned char)i;
  int bad = 0;
  for (size_t n = 0; n < 64; n++) {
    if (pc__siphash(key, msg, n, 2, 4) != sip24_vectors[n]) {
      fprintf(stderr, "siphash-2-4 vector %zu differs\n", n);
      bad++;
    }
  }
  CHECK_EQ_INT(bad, 0);
  CHECK(pc__siphash(key, "", 0, 2, 4) == 0x726fdb47dd0e0e31ULL);
  CHECK(pc__siphash(key, msg, 1, 2, 4) == 0x74f839c593dc67fdULL);
  CHECK(pc__siphash(key, msg, 2, 2, 4) == 0x0d6c8009d9a94f5aULL);

  /* The same through a misaligned key and message. */
  unsigned char kbuf[17 + 8], mbuf[64 + 8];
  for (int off = 1; off < 8; off++) {
    memcpy(kbuf + off, key, 16);
    memcpy(mbuf + off, msg, 64);
    int bad2 = 0;
    for (size_t n = 0; n < 64; n++)
      if (pc__siphash(kbuf + off, mbuf + off, n, 2, 4) != sip24_vectors[n])
        bad2++;
    CHECK_EQ_INT(bad2, 0);
  }
}

static void test_siphash13_vectors(void) {
  /* SipHash-1-3 has no vectors in the SipHash paper; these values, for the
  ** all-zero key, are the ones other implementations check against the
  ** reference code run with 1-3 rounds (message 00..n-1, and "siphash"). */
  unsigned char zero[16] = {0}, msg[3] = {0, 1, 2};
  CHECK(pc__siphash(zero, msg, 0, 1, 3) == 0xd1fba762150c532cULL);
  CHECK(pc__siphash(zero, msg, 1, 1, 3) == 0x68a914128e01e473ULL);
  CHECK(pc__siphash(zero, msg, 2, 1, 3) == 0x010bac45c41e3669ULL);
  CHECK(pc__siphash(zero, "siphash", 7, 1, 3) == 0x8264ceeccb16bcbeULL);
  /* The rounds matter. */
  CHECK(pc__siphash(zero, msg, 0, 1, 3) != pc__siphash(zero, msg, 0, 2, 4));
}

/* ---- Properties of pc__hash ---- */

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
  /* Runs of zero bytes of lengths 0..256 (the length is mixed in, also
  ** past 255 where only its low byte is in the last block): all distinct. */
  static unsigned char zeros[300];
  enum { N = 257 };
  static uint64_t h[N];
  for (int n = 0; n < N; n++)
    h[n] = pc__hash(zeros, (size_t)n);
  int same = 0;
  for (int i = 0; i < N; i++)
    for (int j = i + 1; j < N; j++)
      if (h[i] == h[j]) same++;
  CHECK_EQ_INT(same, 0);
}

static void test_bytes_differ(void) {
  /* Every single-bit change of a 24-byte key changes the hash. */
  unsigned char k[24];
  for (int i = 0; i < 24; i++)
    k[i] = (unsigned char)(i * 37 + 5);
  uint64_t base = pc__hash(k, sizeof k);
  int same = 0;
  for (int bit = 0; bit < 24 * 8; bit++) {
    k[bit / 8] ^= (unsigned char)(1u << (bit % 8));
    if (pc__hash(k, sizeof k) == base) same++;
    k[bit / 8] ^= (unsigned char)(1u << (bit % 8));
  }
  CHECK_EQ_INT(same, 0);
  CHECK(pc__hash(k, sizeof k) == base);
}

static void test_unaligned(void) {
  const char *text = "a key that is longer than a few SipHash blocks.";
  size_t n = strlen(text);
  unsigned char buf[128];
  uint64_t ref = pc__hash(text, n);
  for (int off = 0; off < 16; off++) {
    memset(buf, 0xaa, sizeof buf);
    memcpy(buf + off, text, n);
    CHECK(pc__hash(buf + off, n) == ref);
  }
  /* Exact-size heap copies, so ASan sees any read past the end. */
  for (size_t len = 0; len <= n; len++) {
    unsigned char *p = malloc(len ? len : 1);
    if (!p) continue;
    memcpy(p, text, len);
    CHECK(pc__hash(p, len) == pc__hash(text, len));
    free(p);
  }
}

int main(void) {
  test_first_use_threads();
  test_siphash24_vectors();
  test_siphash13_vectors();
  test_stable();
  test_empty();
  test_lengths_differ();
  test_bytes_differ();
  test_unaligned();
  PC_TEST_END();
}
