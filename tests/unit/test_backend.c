/*
** test_backend: registering a backend. What registration refuses, what
** the configuration of a registered backend accepts (the engine's keys
** and `options`, not another backend's keys), and a failed open.
** examples/custom_backend.c runs a whole backend through SQL and C.
*/
#include "pc_test.h"

static int g_opens;
static const char *g_seen_options;

static int t_open(const pc_config *cfg, void **pb) {
  g_opens++;
  g_seen_options = pc_config_options(cfg);
  if (g_seen_options && strcmp(g_seen_options, "fail") == 0) return PC_ERROR;
  *pb = &g_opens;
  return PC_OK;
}
static void t_close(void *b) {
  (void)b;
}
static int t_get(void *b, const void *key, size_t nkey, int64_t now,
                 pc_buf *val, int64_t *expires) {
  (void)b, (void)key, (void)nkey, (void)now, (void)val, (void)expires;
  return PC_NOTFOUND;
}
static int t_set(void *b, const void *key, size_t nkey, const void *val,
                 size_t nval, int64_t expires, int flags, int64_t now) {
  (void)b, (void)key, (void)nkey, (void)val, (void)nval, (void)expires,
      (void)flags, (void)now;
  return PC_OK;
}
static int t_del(void *b, const void *key, size_t nkey, int64_t now) {
  (void)b, (void)key, (void)nkey, (void)now;
  return PC_NOTFOUND;
}
static int t_scan_open(void *b, const void *prefix, size_t nprefix, int nocase,
                       int64_t now, void **pit) {
  (void)b, (void)prefix, (void)nprefix, (void)nocase, (void)now, (void)pit;
  return PC_ERROR;
}
static int t_clear(void *b, int64_t now, int64_t *removed) {
  (void)b, (void)now;
  *removed = 0;
  return PC_OK;
}

int main(void) {
  pc_backend_methods m = {.name = "nothing",
                          .open = t_open,
                          .close = t_close,
                          .get = t_get,
                          .set = t_set,
                          .del = t_del,
                          .clear = t_clear};
  char err[PC_ERRMSG_MAX];
  pc_cache *c;
  /* Before registration: an unknown backend, named. */
  CHECK(pc_cache_open("b0", "{\"backend\":\"nothing\"}", &c, err, sizeof err) !=
        PC_OK);
  CHECK(strstr(err, "nothing") != NULL);

  CHECK_EQ_INT(pc_register_backend(&m), PC_OK);
  CHECK_EQ_INT(pc_register_backend(&m), PC_EXISTS);
  pc_backend_methods bad = m;
  bad.name = "memory";
  CHECK(pc_register_backend(&bad) != PC_OK);
  bad.name = "Bad-Name";
  CHECK(pc_register_backend(&bad) != PC_OK);
  bad.name = "noclear";
  bad.clear = NULL;
  CHECK(pc_register_backend(&bad) != PC_OK);
  bad = m;
  bad.name = "halfscan";
  bad.scan_next = NULL;
  bad.scan_open = t_scan_open; /* without scan_next */
  CHECK(pc_register_backend(&bad) != PC_OK);

  /* Its configuration: the engine's keys and options. */
  CHECK_EQ_INT(pc_cache_open("b1",
                             "{\"backend\":\"nothing\",\"options\":\"x=1\","
                             "\"default_ttl\":5,\"serializer\":\"json\"}",
                             &c, err, sizeof err),
               PC_OK);
  CHECK(g_seen_options && strcmp(g_seen_options, "x=1") == 0);
  pc_value v = pc_int(1);
  CHECK_EQ_INT(pc_set(c, "k", 1, &v, PC_TTL_DEFAULT, 0), PC_OK);
  pc_value out;
  CHECK_EQ_INT(pc_get(c, "k", 1, &out), PC_NOTFOUND);
  int64_t r;
  CHECK_EQ_INT(pc_incr(c, "k", 1, 1, PC_TTL_DEFAULT, &r), PC_UNSUPPORTED);
  CHECK(strstr(pc_errmsg(NULL), "nothing") != NULL);
  CHECK_EQ_INT(pc_touch(c, "k", 1, 1000), PC_UNSUPPORTED);
  pc_iter *it;
  CHECK(pc_iter_open(c, NULL, 0, 0, &it) != PC_OK);
  pc_cache_release(c);
  pc_cache_close("b1");
  /* Another backend's keys, or a memory tier: refused, by name. */
  CHECK(pc_cache_open("b2", "{\"backend\":\"nothing\",\"url\":\"redis://x\"}",
                      &c, err, sizeof err) != PC_OK);
  CHECK(strstr(err, "url") != NULL);
  CHECK(pc_cache_open("b2",
                      "{\"backend\":\"nothing\",\"local_max_bytes\":\"1MB\"}",
                      &c, err, sizeof err) != PC_OK);
  /* options is for registered backends only. */
  CHECK(pc_cache_open("b3", "{\"options\":\"x\"}", &c, err, sizeof err) !=
        PC_OK);
  CHECK(strstr(err, "options") != NULL);
  /* A failed open is an error of cache_open. */
  CHECK(pc_cache_open("b4", "{\"backend\":\"nothing\",\"options\":\"fail\"}",
                      &c, err, sizeof err) != PC_OK);
  printf("failed open: %s\n", err);
  PC_TEST_END();
}
