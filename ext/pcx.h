/*
** pcx.h: what the files of ext/ share. ext/ is the SQLite glue: it turns
** sqlite3_value into pc_value and PC_* codes into SQL errors, and holds no
** caching logic. Only ext/pocketcache.c says SQLITE_EXTENSION_INIT1; the
** other files reach SQLite through the same sqlite3_api pointer.
*/
#ifndef PCX_H
#define PCX_H

#include "sqlite3ext.h"
#ifndef SQLITE_CORE
SQLITE_EXTENSION_INIT3
#endif

#include "pocketcache.h"

#include <stdint.h>

/* SQLite 3.45 added this flag for functions that set a result subtype;
** older versions ignore the bit. */
#ifndef SQLITE_RESULT_SUBTYPE
#define SQLITE_RESULT_SUBTYPE 0x001000000
#endif
#define PCX_JSON_SUBTYPE 'J'

/*
** Per-connection state, the user data of every function and the module.
** It keeps references to the caches this connection has named, and looks
** again only when pc_registry_version() moves, so a call does not take the
** registry lock. Functions of one connection run under the connection's
** mutex, so the state needs no lock of its own.
*/
#define PCX_SLOTS 8
typedef struct pcx_conn {
  int refs;         /* one per registration holding it; freed at zero */
  uint64_t version; /* pc_registry_version() when the slots were filled */
  pc_cache *dflt;   /* pc_cache_release; "default", or NULL */
  struct {
    char *name;  /* sqlite3_free */
    pc_cache *c; /* pc_cache_release */
  } slot[PCX_SLOTS];
  int next_slot; /* round-robin replacement */
} pcx_conn;

pcx_conn *pcx_conn_new(void);
void pcx_conn_unref(void *p); /* destructor for registrations */

/* The cache named by `name` (NULL = "default"), borrowed from the
** connection state: valid until the next lookup. NULL if none is open. */
pc_cache *pcx_cache(pcx_conn *conn, const char *name);

/* Key of an SQL value: TEXT and BLOB as they are, numbers in text form.
** Returns 1 for a NULL key, SQLITE_NOMEM on OOM, else 0. */
int pcx_key(sqlite3_value *v, const void **key, size_t *nkey);

/* A pc_value borrowing the SQL value's bytes. */
int pcx_value(sqlite3_value *v, pc_value *out);

/* Hands v to SQLite as the function result (without a copy when the
** engine gave a releasable buffer) and releases it. */
void pcx_result(sqlite3_context *ctx, pc_value *v);
/* The same for a column of a virtual table: SQLite copies, v is kept. */
void pcx_result_copy(sqlite3_context *ctx, const pc_value *v);

/* The SQL key form: TEXT if the bytes are valid UTF-8, else BLOB. */
void pcx_result_key(sqlite3_context *ctx, const void *key, size_t nkey);

/* TTL argument: NULL = default, numbers and numeric text per SPEC §3.
** On error writes the message (without function name) and returns
** PC_ERROR. */
int pcx_ttl(sqlite3_value *v, int64_t *ttl_ms);

/* Reports an engine error as "fname: message" with the matching code. */
void pcx_error(sqlite3_context *ctx, const char *fname, int rc);

/* The SQLite code for an engine code. */
int pcx_sqlite_code(int rc);

/* Registration of the parts. */
int pcx_register_functions(sqlite3 *db, pcx_conn *conn);
int pcx_register_vtabs(sqlite3 *db, pcx_conn *conn);

#endif /* PCX_H */
