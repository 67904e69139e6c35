/*
** custom_backend.c: a storage backend of one's own, registered by name and
** chosen by configuration, from C and from SQL.
**
**   cc custom_backend.c $(pkg-config --cflags --libs pocketcache sqlite3)
**   ./a.out
**
** "fifo" keeps at most `capacity` entries (options='capacity=N') in a list
** under one mutex and evicts the oldest when full. It implements what a
** backend must (open, close, get, set, del, clear) and, of the optional
** methods, scan and stats; the engine composes the rest (a get per key
** for `WHERE key IN (...)`) or says the backend cannot (cache_touch,
** cache_incr). A backend sees bytes and absolute expiries only: the
** engine serializes values, applies TTL rules and counts hits and misses.
*/
#include <pocketcache.h>
#include <sqlite3.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct entry {
  struct entry *next; /* newer */
  size_t nkey, nval;
  int64_t expires; /* monotonic ms, or PC_EXPIRES_NEVER */
  unsigned char bytes[];
} entry;

typedef struct fifo {
  pthread_mutex_t mu;
  entry *oldest, *newest;
  long count, capacity, evictions;
} fifo;

/* `now` may be PC_NOW_LAZY: the engine did not read the clock. */
static int64_t clock_now(int64_t now) {
  return now == PC_NOW_LAZY ? pc_now_mono_ms() : now;
}

static int live(const entry *e, int64_t *now) {
  if (e->expires == PC_EXPIRES_NEVER) return 1;
  *now = clock_now(*now);
  return e->expires > *now;
}

static int fifo_open(const pc_config *cfg, void **pb) {
  fifo *f = calloc(1, sizeof *f);
  if (!f) return PC_NOMEM;
  f->capacity = 100;
  const char *opt = pc_config_options(cfg);
  int end = 0;
  if (opt && (sscanf(opt, "capacity=%ld%n", &f->capacity, &end) != 1 ||
              opt[end] != 0 || f->capacity < 1)) {
    free(f);
    return PC_ERROR; /* the engine reports that open failed */
  }
  pthread_mutex_init(&f->mu, NULL);
  *pb = f;
  return PC_OK;
}

static void drop_all(fifo *f) {
  for (entry *e = f->oldest, *n; e; e = n) {
    n = e->next;
    free(e);
  }
  f->oldest = f->newest = NULL;
  f->count = 0;
}

static void fifo_close(void *b) {
  fifo *f = b;
  drop_all(f);
  pthread_mutex_destroy(&f->mu);
  free(f);
}

/* The entry under key and the one before it (mu held). */
static entry *find(fifo *f, const void *key, size_t nkey, entry **prev) {
  *prev = NULL;
  for (entry *e = f->oldest; e; *prev = e, e = e->next)
    if (e->nkey == nkey && memcmp(e->bytes, key, nkey) == 0) return e;
  return NULL;
}

static void unlink_entry(fifo *f, entry *e, entry *prev) {
  if (prev)
    prev->next = e->next;
  else
    f->oldest = e->next;
  if (f->newest == e) f->newest = prev;
  f->count--;
}

static int fifo_get(void *b, const void *key, size_t nkey, int64_t now,
                    pc_buf *val, int64_t *expires) {
  fifo *f = b;
  pthread_mutex_lock(&f->mu);
  entry *prev, *e = find(f, key, nkey, &prev);
  int rc = PC_NOTFOUND;
  if (e && live(e, &now)) {
    /* A copy: the entry may go once the lock is released. */
    unsigned char *copy = malloc(e->nval ? e->nval : 1);
    if (!copy) {
      rc = PC_NOMEM;
    } else {
      memcpy(copy, e->bytes + e->nkey, e->nval);
      *val = (pc_buf){copy, e->nval, free};
      if (expires) *expires = e->expires;
      rc = PC_OK;
    }
  }
  pthread_mutex_unlock(&f->mu);
  return rc;
}

static int fifo_set(void *b, const void *key, size_t nkey, const void *val,
                    size_t nval, int64_t expires, int flags, int64_t now) {
  fifo *f = b;
  pthread_mutex_lock(&f->mu);
  entry *prev, *old = find(f, key, nkey, &prev);
  int present = old && live(old, &now);
  if ((flags & PC_SET_NX) && present) {
    pthread_mutex_unlock(&f->mu);
    return PC_EXISTS;
  }
  if ((flags & PC_SET_XX) && !present) {
    pthread_mutex_unlock(&f->mu);
    return PC_NOTFOUND;
  }
  entry *e = malloc(sizeof *e + nkey + nval);
  if (!e) {
    pthread_mutex_unlock(&f->mu);
    return PC_NOMEM;
  }
  e->next = NULL;
  e->nkey = nkey;
  e->nval = nval;
  e->expires = (flags & PC_SET_KEEPTTL) && present ? old->expires : expires;
  memcpy(e->bytes, key, nkey);
  if (nval) memcpy(e->bytes + nkey, val, nval);
  if (old) {
    unlink_entry(f, old, prev);
    free(old);
  }
  while (f->count >= f->capacity) { /* the oldest goes */
    entry *victim = f->oldest;
    unlink_entry(f, victim, NULL);
    free(victim);
    f->evictions++;
  }
  if (f->newest)
    f->newest->next = e;
  else
    f->oldest = e;
  f->newest = e;
  f->count++;
  pthread_mutex_unlock(&f->mu);
  return PC_OK;
}

static int fifo_del(void *b, const void *key, size_t nkey, int64_t now) {
  fifo *f = b;
  pthread_mutex_lock(&f->mu);
  entry *prev, *e = find(f, key, nkey, &prev);
  int rc = e && live(e, &now) ? PC_OK : PC_NOTFOUND;
  if (e) {
    unlink_entry(f, e, prev);
    free(e);
  }
  pthread_mutex_unlock(&f->mu);
  return rc;
}

static int fifo_clear(void *b, int64_t now, int64_t *removed) {
  fifo *f = b;
  pthread_mutex_lock(&f->mu);
  int64_t n = 0;
  for (entry *e = f->oldest; e; e = e->next)
    n += live(e, &now);
  drop_all(f);
  pthread_mutex_unlock(&f->mu);
  *removed = n;
  return PC_OK;
}

/* Scans a snapshot: the matching live entries, copied under the lock. */
typedef struct fifo_scan {
  entry **items;
  size_t n, pos;
} fifo_scan;

static int prefix_match(const entry *e, const void *prefix, size_t np,
                        int nocase) {
  if (e->nkey < np) return 0;
  const unsigned char *k = e->bytes, *p = prefix;
  for (size_t i = 0; i < np; i++) {
    unsigned char a = k[i], c = p[i];
    if (nocase && a >= 'A' && a <= 'Z') a += 32;
    if (nocase && c >= 'A' && c <= 'Z') c += 32;
    if (a != c) return 0;
  }
  return 1;
}

static int fifo_scan_open(void *b, const void *prefix, size_t nprefix,
                          int nocase, int64_t now, void **pit) {
  fifo *f = b;
  fifo_scan *s = calloc(1, sizeof *s);
  if (!s) return PC_NOMEM;
  pthread_mutex_lock(&f->mu);
  s->items = calloc((size_t)f->count + 1, sizeof *s->items);
  int nomem = !s->items;
  for (entry *e = f->oldest; !nomem && e; e = e->next) {
    if (!live(e, &now) || !prefix_match(e, prefix, nprefix, nocase)) continue;
    entry *c = malloc(sizeof *c + e->nkey + e->nval);
    if (!c) {
      nomem = 1;
      break;
    }
    memcpy(c, e, sizeof *c + e->nkey + e->nval);
    s->items[s->n++] = c;
  }
  pthread_mutex_unlock(&f->mu);
  if (nomem) { /* never a partial snapshot passed off as whole */
    for (size_t i = 0; i < s->n; i++)
      free(s->items[i]);
    free(s->items);
    free(s);
    return PC_NOMEM;
  }
  *pit = s;
  return PC_OK;
}

static int fifo_scan_next(void *it, pc_backend_item *item) {
  fifo_scan *s = it;
  if (s->pos == s->n) return PC_DONE;
  entry *e = s->items[s->pos++];
  unsigned char *copy = malloc(e->nval ? e->nval : 1);
  if (!copy) return PC_NOMEM;
  memcpy(copy, e->bytes + e->nkey, e->nval);
  item->key = e->bytes;
  item->nkey = e->nkey;
  item->val = (pc_buf){copy, e->nval, free};
  item->expires = e->expires;
  return PC_OK;
}

static void fifo_scan_close(void *it) {
  fifo_scan *s = it;
  for (size_t i = 0; i < s->n; i++)
    free(s->items[i]);
  free(s->items);
  free(s);
}

static void fifo_stats(void *b, pc_stats *out) {
  fifo *f = b;
  pthread_mutex_lock(&f->mu);
  out->entries = f->count;
  out->evictions = f->evictions;
  int64_t bytes = 0;
  for (entry *e = f->oldest; e; e = e->next)
    bytes += (int64_t)(e->nkey + e->nval);
  out->bytes = bytes;
  pthread_mutex_unlock(&f->mu);
}

static const pc_backend_methods fifo_backend = {
    .name = "fifo",
    .wall_clock = false,
    .open = fifo_open,
    .close = fifo_close,
    .get = fifo_get,
    .set = fifo_set,
    .del = fifo_del,
    .clear = fifo_clear,
    .scan_open = fifo_scan_open,
    .scan_next = fifo_scan_next,
    .scan_close = fifo_scan_close,
    .stats = fifo_stats,
};

static int g_failed;

/* Runs sql, printing each row, or the error; `want_error` says which. */
static void run(sqlite3 *db, const char *sql, int want_error) {
  sqlite3_stmt *st;
  int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
  printf("> %s\n", sql);
  while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
    printf("  ");
    for (int i = 0; i < sqlite3_column_count(st); i++)
      printf("%s%s", i ? " | " : "",
             sqlite3_column_text(st, i)
                 ? (const char *)sqlite3_column_text(st, i)
                 : "NULL");
    printf("\n");
    rc = SQLITE_OK;
  }
  int err = rc != SQLITE_DONE && rc != SQLITE_OK;
  if (err) printf("  error: %s\n", sqlite3_errmsg(db));
  if (err != want_error) g_failed = 1;
  sqlite3_finalize(st);
}

int main(void) {
  if (pc_register_backend(&fifo_backend) != PC_OK) {
    fprintf(stderr, "custom_backend: %s\n", pc_errmsg(NULL));
    return 1;
  }
  sqlite3_auto_extension((void (*)(void))sqlite3_pocketcache_init);
  sqlite3 *db;
  if (sqlite3_open(":memory:", &db) != SQLITE_OK) return 1;

  run(db,
      "SELECT cache_open('recent', json_object('backend', 'fifo', 'options', "
      "'capacity=3', 'default_ttl', 60))",
      0);
  run(db,
      "SELECT cache_set('a', 1, NULL, 'recent'), cache_set('b', 2.5, NULL, "
      "'recent'), cache_set('c', 'three', NULL, 'recent'), cache_set('d', "
      "x'04', NULL, 'recent')",
      0);
  /* Capacity 3: 'a' went. The scan is the backend's. */
  run(db, "SELECT key, value, typeof(value), ttl > 59 FROM pcache('recent')",
      0);
  /* No get_many: the engine asks key by key. */
  run(db, "SELECT key FROM pcache('recent') WHERE key IN ('a', 'b', 'd')", 0);
  run(db, "SELECT cache_add('b', 0, NULL, 'recent') AS added", 0);
  /* No touch, no incr: errors that say so. */
  run(db, "SELECT cache_touch('b', 10, 'recent')", 1);
  run(db, "SELECT cache_incr('n', 1, NULL, 'recent')", 1);
  /* Keys that belong to the memory and filesystem backends are refused. */
  run(db,
      "SELECT cache_open('bad', json_object('backend', 'fifo', 'cache_dir', "
      "'/tmp'))",
      1);
  /* A declared table with the backend, as for any other. */
  run(db,
      "CREATE VIRTUAL TABLE sessions USING pcache(backend=fifo, "
      "options='capacity=100')",
      0);
  run(db, "INSERT INTO sessions(key, value, ttl) VALUES ('s1', 'ada', 30)", 0);
  run(db, "SELECT key, value FROM sessions", 0);
  run(db,
      "SELECT json_extract(cache_stats('recent'), '$.backend', "
      "'$.entries', '$.evictions', '$.hits')",
      0);

  /* And from C. */
  pc_cache *c = pc_cache_find("recent");
  pc_value v = {0};
  int ok = c && pc_get(c, "c", 1, &v) == PC_OK && v.type == PC_TEXT &&
           v.n == 5 && memcmp(v.p, "three", 5) == 0;
  pc_value_release(&v);
  pc_cache_release(c);
  sqlite3_close(db);
  if (!ok) g_failed = 1;
  printf("custom_backend: %s\n", g_failed ? "FAILED" : "ok");
  return g_failed;
}
