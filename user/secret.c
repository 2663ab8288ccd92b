// SPDX-License-Identifier: GPL-2.0-only
/*
 * Secrets read from files. The file is opened without following a
 * symlink and checked on the open descriptor (fstat), so what is checked
 * is what is read. The bytes are read straight into a private anonymous
 * mapping excluded from core dumps (MADV_DONTDUMP), wiped in children
 * after fork (MADV_WIPEONFORK, best effort) and locked in memory (best
 * effort): the value never passes through a stack or heap buffer. The
 * mapping holds the whole struct; nw_secret_free wipes and unmaps it.
 * Error texts name the path and the problem, never the value.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "secret.h"
#include "sha256.h"

/* what the file may hold beyond the value: surrounding whitespace */
#define SECRET_SLACK 256
#define SECRET_READ_MAX (NW_SECRET_MAX + SECRET_SLACK)
#define SECRET_ID_LEN 20	/* "sha256:" + 12 hex + NUL */

struct nw_secret {
	size_t map_size;
	unsigned refs;		/* holders beyond the first (nw_secret_ref) */
	size_t len;
	char id[SECRET_ID_LEN];
	char value[];		/* SECRET_READ_MAX + 1 bytes: the file, then the value */
};

static int fail(char *err, size_t errlen, int r, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t errlen, int r, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return r;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

void nw_secret_free(struct nw_secret *s)
{
	size_t size;

	if (!s)
		return;
	if (s->refs) {
		s->refs--;
		return;
	}
	size = s->map_size;
	explicit_bzero(s, size);
	munmap(s, size);
}

struct nw_secret *nw_secret_ref(struct nw_secret *s)
{
	if (s)
		s->refs++;
	return s;
}

static int new_mapping(const char *path, struct nw_secret **out, char *err, size_t errlen)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t size = (sizeof(struct nw_secret) + SECRET_READ_MAX + 1 + page - 1) / page * page;
	struct nw_secret *s;
	int r;

	s = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (s == MAP_FAILED)
		return fail(err, errlen, -errno, "%s: mmap: %m", path);
	if (madvise(s, size, MADV_DONTDUMP) < 0) {
		r = -errno;
		munmap(s, size);
		return fail(err, errlen, r, "%s: madvise(MADV_DONTDUMP): %s", path, strerror(-r));
	}
#ifdef MADV_WIPEONFORK
	(void)madvise(s, size, MADV_WIPEONFORK);	/* Linux 4.14+ */
#endif
	(void)mlock(s, size);	/* RLIMIT_MEMLOCK may forbid it: still DONTDUMP */
	s->map_size = size;
	*out = s;
	return 0;
}

/* The checks on the open file: a regular file, owned by root or by us,
 * not accessible by group or others, small enough. */
static int check_file(int fd, const char *path, char *err, size_t errlen)
{
	uid_t me = geteuid();
	struct stat st;

	if (fstat(fd, &st) < 0)
		return fail(err, errlen, -errno, "%s: %m", path);
	if (!S_ISREG(st.st_mode))
		return fail(err, errlen, S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL,
			    "%s is not a regular file", path);
	if (st.st_uid != 0 && st.st_uid != me) {
		if (me == 0)
			return fail(err, errlen, -EACCES,
				    "%s is owned by uid %u: only root may own it", path,
				    (unsigned)st.st_uid);
		return fail(err, errlen, -EACCES,
			    "%s is owned by uid %u: only root or netwardd's uid %u may own it",
			    path, (unsigned)st.st_uid, (unsigned)me);
	}
	if (st.st_mode & 077)
		return fail(err, errlen, -EPERM,
			    "%s is readable by group or others (mode %04o): run chmod 600 %s", path,
			    (unsigned)(st.st_mode & 07777), path);
	if (st.st_size > SECRET_READ_MAX)
		return fail(err, errlen, -EFBIG, "%s is larger than %d bytes", path,
			    NW_SECRET_MAX);
	return 0;
}

/* Reads at most SECRET_READ_MAX + 1 bytes into buf (one more than allowed:
 * a file that grew since fstat is caught). */
static ssize_t read_all(int fd, char *buf)
{
	size_t got = 0;

	while (got < SECRET_READ_MAX + 1) {
		ssize_t n = read(fd, buf + got, SECRET_READ_MAX + 1 - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

/* Trims the bytes in place (the value ends up at s->value, NUL-ended,
 * the rest of the buffer zeroed) and checks them. */
static int take_value(struct nw_secret *s, size_t got, const char *path, char *err,
		      size_t errlen)
{
	size_t start = 0, end = got;

	if (got > SECRET_READ_MAX)
		return fail(err, errlen, -EFBIG, "%s is larger than %d bytes", path,
			    NW_SECRET_MAX);
	while (start < end && is_space(s->value[start]))
		start++;
	while (end > start && is_space(s->value[end - 1]))
		end--;
	s->len = end - start;
	memmove(s->value, s->value + start, s->len);
	explicit_bzero(s->value + s->len, SECRET_READ_MAX + 1 - s->len);
	if (!s->len)
		return fail(err, errlen, -EINVAL, "%s is empty", path);
	if (s->len > NW_SECRET_MAX)
		return fail(err, errlen, -EFBIG, "%s is larger than %d bytes", path,
			    NW_SECRET_MAX);
	for (size_t i = 0; i < s->len; i++) {
		unsigned char c = (unsigned char)s->value[i];

		if (c >= 0x80)
			return fail(err, errlen, -EINVAL,
				    "%s contains a byte that is not ASCII (at byte %zu)", path,
				    start + i);
		if (c <= 0x20 || c == 0x7f)
			return fail(err, errlen, -EINVAL,
				    "%s contains a space or a control character (at byte %zu)",
				    path, start + i);
	}
	return 0;
}

static void make_id(struct nw_secret *s)
{
	static const char hex[] = "0123456789abcdef";
	uint8_t digest[NW_SHA256_LEN];
	char *p = s->id + strlen("sha256:");

	nw_sha256(s->value, s->len, digest);
	memcpy(s->id, "sha256:", strlen("sha256:"));
	for (int i = 0; i < 6; i++) {
		*p++ = hex[digest[i] >> 4];
		*p++ = hex[digest[i] & 15];
	}
	*p = 0;
	explicit_bzero(digest, sizeof(digest));
}

int nw_secret_load(const char *path, struct nw_secret **out, char *err, size_t errlen)
{
	struct nw_secret *s = NULL;
	ssize_t got;
	int fd, r;

	*out = NULL;
	/* O_NONBLOCK: a FIFO must not block the open; it is refused next */
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		r = -errno;
		if (r == -ELOOP)
			return fail(err, errlen, r,
				    "%s is a symbolic link (a secret is read from a regular "
				    "file only, never through a link)", path);
		return fail(err, errlen, r, "%s: %s", path, strerror(-r));
	}
	if ((r = check_file(fd, path, err, errlen)) ||
	    (r = new_mapping(path, &s, err, errlen)))
		goto cleanup;
	got = read_all(fd, s->value);
	if (got < 0) {
		r = fail(err, errlen, (int)got, "%s: %s", path, strerror((int)-got));
		goto cleanup;
	}
	if ((r = take_value(s, (size_t)got, path, err, errlen)))
		goto cleanup;
	make_id(s);
	*out = s;
	s = NULL;
cleanup:
	nw_secret_free(s);
	close(fd);
	return r;
}

int nw_secret_check(const char *path, char *err, size_t errlen)
{
	struct nw_secret *s = NULL;
	int r = nw_secret_load(path, &s, err, errlen);

	nw_secret_free(s);
	return r;
}

const char *nw_secret_value(const struct nw_secret *s, size_t *len)
{
	if (len)
		*len = s ? s->len : 0;
	return s ? s->value : NULL;
}

const char *nw_secret_id(const struct nw_secret *s)
{
	return s ? s->id : "";
}
