// SPDX-License-Identifier: GPL-2.0-only
/*
 * The VICI client on sd-event (see vici.h). Two unix stream connections
 * to charon, each with its own io source, its own partial-read packet
 * reader (4-byte length, then the packet; a length of 0 or over 512 KiB
 * is a protocol error) and at most one frame being written:
 *
 *  - commands: one CMD_REQUEST in flight, answered by CMD_RESPONSE or
 *    CMD_UNKNOWN; the rest wait in a queue, in order. A command that times
 *    out gets -ETIMEDOUT and only this connection is made anew (its late
 *    answer would otherwise be taken for the next command's); the state
 *    stays 1 unless that reconnect fails. A malformed CMD_RESPONSE fails
 *    its command with -EBADMSG and keeps the connection (the framing is
 *    intact).
 *  - events: one EVENT_REGISTER per name after each connect, each waiting
 *    for EVENT_CONFIRM or EVENT_UNKNOWN before the next.
 *
 * Streamed events (list-sa for list-sas, control-log for initiate and
 * terminate, ...) are raised by charon only on the connection that runs
 * the command, and only if that connection registered them: names of
 * that kind in events[] are registered on the command connection instead
 * (before any command is sent), and reach ops->event like the others,
 * before the command's reply. Events are delivered as they come, also
 * while the registrations are still under way (before state 1); one whose
 * message does not decode is logged and dropped.
 *
 * Connected (state 1) means both connections up and every registration
 * answered. When either fails, charon closes it or speaks out of turn,
 * both are closed, the command in flight gets -ENOTCONN (the queued ones
 * wait), state 0 is reported if 1 was, and a reconnect follows after
 * 100 ms, doubling up to 5 s; a completed connect resets the backoff.
 *
 * Logs only what the caller cannot see: an EVENT_UNKNOWN (warning: this
 * charon lacks the event, e.g. "alert" before 6.0.3), protocol errors
 * (warning) and connect failures (debug).
 *
 * Callbacks may call nw_vici_command and nw_vici_free: every entry from
 * the loop holds v->busy, and a free while busy only marks v dead; the
 * last one out destroys it. Nothing is called back from inside
 * nw_vici_open or nw_vici_command.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "log.h"
#include "vici.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define MAX_QUEUED 256
#define TIMER_ACCURACY_US 1000

/* events charon raises only to the connection whose command streams them */
static const char *const stream_events[] = {
	"list-sa", "list-policy", "list-conn", "list-cert", "list-authority", "control-log",
};

struct conn {
	struct nw_vici *v;
	const char *what;		/* "command" or "event", for the log */
	int fd;				/* -1: closed */
	sd_event_source *io;
	unsigned epoch;			/* bumped by each close */
	bool connecting;		/* connect() done, not yet writable */
	bool ready;			/* connected, every name registered */
	/* the one frame being written */
	uint8_t *out;
	size_t out_len, out_off;
	/* the packet being read */
	uint8_t hdr[4];
	size_t hdr_got;
	uint8_t *in;
	size_t in_len, in_got;
	/* the events registered on this connection */
	char **regs;
	size_t n_regs, reg_next;
	bool reg_wait;			/* an EVENT_REGISTER awaits its answer */
};

struct cmd {
	struct cmd *next;
	uint8_t *frame;
	size_t len;
	uint64_t timeout_ms;
	nw_vici_reply_fn cb;
	void *ud;
};

struct nw_vici {
	sd_event *e;
	struct sockaddr_un sa;
	socklen_t sa_len;
	struct conn cmd, evt;
	struct cmd *head, *tail;	/* queued, not sent */
	unsigned n_queued;
	struct cmd *inflight;
	sd_event_source *cmd_timer;
	sd_event_source *retry;
	uint64_t backoff_ms;
	bool connected;
	struct nw_vici_ops ops;
	void *ud;
	unsigned busy;			/* inside a handler: freeing waits */
	bool dead;			/* nw_vici_free was called */
};

/* --- small pieces --------------------------------------------------------- */

static void destroy(struct nw_vici *v);

static void cmd_free(struct cmd *c)
{
	if (!c)
		return;
	/* a load-shared frame holds a pre-shared key */
	if (c->frame)
		explicit_bzero(c->frame, c->len);
	free(c->frame);
	free(c);
}

static int arm(struct nw_vici *v, sd_event_source **src, uint64_t ms,
	       sd_event_time_handler_t fn)
{
	int err;

	if (!*src)
		return sd_event_add_time_relative(v->e, src, CLOCK_MONOTONIC, ms * 1000,
						  TIMER_ACCURACY_US, fn, v);
	if ((err = sd_event_source_set_time_relative(*src, ms * 1000)) < 0)
		return err;
	return sd_event_source_set_enabled(*src, SD_EVENT_ONESHOT);
}

static void disarm(sd_event_source *src)
{
	if (src)
		sd_event_source_set_enabled(src, SD_EVENT_OFF);
}

static void conn_watch(struct conn *c)
{
	uint32_t ev = EPOLLIN;

	if (c->connecting || c->out)
		ev |= EPOLLOUT;
	sd_event_source_set_io_events(c->io, ev);
}

static void conn_close(struct conn *c)
{
	/* sd-event keeps a source being dispatched until its handler returns */
	c->io = sd_event_source_disable_unref(c->io);
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->epoch++;
	c->connecting = c->ready = c->reg_wait = false;
	free(c->out);
	c->out = NULL;
	c->out_len = c->out_off = 0;
	free(c->in);
	c->in = NULL;
	c->hdr_got = c->in_len = c->in_got = 0;
	c->reg_next = 0;
}

/* hands frame (owned) to c; the io handler writes it */
static void conn_send(struct conn *c, uint8_t *frame, size_t len)
{
	c->out = frame;
	c->out_len = len;
	c->out_off = 0;
	conn_watch(c);
}

static int on_cmd_timeout(sd_event_source *src, uint64_t usec, void *ud);

/* the next command goes out, if it may */
static void kick(struct nw_vici *v)
{
	struct cmd *c = v->head;

	if (v->dead || !v->connected || !v->cmd.ready || v->inflight || !c)
		return;
	v->head = c->next;
	if (!v->head)
		v->tail = NULL;
	v->n_queued--;
	c->next = NULL;
	v->inflight = c;
	conn_send(&v->cmd, c->frame, c->len);
	c->frame = NULL;
	if (c->timeout_ms)
		arm(v, &v->cmd_timer, c->timeout_ms, on_cmd_timeout);
}

/* --- connecting ----------------------------------------------------------- */

static int on_io(sd_event_source *src, int fd, uint32_t revents, void *ud);
static int on_retry(sd_event_source *src, uint64_t usec, void *ud);

static int conn_open(struct conn *c)
{
	struct nw_vici *v = c->v;
	int err;

	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return -errno;
	/* a unix socket connects at once or fails (EAGAIN: backlog full);
	 * either way the first EPOLLOUT says how it went */
	if (connect(c->fd, (struct sockaddr *)&v->sa, v->sa_len) < 0 && errno != EINPROGRESS) {
		err = -errno;
		goto fail;
	}
	if ((err = sd_event_add_io(v->e, &c->io, c->fd, EPOLLIN | EPOLLOUT, on_io, c)) < 0)
		goto fail;
	c->connecting = true;
	return 0;
fail:
	conn_close(c);
	return err;
}

static void schedule_retry(struct nw_vici *v)
{
	uint64_t ms = v->backoff_ms;

	v->backoff_ms = ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : ms * 2;
	if (arm(v, &v->retry, ms, on_retry) < 0)
		log_err("vici: cannot schedule a reconnect");
}

static void start_connect(struct nw_vici *v)
{
	int err;

	if ((err = conn_open(&v->cmd)) < 0 || (err = conn_open(&v->evt)) < 0) {
		log_debug("vici: connect %s: %s", v->sa.sun_path, strerror(-err));
		conn_close(&v->cmd);
		conn_close(&v->evt);
		schedule_retry(v);
	}
}

static int on_retry(sd_event_source *src, uint64_t usec, void *ud)
{
	(void)src;
	(void)usec;
	start_connect(ud);
	return 0;
}

/* Both connections go; the command in flight fails, the state drops.
 * v may be dead after. */
static void lost(struct nw_vici *v)
{
	bool was = v->connected;
	struct cmd *c = v->inflight;

	v->connected = false;
	v->inflight = NULL;
	conn_close(&v->cmd);
	conn_close(&v->evt);
	disarm(v->cmd_timer);
	schedule_retry(v);
	if (c) {
		c->cb(c->ud, -ENOTCONN, NULL);
		cmd_free(c);
		if (v->dead)
			return;
	}
	if (was && v->ops.state)
		v->ops.state(v->ud, 0);
}

/* both ready: connected, and the queue moves. v may be dead after. */
static void check_ready(struct nw_vici *v)
{
	if (!v->cmd.ready || !v->evt.ready)
		return;
	if (!v->connected) {
		v->connected = true;
		v->backoff_ms = BACKOFF_MIN_MS;
		if (v->ops.state)
			v->ops.state(v->ud, 1);
	}
	kick(v);
}

/* the next registration, or ready. v may be dead after. */
static int next_reg(struct conn *c)
{
	uint8_t *frame;
	size_t len;
	int err;

	if (c->reg_next == c->n_regs) {
		c->ready = true;
		conn_watch(c);
		check_ready(c->v);
		return 0;
	}
	if ((err = nw_vici_frame(NW_VICI_EVENT_REGISTER, c->regs[c->reg_next], NULL, &frame,
				 &len)))
		return err;
	c->reg_wait = true;
	conn_send(c, frame, len);
	return 0;
}

/* --- reading -------------------------------------------------------------- */

static void finish_cmd(struct nw_vici *v, int err, const cJSON *reply)
{
	struct cmd *c = v->inflight;

	v->inflight = NULL;
	disarm(v->cmd_timer);
	c->cb(c->ud, err, reply);
	cmd_free(c);
	kick(v);
}

static void deliver_event(struct conn *c, const char *name, const uint8_t *body, size_t len)
{
	struct nw_vici *v = c->v;
	cJSON *msg = NULL;
	int err;

	if ((err = nw_vici_decode(body, len, &msg))) {
		log_warn("vici: event %s on the %s connection: %s, dropped", name, c->what,
			 strerror(-err));
		return;
	}
	if (v->ops.event)
		v->ops.event(v->ud, name, msg);
	cJSON_Delete(msg);
}

static int out_of_turn(struct conn *c, uint8_t type)
{
	log_warn("vici: %s connection: packet type %u out of turn", c->what, type);
	return -EBADMSG;
}

/* One whole packet. -EBADMSG: charon spoke out of turn. v may be dead,
 * c closed after. */
static int handle_packet(struct conn *c, const uint8_t *pkt, size_t len)
{
	struct nw_vici *v = c->v;
	bool cmd_turn = c == &v->cmd && v->inflight && !c->reg_wait;
	char name[256];
	cJSON *reply = NULL;
	size_t off;
	uint8_t type;
	int err;

	if ((err = nw_vici_parse_packet(pkt, len, &type, name, &off))) {
		log_warn("vici: %s connection: malformed packet (type %u)", c->what, pkt[0]);
		return err;
	}
	switch (type) {
	case NW_VICI_CMD_RESPONSE:
		if (!cmd_turn)
			return out_of_turn(c, type);
		/* the stream is intact: only this answer is bad */
		err = nw_vici_decode(pkt + off, len - off, &reply);
		finish_cmd(v, err, reply);
		cJSON_Delete(reply);
		return 0;
	case NW_VICI_CMD_UNKNOWN:
		if (!cmd_turn)
			return out_of_turn(c, type);
		finish_cmd(v, -EBADMSG, NULL);
		return 0;
	case NW_VICI_EVENT_CONFIRM:
	case NW_VICI_EVENT_UNKNOWN:
		if (!c->reg_wait)
			return out_of_turn(c, type);
		if (type == NW_VICI_EVENT_UNKNOWN)
			log_warn("vici: charon does not know the event %s (an older strongSwan?)",
				 c->regs[c->reg_next]);
		c->reg_wait = false;
		c->reg_next++;
		return next_reg(c);
	case NW_VICI_EVENT:
		deliver_event(c, name, pkt + off, len - off);
		return 0;
	default:
		/* requests and registrations are ours to send */
		return out_of_turn(c, type);
	}
}

/* Reads what is there, handling each whole packet. 0 (also when c was
 * closed or v freed meanwhile) or -errno: the connection is broken. */
static int conn_read(struct conn *c)
{
	struct nw_vici *v = c->v;
	unsigned epoch = c->epoch;
	ssize_t n;

	for (;;) {
		if (c->hdr_got < 4) {
			n = read(c->fd, c->hdr + c->hdr_got, 4 - c->hdr_got);
		} else {
			n = read(c->fd, c->in + c->in_got, c->in_len - c->in_got);
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN ? 0 : -errno;
		}
		if (n == 0)
			return -ECONNRESET;
		if (c->hdr_got < 4) {
			c->hdr_got += (size_t)n;
			if (c->hdr_got < 4)
				continue;
			c->in_len = (size_t)c->hdr[0] << 24 | (size_t)c->hdr[1] << 16 |
				    (size_t)c->hdr[2] << 8 | c->hdr[3];
			if (!c->in_len || c->in_len > NW_VICI_MAX_PACKET) {
				log_warn("vici: %s connection: packet of %zu bytes, not 1..%d",
					 c->what, c->in_len, NW_VICI_MAX_PACKET);
				return -EBADMSG;
			}
			if (!(c->in = malloc(c->in_len)))
				return -ENOMEM;
			c->in_got = 0;
			continue;
		}
		c->in_got += (size_t)n;
		if (c->in_got == c->in_len) {
			uint8_t *pkt = c->in;
			size_t len = c->in_len;
			int err;

			/* the packet is ours: c may be closed while it is handled */
			c->in = NULL;
			c->hdr_got = c->in_len = c->in_got = 0;
			err = handle_packet(c, pkt, len);
			free(pkt);
			if (v->dead || c->epoch != epoch)
				return 0;
			if (err)
				return err;
		}
	}
}

static int conn_flush(struct conn *c)
{
	while (c->out && c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return 0;
			return -errno;
		}
		c->out_off += (size_t)n;
	}
	free(c->out);
	c->out = NULL;
	c->out_len = c->out_off = 0;
	conn_watch(c);
	return 0;
}

static int conn_connected(struct conn *c)
{
	int soerr = 0;
	socklen_t sl = sizeof(soerr);

	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
		return -errno;
	if (soerr)
		return -soerr;
	c->connecting = false;
	return next_reg(c);
}

static int on_io(sd_event_source *src, int fd, uint32_t revents, void *ud)
{
	struct conn *c = ud;
	struct nw_vici *v = c->v;
	unsigned epoch = c->epoch;
	int err = 0;
	(void)src;
	(void)fd;

	v->busy++;
	if (c->connecting) {
		if (!(revents & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
			goto out;
		err = conn_connected(c);
		if (err)
			log_debug("vici: %s connection: %s", c->what, strerror(-err));
	} else if (revents & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
		err = conn_read(c);
		if (err == -ECONNRESET)
			log_debug("vici: charon closed the %s connection", c->what);
	}
	if (!err && !v->dead && c->epoch == epoch && (revents & EPOLLOUT) && c->out)
		err = conn_flush(c);
	if (err && !v->dead && c->epoch == epoch)
		lost(v);
out:
	if (!--v->busy && v->dead)
		destroy(v);
	return 0;
}

static int on_cmd_timeout(sd_event_source *src, uint64_t usec, void *ud)
{
	struct nw_vici *v = ud;
	struct cmd *c = v->inflight;
	int err;
	(void)src;
	(void)usec;

	if (!c)
		return 0;
	v->busy++;
	v->inflight = NULL;
	/* its answer may still come: only a new connection is safe */
	conn_close(&v->cmd);
	err = conn_open(&v->cmd);
	c->cb(c->ud, -ETIMEDOUT, NULL);
	cmd_free(c);
	if (!v->dead && err < 0)
		lost(v);
	if (!--v->busy && v->dead)
		destroy(v);
	return 0;
}

/* --- the API -------------------------------------------------------------- */

static bool is_stream_event(const char *name)
{
	for (size_t i = 0; i < sizeof(stream_events) / sizeof(stream_events[0]); i++)
		if (!strcmp(name, stream_events[i]))
			return true;
	return false;
}

static int add_reg(struct conn *c, const char *name)
{
	char **regs;

	if (!(regs = realloc(c->regs, (c->n_regs + 1) * sizeof(*regs))))
		return -ENOMEM;
	c->regs = regs;
	if (!(regs[c->n_regs] = strdup(name)))
		return -ENOMEM;
	c->n_regs++;
	return 0;
}

static int set_path(struct nw_vici *v, const char *socket)
{
	const char *path = socket;
	size_t n;

	if (!strncmp(socket, "unix://", 7))
		path = socket + 7;
	else if (strstr(socket, "://"))
		return -EINVAL;	/* tcp:// and the like: not for netward */
	n = strlen(path);
	if (!n)
		return -EINVAL;
	if (n >= sizeof(v->sa.sun_path))
		return -ENAMETOOLONG;
	v->sa.sun_family = AF_UNIX;
	memcpy(v->sa.sun_path, path, n + 1);
	v->sa_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
	return 0;
}

int nw_vici_open(struct nw_vici **out, sd_event *e, const char *socket,
		 const char *const *events, const struct nw_vici_ops *ops, void *ud)
{
	struct nw_vici *v;
	int err = -EINVAL;

	if (!out || !e || !socket)
		return -EINVAL;
	if (!(v = calloc(1, sizeof(*v))))
		return -ENOMEM;
	v->e = sd_event_ref(e);
	v->cmd = (struct conn){ .v = v, .what = "command", .fd = -1 };
	v->evt = (struct conn){ .v = v, .what = "event", .fd = -1 };
	v->backoff_ms = BACKOFF_MIN_MS;
	if (ops)
		v->ops = *ops;
	v->ud = ud;
	if ((err = set_path(v, socket)))
		goto cleanup;
	for (size_t i = 0; events && events[i]; i++) {
		if (strlen(events[i]) > 255) {
			err = -EINVAL;
			goto cleanup;
		}
		if ((err = add_reg(is_stream_event(events[i]) ? &v->cmd : &v->evt, events[i])))
			goto cleanup;
	}
	/* a failure here only schedules the first retry */
	start_connect(v);
	*out = v;
	v = NULL;
cleanup:
	if (v)
		destroy(v);
	return err;
}

int nw_vici_command(struct nw_vici *v, const char *cmd, const cJSON *msg, uint64_t timeout_ms,
		    nw_vici_reply_fn cb, void *ud)
{
	struct cmd *c;
	int err;

	if (!v || !cmd || !cb)
		return -EINVAL;
	if (v->dead)
		return -ECANCELED;
	if (v->n_queued >= MAX_QUEUED)
		return -ENOBUFS;
	if (!(c = calloc(1, sizeof(*c))))
		return -ENOMEM;
	if ((err = nw_vici_frame(NW_VICI_CMD_REQUEST, cmd, msg, &c->frame, &c->len))) {
		cmd_free(c);
		return err;
	}
	c->timeout_ms = timeout_ms;
	c->cb = cb;
	c->ud = ud;
	if (v->tail)
		v->tail->next = c;
	else
		v->head = c;
	v->tail = c;
	v->n_queued++;
	kick(v);
	return 0;
}

int nw_vici_connected(const struct nw_vici *v)
{
	return v && !v->dead && v->connected;
}

static void destroy(struct nw_vici *v)
{
	struct conn *conns[] = { &v->cmd, &v->evt };

	for (size_t i = 0; i < 2; i++) {
		conn_close(conns[i]);
		for (size_t j = 0; j < conns[i]->n_regs; j++)
			free(conns[i]->regs[j]);
		free(conns[i]->regs);
	}
	cmd_free(v->inflight);
	while (v->head) {
		struct cmd *c = v->head;

		v->head = c->next;
		cmd_free(c);
	}
	sd_event_source_disable_unref(v->cmd_timer);
	sd_event_source_disable_unref(v->retry);
	sd_event_unref(v->e);
	free(v);
}

void nw_vici_free(struct nw_vici *v)
{
	if (!v || v->dead)
		return;
	v->dead = true;
	v->busy++;
	v->connected = false;
	conn_close(&v->cmd);
	conn_close(&v->evt);
	disarm(v->cmd_timer);
	disarm(v->retry);
	/* the callbacks may call in again: commands are refused, frees ignored */
	while (v->inflight || v->head) {
		struct cmd *c = v->inflight;

		if (c) {
			v->inflight = NULL;
		} else {
			c = v->head;
			v->head = c->next;
			if (!v->head)
				v->tail = NULL;
			v->n_queued--;
		}
		c->cb(c->ud, -ECANCELED, NULL);
		cmd_free(c);
	}
	if (!--v->busy)
		destroy(v);
}
