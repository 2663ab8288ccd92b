// SPDX-License-Identifier: GPL-2.0-only
/* Unit tests for SEGW failover (user/segw.c) against the fake charon of
 * vici_fake.h: what netward does when it connects to a charon that has
 * IKE SAs up already (list-sas, adoption), and when the listing fails.
 * No strongSwan, no root; the loop runs until a deadline, nothing sleeps.
 * NW_TEST_VERBOSE=1 shows the log. */
#define _GNU_SOURCE
#define TMPDIR_TEMPLATE "/tmp/nw-test-segw.XXXXXX"
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>
#include <systemd/sd-event.h>

#include "loop.h"
#include "tmpdir.h"
#include "vici_fake.h"
#include "events.h"
#include "log.h"
#include "segw.h"
#include "util.h"
#include "vici.h"

/* --- charon, as far as SEGW needs it -------------------------------------- */

enum list_mode {
	L_ANSWER,	/* list-sa events, then the answer */
	L_HANG,		/* list-sa events, never an answer */
	L_UNKNOWN,	/* CMD_UNKNOWN */
	L_HOLD,		/* list-sa events; the answer when the test says */
};

struct charon {
	enum list_mode mode;
	const char *sas[8];		/* the list-sa messages, NULL-ended */
	struct peer *held;		/* L_HOLD: whose answer waits */
	int n_lists;
	char log[2048];			/* "cmd:what " per command but list-sas */
};

static void charon_log(struct charon *ch, const char *fmt, const char *a, const char *b)
{
	size_t n = strlen(ch->log);

	snprintf(ch->log + n, sizeof(ch->log) - n, fmt, a, b);
}

static const char *str(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsString(v) ? v->valuestring : "";
}

static void charon_command(struct peer *p, const char *cmd, const cJSON *msg)
{
	struct charon *ch = p->s->ud;

	if (!strcmp(cmd, "list-sas")) {
		ch->n_lists++;
		if (ch->mode == L_UNKNOWN) {
			peer_send(p, NW_VICI_CMD_UNKNOWN, NULL, NULL);
			return;
		}
		for (int i = 0; ch->sas[i] && peer_has(p, "list-sa"); i++)
			peer_send_json(p, NW_VICI_EVENT, "list-sa", ch->sas[i]);
		if (ch->mode == L_ANSWER)
			peer_send(p, NW_VICI_CMD_RESPONSE, NULL, NULL);
		else if (ch->mode == L_HOLD)
			ch->held = p;
		return;
	}
	if (!strcmp(cmd, "load-conn")) {
		const cJSON *conn = msg->child;
		const cJSON *ra = cJSON_GetObjectItemCaseSensitive(conn, "remote_addrs");

		assert_true(cJSON_IsArray(ra) && cJSON_GetArraySize(ra) == 1);
		charon_log(ch, "load-conn:%s@%s ", conn->string, ra->child->valuestring);
	} else if (!strcmp(cmd, "initiate") && *str(msg, "child")) {
		charon_log(ch, "initiate:%s/%s ", str(msg, "ike"), str(msg, "child"));
	} else if (!strcmp(cmd, "initiate") || !strcmp(cmd, "terminate")) {
		charon_log(ch, "%s:%s ", cmd, str(msg, "ike"));
	} else {
		charon_log(ch, "%s%s ", cmd, "");
	}
	peer_send_json(p, NW_VICI_CMD_RESPONSE, NULL, "{\"success\":\"yes\"}");
}

/* the held list-sas answer goes out */
static void charon_release(struct charon *ch)
{
	assert_non_null(ch->held);
	peer_send(ch->held, NW_VICI_CMD_RESPONSE, NULL, NULL);
	ch->held = NULL;
}

/* --- netward's side -------------------------------------------------------- */

struct fx {
	char *dir;
	sd_event *e;
	struct srv s;
	struct charon ch;
	struct nw_segw *segw;
	cJSON *events;			/* what segw emitted, in order */
	int n_events;
};

static void on_emit(void *ud, unsigned type, cJSON *ev)
{
	struct fx *f = ud;

	(void)type;
	cJSON_AddItemToArray(f->events, cJSON_Duplicate(ev, 1));
	f->n_events++;
}

static const struct nw_segw_ops ops = { .emit = on_emit };

static struct fx *fx_new(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->dir = *state;
	assert_int_equal(sd_event_new(&f->e), 0);
	srv_init(&f->s, f->e, f->dir);
	f->s.command = charon_command;
	f->s.ud = &f->ch;
	srv_listen(&f->s);
	assert_non_null(f->events = cJSON_CreateArray());
	return f;
}

/* conns: "name=gw,gw,... name:child=gw ..." (with a child: children.child) */
static void fx_start(struct fx *f, const char *conns, bool dry_run)
{
	struct nw_segw_conn_cfg cc[8];
	struct nw_segw_cfg cfg = {
		.enabled = true, .vici_socket = f->s.path, .initiate_timeout_ms = 2000,
		.retry_delay_ms = 0, .conns = cc, .dry_run = dry_run,
	};
	char *list = strdup(conns), *tok, *save = NULL, why[128];

	memset(cc, 0, sizeof(cc));
	for (tok = strtok_r(list, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
		struct nw_segw_conn_cfg *c = &cc[cfg.n_conns++];
		char *eq = strchr(tok, '='), *colon;

		assert_non_null(eq);
		*eq = 0;
		if ((colon = strchr(tok, ':')))
			*colon++ = 0;
		snprintf(c->name, sizeof(c->name), "%s", tok);
		assert_int_equal(nw_segw_split_addrs(eq + 1, &c->gateways, &c->n_gateways, why,
						     sizeof(why)), 0);
		c->max_retries = 5;
		c->conn = cJSON_Parse("{\"version\":\"2\",\"local\":{\"auth\":\"psk\"}}");
		if (colon)
			cJSON_AddObjectToObject(cJSON_AddObjectToObject(c->conn, "children"),
						colon);
	}
	assert_int_equal(nw_segw_new(&f->segw, f->e, 1, &cfg, NULL, &ops, f), 0);
	for (size_t i = 0; i < cfg.n_conns; i++) {
		for (size_t j = 0; j < cc[i].n_gateways; j++)
			free(cc[i].gateways[j]);
		free(cc[i].gateways);
		cJSON_Delete(cc[i].conn);
	}
	free(list);
}

static void fx_free(struct fx *f)
{
	nw_segw_free(f->segw);
	srv_stop(&f->s);
	cJSON_Delete(f->events);
	sd_event_unref(f->e);
	free(f);
}

/* the last event of type for connection name, NULL none */
static const cJSON *last_event(struct fx *f, const char *type, const char *name)
{
	const cJSON *ev, *found = NULL;

	cJSON_ArrayForEach(ev, f->events)
		if (!strcmp(str(ev, "type"), type) && !strcmp(str(ev, "connection"), name))
			found = ev;
	return found;
}

static int count_events(struct fx *f, const char *type)
{
	const cJSON *ev;
	int n = 0;

	cJSON_ArrayForEach(ev, f->events)
		n += !strcmp(str(ev, "type"), type);
	return n;
}

static bool is_true(const cJSON *ev, const char *k)
{
	return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(ev, k));
}

/* name's last segw_up (there must be one) says adopted */
static bool up_adopted(struct fx *f, const char *name)
{
	const cJSON *ev = last_event(f, "segw_up", name);

	if (!ev)
		fail_msg("no segw_up for %s", name);
	return is_true(ev, "adopted");
}

/* a connection's field in nw_segw_status */
static char *status_of(struct fx *f, const char *name, const char *key)
{
	static char buf[128];
	cJSON *st = cJSON_CreateObject();
	const cJSON *c, *v;

	buf[0] = 0;
	nw_segw_status(f->segw, st);
	cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(st, "connections")) {
		if (strcmp(str(c, "name"), name))
			continue;
		v = cJSON_GetObjectItemCaseSensitive(c, key);
		if (cJSON_IsString(v))
			snprintf(buf, sizeof(buf), "%s", v->valuestring);
		else if (cJSON_IsNumber(v))
			snprintf(buf, sizeof(buf), "%g", v->valuedouble);
	}
	cJSON_Delete(st);
	return buf;
}

static void updown(struct fx *f, bool up, const char *name, const char *uid, const char *host)
{
	char json[256];

	snprintf(json, sizeof(json), "{%s\"%s\":{\"uniqueid\":\"%s\",\"state\":\"%s\","
		 "\"remote-host\":\"%s\"}}", up ? "\"up\":\"yes\"," : "", name, uid,
		 up ? "ESTABLISHED" : "DELETING", host);
	peer_send_json(srv_peer(&f->s, "ike-updown"), NW_VICI_EVENT, "ike-updown", json);
}

#define SA(name, uid, state, host) \
	"{\"" name "\":{\"uniqueid\":\"" uid "\",\"version\":\"2\",\"state\":\"" state "\"," \
	"\"local-host\":\"10.0.0.10\",\"remote-host\":\"" host "\",\"remote-port\":\"500\"," \
	"\"established\":\"42\",\"child-sas\":{}}}"

/* --- adoption ---------------------------------------------------------------- */

/* corp is up at its second gateway: adopted there, nothing loaded or
 * initiated; b has no SA: brought up as ever. The adopted SA's loss fails
 * over like any other. */
static void test_adopts_what_is_up(void **state)
{
	struct fx *f = fx_new(state);
	const cJSON *ev;

	f->ch.sas[0] = SA("corp", "7", "ESTABLISHED", "10.0.0.2");
	f->ch.sas[1] = SA("elsewhere", "3", "ESTABLISHED", "10.0.0.1");
	fx_start(f, "corp=10.0.0.1,10.0.0.2,10.0.0.3 b=10.0.0.1", false);
	assert_true(loop_until_count(f->e, &f->n_events, 2, 3000));
	assert_string_equal(f->ch.log, "load-conn:b@10.0.0.1 initiate:b ");
	assert_int_equal(f->ch.n_lists, 1);
	assert_non_null(ev = last_event(f, "segw_up", "corp"));
	assert_true(is_true(ev, "adopted"));
	assert_string_equal(str(ev, "gateway"), "10.0.0.2");
	assert_string_equal(str(ev, "uniqueid"), "7");
	assert_null(cJSON_GetObjectItemCaseSensitive(ev, "failover_ms"));
	assert_null(cJSON_GetObjectItemCaseSensitive(ev, "dry_run"));
	assert_string_equal(str(ev, "message"), "connection 'corp' already up at 10.0.0.2 when "
						"netwardd connected to charon");
	assert_non_null(ev = last_event(f, "segw_up", "b"));
	assert_false(is_true(ev, "adopted"));
	assert_string_equal(status_of(f, "corp", "state"), "up");
	assert_string_equal(status_of(f, "corp", "gateway"), "10.0.0.2");
	assert_string_equal(status_of(f, "corp", "attempts"), "0");

	/* another SA of that name going away is no news; its own is */
	updown(f, false, "corp", "6", "10.0.0.1");
	loop_for(f->e, 100);
	assert_int_equal(count_events(f, "segw_down"), 0);
	/* an IKE rekey: from now on the new SA's loss is the one */
	peer_send_json(srv_peer(&f->s, "ike-updown"), NW_VICI_EVENT, "ike-rekey",
		       "{\"corp\":{\"old\":{\"uniqueid\":\"7\",\"state\":\"REKEYED\"},"
		       "\"new\":{\"uniqueid\":\"11\",\"state\":\"ESTABLISHED\"}}}");
	loop_for(f->e, 100);
	assert_int_equal(count_events(f, "segw_down"), 0);
	f->ch.log[0] = 0;
	updown(f, false, "corp", "11", "10.0.0.2");
	/* segw_down, segw_failover, segw_up */
	assert_true(loop_until_count(f->e, &f->n_events, 5, 3000));
	assert_string_equal(f->ch.log, "terminate:corp load-conn:corp@10.0.0.3 initiate:corp ");
	assert_non_null(ev = last_event(f, "segw_failover", "corp"));
	assert_string_equal(str(ev, "from"), "10.0.0.2");
	assert_string_equal(str(ev, "to"), "10.0.0.3");
	assert_non_null(ev = last_event(f, "segw_up", "corp"));
	assert_false(is_true(ev, "adopted"));
	assert_true(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(ev, "failover_ms")));
	assert_string_equal(status_of(f, "corp", "gateway"), "10.0.0.3");
	assert_int_equal(f->ch.n_lists, 1);
	fx_free(f);
}

/* One connection of an adoption test: its configuration (name, child or
 * NULL, gateways as fx_start takes them), the IKE SA charon lists for it,
 * and whether netwardd adopts that SA. An adopted one is not named in a
 * command to charon; one not adopted is brought up as ever: loaded at its
 * first gateway, initiated (its child, when it has one). */
struct adoption {
	const char *name, *child, *gateways, *sa;
	bool adopted;
};

/* a command in charon's log names connection name ("cmd:name@", "cmd:name/", ...) */
static bool logged_for(struct fx *f, const char *name)
{
	char pat[80];

	for (const char *end = "@/ "; *end; end++) {
		snprintf(pat, sizeof(pat), ":%s%c", name, *end);
		if (strstr(f->ch.log, pat))
			return true;
	}
	return false;
}

/* starts the connections of a with their SAs listed, waits for an event of
 * each, checks what each says; the fixture stays for more checks */
static struct fx *check_adoption(void **state, const struct adoption *a, size_t n)
{
	struct fx *f = fx_new(state);
	char conns[512] = "", want[160];
	size_t len = 0;

	assert_true(n < NW_ARRAY_SIZE(f->ch.sas));
	for (size_t i = 0; i < n; i++) {
		f->ch.sas[i] = a[i].sa;
		len += (size_t)snprintf(conns + len, sizeof(conns) - len, "%s%s%s%s=%s",
					i ? " " : "", a[i].name, a[i].child ? ":" : "",
					a[i].child ? a[i].child : "", a[i].gateways);
		assert_true(len < sizeof(conns));
	}
	fx_start(f, conns, false);
	assert_true(loop_until_count(f->e, &f->n_events, (int)n, 3000));
	for (size_t i = 0; i < n; i++) {
		if (up_adopted(f, a[i].name) != a[i].adopted)
			fail_msg("%s: adopted %s, expected %s", a[i].name,
				 a[i].adopted ? "false" : "true", a[i].adopted ? "true" : "false");
		if (a[i].adopted) {
			if (logged_for(f, a[i].name))
				fail_msg("%s is adopted, but charon was told: %s", a[i].name,
					 f->ch.log);
			continue;
		}
		snprintf(want, sizeof(want), "load-conn:%s@%.*s ", a[i].name,
			 (int)strcspn(a[i].gateways, ","), a[i].gateways);
		if (!strstr(f->ch.log, want))
			fail_msg("no \"%s\" in \"%s\"", want, f->ch.log);
		snprintf(want, sizeof(want), "initiate:%s%s%s ", a[i].name, a[i].child ? "/" : "",
			 a[i].child ? a[i].child : "");
		if (!strstr(f->ch.log, want))
			fail_msg("no \"%s\" in \"%s\"", want, f->ch.log);
	}
	return f;
}

/* only ESTABLISHED, at an address among the gateways (IPv6 compared as
 * addresses; a gateway given by name never matches) */
static void test_adopts_only_established_at_a_gateway(void **state)
{
	static const struct adoption a[] = {
		{ "connecting", NULL, "10.0.0.1",
		  SA("connecting", "1", "CONNECTING", "10.0.0.1"), false },
		{ "rekeying", NULL, "10.0.0.1", SA("rekeying", "2", "REKEYING", "10.0.0.1"), false },
		{ "foreign", NULL, "10.0.0.1,10.0.0.2",
		  SA("foreign", "3", "ESTABLISHED", "192.0.2.9"), false },
		{ "named", NULL, "gw.example", SA("named", "4", "ESTABLISHED", "10.0.0.1"), false },
		{ "v6", NULL, "2001:db8:0::0:1", SA("v6", "5", "ESTABLISHED", "2001:db8::1"), true },
	};
	struct fx *f = check_adoption(state, a, NW_ARRAY_SIZE(a));

	assert_string_equal(status_of(f, "v6", "gateway"), "2001:db8:0::0:1");
	fx_free(f);
}

#define SA_CHILD(name, uid, child, state) \
	"{\"" name "\":{\"uniqueid\":\"" uid "\",\"state\":\"ESTABLISHED\"," \
	"\"remote-host\":\"10.0.0.1\",\"child-sas\":{\"" child "-" uid "\":{\"name\":\"" child \
	"\",\"uniqueid\":\"" uid "\",\"state\":\"" state "\"}}}}"

/* with children: only with its first child installed (netward initiates
 * that one); an IKE SA whose child failed is initiated again */
static void test_adopts_with_its_child_only(void **state)
{
	static const struct adoption a[] = {
		{ "a", "net", "10.0.0.1", SA_CHILD("a", "1", "net", "INSTALLED"), true },
		{ "b", "net", "10.0.0.1", SA_CHILD("b", "2", "net", "REKEYING"), true },
		{ "c", "net", "10.0.0.1", SA_CHILD("c", "3", "other", "INSTALLED"), false },
		{ "d", "net", "10.0.0.1", SA_CHILD("d", "4", "net", "DELETING"), false },
		{ "e", "net", "10.0.0.1", SA("e", "5", "ESTABLISHED", "10.0.0.1"), false },
	};

	fx_free(check_adoption(state, a, NW_ARRAY_SIZE(a)));
}

/* a listing that fails or never ends: every connection brought up as before */
static void test_listing_fails(void **state)
{
	struct fx *f = fx_new(state);

	f->ch.mode = L_UNKNOWN;
	f->ch.sas[0] = SA("corp", "7", "ESTABLISHED", "10.0.0.1");
	fx_start(f, "corp=10.0.0.1,10.0.0.2", false);
	assert_true(loop_until_count(f->e, &f->n_events, 1, 3000));
	assert_string_equal(f->ch.log, "load-conn:corp@10.0.0.1 initiate:corp ");
	assert_non_null(last_event(f, "segw_up", "corp"));
	assert_false(up_adopted(f, "corp"));
	fx_free(f);

	/* list-sa events, then no answer: the timeout (5 s), and what was
	 * listed is not trusted */
	f = fx_new(state);
	f->ch.mode = L_HANG;
	f->ch.sas[0] = SA("corp", "7", "ESTABLISHED", "10.0.0.1");
	fx_start(f, "corp=10.0.0.1,10.0.0.2", false);
	loop_for(f->e, 4000);
	assert_int_equal(f->ch.n_lists, 1);
	assert_string_equal(f->ch.log, "");
	assert_int_equal(f->n_events, 0);
	assert_string_equal(status_of(f, "corp", "state"), "idle");
	assert_true(loop_until_count(f->e, &f->n_events, 1, 3000));
	assert_string_equal(f->ch.log, "load-conn:corp@10.0.0.1 initiate:corp ");
	assert_non_null(last_event(f, "segw_up", "corp"));
	assert_false(up_adopted(f, "corp"));
	fx_free(f);
}

/* While the listing runs: an SA reported down is not adopted even when
 * listed, one reported up is, a failover asked for goes ahead. */
static void test_events_while_listing(void **state)
{
	struct fx *f = fx_new(state);

	f->ch.mode = L_HOLD;
	f->ch.sas[0] = SA("corp", "7", "ESTABLISHED", "10.0.0.1");
	f->ch.sas[1] = SA("moved", "8", "ESTABLISHED", "10.0.0.1");
	fx_start(f, "corp=10.0.0.1,10.0.0.2 late=10.0.0.2,10.0.0.3 moved=10.0.0.1,10.0.0.2", false);
	assert_true(loop_until_count(f->e, &f->ch.n_lists, 1, 3000));
	loop_for(f->e, 50);
	updown(f, false, "corp", "7", "10.0.0.1");
	updown(f, true, "late", "9", "10.0.0.3");
	assert_int_equal(nw_segw_failover(f->segw, "moved"), 0);
	loop_for(f->e, 100);
	assert_string_equal(f->ch.log, "");	/* nothing before the listing is done */
	assert_int_equal(count_events(f, "segw_up"), 0);
	charon_release(&f->ch);
	/* the failover, late adopted, corp and moved up */
	assert_true(loop_until_count(f->e, &f->n_events, 4, 3000));
	assert_non_null(strstr(f->ch.log, "load-conn:corp@10.0.0.1 "));
	assert_non_null(strstr(f->ch.log, "initiate:corp "));
	assert_non_null(strstr(f->ch.log, "terminate:moved "));
	assert_non_null(strstr(f->ch.log, "load-conn:moved@10.0.0.2 "));
	assert_non_null(strstr(f->ch.log, "initiate:moved "));
	assert_null(strstr(f->ch.log, "late"));
	assert_true(up_adopted(f, "late"));
	assert_string_equal(status_of(f, "late", "gateway"), "10.0.0.3");
	assert_false(up_adopted(f, "corp"));
	assert_false(up_adopted(f, "moved"));
	fx_free(f);
}

/* --dry-run: an SA that is up is reported up, nothing is sent but list-sas */
static void test_dry_run_adopts(void **state)
{
	struct fx *f = fx_new(state);
	const cJSON *ev;

	f->ch.sas[0] = SA("corp", "7", "ESTABLISHED", "10.0.0.2");
	fx_start(f, "corp=10.0.0.1,10.0.0.2 b=10.0.0.1", true);
	assert_true(loop_until_count(f->e, &f->n_events, 1, 3000));
	loop_for(f->e, 100);
	assert_int_equal(f->ch.n_lists, 1);
	assert_string_equal(f->ch.log, "");
	assert_int_equal(f->n_events, 1);
	assert_non_null(ev = last_event(f, "segw_up", "corp"));
	assert_true(is_true(ev, "adopted"));
	assert_true(is_true(ev, "dry_run"));
	assert_string_equal(status_of(f, "corp", "state"), "up");
	assert_string_equal(status_of(f, "corp", "gateway"), "10.0.0.2");
	assert_string_equal(status_of(f, "b", "state"), "idle");
	fx_free(f);
}

/* each connect lists again: a reconnect to a charon that kept its SAs
 * adopts them again; one that lost them (restarted) brings them up */
static void test_reconnect_lists_again(void **state)
{
	struct fx *f = fx_new(state);

	f->ch.sas[0] = SA("corp", "7", "ESTABLISHED", "10.0.0.2");
	fx_start(f, "corp=10.0.0.1,10.0.0.2", false);
	assert_true(loop_until_count(f->e, &f->n_events, 1, 3000));
	srv_drop_all(&f->s);
	assert_true(loop_until_count(f->e, &f->ch.n_lists, 2, 3000));
	assert_true(loop_until_count(f->e, &f->n_events, 2, 3000));
	assert_int_equal(count_events(f, "segw_up"), 2);
	assert_true(up_adopted(f, "corp"));
	assert_string_equal(f->ch.log, "");

	f->ch.sas[0] = NULL;
	srv_drop_all(&f->s);
	assert_true(loop_until_count(f->e, &f->n_events, 3, 3000));
	assert_int_equal(f->ch.n_lists, 3);
	assert_string_equal(f->ch.log, "load-conn:corp@10.0.0.2 initiate:corp ");
	assert_false(up_adopted(f, "corp"));
	fx_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		TMPDIR_TEST(test_adopts_what_is_up),
		TMPDIR_TEST(test_adopts_only_established_at_a_gateway),
		TMPDIR_TEST(test_adopts_with_its_child_only),
		TMPDIR_TEST(test_listing_fails),
		TMPDIR_TEST(test_events_while_listing),
		TMPDIR_TEST(test_dry_run_adopts),
		TMPDIR_TEST(test_reconnect_lists_again),
	};
	const char *verbose = getenv("NW_TEST_VERBOSE");

	nw_log_set_level(verbose && *verbose == '1' ? LOG_DEBUG : LOG_EMERG);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
