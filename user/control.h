/* SPDX-License-Identifier: GPL-2.0-only */
/* The control socket: newline-delimited JSON over a unix stream socket. */
#ifndef NETWARD_CONTROL_H
#define NETWARD_CONTROL_H

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>
#include <cjson/cJSON.h>

struct nw_control;
struct nw_control_client;

/* Fills reply (already {"ok":true}); may set "ok" false with "error".
 * Return 0 to send reply, 1 to send it and make the client a follower
 * (nw_control_client_follow), or 2 to send nothing now: the answer comes
 * later with nw_control_client_reply (reply is discarded). A client waiting
 * for a deferred reply stays connected; its further requests are read but
 * handled only after that reply. */
typedef int (*nw_control_handler)(struct nw_control_client *c, const cJSON *req,
				  cJSON *reply, void *userdata);

int nw_control_open(struct nw_control **out, sd_event *e, const char *path,
		    nw_control_handler handler, void *userdata);
void nw_control_close(struct nw_control *ctl);

/* Followers get every event whose type matches their filter (-1: all). */
void nw_control_client_follow(struct nw_control_client *c, int type_filter);
void nw_control_broadcast(struct nw_control *ctl, unsigned type, const char *json);
/* Queues one line (a newline is added) to a client. */
int nw_control_client_send(struct nw_control_client *c, const char *line);
unsigned nw_control_followers(const struct nw_control *ctl);

/* Deferred replies (the handler returned 2). Sends reply (the caller keeps
 * it) to a client that waits for one, and forgets its close callback.
 * Never frees the client on the spot: it may be used until the callback
 * returns. -EINVAL when the client waits for nothing. */
int nw_control_client_reply(struct nw_control_client *c, const cJSON *reply);
/* cb(c, ud) runs once if c goes away (disconnect, error, nw_control_close)
 * while it still waits for its deferred reply: cancel what would answer it.
 * c is valid during the call and freed right after; cb must not reply. */
typedef void (*nw_control_close_cb)(struct nw_control_client *c, void *ud);
void nw_control_client_set_close_cb(struct nw_control_client *c, nw_control_close_cb cb,
				    void *ud);
/* Clients waiting for a deferred reply. */
unsigned nw_control_pending(const struct nw_control *ctl);

/* reply says "ok": false and "error": msg */
void nw_control_set_error(cJSON *reply, const char *msg);
/* req's key ("quiet_ms", "timeout_ms"): absent or null (*given false), or
 * an integral number of ms within [min, max] (else -EINVAL and msg) */
int nw_control_ms_field(const cJSON *req, const char *key, uint64_t min, uint64_t max,
			bool *given, uint64_t *out, char *msg, size_t msglen);

#endif
