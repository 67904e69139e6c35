/*
** test_serializer: registering a serializer and using it by name.
**
** "xorbox" stores a type byte and the payload XORed with 0x5A, so that a
** stored value is visibly its own format; a first byte of 0xFF is refused
** on decode (a miss and an error, never a failed get).
*/
#include "pc_test.h"

#include <stdatomic.h>
#include <unistd.h>

static _Atomic int g_encodes, g_decodes;

static int xor_encode(void *ctx, const pc_value *v, unsigned char **out,
                      size_t *nout) {
  (void)ctx;
  unsigned char num[8];
  const unsigned char *p = NULL;
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
  unsigned char *b = malloc(n + 1);
  if (!b) return PC_NOMEM;
  b[0] = (unsigned char)v->type;
  for (size_t i = 0; i < n; i++)
    b[i + 1] = p[i] ^ 0x5A;
  *out = b;
  *nout = n + 1;
  atomic_fetch_add(&g_encodes, 1);
  return PC_OK;
}

static int xor_decode(void *ctx, const unsigned char *p, size_t n,
                      pc_value *v) {
  (void)ctx;
  atomic_fetch_add(&g_decodes, 1);
  if (n < 1 || p[0] > PC_BLOB) return PC_ERROR;
  int type = p[0];
  if ((type == PC_INTEGER || type == PC_REAL) && n != 9) return PC_ERROR;
  unsigned char *b = malloc(n);
  if (!b) return PC_NOMEM;
  for (size_t i = 1; i < n; i++)
    b[i - 1] = p[i] ^ 0x5A;
  memset(v, 0, sizeof *v);
  v->type = type;
  if (type == PC_INTEGER) memcpy(&v->i, b, 8);
  if (type == PC_REAL) memcpy(&v->r, b, 8);
  if (type == PC_TEXT || type == PC_BLOB) {
    v->p = b;
    v->n = n - 1;
    v->free_fn = free;
  } else {
    free(b);
  }
  return PC_OK;
}

/* "liar": a serializer whose methods break their contract in the way the
** first stored byte says, so that every check the engine makes on a
** registered serializer's output is reached. Encode: 'F' fails, 'N'
** returns no bytes for a length; anything else is stored as it is. Decode
** returns an unknown type ('T'), TEXT without bytes ('P'), an empty TEXT
** with a NULL pointer ('E', which is fine: it reads as ''), or fails. */
static int liar_encode(void *ctx, const pc_value *v, unsigned char **out,
                       size_t *nout) {
  (void)ctx;
  if (v->type != PC_TEXT || v->n < 1) return PC_ERROR;
  if (((const char *)v->p)[0] == 'F') return PC_ERROR;
  if (((const char *)v->p)[0] == 'N') {
    *out = NULL;
    *nout = 3;
    return PC_OK;
  }
  *out = malloc(v->n);
  if (!*out) return PC_NOMEM;
  memcpy(*out, v->p, v->n);
  *nout = v->n;
  return PC_OK;
}

static int liar_decode(void *ctx, const unsigned char *p, size_t n,
                       pc_value *v) {
  (void)ctx;
  memset(v, 0, sizeof *v);
  if (n < 1) return PC_ERROR;
  if (p[0] == 'T') {
    v->type = 99;
  } else if (p[0] == 'P') {
    v->type = PC_TEXT;
    v->n = 5; /* and p NULL */
  } else if (p[0] == 'E') {
    v->type = PC_TEXT;
  } else {
    return PC_ERROR;
  }
  return PC_OK;
}

static void liar(void) {
  pc_serializer_methods m = {"liar", liar_encode, liar_decode, NULL};
  CHECK_EQ_INT(pc_register_serializer(&m), PC_OK);
  char err[PC_ERRMSG_MAX];
  pc_cache *c;
  CHECK_EQ_INT(
      pc_cache_open("liar", "{\"serializer\":\"liar\"}", &c, err, sizeof err),
      PC_OK);
  pc_value v = pc_text("F", 1);
  CHECK_EQ_INT(pc_set(c, "k", 1, &v, 60000, 0), PC_ERROR);
  CHECK(strstr(pc_errmsg(NULL), "could not encode") != NULL);
  v = pc_text("N", 1);
  CHECK_EQ_INT(pc_set(c, "k", 1, &v, 60000, 0), PC_ERROR);
  CHECK(strstr(pc_errmsg(NULL), "no bytes") != NULL);
  pc_value bad = {.type = 42};
  CHECK_EQ_INT(pc_set(c, "k", 1, &bad, 60000, 0), PC_ERROR);
  bad = (pc_value){.type = PC_BLOB, .n = 4}; /* bytes missing */
  CHECK_EQ_INT(pc_set(c, "k", 1, &bad, 60000, 0), PC_ERROR);

  /* Decoded values that break the contract are misses counted as errors;
  ** an empty TEXT without a pointer is '' (never SQL NULL). */
  pc_stats before, after;
  CHECK_EQ_INT(pc_get_stats(c, &before), PC_OK);
  const char *keys[] = {"T", "P", "X"};
  for (int i = 0; i < 3; i++) {
    v = pc_text(keys[i], 1);
    CHECK_EQ_INT(pc_set(c, keys[i], 1, &v, 60000, 0), PC_OK);
    pc_value out;
    CHECK_EQ_INT(pc_get(c, keys[i], 1, &out), PC_NOTFOUND);
  }
  CHECK_EQ_INT(pc_get_stats(c, &after), PC_OK);
  CHECK(after.errors == before.errors + 3);
  v = pc_text("E", 1);
  CHECK_EQ_INT(pc_set(c, "E", 1, &v, 60000, 0), PC_OK);
  pc_value out;
  CHECK_EQ_INT(pc_get(c, "E", 1, &out), PC_OK);
  CHECK(out.type == PC_TEXT && out.n == 0 && out.p != NULL);
  pc_value_release(&out);
  pc_cache_release(c);
  pc_cache_close("liar");
}

static void round_trips(pc_cache *c) {
  pc_value in[] = {pc_int(-42), pc_real(2.5), pc_text("héllo", 6),
                   pc_blob("\x00\x01\xff", 3), pc_null()};
  for (size_t i = 0; i < sizeof in / sizeof in[0]; i++) {
    char key[8];
    snprintf(key, sizeof key, "k%zu", i);
    CHECK_EQ_INT(pc_set(c, key, strlen(key), &in[i], 60000, 0), PC_OK);
    pc_value out;
    CHECK_EQ_INT(pc_get(c, key, strlen(key), &out), PC_OK);
    CHECK_EQ_INT(out.type, in[i].type);
    if (in[i].type == PC_INTEGER) CHECK_EQ_INT(out.i, -42);
    if (in[i].type == PC_REAL) CHECK(out.r == 2.5);
    if (in[i].type == PC_TEXT || in[i].type == PC_BLOB)
      CHECK(out.n == in[i].n && memcmp(out.p, in[i].p, in[i].n) == 0);
    pc_value_release(&out);
  }
}

int main(void) {
  pc_serializer_methods m = {"xorbox", xor_encode, xor_decode, NULL};
  char err[PC_ERRMSG_MAX];
  pc_cache *c;

  /* Unknown before registration: a configuration error naming the key. */
  CHECK(pc_cache_open("x0", "{\"serializer\":\"xorbox\"}", &c, err,
                      sizeof err) != PC_OK);
  CHECK(strstr(err, "serializer") != NULL);

  CHECK_EQ_INT(pc_register_serializer(&m), PC_OK);
  char *info = pc_build_info(); /* pcache_build() lists it */
  CHECK(info && strstr(info, "\"json\",\"xorbox\"]") != NULL);
  pc_free(info);
  CHECK_EQ_INT(pc_register_serializer(&m), PC_EXISTS); /* taken */
  pc_serializer_methods bad = m;
  bad.name = "Upper";
  CHECK(pc_register_serializer(&bad) != PC_OK);
  bad.name = "native";
  CHECK(pc_register_serializer(&bad) != PC_OK);
  bad.name = "a_name_far_too_long";
  CHECK(pc_register_serializer(&bad) != PC_OK);
  bad.name = "nodecode";
  bad.decode = NULL;
  CHECK(pc_register_serializer(&bad) != PC_OK);

  /* Memory backend. */
  CHECK_EQ_INT(
      pc_cache_open("xm", "{\"serializer\":\"xorbox\"}", &c, err, sizeof err),
      PC_OK);
  round_trips(c);
  CHECK(atomic_load(&g_encodes) >= 5 && atomic_load(&g_decodes) >= 5);
  /* incr: the backends add in a format they know; this one is not. */
  int64_t r;
  CHECK_EQ_INT(pc_incr(c, "n", 1, 1, PC_TTL_DEFAULT, &r), PC_UNSUPPORTED);
  CHECK(strstr(pc_errmsg(NULL), "xorbox") != NULL);
  pc_cache_release(c);
  pc_cache_close("xm");

  /* Filesystem backend: the bytes on disk are the serializer's. */
  char dir[] = "/tmp/pc_ser_XXXXXX";
  CHECK(mkdtemp(dir) != NULL);
  char cfg[256];
  snprintf(cfg, sizeof cfg,
           "{\"backend\":\"filesystem\",\"cache_dir\":\"%s\","
           "\"serializer\":\"xorbox\"}",
           dir);
  CHECK_EQ_INT(pc_cache_open("xf", cfg, &c, err, sizeof err), PC_OK);
  round_trips(c);
  /* Bytes the serializer refuses: a miss, counted as an error. */
  pc_cache *raw;
  snprintf(cfg, sizeof cfg, "{\"backend\":\"filesystem\",\"cache_dir\":\"%s\"}",
           dir);
  CHECK_EQ_INT(pc_cache_open("xraw", cfg, &raw, err, sizeof err), PC_OK);
  pc_stats before, after;
  CHECK_EQ_INT(pc_get_stats(c, &before), PC_OK);
  pc_value junk = pc_blob("\xff\xff", 2);
  CHECK_EQ_INT(pc_set(raw, "junk", 4, &junk, 60000, 0), PC_OK);
  pc_value out;
  CHECK_EQ_INT(pc_get(c, "junk", 4, &out), PC_NOTFOUND);
  CHECK_EQ_INT(pc_get_stats(c, &after), PC_OK);
  CHECK(after.errors == before.errors + 1);
  pc_cache_release(raw);
  pc_cache_close("xraw");
  pc_cache_release(c);
  pc_cache_close("xf");
  snprintf(cfg, sizeof cfg, "rm -rf '%s'", dir);
  CHECK(system(cfg) == 0);
  liar();
  PC_TEST_END();
}
