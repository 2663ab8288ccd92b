// SPDX-License-Identifier: GPL-2.0-only
/*
 * libcurl's multi interface on sd-event (see curl_event.h): curl tells us
 * which sockets to watch (CURLMOPT_SOCKETFUNCTION: one io source each) and
 * when to call it back (CURLMOPT_TIMERFUNCTION: one timer); both hand the
 * event to curl_multi_socket_action, after which finished transfers are
 * read off curl_multi_info_read and their done callbacks called. A done
 * callback may add or remove transfers, or free the whole thing.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>
#include <sys/epoll.h>

#include "curl_event.h"
#include "util.h"

struct xfer {
	struct xfer *next;
	CURL *easy;
	nw_curl_done_fn done;
	void *ud;
};

/* a socket curl wants watched */
struct sock {
	struct sock *prev, *next;
	struct nw_curl *c;
	sd_event_source *io;
};

struct nw_curl {
	sd_event *e;
	CURLM *multi;
	sd_event_source *timer;
	struct xfer *xfers;
	unsigned n_xfers;
	struct sock *socks;
	unsigned busy;		/* in check_done: freeing waits */
	bool dead;		/* nw_curl_free was called while busy */
};

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc;

static void global_init(void)
{
	global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void sock_free(struct nw_curl *c, struct sock *s)
{
	if (s->prev)
		s->prev->next = s->next;
	else
		c->socks = s->next;
	if (s->next)
		s->next->prev = s->prev;
	/* sd-event keeps a source being dispatched until its callback returns */
	sd_event_source_disable_unref(s->io);
	free(s);
}

static struct xfer *xfer_unlink(struct nw_curl *c, CURL *easy)
{
	for (struct xfer **pp = &c->xfers; *pp; pp = &(*pp)->next) {
		struct xfer *x = *pp;

		if (x->easy == easy) {
			*pp = x->next;
			c->n_xfers--;
			return x;
		}
	}
	return NULL;
}

/* every transfer out and cleaned up, without done */
static void drop_all(struct nw_curl *c)
{
	while (c->xfers) {
		struct xfer *x = c->xfers;

		c->xfers = x->next;
		c->n_xfers--;
		curl_multi_remove_handle(c->multi, x->easy);
		curl_easy_cleanup(x->easy);
		free(x);
	}
}

static void destroy(struct nw_curl *c)
{
	drop_all(c);
	/* may still call the socket callback for the sockets it closes */
	if (c->multi)
		curl_multi_cleanup(c->multi);
	while (c->socks)
		sock_free(c, c->socks);
	sd_event_source_disable_unref(c->timer);
	sd_event_unref(c->e);
	free(c);
}

/* done callbacks of the finished transfers; c may be gone after */
static void check_done(struct nw_curl *c)
{
	CURLMsg *m;
	int left;

	c->busy++;
	while (!c->dead && (m = curl_multi_info_read(c->multi, &left))) {
		CURL *easy = m->easy_handle;
		CURLcode rc = m->data.result;
		struct xfer *x;

		if (m->msg != CURLMSG_DONE)
			continue;
		/* m is invalid from here */
		curl_multi_remove_handle(c->multi, easy);
		if (!(x = xfer_unlink(c, easy)))
			continue;
		{
			nw_curl_done_fn done = x->done;
			void *ud = x->ud;

			free(x);
			done(ud, easy, rc);
		}
	}
	if (!--c->busy && c->dead)
		destroy(c);
}

static void action(struct nw_curl *c, curl_socket_t fd, int flags)
{
	int running;

	curl_multi_socket_action(c->multi, fd, flags, &running);
	check_done(c);
}

static int on_io(sd_event_source *src, int fd, uint32_t revents, void *ud)
{
	struct sock *s = ud;
	int flags = 0;
	(void)src;

	if (revents & EPOLLIN)
		flags |= CURL_CSELECT_IN;
	if (revents & EPOLLOUT)
		flags |= CURL_CSELECT_OUT;
	if (revents & (EPOLLERR | EPOLLHUP))
		flags |= CURL_CSELECT_ERR;
	/* s may be freed in there */
	action(s->c, fd, flags);
	return 0;
}

static int on_timer(sd_event_source *src, uint64_t usec, void *ud)
{
	(void)src;
	(void)usec;
	action(ud, CURL_SOCKET_TIMEOUT, 0);
	return 0;
}

static int socket_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
	struct nw_curl *c = userp;
	struct sock *s = socketp;
	uint32_t events = 0;
	(void)easy;

	if (what == CURL_POLL_REMOVE) {
		if (s) {
			curl_multi_assign(c->multi, fd, NULL);
			sock_free(c, s);
		}
		return 0;
	}
	if (what & CURL_POLL_IN)
		events |= EPOLLIN;
	if (what & CURL_POLL_OUT)
		events |= EPOLLOUT;
	if (s)
		return sd_event_source_set_io_events(s->io, events) < 0 ? -1 : 0;
	if (!(s = calloc(1, sizeof(*s))))
		return -1;
	s->c = c;
	if (sd_event_add_io(c->e, &s->io, fd, events, on_io, s) < 0) {
		free(s);
		return -1;
	}
	s->next = c->socks;
	if (c->socks)
		c->socks->prev = s;
	c->socks = s;
	curl_multi_assign(c->multi, fd, s);
	return 0;
}

static int timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	struct nw_curl *c = userp;
	(void)multi;

	if (timeout_ms < 0)
		return sd_event_source_set_enabled(c->timer, SD_EVENT_OFF) < 0 ? -1 : 0;
	/* 0: as soon as the loop runs again, never from in here */
	if (sd_event_source_set_time(c->timer, nw_now_ns(CLOCK_MONOTONIC) / 1000 +
				     (uint64_t)timeout_ms * 1000) < 0 ||
	    sd_event_source_set_enabled(c->timer, SD_EVENT_ONESHOT) < 0)
		return -1;
	return 0;
}

int nw_curl_new(struct nw_curl **out, sd_event *e)
{
	struct nw_curl *c;
	int err;

	if (!out || !e)
		return -EINVAL;
	pthread_once(&global_once, global_init);
	if (global_rc != CURLE_OK)
		return -ENOMEM;	/* what curl_global_init fails of, in practice */
	if (!(c = calloc(1, sizeof(*c))))
		return -ENOMEM;
	c->e = sd_event_ref(e);
	if ((err = sd_event_add_time(e, &c->timer, CLOCK_MONOTONIC, 0, 1000, on_timer, c)) < 0 ||
	    (err = sd_event_source_set_enabled(c->timer, SD_EVENT_OFF)) < 0)
		goto cleanup;
	if (!(c->multi = curl_multi_init())) {
		err = -ENOMEM;
		goto cleanup;
	}
	if (curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, socket_cb) != CURLM_OK ||
	    curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c) != CURLM_OK ||
	    curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, timer_cb) != CURLM_OK ||
	    curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c) != CURLM_OK) {
		err = -EINVAL;
		goto cleanup;
	}
	*out = c;
	return 0;
cleanup:
	destroy(c);
	return err;
}

void nw_curl_free(struct nw_curl *c)
{
	if (!c)
		return;
	if (c->busy) {
		/* from a done callback: check_done finishes the job */
		c->dead = true;
		drop_all(c);
		return;
	}
	destroy(c);
}

int nw_curl_add(struct nw_curl *c, CURL *easy, nw_curl_done_fn done, void *ud)
{
	struct xfer *x;
	CURLMcode rc;

	if (!c || !easy || !done || c->dead)
		return -EINVAL;
	if (!(x = calloc(1, sizeof(*x))))
		return -ENOMEM;
	x->easy = easy;
	x->done = done;
	x->ud = ud;
	if ((rc = curl_multi_add_handle(c->multi, easy)) != CURLM_OK) {
		free(x);
		return rc == CURLM_OUT_OF_MEMORY ? -ENOMEM : rc == CURLM_ADDED_ALREADY ? -EALREADY :
									    -EINVAL;
	}
	x->next = c->xfers;
	c->xfers = x;
	c->n_xfers++;
	return 0;
}

void nw_curl_remove(struct nw_curl *c, CURL *easy)
{
	struct xfer *x;

	if (!c || !easy || !(x = xfer_unlink(c, easy)))
		return;
	free(x);
	curl_multi_remove_handle(c->multi, easy);
}

unsigned nw_curl_running(const struct nw_curl *c)
{
	return c ? c->n_xfers : 0;
}

CURLcode nw_curl_setup(CURL *easy, const char *url, uint32_t timeout_ms, const char *user_agent)
{
	CURLcode rc;

	if ((rc = curl_easy_setopt(easy, CURLOPT_URL, url)) ||
	    (rc = curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, (long)timeout_ms)) ||
	    (rc = curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L)) ||
	    (rc = curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L)) ||
	    (rc = curl_easy_setopt(easy, CURLOPT_USERAGENT, user_agent)))
		return rc;
#if LIBCURL_VERSION_NUM >= 0x075500
	if ((rc = curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https")))
		return rc;
#endif
#if LIBCURL_VERSION_NUM >= 0x075700
	if ((rc = curl_easy_setopt(easy, CURLOPT_QUICK_EXIT, 1L)))
		return rc;
#endif
	return CURLE_OK;
}
