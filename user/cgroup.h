/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef NETWARD_CGROUP_H
#define NETWARD_CGROUP_H

#include <stdint.h>
#include <stdio.h>

/* Where cgroup2 is mounted, from /proc/self/mountinfo (hybrid layouts put
 * it at /sys/fs/cgroup/unified, unified ones at /sys/fs/cgroup). */
int nw_cgroup2_mount(char *buf, size_t size);
int nw_cgroup2_mount_from(FILE *mountinfo, char *buf, size_t size);

/* A configured cgroup to an absolute directory: "/" or "" is the root;
 * a path starting with the mount point is taken as it is; anything else
 * (with or without a leading slash, as in /proc/PID/cgroup) is relative to
 * the mount. Does not check that it exists. */
int nw_cgroup_abs(const char *mount, const char *cgroup, char *out, size_t size);

/* The cgroup2 id (kernfs node id) of a cgroup directory. */
int nw_cgroup_id(const char *abs_path, uint64_t *id);

/* The path, relative to the mount and starting with '/', of a cgroup id. */
int nw_cgroup_path_from_id(const char *mount, uint64_t id, char *out, size_t size);

/* Resolve "PATH|ID" as taken by netwardctl: a number is an id. */
int nw_cgroup_parse_arg(const char *mount, const char *arg, uint64_t *id);

#endif
