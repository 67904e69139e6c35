/*
** pc_fs.c: the filesystem backend, pc__filesystem_backend ("filesystem").
**
**   SELECT cache_open('pages', '{"backend":"filesystem","cache_dir":".cache",
**                               "max_bytes":"1GB"}');
**
** What it owns
**   A store: the SQLite database <cache_dir>/pocketcache.db (schema in
**   sql/fs_schema.sql, embedded at build time), the pool of connections to
**   it, and the recency marks not yet written. Every thread and process
**   that opens the same directory shares the same entries. Expiries are
**   Unix time in milliseconds (wall_clock = true): they mean the same in
**   every process and after a reboot.
**
** How it works
**   - Connections. A pool: an operation takes an idle connection (or opens
**     one), uses its statements, prepared once, and gives it back, so
**     threads do not queue on one connection and idle connections stay
**     open. One idle connection sits in an atomic slot, taken and given
**     back without the pool's mutex: the one a lone thread uses call after
**     call. Connections are opened SQLITE_OPEN_NOMUTEX (the pool hands each
**     to one thread at a time) and SQLITE_OPEN_NOFOLLOW, in WAL mode with a
**     busy timeout, `synchronous` from the configuration. After fork() the
**     child leaves the parent's connections alone (closing or using them
**     would break the parent's locks) and opens its own; an atfork handler
**     tells it, so no operation pays for a getpid() call.
**   - Reads are single SELECTs in autocommit: in WAL mode they never wait
**     for a writer. A read never writes: an entry read with its visited bit
**     clear is noted in memory, and the next write transaction of this
**     process sets the bits of up to FS_VISITS noted entries.
**   - Writes run in BEGIN IMMEDIATE transactions, so a read-modify-write
**     (add, incr, touch, an overwrite that keeps the TTL) is atomic across
**     threads and processes; the busy timeout makes a writer wait for
**     another instead of failing. Each write also: sets the noted visited
**     bits; removes up to FS_RECLAIM expired entries, earliest expiry
**     bucket first, through the partial index on the bucket (never a
**     scan; see xbucket()), once the earliest expiry it knows of has
**     passed; evicts while the totals are
**     over max_entries or max_bytes; and updates the one-row totals table
**     in the same transaction when they moved. An overwrite of the same
**     size with nothing to reclaim is thus four statements: BEGIN, a
**     lookup, the UPDATE, COMMIT.
**   - Eviction is CLOCK (second chance) over key order: the hand moves
**     from where the last eviction stopped (meta.hand); an entry with its
**     visited bit set loses the bit and is passed, one without it is
**     removed. Recently read entries thus survive a lap, as in LRU, without
**     a write per read.
**   - Format. PRAGMA application_id tells a PocketCache store from another
**     SQLite file and PRAGMA user_version is the store format: a store of a
**     newer format is refused with an error, never guessed at.
**
** Why each bound exists
**   - FS_RECLAIM (8) expired entries per write: reclamation keeps up with
**     any steady rate of expiring writes while a write's cost stays
**     constant.
**   - FS_EVICT_SCAN (1024) rows examined per write at most: the clock passes
**     an entry twice at most before removing it, so this is enough to free
**     room for a value of max_value_bytes among small entries, and bounds a
**     write when nearly every entry was just read.
**   - FS_VISITS (256) noted reads: bounds memory and the extra work of one
**     write; reads past it are not noted (an approximation of recency).
**   - FS_BUSY_MS (10 s): the longest a write waits for other writers before
**     the error reaches the caller.
*/
#include "pc_internal.h"
#include "pc_hash.h"
#include "pc_sqlite.h"

#include "pc_fs_schema.h" /* pc_fs_schema_sql, from sql/fs_schema.sql */

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define FS_FORMAT 1          /* PRAGMA user_version of this store format */
#define FS_APP_ID 0x50436331 /* PRAGMA application_id: "PCc1" */
#define FS_DB_NAME "pocketcache.db"
#define FS_BUSY_MS 10000
#define FS_RECLAIM 8
#define FS_EVICT_SCAN 1024
#define FS_VISITS 256
#define FS_VISIT_SEEN 4096 /* bits of the noted-keys filter */
#define FS_VISIT_KEY 64    /* longer keys are not noted */
#define FS_SHM_MAP 4096    /* bytes of the WAL-index mapped: its header */

/* ---- Statements of a connection ---- */

enum {
  Q_BEGIN,
  Q_COMMIT,
  Q_ROLLBACK,
  Q_GET,
  Q_PEEK,
  Q_INSERT,
  Q_UPDATE,
  Q_UPDATE_SAME_XB,
  Q_DELETE,
  Q_TOUCH,
  Q_VISIT,
  Q_UNVISIT,
  Q_EXPIRED,
  Q_CLOCK,
  Q_CLOCK_START,
  Q_META,
  Q_META_ADD,
  Q_COUNT_LIVE,
  Q_DELETE_ALL,
  Q_META_CLEAR,
  Q_COUNT
};

static const char *const g_sql[Q_COUNT] = {
    [Q_BEGIN] = "BEGIN IMMEDIATE",
    [Q_COMMIT] = "COMMIT",
    [Q_ROLLBACK] = "ROLLBACK",
    [Q_GET] = "SELECT value, expires, visited FROM entry WHERE key = ?1",
    [Q_PEEK] = "SELECT size, expires, value FROM entry WHERE key = ?1",
    [Q_INSERT] = "INSERT INTO entry(key, value, expires, size, xb) "
                 "VALUES (?1, ?2, ?3, ?4, ?5)",
    [Q_UPDATE] = "UPDATE entry SET value = ?2, expires = ?3, size = ?4, "
                 "xb = ?5, visited = 1 WHERE key = ?1",
    /* Leaves xb, and so the index on it, untouched. */
    [Q_UPDATE_SAME_XB] = "UPDATE entry SET value = ?2, expires = ?3, "
                         "size = ?4, visited = 1 WHERE key = ?1",
    [Q_DELETE] = "DELETE FROM entry WHERE key = ?1",
    [Q_TOUCH] = "UPDATE entry SET expires = ?2, xb = ?3 WHERE key = ?1",
    [Q_VISIT] = "UPDATE entry SET visited = 1 WHERE key = ?1 AND visited = 0",
    [Q_UNVISIT] = "UPDATE entry SET visited = 0 WHERE key = ?1",
    [Q_EXPIRED] = "SELECT key, size, expires, xb FROM entry WHERE "
                  "xb IS NOT NULL ORDER BY xb LIMIT ?2",
    [Q_CLOCK] = "SELECT key, visited, size FROM entry WHERE key > ?1 "
                "ORDER BY key LIMIT ?2",
    [Q_CLOCK_START] = "SELECT key, visited, size FROM entry "
                      "ORDER BY key LIMIT ?2",
    [Q_META] = "SELECT entries, bytes, evictions, expirations, hand FROM meta",
    [Q_META_ADD] = "UPDATE meta SET entries = entries + ?1, "
                   "bytes = bytes + ?2, evictions = evictions + ?3, "
                   "expirations = expirations + ?4, hand = ?5",
    [Q_COUNT_LIVE] = "SELECT count(*) FROM entry WHERE expires > ?1",
    [Q_DELETE_ALL] = "DELETE FROM entry",
    [Q_META_CLEAR] = "UPDATE meta SET entries = 0, bytes = 0, hand = NULL",
};

typedef struct fs_conn fs_conn;
struct fs_conn {
  sqlite3 *db;               /* sqlite3_close */
  sqlite3_stmt *st[Q_COUNT]; /* sqlite3_finalize */
  fs_conn *next;             /* in the idle list */
};

typedef struct fs_store {
  char *path; /* pc__free; the database file */
  int sync;   /* PC_SYNC_* */
  int64_t max_entries, max_bytes;
  /* One idle connection taken and given back with one atomic exchange,
  ** no lock: what a single thread's operations use, one after another. */
  _Atomic(fs_conn *) hot;
  _Atomic unsigned gen; /* pc__fork_gen() the idle connections belong to */
  pthread_mutex_t mu;   /* guards the fields below */
  fs_conn *idle;        /* the other connections not in use; fs_conn_close */
  /* No entry expires before this (wall ms) as far as this store object
  ** knows: the reclamation step is skipped until then. Lowered by its own
  ** writes; an earlier expiry written by another process (or another cache
  ** on the same directory) waits for that time, which is never more than
  ** one expiry bucket (~65 s) ahead, so that the writer's exit cannot leave
  ** it unreclaimed (it is never served meanwhile: reads check expiry). */
  _Atomic int64_t reclaim_at;
  _Atomic int nvisits; /* keys read with their visited bit clear: */
  unsigned char vlen[FS_VISITS];
  unsigned char vkey[FS_VISITS][FS_VISIT_KEY];
  /* A key's hash bit set once it is noted: a hot key read many times
  ** before the next write is noted once (a rare collision loses a note,
  ** which only makes the recency more approximate). */
  uint64_t vseen[FS_VISIT_SEEN / 64];
  /* version(): see fs_version(). Written under watch_mu; shm and
  ** watch_gen are also read without it (shm published before watch_gen). */
  pthread_mutex_t watch_mu;           /* guards the fields below */
  fs_conn *watch;                     /* fs_conn_close; opened on first use */
  sqlite3_stmt *watch_st;             /* sqlite3_finalize */
  _Atomic(const unsigned char *) shm; /* munmap(FS_SHM_MAP); the WAL-index
                                         header, or NULL */
  int64_t dv_seen;            /* without shm: PRAGMA data_version last read */
  uint64_t version;           /* without shm, what version() returns:
                                 bumped by every change seen, and by every
                                 (re)opening of the watch, which cannot
                                 know what it missed */
  _Atomic unsigned watch_gen; /* pc__fork_gen() watch belongs to */
} fs_store;

/* The change a write transaction makes to the totals. */
typedef struct fs_delta {
  int64_t entries, bytes, evictions, expirations;
} fs_delta;

/* ---- Errors ---- */

/* An error of the store: the file and SQLite's words. */
static int fs_err(const fs_store *s, sqlite3 *db, const char *what) {
  int code = db ? sqlite3_extended_errcode(db) : SQLITE_ERROR;
  if (code == SQLITE_NOMEM) return pc__error(PC_NOMEM, "out of memory");
  return pc__error(PC_ERROR, "filesystem store '%s': %s: %s", s->path, what,
                   db ? sqlite3_errmsg(db) : "cannot open");
}

/* The file is an SQLite database of something else. */
static int err_not_store(const fs_store *s) {
  return pc__error(PC_ERROR,
                   "filesystem store '%s' is an SQLite database but not a "
                   "PocketCache store; remove it or choose another cache_dir",
                   s->path);
}

/* SQLite says the file is damaged or no database (rc NOTADB, CORRUPT). */
static int err_damaged(const fs_store *s, int rc) {
  return pc__error(PC_ERROR,
                   "filesystem store '%s' is damaged or not a database (%s); "
                   "remove the file to start an empty cache",
                   s->path, sqlite3_errstr(rc));
}

static bool is_damage(int rc) {
  return (rc & 0xff) == SQLITE_NOTADB || (rc & 0xff) == SQLITE_CORRUPT;
}

/* ---- Connections ---- */

static void fs_conn_close(fs_conn *c) {
  if (!c) return;
  for (int i = 0; i < Q_COUNT; i++)
    sqlite3_finalize(c->st[i]);
  sqlite3_close(c->db);
  pc__free(c);
}

/* Runs one statement that returns no row worth reading. */
static int exec1(sqlite3 *db, const char *sql) {
  return sqlite3_exec(db, sql, NULL, NULL, NULL);
}

/* One integer from a one-row query, or -1 with rc set. */
static int64_t query_int(sqlite3 *db, const char *sql, int *rc) {
  sqlite3_stmt *st = NULL;
  int64_t v = -1;
  *rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
  if (*rc == SQLITE_OK) {
    *rc = sqlite3_step(st);
    if (*rc == SQLITE_ROW) {
      v = sqlite3_column_int64(st, 0);
      *rc = SQLITE_OK;
    }
  }
  sqlite3_finalize(st);
  return v;
}

/* Puts the database in WAL mode (it stays so). Switching a new database
** needs its exclusive lock, and SQLite does not wait for that lock when
** waiting could deadlock: when several processes open a new store at
** once, the ones that lose retry here, FS_BUSY_MS at most. */
static int set_wal(sqlite3 *db) {
  int rc;
  for (int waited = 0;; waited += 5) {
    rc = exec1(db, "PRAGMA journal_mode = WAL");
    if ((rc & 0xff) != SQLITE_BUSY || waited >= FS_BUSY_MS) return rc;
    struct timespec ts = {0, 5 * 1000000L};
    nanosleep(&ts, NULL);
  }
}

/* application_id and user_version, read in one statement: one snapshot
** (read apart, another process's creation could fall between them). */
static int read_format(sqlite3 *db, int64_t *app, int64_t *ver) {
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_prepare_v2(db,
                              "SELECT a.application_id, v.user_version FROM "
                              "pragma_application_id() a, "
                              "pragma_user_version() v",
                              -1, &st, NULL);
  if (rc == SQLITE_OK) {
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
      *app = sqlite3_column_int64(st, 0);
      *ver = sqlite3_column_int64(st, 1);
      rc = SQLITE_OK;
    }
  }
  sqlite3_finalize(st);
  return rc;
}

/* Makes the file a store of this format, or says why it is not one. Runs
** once per store open, on its first connection. */
static int fs_check_format(fs_store *s, sqlite3 *db) {
  int64_t app = 0, ver = 0;
  int rc = read_format(db, &app, &ver);
  if (rc != SQLITE_OK) goto sqlite_error;
  if (app == 0 && ver == 0) {
    /* New, or another process is creating it: decide under the write
    ** lock, then look again. */
    rc = exec1(db, "BEGIN IMMEDIATE");
    if (rc != SQLITE_OK) goto sqlite_error;
    int64_t tables = query_int(db, "SELECT count(*) FROM sqlite_schema", &rc);
    if (rc == SQLITE_OK) rc = read_format(db, &app, &ver);
    if (rc == SQLITE_OK && app == 0 && tables > 0) {
      exec1(db, "ROLLBACK");
      return err_not_store(s);
    }
    if (rc == SQLITE_OK && app == 0) {
      rc = exec1(db, pc_fs_schema_sql);
      if (rc == SQLITE_OK) {
        char pragmas[96];
        snprintf(pragmas, sizeof pragmas,
                 "PRAGMA application_id = %d; PRAGMA user_version = %d",
                 FS_APP_ID, FS_FORMAT);
        rc = exec1(db, pragmas);
      }
    }
    if (rc == SQLITE_OK) rc = exec1(db, "COMMIT");
    if (rc != SQLITE_OK) {
      int keep = fs_err(s, db, "cannot create the store");
      exec1(db, "ROLLBACK");
      return keep;
    }
    rc = read_format(db, &app, &ver);
    if (rc != SQLITE_OK) goto sqlite_error;
  }
  if (app != FS_APP_ID) return err_not_store(s);
  if (ver > FS_FORMAT)
    return pc__error(PC_ERROR,
                     "filesystem store '%s' was written by a newer version "
                     "of PocketCache (store format %lld; this version reads "
                     "format %d)",
                     s->path, (long long)ver, FS_FORMAT);
  if (ver != FS_FORMAT)
    return pc__error(PC_ERROR,
                     "filesystem store '%s' has an unknown store format %lld",
                     s->path, (long long)ver);
  return PC_OK;
sqlite_error:
  if (is_damage(rc)) return err_damaged(s, rc);
  return fs_err(s, db, "cannot read the store");
}

/* What fs_conn_open() does beyond opening and setting up the connection. */
#define FS_CHECK_FORMAT 0x01 /* check or create the store format (first) */
#define FS_STATEMENTS 0x02   /* prepare the statements of g_sql */

static int fs_conn_open(fs_store *s, int what, fs_conn **out) {
  *out = NULL;
  fs_conn *c = pc__malloc(sizeof *c);
  if (!c) return pc__error(PC_NOMEM, "out of memory");
  memset(c, 0, sizeof *c);
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
#ifdef SQLITE_OPEN_NOFOLLOW
  flags |= SQLITE_OPEN_NOFOLLOW;
#endif
  int rc = sqlite3_open_v2(s->path, &c->db, flags, NULL);
  if (rc != SQLITE_OK) {
    rc = c->db ? fs_err(s, c->db, "cannot open")
               : pc__error(PC_NOMEM, "out of memory");
    fs_conn_close(c);
    return rc;
  }
  sqlite3_busy_timeout(c->db, FS_BUSY_MS);
  static const char *const sync_sql[] = {
      [PC_SYNC_OFF] = "PRAGMA synchronous = OFF",
      [PC_SYNC_NORMAL] = "PRAGMA synchronous = NORMAL",
      [PC_SYNC_FULL] = "PRAGMA synchronous = FULL"};
  rc = set_wal(c->db);
  if (rc == SQLITE_OK) rc = exec1(c->db, sync_sql[s->sync]);
  if (rc != SQLITE_OK) {
    int e = is_damage(rc) ? err_damaged(s, rc)
                          : fs_err(s, c->db, "cannot set up the connection");
    fs_conn_close(c);
    return e;
  }
  if (what & FS_CHECK_FORMAT) {
    rc = fs_check_format(s, c->db);
    if (rc != PC_OK) {
      fs_conn_close(c);
      return rc;
    }
  }
  for (int i = 0; (what & FS_STATEMENTS) && i < Q_COUNT; i++) {
    if (sqlite3_prepare_v3(c->db, g_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
                           &c->st[i], NULL) != SQLITE_OK) {
      rc = fs_err(s, c->db, "cannot prepare");
      fs_conn_close(c);
      return rc;
    }
  }
  *out = c;
  return PC_OK;
}

/* An idle connection of this process, or a new one. */
/* Forgets the noted reads (s->mu held). */
static void visits_clear_locked(fs_store *s) {
  s->nvisits = 0;
  memset(s->vseen, 0, sizeof s->vseen);
}

static int fs_acquire(fs_store *s, fs_conn **out) {
  unsigned gen = pc__fork_gen();
  fs_conn *c;
  if (gen == atomic_load_explicit(&s->gen, memory_order_relaxed) &&
      (c = atomic_exchange(&s->hot, NULL)) != NULL) {
    *out = c;
    return PC_OK;
  }
  pthread_mutex_lock(&s->mu);
  if (gen != s->gen) {
    /* A forked child: the parent's connections are not ours to use or to
    ** close (either would disturb the parent's locks). */
    s->idle = NULL;
    atomic_store(&s->hot, NULL);
    visits_clear_locked(s);
    s->gen = gen;
  }
  c = s->idle;
  if (c) s->idle = c->next;
  pthread_mutex_unlock(&s->mu);
  if (c) {
    *out = c;
    return PC_OK;
  }
  return fs_conn_open(s, FS_STATEMENTS, out);
}

static void fs_release(fs_store *s, fs_conn *c) {
  fs_conn *none = NULL;
  if (pc__fork_gen() == atomic_load_explicit(&s->gen, memory_order_relaxed) &&
      atomic_compare_exchange_strong(&s->hot, &none, c))
    return;
  pthread_mutex_lock(&s->mu);
  if (pc__fork_gen() == s->gen) {
    c->next = s->idle;
    s->idle = c;
    c = NULL;
  }
  pthread_mutex_unlock(&s->mu);
  if (c) fs_conn_close(c);
}

/* ---- Open and close ---- */

/* Creates dir and its missing parents with exactly `mode`. */
static int make_dirs(const char *dir, int mode) {
  char *p = pc__strdup(dir);
  if (!p) return pc__error(PC_NOMEM, "out of memory");
  int rc = PC_OK;
  for (char *q = p + 1;; q++) {
    if (*q != '/' && *q != 0) continue;
    char c = *q;
    *q = 0;
    if (mkdir(p, (mode_t)mode) == 0) {
      chmod(p, (mode_t)mode); /* whatever the umask */
    } else if (errno != EEXIST) {
      rc = pc__error(PC_ERROR, "cache_dir: cannot create directory '%s': %s", p,
                     strerror(errno));
      break;
    }
    *q = c;
    if (!c) break;
  }
  pc__free(p);
  return rc;
}

/* Refuses a directory that a user other than this one (or root) can
** write to: whoever can create or rename files in it can put a store of
** their own, or a link, where the database or its -wal and -shm files go,
** and so read or forge every entry. The sticky bit (/tmp) does not help:
** it stops others from removing our files, not from taking their names
** first. The owner can always chmod the directory, so it must be us; root
** may own it (a directory made for us under /var/cache), since root can
** write anywhere in any case. */
static int check_dir_private(const char *dir, const struct stat *st) {
  if (st->st_mode & S_IWOTH)
    return pc__error(PC_ERROR,
                     "cache_dir: '%s' is writable by every user (mode %04o); "
                     "refusing it",
                     dir, (unsigned)(st->st_mode & 07777));
  uid_t me = geteuid();
  if (st->st_uid != me && st->st_uid != 0)
    return pc__error(PC_ERROR,
                     "cache_dir: '%s' is owned by uid %u, not by this user "
                     "(uid %u) or root; refusing it",
                     dir, (unsigned)st->st_uid, (unsigned)me);
  return PC_OK;
}

/* Makes sure the directory exists and is fit to hold the store. */
static int fs_prepare_dir(const pc_config *cfg) {
  struct stat st;
  if (stat(cfg->cache_dir, &st) != 0) {
    if (errno != ENOENT)
      return pc__error(PC_ERROR, "cache_dir: cannot use '%s': %s",
                       cfg->cache_dir, strerror(errno));
    if (!cfg->create_dir)
      return pc__error(PC_ERROR,
                       "cache_dir: directory '%s' does not exist "
                       "(create_dir is false)",
                       cfg->cache_dir);
    int rc = make_dirs(cfg->cache_dir, cfg->dir_mode);
    if (rc != PC_OK) return rc;
    /* Checked like any other: another process may have made it first,
    ** and dir_mode itself may be open to every user. */
    if (stat(cfg->cache_dir, &st) != 0)
      return pc__error(PC_ERROR, "cache_dir: cannot use '%s': %s",
                       cfg->cache_dir, strerror(errno));
  }
  if (!S_ISDIR(st.st_mode))
    return pc__error(PC_ERROR, "cache_dir: '%s' is not a directory",
                     cfg->cache_dir);
  return check_dir_private(cfg->cache_dir, &st);
}

/* Makes sure the directory exists and the database file is a plain file
** of file_mode (created here, so that the umask does not decide its mode;
** SQLite gives the -wal and -shm files the mode of the database file). */
static int fs_prepare_files(const pc_config *cfg, const char *path) {
  int rc = fs_prepare_dir(cfg);
  if (rc != PC_OK) return rc;
  struct stat st;
  if (lstat(path, &st) == 0) {
    if (S_ISLNK(st.st_mode))
      return pc__error(PC_ERROR,
                       "filesystem store '%s' is a symbolic link; refusing "
                       "to open it",
                       path);
    if (!S_ISREG(st.st_mode))
      return pc__error(PC_ERROR, "filesystem store '%s' is not a file", path);
    return PC_OK;
  }
  if (errno != ENOENT)
    return pc__error(PC_ERROR, "filesystem store '%s': %s", path,
                     strerror(errno));
  int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                (mode_t)cfg->file_mode);
  if (fd < 0) {
    if (errno == EEXIST) return PC_OK; /* another process was first */
    return pc__error(PC_ERROR, "filesystem store '%s': cannot create: %s", path,
                     strerror(errno));
  }
  fchmod(fd, (mode_t)cfg->file_mode);
  close(fd);
  return PC_OK;
}

static void fs_close(void *b) {
  fs_store *s = b;
  if (!s) return;
  if (s->watch && s->watch_gen == pc__fork_gen()) {
    sqlite3_finalize(s->watch_st);
    fs_conn_close(s->watch);
  }
  if (s->shm) munmap((void *)s->shm, FS_SHM_MAP);
  pthread_mutex_destroy(&s->watch_mu);
  fs_conn *c = s->idle;
  if (pc__fork_gen() != s->gen) { /* a child leaves them alone */
    c = NULL;
  } else if (s->hot) {
    fs_conn_close(s->hot);
  }
  while (c) {
    fs_conn *next = c->next;
    fs_conn_close(c);
    c = next;
  }
  pthread_mutex_destroy(&s->mu);
  pc__free(s->path);
  pc__free(s);
}

static int fs_open(const pc_config *cfg, void **pb) {
  *pb = NULL;
  size_t n = strlen(cfg->cache_dir);
  fs_store *s = pc__malloc(sizeof *s);
  char *path = pc__malloc(n + sizeof "/" FS_DB_NAME);
  if (!s || !path) {
    pc__free(s);
    pc__free(path);
    return pc__error(PC_NOMEM, "out of memory");
  }
  memset(s, 0, sizeof *s);
  memcpy(path, cfg->cache_dir, n);
  memcpy(path + n, "/" FS_DB_NAME, sizeof "/" FS_DB_NAME);
  s->path = path;
  s->sync = cfg->synchronous;
  s->max_entries = cfg->max_entries;
  s->max_bytes = cfg->max_bytes;
  s->gen = pc__fork_gen();
  pthread_mutex_init(&s->mu, NULL);
  pthread_mutex_init(&s->watch_mu, NULL);
  int rc = fs_prepare_files(cfg, path);
  fs_conn *c = NULL;
  if (rc == PC_OK) rc = fs_conn_open(s, FS_CHECK_FORMAT | FS_STATEMENTS, &c);
  if (rc != PC_OK) {
    fs_close(s);
    return rc;
  }
  s->idle = c;
  *pb = s;
  return PC_OK;
}

/* ---- Expiry buckets ---- */

/* The expiry bucket an entry is indexed under: its expiry in units of
** 2^16 ms (about 65 s), NULL (-1 here) for an entry that never expires.
** Rewriting an entry with an expiry in the same bucket (a refresh with the
** same TTL within a minute) leaves the index page alone: one page less to
** write to the WAL per set. */
#define FS_XB_SHIFT 16
static int64_t xbucket(int64_t expires) {
  return expires == PC_EXPIRES_NEVER ? -1 : expires >> FS_XB_SHIFT;
}
static void bind_xb(sqlite3_stmt *st, int i, int64_t expires) {
  if (expires == PC_EXPIRES_NEVER)
    sqlite3_bind_null(st, i);
  else
    sqlite3_bind_int64(st, i, xbucket(expires));
}

/* ---- Copies ---- */

/* A copy of bytes read from a statement, kept past its reset. */
typedef struct fs_key {
  unsigned char *p; /* pc__free */
  size_t n;
} fs_key;

static int key_copy(fs_key *k, const void *p, size_t n) {
  k->p = pc__malloc(n ? n : 1);
  if (!k->p) return pc__error(PC_NOMEM, "out of memory");
  if (n) memcpy(k->p, p, n);
  k->n = n;
  return PC_OK;
}

static bool key_is(const fs_key *k, const void *p, size_t n) {
  return p && k->n == n && (n == 0 || memcmp(k->p, p, n) == 0);
}

/* A value for the engine: a copy of column i, released with pc__free. */
static int value_copy(sqlite3_stmt *st, int i, pc_buf *val) {
  fs_key v = {NULL, 0};
  int rc = key_copy(&v, sqlite3_column_blob(st, i),
                    (size_t)sqlite3_column_bytes(st, i));
  if (rc != PC_OK) return rc;
  val->p = v.p;
  val->n = v.n;
  val->free_fn = pc__free;
  return PC_OK;
}

/* ---- Reads ---- */

static void bind_key(sqlite3_stmt *st, int i, const void *key, size_t nkey) {
  sqlite3_bind_blob64(st, i, nkey ? key : "", nkey, SQLITE_STATIC);
}

static inline int64_t wall(int64_t *now) {
  if (*now == PC_NOW_LAZY) *now = pc_now_wall_ms();
  return *now;
}

/* Notes that key was read with its visited bit clear, once until the next
** write sets the noted bits. */
static void note_visit(fs_store *s, const void *key, size_t nkey) {
  if (nkey > FS_VISIT_KEY ||
      atomic_load_explicit(&s->nvisits, memory_order_relaxed) >= FS_VISITS)
    return; /* full until the next write: no hash, no lock */
  uint64_t h = pc__hash(key, nkey) % FS_VISIT_SEEN;
  uint64_t bit = (uint64_t)1 << (h % 64);
  pthread_mutex_lock(&s->mu);
  if (s->nvisits < FS_VISITS && !(s->vseen[h / 64] & bit)) {
    s->vseen[h / 64] |= bit;
    s->vlen[s->nvisits] = (unsigned char)nkey;
    if (nkey) memcpy(s->vkey[s->nvisits], key, nkey);
    s->nvisits++;
  }
  pthread_mutex_unlock(&s->mu);
}

static int fs_get(void *b, const void *key, size_t nkey, int64_t now,
                  pc_buf *val, int64_t *expires) {
  fs_store *s = b;
  fs_conn *c;
  int rc = fs_acquire(s, &c);
  if (rc != PC_OK) return rc;
  sqlite3_stmt *st = c->st[Q_GET];
  bind_key(st, 1, key, nkey);
  int src = sqlite3_step(st);
  if (src == SQLITE_ROW) {
    int64_t exp = sqlite3_column_int64(st, 1);
    if (exp != PC_EXPIRES_NEVER && exp <= wall(&now)) {
      rc = PC_NOTFOUND;
    } else {
      rc = value_copy(st, 0, val);
      if (rc == PC_OK && expires) *expires = exp;
      if (rc == PC_OK && !sqlite3_column_int(st, 2)) note_visit(s, key, nkey);
    }
  } else if (src == SQLITE_DONE) {
    rc = PC_NOTFOUND;
  } else {
    rc = fs_err(s, c->db, "read");
  }
  sqlite3_reset(st);
  fs_release(s, c);
  return rc;
}

/* ---- Write transactions ---- */

/* Steps a statement that returns no row; SQLITE_DONE expected. */
static int step_done(sqlite3_stmt *st) {
  int rc = sqlite3_step(st);
  sqlite3_reset(st);
  return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* Sets the visited bits noted since the last write. */
static int tx_visits(fs_store *s, fs_conn *c) {
  if (!atomic_load_explicit(&s->nvisits, memory_order_relaxed))
    return PC_OK; /* one noted just now waits for the next write */
  unsigned char len[FS_VISITS];
  unsigned char(*keys)[FS_VISIT_KEY] = pc__malloc(sizeof s->vkey);
  if (!keys) return pc__error(PC_NOMEM, "out of memory");
  pthread_mutex_lock(&s->mu);
  int n = s->nvisits;
  for (int i = 0; i < n; i++) {
    len[i] = s->vlen[i];
    memcpy(keys[i], s->vkey[i], len[i]);
  }
  visits_clear_locked(s);
  pthread_mutex_unlock(&s->mu);
  int rc = PC_OK;
  sqlite3_stmt *st = c->st[Q_VISIT];
  for (int i = 0; i < n && rc == PC_OK; i++) {
    bind_key(st, 1, keys[i], len[i]);
    if (step_done(st) != SQLITE_OK) rc = fs_err(s, c->db, "write");
  }
  pc__free(keys);
  return rc;
}

/* Lowers reclaim_at to an expiry this process just wrote. */
static void reclaim_hint(fs_store *s, int64_t expires) {
  int64_t at = atomic_load_explicit(&s->reclaim_at, memory_order_relaxed);
  while (expires < at &&
         !atomic_compare_exchange_weak(&s->reclaim_at, &at, expires)) {
  }
}

/* Removes up to FS_RECLAIM expired entries other than `keep`, oldest
** expiry first, when one may have expired (reclaim_at). */
static int tx_reclaim(fs_store *s, fs_conn *c, int64_t now, const void *keep,
                      size_t nkeep, fs_delta *d) {
  if (now < atomic_load_explicit(&s->reclaim_at, memory_order_relaxed))
    return PC_OK;
  fs_key keys[FS_RECLAIM];
  int64_t sizes[FS_RECLAIM], next = PC_EXPIRES_NEVER;
  int n = 0, rc = PC_OK, src;
  sqlite3_stmt *st = c->st[Q_EXPIRED];
  sqlite3_bind_int(st, 2, FS_RECLAIM + 1);
  /* Buckets in order; within one, keys in order: stop at the first bucket
  ** that starts after now, skip live entries of earlier buckets (the next
  ** reclamation is due when the first of them expires). */
  while (rc == PC_OK && (src = sqlite3_step(st)) == SQLITE_ROW) {
    int64_t exp = sqlite3_column_int64(st, 2);
    int64_t xb = sqlite3_column_int64(st, 3);
    if (xb > xbucket(now)) {
      next = xb << FS_XB_SHIFT < next ? xb << FS_XB_SHIFT : next;
      break;
    }
    if (n == FS_RECLAIM) {
      next = 0; /* more to do at the next write */
      break;
    }
    if (exp > now) {
      if (exp < next) next = exp;
      continue;
    }
    const void *k = sqlite3_column_blob(st, 0);
    size_t nk = (size_t)sqlite3_column_bytes(st, 0);
    if (key_is(&(fs_key){(unsigned char *)k, nk}, keep, nkeep)) {
      next = 0;
      continue;
    }
    sizes[n] = sqlite3_column_int64(st, 1);
    rc = key_copy(&keys[n], k, nk);
    if (rc == PC_OK) n++;
  }
  sqlite3_reset(st);
  if (rc == PC_OK && src != SQLITE_DONE && src != SQLITE_ROW)
    rc = fs_err(s, c->db, "write");
  for (int i = 0; i < n; i++) {
    if (rc == PC_OK) {
      bind_key(c->st[Q_DELETE], 1, keys[i].p, keys[i].n);
      if (step_done(c->st[Q_DELETE]) != SQLITE_OK) {
        rc = fs_err(s, c->db, "write");
      } else {
        d->entries--;
        d->bytes -= sizes[i];
        d->expirations++;
      }
    }
    pc__free(keys[i].p);
  }
  /* Others may write expiries this object never hears of: look again
  ** within one bucket's width at the latest. */
  int64_t cap = now + ((int64_t)1 << FS_XB_SHIFT);
  if (rc == PC_OK)
    atomic_store_explicit(&s->reclaim_at, next < cap ? next : cap,
                          memory_order_relaxed);
  return rc;
}

/* Reads the totals as they stand in this transaction, plus d. */
static int tx_meta(fs_store *s, fs_conn *c, const fs_delta *d, int64_t *entries,
                   int64_t *bytes, fs_key *hand) {
  sqlite3_stmt *st = c->st[Q_META];
  int rc = sqlite3_step(st), e = PC_OK;
  if (rc == SQLITE_ROW) {
    *entries = sqlite3_column_int64(st, 0) + d->entries;
    *bytes = sqlite3_column_int64(st, 1) + d->bytes;
    if (sqlite3_column_type(st, 4) == SQLITE_BLOB)
      e = key_copy(hand, sqlite3_column_blob(st, 4),
                   (size_t)sqlite3_column_bytes(st, 4));
  }
  sqlite3_reset(st);
  if (rc != SQLITE_ROW) return fs_err(s, c->db, "read totals");
  return e;
}

static bool over(const fs_store *s, int64_t entries, int64_t bytes) {
  return (s->max_entries && entries > s->max_entries) ||
         (s->max_bytes && bytes > s->max_bytes);
}

/* Evicts with the clock until the totals are within bounds, never `keep`;
** examines FS_EVICT_SCAN rows at most. Writes the totals and the hand. */
static int tx_finish(fs_store *s, fs_conn *c, const void *keep, size_t nkeep,
                     fs_delta *d) {
  if (!d->entries && !d->bytes && !d->evictions && !d->expirations)
    return PC_OK; /* the totals did not move: still within bounds, and the
                     totals' page stays clean */
  int64_t entries = 0, bytes = 0;
  fs_key hand = {NULL, 0}; /* NULL: the clock starts from the first key */
  int rc = tx_meta(s, c, d, &entries, &bytes, &hand);
  int examined = 0, wraps = 0;
  while (rc == PC_OK && over(s, entries, bytes) && examined < FS_EVICT_SCAN &&
         wraps < 3) {
    enum { BATCH = 64 };
    fs_key keys[BATCH];
    int64_t sizes[BATCH];
    int vis[BATCH], n = 0, src = SQLITE_DONE;
    sqlite3_stmt *st = c->st[hand.p ? Q_CLOCK : Q_CLOCK_START];
    if (hand.p) bind_key(st, 1, hand.p, hand.n);
    sqlite3_bind_int(st, 2, BATCH);
    while (rc == PC_OK && n < BATCH && (src = sqlite3_step(st)) == SQLITE_ROW) {
      vis[n] = sqlite3_column_int(st, 1);
      sizes[n] = sqlite3_column_int64(st, 2);
      rc = key_copy(&keys[n], sqlite3_column_blob(st, 0),
                    (size_t)sqlite3_column_bytes(st, 0));
      if (rc == PC_OK) n++;
    }
    sqlite3_reset(st);
    if (rc == PC_OK && n < BATCH && src != SQLITE_DONE)
      rc = fs_err(s, c->db, "evict");
    if (rc == PC_OK && n == 0) { /* the end of the table: start over */
      pc__free(hand.p);
      hand.p = NULL;
      wraps++;
    }
    int i = 0;
    for (; rc == PC_OK && i < n && over(s, entries, bytes); i++) {
      examined++;
      if (key_is(&keys[i], keep, nkeep)) continue;
      sqlite3_stmt *w = c->st[vis[i] ? Q_UNVISIT : Q_DELETE];
      bind_key(w, 1, keys[i].p, keys[i].n);
      if (step_done(w) != SQLITE_OK) {
        rc = fs_err(s, c->db, "evict");
      } else if (!vis[i]) {
        entries--;
        bytes -= sizes[i];
        d->entries--;
        d->bytes -= sizes[i];
        d->evictions++;
      }
    }
    if (i > 0) { /* the hand stops at the last key examined */
      pc__free(hand.p);
      hand = keys[i - 1];
      keys[i - 1].p = NULL;
    }
    for (int k = 0; k < n; k++)
      pc__free(keys[k].p);
  }
  if (rc == PC_OK) {
    sqlite3_stmt *st = c->st[Q_META_ADD];
    sqlite3_bind_int64(st, 1, d->entries);
    sqlite3_bind_int64(st, 2, d->bytes);
    sqlite3_bind_int64(st, 3, d->evictions);
    sqlite3_bind_int64(st, 4, d->expirations);
    if (hand.p)
      bind_key(st, 5, hand.p, hand.n);
    else
      sqlite3_bind_null(st, 5);
    if (step_done(st) != SQLITE_OK) rc = fs_err(s, c->db, "write totals");
  }
  pc__free(hand.p);
  return rc;
}

/* The entry under key as this transaction sees it. */
typedef struct fs_row {
  bool found, live;
  int64_t size, expires;
} fs_row;

static int tx_peek(fs_store *s, fs_conn *c, const void *key, size_t nkey,
                   int64_t *now, fs_row *r, const pc_int_codec *codec,
                   int64_t *ival, int *irc) {
  sqlite3_stmt *st = c->st[Q_PEEK];
  bind_key(st, 1, key, nkey);
  int rc = sqlite3_step(st);
  memset(r, 0, sizeof *r);
  if (rc == SQLITE_ROW) {
    r->found = true;
    r->size = sqlite3_column_int64(st, 0);
    r->expires = sqlite3_column_int64(st, 1);
    r->live = r->expires == PC_EXPIRES_NEVER || r->expires > wall(now);
    if (codec && r->live)
      *irc = codec->decode(sqlite3_column_blob(st, 2),
                           (size_t)sqlite3_column_bytes(st, 2), ival);
  }
  sqlite3_reset(st);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return fs_err(s, c->db, "read");
  return PC_OK;
}

/* Writes (key, val, expires) over row r or as a new row. */
static int tx_put(fs_store *s, fs_conn *c, const fs_row *r, const void *key,
                  size_t nkey, const void *val, size_t nval, int64_t expires,
                  fs_delta *d) {
  int64_t size = (int64_t)(nkey + nval);
  if (expires != PC_EXPIRES_NEVER) reclaim_hint(s, expires);
  sqlite3_stmt *st;
  bool same_xb = r->found && xbucket(r->expires) == xbucket(expires);
  if (r->found) {
    st = c->st[same_xb ? Q_UPDATE_SAME_XB : Q_UPDATE];
    d->bytes += size - r->size;
    if (!r->live) d->expirations++;
  } else {
    st = c->st[Q_INSERT];
    d->entries++;
    d->bytes += size;
  }
  bind_key(st, 1, key, nkey);
  sqlite3_bind_blob64(st, 2, nval ? val : "", nval, SQLITE_STATIC);
  sqlite3_bind_int64(st, 3, expires);
  sqlite3_bind_int64(st, 4, size);
  if (!same_xb) bind_xb(st, 5, expires);
  if (step_done(st) != SQLITE_OK) return fs_err(s, c->db, "write");
  return PC_OK;
}

/*
** A write: one BEGIN IMMEDIATE transaction on one key. tx_open() takes a
** connection, begins, sets the visited bits noted since the last write
** and reads the key's row (and, with a codec, its integer value);
** tx_close() ends it: for an outcome that keeps the transaction (PC_OK,
** PC_EXISTS, PC_NOTFOUND) it reclaims expired entries, evicts and writes
** the totals, then commits; otherwise it rolls back. Either way it gives
** the connection back and returns the outcome.
*/
typedef struct fs_tx {
  fs_store *s;
  fs_conn *c; /* fs_release; NULL when none was taken */
  bool begun;
  fs_row r;   /* the key's row as the transaction found it */
  fs_delta d; /* what the transaction changes in the totals */
} fs_tx;

static int tx_open(fs_store *s, fs_tx *t, const void *key, size_t nkey,
                   int64_t *now, const pc_int_codec *codec, int64_t *ival,
                   int *irc) {
  memset(t, 0, sizeof *t);
  t->s = s;
  int rc = fs_acquire(s, &t->c);
  if (rc != PC_OK) {
    t->c = NULL;
    return rc;
  }
  if (step_done(t->c->st[Q_BEGIN]) != SQLITE_OK)
    return fs_err(s, t->c->db, "cannot begin a write");
  t->begun = true;
  rc = tx_visits(s, t->c);
  if (rc == PC_OK && key)
    rc = tx_peek(s, t->c, key, nkey, now, &t->r, codec, ival, irc);
  return rc;
}

static bool keeps(int rc) {
  return rc == PC_OK || rc == PC_EXISTS || rc == PC_NOTFOUND;
}

/* `keep` (may be NULL) is the key just written: never reclaimed nor
** evicted by this transaction. */
static int tx_close(fs_tx *t, int rc, const void *keep, size_t nkeep,
                    int64_t *now) {
  fs_store *s = t->s;
  fs_conn *c = t->c;
  if (!c) return rc;
  if (t->begun && keeps(rc)) {
    int e = tx_reclaim(s, c, wall(now), keep, nkeep, &t->d);
    if (e == PC_OK) e = tx_finish(s, c, keep, nkeep, &t->d);
    if (e == PC_OK && step_done(c->st[Q_COMMIT]) != SQLITE_OK)
      e = fs_err(s, c->db, "cannot commit");
    if (e != PC_OK) rc = e;
  }
  if (t->begun && !keeps(rc)) step_done(c->st[Q_ROLLBACK]);
  fs_release(s, c);
  return rc;
}

static int fs_set(void *b, const void *key, size_t nkey, const void *val,
                  size_t nval, int64_t expires, int flags, int64_t now) {
  fs_store *s = b;
  if (s->max_bytes && (int64_t)(nkey + nval) > s->max_bytes)
    return pc__error(PC_TOOBIG, "value is larger than max_bytes");
  fs_tx t;
  int rc = tx_open(s, &t, key, nkey, &now, NULL, NULL, NULL);
  if (rc == PC_OK) {
    if ((flags & PC_SET_NX) && t.r.live) {
      rc = PC_EXISTS;
    } else if ((flags & PC_SET_XX) && !t.r.live) {
      rc = PC_NOTFOUND;
    } else {
      if ((flags & PC_SET_KEEPTTL) && t.r.live) expires = t.r.expires;
      rc = tx_put(s, t.c, &t.r, key, nkey, val, nval, expires, &t.d);
    }
  }
  return tx_close(&t, rc, key, nkey, &now);
}

static int fs_del(void *b, const void *key, size_t nkey, int64_t now) {
  fs_store *s = b;
  fs_tx t;
  int rc = tx_open(s, &t, key, nkey, &now, NULL, NULL, NULL);
  if (rc == PC_OK && t.r.found) {
    bind_key(t.c->st[Q_DELETE], 1, key, nkey);
    if (step_done(t.c->st[Q_DELETE]) != SQLITE_OK) {
      rc = fs_err(s, t.c->db, "write");
    } else {
      t.d.entries--;
      t.d.bytes -= t.r.size;
      if (!t.r.live) t.d.expirations++;
    }
  }
  if (rc == PC_OK && !t.r.live) rc = PC_NOTFOUND;
  return tx_close(&t, rc, NULL, 0, &now);
}

static int fs_clear(void *b, int64_t now, int64_t *removed) {
  fs_store *s = b;
  pthread_mutex_lock(&s->mu);
  visits_clear_locked(s);
  pthread_mutex_unlock(&s->mu);
  fs_tx t;
  int rc = tx_open(s, &t, NULL, 0, &now, NULL, NULL, NULL);
  if (rc == PC_OK) {
    sqlite3_stmt *st = t.c->st[Q_COUNT_LIVE];
    sqlite3_bind_int64(st, 1, wall(&now));
    int src = sqlite3_step(st);
    if (src == SQLITE_ROW) *removed = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    if (src != SQLITE_ROW || step_done(t.c->st[Q_DELETE_ALL]) != SQLITE_OK ||
        step_done(t.c->st[Q_META_CLEAR]) != SQLITE_OK)
      rc = fs_err(s, t.c->db, "clear");
  }
  return tx_close(&t, rc, NULL, 0, &now);
}

static int fs_touch(void *b, const void *key, size_t nkey, int64_t expires,
                    int64_t now) {
  fs_store *s = b;
  fs_tx t;
  int rc = tx_open(s, &t, key, nkey, &now, NULL, NULL, NULL);
  if (rc == PC_OK && !t.r.live) rc = PC_NOTFOUND;
  if (rc == PC_OK) {
    sqlite3_stmt *st = t.c->st[Q_TOUCH];
    if (expires != PC_EXPIRES_NEVER) reclaim_hint(s, expires);
    bind_key(st, 1, key, nkey);
    sqlite3_bind_int64(st, 2, expires);
    bind_xb(st, 3, expires);
    if (step_done(st) != SQLITE_OK) rc = fs_err(s, t.c->db, "write");
  }
  return tx_close(&t, rc, key, nkey, &now);
}

static int fs_incr(void *b, const void *key, size_t nkey, int64_t delta,
                   int64_t expires, int64_t now, const pc_int_codec *codec,
                   int64_t *result) {
  fs_store *s = b;
  fs_tx t;
  int64_t cur = 0, next = 0;
  int irc = PC_OK;
  int rc = tx_open(s, &t, key, nkey, &now, codec, &cur, &irc);
  if (rc == PC_OK && t.r.live) {
    rc = irc;
    expires = t.r.expires;
  }
  if (rc == PC_OK && __builtin_add_overflow(cur, delta, &next))
    rc = pc__error(PC_ERROR, "integer overflow");
  if (rc == PC_OK) {
    unsigned char buf[PC_INT_ENCODED_MAX];
    size_t n = codec->encode(next, buf);
    rc = tx_put(s, t.c, &t.r, key, nkey, buf, n, expires, &t.d);
  }
  rc = tx_close(&t, rc, key, nkey, &now);
  if (rc == PC_OK) *result = next;
  return rc;
}

/* ---- Scan ---- */

/*
** An iteration holds one connection and one statement for its life: a
** range scan of the key index from the prefix (or of the whole table when
** letters match either case), in one read transaction, so it sees one
** snapshot of the store.
*/
typedef struct fs_iter {
  fs_store *s;
  fs_conn *c;            /* held until close */
  sqlite3_stmt *st;      /* sqlite3_finalize */
  unsigned char *prefix; /* pc__free */
  size_t nprefix;
  int nocase;
  int64_t now;
  unsigned char *key; /* pc__free; the current key */
  size_t akey;
} fs_iter;

static bool prefix_match(const unsigned char *k, size_t nk,
                         const unsigned char *p, size_t np, int nocase) {
  if (nk < np) return false;
  for (size_t i = 0; i < np; i++) {
    unsigned char a = k[i], b = p[i];
    if (nocase) {
      if (a >= 'A' && a <= 'Z') a = (unsigned char)(a + 32);
      if (b >= 'A' && b <= 'Z') b = (unsigned char)(b + 32);
    }
    if (a != b) return false;
  }
  return true;
}

static void fs_scan_close(void *p) {
  fs_iter *it = p;
  if (!it) return;
  sqlite3_finalize(it->st);
  if (it->c) fs_release(it->s, it->c);
  pc__free(it->prefix);
  pc__free(it->key);
  pc__free(it);
}

static int fs_scan_open(void *b, const void *prefix, size_t nprefix, int nocase,
                        int64_t now, void **pit) {
  fs_store *s = b;
  *pit = NULL;
  fs_iter *it = pc__malloc(sizeof *it);
  if (!it) return pc__error(PC_NOMEM, "out of memory");
  memset(it, 0, sizeof *it);
  it->s = s;
  it->nocase = nocase;
  it->now = now;
  it->nprefix = nprefix;
  it->prefix = pc__malloc(nprefix ? nprefix : 1);
  if (!it->prefix) {
    fs_scan_close(it);
    return pc__error(PC_NOMEM, "out of memory");
  }
  if (nprefix) memcpy(it->prefix, prefix, nprefix);
  int rc = fs_acquire(s, &it->c);
  if (rc != PC_OK) {
    fs_scan_close(it);
    return rc;
  }
  bool ranged = nprefix && !nocase;
  const char *sql = ranged ? "SELECT key, value, expires FROM entry WHERE "
                             "key >= ?1 ORDER BY key"
                           : "SELECT key, value, expires FROM entry "
                             "ORDER BY key";
  if (sqlite3_prepare_v2(it->c->db, sql, -1, &it->st, NULL) != SQLITE_OK) {
    rc = fs_err(s, it->c->db, "scan");
    fs_scan_close(it);
    return rc;
  }
  if (ranged) bind_key(it->st, 1, it->prefix, nprefix);
  *pit = it;
  return PC_OK;
}

static int fs_scan_next(void *p, pc_backend_item *item) {
  fs_iter *it = p;
  for (;;) {
    int rc = sqlite3_step(it->st);
    if (rc == SQLITE_DONE) return PC_DONE;
    if (rc != SQLITE_ROW) return fs_err(it->s, it->c->db, "scan");
    const unsigned char *k = sqlite3_column_blob(it->st, 0);
    size_t nk = (size_t)sqlite3_column_bytes(it->st, 0);
    if (!prefix_match(k, nk, it->prefix, it->nprefix, it->nocase)) {
      if (!it->nocase && it->nprefix) return PC_DONE; /* past the range */
      continue;
    }
    int64_t exp = sqlite3_column_int64(it->st, 2);
    if (exp != PC_EXPIRES_NEVER && exp <= it->now) continue;
    if (nk > it->akey || !it->key) {
      unsigned char *nkb = pc__malloc(nk ? nk : 1);
      if (!nkb) return pc__error(PC_NOMEM, "out of memory");
      pc__free(it->key);
      it->key = nkb;
      it->akey = nk;
    }
    if (nk) memcpy(it->key, k, nk);
    int vrc = value_copy(it->st, 1, &item->val);
    if (vrc != PC_OK) return vrc;
    item->key = it->key;
    item->nkey = nk;
    item->expires = exp;
    return PC_OK;
  }
}

/* ---- Version (for a memory tier) ---- */

/*
** A commit by any connection of any process rewrites the header of the
** WAL-index (the -shm file, format documented in SQLite's walformat.html):
** mxFrame grows with every commit, and the salts change when the WAL
** starts over. version() maps that header read-only and returns a hash of
** its first 48 bytes: no system call, no SQLite lock, no mutex. A torn
** read only looks like a change (the tier is dropped for nothing); a
** completed commit always changes the bytes, so the hash (but for a
** 64-bit collision).
**
** The watch connection keeps the -shm file alive: while it is open it
** holds its shared lock on the database, so no other connection can be
** the last one to close and remove the file. If the file cannot be mapped
** (another VFS), PRAGMA data_version on the watch connection is the test
** instead: it moves with every commit of any other connection, at the
** cost of a read transaction per call.
*/
int pc__fs_map_wal_index = 1;

static int fs_watch_open(fs_store *s) {
  s->version++; /* without shm, a first open or a forked child's cannot
                   know what it missed: a change */
  s->dv_seen = -1;
  const unsigned char *old = s->shm;
  s->shm = NULL;
  if (old) munmap((void *)old, FS_SHM_MAP); /* the parent's mapping */
  int rc = fs_conn_open(s, 0, &s->watch);   /* one statement of its own */
  if (rc != PC_OK) return rc;
  if (sqlite3_prepare_v3(s->watch->db, "PRAGMA data_version", -1,
                         SQLITE_PREPARE_PERSISTENT, &s->watch_st,
                         NULL) != SQLITE_OK ||
      sqlite3_step(s->watch_st) != SQLITE_ROW) {
    rc = fs_err(s, s->watch->db, "cannot read the data version");
    sqlite3_finalize(s->watch_st);
    fs_conn_close(s->watch);
    s->watch = NULL;
    s->watch_st = NULL;
    return rc;
  }
  sqlite3_reset(s->watch_st);
  if (!pc__fs_map_wal_index) return PC_OK;
  /* The read above made sure the WAL-index exists. */
  size_t n = strlen(s->path);
  char *shm = pc__malloc(n + sizeof "-shm");
  if (!shm) return PC_OK; /* the PRAGMA does the work */
  memcpy(shm, s->path, n);
  memcpy(shm + n, "-shm", sizeof "-shm");
  int fd = open(shm, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  pc__free(shm);
  if (fd < 0) return PC_OK;
  struct stat st;
  void *p = MAP_FAILED;
  if (fstat(fd, &st) == 0 && st.st_size >= FS_SHM_MAP)
    p = mmap(NULL, FS_SHM_MAP, PROT_READ, MAP_SHARED, fd, 0);
  close(fd);
  if (p != MAP_FAILED) s->shm = p;
  return PC_OK;
}

/* The version of a mapped WAL-index header: a hash of its bytes (never 0,
** which would mean changes unheard). Any change of the bytes changes it,
** but for a collision of 64-bit hashes. */
static uint64_t shm_version(const unsigned char *shm) {
  unsigned char now[48];
  atomic_thread_fence(memory_order_acquire);
  memcpy(now, shm, sizeof now);
  return pc__hash(now, sizeof now) | 1;
}

static int fs_version(void *b, uint64_t *out) {
  fs_store *s = b;
  unsigned gen = pc__fork_gen();
  /* With the header mapped by this process: no lock (a get through a
  ** memory tier calls this every time, from every thread). watch_gen
  ** first: a forked child that sees its own generation sees the mapping
  ** made for it, not its parent's. */
  if (atomic_load_explicit(&s->watch_gen, memory_order_acquire) == gen) {
    const unsigned char *shm =
        atomic_load_explicit(&s->shm, memory_order_acquire);
    if (shm) {
      *out = shm_version(shm);
      return PC_OK;
    }
  }
  int rc = PC_OK;
  pthread_mutex_lock(&s->watch_mu);
  if (s->watch && s->watch_gen != gen) {
    s->watch = NULL; /* the parent's, after fork: left alone */
    s->watch_st = NULL;
  }
  if (!s->watch) {
    rc = fs_watch_open(s);
    atomic_store_explicit(&s->watch_gen, gen, memory_order_release);
  }
  if (rc == PC_OK && s->shm) {
    *out = shm_version(s->shm);
  } else if (rc == PC_OK) {
    if (sqlite3_step(s->watch_st) == SQLITE_ROW) {
      int64_t dv = sqlite3_column_int64(s->watch_st, 0);
      if (dv != s->dv_seen) {
        s->dv_seen = dv;
        s->version++;
      }
      *out = s->version;
    } else {
      rc = fs_err(s, s->watch->db, "read the data version");
    }
    sqlite3_reset(s->watch_st);
  }
  pthread_mutex_unlock(&s->watch_mu);
  return rc;
}

/* ---- Statistics ---- */

static void fs_stats(void *b, pc_stats *out) {
  fs_store *s = b;
  fs_conn *c;
  if (fs_acquire(s, &c) != PC_OK) return;
  sqlite3_stmt *st = c->st[Q_META];
  if (sqlite3_step(st) == SQLITE_ROW) {
    out->entries = sqlite3_column_int64(st, 0);
    out->bytes = sqlite3_column_int64(st, 1);
    out->evictions = sqlite3_column_int64(st, 2);
    out->expirations = sqlite3_column_int64(st, 3);
  }
  sqlite3_reset(st);
  fs_release(s, c);
}

const pc_backend_methods pc__filesystem_backend = {
    .name = "filesystem",
    .wall_clock = true,
    .open = fs_open,
    .close = fs_close,
    .get = fs_get,
    .set = fs_set,
    .del = fs_del,
    .clear = fs_clear,
    .touch = fs_touch,
    .incr = fs_incr,
    .scan_open = fs_scan_open,
    .scan_next = fs_scan_next,
    .scan_close = fs_scan_close,
    .stats = fs_stats,
    .version = fs_version,
};
