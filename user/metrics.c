// SPDX-License-Identifier: GPL-2.0-only
/*
 * Prometheus metrics: what netwardd counts, rendered in the text exposition
 * format 0.0.4, and the writer that replaces metrics.textfile on the
 * daemon's loop. See metrics.h.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cf_api.h"
#include "events.h"
#include "log.h"
#include "metrics.h"
#include "policy.h"
#include "util.h"

/* netward_route_restore_latency_seconds: upper bounds, inclusive */
static const struct {
	const char *le;
	uint64_t us;
} buckets[] = {
	{ "0.0001", 100 }, { "0.00025", 250 }, { "0.0005", 500 }, { "0.001", 1000 },
	{ "0.0025", 2500 }, { "0.005", 5000 }, { "0.01", 10000 }, { "0.025", 25000 },
	{ "0.1", 100000 }, { "1", 1000000 },
};
#define N_BUCKETS NW_ARRAY_SIZE(buckets)

struct nw_metrics {
	/* counters fed by nw_metrics_note_event */
	uint64_t events[NW_EV__MAX];
	uint64_t bind_actions[NW_ACT__MAX];
	uint64_t bind_other;			/* an action netward does not know */
	uint64_t lat[N_BUCKETS + 1];		/* per bucket, not cumulative; last: above 1 s */
	uint64_t lat_count, lat_sum_us;

	/* the writer */
	sd_event *e;
	sd_event_source *timer;
	const struct nw_metrics_ops *ops;
	void *ud;
	char *path;			/* NULL: off */
	uint32_t interval_ms;
	bool written;			/* path holds a file of ours */
	bool dirty;			/* changed since the last write */
	bool failing;			/* in a spell of failed writes (logged once) */
	uint64_t last_try_ns;		/* CLOCK_MONOTONIC of the last write, 0 none */
	uint64_t last_write_real_ns;	/* CLOCK_REALTIME of the last good one */
	uint64_t writes, errors;
	int last_err;
};

int nw_metrics_new(struct nw_metrics **out)
{
	struct nw_metrics *m = calloc(1, sizeof(*m));

	if (!m)
		return -ENOMEM;
	m->interval_ms = NW_METRICS_INTERVAL_MS;
	*out = m;
	return 0;
}

void nw_metrics_free(struct nw_metrics *m)
{
	if (!m)
		return;
	if (m->written && m->path)
		unlink(m->path);
	sd_event_source_disable_unref(m->timer);
	sd_event_unref(m->e);
	free(m->path);
	free(m);
}

/* --- counters ---------------------------------------------------------------- */

static const char *jstr(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static bool jnum(const cJSON *o, const char *key, double *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	if (!cJSON_IsNumber(v))
		return false;
	*out = v->valuedouble;
	return true;
}

static void note_bind(struct nw_metrics *m, unsigned type, const cJSON *ev)
{
	const char *action = jstr(ev, "action"), *source = jstr(ev, "source");
	int a = action ? nw_action_parse(action) : -EINVAL;

	/* the start-up census of listeners is no action taken */
	if (type == NW_EV_WILDCARD_LISTENER && source && !strcmp(source, "scan"))
		return;
	if (a > NW_ACT_NONE && a < NW_ACT__MAX)
		m->bind_actions[a]++;
	else
		m->bind_other++;
}

static void note_latency(struct nw_metrics *m, const cJSON *ev)
{
	double v;
	uint64_t us;
	size_t i;

	if (!jnum(ev, "latency_us", &v) || !isfinite(v))
		return;
	us = v <= 0 ? 0 : v >= 1e15 ? (uint64_t)1e15 : (uint64_t)v;
	for (i = 0; i < N_BUCKETS && us > buckets[i].us; i++)
		;
	m->lat[i]++;
	m->lat_count++;
	m->lat_sum_us += us;
}

void nw_metrics_note_event(struct nw_metrics *m, unsigned type, const cJSON *ev)
{
	if (!m)
		return;
	if (type < NW_EV__MAX)
		m->events[type]++;
	switch (type) {
	case NW_EV_BIND_AUDIT:
	case NW_EV_BIND_DENIED:
	case NW_EV_BIND_REWRITTEN:
	case NW_EV_WILDCARD_LISTENER:
		note_bind(m, type, ev);
		break;
	case NW_EV_ROUTE_RESTORED:
		note_latency(m, ev);
		break;
	default:
		break;
	}
	nw_metrics_changed(m);
}

/* --- the text format ------------------------------------------------------------ */

struct out {
	FILE *f;
	char name[96];		/* the family */
	const char *type, *help;
	bool head;		/* HELP and TYPE written */
};

/* A family: its HELP and TYPE lines come with its first sample (a family
 * without samples, e.g. no probes, is left out). */
static void family(struct out *o, const char *name, const char *type, const char *help)
{
	snprintf(o->name, sizeof(o->name), "%s", name);
	o->type = type;
	o->help = help;
	o->head = false;
}

/* label values: \ " and newline escaped; HELP text: \ and newline */
static void put_escaped(FILE *f, const char *s, bool quote)
{
	for (; *s; s++) {
		if (*s == '\\')
			fputs("\\\\", f);
		else if (*s == '\n')
			fputs("\\n", f);
		else if (*s == '"' && quote)
			fputs("\\\"", f);
		else
			fputc(*s, f);
	}
}

/* "<family><suffix>{k="v",...} value": labels are key, value pairs ended
 * by NULL */
static void sample(struct out *o, const char *suffix, const char *value, ...)
{
	const char *k;
	bool first = true;
	va_list ap;

	if (!o->head) {
		fprintf(o->f, "# HELP %s ", o->name);
		put_escaped(o->f, o->help, false);
		fprintf(o->f, "\n# TYPE %s %s\n", o->name, o->type);
		o->head = true;
	}
	fprintf(o->f, "%s%s", o->name, suffix);
	va_start(ap, value);
	while ((k = va_arg(ap, const char *))) {
		const char *v = va_arg(ap, const char *);

		fprintf(o->f, "%c%s=\"", first ? '{' : ',', k);
		put_escaped(o->f, v ? v : "", true);
		fputc('"', o->f);
		first = false;
	}
	va_end(ap);
	fprintf(o->f, "%s %s\n", first ? "" : "}", value);
}

static const char *u64s(char buf[24], uint64_t v)
{
	snprintf(buf, 24, "%llu", (unsigned long long)v);
	return buf;
}

/* microseconds as seconds, exactly: 58 -> 0.000058 */
static const char *us_s(char buf[32], uint64_t us)
{
	snprintf(buf, 32, "%llu.%06llu", (unsigned long long)(us / 1000000),
		 (unsigned long long)(us % 1000000));
	return buf;
}

static const char *dbl(char buf[40], double v)
{
	if (isnan(v))
		snprintf(buf, 40, "NaN");
	else if (isinf(v))
		snprintf(buf, 40, v > 0 ? "+Inf" : "-Inf");
	else if (v == floor(v) && fabs(v) < 1e15)
		snprintf(buf, 40, "%.0f", v);
	else
		snprintf(buf, 40, "%.17g", v);
	return buf;
}

static void render_daemon(struct out *o, const struct nw_metrics_input *in)
{
	char b[40];

	family(o, "netward_up", "gauge", "1 while netwardd runs and writes this file.");
	sample(o, "", "1", NULL);
	family(o, "netward_build_info", "gauge", "The netwardd version, as a label; always 1.");
	sample(o, "", "1", "version", in->version ? in->version : "unknown", NULL);
	family(o, "netward_start_time_seconds", "gauge", "When netwardd started, Unix time.");
	snprintf(b, sizeof(b), "%.3f", in->start_time_s);
	sample(o, "", b, NULL);
}

static void render_events(struct out *o, const struct nw_metrics *m)
{
	char b[24];

	family(o, "netward_events_total", "counter", "Events netwardd reported, by type.");
	for (unsigned t = 0; t < NW_EV__MAX; t++)
		if (nw_event_type_public(t))
			sample(o, "", u64s(b, m->events[t]), "type", nw_event_type_name(t), NULL);
	family(o, "netward_bind_events_total", "counter",
	       "Wildcard bind and listen events, by the action taken (allow, audit, deny, "
	       "rewrite, kill).");
	for (unsigned a = NW_ACT_ALLOW; a < NW_ACT__MAX; a++)
		sample(o, "", u64s(b, m->bind_actions[a]), "action", nw_action_name(a), NULL);
	if (m->bind_other)
		sample(o, "", u64s(b, m->bind_other), "action", "other", NULL);
}

static void render_latency(struct out *o, const struct nw_metrics *m)
{
	uint64_t cum = 0;
	char b[32];

	family(o, "netward_route_restore_latency_seconds", "histogram",
	       "From a protected route's deletion to its restore (route_restored latency_us).");
	for (size_t i = 0; i < N_BUCKETS; i++) {
		cum += m->lat[i];
		sample(o, "_bucket", u64s(b, cum), "le", buckets[i].le, NULL);
	}
	sample(o, "_bucket", u64s(b, m->lat_count), "le", "+Inf", NULL);
	sample(o, "_sum", us_s(b, m->lat_sum_us), NULL);
	sample(o, "_count", u64s(b, m->lat_count), NULL);
}

/* HELP of the pinned "counters" map's fields (include/netward/counters.h) */
static const struct {
	const char *name, *help;
} bpf_help[] = {
	{ "bind_wildcard", "Wildcard binds (0.0.0.0, ::) the bind programs saw." },
	{ "bind_allowed", "Wildcard binds allowed." },
	{ "bind_audited", "Wildcard binds allowed and reported." },
	{ "bind_denied", "Wildcard binds denied (EPERM)." },
	{ "bind_rewritten", "Wildcard binds rewritten to loopback." },
	{ "listen_autobind", "listen() without bind() on the wildcard." },
	{ "listen_killed", "listen() without bind() answered with SIGKILL." },
	{ "dry_run", "Actions downgraded to audit by --dry-run." },
	{ "other_netns", "Binds ignored: another network namespace." },
	{ "events_lost", "Events dropped in the kernel: the ring buffer was full." },
	{ "rtnl_requests", "rtnetlink write requests seen." },
	{ "rtnl_route_del", "rtnetlink RTM_DELROUTE requests seen." },
	{ "rtnl_rule_changes", "rtnetlink RTM_NEWRULE and RTM_DELRULE requests seen." },
	{ "rtnl_truncated", "rtnetlink batches with more messages than were parsed." },
	{ "fib_lookup_fail", "FIB lookups that found no route (any table)." },
	{ "no_route_main", "FIB lookups of global destinations that found no route in main." },
	{ "quarantine_kills", "Writers in quarantined cgroups sent SIGKILL." },
	{ "quarantine_denied", "Writes of quarantined cgroups refused with EPERM." },
};

static void render_bpf(struct out *o, const struct nw_metrics_input *in)
{
	char name[96], b[24];

	if (!in->has_bpf)
		return;
	for (size_t i = 0; i < nw_counter_count; i++) {
		const char *help = "A counter of the BPF programs (the pinned \"counters\" map).";

		for (size_t k = 0; k < NW_ARRAY_SIZE(bpf_help); k++)
			if (!strcmp(bpf_help[k].name, nw_counter_names[i]))
				help = bpf_help[k].help;
		snprintf(name, sizeof(name), "netward_bpf_%s_total", nw_counter_names[i]);
		family(o, name, "counter", help);
		sample(o, "", u64s(b, nw_counter_at(&in->bpf, i)), NULL);
	}
}

static void render_guard(struct out *o, const cJSON *g)
{
	const cJSON *rules = cJSON_GetObjectItemCaseSensitive(g, "rules");
	char b[24];

	if (!g)
		return;
	family(o, "netward_protected_routes", "gauge", "Routes the route guard protects.");
	sample(o, "", u64s(b, (uint64_t)cJSON_GetArraySize(
				      cJSON_GetObjectItemCaseSensitive(g, "protected"))), NULL);
	family(o, "netward_protected_rules", "gauge", "Policy routing rules the guard protects.");
	sample(o, "", u64s(b, (uint64_t)cJSON_GetArraySize(
				      cJSON_GetObjectItemCaseSensitive(rules, "protected"))), NULL);
}

static void render_probes(struct out *o, const cJSON *conn)
{
	const cJSON *probes = cJSON_GetObjectItemCaseSensitive(conn, "probes"), *p;
	char b[40];
	double v;

	family(o, "netward_probe_up", "gauge",
	       "1 when the probe's last verdict is up, 0 when down or not known yet.");
	cJSON_ArrayForEach(p, probes) {
		const char *st = jstr(p, "state");

		sample(o, "", st && !strcmp(st, "up") ? "1" : "0", "probe", jstr(p, "name"),
		       "type", jstr(p, "type"), "role", jstr(p, "role"), NULL);
	}
	family(o, "netward_probe_rtt_seconds", "gauge",
	       "Round-trip time of the probe's last run; only while the probe is up.");
	cJSON_ArrayForEach(p, probes) {
		const char *st = jstr(p, "state");

		if (st && !strcmp(st, "up") && jnum(p, "last_rtt_us", &v) && v >= 0)
			sample(o, "", us_s(b, (uint64_t)v), "probe", jstr(p, "name"), NULL);
	}
	family(o, "netward_probe_failures_total", "counter", "Failed runs of the probe.");
	cJSON_ArrayForEach(p, probes)
		if (jnum(p, "failures", &v))
			sample(o, "", dbl(b, v), "probe", jstr(p, "name"), NULL);
}

static void render_recovery(struct out *o, const cJSON *conn)
{
	const char *st = jstr(conn, "state");
	char b[40];
	double v;

	if (!conn)
		return;
	render_probes(o, conn);
	family(o, "netward_connectivity", "gauge",
	       "What the probes say: 1 connected, 0 offline, -1 unknown.");
	sample(o, "", st && !strcmp(st, "connected") ? "1" : st && !strcmp(st, "offline") ? "0" : "-1",
	       NULL);
	family(o, "netward_recovery_level", "gauge", "The recovery ladder's level (0: not climbing).");
	if (jnum(conn, "level", &v))
		sample(o, "", dbl(b, v), NULL);
	family(o, "netward_recovery_failed_attempts", "gauge",
	       "Recovery attempts that left the host offline, in a row.");
	if (jnum(conn, "failed_attempts", &v))
		sample(o, "", dbl(b, v), NULL);
}

static void render_tunnels(struct out *o, const cJSON *t)
{
	const cJSON *list = cJSON_GetObjectItemCaseSensitive(t, "tunnels"), *x;
	char b[40];
	double v;

	family(o, "netward_tunnel_down", "gauge", "1 while the tunnel counts as down (fall answers).");
	cJSON_ArrayForEach(x, list)
		sample(o, "", cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(x, "down")) ? "1" : "0",
		       "tunnel", jstr(x, "name"), NULL);
	family(o, "netward_tunnel_status", "gauge",
	       "The tunnel's last status from the API: 1 for the current one.");
	cJSON_ArrayForEach(x, list) {
		const char *cur = jstr(x, "status");
		bool known = false;

		for (unsigned s = NW_TUNNEL_UNKNOWN; s <= NW_TUNNEL_INACTIVE; s++) {
			const char *name = nw_tunnel_status_name(s);
			bool is = cur && !strcmp(cur, name);

			known |= is;
			sample(o, "", is ? "1" : "0", "tunnel", jstr(x, "name"), "status", name, NULL);
		}
		if (cur && !known)
			sample(o, "", "1", "tunnel", jstr(x, "name"), "status", cur, NULL);
	}
	family(o, "netward_tunnel_unit_started_total", "counter",
	       "Times netward started the tunnel's backup unit.");
	cJSON_ArrayForEach(x, list)
		if (jnum(x, "unit_starts", &v))
			sample(o, "", dbl(b, v), "tunnel", jstr(x, "name"), NULL);
}

static void render_segw(struct out *o, const cJSON *s)
{
	const cJSON *list = cJSON_GetObjectItemCaseSensitive(s, "connections"), *c;
	char b[40];
	double v;

	family(o, "netward_segw_up", "gauge",
	       "1 while the connection's IKE SA is up, at the gateway labelled.");
	cJSON_ArrayForEach(c, list) {
		const char *st = jstr(c, "state");

		sample(o, "", st && !strcmp(st, "up") ? "1" : "0", "connection", jstr(c, "name"),
		       "gateway", jstr(c, "gateway"), NULL);
	}
	family(o, "netward_segw_attempts", "gauge",
	       "Failed attempts in a row of the connection (max_retries stops it).");
	cJSON_ArrayForEach(c, list)
		if (jnum(c, "attempts", &v))
			sample(o, "", dbl(b, v), "connection", jstr(c, "name"), NULL);
	family(o, "netward_segw_failovers_total", "counter",
	       "Failovers of the connection to its next gateway.");
	cJSON_ArrayForEach(c, list)
		if (jnum(c, "failovers", &v))
			sample(o, "", dbl(b, v), "connection", jstr(c, "name"), NULL);
}

int nw_metrics_render(const struct nw_metrics *m, const struct nw_metrics_input *in,
		      char **text, size_t *len)
{
	struct out o = { 0 };
	char *buf = NULL;
	size_t n = 0;
	char b[24];
	int err;

	if (!(o.f = open_memstream(&buf, &n)))
		return -errno;
	render_daemon(&o, in);
	render_events(&o, m);
	render_latency(&o, m);
	render_bpf(&o, in);
	render_guard(&o, in->route_guard);
	render_recovery(&o, in->connectivity);
	if (in->tunnels)
		render_tunnels(&o, in->tunnels);
	if (in->segw)
		render_segw(&o, in->segw);
	family(&o, "netward_reloads_total", "counter", "Configuration reloads applied.");
	sample(&o, "", u64s(b, in->reloads), NULL);
	family(&o, "netward_reload_failures_total", "counter",
	       "Configuration reloads rejected (the running configuration stayed).");
	sample(&o, "", u64s(b, in->reload_failures), NULL);
	/* last: a reader that sees it has the whole file */
	family(&o, "netward_metrics_write_errors_total", "counter",
	       "Writes of this file that failed.");
	sample(&o, "", u64s(b, m->errors), NULL);
	err = ferror(o.f) ? -ENOMEM : 0;
	if (fclose(o.f) && !err)
		err = -errno;
	if (err) {
		free(buf);
		return err;
	}
	*text = buf;
	*len = n;
	return 0;
}

/* --- the writer ------------------------------------------------------------------- */

int nw_metrics_write_file(const char *path, const char *text, size_t len)
{
	const char *slash = strrchr(path, '/');
	char tmp[PATH_MAX];
	int fd, err;

	if (!slash || !slash[1])
		return -EINVAL;
	if ((err = nw_path(tmp, sizeof(tmp), "%.*s/.%s.XXXXXX", (int)(slash - path), path, slash + 1)))
		return err;
	/* no fsync: metrics are rewritten within seconds, and an fsync would
	 * stall the loop that restores routes */
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	err = nw_write_all(fd, text, len);
	if (!err && fchmod(fd, 0644) < 0)
		err = -errno;
	if (close(fd) < 0 && !err)
		err = -errno;
	if (!err && rename(tmp, path) < 0)
		err = -errno;
	if (err)
		unlink(tmp);
	return err;
}

static void input_free(struct nw_metrics_input *in)
{
	cJSON_Delete(in->route_guard);
	cJSON_Delete(in->connectivity);
	cJSON_Delete(in->tunnels);
	cJSON_Delete(in->segw);
}

static void write_now(struct nw_metrics *m)
{
	struct nw_metrics_input in = { 0 };
	char *text = NULL;
	size_t len = 0;
	int r;

	m->dirty = false;
	m->last_try_ns = nw_now_ns(CLOCK_MONOTONIC);
	if (m->ops && m->ops->collect)
		m->ops->collect(m->ud, &in);
	r = nw_metrics_render(m, &in, &text, &len);
	input_free(&in);
	if (!r)
		r = nw_metrics_write_file(m->path, text, len);
	free(text);
	if (r) {
		m->errors++;
		m->last_err = r;
		if (!m->failing)
			log_warn("metrics: %s: %s (counted in netward_metrics_write_errors_total; "
				 "said again only once it works)", m->path, strerror(-r));
		m->failing = true;
		return;
	}
	if (m->failing)
		log_info("metrics: %s: written again", m->path);
	m->failing = false;
	m->last_err = 0;
	m->written = true;
	m->writes++;
	m->last_write_real_ns = nw_now_ns(CLOCK_REALTIME);
}

/* The next write: after a change 1 s after the last, else an interval
 * after it; at once the first time. */
static void arm(struct nw_metrics *m)
{
	uint64_t gap_ms = m->dirty ? NW_METRICS_MIN_GAP_MS : m->interval_ms;
	uint64_t due_ns = m->last_try_ns ? m->last_try_ns + gap_ms * 1000000ull : 0;

	if (!m->timer)
		return;
	sd_event_source_set_time(m->timer, due_ns / 1000);
	sd_event_source_set_enabled(m->timer, SD_EVENT_ONESHOT);
}

static int on_timer(sd_event_source *s, uint64_t usec, void *ud)
{
	struct nw_metrics *m = ud;
	(void)s;
	(void)usec;

	if (m->path)
		write_now(m);
	arm(m);
	return 0;
}

void nw_metrics_changed(struct nw_metrics *m)
{
	if (!m || m->dirty)
		return;		/* a write within the second is due already */
	m->dirty = true;
	if (m->path)
		arm(m);
}

static bool same(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

int nw_metrics_configure(struct nw_metrics *m, sd_event *e, const struct nw_metrics_cfg *cfg,
			 const struct nw_metrics_ops *ops, void *ud)
{
	int r;

	if (!same(m->path, cfg->textfile)) {
		char *p = NULL;

		if (cfg->textfile && !(p = strdup(cfg->textfile)))
			return -ENOMEM;
		if (m->written && m->path)
			unlink(m->path);	/* no stale values at the old place */
		free(m->path);
		m->path = p;
		m->written = false;
		m->failing = false;
		m->last_err = 0;
	}
	m->interval_ms = cfg->interval_ms ? cfg->interval_ms : NW_METRICS_INTERVAL_MS;
	m->ops = ops;
	m->ud = ud;
	if (!m->path) {
		if (m->timer)
			sd_event_source_set_enabled(m->timer, SD_EVENT_OFF);
		return 0;
	}
	if (!m->timer) {
		if ((r = sd_event_add_time(e, &m->timer, CLOCK_MONOTONIC, 0, 10000, on_timer, m)) < 0)
			return r;
		/* after whatever else is pending: restores come first */
		sd_event_source_set_priority(m->timer, SD_EVENT_PRIORITY_IDLE);
		m->e = sd_event_ref(e);
	}
	m->dirty = true;	/* a new configuration: write soon */
	arm(m);
	return 0;
}

void nw_metrics_status(const struct nw_metrics *m, cJSON *out)
{
	char ts[NW_TS_LEN];

	if (m->path)
		cJSON_AddStringToObject(out, "textfile", m->path);
	else
		cJSON_AddNullToObject(out, "textfile");
	cJSON_AddNumberToObject(out, "interval_ms", m->interval_ms);
	cJSON_AddNumberToObject(out, "writes", (double)m->writes);
	cJSON_AddNumberToObject(out, "errors", (double)m->errors);
	if (m->last_write_real_ns) {
		nw_format_realtime(m->last_write_real_ns, ts);
		cJSON_AddStringToObject(out, "last_write", ts);
	} else {
		cJSON_AddNullToObject(out, "last_write");
	}
	if (m->last_err)
		cJSON_AddStringToObject(out, "last_error", strerror(-m->last_err));
	else
		cJSON_AddNullToObject(out, "last_error");
}
