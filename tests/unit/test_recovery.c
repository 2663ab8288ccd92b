// SPDX-License-Identifier: GPL-2.0-only
/* Unit tests for the recovery ladder and the verdict (user/recovery.c), the
 * saved resolv.conf (user/resolvconf.c) and the reboot budget
 * (user/reboot_guard.c). Files live in a fresh mkdtemp directory under
 * /tmp per test, never in /etc. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "reboot_guard.h"
#include "recovery.h"
#include "resolvconf.h"
#include "util.h"

#define TMPDIR_TEMPLATE "/tmp/nw-test-recovery.XXXXXX"
#include "tmpdir.h"

/* --- names ------------------------------------------------------------- */

static void test_step_names(void **state)
{
	static const char *const names[] = {
		"restore_routes", "flush_neighbour", "restore_dns", "remove_vpn_interfaces",
		"remove_stale", "bounce_interface", "renew_dhcp", "kill_wildcard_owner", "reboot",
	};
	static const unsigned levels[] = { 1, 1, 1, 2, 2, 3, 3, 3, 4 };
	(void)state;

	assert_int_equal(NW_ARRAY_SIZE(names), NW_STEP__MAX);
	for (unsigned i = 0; i < NW_STEP__MAX; i++) {
		assert_string_equal(nw_step_name(i), names[i]);
		assert_int_equal(nw_step_parse(names[i]), (int)i);
		assert_int_equal(nw_step_level(i), levels[i]);
	}
	assert_string_equal(nw_step_name(NW_STEP__MAX), "?");
	assert_string_equal(nw_step_name(1000), "?");
	assert_int_equal(nw_step_parse("Reboot"), -EINVAL);
	assert_int_equal(nw_step_parse(""), -EINVAL);
	assert_int_equal(nw_step_parse("restore_route"), -EINVAL);
	assert_int_equal(nw_step_parse(NULL), -EINVAL);
	/* levels never go down along the enum */
	for (unsigned i = 1; i < NW_STEP__MAX; i++)
		assert_true(nw_step_level(i) >= nw_step_level(i - 1));
}

static void test_result_names(void **state)
{
	(void)state;
	assert_string_equal(nw_step_result_name(NW_STEP_CHANGED), "changed");
	assert_string_equal(nw_step_result_name(NW_STEP_NOTHING), "nothing_to_do");
	assert_string_equal(nw_step_result_name(NW_STEP_FAILED), "failed");
	assert_string_equal(nw_step_result_name(NW_STEP_TIMEOUT), "timeout");
	assert_string_equal(nw_step_result_name(NW_STEP_SKIPPED), "skipped");
	assert_string_equal(nw_step_result_name(NW_STEP_DRY_RUN), "dry_run");
	assert_string_equal(nw_step_result_name(NW_STEP_DRY_RUN + 1), "?");
}

/* --- config ------------------------------------------------------------ */

static void test_cfg_defaults(void **state)
{
	struct nw_recovery_cfg c;
	(void)state;

	memset(&c, 0x5a, sizeof(c));
	nw_recovery_cfg_defaults(&c);
	assert_false(c.enabled);
	assert_int_equal(c.fail_threshold, 3);
	assert_int_equal(c.emergency_threshold, 5);
	assert_false(c.require_all);
	assert_string_equal(c.main_interface, "");
	assert_int_equal(c.n_vpn_interfaces, 0);
	for (unsigned i = 0; i < NW_RECOVERY_PATTERNS_MAX; i++)
		assert_null(c.vpn_interfaces[i]);
	for (unsigned i = 0; i < NW_STEP__MAX; i++)
		assert_int_equal(c.steps[i],
				 i != NW_STEP_KILL_WILDCARD_OWNER && i != NW_STEP_REBOOT);
	assert_int_equal(c.step_timeout_ms, 5000);
	assert_int_equal(c.reboot_after, 3);
	assert_int_equal(c.max_reboots, 1);
	assert_null(c.resolv_conf);
	assert_null(c.dhcp_command[0]);
	nw_recovery_cfg_free(&c);
}

static void fill_cfg(struct nw_recovery_cfg *c)
{
	nw_recovery_cfg_defaults(c);
	c->enabled = true;
	c->fail_threshold = 2;
	c->emergency_threshold = 7;
	c->require_all = true;
	strcpy(c->main_interface, "eth0");
	c->vpn_interfaces[0] = strdup("wg*");
	c->vpn_interfaces[1] = strdup("tun[0-9]");
	c->n_vpn_interfaces = 2;
	c->steps[NW_STEP_REBOOT] = true;
	c->resolv_conf = strdup("/tmp/resolv.conf");
	c->dhcp_command[0] = strdup("dhclient");
	c->dhcp_command[1] = strdup("-1");
	c->dhcp_command[2] = strdup("{iface}");
	assert_non_null(c->vpn_interfaces[0]);
	assert_non_null(c->vpn_interfaces[1]);
	assert_non_null(c->resolv_conf);
	assert_non_null(c->dhcp_command[2]);
}

static void test_cfg_copy_free(void **state)
{
	struct nw_recovery_cfg a, b;
	(void)state;

	fill_cfg(&a);
	memset(&b, 0x5a, sizeof(b));	/* dst need not be initialized */
	assert_int_equal(nw_recovery_cfg_copy(&b, &a), 0);
	assert_true(b.enabled);
	assert_int_equal(b.fail_threshold, 2);
	assert_int_equal(b.emergency_threshold, 7);
	assert_true(b.require_all);
	assert_string_equal(b.main_interface, "eth0");
	assert_int_equal(b.n_vpn_interfaces, 2);
	assert_true(b.steps[NW_STEP_REBOOT]);
	/* deep: other pointers, same strings */
	assert_ptr_not_equal(b.vpn_interfaces[0], a.vpn_interfaces[0]);
	assert_string_equal(b.vpn_interfaces[0], "wg*");
	assert_string_equal(b.vpn_interfaces[1], "tun[0-9]");
	assert_null(b.vpn_interfaces[2]);
	assert_ptr_not_equal(b.resolv_conf, a.resolv_conf);
	assert_string_equal(b.resolv_conf, "/tmp/resolv.conf");
	assert_ptr_not_equal(b.dhcp_command[0], a.dhcp_command[0]);
	assert_string_equal(b.dhcp_command[0], "dhclient");
	assert_string_equal(b.dhcp_command[1], "-1");
	assert_string_equal(b.dhcp_command[2], "{iface}");
	assert_null(b.dhcp_command[3]);

	/* freeing the source leaves the copy intact (ASan would catch a share) */
	nw_recovery_cfg_free(&a);
	assert_null(a.resolv_conf);
	assert_null(a.vpn_interfaces[0]);
	assert_null(a.dhcp_command[0]);
	assert_int_equal(a.n_vpn_interfaces, 0);
	assert_false(a.enabled);
	assert_string_equal(b.vpn_interfaces[0], "wg*");
	assert_string_equal(b.dhcp_command[2], "{iface}");
	nw_recovery_cfg_free(&b);
	nw_recovery_cfg_free(&b);	/* twice is harmless: it was zeroed */
	nw_recovery_cfg_free(NULL);
}

static void test_cfg_copy_full_argv(void **state)
{
	struct nw_recovery_cfg a, b;
	char arg[8];
	(void)state;

	nw_recovery_cfg_defaults(&a);
	for (unsigned i = 0; i < NW_RECOVERY_ARGV_MAX; i++) {
		snprintf(arg, sizeof(arg), "a%u", i);
		a.dhcp_command[i] = strdup(arg);
	}
	for (unsigned i = 0; i < NW_RECOVERY_PATTERNS_MAX; i++) {
		snprintf(arg, sizeof(arg), "p%u*", i);
		a.vpn_interfaces[i] = strdup(arg);
	}
	a.n_vpn_interfaces = NW_RECOVERY_PATTERNS_MAX;
	assert_int_equal(nw_recovery_cfg_copy(&b, &a), 0);
	assert_string_equal(b.dhcp_command[NW_RECOVERY_ARGV_MAX - 1], "a15");
	assert_null(b.dhcp_command[NW_RECOVERY_ARGV_MAX]);
	assert_string_equal(b.vpn_interfaces[NW_RECOVERY_PATTERNS_MAX - 1], "p31*");
	assert_true(nw_recovery_is_vpn(&b, "p31x", "eth0"));
	nw_recovery_cfg_free(&a);
	nw_recovery_cfg_free(&b);
}

static void test_is_vpn(void **state)
{
	struct nw_recovery_cfg c;
	(void)state;

	nw_recovery_cfg_defaults(&c);
	assert_false(nw_recovery_is_vpn(&c, "wg0", ""));	/* no patterns */
	c.vpn_interfaces[0] = strdup("wg*");
	c.vpn_interfaces[1] = strdup("tun[0-9]");
	c.vpn_interfaces[2] = strdup("*");
	c.n_vpn_interfaces = 2;		/* the third is not in use */
	assert_true(nw_recovery_is_vpn(&c, "wg0", ""));
	assert_true(nw_recovery_is_vpn(&c, "wg-worker-1", "eth0"));
	assert_true(nw_recovery_is_vpn(&c, "tun3", "eth0"));
	assert_false(nw_recovery_is_vpn(&c, "tun10", "eth0"));
	assert_false(nw_recovery_is_vpn(&c, "eth0", "eth0"));
	assert_false(nw_recovery_is_vpn(&c, "xwg0", ""));
	assert_false(nw_recovery_is_vpn(&c, "", ""));
	assert_false(nw_recovery_is_vpn(&c, NULL, ""));
	/* the main interface is never one, even when a pattern matches it */
	assert_false(nw_recovery_is_vpn(&c, "wg0", "wg0"));
	assert_true(nw_recovery_is_vpn(&c, "wg0", NULL));
	strcpy(c.main_interface, "wg1");
	assert_false(nw_recovery_is_vpn(&c, "wg1", ""));
	assert_true(nw_recovery_is_vpn(&c, "wg0", ""));
	/* nor lo */
	c.n_vpn_interfaces = 3;
	assert_true(nw_recovery_is_vpn(&c, "eth1", "eth0"));
	assert_false(nw_recovery_is_vpn(&c, "lo", "eth0"));
	assert_false(nw_recovery_is_vpn(&c, "eth0", "eth0"));
	nw_recovery_cfg_free(&c);
}

/* --- verdict ----------------------------------------------------------- */

struct probes {
	struct nw_probe_cfg cfg[8];
	struct nw_probe_state st[8];
	const struct nw_probe_state *ptr[8];
	size_t n;
};

/* state: 'u' up, 'd' down, '?' no result yet */
static void add_probe(struct probes *p, uint8_t role, char state, uint32_t consec_fail)
{
	size_t i = p->n++;

	memset(&p->cfg[i], 0, sizeof(p->cfg[i]));
	memset(&p->st[i], 0, sizeof(p->st[i]));
	snprintf(p->cfg[i].name, sizeof(p->cfg[i].name), "p%zu", i);
	p->cfg[i].role = role;
	p->st[i].known = state != '?';
	p->st[i].up = state == 'u';
	p->st[i].consec_fail = consec_fail;
	p->ptr[i] = &p->st[i];
}

static void verdict(struct probes *p, bool all, struct nw_verdict *v)
{
	memset(v, 0x5a, sizeof(*v));
	nw_verdict_compute(p->cfg, p->ptr, p->n, all, v);
}

static void test_verdict_any(void **state)
{
	struct probes p = { .n = 0 };
	struct nw_verdict v;
	(void)state;

	add_probe(&p, NW_ROLE_INTERNET, 'd', 4);
	add_probe(&p, NW_ROLE_INTERNET, 'd', 2);
	add_probe(&p, NW_ROLE_INTERNET, '?', 0);
	add_probe(&p, NW_ROLE_GATEWAY, 'u', 0);
	verdict(&p, false, &v);
	assert_int_equal(v.connected, 0);
	assert_int_equal(v.failures, 2);	/* the smallest */
	assert_int_equal(v.gateway, 1);
	assert_int_equal(v.probes_up, 0);
	assert_int_equal(v.probes_down, 2);

	/* one internet probe passing is enough */
	p.st[1].up = true;
	p.st[1].consec_fail = 0;
	verdict(&p, false, &v);
	assert_int_equal(v.connected, 1);
	assert_int_equal(v.failures, 0);
	assert_int_equal(v.probes_up, 1);
	assert_int_equal(v.probes_down, 1);

	/* a gateway probe passing does not make it connected */
	p.st[1].up = false;
	p.st[1].consec_fail = 9;
	verdict(&p, false, &v);
	assert_int_equal(v.connected, 0);
	assert_int_equal(v.failures, 4);
	assert_int_equal(v.gateway, 1);
}

static void test_verdict_all(void **state)
{
	struct probes p = { .n = 0 };
	struct nw_verdict v;
	(void)state;

	add_probe(&p, NW_ROLE_INTERNET, 'u', 0);
	add_probe(&p, NW_ROLE_INTERNET, 'd', 3);
	add_probe(&p, NW_ROLE_INTERNET, 'd', 6);
	add_probe(&p, NW_ROLE_INTERNET, '?', 0);
	add_probe(&p, NW_ROLE_GATEWAY, 'd', 8);
	verdict(&p, true, &v);
	assert_int_equal(v.connected, 0);
	assert_int_equal(v.failures, 6);	/* the largest among the down ones */
	assert_int_equal(v.gateway, 0);
	assert_int_equal(v.probes_up, 1);
	assert_int_equal(v.probes_down, 2);

	/* the same probes under "any" are connected */
	verdict(&p, false, &v);
	assert_int_equal(v.connected, 1);
	assert_int_equal(v.failures, 0);

	/* every known one up: connected, the unknown one does not matter */
	p.st[1].up = p.st[2].up = true;
	p.st[1].consec_fail = p.st[2].consec_fail = 0;
	verdict(&p, true, &v);
	assert_int_equal(v.connected, 1);
	assert_int_equal(v.failures, 0);
	assert_int_equal(v.probes_up, 3);
	assert_int_equal(v.probes_down, 0);
}

static void test_verdict_gateway_only(void **state)
{
	struct probes p = { .n = 0 };
	struct nw_verdict v;
	(void)state;

	/* no internet probe at all: the gateway probes decide */
	add_probe(&p, NW_ROLE_GATEWAY, 'd', 5);
	add_probe(&p, NW_ROLE_GATEWAY, 'd', 2);
	verdict(&p, false, &v);
	assert_int_equal(v.connected, 0);
	assert_int_equal(v.failures, 2);
	assert_int_equal(v.gateway, 0);
	assert_int_equal(v.probes_down, 2);
	verdict(&p, true, &v);
	assert_int_equal(v.failures, 5);

	p.st[0].up = true;
	p.st[0].consec_fail = 0;
	verdict(&p, false, &v);
	assert_int_equal(v.connected, 1);
	assert_int_equal(v.gateway, 1);
	verdict(&p, true, &v);
	assert_int_equal(v.connected, 0);
	assert_int_equal(v.failures, 2);

	/* an internet probe without a result still takes the decision away
	 * from the gateway probes */
	add_probe(&p, NW_ROLE_INTERNET, '?', 0);
	verdict(&p, false, &v);
	assert_int_equal(v.connected, -1);
	assert_int_equal(v.failures, 0);
	assert_int_equal(v.gateway, 1);
	assert_int_equal(v.probes_up, 0);
	assert_int_equal(v.probes_down, 0);
}

static void test_verdict_unknown(void **state)
{
	struct probes p = { .n = 0 };
	struct nw_verdict v;
	(void)state;

	verdict(&p, false, &v);		/* no probe at all */
	assert_int_equal(v.connected, -1);
	assert_int_equal(v.gateway, -1);
	assert_int_equal(v.failures, 0);

	add_probe(&p, NW_ROLE_INTERNET, '?', 0);
	add_probe(&p, NW_ROLE_GATEWAY, '?', 0);
	verdict(&p, true, &v);
	assert_int_equal(v.connected, -1);
	assert_int_equal(v.gateway, -1);
	assert_int_equal(v.probes_up + v.probes_down, 0);

	/* a NULL state is a probe without a result */
	p.ptr[0] = NULL;
	p.st[1].known = true;
	verdict(&p, false, &v);
	assert_int_equal(v.connected, -1);
	assert_int_equal(v.gateway, 0);
}

/* --- ladder ------------------------------------------------------------ */

struct lad {
	struct nw_recovery_cfg cfg;
	struct nw_ladder l;
	uint64_t now;
};

static int lad_setup(void **state)
{
	struct lad *t = calloc(1, sizeof(*t));

	if (!t)
		return -1;
	nw_recovery_cfg_defaults(&t->cfg);
	t->cfg.enabled = true;
	nw_ladder_init(&t->l, &t->cfg);
	t->now = 1000;
	*state = t;
	return 0;
}

static int lad_teardown(void **state)
{
	struct lad *t = *state;

	nw_recovery_cfg_free(&t->cfg);
	free(t);
	return 0;
}

static struct nw_verdict V(int connected, uint32_t failures, int gateway)
{
	struct nw_verdict v = {
		.connected = connected, .failures = connected == 1 ? 0 : failures,
		.gateway = gateway,
	};

	return v;
}

/* a verdict; checks the step returned and the event */
static void feed(struct lad *t, int connected, uint32_t failures, int gateway,
		 int want_step, enum nw_ladder_event want_ev)
{
	struct nw_verdict v = V(connected, failures, gateway);
	enum nw_ladder_event ev = 0x5a;
	int r;

	t->now += 1000;
	r = nw_ladder_verdict(&t->l, &v, t->now, &ev);
	assert_int_equal(r, want_step);
	assert_int_equal(ev, want_ev);
	if (r >= 0) {
		assert_true(t->l.busy);
		assert_int_equal(t->l.running, r);
	}
}

/* the running step finished with res */
static void done(struct lad *t, unsigned step, enum nw_step_result res, uint32_t failures,
		 int gateway, int want_step, bool want_reprobe, enum nw_ladder_event want_ev)
{
	struct nw_verdict v = V(0, failures, gateway);
	enum nw_ladder_event ev = 0x5a;
	bool reprobe = !want_reprobe;
	int r;

	r = nw_ladder_step_done(&t->l, step, res, &v, &reprobe, &ev);
	assert_int_equal(r, want_step);
	assert_int_equal(reprobe, want_reprobe);
	assert_int_equal(ev, want_ev);
	if (r >= 0 || want_reprobe)
		assert_true(t->l.busy);
	else
		assert_false(t->l.busy);
	if (r < 0)
		assert_int_equal(t->l.running, -1);
	else
		assert_int_equal(t->l.running, r);
}

static void reprobed(struct lad *t, int connected, uint32_t failures, int gateway,
		     int want_step, enum nw_ladder_event want_ev)
{
	struct nw_verdict v = V(connected, failures, gateway);
	enum nw_ladder_event ev = 0x5a;
	int r;

	t->now += 1000;
	r = nw_ladder_reprobed(&t->l, &v, t->now, &ev);
	assert_int_equal(r, want_step);
	assert_int_equal(ev, want_ev);
	assert_false(t->l.reprobing);
	assert_int_equal(t->l.busy, r >= 0);
}

/* every step of the attempt ends with "nothing to do"; failures stays at f */
static void run_l1_l2(struct lad *t, uint32_t f, int gw)
{
	static const unsigned order[] = {
		NW_STEP_RESTORE_ROUTES, NW_STEP_FLUSH_NEIGHBOUR, NW_STEP_RESTORE_DNS,
		NW_STEP_REMOVE_VPN_INTERFACES, NW_STEP_REMOVE_STALE,
	};

	for (size_t i = 0; i + 1 < NW_ARRAY_SIZE(order); i++)
		done(t, order[i], NW_STEP_NOTHING, f, gw, (int)order[i + 1], false,
		     NW_LADDER_NONE);
}

static void assert_reset(const struct nw_ladder *l)
{
	assert_false(l->down);
	assert_int_equal(l->cursor, 0);
	assert_int_equal(l->level, 0);
	assert_int_equal(l->attempt, 0);
	assert_int_equal(l->failed_attempts, 0);
	assert_int_equal(l->base, 0);
	assert_false(l->upstream);
}

static void test_ladder_init(void **state)
{
	struct lad *t = *state;

	assert_ptr_equal(t->l.cfg, &t->cfg);
	assert_int_equal(t->l.running, -1);
	assert_false(t->l.down);
	assert_false(t->l.busy);
	assert_reset(&t->l);
	/* connected and unknown verdicts while up: nothing */
	feed(t, 1, 0, 1, -1, NW_LADDER_NONE);
	feed(t, -1, 0, -1, -1, NW_LADDER_NONE);
	assert_int_equal(t->l.losses, 0);
}

static void test_ladder_below_threshold(void **state)
{
	struct lad *t = *state;

	feed(t, 0, 1, 0, -1, NW_LADDER_LOST);
	assert_true(t->l.down);
	assert_int_equal(t->l.down_since_ns, t->now);
	assert_int_equal(t->l.losses, 1);
	feed(t, 0, 2, 0, -1, NW_LADDER_NONE);
	feed(t, -1, 0, -1, -1, NW_LADDER_NONE);	/* unknown: nothing, still down */
	assert_true(t->l.down);
	assert_int_equal(t->l.attempt, 0);
	assert_int_equal(t->l.steps_run, 0);
	assert_int_equal(t->l.losses, 1);
	/* back without any step: restored, but not a recovery of ours */
	feed(t, 1, 0, 1, -1, NW_LADDER_RESTORED);
	assert_int_equal(t->l.recoveries, 0);
	assert_reset(&t->l);
}

static void test_ladder_l1_in_order(void **state)
{
	struct lad *t = *state;

	t->cfg.steps[NW_STEP_FLUSH_NEIGHBOUR] = false;
	feed(t, 0, 1, 0, -1, NW_LADDER_LOST);
	feed(t, 0, 2, 0, -1, NW_LADDER_NONE);
	feed(t, 0, 3, 0, NW_STEP_RESTORE_ROUTES, NW_LADDER_NONE);
	assert_int_equal(t->l.attempt, 1);
	assert_int_equal(t->l.level, 1);
	assert_int_equal(t->l.steps_run, 1);
	/* never a step while one runs */
	feed(t, 0, 4, 0, -1, NW_LADDER_NONE);
	assert_int_equal(t->l.running, NW_STEP_RESTORE_ROUTES);
	/* flush_neighbour is off: skipped */
	done(t, NW_STEP_RESTORE_ROUTES, NW_STEP_NOTHING, 4, 0, NW_STEP_RESTORE_DNS, false,
	     NW_LADDER_NONE);
	/* L2 follows at once, below emergency_threshold */
	done(t, NW_STEP_RESTORE_DNS, NW_STEP_FAILED, 4, 0, NW_STEP_REMOVE_VPN_INTERFACES,
	     false, NW_LADDER_NONE);
	assert_int_equal(t->l.level, 2);
	done(t, NW_STEP_REMOVE_VPN_INTERFACES, NW_STEP_SKIPPED, 4, 0, NW_STEP_REMOVE_STALE,
	     false, NW_LADDER_NONE);
	/* L3 waits for emergency_threshold */
	done(t, NW_STEP_REMOVE_STALE, NW_STEP_TIMEOUT, 4, 0, -1, false, NW_LADDER_NONE);
	assert_int_equal(t->l.cursor, NW_STEP_BOUNCE_INTERFACE);
	assert_int_equal(t->l.steps_run, 4);
	feed(t, 0, 4, 0, -1, NW_LADDER_NONE);
	feed(t, 0, 5, 0, NW_STEP_BOUNCE_INTERFACE, NW_LADDER_NONE);
	assert_int_equal(t->l.level, 3);
	assert_int_equal(t->l.attempt, 1);
}

static void test_ladder_lost_wins(void **state)
{
	struct lad *t = *state;

	/* the first down verdict already at the threshold: LOST reported,
	 * the step still returned */
	feed(t, 0, 3, 0, NW_STEP_RESTORE_ROUTES, NW_LADDER_LOST);
	assert_int_equal(t->l.losses, 1);
	assert_int_equal(t->l.steps_run, 1);
}

static void test_ladder_changed_reprobe_restored(void **state)
{
	struct lad *t = *state;

	feed(t, 0, 3, 0, NW_STEP_RESTORE_ROUTES, NW_LADDER_LOST);
	done(t, NW_STEP_RESTORE_ROUTES, NW_STEP_CHANGED, 3, 0, -1, true, NW_LADDER_NONE);
	assert_true(t->l.reprobing);
	assert_true(t->l.busy);
	assert_int_equal(t->l.running, -1);
	assert_int_equal(t->l.cursor, NW_STEP_FLUSH_NEIGHBOUR);
	/* regular verdicts while the re-probe is pending start nothing */
	feed(t, 0, 4, 0, -1, NW_LADDER_NONE);
	reprobed(t, 1, 0, 1, -1, NW_LADDER_RESTORED);
	assert_reset(&t->l);
	assert_false(t->l.busy);
	assert_int_equal(t->l.recoveries, 1);
	assert_int_equal(t->l.steps_run, 1);
	/* a later loss starts from scratch */
	feed(t, 0, 1, 0, -1, NW_LADDER_LOST);
	feed(t, 0, 3, 0, NW_STEP_RESTORE_ROUTES, NW_LADDER_NONE);
	assert_int_equal(t->l.attempt, 1);
	assert_int_equal(t->l.losses, 2);
}

static void test_ladder_changed_still_down(void **state)
{
	struct lad *t = *state;

	feed(t, 0, 3, 0, NW_STEP_RESTORE_ROUTES, NW_LADDER_LOST);
	done(t, NW_STEP_RESTORE_ROUTES, NW_STEP_CHANGED, 3, 0, -1, true, NW_LADDER_NONE);
	reprobed(t, 0, 4, 0, NW_STEP_FLUSH_NEIGHBOUR, NW_LADDER_NONE);
	done(t, NW_STEP_FLUSH_NEIGHBOUR, NW_STEP_DRY_RUN, 4, 0, NW_STEP_RESTORE_DNS, false,
	     NW_LADDER_NONE);
	/* an unknown re-probe verdict: wait for the next one */
	done(t, NW_STEP_RESTORE_DNS, NW_STEP_CHANGED, 4, 0, -1, true, NW_LADDER_NONE);
	reprobed(t, -1, 0, -1, -1, NW_LADDER_NONE);
	feed(t, 0, 4, 0, NW_STEP_REMOVE_VPN_INTERFACES, NW_LADDER_NONE);
	/* restored by the next regular verdict after a changed step */
	done(t, NW_STEP_REMOVE_VPN_INTERFACES, NW_STEP_NOTHING, 4, 0, NW_STEP_REMOVE_STALE,
	     false, NW_LADDER_NONE);
	done(t, NW_STEP_REMOVE_STALE, NW_STEP_NOTHING, 4, 0, -1, false, NW_LADDER_NONE);
	feed(t, 1, 0, 0, -1, NW_LADDER_RESTORED);
	assert_int_equal(t->l.recoveries, 1);
	assert_reset(&t->l);
}

/* interfaces removed: their stale rules go too before the re-probe */
static void test_ladder_vpn_then_stale_then_reprobe(void **state)
{
	struct lad *t = *state;

	feed(t, 0, 3, 1, NW_STEP_RESTORE_ROUTES, NW_LADDER_LOST);
	done(t, NW_STEP_RESTORE_ROUTES, NW_STEP_NOTHING, 3, 1, NW_STEP_FLUSH_NEIGHBOUR, false,
	     NW_LADDER_NONE);
	done(t, NW_STEP_FLUSH_NEIGHBOUR, NW_STEP_NOTHING, 3, 1, NW_STEP_RESTORE_DNS, false,
	     NW_LADDER_NONE);
	done(t, NW_STEP_RESTORE_DNS, NW_STEP_NOTHING, 3, 1, NW_STEP_REMOVE_VPN_INTERFACES, false,
	     NW_LADDER_NONE);
	done(t, NW_STEP_REMOVE_VPN_INTERFACES, NW_STEP_CHANGED, 3, 1, NW_STEP_REMOVE_STALE, false,
	     NW_LADDER_NONE);
	/* remove_stale found nothing: the re-probe is still owed */
	done(t, NW_STEP_REMOVE_STALE, NW_STEP_NOTHING, 3, 1, -1, true, NW_LADDER_NONE);
	reprobed(t, 1, 0, 1, -1, NW_LADDER_RESTORED);
	assert_reset(&t->l);
	assert_false(t->l.changed_before);
}

/* connectivity came back while the interfaces went: their rules go too */
static void test_ladder_stale_cleanup_after_restore(void **state)
{
	struct lad *t = *state;

	feed(t, 0, 3, 1, NW_STEP_RESTORE_ROUTES, NW_LADDER_LOST);
	run_l1_l2(t, 3, 1);
	assert_int_equal(t->l.running, NW_STEP_REMOVE_STALE);
	/* back to the interfaces step: rerun the scenario up to it */
	t->l.running = NW_STEP_REMOVE_VPN_INTERFACES;
	t->l.cursor = NW_STEP_REMOVE_VPN_INTERFACES;
	feed(t, 1, 0, 1, -1, NW_LADDER_RESTORED);
	done(t, NW_STEP_REMOVE_VPN_INTERFACES, NW_STEP_CHANGED, 0, 1, NW_STEP_REMOVE_STALE, false,
	     NW_LADDER_NONE);
	done(t, NW_STEP_REMOVE_STALE, NW_STEP_CHANGED, 0, 1, -1, false, NW_LADDER_NONE);
	assert_reset(&t->l);
}

static void test_ladder_wait_emergency(void **state)
{
	struct lad *t = *state;

	feed(t, 0, 3, -1, NW_STEP_RESTORE_ROUTES, NW_LADDER_LOST);
	run_l1_l2(t, 3, -1);
	done(t, NW_STEP_REMOVE_STALE, NW_STEP_NOTHING, 3, -1, -1, false, NW_LADDER_NONE);
	for (uint32_t f = 3; f < 5; f++)
		feed(t, 0, f, -1, -1, NW_LADDER_NONE);
	assert_int_equal(t->l.steps_run, 5);
	/* no gateway probe (-1): L3 runs */
	feed(t, 0, 5, -1, NW_STEP_BOUNCE_INTERFACE, NW_LADDER_NONE);
}

static void test_ladder_upstream(void **state)
{
	struct lad *t = *state;

	feed(t, 0, 5, 1, NW_STEP_RESTORE_ROUTES, NW_LADDER_LOST);
	run_l1_l2(t, 5, 1);
	/* the gateway answers: L3 held, reported once */
	done(t, NW_STEP_REMOVE_STALE, NW_STEP_NOTHING, 5, 1, -1, false, NW_LADDER_UPSTREAM);
	assert_true(t->l.upstream);
	assert_int_equal(t->l.cursor, NW_STEP_BOUNCE_INTERFACE);
	for (uint32_t f = 6; f < 200; f++)
		feed(t, 0, f, 1, -1, NW_LADDER_NONE);
	assert_int_equal(t->l.failed_attempts, 0);
	assert_int_equal(t->l.attempt, 1);
	assert_int_equal(t->l.steps_run, 5);
	/* the gateway goes silent: the link itself is broken now */
	feed(t, 0, 200, 0, NW_STEP_BOUNCE_INTERFACE, NW_LADDER_NONE);
	assert_int_equal(t->l.level, 3);
}

static void test_ladder_upstream_below_emergency(void **state)
{
	struct lad *t = *state;

	/* below emergency_threshold the gateway does not matter yet */
	feed(t, 0, 3, 1, NW_STEP_RESTORE_ROUTES, NW_LADDER_LOST);
	run_l1_l2(t, 3, 1);
	done(t, NW_STEP_REMOVE_STALE, NW_STEP_NOTHING, 3, 1, -1, false, NW_LADDER_NONE);
	assert_false(t->l.upstream);
	feed(t, 0, 4, 1, -1, NW_LADDER_NONE);
	feed(t, 0, 5, 1, -1, NW_LADDER_UPSTREAM);
	feed(t, 0, 6, 1, -1, NW_LADDER_NONE);
}

/* L3 of an attempt, every step "nothing to do"; the last one ends the attempt */
static void run_l3(struct lad *t, uint32_t f, int want_after, enum nw_ladder_event want_ev)
{
	done(t, NW_STEP_BOUNCE_INTERFACE, NW_STEP_NOTHING, f, 0, NW_STEP_RENEW_DHCP, false,
	     NW_LADDER_NONE);
	done(t, NW_STEP_RENEW_DHCP, NW_STEP_FAILED, f, 0, want_after, false, want_ev);
}

static void test_ladder_attempt_failed(void **state)
{
	struct lad *t = *state;

	feed(t, 0, 5, 0, NW_STEP_RESTORE_ROUTES, NW_LADDER_LOST);
	run_l1_l2(t, 5, 0);
	done(t, NW_STEP_REMOVE_STALE, NW_STEP_NOTHING, 5, 0, NW_STEP_BOUNCE_INTERFACE, false,
	     NW_LADDER_NONE);
	/* kill_wildcard_owner and reboot are off by default */
	run_l3(t, 6, -1, NW_LADDER_ATTEMPT_FAILED);
	assert_int_equal(t->l.failed_attempts, 1);
	assert_int_equal(t->l.attempt, 1);
	assert_int_equal(t->l.cursor, 0);
	assert_int_equal(t->l.level, 0);
	assert_int_equal(t->l.base, 6);
	assert_true(t->l.down);
	/* the next attempt needs fail_threshold more failures from here */
	feed(t, 0, 7, 0, -1, NW_LADDER_NONE);
	feed(t, 0, 8, 0, -1, NW_LADDER_NONE);
	feed(t, 0, 9, 0, NW_STEP_RESTORE_ROUTES, NW_LADDER_NONE);
	assert_int_equal(t->l.attempt, 2);
	run_l1_l2(t, 9, 0);
	/* and L3 emergency_threshold (5) more */
	done(t, NW_STEP_REMOVE_STALE, NW_STEP_NOTHING, 10, 0, -1, false, NW_LADDER_NONE);
	feed(t, 0, 10, 0, -1, NW_LADDER_NONE);
	feed(t, 0, 11, 0, NW_STEP_BOUNCE_INTERFACE, NW_LADDER_NONE);
	run_l3(t, 11, -1, NW_LADDER_ATTEMPT_FAILED);
	assert_int_equal(t->l.failed_attempts, 2);
	assert_int_equal(t->l.base, 11);
	/* a restore resets it all */
	feed(t, 1, 0, 1, -1, NW_LADDER_RESTORED);
	assert_reset(&t->l);
	assert_int_equal(t->l.recoveries, 1);
}

static void test_ladder_base_saturates(void **state)
{
	struct lad *t = *state;

	feed(t, 0, 5, 0, NW_STEP_RESTORE_ROUTES, NW_LADDER_LOST);
	run_l1_l2(t, 5, 0);
	done(t, NW_STEP_REMOVE_STALE, NW_STEP_NOTHING, 5, 0, NW_STEP_BOUNCE_INTERFACE, false,
	     NW_LADDER_NONE);
	run_l3(t, 20, -1, NW_LADDER_ATTEMPT_FAILED);
	/* failures below base (another probe took over) count as none */
	feed(t, 0, 2, 0, -1, NW_LADDER_NONE);
	feed(t, 0, 22, 0, -1, NW_LADDER_NONE);
	feed(t, 0, 23, 0, NW_STEP_RESTORE_ROUTES, NW_LADDER_NONE);
}

static void test_ladder_reboot(void **state)
{
	struct lad *t = *state;
	uint32_t f = 5;

	t->cfg.steps[NW_STEP_REBOOT] = true;
	t->cfg.steps[NW_STEP_KILL_WILDCARD_OWNER] = true;
	t->cfg.reboot_after = 2;
	t->cfg.fail_threshold = 1;
	t->cfg.emergency_threshold = 1;

	feed(t, 0, f, 0, NW_STEP_RESTORE_ROUTES, NW_LADDER_LOST);
	for (unsigned a = 1; a <= 3; a++) {
		if (a > 1)
			feed(t, 0, ++f, 0, NW_STEP_RESTORE_ROUTES, NW_LADDER_NONE);
		assert_int_equal(t->l.attempt, a);
		run_l1_l2(t, f, 0);
		done(t, NW_STEP_REMOVE_STALE, NW_STEP_NOTHING, f, 0, NW_STEP_BOUNCE_INTERFACE,
		     false, NW_LADDER_NONE);
		run_l3(t, f, NW_STEP_KILL_WILDCARD_OWNER, NW_LADDER_NONE);
		if (a < 2) {
			/* fewer than reboot_after failed attempts: no reboot */
			done(t, NW_STEP_KILL_WILDCARD_OWNER, NW_STEP_NOTHING, f, 0, -1, false,
			     NW_LADDER_ATTEMPT_FAILED);
			assert_int_equal(t->l.failed_attempts, a);
			continue;
		}
		done(t, NW_STEP_KILL_WILDCARD_OWNER, NW_STEP_NOTHING, f, 0, NW_STEP_REBOOT,
		     false, NW_LADDER_ATTEMPT_FAILED);
		assert_int_equal(t->l.failed_attempts, a);
		assert_int_equal(t->l.level, 4);
		/* the reboot was refused (budget): a new attempt, no second
		 * ATTEMPT_FAILED for it */
		done(t, NW_STEP_REBOOT, a == 2 ? NW_STEP_FAILED : NW_STEP_DRY_RUN, f, 0, -1,
		     false, NW_LADDER_NONE);
		assert_int_equal(t->l.failed_attempts, a);
		assert_int_equal(t->l.cursor, 0);
		assert_int_equal(t->l.level, 0);
		assert_int_equal(t->l.base, f);
		assert_false(t->l.upstream);
		assert_true(t->l.down);
	}
	assert_int_equal(t->l.steps_run, 3 * 8 + 2);
}

static void test_ladder_reboot_disabled(void **state)
{
	struct lad *t = *state;
	uint32_t f = 5;

	t->cfg.reboot_after = 1;
	feed(t, 0, f, 0, NW_STEP_RESTORE_ROUTES, NW_LADDER_LOST);
	for (unsigned a = 1; a <= 4; a++) {
		if (a > 1) {
			f += 5;
			feed(t, 0, f, 0, NW_STEP_RESTORE_ROUTES, NW_LADDER_NONE);
		}
		run_l1_l2(t, f, 0);
		done(t, NW_STEP_REMOVE_STALE, NW_STEP_NOTHING, f, 0, NW_STEP_BOUNCE_INTERFACE,
		     false, NW_LADDER_NONE);
		run_l3(t, f, -1, NW_LADDER_ATTEMPT_FAILED);
		assert_int_equal(t->l.failed_attempts, a);
	}
}

static void test_ladder_reboot_changed(void **state)
{
	struct lad *t = *state;

	/* every step but reboot off: attempts fail at once */
	for (unsigned i = 0; i < NW_STEP__MAX; i++)
		t->cfg.steps[i] = i == NW_STEP_REBOOT;
	t->cfg.reboot_after = 1;
	feed(t, 0, 4, 0, -1, NW_LADDER_LOST);
	assert_int_equal(t->l.attempt, 1);
	/* L1 and L2 entered at 4 but L3 waits for 5 */
	assert_int_equal(t->l.cursor, NW_STEP_BOUNCE_INTERFACE);
	feed(t, 0, 5, 0, NW_STEP_REBOOT, NW_LADDER_ATTEMPT_FAILED);
	/* a reboot "changed" (it did not happen after all): re-probe */
	done(t, NW_STEP_REBOOT, NW_STEP_CHANGED, 5, 0, -1, true, NW_LADDER_NONE);
	reprobed(t, 0, 6, 0, -1, NW_LADDER_NONE);
	assert_int_equal(t->l.cursor, 0);
	assert_int_equal(t->l.base, 6);
	assert_int_equal(t->l.failed_attempts, 1);
	feed(t, 1, 0, 1, -1, NW_LADDER_RESTORED);
	assert_int_equal(t->l.recoveries, 1);
}

static void test_ladder_restore_while_running(void **state)
{
	struct lad *t = *state;
	struct nw_verdict v = V(0, 3, 0);
	enum nw_ladder_event ev;
	bool reprobe = true;

	feed(t, 0, 3, 0, NW_STEP_RESTORE_ROUTES, NW_LADDER_LOST);
	done(t, NW_STEP_RESTORE_ROUTES, NW_STEP_NOTHING, 3, 0, NW_STEP_FLUSH_NEIGHBOUR, false,
	     NW_LADDER_NONE);
	feed(t, 1, 0, 1, -1, NW_LADDER_RESTORED);
	assert_reset(&t->l);
	assert_true(t->l.busy);
	assert_int_equal(t->l.running, NW_STEP_FLUSH_NEIGHBOUR);
	assert_int_equal(t->l.recoveries, 1);
	/* the late result: nothing more, busy cleared, no re-probe */
	assert_int_equal(nw_ladder_step_done(&t->l, NW_STEP_FLUSH_NEIGHBOUR, NW_STEP_CHANGED,
					     &v, &reprobe, &ev), -1);
	assert_false(reprobe);
	assert_int_equal(ev, NW_LADDER_NONE);
	assert_false(t->l.busy);
	assert_false(t->l.reprobing);
	assert_int_equal(t->l.running, -1);
	assert_reset(&t->l);
}

static void test_ladder_restore_lost_while_running(void **state)
{
	struct lad *t = *state;

	feed(t, 0, 3, 0, NW_STEP_RESTORE_ROUTES, NW_LADDER_LOST);
	done(t, NW_STEP_RESTORE_ROUTES, NW_STEP_NOTHING, 3, 0, NW_STEP_FLUSH_NEIGHBOUR, false,
	     NW_LADDER_NONE);
	feed(t, 1, 0, 1, -1, NW_LADDER_RESTORED);
	/* lost again while the old step still runs: no new step yet */
	feed(t, 0, 1, 0, -1, NW_LADDER_LOST);
	feed(t, 0, 3, 0, -1, NW_LADDER_NONE);
	assert_int_equal(t->l.losses, 2);
	/* the old step's result is not this outage's: the new climb starts
	 * from the beginning */
	done(t, NW_STEP_FLUSH_NEIGHBOUR, NW_STEP_CHANGED, 3, 0, NW_STEP_RESTORE_ROUTES, false,
	     NW_LADDER_NONE);
	assert_int_equal(t->l.attempt, 1);
	assert_int_equal(t->l.level, 1);
}

static void test_ladder_done_when_connected(void **state)
{
	struct lad *t = *state;
	struct nw_verdict v = V(1, 0, 1);
	enum nw_ladder_event ev;
	bool reprobe = true;

	/* the verdict given with a step's end already says connected: no next
	 * step; the next regular verdict reports the restore */
	feed(t, 0, 3, 0, NW_STEP_RESTORE_ROUTES, NW_LADDER_LOST);
	assert_int_equal(nw_ladder_step_done(&t->l, NW_STEP_RESTORE_ROUTES, NW_STEP_NOTHING,
					     &v, &reprobe, &ev), -1);
	assert_false(reprobe);
	assert_int_equal(ev, NW_LADDER_NONE);
	assert_false(t->l.busy);
	feed(t, 1, 0, 1, -1, NW_LADDER_RESTORED);
	assert_int_equal(t->l.recoveries, 1);
}

static void test_ladder_restore_while_reprobing(void **state)
{
	struct lad *t = *state;

	feed(t, 0, 3, 0, NW_STEP_RESTORE_ROUTES, NW_LADDER_LOST);
	done(t, NW_STEP_RESTORE_ROUTES, NW_STEP_CHANGED, 3, 0, -1, true, NW_LADDER_NONE);
	/* a regular result arrives first and says connected */
	feed(t, 1, 0, 1, -1, NW_LADDER_RESTORED);
	assert_int_equal(t->l.recoveries, 1);
	assert_true(t->l.busy);		/* until the re-probe round is over */
	feed(t, 0, 3, 0, -1, NW_LADDER_LOST);	/* lost again: waits for it */
	reprobed(t, 0, 3, 0, NW_STEP_RESTORE_ROUTES, NW_LADDER_NONE);
	assert_int_equal(t->l.losses, 2);
}

static void test_ladder_disabled(void **state)
{
	struct lad *t = *state;

	t->cfg.enabled = false;
	feed(t, 0, 1, 0, -1, NW_LADDER_LOST);
	for (uint32_t f = 2; f < 100; f++)
		feed(t, 0, f, f & 1 ? 0 : 1, -1, NW_LADDER_NONE);
	assert_int_equal(t->l.steps_run, 0);
	assert_int_equal(t->l.attempt, 0);
	assert_int_equal(t->l.failed_attempts, 0);
	feed(t, 1, 0, 1, -1, NW_LADDER_RESTORED);
	assert_int_equal(t->l.losses, 1);
	assert_int_equal(t->l.recoveries, 0);

	/* enabled by a reload while down: the climb starts at the next verdict */
	feed(t, 0, 7, 0, -1, NW_LADDER_LOST);
	t->cfg.enabled = true;
	feed(t, 0, 8, 0, NW_STEP_RESTORE_ROUTES, NW_LADDER_NONE);
}

static void test_ladder_set_cfg(void **state)
{
	struct lad *t = *state;
	struct nw_recovery_cfg other;

	nw_recovery_cfg_defaults(&other);
	other.enabled = true;
	other.fail_threshold = 10;
	feed(t, 0, 1, 0, -1, NW_LADDER_LOST);
	nw_ladder_set_cfg(&t->l, &other);
	assert_ptr_equal(t->l.cfg, &other);
	assert_true(t->l.down);		/* the state is kept */
	feed(t, 0, 5, 0, -1, NW_LADDER_NONE);
	feed(t, 0, 10, 0, NW_STEP_RESTORE_ROUTES, NW_LADDER_NONE);
	nw_ladder_set_cfg(&t->l, &t->cfg);
	nw_recovery_cfg_free(&other);
}

static void test_ladder_all_l3_off(void **state)
{
	struct lad *t = *state;

	t->cfg.steps[NW_STEP_BOUNCE_INTERFACE] = false;
	t->cfg.steps[NW_STEP_RENEW_DHCP] = false;
	feed(t, 0, 3, 0, NW_STEP_RESTORE_ROUTES, NW_LADDER_LOST);
	run_l1_l2(t, 3, 0);
	done(t, NW_STEP_REMOVE_STALE, NW_STEP_NOTHING, 3, 0, -1, false, NW_LADDER_NONE);
	/* the L3 gate holds even with no L3 step on */
	feed(t, 0, 4, 0, -1, NW_LADDER_NONE);
	feed(t, 0, 5, 1, -1, NW_LADDER_UPSTREAM);
	assert_int_equal(t->l.failed_attempts, 0);
	feed(t, 0, 5, 0, -1, NW_LADDER_ATTEMPT_FAILED);
	assert_int_equal(t->l.failed_attempts, 1);
	assert_int_equal(t->l.base, 5);
	assert_false(t->l.upstream);
}

/* --- files ------------------------------------------------------------- */

static void assert_file(const char *path, const char *want)
{
	char *text = NULL;

	assert_int_equal(nw_read_file(path, &text, 1 << 20), 0);
	assert_string_equal(text, want);
	free(text);
}

static unsigned file_mode(const char *path)
{
	struct stat st;

	assert_int_equal(lstat(path, &st), 0);
	return st.st_mode & 07777;
}

/* no temp file left over in dir: only the names given */
static void assert_only(const char *dir, const char *a, const char *b)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	assert_non_null(d);
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if ((a && !strcmp(de->d_name, a)) || (b && !strcmp(de->d_name, b)))
			continue;
		fail_msg("unexpected file %s/%s", dir, de->d_name);
	}
	closedir(d);
}

struct rc_paths {
	char etc[PATH_MAX], conf[PATH_MAX], state[PATH_MAX], saved[PATH_MAX];
};

static void rc_paths(const char *dir, struct rc_paths *p)
{
	snprintf(p->etc, sizeof(p->etc), "%s/etc", dir);
	snprintf(p->conf, sizeof(p->conf), "%s/etc/resolv.conf", dir);
	/* two levels that do not exist yet */
	snprintf(p->state, sizeof(p->state), "%s/var/netward", dir);
	snprintf(p->saved, sizeof(p->saved), "%s/var/netward/" NW_RESOLVCONF_SAVED, dir);
	assert_int_equal(mkdir(p->etc, 0755), 0);
}

#define GOOD "nameserver 192.0.2.53\nsearch example.org\n"
#define BAD "nameserver 127.0.0.1\n"

static void test_resolvconf_save(void **state)
{
	struct rc_paths p;

	rc_paths(*state, &p);
	write_file(p.conf, GOOD);
	assert_int_equal(nw_resolvconf_save(p.conf, p.state), 1);
	assert_file(p.saved, GOOD);
	assert_int_equal(file_mode(p.saved), 0644);
	assert_int_equal(nw_resolvconf_save(p.conf, p.state), 0);	/* unchanged */
	write_file(p.conf, GOOD "options edns0\n");
	assert_int_equal(nw_resolvconf_save(p.conf, p.state), 1);
	assert_file(p.saved, GOOD "options edns0\n");
	/* an empty file is a content too */
	write_file(p.conf, "");
	assert_int_equal(nw_resolvconf_save(p.conf, p.state), 1);
	assert_file(p.saved, "");
	assert_int_equal(nw_resolvconf_save(p.conf, p.state), 0);
	assert_only(p.state, NW_RESOLVCONF_SAVED, NULL);
	/* nothing to save */
	unlink(p.conf);
	assert_int_equal(nw_resolvconf_save(p.conf, p.state), -ENOENT);
	assert_file(p.saved, "");
}

static void test_resolvconf_restore(void **state)
{
	struct rc_paths p;

	rc_paths(*state, &p);
	write_file(p.conf, GOOD);
	assert_int_equal(nw_resolvconf_save(p.conf, p.state), 1);
	assert_int_equal(nw_resolvconf_restore(p.conf, p.state, 0), 0);	/* equal */
	write_file(p.conf, BAD);
	assert_int_equal(file_mode(p.conf), 0600);
	assert_int_equal(nw_resolvconf_restore(p.conf, p.state, 0), 1);
	assert_file(p.conf, GOOD);
	assert_int_equal(file_mode(p.conf), 0644);
	assert_int_equal(nw_resolvconf_restore(p.conf, p.state, 0), 0);
	/* a deleted resolv.conf is put back */
	assert_int_equal(unlink(p.conf), 0);
	assert_int_equal(nw_resolvconf_restore(p.conf, p.state, 0), 1);
	assert_file(p.conf, GOOD);
	/* a shorter or longer file with the same start differs */
	write_file(p.conf, "nameserver 192.0.2.53\n");
	assert_int_equal(nw_resolvconf_restore(p.conf, p.state, 0), 1);
	write_file(p.conf, GOOD "x");
	assert_int_equal(nw_resolvconf_restore(p.conf, p.state, 0), 1);
	assert_file(p.conf, GOOD);
	assert_only(p.etc, "resolv.conf", NULL);
	assert_only(p.state, NW_RESOLVCONF_SAVED, NULL);
}

/* What the unit file allows: /etc read-only, only resolv.conf itself
 * writable (ReadWritePaths=-/etc/resolv.conf). No temp file can be made
 * beside it: restore rewrites it in place. In a child with a mount
 * namespace of its own (root only). */
static void test_resolvconf_restore_readonly_dir(void **state)
{
	struct rc_paths p;
	pid_t pid;
	int st;

	if (geteuid())
		skip();
	rc_paths(*state, &p);
	write_file(p.conf, GOOD);
	assert_int_equal(nw_resolvconf_save(p.conf, p.state), 1);
	write_file(p.conf, BAD);
	pid = fork();
	assert_true(pid >= 0);
	if (!pid) {
		/* as systemd does it: the file on itself, the directory (with
		 * that mount) on itself, then only the directory read-only */
		if (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
		    mount(p.conf, p.conf, NULL, MS_BIND, NULL) ||
		    mount(p.etc, p.etc, NULL, MS_BIND | MS_REC, NULL) ||
		    mount(NULL, p.etc, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL))
			_exit(2);
		int r = nw_resolvconf_restore(p.conf, p.state, 0);

		_exit(r == 1 ? 0 : r < 0 && -r < 100 ? 100 + -r : 99);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	assert_file(p.conf, GOOD);
}

static void test_resolvconf_dry_run(void **state)
{
	struct rc_paths p;

	rc_paths(*state, &p);
	write_file(p.conf, GOOD);
	assert_int_equal(nw_resolvconf_save(p.conf, p.state), 1);
	assert_int_equal(nw_resolvconf_restore(p.conf, p.state, 1), 0);
	write_file(p.conf, BAD);
	assert_int_equal(nw_resolvconf_restore(p.conf, p.state, 1), 1);
	assert_file(p.conf, BAD);
	assert_int_equal(file_mode(p.conf), 0600);
	assert_int_equal(unlink(p.conf), 0);
	assert_int_equal(nw_resolvconf_restore(p.conf, p.state, 1), 1);
	assert_int_equal(access(p.conf, F_OK), -1);
	assert_only(p.etc, NULL, NULL);
}

static void test_resolvconf_symlink(void **state)
{
	struct rc_paths p;
	char target[PATH_MAX];

	rc_paths(*state, &p);
	snprintf(target, sizeof(target), "%s/stub-resolv.conf", p.etc);
	write_file(target, BAD);
	assert_int_equal(symlink(target, p.conf), 0);
	/* never saved */
	assert_int_equal(nw_resolvconf_save(p.conf, p.state), -ELOOP);
	assert_int_equal(access(p.saved, F_OK), -1);
	/* never overwritten, dry run or not, even with a saved copy */
	assert_int_equal(nw_resolvconf_restore(p.conf, p.state, 0), -ELOOP);
	assert_int_equal(nw_mkdir_p(p.state, 0755), 0);
	write_file(p.saved, GOOD);
	assert_int_equal(nw_resolvconf_restore(p.conf, p.state, 0), -ELOOP);
	assert_int_equal(nw_resolvconf_restore(p.conf, p.state, 1), -ELOOP);
	assert_file(target, BAD);
	{
		struct stat st;

		assert_int_equal(lstat(p.conf, &st), 0);
		assert_true(S_ISLNK(st.st_mode));
	}
	/* a dangling one too */
	assert_int_equal(unlink(target), 0);
	assert_int_equal(nw_resolvconf_restore(p.conf, p.state, 0), -ELOOP);
	assert_int_equal(access(target, F_OK), -1);
	assert_only(p.etc, "resolv.conf", NULL);
}

static void test_resolvconf_no_saved(void **state)
{
	struct rc_paths p;

	rc_paths(*state, &p);
	write_file(p.conf, BAD);
	assert_int_equal(nw_resolvconf_restore(p.conf, p.state, 0), -ENOENT);
	assert_int_equal(nw_resolvconf_restore(p.conf, p.state, 1), -ENOENT);
	assert_file(p.conf, BAD);
	/* the state dir exists but holds no copy */
	assert_int_equal(nw_mkdir_p(p.state, 0755), 0);
	assert_int_equal(nw_resolvconf_restore(p.conf, p.state, 0), -ENOENT);
	assert_file(p.conf, BAD);
}

static void test_resolvconf_too_big(void **state)
{
	struct rc_paths p;
	char *big = malloc(64 * 1024 + 2);

	assert_non_null(big);
	rc_paths(*state, &p);
	memset(big, '#', 64 * 1024 + 1);
	big[64 * 1024 + 1] = 0;
	write_file(p.conf, big);
	assert_int_equal(nw_resolvconf_save(p.conf, p.state), -EFBIG);
	big[64 * 1024] = 0;		/* exactly 64 KiB is fine */
	write_file(p.conf, big);
	assert_int_equal(nw_resolvconf_save(p.conf, p.state), 1);
	assert_file(p.saved, big);
	free(big);
}

/* --- reboot budget ----------------------------------------------------- */

#define T0 1700000000
#define DAY NW_REBOOT_WINDOW_S

static unsigned count(const char *dir, time_t now)
{
	unsigned n = 12345;

	assert_int_equal(nw_reboot_guard_count(dir, now, &n), 0);
	return n;
}

static void reboots_path(const char *dir, char *p, size_t size)
{
	snprintf(p, size, "%s/" NW_REBOOTS_FILE, dir);
}

static void test_reboot_budget(void **state)
{
	const char *dir = *state;
	char p[PATH_MAX], want[64];

	reboots_path(dir, p, sizeof(p));
	assert_int_equal(count(dir, T0), 0);	/* no file */
	assert_int_equal(nw_reboot_guard_take(dir, T0, 1), 0);
	snprintf(want, sizeof(want), "%d\n", T0);
	assert_file(p, want);
	assert_int_equal(file_mode(p), 0644);
	assert_int_equal(count(dir, T0), 1);
	/* spent for 24 h */
	assert_int_equal(nw_reboot_guard_take(dir, T0, 1), -EDQUOT);
	assert_int_equal(nw_reboot_guard_take(dir, T0 + 3600, 1), -EDQUOT);
	assert_int_equal(nw_reboot_guard_take(dir, T0 + DAY - 1, 1), -EDQUOT);
	assert_file(p, want);	/* a refusal writes nothing */
	assert_int_equal(count(dir, T0 + DAY - 1), 1);
	/* exactly 24 h later the old one is out of (now - 24h, now] */
	assert_int_equal(count(dir, T0 + DAY), 0);
	assert_int_equal(nw_reboot_guard_take(dir, T0 + DAY, 1), 0);
	snprintf(want, sizeof(want), "%d\n", T0 + DAY);		/* pruned */
	assert_file(p, want);
	assert_only(dir, NW_REBOOTS_FILE, NULL);
}

static void test_reboot_budget_more(void **state)
{
	const char *dir = *state;
	char p[PATH_MAX], want[128];

	reboots_path(dir, p, sizeof(p));
	assert_int_equal(nw_reboot_guard_take(dir, T0, 3), 0);
	assert_int_equal(nw_reboot_guard_take(dir, T0 + 10, 3), 0);
	assert_int_equal(nw_reboot_guard_take(dir, T0 + 20, 3), 0);
	assert_int_equal(nw_reboot_guard_take(dir, T0 + 30, 3), -EDQUOT);
	assert_int_equal(count(dir, T0 + 30), 3);
	assert_int_equal(count(dir, T0 + DAY + 5), 2);
	assert_int_equal(nw_reboot_guard_take(dir, T0 + DAY + 5, 3), 0);
	snprintf(want, sizeof(want), "%d\n%d\n%d\n", T0 + 10, T0 + 20, T0 + DAY + 5);
	assert_file(p, want);
}

static void test_reboot_garbage(void **state)
{
	const char *dir = *state;
	char p[PATH_MAX], text[256], want[64];

	reboots_path(dir, p, sizeof(p));
	snprintf(text, sizeof(text),
		 "garbage\n\n-5\n %d\n%d\r\n%dx\n0x10\n%d\n99999999999999999999999\n%d",
		 T0 - 10, T0 - 20, T0 - 30, T0 - 2 * DAY, T0 - 40);
	write_file(p, text);
	/* " T0-10" (leading blank) and "T0-30x" are not numbers; T0-2d is old */
	assert_int_equal(count(dir, T0), 2);
	assert_int_equal(nw_reboot_guard_take(dir, T0, 2), -EDQUOT);
	assert_int_equal(nw_reboot_guard_take(dir, T0, 3), 0);
	snprintf(want, sizeof(want), "%d\n%d\n%d\n", T0 - 20, T0 - 40, T0);
	assert_file(p, want);
}

static void test_reboot_max_zero(void **state)
{
	const char *dir = *state;
	char p[PATH_MAX];

	reboots_path(dir, p, sizeof(p));
	assert_int_equal(nw_reboot_guard_take(dir, T0, 0), -EDQUOT);
	assert_int_equal(access(p, F_OK), -1);
	assert_int_equal(count(dir, T0), 0);
}

static void test_reboot_clock_back(void **state)
{
	const char *dir = *state;
	char p[PATH_MAX], text[64];

	/* recorded, then the clock was stepped back an hour (no RTC): the
	 * record still counts, or a reboot loop would escape the budget */
	assert_int_equal(nw_reboot_guard_take(dir, T0, 1), 0);
	assert_int_equal(count(dir, T0 - 3600), 1);
	assert_int_equal(nw_reboot_guard_take(dir, T0 - 3600, 1), -EDQUOT);
	/* a record more than a day ahead is from a clock that was far off */
	reboots_path(dir, p, sizeof(p));
	snprintf(text, sizeof(text), "%d\n", T0 + 2 * DAY);
	write_file(p, text);
	assert_int_equal(count(dir, T0), 0);
	assert_int_equal(nw_reboot_guard_take(dir, T0, 1), 0);
}

static void test_reboot_errors(void **state)
{
	const char *dir = *state;
	char sub[PATH_MAX], p[PATH_MAX];
	unsigned n;

	/* a missing state dir is created */
	snprintf(sub, sizeof(sub), "%s/a/b", dir);
	assert_int_equal(nw_reboot_guard_take(sub, T0, 1), 0);
	assert_int_equal(count(sub, T0), 1);
	/* a record that cannot be read: no reboot */
	reboots_path(dir, p, sizeof(p));
	assert_int_equal(mkdir(p, 0755), 0);
	assert_int_equal(nw_reboot_guard_count(dir, T0, &n), -EISDIR);
	assert_int_equal(nw_reboot_guard_take(dir, T0, 1), -EISDIR);
	/* a state dir that is a file */
	snprintf(sub, sizeof(sub), "%s/file", dir);
	write_file(sub, "");
	assert_true(nw_reboot_guard_take(sub, T0, 1) < 0);
}

#define LAD_TEST(f) cmocka_unit_test_setup_teardown(f, lad_setup, lad_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_step_names),
		cmocka_unit_test(test_result_names),
		cmocka_unit_test(test_cfg_defaults),
		cmocka_unit_test(test_cfg_copy_free),
		cmocka_unit_test(test_cfg_copy_full_argv),
		cmocka_unit_test(test_is_vpn),
		cmocka_unit_test(test_verdict_any),
		cmocka_unit_test(test_verdict_all),
		cmocka_unit_test(test_verdict_gateway_only),
		cmocka_unit_test(test_verdict_unknown),
		LAD_TEST(test_ladder_init),
		LAD_TEST(test_ladder_below_threshold),
		LAD_TEST(test_ladder_l1_in_order),
		LAD_TEST(test_ladder_lost_wins),
		LAD_TEST(test_ladder_changed_reprobe_restored),
		LAD_TEST(test_ladder_changed_still_down),
		LAD_TEST(test_ladder_vpn_then_stale_then_reprobe),
		LAD_TEST(test_ladder_stale_cleanup_after_restore),
		LAD_TEST(test_ladder_wait_emergency),
		LAD_TEST(test_ladder_upstream),
		LAD_TEST(test_ladder_upstream_below_emergency),
		LAD_TEST(test_ladder_attempt_failed),
		LAD_TEST(test_ladder_base_saturates),
		LAD_TEST(test_ladder_reboot),
		LAD_TEST(test_ladder_reboot_disabled),
		LAD_TEST(test_ladder_reboot_changed),
		LAD_TEST(test_ladder_restore_while_running),
		LAD_TEST(test_ladder_restore_lost_while_running),
		LAD_TEST(test_ladder_done_when_connected),
		LAD_TEST(test_ladder_restore_while_reprobing),
		LAD_TEST(test_ladder_disabled),
		LAD_TEST(test_ladder_set_cfg),
		LAD_TEST(test_ladder_all_l3_off),
		TMPDIR_TEST(test_resolvconf_save),
		TMPDIR_TEST(test_resolvconf_restore),
		TMPDIR_TEST(test_resolvconf_restore_readonly_dir),
		TMPDIR_TEST(test_resolvconf_dry_run),
		TMPDIR_TEST(test_resolvconf_symlink),
		TMPDIR_TEST(test_resolvconf_no_saved),
		TMPDIR_TEST(test_resolvconf_too_big),
		TMPDIR_TEST(test_reboot_budget),
		TMPDIR_TEST(test_reboot_budget_more),
		TMPDIR_TEST(test_reboot_garbage),
		TMPDIR_TEST(test_reboot_max_zero),
		TMPDIR_TEST(test_reboot_clock_back),
		TMPDIR_TEST(test_reboot_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
