/*
** pc_mem.c: the in-process memory backend, pc__memory_backend ("memory").
**
** What it owns
**   Every entry of a memory cache: its bytes, the hash tables that find it,
**   the eviction policy's queues that order it, and the counters (entries,
**   bytes, evictions, expirations) that stats() reports. Expiries are
**   absolute monotonic milliseconds (wall_clock = false); the engine passes
**   `now` on the same clock, or PC_NOW_LAZY, and then only the expiry
**   check (exp_passed) reads one: the cheap late clock first, the precise
**   one when that cannot decide.
**
** How it works
**   - Shards. A store is N shards (N a power of two, 1..64). The top log2(N)
**     bits of an entry's 64-bit pc__hash() pick its shard, the low 32 bits
**     its bucket. Each shard has its own spinlock, its own chained hash
**     table and its own policy queue, so threads working on different keys
**     rarely meet on a lock. No code path ever holds two shard locks: work that
**     spans shards (eviction from another shard, the foreign reclamation
**     step, clear, scan, close) takes them one after the other.
**   - Entries. One slot per entry in the store's slab (core/pc_slab.c:
**     8-byte-granular size classes in pages, no header per slot), named by
**     a 32-bit handle: a 32-byte header, then the value bytes, then the
**     key:
**
**       [expires q_prev q_next hnext refs|pol nval keyword][value][key]
**
**     Links (bucket heads, hnext, the policy's queues) are handles, half
**     the size of pointers. The value starts at the fixed offset
**     offsetof(pc_entry, data), so the pointer handed to a reader finds its
**     entry again without a lookup. The key word is 16 bits of the key's
**     hash over its length, so a lookup passes a chain's other keys without
**     reading their bytes (a key of 65,535 bytes or more keeps its length
**     before its bytes).
**   - References. An entry is reference-counted: the table holds one
**     reference while the entry is linked (and in limbo, below), each
**     reader one more. get() hands out the value bytes in place, with
**     mem_release() as their free function; releases happen without any
**     lock (an atomic decrement). Everything that removes an entry
**     (delete, overwrite, eviction, expiry, clear) unlinks it under the
**     lock and puts it in its shard's limbo, so bytes a reader holds stay
**     valid until the reader lets go, and a value is never modified while
**     anyone can read it: readers see the old or the new entry, never a
**     torn one (do_rewrite() writes in place only with no reader, behind
**     EXP_REWRITING).
**   - Gets without a lock. Under SIEVE and S3-FIFO (the default), a get
**     takes no lock: it walks the chain in an epoch read section
**     (core/pc_ebr.c), takes its reference with an atomic add and marks
**     the hit with at most one atomic write to the entry; a lock taken by
**     every get made both cores write its cache line (get_unlocked()).
**     Limbo keeps an unlinked entry until no reader without the lock can
**     still reach it (pc__ebr_safe) and no reader holds it; each write
**     frees what is due (LIMBO_BUDGET at most). A deleted entry's bytes
**     thus return at a later write to its shard, or at clear or close.
**   - Closing. Entries that readers still hold outlive the store: the slab
**     is closed with them allocated, and the last release of each gives
**     its slot back (pc__slab_free_orphan).
**   - Hash tables. Chained, a power-of-two array of handles per shard,
**     doubled when the shard holds more entries than buckets (load factor
**     <= 1). Doubling is done at once, not incrementally (as redis dict.c
**     does): each key is hashed again, the pause is bounded by one shard's
**     entries (1/N of the cache), and lookups stay one simple loop instead
**     of probing two tables on every get. A get without the lock that
**     misses while a doubling moves entries retries under the lock (seq).
**     If the bigger array cannot be allocated, the shard keeps working
**     with longer chains and tries again at the next insert; an insert
**     never fails because of it. Tables never shrink (clear keeps them;
**     their size is the high water mark of one shard).
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
** Memory per entry (64-bit): the 32-byte header, the slot's rounding to 8
** bytes (3.5 on average), 4 to 8 bytes of bucket array and, in a full
** S3-FIFO store, a 4-byte ghost slot: 40 to 45 bytes beyond key and value
** measured over 1M entries by tests/bench/bench_memory (SPEC section 9:
** at most 48). One slab serves every shard of a store, under its own
** spinlock taken inside a shard lock, so that its partly filled pages are
** one set per store, not one per shard.
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
**   - Keys and values below 4 GiB (lengths are 32 bits): SQLite values
**     are at most 2 GiB and the engine's default max_value_bytes is
**     32 MiB; anything bigger is PC_TOOBIG.
**   - At most 2^24 buckets per shard: past 16M entries a shard's chains
**     grow longer than one instead of its table growing without end.
**   - 2^19 slab pages per store: 32 GiB of entries up to 7 KiB each; an
**     entry above 7,272 bytes takes a page index of its own, so at most
**     524,287 of those (3.8 GB of 7 KiB values). Past either an insert is
**     PC_NOMEM.
**   - 64 buckets to start a shard: 256 bytes, and the keys of a small cache
**     sit at a load under one half, where a get seldom passes another
**     entry (bench_sql's 1,000 keys over 64 shards: cache_get took 231 ns
**     with 16 buckets a shard, at a load near 1, and 226 ns with 64).
*/
#include "pc_internal.h"
#include "pc_slab.h"

#include <sched.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stddef.h>
#include <string.h>

#define MEM_MAX_SHARDS 64
#define MEM_MIN_SHARD_ENTRIES 1024
#define MEM_MIN_SHARD_BYTES (1 << 20)
#define MEM_INIT_BUCKETS 64
#define MEM_RECLAIM_BUCKETS 4
#define MEM_RECLAIM_ENTRIES 16
#define MEM_FOREIGN_RECLAIM_EVERY 8 /* power of two */
#define MEM_MAX_BUCKETS (1u << 24)  /* per shard (header: bounds) */

/* ---- Entries ---- */

typedef struct pc_entry pc_entry;
typedef _Atomic uint32_t pc_link; /* a bucket head or an hnext: a handle */
struct pc_entry {
  _Atomic int64_t expires; /* absolute monotonic ms or PC_EXPIRES_NEVER */
  union {
    struct {                   /* while linked */
      uint32_t q_prev, q_next; /* the policy's queue (handles) */
    };
    struct {               /* unlinked, waiting in its shard's limbo */
      uint32_t retired;    /* pc__ebr_tag() when unlinked */
      uint32_t limbo_next; /* handle */
    };
    pc_entry *held_next; /* mem_close: entries a reader still holds */
  };
  pc_link hnext;        /* next in the bucket chain; left as it is when the
                           entry is unlinked, so a reader on it walks on */
  _Atomic uint32_t rp;  /* references | policy bits << 24 */
  uint32_t nval;        /* value length */
  uint32_t kw;          /* key_word(): hash tag << 16 | key length */
  unsigned char data[]; /* value, then key */
};

#if UINTPTR_MAX == UINT64_MAX
_Static_assert(sizeof(pc_entry) == 32, "pc_entry header grew");
#endif

/* rp: the table's reference (while linked, and in limbo until it is
** dropped) + one per reader in the low 22 bits, the policy's 8 bits on
** top. A get that finds REFS_LIMIT references already gets a copy
** instead. A scan takes its references without that check, at most two an
** open iterator (its batch's and the item it hands out), so the 2^21 left
** above REFS_LIMIT would take a million iterators open on one cache at
** once to reach the bits above. */
#define REFS_MASK 0x3FFFFFu
#define REFS_LIMIT 0x200000u
#define POL_SHIFT 24

/* expires while do_rewrite() writes the value in place: a reader without
** the lock sees an expired entry, gives its reference back and takes the
** lock, which the writer holds. */
#define EXP_REWRITING INT64_MIN

static inline unsigned e_pol(const pc_entry *e) {
  return atomic_load_explicit(&e->rp, memory_order_relaxed) >> POL_SHIFT;
}
/* Sets the policy bits (shard lock held); a hit marked meanwhile by a
** reader without the lock may be lost, which only costs the entry a hit. */
static inline void e_set_pol(pc_entry *e, unsigned pol) {
  uint32_t v = atomic_load_explicit(&e->rp, memory_order_relaxed);
  while (!atomic_compare_exchange_weak_explicit(
      &e->rp, &v, (v & ((1u << POL_SHIFT) - 1)) | (uint32_t)pol << POL_SHIFT,
      memory_order_relaxed, memory_order_relaxed)) {
  }
}
static inline int64_t e_exp(const pc_entry *e) {
  return atomic_load_explicit(&e->expires, memory_order_relaxed);
}
static inline void e_set_exp(pc_entry *e, int64_t expires) {
  atomic_store_explicit(&e->expires, expires, memory_order_relaxed);
}
static inline uint32_t ld(pc_link *l) { /* under the shard lock */
  return atomic_load_explicit(l, memory_order_relaxed);
}
static inline void st(pc_link *l, uint32_t h) { /* publishes h's fields */
  atomic_store_explicit(l, h, memory_order_release);
}

/* An entry's key word: 16 bits of the key's hash (bits 32-47, which
** neither the shard nor the bucket uses) above its length, or NKEY_LONG
** for a key of 64 KiB - 1 or more, whose length then precedes its bytes
** (4 bytes, after the value). A lookup compares this word first, so a
** chain's other keys are told apart without reading their bytes, which
** sit on another cache line after the value. */
#define NKEY_LONG 0xFFFFu
static inline uint32_t key_word(uint64_t h, size_t nkey) {
  return ((uint32_t)(h >> 16) & 0xFFFF0000u) |
         (nkey < NKEY_LONG ? (uint32_t)nkey : NKEY_LONG);
}

/* The key of e and its length. */
static inline const unsigned char *entry_key(const pc_entry *e, size_t *nkey) {
  const unsigned char *k = e->data + e->nval;
  uint32_t n = e->kw & 0xFFFFu;
  if (n == NKEY_LONG) {
    memcpy(&n, k, 4);
    k += 4;
  }
  *nkey = n;
  return k;
}

/* What e counts in the bytes bound: key + value. */
static inline int64_t entry_bytes(const pc_entry *e) {
  size_t nkey;
  entry_key(e, &nkey);
  return (int64_t)nkey + e->nval;
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

/* Whether e is the entry of (key, nkey), whose key word is kw: the word,
** then the bytes. */
static inline bool entry_is(const pc_entry *e, uint32_t kw, const void *key,
                            size_t nkey) {
  if (e->kw != kw) return false;
  size_t n;
  const unsigned char *k = entry_key(e, &n);
  return n == nkey && bytes_equal(k, key, nkey);
}

/* Takes one more reference; the caller holds the shard lock, or a
** reference, or is a reader in an epoch section that found e linked. */
static inline uint32_t entry_ref(pc_entry *e) {
  return atomic_fetch_add_explicit(&e->rp, 1, memory_order_acquire);
}

/* A reader's release: while the store is open the table's reference keeps
** the count above zero (limbo drops it only when it is the last); the last
** release of an entry kept past mem_close gives its slot back. Any thread,
** no lock. */
static inline void entry_unref(pc_entry *e) {
  if ((atomic_fetch_sub_explicit(&e->rp, 1, memory_order_acq_rel) &
       REFS_MASK) == 1)
    pc__slab_free_orphan(e);
}

/* Drops the table's reference if it is the only one: true if it did (the
** caller frees the slot), false if a reader holds e. */
static bool entry_drop_last(pc_entry *e) {
  uint32_t v = atomic_load_explicit(&e->rp, memory_order_acquire);
  while ((v & REFS_MASK) == 1) {
    if (atomic_compare_exchange_weak_explicit(
            &e->rp, &v, v - 1, memory_order_acq_rel, memory_order_acquire))
      return true;
  }
  return false;
}

/* The free_fn of every pc_buf this backend hands out in place: p is
** e->data. */
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
** the entry it already read (none once the bits are set), not two
** neighbours' links as LRU does, so it needs no lock. An overwrite takes
** the place of the entry it replaces and counts as a hit (LRU moves it to
** the head). The victim is never `keep`, the entry the caller just wrote;
** 0 when the shard has nothing else. Lists link entries by handle.
**
** The ghost is a set-associative table of GHOST_WAYS 4-byte slots per
** bucket, each 24 hash bits of an evicted key and the ghost clock when it
** was added, in units of 2^gshift additions (8 bits: a table of n slots
** counts in units of about n/64, so ages are exact to a few percent of the
** window and wrap only after four windows); a slot counts while fewer than
** the shard's entries were added after it (about the window the paper
** gives its ghost FIFO). It is allocated at the first eviction from the
** small queue, with about as many slots as the shard has entries, and made
** anew (empty) when the shard has grown to twice that. A failed allocation
** only leaves the ghost off: S3-FIFO works without it, just with fewer
** keys sent straight to main.
*/
enum { POL_LRU, POL_SIEVE, POL_S3FIFO };

#define POL_FREQ 0x3u    /* S3-FIFO: hits, saturating at 3 */
#define POL_MAIN 0x4u    /* S3-FIFO: in the main queue */
#define POL_VISITED 0x1u /* SIEVE */
#define GHOST_WAYS 4
#define GHOST_FP_MASK 0xFFFFFFu /* the hash bits a ghost slot keeps */

typedef struct pc_list {
  uint32_t head, tail; /* handles; head: newest */
} pc_list;

/* The entry of handle h in slab sl. */
static inline pc_entry *E(pc_slab *sl, uint32_t h) {
  return pc__slab_ptr(sl, h);
}

static void list_push(pc_slab *sl, pc_list *l, uint32_t h) {
  pc_entry *e = E(sl, h);
  e->q_prev = 0;
  e->q_next = l->head;
  if (l->head)
    E(sl, l->head)->q_prev = h;
  else
    l->tail = h;
  l->head = h;
}

static void list_remove(pc_slab *sl, pc_list *l, uint32_t h) {
  pc_entry *e = E(sl, h);
  if (e->q_prev)
    E(sl, e->q_prev)->q_next = e->q_next;
  else
    l->head = e->q_next;
  if (e->q_next)
    E(sl, e->q_next)->q_prev = e->q_prev;
  else
    l->tail = e->q_prev;
  e->q_prev = e->q_next = 0;
}

/* h takes the place of o in l. */
static void list_replace(pc_slab *sl, pc_list *l, uint32_t o, uint32_t h) {
  pc_entry *oe = E(sl, o), *e = E(sl, h);
  e->q_prev = oe->q_prev;
  e->q_next = oe->q_next;
  if (e->q_prev)
    E(sl, e->q_prev)->q_next = h;
  else
    l->head = h;
  if (e->q_next)
    E(sl, e->q_next)->q_prev = h;
  else
    l->tail = h;
  oe->q_prev = oe->q_next = 0;
}

/* ---- Shards and the store ---- */

/* A shard's bucket array. The chained entries hold the table's reference.
** Replaced when it doubles; the old one waits in limbo. */
typedef struct mem_table {
  size_t mask;      /* number of buckets - 1 */
  uint32_t retired; /* in limbo: pc__ebr_tag() */
  struct mem_table *limbo_next;
  pc_link b[]; /* mask + 1 chain heads (handles) */
} mem_table;

typedef struct pc_shard {
  /* What a get without the lock reads: written only when the table
  ** doubles, on a line of its own (the lock's line changes hands with
  ** every write). slab, slab_lock and policy are the store's, copied here
  ** so that the functions of a shard need no pc_mem. */
  alignas(64) _Atomic(mem_table *) table; /* pc__free */
  pc_slab *slab;                          /* set at open, never changed */
  atomic_bool *slab_lock;
  _Atomic uint32_t seq;         /* odd while do_grow() moves entries */
  unsigned char policy;         /* POL_*, the store's */
  alignas(64) atomic_bool lock; /* guards every field below but the
                                   counters, and the entries linked here */
  size_t count;                 /* entries linked in this shard */
  size_t nexpiring; /* of them, those with an expiry: reclamation skips a
                       shard with none */
  size_t cursor;    /* next bucket of the reclamation step */
  uint64_t writes;  /* sets and incrs here: paces foreign reclamation */
  /* Unlinked entries (handles, oldest first) and replaced tables, until no
  ** reader without the lock can be looking at them (pc__ebr_safe) and,
  ** for an entry, no reader holds it. */
  uint32_t limbo_head, limbo_tail;
  mem_table *tlimbo, *tlimbo_tail; /* oldest first */
  /* The policy's state (its section). */
  pc_list q[2];    /* LRU, SIEVE: q[0]; S3-FIFO: q[0] small, q[1] main */
  size_t nsmall;   /* S3-FIFO: entries in q[0] */
  uint32_t hand;   /* SIEVE: the next entry the hand looks at, or 0 */
  uint32_t *ghost; /* S3-FIFO: (gmask + 1) * GHOST_WAYS slots or NULL;
                      pc__free */
  size_t gmask;
  unsigned gshift; /* the ghost's stamps count 2^gshift additions */
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
  /* Guards the slab's allocations and frees (taken inside a shard lock):
  ** one slab for the store, not one per shard, so that the pages its size
  ** classes have partly filled are a few dozen, not a few dozen per
  ** shard (bench_memory: 70 bytes per entry beyond key and value by
  ** mallinfo2 with 64 slabs, against 45 resident). */
  alignas(64) atomic_bool slab_lock;
  /* Read-only after open. */
  alignas(64) int64_t max_entries; /* 0 = none */
  int64_t max_bytes;               /* 0 = none */
  unsigned nshards;                /* power of two, 1..64 */
  unsigned shard_shift;            /* 64 - log2(nshards) */
  pc_slab *slab;                   /* every entry; pc__slab_close */
  pc_shard *shards;                /* inside the block `raw` */
  void *raw;                       /* the block holding this struct and the
                                      shards, aligned inside; pc__free */
} pc_mem;

enum { RM_DELETED, RM_EXPIRED, RM_EVICTED };

/* The shard's table (shard lock held). */
static inline mem_table *tab(pc_shard *s) {
  return atomic_load_explicit(&s->table, memory_order_relaxed);
}

/* ---- Policy functions (shard lock held) ---- */

/* The ghost slots of a key's bucket. */
static inline uint32_t *ghost_bucket(pc_shard *s, uint32_t h24) {
  return &s->ghost[(h24 & s->gmask) * GHOST_WAYS];
}

/* How many ghost additions a slot stays a member: the shard's entries
** (the paper's ghost holds as many keys as main; a full shard's entries
** stand for its capacity, which a byte bound does not give in entries). */
static inline uint32_t ghost_window(const pc_shard *s) {
  return s->count > UINT32_MAX ? UINT32_MAX : (uint32_t)s->count;
}

/* A slot's fingerprint (never 0: 0 is an empty slot), and its age in
** additions. */
static inline uint32_t ghost_fp(uint32_t h24) {
  return h24 ? h24 : 1;
}
static inline uint32_t ghost_age(const pc_shard *s, uint32_t slot) {
  uint32_t now = s->gclock >> s->gshift;
  return ((now - (slot >> 24)) & 0xFFu) << s->gshift;
}

/* Whether the key with hash bits h24 is a ghost; if so it stops being one
** (it is coming back). */
static bool ghost_take(pc_shard *s, uint32_t h24) {
  if (!s->ghost) return false;
  uint32_t *b = ghost_bucket(s, h24), fp = ghost_fp(h24);
  uint32_t w = ghost_window(s);
  for (int i = 0; i < GHOST_WAYS; i++) {
    if ((b[i] & GHOST_FP_MASK) == fp && ghost_age(s, b[i]) < w) {
      b[i] = 0;
      return true;
    }
  }
  return false;
}

/* Remembers the key with hash bits h24 in the ghost, over the slot of its
** bucket that was added longest ago (header comment: sizing). */
static void ghost_add(pc_shard *s, uint32_t h24) {
  size_t want = s->count / GHOST_WAYS + 1;
  if (!s->ghost || want > 2 * (s->gmask + 1)) {
    size_t nb = 16;
    unsigned shift = 0;
    while (nb < want)
      nb *= 2;
    while ((nb * GHOST_WAYS) >> shift > 64)
      shift++;
    uint32_t *g = pc__malloc(nb * GHOST_WAYS * sizeof *g);
    if (!g) return; /* ghost off until an allocation succeeds */
    memset(g, 0, nb * GHOST_WAYS * sizeof *g);
    pc__free(s->ghost);
    s->ghost = g;
    s->gmask = nb - 1;
    s->gshift = shift;
  }
  uint32_t *b = ghost_bucket(s, h24), *oldest = b;
  for (int i = 0; i < GHOST_WAYS; i++) {
    if (b[i] == 0) {
      oldest = &b[i];
      break;
    }
    if (ghost_age(s, b[i]) > ghost_age(s, *oldest)) oldest = &b[i];
  }
  s->gclock++;
  *oldest = ghost_fp(h24) | (s->gclock >> s->gshift) << 24;
}

/* Links a new entry h with hash bits h24 (no entry under its key was
** linked). */
static void pol_insert(pc_shard *s, uint32_t h, uint32_t h24) {
  pc_slab *sl = s->slab;
  e_set_pol(E(sl, h), 0);
  if (s->policy == POL_S3FIFO && !ghost_take(s, h24)) {
    list_push(sl, &s->q[0], h);
    s->nsmall++;
    return;
  }
  if (s->policy == POL_S3FIFO) e_set_pol(E(sl, h), POL_MAIN);
  list_push(sl, &s->q[s->policy == POL_S3FIFO], h);
}

/* A hit on e under a FIFO policy: sets a bit or bumps the frequency of e
** alone, so a reader without the shard lock may call it too. The bits are
** read first (v: e->rp as the caller last saw it): a hot entry's line is
** not written again. */
static inline void pol_hit(unsigned policy, pc_entry *e, uint32_t v) {
  if (policy == POL_SIEVE) {
    if (!(v >> POL_SHIFT & POL_VISITED))
      atomic_fetch_or_explicit(&e->rp, POL_VISITED << POL_SHIFT,
                               memory_order_relaxed);
    return;
  }
  while ((v >> POL_SHIFT & POL_FREQ) != POL_FREQ &&
         !atomic_compare_exchange_weak_explicit(
             &e->rp, &v, v + (1u << POL_SHIFT), memory_order_relaxed,
             memory_order_relaxed)) {
  }
}

/* A hit on h (get, touch, an overwrite in place), shard lock held. */
static inline void pol_access(pc_shard *s, uint32_t h) {
  pc_slab *sl = s->slab;
  if (s->policy != POL_LRU) {
    pol_hit(s->policy, E(sl, h),
            atomic_load_explicit(&E(sl, h)->rp, memory_order_relaxed));
  } else if (s->q[0].head != h) {
    list_remove(sl, &s->q[0], h);
    list_push(sl, &s->q[0], h);
  }
}

/* The list e is in. */
static inline pc_list *pol_list(pc_shard *s, const pc_entry *e) {
  return &s->q[s->policy == POL_S3FIFO && (e_pol(e) & POL_MAIN)];
}

/* The new entry h replaces o under the same key: a hit, at o's place. */
static void pol_replace(pc_shard *s, uint32_t o, uint32_t h) {
  pc_slab *sl = s->slab;
  pc_list *l = pol_list(s, E(sl, o));
  e_set_pol(E(sl, h), e_pol(E(sl, o)));
  list_replace(sl, l, o, h);
  if (s->hand == o) s->hand = h;
  pol_access(s, h);
}

/* Unlinks h, which leaves the shard; `why` is RM_*; h24: its key's hash
** bits for the ghost (read for an eviction only). */
static void pol_remove(pc_shard *s, uint32_t h, int why, uint32_t h24) {
  pc_slab *sl = s->slab;
  pc_entry *e = E(sl, h);
  pc_list *l = pol_list(s, e);
  if (s->hand == h) s->hand = e->q_prev;
  list_remove(sl, l, h);
  if (s->policy == POL_S3FIFO && !(e_pol(e) & POL_MAIN)) {
    s->nsmall--;
    if (why == RM_EVICTED) ghost_add(s, h24);
  }
}

/* SIEVE: from the hand toward the head (then again from the tail), clears
** visited bits up to the first entry without one. */
static uint32_t sieve_victim(pc_shard *s, uint32_t keep) {
  pc_slab *sl = s->slab;
  pc_list *l = &s->q[0];
  uint32_t h = s->hand ? s->hand : l->tail;
  bool cleared = true; /* since keep was last passed */
  while (h) {
    pc_entry *e = E(sl, h);
    if (h == keep) {
      if (!cleared) return 0; /* a lap with nothing to clear: only keep */
      cleared = false;
    } else if (e_pol(e) & POL_VISITED) {
      atomic_fetch_and_explicit(&e->rp, ~(POL_VISITED << POL_SHIFT),
                                memory_order_relaxed);
      cleared = true;
    } else {
      break;
    }
    h = e->q_prev ? e->q_prev : l->tail;
  }
  s->hand = h; /* pol_remove moves it on if h goes */
  return h;
}

/* S3-FIFO: the small tail when the small queue holds 5% of the shard or
** more (or main has nothing else), else the main tail; entries that earned
** it move to main or go round main again on the way. */
static uint32_t s3fifo_victim(pc_shard *s, uint32_t keep) {
  pc_slab *sl = s->slab;
  pc_list *sm = &s->q[0], *mn = &s->q[1];
  for (;;) {
    bool main_has = mn->tail && !(mn->tail == keep && mn->head == keep);
    bool small_has = sm->tail && !(sm->tail == keep && sm->head == keep);
    if (!main_has && !small_has) return 0;
    bool small = small_has && (s->nsmall * 20 >= s->count || !main_has);
    pc_list *l = small ? sm : mn;
    uint32_t v = l->tail;
    pc_entry *ve = E(sl, v);
    if (v == keep) { /* not alone in l: it goes to the head */
      list_remove(sl, l, v);
      list_push(sl, l, v);
      continue;
    }
    if (small && (e_pol(ve) & POL_FREQ) > 1) { /* hit twice: promoted */
      list_remove(sl, sm, v);
      s->nsmall--;
      e_set_pol(ve, POL_MAIN);
      list_push(sl, mn, v);
      continue;
    }
    if (!small && (e_pol(ve) & POL_FREQ)) { /* once more round main */
      atomic_fetch_sub_explicit(&ve->rp, 1u << POL_SHIFT, memory_order_relaxed);
      list_remove(sl, mn, v);
      list_push(sl, mn, v);
      continue;
    }
    return v;
  }
}

/* The next entry to evict from s, not unlinked, never keep; 0 if none. */
static uint32_t pol_victim(pc_shard *s, uint32_t keep) {
  switch (s->policy) {
  case POL_LRU:
    return s->q[0].tail == keep ? 0 : s->q[0].tail;
  case POL_SIEVE:
    return sieve_victim(s, keep);
  default:
    return s3fifo_victim(s, keep);
  }
}

/* Empties the queues after clear() has unlinked everything. */
static void pol_reset(pc_shard *s) {
  s->q[0].head = s->q[0].tail = s->q[1].head = s->q[1].tail = 0;
  s->nsmall = 0;
  s->hand = 0;
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
static inline void spin_lock(atomic_bool *lock) {
  while (atomic_exchange_explicit(lock, true, memory_order_acquire)) {
    int spins = 0;
    while (atomic_load_explicit(lock, memory_order_relaxed)) {
      if (++spins < PC_SPIN_LIMIT) {
        cpu_relax();
      } else {
        sched_yield();
        spins = 0;
      }
    }
  }
}
static inline void spin_unlock(atomic_bool *lock) {
  atomic_store_explicit(lock, false, memory_order_release);
}
static inline void shard_lock(pc_shard *s) {
  spin_lock(&s->lock);
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

/* The link (bucket head or a predecessor's hnext) that holds the entry
** under key, or NULL if there is none, live or expired. */
static inline __attribute__((always_inline)) pc_link *
do_find(pc_shard *s, uint64_t h, const void *key, size_t nkey) {
  mem_table *t = tab(s);
  pc_slab *sl = s->slab;
  uint32_t kw = key_word(h, nkey);
  for (pc_link *link = &t->b[h & t->mask]; ld(link);
       link = &E(sl, ld(link))->hnext) {
    if (entry_is(E(sl, ld(link)), kw, key, nkey)) return link;
  }
  return NULL;
}

/* ---- Limbo ---- */

#define LIMBO_BUDGET 64 /* entries a write looks at: bounded work */

/* Puts h, just unlinked, in limbo with the table's reference, which is
** dropped once no reader without the lock can be looking at it and no
** reader holds it. */
static void limbo_add(pc_shard *s, uint32_t h, uint32_t tag) {
  pc_slab *sl = s->slab;
  pc_entry *e = E(sl, h);
  e->retired = tag;
  e->limbo_next = 0;
  if (s->limbo_tail)
    E(sl, s->limbo_tail)->limbo_next = h;
  else
    s->limbo_head = h;
  s->limbo_tail = h;
}

/* Frees up to `budget` entries of limbo that waited long enough (one that
** a reader still holds goes back in line), and the tables that did. Called
** by every write with the lock held. */
static void limbo_reclaim(pc_shard *s, size_t budget) {
  pc_slab *sl = s->slab;
  uint32_t first_held = 0;
  bool locked = false;
  for (size_t i = 0; i < budget && s->limbo_head; i++) {
    uint32_t h = s->limbo_head;
    pc_entry *e = E(sl, h);
    if (h == first_held || !pc__ebr_safe(e->retired)) break;
    s->limbo_head = e->limbo_next;
    if (!s->limbo_head) s->limbo_tail = 0;
    if (entry_drop_last(e)) {
      if (!locked) spin_lock(s->slab_lock);
      locked = true;
      pc__slab_free(sl, h);
    } else { /* a reader holds it: tried again later (a fresh tag keeps
                limbo in tag order and every tag recent) */
      if (!first_held) first_held = h;
      limbo_add(s, h, pc__ebr_tag());
    }
  }
  if (locked) spin_unlock(s->slab_lock);
  mem_table *t;
  while ((t = s->tlimbo) != NULL && pc__ebr_safe(t->retired)) {
    s->tlimbo = t->limbo_next;
    if (!s->tlimbo) s->tlimbo_tail = NULL;
    pc__free(t);
  }
}

/* Unlinks h (at *link) and puts it in limbo, counting it as `why` in the
** shard's counters; h24 as pol_remove() takes it. */
static void do_remove(pc_mem *m, pc_shard *s, pc_link *link, uint32_t h,
                      int why, uint32_t h24) {
  pc_entry *e = E(s->slab, h);
  st(link, ld(&e->hnext));
  pol_remove(s, h, why, h24);
  s->count--;
  if (e_exp(e) != PC_EXPIRES_NEVER) s->nexpiring--;
  atomic_fetch_sub_explicit(&m->entries, 1, memory_order_relaxed);
  atomic_fetch_sub_explicit(&m->bytes, entry_bytes(e), memory_order_relaxed);
  if (why == RM_EXPIRED)
    counter_bump(&s->expirations);
  else if (why == RM_EVICTED)
    counter_bump(&s->evictions);
  limbo_add(s, h, pc__ebr_tag());
}

/* Whether an entry expiring at `exp` has expired at *now. A lazy *now
** (PC_NOW_LAZY) is read from the clock only for an entry that has an
** expiry, and then first from the cheap late clock: an expiry after it has
** not passed; only one before it reads the precise clock (once per call). */
static inline bool exp_passed(int64_t exp, int64_t *now) {
  if (exp == PC_EXPIRES_NEVER) return false;
  if (*now == PC_NOW_LAZY) {
    if (exp > pc__now_mono_late_ms()) return false;
    *now = pc_now_mono_ms();
  }
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
  if (link && expired(E(s->slab, ld(link)), now)) {
    do_remove(m, s, link, ld(link), RM_EXPIRED, 0);
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
    atomic_init(&t->b[i], 0);
  return t;
}

/* Doubles the bucket array of s at once; on allocation failure leaves it as
** it is (chains get longer; the next insert tries again). Entries keep no
** hash: each key is hashed again. Moving an entry changes its hnext, which
** can lead a reader without the lock off its chain: seq is odd meanwhile,
** and such a reader trusts a miss only when seq did not change. */
static void do_grow(pc_shard *s) {
  mem_table *t = tab(s);
  pc_slab *sl = s->slab;
  size_t n = t->mask + 1;
  if (2 * n > MEM_MAX_BUCKETS || n > SIZE_MAX / 2 / sizeof(pc_link)) return;
  mem_table *nt = table_new(2 * n);
  if (!nt) return;
  uint32_t seq = atomic_load_explicit(&s->seq, memory_order_relaxed);
  atomic_store_explicit(&s->seq, seq + 1, memory_order_relaxed);
  atomic_thread_fence(memory_order_release);
  for (size_t i = 0; i < n; i++) {
    uint32_t h = ld(&t->b[i]);
    while (h) {
      pc_entry *e = E(sl, h);
      uint32_t next = ld(&e->hnext);
      size_t nkey;
      const unsigned char *key = entry_key(e, &nkey);
      pc_link *head = &nt->b[pc__hash(key, nkey) & nt->mask];
      st(&e->hnext, ld(head));
      st(head, h);
      h = next;
    }
  }
  atomic_store_explicit(&s->table, nt, memory_order_release);
  atomic_store_explicit(&s->seq, seq + 2, memory_order_release);
  t->retired = pc__ebr_tag();
  t->limbo_next = NULL;
  if (s->tlimbo_tail)
    s->tlimbo_tail->limbo_next = t;
  else
    s->tlimbo = t;
  s->tlimbo_tail = t;
}

/* Links the new entry h (holding its one reference), whose key hashes to
** hash, in s. `old` is the link of the entry under the same key, which h
** replaces in place (old goes to limbo), or NULL when the key is absent. */
static void do_link(pc_mem *m, pc_shard *s, pc_link *old, uint32_t h,
                    uint64_t hash) {
  pc_slab *sl = s->slab;
  pc_entry *e = E(sl, h);
  int64_t nbytes = entry_bytes(e);
  if (e_exp(e) != PC_EXPIRES_NEVER) s->nexpiring++;
  if (old) {
    uint32_t o = ld(old);
    pc_entry *oe = E(sl, o);
    atomic_init(&e->hnext, ld(&oe->hnext));
    st(old, h);
    pol_replace(s, o, h);
    if (e_exp(oe) != PC_EXPIRES_NEVER) s->nexpiring--;
    atomic_fetch_add_explicit(&m->bytes, nbytes - entry_bytes(oe),
                              memory_order_relaxed);
    limbo_add(s, o, pc__ebr_tag());
    return;
  }
  mem_table *t = tab(s);
  pc_link *head = &t->b[hash & t->mask];
  atomic_init(&e->hnext, ld(head));
  st(head, h);
  pol_insert(s, h, (uint32_t)(hash & GHOST_FP_MASK));
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
  pc_slab *sl = s->slab;
  for (int b = 0; b < MEM_RECLAIM_BUCKETS && seen < MEM_RECLAIM_ENTRIES; b++) {
    pc_link *link = &t->b[s->cursor++ & t->mask];
    uint32_t h;
    while ((h = ld(link)) != 0) {
      seen++;
      if (expired(E(sl, h), now))
        do_remove(m, s, link, h, RM_EXPIRED, 0);
      else
        link = &E(sl, h)->hnext;
    }
  }
}

/* Removes v, the policy's victim in s: an eviction, or an expiration if
** it had expired. Its key is hashed once, for its bucket and the ghost. */
static void do_evict_one(pc_mem *m, pc_shard *s, uint32_t v, int64_t *now) {
  pc_entry *e = E(s->slab, v);
  size_t nkey;
  const unsigned char *key = entry_key(e, &nkey);
  uint64_t hash = pc__hash(key, nkey);
  mem_table *t = tab(s);
  pc_link *link = &t->b[hash & t->mask];
  while (ld(link) != v)
    link = &E(s->slab, ld(link))->hnext;
  do_remove(m, s, link, v, expired(e, now) ? RM_EXPIRED : RM_EVICTED,
            (uint32_t)(hash & GHOST_FP_MASK));
}

/* Evicts from s while the store is over a bound, never `keep` (the entry
** just written); stops when s has nothing else to give. */
static void do_evict(pc_mem *m, pc_shard *s, uint32_t keep, int64_t *now) {
  while (mem_over(m)) {
    uint32_t v = pol_victim(s, keep);
    if (!v) return;
    do_evict_one(m, s, v, now);
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
      uint32_t v = mem_over(m) ? pol_victim(s, 0) : 0;
      if (v) {
        do_evict_one(m, s, v, now);
        idle = 0;
      } else {
        idle++;
      }
      limbo_reclaim(s, LIMBO_BUDGET); /* s may get no write of its own */
      shard_unlock(s);
    }
  }
  if (w % MEM_FOREIGN_RECLAIM_EVERY == 0) {
    size_t own_i = (size_t)(own - m->shards);
    pc_shard *s = &m->shards[(own_i + w / MEM_FOREIGN_RECLAIM_EVERY) & mask];
    if (s != own && shard_trylock(s)) {
      do_reclaim_step(m, s, now);
      limbo_reclaim(s, LIMBO_BUDGET);
      shard_unlock(s);
    }
  }
}

/* A new unlinked entry of s holding one reference (the table's, once
** linked): its handle, or 0 when out of memory. The caller has checked the
** sizes. */
static uint32_t entry_new(pc_shard *s, uint64_t hash, const void *key,
                          size_t nkey, const void *val, size_t nval,
                          int64_t expires) {
  uint32_t h, kw = key_word(hash, nkey);
  size_t nlen = (kw & 0xFFFFu) == NKEY_LONG ? 4 : 0;
  spin_lock(s->slab_lock);
  pc_entry *e = pc__slab_alloc(
      s->slab, offsetof(pc_entry, data) + nval + nlen + nkey, &h);
  spin_unlock(s->slab_lock);
  if (!e) return 0;
  atomic_init(&e->expires, expires);
  e->q_prev = e->q_next = 0;
  atomic_init(&e->hnext, 0);
  atomic_init(&e->rp, 1);
  e->nval = (uint32_t)nval;
  e->kw = kw;
  if (nval) memcpy(e->data, val, nval);
  if (nlen) {
    uint32_t n = (uint32_t)nkey;
    memcpy(e->data + nval, &n, 4);
  }
  if (nkey) memcpy(e->data + nval + nlen, key, nkey);
  return h;
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
  atomic_init(&m->slab_lock, false);
  m->slab = pc__slab_new();
  if (!m->slab) {
    mem_close(m);
    return pc__error(PC_NOMEM, "out of memory");
  }
  for (unsigned i = 0; i < n; i++) {
    pc_shard *s = &m->shards[i];
    memset(s, 0, sizeof *s);
    mem_table *t = table_new(MEM_INIT_BUCKETS);
    if (!t) {
      mem_close(m);
      return pc__error(PC_NOMEM, "out of memory");
    }
    atomic_init(&s->table, t);
    s->slab = m->slab;
    s->slab_lock = &m->slab_lock;
    atomic_init(&s->seq, 0);
    s->policy = (unsigned char)policy;
    m->nshards = i + 1; /* (its counters are zero: memset) */
  }
  *pb = m;
  return PC_OK;
}

/* mem_close's part for entry h of slab sl, linked or in limbo: freed if
** only the table holds it, else put on *held. */
static void close_entry(pc_slab *sl, uint32_t h, pc_entry **held) {
  pc_entry *e = E(sl, h);
  if (entry_drop_last(e)) {
    pc__slab_free(sl, h);
  } else {
    e->held_next = *held;
    *held = e;
  }
}

/* Frees the store. Entries that readers still hold outlive it: their slab
** is closed with them still allocated, and the last release of each gives
** it back (pc__slab_free_orphan). No operation on the store is in flight,
** but releases can run in other threads meanwhile: an entry's table
** reference is dropped only once its slab is closed. */
static void mem_close(void *b) {
  pc_mem *m = b;
  if (!m) return;
  pc_slab *sl = m->slab;
  pc_entry *held = NULL;
  for (unsigned i = 0; i < m->nshards; i++) {
    pc_shard *s = &m->shards[i];
    mem_table *t = tab(s);
    for (size_t j = 0; s->count && j <= t->mask; j++) {
      for (uint32_t h = ld(&t->b[j]), next; h; h = next) {
        next = ld(&E(sl, h)->hnext);
        close_entry(sl, h, &held);
      }
    }
    for (uint32_t h = s->limbo_head, next; h; h = next) {
      next = E(sl, h)->limbo_next;
      close_entry(sl, h, &held);
    }
    pc__free(t);
    for (mem_table *x = s->tlimbo, *next; x; x = next) {
      next = x->limbo_next;
      pc__free(x);
    }
    pc__free(s->ghost);
  }
  pc__slab_close(sl);
  while (held) {
    pc_entry *e = held;
    held = e->held_next;
    entry_unref(e); /* the table's: the last one gives the slot back */
  }
  pc__free(m->raw);
}

/* A copy of e's value for a reader that found REFS_LIMIT references on it
** (the count must not reach the bits above it): PC_OK or PC_NOMEM. */
static int value_copy(const pc_entry *e, pc_buf *val) {
  void *p = pc__malloc(e->nval);
  if (!p) return pc__error(PC_NOMEM, "out of memory");
  if (e->nval) memcpy(p, e->data, e->nval);
  val->p = p;
  val->n = e->nval;
  val->free_fn = pc__free;
  return PC_OK;
}

/*
** A get without the shard lock, for the FIFO policies (LRU moves the entry,
** which takes the lock): in an epoch read section, the chain is walked with
** acquire loads and the entry found gets its reference by an atomic add;
** unlinked entries and replaced tables are freed only after every reader
** that could see them has left (limbo). A miss counts only if the table
** did not double meanwhile (seq). What this path cannot decide (an expired
** entry to remove, a value being rewritten, a table being doubled, no
** epoch record, a chain past GET_MAX_HOPS, REFS_LIMIT) it leaves to the
** locked path: GET_LOCKED.
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
  uint32_t eh = atomic_load_explicit(&t->b[h & t->mask], memory_order_acquire);
  pc_entry *e = NULL;
  if (eh) {
    pc_slab *sl = s->slab;
    uint32_t kw = key_word(h, nkey);
    for (int hops = 0;; hops++) {
      e = E(sl, eh);
      if (entry_is(e, kw, key, nkey)) break;
      eh = atomic_load_explicit(&e->hnext, memory_order_acquire);
      e = NULL;
      if (!eh) break;
      if (hops == GET_MAX_HOPS) goto out;
    }
  }
  if (!e) {
    atomic_thread_fence(memory_order_acquire);
    if (atomic_load_explicit(&s->seq, memory_order_relaxed) == seq)
      rc = PC_NOTFOUND;
    goto out;
  }
  /* The table's reference lasts while this section does: refs > 0. The
  ** reference, then expires, both seq_cst against do_rewrite()'s expires,
  ** then references: either it sees this reference or this sees
  ** EXP_REWRITING (plain instructions on x86 but the locked add). */
  uint32_t v = atomic_fetch_add_explicit(&e->rp, 1, memory_order_seq_cst);
  if ((v & REFS_MASK) >= REFS_LIMIT) {
    atomic_fetch_sub_explicit(&e->rp, 1, memory_order_relaxed);
    goto out;
  }
  int64_t exp = atomic_load_explicit(&e->expires, memory_order_seq_cst);
  if (exp_passed(exp, now)) { /* removed, or rewritten, under the lock */
    atomic_fetch_sub_explicit(&e->rp, 1, memory_order_relaxed);
    goto out;
  }
  pol_hit(s->policy, e, v + 1);
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
** expired entry found is removed). The entry counts as a hit. */
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
  uint32_t tail = s->limbo_tail;
  pc_link *link = do_find_live(m, s, h, key, nkey, &now);
  if (!link) {
    if (s->limbo_tail != tail) /* it removed an expired entry */
      limbo_reclaim(s, LIMBO_BUDGET);
    shard_unlock(s);
    return PC_NOTFOUND;
  }
  uint32_t eh = ld(link);
  pc_entry *e = E(s->slab, eh);
  pol_access(s, eh);
  if (expires) *expires = e_exp(e);
  int rc = PC_OK;
  if ((atomic_load_explicit(&e->rp, memory_order_relaxed) & REFS_MASK) >=
      REFS_LIMIT) {
    rc = value_copy(e, val);
    shard_unlock(s);
    return rc;
  }
  entry_ref(e);
  shard_unlock(s);
  val->p = e->data;
  val->n = e->nval;
  val->free_fn = mem_release;
  return PC_OK;
}

/* Writes val over the value of o, in place, when that is safe and cheap:
** o has the same value length and no reader holds it (only the table's
** reference; EXP_REWRITING turns away readers without the lock until the
** bytes are written, and the others need the lock the caller holds, so
** nobody can see a half-written value). Saves the allocation, the free
** and the relinking of an overwrite with a value of the same size, the
** common refresh of a cached entry. */
static bool do_rewrite(pc_shard *s, uint32_t oh, const void *val, size_t nval,
                       int64_t expires, int flags) {
  pc_entry *o = E(s->slab, oh);
  if (o->nval != nval ||
      (atomic_load_explicit(&o->rp, memory_order_relaxed) & REFS_MASK) != 1)
    return false;
  int64_t old = e_exp(o);
  /* expires, then references, seq_cst (get_unlocked() does the reverse):
  ** one locked instruction, where claiming the count would take two. */
  atomic_store_explicit(&o->expires, EXP_REWRITING, memory_order_seq_cst);
  if ((atomic_load_explicit(&o->rp, memory_order_seq_cst) & REFS_MASK) != 1) {
    atomic_store_explicit(&o->expires, old, memory_order_release);
    return false; /* a reader came between */
  }
  if (nval) memcpy(o->data, val, nval);
  if (!(flags & PC_SET_KEEPTTL)) {
    if (old != PC_EXPIRES_NEVER) s->nexpiring--;
    if (expires != PC_EXPIRES_NEVER) s->nexpiring++;
    old = expires;
  }
  atomic_store_explicit(&o->expires, old, memory_order_release);
  pol_access(s, oh);
  return true;
}

/* Stores a copy of (key, val) expiring at `expires`, replacing a present
** entry (in place when do_rewrite can, else by one handle swap). NX:
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
  uint32_t e =
      old && do_rewrite(s, ld(old), val, nval, expires, flags) ? ld(old) : 0;
  if (!e) {
    /* Allocated under the lock: one allocation is cheaper than looking
    ** the key up a second time after allocating outside it. */
    e = entry_new(s, h, key, nkey, val, nval, expires);
    if (!e) {
      shard_unlock(s);
      return pc__error(PC_NOMEM, "out of memory");
    }
    if ((flags & PC_SET_KEEPTTL) && old)
      e_set_exp(E(s->slab, e), e_exp(E(s->slab, ld(old))));
    do_link(m, s, old, e, h);
  }
  do_reclaim_step(m, s, &now);
  do_evict(m, s, e, &now);
  limbo_reclaim(s, LIMBO_BUDGET);
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
  if (link) do_remove(m, s, link, ld(link), RM_DELETED, 0);
  limbo_reclaim(s, LIMBO_BUDGET);
  shard_unlock(s);
  return link ? PC_OK : PC_NOTFOUND;
}

/* Removes every entry, one shard at a time: under the lock the chains are
** detached and counted, and the entries go to limbo (freed at once when no
** reader is about). Expired entries removed count as expirations, not in
** *removed. */
static int mem_clear(void *b, int64_t now, int64_t *removed) {
  pc_mem *m = b;
  int64_t live = 0;
  for (unsigned i = 0; i < m->nshards; i++) {
    pc_shard *s = &m->shards[i];
    int64_t n = 0, nbytes = 0, nexpired = 0;
    shard_lock(s);
    mem_table *t = tab(s);
    pc_slab *sl = s->slab;
    uint32_t before = s->limbo_tail; /* limbo's last entry not from here */
    for (size_t j = 0; j <= t->mask; j++) {
      uint32_t h = ld(&t->b[j]);
      st(&t->b[j], 0);
      while (h) {
        pc_entry *e = E(sl, h);
        uint32_t next = ld(&e->hnext);
        n++;
        nbytes += entry_bytes(e);
        if (expired(e, &now)) nexpired++;
        limbo_add(s, h, 0); /* tagged below */
        h = next;
      }
    }
    /* Tagged once all are unlinked: a tag taken before could be safe
    ** while a reader still reaches an entry not yet unlinked. */
    uint32_t tag = pc__ebr_tag();
    for (uint32_t h = before ? E(sl, before)->limbo_next : s->limbo_head; h;
         h = E(sl, h)->limbo_next)
      E(sl, h)->retired = tag;
    pol_reset(s);
    s->count = 0;
    s->nexpiring = 0;
    atomic_fetch_sub_explicit(&m->entries, n, memory_order_relaxed);
    atomic_fetch_sub_explicit(&m->bytes, nbytes, memory_order_relaxed);
    atomic_store_explicit(
        &s->expirations,
        atomic_load_explicit(&s->expirations, memory_order_relaxed) + nexpired,
        memory_order_relaxed);
    limbo_reclaim(s, SIZE_MAX);
    shard_unlock(s);
    live += n - nexpired;
  }
  if (removed) *removed = live;
  return PC_OK;
}

/* Sets the expiry of the live entry under key (which becomes the most
** recent under LRU; a hit under the FIFO policies): PC_OK, or
** PC_NOTFOUND. */
static int mem_touch(void *b, const void *key, size_t nkey, int64_t expires,
                     int64_t now) {
  pc_mem *m = b;
  uint64_t h = pc__hash(key, nkey);
  pc_shard *s = shard_of(m, h);
  shard_lock(s);
  uint32_t tail = s->limbo_tail;
  pc_link *link = do_find_live(m, s, h, key, nkey, &now);
  if (link) {
    pc_entry *e = E(s->slab, ld(link));
    s->nexpiring += (expires != PC_EXPIRES_NEVER);
    s->nexpiring -= (e_exp(e) != PC_EXPIRES_NEVER);
    e_set_exp(e, expires);
    pol_access(s, ld(link));
  } else if (s->limbo_tail != tail) { /* it removed an expired entry */
    limbo_reclaim(s, LIMBO_BUDGET);
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
    pc_entry *o = E(s->slab, ld(old));
    rc = codec->decode(o->data, o->nval, &cur);
    if (rc != PC_OK) goto out;
    expires = e_exp(o);
  }
  if (__builtin_add_overflow(cur, delta, &next)) {
    rc = pc__error(PC_ERROR, "integer overflow");
    goto out;
  }
  size_t n = codec->encode(next, buf);
  rc = mem_check_size(m, nkey, n);
  if (rc != PC_OK) goto out;
  /* Allocated under the lock: the bytes depend on the current value. */
  uint32_t e = entry_new(s, h, key, nkey, buf, n, expires);
  if (!e) {
    rc = pc__error(PC_NOMEM, "out of memory");
    goto out;
  }
  do_link(m, s, old, e, h);
  do_reclaim_step(m, s, &now);
  do_evict(m, s, e, &now);
  limbo_reclaim(s, LIMBO_BUDGET);
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
  pc_slab *sl = s->slab;
  for (size_t j = 0; s->count && j <= t->mask; j++) {
    for (uint32_t h = ld(&t->b[j]); h; h = ld(&E(sl, h)->hnext)) {
      pc_entry *e = E(sl, h);
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
