// SPDX-License-Identifier: GPL-2.0-only
/* Operations on the pinned quarantine map, shared by netwardctl and netwardd. */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>

#include "quarantine_map.h"

int nw_quarantine_map_open(const char *pin_dir)
{
	char path[PATH_MAX];
	int fd;

	if (snprintf(path, sizeof(path), "%s/quarantine", pin_dir) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	fd = bpf_obj_get(path);
	return fd < 0 ? -errno : fd;
}

int nw_quarantine_get(int map_fd, uint64_t cgroup_id, uint32_t *flags)
{
	__u64 key = cgroup_id;
	__u32 v;

	if (bpf_map_lookup_elem(map_fd, &key, &v) < 0)
		return -errno;
	*flags = v;
	return 0;
}

int nw_quarantine_add(int map_fd, uint64_t cgroup_id, uint32_t flags)
{
	__u64 key = cgroup_id;
	__u32 v = flags | NW_QUAR_ACTIVE, old;
	bool existed;

	if (!cgroup_id)
		return -EINVAL;
	existed = bpf_map_lookup_elem(map_fd, &key, &old) == 0;
	if (bpf_map_update_elem(map_fd, &key, &v, BPF_ANY) < 0)
		return -errno;
	return existed;
}

int nw_quarantine_del(int map_fd, uint64_t cgroup_id)
{
	__u64 key = cgroup_id;

	if (bpf_map_delete_elem(map_fd, &key) == 0)
		return 1;
	return errno == ENOENT ? 0 : -errno;
}

int nw_quarantine_foreach(int map_fd, nw_quarantine_cb cb, void *ud)
{
	__u64 key, next;
	__u64 *prev = NULL;
	int r;

	for (;;) {
		struct nw_quarantine_entry q;
		__u32 v;

		if (bpf_map_get_next_key(map_fd, prev, &next) < 0)
			return errno == ENOENT ? 0 : -errno;
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(map_fd, &key, &v) < 0) {
			if (errno == ENOENT)
				continue;	/* removed meanwhile */
			return -errno;
		}
		q.cgroup_id = key;
		q.flags = v;
		if ((r = cb(&q, ud)))
			return r;
	}
}

struct collect {
	struct nw_quarantine_entry *v;
	size_t n, cap;
};

static int collect(const struct nw_quarantine_entry *q, void *ud)
{
	struct collect *c = ud;

	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 16;
		struct nw_quarantine_entry *v = realloc(c->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		c->v = v;
		c->cap = cap;
	}
	c->v[c->n++] = *q;
	return 0;
}

static int by_id(const void *a, const void *b)
{
	const struct nw_quarantine_entry *x = a, *y = b;

	return x->cgroup_id < y->cgroup_id ? -1 : x->cgroup_id > y->cgroup_id;
}

int nw_quarantine_list(int map_fd, struct nw_quarantine_entry **out)
{
	struct collect c = { 0 };
	int r = nw_quarantine_foreach(map_fd, collect, &c);

	if (r) {
		free(c.v);
		return r;
	}
	if (c.n > 1)
		qsort(c.v, c.n, sizeof(*c.v), by_id);
	*out = c.v;
	return (int)c.n;
}

const char *nw_quarantine_origin(uint32_t flags)
{
	if (!(flags & NW_QUAR_ACTIVE))
		return "inactive";
	return flags & NW_QUAR_AUTO ? "auto" : "manual";
}
