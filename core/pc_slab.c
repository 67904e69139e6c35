/*
** pc_slab.c: slabs of small slots named by 32-bit handles (pc_slab.h).
**
** What it owns
**   Each slab's pages (up to 64 KiB, from pc__malloc), its allocations of
**   their own for requests above PC_SLAB_MAX_SLOT, the chunks of its page
**   table, and the process-wide registry of closed slabs that still have
**   slots out.
**
** How it works
**   - Handles. A handle is (page index << 13) | (slot offset / 8): 2^19
**     pages of 64 KiB. Index 0 is never handed out, so no handle is 0. The
**     page table has two levels: 512 pointers inline in the slab, each to a
**     chunk of 1024 entries allocated when the first of its indexes is
**     used. Neither level moves or is freed while the slab is open, so
**     pc__slab_ptr() is two acquire loads and an add, with no lock: a page
**     is published (release) only once its header is written, a chunk only
**     once its entries are zeroed. Freed indexes are threaded through their
**     own table entries (next << 1 | 1; a page address is even), so reusing
**     them costs no memory.
**   - Pages. No header per slot: a page starts with a 24-byte header (its
**     class, live slots, the first freed slot, the bump offset of slots
**     never used, its end, its index, its links in the class's list of
**     pages with a free slot), then k slots, and is exactly 24 + k * size
**     bytes: no page ends in a piece of a slot. A full-size page holds
**     k = (65536 - 24) / size; a class's first pages are smaller (targets
**     of 4, 8, 16 and 32 KiB, at least one slot), so that a slab holding a
**     few slots of many classes (a small cache, one shard of a big one)
**     does not pay 64 KiB for each class. A freed slot holds the offset / 8
**     of the next freed one in its first two bytes. Allocation takes the
**     first page of its class's list: a freed slot if there is one, else
**     the next never-used one; a page leaves the list when it is full and
**     returns on its first free.
**   - Empty pages. A page whose last slot is freed becomes its class's
**     spare if the class has none (taken again when the class's list is
**     empty, before a new page), else it is freed: at most one empty page
**     per class. Freeing a page is safe against readers because no reader
**     resolves a handle that is being freed (the contract).
**   - Large requests. Above PC_SLAB_MAX_SLOT a request gets an allocation
**     of its own, the same 24-byte header then the bytes rounded up to 8,
**     entered in the page table like a page; its handle's offset is 24.
**   - Closing. A slab with no slot out is freed at once. Otherwise it goes
**     into a registry of closed slabs under a process-wide mutex (a rare
**     path: slots readers kept past close). pc__slab_free_orphan(p) finds
**     p's page by a linear search of each closed slab's page table (pages
**     are only 8-byte aligned, so the address alone cannot name its page),
**     frees the slot, and frees the slab when its last slot comes back.
**
** Size classes
**   Every multiple of 8 from 8 to 1024 (classes 0..127), then 21 classes
**   from 1144 to 7272 (g_coarse). Each of these is the largest multiple of
**   8 in 65512 / k for some k, so that a full page of k slots is within 8
**   bytes per slot of 64 KiB; each k is the smallest that keeps the slot
**   within 9/8 of the smallest request of its class (the previous class +
**   1): at most 12.5% lost to rounding (4.7% on average over 1025..7272).
**   Past 7272 the classes stop: an allocation of its own costs its 24-byte
**   header and malloc's 8 to 23 bytes, under 0.6% of such a request.
**
** Memory per slot (test_slab: 1M slots of random sizes 40..190): what the
** slab holds from the allocator exceeds the sum of the sizes rounded to 8 by
** 0.85 bytes per slot (0.63 to 0.93 over other seeds), mostly the unfilled
** end of each of the 20 classes' last page; page headers add 0.04, the page
** table 0.02.
*/
#include "pc_slab.h"
#include "pc_internal.h"

#include <pthread.h>
#include <string.h>

#define SLAB_FINE 128      /* classes of every multiple of 8 up to 1024 */
#define SLAB_LARGE 0xFFFFu /* the class of an allocation of its own */
#define SLAB_HDR PC_SLAB_PAGE_HEADER
#define SLAB_FIRST_PAGE 4096u /* a class's first page; then x2 to 64 KiB */
#define SLAB_CHUNK (1u << PC_SLAB_CHUNK_BITS)
#define SLAB_TOP (PC_SLAB_PAGES >> PC_SLAB_CHUNK_BITS)
#define SLAB_OFF_MASK ((1u << PC_SLAB_OFF_BITS) - 1)

/* Slot sizes of the classes above 1024 (see "Size classes"). */
static const uint16_t g_coarse[PC_SLAB_NCLASS - SLAB_FINE] = {
    1144, 1280, 1424, 1592, 1768, 1984, 2176, 2424, 2616, 2848, 3112,
    3448, 3848, 4088, 4360, 4672, 5032, 5456, 5952, 6544, 7272};

/* The header at the start of each page and of each large allocation. */
typedef struct slab_page {
  uint16_t cls;   /* size class, or SLAB_LARGE */
  uint16_t live;  /* slots allocated */
  uint16_t free;  /* first freed slot, offset / 8 (0: none) */
  uint16_t bump;  /* first never-used slot, offset / 8 */
  uint32_t index; /* in the page table */
  uint16_t end;   /* the end of the last slot, offset / 8 */
  union {
    struct {
      uint32_t prev, next; /* the class's pages with a free slot (0 ends) */
    } l;
    size_t nlarge; /* SLAB_LARGE: the bytes after the header */
  } u;
} slab_page;

_Static_assert(sizeof(slab_page) == SLAB_HDR, "PC_SLAB_PAGE_HEADER");
_Static_assert(SLAB_HDR % 8 == 0, "slots are 8-byte aligned");
_Static_assert(PC_SLAB_PAGE >> 3 <= SLAB_OFF_MASK + 1, "offsets fit");
_Static_assert(PC_SLAB_PAGE >> 3 <= UINT16_MAX, "bump fits");

/* ---- Size classes ---- */

static uint32_t class_size(unsigned cls) {
  return cls < SLAB_FINE ? (cls + 1) * 8 : g_coarse[cls - SLAB_FINE];
}

/* The class of a request of n bytes, or -1 when it is above the largest. */
static int class_of(size_t n) {
  if (n <= SLAB_FINE * 8) return n ? (int)((n + 7) >> 3) - 1 : 0;
  if (n > PC_SLAB_MAX_SLOT) return -1;
  int c = 0;
  while (g_coarse[c] < n)
    c++;
  return SLAB_FINE + c;
}

size_t pc__slab_slot_size(size_t n) {
  int cls = class_of(n);
  return cls < 0 ? 0 : class_size((unsigned)cls);
}

/* ---- The page table (owner's side) ---- */

static _Atomic(uintptr_t) *entry(const pc_slab *s, uint32_t i) {
  _Atomic(uintptr_t) *chunk = atomic_load_explicit(
      &s->top[i >> PC_SLAB_CHUNK_BITS], memory_order_relaxed);
  return &chunk[i & (SLAB_CHUNK - 1)];
}

static slab_page *page_at(const pc_slab *s, uint32_t i) {
  return (slab_page *)atomic_load_explicit(entry(s, i), memory_order_relaxed);
}

/* A free page index (its chunk allocated), or 0 when none is left or the
** chunk cannot be allocated. */
static uint32_t index_take(pc_slab *s) {
  uint32_t i = s->free_index;
  if (i) {
    uintptr_t e = atomic_load_explicit(entry(s, i), memory_order_relaxed);
    s->free_index = (uint32_t)(e >> 1);
    return i;
  }
  if (s->nindex >= s->max_index) return 0;
  i = s->nindex;
  if (!atomic_load_explicit(&s->top[i >> PC_SLAB_CHUNK_BITS],
                            memory_order_relaxed)) {
    _Atomic(uintptr_t) *chunk = pc__malloc(SLAB_CHUNK * sizeof *chunk);
    if (!chunk) return 0;
    for (uint32_t j = 0; j < SLAB_CHUNK; j++)
      atomic_init(&chunk[j], 0);
    atomic_store_explicit(&s->top[i >> PC_SLAB_CHUNK_BITS], chunk,
                          memory_order_release);
  }
  s->nindex++;
  return i;
}

/* Index i is free again. No reader resolves it: relaxed. */
static void index_put(pc_slab *s, uint32_t i) {
  atomic_store_explicit(entry(s, i), (uintptr_t)s->free_index << 1 | 1,
                        memory_order_relaxed);
  s->free_index = i;
}

/* Publishes pg, its header written, at its index. */
static void index_set(pc_slab *s, slab_page *pg) {
  atomic_store_explicit(entry(s, pg->index), (uintptr_t)pg,
                        memory_order_release);
}

/* ---- Pages ---- */

static int page_has_room(const slab_page *pg, uint32_t size) {
  return pg->free || pg->bump + size / 8 <= pg->end;
}

static void page_reset(slab_page *pg) {
  pg->live = 0;
  pg->free = 0;
  pg->bump = SLAB_HDR / 8;
}

static void avail_push(pc_slab *s, slab_page *pg) {
  uint32_t head = s->avail[pg->cls];
  pg->u.l.prev = 0;
  pg->u.l.next = head;
  if (head) page_at(s, head)->u.l.prev = pg->index;
  s->avail[pg->cls] = pg->index;
}

static void avail_unlink(pc_slab *s, slab_page *pg) {
  uint32_t prev = pg->u.l.prev, next = pg->u.l.next;
  if (prev)
    page_at(s, prev)->u.l.next = next;
  else
    s->avail[pg->cls] = next;
  if (next) page_at(s, next)->u.l.prev = prev;
}

/* A new page of class cls, published, or NULL when out of memory or of
** page indexes. Its size is the class's next step (see "Pages"). */
static slab_page *page_new(pc_slab *s, unsigned cls) {
  uint32_t size = class_size(cls), most = (PC_SLAB_PAGE - SLAB_HDR) / size;
  uint32_t target = SLAB_FIRST_PAGE << s->grow[cls];
  uint32_t k = target < SLAB_HDR + size ? 1 : (target - SLAB_HDR) / size;
  if (k > most) k = most;
  uint32_t i = index_take(s);
  if (!i) return NULL;
  slab_page *pg = pc__malloc(SLAB_HDR + k * size);
  if (!pg) {
    index_put(s, i);
    return NULL;
  }
  memset(pg, 0, SLAB_HDR);
  pg->cls = (uint16_t)cls;
  pg->index = i;
  pg->end = (uint16_t)((SLAB_HDR + k * size) / 8);
  page_reset(pg);
  index_set(s, pg);
  if (target < PC_SLAB_PAGE) s->grow[cls]++;
  return pg;
}

/* Frees pg and its index. */
static void page_drop(pc_slab *s, slab_page *pg) {
  index_put(s, pg->index);
  pc__free(pg);
}

static size_t page_bytes(const slab_page *pg) {
  return pg->cls == SLAB_LARGE ? SLAB_HDR + pg->u.nlarge : pg->end * 8u;
}

/* ---- Slots ---- */

static void *large_alloc(pc_slab *s, size_t n, uint32_t *h) {
  if (n > SIZE_MAX - SLAB_HDR - 7) return NULL;
  size_t n8 = (n + 7) & ~(size_t)7;
  uint32_t i = index_take(s);
  if (!i) return NULL;
  slab_page *pg = pc__malloc(SLAB_HDR + n8);
  if (!pg) {
    index_put(s, i);
    return NULL;
  }
  memset(pg, 0, SLAB_HDR);
  pg->cls = SLAB_LARGE;
  pg->live = 1;
  pg->index = i;
  pg->u.nlarge = n8;
  index_set(s, pg);
  s->nlive++;
  *h = i << PC_SLAB_OFF_BITS | SLAB_HDR >> 3;
  return (char *)pg + SLAB_HDR;
}

void *pc__slab_alloc(pc_slab *s, size_t n, uint32_t *h) {
  int c = class_of(n);
  if (c < 0) return large_alloc(s, n, h);
  unsigned cls = (unsigned)c;
  uint32_t size = class_size(cls);
  slab_page *pg;
  if (s->avail[cls]) {
    pg = page_at(s, s->avail[cls]);
  } else {
    if (s->spare[cls]) {
      pg = page_at(s, s->spare[cls]);
      s->spare[cls] = 0;
    } else if (!(pg = page_new(s, cls))) {
      return NULL;
    }
    avail_push(s, pg);
  }
  uint32_t off;
  if (pg->free) {
    uint16_t next;
    off = pg->free * 8u;
    memcpy(&next, (char *)pg + off, sizeof next);
    pg->free = next;
  } else {
    off = pg->bump * 8u;
    pg->bump = (uint16_t)(pg->bump + size / 8);
  }
  pg->live++;
  if (!page_has_room(pg, size)) avail_unlink(s, pg);
  s->nlive++;
  *h = pg->index << PC_SLAB_OFF_BITS | off >> 3;
  return (char *)pg + off;
}

/* Gives back the slot at offset off of pg. */
static void slot_free(pc_slab *s, slab_page *pg, uint32_t off) {
  s->nlive--;
  if (pg->cls == SLAB_LARGE) {
    page_drop(s, pg);
    return;
  }
  int listed = page_has_room(pg, class_size(pg->cls));
  uint16_t next = pg->free;
  memcpy((char *)pg + off, &next, sizeof next);
  pg->free = (uint16_t)(off >> 3);
  pg->live--;
  if (pg->live == 0) {
    if (listed) avail_unlink(s, pg);
    if (!s->closed && !s->spare[pg->cls]) {
      page_reset(pg);
      s->spare[pg->cls] = pg->index;
    } else {
      page_drop(s, pg);
    }
  } else if (!listed) {
    avail_push(s, pg);
  }
}

void pc__slab_free(pc_slab *s, uint32_t h) {
  if (!h) return;
  slot_free(s, page_at(s, h >> PC_SLAB_OFF_BITS), (h & SLAB_OFF_MASK) << 3);
}

/* ---- Life cycle ---- */

pc_slab *pc__slab_new(void) {
  pc_slab *s = pc__malloc(sizeof *s);
  if (!s) return NULL;
  memset(s, 0, sizeof *s);
  for (uint32_t t = 0; t < SLAB_TOP; t++)
    atomic_init(&s->top[t], NULL);
  s->nindex = 1;
  s->max_index = PC_SLAB_PAGES;
  return s;
}

/* Frees s, whatever pages it still has, and its page table. */
static void slab_destroy(pc_slab *s) {
  for (uint32_t i = 1; i < s->nindex; i++) {
    uintptr_t e = atomic_load_explicit(entry(s, i), memory_order_relaxed);
    if (e && !(e & 1)) pc__free((void *)e);
  }
  for (uint32_t t = 0; t < SLAB_TOP; t++)
    pc__free(atomic_load_explicit(&s->top[t], memory_order_relaxed));
  pc__free(s);
}

/* The closed slabs with slots out, linked by prev/next_closed. */
static pthread_mutex_t g_closed_mu = PTHREAD_MUTEX_INITIALIZER;
static pc_slab *g_closed; /* under g_closed_mu */

void pc__slab_close(pc_slab *s) {
  if (!s) return;
  for (unsigned cls = 0; cls < PC_SLAB_NCLASS; cls++) {
    if (s->spare[cls]) {
      slab_page *pg = page_at(s, s->spare[cls]);
      page_drop(s, pg);
      s->spare[cls] = 0;
    }
  }
  if (s->nlive == 0) {
    slab_destroy(s);
    return;
  }
  pthread_mutex_lock(&g_closed_mu);
  s->closed = 1;
  s->prev_closed = NULL;
  s->next_closed = g_closed;
  if (g_closed) g_closed->prev_closed = s;
  g_closed = s;
  pthread_mutex_unlock(&g_closed_mu);
}

/* The page or large allocation of s whose slots hold address p, or NULL. */
static slab_page *page_holding(const pc_slab *s, const void *p) {
  uintptr_t a = (uintptr_t)p;
  for (uint32_t i = 1; i < s->nindex; i++) {
    uintptr_t e = atomic_load_explicit(entry(s, i), memory_order_relaxed);
    if (!e || (e & 1)) continue;
    if (a >= e + SLAB_HDR && a < e + page_bytes((const slab_page *)e))
      return (slab_page *)e;
  }
  return NULL;
}

void pc__slab_free_orphan(void *p) {
  if (!p) return;
  pthread_mutex_lock(&g_closed_mu);
  for (pc_slab *s = g_closed; s; s = s->next_closed) {
    slab_page *pg = page_holding(s, p);
    if (!pg) continue;
    slot_free(s, pg, (uint32_t)((uintptr_t)p - (uintptr_t)pg));
    if (s->nlive == 0) {
      if (s->prev_closed)
        s->prev_closed->next_closed = s->next_closed;
      else
        g_closed = s->next_closed;
      if (s->next_closed) s->next_closed->prev_closed = s->prev_closed;
      slab_destroy(s);
    }
    break;
  }
  pthread_mutex_unlock(&g_closed_mu);
}
