/*
** pc_codec.c: the serializers that turn a pc_value into the bytes a backend
** stores and back: "native" (the default, type-exact) and "json" (text any
** language can read), with their integer codecs for a backend's atomic
** incr, and pc__serializer_find().
**
** native: the payload, then a 2-byte trailer: 0x50 ('P') and
** (version << 4) | type, version 1, type PC_NULL..PC_BLOB or 5 for TEXT
** that is JSON. The payload is nothing (NULL), 8 bytes little-endian
** (INTEGER two's complement, REAL IEEE-754 bits) or the raw bytes
** (TEXT/BLOB). Because the trailer is at the end, the payload of a TEXT or
** BLOB starts at offset 0 of the stored bytes, so decoding hands out the
** stored buffer itself (zero copy) together with its release function.
**
** json: null, an exact decimal integer, a REAL written with the fewest
** digits that read back to the same bits and always with '.' or 'e' (so
** that it reads back as REAL; infinities are 9e999 / -9e999 like SQLite's
** json()), a JSON string, or the JSON text itself for TEXT marked is_json.
** Scalars are parsed here (strictly, per RFC 8259); objects and arrays are
** checked here too, against the same grammar, and handed out as JSON text.
** The checker reuses the scalar scanners, allocates nothing and keeps no
** global state (so concurrent decodes are safe; cJSON, which the config
** parser uses, writes a process-global error pointer on every parse), is
** iterative, and rejects nesting deeper than JSON_MAX_DEPTH. Strings are
** byte strings: like the scalar string parser, it rejects raw control
** characters, bad escapes and unpaired surrogate escapes, but does not
** check that raw bytes >= 0x80 are UTF-8. Numbers are formatted and read
** in the "C" locale whatever the process locale is. A decoded object or
** array that starts at offset 0 is handed out zero copy like a
** native TEXT; a decoded string, or a document after leading whitespace,
** is copied into a pc__malloc'd buffer (a value pointing at p + k could
** not be released, since free_fn is called with the value's own p).
**
** Every decoder checks every length and never reads outside (p, n); bytes
** that are not a valid encoding are PC_ERROR "undecodable stored value".
** Output sizes are computed before allocating, with overflow checks.
*/
#include "pc_internal.h"

#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NATIVE_INT_LEN (8 + PC_NATIVE_TRAILER)

/* ---- Shared helpers ---- */

static int err_undecodable(void) {
  return pc__error(PC_ERROR, "undecodable stored value");
}

static int err_nomem(void) {
  return pc__error(PC_NOMEM, "out of memory");
}

static void put_le64(unsigned char *p, uint64_t x) {
  for (int i = 0; i < 8; i++)
    p[i] = (unsigned char)(x >> (8 * i));
}

static uint64_t get_le64(const unsigned char *p) {
  uint64_t x = 0;
  for (int i = 0; i < 8; i++)
    x |= (uint64_t)p[i] << (8 * i);
  return x;
}

/* Two's complement without relying on implementation-defined conversion. */
static int64_t u64_to_i64(uint64_t u) {
  return u <= (uint64_t)INT64_MAX ? (int64_t)u : -(int64_t)(~u) - 1;
}

/* A decoded value that points at p (offset 0) takes over its release. */
static void take_release(pc_value *v, void (**release)(void *)) {
  if (release) {
    v->free_fn = *release;
    *release = NULL;
  } else {
    v->free_fn = NULL;
  }
}

/*
** The output buffer of an encoder for n bytes. Encoders start with *out at
** the caller's scratch buffer (or NULL) and *nout its capacity: it is used
** when n fits, else the buffer comes from pc__malloc. The caller frees
** *out when it is not its scratch. NULL on OOM.
*/
static unsigned char *out_buf(unsigned char **out, size_t *nout, size_t n) {
  unsigned char *b = (*out && n <= *nout) ? *out : pc__malloc(n);
  if (b) {
    *out = b;
    *nout = n;
  }
  return b;
}

/* *out = a copy of (s, n), in the scratch buffer when it fits. */
static int emit_copy(const void *s, size_t n, unsigned char **out,
                     size_t *nout) {
  unsigned char *buf = out_buf(out, nout, n);
  if (!buf) return err_nomem();
  if (n) memcpy(buf, s, n);
  return PC_OK;
}

/* ---- native ---- */

static int native_encode(const pc_value *v, unsigned char *scratch,
                         size_t nscratch, unsigned char **out, size_t *nout) {
  *out = scratch;
  *nout = nscratch;
  size_t npay;
  int tag;
  switch (v->type) {
  case PC_NULL:
    npay = 0;
    tag = PC_NULL;
    break;
  case PC_INTEGER:
  case PC_REAL:
    npay = 8;
    tag = v->type;
    break;
  case PC_TEXT:
  case PC_BLOB:
    if (!v->p && v->n) return pc__error(PC_ERROR, "value has no bytes");
    if (v->n > SIZE_MAX - PC_NATIVE_TRAILER)
      return pc__error(PC_TOOBIG, "value is too large");
    npay = v->n;
    tag = (v->type == PC_TEXT && v->is_json) ? PC_NATIVE_JSON_TEXT : v->type;
    break;
  default:
    return pc__error(PC_ERROR, "unknown value type %d", v->type);
  }
  unsigned char *buf = out_buf(out, nout, npay + PC_NATIVE_TRAILER);
  if (!buf) return err_nomem();
  if (v->type == PC_INTEGER) {
    put_le64(buf, (uint64_t)v->i);
  } else if (v->type == PC_REAL) {
    uint64_t bits;
    memcpy(&bits, &v->r, 8);
    put_le64(buf, bits);
  } else if (npay) {
    memcpy(buf, v->p, npay);
  }
  if (v->type == PC_TEXT && !(npay && memchr(v->p, 0, npay))) {
    buf[npay] = 0; /* the terminator of a C string */
    buf[npay + 1] = (unsigned char)(PC_NATIVE_VERSION_Z << 4 | tag);
  } else {
    buf[npay] = PC_NATIVE_MAGIC;
    buf[npay + 1] = (unsigned char)(PC_NATIVE_VERSION << 4 | tag);
  }
  *out = buf;
  *nout = npay + PC_NATIVE_TRAILER;
  return PC_OK;
}

static int native_decode(const unsigned char *p, size_t n, pc_value *v,
                         void (**release)(void *)) {
  if (!p || n < PC_NATIVE_TRAILER) return err_undecodable();
  unsigned char magic = p[n - 2], tag = p[n - 1];
  size_t npay = n - PC_NATIVE_TRAILER;
  int t = tag & 0x0f;
  /* Version 2: TEXT with a NUL after it and none inside. */
  int z = magic == 0 && (tag >> 4) == PC_NATIVE_VERSION_Z &&
          (t == PC_TEXT || t == PC_NATIVE_JSON_TEXT) &&
          !(npay && memchr(p, 0, npay));
  if (!z && (magic != PC_NATIVE_MAGIC || (tag >> 4) != PC_NATIVE_VERSION))
    return err_undecodable();
  if (t == PC_TEXT || t == PC_BLOB || t == PC_NATIVE_JSON_TEXT) {
    /* The common case first, written in place: the value points at the
    ** stored bytes. */
    v->type = t == PC_BLOB ? PC_BLOB : PC_TEXT;
    v->is_json = t == PC_NATIVE_JSON_TEXT;
    v->i = 0;
    v->r = 0;
    v->p = p;
    v->n = npay;
    v->nul_terminated = z;
    take_release(v, release);
    return PC_OK;
  }
  pc_value r = {0};
  switch (t) {
  case PC_NULL:
    if (npay != 0) return err_undecodable();
    r.type = PC_NULL;
    break;
  case PC_INTEGER:
    if (npay != 8) return err_undecodable();
    r.type = PC_INTEGER;
    r.i = u64_to_i64(get_le64(p));
    break;
  case PC_REAL: {
    if (npay != 8) return err_undecodable();
    uint64_t bits = get_le64(p);
    r.type = PC_REAL;
    memcpy(&r.r, &bits, 8);
    break;
  }
  default:
    return err_undecodable();
  }
  *v = r;
  return PC_OK;
}

static int native_int_decode(const unsigned char *p, size_t n, int64_t *out) {
  if (!p || n != NATIVE_INT_LEN || p[8] != PC_NATIVE_MAGIC ||
      p[9] != (PC_NATIVE_VERSION << 4 | PC_INTEGER))
    return PC_MISMATCH;
  *out = u64_to_i64(get_le64(p));
  return PC_OK;
}

static size_t native_int_encode(int64_t v, unsigned char *buf) {
  put_le64(buf, (uint64_t)v);
  buf[8] = PC_NATIVE_MAGIC;
  buf[9] = PC_NATIVE_VERSION << 4 | PC_INTEGER;
  return NATIVE_INT_LEN;
}

static const pc_int_codec native_ints = {native_int_decode, native_int_encode,
                                         PC_INT_LE64};

/* The type-exact default serializer (see the header comment). */
const pc_serializer pc__native_serializer = {"native", native_encode,
                                             native_decode, &native_ints, NULL};

/* ---- json: numbers ---- */

/* The "C" locale, so that '.' is the decimal point in any process. */
static locale_t g_c_locale;
static pthread_once_t g_c_locale_once = PTHREAD_ONCE_INIT;

static void c_locale_init(void) {
  g_c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
}

/* Switches this thread to the "C" locale; returns what to restore (0 if
** nothing was switched). */
static locale_t c_locale_enter(void) {
  pthread_once(&g_c_locale_once, c_locale_init);
  return g_c_locale ? uselocale(g_c_locale) : (locale_t)0;
}

static void c_locale_leave(locale_t old) {
  if (old) uselocale(old);
}

/* Decimal text of v into buf (at least 21 bytes, no NUL); returns length. */
static size_t fmt_int64(int64_t v, char *buf) {
  char tmp[20];
  size_t nt = 0, n = 0;
  uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
  do {
    tmp[nt++] = (char)('0' + u % 10);
    u /= 10;
  } while (u);
  if (v < 0) buf[n++] = '-';
  while (nt)
    buf[n++] = tmp[--nt];
  return n;
}

/* Shortest of %.15g/%.16g/%.17g that reads back to the same bits, with
** ".0" added when it would otherwise read back as an integer. d is finite.
** buf holds at least 40 bytes; returns the length (no NUL counted). */
static size_t fmt_real(double d, char *buf, size_t nbuf) {
  locale_t old = c_locale_enter();
  int len = 0;
  for (int prec = 15; prec <= 17; prec++) {
    len = snprintf(buf, nbuf, "%.*g", prec, d);
    double back = strtod(buf, NULL);
    if (memcmp(&back, &d, sizeof d) == 0) break;
  }
  c_locale_leave(old);
  if (len < 0 || (size_t)len >= nbuf - 2) len = 0; /* cannot happen */
  if (!strpbrk(buf, ".eE")) {
    buf[len++] = '.';
    buf[len++] = '0';
  }
  return (size_t)len;
}

static bool is_digit(unsigned char c) {
  return c >= '0' && c <= '9';
}

/*
** Length of the JSON number (RFC 8259 grammar) at the start of (s, n), 0 if
** there is none. *is_int: no fraction and no exponent.
*/
static size_t scan_number(const unsigned char *s, size_t n, bool *is_int) {
  size_t i = 0, d;
  *is_int = true;
  if (i < n && s[i] == '-') i++;
  if (i >= n) return 0;
  if (s[i] == '0') {
    i++;
  } else if (s[i] >= '1' && s[i] <= '9') {
    while (i < n && is_digit(s[i]))
      i++;
  } else {
    return 0;
  }
  if (i < n && s[i] == '.') {
    *is_int = false;
    d = ++i;
    while (i < n && is_digit(s[i]))
      i++;
    if (i == d) return 0;
  }
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    *is_int = false;
    i++;
    if (i < n && (s[i] == '+' || s[i] == '-')) i++;
    d = i;
    while (i < n && is_digit(s[i]))
      i++;
    if (i == d) return 0;
  }
  return i;
}

/* An integer literal already checked by scan_number: false if it is out of
** the int64 range. */
static bool parse_int64(const unsigned char *s, size_t n, int64_t *out) {
  bool neg = s[0] == '-';
  uint64_t lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
  uint64_t acc = 0;
  for (size_t i = neg; i < n; i++) {
    unsigned dig = (unsigned)(s[i] - '0');
    if (acc > (lim - dig) / 10) return false;
    acc = acc * 10 + dig;
  }
  *out = neg ? u64_to_i64((uint64_t)0 - acc) : (int64_t)acc;
  return true;
}

/* strtod of a number checked by scan_number (not NUL-terminated). */
static int parse_double(const unsigned char *s, size_t n, double *out) {
  char small[64];
  char *z = small;
  if (n >= sizeof small) {
    z = pc__malloc(n + 1);
    if (!z) return err_nomem();
  }
  memcpy(z, s, n);
  z[n] = 0;
  locale_t old = c_locale_enter();
  char *end;
  double d = strtod(z, &end);
  c_locale_leave(old);
  bool ok = end == z + n;
  if (z != small) pc__free(z);
  if (!ok) return err_undecodable();
  *out = d;
  return PC_OK;
}

/* ---- json: strings ---- */

static bool is_ws(unsigned char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Length of the escaped form of byte c inside a JSON string. */
static size_t escaped_len(unsigned char c) {
  if (c == '"' || c == '\\') return 2;
  if (c >= 0x20) return 1;
  if (c == '\b' || c == '\f' || c == '\n' || c == '\r' || c == '\t') return 2;
  return 6;
}

/* (s, n) as a JSON string, in a buffer of pc__malloc (*out, *nout);
** PC_NOMEM or PC_TOOBIG on failure. */
static int json_quote(const unsigned char *s, size_t n, unsigned char **out,
                      size_t *nout) {
  size_t len = 2;
  for (size_t i = 0; i < n; i++) {
    size_t e = escaped_len(s[i]);
    if (len > SIZE_MAX - e) return pc__error(PC_TOOBIG, "value is too large");
    len += e;
  }
  unsigned char *buf = out_buf(out, nout, len), *o = buf;
  if (!buf) return err_nomem();
  static const char hex[] = "0123456789abcdef";
  *o++ = '"';
  for (size_t i = 0; i < n; i++) {
    unsigned char c = s[i];
    switch (escaped_len(c)) {
    case 1:
      *o++ = c;
      break;
    case 2:
      *o++ = '\\';
      *o++ = c == '\b'   ? 'b'
             : c == '\f' ? 'f'
             : c == '\n' ? 'n'
             : c == '\r' ? 'r'
             : c == '\t' ? 't'
                         : c;
      break;
    default:
      memcpy(o, "\\u00", 4);
      o[4] = (unsigned char)hex[c >> 4];
      o[5] = (unsigned char)hex[c & 15];
      o += 6;
      break;
    }
  }
  *o++ = '"';
  *out = buf;
  *nout = len;
  return PC_OK;
}

/* Four hex digits at s (n bytes available) into *cp. */
static bool hex4(const unsigned char *s, size_t n, uint32_t *cp) {
  if (n < 4) return false;
  uint32_t x = 0;
  for (int i = 0; i < 4; i++) {
    unsigned char c = s[i];
    uint32_t d;
    if (c >= '0' && c <= '9')
      d = c - '0';
    else if (c >= 'a' && c <= 'f')
      d = c - 'a' + 10u;
    else if (c >= 'A' && c <= 'F')
      d = c - 'A' + 10u;
    else
      return false;
    x = x << 4 | d;
  }
  *cp = x;
  return true;
}

static size_t put_utf8(unsigned char *o, uint32_t cp) {
  if (cp < 0x80) {
    o[0] = (unsigned char)cp;
    return 1;
  }
  if (cp < 0x800) {
    o[0] = (unsigned char)(0xc0 | cp >> 6);
    o[1] = (unsigned char)(0x80 | (cp & 0x3f));
    return 2;
  }
  if (cp < 0x10000) {
    o[0] = (unsigned char)(0xe0 | cp >> 12);
    o[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
    o[2] = (unsigned char)(0x80 | (cp & 0x3f));
    return 3;
  }
  o[0] = (unsigned char)(0xf0 | cp >> 18);
  o[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3f));
  o[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
  o[3] = (unsigned char)(0x80 | (cp & 0x3f));
  return 4;
}

/*
** Unescapes the inside of a JSON string (s, n) (no quotes) into out, which
** has room for n bytes (the output is never longer than the input), or
** only checks it when out is NULL. Raw control characters, unknown
** escapes, bad \u digits and lone surrogates are errors (false).
*/
static bool unescape(const unsigned char *s, size_t n, unsigned char *out,
                     size_t *nout) {
  unsigned char tmp[4];
  size_t i = 0, o = 0;
  while (i < n) {
    unsigned char c = s[i];
    if (c < 0x20) return false;
    if (c != '\\') {
      if (out) out[o] = c;
      o++;
      i++;
      continue;
    }
    if (i + 1 >= n) return false;
    c = s[i + 1];
    i += 2;
    unsigned char e;
    switch (c) {
    case '"':
    case '\\':
    case '/':
      e = c;
      break;
    case 'b':
      e = '\b';
      break;
    case 'f':
      e = '\f';
      break;
    case 'n':
      e = '\n';
      break;
    case 'r':
      e = '\r';
      break;
    case 't':
      e = '\t';
      break;
    case 'u': {
      uint32_t cp, lo;
      if (!hex4(s + i, n - i, &cp)) return false;
      i += 4;
      if (cp >= 0xdc00 && cp <= 0xdfff) return false;
      if (cp >= 0xd800 && cp <= 0xdbff) {
        if (n - i < 6 || s[i] != '\\' || s[i + 1] != 'u' ||
            !hex4(s + i + 2, n - i - 2, &lo) || lo < 0xdc00 || lo > 0xdfff)
          return false;
        i += 6;
        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
      }
      size_t k = put_utf8(out ? out + o : tmp, cp);
      o += k;
      continue;
    }
    default:
      return false;
    }
    if (out) out[o] = e;
    o++;
  }
  *nout = o;
  return true;
}

/*
** Length of the JSON string at the start of (s, n) (s[0] is '"'), quotes
** included; 0 if it is not closed or holds a raw control character.
** *escapes: it holds a '\\'. The escapes are checked by unescape().
*/
static size_t scan_string(const unsigned char *s, size_t n, bool *escapes) {
  /* The closing quote is the first unescaped '"'. The byte after a '\\' is
  ** skipped here (unescape() rejects it when it is not an escape). */
  size_t i = 1;
  *escapes = false;
  while (i < n && s[i] != '"') {
    if (s[i] < 0x20) return 0;
    if (s[i] == '\\') {
      *escapes = true;
      i += 2;
    } else {
      i++;
    }
  }
  return i < n ? i + 1 : 0;
}

/*
** The JSON string (s, n) (quotes included, nothing after): checks it and,
** when v is not NULL, decodes it into a pc__malloc'd buffer.
*/
static int json_decode_string(const unsigned char *s, size_t n, pc_value *v) {
  bool escapes;
  if (scan_string(s, n, &escapes) != n) return err_undecodable();
  const unsigned char *in = s + 1;
  size_t m = n - 2, nout = m;
  if (!v)
    return !escapes || unescape(in, m, NULL, &nout) ? PC_OK : err_undecodable();
  unsigned char *buf = pc__malloc(m);
  if (!buf) return err_nomem();
  if (!escapes) {
    if (m) memcpy(buf, in, m);
  } else if (!unescape(in, m, buf, &nout)) {
    pc__free(buf);
    return err_undecodable();
  }
  pc_value r = {0};
  r.type = PC_TEXT;
  r.p = buf;
  r.n = nout;
  r.free_fn = pc__free;
  *v = r;
  return PC_OK;
}

/* ---- json: documents ---- */

/*
** The deepest nesting of objects and arrays a document may have; deeper is
** invalid. 1000 is the limit of cJSON (CJSON_NESTING_LIMIT), which checked
** the documents stored before, so that none of them becomes undecodable.
*/
#define JSON_MAX_DEPTH 1000

static size_t skip_ws(const unsigned char *s, size_t n, size_t i) {
  while (i < n && is_ws(s[i]))
    i++;
  return i;
}

/*
** Length of the JSON string, number, true, false or null at the start of
** (s, n) (n > 0), 0 if there is none. The same checks as the scalar
** decoders, without decoding.
*/
static size_t scan_scalar(const unsigned char *s, size_t n) {
  bool flag;
  size_t k, m;
  switch (s[0]) {
  case '"':
    k = scan_string(s, n, &flag);
    return k && (!flag || unescape(s + 1, k - 2, NULL, &m)) ? k : 0;
  case 't':
    return n >= 4 && !memcmp(s, "true", 4) ? 4 : 0;
  case 'f':
    return n >= 5 && !memcmp(s, "false", 5) ? 5 : 0;
  case 'n':
    return n >= 4 && !memcmp(s, "null", 4) ? 4 : 0;
  default:
    return scan_number(s, n, &flag);
  }
}

/* After the '{' or ',' that ends at i in an object: the member's key and
** its ':'. Returns the offset after the ':', 0 if they are not there. */
static size_t scan_key(const unsigned char *s, size_t n, size_t i) {
  i = skip_ws(s, n, i);
  if (i >= n || s[i] != '"') return 0;
  size_t k = scan_scalar(s + i, n - i);
  if (!k) return 0;
  i = skip_ws(s, n, i + k);
  return i < n && s[i] == ':' ? i + 1 : 0;
}

/*
** Whether (s, n) is exactly one JSON value (RFC 8259), with nothing but
** whitespace around it and at most JSON_MAX_DEPTH nested objects and
** arrays. Iterative, allocates nothing: the kinds of the open containers
** are one bit each in a bitmap on the stack.
*/
static bool json_document_valid(const unsigned char *s, size_t n) {
  unsigned char is_object[(JSON_MAX_DEPTH + 7) / 8] = {0};
  size_t depth = 0, i = 0;
  for (;;) {
    /* A value starts at i (after whitespace). */
    i = skip_ws(s, n, i);
    if (i >= n) return false;
    if (s[i] == '{' || s[i] == '[') {
      bool obj = s[i++] == '{';
      if (depth == JSON_MAX_DEPTH) return false;
      unsigned char bit = (unsigned char)(1u << (depth & 7));
      if (obj)
        is_object[depth >> 3] |= bit;
      else
        is_object[depth >> 3] &= (unsigned char)~bit;
      depth++;
      i = skip_ws(s, n, i);
      if (i < n && s[i] == (obj ? '}' : ']')) {
        i++;
        depth--; /* empty: a complete value */
      } else {
        if (obj && !(i = scan_key(s, n, i))) return false;
        continue; /* the first element or member value */
      }
    } else {
      size_t k = scan_scalar(s + i, n - i);
      if (!k) return false;
      i += k;
    }
    /* A value ended at i: close containers until a ',' wants another. */
    for (;;) {
      i = skip_ws(s, n, i);
      if (depth == 0) return i == n;
      if (i >= n) return false;
      bool obj = is_object[(depth - 1) >> 3] >> ((depth - 1) & 7) & 1;
      if (s[i] == ',') {
        i++;
        if (obj && !(i = scan_key(s, n, i))) return false;
        break;
      }
      if (s[i] != (obj ? '}' : ']')) return false;
      i++;
      depth--;
    }
  }
}

/*
** Decodes the trimmed JSON value (s, n), which starts at offset `off` of
** the stored buffer. When v is NULL it only checks, allocating nothing:
** this is how the encoder validates TEXT marked is_json, so that whatever
** it stores decodes.
*/
static int json_decode_value(const unsigned char *s, size_t n, size_t off,
                             pc_value *v, void (**release)(void *)) {
  pc_value r = {0};
  if (n == 0) return err_undecodable();
  switch (s[0]) {
  case 'n':
    if (n != 4 || memcmp(s, "null", 4)) return err_undecodable();
    r.type = PC_NULL;
    break;
  case 't':
  case 'f':
    if (n == 4 && !memcmp(s, "true", 4))
      r.i = 1;
    else if (n != 5 || memcmp(s, "false", 5))
      return err_undecodable();
    r.type = PC_INTEGER;
    break;
  case '"':
    return json_decode_string(s, n, v);
  case '{':
  case '[':
    if (!json_document_valid(s, n)) return err_undecodable();
    if (!v) return PC_OK;
    r.type = PC_TEXT;
    r.is_json = 1;
    r.n = n;
    if (off == 0) {
      /* Zero copy: v->p is the stored buffer itself, so releasing v
      ** releases the buffer. */
      r.p = s;
      take_release(&r, release);
    } else {
      unsigned char *buf = pc__malloc(n);
      if (!buf) return err_nomem();
      memcpy(buf, s, n);
      r.p = buf;
      r.free_fn = pc__free;
    }
    break;
  default: {
    bool is_int;
    if (scan_number(s, n, &is_int) != n) return err_undecodable();
    if (!v) return PC_OK;
    if (is_int && parse_int64(s, n, &r.i)) {
      r.type = PC_INTEGER;
    } else {
      int rc = parse_double(s, n, &r.r);
      if (rc != PC_OK) return rc;
      r.type = PC_REAL;
    }
    break;
  }
  }
  if (v) *v = r;
  return PC_OK;
}

/* Trims JSON whitespace: *b and *e delimit what is left of (p, n). */
static void json_trim(const unsigned char *p, size_t n, size_t *b, size_t *e) {
  size_t i = 0, j = n;
  while (i < j && is_ws(p[i]))
    i++;
  while (j > i && is_ws(p[j - 1]))
    j--;
  *b = i;
  *e = j;
}

static int json_decode(const unsigned char *p, size_t n, pc_value *v,
                       void (**release)(void *)) {
  if (!p) return err_undecodable();
  size_t b, e;
  json_trim(p, n, &b, &e);
  return json_decode_value(p + b, e - b, b, v, release);
}

static int json_encode(const pc_value *v, unsigned char *scratch,
                       size_t nscratch, unsigned char **out, size_t *nout) {
  *out = scratch;
  *nout = nscratch;
  char num[48];
  size_t len;
  switch (v->type) {
  case PC_NULL:
    return emit_copy("null", 4, out, nout);
  case PC_INTEGER:
    len = fmt_int64(v->i, num);
    return emit_copy(num, len, out, nout);
  case PC_REAL:
    /* JSON has no NaN: written as null, like JSON.stringify. */
    if (isnan(v->r)) return emit_copy("null", 4, out, nout);
    if (isinf(v->r))
      return v->r > 0 ? emit_copy("9e999", 5, out, nout)
                      : emit_copy("-9e999", 6, out, nout);
    len = fmt_real(v->r, num, sizeof num);
    return emit_copy(num, len, out, nout);
  case PC_TEXT: {
    if (!v->p && v->n) return pc__error(PC_ERROR, "value has no bytes");
    const unsigned char *s = v->p ? v->p : (const unsigned char *)"";
    if (!v->is_json) return json_quote(s, v->n, out, nout);
    size_t b, e;
    json_trim(s, v->n, &b, &e);
    if (json_decode_value(s + b, e - b, b, NULL, NULL) != PC_OK)
      return pc__error(PC_ERROR, "value is not valid JSON");
    return emit_copy(s, v->n, out, nout);
  }
  case PC_BLOB:
    return pc__error(PC_ERROR, "the json serializer cannot store a BLOB");
  default:
    return pc__error(PC_ERROR, "unknown value type %d", v->type);
  }
}

static int json_int_decode(const unsigned char *p, size_t n, int64_t *out) {
  if (!p) return PC_MISMATCH;
  size_t b, e;
  bool is_int;
  json_trim(p, n, &b, &e);
  if (b == e || scan_number(p + b, e - b, &is_int) != e - b || !is_int ||
      !parse_int64(p + b, e - b, out))
    return PC_MISMATCH;
  return PC_OK;
}

static size_t json_int_encode(int64_t v, unsigned char *buf) {
  return fmt_int64(v, (char *)buf);
}

static const pc_int_codec json_ints = {json_int_decode, json_int_encode,
                                       PC_INT_DECIMAL};

/* The portable serializer: values as JSON text (see the header comment). */
const pc_serializer pc__json_serializer = {"json", json_encode, json_decode,
                                           &json_ints, NULL};

/* ---- Registered serializers, and lookup ---- */

#define PC_MAX_SERIALIZERS 16

static pthread_mutex_t g_ser_mu = PTHREAD_MUTEX_INITIALIZER;
static struct {
  char name[PC_REG_NAME_MAX + 1];
  pc_serializer_methods methods;
  pc_serializer ser;
} g_ser[PC_MAX_SERIALIZERS];
static _Atomic int g_nser; /* entries below it are complete and fixed */

int pc_register_serializer(const pc_serializer_methods *m) {
  if (!m || !m->name || !m->encode || !m->decode)
    return pc__error(PC_ERROR, "a serializer needs a name, encode and decode");
  if (pc__check_reg_name("serializer", m->name) != PC_OK) return PC_ERROR;
  size_t n = strlen(m->name);
  pthread_mutex_lock(&g_ser_mu);
  int count = atomic_load(&g_nser), rc = PC_OK;
  if (pc__serializer_find(m->name))
    rc = pc__error(PC_EXISTS, "serializer %s is already registered", m->name);
  else if (count == PC_MAX_SERIALIZERS)
    rc = pc__error(PC_ERROR, "at most %d serializers can be registered",
                   PC_MAX_SERIALIZERS);
  if (rc == PC_OK) {
    memcpy(g_ser[count].name, m->name, n + 1);
    g_ser[count].methods = *m;
    g_ser[count].methods.name = g_ser[count].name;
    g_ser[count].ser = (pc_serializer){.name = g_ser[count].name,
                                       .custom = &g_ser[count].methods};
    atomic_store(&g_nser, count + 1); /* published complete */
  }
  pthread_mutex_unlock(&g_ser_mu);
  return rc;
}

void pc__serializer_names(char *out, size_t nout) {
  size_t k = 0;
  out[0] = 0;
  int count = atomic_load(&g_nser);
  for (int i = 0; i < count && k < nout; i++)
    k += (size_t)snprintf(out + k, nout - k, ",\"%s\"", g_ser[i].name);
}

const char *pc__serializer_custom_name(const char *z, size_t n) {
  int count = atomic_load(&g_nser);
  for (int i = 0; i < count; i++)
    if (pc__word_eq(g_ser[i].name, z, n)) return g_ser[i].name;
  return NULL;
}

int pc__custom_encode(const pc_serializer *s, const pc_value *v,
                      unsigned char *scratch, size_t nscratch,
                      unsigned char **out, size_t *nout) {
  /* The checks the built-in encoders make, before user code sees v. */
  if (v->type < PC_NULL || v->type > PC_BLOB)
    return pc__error(PC_ERROR, "unknown value type %d", v->type);
  if ((v->type == PC_TEXT || v->type == PC_BLOB) && !v->p && v->n)
    return pc__error(PC_ERROR, "value has no bytes");
  unsigned char *buf = NULL;
  size_t n = 0;
  int rc = s->custom->encode(s->custom->ctx, v, &buf, &n);
  if (rc != PC_OK) /* *out is not ours to free after an error */
    return pc__error(rc == PC_NOMEM || rc == PC_TOOBIG ? rc : PC_ERROR,
                     "serializer %s could not encode the value", s->name);
  if (!buf && n) return pc__error(PC_ERROR, "serializer %s: no bytes", s->name);
  /* Into the engine's own allocation (or the caller's scratch). */
  *out = n <= nscratch ? scratch : pc__malloc(n);
  if (!*out) {
    free(buf);
    return pc__error(PC_NOMEM, "out of memory");
  }
  if (n) memcpy(*out, buf, n);
  *nout = n;
  free(buf);
  return PC_OK;
}

int pc__custom_decode(const pc_serializer *s, const unsigned char *p, size_t n,
                      pc_value *v) {
  pc_value got = {0};
  int rc = s->custom->decode(s->custom->ctx, p, n, &got);
  if (rc != PC_OK) /* *v is not ours to release after an error */
    return pc__error(PC_ERROR, "serializer %s could not decode the bytes",
                     s->name);
  if (got.type < PC_NULL || got.type > PC_BLOB ||
      ((got.type == PC_TEXT || got.type == PC_BLOB) && !got.p && got.n)) {
    pc_value_release(&got);
    return pc__error(PC_ERROR, "serializer %s decoded a malformed value",
                     s->name);
  }
  /* An empty TEXT or BLOB has bytes, never a NULL pointer (which SQL
  ** would read as NULL). */
  if ((got.type == PC_TEXT || got.type == PC_BLOB) && !got.p) got.p = "";
  got.nul_terminated = 0; /* a claim only the engine's own decoders make */
  *v = got;
  return PC_OK;
}

/* The serializer called `name`, built in or registered, or NULL. */
const pc_serializer *pc__serializer_find(const char *name) {
  if (!name) return NULL;
  if (!strcmp(name, "native")) return &pc__native_serializer;
  if (!strcmp(name, "json")) return &pc__json_serializer;
  int count = atomic_load(&g_nser);
  for (int i = 0; i < count; i++)
    if (!strcmp(name, g_ser[i].name)) return &g_ser[i].ser;
  return NULL;
}

/* ---- Public JSON helpers (pocketcache.h) ---- */

size_t pc_format_real(double d, char *buf, size_t nbuf) {
  size_t n = fmt_real(d, buf, nbuf);
  buf[n] = 0; /* n < nbuf - 2 */
  return n;
}

int pc_json_string(const void *s, size_t n, char **out, size_t *nout) {
  unsigned char *q = NULL;
  int rc = json_quote(s ? s : (const void *)"", n, &q, nout);
  *out = (char *)q;
  return rc;
}
