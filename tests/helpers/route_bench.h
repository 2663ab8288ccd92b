/* SPDX-License-Identifier: GPL-2.0-only */
/* What the helpers that delete the default route (route_latency,
 * conn_back) share: raw netlink on the main-table IPv4 default route (a
 * request socket for dumps and deletions, a listener subscribed to
 * RTNLGRP_IPV4_ROUTE), the stop flag SIGINT and SIGTERM set, a xorshift64*
 * for random gaps and nearest-rank percentiles of nanosecond samples.
 * It holds the program's sockets and receive buffer: one program per
 * include. Define BENCH_PROG (the program's name, for messages) before
 * including. */
#ifndef NETWARD_ROUTE_BENCH_H
#define NETWARD_ROUTE_BENCH_H

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>

#include "bench_stats.h"

#define BUF_SIZE (64 * 1024)
#define LISTEN_RCVBUF (4 * 1024 * 1024)
#define NS_PER_MS 1000000ull

static struct mnl_socket *req, *lis;	/* requests; the listener */
static uint32_t nl_seq;			/* of the last request */
static char buf[BUF_SIZE];		/* what either socket read last */
static unsigned long enobufs;		/* listener overflows, counted by the program */
static volatile sig_atomic_t stop;

static inline void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

/* SIGINT and SIGTERM set stop; SIGPIPE is ignored */
static inline void catch_signals(void)
{
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);
}

static uint64_t rng_state;
static inline uint64_t rng(void)
{
	/* xorshift64* */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ull;
}

/* ms left until deadline (ns), for poll(); 0 once it has passed */
static inline int ms_left(uint64_t deadline)
{
	uint64_t now = now_ns();

	if (now >= deadline)
		return 0;
	return (int)((deadline - now + NS_PER_MS - 1) / NS_PER_MS);
}

/* --- the route ----------------------------------------------------------- */

static inline int table_of(const struct nlmsghdr *nlh, const struct rtmsg *rtm)
{
	const struct nlattr *a;

	mnl_attr_for_each(a, nlh, sizeof(*rtm))
		if (mnl_attr_get_type(a) == RTA_TABLE && mnl_attr_get_payload_len(a) >= 4)
			return (int)mnl_attr_get_u32(a);
	return rtm->rtm_table;
}

/* a route message of the main-table IPv4 unicast default route */
static inline bool is_default(const struct nlmsghdr *nlh)
{
	const struct rtmsg *rtm;

	if ((nlh->nlmsg_type != RTM_NEWROUTE && nlh->nlmsg_type != RTM_DELROUTE) ||
	    nlh->nlmsg_len < NLMSG_LENGTH(sizeof(*rtm)))
		return false;
	rtm = mnl_nlmsg_get_payload(nlh);
	return rtm->rtm_family == AF_INET && rtm->rtm_dst_len == 0 &&
	       rtm->rtm_type == RTN_UNICAST && table_of(nlh, rtm) == RT_TABLE_MAIN;
}

/* --- request socket ------------------------------------------------------ */

/* The request socket, and the listener with a 4 MiB receive buffer
 * (SO_RCVBUFFORCE, else what SO_RCVBUF gets). 0, or -1 with a message. */
static inline int open_sockets(void)
{
	int size = LISTEN_RCVBUF;

	req = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	lis = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	if (!req || !lis || mnl_socket_bind(req, 0, MNL_SOCKET_AUTOPID) < 0) {
		perror(BENCH_PROG ": netlink socket");
		return -1;
	}
	if (setsockopt(mnl_socket_get_fd(lis), SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) &&
	    setsockopt(mnl_socket_get_fd(lis), SOL_SOCKET, SO_RCVBUF, &size, sizeof(size)))
		perror(BENCH_PROG ": listener receive buffer (going on)");
	if (mnl_socket_bind(lis, RTMGRP_IPV4_ROUTE, MNL_SOCKET_AUTOPID) < 0) {
		perror(BENCH_PROG ": bind listener");
		return -1;
	}
	return 0;
}

/* The answer to request s (skips anything else). 0, -errno, -ETIMEDOUT. */
static inline int req_wait_ack(uint32_t s, int timeout_ms)
{
	struct pollfd pfd = { .fd = mnl_socket_get_fd(req), .events = POLLIN };
	uint64_t deadline = now_ns() + (uint64_t)timeout_ms * NS_PER_MS;

	for (;;) {
		const struct nlmsghdr *nlh = (const void *)buf;
		ssize_t n;
		int len, r;

		r = poll(&pfd, 1, ms_left(deadline));
		if (r < 0 && errno == EINTR && !stop)
			continue;
		if (r <= 0)
			return -ETIMEDOUT;
		n = recv(pfd.fd, buf, sizeof(buf), 0);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -errno;
		}
		len = (int)n;
		for (; mnl_nlmsg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len)) {
			if (nlh->nlmsg_seq != s || nlh->nlmsg_type != NLMSG_ERROR)
				continue;
			return ((const struct nlmsgerr *)mnl_nlmsg_get_payload(nlh))->error;
		}
	}
}

/* Dumps the main IPv4 routes: whether the default route is there; with
 * copy, a copy of it (the first one, when there are several) into copy
 * (size bytes), its length into *copy_len. 0 or -errno. */
static inline int dump_default(bool *found, void *copy, size_t size, size_t *copy_len)
{
	char b[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(b);
	struct rtmsg *rtm;
	uint32_t s = ++nl_seq;

	nlh->nlmsg_type = RTM_GETROUTE;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = s;
	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = AF_INET;
	if (mnl_socket_sendto(req, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	*found = false;
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(req, buf, sizeof(buf));
		const struct nlmsghdr *m = (const void *)buf;
		int len;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		len = (int)n;
		for (; mnl_nlmsg_ok(m, len); m = mnl_nlmsg_next(m, &len)) {
			if (m->nlmsg_seq != s)
				continue;
			if (m->nlmsg_type == NLMSG_DONE)
				return 0;
			if (m->nlmsg_type == NLMSG_ERROR)
				return ((const struct nlmsgerr *)mnl_nlmsg_get_payload(m))->error ?: -EIO;
			if (!is_default(m) || *found)
				continue;
			*found = true;
			if (copy) {
				if (m->nlmsg_len > size)
					return -E2BIG;
				memcpy(copy, m, m->nlmsg_len);
				*copy_len = m->nlmsg_len;
			}
		}
	}
}

/* At start: the default route must be there (dump_default, with copy as
 * there). 0, or -1 with a message. */
static inline int find_default(void *copy, size_t size, size_t *copy_len)
{
	bool found;
	int r = dump_default(&found, copy, size, copy_len);

	if (r) {
		fprintf(stderr, BENCH_PROG ": route dump: %s\n", strerror(-r));
		return -1;
	}
	if (!found) {
		fprintf(stderr, BENCH_PROG ": no main-table IPv4 default route to delete\n");
		return -1;
	}
	return 0;
}

/* RTM_DELROUTE of the main-table IPv4 default route (NLM_F_ACK), its
 * sequence number into *s; the answer is not waited for. 0 or -errno. */
static inline int send_delete(uint32_t *s)
{
	char b[256];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(b);
	struct rtmsg *rtm;

	nlh->nlmsg_type = RTM_DELROUTE;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = *s = ++nl_seq;
	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = AF_INET;
	rtm->rtm_table = RT_TABLE_MAIN;
	rtm->rtm_scope = RT_SCOPE_NOWHERE;	/* any scope */
	rtm->rtm_type = RTN_UNICAST;
	return mnl_socket_sendto(req, nlh, nlh->nlmsg_len) < 0 ? -errno : 0;
}

/* --- statistics ---------------------------------------------------------- */

static inline int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* nearest rank, in us (v in ns, sorted); NAN when n is 0 */
static inline double pct(const uint64_t *v, size_t n, double p)
{
	size_t k;

	if (!n)
		return NAN;
	k = (size_t)ceil(p / 100.0 * (double)n);
	if (k < 1)
		k = 1;
	if (k > n)
		k = n;
	return (double)v[k - 1] / 1000.0;
}

#endif
