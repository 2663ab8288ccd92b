// SPDX-License-Identifier: GPL-2.0-only
/*
 * rule_burst: one actor of tests/bench/churn_attribution.sh. Enters a
 * network namespace and a cgroup (itself only), then makes routing-policy
 * rule changes as fast as it can over one NETLINK_ROUTE socket: raw
 * RTM_NEWRULE / RTM_DELRULE with send() (sys_enter_sendto), each waiting
 * for its ACK.
 *
 *   rule_burst --netns NAME --cgroup DIR --go FILE --prio BASE --uid UID
 *              --table T --ops N
 *
 * Op i (0-based) is on priority BASE + i/2: even ops add
 * "from all uidrange UID-UID lookup T", odd ops delete it (same selectors),
 * so every (type, priority) pair names one op. Waits for FILE to exist
 * before the first op (all actors start together), at most 30 s.
 * Prints "ready pid=P" once in the namespace and cgroup, then
 * "done pid=P ops=N ok=K err=E first_err=ERRNO ns=ELAPSED".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <linux/fib_rules.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void die(const char *what)
{
	fprintf(stderr, "rule_burst: %s: %s\n", what, strerror(errno));
	exit(1);
}

static unsigned long num(const char *s, const char *name)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || !*s || *end) {
		fprintf(stderr, "rule_burst: %s: not a number: %s\n", name, s);
		exit(2);
	}
	return v;
}

static void put_attr(char *buf, size_t *off, uint16_t type, const void *data, uint16_t len)
{
	struct nlattr *a = (struct nlattr *)(buf + *off);

	a->nla_type = type;
	a->nla_len = NLA_HDRLEN + len;
	memcpy(buf + *off + NLA_HDRLEN, data, len);
	*off += NLA_ALIGN(a->nla_len);
}

/* one RTM_NEWRULE/RTM_DELRULE and its ACK: 0 or -errno */
static int rule_op(int fd, int add, uint32_t seq, uint32_t prio, uint32_t uid, uint32_t table)
{
	char buf[256] __attribute__((aligned(4)));
	char ack[4096] __attribute__((aligned(4)));
	struct nlmsghdr *nlh = (struct nlmsghdr *)buf;
	struct fib_rule_hdr *frh;
	struct fib_rule_uid_range ur = { uid, uid };
	size_t off;
	ssize_t n;

	memset(buf, 0, sizeof(buf));
	nlh->nlmsg_type = add ? RTM_NEWRULE : RTM_DELRULE;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | (add ? NLM_F_CREATE | NLM_F_EXCL : 0);
	nlh->nlmsg_seq = seq;
	frh = (struct fib_rule_hdr *)(buf + NLMSG_HDRLEN);
	frh->family = AF_INET;
	frh->table = table < 256 ? table : RT_TABLE_UNSPEC;
	frh->action = FR_ACT_TO_TBL;
	off = NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(*frh));
	put_attr(buf, &off, FRA_PRIORITY, &prio, sizeof(prio));
	put_attr(buf, &off, FRA_TABLE, &table, sizeof(table));
	put_attr(buf, &off, FRA_UID_RANGE, &ur, sizeof(ur));
	nlh->nlmsg_len = (uint32_t)off;
	if (send(fd, buf, off, 0) != (ssize_t)off)
		return -errno;
	for (;;) {
		struct nlmsghdr *h = (struct nlmsghdr *)ack;

		n = recv(fd, ack, sizeof(ack), 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		for (; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
			if (h->nlmsg_seq != seq || h->nlmsg_type != NLMSG_ERROR)
				continue;
			return ((struct nlmsgerr *)NLMSG_DATA(h))->error;
		}
	}
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "netns", required_argument, NULL, 'n' }, { "cgroup", required_argument, NULL, 'c' },
		{ "go", required_argument, NULL, 'g' },    { "prio", required_argument, NULL, 'p' },
		{ "uid", required_argument, NULL, 'u' },   { "table", required_argument, NULL, 't' },
		{ "ops", required_argument, NULL, 'o' },   { NULL, 0, NULL, 0 },
	};
	const char *netns = NULL, *cgroup = NULL, *go = NULL;
	unsigned long prio = 0, uid = 0, table = 0, ops = 0, ok = 0, err = 0;
	int c, fd, first_err = 0;
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	char path[4096], pid[32];
	uint64_t t0, deadline;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'n': netns = optarg; break;
		case 'c': cgroup = optarg; break;
		case 'g': go = optarg; break;
		case 'p': prio = num(optarg, "--prio"); break;
		case 'u': uid = num(optarg, "--uid"); break;
		case 't': table = num(optarg, "--table"); break;
		case 'o': ops = num(optarg, "--ops"); break;
		default: return 2;
		}
	}
	if (!netns || !cgroup || !go || !prio || !table || !ops || optind != argc ||
	    prio + ops / 2 >= 32766 || table > 0xffffffffu || uid > 0xfffffffeu) {
		fprintf(stderr, "usage: rule_burst --netns NAME --cgroup DIR --go FILE --prio BASE "
				"--uid UID --table T --ops N\n");
		return 2;
	}

	snprintf(path, sizeof(path), "/run/netns/%s", netns);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		die(path);
	if (setns(fd, CLONE_NEWNET) < 0)
		die("setns");
	close(fd);
	snprintf(path, sizeof(path), "%s/cgroup.procs", cgroup);
	if ((fd = open(path, O_WRONLY | O_CLOEXEC)) < 0)
		die(path);
	snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
	if (write(fd, pid, strlen(pid)) < 0)
		die("moving into the cgroup");
	close(fd);

	if ((fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE)) < 0)
		die("socket");
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die("bind");
	printf("ready pid=%d\n", (int)getpid());
	fflush(stdout);

	deadline = now_ns() + 30000000000ull;
	while (access(go, F_OK) != 0) {
		if (now_ns() > deadline) {
			fprintf(stderr, "rule_burst: %s did not appear within 30 s\n", go);
			return 1;
		}
		usleep(200);
	}

	t0 = now_ns();
	for (unsigned long i = 0; i < ops; i++) {
		int r = rule_op(fd, !(i & 1), (uint32_t)i + 1, (uint32_t)(prio + i / 2), (uint32_t)uid,
				(uint32_t)table);

		if (r == 0) {
			ok++;
		} else {
			err++;
			if (!first_err)
				first_err = -r;
		}
	}
	printf("done pid=%d ops=%lu ok=%lu err=%lu first_err=%d ns=%llu\n", (int)getpid(), ops, ok,
	       err, first_err, (unsigned long long)(now_ns() - t0));
	close(fd);
	return 0;
}
