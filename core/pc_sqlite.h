/*
** pc_sqlite.h: how core/ reaches SQLite (the filesystem backend's store).
**
** Inside the loadable extension (PC_SQLITE_EXT) every call goes through the
** API pointer SQLite handed to sqlite3_pocketcache_init, so the store is
** opened by the very library the host process runs: a second copy of SQLite
** in one process breaks its POSIX lock bookkeeping and can corrupt a
** database. A build of core for plain C programs and the unit tests links
** the system library instead.
*/
#ifndef PC_SQLITE_H
#define PC_SQLITE_H

#ifdef PC_SQLITE_EXT
#include "sqlite3ext.h"
SQLITE_EXTENSION_INIT3
#else
#include <sqlite3.h>
#endif

#endif /* PC_SQLITE_H */
