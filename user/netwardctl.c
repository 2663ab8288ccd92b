// SPDX-License-Identifier: GPL-2.0-only
/* netwardctl: the CLI over netward's pinned maps and netwardd's control socket. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <cjson/cJSON.h>

#include "cgroup.h"
#include "counters.h"
#include "ctl.h"
#include "config.h"
#include "events.h"
#include "policy.h"
#include "util.h"

#ifndef NW_VERSION
#define NW_VERSION "0.0.0"
#endif

struct nw_ctl_args arg = { .pin_dir = NW_DEFAULT_PIN_DIR, .socket = NW_DEFAULT_SOCKET, .port = -1,
			  .proto = -1, .family = -1, .action = -1, .limit = -1,
			  .quiet_ms = 500, .timeout_ms = -1 };

static void usage(FILE *f)
{
	fprintf(f,
"Usage: netwardctl VERB [OPTIONS]\n"
"\n"
"Verbs:\n"
"  status                       what netwardd runs: programs and how they are\n"
"                               attached, cgroup, policy, event and counter totals\n"
"  counters                     live counters from the pinned maps (no daemon needed)\n"
"  blocklist list               bind policy entries in the pinned bind_policy map\n"
"  blocklist add  --action A [--cgroup PATH|ID] [--port N] [--proto P] [--family F]\n"
"  blocklist del  [--cgroup PATH|ID] [--port N] [--proto P] [--family F]\n"
"                               change the live policy (no daemon needed); entries\n"
"                               added here win over the config file's until deleted\n"
"  events [--follow] [--type T] [--limit N]\n"
"                               recent events from netwardd; --follow streams\n"
"  wait-stable [--quiet MS] [--timeout MS]\n"
"                               wait until the namespace has seen no route, rule,\n"
"                               link or address change for MS (default 500;\n"
"                               netwardd's start counts as one); exit 0 then, 1 at\n"
"                               the timeout (none given: waits as long as it takes)\n"
"  churn                        rtnetlink writes (routes, rules, links, addresses)\n"
"                               per cgroup, all time, from the pinned churn map\n"
"  quarantine [list|add|del] [--cgroup PATH|ID]\n"
"                               stop a cgroup's network-configuration writes (dumps\n"
"                               such as ip route show stay allowed); no daemon needed\n"
"  probes [--now]               connectivity probes: state, last answer, failures in\n"
"                               a row; --now runs every probe first (exit 1: offline)\n"
"  recovery                     the recovery ladder: level, attempts, last steps\n"
"  tunnels                      polled tunnels: API status, down or not, backup unit\n"
"                               (exit 1: a tunnel is down)\n"
"  segw [list|failover NAME]    SEGW connections: current gateway, attempts; fail\n"
"                               NAME over to its next gateway now (exit 1: one not up)\n"
"\n"
"Options:\n"
"  --json              machine-readable output (one JSON object per line for events)\n"
"  --pin-dir DIR       pinned maps (default " NW_DEFAULT_PIN_DIR ")\n"
"  --socket PATH       netwardd's control socket (default " NW_DEFAULT_SOCKET ")\n"
"  --cgroup PATH|ID    a cgroup2 path (relative to the cgroup2 mount) or id; none = any\n"
"  --port N            1-65535; none = any port\n"
"  --proto tcp|udp|any --family 4|6|any   (default any)\n"
"  --action allow|audit|deny|rewrite|kill\n"
"  --quiet MS          wait-stable: the quiet window, 1-86400000 ms (default 500)\n"
"  --timeout MS        wait-stable: give up after MS (0-86400000), counted from\n"
"                      the request; shorter than --quiet: 0 only if already quiet\n"
"  --version, --help\n"
"\n"
"Exit status: 0 ok, 1 condition not met, 2 usage error, 3 daemon not reachable,\n"
"4 maps not pinned.\n"
"\n"
"Examples:\n"
"  netwardctl status\n"
"  netwardctl counters --json\n"
"  netwardctl blocklist add --cgroup system.slice/lpg-admin.service --port 8443 \\\n"
"      --proto tcp --family 4 --action rewrite\n"
"  netwardctl blocklist list\n"
"  netwardctl blocklist del --cgroup system.slice/lpg-admin.service --port 8443 \\\n"
"      --proto tcp --family 4\n"
"  netwardctl events --follow --type bind_denied --json\n"
"  netwardctl events --type route_deleted --limit 10\n"
"  netwardctl wait-stable --quiet 500 --timeout 30000 && start-browser\n"
"  netwardctl churn\n"
"  netwardctl quarantine add --cgroup system.slice/worker@5.service\n"
"  netwardctl quarantine list\n"
"  netwardctl quarantine del --cgroup system.slice/worker@5.service\n"
"  netwardctl probes --now || echo offline\n"
"  netwardctl recovery --json\n"
"  netwardctl tunnels || echo a tunnel is down\n"
"  netwardctl segw list\n"
"  netwardctl segw failover hq\n"
"  bpftool map dump pinned " NW_DEFAULT_PIN_DIR "/bind_policy\n"
"\n"
"See netwardctl(8), netwardd(8).\n");
}

int usage_error(const char *fmt, const char *v)
{
	fprintf(stderr, "netwardctl: ");
	fprintf(stderr, fmt, v);
	fprintf(stderr, "\nTry 'netwardctl --help'.\n");
	return EXIT_USAGE;
}

/* --- daemon ------------------------------------------------------------------ */

FILE *daemon_connect(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;
	FILE *f;

	if (strlen(arg.socket) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "netwardctl: --socket: path too long\n");
		return NULL;
	}
	strcpy(sa.sun_path, arg.socket);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "netwardctl: netwardd not reachable at %s: %s\n", arg.socket,
			strerror(errno));
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	f = fdopen(fd, "r+");
	if (!f)
		close(fd);
	return f;
}

cJSON *read_reply(FILE *f)
{
	char *line = NULL;
	size_t cap = 0;
	cJSON *r = NULL;

	if (getline(&line, &cap, f) > 0)
		r = cJSON_Parse(line);
	free(line);
	return r;
}

/* Sends req, reads one reply; exit code on failure, 0 with *reply set. */
int ask(const char *cmd, cJSON *req, cJSON **reply)
{
	int rc;

	if (!req && !(req = cJSON_CreateObject()))
		return EXIT_USAGE;
	cJSON_AddStringToObject(req, "cmd", cmd);
	rc = request(NULL, req, reply);
	cJSON_Delete(req);
	return rc;
}

int request(FILE **fp, cJSON *req, cJSON **reply)
{
	FILE *f = daemon_connect();
	char *text;
	const cJSON *ok;

	if (!f)
		return EXIT_NODAEMON;
	text = cJSON_PrintUnformatted(req);
	if (!text || fprintf(f, "%s\n", text) < 0 || fflush(f)) {
		free(text);
		fclose(f);
		return EXIT_NODAEMON;
	}
	free(text);
	*reply = read_reply(f);
	if (!*reply) {
		fprintf(stderr, "netwardctl: no reply from netwardd\n");
		fclose(f);
		return EXIT_NODAEMON;
	}
	ok = cJSON_GetObjectItemCaseSensitive(*reply, "ok");
	if (!cJSON_IsTrue(ok)) {
		const cJSON *e = cJSON_GetObjectItemCaseSensitive(*reply, "error");

		fprintf(stderr, "netwardctl: netwardd: %s\n",
			cJSON_IsString(e) ? e->valuestring : "request failed");
		cJSON_Delete(*reply);
		fclose(f);
		return EXIT_USAGE;
	}
	if (fp)
		*fp = f;
	else
		fclose(f);
	return 0;
}

void print_json(const cJSON *o)
{
	char *t = cJSON_PrintUnformatted(o);

	if (t)
		puts(t);
	free(t);
}

const char *s_of(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsString(v) ? v->valuestring : "-";
}

double n_of(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

static int verb_status(int argc, char **argv)
{
	cJSON *req = cJSON_CreateObject(), *r = NULL;
	const cJSON *b, *p, *ev, *c;
	int rc;
	(void)argv;

	if (argc > 1)
		return usage_error("status: unexpected argument \"%s\"", argv[1]);
	rc = ask("status", req, &r);
	if (rc)
		return rc;
	if (arg.json) {
		print_json(r);
		cJSON_Delete(r);
		return 0;
	}
	b = cJSON_GetObjectItemCaseSensitive(r, "binds");
	ev = cJSON_GetObjectItemCaseSensitive(r, "events");
	c = cJSON_GetObjectItemCaseSensitive(r, "counters");
	printf("netwardd %s, pid %.0f, up %.0f s\n", s_of(r, "version"), n_of(r, "pid"),
	       n_of(r, "uptime_s"));
	printf("config:    %s\n", s_of(r, "config"));
	printf("netns:     %.0f (%s)%s\n", n_of(r, "netns"), s_of(r, "netns_mode"),
	       cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "dry_run")) ? ", DRY-RUN" : "");
	printf("pin dir:   %s%s\n", s_of(r, "pin_dir"),
	       cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "keep_on_exit"))
		       ? " (kept on exit)" : "");
	printf("binds:     cgroup %s (id %.0f), default %s, %.0f rule%s\n", s_of(b, "cgroup"),
	       n_of(b, "cgroup_id"), s_of(b, "default_action"), n_of(b, "rules"),
	       n_of(b, "rules") == 1 ? "" : "s");
	cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(b, "programs"))
		printf("  %-15s %-38s %-10s link %-5.0f prog %-5.0f %s\n", s_of(p, "name"),
		       s_of(p, "hook"), s_of(p, "path"), n_of(p, "link_id"), n_of(p, "prog_id"),
		       s_of(p, "state"));
	{
		const cJSON *rt = cJSON_GetObjectItemCaseSensitive(r, "routes");
		const cJSON *w = cJSON_GetObjectItemCaseSensitive(rt, "watch");
		const cJSON *g = cJSON_GetObjectItemCaseSensitive(rt, "guard");

		printf("routes:    requests seen via %s (fexit %s), %s\n", s_of(w, "path"),
		       cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(rt, "fexit_supported"))
			       ? "supported" : "not supported by this kernel",
		       g ? s_of(g, "mode") : "guard off");
		cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(w, "programs"))
			if (strncmp(s_of(p, "state"), "not used", 8))
				printf("  %-15s %-38s %-10s link %-5.0f prog %-5.0f %s\n", s_of(p, "name"),
				       s_of(p, "hook"), s_of(p, "path"), n_of(p, "link_id"),
				       n_of(p, "prog_id"), s_of(p, "state"));
		cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(g, "protected"))
			printf("  protected: %-52s %-8s restored %.0f, deleted %.0f\n", s_of(p, "route"),
			       s_of(p, "state"), n_of(p, "restored"), n_of(p, "deletions"));
		if (g)
			printf("  totals:    %.0f deletions, %.0f restores, %.0f failures, %.0f resyncs "
			       "(%.0f ENOBUFS), %.0f flapping episodes\n", n_of(g, "deletions"),
			       n_of(g, "restores"), n_of(g, "failures"), n_of(g, "resyncs"),
			       n_of(g, "enobufs"), n_of(g, "flapping_episodes"));
	}
	printf("events:    %.0f seen, %.0f in history, %.0f follower%s\n", n_of(ev, "seen"),
	       n_of(ev, "history"), n_of(ev, "followers"), n_of(ev, "followers") == 1 ? "" : "s");
	if (c)
		printf("counters:  wildcard binds %.0f: allowed %.0f, audited %.0f, denied %.0f, "
		       "rewritten %.0f; autobind listens %.0f, killed %.0f; events lost %.0f\n",
		       n_of(c, "bind_wildcard"), n_of(c, "bind_allowed"), n_of(c, "bind_audited"),
		       n_of(c, "bind_denied"), n_of(c, "bind_rewritten"), n_of(c, "listen_autobind"),
		       n_of(c, "listen_killed"), n_of(c, "events_lost"));
	{
		const cJSON *cn = cJSON_GetObjectItemCaseSensitive(r, "connectivity");

		if (cn && cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(cn, "probes")))
			printf("probes:    %d, host %s, recovery %s, level %.0f\n",
			       cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(cn, "probes")),
			       s_of(cn, "state"),
			       cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(cn, "recovery_enabled"))
				       ? "on" : "off", n_of(cn, "level"));
	}
	{
		const cJSON *tn = cJSON_GetObjectItemCaseSensitive(r, "tunnels");
		const cJSON *sg = cJSON_GetObjectItemCaseSensitive(r, "segw");
		const cJSON *o;
		int n = 0, down = 0, up = 0;

		cJSON_ArrayForEach(o, cJSON_GetObjectItemCaseSensitive(tn, "tunnels")) {
			n++;
			down += cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "down"));
		}
		if (n)
			printf("tunnels:   %d polled, %d down (netwardctl tunnels)\n", n, down);
		n = 0;
		cJSON_ArrayForEach(o, cJSON_GetObjectItemCaseSensitive(sg, "connections")) {
			n++;
			up += !strcmp(s_of(o, "state"), "up");
		}
		if (n)
			printf("segw:      %d connection%s, %d up, charon %s (netwardctl segw)\n", n,
			       n == 1 ? "" : "s", up,
			       cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(sg, "connected"))
				       ? "connected" : "not connected");
	}
	if (n_of(r, "reload_failures"))
		printf("reloads:   %.0f, %.0f rejected; last: %s\n", n_of(r, "reloads"),
		       n_of(r, "reload_failures"), s_of(r, "last_reload_error"));
	if (cJSON_GetObjectItemCaseSensitive(r, "not_implemented"))
		printf("ignored:   config sections %s (not implemented by this version)\n",
		       s_of(r, "not_implemented"));
	cJSON_Delete(r);
	return 0;
}

static void print_event(const cJSON *ev)
{
	char line[1024];

	if (arg.json) {
		print_json(ev);
	} else {
		nw_event_summary(ev, line, sizeof(line));
		printf("%s %s\n", s_of(ev, "ts"), line);
	}
	fflush(stdout);
}

static int verb_events(int argc, char **argv)
{
	cJSON *req = cJSON_CreateObject(), *r = NULL;
	const cJSON *ev;
	FILE *f = NULL;
	int rc;

	if (argc > 1)
		return usage_error("events: unexpected argument \"%s\"", argv[1]);
	if (arg.type && !nw_event_type_public((unsigned)nw_event_type_parse(arg.type))) {
		cJSON_Delete(req);
		return usage_error("--type: \"%s\" is not an event type", arg.type);
	}
	cJSON_AddStringToObject(req, "cmd", "events");
	if (arg.type)
		cJSON_AddStringToObject(req, "type", arg.type);
	if (arg.limit >= 0)
		cJSON_AddNumberToObject(req, "limit", (double)arg.limit);
	if (arg.follow)
		cJSON_AddBoolToObject(req, "follow", 1);
	rc = request(arg.follow ? &f : NULL, req, &r);
	cJSON_Delete(req);
	if (rc)
		return rc;
	cJSON_ArrayForEach(ev, cJSON_GetObjectItemCaseSensitive(r, "events"))
		print_event(ev);
	cJSON_Delete(r);
	if (!arg.follow)
		return 0;
	for (;;) {
		cJSON *e = read_reply(f);

		if (!e)
			break;
		print_event(e);
		cJSON_Delete(e);
	}
	fclose(f);
	fprintf(stderr, "netwardctl: netwardd closed the stream\n");
	return EXIT_NODAEMON;
}

/* --- pinned maps ---------------------------------------------------------------- */

int open_pinned(const char *name, int *fd)
{
	char path[PATH_MAX];

	if (nw_path(path, sizeof(path), "%s/%s", arg.pin_dir, name) < 0)
		return EXIT_USAGE;
	*fd = bpf_obj_get(path);
	if (*fd < 0) {
		fprintf(stderr, "netwardctl: %s: %s (is netwardd running with --pin-dir %s?)\n",
			path, strerror(errno), arg.pin_dir);
		return EXIT_NOMAPS;
	}
	return 0;
}

static int verb_counters(int argc, char **argv)
{
	struct nw_counters sum;
	int fd, rc;

	if (argc > 1)
		return usage_error("counters: unexpected argument \"%s\"", argv[1]);
	if ((rc = open_pinned("counters", &fd)))
		return rc;
	rc = nw_counters_read(fd, &sum);
	close(fd);
	if (rc) {
		fprintf(stderr, "netwardctl: read counters: %s\n", strerror(-rc));
		return EXIT_NOMAPS;
	}
	if (arg.json) {
		cJSON *o = cJSON_CreateObject();

		for (size_t i = 0; i < nw_counter_count; i++)
			cJSON_AddNumberToObject(o, nw_counter_names[i], (double)nw_counter_at(&sum, i));
		print_json(o);
		cJSON_Delete(o);
	} else {
		for (size_t i = 0; i < nw_counter_count; i++)
			printf("%-18s %llu\n", nw_counter_names[i], nw_counter_at(&sum, i));
	}
	return 0;
}

static int spec_from_args(struct nw_bind_rule_spec *s)
{
	char mount[PATH_MAX];
	int r;

	memset(s, 0, sizeof(*s));
	if (arg.cgroup) {
		if ((r = nw_cgroup2_mount(mount, sizeof(mount)))) {
			fprintf(stderr, "netwardctl: no cgroup2 mount: %s\n", strerror(-r));
			return EXIT_USAGE;
		}
		if ((r = nw_cgroup_parse_arg(mount, arg.cgroup, &s->cgroup_id))) {
			fprintf(stderr, "netwardctl: --cgroup: \"%s\": %s under %s\n", arg.cgroup,
				strerror(-r), mount);
			return EXIT_USAGE;
		}
	}
	s->port = arg.port > 0 ? (uint16_t)arg.port : 0;
	s->proto = arg.proto > 0 ? (uint8_t)arg.proto : 0;
	s->family = arg.family > 0 ? (uint8_t)arg.family : 0;
	s->action = arg.action > 0 ? (uint8_t)arg.action : 0;
	return 0;
}

static int blocklist_list(void)
{
	struct nw_bind_key key, next;
	char mount[PATH_MAX] = "";
	cJSON *arr = cJSON_CreateArray();
	int fd, rc, n = 0;

	if ((rc = open_pinned("bind_policy", &fd))) {
		cJSON_Delete(arr);
		return rc;
	}
	nw_cgroup2_mount(mount, sizeof(mount));
	if (!arg.json)
		printf("%-40s %-6s %-5s %-6s %-8s %s\n", "CGROUP", "PORT", "PROTO", "FAMILY",
		       "ACTION", "ORIGIN");
	if (bpf_map_get_next_key(fd, NULL, &next) == 0) {
		do {
			struct nw_bind_rule r;
			char path[PATH_MAX] = "any", port[8] = "any";

			key = next;
			if (nw_policy_is_hint(&key) || bpf_map_lookup_elem(fd, &key, &r) < 0)
				continue;
			if (key.cgroup_id &&
			    nw_cgroup_path_from_id(mount, key.cgroup_id, path, sizeof(path)) < 0)
				snprintf(path, sizeof(path), "%llu (gone)",
					 (unsigned long long)key.cgroup_id);
			if (key.port)
				snprintf(port, sizeof(port), "%u", key.port);
			n++;
			if (arg.json) {
				cJSON *o = cJSON_CreateObject();

				cJSON_AddStringToObject(o, "cgroup", path);
				cJSON_AddNumberToObject(o, "cgroup_id", (double)key.cgroup_id);
				cJSON_AddNumberToObject(o, "port", key.port);
				cJSON_AddStringToObject(o, "proto", nw_proto_name(key.proto));
				cJSON_AddNumberToObject(o, "family", key.family);
				cJSON_AddStringToObject(o, "action", nw_action_name(r.action));
				cJSON_AddStringToObject(o, "origin", nw_origin_name(r.origin));
				cJSON_AddItemToArray(arr, o);
			} else {
				printf("%-40s %-6s %-5s %-6u %-8s %s\n", path, port,
				       nw_proto_name(key.proto), key.family, nw_action_name(r.action),
				       nw_origin_name(r.origin));
			}
		} while (bpf_map_get_next_key(fd, &key, &next) == 0);
	}
	if (arg.json)
		print_json(arr);
	else if (!n)
		printf("(no entries: every wildcard bind gets the default action)\n");
	cJSON_Delete(arr);
	close(fd);
	return 0;
}

static int verb_blocklist(int argc, char **argv)
{
	struct nw_bind_rule_spec s;
	const char *sub = argc > 1 ? argv[1] : "list";
	int fd, rc;

	if (argc > 2)
		return usage_error("blocklist: unexpected argument \"%s\"", argv[2]);
	if (!strcmp(sub, "list"))
		return blocklist_list();
	if (strcmp(sub, "add") && strcmp(sub, "del"))
		return usage_error("blocklist: \"%s\" is not list, add or del", sub);
	if (!strcmp(sub, "add") && arg.action < 0)
		return usage_error("blocklist add: %s", "--action is required");
	if (!strcmp(sub, "del") && arg.action >= 0)
		return usage_error("blocklist del: %s", "--action does not apply");
	if ((rc = spec_from_args(&s)))
		return rc;
	if ((rc = open_pinned("bind_policy", &fd)))
		return rc;
	if (!strcmp(sub, "add")) {
		rc = nw_policy_add(fd, &s, NW_ORIGIN_CLI);
		if (rc < 0)
			fprintf(stderr, "netwardctl: blocklist add: %s\n", strerror(-rc));
		rc = rc < 0 ? EXIT_COND : 0;
	} else {
		rc = nw_policy_del(fd, &s);
		if (rc < 0)
			fprintf(stderr, "netwardctl: blocklist del: %s\n", strerror(-rc));
		else if (rc == 0)
			fprintf(stderr, "netwardctl: blocklist del: no such entry\n");
		rc = rc <= 0 ? EXIT_COND : 0;
	}
	close(fd);
	return rc;
}

static const struct verb {
	const char *name;
	int (*run)(int argc, char **argv);
} verbs[] = {
	{ "status", verb_status },
	{ "counters", verb_counters },
	{ "blocklist", verb_blocklist },
	{ "events", verb_events },
	{ "wait-stable", verb_wait_stable },
	{ "quarantine", verb_quarantine },
	{ "churn", verb_churn },
	{ "probes", verb_probes },
	{ "recovery", verb_recovery },
	{ "tunnels", verb_tunnels },
	{ "segw", verb_segw },
};

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "pin-dir", required_argument, NULL, 'p' },
		{ "socket", required_argument, NULL, 's' },
		{ "cgroup", required_argument, NULL, 'c' },
		{ "port", required_argument, NULL, 'P' },
		{ "proto", required_argument, NULL, 'r' },
		{ "family", required_argument, NULL, 'F' },
		{ "action", required_argument, NULL, 'a' },
		{ "follow", no_argument, NULL, 'f' },
		{ "now", no_argument, NULL, 'n' },
		{ "type", required_argument, NULL, 't' },
		{ "limit", required_argument, NULL, 'l' },
		{ "quiet", required_argument, NULL, 'q' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	uint64_t v;
	int o;

	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'j': arg.json = true; break;
		case 'n': arg.now = true; break;
		case 'p': arg.pin_dir = optarg; break;
		case 's': arg.socket = optarg; break;
		case 'c': arg.cgroup = optarg; break;
		case 'P':
			if (nw_parse_u64(optarg, 1, 65535, &v))
				return usage_error("--port: \"%s\" is not a port (1-65535)", optarg);
			arg.port = (int)v;
			break;
		case 'r':
			if ((arg.proto = nw_proto_parse(optarg)) < 0)
				return usage_error("--proto: \"%s\" is not tcp, udp or any", optarg);
			break;
		case 'F':
			if (!strcmp(optarg, "4") || !strcmp(optarg, "6"))
				arg.family = atoi(optarg);
			else if (!strcmp(optarg, "any"))
				arg.family = 0;
			else
				return usage_error("--family: \"%s\" is not 4, 6 or any", optarg);
			break;
		case 'a':
			if ((arg.action = nw_action_parse(optarg)) < 0)
				return usage_error("--action: \"%s\" is not allow, audit, deny, "
						   "rewrite or kill", optarg);
			break;
		case 'f': arg.follow = true; break;
		case 't': arg.type = optarg; break;
		case 'l':
			if (nw_parse_u64(optarg, 0, 1000000, &v))
				return usage_error("--limit: \"%s\" is not a number 0-1000000", optarg);
			arg.limit = (long)v;
			break;
		case 'q':
			if (nw_parse_u64(optarg, 1, 86400000, &v))
				return usage_error("--quiet: \"%s\" is not a number of ms (1-86400000)", optarg);
			arg.quiet_ms = (long)v;
			break;
		case 'T':
			if (nw_parse_u64(optarg, 0, 86400000, &v))
				return usage_error("--timeout: \"%s\" is not a number of ms (0-86400000)", optarg);
			arg.timeout_ms = (long)v;
			break;
		case 'V': printf("netwardctl %s\n", NW_VERSION); return 0;
		case 'h': usage(stdout); return 0;
		default: return usage_error("%s", "unknown option");
		}
	}
	if (optind >= argc)
		return usage_error("%s", "no verb given");
	nw_mountns_fixup();	/* under ip netns exec: find the pins and cgroups */
	for (size_t i = 0; i < NW_ARRAY_SIZE(verbs); i++)
		if (!strcmp(argv[optind], verbs[i].name))
			return verbs[i].run(argc - optind, argv + optind);
	return usage_error("unknown verb \"%s\"", argv[optind]);
}
