/*
** bench.h: what the C benchmarks share.
*/
#ifndef PC_BENCH_H
#define PC_BENCH_H

#include <stdio.h>
#include <stdlib.h>
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

#endif /* PC_BENCH_H */
