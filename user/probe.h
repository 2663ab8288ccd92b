/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Connectivity probes on the daemon's sd-event loop, without forking:
 * icmp (ICMP datagram socket, raw socket when the netns's ping_group_range
 * refuses it), tcp (non-blocking connect), http/https (libcurl multi, an
 * expected status) and dns (the system resolver through sd-resolve).
 * Each probe runs every interval_ms and fails after timeout_ms; any probe
 * can be started at once (nw_probes_run_now) when an event says the network
 * just broke or was just repaired.
 */
#ifndef NETWARD_PROBE_H
#define NETWARD_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <net/if.h>
#include <cjson/cJSON.h>
#include <systemd/sd-event.h>

#define NW_PROBES_MAX 64
#define NW_PROBE_NAME_LEN 32

enum nw_probe_type {
	NW_PROBE_ICMP,
	NW_PROBE_TCP,
	NW_PROBE_HTTP,
	NW_PROBE_HTTPS,
	NW_PROBE_DNS,
};

/* "internet": decides whether the host is connected; "gateway": decides
 * whether a failure is "my link is broken" (gateway silent) or "the
 * internet is broken" (gateway answers). */
enum nw_probe_role {
	NW_ROLE_INTERNET,
	NW_ROLE_GATEWAY,
};

/* probes[i] of netward.json */
struct nw_probe_cfg {
	char name[NW_PROBE_NAME_LEN];
	uint8_t type;			/* enum nw_probe_type */
	uint8_t role;			/* enum nw_probe_role */
	/* icmp, tcp: an IPv4/IPv6 address (never a name: a probe must not
	 * depend on DNS); http(s): the URL; dns: the name to resolve */
	char *target;
	uint8_t family;			/* icmp/tcp: of target; dns: 0 any, 4, 6 */
	uint8_t addr[16];		/* icmp/tcp: target parsed */
	uint16_t port;			/* tcp: required */
	uint32_t interval_ms;		/* default 1000 */
	uint32_t timeout_ms;		/* default 500, less than interval_ms */
	char interface[IF_NAMESIZE];	/* source interface (SO_BINDTODEVICE), "" none */
	bool has_source;		/* source address (bind) */
	uint8_t source_family;
	uint8_t source[16];
	uint16_t expect_status;		/* http(s): 0 = any 2xx or 3xx */
};

const char *nw_probe_type_name(unsigned type);	/* "icmp", ... */
int nw_probe_type_parse(const char *name);	/* enum or -EINVAL */
const char *nw_probe_role_name(unsigned role);
int nw_probe_role_parse(const char *name);

/* The outcome of one run. */
struct nw_probe_result {
	bool ok;
	bool timeout;			/* no answer within timeout_ms */
	int err;			/* positive errno of the failure, 0 if none */
	long http_status;		/* http(s): the status received, 0 none */
	uint64_t rtt_us;		/* start to answer (or to the failure) */
	uint64_t started_ns;		/* CLOCK_MONOTONIC */
	char detail[160];		/* "echo reply from 192.0.2.1", "connect: Connection
					 * refused", "HTTP 503 (expected 2xx/3xx)",
					 * "timeout after 500 ms", "3 addresses" */
};

/* What netward remembers of a probe between runs. */
struct nw_probe_state {
	bool known;			/* at least one result */
	bool up;			/* the last result was ok */
	bool in_flight;
	uint32_t consec_fail;		/* consecutive failed results (0 after an ok) */
	uint32_t consec_ok;
	uint64_t runs, failures;
	uint64_t since_ns;		/* CLOCK_MONOTONIC of the last up/down change */
	struct nw_probe_result last;
	const char *method;		/* icmp: "dgram" or "raw"; others: NULL */
};

struct nw_probes_ops {
	/* Every result, after the state has been updated. */
	void (*result)(void *ud, size_t i, const struct nw_probe_cfg *cfg,
		       const struct nw_probe_state *st, const struct nw_probe_result *r);
};

struct nw_probes;

/* Copies cfgs (target strings too); the first runs start at once. */
int nw_probes_new(struct nw_probes **out, sd_event *e, const struct nw_probe_cfg *cfgs, size_t n,
		  const struct nw_probes_ops *ops, void *ud);
/* Cancels the runs in flight: no callback after it. Allowed from within
 * ops->result and done callbacks too. */
void nw_probes_free(struct nw_probes *p);

/* Starts every probe now; a probe in flight runs once more as soon as it
 * finishes. The regular interval of each probe restarts from its run.
 * done (may be NULL) is called once, from the loop, when every probe has
 * reported a result from a run started at or after this call; calls made
 * while earlier ones wait get their own callback. */
int nw_probes_run_now(struct nw_probes *p, void (*done)(void *ud), void *ud);
/* Forgets every pending done callback given with this ud (its owner goes). */
void nw_probes_cancel_done(struct nw_probes *p, void *ud);

size_t nw_probes_count(const struct nw_probes *p);
const struct nw_probe_cfg *nw_probes_cfg(const struct nw_probes *p, size_t i);
const struct nw_probe_state *nw_probes_state(const struct nw_probes *p, size_t i);

/* Appends one object per probe to arr: name, type, role, target, port,
 * interval_ms, timeout_ms, state ("up", "down", "unknown"), consecutive_failures,
 * runs, failures, last_rtt_us, last_error, since_s, method. */
void nw_probes_status(const struct nw_probes *p, cJSON *arr);

#endif
