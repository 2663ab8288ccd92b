/* SPDX-License-Identifier: GPL-2.0-only */
/* The "nw_config" map: run-time settings the daemon writes and every BPF
 * program reads, so that a reload never needs new programs. */
#ifndef NETWARD_CONFIG_H
#define NETWARD_CONFIG_H

#include "netward/types.h"

struct nw_config {
	__u32 netns;		/* inode of the guarded netns; 0 = all */
	__u8  bind_default;	/* enum nw_action for wildcard binds with no rule */
	__u8  dry_run;		/* 1: deny/rewrite/kill are only audited */
	__u8  enabled;		/* 0 until the daemon has written the policy */
	__u8  _pad0;
	__u64 netns_cookie;	/* of the guarded netns (SO_NETNS_COOKIE); 0 = unknown */
	__u64 _reserved[6];
};

_Static_assert(sizeof(struct nw_config) == 64,
	       "nw_config is ABI: its size must not change");

#endif
