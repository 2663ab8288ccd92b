/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef NETWARD_USER_COUNTERS_H
#define NETWARD_USER_COUNTERS_H

#include <stddef.h>
#include "netward/counters.h"

/* Sums the per-CPU "counters" record. 0 or -errno. */
int nw_counters_read(int map_fd, struct nw_counters *sum);

/* Names of the named fields of struct nw_counters, in order. */
extern const char *const nw_counter_names[];
extern const size_t nw_counter_count;

static inline unsigned long long nw_counter_at(const struct nw_counters *c, size_t i)
{
	return ((const __u64 *)c)[i];
}

#endif
