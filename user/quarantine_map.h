/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The pinned "quarantine" map (cgroup id -> NW_QUAR_* flags, see
 * include/netward/route_watch.h): the operations netwardctl and netwardd
 * share. Library-like: no logging, negative errno.
 */
#ifndef NETWARD_QUARANTINE_MAP_H
#define NETWARD_QUARANTINE_MAP_H

#include <stddef.h>
#include <stdint.h>

#include "netward/route_watch.h"

struct nw_quarantine_entry {
	uint64_t cgroup_id;
	uint32_t flags;		/* NW_QUAR_* */
};

/* bpf_obj_get of "<pin_dir>/quarantine": an fd, or -errno. */
int nw_quarantine_map_open(const char *pin_dir);

/* Puts cgroup_id in quarantine with flags (NW_QUAR_ACTIVE is always set):
 * 0 when it was not there, 1 when it was (its flags are now `flags`),
 * -EINVAL for id 0, -E2BIG when the map is full, else -errno. */
int nw_quarantine_add(int map_fd, uint64_t cgroup_id, uint32_t flags);

/* 1 removed, 0 it was not there, -errno. */
int nw_quarantine_del(int map_fd, uint64_t cgroup_id);

/* 0 and *flags, -ENOENT when not there, -errno. */
int nw_quarantine_get(int map_fd, uint64_t cgroup_id, uint32_t *flags);

/* cb for each entry (map order); a non-zero return stops the walk and is
 * returned. An entry removed during the walk is skipped. */
typedef int (*nw_quarantine_cb)(const struct nw_quarantine_entry *q, void *ud);
int nw_quarantine_foreach(int map_fd, nw_quarantine_cb cb, void *ud);

/* Every entry, sorted by cgroup id, into *out (malloc'd, free() it; NULL
 * when empty): the count, or -errno. */
int nw_quarantine_list(int map_fd, struct nw_quarantine_entry **out);

/* "manual" or "auto" (NW_QUAR_AUTO), "inactive" when NW_QUAR_ACTIVE is not set */
const char *nw_quarantine_origin(uint32_t flags);

#endif
