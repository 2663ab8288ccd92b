// SPDX-License-Identifier: GPL-2.0-only
/*
 * sendto_bench: times UDP send loops on loopback with netward's route watch
 * tracepoint programs attached and detached, in the same run.
 *
 * Usage: sendto_bench [--set route_watch|empty|control] [--rounds R]
 *                     [--iters N] [--stats-iters M] [--cpu C]
 *                     [--warmup-runs W] [--verbose]
 *
 * The process loads the route_watch skeleton itself (its own, unpinned
 * maps; the fexit programs stay unloaded, as on kernels that refuse them),
 * writes nw_config key 0 with enabled=1 and netns = the inode of its own
 * network namespace, as netwardd does, and attaches what --set says:
 *   route_watch  the five tracepoint programs netwardd attaches: tp_sendmsg,
 *                tp_sendto, tp_sendmmsg, tp_fib_lookup, tp_fib6_lookup
 *   empty        a two-instruction program (return 0) on each of the same
 *                five tracepoints: what any classic tracepoint program
 *                costs there, whatever it does (the floor of this design)
 *   control      tp_fib6_lookup alone, which an IPv4 send never hits: the
 *                same attach/detach work between the runs of a round, the
 *                same kernel path in both runs (the noise floor; only the
 *                sendto loop)
 * The tracepoints are global, so "detached" means the links are destroyed:
 * nothing is left in the kernel's path. Nothing is pinned; everything goes
 * away with the process.
 *
 * The loops send 32-byte datagrams to a UDP socket of this process bound on
 * 127.0.0.1, which is drained after every run, outside the timed part:
 *   sendto       sendto(addr=127.0.0.1:port) on an unconnected socket: the
 *                program reads the address family from user memory and
 *                returns (the cheap exit); every send does a routing lookup,
 *                so tp_fib_lookup runs too
 *   sendmsg      sendmsg() with msg_name on an unconnected socket: the
 *                program reads the msghdr, then the family
 *   sendto-conn  sendto(addr=NULL), i.e. send(), on a connected socket: no
 *                family to read, so the program walks the fd table to learn
 *                that the socket is not rtnetlink (the slow path); the
 *                route is cached in the socket: no fib lookup
 *   sendmsg-conn sendmsg() without msg_name on the connected socket: idem
 *   getppid      not a send: no program runs for it, yet every system call
 *                of every process takes the kernel's slower syscall entry
 *                while any syscall tracepoint is attached
 *
 * A round is two blocks, one per state, in ABBA order (detached then
 * attached, attached then detached, ...: one attach or detach per round); a
 * block runs each loop once, in an order that rotates from round to round.
 * A run is a short untimed warm-up and N sends each timed with
 * CLOCK_MONOTONIC (one clock read per send); a run counts by the median of
 * its sends, a round by attached / detached of the same loop. After each
 * attach or detach come W untimed runs of every loop (see warm_up()), so
 * that both blocks of a round start the same way: right after runs of the
 * same shape. The process is pinned to one CPU (--cpu, default the one it
 * starts on); detaching happens in threads free to run anywhere.
 *
 * Then (not for control) a statistics phase: BPF run-time statistics are
 * switched on with BPF_ENABLE_STATS (held by a file descriptor, so they go
 * off when this process ends, however it ends), the set is attached, and
 * the loops take turns for M more sends each, in chunks of 1000; the
 * run_time_ns and run_cnt deltas of each program over a chunk give its
 * average run time (the median chunk counts) and runs per send. The
 * tracepoints are global: sends of other processes in that time count too.
 * The timed rounds run with statistics off, so the ratios do not include
 * their cost.
 *
 * Output: one line of key=value words per loop on stdout:
 *   set, loop
 *   rounds, used         rounds run, and counted: a round is left out when
 *                        programs of others were on the set's tracepoints in
 *                        it or in a round next to it (PERF_EVENT_IOC_QUERY_BPF
 *                        before and after each attached block); used=0:
 *                        others were there in every round, all are counted
 *   plain_ns, attached_ns  median over the rounds of the runs' medians (ns)
 *   delta_ns             median over the rounds of attached - plain (ns)
 *   ratio                median over the rounds of attached / plain
 *   ratio_lo, ratio_hi   95% confidence interval of that median
 *   prog                 the program on the loop's syscall tracepoint (-: none)
 *   prog_ns, prog_rps    its median ns per run and runs per send (nan: not
 *                        measured, or fewer runs than sends: others' only)
 *   fib_ns, fib_rps      the same for the fib_table_lookup program
 *   attach_ms, detach_ms median time to attach / detach the set
 *   drops                datagrams the receiver did not get (must be 0)
 * --verbose prints every round on stderr. Exit: 0 ok, 1 failure, 2 usage.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/perf_event.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "netward/config.h"
#include "route_watch.skel.h"

#define BENCH_PROG "sendto_bench"
#include "bench_stats.h"

#define PAYLOAD 32

enum { P_SENDMSG, P_SENDTO, P_SENDMMSG, P_FIB, P_FIB6, P__N };
static const char *const prog_name[P__N] = {
	"tp_sendmsg", "tp_sendto", "tp_sendmmsg", "tp_fib_lookup", "tp_fib6_lookup"
};
static const char *const tp_name[P__N] = {
	"syscalls/sys_enter_sendmsg", "syscalls/sys_enter_sendto",
	"syscalls/sys_enter_sendmmsg", "fib/fib_table_lookup", "fib6/fib6_table_lookup"
};

enum { L_SENDTO, L_SENDMSG, L_SENDTO_CONN, L_SENDMSG_CONN, L_GETPPID, L__N };
static const char *const loop_name[L__N] = { "sendto", "sendmsg", "sendto-conn",
					     "sendmsg-conn", "getppid" };
static const int loop_prog[L__N] = { P_SENDTO, P_SENDMSG, P_SENDTO, P_SENDMSG, -1 };

enum set { S_ROUTE_WATCH, S_EMPTY, S_CONTROL };
static const char *const set_name[] = { "route_watch", "empty", "control" };

struct opts {
	long rounds, iters, stats_iters, warmup_runs;
	int cpu;
	enum set set;
	bool verbose;
};

static struct route_watch_bpf *skel;
static struct bpf_program *tp_prog[P__N];	/* route_watch's */
static int prog_fd[P__N] = { -1, -1, -1, -1, -1 };	/* what the set runs */
static bool attach_set[P__N];
/* an attachment: a libbpf link (route_watch), or a perf event and a BPF
 * link made by hand (empty) */
static struct bpf_link *links[P__N];
static int perf_fd[P__N] = { -1, -1, -1, -1, -1 }, link_fd[P__N] = { -1, -1, -1, -1, -1 };

static int tx = -1, txc = -1, rx = -1;	/* unconnected, connected, receiver */
static struct sockaddr_in dst;
static char payload[PAYLOAD];
static struct iovec iov = { .iov_base = payload, .iov_len = PAYLOAD };
static struct msghdr msg_named, msg_plain;
static unsigned long long sent, received;

/* --- sockets ------------------------------------------------------------ */

static int setup_sockets(const struct opts *o)
{
	socklen_t len = sizeof(dst);
	/* room for the datagrams between two drains (a run, its warm-up, a
	 * stats chunk), 4 KiB each: far more than a 32-byte datagram takes */
	long most = o->iters + o->iters / 10 + 10 > 1000 ? o->iters + o->iters / 10 + 10 : 1000;
	int rcvbuf = most * 4096 > 256L << 20 ? 256 << 20 : (int)(most * 4096);

	memset(payload, 'x', sizeof(payload));
	rx = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	tx = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	txc = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (rx < 0 || tx < 0 || txc < 0) {
		fprintf(stderr, "sendto_bench: socket: %s\n", strerror(errno));
		return -1;
	}
	memset(&dst, 0, sizeof(dst));
	dst.sin_family = AF_INET;
	dst.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(rx, (struct sockaddr *)&dst, sizeof(dst)) < 0 ||
	    getsockname(rx, (struct sockaddr *)&dst, &len) < 0) {
		fprintf(stderr, "sendto_bench: receiver on 127.0.0.1: %s\n", strerror(errno));
		return -1;
	}
	/* beyond rmem_max: SO_RCVBUFFORCE (root) */
	if (setsockopt(rx, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) < 0 &&
	    setsockopt(rx, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)) < 0) {
		fprintf(stderr, "sendto_bench: SO_RCVBUF: %s\n", strerror(errno));
		return -1;
	}
	if (connect(txc, (struct sockaddr *)&dst, sizeof(dst)) < 0) {
		fprintf(stderr, "sendto_bench: connect: %s\n", strerror(errno));
		return -1;
	}
	msg_named.msg_name = &dst;
	msg_named.msg_namelen = sizeof(dst);
	msg_named.msg_iov = &iov;
	msg_named.msg_iovlen = 1;
	msg_plain.msg_iov = &iov;
	msg_plain.msg_iovlen = 1;
	return 0;
}

/* Empties the receiver; outside the timed part. */
static void drain(void)
{
	char buf[PAYLOAD * 2];

	while (recv(rx, buf, sizeof(buf), MSG_DONTWAIT) >= 0)
		received++;
}

static inline ssize_t send_one(int kind)
{
	switch (kind) {
	case L_SENDTO:
		return sendto(tx, payload, PAYLOAD, 0, (struct sockaddr *)&dst, sizeof(dst));
	case L_SENDMSG:
		return sendmsg(tx, &msg_named, 0);
	case L_SENDTO_CONN:
		return sendto(txc, payload, PAYLOAD, 0, NULL, 0);
	case L_SENDMSG_CONN:
		return sendmsg(txc, &msg_plain, 0);
	default:	/* not a send: the answer is the parent's pid */
		syscall(SYS_getppid);
		return PAYLOAD;
	}
}

/* The measured loop: n sends of one kind. With samples, each send's time
 * goes there (the previous end is the next start). */
static int loop(int kind, long n, uint32_t *samples)
{
	uint64_t prev = samples ? now_ns() : 0;

	for (long i = 0; i < n; i++) {
		if (send_one(kind) != PAYLOAD) {
			fprintf(stderr, "sendto_bench: %s: %s\n", loop_name[kind], strerror(errno));
			return -1;
		}
		if (samples) {
			uint64_t t = now_ns();

			samples[i] = t - prev > UINT32_MAX ? UINT32_MAX : (uint32_t)(t - prev);
			prev = t;
		}
	}
	if (kind != L_GETPPID)
		sent += (unsigned long long)n;
	return 0;
}

/* One run after a short untimed warm-up: the median send (ns). */
static int run(const struct opts *o, int kind, uint32_t *samples, double *ns)
{
	int err = loop(kind, 10 + o->iters / 10, NULL) || loop(kind, o->iters, samples);

	drain();
	if (err)
		return -1;
	*ns = median_u32(samples, o->iters);
	return 0;
}

/* After an attach or a detach: --warmup-runs untimed runs of each loop,
 * shaped like the timed ones. Measured here: a run after a pause of ~0.1 s
 * (asleep, spinning, or sending in another rhythm) is 5-10% slower than the
 * run before it; after one or two runs of the same shape it is not. Without
 * them the block after each transition pays for the pause, and as a detach
 * pauses far longer than an attach, the control set came out at 0.92. */
static int warm_up(const struct opts *o, int first, int nloops, uint32_t *samples)
{
	double ns;

	for (long w = 0; w < o->warmup_runs; w++)
		for (int j = 0; j < nloops; j++)
			if (run(o, (first + j) % nloops, samples, &ns))
				return -1;
	return 0;
}

/* --- programs ----------------------------------------------------------- */

static int load_route_watch(void)
{
	struct bpf_program *prog, **tp = tp_prog;
	struct nw_config cfg;
	struct stat st;
	__u32 zero = 0;

	skel = route_watch_bpf__open();
	if (!skel) {
		fprintf(stderr, "sendto_bench: open route_watch: %s\n", strerror(errno));
		return -1;
	}
	tp[P_SENDMSG] = skel->progs.tp_sendmsg;
	tp[P_SENDTO] = skel->progs.tp_sendto;
	tp[P_SENDMMSG] = skel->progs.tp_sendmmsg;
	tp[P_FIB] = skel->progs.tp_fib_lookup;
	tp[P_FIB6] = skel->progs.tp_fib6_lookup;
	/* the tracepoint programs only: this kernel refuses fentry/fexit */
	bpf_object__for_each_program(prog, skel->obj) {
		bool is_tp = false;

		for (int i = 0; i < P__N; i++)
			is_tp |= prog == tp[i];
		bpf_program__set_autoload(prog, is_tp);
	}
	if (route_watch_bpf__load(skel)) {
		fprintf(stderr, "sendto_bench: load route_watch: %s\n", strerror(errno));
		return -1;
	}
	for (int i = 0; i < P__N; i++)
		prog_fd[i] = bpf_program__fd(tp[i]);
	/* as netwardd: enabled, guarding this network namespace */
	if (stat("/proc/self/ns/net", &st) < 0) {
		fprintf(stderr, "sendto_bench: /proc/self/ns/net: %s\n", strerror(errno));
		return -1;
	}
	memset(&cfg, 0, sizeof(cfg));
	cfg.enabled = 1;
	cfg.netns = (__u32)st.st_ino;
	if (bpf_map__update_elem(skel->maps.nw_config, &zero, sizeof(zero), &cfg, sizeof(cfg),
				 BPF_ANY)) {
		fprintf(stderr, "sendto_bench: nw_config: %s\n", strerror(errno));
		return -1;
	}
	return 0;
}

/* One "return 0" tracepoint program per tracepoint, so each has its own
 * run-time statistics. */
static int load_empty(void)
{
	const struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};

	for (int i = 0; i < P__N; i++) {
		prog_fd[i] = bpf_prog_load(BPF_PROG_TYPE_TRACEPOINT, "nw_bench_empty", "GPL",
					   insns, 2, NULL);
		if (prog_fd[i] < 0) {
			fprintf(stderr, "sendto_bench: load empty program: %s\n", strerror(errno));
			return -1;
		}
	}
	return 0;
}

/* The id of a tracepoint in tracefs (as libbpf finds it). */
static int tracepoint_id(const char *tp)
{
	static const char *const roots[] = { "/sys/kernel/tracing", "/sys/kernel/debug/tracing" };
	char path[256], buf[32];

	for (size_t r = 0; r < sizeof(roots) / sizeof(roots[0]); r++) {
		int fd, n;

		snprintf(path, sizeof(path), "%s/events/%s/id", roots[r], tp);
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
			continue;
		n = (int)read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n > 0) {
			buf[n] = 0;
			return atoi(buf);
		}
	}
	fprintf(stderr, "sendto_bench: no id for tracepoint %s (is tracefs mounted?)\n", tp);
	return -1;
}

static int tp_id[P__N];

static int tracepoint_ids(void)
{
	for (int i = 0; i < P__N; i++)
		if ((tp_id[i] = tracepoint_id(tp_name[i])) < 0)
			return -1;
	return 0;
}

/* What libbpf's bpf_program__attach() does for a tracepoint program: a perf
 * event on the tracepoint (CPU 0, all processes; the program runs on every
 * CPU), and a BPF link of the program to it. The perf event is opened here
 * to keep its fd for PERF_EVENT_IOC_QUERY_BPF; route_watch's programs are
 * then attached by libbpf (bpf_link__destroy closes the perf event too),
 * the empty ones by hand. */
static int attach_one(const struct opts *o, int i)
{
	struct perf_event_attr attr;
	int pfd;

	memset(&attr, 0, sizeof(attr));
	attr.type = PERF_TYPE_TRACEPOINT;
	attr.size = sizeof(attr);
	attr.config = (__u64)tp_id[i];
	pfd = (int)syscall(__NR_perf_event_open, &attr, -1, 0, -1, PERF_FLAG_FD_CLOEXEC);
	if (pfd < 0) {
		fprintf(stderr, "sendto_bench: perf_event_open %s: %s\n", tp_name[i],
			strerror(errno));
		return -1;
	}
	perf_fd[i] = pfd;
	if (o->set == S_EMPTY) {
		link_fd[i] = bpf_link_create(prog_fd[i], pfd, BPF_PERF_EVENT, NULL);
		if (link_fd[i] >= 0)
			return 0;
	} else {
		links[i] = bpf_program__attach_perf_event(tp_prog[i], pfd);
		if (links[i])
			return 0;
	}
	fprintf(stderr, "sendto_bench: attach to %s: %s\n", tp_name[i], strerror(errno));
	return -1;
}

static int detaching;	/* detach threads still running */

static void *detach_one(void *arg)
{
	int i = (int)(intptr_t)arg;

	if (links[i]) {
		bpf_link__destroy(links[i]);	/* and its perf event */
		links[i] = NULL;
		perf_fd[i] = -1;
	}
	if (link_fd[i] >= 0)
		close(link_fd[i]);
	if (perf_fd[i] >= 0)
		close(perf_fd[i]);
	link_fd[i] = perf_fd[i] = -1;
	__atomic_sub_fetch(&detaching, 1, __ATOMIC_RELEASE);
	return NULL;
}

static void *detach_thread(void *arg)
{
	cpu_set_t all;

	/* off the measuring CPU if there is another one */
	CPU_ZERO(&all);
	for (int c = 0; c < CPU_SETSIZE; c++)
		CPU_SET(c, &all);
	sched_setaffinity(0, sizeof(all), &all);
	return detach_one(arg);
}

/* Detaches everything. The last detach from a tracepoint waits for RCU
 * grace periods (~40 ms each here, one after the other), so the links go in
 * threads while this one, with busy >= 0, keeps sending (untimed) with the
 * loop of that kind rather than leave its CPU idle for 0.1-0.2 s; the
 * warm-up runs follow. */
static int detach_busy(int busy)
{
	pthread_t th[P__N];
	bool started[P__N] = { 0 };
	int err = 0;

	for (int i = 0; i < P__N; i++) {
		if (!links[i] && perf_fd[i] < 0 && link_fd[i] < 0)
			continue;
		__atomic_add_fetch(&detaching, 1, __ATOMIC_RELAXED);
		started[i] = !pthread_create(&th[i], NULL, detach_thread, (void *)(intptr_t)i);
		if (!started[i])
			detach_one((void *)(intptr_t)i);
	}
	while (busy >= 0 && __atomic_load_n(&detaching, __ATOMIC_ACQUIRE) > 0) {
		if (loop(busy, 100, NULL)) {
			err = -1;
			busy = -1;
		}
		drain();
	}
	for (int i = 0; i < P__N; i++)
		if (started[i])
			pthread_join(th[i], NULL);
	return err;
}

static void detach(void)
{
	detach_busy(-1);
}

static int attach(const struct opts *o)
{
	for (int i = 0; i < P__N; i++) {
		if (attach_set[i] && attach_one(o, i)) {
			detach();
			return -1;
		}
	}
	return 0;
}

/* Are programs of others (a netwardd, another benchmark) on the tracepoints
 * of the set, attached now? They would run in both states, so that the
 * difference leaves part of the cost out: such rounds are left out. */
static bool others_attached(void)
{
	__u32 buf[2 + 64];
	struct perf_event_query_bpf *q = (struct perf_event_query_bpf *)buf;

	for (int i = 0; i < P__N; i++) {
		if (perf_fd[i] < 0)
			continue;
		memset(buf, 0, sizeof(buf));
		q->ids_len = 64;
		/* ENOSPC: more than 64, prog_cnt is set all the same */
		if ((ioctl(perf_fd[i], PERF_EVENT_IOC_QUERY_BPF, q) == 0 || errno == ENOSPC) &&
		    q->prog_cnt > 1)
			return true;
	}
	return false;
}

static int prog_stats(int i, __u64 *time_ns, __u64 *cnt)
{
	struct bpf_prog_info pi;
	__u32 len = sizeof(pi);

	memset(&pi, 0, sizeof(pi));
	if (bpf_obj_get_info_by_fd(prog_fd[i], &pi, &len) < 0) {
		fprintf(stderr, "sendto_bench: prog info %s: %s\n", prog_name[i],
			strerror(errno));
		return -1;
	}
	*time_ns = pi.run_time_ns;
	*cnt = pi.run_cnt;
	return 0;
}

struct run_stats {
	double ns[P__N];	/* median over chunks of ns per run; nan: no runs */
	double rps[P__N];	/* runs per send */
};

/* The stats phase: the set attached, statistics on (the caller holds the
 * switch); the loops take turns, a chunk of up to 1000 sends each. */
static int bpf_run_time(const struct opts *o, struct run_stats *rs)
{
	long chunk = o->stats_iters < 1000 ? o->stats_iters : 1000;
	long nchunks = o->stats_iters / chunk;
	double *per[L__N][P__N] = { { 0 } };
	unsigned long long runs[L__N][P__N] = { { 0 } };
	long got[L__N][P__N] = { { 0 } };
	int err = -1;

	for (int k = 0; k < L__N; k++)
		for (int i = 0; i < P__N; i++) {
			rs[k].ns[i] = rs[k].rps[i] = NAN;
			if (!(per[k][i] = calloc((size_t)nchunks, sizeof(double))))
				goto cleanup;
		}
	for (int k = 0; k < L__N; k++)
		if (loop(k, 1000, NULL))
			goto cleanup;
	drain();
	for (long c = 0; c < nchunks; c++) {
		for (int k = 0; k < L__N; k++) {
			__u64 t0[P__N], n0[P__N], t1, n1;

			for (int i = 0; i < P__N; i++)
				if (prog_stats(i, &t0[i], &n0[i]))
					goto cleanup;
			if (loop(k, chunk, NULL))
				goto cleanup;
			for (int i = 0; i < P__N; i++) {
				if (prog_stats(i, &t1, &n1))
					goto cleanup;
				runs[k][i] += n1 - n0[i];
				if (n1 > n0[i])
					per[k][i][got[k][i]++] =
						(double)(t1 - t0[i]) / (double)(n1 - n0[i]);
			}
			drain();
		}
	}
	for (int k = 0; k < L__N; k++)
		for (int i = 0; i < P__N; i++) {
			rs[k].rps[i] = (double)runs[k][i] / (double)(nchunks * chunk);
			/* fewer runs than sends: other processes' */
			if (got[k][i] > nchunks / 2 && rs[k].rps[i] >= 0.5)
				rs[k].ns[i] = median(per[k][i], got[k][i]);
		}
	err = 0;
cleanup:
	for (int k = 0; k < L__N; k++)
		for (int i = 0; i < P__N; i++)
			free(per[k][i]);
	return err;
}

/* --- main --------------------------------------------------------------- */

static int usage(void)
{
	fprintf(stderr,
		"Usage: sendto_bench [--set route_watch|empty|control] [--rounds R]\n"
		"                    [--iters N] [--stats-iters M] [--cpu C]\n"
		"                    [--warmup-runs W] [--verbose]\n");
	return 2;
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "set", required_argument, NULL, 'S' },
		{ "rounds", required_argument, NULL, 'r' },
		{ "iters", required_argument, NULL, 'n' },
		{ "stats-iters", required_argument, NULL, 's' },
		{ "cpu", required_argument, NULL, 'c' },
		{ "warmup-runs", required_argument, NULL, 'w' },
		{ "verbose", no_argument, NULL, 'v' },
		{ 0 }
	};
	struct opts o = { .rounds = 200, .iters = 1000, .stats_iters = 50000, .cpu = -1,
			  .warmup_runs = 2,
			  .set = S_ROUTE_WATCH };
	double *pm[L__N] = { 0 }, *am[L__N] = { 0 }, *ratio[L__N] = { 0 }, *delta[L__N] = { 0 };
	double *att_ms = NULL, *det_ms = NULL;
	long n_att = 0, n_det = 0, used = 0, n_rounds, lo, hi;
	bool *seen = NULL;
	struct run_stats rs[L__N];
	uint32_t *samples = NULL;
	int nloops, c, stats_fd = -1, rc = 1;

	while ((c = getopt_long(argc, argv, "", lopts, NULL)) != -1) {
		switch (c) {
		case 'S':
			if (!strcmp(optarg, "route_watch"))
				o.set = S_ROUTE_WATCH;
			else if (!strcmp(optarg, "empty"))
				o.set = S_EMPTY;
			else if (!strcmp(optarg, "control"))
				o.set = S_CONTROL;
			else
				return usage();
			break;
		case 'r': o.rounds = num_arg("--rounds", optarg, 1, 1000000); break;
		case 'n': o.iters = num_arg("--iters", optarg, 1, 10000000); break;
		case 's': o.stats_iters = num_arg("--stats-iters", optarg, 0, 100000000); break;
		case 'c': o.cpu = (int)num_arg("--cpu", optarg, 0, CPU_SETSIZE - 1); break;
		case 'w': o.warmup_runs = num_arg("--warmup-runs", optarg, 0, 1000); break;
		case 'v': o.verbose = true; break;
		default: return usage();
		}
	}
	if (optind < argc)
		return usage();
	nloops = o.set == S_CONTROL ? 1 : L__N;
	for (int i = 0; i < P__N; i++)
		attach_set[i] = o.set != S_CONTROL || i == P_FIB6;

	/* one CPU for the whole run: no migrations inside a timed run */
	if (o.cpu < 0)
		o.cpu = sched_getcpu();
	if (o.cpu >= 0) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(o.cpu, &set);
		if (sched_setaffinity(0, sizeof(set), &set) < 0)
			fprintf(stderr, "sendto_bench: pin to cpu %d: %s (not pinned)\n", o.cpu,
				strerror(errno));
	}

	samples = calloc((size_t)o.iters, sizeof(*samples));
	att_ms = calloc((size_t)o.rounds, sizeof(double));
	det_ms = calloc((size_t)o.rounds, sizeof(double));
	seen = calloc((size_t)o.rounds, sizeof(bool));
	if (!samples || !att_ms || !det_ms || !seen)
		goto oom;
	for (int k = 0; k < nloops; k++) {
		pm[k] = calloc((size_t)o.rounds, sizeof(double));
		am[k] = calloc((size_t)o.rounds, sizeof(double));
		ratio[k] = calloc((size_t)o.rounds, sizeof(double));
		delta[k] = calloc((size_t)o.rounds, sizeof(double));
		if (!pm[k] || !am[k] || !ratio[k] || !delta[k])
			goto oom;
	}
	for (int k = 0; k < L__N; k++)
		for (int i = 0; i < P__N; i++)
			rs[k].ns[i] = rs[k].rps[i] = NAN;
	if (tracepoint_ids() || (o.set == S_EMPTY ? load_empty() : load_route_watch()) ||
	    setup_sockets(&o))
		goto cleanup;
	/* the unconnected socket's autobind, first-use faults: before timing */
	for (int k = 0; k < L__N; k++)
		if (loop(k, 100, NULL))
			goto cleanup;
	drain();

	for (long r = 0; r < o.rounds; r++) {
		/* ABBA: the state changes once per round, between the blocks */
		for (int half = 0; half < 2; half++) {
			bool attached = (r % 2) ^ half;
			int first = (int)(r / 2 % nloops);	/* the block's first loop */

			if (half) {
				uint64_t t0 = now_ns();

				if (attached) {
					if (attach(&o))
						goto cleanup;
					att_ms[n_att++] = (double)(now_ns() - t0) / 1e6;
				} else {
					if (detach_busy(first))
						goto cleanup;
					det_ms[n_det++] = (double)(now_ns() - t0) / 1e6;
				}
			}
			if ((half || r == 0) && warm_up(&o, first, nloops, samples))
				goto cleanup;
			if (attached && others_attached())
				seen[r] = true;
			for (int j = 0; j < nloops; j++) {
				int k = (int)((j + r / 2) % nloops);

				if (run(&o, k, samples, attached ? &am[k][r] : &pm[k][r]))
					goto cleanup;
			}
			if (attached && others_attached())
				seen[r] = true;
		}
		for (int k = 0; k < nloops; k++) {
			ratio[k][r] = am[k][r] / pm[k][r];
			delta[k][r] = am[k][r] - pm[k][r];
			if (o.verbose)
				fprintf(stderr, "sendto_bench: %s round %ld %s: plain %.0f ns, "
					"attached %.0f ns, ratio %.4f%s\n", set_name[o.set], r,
					loop_name[k], pm[k][r], am[k][r], ratio[k][r],
					seen[r] ? " (others attached)" : "");
		}
	}
	detach();
	/* The rounds that count: no programs of others seen in the round or in
	 * the rounds next to it. Only attached blocks can be checked (a perf
	 * event of our own to ask), and a detached block lies between the
	 * attached blocks of this round and the one before or after it. */
	for (long r = 0; r < o.rounds; r++) {
		if ((r > 0 && seen[r - 1]) || seen[r] || (r + 1 < o.rounds && seen[r + 1]))
			continue;
		for (int k = 0; k < nloops; k++) {
			pm[k][used] = pm[k][r];
			am[k][used] = am[k][r];
			ratio[k][used] = ratio[k][r];
			delta[k][used] = delta[k][r];
		}
		used++;
	}
	if (!used)
		fprintf(stderr, "sendto_bench: programs of others were on the tracepoints in every "
			"round: counting them all (used=0)\n");
	n_rounds = used ? used : o.rounds;

	if (o.set != S_CONTROL && o.stats_iters > 0) {
		stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
		if (stats_fd < 0) {
			fprintf(stderr, "sendto_bench: BPF_ENABLE_STATS: %s (no run times)\n",
				strerror(errno));
		} else {
			if (attach(&o) || bpf_run_time(&o, rs))
				goto cleanup;
			detach();
			close(stats_fd);
			stats_fd = -1;
		}
	}
	drain();

	/* distribution-free 95% interval of a median: the order statistics
	 * n/2 -+ 1.96 sqrt(n)/2 of the sorted values */
	lo = (long)floor(n_rounds / 2.0 - 0.98 * sqrt((double)n_rounds));
	hi = (long)ceil(n_rounds / 2.0 + 0.98 * sqrt((double)n_rounds));
	lo = lo < 0 ? 0 : lo;
	hi = hi > n_rounds - 1 ? n_rounds - 1 : hi;
	{
		double a_ms = n_att ? median(att_ms, n_att) : NAN;
		double d_ms = n_det ? median(det_ms, n_det) : NAN;

		for (int k = 0; k < nloops; k++) {
			/* control: its one program; getppid: none */
			int p = o.set == S_CONTROL ? P_FIB6 : loop_prog[k];
			double p_ns = p < 0 ? NAN : rs[k].ns[p], p_rps = p < 0 ? NAN : rs[k].rps[p];
			double plain_ns = median(pm[k], n_rounds);
			double att_ns = median(am[k], n_rounds);
			double delta_med = median(delta[k], n_rounds);
			double ratio_med = median(ratio[k], n_rounds);

			printf("result set=%s loop=%s rounds=%ld used=%ld iters=%ld cpu=%d plain_ns=%.1f "
			       "attached_ns=%.1f delta_ns=%.1f ratio=%.4f ratio_lo=%.4f "
			       "ratio_hi=%.4f prog=%s prog_ns=%.1f prog_rps=%.3f fib_ns=%.1f "
			       "fib_rps=%.3f attach_ms=%.2f detach_ms=%.2f drops=%llu\n",
			       set_name[o.set], loop_name[k], o.rounds, used, o.iters, o.cpu, plain_ns,
			       att_ns, delta_med, ratio_med, ratio[k][lo], ratio[k][hi],
			       p < 0 ? "-" : o.set == S_EMPTY ? "empty" : prog_name[p], p_ns, p_rps,
			       rs[k].ns[P_FIB], rs[k].rps[P_FIB], a_ms, d_ms, sent - received);
		}
	}
	rc = 0;
	goto cleanup;
oom:
	fprintf(stderr, "sendto_bench: out of memory\n");
cleanup:
	detach();
	if (stats_fd >= 0)
		close(stats_fd);
	route_watch_bpf__destroy(skel);
	if (o.set == S_EMPTY)
		for (int i = 0; i < P__N; i++)
			if (prog_fd[i] >= 0)
				close(prog_fd[i]);
	for (int k = 0; k < L__N; k++) {
		free(pm[k]);
		free(am[k]);
		free(ratio[k]);
		free(delta[k]);
	}
	free(samples);
	free(att_ms);
	free(det_ms);
	free(seen);
	if (tx >= 0)
		close(tx);
	if (txc >= 0)
		close(txc);
	if (rx >= 0)
		close(rx);
	return rc;
}
