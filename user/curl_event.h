/* SPDX-License-Identifier: GPL-2.0-only */
/* libcurl's multi interface driven by an sd-event loop (socket and timer
 * callbacks): many transfers at once, none blocking the loop. */
#ifndef NETWARD_CURL_EVENT_H
#define NETWARD_CURL_EVENT_H

#include <stdint.h>
#include <curl/curl.h>
#include <systemd/sd-event.h>

struct nw_curl;

/* Calls curl_global_init once per process. */
int nw_curl_new(struct nw_curl **out, sd_event *e);
/* Removes (without calling done) and cleans up every transfer still running. */
void nw_curl_free(struct nw_curl *c);

/* Called from the loop when easy finished; rc is its CURLcode. The callee
 * owns easy from then on (curl_easy_cleanup it, or reuse it). */
typedef void (*nw_curl_done_fn)(void *ud, CURL *easy, CURLcode rc);

/* Starts easy (set up by the caller). -errno on failure: done is not called. */
int nw_curl_add(struct nw_curl *c, CURL *easy, nw_curl_done_fn done, void *ud);
/* Stops a running transfer: done is not called; the caller still owns easy. */
void nw_curl_remove(struct nw_curl *c, CURL *easy);
/* What every netward request sets: the URL, a timeout, no signals, no
 * redirects (a token must never follow one), http/https only, netward's
 * user agent, and a cancelled transfer not waiting for its resolver. */
CURLcode nw_curl_setup(CURL *easy, const char *url, uint32_t timeout_ms, const char *user_agent);

/* transfers running */
unsigned nw_curl_running(const struct nw_curl *c);

#endif
