/*
** bench_memory: bytes per entry that the memory backend uses beyond the
** key and the value, allocator included.
**
**   bench_memory [entries]        (default 1,000,000)
**
** Stores `entries` keys of 11 bytes ("key:0000000") with values of 50 to
** 150 bytes (uniform, so that malloc's 16-byte rounding is averaged, not
** chosen), through core/pc_mem.c directly, and measures what the process
** holds before and after two ways: glibc's mallinfo2() (bytes of allocated
** chunks, malloc's own headers and rounding included) and the resident set
** (/proc/self/statm, pages actually touched). Overhead = (growth - sum of
** key and value bytes) / entries. Three stores: no bound (no eviction);
** max_entries = entries with twice as many keys written (a full cache
** evicting, the policy's ghost included), under the default policy, and
** the same under lru. Bar (SPEC section 9): at most 48 bytes.
*/
#include "pc_internal.h"

#include "bench.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static size_t heap_bytes(void) {
  struct mallinfo2 mi = mallinfo2();
  return mi.uordblks + mi.hblkhd;
}

static size_t rss_bytes(void) {
  long pages = 0, rss = 0;
  FILE *f = fopen("/proc/self/statm", "r");
  if (!f || fscanf(f, "%ld %ld", &pages, &rss) != 2)
    bench_die("bench_memory", "/proc/self/statm", "unreadable");
  fclose(f);
  return (size_t)rss * (size_t)sysconf(_SC_PAGESIZE);
}

/* One store: writes `writes` keys into a store of max_entries (0 = none)
** under `policy`; prints the overhead per live entry. Returns it (heap). */
static double measure(const char *label, long writes, long max_entries,
                      const char *policy) {
  const pc_backend_methods *mem = &pc__memory_backend;
  static unsigned char val[150];
  memset(val, 'v', sizeof val);
  pc_config cfg;
  pc__config_init(&cfg);
  cfg.max_entries = max_entries;
  cfg.max_bytes = 0;
  snprintf(cfg.eviction, sizeof cfg.eviction, "%s", policy);
  malloc_trim(0);
  size_t heap0 = heap_bytes(), rss0 = rss_bytes();
  void *b;
  if (mem->open(&cfg, &b) != PC_OK)
    bench_die("bench_memory", "open", pc__errbuf());
  uint64_t seed = 0x2545F4914F6CDD1Dull;
  char key[32];
  for (long i = 0; i < writes; i++) {
    seed ^= seed << 13;
    seed ^= seed >> 7;
    seed ^= seed << 17;
    size_t n = 50 + (size_t)(seed % 101);
    snprintf(key, sizeof key, "key:%07ld", i % 10000000);
    if (mem->set(b, key, 11, val, n, PC_EXPIRES_NEVER, 0, 0) != PC_OK)
      bench_die("bench_memory", "set", pc__errbuf());
  }
  pc_stats st;
  memset(&st, 0, sizeof st);
  mem->stats(b, &st);
  size_t heap1 = heap_bytes(), rss1 = rss_bytes();
  double per_heap =
      ((double)heap1 - (double)heap0 - (double)st.bytes) / (double)st.entries;
  double per_rss =
      ((double)rss1 - (double)rss0 - (double)st.bytes) / (double)st.entries;
  printf("%-36s %9lld %8.1f %8.1f %9.1f  bar <= 48: %s\n", label,
         (long long)st.entries, (double)st.bytes / (double)st.entries, per_rss,
         per_heap, per_heap <= 48 ? "met" : "NOT MET");
  mem->close(b);
  pc__config_free(&cfg);
  return per_heap;
}

int main(int argc, char **argv) {
  long n = argc > 1 ? atol(argv[1]) : 1000000;
  if (n < 1000) n = 1000;
  printf("bench_memory %s: %ld entries, keys of 11 bytes, values of 50-150 "
         "bytes, glibc malloc, %s\n",
         bench_date(), n, bench_system());
  printf("%-36s %9s %8s %8s %9s\n", "store", "entries", "k+v B", "RSS B/e",
         "heap B/e");
  measure("memory per entry, no bound", n, 0, "");
  measure("memory per entry, full, s3fifo", 2 * n, n, "");
  measure("memory per entry, full, lru", 2 * n, n, "lru");
  printf("B/e: bytes per entry beyond key and value (heap: mallinfo2, "
         "malloc's headers and rounding included; RSS: resident pages)\n");
  return 0;
}
