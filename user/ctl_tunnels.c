// SPDX-License-Identifier: GPL-2.0-only
/* netwardctl tunnels: what the tunnel poller sees of each tunnel, and the
 * backup units it started. */
#include <stdio.h>
#include <string.h>

#include "ctl.h"

int verb_tunnels(int argc, char **argv)
{
	cJSON *req = cJSON_CreateObject(), *r = NULL;
	const cJSON *t, *o;
	int rc, down = 0;

	if (argc > 1)
		return usage_error("tunnels: unexpected argument \"%s\"", argv[1]);
	rc = ask("tunnels", req, &r);
	if (rc)
		return rc;
	t = cJSON_GetObjectItemCaseSensitive(r, "tunnels");
	cJSON_ArrayForEach(o, cJSON_GetObjectItemCaseSensitive(t, "tunnels"))
		down += cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "down"));
	if (arg.json) {
		print_json(t);
	} else if (!cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(t, "tunnels"))) {
		printf("no tunnels configured (netward.json \"tunnels\")\n");
	} else {
		printf("api %s, every %.0f ms, gateway %s\n", s_of(t, "api_base"),
		       n_of(t, "interval_ms"), s_of(t, "gateway"));
		cJSON_ArrayForEach(o, cJSON_GetObjectItemCaseSensitive(t, "tokens"))
			printf("  token %s: %.0f tunnel%s, polled every %.0f ms%s\n", s_of(o, "id"),
			       n_of(o, "tunnels"), n_of(o, "tunnels") == 1 ? "" : "s",
			       n_of(o, "interval_ms"),
			       n_of(o, "blocked_until_s") > 0 ? " (rate limited by the API)" : "");
		printf("  %-20s %-9s %-5s %-32s %-12s %s\n", "TUNNEL", "STATUS", "DOWN", "SERVICE",
		       "UNIT", "LAST ERROR");
		cJSON_ArrayForEach(o, cJSON_GetObjectItemCaseSensitive(t, "tunnels"))
			printf("  %-20s %-9s %-5s %-32s %-12s %s\n", s_of(o, "name"), s_of(o, "status"),
			       cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "down")) ? "yes" : "no",
			       cJSON_IsString(cJSON_GetObjectItemCaseSensitive(o, "service"))
				       ? s_of(o, "service") : "-",
			       s_of(o, "unit"),
			       cJSON_IsString(cJSON_GetObjectItemCaseSensitive(o, "last_error"))
				       ? s_of(o, "last_error") : "");
	}
	cJSON_Delete(r);
	/* like probes: 1 when a tunnel is down */
	return down ? EXIT_COND : EXIT_OK;
}
