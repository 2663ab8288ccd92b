// SPDX-License-Identifier: GPL-2.0-only
/*
 * reboot (level 4, off by default): systemd is asked to start
 * reboot.target; netward never calls reboot(2). The reboot budget
 * (reboot_guard.c, recovery.max_reboots within 24 h) is checked first and
 * the reboot is recorded (fsync'ed) before the request: a request that
 * fails or gets no answer still counts, because systemd may have started
 * the reboot anyway, and a budget that cannot be written means no reboot.
 * Without a bus nothing is asked, so nothing is recorded either.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "reboot_guard.h"
#include "steps_impl.h"
#include "sysbus.h"

static int on_started(sd_bus_message *m, void *ud, sd_bus_error *ret_error)
{
	struct step_run *r = ud;

	(void)ret_error;
	if (sd_bus_message_is_method_error(m, NULL)) {
		step_detail(r, "systemd did not start reboot.target: %s (counted against "
			    "recovery.max_reboots)", step_bus_error(m));
		step_complete(r, NW_STEP_FAILED);
		return 0;
	}
	r->out.changes = 1;
	step_detail(r, "reboot.target started");
	step_complete(r, NW_STEP_CHANGED);
	return 0;
}

static void reboot_timeout(struct step_run *r)
{
	step_leftover(r, "systemd did not answer within %u ms (the reboot was counted)",
		      r->timeout_ms);
	step_complete(r, NW_STEP_TIMEOUT);
}

static int reboot_start(struct step_run *r)
{
	const char *dir = r->s->env.state_dir;
	unsigned max = r->cfg.max_reboots, count = 0;
	time_t now = time(NULL);
	int err;

	if (!dir) {
		step_detail(r, "no state directory: the reboot budget cannot be kept");
		step_complete(r, NW_STEP_FAILED);
		return 0;
	}
	if ((err = nw_reboot_guard_count(dir, now, &count)) < 0) {
		step_detail(r, "reading the reboot budget in %s: %s", dir, strerror(-err));
		step_complete(r, NW_STEP_FAILED);
		return 0;
	}
	if (count >= max) {
		step_detail(r, "max_reboots (%u) reached within 24 h", max);
		step_complete(r, NW_STEP_SKIPPED);
		return 0;
	}
	if (r->dry_run) {
		step_detail(r, "would start reboot.target (reboot %u of at most %u within 24 h)",
			    count + 1, max);
		step_complete(r, NW_STEP_DRY_RUN);
		return 0;
	}
	if (!r->bus) {
		step_detail(r, "no system bus: cannot ask systemd to reboot");
		step_complete(r, NW_STEP_FAILED);
		return 0;
	}
	err = nw_reboot_guard_take(dir, now, max);
	if (err == -EDQUOT) {
		step_detail(r, "max_reboots (%u) reached within 24 h", max);
		step_complete(r, NW_STEP_SKIPPED);
		return 0;
	}
	if (err < 0) {
		step_detail(r, "cannot record the reboot in %s/%s: %s (not rebooting)", dir,
			    NW_REBOOTS_FILE, strerror(-err));
		step_complete(r, NW_STEP_FAILED);
		return 0;
	}
	err = step_bus_call(r, on_started, r, NW_BUS_SYSTEMD, "/org/freedesktop/systemd1",
			    "org.freedesktop.systemd1.Manager", "StartUnit", "ss", "reboot.target",
			    "replace-irreversibly");
	if (err < 0)
		step_detail(r, "asking systemd to reboot: %s (counted against "
			    "recovery.max_reboots)", strerror(-err));
	return err;
}

const struct step_impl nw_step_reboot_impl = {
	.start = reboot_start,
	.timeout = reboot_timeout,
};
