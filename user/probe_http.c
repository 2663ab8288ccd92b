// SPDX-License-Identifier: GPL-2.0-only
/*
 * http and https probes: one GET per run on the probes' shared libcurl
 * multi (curl_event.h), on a fresh connection, body read and dropped (up to
 * 64 KiB, the status is known by then), redirects not followed. A pass is
 * the expected status, or any 2xx/3xx. https checks the certificate
 * against the system CA store; a TLS failure is a failure.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <sys/socket.h>
#include <curl/curl.h>

#include "curl_event.h"
#include "probe_impl.h"

#define BODY_CAP (64 * 1024)
#define USER_AGENT "netward-probe/1"

struct http_run {
	struct nw_probe_run *run;
	struct nw_curl *curl;
	CURL *easy;
	size_t received;
	bool capped;		/* the body went over BODY_CAP: stopped on purpose */
	char errbuf[CURL_ERROR_SIZE];
};

static void http_run_free(struct http_run *hr)
{
	if (!hr)
		return;
	if (hr->easy)
		curl_easy_cleanup(hr->easy);
	free(hr);
}

static size_t on_body(char *data, size_t size, size_t n, void *ud)
{
	struct http_run *hr = ud;
	(void)data;

	hr->received += size * n;
	if (hr->received > BODY_CAP) {
		hr->capped = true;
		return 0;	/* CURLE_WRITE_ERROR, which we expect */
	}
	return size * n;
}

/* both a device and a source address: curl 7.x takes one of them in
 * CURLOPT_INTERFACE, the device goes on here */
static int on_sockopt(void *ud, curl_socket_t fd, curlsocktype purpose)
{
	const struct nw_probe_cfg *cfg = ud;

	if (purpose != CURLSOCKTYPE_IPCXN)
		return CURL_SOCKOPT_OK;
	if (setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, cfg->interface,
		       (socklen_t)strnlen(cfg->interface, sizeof(cfg->interface))) < 0)
		return CURL_SOCKOPT_ERROR;
	return CURL_SOCKOPT_OK;
}

static void on_done(void *ud, CURL *easy, CURLcode rc)
{
	struct http_run *hr = ud;
	struct nw_probe_run *run = hr->run;
	const struct nw_probe_cfg *cfg = run->cfg;
	struct nw_probe_result r = { 0 };
	long status = 0, oserr = 0;

	curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
	r.http_status = status;
	if (rc == CURLE_OK || (rc == CURLE_WRITE_ERROR && hr->capped)) {
		bool ok = cfg->expect_status ? status == cfg->expect_status :
					       status >= 200 && status < 400;

		if (ok)
			nw_probe_result_set(&r, true, 0, "HTTP %ld", status);
		else if (cfg->expect_status)
			nw_probe_result_set(&r, false, 0, "HTTP %ld (expected %u)", status,
					    cfg->expect_status);
		else
			nw_probe_result_set(&r, false, 0, "HTTP %ld (expected 2xx/3xx)", status);
	} else {
		const char *msg = hr->errbuf[0] ? hr->errbuf : curl_easy_strerror(rc);
		int err;

		curl_easy_getinfo(easy, CURLINFO_OS_ERRNO, &oserr);
		r.timeout = rc == CURLE_OPERATION_TIMEDOUT;
		err = oserr ? (int)oserr : r.timeout ? ETIMEDOUT : EIO;
		/* "Couldn't connect to server" says less than the errno */
		if (oserr && !strstr(msg, strerror(err)))
			nw_probe_result_set(&r, false, err, "%s (%s)", msg, strerror(err));
		else
			nw_probe_result_set(&r, false, err, "%s", msg);
	}
	http_run_free(hr);
	run->priv = NULL;
	nw_probe_run_finish(run, &r);
}

/* where the connection comes from */
static CURLcode set_local(CURL *easy, const struct nw_probe_cfg *cfg)
{
	char buf[INET6_ADDRSTRLEN + 8], a[INET6_ADDRSTRLEN];
	int af = nw_probe_af(cfg->source_family);
	CURLcode rc;

	if (!cfg->has_source) {
		if (!cfg->interface[0])
			return CURLE_OK;
		snprintf(buf, sizeof(buf), "if!%s", cfg->interface);
		return curl_easy_setopt(easy, CURLOPT_INTERFACE, buf);
	}
	if (af == AF_UNSPEC || !inet_ntop(af, cfg->source, a, sizeof(a)))
		return CURLE_BAD_FUNCTION_ARGUMENT;
	snprintf(buf, sizeof(buf), "host!%s", a);
	if ((rc = curl_easy_setopt(easy, CURLOPT_INTERFACE, buf)) != CURLE_OK ||
	    (rc = curl_easy_setopt(easy, CURLOPT_IPRESOLVE, af == AF_INET ? CURL_IPRESOLVE_V4 :
							       CURL_IPRESOLVE_V6)) != CURLE_OK)
		return rc;
	if (!cfg->interface[0])
		return CURLE_OK;
	if ((rc = curl_easy_setopt(easy, CURLOPT_SOCKOPTFUNCTION, on_sockopt)) != CURLE_OK)
		return rc;
	return curl_easy_setopt(easy, CURLOPT_SOCKOPTDATA, (void *)cfg);
}

static CURLcode set_options(struct http_run *hr, const struct nw_probe_cfg *cfg)
{
	CURL *easy = hr->easy;
	CURLcode rc;

	if ((rc = nw_curl_setup(easy, cfg->target, cfg->timeout_ms, USER_AGENT)) ||
	    (rc = curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_body)) ||
	    (rc = curl_easy_setopt(easy, CURLOPT_WRITEDATA, hr)) ||
	    (rc = curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, hr->errbuf)) ||
	    /* every run tests a new connection, and leaves none behind */
	    (rc = curl_easy_setopt(easy, CURLOPT_FRESH_CONNECT, 1L)) ||
	    (rc = curl_easy_setopt(easy, CURLOPT_FORBID_REUSE, 1L)))
		return rc;
	return set_local(easy, cfg);
}

static int http_start(struct nw_probe_run *run, struct nw_probe_result *r)
{
	struct http_run *hr;
	CURLcode rc;
	int err;

	if (!(hr = calloc(1, sizeof(*hr))))
		return -ENOMEM;
	hr->run = run;
	if ((err = nw_probes_curl(run->probes, &hr->curl)) < 0)
		goto fail;
	if (!(hr->easy = curl_easy_init())) {
		err = -ENOMEM;
		goto fail;
	}
	if ((rc = set_options(hr, run->cfg)) != CURLE_OK) {
		http_run_free(hr);
		nw_probe_result_set(r, false, EINVAL, "curl: %s", curl_easy_strerror(rc));
		return 1;
	}
	if ((err = nw_curl_add(hr->curl, hr->easy, on_done, hr)) < 0)
		goto fail;
	run->priv = hr;
	return 0;
fail:
	http_run_free(hr);
	return err;
}

static void http_cancel(struct nw_probe_run *run)
{
	struct http_run *hr = run->priv;

	if (!hr)
		return;
	nw_curl_remove(hr->curl, hr->easy);
	http_run_free(hr);
	run->priv = NULL;
}

const struct nw_probe_type_ops nw_probe_http_ops = {
	.start = http_start,
	.cancel = http_cancel,
};
