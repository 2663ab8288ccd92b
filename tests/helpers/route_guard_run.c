// SPDX-License-Identifier: GPL-2.0-only
/*
 * route_guard_run: the route guard alone, without BPF or the daemon, for
 * trying it in a network namespace:
 *   ip netns exec NS route_guard_run [--config FILE] [--dry-run] [--rcvbuf N]
 * Prints one JSON line per event on stdout, {"ready":...} once the guard
 * watches, the guard's status on SIGUSR1 ({"status":{...}}), and exits 0 on
 * SIGTERM or SIGINT after a last status line. FILE is a netward.json; only
 * its "routes" section is used. Exit 1 when the guard cannot start.
 * Linked with the user objects (COMMON + rtnl.o + route_guard.o).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-event.h>

#include "config.h"
#include "route_guard.h"

static void print_json(cJSON *o)
{
	char *s = cJSON_PrintUnformatted(o);

	if (s) {
		printf("%s\n", s);
		fflush(stdout);
	}
	free(s);
}

static void on_emit(void *ud, unsigned type, cJSON *ev)
{
	(void)ud;
	(void)type;
	print_json(ev);
}

static void print_status(struct nw_route_guard *g)
{
	cJSON *o = cJSON_CreateObject();
	cJSON *st = cJSON_AddObjectToObject(o, "status");

	if (st)
		nw_route_guard_status(g, st);
	print_json(o);
	cJSON_Delete(o);
}

static int on_usr1(sd_event_source *s, const struct signalfd_siginfo *si, void *ud)
{
	(void)s;
	(void)si;
	print_status(ud);
	return 0;
}

static int on_term(sd_event_source *s, const struct signalfd_siginfo *si, void *ud)
{
	(void)ud;
	(void)si;
	return sd_event_exit(sd_event_source_get_event(s), 0);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "rcvbuf", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	const struct nw_route_guard_ops ops = { .emit = on_emit };
	struct nw_route_guard *g = NULL;
	const char *config = NULL;
	char err[NW_ERR_LEN];
	struct nw_cfg cfg;
	bool dry_run = false;
	int rcvbuf = -1, o, r;
	sd_event *e = NULL;
	sigset_t ss;

	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'c': config = optarg; break;
		case 'n': dry_run = true; break;
		case 'r': rcvbuf = atoi(optarg); break;
		case 'h':
			printf("Usage: route_guard_run [--config FILE] [--dry-run] [--rcvbuf BYTES]\n");
			return 0;
		default: return 2;
		}
	}
	if (config) {
		if (nw_cfg_load(config, &cfg, err, sizeof(err))) {
			fprintf(stderr, "%s\n", err);
			return 1;
		}
	} else {
		nw_cfg_defaults(&cfg);
	}
	cfg.routes.dry_run = dry_run;
	if (rcvbuf >= 0)
		cfg.routes.rcvbuf = rcvbuf;

	sigemptyset(&ss);
	sigaddset(&ss, SIGTERM);
	sigaddset(&ss, SIGINT);
	sigaddset(&ss, SIGUSR1);
	sigprocmask(SIG_BLOCK, &ss, NULL);
	if ((r = sd_event_default(&e)) < 0 ||
	    (r = sd_event_add_signal(e, NULL, SIGTERM, on_term, NULL)) < 0 ||
	    (r = sd_event_add_signal(e, NULL, SIGINT, on_term, NULL)) < 0)
		goto cleanup;
	if ((r = nw_route_guard_new(&g, e, &cfg.routes, &ops, NULL)) < 0) {
		fprintf(stderr, "route-guard: %s\n", strerror(-r));
		goto cleanup;
	}
	if ((r = sd_event_add_signal(e, NULL, SIGUSR1, on_usr1, g)) < 0)
		goto cleanup;
	printf("{\"ready\":true,\"pid\":%d}\n", getpid());
	fflush(stdout);
	print_status(g);
	r = sd_event_loop(e);
	print_status(g);
cleanup:
	nw_route_guard_free(g);
	sd_event_unref(e);
	nw_cfg_free(&cfg);
	if (r < 0)
		fprintf(stderr, "route_guard_run: %s\n", strerror(-r));
	return r < 0 ? 1 : 0;
}
