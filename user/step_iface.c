// SPDX-License-Identifier: GPL-2.0-only
/*
 * flush_neighbour (level 1): the neighbour entries of the protected
 * default routes' gateways are deleted, so the kernel resolves them again
 * (a stale or wrong MAC, a permanent entry somebody left). bounce_interface
 * (level 3): the main interface goes down and up, and the step waits, on
 * link notifications, until it is up and running again. The requests run
 * in the netlink worker (step_worker.c): the loop never waits for the
 * kernel.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <libmnl/libmnl.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>

#include "steps_impl.h"

#define GATEWAYS_MAX 16

/* linux/if.h, which clashes with net/if.h */
#ifndef IFF_LOWER_UP
#define IFF_LOWER_UP 0x10000
#endif

/* --- flush_neighbour -------------------------------------------------------------- */

struct neigh {
	struct nw_gateway gw;
	char addr[48];
	char dev[IF_NAMESIZE];
	int state;		/* 0 pending, 1 deleted, 2 none, 3 failed */
	int err;
};

struct neigh_run {
	struct neigh v[GATEWAYS_MAX];
	size_t n;
};

static struct nlmsghdr *neigh_del(void *buf, size_t size, const struct nw_gateway *gw)
{
	struct nlmsghdr *nlh;
	struct ndmsg *ndm;
	size_t alen = gw->family == AF_INET ? 4 : 16;

	if (size < MNL_NLMSG_HDRLEN + MNL_ALIGN(sizeof(*ndm)) + MNL_ATTR_HDRLEN + 16)
		return NULL;
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_DELNEIGH;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	ndm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ndm));
	ndm->ndm_family = gw->family;
	ndm->ndm_ifindex = gw->ifindex;
	mnl_attr_put(nlh, NDA_DST, alen, gw->addr);
	return nlh;
}

static void neigh_finish(struct step_run *r, bool at_deadline)
{
	struct neigh_run *nr = r->priv;
	char del[300] = "", fail[200] = "", pend[200] = "";
	unsigned n_del = 0, n_fail = 0, n_pend = 0;

	for (size_t i = 0; i < nr->n; i++) {
		struct neigh *k = &nr->v[i];

		if (k->state == 1) {
			n_del++;
			step_list_add(del, sizeof(del), "%s on %s", k->addr, k->dev);
		} else if (k->state == 3) {
			n_fail++;
			step_list_add(fail, sizeof(fail), "%s on %s: %s", k->addr, k->dev,
				      strerror(-k->err));
		} else if (k->state == 0) {
			n_pend++;
			step_list_add(pend, sizeof(pend), "%s on %s", k->addr, k->dev);
		}
	}
	r->out.changes = n_del;
	if (n_del)
		step_detail(r, "flushed the neighbour entr%s of %s", n_del == 1 ? "y" : "ies", del);
	else
		step_detail(r, "no neighbour entry for the gateways");
	if (n_fail || n_pend)
		step_leftover(r, "%s%s%s%s", fail, n_fail && n_pend ? ", " : "",
			      n_pend ? "not answered: " : "", pend);
	if (at_deadline && n_pend)
		step_complete(r, NW_STEP_TIMEOUT);
	else if (n_del)
		step_complete(r, NW_STEP_CHANGED);
	else
		step_complete(r, n_fail || n_pend ? NW_STEP_FAILED : NW_STEP_NOTHING);
}

static void neigh_on_result(struct step_run *r, unsigned op, int err, const char *ext)
{
	struct neigh_run *nr = r->priv;

	(void)ext;
	nr->v[op].err = err;
	nr->v[op].state = !err ? 1 : err == -ENOENT || err == -ENODEV ? 2 : 3;
}

static void neigh_on_end(struct step_run *r)
{
	neigh_finish(r, false);
}

static void neigh_timeout(struct step_run *r)
{
	neigh_finish(r, true);
}

static int neigh_start(struct step_run *r)
{
	const struct nw_steps_env *env = &r->s->env;
	struct nw_gateway gws[GATEWAYS_MAX];
	struct neigh_run *nr = calloc(1, sizeof(*nr));
	struct nlw_job *j = NULL;
	char names[400] = "";
	int main_index = r->main_if[0] ? (int)if_nametoindex(r->main_if) : 0;
	size_t n;
	int err;

	if (!nr)
		return -ENOMEM;
	r->priv = nr;
	if (!env->gateways) {
		step_detail(r, "no gateway list");
		step_complete(r, NW_STEP_SKIPPED);
		return 0;
	}
	n = env->gateways(env->ud, gws, GATEWAYS_MAX);
	for (size_t i = 0; i < n && i < GATEWAYS_MAX; i++) {
		struct neigh *k = &nr->v[nr->n];

		if (gws[i].family != AF_INET && gws[i].family != AF_INET6)
			continue;
		k->gw = gws[i];
		if (!k->gw.ifindex)
			k->gw.ifindex = main_index;
		if (!k->gw.ifindex || nw_ifname(k->gw.ifindex, k->dev))
			continue;	/* no device to flush it on */
		nw_addr_str(k->gw.family, k->gw.addr, k->addr, sizeof(k->addr));
		step_list_add(names, sizeof(names), "%s on %s", k->addr, k->dev);
		nr->n++;
	}
	if (!nr->n) {
		step_detail(r, n ? "the gateways' devices are gone" : "no gateway known");
		step_complete(r, NW_STEP_SKIPPED);
		return 0;
	}
	if (r->dry_run) {
		step_detail(r, "would flush the neighbour entr%s of %s", nr->n == 1 ? "y" : "ies",
			    names);
		step_complete(r, NW_STEP_DRY_RUN);
		return 0;
	}
	if ((err = nlw_job_new(&j, nr->n)))
		return err;
	for (size_t i = 0; i < nr->n; i++) {
		char buf[128];

		if ((err = nlw_job_add(j, i, neigh_del(buf, sizeof(buf), &nr->v[i].gw), 0))) {
			nlw_job_free(j);
			return err;
		}
	}
	return nlw_start(r, j, neigh_on_result, neigh_on_end);
}

static void neigh_cleanup(struct step_run *r)
{
	free(r->priv);
}

const struct step_impl nw_step_flush_neighbour_impl = {
	.start = neigh_start,
	.timeout = neigh_timeout,
	.cleanup = neigh_cleanup,
};

/* --- bounce_interface -------------------------------------------------------------- */

struct bounce_run {
	int ifindex;
	struct mnl_socket *mon;		/* RTMGRP_LINK, subscribed before the requests */
	sd_event_source *mon_src;
	bool requests_done;
	bool seen_down;			/* a notification with IFF_UP clear came */
	unsigned flags;			/* the latest notified flags */
	int err_down, err_up;
	unsigned answered;
	char *buf;
};

#define BOUNCE_BUF 16384

/* IFF_RUNNING: the operational state is up. The kernel sets it from the
 * link watch a moment after the carrier (IFF_LOWER_UP) comes; traffic and
 * the test's SIOCGIFFLAGS agree with it, so wait for it. */
static bool up_and_running(unsigned flags)
{
	return (flags & IFF_UP) && (flags & IFF_RUNNING);
}

/* SIOCGIFFLAGS: under RCU, does not wait for the RTNL lock. 0 when gone. */
static unsigned ioctl_flags(const char *name)
{
	struct ifreq ifr = { 0 };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	unsigned flags = 0;

	if (fd < 0)
		return 0;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) == 0)
		flags = (unsigned short)ifr.ifr_flags;
	close(fd);
	return flags;
}

static void flags_str(unsigned flags, char *buf, size_t size)
{
	snprintf(buf, size, "%s, %s", flags & IFF_UP ? "up" : "down",
		 flags & (IFF_RUNNING | IFF_LOWER_UP) ? "running" : "no carrier");
}

static void bounce_check(struct step_run *r, bool now_too)
{
	struct bounce_run *b = r->priv;

	if (!b->requests_done)
		return;
	if ((b->seen_down && up_and_running(b->flags)) ||
	    (now_too && up_and_running(ioctl_flags(r->main_if)))) {
		r->out.changes = 1;
		step_detail(r, "%s set down and up: up and running after %llu ms", r->main_if,
			    (unsigned long long)step_elapsed_ms(r));
		step_complete(r, NW_STEP_CHANGED);
	}
}

static int on_link_event(sd_event_source *src, int fd, uint32_t revents, void *ud)
{
	struct step_run *r = ud;
	struct bounce_run *b = r->priv;

	(void)src;
	(void)fd;
	(void)revents;
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(b->mon, b->buf, BOUNCE_BUF);
		const struct nlmsghdr *m = (const void *)b->buf;
		int len = (int)n;

		if (n < 0) {
			if (errno == ENOBUFS) {
				/* notifications lost: ask the kernel directly */
				bounce_check(r, true);
				if (r->completed)
					return 0;
				continue;
			}
			break;	/* EAGAIN */
		}
		for (; nw_nlmsg_ok(m, len); m = mnl_nlmsg_next(m, &len)) {
			struct nw_link l;

			if (m->nlmsg_type != RTM_NEWLINK || nw_link_parse(m, &l) ||
			    l.ifindex != b->ifindex)
				continue;
			if (!(l.flags & IFF_UP))
				b->seen_down = true;
			b->flags = l.flags;
		}
	}
	bounce_check(r, false);
	return 0;
}

static void bounce_on_result(struct step_run *r, unsigned op, int err, const char *ext)
{
	struct bounce_run *b = r->priv;

	(void)ext;
	b->answered++;
	if (op == 0)
		b->err_down = err;
	else
		b->err_up = err;
}

static void bounce_on_end(struct step_run *r)
{
	struct bounce_run *b = r->priv;

	if (b->answered < 2) {
		step_detail(r, "setting %s down and up: the netlink worker ended early",
			    r->main_if);
		step_complete(r, NW_STEP_FAILED);
		return;
	}
	if (b->err_down || b->err_up) {
		step_detail(r, "setting %s %s: %s", r->main_if, b->err_up ? "up" : "down",
			    strerror(-(b->err_up ? b->err_up : b->err_down)));
		step_complete(r, NW_STEP_FAILED);
		return;
	}
	b->requests_done = true;
	/* notifications may lag behind the answers: look now, then wait */
	bounce_check(r, true);
}

static void bounce_timeout(struct step_run *r)
{
	struct bounce_run *b = r->priv;
	char f[32];

	flags_str(ioctl_flags(r->main_if), f, sizeof(f));
	if (!b->requests_done) {
		step_detail(r, "setting %s down and up did not finish", r->main_if);
		step_leftover(r, "%s %s after %u ms", r->main_if, f, r->timeout_ms);
	} else {
		r->out.changes = 1;
		step_detail(r, "%s set down and up", r->main_if);
		step_leftover(r, "%s not running after %u ms (%s)", r->main_if, r->timeout_ms, f);
	}
	step_complete(r, NW_STEP_TIMEOUT);
}

static int bounce_start(struct step_run *r)
{
	struct bounce_run *b = calloc(1, sizeof(*b));
	struct nlw_job *j = NULL;
	char buf[256];
	int err;

	if (!b)
		return -ENOMEM;
	r->priv = b;
	if (!r->main_if[0]) {
		step_detail(r, "no main interface (recovery.main_interface is unset and there is "
			    "no default route)");
		step_complete(r, NW_STEP_SKIPPED);
		return 0;
	}
	if ((b->ifindex = (int)if_nametoindex(r->main_if)) <= 0) {
		step_detail(r, "main interface %s not found", r->main_if);
		step_complete(r, NW_STEP_FAILED);
		return 0;
	}
	if (r->dry_run) {
		step_detail(r, "would set %s down and up", r->main_if);
		step_complete(r, NW_STEP_DRY_RUN);
		return 0;
	}
	b->seen_down = !(ioctl_flags(r->main_if) & IFF_UP);
	if (!(b->buf = malloc(BOUNCE_BUF)))
		return -ENOMEM;
	b->mon = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (!b->mon)
		return -errno;
	if (mnl_socket_bind(b->mon, RTMGRP_LINK, MNL_SOCKET_AUTOPID) < 0)
		return -errno;
	if ((err = sd_event_add_io(r->e, &b->mon_src, mnl_socket_get_fd(b->mon), EPOLLIN,
				   on_link_event, r)) < 0)
		return err;
	if ((err = nlw_job_new(&j, 2)))
		return err;
	if ((err = nlw_job_add(j, 0, nlw_link_flags(buf, sizeof(buf), b->ifindex, 0, IFF_UP), 0)) ||
	    (err = nlw_job_add(j, 1, nlw_link_flags(buf, sizeof(buf), b->ifindex, IFF_UP, IFF_UP),
			       0))) {
		nlw_job_free(j);
		return err;
	}
	return nlw_start(r, j, bounce_on_result, bounce_on_end);
}

static void bounce_cleanup(struct step_run *r)
{
	struct bounce_run *b = r->priv;

	if (!b)
		return;
	sd_event_source_disable_unref(b->mon_src);
	if (b->mon)
		mnl_socket_close(b->mon);
	free(b->buf);
	free(b);
}

const struct step_impl nw_step_bounce_impl = {
	.start = bounce_start,
	.timeout = bounce_timeout,
	.cleanup = bounce_cleanup,
};
