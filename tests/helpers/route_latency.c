// SPDX-License-Identifier: GPL-2.0-only
/*
 * route_latency: how fast does somebody put back the main-table IPv4
 * default route after it is deleted? Run it in the network namespace whose
 * route is guarded (ip netns exec NS route_latency ...), with the guard
 * (netwardd, a shell loop, anything) already running there.
 *
 * Usage: route_latency [--count N] [--warmup W] [--gap-ms G] [--jitter-ms J]
 *                      [--timeout-ms T] [--seed S] [--label L]
 *                      [--samples FILE] [--verbose]
 *
 * At start a dump finds the route (one main-table IPv4 unicast route with
 * prefix length 0: the first one, when there are several) and keeps a copy
 * of it. Then W untimed and N timed iterations, each:
 *   1. wait G ms plus a uniformly random 0..J ms (a guard that polls sees
 *      deletions at random phases of its period, not right after its own
 *      restore; a guard that reacts is not in a flapping regime), reading
 *      the listener all along: the route must be there when the wait ends
 *      (it comes back by definition; if not, it is waited for, and put back
 *      here as a last resort);
 *   2. RTM_DELROUTE of the main-table IPv4 default route over a request
 *      socket of its own (raw netlink, NLM_F_ACK: no fork, no ip);
 *   3. t0 = CLOCK_MONOTONIC when the listener (a second NETLINK_ROUTE
 *      socket, subscribed to RTNLGRP_IPV4_ROUTE only) reads the RTM_DELROUTE
 *      notification of that route; the kernel queues it during the
 *      sendmsg() of step 2, to the guard's socket and this one alike;
 *   4. t1 = CLOCK_MONOTONIC when the listener reads an RTM_NEWROUTE of a
 *      main-table IPv4 default route; the sample is t1 - t0;
 *   5. no RTM_NEWROUTE within T ms: a timeout, counted; the route is put
 *      back from the copy (RTM_NEWROUTE, NLM_F_CREATE|NLM_F_REPLACE) so the
 *      run goes on.
 * The listener's receive buffer is 4 MiB (SO_RCVBUFFORCE). Should it still
 * overflow (ENOBUFS: notifications lost, what it knows may be stale), the
 * iteration is dropped (counted as enobufs) and a dump tells whether the
 * route is there before the next one.
 *
 * Output: one line of key=value words on stdout:
 *   result label=L n=<timed iterations> samples=<with a latency>
 *          p50_us= p90_us= p99_us= max_us= min_us= mean_us=  (of t1 - t0)
 *          timeouts= errors=<deletions the kernel refused> enobufs=
 *          del_p50_us=<median time in the deleting sendmsg()>
 *          req_p50_us= req_p99_us= req_max_us=  (of t1 - the time just before
 *          that sendmsg(): an upper bound, which also counts any delay of
 *          this process between the deletion and its reading of it)
 * Percentiles are nearest-rank; "nan" when there are no samples.
 * --samples FILE: every timed sample in microseconds, one per line, in
 * order ("timeout" for a timeout). --verbose: every iteration on stderr.
 * Exit: 0 ran (whatever the peer did), 1 failure, 2 usage.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BENCH_PROG "route_latency"
#include "route_bench.h"

struct opts {
	long count, warmup, gap_ms, jitter_ms, timeout_ms;
	unsigned long long seed;
	const char *label, *samples;
	bool verbose;
};

static char saved[4096];		/* the route, as the dump showed it */
static size_t saved_len;
static bool present;			/* what the listener last said */

/* --- the route ----------------------------------------------------------- */

/* Puts the saved copy back (create or replace). */
static int reinstall(void)
{
	struct nlmsghdr *nlh = (struct nlmsghdr *)saved;
	struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);

	nlh->nlmsg_type = RTM_NEWROUTE;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE;
	nlh->nlmsg_seq = ++nl_seq;
	nlh->nlmsg_pid = 0;
	rtm->rtm_flags = 0;
	if (mnl_socket_sendto(req, nlh, saved_len) < 0)
		return -errno;
	return req_wait_ack(nlh->nlmsg_seq, 1000);
}

/* --- listener ------------------------------------------------------------ */

enum { W_NONE, W_DEL, W_NEW };
enum { R_TIMEOUT = 0, R_SEEN, R_LOST, R_REFUSED };

/*
 * Reads the listener until the deadline or until it reads what `want`
 * names (W_NONE: until the deadline); *t: the time of the read that
 * brought it. With del_seq, also watches the request socket for the
 * deletion's answer: a refusal (e.g. ESRCH) ends the wait (R_REFUSED,
 * *err). R_LOST: ENOBUFS, the listener missed notifications.
 */
static int listen_until(int want, uint64_t deadline, uint64_t *t, uint32_t del_seq, int *err)
{
	struct pollfd pfd[2] = {
		{ .fd = mnl_socket_get_fd(lis), .events = POLLIN },
		{ .fd = mnl_socket_get_fd(req), .events = POLLIN },
	};

	for (;;) {
		uint64_t now = now_ns();
		struct timespec ts;
		int r;

		if (stop)
			return R_TIMEOUT;
		if (now >= deadline)
			return R_TIMEOUT;
		ts.tv_sec = (time_t)((deadline - now) / 1000000000ull);
		ts.tv_nsec = (long)((deadline - now) % 1000000000ull);
		r = ppoll(pfd, del_seq ? 2 : 1, &ts, NULL);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return R_TIMEOUT;
		}
		if (r == 0)
			return R_TIMEOUT;
		if (pfd[0].revents & POLLIN) {
			ssize_t n = recv(pfd[0].fd, buf, sizeof(buf), MSG_DONTWAIT);
			uint64_t when = now_ns();
			const struct nlmsghdr *nlh = (const void *)buf;
			bool hit = false;
			int len;

			if (n < 0) {
				if (errno == ENOBUFS) {
					enobufs++;
					return R_LOST;
				}
				if (errno != EAGAIN && errno != EINTR)
					return R_TIMEOUT;
				continue;
			}
			len = (int)n;
			for (; mnl_nlmsg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len)) {
				if (!is_default(nlh))
					continue;
				present = nlh->nlmsg_type == RTM_NEWROUTE;
				if ((want == W_DEL && !present) || (want == W_NEW && present))
					hit = true;
			}
			if (hit) {
				*t = when;
				return R_SEEN;
			}
			continue;	/* the listener first: its data is time-critical */
		}
		if (del_seq && (pfd[1].revents & POLLIN)) {
			ssize_t n = recv(pfd[1].fd, buf, sizeof(buf), MSG_DONTWAIT);
			const struct nlmsghdr *nlh = (const void *)buf;
			int len = (int)n;

			for (; n > 0 && mnl_nlmsg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len)) {
				const struct nlmsgerr *e;

				if (nlh->nlmsg_type != NLMSG_ERROR || nlh->nlmsg_seq != del_seq)
					continue;
				e = mnl_nlmsg_get_payload(nlh);
				if (e->error) {
					*err = e->error;
					return R_REFUSED;
				}
				/* acked: stop watching the request socket */
				pfd[1].fd = -1;
			}
		}
	}
}

/* After lost notifications: what is actually there. */
static int resync(void)
{
	bool found;
	int r = dump_default(&found, NULL, 0, NULL);

	if (r)
		return r;
	present = found;
	return 0;
}

/* The route is back, waiting for it up to timeout and putting it back
 * here as a last resort. 1: it had to be put back here. */
static int ensure_present(uint64_t timeout_ns)
{
	uint64_t t, deadline = now_ns() + timeout_ns;
	int err = 0, r;

	while (!present && !stop && now_ns() < deadline) {
		r = listen_until(W_NEW, deadline, &t, 0, &err);
		if (r == R_LOST && (r = resync()))
			return r;
	}
	if (present)
		return 0;
	if ((r = reinstall()) && r != -EEXIST)
		return r;
	if ((r = resync()))
		return r;
	if (!present)
		return -ENOENT;
	return 1;
}

/* --- main ---------------------------------------------------------------- */

static int usage(int rc)
{
	fprintf(rc ? stderr : stdout,
		"Usage: route_latency [--count N] [--warmup W] [--gap-ms G] [--jitter-ms J]\n"
		"                     [--timeout-ms T] [--seed S] [--label L] [--samples FILE]\n"
		"                     [--verbose]\n"
		"Deletes the main-table IPv4 default route N (+W untimed) times and times,\n"
		"with a netlink listener, how long until it is back. See the source.\n");
	return rc;
}

static bool parse_long(const char *s, long lo, long hi, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		return false;
	*out = v;
	return true;
}

int main(int argc, char **argv)
{
	struct opts o = { .count = 1000, .warmup = 0, .gap_ms = 2, .jitter_ms = 0,
			  .timeout_ms = 3000, .label = "-" };
	static const struct option lo[] = {
		{ "count", required_argument, NULL, 'n' },
		{ "warmup", required_argument, NULL, 'w' },
		{ "gap-ms", required_argument, NULL, 'g' },
		{ "jitter-ms", required_argument, NULL, 'j' },
		{ "timeout-ms", required_argument, NULL, 't' },
		{ "seed", required_argument, NULL, 's' },
		{ "label", required_argument, NULL, 'l' },
		{ "samples", required_argument, NULL, 'S' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	unsigned long timeouts = 0, errors = 0, dropped = 0, reinstalls = 0;
	uint64_t *lat, *del, *fromreq, sum = 0;
	size_t nlat = 0, ndel = 0;
	FILE *sf = NULL;
	long v;
	int c, r;

	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case 'n':
			if (!parse_long(optarg, 1, 10000000, &o.count))
				return usage(2);
			break;
		case 'w':
			if (!parse_long(optarg, 0, 1000000, &o.warmup))
				return usage(2);
			break;
		case 'g':
			if (!parse_long(optarg, 0, 600000, &o.gap_ms))
				return usage(2);
			break;
		case 'j':
			if (!parse_long(optarg, 0, 600000, &o.jitter_ms))
				return usage(2);
			break;
		case 't':
			if (!parse_long(optarg, 1, 600000, &o.timeout_ms))
				return usage(2);
			break;
		case 's':
			if (!parse_long(optarg, 0, LONG_MAX, &v))
				return usage(2);
			o.seed = (unsigned long long)v;
			break;
		case 'l':
			o.label = optarg;
			break;
		case 'S':
			o.samples = optarg;
			break;
		case 'v':
			o.verbose = true;
			break;
		case 'h':
			return usage(0);
		default:
			return usage(2);
		}
	}
	if (optind != argc)
		return usage(2);
	rng_state = o.seed ? o.seed : (now_ns() ^ ((uint64_t)getpid() << 32)) | 1;

	catch_signals();

	lat = calloc((size_t)o.count, sizeof(*lat));
	del = calloc((size_t)o.count, sizeof(*del));
	fromreq = calloc((size_t)o.count, sizeof(*fromreq));
	if (!lat || !del || !fromreq) {
		perror("route_latency: calloc");
		return 1;
	}
	if (o.samples && !(sf = fopen(o.samples, "w"))) {
		fprintf(stderr, "route_latency: %s: %s\n", o.samples, strerror(errno));
		return 1;
	}

	if (open_sockets())
		return 1;
	/* subscribed first, then the dump: nothing falls in between */
	if (find_default(saved, sizeof(saved), &saved_len))
		return 1;
	present = true;

	for (long i = 0; i < o.warmup + o.count && !stop; i++) {
		bool timed = i >= o.warmup;
		uint64_t gap = (uint64_t)o.gap_ms * 1000000ull, t0 = 0, t1 = 0, ts, te;
		uint64_t timeout = (uint64_t)o.timeout_ms * 1000000ull;
		uint32_t s;
		int err = 0;

		if (o.jitter_ms)
			gap += rng() % ((uint64_t)o.jitter_ms * 1000000ull + 1);
		/* the gap, reading the listener: it knows whether the route is there */
		{
			uint64_t deadline = now_ns() + gap, dummy;

			while (!stop && now_ns() < deadline)
				if (listen_until(W_NONE, deadline, &dummy, 0, &err) == R_LOST &&
				    (r = resync())) {
					fprintf(stderr, "route_latency: dump: %s\n", strerror(-r));
					return 1;
				}
		}
		if (stop)
			break;
		r = ensure_present(timeout);
		if (r < 0) {
			fprintf(stderr, "route_latency: the route is gone and cannot be put back: %s\n",
				strerror(-r));
			return 1;
		}
		if (r > 0) {
			reinstalls++;
			fprintf(stderr, "route_latency: iteration %ld: the route was not there "
				"before the deletion: put back\n", i);
		}

		ts = now_ns();
		if ((r = send_delete(&s))) {
			fprintf(stderr, "route_latency: RTM_DELROUTE: %s\n", strerror(-r));
			return 1;
		}
		te = now_ns();
		r = listen_until(W_DEL, ts + timeout, &t0, s, &err);
		if (r == R_REFUSED) {
			errors++;
			fprintf(stderr, "route_latency: iteration %ld: deletion refused: %s\n", i,
				strerror(-err));
			if ((r = resync())) {
				fprintf(stderr, "route_latency: dump: %s\n", strerror(-r));
				return 1;
			}
			i--;	/* not an iteration: do it again */
			if (errors > 100) {
				fprintf(stderr, "route_latency: too many refused deletions\n");
				return 1;
			}
			continue;
		}
		if (r == R_SEEN)
			r = listen_until(W_NEW, t0 + timeout, &t1, 0, &err);
		else if (r == R_TIMEOUT && !stop) {
			fprintf(stderr, "route_latency: iteration %ld: no RTM_DELROUTE notification\n",
				i);
			return 1;
		}
		if (stop)
			break;
		if (r == R_LOST) {
			/* lost notifications: this sample cannot be trusted */
			dropped++;
			if (o.verbose)
				fprintf(stderr, "iteration %ld: ENOBUFS, dropped\n", i);
			if ((r = resync())) {
				fprintf(stderr, "route_latency: dump: %s\n", strerror(-r));
				return 1;
			}
			continue;
		}
		/* the deletion's ack, read now that nothing is time-critical */
		req_wait_ack(s, 0);
		if (r == R_TIMEOUT) {
			if (timed) {
				timeouts++;
				if (sf)
					fprintf(sf, "timeout\n");
			}
			if (o.verbose)
				fprintf(stderr, "iteration %ld: timeout after %ld ms\n", i, o.timeout_ms);
			if ((r = reinstall()) && r != -EEXIST) {
				fprintf(stderr, "route_latency: cannot put the route back: %s\n",
					strerror(-r));
				return 1;
			}
			continue;
		}
		if (o.verbose)
			fprintf(stderr, "iteration %ld%s: %.1f us (delete took %.1f us)\n", i,
				timed ? "" : " (warm-up)", (double)(t1 - t0) / 1000.0,
				(double)(te - ts) / 1000.0);
		if (!timed)
			continue;
		fromreq[nlat] = t1 - ts;
		lat[nlat++] = t1 - t0;
		del[ndel++] = te - ts;
		sum += t1 - t0;
		if (sf)
			fprintf(sf, "%.1f\n", (double)(t1 - t0) / 1000.0);
	}
	if (stop) {
		fprintf(stderr, "route_latency: interrupted\n");
		/* leave the route as it was found */
		ensure_present(1000000000ull);
		return 1;
	}
	/* leave the route as it was found, whoever puts it back */
	if (ensure_present((uint64_t)o.timeout_ms * 1000000ull) > 0)
		reinstalls++;
	if (sf && fclose(sf)) {
		perror("route_latency: samples");
		return 1;
	}

	qsort(lat, nlat, sizeof(*lat), cmp_u64);
	qsort(del, ndel, sizeof(*del), cmp_u64);
	qsort(fromreq, nlat, sizeof(*fromreq), cmp_u64);
	printf("result label=%s n=%ld samples=%zu p50_us=%.1f p90_us=%.1f p99_us=%.1f max_us=%.1f "
	       "min_us=%.1f mean_us=%.1f timeouts=%lu errors=%lu enobufs=%lu dropped=%lu "
	       "reinstalls=%lu del_p50_us=%.1f req_p50_us=%.1f req_p99_us=%.1f req_max_us=%.1f\n",
	       o.label, o.count, nlat, pct(lat, nlat, 50), pct(lat, nlat, 90), pct(lat, nlat, 99),
	       nlat ? (double)lat[nlat - 1] / 1000.0 : NAN, nlat ? (double)lat[0] / 1000.0 : NAN,
	       nlat ? (double)sum / (double)nlat / 1000.0 : NAN, timeouts, errors, enobufs, dropped,
	       reinstalls, pct(del, ndel, 50), pct(fromreq, nlat, 50), pct(fromreq, nlat, 99),
	       pct(fromreq, nlat, 100));
	free(fromreq);
	free(lat);
	free(del);
	return 0;
}
