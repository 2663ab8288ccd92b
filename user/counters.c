// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "counters.h"

const char *const nw_counter_names[] = {
	"bind_wildcard", "bind_allowed", "bind_audited", "bind_denied", "bind_rewritten",
	"listen_autobind", "listen_killed", "dry_run", "other_netns", "events_lost",
	"rtnl_requests", "rtnl_route_del", "rtnl_rule_changes", "rtnl_truncated",
	"fib_lookup_fail", "no_route_main", "quarantine_kills", "quarantine_denied",
};
const size_t nw_counter_count = sizeof(nw_counter_names) / sizeof(nw_counter_names[0]);

int nw_counters_read(int map_fd, struct nw_counters *sum)
{
	int ncpu = libbpf_num_possible_cpus(), err = 0;
	struct nw_counters *per;
	__u32 zero = 0;

	if (ncpu <= 0)
		return ncpu ? ncpu : -EINVAL;
	per = calloc((size_t)ncpu, sizeof(*per));
	if (!per)
		return -ENOMEM;
	memset(sum, 0, sizeof(*sum));
	if (bpf_map_lookup_elem(map_fd, &zero, per) < 0) {
		err = -errno;
		goto cleanup;
	}
	for (int c = 0; c < ncpu; c++)
		for (size_t i = 0; i < NW_COUNTERS_SLOTS; i++)
			((__u64 *)sum)[i] += ((__u64 *)&per[c])[i];
cleanup:
	free(per);
	return err;
}
