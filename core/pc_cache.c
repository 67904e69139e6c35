/*
** pc_cache.c: the engine. It owns the process-wide registry of named caches
** and, for each cache, its configuration, backend, serializer and
** statistics. Every pc_* operation passes through here, so the TTL policy,
** the size limits, encoding and counting are written once whatever the
** backend.
**
** How it works
**   - The registry is a small array of caches under one mutex. It is touched
**     only to open, find and close caches; the SQL layer keeps the
**     references it found and looks again only when pc_registry_version()
**     changes, so the hot path never takes the registry lock.
**   - A cache is reference-counted: the registry holds one reference while
**     the cache is open, each caller of open/find holds one more. Closing a
**     cache unregisters it; it is freed when the last reference goes.
**   - "default" (memory, 64 MiB) is created on first use, and again after
**     it was closed, so it always exists.
**   - Statistics are striped: each thread adds to one of PC_STRIPES
**     cache-line-sized counter sets. The first PC_STRIPES_OWNED threads of
**     the process each own one and add with a plain load and store (no
**     locked instruction on the hot path); later threads share the other
**     PC_STRIPES_SHARED stripes and add atomically. Either way no count is
**     lost.
*/
#include "pc_internal.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define PC_STRIPES_OWNED 64  /* one per thread, for the first 64 threads */
#define PC_STRIPES_SHARED 16 /* shared by later threads, atomically */
#define PC_STRIPES (PC_STRIPES_OWNED + PC_STRIPES_SHARED)
#define PC_NAME_MAX 255

/* ST_TIER_HITS: the hits the memory tier served (also counted in hits). */
enum {
  ST_HITS,
  ST_MISSES,
  ST_SETS,
  ST_DELETES,
  ST_ERRORS,
  ST_TIER_HITS,
  ST_COUNT
};

/* One cache line of counters (the struct is padded to 64 bytes; the array
** of them is aligned by hand, as the allocator promises only 16). */
typedef struct pc_stripe {
  _Atomic int64_t n[ST_COUNT];
  char pad[64 - ST_COUNT * sizeof(int64_t)];
} pc_stripe;

/* The memory tier in front of a shared store (local_max_bytes): a memory
** store holding values read from the backend. It is dropped whenever the
** store's version moves (for the filesystem, a commit by any connection of
** any process; for Redis, a lost invalidation connection), a key is
** dropped from it after every write of this process and, with a backend
** that watches (Redis), as soon as the backend learns of another
** process's write. While the version is 0 the tier is bypassed. A fill
** from the store is skipped when an invalidation happened since the lookup
** began (epoch), so a value older than a write never lands in it. */
typedef struct pc_tier {
  void *m;                  /* pc__memory_backend.close */
  pthread_mutex_t mu;       /* orders fills against invalidations */
  _Atomic uint64_t version; /* the store version the tier reflects */
  _Atomic uint64_t epoch;   /* bumped by every invalidation */
} pc_tier;

struct pc_cache {
  char *name;                   /* pc__free */
  pc_config cfg;                /* pc__config_free */
  const pc_backend_methods *be; /* static */
  void *b;                      /* be->close */
  const pc_serializer *ser;     /* static */
  _Atomic int refs;
  _Atomic int closed; /* pc_cache_close took it out of the registry */
  unsigned stores;    /* bit t: the serializer stores type t (at open) */
  pc_stripe *stripes; /* PC_STRIPES, 64-byte aligned inside stripes_raw */
  void *stripes_raw;  /* pc__free */
  pc_tier *tier;      /* tier_free; NULL without local_max_bytes */
};

/* ---- Statistics ---- */

static _Atomic unsigned g_next_stripe;
/* This thread's stripe + 1, plus STRIPE_SHARED when other threads use it
** too; 0 until assigned. initial-exec: a dynamic TLS access from a
** loadable module costs a __tls_get_addr call on every counted operation;
** these 4 bytes fit the static TLS surplus. */
#define STRIPE_SHARED 0x10000
static _Thread_local int t_stripe __attribute__((tls_model("initial-exec")));

static __attribute__((noinline)) int stripe_assign(void) {
  unsigned i = atomic_fetch_add(&g_next_stripe, 1);
  /* An owned stripe is never shared: a plain load and store there is
  ** exact. Later threads add atomically to the shared stripes. */
  t_stripe =
      i < PC_STRIPES_OWNED
          ? (int)i + 1
          : PC_STRIPES_OWNED + (int)(i % PC_STRIPES_SHARED) + 1 + STRIPE_SHARED;
  return t_stripe;
}

static inline void stat_add(pc_cache *c, int which) {
  int t = t_stripe;
  if (t == 0) t = stripe_assign();
  _Atomic int64_t *n = &c->stripes[(t & (STRIPE_SHARED - 1)) - 1].n[which];
  if (!(t & STRIPE_SHARED))
    atomic_store_explicit(n, atomic_load_explicit(n, memory_order_relaxed) + 1,
                          memory_order_relaxed);
  else
    atomic_fetch_add_explicit(n, 1, memory_order_relaxed);
}

static int64_t stat_sum(pc_cache *c, int which) {
  int64_t s = 0;
  for (int i = 0; i < PC_STRIPES; i++)
    s += atomic_load_explicit(&c->stripes[i].n[which], memory_order_relaxed);
  return s;
}

/* ---- Backends and the registry ---- */

/* ---- Registered backends ----
**
** A registered backend is used through a shim: the cache's methods are
** the wrappers below (NULL where the backend has none, so that the
** engine's compositions and "not supported" errors apply), and its store
** is a reg_store holding the backend's methods and its own store. The
** shim is the one place that words a registered backend's failures (it
** cannot reach the engine's message buffer), maps codes that are not
** errors to PC_ERROR where an error is due, and keeps a failed open()
** from ever reaching close().
*/

#define PC_MAX_BACKENDS 16
static pthread_mutex_t g_be_mu = PTHREAD_MUTEX_INITIALIZER;
static struct {
  char name[PC_REG_NAME_MAX + 1];
  pc_backend_methods user; /* as registered */
  pc_backend_methods shim; /* what caches call */
} g_be[PC_MAX_BACKENDS];
static _Atomic int g_nbe; /* entries below it are complete and fixed */

typedef struct reg_store {
  const pc_backend_methods *m;
  void *b;
} reg_store;
typedef struct reg_iter {
  const pc_backend_methods *m;
  void *it;
} reg_iter;

/* rc from method `what` of a registered backend, its message worded:
** outcomes pass as they are. */
static int reg_rc(const pc_backend_methods *m, const char *what, int rc) {
  switch (rc) {
  case PC_OK:
  case PC_NOTFOUND:
  case PC_EXISTS:
  case PC_DONE:
    return rc;
  case PC_NOMEM:
    return pc__error(PC_NOMEM, "out of memory");
  case PC_TOOBIG:
  case PC_MISMATCH:
  case PC_UNAVAILABLE:
    return pc__error(rc, "backend %s: %s failed (code %d)", m->name, what, rc);
  default:
    return pc__error(PC_ERROR, "backend %s: %s failed (code %d)", m->name, what,
                     rc);
  }
}

static const pc_backend_methods *registered_user(const char *name) {
  int count = atomic_load(&g_nbe);
  for (int i = 0; i < count; i++)
    if (strcmp(name, g_be[i].name) == 0) return &g_be[i].user;
  return NULL;
}

static int reg_open(const pc_config *cfg, void **pb) {
  const pc_backend_methods *m = registered_user(cfg->backend);
  if (!m) return pc__error(PC_ERROR, "backend %s is gone", cfg->backend);
  reg_store *r = pc__malloc(sizeof *r);
  if (!r) return pc__error(PC_NOMEM, "out of memory");
  void *b = NULL;
  int rc = m->open(cfg, &b);
  if (rc != PC_OK) { /* b is not the engine's to close */
    pc__free(r);
    if (rc == PC_NOMEM) return pc__error(PC_NOMEM, "out of memory");
    return pc__error(PC_ERROR, "backend %s could not open the cache (code %d)",
                     m->name, rc);
  }
  r->m = m;
  r->b = b;
  *pb = r;
  return PC_OK;
}
static void reg_close(void *b) {
  reg_store *r = b;
  r->m->close(r->b);
  pc__free(r);
}
static int reg_get(void *b, const void *key, size_t nkey, int64_t now,
                   pc_buf *val, int64_t *expires) {
  reg_store *r = b;
  return reg_rc(r->m, "get", r->m->get(r->b, key, nkey, now, val, expires));
}
static int reg_set(void *b, const void *key, size_t nkey, const void *val,
                   size_t nval, int64_t expires, int flags, int64_t now) {
  reg_store *r = b;
  return reg_rc(r->m, "set",
                r->m->set(r->b, key, nkey, val, nval, expires, flags, now));
}
static int reg_del(void *b, const void *key, size_t nkey, int64_t now) {
  reg_store *r = b;
  return reg_rc(r->m, "delete", r->m->del(r->b, key, nkey, now));
}
static int reg_clear(void *b, int64_t now, int64_t *removed) {
  reg_store *r = b;
  return reg_rc(r->m, "clear", r->m->clear(r->b, now, removed));
}
static int reg_get_many(void *b, size_t n, const void *const *keys,
                        const size_t *nkeys, int64_t now, pc_buf *vals,
                        int64_t *expires, int *rcs) {
  reg_store *r = b;
  return reg_rc(r->m, "get_many",
                r->m->get_many(r->b, n, keys, nkeys, now, vals, expires, rcs));
}
static int reg_touch(void *b, const void *key, size_t nkey, int64_t expires,
                     int64_t now) {
  reg_store *r = b;
  return reg_rc(r->m, "touch", r->m->touch(r->b, key, nkey, expires, now));
}
static int reg_incr(void *b, const void *key, size_t nkey, int64_t delta,
                    int64_t expires, int64_t now, const pc_int_codec *codec,
                    int64_t *result) {
  reg_store *r = b;
  return reg_rc(
      r->m, "incr",
      r->m->incr(r->b, key, nkey, delta, expires, now, codec, result));
}
static int reg_scan_open(void *b, const void *prefix, size_t nprefix,
                         int nocase, int64_t now, void **pit) {
  reg_store *r = b;
  reg_iter *i = pc__malloc(sizeof *i);
  if (!i) return pc__error(PC_NOMEM, "out of memory");
  void *it = NULL;
  int rc = r->m->scan_open(r->b, prefix, nprefix, nocase, now, &it);
  if (rc != PC_OK) {
    pc__free(i);
    return reg_rc(r->m, "scan", rc == PC_NOTFOUND ? PC_ERROR : rc);
  }
  i->m = r->m;
  i->it = it;
  *pit = i;
  return PC_OK;
}
static int reg_scan_next(void *it, pc_backend_item *item) {
  reg_iter *i = it;
  return reg_rc(i->m, "scan", i->m->scan_next(i->it, item));
}
static void reg_scan_close(void *it) {
  reg_iter *i = it;
  i->m->scan_close(i->it);
  pc__free(i);
}
static void reg_stats(void *b, pc_stats *out) {
  reg_store *r = b;
  r->m->stats(r->b, out);
}

static const pc_backend_methods *backend_find(const char *name) {
  if (strcmp(name, "memory") == 0) return &pc__memory_backend;
  if (strcmp(name, "filesystem") == 0) return &pc__filesystem_backend;
  if (strcmp(name, "redis") == 0) return &pc__redis_backend;
  int count = atomic_load(&g_nbe);
  for (int i = 0; i < count; i++)
    if (strcmp(name, g_be[i].name) == 0) return &g_be[i].shim;
  return NULL;
}

const char *pc__backend_custom_name(const char *z, size_t n) {
  int count = atomic_load(&g_nbe);
  for (int i = 0; i < count; i++)
    if (pc__word_eq(g_be[i].name, z, n)) return g_be[i].name;
  return NULL;
}

int pc_register_backend(const pc_backend_methods *m) {
  if (!m || !m->name || !m->open || !m->close || !m->get || !m->set ||
      !m->del || !m->clear)
    return pc__error(PC_ERROR, "a backend needs a name, open, close, get, "
                               "set, del and clear");
  if (pc__check_reg_name("backend", m->name) != PC_OK) return PC_ERROR;
  size_t n = strlen(m->name);
  if ((m->scan_open || m->scan_next || m->scan_close) &&
      !(m->scan_open && m->scan_next && m->scan_close))
    return pc__error(PC_ERROR,
                     "backend %s: scan_open, scan_next and "
                     "scan_close go together",
                     m->name);
  if (m->version || m->watch)
    return pc__error(PC_ERROR,
                     "backend %s: version and watch serve the "
                     "memory tier, which registered backends do "
                     "not have (leave them NULL)",
                     m->name);
  pthread_mutex_lock(&g_be_mu);
  int count = atomic_load(&g_nbe), rc = PC_OK;
  if (backend_find(m->name))
    rc = pc__error(PC_EXISTS, "backend %s is already registered", m->name);
  else if (count == PC_MAX_BACKENDS)
    rc = pc__error(PC_ERROR, "at most %d backends can be registered",
                   PC_MAX_BACKENDS);
  if (rc == PC_OK) {
    memcpy(g_be[count].name, m->name, n + 1);
    pc_backend_methods *u = &g_be[count].user, *w = &g_be[count].shim;
    *u = *m;
    u->name = g_be[count].name;
    *w =
        (pc_backend_methods){.name = g_be[count].name,
                             .wall_clock = m->wall_clock,
                             .open = reg_open,
                             .close = reg_close,
                             .get = reg_get,
                             .set = reg_set,
                             .del = reg_del,
                             .clear = reg_clear,
                             .get_many = m->get_many ? reg_get_many : NULL,
                             .touch = m->touch ? reg_touch : NULL,
                             .incr = m->incr ? reg_incr : NULL,
                             .scan_open = m->scan_open ? reg_scan_open : NULL,
                             .scan_next = m->scan_open ? reg_scan_next : NULL,
                             .scan_close = m->scan_open ? reg_scan_close : NULL,
                             .stats = m->stats ? reg_stats : NULL};
    atomic_store(&g_nbe, count + 1); /* published complete */
  }
  pthread_mutex_unlock(&g_be_mu);
  return rc;
}

static pthread_mutex_t g_reg_mutex = PTHREAD_MUTEX_INITIALIZER;
static pc_cache **g_reg;   /* pc__free; the registry's references */
static int g_nreg, g_areg; /* used and allocated slots of g_reg */
static _Atomic uint64_t g_reg_version = 1;

uint64_t pc_registry_version(void) {
  return atomic_load_explicit(&g_reg_version, memory_order_acquire);
}

static void tier_free(pc_tier *t) {
  if (!t) return;
  if (t->m) pc__memory_backend.close(t->m);
  pthread_mutex_destroy(&t->mu);
  pc__free(t);
}

/* Drops key (all keys when key is NULL) from the tier, and moves its
** epoch so that no lookup begun before fills it with an older value.
** Under t->mu. */
static void tier_drop_locked(pc_tier *t, const void *key, size_t nkey) {
  int64_t removed;
  if (key)
    pc__memory_backend.del(t->m, key, nkey, PC_NOW_LAZY);
  else
    pc__memory_backend.clear(t->m, PC_NOW_LAZY, &removed);
  atomic_fetch_add(&t->epoch, 1);
}

static void tier_drop(pc_tier *t, const void *key, size_t nkey) {
  pthread_mutex_lock(&t->mu);
  tier_drop_locked(t, key, nkey);
  pthread_mutex_unlock(&t->mu);
}

/* A watching backend's news of a change to key (from its own thread). */
static void tier_on_change(void *arg, const void *key, size_t nkey) {
  tier_drop(arg, key, nkey);
}

/* A tier of local_max_bytes for the store b of backend be. */
static int tier_new(const pc_backend_methods *be, void *b,
                    int64_t local_max_bytes, pc_tier **out) {
  *out = NULL;
  if (!be->version)
    return pc__error(PC_ERROR,
                     "local_max_bytes: backend %s cannot have a memory tier",
                     be->name);
  pc_tier *t = pc__malloc(sizeof *t);
  if (!t) return pc__error(PC_NOMEM, "out of memory");
  memset(t, 0, sizeof *t);
  pthread_mutex_init(&t->mu, NULL);
  pc_config tcfg;
  pc__config_init(&tcfg);
  tcfg.max_bytes = local_max_bytes;
  tcfg.max_entries = 0;
  uint64_t v = 0;
  int rc = pc__memory_backend.open(&tcfg, &t->m);
  pc__config_free(&tcfg);
  if (rc == PC_OK) rc = be->version(b, &v);
  if (rc == PC_OK && be->watch) rc = be->watch(b, tier_on_change, t);
  if (rc != PC_OK) {
    tier_free(t);
    return rc;
  }
  atomic_init(&t->version, v);
  *out = t;
  return PC_OK;
}

static void cache_free(pc_cache *c) {
  if (!c) return;
  /* The backend first: a watching backend calls into the tier until its
  ** close() returns. */
  if (c->b) c->be->close(c->b);
  tier_free(c->tier);
  pc__free(c->stripes_raw);
  pc__config_free(&c->cfg);
  pc__free(c->name);
  pc__free(c);
}

void pc_cache_retain(pc_cache *c) {
  atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
}

void pc_cache_release(pc_cache *c) {
  if (c && atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) == 1)
    cache_free(c);
}

static int do_reg_find(const char *name) {
  for (int i = 0; i < g_nreg; i++)
    if (strcmp(g_reg[i]->name, name) == 0) return i;
  return -1;
}

/* Which types ser stores, tried once on an empty value of each. */
static unsigned probe_types(const pc_serializer *ser) {
  unsigned mask = 0;
  for (int t = PC_NULL; t <= PC_BLOB; t++) {
    pc_value v = {0};
    v.type = t;
    v.p = "";
    unsigned char scratch[64], *enc;
    size_t n;
    if (pc__ser_encode(ser, &v, scratch, sizeof scratch, &enc, &n) == PC_OK) {
      mask |= 1u << t;
      if (enc != scratch) pc__free(enc);
    }
  }
  return mask;
}

/* Creates a cache from a validated configuration (which it takes over). */
static int cache_new(const char *name, pc_config *cfg, pc_cache **out) {
  const pc_backend_methods *be = backend_find(cfg->backend);
  if (!be)
    return pc__error(PC_ERROR,
                     "backend %s is not available in this version of "
                     "PocketCache (%s)",
                     cfg->backend, PC_VERSION);
  const pc_serializer *ser = pc__serializer_find(cfg->serializer);
  if (!ser)
    return pc__error(PC_ERROR, "serializer: unknown serializer '%s'",
                     cfg->serializer);
  pc_cache *c = pc__malloc(sizeof *c);
  if (!c) return pc__error(PC_NOMEM, "out of memory");
  memset(c, 0, sizeof *c);
  c->be = be;
  c->ser = ser;
  c->stores = probe_types(ser);
  c->name = pc__strdup(name);
  c->stripes_raw = pc__malloc(sizeof(pc_stripe) * PC_STRIPES + 63);
  int rc =
      c->name && c->stripes_raw ? PC_OK : pc__error(PC_NOMEM, "out of memory");
  if (rc == PC_OK) {
    c->stripes =
        (pc_stripe *)(((uintptr_t)c->stripes_raw + 63) & ~(uintptr_t)63);
    memset(c->stripes, 0, sizeof(pc_stripe) * PC_STRIPES);
    void *b = NULL; /* a failed open leaves nothing to close */
    rc = be->open(cfg, &b);
    if (rc == PC_OK) c->b = b;
  }
  if (rc == PC_OK && cfg->local_max_bytes > 0)
    rc = tier_new(be, c->b, cfg->local_max_bytes, &c->tier);
  if (rc != PC_OK) {
    cache_free(c); /* c->cfg is still empty: cfg stays the caller's */
    return rc;
  }
  c->cfg = *cfg;
  memset(cfg, 0, sizeof *cfg);
  atomic_init(&c->refs, 1);
  *out = c;
  return PC_OK;
}

/* Registers or finds `name` for cfg; takes over cfg in every case. */
static int cache_open_cfg(const char *name, pc_config *cfg, pc_cache **out) {
  int rc;
  *out = NULL;
  size_t nname = name ? strlen(name) : 0;
  if (nname == 0 || nname > PC_NAME_MAX) {
    pc__config_free(cfg);
    return pc__error(PC_ERROR, "cache name must be 1 to %d bytes", PC_NAME_MAX);
  }
  pthread_mutex_lock(&g_reg_mutex);
  int i = do_reg_find(name);
  if (i >= 0) {
    const char *diff = pc__config_diff(&g_reg[i]->cfg, cfg);
    if (diff) {
      rc = pc__error(PC_ERROR, "cache '%s' is already open with a different %s",
                     name, diff);
    } else {
      atomic_fetch_add(&g_reg[i]->refs, 1);
      *out = g_reg[i];
      rc = PC_OK;
    }
    pc__config_free(cfg);
    pthread_mutex_unlock(&g_reg_mutex);
    return rc;
  }
  if (g_nreg == g_areg) {
    int na = g_areg ? g_areg * 2 : 8;
    pc_cache **a = pc__realloc(g_reg, sizeof(*a) * (size_t)na);
    if (!a) {
      pc__config_free(cfg);
      pthread_mutex_unlock(&g_reg_mutex);
      return pc__error(PC_NOMEM, "out of memory");
    }
    g_reg = a;
    g_areg = na;
  }
  pc_cache *c = NULL;
  rc = cache_new(name, cfg, &c);
  if (rc == PC_OK) {
    atomic_fetch_add(&c->refs,
                     1); /* the caller's; the first is the registry's */
    g_reg[g_nreg++] = c;
    atomic_fetch_add_explicit(&g_reg_version, 1, memory_order_release);
    *out = c;
  } else {
    pc__config_free(cfg);
  }
  pthread_mutex_unlock(&g_reg_mutex);
  return rc;
}

/* Validates a parsed configuration (rc: the parser's result) and opens the
** cache; cfg is taken over in every case. */
static int open_parsed(const char *name, pc_config *cfg, int rc, pc_cache **out,
                       char *err, size_t nerr) {
  *out = NULL;
  if (rc == PC_OK) rc = pc__config_validate(cfg);
  if (rc == PC_OK)
    rc = cache_open_cfg(name, cfg, out);
  else
    pc__config_free(cfg);
  if (rc != PC_OK && err && nerr) snprintf(err, nerr, "%s", pc__errbuf());
  return rc;
}

int pc_cache_open(const char *name, const char *json, pc_cache **out, char *err,
                  size_t nerr) {
  pc_config cfg;
  pc__config_init(&cfg);
  int rc =
      json && json[0] ? pc__config_from_json(&cfg, json, strlen(json)) : PC_OK;
  return open_parsed(name, &cfg, rc, out, err, nerr);
}

/* The rules of a table definition (SPEC §7): read from a database file
** that is not trusted it opens memory caches only, and its cache_dir never
** leaves the path it spells, by ".." or by a symbolic link. */
static int check_definition(const pc_config *cfg, int flags) {
  if ((flags & PC_DEF_UNTRUSTED) && strcmp(cfg->backend, "memory") != 0)
    return pc__error(PC_ERROR,
                     "backend %s cannot be opened from a table definition "
                     "read from a database file while trusted_schema is OFF",
                     cfg->backend);
  const char *dir = cfg->cache_dir;
  if (!dir) return PC_OK;
  char part[4096];
  size_t n = strlen(dir);
  if (n >= sizeof part) return PC_OK; /* the open reports it */
  for (size_t i = 0; i <= n; i++) {
    if (dir[i] != '/' && dir[i] != 0) continue;
    size_t start = i;
    while (start > 0 && dir[start - 1] != '/')
      start--;
    if (i - start == 2 && dir[start] == '.' && dir[start + 1] == '.')
      return pc__error(PC_ERROR,
                       "cache_dir: '%s' contains \"..\"; a table definition "
                       "must name its directory without it",
                       dir);
    if (i == 0) continue;
    memcpy(part, dir, i);
    part[i] = 0;
    struct stat st;
    if (lstat(part, &st) == 0 && S_ISLNK(st.st_mode))
      return pc__error(PC_ERROR,
                       "cache_dir: '%s' goes through a symbolic link (%s); a "
                       "table definition may not",
                       dir, part);
  }
  return PC_OK;
}

int pc_cache_check_kv(const char *name, int argc, const char *const *argv,
                      int flags, char *err, size_t nerr) {
  pc_config cfg;
  pc__config_init(&cfg);
  int rc = pc__config_from_kv(&cfg, argc, argv);
  if (rc == PC_OK) rc = pc__config_validate(&cfg);
  if (rc == PC_OK && flags) rc = check_definition(&cfg, flags);
  if (rc == PC_OK) {
    pthread_mutex_lock(&g_reg_mutex);
    int i = do_reg_find(name);
    const char *diff = i >= 0 ? pc__config_diff(&g_reg[i]->cfg, &cfg) : NULL;
    if (diff)
      rc = pc__error(PC_ERROR, "cache '%s' is already open with a different %s",
                     name, diff);
    pthread_mutex_unlock(&g_reg_mutex);
  }
  pc__config_free(&cfg);
  if (rc != PC_OK && err && nerr) snprintf(err, nerr, "%s", pc__errbuf());
  return rc;
}

int pc_cache_open_kv(const char *name, int argc, const char *const *argv,
                     pc_cache **out, char *err, size_t nerr) {
  pc_config cfg;
  pc__config_init(&cfg);
  int rc = pc__config_from_kv(&cfg, argc, argv);
  return open_parsed(name, &cfg, rc, out, err, nerr);
}

/* A new reference to the registered cache `name`, or NULL. */
static pc_cache *reg_find_ref(const char *name) {
  pc_cache *c = NULL;
  pthread_mutex_lock(&g_reg_mutex);
  int i = do_reg_find(name);
  if (i >= 0) {
    c = g_reg[i];
    atomic_fetch_add(&c->refs, 1);
  }
  pthread_mutex_unlock(&g_reg_mutex);
  return c;
}

pc_cache *pc_cache_find(const char *name) {
  if (!name) return NULL;
  pc_cache *c = reg_find_ref(name);
  if (c || strcmp(name, "default") != 0) return c;
  /* "default" always exists: made with the defaults when missing. A
  ** concurrent opener may win, with another configuration even: then that
  ** one is "default", and the lookup after the refused open finds it. */
  pc_config cfg;
  pc__config_init(&cfg);
  if (pc__config_validate(&cfg) != PC_OK) {
    pc__config_free(&cfg);
    return NULL;
  }
  if (cache_open_cfg(name, &cfg, &c) != PC_OK) c = reg_find_ref(name);
  return c;
}

int pc_cache_close(const char *name) {
  pthread_mutex_lock(&g_reg_mutex);
  int i = name ? do_reg_find(name) : -1;
  pc_cache *c = NULL;
  if (i >= 0) {
    c = g_reg[i];
    g_reg[i] = g_reg[--g_nreg];
    atomic_fetch_add_explicit(&g_reg_version, 1, memory_order_release);
  }
  pthread_mutex_unlock(&g_reg_mutex);
  if (!c) return PC_NOTFOUND;
  atomic_store(&c->closed, 1); /* pending async operations are cancelled */
  pc_cache_release(c);
  return PC_OK;
}

int pc__cache_closed(const pc_cache *c) {
  return atomic_load(&c->closed);
}

static int cmp_names(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

int pc_cache_names(char ***names, int *count) {
  *names = NULL;
  *count = 0;
  pthread_mutex_lock(&g_reg_mutex);
  size_t bytes = sizeof(char *) * (size_t)(g_nreg + 1);
  for (int i = 0; i < g_nreg; i++)
    bytes += strlen(g_reg[i]->name) + 1;
  char **a = pc__malloc(bytes);
  if (!a) {
    pthread_mutex_unlock(&g_reg_mutex);
    return pc__error(PC_NOMEM, "out of memory");
  }
  char *z = (char *)(a + g_nreg + 1);
  for (int i = 0; i < g_nreg; i++) {
    size_t n = strlen(g_reg[i]->name) + 1;
    memcpy(z, g_reg[i]->name, n);
    a[i] = z;
    z += n;
  }
  a[g_nreg] = NULL;
  *count = g_nreg;
  pthread_mutex_unlock(&g_reg_mutex);
  qsort(a, (size_t)*count, sizeof *a, cmp_names);
  *names = a;
  return PC_OK;
}

int64_t pc_cache_max_value_bytes(const pc_cache *c) {
  return c->cfg.max_value_bytes;
}
int pc_cache_stores_type(const pc_cache *c, int type) {
  return type >= PC_NULL && type <= PC_BLOB && (c->stores >> type & 1u);
}

const char *pc_cache_name(const pc_cache *c) {
  return c->name;
}
const char *pc_cache_backend_name(const pc_cache *c) {
  return c->be->name;
}
char *pc_cache_config_json(const pc_cache *c) {
  return pc__config_to_json(&c->cfg);
}

/* ---- TTL and time ---- */

static inline int64_t cache_now(const pc_cache *c) {
  return c->be->wall_clock ? pc_now_wall_ms() : pc_now_mono_ms();
}

/* Absolute expiry for ttl_ms on the backend's clock. *now is read from the
** clock only when the TTL needs it, else left PC_NOW_LAZY for the backend
** (most entries of a memoizing cache never expire: no clock read then). */
static int64_t expiry_for(const pc_cache *c, int64_t ttl_ms, int64_t *now) {
  *now = PC_NOW_LAZY;
  if (ttl_ms == PC_TTL_DEFAULT) ttl_ms = c->cfg.default_ttl_ms;
  if (ttl_ms == PC_TTL_NEVER || ttl_ms <= 0) return PC_EXPIRES_NEVER;
  *now = cache_now(c);
  return pc__expiry_after(*now, ttl_ms);
}

static int check_ttl(int64_t ttl_ms) {
  if (ttl_ms == PC_TTL_DEFAULT || ttl_ms == PC_TTL_NEVER ||
      (ttl_ms > 0 && ttl_ms <= PC_TTL_MAX_MS))
    return PC_OK;
  return pc__error(PC_ERROR, PC_TTL_RULE);
}

static inline int check_key(const pc_cache *c, size_t nkey) {
  if ((int64_t)nkey > c->cfg.max_key_bytes)
    return pc__error(PC_TOOBIG, "key is larger than max_key_bytes (%lld)",
                     (long long)c->cfg.max_key_bytes);
  return PC_OK;
}

/* The rule of on_error=fallback: a store that cannot be reached (the
** backend says PC_UNAVAILABLE) fails no call. The error is counted and
** the caller gets `instead`, what the operation returns when the key is
** not there (a miss, 0, nothing removed). With on_error=raise the error
** stands. */
static int fallback(pc_cache *c, int rc, int instead) {
  if (rc != PC_UNAVAILABLE) return rc;
  stat_add(c, ST_ERRORS);
  return c->cfg.on_error == PC_ON_ERROR_FALLBACK ? instead : rc;
}

/* Counts a lookup's outcome: a hit, a miss or an error. PC_UNAVAILABLE is
** left out: fallback() counted it already. */
static inline void count_lookup(pc_cache *c, int rc) {
  if (rc != PC_UNAVAILABLE)
    stat_add(c, rc == PC_OK         ? ST_HITS
                : rc == PC_NOTFOUND ? ST_MISSES
                                    : ST_ERRORS);
}

/* ---- Operations ---- */

/* Decodes buf into *out, taking over its release. */
static int decode_slow(pc_cache *c, pc_buf *buf, pc_value *out) {
  void (*release)(void *) = buf->free_fn;
  out->free_fn = NULL; /* a decoder writes *out only on success */
  int rc = pc__ser_decode(c->ser, buf->p, buf->n, out, &release);
  if (release) release((void *)buf->p);
  buf->free_fn = NULL;
  if (rc != PC_OK) {
    pc_value_release(out);
    stat_add(c, ST_ERRORS);
    return PC_NOTFOUND;
  }
  return PC_OK;
}

/* decode_slow() with the native format's TEXT and BLOB decoded inline.
** from_tier: the bytes come from the memory tier, which took only checked
** bytes; those of a memory backend were all written by this engine. */
static inline __attribute__((always_inline)) int
decode_buf(pc_cache *c, pc_buf *buf, pc_value *out, bool from_tier) {
  bool trusted = from_tier || c->be == &pc__memory_backend;
  int t;
  if (c->ser != &pc__native_serializer ||
      !(t = pc__native_bytes(buf->p, buf->n)))
    return decode_slow(c, buf, out);
  size_t n = buf->n - PC_NATIVE_TRAILER;
  /* From anywhere but a memory store, a claim of no NUL inside is checked
  ** (decode_slow makes a lie a miss). */
  if (!trusted && pc__native_z_lie(buf->p, buf->n, t))
    return decode_slow(c, buf, out);
  *out = (pc_value){.type = t & ~PC_NATIVE_Z,
                    .p = buf->p,
                    .n = n,
                    .free_fn = buf->free_fn,
                    .nul_terminated = (t & PC_NATIVE_Z) != 0};
  buf->free_fn = NULL;
  return PC_OK;
}

/* The lookup behind pc_get and pc_get_item: value, expiry and size. */
static int do_lookup(pc_cache *c, const void *key, size_t nkey, int64_t now,
                     pc_value *out, int64_t *expires, int64_t *size) {
  int rc = check_key(c, nkey);
  if (rc) return rc;
  pc_buf buf;
  rc =
      fallback(c, c->be->get(c->b, key, nkey, now, &buf, expires), PC_NOTFOUND);
  if (rc == PC_OK) {
    if (size) *size = (int64_t)(nkey + buf.n);
    rc = decode_buf(c, &buf, out, false);
  }
  count_lookup(c, rc);
  return rc;
}

/* A get from the store itself. */
static inline int store_get(pc_cache *c, const void *key, size_t nkey,
                            pc_value *out) {
  pc_buf buf;
  int rc = c->be->get(c->b, key, nkey, PC_NOW_LAZY, &buf, NULL);
  if (rc == PC_OK) rc = decode_buf(c, &buf, out, false);
  if (__builtin_expect(rc == PC_UNAVAILABLE, 0))
    rc = fallback(c, rc, PC_NOTFOUND);
  count_lookup(c, rc);
  return rc;
}

/* ---- The memory tier ---- */

/* Drops the whole tier when the store's version moved to v. */
static void tier_sync(pc_cache *c, uint64_t v) {
  pc_tier *t = c->tier;
  if (v == atomic_load_explicit(&t->version, memory_order_acquire)) return;
  pthread_mutex_lock(&t->mu);
  if (v != atomic_load_explicit(&t->version, memory_order_relaxed)) {
    tier_drop_locked(t, NULL, 0);
    atomic_store_explicit(&t->version, v, memory_order_release);
  }
  pthread_mutex_unlock(&t->mu);
}

/* Drops key (all keys when key is NULL) after a write of this process. */
static void tier_invalidate(pc_cache *c, const void *key, size_t nkey) {
  if (c->tier) tier_drop(c->tier, key, nkey);
}

/* Keeps a value read from the store, unless something was invalidated
** since the lookup began at `epoch`. The store's wall-clock expiry becomes
** a monotonic one. */
static void tier_fill(pc_cache *c, uint64_t epoch, const void *key, size_t nkey,
                      const pc_buf *buf, int64_t expires) {
  pc_tier *t = c->tier;
  /* The tier's bytes are trusted when read (decode_buf): native TEXT that
  ** claims no NUL inside is checked once, here, and a lie not kept. */
  if (c->ser == &pc__native_serializer &&
      pc__native_z_lie(buf->p, buf->n, pc__native_bytes(buf->p, buf->n)))
    return;
  if (expires != PC_EXPIRES_NEVER) {
    int64_t left = expires - pc_now_wall_ms();
    if (left <= 0) return;
    expires = pc__expiry_after(pc_now_mono_ms(), left);
  }
  pthread_mutex_lock(&t->mu);
  if (atomic_load_explicit(&t->epoch, memory_order_relaxed) == epoch)
    pc__memory_backend.set(t->m, key, nkey, buf->p, buf->n, expires, 0,
                           PC_NOW_LAZY); /* a value too big is not kept */
  pthread_mutex_unlock(&t->mu);
}

/* pc_get through the tier: a hit is served from memory once the store's
** version is checked; a miss reads the store and fills the tier. */
static __attribute__((noinline)) int tier_get(pc_cache *c, const void *key,
                                              size_t nkey, pc_value *out) {
  pc_tier *t = c->tier;
  uint64_t v;
  int rc = c->be->version(c->b, &v);
  if (rc != PC_OK) {
    stat_add(c, ST_ERRORS);
    return rc;
  }
  if (v == 0) return store_get(c, key, nkey, out); /* changes unheard */
  tier_sync(c, v);
  uint64_t epoch = atomic_load_explicit(&t->epoch, memory_order_acquire);
  pc_buf buf;
  rc = pc__memory_backend.get(t->m, key, nkey, PC_NOW_LAZY, &buf, NULL);
  bool from_tier = rc == PC_OK;
  if (rc == PC_NOTFOUND) {
    int64_t expires;
    rc = c->be->get(c->b, key, nkey, PC_NOW_LAZY, &buf, &expires);
    if (rc == PC_OK) tier_fill(c, epoch, key, nkey, &buf, expires);
    if (rc == PC_UNAVAILABLE) rc = fallback(c, rc, PC_NOTFOUND);
  }
  if (rc == PC_OK) rc = decode_buf(c, &buf, out, from_tier);
  count_lookup(c, rc);
  if (rc == PC_OK && from_tier) stat_add(c, ST_TIER_HITS);
  return rc;
}

int pc_get(pc_cache *c, const void *key, size_t nkey, pc_value *out) {
  /* do_lookup without what a plain get does not need: this is the path
  ** cache_get takes, measured against SELECT ?1. */
  if ((int64_t)nkey > c->cfg.max_key_bytes) return check_key(c, nkey);
  if (c->tier) return tier_get(c, key, nkey, out);
  return store_get(c, key, nkey, out);
}

/* Fills the TTL fields of an item from an absolute expiry. */
static void item_times(const pc_cache *c, pc_item *item, int64_t expires,
                       int64_t now, int64_t wall_now) {
  if (expires == PC_EXPIRES_NEVER) {
    item->ttl_ms = item->expires_at = PC_TTL_NEVER;
  } else {
    item->ttl_ms = expires - now;
    item->expires_at = c->be->wall_clock ? expires : wall_now + item->ttl_ms;
  }
}

int pc_get_item(pc_cache *c, const void *key, size_t nkey, pc_item *out) {
  int64_t now = cache_now(c), expires;
  int rc = do_lookup(c, key, nkey, now, &out->value, &expires, &out->size);
  if (rc != PC_OK) return rc;
  out->key = key;
  out->nkey = nkey;
  item_times(c, out, expires, now, pc_now_wall_ms());
  return PC_OK;
}

/* The backend's get for each key, where it has no get_many. */
static int get_each(pc_cache *c, size_t n, const void *const *keys,
                    const size_t *nkeys, int64_t now, pc_buf *vals,
                    int64_t *expires, int *rcs) {
  for (size_t i = 0; i < n; i++) {
    int rc = c->be->get(c->b, keys[i], nkeys[i], now, &vals[i],
                        expires ? &expires[i] : NULL);
    rcs[i] = rc == PC_OK ? PC_OK : PC_NOTFOUND;
    if (rc == PC_OK || rc == PC_NOTFOUND) continue;
    for (size_t j = 0; j < i; j++)
      if (rcs[j] == PC_OK) pc__buf_release(&vals[j]);
    return rc;
  }
  return PC_OK;
}

int pc_get_items(pc_cache *c, size_t n, const void *const *keys,
                 const size_t *nkeys, int flags, pc_item *items, int *rcs) {
  for (size_t i = 0; i < n; i++) {
    int rc = check_key(c, nkeys[i]);
    if (rc) return rc;
  }
  if (n == 0) return PC_OK;
  pc_buf *vals = pc__malloc(n * sizeof *vals);
  bool ttl = !(flags & PC_ITEMS_NO_TTL);
  int64_t *expires = ttl ? pc__malloc(n * sizeof *expires) : NULL;
  int rc =
      vals && (expires || !ttl) ? PC_OK : pc__error(PC_NOMEM, "out of memory");
  int64_t now = cache_now(c), wall_now = pc_now_wall_ms();
  if (rc == PC_OK)
    rc = c->be->get_many
             ? c->be->get_many(c->b, n, keys, nkeys, now, vals, expires, rcs)
             : get_each(c, n, keys, nkeys, now, vals, expires, rcs);
  if (rc == PC_UNAVAILABLE && fallback(c, rc, PC_NOTFOUND) == PC_NOTFOUND) {
    for (size_t i = 0; i < n; i++)
      rcs[i] = PC_NOTFOUND;
    rc = PC_OK;
  }
  for (size_t i = 0; rc == PC_OK && i < n; i++) {
    if (rcs[i] == PC_OK) {
      items[i].size = (int64_t)(nkeys[i] + vals[i].n);
      rcs[i] = decode_buf(c, &vals[i], &items[i].value, false);
    }
    count_lookup(c, rcs[i]);
    if (rcs[i] != PC_OK) continue;
    items[i].key = keys[i];
    items[i].nkey = nkeys[i];
    items[i].ttl_ms = items[i].expires_at = 0;
    if (ttl) item_times(c, &items[i], expires[i], now, wall_now);
  }
  pc__free(vals);
  pc__free(expires);
  return rc;
}

int pc_set(pc_cache *c, const void *key, size_t nkey, const pc_value *v,
           int64_t ttl_ms, int flags) {
  int rc = check_key(c, nkey);
  if (rc == PC_OK) rc = check_ttl(ttl_ms);
  if (rc) return rc;
  if ((v->type == PC_TEXT || v->type == PC_BLOB) &&
      (int64_t)v->n > c->cfg.max_value_bytes)
    return pc__error(PC_TOOBIG, "value is larger than max_value_bytes (%lld)",
                     (long long)c->cfg.max_value_bytes);
  /* Small encodings stay on the stack: the backend copies them anyway. */
  unsigned char scratch[512], *enc;
  size_t nenc;
  rc = pc__ser_encode(c->ser, v, scratch, sizeof scratch, &enc, &nenc);
  if (rc) return rc;
  if ((int64_t)nenc > c->cfg.max_value_bytes + 16) {
    if (enc != scratch) pc__free(enc);
    return pc__error(PC_TOOBIG, "value is larger than max_value_bytes (%lld)",
                     (long long)c->cfg.max_value_bytes);
  }
  int64_t now, expires = expiry_for(c, ttl_ms, &now);
  rc = c->be->set(c->b, key, nkey, enc, nenc, expires, flags, now);
  if (enc != scratch) pc__free(enc);
  tier_invalidate(c, key, nkey);
  if (rc == PC_UNAVAILABLE) return fallback(c, rc, PC_DROPPED);
  if (rc == PC_OK)
    stat_add(c, ST_SETS);
  else if (rc != PC_EXISTS && rc != PC_NOTFOUND)
    stat_add(c, ST_ERRORS);
  return rc;
}

int pc_delete(pc_cache *c, const void *key, size_t nkey) {
  int rc = check_key(c, nkey);
  if (rc) return rc;
  rc = fallback(c, c->be->del(c->b, key, nkey, PC_NOW_LAZY), PC_NOTFOUND);
  tier_invalidate(c, key, nkey);
  if (rc == PC_OK) stat_add(c, ST_DELETES);
  return rc;
}

int pc_has(pc_cache *c, const void *key, size_t nkey) {
  int rc = check_key(c, nkey);
  if (rc) return rc;
  pc_buf buf;
  rc = fallback(c, c->be->get(c->b, key, nkey, PC_NOW_LAZY, &buf, NULL),
                PC_NOTFOUND);
  if (rc == PC_OK) pc__buf_release(&buf);
  return rc;
}

int pc_ttl(pc_cache *c, const void *key, size_t nkey, int64_t *ttl_ms) {
  int rc = check_key(c, nkey);
  if (rc) return rc;
  pc_buf buf;
  int64_t expires, now = cache_now(c);
  rc = fallback(c, c->be->get(c->b, key, nkey, now, &buf, &expires),
                PC_NOTFOUND);
  if (rc != PC_OK) return rc;
  pc__buf_release(&buf);
  *ttl_ms = expires == PC_EXPIRES_NEVER ? PC_TTL_NEVER : expires - now;
  return PC_OK;
}

int pc_touch(pc_cache *c, const void *key, size_t nkey, int64_t ttl_ms) {
  int rc = check_key(c, nkey);
  if (rc == PC_OK) rc = check_ttl(ttl_ms);
  if (rc) return rc;
  if (!c->be->touch)
    return pc__error(PC_UNSUPPORTED, "touch is not supported by backend %s",
                     c->be->name);
  int64_t now, expires = expiry_for(c, ttl_ms, &now);
  rc = fallback(c, c->be->touch(c->b, key, nkey, expires, now), PC_NOTFOUND);
  tier_invalidate(c, key, nkey);
  return rc;
}

int pc_incr(pc_cache *c, const void *key, size_t nkey, int64_t delta,
            int64_t ttl_ms, int64_t *result) {
  int rc = check_key(c, nkey);
  if (rc == PC_OK) rc = check_ttl(ttl_ms);
  if (rc) return rc;
  if (!c->be->incr)
    return pc__error(PC_UNSUPPORTED, "incr is not supported by backend %s",
                     c->be->name);
  if (!c->ser->ints)
    return pc__error(PC_UNSUPPORTED,
                     "incr is not supported with serializer %s (the "
                     "backends add to integers in a format they know)",
                     c->ser->name);
  int64_t now, expires = expiry_for(c, ttl_ms, &now);
  rc = c->be->incr(c->b, key, nkey, delta, expires, now, c->ser->ints, result);
  tier_invalidate(c, key, nkey);
  /* No value to give: PC_NOTFOUND, which SQL shows as NULL. */
  rc = fallback(c, rc, PC_NOTFOUND);
  if (rc == PC_MISMATCH)
    return pc__error(PC_MISMATCH, "the stored value is not an integer");
  if (rc == PC_OK) stat_add(c, ST_SETS);
  return rc;
}

int pc_clear(pc_cache *c, int64_t *removed) {
  int64_t n = 0;
  int rc = fallback(c, c->be->clear(c->b, PC_NOW_LAZY, &n), PC_OK);
  tier_invalidate(c, NULL, 0);
  if (removed) *removed = n;
  return rc;
}

int pc_get_stats(pc_cache *c, pc_stats *out) {
  memset(out, 0, sizeof *out);
  if (c->be->stats) c->be->stats(c->b, out);
  out->hits = stat_sum(c, ST_HITS);
  out->misses = stat_sum(c, ST_MISSES);
  out->sets = stat_sum(c, ST_SETS);
  out->deletes = stat_sum(c, ST_DELETES);
  out->errors += stat_sum(c, ST_ERRORS);
  return PC_OK;
}

char *pc_stats_json(pc_cache *c) {
  pc_stats s;
  pc_get_stats(c, &s);
  int64_t lookups = s.hits + s.misses;
  double ratio = lookups ? (double)s.hits / (double)lookups : 0.0;
  /* The name is the only text; escape what JSON needs. */
  size_t nname = strlen(c->name);
  char *name = pc__malloc(nname * 6 + 1);
  if (!name) return NULL;
  char *w = name;
  for (size_t i = 0; i < nname; i++) {
    unsigned char ch = (unsigned char)c->name[i];
    if (ch == '"' || ch == '\\') {
      *w++ = '\\';
      *w++ = (char)ch;
    } else if (ch < 0x20) {
      w += sprintf(w, "\\u%04x", ch);
    } else {
      *w++ = (char)ch;
    }
  }
  *w = 0;
  /* Per tier where there is one: what the memory tier holds, the hits it
  ** served and what it evicted. */
  char tier[192] = "";
  if (c->tier) {
    pc_stats ts;
    memset(&ts, 0, sizeof ts);
    pc__memory_backend.stats(c->tier->m, &ts);
    snprintf(tier, sizeof tier,
             ",\"tier\":{\"backend\":\"memory\",\"entries\":%lld,"
             "\"bytes\":%lld,\"hits\":%lld,\"evictions\":%lld}",
             (long long)ts.entries, (long long)ts.bytes,
             (long long)stat_sum(c, ST_TIER_HITS), (long long)ts.evictions);
  }
  size_t cap = strlen(name) + 512 + sizeof tier;
  char *z = pc__malloc(cap);
  if (z)
    snprintf(z, cap,
             "{\"cache\":\"%s\",\"backend\":\"%s\",\"entries\":%lld,"
             "\"bytes\":%lld,\"hits\":%lld,\"misses\":%lld,"
             "\"hit_ratio\":%.4f,\"sets\":%lld,\"deletes\":%lld,"
             "\"evictions\":%lld,\"expirations\":%lld,\"errors\":%lld%s}",
             name, c->be->name, (long long)s.entries, (long long)s.bytes,
             (long long)s.hits, (long long)s.misses, ratio, (long long)s.sets,
             (long long)s.deletes, (long long)s.evictions,
             (long long)s.expirations, (long long)s.errors, tier);
  pc__free(name);
  return z;
}

/* ---- Build information ---- */

char *pc_build_info(void) {
  /* Registered names are [a-z0-9_]: nothing to escape. */
  char be[PC_MAX_BACKENDS * (PC_REG_NAME_MAX + 3) + 1] = "";
  char ser[16 * 18 + 1];
  size_t k = 0;
  int count = atomic_load(&g_nbe);
  for (int i = 0; i < count; i++)
    k += (size_t)snprintf(be + k, sizeof be - k, ",\"%s\"", g_be[i].name);
  pc__serializer_names(ser, sizeof ser);
  size_t n = 256 + sizeof be + sizeof ser;
  char *z = pc__malloc(n);
  if (z)
    snprintf(z, n,
             "{\"version\":\"%s\",\"backends\":[\"memory\",\"filesystem\","
             "\"redis\"%s],\"serializers\":[\"%s\",\"%s\"%s],\"cjson\":\"%s\","
             "\"hiredis\":\"%s\"}",
             PC_VERSION, be, pc__native_serializer.name,
             pc__json_serializer.name, ser, pc__cjson_version(),
             pc__hiredis_version());
  return z;
}

/* ---- Iteration ---- */

struct pc_iter {
  pc_cache *c; /* a reference: pc_cache_release */
  void *it;    /* c->be->scan_close */
};

int pc_iter_open(pc_cache *c, const void *prefix, size_t nprefix, int nocase,
                 pc_iter **out) {
  *out = NULL;
  if (!c->be->scan_open)
    return pc__error(PC_UNSUPPORTED, "scan is not supported by backend %s",
                     c->be->name);
  pc_iter *p = pc__malloc(sizeof *p);
  if (!p) return pc__error(PC_NOMEM, "out of memory");
  int rc =
      c->be->scan_open(c->b, prefix, nprefix, nocase, cache_now(c), &p->it);
  if (rc != PC_OK) {
    pc__free(p);
    return rc;
  }
  pc_cache_retain(c);
  p->c = c;
  *out = p;
  return PC_OK;
}

int pc_iter_next(pc_iter *p, pc_item *item) {
  for (;;) {
    pc_backend_item bi;
    int rc = p->c->be->scan_next(p->it, &bi);
    if (rc != PC_OK) return fallback(p->c, rc, PC_DONE); /* rows so far */
    /* The time of this row, not of the scan's start: a slow reader of a
    ** scan must not be handed an entry that expired meanwhile. */
    int64_t now = cache_now(p->c);
    if (bi.expires != PC_EXPIRES_NEVER && bi.expires <= now) {
      pc__buf_release(&bi.val);
      continue;
    }
    int64_t size = (int64_t)(bi.nkey + bi.val.n);
    if (decode_buf(p->c, &bi.val, &item->value, false) != PC_OK) continue;
    item->key = bi.key;
    item->nkey = bi.nkey;
    item->size = size;
    item_times(p->c, item, bi.expires, now, pc_now_wall_ms());
    return PC_OK;
  }
}

void pc_iter_close(pc_iter *p) {
  if (!p) return;
  p->c->be->scan_close(p->it);
  pc_cache_release(p->c);
  pc__free(p);
}
