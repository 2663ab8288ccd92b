/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Inside the tunnel poller (tunnels.h): tunnels.c (life cycle, token
 * groups, rounds), tunnel_http.c (the requests), tunnel_answer.c (what
 * the answers do), tunnel_unit.c (the backup units over the bus),
 * tunnel_status.c (events, status), tunnel_state.c (the units it started,
 * kept in <state_dir>/tunnels.json across restarts). Not for others.
 */
#ifndef NETWARD_TUNNELS_IMPL_H
#define NETWARD_TUNNELS_IMPL_H

#include <stdbool.h>
#include <stdint.h>
#include <arpa/inet.h>
#include <curl/curl.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "cf_api.h"
#include "tunnels.h"
#include "units.h"
#include "util.h"

#define NW_TUN_MS 1000000ull			/* ns */
#define NW_TUN_BACKOFF_MAX_MS 60000		/* 5xx and transport errors */
#define NW_TUN_RATE_DEFAULT_S 300		/* a 429 without Retry-After */
#define NW_TUN_BODY_CAP (1024 * 1024)		/* API replies */
#define NW_TUN_READY_CAP (64 * 1024)		/* /ready replies */
#define NW_TUN_BUS_TIMEOUT_MS 10000
#define NW_TUN_ID_LEN 80
#define NW_TUN_STATE_FILE "tunnels.json"
#define NW_TUN_STATE_VERSION 1
#define NW_TUN_STATE_MAX_BYTES (1u << 20)	/* a larger file is refused unread */

struct nw_tunnels;
struct tunnel_xfer;

/* One line of tunnels.json: netwardd started unit for the tunnel. */
struct nw_tun_claim {
	char tunnel_id[37];
	char unit[NW_UNIT_NAME_MAX];
	char name[64];			/* the tunnel's name then, "" unknown (for people) */
	char started[NW_TS_LEN];	/* when (UTC, RFC 3339), "" unknown (for people) */
};

struct nw_tun_claims {
	char boot_id[NW_BOOT_ID_LEN];	/* the boot they belong to, "" unknown */
	struct nw_tun_claim *c;
	size_t n;			/* no tunnel_id twice */
};

enum tunnel_gw {
	TUNNEL_GW_NONE,		/* no gateway configured */
	TUNNEL_GW_UNKNOWN,	/* no result yet */
	TUNNEL_GW_ANSWERS,
	TUNNEL_GW_SILENT,
};

enum tunnel_unit_op {
	TUNNEL_OP_NONE,
	TUNNEL_OP_STATE,
	TUNNEL_OP_START,
	TUNNEL_OP_STOP,
};

/* the tunnels that share one token, and that token's budget */
struct tunnel_group {
	struct nw_tunnels *t;
	char id[NW_TUN_ID_LEN];		/* nw_secret_id(): "sha256:..." */
	unsigned n;			/* tunnels */
	uint32_t interval_ms;		/* effective: stretched for the budget */
	uint64_t ring[NW_CF_BUDGET_REQUESTS];	/* CLOCK_MONOTONIC ns of the last requests */
	size_t ring_head, ring_len;
	uint64_t blocked_until_ns;	/* CLOCK_MONOTONIC: a 429 blocks the token */
	int64_t blocked_until_s;	/* the same, as wall-clock seconds (status) */
	uint64_t rounds;
	sd_event_source *timer;
	bool keep;			/* reconfigure: still used */
};

struct tunnel {
	struct nw_tunnels *t;
	struct tunnel_group *g;
	struct nw_tunnel_cfg cfg;	/* ready_url our copy, token_file NULL */
	struct nw_secret *token;
	bool keep;			/* reconfigure: still configured */

	/* what the API (or /ready) said */
	enum nw_tunnel_status status;	/* the last one known */
	const char *source;		/* of status: "api", "ready", NULL none yet */
	struct nw_tunnel_health health;
	bool answered;			/* at least one request finished */
	enum nw_cf_outcome outcome;	/* of the last API request */
	long http_status;
	char last_error[256];		/* of the last failed request, "" none */
	bool error_spell;		/* an error outcome is reported, no answer since */
	enum nw_cf_outcome spell_outcome;
	bool auth_alarm;		/* "token rejected" said in this spell */
	int ready_conns;		/* -1 unknown */
	uint64_t requests, errors, skipped, deferred, ready_checks, ready_ok;
	uint32_t backoff_k;		/* 5xx/transport in a row */
	uint32_t backoff_ms;
	uint64_t backoff_until_ns;
	uint64_t last_answer_ns;	/* CLOCK_MONOTONIC, 0 none */
	struct tunnel_xfer *xfer;	/* the request in flight */

	/* the backup unit */
	enum nw_unit_state unit_state;
	uint64_t unit_known_ns;		/* CLOCK_MONOTONIC: unit_state learnt */
	bool started_by_netward;
	bool inherited;			/* started_by_netward: by an earlier netwardd
					 * (tunnels.json), not by this one */
	bool inherit_pending;		/* inherited, and this netwardd has not seen the
					 * tunnel turn down: rise healthy answers in a
					 * row are its recovery */
	char unit_started[NW_TS_LEN];	/* when StartUnit succeeded (UTC), "" unknown */
	bool dry_active;		/* --dry-run: "would start" said, not yet "would stop" */
	bool stop_pending;		/* recovered: stop what netward started */
	bool refresh_due;		/* a state query is allowed this round */
	bool announce;			/* turned down: say "already active" once */
	bool unit_err_reported;		/* a failed start/stop was reported */
	bool no_bus_reported;
	enum tunnel_unit_op op;
	sd_bus_slot *slot;
	uint64_t react_from_ns;		/* CLOCK_MONOTONIC: the down answer read, 0 */
	uint64_t reaction_us;		/* of the start in flight or the last one */
	uint64_t starts, stops;
	char unit_error[256];
};

struct nw_tunnels {
	sd_event *e;
	uint32_t netns;
	struct nw_tunnels_ops ops;
	void *ud;
	char *api_base;			/* NULL: NW_CF_API_BASE */
	uint32_t interval_ms, timeout_ms;
	bool dry_run;
	bool has_gateway;
	uint8_t gateway_family;
	uint8_t gateway[16];
	char gateway_text[INET6_ADDRSTRLEN];
	struct nw_probes *gw;
	bool gw_noted;			/* a silent spell was reported */
	struct nw_curl *curl;
	sd_bus *bus;
	int bus_err;			/* why there is none */
	struct tunnel **tun;
	size_t n;
	struct tunnel_group **groups;
	size_t n_groups;

	/* tunnels.json (tunnel_state.c) */
	char *state_dir, *state_path;	/* NULL: nothing is kept */
	struct nw_tun_claims saved;	/* the claims the file holds (read or written) */
	bool state_warned;		/* a failed write was logged */
	char boot_id[NW_BOOT_ID_LEN];
};

/* tunnels.c */
uint64_t nw_tun_now(void);
enum tunnel_gw nw_tun_gateway(struct nw_tunnels *t);
/* takes one request from the token's budget: false when it is blocked
 * (429) or spent (then the request waits for a later round) */
bool nw_tun_budget_take(struct tunnel_group *g, uint64_t now);
unsigned nw_tun_budget_used(const struct tunnel_group *g, uint64_t now);

/* tunnel_http.c: one poll (/ready first when configured, then the API,
 * unless the tunnel backs off or its token's budget says no) */
void nw_tun_poll(struct tunnel *tun, uint64_t now);
void nw_tun_xfer_cancel(struct tunnel *tun);

/* tunnel_answer.c: what the answers do (health, events, backoff, 429) */
void nw_tun_answer(struct tunnel *tun, enum nw_tunnel_status s, const char *source,
		   const char *detail, uint64_t read_ns);
void nw_tun_api_ok(struct tunnel *tun, const struct nw_cf_reply *r, uint64_t read_ns);
void nw_tun_failed(struct tunnel *tun, const struct nw_cf_reply *r, uint64_t started_ns);

/* tunnel_unit.c: the backup unit follows the tunnel's health (start when
 * down and the gateway answers, stop on recovery when asked to) */
void nw_tun_unit_sync(struct tunnel *tun, bool may_query);
void nw_tun_unit_down(struct tunnel *tun, uint64_t read_ns);
void nw_tun_unit_up(struct tunnel *tun);
/* asks the unit's state (a new tunnel: known before it may be needed) */
void nw_tun_unit_query(struct tunnel *tun);
void nw_tun_unit_cancel(struct tunnel *tun);

/* tunnel_status.c */
cJSON *nw_tun_event(struct tunnel *tun, unsigned type);
void nw_tun_emit(struct nw_tunnels *t, unsigned type, cJSON *ev);
/* tunnel_state: status/previous/down/http_status/message; error,
 * outcome (of the API request) and alarm when not NULL */
void nw_tun_emit_state(struct tunnel *tun, const char *status, const char *previous,
		       const char *message, const char *error, const char *outcome,
		       const char *alarm);
void nw_tun_note(struct nw_tunnels *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* tunnel_state.c, the file: library-like (no logging, negative errno).
 * _parse: text (len bytes, need not be NUL-terminated) -> s, or -EINVAL
 * with err naming the JSON path and the problem, -ENOMEM; s is empty after
 * an error. _load: a regular file of at most NW_TUN_STATE_MAX_BYTES, parsed
 * (-ENOENT when there is none, -EFBIG, -EINVAL, -errno; err says why).
 * _save: replaced atomically (mode 0600). _same: the same (tunnel_id, unit)
 * pairs, in any order. _find: unit NULL matches any. */
int nw_tun_claims_format(const struct nw_tun_claims *s, char **out);
int nw_tun_claims_parse(const char *text, size_t len, struct nw_tun_claims *s, char *err,
			size_t errlen);
int nw_tun_claims_load(const char *path, struct nw_tun_claims *s, char *err, size_t errlen);
int nw_tun_claims_save(const char *path, const struct nw_tun_claims *s);
int nw_tun_claims_add(struct nw_tun_claims *s, const struct nw_tun_claim *c);
const struct nw_tun_claim *nw_tun_claims_find(const struct nw_tun_claims *s, const char *tunnel_id,
					      const char *unit);
bool nw_tun_claims_same(const struct nw_tun_claims *a, const struct nw_tun_claims *b);
void nw_tun_claims_free(struct nw_tun_claims *s);

/* tunnel_state.c, the poller's side (logs). _restore, once the tunnels are
 * configured: the claims of the file for tunnels still configured with the
 * same unit are theirs again (started_by_netward, inherited); the others
 * are dropped. _sync: writes the file when the set of claims changed (a
 * start or a stop succeeded, a tunnel or its unit left the configuration);
 * never under --dry-run; a failed write is one warning, retried at the next
 * change. Freeing the poller writes nothing: the claims outlive netwardd. */
void nw_tun_state_restore(struct nw_tunnels *t, const char *state_dir);
void nw_tun_state_sync(struct nw_tunnels *t);
void nw_tun_state_free(struct nw_tunnels *t);

#endif
