// SPDX-License-Identifier: GPL-2.0-only
/* netwardctl churn: rtnetlink write requests per cgroup, from the pinned
 * "churn" map (works with the daemon down). */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>

#include "netward/route_watch.h"
#include "cgroup.h"
#include "ctl.h"

struct row {
	__u64 id;
	struct nw_churn c;
};

static int by_total(const void *a, const void *b)
{
	const struct row *x = a, *y = b;
	__u64 tx = x->c.route + x->c.rule + x->c.link + x->c.addr;
	__u64 ty = y->c.route + y->c.rule + y->c.link + y->c.addr;

	return tx < ty ? 1 : tx > ty ? -1 : 0;
}

int verb_churn(int argc, char **argv)
{
	char mount[PATH_MAX] = "";
	struct row *rows = NULL;
	__u64 key, next;
	size_t n = 0, cap = 0;
	int fd, rc;

	if (argc > 1)
		return usage_error("churn: unexpected argument \"%s\"", argv[1]);
	if ((rc = open_pinned("churn", &fd)))
		return rc;
	nw_cgroup2_mount(mount, sizeof(mount));
	if (bpf_map_get_next_key(fd, NULL, &next) == 0) {
		do {
			key = next;
			if (n == cap) {
				struct row *r = realloc(rows, (cap = cap ? cap * 2 : 64) * sizeof(*rows));

				if (!r) {
					free(rows);
					close(fd);
					return EXIT_COND;
				}
				rows = r;
			}
			if (bpf_map_lookup_elem(fd, &key, &rows[n].c) == 0)
				rows[n++].id = key;
		} while (bpf_map_get_next_key(fd, &key, &next) == 0);
	}
	close(fd);
	qsort(rows, n, sizeof(*rows), by_total);
	if (!arg.json)
		printf("%-50s %8s %8s %8s %8s\n", "CGROUP", "ROUTES", "RULES", "LINKS", "ADDRS");
	{
		cJSON *arr = cJSON_CreateArray();

		for (size_t i = 0; i < n; i++) {
			char path[PATH_MAX];

			if (nw_cgroup_path_from_id(mount, rows[i].id, path, sizeof(path)) < 0)
				snprintf(path, sizeof(path), "%llu (gone)", (unsigned long long)rows[i].id);
			if (arg.json) {
				cJSON *o = cJSON_CreateObject();

				cJSON_AddStringToObject(o, "cgroup", path);
				cJSON_AddNumberToObject(o, "cgroup_id", (double)rows[i].id);
				cJSON_AddNumberToObject(o, "route", (double)rows[i].c.route);
				cJSON_AddNumberToObject(o, "rule", (double)rows[i].c.rule);
				cJSON_AddNumberToObject(o, "link", (double)rows[i].c.link);
				cJSON_AddNumberToObject(o, "addr", (double)rows[i].c.addr);
				cJSON_AddItemToArray(arr, o);
			} else {
				printf("%-50s %8llu %8llu %8llu %8llu\n", path,
				       (unsigned long long)rows[i].c.route, (unsigned long long)rows[i].c.rule,
				       (unsigned long long)rows[i].c.link, (unsigned long long)rows[i].c.addr);
			}
		}
		if (arg.json)
			print_json(arr);
		cJSON_Delete(arr);
	}
	free(rows);
	return 0;
}
