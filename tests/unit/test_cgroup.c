// SPDX-License-Identifier: GPL-2.0-only
/* Unit tests for user/cgroup.c: finding the cgroup2 mount, cgroup paths,
 * and ids of cgroups made for the test under the real cgroup2 mount. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
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

#include "cgroup.h"
#include "util.h"

/* --- /proc/self/mountinfo ---------------------------------------------------- */

static const char hybrid[] =
	"22 28 0:21 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw\n"
	"25 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw,errors=remount-ro\n"
	"31 22 0:26 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755\n"
	"32 31 0:27 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10"
	" - cgroup2 cgroup2 rw,nsdelegate\n"
	"33 31 0:28 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:11"
	" - cgroup cgroup rw,xattr,name=systemd\n"
	"36 31 0:31 / /sys/fs/cgroup/net_cls,net_prio rw,nosuid,nodev,noexec,relatime shared:15"
	" - cgroup cgroup rw,net_cls,net_prio\n"
	"37 31 0:32 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:16"
	" - cgroup cgroup rw,memory\n";

static const char unified[] =
	"24 29 0:22 / /sys rw,nosuid,nodev,noexec,relatime shared:2 - sysfs sysfs rw\n"
	"29 1 259:2 / / rw,relatime shared:1 - ext4 /dev/nvme0n1p2 rw\n"
	"35 24 0:30 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4"
	" - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n"
	"36 24 0:31 / /sys/fs/bpf rw,nosuid,nodev,noexec,relatime shared:5 - bpf bpf rw,mode=700\n";

/* v1 only: "cgroup" is not "cgroup2", nor is a source named cgroup2 */
static const char none[] =
	"22 28 0:21 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw\n"
	"31 22 0:26 / /sys/fs/cgroup ro shared:9 - tmpfs cgroup2 ro,mode=755\n"
	"33 31 0:28 / /sys/fs/cgroup/systemd rw shared:11 - cgroup cgroup rw,name=systemd\n"
	"34 31 0:29 / /sys/fs/cgroup/cgroup2 rw shared:12 - cgroup2x none rw\n";

/* several optional fields, none at all, and a root that is not "/" */
static const char optional[] =
	"40 25 0:35 /lxc/c1 /srv/cg rw,relatime shared:20 master:3 propagate_from:2 unbindable"
	" - cgroup cgroup rw,cpu\n"
	"41 25 0:36 /lxc/c1 /run/c1/cgroup rw,relatime shared:21 master:4 propagate_from:4"
	" - cgroup2 cgroup2 rw\n"
	"42 25 0:37 / /second rw - cgroup2 cgroup2 rw\n";

static const char no_optional[] =
	"42 25 0:37 / /mnt/cgroup2 rw - cgroup2 none rw\n";

static int mount_from(const char *text, char *buf, size_t size)
{
	char *copy = strdup(text);
	FILE *f;
	int r;

	assert_non_null(copy);
	f = fmemopen(copy, strlen(copy), "r");
	assert_non_null(f);
	r = nw_cgroup2_mount_from(f, buf, size);
	fclose(f);
	free(copy);
	return r;
}

static void test_mount_hybrid(void **state)
{
	char buf[PATH_MAX];

	(void)state;
	assert_int_equal(mount_from(hybrid, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/sys/fs/cgroup/unified");
}

static void test_mount_unified(void **state)
{
	char buf[PATH_MAX];

	(void)state;
	assert_int_equal(mount_from(unified, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/sys/fs/cgroup");
}

static void test_mount_none(void **state)
{
	char buf[PATH_MAX] = "untouched";

	(void)state;
	assert_int_equal(mount_from(none, buf, sizeof(buf)), -ENOENT);
	assert_string_equal(buf, "untouched");
	assert_int_equal(mount_from("", buf, sizeof(buf)), -ENOENT);
	/* no " - " separator: not a mountinfo line */
	assert_int_equal(mount_from("32 31 0:27 / /sys/fs/cgroup/unified rw cgroup2 cgroup2 rw\n",
				    buf, sizeof(buf)), -ENOENT);
	assert_string_equal(buf, "untouched");
}

static void test_mount_optional_fields(void **state)
{
	char buf[PATH_MAX];

	(void)state;
	/* the first cgroup2 line wins; its mount point, not its root */
	assert_int_equal(mount_from(optional, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/run/c1/cgroup");
	assert_int_equal(mount_from(no_optional, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/mnt/cgroup2");
	/* last line without a newline */
	assert_int_equal(mount_from("42 25 0:37 / /cg rw shared:1 - cgroup2 cgroup2 rw", buf,
				    sizeof(buf)), 0);
	assert_string_equal(buf, "/cg");
}

static void test_mount_too_small(void **state)
{
	char buf[32];

	(void)state;
	/* "/sys/fs/cgroup/unified" is 22 bytes: it needs 23 */
	assert_int_equal(mount_from(hybrid, buf, 22), -ENAMETOOLONG);
	assert_int_equal(mount_from(hybrid, buf, 23), 0);
	assert_string_equal(buf, "/sys/fs/cgroup/unified");
}

/* --- paths --------------------------------------------------------------------- */

static void assert_abs(const char *mount, const char *cg, const char *want)
{
	char out[PATH_MAX];
	int r;

	memset(out, 0, sizeof(out));
	r = nw_cgroup_abs(mount, cg, out, sizeof(out));
	if (r)
		fail_msg("nw_cgroup_abs(\"%s\", \"%s\") = %d", mount, cg, r);
	if (strcmp(out, want))
		fail_msg("nw_cgroup_abs(\"%s\", \"%s\"): got \"%s\", expected \"%s\"", mount, cg,
			 out, want);
}

static void test_abs(void **state)
{
	const char *m = "/sys/fs/cgroup/unified";

	(void)state;
	assert_abs(m, "/", m);
	assert_abs(m, "", m);
	assert_abs(m, "//", m);
	assert_abs(m, "system.slice/x", "/sys/fs/cgroup/unified/system.slice/x");
	assert_abs(m, "/system.slice/x", "/sys/fs/cgroup/unified/system.slice/x");
	assert_abs(m, "/sys/fs/cgroup/unified/a/b", "/sys/fs/cgroup/unified/a/b");
	assert_abs(m, "/sys/fs/cgroup/unified", m);
	assert_abs(m, "/sys/fs/cgroup/unified/", m);
	assert_abs(m, "//a", "/sys/fs/cgroup/unified/a");
	/* a path that only starts with the mount's name is relative */
	assert_abs(m, "/sys/fs/cgroup/unifiedx/a",
		   "/sys/fs/cgroup/unified/sys/fs/cgroup/unifiedx/a");
	/* a unified layout's mount is a prefix of the hybrid one */
	assert_abs("/sys/fs/cgroup", "/sys/fs/cgroup/unified/a", "/sys/fs/cgroup/unified/a");
	assert_abs("/sys/fs/cgroup", "user.slice/user-1000.slice",
		   "/sys/fs/cgroup/user.slice/user-1000.slice");
	/* names with dots that are not ".." */
	assert_abs(m, "a..b/..c/d..", "/sys/fs/cgroup/unified/a..b/..c/d..");
	assert_abs(m, "./x", "/sys/fs/cgroup/unified/./x");
}

static void test_abs_rejects(void **state)
{
	static const char *const bad[] = { "../x", "a/../b", "..", "a/..", "/..", "/../x",
					   "/sys/fs/cgroup/unified/../../etc" };
	char out[PATH_MAX] = "untouched";

	(void)state;
	for (size_t i = 0; i < NW_ARRAY_SIZE(bad); i++)
		if (nw_cgroup_abs("/sys/fs/cgroup/unified", bad[i], out, sizeof(out)) != -EINVAL)
			fail_msg("\"%s\" not rejected", bad[i]);
	assert_string_equal(out, "untouched");
}

static void test_abs_too_long(void **state)
{
	char out[24];

	(void)state;
	assert_int_equal(nw_cgroup_abs("/sys/fs/cgroup", "abcdefgh", out, sizeof(out)),
			 0);	/* 23 bytes */
	assert_string_equal(out, "/sys/fs/cgroup/abcdefgh");
	assert_int_equal(nw_cgroup_abs("/sys/fs/cgroup", "abcdefghi", out, sizeof(out)),
			 -ENAMETOOLONG);
	assert_int_equal(nw_cgroup_abs("/sys/fs/cgroup/unified/and/more", "/", out, sizeof(out)),
			 -ENAMETOOLONG);
}

/* --- the real cgroup2 mount ----------------------------------------------------- */

struct cg {
	char mount[PATH_MAX];
	char name[64];
	char dir[PATH_MAX + 64];
	char child[PATH_MAX + 128];
	int made;		/* 1: dir made, 2: child too */
};

static int cg_setup(void **state)
{
	struct cg *c = calloc(1, sizeof(*c));

	if (!c)
		return -1;
	*state = c;
	if (nw_cgroup2_mount(c->mount, sizeof(c->mount)))
		return 0;	/* the tests skip */
	srandom((unsigned)(nw_now_ns(CLOCK_MONOTONIC) ^ (uint64_t)getpid()));
	snprintf(c->name, sizeof(c->name), "nw-unit-%d-%08lx", (int)getpid(), random());
	snprintf(c->dir, sizeof(c->dir), "%s/%s", c->mount, c->name);
	snprintf(c->child, sizeof(c->child), "%s/child", c->dir);
	if (mkdir(c->dir, 0755) < 0) {
		print_error("mkdir %s: %s\n", c->dir, strerror(errno));
		return errno == EACCES || errno == EPERM || errno == EROFS ? 0 : -1;
	}
	c->made = 1;
	if (mkdir(c->child, 0755) < 0) {
		print_error("mkdir %s: %s\n", c->child, strerror(errno));
		return -1;
	}
	c->made = 2;
	return 0;
}

static int cg_teardown(void **state)
{
	struct cg *c = *state;
	int r = 0;

	if (c->made >= 2 && rmdir(c->child) < 0)
		r = -1;
	if (c->made >= 1 && rmdir(c->dir) < 0)
		r = -1;
	free(c);
	return r;
}

static struct cg *need_mount(void **state)
{
	struct cg *c = *state;

	if (!c->mount[0])
		skip();	/* no cgroup2 here */
	return c;
}

static struct cg *need_dir(void **state)
{
	struct cg *c = need_mount(state);

	if (!c->made)
		skip();	/* may not make cgroups here */
	return c;
}

static void test_real_mount(void **state)
{
	struct cg *c = need_mount(state);
	char procs[PATH_MAX + 16];
	struct stat st;

	assert_true(c->mount[0] == '/');
	assert_int_equal(stat(c->mount, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	/* cgroup2 has cgroup.procs at every level, the root included */
	snprintf(procs, sizeof(procs), "%s/cgroup.procs", c->mount);
	assert_int_equal(access(procs, F_OK), 0);
}

static void test_id_root(void **state)
{
	struct cg *c = need_mount(state);
	char path[PATH_MAX];
	uint64_t id = 0;
	int r;

	assert_int_equal(nw_cgroup_id(c->mount, &id), 0);
	assert_true(id != 0);
	/* and back; open_by_handle_at needs CAP_DAC_READ_SEARCH */
	r = nw_cgroup_path_from_id(c->mount, id, path, sizeof(path));
	if (r == -EPERM)
		skip();
	assert_int_equal(r, 0);
	assert_string_equal(path, "/");
}

static void test_id_and_path(void **state)
{
	struct cg *c = need_dir(state);
	char path[PATH_MAX], want[128];
	uint64_t id = 0, child = 0, root = 0;
	struct stat st;

	assert_int_equal(nw_cgroup_id(c->dir, &id), 0);
	assert_int_equal(nw_cgroup_id(c->child, &child), 0);
	assert_int_equal(nw_cgroup_id(c->mount, &root), 0);
	assert_true(id != 0);
	assert_true(id != child);
	assert_true(id != root);
	/* on 64-bit kernels the kernfs id is the inode number */
	assert_int_equal(stat(c->dir, &st), 0);
	assert_true(id == (uint64_t)st.st_ino);

	assert_int_equal(nw_cgroup_path_from_id(c->mount, id, path, sizeof(path)), 0);
	snprintf(want, sizeof(want), "/%s", c->name);
	assert_string_equal(path, want);
	assert_int_equal(nw_cgroup_path_from_id(c->mount, child, path, sizeof(path)), 0);
	snprintf(want, sizeof(want), "/%s/child", c->name);
	assert_string_equal(path, want);

	/* too small for "/<name>/child" */
	assert_int_equal(nw_cgroup_path_from_id(c->mount, child, path, strlen(want)),
			 -ENAMETOOLONG);
}

static void test_id_errors(void **state)
{
	struct cg *c = need_mount(state);
	char p[PATH_MAX + 32], path[PATH_MAX];
	uint64_t id = 4242;

	snprintf(p, sizeof(p), "%s/cgroup.procs", c->mount);
	assert_int_equal(nw_cgroup_id(p, &id), -ENOTDIR);
	snprintf(p, sizeof(p), "%s/nw-unit-no-such-cgroup", c->mount);
	assert_int_equal(nw_cgroup_id(p, &id), -ENOENT);
	assert_int_equal(id, 4242);
	/* an id no cgroup has */
	assert_true(nw_cgroup_path_from_id(c->mount, UINT64_MAX - 1, path, sizeof(path)) < 0);
	assert_int_equal(nw_cgroup_path_from_id("/nonexistent-mount", 1, path, sizeof(path)),
			 -ENOENT);
}

static void test_parse_arg(void **state)
{
	struct cg *c = need_dir(state);
	char p[PATH_MAX + 128];
	uint64_t want = 0, id;

	assert_int_equal(nw_cgroup_id(c->dir, &want), 0);

	/* a number is an id, taken as it is */
	id = 0;
	assert_int_equal(nw_cgroup_parse_arg(c->mount, "12345", &id), 0);
	assert_true(id == 12345);
	snprintf(p, sizeof(p), "%llu", (unsigned long long)want);
	id = 0;
	assert_int_equal(nw_cgroup_parse_arg(c->mount, p, &id), 0);
	assert_true(id == want);

	/* a path in every notation nw_cgroup_abs takes */
	id = 0;
	assert_int_equal(nw_cgroup_parse_arg(c->mount, c->name, &id), 0);
	assert_true(id == want);
	snprintf(p, sizeof(p), "/%s", c->name);
	id = 0;
	assert_int_equal(nw_cgroup_parse_arg(c->mount, p, &id), 0);
	assert_true(id == want);
	id = 0;
	assert_int_equal(nw_cgroup_parse_arg(c->mount, c->dir, &id), 0);
	assert_true(id == want);
	id = 0;
	assert_int_equal(nw_cgroup_parse_arg(c->mount, "/", &id), 0);
	assert_true(id != 0 && id != want);

	/* errors */
	assert_int_equal(nw_cgroup_parse_arg(c->mount, "../x", &id), -EINVAL);
	assert_int_equal(nw_cgroup_parse_arg(c->mount, "nw-unit-no-such-cgroup", &id), -ENOENT);
	/* 0 is no id: taken as a path, and there is no cgroup "0" */
	assert_int_equal(nw_cgroup_parse_arg(c->mount, "0", &id), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mount_hybrid),
		cmocka_unit_test(test_mount_unified),
		cmocka_unit_test(test_mount_none),
		cmocka_unit_test(test_mount_optional_fields),
		cmocka_unit_test(test_mount_too_small),
		cmocka_unit_test(test_abs),
		cmocka_unit_test(test_abs_rejects),
		cmocka_unit_test(test_abs_too_long),
		cmocka_unit_test_setup_teardown(test_real_mount, cg_setup, cg_teardown),
		cmocka_unit_test_setup_teardown(test_id_root, cg_setup, cg_teardown),
		cmocka_unit_test_setup_teardown(test_id_and_path, cg_setup, cg_teardown),
		cmocka_unit_test_setup_teardown(test_id_errors, cg_setup, cg_teardown),
		cmocka_unit_test_setup_teardown(test_parse_arg, cg_setup, cg_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
