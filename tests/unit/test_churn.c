// SPDX-License-Identifier: GPL-2.0-only
/* The churn window: storms at the threshold, per-actor counts, expiry. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "churn.h"

#define MS 1000000ull

static struct nw_rtnl_request req(uint32_t tgid, uint64_t cg, uint16_t type, const char *comm)
{
	struct nw_rtnl_request r;

	memset(&r, 0, sizeof(r));
	r.hdr.tgid = tgid;
	r.hdr.pid = tgid;
	r.hdr.uid = 1000 + tgid;
	r.hdr.cgroup_id = cg;
	strncpy(r.hdr.comm, comm, sizeof(r.hdr.comm) - 1);
	r.nlmsg_type = type;
	return r;
}

static void test_storm_at_threshold_once(void **state)
{
	struct nw_churn_window *w;
	struct nw_rtnl_request r = req(1, 10, 32, "ip");
	(void)state;

	assert_int_equal(nw_churn_new(&w, 5, 1000), 0);
	for (int i = 0; i < 4; i++)
		assert_int_equal(nw_churn_add(w, &r, (uint64_t)i * MS), 0);
	assert_false(nw_churn_in_storm(w));
	assert_int_equal(nw_churn_add(w, &r, 4 * MS), 1);	/* the 5th starts it */
	assert_true(nw_churn_in_storm(w));
	for (int i = 5; i < 50; i++)	/* one event per storm, not one per request */
		assert_int_equal(nw_churn_add(w, &r, (uint64_t)i * MS), 0);
	assert_int_equal(nw_churn_count(w, 49 * MS), 50);
	nw_churn_free(w);
}

static void test_window_expires_and_storm_ends(void **state)
{
	struct nw_churn_window *w;
	struct nw_rtnl_request r = req(1, 10, 24, "ip");
	(void)state;

	assert_int_equal(nw_churn_new(&w, 4, 100), 0);
	for (int i = 0; i < 4; i++)
		nw_churn_add(w, &r, (uint64_t)i * MS);
	assert_true(nw_churn_in_storm(w));
	/* 100 ms later the first ones are out; below half the threshold: over */
	assert_int_equal(nw_churn_count(w, 102 * MS), 1);
	assert_false(nw_churn_in_storm(w));
	assert_int_equal(nw_churn_count(w, 200 * MS), 0);
	/* spread out requests never make a storm */
	for (int i = 0; i < 40; i++)
		assert_int_equal(nw_churn_add(w, &r, 300 * MS + (uint64_t)i * 40 * MS), 0);
	/* a new burst is a new storm */
	for (int i = 0; i < 3; i++)
		nw_churn_add(w, &r, 5000 * MS + (uint64_t)i);
	assert_int_equal(nw_churn_add(w, &r, 5000 * MS + 3), 1);
	nw_churn_free(w);
}

/* threshold 1: every request is a storm, and it ends when the window empties */
static void test_threshold_one_storm_ends(void **state)
{
	struct nw_churn_window *w;
	struct nw_rtnl_request r = req(1, 10, 32, "ip");
	(void)state;

	assert_int_equal(nw_churn_new(&w, 1, 100), 0);
	assert_int_equal(nw_churn_add(w, &r, 0), 1);
	assert_int_equal(nw_churn_add(w, &r, 1 * MS), 0);
	assert_int_equal(nw_churn_count(w, 500 * MS), 0);
	assert_false(nw_churn_in_storm(w));
	assert_int_equal(nw_churn_add(w, &r, 600 * MS), 1);	/* a new episode */
	nw_churn_free(w);
}

static void test_actors_counted_by_kind_and_ranked(void **state)
{
	struct nw_churn_actor top[NW_CHURN_TOP];
	struct nw_churn_window *w;
	uint64_t t = 0;
	(void)state;

	assert_int_equal(nw_churn_new(&w, 1000, 10000), 0);
	/* eight workers, worker k does k+1 rule ops and 2 route ops */
	for (uint32_t k = 0; k < 8; k++) {
		struct nw_rtnl_request rule = req(100 + k, 500 + k, 32, "worker");
		struct nw_rtnl_request route = req(100 + k, 500 + k, 24, "worker");

		for (uint32_t i = 0; i <= k; i++)
			nw_churn_add(w, &rule, t++);
		nw_churn_add(w, &route, t++);
		nw_churn_add(w, &route, t++);
	}
	assert_int_equal(nw_churn_count(w, t), 8 * 2 + 36);
	assert_int_equal(nw_churn_top(w, top, NW_CHURN_TOP), NW_CHURN_TOP);
	for (uint32_t i = 0; i < NW_CHURN_TOP; i++) {
		assert_int_equal(top[i].tgid, 107 - i);		/* most first */
		assert_int_equal(top[i].cgroup_id, 507 - i);
		assert_int_equal(top[i].rule, 8 - i);
		assert_int_equal(top[i].route, 2);
		assert_int_equal(top[i].uid, 1107 - i);
		assert_string_equal(top[i].comm, "worker");
	}
	/* the same command in another cgroup is another actor */
	{
		struct nw_rtnl_request moved = req(100, 999, 16, "worker");

		moved.hdr.uid = 1100;
		nw_churn_add(w, &moved, t++);
		assert_int_equal(nw_churn_top(w, top, 1), 1);
		assert_int_equal(top[0].tgid, 107);
	}
	/* a script running `ip` again and again is one actor, latest pid */
	for (uint32_t i = 0; i < 20; i++) {
		struct nw_rtnl_request ip = req(2000 + i, 777, 32, "ip");

		ip.hdr.uid = 0;
		nw_churn_add(w, &ip, t++);
	}
	assert_int_equal(nw_churn_top(w, top, 1), 1);
	assert_int_equal(top[0].cgroup_id, 777);
	assert_int_equal(top[0].rule, 20);
	assert_int_equal(top[0].tgid, 2019);
	nw_churn_free(w);
}

static void test_storm_json_names_actors(void **state)
{
	struct nw_churn_window *w;
	struct nw_rtnl_request a = req(7, 70, 33, "churner"), b = req(8, 80, 20, "dhcp");
	cJSON *ev = cJSON_CreateObject(), *actors;
	(void)state;

	assert_int_equal(nw_churn_new(&w, 4, 1000), 0);
	nw_churn_add(w, &b, 1);
	nw_churn_add(w, &a, 2);
	nw_churn_add(w, &a, 3);
	assert_int_equal(nw_churn_add(w, &a, 4), 1);
	nw_churn_storm_json(w, ev);
	assert_int_equal(cJSON_GetObjectItem(ev, "count")->valueint, 4);
	assert_int_equal(cJSON_GetObjectItem(ev, "threshold")->valueint, 4);
	actors = cJSON_GetObjectItem(ev, "actors");
	assert_int_equal(cJSON_GetArraySize(actors), 2);
	assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(actors, 0), "comm")->valuestring,
			    "churner");
	assert_int_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(actors, 0), "rule")->valueint, 3);
	assert_int_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(actors, 1), "addr")->valueint, 1);
	cJSON_Delete(ev);
	nw_churn_free(w);
}

static void test_many_actors_slots_reused(void **state)
{
	struct nw_churn_window *w;
	(void)state;

	assert_int_equal(nw_churn_new(&w, 1000000, 10), 0);
	/* 10000 short-lived actors, each alone in its window */
	for (uint32_t i = 0; i < 10000; i++) {
		struct nw_rtnl_request r = req(i, i, 24, "x");

		nw_churn_add(w, &r, (uint64_t)i * 20 * MS);
		assert_int_equal(nw_churn_count(w, (uint64_t)i * 20 * MS), 1);
	}
	nw_churn_free(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_storm_at_threshold_once),
		cmocka_unit_test(test_window_expires_and_storm_ends),
		cmocka_unit_test(test_threshold_one_storm_ends),
		cmocka_unit_test(test_actors_counted_by_kind_and_ranked),
		cmocka_unit_test(test_storm_json_names_actors),
		cmocka_unit_test(test_many_actors_slots_reused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
