// SPDX-License-Identifier: GPL-2.0-only
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bind_guard.skel.h"
#include "bind_guard.h"
#include "bpf_pin.h"
#include "cgroup.h"
#include "util.h"

enum { L_BIND4, L_BIND6, L_LISTEN, L_MKDIR, L_RMDIR, L__MAX };

struct nw_bind_guard {
	struct bind_guard_bpf *skel;
	struct nw_link_slot links[L__MAX];
	char pin_dir[PATH_MAX];
	char cgroup_dir[PATH_MAX];
	uint64_t cgroup_id;
};

static void init_slots(struct nw_bind_guard *g)
{
	struct nw_link_slot *l = g->links;

	l[L_BIND4] = NW_LINK_SLOT("nw_bind4", "cgroup/bind4", "cgroup", g->skel->progs.nw_bind4, true);
	l[L_BIND6] = NW_LINK_SLOT("nw_bind6", "cgroup/bind6", "cgroup", g->skel->progs.nw_bind6, true);
	l[L_LISTEN] = NW_LINK_SLOT("tp_inet_listen", "tracepoint/sock/inet_sock_set_state",
				   "tracepoint", g->skel->progs.tp_inet_listen, false);
	l[L_MKDIR] = NW_LINK_SLOT("tp_cgroup_mkdir", "tracepoint/cgroup/cgroup_mkdir", "tracepoint",
				  g->skel->progs.tp_cgroup_mkdir, false);
	l[L_RMDIR] = NW_LINK_SLOT("tp_cgroup_rmdir", "tracepoint/cgroup/cgroup_rmdir", "tracepoint",
				  g->skel->progs.tp_cgroup_rmdir, false);
}

int nw_bind_guard_load(struct nw_bind_guard **out, const char *pin_dir)
{
	struct nw_bind_guard *g;
	int err;

	g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	if ((err = nw_path(g->pin_dir, sizeof(g->pin_dir), "%s", pin_dir)))
		goto cleanup;
	g->skel = bind_guard_bpf__open();
	if (!g->skel) {
		err = -errno;
		goto cleanup;
	}
	if ((err = nw_pin_maps(g->skel->obj, pin_dir)))
		goto cleanup;
	if ((err = bind_guard_bpf__load(g->skel)))
		goto cleanup;
	init_slots(g);
	*out = g;
	return 0;
cleanup:
	nw_bind_guard_destroy(g, false);
	return err;
}

int nw_bind_guard_attach(struct nw_bind_guard *g, const char *cgroup_dir)
{
	__u32 zero = 0;
	uint64_t id;
	int cg_fd, err;

	if ((err = nw_cgroup_id(cgroup_dir, &id)))
		return err;
	if (g->links[L_BIND4].link && id == g->cgroup_id)
		return 0;	/* a reload that keeps the cgroup */
	cg_fd = open(cgroup_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cg_fd < 0)
		return -errno;
	/* the listen tracepoint acts only under this cgroup */
	if (bpf_map_update_elem(bpf_map__fd(g->skel->maps.bind_cgroup), &zero, &cg_fd,
				BPF_ANY) < 0) {
		err = -errno;
		goto cleanup;
	}
	/* a new cgroup: attach there first, then the old links go */
	if ((err = nw_links_install(g->links, L__MAX, g->pin_dir, cg_fd, id, true)))
		goto cleanup;
	g->cgroup_id = id;
	snprintf(g->cgroup_dir, sizeof(g->cgroup_dir), "%s", cgroup_dir);
cleanup:
	close(cg_fd);
	return err;
}

int nw_bind_guard_configure(struct nw_bind_guard *g, const struct nw_config *kcfg,
			    const struct nw_bind_rule_spec *rules, size_t n)
{
	__u32 zero = 0;
	int err;

	if ((err = nw_bind_guard_sync_rules(g, rules, n)))
		return err;
	if (bpf_map_update_elem(bpf_map__fd(g->skel->maps.nw_config), &zero, kcfg, BPF_ANY) < 0)
		return -errno;
	return 0;
}

int nw_bind_guard_sync_rules(struct nw_bind_guard *g, const struct nw_bind_rule_spec *rules,
			     size_t n)
{
	return nw_policy_sync(bpf_map__fd(g->skel->maps.bind_policy), rules, n);
}

int nw_bind_guard_events_fd(const struct nw_bind_guard *g)
{
	return bpf_map__fd(g->skel->maps.events);
}

int nw_bind_guard_counters_fd(const struct nw_bind_guard *g)
{
	return bpf_map__fd(g->skel->maps.counters);
}

void nw_bind_guard_status(const struct nw_bind_guard *g, cJSON *out)
{
	cJSON_AddStringToObject(out, "cgroup_dir", g->cgroup_dir);
	cJSON_AddNumberToObject(out, "cgroup_id", (double)g->cgroup_id);
	nw_links_status(g->links, L__MAX, cJSON_AddArrayToObject(out, "programs"));
}

bool nw_bind_guard_adopted(const struct nw_bind_guard *g)
{
	return nw_links_adopted(g->links, L__MAX);
}

void nw_bind_guard_destroy(struct nw_bind_guard *g, bool detach)
{
	if (!g)
		return;
	if (g->skel)
		nw_links_release(g->links, L__MAX, g->pin_dir, detach);
	if (detach && g->skel) {
		nw_unpin_maps(g->skel->obj);
		nw_pin_dir_remove(g->pin_dir);
	}
	bind_guard_bpf__destroy(g->skel);
	free(g);
}
