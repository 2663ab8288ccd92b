// SPDX-License-Identifier: GPL-2.0-only
/*
 * netwardd: loads netward's BPF programs, keeps them attached and pinned,
 * turns their events into logs, history and streams, and answers netwardctl.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>

#include <arpa/inet.h>
#include <net/if.h>

#include "netward/bind_guard.h"
#include "netward/route_watch.h"
#include "bind_guard.h"
#include "bpf_pin.h"
#include "counters.h"
#include "cgroup.h"
#include "config.h"
#include "control.h"
#include "events.h"
#include "listeners.h"
#include "log.h"
#include "metrics.h"
#include "policy.h"
#include "route_guard.h"
#include "route_state.h"
#include "route_watch.h"
#include "quarantine.h"
#include "recovery_run.h"
#include "secret.h"
#include "segw.h"
#include "tunnels.h"
#include "quarantine_map.h"
#include "stability.h"
#include "churn.h"
#include "util.h"

#ifndef NW_VERSION
#define NW_VERSION "0.0.0"
#endif

struct daemon {
	sd_event *e;
	const char *config_path;
	bool config_explicit;
	bool config_found;
	const char *arg_pin_dir, *arg_socket, *arg_state_dir;
	bool dry_run;
	struct nw_cfg cfg;
	char cg_mount[PATH_MAX];
	char pin_dir[PATH_MAX];
	char socket[108];
	uint32_t netns;
	uint64_t netns_cookie;
	struct nw_bind_guard *bind;
	struct nw_route_watch *watch;
	struct nw_route_guard *guard;
	struct nw_quarantine *quar;
	bool lsm;
	struct nw_stability *stab;
	struct nw_churn_window *churn;
	bool pins_existed;
	struct autobind *autobinds[16];	/* listens whose port is still looked up */
	bool fexit;
	uint64_t rtnl_requests;
	unsigned pending_rules;
	sd_event_source *resync_rules;
	struct ring_buffer *rb;
	struct nw_drop_watch drops;	/* counters.events_lost reported so far */
	sd_event_source *drops_timer;
	struct nw_control *ctl;
	struct nw_history hist;
	int pin_lock_fd;
	uint64_t started_ns;
	double started_real_s;		/* Unix time, for netward_start_time_seconds */
	uint64_t events_seen, events_bad;
	unsigned reloads, reload_failures;
	char last_reload_error[NW_ERR_LEN];
	/* probes and recovery (issue 5) */
	struct nw_recovery_run *rec;
	struct nw_tunnels *tunnels;	/* issue 6 */
	struct nw_segw *segw;		/* issue 7 */
	struct nw_metrics *metrics;	/* issue 8: the Prometheus textfile */
	const char *state_dir;
	char state_file[PATH_MAX];	/* the route guard's protected.json, "" = none */
	struct nw_wildcard_owner owners[32];	/* bind guard reports, a ring */
	size_t n_owners, owner_next;
};

static void usage(FILE *f)
{
	fprintf(f,
"Usage: netwardd [OPTIONS]\n"
"\n"
"Guards the network namespace it runs in, and says who did what:\n"
"  - wildcard binds (0.0.0.0, ::) are allowed, audited, denied or rewritten to\n"
"    loopback in the kernel; listen() without bind() is reported or killed;\n"
"  - protected routes (the default routes, routes.protect) and rules (the\n"
"    kernel's defaults, rules.protect) are put back at once when deleted;\n"
"  - rtnetlink writes are counted per cgroup, bursts raise rule_storm, and a\n"
"    quarantined cgroup's writes are stopped;\n"
"  - netwardctl wait-stable answers once the network has been quiet;\n"
"  - probes (icmp, tcp, http, https, dns) say whether the host is online;\n"
"    when it is not, a recovery ladder repairs it step by step.\n"
"\n"
"Options:\n"
"  --config PATH     configuration file (default " NW_DEFAULT_CONFIG ";\n"
"                    built-in defaults when that file does not exist)\n"
"  --pin-dir DIR     where maps and links are pinned (default " NW_DEFAULT_PIN_DIR ")\n"
"  --socket PATH     control socket (default " NW_DEFAULT_SOCKET ")\n"
"  --state-dir DIR   state kept across restarts (default " NW_DEFAULT_STATE_DIR "):\n"
"                    the protected routes and rules (protected.json), the\n"
"                    known-good resolv.conf copy and the reboot budget\n"
"  --foreground      accepted for compatibility: netwardd never forks\n"
"  --dry-run         observe and log; deny, rewrite and kill become audit\n"
"  --check-config    validate the configuration and exit (0 valid, 1 not)\n"
"  --version         print the version and exit\n"
"  --help            this text\n"
"\n"
"Signals: SIGHUP reloads the configuration (a bad file is rejected and the\n"
"running one stays); SIGTERM detaches and unpins unless bpf.keep_on_exit is\n"
"true; after SIGKILL the pinned links keep enforcing.\n"
"\n"
"Examples:\n"
"  netwardd --check-config --config /etc/netward/netward.json\n"
"  netwardd --config /etc/netward/netward.json --dry-run\n"
"  kill -HUP $(pidof netwardd)        # or: systemctl reload netwardd\n"
"  ip netns exec lab netwardd --config lab.json --pin-dir /sys/fs/bpf/netward-lab \\\n"
"      --socket /run/netward/lab.sock\n"
"\n"
"See netwardd(8), netward.json(5), netwardctl(8).\n");
}

/* --- events ------------------------------------------------------------ */

static int event_priority(const cJSON *ev)
{
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(ev, "type");
	const char *type = cJSON_IsString(t) ? t->valuestring : "";

	static const char *const alarms[] = {
		"bind_denied", "wildcard_listener", "route_restore_failed", "route_flapping",
		"rule_storm", "rule_restore_failed", "rule_flapping", "quarantined", "no_route",
		"link_down", "probe_failed", "connectivity_lost", "recovery_failed", "segw_down",
		"segw_retry_exhausted", "events_lost", NULL,
	};

	for (const char *const *a = alarms; *a; a++)
		if (!strcmp(type, *a))
			return LOG_WARNING;
	if (!strcmp(type, "daemon"))
		return LOG_INFO;
	return LOG_NOTICE;
}

/* journald: MESSAGE_ID, NETWARD_EVENT, NETWARD_<FIELD> for every field, and
 * the whole event as NETWARD_JSON. */
static void log_event(unsigned type, const cJSON *ev, const char *json)
{
	char summary[1024], mid[33];
	char bufs[32][256];
	const char *fields[36];
	size_t n = 0;

	nw_event_summary(ev, summary, sizeof(summary));
	if (!nw_log_to_journal()) {
		nw_log(event_priority(ev), "%s", summary);
		return;
	}
	nw_event_message_id(type, mid);
	snprintf(bufs[n], sizeof(bufs[n]), "MESSAGE_ID=%s", mid);
	fields[n] = bufs[n];
	n++;
	for (const cJSON *it = ev->child; it && n < 30; it = it->next) {
		char key[64];
		size_t k;

		for (k = 0; it->string[k] && k < sizeof(key) - 1; k++)
			key[k] = (char)(it->string[k] >= 'a' && it->string[k] <= 'z'
						? it->string[k] - 32 : it->string[k]);
		key[k] = 0;
		if (!strcmp(key, "TYPE"))
			strcpy(key, "EVENT");
		if (cJSON_IsString(it))
			snprintf(bufs[n], sizeof(bufs[n]), "NETWARD_%s=%s", key, it->valuestring);
		else if (cJSON_IsNumber(it))
			snprintf(bufs[n], sizeof(bufs[n]), "NETWARD_%s=%.0f", key, it->valuedouble);
		else if (cJSON_IsBool(it))
			snprintf(bufs[n], sizeof(bufs[n]), "NETWARD_%s=%s", key,
				 cJSON_IsTrue(it) ? "true" : "false");
		else
			continue;
		fields[n] = bufs[n];
		n++;
	}
	{
		static char jbuf[4096];

		snprintf(jbuf, sizeof(jbuf), "NETWARD_JSON=%s", json);
		fields[n++] = jbuf;
	}
	fields[n] = NULL;
	nw_log_fields(event_priority(ev), summary, fields);
}

/* Events made in user space name the actor's cgroup by id: add the path. */
static void add_cgroup_path(struct daemon *d, cJSON *o)
{
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "cgroup_id");
	char path[PATH_MAX];

	if (cJSON_IsNumber(id) && !cJSON_GetObjectItemCaseSensitive(o, "cgroup") &&
	    nw_cgroup_path_from_id(d->cg_mount, (uint64_t)id->valuedouble, path, sizeof(path)) == 0)
		cJSON_AddStringToObject(o, "cgroup", path);
}

/* A wildcard bind an explicit binds.rules entry reported (not the default
 * action, not the start-up scan: sshd on 0.0.0.0:22 is no suspect):
 * recovery step kill_wildcard_owner may stop it. */
static void note_owner(struct daemon *d, const cJSON *ev)
{
	const cJSON *rule = cJSON_GetObjectItemCaseSensitive(ev, "rule");

	const cJSON *pid = cJSON_GetObjectItemCaseSensitive(ev, "pid");
	const cJSON *port = cJSON_GetObjectItemCaseSensitive(ev, "port");
	const cJSON *comm = cJSON_GetObjectItemCaseSensitive(ev, "comm");
	const cJSON *proto = cJSON_GetObjectItemCaseSensitive(ev, "proto");
	const cJSON *fam = cJSON_GetObjectItemCaseSensitive(ev, "family");
	const cJSON *cg = cJSON_GetObjectItemCaseSensitive(ev, "cgroup_id");
	struct nw_wildcard_owner *o;

	if (!cJSON_IsString(rule) || !strcmp(rule->valuestring, nw_match_name(NW_MATCH_DEFAULT)) ||
	    !cJSON_IsNumber(pid) || pid->valuedouble <= 0 || !cJSON_IsNumber(port))
		return;
	o = &d->owners[d->owner_next];
	memset(o, 0, sizeof(*o));
	o->pid = (pid_t)pid->valuedouble;
	o->port = (uint16_t)port->valuedouble;
	o->proto = cJSON_IsString(proto) && !strcmp(proto->valuestring, "udp") ? 17 : 6;
	o->family = cJSON_IsNumber(fam) ? (uint8_t)fam->valuedouble : 4;
	o->cgroup_id = cJSON_IsNumber(cg) ? (uint64_t)cg->valuedouble : 0;
	if (cJSON_IsString(comm))
		snprintf(o->comm, sizeof(o->comm), "%s", comm->valuestring);
	d->owner_next = (d->owner_next + 1) % NW_ARRAY_SIZE(d->owners);
	if (d->n_owners < NW_ARRAY_SIZE(d->owners))
		d->n_owners++;
}

/* Events that say the network just broke or was just repaired start every
 * probe at once. */
static void after_dispatch(struct daemon *d, unsigned type, const cJSON *ev)
{
	switch (type) {
	case NW_EV_BIND_AUDIT:
		note_owner(d, ev);
		break;
	case NW_EV_NO_ROUTE: {
		const cJSON *pid = cJSON_GetObjectItemCaseSensitive(ev, "pid");

		/* our own probe found no route: it knows already */
		if (cJSON_IsNumber(pid) && (pid_t)pid->valuedouble == getpid())
			break;
	}
		/* fall through */
	case NW_EV_ROUTE_DELETED:
	case NW_EV_ROUTE_RESTORED:
	case NW_EV_LINK_DOWN:
	case NW_EV_RULE_RESTORED:
		nw_recovery_run_kick(d->rec, nw_event_type_name(type));
		break;
	default:
		break;
	}
}

static void dispatch(struct daemon *d, unsigned type, cJSON *ev)
{
	char *json;
	cJSON *actor = cJSON_GetObjectItemCaseSensitive(ev, "actor");

	add_cgroup_path(d, ev);
	if (cJSON_IsObject(actor))
		add_cgroup_path(d, actor);
	cJSON_ArrayForEach(actor, cJSON_GetObjectItemCaseSensitive(ev, "actors"))
		add_cgroup_path(d, actor);
	json = cJSON_PrintUnformatted(ev);

	if (!json)
		return;
	d->events_seen++;
	nw_metrics_note_event(d->metrics, type, ev);
	nw_history_add(&d->hist, type, json);
	if (d->ctl)
		nw_control_broadcast(d->ctl, type, json);
	log_event(type, ev, json);
	free(json);
	after_dispatch(d, type, ev);
}

static void daemon_event(struct daemon *d, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void daemon_event(struct daemon *d, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	cJSON *ev;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (!(ev = nw_event_daemon(d->netns, msg)))
		return;
	dispatch(d, NW_EV_DAEMON, ev);
	cJSON_Delete(ev);
}

static void on_cgroup_change(struct daemon *d);
static void dispatch(struct daemon *d, unsigned type, cJSON *ev);

/* Events the kernel could not queue are counted, never silent: once a
 * second (and at start) each increase of counters.events_lost becomes an
 * events_lost event, after what the ring buffer still holds. */
#define DROPS_INTERVAL_US (1000 * 1000)

static void check_drops(struct daemon *d)
{
	struct nw_counters sum;
	cJSON *ev;

	if (nw_counters_read(nw_bind_guard_counters_fd(d->bind), &sum))
		return;
	if (!(ev = nw_event_drops(&d->drops, d->netns, sum.events_lost)))
		return;
	ring_buffer__consume(d->rb);
	dispatch(d, NW_EV_EVENTS_LOST, ev);
	cJSON_Delete(ev);
}

static int on_drops_timer(sd_event_source *s, uint64_t usec, void *ud)
{
	(void)usec;
	check_drops(ud);
	sd_event_source_set_time_relative(s, DROPS_INTERVAL_US);
	sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
	return 0;
}

/* May netward quarantine this cgroup on its own? Never the root, never the
 * cgroup netwardd runs in or one above it (it would be killed for the very
 * reverts it makes). */
static bool may_auto_quarantine(const struct daemon *d, uint64_t id)
{
	char self[PATH_MAX] = "", target[PATH_MAX];
	size_t n;

	if (!id || nw_cgroup_path_from_id(d->cg_mount, id, target, sizeof(target)) ||
	    !strcmp(target, "/"))
		return false;
	{
		char *text = NULL, *line;

		if (nw_read_file("/proc/self/cgroup", &text, 65536) == 0 &&
		    (line = strstr(text, "0::"))) {
			line += 3;
			line[strcspn(line, "\n")] = 0;
			snprintf(self, sizeof(self), "%s", line);
		}
		free(text);
	}
	n = strlen(target);
	if (!strncmp(self, target, n) && (self[n] == '/' || !self[n]))
		return false;
	return true;
}

/* rules.auto_quarantine: a storm whose top actor's cgroup made at least
 * half of the window's changes gets that cgroup quarantined. */
static void auto_quarantine(struct daemon *d)
{
	struct nw_churn_actor top;
	uint32_t total, in_window = nw_churn_count(d->churn, nw_now_ns(CLOCK_MONOTONIC));
	int fd, r;
	cJSON *ev;

	if (nw_churn_top(d->churn, &top, 1) != 1)
		return;
	total = top.route + top.rule + top.link + top.addr;
	if (2 * total < in_window || !may_auto_quarantine(d, top.cgroup_id))
		return;
	fd = nw_quarantine_map_open(d->pin_dir);
	if (fd < 0)
		return;
	{
		uint32_t flags;

		/* already quarantined (by hand, or earlier): leave the entry as it is */
		if (nw_quarantine_get(fd, top.cgroup_id, &flags) == 0 && (flags & NW_QUAR_ACTIVE)) {
			close(fd);
			return;
		}
	}
	r = d->dry_run ? 0 : nw_quarantine_add(fd, top.cgroup_id, NW_QUAR_ACTIVE | NW_QUAR_AUTO);
	close(fd);
	if (r < 0 || r == 1)
		return;		/* failed, or quarantined already */
	ev = nw_event_new(NW_EV_QUARANTINED, d->netns);
	if (!ev)
		return;
	cJSON_AddStringToObject(ev, "action", d->dry_run ? "would_auto_quarantine" : "auto_quarantined");
	cJSON_AddNumberToObject(ev, "pid", top.tgid);
	cJSON_AddStringToObject(ev, "comm", top.comm);
	cJSON_AddNumberToObject(ev, "uid", top.uid);
	cJSON_AddNumberToObject(ev, "cgroup_id", (double)top.cgroup_id);
	cJSON_AddNumberToObject(ev, "count", total);
	cJSON_AddNumberToObject(ev, "in_window", in_window);
	if (d->dry_run)
		cJSON_AddBoolToObject(ev, "dry_run", 1);
	cJSON_AddStringToObject(ev, "message", "rules.auto_quarantine: the cgroup behind a rule storm");
	dispatch(d, NW_EV_QUARANTINED, ev);
	cJSON_Delete(ev);
}

static void on_rtnl_request(struct daemon *d, const struct nw_rtnl_request *r)
{
	d->rtnl_requests++;
	if (d->churn && nw_churn_add(d->churn, r, nw_now_ns(CLOCK_MONOTONIC))) {
		cJSON *ev = nw_event_new(NW_EV_RULE_STORM, d->netns);

		if (ev) {
			nw_churn_storm_json(d->churn, ev);
			cJSON_AddStringToObject(ev, "message", "rtnetlink changes above the storm threshold");
			dispatch(d, NW_EV_RULE_STORM, ev);
			cJSON_Delete(ev);
		}
		if (d->cfg.rules_cfg.auto_quarantine)
			auto_quarantine(d);
	}
	if (d->guard)
		nw_route_guard_note_request(d->guard, r);
	if (r->quarantined)
		nw_quarantine_note_request(d->quar, r);
	log_debug("rtnl request %u from pid %u (%.16s): family %u table %u dst_len %u", r->nlmsg_type,
		  r->hdr.tgid, r->hdr.comm, r->family, r->table, r->dst_len);
}

/* The kernel picks the port of a listen() without bind() after the
 * tracepoint fired, and only then makes the socket findable: look it up by
 * inode, again a few times 2 ms apart while the listen() is still running,
 * then report the event (with port 0 if the listener is already gone). */
#define AUTOBIND_TRIES 5

struct autobind {
	struct daemon *d;
	sd_event_source *timer;
	cJSON *ev;
	uint64_t ino;
	int tries;
};

static bool fill_autobind_port(cJSON *ev, uint64_t ino)
{
	uint16_t port;

	if (!ino || nw_listener_port(ino, &port) || !port)
		return false;
	cJSON_ReplaceItemInObject(ev, "port", cJSON_CreateNumber(port));
	return true;
}

static void autobind_done(struct autobind *a)
{
	size_t i;

	for (i = 0; i < NW_ARRAY_SIZE(a->d->autobinds); i++)
		if (a->d->autobinds[i] == a)
			a->d->autobinds[i] = NULL;
	sd_event_source_disable_unref(a->timer);
	cJSON_Delete(a->ev);
	free(a);
}

static int on_autobind_retry(sd_event_source *s, uint64_t usec, void *ud)
{
	struct autobind *a = ud;
	(void)usec;

	if (!fill_autobind_port(a->ev, a->ino) && ++a->tries < AUTOBIND_TRIES) {
		sd_event_source_set_time_relative(s, 2000);
		sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
		return 0;
	}
	dispatch(a->d, NW_EV_WILDCARD_LISTENER, a->ev);
	autobind_done(a);
	return 0;
}

/* Returns true when the event was taken over (reported later). */
static bool defer_autobind(struct daemon *d, cJSON *ev, const struct nw_bind_event *e)
{
	struct autobind *a;
	size_t i;

	if (e->action == NW_ACT_KILL || !e->sock_ino || fill_autobind_port(ev, e->sock_ino))
		return false;	/* killed: gone; or found at once */
	for (i = 0; i < NW_ARRAY_SIZE(d->autobinds) && d->autobinds[i]; i++)
		;
	if (i == NW_ARRAY_SIZE(d->autobinds) || !(a = calloc(1, sizeof(*a))))
		return false;	/* too many at once: report without the port */
	a->d = d;
	a->ev = ev;
	a->ino = e->sock_ino;
	if (sd_event_add_time_relative(d->e, &a->timer, CLOCK_MONOTONIC, 2000, 100,
				       on_autobind_retry, a) < 0) {
		free(a);
		return false;
	}
	d->autobinds[i] = a;
	return true;
}

static int on_ring(void *ctx, void *data, size_t len)
{
	struct daemon *d = ctx;
	const struct nw_event_hdr *h = data;
	cJSON *ev;

	if (len >= sizeof(*h) && h->type == NW_EV_CGROUP_CHANGE) {
		on_cgroup_change(d);
		return 0;
	}
	if (len >= sizeof(*h) && h->type == NW_EV_RTNL_REQUEST) {
		/* not an event for users: it names the actor of a change */
		if (len >= sizeof(struct nw_rtnl_request))
			on_rtnl_request(d, data);
		return 0;
	}
	ev = nw_event_decode(data, len, d->cg_mount);

	if (!ev) {
		d->events_bad++;
		log_debug("events: undecodable record of %zu bytes", len);
		return 0;
	}
	if ((h->flags & NW_EVF_AUTOBIND) && defer_autobind(d, ev, data))
		return 0;
	dispatch(d, h->type == NW_EV_NO_ROUTE_RAW ? NW_EV_NO_ROUTE : h->type, ev);
	cJSON_Delete(ev);
	return 0;
}

static int on_ring_io(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct daemon *d = userdata;
	(void)s;
	(void)fd;
	(void)revents;

	ring_buffer__consume(d->rb);
	return 0;
}

/* --- route guard ---------------------------------------------------------- */

static void guard_emit(void *ud, unsigned type, cJSON *ev)
{
	dispatch(ud, type, ev);
}

/* The request events of a deletion were submitted before the kernel acted
 * on it: consuming the ring buffer first means they are known. */
static void guard_drain(void *ud)
{
	struct daemon *d = ud;

	if (d->rb)
		ring_buffer__consume(d->rb);
}

/* Every route, rule, link or address notification, and lost ones (nlh
 * NULL): the namespace is not quiet (wait-stable). */
static void guard_changed(void *ud, const struct nlmsghdr *nlh)
{
	struct daemon *d = ud;
	(void)nlh;

	nw_stability_changed(d->stab);
}

static void guard_log(void *ud, int prio, const char *msg)
{
	(void)ud;
	nw_log(prio, "route-guard: %s", msg);
}

static const struct nw_route_guard_ops guard_ops = {
	.emit = guard_emit,
	.drain_requests = guard_drain,
	.changed = guard_changed,
	.log = guard_log,
};

/* quarantine reverts what killed writers did; it drains the ring buffer
 * before notifications like the route guard */
static const struct nw_quarantine_ops quar_ops = {
	.emit = guard_emit,
	.drain_requests = guard_drain,
};

static struct nw_route_guard_cfg guard_cfg(const struct daemon *d, const struct nw_cfg *cfg)
{
	struct nw_route_guard_cfg g = cfg->routes;

	g.dry_run = d->dry_run;
	g.state_file = d->state_file[0] ? d->state_file : NULL;
	return g;
}

/* --- probes and recovery (issue 5) --------------------------------------- */

static int rec_restore_routes(void *ud, bool dry_run, char *detail, size_t len)
{
	struct daemon *d = ud;

	if (!d->guard) {
		snprintf(detail, len, "the route guard is not running");
		return -ENODEV;
	}
	return nw_route_guard_restore_missing(d->guard, dry_run, detail, len);
}

static void rec_main_interface(void *ud, char out[IF_NAMESIZE])
{
	struct daemon *d = ud;
	const struct nw_rt *rt[8];
	size_t n = d->guard ? nw_route_guard_defaults(d->guard, rt, NW_ARRAY_SIZE(rt)) : 0;

	out[0] = 0;
	for (size_t i = 0; i < n; i++)
		if (rt[i]->n_nh && rt[i]->nh[0].ifindex && if_indextoname((unsigned)rt[i]->nh[0].ifindex, out))
			return;
	out[0] = 0;
}

static size_t rec_gateways(void *ud, struct nw_gateway *out, size_t max)
{
	struct daemon *d = ud;
	const struct nw_rt *rt[8];
	size_t n = d->guard ? nw_route_guard_defaults(d->guard, rt, NW_ARRAY_SIZE(rt)) : 0, k = 0;

	for (size_t i = 0; i < n; i++)
		for (unsigned j = 0; j < rt[i]->n_nh && k < max; j++) {
			const struct nw_rt_nh *nh = &rt[i]->nh[j];

			if (!nh->gw_family)
				continue;
			out[k].family = nh->gw_family;
			memcpy(out[k].addr, nh->gateway, sizeof(out[k].addr));
			out[k].ifindex = nh->ifindex;
			k++;
		}
	return k;
}

static bool rec_rule_protected(void *ud, const struct nw_rule *r)
{
	struct daemon *d = ud;

	return d->guard && nw_route_guard_rule_protected(d->guard, r);
}

static size_t rec_wildcard_owners(void *ud, struct nw_wildcard_owner *out, size_t max)
{
	struct daemon *d = ud;
	size_t n = 0;

	for (size_t i = 0; i < d->n_owners && n < max; i++) {
		size_t k = (d->owner_next + NW_ARRAY_SIZE(d->owners) - 1 - i) % NW_ARRAY_SIZE(d->owners);

		out[n++] = d->owners[k];
	}
	return n;
}

static void notify_status(struct daemon *d);

static void rec_emit(void *ud, unsigned type, cJSON *ev)
{
	dispatch(ud, type, ev);
	/* probe_ok comes on a probe's first answer and on its recovery: the
	 * first verdict changes STATUS= from "unknown" too */
	if (type == NW_EV_CONNECTIVITY_LOST || type == NW_EV_CONNECTIVITY_RESTORED ||
	    type == NW_EV_RECOVERY_STEP || type == NW_EV_PROBE_OK)
		notify_status(ud);
}

static const struct nw_recovery_run_ops rec_ops = { .emit = rec_emit };

static int load_tokens(struct daemon *d, const struct nw_cfg *cfg, struct nw_secret ***out,
		       char *err, size_t errlen);

static void tunnels_emit(void *ud, unsigned type, cJSON *ev)
{
	dispatch(ud, type, ev);
	if (type == NW_EV_UNIT_STARTED || type == NW_EV_UNIT_STOPPED || type == NW_EV_TUNNEL_STATE)
		notify_status(ud);
}

static const struct nw_tunnels_ops tunnels_ops = { .emit = tunnels_emit };

/* Starts the tunnel poller for cfg, or hands it cfg (a reload); without
 * tunnels in cfg a running poller stops. */
static int start_tunnels(struct daemon *d, const struct nw_cfg *cfg, char *err, size_t errlen)
{
	struct nw_secret **tokens = NULL;
	int r;

	if (!cfg->tunnels.enabled) {
		nw_tunnels_free(d->tunnels);
		d->tunnels = NULL;
		return 0;
	}
	struct nw_tunnels_cfg tc = cfg->tunnels;

	tc.dry_run = d->dry_run;
	tc.state_dir = d->state_dir;	/* tunnels.json: the backup units it started */
	if ((r = load_tokens(d, cfg, &tokens, err, errlen)))
		return r;
	/* the poller owns the tokens from here on, also when it fails */
	if (d->tunnels)
		r = nw_tunnels_reconfigure(d->tunnels, &tc, tokens);
	else
		r = nw_tunnels_new(&d->tunnels, d->e, d->netns, &tc, tokens, &tunnels_ops, d);
	free(tokens);
	if (r)
		snprintf(err, errlen, "tunnels: %s", strerror(-r));
	return r;
}

static void segw_emit(void *ud, unsigned type, cJSON *ev)
{
	dispatch(ud, type, ev);
	notify_status(ud);
}

static const struct nw_segw_ops segw_ops = { .emit = segw_emit };

/* The PSKs of segw.connections (NULL where there is none). */
static int load_psks(struct daemon *d, const struct nw_cfg *cfg, struct nw_secret ***out,
		     char *err, size_t errlen)
{
	size_t n = cfg->segw.n_conns;
	struct nw_secret **p = calloc(n ? n : 1, sizeof(*p));
	char msg[NW_ERR_LEN];
	int r = 0;

	if (!p)
		return -ENOMEM;
	for (size_t i = 0; i < n && !r; i++) {
		const char *path = cfg->segw.conns[i].psk_file;
		size_t j;

		if (!path)
			continue;
		for (j = 0; j < i; j++)
			if (cfg->segw.conns[j].psk_file && !strcmp(cfg->segw.conns[j].psk_file, path))
				break;
		if (j < i) {
			p[i] = nw_secret_ref(p[j]);
			continue;
		}
		if ((r = nw_secret_load(path, &p[i], msg, sizeof(msg))))
			snprintf(err, errlen, "%s: segw.connections[%zu].psk_file: %s",
				 d->config_found ? d->config_path : "(defaults)", i, msg);
	}
	if (r) {
		for (size_t i = 0; i < n; i++)
			nw_secret_free(p[i]);
		free(p);
		return r;
	}
	*out = p;
	return 0;
}

/* As start_tunnels, for the SEGW connections. */
static int start_segw(struct daemon *d, const struct nw_cfg *cfg, char *err, size_t errlen)
{
	struct nw_secret **psks = NULL;
	int r;

	if (!cfg->segw.enabled) {
		nw_segw_free(d->segw);
		d->segw = NULL;
		return 0;
	}
	struct nw_segw_cfg sc = cfg->segw;

	sc.dry_run = d->dry_run;
	if ((r = load_psks(d, cfg, &psks, err, errlen)))
		return r;
	if (d->segw)
		r = nw_segw_reconfigure(d->segw, &sc, psks);
	else
		r = nw_segw_new(&d->segw, d->e, d->netns, &sc, psks, &segw_ops, d);
	free(psks);
	if (r)
		snprintf(err, errlen, "segw: %s", strerror(-r));
	return r;
}

/* <state_dir>/protected.json for the route guard; the directory is made
 * when missing. When that fails, one warning and no state file. Under
 * --dry-run the file is only read: nothing is made. */
static void prepare_state_file(struct daemon *d)
{
	int r;

	d->state_file[0] = 0;
	if ((r = nw_path(d->state_file, sizeof(d->state_file), "%s/%s", d->state_dir,
			 NW_STATE_FILE)) ||
	    (!d->dry_run && (r = nw_mkdir_p(d->state_dir, 0755)) < 0)) {
		d->state_file[0] = 0;
		log_warn("route-guard: state dir %s: %s: the protected routes and rules are not "
			 "kept across a restart", d->state_dir, strerror(-r));
	}
}

static int start_recovery(struct daemon *d)
{
	struct nw_steps_env env = {
		.e = d->e,
		.dry_run = d->dry_run,
		.state_dir = d->state_dir,
		.cg_mount = d->cg_mount,
		.ud = d,
		.restore_routes = rec_restore_routes,
		.main_interface = rec_main_interface,
		.gateways = rec_gateways,
		.rule_protected = rec_rule_protected,
		.wildcard_owners = rec_wildcard_owners,
	};
	int r;

	if (d->cfg.recovery.enabled && (r = nw_mkdir_p(d->state_dir, 0755)) < 0)
		log_warn("recovery: state dir %s: %s (reboot budget and resolv.conf copy "
			 "unavailable)", d->state_dir, strerror(-r));
	r = nw_recovery_run_new(&d->rec, d->e, d->netns, d->cfg.probes, d->cfg.n_probes,
				&d->cfg.recovery, &env, &rec_ops, d);
	if (r)
		log_err("probes: %s", strerror(-r));
	return r;
}

/* --- start-up scan ------------------------------------------------------ */

static void pid_cgroup(pid_t pid, char *out, size_t size)
{
	char path[64], *line = NULL;
	size_t cap = 0;
	FILE *f;

	out[0] = 0;
	snprintf(path, sizeof(path), "/proc/%d/cgroup", pid);
	if (!(f = fopen(path, "re")))
		return;
	while (getline(&line, &cap, f) > 0)
		if (!strncmp(line, "0::", 3)) {
			line[strcspn(line, "\n")] = 0;
			snprintf(out, size, "%s", line + 3);
			break;
		}
	free(line);
	fclose(f);
}

static void scan_listeners(struct daemon *d)
{
	struct nw_listener *v = NULL;
	int n = nw_scan_wildcard_listeners(&v, 1);

	if (n < 0) {
		log_warn("listener scan: %s", strerror(-n));
		return;
	}
	for (int i = 0; i < n; i++) {
		cJSON *ev = nw_event_new(NW_EV_WILDCARD_LISTENER, d->netns);
		char a[64], cg[PATH_MAX], abs[PATH_MAX];
		uint64_t id;

		if (!ev)
			break;
		if (v[i].pid) {
			cJSON_AddNumberToObject(ev, "pid", v[i].pid);
			cJSON_AddStringToObject(ev, "comm", v[i].comm);
		}
		cJSON_AddNumberToObject(ev, "uid", v[i].uid);
		if (v[i].pid) {
			pid_cgroup(v[i].pid, cg, sizeof(cg));
			if (cg[0]) {
				cJSON_AddStringToObject(ev, "cgroup", cg);
				if (nw_cgroup_abs(d->cg_mount, cg, abs, sizeof(abs)) == 0 &&
				    nw_cgroup_id(abs, &id) == 0)
					cJSON_AddNumberToObject(ev, "cgroup_id", (double)id);
			}
		}
		cJSON_AddNumberToObject(ev, "family", v[i].family);
		cJSON_AddStringToObject(ev, "proto", nw_proto_name(v[i].proto));
		inet_ntop(v[i].sock_family, v[i].addr, a, sizeof(a));
		cJSON_AddStringToObject(ev, "addr", a);
		cJSON_AddNumberToObject(ev, "port", v[i].port);
		cJSON_AddStringToObject(ev, "action", "audit");
		cJSON_AddStringToObject(ev, "source", "scan");
		cJSON_AddNumberToObject(ev, "inode", v[i].inode);
		dispatch(d, NW_EV_WILDCARD_LISTENER, ev);
		cJSON_Delete(ev);
	}
	free(v);
}

/* --- metrics (issue 8): the state at each write of metrics.textfile -------- */

static void metrics_collect(void *ud, struct nw_metrics_input *in)
{
	struct daemon *d = ud;

	in->version = NW_VERSION;
	in->start_time_s = d->started_real_s;
	in->has_bpf = d->bind && !nw_counters_read(nw_bind_guard_counters_fd(d->bind), &in->bpf);
	/* the modules' status JSON, which the writer deletes */
	if (d->guard && (in->route_guard = cJSON_CreateObject()))
		nw_route_guard_status(d->guard, in->route_guard);
	if (d->rec && (in->connectivity = cJSON_CreateObject()))
		nw_recovery_run_status(d->rec, in->connectivity);
	if (d->tunnels && (in->tunnels = cJSON_CreateObject()))
		nw_tunnels_status(d->tunnels, in->tunnels);
	if (d->segw && (in->segw = cJSON_CreateObject()))
		nw_segw_status(d->segw, in->segw);
	in->reloads = d->reloads;
	in->reload_failures = d->reload_failures;
}

static const struct nw_metrics_ops metrics_ops = { .collect = metrics_collect };

static void configure_metrics(struct daemon *d)
{
	int r = nw_metrics_configure(d->metrics, d->e, &d->cfg.metrics, &metrics_ops, d);

	if (r)
		log_err("metrics: %s (no metrics textfile)", strerror(-r));
}

/* --- configuration -------------------------------------------------------- */

static int load_config(struct daemon *d, struct nw_cfg *cfg, char *err, size_t errlen)
{
	char msg[NW_ERR_LEN];
	int r;

	r = nw_cfg_load(d->config_path, cfg, err, errlen);
	if (r == -ENOENT && !d->config_explicit) {
		nw_cfg_defaults(cfg);
		d->config_found = false;
	} else if (r) {
		return r;
	} else {
		d->config_found = true;
	}
	if ((r = nw_cfg_check_cgroups(cfg, d->cg_mount, msg, sizeof(msg))) ||
	    (r = nw_cfg_check_secrets(cfg, msg, sizeof(msg)))) {
		snprintf(err, errlen, "%s: %s", d->config_found ? d->config_path : "(defaults)", msg);
		nw_cfg_free(cfg);
	}
	return r;
}

/* The tokens of tunnels.watch, one each (NULL-padded array of n). */
static int load_tokens(struct daemon *d, const struct nw_cfg *cfg, struct nw_secret ***out,
		       char *err, size_t errlen)
{
	size_t n = cfg->tunnels.n_watch;
	struct nw_secret **t = calloc(n ? n : 1, sizeof(*t));
	char msg[NW_ERR_LEN];
	int r = 0;

	if (!t)
		return -ENOMEM;
	for (size_t i = 0; i < n && !r; i++) {
		const char *path = cfg->tunnels.watch[i].token_file;
		size_t j;

		/* one mapping a file, whatever the number of tunnels naming it */
		for (j = 0; j < i && strcmp(cfg->tunnels.watch[j].token_file, path); j++)
			;
		if (j < i) {
			t[i] = nw_secret_ref(t[j]);
			continue;
		}
		if ((r = nw_secret_load(path, &t[i], msg, sizeof(msg))))
			snprintf(err, errlen, "%s: tunnels.watch[%zu].token_file: %s",
				 d->config_found ? d->config_path : "(defaults)", i, msg);
	}
	if (r) {
		for (size_t i = 0; i < n; i++)
			nw_secret_free(t[i]);
		free(t);
		return r;
	}
	*out = t;
	return 0;
}

static int bind_cgroup_dir(struct daemon *d, const struct nw_cfg *cfg, char *out, size_t size)
{
	return nw_cgroup_abs(d->cg_mount, cfg->bind_cgroup ? cfg->bind_cgroup : "/", out, size);
}

/* Pushes cfg into the kernel: cgroup, rules, settings. */
/* Rules name cgroups by path, the kernel matches ids: resolve every rule
 * now. A rule whose cgroup does not exist (yet) is left out and listed in
 * *pending (a service that is not running); it is resolved again whenever
 * a cgroup is made or removed. */
static int resolve_rules(struct daemon *d, const struct nw_cfg *cfg,
			 struct nw_bind_rule_spec **out, size_t *n, unsigned *pending)
{
	struct nw_bind_rule_spec *specs = calloc(cfg->n_rules + 1, sizeof(*specs));
	char dir[PATH_MAX];

	if (!specs)
		return -ENOMEM;
	*n = 0;
	*pending = 0;
	for (size_t i = 0; i < cfg->n_rules; i++) {
		const struct nw_cfg_bind_rule *cr = &cfg->rules[i];
		struct nw_bind_rule_spec *sp = &specs[*n];

		*sp = (struct nw_bind_rule_spec){ .port = cr->port, .proto = cr->proto,
						  .family = cr->family, .action = cr->action };
		if (cr->cgroup && (nw_cgroup_abs(d->cg_mount, cr->cgroup, dir, sizeof(dir)) ||
				   nw_cgroup_id(dir, &sp->cgroup_id))) {
			(*pending)++;
			continue;
		}
		(*n)++;
	}
	*out = specs;
	return 0;
}

static void log_pending(struct daemon *d, const struct nw_cfg *cfg)
{
	char dir[PATH_MAX];
	uint64_t id;

	for (size_t i = 0; i < cfg->n_rules; i++) {
		const char *cg = cfg->rules[i].cgroup;

		if (cg && (nw_cgroup_abs(d->cg_mount, cg, dir, sizeof(dir)) || nw_cgroup_id(dir, &id)))
			log_warn("binds.rules[%zu].cgroup: \"%s\": no such cgroup under %s yet; "
				 "the rule applies once it exists", i, cg, d->cg_mount);
	}
}

/* Pushes cfg into the kernel: cgroup, rules, settings. */
static int apply_config(struct daemon *d, const struct nw_cfg *cfg, char *err, size_t errlen)
{
	struct nw_bind_rule_spec *specs = NULL;
	struct nw_config k = { 0 };
	char dir[PATH_MAX];
	size_t n;
	int r;

	if ((r = resolve_rules(d, cfg, &specs, &n, &d->pending_rules)))
		return r;
	if ((r = bind_cgroup_dir(d, cfg, dir, sizeof(dir)))) {
		snprintf(err, errlen, "binds.cgroup: %s", strerror(-r));
		goto cleanup;
	}
	if ((r = nw_bind_guard_attach(d->bind, dir))) {
		snprintf(err, errlen, "bind-guard: attach to %s: %s", dir, strerror(-r));
		goto cleanup;
	}
	k.netns = cfg->netns_all ? 0 : d->netns;
	k.netns_cookie = d->netns_cookie;
	k.bind_default = cfg->bind_default;
	k.dry_run = d->dry_run;
	k.enabled = 1;
	if ((r = nw_bind_guard_configure(d->bind, &k, specs, n)))
		snprintf(err, errlen, "bind-guard: write policy: %s", strerror(-r));
cleanup:
	free(specs);
	return r;
}

/* A cgroup was made or removed: once per loop iteration, re-resolve the
 * rules' cgroups and write the policy again (ids of re-made cgroups). */
static int on_resync_rules(sd_event_source *s, void *ud)
{
	struct daemon *d = ud;
	struct nw_bind_rule_spec *specs = NULL;
	unsigned before = d->pending_rules;
	size_t n;
	int r;

	sd_event_source_set_enabled(s, SD_EVENT_OFF);
	if (resolve_rules(d, &d->cfg, &specs, &n, &d->pending_rules))
		return 0;
	r = nw_bind_guard_sync_rules(d->bind, specs, n);
	if (r)
		log_err("bind-guard: rewrite policy after a cgroup change: %s", strerror(-r));
	else if (before != d->pending_rules)
		log_info("bind rules: %u of %zu waiting for their cgroup", d->pending_rules,
			 d->cfg.n_rules);
	free(specs);
	return 0;
}

static void on_cgroup_change(struct daemon *d)
{
	for (size_t i = 0; i < d->cfg.n_rules; i++)
		if (d->cfg.rules[i].cgroup) {
			sd_event_source_set_enabled(d->resync_rules, SD_EVENT_ONESHOT);
			return;
		}
}

static void notify_status(struct daemon *d)
{
	char dir[PATH_MAX];

	bind_cgroup_dir(d, &d->cfg, dir, sizeof(dir));
	cJSON *g = cJSON_CreateObject();
	int routes = 0;

	if (d->guard && g) {
		nw_route_guard_status(d->guard, g);
		routes = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(g, "protected"));
	}
	cJSON_Delete(g);
	char rec[96] = "", tun[112] = "", seg[80] = "";

	if (d->rec)
		nw_recovery_run_summary(d->rec, rec, sizeof(rec));
	if (d->tunnels) {
		tun[0] = ';';
		tun[1] = ' ';
		nw_tunnels_summary(d->tunnels, tun + 2, sizeof(tun) - 2);
	}
	if (d->segw) {
		seg[0] = ';';
		seg[1] = ' ';
		nw_segw_summary(d->segw, seg + 2, sizeof(seg) - 2);
	}
	sd_notifyf(0, "STATUS=guarding %s: bind4/bind6/listen attached, default %s, %zu rule%s; "
		   "%d protected route%s (%s); %s%s%s%s",
		   dir, nw_action_name(d->cfg.bind_default), d->cfg.n_rules,
		   d->cfg.n_rules == 1 ? "" : "s", routes, routes == 1 ? "" : "s",
		   d->fexit ? "fexit" : "tracepoints", rec, tun, seg, d->dry_run ? ", dry-run" : "");
}

static int reload(struct daemon *d, char *err, size_t errlen)
{
	struct nw_cfg cfg;
	int r;

	sd_notify(0, "RELOADING=1");
	r = load_config(d, &cfg, err, errlen);
	if (!r && (r = apply_config(d, &cfg, err, errlen))) {
		/* put the running config back into the kernel */
		char ignored[NW_ERR_LEN];

		apply_config(d, &d->cfg, ignored, sizeof(ignored));
		nw_cfg_free(&cfg);
	}
	if (r) {
		d->reload_failures++;
		snprintf(d->last_reload_error, sizeof(d->last_reload_error), "%s", err);
		log_err("reload rejected, keeping the running configuration: %s", err);
		nw_metrics_changed(d->metrics);
		sd_notify(0, "READY=1");
		return r;
	}
	if ((cfg.pin_dir && strcmp(cfg.pin_dir, d->pin_dir) && !d->arg_pin_dir) ||
	    (cfg.socket && strcmp(cfg.socket, d->socket) && !d->arg_socket))
		log_warn("reload: bpf.pin_dir and control.socket take effect at the next start");
	if (d->guard) {
		struct nw_route_guard_cfg g = guard_cfg(d, &cfg);

		if ((r = nw_route_guard_reconfigure(d->guard, &g)))
			log_err("reload: route guard: %s (its previous settings stay)", strerror(-r));
	}
	if (d->churn)
		nw_churn_configure(d->churn, cfg.rules_cfg.storm_threshold, cfg.rules_cfg.window_ms);
	if (d->rec && (r = nw_recovery_run_reconfigure(d->rec, cfg.probes, cfg.n_probes,
						      &cfg.recovery)))
		log_err("reload: probes: %s (the previous probes stay)", strerror(-r));
	{
		char terr[NW_ERR_LEN];

		if ((r = start_tunnels(d, &cfg, terr, sizeof(terr))))
			log_err("reload: %s (the previous tunnels stay)", terr);
		if ((r = start_segw(d, &cfg, terr, sizeof(terr))))
			log_err("reload: %s (the previous SEGW connections stay)", terr);
	}
	nw_cfg_free(&d->cfg);
	d->cfg = cfg;
	nw_log_set_level(d->cfg.log_level);
	log_pending(d, &d->cfg);
	d->reloads++;
	configure_metrics(d);
	d->last_reload_error[0] = 0;
	daemon_event(d, "configuration reloaded from %s",
		     d->config_found ? d->config_path : "built-in defaults");
	notify_status(d);
	sd_notify(0, "READY=1");
	return 0;
}

/* --- control socket --------------------------------------------------------- */

static void add_counters(struct daemon *d, cJSON *out)
{
	struct nw_counters sum;
	cJSON *o;

	if (nw_counters_read(nw_bind_guard_counters_fd(d->bind), &sum))
		return;
	o = cJSON_AddObjectToObject(out, "counters");
	for (size_t i = 0; i < nw_counter_count; i++)
		cJSON_AddNumberToObject(o, nw_counter_names[i], (double)nw_counter_at(&sum, i));
}

static void status(struct daemon *d, cJSON *r)
{
	cJSON *b, *ev;

	cJSON_AddStringToObject(r, "version", NW_VERSION);
	cJSON_AddNumberToObject(r, "pid", getpid());
	cJSON_AddNumberToObject(r, "uptime_s",
				(double)((nw_now_ns(CLOCK_MONOTONIC) - d->started_ns) / 1000000000ull));
	cJSON_AddStringToObject(r, "config", d->config_found ? d->config_path : "(built-in defaults)");
	cJSON_AddNumberToObject(r, "netns", d->netns);
	cJSON_AddStringToObject(r, "netns_mode", d->cfg.netns_all ? "all" : "self");
	cJSON_AddBoolToObject(r, "dry_run", d->dry_run);
	cJSON_AddStringToObject(r, "pin_dir", d->pin_dir);
	cJSON_AddStringToObject(r, "socket", d->socket);
	cJSON_AddStringToObject(r, "cgroup_mount", d->cg_mount);
	cJSON_AddBoolToObject(r, "keep_on_exit", d->cfg.keep_on_exit);
	b = cJSON_AddObjectToObject(r, "binds");
	cJSON_AddStringToObject(b, "cgroup", d->cfg.bind_cgroup ? d->cfg.bind_cgroup : "/");
	cJSON_AddStringToObject(b, "default_action", nw_action_name(d->cfg.bind_default));
	cJSON_AddNumberToObject(b, "rules", (double)d->cfg.n_rules);
	cJSON_AddNumberToObject(b, "rules_waiting_for_cgroup", d->pending_rules);
	nw_bind_guard_status(d->bind, b);
	b = cJSON_AddObjectToObject(r, "routes");
	nw_route_watch_status(d->watch, cJSON_AddObjectToObject(b, "watch"));
	cJSON_AddBoolToObject(b, "fexit_supported", d->fexit);
	cJSON_AddNumberToObject(b, "rtnl_requests", (double)d->rtnl_requests);
	if (d->guard)
		nw_route_guard_status(d->guard, cJSON_AddObjectToObject(b, "guard"));
	cJSON_AddBoolToObject(b, "lsm_supported", d->lsm);
	if (d->quar)
		nw_quarantine_status(d->quar, cJSON_AddObjectToObject(r, "quarantine"));
	if (d->stab)
		nw_stability_status(d->stab, cJSON_AddObjectToObject(r, "stability"));
	if (d->churn)
		nw_churn_status(d->churn, nw_now_ns(CLOCK_MONOTONIC), cJSON_AddObjectToObject(r, "churn"));
	if (d->rec)
		nw_recovery_run_status(d->rec, cJSON_AddObjectToObject(r, "connectivity"));
	if (d->tunnels)
		nw_tunnels_status(d->tunnels, cJSON_AddObjectToObject(r, "tunnels"));
	if (d->segw)
		nw_segw_status(d->segw, cJSON_AddObjectToObject(r, "segw"));
	ev = cJSON_AddObjectToObject(r, "events");
	cJSON_AddNumberToObject(ev, "seen", (double)d->events_seen);
	cJSON_AddNumberToObject(ev, "undecodable", (double)d->events_bad);
	cJSON_AddNumberToObject(ev, "history", (double)d->hist.count);
	cJSON_AddNumberToObject(ev, "followers", nw_control_followers(d->ctl));
	add_counters(d, r);
	if (d->metrics)
		nw_metrics_status(d->metrics, cJSON_AddObjectToObject(r, "metrics"));
	cJSON_AddNumberToObject(r, "reloads", d->reloads);
	cJSON_AddNumberToObject(r, "reload_failures", d->reload_failures);
	if (d->last_reload_error[0])
		cJSON_AddStringToObject(r, "last_reload_error", d->last_reload_error);
	if (d->cfg.pending[0])
		cJSON_AddStringToObject(r, "not_implemented", d->cfg.pending);
}

/* --- wait-stable: a reply deferred until the namespace is quiet ----------------- */

struct stable_wait {
	struct nw_control_client *c;
	struct nw_stability_waiter *w;
};

static double ns_to_ms(uint64_t ns)
{
	return (double)(ns / 1000) / 1000.0;	/* ms with us precision */
}

static void on_stable(void *ud, bool stable, uint64_t waited_ns, uint64_t quiet_ns)
{
	struct stable_wait *sw = ud;
	cJSON *reply = cJSON_CreateObject();

	/* the waiter is gone already; replying forgets the close callback */
	if (reply) {
		cJSON_AddBoolToObject(reply, "ok", 1);
		cJSON_AddBoolToObject(reply, "stable", stable);
		cJSON_AddNumberToObject(reply, "waited_ms", ns_to_ms(waited_ns));
		cJSON_AddNumberToObject(reply, "quiet_ms", ns_to_ms(quiet_ns));
		nw_control_client_reply(sw->c, reply);
		cJSON_Delete(reply);
	} else {
		nw_control_client_reply(sw->c, NULL);	/* closes it: no answer */
	}
	free(sw);
}

/* the client went away (or the control socket closes) before the answer */
static void on_stable_client_gone(struct nw_control_client *c, void *ud)
{
	struct stable_wait *sw = ud;
	(void)c;

	nw_stability_cancel(sw->w);
	free(sw);
}

static int wait_stable(struct daemon *d, struct nw_control_client *c, const cJSON *req,
		       cJSON *reply)
{
	uint64_t quiet_ms = 500, timeout_ms = 0;	/* quiet_ms absent: 500 */
	bool has_quiet, has_timeout;			/* timeout_ms absent or null: none */
	struct stable_wait *sw;
	char msg[128];
	int r;

	if (nw_control_ms_field(req, "quiet_ms", 1, 86400000, &has_quiet, &quiet_ms, msg,
				sizeof(msg)) ||
	    nw_control_ms_field(req, "timeout_ms", 0, 86400000, &has_timeout, &timeout_ms, msg,
				sizeof(msg))) {
		nw_control_set_error(reply, msg);
		return 0;
	}
	if (!d->stab || !(sw = calloc(1, sizeof(*sw)))) {
		nw_control_set_error(reply, "wait-stable: out of memory");
		return 0;
	}
	sw->c = c;
	r = nw_stability_wait(d->stab, quiet_ms * 1000000ull,
			      has_timeout ? timeout_ms * 1000000ull : NW_STABILITY_NO_TIMEOUT, on_stable,
			      sw, &sw->w);
	if (r < 0) {
		free(sw);
		snprintf(msg, sizeof(msg), "wait-stable: %s", strerror(-r));
		nw_control_set_error(reply, msg);
		return 0;
	}
	nw_control_client_set_close_cb(c, on_stable_client_gone, sw);
	return 2;
}

/* --- probes: the state, or a fresh round (--now) answered when done ------ */

struct probe_wait {
	struct daemon *d;
	struct nw_control_client *c;
};

static void probes_reply(struct daemon *d, cJSON *reply)
{
	cJSON *st = cJSON_CreateObject();
	cJSON *arr;

	if (!st)
		return;
	nw_recovery_run_status(d->rec, st);
	arr = cJSON_DetachItemFromObjectCaseSensitive(st, "probes");
	cJSON_AddItemToObject(reply, "probes", arr ? arr : cJSON_CreateArray());
	cJSON_AddItemToObject(reply, "connectivity", st);
}

static void on_probes_done(void *ud)
{
	struct probe_wait *w = ud;
	cJSON *reply = cJSON_CreateObject();

	if (reply) {
		cJSON_AddBoolToObject(reply, "ok", 1);
		probes_reply(w->d, reply);
	}
	nw_control_client_reply(w->c, reply);	/* NULL: closes, no answer */
	cJSON_Delete(reply);
	free(w);
}

static void on_probes_client_gone(struct nw_control_client *c, void *ud)
{
	struct probe_wait *w = ud;
	(void)c;

	nw_recovery_run_probe_cancel(w->d->rec, w);
	free(w);
}

static int probes_cmd(struct daemon *d, struct nw_control_client *c, const cJSON *req,
		      cJSON *reply)
{
	struct probe_wait *w;
	int r;

	if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(req, "now"))) {
		probes_reply(d, reply);
		return 0;
	}
	if (!(w = calloc(1, sizeof(*w)))) {
		nw_control_set_error(reply, "probes: out of memory");
		return 0;
	}
	w->d = d;
	w->c = c;
	if ((r = nw_recovery_run_probe_now(d->rec, on_probes_done, w)) < 0) {
		free(w);
		nw_control_set_error(reply, r == -ENOENT
				     ? "no probes are configured (netward.json \"probes\")"
				     : strerror(-r));
		return 0;
	}
	nw_control_client_set_close_cb(c, on_probes_client_gone, w);
	return 2;
}

static int on_request(struct nw_control_client *c, const cJSON *req, cJSON *reply, void *ud)
{
	struct daemon *d = ud;
	const char *cmd = cJSON_GetObjectItemCaseSensitive(req, "cmd")->valuestring;

	if (!strcmp(cmd, "ping"))
		return 0;
	if (!strcmp(cmd, "wait-stable"))
		return wait_stable(d, c, req, reply);
	if (!strcmp(cmd, "probes"))
		return probes_cmd(d, c, req, reply);
	if (!strcmp(cmd, "tunnels")) {
		cJSON *t = cJSON_AddObjectToObject(reply, "tunnels");

		if (d->tunnels)
			nw_tunnels_status(d->tunnels, t);
		else
			cJSON_AddArrayToObject(t, "tunnels");
		return 0;
	}
	if (!strcmp(cmd, "segw")) {
		cJSON *t = cJSON_AddObjectToObject(reply, "segw");
		const cJSON *fo = cJSON_GetObjectItemCaseSensitive(req, "failover");

		if (fo && !cJSON_IsString(fo)) {
			nw_control_set_error(reply, "failover: expected a connection name");
			return 0;
		}
		if (cJSON_IsString(fo)) {
			char msg[160];

			if (!d->segw || nw_segw_failover(d->segw, fo->valuestring)) {
				snprintf(msg, sizeof(msg), "failover: no SEGW connection \"%.100s\"",
					 fo->valuestring);
				nw_control_set_error(reply, msg);
				return 0;
			}
		}
		if (d->segw)
			nw_segw_status(d->segw, t);
		else
			cJSON_AddArrayToObject(t, "connections");
		return 0;
	}
	if (!strcmp(cmd, "recovery")) {
		nw_recovery_run_status(d->rec, cJSON_AddObjectToObject(reply, "connectivity"));
		return 0;
	}
	if (!strcmp(cmd, "status")) {
		status(d, reply);
		return 0;
	}
	if (!strcmp(cmd, "reload")) {
		char err[NW_ERR_LEN];

		if (reload(d, err, sizeof(err)))
			nw_control_set_error(reply, err);
		return 0;
	}
	if (!strcmp(cmd, "events")) {
		const cJSON *fol = cJSON_GetObjectItemCaseSensitive(req, "follow");
		char msg[128];
		int type;

		if (nw_history_reply(&d->hist, req, reply, &type, msg, sizeof(msg))) {
			nw_control_set_error(reply, msg);
			return 0;
		}
		if (cJSON_IsTrue(fol)) {
			nw_control_client_follow(c, type);
			return 1;
		}
		return 0;
	}
	{
		char msg[160];

		snprintf(msg, sizeof(msg), "unknown command \"%.100s\"", cmd);
		nw_control_set_error(reply, msg);
	}
	return 0;
}

/* --- signals and life cycle -------------------------------------------------- */

static int on_sighup(sd_event_source *s, const struct signalfd_siginfo *si, void *ud)
{
	char err[NW_ERR_LEN];
	(void)s;
	(void)si;

	reload(ud, err, sizeof(err));
	return 0;
}

static int on_sigterm(sd_event_source *s, const struct signalfd_siginfo *si, void *ud)
{
	(void)ud;
	(void)si;
	sd_notify(0, "STOPPING=1");
	return sd_event_exit(sd_event_source_get_event(s), 0);
}

/* Probes load programs the kernel may refuse: what libbpf says about that
 * (e.g. a hint to raise RLIMIT_MEMLOCK after EPERM) would mislead. */
static bool probing;

static int libbpf_log(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char buf[1024];

	if ((level == LIBBPF_DEBUG || probing) && nw_log_get_level() < LOG_DEBUG)
		return 0;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	buf[strcspn(buf, "\n")] = 0;
	nw_log(level == LIBBPF_WARN ? LOG_WARNING : LOG_DEBUG, "%s", buf);
	return 0;
}

/* Kernels before 5.15 silently disable cgroup-v2 socket programs once the
 * v1 net_cls or net_prio controllers are used on a hybrid layout. */
static void warn_old_kernel(void)
{
	struct utsname u;
	int maj = 0, min = 0;
	char *text = NULL;

	if (uname(&u) < 0 || sscanf(u.release, "%d.%d", &maj, &min) != 2)
		return;
	if (maj > 5 || (maj == 5 && min >= 15))
		return;
	if (nw_read_file("/proc/self/cgroup", &text, 65536) == 0 &&
	    (strstr(text, "net_cls") || strstr(text, "net_prio")))
		log_warn("kernel %s with cgroup v1 net_cls/net_prio mounted: using them disables "
			 "cgroup-v2 socket programs (bind guard) before 5.15", u.release);
	free(text);
}

static void cleanup(struct daemon *d, bool detach)
{
	/* first: waiting clients cancel their waiters */
	nw_control_close(d->ctl);
	for (size_t i = 0; i < NW_ARRAY_SIZE(d->autobinds); i++)
		if (d->autobinds[i])
			autobind_done(d->autobinds[i]);
	nw_metrics_free(d->metrics);	/* removes its file: no stale values */
	nw_segw_free(d->segw);
	nw_tunnels_free(d->tunnels);
	nw_recovery_run_free(d->rec);
	nw_stability_free(d->stab);
	nw_churn_free(d->churn);
	nw_route_guard_free(d->guard);
	nw_quarantine_free(d->quar);
	sd_event_source_unref(d->resync_rules);
	sd_event_source_unref(d->drops_timer);
	ring_buffer__free(d->rb);
	/* the bind guard owns the pin dir and removes it: route watch first */
	nw_route_watch_destroy(d->watch, detach);
	nw_bind_guard_destroy(d->bind, detach);
	nw_history_free(&d->hist);
	nw_cfg_free(&d->cfg);
	sd_event_unref(d->e);
	if (d->pin_lock_fd >= 0)
		close(d->pin_lock_fd);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "pin-dir", required_argument, NULL, 'p' },
		{ "socket", required_argument, NULL, 's' },
		{ "state-dir", required_argument, NULL, 'S' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "check-config", no_argument, NULL, 'C' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct daemon d = { .config_path = NW_DEFAULT_CONFIG, .pin_lock_fd = -1 };
	bool check_only = false, detach = true;
	char err[NW_ERR_LEN], dir[PATH_MAX];
	sigset_t ss;
	int o, r;

	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'c': d.config_path = optarg; d.config_explicit = true; break;
		case 'p': d.arg_pin_dir = optarg; break;
		case 's': d.arg_socket = optarg; break;
		case 'S': d.arg_state_dir = optarg; break;
		case 'f': break;
		case 'n': d.dry_run = true; break;
		case 'C': check_only = true; break;
		case 'V': printf("netwardd %s\n", NW_VERSION); return 0;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "netwardd: unexpected argument \"%s\"\n", argv[optind]);
		return 2;
	}
	nw_log_init("netwardd");
	r = nw_mountns_fixup();
	if (r < 0)
		log_warn("cgroup2/bpffs not mounted here and joining the parent's mount "
			 "namespace failed: %s", strerror(-r));
	else if (r > 0)
		log_info("cgroup2/bpffs not mounted in this mount namespace (ip netns exec?): "
			 "using the parent's; the network namespace stays this one");
	if ((r = nw_cgroup2_mount(d.cg_mount, sizeof(d.cg_mount)))) {
		fprintf(stderr, "netwardd: no cgroup2 mount in /proc/self/mountinfo: %s\n",
			strerror(-r));
		return 1;
	}
	if (load_config(&d, &d.cfg, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	if (check_only) {
		log_pending(&d, &d.cfg);
		printf("%s: valid\n", d.config_found ? d.config_path : "built-in defaults");
		nw_cfg_free(&d.cfg);
		return 0;
	}
	nw_log_set_level(d.cfg.log_level);
	snprintf(d.pin_dir, sizeof(d.pin_dir), "%s",
		 d.arg_pin_dir ? d.arg_pin_dir : d.cfg.pin_dir ? d.cfg.pin_dir : NW_DEFAULT_PIN_DIR);
	snprintf(d.socket, sizeof(d.socket), "%s",
		 d.arg_socket ? d.arg_socket : d.cfg.socket ? d.cfg.socket : NW_DEFAULT_SOCKET);
	if ((r = nw_self_netns(&d.netns))) {
		log_err("netns: /proc/self/ns/net: %s", strerror(-r));
		goto fail;
	}
	if (nw_self_netns_cookie(&d.netns_cookie))
		d.netns_cookie = 0;	/* before 5.14: the bind hooks compare inodes */
	warn_old_kernel();
	libbpf_set_print(libbpf_log);
	d.started_ns = nw_now_ns(CLOCK_MONOTONIC);
	d.started_real_s = (double)nw_now_ns(CLOCK_REALTIME) / 1e9;
	if ((r = nw_history_init(&d.hist, d.cfg.history)))
		goto fail;

	/* everything that can fail without side effects comes before BPF */
	if ((r = sd_event_default(&d.e)) < 0)
		goto fail;
	if ((r = nw_metrics_new(&d.metrics)))
		goto fail;
	/* before the route guard, whose monitor reports changes */
	if ((r = nw_churn_new(&d.churn, d.cfg.rules_cfg.storm_threshold, d.cfg.rules_cfg.window_ms)))
		goto fail;
	if ((r = nw_stability_new(&d.stab, d.e, d.started_ns)))
		goto fail;
	if ((r = sd_event_add_defer(d.e, &d.resync_rules, on_resync_rules, &d)) < 0 ||
	    (r = sd_event_source_set_enabled(d.resync_rules, SD_EVENT_OFF)) < 0)
		goto fail;
	if ((r = nw_control_open(&d.ctl, d.e, d.socket, on_request, &d))) {
		log_err("control socket %s: %s", d.socket,
			r == -EADDRINUSE ? "in use by another running netwardd (give each instance "
					   "its own --socket)" : strerror(-r));
		goto fail;
	}

	{
		char probe[PATH_MAX];

		/* maps pinned before us (a killed or keep_on_exit instance) hold
		 * state netwardctl added; a failed start must not unpin them */
		d.pins_existed = nw_path(probe, sizeof(probe), "%s/bind_policy", d.pin_dir) == 0 &&
				 access(probe, F_OK) == 0;
	}
	if ((r = nw_pin_dir_prepare(d.pin_dir))) {
		log_err("pin dir %s: %s%s", d.pin_dir, strerror(-r),
			r == -ENOTSUP ? " (not on a bpf filesystem: mount -t bpf bpf DIR)" : "");
		goto fail;
	}
	if ((r = nw_pin_dir_lock(d.pin_dir)) < 0) {
		log_err("pin dir %s: %s", d.pin_dir,
			r == -EBUSY ? "in use by another running netwardd (give each instance its "
				      "own --pin-dir)" : strerror(-r));
		goto fail;
	}
	d.pin_lock_fd = r;
	if ((r = nw_bind_guard_load(&d.bind, d.pin_dir))) {
		log_err("bind-guard: load: %s%s", strerror(-r),
			r == -EINVAL ? " (a map pinned in the pin dir may be from another "
				       "version: remove it to start over)" : "");
		goto fail;
	}
	probing = true;
	d.fexit = nw_fexit_supported() == 1;
	d.lsm = nw_lsm_supported() == 1;
	probing = false;
	log_info("route watch: %s", d.fexit ? "fexit programs (the kernel allows them)"
					    : "syscall tracepoints (this kernel refuses fexit)");
	if ((r = nw_route_watch_load2(&d.watch, d.pin_dir, d.fexit, d.lsm))) {
		log_err("route-watch: load: %s", strerror(-r));
		goto fail;
	}
	if ((r = apply_config(&d, &d.cfg, err, sizeof(err)))) {
		log_err("%s", err);
		goto fail;
	}
	if ((r = nw_route_watch_attach(d.watch))) {
		log_err("route-watch: attach: %s", strerror(-r));
		goto fail;
	}

	sigemptyset(&ss);
	sigaddset(&ss, SIGTERM);
	sigaddset(&ss, SIGINT);
	sigaddset(&ss, SIGHUP);
	sigprocmask(SIG_BLOCK, &ss, NULL);
	if ((r = sd_event_add_signal(d.e, NULL, SIGTERM, on_sigterm, &d)) < 0 ||
	    (r = sd_event_add_signal(d.e, NULL, SIGINT, on_sigterm, &d)) < 0 ||
	    (r = sd_event_add_signal(d.e, NULL, SIGHUP, on_sighup, &d)) < 0)
		goto fail;
	d.rb = ring_buffer__new(nw_bind_guard_events_fd(d.bind), on_ring, &d, NULL);
	if (!d.rb) {
		r = -errno;
		log_err("events: ring buffer: %s", strerror(-r));
		goto fail;
	}
	if ((r = sd_event_add_io(d.e, NULL, ring_buffer__epoll_fd(d.rb), EPOLLIN, on_ring_io,
				 &d)) < 0)
		goto fail;
	{
		struct nw_quarantine_cfg qc = {
			.path = nw_route_watch_quarantine_path(d.watch),
			.pin_dir = d.pin_dir,
			.cg_mount = d.cg_mount,
			.dry_run = d.dry_run,
		};

		if ((r = nw_quarantine_new(&d.quar, d.e, &qc, &quar_ops, &d))) {
			log_err("quarantine: %s", strerror(-r));
			goto fail;
		}
	}
	d.state_dir = d.arg_state_dir ? d.arg_state_dir : NW_DEFAULT_STATE_DIR;
	prepare_state_file(&d);
	{
		struct nw_route_guard_cfg g = guard_cfg(&d, &d.cfg);

		if ((r = nw_route_guard_new(&d.guard, d.e, &g, &guard_ops, &d))) {
			log_err("route-guard: %s", strerror(-r));
			goto fail;
		}
	}
	if ((r = start_recovery(&d)))
		goto fail;
	if (d.cfg.tunnels.enabled && (r = start_tunnels(&d, &d.cfg, err, sizeof(err)))) {
		log_err("%s", err);
		goto fail;
	}
	if (d.cfg.segw.enabled && (r = start_segw(&d, &d.cfg, err, sizeof(err)))) {
		log_err("%s", err);
		goto fail;
	}
	sd_event_set_watchdog(d.e, 1);

	bind_cgroup_dir(&d, &d.cfg, dir, sizeof(dir));
	daemon_event(&d, "netwardd %s started: guarding netns %u (%s), binds under %s, default %s%s",
		     NW_VERSION, d.netns, d.cfg.netns_all ? "all" : "self", dir,
		     nw_action_name(d.cfg.bind_default), d.dry_run ? ", dry-run" : "");
	if (d.cfg.pending[0])
		log_notice("config sections not implemented by this version, ignored: %s",
			   d.cfg.pending);
	log_pending(&d, &d.cfg);
	if (d.cfg.scan_listeners)
		scan_listeners(&d);
	ring_buffer__consume(d.rb);	/* anything that raced the start */
	check_drops(&d);		/* lost before this start */
	if ((r = sd_event_add_time_relative(d.e, &d.drops_timer, CLOCK_MONOTONIC,
					    DROPS_INTERVAL_US, 100 * 1000, on_drops_timer, &d)) < 0)
		goto fail;
	configure_metrics(&d);
	notify_status(&d);
	sd_notify(0, "READY=1");

	r = sd_event_loop(d.e);
	detach = !d.cfg.keep_on_exit;
	/* the operator stopped the guard: what he changes until the next start
	 * is his (after a crash, or with keep_on_exit, the file stays) */
	if (detach && r >= 0)
		nw_route_guard_forget_state(d.guard);
	daemon_event(&d, "netwardd stopping: %s", detach ? "detaching and unpinning"
				: "bpf.keep_on_exit: enforcement stays pinned");
	cleanup(&d, detach);
	return r < 0 ? 1 : 0;
fail:
	/* a failed start removes what it pinned and attached when the pin dir
	 * was empty before; what a previous instance pinned (and may still
	 * enforce with) stays as it is */
	cleanup(&d, d.bind && !d.pins_existed);
	return 1;
}
