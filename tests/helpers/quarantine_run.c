// SPDX-License-Identifier: GPL-2.0-only
/*
 * quarantine_run: the quarantine module alone, without BPF or the daemon,
 * for trying its reverts in a network namespace:
 *   ip netns exec NS quarantine_run [--window-ms N] [--dry-run]
 * Reads requests on stdin, one JSON object a line, as the kernel side would
 * report a killed writer's request, and hands them to the module:
 *   {"type": "RTM_NEWRULE" | 32, "flags": 1541, "seq": 4242, "family": 4,
 *    "table": 77, "priority": 123, "dst": "10.0.0.0/8", "gateway": "192.0.2.1",
 *    "ifindex": 2, "ifchange": 1, "fwmark": 0, "pid": 1, "comm": "ip",
 *    "cgroup_id": 0, "index": 0, "quarantined": 1, "age_ms": 0}
 * (every field optional but "type"; age_ms dates the request that far back:
 * a request that arrives after the change it made). The line "status"
 * prints {"status":{...}}. Prints one JSON line per event on stdout,
 * {"ready":true} once the module watches, and exits 0 on SIGTERM or SIGINT.
 * There is no ring buffer to drain: the module's late-request path.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <systemd/sd-event.h>

#include "quarantine.h"
#include "util.h"

static struct nw_quarantine *q;
static char line[4096];
static size_t used;

static void print_json(cJSON *o)
{
	char *s = cJSON_PrintUnformatted(o);

	if (s) {
		printf("%s\n", s);
		fflush(stdout);
	}
	free(s);
}

static void on_emit(void *ud, unsigned type, cJSON *ev)
{
	(void)ud;
	(void)type;
	print_json(ev);
}

static double num(const cJSON *o, const char *k, double def)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsNumber(v) ? v->valuedouble : def;
}

static const char *str(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* "10.0.0.0/8" or "2001:db8::/32" into addr (and len) */
static int parse_prefix(const char *s, uint8_t family, uint8_t *addr, uint8_t *len)
{
	char buf[64], *slash;

	snprintf(buf, sizeof(buf), "%s", s);
	slash = strchr(buf, '/');
	if (slash) {
		*slash = 0;
		if (len)
			*len = (uint8_t)atoi(slash + 1);
	}
	return inet_pton(family, buf, addr) == 1 ? 0 : -EINVAL;
}

static int request_type(const cJSON *o)
{
	static const char *const names[] = {
		[16] = "RTM_NEWLINK", [17] = "RTM_DELLINK", [19] = "RTM_SETLINK",
		[20] = "RTM_NEWADDR", [21] = "RTM_DELADDR", [24] = "RTM_NEWROUTE",
		[25] = "RTM_DELROUTE", [32] = "RTM_NEWRULE", [33] = "RTM_DELRULE",
	};
	const char *s = str(o, "type");

	if (!s)
		return (int)num(o, "type", -1);
	for (int i = 0; i < (int)(sizeof(names) / sizeof(names[0])); i++)
		if (names[i] && !strcmp(names[i], s))
			return i;
	return -1;
}

static void handle_line(const char *text)
{
	struct nw_rtnl_request r;
	cJSON *o;
	int type;

	if (!strcmp(text, "status")) {
		cJSON *st = cJSON_CreateObject();

		nw_quarantine_status(q, cJSON_AddObjectToObject(st, "status"));
		print_json(st);
		cJSON_Delete(st);
		return;
	}
	o = cJSON_Parse(text);
	if (!o || (type = request_type(o)) < 0) {
		fprintf(stderr, "quarantine_run: not a request: %s\n", text);
		cJSON_Delete(o);
		return;
	}
	memset(&r, 0, sizeof(r));
	r.hdr.type = NW_EV_RTNL_REQUEST;
	r.hdr.version = NW_EVENT_VERSION;
	r.hdr.size = sizeof(r);
	r.hdr.ts_ns = nw_now_ns(CLOCK_BOOTTIME) - (uint64_t)(num(o, "age_ms", 0) * 1e6);
	r.hdr.tgid = r.hdr.pid = (uint32_t)num(o, "pid", 1);
	r.hdr.cgroup_id = (uint64_t)num(o, "cgroup_id", 0);
	snprintf(r.hdr.comm, sizeof(r.hdr.comm), "%s", str(o, "comm") ? str(o, "comm") : "driver");
	r.nlmsg_type = (uint16_t)type;
	r.nlmsg_flags = (uint16_t)num(o, "flags", 0x5);	/* REQUEST | ACK */
	r.nlmsg_seq = (uint32_t)num(o, "seq", 0);
	r.family = num(o, "family", 0) == 4 ? AF_INET : num(o, "family", 0) == 6 ? AF_INET6 : 0;
	r.table = (uint32_t)num(o, "table", 0);
	r.priority = (uint32_t)num(o, "priority", 0);
	r.ifindex = (int32_t)num(o, "ifindex", 0);
	r.ifchange = (uint32_t)num(o, "ifchange", 0);
	r.fwmark = (uint32_t)num(o, "fwmark", 0);
	r.uid_start = r.uid_end = ~0u;
	r.index = (uint8_t)num(o, "index", 0);
	r.quarantined = (uint8_t)num(o, "quarantined", NW_QUARANTINE_KILLED);
	if (str(o, "dst") && parse_prefix(str(o, "dst"), r.family, r.dst, &r.dst_len))
		fprintf(stderr, "quarantine_run: bad dst %s\n", str(o, "dst"));
	if (str(o, "gateway") && parse_prefix(str(o, "gateway"), r.family, r.gateway, NULL))
		fprintf(stderr, "quarantine_run: bad gateway %s\n", str(o, "gateway"));
	cJSON_Delete(o);
	nw_quarantine_note_request(q, &r);
}

static int on_stdin(sd_event_source *s, int fd, uint32_t revents, void *ud)
{
	ssize_t n = read(fd, line + used, sizeof(line) - 1 - used);
	char *nl;
	(void)revents;
	(void)ud;

	if (n <= 0) {
		sd_event_source_set_enabled(s, SD_EVENT_OFF);	/* EOF: keep watching */
		return 0;
	}
	used += (size_t)n;
	line[used] = 0;
	while ((nl = strchr(line, '\n'))) {
		*nl = 0;
		if (line[0])
			handle_line(line);
		used -= (size_t)(nl + 1 - line);
		memmove(line, nl + 1, used + 1);
	}
	if (used == sizeof(line) - 1)
		used = 0;	/* an overlong line: dropped */
	return 0;
}

static int on_term(sd_event_source *s, const struct signalfd_siginfo *si, void *ud)
{
	(void)ud;
	(void)si;
	return sd_event_exit(sd_event_source_get_event(s), 0);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "window-ms", required_argument, NULL, 'w' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	const struct nw_quarantine_ops ops = { .emit = on_emit };
	struct nw_quarantine_cfg cfg = { .path = "tracepoint-kill" };
	sd_event *e = NULL;
	sigset_t ss;
	int o, r;

	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'w': cfg.window_ms = (uint32_t)atoi(optarg); break;
		case 'n': cfg.dry_run = true; break;
		case 'h':
			printf("usage: quarantine_run [--window-ms N] [--dry-run] < requests\n");
			return 0;
		default: return 2;
		}
	}
	sigemptyset(&ss);
	sigaddset(&ss, SIGTERM);
	sigaddset(&ss, SIGINT);
	sigprocmask(SIG_BLOCK, &ss, NULL);
	if ((r = sd_event_default(&e)) < 0 ||
	    (r = sd_event_add_signal(e, NULL, SIGTERM, on_term, NULL)) < 0 ||
	    (r = sd_event_add_signal(e, NULL, SIGINT, on_term, NULL)) < 0 ||
	    (r = sd_event_add_io(e, NULL, STDIN_FILENO, EPOLLIN, on_stdin, NULL)) < 0 ||
	    (r = nw_quarantine_new(&q, e, &cfg, &ops, NULL)) < 0) {
		fprintf(stderr, "quarantine_run: %s\n", strerror(-r));
		sd_event_unref(e);
		return 1;
	}
	printf("{\"ready\":true}\n");
	fflush(stdout);
	r = sd_event_loop(e);
	nw_quarantine_free(q);
	sd_event_unref(e);
	return r < 0 ? 1 : 0;
}
