// SPDX-License-Identifier: GPL-2.0-only
/*
 * bind_bench: times a socket(); bind(); close() loop in two cgroups, one with
 * netward's bind guard attached and one without, in the same run.
 *
 * Usage: bind_bench --guarded DIR --plain DIR [--rounds R] [--iters N]
 *                   [--family 4|6] [--wildcard] [--proto tcp|udp]
 *                   [--prog-link PINNED_LINK] [--stats-iters M] [--cpu C]
 *                   [--verbose]
 *
 * A round is a pair of short runs of N iterations, one in each cgroup, in
 * ABBA order (plain then guarded, guarded then plain, ...). Before each run
 * the process moves itself (only itself: its own pid to DIR/cgroup.procs)
 * into that cgroup and does a few untimed iterations. Every iteration is
 * timed with CLOCK_MONOTONIC (one clock read per iteration); a run counts by
 * the median of its iterations, a round by guarded/plain of its two runs.
 *
 * Why short runs and medians: on a virtual machine the cost of the very
 * same loop jumps between levels (here 2.7 and 4.2 us) for tens of
 * milliseconds at a time, whatever the cgroup. Runs of a few hundred
 * microseconds mostly see one level per pair, and the median over many
 * pairs leaves out the pairs that straddle a jump.
 *
 * The address is 127.0.0.1 / ::1 (the guard leaves at once), or with
 * --wildcard 0.0.0.0 / :: (the guard looks up the policy); always port 0,
 * so the kernel picks a free port. The process is pinned to one CPU
 * (--cpu, default the one it starts on).
 *
 * With --prog-link (a pinned bpf_link, e.g. <pin-dir>/links/nw_bind4) a
 * second phase follows: BPF run-time statistics are switched on with
 * BPF_ENABLE_STATS (the switch behind kernel.bpf_stats_enabled, held by a
 * file descriptor, so it goes off when this process ends, however it ends),
 * M more iterations run in the guarded cgroup in chunks of 1000, and the
 * program's run_time_ns / run_cnt deltas over a chunk give its average run
 * time; the median chunk counts. The timed rounds run with statistics off,
 * so the ratio does not include their cost.
 *
 * Output: one line of key=value words on stdout:
 *   plain_ns, guarded_ns  median over the rounds of the runs' medians (ns)
 *   delta_ns              median over the rounds of guarded - plain (ns)
 *   ratio                 median over the rounds of guarded / plain
 *   ratio_lo, ratio_hi    95% confidence interval of that median
 *   prog_id, bpf_runs, bpf_ns  the stats phase: program id, runs seen, median
 *                         ns per run (bpf_ns=nan: not measured)
 * --verbose prints every round on stderr. Exit: 0 ok, 1 failure, 2 usage.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>

#define BENCH_PROG "bind_bench"
#include "bench_stats.h"

struct opts {
	const char *guarded, *plain, *prog_link;
	long rounds, iters, stats_iters;
	int family, type, cpu;
	bool wildcard, verbose;
};

static struct sockaddr_storage target;
static socklen_t target_len;

/* Moves this process, and only it, into dir. */
static int join_cgroup(const char *dir)
{
	char path[4096], buf[32];
	int fd, len, err = 0;

	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "bind_bench: open %s: %s\n", path, strerror(errno));
		return -1;
	}
	len = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
	if (write(fd, buf, (size_t)len) != len) {
		fprintf(stderr, "bind_bench: join %s: %s\n", dir, strerror(errno));
		err = -1;
	}
	close(fd);
	return err;
}

static void make_target(const struct opts *o)
{
	memset(&target, 0, sizeof(target));
	if (o->family == 6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&target;

		s6->sin6_family = AF_INET6;
		s6->sin6_addr = o->wildcard ? in6addr_any : in6addr_loopback;
		target_len = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&target;

		s4->sin_family = AF_INET;
		s4->sin_addr.s_addr = htonl(o->wildcard ? INADDR_ANY : INADDR_LOOPBACK);
		target_len = sizeof(*s4);
	}
}

/* The measured loop: n times socket(); bind(); close(). With samples, each
 * iteration's time goes there (the previous end is the next start). */
static int loop(const struct opts *o, long n, uint32_t *samples)
{
	int af = o->family == 6 ? AF_INET6 : AF_INET;
	uint64_t prev = samples ? now_ns() : 0;

	for (long i = 0; i < n; i++) {
		int fd = socket(af, o->type | SOCK_CLOEXEC, 0);

		if (fd < 0) {
			fprintf(stderr, "bind_bench: socket: %s\n", strerror(errno));
			return -1;
		}
		if (bind(fd, (struct sockaddr *)&target, target_len) < 0) {
			fprintf(stderr, "bind_bench: bind: %s\n", strerror(errno));
			close(fd);
			return -1;
		}
		close(fd);
		if (samples) {
			uint64_t t = now_ns();

			samples[i] = t - prev > UINT32_MAX ? UINT32_MAX : (uint32_t)(t - prev);
			prev = t;
		}
	}
	return 0;
}

/* One run in dir after a short untimed warm-up: the median iteration (ns). */
static int run_in(const struct opts *o, const char *dir, uint32_t *samples, double *ns)
{
	if (join_cgroup(dir) || loop(o, 10 + o->iters / 10, NULL) || loop(o, o->iters, samples))
		return -1;
	*ns = median_u32(samples, o->iters);
	return 0;
}

/* The program behind a pinned link: an fd for it and its id. */
static int prog_of_link(const char *link_path, __u32 *prog_id)
{
	struct bpf_link_info li;
	__u32 len = sizeof(li);
	int lfd, pfd;

	lfd = bpf_obj_get(link_path);
	if (lfd < 0) {
		fprintf(stderr, "bind_bench: %s: %s\n", link_path, strerror(errno));
		return -1;
	}
	memset(&li, 0, sizeof(li));
	if (bpf_obj_get_info_by_fd(lfd, &li, &len) < 0) {
		fprintf(stderr, "bind_bench: link info %s: %s\n", link_path, strerror(errno));
		close(lfd);
		return -1;
	}
	close(lfd);
	pfd = bpf_prog_get_fd_by_id(li.prog_id);
	if (pfd < 0) {
		fprintf(stderr, "bind_bench: prog %u: %s\n", li.prog_id, strerror(errno));
		return -1;
	}
	*prog_id = li.prog_id;
	return pfd;
}

static int prog_stats(int pfd, __u64 *time_ns, __u64 *cnt)
{
	struct bpf_prog_info pi;
	__u32 len = sizeof(pi);

	memset(&pi, 0, sizeof(pi));
	if (bpf_obj_get_info_by_fd(pfd, &pi, &len) < 0) {
		fprintf(stderr, "bind_bench: prog info: %s\n", strerror(errno));
		return -1;
	}
	*time_ns = pi.run_time_ns;
	*cnt = pi.run_cnt;
	return 0;
}

/* The stats phase: average run time of the program behind o->prog_link, in
 * chunks of 1000 binds (the median chunk counts, as for the timed rounds);
 * *runs is the total of runs seen. */
static int bpf_run_time(const struct opts *o, __u32 *prog_id, unsigned long long *runs,
			double *ns)
{
	long chunk = o->stats_iters < 1000 ? o->stats_iters : 1000;
	long nchunks = o->stats_iters / chunk, got = 0;
	double *per = calloc((size_t)nchunks, sizeof(double));
	int stats_fd = -1, pfd = -1, err = -1;
	__u32 id1 = 0;

	if (!per)
		return -1;
	*runs = 0;
	stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
	if (stats_fd < 0) {
		fprintf(stderr, "bind_bench: BPF_ENABLE_STATS: %s (no run times)\n",
			strerror(errno));
		err = 0;
		goto cleanup;
	}
	if ((pfd = prog_of_link(o->prog_link, prog_id)) < 0 || join_cgroup(o->guarded) ||
	    loop(o, 1000, NULL))
		goto cleanup;
	for (long c = 0; c < nchunks; c++) {
		__u64 t0, n0, t1, n1;

		if (prog_stats(pfd, &t0, &n0) || loop(o, chunk, NULL) || prog_stats(pfd, &t1, &n1))
			goto cleanup;
		*runs += n1 - n0;
		if (n1 > n0)
			per[got++] = (double)(t1 - t0) / (double)(n1 - n0);
	}
	/* the link must still run the program we measured */
	close(pfd);
	if ((pfd = prog_of_link(o->prog_link, &id1)) < 0)
		goto cleanup;
	if (id1 != *prog_id) {
		fprintf(stderr, "bind_bench: program %u was replaced by %u during the run\n",
			*prog_id, id1);
		goto cleanup;
	}
	if (got)
		*ns = median(per, got);
	if (*runs < (unsigned long long)(nchunks * chunk))
		fprintf(stderr, "bind_bench: program %u ran %llu times for %ld binds: is it "
			"attached to %s?\n", *prog_id, *runs, nchunks * chunk, o->guarded);
	err = 0;
cleanup:
	if (pfd >= 0)
		close(pfd);
	if (stats_fd >= 0)
		close(stats_fd);
	free(per);
	return err;
}

static int usage(void)
{
	fprintf(stderr,
		"Usage: bind_bench --guarded DIR --plain DIR [--rounds R] [--iters N]\n"
		"                  [--family 4|6] [--wildcard] [--proto tcp|udp]\n"
		"                  [--prog-link PINNED_LINK] [--stats-iters M] [--cpu C]\n"
		"                  [--verbose]\n");
	return 2;
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "guarded", required_argument, NULL, 'g' },
		{ "plain", required_argument, NULL, 'p' },
		{ "rounds", required_argument, NULL, 'r' },
		{ "iters", required_argument, NULL, 'n' },
		{ "family", required_argument, NULL, 'f' },
		{ "wildcard", no_argument, NULL, 'w' },
		{ "proto", required_argument, NULL, 'P' },
		{ "prog-link", required_argument, NULL, 'l' },
		{ "stats-iters", required_argument, NULL, 's' },
		{ "cpu", required_argument, NULL, 'c' },
		{ "verbose", no_argument, NULL, 'v' },
		{ 0 }
	};
	struct opts o = { .rounds = 1000, .iters = 200, .stats_iters = 100000, .family = 4,
			  .type = SOCK_STREAM, .cpu = -1 };
	double *pm, *gm, *ratio, *delta, plain_ns, guarded_ns, ratio_med, delta_med;
	double ratio_lo, ratio_hi, bpf_ns = NAN;
	unsigned long long bpf_runs = 0;
	__u32 prog_id = 0;
	char addr[INET6_ADDRSTRLEN];
	uint32_t *samples;
	long lo, hi;
	int c;

	while ((c = getopt_long(argc, argv, "", lopts, NULL)) != -1) {
		switch (c) {
		case 'g': o.guarded = optarg; break;
		case 'p': o.plain = optarg; break;
		case 'r': o.rounds = num_arg("--rounds", optarg, 1, 1000000); break;
		case 'n': o.iters = num_arg("--iters", optarg, 1, 10000000); break;
		case 'f': o.family = (int)num_arg("--family", optarg, 4, 6); break;
		case 'w': o.wildcard = true; break;
		case 'P':
			if (!strcmp(optarg, "tcp"))
				o.type = SOCK_STREAM;
			else if (!strcmp(optarg, "udp"))
				o.type = SOCK_DGRAM;
			else
				return usage();
			break;
		case 'l': o.prog_link = optarg; break;
		case 's': o.stats_iters = num_arg("--stats-iters", optarg, 1, 100000000); break;
		case 'c': o.cpu = (int)num_arg("--cpu", optarg, 0, CPU_SETSIZE - 1); break;
		case 'v': o.verbose = true; break;
		default: return usage();
		}
	}
	if (optind < argc || !o.guarded || !o.plain || (o.family != 4 && o.family != 6))
		return usage();

	/* one CPU for the whole run: no migrations inside a timed run */
	if (o.cpu < 0)
		o.cpu = sched_getcpu();
	if (o.cpu >= 0) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(o.cpu, &set);
		if (sched_setaffinity(0, sizeof(set), &set) < 0)
			fprintf(stderr, "bind_bench: pin to cpu %d: %s (not pinned)\n", o.cpu,
				strerror(errno));
	}
	make_target(&o);
	if (o.family == 6)
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&target)->sin6_addr, addr, sizeof(addr));
	else
		inet_ntop(AF_INET, &((struct sockaddr_in *)&target)->sin_addr, addr, sizeof(addr));

	samples = calloc((size_t)o.iters, sizeof(*samples));
	pm = calloc((size_t)o.rounds, sizeof(double));
	gm = calloc((size_t)o.rounds, sizeof(double));
	ratio = calloc((size_t)o.rounds, sizeof(double));
	delta = calloc((size_t)o.rounds, sizeof(double));
	if (!samples || !pm || !gm || !ratio || !delta) {
		fprintf(stderr, "bind_bench: out of memory\n");
		return 1;
	}

	for (long r = 0; r < o.rounds; r++) {
		if (r % 2 ? run_in(&o, o.guarded, samples, &gm[r]) ||
			    run_in(&o, o.plain, samples, &pm[r])
			  : run_in(&o, o.plain, samples, &pm[r]) ||
			    run_in(&o, o.guarded, samples, &gm[r]))
			return 1;
		ratio[r] = gm[r] / pm[r];
		delta[r] = gm[r] - pm[r];
		if (o.verbose)
			fprintf(stderr, "bind_bench: %s round %ld: plain %.0f ns, guarded %.0f ns, "
				"ratio %.4f\n", addr, r, pm[r], gm[r], ratio[r]);
	}
	plain_ns = median(pm, o.rounds);
	guarded_ns = median(gm, o.rounds);
	delta_med = median(delta, o.rounds);
	ratio_med = median(ratio, o.rounds);
	/* distribution-free 95% interval of a median: the order statistics
	 * n/2 -+ 1.96 sqrt(n)/2 of the sorted values */
	lo = (long)floor(o.rounds / 2.0 - 0.98 * sqrt((double)o.rounds));
	hi = (long)ceil(o.rounds / 2.0 + 0.98 * sqrt((double)o.rounds));
	ratio_lo = ratio[lo < 0 ? 0 : lo];
	ratio_hi = ratio[hi > o.rounds - 1 ? o.rounds - 1 : hi];

	if (o.prog_link && bpf_run_time(&o, &prog_id, &bpf_runs, &bpf_ns))
		return 1;

	printf("result family=%d addr=%s wildcard=%d proto=%s rounds=%ld iters=%ld cpu=%d "
	       "plain_ns=%.1f guarded_ns=%.1f delta_ns=%.1f ratio=%.4f ratio_lo=%.4f "
	       "ratio_hi=%.4f prog_id=%u bpf_runs=%llu bpf_ns=%.1f\n",
	       o.family, addr, o.wildcard, o.type == SOCK_DGRAM ? "udp" : "tcp", o.rounds,
	       o.iters, o.cpu, plain_ns, guarded_ns, delta_med, ratio_med, ratio_lo, ratio_hi,
	       prog_id, bpf_runs, bpf_ns);
	free(samples);
	free(pm);
	free(gm);
	free(ratio);
	free(delta);
	return 0;
}
