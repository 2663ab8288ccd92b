/* SPDX-License-Identifier: GPL-2.0-only */
/* Events: names, decoding of kernel records into JSON, and the bounded
 * history netwardctl events reads. */
#ifndef NETWARD_EVENTS_H
#define NETWARD_EVENTS_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>

#include "netward/event.h"

const char *nw_event_type_name(unsigned type);
int nw_event_type_parse(const char *name);	/* enum nw_event_type or -EINVAL */
/* Types users see (history, streams, logs); the others only carry data from
 * the kernel side to netwardd. */
int nw_event_type_public(unsigned type);

/* A JSON object with the common fields: ts, type, netns. */
cJSON *nw_event_new(unsigned type, uint32_t netns);

/* ev's "message" (the log line's text), printf-style; NULL ev is fine */
void nw_event_message(cJSON *ev, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

/* A "daemon" event of netwardd's own: pid and message. */
cJSON *nw_event_daemon(uint32_t netns, const char *message);

/* Events the kernel could not queue (the ring buffer was full: no netwardd
 * read it, or a flood outran it) are counted in counters.events_lost.
 * nw_event_drops turns each increase of that counter into one
 * "events_lost" event (lost, total, before_start), so that no drop goes
 * unreported; NULL when there is none. The first look reports what was lost
 * before this netwardd started (the counter lives as long as the pins). */
struct nw_drop_watch {
	uint64_t reported;	/* the counter's value already reported */
	bool started;		/* looked before */
};
cJSON *nw_event_drops(struct nw_drop_watch *w, uint32_t netns, uint64_t total);

/* Decodes one ring buffer record. cg_mount (may be NULL) resolves cgroup
 * ids to paths. Returns NULL and sets errno (EBADMSG) on a bad record. */
cJSON *nw_event_decode(const void *data, size_t len, const char *cg_mount);

/* One line for the log: "bind_denied: pid 42 (nc) ... tcp 0.0.0.0:8443" */
void nw_event_summary(const cJSON *ev, char *buf, size_t size);

/* MESSAGE_ID for journald, one per event type. */
void nw_event_message_id(unsigned type, char buf[33]);

struct nw_history {
	char **lines;		/* JSON text, one event each */
	uint16_t *types;
	size_t cap, start, count;
	uint64_t total;
};

int nw_history_init(struct nw_history *h, size_t cap);
void nw_history_free(struct nw_history *h);
int nw_history_add(struct nw_history *h, unsigned type, const char *json);
/* i-th oldest retained event (0 <= i < count) */
const char *nw_history_get(const struct nw_history *h, size_t i, unsigned *type);
/* The control socket's "events" request (req: "type", "limit"): reply gets
 * "events", the newest `limit` matching events of h, oldest first; *type
 * is the public type asked for, -1 for all. -EINVAL with err set when
 * "type" names no public event type. */
int nw_history_reply(const struct nw_history *h, const cJSON *req, cJSON *reply, int *type,
		     char *err, size_t errlen);

#endif
