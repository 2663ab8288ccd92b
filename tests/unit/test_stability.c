// SPDX-License-Identifier: GPL-2.0-only
/* Unit tests for the stability barrier (wait-stable) on a real sd-event
 * loop: changes are fed by the test (directly or by a timer that "churns"
 * every few ms), the loop runs with sd_event_run, times are CLOCK_MONOTONIC.
 * An answer must never come before its window is over (exact), and soon
 * after it (bounds generous enough for a loaded or sanitized build). */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>
#include <systemd/sd-event.h>

#include "stability.h"
#include "util.h"

#define MS 1000000ull
#define LATE (40 * MS)		/* how late an answer may be in these tests */

static uint64_t now(void)
{
	return nw_now_ns(CLOCK_MONOTONIC);
}

struct answer {
	int calls;
	bool stable;
	uint64_t waited_ns, quiet_ns, at_ns;	/* at: when the callback ran */
};

static void on_answer(void *ud, bool stable, uint64_t waited_ns, uint64_t quiet_ns)
{
	struct answer *a = ud;

	a->calls++;
	a->stable = stable;
	a->waited_ns = waited_ns;
	a->quiet_ns = quiet_ns;
	a->at_ns = now();
}

/* runs the loop until *flag or max_ns passed */
static void run_until(sd_event *e, const int *flag, uint64_t max_ns)
{
	uint64_t end = now() + max_ns;

	while (!*flag && now() < end)
		assert_true(sd_event_run(e, 5000) >= 0);
}

static void run_for(sd_event *e, uint64_t ns)
{
	static const int never;

	run_until(e, &never, ns);
}

/* a timer calling nw_stability_changed every period, count times */
struct churn {
	struct nw_stability *s;
	sd_event_source *src;
	uint64_t period_ns;
	int left;
	uint64_t last_ns;
	int done;
};

static int on_churn(sd_event_source *src, uint64_t usec, void *ud)
{
	struct churn *c = ud;
	(void)usec;

	nw_stability_changed(c->s);
	c->last_ns = now();
	if (--c->left <= 0) {
		c->done = 1;
		return sd_event_source_set_enabled(src, SD_EVENT_OFF);
	}
	sd_event_source_set_time_relative(src, c->period_ns / 1000);
	return sd_event_source_set_enabled(src, SD_EVENT_ONESHOT);
}

static void churn_start(sd_event *e, struct churn *c, struct nw_stability *s, uint64_t period,
			int count)
{
	memset(c, 0, sizeof(*c));
	c->s = s;
	c->period_ns = period;
	c->left = count;
	nw_stability_changed(s);	/* the first change now */
	c->last_ns = now();
	assert_true(sd_event_add_time_relative(e, &c->src, CLOCK_MONOTONIC, period / 1000, 1,
					       on_churn, c) >= 0);
}

struct fixture {
	sd_event *e;
	struct nw_stability *s;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	assert_true(sd_event_new(&f->e) >= 0);
	/* started a second ago: quiet unless a test changes something */
	assert_int_equal(nw_stability_new(&f->s, f->e, now() - 1000 * MS), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	nw_stability_free(f->s);
	sd_event_unref(f->e);
	free(f);
	return 0;
}

static void test_idle_answers_without_waiting(void **state)
{
	struct fixture *f = *state;
	struct answer a = { 0 };
	struct nw_stability_waiter *w = NULL;
	uint64_t t0 = now();

	assert_int_equal(nw_stability_wait(f->s, 500 * MS, NW_STABILITY_NO_TIMEOUT, on_answer, &a,
					   &w), 0);
	assert_non_null(w);
	assert_int_equal(a.calls, 0);		/* never from within wait */
	assert_int_equal(nw_stability_waiters(f->s), 1);
	run_until(f->e, &a.calls, 1000 * MS);
	assert_int_equal(a.calls, 1);
	assert_true(a.stable);
	assert_true(a.at_ns - t0 < 20 * MS);
	assert_true(a.waited_ns < 20 * MS);
	assert_true(a.quiet_ns >= 1000 * MS);
	assert_int_equal(nw_stability_waiters(f->s), 0);
	run_for(f->e, 10 * MS);
	assert_int_equal(a.calls, 1);		/* once */
}

static void test_start_counts_as_a_change(void **state)
{
	struct fixture *f = *state;
	struct nw_stability *s;
	struct answer a = { 0 };
	uint64_t t0 = now();

	assert_int_equal(nw_stability_new(&s, f->e, t0), 0);
	assert_int_equal(nw_stability_wait(s, 60 * MS, NW_STABILITY_NO_TIMEOUT, on_answer, &a,
					   NULL), 0);
	run_until(f->e, &a.calls, 1000 * MS);
	assert_int_equal(a.calls, 1);
	assert_true(a.stable);
	assert_true(a.at_ns >= t0 + 60 * MS);
	assert_true(a.at_ns < t0 + 60 * MS + LATE);
	assert_true(a.quiet_ns >= 60 * MS);
	nw_stability_free(s);
}

static void test_answers_only_after_the_window(void **state)
{
	struct fixture *f = *state;
	struct answer a = { 0 };
	uint64_t t_change;

	nw_stability_changed(f->s);
	t_change = now();
	assert_int_equal(nw_stability_wait(f->s, 80 * MS, NW_STABILITY_NO_TIMEOUT, on_answer, &a,
					   NULL), 0);
	run_for(f->e, 40 * MS);
	assert_int_equal(a.calls, 0);
	run_until(f->e, &a.calls, 1000 * MS);
	assert_int_equal(a.calls, 1);
	assert_true(a.stable);
	assert_true(a.at_ns >= t_change + 80 * MS);
	assert_true(a.at_ns < t_change + 80 * MS + LATE);
	assert_true(a.quiet_ns >= 80 * MS && a.quiet_ns < 80 * MS + LATE);
	assert_int_equal(nw_stability_changes(f->s), 1);
}

static void test_a_change_rearms(void **state)
{
	struct fixture *f = *state;
	struct answer a = { 0 };
	uint64_t t_first = now(), t_second;

	nw_stability_changed(f->s);
	assert_int_equal(nw_stability_wait(f->s, 60 * MS, NW_STABILITY_NO_TIMEOUT, on_answer, &a,
					   NULL), 0);
	run_for(f->e, 40 * MS);
	nw_stability_changed(f->s);		/* 20 ms before the first window ends */
	t_second = now();
	run_for(f->e, 40 * MS);			/* past the first window */
	assert_int_equal(a.calls, 0);
	run_until(f->e, &a.calls, 1000 * MS);
	assert_int_equal(a.calls, 1);
	assert_true(a.stable);
	assert_true(a.at_ns >= t_second + 60 * MS);
	assert_true(a.at_ns < t_second + 60 * MS + LATE);
	assert_true(a.waited_ns >= a.at_ns - t_first - 5 * MS);
}

static void test_churn_then_quiet(void **state)
{
	struct fixture *f = *state;
	struct answer a = { 0 };
	struct churn c;

	churn_start(f->e, &c, f->s, 5 * MS, 30);	/* ~150 ms of churn */
	assert_int_equal(nw_stability_wait(f->s, 50 * MS, NW_STABILITY_NO_TIMEOUT, on_answer, &a,
					   NULL), 0);
	run_until(f->e, &a.calls, 2000 * MS);
	assert_int_equal(a.calls, 1);
	assert_true(c.done);
	assert_true(a.stable);
	assert_true(a.at_ns >= c.last_ns + 50 * MS);
	assert_true(a.at_ns < c.last_ns + 50 * MS + LATE);
	assert_int_equal(nw_stability_changes(f->s), 31);
	sd_event_source_unref(c.src);
}

static void test_timeout_while_churning(void **state)
{
	struct fixture *f = *state;
	struct answer a = { 0 };
	struct churn c;
	uint64_t t0;

	churn_start(f->e, &c, f->s, 5 * MS, 1000);	/* longer than the test */
	t0 = now();
	assert_int_equal(nw_stability_wait(f->s, 50 * MS, 120 * MS, on_answer, &a, NULL), 0);
	run_until(f->e, &a.calls, 2000 * MS);
	assert_int_equal(a.calls, 1);
	assert_false(a.stable);
	assert_true(a.at_ns >= t0 + 120 * MS);
	assert_true(a.at_ns < t0 + 120 * MS + LATE);
	assert_true(a.waited_ns >= 120 * MS);
	assert_true(a.quiet_ns < 50 * MS);
	assert_false(c.done);
	sd_event_source_unref(c.src);
}

static void test_timeout_shorter_than_window(void **state)
{
	struct fixture *f = *state;
	struct answer idle = { 0 }, busy = { 0 }, zero = { 0 };
	uint64_t t0;

	/* quiet already: yes, at once, whatever the timeout */
	assert_int_equal(nw_stability_wait(f->s, 500 * MS, 10 * MS, on_answer, &idle, NULL), 0);
	run_until(f->e, &idle.calls, 1000 * MS);
	assert_true(idle.calls == 1 && idle.stable);
	/* not quiet: no, at the timeout, not at the end of the window */
	nw_stability_changed(f->s);
	t0 = now();
	assert_int_equal(nw_stability_wait(f->s, 500 * MS, 30 * MS, on_answer, &busy, NULL), 0);
	assert_int_equal(nw_stability_wait(f->s, 500 * MS, 0, on_answer, &zero, NULL), 0);
	run_until(f->e, &zero.calls, 1000 * MS);
	assert_true(zero.calls == 1 && !zero.stable);
	assert_true(zero.at_ns < t0 + 20 * MS);
	assert_int_equal(busy.calls, 0);
	run_until(f->e, &busy.calls, 1000 * MS);
	assert_true(busy.calls == 1 && !busy.stable);
	assert_true(busy.at_ns >= t0 + 30 * MS && busy.at_ns < t0 + 30 * MS + LATE);
}

static void test_many_waiters(void **state)
{
	struct fixture *f = *state;
	enum { N = 40 };
	struct answer a[N];
	uint64_t t_change;
	int all = 0;

	memset(a, 0, sizeof(a));
	nw_stability_changed(f->s);
	t_change = now();
	for (int i = 0; i < N; i++) {
		/* windows 20..95 ms; every 4th times out at 30 ms first */
		uint64_t quiet = (20 + (uint64_t)(i % 16) * 5) * MS;
		uint64_t timeout = i % 4 == 3 ? 30 * MS : NW_STABILITY_NO_TIMEOUT;

		assert_int_equal(nw_stability_wait(f->s, quiet, timeout, on_answer, &a[i], NULL), 0);
	}
	assert_int_equal(nw_stability_waiters(f->s), N);
	while (!all && now() < t_change + 2000 * MS) {
		assert_true(sd_event_run(f->e, 5000) >= 0);
		all = 1;
		for (int i = 0; i < N; i++)
			all &= a[i].calls == 1;
	}
	assert_true(all);
	for (int i = 0; i < N; i++) {
		uint64_t quiet = (20 + (uint64_t)(i % 16) * 5) * MS;
		bool times_out = i % 4 == 3 && quiet > 30 * MS;

		assert_int_equal(a[i].calls, 1);
		assert_int_equal(a[i].stable, !times_out);
		if (times_out) {
			assert_true(a[i].waited_ns >= 30 * MS && a[i].waited_ns < 30 * MS + LATE);
		} else {
			assert_true(a[i].at_ns >= t_change + quiet);
			assert_true(a[i].at_ns < t_change + quiet + LATE);
		}
	}
	assert_int_equal(nw_stability_waiters(f->s), 0);
}

static void test_cancel(void **state)
{
	struct fixture *f = *state;
	struct answer a = { 0 }, b = { 0 }, c = { 0 };
	struct nw_stability_waiter *wa, *wb, *wc;
	cJSON *st;

	nw_stability_changed(f->s);
	assert_int_equal(nw_stability_wait(f->s, 30 * MS, NW_STABILITY_NO_TIMEOUT, on_answer, &a,
					   &wa), 0);
	assert_int_equal(nw_stability_wait(f->s, 30 * MS, NW_STABILITY_NO_TIMEOUT, on_answer, &b,
					   &wb), 0);
	assert_int_equal(nw_stability_wait(f->s, 30 * MS, NW_STABILITY_NO_TIMEOUT, on_answer, &c,
					   &wc), 0);
	/* the middle one of the list, then the first one */
	nw_stability_cancel(wb);
	nw_stability_cancel(wc);
	nw_stability_cancel(NULL);
	assert_int_equal(nw_stability_waiters(f->s), 1);
	run_for(f->e, 80 * MS);
	assert_int_equal(a.calls, 1);
	assert_int_equal(b.calls, 0);
	assert_int_equal(c.calls, 0);
	(void)wa;
	st = cJSON_CreateObject();
	nw_stability_status(f->s, st);
	assert_int_equal((int)cJSON_GetObjectItem(st, "cancelled")->valuedouble, 2);
	assert_int_equal((int)cJSON_GetObjectItem(st, "answered_stable")->valuedouble, 1);
	assert_int_equal((int)cJSON_GetObjectItem(st, "waiters")->valuedouble, 0);
	cJSON_Delete(st);
}

/* a waiter answered may wait again from its callback */
struct again {
	struct nw_stability *s;
	struct answer second;
	int first_calls;
};

static void on_first(void *ud, bool stable, uint64_t waited_ns, uint64_t quiet_ns)
{
	struct again *g = ud;
	(void)stable;
	(void)waited_ns;
	(void)quiet_ns;

	g->first_calls++;
	nw_stability_changed(g->s);
	assert_int_equal(nw_stability_wait(g->s, 20 * MS, NW_STABILITY_NO_TIMEOUT, on_answer,
					   &g->second, NULL), 0);
}

static void test_wait_again_from_callback(void **state)
{
	struct fixture *f = *state;
	struct again g = { .s = f->s };

	assert_int_equal(nw_stability_wait(f->s, 10 * MS, NW_STABILITY_NO_TIMEOUT, on_first, &g,
					   NULL), 0);
	run_until(f->e, &g.second.calls, 1000 * MS);
	assert_int_equal(g.first_calls, 1);
	assert_int_equal(g.second.calls, 1);
	assert_true(g.second.stable && g.second.quiet_ns >= 20 * MS);
}

static void test_free_with_waiters(void **state)
{
	struct fixture *f = *state;
	struct nw_stability *s;
	struct answer a = { 0 };

	assert_int_equal(nw_stability_new(&s, f->e, now()), 0);
	assert_int_equal(nw_stability_wait(s, 10 * MS, NW_STABILITY_NO_TIMEOUT, on_answer, &a,
					   NULL), 0);
	assert_int_equal(nw_stability_wait(s, 10 * MS, 5 * MS, on_answer, &a, NULL), 0);
	nw_stability_free(s);		/* no callback, nothing left armed */
	run_for(f->e, 30 * MS);
	assert_int_equal(a.calls, 0);
	nw_stability_free(NULL);
}

static void test_bad_arguments_and_status(void **state)
{
	struct fixture *f = *state;
	struct answer a = { 0 };
	cJSON *st = cJSON_CreateObject();

	assert_int_equal(nw_stability_wait(f->s, 0, 10 * MS, on_answer, &a, NULL), -EINVAL);
	assert_int_equal(nw_stability_wait(f->s, 10 * MS, 10 * MS, NULL, &a, NULL), -EINVAL);
	assert_int_equal(nw_stability_waiters(f->s), 0);
	nw_stability_changed(f->s);
	nw_stability_changed(f->s);
	nw_stability_status(f->s, st);
	assert_int_equal((int)cJSON_GetObjectItem(st, "changes")->valuedouble, 2);
	assert_true(cJSON_GetObjectItem(st, "last_change_ago_ms")->valuedouble < 50);
	assert_non_null(cJSON_GetObjectItem(st, "answered_timeout"));
	cJSON_Delete(st);
	/* a change time older than the last one does not move it back */
	nw_stability_changed_at(f->s, now() - 5000 * MS);
	assert_true(nw_stability_quiet_ns(f->s) < 50 * MS);
	assert_int_equal(nw_stability_changes(f->s), 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_idle_answers_without_waiting, setup, teardown),
		cmocka_unit_test_setup_teardown(test_start_counts_as_a_change, setup, teardown),
		cmocka_unit_test_setup_teardown(test_answers_only_after_the_window, setup, teardown),
		cmocka_unit_test_setup_teardown(test_a_change_rearms, setup, teardown),
		cmocka_unit_test_setup_teardown(test_churn_then_quiet, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timeout_while_churning, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timeout_shorter_than_window, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_waiters, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cancel, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wait_again_from_callback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_free_with_waiters, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_arguments_and_status, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
