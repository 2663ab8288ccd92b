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

enum { L_BIND4, L_BIND6, L_LISTEN, L__MAX };

static const struct {
	const char *name;	/* program name = pin name under links/ */
	const char *hook;
	bool cgroup;
} link_defs[L__MAX] = {
	[L_BIND4] = { "nw_bind4", "cgroup/bind4", true },
	[L_BIND6] = { "nw_bind6", "cgroup/bind6", true },
	[L_LISTEN] = { "tp_inet_listen", "tracepoint/sock/inet_sock_set_state", false },
};

struct nw_bind_guard {
	struct bind_guard_bpf *skel;
	struct bpf_link *links[L__MAX];
	enum nw_link_how how[L__MAX];
	char pin_dir[PATH_MAX];
	char cgroup_dir[PATH_MAX];
	uint64_t cgroup_id;
};

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
	*out = g;
	return 0;
cleanup:
	nw_bind_guard_destroy(g, false);
	return err;
}

static struct bpf_program *prog_of(struct nw_bind_guard *g, int i)
{
	switch (i) {
	case L_BIND4: return g->skel->progs.nw_bind4;
	case L_BIND6: return g->skel->progs.nw_bind6;
	default: return g->skel->progs.tp_inet_listen;
	}
}

int nw_bind_guard_attach(struct nw_bind_guard *g, const char *cgroup_dir)
{
	char pin[PATH_MAX];
	uint64_t id;
	__u32 zero = 0;
	int cg_fd, err;

	if ((err = nw_cgroup_id(cgroup_dir, &id)))
		return err;
	if (g->links[L_BIND4] && id == g->cgroup_id)
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
	for (int i = 0; i < L__MAX; i++) {
		struct bpf_link *link = NULL;

		if (!link_defs[i].cgroup && g->links[i])
			continue;	/* not tied to the cgroup: keep it */
		if ((err = nw_path(pin, sizeof(pin), "%s/links/%s", g->pin_dir, link_defs[i].name)))
			goto cleanup;
		err = nw_link_install(prog_of(g, i), pin, link_defs[i].cgroup ? cg_fd : -1, id,
				      &link, &g->how[i]);
		if (err)
			goto cleanup;
		if (g->links[i] && g->links[i] != link)
			bpf_link__destroy(g->links[i]);
		g->links[i] = link;
	}
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

	if ((err = nw_policy_sync(bpf_map__fd(g->skel->maps.bind_policy), rules, n)))
		return err;
	if (bpf_map_update_elem(bpf_map__fd(g->skel->maps.nw_config), &zero, kcfg, BPF_ANY) < 0)
		return -errno;
	return 0;
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
	cJSON *arr = cJSON_AddArrayToObject(out, "programs");

	cJSON_AddStringToObject(out, "cgroup_dir", g->cgroup_dir);
	cJSON_AddNumberToObject(out, "cgroup_id", (double)g->cgroup_id);
	for (int i = 0; i < L__MAX; i++) {
		struct bpf_link_info info;
		__u32 len = sizeof(info);
		cJSON *p = cJSON_CreateObject();

		cJSON_AddStringToObject(p, "name", link_defs[i].name);
		cJSON_AddStringToObject(p, "hook", link_defs[i].hook);
		cJSON_AddStringToObject(p, "path", link_defs[i].cgroup ? "cgroup" : "tracepoint");
		if (g->links[i]) {
			memset(&info, 0, sizeof(info));
			cJSON_AddStringToObject(p, "state", nw_link_how_name(g->how[i]));
			if (bpf_obj_get_info_by_fd(bpf_link__fd(g->links[i]), &info, &len) == 0) {
				cJSON_AddNumberToObject(p, "link_id", info.id);
				cJSON_AddNumberToObject(p, "prog_id", info.prog_id);
			}
		} else {
			cJSON_AddStringToObject(p, "state", "not attached");
		}
		cJSON_AddItemToArray(arr, p);
	}
}

bool nw_bind_guard_adopted(const struct nw_bind_guard *g)
{
	for (int i = 0; i < L__MAX; i++)
		if (g->links[i] && g->how[i] != NW_LINK_NEW)
			return true;
	return false;
}

void nw_bind_guard_destroy(struct nw_bind_guard *g, bool detach)
{
	char pin[PATH_MAX];

	if (!g)
		return;
	for (int i = 0; i < L__MAX; i++) {
		if (detach && nw_path(pin, sizeof(pin), "%s/links/%s", g->pin_dir,
				      link_defs[i].name) == 0)
			nw_link_remove(g->links[i], pin);
		else
			bpf_link__destroy(g->links[i]);
	}
	if (detach && g->skel) {
		nw_unpin_maps(g->skel->obj);
		nw_pin_dir_remove(g->pin_dir);
	}
	bind_guard_bpf__destroy(g->skel);
	free(g);
}
