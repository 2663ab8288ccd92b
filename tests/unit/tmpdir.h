/* SPDX-License-Identifier: GPL-2.0-only */
/* A fresh directory per test, removed with everything in it: cmocka setup
 * and teardown (TMPDIR_TEST), and files written into it. Define
 * TMPDIR_TEMPLATE (a mkdtemp() template, e.g. "/tmp/nw-test-NAME.XXXXXX")
 * before including; the test gets the directory's path as *state. */
#ifndef NETWARD_TEST_TMPDIR_H
#define NETWARD_TEST_TMPDIR_H

#ifndef TMPDIR_TEMPLATE
#error "define TMPDIR_TEMPLATE before including tmpdir.h"
#endif

#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

static inline int tmpdir_rm_one(const char *path, const struct stat *st, int flag,
				struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static inline int tmpdir_setup(void **state)
{
	char *dir = strdup(TMPDIR_TEMPLATE);

	if (!dir || !mkdtemp(dir)) {
		free(dir);
		return -1;
	}
	*state = dir;
	return 0;
}

static inline int tmpdir_teardown(void **state)
{
	char *dir = *state;
	int r = nftw(dir, tmpdir_rm_one, 16, FTW_DEPTH | FTW_PHYS);

	free(dir);
	return r;
}

#define TMPDIR_TEST(f) cmocka_unit_test_setup_teardown(f, tmpdir_setup, tmpdir_teardown)

/* path holds exactly len bytes of data (created 0600, or truncated) */
static inline void write_data(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	assert_int_equal(close(fd), 0);
}

/* path holds exactly text */
static inline void write_file(const char *path, const char *text)
{
	write_data(path, text, strlen(text));
}

#endif
