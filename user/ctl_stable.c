// SPDX-License-Identifier: GPL-2.0-only
/* netwardctl wait-stable [--quiet MS] [--timeout MS]: blocks until netwardd
 * has seen no route, rule, link or address change in its namespace for MS
 * (exit 0), or until the timeout (exit 1). Without --timeout it waits as
 * long as it takes. netwardd keeps the clock; this side only waits for its
 * one-line answer. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "ctl.h"

/* with --timeout: a daemon that has not answered this long after it is
 * considered gone */
#define SLACK_MS 10000

int verb_wait_stable(int argc, char **argv)
{
	cJSON *req, *r;
	const cJSON *ok, *stable;
	FILE *f;
	char *text;
	int rc;

	if (argc > 1)
		return usage_error("wait-stable: unexpected argument \"%s\"", argv[1]);
	if (!(f = daemon_connect()))
		return EXIT_NODAEMON;
	if (arg.timeout_ms >= 0) {
		long ms = arg.timeout_ms + SLACK_MS;
		struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };

		setsockopt(fileno(f), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	}
	req = cJSON_CreateObject();
	cJSON_AddStringToObject(req, "cmd", "wait-stable");
	cJSON_AddNumberToObject(req, "quiet_ms", (double)arg.quiet_ms);
	if (arg.timeout_ms >= 0)
		cJSON_AddNumberToObject(req, "timeout_ms", (double)arg.timeout_ms);
	text = cJSON_PrintUnformatted(req);
	cJSON_Delete(req);
	if (!text || fprintf(f, "%s\n", text) < 0 || fflush(f)) {
		fprintf(stderr, "netwardctl: wait-stable: sending the request: %s\n",
			strerror(errno));
		free(text);
		fclose(f);
		return EXIT_NODAEMON;
	}
	free(text);
	r = read_reply(f);
	if (!r) {
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			fprintf(stderr, "netwardctl: wait-stable: no answer from netwardd %d ms "
				"after the timeout\n", SLACK_MS);
		else
			fprintf(stderr, "netwardctl: wait-stable: netwardd closed the connection "
				"without an answer\n");
		fclose(f);
		return EXIT_NODAEMON;
	}
	fclose(f);
	ok = cJSON_GetObjectItemCaseSensitive(r, "ok");
	stable = cJSON_GetObjectItemCaseSensitive(r, "stable");
	if (!cJSON_IsTrue(ok)) {
		fprintf(stderr, "netwardctl: netwardd: %s\n", s_of(r, "error"));
		rc = EXIT_USAGE;
	} else if (!cJSON_IsBool(stable)) {
		fprintf(stderr, "netwardctl: wait-stable: unexpected answer from netwardd\n");
		rc = EXIT_NODAEMON;
	} else {
		rc = cJSON_IsTrue(stable) ? EXIT_OK : EXIT_COND;
		if (arg.json)
			print_json(r);
		else if (rc == EXIT_OK)
			printf("stable: no change for %.0f ms (waited %.0f ms)\n", n_of(r, "quiet_ms"),
			       n_of(r, "waited_ms"));
		else
			printf("not stable after %.0f ms (last change %.0f ms ago)\n",
			       n_of(r, "waited_ms"), n_of(r, "quiet_ms"));
	}
	cJSON_Delete(r);
	return rc;
}
