/* SPDX-License-Identifier: GPL-2.0-only */
/* What netwardctl's verbs share: the parsed options and the ways to reach
 * the daemon and the pinned maps. Verbs live in netwardctl.c and ctl_*.c. */
#ifndef NETWARD_CTL_H
#define NETWARD_CTL_H

#include <stdbool.h>
#include <stdio.h>
#include <cjson/cJSON.h>

enum { EXIT_OK = 0, EXIT_COND = 1, EXIT_USAGE = 2, EXIT_NODAEMON = 3, EXIT_NOMAPS = 4 };

struct nw_ctl_args {
	bool json, follow, now;
	const char *pin_dir, *socket, *cgroup, *type;
	int port, proto, family, action;	/* -1: not given */
	long limit;				/* -1: not given */
	long quiet_ms;				/* --quiet, default 500 */
	long timeout_ms;			/* --timeout, -1: not given */
};
extern struct nw_ctl_args arg;

/* "netwardctl: <fmt with v>" + hint on stderr; returns EXIT_USAGE */
int usage_error(const char *fmt, const char *v);
/* NULL (message printed) when netwardd is not reachable */
FILE *daemon_connect(void);
/* one newline-delimited JSON reply, NULL at EOF */
cJSON *read_reply(FILE *f);
/* Sends req, reads one reply: 0 and *reply, or an exit code (message
 * printed; {"ok":false} gives EXIT_USAGE). fp: keep the connection open. */
int request(FILE **fp, cJSON *req, cJSON **reply);
/* request() of {"cmd": cmd, ...req's fields}; req (may be NULL) is freed */
int ask(const char *cmd, cJSON *req, cJSON **reply);
void print_json(const cJSON *o);
const char *s_of(const cJSON *o, const char *k);
double n_of(const cJSON *o, const char *k);
/* bpf_obj_get of <pin dir>/<name>: 0 or EXIT_NOMAPS (message printed) */
int open_pinned(const char *name, int *fd);

/* verbs in their own files: argv[0] is the verb */
int verb_wait_stable(int argc, char **argv);	/* ctl_stable.c */
int verb_quarantine(int argc, char **argv);	/* ctl_quarantine.c */
int verb_churn(int argc, char **argv);		/* ctl_churn.c */
int verb_probes(int argc, char **argv);		/* ctl_probes.c */
int verb_recovery(int argc, char **argv);	/* ctl_probes.c */
int verb_tunnels(int argc, char **argv);	/* ctl_tunnels.c */
int verb_segw(int argc, char **argv);		/* ctl_segw.c */

#endif
