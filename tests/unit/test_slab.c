/*
** test_slab.c: unit tests of the slab allocator (core/pc_slab.c).
**
** Every slot is filled with its own handle, so a slot that overlaps another
** or moves shows up as a wrong pattern. The tests run on pc_test.h's
** allocator, which counts live blocks and bytes (thread-safe): what the
** slab holds is checked against its layout and every test proves it frees
** all; the out-of-memory test fails each allocation in turn. The threaded tests
*(readers resolving
** handles while pages are added, orphans freed from two threads while other
** slabs close) are for -fsanitize=thread; the rest for -fsanitize=address.
*/
#include "pc_internal.h"
#include "pc_slab.h"
#include "pc_test.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <unistd.h>

#define PAGE PC_SLAB_PAGE
#define HDR PC_SLAB_PAGE_HEADER
#define CHUNK_BYTES ((size_t)sizeof(uintptr_t) << PC_SLAB_CHUNK_BITS)

/* ---- The slab under test ---- */

/* pc_test_bytes when the slab under test was made: what it holds from the
** allocator (its footprint) is pc_test_bytes - g_base. */
static size_t g_base;

static pc_slab *slab_new(void) {
  g_base = pc_test_bytes;
  return pc__slab_new();
}
static size_t footprint(void) {
  return pc_test_bytes - g_base;
}

/* ---- Helpers ---- */

static uint64_t g_rng = 0x9E3779B97F4A7C15ull;
static uint32_t rnd(void) { /* xorshift64* */
  g_rng ^= g_rng >> 12;
  g_rng ^= g_rng << 25;
  g_rng ^= g_rng >> 27;
  return (uint32_t)((g_rng * 0x2545F4914F6CDD1Dull) >> 32);
}

/* Fills n bytes at p with handle h's pattern; checks it is still there. */
static void fill(void *p, size_t n, uint32_t h) {
  unsigned char *b = p;
  for (size_t i = 0; i < n; i++)
    b[i] = (unsigned char)(h >> (8 * (i & 3))) ^ (unsigned char)(i >> 2);
}
static int intact(const void *p, size_t n, uint32_t h) {
  const unsigned char *b = p;
  for (size_t i = 0; i < n; i++)
    if (b[i] != ((unsigned char)(h >> (8 * (i & 3))) ^ (unsigned char)(i >> 2)))
      return 0;
  return 1;
}

static int cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return x < y ? -1 : x > y;
}

typedef struct {
  uint32_t h; /* 0: no slot */
  size_t n;
  void *p;
} slot;

/* Checks every live slot of sl[0..n): its pattern, its address by handle,
** and that no two share a handle. */
static void verify(pc_slab *s, const slot *sl, size_t n) {
  uint32_t *hs = malloc(n * sizeof *hs);
  size_t k = 0, bad = 0;
  for (size_t i = 0; i < n; i++) {
    if (!sl[i].h) continue;
    hs[k++] = sl[i].h;
    if (pc__slab_ptr(s, sl[i].h) != sl[i].p ||
        !intact(sl[i].p, sl[i].n, sl[i].h))
      bad++;
  }
  CHECK_EQ_INT(bad, 0);
  qsort(hs, k, sizeof *hs, cmp_u32);
  size_t dup = 0;
  for (size_t i = 1; i < k; i++)
    dup += hs[i] == hs[i - 1];
  CHECK_EQ_INT(dup, 0);
  free(hs);
}

/* Chunks of the page table: enough for the indexes s has used. */
static size_t chunks(const pc_slab *s) {
  return (s->nindex + (1u << PC_SLAB_CHUNK_BITS) - 1) >> PC_SLAB_CHUNK_BITS;
}

/* Allocates n bytes into *sl and fills it; 0 on failure. */
static int take(pc_slab *s, slot *sl, size_t n) {
  uint32_t h = 0;
  void *p = pc__slab_alloc(s, n, &h);
  if (!p) return 0;
  CHECK(h != 0);
  CHECK(((uintptr_t)p & 7) == 0);
  CHECK(pc__slab_ptr(s, h) == p);
  fill(p, n, h);
  sl->h = h;
  sl->n = n;
  sl->p = p;
  return 1;
}

/* The slot sizes where a class begins: bounds[i] is the size of class i. */
static size_t g_bounds[PC_SLAB_NCLASS];
static size_t g_nbounds;

/* ---- Size classes ---- */

static void test_classes(void) {
  g_nbounds = 0;
  size_t prev = 0;
  for (size_t n = 1; n <= PC_SLAB_MAX_SLOT + 64; n++) {
    size_t c = pc__slab_slot_size(n);
    if (n > PC_SLAB_MAX_SLOT) {
      CHECK_EQ_INT(c, 0);
      continue;
    }
    CHECK(c >= n && c % 8 == 0);
    if (c != prev) {
      CHECK(c > prev && n == prev + 1); /* classes ascend, no gap */
      if (g_nbounds < PC_SLAB_NCLASS) g_bounds[g_nbounds] = c;
      g_nbounds++;
      /* 8-byte steps to 1 KiB; above, a slot's share of its page is
      ** within 9/8 of the smallest request of its class. */
      size_t share = (PAGE - HDR) / ((PAGE - HDR) / c);
      if (c <= 1024)
        CHECK_EQ_INT(c, n + 7 - (n + 7) % 8);
      else
        CHECK(share * 8 <= 9 * n);
      prev = c;
    }
  }
  CHECK_EQ_INT(g_nbounds, PC_SLAB_NCLASS);
  CHECK_EQ_INT(prev, PC_SLAB_MAX_SLOT);
  CHECK_EQ_INT(pc__slab_slot_size(0), 8);

  /* The slab uses each class as declared: in a fresh slab, requests of a
  ** class's size on one page are one slot apart (a class's first pages may
  ** hold one slot: take a few), and one byte more goes to another page
  ** (or, past the last class, an allocation of its own). */
  pc_test_use_failing_allocator();
  long blocks0 = pc_test_live;
  pc_slab *s = slab_new();
  for (size_t i = 0; i < g_nbounds; i++) {
    size_t c = g_bounds[i];
    slot a[12], d;
    int pairs = 0, apart = 0, other = 1;
    CHECK(take(s, &d, c + 1));
    for (int j = 0; j < 12; j++) {
      CHECK(take(s, &a[j], c));
      other &= a[j].h >> PC_SLAB_OFF_BITS != d.h >> PC_SLAB_OFF_BITS;
      if (j && a[j].h >> PC_SLAB_OFF_BITS == a[j - 1].h >> PC_SLAB_OFF_BITS) {
        pairs++;
        apart += (char *)a[j].p - (char *)a[j - 1].p == (ptrdiff_t)c;
      }
    }
    CHECK(pairs > 0 && apart == pairs && other);
    CHECK(intact(d.p, c + 1, d.h));
    pc__slab_free(s, d.h);
    for (int j = 0; j < 12; j++) {
      CHECK(intact(a[j].p, c, a[j].h));
      pc__slab_free(s, a[j].h);
    }
  }
  /* Large requests: exactly their size rounded to 8 plus the header. */
  size_t large[] = {PC_SLAB_MAX_SLOT + 1, 8192, 16385, 100000, 1 << 20};
  for (size_t i = 0; i < sizeof large / sizeof *large; i++) {
    size_t fp = footprint();
    slot a;
    CHECK(take(s, &a, large[i]));
    CHECK_EQ_INT((a.h & ((1u << PC_SLAB_OFF_BITS) - 1)) * 8, HDR);
    CHECK_EQ_INT(footprint() - fp, HDR + ((large[i] + 7) & ~7u));
    CHECK(intact(a.p, a.n, a.h));
    pc__slab_free(s, a.h);
    CHECK_EQ_INT(footprint(), fp);
  }
  pc__slab_close(s);
  CHECK_EQ_INT(pc_test_live, blocks0);
}

/* ---- Round trips ---- */

#define NSLOT 4096

static void test_round_trips(void) {
  pc_test_use_failing_allocator();
  long blocks0 = pc_test_live;
  size_t bytes0 = pc_test_bytes;
  pc_slab *s = pc__slab_new();
  CHECK(s != NULL);
  static slot sl[NSLOT];
  memset(sl, 0, sizeof sl);
  for (int step = 0; step < 120000; step++) {
    slot *x = &sl[rnd() % NSLOT];
    if (x->h) {
      CHECK(intact(x->p, x->n, x->h));
      pc__slab_free(s, x->h);
      x->h = 0;
      continue;
    }
    uint32_t r = rnd();
    /* Mostly small, some up to the largest class, a few large. */
    size_t n = r % 16 == 0  ? 1 + r % 20000
               : r % 4 == 0 ? 1 + r % PC_SLAB_MAX_SLOT
                            : 1 + r % 300;
    CHECK(take(s, x, n));
    if (step % 20000 == 19999) {
      verify(s, sl, NSLOT);
    }
  }
  verify(s, sl, NSLOT);

  /* Reuse after free: the slot freed last is the next of its class. */
  slot a, b;
  CHECK(take(s, &a, 100));
  uint32_t ha = a.h;
  pc__slab_free(s, a.h);
  CHECK(take(s, &b, 97));
  CHECK_EQ_INT(b.h, ha);
  CHECK(b.p == a.p);
  pc__slab_free(s, b.h);
  pc__slab_free(s, 0); /* nothing */

  for (size_t i = 0; i < NSLOT; i++)
    if (sl[i].h) pc__slab_free(s, sl[i].h);
  pc__slab_close(s);
  CHECK_EQ_INT(pc_test_live, blocks0);
  CHECK_EQ_INT(pc_test_bytes, bytes0);
}

/* ---- Footprint ---- */

static void test_footprint(void) {
  pc_test_use_failing_allocator();
  long blocks0 = pc_test_live;
  size_t bytes0 = pc_test_bytes;
  pc_slab *s = slab_new();
  size_t base = footprint();
  CHECK_EQ_INT(base, sizeof(pc_slab));

  /* One slot of each class: a first page of about 4 KiB each. */
  uint32_t one[PC_SLAB_NCLASS];
  size_t small = base + CHUNK_BYTES;
  for (size_t i = 0; i < g_nbounds; i++) {
    CHECK(pc__slab_alloc(s, g_bounds[i], &one[i]) != NULL);
    small += g_bounds[i] + HDR > 4096
                 ? g_bounds[i] + HDR
                 : HDR + (4096 - HDR) / g_bounds[i] * g_bounds[i];
  }
  CHECK_EQ_INT(footprint(), small);
  for (size_t i = 0; i < g_nbounds; i++)
    pc__slab_free(s, one[i]);

  /* 300 slots of each class (several pages for the big ones) and 50 large
  ** ones, freed in random order. */
  enum { PER = 300, NLARGE = 50 };
  size_t n = g_nbounds * PER + NLARGE;
  slot *sl = calloc(n, sizeof *sl);
  for (size_t i = 0; i < g_nbounds * PER; i++)
    CHECK(take(s, &sl[i], g_bounds[i % g_nbounds] - i % 8));
  for (size_t i = g_nbounds * PER; i < n; i++)
    CHECK(take(s, &sl[i], PC_SLAB_MAX_SLOT + 1 + rnd() % 50000));
  verify(s, sl, n);
  for (size_t i = n - 1; i > 0; i--) { /* shuffle */
    size_t j = rnd() % (i + 1);
    slot t = sl[i];
    sl[i] = sl[j];
    sl[j] = t;
  }
  for (size_t i = 0; i < n; i++) {
    pc__slab_free(s, sl[i].h);
    sl[i].h = 0;
    if (i % 10000 == 0) verify(s, sl, n);
  }
  /* Empty: the slab, its page table's chunks and one spare page (of at
  ** most 64 KiB) per class. */
  size_t empty = footprint();
  CHECK_EQ_INT(pc_test_live - blocks0, 1 + chunks(s) + g_nbounds);
  CHECK(empty <= base + chunks(s) * CHUNK_BYTES + g_nbounds * (size_t)PAGE);

  /* The spares serve the next page's worth of each class. */
  for (size_t i = 0; i < g_nbounds; i++)
    CHECK(take(s, &sl[i], g_bounds[i]));
  CHECK_EQ_INT(footprint(), empty);
  for (size_t i = 0; i < g_nbounds; i++)
    pc__slab_free(s, sl[i].h);
  CHECK_EQ_INT(footprint(), empty);
  free(sl);
  pc__slab_close(s);
  CHECK_EQ_INT(pc_test_live, blocks0);
  CHECK_EQ_INT(pc_test_bytes, bytes0);
}

/* ---- Running out of page indexes ---- */

static void test_exhaustion(void) {
  pc_test_use_failing_allocator();
  long blocks0 = pc_test_live;
  pc_slab *s = pc__slab_new();
  s->max_index = 4; /* indexes 1..3 */
  static slot sl[4 * ((PAGE - HDR) / 8)];
  size_t k = 0;
  while (k < sizeof sl / sizeof *sl && take(s, &sl[k], 8))
    k++;
  CHECK(k > 3 && k < sizeof sl / sizeof *sl);
  CHECK_EQ_INT(pc_test_live - blocks0, 1 + 1 + 3); /* slab, chunk, 3 pages */
  uint32_t h = 1234;
  CHECK(pc__slab_alloc(s, 8, &h) == NULL);
  CHECK(pc__slab_alloc(s, 100, &h) == NULL);
  CHECK(pc__slab_alloc(s, 100000, &h) == NULL);
  CHECK_EQ_INT(h, 1234);
  pc__slab_free(s, sl[7].h);
  slot x;
  CHECK(take(s, &x, 5));
  CHECK_EQ_INT(x.h, sl[7].h);
  sl[7] = x;
  verify(s, sl, k);
  /* A page emptied (the class's spare) serves another class only once
  ** freed: empty page 1, then page 2. */
  for (size_t i = 0; i < k; i++) {
    if (sl[i].h >> PC_SLAB_OFF_BITS < 3) {
      pc__slab_free(s, sl[i].h);
      sl[i].h = 0;
    }
  }
  CHECK_EQ_INT(pc_test_live - blocks0, 1 + 1 + 2);
  slot y;
  CHECK(take(s, &y, 100000)); /* page 2's index */
  CHECK_EQ_INT(y.h >> PC_SLAB_OFF_BITS, 2);
  CHECK(pc__slab_alloc(s, 100000, &h) == NULL);
  pc__slab_free(s, y.h);
  for (size_t i = 0; i < k; i++)
    if (sl[i].h) pc__slab_free(s, sl[i].h);
  pc__slab_close(s);
  CHECK_EQ_INT(pc_test_live, blocks0);
}

/* ---- Out of memory ---- */

static void oom_attempt(void) {
  pc_slab *s = slab_new();
  if (!s) return;
  size_t sizes[] = {8, 100, 1024, 2000, 7000, 9000, 100, 20000, 8};
  uint32_t hs[sizeof sizes / sizeof *sizes];
  size_t k = 0;
  for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
    size_t fp = footprint();
    uint32_t h = 0;
    void *p = pc__slab_alloc(s, sizes[i], &h);
    if (!p) {
      CHECK_EQ_INT(h, 0);
      /* At most a page table chunk was kept. */
      CHECK(footprint() == fp || footprint() == fp + CHUNK_BYTES);
      continue;
    }
    fill(p, sizes[i], h);
    hs[k++] = h;
  }
  for (size_t i = 0; i < k; i++)
    pc__slab_free(s, hs[i]);
  pc__slab_close(s);
}

static void test_oom(void) {
  pc_test_use_failing_allocator();
  pc_test_each_allocation_failing(oom_attempt, 50);
  /* A closed slab whose orphans come back after a failed allocation. */
  long live0 = pc_test_live;
  pc_test_fail_after(4); /* slab, chunk, page, then the second page */
  pc_slab *s = pc__slab_new();
  uint32_t h;
  void *p = pc__slab_alloc(s, 64, &h);
  CHECK(p != NULL);
  CHECK(pc__slab_alloc(s, 2000, &h) == NULL);
  pc_test_fail_after(0);
  pc__slab_close(s);
  CHECK(pc_test_live > live0);
  pc__slab_free_orphan(p);
  CHECK_EQ_INT(pc_test_live, live0);
}

/* ---- Close ---- */

static void test_close_empty(void) {
  pc_test_use_failing_allocator();
  long blocks0 = pc_test_live;
  pc__slab_close(NULL);
  pc__slab_free_orphan(NULL);
  pc__slab_close(pc__slab_new());
  CHECK_EQ_INT(pc_test_live, blocks0);
  pc_slab *s = pc__slab_new();
  uint32_t hs[64];
  for (int i = 0; i < 64; i++)
    CHECK(pc__slab_alloc(s, 1 + (size_t)i * 300, &hs[i]) != NULL);
  for (int i = 0; i < 64; i++)
    pc__slab_free(s, hs[i]);
  pc__slab_close(s);
  CHECK_EQ_INT(pc_test_live, blocks0);
}

/* Orphans of two closed slabs, freed by two threads at once, while the
** main thread opens and closes other slabs. */
#define NORPH 3000

typedef struct {
  slot *a, *b; /* the slots of the two slabs */
  int parity;  /* this thread frees a[i] for i % 2 == parity, b[] others */
  size_t bad;  /* slots found changed before their free */
} orph_job;

static void *orph_thread(void *arg) {
  orph_job *j = arg;
  for (int i = 0; i < NORPH; i++) {
    slot *x = i % 2 == j->parity ? &j->a[i] : &j->b[i];
    if (!x->h) continue;
    j->bad += !intact(x->p, x->n, x->h);
    pc__slab_free_orphan(x->p);
  }
  return NULL;
}

static void fill_orphans(pc_slab *s, slot *sl) {
  for (int i = 0; i < NORPH; i++) {
    uint32_t r = rnd();
    CHECK(take(s, &sl[i], r % 8 == 0 ? 1 + r % 30000 : 1 + r % 3000));
  }
  for (int i = 0; i < NORPH; i += 3) { /* the owner frees some */
    pc__slab_free(s, sl[i].h);
    sl[i].h = 0;
  }
  verify(s, sl, NORPH);
}

static void test_close_orphans(void) {
  pc_test_use_failing_allocator();
  long blocks0 = pc_test_live;
  static slot a[NORPH], b[NORPH];
  pc_slab *sa = pc__slab_new(), *sb = pc__slab_new();
  fill_orphans(sa, a);
  fill_orphans(sb, b);
  pc__slab_close(sa);
  pc__slab_close(sb);
  CHECK(pc_test_live > blocks0);
  for (int i = 0; i < NORPH; i++) /* readers' bytes outlive close */
    CHECK(!a[i].h || intact(a[i].p, a[i].n, a[i].h));

  orph_job j0 = {a, b, 0, 0}, j1 = {a, b, 1, 0};
  pthread_t t0, t1;
  CHECK_EQ_INT(pthread_create(&t0, NULL, orph_thread, &j0), 0);
  CHECK_EQ_INT(pthread_create(&t1, NULL, orph_thread, &j1), 0);
  for (int round = 0; round < 200; round++) {
    pc_slab *c = pc__slab_new();
    uint32_t h1, h2;
    void *p1 = pc__slab_alloc(c, 40 + (size_t)round, &h1);
    void *p2 = pc__slab_alloc(c, 9000, &h2);
    CHECK(p1 && p2);
    pc__slab_free(c, h2);
    if (round % 2) pc__slab_free(c, h1);
    pc__slab_close(c); /* with p1 still out on even rounds */
    if (round % 2 == 0) pc__slab_free_orphan(p1);
  }
  pthread_join(t0, NULL);
  pthread_join(t1, NULL);
  CHECK_EQ_INT(j0.bad + j1.bad, 0);
  CHECK_EQ_INT(pc_test_live, blocks0);
}

/* ---- Lock-free readers ---- */

/* The owner allocates (1500 large slots: more page indexes than one chunk
** of the page table maps, so chunks are published too) and publishes each
** handle; a reader resolves published handles with pc__slab_ptr meanwhile. */
#define NPUB 3000

typedef struct {
  pc_slab *s;
  _Atomic uint32_t h[NPUB];
  _Atomic int n;
  _Atomic long reads; /* handles resolved */
  size_t bad;
} pub_state;

static void *reader(void *arg) {
  pub_state *st = arg;
  for (long it = 0;; it++) {
    int n = atomic_load_explicit(&st->n, memory_order_acquire);
    if (n == NPUB) break;
    if (!n) {
      sched_yield();
      continue;
    }
    uint32_t h = atomic_load_explicit(&st->h[(unsigned long)it % (unsigned)n],
                                      memory_order_acquire);
    uint32_t v;
    memcpy(&v, pc__slab_ptr(st->s, h), sizeof v);
    st->bad += v != h;
    atomic_fetch_add(&st->reads, 1);
  }
  return NULL;
}

static void test_readers(void) {
  pc_test_use_failing_allocator();
  long blocks0 = pc_test_live;
  static pub_state st;
  memset(&st, 0, sizeof st);
  st.s = pc__slab_new();
  pthread_t t;
  CHECK_EQ_INT(pthread_create(&t, NULL, reader, &st), 0);
  for (int i = 0; i < NPUB; i++) {
    size_t n = i % 2 ? PC_SLAB_MAX_SLOT + 8 : 8 + (size_t)i % 500;
    uint32_t h;
    void *p = pc__slab_alloc(st.s, n, &h);
    CHECK(p != NULL);
    memcpy(p, &h, sizeof h);
    atomic_store_explicit(&st.h[i], h, memory_order_release);
    atomic_store_explicit(&st.n, i + 1, memory_order_release);
    /* Halfway, wait (10 s at most) for the reader to have read: so that
    ** it provably reads while pages and chunks are still being added. */
    for (int w = 0; i == NPUB / 2 && !atomic_load(&st.reads) && w < 10000; w++)
      usleep(1000);
  }
  pthread_join(t, NULL);
  CHECK(atomic_load(&st.reads) > 0);
  CHECK_EQ_INT(st.bad, 0);
  for (int i = 0; i < NPUB; i++)
    pc__slab_free(st.s, atomic_load(&st.h[i]));
  pc__slab_close(st.s);
  CHECK_EQ_INT(pc_test_live, blocks0);
}

/* ---- Memory per slot ---- */

#define NOVER 1000000

static void test_overhead(void) {
  pc_test_use_failing_allocator();
  long blocks0 = pc_test_live;
  pc_slab *s = slab_new();
  uint32_t *hs = malloc(NOVER * sizeof *hs);
  size_t sum = 0, bad = 0;
  for (size_t i = 0; i < NOVER; i++) {
    size_t n = 40 + rnd() % 151; /* 40..190 */
    sum += (n + 7) & ~(size_t)7;
    unsigned char *p = pc__slab_alloc(s, n, &hs[i]);
    if (!p) {
      bad++;
      hs[i] = 0;
      continue;
    }
    memcpy(p, &hs[i], sizeof hs[i]);
  }
  CHECK_EQ_INT(bad, 0);
  size_t fp = footprint();
  double per = (double)(fp - sum) / NOVER;
  printf("overhead: %.3f bytes per slot (footprint %zu, slots %zu bytes, "
         "1M slots of 40..190 bytes)\n",
         per, fp, sum);
  CHECK(per < 1.0);
  for (size_t i = 0; i < NOVER; i++) {
    uint32_t v;
    memcpy(&v, pc__slab_ptr(s, hs[i]), sizeof v);
    bad += v != hs[i];
  }
  CHECK_EQ_INT(bad, 0);
  for (size_t i = 0; i < NOVER; i++)
    pc__slab_free(s, hs[i]);
  /* The slab, its chunks, a spare page for each class (40 to 192). */
  CHECK_EQ_INT(pc_test_live - blocks0, 1 + chunks(s) + 20);
  CHECK(footprint() <=
        sizeof(pc_slab) + chunks(s) * CHUNK_BYTES + 20 * (size_t)PAGE);
  free(hs);
  pc__slab_close(s);
  CHECK_EQ_INT(pc_test_live, blocks0);
}

int main(void) {
  test_classes();
  test_round_trips();
  test_footprint();
  test_exhaustion();
  test_oom();
  test_close_empty();
  test_close_orphans();
  test_readers();
  test_overhead();
  pc_set_allocator(NULL);
  PC_TEST_END();
}
