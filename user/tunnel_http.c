// SPDX-License-Identifier: GPL-2.0-only
/*
 * The requests of the tunnel poller, on its libcurl multi (curl_event.h):
 * cloudflared's /ready first when the tunnel has one (a ready tunnel costs
 * no API request), else GET {api}/accounts/{account}/cfd_tunnel/{tunnel}.
 * The Authorization header is built in a buffer wiped as soon as curl has
 * copied it, and curl's copy is wiped when the transfer ends; redirects
 * are not followed (the token never goes anywhere else) and nothing of a
 * request is ever logged.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "curl_event.h"
#include "secret.h"
#include "tunnels_impl.h"
#include "util.h"

#define USER_AGENT "netward/" NW_VERSION
#define AUTH_PREFIX "Authorization: Bearer "

struct tunnel_xfer {
	struct tunnel *tun;
	CURL *easy;
	struct curl_slist *hdrs;
	bool ready;			/* the /ready GET, else the API */
	char *body;
	size_t len, cap, max;
	bool capped;			/* the body went over max: stopped on purpose */
	char retry_after[64];
	char errbuf[CURL_ERROR_SIZE];
	uint64_t started_ns;
};

static void xfer_free(struct tunnel_xfer *x)
{
	if (!x)
		return;
	if (x->easy)
		curl_easy_cleanup(x->easy);
	/* curl_slist_append copied the header: wipe that copy too */
	for (struct curl_slist *s = x->hdrs; s; s = s->next)
		explicit_bzero(s->data, strlen(s->data));
	curl_slist_free_all(x->hdrs);
	free(x->body);
	free(x);
}

void nw_tun_xfer_cancel(struct tunnel *tun)
{
	if (!tun->xfer)
		return;
	nw_curl_remove(tun->t->curl, tun->xfer->easy);
	xfer_free(tun->xfer);
	tun->xfer = NULL;
}

static size_t on_body(char *data, size_t size, size_t n, void *ud)
{
	struct tunnel_xfer *x = ud;
	size_t len = size * n;

	if (len > x->max - x->len) {
		x->capped = true;
		return 0;	/* CURLE_WRITE_ERROR, which we expect */
	}
	if (x->len + len + 1 > x->cap) {
		size_t cap = x->cap ? x->cap : 4096;
		char *b;

		while (cap < x->len + len + 1)
			cap *= 2;
		if (!(b = realloc(x->body, cap)))
			return 0;
		x->body = b;
		x->cap = cap;
	}
	memcpy(x->body + x->len, data, len);
	x->len += len;
	x->body[x->len] = 0;
	return len;
}

/* Retry-After of the last response (a 100 Continue comes first, maybe) */
static size_t on_header(char *data, size_t size, size_t n, void *ud)
{
	struct tunnel_xfer *x = ud;
	size_t len = size * n, skip = strlen("Retry-After:");

	if (len >= 5 && !strncmp(data, "HTTP/", 5)) {
		x->retry_after[0] = 0;
	} else if (len > skip && !strncasecmp(data, "Retry-After:", skip)) {
		size_t v = len - skip;

		while (v && (data[skip + v - 1] == '\r' || data[skip + v - 1] == '\n'))
			v--;
		if (v >= sizeof(x->retry_after))
			v = sizeof(x->retry_after) - 1;
		memcpy(x->retry_after, data + skip, v);
		x->retry_after[v] = 0;
	}
	return len;
}

static CURLcode set_common(struct tunnel_xfer *x, const char *url, uint32_t timeout_ms)
{
	CURL *easy = x->easy;
	CURLcode rc;

	if ((rc = nw_curl_setup(easy, url, timeout_ms, USER_AGENT)) ||
	    (rc = curl_easy_setopt(easy, CURLOPT_VERBOSE, 0L)) ||
	    (rc = curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_body)) ||
	    (rc = curl_easy_setopt(easy, CURLOPT_WRITEDATA, x)) ||
	    (rc = curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, on_header)) ||
	    (rc = curl_easy_setopt(easy, CURLOPT_HEADERDATA, x)) ||
	    (rc = curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, x->errbuf)))
		return rc;
	return CURLE_OK;
}

/* "Authorization: Bearer <token>" into the transfer's header list */
static int add_auth(struct tunnel_xfer *x, const struct nw_secret *token)
{
	size_t tlen = 0, plen = strlen(AUTH_PREFIX), size;
	const char *v = nw_secret_value(token, &tlen);
	struct curl_slist *l;
	char *buf;

	if (!v || !tlen)
		return -EINVAL;
	size = plen + tlen + 1;
	if (!(buf = malloc(size)))
		return -ENOMEM;
	memcpy(buf, AUTH_PREFIX, plen);
	memcpy(buf + plen, v, tlen);
	buf[plen + tlen] = 0;
	l = curl_slist_append(x->hdrs, buf);
	explicit_bzero(buf, size);
	free(buf);
	if (!l)
		return -ENOMEM;
	x->hdrs = l;
	if (!(l = curl_slist_append(x->hdrs, "Accept: application/json")))
		return -ENOMEM;
	x->hdrs = l;
	return 0;
}

static void on_done(void *ud, CURL *easy, CURLcode rc);

/* a transfer set up and started: 0, or -errno with why in err */
static int xfer_start(struct tunnel *tun, bool ready, const char *url, char *err, size_t errlen)
{
	struct tunnel_xfer *x;
	CURLcode rc;
	int r;

	if (!(x = calloc(1, sizeof(*x))))
		return -ENOMEM;
	x->tun = tun;
	x->ready = ready;
	x->max = ready ? NW_TUN_READY_CAP : NW_TUN_BODY_CAP;
	x->started_ns = nw_tun_now();
	if (!(x->easy = curl_easy_init())) {
		r = -ENOMEM;
		goto cleanup;
	}
	if ((rc = set_common(x, url, tun->t->timeout_ms)) != CURLE_OK) {
		snprintf(err, errlen, "curl: %s", curl_easy_strerror(rc));
		r = -EINVAL;
		goto cleanup;
	}
	if (!ready && ((r = add_auth(x, tun->token)) < 0 ||
		       curl_easy_setopt(x->easy, CURLOPT_HTTPHEADER, x->hdrs) != CURLE_OK)) {
		r = r < 0 ? r : -EINVAL;
		goto cleanup;
	}
	if ((r = nw_curl_add(tun->t->curl, x->easy, on_done, x)) < 0)
		goto cleanup;
	tun->xfer = x;
	return 0;
cleanup:
	if (!err[0])
		snprintf(err, errlen, "cannot start a request: %s", strerror(-r));
	xfer_free(x);
	return r;
}

static void poll_api(struct tunnel *tun, uint64_t now)
{
	const char *base = tun->t->api_base ? tun->t->api_base : NW_CF_API_BASE;
	char url[1024], err[256] = "";
	struct nw_cf_reply r;

	if (now < tun->backoff_until_ns)
		return;
	if (!nw_tun_budget_take(tun->g, now)) {
		tun->deferred++;
		return;
	}
	tun->requests++;
	if (nw_path(url, sizeof(url), "%s/accounts/%s/cfd_tunnel/%s", base, tun->cfg.account_id,
		    tun->cfg.tunnel_id) < 0)
		snprintf(err, sizeof(err), "the API URL is too long");
	else if (xfer_start(tun, false, url, err, sizeof(err)) == 0)
		return;
	nw_cf_parse_tunnel(0, NULL, 0, NULL, 0, err, &r);
	nw_tun_failed(tun, &r, now);
}

void nw_tun_poll(struct tunnel *tun, uint64_t now)
{
	char err[256] = "";

	if (tun->xfer)
		return;		/* the last one is still running */
	if (tun->cfg.ready_url) {
		tun->ready_checks++;
		if (xfer_start(tun, true, tun->cfg.ready_url, err, sizeof(err)) == 0)
			return;
	}
	poll_api(tun, now);
}

static void ready_done(struct tunnel *tun, struct tunnel_xfer *x, CURLcode rc, long code,
		       uint64_t read_ns)
{
	char detail[96];
	bool ok = false;
	int conns = -1;

	if (rc == CURLE_OK || (rc == CURLE_WRITE_ERROR && x->capped))
		ok = nw_cf_parse_ready(code, x->capped ? NULL : x->body, x->capped ? 0 : x->len,
				       &conns);
	tun->ready_conns = conns;
	xfer_free(x);
	if (!ok) {
		/* not ready, or no answer: the API decides */
		poll_api(tun, read_ns);
		return;
	}
	tun->ready_ok++;
	if (conns >= 0)
		snprintf(detail, sizeof(detail), "cloudflared is ready (%d connections)", conns);
	else
		snprintf(detail, sizeof(detail), "cloudflared is ready");
	nw_tun_answer(tun, NW_TUNNEL_HEALTHY, "ready", detail, read_ns);
}

static void api_done(struct tunnel *tun, struct tunnel_xfer *x, CURLcode rc, long code,
		     uint64_t read_ns)
{
	const char *terr = NULL;
	uint64_t started = x->started_ns;
	struct nw_cf_reply r;

	if (rc != CURLE_OK && !(rc == CURLE_WRITE_ERROR && x->capped))
		terr = x->errbuf[0] ? x->errbuf : curl_easy_strerror(rc);
	nw_cf_parse_tunnel(code, x->capped ? NULL : x->body, x->capped ? 0 : x->len,
			   x->retry_after[0] ? x->retry_after : NULL,
			   (int64_t)(nw_now_ns(CLOCK_REALTIME) / 1000000000ull), terr, &r);
	if (x->capped && r.outcome == NW_CF_BAD_REPLY)
		snprintf(r.error, sizeof(r.error), "a reply over %u KiB", NW_TUN_BODY_CAP / 1024);
	xfer_free(x);
	if (r.outcome != NW_CF_OK) {
		nw_tun_failed(tun, &r, started);
		return;
	}
	nw_tun_api_ok(tun, &r, read_ns);
}

static void on_done(void *ud, CURL *easy, CURLcode rc)
{
	struct tunnel_xfer *x = ud;
	struct tunnel *tun = x->tun;
	uint64_t read_ns = nw_tun_now();
	long code = 0;

	tun->xfer = NULL;
	curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &code);
	if (x->ready)
		ready_done(tun, x, rc, code, read_ns);
	else
		api_done(tun, x, rc, code, read_ns);
}
