// SPDX-License-Identifier: GPL-2.0-only
/*
 * The probe scheduler (see probe.h): per probe one interval timer, one
 * deadline timer and one defer source for results known when the run
 * starts; the types (probe_impl.h) do the I/O. Waiters of
 * nw_probes_run_now are answered from one defer source, never from within
 * the call.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>

#include "curl_event.h"
#include "probe_impl.h"
#include "util.h"

#define MS_NS 1000000ull
#define DEFAULT_INTERVAL_MS 1000
#define DEFAULT_TIMEOUT_MS 500

struct probe {
	struct nw_probes *p;
	size_t idx;
	struct nw_probe_cfg cfg;
	struct nw_probe_state st;
	const struct nw_probe_type_ops *type;
	struct nw_probe_run run;
	uint64_t gen;			/* generation of the latest run */
	bool held;			/* the type holds the run: cancel it */
	bool again;			/* run once more when this run ends */
	struct nw_probe_result pending;	/* known at start, reported by `finish` */
	sd_event_source *tick, *deadline, *finish;
};

/* a done callback of nw_probes_run_now */
struct waiter {
	struct waiter *next;
	uint64_t gen;		/* runs of a later generation count */
	uint64_t seq;		/* order of registration */
	uint64_t missing;	/* bit i: probe i has not reported such a run yet */
	void (*done)(void *ud);
	void *ud;
};

struct nw_probes {
	sd_event *e;
	struct probe *probes;
	size_t n;
	const struct nw_probes_ops *ops;
	void *ud;
	uint64_t gen;		/* of the latest run started, any probe */
	uint64_t waiter_seq;
	struct waiter *waiters;	/* in registration order */
	sd_event_source *dispatch;
	struct nw_curl *curl;
	unsigned busy;		/* in a callback of the owner */
	bool dead;		/* freed from within one: the memory goes after it */
};

static uint64_t mono_ns(void)
{
	return nw_now_ns(CLOCK_MONOTONIC);
}

static void arm(sd_event_source *s, uint64_t at_ns)
{
	/* cannot fail on a valid time source */
	(void)sd_event_source_set_time(s, at_ns / 1000);
	(void)sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
}

static void disarm(sd_event_source *s)
{
	(void)sd_event_source_set_enabled(s, SD_EVENT_OFF);
}

static uint64_t all_bits(size_t n)
{
	return n >= 64 ? ~0ull : (1ull << n) - 1;
}

static const struct nw_probe_type_ops *type_ops(unsigned type)
{
	switch (type) {
	case NW_PROBE_ICMP: return &nw_probe_icmp_ops;
	case NW_PROBE_TCP: return &nw_probe_tcp_ops;
	case NW_PROBE_HTTP: case NW_PROBE_HTTPS: return &nw_probe_http_ops;
	case NW_PROBE_DNS: return &nw_probe_dns_ops;
	default: return NULL;
	}
}

void nw_probe_result_set(struct nw_probe_result *r, bool ok, int err, const char *fmt, ...)
{
	va_list ap;

	r->ok = ok;
	r->err = err;
	va_start(ap, fmt);
	vsnprintf(r->detail, sizeof(r->detail), fmt, ap);
	va_end(ap);
}

static void start_run(struct probe *pr);

static void release(struct nw_probes *p)
{
	free(p->probes);
	free(p);
}

/* after a callback of the owner: true when p is gone (or going) */
static bool leave(struct nw_probes *p)
{
	if (--p->busy == 0 && p->dead) {
		release(p);
		return true;
	}
	return p->dead;
}

/* the run of pr ended with r: state, waiters, the owner, a queued re-run */
static void complete(struct probe *pr, const struct nw_probe_result *res)
{
	struct nw_probes *p = pr->p;
	struct nw_probe_state *st = &pr->st;
	struct nw_probe_result r = *res;
	uint64_t now = mono_ns(), bit = 1ull << pr->idx;
	bool again = pr->again, ready = false;

	pr->held = false;
	pr->run.priv = NULL;
	pr->again = false;
	disarm(pr->deadline);
	disarm(pr->finish);

	r.started_ns = pr->run.started_ns;
	r.rtt_us = now > r.started_ns ? (now - r.started_ns) / 1000 : 0;
	if (r.ok)
		r.timeout = false;
	st->in_flight = false;
	st->runs++;
	if (r.ok) {
		st->consec_ok++;
		st->consec_fail = 0;
	} else {
		st->failures++;
		st->consec_fail++;
		st->consec_ok = 0;
	}
	if (!st->known || st->up != r.ok)
		st->since_ns = now;
	st->known = true;
	st->up = r.ok;
	st->last = r;
	if (pr->run.method)
		st->method = pr->run.method;

	for (struct waiter *w = p->waiters; w; w = w->next) {
		if (!(w->missing & bit) || pr->gen <= w->gen)
			continue;
		w->missing &= ~bit;
		ready |= !w->missing;
	}
	if (ready)
		(void)sd_event_source_set_enabled(p->dispatch, SD_EVENT_ONESHOT);

	if (p->ops && p->ops->result) {
		p->busy++;
		p->ops->result(p->ud, pr->idx, &pr->cfg, st, &r);
		if (leave(p))
			return;
	}
	/* the callback may have started it already (nw_probes_run_now) */
	if (again && !st->in_flight)
		start_run(pr);
}

static void start_run(struct probe *pr)
{
	struct nw_probes *p = pr->p;
	uint64_t now = mono_ns();
	int r;

	pr->gen = ++p->gen;
	pr->again = false;
	pr->st.in_flight = true;
	pr->run.started_ns = now;
	pr->run.method = NULL;
	pr->run.priv = NULL;
	memset(&pr->pending, 0, sizeof(pr->pending));
	arm(pr->tick, now + pr->cfg.interval_ms * MS_NS);
	arm(pr->deadline, now + pr->cfg.timeout_ms * MS_NS);

	r = pr->type->start(&pr->run, &pr->pending);
	if (r == 0) {
		pr->held = true;
		return;
	}
	if (r < 0)
		nw_probe_result_set(&pr->pending, false, -r, "start: %s", strerror(-r));
	/* reported from the loop, like any other result */
	disarm(pr->deadline);
	(void)sd_event_source_set_enabled(pr->finish, SD_EVENT_ONESHOT);
}

void nw_probe_run_finish(struct nw_probe_run *run, const struct nw_probe_result *r)
{
	struct probe *pr = (struct probe *)((char *)run - offsetof(struct probe, run));

	if (!pr->held)
		return;	/* cancelled: a type bug, but harmless */
	complete(pr, r);
}

static int on_tick(sd_event_source *s, uint64_t usec, void *ud)
{
	struct probe *pr = ud;
	(void)usec;

	if (pr->st.in_flight)
		arm(s, mono_ns() + pr->cfg.interval_ms * MS_NS);
	else
		start_run(pr);
	return 0;
}

static int on_deadline(sd_event_source *s, uint64_t usec, void *ud)
{
	struct probe *pr = ud;
	struct nw_probe_result r = { .timeout = true };
	(void)s;
	(void)usec;

	if (pr->held && pr->type->cancel)
		pr->type->cancel(&pr->run);
	pr->held = false;
	nw_probe_result_set(&r, false, ETIMEDOUT, "timeout after %u ms", pr->cfg.timeout_ms);
	complete(pr, &r);
	return 0;
}

static int on_finish(sd_event_source *s, void *ud)
{
	struct probe *pr = ud;
	struct nw_probe_result r = pr->pending;
	(void)s;

	complete(pr, &r);
	return 0;
}

/* answers the waiters that were ready when this started; later ones get
 * the next round */
static int on_dispatch(sd_event_source *s, void *ud)
{
	struct nw_probes *p = ud;
	uint64_t last = p->waiter_seq;
	(void)s;

	for (;;) {
		struct waiter **pp, *w = NULL;
		void (*done)(void *ud);
		void *done_ud;

		for (pp = &p->waiters; *pp; pp = &(*pp)->next)
			if (!(*pp)->missing && (*pp)->seq <= last) {
				w = *pp;
				*pp = w->next;
				break;
			}
		if (!w)
			break;
		done = w->done;
		done_ud = w->ud;
		free(w);
		p->busy++;
		done(done_ud);
		if (leave(p))
			return 0;
	}
	for (struct waiter *w = p->waiters; w; w = w->next)
		if (!w->missing) {
			(void)sd_event_source_set_enabled(p->dispatch, SD_EVENT_ONESHOT);
			break;
		}
	return 0;
}

static int probe_init(struct nw_probes *p, struct probe *pr, size_t i,
		      const struct nw_probe_cfg *cfg)
{
	uint64_t now_us = mono_ns() / 1000;
	int r;

	pr->p = p;
	pr->idx = i;
	pr->cfg = *cfg;
	pr->cfg.target = NULL;
	pr->run.probes = p;
	pr->run.cfg = &pr->cfg;
	pr->run.e = p->e;
	if (!(pr->type = type_ops(cfg->type)))
		return -EINVAL;
	if (!cfg->target && cfg->type != NW_PROBE_ICMP && cfg->type != NW_PROBE_TCP)
		return -EINVAL;
	if (cfg->target && !(pr->cfg.target = strdup(cfg->target)))
		return -ENOMEM;
	if (!pr->cfg.interval_ms)
		pr->cfg.interval_ms = DEFAULT_INTERVAL_MS;
	if (!pr->cfg.timeout_ms)
		pr->cfg.timeout_ms = DEFAULT_TIMEOUT_MS;
	pr->cfg.name[sizeof(pr->cfg.name) - 1] = '\0';
	pr->cfg.interface[sizeof(pr->cfg.interface) - 1] = '\0';

	/* the first run at once */
	if ((r = sd_event_add_time(p->e, &pr->tick, CLOCK_MONOTONIC, now_us, 1000, on_tick,
				   pr)) < 0 ||
	    (r = sd_event_add_time(p->e, &pr->deadline, CLOCK_MONOTONIC, now_us, 1000,
				   on_deadline, pr)) < 0 ||
	    (r = sd_event_source_set_enabled(pr->deadline, SD_EVENT_OFF)) < 0 ||
	    (r = sd_event_add_defer(p->e, &pr->finish, on_finish, pr)) < 0 ||
	    (r = sd_event_source_set_enabled(pr->finish, SD_EVENT_OFF)) < 0)
		return r;
	return 0;
}

int nw_probes_new(struct nw_probes **out, sd_event *e, const struct nw_probe_cfg *cfgs, size_t n,
		  const struct nw_probes_ops *ops, void *ud)
{
	struct nw_probes *p;
	int err;

	if (!out || !e || (n && !cfgs))
		return -EINVAL;
	if (n > NW_PROBES_MAX)
		return -E2BIG;
	if (!(p = calloc(1, sizeof(*p))))
		return -ENOMEM;
	p->e = sd_event_ref(e);
	p->ops = ops;
	p->ud = ud;
	if (!(p->probes = calloc(n ? n : 1, sizeof(*p->probes)))) {
		err = -ENOMEM;
		goto cleanup;
	}
	for (size_t i = 0; i < n; i++) {
		p->n = i + 1;	/* what nw_probes_free must undo */
		if ((err = probe_init(p, &p->probes[i], i, &cfgs[i])))
			goto cleanup;
	}
	if ((err = sd_event_add_defer(e, &p->dispatch, on_dispatch, p)) < 0 ||
	    (err = sd_event_source_set_enabled(p->dispatch, SD_EVENT_OFF)) < 0)
		goto cleanup;
	*out = p;
	return 0;
cleanup:
	nw_probes_free(p);
	return err;
}

void nw_probes_free(struct nw_probes *p)
{
	if (!p || p->dead)
		return;
	for (size_t i = 0; i < p->n; i++) {
		struct probe *pr = &p->probes[i];

		if (pr->held && pr->type->cancel)
			pr->type->cancel(&pr->run);
		pr->held = false;
		pr->tick = sd_event_source_disable_unref(pr->tick);
		pr->deadline = sd_event_source_disable_unref(pr->deadline);
		pr->finish = sd_event_source_disable_unref(pr->finish);
		free(pr->cfg.target);
		pr->cfg.target = NULL;
	}
	while (p->waiters) {
		struct waiter *w = p->waiters;

		p->waiters = w->next;
		free(w);
	}
	p->dispatch = sd_event_source_disable_unref(p->dispatch);
	nw_curl_free(p->curl);
	p->curl = NULL;
	p->e = sd_event_unref(p->e);
	p->dead = true;
	/* from within a callback of ours: its caller releases */
	if (!p->busy)
		release(p);
}

int nw_probes_run_now(struct nw_probes *p, void (*done)(void *ud), void *ud)
{
	if (!p)
		return -EINVAL;
	if (done) {
		struct waiter *w = calloc(1, sizeof(*w)), **pp;

		if (!w)
			return -ENOMEM;
		w->gen = p->gen;
		w->seq = ++p->waiter_seq;
		w->missing = all_bits(p->n);
		w->done = done;
		w->ud = ud;
		for (pp = &p->waiters; *pp; pp = &(*pp)->next)
			;
		*pp = w;
		if (!w->missing)
			(void)sd_event_source_set_enabled(p->dispatch, SD_EVENT_ONESHOT);
	}
	for (size_t i = 0; i < p->n; i++) {
		struct probe *pr = &p->probes[i];

		if (pr->st.in_flight)
			pr->again = true;
		else
			start_run(pr);
	}
	return 0;
}

void nw_probes_cancel_done(struct nw_probes *p, void *ud)
{
	struct waiter **pp;

	if (!p)
		return;
	for (pp = &p->waiters; *pp;) {
		struct waiter *w = *pp;

		if (w->ud == ud) {
			*pp = w->next;
			free(w);
		} else {
			pp = &w->next;
		}
	}
}

size_t nw_probes_count(const struct nw_probes *p)
{
	return p ? p->n : 0;
}

const struct nw_probe_cfg *nw_probes_cfg(const struct nw_probes *p, size_t i)
{
	return p && i < p->n ? &p->probes[i].cfg : NULL;
}

const struct nw_probe_state *nw_probes_state(const struct nw_probes *p, size_t i)
{
	return p && i < p->n ? &p->probes[i].st : NULL;
}

int nw_probes_curl(struct nw_probes *p, struct nw_curl **out)
{
	int err;

	if (!p->curl && (err = nw_curl_new(&p->curl, p->e)) < 0)
		return err;
	*out = p->curl;
	return 0;
}

static void add_string_or_null(cJSON *o, const char *key, const char *s)
{
	if (s)
		cJSON_AddStringToObject(o, key, s);
	else
		cJSON_AddNullToObject(o, key);
}

void nw_probes_status(const struct nw_probes *p, cJSON *arr)
{
	uint64_t now = mono_ns();

	if (!p || !arr)
		return;
	for (size_t i = 0; i < p->n; i++) {
		const struct probe *pr = &p->probes[i];
		const struct nw_probe_cfg *c = &pr->cfg;
		const struct nw_probe_state *st = &pr->st;
		cJSON *o = cJSON_CreateObject();
		char addr[INET6_ADDRSTRLEN] = "";

		if (!o)
			return;
		if (!c->target && nw_probe_af(c->family) != AF_UNSPEC)
			inet_ntop(nw_probe_af(c->family), c->addr, addr, sizeof(addr));
		cJSON_AddStringToObject(o, "name", c->name);
		cJSON_AddStringToObject(o, "type", nw_probe_type_name(c->type));
		cJSON_AddStringToObject(o, "role", nw_probe_role_name(c->role));
		cJSON_AddStringToObject(o, "target", c->target ? c->target : addr);
		if (c->type == NW_PROBE_TCP)
			cJSON_AddNumberToObject(o, "port", c->port);
		else
			cJSON_AddNullToObject(o, "port");
		cJSON_AddNumberToObject(o, "interval_ms", c->interval_ms);
		cJSON_AddNumberToObject(o, "timeout_ms", c->timeout_ms);
		cJSON_AddStringToObject(o, "state",
					!st->known ? "unknown" : st->up ? "up" : "down");
		cJSON_AddNumberToObject(o, "consecutive_failures", st->consec_fail);
		cJSON_AddNumberToObject(o, "runs", (double)st->runs);
		cJSON_AddNumberToObject(o, "failures", (double)st->failures);
		if (st->known) {
			uint64_t since = now > st->since_ns ? now - st->since_ns : 0;

			cJSON_AddNumberToObject(o, "last_rtt_us", (double)st->last.rtt_us);
			add_string_or_null(o, "last_error", st->up ? NULL : st->last.detail);
			cJSON_AddNumberToObject(o, "since_s", (double)(since / MS_NS) / 1000.0);
		} else {
			cJSON_AddNullToObject(o, "last_rtt_us");
			cJSON_AddNullToObject(o, "last_error");
			cJSON_AddNullToObject(o, "since_s");
		}
		add_string_or_null(o, "method", st->method);
		cJSON_AddItemToArray(arr, o);
	}
}

/* --- helpers of the socket types ------------------------------------------ */

int nw_probe_af(uint8_t family)
{
	switch (family) {
	case 4: case AF_INET: return AF_INET;
	case 6: case AF_INET6: return AF_INET6;
	default: return AF_UNSPEC;
	}
}

static socklen_t make_sockaddr(int af, const uint8_t addr[16], uint16_t port,
			       struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (af == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		memcpy(&sin->sin_addr, addr, 4);
		return sizeof(*sin);
	}
	if (af == AF_INET6) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		memcpy(&sin6->sin6_addr, addr, 16);
		return sizeof(*sin6);
	}
	return 0;
}

socklen_t nw_probe_sockaddr(const struct nw_probe_cfg *cfg, uint16_t port,
			    struct sockaddr_storage *ss)
{
	socklen_t len = make_sockaddr(nw_probe_af(cfg->family), cfg->addr, port, ss);
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	/* fe80::1 means nothing without its link */
	if (ss->ss_family == AF_INET6 && IN6_IS_ADDR_LINKLOCAL(&sin6->sin6_addr) &&
	    cfg->interface[0])
		sin6->sin6_scope_id = if_nametoindex(cfg->interface);
	return len;
}

int nw_probe_sock_setup(int fd, const struct nw_probe_cfg *cfg, const char **what)
{
	struct sockaddr_storage ss;
	socklen_t len;

	if (cfg->interface[0] &&
	    setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, cfg->interface,
		       (socklen_t)strnlen(cfg->interface, sizeof(cfg->interface))) < 0) {
		*what = "SO_BINDTODEVICE";
		return -errno;
	}
	if (!cfg->has_source)
		return 0;
	*what = "bind";
	if (nw_probe_af(cfg->source_family) != nw_probe_af(cfg->family))
		return -EAFNOSUPPORT;
	len = make_sockaddr(nw_probe_af(cfg->source_family), cfg->source, 0, &ss);
	if (!len)
		return -EAFNOSUPPORT;
	if (bind(fd, (struct sockaddr *)&ss, len) < 0)
		return -errno;
	return 0;
}

const char *nw_probe_ntop(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	const void *a = NULL;

	if (ss->ss_family == AF_INET)
		a = &((const struct sockaddr_in *)ss)->sin_addr;
	else if (ss->ss_family == AF_INET6)
		a = &((const struct sockaddr_in6 *)ss)->sin6_addr;
	if (!a || !inet_ntop(ss->ss_family, a, buf, (socklen_t)len))
		snprintf(buf, len, "?");
	return buf;
}
