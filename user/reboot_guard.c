// SPDX-License-Identifier: GPL-2.0-only
/* The reboot budget: state_dir/reboots, one decimal epoch second per line. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "reboot_guard.h"
#include "util.h"

#define REBOOTS_MAX_SIZE (64 * 1024)

/* A record counts when it falls within the window before now. One later
 * than now means the clock was stepped back since (a board without RTC
 * booting at a fixed date, a wrong clock corrected): it still counts, or a
 * reboot loop would escape the budget, unless it lies more than a whole
 * window ahead (a clock that was far off): such records are dropped. */
static bool recent(uint64_t t, time_t now)
{
	int64_t d = (int64_t)t - (int64_t)now;

	return t <= INT64_MAX && d > -NW_REBOOT_WINDOW_S && d < NW_REBOOT_WINDOW_S;
}

/* The recent records of state_dir/reboots into *times (malloc'ed, may be
 * NULL when there is none); a missing file has none. */
static int load(const char *path, time_t now, uint64_t **times, size_t *n)
{
	char *text = NULL, *line, *save = NULL;
	uint64_t *out = NULL;
	size_t cnt = 0, cap = 0;
	int err;

	*times = NULL;
	*n = 0;
	err = nw_read_file(path, &text, REBOOTS_MAX_SIZE);
	if (err == -ENOENT)
		return 0;
	if (err)
		return err;
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		size_t len = strlen(line);
		uint64_t t;

		while (len && (line[len - 1] == '\r' || line[len - 1] == ' ' ||
			       line[len - 1] == '\t'))
			line[--len] = 0;
		if (nw_parse_u64(line, 0, INT64_MAX, &t) || !recent(t, now))
			continue;
		if (cnt == cap) {
			uint64_t *nb;

			cap = cap ? cap * 2 : 8;
			nb = realloc(out, cap * sizeof(*out));
			if (!nb) {
				err = -ENOMEM;
				goto cleanup;
			}
			out = nb;
		}
		out[cnt++] = t;
	}
	*times = out;
	*n = cnt;
	out = NULL;
cleanup:
	free(out);
	free(text);
	return err;
}

int nw_reboot_guard_count(const char *state_dir, time_t now, unsigned *count)
{
	char path[PATH_MAX];
	uint64_t *times = NULL;
	size_t n = 0;
	int err;

	err = nw_path(path, sizeof(path), "%s/%s", state_dir, NW_REBOOTS_FILE);
	if (err)
		return err;
	err = load(path, now, &times, &n);
	if (err)
		return err;
	free(times);
	*count = n > UINT_MAX ? UINT_MAX : (unsigned)n;
	return 0;
}

int nw_reboot_guard_take(const char *state_dir, time_t now, unsigned max)
{
	char path[PATH_MAX];
	uint64_t *times = NULL;
	char *text = NULL;
	size_t n = 0, len = 0;
	int err;

	if (!max || now < 0)
		return -EDQUOT;
	err = nw_path(path, sizeof(path), "%s/%s", state_dir, NW_REBOOTS_FILE);
	if (err)
		return err;
	err = load(path, now, &times, &n);
	if (err)
		goto cleanup;
	if (n >= max) {
		err = -EDQUOT;
		goto cleanup;
	}

	/* the kept records and now, 20 digits and a newline each at most */
	text = malloc((n + 1) * 21 + 1);
	if (!text) {
		err = -ENOMEM;
		goto cleanup;
	}
	for (size_t i = 0; i < n; i++)
		len += (size_t)sprintf(text + len, "%llu\n", (unsigned long long)times[i]);
	len += (size_t)sprintf(text + len, "%lld\n", (long long)now);

	err = nw_mkdir_p(state_dir, 0755);
	if (err)
		goto cleanup;
	/* the record must be on disk before the reboot is asked for */
	err = nw_write_file_atomic(path, text, len, 0644, true);
cleanup:
	free(text);
	free(times);
	return err;
}
