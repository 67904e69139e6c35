/*
** fuzz_config: the configuration parser, from JSON text (cache_open) and
** from key=value arguments (CREATE VIRTUAL TABLE ... USING pcache(...)),
** with the size, duration, mode and Redis URL parsers under it.
**
** The first byte picks the form; the rest is the text (key=value: one
** argument per line, at most 16). Oracles, beyond "no crash, leak or
** sanitizer report": a configuration that parses and validates prints as
** canonical JSON that parses and validates to the same configuration (but
** for a URL with a password, which prints masked); a refused one leaves
** the defaults (nothing half-applied) and says why.
*/
#include "pc_internal.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ARGS 16

static void fail(const char *what, const char *detail) {
  fprintf(stderr, "fuzz_config: %s%s%s\n", what, detail ? ": " : "",
          detail ? detail : "");
  abort();
}

static int parse(pc_config *cfg, unsigned form, const char *z, size_t n) {
  if (!(form & 1)) return pc__config_from_json(cfg, z, n);
  /* key=value: one argument per line. */
  char *copy = malloc(n + 1);
  const char *argv[MAX_ARGS];
  int argc = 0;
  if (!copy) fail("out of memory", NULL);
  memcpy(copy, z, n);
  copy[n] = 0;
  for (char *s = copy, *e; argc < MAX_ARGS && *s; s = e + 1) {
    argv[argc++] = s;
    if (!(e = strchr(s, '\n'))) break;
    *e = 0;
  }
  int rc = pc__config_from_kv(cfg, argc, argv);
  free(copy);
  return rc;
}

static bool same_text(const char *a, size_t na, const char *b, size_t nb) {
  return na == nb && (na == 0 || memcmp(a, b, na) == 0);
}

/* Whether a and b differ at most in the URL's password, which the
** canonical JSON masks: every other part of the URL and the rest of the
** configuration must come back. */
static bool same_but_password(const pc_config *a, const pc_config *b) {
  pc_url x, y;
  if (!a->url || !b->url || pc__url_parse(a->url, &x) ||
      pc__url_parse(b->url, &y) || !x.has_pass || !y.has_pass)
    return false;
  return x.is_unix == y.is_unix &&
         same_text(x.host, x.nhost, y.host, y.nhost) && x.port == y.port &&
         same_text(x.path, x.npath, y.path, y.npath) &&
         same_text(x.user, x.nuser, y.user, y.nuser) && x.db == y.db;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  pc_config cfg, fresh;
  pc__config_init(&cfg);
  pc__config_init(&fresh);
  pc__error(PC_OK, "%s", "");
  int rc = parse(&cfg, data[0], (const char *)data + 1, size - 1);
  const char *changed = rc != PC_OK ? pc__config_diff(&cfg, &fresh) : NULL;
  if (changed) fail("a refused parse changed a key", changed);
  if (rc == PC_OK) rc = pc__config_validate(&cfg);
  if (rc != PC_OK) {
    if (!pc__errbuf()[0]) fail("a refusal without a message", NULL);
    pc__config_free(&cfg);
    pc__config_free(&fresh);
    return 0;
  }
  char *json = pc__config_to_json(&cfg);
  if (!json) fail("to_json failed", NULL);
  pc_config again;
  pc__config_init(&again);
  if (pc__config_from_json(&again, json, strlen(json)) != PC_OK ||
      pc__config_validate(&again) != PC_OK)
    fail("the canonical JSON does not parse", json);
  const char *diff = pc__config_diff(&cfg, &again);
  if (diff && strcmp(diff, "url") == 0 && same_but_password(&cfg, &again)) {
    char *url = again.url; /* the rest must match: compare without it */
    again.url = cfg.url;
    diff = pc__config_diff(&cfg, &again);
    again.url = url;
  }
  if (diff) fail("the canonical JSON gives another configuration", diff);
  pc__free(json);
  pc__config_free(&again);
  pc__config_free(&cfg);
  pc__config_free(&fresh);
  return 0;
}
