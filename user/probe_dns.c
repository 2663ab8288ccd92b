// SPDX-License-Identifier: GPL-2.0-only
/*
 * dns probes: the system resolver (getaddrinfo: /etc/hosts, nss, the
 * servers of resolv.conf), as every other program on the host sees it.
 *
 * sd-resolve is not part of libsystemd's public API, and getaddrinfo
 * blocks: each run resolves in a detached thread of its own, which answers
 * through an eventfd watched by the loop. The query and the thread share
 * one reference-counted job; a cancelled run drops its reference and the
 * thread, which cannot be interrupted, frees the job when it returns.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include "probe_impl.h"

#define THREAD_STACK (1024 * 1024)	/* glibc resolver, nss modules, ASan */

struct dns_job {
	atomic_int refs;	/* the thread and the run */
	atomic_bool answered;
	int fd;			/* eventfd: the thread writes once */
	char *name;
	int family;
	int rc, sys_errno;	/* getaddrinfo's answer */
	struct addrinfo *res;
};

struct dns_run {
	struct nw_probe_run *run;
	struct dns_job *job;
	sd_event_source *io;
};

static void job_unref(struct dns_job *j)
{
	if (atomic_fetch_sub(&j->refs, 1) != 1)
		return;
	if (j->fd >= 0)
		close(j->fd);
	if (j->res)
		freeaddrinfo(j->res);
	free(j->name);
	free(j);
}

static void *resolve(void *ud)
{
	struct dns_job *j = ud;
	struct addrinfo hints = {
		.ai_family = j->family,
		.ai_socktype = SOCK_STREAM,	/* one entry per address */
	};

	j->rc = getaddrinfo(j->name, NULL, &hints, &j->res);
	j->sys_errno = errno;
	atomic_store(&j->answered, true);
	(void)eventfd_write(j->fd, 1);
	job_unref(j);
	return NULL;
}

static void dns_run_free(struct dns_run *dr)
{
	if (!dr)
		return;
	sd_event_source_disable_unref(dr->io);
	if (dr->job)
		job_unref(dr->job);
	free(dr);
}

static int gai_errno(const struct dns_job *j)
{
	switch (j->rc) {
	case EAI_SYSTEM: return j->sys_errno ? j->sys_errno : EIO;
	case EAI_AGAIN: return EAGAIN;
	case EAI_MEMORY: return ENOMEM;
	case EAI_FAMILY: return EAFNOSUPPORT;
	default: return ENOENT;		/* no such name, or no address of the family */
	}
}

static void set_result(struct nw_probe_result *r, const struct dns_job *j)
{
	char a[INET6_ADDRSTRLEN] = "?";
	const struct addrinfo *ai;
	unsigned n = 0;

	if (j->rc) {
		int err = gai_errno(j);

		nw_probe_result_set(r, false, err, "getaddrinfo: %s",
				    j->rc == EAI_SYSTEM ? strerror(err) : gai_strerror(j->rc));
		return;
	}
	for (ai = j->res; ai; ai = ai->ai_next)
		if (ai->ai_family == AF_INET || ai->ai_family == AF_INET6)
			n++;
	for (ai = j->res; ai; ai = ai->ai_next)
		if (ai->ai_family == AF_INET || ai->ai_family == AF_INET6) {
			struct sockaddr_storage ss = { 0 };

			memcpy(&ss, ai->ai_addr, ai->ai_addrlen < sizeof(ss) ? ai->ai_addrlen :
									       sizeof(ss));
			nw_probe_ntop(&ss, a, sizeof(a));
			break;
		}
	if (!n)
		nw_probe_result_set(r, false, ENOENT, "no address");
	else
		nw_probe_result_set(r, true, 0, "%u address%s, first %s", n, n == 1 ? "" : "es", a);
}

static int on_io(sd_event_source *s, int fd, uint32_t revents, void *ud)
{
	struct dns_run *dr = ud;
	struct nw_probe_run *run = dr->run;
	struct nw_probe_result r = { 0 };
	eventfd_t v;
	(void)s;
	(void)revents;

	if (eventfd_read(fd, &v) < 0 || !atomic_load(&dr->job->answered))
		return 0;
	set_result(&r, dr->job);
	dns_run_free(dr);
	run->priv = NULL;
	nw_probe_run_finish(run, &r);
	return 0;
}

static int spawn(struct dns_job *j)
{
	pthread_attr_t attr;
	sigset_t all, old;
	pthread_t t;
	int err;

	if ((err = pthread_attr_init(&attr)))
		return -err;
	(void)pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	(void)pthread_attr_setstacksize(&attr, THREAD_STACK);
	/* the daemon's signals stay with the loop's signalfd */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = pthread_create(&t, &attr, resolve, j);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	return -err;
}

static int dns_start(struct nw_probe_run *run, struct nw_probe_result *r)
{
	const struct nw_probe_cfg *cfg = run->cfg;
	struct dns_run *dr;
	struct dns_job *j;
	int err;
	(void)r;

	if (!(dr = calloc(1, sizeof(*dr))))
		return -ENOMEM;
	dr->run = run;
	if (!(j = dr->job = calloc(1, sizeof(*j)))) {
		err = -ENOMEM;
		goto fail;
	}
	atomic_init(&j->refs, 1);
	atomic_init(&j->answered, false);
	j->family = nw_probe_af(cfg->family);
	if ((j->fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0) {
		err = -errno;
		goto fail;
	}
	if (!(j->name = strdup(cfg->target))) {
		err = -ENOMEM;
		goto fail;
	}
	if ((err = sd_event_add_io(run->e, &dr->io, j->fd, EPOLLIN, on_io, dr)) < 0)
		goto fail;
	atomic_fetch_add(&j->refs, 1);
	if ((err = spawn(j)) < 0) {
		atomic_fetch_sub(&j->refs, 1);
		goto fail;
	}
	run->priv = dr;
	return 0;
fail:
	dns_run_free(dr);
	return err;
}

static void dns_cancel(struct nw_probe_run *run)
{
	/* the thread finishes on its own and frees the job */
	dns_run_free(run->priv);
	run->priv = NULL;
}

const struct nw_probe_type_ops nw_probe_dns_ops = {
	.start = dns_start,
	.cancel = dns_cancel,
};
