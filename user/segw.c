// SPDX-License-Identifier: GPL-2.0-only
/*
 * SEGW failover over VICI (see segw.h). One VICI connection carries the
 * events (ike-updown, alert); each connection that is being brought up
 * gets a command connection of its own for that time, because initiate
 * blocks its command socket until the IKE SA is up or has failed, and
 * connections must fail over concurrently. At most MAX_WORKERS such
 * command connections are open at once; the rest wait their turn.
 *
 * Each time the event connection comes up (start, charon back, a
 * reconnect) nothing is started before charon has listed its IKE SAs
 * (list-sas on the event connection's command socket, where list-sa is
 * registered; the list-sa events come before its answer). A connection
 * whose IKE SA is ESTABLISHED at one of its gateways is adopted: up at
 * that gateway, no load, no initiate, so a restarted netwardd does not
 * make charon replace a working SA. Every other connection is brought up
 * as before. A listing that fails or does not answer within
 * LIST_TIMEOUT_MS starts them all as before.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>

#include "events.h"
#include "log.h"
#include "secret.h"
#include "segw.h"
#include "util.h"
#include "vici.h"

#define MAX_WORKERS 32
#define TERMINATE_TIMEOUT_MS 2000
#define LIST_TIMEOUT_MS 5000
#define MAX_GONE 256

enum cstate {
	C_IDLE,		/* waiting for charon or for a worker slot */
	C_WORKING,	/* load + initiate in flight */
	C_UP,
	C_EXHAUSTED,	/* max_retries failures in a row: stopped */
	C_REFUSED,	/* charon refused the definition: stopped until a reload */
};

static const char *const state_names[] = {
	[C_IDLE] = "idle", [C_WORKING] = "connecting", [C_UP] = "up", [C_EXHAUSTED] = "exhausted",
	[C_REFUSED] = "refused",
};

struct conn {
	struct nw_segw *s;
	struct nw_segw_conn_cfg cfg;	/* gateways and conn owned (deep copies) */
	struct nw_secret *psk;
	enum cstate state;
	unsigned cur;			/* current gateway */
	unsigned failures;		/* in a row */
	bool queued;			/* waits for a worker slot */
	bool switching;			/* terminate the old SA first */
	bool manual;			/* the pending switch was asked for by a user */
	struct nw_vici *cmd;		/* its command connection while working */
	sd_event_source *retry;		/* the pause before a next attempt */
	unsigned step;			/* position in the load/initiate sequence */
	unsigned gen;			/* replies of older generations are stale */
	char uniqueid[16];		/* of the IKE SA that is up */
	uint64_t down_ns;		/* CLOCK_MONOTONIC of the loss, 0 none */
	uint64_t failovers, ups, downs;
	char last_error[192];
};

/* an ESTABLISHED IKE SA charon listed (or reported up) while netward was
 * finding out what is up already */
struct listed_sa {
	char name[NW_SEGW_NAME_MAX];
	char uniqueid[16];
	char host[64];			/* remote-host */
};

struct nw_segw {
	sd_event *e;
	uint32_t netns;
	struct nw_segw_ops ops;
	void *ud;
	char *socket;
	uint32_t initiate_timeout_ms, retry_delay_ms;
	bool dry_run;
	struct nw_vici *events;
	bool connected;
	struct conn *conns;
	size_t n_conns;
	unsigned workers;
	/* Since the last connect: settled once charon's IKE SAs are listed
	 * (or that failed); nothing is started before. */
	bool settled;
	unsigned list_gen;		/* answers of older listings are stale */
	struct listed_sa *listed;
	size_t n_listed, cap_listed;
	char gone[MAX_GONE][16];	/* IKE SAs reported down meanwhile */
	size_t n_gone;
	bool gone_overflow;		/* more than MAX_GONE: adopt nothing */
};

/* list-sa is streamed on the command connection (see vici.c) */
static const char *const event_names[] = { "ike-updown", "ike-rekey", "alert", "list-sa", NULL };

static void start(struct conn *c);
static void pump(struct nw_segw *s);

/* --- events ------------------------------------------------------------------ */

static cJSON *new_event(struct conn *c, unsigned type)
{
	cJSON *ev = nw_event_new(type, c->s->netns);

	if (ev)
		cJSON_AddStringToObject(ev, "connection", c->cfg.name);
	return ev;
}

static void emit(struct conn *c, unsigned type, cJSON *ev, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void emit(struct conn *c, unsigned type, cJSON *ev, const char *fmt, ...)
{
	va_list ap;

	if (!ev)
		return;
	va_start(ap, fmt);
	nw_event_message(ev, fmt, ap);
	va_end(ap);
	c->s->ops.emit(c->s->ud, type, ev);
	cJSON_Delete(ev);
}

static const char *gw(const struct conn *c)
{
	return c->cfg.gateways[c->cur];
}

/* --- the worker: [terminate,] [load-shared,] load-conn, initiate ------------- */

static void release(struct conn *c)
{
	if (!c->cmd)
		return;
	nw_vici_free(c->cmd);
	c->cmd = NULL;
	c->s->workers--;
}

static void failed(struct conn *c, const char *why);

/* charon refused the definition or the key: no gateway can help, and
 * rotating would only burn the retries. Stop with the reason. */
static void refused(struct conn *c, const char *why)
{
	cJSON *ev;

	c->gen++;
	release(c);
	c->state = C_REFUSED;
	snprintf(c->last_error, sizeof(c->last_error), "%s", why);
	ev = new_event(c, NW_EV_SEGW_DOWN);
	if (ev) {
		cJSON_AddStringToObject(ev, "gateway", gw(c));
		cJSON_AddStringToObject(ev, "reason", why);
		cJSON_AddBoolToObject(ev, "refused", 1);
	}
	emit(c, NW_EV_SEGW_DOWN, ev, "charon refused connection '%s': %s (fix the \"conn\" "
	     "definition and reload)", c->cfg.name, why);
	pump(c->s);
}

static void went_up(struct conn *c)
{
	uint64_t now = nw_now_ns(CLOCK_MONOTONIC);
	cJSON *ev;

	release(c);
	c->state = C_UP;
	c->ups++;
	c->failures = 0;
	c->last_error[0] = 0;
	ev = new_event(c, NW_EV_SEGW_UP);
	if (ev) {
		cJSON_AddStringToObject(ev, "gateway", gw(c));
		if (c->down_ns)
			cJSON_AddNumberToObject(ev, "failover_ms",
						(double)((now - c->down_ns) / 1000) / 1000.0);
	}
	if (c->down_ns)
		emit(c, NW_EV_SEGW_UP, ev, "connection '%s' is up at %s, %.1f ms after the loss",
		     c->cfg.name, gw(c), (double)((now - c->down_ns) / 1000) / 1000.0);
	else
		emit(c, NW_EV_SEGW_UP, ev, "connection '%s' is up at %s", c->cfg.name, gw(c));
	c->down_ns = 0;
	pump(c->s);
}

static bool success(const cJSON *reply, char *why, size_t len)
{
	const cJSON *ok = cJSON_GetObjectItemCaseSensitive(reply, "success");
	const cJSON *msg = cJSON_GetObjectItemCaseSensitive(reply, "errmsg");

	if (cJSON_IsString(ok) && !strcmp(ok->valuestring, "yes"))
		return true;
	snprintf(why, len, "%s", cJSON_IsString(msg) ? msg->valuestring : "failed");
	return false;
}

struct reply_ctx {
	struct conn *c;
	unsigned gen;
	const char *what;
};

static void next_step(struct conn *c);

static void on_reply(void *ud, int err, const cJSON *reply)
{
	struct reply_ctx *r = ud;
	struct conn *c = r->c;
	char why[192];
	bool stale = r->gen != c->gen;
	const char *what = r->what;

	free(r);
	if (stale)
		return;
	if (err) {
		snprintf(why, sizeof(why), "%s: %s", what, strerror(-err));
		failed(c, why);
		return;
	}
	/* a terminate with nothing to terminate is fine */
	if (!success(reply, why, sizeof(why)) && strcmp(what, "terminate")) {
		char full[192];

		snprintf(full, sizeof(full), "%s: %s", what, why);
		if (strcmp(what, "initiate"))
			refused(c, full);	/* the definition, not the gateway */
		else
			failed(c, full);
		return;
	}
	if (!strcmp(what, "initiate")) {
		went_up(c);
		return;
	}
	next_step(c);
}

/* load-shared's "data" is the PSK: wiped before the tree is freed */
static void wipe_secret(cJSON *msg)
{
	cJSON *data = cJSON_GetObjectItemCaseSensitive(msg, "data");

	if (cJSON_IsString(data))
		explicit_bzero(data->valuestring, strlen(data->valuestring));
}

static int send_cmd(struct conn *c, const char *what, cJSON *msg, uint64_t timeout_ms)
{
	struct reply_ctx *r = calloc(1, sizeof(*r));
	int err;

	if (!r) {
		cJSON_Delete(msg);
		return -ENOMEM;
	}
	r->c = c;
	r->gen = c->gen;
	r->what = what;
	err = nw_vici_command(c->cmd, what, msg, timeout_ms, on_reply, r);
	wipe_secret(msg);
	cJSON_Delete(msg);
	if (err)
		free(r);
	return err;
}

/* swanctl.conf writes lists as comma-separated strings; VICI wants them
 * as lists: split the known list options given as strings. */
static bool is_list_key(const char *k)
{
	static const char *const lists[] = {
		"local_addrs", "vips", "pools", "proposals", "certs", "cacerts", "pubkeys",
		"groups", "cert_policy", "local_ts", "remote_ts", "esp_proposals",
		"ah_proposals", NULL,
	};

	for (const char *const *l = lists; *l; l++)
		if (!strcmp(k, *l))
			return true;
	return false;
}

static int listify(cJSON *o)
{
	cJSON *it;

	cJSON_ArrayForEach(it, o) {
		if (cJSON_IsObject(it)) {
			if (listify(it))
				return -ENOMEM;
		} else if (cJSON_IsString(it) && is_list_key(it->string)) {
			char *copy = strdup(it->valuestring), *tok, *save = NULL;
			cJSON *arr = cJSON_CreateArray();

			if (!copy || !arr) {
				free(copy);
				cJSON_Delete(arr);
				return -ENOMEM;
			}
			for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
				while (*tok == ' ' || *tok == '\t')
					tok++;
				for (char *e = tok + strlen(tok); e > tok && (e[-1] == ' ' || e[-1] == '\t');)
					*--e = 0;
				if (*tok)
					cJSON_AddItemToArray(arr, cJSON_CreateString(tok));
			}
			free(copy);
			/* sets arr's key from it's before it goes */
			cJSON_ReplaceItemInObjectCaseSensitive(o, it->string, arr);
			it = arr;
		}
	}
	return 0;
}

/* {"<name>": conn + remote_addrs [current gateway]} */
static cJSON *load_conn_msg(const struct conn *c)
{
	cJSON *msg = cJSON_CreateObject(), *conn = cJSON_Duplicate(c->cfg.conn, 1), *addrs;

	if (!msg || !conn || listify(conn) || !(addrs = cJSON_AddArrayToObject(conn, "remote_addrs")))
		goto fail;
	cJSON_AddItemToArray(addrs, cJSON_CreateString(gw(c)));
	cJSON_AddItemToObject(msg, c->cfg.name, conn);
	return msg;
fail:
	cJSON_Delete(conn);
	cJSON_Delete(msg);
	return NULL;
}

static cJSON *load_shared_msg(const struct conn *c)
{
	const cJSON *local = cJSON_GetObjectItemCaseSensitive(c->cfg.conn, "local");
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(local, "id");
	cJSON *msg = cJSON_CreateObject(), *owners;
	char key_id[NW_SEGW_NAME_MAX + 16];
	size_t len;
	const char *psk = nw_secret_value(c->psk, &len);

	if (!msg)
		return NULL;
	snprintf(key_id, sizeof(key_id), "netward-%s", c->cfg.name);
	cJSON_AddStringToObject(msg, "id", key_id);
	cJSON_AddStringToObject(msg, "type", "IKE");
	cJSON_AddStringToObject(msg, "data", psk);
	if (cJSON_IsString(id) && (owners = cJSON_AddArrayToObject(msg, "owners")))
		cJSON_AddItemToArray(owners, cJSON_CreateString(id->valuestring));
	return msg;
}

/* the first child, when the connection has children */
static const char *first_child(const struct conn *c)
{
	const cJSON *ch = cJSON_GetObjectItemCaseSensitive(c->cfg.conn, "children");

	return cJSON_IsObject(ch) && ch->child ? ch->child->string : NULL;
}

enum { S_TERMINATE, S_SHARED, S_LOAD, S_INITIATE, S_DONE };

static void next_step(struct conn *c)
{
	static const char *const names[] = { "terminate", "load-shared", "load-conn", "initiate" };
	char buf[24];
	cJSON *msg;
	int err = 0;

	for (;;) {
		switch (c->step++) {
		case S_TERMINATE:
			if (!c->switching)
				continue;
			c->switching = false;
			msg = cJSON_CreateObject();
			cJSON_AddStringToObject(msg, "ike", c->cfg.name);
			cJSON_AddStringToObject(msg, "force", "yes");
			snprintf(buf, sizeof(buf), "%d", TERMINATE_TIMEOUT_MS);
			cJSON_AddStringToObject(msg, "timeout", buf);
			err = send_cmd(c, "terminate", msg, TERMINATE_TIMEOUT_MS + 1000);
			break;
		case S_SHARED:
			if (!c->psk)
				continue;
			err = send_cmd(c, "load-shared", load_shared_msg(c), 5000);
			break;
		case S_LOAD:
			err = send_cmd(c, "load-conn", load_conn_msg(c), 5000);
			break;
		case S_INITIATE:
			msg = cJSON_CreateObject();
			cJSON_AddStringToObject(msg, "ike", c->cfg.name);
			if (first_child(c))
				cJSON_AddStringToObject(msg, "child", first_child(c));
			snprintf(buf, sizeof(buf), "%u", c->s->initiate_timeout_ms);
			cJSON_AddStringToObject(msg, "timeout", buf);
			cJSON_AddStringToObject(msg, "init-limits", "no");
			err = send_cmd(c, "initiate", msg, c->s->initiate_timeout_ms + 2000);
			break;
		default:
			return;
		}
		break;
	}
	if (err) {
		char why[96];

		snprintf(why, sizeof(why), "%s: %s", c->step - 1 < NW_ARRAY_SIZE(names) ?
			 names[c->step - 1] : "vici", strerror(-err));
		failed(c, why);
	}
}

static void on_cmd_state(void *ud, int connected)
{
	(void)ud;
	(void)connected;	/* the command's own reply says what went wrong */
}

static const struct nw_vici_ops cmd_ops = { .state = on_cmd_state };

/* Brings c up at its current gateway: a worker slot now, or later. */
static void start(struct conn *c)
{
	struct nw_segw *s = c->s;
	static const char *const no_events[] = { NULL };
	int err;

	if (c->retry)		/* a pending pause is over: this start replaces it */
		sd_event_source_set_enabled(c->retry, SD_EVENT_OFF);
	/* not before charon has said what is up already (settle() starts it) */
	if (c->state == C_EXHAUSTED || c->state == C_REFUSED || !s->connected || !s->settled)
		return;
	if (s->dry_run) {	/* watch what charon does, do nothing */
		c->state = C_IDLE;
		return;
	}
	if (c->cmd) {		/* a new sequence replaces the running one */
		c->gen++;
		release(c);
	}
	if (s->workers >= MAX_WORKERS) {
		c->state = C_IDLE;
		c->queued = true;
		return;
	}
	c->queued = false;
	err = nw_vici_open(&c->cmd, s->e, s->socket, no_events, &cmd_ops, c);
	if (err) {
		snprintf(c->last_error, sizeof(c->last_error), "vici: %s", strerror(-err));
		c->state = C_IDLE;
		return;
	}
	s->workers++;
	c->state = C_WORKING;
	c->step = S_TERMINATE;
	c->gen++;
	next_step(c);
}

static void pump(struct nw_segw *s)
{
	for (size_t i = 0; i < s->n_conns && s->workers < MAX_WORKERS; i++)
		if (s->conns[i].queued)
			start(&s->conns[i]);
}

static int on_retry(sd_event_source *src, uint64_t usec, void *ud)
{
	struct conn *c = ud;
	(void)src;
	(void)usec;

	start(c);
	return 0;
}

/* start(c) after the retry delay: 0, or -errno (then at once) */
static int later(struct conn *c)
{
	int r;

	c->state = C_IDLE;
	if (!c->retry) {
		r = sd_event_add_time_relative(c->s->e, &c->retry, CLOCK_MONOTONIC,
					       (uint64_t)c->s->retry_delay_ms * 1000, 1000,
					       on_retry, c);
		if (r < 0)
			return r;
	} else {
		sd_event_source_set_time_relative(c->retry, (uint64_t)c->s->retry_delay_ms * 1000);
	}
	return sd_event_source_set_enabled(c->retry, SD_EVENT_ONESHOT);
}

/* The current gateway did not work out (or the SA was lost): next one, or
 * stop after max_retries in a row. */
static void failed(struct conn *c, const char *why)
{
	unsigned from = c->cur;
	cJSON *ev;

	c->gen++;
	release(c);
	snprintf(c->last_error, sizeof(c->last_error), "%s", why);
	if (!c->down_ns)
		c->down_ns = nw_now_ns(CLOCK_MONOTONIC);
	c->failures++;
	if (c->failures >= c->cfg.max_retries) {
		c->state = C_EXHAUSTED;
		ev = new_event(c, NW_EV_SEGW_RETRY_EXHAUSTED);
		if (ev) {
			cJSON_AddNumberToObject(ev, "attempts", c->failures);
			cJSON_AddStringToObject(ev, "gateway", gw(c));
			cJSON_AddStringToObject(ev, "error", why);
		}
		emit(c, NW_EV_SEGW_RETRY_EXHAUSTED, ev, "Max retry count exceeded for connection '%s'",
		     c->cfg.name);
		pump(c->s);
		return;
	}
	c->cur = (c->cur + 1) % c->cfg.n_gateways;
	c->failovers++;
	ev = new_event(c, NW_EV_SEGW_FAILOVER);
	if (ev) {
		cJSON_AddStringToObject(ev, "from", c->cfg.gateways[from]);
		cJSON_AddStringToObject(ev, "to", gw(c));
		cJSON_AddNumberToObject(ev, "attempt", c->failures);
		cJSON_AddNumberToObject(ev, "max_retries", c->cfg.max_retries);
		cJSON_AddStringToObject(ev, "error", why);
	}
	emit(c, NW_EV_SEGW_FAILOVER, ev, "connection '%s': %s -> %s (attempt %u of %u): %s",
	     c->cfg.name, c->cfg.gateways[from], gw(c), c->failures, c->cfg.max_retries, why);
	c->switching = true;
	/* the first failover goes at once; later attempts in a row wait */
	if (c->failures >= 2 && c->s->retry_delay_ms && later(c) == 0) {
		pump(c->s);
		return;
	}
	start(c);
	pump(c->s);
}

/* --- charon's events ------------------------------------------------------------ */

static struct conn *find(struct nw_segw *s, const char *name)
{
	for (size_t i = 0; i < s->n_conns; i++)
		if (!strcmp(s->conns[i].cfg.name, name))
			return &s->conns[i];
	return NULL;
}

static const char *str_of(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsString(v) ? v->valuestring : "";
}

static void lost(struct conn *c, const char *reason)
{
	unsigned next = (c->cur + 1) % c->cfg.n_gateways;
	cJSON *ev;

	c->down_ns = nw_now_ns(CLOCK_MONOTONIC);
	c->downs++;
	c->uniqueid[0] = 0;
	ev = new_event(c, NW_EV_SEGW_DOWN);
	if (ev) {
		cJSON_AddStringToObject(ev, "gateway", gw(c));
		cJSON_AddStringToObject(ev, "reason", reason);
	}
	emit(c, NW_EV_SEGW_DOWN, ev, "connection '%s': the IKE SA to %s is gone (%s)", c->cfg.name,
	     gw(c), reason);
	if (c->s->dry_run) {
		c->state = C_IDLE;
		ev = new_event(c, NW_EV_SEGW_FAILOVER);
		if (ev) {
			cJSON_AddStringToObject(ev, "from", gw(c));
			cJSON_AddStringToObject(ev, "to", c->cfg.gateways[next]);
			cJSON_AddNumberToObject(ev, "attempt", c->failures + 1);
			cJSON_AddBoolToObject(ev, "dry_run", 1);
		}
		emit(c, NW_EV_SEGW_FAILOVER, ev, "dry-run: would fail connection '%s' over from %s "
		     "to %s", c->cfg.name, gw(c), c->cfg.gateways[next]);
		return;
	}
	c->switching = true;
	failed(c, reason);
}

/* --- what is up already: list-sas at each connect -------------------------------- */

/* sa has an installed CHILD_SA named child (the states for which
 * list-sas gives SPIs) */
static bool child_installed(const cJSON *sa, const char *child)
{
	const cJSON *ch;

	cJSON_ArrayForEach(ch, cJSON_GetObjectItemCaseSensitive(sa, "child-sas")) {
		const char *st = str_of(ch, "state");

		if (!strcmp(str_of(ch, "name"), child) &&
		    (!strcmp(st, "INSTALLED") || !strcmp(st, "REKEYING") || !strcmp(st, "REKEYED")))
			return true;
	}
	return false;
}

/* An IKE SA of a configured connection (a list-sa event, or an ike-updown
 * up before the listing is done): a candidate for adoption when it is
 * ESTABLISHED and, when the connection has children, its first child (the
 * one netward initiates) is installed: ike-updown carries no children, so
 * such a connection is adopted from the listing only. Whatever does not
 * fit or cannot be kept is left out: that connection is initiated as
 * before. */
static void note_listed(struct nw_segw *s, const char *name, const cJSON *sa, bool check_state)
{
	const char *uid = str_of(sa, "uniqueid"), *host = str_of(sa, "remote-host");
	struct conn *c = find(s, name);
	struct listed_sa *l;

	if (!c || (check_state && strcmp(str_of(sa, "state"), "ESTABLISHED")) || !*uid || !*host ||
	    strlen(uid) >= sizeof(l->uniqueid) || strlen(host) >= sizeof(l->host) ||
	    (first_child(c) && !child_installed(sa, first_child(c))))
		return;
	if (s->n_listed == s->cap_listed) {
		size_t cap = s->cap_listed ? 2 * s->cap_listed : 16;
		struct listed_sa *more = realloc(s->listed, cap * sizeof(*more));

		if (!more)
			return;
		s->listed = more;
		s->cap_listed = cap;
	}
	l = &s->listed[s->n_listed++];
	snprintf(l->name, sizeof(l->name), "%s", name);
	snprintf(l->uniqueid, sizeof(l->uniqueid), "%s", uid);
	snprintf(l->host, sizeof(l->host), "%s", host);
}

/* an IKE SA reported down before the listing is done: the listing may
 * still name it (the two come on different sockets) */
static void note_gone(struct nw_segw *s, const char *uid)
{
	if (!*uid)
		return;
	if (s->n_gone == MAX_GONE) {
		s->gone_overflow = true;
		return;
	}
	snprintf(s->gone[s->n_gone++], sizeof(s->gone[0]), "%s", uid);
}

static bool is_gone(const struct nw_segw *s, const char *uid)
{
	for (size_t i = 0; i < s->n_gone; i++)
		if (!strcmp(s->gone[i], uid))
			return true;
	return false;
}

static void list_clear(struct nw_segw *s)
{
	free(s->listed);
	s->listed = NULL;
	s->n_listed = s->cap_listed = 0;
	s->n_gone = 0;
	s->gone_overflow = false;
}

/* a configured gateway and charon's remote-host: the same address (a
 * gateway given as a DNS name never matches) */
static bool same_host(const char *gateway, const char *host)
{
	unsigned char a[16], b[16];

	if (inet_pton(AF_INET, gateway, a) == 1)
		return inet_pton(AF_INET, host, b) == 1 && !memcmp(a, b, 4);
	if (inet_pton(AF_INET6, gateway, a) == 1)
		return inet_pton(AF_INET6, host, b) == 1 && !memcmp(a, b, 16);
	return false;
}

/* c's IKE SA is ESTABLISHED at one of its gateways: take it as it is (the
 * one at its current gateway when there are several). */
static bool adopt(struct conn *c)
{
	struct nw_segw *s = c->s;
	const struct listed_sa *best = NULL;
	unsigned best_gw = 0;
	cJSON *ev;

	if (s->gone_overflow)
		return false;
	for (size_t i = 0; i < s->n_listed; i++) {
		const struct listed_sa *l = &s->listed[i];
		unsigned j;

		if (strcmp(l->name, c->cfg.name) || is_gone(s, l->uniqueid))
			continue;
		for (j = 0; j < c->cfg.n_gateways && !same_host(c->cfg.gateways[j], l->host); j++)
			;
		if (j == c->cfg.n_gateways)
			continue;
		if (!best || (j == c->cur && best_gw != c->cur)) {
			best = l;
			best_gw = j;
		}
	}
	if (!best)
		return false;
	if (c->retry)
		sd_event_source_set_enabled(c->retry, SD_EVENT_OFF);
	c->gen++;
	c->queued = false;
	c->cur = best_gw;
	c->state = C_UP;
	c->failures = 0;
	c->down_ns = 0;
	c->last_error[0] = 0;
	snprintf(c->uniqueid, sizeof(c->uniqueid), "%s", best->uniqueid);
	ev = new_event(c, NW_EV_SEGW_UP);
	if (ev) {
		cJSON_AddStringToObject(ev, "gateway", gw(c));
		cJSON_AddBoolToObject(ev, "adopted", 1);
		cJSON_AddStringToObject(ev, "uniqueid", c->uniqueid);
		if (s->dry_run)
			cJSON_AddBoolToObject(ev, "dry_run", 1);
	}
	emit(c, NW_EV_SEGW_UP, ev, "connection '%s' already up at %s when netwardd connected to "
	     "charon", c->cfg.name, gw(c));
	return true;
}

/* The listing is done (or failed: nothing listed): adopt what is up,
 * bring up the rest. */
static void settle(struct nw_segw *s)
{
	s->settled = true;
	for (size_t i = 0; i < s->n_conns; i++) {
		struct conn *c = &s->conns[i];

		/* exhausted and refused stay; up (--dry-run: an ike-updown
		 * meanwhile) is known */
		if (c->state != C_IDLE)
			continue;
		/* a failover asked for meanwhile moves on */
		if (!c->switching && adopt(c))
			continue;
		start(c);
	}
	list_clear(s);
}

struct list_ctx {
	struct nw_segw *s;
	unsigned gen;
};

static void on_list_reply(void *ud, int err, const cJSON *reply)
{
	struct list_ctx *l = ud;
	struct nw_segw *s = l->s;
	bool stale = l->gen != s->list_gen;
	(void)reply;	/* empty: the SAs came as list-sa events before it */

	free(l);
	/* being freed, an older connection's, or charon went away (state 0
	 * follows, and a new listing at the next connect) */
	if (err == -ECANCELED || stale || s->settled || err == -ENOTCONN)
		return;
	if (err) {
		log_warn("segw: list-sas at %s: %s: bringing every connection up without "
			 "looking for IKE SAs that are up already", s->socket, strerror(-err));
		list_clear(s);
	}
	settle(s);
}

/* Asks charon for its IKE SAs; settle() follows, also when that fails. */
static void list_sas(struct nw_segw *s)
{
	struct list_ctx *l = calloc(1, sizeof(*l));
	int err = -ENOMEM;

	if (l) {
		l->s = s;
		l->gen = ++s->list_gen;
		err = nw_vici_command(s->events, "list-sas", NULL, LIST_TIMEOUT_MS, on_list_reply,
				      l);
	}
	if (err) {
		free(l);
		log_warn("segw: list-sas at %s: %s: bringing every connection up without looking "
			 "for IKE SAs that are up already", s->socket, strerror(-err));
		list_clear(s);
		settle(s);
	}
}

static void on_list_sa(struct nw_segw *s, const cJSON *msg)
{
	const cJSON *sa;

	if (s->settled)		/* not ours: a late one */
		return;
	cJSON_ArrayForEach(sa, msg)
		if (cJSON_IsObject(sa))
			note_listed(s, sa->string, sa, true);
}

static void on_updown(struct nw_segw *s, const cJSON *msg)
{
	bool up = !strcmp(str_of(msg, "up"), "yes");
	const cJSON *sa;

	cJSON_ArrayForEach(sa, msg) {
		struct conn *c;
		const char *uid;

		if (cJSON_IsObject(sa) && !s->settled) {	/* the listing is under way */
			if (up)
				note_listed(s, sa->string, sa, false);
			else
				note_gone(s, str_of(sa, "uniqueid"));
		}
		if (!cJSON_IsObject(sa) || !(c = find(s, sa->string)))
			continue;
		uid = str_of(sa, "uniqueid");
		if (up) {
			snprintf(c->uniqueid, sizeof(c->uniqueid), "%s", uid);
			if (s->dry_run)
				c->state = C_UP;	/* whoever brought it up */
			continue;	/* the initiate's reply finishes the job */
		}
		/* only the loss of the SA that is up: our own terminate of an
		 * old one, or a half-made one, is no news */
		if (c->state == C_UP && (!c->uniqueid[0] || !strcmp(uid, c->uniqueid)))
			lost(c, "ike-updown: IKE SA down");
	}
}

/* An IKE rekey replaces the SA by a new one, and ike-updown says nothing
 * of either: the loss to watch for from then on is the new one's. */
static void on_rekey(struct nw_segw *s, const cJSON *msg)
{
	const cJSON *sa;

	cJSON_ArrayForEach(sa, msg) {
		const cJSON *old = cJSON_GetObjectItemCaseSensitive(sa, "old");
		const cJSON *new = cJSON_GetObjectItemCaseSensitive(sa, "new");
		const char *old_uid = str_of(old, "uniqueid"), *new_uid = str_of(new, "uniqueid");
		struct conn *c;

		if (!cJSON_IsObject(sa) || !*new_uid)
			continue;
		if (!s->settled) {	/* the listing is under way */
			note_gone(s, old_uid);
			note_listed(s, sa->string, new, false);
		}
		if ((c = find(s, sa->string)) && c->uniqueid[0] && !strcmp(c->uniqueid, old_uid))
			snprintf(c->uniqueid, sizeof(c->uniqueid), "%s", new_uid);
	}
}

static void on_alert(struct nw_segw *s, const cJSON *msg)
{
	const char *type = str_of(msg, "type");
	const cJSON *sa = cJSON_GetObjectItemCaseSensitive(msg, "ike-sa");
	char why[128];

	if (!cJSON_IsObject(sa))
		return;
	cJSON_ArrayForEach(sa, sa) {
		struct conn *c = cJSON_IsObject(sa) ? find(s, sa->string) : NULL;

		if (!c || c->state != C_UP)
			continue;
		if (strcmp(type, "peer-init-unreachable") && strcmp(type, "retransmit-send-timeout"))
			continue;
		snprintf(why, sizeof(why), "alert: %s", type);
		lost(c, why);
	}
}

static void on_event(void *ud, const char *name, const cJSON *msg)
{
	struct nw_segw *s = ud;

	if (!strcmp(name, "ike-updown"))
		on_updown(s, msg);
	else if (!strcmp(name, "ike-rekey"))
		on_rekey(s, msg);
	else if (!strcmp(name, "alert"))
		on_alert(s, msg);
	else if (!strcmp(name, "list-sa"))
		on_list_sa(s, msg);
}

static void on_state(void *ud, int connected)
{
	struct nw_segw *s = ud;

	s->connected = connected;
	log_info("segw: %s charon at %s", connected ? "connected to" : "lost", s->socket);
	if (connected) {	/* what is up already is adopted, not initiated again */
		list_sas(s);
		return;
	}
	s->settled = false;
	s->list_gen++;
	list_clear(s);
	for (size_t i = 0; i < s->n_conns; i++) {
		struct conn *c = &s->conns[i];

		if (c->state == C_EXHAUSTED || c->state == C_REFUSED)
			continue;
		/* charon restarted: bring it up again once back */
		c->gen++;
		release(c);
		c->state = C_IDLE;
		c->queued = false;
	}
}

static const struct nw_vici_ops event_ops = { .event = on_event, .state = on_state };

/* --- life cycle --------------------------------------------------------------------- */

static void conn_clear(struct conn *c)
{
	c->gen++;
	release(c);
	c->retry = sd_event_source_disable_unref(c->retry);
	for (size_t j = 0; j < c->cfg.n_gateways; j++)
		free(c->cfg.gateways[j]);
	free(c->cfg.gateways);
	free(c->cfg.psk_file);
	cJSON_Delete(c->cfg.conn);
	nw_secret_free(c->psk);
	memset(&c->cfg, 0, sizeof(c->cfg));
	c->psk = NULL;
}

static int conn_copy(struct nw_segw_conn_cfg *dst, const struct nw_segw_conn_cfg *src)
{
	*dst = *src;
	dst->gateways = calloc(src->n_gateways, sizeof(*dst->gateways));
	dst->psk_file = NULL;
	dst->conn = cJSON_Duplicate(src->conn, 1);
	if (!dst->gateways || !dst->conn)
		goto fail;
	for (size_t j = 0; j < src->n_gateways; j++)
		if (!(dst->gateways[j] = strdup(src->gateways[j])))
			goto fail;
	return 0;
fail:
	for (size_t j = 0; dst->gateways && j < src->n_gateways; j++)
		free(dst->gateways[j]);
	free(dst->gateways);
	cJSON_Delete(dst->conn);
	memset(dst, 0, sizeof(*dst));
	return -ENOMEM;
}

static bool same_gateways(const struct nw_segw_conn_cfg *a, const struct nw_segw_conn_cfg *b)
{
	if (a->n_gateways != b->n_gateways)
		return false;
	for (size_t j = 0; j < a->n_gateways; j++)
		if (strcmp(a->gateways[j], b->gateways[j]))
			return false;
	return true;
}

static void free_psks(struct nw_secret **psks, size_t n)
{
	for (size_t i = 0; psks && i < n; i++)
		nw_secret_free(psks[i]);
}

int nw_segw_reconfigure(struct nw_segw *s, const struct nw_segw_cfg *cfg, struct nw_secret **psks)
{
	struct conn *conns = calloc(cfg->n_conns ? cfg->n_conns : 1, sizeof(*conns));
	size_t n = cfg->n_conns;

	if (!conns) {
		free_psks(psks, n);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		struct conn *c = &conns[i], *old = find(s, cfg->conns[i].name);

		if (conn_copy(&c->cfg, &cfg->conns[i])) {
			for (size_t j = 0; j < i; j++)
				conn_clear(&conns[j]);
			free(conns);
			free_psks(psks, n);
			return -ENOMEM;
		}
		c->s = s;
		c->psk = psks ? psks[i] : NULL;
		if (psks)
			psks[i] = NULL;
		if (old && same_gateways(&old->cfg, &c->cfg)) {
			c->cur = old->cur;
			c->failures = old->failures;
			c->failovers = old->failovers;
			c->ups = old->ups;
			c->downs = old->downs;
			/* an SA that is up stays up: initiating it again would
			 * make a second one */
			c->state = old->state == C_EXHAUSTED || old->state == C_UP ? old->state
										: C_IDLE;
			snprintf(c->uniqueid, sizeof(c->uniqueid), "%s", old->uniqueid);
			snprintf(c->last_error, sizeof(c->last_error), "%s", old->last_error);
		}
	}
	for (size_t i = 0; i < s->n_conns; i++)
		conn_clear(&s->conns[i]);
	free(s->conns);
	s->conns = conns;
	s->n_conns = n;
	s->workers = 0;
	/* bring up what is not up (a changed definition of one that is up
	 * is used from its next failover on) */
	for (size_t i = 0; i < n; i++)
		if (conns[i].state == C_IDLE)
			start(&conns[i]);
	return 0;
}

int nw_segw_new(struct nw_segw **out, sd_event *e, uint32_t netns, const struct nw_segw_cfg *cfg,
		struct nw_secret **psks, const struct nw_segw_ops *ops, void *ud)
{
	struct nw_segw *s = calloc(1, sizeof(*s));
	int err;

	if (!s) {
		free_psks(psks, cfg->n_conns);
		return -ENOMEM;
	}
	s->e = sd_event_ref(e);
	s->netns = netns;
	s->ops = *ops;
	s->ud = ud;
	s->initiate_timeout_ms = cfg->initiate_timeout_ms;
	s->retry_delay_ms = cfg->retry_delay_ms;
	s->dry_run = cfg->dry_run;
	if (!(s->socket = strdup(cfg->vici_socket ? cfg->vici_socket : NW_SEGW_DEFAULT_SOCKET))) {
		free_psks(psks, cfg->n_conns);
		err = -ENOMEM;
		goto fail;
	}
	if ((err = nw_segw_reconfigure(s, cfg, psks)))
		goto fail;
	if ((err = nw_vici_open(&s->events, e, s->socket, event_names, &event_ops, s)))
		goto fail;
	*out = s;
	return 0;
fail:
	nw_segw_free(s);
	return err;
}

int nw_segw_failover(struct nw_segw *s, const char *name)
{
	struct conn *c = find(s, name);
	unsigned from;
	cJSON *ev;

	if (!c)
		return -ENOENT;
	from = c->cur;
	if (c->state == C_EXHAUSTED || c->state == C_REFUSED)
		c->failures = 0;
	c->cur = (c->cur + 1) % c->cfg.n_gateways;
	c->failovers++;
	c->down_ns = nw_now_ns(CLOCK_MONOTONIC);
	ev = new_event(c, NW_EV_SEGW_FAILOVER);
	if (ev) {
		cJSON_AddStringToObject(ev, "from", c->cfg.gateways[from]);
		cJSON_AddStringToObject(ev, "to", gw(c));
		cJSON_AddNumberToObject(ev, "attempt", c->failures);
		cJSON_AddBoolToObject(ev, "manual", 1);
	}
	if (ev && s->dry_run)
		cJSON_AddBoolToObject(ev, "dry_run", 1);
	emit(c, NW_EV_SEGW_FAILOVER, ev, "%sconnection '%s': %s -> %s (asked for)",
	     s->dry_run ? "dry-run: would fail over " : "", c->cfg.name, c->cfg.gateways[from], gw(c));
	if (s->dry_run) {
		c->cur = from;
		c->failovers--;
		return 0;
	}
	c->state = C_IDLE;
	c->switching = true;
	start(c);
	return 0;
}

void nw_segw_status(struct nw_segw *s, cJSON *out)
{
	cJSON *arr;

	cJSON_AddStringToObject(out, "vici_socket", s->socket);
	cJSON_AddBoolToObject(out, "connected", s->connected);
	cJSON_AddNumberToObject(out, "working", s->workers);
	arr = cJSON_AddArrayToObject(out, "connections");
	for (size_t i = 0; arr && i < s->n_conns; i++) {
		struct conn *c = &s->conns[i];
		cJSON *o = cJSON_CreateObject(), *g;

		if (!o)
			break;
		cJSON_AddStringToObject(o, "name", c->cfg.name);
		g = cJSON_AddArrayToObject(o, "gateways");
		for (size_t j = 0; g && j < c->cfg.n_gateways; j++)
			cJSON_AddItemToArray(g, cJSON_CreateString(c->cfg.gateways[j]));
		cJSON_AddStringToObject(o, "gateway", gw(c));
		cJSON_AddStringToObject(o, "state", state_names[c->state]);
		cJSON_AddNumberToObject(o, "attempts", c->failures);
		cJSON_AddNumberToObject(o, "max_retries", c->cfg.max_retries);
		cJSON_AddNumberToObject(o, "failovers", (double)c->failovers);
		cJSON_AddNumberToObject(o, "ups", (double)c->ups);
		cJSON_AddNumberToObject(o, "downs", (double)c->downs);
		cJSON_AddBoolToObject(o, "psk", c->psk != NULL);
		if (c->last_error[0])
			cJSON_AddStringToObject(o, "last_error", c->last_error);
		cJSON_AddItemToArray(arr, o);
	}
}

void nw_segw_summary(struct nw_segw *s, char *buf, size_t size)
{
	size_t up = 0, gone = 0;

	for (size_t i = 0; i < s->n_conns; i++) {
		up += s->conns[i].state == C_UP;
		gone += s->conns[i].state == C_EXHAUSTED;
	}
	if (gone)
		snprintf(buf, size, "SEGW %zu of %zu up, %zu exhausted", up, s->n_conns, gone);
	else
		snprintf(buf, size, "SEGW %zu of %zu up", up, s->n_conns);
}

size_t nw_segw_conn_bytes(const struct nw_segw *s, size_t i)
{
	const struct conn *c = &s->conns[i];
	char *text = cJSON_PrintUnformatted(c->cfg.conn);
	/* the tree holds about its text plus one node (64 bytes) a value */
	size_t n = sizeof(*c) + (text ? 2 * strlen(text) : 0) +
		   c->cfg.n_gateways * (sizeof(char *) + 32);

	free(text);
	return n;
}

void nw_segw_free(struct nw_segw *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n_conns; i++)
		conn_clear(&s->conns[i]);
	free(s->conns);
	s->conns = NULL;
	s->n_conns = 0;
	nw_vici_free(s->events);
	list_clear(s);
	free(s->socket);
	sd_event_unref(s->e);
	free(s);
}
