// SPDX-License-Identifier: GPL-2.0-only
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/libbpf.h>

#include "route_watch.skel.h"
#include "bpf_pin.h"
#include "route_watch.h"
#include "util.h"

enum {
	L_SENDMSG, L_SENDTO, L_SENDMMSG, L_FIB, L_FIB6, L_FIB_BTF, L_FIB6_BTF,
	L_FX_DEL4, L_FX_DEL6, L_FX_NEWRULE, L_FX_DELRULE, L_LSM, L__MAX
};

struct nw_route_watch {
	struct route_watch_bpf *skel;
	struct nw_link_slot links[L__MAX];
	bool fexit;
	bool lsm;		/* lsm_netlink_send loaded (its slot enabled) */
	bool btf_fib;		/* fib lookups on tp_btf, not classic tracepoints */
	char pin_dir[PATH_MAX];
};

static struct bpf_program *const *fexit_progs(struct route_watch_bpf *s, size_t *n)
{
	static struct bpf_program *p[4];

	p[0] = s->progs.fx_fib_tbl_del;
	p[1] = s->progs.fx_fib6_del;
	p[2] = s->progs.fx_fib_newrule;
	p[3] = s->progs.fx_fib_delrule;
	*n = 4;
	return p;
}

/* Really loads and attaches one fexit program: some kernels have BTF and
 * the program type, yet refuse it at load (EPERM) or at attach. */
int nw_fexit_supported(void)
{
	struct route_watch_bpf *s = route_watch_bpf__open();
	struct bpf_program *prog;
	struct bpf_link *link;
	int ok = 0;

	if (!s)
		return 0;
	bpf_object__for_each_program(prog, s->obj)
		bpf_program__set_autoload(prog, prog == s->progs.fx_fib_tbl_del);
	if (route_watch_bpf__load(s) == 0) {
		link = bpf_program__attach(s->progs.fx_fib_tbl_del);
		ok = link != NULL;
		bpf_link__destroy(link);
	}
	route_watch_bpf__destroy(s);
	return ok;
}

/* The same for BPF LSM: loads and attaches lsm_netlink_send alone. Where
 * BPF LSM is compiled in but not active (not in lsm=), or the kernel or a
 * sandbox refuses tracing programs, load or attach fails: 0. */
int nw_lsm_supported(void)
{
	struct route_watch_bpf *s = route_watch_bpf__open();
	struct bpf_program *prog;
	struct bpf_link *link;
	int ok = 0;

	if (!s)
		return 0;
	bpf_object__for_each_program(prog, s->obj)
		bpf_program__set_autoload(prog, prog == s->progs.lsm_netlink_send);
	if (route_watch_bpf__load(s) == 0) {
		link = bpf_program__attach_lsm(s->progs.lsm_netlink_send);
		ok = link != NULL;
		bpf_link__destroy(link);
	}
	route_watch_bpf__destroy(s);
	return ok;
}

static void init_slots(struct nw_route_watch *w)
{
	struct route_watch_bpf *s = w->skel;
	struct nw_link_slot *l = w->links;

	l[L_SENDMSG] = NW_LINK_SLOT("tp_sendmsg", "tracepoint/syscalls/sys_enter_sendmsg",
				    "tracepoint", s->progs.tp_sendmsg, false);
	l[L_SENDTO] = NW_LINK_SLOT("tp_sendto", "tracepoint/syscalls/sys_enter_sendto",
				   "tracepoint", s->progs.tp_sendto, false);
	l[L_SENDMMSG] = NW_LINK_SLOT("tp_sendmmsg", "tracepoint/syscalls/sys_enter_sendmmsg",
				     "tracepoint", s->progs.tp_sendmmsg, false);
	l[L_FIB] = NW_LINK_SLOT("tp_fib_lookup", "tracepoint/fib/fib_table_lookup", "tracepoint",
				s->progs.tp_fib_lookup, false);
	l[L_FIB6] = NW_LINK_SLOT("tp_fib6_lookup", "tracepoint/fib6/fib6_table_lookup",
				 "tracepoint", s->progs.tp_fib6_lookup, false);
	l[L_FIB_BTF] = NW_LINK_SLOT("tb_fib_lookup", "tp_btf/fib_table_lookup", "tp_btf",
				    s->progs.tb_fib_lookup, false);
	l[L_FIB6_BTF] = NW_LINK_SLOT("tb_fib6_lookup", "tp_btf/fib6_table_lookup", "tp_btf",
				     s->progs.tb_fib6_lookup, false);
	/* one of the two variants; a stale pin of the other goes */
	l[L_FIB].enabled = l[L_FIB6].enabled = !w->btf_fib;
	l[L_FIB_BTF].enabled = l[L_FIB6_BTF].enabled = w->btf_fib;
	l[L_FIB].unused = l[L_FIB6].unused = "not used: the tp_btf variant is attached";
	l[L_FX_DEL4] = NW_LINK_SLOT("fx_fib_tbl_del", "fexit/fib_table_delete", "fexit",
				    s->progs.fx_fib_tbl_del, false);
	l[L_FX_DEL6] = NW_LINK_SLOT("fx_fib6_del", "fexit/fib6_del", "fexit",
				    s->progs.fx_fib6_del, false);
	l[L_FX_NEWRULE] = NW_LINK_SLOT("fx_fib_newrule", "fexit/fib_nl_newrule", "fexit",
				       s->progs.fx_fib_newrule, false);
	l[L_FX_DELRULE] = NW_LINK_SLOT("fx_fib_delrule", "fexit/fib_nl_delrule", "fexit",
				       s->progs.fx_fib_delrule, false);
	for (int i = L_FX_DEL4; i <= L_FX_DELRULE; i++)
		l[i].enabled = w->fexit;
	l[L_LSM] = NW_LINK_SLOT("lsm_netlink_send", "lsm/netlink_send", "lsm",
				s->progs.lsm_netlink_send, false);
	l[L_LSM].enabled = w->lsm;
}

int nw_route_watch_load(struct nw_route_watch **out, const char *pin_dir, bool use_fexit)
{
	return nw_route_watch_load2(out, pin_dir, use_fexit, false);
}

static int load(struct nw_route_watch **out, const char *pin_dir, bool use_fexit, bool use_lsm,
		bool btf_fib)
{
	struct bpf_program *const *fx;
	struct nw_route_watch *w;
	size_t nfx;
	int err;

	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->fexit = use_fexit;
	w->lsm = use_lsm;
	w->btf_fib = btf_fib;
	if ((err = nw_path(w->pin_dir, sizeof(w->pin_dir), "%s", pin_dir)))
		goto cleanup;
	w->skel = route_watch_bpf__open();
	if (!w->skel) {
		err = -errno;
		goto cleanup;
	}
	fx = fexit_progs(w->skel, &nfx);
	for (size_t i = 0; i < nfx; i++)
		bpf_program__set_autoload(fx[i], use_fexit);
	w->skel->rodata->fexit_routes = use_fexit;
	bpf_program__set_autoload(w->skel->progs.lsm_netlink_send, use_lsm);
	bpf_program__set_autoload(w->skel->progs.tb_fib_lookup, btf_fib);
	bpf_program__set_autoload(w->skel->progs.tb_fib6_lookup, btf_fib);
	bpf_program__set_autoload(w->skel->progs.tp_fib_lookup, !btf_fib);
	bpf_program__set_autoload(w->skel->progs.tp_fib6_lookup, !btf_fib);
	if ((err = nw_pin_maps(w->skel->obj, pin_dir)))
		goto cleanup;
	if ((err = route_watch_bpf__load(w->skel)))
		goto cleanup;
	init_slots(w);
	*out = w;
	return 0;
cleanup:
	nw_route_watch_destroy(w, false);
	return err;
}

int nw_route_watch_load2(struct nw_route_watch **out, const char *pin_dir, bool use_fexit,
			 bool use_lsm)
{
	/* BTF tracepoints first (cheaper), then the classic ones; the probe
	 * said yes to LSM and the real object says no: the tracepoint path */
	int err = load(out, pin_dir, use_fexit, use_lsm, true);

	if (err)
		err = load(out, pin_dir, use_fexit, use_lsm, false);
	if (err && use_lsm)
		err = load(out, pin_dir, use_fexit, false, false);
	return err;
}

int nw_route_watch_attach(struct nw_route_watch *w)
{
	int err = nw_links_install(w->links, L__MAX, w->pin_dir, -1, 0, false);

	if (err && w->lsm && !w->links[L_LSM].link) {
		/* LSM refused at attach: fall back to the tracepoint path (the
		 * slots already attached keep their links) */
		w->lsm = false;
		w->links[L_LSM].enabled = false;
		err = nw_links_install(w->links, L__MAX, w->pin_dir, -1, 0, false);
	}
	if (err)
		return err;
	/* only now that it refuses them: the tracepoints stop killing writers */
	w->skel->bss->lsm_quarantine = w->links[L_LSM].link != NULL;
	return 0;
}

const char *nw_route_watch_quarantine_path(const struct nw_route_watch *w)
{
	return w->links[L_LSM].link ? "lsm" : "tracepoint-kill";
}

void nw_route_watch_status(const struct nw_route_watch *w, cJSON *out)
{
	cJSON_AddStringToObject(out, "path", w->fexit ? "fexit" : "tracepoint");
	cJSON_AddStringToObject(out, "fib_path", w->btf_fib ? "tp_btf" : "tracepoint");
	cJSON_AddStringToObject(out, "quarantine_path", nw_route_watch_quarantine_path(w));
	nw_links_status(w->links, L__MAX, cJSON_AddArrayToObject(out, "programs"));
}

bool nw_route_watch_adopted(const struct nw_route_watch *w)
{
	return nw_links_adopted(w->links, L__MAX);
}

void nw_route_watch_destroy(struct nw_route_watch *w, bool detach)
{
	if (!w)
		return;
	if (w->skel)
		nw_links_release(w->links, L__MAX, w->pin_dir, detach);
	if (detach && w->skel)
		nw_unpin_maps(w->skel->obj);
	route_watch_bpf__destroy(w->skel);
	free(w);
}
