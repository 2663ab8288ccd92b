// SPDX-License-Identifier: GPL-2.0-only
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "control.h"
#include "log.h"
#include "util.h"

#define IN_MAX (64 * 1024)
#define OUT_MAX (4 * 1024 * 1024)
/* waiters of wait-stable stay connected: room for many; an idle client
 * costs no input buffer */
#define MAX_CLIENTS 256

struct nw_control_client {
	struct nw_control *ctl;
	struct nw_control_client *next;
	sd_event_source *src;
	int fd;
	char *in;		/* grows up to IN_MAX */
	size_t in_len, in_cap;
	char *out;
	size_t out_len, out_cap;
	int follow;		/* 0: no; 1: yes */
	int type_filter;
	int closing;		/* close once out is flushed */
	int pending;		/* waits for a deferred reply: input is not handled */
	int eof;		/* the peer shut down its side: no more input */
	int kick;		/* run on_client once more (EPOLLOUT) */
	nw_control_close_cb close_cb;
	void *close_ud;
};

struct nw_control {
	sd_event *e;
	sd_event_source *src;
	int fd;
	char path[108];
	nw_control_handler handler;
	void *userdata;
	struct nw_control_client *clients;
	unsigned n_clients;
};

static void client_free(struct nw_control_client *c)
{
	struct nw_control_client **pp;

	if (c->pending && c->close_cb) {
		nw_control_close_cb cb = c->close_cb;

		c->close_cb = NULL;
		cb(c, c->close_ud);
	}
	for (pp = &c->ctl->clients; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	c->ctl->n_clients--;
	sd_event_source_disable_unref(c->src);
	close(c->fd);
	free(c->in);
	free(c->out);
	free(c);
}

static void update_events(struct nw_control_client *c)
{
	/* EPOLLHUP and EPOLLERR come whatever the mask: a waiter that stopped
	 * sending is still seen going away */
	sd_event_source_set_io_events(c->src, (c->eof ? 0 : EPOLLIN) |
					      (c->out_len || c->kick ? EPOLLOUT : 0));
}

static int flush(struct nw_control_client *c)
{
	while (c->out_len) {
		ssize_t n = send(c->fd, c->out, c->out_len, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			return -errno;
		}
		memmove(c->out, c->out + n, c->out_len - (size_t)n);
		c->out_len -= (size_t)n;
	}
	update_events(c);
	return 0;
}

int nw_control_client_send(struct nw_control_client *c, const char *line)
{
	size_t len = strlen(line);

	if (c->out_len + len + 1 > OUT_MAX)
		return -ENOBUFS;
	if (c->out_len + len + 1 > c->out_cap) {
		size_t cap = c->out_cap ? c->out_cap : 4096;
		char *n;

		while (cap < c->out_len + len + 1)
			cap *= 2;
		if (!(n = realloc(c->out, cap)))
			return -ENOMEM;
		c->out = n;
		c->out_cap = cap;
	}
	memcpy(c->out + c->out_len, line, len);
	c->out[c->out_len + len] = '\n';
	c->out_len += len + 1;
	return flush(c);
}

void nw_control_client_follow(struct nw_control_client *c, int type_filter)
{
	c->follow = 1;
	c->type_filter = type_filter;
}

unsigned nw_control_followers(const struct nw_control *ctl)
{
	unsigned n = 0;

	for (struct nw_control_client *c = ctl->clients; c; c = c->next)
		n += c->follow == 1;
	return n;
}

void nw_control_broadcast(struct nw_control *ctl, unsigned type, const char *json)
{
	struct nw_control_client *c = ctl->clients, *next;

	for (; c; c = next) {
		next = c->next;
		if (c->follow != 1 || (c->type_filter >= 0 && (unsigned)c->type_filter != type))
			continue;
		if (nw_control_client_send(c, json) < 0) {
			log_warn("control: dropping a follower that does not read");
			client_free(c);
		}
	}
}

static void handle_line(struct nw_control_client *c, char *line)
{
	cJSON *req = cJSON_Parse(line), *reply = cJSON_CreateObject();
	const cJSON *cmd;
	char *text;
	int follow = 0;

	cJSON_AddBoolToObject(reply, "ok", 1);
	cmd = cJSON_GetObjectItemCaseSensitive(req, "cmd");
	if (!req || !cJSON_IsObject(req)) {
		cJSON_ReplaceItemInObject(reply, "ok", cJSON_CreateFalse());
		cJSON_AddStringToObject(reply, "error", "request is not a JSON object");
	} else if (!cJSON_IsString(cmd)) {
		cJSON_ReplaceItemInObject(reply, "ok", cJSON_CreateFalse());
		cJSON_AddStringToObject(reply, "error", "request has no \"cmd\" string");
	} else {
		follow = c->ctl->handler(c, req, reply, c->ctl->userdata);
	}
	if (follow == 2) {
		/* the handler answers later */
		c->pending = 1;
		c->follow = 0;
		cJSON_Delete(req);
		cJSON_Delete(reply);
		return;
	}
	text = cJSON_PrintUnformatted(reply);
	if (!text || nw_control_client_send(c, text) < 0)
		c->closing = 1;
	free(text);
	cJSON_Delete(req);
	cJSON_Delete(reply);
	if (follow != 1)
		c->follow = 0;
}

/* Handles the complete lines received, up to a request that defers its reply. */
static void handle_lines(struct nw_control_client *c)
{
	char *nl;

	while (!c->pending && !c->closing && c->in_len &&
	       (nl = memchr(c->in, '\n', c->in_len))) {
		size_t len = (size_t)(nl - c->in) + 1;

		*nl = 0;
		handle_line(c, c->in);
		memmove(c->in, c->in + len, c->in_len - len);
		c->in_len -= len;
	}
}

static int on_client(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct nw_control_client *c = userdata;
	(void)s;

	c->kick = 0;
	if (revents & EPOLLOUT && flush(c) < 0)
		goto drop;
	if (!c->eof && revents & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
		char buf[4096];
		ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);

		if (n < 0 && errno != EAGAIN && errno != EINTR)
			goto drop;
		if (n == 0)
			c->eof = 1;
		if (n > 0) {
			if (c->in_len + (size_t)n > IN_MAX) {
				nw_control_client_send(c,
					"{\"ok\":false,\"error\":\"request longer than 64 KiB\"}");
				goto drop;
			}
			if (c->in_len + (size_t)n > c->in_cap) {
				size_t cap = c->in_cap ? c->in_cap : 4096;
				char *p;

				while (cap < c->in_len + (size_t)n)
					cap *= 2;
				if (cap > IN_MAX)
					cap = IN_MAX;
				if (!(p = realloc(c->in, cap)))
					goto drop;
				c->in = p;
				c->in_cap = cap;
			}
			memcpy(c->in + c->in_len, buf, (size_t)n);
			c->in_len += (size_t)n;
		}
	}
	handle_lines(c);
	if (c->eof) {
		/* a waiter may shut down its writing side and still read its
		 * answer; gone entirely (EPOLLHUP) it cancels */
		if (!c->pending)
			c->closing = 1;
		else if (revents & (EPOLLHUP | EPOLLERR))
			goto drop;
	}
	if (c->closing && !c->out_len)
		goto drop;
	update_events(c);
	return 0;
drop:
	client_free(c);
	return 0;
}

int nw_control_client_reply(struct nw_control_client *c, const cJSON *reply)
{
	char *text;
	int r;

	if (!c->pending)
		return -EINVAL;
	c->pending = 0;
	c->close_cb = NULL;
	text = cJSON_PrintUnformatted(reply);
	r = text ? nw_control_client_send(c, text) : -ENOMEM;
	free(text);
	if (r < 0)
		c->closing = 1;
	/* on_client runs once more: requests that came meanwhile, a peer
	 * that shut down, a failed send; the client is never freed here */
	c->kick = 1;
	update_events(c);
	return r;
}

void nw_control_client_set_close_cb(struct nw_control_client *c, nw_control_close_cb cb,
				    void *ud)
{
	c->close_cb = cb;
	c->close_ud = ud;
}

unsigned nw_control_pending(const struct nw_control *ctl)
{
	unsigned n = 0;

	for (struct nw_control_client *c = ctl->clients; c; c = c->next)
		n += c->pending == 1;
	return n;
}

static int on_accept(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct nw_control *ctl = userdata;
	struct nw_control_client *c;
	int cfd;
	(void)s;
	(void)revents;

	cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (cfd < 0)
		return 0;
	if (ctl->n_clients >= MAX_CLIENTS) {
		log_warn("control: more than %d clients, refusing one", MAX_CLIENTS);
		close(cfd);
		return 0;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		close(cfd);
		return 0;
	}
	c->ctl = ctl;
	c->fd = cfd;
	c->type_filter = -1;
	if (sd_event_add_io(ctl->e, &c->src, cfd, EPOLLIN, on_client, c) < 0) {
		free(c);
		close(cfd);
		return 0;
	}
	c->next = ctl->clients;
	ctl->clients = c;
	ctl->n_clients++;
	return 0;
}

int nw_control_open(struct nw_control **out, sd_event *e, const char *path,
		    nw_control_handler handler, void *userdata)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct nw_control *ctl;
	char dir[108], *slash;
	int err;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	ctl = calloc(1, sizeof(*ctl));
	if (!ctl)
		return -ENOMEM;
	ctl->fd = -1;
	ctl->e = e;
	ctl->handler = handler;
	ctl->userdata = userdata;
	strcpy(ctl->path, path);
	strcpy(dir, path);
	if ((slash = strrchr(dir, '/')) && slash != dir) {
		*slash = 0;
		if ((err = nw_mkdir_p(dir, 0755)))
			goto cleanup;
	}
	strcpy(sa.sun_path, path);
	ctl->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (ctl->fd < 0) {
		err = -errno;
		goto cleanup;
	}
	/* a stale socket from a killed instance goes; a live one is not ours */
	{
		int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

		if (probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			close(probe);
			err = -EADDRINUSE;
			goto cleanup;
		}
		if (probe >= 0)
			close(probe);
	}
	unlink(path);
	{
		mode_t old = umask(0177);	/* 0600 from the start: no window */

		err = bind(ctl->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ? -errno : 0;
		umask(old);
	}
	if (err)
		goto cleanup;
	if (listen(ctl->fd, 64) < 0) {
		err = -errno;
		goto cleanup;
	}
	if ((err = sd_event_add_io(e, &ctl->src, ctl->fd, EPOLLIN, on_accept, ctl)) < 0)
		goto cleanup;
	*out = ctl;
	return 0;
cleanup:
	if (ctl->fd >= 0)
		close(ctl->fd);
	free(ctl);
	return err;
}

void nw_control_close(struct nw_control *ctl)
{
	if (!ctl)
		return;
	while (ctl->clients)
		client_free(ctl->clients);
	sd_event_source_disable_unref(ctl->src);
	close(ctl->fd);
	unlink(ctl->path);
	free(ctl);
}

void nw_control_set_error(cJSON *reply, const char *msg)
{
	cJSON_ReplaceItemInObject(reply, "ok", cJSON_CreateFalse());
	cJSON_AddStringToObject(reply, "error", msg);
}

int nw_control_ms_field(const cJSON *req, const char *key, uint64_t min, uint64_t max,
			bool *given, uint64_t *out, char *msg, size_t msglen)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(req, key);

	*given = v && !cJSON_IsNull(v);
	if (!*given)
		return 0;
	if (!cJSON_IsNumber(v) || v->valuedouble < (double)min || v->valuedouble > (double)max ||
	    v->valuedouble != (double)(uint64_t)v->valuedouble) {
		snprintf(msg, msglen, "%s: must be a whole number of ms from %llu to %llu", key,
			 (unsigned long long)min, (unsigned long long)max);
		return -EINVAL;
	}
	*out = (uint64_t)v->valuedouble;
	return 0;
}
