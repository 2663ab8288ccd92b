// SPDX-License-Identifier: GPL-2.0-only
/* Unit tests for the probes on a real sd-event loop, in a network namespace
 * of their own (unshare at the start of main) where only lo exists: every
 * other address has no route. The peers are in the test: TCP listeners and
 * a tiny HTTP server served by the same loop; a veth pair whose far end
 * never answers gives the kernel's "host unreachable". Needs root
 * (CAP_SYS_ADMIN for the namespace, CAP_NET_RAW for raw ICMP); skips
 * without. NW_TEST_VERBOSE=1 prints every result. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <cmocka.h>
#include <libmnl/libmnl.h>
#include <systemd/sd-event.h>

#include "curl_event.h"
#include "http_stub.h"
#include "loop.h"
#include "netns.h"
#include "probe.h"
#include "rtnl.h"
#include "util.h"

#define MS 1000000ull
#define MAXP 8

static bool have_netns;

static uint64_t now(void)
{
	return nw_now_ns(CLOCK_MONOTONIC);
}

static int write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), r = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, s, strlen(s)) < 0)
		r = -errno;
	close(fd);
	return r;
}

/* --- results --------------------------------------------------------------- */

struct rec {
	int total;
	int results[MAXP];
	struct nw_probe_result last[MAXP];
	struct nw_probe_state st[MAXP];
	uint32_t fails_seen[32];	/* probe 0: consec_fail after each result */
	int done_a, done_b, done_c;
	int done_a_total;		/* rec.total when done_a ran */
};

static void on_result(void *ud, size_t i, const struct nw_probe_cfg *cfg,
		      const struct nw_probe_state *st, const struct nw_probe_result *r)
{
	struct rec *rec = ud;

	assert_true(i < MAXP);
	assert_false(st->in_flight);
	if (getenv("NW_TEST_VERBOSE"))
		fprintf(stderr, "  %s: ok=%d timeout=%d err=%d rtt=%llu us method=%s: %s\n",
			cfg->name, r->ok, r->timeout, r->err, (unsigned long long)r->rtt_us,
			st->method ? st->method : "-", r->detail);
	if (i == 0 && rec->results[0] < 32)
		rec->fails_seen[rec->results[0]] = st->consec_fail;
	rec->results[i]++;
	rec->total++;
	rec->last[i] = *r;
	rec->st[i] = *st;
}

static const struct nw_probes_ops ops = { .result = on_result };

static void done_a(void *ud)
{
	struct rec *rec = ud;

	rec->done_a++;
	rec->done_a_total = rec->total;
}

static void done_b(void *ud)
{
	((struct rec *)ud)->done_b++;
}

static void done_c(void *ud)
{
	((struct rec *)ud)->done_c++;
}

/* --- configs --------------------------------------------------------------- */

static struct nw_probe_cfg mk(const char *name, unsigned type, const char *target, uint16_t port,
			      uint32_t interval_ms, uint32_t timeout_ms)
{
	struct nw_probe_cfg c = { 0 };

	snprintf(c.name, sizeof(c.name), "%s", name);
	c.type = (uint8_t)type;
	c.target = (char *)target;
	c.port = port;
	c.interval_ms = interval_ms;
	c.timeout_ms = timeout_ms;
	if (type == NW_PROBE_ICMP || type == NW_PROBE_TCP) {
		if (inet_pton(AF_INET, target, c.addr) == 1)
			c.family = AF_INET;
		else if (inet_pton(AF_INET6, target, c.addr) == 1)
			c.family = AF_INET6;
		else
			fail_msg("bad address %s", target);
	}
	return c;
}

/* --- peers ----------------------------------------------------------------- */

/* a TCP socket on loopback port 0: listening (backlog) or only bound */
static int tcp_socket(int af, bool listening, uint16_t *port)
{
	struct sockaddr_storage ss = { 0 };
	socklen_t len = af == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
	int fd = socket(af, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	ss.ss_family = (sa_family_t)af;
	if (af == AF_INET)
		((struct sockaddr_in *)&ss)->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	else
		((struct sockaddr_in6 *)&ss)->sin6_addr = in6addr_loopback;
	assert_int_equal(bind(fd, (struct sockaddr *)&ss, len), 0);
	if (listening)
		assert_int_equal(listen(fd, 16), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
	*port = ntohs(af == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port :
				      ((struct sockaddr_in6 *)&ss)->sin6_port);
	return fd;
}

/* HTTP on 127.0.0.1: answers every request with status, or (silent) never
 * accepts at all */
struct server {
	struct http_stub h;
	char url[64];
};

static void server_start(struct server *s, sd_event *e, int status, bool silent)
{
	http_stub_start(&s->h, e, silent);
	s->h.reply = (struct http_reply){ status, "ok", NULL };
	snprintf(s->url, sizeof(s->url), "http://127.0.0.1:%u/probe", s->h.port);
}

/* --- fixture --------------------------------------------------------------- */

struct fixture {
	sd_event *e;
	struct nw_probes *p;
	struct rec rec;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	assert_true(sd_event_new(&f->e) >= 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	nw_probes_free(f->p);
	sd_event_unref(f->e);
	free(f);
	/* what a test may have changed in the namespace */
	if (have_netns) {
		write_file("/proc/sys/net/ipv4/ping_group_range", "1 0");
		write_file("/proc/sys/net/ipv4/icmp_echo_ignore_all", "0");
	}
	return 0;
}

static void need_netns(void)
{
	if (!have_netns)
		skip();
}

/* starts cfgs, runs until each has n results (or max), returns the probes */
static void start(struct fixture *f, const struct nw_probe_cfg *cfgs, size_t n)
{
	assert_int_equal(nw_probes_new(&f->p, f->e, cfgs, n, &ops, &f->rec), 0);
	assert_int_equal(nw_probes_count(f->p), n);
}

/* the probes first (their connections to it), then the server */
static void server_stop(struct fixture *f, struct server *s)
{
	nw_probes_free(f->p);
	f->p = NULL;
	http_stub_stop(&s->h);
}

/* the peers of the tests of every type: an HTTP server answering 200
 * (silent: never accepting) and a TCP listener on *port (returned) */
static int peers_start(struct fixture *f, struct server *s, bool silent, uint16_t *port)
{
	need_netns();
	server_start(s, f->e, 200, silent);
	return tcp_socket(AF_INET, true, port);
}

static void start_one(struct fixture *f, struct nw_probe_cfg c)
{
	start(f, &c, 1);
}

static void wait_each(struct fixture *f, size_t n, int runs, uint64_t max_ms)
{
	uint64_t end = now() + max_ms * MS;

	for (size_t i = 0; i < n; i++)
		loop_until_count(f->e, &f->rec.results[i], runs,
				 end > now() ? (end - now()) / MS : 0);
	for (size_t i = 0; i < n; i++)
		assert_true(f->rec.results[i] >= runs);
}

/* --- a link where nobody answers ------------------------------------------- */

/* nwa (10.9.0.1/24, 2001:db8:9::1/64) and its veth peer nwb, without
 * addresses: a neighbour on nwa never answers, and after one solicitation
 * (20 ms) the kernel reports "host unreachable" to the sender, over ICMP */
#define LAB_DEV "nwa"

static int add_veth(struct nw_rtnl *s, const char *a, const char *b)
{
	char buf[1024] __attribute__((aligned(8))) = { 0 };
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ifinfomsg *ifm;
	struct nlattr *info, *data, *peer;

	nlh->nlmsg_type = RTM_NEWLINK;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL;
	ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));
	ifm->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, a);
	info = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
	mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "veth");
	data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
	peer = mnl_attr_nest_start(nlh, VETH_INFO_PEER);
	mnl_nlmsg_put_extra_header(nlh, sizeof(struct ifinfomsg));	/* the peer's */
	mnl_attr_put_strz(nlh, IFLA_IFNAME, b);
	mnl_attr_nest_end(nlh, peer);
	mnl_attr_nest_end(nlh, data);
	mnl_attr_nest_end(nlh, info);
	return nw_rtnl_request(s, nlh, 1000, NULL, 0);
}

static int add_addr(struct nw_rtnl *s, int ifindex, int af, const char *addr, uint8_t plen)
{
	char buf[256] __attribute__((aligned(8))) = { 0 };
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ifaddrmsg *ifa;
	uint8_t a[16];

	assert_int_equal(inet_pton(af, addr, a), 1);
	nlh->nlmsg_type = RTM_NEWADDR;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL;
	ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	ifa->ifa_family = (uint8_t)af;
	ifa->ifa_prefixlen = plen;
	ifa->ifa_flags = IFA_F_NODAD;	/* usable at once */
	ifa->ifa_index = (uint32_t)ifindex;
	mnl_attr_put(nlh, IFA_LOCAL, af == AF_INET ? 4 : 16, a);
	mnl_attr_put(nlh, IFA_ADDRESS, af == AF_INET ? 4 : 16, a);
	return nw_rtnl_request(s, nlh, 1000, NULL, 0);
}

/* 0 ready, -errno: the tests that need it skip */
static int lab_setup(void)
{
	static int state = 1;	/* 1: not tried */
	struct nw_rtnl *s = NULL;
	int r, ifindex;

	if (state != 1)
		return state;
	if ((r = nw_rtnl_open(&s)) < 0)
		goto out;
	if ((r = add_veth(s, LAB_DEV, "nwb")) < 0 || (r = link_up(LAB_DEV)) < 0 ||
	    (r = link_up("nwb")) < 0 || (r = ifindex = nw_ifindex(LAB_DEV)) < 0 ||
	    (r = add_addr(s, ifindex, AF_INET, "10.9.0.1", 24)) < 0 ||
	    (r = add_addr(s, ifindex, AF_INET6, "2001:db8:9::1", 64)) < 0)
		goto out;
	if ((r = write_file("/proc/sys/net/ipv4/neigh/" LAB_DEV "/mcast_solicit", "1")) < 0 ||
	    (r = write_file("/proc/sys/net/ipv4/neigh/" LAB_DEV "/retrans_time_ms", "20")) < 0 ||
	    (r = write_file("/proc/sys/net/ipv6/neigh/" LAB_DEV "/mcast_solicit", "1")) < 0 ||
	    (r = write_file("/proc/sys/net/ipv6/neigh/" LAB_DEV "/retrans_time_ms", "20")) < 0)
		goto out;
	r = 0;
out:
	nw_rtnl_close(s);
	if (r < 0)
		fprintf(stderr, "test_probe: no veth lab (%s): its tests skip\n", strerror(-r));
	return state = r;
}

/* --- tests ----------------------------------------------------------------- */

static void test_names(void **state)
{
	static const char *const types[] = { "icmp", "tcp", "http", "https", "dns" };
	(void)state;

	for (unsigned i = 0; i < 5; i++) {
		assert_string_equal(nw_probe_type_name(i), types[i]);
		assert_int_equal(nw_probe_type_parse(types[i]), (int)i);
	}
	assert_int_equal(nw_probe_type_parse("ICMP"), -EINVAL);
	assert_int_equal(nw_probe_type_parse(""), -EINVAL);
	assert_int_equal(nw_probe_type_parse(NULL), -EINVAL);
	assert_string_equal(nw_probe_type_name(99), "unknown");
	assert_string_equal(nw_probe_role_name(NW_ROLE_INTERNET), "internet");
	assert_string_equal(nw_probe_role_name(NW_ROLE_GATEWAY), "gateway");
	assert_int_equal(nw_probe_role_parse("internet"), NW_ROLE_INTERNET);
	assert_int_equal(nw_probe_role_parse("gateway"), NW_ROLE_GATEWAY);
	assert_int_equal(nw_probe_role_parse("router"), -EINVAL);
}

static void test_bad_config(void **state)
{
	struct fixture *f = *state;
	struct nw_probe_cfg c = mk("x", NW_PROBE_HTTP, "http://127.0.0.1/", 0, 1000, 500);

	c.target = NULL;
	assert_int_equal(nw_probes_new(&f->p, f->e, &c, 1, &ops, &f->rec), -EINVAL);
	c = mk("x", NW_PROBE_TCP, "127.0.0.1", 1, 1000, 500);
	c.type = 42;
	assert_int_equal(nw_probes_new(&f->p, f->e, &c, 1, &ops, &f->rec), -EINVAL);
	assert_int_equal(nw_probes_new(&f->p, f->e, &c, NW_PROBES_MAX + 1, &ops, &f->rec), -E2BIG);
	f->p = NULL;
}

/* the ICMP tests run with either method: "raw", no ping sockets for
 * anyone (the default of every new namespace), or "dgram", ping sockets
 * for every group */
static void icmp_method(const char *method)
{
	need_netns();
	assert_int_equal(write_file("/proc/sys/net/ipv4/ping_group_range",
				    strcmp(method, "raw") ? "0 2147483647" : "1 0"), 0);
}

/* ICMP probes <name>4 to addr4 and <name>6 to addr6: one result each */
static void icmp_pair(struct fixture *f, const char *name, const char *addr4, const char *addr6,
		      uint32_t timeout_ms)
{
	char n4[32], n6[32];
	struct nw_probe_cfg c[2];

	snprintf(n4, sizeof(n4), "%s4", name);
	snprintf(n6, sizeof(n6), "%s6", name);
	c[0] = mk(n4, NW_PROBE_ICMP, addr4, 0, 1000, timeout_ms);
	c[1] = mk(n6, NW_PROBE_ICMP, addr6, 0, 1000, timeout_ms);
	start(f, c, 2);
	wait_each(f, 2, 1, 2000);
}

static void icmp_loopback(struct fixture *f, const char *method)
{
	icmp_method(method);
	icmp_pair(f, "lo", "127.0.0.1", "::1", 500);
	for (int i = 0; i < 2; i++) {
		const struct nw_probe_state *st = nw_probes_state(f->p, (size_t)i);

		assert_true(f->rec.last[i].ok);
		assert_false(f->rec.last[i].timeout);
		assert_int_equal(f->rec.last[i].err, 0);
		assert_non_null(st->method);
		assert_string_equal(st->method, method);
		assert_true(st->known && st->up);
		assert_int_equal(st->runs, 1);
		assert_true(f->rec.last[i].rtt_us < 500000);
	}
	assert_string_equal(f->rec.last[0].detail, "echo reply from 127.0.0.1");
	assert_string_equal(f->rec.last[1].detail, "echo reply from ::1");
}

static void test_icmp_interface_and_source(void **state)
{
	struct fixture *f = *state;
	struct nw_probe_cfg c = mk("lo", NW_PROBE_ICMP, "127.0.0.1", 0, 1000, 500);

	need_netns();
	snprintf(c.interface, sizeof(c.interface), "lo");
	c.has_source = true;
	c.source_family = AF_INET;
	inet_pton(AF_INET, "127.0.0.2", c.source);
	start(f, &c, 1);
	wait_each(f, 1, 1, 2000);
	assert_true(f->rec.last[0].ok);

	/* an interface that does not exist: the run fails, and says so */
	nw_probes_free(f->p);
	memset(&f->rec, 0, sizeof(f->rec));
	snprintf(c.interface, sizeof(c.interface), "nw-nope0");
	start(f, &c, 1);
	wait_each(f, 1, 1, 2000);
	assert_false(f->rec.last[0].ok);
	assert_int_equal(f->rec.last[0].err, ENODEV);
	assert_non_null(strstr(f->rec.last[0].detail, "SO_BINDTODEVICE"));
}

static void icmp_no_route(struct fixture *f, const char *method)
{
	icmp_method(method);
	icmp_pair(f, "far", "192.0.2.1", "2001:db8::1", 500);
	for (int i = 0; i < 2; i++) {
		assert_false(f->rec.last[i].ok);
		assert_false(f->rec.last[i].timeout);
		assert_int_equal(f->rec.last[i].err, ENETUNREACH);
		assert_string_equal(f->rec.last[i].detail, "sendto: Network is unreachable");
		/* at once, not at the deadline */
		assert_true(f->rec.last[i].rtt_us < 100000);
	}
}

/* the kernel's own "host unreachable" (no neighbour answers): a failure
 * before the deadline that says why, from the error queue of a ping socket
 * or off the raw socket */
static void icmp_unreachable(struct fixture *f, const char *method)
{
	bool raw = !strcmp(method, "raw");

	icmp_method(method);
	if (lab_setup() < 0)
		skip();
	icmp_pair(f, "nobody", raw ? "10.9.0.5" : "10.9.0.6",
		  raw ? "2001:db8:9::5" : "2001:db8:9::6", 800);
	for (int i = 0; i < 2; i++) {
		const struct nw_probe_result *r = &f->rec.last[i];

		assert_false(r->ok);
		assert_false(r->timeout);
		assert_int_equal(r->err, EHOSTUNREACH);
		assert_string_equal(nw_probes_state(f->p, (size_t)i)->method, method);
		assert_true(r->rtt_us < 700000);
	}
	assert_string_equal(f->rec.last[0].detail,
			    "destination unreachable from 10.9.0.1: No route to host");
	assert_string_equal(f->rec.last[1].detail,
			    "destination unreachable from 2001:db8:9::1: No route to host");
}

/* test fn: check with method */
#define ICMP_TEST(fn, check, method) \
	static void fn(void **state) \
	{ \
		check(*state, method); \
	}

ICMP_TEST(test_icmp_raw, icmp_loopback, "raw")
ICMP_TEST(test_icmp_dgram, icmp_loopback, "dgram")
ICMP_TEST(test_icmp_no_route_raw, icmp_no_route, "raw")
ICMP_TEST(test_icmp_no_route_dgram, icmp_no_route, "dgram")
ICMP_TEST(test_icmp_unreachable_raw, icmp_unreachable, "raw")
ICMP_TEST(test_icmp_unreachable_dgram, icmp_unreachable, "dgram")

static void test_icmp_timeout(void **state)
{
	struct fixture *f = *state;
	struct nw_probe_cfg c = mk("mute", NW_PROBE_ICMP, "127.0.0.1", 0, 1000, 100);

	need_netns();
	assert_int_equal(write_file("/proc/sys/net/ipv4/icmp_echo_ignore_all", "1"), 0);
	start(f, &c, 1);
	wait_each(f, 1, 1, 2000);
	assert_false(f->rec.last[0].ok);
	assert_true(f->rec.last[0].timeout);
	assert_int_equal(f->rec.last[0].err, ETIMEDOUT);
	assert_string_equal(f->rec.last[0].detail, "timeout after 100 ms");
	assert_true(f->rec.last[0].rtt_us >= 100000);
	assert_string_equal(nw_probes_state(f->p, 0)->method, "raw");
}

static void test_tcp_ok(void **state)
{
	struct fixture *f = *state;
	uint16_t p4, p6;
	int l4, l6;
	char want[64];

	need_netns();
	l4 = tcp_socket(AF_INET, true, &p4);
	l6 = tcp_socket(AF_INET6, true, &p6);
	{
		struct nw_probe_cfg c[2] = {
			mk("t4", NW_PROBE_TCP, "127.0.0.1", p4, 1000, 500),
			mk("t6", NW_PROBE_TCP, "::1", p6, 1000, 500),
		};

		c[0].has_source = true;
		c[0].source_family = AF_INET;
		inet_pton(AF_INET, "127.0.0.1", c[0].source);
		start(f, c, 2);
		wait_each(f, 2, 1, 2000);
	}
	assert_true(f->rec.last[0].ok);
	assert_true(f->rec.last[1].ok);
	snprintf(want, sizeof(want), "connected to 127.0.0.1:%u", p4);
	assert_string_equal(f->rec.last[0].detail, want);
	snprintf(want, sizeof(want), "connected to [::1]:%u", p6);
	assert_string_equal(f->rec.last[1].detail, want);
	assert_null(nw_probes_state(f->p, 0)->method);
	close(l4);
	close(l6);
}

static void test_tcp_refused(void **state)
{
	struct fixture *f = *state;
	uint16_t port;
	int fd;

	need_netns();
	fd = tcp_socket(AF_INET, false, &port);	/* bound, not listening: RST */
	start_one(f, mk("closed", NW_PROBE_TCP, "127.0.0.1", port, 1000, 500));
	wait_each(f, 1, 1, 2000);
	assert_false(f->rec.last[0].ok);
	assert_false(f->rec.last[0].timeout);
	assert_int_equal(f->rec.last[0].err, ECONNREFUSED);
	assert_string_equal(f->rec.last[0].detail, "connect: Connection refused");
	assert_false(nw_probes_state(f->p, 0)->up);
	close(fd);
}

static void test_http_ok(void **state)
{
	struct fixture *f = *state;
	struct server s;

	need_netns();
	server_start(&s, f->e, 200, false);
	start_one(f, mk("web", NW_PROBE_HTTP, s.url, 0, 1000, 500));
	wait_each(f, 1, 1, 2000);
	assert_true(f->rec.last[0].ok);
	assert_int_equal(f->rec.last[0].http_status, 200);
	assert_string_equal(f->rec.last[0].detail, "HTTP 200");
	assert_int_equal(s.h.served, 1);
	server_stop(f, &s);
}

static void test_http_status(void **state)
{
	struct fixture *f = *state;
	struct server s;

	need_netns();
	server_start(&s, f->e, 503, false);
	{
		struct nw_probe_cfg c[3] = {
			mk("any", NW_PROBE_HTTP, s.url, 0, 1000, 500),
			mk("want503", NW_PROBE_HTTP, s.url, 0, 1000, 500),
			mk("want200", NW_PROBE_HTTP, s.url, 0, 1000, 500),
		};

		c[1].expect_status = 503;
		c[2].expect_status = 200;
		start(f, c, 3);
	}
	wait_each(f, 3, 1, 2000);
	assert_false(f->rec.last[0].ok);
	assert_int_equal(f->rec.last[0].http_status, 503);
	assert_string_equal(f->rec.last[0].detail, "HTTP 503 (expected 2xx/3xx)");
	assert_true(f->rec.last[1].ok);
	assert_false(f->rec.last[2].ok);
	assert_string_equal(f->rec.last[2].detail, "HTTP 503 (expected 200)");
	server_stop(f, &s);
}

static void test_http_timeout(void **state)
{
	struct fixture *f = *state;
	struct server s;

	need_netns();
	server_start(&s, f->e, 200, true);	/* never answers */
	start_one(f, mk("mute", NW_PROBE_HTTP, s.url, 0, 1000, 150));
	wait_each(f, 1, 1, 2000);
	assert_false(f->rec.last[0].ok);
	assert_true(f->rec.last[0].timeout);
	assert_int_equal(f->rec.last[0].http_status, 0);
	assert_true(f->rec.last[0].rtt_us >= 140000);
	server_stop(f, &s);
}

/* https to a server that answers in plain text: the TLS failure, in
 * curl's words, at once */
static void test_https_not_tls(void **state)
{
	struct fixture *f = *state;
	struct server s;
	char url[64];

	need_netns();
	server_start(&s, f->e, 200, false);
	s.h.eager = true;
	snprintf(url, sizeof(url), "https://127.0.0.1:%u/", s.h.port);
	/* loading the CA store takes a while on a loaded machine */
	start_one(f, mk("tls", NW_PROBE_HTTPS, url, 0, 10000, 4000));
	wait_each(f, 1, 1, 6000);
	assert_false(f->rec.last[0].ok);
	assert_false(f->rec.last[0].timeout);
	assert_int_equal(f->rec.last[0].http_status, 0);
	assert_true(f->rec.last[0].err != 0);
	assert_non_null(strstr(f->rec.last[0].detail, "SSL"));
	server_stop(f, &s);
}

static void test_http_refused(void **state)
{
	struct fixture *f = *state;
	char url[64];
	uint16_t port;
	int fd;

	need_netns();
	fd = tcp_socket(AF_INET, false, &port);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/", port);
	start_one(f, mk("closed", NW_PROBE_HTTP, url, 0, 1000, 500));
	wait_each(f, 1, 1, 2000);
	assert_false(f->rec.last[0].ok);
	assert_false(f->rec.last[0].timeout);
	assert_int_equal(f->rec.last[0].err, ECONNREFUSED);
	assert_non_null(strstr(f->rec.last[0].detail, "(Connection refused)"));
	close(fd);
}

static void test_dns(void **state)
{
	struct fixture *f = *state;
	struct nw_probe_cfg c[3] = {
		mk("hosts", NW_PROBE_DNS, "localhost", 0, 1000, 900),
		mk("hosts4", NW_PROBE_DNS, "localhost", 0, 1000, 900),
		mk("nx", NW_PROBE_DNS, "nonexistent.invalid", 0, 1000, 900),
	};

	need_netns();
	c[1].family = 4;
	start(f, c, 3);
	wait_each(f, 3, 1, 3000);
	assert_true(f->rec.last[0].ok);
	assert_non_null(strstr(f->rec.last[0].detail, "address"));
	assert_true(f->rec.last[1].ok);
	assert_string_equal(f->rec.last[1].detail, "1 address, first 127.0.0.1");
	assert_false(f->rec.last[2].ok);
	assert_int_not_equal(f->rec.last[2].err, 0);
}

struct curl_done {
	int calls;
	CURLcode rc;
};

static size_t drop_body(char *data, size_t size, size_t n, void *ud)
{
	(void)data;
	(void)ud;
	return size * n;
}

static CURL *easy_to(const char *url)
{
	CURL *easy = curl_easy_init();

	assert_non_null(easy);
	curl_easy_setopt(easy, CURLOPT_URL, url);
	curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, drop_body);
	return easy;
}

static void on_curl_done(void *ud, CURL *easy, CURLcode rc)
{
	struct curl_done *d = ud;

	d->calls++;
	d->rc = rc;
	curl_easy_cleanup(easy);
}

static void test_curl_remove(void **state)
{
	struct fixture *f = *state;
	nw_curl_done_fn on_done = on_curl_done;
	struct curl_done d = { 0 };
	struct nw_curl *c;
	struct server s;
	CURL *easy;

	need_netns();
	server_start(&s, f->e, 200, false);
	assert_int_equal(nw_curl_new(&c, f->e), 0);
	easy = easy_to(s.url);
	assert_int_equal(nw_curl_add(c, easy, on_done, &d), 0);
	assert_int_equal(nw_curl_add(c, easy, on_done, &d), -EALREADY);
	assert_int_equal(nw_curl_running(c), 1);
	nw_curl_remove(c, easy);
	assert_int_equal(nw_curl_running(c), 0);
	loop_for(f->e, 20);
	assert_int_equal(d.calls, 0);
	/* the caller still owns it: again, to the end */
	assert_int_equal(nw_curl_add(c, easy, on_done, &d), 0);
	loop_until_count(f->e, &d.calls, 1, 2000);
	assert_int_equal(d.calls, 1);
	assert_int_equal(d.rc, CURLE_OK);
	assert_int_equal(nw_curl_running(c), 0);
	/* one left running when freed: cleaned up, no callback */
	easy = easy_to(s.url);
	assert_int_equal(nw_curl_add(c, easy, on_done, &d), 0);
	nw_curl_free(c);
	loop_for(f->e, 20);
	assert_int_equal(d.calls, 1);
	server_stop(f, &s);
}

/* run_now: done from the loop once every probe reported a run started
 * after the call; the regular interval restarts from it */
static void test_run_now_done(void **state)
{
	struct fixture *f = *state;
	struct server s;
	uint16_t port;
	int l;

	l = peers_start(f, &s, false, &port);
	{
		struct nw_probe_cfg c[3] = {
			mk("i", NW_PROBE_ICMP, "127.0.0.1", 0, 10000, 500),
			mk("t", NW_PROBE_TCP, "127.0.0.1", port, 10000, 500),
			mk("h", NW_PROBE_HTTP, s.url, 0, 10000, 500),
		};

		start(f, c, 3);
	}
	assert_int_equal(nw_probes_run_now(f->p, done_a, &f->rec), 0);
	assert_int_equal(f->rec.done_a, 0);		/* never from within */
	for (size_t i = 0; i < 3; i++)
		assert_true(nw_probes_state(f->p, i)->in_flight);
	loop_until_count(f->e, &f->rec.done_a, 1, 2000);
	assert_int_equal(f->rec.done_a, 1);
	assert_int_equal(f->rec.done_a_total, 3);
	for (size_t i = 0; i < 3; i++)
		assert_true(f->rec.last[i].ok);
	/* the first regular run was due at once; run_now took its place and
	 * the next one is 10 s away */
	loop_for(f->e, 100);
	assert_int_equal(f->rec.done_a, 1);
	assert_int_equal(f->rec.total, 3);
	server_stop(f, &s);
	close(l);
}

static void test_run_now_in_flight(void **state)
{
	struct fixture *f = *state;
	struct rec other = { 0 };
	struct server s;
	uint64_t t0;

	need_netns();
	server_start(&s, f->e, 200, true);	/* every run times out */
	start_one(f, mk("mute", NW_PROBE_HTTP, s.url, 0, 10000, 100));
	/* the first regular run starts from the loop */
	assert_false(nw_probes_state(f->p, 0)->in_flight);
	assert_true(sd_event_run(f->e, 0) >= 0);
	assert_true(nw_probes_state(f->p, 0)->in_flight);
	t0 = now();
	assert_int_equal(nw_probes_run_now(f->p, done_a, &f->rec), 0);
	assert_int_equal(nw_probes_run_now(f->p, done_b, &f->rec), 0);
	/* another owner, which goes away */
	assert_int_equal(nw_probes_run_now(f->p, done_c, &other), 0);
	assert_int_equal(nw_probes_run_now(f->p, done_c, &other), 0);
	nw_probes_cancel_done(f->p, &other);
	/* the run in flight ends, does not count, and the probe runs again */
	loop_until_count(f->e, &f->rec.results[0], 1, 2000);
	assert_int_equal(f->rec.results[0], 1);
	assert_int_equal(f->rec.done_a, 0);
	assert_true(nw_probes_state(f->p, 0)->in_flight);
	loop_until_count(f->e, &f->rec.done_a, 1, 2000);
	assert_int_equal(f->rec.done_a, 1);
	assert_int_equal(f->rec.done_a_total, 2);
	assert_true(now() - t0 >= 190 * MS);
	loop_until_count(f->e, &f->rec.done_b, 1, 100);
	assert_int_equal(f->rec.done_b, 1);
	loop_for(f->e, 50);
	assert_int_equal(other.done_c, 0);
	assert_int_equal(f->rec.done_a, 1);
	assert_int_equal(f->rec.results[0], 2);	/* once more, not twice more */
	server_stop(f, &s);
}

static void test_run_now_no_probes(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(nw_probes_new(&f->p, f->e, NULL, 0, &ops, &f->rec), 0);
	assert_int_equal(nw_probes_run_now(f->p, done_a, &f->rec), 0);
	assert_int_equal(f->rec.done_a, 0);
	loop_until_count(f->e, &f->rec.done_a, 1, 500);
	assert_int_equal(f->rec.done_a, 1);
	loop_for(f->e, 10);
	assert_int_equal(f->rec.done_a, 1);
}

static void test_consec_and_since(void **state)
{
	struct fixture *f = *state;
	const struct nw_probe_state *st;
	uint64_t up_since, t_close;
	uint16_t port;
	int l, ok_runs;

	need_netns();
	l = tcp_socket(AF_INET, true, &port);
	start_one(f, mk("flap", NW_PROBE_TCP, "127.0.0.1", port, 30, 20));
	st = nw_probes_state(f->p, 0);
	assert_false(st->known);
	loop_until_count(f->e, &f->rec.results[0], 2, 2000);
	assert_true(st->known && st->up);
	assert_int_equal(st->consec_ok, 2);
	assert_int_equal(st->consec_fail, 0);
	up_since = st->since_ns;
	assert_true(up_since > 0 && up_since <= f->rec.last[0].started_ns + 20 * MS);
	/* the listener goes: refused from the next run on */
	close(l);
	t_close = now();
	ok_runs = f->rec.results[0];
	loop_until_count(f->e, &f->rec.results[0], ok_runs + 3, 2000);
	assert_false(st->up);
	assert_int_equal(st->consec_ok, 0);
	assert_int_equal(st->consec_fail, 3);
	assert_int_equal(st->failures, 3);
	assert_int_equal(st->runs, (uint64_t)ok_runs + 3);
	for (int i = 0; i < ok_runs; i++)
		assert_int_equal(f->rec.fails_seen[i], 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(f->rec.fails_seen[ok_runs + i], (uint32_t)i + 1);
	/* since: the first failed result, not the later ones */
	assert_true(st->since_ns > up_since && st->since_ns >= t_close);
	assert_true(st->since_ns < st->last.started_ns);
	/* regular runs, about every 30 ms */
	assert_true(now() - t_close < 1000 * MS);
}

static void test_status_json(void **state)
{
	struct fixture *f = *state;
	cJSON *arr = cJSON_CreateArray(), *o;
	uint16_t port;
	int l, fd;

	need_netns();
	l = tcp_socket(AF_INET, true, &port);
	{
		uint16_t closed;
		struct nw_probe_cfg c[3];

		fd = tcp_socket(AF_INET, false, &closed);
		c[0] = mk("up", NW_PROBE_TCP, "127.0.0.1", port, 1000, 500);
		c[1] = mk("down", NW_PROBE_TCP, "127.0.0.1", closed, 1000, 500);
		c[2] = mk("later", NW_PROBE_DNS, "localhost", 0, 1000, 500);
		c[1].role = NW_ROLE_GATEWAY;
		start(f, c, 3);
	}
	/* before any result */
	nw_probes_status(f->p, arr);
	assert_int_equal(cJSON_GetArraySize(arr), 3);
	o = cJSON_GetArrayItem(arr, 2);
	assert_string_equal(cJSON_GetObjectItem(o, "state")->valuestring, "unknown");
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(o, "since_s")));
	cJSON_Delete(arr);

	wait_each(f, 2, 1, 2000);
	arr = cJSON_CreateArray();
	nw_probes_status(f->p, arr);
	o = cJSON_GetArrayItem(arr, 0);
	assert_string_equal(cJSON_GetObjectItem(o, "name")->valuestring, "up");
	assert_string_equal(cJSON_GetObjectItem(o, "type")->valuestring, "tcp");
	assert_string_equal(cJSON_GetObjectItem(o, "role")->valuestring, "internet");
	assert_string_equal(cJSON_GetObjectItem(o, "target")->valuestring, "127.0.0.1");
	assert_int_equal(cJSON_GetObjectItem(o, "port")->valueint, port);
	assert_int_equal(cJSON_GetObjectItem(o, "interval_ms")->valueint, 1000);
	assert_int_equal(cJSON_GetObjectItem(o, "timeout_ms")->valueint, 500);
	assert_string_equal(cJSON_GetObjectItem(o, "state")->valuestring, "up");
	assert_int_equal(cJSON_GetObjectItem(o, "consecutive_failures")->valueint, 0);
	assert_int_equal(cJSON_GetObjectItem(o, "runs")->valueint, 1);
	assert_int_equal(cJSON_GetObjectItem(o, "failures")->valueint, 0);
	assert_true(cJSON_IsNumber(cJSON_GetObjectItem(o, "last_rtt_us")));
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(o, "last_error")));
	assert_true(cJSON_GetObjectItem(o, "since_s")->valuedouble >= 0);
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(o, "method")));
	o = cJSON_GetArrayItem(arr, 1);
	assert_string_equal(cJSON_GetObjectItem(o, "role")->valuestring, "gateway");
	assert_string_equal(cJSON_GetObjectItem(o, "state")->valuestring, "down");
	assert_int_equal(cJSON_GetObjectItem(o, "consecutive_failures")->valueint, 1);
	assert_string_equal(cJSON_GetObjectItem(o, "last_error")->valuestring,
			    "connect: Connection refused");
	cJSON_Delete(arr);
	close(l);
	close(fd);
}

/* frees the probes with runs in flight: nothing comes after, the results
 * stay at total and no done is called */
static void free_probes_quiet(struct fixture *f, int total)
{
	nw_probes_free(f->p);
	f->p = NULL;
	loop_for(f->e, 50);
	assert_int_equal(f->rec.total, total);
	assert_int_equal(f->rec.done_a, 0);
}

/* every type in flight when freed: no callback after, nothing leaked
 * (ASan), the threads and sockets of the runs left to finish alone */
static void test_free_in_flight(void **state)
{
	struct fixture *f = *state;
	struct server s;
	uint16_t port;
	int l;

	l = peers_start(f, &s, true, &port);
	assert_int_equal(write_file("/proc/sys/net/ipv4/icmp_echo_ignore_all", "1"), 0);
	{
		struct nw_probe_cfg c[5] = {
			mk("i", NW_PROBE_ICMP, "127.0.0.1", 0, 10000, 500),
			mk("t", NW_PROBE_TCP, "127.0.0.1", port, 10000, 500),
			mk("h", NW_PROBE_HTTP, s.url, 0, 10000, 500),
			mk("d", NW_PROBE_DNS, "localhost", 0, 10000, 500),
			mk("n", NW_PROBE_DNS, "nonexistent.invalid", 0, 10000, 500),
		};

		start(f, c, 5);
	}
	assert_int_equal(nw_probes_run_now(f->p, done_a, &f->rec), 0);
	loop_for(f->e, 30);	/* http connects and waits; icmp waits */
	assert_true(nw_probes_state(f->p, 0)->in_flight);
	assert_true(nw_probes_state(f->p, 2)->in_flight);
	free_probes_quiet(f, f->rec.total);

	/* and freed straight after starting, before the loop ran at all */
	memset(&f->rec, 0, sizeof(f->rec));
	{
		struct nw_probe_cfg c[4] = {
			mk("t", NW_PROBE_TCP, "127.0.0.1", port, 10000, 500),
			mk("h", NW_PROBE_HTTP, s.url, 0, 10000, 500),
			mk("d", NW_PROBE_DNS, "localhost", 0, 10000, 500),
			mk("far", NW_PROBE_ICMP, "192.0.2.1", 0, 10000, 500),
		};

		start(f, c, 4);
	}
	assert_int_equal(nw_probes_run_now(f->p, done_a, &f->rec), 0);
	free_probes_quiet(f, 0);
	server_stop(f, &s);
	close(l);
}

/* the owner may start everything again from a result */
static struct nw_probes *again_p;
static int again_results, again_done;

static void again_done_cb(void *ud)
{
	(void)ud;
	again_done++;
}

static void on_result_again(void *ud, size_t i, const struct nw_probe_cfg *cfg,
			    const struct nw_probe_state *st, const struct nw_probe_result *r)
{
	(void)ud;
	(void)i;
	(void)cfg;
	(void)st;
	(void)r;
	if (++again_results == 1)
		assert_int_equal(nw_probes_run_now(again_p, again_done_cb, NULL), 0);
}

static void test_run_now_from_result(void **state)
{
	struct fixture *f = *state;
	static const struct nw_probes_ops ops_again = { .result = on_result_again };
	uint16_t port;
	int l;

	need_netns();
	l = tcp_socket(AF_INET, true, &port);
	{
		struct nw_probe_cfg c = mk("t", NW_PROBE_TCP, "127.0.0.1", port, 10000, 500);

		assert_int_equal(nw_probes_new(&f->p, f->e, &c, 1, &ops_again, NULL), 0);
	}
	again_p = f->p;
	loop_until_count(f->e, &again_done, 1, 2000);
	assert_int_equal(again_done, 1);
	assert_int_equal(again_results, 2);
	loop_for(f->e, 30);
	assert_int_equal(again_results, 2);
	close(l);
}

/* the owner may drop everything from a result or a done callback */
static struct fixture *freeing;

static void on_result_free(void *ud, size_t i, const struct nw_probe_cfg *cfg,
			   const struct nw_probe_state *st, const struct nw_probe_result *r)
{
	(void)ud;
	(void)i;
	(void)cfg;
	(void)st;
	(void)r;
	freeing->rec.total++;
	nw_probes_free(freeing->p);
	freeing->p = NULL;
}

static void done_free(void *ud)
{
	struct fixture *f = ud;

	f->rec.done_a++;
	nw_probes_free(f->p);
	f->p = NULL;
}

static void test_free_from_callbacks(void **state)
{
	struct fixture *f = *state;
	static const struct nw_probes_ops ops_free = { .result = on_result_free };
	struct server s;
	uint16_t port;
	int l;

	l = peers_start(f, &s, false, &port);
	freeing = f;
	{
		/* the first result comes from curl's dispatch: freed in there */
		struct nw_probe_cfg c[2] = {
			mk("h", NW_PROBE_HTTP, s.url, 0, 10000, 500),
			mk("mute", NW_PROBE_ICMP, "127.0.0.1", 0, 10000, 500),
		};

		assert_int_equal(write_file("/proc/sys/net/ipv4/icmp_echo_ignore_all", "1"), 0);
		assert_int_equal(nw_probes_new(&f->p, f->e, c, 2, &ops_free, NULL), 0);
	}
	loop_until_count(f->e, &f->rec.total, 1, 2000);
	assert_null(f->p);
	loop_for(f->e, 30);
	assert_int_equal(f->rec.total, 1);

	memset(&f->rec, 0, sizeof(f->rec));
	{
		struct nw_probe_cfg c[2] = {
			mk("t", NW_PROBE_TCP, "127.0.0.1", port, 10000, 500),
			mk("h", NW_PROBE_HTTP, s.url, 0, 10000, 500),
		};

		start(f, c, 2);
	}
	assert_int_equal(nw_probes_run_now(f->p, done_free, f), 0);
	assert_int_equal(nw_probes_run_now(f->p, done_b, &f->rec), 0);
	loop_until_count(f->e, &f->rec.done_a, 1, 2000);
	assert_null(f->p);
	loop_for(f->e, 30);
	assert_int_equal(f->rec.done_a, 1);
	assert_int_equal(f->rec.done_b, 0);	/* gone with the probes */
	server_stop(f, &s);
	close(l);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_names),
		T(test_bad_config),
		T(test_icmp_raw),
		T(test_icmp_dgram),
		T(test_icmp_interface_and_source),
		T(test_icmp_no_route_raw),
		T(test_icmp_no_route_dgram),
		T(test_icmp_unreachable_raw),
		T(test_icmp_unreachable_dgram),
		T(test_icmp_timeout),
		T(test_tcp_ok),
		T(test_tcp_refused),
		T(test_http_ok),
		T(test_http_status),
		T(test_http_timeout),
		T(test_https_not_tls),
		T(test_http_refused),
		T(test_dns),
		T(test_curl_remove),
		T(test_run_now_done),
		T(test_run_now_in_flight),
		T(test_run_now_no_probes),
		T(test_run_now_from_result),
		T(test_consec_and_since),
		T(test_status_json),
		T(test_free_in_flight),
		T(test_free_from_callbacks),
	};
	int r;

	if ((r = netns_unshare()) < 0)
		fprintf(stderr, "test_probe: no network namespace of our own (%s): "
			"the probe tests skip\n", strerror(-r));
	else
		have_netns = true;
	/* the probes go direct, whatever this shell's proxy is */
	unsetenv("http_proxy");
	unsetenv("HTTP_PROXY");
	unsetenv("https_proxy");
	unsetenv("HTTPS_PROXY");
	unsetenv("all_proxy");
	unsetenv("ALL_PROXY");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
