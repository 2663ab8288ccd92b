// SPDX-License-Identifier: GPL-2.0-only
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <linux/magic.h>

#include "bpf_pin.h"
#include "util.h"

#define BPFFS_DEFAULT "/sys/fs/bpf"

static int on_bpffs(const char *path)
{
	struct statfs st;

	if (statfs(path, &st) < 0)
		return -errno;
	return st.f_type == BPF_FS_MAGIC;
}

int nw_pin_dir_prepare(const char *dir)
{
	char links[PATH_MAX], parent[PATH_MAX];
	char *slash;
	int r;

	/* the deepest existing ancestor tells which filesystem dir will be on */
	if (nw_path(parent, sizeof(parent), "%s", dir) < 0)
		return -ENAMETOOLONG;
	while ((r = on_bpffs(parent)) == -ENOENT && (slash = strrchr(parent, '/')) && slash != parent)
		*slash = 0;
	if (r < 0)
		return r;
	if (!r) {
		if (strncmp(dir, BPFFS_DEFAULT "/", sizeof(BPFFS_DEFAULT)))
			return -ENOTSUP;	/* not ours to mount */
		if (mount("bpf", BPFFS_DEFAULT, "bpf", 0, "mode=0700") < 0)
			return -errno;
	}
	if ((r = nw_mkdir_p(dir, 0700)) < 0)
		return r;
	if (nw_path(links, sizeof(links), "%s/links", dir) < 0)
		return -ENAMETOOLONG;
	return nw_mkdir_p(links, 0700);
}

int nw_pin_dir_lock(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int err = errno == EWOULDBLOCK ? -EBUSY : -errno;

		close(fd);
		return err;
	}
	return fd;
}

int nw_pin_maps(struct bpf_object *obj, const char *dir)
{
	struct bpf_map *map;
	char path[PATH_MAX];
	int err;

	bpf_object__for_each_map(map, obj) {
		if (bpf_map__is_internal(map))
			continue;
		if (nw_path(path, sizeof(path), "%s/%s", dir, bpf_map__name(map)) < 0)
			return -ENAMETOOLONG;
		if ((err = bpf_map__set_pin_path(map, path)))
			return err;
	}
	return 0;
}

void nw_unpin_maps(struct bpf_object *obj)
{
	struct bpf_map *map;

	bpf_object__for_each_map(map, obj)
		if (!bpf_map__is_internal(map) && bpf_map__pin_path(map))
			unlink(bpf_map__pin_path(map));
}

void nw_pin_dir_remove(const char *dir)
{
	char links[PATH_MAX];

	if (nw_path(links, sizeof(links), "%s/links", dir) == 0)
		rmdir(links);
	rmdir(dir);
}

const char *nw_link_how_name(enum nw_link_how how)
{
	switch (how) {
	case NW_LINK_NEW: return "attached";
	case NW_LINK_UPDATED: return "adopted, program updated in place";
	case NW_LINK_REPLACED: return "adopted, link replaced";
	}
	return "?";
}

/* Is the pinned link attached where we want it? */
static int link_matches(struct bpf_link *link, int cgroup_fd, uint64_t cgroup_id)
{
	struct bpf_link_info info;
	__u32 len = sizeof(info);

	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(bpf_link__fd(link), &info, &len) < 0)
		return 0;
	if (cgroup_fd < 0)
		return info.type != BPF_LINK_TYPE_CGROUP;
	return info.type == BPF_LINK_TYPE_CGROUP && info.cgroup.cgroup_id == cgroup_id;
}

int nw_link_install(struct bpf_program *prog, const char *pin_path, int cgroup_fd,
		    uint64_t cgroup_id, struct bpf_link **out, enum nw_link_how *how)
{
	struct bpf_link *old, *link;
	int err;

	old = access(pin_path, F_OK) == 0 ? bpf_link__open(pin_path) : NULL;
	if (old && link_matches(old, cgroup_fd, cgroup_id) &&
	    bpf_link__update_program(old, prog) == 0) {
		*out = old;
		*how = NW_LINK_UPDATED;
		return 0;
	}
	/* attach the new one before dropping the old: no unguarded window */
	link = cgroup_fd >= 0 ? bpf_program__attach_cgroup(prog, cgroup_fd)
			      : bpf_program__attach(prog);
	if (!link) {
		err = -errno;
		bpf_link__destroy(old);	/* closes our fd; the pin keeps it */
		return err;
	}
	if (old)
		unlink(pin_path);
	if ((err = bpf_link__pin(link, pin_path))) {
		bpf_link__destroy(link);
		bpf_link__destroy(old);
		return err;
	}
	if (old) {
		bpf_link__detach(old);
		bpf_link__destroy(old);
	}
	*out = link;
	*how = old ? NW_LINK_REPLACED : NW_LINK_NEW;
	return 0;
}

void nw_link_remove(struct bpf_link *link, const char *pin_path)
{
	if (!link)
		return;
	unlink(pin_path);
	bpf_link__detach(link);
	bpf_link__destroy(link);
}

static int slot_pin(char *buf, size_t size, const char *pin_dir, const struct nw_link_slot *s)
{
	return nw_path(buf, size, "%s/links/%s", pin_dir, s->name);
}

int nw_links_install(struct nw_link_slot *slots, size_t n, const char *pin_dir, int cg_fd,
		     uint64_t cg_id, bool reattach_cgroup)
{
	char pin[PATH_MAX];
	int err;

	for (size_t i = 0; i < n; i++) {
		struct nw_link_slot *s = &slots[i];
		struct bpf_link *link = NULL;

		if ((err = slot_pin(pin, sizeof(pin), pin_dir, s)))
			return err;
		if (!s->enabled) {
			/* e.g. a tracepoint link pinned before fexit was available */
			if (access(pin, F_OK) == 0)
				nw_link_remove(bpf_link__open(pin), pin);
			continue;
		}
		if (s->link && !(s->cgroup && reattach_cgroup))
			continue;
		err = nw_link_install(s->prog, pin, s->cgroup ? cg_fd : -1, cg_id, &link, &s->how);
		if (err)
			return err;
		if (s->link && s->link != link)
			bpf_link__destroy(s->link);
		s->link = link;
	}
	return 0;
}

void nw_links_status(const struct nw_link_slot *slots, size_t n, cJSON *arr)
{
	for (size_t i = 0; i < n; i++) {
		const struct nw_link_slot *s = &slots[i];
		struct bpf_link_info info;
		__u32 len = sizeof(info);
		cJSON *p = cJSON_CreateObject();

		cJSON_AddStringToObject(p, "name", s->name);
		cJSON_AddStringToObject(p, "hook", s->hook);
		cJSON_AddStringToObject(p, "path", s->path);
		if (s->link) {
			memset(&info, 0, sizeof(info));
			cJSON_AddStringToObject(p, "state", nw_link_how_name(s->how));
			if (bpf_obj_get_info_by_fd(bpf_link__fd(s->link), &info, &len) == 0) {
				cJSON_AddNumberToObject(p, "link_id", info.id);
				cJSON_AddNumberToObject(p, "prog_id", info.prog_id);
			}
		} else {
			cJSON_AddStringToObject(p, "state",
						s->enabled ? "not attached"
							   : s->unused ? s->unused : "not used on this kernel");
		}
		cJSON_AddItemToArray(arr, p);
	}
}

bool nw_links_adopted(const struct nw_link_slot *slots, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (slots[i].link && slots[i].how != NW_LINK_NEW)
			return true;
	return false;
}

void nw_links_release(struct nw_link_slot *slots, size_t n, const char *pin_dir, bool detach)
{
	char pin[PATH_MAX];

	for (size_t i = 0; i < n; i++) {
		if (detach && slot_pin(pin, sizeof(pin), pin_dir, &slots[i]) == 0)
			nw_link_remove(slots[i].link, pin);
		else
			bpf_link__destroy(slots[i].link);
		slots[i].link = NULL;
	}
}
