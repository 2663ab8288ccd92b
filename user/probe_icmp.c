// SPDX-License-Identifier: GPL-2.0-only
/*
 * icmp probes: one echo request per run, IPv4 or IPv6, on a socket of its
 * own. An ICMP datagram ("ping") socket when net.ipv4.ping_group_range lets
 * our group have one (not by default: "1 0"), else a raw socket (needs
 * CAP_NET_RAW).
 *
 * A ping socket only sees the replies to its own identifier (the kernel
 * picks it): a reply matches by sequence; ICMP errors about our request
 * come on the error queue (IP_RECVERR). A raw socket sees every ICMP
 * message the host receives: an ICMP_FILTER leaves echo replies and
 * errors, which match by our identifier and sequence (of the quoted
 * request in an error); IPv4 ones start with the IP header.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip6.h>
#include <netinet/ip_icmp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <linux/errqueue.h>

#include "probe_impl.h"
#include "util.h"

#ifndef ICMP_FILTER
#define ICMP_FILTER 1	/* <linux/icmp.h>, which clashes with <netinet/ip_icmp.h> */
#endif

#define PAYLOAD "netward-probe/1"

struct icmp_run {
	struct nw_probe_run *run;
	int fd;
	sd_event_source *io;
	int af;
	bool raw;
	uint16_t id, seq;	/* id: raw only, the kernel picks it for ping sockets */
	struct sockaddr_storage dst;
};

static void icmp_run_free(struct icmp_run *ir)
{
	if (!ir)
		return;
	sd_event_source_disable_unref(ir->io);
	if (ir->fd >= 0)
		close(ir->fd);
	free(ir);
}

static uint16_t csum(const void *data, size_t len)
{
	const uint8_t *p = data;
	uint32_t sum = 0;

	for (; len > 1; p += 2, len -= 2)
		sum += (uint32_t)(p[0] << 8 | p[1]);
	if (len)
		sum += (uint32_t)p[0] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* network byte order, any alignment */
static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static bool same_addr(const struct sockaddr_storage *a, const void *addr)
{
	if (a->ss_family == AF_INET)
		return !memcmp(&((const struct sockaddr_in *)a)->sin_addr, addr, 4);
	return !memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr, addr, 16);
}

static const void *dst_addr(const struct icmp_run *ir)
{
	if (ir->af == AF_INET)
		return &((const struct sockaddr_in *)&ir->dst)->sin_addr;
	return &((const struct sockaddr_in6 *)&ir->dst)->sin6_addr;
}

/* ICMP types that say our request failed: their name, NULL for others */
static const char *error_name(int af, uint8_t type)
{
	if (af == AF_INET) {
		switch (type) {
		case ICMP_DEST_UNREACH: return "destination unreachable";
		case ICMP_TIME_EXCEEDED: return "time exceeded";
		case ICMP_PARAMETERPROB: return "parameter problem";
		default: return NULL;
		}
	}
	switch (type) {
	case ICMP6_DST_UNREACH: return "destination unreachable";
	case ICMP6_PACKET_TOO_BIG: return "packet too big";
	case ICMP6_TIME_EXCEEDED: return "time exceeded";
	case ICMP6_PARAM_PROB: return "parameter problem";
	default: return NULL;
	}
}

/* the errno the kernel gives for an ICMP error (icmp_err_convert and
 * icmpv6_err_convert) */
static int error_errno(int af, uint8_t type, uint8_t code)
{
	static const int unreach4[] = {
		ENETUNREACH, EHOSTUNREACH, ENOPROTOOPT, ECONNREFUSED, EMSGSIZE, EOPNOTSUPP,
		ENETUNREACH, EHOSTDOWN, ENONET, ENETUNREACH, EHOSTUNREACH, ENETUNREACH,
		EHOSTUNREACH, EHOSTUNREACH, EHOSTUNREACH, EHOSTUNREACH,
	};
	static const int unreach6[] = {
		ENETUNREACH, EACCES, EHOSTUNREACH, EHOSTUNREACH, ECONNREFUSED, EACCES, EACCES,
	};

	if (af == AF_INET) {
		if (type == ICMP_DEST_UNREACH)
			return code < NW_ARRAY_SIZE(unreach4) ? unreach4[code] : EHOSTUNREACH;
		return type == ICMP_PARAMETERPROB ? EPROTO : EHOSTUNREACH;
	}
	switch (type) {
	case ICMP6_DST_UNREACH:
		return code < NW_ARRAY_SIZE(unreach6) ? unreach6[code] : EHOSTUNREACH;
	case ICMP6_PACKET_TOO_BIG: return EMSGSIZE;
	case ICMP6_PARAM_PROB: return EPROTO;
	default: return EHOSTUNREACH;
	}
}

static void set_error(struct nw_probe_result *r, const char *name,
		      const struct sockaddr_storage *from, int err)
{
	char a[INET6_ADDRSTRLEN];

	nw_probe_result_set(r, false, err, "%s from %s: %s", name,
			    nw_probe_ntop(from, a, sizeof(a)), strerror(err));
}

/* a raw socket's error message quoting our request? icmp: its ICMP header,
 * len: from there to the end */
static bool quotes_ours(const struct icmp_run *ir, const uint8_t *icmp, size_t len)
{
	const uint8_t *in = icmp + 8, *echo;
	size_t left;

	if (len < 8)
		return false;
	left = len - 8;
	if (ir->af == AF_INET) {
		struct iphdr ip;
		size_t ihl;

		if (left < sizeof(ip))
			return false;
		memcpy(&ip, in, sizeof(ip));
		if ((ihl = ip.ihl * 4u) < sizeof(ip) || left < ihl + 8 ||
		    ip.protocol != IPPROTO_ICMP || memcmp(&ip.daddr, dst_addr(ir), 4))
			return false;
		echo = in + ihl;
		if (echo[0] != ICMP_ECHO)
			return false;
	} else {
		struct ip6_hdr ip6;

		if (left < sizeof(ip6) + 8)
			return false;
		memcpy(&ip6, in, sizeof(ip6));
		if (ip6.ip6_nxt != IPPROTO_ICMPV6 || memcmp(&ip6.ip6_dst, dst_addr(ir), 16))
			return false;
		echo = in + sizeof(ip6);
		if (echo[0] != ICMP6_ECHO_REQUEST)
			return false;
	}
	return get16(echo + 4) == ir->id &&
	       get16(echo + 6) == ir->seq;
}

/* one datagram: 1 and r filled if it answers our request, 0 if not ours */
static int check_packet(struct icmp_run *ir, const uint8_t *buf, size_t n,
			const struct sockaddr_storage *from, struct nw_probe_result *r)
{
	const uint8_t *icmp = buf;
	uint8_t reply = ir->af == AF_INET ? ICMP_ECHOREPLY : ICMP6_ECHO_REPLY;
	const char *err;
	char a[INET6_ADDRSTRLEN];

	if (ir->raw && ir->af == AF_INET) {
		size_t ihl;

		if (n < sizeof(struct iphdr))
			return 0;
		ihl = (buf[0] & 0x0f) * 4u;
		if (ihl < sizeof(struct iphdr) || n < ihl)
			return 0;
		icmp += ihl;
		n -= ihl;
	}
	if (n < 8)
		return 0;
	if (icmp[0] == reply) {
		if (get16(icmp + 6) != ir->seq ||
		    (ir->raw && get16(icmp + 4) != ir->id) ||
		    from->ss_family != ir->af || !same_addr(from, dst_addr(ir)))
			return 0;
		nw_probe_result_set(r, true, 0, "echo reply from %s",
				    nw_probe_ntop(from, a, sizeof(a)));
		return 1;
	}
	/* ping sockets get errors on the error queue, not here */
	if (!ir->raw || !(err = error_name(ir->af, icmp[0])) || !quotes_ours(ir, icmp, n))
		return 0;
	set_error(r, err, from, error_errno(ir->af, icmp[0], icmp[1]));
	return 1;
}

/* the error queue of a ping socket: 1 and r filled on an error about us */
static int check_errqueue(struct icmp_run *ir, struct nw_probe_result *r)
{
	uint8_t data[256], ctl[512] __attribute__((aligned(8)));
	struct iovec iov = { .iov_base = data, .iov_len = sizeof(data) };
	struct sockaddr_storage from;
	struct msghdr mh;
	ssize_t n;

	for (;;) {
		memset(&mh, 0, sizeof(mh));
		mh.msg_name = &from;
		mh.msg_namelen = sizeof(from);
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		mh.msg_control = ctl;
		mh.msg_controllen = sizeof(ctl);
		if ((n = recvmsg(ir->fd, &mh, MSG_ERRQUEUE | MSG_DONTWAIT)) < 0)
			return 0;
		/* the quoted request: ours unless its sequence says otherwise */
		if (n >= 8 && get16(data + 6) != ir->seq)
			continue;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
			const struct sock_extended_err *ee;
			struct sockaddr_storage off = { 0 };
			const char *name;

			if (!((c->cmsg_level == SOL_IP && c->cmsg_type == IP_RECVERR) ||
			      (c->cmsg_level == SOL_IPV6 && c->cmsg_type == IPV6_RECVERR)))
				continue;
			ee = (const struct sock_extended_err *)(const void *)CMSG_DATA(c);
			if (ee->ee_origin == SO_EE_ORIGIN_LOCAL) {
				nw_probe_result_set(r, false, (int)ee->ee_errno, "local error: %s",
						    strerror((int)ee->ee_errno));
				return 1;
			}
			if (ee->ee_origin != SO_EE_ORIGIN_ICMP &&
			    ee->ee_origin != SO_EE_ORIGIN_ICMP6)
				continue;
			/* redirect, source quench: not failures */
			if (!(name = error_name(ir->af, ee->ee_type)))
				continue;
			memcpy(&off, SO_EE_OFFENDER(ee),
			       ir->af == AF_INET ? sizeof(struct sockaddr_in) :
						   sizeof(struct sockaddr_in6));
			set_error(r, name, &off, ee->ee_errno ? (int)ee->ee_errno :
					   error_errno(ir->af, ee->ee_type, ee->ee_code));
			return 1;
		}
	}
}

static int on_io(sd_event_source *s, int fd, uint32_t revents, void *ud)
{
	struct icmp_run *ir = ud;
	struct nw_probe_run *run = ir->run;
	struct nw_probe_result r = { 0 };
	uint8_t buf[1500];
	int found = 0, rerr = 0;
	(void)s;
	(void)revents;

	for (int errors = 0;;) {
		struct sockaddr_storage from = { 0 };
		socklen_t flen = sizeof(from);
		ssize_t n = recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&from,
				     &flen);

		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || ++errors > 4)
				break;
			/* a ping socket's pending error, cleared by this read: the
			 * error queue says more, and there may be data behind */
			if (errno != EINTR)
				rerr = errno;
			continue;
		}
		if ((found = check_packet(ir, buf, (size_t)n, &from, &r)))
			break;
	}
	if (!found && !ir->raw)
		found = check_errqueue(ir, &r);
	/* EREMOTEIO: a redirect or source quench, not a failure */
	if (!found && rerr && rerr != EREMOTEIO) {
		nw_probe_result_set(&r, false, rerr, "recv: %s", strerror(rerr));
		found = 1;
	}
	if (!found)
		return 0;
	icmp_run_free(ir);
	run->priv = NULL;
	nw_probe_run_finish(run, &r);
	return 0;
}

static int open_socket(int af, bool *raw)
{
	int proto = af == AF_INET ? IPPROTO_ICMP : IPPROTO_ICMPV6;
	int fd = socket(af, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, proto);

	*raw = false;
	if (fd >= 0)
		return fd;
	/* EACCES: our group is outside net.ipv4.ping_group_range */
	if (errno != EACCES && errno != EPERM && errno != EPROTONOSUPPORT &&
	    errno != ESOCKTNOSUPPORT)
		return -errno;
	*raw = true;
	fd = socket(af, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, proto);
	return fd < 0 ? -errno : fd;
}

/* filters, error reporting, interface and source */
static int setup_socket(struct icmp_run *ir, const struct nw_probe_cfg *cfg, const char **what)
{
	static const int one = 1;

	if (ir->raw && ir->af == AF_INET) {
		uint32_t block = ~(uint32_t)(1u << ICMP_ECHOREPLY | 1u << ICMP_DEST_UNREACH |
					     1u << ICMP_TIME_EXCEEDED | 1u << ICMP_PARAMETERPROB);

		*what = "ICMP_FILTER";
		if (setsockopt(ir->fd, SOL_RAW, ICMP_FILTER, &block, sizeof(block)) < 0)
			return -errno;
	} else if (ir->raw) {
		struct icmp6_filter f;

		ICMP6_FILTER_SETBLOCKALL(&f);
		ICMP6_FILTER_SETPASS(ICMP6_ECHO_REPLY, &f);
		ICMP6_FILTER_SETPASS(ICMP6_DST_UNREACH, &f);
		ICMP6_FILTER_SETPASS(ICMP6_PACKET_TOO_BIG, &f);
		ICMP6_FILTER_SETPASS(ICMP6_TIME_EXCEEDED, &f);
		ICMP6_FILTER_SETPASS(ICMP6_PARAM_PROB, &f);
		*what = "ICMP6_FILTER";
		if (setsockopt(ir->fd, IPPROTO_ICMPV6, ICMP6_FILTER, &f, sizeof(f)) < 0)
			return -errno;
	} else if (ir->af == AF_INET) {
		*what = "IP_RECVERR";
		if (setsockopt(ir->fd, SOL_IP, IP_RECVERR, &one, sizeof(one)) < 0)
			return -errno;
	} else {
		*what = "IPV6_RECVERR";
		if (setsockopt(ir->fd, SOL_IPV6, IPV6_RECVERR, &one, sizeof(one)) < 0)
			return -errno;
	}
	return nw_probe_sock_setup(ir->fd, cfg, what);
}

static size_t build_request(const struct icmp_run *ir, uint8_t *pkt)
{
	size_t len = 8 + sizeof(PAYLOAD);

	memset(pkt, 0, 8);
	pkt[0] = ir->af == AF_INET ? ICMP_ECHO : ICMP6_ECHO_REQUEST;
	put16(pkt + 4, ir->id);
	put16(pkt + 6, ir->seq);
	memcpy(pkt + 8, PAYLOAD, sizeof(PAYLOAD));
	/* ping sockets and ICMPv6 raw sockets have the kernel sum it */
	if (ir->raw && ir->af == AF_INET)
		put16(pkt + 2, csum(pkt, len));
	return len;
}

static int icmp_start(struct nw_probe_run *run, struct nw_probe_result *r)
{
	static uint16_t counter;
	const struct nw_probe_cfg *cfg = run->cfg;
	struct icmp_run *ir;
	const char *what = "socket";
	uint8_t pkt[64];
	socklen_t dlen;
	size_t len;
	int err;

	if (!(ir = calloc(1, sizeof(*ir))))
		return -ENOMEM;
	ir->run = run;
	ir->fd = -1;
	ir->af = nw_probe_af(cfg->family);
	if (!(dlen = nw_probe_sockaddr(cfg, 0, &ir->dst))) {
		err = -EAFNOSUPPORT;
		goto fail;
	}
	/* unique per run in this process; the pid spreads them between processes */
	counter++;
	ir->id = (uint16_t)(getpid() * 0x9e37u + counter);
	ir->seq = counter;
	if ((err = ir->fd = open_socket(ir->af, &ir->raw)) < 0)
		goto fail;
	run->method = ir->raw ? "raw" : "dgram";
	if ((err = setup_socket(ir, cfg, &what)) < 0)
		goto fail;
	len = build_request(ir, pkt);
	if (sendto(ir->fd, pkt, len, 0, (struct sockaddr *)&ir->dst, dlen) < 0) {
		/* no route, a prohibit route, ...: fails now, and says why */
		what = "sendto";
		err = -errno;
		goto fail;
	}
	if ((err = sd_event_add_io(run->e, &ir->io, ir->fd, EPOLLIN, on_io, ir)) < 0) {
		what = "sd_event_add_io";
		goto fail;
	}
	run->priv = ir;
	return 0;
fail:
	icmp_run_free(ir);
	nw_probe_result_set(r, false, -err, "%s: %s", what, strerror(-err));
	return 1;
}

static void icmp_cancel(struct nw_probe_run *run)
{
	icmp_run_free(run->priv);
	run->priv = NULL;
}

const struct nw_probe_type_ops nw_probe_icmp_ops = {
	.start = icmp_start,
	.cancel = icmp_cancel,
};
