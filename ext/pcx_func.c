/*
** pcx_func.c: the scalar functions of SPEC §4.
**
**   SELECT cache_set('user:1', json_object('name','Ada'), 60);
**   SELECT coalesce(cache_get('k'), cache_set('k', expensive(), 60));
**   SELECT cache_incr('hits:' || date('now'), 1, 86400);
**
** Every function takes an optional trailing cache name ("default" without
** it), checks its arguments, calls the engine and maps the outcome to a
** result or to an error that starts with the function's name. They are
** registered SQLITE_DIRECTONLY: a view, trigger or CHECK constraint in a
** database file must not be able to read or change a cache (the file may
** come from anyone), and none is DETERMINISTIC since results depend on the
** cache's state. SQLite 3.40 does not hold a CHECK constraint to that
** rule, so those that change or open caches also ask pcx_direct().
*/
#include "pcx.h"

#include <string.h>

/* The cache named by argv[idx] when idx < argc, else "default". NULL after
** reporting an error. */
static inline __attribute__((always_inline)) pc_cache *
arg_cache(sqlite3_context *ctx, const char *fname, int argc,
          sqlite3_value **argv, int idx) {
  if (idx >= argc) {
    pc_cache *c = pcx_default(sqlite3_user_data(ctx));
    if (!c) sqlite3_result_error_nomem(ctx);
    return c;
  }
  if (sqlite3_value_type(argv[idx]) == SQLITE_NULL) {
    pcx_errorf(ctx, fname, SQLITE_ERROR, "cache name must not be NULL");
    return NULL;
  }
  const char *name = (const char *)sqlite3_value_text(argv[idx]);
  if (!name) {
    sqlite3_result_error_nomem(ctx);
    return NULL;
  }
  pc_cache *c = pcx_cache(sqlite3_user_data(ctx), name);
  if (!c)
    pcx_errorf(ctx, fname, SQLITE_ERROR, "no cache named '%s' is open", name);
  return c;
}

/* The key in argv[0]. Returns 0 with (key, nkey) set; 1 for a NULL key,
** reported as an error when null_is_error; -1 after reporting OOM. */
static inline __attribute__((always_inline)) int
arg_key(sqlite3_context *ctx, const char *fname, sqlite3_value **argv,
        int null_is_error, const void **key, size_t *nkey) {
  int rc = pcx_key(argv[0], key, nkey);
  if (rc == 1 && null_is_error)
    pcx_errorf(ctx, fname, SQLITE_ERROR, "key must not be NULL");
  if (rc == SQLITE_NOMEM) {
    sqlite3_result_error_nomem(ctx);
    return -1;
  }
  return rc;
}

/* The TTL in argv[idx] (absent = default). 0 on success. */
static int arg_ttl(sqlite3_context *ctx, const char *fname, int argc,
                   sqlite3_value **argv, int idx, int64_t *ttl) {
  *ttl = PC_TTL_DEFAULT;
  if (idx >= argc) return 0;
  int rc = pcx_ttl(argv[idx], ttl);
  if (rc != PC_OK) pcx_error(ctx, fname, rc);
  return rc;
}

/* cache_get(key [, cache]): the value, or NULL on a miss. */
static void cacheGetFunc(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  pc_cache *c = arg_cache(ctx, "cache_get", argc, argv, 1);
  const void *key;
  size_t nkey;
  if (!c || arg_key(ctx, "cache_get", argv, 0, &key, &nkey)) return;
  pc_value v;
  int rc = pc_get(c, key, nkey, &v);
  if (rc == PC_OK)
    pcx_result(ctx, &v);
  else if (rc != PC_NOTFOUND)
    pcx_error(ctx, "cache_get", rc);
}

/* cache_set / cache_add share everything but the flag and the result. */
static void setOrAdd(sqlite3_context *ctx, int argc, sqlite3_value **argv,
                     const char *fname, int flags) {
  if (!pcx_direct(ctx, fname)) return;
  pc_cache *c = arg_cache(ctx, fname, argc, argv, 3);
  const void *key;
  size_t nkey;
  int64_t ttl;
  if (!c || arg_key(ctx, fname, argv, 1, &key, &nkey) ||
      arg_ttl(ctx, fname, argc, argv, 2, &ttl))
    return;
  pc_value v;
  if (pcx_value(argv[1], &v) != SQLITE_OK) {
    sqlite3_result_error_nomem(ctx);
    return;
  }
  int rc = pc_set(c, key, nkey, &v, ttl, flags);
  if (flags & PC_SET_NX) {
    if (rc == PC_OK || rc == PC_EXISTS || rc == PC_DROPPED)
      sqlite3_result_int(ctx, rc == PC_OK);
    else
      pcx_error(ctx, fname, rc);
  } else if (rc == PC_OK || rc == PC_DROPPED) {
    sqlite3_result_value(ctx, argv[1]);
  } else {
    pcx_error(ctx, fname, rc);
  }
}

/* cache_set(key, value [, ttl [, cache]]): value itself, so that
** coalesce(cache_get(k), cache_set(k, expr)) memoizes. */
static void cacheSetFunc(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  setOrAdd(ctx, argc, argv, "cache_set", 0);
}

/* cache_add(key, value [, ttl [, cache]]): 1 if stored, 0 if present. */
static void cacheAddFunc(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  setOrAdd(ctx, argc, argv, "cache_add", PC_SET_NX);
}

/* cache_delete(key [, cache]): 1 if the key existed. */
static void cacheDeleteFunc(sqlite3_context *ctx, int argc,
                            sqlite3_value **argv) {
  if (!pcx_direct(ctx, "cache_delete")) return;
  pc_cache *c = arg_cache(ctx, "cache_delete", argc, argv, 1);
  const void *key;
  size_t nkey;
  if (!c || arg_key(ctx, "cache_delete", argv, 1, &key, &nkey)) return;
  int rc = pc_delete(c, key, nkey);
  if (rc == PC_OK || rc == PC_NOTFOUND)
    sqlite3_result_int(ctx, rc == PC_OK);
  else
    pcx_error(ctx, "cache_delete", rc);
}

/* cache_has(key [, cache]): 1 or 0; NULL for a NULL key. */
static void cacheHasFunc(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  pc_cache *c = arg_cache(ctx, "cache_has", argc, argv, 1);
  const void *key;
  size_t nkey;
  if (!c || arg_key(ctx, "cache_has", argv, 0, &key, &nkey)) return;
  int rc = pc_has(c, key, nkey);
  if (rc == PC_OK || rc == PC_NOTFOUND)
    sqlite3_result_int(ctx, rc == PC_OK);
  else
    pcx_error(ctx, "cache_has", rc);
}

/* cache_ttl(key [, cache]): seconds left (REAL), -1 if never, NULL if
** absent. */
static void cacheTtlFunc(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  pc_cache *c = arg_cache(ctx, "cache_ttl", argc, argv, 1);
  const void *key;
  size_t nkey;
  if (!c || arg_key(ctx, "cache_ttl", argv, 0, &key, &nkey)) return;
  int64_t ms;
  int rc = pc_ttl(c, key, nkey, &ms);
  if (rc == PC_OK)
    sqlite3_result_double(ctx, ms == PC_TTL_NEVER ? -1.0 : (double)ms / 1000);
  else if (rc != PC_NOTFOUND)
    pcx_error(ctx, "cache_ttl", rc);
}

/* cache_touch(key, ttl [, cache]): 1 if the key existed and was reset. */
static void cacheTouchFunc(sqlite3_context *ctx, int argc,
                           sqlite3_value **argv) {
  if (!pcx_direct(ctx, "cache_touch")) return;
  pc_cache *c = arg_cache(ctx, "cache_touch", argc, argv, 2);
  const void *key;
  size_t nkey;
  int64_t ttl;
  if (!c || arg_key(ctx, "cache_touch", argv, 1, &key, &nkey) ||
      arg_ttl(ctx, "cache_touch", argc, argv, 1, &ttl))
    return;
  int rc = pc_touch(c, key, nkey, ttl);
  if (rc == PC_OK || rc == PC_NOTFOUND)
    sqlite3_result_int(ctx, rc == PC_OK);
  else
    pcx_error(ctx, "cache_touch", rc);
}

/* cache_incr(key [, delta [, ttl [, cache]]]): the new INTEGER; the TTL
** applies only when the call creates the key. */
static void cacheIncrFunc(sqlite3_context *ctx, int argc,
                          sqlite3_value **argv) {
  if (!pcx_direct(ctx, "cache_incr")) return;
  pc_cache *c = arg_cache(ctx, "cache_incr", argc, argv, 3);
  const void *key;
  size_t nkey;
  int64_t ttl;
  if (!c || arg_key(ctx, "cache_incr", argv, 1, &key, &nkey) ||
      arg_ttl(ctx, "cache_incr", argc, argv, 2, &ttl))
    return;
  int64_t delta = 1;
  if (argc > 1) {
    int t = sqlite3_value_type(argv[1]);
    double d = sqlite3_value_double(argv[1]);
    if (t == SQLITE_INTEGER) {
      delta = sqlite3_value_int64(argv[1]);
    } else if (t == SQLITE_FLOAT && d < 9.2e18 && d > -9.2e18 &&
               d == (double)(int64_t)d) { /* range first: no UB cast */
      delta = (int64_t)d;
    } else {
      pcx_errorf(ctx, "cache_incr", SQLITE_ERROR, "delta must be an integer");
      return;
    }
  }
  int64_t result;
  int rc = pc_incr(c, key, nkey, delta, ttl, &result);
  if (rc == PC_OK)
    sqlite3_result_int64(ctx, result);
  else if (rc != PC_NOTFOUND) /* NOTFOUND: on_error=fallback, no value */
    pcx_error(ctx, "cache_incr", rc);
}

/* cache_clear([cache]): how many live entries were removed. */
static void cacheClearFunc(sqlite3_context *ctx, int argc,
                           sqlite3_value **argv) {
  if (!pcx_direct(ctx, "cache_clear")) return;
  pc_cache *c = arg_cache(ctx, "cache_clear", argc, argv, 0);
  if (!c) return;
  int64_t n;
  int rc = pc_clear(c, &n);
  if (rc == PC_OK)
    sqlite3_result_int64(ctx, n);
  else
    pcx_error(ctx, "cache_clear", rc);
}

/* cache_stats([cache]): the counters as a JSON object. */
static void cacheStatsFunc(sqlite3_context *ctx, int argc,
                           sqlite3_value **argv) {
  pc_cache *c = arg_cache(ctx, "cache_stats", argc, argv, 0);
  if (!c) return;
  char *z = pc_stats_json(c);
  if (!z) {
    sqlite3_result_error_nomem(ctx);
    return;
  }
  sqlite3_result_text(ctx, z, -1, pc_free);
  sqlite3_result_subtype(ctx, PCX_JSON_SUBTYPE);
}

/* cache_open(name [, config]): opens a cache for this process; 1. */
static void cacheOpenFunc(sqlite3_context *ctx, int argc,
                          sqlite3_value **argv) {
  if (!pcx_direct(ctx, "cache_open")) return;
  const char *name = (const char *)sqlite3_value_text(argv[0]);
  if (!name) {
    if (sqlite3_value_type(argv[0]) == SQLITE_NULL)
      pcx_errorf(ctx, "cache_open", SQLITE_ERROR,
                 "cache name must not be NULL");
    else
      sqlite3_result_error_nomem(ctx);
    return;
  }
  const char *cfg = NULL;
  if (argc > 1 && sqlite3_value_type(argv[1]) != SQLITE_NULL) {
    cfg = (const char *)sqlite3_value_text(argv[1]);
    if (!cfg) {
      sqlite3_result_error_nomem(ctx);
      return;
    }
  }
  char err[PC_ERRMSG_MAX];
  pc_cache *c;
  int rc = pc_cache_open(name, cfg, &c, err, sizeof err);
  if (rc == PC_OK) {
    pc_cache_release(c);
    sqlite3_result_int(ctx, 1);
  } else if (rc == PC_NOMEM) {
    sqlite3_result_error_nomem(ctx);
  } else {
    pcx_errorf(ctx, "cache_open", SQLITE_ERROR, "%s", err);
  }
}

/* cache_close(name): unregisters the cache; 1. */
static void cacheCloseFunc(sqlite3_context *ctx, int argc,
                           sqlite3_value **argv) {
  (void)argc;
  if (!pcx_direct(ctx, "cache_close")) return;
  const char *name = (const char *)sqlite3_value_text(argv[0]);
  if (!name) {
    if (sqlite3_value_type(argv[0]) == SQLITE_NULL)
      pcx_errorf(ctx, "cache_close", SQLITE_ERROR,
                 "cache name must not be NULL");
    else
      sqlite3_result_error_nomem(ctx);
    return;
  }
  /* default always exists, even before its first use made it. */
  if (pc_cache_close(name) == PC_OK || strcmp(name, "default") == 0)
    sqlite3_result_int(ctx, 1);
  else
    pcx_errorf(ctx, "cache_close", SQLITE_ERROR, "no cache named '%s' is open",
               name);
}

/* pcache_build(): what this build has (backends, serializers, library
** versions) as a JSON object. */
static void buildFunc(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc, (void)argv;
  char *z = pc_build_info();
  if (!z) {
    sqlite3_result_error_nomem(ctx);
    return;
  }
  char *full = sqlite3_mprintf("%.*s,\"sqlite\":\"%s\"}", (int)strlen(z) - 1, z,
                               sqlite3_libversion());
  pc_free(z);
  if (!full) {
    sqlite3_result_error_nomem(ctx);
    return;
  }
  sqlite3_result_text(ctx, full, -1, sqlite3_free);
  sqlite3_result_subtype(ctx, PCX_JSON_SUBTYPE);
}

/* cache_query(sql [, ttl [, cache]]): the rows of a read-only statement
** as a JSON array of objects, cached (ext/pcx_query.c). */
static void cacheQueryFunc(sqlite3_context *ctx, int argc,
                           sqlite3_value **argv) {
  if (!pcx_direct(ctx, "cache_query")) return;
  pc_cache *c = arg_cache(ctx, "cache_query", argc, argv, 2);
  int64_t ttl;
  if (!c || arg_ttl(ctx, "cache_query", argc, argv, 1, &ttl)) return;
  if (sqlite3_value_type(argv[0]) != SQLITE_TEXT) {
    pcx_errorf(ctx, "cache_query", SQLITE_ERROR, "sql must be TEXT");
    return;
  }
  const char *sql = (const char *)sqlite3_value_text(argv[0]);
  if (!sql) {
    sqlite3_result_error_nomem(ctx);
    return;
  }
  pcx_query(ctx, sqlite3_user_data(ctx), c, sql, ttl);
}

/* pcache_version(): the library version. */
static void versionFunc(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc, (void)argv;
  sqlite3_result_text(ctx, PC_VERSION, -1, SQLITE_STATIC);
}

#define PCX_FN (SQLITE_UTF8 | SQLITE_DIRECTONLY)
#define PCX_FN_J (PCX_FN | SQLITE_RESULT_SUBTYPE)

static const struct {
  const char *name;
  int nmin, nmax; /* registered once for each arity in between */
  int flags;
  void (*x)(sqlite3_context *, int, sqlite3_value **);
} aFunc[] = {
    {"cache_get", 1, 2, PCX_FN_J, cacheGetFunc},
    {"cache_set", 2, 4, PCX_FN_J | SQLITE_SUBTYPE, cacheSetFunc},
    {"cache_add", 2, 4, PCX_FN | SQLITE_SUBTYPE, cacheAddFunc},
    {"cache_delete", 1, 2, PCX_FN, cacheDeleteFunc},
    {"cache_has", 1, 2, PCX_FN, cacheHasFunc},
    {"cache_ttl", 1, 2, PCX_FN, cacheTtlFunc},
    {"cache_touch", 2, 3, PCX_FN, cacheTouchFunc},
    {"cache_incr", 1, 4, PCX_FN, cacheIncrFunc},
    {"cache_clear", 0, 1, PCX_FN, cacheClearFunc},
    {"cache_stats", 0, 1, PCX_FN_J, cacheStatsFunc},
    {"cache_open", 1, 2, PCX_FN, cacheOpenFunc},
    {"cache_close", 1, 1, PCX_FN, cacheCloseFunc},
    {"cache_query", 1, 3, PCX_FN_J, cacheQueryFunc},
    {"pcache_version", 0, 0,
     SQLITE_UTF8 | SQLITE_INNOCUOUS | SQLITE_DETERMINISTIC, versionFunc},
    {"pcache_build", 0, 0,
     SQLITE_UTF8 | SQLITE_RESULT_SUBTYPE | SQLITE_INNOCUOUS |
         SQLITE_DETERMINISTIC,
     buildFunc},
};

int pcx_register_functions(sqlite3 *db, pcx_conn *conn) {
  for (size_t i = 0; i < sizeof aFunc / sizeof aFunc[0]; i++) {
    for (int n = aFunc[i].nmin; n <= aFunc[i].nmax; n++) {
      conn->refs++; /* released by pcx_conn_unref, even on failure */
      int rc =
          sqlite3_create_function_v2(db, aFunc[i].name, n, aFunc[i].flags, conn,
                                     aFunc[i].x, NULL, NULL, pcx_conn_unref);
      if (rc != SQLITE_OK) return rc;
    }
  }
  return SQLITE_OK;
}
