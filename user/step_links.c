// SPDX-License-Identifier: GPL-2.0-only
/*
 * Recovery level 2: remove_vpn_interfaces and remove_stale.
 *
 * remove_vpn_interfaces deletes the interfaces whose names match
 * recovery.vpn_interfaces (never the main interface, never anything else),
 * each set down first, all in one netlink worker thread: a deletion can
 * hang in the kernel (seed 002). At the deadline it reports TIMEOUT and
 * the interfaces still present (if_nametoindex: an ioctl under RCU that
 * does not wait for the RTNL lock the hung deletion holds). Before
 * deleting it notes the routing tables whose every route goes through a
 * candidate: the tables of the VPN, for remove_stale.
 *
 * remove_stale deletes the rules left behind: iif/oif naming a VPN
 * interface that no longer exists, or looking up a table of a removed VPN
 * that is empty now. Never the kernel's default rules, rules looking up
 * local/main/default, or a rule the route guard protects.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libmnl/libmnl.h>
#include <linux/fib_rules.h>
#include <linux/rtnetlink.h>

#include "route_guard.h"
#include "steps_impl.h"

#define VPN_TABLES_SEEN_MAX 256
#define STALE_RULES_MAX 64

/* --- remove_vpn_interfaces ---------------------------------------------------- */

enum { LINK_PENDING, LINK_DELETED, LINK_GONE, LINK_FAILED };

struct vpn_link {
	struct nw_link l;
	int state;
	int err;
	char ext[120];
};

struct vpn_run {
	struct vpn_link *v;
	size_t n;
};

static bool keep_vpn(struct step_run *r, const struct nw_link *l)
{
	return nw_recovery_is_vpn(&r->cfg, l->name, r->main_if);
}

static unsigned fault_delay_ms(void)
{
	const char *v = getenv(NW_FAULT_LINK_DEL_DELAY_ENV);
	char *end;
	unsigned long ms;

	if (!v || !*v)
		return 0;
	ms = strtoul(v, &end, 10);
	return *end || ms > 600000 ? 0 : (unsigned)ms;
}

/* tables and whether some route in them does not use a candidate */
struct table_use {
	uint32_t table;
	bool foreign;
};

struct owned_ctx {
	const struct vpn_run *vr;
	struct table_use t[VPN_TABLES_SEEN_MAX];
	size_t n;
	bool overflow;
};

static bool is_candidate(const struct vpn_run *vr, int ifindex)
{
	for (size_t i = 0; i < vr->n; i++)
		if (vr->v[i].l.ifindex == ifindex)
			return true;
	return false;
}

static bool reserved_table(uint32_t table)
{
	return table == RT_TABLE_UNSPEC || table == RT_TABLE_LOCAL || table == RT_TABLE_MAIN ||
	       table == RT_TABLE_DEFAULT;
}

/* The table of a route message, also of one nw_rt_parse cannot read
 * (lightweight tunnel encapsulation): RTA_TABLE, else rtm_table. */
static uint32_t route_table(const struct nlmsghdr *nlh)
{
	const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *a;
	uint32_t table = rtm->rtm_table;

	mnl_attr_for_each(a, nlh, sizeof(*rtm))
		if (mnl_attr_get_type(a) == RTA_TABLE && mnl_attr_validate(a, MNL_TYPE_U32) == 0)
			table = mnl_attr_get_u32(a);
	return table;
}

static int on_owned_route(const struct nlmsghdr *nlh, void *data)
{
	struct owned_ctx *c = data;
	struct nw_rt rt;
	struct table_use *u = NULL;
	bool via = true;
	int err;

	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(struct rtmsg))
		return 0;
	err = nw_rt_parse(nlh, &rt);
	if (err == -EAFNOSUPPORT)
		return 0;
	if (err) {
		/* a route netward cannot read: its table is not the VPN's alone */
		rt.table = route_table(nlh);
		rt.n_nh = 0;
		via = false;
	}
	if (reserved_table(rt.table))
		return 0;
	for (size_t i = 0; i < c->n; i++)
		if (c->t[i].table == rt.table)
			u = &c->t[i];
	if (!u) {
		if (c->n == VPN_TABLES_SEEN_MAX) {
			c->overflow = true;
			return 0;
		}
		u = &c->t[c->n++];
		u->table = rt.table;
		u->foreign = false;
	}
	if (rt.n_nh == 0 || rt.nh_id)
		via = false;
	for (unsigned i = 0; via && i < rt.n_nh; i++)
		if (!is_candidate(c->vr, rt.nh[i].ifindex))
			via = false;
	if (!via)
		u->foreign = true;
	return 0;
}

static void remember_table(struct nw_steps *s, uint32_t table)
{
	for (size_t i = 0; i < s->n_vpn_tables; i++)
		if (s->vpn_tables[i] == table)
			return;
	if (s->n_vpn_tables == STEP_VPN_TABLES_MAX) {
		/* the oldest goes */
		memmove(s->vpn_tables, s->vpn_tables + 1,
			(STEP_VPN_TABLES_MAX - 1) * sizeof(s->vpn_tables[0]));
		s->n_vpn_tables--;
	}
	s->vpn_tables[s->n_vpn_tables++] = table;
}

/* Tables whose every route (both families) uses a candidate as device.
 * A dump the kernel marks interrupted may have missed a route: all of it
 * is read again; what cannot be read whole teaches nothing. */
static int note_owned_tables(struct step_run *r, struct vpn_run *vr)
{
	static const uint8_t fams[] = { AF_INET, AF_INET6 };
	struct owned_ctx *c = malloc(sizeof(*c));
	int err = -EINTR;

	if (!c)
		return -ENOMEM;
	for (int tries = 0; err == -EINTR && tries < 3; tries++) {
		memset(c, 0, sizeof(*c));
		c->vr = vr;
		err = 0;
		for (size_t f = 0; !err && f < 2; f++)
			err = nw_rtnl_dump_routes(r->s->nl, fams[f], 0, step_dump_ms(r),
						  on_owned_route, c);
	}
	if (!err && !c->overflow)
		for (size_t i = 0; i < c->n; i++)
			if (!c->t[i].foreign)
				remember_table(r->s, c->t[i].table);
	free(c);
	return err;
}

static void vpn_finish(struct step_run *r, bool at_deadline)
{
	struct vpn_run *vr = r->priv;
	char deleted[256] = "", failed[256] = "", present[200] = "";
	unsigned n_del = 0, n_fail = 0, n_present = 0;

	for (size_t i = 0; i < vr->n; i++) {
		struct vpn_link *k = &vr->v[i];

		switch (k->state) {
		case LINK_DELETED:
			n_del++;
			step_list_add(deleted, sizeof(deleted), "%s", k->l.name);
			break;
		case LINK_GONE:
			break;
		case LINK_FAILED:
			n_fail++;
			step_list_add(failed, sizeof(failed), "%s: %s", k->l.name,
				      k->ext[0] ? k->ext : strerror(-k->err));
			break;
		default:
			/* not answered (yet): gone is the worker's doing, most likely */
			if (!if_nametoindex(k->l.name)) {
				n_del++;
				step_list_add(deleted, sizeof(deleted), "%s", k->l.name);
				break;
			}
			n_present++;
			step_list_add(present, sizeof(present), "%s", k->l.name);
			break;
		}
	}
	r->out.changes = n_del;
	if (n_del)
		step_detail(r, "deleted %s%s%s", deleted, n_fail ? "; failed " : "", failed);
	else if (n_fail)
		step_detail(r, "failed %s", failed);
	else
		step_detail(r, "the VPN interfaces were gone already");
	if (n_present)
		step_leftover(r, "%s still present after %llu ms", present,
			      (unsigned long long)step_elapsed_ms(r));
	if (at_deadline && n_present) {
		if (!n_del && !n_fail)
			step_detail(r, "deleting %s did not finish within %u ms", present,
				    r->timeout_ms);
		step_complete(r, NW_STEP_TIMEOUT);
	} else if (n_fail || n_present) {
		if (n_fail && !r->out.leftover[0])
			step_leftover(r, "%s", failed);
		step_complete(r, n_del ? NW_STEP_CHANGED : NW_STEP_FAILED);
	} else {
		step_complete(r, n_del ? NW_STEP_CHANGED : NW_STEP_NOTHING);
	}
}

static void vpn_on_result(struct step_run *r, unsigned op, int err, const char *ext)
{
	struct vpn_run *vr = r->priv;
	struct vpn_link *k = &vr->v[op];

	k->err = err;
	k->state = !err ? LINK_DELETED : err == -ENODEV ? LINK_GONE : LINK_FAILED;
	snprintf(k->ext, sizeof(k->ext), "%s", ext);
}

static void vpn_on_end(struct step_run *r)
{
	vpn_finish(r, false);
}

static void vpn_timeout(struct step_run *r)
{
	vpn_finish(r, true);
}

static int vpn_start(struct step_run *r)
{
	struct vpn_run *vr = calloc(1, sizeof(*vr));
	struct nw_link *links = NULL;
	struct nlw_job *j = NULL;
	char names[400] = "";
	int n, err;

	if (!vr)
		return -ENOMEM;
	r->priv = vr;
	if (!r->cfg.n_vpn_interfaces) {
		step_detail(r, "recovery.vpn_interfaces is empty");
		step_complete(r, NW_STEP_SKIPPED);
		return 0;
	}
	if ((n = step_dump_links(r, keep_vpn, &links)) < 0) {
		step_detail(r, "listing interfaces: %s", strerror(-n));
		return n;
	}
	if (!(vr->v = calloc((size_t)n + 1, sizeof(*vr->v)))) {
		err = -ENOMEM;
		goto cleanup;
	}
	for (int i = 0; i < n; i++) {
		vr->v[i].l = links[i];
		step_list_add(names, sizeof(names), "%s", links[i].name);
	}
	vr->n = (size_t)n;
	if (!n) {
		step_detail(r, "no interface matches recovery.vpn_interfaces");
		step_complete(r, NW_STEP_NOTHING);
		err = 0;
		goto cleanup;
	}
	if (r->dry_run) {
		step_detail(r, "would delete %s", names);
		step_complete(r, NW_STEP_DRY_RUN);
		err = 0;
		goto cleanup;
	}
	/* without the routes (a dump too big to finish in time), remove_stale
	 * will only know the rules naming the deleted interfaces */
	note_owned_tables(r, vr);
	if ((err = nlw_job_new(&j, vr->n)))
		goto cleanup;
	nlw_job_set_delay(j, fault_delay_ms());
	for (size_t i = 0; i < vr->n; i++) {
		char buf[256];

		/* down first: routes and addresses go before the device does */
		if ((err = nlw_job_add(j, i, nlw_link_flags(buf, sizeof(buf), vr->v[i].l.ifindex,
							    0, IFF_UP),
				       NLW_FIRST_BEST_EFFORT | NLW_FAULT_DELAY)) ||
		    (err = nlw_job_add(j, i, nlw_link_del(buf, sizeof(buf), vr->v[i].l.ifindex),
				       0)))
			goto cleanup;
	}
	err = nlw_start(r, j, vpn_on_result, vpn_on_end);
	j = NULL;
cleanup:
	nlw_job_free(j);
	free(links);
	return err;
}

static void vpn_cleanup(struct step_run *r)
{
	struct vpn_run *vr = r->priv;

	if (!vr)
		return;
	free(vr->v);
	free(vr);
}

const struct step_impl nw_step_remove_vpn_impl = {
	.start = vpn_start,
	.timeout = vpn_timeout,
	.cleanup = vpn_cleanup,
};

/* --- remove_stale ----------------------------------------------------------------- */

struct stale_rule {
	struct nw_rule rule;
	char text[160];
	int state;		/* LINK_* reused: pending, deleted, gone, failed */
	int err;
};

struct stale_run {
	/* tables with routes now, per family (index 0 v4, 1 v6) */
	uint32_t used[2][VPN_TABLES_SEEN_MAX];
	size_t n_used[2];
	bool used_overflow[2];
	struct stale_rule v[STALE_RULES_MAX];
	size_t n;
	bool truncated;
};

static int fam_index(uint8_t family)
{
	return family == AF_INET6 ? 1 : 0;
}

static int on_used_route(const struct nlmsghdr *nlh, void *data)
{
	struct stale_run *sr = data;
	const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
	uint32_t table;
	int f;

	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*rtm))
		return 0;
	table = route_table(nlh);
	f = fam_index(rtm->rtm_family);
	for (size_t i = 0; i < sr->n_used[f]; i++)
		if (sr->used[f][i] == table)
			return 0;
	if (sr->n_used[f] == VPN_TABLES_SEEN_MAX) {
		sr->used_overflow[f] = true;
		return 0;
	}
	sr->used[f][sr->n_used[f]++] = table;
	return 0;
}

static bool table_empty(const struct stale_run *sr, uint8_t family, uint32_t table)
{
	int f = fam_index(family);

	if (sr->used_overflow[f])
		return false;	/* cannot tell: keep the rule */
	for (size_t i = 0; i < sr->n_used[f]; i++)
		if (sr->used[f][i] == table)
			return false;
	return true;
}

static bool vpn_table(const struct nw_steps *s, uint32_t table)
{
	for (size_t i = 0; i < s->n_vpn_tables; i++)
		if (s->vpn_tables[i] == table)
			return true;
	return false;
}

/* names a VPN interface that does not exist (any more) */
static bool dead_vpn_name(struct step_run *r, const char *name)
{
	return name[0] && !if_nametoindex(name) && nw_recovery_is_vpn(&r->cfg, name, r->main_if);
}

struct rules_ctx {
	struct step_run *r;
	struct stale_run *sr;
};

static int on_rule(const struct nlmsghdr *nlh, void *data)
{
	struct rules_ctx *c = data;
	struct step_run *r = c->r;
	const struct nw_steps_env *env = &r->s->env;
	struct stale_run *sr = c->sr;
	struct stale_rule *st;
	struct nw_rule rule;
	bool stale;

	if (nw_rule_parse(nlh, &rule))
		return 0;
	if (nw_rule_is_default(&rule) || rule.table == RT_TABLE_LOCAL ||
	    rule.table == RT_TABLE_MAIN || rule.table == RT_TABLE_DEFAULT)
		return 0;
	stale = dead_vpn_name(r, rule.iifname) || dead_vpn_name(r, rule.oifname) ||
		(rule.action == FR_ACT_TO_TBL && rule.table && vpn_table(r->s, rule.table) &&
		 table_empty(sr, rule.family, rule.table));
	if (!stale)
		return 0;
	if (env->rule_protected && env->rule_protected(env->ud, &rule))
		return 0;
	if (sr->n == STALE_RULES_MAX) {
		sr->truncated = true;
		return 0;
	}
	st = &sr->v[sr->n++];
	memset(st, 0, sizeof(*st));
	st->rule = rule;
	nw_rule_str(&rule, st->text, sizeof(st->text));
	return 0;
}

static void stale_list(const struct stale_run *sr, int state, char *buf, size_t size,
		       bool with_err)
{
	for (size_t i = 0; i < sr->n; i++) {
		const struct stale_rule *st = &sr->v[i];

		if (st->state != state)
			continue;
		if (with_err)
			step_list_add(buf, size, "%u: %s (%s)", st->rule.priority, st->text,
				      strerror(-st->err));
		else
			step_list_add(buf, size, "%u: %s", st->rule.priority, st->text);
	}
}

static void stale_finish(struct step_run *r, bool at_deadline)
{
	struct stale_run *sr = r->priv;
	char done[400] = "", failed[200] = "", pending[200] = "";
	unsigned n_del = 0, n_fail = 0, n_pending = 0;

	for (size_t i = 0; i < sr->n; i++) {
		n_del += sr->v[i].state == LINK_DELETED;
		n_fail += sr->v[i].state == LINK_FAILED;
		n_pending += sr->v[i].state == LINK_PENDING;
	}
	stale_list(sr, LINK_DELETED, done, sizeof(done), false);
	stale_list(sr, LINK_FAILED, failed, sizeof(failed), true);
	stale_list(sr, LINK_PENDING, pending, sizeof(pending), false);
	r->out.changes = n_del;
	if (n_del)
		step_detail(r, "deleted %u stale rule%s: %s", n_del, n_del == 1 ? "" : "s", done);
	else
		step_detail(r, "no stale rule deleted");
	if (n_pending && at_deadline) {
		step_leftover(r, "not deleted within %u ms: %s", r->timeout_ms, pending);
		step_complete(r, NW_STEP_TIMEOUT);
		return;
	}
	if (n_fail || n_pending) {
		step_leftover(r, "%s%s%s", failed, n_fail && n_pending ? ", " : "", pending);
		step_complete(r, n_del ? NW_STEP_CHANGED : NW_STEP_FAILED);
		return;
	}
	step_complete(r, n_del ? NW_STEP_CHANGED : NW_STEP_NOTHING);
}

static void stale_on_result(struct step_run *r, unsigned op, int err, const char *ext)
{
	struct stale_run *sr = r->priv;
	struct stale_rule *st = &sr->v[op];

	(void)ext;
	st->err = err;
	st->state = !err ? LINK_DELETED : err == -ENOENT ? LINK_GONE : LINK_FAILED;
}

static void stale_on_end(struct step_run *r)
{
	stale_finish(r, false);
}

static void stale_timeout(struct step_run *r)
{
	stale_finish(r, true);
}

static int stale_start(struct step_run *r)
{
	static const uint8_t fams[] = { AF_INET, AF_INET6 };
	struct stale_run *sr = calloc(1, sizeof(*sr));
	struct rules_ctx c = { .r = r, .sr = sr };
	struct nlw_job *j = NULL;
	char names[400] = "";
	int err = 0;

	if (!sr)
		return -ENOMEM;
	r->priv = sr;
	for (size_t f = 0; f < 2; f++) {
		err = nw_rtnl_dump_routes(r->s->nl, fams[f], 0, step_dump_ms(r), on_used_route, sr);
		if (err == -EINTR)
			err = nw_rtnl_dump_routes(r->s->nl, fams[f], 0, step_dump_ms(r),
						  on_used_route, sr);
		if (err) {
			step_detail(r, "listing routes: %s", strerror(-err));
			return err;
		}
	}
	for (size_t f = 0; f < 2; f++) {
		size_t before = sr->n;

		err = nw_rtnl_dump_rules(r->s->nl, fams[f], step_dump_ms(r), on_rule, &c);
		if (err == -EINTR) {
			sr->n = before;
			err = nw_rtnl_dump_rules(r->s->nl, fams[f], step_dump_ms(r), on_rule, &c);
		}
		if (err == -EAFNOSUPPORT && fams[f] == AF_INET6)
			err = 0;	/* no IPv6 */
		if (err) {
			step_detail(r, "listing rules: %s", strerror(-err));
			return err;
		}
	}
	if (!sr->n) {
		step_detail(r, "no stale rule");
		step_complete(r, NW_STEP_NOTHING);
		return 0;
	}
	for (size_t i = 0; i < sr->n; i++)
		step_list_add(names, sizeof(names), "%u: %s", sr->v[i].rule.priority,
			      sr->v[i].text);
	if (r->dry_run) {
		step_detail(r, "would delete rule%s %s", sr->n == 1 ? "" : "s", names);
		step_complete(r, NW_STEP_DRY_RUN);
		return 0;
	}
	if ((err = nlw_job_new(&j, sr->n)))
		return err;
	for (size_t i = 0; i < sr->n; i++) {
		char buf[NW_RTNL_MSG_MAX];

		if ((err = nlw_job_add(j, i, nw_rule_build(&sr->v[i].rule, buf, sizeof(buf),
							   RTM_DELRULE, 0, 0), 0))) {
			nlw_job_free(j);
			return err;
		}
	}
	return nlw_start(r, j, stale_on_result, stale_on_end);
}

static void stale_cleanup(struct step_run *r)
{
	free(r->priv);
}

const struct step_impl nw_step_remove_stale_impl = {
	.start = stale_start,
	.timeout = stale_timeout,
	.cleanup = stale_cleanup,
};
