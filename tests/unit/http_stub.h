/* SPDX-License-Identifier: GPL-2.0-only */
/* A tiny HTTP server for tests: a listening socket on 127.0.0.1 (a port of
 * its own) served by the test's own sd-event loop. Each connection sends a
 * request, gets one reply and is closed (Connection: close). The reply is
 * what route() picks for the request, or `reply` without a route. Eager,
 * it answers the first bytes that come, whatever they are (a TLS hello);
 * silent, it listens but never accepts (connections wait in the backlog).
 * http_stub_start clears everything: set route, ud, reply, content_type,
 * big_len and eager after it, before the loop runs. */
#ifndef NETWARD_TEST_HTTP_STUB_H
#define NETWARD_TEST_HTTP_STUB_H

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <cmocka.h>
#include <systemd/sd-event.h>

struct http_reply {
	int status;
	const char *body;		/* NULL: big_len spaces */
	const char *headers;		/* extra, each ending in \r\n */
};

struct http_stub;

struct http_stub_conn {
	struct http_stub_conn *next;
	struct http_stub *s;
	int fd;
	sd_event_source *io;
	char in[8192];
	size_t in_len;
	char *out;
	size_t out_len, out_off;
};

struct http_stub {
	sd_event *e;
	int fd;
	uint16_t port;
	sd_event_source *io;
	struct http_stub_conn *conns;
	/* the reply for "GET path" (request: all of it, headers too) */
	const struct http_reply *(*route)(struct http_stub *s, const char *path,
					  const char *request);
	void *ud;			/* route's */
	struct http_reply reply;	/* without a route */
	const char *content_type;	/* NULL: no Content-Type */
	size_t big_len;			/* the body of a reply whose body is NULL */
	bool eager;
	unsigned served;		/* requests answered */
};

static inline void http_stub_conn_free(struct http_stub_conn *c)
{
	struct http_stub_conn **pp;

	for (pp = &c->s->conns; *pp && *pp != c; pp = &(*pp)->next)
		;
	if (*pp)
		*pp = c->next;
	sd_event_source_disable_unref(c->io);
	close(c->fd);
	free(c->out);
	free(c);
}

static inline const char *http_stub_reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 401: return "Unauthorized";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	default: return "Whatever";
	}
}

/* the value of the (last) header name in request, "" without one */
static inline void http_stub_header(const char *request, const char *name, char *out,
				    size_t size)
{
	size_t n = strlen(name);
	const char *h, *eol;

	out[0] = 0;
	for (h = strstr(request, "\r\n"); h && (h += 2) && *h != '\r'; h = eol) {
		if (!(eol = strstr(h, "\r\n")))
			break;
		if (!strncasecmp(h, name, n) && h[n] == ':' && h[n + 1] == ' ')
			snprintf(out, size, "%.*s", (int)(eol - h - n - 2), h + n + 2);
	}
}

static inline void http_stub_respond(struct http_stub_conn *c)
{
	struct http_stub *s = c->s;
	char path[512] = "", head[1024], type[128] = "";
	const struct http_reply *r;
	size_t blen, hlen;

	c->in[c->in_len] = 0;
	sscanf(c->in, "GET %511s", path);
	r = s->route ? s->route(s, path, c->in) : &s->reply;
	blen = r->body ? strlen(r->body) : s->big_len;
	if (s->content_type)
		snprintf(type, sizeof(type), "Content-Type: %s\r\n", s->content_type);
	hlen = (size_t)snprintf(head, sizeof(head), "HTTP/1.1 %d %s\r\n%sContent-Length: %zu\r\n"
				"Connection: close\r\n%s\r\n", r->status,
				http_stub_reason(r->status), type, blen,
				r->headers ? r->headers : "");
	assert_non_null(c->out = malloc(hlen + blen));
	memcpy(c->out, head, hlen);
	if (r->body)
		memcpy(c->out + hlen, r->body, blen);
	else
		memset(c->out + hlen, ' ', blen);
	c->out_len = hlen + blen;
	s->served++;
	sd_event_source_set_io_events(c->io, EPOLLOUT);
}

static inline int http_stub_on_conn(sd_event_source *src, int fd, uint32_t revents, void *ud)
{
	struct http_stub_conn *c = ud;
	ssize_t n;
	(void)src;

	if (c->out) {
		n = write(fd, c->out + c->out_off, c->out_len - c->out_off);
		if (n < 0 && errno == EAGAIN)
			return 0;
		if (n <= 0 || (c->out_off += (size_t)n) == c->out_len)
			http_stub_conn_free(c);	/* Connection: close */
		return 0;
	}
	if (!(revents & EPOLLIN)) {
		http_stub_conn_free(c);
		return 0;
	}
	n = read(fd, c->in + c->in_len, sizeof(c->in) - 1 - c->in_len);
	if (n < 0 && errno == EAGAIN)
		return 0;
	if (n <= 0) {
		http_stub_conn_free(c);
		return 0;
	}
	c->in_len += (size_t)n;
	c->in[c->in_len] = 0;
	if (c->s->eager || strstr(c->in, "\r\n\r\n"))
		http_stub_respond(c);
	else if (c->in_len >= sizeof(c->in) - 1)
		http_stub_conn_free(c);
	return 0;
}

static inline int http_stub_on_accept(sd_event_source *src, int fd, uint32_t revents, void *ud)
{
	struct http_stub *s = ud;
	struct http_stub_conn *c;
	int cfd;
	(void)src;
	(void)revents;

	while ((cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		assert_non_null(c = calloc(1, sizeof(*c)));
		c->s = s;
		c->fd = cfd;
		assert_true(sd_event_add_io(s->e, &c->io, cfd, EPOLLIN, http_stub_on_conn, c) >= 0);
		c->next = s->conns;
		s->conns = c;
	}
	return 0;
}

static inline void http_stub_start(struct http_stub *s, sd_event *e, bool silent)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);

	memset(s, 0, sizeof(*s));
	s->e = e;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true((s->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) >= 0);
	assert_int_equal(bind(s->fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(s->fd, 64), 0);
	assert_int_equal(getsockname(s->fd, (struct sockaddr *)&sin, &len), 0);
	s->port = ntohs(sin.sin_port);
	if (!silent)
		assert_true(sd_event_add_io(e, &s->io, s->fd, EPOLLIN, http_stub_on_accept,
					    s) >= 0);
}

static inline void http_stub_stop(struct http_stub *s)
{
	while (s->conns)
		http_stub_conn_free(s->conns);
	s->io = sd_event_source_disable_unref(s->io);
	close(s->fd);
}

#endif
