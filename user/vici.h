/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * strongSwan's VICI protocol, netward's own client (no packaged C header
 * exists). The wire format (src/libcharon/plugins/vici/README.md):
 * 32-bit big-endian length + packet; packet type u8 (CMD_REQUEST 0,
 * CMD_RESPONSE 1, CMD_UNKNOWN 2, EVENT_REGISTER 3, EVENT_UNREGISTER 4,
 * EVENT_CONFIRM 5, EVENT_UNKNOWN 6, EVENT 7), named types with u8 length +
 * name, then a message: SECTION_START 1 (u8 len, name), SECTION_END 2,
 * KEY_VALUE 3 (u8 len, name, u16 BE len, value), LIST_START 4 (u8 len,
 * name), LIST_ITEM 5 (u16 BE len, value), LIST_END 6. Packets up to 512 KiB.
 *
 * Messages are handled as cJSON trees: sections are objects, lists are
 * arrays of strings, values are strings (VICI has no other types; numbers
 * and booleans given to the encoder are written as their text, true as
 * "yes").
 */
#ifndef NETWARD_VICI_H
#define NETWARD_VICI_H

#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>
#include <systemd/sd-event.h>

#define NW_VICI_MAX_PACKET (512 * 1024)
#define NW_VICI_MAX_DEPTH 16

enum nw_vici_packet {
	NW_VICI_CMD_REQUEST = 0,
	NW_VICI_CMD_RESPONSE = 1,
	NW_VICI_CMD_UNKNOWN = 2,
	NW_VICI_EVENT_REGISTER = 3,
	NW_VICI_EVENT_UNREGISTER = 4,
	NW_VICI_EVENT_CONFIRM = 5,
	NW_VICI_EVENT_UNKNOWN = 6,
	NW_VICI_EVENT = 7,
};

/* --- codec (pure; fuzzed) ----------------------------------------------- */

/* Encodes msg (an object; NULL = empty) as a VICI message body into a
 * malloc'ed buffer. -EINVAL (nested arrays, arrays of non-scalars, names
 * over 255 bytes, values over 65535 bytes, depth over NW_VICI_MAX_DEPTH),
 * -E2BIG over NW_VICI_MAX_PACKET. */
int nw_vici_encode(const cJSON *msg, uint8_t **out, size_t *len);
/* Decodes a message body into a new cJSON object. -EBADMSG on anything
 * malformed (truncated, unbalanced sections or lists, unknown element,
 * depth over the limit, a key given twice in one section keeps the last). */
int nw_vici_decode(const uint8_t *buf, size_t len, cJSON **out);
/* Builds a whole frame (length + type [+ name] + body) of type for name
 * (NULL for types without one) and msg. */
int nw_vici_frame(uint8_t type, const char *name, const cJSON *msg, uint8_t **out, size_t *len);
/* Splits a received packet (without the 4-byte length): its type, its name
 * (for named types, copied into name[256]) and the body's offset. -EBADMSG. */
int nw_vici_parse_packet(const uint8_t *pkt, size_t len, uint8_t *type, char name[256],
			 size_t *body_off);

/* --- client on the daemon's loop ------------------------------------------ */

struct nw_vici;

/* Called for each command's answer exactly once: err 0 and the decoded
 * response (the callee must not keep it), or -errno (-ENOTCONN when the
 * connection went away, -EBADMSG CMD_UNKNOWN: charon does not know the
 * command, -ETIMEDOUT). */
typedef void (*nw_vici_reply_fn)(void *ud, int err, const cJSON *reply);
/* Every event registered with nw_vici_open: its name and message. */
typedef void (*nw_vici_event_fn)(void *ud, const char *event, const cJSON *msg);
/* The connection state changed: connected 1 (both sockets up and every
 * event registered), 0 lost (a reconnect is scheduled with backoff). */
typedef void (*nw_vici_state_fn)(void *ud, int connected);

struct nw_vici_ops {
	nw_vici_event_fn event;
	nw_vici_state_fn state;
};

/* socket: "unix:///var/run/charon.vici" or a plain path. Two connections:
 * one for commands (one in flight at a time, the rest queued in order)
 * and one for events (the names in events[], NULL-ended, registered after
 * each connect). Connecting is non-blocking; when charon is not there (or
 * goes away: charon restarted), it retries with backoff from 100 ms to
 * 5 s, forever. */
int nw_vici_open(struct nw_vici **out, sd_event *e, const char *socket,
		 const char *const *events, const struct nw_vici_ops *ops, void *ud);
/* Queues a command; msg may be NULL. timeout_ms bounds the wait for its
 * answer once sent (0: none). Commands queued while disconnected wait
 * for the next connection (at most 256 queued: -ENOBUFS). */
int nw_vici_command(struct nw_vici *v, const char *cmd, const cJSON *msg, uint64_t timeout_ms,
		    nw_vici_reply_fn cb, void *ud);
int nw_vici_connected(const struct nw_vici *v);
/* Frees; pending commands get -ECANCELED. */
void nw_vici_free(struct nw_vici *v);

#endif
