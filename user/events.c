// SPDX-License-Identifier: GPL-2.0-only
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "netward/bind_guard.h"
#include "netward/route_watch.h"
#include "cgroup.h"
#include "events.h"
#include "policy.h"
#include "util.h"

static const char *const type_names[NW_EV__MAX] = {
	[NW_EV_NONE] = "none",
	[NW_EV_BIND_AUDIT] = "bind_audit",
	[NW_EV_BIND_DENIED] = "bind_denied",
	[NW_EV_BIND_REWRITTEN] = "bind_rewritten",
	[NW_EV_WILDCARD_LISTENER] = "wildcard_listener",
	[NW_EV_ROUTE_DELETED] = "route_deleted",
	[NW_EV_ROUTE_RESTORED] = "route_restored",
	[NW_EV_ROUTE_RESTORE_FAILED] = "route_restore_failed",
	[NW_EV_RULE_ADDED] = "rule_added",
	[NW_EV_RULE_DELETED] = "rule_deleted",
	[NW_EV_RULE_STORM] = "rule_storm",
	[NW_EV_NO_ROUTE] = "no_route",
	[NW_EV_LINK_DOWN] = "link_down",
	[NW_EV_PROBE_FAILED] = "probe_failed",
	[NW_EV_PROBE_OK] = "probe_ok",
	[NW_EV_RECOVERY_STEP] = "recovery_step",
	[NW_EV_TUNNEL_STATE] = "tunnel_state",
	[NW_EV_UNIT_STARTED] = "unit_started",
	[NW_EV_UNIT_STOPPED] = "unit_stopped",
	[NW_EV_SEGW_DOWN] = "segw_down",
	[NW_EV_SEGW_FAILOVER] = "segw_failover",
	[NW_EV_SEGW_RETRY_EXHAUSTED] = "segw_retry_exhausted",
	[NW_EV_QUARANTINED] = "quarantined",
	[NW_EV_DAEMON] = "daemon",
	[NW_EV_RTNL_REQUEST] = "rtnl_request",
	[NW_EV_ROUTE_FLAPPING] = "route_flapping",
	[NW_EV_NO_ROUTE_RAW] = "no_route_sample",
	[NW_EV_CGROUP_CHANGE] = "cgroup_change",
	[NW_EV_RULE_RESTORED] = "rule_restored",
	[NW_EV_RULE_RESTORE_FAILED] = "rule_restore_failed",
	[NW_EV_RULE_FLAPPING] = "rule_flapping",
	[NW_EV_CONNECTIVITY_LOST] = "connectivity_lost",
	[NW_EV_CONNECTIVITY_RESTORED] = "connectivity_restored",
	[NW_EV_RECOVERY_FAILED] = "recovery_failed",
	[NW_EV_SEGW_UP] = "segw_up",
	[NW_EV_EVENTS_LOST] = "events_lost",
};

const char *nw_event_type_name(unsigned type)
{
	return type < NW_EV__MAX && type_names[type] ? type_names[type] : "unknown";
}

int nw_event_type_parse(const char *name)
{
	for (unsigned i = 1; i < NW_EV__MAX; i++)
		if (type_names[i] && !strcmp(type_names[i], name))
			return (int)i;
	return -EINVAL;
}

int nw_event_type_public(unsigned type)
{
	switch (type) {
	case NW_EV_NONE:
	case NW_EV_RTNL_REQUEST:
	case NW_EV_NO_ROUTE_RAW:
	case NW_EV_CGROUP_CHANGE:
		return 0;
	default:
		return type < NW_EV__MAX;
	}
}

void nw_event_message_id(unsigned type, char buf[33])
{
	snprintf(buf, 33, "5e1f0c2a9b7d4e63a8c1f0d2b4e6%04x", type & 0xffff);
}

static void add_ts(cJSON *o, uint64_t real_ns)
{
	char ts[NW_TS_LEN];

	nw_format_realtime(real_ns, ts);
	cJSON_AddStringToObject(o, "ts", ts);
}

cJSON *nw_event_new(unsigned type, uint32_t netns)
{
	cJSON *o = cJSON_CreateObject();

	if (!o)
		return NULL;
	add_ts(o, nw_now_ns(CLOCK_REALTIME));
	cJSON_AddStringToObject(o, "type", nw_event_type_name(type));
	cJSON_AddNumberToObject(o, "netns", netns);
	return o;
}

static void add_actor(cJSON *o, const struct nw_event_hdr *h, const char *cg_mount)
{
	char comm[NW_COMM_LEN + 1], path[PATH_MAX];

	memcpy(comm, h->comm, NW_COMM_LEN);
	comm[NW_COMM_LEN] = 0;
	cJSON_AddNumberToObject(o, "pid", h->tgid);
	cJSON_AddNumberToObject(o, "tid", h->pid);
	cJSON_AddStringToObject(o, "comm", comm);
	cJSON_AddNumberToObject(o, "uid", h->uid);
	if (cg_mount && nw_cgroup_path_from_id(cg_mount, h->cgroup_id, path, sizeof(path)) == 0)
		cJSON_AddStringToObject(o, "cgroup", path);
	cJSON_AddNumberToObject(o, "cgroup_id", (double)h->cgroup_id);
}

static void addr_str(const uint8_t *a, unsigned family, bool v4mapped, char *buf, size_t size)
{
	if (family == 4 && !v4mapped)
		inet_ntop(AF_INET, a, buf, (socklen_t)size);
	else
		inet_ntop(AF_INET6, a, buf, (socklen_t)size);
}

static cJSON *decode_bind(const struct nw_bind_event *e, const char *cg_mount)
{
	const struct nw_event_hdr *h = &e->hdr;
	bool mapped = h->flags & NW_EVF_V4MAPPED;
	char a[INET6_ADDRSTRLEN], path[PATH_MAX];
	uint64_t boot_now = nw_now_ns(CLOCK_BOOTTIME);
	cJSON *o;

	o = cJSON_CreateObject();
	if (!o)
		return NULL;
	add_ts(o, nw_now_ns(CLOCK_REALTIME) - (boot_now > h->ts_ns ? boot_now - h->ts_ns : 0));
	cJSON_AddStringToObject(o, "type", nw_event_type_name(h->type));
	cJSON_AddNumberToObject(o, "netns", h->netns);
	add_actor(o, h, cg_mount);
	cJSON_AddNumberToObject(o, "family", e->family);
	cJSON_AddStringToObject(o, "proto", nw_proto_name(e->proto));
	addr_str(e->addr, e->family, mapped || e->sock_family == 10, a, sizeof(a));
	cJSON_AddStringToObject(o, "addr", a);
	cJSON_AddNumberToObject(o, "port", e->port);
	cJSON_AddStringToObject(o, "action", nw_action_name(e->action));
	cJSON_AddStringToObject(o, "policy", nw_action_name(e->policy));
	cJSON_AddStringToObject(o, "rule", nw_match_name(e->match));
	if (e->rule_cgroup_id) {
		if (cg_mount && nw_cgroup_path_from_id(cg_mount, e->rule_cgroup_id, path,
						       sizeof(path)) == 0)
			cJSON_AddStringToObject(o, "rule_cgroup", path);
		cJSON_AddNumberToObject(o, "rule_cgroup_id", (double)e->rule_cgroup_id);
	}
	if (e->action == NW_ACT_REWRITE) {
		addr_str(e->new_addr, e->family, mapped || e->sock_family == 10, a, sizeof(a));
		cJSON_AddStringToObject(o, "new_addr", a);
	}
	if (mapped)
		cJSON_AddBoolToObject(o, "v4mapped", 1);
	if (h->flags & NW_EVF_DRY_RUN)
		cJSON_AddBoolToObject(o, "dry_run", 1);
	if (h->flags & NW_EVF_AUTOBIND) {
		cJSON_AddStringToObject(o, "source", "autobind");
		cJSON_AddBoolToObject(o, "killed", e->action == NW_ACT_KILL);
	}
	return o;
}

static cJSON *decode_no_route(const struct nw_no_route *e, const char *cg_mount)
{
	const struct nw_event_hdr *h = &e->hdr;
	uint64_t boot_now = nw_now_ns(CLOCK_BOOTTIME);
	char a[INET6_ADDRSTRLEN];
	cJSON *o = cJSON_CreateObject();

	if (!o)
		return NULL;
	add_ts(o, nw_now_ns(CLOCK_REALTIME) - (boot_now > h->ts_ns ? boot_now - h->ts_ns : 0));
	cJSON_AddStringToObject(o, "type", nw_event_type_name(NW_EV_NO_ROUTE));
	cJSON_AddNumberToObject(o, "netns", h->netns);
	add_actor(o, h, cg_mount);
	cJSON_AddNumberToObject(o, "family", e->family);
	inet_ntop(e->family == 6 ? AF_INET6 : AF_INET, e->dst, a, sizeof(a));
	cJSON_AddStringToObject(o, "dst", a);
	cJSON_AddNumberToObject(o, "table", e->table);
	cJSON_AddNumberToObject(o, "err", e->err);
	cJSON_AddNumberToObject(o, "failures", (double)e->failures);
	return o;
}

cJSON *nw_event_decode(const void *data, size_t len, const char *cg_mount)
{
	const struct nw_event_hdr *h = data;

	if (len < sizeof(*h) || h->version != NW_EVENT_VERSION || h->size > len) {
		errno = EBADMSG;
		return NULL;
	}
	switch (h->type) {
	case NW_EV_BIND_AUDIT:
	case NW_EV_BIND_DENIED:
	case NW_EV_BIND_REWRITTEN:
	case NW_EV_WILDCARD_LISTENER:
		if (h->size != sizeof(struct nw_bind_event))
			break;
		return decode_bind(data, cg_mount);
	case NW_EV_NO_ROUTE_RAW:
		if (h->size != sizeof(struct nw_no_route))
			break;
		return decode_no_route(data, cg_mount);
	default:
		break;
	}
	errno = EBADMSG;
	return NULL;
}

static const char *str(const cJSON *ev, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(ev, k);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

void nw_event_message(cJSON *ev, const char *fmt, va_list ap)
{
	char msg[1024];

	if (!ev)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	cJSON_AddStringToObject(ev, "message", msg);
}

cJSON *nw_event_daemon(uint32_t netns, const char *message)
{
	cJSON *ev = nw_event_new(NW_EV_DAEMON, netns);

	if (ev) {
		cJSON_AddNumberToObject(ev, "pid", getpid());
		cJSON_AddStringToObject(ev, "message", message);
	}
	return ev;
}

static void messagef(cJSON *ev, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void messagef(cJSON *ev, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	nw_event_message(ev, fmt, ap);
	va_end(ap);
}

int nw_history_reply(const struct nw_history *h, const cJSON *req, cJSON *reply, int *type,
		     char *err, size_t errlen)
{
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(req, "type");
	const cJSON *lim = cJSON_GetObjectItemCaseSensitive(req, "limit");
	size_t limit = h->count, first;
	cJSON *arr;

	*type = -1;
	if (t && !cJSON_IsNull(t) &&
	    (!cJSON_IsString(t) || (*type = nw_event_type_parse(t->valuestring)) < 0 ||
	     !nw_event_type_public((unsigned)*type))) {
		snprintf(err, errlen, "type: \"%s\" is not an event type",
			 cJSON_IsString(t) ? t->valuestring : "?");
		*type = -1;
		return -EINVAL;
	}
	if (cJSON_IsNumber(lim) && lim->valuedouble >= 0 && lim->valuedouble < (double)limit)
		limit = (size_t)lim->valuedouble;
	if (!(arr = cJSON_AddArrayToObject(reply, "events")))
		return -ENOMEM;
	/* the newest `limit` matching events, oldest first */
	first = h->count;
	for (size_t n = 0; first > 0 && n < limit; first--) {
		unsigned ty = 0;

		nw_history_get(h, first - 1, &ty);
		if (*type < 0 || ty == (unsigned)*type)
			n++;
	}
	for (size_t i = first; i < h->count; i++) {
		unsigned ty = 0;
		const char *line = nw_history_get(h, i, &ty);

		if (*type < 0 || ty == (unsigned)*type)
			cJSON_AddItemToArray(arr, cJSON_Parse(line));
	}
	return 0;
}

cJSON *nw_event_drops(struct nw_drop_watch *w, uint32_t netns, uint64_t total)
{
	bool first = !w->started;
	uint64_t lost;
	cJSON *ev;

	w->started = true;
	if (total < w->reported)	/* the maps were made anew */
		w->reported = 0;
	lost = total - w->reported;
	w->reported = total;
	if (!lost || !(ev = nw_event_new(NW_EV_EVENTS_LOST, netns)))
		return NULL;
	cJSON_AddNumberToObject(ev, "lost", (double)lost);
	cJSON_AddNumberToObject(ev, "total", (double)total);
	cJSON_AddBoolToObject(ev, "before_start", first);
	if (first)
		messagef(ev, "%" PRIu64 " events were lost in the kernel before this netwardd "
				  "started: the ring buffer was full while none read it", lost);
	else
		messagef(ev, "%" PRIu64 " events lost in the kernel: the ring buffer was full "
				  "(%" PRIu64 " since the maps were pinned)", lost, total);
	return ev;
}

static double num(const cJSON *ev, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(ev, k);

	return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

void nw_event_summary(const cJSON *ev, char *buf, size_t size)
{
	const char *type = str(ev, "type"), *addr = str(ev, "addr");
	char actor[256] = "";
	int n;

	if (num(ev, "pid") >= 0 && str(ev, "comm"))
		snprintf(actor, sizeof(actor), " pid %.0f (%s) uid %.0f cgroup %s", num(ev, "pid"),
			 str(ev, "comm") ? str(ev, "comm") : "?", num(ev, "uid"),
			 str(ev, "cgroup") ? str(ev, "cgroup") : "?");
	n = snprintf(buf, size, "%s:%s", type ? type : "?", actor);
	if (n < 0 || (size_t)n >= size)
		return;
	if (addr) {
		bool v6 = strchr(addr, ':') != NULL;

		snprintf(buf + n, size - (size_t)n, " %s %s%s%s:%.0f -> %s%s%s%s",
			 str(ev, "proto") ? str(ev, "proto") : "?", v6 ? "[" : "", addr,
			 v6 ? "]" : "", num(ev, "port"), str(ev, "action") ? str(ev, "action") : "?",
			 str(ev, "new_addr") ? " " : "", str(ev, "new_addr") ? str(ev, "new_addr") : "",
			 cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(ev, "dry_run")) ? " (dry-run)" : "");
	} else if (str(ev, "message")) {
		snprintf(buf + n, size - (size_t)n, " %s", str(ev, "message"));
	}
}

int nw_history_init(struct nw_history *h, size_t cap)
{
	memset(h, 0, sizeof(*h));
	h->lines = calloc(cap, sizeof(*h->lines));
	h->types = calloc(cap, sizeof(*h->types));
	if (!h->lines || !h->types) {
		nw_history_free(h);
		return -ENOMEM;
	}
	h->cap = cap;
	return 0;
}

void nw_history_free(struct nw_history *h)
{
	for (size_t i = 0; h->lines && i < h->cap; i++)
		free(h->lines[i]);
	free(h->lines);
	free(h->types);
	memset(h, 0, sizeof(*h));
}

int nw_history_add(struct nw_history *h, unsigned type, const char *json)
{
	char *copy = strdup(json);
	size_t slot;

	if (!copy)
		return -ENOMEM;
	if (h->count < h->cap) {
		slot = (h->start + h->count) % h->cap;
		h->count++;
	} else {
		slot = h->start;
		h->start = (h->start + 1) % h->cap;
		free(h->lines[slot]);
	}
	h->lines[slot] = copy;
	h->types[slot] = (uint16_t)type;
	h->total++;
	return 0;
}

const char *nw_history_get(const struct nw_history *h, size_t i, unsigned *type)
{
	size_t slot;

	if (i >= h->count)
		return NULL;
	slot = (h->start + i) % h->cap;
	if (type)
		*type = h->types[slot];
	return h->lines[slot];
}
