/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * SEGW failover for IPsec connections over strongSwan's VICI (seed 001).
 * A connection lists its security gateways in order; netward loads the
 * connection into charon with remote_addrs set to the one current gateway
 * and initiates it. When its IKE SA goes down (ike-updown without up, an
 * initiate that fails, an alert where charon has them), netward terminates
 * it, loads the next gateway (round-robin) and initiates again; after
 * max_retries failures in a row it stops with "Max retry count exceeded
 * for connection 'X'"; an IKE SA that comes up resets the count. Every
 * connection fails over on its own, concurrently. Each time netward
 * connects to charon it first lists charon's IKE SAs (list-sas): a
 * connection ESTABLISHED at one of its gateways is adopted as it is
 * (segw_up "adopted"), not loaded or initiated again.
 */
#ifndef NETWARD_SEGW_H
#define NETWARD_SEGW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>
#include <systemd/sd-event.h>

#define NW_SEGW_MAX_GATEWAYS 16
#define NW_SEGW_MAX_CONNECTIONS 4096
#define NW_SEGW_NAME_MAX 64
#define NW_SEGW_DEFAULT_SOCKET "unix:///var/run/charon.vici"

/* segw.connections[i] */
struct nw_segw_conn_cfg {
	char name[NW_SEGW_NAME_MAX];	/* the connection (and IKE SA) name in charon */
	char **gateways;		/* remote_addrs split: IPv4, IPv6 or names */
	size_t n_gateways;
	uint32_t max_retries;		/* default 5 */
	char *psk_file;			/* owner-only, NULL none */
	cJSON *conn;			/* the connection as swanctl.conf/VICI load-conn
					 * shapes it, without remote_addrs */
};

/* "segw" */
struct nw_segw_cfg {
	bool enabled;			/* at least one connection */
	char *vici_socket;		/* NULL: NW_SEGW_DEFAULT_SOCKET */
	uint32_t initiate_timeout_ms;	/* an initiate's answer, default 10000 */
	uint32_t retry_delay_ms;	/* pause before the 2nd and later attempts in a row,
					 * default 1000 (a gateway that refuses at once
					 * must not burn every retry in milliseconds) */
	struct nw_segw_conn_cfg *conns;
	size_t n_conns;
	bool dry_run;			/* not a key: netwardd --dry-run (observe SAs, say what
					 * would be done, load and initiate nothing) */
};

void nw_segw_cfg_free(struct nw_segw_cfg *c);

struct nw_secret;

struct nw_segw_ops {
	/* segw_up, segw_down, segw_failover, segw_retry_exhausted; the
	 * callee does not keep ev */
	void (*emit)(void *ud, unsigned type, cJSON *ev);
};

struct nw_segw;

/* psks[i] belongs to cfg->conns[i] (NULL: none); owned from here on, also
 * on failure. Connects to charon (retrying while it is not there), adopts
 * the connections whose IKE SA is up already and brings every other one
 * up at its first gateway. */
int nw_segw_new(struct nw_segw **out, sd_event *e, uint32_t netns, const struct nw_segw_cfg *cfg,
		struct nw_secret **psks, const struct nw_segw_ops *ops, void *ud);
/* A reload: connections are matched by name and keep their gateway and
 * counters when their gateway list is unchanged. */
int nw_segw_reconfigure(struct nw_segw *s, const struct nw_segw_cfg *cfg,
			struct nw_secret **psks);
/* netwardctl segw failover NAME: to the next gateway now (an exhausted
 * connection starts over). -ENOENT no such connection. */
int nw_segw_failover(struct nw_segw *s, const char *name);
/* {"vici_socket", "connected", "connections": [{"name", "gateways",
 *  "gateway", "state", "attempts", "max_retries", "last_error", ...}]} */
void nw_segw_status(struct nw_segw *s, cJSON *out);
void nw_segw_summary(struct nw_segw *s, char *buf, size_t size);
void nw_segw_free(struct nw_segw *s);
/* bytes netward holds for one configured connection (bench) */
size_t nw_segw_conn_bytes(const struct nw_segw *s, size_t i);

/* "10.0.0.1, 10.0.0.2,10.0.0.3" -> gateways (malloc'ed strings). Spaces
 * around entries are fine; an empty list, an empty entry ("a,,b"), an
 * entry with inner spaces or over 253 bytes, more than
 * NW_SEGW_MAX_GATEWAYS entries are -EINVAL with why. */
int nw_segw_split_addrs(const char *list, char ***out, size_t *n, char *why, size_t whylen);

#endif
