/*
** policy_sim: hit ratios of eviction policies on synthetic traces, with
** Belady's optimum for reference, from models of the policies and from the
** memory backend itself; the evidence for the backend's default policy.
**
**   policy_sim [requests [CSV]]    (default 2,000,000 requests per trace;
**                                   CSV: also write the table there, for
**                                   tests/bench/policy_report.sh's plot)
**
** Key space: 100,000 keys; cache sizes 1%, 5% and 10% of it, in entries.
** Traces (each key a unit-size object):
**   zipf-0.7, zipf-0.9, zipf-1.1   Zipf over the key space (the popular
**                                  keys scattered by a fixed permutation);
**   zipf-0.9+scans                 zipf-0.9 with, every 100,000 requests, a
**                                  scan of 20,000 keys never seen again;
**   loop                           the keys 0..19,999 in order, again and
**                                  again (larger than every cache size);
**   shifting                       zipf-0.9 whose popular keys move to
**                                  another part of the key space 10 times.
** Models: LRU; SIEVE (NSDI'24: a FIFO with a visited bit and a hand);
** S3-FIFO (SOSP'23: a probationary FIFO, 5% here as in the backend where
** the paper has 10% (higher on every trace here but the loop, a tie), a
** main FIFO with 2-bit frequencies and a ghost queue of recently evicted
** keys); W-TinyLFU
** (Caffeine's policy with a fixed 1% window, for comparison: the backend
** does not have it); Belady (evicts
** the entry used furthest in the future, and does not admit a key whose
** next use is further than every cached one's). The memory backend
** (core/pc_mem.c, called directly with max_entries = the cache size) is
** then run on the same traces under each `eviction`: a get, and a set on a
** miss, per request. It differs from the models where it must: it is
** sharded (8 shards at 10%, each with its own queues), and its ghost is an
** approximate set. Output: a Markdown table of hit ratios (%), and the
** checks the default must pass, on the backend's own figures (hit ratio at
** least LRU's on every trace and size, clearly above it on the scan trace,
** within 10 points of Belady on zipf-0.9 at 10%).
*/
#include "pc_internal.h"

#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NKEYS 100000
#define SCAN_EVERY 100000
#define SCAN_LEN 20000
#define LOOP_LEN 20000

static uint64_t g_rng = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void) { /* xorshift64* */
  g_rng ^= g_rng >> 12;
  g_rng ^= g_rng << 25;
  g_rng ^= g_rng >> 27;
  return g_rng * 0x2545F4914F6CDD1Dull;
}
static double rnd01(void) {
  return (double)(rnd() >> 11) / 9007199254740992.0;
}

/* ---- Traces ---- */

typedef struct {
  const char *name;
  int32_t *keys;
  long n;
  int32_t nkeys; /* keys are 0 .. nkeys-1 */
} trace;

static double *zipf_cdf(double alpha) {
  double *cdf = malloc(sizeof *cdf * NKEYS), sum = 0;
  for (int i = 0; i < NKEYS; i++)
    cdf[i] = (sum += 1.0 / pow(i + 1, alpha));
  for (int i = 0; i < NKEYS; i++)
    cdf[i] /= sum;
  return cdf;
}
static int zipf_rank(const double *cdf) {
  double u = rnd01();
  int lo = 0, hi = NKEYS - 1;
  while (lo < hi) {
    int mid = (lo + hi) / 2;
    if (cdf[mid] < u)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

static int32_t g_perm[NKEYS]; /* rank -> key */

static trace make_trace(const char *name, long n) {
  trace t = {name, malloc(sizeof(int32_t) * (size_t)n), n, NKEYS};
  g_rng = 0x9E3779B97F4A7C15ull; /* every trace from the same seed */
  if (strcmp(name, "loop") == 0) {
    for (long i = 0; i < n; i++)
      t.keys[i] = (int32_t)(i % LOOP_LEN);
    return t;
  }
  double alpha = strcmp(name, "zipf-0.7") == 0   ? 0.7
                 : strcmp(name, "zipf-1.1") == 0 ? 1.1
                                                 : 0.9;
  double *cdf = zipf_cdf(alpha);
  int scans = strcmp(name, "zipf-0.9+scans") == 0;
  int shifting = strcmp(name, "shifting") == 0;
  int32_t next_scan_key = NKEYS;
  long i = 0;
  while (i < n) {
    if (scans && i > 0 && i % SCAN_EVERY == 0) {
      for (int k = 0; k < SCAN_LEN && i < n; k++)
        t.keys[i++] = next_scan_key++;
      if (i >= n) break;
    }
    int32_t key = g_perm[zipf_rank(cdf)];
    if (shifting) /* 10 phases, each with the popular keys elsewhere */
      key = (int32_t)((key + (i / (n / 10 + 1)) * (NKEYS / 10)) % NKEYS);
    t.keys[i++] = key;
  }
  t.nkeys = next_scan_key;
  free(cdf);
  return t;
}

/* ---- Policies: each returns the number of hits ---- */

/* Intrusive doubly linked lists over key indexes; -1 ends. */
typedef struct {
  int32_t *prev, *next;
  int32_t head, tail; /* head: newest */
  long size;
} dlist;

static void dl_init(dlist *l, int32_t nkeys) {
  l->prev = malloc(sizeof(int32_t) * (size_t)nkeys);
  l->next = malloc(sizeof(int32_t) * (size_t)nkeys);
  l->head = l->tail = -1;
  l->size = 0;
}
static void dl_free(dlist *l) {
  free(l->prev);
  free(l->next);
}
static void dl_push_head(dlist *l, int32_t k) {
  l->prev[k] = -1;
  l->next[k] = l->head;
  if (l->head >= 0) l->prev[l->head] = k;
  l->head = k;
  if (l->tail < 0) l->tail = k;
  l->size++;
}
static void dl_remove(dlist *l, int32_t k) {
  if (l->prev[k] >= 0)
    l->next[l->prev[k]] = l->next[k];
  else
    l->head = l->next[k];
  if (l->next[k] >= 0)
    l->prev[l->next[k]] = l->prev[k];
  else
    l->tail = l->prev[k];
  l->size--;
}

static long sim_lru(const trace *t, long cap) {
  dlist l;
  dl_init(&l, t->nkeys);
  char *in = calloc((size_t)t->nkeys, 1);
  long hits = 0;
  for (long i = 0; i < t->n; i++) {
    int32_t k = t->keys[i];
    if (in[k]) {
      hits++;
      dl_remove(&l, k);
      dl_push_head(&l, k);
      continue;
    }
    if (l.size == cap) {
      int32_t v = l.tail;
      dl_remove(&l, v);
      in[v] = 0;
    }
    dl_push_head(&l, k);
    in[k] = 1;
  }
  dl_free(&l);
  free(in);
  return hits;
}

static long sim_sieve(const trace *t, long cap) {
  dlist l;
  dl_init(&l, t->nkeys);
  char *in = calloc((size_t)t->nkeys, 1),
       *visited = calloc((size_t)t->nkeys, 1);
  int32_t hand = -1; /* moves from the tail toward the head */
  long hits = 0;
  for (long i = 0; i < t->n; i++) {
    int32_t k = t->keys[i];
    if (in[k]) {
      hits++;
      visited[k] = 1; /* a hit only marks: no list change */
      continue;
    }
    if (l.size == cap) {
      int32_t h = hand >= 0 ? hand : l.tail;
      while (visited[h]) {
        visited[h] = 0;
        h = l.prev[h] >= 0 ? l.prev[h] : l.tail;
      }
      hand = l.prev[h]; /* -1: start again at the tail */
      dl_remove(&l, h);
      in[h] = 0;
    }
    dl_push_head(&l, k);
    in[k] = 1;
    visited[k] = 0;
  }
  dl_free(&l);
  free(in);
  free(visited);
  return hits;
}

static long sim_s3fifo(const trace *t, long cap) {
  long small_cap = cap / 20 > 0 ? cap / 20 : 1, main_cap = cap - small_cap;
  if (main_cap < 1) main_cap = 1;
  dlist small, mainq, ghost;
  dl_init(&small, t->nkeys);
  dl_init(&mainq, t->nkeys);
  dl_init(&ghost, t->nkeys);
  /* where: 0 absent, 1 small, 2 main, 3 ghost */
  char *where = calloc((size_t)t->nkeys, 1),
       *freq = calloc((size_t)t->nkeys, 1);
  long hits = 0;
  for (long i = 0; i < t->n; i++) {
    int32_t k = t->keys[i];
    if (where[k] == 1 || where[k] == 2) {
      hits++;
      if (freq[k] < 3) freq[k]++;
      continue;
    }
    /* A miss: make room, then insert. */
    while (small.size + mainq.size >= cap) {
      if (small.size >= small_cap || mainq.size == 0) {
        int32_t v = small.tail;
        dl_remove(&small, v);
        if (freq[v] > 1) { /* seen again while probationary: keep it */
          dl_push_head(&mainq, v);
          where[v] = 2;
          freq[v] = 0;
        } else { /* remembered as a ghost only */
          if (ghost.size >= main_cap) {
            int32_t g = ghost.tail;
            dl_remove(&ghost, g);
            where[g] = 0;
          }
          dl_push_head(&ghost, v);
          where[v] = 3;
        }
      } else {
        int32_t v = mainq.tail;
        dl_remove(&mainq, v);
        if (freq[v] > 0) { /* reinserted with one less */
          freq[v]--;
          dl_push_head(&mainq, v);
        } else {
          where[v] = 0;
        }
      }
    }
    if (where[k] == 3) { /* a ghost: back into main */
      dl_remove(&ghost, k);
      dl_push_head(&mainq, k);
      where[k] = 2;
    } else {
      dl_push_head(&small, k);
      where[k] = 1;
    }
    freq[k] = 0;
  }
  dl_free(&small);
  dl_free(&mainq);
  dl_free(&ghost);
  free(where);
  free(freq);
  return hits;
}

/* W-TinyLFU (Einziger et al., ACM ToS 2017; Caffeine's policy, without its
** adaptive window): a window LRU of 1% of the cache where every new key
** starts, and a main segmented LRU (20% probation, 80% protected) that a
** key leaving the window enters only if a frequency sketch estimates it
** more popular than the main's victim. The sketch is a count-min of four
** rows of 4-bit counters (saturating at 15), as wide as the cache rounded
** up to a power of two times 4, halved every 10 x cache-size accesses. */
typedef struct {
  uint8_t *c; /* 4 rows of width counters */
  uint32_t mask;
  long adds, sample;
} sketch;

static uint32_t sk_hash(int32_t k, int row) {
  uint64_t x = (uint64_t)(uint32_t)k * 0x9E3779B97F4A7C15ull +
               (uint64_t)(row + 1) * 0xC2B2AE3D27D4EB4Full;
  x ^= x >> 31;
  x *= 0xBF58476D1CE4E5B9ull;
  x ^= x >> 29;
  return (uint32_t)x;
}
static void sk_init(sketch *s, long cap) {
  uint32_t w = 16;
  while (w < (uint32_t)cap * 4)
    w *= 2;
  s->c = calloc(4 * (size_t)w, 1);
  s->mask = w - 1;
  s->adds = 0;
  s->sample = 10 * cap;
}
static int sk_freq(const sketch *s, int32_t k) {
  int f = 15;
  for (int r = 0; r < 4; r++) {
    int v = s->c[(size_t)r * (s->mask + 1) + (sk_hash(k, r) & s->mask)];
    if (v < f) f = v;
  }
  return f;
}
static void sk_add(sketch *s, int32_t k) {
  for (int r = 0; r < 4; r++) {
    uint8_t *v = &s->c[(size_t)r * (s->mask + 1) + (sk_hash(k, r) & s->mask)];
    if (*v < 15) (*v)++;
  }
  if (++s->adds >= s->sample) { /* aging: every counter halved */
    for (size_t i = 0; i < 4 * (size_t)(s->mask + 1); i++)
      s->c[i] >>= 1;
    s->adds /= 2;
  }
}

static long sim_wtinylfu(const trace *t, long cap) {
  long wcap = cap / 100 > 0 ? cap / 100 : 1;
  long mcap = cap - wcap > 0 ? cap - wcap : 1;
  long pcap = mcap * 8 / 10; /* protected */
  dlist win, prob, prot;
  dl_init(&win, t->nkeys);
  dl_init(&prob, t->nkeys);
  dl_init(&prot, t->nkeys);
  sketch sk;
  sk_init(&sk, cap);
  /* where: 0 absent, 1 window, 2 probation, 3 protected */
  char *where = calloc((size_t)t->nkeys, 1);
  long hits = 0;
  for (long i = 0; i < t->n; i++) {
    int32_t k = t->keys[i];
    sk_add(&sk, k);
    if (where[k]) {
      hits++;
      if (where[k] == 1) {
        dl_remove(&win, k);
        dl_push_head(&win, k);
      } else if (where[k] == 2) { /* promoted; protected's LRU demoted */
        dl_remove(&prob, k);
        dl_push_head(&prot, k);
        where[k] = 3;
        if (prot.size > pcap) {
          int32_t d = prot.tail;
          dl_remove(&prot, d);
          dl_push_head(&prob, d);
          where[d] = 2;
        }
      } else {
        dl_remove(&prot, k);
        dl_push_head(&prot, k);
      }
      continue;
    }
    dl_push_head(&win, k);
    where[k] = 1;
    if (win.size <= wcap) continue;
    int32_t cand = win.tail; /* leaves the window */
    dl_remove(&win, cand);
    if (prob.size + prot.size < mcap) {
      dl_push_head(&prob, cand);
      where[cand] = 2;
      continue;
    }
    int32_t victim = prob.tail >= 0 ? prob.tail : prot.tail;
    dlist *vl = prob.tail >= 0 ? &prob : &prot;
    if (sk_freq(&sk, cand) > sk_freq(&sk, victim)) {
      dl_remove(vl, victim);
      where[victim] = 0;
      dl_push_head(&prob, cand);
      where[cand] = 2;
    } else {
      where[cand] = 0;
    }
  }
  dl_free(&win);
  dl_free(&prob);
  dl_free(&prot);
  free(sk.c);
  free(where);
  return hits;
}

/* Belady: a max-heap of (next use, key) with lazy deletion. */
typedef struct {
  long next;
  int32_t key;
} hent;
static void heap_push(hent *h, long *n, hent e) {
  long i = (*n)++;
  while (i > 0 && h[(i - 1) / 2].next < e.next) {
    h[i] = h[(i - 1) / 2];
    i = (i - 1) / 2;
  }
  h[i] = e;
}
static hent heap_pop(hent *h, long *n) {
  hent top = h[0], last = h[--*n];
  long i = 0;
  for (;;) {
    long c = 2 * i + 1;
    if (c >= *n) break;
    if (c + 1 < *n && h[c + 1].next > h[c].next) c++;
    if (h[c].next <= last.next) break;
    h[i] = h[c];
    i = c;
  }
  h[i] = last;
  return top;
}

static long sim_belady(const trace *t, long cap) {
  long *next = malloc(sizeof(long) * (size_t)t->n);
  long *last = malloc(sizeof(long) * (size_t)t->nkeys);
  for (int32_t k = 0; k < t->nkeys; k++)
    last[k] = LONG_MAX;
  for (long i = t->n - 1; i >= 0; i--) {
    next[i] = last[t->keys[i]];
    last[t->keys[i]] = i;
  }
  long *cur = malloc(sizeof(long) * (size_t)t->nkeys); /* in cache: next use */
  for (int32_t k = 0; k < t->nkeys; k++)
    cur[k] = -1;
  hent *h = malloc(sizeof(hent) * (size_t)(t->n + 1));
  long nh = 0, size = 0, hits = 0;
  for (long i = 0; i < t->n; i++) {
    int32_t k = t->keys[i];
    if (cur[k] >= 0) {
      hits++;
      cur[k] = next[i];
      heap_push(h, &nh, (hent){next[i], k});
      continue;
    }
    if (size == cap) {
      /* The furthest next use among the cached (skip stale entries). */
      while (nh && cur[h[0].key] != h[0].next)
        heap_pop(h, &nh);
      if (nh && h[0].next <= next[i]) continue; /* k is needed last: bypass */
      hent v = heap_pop(h, &nh);
      cur[v.key] = -1;
      size--;
    }
    cur[k] = next[i];
    heap_push(h, &nh, (hent){next[i], k});
    size++;
  }
  free(next);
  free(last);
  free(cur);
  free(h);
  return hits;
}

/* The memory backend under `policy`, max_entries = cap: a get per request
** and a set of the key on a miss. */
static const char *g_policy;
static long sim_backend(const trace *t, long cap) {
  const pc_backend_methods *mem = &pc__memory_backend;
  pc_config cfg;
  pc__config_init(&cfg);
  cfg.max_entries = cap;
  snprintf(cfg.eviction, sizeof cfg.eviction, "%s", g_policy);
  void *b;
  if (mem->open(&cfg, &b) != PC_OK) {
    fprintf(stderr, "policy_sim: open: %s\n", pc__errbuf());
    exit(1);
  }
  long hits = 0;
  for (long i = 0; i < t->n; i++) {
    int32_t k = t->keys[i];
    pc_buf v;
    if (mem->get(b, &k, sizeof k, 0, &v, NULL) == PC_OK) {
      hits++;
      pc__buf_release(&v);
    } else if (mem->set(b, &k, sizeof k, "v", 1, PC_EXPIRES_NEVER, 0, 0) !=
               PC_OK) {
      fprintf(stderr, "policy_sim: set: %s\n", pc__errbuf());
      exit(1);
    }
  }
  mem->close(b);
  pc__config_free(&cfg);
  return hits;
}
static long sim_mem_lru(const trace *t, long cap) {
  g_policy = "lru";
  return sim_backend(t, cap);
}
static long sim_mem_sieve(const trace *t, long cap) {
  g_policy = "sieve";
  return sim_backend(t, cap);
}
static long sim_mem_s3fifo(const trace *t, long cap) {
  g_policy = "s3fifo";
  return sim_backend(t, cap);
}

/* ---- Main ---- */

int main(int argc, char **argv) {
  long n = argc > 1 ? atol(argv[1]) : 2000000;
  if (n < 100000) n = 100000;
  FILE *csv = NULL;
  if (argc > 2 && !(csv = fopen(argv[2], "w"))) {
    perror(argv[2]);
    return 1;
  }
  for (int i = 0; i < NKEYS; i++)
    g_perm[i] = i;
  g_rng = 12345;
  for (int i = NKEYS - 1; i > 0; i--) {
    int j = (int)(rnd() % (uint64_t)(i + 1));
    int32_t x = g_perm[i];
    g_perm[i] = g_perm[j];
    g_perm[j] = x;
  }
  const char *traces[] = {"zipf-0.7",       "zipf-0.9", "zipf-1.1",
                          "zipf-0.9+scans", "loop",     "shifting"};
  const double sizes[] = {0.01, 0.05, 0.10};
  enum { M_LRU, M_SIEVE, M_S3, M_TLFU, B_LRU, B_SIEVE, B_S3, OPT, NPOL };
  const char *names[NPOL] = {
      "LRU",         "SIEVE",         "S3-FIFO",        "W-TinyLFU",
      "lru (cache)", "sieve (cache)", "s3fifo (cache)", "Belady"};
  long (*sims[NPOL])(const trace *, long) = {
      sim_lru,     sim_sieve,     sim_s3fifo,     sim_wtinylfu,
      sim_mem_lru, sim_mem_sieve, sim_mem_s3fifo, sim_belady};
  printf("policy_sim: %ld requests per trace, %d keys; hit ratio %%; models, "
         "then the memory backend (cache)\n\n",
         n, NKEYS);
  printf("| trace | size |");
  for (int p = 0; p < NPOL; p++)
    printf(" %s |", names[p]);
  printf("\n|---|---|");
  for (int p = 0; p < NPOL; p++)
    printf("---|");
  printf("\n");
  if (csv) {
    fprintf(csv, "trace,size");
    for (int p = 0; p < NPOL; p++)
      fprintf(csv, ",%s", names[p]);
    fprintf(csv, "\n");
  }
  /* Checks against LRU, each model against the LRU model and each backend
  ** policy against the backend's LRU. */
  int ge_lru[NPOL], base[NPOL] = {[M_SIEVE] = M_LRU,
                                  [M_S3] = M_LRU,
                                  [M_TLFU] = M_LRU,
                                  [B_SIEVE] = B_LRU,
                                  [B_S3] = B_LRU};
  double scan_gain[NPOL], gap_opt[NPOL] = {0}, worst_ratio = 1e9;
  for (int p = 0; p < NPOL; p++) {
    ge_lru[p] = 1;
    scan_gain[p] = 1e9;
  }
  for (size_t ti = 0; ti < sizeof traces / sizeof traces[0]; ti++) {
    trace t = make_trace(traces[ti], n);
    for (size_t si = 0; si < 3; si++) {
      long cap = (long)(sizes[si] * NKEYS);
      double r[NPOL];
      printf("| %s | %.0f%% |", t.name, sizes[si] * 100);
      if (csv) fprintf(csv, "%s,%.0f", t.name, sizes[si] * 100);
      for (int p = 0; p < NPOL; p++) {
        r[p] = 100.0 * (double)sims[p](&t, cap) / (double)t.n;
        printf(" %.2f |", r[p]);
        if (csv) fprintf(csv, ",%.2f", r[p]);
      }
      printf("\n");
      if (csv) fprintf(csv, "\n");
      for (int p = 0; p < NPOL; p++) {
        if (p == M_LRU || p == B_LRU || p == OPT) continue;
        if (r[p] + 1e-9 < r[base[p]]) ge_lru[p] = 0;
        if (p == B_S3 && r[B_LRU] > 0 && r[p] / r[B_LRU] < worst_ratio)
          worst_ratio = r[p] / r[B_LRU];
        if (strcmp(t.name, "zipf-0.9+scans") == 0 &&
            r[p] - r[base[p]] < scan_gain[p])
          scan_gain[p] = r[p] - r[base[p]];
        if (strcmp(t.name, "zipf-0.9") == 0 && si == 2)
          gap_opt[p] = r[OPT] - r[p];
      }
    }
    free(t.keys);
  }
  printf("\n");
  for (int p = 0; p < NPOL; p++) {
    if (p == M_LRU || p == B_LRU || p == OPT) continue;
    printf("- %s: at least %s on every trace and size: %s; on the scan "
           "trace +%.2f points over it at worst; %.2f points below Belady "
           "on zipf-0.9 at 10%% (bar <= 10)\n",
           names[p], names[base[p]], ge_lru[p] ? "yes" : "NO", scan_gain[p],
           gap_opt[p]);
  }
  /* The bars, on the backend's default against the backend's LRU. */
  printf("\ns3fifo (cache) hit ratio / lru (cache)'s, worst trace and size "
         "where lru hits: %.3fx  bar >= 1.00x: %s\n",
         worst_ratio, worst_ratio >= 1.0 ? "met" : "NOT MET");
  printf("s3fifo (cache) over lru (cache) on the scan trace, worst size: "
         "%+.2f points  bar >= 1 points: %s\n",
         scan_gain[B_S3], scan_gain[B_S3] >= 1.0 ? "met" : "NOT MET");
  printf("s3fifo (cache) below Belady on zipf-0.9 at 10%%: %.2f points  bar "
         "<= 10 points: %s\n",
         gap_opt[B_S3], gap_opt[B_S3] <= 10 ? "met" : "NOT MET");
  if (csv) fclose(csv);
  return 0;
}
