/*
** test_config.c: unit tests of core/pc_config.c: the defaults, every key
** through JSON and through key=value, every error message word for word,
** all-or-nothing parsing, duplicates, sizes, per-backend validation and
** URL checks, the canonical JSON form, that a URL's password never shows,
** the comparison, and out-of-memory at every allocation.
*/
#include "pc_internal.h"
#include "pc_test.h"

#include <stdint.h>

#define SECRET "S3cretPw"

/* ---- Helpers ---- */

/* True when c holds exactly the defaults and no key is marked as given. */
static int is_default(const pc_config *c) {
  pc_config d;
  pc__config_init(&d);
  return pc__config_diff(c, &d) == NULL && c->set_mask == 0;
}

/* Counts a check; on failure prints the message with the caller's line. */
static void check_msg(int line, const char *input, int rc, int want_rc,
                      const char *want) {
  pc_test_checks++;
  if (rc != want_rc || strcmp(pc__errbuf(), want) != 0) {
    pc_test_failures++;
    fprintf(stderr,
            "%s:%d: input %s: rc %d (want %d), message \"%s\"\n"
            "    want \"%s\"\n",
            __FILE__, line, input, rc, want_rc, pc__errbuf(), want);
  }
}

/* from_json of `json` must fail with `msg` and leave the defaults. */
#define JSON_ERR(json, msg) json_err(__LINE__, json, msg)
static void json_err(int line, const char *json, const char *msg) {
  pc_config c;
  pc__config_init(&c);
  int rc = pc__config_from_json(&c, json, strlen(json));
  check_msg(line, json, rc, PC_ERROR, msg);
  CHECK(is_default(&c));
  pc__config_free(&c);
  CHECK_EQ_INT(pc_test_live, 0);
}

/* from_kv of the NULL-terminated arguments must fail with `msg`. */
#define KV_ERR(msg, ...)                                                       \
  kv_err(__LINE__, msg, (const char *const[]){__VA_ARGS__, NULL})
static void kv_err(int line, const char *msg, const char *const *argv) {
  int argc = 0;
  while (argv[argc])
    argc++;
  pc_config c;
  pc__config_init(&c);
  int rc = pc__config_from_kv(&c, argc, argv);
  check_msg(line, argv[argc - 1], rc, PC_ERROR, msg);
  CHECK(is_default(&c));
  pc__config_free(&c);
  CHECK_EQ_INT(pc_test_live, 0);
}

/* from_json must succeed, then validation fail with `msg`. */
#define VALIDATE_ERR(json, msg) validate_err(__LINE__, json, msg)
static void validate_err(int line, const char *json, const char *msg) {
  pc_config c;
  pc__config_init(&c);
  int rc = pc__config_from_json(&c, json, strlen(json));
  CHECK_EQ_INT(rc, PC_OK);
  if (rc == PC_OK) {
    int64_t max_bytes = c.max_bytes;
    rc = pc__config_validate(&c);
    check_msg(line, json, rc, PC_ERROR, msg);
    CHECK_EQ_INT(c.max_bytes, max_bytes);
  }
  pc__config_free(&c);
  CHECK_EQ_INT(pc_test_live, 0);
}

/* from_json and validate must succeed; c is filled (free it). */
static int json_ok(pc_config *c, const char *json) {
  pc__config_init(c);
  int rc = pc__config_from_json(c, json, strlen(json));
  if (rc == PC_OK) rc = pc__config_validate(c);
  if (rc != PC_OK) fprintf(stderr, "  %s: %s\n", json, pc__errbuf());
  return rc;
}

/* from_kv and validate must succeed. */
#define KV_OK(c, ...) kv_ok(c, (const char *const[]){__VA_ARGS__, NULL})
static int kv_ok(pc_config *c, const char *const *argv) {
  int argc = 0;
  while (argv[argc])
    argc++;
  pc__config_init(c);
  int rc = pc__config_from_kv(c, argc, argv);
  if (rc == PC_OK) rc = pc__config_validate(c);
  if (rc != PC_OK) fprintf(stderr, "  kv: %s\n", pc__errbuf());
  return rc;
}

/* The canonical JSON of c must be `want`. */
#define JSON_IS(c, want) json_is(__LINE__, c, want)
static void json_is(int line, const pc_config *c, const char *want) {
  char *js = pc__config_to_json(c);
  pc_test_checks++;
  if (!js || strcmp(js, want) != 0) {
    pc_test_failures++;
    fprintf(stderr, "%s:%d: to_json\n    got  %s\n    want %s\n", __FILE__,
            line, js ? js : "(null)", want);
  }
  pc__free(js);
}

static int streq(const char *a, const char *b) {
  return a && b && strcmp(a, b) == 0;
}

/* ---- Defaults ---- */

static const char *const DEFAULT_JSON =
    "{\"backend\":\"memory\",\"default_ttl\":null,\"max_entries\":0,"
    "\"max_bytes\":67108864,\"eviction\":\"s3fifo\",\"serializer\":\"native\","
    "\"max_key_bytes\":65536,\"max_value_bytes\":33554432}";

static void test_defaults(void) {
  pc_config c;
  pc__config_init(&c);
  CHECK(streq(c.backend, "memory"));
  CHECK_EQ_INT(c.default_ttl_ms, PC_TTL_NEVER);
  CHECK_EQ_INT(c.max_entries, 0);
  CHECK_EQ_INT(c.max_bytes, 64 << 20);
  CHECK(streq(c.eviction, "s3fifo"));
  CHECK(streq(c.serializer, "native"));
  CHECK_EQ_INT(c.max_key_bytes, 64 << 10);
  CHECK_EQ_INT(c.max_value_bytes, 32 << 20);
  CHECK(c.cache_dir == NULL);
  CHECK(c.create_dir == true);
  CHECK_EQ_INT(c.dir_mode, 0700);
  CHECK_EQ_INT(c.file_mode, 0600);
  CHECK_EQ_INT(c.synchronous, PC_SYNC_NORMAL);
  CHECK(c.url == NULL);
  CHECK(c.prefix == NULL);
  CHECK_EQ_INT(c.connect_timeout_ms, 1000);
  CHECK_EQ_INT(c.timeout_ms, 1000);
  CHECK_EQ_INT(c.on_error, PC_ON_ERROR_FALLBACK);
  CHECK_EQ_INT(c.local_max_bytes, 0);
  CHECK_EQ_INT(c.set_mask, 0);
  JSON_IS(&c, DEFAULT_JSON);
  CHECK_EQ_INT(pc__config_validate(&c), PC_OK);
  CHECK_EQ_INT(c.max_bytes, 64 << 20);
  CHECK(is_default(&c));
  pc__config_free(&c);
  pc__config_free(&c); /* safe twice */

  /* An empty object is the defaults; the text need not end in NUL. */
  const char *text = "  { }  trailing bytes outside the length";
  pc__config_init(&c);
  CHECK_EQ_INT(pc__config_from_json(&c, text, 7), PC_OK);
  CHECK(is_default(&c));
  pc__config_free(&c);
  CHECK_EQ_INT(pc__config_from_kv(&c, 0, NULL), PC_OK);
  CHECK(is_default(&c));
  CHECK_EQ_INT(pc_test_live, 0);
}

/* ---- Every key through JSON ---- */

static void test_json_keys(void) {
  pc_config c;
  CHECK_EQ_INT(json_ok(&c, "{\"backend\":\"memory\",\"default_ttl\":300,"
                           "\"max_entries\":1000,\"max_bytes\":\"16MB\","
                           "\"eviction\":\"lru\",\"serializer\":\"json\","
                           "\"max_key_bytes\":1024,"
                           "\"max_value_bytes\":\"1MiB\"}"),
               PC_OK);
  CHECK(streq(c.backend, "memory"));
  CHECK_EQ_INT(c.default_ttl_ms, 300000);
  CHECK_EQ_INT(c.max_entries, 1000);
  CHECK_EQ_INT(c.max_bytes, 16 << 20);
  CHECK(streq(c.serializer, "json"));
  CHECK_EQ_INT(c.max_key_bytes, 1024);
  CHECK_EQ_INT(c.max_value_bytes, 1 << 20);
  CHECK_EQ_INT(c.set_mask,
               (1u << PC_KEY_BACKEND) | (1u << PC_KEY_DEFAULT_TTL) |
                   (1u << PC_KEY_MAX_ENTRIES) | (1u << PC_KEY_MAX_BYTES) |
                   (1u << PC_KEY_EVICTION) | (1u << PC_KEY_SERIALIZER) |
                   (1u << PC_KEY_MAX_KEY_BYTES) |
                   (1u << PC_KEY_MAX_VALUE_BYTES));
  pc__config_free(&c);

  CHECK_EQ_INT(json_ok(&c, "{\"backend\":\"filesystem\",\"cache_dir\":"
                           "\".cache\",\"create_dir\":false,\"dir_mode\":"
                           "\"0750\",\"file_mode\":640,\"synchronous\":"
                           "\"full\",\"local_max_bytes\":\"8MB\","
                           "\"default_ttl\":1.5,\"max_entries\":0}"),
               PC_OK);
  CHECK(streq(c.backend, "filesystem"));
  CHECK(streq(c.cache_dir, ".cache"));
  CHECK(c.create_dir == false);
  CHECK_EQ_INT(c.dir_mode, 0750);
  CHECK_EQ_INT(c.file_mode, 0640);
  CHECK_EQ_INT(c.synchronous, PC_SYNC_FULL);
  CHECK_EQ_INT(c.local_max_bytes, 8 << 20);
  CHECK_EQ_INT(c.default_ttl_ms, 1500);
  CHECK_EQ_INT(c.max_bytes, INT64_C(1) << 30); /* the filesystem default */
  JSON_IS(&c, "{\"backend\":\"filesystem\",\"default_ttl\":1.5,"
              "\"max_entries\":0,\"max_bytes\":1073741824,\"eviction\":"
              "\"lru\",\"serializer\":\"native\",\"max_key_bytes\":65536,"
              "\"max_value_bytes\":33554432,\"cache_dir\":\".cache\","
              "\"create_dir\":false,\"dir_mode\":\"0750\",\"file_mode\":"
              "\"0640\",\"synchronous\":\"full\","
              "\"local_max_bytes\":8388608}");
  pc__config_free(&c);

  /* filesystem keeps a max_bytes that was given, and validation twice is
  ** harmless. */
  CHECK_EQ_INT(json_ok(&c, "{\"backend\":\"filesystem\",\"cache_dir\":\"d\","
                           "\"max_bytes\":\"2GB\",\"dir_mode\":700,"
                           "\"create_dir\":1,\"synchronous\":\"OFF\"}"),
               PC_OK);
  CHECK_EQ_INT(c.max_bytes, INT64_C(2) << 30);
  CHECK_EQ_INT(c.dir_mode, 0700);
  CHECK(c.create_dir == true);
  CHECK_EQ_INT(c.synchronous, PC_SYNC_OFF);
  CHECK_EQ_INT(pc__config_validate(&c), PC_OK);
  CHECK_EQ_INT(c.max_bytes, INT64_C(2) << 30);
  pc__config_free(&c);

  CHECK_EQ_INT(json_ok(&c, "{\"backend\":\"redis\",\"url\":"
                           "\"redis://127.0.0.1:6379/0\",\"prefix\":\"api:\","
                           "\"connect_timeout_ms\":250,\"timeout_ms\":\"500\","
                           "\"on_error\":\"raise\",\"local_max_bytes\":"
                           "1048576,\"default_ttl\":-1,\"serializer\":"
                           "\"native\",\"max_key_bytes\":\"1GiB\"}"),
               PC_OK);
  CHECK(streq(c.backend, "redis"));
  CHECK(streq(c.url, "redis://127.0.0.1:6379/0"));
  CHECK(streq(c.prefix, "api:"));
  CHECK_EQ_INT(c.connect_timeout_ms, 250);
  CHECK_EQ_INT(c.timeout_ms, 500);
  CHECK_EQ_INT(c.on_error, PC_ON_ERROR_RAISE);
  CHECK_EQ_INT(c.local_max_bytes, 1 << 20);
  CHECK_EQ_INT(c.default_ttl_ms, PC_TTL_NEVER);
  CHECK_EQ_INT(c.max_key_bytes, INT64_C(1) << 30);
  CHECK_EQ_INT(c.max_bytes, 64 << 20); /* not used by redis */
  pc__config_free(&c);

  /* null is the default, and does not count as given. */
  CHECK_EQ_INT(json_ok(&c, "{\"max_bytes\":null,\"default_ttl\":null,"
                           "\"prefix\":null,\"cache_dir\":null,"
                           "\"create_dir\":null,\"backend\":null}"),
               PC_OK);
  CHECK(is_default(&c));
  pc__config_free(&c);

  /* Text for numbers, case-insensitive names, booleans in words. */
  CHECK_EQ_INT(json_ok(&c, "{\"backend\":\"FileSystem\",\"cache_dir\":\"/x\","
                           "\"default_ttl\":\"60\",\"max_entries\":\"7\","
                           "\"create_dir\":\"No\",\"eviction\":\"LRU\","
                           "\"max_bytes\":1e3}"),
               PC_OK);
  CHECK(streq(c.backend, "filesystem"));
  CHECK(streq(c.eviction, "lru"));
  CHECK_EQ_INT(c.default_ttl_ms, 60000);
  CHECK_EQ_INT(c.max_entries, 7);
  CHECK(c.create_dir == false);
  CHECK_EQ_INT(c.max_bytes, 1000);
  pc__config_free(&c);

  /* Every policy by name; the filesystem backend's default is lru. */
  CHECK_EQ_INT(json_ok(&c, "{\"eviction\":\"SIEVE\"}"), PC_OK);
  CHECK(streq(c.eviction, "sieve"));
  pc__config_free(&c);
  CHECK_EQ_INT(json_ok(&c, "{\"eviction\":\"s3fifo\",\"max_entries\":9}"),
               PC_OK);
  CHECK(streq(c.eviction, "s3fifo"));
  pc__config_free(&c);
  CHECK_EQ_INT(json_ok(&c, "{\"backend\":\"filesystem\",\"cache_dir\":\"/x\"}"),
               PC_OK);
  CHECK(streq(c.eviction, "lru"));
  pc__config_free(&c);

  /* Empty text for a string key is the same as absent. */
  CHECK_EQ_INT(json_ok(&c, "{\"backend\":\"redis\",\"url\":\"redis://h\","
                           "\"prefix\":\"\"}"),
               PC_OK);
  CHECK(c.prefix == NULL);
  pc__config_free(&c);
  CHECK_EQ_INT(pc_test_live, 0);
}

/* ---- Every key through key=value ---- */

static void test_kv_keys(void) {
  pc_config c;
  CHECK_EQ_INT(KV_OK(&c, "backend=memory", " default_ttl = 300 ",
                     "max_entries=1000", "max_bytes='16MB'", "eviction=LRU",
                     "serializer=\"json\"", "max_key_bytes=1KB",
                     "max_value_bytes=1MiB"),
               PC_OK);
  CHECK_EQ_INT(c.default_ttl_ms, 300000);
  CHECK_EQ_INT(c.max_entries, 1000);
  CHECK_EQ_INT(c.max_bytes, 16 << 20);
  CHECK(streq(c.eviction, "lru"));
  CHECK(streq(c.serializer, "json"));
  CHECK_EQ_INT(c.max_key_bytes, 1024);
  CHECK_EQ_INT(c.max_value_bytes, 1 << 20);
  pc__config_free(&c);

  CHECK_EQ_INT(KV_OK(&c, "backend=filesystem", "cache_dir='/tmp/it''s here'",
                     "create_dir=no", "dir_mode=750", "file_mode='0640'",
                     "synchronous=FULL", "local_max_bytes=8MB",
                     "default_ttl=1.5", "max_entries=5"),
               PC_OK);
  CHECK(streq(c.cache_dir, "/tmp/it's here"));
  CHECK(c.create_dir == false);
  CHECK_EQ_INT(c.dir_mode, 0750);
  CHECK_EQ_INT(c.file_mode, 0640);
  CHECK_EQ_INT(c.synchronous, PC_SYNC_FULL);
  CHECK_EQ_INT(c.local_max_bytes, 8 << 20);
  CHECK_EQ_INT(c.default_ttl_ms, 1500);
  CHECK_EQ_INT(c.max_entries, 5);
  CHECK_EQ_INT(c.max_bytes, INT64_C(1) << 30);
  pc__config_free(&c);

  CHECK_EQ_INT(KV_OK(&c, "backend='redis'", "url=\"redis://:pw@host:6380/2\"",
                     "prefix='a=b ''c'' \"d\"'", "connect_timeout_ms=250",
                     "timeout_ms = '500'", "on_error=Raise", "default_ttl=-1",
                     "local_max_bytes=0"),
               PC_OK);
  CHECK(streq(c.url, "redis://:pw@host:6380/2"));
  CHECK(streq(c.prefix, "a=b 'c' \"d\""));
  CHECK_EQ_INT(c.connect_timeout_ms, 250);
  CHECK_EQ_INT(c.timeout_ms, 500);
  CHECK_EQ_INT(c.on_error, PC_ON_ERROR_RAISE);
  CHECK_EQ_INT(c.default_ttl_ms, PC_TTL_NEVER);
  CHECK_EQ_INT(c.local_max_bytes, 0);
  pc__config_free(&c);

  /* Double quotes doubled, '=' and spaces inside quotes, quoted 'NULL' is
  ** text, unquoted NULL in any case is null, keys in any case. */
  CHECK_EQ_INT(KV_OK(&c, "BACKEND=redis", "Url = 'redis://h'",
                     "prefix=\"x\"\"y = z \"", "default_ttl=NULL",
                     "timeout_ms=null", "on_error=nUlL"),
               PC_OK);
  CHECK(streq(c.prefix, "x\"y = z "));
  CHECK_EQ_INT(c.default_ttl_ms, PC_TTL_NEVER);
  CHECK_EQ_INT(c.timeout_ms, 1000);
  CHECK_EQ_INT(c.set_mask, (1u << PC_KEY_BACKEND) | (1u << PC_KEY_URL) |
                               (1u << PC_KEY_PREFIX));
  pc__config_free(&c);
  CHECK_EQ_INT(KV_OK(&c, "backend=redis", "url=redis://h", "prefix='NULL'"),
               PC_OK);
  CHECK(streq(c.prefix, "NULL"));
  pc__config_free(&c);
  CHECK_EQ_INT(KV_OK(&c, "backend=redis", "url=redis://h", "prefix=''",
                     "create_dir=NULL"),
               PC_OK);
  CHECK(c.prefix == NULL);
  pc__config_free(&c);

  /* Booleans: true/false, 1/0, yes/no, on/off in any case. */
  static const struct {
    const char *arg;
    bool want;
  } bools[] = {{"create_dir=true", 1}, {"create_dir=FALSE", 0},
               {"create_dir=1", 1},    {"create_dir=0", 0},
               {"create_dir=Yes", 1},  {"create_dir=no", 0},
               {"create_dir=ON", 1},   {"create_dir=off", 0}};
  for (size_t i = 0; i < sizeof bools / sizeof bools[0]; i++) {
    CHECK_EQ_INT(KV_OK(&c, "backend=filesystem", "cache_dir=d", bools[i].arg),
                 PC_OK);
    CHECK_EQ_INT(c.create_dir, bools[i].want);
    pc__config_free(&c);
  }
  CHECK_EQ_INT(pc_test_live, 0);
}

/* ---- Error messages ---- */

static void test_json_errors(void) {
  JSON_ERR("[1,2]", "configuration is not a JSON object: it is an array");
  JSON_ERR("\"x\"", "configuration is not a JSON object: it is a string");
  JSON_ERR("42", "configuration is not a JSON object: it is a number");
  JSON_ERR("null", "configuration is not a JSON object: it is null");
  JSON_ERR("", "configuration is not a JSON object: it is empty");
  JSON_ERR(" \n ", "configuration is not a JSON object: it is empty");
  JSON_ERR("{\"a\":}",
           "configuration is not a JSON object: syntax error at byte 5");
  JSON_ERR("{} x",
           "configuration is not a JSON object: unexpected text at byte 3");
  JSON_ERR("{\"foo\":1}", "unknown configuration key 'foo'");
  JSON_ERR("{\"Backend\":\"memory\"}", "unknown configuration key 'Backend'");
  JSON_ERR("{\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\":1}",
           "unknown configuration key "
           "'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...'");
  JSON_ERR("{\"backend\":\"memory\",\"backend\":\"memory\"}",
           "configuration key 'backend' is given twice");
  JSON_ERR("{\"max_bytes\":null,\"max_bytes\":1}",
           "configuration key 'max_bytes' is given twice");

  JSON_ERR("{\"backend\":\"foo\"}", "backend: unknown backend 'foo'");
  JSON_ERR(
      "{\"backend\":1}",
      "backend: must be memory, filesystem, redis or a registered backend");
  JSON_ERR("{\"eviction\":\"lfu\"}",
           "eviction: unknown policy 'lfu' (available: s3fifo, sieve, lru)");
  JSON_ERR("{\"serializer\":\"xml\"}", "serializer: must be native or json");
  JSON_ERR("{\"synchronous\":\"sometimes\"}",
           "synchronous: must be off, normal or full");
  JSON_ERR("{\"synchronous\":1}", "synchronous: must be off, normal or full");
  JSON_ERR("{\"on_error\":\"ignore\"}", "on_error: must be fallback or raise");

  JSON_ERR("{\"max_bytes\":\"64XB\"}",
           "max_bytes: '64XB' is not a size (use 512, 64KB, 16MB, 1GB)");
  JSON_ERR("{\"max_bytes\":\"1.5GB\"}",
           "max_bytes: '1.5GB' is not a size (use 512, 64KB, 16MB, 1GB)");
  JSON_ERR("{\"max_bytes\":1.5}",
           "max_bytes: '1.5' is not a size (use 512, 64KB, 16MB, 1GB)");
  JSON_ERR("{\"max_bytes\":-1}",
           "max_bytes: '-1' is not a size (use 512, 64KB, 16MB, 1GB)");
  JSON_ERR("{\"max_bytes\":\"99999999999999999999\"}",
           "max_bytes: '99999999999999999999' is too large");
  JSON_ERR("{\"max_bytes\":1e300}", "max_bytes: '1e+300' is too large");
  JSON_ERR("{\"max_bytes\":0}", "max_bytes: must be a size of at least 1 "
                                "byte (use 512, 64KB, 16MB, 1GB)");
  JSON_ERR("{\"max_bytes\":true}", "max_bytes: must be a size of at least 1 "
                                   "byte (use 512, 64KB, 16MB, 1GB)");
  JSON_ERR("{\"max_key_bytes\":\"2GB\"}",
           "max_key_bytes: must be a size from 1 byte to 1GiB");
  JSON_ERR("{\"max_value_bytes\":0}",
           "max_value_bytes: must be a size from 1 byte to 1GiB");
  JSON_ERR("{\"max_value_bytes\":1073741825}",
           "max_value_bytes: must be a size from 1 byte to 1GiB");
  JSON_ERR("{\"local_max_bytes\":-5}",
           "local_max_bytes: '-5' is not a size (use 512, 64KB, 16MB, 1GB)");
  JSON_ERR("{\"local_max_bytes\":[1]}",
           "local_max_bytes: must be a size (use 0, 64KB, 16MB, 1GB)");

  JSON_ERR("{\"max_entries\":-1}",
           "max_entries: must be an integer >= 0 (0 = unbounded)");
  JSON_ERR("{\"max_entries\":2.5}",
           "max_entries: must be an integer >= 0 (0 = unbounded)");
  JSON_ERR("{\"max_entries\":1e20}",
           "max_entries: must be an integer >= 0 (0 = unbounded)");
  JSON_ERR("{\"max_entries\":\"99999999999999999999\"}",
           "max_entries: must be an integer >= 0 (0 = unbounded)");
  JSON_ERR("{\"timeout_ms\":0}", "timeout_ms: must be a positive integer");
  JSON_ERR("{\"timeout_ms\":1.5}", "timeout_ms: must be a positive integer");
  JSON_ERR("{\"timeout_ms\":-3}", "timeout_ms: must be a positive integer");
  JSON_ERR("{\"timeout_ms\":\"abc\"}",
           "timeout_ms: must be a positive integer");
  JSON_ERR("{\"timeout_ms\":false}", "timeout_ms: must be a positive integer");
  JSON_ERR("{\"connect_timeout_ms\":1e12}",
           "connect_timeout_ms: must be at most 2147483647");

  JSON_ERR("{\"dir_mode\":\"0799\"}", "dir_mode: '0799' is not an octal mode");
  JSON_ERR("{\"dir_mode\":\"1777\"}", "dir_mode: '1777' is not an octal mode");
  JSON_ERR("{\"file_mode\":799}", "file_mode: '799' is not an octal mode");
  JSON_ERR("{\"file_mode\":1000}", "file_mode: '1000' is not an octal mode");
  JSON_ERR("{\"file_mode\":64.5}", "file_mode: '64.5' is not an octal mode");
  JSON_ERR("{\"dir_mode\":\"\"}", "dir_mode: '' is not an octal mode");
  JSON_ERR("{\"dir_mode\":true}",
           "dir_mode: must be an octal mode such as 0700");

  const char *ttl = "default_ttl: ttl must be a positive number of seconds, "
                    "-1 or NULL";
  JSON_ERR("{\"default_ttl\":0}", ttl);
  JSON_ERR("{\"default_ttl\":-2}", ttl);
  JSON_ERR("{\"default_ttl\":\"abc\"}", ttl);
  JSON_ERR("{\"default_ttl\":\"10abc\"}", ttl);
  JSON_ERR("{\"default_ttl\":\"inf\"}", ttl);
  JSON_ERR("{\"default_ttl\":true}", ttl);
  JSON_ERR("{\"default_ttl\":{}}", ttl);
  JSON_ERR("{\"default_ttl\":1e300}",
           "default_ttl: ttl is too large (at most 2^53 ms)");

  JSON_ERR("{\"create_dir\":\"maybe\"}",
           "create_dir: must be true or false (or 1/0, yes/no, on/off)");
  JSON_ERR("{\"create_dir\":2}",
           "create_dir: must be true or false (or 1/0, yes/no, on/off)");
  JSON_ERR("{\"prefix\":5}", "prefix: must be text");
  JSON_ERR("{\"url\":5}", "url: must be a redis:// or unix:// URL");
  JSON_ERR("{\"cache_dir\":{}}", "cache_dir: must be a directory path");

  /* A path longer than 4095 bytes. */
  char big[5000];
  int n = snprintf(big, sizeof big, "{\"cache_dir\":\"");
  memset(big + n, 'a', 4096);
  snprintf(big + n + 4096, sizeof big - (size_t)n - 4096, "\"}");
  JSON_ERR(big, "cache_dir: the path is too long (at most 4095 bytes)");
}

static void test_kv_errors(void) {
  KV_ERR("configuration argument 'xyz' is not key=value", "xyz");
  KV_ERR("configuration argument '' is not key=value", "");
  KV_ERR("configuration argument '=x' has no key", "=x");
  KV_ERR("configuration argument '  = x' has no key", "  = x");
  KV_ERR("unknown configuration key 'foo'", "foo=1");
  KV_ERR("unknown configuration key 'max bytes'", "max bytes=1");
  KV_ERR("configuration key 'backend' is given twice", "backend=memory",
         "Backend=redis");
  KV_ERR("prefix: the quoted value is not closed", "prefix='abc");
  KV_ERR("prefix: the quoted value is not closed", "prefix='");
  KV_ERR("prefix: the quoted value is not closed", "prefix=\"it''s\"\"");
  KV_ERR("prefix: unexpected text after the closing quote", "prefix='a'b");
  KV_ERR("max_bytes: '64XB' is not a size (use 512, 64KB, 16MB, 1GB)",
         "max_bytes=64XB");
  KV_ERR("max_bytes: '1.5GB' is not a size (use 512, 64KB, 16MB, 1GB)",
         "max_bytes=1.5GB");
  KV_ERR("max_bytes: '-1' is not a size (use 512, 64KB, 16MB, 1GB)",
         "max_bytes=-1");
  KV_ERR("max_bytes: '' is not a size (use 512, 64KB, 16MB, 1GB)",
         "max_bytes=");
  KV_ERR("max_bytes: '64 KB' is not a size (use 512, 64KB, 16MB, 1GB)",
         "max_bytes='64 KB'");
  KV_ERR("max_bytes: '99999999999999999999' is too large",
         "max_bytes=99999999999999999999");
  KV_ERR("dir_mode: '0799' is not an octal mode", "dir_mode=0799");
  KV_ERR("timeout_ms: must be a positive integer", "timeout_ms=0");
  KV_ERR("timeout_ms: must be a positive integer", "timeout_ms=1.5");
  KV_ERR("timeout_ms: must be a positive integer", "timeout_ms=' 5'");
  KV_ERR("backend: unknown backend 'foo'", "backend=foo");
  KV_ERR("serializer: must be native or json", "serializer=xml");
  KV_ERR("synchronous: must be off, normal or full", "synchronous=2");
  KV_ERR("on_error: must be fallback or raise", "on_error=ignore");
  KV_ERR("eviction: unknown policy 'x' (available: s3fifo, sieve, lru)",
         "eviction=x");
  KV_ERR("default_ttl: ttl must be a positive number of seconds, -1 or NULL",
         "default_ttl='NULL'");
  KV_ERR("default_ttl: ttl must be a positive number of seconds, -1 or NULL",
         "default_ttl=0");
  KV_ERR("create_dir: must be true or false (or 1/0, yes/no, on/off)",
         "create_dir=maybe");
  KV_ERR("backend: unknown backend 'a?b'", "backend='a\nb'");
  /* The first bad argument is the one reported. */
  KV_ERR("unknown configuration key 'bogus'", "backend=memory", "bogus=1",
         "max_bytes=64XB");

  pc_config c;
  pc__config_init(&c);
  const char *argv[] = {"backend=memory", NULL};
  check_msg(__LINE__, "(null argument)", pc__config_from_kv(&c, 2, argv),
            PC_ERROR, "configuration argument 2 is missing");
  CHECK(is_default(&c));
}

/* ---- All-or-nothing and duplicates ---- */

static void test_all_or_nothing(void) {
  /* Good keys (strings included) then a bad one: the defaults remain and
  ** nothing leaks. */
  JSON_ERR("{\"backend\":\"redis\",\"url\":\"redis://h\",\"prefix\":\"p:\","
           "\"timeout_ms\":5,\"max_bytes\":\"64XB\"}",
           "max_bytes: '64XB' is not a size (use 512, 64KB, 16MB, 1GB)");
  KV_ERR("dir_mode: '9' is not an octal mode", "backend=filesystem",
         "cache_dir='/tmp/x'", "max_bytes=1GB", "dir_mode=9");
  KV_ERR("configuration key 'cache_dir' is given twice", "cache_dir=a",
         "cache_dir=b");

  /* A configuration already filled keeps what it held on a failed parse,
  ** and is replaced (old text freed) by a good one. */
  pc_config c;
  CHECK_EQ_INT(json_ok(&c, "{\"backend\":\"redis\",\"url\":\"redis://h\","
                           "\"prefix\":\"p:\"}"),
               PC_OK);
  const char *bad = "{\"prefix\":\"q:\",\"timeout_ms\":0}";
  CHECK_EQ_INT(pc__config_from_json(&c, bad, strlen(bad)), PC_ERROR);
  CHECK(streq(c.backend, "redis"));
  CHECK(streq(c.url, "redis://h"));
  CHECK(streq(c.prefix, "p:"));
  const char *argv[] = {"prefix=r:", "url=x", "nope=1"};
  CHECK_EQ_INT(pc__config_from_kv(&c, 3, argv), PC_ERROR);
  CHECK(streq(c.prefix, "p:"));
  const char *good = "{\"prefix\":\"z:\"}";
  CHECK_EQ_INT(pc__config_from_json(&c, good, strlen(good)), PC_OK);
  CHECK(streq(c.prefix, "z:"));
  CHECK(c.url == NULL);
  CHECK(streq(c.backend, "memory"));
  pc__config_free(&c);
  CHECK_EQ_INT(pc_test_live, 0);
}

/* ---- Sizes ---- */

static void test_sizes(void) {
  static const struct {
    const char *text;
    int rc;
    int64_t value;
  } t[] = {
      {"512", PC_OK, 512},
      {"64KB", PC_OK, 64 << 10},
      {"16MB", PC_OK, 16 << 20},
      {"1GB", PC_OK, INT64_C(1) << 30},
      {"1GiB", PC_OK, INT64_C(1) << 30},
      {"1gib", PC_OK, INT64_C(1) << 30},
      {"3kib", PC_OK, 3072},
      {"2MiB", PC_OK, 2 << 20},
      {"1TB", PC_OK, INT64_C(1) << 40},
      {"1TiB", PC_OK, INT64_C(1) << 40},
      {"10B", PC_OK, 10},
      {"10b", PC_OK, 10},
      {"0", PC_OK, 0},
      {"007", PC_OK, 7},
      {"9223372036854775807", PC_OK, INT64_MAX},
      {"8388607TB", PC_OK, INT64_C(8388607) << 40},
      {"8388608TB", PC_ERROR, 0},
      {"9223372036854775808", PC_ERROR, 0},
      {"99999999999999999999", PC_ERROR, 0},
      {"64XB", PC_ERROR, 0},
      {"1.5GB", PC_ERROR, 0},
      {"-1", PC_ERROR, 0},
      {"", PC_ERROR, 0},
      {"64 KB", PC_ERROR, 0},
      {" 64KB", PC_ERROR, 0},
      {"64KB ", PC_ERROR, 0},
      {"KB", PC_ERROR, 0},
      {"+5", PC_ERROR, 0},
      {"0x10", PC_ERROR, 0},
      {"1KBB", PC_ERROR, 0},
      {"1K", PC_ERROR, 0},
      {"1PB", PC_ERROR, 0},
  };
  for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
    int64_t v = -42;
    int rc = pc__parse_size(t[i].text, strlen(t[i].text), &v);
    pc_test_checks++;
    if (rc != t[i].rc || (rc == PC_OK && v != t[i].value)) {
      pc_test_failures++;
      fprintf(stderr, "%s:%d: size '%s': rc %d value %lld\n", __FILE__,
              __LINE__, t[i].text, rc, (long long)v);
    }
    if (rc != PC_OK) CHECK_EQ_INT(v, -42); /* untouched on error */
  }
  int64_t v;
  check_msg(__LINE__, "64XB", pc__parse_size("64XB", 4, &v), PC_ERROR,
            "'64XB' is not a size (use 512, 64KB, 16MB, 1GB)");
  check_msg(__LINE__, "99999999999999999999",
            pc__parse_size("99999999999999999999", 20, &v), PC_ERROR,
            "'99999999999999999999' is too large");
  /* The length bounds the text: "16MBxyz" with n = 4 is 16MB. */
  CHECK_EQ_INT(pc__parse_size("16MBxyz", 4, &v), PC_OK);
  CHECK_EQ_INT(v, 16 << 20);
}

/* ---- Validation and URLs ---- */

static void test_validate(void) {
  VALIDATE_ERR("{\"cache_dir\":\"d\"}",
               "cache_dir: applies only to backend filesystem, not to memory");
  VALIDATE_ERR("{\"create_dir\":false}",
               "create_dir: applies only to backend filesystem, not to memory");
  VALIDATE_ERR("{\"backend\":\"redis\",\"url\":\"redis://h\","
               "\"synchronous\":\"off\"}",
               "synchronous: applies only to backend filesystem, not to redis");
  VALIDATE_ERR("{\"url\":\"redis://h\"}",
               "url: applies only to backend redis, not to memory");
  VALIDATE_ERR("{\"backend\":\"filesystem\",\"cache_dir\":\"d\","
               "\"on_error\":\"raise\"}",
               "on_error: applies only to backend redis, not to filesystem");
  VALIDATE_ERR("{\"prefix\":\"p\"}",
               "prefix: applies only to backend redis, not to memory");
  VALIDATE_ERR("{\"timeout_ms\":5}",
               "timeout_ms: applies only to backend redis, not to memory");
  VALIDATE_ERR("{\"backend\":\"redis\",\"url\":\"redis://h\","
               "\"max_bytes\":\"1GB\"}",
               "max_bytes: applies only to backends memory and filesystem, "
               "not to redis");
  VALIDATE_ERR("{\"backend\":\"filesystem\",\"cache_dir\":\"/x\","
               "\"eviction\":\"sieve\"}",
               "eviction: the filesystem backend has lru only (an "
               "approximation that never writes on a read), not sieve");
  VALIDATE_ERR("{\"backend\":\"redis\",\"url\":\"redis://h\","
               "\"eviction\":\"lru\"}",
               "eviction: applies only to backends memory and filesystem, "
               "not to redis");
  VALIDATE_ERR("{\"backend\":\"redis\",\"url\":\"redis://h\","
               "\"max_entries\":3}",
               "max_entries: applies only to backends memory and filesystem, "
               "not to redis");
  VALIDATE_ERR("{\"local_max_bytes\":\"1MB\"}",
               "local_max_bytes: applies only to backends filesystem and "
               "redis, not to memory");
  VALIDATE_ERR("{\"backend\":\"filesystem\"}",
               "cache_dir: required for backend filesystem");
  VALIDATE_ERR("{\"backend\":\"filesystem\",\"cache_dir\":\"\"}",
               "cache_dir: required for backend filesystem");
  VALIDATE_ERR("{\"backend\":\"redis\"}", "url: required for backend redis");

  /* Keys for every backend are fine anywhere; null is not "given". */
  pc_config c;
  CHECK_EQ_INT(json_ok(&c, "{\"backend\":\"redis\",\"url\":\"redis://h\","
                           "\"serializer\":\"json\",\"max_key_bytes\":10,"
                           "\"max_value_bytes\":10,\"default_ttl\":5,"
                           "\"cache_dir\":null,\"max_bytes\":null}"),
               PC_OK);
  pc__config_free(&c);

  static const char *const good[] = {
      "redis://localhost",
      "redis://127.0.0.1:6379",
      "redis://h:6379/0",
      "redis://h/",
      "redis://user:pw@h:1/9999",
      "redis://:pw@h",
      "redis://user@h",
      "redis://u:p@ss/w:rd@h:65535/15",
      "redis://[::1]:6379/3",
      "redis://[::1]",
      "REDIS://Host.example_1-a",
      "unix:///tmp/redis.sock",
      "unix:///tmp/redis.sock?db=2",
  };
  for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
    const char *argv[] = {"backend=redis", NULL};
    char url[256];
    snprintf(url, sizeof url, "url='%s'", good[i]);
    argv[1] = url;
    pc__config_init(&c);
    int rc = pc__config_from_kv(&c, 2, argv);
    if (rc == PC_OK) rc = pc__config_validate(&c);
    pc_test_checks++;
    if (rc != PC_OK) {
      pc_test_failures++;
      fprintf(stderr, "%s:%d: url %s: %s\n", __FILE__, __LINE__, good[i],
              pc__errbuf());
    }
    pc__config_free(&c);
  }

  static const struct {
    const char *url, *msg;
  } bad[] = {
      {"http://" SECRET "@h", "url: must start with redis:// or unix://"},
      {"redis://" SECRET ":" SECRET "@", "url: the host is missing"},
      {"redis://u:" SECRET "@:6379", "url: the host is missing"},
      {"redis://u:" SECRET "@h:0", "url: port must be 1..65535"},
      {"redis://u:" SECRET "@h:65536", "url: port must be 1..65535"},
      {"redis://u:" SECRET "@h:123456", "url: port must be 1..65535"},
      {"redis://u:" SECRET "@h:", "url: port must be 1..65535"},
      {"redis://u:" SECRET "@h:6a", "url: port must be 1..65535"},
      {"redis://u:" SECRET "@h/10000", "url: db must be an integer 0..9999"},
      {"redis://u:" SECRET "@h/x", "url: db must be an integer 0..9999"},
      {"redis://u:" SECRET "@h/1?x=1", "url: db must be an integer 0..9999"},
      {"redis://u:" SECRET "@h!x", "url: the host is not valid"},
      {"redis://u:" SECRET "@[zz]:1", "url: the host is not valid"},
      {"redis://u:" SECRET "@[::1]x", "url: the host is not valid"},
      {"redis://u:" SECRET "@h x",
       "url: must not contain spaces or control characters"},
      {"unix://tmp/" SECRET,
       "url: the socket path must be absolute (unix:///path/to/socket)"},
      {"unix:///", "url: the socket path is missing"},
      {"unix:///s?db=x" SECRET, "url: db must be an integer 0..9999"},
      {"unix:///s?password=" SECRET,
       "url: a unix socket URL takes only ?db=N after the path"},
      {"unix:///aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
       "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
       "url: the socket path is too long (at most 107 bytes)"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char json[512];
    snprintf(json, sizeof json, "{\"backend\":\"redis\",\"url\":\"%s\"}",
             bad[i].url);
    VALIDATE_ERR(json, bad[i].msg);
  }
}

/* ---- The password never shows ---- */

static void test_secrets(void) {
  /* Errors: the URL's own checks, a URL under the wrong backend, a URL
  ** given to another key or without '=' or as a key. */
  static const char *const json[] = {
      "{\"backend\":\"redis\",\"url\":\"redis://u:" SECRET "@h:0\"}",
      "{\"url\":\"redis://u:" SECRET "@h\"}",
      "{\"backend\":\"redis://u:" SECRET "@h\"}",
      "{\"eviction\":\"redis://u:" SECRET "@h\"}",
      "{\"max_bytes\":\"redis://u:" SECRET "@h\"}",
      "{\"dir_mode\":\"redis://u:" SECRET "@h\"}",
      "{\"redis://u:" SECRET "@h\":1}",
      "{\"url\":\"redis://u:" SECRET "@h\",\"url\":1}",
      "{\"backend\":\"redis\",\"url\":\"redis://u:" SECRET "@h\",\"max_bytes\":"
      "1}",
  };
  for (size_t i = 0; i < sizeof json / sizeof json[0]; i++) {
    pc_config c;
    pc__config_init(&c);
    int rc = pc__config_from_json(&c, json[i], strlen(json[i]));
    if (rc == PC_OK) rc = pc__config_validate(&c);
    CHECK_EQ_INT(rc, PC_ERROR);
    CHECK(strstr(pc__errbuf(), SECRET) == NULL);
    pc__config_free(&c);
  }
  KV_ERR("configuration argument (value not shown) is not key=value",
         "redis://u:" SECRET "@h");
  KV_ERR("unknown configuration key (value not shown)",
         "redis://u:" SECRET "@h=1");
  KV_ERR("backend: unknown backend (value not shown)",
         "backend='redis://u:" SECRET "@h'");
  KV_ERR("configuration argument (value not shown) has no key",
         "= redis://u:" SECRET "@h");

  /* The canonical JSON masks the password and keeps the user. */
  pc_config c;
  CHECK_EQ_INT(json_ok(&c,
                       "{\"backend\":\"redis\",\"url\":\"redis://user:" SECRET
                       "@h:6379/0\",\"prefix\":\"a\\\"b\\\\c\\n\"}"),
               PC_OK);
  JSON_IS(&c, "{\"backend\":\"redis\",\"default_ttl\":null,\"serializer\":"
              "\"native\",\"max_key_bytes\":65536,\"max_value_bytes\":33554432,"
              "\"url\":\"redis://user:***@h:6379/0\",\"prefix\":"
              "\"a\\\"b\\\\c\\u000a\",\"connect_timeout_ms\":1000,"
              "\"timeout_ms\":1000,\"on_error\":\"fallback\","
              "\"local_max_bytes\":0}");
  pc__config_free(&c);

  static const struct {
    const char *url, *masked;
  } m[] = {
      {"redis://:" SECRET "@h", "redis://:***@h"},
      {"redis://u:p@" SECRET "/w@h:1/2", "redis://u:***@h:1/2"},
      {"redis://u:@h", "redis://u:***@h"},
      {"redis://" SECRET "@h", "redis://" SECRET "@h"}, /* a user name */
      {"unix:///tmp/r.sock?db=1", "unix:///tmp/r.sock?db=1"},
  };
  for (size_t i = 0; i < sizeof m / sizeof m[0]; i++) {
    const char *argv[] = {"backend=redis", NULL};
    char arg[256];
    snprintf(arg, sizeof arg, "url=%s", m[i].url);
    argv[1] = arg;
    pc__config_init(&c);
    CHECK_EQ_INT(pc__config_from_kv(&c, 2, argv), PC_OK);
    char *js = pc__config_to_json(&c);
    char want[256];
    snprintf(want, sizeof want, "\"url\":\"%s\"", m[i].masked);
    CHECK(js && strstr(js, want) != NULL);
    if (i < 2) CHECK(js && strstr(js, SECRET) == NULL);
    pc__free(js);
    pc__config_free(&c);
  }
  /* An invalid URL (not yet validated) is masked whole. */
  const char *argv[] = {"backend=redis", "url=redis://u:" SECRET "@h:0"};
  pc__config_init(&c);
  CHECK_EQ_INT(pc__config_from_kv(&c, 2, argv), PC_OK);
  char *js = pc__config_to_json(&c);
  CHECK(js && strstr(js, "\"url\":\"***\"") && !strstr(js, SECRET));
  pc__free(js);
  pc__config_free(&c);
  CHECK_EQ_INT(pc_test_live, 0);
}

/* ---- Canonical JSON details ---- */

static void test_to_json(void) {
  static const struct {
    const char *ttl, *json;
  } t[] = {{"2", "2"},          {"1.5", "1.5"},     {"0.001", "0.001"},
           {"0.0001", "0.001"}, {"61.25", "61.25"}, {"-1", "null"},
           {"NULL", "null"},    {"86400", "86400"}, {"2.007", "2.007"},
           {"2.0061", "2.007"}};
  for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
    pc_config c;
    char arg[64], want[64];
    snprintf(arg, sizeof arg, "default_ttl=%s", t[i].ttl);
    const char *argv[] = {arg};
    pc__config_init(&c);
    CHECK_EQ_INT(pc__config_from_kv(&c, 1, argv), PC_OK);
    char *js = pc__config_to_json(&c);
    snprintf(want, sizeof want, "\"default_ttl\":%s,", t[i].json);
    pc_test_checks++;
    if (!js || !strstr(js, want)) {
      pc_test_failures++;
      fprintf(stderr, "%s:%d: ttl %s: %s\n", __FILE__, __LINE__, t[i].ttl,
              js ? js : "(null)");
    }
    pc__free(js);
    pc__config_free(&c);
  }
  /* Large integers print exactly: past 2^53, where a JSON number is not
  ** exact, as a string; and the text opens the same configuration. */
  pc_config c, again;
  CHECK_EQ_INT(KV_OK(&c, "max_bytes=9223372036854775807",
                     "max_entries=9007199254740993"),
               PC_OK);
  char *js = pc__config_to_json(&c);
  CHECK(js && strstr(js, "\"max_bytes\":\"9223372036854775807\","));
  CHECK(js && strstr(js, "\"max_entries\":\"9007199254740993\","));
  pc__free(js);
  pc__config_free(&c);
  CHECK_EQ_INT(
      KV_OK(&c, "max_entries=9007199254740991", "max_bytes=9007199254740992"),
      PC_OK);
  js = pc__config_to_json(&c);
  CHECK(js && strstr(js, "\"max_entries\":9007199254740991,"));
  CHECK(js && strstr(js, "\"max_bytes\":\"9007199254740992\","));
  pc__free(js);
  pc__config_free(&c);
  /* Each backend's canonical text opens the same configuration again: it
  ** holds only the keys of its backend (another's, given a value, is refused).
  */
  static const char *const reopen[][3] = {
      {"max_entries=9007199254740993", "max_bytes=9007199254740993", NULL},
      {"backend=filesystem", "cache_dir=/tmp/x", "dir_mode=0750"},
      {"backend=redis", "url=unix:///tmp/s", "prefix=p:"},
  };
  for (size_t i = 0; i < sizeof reopen / sizeof reopen[0]; i++) {
    int argc = reopen[i][2] ? 3 : 2;
    pc__config_init(&c);
    CHECK_EQ_INT(pc__config_from_kv(&c, argc, reopen[i]), PC_OK);
    CHECK_EQ_INT(pc__config_validate(&c), PC_OK);
    js = pc__config_to_json(&c);
    pc__config_init(&again);
    CHECK(js && pc__config_from_json(&again, js, strlen(js)) == PC_OK);
    CHECK_EQ_INT(pc__config_validate(&again), PC_OK);
    CHECK(pc__config_diff(&c, &again) == NULL);
    pc__free(js);
    pc__config_free(&again);
    pc__config_free(&c);
  }
  /* ... but for a masked password, which comes back as the mask. */
  pc__config_init(&c);
  CHECK_EQ_INT(KV_OK(&c, "backend=redis", "url=redis://u:pw@h:1/2"), PC_OK);
  js = pc__config_to_json(&c);
  pc__config_init(&again);
  CHECK(js && pc__config_from_json(&again, js, strlen(js)) == PC_OK);
  CHECK(again.url && strcmp(again.url, "redis://u:***@h:1/2") == 0);
  CHECK(pc__config_diff(&c, &again) &&
        !strcmp(pc__config_diff(&c, &again), "url"));
  pc__free(js);
  pc__config_free(&again);
  pc__config_free(&c);
  CHECK_EQ_INT(KV_OK(&c, "backend=filesystem", "cache_dir=d", "dir_mode=0",
                     "file_mode=7"),
               PC_OK);
  js = pc__config_to_json(&c);
  CHECK(js && strstr(js, "\"dir_mode\":\"0000\",\"file_mode\":\"0007\""));
  pc__free(js);
  pc__config_free(&c);
  CHECK_EQ_INT(pc_test_live, 0);
}

/* ---- Comparison ---- */

static void test_diff(void) {
  pc_config a, b;
  pc__config_init(&a);
  pc__config_init(&b);
  CHECK(pc__config_diff(&a, &b) == NULL);

  /* Equal effective values compare equal however they were written. */
  CHECK_EQ_INT(json_ok(&a, "{\"max_bytes\":\"64MiB\",\"default_ttl\":60}"),
               PC_OK);
  CHECK_EQ_INT(KV_OK(&b, "default_ttl='60'", "max_bytes=67108864"), PC_OK);
  CHECK(pc__config_diff(&a, &b) == NULL);
  pc__config_free(&a);
  pc__config_free(&b);
  pc__config_init(&a);
  CHECK_EQ_INT(json_ok(&b, "{\"max_bytes\":67108864}"), PC_OK);
  CHECK(pc__config_diff(&a, &b) == NULL); /* given or not: same value */
  pc__config_free(&b);

  CHECK_EQ_INT(json_ok(&b, "{\"timeout_ms\":5,\"backend\":\"redis\",\"url\":"
                           "\"redis://h\"}"),
               PC_OK);
  CHECK(streq(pc__config_diff(&a, &b), "backend"));
  pc__config_free(&b);
  CHECK_EQ_INT(json_ok(&b, "{\"max_key_bytes\":5,\"max_bytes\":5}"), PC_OK);
  CHECK(streq(pc__config_diff(&a, &b), "max_bytes"));
  CHECK(streq(pc__config_diff(&b, &a), "max_bytes"));
  pc__config_free(&b);

  pc_config r1, r2;
  CHECK_EQ_INT(json_ok(&r1, "{\"backend\":\"redis\",\"url\":\"redis://h\"}"),
               PC_OK);
  CHECK_EQ_INT(json_ok(&r2, "{\"backend\":\"redis\",\"url\":\"redis://h\","
                            "\"prefix\":\"p\"}"),
               PC_OK);
  CHECK(streq(pc__config_diff(&r1, &r2), "prefix"));
  CHECK(streq(pc__config_diff(&r2, &r1), "prefix"));
  pc__config_free(&r2);
  CHECK_EQ_INT(json_ok(&r2, "{\"backend\":\"redis\",\"url\":\"redis://g\"}"),
               PC_OK);
  CHECK(streq(pc__config_diff(&r1, &r2), "url"));
  pc__config_free(&r2);
  CHECK_EQ_INT(json_ok(&r2, "{\"backend\":\"redis\",\"url\":\"redis://h\","
                            "\"on_error\":\"raise\"}"),
               PC_OK);
  CHECK(streq(pc__config_diff(&r1, &r2), "on_error"));
  pc__config_free(&r2);
  pc__config_free(&r1);

  pc_config f1, f2;
  CHECK_EQ_INT(KV_OK(&f1, "backend=filesystem", "cache_dir=d"), PC_OK);
  CHECK_EQ_INT(KV_OK(&f2, "backend=filesystem", "cache_dir=d", "create_dir=off",
                     "file_mode=0644"),
               PC_OK);
  CHECK(streq(pc__config_diff(&f1, &f2), "create_dir"));
  pc__config_free(&f2);
  CHECK_EQ_INT(
      KV_OK(&f2, "backend=filesystem", "cache_dir=d", "file_mode=0644"), PC_OK);
  CHECK(streq(pc__config_diff(&f1, &f2), "file_mode"));
  pc__config_free(&f2);
  pc__config_free(&f1);
  pc__config_free(&a);
  CHECK_EQ_INT(pc_test_live, 0);
}

/* ---- Out of memory at every allocation ---- */

/* Parses (JSON when json is set, else key=value), validates and prints,
** failing allocation n; returns the outcome. */
static int oom_run(long n, const char *json, int argc,
                   const char *const *argv) {
  pc_config c;
  pc__config_init(&c);
  pc_test_fail_after(n);
  int rc = json ? pc__config_from_json(&c, json, strlen(json))
                : pc__config_from_kv(&c, argc, argv);
  if (rc != PC_OK) CHECK(is_default(&c));
  if (rc == PC_OK) rc = pc__config_validate(&c);
  char *js = NULL;
  if (rc == PC_OK && !(js = pc__config_to_json(&c))) rc = PC_NOMEM;
  pc_test_fail_after(0);
  CHECK(rc == PC_OK || rc == PC_NOMEM);
  if (rc == PC_NOMEM) CHECK(streq(pc__errbuf(), "out of memory"));
  pc__free(js);
  pc__config_free(&c);
  CHECK_EQ_INT(pc_test_live, 0);
  return rc;
}

static void test_oom(void) {
  const char *json =
      "{\"backend\":\"redis\",\"url\":\"redis://u:pw@h:6379/1\","
      "\"prefix\":\"api:\",\"default_ttl\":30,\"local_max_bytes\":\"1MB\"}";
  const char *const argv[] = {"backend=filesystem", "cache_dir='/tmp/a''b'",
                              "max_bytes=\"1GB\"", "dir_mode='0750'",
                              "default_ttl=NULL"};
  long n;
  for (n = 1; n < 100; n++)
    if (oom_run(n, json, 0, NULL) == PC_OK) break;
  CHECK(n > 3 && n < 100); /* url, prefix, output: three allocations */
  for (n = 1; n < 100; n++)
    if (oom_run(n, NULL, 5, argv) == PC_OK) break;
  CHECK(n > 3 && n < 100);
}

int main(void) {
  pc_test_use_failing_allocator();
  /* Part of the harness this file does not use. */
  (void)pc_test_use_manual_clock;
  (void)pc_test_advance;

  test_defaults();
  test_json_keys();
  test_kv_keys();
  test_json_errors();
  test_kv_errors();
  test_all_or_nothing();
  test_sizes();
  test_validate();
  test_secrets();
  test_to_json();
  test_diff();
  test_oom();
  CHECK_EQ_INT(pc_test_live, 0);
  PC_TEST_END();
}
