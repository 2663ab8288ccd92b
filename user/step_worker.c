// SPDX-License-Identifier: GPL-2.0-only
/*
 * The netlink worker of the recovery steps: rtnetlink writes (deleting an
 * interface, a rule, a neighbour entry, setting a link down and up) run in
 * a thread with its own socket, because such a request can hang in the
 * kernel for minutes (seed 002: `ip link del wg103` stuck on the RTNL
 * lock) and the daemon's loop must not hang with it.
 *
 * The thread owns everything it touches: the job (requests), its socket,
 * its end of a SOCK_SEQPACKET socketpair. It reports one record per op on
 * that pair; the loop watches its end (sd_event_add_io). When the step
 * ends first (deadline, nw_steps_free), the loop closes its end: the
 * thread notices (POLLHUP, or EPIPE without SIGPIPE thanks to
 * MSG_NOSIGNAL), starts no further op, frees its job and exits whenever
 * its current request returns. Nothing is shared, so there is nothing to
 * count references of.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>

#include "steps_impl.h"

/* more than this many workers still inside the kernel: the RTNL lock is
 * stuck, more threads would only queue behind it */
#define NLW_MAX_LIVE 4
#define NLW_ACK_MS 30000	/* one request: bounded, but the loop does not wait for it */

struct nlw_op {
	unsigned flags;
	unsigned n;
	struct nlmsghdr *msg[NLW_OP_MSGS];
};

struct nlw_job {
	int fd;			/* the thread's end */
	unsigned delay_ms;
	size_t n_ops;
	struct nlw_op ops[];
};

struct nlw_record {
	uint32_t op;
	int32_t err;
	char ext[120];
};

static atomic_uint live;

unsigned nlw_live(void)
{
	return atomic_load(&live);
}

/* --- requests ------------------------------------------------------------------ */

struct nlmsghdr *nlw_link_flags(void *buf, size_t size, int ifindex, unsigned flags,
				unsigned change)
{
	struct nlmsghdr *nlh;
	struct ifinfomsg *ifi;

	if (size < MNL_NLMSG_HDRLEN + MNL_ALIGN(sizeof(*ifi)))
		return NULL;
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_NEWLINK;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = ifindex;
	ifi->ifi_flags = flags;
	ifi->ifi_change = change;
	return nlh;
}

struct nlmsghdr *nlw_link_del(void *buf, size_t size, int ifindex)
{
	struct nlmsghdr *nlh;
	struct ifinfomsg *ifi;

	if (size < MNL_NLMSG_HDRLEN + MNL_ALIGN(sizeof(*ifi)))
		return NULL;
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_DELLINK;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = ifindex;
	return nlh;
}

/* --- jobs ------------------------------------------------------------------------ */

int nlw_job_new(struct nlw_job **out, size_t n_ops)
{
	struct nlw_job *j = calloc(1, sizeof(*j) + n_ops * sizeof(j->ops[0]));

	if (!j)
		return -ENOMEM;
	j->fd = -1;
	j->n_ops = n_ops;
	*out = j;
	return 0;
}

void nlw_job_free(struct nlw_job *j)
{
	if (!j)
		return;
	for (size_t i = 0; i < j->n_ops; i++)
		for (unsigned k = 0; k < j->ops[i].n; k++)
			free(j->ops[i].msg[k]);
	if (j->fd >= 0)
		close(j->fd);
	free(j);
}

int nlw_job_add(struct nlw_job *j, size_t op, const struct nlmsghdr *nlh, unsigned flags)
{
	struct nlw_op *o;

	if (!nlh || op >= j->n_ops)
		return -EINVAL;
	o = &j->ops[op];
	if (o->n == NLW_OP_MSGS)
		return -E2BIG;
	if (!(o->msg[o->n] = malloc(nlh->nlmsg_len)))
		return -ENOMEM;
	memcpy(o->msg[o->n++], nlh, nlh->nlmsg_len);
	o->flags |= flags;
	return 0;
}

void nlw_job_set_delay(struct nlw_job *j, unsigned delay_ms)
{
	j->delay_ms = delay_ms;
}

/* --- the thread ------------------------------------------------------------------ */

static bool abandoned(int fd)
{
	struct pollfd p = { .fd = fd, .events = 0 };

	return poll(&p, 1, 0) > 0 && (p.revents & (POLLHUP | POLLERR | POLLNVAL));
}

/* the fault hook: stands in for a request hanging in the kernel */
static void fault_delay(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int run_op(struct nw_rtnl *nl, const struct nlw_op *o, char *ext, size_t extlen)
{
	int err = 0;

	for (unsigned k = 0; k < o->n; k++) {
		err = nw_rtnl_request(nl, o->msg[k], NLW_ACK_MS, ext, extlen);
		if (!err)
			continue;
		if (k == 0 && o->n > 1 && (o->flags & NLW_FIRST_BEST_EFFORT) && err != -ENODEV)
			continue;
		break;
	}
	return err;
}

static void *nlw_main(void *arg)
{
	struct nlw_job *j = arg;
	struct nw_rtnl *nl = NULL;
	int open_err = nw_rtnl_open(&nl);

	for (size_t i = 0; i < j->n_ops; i++) {
		struct nlw_record rec = { .op = (uint32_t)i };
		const struct nlw_op *o = &j->ops[i];

		if (abandoned(j->fd))
			break;
		if (j->delay_ms && (o->flags & NLW_FAULT_DELAY)) {
			fault_delay(j->delay_ms);
			if (abandoned(j->fd))
				break;
		}
		rec.err = open_err ? open_err : run_op(nl, o, rec.ext, sizeof(rec.ext));
		if (send(j->fd, &rec, sizeof(rec), MSG_NOSIGNAL) < 0)
			break;
	}
	nw_rtnl_close(nl);
	nlw_job_free(j);
	atomic_fetch_sub(&live, 1);
	return NULL;
}

/* --- the loop's end ------------------------------------------------------------------ */

void nlw_close(struct nlw_conn *c)
{
	c->src = sd_event_source_disable_unref(c->src);
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

static int on_records(sd_event_source *src, int fd, uint32_t revents, void *ud)
{
	struct step_run *r = ud;
	struct nlw_conn *c = &r->nlw;

	(void)src;
	(void)revents;
	for (;;) {
		struct nlw_record rec;
		ssize_t n = recv(fd, &rec, sizeof(rec), MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return 0;
		if (n == (ssize_t)sizeof(rec) && rec.op < c->n_ops) {
			rec.ext[sizeof(rec.ext) - 1] = 0;
			c->n_results++;
			c->on_result(r, rec.op, rec.err, rec.ext);
			if (r->completed)
				return 0;
			if (c->n_results < c->n_ops)
				continue;
		}
		/* all answered, or the thread is gone (0: end of file) */
		nlw_close(c);
		c->on_end(r);
		return 0;
	}
}

int nlw_start(struct step_run *r, struct nlw_job *j, nlw_result_fn on_result, nlw_end_fn on_end)
{
	struct nlw_conn *c = &r->nlw;
	pthread_attr_t attr;
	sigset_t all, old;
	int sv[2] = { -1, -1 }, err;
	bool attr_init = false;

	if (atomic_load(&live) >= NLW_MAX_LIVE) {
		step_detail(r, "%u earlier netlink requests still hang in the kernel",
			    atomic_load(&live));
		err = -EDEADLK;
		goto cleanup;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		err = -errno;
		goto cleanup;
	}
	c->fd = sv[0];
	c->n_ops = j->n_ops;
	c->n_results = 0;
	c->on_result = on_result;
	c->on_end = on_end;
	if ((err = sd_event_add_io(r->e, &c->src, c->fd, EPOLLIN, on_records, r)) < 0)
		goto cleanup;
	j->fd = sv[1];
	sv[1] = -1;
	if ((err = -pthread_attr_init(&attr)))
		goto cleanup;
	attr_init = true;
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	/* the thread takes no signal: they belong to the loop */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	atomic_fetch_add(&live, 1);
	{
		pthread_t t;

		err = -pthread_create(&t, &attr, nlw_main, j);
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err) {
		atomic_fetch_sub(&live, 1);
		goto cleanup;
	}
	j = NULL;
cleanup:
	if (attr_init)
		pthread_attr_destroy(&attr);
	if (sv[1] >= 0)
		close(sv[1]);
	if (err)
		nlw_close(c);
	nlw_job_free(j);
	return err;
}
