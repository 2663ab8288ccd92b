/* SPDX-License-Identifier: GPL-2.0-only */
/* Running a test's sd-event loop against a deadline: a timer on the loop
 * ends the wait, so the loop sleeps until something happens and nothing
 * polls or sleeps. Times are in milliseconds. */
#ifndef NETWARD_TEST_LOOP_H
#define NETWARD_TEST_LOOP_H

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <cmocka.h>
#include <systemd/sd-event.h>

static inline int loop_on_deadline(sd_event_source *s, uint64_t usec, void *ud)
{
	(void)s;
	(void)usec;
	*(bool *)ud = true;
	return 0;
}

/* Runs e until done(arg) holds or max_ms have passed; returns done(arg).
 * done NULL: runs for max_ms. */
static inline bool loop_until(sd_event *e, bool (*done)(const void *arg), const void *arg,
			      uint64_t max_ms)
{
	sd_event_source *t = NULL;
	bool expired = false;

	assert_true(sd_event_add_time_relative(e, &t, CLOCK_MONOTONIC, max_ms * 1000, 1,
					       loop_on_deadline, &expired) >= 0);
	while (!(done && done(arg)) && !expired)
		assert_true(sd_event_run(e, UINT64_MAX) >= 0);
	sd_event_source_disable_unref(t);
	return done && done(arg);
}

/* Runs e for ms (every source keeps being served). */
static inline void loop_for(sd_event *e, uint64_t ms)
{
	loop_until(e, NULL, NULL, ms);
}

/* a counter, int or unsigned, and the count it must reach */
struct loop_count {
	const int *i;
	const unsigned *u;
	long long n;
};

static inline bool loop_count_reached(const void *arg)
{
	const struct loop_count *c = arg;

	return (c->i ? (long long)*c->i : (long long)*c->u) >= c->n;
}

/* Runs e until *v >= n or max_ms have passed; whether *v >= n. */
static inline bool loop_until_count(sd_event *e, const int *v, int n, uint64_t max_ms)
{
	return loop_until(e, loop_count_reached, &(struct loop_count){ .i = v, .n = n }, max_ms);
}

/* The same for an unsigned counter. */
static inline bool loop_until_ucount(sd_event *e, const unsigned *v, unsigned n, uint64_t max_ms)
{
	return loop_until(e, loop_count_reached, &(struct loop_count){ .u = v, .n = n }, max_ms);
}

#endif
