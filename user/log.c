// SPDX-License-Identifier: GPL-2.0-only
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include <systemd/sd-journal.h>

#include "log.h"

static const char *log_ident = "netward";
static int log_level = LOG_INFO;
static int log_journal;

static const char *const level_names[] = {
	[LOG_ERR] = "err",     [LOG_WARNING] = "warning", [LOG_NOTICE] = "notice",
	[LOG_INFO] = "info",   [LOG_DEBUG] = "debug",
};

/* The journal is ours when stderr is the stream systemd handed us. */
static int stderr_is_journal(void)
{
	const char *e = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2)
		return 0;
	if (fstat(STDERR_FILENO, &st) < 0)
		return 0;
	return st.st_dev == dev && st.st_ino == ino;
}

void nw_log_init(const char *ident)
{
	log_ident = ident;
	log_journal = stderr_is_journal();
}

void nw_log_set_level(int prio) { log_level = prio; }
int nw_log_get_level(void) { return log_level; }
int nw_log_to_journal(void) { return log_journal; }

int nw_log_level_parse(const char *name)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++)
		if (level_names[i] && !strcmp(level_names[i], name))
			return (int)i;
	return -EINVAL;
}

const char *nw_log_level_name(int prio)
{
	if (prio < 0 || prio > LOG_DEBUG || !level_names[prio])
		return "?";
	return level_names[prio];
}

static void log_message(int prio, const char *msg, const char *const *fields)
{
	if (prio > log_level)
		return;
	if (log_journal) {
		struct iovec iov[40];
		char *bufs[40];
		int n = 0;

		if (asprintf(&bufs[n], "MESSAGE=%s", msg) < 0)
			goto stderr_out;
		n++;
		if (asprintf(&bufs[n], "PRIORITY=%d", prio) < 0)
			goto free_out;
		n++;
		if (asprintf(&bufs[n], "SYSLOG_IDENTIFIER=%s", log_ident) < 0)
			goto free_out;
		n++;
		for (; fields && *fields && n < 40; fields++, n++)
			if (!(bufs[n] = strdup(*fields)))
				goto free_out;
		for (int i = 0; i < n; i++) {
			iov[i].iov_base = bufs[i];
			iov[i].iov_len = strlen(bufs[i]);
		}
		/* a failing journal must never stop the guard: fall back */
		if (sd_journal_sendv(iov, n) < 0)
			fprintf(stderr, "%s: %s\n", log_ident, msg);
free_out:
		for (int i = 0; i < n; i++)
			free(bufs[i]);
		return;
	}
stderr_out:
	fprintf(stderr, "%s: %s\n", log_ident, msg);
}

void nw_log(int prio, const char *fmt, ...)
{
	char buf[2048];
	va_list ap;

	if (prio > log_level)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	log_message(prio, buf, NULL);
}

void nw_log_fields(int prio, const char *message, const char *const *fields)
{
	log_message(prio, message, fields);
}
