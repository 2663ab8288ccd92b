// SPDX-License-Identifier: GPL-2.0-only
/*
 * conn_back: how long from a deleted default route until the network
 * answers again? Run it in the network namespace whose route is guarded
 * (nsenter --net=/run/netns/NS conn_back ...), with whatever repairs it
 * (netwardd, a watchdog script, ...) already running there. It never puts
 * the route back itself.
 *
 * Usage: conn_back --target ADDR [--count N] [--retry-ms R] [--timeout-ms T]
 *                  [--gap-ms G] [--jitter-ms J] [--settle-ms S] [--verbose]
 *
 * N runs (default 10), each:
 *   1. wait G ms (default 5) plus a uniformly random 0..J ms (default 0: a
 *      repairer that polls then sees deletions at random phases of its
 *      period, not always right after its own repair), and until the
 *      main-table IPv4 default route is there (a dump; if missing, wait for
 *      RTM_NEWROUTE notifications up to S ms, default 30000; still missing:
 *      give up, exit 1);
 *   2. drain the netlink listener and the ICMP socket; t0 = CLOCK_MONOTONIC,
 *      then RTM_DELROUTE of the main-table IPv4 default route over raw
 *      netlink (NLM_F_ACK), and wait for the ACK (a refusal, e.g. ESRCH
 *      because someone else deleted it: not a run, counted in "errors" and
 *      done again);
 *   3. connectivity is back at the first ICMP echo reply from ADDR to an
 *      echo sent after t0: send an echo (raw ICMP socket, unconnected: each
 *      sendto() looks the route up). If sendto() fails with ENETUNREACH or
 *      EHOSTUNREACH (no route yet), wait for the next RTM_NEWROUTE on a
 *      netlink socket subscribed to RTNLGRP_IPV4_ROUTE (poll with what is
 *      left of the deadline), then send again. If it was sent, wait up to R
 *      ms (default 20) for the matching reply (same id, a sequence number
 *      of this run; others are ignored), else send again;
 *   4. t1 = CLOCK_MONOTONIC when that reply is read; the sample is t1 - t0.
 *      Nothing by T ms (default 5000) after t0: a timeout, counted.
 *
 * Output: one JSON object on stdout:
 *   {"n":<runs>,"timeouts":..,"p50_us":..,"p90_us":..,"p99_us":..,
 *    "max_us":..,"min_us":..,"samples_us":[<every sample, in order>],
 *    "errors":<refused deletions>,"enobufs":<listener overflows>,
 *    "del_p50_us":<median of the deletion's sendmsg() + ACK>,
 *    "first_send_ok":<runs whose first echo already found a route>,
 *    "sends_p50":<median echoes sent per run>,
 *    "target":..,"retry_ms":..,"timeout_ms":..,"gap_ms":..,"jitter_ms":..}
 * Percentiles are nearest-rank over the runs that did not time out, in
 * microseconds (1 decimal); null when there are none. Exit: 0 ran
 * (whatever the peer did), 1 failure (the JSON is still printed for the
 * runs done, with "aborted":true), 2 usage.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <linux/icmp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define BENCH_PROG "conn_back"
#include "route_bench.h"

static int icmp_fd;
static uint16_t echo_id, echo_seq;
static struct sockaddr_in target;
static bool verbose;

/* --- listener ------------------------------------------------------------ */

/* Waits until fd is readable, or until deadline. false: the deadline
 * passed, stop, or poll() failed. */
static bool wait_readable(int fd, uint64_t deadline)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	if (stop || now_ns() >= deadline)
		return false;
	return poll(&pfd, 1, ms_left(deadline)) >= 0 || errno == EINTR;
}

/*
 * Reads what the listener has. Returns 1 if it brought an RTM_NEWROUTE
 * (of any IPv4 route: a new route is worth another try), 0 if not (or
 * nothing queued), -1 on ENOBUFS (notifications lost: counted; the caller
 * must not rely on having seen everything, so it is treated as "maybe").
 */
static int lis_read(void)
{
	int fd = mnl_socket_get_fd(lis), got = 0;

	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		const struct nlmsghdr *nlh = (const void *)buf;
		int len;

		if (n < 0) {
			if (errno == ENOBUFS) {
				enobufs++;
				return -1;
			}
			return got;	/* EAGAIN: all read */
		}
		len = (int)n;
		for (; mnl_nlmsg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len))
			if (nlh->nlmsg_type == RTM_NEWROUTE)
				got = 1;
	}
}

/* Waits for an RTM_NEWROUTE (or lost notifications) until deadline. true:
 * one came (or maybe: ENOBUFS); false: the deadline passed or stop. */
static bool wait_newroute(uint64_t deadline)
{
	while (!lis_read())
		if (!wait_readable(mnl_socket_get_fd(lis), deadline))
			return false;
	return true;
}

/* The route is there, waiting up to settle_ms for it (never adding it). */
static int wait_present(long settle_ms)
{
	uint64_t deadline = now_ns() + (uint64_t)settle_ms * NS_PER_MS;
	bool found;
	int r;

	for (;;) {
		lis_read();	/* drained before the dump: nothing falls in between */
		if ((r = dump_default(&found, NULL, 0, NULL)))
			return r;
		if (found)
			return 0;
		if (stop)
			return -EINTR;
		if (!wait_newroute(deadline))
			return stop ? -EINTR : -ETIMEDOUT;
	}
}

/* --- ICMP ---------------------------------------------------------------- */

static uint16_t csum(const void *p, size_t len)
{
	const uint8_t *b = p;
	uint32_t s = 0;

	for (; len > 1; b += 2, len -= 2)
		s += (uint32_t)b[0] << 8 | b[1];
	if (len)
		s += (uint32_t)b[0] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return htons((uint16_t)~s);
}

/* One echo request, sequence number echo_seq++. 0 or -errno of sendto(). */
static int send_echo(void)
{
	struct {
		struct icmphdr h;
		uint64_t sent;
		char pad[48];
	} pkt;

	memset(&pkt, 0, sizeof(pkt));
	pkt.h.type = ICMP_ECHO;
	pkt.h.un.echo.id = htons(echo_id);
	pkt.h.un.echo.sequence = htons(echo_seq);
	pkt.sent = now_ns();
	pkt.h.checksum = csum(&pkt, sizeof(pkt));
	echo_seq++;
	if (sendto(icmp_fd, &pkt, sizeof(pkt), 0, (const struct sockaddr *)&target,
		   sizeof(target)) < 0)
		return -errno;
	return 0;
}

/*
 * Reads the ICMP socket. Returns true (and *t) on an echo reply from the
 * target with our id and a sequence number in [first, echo_seq), i.e. to an
 * echo of this run; everything else is read and ignored.
 */
static bool icmp_read(uint16_t first, uint64_t *t)
{
	for (;;) {
		char p[1500];
		struct sockaddr_in from;
		socklen_t fl = sizeof(from);
		ssize_t n = recvfrom(icmp_fd, p, sizeof(p), MSG_DONTWAIT, (struct sockaddr *)&from,
				     &fl);
		uint64_t when = now_ns();
		const struct iphdr *ip = (const void *)p;
		const struct icmphdr *h;
		size_t hl;
		uint16_t seq;

		if (n < 0)
			return false;
		if ((size_t)n < sizeof(*ip))
			continue;
		hl = (size_t)ip->ihl * 4;
		if ((size_t)n < hl + sizeof(*h) || ip->saddr != target.sin_addr.s_addr)
			continue;
		h = (const void *)(p + hl);
		if (h->type != ICMP_ECHOREPLY || ntohs(h->un.echo.id) != echo_id)
			continue;
		seq = ntohs(h->un.echo.sequence);
		if ((uint16_t)(seq - first) >= (uint16_t)(echo_seq - first))
			continue;	/* an echo of an earlier run */
		*t = when;
		return true;
	}
}

static void icmp_drain(void)
{
	char p[1500];

	while (recv(icmp_fd, p, sizeof(p), MSG_DONTWAIT) >= 0)
		;
}

/* Waits for the reply to an echo of this run until deadline. */
static bool wait_reply(uint16_t first, uint64_t deadline, uint64_t *t)
{
	while (!icmp_read(first, t))
		if (!wait_readable(icmp_fd, deadline))
			return false;
	return true;
}

/* --- one run ------------------------------------------------------------- */

enum { RUN_OK, RUN_TIMEOUT, RUN_REFUSED, RUN_FAIL };

struct run {
	uint64_t lat_ns, del_ns;
	unsigned sends;
	bool first_ok;
	int err;
};

static int one_run(long retry_ms, long timeout_ms, struct run *out)
{
	uint64_t t0, t1, deadline;
	uint16_t first;
	uint32_t s;
	int r;

	memset(out, 0, sizeof(*out));
	lis_read();
	icmp_drain();

	t0 = now_ns();
	deadline = t0 + (uint64_t)timeout_ms * NS_PER_MS;
	if ((r = send_delete(&s))) {
		out->err = r;
		return RUN_FAIL;
	}
	r = req_wait_ack(s, ms_left(deadline));
	out->del_ns = now_ns() - t0;
	if (r == -ETIMEDOUT) {
		out->err = r;
		return stop ? RUN_FAIL : RUN_TIMEOUT;
	}
	if (r) {
		out->err = r;
		return RUN_REFUSED;
	}

	first = echo_seq;
	while (!stop) {
		uint64_t now = now_ns(), until;

		if (now >= deadline)
			return RUN_TIMEOUT;
		r = send_echo();
		out->sends++;
		if (r == -ENETUNREACH || r == -EHOSTUNREACH) {
			/* no route yet: the next route notification, then again */
			if (!wait_newroute(deadline))
				return stop ? RUN_FAIL : RUN_TIMEOUT;
			continue;
		}
		if (r) {
			/* anything else (e.g. EPERM, ENOBUFS): a short pause, then again */
			if (verbose)
				fprintf(stderr, BENCH_PROG ": sendto: %s\n", strerror(-r));
			until = now + (uint64_t)retry_ms * NS_PER_MS;
			if (until > deadline)
				until = deadline;
			wait_newroute(until);
			continue;
		}
		if (out->sends == 1)
			out->first_ok = true;
		until = now + (uint64_t)retry_ms * NS_PER_MS;
		if (until > deadline)
			until = deadline;
		if (wait_reply(first, until, &t1)) {
			out->lat_ns = t1 - t0;
			return RUN_OK;
		}
	}
	return RUN_FAIL;
}

/* --- statistics ---------------------------------------------------------- */

static void jnum(const char *key, double v)
{
	if (isnan(v))
		printf(",\"%s\":null", key);
	else
		printf(",\"%s\":%.1f", key, v);
}

/* --- main ---------------------------------------------------------------- */

static int usage(int rc)
{
	fprintf(rc ? stderr : stdout,
		"Usage: conn_back --target ADDR [--count N] [--retry-ms R] [--timeout-ms T]\n"
		"                 [--gap-ms G] [--jitter-ms J] [--settle-ms S] [--verbose]\n"
		"Deletes the main-table IPv4 default route N times and times how long until\n"
		"ADDR answers an ICMP echo again. It never puts the route back. See the source.\n");
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "target", required_argument, NULL, 'a' },
		{ "count", required_argument, NULL, 'n' },
		{ "retry-ms", required_argument, NULL, 'r' },
		{ "timeout-ms", required_argument, NULL, 't' },
		{ "gap-ms", required_argument, NULL, 'g' },
		{ "jitter-ms", required_argument, NULL, 'j' },
		{ "settle-ms", required_argument, NULL, 's' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	long count = 10, retry_ms = 20, timeout_ms = 5000, gap_ms = 5, jitter_ms = 0;
	long settle_ms = 30000;
	unsigned long timeouts = 0, errors = 0, first_ok = 0;
	uint64_t *lat, *sorted, *del, *sends;
	size_t nlat = 0, ndel = 0, nsends = 0;
	const char *addr = NULL;
	bool aborted = false;
	long runs = 0;
	int c, r;
	struct icmp_filter filt = { .data = ~(1u << ICMP_ECHOREPLY) };

	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case 'a': addr = optarg; break;
		case 'n': count = num_arg("--count", optarg, 1, 1000000); break;
		case 'r': retry_ms = num_arg("--retry-ms", optarg, 1, 60000); break;
		case 't': timeout_ms = num_arg("--timeout-ms", optarg, 1, 3600000); break;
		case 'g': gap_ms = num_arg("--gap-ms", optarg, 0, 3600000); break;
		case 'j': jitter_ms = num_arg("--jitter-ms", optarg, 0, 3600000); break;
		case 's': settle_ms = num_arg("--settle-ms", optarg, 1, 3600000); break;
		case 'v': verbose = true; break;
		case 'h': return usage(0);
		default: return usage(2);
		}
	}
	if (optind != argc || !addr)
		return usage(2);
	target.sin_family = AF_INET;
	if (inet_pton(AF_INET, addr, &target.sin_addr) != 1) {
		fprintf(stderr, BENCH_PROG ": --target: \"%s\" is not an IPv4 address\n", addr);
		return 2;
	}

	catch_signals();

	lat = calloc((size_t)count, sizeof(*lat));
	sorted = calloc((size_t)count, sizeof(*sorted));
	del = calloc((size_t)count, sizeof(*del));
	sends = calloc((size_t)count, sizeof(*sends));
	if (!lat || !sorted || !del || !sends) {
		perror(BENCH_PROG ": calloc");
		return 1;
	}

	if (open_sockets())
		return 1;
	icmp_fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMP);
	if (icmp_fd < 0) {
		perror(BENCH_PROG ": raw ICMP socket (root needed)");
		return 1;
	}
	if (setsockopt(icmp_fd, SOL_RAW, ICMP_FILTER, &filt, sizeof(filt)))
		perror(BENCH_PROG ": ICMP_FILTER (going on: replies are matched anyway)");
	/* an id of our own (others' pings in the namespace see our replies too) */
	echo_id = (uint16_t)(now_ns() ^ (uint64_t)getpid() ^ ((uint64_t)getpid() << 7));
	echo_seq = (uint16_t)(now_ns() >> 10);
	rng_state = (now_ns() ^ ((uint64_t)getpid() << 32)) | 1;

	if (find_default(NULL, 0, NULL))
		return 1;

	while (runs < count && !stop) {
		struct run run;
		uint64_t gap_end = now_ns() + (uint64_t)gap_ms * NS_PER_MS;

		if (jitter_ms)
			gap_end += rng() % ((uint64_t)jitter_ms * NS_PER_MS + 1);

		/* the gap, then the route must be there (someone else puts it back) */
		while (!stop && now_ns() < gap_end)
			wait_newroute(gap_end);
		if (stop)
			break;
		if ((r = wait_present(settle_ms))) {
			fprintf(stderr, BENCH_PROG ": run %ld: the default route %s\n", runs,
				r == -ETIMEDOUT ? "did not come back" : strerror(-r));
			aborted = true;
			break;
		}

		r = one_run(retry_ms, timeout_ms, &run);
		if (r == RUN_REFUSED) {
			errors++;
			fprintf(stderr, BENCH_PROG ": run %ld: deletion refused: %s\n", runs,
				strerror(-run.err));
			if (errors > 100) {
				fprintf(stderr, BENCH_PROG ": too many refused deletions\n");
				aborted = true;
				break;
			}
			continue;	/* not a run: again */
		}
		if (r == RUN_FAIL) {
			if (!stop) {
				fprintf(stderr, BENCH_PROG ": run %ld: %s\n", runs,
					strerror(-run.err));
				aborted = true;
			}
			break;
		}
		runs++;
		del[ndel++] = run.del_ns;
		sends[nsends++] = run.sends;
		if (run.first_ok)
			first_ok++;
		if (r == RUN_TIMEOUT) {
			timeouts++;
			if (verbose)
				fprintf(stderr, "run %ld: timeout after %ld ms (%u echoes)\n", runs - 1,
					timeout_ms, run.sends);
			continue;
		}
		lat[nlat++] = run.lat_ns;
		if (verbose)
			fprintf(stderr, "run %ld: %.1f us (deletion acked after %.1f us, %u echoes%s)\n",
				runs - 1, (double)run.lat_ns / 1000.0, (double)run.del_ns / 1000.0,
				run.sends, run.first_ok ? ", the first one sent" : "");
	}
	if (stop) {
		fprintf(stderr, BENCH_PROG ": interrupted\n");
		aborted = true;
	}

	memcpy(sorted, lat, nlat * sizeof(*lat));
	qsort(sorted, nlat, sizeof(*sorted), cmp_u64);
	qsort(del, ndel, sizeof(*del), cmp_u64);
	qsort(sends, nsends, sizeof(*sends), cmp_u64);
	printf("{\"n\":%ld,\"timeouts\":%lu", runs, timeouts);
	jnum("p50_us", pct(sorted, nlat, 50));
	jnum("p90_us", pct(sorted, nlat, 90));
	jnum("p99_us", pct(sorted, nlat, 99));
	jnum("max_us", pct(sorted, nlat, 100));
	jnum("min_us", nlat ? (double)sorted[0] / 1000.0 : NAN);
	printf(",\"samples_us\":[");
	for (size_t i = 0; i < nlat; i++)
		printf("%s%.1f", i ? "," : "", (double)lat[i] / 1000.0);
	printf("],\"errors\":%lu,\"enobufs\":%lu", errors, enobufs);
	jnum("del_p50_us", pct(del, ndel, 50));
	printf(",\"first_send_ok\":%lu,\"sends_p50\":%.0f", first_ok,
	       nsends ? (double)sends[(nsends - 1) / 2] : 0.0);
	printf(",\"target\":\"%s\",\"retry_ms\":%ld,\"timeout_ms\":%ld,\"gap_ms\":%ld,"
	       "\"jitter_ms\":%ld", addr, retry_ms, timeout_ms, gap_ms, jitter_ms);
	if (aborted)
		printf(",\"aborted\":true");
	printf("}\n");
	free(lat);
	free(sorted);
	free(del);
	free(sends);
	return aborted ? 1 : 0;
}
