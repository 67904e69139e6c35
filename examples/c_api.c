/*
** c_api.c: a tour of the C API, one call of each function of
** core/pocketcache.h (the asynchronous ones are in async.c, registration in
** custom_backend.c and custom_serializer.c). Every step checks its result.
**
**   cc c_api.c $(pkg-config --cflags --libs pocketcache) -o c_api
**   ./c_api
*/
#include <pocketcache.h>

#include <stdio.h>
#include <string.h>

static int g_failed;
#define STEP(what, cond)                                                       \
  do {                                                                         \
    int ok_ = (cond);                                                          \
    printf("%-44s %s\n", what, ok_ ? "ok" : "FAILED");                         \
    if (!ok_) g_failed = 1;                                                    \
  } while (0)

/* A flight: the computation a miss would run once for all threads. */
static int compute_once(pc_cache *c, const char *key, int64_t *out) {
  pc_flight *f;
  int rc = pc_flight_begin(c, key, strlen(key), &f);
  if (rc != PC_OK) return rc; /* PC_EXISTS: another thread computed it */
  pc_value v = pc_int(6 * 7);
  rc = pc_set(c, key, strlen(key), &v, PC_TTL_DEFAULT, 0);
  pc_flight_end(f);
  *out = 42;
  return rc;
}

int main(void) {
  char err[PC_ERRMSG_MAX];
  pc_cache *c = NULL, *again = NULL;

  /* Caches: open, find, names, configuration. */
  STEP("pc_cache_open",
       pc_cache_open("tour",
                     "{\"max_entries\": 1000, \"default_ttl\": 60, "
                     "\"max_value_bytes\": 1024}",
                     &c, err, sizeof err) == PC_OK);
  const char *kv[] = {"max_entries=1000", "default_ttl=60",
                      "max_value_bytes=1024"};
  STEP("pc_cache_check_kv (same configuration)",
       pc_cache_check_kv("tour", 3, kv, 0, err, sizeof err) == PC_OK);
  STEP("pc_cache_open_kv (finds the open one)",
       pc_cache_open_kv("tour", 3, kv, &again, err, sizeof err) == PC_OK &&
           again == c);
  pc_cache_release(again);
  pc_cache *found = pc_cache_find("tour");
  STEP("pc_cache_find", found == c);
  pc_cache_retain(found); /* two references now... */
  pc_cache_release(found);
  pc_cache_release(found); /* ...and none of ours */
  uint64_t version = pc_registry_version();
  char **names;
  int count;
  int listed = 0;
  if (pc_cache_names(&names, &count) == PC_OK)
    for (int i = 0; i < count; i++)
      listed += strcmp(names[i], "tour") == 0;
  STEP("pc_cache_names", listed == 1);
  pc_free(names);
  STEP("pc_cache_name, pc_cache_backend_name",
       strcmp(pc_cache_name(c), "tour") == 0 &&
           strcmp(pc_cache_backend_name(c), "memory") == 0);
  char *cfg = pc_cache_config_json(c);
  STEP("pc_cache_config_json",
       cfg && strstr(cfg, "\"max_entries\":1000") != NULL);
  pc_free(cfg);
  STEP("pc_cache_max_value_bytes, pc_cache_stores_type",
       pc_cache_max_value_bytes(c) == 1024 && pc_cache_stores_type(c, PC_BLOB));

  /* Values and operations. */
  pc_value vals[] = {pc_null(), pc_int(7), pc_real(0.5), pc_text("hi", 2),
                     pc_blob("\x00\x01", 2)};
  int stored = 0;
  for (int i = 0; i < 5; i++) {
    char key[8];
    snprintf(key, sizeof key, "v%d", i);
    stored += pc_set(c, key, strlen(key), &vals[i], PC_TTL_DEFAULT, 0) == PC_OK;
  }
  STEP("pc_null, pc_int, pc_real, pc_text, pc_blob, pc_set", stored == 5);
  pc_value out = {0};
  STEP("pc_get, pc_value_release", pc_get(c, "v3", 2, &out) == PC_OK &&
                                       out.type == PC_TEXT && out.n == 2 &&
                                       memcmp(out.p, "hi", 2) == 0);
  pc_value_release(&out);
  pc_value other = pc_int(8);
  STEP("pc_set with PC_SET_NX (add)",
       pc_set(c, "v1", 2, &other, PC_TTL_DEFAULT, PC_SET_NX) == PC_EXISTS);
  STEP("pc_has", pc_has(c, "v1", 2) == PC_OK && pc_has(c, "no", 2) != PC_OK);
  int64_t ttl;
  STEP("pc_ttl (default_ttl 60 s)",
       pc_ttl(c, "v1", 2, &ttl) == PC_OK && ttl > 59000 && ttl <= 60000);
  STEP("pc_touch", pc_touch(c, "v1", 2, PC_TTL_NEVER) == PC_OK &&
                       pc_ttl(c, "v1", 2, &ttl) == PC_OK &&
                       ttl == PC_TTL_NEVER);
  int64_t n = 0;
  STEP("pc_incr", pc_incr(c, "hits", 4, 5, PC_TTL_DEFAULT, &n) == PC_OK &&
                      pc_incr(c, "hits", 4, 1, PC_TTL_DEFAULT, &n) == PC_OK &&
                      n == 6);
  STEP("pc_delete",
       pc_delete(c, "v0", 2) == PC_OK && pc_delete(c, "v0", 2) == PC_NOTFOUND);
  pc_item item = {0};
  STEP("pc_get_item", pc_get_item(c, "v2", 2, &item) == PC_OK &&
                          item.value.type == PC_REAL && item.size > 0);
  pc_value_release(&item.value);
  const void *keys[] = {"v1", "zz", "v4"};
  size_t nkeys[] = {2, 2, 2};
  pc_item items[3];
  int rcs[3];
  STEP("pc_get_items",
       pc_get_items(c, 3, keys, nkeys, PC_ITEMS_NO_TTL, items, rcs) == PC_OK &&
           rcs[0] == PC_OK && rcs[1] == PC_NOTFOUND && rcs[2] == PC_OK);
  for (int i = 0; i < 3; i++)
    if (rcs[i] == PC_OK) pc_value_release(&items[i].value);
  pc_iter *it;
  int seen = 0;
  if (pc_iter_open(c, "v", 1, 0, &it) == PC_OK) {
    while (pc_iter_next(it, &item) == PC_OK) {
      seen++;
      pc_value_release(&item.value);
    }
    pc_iter_close(it);
  }
  STEP("pc_iter_open, pc_iter_next, pc_iter_close (prefix v)", seen == 4);
  int64_t answer = 0;
  STEP("pc_flight_begin, pc_flight_end",
       compute_once(c, "answer", &answer) == PC_OK && answer == 42);

  /* Errors: a code, and the message for this thread. */
  static char big[2000];
  memset(big, 'x', sizeof big);
  pc_value huge = pc_text(big, sizeof big);
  STEP("pc_errmsg",
       pc_set(c, "big", 3, &huge, PC_TTL_DEFAULT, 0) == PC_TOOBIG &&
           strstr(pc_errmsg(c), "max_value_bytes") != NULL);

  /* Statistics. */
  pc_stats st;
  STEP("pc_get_stats",
       pc_get_stats(c, &st) == PC_OK && st.entries == 6 && st.hits >= 3);
  char *json = pc_stats_json(c);
  STEP("pc_stats_json", json && strstr(json, "\"entries\":6") != NULL);
  pc_free(json);
  int64_t removed = 0;
  STEP("pc_clear", pc_clear(c, &removed) == PC_OK && removed == 6);

  /* TTL rules, clocks, memory, build, JSON helpers. */
  int64_t ms;
  STEP("pc_ttl_from_seconds, pc_ttl_from_text",
       pc_ttl_from_seconds(1.5, &ms) == PC_OK && ms == 1500 &&
           pc_ttl_from_text("-1", 2, &ms) == PC_OK && ms == PC_TTL_NEVER &&
           pc_ttl_from_seconds(0, &ms) != PC_OK);
  STEP("pc_now_mono_ms, pc_now_wall_ms",
       pc_now_mono_ms() >= 0 && pc_now_wall_ms() > 1600000000000LL);
  void *p = pc_malloc(16);
  STEP("pc_malloc, pc_free", p != NULL);
  pc_free(p);
  char *info = pc_build_info();
  STEP("pc_build_info", info && strstr(info, PC_VERSION) != NULL);
  pc_free(info);
  char real[40], *q = NULL;
  size_t nq;
  STEP("pc_format_real, pc_json_string",
       pc_format_real(1.0, real, sizeof real) == 3 &&
           strcmp(real, "1.0") == 0 &&
           pc_json_string("a\"b", 3, &q, &nq) == PC_OK && nq == 6 &&
           memcmp(q, "\"a\\\"b\"", 6) == 0);
  pc_free(q);

  /* Close: the registry moves; our reference still works until released. */
  STEP("pc_cache_close, pc_registry_version",
       pc_cache_close("tour") == PC_OK && pc_registry_version() != version &&
           pc_cache_find("tour") == NULL);
  pc_cache_release(c);
  printf("c_api: %s\n", g_failed ? "FAILED" : "ok");
  return g_failed;
}
