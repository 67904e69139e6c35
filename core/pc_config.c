/*
** pc_config.c: the configuration of a cache (SPEC §2): its defaults, the
** two parsers (a JSON object for cache_open and pc_cache_open, key=value
** arguments for CREATE VIRTUAL TABLE ... USING pcache(...)), the checks
** against the chosen backend, the canonical JSON form and the comparison
** of two configurations.
**
** How it works
**   - One table, g_keys, describes every key once: its name, its PC_KEY_*
**     index, its kind (how a value is read and printed), where it lives in
**     struct pc_config, its bounds and messages, and the backends that use
**     it. Both parsers, the validation, the JSON output and the comparison
**     walk that table; nothing about a key is written twice.
**   - Both parsers turn each value into a cfg_val (null, text, number or
**     boolean) and hand it to one function, apply_value, so JSON and
**     key=value accept the same things and fail with the same messages.
**   - Parsing is all-or-nothing: keys are applied to a scratch configuration
**     that replaces the caller's only when every key was good.
**   - A redis URL may hold a password. No message ever quotes the URL, a
**     value that holds '@' (it may be a URL with credentials put under the
**     wrong key) is never quoted either, and the JSON form masks the
**     password as "***".
*/
#include "pc_internal.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- The table of keys ---- */

/* The backends a key applies to. BE_OTHER is any backend registered through
** the C API: it uses only the keys that apply to every backend. */
#define BE_MEMORY 0x1u
#define BE_FILESYSTEM 0x2u
#define BE_REDIS 0x4u
#define BE_OTHER 0x8u
#define BE_ALL 0xFu

typedef enum key_kind {
  K_NAME,   /* a name from a set, kept in a char array (backend, eviction) */
  K_ENUM,   /* one of `words`, kept as its index in an int */
  K_SIZE,   /* bytes as an int64_t: a count, or text such as "64KB" */
  K_INT,    /* an int64_t */
  K_TTL,    /* seconds in, milliseconds kept; NULL = PC_TTL_NEVER */
  K_BOOL,   /* a bool */
  K_MODE,   /* permission bits in an int, written as octal digits */
  K_STRING, /* owned text (pc__free), NULL when absent */
  K_PATH,   /* owned text: a filesystem path */
  K_URL     /* owned text: a redis URL, which may hold a password */
} key_kind;

typedef struct key_def {
  const char *name;
  int id; /* PC_KEY_*, equal to the index in g_keys */
  key_kind kind;
  unsigned backends;        /* BE_* bits */
  size_t off, size;         /* the field in struct pc_config */
  int64_t min, max;         /* K_SIZE, K_INT */
  const char *const *words; /* K_ENUM: the accepted words, NULL-terminated */
  /* K_NAME: the canonical spelling of a known name, or NULL. */
  const char *(*known)(const char *z, size_t n);
  const char *rule; /* what a good value is: "<key>: <rule>" */
  /* When set, a bad text value is quoted: "<key>: <pre>'value'<post>". */
  const char *bad_pre, *bad_post;
} key_def;

#define AT(m) .off = offsetof(pc_config, m), .size = sizeof(((pc_config *)0)->m)
#define GIB (INT64_C(1) << 30)
#define PATH_MAX_BYTES 4095
#define SIZE_HELP "(use 512, 64KB, 16MB, 1GB)"

static const char *backend_known(const char *z, size_t n);
static const char *eviction_known(const char *z, size_t n);
/* The policies, as eviction_known() lists them, for the messages. */
#define EVICTION_NAMES "s3fifo, sieve, lru"
static const char *serializer_known(const char *z, size_t n);

static const char *const g_sync_words[] = {"off", "normal", "full", NULL};
static const char *const g_on_error_words[] = {"fallback", "raise", NULL};

_Static_assert(PC_SYNC_OFF == 0 && PC_SYNC_NORMAL == 1 && PC_SYNC_FULL == 2,
               "g_sync_words is indexed by PC_SYNC_*");
_Static_assert(PC_ON_ERROR_FALLBACK == 0 && PC_ON_ERROR_RAISE == 1,
               "g_on_error_words is indexed by PC_ON_ERROR_*");
_Static_assert(PC_KEY_COUNT <= 32, "set_mask has 32 bits");

static const key_def g_keys[PC_KEY_COUNT] = {
    [PC_KEY_BACKEND] = {.name = "backend",
                        .id = PC_KEY_BACKEND,
                        .kind = K_NAME,
                        .backends = BE_ALL,
                        AT(backend),
                        .known = backend_known,
                        .rule = "must be memory, filesystem, redis or a "
                                "registered backend",
                        .bad_pre = "unknown backend ",
                        .bad_post = ""},
    [PC_KEY_DEFAULT_TTL] = {.name = "default_ttl",
                            .id = PC_KEY_DEFAULT_TTL,
                            .kind = K_TTL,
                            .backends = BE_ALL,
                            AT(default_ttl_ms),
                            .rule = PC_TTL_RULE},
    [PC_KEY_MAX_ENTRIES] = {.name = "max_entries",
                            .id = PC_KEY_MAX_ENTRIES,
                            .kind = K_INT,
                            .backends = BE_MEMORY | BE_FILESYSTEM,
                            AT(max_entries),
                            .min = 0,
                            .max = INT64_MAX,
                            .rule = "must be an integer >= 0 (0 = unbounded)"},
    [PC_KEY_MAX_BYTES] = {.name = "max_bytes",
                          .id = PC_KEY_MAX_BYTES,
                          .kind = K_SIZE,
                          .backends = BE_MEMORY | BE_FILESYSTEM,
                          AT(max_bytes),
                          .min = 1,
                          .max = INT64_MAX,
                          .rule =
                              "must be a size of at least 1 byte " SIZE_HELP,
                          .bad_pre = "",
                          .bad_post = " is not a size " SIZE_HELP},
    [PC_KEY_EVICTION] = {.name = "eviction",
                         .id = PC_KEY_EVICTION,
                         .kind = K_NAME,
                         .backends = BE_MEMORY | BE_FILESYSTEM,
                         AT(eviction),
                         .known = eviction_known,
                         .rule = "must be a policy name (" EVICTION_NAMES ")",
                         .bad_pre = "unknown policy ",
                         .bad_post = " (available: " EVICTION_NAMES ")"},
    [PC_KEY_SERIALIZER] = {.name = "serializer",
                           .id = PC_KEY_SERIALIZER,
                           .kind = K_NAME,
                           .backends = BE_ALL,
                           AT(serializer),
                           .known = serializer_known,
                           .rule = "must be native or json"},
    [PC_KEY_MAX_KEY_BYTES] = {.name = "max_key_bytes",
                              .id = PC_KEY_MAX_KEY_BYTES,
                              .kind = K_SIZE,
                              .backends = BE_ALL,
                              AT(max_key_bytes),
                              .min = 1,
                              .max = GIB,
                              .rule = "must be a size from 1 byte to 1GiB",
                              .bad_pre = "",
                              .bad_post = " is not a size " SIZE_HELP},
    [PC_KEY_MAX_VALUE_BYTES] = {.name = "max_value_bytes",
                                .id = PC_KEY_MAX_VALUE_BYTES,
                                .kind = K_SIZE,
                                .backends = BE_ALL,
                                AT(max_value_bytes),
                                .min = 1,
                                .max = GIB,
                                .rule = "must be a size from 1 byte to 1GiB",
                                .bad_pre = "",
                                .bad_post = " is not a size " SIZE_HELP},
    [PC_KEY_CACHE_DIR] = {.name = "cache_dir",
                          .id = PC_KEY_CACHE_DIR,
                          .kind = K_PATH,
                          .backends = BE_FILESYSTEM,
                          AT(cache_dir),
                          .rule = "must be a directory path"},
    [PC_KEY_CREATE_DIR] =
        {.name = "create_dir",
         .id = PC_KEY_CREATE_DIR,
         .kind = K_BOOL,
         .backends = BE_FILESYSTEM,
         AT(create_dir),
         .rule = "must be true or false (or 1/0, yes/no, on/off)"},
    [PC_KEY_DIR_MODE] = {.name = "dir_mode",
                         .id = PC_KEY_DIR_MODE,
                         .kind = K_MODE,
                         .backends = BE_FILESYSTEM,
                         AT(dir_mode),
                         .rule = "must be an octal mode such as 0700",
                         .bad_pre = "",
                         .bad_post = " is not an octal mode"},
    [PC_KEY_FILE_MODE] = {.name = "file_mode",
                          .id = PC_KEY_FILE_MODE,
                          .kind = K_MODE,
                          .backends = BE_FILESYSTEM,
                          AT(file_mode),
                          .rule = "must be an octal mode such as 0600",
                          .bad_pre = "",
                          .bad_post = " is not an octal mode"},
    [PC_KEY_SYNCHRONOUS] = {.name = "synchronous",
                            .id = PC_KEY_SYNCHRONOUS,
                            .kind = K_ENUM,
                            .backends = BE_FILESYSTEM,
                            AT(synchronous),
                            .words = g_sync_words,
                            .rule = "must be off, normal or full"},
    [PC_KEY_URL] = {.name = "url",
                    .id = PC_KEY_URL,
                    .kind = K_URL,
                    .backends = BE_REDIS,
                    AT(url),
                    .rule = "must be a redis:// or unix:// URL"},
    [PC_KEY_PREFIX] = {.name = "prefix",
                       .id = PC_KEY_PREFIX,
                       .kind = K_STRING,
                       .backends = BE_REDIS,
                       AT(prefix),
                       .rule = "must be text"},
    [PC_KEY_CONNECT_TIMEOUT_MS] = {.name = "connect_timeout_ms",
                                   .id = PC_KEY_CONNECT_TIMEOUT_MS,
                                   .kind = K_INT,
                                   .backends = BE_REDIS,
                                   AT(connect_timeout_ms),
                                   .min = 1,
                                   .max = INT32_MAX,
                                   .rule = "must be a positive integer"},
    [PC_KEY_TIMEOUT_MS] = {.name = "timeout_ms",
                           .id = PC_KEY_TIMEOUT_MS,
                           .kind = K_INT,
                           .backends = BE_REDIS,
                           AT(timeout_ms),
                           .min = 1,
                           .max = INT32_MAX,
                           .rule = "must be a positive integer"},
    [PC_KEY_ON_ERROR] = {.name = "on_error",
                         .id = PC_KEY_ON_ERROR,
                         .kind = K_ENUM,
                         .backends = BE_REDIS | BE_OTHER,
                         AT(on_error),
                         .words = g_on_error_words,
                         .rule = "must be fallback or raise"},
    [PC_KEY_LOCAL_MAX_BYTES] = {.name = "local_max_bytes",
                                .id = PC_KEY_LOCAL_MAX_BYTES,
                                .kind = K_SIZE,
                                .backends = BE_FILESYSTEM | BE_REDIS,
                                AT(local_max_bytes),
                                .min = 0,
                                .max = INT64_MAX,
                                .rule = "must be a size (use 0, 64KB, 16MB, "
                                        "1GB)",
                                .bad_pre = "",
                                .bad_post = " is not a size " SIZE_HELP},
    [PC_KEY_OPTIONS] = {.name = "options",
                        .id = PC_KEY_OPTIONS,
                        .kind = K_STRING,
                        .backends = BE_OTHER,
                        AT(options),
                        .rule = "must be text (the registered backend's own "
                                "settings)"},
};

/* ---- Small text helpers ---- */

static bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
         c == '\v';
}
static bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
static char lower(char c) {
  return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

/* The index of (z, n) in the NULL-terminated lowercase words, ignoring ASCII
** case, or -1. */
static int word_index(const char *const *words, const char *z, size_t n) {
  for (int i = 0; words[i]; i++)
    if (pc__word_eq(words[i], z, n)) return i;
  return -1;
}

/* Removes the whitespace around (*z, *n). */
static void trim(const char **z, size_t *n) {
  while (*n > 0 && is_space(**z))
    (*z)++, (*n)--;
  while (*n > 0 && is_space((*z)[*n - 1]))
    (*n)--;
}

/* A copy of (z, n) from pc__malloc, NUL-terminated; NULL on OOM. */
static char *dup_n(const char *z, size_t n) {
  char *p = pc__malloc(n + 1);
  if (p) {
    memcpy(p, z, n);
    p[n] = 0;
  }
  return p;
}

/*
** Writes (z, n) quoted for a message into out (at least 64 bytes) and
** returns out: at most 40 bytes of it, control bytes as '?'. Text holding
** '@' is not shown at all: it may be a URL with a password, put under the
** wrong key or without its '='.
*/
static const char *show(char *out, const char *z, size_t n) {
  if (memchr(z, '@', n)) return "(value not shown)";
  size_t m = n > 40 ? 40 : n, j = 0;
  out[j++] = '\'';
  for (size_t i = 0; i < m; i++)
    out[j++] = (unsigned char)z[i] < 0x20 || z[i] == 0x7f ? '?' : z[i];
  if (m < n) memcpy(out + j, "...", 3), j += 3;
  out[j++] = '\'';
  out[j] = 0;
  return out;
}

/* ---- Names: the one place that knows which names exist ---- */

/* The canonical spelling of a known backend name, or NULL. More backends
** can be registered through the C API later: this is where they are
** looked up. */
static const char *backend_known(const char *z, size_t n) {
  static const char *const names[] = {"memory", "filesystem", "redis", NULL};
  int i = word_index(names, z, n);
  return i < 0 ? pc__backend_custom_name(z, n) : names[i];
}

/* The canonical spelling of an eviction policy, or NULL. */
static const char *eviction_known(const char *z, size_t n) {
  static const char *const names[] = {"s3fifo", "sieve", "lru", NULL};
  int i = word_index(names, z, n);
  return i < 0 ? NULL : names[i];
}

/* The canonical spelling of a serializer name, or NULL. */
static const char *serializer_known(const char *z, size_t n) {
  static const char *const names[] = {"native", "json", NULL};
  int i = word_index(names, z, n);
  return i < 0 ? pc__serializer_custom_name(z, n) : names[i];
}

/* The BE_* bit of a backend name. */
static unsigned backend_bit(const char *name) {
  if (strcmp(name, "memory") == 0) return BE_MEMORY;
  if (strcmp(name, "filesystem") == 0) return BE_FILESYSTEM;
  if (strcmp(name, "redis") == 0) return BE_REDIS;
  return BE_OTHER;
}

/* Writes "backend filesystem" or "backends memory and filesystem" for the
** built-in backends of a BE_* mask into out (64 bytes). */
static void backends_text(unsigned mask, char *out, size_t nout) {
  static const char *const names[] = {"memory", "filesystem", "redis"};
  const char *sel[3] = {"", "", ""};
  int k = 0;
  for (int i = 0; i < 3; i++)
    if (mask & (1u << i)) sel[k++] = names[i];
  if (k == 0)
    snprintf(out, nout, "registered backends");
  else if (k == 1)
    snprintf(out, nout, "backend %s", sel[0]);
  else if (k == 2)
    snprintf(out, nout, "backends %s and %s", sel[0], sel[1]);
  else
    snprintf(out, nout, "backends %s, %s and %s", sel[0], sel[1], sel[2]);
}

/* ---- Numbers and sizes ---- */

#define EXACT_INT (INT64_C(1) << 53) /* doubles are exact up to it */
#define EXACT_MAX ((double)EXACT_INT)

/* An integral double strictly within +-2^53 as an int64_t; false otherwise
** (NaN, infinities and fractions included). 2^53 itself is refused: the
** JSON number 9007199254740993 parses to it too, so it is not exact. Never
** converts an out-of-range double. */
static bool num_to_int(double d, int64_t *out) {
  if (!(d > -EXACT_MAX && d < EXACT_MAX) || d != floor(d)) return false;
  *out = (int64_t)d;
  return true;
}

/* Decimal text with an optional '-' as an int64_t; false on anything else,
** overflow included. */
static bool parse_int_text(const char *z, size_t n, int64_t *out) {
  size_t i = 0;
  bool neg = n > 0 && z[0] == '-';
  if (neg) i++;
  if (i == n) return false;
  int64_t v = 0;
  for (; i < n; i++) {
    if (!is_digit(z[i])) return false;
    int d = z[i] - '0';
    if (v > (INT64_MAX - d) / 10) return false;
    v = v * 10 + d;
  }
  *out = neg ? -v : v;
  return true;
}

enum { SIZE_OK, SIZE_SYNTAX, SIZE_TOO_LARGE };

/*
** Reads a size: decimal digits and an optional unit B, KB, MB, GB, TB,
** KiB, MiB, GiB, TiB (any case, all 1024-based), nothing else (no sign, no
** space, no fraction). SIZE_OK and *out, SIZE_SYNTAX, or SIZE_TOO_LARGE
** when it does not fit an int64_t.
*/
static int size_parse(const char *z, size_t n, int64_t *out) {
  static const struct {
    const char *unit;
    int shift;
  } units[] = {{"", 0},     {"b", 0},   {"kb", 10},  {"kib", 10}, {"mb", 20},
               {"mib", 20}, {"gb", 30}, {"gib", 30}, {"tb", 40},  {"tib", 40}};
  size_t nd = 0;
  while (nd < n && is_digit(z[nd]))
    nd++;
  if (nd == 0) return SIZE_SYNTAX;
  int shift = -1;
  for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
    if (pc__word_eq(units[i].unit, z + nd, n - nd)) shift = units[i].shift;
  if (shift < 0) return SIZE_SYNTAX;
  int64_t v = 0;
  for (size_t i = 0; i < nd; i++) {
    int d = z[i] - '0';
    if (v > (INT64_MAX - d) / 10) return SIZE_TOO_LARGE;
    v = v * 10 + d;
  }
  if (v > (INT64_MAX >> shift)) return SIZE_TOO_LARGE;
  *out = v << shift;
  return SIZE_OK;
}

int pc__parse_size(const char *z, size_t n, int64_t *out) {
  char shown[64];
  int r = size_parse(z, n, out);
  if (r == SIZE_SYNTAX)
    return pc__error(PC_ERROR, "%s is not a size " SIZE_HELP,
                     show(shown, z, n));
  if (r == SIZE_TOO_LARGE)
    return pc__error(PC_ERROR, "%s is too large", show(shown, z, n));
  return PC_OK;
}

/* Reads octal permission digits ("0700", "700"): 0 to 0777 only. */
static bool parse_mode(const char *z, size_t n, int *out) {
  if (n == 0 || n > 6) return false;
  int v = 0;
  for (size_t i = 0; i < n; i++) {
    if (z[i] < '0' || z[i] > '7') return false;
    v = v * 8 + (z[i] - '0');
  }
  if (v > 0777) return false;
  *out = v;
  return true;
}

/* ---- Redis URLs ---- */

/* True when c may appear in a host name or an IPv4 address. */
static bool host_char(char c) {
  return is_digit(c) || (lower(c) >= 'a' && lower(c) <= 'z') || c == '-' ||
         c == '.' || c == '_';
}

/* True when (z, n) is a db number 0..9999. */
static bool db_ok(const char *z, size_t n) {
  if (n == 0 || n > 4) return false;
  for (size_t i = 0; i < n; i++)
    if (!is_digit(z[i])) return false;
  return true;
}

/*
** Parses a redis URL: redis://[user[:password]@]host[:port][/db] or
** unix:///path[?db=N] into *out, whose text fields point into u. Returns
** NULL when it is good, else what is wrong, in words that never include
** any part of the URL. User and password are left percent-encoded as
** written (the backend decodes them when it authenticates).
*/
const char *pc__url_parse(const char *u, pc_url *out) {
  size_t n = strlen(u);
  memset(out, 0, sizeof *out);
  out->port = 6379;
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)u[i] <= 0x20 || u[i] == 0x7f)
      return "must not contain spaces or control characters";
  if (n >= 7 && pc__word_eq("unix://", u, 7)) {
    const char *path = u + 7;
    if (path[0] != '/')
      return "the socket path must be absolute (unix:///path/to/socket)";
    const char *q = strchr(path, '?');
    size_t np = q ? (size_t)(q - path) : strlen(path);
    if (np < 2) return "the socket path is missing";
    if (np > 107) return "the socket path is too long (at most 107 bytes)";
    if (q) {
      if (strncmp(q, "?db=", 4) != 0)
        return "a unix socket URL takes only ?db=N after the path";
      if (!db_ok(q + 4, strlen(q + 4))) return "db must be an integer 0..9999";
      out->db = atoi(q + 4);
    }
    out->is_unix = true;
    out->path = path;
    out->npath = np;
    return NULL;
  }
  if (!(n >= 8 && pc__word_eq("redis://", u, 8)))
    return "must start with redis:// or unix://";
  const char *rest = u + 8;
  /* The last '@' ends the user information, so that a password may hold
  ** '@', ':' or '/'; a db number holds none of them. */
  const char *at = strrchr(rest, '@');
  const char *host = rest;
  if (at) {
    const char *colon = memchr(rest, ':', (size_t)(at - rest));
    const char *uend = colon ? colon : at;
    out->user = rest;
    out->nuser = (size_t)(uend - rest);
    if (colon) {
      out->has_pass = true;
      out->pass = colon + 1;
      out->npass = (size_t)(at - colon - 1);
    }
    host = at + 1;
  }
  const char *slash = strchr(host, '/');
  const char *hend = slash ? slash : host + strlen(host);
  const char *port = NULL;
  if (host < hend && *host == '[') {
    const char *close = memchr(host, ']', (size_t)(hend - host));
    if (!close || close == host + 1) return "the host is not valid";
    for (const char *p = host + 1; p < close; p++)
      if (!(is_digit(*p) || (lower(*p) >= 'a' && lower(*p) <= 'f') ||
            *p == ':' || *p == '.'))
        return "the host is not valid";
    if (close + 1 < hend) {
      if (close[1] != ':') return "the host is not valid";
      port = close + 2;
    }
    out->host = host + 1;
    out->nhost = (size_t)(close - host - 1);
  } else {
    const char *colon = memchr(host, ':', (size_t)(hend - host));
    const char *e = colon ? colon : hend;
    if (e == host) return "the host is missing";
    for (const char *p = host; p < e; p++)
      if (!host_char(*p)) return "the host is not valid";
    if (colon) port = colon + 1;
    out->host = host;
    out->nhost = (size_t)(e - host);
  }
  if (port) {
    size_t np = (size_t)(hend - port);
    long v = 0;
    if (np == 0 || np > 5) return "port must be 1..65535";
    for (size_t i = 0; i < np; i++) {
      if (!is_digit(port[i])) return "port must be 1..65535";
      v = v * 10 + (port[i] - '0');
    }
    if (v < 1 || v > 65535) return "port must be 1..65535";
    out->port = (int)v;
  }
  if (slash && slash[1]) {
    if (!db_ok(slash + 1, strlen(slash + 1)))
      return "db must be an integer 0..9999";
    out->db = atoi(slash + 1);
  }
  return NULL;
}

/* ---- Defaults ---- */

void pc__config_init(pc_config *cfg) {
  memset(cfg, 0, sizeof *cfg);
  snprintf(cfg->backend, sizeof cfg->backend, "%s", "memory");
  cfg->default_ttl_ms = PC_TTL_NEVER;
  cfg->max_entries = 0;
  cfg->max_bytes = INT64_C(64) << 20;
  snprintf(cfg->eviction, sizeof cfg->eviction, "%s", "s3fifo");
  snprintf(cfg->serializer, sizeof cfg->serializer, "%s", "native");
  cfg->max_key_bytes = INT64_C(64) << 10;
  cfg->max_value_bytes = INT64_C(32) << 20;
  cfg->cache_dir = NULL;
  cfg->create_dir = true;
  cfg->dir_mode = 0700;
  cfg->file_mode = 0600;
  cfg->synchronous = PC_SYNC_NORMAL;
  cfg->url = NULL;
  cfg->prefix = NULL;
  cfg->connect_timeout_ms = 1000;
  cfg->timeout_ms = 1000;
  cfg->on_error = PC_ON_ERROR_FALLBACK;
  cfg->local_max_bytes = 0;
  cfg->options = NULL;
  cfg->set_mask = 0;
}

const char *pc_config_options(const pc_config *cfg) {
  return cfg->options;
}

/* True for the kinds whose field is owned text. */
static bool owns_text(const key_def *k) {
  return k->kind == K_STRING || k->kind == K_PATH || k->kind == K_URL;
}

void pc__config_free(pc_config *cfg) {
  for (int i = 0; i < PC_KEY_COUNT; i++) {
    if (!owns_text(&g_keys[i])) continue;
    char **f = (char **)((char *)cfg + g_keys[i].off);
    pc__free(*f);
    *f = NULL;
  }
}

/* ---- Applying one value ---- */

typedef enum { V_NULL, V_TEXT, V_NUMBER, V_BOOL, V_OTHER } val_type;

/* A value as either parser found it. Text is (z, n), not NUL-terminated. */
typedef struct cfg_val {
  val_type t;
  const char *z;
  size_t n;
  double d;
  bool b;
} cfg_val;

/* "<key>: <rule>". */
static int bad_rule(const key_def *k) {
  return pc__error(PC_ERROR, "%s: %s", k->name, k->rule);
}

/* "<key>: <pre>'value'<post>" when the key quotes bad values, else the
** rule. */
static int bad_text(const key_def *k, const char *z, size_t n) {
  char shown[64];
  if (!k->bad_pre) return bad_rule(k);
  return pc__error(PC_ERROR, "%s: %s%s%s", k->name, k->bad_pre,
                   show(shown, z, n), k->bad_post);
}

/* bad_text for a number. */
static int bad_number(const key_def *k, double d) {
  char t[40];
  snprintf(t, sizeof t, "%.15g", d);
  return bad_text(k, t, strlen(t));
}

/* Resets the key's field to its default (a null value). */
static void reset_default(pc_config *c, const key_def *k) {
  void *f = (char *)c + k->off;
  if (owns_text(k)) {
    pc__free(*(char **)f);
    *(char **)f = NULL;
  } else {
    pc_config d;
    pc__config_init(&d);
    memcpy(f, (const char *)&d + k->off, k->size);
  }
  c->set_mask &= ~(UINT32_C(1) << k->id);
}

/* The K_SIZE and K_INT value of v in *x, or an error naming the key. */
static int read_integer(const key_def *k, const cfg_val *v, int64_t *x) {
  if (k->kind == K_SIZE) {
    if (v->t == V_NUMBER) {
      if (v->d > EXACT_MAX) {
        char t[40];
        snprintf(t, sizeof t, "%.15g", v->d);
        char shown[64];
        return pc__error(PC_ERROR, "%s: %s is too large", k->name,
                         show(shown, t, strlen(t)));
      }
      if (!num_to_int(v->d, x) || *x < 0) return bad_number(k, v->d);
    } else if (v->t == V_TEXT) {
      if (pc__parse_size(v->z, v->n, x) != PC_OK) { /* the key goes first */
        char why[PC_ERRMSG_MAX];
        snprintf(why, sizeof why, "%s", pc__errbuf());
        return pc__error(PC_ERROR, "%s: %s", k->name, why);
      }
    } else {
      return bad_rule(k);
    }
    if (*x < k->min || *x > k->max) return bad_rule(k);
    return PC_OK;
  }
  bool ok = false;
  if (v->t == V_NUMBER) ok = num_to_int(v->d, x);
  if (v->t == V_TEXT) ok = parse_int_text(v->z, v->n, x);
  if (!ok || *x < k->min) return bad_rule(k);
  if (*x > k->max)
    return pc__error(PC_ERROR, "%s: must be at most %" PRId64, k->name, k->max);
  return PC_OK;
}

/*
** Stores v under key k in c, checking it against the key's rules and
** marking the key in set_mask (a null resets it to its default and leaves
** it unmarked). PC_OK, or PC_ERROR / PC_NOMEM with a message naming the
** key; on error c is unchanged.
*/
static int apply_value(pc_config *c, const key_def *k, const cfg_val *v) {
  void *f = (char *)c + k->off;
  if (v->t == V_NULL) {
    reset_default(c, k);
    return PC_OK;
  }
  switch (k->kind) {
  case K_NAME: {
    if (v->t != V_TEXT) return bad_rule(k);
    const char *w = k->known(v->z, v->n);
    if (!w) return bad_text(k, v->z, v->n);
    snprintf(f, k->size, "%s", w);
    break;
  }
  case K_ENUM: {
    int i = v->t == V_TEXT ? word_index(k->words, v->z, v->n) : -1;
    if (i < 0) return bad_rule(k);
    *(int *)f = i;
    break;
  }
  case K_SIZE:
  case K_INT: {
    int64_t x;
    int rc = read_integer(k, v, &x);
    if (rc != PC_OK) return rc;
    *(int64_t *)f = x;
    break;
  }
  case K_TTL: {
    int64_t ms;
    int rc;
    if (v->t == V_NUMBER)
      rc = pc_ttl_from_seconds(v->d, &ms);
    else if (v->t == V_TEXT)
      rc = pc_ttl_from_text(v->z, v->n, &ms);
    else
      return bad_rule(k);
    if (rc != PC_OK) {
      char why[PC_ERRMSG_MAX];
      snprintf(why, sizeof why, "%s", pc__errbuf());
      return pc__error(rc, "%s: %s", k->name, why);
    }
    *(int64_t *)f = ms;
    break;
  }
  case K_BOOL: {
    static const char *const words[] = {"false", "true", "0",  "1", "no",
                                        "yes",   "off",  "on", NULL};
    int i = -1;
    if (v->t == V_BOOL) i = v->b;
    if (v->t == V_NUMBER && (v->d == 0 || v->d == 1)) i = v->d == 1;
    if (v->t == V_TEXT) i = word_index(words, v->z, v->n);
    if (i < 0) return bad_rule(k);
    *(bool *)f = i & 1;
    break;
  }
  case K_MODE: {
    int mode;
    if (v->t == V_NUMBER) {
      /* 700 means 0700: the decimal digits are read as octal ones. */
      char t[16];
      if (!(v->d >= 0 && v->d <= 777) || v->d != floor(v->d))
        return bad_number(k, v->d);
      snprintf(t, sizeof t, "%d", (int)v->d);
      if (!parse_mode(t, strlen(t), &mode)) return bad_number(k, v->d);
    } else if (v->t == V_TEXT) {
      if (!parse_mode(v->z, v->n, &mode)) return bad_text(k, v->z, v->n);
    } else {
      return bad_rule(k);
    }
    *(int *)f = mode;
    break;
  }
  case K_STRING:
  case K_PATH:
  case K_URL: {
    if (v->t != V_TEXT) return bad_rule(k);
    if (k->kind == K_PATH && v->n > PATH_MAX_BYTES)
      return pc__error(PC_ERROR, "%s: the path is too long (at most %d bytes)",
                       k->name, PATH_MAX_BYTES);
    /* Empty text is the same as absent. */
    char *s = NULL;
    if (v->n > 0 && !(s = dup_n(v->z, v->n)))
      return pc__error(PC_NOMEM, "out of memory");
    pc__free(*(char **)f);
    *(char **)f = s;
    break;
  }
  }
  c->set_mask |= UINT32_C(1) << k->id;
  return PC_OK;
}

/*
** Finds the key named (z, n) (ASCII case ignored when nocase) and marks it
** in *seen. PC_OK and *out, or PC_ERROR for an unknown key or one already
** seen.
*/
static int claim_key(const char *z, size_t n, bool nocase, uint32_t *seen,
                     const key_def **out) {
  const key_def *k = NULL;
  for (int i = 0; i < PC_KEY_COUNT && !k; i++) {
    const char *name = g_keys[i].name;
    if (nocase ? pc__word_eq(name, z, n)
               : (strlen(name) == n && memcmp(name, z, n) == 0))
      k = &g_keys[i];
  }
  if (!k) {
    char shown[64];
    return pc__error(PC_ERROR, "unknown configuration key %s",
                     show(shown, z, n));
  }
  uint32_t bit = UINT32_C(1) << k->id;
  if (*seen & bit)
    return pc__error(PC_ERROR, "configuration key '%s' is given twice",
                     k->name);
  *seen |= bit;
  *out = k;
  return PC_OK;
}

/* Takes over a filled scratch configuration: frees what cfg held and moves
** tmp into it. */
static void commit(pc_config *cfg, pc_config *tmp) {
  pc__config_free(cfg);
  *cfg = *tmp;
}

/* ---- JSON input ---- */

/* The name of a JSON value's type, for the "not an object" message. */
static const char *json_type_name(const cJSON *j) {
  if (cJSON_IsArray(j)) return "an array";
  if (cJSON_IsString(j)) return "a string";
  if (cJSON_IsNumber(j)) return "a number";
  if (cJSON_IsBool(j)) return "a boolean";
  if (cJSON_IsNull(j)) return "null";
  return "not an object";
}

int pc__config_from_json(pc_config *cfg, const char *json, size_t njson) {
  static const char *const msg = "configuration is not a JSON object";
  size_t i = 0;
  while (json && i < njson && is_space(json[i]))
    i++;
  if (!json || i == njson) return pc__error(PC_ERROR, "%s: it is empty", msg);
  /* cJSON hands strings over NUL-terminated, without their length: a
  ** \u0000 inside a key or value would silently cut it short. */
  for (size_t k = i; k + 6 <= njson; k++) {
    if (json[k] != '\\') continue;
    if (memcmp(json + k, "\\u0000", 6) == 0)
      return pc__error(PC_ERROR, "%s: a string contains \\u0000", msg);
    k++; /* the escaped character: in \\u0000 it is a backslash */
  }
  const char *end = NULL;
  cJSON *root = cJSON_ParseWithLengthOpts(json, njson, &end, 0);
  if (!root) {
    size_t at =
        end && end >= json && end <= json + njson ? (size_t)(end - json) : 0;
    return pc__error(PC_ERROR, "%s: syntax error at byte %zu", msg, at);
  }
  size_t at = (size_t)(end - json);
  while (at < njson && is_space(json[at]))
    at++;
  if (at != njson) {
    cJSON_Delete(root);
    return pc__error(PC_ERROR, "%s: unexpected text at byte %zu", msg, at);
  }
  if (!cJSON_IsObject(root)) {
    int rc = pc__error(PC_ERROR, "%s: it is %s", msg, json_type_name(root));
    cJSON_Delete(root);
    return rc;
  }

  pc_config tmp;
  pc__config_init(&tmp);
  uint32_t seen = 0;
  int rc = PC_OK;
  for (const cJSON *it = root->child; it && rc == PC_OK; it = it->next) {
    const key_def *k;
    const char *name = it->string ? it->string : "";
    rc = claim_key(name, strlen(name), false, &seen, &k);
    if (rc != PC_OK) break;
    cfg_val v = {.t = V_OTHER};
    if (cJSON_IsNull(it)) {
      v.t = V_NULL;
    } else if (cJSON_IsString(it)) {
      v.t = V_TEXT;
      v.z = it->valuestring;
      v.n = strlen(it->valuestring);
    } else if (cJSON_IsNumber(it)) {
      v.t = V_NUMBER;
      v.d = it->valuedouble;
    } else if (cJSON_IsBool(it)) {
      v.t = V_BOOL;
      v.b = cJSON_IsTrue(it);
    }
    rc = apply_value(&tmp, k, &v);
  }
  cJSON_Delete(root);
  if (rc != PC_OK) {
    pc__config_free(&tmp);
    return rc;
  }
  commit(cfg, &tmp);
  return PC_OK;
}

/* ---- key=value input ---- */

/*
** Reads the quoted value (z, n) (z[0] is the quote, ' or "; a doubled
** quote inside stands for one) into *out, a pc__malloc'd copy of the text,
** and its length into *nout. PC_ERROR naming the key when the quote is not
** closed or text follows it.
*/
static int unquote(const key_def *k, const char *z, size_t n, char **out,
                   size_t *nout) {
  char q = z[0];
  char *p = pc__malloc(n);
  if (!p) return pc__error(PC_NOMEM, "out of memory");
  size_t j = 0, i = 1;
  for (;;) {
    if (i >= n) {
      pc__free(p);
      return pc__error(PC_ERROR, "%s: the quoted value is not closed", k->name);
    }
    if (z[i] == q) {
      if (i + 1 < n && z[i + 1] == q) {
        p[j++] = q;
        i += 2;
        continue;
      }
      if (i + 1 == n) break;
      pc__free(p);
      return pc__error(PC_ERROR, "%s: unexpected text after the closing quote",
                       k->name);
    }
    p[j++] = z[i++];
  }
  p[j] = 0;
  *out = p;
  *nout = j;
  return PC_OK;
}

/* Applies the argument number i (0-based), `key=value`, to tmp. */
static int kv_one(pc_config *tmp, uint32_t *seen, int i, const char *arg) {
  char shown[64];
  if (!arg)
    return pc__error(PC_ERROR, "configuration argument %d is missing", i + 1);
  size_t n = strlen(arg);
  const char *eq = memchr(arg, '=', n);
  if (!eq)
    return pc__error(PC_ERROR, "configuration argument %s is not key=value",
                     show(shown, arg, n));
  const char *key = arg, *val = eq + 1;
  size_t nkey = (size_t)(eq - arg), nval = n - nkey - 1;
  trim(&key, &nkey);
  trim(&val, &nval);
  if (nkey == 0)
    return pc__error(PC_ERROR, "configuration argument %s has no key",
                     show(shown, arg, n));
  const key_def *k;
  int rc = claim_key(key, nkey, true, seen, &k);
  if (rc != PC_OK) return rc;

  cfg_val v = {.t = V_TEXT, .z = val, .n = nval};
  char *copy = NULL;
  if (nval > 0 && (val[0] == '\'' || val[0] == '"')) {
    rc = unquote(k, val, nval, &copy, &v.n);
    if (rc != PC_OK) return rc;
    v.z = copy;
  } else if (pc__word_eq("null", val, nval)) {
    v.t = V_NULL;
  }
  rc = apply_value(tmp, k, &v);
  pc__free(copy);
  return rc;
}

int pc__config_from_kv(pc_config *cfg, int argc, const char *const *argv) {
  pc_config tmp;
  pc__config_init(&tmp);
  uint32_t seen = 0;
  int rc = PC_OK;
  for (int i = 0; i < argc && rc == PC_OK; i++)
    rc = kv_one(&tmp, &seen, i, argv ? argv[i] : NULL);
  if (rc != PC_OK) {
    pc__config_free(&tmp);
    return rc;
  }
  commit(cfg, &tmp);
  return PC_OK;
}

/* ---- Validation ---- */

int pc__config_validate(pc_config *cfg) {
  unsigned be = backend_bit(cfg->backend);
  for (int i = 0; i < PC_KEY_COUNT; i++) {
    const key_def *k = &g_keys[i];
    if (!(cfg->set_mask & (UINT32_C(1) << k->id)) || (k->backends & be))
      continue;
    char which[64];
    backends_text(k->backends, which, sizeof which);
    return pc__error(PC_ERROR, "%s: applies only to %s, not to %.31s", k->name,
                     which, cfg->backend);
  }
  if (be == BE_FILESYSTEM && !cfg->cache_dir)
    return pc__error(PC_ERROR, "cache_dir: required for backend filesystem");
  if (cfg->dir_mode & 02) /* pc_fs.c refuses such a directory */
    return pc__error(PC_ERROR,
                     "dir_mode: %04o lets every user write in cache_dir, "
                     "which the filesystem backend refuses",
                     (unsigned)cfg->dir_mode);
  if (be == BE_REDIS) {
    if (!cfg->url)
      return pc__error(PC_ERROR, "url: required for backend redis");
    pc_url url;
    const char *why = pc__url_parse(cfg->url, &url);
    if (why) return pc__error(PC_ERROR, "url: %s", why);
  }
  /* The filesystem backend has one policy, its CLOCK (`lru`). */
  bool eviction_set = cfg->set_mask & (UINT32_C(1) << PC_KEY_EVICTION);
  if (be == BE_FILESYSTEM && eviction_set && strcmp(cfg->eviction, "lru") != 0)
    return pc__error(PC_ERROR,
                     "eviction: the filesystem backend has lru only (an "
                     "approximation that never writes on a read), not %s",
                     cfg->eviction);
  /* Backend defaults, once nothing can fail. */
  if (be == BE_FILESYSTEM &&
      !(cfg->set_mask & (UINT32_C(1) << PC_KEY_MAX_BYTES)))
    cfg->max_bytes = GIB;
  if (be == BE_FILESYSTEM && !eviction_set)
    snprintf(cfg->eviction, sizeof cfg->eviction, "%s", "lru");
  return PC_OK;
}

/* ---- JSON output ---- */

/* A writer that counts when p is NULL and writes otherwise, so that the
** text is measured, allocated once, then written by the same code. */
typedef struct jw {
  char *p;
  size_t n;
} jw;

static void jw_raw(jw *w, const char *s, size_t n) {
  if (w->p) memcpy(w->p + w->n, s, n);
  w->n += n;
}

static void jw_cstr(jw *w, const char *s) {
  jw_raw(w, s, strlen(s));
}

/* The bytes of (s, n) escaped for the inside of a JSON string. */
static void jw_escaped(jw *w, const char *s, size_t n) {
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '"' || c == '\\') {
      char e[2] = {'\\', (char)c};
      jw_raw(w, e, 2);
    } else if (c < 0x20) {
      char e[8];
      snprintf(e, sizeof e, "\\u%04x", c);
      jw_raw(w, e, 6);
    } else {
      jw_raw(w, s + i, 1);
    }
  }
}

static void jw_string(jw *w, const char *s) {
  jw_raw(w, "\"", 1);
  jw_escaped(w, s, strlen(s));
  jw_raw(w, "\"", 1);
}

/* The URL with its password replaced by "***"; "***" alone for text that
** is not a valid URL (it could hold a password anywhere). */
static void jw_url(jw *w, const char *url) {
  pc_url u;
  if (pc__url_parse(url, &u)) {
    jw_cstr(w, "\"***\"");
    return;
  }
  jw_raw(w, "\"", 1);
  if (u.has_pass) {
    size_t off = (size_t)(u.pass - url);
    jw_escaped(w, url, off);
    jw_raw(w, "***", 3);
    jw_escaped(w, u.pass + u.npass, strlen(u.pass + u.npass));
  } else {
    jw_escaped(w, url, strlen(url));
  }
  jw_raw(w, "\"", 1);
}

/* The value of key k in c as JSON. */
static void jw_value(jw *w, const pc_config *c, const key_def *k) {
  const void *f = (const char *)c + k->off;
  char t[48];
  switch (k->kind) {
  case K_NAME:
    jw_string(w, (const char *)f);
    break;
  case K_ENUM:
    jw_string(w, k->words[*(const int *)f]);
    break;
  case K_SIZE:
  case K_INT: {
    /* Past 2^53 a JSON number is not exact (the parser refuses it): the
    ** digits go in a string, which both integer kinds also accept. */
    int64_t x = *(const int64_t *)f;
    bool exact = x > -EXACT_INT && x < EXACT_INT; /* as num_to_int reads */
    snprintf(t, sizeof t, exact ? "%" PRId64 : "\"%" PRId64 "\"", x);
    jw_cstr(w, t);
    break;
  }
  case K_TTL: {
    /* Milliseconds as exact decimal seconds: 1500 -> 1.5. */
    int64_t ms = *(const int64_t *)f;
    if (ms <= 0) {
      jw_cstr(w, "null");
      break;
    }
    int n = snprintf(t, sizeof t, "%" PRId64, ms / 1000);
    if (ms % 1000) {
      n += snprintf(t + n, sizeof t - (size_t)n, ".%03d", (int)(ms % 1000));
      while (t[n - 1] == '0')
        t[--n] = 0;
    }
    jw_cstr(w, t);
    break;
  }
  case K_BOOL:
    jw_cstr(w, *(const bool *)f ? "true" : "false");
    break;
  case K_MODE:
    snprintf(t, sizeof t, "\"%04o\"", (unsigned)*(const int *)f & 0777u);
    jw_cstr(w, t);
    break;
  case K_STRING:
  case K_PATH:
  case K_URL: {
    const char *s = *(const char *const *)f;
    if (!s)
      jw_cstr(w, "null");
    else if (k->kind == K_URL)
      jw_url(w, s);
    else if (k->id == PC_KEY_OPTIONS) /* a backend's own: may hold secrets */
      jw_string(w, "***");
    else
      jw_string(w, s);
    break;
  }
  }
}

/* The configuration as one JSON object, keys in table order: only those
** that apply to c's backend, so that the text opens the same cache again
** (another backend's key given a value is refused, and printing the
** defaults would give them values). */
static void jw_config(jw *w, const pc_config *c) {
  unsigned be = backend_bit(c->backend);
  jw_raw(w, "{", 1);
  for (int i = 0, n = 0; i < PC_KEY_COUNT; i++) {
    if (!(g_keys[i].backends & be)) continue;
    if (n++) jw_raw(w, ",", 1);
    jw_string(w, g_keys[i].name);
    jw_raw(w, ":", 1);
    jw_value(w, c, &g_keys[i]);
  }
  jw_raw(w, "}", 1);
}

char *pc__config_to_json(const pc_config *cfg) {
  jw w = {NULL, 0};
  jw_config(&w, cfg);
  char *p = pc__malloc(w.n + 1);
  if (!p) {
    pc__error(PC_NOMEM, "out of memory");
    return NULL;
  }
  w.p = p;
  w.n = 0;
  jw_config(&w, cfg);
  p[w.n] = 0;
  return p;
}

/* ---- Comparison ---- */

/* True when key k has the same effective value in a and b. */
static bool same_value(const pc_config *a, const pc_config *b,
                       const key_def *k) {
  const char *fa = (const char *)a + k->off, *fb = (const char *)b + k->off;
  if (k->kind == K_NAME) return strncmp(fa, fb, k->size) == 0;
  if (owns_text(k)) {
    const char *sa = *(const char *const *)fa, *sb = *(const char *const *)fb;
    if (!sa || !sb) return !sa && !sb;
    return strcmp(sa, sb) == 0;
  }
  return memcmp(fa, fb, k->size) == 0;
}

const char *pc__config_diff(const pc_config *a, const pc_config *b) {
  for (int i = 0; i < PC_KEY_COUNT; i++)
    if (!same_value(a, b, &g_keys[i])) return g_keys[i].name;
  return NULL;
}

const char *pc__cjson_version(void) {
  return cJSON_Version();
}
