// SPDX-License-Identifier: GPL-2.0-only
/* Unit tests for user/events.c: event names, decoding of kernel records,
 * log summaries, journald message ids and the bounded history. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <regex.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "netward/bind_guard.h"
#include "cgroup.h"
#include "events.h"
#include "util.h"

#define TS_RE "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{6}Z$"

static void assert_matches(const char *s, const char *re)
{
	regex_t rx;
	int r;

	assert_int_equal(regcomp(&rx, re, REG_EXTENDED | REG_NOSUB), 0);
	r = regexec(&rx, s, 0, NULL, 0);
	regfree(&rx);
	if (r)
		fail_msg("\"%s\" does not match %s", s, re);
}

static time_t ts_seconds(const char *ts)
{
	struct tm tm = { 0 };
	unsigned usec;

	assert_int_equal(sscanf(ts, "%d-%d-%dT%d:%d:%d.%uZ", &tm.tm_year, &tm.tm_mon,
				&tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &usec), 7);
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return timegm(&tm);
}

static const char *jstr(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	if (!cJSON_IsString(v))
		fail_msg("\"%s\" is missing or not a string", key);
	return v->valuestring;
}

static double jnum(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	if (!cJSON_IsNumber(v))
		fail_msg("\"%s\" is missing or not a number", key);
	return v->valuedouble;
}

static bool jbool(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	if (!cJSON_IsBool(v))
		fail_msg("\"%s\" is missing or not a boolean", key);
	return cJSON_IsTrue(v);
}

static void assert_absent(const cJSON *o, const char *key)
{
	if (cJSON_GetObjectItemCaseSensitive(o, key))
		fail_msg("\"%s\" should not be there", key);
}

/* --- names ------------------------------------------------------------------- */

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

static void test_type_names(void **state)
{
	(void)state;
	for (unsigned t = 1; t < NW_EV__MAX; t++) {
		const char *name = nw_event_type_name(t);

		assert_non_null(type_names[t]);
		assert_string_equal(name, type_names[t]);
		assert_int_equal(nw_event_type_parse(name), t);
		for (unsigned u = 1; u < t; u++)
			if (!strcmp(name, nw_event_type_name(u)))
				fail_msg("types %u and %u are both \"%s\"", u, t, name);
	}
	assert_string_equal(nw_event_type_name(NW_EV_NONE), "none");
	assert_string_equal(nw_event_type_name(NW_EV__MAX), "unknown");
	assert_string_equal(nw_event_type_name(0xffff), "unknown");
}

static void test_type_public(void **state)
{
	(void)state;
	assert_true(nw_event_type_public(NW_EV_BIND_DENIED));
	assert_true(nw_event_type_public(NW_EV_RULE_STORM));
	assert_true(nw_event_type_public(NW_EV_DAEMON));
	assert_false(nw_event_type_public(NW_EV_NONE));
	assert_false(nw_event_type_public(NW_EV_RTNL_REQUEST));
	assert_false(nw_event_type_public(NW_EV_NO_ROUTE_RAW));
	assert_false(nw_event_type_public(NW_EV_CGROUP_CHANGE));
	assert_false(nw_event_type_public(NW_EV__MAX));
}

static void test_type_parse_rejects(void **state)
{
	(void)state;
	/* "none" is no event one can ask for */
	assert_int_equal(nw_event_type_parse("none"), -EINVAL);
	assert_int_equal(nw_event_type_parse("unknown"), -EINVAL);
	assert_int_equal(nw_event_type_parse(""), -EINVAL);
	assert_int_equal(nw_event_type_parse("bind"), -EINVAL);
	assert_int_equal(nw_event_type_parse("BIND_DENIED"), -EINVAL);
	assert_int_equal(nw_event_type_parse("bind_denied "), -EINVAL);
	assert_int_equal(nw_event_type_parse("bind_denied"), NW_EV_BIND_DENIED);
	assert_int_equal(nw_event_type_parse("route_restored"), NW_EV_ROUTE_RESTORED);
	assert_int_equal(nw_event_type_parse("segw_retry_exhausted"), NW_EV_SEGW_RETRY_EXHAUSTED);
}

static void test_message_id(void **state)
{
	char ids[NW_EV__MAX][33];

	(void)state;
	for (unsigned t = 0; t < NW_EV__MAX; t++) {
		memset(ids[t], 'X', sizeof(ids[t]));
		nw_event_message_id(t, ids[t]);
		assert_int_equal(strlen(ids[t]), 32);
		assert_int_equal(strspn(ids[t], "0123456789abcdef"), 32);
		for (unsigned u = 0; u < t; u++)
			if (!strcmp(ids[t], ids[u]))
				fail_msg("types %u and %u share MESSAGE_ID %s", u, t, ids[t]);
	}
	/* journald catalogs key on these: they must not change */
	assert_string_equal(ids[NW_EV_BIND_DENIED], "5e1f0c2a9b7d4e63a8c1f0d2b4e60002");
	assert_string_equal(ids[NW_EV_DAEMON], "5e1f0c2a9b7d4e63a8c1f0d2b4e60017");
}

/* --- decoding ------------------------------------------------------------------ */

#define NETNS 4026531840u

static void make_bind(struct nw_bind_event *e, unsigned type)
{
	memset(e, 0, sizeof(*e));
	e->hdr.type = (__u16)type;
	e->hdr.version = NW_EVENT_VERSION;
	e->hdr.size = sizeof(*e);
	e->hdr.ts_ns = nw_now_ns(CLOCK_BOOTTIME);
	e->hdr.tgid = 42;
	e->hdr.pid = 43;
	e->hdr.uid = 1000;
	e->hdr.netns = NETNS;
	e->hdr.cgroup_id = 9876;
	strncpy(e->hdr.comm, "lpg-admin", sizeof(e->hdr.comm));
	e->family = 4;
	e->sock_family = AF_INET;
	e->port = 8443;
	e->proto = NW_PROTO_TCP;
	e->action = NW_ACT_REWRITE;
	e->policy = NW_ACT_REWRITE;
	e->match = NW_MATCH_ANY_PORT;
	assert_int_equal(inet_pton(AF_INET, "127.0.0.1", e->new_addr), 1);
}

static cJSON *decode(const struct nw_bind_event *e, const char *cg_mount)
{
	cJSON *o;

	errno = 0;
	o = nw_event_decode(e, sizeof(*e), cg_mount);
	if (!o)
		fail_msg("nw_event_decode: %s", strerror(errno));
	return o;
}

static void test_decode_bind(void **state)
{
	struct nw_bind_event e;
	time_t now = time(NULL);
	cJSON *o;

	(void)state;
	make_bind(&e, NW_EV_BIND_REWRITTEN);
	o = decode(&e, NULL);
	assert_string_equal(jstr(o, "type"), "bind_rewritten");
	assert_true(jnum(o, "netns") == NETNS);
	assert_true(jnum(o, "pid") == 42);
	assert_true(jnum(o, "tid") == 43);
	assert_string_equal(jstr(o, "comm"), "lpg-admin");
	assert_true(jnum(o, "uid") == 1000);
	assert_true(jnum(o, "cgroup_id") == 9876);
	assert_absent(o, "cgroup");	/* no mount to resolve it with */
	assert_true(jnum(o, "family") == 4);
	assert_string_equal(jstr(o, "proto"), "tcp");
	assert_string_equal(jstr(o, "addr"), "0.0.0.0");
	assert_true(jnum(o, "port") == 8443);
	assert_string_equal(jstr(o, "action"), "rewrite");
	assert_string_equal(jstr(o, "policy"), "rewrite");
	assert_string_equal(jstr(o, "rule"), "port");
	assert_string_equal(jstr(o, "new_addr"), "127.0.0.1");
	assert_absent(o, "rule_cgroup_id");
	assert_absent(o, "rule_cgroup");
	assert_absent(o, "v4mapped");
	assert_absent(o, "dry_run");
	assert_absent(o, "source");
	assert_absent(o, "killed");
	assert_matches(jstr(o, "ts"), TS_RE);
	assert_in_range(ts_seconds(jstr(o, "ts")), now - 2, now + 2);
	cJSON_Delete(o);
}

static void test_decode_ts(void **state)
{
	struct nw_bind_event e;
	time_t now = time(NULL);
	cJSON *o;

	(void)state;
	/* an event of 90 s ago is dated 90 s ago */
	make_bind(&e, NW_EV_BIND_AUDIT);
	e.hdr.ts_ns -= 90000000000ull;
	o = decode(&e, NULL);
	assert_matches(jstr(o, "ts"), TS_RE);
	assert_in_range(ts_seconds(jstr(o, "ts")), now - 92, now - 88);
	cJSON_Delete(o);

	/* a time stamp from the future is taken as now */
	make_bind(&e, NW_EV_BIND_AUDIT);
	e.hdr.ts_ns += 3600000000000ull;
	o = decode(&e, NULL);
	assert_in_range(ts_seconds(jstr(o, "ts")), now - 2, now + 2);
	cJSON_Delete(o);
}

static void test_decode_fields(void **state)
{
	struct nw_bind_event e;
	cJSON *o;

	(void)state;
	make_bind(&e, NW_EV_BIND_DENIED);
	e.action = NW_ACT_DENY;
	e.policy = NW_ACT_DENY;
	e.match = NW_MATCH_CGROUP_PORT;
	e.rule_cgroup_id = 555;
	e.proto = NW_PROTO_UDP;
	e.port = 53;
	memcpy(e.hdr.comm, "0123456789abcdef", NW_COMM_LEN);	/* no NUL */
	e.hdr.cgroup_id = 0x10000000000ull;
	o = decode(&e, NULL);
	assert_string_equal(jstr(o, "type"), "bind_denied");
	assert_string_equal(jstr(o, "comm"), "0123456789abcdef");
	assert_string_equal(jstr(o, "proto"), "udp");
	assert_true(jnum(o, "port") == 53);
	assert_string_equal(jstr(o, "action"), "deny");
	assert_string_equal(jstr(o, "policy"), "deny");
	assert_string_equal(jstr(o, "rule"), "cgroup+port");
	assert_true(jnum(o, "rule_cgroup_id") == 555);
	assert_absent(o, "rule_cgroup");
	assert_true(jnum(o, "cgroup_id") == (double)0x10000000000ull);
	assert_absent(o, "new_addr");	/* only for rewrite */
	cJSON_Delete(o);

	/* IPv6 wildcard */
	make_bind(&e, NW_EV_WILDCARD_LISTENER);
	e.family = 6;
	e.sock_family = AF_INET6;
	e.action = NW_ACT_AUDIT;
	e.policy = NW_ACT_AUDIT;
	e.match = NW_MATCH_DEFAULT;
	o = decode(&e, NULL);
	assert_string_equal(jstr(o, "type"), "wildcard_listener");
	assert_true(jnum(o, "family") == 6);
	assert_string_equal(jstr(o, "addr"), "::");
	assert_string_equal(jstr(o, "action"), "audit");
	assert_string_equal(jstr(o, "rule"), "default");
	assert_absent(o, "v4mapped");
	cJSON_Delete(o);

	/* rewrite on IPv6: to ::1 */
	make_bind(&e, NW_EV_BIND_REWRITTEN);
	e.family = 6;
	e.sock_family = AF_INET6;
	memset(e.new_addr, 0, sizeof(e.new_addr));
	e.new_addr[15] = 1;
	o = decode(&e, NULL);
	assert_string_equal(jstr(o, "addr"), "::");
	assert_string_equal(jstr(o, "new_addr"), "::1");
	cJSON_Delete(o);
}

static void test_decode_v4mapped(void **state)
{
	struct nw_bind_event e;
	cJSON *o;

	(void)state;
	make_bind(&e, NW_EV_BIND_REWRITTEN);
	e.sock_family = 10;	/* AF_INET6 */
	e.hdr.flags = NW_EVF_V4MAPPED;
	assert_int_equal(inet_pton(AF_INET6, "::ffff:0.0.0.0", e.addr), 1);
	assert_int_equal(inet_pton(AF_INET6, "::ffff:127.0.0.1", e.new_addr), 1);
	o = decode(&e, NULL);
	assert_true(jnum(o, "family") == 4);
	assert_string_equal(jstr(o, "addr"), "::ffff:0.0.0.0");
	assert_string_equal(jstr(o, "new_addr"), "::ffff:127.0.0.1");
	assert_true(jbool(o, "v4mapped"));
	cJSON_Delete(o);
}

static void test_decode_flags(void **state)
{
	struct nw_bind_event e;
	cJSON *o;

	(void)state;
	/* dry-run: the policy said deny, audit was done */
	make_bind(&e, NW_EV_BIND_AUDIT);
	e.hdr.flags = NW_EVF_DRY_RUN;
	e.action = NW_ACT_AUDIT;
	e.policy = NW_ACT_DENY;
	o = decode(&e, NULL);
	assert_true(jbool(o, "dry_run"));
	assert_string_equal(jstr(o, "action"), "audit");
	assert_string_equal(jstr(o, "policy"), "deny");
	assert_absent(o, "source");
	cJSON_Delete(o);

	/* listen() autobind answered with SIGKILL */
	make_bind(&e, NW_EV_BIND_DENIED);
	e.hdr.flags = NW_EVF_AUTOBIND;
	e.action = NW_ACT_KILL;
	e.policy = NW_ACT_KILL;
	o = decode(&e, NULL);
	assert_string_equal(jstr(o, "source"), "autobind");
	assert_true(jbool(o, "killed"));
	assert_string_equal(jstr(o, "action"), "kill");
	assert_absent(o, "dry_run");
	cJSON_Delete(o);

	/* autobind only audited, in dry-run */
	make_bind(&e, NW_EV_BIND_AUDIT);
	e.hdr.flags = NW_EVF_AUTOBIND | NW_EVF_DRY_RUN;
	e.action = NW_ACT_AUDIT;
	e.policy = NW_ACT_KILL;
	o = decode(&e, NULL);
	assert_string_equal(jstr(o, "source"), "autobind");
	assert_false(jbool(o, "killed"));
	assert_true(jbool(o, "dry_run"));
	cJSON_Delete(o);
}

static void test_decode_cgroup_paths(void **state)
{
	char mount[PATH_MAX], path[PATH_MAX];
	struct nw_bind_event e;
	uint64_t root;
	cJSON *o;

	(void)state;
	/* needs cgroup2, and CAP_DAC_READ_SEARCH for open_by_handle_at */
	if (nw_cgroup2_mount(mount, sizeof(mount)) || nw_cgroup_id(mount, &root) ||
	    nw_cgroup_path_from_id(mount, root, path, sizeof(path)) == -EPERM)
		skip();
	make_bind(&e, NW_EV_BIND_DENIED);
	e.hdr.cgroup_id = root;
	e.rule_cgroup_id = root;
	o = decode(&e, mount);
	assert_string_equal(jstr(o, "cgroup"), "/");
	assert_true(jnum(o, "cgroup_id") == (double)root);
	assert_string_equal(jstr(o, "rule_cgroup"), "/");
	assert_true(jnum(o, "rule_cgroup_id") == (double)root);
	cJSON_Delete(o);

	/* an id that does not resolve: the id alone */
	e.hdr.cgroup_id = UINT64_MAX - 1;
	e.rule_cgroup_id = UINT64_MAX - 1;
	o = decode(&e, mount);
	assert_absent(o, "cgroup");
	assert_absent(o, "rule_cgroup");
	assert_non_null(cJSON_GetObjectItemCaseSensitive(o, "cgroup_id"));
	assert_non_null(cJSON_GetObjectItemCaseSensitive(o, "rule_cgroup_id"));
	cJSON_Delete(o);
}

static void expect_bad(const void *data, size_t len, const char *what)
{
	cJSON *o;

	errno = 0;
	o = nw_event_decode(data, len, NULL);
	if (o) {
		cJSON_Delete(o);
		fail_msg("%s: decoded", what);
	}
	if (errno != EBADMSG)
		fail_msg("%s: errno %d, expected EBADMSG", what, errno);
}

static void test_decode_bad(void **state)
{
	struct nw_bind_event e;
	unsigned char buf[sizeof(e) + 8];
	cJSON *o;

	(void)state;
	make_bind(&e, NW_EV_BIND_DENIED);
	expect_bad(&e, 0, "empty");
	expect_bad(&e, sizeof(e.hdr) - 1, "shorter than a header");

	e.hdr.version = NW_EVENT_VERSION + 1;
	expect_bad(&e, sizeof(e), "version 2");
	e.hdr.version = 0;
	expect_bad(&e, sizeof(e), "version 0");

	make_bind(&e, NW_EV_BIND_DENIED);
	expect_bad(&e, sizeof(e) - 1, "size larger than len");
	e.hdr.size = sizeof(e) + 1;
	expect_bad(&e, sizeof(e), "size past the record");
	e.hdr.size = sizeof(e) - 8;
	expect_bad(&e, sizeof(e), "bind event of the wrong size");
	e.hdr.size = sizeof(e.hdr);
	expect_bad(&e, sizeof(e.hdr), "header alone");

	make_bind(&e, NW_EV_ROUTE_DELETED);
	expect_bad(&e, sizeof(e), "a type that is not a kernel bind event");
	make_bind(&e, NW_EV_NONE);
	expect_bad(&e, sizeof(e), "type 0");
	make_bind(&e, NW_EV__MAX);
	expect_bad(&e, sizeof(e), "type past the last");
	make_bind(&e, 999);
	expect_bad(&e, sizeof(e), "type 999");

	/* a longer buffer is fine as long as size fits */
	make_bind(&e, NW_EV_BIND_DENIED);
	memset(buf, 0xee, sizeof(buf));
	memcpy(buf, &e, sizeof(e));
	o = nw_event_decode(buf, sizeof(buf), NULL);
	assert_non_null(o);
	assert_string_equal(jstr(o, "type"), "bind_denied");
	cJSON_Delete(o);
}

/* --- summaries ----------------------------------------------------------------- */

static void test_summary_bind(void **state)
{
	static const char full[] = "bind_rewritten: pid 42 (lpg-admin) uid 1000 cgroup ? "
				   "tcp 0.0.0.0:8443 -> rewrite 127.0.0.1";
	struct nw_bind_event e;
	char buf[512];
	cJSON *o;

	(void)state;
	make_bind(&e, NW_EV_BIND_REWRITTEN);
	o = decode(&e, NULL);
	nw_event_summary(o, buf, sizeof(buf));
	assert_non_null(strstr(buf, "bind_rewritten: pid 42 (lpg-admin)"));
	assert_non_null(strstr(buf, "tcp 0.0.0.0:8443 -> rewrite 127.0.0.1"));
	assert_string_equal(buf, full);

	/* truncated, in the actor or after it, always terminated */
	for (size_t size = 1; size <= sizeof(full); size++) {
		memset(buf, 'x', sizeof(buf));
		nw_event_summary(o, buf, size);
		assert_int_equal(strlen(buf), size - 1);
		assert_memory_equal(buf, full, size - 1);
		assert_int_equal(buf[size], 'x');
	}
	cJSON_Delete(o);

	/* v4-mapped and IPv6 addresses in brackets; no new_addr */
	make_bind(&e, NW_EV_BIND_DENIED);
	e.sock_family = AF_INET6;
	e.hdr.flags = NW_EVF_V4MAPPED;
	e.action = NW_ACT_DENY;
	e.proto = NW_PROTO_UDP;
	assert_int_equal(inet_pton(AF_INET6, "::ffff:0.0.0.0", e.addr), 1);
	o = decode(&e, NULL);
	nw_event_summary(o, buf, sizeof(buf));
	assert_string_equal(buf, "bind_denied: pid 42 (lpg-admin) uid 1000 cgroup ? "
				 "udp [::ffff:0.0.0.0]:8443 -> deny");
	cJSON_Delete(o);

	/* dry-run */
	make_bind(&e, NW_EV_BIND_AUDIT);
	e.hdr.flags = NW_EVF_DRY_RUN;
	e.action = NW_ACT_AUDIT;
	e.policy = NW_ACT_DENY;
	o = decode(&e, NULL);
	nw_event_summary(o, buf, sizeof(buf));
	assert_string_equal(buf, "bind_audit: pid 42 (lpg-admin) uid 1000 cgroup ? "
				 "tcp 0.0.0.0:8443 -> audit (dry-run)");
	cJSON_Delete(o);
}

static void test_summary_other(void **state)
{
	char buf[256];
	cJSON *o;

	(void)state;
	o = nw_event_new(NW_EV_DAEMON, 7);
	assert_non_null(o);
	cJSON_AddStringToObject(o, "message", "started, version 0.1.0");
	nw_event_summary(o, buf, sizeof(buf));
	assert_string_equal(buf, "daemon: started, version 0.1.0");
	cJSON_Delete(o);

	o = nw_event_new(NW_EV_ROUTE_DELETED, 7);
	nw_event_summary(o, buf, sizeof(buf));
	assert_string_equal(buf, "route_deleted:");
	cJSON_Delete(o);

	o = cJSON_CreateObject();
	nw_event_summary(o, buf, sizeof(buf));
	assert_string_equal(buf, "?:");
	/* an actor with a cgroup path */
	cJSON_AddStringToObject(o, "type", "unit_started");
	cJSON_AddNumberToObject(o, "pid", 1);
	cJSON_AddStringToObject(o, "comm", "systemd");
	cJSON_AddNumberToObject(o, "uid", 0);
	cJSON_AddStringToObject(o, "cgroup", "/init.scope");
	nw_event_summary(o, buf, sizeof(buf));
	assert_string_equal(buf, "unit_started: pid 1 (systemd) uid 0 cgroup /init.scope");
	cJSON_Delete(o);
}

static void test_event_new(void **state)
{
	time_t now = time(NULL);
	cJSON *o;

	(void)state;
	o = nw_event_new(NW_EV_SEGW_RETRY_EXHAUSTED, NETNS);
	assert_non_null(o);
	assert_string_equal(jstr(o, "type"), "segw_retry_exhausted");
	assert_true(jnum(o, "netns") == NETNS);
	assert_matches(jstr(o, "ts"), TS_RE);
	assert_in_range(ts_seconds(jstr(o, "ts")), now - 2, now + 2);
	assert_int_equal(cJSON_GetArraySize(o), 3);
	cJSON_Delete(o);

	o = nw_event_new(NW_EV__MAX + 5, 0);
	assert_string_equal(jstr(o, "type"), "unknown");
	cJSON_Delete(o);
}

/* --- history ------------------------------------------------------------------- */

static void test_history(void **state)
{
	struct nw_history h;
	char json[32];
	unsigned type;

	(void)state;
	assert_int_equal(nw_history_init(&h, 3), 0);
	assert_int_equal(h.count, 0);
	assert_null(nw_history_get(&h, 0, &type));
	for (unsigned i = 1; i <= 5; i++) {
		snprintf(json, sizeof(json), "{\"n\": %u}", i);
		assert_int_equal(nw_history_add(&h, i, json), 0);
		assert_int_equal(h.count, i < 3 ? i : 3);
		assert_int_equal(h.total, i);
	}
	assert_int_equal(h.count, 3);
	assert_int_equal(h.total, 5);
	/* oldest first: #3 #4 #5 */
	for (unsigned i = 0; i < 3; i++) {
		type = 0;
		snprintf(json, sizeof(json), "{\"n\": %u}", i + 3);
		assert_string_equal(nw_history_get(&h, i, &type), json);
		assert_int_equal(type, i + 3);
	}
	assert_string_equal(nw_history_get(&h, 0, NULL), "{\"n\": 3}");
	assert_null(nw_history_get(&h, 3, &type));
	assert_null(nw_history_get(&h, (size_t)-1, &type));
	nw_history_free(&h);
	assert_null(h.lines);
	assert_int_equal(h.count, 0);
	assert_int_equal(h.total, 0);
	nw_history_free(&h);	/* twice is harmless */
}

static void test_history_copies(void **state)
{
	struct nw_history h;
	char json[32] = "{\"a\": 1}";
	unsigned type;

	(void)state;
	assert_int_equal(nw_history_init(&h, 1), 0);
	assert_int_equal(nw_history_add(&h, NW_EV_BIND_DENIED, json), 0);
	strcpy(json, "{\"b\": 2}");	/* the history has its own copy */
	assert_string_equal(nw_history_get(&h, 0, &type), "{\"a\": 1}");
	assert_int_equal(type, NW_EV_BIND_DENIED);
	assert_int_equal(nw_history_add(&h, NW_EV_DAEMON, json), 0);
	assert_int_equal(h.count, 1);
	assert_int_equal(h.total, 2);
	assert_string_equal(nw_history_get(&h, 0, &type), "{\"b\": 2}");
	assert_int_equal(type, NW_EV_DAEMON);
	nw_history_free(&h);

	/* many times around a ring of 4: no leak, the last 4 kept in order */
	assert_int_equal(nw_history_init(&h, 4), 0);
	for (unsigned i = 0; i < 1003; i++) {
		snprintf(json, sizeof(json), "%u", i);
		assert_int_equal(nw_history_add(&h, i % NW_EV__MAX, json), 0);
	}
	assert_int_equal(h.total, 1003);
	for (unsigned i = 0; i < 4; i++) {
		snprintf(json, sizeof(json), "%u", 999 + i);
		assert_string_equal(nw_history_get(&h, i, &type), json);
		assert_int_equal(type, (999 + i) % NW_EV__MAX);
	}
	nw_history_free(&h);
}

/* reply's "events" as the "n" of each, "3,5" */
static void event_ns(const cJSON *reply, char *out, size_t len)
{
	const cJSON *e;

	out[0] = 0;
	cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(reply, "events"))
		snprintf(out + strlen(out), len - strlen(out), "%s%d", out[0] ? "," : "",
			 cJSON_GetObjectItemCaseSensitive(e, "n")->valueint);
}

/* The "events" request: the newest "limit" of a "type", oldest first; a
 * type that is not public is an error that names it. */
static void test_history_reply(void **state)
{
	static const unsigned types[] = { NW_EV_BIND_DENIED, NW_EV_ROUTE_DELETED, NW_EV_BIND_DENIED,
					  NW_EV_ROUTE_DELETED, NW_EV_BIND_DENIED };
	struct nw_history h;
	char json[32], ns[64], err[128];
	cJSON *req, *reply;
	int type;

	(void)state;
	assert_int_equal(nw_history_init(&h, 8), 0);
	for (unsigned i = 0; i < 5; i++) {
		snprintf(json, sizeof(json), "{\"n\": %u}", i + 1);
		assert_int_equal(nw_history_add(&h, types[i], json), 0);
	}
	req = cJSON_Parse("{\"cmd\": \"events\"}");
	reply = cJSON_CreateObject();
	assert_int_equal(nw_history_reply(&h, req, reply, &type, err, sizeof(err)), 0);
	assert_int_equal(type, -1);
	event_ns(reply, ns, sizeof(ns));
	assert_string_equal(ns, "1,2,3,4,5");
	cJSON_Delete(req);
	cJSON_Delete(reply);

	req = cJSON_Parse("{\"cmd\": \"events\", \"type\": \"bind_denied\", \"limit\": 2}");
	reply = cJSON_CreateObject();
	assert_int_equal(nw_history_reply(&h, req, reply, &type, err, sizeof(err)), 0);
	assert_int_equal(type, NW_EV_BIND_DENIED);
	event_ns(reply, ns, sizeof(ns));
	assert_string_equal(ns, "3,5");
	cJSON_Delete(req);
	cJSON_Delete(reply);

	req = cJSON_Parse("{\"cmd\": \"events\", \"type\": \"rtnl_request\"}");
	reply = cJSON_CreateObject();
	cJSON_AddTrueToObject(reply, "ok");
	assert_int_equal(nw_history_reply(&h, req, reply, &type, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "type: \"rtnl_request\" is not an event type");
	assert_int_equal(type, -1);
	cJSON_Delete(req);
	cJSON_Delete(reply);
	nw_history_free(&h);
}

static double num_field(const cJSON *ev, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(ev, k);

	assert_true(cJSON_IsNumber(v));
	return v->valuedouble;
}

/* Each increase of counters.events_lost is one events_lost event; the first
 * look reports what was lost before; a counter made anew starts over. */
static void test_drops(void **state)
{
	struct nw_drop_watch w = { 0 };
	const cJSON *msg;
	cJSON *ev;

	(void)state;
	assert_null(nw_event_drops(&w, 7, 0));		/* nothing lost before the start */
	assert_null(nw_event_drops(&w, 7, 0));
	ev = nw_event_drops(&w, 7, 12);
	assert_non_null(ev);
	assert_string_equal(cJSON_GetObjectItemCaseSensitive(ev, "type")->valuestring, "events_lost");
	assert_int_equal(num_field(ev, "lost"), 12);
	assert_int_equal(num_field(ev, "total"), 12);
	assert_true(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(ev, "before_start")));
	msg = cJSON_GetObjectItemCaseSensitive(ev, "message");
	assert_non_null(strstr(msg->valuestring, "12 events lost"));
	cJSON_Delete(ev);
	assert_null(nw_event_drops(&w, 7, 12));		/* no increase: silent */
	ev = nw_event_drops(&w, 7, 20);
	assert_int_equal(num_field(ev, "lost"), 8);
	assert_int_equal(num_field(ev, "total"), 20);
	cJSON_Delete(ev);
	ev = nw_event_drops(&w, 7, 5);			/* maps made anew */
	assert_int_equal(num_field(ev, "lost"), 5);
	cJSON_Delete(ev);

	memset(&w, 0, sizeof(w));			/* a new netwardd: lost before it */
	ev = nw_event_drops(&w, 7, 30);
	assert_int_equal(num_field(ev, "lost"), 30);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(ev, "before_start")));
	msg = cJSON_GetObjectItemCaseSensitive(ev, "message");
	assert_non_null(strstr(msg->valuestring, "before this netwardd started"));
	cJSON_Delete(ev);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_type_names),
		cmocka_unit_test(test_type_parse_rejects),
		cmocka_unit_test(test_type_public),
		cmocka_unit_test(test_message_id),
		cmocka_unit_test(test_decode_bind),
		cmocka_unit_test(test_decode_ts),
		cmocka_unit_test(test_decode_fields),
		cmocka_unit_test(test_decode_v4mapped),
		cmocka_unit_test(test_decode_flags),
		cmocka_unit_test(test_decode_cgroup_paths),
		cmocka_unit_test(test_decode_bad),
		cmocka_unit_test(test_summary_bind),
		cmocka_unit_test(test_summary_other),
		cmocka_unit_test(test_event_new),
		cmocka_unit_test(test_history),
		cmocka_unit_test(test_history_copies),
		cmocka_unit_test(test_drops),
		cmocka_unit_test(test_history_reply),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
