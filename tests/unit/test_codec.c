/*
** test_codec.c: unit tests of the serializers (core/pc_codec.c).
**
** Every encoded buffer goes through the counting allocator of pc_test.h
** and is handed to decode with a release function, as the engine does, so
** each test ends by checking that nothing is left allocated. Malformed
** inputs are decoded from exact-size heap copies so that ASan reports any
** read past the end. The OOM tests fail allocation 1, 2, ... of each
** allocating path until it succeeds.
*/
#include "pc_internal.h"
/* pc_test.h defines static helpers this file does not all use. */
#pragma GCC diagnostic ignored "-Wunused-function"
#include "pc_test.h"

#include <float.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>

static const pc_serializer *NATIVE = &pc__native_serializer;
static const pc_serializer *JSON = &pc__json_serializer;

/* ---- Helpers ---- */

/* A release function that counts its calls and checks its argument. */
static int release_calls;
static const void *release_expect;
static void counting_release(void *p) {
  release_calls++;
  CHECK(p == release_expect);
  pc__free(p);
}

/* Encodes v, decodes it back (the buffer released as the engine would),
** and checks the result equals v; no allocation may be left over. */
static void check_roundtrip(const pc_serializer *s, pc_value v, int line) {
  unsigned char *buf = NULL;
  size_t n = 0;
  int rc = s->encode(&v, NULL, 0, &buf, &n);
  if (rc != PC_OK) {
    fprintf(stderr, "line %d: %s encode rc=%d (%s)\n", line, s->name, rc,
            pc__errbuf());
    CHECK(rc == PC_OK);
    return;
  }
  release_calls = 0;
  release_expect = buf;
  void (*release)(void *) = counting_release;
  pc_value out;
  memset(&out, 0x5a, sizeof out);
  rc = s->decode(buf, n, &out, &release);
  CHECK_EQ_INT(rc, PC_OK);
  if (rc == PC_OK) {
    bool eq = pc_test_values_equal(&v, &out);
    if (!eq) fprintf(stderr, "line %d: %s round trip differs\n", line, s->name);
    CHECK(eq);
    if (out.type == PC_TEXT || out.type == PC_BLOB) CHECK(out.p != NULL);
    if (out.type != PC_TEXT && out.type != PC_BLOB) CHECK(out.free_fn == NULL);
    pc_value_release(&out);
  }
  if (release) release(buf);
  CHECK_EQ_INT(release_calls, 1);
  CHECK_EQ_INT(pc_test_live, 0);
}
#define ROUNDTRIP(s, v) check_roundtrip((s), (v), __LINE__)

/* Encodes with s and compares the bytes with (want, nwant). */
static void check_encoding(const pc_serializer *s, pc_value v, const void *want,
                           size_t nwant, int line) {
  unsigned char *buf = NULL;
  size_t n = 0;
  int rc = s->encode(&v, NULL, 0, &buf, &n);
  CHECK_EQ_INT(rc, PC_OK);
  if (rc != PC_OK) return;
  bool eq = n == nwant && !memcmp(buf, want, n);
  if (!eq)
    fprintf(stderr, "line %d: %s encoding is '%.*s' (%zu bytes)\n", line,
            s->name, (int)n, buf, n);
  CHECK(eq);
  pc__free(buf);
}
#define ENCODES_AS(s, v, lit)                                                  \
  check_encoding((s), (v), (lit), sizeof(lit) - 1, __LINE__)

/* Decodes an exact-size heap copy of (p, n). On PC_OK the caller gets the
** value (release it); the copy is released through the release function
** whoever ends up holding it. Returns the decode's rc. */
static int decode_copy(const pc_serializer *s, const void *p, size_t n,
                       pc_value *out) {
  unsigned char *copy = malloc(n ? n : 1);
  if (!copy) return -1;
  if (n) memcpy(copy, p, n);
  void (*release)(void *) = free;
  pc_value tmp;
  int rc = s->decode(copy, n, &tmp, &release);
  if (rc == PC_OK && tmp.free_fn == free) {
    /* Zero copy: tmp now owns copy. Make a stable duplicate so the caller
    ** can release it uniformly. */
    CHECK(release == NULL);
    unsigned char *dup = pc__malloc(tmp.n);
    if (tmp.n) memcpy(dup, tmp.p, tmp.n);
    pc_value_release(&tmp);
    tmp.p = dup;
    tmp.free_fn = pc__free;
  } else if (rc != PC_OK) {
    CHECK(release == free); /* an error takes nothing over */
  }
  if (release) release(copy);
  if (rc == PC_OK) *out = tmp;
  return rc;
}

/* Decoding (p, n) with s must fail with PC_ERROR. */
static void check_bad(const pc_serializer *s, const void *p, size_t n,
                      int line) {
  pc_value v;
  pc__error(PC_OK, "-");
  int rc = decode_copy(s, p, n, &v);
  if (rc != PC_ERROR) {
    fprintf(stderr, "line %d: %s decode of bad input (%zu bytes) rc=%d\n", line,
            s->name, n, rc);
    if (rc == PC_OK) pc_value_release(&v);
  }
  CHECK_EQ_INT(rc, PC_ERROR);
  if (rc == PC_ERROR) CHECK(!strcmp(pc__errbuf(), "undecodable stored value"));
}
#define BAD_JSON(lit) check_bad(JSON, (lit), sizeof(lit) - 1, __LINE__)

/* Decodes the JSON literal and returns the value (caller releases). */
static pc_value json_decoded(const char *lit, size_t n, int line) {
  pc_value v = pc_null();
  int rc = decode_copy(JSON, lit, n, &v);
  if (rc != PC_OK) {
    fprintf(stderr, "line %d: json decode of '%.*s' rc=%d\n", line, (int)n, lit,
            rc);
    v = pc_null();
    v.type = -1;
  }
  CHECK_EQ_INT(rc, PC_OK);
  return v;
}
#define JSON_DECODED(lit) json_decoded((lit), sizeof(lit) - 1, __LINE__)

/* ---- Round trips ---- */

static const int64_t ints[] = {0,
                               1,
                               -1,
                               42,
                               -42,
                               INT64_MAX,
                               INT64_MIN,
                               INT64_MIN + 1,
                               INT64_MAX - 1,
                               9007199254740993LL, /* 2^53 + 1 */
                               -9007199254740993LL,
                               1000000000000000000LL,
                               4294967296LL};

static void test_roundtrips(const pc_serializer *s) {
  ROUNDTRIP(s, pc_null());
  for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++)
    ROUNDTRIP(s, pc_int(ints[i]));

  const double reals[] = {0.0,
                          -0.0,
                          1.0,
                          -1.0,
                          0.1,
                          1.5,
                          1.0 / 3.0,
                          2.0 / 3.0,
                          1e16,
                          1e300,
                          -1e-300,
                          5e-324,
                          1e-7,
                          DBL_MAX,
                          DBL_MIN,
                          123456789.0,
                          INFINITY,
                          -INFINITY,
                          9007199254740993.0,
                          3.14159265358979,
                          100.0,
                          1e21,
                          0.30000000000000004};
  for (size_t i = 0; i < sizeof reals / sizeof reals[0]; i++)
    ROUNDTRIP(s, pc_real(reals[i]));

  ROUNDTRIP(s, pc_text("", 0));
  ROUNDTRIP(s, pc_text(NULL, 0));
  ROUNDTRIP(s, pc_text("hello", 5));
  ROUNDTRIP(s, pc_text("a\0b", 3));
  ROUNDTRIP(s, pc_text("\0", 1));
  ROUNDTRIP(s, pc_text("caf\xc3\xa9 \xf0\x9f\x98\x80", 10));
  ROUNDTRIP(s, pc_text("q\"b\\s/\b\f\n\r\t\x01\x1f\x7f", 14));
  char all[255];
  for (int i = 0; i < 255; i++)
    all[i] = (char)(i + 1);
  ROUNDTRIP(s, pc_text(all, sizeof all)); /* bytes >= 0x80 as they are */

  pc_value j = pc_text("{\"a\":[1,2,{\"b\":null}],\"c\":\"x\"}", 30);
  j.is_json = 1;
  ROUNDTRIP(s, j);
  j = pc_text("[]", 2);
  j.is_json = 1;
  ROUNDTRIP(s, j);

  if (s == NATIVE) {
    ROUNDTRIP(s, pc_blob("", 0));
    ROUNDTRIP(s, pc_blob(NULL, 0));
    ROUNDTRIP(s, pc_blob("\0\1\2\0", 4));
    unsigned char bytes[256];
    for (int i = 0; i < 256; i++)
      bytes[i] = (unsigned char)i;
    ROUNDTRIP(s, pc_blob(bytes, sizeof bytes));
    pc_value t = pc_text("not json", 8); /* TEXT is not JSON by default */
    ROUNDTRIP(s, t);
    /* A NaN keeps its bits. */
    uint64_t nanbits = 0x7ff8000000000123ULL;
    double nan;
    memcpy(&nan, &nanbits, 8);
    ROUNDTRIP(s, pc_real(nan));
  }
}

/* Properties a plain round trip does not show. */
static void test_roundtrip_details(void) {
  const pc_serializer *both[] = {NATIVE, JSON};
  for (int k = 0; k < 2; k++) {
    const pc_serializer *s = both[k];
    unsigned char *buf;
    size_t n;
    pc_value v;

    /* -0.0 keeps its sign bit, 1.0 stays REAL. */
    pc_value m0 = pc_real(-0.0);
    CHECK_EQ_INT(s->encode(&m0, NULL, 0, &buf, &n), PC_OK);
    CHECK_EQ_INT(decode_copy(s, buf, n, &v), PC_OK);
    CHECK_EQ_INT(v.type, PC_REAL);
    CHECK(v.r == 0.0 && signbit(v.r));
    pc__free(buf);

    pc_value one = pc_real(1.0);
    CHECK_EQ_INT(s->encode(&one, NULL, 0, &buf, &n), PC_OK);
    CHECK_EQ_INT(decode_copy(s, buf, n, &v), PC_OK);
    CHECK_EQ_INT(v.type, PC_REAL);
    CHECK(v.r == 1.0);
    pc__free(buf);

    /* Empty TEXT is an empty TEXT, not NULL; p is not NULL. */
    pc_value e = pc_text("", 0);
    CHECK_EQ_INT(s->encode(&e, NULL, 0, &buf, &n), PC_OK);
    void (*release)(void *) = pc__free;
    CHECK_EQ_INT(s->decode(buf, n, &v, &release), PC_OK);
    CHECK_EQ_INT(v.type, PC_TEXT);
    CHECK_EQ_INT(v.n, 0);
    CHECK(v.p != NULL);
    CHECK_EQ_INT(v.is_json, 0);
    pc_value_release(&v);
    if (release) release(buf);

    /* JSON text keeps is_json and its bytes. */
    pc_value j = pc_text("{\"k\":[true,false]}", 18);
    j.is_json = 1;
    CHECK_EQ_INT(s->encode(&j, NULL, 0, &buf, &n), PC_OK);
    CHECK_EQ_INT(decode_copy(s, buf, n, &v), PC_OK);
    CHECK_EQ_INT(v.type, PC_TEXT);
    CHECK_EQ_INT(v.is_json, 1);
    CHECK(v.n == 18 && !memcmp(v.p, j.p, 18));
    pc_value_release(&v);
    pc__free(buf);
  }
  CHECK_EQ_INT(pc_test_live, 0);

  /* native: empty BLOB is an empty BLOB. */
  unsigned char *buf;
  size_t n;
  pc_value v, b = pc_blob("", 0);
  CHECK_EQ_INT(NATIVE->encode(&b, NULL, 0, &buf, &n), PC_OK);
  CHECK_EQ_INT(n, 2);
  void (*release)(void *) = pc__free;
  CHECK_EQ_INT(NATIVE->decode(buf, n, &v, &release), PC_OK);
  CHECK_EQ_INT(v.type, PC_BLOB);
  CHECK_EQ_INT(v.n, 0);
  CHECK(v.p == buf);
  CHECK(release == NULL);
  pc_value_release(&v);
  /* A BLOB marked is_json stays a plain BLOB. */
  b = pc_blob("x", 1);
  b.is_json = 1;
  CHECK_EQ_INT(NATIVE->encode(&b, NULL, 0, &buf, &n), PC_OK);
  CHECK_EQ_INT(buf[2], 0x14);
  CHECK_EQ_INT(decode_copy(NATIVE, buf, n, &v), PC_OK);
  CHECK_EQ_INT(v.type, PC_BLOB);
  CHECK_EQ_INT(v.is_json, 0);
  pc_value_release(&v);
  pc__free(buf);
  CHECK_EQ_INT(pc_test_live, 0);
}

/* ---- The native layout ---- */

static void test_native_layout(void) {
  ENCODES_AS(NATIVE, pc_null(), "\x50\x10");
  ENCODES_AS(NATIVE, pc_int(1), "\x01\0\0\0\0\0\0\0\x50\x11");
  ENCODES_AS(NATIVE, pc_int(-2), "\xfe\xff\xff\xff\xff\xff\xff\xff\x50\x11");
  ENCODES_AS(NATIVE, pc_int(INT64_MIN), "\0\0\0\0\0\0\0\x80\x50\x11");
  ENCODES_AS(NATIVE, pc_real(1.0), "\0\0\0\0\0\0\xf0\x3f\x50\x12");
  ENCODES_AS(NATIVE, pc_real(-0.0), "\0\0\0\0\0\0\0\x80\x50\x12");
  /* TEXT with no NUL in it: version 2, NUL-terminated; with one:
  ** version 1. */
  ENCODES_AS(NATIVE, pc_text("ab", 2), "ab\0\x23");
  ENCODES_AS(NATIVE, pc_text("", 0), "\0\x23");
  ENCODES_AS(NATIVE, pc_text("a\0b", 3), "a\0b\x50\x13");
  ENCODES_AS(NATIVE, pc_blob("ab", 2), "ab\x50\x14");
  pc_value j = pc_text("[1]", 3);
  j.is_json = 1;
  ENCODES_AS(NATIVE, j, "[1]\0\x25");
  /* Both versions decode; only version 2 says NUL-terminated, and
  ** version 2 with a NUL inside is not a value. */
  void (*rel)(void *) = NULL;
  pc_value d;
  CHECK_EQ_INT(NATIVE->decode((const unsigned char *)"ab\x50\x13", 4, &d, &rel),
               PC_OK);
  CHECK(d.type == PC_TEXT && d.n == 2 && !d.nul_terminated);
  CHECK_EQ_INT(NATIVE->decode((const unsigned char *)"ab\0\x23", 4, &d, &rel),
               PC_OK);
  CHECK(d.type == PC_TEXT && d.n == 2 && d.nul_terminated && !d.is_json);
  CHECK_EQ_INT(NATIVE->decode((const unsigned char *)"[1]\0\x25", 5, &d, &rel),
               PC_OK);
  CHECK(d.type == PC_TEXT && d.n == 3 && d.nul_terminated && d.is_json);
  CHECK_EQ_INT(NATIVE->decode((const unsigned char *)"a\0b\0\x23", 5, &d, &rel),
               PC_ERROR);
  CHECK_EQ_INT(NATIVE->decode((const unsigned char *)"ab\0\x24", 4, &d, &rel),
               PC_ERROR); /* a BLOB has no version 2 */

  pc_value bad = pc_null();
  bad.type = 9;
  unsigned char *buf = (unsigned char *)"x";
  size_t n = 7;
  CHECK_EQ_INT(NATIVE->encode(&bad, NULL, 0, &buf, &n), PC_ERROR);
  CHECK(buf == NULL);
  CHECK_EQ_INT(JSON->encode(&bad, NULL, 0, &buf, &n), PC_ERROR);
  pc_value nop = pc_text("x", 1);
  nop.p = NULL;
  CHECK_EQ_INT(NATIVE->encode(&nop, NULL, 0, &buf, &n), PC_ERROR);
  CHECK_EQ_INT(JSON->encode(&nop, NULL, 0, &buf, &n), PC_ERROR);
  CHECK_EQ_INT(pc_test_live, 0);
}

/* ---- Malformed native input ---- */

static void test_native_malformed(void) {
#define BAD_NATIVE(lit) check_bad(NATIVE, (lit), sizeof(lit) - 1, __LINE__)
  check_bad(NATIVE, "", 0, __LINE__);
  BAD_NATIVE("\x50");              /* truncated trailer */
  BAD_NATIVE("\x13");              /* truncated trailer */
  BAD_NATIVE("ab\x51\x13");        /* bad magic */
  BAD_NATIVE("ab\x13\x50");        /* trailer bytes swapped */
  BAD_NATIVE("ab\x50\x03");        /* version 0 */
  BAD_NATIVE("ab\x50\x23");        /* version 2 */
  BAD_NATIVE("ab\x50\xf3");        /* version 15 */
  BAD_NATIVE("ab\x50\x16");        /* unknown type 6 */
  BAD_NATIVE("ab\x50\x1f");        /* unknown type 15 */
  BAD_NATIVE("\x50\x11");          /* INTEGER, no payload */
  BAD_NATIVE("1234567\x50\x11");   /* INTEGER, 7 bytes */
  BAD_NATIVE("123456789\x50\x11"); /* INTEGER, 9 bytes */
  BAD_NATIVE("\x50\x12");          /* REAL, no payload */
  BAD_NATIVE("1234567\x50\x12");   /* REAL, 7 bytes */
  BAD_NATIVE("123456789\x50\x12"); /* REAL, 9 bytes */
  BAD_NATIVE("x\x50\x10");         /* NULL with a payload */
  BAD_NATIVE("12345678\x50\x10");  /* NULL with a payload */
#undef BAD_NATIVE

  /* Every trailer with payloads of 0..9 bytes: only the valid combinations
  ** decode, nothing crashes. */
  int wrong = 0;
  for (int len = 0; len <= 9; len++) {
    for (int m = 0; m < 256; m++) {
      for (int t = 0; t < 256; t++) {
        unsigned char *p = malloc((size_t)len + 2);
        memset(p, 0xee, (size_t)len);
        p[len] = (unsigned char)m;
        p[len + 1] = (unsigned char)t;
        void (*release)(void *) = free;
        pc_value v;
        int rc = NATIVE->decode(p, (size_t)len + 2, &v, &release);
        int type = t & 15;
        bool valid = (m == 0x50 && (t >> 4) == 1 &&
                      ((type == 0 && len == 0) ||
                       ((type == 1 || type == 2) && len == 8) ||
                       (type >= 3 && type <= 5))) ||
                     /* version 2 TEXT: the 0xee bytes hold no NUL */
                     (m == 0 && (t >> 4) == 2 && (type == 3 || type == 5));
        if (rc != (valid ? PC_OK : PC_ERROR)) wrong++;
        if (rc == PC_OK) pc_value_release(&v);
        if (release) release(p);
      }
    }
  }
  CHECK_EQ_INT(wrong, 0);

  /* Every prefix of every valid encoding: OK or PC_ERROR, no crash. */
  pc_value vals[] = {pc_null(), pc_int(-5), pc_real(2.5), pc_text("hey", 3),
                     pc_blob("\x50\x11", 2)};
  for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
    unsigned char *buf;
    size_t n;
    CHECK_EQ_INT(NATIVE->encode(&vals[i], NULL, 0, &buf, &n), PC_OK);
    for (size_t k = 0; k < n; k++) {
      pc_value v;
      int rc = decode_copy(NATIVE, buf, k, &v);
      CHECK(rc == PC_OK || rc == PC_ERROR);
      if (rc == PC_OK) pc_value_release(&v);
    }
    pc__free(buf);
  }
  CHECK_EQ_INT(pc_test_live, 0);
}

/* ---- The json format ---- */

static void test_json_encoding(void) {
  ENCODES_AS(JSON, pc_null(), "null");
  ENCODES_AS(JSON, pc_int(0), "0");
  ENCODES_AS(JSON, pc_int(-7), "-7");
  ENCODES_AS(JSON, pc_int(INT64_MAX), "9223372036854775807");
  ENCODES_AS(JSON, pc_int(INT64_MIN), "-9223372036854775808");
  ENCODES_AS(JSON, pc_int(9007199254740993LL), "9007199254740993");
  ENCODES_AS(JSON, pc_real(1.0), "1.0");
  ENCODES_AS(JSON, pc_real(-0.0), "-0.0");
  ENCODES_AS(JSON, pc_real(0.0), "0.0");
  ENCODES_AS(JSON, pc_real(100.0), "100.0");
  ENCODES_AS(JSON, pc_real(0.1), "0.1");
  ENCODES_AS(JSON, pc_real(1.5), "1.5");
  ENCODES_AS(JSON, pc_real(1e300), "1e+300");
  ENCODES_AS(JSON, pc_real(0.30000000000000004), "0.30000000000000004");
  ENCODES_AS(JSON, pc_real(9007199254740993.0), "9007199254740992.0");
  ENCODES_AS(JSON, pc_real(INFINITY), "9e999");
  ENCODES_AS(JSON, pc_real(-INFINITY), "-9e999");
  ENCODES_AS(JSON, pc_real(NAN), "null");
  ENCODES_AS(JSON, pc_text("", 0), "\"\"");
  ENCODES_AS(JSON, pc_text("a\0b", 3), "\"a\\u0000b\"");
  ENCODES_AS(JSON, pc_text("q\"b\\s/", 6), "\"q\\\"b\\\\s/\"");
  ENCODES_AS(JSON, pc_text("\b\f\n\r\t\x01\x1f\x7f", 8),
             "\"\\b\\f\\n\\r\\t\\u0001\\u001f\x7f\"");
  ENCODES_AS(JSON, pc_text("caf\xc3\xa9\xff", 6), "\"caf\xc3\xa9\xff\"");
  pc_value j = pc_text(" [1, 2]\n", 8);
  j.is_json = 1;
  ENCODES_AS(JSON, j, " [1, 2]\n"); /* the text itself */
  j = pc_text("123", 3);
  j.is_json = 1;
  ENCODES_AS(JSON, j, "123");

  /* A BLOB cannot be stored. */
  unsigned char *buf = NULL;
  size_t n = 0;
  pc_value b = pc_blob("x", 1);
  CHECK_EQ_INT(JSON->encode(&b, NULL, 0, &buf, &n), PC_ERROR);
  CHECK(!strcmp(pc__errbuf(), "the json serializer cannot store a BLOB"));
  CHECK(buf == NULL);
  b = pc_blob("", 0);
  CHECK_EQ_INT(JSON->encode(&b, NULL, 0, &buf, &n), PC_ERROR);

  /* TEXT marked JSON must be JSON (and what is stored must decode). */
  static const char *const not_json[] = {
      "",        " ",   "{",      "[1,]",    "{\"a\":}",    "[1] x",
      "[1][2]",  "01",  "1.",     ".5",      "+1",          "nul",
      "True",    "'a'", "\"a",    "\"\\x\"", "\"\\ud800\"", "\xef\xbb\xbf[1]",
      "\x01[1]", "NaN", "[1]\x01"};
  for (size_t i = 0; i < sizeof not_json / sizeof not_json[0]; i++) {
    pc_value t = pc_text(not_json[i], strlen(not_json[i]));
    t.is_json = 1;
    pc__error(PC_OK, "-");
    int rc = JSON->encode(&t, NULL, 0, &buf, &n);
    if (rc != PC_ERROR)
      fprintf(stderr, "accepted as JSON: '%s'\n", not_json[i]);
    CHECK_EQ_INT(rc, PC_ERROR);
    CHECK(!strcmp(pc__errbuf(), "value is not valid JSON"));
    if (rc == PC_OK) pc__free(buf);
  }
  pc_value nul = pc_text("[1]\0", 4);
  nul.is_json = 1;
  CHECK_EQ_INT(JSON->encode(&nul, NULL, 0, &buf, &n), PC_ERROR);
  CHECK_EQ_INT(pc_test_live, 0);
}

static void test_json_decoding(void) {
  pc_value v;
  v = JSON_DECODED("null");
  CHECK_EQ_INT(v.type, PC_NULL);
  v = JSON_DECODED(" \t\r\n null \n");
  CHECK_EQ_INT(v.type, PC_NULL);
  v = JSON_DECODED("true");
  CHECK(v.type == PC_INTEGER && v.i == 1);
  v = JSON_DECODED("false");
  CHECK(v.type == PC_INTEGER && v.i == 0);
  v = JSON_DECODED("-0");
  CHECK(v.type == PC_INTEGER && v.i == 0);
  v = JSON_DECODED("-9223372036854775808");
  CHECK(v.type == PC_INTEGER && v.i == INT64_MIN);
  v = JSON_DECODED("9223372036854775807");
  CHECK(v.type == PC_INTEGER && v.i == INT64_MAX);
  v = JSON_DECODED("9007199254740993");
  CHECK(v.type == PC_INTEGER && v.i == 9007199254740993LL);
  v = JSON_DECODED("9223372036854775808"); /* out of range: REAL */
  CHECK(v.type == PC_REAL && v.r == 9223372036854775808.0);
  v = JSON_DECODED("-9223372036854775809");
  CHECK(v.type == PC_REAL && v.r == -9223372036854775808.0);
  v = JSON_DECODED("123456789012345678901234567890");
  CHECK(v.type == PC_REAL && v.r == 1.2345678901234568e29);
  v = JSON_DECODED("1E2");
  CHECK(v.type == PC_REAL && v.r == 100.0);
  v = JSON_DECODED("1e-2");
  CHECK(v.type == PC_REAL && v.r == 0.01);
  v = JSON_DECODED("-0.0");
  CHECK(v.type == PC_REAL && v.r == 0.0 && signbit(v.r));
  v = JSON_DECODED("9e999");
  CHECK(v.type == PC_REAL && isinf(v.r) && v.r > 0);
  v = JSON_DECODED("-9e999");
  CHECK(v.type == PC_REAL && isinf(v.r) && v.r < 0);
  v = JSON_DECODED("1e-999");
  CHECK(v.type == PC_REAL && v.r == 0.0);

  /* Strings: every escape, surrogate pairs, \u0000. */
  v = JSON_DECODED("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"");
  CHECK(v.type == PC_TEXT && v.is_json == 0 && v.n == 8 &&
        !memcmp(v.p, "\"\\/\b\f\n\r\t", 8));
  pc_value_release(&v);
  v = JSON_DECODED("\"\\u00e9\\u20AC\\ud83d\\ude00x\"");
  CHECK(v.type == PC_TEXT && v.n == 10 &&
        !memcmp(v.p, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80x", 10));
  pc_value_release(&v);
  v = JSON_DECODED("\"\\u0000\"");
  CHECK(v.type == PC_TEXT && v.n == 1 && ((const char *)v.p)[0] == 0);
  pc_value_release(&v);
  v = JSON_DECODED("\"a\\u0000b\\u0041\"");
  CHECK(v.type == PC_TEXT && v.n == 4 && !memcmp(v.p, "a\0bA", 4));
  pc_value_release(&v);
  v = JSON_DECODED("  \"plain\"  ");
  CHECK(v.type == PC_TEXT && v.n == 5 && !memcmp(v.p, "plain", 5));
  pc_value_release(&v);
  v = JSON_DECODED("\"\"");
  CHECK(v.type == PC_TEXT && v.n == 0 && v.p != NULL);
  pc_value_release(&v);
  v = JSON_DECODED("\"\xff\xfe raw\"");
  CHECK(v.type == PC_TEXT && v.n == 6 && !memcmp(v.p, "\xff\xfe raw", 6));
  pc_value_release(&v);

  /* Objects and arrays: JSON text, trimmed. */
  v = JSON_DECODED("{\"a\":1}");
  CHECK(v.type == PC_TEXT && v.is_json == 1 && v.n == 7);
  pc_value_release(&v);
  v = JSON_DECODED("\n [ 1 , {\"x\" : [] } ]\t ");
  CHECK(v.type == PC_TEXT && v.is_json == 1 && v.n == 19 &&
        !memcmp(v.p, "[ 1 , {\"x\" : [] } ]", 19));
  pc_value_release(&v);
  CHECK_EQ_INT(pc_test_live, 0);

  /* \u0000 round trip through encode + decode. */
  ROUNDTRIP(JSON, pc_text("\0\0x\0", 4));
}

static void test_json_malformed(void) {
  BAD_JSON("");
  BAD_JSON("   ");
  BAD_JSON("nul");
  BAD_JSON("nulll");
  BAD_JSON("null x");
  BAD_JSON("True");
  BAD_JSON("tru");
  BAD_JSON("falsey");
  BAD_JSON("undefined");
  BAD_JSON("NaN");
  BAD_JSON("Infinity");
  BAD_JSON("-Infinity");
  /* numbers */
  BAD_JSON("-");
  BAD_JSON("+1");
  BAD_JSON("01");
  BAD_JSON("-01");
  BAD_JSON("1.");
  BAD_JSON(".5");
  BAD_JSON("1e");
  BAD_JSON("1e+");
  BAD_JSON("1.e5");
  BAD_JSON("--1");
  BAD_JSON("0x10");
  BAD_JSON("1 2");
  BAD_JSON("12a");
  BAD_JSON("1,");
  /* strings */
  BAD_JSON("\"");
  BAD_JSON("\"abc");
  BAD_JSON("\"abc\" x");
  BAD_JSON("\"a\"\"b\"");
  BAD_JSON("\"abc\\\"");
  BAD_JSON("\"\\");
  BAD_JSON("\"\\x\"");
  BAD_JSON("\"\\U0041\"");
  BAD_JSON("\"\\u12\"");
  BAD_JSON("\"\\u12g4\"");
  BAD_JSON("\"\\u");
  BAD_JSON("\"\\ud800\"");        /* lone high surrogate */
  BAD_JSON("\"\\udc00\"");        /* lone low surrogate */
  BAD_JSON("\"\\ud800\\u0041\""); /* high + not low */
  BAD_JSON("\"\\ud800\\ud800\""); /* high + high */
  BAD_JSON("\"\\ud800x\"");
  BAD_JSON("\"\\ud800\\\"");
  BAD_JSON("\"\\ud83d\\ude0\"");
  BAD_JSON("\"a\nb\""); /* raw control character */
  BAD_JSON("\"a\x01\"");
  BAD_JSON("\"\\n\x1f\"");
  BAD_JSON("'single'");
  /* documents */
  BAD_JSON("[");
  BAD_JSON("{");
  BAD_JSON("]");
  BAD_JSON("[1,]");
  BAD_JSON("[1 2]");
  BAD_JSON("{\"a\"}");
  BAD_JSON("{\"a\":}");
  BAD_JSON("{a:1}");
  BAD_JSON("[1] x");
  BAD_JSON("[1][2]");
  BAD_JSON("{} {}");
  BAD_JSON("[\"\\ud800\"]");
  BAD_JSON("[1]\x01");
  BAD_JSON("\xef\xbb\xbf[1]");
  BAD_JSON("\x01[1]");
  BAD_JSON("\0");
  BAD_JSON("[1]\0");

  /* Deep nesting: 100000 '[' (with and without the closing ']'). */
  size_t depth = 100000;
  char *deep = malloc(2 * depth);
  memset(deep, '[', depth);
  check_bad(JSON, deep, depth, __LINE__);
  memset(deep + depth, ']', depth);
  check_bad(JSON, deep, 2 * depth, __LINE__);
  pc_value t = pc_text(deep, 2 * depth);
  t.is_json = 1;
  unsigned char *buf;
  size_t n;
  CHECK_EQ_INT(JSON->encode(&t, NULL, 0, &buf, &n), PC_ERROR);
  free(deep);

  /* Every prefix of a valid document: decodes or fails cleanly. */
  const char *doc = "{\"a\":[1,2.5e3,\"x\\u00e9\\ud83d\\ude00\",null,true]}";
  for (size_t k = 0; k < strlen(doc); k++) {
    pc_value v;
    int rc = decode_copy(JSON, doc, k, &v);
    CHECK(rc == PC_ERROR || rc == PC_OK);
    if (rc == PC_OK) pc_value_release(&v);
  }
  CHECK_EQ_INT(pc_test_live, 0);
}

/* ---- Objects and arrays ---- */

/* The nesting limit of pc_codec.c (JSON_MAX_DEPTH, cJSON's former one). */
#define JSON_DEPTH_LIMIT 1000

/* Decoding the document (p, n) with JSON succeeds (as is_json TEXT, the
** trimmed bytes) or fails with PC_ERROR as `ok` says; encoding it as TEXT
** marked is_json agrees. */
static void check_document(const void *p, size_t n, bool ok, int line) {
  pc_value v;
  pc__error(PC_OK, "-");
  int rc = decode_copy(JSON, p, n, &v);
  if (rc != (ok ? PC_OK : PC_ERROR))
    fprintf(stderr, "line %d: json decode of '%.*s' (%zu bytes) rc=%d\n", line,
            n > 200 ? 200 : (int)n, (const char *)p, n, rc);
  CHECK_EQ_INT(rc, ok ? PC_OK : PC_ERROR);
  if (rc == PC_OK) {
    CHECK(v.type == PC_TEXT && v.is_json == 1);
    pc_value_release(&v);
  } else if (rc == PC_ERROR) {
    CHECK(!strcmp(pc__errbuf(), "undecodable stored value"));
  }
  pc_value t = pc_text(p, n);
  t.is_json = 1;
  unsigned char *buf = NULL;
  size_t nbuf = 0;
  rc = JSON->encode(&t, NULL, 0, &buf, &nbuf);
  CHECK_EQ_INT(rc, ok ? PC_OK : PC_ERROR);
  if (rc == PC_OK) {
    CHECK(nbuf == n && !memcmp(buf, p, n));
    pc__free(buf);
  }
}
#define GOOD_DOC(lit) check_document((lit), sizeof(lit) - 1, true, __LINE__)
#define BAD_DOC(lit) check_document((lit), sizeof(lit) - 1, false, __LINE__)

/* A malloc'd document of `depth` nested containers around "1" (or nothing
** when empty): arrays, objects {"k":...}, or both alternating. */
enum { NEST_ARRAYS, NEST_OBJECTS, NEST_MIXED };
static char *nested(size_t depth, int kind, bool empty, size_t *n) {
  char *d = malloc(depth * 6 + 2), *o = d;
  for (size_t i = 0; i < depth; i++) {
    bool obj = kind == NEST_OBJECTS || (kind == NEST_MIXED && i % 2);
    if (obj && (i + 1 < depth || !empty)) {
      memcpy(o, "{\"k\":", 5);
      o += 5;
    } else {
      *o++ = obj ? '{' : '[';
    }
  }
  if (!empty) *o++ = '1';
  for (size_t i = depth; i-- > 0;)
    *o++ = kind == NEST_OBJECTS || (kind == NEST_MIXED && i % 2) ? '}' : ']';
  *n = (size_t)(o - d);
  return d;
}

static void test_json_documents(void) {
  /* Valid: every kind of value, nested, with whitespace anywhere. */
  GOOD_DOC("{}");
  GOOD_DOC("[]");
  GOOD_DOC("{ }");
  GOOD_DOC("[ \t\r\n]");
  GOOD_DOC("[[]]");
  GOOD_DOC("[{}]");
  GOOD_DOC("{\"\":{}}");
  GOOD_DOC("[[], {}, [[]], [{}], {\"a\": []}]");
  GOOD_DOC("[1]");
  GOOD_DOC("[null,true,false,0,-0,1.5,-1e-5,1E+30,0.5e3,9e999,\"s\"]");
  GOOD_DOC("{\"a\":1,\"b\":[2,{\"c\":null}],\"d\":{\"e\":{\"f\":\"g\"}}}");
  GOOD_DOC(" \n{ \"a\" : [ 1 , 2 ] , \"b\" : { } }\t\r\n");
  GOOD_DOC("{\"a\":1,\"a\":2}"); /* duplicate names are not an error */
  GOOD_DOC("[\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u0000\\u00e9\\uD83D\\uDE00\"]");
  GOOD_DOC("{\"\\ud83d\\ude00\\u0041\":\"\\u20ac\"}");
  GOOD_DOC("[\"caf\xc3\xa9 \xf0\x9f\x98\x80\", \"\x7f\"]");
  GOOD_DOC("[\"]\", \"}\", \"[\", \"{\", \",\", \":\", \"\\\"]\"]");
  GOOD_DOC("{\"[\":\"]\"}");
  GOOD_DOC("[-9223372036854775809,123456789012345678901234567890]");
  /* Raw bytes >= 0x80 are not checked as UTF-8, like the scalar string
  ** decoder (which hands "\xff\xfe raw" back as it is). */
  GOOD_DOC("[\"\xff\xfe raw\", \"\xc3\", \"\xed\xa0\x80\"]");
  GOOD_DOC("{\"\xff\":1}");

  /* Trailing commas, missing or extra separators. */
  BAD_DOC("[1,]");
  BAD_DOC("[1,2,]");
  BAD_DOC("{\"a\":1,}");
  BAD_DOC("[,]");
  BAD_DOC("[,1]");
  BAD_DOC("[1,,2]");
  BAD_DOC("{,}");
  BAD_DOC("{,\"a\":1}");
  BAD_DOC("{\"a\":1,,\"b\":2}");
  BAD_DOC("[1 2]");
  BAD_DOC("[[] []]");
  BAD_DOC("{\"a\":1 \"b\":2}");
  BAD_DOC("[1:2]");
  BAD_DOC("{\"a\":1:2}");
  /* Missing colon or value, bad keys. */
  BAD_DOC("{\"a\" 1}");
  BAD_DOC("{\"a\"}");
  BAD_DOC("{\"a\",\"b\"}");
  BAD_DOC("{\"a\"::1}");
  BAD_DOC("{\"a\":}");
  BAD_DOC("{\"a\":,\"b\":1}");
  BAD_DOC("{a:1}");
  BAD_DOC("{1:1}");
  BAD_DOC("{null:1}");
  BAD_DOC("{true:1}");
  BAD_DOC("{[]:1}");
  BAD_DOC("{{}:1}");
  BAD_DOC("{\"a\":1,b:2}");
  BAD_DOC("{\"\\x\":1}");
  BAD_DOC("{\"\\ud800\":1}");
  /* Single quotes. */
  BAD_DOC("['a']");
  BAD_DOC("{'a':1}");
  BAD_DOC("{\"a\":'b'}");
  /* Numbers. */
  BAD_DOC("[01]");
  BAD_DOC("[-01]");
  BAD_DOC("[00]");
  BAD_DOC("[-]");
  BAD_DOC("[1.]");
  BAD_DOC("[.5]");
  BAD_DOC("[1e]");
  BAD_DOC("[1e+]");
  BAD_DOC("[1.e5]");
  BAD_DOC("[+1]");
  BAD_DOC("[--1]");
  BAD_DOC("[0x10]");
  BAD_DOC("[1a]");
  BAD_DOC("{\"a\":01}");
  BAD_DOC("{\"a\":-}");
  BAD_DOC("{\"a\":1.}");
  BAD_DOC("[NaN]");
  BAD_DOC("[Infinity]");
  BAD_DOC("[-Infinity]");
  /* Literals. */
  BAD_DOC("[tru]");
  BAD_DOC("[truex]");
  BAD_DOC("[True]");
  BAD_DOC("[nul]");
  BAD_DOC("[nulll]");
  BAD_DOC("[fals]");
  BAD_DOC("[undefined]");
  /* Strings: escapes, surrogates, control characters, ends. */
  BAD_DOC("[\"\\ud800\"]");             /* lone high surrogate */
  BAD_DOC("[\"\\udc00\"]");             /* lone low surrogate */
  BAD_DOC("[\"\\uDBFF\"]");             /* lone high surrogate, upper case */
  BAD_DOC("[\"\\ude00\\ud83d\"]");      /* pair in the wrong order */
  BAD_DOC("[\"\\ud800\\u0041\"]");      /* high + not low */
  BAD_DOC("[\"\\ud800\\ud800\"]");      /* high + high */
  BAD_DOC("[\"\\ud800x\"]");            /* high + a character */
  BAD_DOC("[\"\\ud83d\\ude0\"]");       /* truncated low */
  BAD_DOC("[\"\\ud83d\"] \"\\ude00\""); /* halves in two strings */
  BAD_DOC("[\"\\x\"]");
  BAD_DOC("[\"\\U0041\"]");
  BAD_DOC("[\"\\u12\"]");
  BAD_DOC("[\"\\u12g4\"]");
  BAD_DOC("[\"\\\x01\"]");
  BAD_DOC("[\"\\\xc3\xa9\"]");
  BAD_DOC("[\"a\x01\"]"); /* raw control characters */
  BAD_DOC("[\"a\nb\"]");
  BAD_DOC("[\"\t\"]");
  BAD_DOC("[\"\x1f\"]");
  BAD_DOC("{\"a\nb\":1}");
  BAD_DOC("[\"abc]");
  BAD_DOC("[\"abc\\\"]");
  BAD_DOC("[\"abc\\");
  BAD_DOC("{\"a");
  /* Brackets that do not match or do not close. */
  BAD_DOC("[");
  BAD_DOC("{");
  BAD_DOC("[[]");
  BAD_DOC("[{]");
  BAD_DOC("[{}");
  BAD_DOC("[1}");
  BAD_DOC("{\"a\":1]");
  BAD_DOC("{\"a\":[}]");
  BAD_DOC("{\"a\":1");
  BAD_DOC("{\"a\":");
  BAD_DOC("{\"a\"");
  BAD_DOC("[1,");
  /* Anything after the value. */
  BAD_DOC("[1] x");
  BAD_DOC("[1]]");
  BAD_DOC("{}}");
  BAD_DOC("[1],");
  BAD_DOC("[1] [2]");
  BAD_DOC("{} 1");
  BAD_DOC("{}\"\"");
  BAD_DOC("[1]\x01");
  BAD_DOC("[1]\xc2\xa0"); /* U+00A0 is not JSON whitespace */
  BAD_DOC("[1]\v");
  BAD_DOC("[1]\f");
  BAD_DOC("[\f1]");
  /* NUL bytes anywhere. */
  BAD_DOC("[1]\0");
  BAD_DOC("{}\0 ");
  BAD_DOC("[\0]");
  BAD_DOC("[1\0]");
  BAD_DOC("[1,\0 2]");
  BAD_DOC("[\"a\0b\"]");
  BAD_DOC("{\"a\0\":1}");
  BAD_DOC("{\"a\":\0}");

  /* Nesting: up to the limit is valid, beyond it is not, for arrays,
  ** objects and both, with a value inside or empty. */
  for (int kind = NEST_ARRAYS; kind <= NEST_MIXED; kind++) {
    for (int empty = 0; empty <= 1; empty++) {
      size_t depths[] = {1,
                         2,
                         64,
                         JSON_DEPTH_LIMIT - 1,
                         JSON_DEPTH_LIMIT,
                         JSON_DEPTH_LIMIT + 1,
                         JSON_DEPTH_LIMIT + 2,
                         5000};
      for (size_t i = 0; i < sizeof depths / sizeof depths[0]; i++) {
        size_t n;
        char *d = nested(depths[i], kind, empty, &n);
        check_document(d, n, depths[i] <= JSON_DEPTH_LIMIT, __LINE__);
        free(d);
      }
    }
  }
  /* The depth is of what is open at once: many containers side by side at
  ** the limit are fine. */
  {
    size_t n;
    char *d = nested(JSON_DEPTH_LIMIT, NEST_MIXED, false, &n);
    char *two = malloc(2 * n + 3);
    two[0] = '[';
    memcpy(two + 1, d, n);
    two[n + 1] = ',';
    memcpy(two + n + 2, d, n);
    two[2 * n + 2] = ']';
    check_document(two, 2 * n + 3, false, __LINE__); /* one level deeper */
    free(d);
    d = nested(JSON_DEPTH_LIMIT - 1, NEST_ARRAYS, true, &n);
    memcpy(two, "[", 1);
    memcpy(two + 1, d, n);
    two[n + 1] = ',';
    memcpy(two + n + 2, d, n);
    two[2 * n + 2] = ']';
    check_document(two, 2 * n + 3, true, __LINE__);
    free(two);
    free(d);
  }
  /* 100000 openers, unclosed or closed, arrays or alternating: rejected,
  ** quickly and without running out of stack. */
  size_t depth = 100000;
  char *deep = malloc(6 * depth + 2);
  memset(deep, '[', depth);
  check_document(deep, depth, false, __LINE__);
  memset(deep + depth, ']', depth);
  check_document(deep, 2 * depth, false, __LINE__);
  free(deep);
  size_t n;
  deep = nested(depth, NEST_MIXED, false, &n);
  check_document(deep, n, false, __LINE__);
  check_document(deep, n / 2, false, __LINE__);
  free(deep);

  /* No proper prefix of a container document is a document. */
  const char *doc = "{\"a\":[1,-2.5e3,\"x\\\\\\u00e9\\ud83d\\ude00\",null,"
                    "true,false,{},[[]],{\"b\":{\"c\":[]}}],\"d\":\"\"}";
  check_document(doc, strlen(doc), true, __LINE__);
  for (size_t k = 0; k < strlen(doc); k++)
    check_document(doc, k, false, __LINE__);
  CHECK_EQ_INT(pc_test_live, 0);
}

/* ---- Concurrent decoding ---- */

#define JSON_THREADS 4
#define JSON_THREAD_ITERS 10000

typedef struct {
  int id;
  long wrong; /* checks that failed (CHECK() is not thread-safe) */
} json_thread_arg;

static atomic_int json_go;

/* Decodes documents, valid and not, over and over. */
static void *json_thread(void *p) {
  json_thread_arg *a = p;
  char doc[160], spaced[160];
  int n = snprintf(doc, sizeof doc,
                   "{\"thread\":%d,\"a\":[1,2.5,\"x\\u00e9\\ud83d\\ude00\","
                   "null,true,{\"b\":[]}]}",
                   a->id);
  int ns = snprintf(spaced, sizeof spaced, "  [%d, {\"k\": \"v\"}] ", a->id);
  static const char bad[] = "{\"a\":[1,2,]}";
  static const char bad_str[] = "{\"a\":\"\\ud800\"}";
  while (!atomic_load(&json_go)) {
  }
  for (int k = 0; k < JSON_THREAD_ITERS; k++) {
    pc_value v;
    void (*release)(void *) = NULL;
    /* At offset 0: the document itself (zero copy). */
    int rc = JSON->decode((const unsigned char *)doc, (size_t)n, &v, &release);
    if (rc != PC_OK || v.type != PC_TEXT || !v.is_json ||
        v.p != (const void *)doc || v.n != (size_t)n)
      a->wrong++;
    if (rc == PC_OK) pc_value_release(&v);
    /* After whitespace: a copy. */
    rc = JSON->decode((const unsigned char *)spaced, (size_t)ns, &v, &release);
    if (rc != PC_OK || v.type != PC_TEXT || !v.is_json ||
        v.n != (size_t)ns - 3 || memcmp(v.p, spaced + 2, v.n))
      a->wrong++;
    if (rc == PC_OK) pc_value_release(&v);
    /* Invalid: an error, with this thread's message. */
    rc = JSON->decode((const unsigned char *)bad, sizeof bad - 1, &v, &release);
    if (rc != PC_ERROR || strcmp(pc__errbuf(), "undecodable stored value"))
      a->wrong++;
    rc = JSON->decode((const unsigned char *)bad_str, sizeof bad_str - 1, &v,
                      &release);
    if (rc != PC_ERROR) a->wrong++;
  }
  return NULL;
}

/* JSON decodes share no state: run under -fsanitize=thread, this reports
** any data race (cJSON's global error pointer was one). */
static void test_json_threads(void) {
  /* The counting allocator is not thread-safe: the default one meanwhile. */
  pc_set_allocator(NULL);
  pthread_t th[JSON_THREADS];
  json_thread_arg args[JSON_THREADS];
  int started = 0;
  atomic_store(&json_go, 0);
  for (int i = 0; i < JSON_THREADS; i++) {
    args[i].id = i;
    args[i].wrong = 0;
    if (pthread_create(&th[i], NULL, json_thread, &args[i]) != 0) break;
    started++;
  }
  atomic_store(&json_go, 1);
  for (int i = 0; i < started; i++)
    pthread_join(th[i], NULL);
  pc_test_use_failing_allocator();
  CHECK_EQ_INT(started, JSON_THREADS);
  for (int i = 0; i < started; i++)
    CHECK_EQ_INT(args[i].wrong, 0);
  CHECK_EQ_INT(pc_test_live, 0);
}

/* ---- Integer codecs ---- */

static void test_int_codecs(void) {
  unsigned char buf[PC_INT_ENCODED_MAX];
  int64_t x;
  for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
    const pc_serializer *both[] = {NATIVE, JSON};
    for (int k = 0; k < 2; k++) {
      const pc_int_codec *c = both[k]->ints;
      size_t n = c->encode(ints[i], buf);
      CHECK(n > 0 && n <= PC_INT_ENCODED_MAX);
      x = 12345;
      CHECK_EQ_INT(c->decode(buf, n, &x), PC_OK);
      CHECK(x == ints[i]);
      /* The same bytes as the serializer's own encoding. */
      unsigned char *enc;
      size_t nenc;
      pc_value v = pc_int(ints[i]);
      CHECK_EQ_INT(both[k]->encode(&v, NULL, 0, &enc, &nenc), PC_OK);
      CHECK(nenc == n && !memcmp(enc, buf, n));
      pc__free(enc);
    }
  }
  CHECK_EQ_INT(NATIVE->ints->encode(7, buf), 10);
  CHECK_EQ_INT(JSON->ints->encode(INT64_MIN, buf), 20);
  CHECK(!memcmp(buf, "-9223372036854775808", 20));

  /* native: only a native INTEGER. */
  const pc_int_codec *ni = NATIVE->ints;
  CHECK_EQ_INT(
      ni->decode((const unsigned char *)"\0\0\0\0\0\0\xf0\x3f\x50\x12", 10, &x),
      PC_MISMATCH);
  CHECK_EQ_INT(ni->decode((const unsigned char *)"5\x50\x13", 3, &x),
               PC_MISMATCH);
  CHECK_EQ_INT(ni->decode((const unsigned char *)"\x50\x10", 2, &x),
               PC_MISMATCH);
  CHECK_EQ_INT(
      ni->decode((const unsigned char *)"\1\0\0\0\0\0\0\0\x50\x21", 10, &x),
      PC_MISMATCH);
  CHECK_EQ_INT(
      ni->decode((const unsigned char *)"\1\0\0\0\0\0\0\0\x51\x11", 10, &x),
      PC_MISMATCH);
  CHECK_EQ_INT(
      ni->decode((const unsigned char *)"\1\0\0\0\0\0\0\0\0\x50\x11", 11, &x),
      PC_MISMATCH);
  CHECK_EQ_INT(ni->decode((const unsigned char *)"", 0, &x), PC_MISMATCH);

  /* json: a plain integer literal in range. */
  const pc_int_codec *ji = JSON->ints;
#define JI(lit) ji->decode((const unsigned char *)(lit), sizeof(lit) - 1, &x)
  CHECK_EQ_INT(JI("42"), PC_OK);
  CHECK(x == 42);
  CHECK_EQ_INT(JI(" -17\n"), PC_OK);
  CHECK(x == -17);
  CHECK_EQ_INT(JI("-9223372036854775808"), PC_OK);
  CHECK(x == INT64_MIN);
  CHECK_EQ_INT(JI("9223372036854775808"), PC_MISMATCH);
  CHECK_EQ_INT(JI("-9223372036854775809"), PC_MISMATCH);
  CHECK_EQ_INT(JI("1.0"), PC_MISMATCH);
  CHECK_EQ_INT(JI("1e2"), PC_MISMATCH);
  CHECK_EQ_INT(JI("01"), PC_MISMATCH);
  CHECK_EQ_INT(JI("true"), PC_MISMATCH);
  CHECK_EQ_INT(JI("null"), PC_MISMATCH);
  CHECK_EQ_INT(JI("\"1\""), PC_MISMATCH);
  CHECK_EQ_INT(JI("[1]"), PC_MISMATCH);
  CHECK_EQ_INT(JI("1 2"), PC_MISMATCH);
  CHECK_EQ_INT(JI(""), PC_MISMATCH);
  CHECK_EQ_INT(JI("-"), PC_MISMATCH);
#undef JI
  CHECK_EQ_INT(pc_test_live, 0);
}

/* ---- Zero copy and release ---- */

static void test_release(void) {
  unsigned char *buf;
  size_t n;
  pc_value v;
  void (*release)(void *);

  /* native TEXT: v->p is the buffer; releasing v releases it, once. */
  pc_value t = pc_text("zero copy", 9);
  CHECK_EQ_INT(NATIVE->encode(&t, NULL, 0, &buf, &n), PC_OK);
  release_calls = 0;
  release_expect = buf;
  release = counting_release;
  CHECK_EQ_INT(NATIVE->decode(buf, n, &v, &release), PC_OK);
  CHECK(release == NULL);
  CHECK(v.p == buf && v.n == 9);
  CHECK(v.free_fn == counting_release);
  CHECK_EQ_INT(release_calls, 0);
  pc_value_release(&v);
  CHECK_EQ_INT(release_calls, 1);
  pc_value_release(&v);
  CHECK_EQ_INT(release_calls, 1);

  /* A buffer that needs no release: nothing to take over. */
  CHECK_EQ_INT(NATIVE->encode(&t, NULL, 0, &buf, &n), PC_OK);
  release = NULL;
  CHECK_EQ_INT(NATIVE->decode(buf, n, &v, &release), PC_OK);
  CHECK(v.p == buf && v.free_fn == NULL);
  pc_value_release(&v);
  pc__free(buf);

  /* No release function at all (NULL): the value borrows the buffer. */
  CHECK_EQ_INT(NATIVE->encode(&t, NULL, 0, &buf, &n), PC_OK);
  CHECK_EQ_INT(NATIVE->decode(buf, n, &v, NULL), PC_OK);
  CHECK(v.p == buf && v.free_fn == NULL);
  pc_value_release(&v);
  pc__free(buf);
  pc_value jn = pc_text("[0]", 3);
  jn.is_json = 1;
  CHECK_EQ_INT(JSON->encode(&jn, NULL, 0, &buf, &n), PC_OK);
  CHECK_EQ_INT(JSON->decode(buf, n, &v, NULL), PC_OK);
  CHECK(v.p == buf && v.free_fn == NULL && v.is_json == 1);
  pc_value_release(&v);
  pc__free(buf);

  /* native INTEGER: the buffer stays the caller's. */
  pc_value i = pc_int(5);
  CHECK_EQ_INT(NATIVE->encode(&i, NULL, 0, &buf, &n), PC_OK);
  release_calls = 0;
  release_expect = buf;
  release = counting_release;
  CHECK_EQ_INT(NATIVE->decode(buf, n, &v, &release), PC_OK);
  CHECK(release == counting_release);
  CHECK(v.free_fn == NULL);
  pc_value_release(&v);
  CHECK_EQ_INT(release_calls, 0);
  release(buf);
  CHECK_EQ_INT(release_calls, 1);

  /* A failed decode takes nothing over. */
  CHECK_EQ_INT(NATIVE->encode(&t, NULL, 0, &buf, &n), PC_OK);
  release_calls = 0;
  release_expect = buf;
  release = counting_release;
  buf[n - 2] = 0x51;
  CHECK_EQ_INT(NATIVE->decode(buf, n, &v, &release), PC_ERROR);
  CHECK(release == counting_release);
  release(buf);
  CHECK_EQ_INT(release_calls, 1);

  /* json object at offset 0: zero copy, released once with v. */
  pc_value j = pc_text("{\"a\":[1]}", 9);
  j.is_json = 1;
  CHECK_EQ_INT(JSON->encode(&j, NULL, 0, &buf, &n), PC_OK);
  release_calls = 0;
  release_expect = buf;
  release = counting_release;
  CHECK_EQ_INT(JSON->decode(buf, n, &v, &release), PC_OK);
  CHECK(release == NULL && v.p == buf && v.is_json == 1);
  pc_value_release(&v);
  CHECK_EQ_INT(release_calls, 1);

  /* json object after whitespace: a copy, the buffer stays the caller's. */
  j = pc_text("  [2] ", 6);
  j.is_json = 1;
  CHECK_EQ_INT(JSON->encode(&j, NULL, 0, &buf, &n), PC_OK);
  release_calls = 0;
  release_expect = buf;
  release = counting_release;
  CHECK_EQ_INT(JSON->decode(buf, n, &v, &release), PC_OK);
  CHECK(release == counting_release);
  CHECK(v.p != buf && v.n == 3 && !memcmp(v.p, "[2]", 3));
  CHECK(v.free_fn == pc__free);
  pc_value_release(&v);
  CHECK_EQ_INT(release_calls, 0);
  release(buf);
  CHECK_EQ_INT(release_calls, 1);

  /* json string: its own buffer. */
  pc_value s = pc_text("str", 3);
  CHECK_EQ_INT(JSON->encode(&s, NULL, 0, &buf, &n), PC_OK);
  release_calls = 0;
  release_expect = buf;
  release = counting_release;
  CHECK_EQ_INT(JSON->decode(buf, n, &v, &release), PC_OK);
  CHECK(release == counting_release && v.free_fn == pc__free);
  release(buf); /* the value outlives the stored bytes */
  CHECK(v.n == 3 && !memcmp(v.p, "str", 3));
  pc_value_release(&v);
  CHECK_EQ_INT(release_calls, 1);

  CHECK_EQ_INT(pc_test_live, 0);
}

/* ---- Out of memory ---- */

/* Encodes v with allocation 1, 2, ... failing until it succeeds: each run
** is PC_NOMEM with nothing leaked, or the right bytes. */
static void oom_encode(const pc_serializer *s, pc_value v, int line) {
  unsigned char *want;
  size_t nwant;
  CHECK_EQ_INT(s->encode(&v, NULL, 0, &want, &nwant), PC_OK);
  int nomem = 0;
  for (long k = 1; k < 100; k++) {
    unsigned char *buf = NULL;
    size_t n = 0;
    pc_test_fail_after(k);
    int rc = s->encode(&v, NULL, 0, &buf, &n);
    pc_test_fail_after(0);
    if (rc == PC_NOMEM) {
      nomem++;
      CHECK(buf == NULL);
      CHECK_EQ_INT(pc_test_live, 1); /* only `want` */
      continue;
    }
    if (rc != PC_OK) fprintf(stderr, "line %d: rc=%d\n", line, rc);
    CHECK_EQ_INT(rc, PC_OK);
    CHECK(n == nwant && !memcmp(buf, want, n));
    pc__free(buf);
    break;
  }
  CHECK(nomem >= 1);
  pc__free(want);
  CHECK_EQ_INT(pc_test_live, 0);
}

/* Decodes (p, n) with allocation 1, 2, ... failing until it succeeds. */
static void oom_decode(const pc_serializer *s, const char *lit, size_t nlit,
                       int want_type, int line) {
  int nomem = 0;
  for (long k = 1; k < 100; k++) {
    unsigned char *buf = pc__malloc(nlit);
    memcpy(buf, lit, nlit);
    void (*release)(void *) = pc__free;
    pc_value v;
    pc_test_fail_after(k);
    int rc = s->decode(buf, nlit, &v, &release);
    pc_test_fail_after(0);
    if (rc == PC_NOMEM) {
      nomem++;
      CHECK(release == pc__free);
      release(buf);
      CHECK_EQ_INT(pc_test_live, 0);
      continue;
    }
    if (rc != PC_OK) fprintf(stderr, "line %d: rc=%d\n", line, rc);
    CHECK_EQ_INT(rc, PC_OK);
    CHECK_EQ_INT(v.type, want_type);
    pc_value_release(&v);
    if (release) release(buf);
    CHECK_EQ_INT(pc_test_live, 0);
    break;
  }
  CHECK(nomem >= 1);
}
#define OOM_DECODE(s, lit, type)                                               \
  oom_decode((s), (lit), sizeof(lit) - 1, (type), __LINE__)

static void test_oom(void) {
  const pc_serializer *both[] = {NATIVE, JSON};
  for (int k = 0; k < 2; k++) {
    const pc_serializer *s = both[k];
    oom_encode(s, pc_null(), __LINE__);
    oom_encode(s, pc_int(INT64_MIN), __LINE__);
    oom_encode(s, pc_real(-0.0), __LINE__);
    oom_encode(s, pc_real(INFINITY), __LINE__);
    oom_encode(s, pc_text("", 0), __LINE__);
    oom_encode(s, pc_text("a\0\"b", 4), __LINE__);
    pc_value j = pc_text("{\"a\":[1,2]}", 11);
    j.is_json = 1;
    oom_encode(s, j, __LINE__);
  }
  oom_encode(NATIVE, pc_blob("\0\1", 2), __LINE__);
  oom_encode(JSON, pc_real(NAN), __LINE__);

  /* The allocating json decode paths. */
  OOM_DECODE(JSON, "\"a\\nb\\u0000\\ud83d\\ude00\"", PC_TEXT);
  OOM_DECODE(JSON, "\"plain\"", PC_TEXT);
  OOM_DECODE(JSON, "\"\"", PC_TEXT);
  OOM_DECODE(JSON, " [1,2] ", PC_TEXT);
  OOM_DECODE(JSON,
             "1234567890123456789012345678901234567890123456789012345678901"
             "234567890.5",
             PC_REAL);
  OOM_DECODE(JSON,
             "-123456789012345678901234567890123456789012345678901234567890"
             "12345678901234567890",
             PC_REAL);
  CHECK_EQ_INT(pc_test_live, 0);
}

/* ---- Lookup, locale ---- */

static void test_find(void) {
  CHECK(pc__serializer_find("native") == NATIVE);
  CHECK(pc__serializer_find("json") == JSON);
  CHECK(pc__serializer_find("JSON") == NULL);
  CHECK(pc__serializer_find("") == NULL);
  CHECK(pc__serializer_find("msgpack") == NULL);
  CHECK(pc__serializer_find(NULL) == NULL);
  CHECK(!strcmp(NATIVE->name, "native"));
  CHECK(!strcmp(JSON->name, "json"));
  CHECK(NATIVE->ints != NULL && JSON->ints != NULL);
}

/* A decimal comma in the process locale must not change the json format. */
static void test_locale(void) {
  /* tests/unit/with_comma_locale.sh provides it (CTest runs us through
  ** it): without a decimal comma this test would prove nothing. */
  CHECK(setlocale(LC_NUMERIC, "de_DE.UTF-8") != NULL);
  CHECK(strcmp(localeconv()->decimal_point, ",") == 0);
  ENCODES_AS(JSON, pc_real(1.5), "1.5");
  ENCODES_AS(JSON, pc_real(2.0), "2.0");
  pc_value v = JSON_DECODED("2.25");
  CHECK(v.type == PC_REAL && v.r == 2.25);
  setlocale(LC_NUMERIC, "C");
}

/* Encodings that fit the caller's scratch buffer are written there and
** allocate nothing; larger ones are allocated. */
static void test_scratch(void) {
  const pc_serializer *both[] = {NATIVE, JSON};
  for (int k = 0; k < 2; k++) {
    unsigned char scratch[16], *out;
    size_t n;
    long live = pc_test_live;
    pc_value v = pc_text("hello", 5);
    CHECK_EQ_INT(both[k]->encode(&v, scratch, sizeof scratch, &out, &n), PC_OK);
    CHECK(out == scratch);
    CHECK_EQ_INT(pc_test_live, live);
    v = pc_text("a text longer than sixteen bytes", 32);
    CHECK_EQ_INT(both[k]->encode(&v, scratch, sizeof scratch, &out, &n), PC_OK);
    CHECK(out != scratch);
    CHECK_EQ_INT(pc_test_live, live + 1);
    pc_value back;
    void (*rel)(void *) = pc_free;
    CHECK_EQ_INT(both[k]->decode(out, n, &back, &rel), PC_OK);
    CHECK(back.n == 32 && memcmp(back.p, v.p, 32) == 0);
    pc_value_release(&back);
    if (rel) rel(out);
    CHECK_EQ_INT(pc_test_live, live);
  }
}

int main(void) {
  pc_test_use_failing_allocator();
  test_scratch();
  test_roundtrips(NATIVE);
  test_roundtrips(JSON);
  test_roundtrip_details();
  test_native_layout();
  test_native_malformed();
  test_json_encoding();
  test_json_decoding();
  test_json_malformed();
  test_json_documents();
  test_json_threads();
  test_int_codecs();
  test_release();
  test_oom();
  test_find();
  test_locale();
  CHECK_EQ_INT(pc_test_live, 0);
  PC_TEST_END();
}
