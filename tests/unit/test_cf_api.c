// SPDX-License-Identifier: GPL-2.0-only
/* Unit tests for the Cloudflare API reply parsers (cf_api.c): every
 * outcome, Retry-After in all its forms, garbage, huge and deep bodies,
 * cloudflared's /ready, and the request budget of a shared token. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cf_api.h"

/* RFC 9110's example date, "Sun, 06 Nov 1994 08:49:37 GMT" */
#define EXAMPLE_S 784111777

static size_t slen(const char *s)
{
	return s ? strlen(s) : 0;
}

static struct nw_cf_reply parse(long http, const char *body, const char *retry_after)
{
	struct nw_cf_reply r;

	memset(&r, 0x5a, sizeof(r));	/* everything must be set */
	nw_cf_parse_tunnel(http, body, slen(body), retry_after, EXAMPLE_S - 30,
			   NULL, &r);
	assert_non_null(memchr(r.error, 0, sizeof(r.error)));
	return r;
}

/* the reply to http and body (no Retry-After): outcome, and exactly error */
static struct nw_cf_reply expect(long http, const char *body, enum nw_cf_outcome outcome,
				 const char *error)
{
	struct nw_cf_reply r = parse(http, body, NULL);

	assert_int_equal(r.outcome, outcome);
	assert_string_equal(r.error, error);
	return r;
}

static const char *ok_body(const char *status)
{
	static char buf[512];

	snprintf(buf, sizeof(buf),
		 "{\"success\":true,\"errors\":[],\"messages\":[],\"result\":{\"id\":"
		 "\"f70ff985-a4ef-4643-bbbc-4a0ed4fc8415\",\"name\":\"web\",\"status\":\"%s\","
		 "\"connections\":[{\"colo_name\":\"ICN\"}]}}", status);
	return buf;
}

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(nw_tunnel_status_name(NW_TUNNEL_UNKNOWN), "unknown");
	assert_string_equal(nw_tunnel_status_name(NW_TUNNEL_HEALTHY), "healthy");
	assert_string_equal(nw_tunnel_status_name(NW_TUNNEL_DEGRADED), "degraded");
	assert_string_equal(nw_tunnel_status_name(NW_TUNNEL_DOWN), "down");
	assert_string_equal(nw_tunnel_status_name(NW_TUNNEL_INACTIVE), "inactive");
	assert_string_equal(nw_tunnel_status_name(99), "unknown");
	assert_string_equal(nw_cf_outcome_name(NW_CF_OK), "ok");
	assert_string_equal(nw_cf_outcome_name(NW_CF_TRANSPORT), "transport");
	assert_string_equal(nw_cf_outcome_name(NW_CF_AUTH), "auth");
	assert_string_equal(nw_cf_outcome_name(NW_CF_RATE), "rate");
	assert_string_equal(nw_cf_outcome_name(NW_CF_SERVER), "server");
	assert_string_equal(nw_cf_outcome_name(NW_CF_CLIENT), "client");
	assert_string_equal(nw_cf_outcome_name(NW_CF_API_ERROR), "api_error");
	assert_string_equal(nw_cf_outcome_name(NW_CF_BAD_REPLY), "bad_reply");
	assert_string_equal(nw_cf_outcome_name(1234), "unknown");
}

static void test_ok(void **state)
{
	static const struct {
		const char *name;
		enum nw_tunnel_status s;
	} cases[] = {
		{ "healthy", NW_TUNNEL_HEALTHY }, { "degraded", NW_TUNNEL_DEGRADED },
		{ "down", NW_TUNNEL_DOWN }, { "inactive", NW_TUNNEL_INACTIVE },
	};
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct nw_cf_reply r = parse(200, ok_body(cases[i].name), NULL);

		assert_int_equal(r.outcome, NW_CF_OK);
		assert_int_equal(r.status, cases[i].s);
		assert_int_equal(r.http_status, 200);
		assert_int_equal(r.retry_after_s, 0);
		assert_string_equal(r.error, "");
	}
	/* any 2xx; a body that is not NUL-terminated */
	{
		const char *b = ok_body("healthy");
		char *copy = malloc(strlen(b));
		struct nw_cf_reply r;

		assert_non_null(copy);
		memcpy(copy, b, strlen(b));
		nw_cf_parse_tunnel(203, copy, strlen(b), NULL, 0, NULL, &r);
		assert_int_equal(r.outcome, NW_CF_OK);
		assert_int_equal(r.status, NW_TUNNEL_HEALTHY);
		free(copy);
	}
}

static void test_api_error(void **state)
{
	struct nw_cf_reply r;
	(void)state;

	r = expect(200, "{\"success\":false,\"errors\":[{\"code\":1003,\"message\":\"Invalid "
		   "tunnel id\"}],\"messages\":[],\"result\":null}", NW_CF_API_ERROR,
		   "code 1003: Invalid tunnel id");
	assert_int_equal(r.status, NW_TUNNEL_UNKNOWN);

	expect(200, "{\"success\":false,\"errors\":[{\"code\":1003,\"message\":\"a\"},"
	       "{\"code\":1004,\"message\":\"b\"},{\"code\":1005}],\"result\":null}",
	       NW_CF_API_ERROR, "code 1003: a (+2 more)");

	expect(200, "{\"success\":false,\"errors\":[],\"result\":{\"status\":\"healthy\"}}",
	       NW_CF_API_ERROR, "success false without errors");

	r = parse(200, "{\"success\":false,\"errors\":[{\"code\":7}]}", NULL);
	assert_string_equal(r.error, "code 7");
	r = parse(200, "{\"success\":false,\"errors\":[{\"message\":\"only text\"}]}", NULL);
	assert_string_equal(r.error, "only text");
	r = parse(200, "{\"success\":false,\"errors\":[42]}", NULL);
	assert_string_equal(r.error, "an error without code or message");

	/* what the server says is printable when it goes to a log */
	r = parse(200, "{\"success\":false,\"errors\":[{\"code\":1,"
		       "\"message\":\"a\\nb\\u0007c\"}]}", NULL);
	assert_string_equal(r.error, "code 1: a?b?c");
}

static void test_bad_reply(void **state)
{
	struct nw_cf_reply r;
	char longer[200];
	(void)state;

	expect(200, "<html>502 Bad Gateway</html>", NW_CF_BAD_REPLY, "not JSON at byte 0");
	r = parse(200, "{\"success\":true,", NULL);
	assert_int_equal(r.outcome, NW_CF_BAD_REPLY);
	assert_non_null(strstr(r.error, "not JSON"));
	r = parse(200, "", NULL);
	assert_string_equal(r.error, "not JSON (empty body)");
	expect(200, NULL, NW_CF_BAD_REPLY, "not JSON (empty body)");
	expect(200, "[1,2,3]", NW_CF_BAD_REPLY, "not a JSON object");
	expect(200, "{\"result\":{\"status\":\"healthy\"}}", NW_CF_BAD_REPLY,
	       "no \"success\": true");
	expect(200, "{\"success\":true}", NW_CF_BAD_REPLY, "no result.status");
	r = parse(200, "{\"success\":true,\"result\":null}", NULL);
	assert_string_equal(r.error, "no result.status");
	r = parse(200, "{\"success\":true,\"result\":{\"status\":3}}", NULL);
	assert_string_equal(r.error, "no result.status");
	r = expect(200, ok_body("weird"), NW_CF_BAD_REPLY, "result.status \"weird\" is unknown");
	assert_int_equal(r.status, NW_TUNNEL_UNKNOWN);
	r = parse(200, ok_body("HEALTHY"), NULL);
	assert_int_equal(r.outcome, NW_CF_BAD_REPLY);
	memset(longer, 'x', sizeof(longer) - 1);
	longer[sizeof(longer) - 1] = 0;
	expect(200, ok_body(longer), NW_CF_BAD_REPLY,
	       "result.status \"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"... is unknown");
	/* a redirect is not followed (the token would go with it) */
	expect(302, "", NW_CF_BAD_REPLY, "unexpected HTTP 302");
	r = parse(101, NULL, NULL);
	assert_int_equal(r.outcome, NW_CF_BAD_REPLY);
}

static void test_http_errors(void **state)
{
	struct nw_cf_reply r;
	(void)state;

	r = expect(401, "{\"success\":false,\"errors\":[{\"code\":10000,\"message\":"
		   "\"Authentication error\"}],\"messages\":[],\"result\":null}", NW_CF_AUTH,
		   "HTTP 401: code 10000: Authentication error");
	assert_int_equal(r.http_status, 401);
	expect(403, "Forbidden", NW_CF_AUTH, "HTTP 403");

	expect(500, "{\"success\":false,\"errors\":[{\"code\":1,\"message\":\"Internal\"}]}",
	       NW_CF_SERVER, "HTTP 500: code 1: Internal");
	expect(502, "<html>bad gateway</html>", NW_CF_SERVER, "HTTP 502");
	r = parse(599, NULL, NULL);
	assert_int_equal(r.outcome, NW_CF_SERVER);

	r = parse(404, "{\"success\":false,\"errors\":[{\"code\":7003,\"message\":\"Could not "
		       "route to /accounts/x/cfd_tunnel/y, perhaps your object identifier is "
		       "invalid?\"}]}", NULL);
	assert_int_equal(r.outcome, NW_CF_CLIENT);
	assert_non_null(strstr(r.error, "HTTP 404: code 7003: Could not route"));
	expect(400, NULL, NW_CF_CLIENT, "HTTP 400");
}

static void test_transport(void **state)
{
	struct nw_cf_reply r;
	(void)state;

	nw_cf_parse_tunnel(0, NULL, 0, NULL, 0, "Failed to connect to 127.0.0.1 port 9: "
			   "Connection refused", &r);
	assert_int_equal(r.outcome, NW_CF_TRANSPORT);
	assert_int_equal(r.http_status, 0);
	assert_string_equal(r.error, "Failed to connect to 127.0.0.1 port 9: Connection refused");
	/* the transport error wins over a half-read answer */
	nw_cf_parse_tunnel(200, "{", 1, NULL, 0, "Operation timed out after 2000 ms", &r);
	assert_int_equal(r.outcome, NW_CF_TRANSPORT);
	assert_int_equal(r.http_status, 0);
	nw_cf_parse_tunnel(0, NULL, 0, NULL, 0, NULL, &r);
	assert_int_equal(r.outcome, NW_CF_TRANSPORT);
	assert_string_equal(r.error, "no HTTP answer");
}

static uint32_t retry(const char *v)
{
	struct nw_cf_reply r = parse(429, "{\"success\":false,\"errors\":[{\"code\":971,"
				     "\"message\":\"Please wait\"}]}", v);

	assert_int_equal(r.outcome, NW_CF_RATE);
	assert_non_null(strstr(r.error, "HTTP 429"));
	assert_non_null(strstr(r.error, "code 971: Please wait"));
	return r.retry_after_s;
}

static void test_retry_after(void **state)
{
	(void)state;
	assert_int_equal(retry(NULL), 0);
	assert_int_equal(retry(""), 0);
	assert_int_equal(retry("120"), 120);
	assert_int_equal(retry("  7 \r\n"), 7);
	assert_int_equal(retry("0"), 1);		/* 0 would say "absent" */
	assert_int_equal(retry("3600"), 3600);
	assert_int_equal(retry("3601"), 3600);
	assert_int_equal(retry("99999999999999999999999999"), 3600);
	assert_int_equal(retry("-5"), 0);
	assert_int_equal(retry("12abc"), 0);
	assert_int_equal(retry("soon"), 0);
	/* dates, now being 30 s before the example date */
	assert_int_equal(retry("Sun, 06 Nov 1994 08:49:37 GMT"), 30);
	assert_int_equal(retry("Sunday, 06-Nov-94 08:49:37 GMT"), 30);
	assert_int_equal(retry("Sun Nov  6 08:49:37 1994"), 30);
	assert_int_equal(retry("sun, 06 nov 1994 08:50:07 gmt"), 60);
	assert_int_equal(retry("Sun, 06 Nov 1994 08:49:00 GMT"), 1);	/* past */
	assert_int_equal(retry("Mon, 07 Nov 1994 08:49:37 GMT"), 3600);	/* capped */
	assert_int_equal(retry("Sun, 06 Nov 1994 25:49:37 GMT"), 0);
	assert_int_equal(retry("Sun, 32 Nov 1994 08:49:37 GMT"), 0);
	assert_int_equal(retry("Sun, 06 Foo 1994 08:49:37 GMT"), 0);
	assert_int_equal(retry("Sun, 06 Nov 1994 GMT"), 0);
	assert_int_equal(retry("Sun, 06 Nov 1994 08:49:37 GMT and then some more words"), 30);
	/* the wording without a Retry-After */
	{
		struct nw_cf_reply r = parse(429, NULL, NULL);

		assert_string_equal(r.error, "HTTP 429: rate limited");
		r = parse(429, NULL, "15");
		assert_string_equal(r.error, "HTTP 429: rate limited, retry after 15 s");
	}
	/* leap day, and dates after 2038 */
	{
		struct nw_cf_reply r;

		nw_cf_parse_tunnel(429, NULL, 0, "Thu, 29 Feb 2024 00:00:10 GMT", 1709164800, NULL,
				   &r);
		assert_int_equal(r.retry_after_s, 10);
		nw_cf_parse_tunnel(429, NULL, 0, "Tue, 01 Jan 2115 00:01:00 GMT", 4575744000LL,
				   NULL, &r);
		assert_int_equal(r.retry_after_s, 60);
	}
}

static void check_sane(const struct nw_cf_reply *r)
{
	assert_true(r->outcome <= NW_CF_BAD_REPLY);
	assert_true(r->status <= NW_TUNNEL_INACTIVE);
	assert_non_null(memchr(r->error, 0, sizeof(r->error)));
	if (r->outcome != NW_CF_OK)
		assert_int_equal(r->status, NW_TUNNEL_UNKNOWN);
}

static void test_huge_and_deep(void **state)
{
	size_t n = 1024 * 1024, depth = 200000;
	struct nw_cf_reply r;
	char *b = malloc(n + 64);
	(void)state;

	assert_non_null(b);
	/* 1 MiB of one string */
	strcpy(b, "{\"success\":true,\"result\":{\"status\":\"");
	memset(b + strlen(b), 'h', n - strlen(b) - 4);
	strcpy(b + n - 4, "\"}}");
	nw_cf_parse_tunnel(200, b, strlen(b), NULL, 0, NULL, &r);
	check_sane(&r);
	assert_int_equal(r.outcome, NW_CF_BAD_REPLY);
	assert_non_null(strstr(r.error, "is unknown"));
	/* an array of a hundred thousand errors */
	strcpy(b, "{\"success\":false,\"errors\":[");
	for (size_t l = strlen(b); l + 40 < n;) {
		l += (size_t)sprintf(b + l, "{\"code\":1,\"message\":\"m\"},");
		b[l] = 0;
	}
	strcpy(b + strlen(b) - 1, "]}");
	nw_cf_parse_tunnel(200, b, strlen(b), NULL, 0, NULL, &r);
	check_sane(&r);
	assert_int_equal(r.outcome, NW_CF_API_ERROR);
	assert_non_null(strstr(r.error, "more)"));
	free(b);

	/* deeper than any parser's stack would like */
	b = malloc(depth * 2 + 1);
	assert_non_null(b);
	memset(b, '[', depth);
	memset(b + depth, ']', depth);
	b[depth * 2] = 0;
	nw_cf_parse_tunnel(200, b, depth * 2, NULL, 0, NULL, &r);
	check_sane(&r);
	assert_int_equal(r.outcome, NW_CF_BAD_REPLY);
	nw_cf_parse_tunnel(503, b, depth * 2, NULL, 0, NULL, &r);
	assert_int_equal(r.outcome, NW_CF_SERVER);
	assert_true(nw_cf_parse_ready(200, b, depth * 2, NULL));	/* unreadable 200 */
	for (size_t i = 0; i < depth; i++)
		b[i] = i % 2 ? ':' : '{';
	nw_cf_parse_tunnel(200, b, depth, NULL, 0, NULL, &r);
	check_sane(&r);
	free(b);
}

/* random bytes and mutated valid replies: never a crash, always a sane reply */
static void test_garbage(void **state)
{
	const char *seed = ok_body("healthy");
	size_t sl = strlen(seed);
	unsigned rnd = 12345;
	char buf[600];
	(void)state;

	for (int i = 0; i < 20000; i++) {
		struct nw_cf_reply r;
		size_t len;
		long code = i % 3 ? 200 : (long[]){ 401, 429, 500, 404, 200 }[i % 5];

		if (i % 2) {
			len = (rnd = rnd * 1103515245 + 12345) % sizeof(buf);
			for (size_t j = 0; j < len; j++)
				buf[j] = (char)((rnd = rnd * 1103515245 + 12345) >> 16);
		} else {
			memcpy(buf, seed, sl);
			len = sl;
			for (int k = 0; k < 3; k++) {
				rnd = rnd * 1103515245 + 12345;
				buf[(rnd >> 8) % sl] = (char)(rnd >> 20);
			}
			if (rnd % 7 == 0)
				len = (rnd >> 4) % sl;
		}
		nw_cf_parse_tunnel(code, buf, len, i % 4 ? NULL : buf, 0, NULL, &r);
		check_sane(&r);
		(void)nw_cf_parse_ready(code, buf, len, NULL);
	}
}

static void test_ready(void **state)
{
	int conns = 99;
	(void)state;

#define READY(code, body, c) nw_cf_parse_ready(code, body, slen(body), c)
	assert_true(READY(200, "{\"status\":200,\"readyConnections\":4,\"connectorId\":\"x\"}",
			  &conns));
	assert_int_equal(conns, 4);
	assert_false(READY(200, "{\"status\":200,\"readyConnections\":0}", &conns));
	assert_int_equal(conns, 0);
	assert_false(READY(503, "{\"status\":503,\"readyConnections\":0}", &conns));
	assert_int_equal(conns, 0);
	assert_false(READY(503, "{\"status\":503,\"readyConnections\":2}", &conns));
	assert_int_equal(conns, 2);
	/* a 200 without a readable body counts as ready */
	assert_true(READY(200, "OK", &conns));
	assert_int_equal(conns, -1);
	assert_true(READY(200, NULL, &conns));
	assert_int_equal(conns, -1);
	assert_true(READY(200, "{\"readyConnections\":\"many\"}", &conns));
	assert_int_equal(conns, -1);
	assert_true(READY(200, "{\"readyConnections\":-3}", &conns));
	assert_int_equal(conns, -1);
	assert_false(READY(503, "down", &conns));
	assert_int_equal(conns, -1);
	assert_false(READY(0, NULL, &conns));
	assert_false(READY(204, NULL, NULL));
	assert_true(READY(200, "{\"readyConnections\":1}", NULL));
#undef READY
}

static void test_budget(void **state)
{
	(void)state;
	assert_int_equal(nw_cf_budget_interval_ms(3000, 1), 3000);
	assert_int_equal(nw_cf_budget_interval_ms(3000, 0), 3000);
	assert_int_equal(nw_cf_budget_interval_ms(3000, 10), 3000);	/* needs 2778 */
	assert_int_equal(nw_cf_budget_interval_ms(3000, 11), 3056);	/* 3055.6 up */
	assert_int_equal(nw_cf_budget_interval_ms(3000, 100), 27778);
	assert_int_equal(nw_cf_budget_interval_ms(1000, 18), 5000);	/* exact */
	assert_int_equal(nw_cf_budget_interval_ms(60000, 100), 60000);
	assert_int_equal(nw_cf_budget_interval_ms(1000, 1024), 284445);
	/* what it promises: n requests per interval stay within the budget */
	for (unsigned n = 1; n <= 1024; n++) {
		uint32_t iv = nw_cf_budget_interval_ms(1000, n);

		assert_true((uint64_t)n * NW_CF_BUDGET_WINDOW_S * 1000 <=
			    (uint64_t)iv * NW_CF_BUDGET_REQUESTS);
		assert_true(iv >= 1000);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_ok),
		cmocka_unit_test(test_api_error),
		cmocka_unit_test(test_bad_reply),
		cmocka_unit_test(test_http_errors),
		cmocka_unit_test(test_transport),
		cmocka_unit_test(test_retry_after),
		cmocka_unit_test(test_huge_and_deep),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_ready),
		cmocka_unit_test(test_budget),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
