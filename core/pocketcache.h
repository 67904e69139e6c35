/*
** pocketcache.h: the one public header of the PocketCache engine.
**
** The engine caches typed values under byte keys, in named process-wide
** caches, behind pluggable backends. It has no SQLite types: the SQLite
** extension in ext/ is one user of this header, a C program is another.
**
**   pc_cache *c;
**   char err[PC_ERRMSG_MAX];
**   if (pc_cache_open("api", "{\"max_bytes\":\"16MB\"}", &c, err, sizeof err))
**     fprintf(stderr, "%s\n", err);
**   pc_value v = pc_text("hello", 5);
**   pc_set(c, "k", 1, &v, PC_TTL_DEFAULT, 0);
**   pc_value out;
**   if (pc_get(c, "k", 1, &out) == PC_OK) { ...; pc_value_release(&out); }
**   pc_cache_release(c);
**
** Conventions: every function returns a PC_* code; PC_NOTFOUND is an
** ordinary outcome, not an error. On an error the message is kept for the
** calling thread (pc_errmsg) until its next error, or written to the
** caller's buffer where a function takes one. A buffer argument is a pair
** (key, nkey) / (val, nval).
** Every function is safe to call from any thread.
*/
#ifndef POCKETCACHE_H
#define POCKETCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PC_VERSION "0.1.0"
#define PC_ERRMSG_MAX 256

/* ---- Return codes ---- */
#define PC_OK 0          /* success */
#define PC_NOTFOUND 1    /* no live entry under the key (not an error) */
#define PC_EXISTS 2      /* add: a live entry is already there */
#define PC_ERROR 3       /* an error; see pc_errmsg() */
#define PC_NOMEM 4       /* out of memory */
#define PC_TOOBIG 5      /* key or value over the cache's limit */
#define PC_MISMATCH 6    /* incr on a value that is not an INTEGER */
#define PC_UNSUPPORTED 7 /* the backend cannot do this operation */
#define PC_DONE 8        /* iteration finished */
#define PC_UNAVAILABLE 9 /* the store cannot be reached now (redis) */
#define PC_DROPPED 10    /* set under on_error=fallback: not stored */
#define PC_CANCELLED 11  /* async: the cache was closed before it ran */

/* ---- Values ---- */
#define PC_NULL 0
#define PC_INTEGER 1
#define PC_REAL 2
#define PC_TEXT 3
#define PC_BLOB 4

/*
** A typed value. For PC_TEXT and PC_BLOB, (p, n) are the bytes (TEXT is
** UTF-8, not NUL-terminated). A value filled by pc_get() owns a reference
** to the stored bytes: call pc_value_release() when done, or hand p to a
** consumer together with free_fn, which must then be called exactly once
** with p (this is how ext/ gives SQLite the bytes without a copy).
*/
typedef struct pc_value {
  int type;    /* PC_NULL .. PC_BLOB */
  int is_json; /* PC_TEXT only: the text is JSON (SQLite subtype 'J') */
  int64_t i;   /* PC_INTEGER */
  double r;    /* PC_REAL */
  const void *p;
  size_t n;
  void (*free_fn)(void *); /* NULL, or releases p; called with p */
  int nul_terminated;      /* PC_TEXT from the engine: p[n] is 0 and no
                              byte of p[0..n) is (SQLite can take the text
                              as a C string, with no copy) */
} pc_value;

pc_value pc_null(void);
pc_value pc_int(int64_t i);
pc_value pc_real(double r);
pc_value pc_text(const char *p, size_t n); /* borrows p */
pc_value pc_blob(const void *p, size_t n); /* borrows p */

/* Releases what a value filled by the engine holds; safe on any value. */
void pc_value_release(pc_value *v);

/* ---- TTL ---- */
/*
** TTLs are milliseconds. PC_TTL_DEFAULT takes the cache's default_ttl,
** PC_TTL_NEVER never expires. pc_ttl_from_seconds() is the one place that
** applies the TTL rules to a number of seconds: positive (rounded up to a
** whole millisecond), -1 for never, at most 2^53 ms; 0, other negatives,
** NaN and infinities are PC_ERROR. pc_ttl_from_text() accepts the same
** numbers written as text and nothing else ('10abc' is an error).
*/
#define PC_TTL_DEFAULT INT64_MIN
#define PC_TTL_NEVER (-1)
#define PC_TTL_MAX_MS 9007199254740992LL /* 2^53 */
int pc_ttl_from_seconds(double seconds, int64_t *ttl_ms);
int pc_ttl_from_text(const char *z, size_t n, int64_t *ttl_ms);

/* ---- Caches ---- */
typedef struct pc_cache pc_cache;

/*
** Opens the cache `name` with a JSON object of configuration keys (NULL or
** "" for all defaults), registering it process-wide. If `name` is already
** open with the same configuration, *out is that cache; with another
** configuration it is PC_ERROR naming the first difference. On success the
** caller holds a reference: release it with pc_cache_release(); the cache
** stays registered until pc_cache_close(name). On failure *out is NULL and
** err (if not NULL) holds the message.
*/
int pc_cache_open(const char *name, const char *config_json, pc_cache **out,
                  char *err, size_t nerr);

/*
** The same with configuration given as key=value strings (the arguments of
** CREATE VIRTUAL TABLE ... USING pcache(...)); values may be quoted with ' or
** ".
*/
int pc_cache_open_kv(const char *name, int argc, const char *const *argv,
                     pc_cache **out, char *err, size_t nerr);

/* Checks key=value configuration as pc_cache_open_kv would, and that an
** open cache `name` (if any) has the same configuration, without opening
** or changing anything: PC_OK, or an error with the message in err. (A
** table definition read from a database file is checked this way; its
** cache is opened only when a statement uses the table directly.)
** flags: PC_DEF_TABLE for a table definition, whose cache_dir may not
** contain ".." nor go through a symbolic link; PC_DEF_UNTRUSTED also, for
** a definition read from a database file that is not trusted: only the
** memory backend may be opened from it. */
#define PC_DEF_TABLE 0x01
#define PC_DEF_UNTRUSTED 0x02
int pc_cache_check_kv(const char *name, int argc, const char *const *argv,
                      int flags, char *err, size_t nerr);

/* A new reference to the open cache `name`, or NULL if none is open. The
** cache "default" is always open. */
pc_cache *pc_cache_find(const char *name);

/* Unregisters `name`; references still held keep working until released.
** PC_NOTFOUND if it was not open. Closing "default" drops its entries: the
** next use makes a fresh one, or pc_cache_open("default", ...) reconfigures
** it. */
int pc_cache_close(const char *name);

/* Takes one more reference on c, which the caller holds already. */
void pc_cache_retain(pc_cache *c);
/* Drops a reference from open/find; NULL is a no-op. */
void pc_cache_release(pc_cache *c);

/* A counter that changes whenever a cache is opened or closed, so that a
** caller keeping looked-up references can tell when to look again. */
uint64_t pc_registry_version(void);

/* Names of the open caches, sorted, as one malloc'd block: an array of
** *count pointers followed by the strings. Free with pc_free(). */
int pc_cache_names(char ***names, int *count);

/* The cache's name and its backend's; valid while c is held. */
const char *pc_cache_name(const pc_cache *c);
const char *pc_cache_backend_name(const pc_cache *c);
/* The configuration as canonical JSON text (secrets masked); pc_free() it. */
char *pc_cache_config_json(const pc_cache *c);

/* The message of the last error on this cache in this thread's last call.
** Valid until the next call on the cache from this thread. */
const char *pc_errmsg(const pc_cache *c);

/* ---- Operations ---- */
/* Flags of pc_set(). */
#define PC_SET_NX 0x01      /* only if absent (add) */
#define PC_SET_XX 0x02      /* only if present */
#define PC_SET_KEEPTTL 0x04 /* keep a present entry's expiry */

/* Like pc_get, with the entry's TTL, expiry and size (a point lookup of
** the pcache table). Counts as a get in the statistics. */
typedef struct pc_item pc_item;
int pc_get_item(pc_cache *c, const void *key, size_t nkey, pc_item *out);

/* pc_get_item for n keys at once, in one exchange with the store where the
** backend can (Redis: one round trip). rcs[i] is PC_OK with items[i]
** filled (release its value; its key points to keys[i]) or PC_NOTFOUND.
** With PC_ITEMS_NO_TTL the caller does not need ttl_ms and expires_at
** (they are left 0; Redis then sends no PTTL). Returns PC_OK, or an error
** for the whole call (nothing to release then). Counts n gets. */
#define PC_ITEMS_NO_TTL 0x01
int pc_get_items(pc_cache *c, size_t n, const void *const *keys,
                 const size_t *nkeys, int flags, pc_item *items, int *rcs);

/* Gets the value under key: PC_OK with *out filled (release it), or
** PC_NOTFOUND. Stored bytes that cannot be decoded are PC_NOTFOUND and
** count in the errors statistic. */
int pc_get(pc_cache *c, const void *key, size_t nkey, pc_value *out);

/* Stores a copy of v with ttl_ms (PC_TTL_DEFAULT, PC_TTL_NEVER or > 0).
** With PC_SET_NX: PC_EXISTS if a live entry is there. With PC_SET_XX:
** PC_NOTFOUND if none is. Nothing is stored on any error.
**
** on_error=fallback: when the store cannot be reached, reads report a miss
** (PC_NOTFOUND), delete/touch/incr PC_NOTFOUND, clear 0 entries, and
** pc_set PC_DROPPED (nothing stored, no error); each counts in the errors
** statistic. With on_error=raise they return PC_UNAVAILABLE. */
int pc_set(pc_cache *c, const void *key, size_t nkey, const pc_value *v,
           int64_t ttl_ms, int flags);

/* PC_OK if a live entry was removed, else PC_NOTFOUND. */
int pc_delete(pc_cache *c, const void *key, size_t nkey);

/* PC_OK if a live entry is there, else PC_NOTFOUND. */
int pc_has(pc_cache *c, const void *key, size_t nkey);

/* Remaining TTL in ms (PC_TTL_NEVER if none): PC_OK or PC_NOTFOUND. */
int pc_ttl(pc_cache *c, const void *key, size_t nkey, int64_t *ttl_ms);

/* Resets the TTL of a live entry: PC_OK or PC_NOTFOUND. */
int pc_touch(pc_cache *c, const void *key, size_t nkey, int64_t ttl_ms);

/* Adds delta to the INTEGER under key, atomically; an absent key starts at
** 0 and takes ttl_ms; a present one keeps its expiry. PC_MISMATCH if the
** stored value is not an INTEGER, PC_ERROR on overflow. */
int pc_incr(pc_cache *c, const void *key, size_t nkey, int64_t delta,
            int64_t ttl_ms, int64_t *result);

/* Removes every entry; *removed (may be NULL) gets how many were live. */
int pc_clear(pc_cache *c, int64_t *removed);

typedef struct pc_stats {
  int64_t entries, bytes;
  int64_t hits, misses, sets, deletes, evictions, expirations, errors;
} pc_stats;
/* The counters: entries and bytes from the backend (0 if it keeps none),
** the rest counted by the engine since the cache opened. PC_OK. */
int pc_get_stats(pc_cache *c, pc_stats *out);
/* cache_stats() as a JSON object text; pc_free() it. NULL on OOM. */
char *pc_stats_json(pc_cache *c);

/* ---- Iteration (the pcache virtual table) ---- */
typedef struct pc_iter pc_iter;
struct pc_item {
  const void *key; /* valid until the next pc_iter_next / pc_iter_close */
  size_t nkey;
  pc_value value;     /* release with pc_value_release, or hand on */
  int64_t ttl_ms;     /* remaining, or PC_TTL_NEVER */
  int64_t expires_at; /* Unix time in ms, or PC_TTL_NEVER */
  int64_t size;       /* bytes stored for the entry (key + encoded value) */
};

/* Iterates the live entries whose key starts with prefix (nprefix 0 for
** all); with nocase, ASCII letters of the prefix match either case. Entries
** written during the iteration may or may not be seen; none is torn. */
int pc_iter_open(pc_cache *c, const void *prefix, size_t nprefix, int nocase,
                 pc_iter **out);
/* PC_OK with *item filled, PC_DONE at the end, or an error. */
int pc_iter_next(pc_iter *it, pc_item *item);
/* Ends the iteration (any time); NULL is a no-op. */
void pc_iter_close(pc_iter *it);

/* ---- Single flight ----
**
** Concurrent computations of one key in one process run once. A caller that
** missed calls pc_flight_begin():
**   PC_OK      it leads (*out set): it computes, stores the result, then
**              calls pc_flight_end(*out), whatever the outcome;
**   PC_EXISTS  another thread led a flight for this key and ended it while
**              the caller waited: look the key up again (the leader may
**              have failed or stored nothing; then begin again);
**   PC_ERROR   waiting would never end: this thread leads that flight
**              already (its computation needs its own result), or the
**              flight's leader waits, directly or through other leaders,
**              for a flight this thread leads;
**   PC_NOMEM.
** A flight is of (cache, key): the same key in two caches is two flights.
*/
typedef struct pc_flight pc_flight;
int pc_flight_begin(pc_cache *c, const void *key, size_t nkey, pc_flight **out);
void pc_flight_end(pc_flight *f);
/* The largest value (encoded bytes) the cache takes: max_value_bytes. */
int64_t pc_cache_max_value_bytes(const pc_cache *c);
/* Whether the cache's serializer stores values of this type (PC_NULL ..
** PC_BLOB): the json serializer takes no BLOB. */
int pc_cache_stores_type(const pc_cache *c, int type);

/* What this build has, registered backends and serializers included, as
** a JSON object text (pc_free() it; NULL on OOM):
** {"version", "backends": [...], "serializers": [...], "cjson"}. */
char *pc_build_info(void);

/* ---- Process-wide settings ---- */
/*
** The allocator of the engine (default: malloc/realloc/free). Set it before
** the first cache is opened. The SQLite extension keeps malloc: SQLite's
** allocator takes a global mutex for its statistics on every call.
*/
typedef struct pc_allocator {
  void *(*malloc_fn)(size_t);
  void *(*realloc_fn)(void *, size_t);
  void (*free_fn)(void *);
} pc_allocator;
int pc_set_allocator(const pc_allocator *a);
void *pc_malloc(size_t n);
void pc_free(void *p);

/*
** The clock: monotonic milliseconds for in-process expiry and wall-clock
** milliseconds (Unix time) for what is shown or stored outside the
** process. Tests install their own to move time; NULL restores the system
** clock.
*/
typedef struct pc_clock {
  int64_t (*mono_ms)(void *ctx);
  int64_t (*wall_ms)(void *ctx);
  void *ctx;
} pc_clock;
void pc_set_clock(const pc_clock *clk);
int64_t pc_now_mono_ms(void);
int64_t pc_now_wall_ms(void);

/*
** JSON helpers, the writers the json serializer and cache_query use.
** pc_format_real: d with the fewest digits that read back to the same
** bits, always with a '.' or an exponent (so that it reads back as REAL);
** buf holds at least 40 bytes; returns the length. Not for NaN or
** infinities (JSON has neither). The text is NUL-terminated.
** pc_json_string: (s, n), which must be UTF-8, as a JSON string with its
** quotes, in a new buffer (*out, *nout; pc_free it). PC_OK or PC_NOMEM.
*/
size_t pc_format_real(double d, char *buf, size_t nbuf);
int pc_json_string(const void *s, size_t n, char **out, size_t *nout);

/*
** ==== The backend interface ====
** Every backend (memory, filesystem, redis, and any registered with
** pc_register_backend) is a pc_backend_methods. A backend sees bytes and
** absolute expiries only: serialization, TTL rules, statistics of hits
** and misses, and the memory tier live in the engine. Return codes are
** the PC_* codes (a registered backend returns them; the engine words
** the messages).
*/
/* ---- Bytes handed out by a backend ---- */
/*
** A borrowed view of stored bytes. free_fn (may be NULL for bytes that need
** no release) must be called once with p; p is never NULL, even when n is 0.
*/
typedef struct pc_buf {
  const unsigned char *p;
  size_t n;
  void (*free_fn)(void *);
} pc_buf;

static inline void pc__buf_release(pc_buf *b) {
  if (b->free_fn) b->free_fn((void *)b->p);
  b->free_fn = 0;
}

/* ---- Backend interface ---- */
#define PC_EXPIRES_NEVER                                                       \
  INT64_MAX /* absolute expiry of an entry that lives                          \
               until removed */
/* The `now` of every method but scan_open may be PC_NOW_LAZY: the engine
** needed no time itself, and the backend reads its clock only if an entry
** it meets has an expiry (a clock read costs as much as the rest of a
** memory get). */
#define PC_NOW_LAZY INT64_MIN

/* Integer codec handed to a backend's incr: the engine's encoding. */
typedef struct pc_int_codec {
  /* PC_OK and *out, or PC_MISMATCH when the bytes are not an integer. */
  int (*decode)(const unsigned char *p, size_t n, int64_t *out);
  /* Writes the encoding into buf (PC_INT_ENCODED_MAX bytes); returns its
  ** length. */
  size_t (*encode)(int64_t v, unsigned char *buf);
  /* The layout, for a backend that adds on the server (redis): */
  int layout;
} pc_int_codec;
#define PC_INT_LE64                                                            \
  1                      /* 8 bytes little-endian two's complement, then the   \
                            fixed suffix encode() writes after them */
#define PC_INT_DECIMAL 2 /* canonical decimal text, as Redis INCRBY reads */
#define PC_INT_ENCODED_MAX 32

typedef struct pc_backend_item {
  const void *key; /* valid until the next scan_next / scan_close */
  size_t nkey;
  pc_buf val; /* the caller releases it */
  int64_t expires;
} pc_backend_item;

/* The validated configuration of a cache, opaque. */
typedef struct pc_config pc_config;
/* For a registered backend's open(): the text of the `options` key, or
** NULL; valid during open() (copy what you keep). */
const char *pc_config_options(const pc_config *cfg);

typedef struct pc_backend_methods {
  const char *name;
  bool wall_clock; /* expiries are wall time (else monotonic) */

  /* Opens a store for cfg; PC_OK and *pb, or an error with the message in
  ** the thread's error buffer. */
  int (*open)(const pc_config *cfg, void **pb);
  void (*close)(void *b);

  /* Live entry under key at time now: PC_OK with *val (and *expires when
  ** not NULL), or PC_NOTFOUND. */
  int (*get)(void *b, const void *key, size_t nkey, int64_t now, pc_buf *val,
             int64_t *expires);
  /* Stores (key, val) with an absolute expiry; flags PC_SET_NX / XX /
  ** KEEPTTL. PC_OK, PC_EXISTS (NX), PC_NOTFOUND (XX), or an error. */
  int (*set)(void *b, const void *key, size_t nkey, const void *val,
             size_t nval, int64_t expires, int flags, int64_t now);
  /* PC_OK if a live entry was removed, else PC_NOTFOUND. */
  int (*del)(void *b, const void *key, size_t nkey, int64_t now);
  /* Removes all; *removed = live entries removed. */
  int (*clear)(void *b, int64_t now, int64_t *removed);

  /* Optional (NULL when the backend cannot): */
  /* get for n keys in one exchange: rcs[i] is PC_OK (vals[i], and
  ** expires[i] unless expires is NULL) or PC_NOTFOUND. PC_OK, or an error
  ** with nothing to release. */
  int (*get_many)(void *b, size_t n, const void *const *keys,
                  const size_t *nkeys, int64_t now, pc_buf *vals,
                  int64_t *expires, int *rcs);
  /* Sets a live entry's expiry: PC_OK or PC_NOTFOUND. */
  int (*touch)(void *b, const void *key, size_t nkey, int64_t expires,
               int64_t now);
  /* Atomic add: an absent key starts at 0 with `expires`. */
  int (*incr)(void *b, const void *key, size_t nkey, int64_t delta,
              int64_t expires, int64_t now, const pc_int_codec *codec,
              int64_t *result);
  /* Iterates live entries with the key prefix (nocase: ASCII letters of the
  ** prefix match either case). */
  int (*scan_open)(void *b, const void *prefix, size_t nprefix, int nocase,
                   int64_t now, void **pit);
  int (*scan_next)(void *it, pc_backend_item *item); /* PC_OK or PC_DONE */
  void (*scan_close)(void *it);
  /* Counters the backend keeps: entries, bytes, evictions, expirations. */
  void (*stats)(void *b, pc_stats *out);
  /* A number that changes whenever any connection of any process commits
  ** a change to the store, cheap enough to read before every get: a memory
  ** tier in front of the store (local_max_bytes) is dropped when it moves.
  ** NULL: the backend cannot have a memory tier. */
  int (*version)(void *b, uint64_t *out);
  /* Optional, for a store other processes change without a version a
  ** reader can poll (Redis): after watch(b, fn, arg) the backend calls
  ** fn(arg, key, nkey) from a thread of its own as soon as it learns that
  ** key may have changed. Until close() returns. Such a backend's version()
  ** is 0 while it cannot learn of changes (the memory tier is then
  ** bypassed), and moves when it may have missed some (the tier is then
  ** dropped). */
  int (*watch)(void *b, void (*fn)(void *arg, const void *key, size_t nkey),
               void *arg);
} pc_backend_methods;

/*
** Registers a backend under m->name (1 to 15 of a-z, 0-9, _; not a
** built-in one nor one registered), for `backend=<name>` in any
** configuration, SQL included. The struct is copied; registration lasts
** for the process. Required: open, close, get, set, del, clear. The
** optional ones may be NULL: a missing get_many is a get per key, a
** missing touch, incr or scan is an error that says the backend does not
** support it; stats NULL means no counters of entries and bytes;
** version and watch must be NULL (they serve the memory tier, which a
** registered backend does not have). A registered backend's configuration
** takes the engine's keys (default_ttl, serializer, max_key_bytes,
** max_value_bytes, on_error) and `options`, text handed to open() as it
** is (pc_config_options), for the backend's own settings; other backends'
** keys and local_max_bytes are refused.
**   - Failures are return codes; the engine words the message ("backend
**     <name>: set failed (code 3)", "backend <name> could not open the
**     cache"). PC_UNAVAILABLE means the store cannot be reached: on_error
**     decides (fallback: a miss, or a set not stored; raise: an error).
**   - Methods are called from any thread, concurrently (async workers
**     included); close() from whichever thread drops the last reference.
**   - open() and close() run under the registry's lock: they must not call
**     pc_cache_open, pc_cache_find, pc_cache_close or pc_cache_names.
**   - After open() fails, close() is not called: free what open() made.
*/
int pc_register_backend(const pc_backend_methods *m);

/*
** Custom serializers: how values become stored bytes, registered by name
** for `serializer=<name>` (SQL configuration included).
**   encode: PC_OK with *out, a buffer from malloc() (the engine frees it),
**           and *nout; or an error code: the set fails with PC_NOMEM or
**           PC_TOOBIG as returned, else PC_ERROR. After an error *out is
**           ignored (free what you allocated).
**   decode: PC_OK with *v; a TEXT or BLOB value's bytes in a buffer that
**           v->free_fn releases (e.g. malloc() and free). Bytes it cannot
**           decode: any error code (the engine counts a miss and an
**           error, never a failure of the get); *v is then ignored.
** The engine checks a value before encode sees it (a known type; TEXT and
** BLOB with bytes).
** Both are called from any thread, concurrently. The name (1 to 15 of
** a-z, 0-9, _) must not be taken; registration is for the life of the
** process, and the methods struct is copied. A cache with a custom
** serializer cannot incr (PC_UNSUPPORTED): the backends add to integers
** in a format they know.
*/
typedef struct pc_serializer_methods {
  const char *name;
  int (*encode)(void *ctx, const pc_value *v, unsigned char **out,
                size_t *nout);
  int (*decode)(void *ctx, const unsigned char *p, size_t n, pc_value *v);
  void *ctx;
} pc_serializer_methods;
int pc_register_serializer(const pc_serializer_methods *m);

/*
** Asynchronous get, set and delete (core/pc_async.c): each returns at
** once; its callback runs later on one of a few worker threads, with the
** outcome of pc_get / pc_set / pc_delete (rc PC_OK, PC_NOTFOUND, PC_EXISTS
** for a set with PC_SET_NX, or an error with errmsg), or PC_CANCELLED if
** the cache was closed (pc_cache_close) before a worker reached it.
**   - PC_OK from a submission: the callback will run exactly once. An
**     error: nothing was queued and no callback runs.
**   - The key and a set's value are copied at submission; the cache is
**     held until the callback has returned.
**   - r->value (a get's PC_OK) and r->errmsg are valid during the callback
**     only: copy what you keep.
**   - Operations start in the order they were submitted; with several
**     workers, they may finish in another order.
**   - Callbacks must not block: they run on the pool's few threads.
**     pc_async_wait from a callback is an error.
**   - fork() waits for the operations running at that moment to finish (a
**     worker inside one may hold a lock of the engine); the child starts
**     with no workers and none of its parent's operations. Do not fork
**     from a callback but to exec.
** pc_async_wait() returns PC_OK once every operation submitted before the
** call has had its callback, or PC_ERROR after timeout_ms (>= 0).
*/
typedef struct pc_async_result {
  int rc;
  pc_value value;     /* get, rc PC_OK */
  const char *errmsg; /* rc an error or PC_CANCELLED; else NULL */
} pc_async_result;
typedef void (*pc_async_cb)(void *arg, const pc_async_result *r);
int pc_get_async(pc_cache *c, const void *key, size_t nkey, pc_async_cb cb,
                 void *arg);
int pc_set_async(pc_cache *c, const void *key, size_t nkey, const pc_value *v,
                 int64_t ttl_ms, int flags, pc_async_cb cb, void *arg);
int pc_delete_async(pc_cache *c, const void *key, size_t nkey, pc_async_cb cb,
                    void *arg);
int pc_async_wait(int timeout_ms);

/*
** The SQL surface, for programs that link the library (libpocketcache)
** rather than load the extension: registers the functions and virtual
** tables on a connection, as `.load pocketcache` does. To have it on
** every connection the program opens:
**
**   sqlite3_auto_extension((void (*)(void))sqlite3_pocketcache_init);
**
** Its types are SQLite's, declared here only by name.
*/
struct sqlite3;
struct sqlite3_api_routines;
int sqlite3_pocketcache_init(struct sqlite3 *db, char **pzErrMsg,
                             const struct sqlite3_api_routines *pApi);

#ifdef __cplusplus
}
#endif
#endif /* POCKETCACHE_H */
