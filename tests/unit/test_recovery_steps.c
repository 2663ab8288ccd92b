// SPDX-License-Identifier: GPL-2.0-only
/* Unit tests for the recovery steps (user/recovery_steps.c, user/step_*.c)
 * and user/sysbus.c, against the real kernel: everything happens in a
 * private network namespace made at the start (root needed), with tun and
 * veth interfaces, rules and neighbour entries made with `ip` (tests may
 * shell out, the product never does). Each step runs on a real sd-event
 * loop, watched by a guard timer; nothing sleeps to wait. The bus cases
 * run a private dbus-daemon and a fake systemd/resolved/networkd on it. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <net/if.h>
#include <netinet/in.h>

#include "loop.h"
#include "private_bus.h"
#include "reboot_guard.h"
#include "recovery.h"
#include "recovery_steps.h"
#include "resolvconf.h"
#include "steps_impl.h"	/* nlw_live(): worker threads alive */
#include "sysbus.h"

static sd_event *e;

/* --- shell and interfaces ---------------------------------------------------- */

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int sh(const char *fmt, ...)
{
	char cmd[512];
	va_list ap;
	int r;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	r = system(cmd);
	return WIFEXITED(r) ? WEXITSTATUS(r) : -1;
}

#define SH(...) assert_int_equal(sh(__VA_ARGS__), 0)

static bool link_exists(const char *name)
{
	return if_nametoindex(name) != 0;
}

/* `ip rule` has a rule at this preference */
static bool rule_at(unsigned pref)
{
	return sh("ip rule show | grep -q '^%u:'", pref) == 0;
}

static void tun(const char *name)
{
	SH("ip tuntap add dev %s mode tun && ip link set %s up", name, name);
}

static void veth_main(void)
{
	SH("ip link add eth-main type veth peer name eth-peer && ip link set eth-peer up && "
	   "ip link set eth-main up");
}

static void clean_net(void)
{
	static const char *const links[] = { "wg-worker-1", "wg-worker-2", "wgx", "eth-main" };

	for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++)
		sh("ip link del %s 2>/dev/null", links[i]);
	for (unsigned p = 1000; p <= 1004; p++)
		sh("ip rule del pref %u 2>/dev/null", p);
	sh("ip route flush table 200 2>/dev/null; ip route flush table 300 2>/dev/null");
}

/* --- the fixture --------------------------------------------------------------- */

struct fx {
	struct nw_recovery_cfg cfg;
	struct nw_steps_env env;
	struct nw_steps *s;
	char main_if[IF_NAMESIZE];
	struct nw_gateway gws[4];
	size_t n_gws;
	struct nw_wildcard_owner owners[4];
	size_t n_owners;
	uint32_t protected_prio;
	int routes_ret;
	unsigned routes_calls;
	bool routes_dry;
	char state_dir[64];
};

static int fake_restore_routes(void *ud, bool dry_run, char *detail, size_t len)
{
	struct fx *f = ud;

	f->routes_calls++;
	f->routes_dry = dry_run;
	if (f->routes_ret > 0)
		snprintf(detail, len, "%s default via 192.0.2.1 dev eth-main",
			 dry_run ? "would restore" : "restored");
	return f->routes_ret;
}

static void fake_main(void *ud, char out[IF_NAMESIZE])
{
	struct fx *f = ud;

	snprintf(out, IF_NAMESIZE, "%s", f->main_if);
}

static size_t fake_gateways(void *ud, struct nw_gateway *out, size_t max)
{
	struct fx *f = ud;
	size_t n = f->n_gws < max ? f->n_gws : max;

	memcpy(out, f->gws, n * sizeof(*out));
	return n;
}

static bool fake_protected(void *ud, const struct nw_rule *r)
{
	struct fx *f = ud;

	return f->protected_prio && r->priority == f->protected_prio;
}

static size_t fake_owners(void *ud, struct nw_wildcard_owner *out, size_t max)
{
	struct fx *f = ud;
	size_t n = f->n_owners < max ? f->n_owners : max;

	memcpy(out, f->owners, n * sizeof(*out));
	return n;
}

static void set_argv(struct fx *f, const char *const *argv)
{
	for (size_t i = 0; i <= NW_RECOVERY_ARGV_MAX; i++) {
		free(f->cfg.dhcp_command[i]);
		f->cfg.dhcp_command[i] = NULL;
	}
	for (size_t i = 0; argv && argv[i]; i++)
		assert_non_null(f->cfg.dhcp_command[i] = strdup(argv[i]));
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	clean_net();
	nw_recovery_cfg_defaults(&f->cfg);
	f->cfg.enabled = true;
	f->cfg.vpn_interfaces[0] = strdup("wg-worker-*");
	f->cfg.n_vpn_interfaces = 1;
	f->cfg.step_timeout_ms = 3000;
	snprintf(f->state_dir, sizeof(f->state_dir), "/tmp/nw-steps-XXXXXX");
	if (!f->cfg.vpn_interfaces[0] || !mkdtemp(f->state_dir))
		return -1;
	f->env = (struct nw_steps_env){
		.e = e,
		.cfg = &f->cfg,
		.state_dir = f->state_dir,
		.ud = f,
		.restore_routes = fake_restore_routes,
		.main_interface = fake_main,
		.gateways = fake_gateways,
		.rule_protected = fake_protected,
		.wildcard_owners = fake_owners,
	};
	if (nw_steps_new(&f->s, &f->env))
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	nw_steps_free(f->s);
	nw_recovery_cfg_free(&f->cfg);
	sh("rm -rf %s", f->state_dir);
	free(f);
	unsetenv(NW_FAULT_LINK_DEL_DELAY_ENV);
	clean_net();
	return 0;
}

static void set_dry_run(struct fx *f, bool dry)
{
	f->env.dry_run = dry;
	nw_steps_set_env(f->s, &f->env);
}

/* --- running a step -------------------------------------------------------------- */

struct done_rec {
	int calls;
	unsigned step;
	struct nw_step_outcome o;
};

static void on_done(void *ud, unsigned step, const struct nw_step_outcome *o)
{
	struct done_rec *d = ud;

	d->calls++;
	d->step = step;
	d->o = *o;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Runs step on the loop until done (at most limit_ms): done exactly once,
 * never from inside nw_steps_start, with result (-1: any). */
static void run_step(struct fx *f, unsigned step, struct done_rec *d, unsigned limit_ms,
		     int result)
{
	memset(d, 0, sizeof(*d));
	assert_int_equal(nw_steps_start(f->s, step, on_done, d), 0);
	assert_int_equal(d->calls, 0);
	assert_int_equal(nw_steps_running(f->s), (int)step);
	assert_int_equal(nw_steps_start(f->s, step, on_done, d), -EBUSY);
	assert_true(loop_until_count(e, &d->calls, 1, limit_ms));
	assert_int_equal(d->step, step);
	assert_int_equal(nw_steps_running(f->s), -1);
	for (int i = 0; i < 3; i++)
		sd_event_run(e, 0);
	assert_int_equal(d->calls, 1);
	print_message("      %s: %s (%llu us) %s%s%s\n", nw_step_name(step),
		      nw_step_result_name(d->o.result), (unsigned long long)d->o.duration_us,
		      d->o.detail, d->o.leftover[0] ? " | left: " : "", d->o.leftover);
	if (result >= 0)
		assert_int_equal(d->o.result, result);
}

/* --- restore_routes -------------------------------------------------------------- */

static void test_restore_routes(void **state)
{
	struct fx *f = *state;
	struct done_rec d;

	f->routes_ret = 2;
	run_step(f, NW_STEP_RESTORE_ROUTES, &d, 1000, NW_STEP_CHANGED);
	assert_int_equal(d.o.changes, 2);
	assert_non_null(strstr(d.o.detail, "restored default via 192.0.2.1"));
	f->routes_ret = 0;
	run_step(f, NW_STEP_RESTORE_ROUTES, &d, 1000, NW_STEP_NOTHING);
	f->routes_ret = -EIO;
	run_step(f, NW_STEP_RESTORE_ROUTES, &d, 1000, NW_STEP_FAILED);
	f->routes_ret = 1;
	set_dry_run(f, true);
	run_step(f, NW_STEP_RESTORE_ROUTES, &d, 1000, NW_STEP_DRY_RUN);
	assert_true(f->routes_dry);
	f->env.restore_routes = NULL;
	nw_steps_set_env(f->s, &f->env);
	run_step(f, NW_STEP_RESTORE_ROUTES, &d, 1000, NW_STEP_SKIPPED);
	assert_int_equal(f->routes_calls, 4);
}

/* --- remove_vpn_interfaces ------------------------------------------------------- */

static void vpn_lab(void)
{
	tun("wg-worker-1");
	tun("wg-worker-2");
	tun("wgx");
	veth_main();
}

static void test_remove_vpn(void **state)
{
	struct fx *f = *state;
	struct done_rec d;

	vpn_lab();
	snprintf(f->main_if, sizeof(f->main_if), "eth-main");
	run_step(f, NW_STEP_REMOVE_VPN_INTERFACES, &d, 3000, NW_STEP_CHANGED);
	assert_int_equal(d.o.changes, 2);
	assert_non_null(strstr(d.o.detail, "wg-worker-1"));
	assert_non_null(strstr(d.o.detail, "wg-worker-2"));
	assert_string_equal(d.o.leftover, "");
	assert_false(link_exists("wg-worker-1"));
	assert_false(link_exists("wg-worker-2"));
	assert_true(link_exists("wgx"));
	assert_true(link_exists("eth-main"));
	assert_true(link_exists("eth-peer"));
	/* again: nothing left to do */
	run_step(f, NW_STEP_REMOVE_VPN_INTERFACES, &d, 3000, NW_STEP_NOTHING);
}

static void test_remove_vpn_never_main(void **state)
{
	struct fx *f = *state;
	struct done_rec d;

	/* the main interface matches the pattern: it stays */
	tun("wg-worker-1");
	snprintf(f->main_if, sizeof(f->main_if), "wg-worker-1");
	run_step(f, NW_STEP_REMOVE_VPN_INTERFACES, &d, 3000, NW_STEP_NOTHING);
	assert_true(link_exists("wg-worker-1"));
	/* no patterns: not applicable */
	free(f->cfg.vpn_interfaces[0]);
	f->cfg.vpn_interfaces[0] = NULL;
	f->cfg.n_vpn_interfaces = 0;
	run_step(f, NW_STEP_REMOVE_VPN_INTERFACES, &d, 3000, NW_STEP_SKIPPED);
}

static void test_remove_vpn_dry_run(void **state)
{
	struct fx *f = *state;
	struct done_rec d;

	vpn_lab();
	set_dry_run(f, true);
	run_step(f, NW_STEP_REMOVE_VPN_INTERFACES, &d, 3000, NW_STEP_DRY_RUN);
	assert_string_equal(d.o.detail, "would delete wg-worker-1, wg-worker-2");
	assert_true(link_exists("wg-worker-1"));
	assert_true(link_exists("wg-worker-2"));
	assert_true(link_exists("wgx"));
}

static void test_remove_vpn_hang(void **state)
{
	struct fx *f = *state;
	struct done_rec d;
	uint64_t t0;

	tun("wg-worker-1");
	tun("wgx");
	/* the worker waits 3 s before each deletion: a kernel that hangs */
	setenv(NW_FAULT_LINK_DEL_DELAY_ENV, "3000", 1);
	f->cfg.step_timeout_ms = 300;
	t0 = now_ms();
	run_step(f, NW_STEP_REMOVE_VPN_INTERFACES, &d, 1000, NW_STEP_TIMEOUT);
	assert_true(now_ms() - t0 < 600);
	assert_true(d.o.duration_us >= 290000 && d.o.duration_us < 600000);
	assert_non_null(strstr(d.o.leftover, "wg-worker-1 still present"));
	assert_true(link_exists("wg-worker-1"));
	/* freed while the worker still "hangs": it must finish alone, later,
	 * touching nothing of ours (ASan) and deleting nothing more */
	nw_steps_free(f->s);
	f->s = NULL;
	assert_true(link_exists("wg-worker-1"));
	assert_true(link_exists("wgx"));
}

static void test_remove_vpn_abandoned_worker(void **state)
{
	struct fx *f = *state;
	struct done_rec d;

	tun("wg-worker-1");
	assert_int_equal(nlw_live(), 0);
	setenv(NW_FAULT_LINK_DEL_DELAY_ENV, "400", 1);
	f->cfg.step_timeout_ms = 100;
	run_step(f, NW_STEP_REMOVE_VPN_INTERFACES, &d, 1000, NW_STEP_TIMEOUT);
	assert_int_equal(nlw_live(), 1);
	nw_steps_free(f->s);
	f->s = NULL;
	/* past the worker's wake-up: it saw the loop gone, deleted nothing
	 * and ended */
	loop_for(e, 700);
	assert_true(link_exists("wg-worker-1"));
	assert_int_equal(nlw_live(), 0);
}

/* --- remove_stale ------------------------------------------------------------------ */

static void test_remove_stale(void **state)
{
	struct fx *f = *state;
	struct done_rec d;

	tun("wg-worker-1");
	tun("wg-worker-2");
	veth_main();
	snprintf(f->main_if, sizeof(f->main_if), "eth-main");
	/* a VPN's rules: one on its device, one to its own table */
	SH("ip rule add pref 1000 oif wg-worker-1 lookup 100");
	SH("ip route add 10.9.0.0/24 dev wg-worker-2 table 200 && "
	   "ip route add default dev wg-worker-2 table 200");
	SH("ip rule add pref 1001 uidrange 1000-1000 lookup 200");
	/* somebody else's: a table with a route elsewhere, a protected rule */
	SH("ip route add 10.7.0.0/24 dev eth-main table 300");
	SH("ip rule add pref 1002 fwmark 0x5 lookup 300");
	SH("ip rule add pref 1003 from 10.1.0.0/16 lookup 200");
	f->protected_prio = 1003;
	/* nothing is stale while the VPN is there */
	run_step(f, NW_STEP_REMOVE_STALE, &d, 3000, NW_STEP_NOTHING);

	run_step(f, NW_STEP_REMOVE_VPN_INTERFACES, &d, 3000, NW_STEP_CHANGED);
	assert_true(sh("ip rule show | grep -q 'oif wg-worker-1 \\[detached\\]'") == 0);

	set_dry_run(f, true);
	run_step(f, NW_STEP_REMOVE_STALE, &d, 3000, NW_STEP_DRY_RUN);
	assert_non_null(strstr(d.o.detail, "1000: from all oif wg-worker-1"));
	assert_non_null(strstr(d.o.detail, "1001: from all uidrange 1000-1000 lookup 200"));
	assert_true(rule_at(1000) && rule_at(1001));
	set_dry_run(f, false);

	run_step(f, NW_STEP_REMOVE_STALE, &d, 3000, NW_STEP_CHANGED);
	assert_int_equal(d.o.changes, 2);
	assert_false(rule_at(1000));
	assert_false(rule_at(1001));
	assert_true(rule_at(1002));
	assert_true(rule_at(1003));
	assert_true(rule_at(0) && rule_at(32766) && rule_at(32767));
	run_step(f, NW_STEP_REMOVE_STALE, &d, 3000, NW_STEP_NOTHING);
}

/* --- flush_neighbour ---------------------------------------------------------------- */

static void test_flush_neighbour(void **state)
{
	struct fx *f = *state;
	struct done_rec d;

	veth_main();
	snprintf(f->main_if, sizeof(f->main_if), "eth-main");
	SH("ip addr add 192.0.2.10/24 dev eth-main");
	SH("ip neigh add 192.0.2.1 lladdr 02:00:00:00:00:01 dev eth-main nud permanent");
	SH("ip -6 neigh add fe80::1 lladdr 02:00:00:00:00:02 dev eth-main nud permanent");
	f->gws[0] = (struct nw_gateway){ .family = AF_INET };	/* ifindex 0: the main one */
	inet_pton(AF_INET, "192.0.2.1", f->gws[0].addr);
	f->gws[1] = (struct nw_gateway){ .family = AF_INET6,
					 .ifindex = (int)if_nametoindex("eth-main") };
	inet_pton(AF_INET6, "fe80::1", f->gws[1].addr);
	f->n_gws = 2;

	set_dry_run(f, true);
	run_step(f, NW_STEP_FLUSH_NEIGHBOUR, &d, 3000, NW_STEP_DRY_RUN);
	assert_true(sh("ip neigh show 192.0.2.1 dev eth-main | grep -q PERMANENT") == 0);
	set_dry_run(f, false);

	run_step(f, NW_STEP_FLUSH_NEIGHBOUR, &d, 3000, NW_STEP_CHANGED);
	assert_int_equal(d.o.changes, 2);
	assert_non_null(strstr(d.o.detail, "192.0.2.1 on eth-main"));
	assert_non_null(strstr(d.o.detail, "fe80::1 on eth-main"));
	assert_true(sh("ip neigh show 192.0.2.1 dev eth-main | grep -q .") != 0);
	assert_true(sh("ip -6 neigh show fe80::1 dev eth-main | grep -q .") != 0);
	run_step(f, NW_STEP_FLUSH_NEIGHBOUR, &d, 3000, NW_STEP_NOTHING);
	f->n_gws = 0;
	run_step(f, NW_STEP_FLUSH_NEIGHBOUR, &d, 3000, NW_STEP_SKIPPED);
}

/* --- bounce_interface ----------------------------------------------------------------- */

static unsigned if_flags(const char *name)
{
	struct ifreq ifr = { 0 };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	unsigned flags = 0;

	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (fd >= 0 && ioctl(fd, SIOCGIFFLAGS, &ifr) == 0)
		flags = (unsigned short)ifr.ifr_flags;
	if (fd >= 0)
		close(fd);
	return flags;
}

static void test_bounce_interface(void **state)
{
	struct fx *f = *state;
	struct done_rec d;

	/* no main interface */
	run_step(f, NW_STEP_BOUNCE_INTERFACE, &d, 1000, NW_STEP_SKIPPED);

	veth_main();
	snprintf(f->main_if, sizeof(f->main_if), "eth-main");
	run_step(f, NW_STEP_BOUNCE_INTERFACE, &d, 3000, NW_STEP_CHANGED);
	assert_non_null(strstr(d.o.detail, "up and running"));
	assert_true(if_flags("eth-main") & IFF_UP);
	assert_true(if_flags("eth-main") & IFF_RUNNING);

	/* the peer down: no carrier, the step times out and says so */
	SH("ip link set eth-peer down");
	f->cfg.step_timeout_ms = 300;
	run_step(f, NW_STEP_BOUNCE_INTERFACE, &d, 1000, NW_STEP_TIMEOUT);
	assert_non_null(strstr(d.o.leftover, "eth-main not running"));
	assert_true(if_flags("eth-main") & IFF_UP);
}

/* --- renew_dhcp -------------------------------------------------------------------------- */

static void test_renew_dhcp_command(void **state)
{
	static const char *const ok[] = { "/bin/sh", "-c", "exit 0", NULL };
	static const char *const bad[] = { "/bin/sh", "-c", "echo no lease on $0 >&2; exit 3",
					   "{iface}", NULL };
	static const char *const missing[] = { "/nonexistent/dhclient", NULL };
	/* netward's own notify socket is not the command's */
	static const char *const env[] = { "/bin/sh", "-c",
					   "test -z \"$NOTIFY_SOCKET\" && test \"$NW_KEEP\" = 1",
					   NULL };
	struct fx *f = *state;
	struct done_rec d;

	/* neither a bus nor a command */
	run_step(f, NW_STEP_RENEW_DHCP, &d, 1000, NW_STEP_SKIPPED);
	assert_string_equal(d.o.detail, "no systemd-networkd or NetworkManager on the bus and "
			    "recovery.dhcp_command is not set");

	snprintf(f->main_if, sizeof(f->main_if), "eth-main");
	set_argv(f, ok);
	run_step(f, NW_STEP_RENEW_DHCP, &d, 3000, NW_STEP_CHANGED);

	set_argv(f, bad);
	run_step(f, NW_STEP_RENEW_DHCP, &d, 3000, NW_STEP_FAILED);
	assert_string_equal(d.o.detail, "dhcp_command exited 3: no lease on eth-main");

	setenv("NOTIFY_SOCKET", "/run/systemd/notify", 1);
	setenv("NW_KEEP", "1", 1);
	set_argv(f, env);
	run_step(f, NW_STEP_RENEW_DHCP, &d, 3000, -1);
	unsetenv("NOTIFY_SOCKET");
	unsetenv("NW_KEEP");
	assert_int_equal(d.o.result, NW_STEP_CHANGED);

	set_argv(f, bad);
	set_dry_run(f, true);
	run_step(f, NW_STEP_RENEW_DHCP, &d, 3000, NW_STEP_DRY_RUN);
	assert_non_null(strstr(d.o.detail, "would run /bin/sh -c"));
	assert_non_null(strstr(d.o.detail, " eth-main"));
	set_dry_run(f, false);

	set_argv(f, missing);
	run_step(f, NW_STEP_RENEW_DHCP, &d, 3000, NW_STEP_FAILED);
	assert_non_null(strstr(d.o.detail, "cannot run /nonexistent/dhclient"));

	/* {iface} without a main interface */
	f->main_if[0] = 0;
	set_argv(f, bad);
	run_step(f, NW_STEP_RENEW_DHCP, &d, 3000, NW_STEP_SKIPPED);
}

static pid_t leftover_pid(const struct done_rec *d)
{
	const char *p = strstr(d->o.leftover, "pid ");

	assert_non_null(p);
	return (pid_t)atoi(p + 4);
}

static bool pid_gone(const void *ud)
{
	return kill(*(const pid_t *)ud, 0) < 0 && errno == ESRCH;
}

static void test_renew_dhcp_timeout(void **state)
{
	static const char *const hang[] = { "/bin/sleep", "30", NULL };
	static const char *const stubborn[] = { "/bin/sh", "-c",
						"trap '' TERM; while :; do sleep 1; done", NULL };
	struct fx *f = *state;
	struct done_rec d;
	pid_t pid;

	f->cfg.step_timeout_ms = 300;
	set_argv(f, hang);
	run_step(f, NW_STEP_RENEW_DHCP, &d, 1000, NW_STEP_TIMEOUT);
	assert_true(d.o.duration_us >= 290000 && d.o.duration_us < 600000);
	assert_non_null(strstr(d.o.leftover, "killed after the deadline (SIGTERM)"));
	pid = leftover_pid(&d);
	assert_true(pid_gone(&pid));	/* reaped already */

	/* SIGTERM ignored: SIGKILL 500 ms later, sd-event reaps it after */
	set_argv(f, stubborn);
	run_step(f, NW_STEP_RENEW_DHCP, &d, 2000, NW_STEP_TIMEOUT);
	assert_true(d.o.duration_us >= 790000 && d.o.duration_us < 1300000);
	assert_non_null(strstr(d.o.leftover, "(SIGKILL)"));
	pid = leftover_pid(&d);
	assert_true(loop_until(e, pid_gone, &pid, 2000));
}

static void test_renew_dhcp_abandoned(void **state)
{
	static const char *const hang[] = { "/bin/sleep", "30", NULL };
	struct fx *f = *state;
	struct done_rec d = { 0 };
	char line[64];
	FILE *p;
	pid_t pid = 0;

	set_argv(f, hang);
	assert_int_equal(nw_steps_start(f->s, NW_STEP_RENEW_DHCP, on_done, &d), 0);
	sd_event_run(e, 0);
	/* our child, sleeping */
	p = popen("pgrep -P $PPID -x sleep", "r");
	assert_non_null(p);
	if (fgets(line, sizeof(line), p))
		pid = (pid_t)atoi(line);
	pclose(p);
	assert_true(pid > 0);
	nw_steps_free(f->s);	/* SIGKILL, reaped by sd-event */
	f->s = NULL;
	assert_int_equal(d.calls, 0);
	assert_true(loop_until(e, pid_gone, &pid, 2000));
	assert_int_equal(d.calls, 0);
}

/* --- kill_wildcard_owner ------------------------------------------------------------------ */

/* A child listening on 0.0.0.0:port; returns its pid and the port. */
static pid_t wildcard_child(uint16_t *port, bool ignore_term)
{
	int pfd[2];
	pid_t pid;
	uint16_t got = 0;

	assert_int_equal(pipe(pfd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct sockaddr_in a = { .sin_family = AF_INET };
		socklen_t len = sizeof(a);
		sigset_t none;
		int fd = socket(AF_INET, SOCK_STREAM, 0);

		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		if (ignore_term)
			signal(SIGTERM, SIG_IGN);
		if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 1) < 0 ||
		    getsockname(fd, (struct sockaddr *)&a, &len) < 0)
			_exit(1);
		got = ntohs(a.sin_port);
		if (write(pfd[1], &got, sizeof(got)) != sizeof(got))
			_exit(1);
		for (;;)
			pause();
	}
	close(pfd[1]);
	assert_int_equal(read(pfd[0], &got, sizeof(got)), (ssize_t)sizeof(got));
	close(pfd[0]);
	*port = got;
	return pid;
}

static void owner(struct fx *f, pid_t pid, uint16_t port)
{
	f->owners[f->n_owners++] = (struct nw_wildcard_owner){
		.pid = pid, .comm = "listener", .port = port, .proto = 6, .family = 4,
	};
}

static void test_kill_wildcard_owner(void **state)
{
	struct fx *f = *state;
	struct done_rec d;
	uint16_t port;
	pid_t pid;
	int status;

	pid = wildcard_child(&port, false);
	owner(f, 1, port);		/* never pid 1 */
	owner(f, getpid(), port);	/* never ourselves */
	owner(f, pid, port);
	set_dry_run(f, true);
	run_step(f, NW_STEP_KILL_WILDCARD_OWNER, &d, 3000, NW_STEP_DRY_RUN);
	assert_int_equal(kill(pid, 0), 0);
	set_dry_run(f, false);

	run_step(f, NW_STEP_KILL_WILDCARD_OWNER, &d, 3000, NW_STEP_CHANGED);
	assert_int_equal(d.o.changes, 1);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM);

	/* gone: nothing to do */
	run_step(f, NW_STEP_KILL_WILDCARD_OWNER, &d, 3000, NW_STEP_NOTHING);

	/* a listener on another port is not the one reported */
	f->n_owners = 0;
	pid = wildcard_child(&port, false);
	owner(f, pid, (uint16_t)(port + 1));
	run_step(f, NW_STEP_KILL_WILDCARD_OWNER, &d, 3000, NW_STEP_NOTHING);
	assert_non_null(strstr(d.o.detail, "no longer listens"));
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

static void test_kill_wildcard_owner_sigkill(void **state)
{
	struct fx *f = *state;
	struct done_rec d;
	uint16_t port;
	pid_t pid;
	int status;

	pid = wildcard_child(&port, true);
	owner(f, pid, port);
	f->cfg.step_timeout_ms = 300;
	run_step(f, NW_STEP_KILL_WILDCARD_OWNER, &d, 1000, NW_STEP_CHANGED);
	assert_non_null(strstr(d.o.leftover, "still alive at the deadline"));
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
}

/* --- reboot ----------------------------------------------------------------------------------- */

static unsigned reboots(struct fx *f)
{
	unsigned n = 99;

	assert_int_equal(nw_reboot_guard_count(f->state_dir, time(NULL), &n), 0);
	return n;
}

static void test_reboot_no_bus(void **state)
{
	struct fx *f = *state;
	struct done_rec d;

	f->cfg.max_reboots = 1;
	set_dry_run(f, true);
	run_step(f, NW_STEP_REBOOT, &d, 1000, NW_STEP_DRY_RUN);
	assert_int_equal(reboots(f), 0);
	set_dry_run(f, false);
	/* nothing to ask: FAILED, and nothing was counted */
	run_step(f, NW_STEP_REBOOT, &d, 1000, NW_STEP_FAILED);
	assert_string_equal(d.o.detail, "no system bus: cannot ask systemd to reboot");
	assert_int_equal(reboots(f), 0);
	f->cfg.max_reboots = 0;
	run_step(f, NW_STEP_REBOOT, &d, 1000, NW_STEP_SKIPPED);
	assert_string_equal(d.o.detail, "max_reboots (0) reached within 24 h");
}

/* --- restore_dns (no bus) ------------------------------------------------------------------- */

static void write_file(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
}

static void read_file(const char *path, char *buf, size_t size)
{
	FILE *fp = fopen(path, "r");
	size_t n;

	assert_non_null(fp);
	n = fread(buf, 1, size - 1, fp);
	buf[n] = 0;
	fclose(fp);
}

static void test_restore_dns_file(void **state)
{
	struct fx *f = *state;
	struct done_rec d;
	char path[128], buf[256];

	snprintf(path, sizeof(path), "%s/resolv.conf", f->state_dir);
	assert_non_null(f->cfg.resolv_conf = strdup(path));
	write_file(path, "nameserver 10.0.0.1\n");
	/* no saved copy yet */
	run_step(f, NW_STEP_RESTORE_DNS, &d, 1000, NW_STEP_SKIPPED);
	assert_string_equal(d.o.detail, "no saved copy yet");

	assert_int_equal(nw_resolvconf_save(path, f->state_dir), 1);
	run_step(f, NW_STEP_RESTORE_DNS, &d, 1000, NW_STEP_NOTHING);

	write_file(path, "nameserver 10.99.0.1 # a dead VPN's\n");
	set_dry_run(f, true);
	run_step(f, NW_STEP_RESTORE_DNS, &d, 1000, NW_STEP_DRY_RUN);
	read_file(path, buf, sizeof(buf));
	assert_string_equal(buf, "nameserver 10.99.0.1 # a dead VPN's\n");
	set_dry_run(f, false);

	run_step(f, NW_STEP_RESTORE_DNS, &d, 1000, NW_STEP_CHANGED);
	read_file(path, buf, sizeof(buf));
	assert_string_equal(buf, "nameserver 10.0.0.1\n");

	/* a symlink belongs to a resolver manager */
	assert_int_equal(unlink(path), 0);
	assert_int_equal(symlink("/run/resolver/resolv.conf", path), 0);
	run_step(f, NW_STEP_RESTORE_DNS, &d, 1000, NW_STEP_SKIPPED);
	assert_non_null(strstr(d.o.detail, "is a symlink (managed by a resolver)"));
}

/* --- the bus: a private dbus-daemon and fake services ----------------------------------------- */

struct fake_bus {
	struct private_bus pb;
	sd_bus *client, *svc;
	int reverted[8];
	size_t n_reverted;
	int renewed;
	bool renew_fails;
	char started[64], mode[64];
	char stopped[64], stop_mode[64];
	pid_t stop_pid;		/* what the fake StopUnit stops */
};

static struct fake_bus fb;

/* > 0: the call was answered here */
static int handled(int r)
{
	return r < 0 ? r : 1;
}

static int fake_handler(sd_bus_message *m, void *ud, sd_bus_error *ret_error)
{
	const char *member = sd_bus_message_get_member(m);
	int32_t ifindex;

	(void)ud;
	(void)ret_error;
	if (!member)
		return 0;
	if (!strcmp(member, "RevertLink") && sd_bus_message_read(m, "i", &ifindex) >= 0) {
		if (fb.n_reverted < 8)
			fb.reverted[fb.n_reverted++] = ifindex;
		return handled(sd_bus_reply_method_return(m, NULL));
	}
	if (!strcmp(member, "RenewLink") && sd_bus_message_read(m, "i", &ifindex) >= 0) {
		fb.renewed = ifindex;
		if (fb.renew_fails)
			return handled(sd_bus_reply_method_errorf(m,
					"org.freedesktop.network1.NoSuchLink",
					"Link %d not managed", ifindex));
		return handled(sd_bus_reply_method_return(m, NULL));
	}
	if (!strcmp(member, "StopUnit")) {
		const char *unit, *mode;

		if (sd_bus_message_read(m, "ss", &unit, &mode) < 0)
			return 0;
		snprintf(fb.stopped, sizeof(fb.stopped), "%s", unit);
		snprintf(fb.stop_mode, sizeof(fb.stop_mode), "%s", mode);
		if (fb.stop_pid > 0)
			kill(fb.stop_pid, SIGTERM);
		return handled(sd_bus_reply_method_return(m, "o",
							  "/org/freedesktop/systemd1/job/8"));
	}
	if (!strcmp(member, "StartUnit")) {
		const char *unit, *mode;

		if (sd_bus_message_read(m, "ss", &unit, &mode) < 0)
			return 0;
		snprintf(fb.started, sizeof(fb.started), "%s", unit);
		snprintf(fb.mode, sizeof(fb.mode), "%s", mode);
		return handled(sd_bus_reply_method_return(m, "o",
							  "/org/freedesktop/systemd1/job/7"));
	}
	return 0;
}

static int bus_setup(void **state)
{
	memset(&fb, 0, sizeof(fb));
	if (private_bus_start(&fb.pb) < 0)
		return 0;	/* the tests skip */
	setenv("DBUS_SYSTEM_BUS_ADDRESS", fb.pb.addr, 1);
	if (nw_sysbus_open(e, &fb.client) < 0 || private_bus_connect(&fb.pb, e, &fb.svc) < 0 ||
	    sd_bus_add_object(fb.svc, NULL, "/org/freedesktop/resolve1", fake_handler, NULL) < 0 ||
	    sd_bus_add_object(fb.svc, NULL, "/org/freedesktop/network1", fake_handler, NULL) < 0 ||
	    sd_bus_add_object(fb.svc, NULL, "/org/freedesktop/systemd1", fake_handler, NULL) < 0 ||
	    sd_bus_request_name(fb.svc, NW_BUS_RESOLVED, 0) < 0 ||
	    sd_bus_request_name(fb.svc, NW_BUS_NETWORKD, 0) < 0 ||
	    sd_bus_request_name(fb.svc, NW_BUS_SYSTEMD, 0) < 0)
		return -1;
	return setup(state);
}

static int bus_teardown(void **state)
{
	if (*state)
		teardown(state);
	fb.client = sd_bus_flush_close_unref(fb.client);
	fb.svc = sd_bus_flush_close_unref(fb.svc);
	unsetenv("DBUS_SYSTEM_BUS_ADDRESS");
	private_bus_stop(&fb.pb);
	return 0;
}

static struct fx *bus_fx(void **state)
{
	struct fx *f = *state;

	if (!f || !fb.client)
		skip();
	f->env.bus = fb.client;
	nw_steps_set_env(f->s, &f->env);
	return f;
}

static void test_sysbus_has_owner(void **state)
{
	bus_fx(state);
	assert_true(nw_sysbus_has_owner(fb.client, NW_BUS_RESOLVED, 1000));
	assert_true(nw_sysbus_has_owner(fb.client, NW_BUS_SYSTEMD, 1000));
	assert_false(nw_sysbus_has_owner(fb.client, NW_BUS_NM, 1000));
	assert_false(nw_sysbus_has_owner(NULL, NW_BUS_NM, 1000));
}

static void test_restore_dns_resolved(void **state)
{
	struct fx *f = bus_fx(state);
	struct done_rec d;

	tun("wg-worker-1");
	tun("wgx");
	run_step(f, NW_STEP_RESTORE_DNS, &d, 3000, NW_STEP_CHANGED);
	assert_int_equal(fb.n_reverted, 1);
	assert_int_equal(fb.reverted[0], (int)if_nametoindex("wg-worker-1"));
	assert_non_null(strstr(d.o.detail, "wg-worker-1"));
	sh("ip link del wg-worker-1");
	run_step(f, NW_STEP_RESTORE_DNS, &d, 3000, NW_STEP_NOTHING);
}

static void test_renew_dhcp_networkd(void **state)
{
	struct fx *f = bus_fx(state);
	struct done_rec d;

	veth_main();
	snprintf(f->main_if, sizeof(f->main_if), "eth-main");
	run_step(f, NW_STEP_RENEW_DHCP, &d, 3000, NW_STEP_CHANGED);
	assert_int_equal(fb.renewed, (int)if_nametoindex("eth-main"));
	fb.renew_fails = true;
	run_step(f, NW_STEP_RENEW_DHCP, &d, 3000, NW_STEP_FAILED);
	assert_non_null(strstr(d.o.detail, "not managed"));
}

static void test_reboot_bus(void **state)
{
	struct fx *f = bus_fx(state);
	struct done_rec d;

	f->cfg.max_reboots = 1;
	run_step(f, NW_STEP_REBOOT, &d, 3000, NW_STEP_CHANGED);
	assert_string_equal(d.o.detail, "reboot.target started");
	assert_string_equal(fb.started, "reboot.target");
	assert_string_equal(fb.mode, "replace-irreversibly");
	assert_int_equal(reboots(f), 1);
	/* the budget is spent */
	fb.started[0] = 0;
	run_step(f, NW_STEP_REBOOT, &d, 3000, NW_STEP_SKIPPED);
	assert_string_equal(d.o.detail, "max_reboots (1) reached within 24 h");
	assert_string_equal(fb.started, "");
}

/* the cgroup2 mount ("/sys/fs/cgroup", or ".../unified" on a hybrid host) */
static bool cgroup2_mount(char *buf, size_t size)
{
	char dev[64], dir[256], type[64];
	bool found = false;
	FILE *fp = fopen("/proc/self/mounts", "r");

	if (!fp)
		return false;
	while (!found && fscanf(fp, "%63s %255s %63s %*[^\n]", dev, dir, type) == 3)
		if (!strcmp(type, "cgroup2")) {
			snprintf(buf, size, "%s", dir);
			found = true;
		}
	fclose(fp);
	return found;
}

static void test_kill_wildcard_owner_unit(void **state)
{
	struct fx *f = bus_fx(state);
	struct done_rec d;
	char mnt[256], cg[300], procs[320], num[16];
	uint16_t port;
	pid_t pid;
	int status, fd;

	if (!cgroup2_mount(mnt, sizeof(mnt)))
		skip();
	snprintf(cg, sizeof(cg), "%s/nw-steps-test.service", mnt);
	if (mkdir(cg, 0755) < 0 && errno != EEXIST)
		skip();
	pid = wildcard_child(&port, false);
	snprintf(procs, sizeof(procs), "%s/cgroup.procs", cg);
	snprintf(num, sizeof(num), "%d", (int)pid);
	fd = open(procs, O_WRONLY);
	if (fd < 0 || write(fd, num, strlen(num)) < 0) {
		if (fd >= 0)
			close(fd);
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		rmdir(cg);
		skip();
	}
	close(fd);
	/* a service's process: stopped through systemd, not signalled by us */
	fb.stop_pid = pid;
	owner(f, pid, port);
	run_step(f, NW_STEP_KILL_WILDCARD_OWNER, &d, 3000, NW_STEP_CHANGED);
	assert_non_null(strstr(d.o.detail, "stopped nw-steps-test.service (pid"));
	assert_string_equal(fb.stopped, "nw-steps-test.service");
	assert_string_equal(fb.stop_mode, "replace");
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM);
	rmdir(cg);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
#define B(fn) cmocka_unit_test_setup_teardown(fn, bus_setup, bus_teardown)	/* on a bus */

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_restore_routes),
		T(test_remove_vpn_abandoned_worker),
		T(test_remove_vpn_hang),
		T(test_remove_vpn),
		T(test_remove_vpn_never_main),
		T(test_remove_vpn_dry_run),
		T(test_remove_stale),
		T(test_flush_neighbour),
		T(test_bounce_interface),
		T(test_renew_dhcp_command),
		T(test_renew_dhcp_timeout),
		T(test_renew_dhcp_abandoned),
		T(test_kill_wildcard_owner),
		T(test_kill_wildcard_owner_sigkill),
		T(test_reboot_no_bus),
		T(test_restore_dns_file),
		B(test_sysbus_has_owner),
		B(test_restore_dns_resolved),
		B(test_renew_dhcp_networkd),
		B(test_kill_wildcard_owner_unit),
		B(test_reboot_bus),
	};
	int r;

	if (geteuid() != 0 || unshare(CLONE_NEWNET) < 0) {
		print_message("test_recovery_steps: needs root (a private network namespace): "
			      "skipped\n");
		return 0;
	}
	if (sh("ip link set lo up") || sd_event_new(&e) < 0)
		return 1;
	r = cmocka_run_group_tests(tests, NULL, NULL);
	sd_event_unref(e);
	return r;
}
