/*
** pocketcache.c: the entry point of the PocketCache SQLite extension.
**
**   .load ./build/pocketcache
**   SELECT cache_set('greeting', 'hello', 60), cache_get('greeting');
**
** sqlite3_pocketcache_init registers the scalar functions (pcx_func.c) and
** the virtual tables (pcx_vtab.c) on one connection. Caches are
** process-wide, shared by every connection, so the init returns
** SQLITE_OK_LOAD_PERMANENTLY: closing the connection that loaded the
** extension must not unload code that other connections and their caches
** still use. Loading twice into a connection re-registers the same
** functions, which is harmless.
**
** The engine allocates with the C library's malloc, not sqlite3_malloc:
** Debian's SQLite keeps memory statistics under one global mutex, so every
** cache entry allocated through it would serialize the writers of every
** thread, and slows cache_set measurably in tests/bench/bench_sql.
** cache_stats reports the caches' own bytes instead of
** sqlite3_memory_used().
*/
#include "sqlite3ext.h"
SQLITE_EXTENSION_INIT1

#include "pcx.h"

#include <pthread.h>

/* SQLITE_EXTENSION_INIT2 would store the API pointer on every load, while
** functions of connections loaded earlier read it from other threads: the
** same value, but a data race all the same (ThreadSanitizer reports it).
** It is stored once, under a mutex; every later load finds it set. */
static pthread_mutex_t g_api_mutex = PTHREAD_MUTEX_INITIALIZER;
static void api_init(const sqlite3_api_routines *pApi) {
#ifndef SQLITE_CORE
  pthread_mutex_lock(&g_api_mutex);
  if (!sqlite3_api) sqlite3_api = pApi;
  pthread_mutex_unlock(&g_api_mutex);
#else
  (void)pApi; /* linked in: calls go to SQLite directly */
  (void)g_api_mutex;
#endif
}

__attribute__((visibility("default"))) int
sqlite3_pocketcache_init(sqlite3 *db, char **pzErrMsg,
                         const sqlite3_api_routines *pApi) {
  api_init(pApi);
  pcx_conn *conn = pcx_conn_new();
  if (!conn) return SQLITE_NOMEM;
  conn->refs = 1; /* ours, until registration is done */
  int rc = pcx_register_functions(db, conn);
  if (rc == SQLITE_OK) rc = pcx_register_vtabs(db, conn);
  pcx_conn_unref(conn);
  if (rc != SQLITE_OK) {
    *pzErrMsg = sqlite3_mprintf("pocketcache: registration failed: %s",
                                sqlite3_errmsg(db));
    return rc;
  }
#ifdef SQLITE_CORE
  return SQLITE_OK; /* linked in: there is nothing to unload */
#else
  return SQLITE_OK_LOAD_PERMANENTLY;
#endif
}
