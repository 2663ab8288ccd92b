/* SPDX-License-Identifier: GPL-2.0-only */
/* Assertions on parsing netward.json, for the config tests: a text that
 * parses, and one refused with -EINVAL and exactly the message expected.
 * A refused parse leaves nothing behind: the test defines
 * cfg_assert_empty() with what that means for the sections it tests. */
#ifndef NETWARD_TEST_CFG_ASSERT_H
#define NETWARD_TEST_CFG_ASSERT_H

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "config.h"

/* what a refused parse must have left in cfg: the test's */
static void cfg_assert_empty(const struct nw_cfg *cfg);

static inline void parse_ok(const char *text, struct nw_cfg *cfg)
{
	char err[NW_ERR_LEN] = "";
	int r = nw_cfg_parse(text, cfg, err, sizeof(err));

	if (r)
		fail_msg("%s: returned %d: %s", text, r, err);
}

/* text must be refused with -EINVAL and exactly msg */
static inline void expect_error(const char *text, const char *msg)
{
	char err[NW_ERR_LEN] = "";
	struct nw_cfg cfg;
	int r = nw_cfg_parse(text, &cfg, err, sizeof(err));

	if (r != -EINVAL)
		fail_msg("%s: returned %d, expected -EINVAL (%s)", text, r, msg);
	if (strcmp(err, msg))
		fail_msg("%s:\n  got      \"%s\"\n  expected \"%s\"", text, err, msg);
	cfg_assert_empty(&cfg);
	nw_cfg_free(&cfg);
}

/* the same for the text fmt makes (a section around the part tested) */
static inline void expect_errorf(const char *msg, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static inline void expect_errorf(const char *msg, const char *fmt, ...)
{
	char text[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	expect_error(text, msg);
}

#endif
