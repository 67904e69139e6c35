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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  pc_config cfg, fresh;
  pc__config_init(&cfg);
  pc__config_init(&fresh);
  pc__error(PC_OK, "%s", "");
  int rc = parse(&cfg, data[0], (const char *)data + 1, size - 1);
  if (rc != PC_OK && pc__config_diff(&cfg, &fresh))
    fail("a refused parse changed a key", pc__config_diff(&cfg, &fresh));
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
  pc_url u;
  bool masked = cfg.url && !pc__url_parse(cfg.url, &u) && u.has_pass;
  if (diff && !(masked && strcmp(diff, "url") == 0))
    fail("the canonical JSON gives another configuration", diff);
  pc__free(json);
  pc__config_free(&again);
  pc__config_free(&cfg);
  pc__config_free(&fresh);
  return 0;
}
