// SPDX-License-Identifier: GPL-2.0-only
/* netwardctl probes [--now] and netwardctl recovery: connectivity as the
 * probes see it, and where the recovery ladder stands. */
#include <stdio.h>
#include <string.h>

#include "ctl.h"

static void print_probe(const cJSON *p)
{
	char target[300];
	const char *err = s_of(p, "last_error");

	if (n_of(p, "port"))
		snprintf(target, sizeof(target), "%s port %.0f", s_of(p, "target"), n_of(p, "port"));
	else
		snprintf(target, sizeof(target), "%s", s_of(p, "target"));
	printf("  %-12s %-5s %-8s %-32s %-7s", s_of(p, "name"), s_of(p, "type"), s_of(p, "role"),
	       target, s_of(p, "state"));
	if (!strcmp(s_of(p, "state"), "up"))
		printf(" rtt %.0f us", n_of(p, "last_rtt_us"));
	else if (n_of(p, "consecutive_failures"))
		printf(" %.0f failed in a row: %s", n_of(p, "consecutive_failures"), err);
	if (cJSON_IsString(cJSON_GetObjectItemCaseSensitive(p, "method")))
		printf(" (%s)", s_of(p, "method"));
	printf("\n");
}

/* The summary line both verbs print. */
static void print_connectivity(const cJSON *c)
{
	printf("connectivity: %s", s_of(c, "state"));
	if (!strcmp(s_of(c, "state"), "offline"))
		printf(" for %.0f ms, %.0f failures in a row, gateway %s", n_of(c, "down_ms"),
		       n_of(c, "failures"), s_of(c, "gateway"));
	printf("; recovery %s", cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(c, "recovery_enabled"))
				       ? "on" : "off (no \"recovery\" section)");
	if (n_of(c, "level"))
		printf(", level %.0f of attempt %.0f%s", n_of(c, "level"), n_of(c, "attempt"),
		       cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(c, "upstream"))
			       ? " (level 3 held back: the gateway answers)" : "");
	printf("\n");
}

int verb_probes(int argc, char **argv)
{
	cJSON *req = cJSON_CreateObject(), *r = NULL;
	const cJSON *p;
	int rc;

	if (argc > 1)
		return usage_error("probes: unexpected argument \"%s\"", argv[1]);
	if (arg.now)
		cJSON_AddBoolToObject(req, "now", 1);
	rc = ask("probes", req, &r);
	if (rc)
		return rc;
	if (arg.json) {
		print_json(r);
	} else {
		print_connectivity(cJSON_GetObjectItemCaseSensitive(r, "connectivity"));
		if (!cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r, "probes")))
			printf("  no probes configured (netward.json \"probes\")\n");
		cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(r, "probes"))
			print_probe(p);
	}
	/* like ping: 1 when the host is offline */
	rc = !strcmp(s_of(cJSON_GetObjectItemCaseSensitive(r, "connectivity"), "state"), "offline")
		     ? EXIT_COND : EXIT_OK;
	cJSON_Delete(r);
	return rc;
}

int verb_recovery(int argc, char **argv)
{
	cJSON *req = cJSON_CreateObject(), *r = NULL;
	const cJSON *c, *s, *st;
	int rc;

	if (argc > 1)
		return usage_error("recovery: unexpected argument \"%s\"", argv[1]);
	rc = ask("recovery", req, &r);
	if (rc)
		return rc;
	c = cJSON_GetObjectItemCaseSensitive(r, "connectivity");
	if (arg.json) {
		print_json(c);
		cJSON_Delete(r);
		return 0;
	}
	print_connectivity(c);
	printf("thresholds:   fail %.0f, emergency %.0f; %.0f outage%s, %.0f recover%s, "
	       "%.0f step%s run, %.0f failed attempt%s", n_of(c, "fail_threshold"),
	       n_of(c, "emergency_threshold"), n_of(c, "losses"), n_of(c, "losses") == 1 ? "" : "s",
	       n_of(c, "recoveries"), n_of(c, "recoveries") == 1 ? "y" : "ies",
	       n_of(c, "steps_run"), n_of(c, "steps_run") == 1 ? "" : "s",
	       n_of(c, "failed_attempts"), n_of(c, "failed_attempts") == 1 ? "" : "s");
	if (cJSON_GetObjectItemCaseSensitive(c, "reboots_24h"))
		printf(", %.0f reboot%s in 24 h", n_of(c, "reboots_24h"),
		       n_of(c, "reboots_24h") == 1 ? "" : "s");
	printf("\nsteps on:    ");
	st = cJSON_GetObjectItemCaseSensitive(c, "steps");
	for (s = st ? st->child : NULL; s; s = s->next)
		if (cJSON_IsTrue(s))
			printf(" %s", s->string);
	printf("\n");
	if (*s_of(c, "running_step"))
		printf("running:      %s\n", s_of(c, "running_step"));
	if (cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(c, "last_steps")))
		printf("last steps:\n");
	cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(c, "last_steps"))
		printf("  %s L%.0f %-22s %-13s %8.0f us  %s\n", s_of(s, "ts"), n_of(s, "level"),
		       s_of(s, "step"), s_of(s, "result"), n_of(s, "duration_us"), s_of(s, "detail"));
	cJSON_Delete(r);
	return 0;
}
