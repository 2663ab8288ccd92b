/* SPDX-License-Identifier: GPL-2.0-only */
/* The reboot budget of recovery level 4: every reboot netward asks for is
 * recorded (fsync'ed) in state_dir/reboots before it is asked for, so a
 * reboot loop is impossible: at most max reboots within any 24 hours. */
#ifndef NETWARD_REBOOT_GUARD_H
#define NETWARD_REBOOT_GUARD_H

#include <time.h>

#define NW_REBOOTS_FILE "reboots"
#define NW_REBOOT_WINDOW_S (24 * 3600)

/* Reboots recorded within the 24 h before now. A missing file is 0;
 * unparsable lines are ignored (and dropped at the next take). */
int nw_reboot_guard_count(const char *state_dir, time_t now, unsigned *count);

/* Records a reboot at now when fewer than max fall within 24 h: 0, or
 * -EDQUOT when the budget is spent, -errno when the record cannot be
 * written (then no reboot may be asked for). Old entries are pruned. */
int nw_reboot_guard_take(const char *state_dir, time_t now, unsigned max);

#endif
