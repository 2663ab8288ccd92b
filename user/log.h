/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef NETWARD_LOG_H
#define NETWARD_LOG_H

#include <syslog.h>

/* Logs to journald with structured fields when stderr is connected to the
 * journal (JOURNAL_STREAM), to stderr otherwise. */
void nw_log_init(const char *ident);
void nw_log_set_level(int prio);
int nw_log_get_level(void);
/* "err", "warning", "notice", "info", "debug" -> LOG_*; -EINVAL otherwise */
int nw_log_level_parse(const char *name);
const char *nw_log_level_name(int prio);
int nw_log_to_journal(void);

void nw_log(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* One event: MESSAGE plus NETWARD_* fields (name=value strings, NULL-ended). */
void nw_log_fields(int prio, const char *message, const char *const *fields);

#define log_err(...) nw_log(LOG_ERR, __VA_ARGS__)
#define log_warn(...) nw_log(LOG_WARNING, __VA_ARGS__)
#define log_notice(...) nw_log(LOG_NOTICE, __VA_ARGS__)
#define log_info(...) nw_log(LOG_INFO, __VA_ARGS__)
#define log_debug(...) nw_log(LOG_DEBUG, __VA_ARGS__)

#endif
