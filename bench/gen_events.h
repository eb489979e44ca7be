/*
 * gen_events.h - synthetic NDJSON events shared by the benchmarks.
 */
#ifndef VIG_BENCH_GEN_EVENTS_H
#define VIG_BENCH_GEN_EVENTS_H

#include <stdint.h>

#include "common/buf.h"

/* Appends event number i (one NDJSON line, newline included) with timestamp ts (ns). The
 * mix cycles process / network / authentication / firewall; values vary with i. */
void vig_bench_gen_event(struct vig_buf *b, unsigned long i, int64_t ts);

#endif
