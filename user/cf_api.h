/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The Cloudflare API replies netward reads, as pure functions (no I/O, so
 * they are unit-tested and fuzzed): GET {api}/accounts/{account}/cfd_tunnel/{id}
 * answers {"success": bool, "errors": [{"code", "message"}], "messages": [],
 * "result": {"status": "healthy"|"degraded"|"down"|"inactive", ...}};
 * cloudflared's /ready answers 200 or 503 with {"status", "readyConnections"}.
 */
#ifndef NETWARD_CF_API_H
#define NETWARD_CF_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum nw_tunnel_status {
	NW_TUNNEL_UNKNOWN,	/* no answer yet, or the answer said nothing usable */
	NW_TUNNEL_HEALTHY,
	NW_TUNNEL_DEGRADED,
	NW_TUNNEL_DOWN,
	NW_TUNNEL_INACTIVE,	/* never run */
};

const char *nw_tunnel_status_name(unsigned s);	/* "healthy", ... */

/* What a request came to. */
enum nw_cf_outcome {
	NW_CF_OK,		/* 2xx, success true, result.status known */
	NW_CF_TRANSPORT,	/* no HTTP answer: timeout, TLS, refused, DNS */
	NW_CF_AUTH,		/* 401/403: bad or insufficient token (alarm, no failover) */
	NW_CF_RATE,		/* 429: honour retry_after_s */
	NW_CF_SERVER,		/* 5xx: back off */
	NW_CF_CLIENT,		/* other 4xx (404: wrong account or tunnel id) */
	NW_CF_API_ERROR,	/* 2xx with success false and errors[] */
	NW_CF_BAD_REPLY,	/* not JSON, or no result.status it knows */
};

const char *nw_cf_outcome_name(unsigned o);	/* "ok", "transport", "auth", ... */

struct nw_cf_reply {
	enum nw_cf_outcome outcome;
	enum nw_tunnel_status status;	/* NW_CF_OK only */
	long http_status;		/* 0: no HTTP answer */
	uint32_t retry_after_s;		/* NW_CF_RATE: Retry-After, 0 absent (then 300 s) */
	char error[256];		/* what went wrong, for events: "HTTP 403: code 10000:
					 * Authentication error", "not JSON at byte 0", ... */
};

/* http_status 0 with transport_error set: the request failed before any
 * answer (curl's message). retry_after: the Retry-After header's value
 * (seconds or an HTTP date, now_s the current time), NULL when absent.
 * body may be NULL (len 0). Never fails; out is always filled. */
void nw_cf_parse_tunnel(long http_status, const char *body, size_t len, const char *retry_after,
			int64_t now_s, const char *transport_error, struct nw_cf_reply *out);

/* cloudflared's readiness: true when 200 and readyConnections > 0 (a 200
 * without a readable body counts as ready). *conns gets readyConnections
 * (-1 unknown). */
bool nw_cf_parse_ready(long http_status, const char *body, size_t len, int *conns);

/* Requests one token may make in its 5-minute window (Cloudflare's limit
 * is 1200; netward keeps 10 % headroom: 1080). */
#define NW_CF_BUDGET_REQUESTS 1080
#define NW_CF_BUDGET_WINDOW_S 300

/* The interval (ms) at which n tunnels sharing one token stay within the
 * budget: interval_ms when it already does, else stretched. */
uint32_t nw_cf_budget_interval_ms(uint32_t interval_ms, unsigned n_tunnels);

#endif
