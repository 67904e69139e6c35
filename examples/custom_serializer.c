/*
** custom_serializer.c: a serializer that compresses values above a
** threshold with zstd, registered by name and chosen by configuration,
** from C and from SQL alike.
**
**   cc custom_serializer.c $(pkg-config --cflags --libs pocketcache sqlite3
**      libzstd) -o custom_serializer
**   ./custom_serializer
**
** Stored form: one byte, the type (PC_NULL .. PC_BLOB) plus 0x80 when the
** payload is compressed, then the payload: 8 bytes for INTEGER and REAL,
** the bytes of TEXT and BLOB, as they are below 256 bytes, else a zstd
** frame. Decoding checks every length and refuses frames that would
** expand past 64 MiB: bytes it cannot read are a miss, never a crash.
*/
#include <pocketcache.h>
#include <sqlite3.h>
#include <zstd.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define THRESHOLD 256
#define MAX_DECODED (64u << 20)
#define COMPRESSED 0x80

static int zstd_encode(void *ctx, const pc_value *v, unsigned char **out,
                       size_t *nout) {
  int level = *(const int *)ctx;
  unsigned char num[8];
  const void *p = NULL;
  size_t n = 0;
  if (v->type == PC_INTEGER || v->type == PC_REAL) {
    memcpy(num,
           v->type == PC_INTEGER ? (const void *)&v->i : (const void *)&v->r,
           8);
    p = num;
    n = 8;
  } else if (v->type == PC_TEXT || v->type == PC_BLOB) {
    p = v->p;
    n = v->n;
  }
  int squeeze = (v->type == PC_TEXT || v->type == PC_BLOB) && n >= THRESHOLD;
  size_t cap = 1 + (squeeze ? ZSTD_compressBound(n) : n);
  unsigned char *b = malloc(cap);
  if (!b) return PC_NOMEM;
  b[0] = (unsigned char)v->type;
  size_t len = n;
  if (squeeze) {
    len = ZSTD_compress(b + 1, cap - 1, p, n, level);
    if (ZSTD_isError(len)) {
      free(b);
      return PC_ERROR;
    }
    b[0] |= COMPRESSED;
  } else if (n) {
    memcpy(b + 1, p, n);
  }
  *out = b;
  *nout = 1 + len;
  return PC_OK;
}

static int zstd_decode(void *ctx, const unsigned char *p, size_t n,
                       pc_value *v) {
  (void)ctx;
  if (n < 1) return PC_ERROR;
  int type = p[0] & 0x7f, squeezed = p[0] & COMPRESSED;
  if (type > PC_BLOB) return PC_ERROR;
  memset(v, 0, sizeof *v);
  v->type = type;
  if (type == PC_NULL) return n == 1 ? PC_OK : PC_ERROR;
  if (type == PC_INTEGER || type == PC_REAL) {
    if (n != 9 || squeezed) return PC_ERROR;
    memcpy(type == PC_INTEGER ? (void *)&v->i : (void *)&v->r, p + 1, 8);
    return PC_OK;
  }
  size_t size = n - 1;
  if (squeezed) {
    unsigned long long s = ZSTD_getFrameContentSize(p + 1, n - 1);
    if (s == ZSTD_CONTENTSIZE_ERROR || s == ZSTD_CONTENTSIZE_UNKNOWN ||
        s > MAX_DECODED)
      return PC_ERROR;
    size = (size_t)s;
  }
  unsigned char *b = malloc(size ? size : 1);
  if (!b) return PC_NOMEM;
  if (squeezed) {
    size_t got = ZSTD_decompress(b, size, p + 1, n - 1);
    if (ZSTD_isError(got) || got != size) {
      free(b);
      return PC_ERROR;
    }
  } else if (size) {
    memcpy(b, p + 1, size);
  }
  v->p = b;
  v->n = size;
  v->free_fn = free;
  return PC_OK;
}

static int g_level = 3;

int main(void) {
  pc_serializer_methods zstd = {"zstd", zstd_encode, zstd_decode, &g_level};
  if (pc_register_serializer(&zstd) != PC_OK) {
    fprintf(stderr, "custom_serializer: %s\n", pc_errmsg(NULL));
    return 1;
  }
  /* From SQL: the name is a configuration value like any other. */
  sqlite3_auto_extension((void (*)(void))sqlite3_pocketcache_init);
  sqlite3 *db;
  sqlite3_stmt *st;
  if (sqlite3_open(":memory:", &db) != SQLITE_OK) return 1;
  const char *sql =
      "SELECT cache_open('docs', '{\"serializer\": \"zstd\"}');"
      "SELECT cache_set('report', (SELECT group_concat('row ' || value || "
      "': all quiet', char(10)) FROM json_each(json_array(1,2,3,4,5,6,7,8,9,"
      "10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32,"
      "33,34,35,36,37,38,39,40))), NULL, 'docs');"
      "SELECT cache_set('small', 'tiny', NULL, 'docs');";
  if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK) {
    fprintf(stderr, "custom_serializer: %s\n", sqlite3_errmsg(db));
    return 1;
  }
  int ok = 1;
  sqlite3_prepare_v2(db,
                     "SELECT key, length(value), size, "
                     "replace(substr(value, 1, 18), char(10), ' ') FROM "
                     "pcache('docs') ORDER BY key",
                     -1, &st, NULL);
  while (sqlite3_step(st) == SQLITE_ROW) {
    int len = sqlite3_column_int(st, 1), size = sqlite3_column_int(st, 2);
    printf("%-7s %5d bytes of text, %5d stored  (\"%s...\")\n",
           sqlite3_column_text(st, 0), len, size, sqlite3_column_text(st, 3));
    if (strcmp((const char *)sqlite3_column_text(st, 0), "report") == 0)
      ok &= size < len / 2; /* compressed */
  }
  sqlite3_finalize(st);
  sqlite3_close(db);

  /* From C: the same cache, decoded by the same serializer. */
  pc_cache *c = pc_cache_find("docs");
  pc_value v;
  ok &= c && pc_get(c, "report", 6, &v) == PC_OK && v.type == PC_TEXT &&
        v.n > THRESHOLD && memcmp(v.p, "row 1: all quiet", 16) == 0;
  if (ok) pc_value_release(&v);
  /* incr needs a format the backends know. */
  int64_t r;
  ok &= c && pc_incr(c, "n", 1, 1, PC_TTL_DEFAULT, &r) == PC_UNSUPPORTED;
  pc_cache_release(c);
  printf("custom_serializer: %s\n", ok ? "ok" : "FAILED");
  return ok ? 0 : 1;
}
