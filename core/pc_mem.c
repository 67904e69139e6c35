/*
** pc_mem.c: the in-process memory backend, pc__memory_backend ("memory").
**
** What it owns
**   Every entry of a memory cache: its bytes, the hash tables that find it,
**   the eviction policy's queues that order it, and the counters (entries,
**   bytes, evictions, expirations) that stats() reports. Expiries are
**   absolute monotonic milliseconds (wall_clock = false); the engine passes
**   `now` on the same clock, so this file never reads a clock itself.
**
** How it works
**   - Shards. A store is N shards (N a power of two, 1..64). The top log2(N)
**     bits of an entry's 64-bit pc__hash() pick its shard, the low 32 bits
**     its bucket. Each shard has its own spinlock, its own chained hash
**     table and its own policy queue, so threads working on different keys
**     rarely meet on a lock. No code path ever holds two shard locks: work that
**     spans shards (eviction from another shard, the foreign reclamation
**     step, clear, scan, close) takes them one after the other.
**   - Entries. One allocation per entry (pc__malloc): a 48-byte header,
**     then the value bytes, then the key:
**
**       [hnext q_prev q_next expires hash|pol refs nval nkey][value][key]
**
**     The value starts at the fixed offset offsetof(pc_entry, data), so the
**     pointer handed to a reader finds its entry again without a lookup.
**     The header keeps the low 24 bits of the hash (the bits that pick a
**     bucket; a shard's entries share the top bits) and 8 bits for the
**     policy, which leaves room for the key length within 48 bytes: a
**     lookup compares hash, length and key bytes with no decoding.
**   - References. An entry is reference-counted: the table holds one
**     reference while the entry is linked, each reader one more. get() takes
**     a reference under the shard lock and hands out the value bytes in
**     place, with mem_release() as their free function; releases happen
**     without any lock (atomic decrement, free at zero). Everything that
**     removes an entry (delete, overwrite, eviction, expiry, clear, close)
**     unlinks it under the lock and drops the table's reference, so bytes a
**     reader holds stay valid until the reader lets go, and a value is never
**     modified after it is linked: readers see the old or the new entry,
**     never a torn one.
**   - Hash tables. Chained, a power-of-two array of entry pointers per
**     shard, doubled when the shard holds more entries than buckets (load
**     factor <= 1). Doubling is done at once, not incrementally (as redis
**     dict.c does): the stored hash makes a rehash a pointer walk with no
**     hashing and no key access beyond the header, the pause is bounded by
**     one shard's entries (1/N of the cache), and lookups stay one simple
**     loop instead of probing two tables on every get. If the bigger array
**     cannot be allocated, the shard keeps working with longer chains and
**     tries again at the next insert; an insert never fails because of it.
**     Tables never shrink (clear keeps them; their size is the high water
**     mark of one shard).
**   - Expiry. Lazy: a lookup that finds `expires <= now` treats the entry as
**     absent and unlinks it (an expiration). Amortized: each set/incr then
**     examines a few buckets of its shard from a rotating cursor and removes
**     what has expired there; every 8th write also tries (trylock, after
**     releasing its own lock) one such step on another shard chosen round
**     robin, so shards that nobody writes to are reclaimed too. Never a full
**     scan on a write path.
**   - Bounds and eviction. Entries and bytes (nkey + nval of each linked
**     entry, exactly) are global atomics. After an insert, while the store
**     is over max_entries or max_bytes, the policy's victim in the writer's
**     shard is removed (never the entry just written); if that shard has
**     nothing more to give, the writer releases its lock and takes victims
**     round robin from the other shards, one shard lock at a time. A victim
**     that had already expired counts as an expiration, not an eviction.
**     With no write in flight, entries <= max_entries and bytes <= max_bytes
**     hold; while threads insert concurrently the totals can exceed a bound
**     by the entries being inserted, until their writers have evicted.
**   - Policy. S3-FIFO (the default), SIEVE or LRU per store, each over
**     per-shard lists and the links q_prev/q_next of each entry, with 8
**     bits of policy state in the entry (section "Policy"). The two FIFO
**     policies only mark a hit; LRU moves the entry to the front (exactly,
**     with no rate limit as memcached's once-a-minute bump: small caches
**     are tested for exact order), which was the largest cost of a get
**     over a large cache (1.7 vs 2.6 M gets/s on one core over 100k keys
**     without it), since it dirties two neighbours' cache lines.
**
** Memory per entry (64-bit glibc): the 48-byte header and malloc's own
** 8-byte chunk header and 16-byte rounding make about 64 bytes beyond key
** and value, plus 8 to 16 bytes of bucket array, plus S3-FIFO's ghost
** slot (8 bytes) in a full store: 72 to 80 measured over 1M entries
** (tests/bench/bench_memory), above SPEC section 9's 48 (README, "Memory
** per entry", says what getting under it takes).
**
** Why each bound exists
**   - At most 64 shards: beyond that the fixed cost per store (a lock and a
**     bucket array per shard, loops over shards in stats/clear/scan) grows
**     while contention between a few dozen cores is already rare.
**   - A shard gets at least 1024 entries of max_entries and 1 MiB of
**     max_bytes: per-shard LRU approximates global LRU only when each shard
**     holds many entries, so small caches use fewer shards, down to one (a
**     cache with max_entries=3 is one shard with exact LRU order).
**   - 4 buckets, stopping after 16 entries, per reclamation step: the work
**     a write adds is a small constant (chains average <= 1 entry since the
**     table doubles at load factor 1, and keys are hashed under per-process
**     secrets, so chains cannot be made long from outside).
**   - Keys and values below 4 GiB (nkey and nval are 32 bits): SQLite
**     values are at most 2 GiB and the engine's default max_value_bytes is
**     32 MiB; anything bigger is PC_TOOBIG.
**   - At most 2^24 buckets per shard: the header keeps 24 bits of hash
**     (past 16M entries a shard's chains grow longer than one).
*/
#include "pc_internal.h"

#include <sched.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stddef.h>
#include <string.h>

#define MEM_MAX_SHARDS 64
#define MEM_MIN_SHARD_ENTRIES 1024
#define MEM_MIN_SHARD_BYTES (1 << 20)
#define MEM_INIT_BUCKETS 16
#define MEM_RECLAIM_BUCKETS 4
#define MEM_RECLAIM_ENTRIES 16
#define MEM_FOREIGN_RECLAIM_EVERY 8 /* power of two */
#define HASH_MASK 0xFFFFFFu         /* the hash bits an entry keeps */

/* ---- Entries ---- */

typedef struct pc_entry pc_entry;
typedef _Atomic(pc_entry *) pc_link; /* a bucket head or an hnext */
struct pc_entry {
  pc_link hnext; /* next in the bucket chain; left as it is when the entry
                    is unlinked, so a reader standing on it walks on */
  union {
    struct {                     /* while linked */
      pc_entry *q_prev, *q_next; /* links of the policy's queue */
    };
    struct {            /* unlinked, waiting in its shard's limbo */
      uint64_t retired; /* pc__ebr_tag() when unlinked */
      pc_entry *limbo_next;
    };
  };
  _Atomic int64_t expires; /* absolute monotonic ms or PC_EXPIRES_NEVER */
  _Atomic uint32_t hp;     /* the low 24 bits of pc__hash(key) (the bucket;
                              set once) | the policy's 8 bits (POL_*) << 24 */
  _Atomic uint32_t refs;   /* the table's (until its grace period after
                              unlinking ends) + one per reader;
                              entry_unref() frees at zero; REWRITING */
  uint32_t nval;           /* value length */
  uint32_t nkey;           /* key length */
  unsigned char data[];    /* value, then key */
};

/* Set in refs while do_rewrite() writes the value in place: a reader that
** sees it gives its reference back and takes the shard lock. */
#define REWRITING 0x80000000u

/* Fields a reader without the lock may read at any time: atomic, relaxed
** (the lock or the chain's release stores order everything else). */
static inline uint32_t e_hash(const pc_entry *e) {
  return atomic_load_explicit(&e->hp, memory_order_relaxed) & 0xFFFFFFu;
}
static inline unsigned e_pol(const pc_entry *e) {
  return atomic_load_explicit(&e->hp, memory_order_relaxed) >> 24;
}
/* Sets the policy bits (shard lock held); a hit marked meanwhile by a
** reader without the lock may be lost, which only costs the entry a hit. */
static inline void e_set_pol(pc_entry *e, unsigned pol) {
  atomic_store_explicit(&e->hp, e_hash(e) | (uint32_t)pol << 24,
                        memory_order_relaxed);
}
static inline int64_t e_exp(const pc_entry *e) {
  return atomic_load_explicit(&e->expires, memory_order_relaxed);
}
static inline void e_set_exp(pc_entry *e, int64_t expires) {
  atomic_store_explicit(&e->expires, expires, memory_order_relaxed);
}
static inline pc_entry *ld(pc_link *l) { /* under the shard lock */
  return atomic_load_explicit(l, memory_order_relaxed);
}
static inline void st(pc_link *l, pc_entry *e) { /* publishes e's fields */
  atomic_store_explicit(l, e, memory_order_release);
}

#if UINTPTR_MAX == UINT64_MAX
_Static_assert(sizeof(pc_entry) == 48, "pc_entry header grew");
#endif

/* The key of e and its length. */
static inline const unsigned char *entry_key(const pc_entry *e, size_t *nkey) {
  *nkey = e->nkey;
  return e->data + e->nval;
}

/* What e counts in the bytes bound: key + value. */
static inline int64_t entry_bytes(const pc_entry *e) {
  return (int64_t)e->nkey + e->nval;
}

/* Whether the n bytes at a and b are equal. Keys are mostly short: up to 16
** bytes are compared with two overlapping loads per side, inline, instead
** of a call to memcmp (a lookup's largest single cost after the hash). */
static inline bool bytes_equal(const unsigned char *a, const unsigned char *b,
                               size_t n) {
  if (n >= 8 && n <= 16) {
    uint64_t a0, b0, a1, b1;
    memcpy(&a0, a, 8);
    memcpy(&b0, b, 8);
    memcpy(&a1, a + n - 8, 8);
    memcpy(&b1, b + n - 8, 8);
    return ((a0 ^ b0) | (a1 ^ b1)) == 0;
  }
  if (n >= 4 && n < 8) {
    uint32_t a0, b0, a1, b1;
    memcpy(&a0, a, 4);
    memcpy(&b0, b, 4);
    memcpy(&a1, a + n - 4, 4);
    memcpy(&b1, b + n - 4, 4);
    return ((a0 ^ b0) | (a1 ^ b1)) == 0;
  }
  if (n < 4) {
    for (size_t i = 0; i < n; i++)
      if (a[i] != b[i]) return false;
    return true;
  }
  return memcmp(a, b, n) == 0;
}

/* Whether e is the entry of (key, nkey) with hash h: hash and length are
** compared before the bytes. */
static inline bool entry_is(const pc_entry *e, uint64_t h, const void *key,
                            size_t nkey) {
  return e_hash(e) == (h & HASH_MASK) && e->nkey == nkey &&
         bytes_equal(e->data + e->nval, key, nkey);
}

/* A new unlinked entry holding one reference (the table's, once linked),
** or NULL when out of memory. The caller has checked the sizes. */
static pc_entry *entry_new(uint64_t h, const void *key, size_t nkey,
                           const void *val, size_t nval, int64_t expires) {
  pc_entry *e = pc__malloc(offsetof(pc_entry, data) + nval + nkey);
  if (!e) return NULL;
  atomic_init(&e->hnext, NULL);
  e->q_prev = e->q_next = NULL;
  atomic_init(&e->expires, expires);
  atomic_init(&e->hp, (uint32_t)(h & HASH_MASK));
  atomic_init(&e->refs, 1);
  e->nval = (uint32_t)nval;
  e->nkey = (uint32_t)nkey;
  if (nval) memcpy(e->data, val, nval);
  if (nkey) memcpy(e->data + nval, key, nkey);
  return e;
}

/* Takes one more reference; the caller already holds one or holds the lock
** of the shard where e is linked. */
static inline void entry_ref(pc_entry *e) {
  atomic_fetch_add_explicit(&e->refs, 1, memory_order_relaxed);
}

/* Drops one reference; the last one frees the entry. Any thread, no lock. */
static inline void entry_unref(pc_entry *e) {
  if (atomic_fetch_sub_explicit(&e->refs, 1, memory_order_acq_rel) == 1)
    pc__free(e);
}

/* The free_fn of every pc_buf this backend hands out: p is e->data. */
static void mem_release(void *p) {
  entry_unref((pc_entry *)((unsigned char *)p - offsetof(pc_entry, data)));
}

/* ---- Policy ---- */

/*
** The eviction policy orders the entries of one shard and names the next
** victim; every function below runs with the shard lock held. Three are
** built in (README, "Eviction"), selected per store by `eviction`:
**
**   LRU      one list, newest at the head; a hit moves the entry to the
**            head; the victim is the tail.
**   SIEVE    (Zhang et al., NSDI'24) one FIFO list and a visited bit; a hit
**            only sets the bit; a hand walks from the tail toward the head,
**            clearing set bits, and stops at the first entry without one.
**   S3-FIFO  (Yang et al., SOSP'23) a small FIFO (about 5% of the shard's
**            entries) where every new key starts, a main FIFO, and a ghost
**            set of keys recently evicted from the small one. A hit only
**            bumps a 2-bit frequency. The small tail goes to main if it
**            was hit twice, else out (and into the ghost); the main tail
**            is reinserted with one less while its frequency is non-zero.
**            A new key found in the ghost goes straight to main.
**
** FIFO policies leave a hit's entry where it is: a get writes one byte of
** the entry it already read, not two neighbours' links as LRU does. An
** overwrite takes the place of the entry it replaces and counts as a hit
** (LRU moves it to the head). The victim is never `keep`, the entry the
** caller just wrote; NULL when the shard has nothing else.
**
** The ghost is a set-associative table of GHOST_WAYS slots per bucket, each
** the 24 stored hash bits of an evicted key and the ghost clock when it was
** added; a slot counts while fewer than the shard's entries were added
** after it (about the window the paper gives its ghost FIFO). It is allocated
*at
** the first eviction from the small queue, with about as many slots as the
** shard has entries, and made anew (empty) when the shard has grown to twice
** that. A failed allocation only leaves the ghost off: S3-FIFO works without
** it, just with fewer keys sent straight to main.
*/
enum { POL_LRU, POL_SIEVE, POL_S3FIFO };

#define POL_FREQ 0x3u    /* S3-FIFO: hits, saturating at 3 */
#define POL_MAIN 0x4u    /* S3-FIFO: in the main queue */
#define POL_VISITED 0x1u /* SIEVE */
#define GHOST_WAYS 4
#define GHOST_LIVE 0x80000000u /* set in the fp of an occupied slot */

typedef struct pc_list {
  pc_entry *head, *tail; /* head: newest */
} pc_list;

typedef struct pc_ghost_slot {
  uint32_t fp;    /* GHOST_LIVE | the entry's 24 hash bits, or 0 */
  uint32_t stamp; /* the shard's ghost clock when added */
} pc_ghost_slot;

static void list_push(pc_list *l, pc_entry *e) {
  e->q_prev = NULL;
  e->q_next = l->head;
  if (l->head)
    l->head->q_prev = e;
  else
    l->tail = e;
  l->head = e;
}

static void list_remove(pc_list *l, pc_entry *e) {
  if (e->q_prev)
    e->q_prev->q_next = e->q_next;
  else
    l->head = e->q_next;
  if (e->q_next)
    e->q_next->q_prev = e->q_prev;
  else
    l->tail = e->q_prev;
  e->q_prev = e->q_next = NULL;
}

/* e takes the place of o in l. */
static void list_replace(pc_list *l, pc_entry *o, pc_entry *e) {
  e->q_prev = o->q_prev;
  e->q_next = o->q_next;
  if (e->q_prev)
    e->q_prev->q_next = e;
  else
    l->head = e;
  if (e->q_next)
    e->q_next->q_prev = e;
  else
    l->tail = e;
  o->q_prev = o->q_next = NULL;
}

/* ---- Shards and the store ---- */

/* A shard's bucket array. The chained entries hold the table's reference
** (entry_unref). Replaced when it doubles; the old one waits in limbo. */
typedef struct mem_table {
  size_t mask;      /* number of buckets - 1 */
  uint64_t retired; /* in limbo: pc__ebr_tag() */
  struct mem_table *limbo_next;
  pc_link b[]; /* mask + 1 chain heads */
} mem_table;

typedef struct pc_shard {
  /* What a get without the lock reads: written only when the table
  ** doubles, on a line of its own (the lock's line changes hands with
  ** every write). */
  alignas(64) _Atomic(mem_table *) table; /* pc__free */
  _Atomic uint32_t seq;         /* odd while do_grow() moves entries */
  unsigned char policy;         /* POL_*, the store's */
  alignas(64) atomic_bool lock; /* guards every field below but the
                                   counters, and the entries linked here */
  size_t count;                 /* entries linked in this shard */
  size_t nexpiring; /* of them, those with an expiry: reclamation skips a
                       shard with none */
  size_t cursor;    /* next bucket of the reclamation step */
  uint64_t writes;  /* sets and incrs here: paces foreign reclamation */
  /* Unlinked entries and replaced tables, oldest first, until no reader
  ** without the lock can be looking at them (pc__ebr_safe). */
  pc_entry *limbo_head, *limbo_tail;
  mem_table *tlimbo;
  /* The policy's state (its section). */
  pc_list q[2];         /* LRU, SIEVE: q[0]; S3-FIFO: q[0] small, q[1] main */
  size_t nsmall;        /* S3-FIFO: entries in q[0] */
  pc_entry *hand;       /* SIEVE: the next entry the hand looks at */
  pc_ghost_slot *ghost; /* S3-FIFO: (gmask + 1) * GHOST_WAYS slots or NULL;
                           pc__free */
  size_t gmask;
  uint32_t gclock; /* ghost additions so far (wraps) */
  /* Written under the lock, read by stats() without it. */
  _Atomic int64_t evictions, expirations;
} pc_shard;

typedef struct pc_mem {
  /* Changed by every insert and removal in any shard: kept on their own
  ** cache line, away from the read-only fields that get() reads. */
  alignas(64) _Atomic int64_t entries; /* linked entries */
  _Atomic int64_t bytes;               /* sum of nkey + nval of them */
  _Atomic unsigned evict_rr; /* first shard of the next foreign eviction */
  /* Read-only after open. */
  alignas(64) int64_t max_entries; /* 0 = none */
  int64_t max_bytes;               /* 0 = none */
  unsigned nshards;                /* power of two, 1..64 */
  unsigned shard_shift;            /* 64 - log2(nshards) */
  pc_shard *shards;                /* inside the block `raw` */
  void *raw;                       /* the block holding this struct and the
                                      shards, aligned inside; pc__free */
} pc_mem;

enum { RM_DELETED, RM_EXPIRED, RM_EVICTED };

/* ---- Policy functions (shard lock held) ---- */

/* The ghost slots of e's bucket. */
static inline pc_ghost_slot *ghost_bucket(pc_shard *s, uint32_t h24) {
  return &s->ghost[(h24 & s->gmask) * GHOST_WAYS];
}

/* How many ghost additions a slot stays a member: the shard's entries
** (the paper's ghost holds as many keys as main; a full shard's entries
** stand for its capacity, which a byte bound does not give in entries). */
static inline uint32_t ghost_window(const pc_shard *s) {
  return s->count > UINT32_MAX ? UINT32_MAX : (uint32_t)s->count;
}

/* Whether the key with stored hash h24 is a ghost; if so it stops being
** one (it is coming back). */
static bool ghost_take(pc_shard *s, uint32_t h24) {
  if (!s->ghost) return false;
  pc_ghost_slot *b = ghost_bucket(s, h24);
  uint32_t w = ghost_window(s);
  for (int i = 0; i < GHOST_WAYS; i++) {
    if (b[i].fp == (GHOST_LIVE | h24) && s->gclock - b[i].stamp < w) {
      b[i].fp = 0;
      return true;
    }
  }
  return false;
}

/* Remembers the key with stored hash h24 in the ghost, over the slot of
** its bucket that was added longest ago (header comment: sizing). */
static void ghost_add(pc_shard *s, uint32_t h24) {
  size_t want = s->count / GHOST_WAYS + 1;
  if (!s->ghost || want > 2 * (s->gmask + 1)) {
    size_t nb = 16;
    while (nb < want)
      nb *= 2;
    pc_ghost_slot *g = pc__malloc(nb * GHOST_WAYS * sizeof *g);
    if (!g) return; /* ghost off until an allocation succeeds */
    memset(g, 0, nb * GHOST_WAYS * sizeof *g);
    pc__free(s->ghost);
    s->ghost = g;
    s->gmask = nb - 1;
  }
  pc_ghost_slot *b = ghost_bucket(s, h24), *oldest = b;
  for (int i = 0; i < GHOST_WAYS; i++) {
    if (b[i].fp == 0) {
      oldest = &b[i];
      break;
    }
    if (s->gclock - b[i].stamp > s->gclock - oldest->stamp) oldest = &b[i];
  }
  oldest->fp = GHOST_LIVE | h24;
  oldest->stamp = ++s->gclock;
}

/* Links a new entry e (no entry under its key was linked). */
static void pol_insert(pc_shard *s, pc_entry *e) {
  e_set_pol(e, 0);
  if (s->policy == POL_S3FIFO && !ghost_take(s, e_hash(e))) {
    list_push(&s->q[0], e);
    s->nsmall++;
    return;
  }
  if (s->policy == POL_S3FIFO) e_set_pol(e, POL_MAIN);
  list_push(&s->q[s->policy == POL_S3FIFO], e);
}

/* A hit on e under a FIFO policy: sets a bit or bumps the frequency of e
** alone, so a reader without the shard lock may call it too. The bits are
** read first: a hot entry's line is not written again. */
static inline void pol_hit(unsigned policy, pc_entry *e) {
  uint32_t hp = atomic_load_explicit(&e->hp, memory_order_relaxed);
  if (policy == POL_SIEVE) {
    if (!(hp >> 24 & POL_VISITED))
      atomic_fetch_or_explicit(&e->hp, POL_VISITED << 24, memory_order_relaxed);
    return;
  }
  while ((hp >> 24 & POL_FREQ) != POL_FREQ &&
         !atomic_compare_exchange_weak_explicit(&e->hp, &hp, hp + (1u << 24),
                                                memory_order_relaxed,
                                                memory_order_relaxed)) {
  }
}

/* A hit on e (get, touch, an overwrite in place), shard lock held. */
static inline void pol_access(pc_shard *s, pc_entry *e) {
  if (s->policy != POL_LRU) {
    pol_hit(s->policy, e);
  } else if (s->q[0].head != e) {
    list_remove(&s->q[0], e);
    list_push(&s->q[0], e);
  }
}

/* The list e is in. */
static inline pc_list *pol_list(pc_shard *s, const pc_entry *e) {
  return &s->q[s->policy == POL_S3FIFO && (e_pol(e) & POL_MAIN)];
}

/* The new entry e replaces o under the same key: a hit, at o's place. */
static void pol_replace(pc_shard *s, pc_entry *o, pc_entry *e) {
  pc_list *l = pol_list(s, o);
  list_replace(l, o, e);
  e_set_pol(e, e_pol(o));
  if (s->hand == o) s->hand = e;
  pol_access(s, e);
}

/* Unlinks e, which leaves the shard; `why` is RM_*. */
static void pol_remove(pc_shard *s, pc_entry *e, int why) {
  pc_list *l = pol_list(s, e);
  if (s->hand == e) s->hand = e->q_prev;
  list_remove(l, e);
  if (s->policy == POL_S3FIFO && !(e_pol(e) & POL_MAIN)) {
    s->nsmall--;
    if (why == RM_EVICTED) ghost_add(s, e_hash(e));
  }
}

/* SIEVE: from the hand toward the head (then again from the tail), clears
** visited bits up to the first entry without one. */
static pc_entry *sieve_victim(pc_shard *s, const pc_entry *keep) {
  pc_list *l = &s->q[0];
  pc_entry *h = s->hand ? s->hand : l->tail;
  bool cleared = true; /* since keep was last passed */
  while (h) {
    if (h == keep) {
      if (!cleared) return NULL; /* a lap with nothing to clear: only keep */
      cleared = false;
    } else if (e_pol(h) & POL_VISITED) {
      atomic_fetch_and_explicit(&h->hp, ~(POL_VISITED << 24),
                                memory_order_relaxed);
      cleared = true;
    } else {
      break;
    }
    h = h->q_prev ? h->q_prev : l->tail;
  }
  s->hand = h; /* pol_remove moves it on if h goes */
  return h;
}

/* S3-FIFO: the small tail when the small queue holds 5% of the shard or
** more (or main has nothing else), else the main tail; entries that earned
** it move to main or go round main again on the way. */
static pc_entry *s3fifo_victim(pc_shard *s, const pc_entry *keep) {
  pc_list *sm = &s->q[0], *mn = &s->q[1];
  for (;;) {
    bool main_has = mn->tail && !(mn->tail == keep && mn->head == keep);
    bool small_has = sm->tail && !(sm->tail == keep && sm->head == keep);
    if (!main_has && !small_has) return NULL;
    bool small = small_has && (s->nsmall * 20 >= s->count || !main_has);
    pc_list *l = small ? sm : mn;
    pc_entry *v = l->tail;
    if (v == keep) { /* not alone in l: it goes to the head */
      list_remove(l, v);
      list_push(l, v);
      continue;
    }
    if (small && (e_pol(v) & POL_FREQ) > 1) { /* hit twice: promoted */
      list_remove(sm, v);
      s->nsmall--;
      e_set_pol(v, POL_MAIN);
      list_push(mn, v);
      continue;
    }
    if (!small && (e_pol(v) & POL_FREQ)) { /* once more round main */
      atomic_fetch_sub_explicit(&v->hp, 1u << 24, memory_order_relaxed);
      list_remove(mn, v);
      list_push(mn, v);
      continue;
    }
    return v;
  }
}

/* The next entry to evict from s, not unlinked, never keep; NULL if none. */
static pc_entry *pol_victim(pc_shard *s, const pc_entry *keep) {
  switch (s->policy) {
  case POL_LRU:
    return s->q[0].tail == keep ? NULL : s->q[0].tail;
  case POL_SIEVE:
    return sieve_victim(s, keep);
  default:
    return s3fifo_victim(s, keep);
  }
}

/* Empties the queues after clear() has unlinked everything. */
static void pol_reset(pc_shard *s) {
  s->q[0].head = s->q[0].tail = s->q[1].head = s->q[1].tail = NULL;
  s->nsmall = 0;
  s->hand = NULL;
  if (s->ghost)
    memset(s->ghost, 0, (s->gmask + 1) * GHOST_WAYS * sizeof *s->ghost);
}

/* The shard of hash h: its top log2(nshards) bits. */
static inline pc_shard *shard_of(pc_mem *m, uint64_t h) {
  return &m->shards[m->nshards > 1 ? (size_t)(h >> m->shard_shift) : 0];
}

/*
** The shard lock: a test-and-test-and-set spinlock. Every section it guards
** is short (a lookup, a link, at most one malloc) with no I/O; a waiter
** that spins past PC_SPIN_LIMIT rounds yields the CPU, so a holder that was
** preempted gets to run. Against a pthread mutex it saves the calls and
** about 40 instructions per operation (callgrind, tests/bench/bench_sql's
** loop), a tenth of what a cache_get costs above SELECT ?1.
*/
#define PC_SPIN_LIMIT 64
static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}
static inline void shard_lock(pc_shard *s) {
  while (atomic_exchange_explicit(&s->lock, true, memory_order_acquire)) {
    int spins = 0;
    while (atomic_load_explicit(&s->lock, memory_order_relaxed)) {
      if (++spins < PC_SPIN_LIMIT) {
        cpu_relax();
      } else {
        sched_yield();
        spins = 0;
      }
    }
  }
}
static inline bool shard_trylock(pc_shard *s) {
  return !atomic_load_explicit(&s->lock, memory_order_relaxed) &&
         !atomic_exchange_explicit(&s->lock, true, memory_order_acquire);
}
static inline void shard_unlock(pc_shard *s) {
  atomic_store_explicit(&s->lock, false, memory_order_release);
}

/* Adds 1 to a counter written only under its shard's lock. */
static inline void counter_bump(_Atomic int64_t *c) {
  atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1,
                        memory_order_relaxed);
}

/* Whether the store is over max_entries or max_bytes right now. */
static inline bool mem_over(pc_mem *m) {
  return (m->max_entries &&
          atomic_load_explicit(&m->entries, memory_order_relaxed) >
              m->max_entries) ||
         (m->max_bytes &&
          atomic_load_explicit(&m->bytes, memory_order_relaxed) > m->max_bytes);
}

/* PC_OK if an entry of nkey + nval bytes can be stored, else PC_TOOBIG. */
static int mem_check_size(const pc_mem *m, size_t nkey, size_t nval) {
  if (nval > UINT32_MAX || nkey > UINT32_MAX)
    return pc__error(PC_TOOBIG, "value is too large for the memory backend");
  if (m->max_bytes && (uint64_t)nkey + nval > (uint64_t)m->max_bytes)
    return pc__error(PC_TOOBIG, "value is larger than max_bytes");
  return PC_OK;
}

/* The shard's table (shard lock held). */
static inline mem_table *tab(pc_shard *s) {
  return atomic_load_explicit(&s->table, memory_order_relaxed);
}

/* The link (bucket head or a predecessor's hnext) that points at the entry
** under key, or NULL if there is none, live or expired. */
static inline __attribute__((always_inline)) pc_link *
do_find(pc_shard *s, uint64_t h, const void *key, size_t nkey) {
  mem_table *t = tab(s);
  for (pc_link *link = &t->b[h & t->mask]; ld(link); link = &ld(link)->hnext) {
    if (entry_is(ld(link), h, key, nkey)) return link;
  }
  return NULL;
}

/* The link that points at e, which is linked in s. */
static pc_link *do_link_of(pc_shard *s, pc_entry *e) {
  mem_table *t = tab(s);
  pc_link *link = &t->b[e_hash(e) & t->mask];
  while (ld(link) != e)
    link = &ld(link)->hnext;
  return link;
}

/* ---- Limbo ---- */

/* Puts e, just unlinked, in limbo with the table's reference, which is
** dropped once no reader without the lock can be looking at it. */
static void limbo_add(pc_shard *s, pc_entry *e) {
  e->retired = pc__ebr_tag();
  e->limbo_next = NULL;
  if (s->limbo_tail)
    s->limbo_tail->limbo_next = e;
  else
    s->limbo_head = e;
  s->limbo_tail = e;
}

/* Releases what waited long enough (all of it when `all`: the store is
** closing, nobody reads). Called by every write with the lock held. */
static void limbo_reclaim(pc_shard *s, bool all) {
  pc_entry *e;
  while ((e = s->limbo_head) && (all || pc__ebr_safe(e->retired))) {
    s->limbo_head = e->limbo_next;
    if (!s->limbo_head) s->limbo_tail = NULL;
    entry_unref(e);
  }
  mem_table **tp = &s->tlimbo, *t;
  while ((t = *tp) != NULL) {
    if (all || pc__ebr_safe(t->retired)) {
      *tp = t->limbo_next;
      pc__free(t);
    } else {
      tp = &t->limbo_next;
    }
  }
}

/* Unlinks e (at *link) and puts it in limbo, counting it as `why` in the
** shard's counters. */
static void do_remove(pc_mem *m, pc_shard *s, pc_link *link, pc_entry *e,
                      int why) {
  st(link, ld(&e->hnext));
  pol_remove(s, e, why);
  s->count--;
  if (e_exp(e) != PC_EXPIRES_NEVER) s->nexpiring--;
  atomic_fetch_sub_explicit(&m->entries, 1, memory_order_relaxed);
  atomic_fetch_sub_explicit(&m->bytes, entry_bytes(e), memory_order_relaxed);
  if (why == RM_EXPIRED)
    counter_bump(&s->expirations);
  else if (why == RM_EVICTED)
    counter_bump(&s->evictions);
  limbo_add(s, e);
}

/* Whether an entry expiring at `exp` has expired at *now. A lazy *now
** (PC_NOW_LAZY) is read from the clock, once per call, and only for an
** entry that has an expiry. */
static inline bool exp_passed(int64_t exp, int64_t *now) {
  if (exp == PC_EXPIRES_NEVER) return false;
  if (*now == PC_NOW_LAZY) *now = pc_now_mono_ms();
  return exp <= *now;
}
static inline bool expired(const pc_entry *e, int64_t *now) {
  return exp_passed(e_exp(e), now);
}

/* Like do_find() but only for a live entry: an expired one found on the way
** is removed (an expiration) and NULL returned. */
static inline __attribute__((always_inline)) pc_link *
do_find_live(pc_mem *m, pc_shard *s, uint64_t h, const void *key, size_t nkey,
             int64_t *now) {
  pc_link *link = do_find(s, h, key, nkey);
  if (link && expired(ld(link), now)) {
    do_remove(m, s, link, ld(link), RM_EXPIRED);
    return NULL;
  }
  return link;
}

/* A table of n empty buckets, or NULL. */
static mem_table *table_new(size_t n) {
  mem_table *t = pc__malloc(sizeof *t + n * sizeof(pc_link));
  if (!t) return NULL;
  t->mask = n - 1;
  t->retired = 0;
  t->limbo_next = NULL;
  for (size_t i = 0; i < n; i++)
    atomic_init(&t->b[i], NULL);
  return t;
}

/* Doubles the bucket array of s at once; on allocation failure leaves it as
** it is (chains get longer; the next insert tries again). Moving an entry
** changes its hnext, which can lead a reader without the lock off its
** chain: seq is odd meanwhile, and such a reader trusts a miss only when
** seq did not change. */
static void do_grow(pc_shard *s) {
  mem_table *t = tab(s);
  size_t n = t->mask + 1;
  if (2 * n - 1 > HASH_MASK || n > SIZE_MAX / 2 / sizeof(pc_link)) return;
  mem_table *nt = table_new(2 * n);
  if (!nt) return;
  uint32_t seq = atomic_load_explicit(&s->seq, memory_order_relaxed);
  atomic_store_explicit(&s->seq, seq + 1, memory_order_relaxed);
  atomic_thread_fence(memory_order_release);
  for (size_t i = 0; i < n; i++) {
    pc_entry *e = ld(&t->b[i]);
    while (e) {
      pc_entry *next = ld(&e->hnext);
      pc_link *head = &nt->b[e_hash(e) & nt->mask];
      st(&e->hnext, ld(head));
      st(head, e);
      e = next;
    }
  }
  atomic_store_explicit(&s->table, nt, memory_order_release);
  atomic_store_explicit(&s->seq, seq + 2, memory_order_release);
  t->retired = pc__ebr_tag();
  t->limbo_next = s->tlimbo;
  s->tlimbo = t;
}

/* Links the new entry e (holding its one reference) in s. `old` is the link
** of the entry under the same key, which e replaces in place (old goes to
** limbo), or NULL when the key is absent. */
static void do_link(pc_mem *m, pc_shard *s, pc_link *old, pc_entry *e) {
  int64_t nbytes = entry_bytes(e);
  if (e_exp(e) != PC_EXPIRES_NEVER) s->nexpiring++;
  if (old) {
    pc_entry *o = ld(old);
    atomic_init(&e->hnext, ld(&o->hnext));
    st(old, e);
    pol_replace(s, o, e);
    if (e_exp(o) != PC_EXPIRES_NEVER) s->nexpiring--;
    atomic_fetch_add_explicit(&m->bytes, nbytes - entry_bytes(o),
                              memory_order_relaxed);
    limbo_add(s, o);
    return;
  }
  mem_table *t = tab(s);
  pc_link *head = &t->b[e_hash(e) & t->mask];
  atomic_init(&e->hnext, ld(head));
  st(head, e);
  pol_insert(s, e);
  s->count++;
  atomic_fetch_add_explicit(&m->entries, 1, memory_order_relaxed);
  atomic_fetch_add_explicit(&m->bytes, nbytes, memory_order_relaxed);
  if (s->count > t->mask + 1) do_grow(s);
}

/* One bounded reclamation step: examines up to MEM_RECLAIM_BUCKETS buckets
** from the shard's cursor, stopping once MEM_RECLAIM_ENTRIES entries were
** seen, and removes the expired ones. */
static void do_reclaim_step(pc_mem *m, pc_shard *s, int64_t *now) {
  if (s->nexpiring == 0) return;
  size_t seen = 0;
  mem_table *t = tab(s);
  for (int b = 0; b < MEM_RECLAIM_BUCKETS && seen < MEM_RECLAIM_ENTRIES; b++) {
    pc_link *link = &t->b[s->cursor++ & t->mask];
    pc_entry *e;
    while ((e = ld(link)) != NULL) {
      seen++;
      if (expired(e, now))
        do_remove(m, s, link, e, RM_EXPIRED);
      else
        link = &e->hnext;
    }
  }
}

/* Evicts from s while the store is over a bound, never `keep` (the entry
** just written); stops when s has nothing else to give. */
static void do_evict(pc_mem *m, pc_shard *s, const pc_entry *keep,
                     int64_t *now) {
  while (mem_over(m)) {
    pc_entry *v = pol_victim(s, keep);
    if (!v) return;
    do_remove(m, s, do_link_of(s, v), v,
              expired(v, now) ? RM_EXPIRED : RM_EVICTED);
  }
}

/*
** The part of a write done after releasing the writer's shard `own` (no
** lock held): eviction from the other shards, round robin, one victim per
** shard visit, while the store is over a bound (stops after a round that
** found nothing); and every MEM_FOREIGN_RECLAIM_EVERY writes a reclamation
** step on another shard, skipped if that shard is busy.
*/
static void mem_after_write(pc_mem *m, pc_shard *own, uint64_t w,
                            int64_t *now) {
  if (m->nshards == 1) return;
  unsigned mask = m->nshards - 1;
  if (mem_over(m)) {
    unsigned i =
        atomic_fetch_add_explicit(&m->evict_rr, 1, memory_order_relaxed);
    unsigned idle = 0; /* consecutive shards that gave nothing */
    while (idle < m->nshards && mem_over(m)) {
      pc_shard *s = &m->shards[i++ & mask];
      if (s == own) {
        idle++;
        continue;
      }
      shard_lock(s);
      /* Re-checked under the lock: choosing a FIFO policy's victim moves
      ** its hand and its entries, which only an eviction should do. */
      pc_entry *v = mem_over(m) ? pol_victim(s, NULL) : NULL;
      if (v) {
        do_remove(m, s, do_link_of(s, v), v,
                  expired(v, now) ? RM_EXPIRED : RM_EVICTED);
        idle = 0;
      } else {
        idle++;
      }
      shard_unlock(s);
    }
  }
  if (w % MEM_FOREIGN_RECLAIM_EVERY == 0) {
    size_t own_i = (size_t)(own - m->shards);
    pc_shard *s = &m->shards[(own_i + w / MEM_FOREIGN_RECLAIM_EVERY) & mask];
    if (s != own && shard_trylock(s)) {
      do_reclaim_step(m, s, now);
      shard_unlock(s);
    }
  }
}

/* ---- Methods ---- */

static void mem_close(void *b);

/* The POL_* of an eviction name; the configuration has checked it, and
** an empty one (a pc_config filled by hand) is the default. */
static int mem_policy(const char *name) {
  if (strcmp(name, "lru") == 0) return POL_LRU;
  if (strcmp(name, "sieve") == 0) return POL_SIEVE;
  return POL_S3FIFO;
}

/* Opens a store for cfg->max_entries and cfg->max_bytes (each <= 0 means
** no bound) with the number of shards the header comment gives. PC_OK and
** *pb, or PC_NOMEM with nothing allocated. */
static int mem_open(const pc_config *cfg, void **pb) {
  int64_t maxe = cfg->max_entries > 0 ? cfg->max_entries : 0;
  int64_t maxb = cfg->max_bytes > 0 ? cfg->max_bytes : 0;
  unsigned n = MEM_MAX_SHARDS;
  while (n > 1 && !((maxe == 0 || maxe / n >= MEM_MIN_SHARD_ENTRIES) &&
                    (maxb == 0 || maxb / n >= MEM_MIN_SHARD_BYTES)))
    n >>= 1;
  size_t size = sizeof(pc_mem) + n * sizeof(pc_shard) + 63;
  void *raw = pc__malloc(size);
  if (!raw) return pc__error(PC_NOMEM, "out of memory");
  pc_mem *m = (pc_mem *)(((uintptr_t)raw + 63) & ~(uintptr_t)63);
  memset(m, 0, sizeof *m);
  atomic_init(&m->entries, 0);
  atomic_init(&m->bytes, 0);
  atomic_init(&m->evict_rr, 0);
  m->max_entries = maxe;
  m->max_bytes = maxb;
  int policy = mem_policy(cfg->eviction);
  m->nshards = 0; /* shards initialized so far, for mem_close on failure */
  m->shard_shift = 64 - (unsigned)__builtin_ctz(n);
  m->shards = (pc_shard *)(m + 1);
  m->raw = raw;
  for (unsigned i = 0; i < n; i++) {
    pc_shard *s = &m->shards[i];
    memset(s, 0, sizeof *s);
    mem_table *t = table_new(MEM_INIT_BUCKETS);
    if (!t) {
      mem_close(m);
      return pc__error(PC_NOMEM, "out of memory");
    }
    atomic_init(&s->table, t);
    atomic_init(&s->seq, 0);
    s->policy = (unsigned char)policy;
    m->nshards = i + 1; /* (its counters are zero: memset) */
  }
  *pb = m;
  return PC_OK;
}

/* Frees the store and drops the table's reference to every entry, linked
** or in limbo (entries that readers still hold are freed by their last
** release). No operation on the store is in flight. */
static void mem_close(void *b) {
  pc_mem *m = b;
  if (!m) return;
  for (unsigned i = 0; i < m->nshards; i++) {
    pc_shard *s = &m->shards[i];
    mem_table *t = tab(s);
    for (size_t j = 0; j <= t->mask; j++) {
      pc_entry *e = ld(&t->b[j]);
      while (e) {
        pc_entry *next = ld(&e->hnext);
        entry_unref(e);
        e = next;
      }
    }
    limbo_reclaim(s, true);
    pc__free(t);
    pc__free(s->ghost);
  }
  pc__free(m->raw);
}

/*
** A get without the shard lock, for the FIFO policies (LRU moves the entry,
** which takes the lock): in an epoch read section, the chain is walked with
** acquire loads and the entry found gets its reference by an atomic add;
** unlinked entries and replaced tables are freed only after every reader
** that could see them has left (limbo). A miss counts only if the table
** did not double meanwhile (seq). What this path cannot decide (an expired
** entry to remove, a value being rewritten, a table being doubled, no
** epoch record, a chain past GET_MAX_HOPS) it leaves to the locked path:
** GET_LOCKED.
**
** Why: a lock taken by every get is a line that both cores write, and it
** moved between them on each get (tests/bench/bench_threads: gets scaled
** 89%-114% of SELECT ?1's scaling with it; README, "Threads").
*/
#define GET_LOCKED (-1)
#define GET_MAX_HOPS 64
static int get_unlocked(pc_shard *s, uint64_t h, const void *key, size_t nkey,
                        int64_t *now, pc_buf *val, int64_t *expires) {
  pc_ebr_rec *r = pc__ebr_enter();
  if (!r) return GET_LOCKED;
  int rc = GET_LOCKED;
  uint32_t seq = atomic_load_explicit(&s->seq, memory_order_acquire);
  if (seq & 1) goto out;
  mem_table *t = atomic_load_explicit(&s->table, memory_order_acquire);
  pc_entry *e = atomic_load_explicit(&t->b[h & t->mask], memory_order_acquire);
  for (int hops = 0; e && !entry_is(e, h, key, nkey); hops++) {
    if (hops == GET_MAX_HOPS) goto out;
    e = atomic_load_explicit(&e->hnext, memory_order_acquire);
  }
  if (!e) {
    atomic_thread_fence(memory_order_acquire);
    if (atomic_load_explicit(&s->seq, memory_order_relaxed) == seq)
      rc = PC_NOTFOUND;
    goto out;
  }
  /* The table's reference lasts while this section does: refs > 0. */
  if (atomic_fetch_add_explicit(&e->refs, 1, memory_order_acquire) &
      REWRITING) {
    atomic_fetch_sub_explicit(&e->refs, 1, memory_order_relaxed);
    goto out;
  }
  int64_t exp = e_exp(e);
  if (exp_passed(exp, now)) { /* removed under the lock */
    atomic_fetch_sub_explicit(&e->refs, 1, memory_order_relaxed);
    goto out;
  }
  pol_hit(s->policy, e);
  if (expires) *expires = exp;
  val->p = e->data;
  val->n = e->nval;
  val->free_fn = mem_release;
  rc = PC_OK;
out:
  pc__ebr_exit(r);
  return rc;
}

/* The live entry under key: PC_OK with *val referencing its bytes in place
** (val->free_fn drops the reference) and *expires, or PC_NOTFOUND (an
** expired entry found is removed). The entry becomes the most recent. */
static int mem_get(void *b, const void *key, size_t nkey, int64_t now,
                   pc_buf *val, int64_t *expires) {
  pc_mem *m = b;
  uint64_t h = pc__hash(key, nkey);
  pc_shard *s = shard_of(m, h);
  if (s->policy != POL_LRU) {
    int rc = get_unlocked(s, h, key, nkey, &now, val, expires);
    if (rc != GET_LOCKED) return rc;
  }
  shard_lock(s);
  pc_link *link = do_find_live(m, s, h, key, nkey, &now);
  if (!link) {
    shard_unlock(s);
    return PC_NOTFOUND;
  }
  pc_entry *e = ld(link);
  entry_ref(e);
  pol_access(s, e);
  if (expires) *expires = e_exp(e);
  shard_unlock(s);
  val->p = e->data;
  val->n = e->nval;
  val->free_fn = mem_release;
  return PC_OK;
}

/* Writes val over the value of o, in place, when that is safe and cheap:
** o has the same value length and no reader holds it (only the table's
** reference; REWRITING turns away readers without the lock until the
** bytes are written, and the others need the lock the caller holds, so
** nobody can see a half-written value). Saves the allocation, the free
** and the relinking of an overwrite with a value of the same size, the
** common refresh of a cached entry. */
static bool do_rewrite(pc_shard *s, pc_entry *o, const void *val, size_t nval,
                       int64_t expires, int flags) {
  uint32_t one = 1;
  if (o->nval != nval || !atomic_compare_exchange_strong_explicit(
                             &o->refs, &one, 1 | REWRITING,
                             memory_order_acquire, memory_order_relaxed))
    return false;
  if (nval) memcpy(o->data, val, nval);
  if (!(flags & PC_SET_KEEPTTL)) {
    if (e_exp(o) != PC_EXPIRES_NEVER) s->nexpiring--;
    if (expires != PC_EXPIRES_NEVER) s->nexpiring++;
    e_set_exp(o, expires);
  }
  /* Readers without the lock that came meanwhile added and gave back
  ** their references: take away only the bit. */
  atomic_fetch_sub_explicit(&o->refs, REWRITING, memory_order_release);
  pol_access(s, o);
  return true;
}

/* Stores a copy of (key, val) expiring at `expires`, replacing a present
** entry (in place when do_rewrite can, else by one pointer swap). NX:
** PC_EXISTS if a live entry is there; XX: PC_NOTFOUND if none is; KEEPTTL:
** a live entry's expiry is kept. PC_TOOBIG or PC_NOMEM change nothing.
** Then reclaims and evicts (header comment). */
static int mem_set(void *b, const void *key, size_t nkey, const void *val,
                   size_t nval, int64_t expires, int flags, int64_t now) {
  pc_mem *m = b;
  int rc = mem_check_size(m, nkey, nval);
  if (rc != PC_OK) return rc;
  uint64_t h = pc__hash(key, nkey);
  pc_shard *s = shard_of(m, h);
  shard_lock(s);
  pc_link *old = do_find_live(m, s, h, key, nkey, &now);
  if ((flags & PC_SET_NX) && old)
    rc = PC_EXISTS;
  else if ((flags & PC_SET_XX) && !old)
    rc = PC_NOTFOUND;
  if (rc != PC_OK) {
    shard_unlock(s);
    return rc;
  }
  pc_entry *e =
      old && do_rewrite(s, ld(old), val, nval, expires, flags) ? ld(old) : NULL;
  if (!e) {
    /* Allocated under the lock: one malloc (~15 ns) is cheaper than
    ** looking the key up a second time after allocating outside it. */
    e = entry_new(h, key, nkey, val, nval, expires);
    if (!e) {
      shard_unlock(s);
      return pc__error(PC_NOMEM, "out of memory");
    }
    if ((flags & PC_SET_KEEPTTL) && old) e_set_exp(e, e_exp(ld(old)));
    do_link(m, s, old, e);
  }
  do_reclaim_step(m, s, &now);
  do_evict(m, s, e, &now);
  limbo_reclaim(s, false);
  uint64_t w = ++s->writes;
  shard_unlock(s);
  mem_after_write(m, s, w, &now);
  return PC_OK;
}

/* PC_OK if a live entry under key was removed; PC_NOTFOUND otherwise (an
** expired one is removed too, as an expiration). */
static int mem_del(void *b, const void *key, size_t nkey, int64_t now) {
  pc_mem *m = b;
  uint64_t h = pc__hash(key, nkey);
  pc_shard *s = shard_of(m, h);
  shard_lock(s);
  pc_link *link = do_find_live(m, s, h, key, nkey, &now);
  if (link) do_remove(m, s, link, ld(link), RM_DELETED);
  limbo_reclaim(s, false);
  shard_unlock(s);
  return link ? PC_OK : PC_NOTFOUND;
}

/* Removes every entry, one shard at a time: under the lock the chains are
** detached and counted, and the entries go to limbo. Expired entries
** removed count as expirations, not in *removed. */
static int mem_clear(void *b, int64_t now, int64_t *removed) {
  pc_mem *m = b;
  int64_t live = 0;
  for (unsigned i = 0; i < m->nshards; i++) {
    pc_shard *s = &m->shards[i];
    int64_t n = 0, nbytes = 0, nexpired = 0;
    shard_lock(s);
    mem_table *t = tab(s);
    for (size_t j = 0; j <= t->mask; j++) {
      pc_entry *e = ld(&t->b[j]);
      st(&t->b[j], NULL);
      while (e) {
        pc_entry *next = ld(&e->hnext);
        n++;
        nbytes += entry_bytes(e);
        if (expired(e, &now)) nexpired++;
        limbo_add(s, e);
        e = next;
      }
    }
    pol_reset(s);
    s->count = 0;
    s->nexpiring = 0;
    atomic_fetch_sub_explicit(&m->entries, n, memory_order_relaxed);
    atomic_fetch_sub_explicit(&m->bytes, nbytes, memory_order_relaxed);
    atomic_store_explicit(
        &s->expirations,
        atomic_load_explicit(&s->expirations, memory_order_relaxed) + nexpired,
        memory_order_relaxed);
    limbo_reclaim(s, false);
    shard_unlock(s);
    live += n - nexpired;
  }
  if (removed) *removed = live;
  return PC_OK;
}

/* Sets the expiry of the live entry under key (which becomes the most
** recent): PC_OK, or PC_NOTFOUND. */
static int mem_touch(void *b, const void *key, size_t nkey, int64_t expires,
                     int64_t now) {
  pc_mem *m = b;
  uint64_t h = pc__hash(key, nkey);
  pc_shard *s = shard_of(m, h);
  shard_lock(s);
  pc_link *link = do_find_live(m, s, h, key, nkey, &now);
  if (link) {
    pc_entry *e = ld(link);
    s->nexpiring += (expires != PC_EXPIRES_NEVER);
    s->nexpiring -= (e_exp(e) != PC_EXPIRES_NEVER);
    e_set_exp(e, expires);
    pol_access(s, e);
  }
  shard_unlock(s);
  return link ? PC_OK : PC_NOTFOUND;
}

/* Adds delta to the integer under key, all under the shard lock: the value
** is decoded with codec (its PC_MISMATCH, or any other error, is returned
** as is), checked for overflow (PC_ERROR "integer overflow"), encoded into
** a new entry that keeps the old expiry (an absent key starts at 0 with
** `expires`). *result is set only on PC_OK; on any error nothing changed. */
static int mem_incr(void *b, const void *key, size_t nkey, int64_t delta,
                    int64_t expires, int64_t now, const pc_int_codec *codec,
                    int64_t *result) {
  pc_mem *m = b;
  uint64_t h = pc__hash(key, nkey);
  pc_shard *s = shard_of(m, h);
  unsigned char buf[PC_INT_ENCODED_MAX];
  int64_t cur = 0, next;
  uint64_t w = 0;
  int rc = PC_OK;
  shard_lock(s);
  pc_link *old = do_find_live(m, s, h, key, nkey, &now);
  if (old) {
    rc = codec->decode(ld(old)->data, ld(old)->nval, &cur);
    if (rc != PC_OK) goto out;
    expires = e_exp(ld(old));
  }
  if (__builtin_add_overflow(cur, delta, &next)) {
    rc = pc__error(PC_ERROR, "integer overflow");
    goto out;
  }
  size_t n = codec->encode(next, buf);
  rc = mem_check_size(m, nkey, n);
  if (rc != PC_OK) goto out;
  /* Allocated under the lock: the bytes depend on the current value. */
  pc_entry *e = entry_new(h, key, nkey, buf, n, expires);
  if (!e) {
    rc = pc__error(PC_NOMEM, "out of memory");
    goto out;
  }
  do_link(m, s, old, e);
  do_reclaim_step(m, s, &now);
  do_evict(m, s, e, &now);
  limbo_reclaim(s, false);
  *result = next;
  w = ++s->writes;
out:
  shard_unlock(s);
  if (rc == PC_OK) mem_after_write(m, s, w, &now);
  return rc;
}

/* Fills entries, bytes, evictions and expirations of *out, nothing else.
** The totals are read without locks: exact when no write is in flight. */
static void mem_stats(void *b, pc_stats *out) {
  pc_mem *m = b;
  int64_t ev = 0, ex = 0;
  for (unsigned i = 0; i < m->nshards; i++) {
    ev += atomic_load_explicit(&m->shards[i].evictions, memory_order_relaxed);
    ex += atomic_load_explicit(&m->shards[i].expirations, memory_order_relaxed);
  }
  out->entries = atomic_load_explicit(&m->entries, memory_order_relaxed);
  out->bytes = atomic_load_explicit(&m->bytes, memory_order_relaxed);
  out->evictions = ev;
  out->expirations = ex;
}

/* ---- Scan ---- */

/*
** An iteration takes the shards one at a time: under the shard's lock it
** references every live entry whose key matches into `batch`, then unlocks
** and hands them out. Memory is one shard's worth of pointers; a writer
** waits at most for one shard's walk; entries removed meanwhile stay valid
** through the references.
*/
typedef struct pc_scan_slot {
  pc_entry *e;     /* a reference */
  int64_t expires; /* e->expires read under the lock (touch may change it) */
} pc_scan_slot;

typedef struct pc_mem_scan {
  pc_mem *m;
  int64_t now;
  int nocase;
  unsigned next_shard; /* next shard to collect */
  pc_scan_slot *batch; /* references to hand out; entry_unref [pos, n),
                          then pc__free */
  size_t n, pos, cap;
  pc_entry *current; /* reference keeping the last key valid; entry_unref */
  size_t nprefix;
  unsigned char prefix[]; /* copy of the prefix */
} pc_mem_scan;

/* Whether c is an ASCII letter (only those fold under nocase). */
static inline bool is_ascii_alpha(unsigned char c) {
  return (c | 0x20) >= 'a' && (c | 0x20) <= 'z';
}

/* Whether key k starts with p; with nocase, a letter of p matches either
** case of itself, any other byte only itself. */
static bool key_has_prefix(const unsigned char *k, size_t nk,
                           const unsigned char *p, size_t np, int nocase) {
  if (nk < np) return false;
  if (!nocase) return np == 0 || memcmp(k, p, np) == 0;
  for (size_t i = 0; i < np; i++) {
    if (k[i] == p[i]) continue;
    if (!is_ascii_alpha(p[i]) || (k[i] | 0x20) != (p[i] | 0x20)) return false;
  }
  return true;
}

/* Starts an iteration over the live entries whose key starts with prefix
** (copied) as of `now`: PC_OK and *pit, or PC_NOMEM. */
static int mem_scan_open(void *b, const void *prefix, size_t nprefix,
                         int nocase, int64_t now, void **pit) {
  pc_mem_scan *it = pc__malloc(sizeof *it + nprefix);
  if (!it) return pc__error(PC_NOMEM, "out of memory");
  memset(it, 0, sizeof *it);
  it->m = b;
  it->now = now;
  it->nocase = nocase;
  it->nprefix = nprefix;
  if (nprefix) memcpy(it->prefix, prefix, nprefix);
  *pit = it;
  return PC_OK;
}

/* Fills it->batch from shard s. PC_NOMEM leaves the iterator as it was. */
static int scan_collect(pc_mem_scan *it, pc_shard *s) {
  /* Size the array for the shard outside its lock, then check. */
  for (;;) {
    shard_lock(s);
    if (s->count <= it->cap) break;
    size_t want = s->count + s->count / 4;
    shard_unlock(s);
    pc_scan_slot *nb = pc__malloc(want * sizeof *nb);
    if (!nb) return pc__error(PC_NOMEM, "out of memory");
    pc__free(it->batch);
    it->batch = nb;
    it->cap = want;
  }
  size_t n = 0;
  mem_table *t = tab(s);
  for (size_t j = 0; j <= t->mask; j++) {
    for (pc_entry *e = ld(&t->b[j]); e; e = ld(&e->hnext)) {
      size_t nk;
      const unsigned char *k = entry_key(e, &nk);
      if (e_exp(e) > it->now &&
          key_has_prefix(k, nk, it->prefix, it->nprefix, it->nocase)) {
        entry_ref(e);
        it->batch[n].e = e;
        it->batch[n++].expires = e_exp(e);
      }
    }
  }
  shard_unlock(s);
  it->n = n;
  it->pos = 0;
  return PC_OK;
}

/* The next item: PC_OK with *item (key valid until the next call, val a
** reference the caller releases), PC_DONE at the end, or PC_NOMEM (the
** iteration can be continued or closed). */
static int mem_scan_next(void *pit, pc_backend_item *item) {
  pc_mem_scan *it = pit;
  if (it->current) {
    entry_unref(it->current);
    it->current = NULL;
  }
  while (it->pos == it->n) {
    if (it->next_shard == it->m->nshards) return PC_DONE;
    int rc = scan_collect(it, &it->m->shards[it->next_shard]);
    if (rc != PC_OK) return rc;
    it->next_shard++;
  }
  pc_scan_slot *slot = &it->batch[it->pos++];
  pc_entry *e = slot->e;
  it->current = e; /* the batch's reference, kept for the key */
  entry_ref(e);    /* the caller's, for the value */
  item->key = entry_key(e, &item->nkey);
  item->val.p = e->data;
  item->val.n = e->nval;
  item->val.free_fn = mem_release;
  item->expires = slot->expires;
  return PC_OK;
}

/* Ends an iteration, dropping the references not handed out. */
static void mem_scan_close(void *pit) {
  pc_mem_scan *it = pit;
  if (!it) return;
  if (it->current) entry_unref(it->current);
  for (size_t i = it->pos; i < it->n; i++)
    entry_unref(it->batch[i].e);
  pc__free(it->batch);
  pc__free(it);
}

const pc_backend_methods pc__memory_backend = {
    .name = "memory",
    .wall_clock = false,
    .open = mem_open,
    .close = mem_close,
    .get = mem_get,
    .set = mem_set,
    .del = mem_del,
    .clear = mem_clear,
    .touch = mem_touch,
    .incr = mem_incr,
    .scan_open = mem_scan_open,
    .scan_next = mem_scan_next,
    .scan_close = mem_scan_close,
    .stats = mem_stats,
};
