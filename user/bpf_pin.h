/* SPDX-License-Identifier: GPL-2.0-only */
/* Pin directory, pinned maps and links: adopt what a previous netwardd left
 * so that a restart never leaves a window without enforcement. */
#ifndef NETWARD_BPF_PIN_H
#define NETWARD_BPF_PIN_H

#include <stdint.h>
#include <stdbool.h>
#include <bpf/libbpf.h>
#include <cjson/cJSON.h>

/* Makes sure dir is on a bpf filesystem (mounting /sys/fs/bpf when it is
 * not mounted and dir lies under it) and creates dir and dir/links. */
int nw_pin_dir_prepare(const char *dir);

/* Takes an exclusive lock on dir for this process's lifetime: one netwardd
 * per pin dir. -EBUSY when another process holds it. Returns the fd. */
int nw_pin_dir_lock(const char *dir);

/* Sets "<dir>/<map name>" as the pin path of every non-internal map, so that
 * load reuses pinned maps and pins new ones. */
int nw_pin_maps(struct bpf_object *obj, const char *dir);
void nw_unpin_maps(struct bpf_object *obj);
/* Removes dir/links and dir when empty. */
void nw_pin_dir_remove(const char *dir);

enum nw_link_how {
	NW_LINK_NEW,		/* nothing was pinned: attached */
	NW_LINK_UPDATED,	/* pinned link kept, program swapped atomically */
	NW_LINK_REPLACED,	/* new link attached first, then the old one dropped */
};
const char *nw_link_how_name(enum nw_link_how how);

/* Attaches prog (to cgroup_fd when >= 0, else by its SEC()) and pins the
 * link at pin_path, adopting a link already pinned there. */
int nw_link_install(struct bpf_program *prog, const char *pin_path, int cgroup_fd,
		    uint64_t cgroup_id, struct bpf_link **out, enum nw_link_how *how);

/* Unpins and detaches. */
void nw_link_remove(struct bpf_link *link, const char *pin_path);

/* One program of a module and its pinned link "<pin dir>/links/<name>". */
struct nw_link_slot {
	const char *name;	/* program name, also the pin name */
	const char *hook;	/* for status: "cgroup/bind4", "tracepoint/..." */
	const char *path;	/* for status: "cgroup", "tracepoint", "fexit" */
	struct bpf_program *prog;
	bool cgroup;		/* attach to the module's cgroup */
	bool enabled;		/* false: not used on this kernel; a stale pin goes */
	const char *unused;	/* why not enabled, for status (default: this kernel) */
	struct bpf_link *link;
	enum nw_link_how how;
};

#define NW_LINK_SLOT(n, h, p, pr, cg) \
	((struct nw_link_slot){ .name = (n), .hook = (h), .path = (p), .prog = (pr), \
				.cgroup = (cg), .enabled = true })

/* Installs every enabled slot (cgroup slots on cg_fd) that has no link yet,
 * or every cgroup slot again when reattach_cgroup; removes pinned links of
 * disabled slots. */
int nw_links_install(struct nw_link_slot *slots, size_t n, const char *pin_dir, int cg_fd,
		     uint64_t cg_id, bool reattach_cgroup);
/* Appends {"name","hook","path","state","link_id","prog_id"} per slot. */
void nw_links_status(const struct nw_link_slot *slots, size_t n, cJSON *arr);
bool nw_links_adopted(const struct nw_link_slot *slots, size_t n);
/* detach: unpin and detach; otherwise only close (pins keep enforcing). */
void nw_links_release(struct nw_link_slot *slots, size_t n, const char *pin_dir, bool detach);

#endif
