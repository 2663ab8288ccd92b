/* SPDX-License-Identifier: GPL-2.0-only */
/* A fake charon for the VICI client's tests and SEGW's: a unix socket in a
 * temp dir, served on the test's own sd-event loop. It accepts any number
 * of connections, confirms the registrations of known_events (and answers
 * EVENT_UNKNOWN for the rest, as a strongSwan before 6.0.3 does for
 * "alert"), and hands each command to srv.command, which answers it (or
 * not) with peer_send*. Misbehaviour is written raw with peer_write. */
#ifndef NETWARD_TEST_VICI_FAKE_H
#define NETWARD_TEST_VICI_FAKE_H

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <cmocka.h>
#include <cjson/cJSON.h>
#include <systemd/sd-event.h>

#include "vici.h"

#define MAXPEERS 64
#define MAXREGS 8

struct srv;

/* one accepted connection */
struct peer {
	struct srv *s;
	int fd;				/* -1: closed */
	sd_event_source *io;
	uint8_t *in;
	size_t in_len;
	uint8_t *out;
	size_t out_len, out_off;
	char regs[MAXREGS][64];
	int n_regs;
	int n_cmds;
};

struct srv {
	sd_event *e;
	char path[108];
	int lfd;
	sd_event_source *lio;
	struct peer *peers[MAXPEERS];
	int n_peers;			/* accepted, ever */
	int n_eof;			/* closed by the client */
	bool trickle;			/* write one byte per turn of the loop */
	int n_cmds;
	char last_cmd[64];
	size_t last_cmd_len;		/* the whole packet's */
	/* answers (or not) a command; msg is its decoded body */
	void (*command)(struct peer *p, const char *cmd, const cJSON *msg);
	void *ud;			/* the test's */
};

static const char *const known_events[] = { "ike-updown", "ike-rekey", "child-updown", "list-sa",
					     NULL };

static inline void peer_close(struct peer *p)
{
	p->io = sd_event_source_disable_unref(p->io);
	if (p->fd >= 0)
		close(p->fd);
	p->fd = -1;
	free(p->in);
	free(p->out);
	p->in = p->out = NULL;
	p->in_len = p->out_len = p->out_off = 0;
}

static inline void peer_write(struct peer *p, const void *data, size_t len)
{
	p->out = realloc(p->out, p->out_len + len);
	assert_non_null(p->out);
	memcpy(p->out + p->out_len, data, len);
	p->out_len += len;
	assert_true(sd_event_source_set_io_events(p->io, EPOLLIN | EPOLLOUT) >= 0);
}

static inline void peer_send(struct peer *p, uint8_t type, const char *name, const cJSON *msg)
{
	uint8_t *f;
	size_t len;

	assert_int_equal(nw_vici_frame(type, name, msg, &f, &len), 0);
	peer_write(p, f, len);
	free(f);
}

static inline void peer_send_json(struct peer *p, uint8_t type, const char *name, const char *json)
{
	cJSON *m = cJSON_Parse(json);

	assert_non_null(m);

	peer_send(p, type, name, m);
	cJSON_Delete(m);
}

static inline bool peer_has(const struct peer *p, const char *ev)
{
	for (int i = 0; i < p->n_regs; i++)
		if (!strcmp(p->regs[i], ev))
			return true;
	return false;
}

static inline void peer_packet(struct peer *p, const uint8_t *pkt, size_t len)
{
	char name[256];
	uint8_t type;
	size_t off;
	bool known = false;

	assert_int_equal(nw_vici_parse_packet(pkt, len, &type, name, &off), 0);
	switch (type) {
	case NW_VICI_CMD_REQUEST: {
		struct srv *s = p->s;
		cJSON *msg = NULL;

		s->last_cmd_len = len;
		s->n_cmds++;
		p->n_cmds++;
		snprintf(s->last_cmd, sizeof(s->last_cmd), "%s", name);
		assert_int_equal(nw_vici_decode(pkt + off, len - off, &msg), 0);
		s->command(p, name, msg);
		cJSON_Delete(msg);
		break;
	}
	case NW_VICI_EVENT_REGISTER:
		for (int i = 0; known_events[i]; i++)
			known = known || !strcmp(known_events[i], name);
		assert_true(p->n_regs < MAXREGS);
		snprintf(p->regs[p->n_regs++], sizeof(p->regs[0]), "%s", name);
		peer_send(p, known ? NW_VICI_EVENT_CONFIRM : NW_VICI_EVENT_UNKNOWN, NULL, NULL);
		break;
	default:
		fail_msg("the client sent packet type %u", type);
	}
}

static inline int peer_io(sd_event_source *src, int fd, uint32_t revents, void *ud)
{
	struct peer *p = ud;
	uint8_t buf[65536];
	ssize_t n;
	(void)src;

	if (revents & EPOLLOUT && p->out_off < p->out_len) {
		size_t want = p->s->trickle ? 1 : p->out_len - p->out_off;

		n = send(fd, p->out + p->out_off, want, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0)
			p->out_off += (size_t)n;
		if (p->out_off == p->out_len) {
			p->out_off = p->out_len = 0;
			sd_event_source_set_io_events(p->io, EPOLLIN);
		}
	}
	if (!(revents & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		return 0;
	n = read(fd, buf, sizeof(buf));
	if (n < 0 && errno == EAGAIN)
		return 0;
	if (n <= 0) {
		p->s->n_eof++;
		peer_close(p);
		return 0;
	}
	p->in = realloc(p->in, p->in_len + (size_t)n);
	assert_non_null(p->in);
	memcpy(p->in + p->in_len, buf, (size_t)n);
	p->in_len += (size_t)n;
	while (p->fd >= 0 && p->in_len >= 4) {
		size_t plen = (size_t)p->in[0] << 24 | p->in[1] << 16 | p->in[2] << 8 | p->in[3];

		assert_true(plen >= 1 && plen <= NW_VICI_MAX_PACKET);
		if (p->in_len < 4 + plen)
			break;
		peer_packet(p, p->in + 4, plen);
		memmove(p->in, p->in + 4 + plen, p->in_len - 4 - plen);
		p->in_len -= 4 + plen;
	}
	return 0;
}

static inline int srv_accept(sd_event_source *src, int fd, uint32_t revents, void *ud)
{
	struct srv *s = ud;
	struct peer *p;
	int cfd;
	(void)src;
	(void)revents;

	cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (cfd < 0)
		return 0;
	assert_true(s->n_peers < MAXPEERS);
	p = calloc(1, sizeof(*p));
	assert_non_null(p);
	p->s = s;
	p->fd = cfd;
	assert_true(sd_event_add_io(s->e, &p->io, cfd, EPOLLIN, peer_io, p) >= 0);
	s->peers[s->n_peers++] = p;
	return 0;
}

static inline void srv_listen(struct srv *s)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", s->path);
	s->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	assert_true(s->lfd >= 0);
	assert_int_equal(bind(s->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(s->lfd, 16), 0);
	assert_true(sd_event_add_io(s->e, &s->lio, s->lfd, EPOLLIN, srv_accept, s) >= 0);
}

/* no new connections (the open ones stay) */
static inline void srv_unlisten(struct srv *s)
{
	s->lio = sd_event_source_disable_unref(s->lio);
	if (s->lfd >= 0)
		close(s->lfd);
	s->lfd = -1;
	unlink(s->path);
}

static inline void srv_init(struct srv *s, sd_event *e, const char *dir)
{
	memset(s, 0, sizeof(*s));
	s->e = e;
	s->lfd = -1;
	snprintf(s->path, sizeof(s->path), "%s/charon.vici", dir);
}

/* charon goes away (every connection closed) */
static inline void srv_drop_all(struct srv *s)
{
	for (int i = 0; i < s->n_peers; i++)
		peer_close(s->peers[i]);
}

static inline void srv_stop(struct srv *s)
{
	srv_drop_all(s);
	for (int i = 0; i < s->n_peers; i++)
		free(s->peers[i]);
	s->n_peers = 0;
	srv_unlisten(s);
}

/* the open connection that registered ev (the last one if several) */
static inline struct peer *srv_peer(struct srv *s, const char *ev)
{
	for (int i = s->n_peers - 1; i >= 0; i--)
		if (s->peers[i]->fd >= 0 && peer_has(s->peers[i], ev))
			return s->peers[i];
	return NULL;
}

static inline int srv_open_peers(const struct srv *s)
{
	int n = 0;

	for (int i = 0; i < s->n_peers; i++)
		n += s->peers[i]->fd >= 0;
	return n;
}

#endif
