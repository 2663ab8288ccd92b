/* SPDX-License-Identifier: GPL-2.0-only */
/* The control socket: newline-delimited JSON over a unix stream socket. */
#ifndef NETWARD_CONTROL_H
#define NETWARD_CONTROL_H

#include <systemd/sd-event.h>
#include <cjson/cJSON.h>

struct nw_control;
struct nw_control_client;

/* Fills reply (already {"ok":true}); may set "ok" false with "error".
 * Return 1 to make the client a follower after the reply is sent. */
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

#endif
