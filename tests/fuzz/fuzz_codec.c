/*
** fuzz_codec: the two built-in serializers (native and json) and their
** integer codecs (what cache_incr reads and writes), fed arbitrary bytes.
**
** The first byte picks the serializer and what to do; the rest is the
** input. Oracles, beyond "no crash, leak or sanitizer report":
**   - bytes that decode to v: encode(v) decodes to v again;
**   - a value v built from the input: when encode(v) succeeds,
**     decode(encode(v)) == v (json: up to its documented mapping, NaN to
**     null and JSON text to what json decodes it to; native: exactly,
**     doubles bit for bit);
**   - an integer the codec decodes is encoded and decoded back unchanged.
*/
#include "pc_internal.h"

#include "../pc_test.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void fail(const char *what) {
  fprintf(stderr, "fuzz_codec: %s\n", what);
  abort();
}

/* Decodes (p, n) into *v the way the engine does: from a buffer of its own
** (the value may point into it), which *buf holds until release_all(). */
static int decode_copy(const pc_serializer *s, const void *p, size_t n,
                       pc_value *v, unsigned char **buf,
                       void (**release)(void *)) {
  *buf = pc__malloc(n);
  if (!*buf) fail("out of memory");
  if (n) memcpy(*buf, p, n);
  *release = pc__free;
  memset(v, 0, sizeof *v);
  return pc__ser_decode(s, *buf, n, v, release);
}

static void release_all(pc_value *v, unsigned char *buf,
                        void (*release)(void *)) {
  pc_value_release(v);
  if (release) release(buf);
}

/* decode(encode(v)) must give v back, up to json's documented mapping:
** NaN gives NULL, and JSON text is what json decodes that text to (a
** scalar becomes its type). Returns false when encode refuses v (the
** serializer cannot hold it, which is allowed). */
static bool round_trip(const pc_serializer *s, const pc_value *v) {
  pc_value want = *v, back;
  unsigned char scratch[64], *enc, *wbuf = NULL, *bbuf;
  void (*wrel)(void *) = NULL, (*brel)(void *);
  size_t nenc;
  if (pc__ser_encode(s, v, scratch, sizeof scratch, &enc, &nenc) != PC_OK)
    return false;
  if (s == &pc__json_serializer && v->type == PC_REAL && isnan(v->r))
    want = (pc_value){0};
  if (s == &pc__json_serializer && v->type == PC_TEXT && v->is_json &&
      decode_copy(s, v->p, v->n, &want, &wbuf, &wrel) != PC_OK)
    fail("json encoded text it cannot decode");
  if (decode_copy(s, enc, nenc, &back, &bbuf, &brel) != PC_OK)
    fail("an encoding does not decode");
  if (enc != scratch) pc__free(enc);
  if (!pc_test_values_equal(&want, &back)) fail("decode(encode(v)) != v");
  release_all(&back, bbuf, brel);
  if (wbuf) release_all(&want, wbuf, wrel);
  return true;
}

/* A value built from the input: type from b, payload from (p, n). */
static pc_value value_of(unsigned b, const uint8_t *p, size_t n) {
  pc_value v = {0};
  v.type = (int)(b % 5) + PC_NULL;
  switch (v.type) {
  case PC_INTEGER:
    if (n >= 8) memcpy(&v.i, p, 8);
    break;
  case PC_REAL:
    if (n >= 8) memcpy(&v.r, p, 8);
    break;
  case PC_TEXT:
  case PC_BLOB:
    v.p = p;
    v.n = n;
    v.is_json = v.type == PC_TEXT && (b / 5) % 2;
    break;
  }
  return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  unsigned op = data[0];
  const pc_serializer *s =
      (op & 1) ? &pc__json_serializer : &pc__native_serializer;
  const uint8_t *p = data + 1;
  size_t n = size - 1;

  /* A heap copy of the input, so that ASan sees every read past its end. */
  unsigned char *in = pc__malloc(n);
  if (!in) fail("out of memory");
  if (n) memcpy(in, p, n);

  switch ((op >> 1) % 3) {
  case 0: { /* bytes -> value -> bytes -> the same value */
    void (*release)(void *) = pc__free;
    pc_value v = {0};
    if (pc__ser_decode(s, in, n, &v, &release) == PC_OK) {
      if (!round_trip(s, &v)) fail("a decoded value does not encode");
      pc_value_release(&v);
    }
    if (release) release(in);
    return 0;
  }
  case 1: { /* value -> bytes -> the same value */
    pc_value v = value_of(op >> 3, in, n);
    bool ok = round_trip(s, &v);
    /* native holds every value; json every one but a BLOB and invalid
    ** JSON text. */
    if (!ok && s == &pc__native_serializer) fail("native refused a value");
    if (!ok && s == &pc__json_serializer && v.type != PC_BLOB && !v.is_json)
      fail("json refused a value it can hold");
    break;
  }
  case 2: { /* the integer codec */
    int64_t i;
    if (s->ints && s->ints->decode(in, n, &i) == PC_OK) {
      unsigned char buf[PC_INT_ENCODED_MAX];
      size_t m = s->ints->encode(i, buf);
      int64_t j;
      if (s->ints->decode(buf, m, &j) != PC_OK || j != i)
        fail("an integer does not round-trip");
    }
    break;
  }
  }
  pc__free(in);
  return 0;
}
