// SPDX-License-Identifier: GPL-2.0-only
/*
 * Cloudflare API replies (see cf_api.h): what a GET of a tunnel came to,
 * cloudflared's /ready, and the request budget of a token. Pure: no I/O,
 * no logging, no global state (cJSON's error pointer is not used).
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <cjson/cJSON.h>

#include "cf_api.h"
#include "util.h"

#define RETRY_AFTER_MAX_S 3600
#define STATUS_SHOWN 32		/* of an unknown result.status, in the error */

static const char *const status_names[] = {
	[NW_TUNNEL_UNKNOWN] = "unknown",
	[NW_TUNNEL_HEALTHY] = "healthy",
	[NW_TUNNEL_DEGRADED] = "degraded",
	[NW_TUNNEL_DOWN] = "down",
	[NW_TUNNEL_INACTIVE] = "inactive",
};

static const char *const outcome_names[] = {
	[NW_CF_OK] = "ok",
	[NW_CF_TRANSPORT] = "transport",
	[NW_CF_AUTH] = "auth",
	[NW_CF_RATE] = "rate",
	[NW_CF_SERVER] = "server",
	[NW_CF_CLIENT] = "client",
	[NW_CF_API_ERROR] = "api_error",
	[NW_CF_BAD_REPLY] = "bad_reply",
};

const char *nw_tunnel_status_name(unsigned s)
{
	return s < NW_ARRAY_SIZE(status_names) ? status_names[s] : "unknown";
}

const char *nw_cf_outcome_name(unsigned o)
{
	return o < NW_ARRAY_SIZE(outcome_names) ? outcome_names[o] : "unknown";
}

/* --- Retry-After ------------------------------------------------------------- */

static const char *const months[] = { "jan", "feb", "mar", "apr", "may", "jun",
				      "jul", "aug", "sep", "oct", "nov", "dec" };

/* days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's) */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static bool all_digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isdigit((unsigned char)s[i]))
			return false;
	return n > 0;
}

/* One token of an HTTP date. */
struct date_parts {
	int day, month, year, hour, min, sec;	/* -1 unset */
};

static bool date_token(struct date_parts *p, const char *s, size_t n)
{
	char low[16];

	if (n >= sizeof(low))
		return false;
	for (size_t i = 0; i < n; i++)
		low[i] = (char)tolower((unsigned char)s[i]);
	low[n] = 0;
	if (n == 8 && s[2] == ':' && s[5] == ':' && all_digits(s, 2) && all_digits(s + 3, 2) &&
	    all_digits(s + 6, 2)) {
		p->hour = (s[0] - '0') * 10 + (s[1] - '0');
		p->min = (s[3] - '0') * 10 + (s[4] - '0');
		p->sec = (s[6] - '0') * 10 + (s[7] - '0');
		return true;
	}
	if (all_digits(s, n)) {
		int v = 0;

		if (n > 4)
			return false;
		for (size_t i = 0; i < n; i++)
			v = v * 10 + (s[i] - '0');
		if (n <= 2 && p->day < 0) {
			p->day = v;
		} else if (p->year < 0) {
			/* RFC 850's two-digit years: RFC 9110 says within 50 years */
			p->year = n == 2 ? (v < 70 ? 2000 + v : 1900 + v) : v;
		} else {
			return false;
		}
		return true;
	}
	for (size_t i = 0; i < NW_ARRAY_SIZE(months); i++)
		if (!strcmp(low, months[i])) {
			p->month = (int)i + 1;
			return true;
		}
	/* the weekday (either form) and the zone are not needed */
	return !strcmp(low, "gmt") || !strcmp(low, "utc") || n >= 3;
}

/* IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT"), RFC 850 ("Sunday,
 * 06-Nov-94 08:49:37 GMT") and asctime ("Sun Nov  6 08:49:37 1994"):
 * seconds since the epoch, or -1. Locale-free. */
static int64_t parse_http_date(const char *s)
{
	struct date_parts p = { -1, -1, -1, -1, -1, -1 };

	while (*s) {
		size_t n;

		s += strspn(s, " \t,-");
		if (!*s)
			break;
		n = strcspn(s, " \t,-");
		if (!date_token(&p, s, n))
			return -1;
		s += n;
	}
	if (p.day < 1 || p.day > 31 || p.month < 1 || p.year < 1970 || p.year > 9999 ||
	    p.hour < 0 || p.hour > 23 || p.min < 0 || p.min > 59 || p.sec < 0 || p.sec > 60)
		return -1;
	return days_from_civil(p.year, (unsigned)p.month, (unsigned)p.day) * 86400 +
	       p.hour * 3600 + p.min * 60 + p.sec;
}

/* Retry-After as seconds from now: 0 absent or unreadable, else 1..3600
 * (a date in the past, or "0", still waits a second: 0 means "absent"). */
static uint32_t parse_retry_after(const char *v, int64_t now_s)
{
	char buf[64];
	size_t n;
	int64_t secs;

	if (!v)
		return 0;
	v += strspn(v, " \t");
	n = strlen(v);
	while (n && isspace((unsigned char)v[n - 1]))
		n--;
	if (!n || n >= sizeof(buf))
		return 0;
	memcpy(buf, v, n);
	buf[n] = 0;
	if (all_digits(buf, n)) {
		uint64_t d;

		/* a huge number is still a number: the cap applies */
		if (nw_parse_u64(buf, 0, UINT64_MAX, &d) < 0 || d > RETRY_AFTER_MAX_S)
			return RETRY_AFTER_MAX_S;
		return d ? (uint32_t)d : 1;
	}
	if ((secs = parse_http_date(buf)) < 0)
		return 0;
	secs -= now_s;
	if (secs > RETRY_AFTER_MAX_S)
		return RETRY_AFTER_MAX_S;
	return secs < 1 ? 1 : (uint32_t)secs;
}

/* --- replies ------------------------------------------------------------------ */

static void set_error(struct nw_cf_reply *out, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void set_error(struct nw_cf_reply *out, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(out->error, sizeof(out->error), fmt, ap);
	va_end(ap);
	/* what the server said goes into logs: no control characters */
	for (char *p = out->error; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
}

/* "code 10000: Authentication error (+1 more)" of errors[], "" if none */
static void api_errors(const cJSON *root, char *buf, size_t size)
{
	const cJSON *errs = cJSON_GetObjectItemCaseSensitive(root, "errors");
	const cJSON *e0, *code, *msg;
	int n;

	buf[0] = 0;
	if (!cJSON_IsArray(errs) || !(n = cJSON_GetArraySize(errs)))
		return;
	e0 = cJSON_GetArrayItem(errs, 0);
	code = cJSON_GetObjectItemCaseSensitive(e0, "code");
	msg = cJSON_GetObjectItemCaseSensitive(e0, "message");
	if (cJSON_IsNumber(code) && cJSON_IsString(msg))
		snprintf(buf, size, "code %.0f: %.160s", code->valuedouble, msg->valuestring);
	else if (cJSON_IsNumber(code))
		snprintf(buf, size, "code %.0f", code->valuedouble);
	else if (cJSON_IsString(msg))
		snprintf(buf, size, "%.160s", msg->valuestring);
	else
		snprintf(buf, size, "an error without code or message");
	if (n > 1) {
		size_t l = strlen(buf);

		snprintf(buf + l, size - l, " (+%d more)", n - 1);
	}
}

static enum nw_tunnel_status status_parse(const char *s)
{
	for (size_t i = NW_TUNNEL_HEALTHY; i < NW_ARRAY_SIZE(status_names); i++)
		if (!strcmp(s, status_names[i]))
			return (enum nw_tunnel_status)i;
	return NW_TUNNEL_UNKNOWN;
}

/* 2xx: success true and a known result.status, or why not */
static void parse_ok(const cJSON *root, size_t len, size_t bad_at, struct nw_cf_reply *out)
{
	const cJSON *success, *result, *status;
	char errs[200];

	out->outcome = NW_CF_BAD_REPLY;
	if (!root) {
		if (!len)
			set_error(out, "not JSON (empty body)");
		else
			set_error(out, "not JSON at byte %zu", bad_at);
		return;
	}
	if (!cJSON_IsObject(root)) {
		set_error(out, "not a JSON object");
		return;
	}
	success = cJSON_GetObjectItemCaseSensitive(root, "success");
	if (cJSON_IsFalse(success)) {
		api_errors(root, errs, sizeof(errs));
		out->outcome = NW_CF_API_ERROR;
		set_error(out, "%s", errs[0] ? errs : "success false without errors");
		return;
	}
	if (!cJSON_IsTrue(success)) {
		set_error(out, "no \"success\": true");
		return;
	}
	result = cJSON_GetObjectItemCaseSensitive(root, "result");
	status = cJSON_GetObjectItemCaseSensitive(result, "status");
	if (!cJSON_IsString(status)) {
		set_error(out, "no result.status");
		return;
	}
	if ((out->status = status_parse(status->valuestring)) == NW_TUNNEL_UNKNOWN) {
		bool more = strlen(status->valuestring) > STATUS_SHOWN;

		set_error(out, "result.status \"%.*s\"%s is unknown", STATUS_SHOWN,
			  status->valuestring, more ? "..." : "");
		return;
	}
	out->outcome = NW_CF_OK;
}

void nw_cf_parse_tunnel(long http_status, const char *body, size_t len, const char *retry_after,
			int64_t now_s, const char *transport_error, struct nw_cf_reply *out)
{
	const char *end = NULL;
	cJSON *root = NULL;
	char errs[200] = "";
	const char *sep;

	memset(out, 0, sizeof(*out));
	out->http_status = http_status;
	if (transport_error || http_status <= 0) {
		out->outcome = NW_CF_TRANSPORT;
		out->http_status = 0;
		set_error(out, "%s", transport_error && *transport_error ? transport_error :
				     "no HTTP answer");
		return;
	}
	if (!body)
		len = 0;
	if (len)
		root = cJSON_ParseWithLengthOpts(body, len, &end, false);
	if (http_status >= 200 && http_status < 300) {
		parse_ok(root, len, root || !end ? 0 : (size_t)(end - body), out);
		goto cleanup;
	}
	if (cJSON_IsObject(root))
		api_errors(root, errs, sizeof(errs));
	sep = errs[0] ? ": " : "";
	if (http_status == 401 || http_status == 403) {
		out->outcome = NW_CF_AUTH;
		set_error(out, "HTTP %ld%s%s", http_status, sep, errs);
	} else if (http_status == 429) {
		out->outcome = NW_CF_RATE;
		out->retry_after_s = parse_retry_after(retry_after, now_s);
		if (out->retry_after_s)
			set_error(out, "HTTP 429: rate limited, retry after %u s%s%s",
				  out->retry_after_s, sep, errs);
		else
			set_error(out, "HTTP 429: rate limited%s%s", sep, errs);
	} else if (http_status >= 500 && http_status < 600) {
		out->outcome = NW_CF_SERVER;
		set_error(out, "HTTP %ld%s%s", http_status, sep, errs);
	} else if (http_status >= 400 && http_status < 500) {
		out->outcome = NW_CF_CLIENT;
		set_error(out, "HTTP %ld%s%s", http_status, sep, errs);
	} else {
		/* 1xx, 3xx (redirects are not followed: the token stays here) */
		out->outcome = NW_CF_BAD_REPLY;
		set_error(out, "unexpected HTTP %ld", http_status);
	}
cleanup:
	cJSON_Delete(root);
}

bool nw_cf_parse_ready(long http_status, const char *body, size_t len, int *conns)
{
	const cJSON *rc;
	cJSON *root = NULL;
	int n = -1;

	if (body && len)
		root = cJSON_ParseWithLengthOpts(body, len, NULL, false);
	rc = cJSON_GetObjectItemCaseSensitive(root, "readyConnections");
	if (cJSON_IsNumber(rc) && rc->valuedouble >= 0 && rc->valuedouble <= 1e6)
		n = (int)rc->valuedouble;
	cJSON_Delete(root);
	if (conns)
		*conns = n;
	if (http_status != 200)
		return false;
	return n != 0;
}

uint32_t nw_cf_budget_interval_ms(uint32_t interval_ms, unsigned n_tunnels)
{
	uint64_t window_ms = (uint64_t)NW_CF_BUDGET_WINDOW_S * 1000;
	uint64_t need = ((uint64_t)n_tunnels * window_ms + NW_CF_BUDGET_REQUESTS - 1) /
			NW_CF_BUDGET_REQUESTS;

	if (need > UINT32_MAX)
		need = UINT32_MAX;
	return need > interval_ms ? (uint32_t)need : interval_ms;
}
