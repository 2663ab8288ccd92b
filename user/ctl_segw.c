// SPDX-License-Identifier: GPL-2.0-only
/* netwardctl segw [list|failover NAME]: the SEGW connections, their
 * current gateway and attempts; a failover to the next gateway now. */
#include <stdio.h>
#include <string.h>

#include "ctl.h"

int verb_segw(int argc, char **argv)
{
	cJSON *req = cJSON_CreateObject(), *r = NULL;
	const cJSON *t, *o, *g;
	const char *sub = argc > 1 ? argv[1] : "list";
	int rc, bad = 0;

	if (strcmp(sub, "list") && strcmp(sub, "failover"))
		return usage_error("segw: \"%s\" is not list or failover", sub);
	if (!strcmp(sub, "failover") && argc != 3)
		return usage_error("segw failover: %s", "give one connection name");
	if (!strcmp(sub, "list") && argc > 2)
		return usage_error("segw list: unexpected argument \"%s\"", argv[2]);
	if (!strcmp(sub, "failover"))
		cJSON_AddStringToObject(req, "failover", argv[2]);
	rc = ask("segw", req, &r);
	if (rc)
		return rc;
	t = cJSON_GetObjectItemCaseSensitive(r, "segw");
	cJSON_ArrayForEach(o, cJSON_GetObjectItemCaseSensitive(t, "connections"))
		bad += strcmp(s_of(o, "state"), "up") != 0;
	if (arg.json) {
		print_json(t);
	} else if (!cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(t, "connections"))) {
		printf("no SEGW connections configured (netward.json \"segw\")\n");
	} else {
		printf("charon %s: %s\n", s_of(t, "vici_socket"),
		       cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(t, "connected")) ? "connected"
										: "not connected");
		printf("  %-16s %-11s %-18s %-9s %-9s %s\n", "CONNECTION", "STATE", "GATEWAY",
		       "ATTEMPTS", "FAILOVERS", "GATEWAYS / LAST ERROR");
		cJSON_ArrayForEach(o, cJSON_GetObjectItemCaseSensitive(t, "connections")) {
			char gws[256] = "";

			cJSON_ArrayForEach(g, cJSON_GetObjectItemCaseSensitive(o, "gateways"))
				snprintf(gws + strlen(gws), sizeof(gws) - strlen(gws), "%s%s",
					 gws[0] ? "," : "", g->valuestring);
			printf("  %-16s %-11s %-18s %4.0f/%-4.0f %-9.0f %s%s%s\n", s_of(o, "name"),
			       s_of(o, "state"), s_of(o, "gateway"), n_of(o, "attempts"),
			       n_of(o, "max_retries"), n_of(o, "failovers"), gws,
			       cJSON_IsString(cJSON_GetObjectItemCaseSensitive(o, "last_error"))
				       ? "; " : "",
			       cJSON_IsString(cJSON_GetObjectItemCaseSensitive(o, "last_error"))
				       ? s_of(o, "last_error") : "");
		}
	}
	cJSON_Delete(r);
	/* list: 1 when a connection is not up; failover: 0 once asked */
	return bad && !strcmp(sub, "list") ? EXIT_COND : EXIT_OK;
}
