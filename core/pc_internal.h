/*
** pc_internal.h: what the files of core/ share and nothing outside core/
** includes: the backend interface, the codecs, the configuration, the
** allocator and error helpers.
**
** A backend stores bytes: a key, an already-encoded value and an absolute
** expiry in milliseconds on the clock the backend names (monotonic for
** in-process memory, wall time for what outlives the process). Encoding,
** TTL rules, statistics and tiers live once, in pc_cache.c.
*/
#ifndef PC_INTERNAL_H
#define PC_INTERNAL_H

#include "pocketcache.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

/* ---- Allocation and errors ---- */
void *pc__malloc(size_t n); /* the engine allocator; NULL on failure */
void *pc__realloc(void *p, size_t n);
void pc__free(void *p);
/* Registered backends and serializers: a name is 1 to 15 of a-z, 0-9 and
** _ (PC_OK, or PC_ERROR worded "<kind> name ..."). */
#define PC_REG_NAME_MAX 15
int pc__check_reg_name(const char *kind, const char *name);
/* Whether (z, n) is the lowercase word, in any case of ASCII letters (a
** name in a configuration, a unit, a URL scheme). */
int pc__word_eq(const char *word, const char *z, size_t n);
/* The time ms milliseconds from now on clock, for a timed wait. */
void pc__deadline(clockid_t clock, int64_t ms, struct timespec *out);
/* The registered backend name equal to (z, n), or NULL (pc_cache.c). */
const char *pc__backend_custom_name(const char *z, size_t n);
/* Whether pc_cache_close has taken c out of the registry. */
int pc__cache_closed(const pc_cache *c);
char *pc__strdup(const char *z);

/* The TTL rule of SPEC §3, as every "bad ttl" message words it. */
#define PC_TTL_RULE "ttl must be a positive number of seconds, -1 or NULL"

/* Formats a message into the calling thread's error buffer (pc_errmsg). */
int pc__error(int rc, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
const char *pc__errbuf(void);

/* Counts the fork()s this process descends through (0 in the first one):
** a backend whose connections carry an older generation is in a child and
** must not use them. */
unsigned pc__fork_gen(void);

/* A monotonic time in ms not before pc_now_mono_ms(), and cheaper to read
** (the system's coarse clock and its resolution; an installed clock as it
** is): an expiry later than it has not passed. */
int64_t pc__now_mono_late_ms(void);

/* The absolute expiry ms >= 0 after now, saturating just below
** PC_EXPIRES_NEVER (which means no expiry) instead of overflowing. */
static inline int64_t pc__expiry_after(int64_t now, int64_t ms) {
  return now > PC_EXPIRES_NEVER - 1 - ms ? PC_EXPIRES_NEVER - 1 : now + ms;
}

/* Epoch-based reclamation (pc_ebr.c): a reader that takes no lock runs
** between pc__ebr_enter() (NULL: no record could be allocated; take the
** lock instead) and pc__ebr_exit(); a writer tags what it unlinked with
** pc__ebr_tag() and frees it once pc__ebr_safe(tag) says no reader can
** still see it. */
typedef struct pc_ebr_rec pc_ebr_rec;
pc_ebr_rec *pc__ebr_enter(void);
void pc__ebr_exit(pc_ebr_rec *r);
uint32_t pc__ebr_tag(void); /* the low 32 bits of the epoch */
bool pc__ebr_safe(uint32_t tag);

/* pc__hash(key, nkey): a seeded 64-bit hash of key bytes under per-process
** random secrets, so that keys chosen from outside cannot force collisions
** (pc_hash.h, pc_hash.c). */
#include "pc_hash.h"

/* pc_buf, pc_int_codec, pc_backend_item and pc_backend_methods: the
** backend interface, public in pocketcache.h. */

extern const pc_backend_methods pc__memory_backend;
extern const pc_backend_methods pc__filesystem_backend; /* pc_fs.c */
extern const pc_backend_methods pc__redis_backend;      /* pc_redis.c */
/* 1: a memory tier over a filesystem store reads the mapped WAL-index
** header; 0: the PRAGMA data_version fallback for a VFS without one (tests
** set it, before opening, to cover that path). */
extern int pc__fs_map_wal_index;
/* The version of hiredis compiled in (pc_redis.c owns hiredis). */
const char *pc__hiredis_version(void);

/* ---- Serializers ---- */
/*
** A serializer turns a pc_value into bytes and back.
** encode: writes the encoding of v and sets (*out, *nout) to it: into
** scratch when it fits in nscratch bytes (scratch may be NULL), else into
** a buffer from pc__malloc that the caller frees (when *out != scratch).
** PC_ERROR with a message (without the function name) for a value the
** format cannot hold; nothing to free then.
** decode: fills *v from (p, n). The decoded value may point into p: then it
** takes over `release` (the buffer's release function, to be called with
** p) and sets v->free_fn so that releasing v releases the buffer; when it
** does not point into p it leaves *release untouched. Bytes that are not a
** valid encoding are PC_ERROR (the engine counts a miss and an error).
*/
typedef struct pc_serializer {
  const char *name;
  int (*encode)(const pc_value *v, unsigned char *scratch, size_t nscratch,
                unsigned char **out, size_t *nout);
  int (*decode)(const unsigned char *p, size_t n, pc_value *v,
                void (**release)(void *));
  const pc_int_codec *ints;
  const pc_serializer_methods *custom; /* a registered one: its methods */
} pc_serializer;

extern const pc_serializer pc__native_serializer;
extern const pc_serializer pc__json_serializer;
const pc_serializer *pc__serializer_find(const char *name);
/* The registered serializers' names, each as ,"name", into out. */
void pc__serializer_names(char *out, size_t nout);
/* The registered name equal to (z, n), or NULL. */
const char *pc__serializer_custom_name(const char *z, size_t n);
int pc__custom_encode(const pc_serializer *s, const pc_value *v,
                      unsigned char *scratch, size_t nscratch,
                      unsigned char **out, size_t *nout);
int pc__custom_decode(const pc_serializer *s, const unsigned char *p, size_t n,
                      pc_value *v);

/* Encoding and decoding through a serializer, built-in or registered. */
static inline int pc__ser_encode(const pc_serializer *s, const pc_value *v,
                                 unsigned char *scratch, size_t nscratch,
                                 unsigned char **out, size_t *nout) {
  if (s->custom) return pc__custom_encode(s, v, scratch, nscratch, out, nout);
  return s->encode(v, scratch, nscratch, out, nout);
}
static inline int pc__ser_decode(const pc_serializer *s, const unsigned char *p,
                                 size_t n, pc_value *v,
                                 void (**release)(void *)) {
  if (s->custom) return pc__custom_decode(s, p, n, v);
  return s->decode(p, n, v, release);
}

/* The native format: the payload, then a trailer of the magic byte and
** version << 4 | type tag; TEXT without a NUL byte in it has version 2,
** whose trailer starts with 0 instead of the magic, so that the stored text
** is NUL-terminated and SQLite can take it without a copy. The engine
** decodes stored TEXT and BLOB (what a get returns most) inline with
** pc__native_bytes(); the rest goes through decode. */
#define PC_NATIVE_MAGIC 0x50
#define PC_NATIVE_VERSION 1
#define PC_NATIVE_VERSION_Z 2 /* TEXT, NUL-terminated, no NUL inside */
#define PC_NATIVE_JSON_TEXT 5 /* type tag of TEXT with is_json */
#define PC_NATIVE_TRAILER 2
#define PC_NATIVE_Z 0x100 /* or-ed into pc__native_bytes()'s PC_TEXT */

/* PC_TEXT or PC_BLOB when (p, n) is the native encoding of plain TEXT or of
** a BLOB (the payload is then the first n - PC_NATIVE_TRAILER bytes), with
** PC_NATIVE_Z when it claims to be version 2 TEXT (the caller checks the
** claim of no NUL inside where the bytes may not be its own), else 0. */
static inline int pc__native_bytes(const unsigned char *p, size_t n) {
  if (n < PC_NATIVE_TRAILER) return 0;
  unsigned magic = p[n - 2], tag = p[n - 1];
  if (magic == 0)
    return tag == (PC_NATIVE_VERSION_Z << 4 | PC_TEXT) ? PC_TEXT | PC_NATIVE_Z
                                                       : 0;
  if (magic != PC_NATIVE_MAGIC) return 0;
  return tag == (PC_NATIVE_VERSION << 4 | PC_TEXT)   ? PC_TEXT
         : tag == (PC_NATIVE_VERSION << 4 | PC_BLOB) ? PC_BLOB
                                                     : 0;
}

/* Whether (p, n), of kind t (pc__native_bytes), claims no NUL inside its
** TEXT and has one: undecodable. */
static inline bool pc__native_z_lie(const unsigned char *p, size_t n, int t) {
  return (t & PC_NATIVE_Z) && memchr(p, 0, n - PC_NATIVE_TRAILER) != NULL;
}

/* ---- Configuration ---- */
#define PC_SYNC_OFF 0
#define PC_SYNC_NORMAL 1
#define PC_SYNC_FULL 2
#define PC_ON_ERROR_FALLBACK 0
#define PC_ON_ERROR_RAISE 1

/*
** One configuration, filled from JSON or key=value and validated
** all-or-nothing. `set_mask` records which keys were given explicitly, so
** that a backend-specific key given for another backend is an error.
*/
struct pc_config {
  char backend[32];
  int64_t default_ttl_ms; /* PC_TTL_NEVER when NULL/absent */
  int64_t max_entries;    /* 0 = unbounded */
  int64_t max_bytes;      /* keys + encoded values */
  char eviction[16];
  char serializer[16];
  int64_t max_key_bytes, max_value_bytes;
  char *cache_dir; /* pc__free */
  bool create_dir;
  int dir_mode, file_mode;
  int synchronous;
  char *url;    /* pc__free; may hold a password: never print it */
  char *prefix; /* pc__free */
  int64_t connect_timeout_ms, timeout_ms;
  int on_error;
  int64_t local_max_bytes;
  char *options;     /* pc__free; a registered backend's own settings */
  uint32_t set_mask; /* 1 << PC_KEY_xxx for each key given */
};

/* Index of each key in the table of pc_config.c (order of SPEC §2). */
enum {
  PC_KEY_BACKEND,
  PC_KEY_DEFAULT_TTL,
  PC_KEY_MAX_ENTRIES,
  PC_KEY_MAX_BYTES,
  PC_KEY_EVICTION,
  PC_KEY_SERIALIZER,
  PC_KEY_MAX_KEY_BYTES,
  PC_KEY_MAX_VALUE_BYTES,
  PC_KEY_CACHE_DIR,
  PC_KEY_CREATE_DIR,
  PC_KEY_DIR_MODE,
  PC_KEY_FILE_MODE,
  PC_KEY_SYNCHRONOUS,
  PC_KEY_URL,
  PC_KEY_PREFIX,
  PC_KEY_CONNECT_TIMEOUT_MS,
  PC_KEY_TIMEOUT_MS,
  PC_KEY_ON_ERROR,
  PC_KEY_LOCAL_MAX_BYTES,
  PC_KEY_OPTIONS,
  PC_KEY_COUNT
};

/* Defaults for a memory cache. */
void pc__config_init(pc_config *cfg);
/* Frees what the config owns (not cfg itself); safe twice. */
void pc__config_free(pc_config *cfg);
/* Fill from JSON text / key=value arguments. On error: PC_ERROR or
** PC_NOMEM, message in the thread's error buffer naming the key, and cfg
** holds its defaults (nothing half-applied). */
int pc__config_from_json(pc_config *cfg, const char *json, size_t njson);
int pc__config_from_kv(pc_config *cfg, int argc, const char *const *argv);
/* Checks keys against the backend, applies the backend's defaults. */
int pc__config_validate(pc_config *cfg);
/* Canonical JSON text (pc__malloc'd), the URL's password masked. */
char *pc__config_to_json(const pc_config *cfg);
/* NULL if equal, else the name of the first key that differs. */
const char *pc__config_diff(const pc_config *a, const pc_config *b);
/* The version of the cJSON library linked in (pc_config.c owns cJSON). */
const char *pc__cjson_version(void);

/* A redis URL taken apart; the text fields point into the URL. */
typedef struct pc_url {
  bool is_unix;
  const char *host; /* TCP: the host (an IPv6 address without brackets) */
  size_t nhost;
  int port;         /* 6379 unless given */
  const char *path; /* unix: the socket path */
  size_t npath;
  const char *user; /* percent-encoded as written; nuser 0 = none */
  size_t nuser;
  const char *pass; /* percent-encoded; has_pass false = none */
  size_t npass;
  bool has_pass;
  int db; /* 0 unless given */
} pc_url;
/* NULL and *out, or what is wrong with u (never quoting any of it). */
const char *pc__url_parse(const char *u, pc_url *out);

/* Parses "512", "64KB", "16MB", "1GB" (1024-based; also KiB/MiB/GiB, B). */
int pc__parse_size(const char *z, size_t n, int64_t *out);

#endif /* PC_INTERNAL_H */
