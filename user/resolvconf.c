// SPDX-License-Identifier: GPL-2.0-only
/* A known-good copy of resolv.conf and putting it back. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "resolvconf.h"
#include "util.h"

#define RESOLV_MAX (64 * 1024)

/* Reads a regular file (never through a symlink: -ELOOP) of at most
 * RESOLV_MAX bytes into a malloc'ed buffer. */
static int read_small(const char *path, char **out, size_t *len)
{
	char *buf = NULL;
	size_t n = 0;
	struct stat st;
	int fd, err = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		err = -errno;
		goto cleanup;
	}
	if (!S_ISREG(st.st_mode)) {
		err = -EINVAL;
		goto cleanup;
	}
	buf = malloc(RESOLV_MAX + 1);
	if (!buf) {
		err = -ENOMEM;
		goto cleanup;
	}
	for (;;) {
		ssize_t r = read(fd, buf + n, RESOLV_MAX + 1 - n);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			goto cleanup;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n > RESOLV_MAX) {
			err = -EFBIG;
			goto cleanup;
		}
	}
	*out = buf;
	*len = n;
	buf = NULL;
cleanup:
	free(buf);
	close(fd);
	return err;
}

/* Rewrites the existing regular file dest (never following a symlink). */
static int write_in_place(const char *dest, const char *buf, size_t len)
{
	int fd = open(dest, O_WRONLY | O_TRUNC | O_NOFOLLOW | O_CLOEXEC);
	int err;

	if (fd < 0)
		return -errno;
	err = nw_write_all(fd, buf, len);
	if (!err && fsync(fd) < 0)
		err = -errno;
	close(fd);
	return err;
}

static int saved_path(const char *state_dir, char *buf, size_t size)
{
	return nw_path(buf, size, "%s/%s", state_dir, NW_RESOLVCONF_SAVED);
}

/* 0 a regular path (or missing when may_miss), -ELOOP a symlink, -errno */
static int check_not_link(const char *path, bool may_miss)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		return errno == ENOENT && may_miss ? 0 : -errno;
	return S_ISLNK(st.st_mode) ? -ELOOP : 0;
}

static bool same(const char *a, size_t alen, const char *b, size_t blen)
{
	return alen == blen && !memcmp(a, b, alen);
}

int nw_resolvconf_save(const char *path, const char *state_dir)
{
	char saved[PATH_MAX];
	char *cur = NULL, *old = NULL;
	size_t cur_len = 0, old_len = 0;
	int err;

	err = check_not_link(path, false);
	if (err)
		return err;
	err = saved_path(state_dir, saved, sizeof(saved));
	if (err)
		return err;
	err = read_small(path, &cur, &cur_len);
	if (err)
		goto cleanup;
	/* a missing or unreadable copy is simply replaced */
	if (!read_small(saved, &old, &old_len) && same(cur, cur_len, old, old_len)) {
		err = 0;
		goto cleanup;
	}
	err = nw_mkdir_p(state_dir, 0755);
	if (err)
		goto cleanup;
	err = nw_write_file_atomic(saved, cur, cur_len, 0644, false);
	if (!err)
		err = 1;
cleanup:
	free(cur);
	free(old);
	return err;
}

int nw_resolvconf_restore(const char *path, const char *state_dir, int dry_run)
{
	char saved[PATH_MAX];
	char *good = NULL, *cur = NULL;
	size_t good_len = 0, cur_len = 0;
	int err;

	err = check_not_link(path, true);
	if (err)
		return err;
	err = saved_path(state_dir, saved, sizeof(saved));
	if (err)
		return err;
	err = read_small(saved, &good, &good_len);
	if (err)
		goto cleanup;
	/* -ELOOP: it became a symlink since the lstat; anything that is not
	 * a regular file is left alone too */
	err = read_small(path, &cur, &cur_len);
	if (err && err != -ENOENT)
		goto cleanup;
	if (!err && same(good, good_len, cur, cur_len))
		goto cleanup;
	/* missing or different: put the good copy there */
	if (dry_run) {
		err = 1;
		goto cleanup;
	}
	err = nw_write_file_atomic(path, good, good_len, 0644, false);
	/* a read-only /etc with only the file itself writable (systemd's
	 * ReadWritePaths=-/etc/resolv.conf): no temp file beside it, so
	 * rewrite it in place */
	if ((err == -EROFS || err == -EACCES || err == -EPERM) && cur)
		err = write_in_place(path, good, good_len);
	if (!err)
		err = 1;
cleanup:
	free(good);
	free(cur);
	return err;
}
