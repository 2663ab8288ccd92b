// SPDX-License-Identifier: GPL-2.0-only
/* tcp probes: a non-blocking connect per run; connected (writable with
 * SO_ERROR 0) is a pass, anything else, "connection refused" included, a
 * failure. The socket is closed as soon as the answer is known. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "probe_impl.h"

struct tcp_run {
	struct nw_probe_run *run;
	int fd;
	sd_event_source *io;
};

static void tcp_run_free(struct tcp_run *tr)
{
	if (!tr)
		return;
	sd_event_source_disable_unref(tr->io);
	if (tr->fd >= 0)
		close(tr->fd);
	free(tr);
}

static void set_result(struct nw_probe_result *r, const struct nw_probe_cfg *cfg, int err)
{
	struct sockaddr_storage ss;
	char a[INET6_ADDRSTRLEN];

	nw_probe_sockaddr(cfg, cfg->port, &ss);
	nw_probe_ntop(&ss, a, sizeof(a));
	if (!err)
		nw_probe_result_set(r, true, 0, "connected to %s%s%s:%u", ss.ss_family == AF_INET6 ?
				    "[" : "", a, ss.ss_family == AF_INET6 ? "]" : "", cfg->port);
	else
		nw_probe_result_set(r, false, err, "connect: %s", strerror(err));
}

static int on_io(sd_event_source *s, int fd, uint32_t revents, void *ud)
{
	struct tcp_run *tr = ud;
	struct nw_probe_run *run = tr->run;
	struct nw_probe_result r = { 0 };
	socklen_t len = sizeof(int);
	int err = 0;
	(void)s;

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	else if (!err && !(revents & EPOLLOUT))
		return 0;	/* not yet */
	set_result(&r, run->cfg, err);
	tcp_run_free(tr);
	run->priv = NULL;
	nw_probe_run_finish(run, &r);
	return 0;
}

static int tcp_start(struct nw_probe_run *run, struct nw_probe_result *r)
{
	const struct nw_probe_cfg *cfg = run->cfg;
	struct sockaddr_storage dst;
	const char *what = "socket";
	struct tcp_run *tr;
	socklen_t dlen;
	int err;

	if (!(tr = calloc(1, sizeof(*tr))))
		return -ENOMEM;
	tr->run = run;
	tr->fd = -1;
	if (!(dlen = nw_probe_sockaddr(cfg, cfg->port, &dst))) {
		err = -EAFNOSUPPORT;
		goto fail;
	}
	if ((tr->fd = socket(dst.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0) {
		err = -errno;
		goto fail;
	}
	if ((err = nw_probe_sock_setup(tr->fd, cfg, &what)) < 0)
		goto fail;
	if (connect(tr->fd, (struct sockaddr *)&dst, dlen) == 0) {
		/* connected at once (not seen on Linux, but allowed) */
		tcp_run_free(tr);
		set_result(r, cfg, 0);
		return 1;
	}
	if (errno != EINPROGRESS) {
		/* refused on loopback, no route, ...: the answer already */
		err = errno;
		tcp_run_free(tr);
		set_result(r, cfg, err);
		return 1;
	}
	if ((err = sd_event_add_io(run->e, &tr->io, tr->fd, EPOLLOUT, on_io, tr)) < 0) {
		what = "sd_event_add_io";
		goto fail;
	}
	run->priv = tr;
	return 0;
fail:
	tcp_run_free(tr);
	nw_probe_result_set(r, false, -err, "%s: %s", what, strerror(-err));
	return 1;
}

static void tcp_cancel(struct nw_probe_run *run)
{
	tcp_run_free(run->priv);
	run->priv = NULL;
}

const struct nw_probe_type_ops nw_probe_tcp_ops = {
	.start = tcp_start,
	.cancel = tcp_cancel,
};
