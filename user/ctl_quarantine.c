// SPDX-License-Identifier: GPL-2.0-only
/*
 * netwardctl quarantine [list] | add --cgroup PATH|ID | del --cgroup PATH|ID
 *
 * Writes and reads the pinned "quarantine" map directly: works with the
 * daemon down. A write request (route, rule, link, address) from a process
 * in a quarantined cgroup, or below it, is refused with EPERM where BPF LSM
 * is available, else its writer is killed in the kernel and netwardd reverts
 * what the request did; read-only requests (dumps) stay allowed.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cgroup.h"
#include "ctl.h"
#include "quarantine_map.h"
#include "util.h"

/* "/a/b" is "/a" itself or below it (component-wise) */
static int path_within(const char *path, const char *top)
{
	size_t n = strlen(top);

	if (!strcmp(top, "/"))
		return 1;
	return !strncmp(path, top, n) && (path[n] == '/' || !path[n]);
}

/* The cgroup2 path of a process ("0::/system.slice/x.service"), or "". */
static void proc_cgroup(const char *pid, char *out, size_t size)
{
	char path[64], *text = NULL, *line;

	out[0] = 0;
	snprintf(path, sizeof(path), "/proc/%s/cgroup", pid);
	if (nw_read_file(path, &text, 65536))
		return;
	for (line = text; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
		if (!strncmp(line, "0::", 3)) {
			snprintf(out, size, "%.*s", (int)strcspn(line + 3, "\n"), line + 3);
			break;
		}
	free(text);
}

/* A running netwardd whose cgroup is `cg` or below it: it would be killed
 * when it reverts or restores a change. Its pid, or 0. */
static long netwardd_inside(const char *cg, char *where, size_t size)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	long found = 0;

	if (!d)
		return 0;
	while (!found && (de = readdir(d))) {
		char path[64], *comm = NULL;

		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		snprintf(path, sizeof(path), "/proc/%s/comm", de->d_name);
		if (nw_read_file(path, &comm, 64) == 0 && !strcmp(comm, "netwardd\n")) {
			proc_cgroup(de->d_name, where, size);
			if (where[0] && path_within(where, cg))
				found = strtol(de->d_name, NULL, 10);
		}
		free(comm);
	}
	closedir(d);
	return found;
}

struct target {
	uint64_t id;
	char path[PATH_MAX];	/* relative to the mount, "/..." */
	bool gone;		/* given as an id that names no cgroup (del only) */
};

/* --cgroup PATH|ID -> target. A path must exist; an id must name a cgroup
 * unless may_be_gone (del: an entry outlives its cgroup). */
static int resolve(const char *mount, const char *verb, bool may_be_gone, struct target *t)
{
	uint64_t v;
	int r;

	memset(t, 0, sizeof(*t));
	if (!arg.cgroup)
		return usage_error("quarantine %s: --cgroup PATH|ID is required", verb);
	if (nw_parse_u64(arg.cgroup, 1, UINT64_MAX, &v) == 0) {
		t->id = v;
		if (nw_cgroup_path_from_id(mount, v, t->path, sizeof(t->path)) < 0) {
			if (!may_be_gone) {
				fprintf(stderr, "netwardctl: quarantine %s: --cgroup %s: no cgroup has "
					"that id under %s\n", verb, arg.cgroup, mount);
				return EXIT_USAGE;
			}
			t->gone = true;
			snprintf(t->path, sizeof(t->path), "(gone)");
		}
		return 0;
	}
	if ((r = nw_cgroup_parse_arg(mount, arg.cgroup, &t->id))) {
		fprintf(stderr, "netwardctl: quarantine %s: --cgroup \"%s\": %s under %s\n", verb,
			arg.cgroup, r == -ENOENT ? "no such cgroup" : strerror(-r), mount);
		return EXIT_USAGE;
	}
	if (nw_cgroup_path_from_id(mount, t->id, t->path, sizeof(t->path)) < 0)
		snprintf(t->path, sizeof(t->path), "%s", arg.cgroup);
	return 0;
}

static int quarantine_add(const char *mount)
{
	char daemon_cg[PATH_MAX], self_cg[PATH_MAX], pid[16];
	struct target t;
	uint64_t root = 0;
	long dpid;
	int fd, rc;

	if ((rc = resolve(mount, "add", false, &t)))
		return rc;
	nw_cgroup_id(mount, &root);
	if (t.id == root || !strcmp(t.path, "/")) {
		fprintf(stderr, "netwardctl: quarantine add: refusing to quarantine the cgroup2 "
			"root (%s, id %llu): every process on the host would lose its network "
			"configuration writes, netwardd's own included\n", mount,
			(unsigned long long)t.id);
		return EXIT_USAGE;
	}
	if ((dpid = netwardd_inside(t.path, daemon_cg, sizeof(daemon_cg)))) {
		fprintf(stderr, "netwardctl: quarantine add: refusing to quarantine %s: netwardd "
			"(pid %ld) runs in %s, within it, and would be killed when it reverts a "
			"change\n", t.path, dpid, daemon_cg);
		return EXIT_USAGE;
	}
	if ((rc = open_pinned("quarantine", &fd)))
		return rc;
	rc = nw_quarantine_add(fd, t.id, NW_QUAR_ACTIVE);
	close(fd);
	if (rc < 0) {
		fprintf(stderr, "netwardctl: quarantine add: %s: %s\n", t.path,
			rc == -E2BIG ? "the quarantine map is full" : strerror(-rc));
		return EXIT_COND;
	}
	if (arg.json) {
		cJSON *o = cJSON_CreateObject();

		cJSON_AddStringToObject(o, "cgroup", t.path);
		cJSON_AddNumberToObject(o, "cgroup_id", (double)t.id);
		cJSON_AddStringToObject(o, "flags", "manual");
		cJSON_AddBoolToObject(o, "existed", rc == 1);
		print_json(o);
		cJSON_Delete(o);
	} else {
		printf("%s %s (id %llu): its network configuration writes are refused\n",
		       rc == 1 ? "already quarantined, now manual:" : "quarantined", t.path,
		       (unsigned long long)t.id);
	}
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	proc_cgroup(pid, self_cg, sizeof(self_cg));
	if (self_cg[0] && path_within(self_cg, t.path))
		fprintf(stderr, "netwardctl: note: this shell's cgroup %s is within it\n", self_cg);
	return 0;
}

static int quarantine_del(const char *mount)
{
	struct target t;
	int fd, rc;

	if ((rc = resolve(mount, "del", true, &t)))
		return rc;
	if ((rc = open_pinned("quarantine", &fd)))
		return rc;
	rc = nw_quarantine_del(fd, t.id);
	close(fd);
	if (rc < 0) {
		fprintf(stderr, "netwardctl: quarantine del: %s: %s\n", t.path, strerror(-rc));
		return EXIT_COND;
	}
	if (rc == 0) {
		fprintf(stderr, "netwardctl: quarantine del: %s (id %llu) is not in quarantine\n",
			t.path, (unsigned long long)t.id);
		return EXIT_COND;
	}
	if (arg.json) {
		cJSON *o = cJSON_CreateObject();

		cJSON_AddStringToObject(o, "cgroup", t.path);
		cJSON_AddNumberToObject(o, "cgroup_id", (double)t.id);
		cJSON_AddBoolToObject(o, "removed", 1);
		print_json(o);
		cJSON_Delete(o);
	} else {
		printf("released %s (id %llu) from quarantine\n", t.path, (unsigned long long)t.id);
	}
	return 0;
}

static int quarantine_list(const char *mount)
{
	struct nw_quarantine_entry *v = NULL;
	struct target only = { 0 };
	cJSON *arr;
	int fd, rc, n;

	if (arg.cgroup && (rc = resolve(mount, "list", true, &only)))
		return rc;
	if ((rc = open_pinned("quarantine", &fd)))
		return rc;
	n = nw_quarantine_list(fd, &v);
	close(fd);
	if (n < 0) {
		fprintf(stderr, "netwardctl: quarantine list: %s\n", strerror(-n));
		return EXIT_NOMAPS;
	}
	arr = cJSON_CreateArray();
	if (!arg.json)
		printf("%-50s %-12s %s\n", "CGROUP", "ID", "FLAGS");
	for (int i = 0; i < n; i++) {
		char path[PATH_MAX];

		if (arg.cgroup && v[i].cgroup_id != only.id)
			continue;
		if (nw_cgroup_path_from_id(mount, v[i].cgroup_id, path, sizeof(path)) < 0)
			snprintf(path, sizeof(path), "(gone)");
		if (arg.json) {
			cJSON *o = cJSON_CreateObject();

			cJSON_AddStringToObject(o, "cgroup", path);
			cJSON_AddNumberToObject(o, "cgroup_id", (double)v[i].cgroup_id);
			cJSON_AddStringToObject(o, "flags", nw_quarantine_origin(v[i].flags));
			cJSON_AddBoolToObject(o, "active", v[i].flags & NW_QUAR_ACTIVE);
			cJSON_AddBoolToObject(o, "auto", v[i].flags & NW_QUAR_AUTO);
			cJSON_AddItemToArray(arr, o);
		} else {
			printf("%-50s %-12llu %s\n", path, (unsigned long long)v[i].cgroup_id,
			       nw_quarantine_origin(v[i].flags));
		}
	}
	if (arg.json)
		print_json(arr);
	else if (!n)
		printf("(no cgroup is in quarantine)\n");
	cJSON_Delete(arr);
	free(v);
	return 0;
}

int verb_quarantine(int argc, char **argv)
{
	const char *sub = argc > 1 ? argv[1] : "list";
	char mount[PATH_MAX];
	int r;

	if (argc > 2)
		return usage_error("quarantine: unexpected argument \"%s\"", argv[2]);
	if (strcmp(sub, "list") && strcmp(sub, "add") && strcmp(sub, "del"))
		return usage_error("quarantine: \"%s\" is not list, add or del", sub);
	if ((r = nw_cgroup2_mount(mount, sizeof(mount)))) {
		fprintf(stderr, "netwardctl: no cgroup2 mount: %s\n", strerror(-r));
		return EXIT_USAGE;
	}
	if (!strcmp(sub, "add"))
		return quarantine_add(mount);
	if (!strcmp(sub, "del"))
		return quarantine_del(mount);
	return quarantine_list(mount);
}
