// SPDX-License-Identifier: GPL-2.0-only
/* Unit tests for user/util.c: time stamps, numbers, paths and files. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <regex.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "util.h"

#define TMPDIR_TEMPLATE "/tmp/nw-test-util.XXXXXX"
#include "tmpdir.h"

#define TS_RE "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{6}Z$"

static void assert_matches(const char *s, const char *re)
{
	regex_t rx;
	int r;

	assert_int_equal(regcomp(&rx, re, REG_EXTENDED | REG_NOSUB), 0);
	r = regexec(&rx, s, 0, NULL, 0);
	regfree(&rx);
	if (r)
		fail_msg("\"%s\" does not match %s", s, re);
}

static void test_format_realtime_epoch(void **state)
{
	char ts[NW_TS_LEN];

	(void)state;
	nw_format_realtime(0, ts);
	assert_string_equal(ts, "1970-01-01T00:00:00.000000Z");
}

static void test_format_realtime_known(void **state)
{
	char ts[NW_TS_LEN];

	(void)state;
	/* 1700000000 s is 2023-11-14 22:13:20 UTC; ns are cut, not rounded */
	nw_format_realtime(1700000000123456789ull, ts);
	assert_string_equal(ts, "2023-11-14T22:13:20.123456Z");
	nw_format_realtime(1700000000999999999ull, ts);
	assert_string_equal(ts, "2023-11-14T22:13:20.999999Z");
	nw_format_realtime(1000, ts);
	assert_string_equal(ts, "1970-01-01T00:00:00.000001Z");
	nw_format_realtime(999, ts);
	assert_string_equal(ts, "1970-01-01T00:00:00.000000Z");
	/* a leap day */
	nw_format_realtime(951782400000000000ull + 86399000001000ull, ts);
	assert_string_equal(ts, "2000-02-29T23:59:59.000001Z");
}

/* "2023-11-14T22:13:20.123456Z" to seconds since the epoch */
static time_t ts_seconds(const char *ts)
{
	struct tm tm = { 0 };
	unsigned usec;

	assert_int_equal(sscanf(ts, "%d-%d-%dT%d:%d:%d.%uZ", &tm.tm_year, &tm.tm_mon,
				&tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &usec), 7);
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return timegm(&tm);
}

static void test_format_boot_ts(void **state)
{
	uint64_t boot = nw_now_ns(CLOCK_BOOTTIME);
	time_t now = time(NULL);
	char ts[NW_TS_LEN];

	(void)state;
	nw_format_boot_ts(boot, ts);
	assert_matches(ts, TS_RE);
	assert_in_range(ts_seconds(ts), now - 2, now + 2);
	/* an event of a minute ago */
	nw_format_boot_ts(boot - 60000000000ull, ts);
	assert_matches(ts, TS_RE);
	assert_in_range(ts_seconds(ts), now - 62, now - 58);
	assert_int_equal(ts_seconds("2023-11-14T22:13:20.123456Z"), 1700000000);
}

static void test_now_ns(void **state)
{
	uint64_t a, b;
	struct timespec ts;

	(void)state;
	a = nw_now_ns(CLOCK_MONOTONIC);
	b = nw_now_ns(CLOCK_MONOTONIC);
	assert_true(a > 0);
	assert_true(b >= a);
	clock_gettime(CLOCK_REALTIME, &ts);
	a = nw_now_ns(CLOCK_REALTIME);
	assert_true(a / 1000000000ull >= (uint64_t)ts.tv_sec);
	assert_true(a / 1000000000ull <= (uint64_t)ts.tv_sec + 1);
}

static void test_self_netns(void **state)
{
	struct stat st;
	uint32_t inum = 0;

	(void)state;
	assert_int_equal(stat("/proc/self/ns/net", &st), 0);
	assert_int_equal(nw_self_netns(&inum), 0);
	assert_int_equal(inum, (uint32_t)st.st_ino);
	assert_true(inum != 0);
}

static void test_parse_u64_ok(void **state)
{
	uint64_t v;

	(void)state;
	v = 99;
	assert_int_equal(nw_parse_u64("0", 0, 65535, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(nw_parse_u64("65535", 0, 65535, &v), 0);
	assert_int_equal(v, 65535);
	assert_int_equal(nw_parse_u64("1", 1, 1, &v), 0);
	assert_int_equal(v, 1);
	assert_int_equal(nw_parse_u64("007", 0, 10, &v), 0);
	assert_int_equal(v, 7);
	assert_int_equal(nw_parse_u64("18446744073709551615", 0, UINT64_MAX, &v), 0);
	assert_true(v == UINT64_MAX);
}

static void test_parse_u64_invalid(void **state)
{
	static const char *const bad[] = {
		"", "-1", "+1", "12x", "x12", "1 ", " 1", " -1", "\t7", "-0", "1.5", "0x10",
		"1e3",
	};
	uint64_t v;

	(void)state;
	for (size_t i = 0; i < NW_ARRAY_SIZE(bad); i++) {
		v = 4242;
		if (nw_parse_u64(bad[i], 0, UINT64_MAX, &v) != -EINVAL)
			fail_msg("\"%s\" was not rejected with -EINVAL", bad[i]);
		assert_int_equal(v, 4242);	/* untouched */
	}
	assert_int_equal(nw_parse_u64(NULL, 0, 10, &v), -EINVAL);
}

static void test_parse_u64_range(void **state)
{
	uint64_t v = 4242;

	(void)state;
	assert_int_equal(nw_parse_u64("65536", 0, 65535, &v), -ERANGE);
	assert_int_equal(nw_parse_u64("0", 1, 65535, &v), -ERANGE);
	assert_int_equal(nw_parse_u64("9", 10, 20, &v), -ERANGE);
	assert_int_equal(nw_parse_u64("21", 10, 20, &v), -ERANGE);
	/* past 2^64 - 1: still a number, out of any range */
	assert_int_equal(nw_parse_u64("18446744073709551616", 0, UINT64_MAX, &v), -ERANGE);
	assert_int_equal(nw_parse_u64("99999999999999999999999", 0, UINT64_MAX, &v), -ERANGE);
	assert_int_equal(v, 4242);
	assert_int_equal(nw_parse_u64("99999999999999999999999x", 0, UINT64_MAX, &v), -EINVAL);
}

static void test_path(void **state)
{
	char buf[8];

	(void)state;
	assert_int_equal(nw_path(buf, sizeof(buf), "%s/%s", "ab", "cd"), 0);
	assert_string_equal(buf, "ab/cd");
	/* 7 characters and the NUL fit exactly */
	assert_int_equal(nw_path(buf, sizeof(buf), "%s", "1234567"), 0);
	assert_string_equal(buf, "1234567");
	assert_int_equal(nw_path(buf, sizeof(buf), "%s", "12345678"), -ENAMETOOLONG);
	assert_string_equal(buf, "1234567");	/* truncated, terminated */
	assert_int_equal(nw_path(buf, sizeof(buf), "/sys/fs/%s", "cgroup"), -ENAMETOOLONG);
}

static void assert_dir(const char *path, mode_t mode)
{
	struct stat st;

	if (stat(path, &st) < 0)
		fail_msg("%s: %s", path, strerror(errno));
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 07777, mode);
}

static void test_mkdir_p(void **state)
{
	const char *dir = *state;
	char p[PATH_MAX], q[PATH_MAX];
	mode_t old = umask(022);

	snprintf(p, sizeof(p), "%s/a/b/c", dir);
	assert_int_equal(nw_mkdir_p(p, 0700), 0);
	assert_dir(p, 0700);
	snprintf(q, sizeof(q), "%s/a", dir);
	assert_dir(q, 0700);
	snprintf(q, sizeof(q), "%s/a/b", dir);
	assert_dir(q, 0700);
	/* idempotent, and existing directories keep their mode */
	assert_int_equal(nw_mkdir_p(p, 0755), 0);
	assert_dir(p, 0700);
	/* a sibling branch, a trailing slash, doubled slashes */
	snprintf(p, sizeof(p), "%s/a/x//y/", dir);
	assert_int_equal(nw_mkdir_p(p, 0750), 0);
	snprintf(q, sizeof(q), "%s/a/x/y", dir);
	assert_dir(q, 0750);
	umask(old);
}

static void test_mkdir_p_errors(void **state)
{
	const char *dir = *state;
	char p[PATH_MAX], *longp;
	size_t n = 5000;

	snprintf(p, sizeof(p), "%s/file", dir);
	write_data(p, "x", 1);
	snprintf(p, sizeof(p), "%s/file/sub", dir);
	assert_int_equal(nw_mkdir_p(p, 0700), -ENOTDIR);

	longp = malloc(n + 1);
	assert_non_null(longp);
	memset(longp, 'a', n);
	longp[0] = '/';
	longp[n] = 0;
	assert_int_equal(nw_mkdir_p(longp, 0700), -ENAMETOOLONG);
	free(longp);
}

static void test_read_file(void **state)
{
	const char *dir = *state;
	char p[PATH_MAX], *text = NULL, *data;
	size_t len = 20000;	/* several reads and reallocations */

	data = malloc(len);
	assert_non_null(data);
	for (size_t i = 0; i < len; i++)
		data[i] = (char)('a' + i % 26);
	snprintf(p, sizeof(p), "%s/data", dir);
	write_data(p, data, len);

	assert_int_equal(nw_read_file(p, &text, len), 0);
	assert_non_null(text);
	assert_int_equal(strlen(text), len);
	assert_memory_equal(text, data, len);
	free(text);
	text = NULL;

	assert_int_equal(nw_read_file(p, &text, 1 << 20), 0);
	assert_memory_equal(text, data, len);
	assert_int_equal(text[len], 0);
	free(text);
	free(data);
}

static void test_read_file_small(void **state)
{
	const char *dir = *state;
	char p[PATH_MAX], *text = NULL;

	snprintf(p, sizeof(p), "%s/small", dir);
	write_data(p, "{\"a\": 1}\n", 9);
	assert_int_equal(nw_read_file(p, &text, 9), 0);
	assert_string_equal(text, "{\"a\": 1}\n");
	free(text);

	snprintf(p, sizeof(p), "%s/empty", dir);
	write_data(p, "", 0);
	text = NULL;
	assert_int_equal(nw_read_file(p, &text, 0), 0);
	assert_non_null(text);
	assert_string_equal(text, "");
	free(text);
}

static void test_read_file_errors(void **state)
{
	const char *dir = *state;
	char p[PATH_MAX], *text = NULL, big[10000];

	snprintf(p, sizeof(p), "%s/big", dir);
	memset(big, 'x', sizeof(big));
	write_data(p, big, sizeof(big));
	assert_int_equal(nw_read_file(p, &text, sizeof(big) - 1), -EFBIG);
	assert_null(text);
	assert_int_equal(nw_read_file(p, &text, 100), -EFBIG);
	assert_null(text);

	snprintf(p, sizeof(p), "%s/small", dir);
	write_data(p, "12345", 5);
	assert_int_equal(nw_read_file(p, &text, 4), -EFBIG);
	assert_null(text);

	snprintf(p, sizeof(p), "%s/missing", dir);
	assert_int_equal(nw_read_file(p, &text, 100), -ENOENT);
	assert_null(text);
	assert_int_equal(nw_read_file(dir, &text, 100), -EISDIR);
	assert_null(text);
}

static void test_read_regular_file(void **state)
{
	const char *dir = *state;
	char p[PATH_MAX], err[128], *text = NULL;
	size_t len = 99;

	snprintf(p, sizeof(p), "%s/state", dir);
	write_data(p, "{}\n", 3);
	assert_int_equal(nw_read_regular_file(p, 3, &text, &len, err, sizeof(err)), 0);
	assert_int_equal(len, 3);
	assert_string_equal(text, "{}\n");
	assert_string_equal(err, "");
	free(text);

	assert_int_equal(nw_read_regular_file(p, 2, &text, &len, err, sizeof(err)), -EFBIG);
	assert_null(text);
	assert_string_equal(err, "3 bytes, at most 2");

	snprintf(p, sizeof(p), "%s/missing", dir);
	assert_int_equal(nw_read_regular_file(p, 100, &text, &len, err, sizeof(err)), -ENOENT);
	assert_string_equal(err, strerror(ENOENT));
	assert_int_equal(nw_read_regular_file(dir, 100, &text, &len, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "not a regular file");
	/* a FIFO: refused, not waited on */
	snprintf(p, sizeof(p), "%s/fifo", dir);
	assert_int_equal(mkfifo(p, 0600), 0);
	assert_int_equal(nw_read_regular_file(p, 100, &text, &len, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "not a regular file");
	assert_null(text);
	assert_int_equal(len, 0);
}

static void test_boot_id(void **state)
{
	char id[NW_BOOT_ID_LEN], small[8] = "x";

	(void)state;
	nw_boot_id(id, sizeof(id));
	if (access("/proc/sys/kernel/random/boot_id", R_OK) == 0)
		assert_true(nw_is_uuid(id));
	/* it does not fit: unknown, never cut */
	nw_boot_id(small, sizeof(small));
	assert_string_equal(small, "");
}

static void test_is_uuid(void **state)
{
	(void)state;
	assert_true(nw_is_uuid("c1744f8b-faa1-48a4-9e5c-02ac921467fa"));
	assert_true(nw_is_uuid("C1744F8B-FAA1-48A4-9E5C-02AC921467FA"));
	assert_false(nw_is_uuid(""));
	assert_false(nw_is_uuid("c1744f8bfaa148a49e5c02ac921467fa"));
	assert_false(nw_is_uuid("c1744f8b-faa1-48a4-9e5c"));
	assert_false(nw_is_uuid("c1744f8b-faa1-48a4-9e5c-02ac921467fa-"));
	assert_false(nw_is_uuid("c1744f8b-faa1-48a4-9e5c-02ac921467fg"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format_realtime_epoch),
		cmocka_unit_test(test_format_realtime_known),
		cmocka_unit_test(test_format_boot_ts),
		cmocka_unit_test(test_now_ns),
		cmocka_unit_test(test_self_netns),
		cmocka_unit_test(test_parse_u64_ok),
		cmocka_unit_test(test_parse_u64_invalid),
		cmocka_unit_test(test_parse_u64_range),
		cmocka_unit_test(test_path),
		TMPDIR_TEST(test_mkdir_p),
		TMPDIR_TEST(test_mkdir_p_errors),
		TMPDIR_TEST(test_read_file),
		TMPDIR_TEST(test_read_file_small),
		TMPDIR_TEST(test_read_file_errors),
		TMPDIR_TEST(test_read_regular_file),
		cmocka_unit_test(test_boot_id),
		cmocka_unit_test(test_is_uuid),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
