/*
** test_backend: registering a backend. What registration refuses, what
** the configuration of a registered backend accepts (the engine's keys
** and `options`, not another backend's keys), and a failed open.
** examples/custom_backend.c runs a whole backend through SQL and C.
*/
#include "pc_test.h"

static int g_opens, g_closes;
static char g_seen_options[32];

/* open: options "fail" fails after setting *pb to something that close()
** must never see; "down" makes every set report PC_UNAVAILABLE, "broken"
** PC_ERROR. */
static int t_open(const pc_config *cfg, void **pb) {
  g_opens++;
  const char *o = pc_config_options(cfg);
  snprintf(g_seen_options, sizeof g_seen_options, "%s", o ? o : "");
  if (strcmp(g_seen_options, "fail") == 0) {
    *pb = (void *)1; /* not a store: close() must not get it */
    return PC_ERROR;
  }
  int *mode = malloc(sizeof *mode);
  if (!mode) return PC_NOMEM;
  *mode = strcmp(g_seen_options, "down") == 0     ? PC_UNAVAILABLE
          : strcmp(g_seen_options, "broken") == 0 ? PC_ERROR
                                                  : PC_OK;
  *pb = mode;
  return PC_OK;
}
static void t_close(void *b) {
  g_closes++;
  free(b);
}
static int t_get(void *b, const void *key, size_t nkey, int64_t now,
                 pc_buf *val, int64_t *expires) {
  (void)b, (void)key, (void)nkey, (void)now, (void)val, (void)expires;
  return PC_NOTFOUND;
}
static int t_set(void *b, const void *key, size_t nkey, const void *val,
                 size_t nval, int64_t expires, int flags, int64_t now) {
  (void)key, (void)nkey, (void)val, (void)nval, (void)expires, (void)flags,
      (void)now;
  return *(int *)b;
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
static int t_version(void *b, uint64_t *out) {
  (void)b;
  *out = 0;
  return PC_OK;
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
  char *info = pc_build_info(); /* pcache_build() lists it */
  CHECK(info && strstr(info, "\"redis\",\"nothing\"]") != NULL);
  pc_free(info);
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
  CHECK(strcmp(g_seen_options, "x=1") == 0);
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
  /* A failed open is an error of cache_open, worded by the engine, and
  ** close() never sees what a failed open() left in *pb. */
  int closes = g_closes;
  CHECK(pc_cache_open("b4", "{\"backend\":\"nothing\",\"options\":\"fail\"}",
                      &c, err, sizeof err) != PC_OK);
  CHECK(strstr(err, "backend nothing could not open the cache") != NULL);
  CHECK_EQ_INT(g_closes, closes);
  printf("failed open: %s\n", err);
  /* A failing method: the message is the engine's, not a stale one. */
  CHECK_EQ_INT(pc_cache_open("b5",
                             "{\"backend\":\"NOTHING\",\"options\":\"broken\"}",
                             &c, err, sizeof err),
               PC_OK); /* names are matched in any case */
  CHECK_EQ_INT(pc_set(c, "k", 1, &v, PC_TTL_DEFAULT, 0), PC_ERROR);
  CHECK(strstr(pc_errmsg(NULL), "backend nothing: set failed") != NULL);
  printf("failed set: %s\n", pc_errmsg(NULL));
  pc_cache_release(c);
  pc_cache_close("b5");
  /* PC_UNAVAILABLE goes through on_error: fallback drops, raise fails. */
  CHECK_EQ_INT(pc_cache_open("b6",
                             "{\"backend\":\"nothing\",\"options\":\"down\"}",
                             &c, err, sizeof err),
               PC_OK);
  CHECK_EQ_INT(pc_set(c, "k", 1, &v, PC_TTL_DEFAULT, 0), PC_DROPPED);
  pc_cache_release(c);
  pc_cache_close("b6");
  CHECK_EQ_INT(pc_cache_open("b7",
                             "{\"backend\":\"nothing\",\"options\":\"down\","
                             "\"on_error\":\"raise\"}",
                             &c, err, sizeof err),
               PC_OK);
  CHECK_EQ_INT(pc_set(c, "k", 1, &v, PC_TTL_DEFAULT, 0), PC_UNAVAILABLE);
  pc_cache_release(c);
  pc_cache_close("b7");
  CHECK_EQ_INT(g_closes, g_opens - 1); /* every store opened was closed */
  /* version and watch serve the memory tier: refused. */
  bad = m;
  bad.name = "versioned";
  bad.version = t_version;
  CHECK(pc_register_backend(&bad) != PC_OK);
  PC_TEST_END();
}
