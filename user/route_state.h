/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The route guard's state file, <state_dir>/protected.json: every protected
 * route and rule it holds, whole (all nexthops, table, protocol, metric,
 * scope, device names, ...) with its origin, and the namespace and boot it
 * belongs to. A netwardd started after a crash reads it to put back what
 * was deleted while none ran. JSON text to and from structs, the file read
 * and replaced atomically. Library-like: no logging, negative errno, errors
 * that name the JSON path ("routes[2].dst: not an IPv4 prefix").
 */
#ifndef NETWARD_ROUTE_STATE_H
#define NETWARD_ROUTE_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rtnl.h"
#include "util.h"

#define NW_STATE_FILE "protected.json"
#define NW_STATE_VERSION 1
#define NW_STATE_MAX_BYTES (4u << 20)	/* a larger file is refused unread */
#define NW_STATE_MAX_ITEMS 1024		/* routes, and rules: the guard's own limit */

/* Where a state file belongs: one network namespace, one boot. */
struct nw_state_place {
	uint32_t netns;		/* inode of /proc/self/ns/net */
	uint64_t netns_cookie;	/* SO_NETNS_COOKIE (never reused in a boot), 0 = unknown */
	char boot_id[NW_BOOT_ID_LEN];	/* /proc/sys/kernel/random/boot_id, "" = unknown */
};

struct nw_saved_route {
	struct nw_rt rt;	/* rt.expires_s is not kept: see expires */
	char dev[NW_RT_MAX_NH][IF_NAMESIZE];	/* nexthop device names, "" = unknown */
	bool learned;		/* origin "learned" (a default route found at start), else "config" */
	bool alias;		/* IPv4: another route shared its key (ip route append) */
	uint64_t expires;	/* end of its lifetime, Unix time in seconds; 0 = permanent */
};

struct nw_saved_rule {
	struct nw_rule rule;
	bool learned;		/* origin "learned" (a kernel default rule), else "config" */
};

struct nw_state {
	struct nw_state_place place;
	struct nw_saved_route *routes;
	size_t n_routes;
	struct nw_saved_rule *rules;
	size_t n_rules;
};

/* The JSON text of s, NUL-terminated and malloc'ed: 0 or -ENOMEM. */
int nw_state_format(const struct nw_state *s, char **out);
/* text (len bytes, need not be NUL-terminated) -> s. 0, or -EINVAL with
 * err naming the problem and where it is; -ENOMEM. s is empty after an
 * error. */
int nw_state_parse(const char *text, size_t len, struct nw_state *s, char *err, size_t errlen);
void nw_state_free(struct nw_state *s);

/* Reads path (a regular file of at most NW_STATE_MAX_BYTES) and parses it:
 * -ENOENT when there is none; -EFBIG, -EINVAL (err says why), -errno. */
int nw_state_load(const char *path, struct nw_state *s, char *err, size_t errlen);
/* Replaces path with s atomically (a temporary beside it, fsync'ed,
 * renamed; mode 0600): 0 or -errno. */
int nw_state_save(const char *path, const struct nw_state *s);

/* This process's namespace and boot: 0, or -errno when the netns inode is
 * unknown (the cookie and boot id may stay unknown). */
int nw_state_here(struct nw_state_place *here);
/* A file written at `file` applies `here`: the same netns inode, and the
 * same cookie and boot id where both sides know them. Else false, why
 * says so. */
bool nw_state_same_place(const struct nw_state_place *file, const struct nw_state_place *here,
			 char *why, size_t len);

#endif
