// SPDX-License-Identifier: GPL-2.0-only
/*
 * restore_dns (level 1). With systemd-resolved on the bus, the per-link
 * DNS settings of the VPN interfaces (recovery.vpn_interfaces) are reverted
 * (RevertLink): a VPN that died keeps routing every query to its dead
 * server otherwise. Without it, the known-good copy of resolv.conf
 * (resolvconf.c) is put back.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "resolvconf.h"
#include "steps_impl.h"
#include "sysbus.h"

#define DNS_LINKS_MAX STEP_SLOTS_MAX

struct dns_link {
	struct step_run *r;
	struct nw_link l;
	int state;		/* 0 pending, 1 reverted, 2 failed */
	char err[96];
};

struct dns_run {
	struct dns_link v[DNS_LINKS_MAX];
	size_t n, answered;
};

static void dns_finish(struct step_run *r, bool at_deadline)
{
	struct dns_run *d = r->priv;
	char ok[300] = "", bad[200] = "", pend[150] = "";
	unsigned n_ok = 0, n_bad = 0, n_pend = 0;

	for (size_t i = 0; i < d->n; i++) {
		struct dns_link *k = &d->v[i];

		if (k->state == 1) {
			n_ok++;
			step_list_add(ok, sizeof(ok), "%s", k->l.name);
		} else if (k->state == 2) {
			n_bad++;
			step_list_add(bad, sizeof(bad), "%s: %s", k->l.name, k->err);
		} else {
			n_pend++;
			step_list_add(pend, sizeof(pend), "%s", k->l.name);
		}
	}
	r->out.changes = n_ok;
	if (n_ok)
		step_detail(r, "systemd-resolved reverted the DNS settings of %s", ok);
	else
		step_detail(r, "systemd-resolved reverted nothing");
	if (n_bad || n_pend)
		step_leftover(r, "%s%s%s%s", bad, n_bad && n_pend ? ", " : "",
			      n_pend ? "no answer for " : "", pend);
	if (at_deadline && n_pend)
		step_complete(r, NW_STEP_TIMEOUT);
	else
		step_complete(r, n_ok ? NW_STEP_CHANGED : NW_STEP_FAILED);
}

static int on_reverted(sd_bus_message *m, void *ud, sd_bus_error *ret_error)
{
	struct dns_link *k = ud;
	struct step_run *r = k->r;
	struct dns_run *d = r->priv;

	(void)ret_error;
	if (sd_bus_message_is_method_error(m, NULL)) {
		k->state = 2;
		snprintf(k->err, sizeof(k->err), "%s", step_bus_error(m));
	} else {
		k->state = 1;
	}
	if (++d->answered == d->n)
		dns_finish(r, false);
	return 0;
}

static void dns_timeout(struct step_run *r)
{
	if (r->priv) {
		dns_finish(r, true);
		return;
	}
	step_leftover(r, "no answer within %u ms", r->timeout_ms);
	step_complete(r, NW_STEP_TIMEOUT);
}

static bool keep_vpn(struct step_run *r, const struct nw_link *l)
{
	return nw_recovery_is_vpn(&r->cfg, l->name, r->main_if);
}

static int resolved_start(struct step_run *r)
{
	struct dns_run *d = calloc(1, sizeof(*d));
	struct nw_link *links = NULL;
	char names[300] = "";
	int n, err = 0;

	if (!d)
		return -ENOMEM;
	r->priv = d;
	if ((n = step_dump_links(r, keep_vpn, &links)) < 0) {
		step_detail(r, "listing interfaces: %s", strerror(-n));
		return n;
	}
	for (int i = 0; i < n && d->n < DNS_LINKS_MAX; i++) {
		d->v[d->n].r = r;
		d->v[d->n++].l = links[i];
		step_list_add(names, sizeof(names), "%s", links[i].name);
	}
	if (!d->n) {
		step_detail(r, "systemd-resolved runs; no VPN interface to revert");
		step_complete(r, NW_STEP_NOTHING);
		goto cleanup;
	}
	if (r->dry_run) {
		step_detail(r, "would ask systemd-resolved to revert the DNS settings of %s",
			    names);
		step_complete(r, NW_STEP_DRY_RUN);
		goto cleanup;
	}
	for (size_t i = 0; i < d->n; i++) {
		err = step_bus_call(r, on_reverted, &d->v[i], NW_BUS_RESOLVED,
				    "/org/freedesktop/resolve1", "org.freedesktop.resolve1.Manager",
				    "RevertLink", "i", (int32_t)d->v[i].l.ifindex);
		if (err < 0) {
			step_detail(r, "calling RevertLink: %s", strerror(-err));
			goto cleanup;
		}
	}
cleanup:
	free(links);
	return err;
}

static int dns_start(struct step_run *r)
{
	const char *path = r->cfg.resolv_conf ? r->cfg.resolv_conf : "/etc/resolv.conf";
	int res;

	if (step_bus_has(r, NW_BUS_RESOLVED))
		return resolved_start(r);
	if (!r->s->env.state_dir) {
		step_detail(r, "no state directory: no saved copy of %s", path);
		step_complete(r, NW_STEP_SKIPPED);
		return 0;
	}
	res = nw_resolvconf_restore(path, r->s->env.state_dir, r->dry_run);
	switch (res) {
	case 1:
		r->out.changes = 1;
		step_detail(r, r->dry_run ? "would restore %s from the saved copy" :
			    "restored %s from the saved copy", path);
		step_complete(r, r->dry_run ? NW_STEP_DRY_RUN : NW_STEP_CHANGED);
		break;
	case 0:
		step_detail(r, "%s equals the saved copy", path);
		step_complete(r, NW_STEP_NOTHING);
		break;
	case -ENOENT:
		step_detail(r, "no saved copy yet");
		step_complete(r, NW_STEP_SKIPPED);
		break;
	case -ELOOP:
		step_detail(r, "%s is a symlink (managed by a resolver)", path);
		step_complete(r, NW_STEP_SKIPPED);
		break;
	default:
		step_detail(r, "restoring %s: %s", path, strerror(res < 0 ? -res : EIO));
		step_complete(r, NW_STEP_FAILED);
		break;
	}
	return 0;
}

static void dns_cleanup(struct step_run *r)
{
	free(r->priv);
}

const struct step_impl nw_step_restore_dns_impl = {
	.start = dns_start,
	.timeout = dns_timeout,
	.cleanup = dns_cleanup,
};
