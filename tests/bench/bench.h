/*
** bench.h: what the C benchmarks share.
*/
#ifndef PC_BENCH_H
#define PC_BENCH_H

#include <stdio.h>
#include <stdlib.h>
#include <sys/utsname.h>
#include <time.h>

/* Seconds on the monotonic clock. */
static inline double bench_now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* "<program>: <what>: <msg>" on stderr, then exit 1. */
static inline void bench_die(const char *program, const char *what,
                             const char *msg) {
  fprintf(stderr, "%s: %s: %s\n", program, what, msg);
  exit(1);
}

/* Today's date (UTC) as YYYY-MM-DD, for the first line of a report. */
static inline const char *bench_date(void) {
  static char date[32];
  time_t t = time(NULL);
  strftime(date, sizeof date, "%Y-%m-%d", gmtime(&t));
  return date;
}

/* The kernel and machine ("Linux x86_64"), for the same line. */
static inline const char *bench_system(void) {
  static char sys[2 * sizeof(((struct utsname *)0)->sysname) + 2];
  struct utsname u;
  uname(&u);
  snprintf(sys, sizeof sys, "%s %s", u.sysname, u.machine);
  return sys;
}

/* What follows needs <sqlite3.h>, included before this file. */
#ifdef SQLITE_TEXT
#include "../ext_conn.h"

/* A connection to path with the extension ext loaded; exits on failure. */
static inline sqlite3 *bench_connect(const char *program, const char *path,
                                     const char *ext) {
  sqlite3 *db = ext_connect(program, path, ext, 0);
  if (!db) exit(1);
  return db;
}

/* Runs sql on db; exits on failure. */
static inline void bench_exec(const char *program, sqlite3 *db,
                              const char *sql) {
  if (ext_exec(program, db, sql)) exit(1);
}

static inline int bench_cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* The q-quantile (0 <= q <= 1, nearest rank) of v[0..n-1], n > 0,
** leaving v as it is. */
static inline double bench_quantile(const double *v, int n, double q) {
  double *s = malloc((size_t)n * sizeof *s), x;
  if (!s) bench_die("bench", "quantile", "out of memory");
  for (int i = 0; i < n; i++)
    s[i] = v[i];
  qsort(s, (size_t)n, sizeof *s, bench_cmp_double);
  x = s[(int)(q * (n - 1) + 0.5)];
  free(s);
  return x;
}

static inline double bench_median(const double *v, int n) {
  return bench_quantile(v, n, 0.5);
}

/* Reads column i of the row st is on as its type, the way an application
** does: a TEXT with sqlite3_column_text() (what Python's sqlite3 calls),
** a BLOB with sqlite3_column_blob(), then the length. */
static inline void bench_read_column(sqlite3_stmt *st, int i) {
  switch (sqlite3_column_type(st, i)) {
  case SQLITE_INTEGER:
    (void)sqlite3_column_int64(st, i);
    break;
  case SQLITE_FLOAT:
    (void)sqlite3_column_double(st, i);
    break;
  case SQLITE_TEXT:
    (void)sqlite3_column_text(st, i);
    (void)sqlite3_column_bytes(st, i);
    break;
  case SQLITE_BLOB:
    (void)sqlite3_column_blob(st, i);
    (void)sqlite3_column_bytes(st, i);
    break;
  default:
    break;
  }
}
#endif

#endif /* PC_BENCH_H */
