// SPDX-License-Identifier: GPL-2.0-only
/* Unit tests for user/secret.c (token files) and user/sha256.c: what a
 * good file gives, every refusal's exact message (never the value), and
 * the value's mapping excluded from core dumps. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <unistd.h>

#define TMPDIR_TEMPLATE "/tmp/nw-test-secret.XXXXXX"
#include "tmpdir.h"

#include "secret.h"
#include "sha256.h"

/* in no message, ever */
#define SECRET "Zq7-never-printed"

static void hex(const uint8_t *d, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", d[i]);
}

static void expect_sha(const void *data, size_t len, const char *want)
{
	uint8_t d[NW_SHA256_LEN];
	char got[2 * NW_SHA256_LEN + 1];

	nw_sha256(data, len, d);
	hex(d, sizeof(d), got);
	assert_string_equal(got, want);
}

/* FIPS 180-4 examples (NIST CSRC) and the padding edges */
static void test_sha256_vectors(void **state)
{
	static const char *const m448 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	static char million[1000000];
	(void)state;

	expect_sha("", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	expect_sha("abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	assert_int_equal(strlen(m448), 56);
	expect_sha(m448, strlen(m448),
		   "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
	memset(million, 'a', sizeof(million));
	expect_sha(million, 1000000,
		   "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
	/* 55 bytes: one padded block; 56: two; 64: exactly one block plus padding */
	expect_sha("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 55,
		   "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318");
	expect_sha("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 56,
		   "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a");
	expect_sha("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 64,
		   "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb");
}

/* dir/name holding text with mode; returns the path (static buffer) */
static const char *put(const char *dir, const char *name, const char *text, mode_t mode)
{
	static char path[4][256];
	static int next;
	char *p = path[next++ % 4];

	snprintf(p, 256, "%s/%s", dir, name);
	write_file(p, text);
	assert_int_equal(chmod(p, mode), 0);
	return p;
}

/* load and check both fail with r and exactly msg, which never holds the value */
static void expect_refused(const char *path, int r, const char *msg)
{
	struct nw_secret *s = (struct nw_secret *)1;
	char err[1024] = "";

	assert_int_equal(nw_secret_load(path, &s, err, sizeof(err)), r);
	assert_null(s);
	if (strcmp(err, msg))
		fail_msg("\n  got      \"%s\"\n  expected \"%s\"", err, msg);
	assert_null(strstr(err, "never-printed"));
	err[0] = 0;
	assert_int_equal(nw_secret_check(path, err, sizeof(err)), r);
	assert_string_equal(err, msg);
}

static struct nw_secret *load_ok(const char *path)
{
	struct nw_secret *s = NULL;
	char err[1024] = "";

	if (nw_secret_load(path, &s, err, sizeof(err)))
		fail_msg("%s: %s", path, err);
	assert_non_null(s);
	assert_int_equal(nw_secret_check(path, err, sizeof(err)), 0);
	return s;
}

static void test_load_ok(void **state)
{
	const char *dir = *state;
	struct nw_secret *a, *b, *c, *abc;
	char want[32] = "sha256:";
	uint8_t d[NW_SHA256_LEN];
	const char *v;
	size_t len;

	a = load_ok(put(dir, "a.token", SECRET "\n", 0600));
	v = nw_secret_value(a, &len);
	assert_int_equal(len, strlen(SECRET));
	assert_string_equal(v, SECRET);
	nw_sha256(SECRET, strlen(SECRET), d);
	hex(d, 6, want + strlen(want));
	assert_string_equal(nw_secret_id(a), want);
	assert_int_equal(strlen(nw_secret_id(a)), strlen("sha256:") + 12);

	/* the same value (other whitespace, read-only mode) gives the same id */
	b = load_ok(put(dir, "b.token", " \t" SECRET "\r\n\n", 0400));
	assert_string_equal(nw_secret_value(b, NULL), SECRET);
	assert_string_equal(nw_secret_id(b), nw_secret_id(a));
	c = load_ok(put(dir, "c.token", SECRET "x", 0700));
	assert_string_not_equal(nw_secret_id(c), nw_secret_id(a));

	/* sha256("abc") = ba7816bf8f01... */
	abc = load_ok(put(dir, "abc.token", "abc\n", 0600));
	assert_string_equal(nw_secret_id(abc), "sha256:ba7816bf8f01");

	/* every printable ASCII byte but the space */
	nw_secret_free(c);
	{
		char all[0x7f - 0x21 + 1];

		for (int i = 0x21; i < 0x7f; i++)
			all[i - 0x21] = (char)i;
		all[sizeof(all) - 1] = 0;
		c = load_ok(put(dir, "c.token", all, 0600));
		assert_string_equal(nw_secret_value(c, &len), all);
		assert_int_equal(len, 94);
	}
	nw_secret_free(a);
	nw_secret_free(b);
	nw_secret_free(c);
	nw_secret_free(abc);
	nw_secret_free(NULL);
	assert_null(nw_secret_value(NULL, &len));
	assert_int_equal(len, 0);
}

static void test_mode_refused(void **state)
{
	static const struct {
		const char *name;
		mode_t mode;
		const char *shown;
	} cases[] = {
		{ "g.token", 0640, "0640" },
		{ "o.token", 0604, "0604" },
		{ "w.token", 0644, "0644" },
		/* write or execute access counts too; so do the set-id bits' company */
		{ "x.token", 04601, "4601" },
	};
	const char *dir = *state;
	char msg[1024];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *p = put(dir, cases[i].name, SECRET, cases[i].mode);

		snprintf(msg, sizeof(msg), "%s is readable by group or others (mode %s): run chmod "
			 "600 %s", p, cases[i].shown, p);
		expect_refused(p, -EPERM, msg);
	}
}

static void test_owner_refused(void **state)
{
	const char *dir = *state;
	char msg[1024];
	const char *p;

	if (geteuid() != 0)
		skip();	/* only root can give a file away */
	p = put(dir, "u.token", SECRET, 0600);
	assert_int_equal(chown(p, 1000, 1000), 0);
	snprintf(msg, sizeof(msg), "%s is owned by uid 1000: only root may own it", p);
	expect_refused(p, -EACCES, msg);
	/* a group that is not root's is fine: the mode keeps it out */
	assert_int_equal(chown(p, 0, 1000), 0);
	nw_secret_free(load_ok(p));
}

static void test_not_a_file(void **state)
{
	const char *dir = *state;
	char path[256], target[256], msg[1024];

	/* a symlink, even to a good file: O_NOFOLLOW */
	snprintf(target, sizeof(target), "%s", put(dir, "real.token", SECRET, 0600));
	snprintf(path, sizeof(path), "%s/link.token", dir);
	assert_int_equal(symlink(target, path), 0);
	snprintf(msg, sizeof(msg), "%s is a symbolic link (a secret is read from a regular file "
		 "only, never through a link)", path);
	expect_refused(path, -ELOOP, msg);

	snprintf(path, sizeof(path), "%s/sub", dir);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(msg, sizeof(msg), "%s is not a regular file", path);
	expect_refused(path, -EISDIR, msg);

	/* a FIFO neither blocks the open nor is read */
	snprintf(path, sizeof(path), "%s/fifo", dir);
	assert_int_equal(mkfifo(path, 0600), 0);
	snprintf(msg, sizeof(msg), "%s is not a regular file", path);
	expect_refused(path, -EINVAL, msg);

	snprintf(path, sizeof(path), "%s/missing.token", dir);
	snprintf(msg, sizeof(msg), "%s: No such file or directory", path);
	expect_refused(path, -ENOENT, msg);
	snprintf(path, sizeof(path), "%s/missing/x.token", dir);
	snprintf(msg, sizeof(msg), "%s: No such file or directory", path);
	expect_refused(path, -ENOENT, msg);
}

static void test_content_refused(void **state)
{
	static const struct {
		const char *name, *text, *why;
	} cases[] = {
		{ "empty.token", "", "is empty" },
		{ "blank.token", " \n\t\r\n", "is empty" },
		{ "space.token", "Zq7-never printed\n",
		  "contains a space or a control character (at byte 9)" },
		{ "lines.token", "Zq7-never\nprinted\n",
		  "contains a space or a control character (at byte 9)" },
		{ "ctl.token", "  Zq7-never\x01printed",
		  "contains a space or a control character (at byte 11)" },
		{ "del.token", "Zq7-never\x7fprinted",
		  "contains a space or a control character (at byte 9)" },
		{ "utf8.token", "Zq7-never-printed\xc3\xa4",
		  "contains a byte that is not ASCII (at byte 17)" },
	};
	const char *dir = *state;
	char msg[1024];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *p = put(dir, cases[i].name, cases[i].text, 0600);

		snprintf(msg, sizeof(msg), "%s %s", p, cases[i].why);
		expect_refused(p, -EINVAL, msg);
	}
	/* a NUL byte */
	{
		char path[256];

		snprintf(path, sizeof(path), "%s/nul.token", dir);
		write_data(path, "Zq7-never\0printed", 17);
		snprintf(msg, sizeof(msg), "%s contains a space or a control character (at byte 9)",
			 path);
		expect_refused(path, -EINVAL, msg);
	}
}

static void test_size(void **state)
{
	const char *dir = *state;
	char *text = malloc(NW_SECRET_MAX + 2048), msg[1024], path[256];
	struct nw_secret *s;
	size_t len;

	assert_non_null(text);
	snprintf(path, sizeof(path), "%s/big.token", dir);
	/* exactly the maximum, with whitespace around it */
	memset(text, 'k', NW_SECRET_MAX);
	memset(text + NW_SECRET_MAX, '\n', 100);
	write_data(path, text, NW_SECRET_MAX + 100);
	s = load_ok(path);
	nw_secret_value(s, &len);
	assert_int_equal(len, NW_SECRET_MAX);
	nw_secret_free(s);

	/* one byte more */
	memset(text, 'k', NW_SECRET_MAX + 1);
	text[NW_SECRET_MAX + 1] = '\n';
	write_data(path, text, NW_SECRET_MAX + 2);
	snprintf(msg, sizeof(msg), "%s is larger than %d bytes", path, NW_SECRET_MAX);
	expect_refused(path, -EFBIG, msg);

	/* far larger (refused on its size, before reading) */
	memset(text, 'k', NW_SECRET_MAX + 2048);
	write_data(path, text, NW_SECRET_MAX + 2048);
	expect_refused(path, -EFBIG, msg);
	free(text);
}

/* The value's mapping carries VmFlags "dd" (MADV_DONTDUMP) in smaps. */
static void test_dontdump(void **state)
{
	const char *dir = *state;
	struct nw_secret *s = load_ok(put(dir, "d.token", SECRET "\n", 0600));
	uintptr_t addr = (uintptr_t)nw_secret_value(s, NULL);
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[512];
	bool inside = false, found = false;

	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;

		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' '))
			inside = addr >= lo && addr < hi;
		else if (inside && !strncmp(line, "VmFlags:", 8)) {
			found = true;
			if (!strstr(line, " dd"))
				fail_msg("the secret's mapping lacks dd: %s", line);
		}
	}
	fclose(f);
	assert_true(found);
	nw_secret_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sha256_vectors),
		TMPDIR_TEST(test_load_ok),
		TMPDIR_TEST(test_mode_refused),
		TMPDIR_TEST(test_owner_refused),
		TMPDIR_TEST(test_not_a_file),
		TMPDIR_TEST(test_content_refused),
		TMPDIR_TEST(test_size),
		TMPDIR_TEST(test_dontdump),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
