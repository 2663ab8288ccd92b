// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer harness for the control-socket request parser (user/control.c).
 *
 * user/control.c has no public function that takes a request line: the
 * framing (on_client: reads of 4 KiB, the 64 KiB input limit, splitting at
 * '\n') and the parsing (handle_line: cJSON_Parse, "request is not a JSON
 * object", "request has no \"cmd\" string") are static, reached only
 * through the socket. So the harness drives the public entry end to end,
 * as netwardctl does: nw_control_open() on a socket in a private temporary
 * directory (once), then for every input one client connects, writes the
 * input as its byte stream, shuts its writing side down and reads every
 * reply until netwardd closes the connection.
 *
 * The handler stands in for netwardd's on_request (user/netwardd.c: static,
 * and it needs the whole daemon): it checks the request's fields with the
 * same functions (nw_control_ms_field, nw_history_reply) and mirrors the
 * rest with no daemon state behind them. ping; wait-stable ("quiet_ms",
 * "timeout_ms": whole ms within bounds, else an error; valid: a deferred
 * reply, given after the next loop turn); probes ("now": true defers the
 * reply, as with probes configured); tunnels, segw ("failover" must be a
 * string; no connection is configured: the daemon's error), recovery,
 * status, reload (answers ok: no file is read); events ("type" a public
 * event type name or null, "limit", "follow": true makes the client a
 * follower, which then gets one broadcast event) over a real history
 * (user/events.c) holding a few events; else "unknown command". Keep it in
 * step with on_request.
 *
 * Oracles: memory safety, leaks, every line netwardd sends is a JSON object
 * (replies: with a boolean "ok"), no more replies than request lines, and
 * netwardd closes the connection once the client has shut down its side
 * (a client never stays stuck).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "control.h"
#include "events.h"
#include "log.h"

static sd_event *loop;
static struct nw_control *ctl;
static char dir[64], path[108];
static struct nw_history hist;

/* the deferred reply the handler promised, answered by the loop */
static struct nw_control_client *waiting;
static bool following;

static void on_gone(struct nw_control_client *c, void *ud)
{
	(void)ud;
	if (waiting == c)
		waiting = NULL;
}

static int defer(struct nw_control_client *c)
{
	if (waiting)
		abort();	/* control.c handles nothing more from a waiting client */
	waiting = c;
	nw_control_client_set_close_cb(c, on_gone, NULL);
	return 2;
}

static int events_cmd(struct nw_control_client *c, const cJSON *req, cJSON *reply)
{
	char msg[128];
	int type;

	if (nw_history_reply(&hist, req, reply, &type, msg, sizeof(msg))) {
		nw_control_set_error(reply, msg);
		return 0;
	}
	if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(req, "follow"))) {
		nw_control_client_follow(c, type);
		following = true;
		return 1;
	}
	return 0;
}

static int on_request(struct nw_control_client *c, const cJSON *req, cJSON *reply, void *ud)
{
	const cJSON *cmdv = cJSON_GetObjectItemCaseSensitive(req, "cmd");
	const char *cmd;
	(void)ud;

	/* control.c calls the handler only with an object and a "cmd" string */
	if (!cJSON_IsObject(req) || !cJSON_IsString(cmdv) || !cmdv->valuestring)
		abort();
	cmd = cmdv->valuestring;
	if (!strcmp(cmd, "ping"))
		return 0;
	if (!strcmp(cmd, "wait-stable")) {
		uint64_t quiet_ms = 500, timeout_ms = 0;
		bool has_quiet, has_timeout;
		char msg[128];

		if (nw_control_ms_field(req, "quiet_ms", 1, 86400000, &has_quiet, &quiet_ms, msg,
					sizeof(msg)) ||
		    nw_control_ms_field(req, "timeout_ms", 0, 86400000, &has_timeout, &timeout_ms, msg,
					sizeof(msg))) {
			nw_control_set_error(reply, msg);
			return 0;
		}
		return defer(c);
	}
	if (!strcmp(cmd, "probes")) {
		if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(req, "now"))) {
			cJSON_AddArrayToObject(reply, "probes");
			cJSON_AddObjectToObject(reply, "connectivity");
			return 0;
		}
		return defer(c);
	}
	if (!strcmp(cmd, "tunnels")) {
		cJSON_AddArrayToObject(cJSON_AddObjectToObject(reply, "tunnels"), "tunnels");
		return 0;
	}
	if (!strcmp(cmd, "segw")) {
		cJSON *t = cJSON_AddObjectToObject(reply, "segw");
		const cJSON *fo = cJSON_GetObjectItemCaseSensitive(req, "failover");

		if (fo && !cJSON_IsString(fo)) {
			nw_control_set_error(reply, "failover: expected a connection name");
			return 0;
		}
		if (cJSON_IsString(fo)) {
			char msg[160];

			snprintf(msg, sizeof(msg), "failover: no SEGW connection \"%.100s\"",
				 fo->valuestring);
			nw_control_set_error(reply, msg);
			return 0;
		}
		cJSON_AddArrayToObject(t, "connections");
		return 0;
	}
	if (!strcmp(cmd, "recovery")) {
		cJSON_AddObjectToObject(reply, "connectivity");
		return 0;
	}
	if (!strcmp(cmd, "status")) {
		/* the daemon's status: its fields in the reply itself */
		cJSON_AddStringToObject(reply, "version", "fuzz");
		cJSON_AddObjectToObject(reply, "events");
		return 0;
	}
	if (!strcmp(cmd, "reload"))
		return 0;
	if (!strcmp(cmd, "events"))
		return events_cmd(c, req, reply);
	{
		char msg[160];

		snprintf(msg, sizeof(msg), "unknown command \"%.100s\"", cmd);
		nw_control_set_error(reply, msg);
	}
	return 0;
}

static void cleanup(void)
{
	nw_control_close(ctl);
	ctl = NULL;
	sd_event_unref(loop);
	nw_history_free(&hist);
	if (dir[0])
		rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const unsigned types[] = { NW_EV_BIND_DENIED, NW_EV_ROUTE_RESTORED, NW_EV_DAEMON,
					  NW_EV_BIND_DENIED, NW_EV_SEGW_UP };
	(void)argc;
	(void)argv;

	nw_log_set_level(LOG_EMERG);
	snprintf(dir, sizeof(dir), "/tmp/nw-fuzz-control.XXXXXX");
	if (!mkdtemp(dir) || sd_event_new(&loop) < 0 || nw_history_init(&hist, 4) < 0)
		abort();
	snprintf(path, sizeof(path), "%s/netward.sock", dir);
	if (nw_control_open(&ctl, loop, path, on_request, NULL) < 0)
		abort();
	/* five events in a history of four: it has wrapped */
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		cJSON *ev = nw_event_new(types[i], 4026531840u);
		char *text;

		cJSON_AddNumberToObject(ev, "seq", (double)i);
		text = cJSON_PrintUnformatted(ev);
		nw_history_add(&hist, types[i], text);
		free(text);
		cJSON_Delete(ev);
	}
	atexit(cleanup);
	return 0;
}

/* one line netwardd sent: a JSON object; a reply has a boolean "ok" */
static void check_line(const char *line, size_t *replies)
{
	cJSON *o = cJSON_Parse(line);

	if (!cJSON_IsObject(o))
		abort();
	if (cJSON_IsBool(cJSON_GetObjectItemCaseSensitive(o, "ok")))
		(*replies)++;
	else if (!cJSON_GetObjectItemCaseSensitive(o, "type"))
		abort();	/* neither a reply nor an event */
	cJSON_Delete(o);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t off = 0, got = 0, cap = 0, replies = 0, lines = 0;
	bool shut = false, closed = false, broadcast = false;
	char *in = NULL;
	int fd, turns;

	waiting = NULL;
	following = false;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	strcpy(sa.sun_path, path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		abort();
	for (size_t i = 0; i < size; i++)
		lines += data[i] == '\n';

	/* at most ~10 s: a hang is a bug */
	for (turns = 0; turns < 1000 && !closed; turns++) {
		ssize_t n;

		if (off < size) {
			n = send(fd, data + off, size - off, MSG_NOSIGNAL | MSG_DONTWAIT);
			if (n > 0)
				off += (size_t)n;
			else if (n < 0 && errno != EAGAIN && errno != EINTR)
				off = size;	/* netwardd dropped us (input too long) */
		}
		if (off == size && !shut) {
			shutdown(fd, SHUT_WR);
			shut = true;
		}
		if (sd_event_run(loop, shut ? 10000 : 0) < 0)
			abort();
		if (waiting) {
			cJSON *reply = cJSON_CreateObject();
			struct nw_control_client *c = waiting;

			waiting = NULL;
			cJSON_AddBoolToObject(reply, "ok", 1);
			cJSON_AddBoolToObject(reply, "stable", 1);
			nw_control_client_reply(c, reply);
			cJSON_Delete(reply);
		}
		if (following && !broadcast && nw_control_followers(ctl)) {
			cJSON *ev = nw_event_new(NW_EV_BIND_DENIED, 1);
			char *text = cJSON_PrintUnformatted(ev);

			nw_control_broadcast(ctl, NW_EV_BIND_DENIED, text);
			free(text);
			cJSON_Delete(ev);
			broadcast = true;
		}
		for (;;) {
			char *nl;

			if (cap - got < 4096) {
				char *p = realloc(in, cap + 65536);

				if (!p)
					abort();
				in = p;
				cap += 65536;
			}
			n = recv(fd, in + got, cap - got - 1, MSG_DONTWAIT);
			if (n == 0 || (n < 0 && errno == ECONNRESET)) {
				closed = true;
				break;
			}
			if (n < 0)
				break;
			got += (size_t)n;
			/* complete lines */
			while ((nl = memchr(in, '\n', got))) {
				*nl = 0;
				check_line(in, &replies);
				memmove(in, nl + 1, got - (size_t)(nl + 1 - in));
				got -= (size_t)(nl + 1 - in);
			}
		}
	}
	if (!closed)
		abort();	/* netwardd kept a client that had shut down */
	/* an answer per complete line at most (+1: "request longer than 64 KiB") */
	if (got || replies > lines + 1)
		abort();
	/* let netwardd finish with the client before the next input */
	for (turns = 0; turns < 100 && nw_control_pending(ctl) + nw_control_followers(ctl); turns++)
		sd_event_run(loop, 1000);
	free(in);
	close(fd);
	return 0;
}
