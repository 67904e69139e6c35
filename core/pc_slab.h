/*
** pc_slab.h: a slab allocator of small slots named by 32-bit handles, for
** the memory backend's entries (how it works: pc_slab.c).
**
** One slab has one owner, which serializes pc__slab_alloc, pc__slab_free
** and pc__slab_close under a lock of its own. Readers without that lock may
** resolve handles with pc__slab_ptr() at the same time, provided the
** owner does not free a handle while a reader resolves it (the memory
** backend guarantees that by epoch-based reclamation).
**
** A handle is (page index << PC_SLAB_OFF_BITS) | (slot offset / 8), and is
** never 0. The struct is visible only so that pc__slab_ptr() can be inline;
** every field but `top` is pc_slab.c's (and tests/unit/test_slab.c's, which
** lowers max_index to run out of handles).
*/
#ifndef PC_SLAB_H
#define PC_SLAB_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define PC_SLAB_PAGE 65536u       /* the most bytes of a page of slots */
#define PC_SLAB_PAGE_HEADER 24u   /* bytes at the start of each page */
#define PC_SLAB_OFF_BITS 13       /* handle bits of the slot offset / 8 */
#define PC_SLAB_PAGES (1u << 19)  /* page indexes; index 0 is never used */
#define PC_SLAB_CHUNK_BITS 10     /* a second-level chunk maps 1024 pages */
#define PC_SLAB_NCLASS (128 + 21) /* size classes (pc_slab.c) */
#define PC_SLAB_MAX_SLOT 7272u    /* larger requests: an allocation each */

typedef struct pc_slab pc_slab;
struct pc_slab {
  /* The page table, read lock-free: top[i] is NULL or a chunk (pc__free in
  ** slab_destroy) of 1 << PC_SLAB_CHUNK_BITS entries, published once and
  ** never moved while the slab lives. An entry is 0 (never used), the
  ** address of a page (even), or (next free index << 1 | 1). */
  _Atomic(_Atomic(uintptr_t) *) top[PC_SLAB_PAGES >> PC_SLAB_CHUNK_BITS];
  /* The rest is under the owner's lock (the registry's mutex once closed). */
  uint32_t nindex;     /* indexes 1 .. nindex-1 have been handed out */
  uint32_t free_index; /* first freed index (threaded through the table) */
  uint32_t max_index;  /* PC_SLAB_PAGES; a test lowers it to run out */
  uint32_t closed;     /* pc__slab_close() has run */
  size_t nlive;        /* slots allocated */
  uint32_t avail[PC_SLAB_NCLASS]; /* per class, first page with a free slot */
  uint32_t spare[PC_SLAB_NCLASS]; /* per class, the empty page kept (or 0) */
  uint8_t grow[PC_SLAB_NCLASS];   /* per class, log2(next page / 4 KiB) */
  pc_slab *prev_closed, *next_closed; /* links in the registry of closed
                                         slabs (under its mutex) */
};

/* A new, empty slab, or NULL when out of memory. */
pc_slab *pc__slab_new(void);

/* An 8-byte aligned slot of at least n bytes (n >= 1; 0 counts as 1), its
** handle in *h (never 0). NULL, and *h untouched, when out of memory or
** when the slab's handles are all used. Requests above PC_SLAB_MAX_SLOT get
** an allocation of their own, also named by a handle. */
void *pc__slab_alloc(pc_slab *s, size_t n, uint32_t *h);

/* The address of the slot of live handle h. Lock-free: safe concurrently
** with alloc and free of other handles (acquire loads pair with the
** release stores that publish a page and a chunk of the page table). */
static inline void *pc__slab_ptr(const pc_slab *s, uint32_t h) {
  uint32_t i = h >> PC_SLAB_OFF_BITS;
  /* The first chunk (64 MiB of pages) is loaded before h is known, so
  ** that resolving a handle is one dependent load, not two. */
  _Atomic(uintptr_t) *chunk =
      atomic_load_explicit(&s->top[0], memory_order_acquire);
  if (i >> PC_SLAB_CHUNK_BITS)
    chunk = atomic_load_explicit(&s->top[i >> PC_SLAB_CHUNK_BITS],
                                 memory_order_acquire);
  uintptr_t page = atomic_load_explicit(
      &chunk[i & ((1u << PC_SLAB_CHUNK_BITS) - 1)], memory_order_acquire);
  return (char *)page + ((size_t)(h & ((1u << PC_SLAB_OFF_BITS) - 1)) << 3);
}

/* Gives back the slot of live handle h (h = 0: nothing). */
void pc__slab_free(pc_slab *s, uint32_t h);

/* The size of the slot a request of n bytes gets, or 0 when n is above
** PC_SLAB_MAX_SLOT (then an allocation of n rounded up to 8, plus
** PC_SLAB_PAGE_HEADER, of its own). */
size_t pc__slab_slot_size(size_t n);

/* The owner is done with s (NULL: nothing). Slots still allocated are ones
** that readers still hold, which their owner will never free by handle:
** the slab and its pages are freed when the last of them is given back
** with pc__slab_free_orphan(). With no slot allocated, frees everything
** now. */
void pc__slab_close(pc_slab *s);

/* Gives back the slot at address p (as pc__slab_alloc returned it) of a
** closed slab (p = NULL: nothing). Thread-safe: a process-wide mutex guards
** the closed slabs, and finding p's page is a search of its slab's page
** table (linear: this is the rare path of a slot a reader kept past close). */
void pc__slab_free_orphan(void *p);

#endif /* PC_SLAB_H */
