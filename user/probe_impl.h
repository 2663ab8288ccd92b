/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Between the probe scheduler (probe.c) and the probe types (probe_icmp.c,
 * probe_tcp.c, probe_http.c, probe_dns.c). Not for other modules.
 *
 * The scheduler owns a struct nw_probe_run per probe and calls the type's
 * start for each run. A type either answers at once (start returns 1 with
 * the result filled in) or later, from the loop, with nw_probe_run_finish;
 * the scheduler never calls the type back synchronously. At the deadline
 * (or when the probes are freed) the scheduler calls cancel instead, after
 * which the type must not report anything for that run.
 */
#ifndef NETWARD_PROBE_IMPL_H
#define NETWARD_PROBE_IMPL_H

#include <stdint.h>
#include <sys/socket.h>
#include <systemd/sd-event.h>

#include "probe.h"

struct nw_curl;

/* One run of one probe. */
struct nw_probe_run {
	struct nw_probes *probes;
	const struct nw_probe_cfg *cfg;
	sd_event *e;
	uint64_t started_ns;	/* CLOCK_MONOTONIC */
	const char *method;	/* the type may set it in start: icmp "dgram"/"raw" */
	void *priv;		/* the type's state of the run; NULL when it holds none */
};

struct nw_probe_type_ops {
	/* 0: running, the type calls nw_probe_run_finish later; 1: finished
	 * at once, *r filled in (ok, err, detail, http_status) and nothing
	 * held; -errno: could not start, nothing held. */
	int (*start)(struct nw_probe_run *run, struct nw_probe_result *r);
	/* Releases whatever the run holds; no report follows. */
	void (*cancel)(struct nw_probe_run *run);
};

extern const struct nw_probe_type_ops nw_probe_icmp_ops;
extern const struct nw_probe_type_ops nw_probe_tcp_ops;
extern const struct nw_probe_type_ops nw_probe_http_ops;	/* http and https */
extern const struct nw_probe_type_ops nw_probe_dns_ops;

/* The type's report of a run started with 0, from the loop, exactly once,
 * after the type released what the run held (run->priv NULL): the run may
 * be started again from within. r: ok, err, detail, http_status; the
 * scheduler fills in the times. */
void nw_probe_run_finish(struct nw_probe_run *run, const struct nw_probe_result *r);

/* The libcurl multi shared by the http(s) probes of p, made on first use. */
int nw_probes_curl(struct nw_probes *p, struct nw_curl **out);

/* Fills r->ok, r->err and r->detail (printf format). */
void nw_probe_result_set(struct nw_probe_result *r, bool ok, int err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* AF_INET, AF_INET6 or AF_UNSPEC of a family field (AF_* or 4/6). */
int nw_probe_af(uint8_t family);
/* Socket helpers of icmp and tcp: SO_BINDTODEVICE to cfg->interface and
 * bind to cfg->source when given. 0 or -errno; *what names the failed call. */
int nw_probe_sock_setup(int fd, const struct nw_probe_cfg *cfg, const char **what);
/* cfg->addr and port as a sockaddr; its length, 0 if the family is neither. */
socklen_t nw_probe_sockaddr(const struct nw_probe_cfg *cfg, uint16_t port,
			    struct sockaddr_storage *ss);
/* the address of a sockaddr_in(6) as text ("?" for another family) */
const char *nw_probe_ntop(const struct sockaddr_storage *ss, char *buf, size_t len);

#endif
