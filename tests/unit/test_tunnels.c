// SPDX-License-Identifier: GPL-2.0-only
/* Unit tests for the tunnel poller: the hysteresis (pure), then the poller
 * end to end on a real sd-event loop against a tiny HTTP server inside the
 * test (a listening socket on 127.0.0.1:0 served by the same loop, one
 * scripted reply per tunnel, every request counted), without a system bus
 * (DBUS_SYSTEM_BUS_ADDRESS points nowhere), and once with one: a private
 * dbus-daemon where the test itself plays systemd1 (GetUnit, StartUnit,
 * StopUnit, ActiveState). The loop runs against deadline timers, never
 * sleep. In a network namespace of its own when it can make one (root):
 * there the silent gateway is an address without a route. Then the state
 * file of the units it started (tunnels.json): the text both ways, bad
 * files, and a poller freed and made again (a restart) that stops what
 * the first one started. */
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
#include <netinet/in.h>
#include <ftw.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <cmocka.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "http_stub.h"
#include "loop.h"
#include "netns.h"
#include "private_bus.h"
#include "netward/event.h"
#include "secret.h"
#include "tunnels.h"
#include "tunnels_impl.h"
#include "util.h"

#define MS 1000000ull
#define MAXT 4
#define MAXHITS 128
#define MAXEV 256

static bool have_netns;

static uint64_t now(void)
{
	return nw_now_ns(CLOCK_MONOTONIC);
}

/* --- the hysteresis --------------------------------------------------------- */

static void test_health_feed(void **state)
{
	struct nw_tunnel_cfg c = { .fall = 2, .rise = 3 };
	struct nw_tunnel_health h = { 0 };
	(void)state;

	assert_int_equal(nw_tunnel_health_feed(&h, NW_TUNNEL_HEALTHY, &c), 0);
	assert_int_equal(nw_tunnel_health_feed(&h, NW_TUNNEL_DOWN, &c), 0);
	/* unknown answers do not count, nor break a streak */
	assert_int_equal(nw_tunnel_health_feed(&h, NW_TUNNEL_UNKNOWN, &c), 0);
	assert_int_equal(nw_tunnel_health_feed(&h, NW_TUNNEL_INACTIVE, &c), 1);
	assert_true(h.down);
	assert_int_equal(nw_tunnel_health_feed(&h, NW_TUNNEL_DOWN, &c), 0);
	assert_true(h.down);
	/* rise: 3 healthy in a row; a bad one starts over */
	assert_int_equal(nw_tunnel_health_feed(&h, NW_TUNNEL_HEALTHY, &c), 0);
	assert_int_equal(nw_tunnel_health_feed(&h, NW_TUNNEL_HEALTHY, &c), 0);
	assert_int_equal(nw_tunnel_health_feed(&h, NW_TUNNEL_DOWN, &c), 0);
	assert_true(h.down);
	assert_int_equal(nw_tunnel_health_feed(&h, NW_TUNNEL_HEALTHY, &c), 0);
	assert_int_equal(nw_tunnel_health_feed(&h, NW_TUNNEL_UNKNOWN, &c), 0);
	assert_int_equal(nw_tunnel_health_feed(&h, NW_TUNNEL_HEALTHY, &c), 0);
	assert_int_equal(nw_tunnel_health_feed(&h, NW_TUNNEL_HEALTHY, &c), -1);
	assert_false(h.down);
	assert_int_equal(nw_tunnel_health_feed(&h, NW_TUNNEL_HEALTHY, &c), 0);

	/* degraded still serves, unless degraded_is_down */
	memset(&h, 0, sizeof(h));
	c.fall = 1;
	c.rise = 1;
	assert_int_equal(nw_tunnel_health_feed(&h, NW_TUNNEL_DEGRADED, &c), 0);
	assert_false(h.down);
	assert_int_equal(nw_tunnel_health_feed(&h, NW_TUNNEL_DOWN, &c), 1);
	assert_int_equal(nw_tunnel_health_feed(&h, NW_TUNNEL_DEGRADED, &c), -1);
	c.degraded_is_down = true;
	assert_int_equal(nw_tunnel_health_feed(&h, NW_TUNNEL_DEGRADED, &c), 1);
	assert_int_equal(nw_tunnel_health_feed(&h, NW_TUNNEL_DEGRADED, &c), 0);
	assert_int_equal(nw_tunnel_health_feed(&h, NW_TUNNEL_HEALTHY, &c), -1);

	/* fall/rise 0 (not from the config parser) mean the defaults, 2 */
	memset(&h, 0, sizeof(h));
	c.fall = c.rise = 0;
	assert_int_equal(nw_tunnel_health_feed(&h, NW_TUNNEL_DOWN, &c), 0);
	assert_int_equal(nw_tunnel_health_feed(&h, NW_TUNNEL_DOWN, &c), 1);
	/* starting down: fall answers, like any other time */
	memset(&h, 0, sizeof(h));
	c.fall = 3;
	for (int i = 0; i < 2; i++)
		assert_int_equal(nw_tunnel_health_feed(&h, NW_TUNNEL_INACTIVE, &c), 0);
	assert_int_equal(nw_tunnel_health_feed(&h, NW_TUNNEL_INACTIVE, &c), 1);
	/* a long spell does not wrap */
	h.bad = UINT32_MAX;
	assert_int_equal(nw_tunnel_health_feed(&h, NW_TUNNEL_DOWN, &c), 0);
	assert_int_equal(h.bad, UINT32_MAX);
}

/* --- a tiny HTTP server ------------------------------------------------------- */

#define BODY_HEALTHY "{\"success\":true,\"errors\":[],\"messages\":[],\"result\":" \
		     "{\"id\":\"x\",\"status\":\"healthy\"}}"
#define BODY_DOWN "{\"success\":true,\"errors\":[],\"messages\":[],\"result\":" \
		  "{\"id\":\"x\",\"status\":\"down\"}}"
#define BODY_AUTH "{\"success\":false,\"errors\":[{\"code\":10000,\"message\":" \
		  "\"Authentication error\"}],\"messages\":[],\"result\":null}"
#define BODY_RATE "{\"success\":false,\"errors\":[{\"code\":971,\"message\":" \
		  "\"Please wait and consider throttling your request speed\"}]}"

/* the API's reply per tunnel, by the last digit of the tunnel id in the
 * path; /ready/N: the ready endpoint of tunnel N */
struct server {
	struct http_stub h;
	struct http_reply api[MAXT], ready[MAXT];
	unsigned api_hits[MAXT], ready_hits[MAXT], other_hits;
	uint64_t api_at[MAXT][MAXHITS];
	char auth[MAXT][256];		/* the last Authorization header */
};

static const struct http_reply *route(struct http_stub *h, const char *path, const char *request)
{
	static const struct http_reply not_found = { 404, "{}", NULL };
	struct server *s = h->ud;
	const char *api = strstr(path, "/cfd_tunnel/");
	size_t l = strlen(path);
	unsigned i;

	if (api && l && (i = (unsigned)(path[l - 1] - '0')) < MAXT) {
		if (s->api_hits[i] < MAXHITS)
			s->api_at[i][s->api_hits[i]] = now();
		s->api_hits[i]++;
		http_stub_header(request, "Authorization", s->auth[i], sizeof(s->auth[i]));
		return &s->api[i];
	}
	if (!strncmp(path, "/ready/", 7) && (i = (unsigned)(path[7] - '0')) < MAXT) {
		s->ready_hits[i]++;
		return &s->ready[i];
	}
	s->other_hits++;
	return &not_found;
}

static void server_start(struct server *s, sd_event *e)
{
	http_stub_start(&s->h, e, false);
	s->h.route = route;
	s->h.ud = s;
	s->h.content_type = "application/json";
	for (unsigned i = 0; i < MAXT; i++) {
		s->api[i] = (struct http_reply){ 200, BODY_HEALTHY, NULL };
		s->ready[i] = (struct http_reply){ 503, "{\"status\":503,\"readyConnections\":0}",
						   NULL };
	}
}

/* --- the poller under test ------------------------------------------------------ */

struct evrec {
	unsigned type;
	cJSON *ev;
};

/* systemd1 as the test plays it, on a private dbus-daemon */
struct fake_systemd {
	struct private_bus pb;
	sd_bus *bus;
	sd_bus_slot *manager, *unit;
	char unit_path[256];
	char state[32];			/* backup.service's ActiveState, "" not loaded */
	unsigned get_units, starts, stops;
};

struct fixture {
	sd_event *e;
	struct server srv;
	char dir[64];
	char tokfile[MAXT][96];
	char token[MAXT][64];
	char api_base[64], ready_url[MAXT][64];
	struct nw_tunnel_cfg watch[MAXT];
	struct nw_tunnels_cfg cfg;
	struct nw_tunnels *t;
	struct evrec ev[MAXEV];
	size_t n_ev;
	struct fake_systemd sd;
};

static void check_no_token(struct fixture *f, const char *text)
{
	for (unsigned i = 0; i < MAXT; i++)
		if (f->token[i][0])
			assert_null(strstr(text, f->token[i]));
}

static void on_emit(void *ud, unsigned type, cJSON *ev)
{
	struct fixture *f = ud;
	char *s = cJSON_PrintUnformatted(ev);

	assert_non_null(s);
	check_no_token(f, s);
	if (getenv("NW_TEST_VERBOSE"))
		fprintf(stderr, "  event %s\n", s);
	free(s);
	assert_true(f->n_ev < MAXEV);
	f->ev[f->n_ev].type = type;
	assert_non_null(f->ev[f->n_ev].ev = cJSON_Duplicate(ev, true));
	f->n_ev++;
}

static const struct nw_tunnels_ops ops = { .emit = on_emit };

static const char *str(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* events of type whose key is value (key NULL: any) */
static unsigned count_ev(struct fixture *f, unsigned type, const char *key, const char *value)
{
	unsigned n = 0;

	for (size_t i = 0; i < f->n_ev; i++) {
		const char *v;

		if (f->ev[i].type != type)
			continue;
		if (key && (!(v = str(f->ev[i].ev, key)) || strcmp(v, value)))
			continue;
		n++;
	}
	return n;
}

static const cJSON *last_ev(struct fixture *f, unsigned type)
{
	for (size_t i = f->n_ev; i-- > 0;)
		if (f->ev[i].type == type)
			return f->ev[i].ev;
	return NULL;
}

/* --- systemd1 on a private bus ------------------------------------------------------ */

#define UNIT "backup.service"

static int m_get_unit(sd_bus_message *m, void *ud, sd_bus_error *err)
{
	struct fake_systemd *sd = ud;
	const char *name;
	int r;

	if ((r = sd_bus_message_read(m, "s", &name)) < 0)
		return r;
	sd->get_units++;
	if (strcmp(name, UNIT) || !sd->state[0])
		return sd_bus_error_setf(err, "org.freedesktop.systemd1.NoSuchUnit",
					 "Unit %s not loaded.", name);
	return sd_bus_reply_method_return(m, "o", sd->unit_path);
}

static int m_job(sd_bus_message *m, struct fake_systemd *sd, bool start)
{
	const char *name, *mode;
	char job[64];
	int r;

	if ((r = sd_bus_message_read(m, "ss", &name, &mode)) < 0)
		return r;
	assert_string_equal(name, UNIT);
	assert_string_equal(mode, "replace");
	if (start) {
		sd->starts++;
		snprintf(sd->state, sizeof(sd->state), "active");
	} else {
		sd->stops++;
		sd->state[0] = 0;	/* unloaded: GetUnit says NoSuchUnit */
	}
	snprintf(job, sizeof(job), "/org/freedesktop/systemd1/job/%u", sd->starts + sd->stops);
	return sd_bus_reply_method_return(m, "o", job);
}

static int m_start(sd_bus_message *m, void *ud, sd_bus_error *err)
{
	(void)err;
	return m_job(m, ud, true);
}

static int m_stop(sd_bus_message *m, void *ud, sd_bus_error *err)
{
	(void)err;
	return m_job(m, ud, false);
}

static int p_active_state(sd_bus *bus, const char *path, const char *iface, const char *prop,
			  sd_bus_message *reply, void *ud, sd_bus_error *err)
{
	struct fake_systemd *sd = ud;
	(void)bus;
	(void)path;
	(void)iface;
	(void)prop;
	(void)err;
	return sd_bus_message_append(reply, "s", sd->state[0] ? sd->state : "inactive");
}

static const sd_bus_vtable manager_vtable[] = {
	SD_BUS_VTABLE_START(0),
	SD_BUS_METHOD("GetUnit", "s", "o", m_get_unit, 0),
	SD_BUS_METHOD("StartUnit", "ss", "o", m_start, 0),
	SD_BUS_METHOD("StopUnit", "ss", "o", m_stop, 0),
	SD_BUS_VTABLE_END
};

static const sd_bus_vtable unit_vtable[] = {
	SD_BUS_VTABLE_START(0),
	SD_BUS_PROPERTY("ActiveState", "s", p_active_state, 0, 0),
	SD_BUS_VTABLE_END
};

/* a dbus-daemon (its address in DBUS_SYSTEM_BUS_ADDRESS) where this test
 * owns org.freedesktop.systemd1: false when there is no dbus-daemon */
static bool fake_systemd_start(struct fake_systemd *sd, sd_event *e)
{
	char *path = NULL;
	int r = private_bus_start(&sd->pb);

	if (r == -ENOENT)
		return false;
	assert_int_equal(r, 0);
	assert_int_equal(setenv("DBUS_SYSTEM_BUS_ADDRESS", sd->pb.addr, 1), 0);
	assert_true(sd_bus_path_encode("/org/freedesktop/systemd1/unit", UNIT, &path) >= 0);
	snprintf(sd->unit_path, sizeof(sd->unit_path), "%s", path);
	free(path);
	assert_int_equal(private_bus_connect(&sd->pb, e, &sd->bus), 0);

	assert_true(sd_bus_add_object_vtable(sd->bus, &sd->manager, "/org/freedesktop/systemd1",
					     "org.freedesktop.systemd1.Manager", manager_vtable,
					     sd) >= 0);
	assert_true(sd_bus_add_object_vtable(sd->bus, &sd->unit, sd->unit_path,
					     "org.freedesktop.systemd1.Unit", unit_vtable,
					     sd) >= 0);
	assert_true(sd_bus_request_name(sd->bus, "org.freedesktop.systemd1", 0) >= 0);
	return true;
}

static void fake_systemd_stop(struct fake_systemd *sd)
{
	sd->manager = sd_bus_slot_unref(sd->manager);
	sd->unit = sd_bus_slot_unref(sd->unit);
	sd->bus = sd_bus_flush_close_unref(sd->bus);
	private_bus_stop(&sd->pb);
}

struct ev_want {
	struct fixture *f;
	unsigned type;
	const char *key, *value;
	unsigned n;
};

static bool have_ev(const void *arg)
{
	const struct ev_want *w = arg;

	return count_ev(w->f, w->type, w->key, w->value) >= w->n;
}

/* runs the loop until n events of type whose key is value (key NULL: any) */
static bool wait_ev(struct fixture *f, unsigned type, const char *key, const char *value,
		    unsigned n, uint64_t max_ms)
{
	struct ev_want w = { f, type, key, value, n };

	return loop_until(f->e, have_ev, &w, max_ms);
}

static void write_token(struct fixture *f, unsigned i, const char *value)
{
	int fd;

	snprintf(f->tokfile[i], sizeof(f->tokfile[i]), "%s/token%u", f->dir, i);
	snprintf(f->token[i], sizeof(f->token[i]), "%s", value);
	fd = open(f->tokfile[i], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(fchmod(fd, 0600), 0);
	assert_int_equal(write(fd, value, strlen(value)), (ssize_t)strlen(value));
	assert_int_equal(write(fd, "\n", 1), 1);
	close(fd);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/nw-test-tunnels.XXXXXX");
	if (!mkdtemp(f->dir) || sd_event_new(&f->e) < 0)
		return -1;
	server_start(&f->srv, f->e);
	snprintf(f->api_base, sizeof(f->api_base), "http://127.0.0.1:%u/client/v4", f->srv.h.port);
	f->cfg.enabled = true;
	f->cfg.api_base = f->api_base;
	f->cfg.interval_ms = 200;	/* 278 ms for one tunnel: the budget's floor */
	f->cfg.timeout_ms = 150;
	f->cfg.watch = f->watch;
	for (unsigned i = 0; i < MAXT; i++) {
		struct nw_tunnel_cfg *w = &f->watch[i];

		snprintf(w->name, sizeof(w->name), "tun%u", i);
		snprintf(w->account_id, sizeof(w->account_id), "0123456789abcdef0123456789abcdef");
		snprintf(w->tunnel_id, sizeof(w->tunnel_id),
			 "00000000-0000-4000-8000-00000000000%u", i);
		snprintf(f->ready_url[i], sizeof(f->ready_url[i]), "http://127.0.0.1:%u/ready/%u",
			 f->srv.h.port, i);
		w->fall = 2;
		w->rise = 2;
	}
	/* no system bus here, ever */
	setenv("DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/nonexistent/netward-test", 1);
	*state = f;
	return 0;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	nw_tunnels_free(f->t);
	fake_systemd_stop(&f->sd);
	http_stub_stop(&f->srv.h);
	for (size_t i = 0; i < f->n_ev; i++)
		cJSON_Delete(f->ev[i].ev);
	/* the tokens, and the state directory when a test made one */
	nftw(f->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	sd_event_unref(f->e);
	free(f);
	return 0;
}

/* n tunnels; tokens[i] is the value of tunnel i's token */
static void start(struct fixture *f, unsigned n, const char *const *tokens)
{
	struct nw_secret *secrets[MAXT] = { 0 };
	char err[256];

	f->cfg.n_watch = n;
	for (unsigned i = 0; i < n; i++) {
		write_token(f, i, tokens[i]);
		f->watch[i].token_file = f->tokfile[i];
		assert_int_equal(nw_secret_load(f->tokfile[i], &secrets[i], err, sizeof(err)), 0);
	}
	assert_int_equal(nw_tunnels_new(&f->t, f->e, 42, &f->cfg, secrets, &ops, f), 0);
}

static cJSON *status(struct fixture *f)
{
	cJSON *o = cJSON_CreateObject();
	char *s;

	assert_non_null(o);
	nw_tunnels_status(f->t, o);
	assert_non_null(s = cJSON_PrintUnformatted(o));
	check_no_token(f, s);
	if (getenv("NW_TEST_VERBOSE"))
		fprintf(stderr, "  status %s\n", s);
	free(s);
	return o;
}

static const cJSON *tunnel_st(const cJSON *st, unsigned i)
{
	return cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(st, "tunnels"), (int)i);
}

static double num(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	assert_true(cJSON_IsNumber(v));
	return v->valuedouble;
}

static bool flag(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	assert_true(cJSON_IsBool(v));
	return cJSON_IsTrue(v);
}

static void set_gateway(struct fixture *f, const char *addr)
{
	assert_int_equal(inet_pton(AF_INET, addr, f->cfg.gateway), 1);
	f->cfg.gateway_family = AF_INET;
	f->cfg.has_gateway = true;
}

#define TOKEN_A "cf-test-token-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
#define TOKEN_B "cf-test-token-BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB"

/* --- end to end ------------------------------------------------------------------ */

/* healthy, then down twice (fall 2): the status change, the turn down, and
 * "no system bus" once; then back after rise (1) healthy answers */
static void test_down_without_bus(void **state)
{
	struct fixture *f = *state;
	const char *tok[] = { TOKEN_A };
	const cJSON *ev, *ts;
	char sum[128];
	cJSON *st;

	snprintf(f->watch[0].service, sizeof(f->watch[0].service), "cloudflared-backup.service");
	f->watch[0].rise = 1;
	if (geteuid() == 0)
		set_gateway(f, "127.0.0.1");	/* answers */
	start(f, 1, tok);
	assert_true(wait_ev(f, NW_EV_TUNNEL_STATE, "status", "healthy", 1, 2000));
	assert_string_equal(f->srv.auth[0], "Bearer " TOKEN_A);
	ev = last_ev(f, NW_EV_TUNNEL_STATE);
	assert_string_equal(str(ev, "tunnel"), "tun0");
	assert_string_equal(str(ev, "tunnel_id"), f->watch[0].tunnel_id);
	assert_string_equal(str(ev, "previous"), "unknown");
	assert_false(flag(ev, "down"));
	assert_int_equal((int)num(ev, "http_status"), 200);
	assert_non_null(str(ev, "message"));

	f->srv.api[0].body = BODY_DOWN;
	assert_true(wait_ev(f, NW_EV_TUNNEL_STATE, "error",
			    "no system bus: cannot start cloudflared-backup.service", 1, 3000));
	/* healthy -> down (1 bad answer), then the turn down (fall 2) */
	assert_int_equal(count_ev(f, NW_EV_TUNNEL_STATE, "status", "down"), 3);
	ev = NULL;
	for (size_t i = 0; i < f->n_ev; i++)
		if (f->ev[i].type == NW_EV_TUNNEL_STATE &&
		    !strcmp(str(f->ev[i].ev, "status"), "down")) {
			if (!ev) {
				assert_string_equal(str(f->ev[i].ev, "previous"), "healthy");
				assert_false(flag(f->ev[i].ev, "down"));
			}
			ev = f->ev[i].ev;
		}
	assert_true(flag(ev, "down"));
	assert_int_equal(count_ev(f, NW_EV_UNIT_STARTED, NULL, NULL), 0);
	/* more down rounds: no more events */
	loop_for(f->e, 350);
	assert_int_equal(count_ev(f, NW_EV_TUNNEL_STATE, NULL, NULL), 4);
	st = status(f);
	assert_false(flag(st, "system_bus"));
	assert_string_equal(str(st, "gateway"), geteuid() == 0 ? "answers" : "none");
	ts = tunnel_st(st, 0);
	assert_string_equal(str(ts, "status"), "down");
	assert_true(flag(ts, "down"));
	assert_false(flag(ts, "started_by_netward"));
	assert_string_equal(str(ts, "service"), "cloudflared-backup.service");
	assert_true(num(ts, "requests") >= 3);
	/* counted when sent; the server may not have read the last one yet */
	assert_true(num(ts, "requests") >= f->srv.api_hits[0]);
	assert_true(num(ts, "requests") <= f->srv.api_hits[0] + 1);
	assert_string_equal(str(ts, "last_outcome"), "ok");
	assert_true(!strncmp(str(ts, "token"), "sha256:", 7));
	cJSON_Delete(st);
	nw_tunnels_summary(f->t, sum, sizeof(sum));
	assert_string_equal(sum, "1 tunnel, 1 down");

	/* back: rise 1, the status change and the turn up in one event */
	f->srv.api[0].body = BODY_HEALTHY;
	assert_true(wait_ev(f, NW_EV_TUNNEL_STATE, "status", "healthy", 2, 2000));
	ev = last_ev(f, NW_EV_TUNNEL_STATE);
	assert_false(flag(ev, "down"));
	assert_string_equal(str(ev, "previous"), "down");
	assert_non_null(strstr(str(ev, "message"), "is back"));
	nw_tunnels_summary(f->t, sum, sizeof(sum));
	assert_string_equal(sum, "1 tunnel, 0 down");
}

/* 429 Retry-After: 2 blocks every tunnel of that token for ~2 s; a tunnel
 * with another token goes on */
static void test_rate_limited(void **state)
{
	struct fixture *f = *state;
	const char *tok[] = { TOKEN_A, TOKEN_A, TOKEN_B };
	unsigned a0, a1, b;
	uint64_t t429;
	const cJSON *tk;
	cJSON *st;

	f->srv.api[0] = (struct http_reply){ 429, BODY_RATE, "Retry-After: 2\r\n" };
	start(f, 3, tok);
	assert_true(wait_ev(f, NW_EV_TUNNEL_STATE, "outcome", "rate", 1, 2000));
	t429 = f->srv.api_at[0][f->srv.api_hits[0] - 1];
	f->srv.api[0] = (struct http_reply){ 200, BODY_HEALTHY, NULL };
	/* tun1's request of the same round may still be on its way */
	loop_for(f->e, 100);
	a0 = f->srv.api_hits[0];
	a1 = f->srv.api_hits[1];
	b = f->srv.api_hits[2];

	st = status(f);
	tk = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(st, "tokens"), 0);
	assert_int_equal((int)num(tk, "tunnels"), 2);
	assert_int_equal((int)num(tk, "interval_ms"), 556);	/* 2 * 300000 / 1080 */
	assert_true(num(tk, "blocked_until_s") > 0);
	assert_true(num(tk, "blocked_for_ms") > 1500);
	assert_string_equal(str(tunnel_st(st, 0), "last_outcome"), "rate");
	assert_non_null(strstr(str(tunnel_st(st, 0), "last_error"), "HTTP 429"));
	cJSON_Delete(st);

	/* ~2 s: nothing for this token, the other one goes on */
	loop_for(f->e, 1800 - (now() - t429) / MS);
	assert_int_equal(f->srv.api_hits[0], a0);
	assert_int_equal(f->srv.api_hits[1], a1);
	assert_true(f->srv.api_hits[2] >= b + 4);
	/* then it goes on */
	assert_true(loop_until_ucount(f->e, &f->srv.api_hits[0], a0 + 1, 1500));
	assert_true(f->srv.api_at[0][a0] - t429 >= 1900 * MS);
	assert_true(loop_until_ucount(f->e, &f->srv.api_hits[1], a1 + 1, 1000));
	assert_int_equal(count_ev(f, NW_EV_TUNNEL_STATE, "outcome", "rate"), 1);
	/* the end of the spell is said */
	assert_true(wait_ev(f, NW_EV_TUNNEL_STATE, "previous", "unknown", 1, 1000));
}

/* 500s: interval * 2^k between requests; one event for the spell */
static void test_server_error_backoff(void **state)
{
	struct fixture *f = *state;
	const char *tok[] = { TOKEN_A };
	uint64_t *at = f->srv.api_at[0];
	cJSON *st;

	f->srv.api[0] = (struct http_reply){ 500, "<html>oops</html>", NULL };
	start(f, 1, tok);
	assert_true(loop_until_ucount(f->e, &f->srv.api_hits[0], 2, 3000));
	loop_for(f->e, 50);	/* the second answer read */
	/* 278 ms rounds: the second request after 556 ms, the next 1112 ms later */
	assert_true(at[1] - at[0] >= 500 * MS);
	assert_true(at[1] - at[0] < 800 * MS);
	st = status(f);
	assert_string_equal(str(tunnel_st(st, 0), "last_outcome"), "server");
	assert_int_equal((int)num(tunnel_st(st, 0), "backoff_ms"), 1112);
	assert_int_equal((int)num(tunnel_st(st, 0), "errors"), 2);
	assert_false(flag(tunnel_st(st, 0), "down"));
	cJSON_Delete(st);
	/* the rounds at 834 and 1112 ms pass by */
	loop_for(f->e, 550);
	assert_int_equal(f->srv.api_hits[0], 2);
	assert_int_equal(count_ev(f, NW_EV_TUNNEL_STATE, "outcome", "server"), 1);
	assert_string_equal(str(last_ev(f, NW_EV_TUNNEL_STATE), "error"), "HTTP 500");
}

/* a refused connection is a transport error, backed off the same way */
static void test_transport_error(void **state)
{
	struct fixture *f = *state;
	const char *tok[] = { TOKEN_A };
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	char base[64];
	int fd;

	/* a port nobody listens on */
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	snprintf(base, sizeof(base), "http://127.0.0.1:%u/client/v4", ntohs(sin.sin_port));
	f->cfg.api_base = base;
	start(f, 1, tok);
	assert_true(wait_ev(f, NW_EV_TUNNEL_STATE, "outcome", "transport", 1, 2000));
	assert_non_null(strstr(str(last_ev(f, NW_EV_TUNNEL_STATE), "error"), "onnect"));
	loop_for(f->e, 300);
	assert_int_equal(count_ev(f, NW_EV_TUNNEL_STATE, NULL, NULL), 1);
	close(fd);
}

/* garbage, oversized and unknown answers are bad replies, never "down" */
static void test_bad_replies(void **state)
{
	struct fixture *f = *state;
	const char *tok[] = { TOKEN_A, TOKEN_B, TOKEN_B };
	cJSON *st;

	f->srv.api[0] = (struct http_reply){ 200, "<html>\x01\x02garbage{{{", NULL };
	f->srv.api[1] = (struct http_reply){ 200, NULL, NULL };	/* 1 MiB + 1 */
	f->srv.h.big_len = 1024 * 1024 + 1;
	f->srv.api[2] = (struct http_reply){
		200, "{\"success\":true,\"result\":{\"status\":\"weird\"}}", NULL };
	start(f, 3, tok);
	assert_true(wait_ev(f, NW_EV_TUNNEL_STATE, "outcome", "bad_reply", 3, 3000));
	assert_true(loop_until_ucount(f->e, &f->srv.api_hits[0], 3, 2000));
	st = status(f);
	assert_string_equal(str(tunnel_st(st, 0), "last_error"), "not JSON at byte 0");
	assert_string_equal(str(tunnel_st(st, 1), "last_error"), "a reply over 1024 KiB");
	assert_string_equal(str(tunnel_st(st, 2), "last_error"),
			    "result.status \"weird\" is unknown");
	for (unsigned i = 0; i < 3; i++) {
		assert_string_equal(str(tunnel_st(st, i), "last_outcome"), "bad_reply");
		assert_string_equal(str(tunnel_st(st, i), "status"), "unknown");
		assert_false(flag(tunnel_st(st, i), "down"));
	}
	/* no backoff for these: every round asks */
	assert_int_equal((int)num(tunnel_st(st, 0), "backoff_ms"), 0);
	cJSON_Delete(st);
	assert_int_equal(count_ev(f, NW_EV_TUNNEL_STATE, NULL, NULL), 3);
}

/* 401: one "token rejected" alarm per spell, never a turn down */
static void test_token_rejected(void **state)
{
	struct fixture *f = *state;
	const char *tok[] = { TOKEN_A };
	const cJSON *ev;
	char sum[128];

	f->srv.api[0] = (struct http_reply){ 401, BODY_AUTH, NULL };
	f->watch[0].fall = 1;
	snprintf(f->watch[0].service, sizeof(f->watch[0].service), "backup.service");
	start(f, 1, tok);
	assert_true(loop_until_ucount(f->e, &f->srv.api_hits[0], 2, 2000));
	loop_for(f->e, 50);	/* the second answer read */
	assert_int_equal(count_ev(f, NW_EV_TUNNEL_STATE, NULL, NULL), 1);
	ev = last_ev(f, NW_EV_TUNNEL_STATE);
	assert_string_equal(str(ev, "alarm"), "token rejected");
	assert_string_equal(str(ev, "outcome"), "auth");
	assert_string_equal(str(ev, "error"), "HTTP 401: code 10000: Authentication error");
	assert_false(flag(ev, "down"));
	nw_tunnels_summary(f->t, sum, sizeof(sum));
	assert_string_equal(sum, "1 tunnel, 0 down, 1 token rejected");
	/* the token works again: the spell ends; a new rejection alarms again */
	f->srv.api[0] = (struct http_reply){ 200, BODY_HEALTHY, NULL };
	assert_true(wait_ev(f, NW_EV_TUNNEL_STATE, "status", "healthy", 1, 2000));
	f->srv.api[0] = (struct http_reply){ 403, BODY_AUTH, NULL };
	assert_true(wait_ev(f, NW_EV_TUNNEL_STATE, "alarm", "token rejected", 2, 2000));
}

/* a ready cloudflared costs no API request; a not ready one does */
static void test_ready_url(void **state)
{
	struct fixture *f = *state;
	const char *tok[] = { TOKEN_A };
	unsigned api;
	cJSON *st;

	f->watch[0].ready_url = f->ready_url[0];
	f->srv.ready[0] = (struct http_reply){ 200, "{\"status\":200,\"readyConnections\":4}",
					       NULL };
	start(f, 1, tok);
	assert_true(loop_until_ucount(f->e, &f->srv.ready_hits[0], 2, 2000));
	loop_for(f->e, 50);
	assert_int_equal(f->srv.api_hits[0], 0);
	assert_int_equal(count_ev(f, NW_EV_TUNNEL_STATE, "source", "ready"), 1);
	st = status(f);
	assert_string_equal(str(tunnel_st(st, 0), "status"), "healthy");
	assert_int_equal((int)num(tunnel_st(st, 0), "ready_connections"), 4);
	assert_int_equal((int)num(tunnel_st(st, 0), "requests"), 0);
	cJSON_Delete(st);

	/* not ready: the API decides, and says down */
	f->srv.ready[0] = (struct http_reply){ 503, "{\"status\":503,\"readyConnections\":0}",
					       NULL };
	f->srv.api[0].body = BODY_DOWN;
	api = f->srv.api_hits[0];
	assert_true(wait_ev(f, NW_EV_TUNNEL_STATE, "status", "down", 1, 2000));
	assert_true(f->srv.api_hits[0] > api);
	assert_string_equal(str(last_ev(f, NW_EV_TUNNEL_STATE), "source"), "api");
}

/* a silent gateway (no route to it) pauses the rounds: one note, no
 * request, skipped rounds in status */
static void test_gateway_silent(void **state)
{
	struct fixture *f = *state;
	const char *tok[] = { TOKEN_A };
	cJSON *st;

	if (!have_netns)
		skip();
	set_gateway(f, "192.0.2.1");
	start(f, 1, tok);
	assert_true(wait_ev(f, NW_EV_DAEMON, NULL, NULL, 1, 2000));
	loop_for(f->e, 400);
	/* the first round may have gone before the probe said anything */
	assert_true(f->srv.api_hits[0] <= 1);
	assert_int_equal(count_ev(f, NW_EV_DAEMON, NULL, NULL), 1);
	assert_non_null(strstr(str(last_ev(f, NW_EV_DAEMON), "message"), "192.0.2.1 is silent"));
	st = status(f);
	assert_string_equal(str(st, "gateway"), "silent");
	assert_true(num(tunnel_st(st, 0), "skipped_rounds") >= 2);
	cJSON_Delete(st);
}

/* a reload keeps what a tunnel knows (matched by tunnel_id) */
static void test_reconfigure(void **state)
{
	struct fixture *f = *state;
	const char *tok[] = { TOKEN_A };
	struct nw_secret *secrets[2] = { 0 };
	char err[256];
	const cJSON *ts;
	cJSON *st;

	f->srv.api[0].body = BODY_DOWN;
	f->watch[0].fall = 1;
	start(f, 1, tok);
	assert_true(wait_ev(f, NW_EV_TUNNEL_STATE, "status", "down", 1, 2000));

	/* tunnel 1 first now, tunnel 0 second; both with token B */
	write_token(f, 1, TOKEN_B);
	f->watch[1].token_file = f->tokfile[1];
	assert_int_equal(nw_secret_load(f->tokfile[1], &secrets[0], err, sizeof(err)), 0);
	assert_int_equal(nw_secret_load(f->tokfile[1], &secrets[1], err, sizeof(err)), 0);
	{
		struct nw_tunnel_cfg w[2] = { f->watch[1], f->watch[0] };
		struct nw_tunnels_cfg c = f->cfg;

		c.watch = w;
		c.n_watch = 2;
		assert_int_equal(nw_tunnels_reconfigure(f->t, &c, secrets), 0);
	}
	st = status(f);
	ts = tunnel_st(st, 1);
	assert_string_equal(str(ts, "name"), "tun0");
	assert_true(flag(ts, "down"));
	assert_string_equal(str(ts, "status"), "down");
	assert_true(num(ts, "requests") >= 1);
	assert_string_equal(str(tunnel_st(st, 0), "status"), "unknown");
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(st, "tokens")), 1);
	cJSON_Delete(st);
	/* the new token is used */
	f->srv.auth[0][0] = 0;
	assert_true(loop_until_ucount(f->e, &f->srv.api_hits[1], 1, 2000));
	assert_true(loop_until_ucount(f->e, &f->srv.api_hits[0], f->srv.api_hits[0] + 1, 2000));
	assert_string_equal(f->srv.auth[0], "Bearer " TOKEN_B);
	/* still down: no new turn down */
	assert_int_equal(count_ev(f, NW_EV_TUNNEL_STATE, "status", "down"), 1);

	/* bad input frees the tokens given and changes nothing */
	assert_int_equal(nw_secret_load(f->tokfile[1], &secrets[0], err, sizeof(err)), 0);
	{
		struct nw_tunnels_cfg c = f->cfg;

		c.n_watch = 2;	/* secrets[1] is NULL */
		secrets[1] = NULL;
		assert_int_equal(nw_tunnels_reconfigure(f->t, &c, secrets), -EINVAL);
		assert_null(secrets[0]);
	}
	st = status(f);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(st, "tunnels")), 2);
	cJSON_Delete(st);
}

struct unit_want {
	struct fixture *f;
	const char *state;
};

/* what tunnel 0's unit is */
static bool unit_is(const void *arg)
{
	const struct unit_want *w = arg;
	cJSON *st = cJSON_CreateObject();
	const char *u;
	bool is;

	nw_tunnels_status(w->f->t, st);
	u = str(tunnel_st(st, 0), "unit");
	is = u && !strcmp(u, w->state);
	cJSON_Delete(st);
	return is;
}

/* over a bus: down starts the backup once (never again while it is
 * active, again when it died), back stops it (stop_on_recovery); a unit
 * someone else started is neither started nor stopped */
static void test_failover(void **state)
{
	struct fixture *f = *state;
	const char *tok[] = { TOKEN_A };
	const cJSON *ev;
	unsigned gets;
	cJSON *st;

	if (!fake_systemd_start(&f->sd, f->e))
		skip();
	snprintf(f->watch[0].service, sizeof(f->watch[0].service), UNIT);
	f->watch[0].fall = 1;
	f->watch[0].rise = 1;
	f->watch[0].stop_on_recovery = true;
	start(f, 1, tok);
	/* what the unit is, asked at once (not loaded: inactive) */
	assert_true(loop_until(f->e, unit_is, &(struct unit_want){ f, "inactive" }, 1000));
	assert_int_equal(f->sd.get_units, 1);
	assert_true(wait_ev(f, NW_EV_TUNNEL_STATE, "status", "healthy", 1, 1000));
	st = status(f);
	assert_true(flag(st, "system_bus"));
	cJSON_Delete(st);

	/* down: started once */
	f->srv.api[0].body = BODY_DOWN;
	assert_true(wait_ev(f, NW_EV_UNIT_STARTED, NULL, NULL, 1, 2000));
	ev = last_ev(f, NW_EV_UNIT_STARTED);
	assert_string_equal(str(ev, "unit"), UNIT);
	assert_string_equal(str(ev, "tunnel"), "tun0");
	assert_string_equal(str(ev, "job"), "/org/freedesktop/systemd1/job/1");
	/* the state was asked first (it was old), then StartUnit: quick */
	assert_true(num(ev, "reaction_us") > 0);
	assert_true(num(ev, "reaction_us") < 500000);
	assert_int_equal(f->sd.starts, 1);
	/* still down, two more rounds: asked each round, never started again */
	gets = f->sd.get_units;
	assert_true(loop_until_ucount(f->e, &f->sd.get_units, gets + 2, 1500));
	loop_for(f->e, 20);
	assert_int_equal(f->sd.starts, 1);
	st = status(f);
	assert_true(flag(tunnel_st(st, 0), "started_by_netward"));
	assert_string_equal(str(tunnel_st(st, 0), "unit"), "active");
	cJSON_Delete(st);
	/* it died: started again */
	snprintf(f->sd.state, sizeof(f->sd.state), "failed");
	assert_true(wait_ev(f, NW_EV_UNIT_STARTED, NULL, NULL, 2, 1500));
	assert_int_equal(f->sd.starts, 2);

	/* back: stopped */
	f->srv.api[0].body = BODY_HEALTHY;
	assert_true(wait_ev(f, NW_EV_UNIT_STOPPED, NULL, NULL, 1, 1500));
	assert_string_equal(str(last_ev(f, NW_EV_UNIT_STOPPED), "unit"), UNIT);
	assert_int_equal(f->sd.stops, 1);
	st = status(f);
	assert_false(flag(tunnel_st(st, 0), "started_by_netward"));
	cJSON_Delete(st);

	/* an admin starts it; the tunnel goes down: netward leaves it be */
	loop_for(f->e, 300);	/* what netward knows of the unit is old now */
	snprintf(f->sd.state, sizeof(f->sd.state), "active");
	f->srv.api[0].body = BODY_DOWN;
	assert_true(wait_ev(f, NW_EV_TUNNEL_STATE, "status", "down", 2, 1500));
	gets = f->sd.get_units;
	assert_true(loop_until_ucount(f->e, &f->sd.get_units, gets + 1, 1000));
	loop_for(f->e, 20);
	assert_int_equal(f->sd.starts, 2);
	assert_int_equal(count_ev(f, NW_EV_UNIT_STARTED, NULL, NULL), 2);
	st = status(f);
	assert_false(flag(tunnel_st(st, 0), "started_by_netward"));
	assert_string_equal(str(tunnel_st(st, 0), "unit"), "active");
	cJSON_Delete(st);
	/* no "no system bus", no unit error */
	assert_int_equal(count_ev(f, NW_EV_TUNNEL_STATE, "error", NULL), 0);
}

/* freeing with requests in flight cancels them */
static void test_free_in_flight(void **state)
{
	struct fixture *f = *state;
	const char *tok[] = { TOKEN_A, TOKEN_B };

	start(f, 2, tok);
	/* the first round's requests are on their way */
	loop_for(f->e, 1);
	nw_tunnels_free(f->t);
	f->t = NULL;
	loop_for(f->e, 50);
}

/* --- the state file (tunnels.json) ------------------------------------------------- */

#define TID0 "00000000-0000-4000-8000-000000000000"
#define TID1 "00000000-0000-4000-8000-000000000001"

static struct nw_tun_claim claim(const char *tunnel_id, const char *unit, const char *name,
				 const char *started)
{
	struct nw_tun_claim c = { 0 };

	snprintf(c.tunnel_id, sizeof(c.tunnel_id), "%s", tunnel_id);
	snprintf(c.unit, sizeof(c.unit), "%s", unit);
	snprintf(c.name, sizeof(c.name), "%s", name);
	snprintf(c.started, sizeof(c.started), "%s", started);
	return c;
}

/* text -> claims -> text, and through a file */
static void test_state_round_trip(void **state)
{
	struct nw_tun_claims a = { 0 }, b = { 0 }, c = { 0 };
	struct nw_tun_claim c0 = claim(TID0, "cloudflared-backup.service", "web",
				       "2026-01-05T10:12:03.123456Z");
	struct nw_tun_claim c1 = claim(TID1, "api-backup@eu.service", "", "");
	char *text = NULL, *text2 = NULL, err[256], dir[] = "/tmp/nw-test-tunstate.XXXXXX";
	char path[128];
	(void)state;

	snprintf(a.boot_id, sizeof(a.boot_id), "5f0c2d0e-7d3c-4d59-9b4a-0c2bd1e0a0b1");
	assert_int_equal(nw_tun_claims_add(&a, &c0), 0);
	assert_int_equal(nw_tun_claims_add(&a, &c1), 0);
	assert_int_equal(nw_tun_claims_format(&a, &text), 0);
	assert_non_null(strstr(text, "\"version\":\t1"));
	assert_int_equal(text[strlen(text) - 1], '\n');
	assert_int_equal(nw_tun_claims_parse(text, strlen(text), &b, err, sizeof(err)), 0);
	assert_string_equal(b.boot_id, a.boot_id);
	assert_int_equal(b.n, 2);
	assert_string_equal(b.c[0].tunnel_id, TID0);
	assert_string_equal(b.c[0].unit, "cloudflared-backup.service");
	assert_string_equal(b.c[0].name, "web");
	assert_string_equal(b.c[0].started, "2026-01-05T10:12:03.123456Z");
	assert_string_equal(b.c[1].unit, "api-backup@eu.service");
	assert_string_equal(b.c[1].name, "");
	assert_string_equal(b.c[1].started, "");
	assert_true(nw_tun_claims_same(&a, &b));
	assert_int_equal(nw_tun_claims_format(&b, &text2), 0);
	assert_string_equal(text, text2);

	/* the set counts: order, names and times do not; the unit does */
	snprintf(c.boot_id, sizeof(c.boot_id), "other");
	c1.name[0] = 0;
	assert_int_equal(nw_tun_claims_add(&c, &c1), 0);
	assert_false(nw_tun_claims_same(&a, &c));
	c0.started[0] = 0;
	snprintf(c0.name, sizeof(c0.name), "renamed");
	snprintf(c0.tunnel_id, sizeof(c0.tunnel_id), "%s", "00000000-0000-4000-8000-00000000000A");
	assert_int_equal(nw_tun_claims_add(&c, &c0), 0);
	assert_false(nw_tun_claims_same(&a, &c));	/* ...000a is not ...0000 */
	snprintf(c.c[1].tunnel_id, sizeof(c.c[1].tunnel_id), "%s", TID0);
	assert_true(nw_tun_claims_same(&a, &c));
	assert_true(nw_tun_claims_same(&c, &a));
	assert_non_null(nw_tun_claims_find(&c, TID0, "cloudflared-backup.service"));
	assert_null(nw_tun_claims_find(&c, TID0, "other.service"));
	assert_non_null(nw_tun_claims_find(&c, TID0, NULL));
	snprintf(c.c[1].unit, sizeof(c.c[1].unit), "other.service");
	assert_false(nw_tun_claims_same(&a, &c));

	/* through a file; an empty set too */
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/tunnels.json", dir);
	nw_tun_claims_free(&c);
	assert_int_equal(nw_tun_claims_load(path, &c, err, sizeof(err)), -ENOENT);
	assert_int_equal(nw_tun_claims_save(path, &a), 0);
	assert_int_equal(nw_tun_claims_load(path, &c, err, sizeof(err)), 0);
	assert_true(nw_tun_claims_same(&a, &c));
	{
		struct stat st;

		assert_int_equal(stat(path, &st), 0);
		assert_int_equal(st.st_mode & 0777, 0600);
	}
	nw_tun_claims_free(&c);
	nw_tun_claims_free(&b);
	assert_int_equal(nw_tun_claims_save(path, &b), 0);
	assert_int_equal(nw_tun_claims_load(path, &c, err, sizeof(err)), 0);
	assert_int_equal(c.n, 0);
	assert_string_equal(c.boot_id, "");

	unlink(path);
	rmdir(dir);
	free(text);
	free(text2);
	nw_tun_claims_free(&a);
	nw_tun_claims_free(&b);
	nw_tun_claims_free(&c);
}

/* every bad text is refused with the place and the problem, never a crash */
static void test_state_bad_inputs(void **state)
{
	static const struct {
		const char *text, *err;
	} bad[] = {
		{ "", "empty" },
		{ "   \n", "not valid JSON" },
		{ "{\"version\": 1, \"units\": [", "not valid JSON" },
		{ "[]", "expected a JSON object, got an array" },
		{ "{\"version\": 1, \"units\": []} x", "data after the JSON object" },
		{ "{\"units\": []}", "version: missing" },
		{ "{\"version\": 2, \"units\": []}", "version: 2 is not supported" },
		{ "{\"version\": \"1\", \"units\": []}", "version" },
		{ "{\"version\": 1}", "units: missing" },
		{ "{\"version\": 1, \"units\": {}}", "units: expected an array" },
		{ "{\"version\": 1, \"units\": [], \"extra\": 1}", "extra: unknown key" },
		{ "{\"version\": 1, \"version\": 1, \"units\": []}", "version: key given twice" },
		{ "{\"version\": 1, \"boot_id\": 7, \"units\": []}", "boot_id: expected a string" },
		{ "{\"version\": 1, \"boot_id\": \"0123456789012345678901234567890123456789\", "
		  "\"units\": []}", "boot_id: expected 1 to 36 bytes" },
		{ "{\"version\": 1, \"units\": [7]}", "units[0]: expected an object" },
		{ "{\"version\": 1, \"units\": [{\"unit\": \"a.service\"}]}",
		  "units[0].tunnel_id: missing" },
		{ "{\"version\": 1, \"units\": [{\"tunnel_id\": \"" TID0 "\"}]}",
		  "units[0].unit: missing" },
		{ "{\"version\": 1, \"units\": [{\"tunnel_id\": \"not-a-uuid\", \"unit\": "
		  "\"a.service\"}]}", "units[0].tunnel_id: \"not-a-uuid\" is not a tunnel id" },
		{ "{\"version\": 1, \"units\": [{\"tunnel_id\": \"" TID0 "\", \"unit\": "
		  "\"a b.service\"}]}", "units[0].unit: \"a b.service\" is not a unit name" },
		{ "{\"version\": 1, \"units\": [{\"tunnel_id\": \"" TID0 "\", \"unit\": "
		  "\"backup\"}]}", "is not a unit name" },
		{ "{\"version\": 1, \"units\": [{\"tunnel_id\": \"" TID0 "\", \"unit\": "
		  "\"a.service\", \"pid\": 1}]}", "units[0].pid: unknown key" },
		{ "{\"version\": 1, \"units\": [{\"tunnel_id\": \"" TID0 "\", \"unit\": "
		  "\"a.service\", \"started\": \"yesterday\"}]}", "units[0].started: \"yesterday\"" },
		{ "{\"version\": 1, \"units\": [{\"tunnel_id\": \"" TID0 "\", \"unit\": "
		  "\"a.service\", \"tunnel\": \"\"}]}", "units[0].tunnel: expected 1 to 63 bytes" },
		{ "{\"version\": 1, \"units\": [{\"tunnel_id\": \"" TID0 "\", \"unit\": "
		  "\"a.service\"}, {\"tunnel_id\": \"" TID1 "\", \"unit\": \"b.service\"}, "
		  "{\"tunnel_id\": \"00000000-0000-4000-8000-000000000000\", \"unit\": "
		  "\"c.service\"}]}", "units[2].tunnel_id: " TID0 " is in units[0] already" },
	};
	struct nw_tun_claims s;
	char err[256], dir[] = "/tmp/nw-test-tunstate.XXXXXX", path[128], *big;
	size_t n;
	(void)state;

	for (size_t i = 0; i < NW_ARRAY_SIZE(bad); i++) {
		memset(&s, 0xa5, sizeof(s));
		assert_int_equal(nw_tun_claims_parse(bad[i].text, strlen(bad[i].text), &s, err,
						     sizeof(err)), -EINVAL);
		if (!strstr(err, bad[i].err))
			fail_msg("%s: error \"%s\", expected \"%s\"", bad[i].text, err, bad[i].err);
		assert_null(s.c);
		assert_int_equal(s.n, 0);
	}
	/* a NUL byte; text that is not NUL-terminated parses by its length */
	assert_int_equal(nw_tun_claims_parse("{\"version\": 1\0}", 15, &s, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "NUL byte at offset 13"));
	assert_int_equal(nw_tun_claims_parse("{\"version\": 1, \"units\": []}garbage", 27, &s, err,
					     sizeof(err)), 0);
	/* at most NW_TUNNELS_MAX entries */
	assert_non_null(big = malloc(1100 * 80 + 64));
	n = (size_t)sprintf(big, "{\"version\": 1, \"units\": [");
	for (unsigned i = 0; i <= NW_TUNNELS_MAX; i++)
		n += (size_t)sprintf(big + n, "%s{\"tunnel_id\": \"00000000-0000-4000-8000-%012u\", "
				     "\"unit\": \"a.service\"}", i ? "," : "", i);
	n += (size_t)sprintf(big + n, "]}");
	assert_int_equal(nw_tun_claims_parse(big, n, &s, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "units: 1025 units, at most 1024"));

	/* files: missing, too big, not a regular file, a FIFO (no hang), garbage */
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/tunnels.json", dir);
	assert_int_equal(nw_tun_claims_load(path, &s, err, sizeof(err)), -ENOENT);
	{
		int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		assert_true(fd >= 0);
		assert_int_equal(ftruncate(fd, NW_TUN_STATE_MAX_BYTES + 1), 0);
		close(fd);
	}
	assert_int_equal(nw_tun_claims_load(path, &s, err, sizeof(err)), -EFBIG);
	assert_non_null(strstr(err, "bytes, at most"));
	unlink(path);
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(nw_tun_claims_load(path, &s, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "not a regular file");
	rmdir(path);
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_int_equal(nw_tun_claims_load(path, &s, err, sizeof(err)), -EINVAL);
	unlink(path);
	{
		int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		assert_true(fd >= 0);
		assert_int_equal(write(fd, "\x01\x02garbage", 9), 9);
		close(fd);
	}
	assert_int_equal(nw_tun_claims_load(path, &s, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "not valid JSON"));
	unlink(path);
	rmdir(dir);
	free(big);
}

/* the state directory of the fixture, and its file */
static void state_paths(struct fixture *f, char *dir, size_t dsize, char *file, size_t fsize)
{
	snprintf(dir, dsize, "%s/state", f->dir);
	snprintf(file, fsize, "%s/state/tunnels.json", f->dir);
}

static void write_file_text(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

static size_t file_claims(const char *path, struct nw_tun_claims *s)
{
	char err[256];

	assert_int_equal(nw_tun_claims_load(path, s, err, sizeof(err)), 0);
	return s->n;
}

/* the poller is freed (a crash, a kill, a clean stop: the same to it) and
 * made again: the unit the first one started is the second one's, stopped
 * when the tunnel is healthy, and said so */
static void test_state_restart(void **state)
{
	struct fixture *f = *state;
	const char *tok[] = { TOKEN_A, TOKEN_B };
	char dir[128], file[160];
	struct nw_tun_claims s;
	const cJSON *ev;
	struct stat st;
	cJSON *ts;

	if (!fake_systemd_start(&f->sd, f->e))
		skip();
	state_paths(f, dir, sizeof(dir), file, sizeof(file));
	f->cfg.state_dir = dir;		/* not there yet: made when needed */
	snprintf(f->watch[0].service, sizeof(f->watch[0].service), UNIT);
	f->watch[0].fall = 1;
	f->watch[0].rise = 1;
	f->watch[0].stop_on_recovery = true;
	start(f, 1, tok);
	assert_true(wait_ev(f, NW_EV_TUNNEL_STATE, "status", "healthy", 1, 1000));
	assert_int_equal(stat(dir, &st), -1);	/* nothing claimed, nothing written */
	f->srv.api[0].body = BODY_DOWN;
	assert_true(wait_ev(f, NW_EV_UNIT_STARTED, NULL, NULL, 1, 2000));
	assert_int_equal(file_claims(file, &s), 1);
	assert_string_equal(s.c[0].tunnel_id, f->watch[0].tunnel_id);
	assert_string_equal(s.c[0].unit, UNIT);
	assert_string_equal(s.c[0].name, "tun0");
	assert_true(s.c[0].started[0] != 0);
	nw_tun_claims_free(&s);

	/* gone, while the tunnel is down; the file stays */
	nw_tunnels_free(f->t);
	f->t = NULL;
	assert_int_equal(file_claims(file, &s), 1);
	nw_tun_claims_free(&s);
	assert_int_equal(f->sd.stops, 0);

	/* back, while no poller ran; a new one claims the unit again */
	f->srv.api[0].body = BODY_HEALTHY;
	start(f, 1, tok);
	ts = status(f);
	assert_true(flag(tunnel_st(ts, 0), "started_by_netward"));
	assert_true(flag(tunnel_st(ts, 0), "started_by_earlier_netwardd"));
	cJSON_Delete(ts);
	assert_true(wait_ev(f, NW_EV_UNIT_STOPPED, NULL, NULL, 1, 2000));
	ev = last_ev(f, NW_EV_UNIT_STOPPED);
	assert_string_equal(str(ev, "unit"), UNIT);
	assert_true(flag(ev, "started_by_earlier_netwardd"));
	assert_non_null(strstr(str(ev, "message"), "started by an earlier netwardd"));
	assert_int_equal(f->sd.stops, 1);
	assert_int_equal(f->sd.starts, 1);
	assert_int_equal(file_claims(file, &s), 0);
	nw_tun_claims_free(&s);
	ts = status(f);
	assert_false(flag(tunnel_st(ts, 0), "started_by_netward"));
	assert_false(flag(tunnel_st(ts, 0), "started_by_earlier_netwardd"));
	cJSON_Delete(ts);
	/* a stop of its own says nothing of an earlier netwardd */
	f->srv.api[0].body = BODY_DOWN;
	assert_true(wait_ev(f, NW_EV_UNIT_STARTED, NULL, NULL, 2, 2000));
	f->srv.api[0].body = BODY_HEALTHY;
	assert_true(wait_ev(f, NW_EV_UNIT_STOPPED, NULL, NULL, 2, 2000));
	ev = last_ev(f, NW_EV_UNIT_STOPPED);
	assert_null(cJSON_GetObjectItemCaseSensitive(ev, "started_by_earlier_netwardd"));
	assert_int_equal(f->sd.stops, 2);
	/* a reload that changes the tunnel's service drops its claim */
	f->srv.api[0].body = BODY_DOWN;
	assert_true(wait_ev(f, NW_EV_UNIT_STARTED, NULL, NULL, 3, 2000));
	assert_int_equal(file_claims(file, &s), 1);
	nw_tun_claims_free(&s);
	{
		struct nw_secret *secrets[1] = { 0 };
		struct nw_tunnel_cfg w = f->watch[0];
		struct nw_tunnels_cfg c = f->cfg;
		char err[256];

		w.service[0] = 0;
		c.watch = &w;
		c.n_watch = 1;
		assert_int_equal(nw_secret_load(f->tokfile[0], &secrets[0], err, sizeof(err)), 0);
		assert_int_equal(nw_tunnels_reconfigure(f->t, &c, secrets), 0);
	}
	assert_int_equal(file_claims(file, &s), 0);
	nw_tun_claims_free(&s);
	nw_tunnels_free(f->t);
	f->t = NULL;
	f->srv.api[0].body = BODY_HEALTHY;
	snprintf(f->sd.state, sizeof(f->sd.state), "active");

	/* claims of tunnels no longer configured, or of another unit, are
	 * dropped at start; one whose unit is not running is forgotten; a
	 * file of another boot is void */
	{
		struct nw_tun_claims w = { 0 };
		struct nw_tun_claim c0 = claim(f->watch[0].tunnel_id, "old.service", "tun0", "");
		struct nw_tun_claim c1 = claim(f->watch[1].tunnel_id, UNIT, "tun1", "");
		struct nw_tun_claim c3 = claim(f->watch[3].tunnel_id, UNIT, "tun3", "");

		nw_boot_id(w.boot_id, sizeof(w.boot_id));
		assert_int_equal(nw_tun_claims_add(&w, &c0), 0);
		assert_int_equal(nw_tun_claims_add(&w, &c1), 0);
		assert_int_equal(nw_tun_claims_add(&w, &c3), 0);
		assert_int_equal(nw_tun_claims_save(file, &w), 0);
		nw_tun_claims_free(&w);
	}
	snprintf(f->watch[1].service, sizeof(f->watch[1].service), UNIT);
	f->watch[1].stop_on_recovery = true;
	f->sd.state[0] = 0;		/* not loaded: inactive */
	start(f, 2, tok);
	/* tun0's claim (another unit) and tun3's (gone) left at once */
	assert_int_equal(file_claims(file, &s), 1);
	assert_string_equal(s.c[0].tunnel_id, f->watch[1].tunnel_id);
	nw_tun_claims_free(&s);
	/* tun1's unit is inactive: not netward's to stop any more */
	assert_true(loop_until(f->e, unit_is, &(struct unit_want){ f, "inactive" }, 1000));
	loop_for(f->e, 50);
	assert_int_equal(file_claims(file, &s), 0);
	nw_tun_claims_free(&s);
	ts = status(f);
	assert_false(flag(tunnel_st(ts, 1), "started_by_netward"));
	cJSON_Delete(ts);
	loop_for(f->e, 400);
	assert_int_equal(f->sd.stops, 2);
	nw_tunnels_free(f->t);
	f->t = NULL;

	/* another boot */
	{
		struct nw_tun_claims w = { 0 };
		struct nw_tun_claim c0 = claim(f->watch[0].tunnel_id, UNIT, "tun0", "");

		snprintf(w.boot_id, sizeof(w.boot_id), "00000000-0000-4000-8000-0000000000bb");
		assert_int_equal(nw_tun_claims_add(&w, &c0), 0);
		assert_int_equal(nw_tun_claims_save(file, &w), 0);
		nw_tun_claims_free(&w);
	}
	snprintf(f->sd.state, sizeof(f->sd.state), "active");
	start(f, 1, tok);
	ts = status(f);
	assert_false(flag(tunnel_st(ts, 0), "started_by_netward"));
	cJSON_Delete(ts);
	assert_int_equal(file_claims(file, &s), 0);
	nw_tun_claims_free(&s);
	loop_for(f->e, 400);
	assert_int_equal(f->sd.stops, 2);
}

/* --dry-run reads the file, says what it would stop, and writes nothing;
 * a bad file is ignored; a directory that cannot be written is no failure */
static void test_state_dry_run_and_bad_files(void **state)
{
	struct fixture *f = *state;
	const char *tok[] = { TOKEN_A };
	char dir[128], file[160];
	struct stat before, after;
	const cJSON *ev;
	cJSON *ts;

	if (!fake_systemd_start(&f->sd, f->e))
		skip();
	state_paths(f, dir, sizeof(dir), file, sizeof(file));
	assert_int_equal(mkdir(dir, 0755), 0);
	f->cfg.state_dir = dir;
	snprintf(f->watch[0].service, sizeof(f->watch[0].service), UNIT);
	f->watch[0].fall = 1;
	f->watch[0].rise = 1;
	f->watch[0].stop_on_recovery = true;
	{
		struct nw_tun_claims w = { 0 };
		struct nw_tun_claim c0 = claim(f->watch[0].tunnel_id, UNIT, "tun0", "");
		struct nw_tun_claim c1 = claim("00000000-0000-4000-8000-0000000000ff", UNIT, "", "");

		assert_int_equal(nw_tun_claims_add(&w, &c0), 0);
		assert_int_equal(nw_tun_claims_add(&w, &c1), 0);
		assert_int_equal(nw_tun_claims_save(file, &w), 0);
		nw_tun_claims_free(&w);
	}
	assert_int_equal(stat(file, &before), 0);
	snprintf(f->sd.state, sizeof(f->sd.state), "active");
	f->cfg.dry_run = true;
	start(f, 1, tok);
	assert_true(wait_ev(f, NW_EV_UNIT_STOPPED, NULL, NULL, 1, 2000));
	ev = last_ev(f, NW_EV_UNIT_STOPPED);
	assert_true(flag(ev, "dry_run"));
	assert_true(flag(ev, "started_by_earlier_netwardd"));
	assert_non_null(strstr(str(ev, "message"), "would stop"));
	assert_int_equal(f->sd.stops, 0);
	loop_for(f->e, 300);
	assert_int_equal(count_ev(f, NW_EV_UNIT_STOPPED, NULL, NULL), 1);
	assert_int_equal(stat(file, &after), 0);
	assert_int_equal(before.st_ino, after.st_ino);	/* never replaced */
	assert_int_equal(before.st_size, after.st_size);
	nw_tunnels_free(f->t);
	f->t = NULL;
	f->cfg.dry_run = false;

	/* garbage: ignored (nothing claimed), left until a change replaces it */
	write_file_text(file, "{\"version\": 1, \"units\": [{\"tunnel_id\": 1}]}");
	start(f, 1, tok);
	ts = status(f);
	assert_false(flag(tunnel_st(ts, 0), "started_by_netward"));
	cJSON_Delete(ts);
	assert_true(wait_ev(f, NW_EV_TUNNEL_STATE, "status", "healthy", 1, 1000));
	loop_for(f->e, 300);
	assert_int_equal(f->sd.stops, 0);
	nw_tunnels_free(f->t);
	f->t = NULL;

	/* a state dir that cannot be made: the unit is still started */
	f->cfg.state_dir = file;	/* a file where a directory should be */
	unlink(file);
	write_file_text(file, "not a directory\n");
	f->sd.state[0] = 0;
	start(f, 1, tok);
	f->srv.api[0].body = BODY_DOWN;
	assert_true(wait_ev(f, NW_EV_UNIT_STARTED, NULL, NULL, 1, 2000));
	ev = last_ev(f, NW_EV_UNIT_STARTED);
	assert_null(cJSON_GetObjectItemCaseSensitive(ev, "dry_run"));
	f->srv.api[0].body = BODY_HEALTHY;
	assert_true(wait_ev(f, NW_EV_UNIT_STOPPED, NULL, NULL, 2, 2000));
	assert_int_equal(f->sd.starts, 1);
	assert_int_equal(f->sd.stops, 1);
}

/* --- main ------------------------------------------------------------------------- */

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_health_feed),
		T(test_down_without_bus),
		T(test_rate_limited),
		T(test_server_error_backoff),
		T(test_transport_error),
		T(test_bad_replies),
		T(test_token_rejected),
		T(test_ready_url),
		T(test_gateway_silent),
		T(test_reconfigure),
		T(test_failover),
		T(test_free_in_flight),
		cmocka_unit_test(test_state_round_trip),
		cmocka_unit_test(test_state_bad_inputs),
		T(test_state_restart),
		T(test_state_dry_run_and_bad_files),
	};

	/* only lo, so that 192.0.2.1 has no route */
	if (geteuid() == 0 && netns_unshare() == 0)
		have_netns = true;
	else
		fprintf(stderr, "test_tunnels: no network namespace of our own: "
			"the silent gateway test skips\n");
	unsetenv("http_proxy");
	unsetenv("HTTP_PROXY");
	unsetenv("all_proxy");
	unsetenv("ALL_PROXY");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
