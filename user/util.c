// SPDX-License-Identifier: GPL-2.0-only
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

uint64_t nw_now_ns(int clock_id)
{
	struct timespec ts;

	clock_gettime(clock_id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void nw_format_realtime(uint64_t real_ns, char buf[NW_TS_LEN])
{
	time_t sec = (time_t)(real_ns / 1000000000ull);
	unsigned usec = (unsigned)(real_ns % 1000000000ull / 1000);
	struct tm tm;
	char base[32];

	gmtime_r(&sec, &tm);
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, NW_TS_LEN, "%s.%06uZ", base, usec);
}

void nw_format_boot_ts(uint64_t boot_ns, char buf[NW_TS_LEN])
{
	uint64_t real = nw_now_ns(CLOCK_REALTIME);
	uint64_t boot = nw_now_ns(CLOCK_BOOTTIME);

	nw_format_realtime(real - (boot - boot_ns), buf);
}

int nw_self_netns(uint32_t *inum)
{
	struct stat st;

	if (stat("/proc/self/ns/net", &st) < 0)
		return -errno;
	*inum = (uint32_t)st.st_ino;
	return 0;
}

int nw_self_netns_cookie(uint64_t *cookie)
{
	socklen_t len = sizeof(*cookie);
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0), err = 0;

	if (fd < 0)
		return -errno;
	if (getsockopt(fd, SOL_SOCKET, 71 /* SO_NETNS_COOKIE */, cookie, &len) < 0)
		err = -errno;
	close(fd);
	return err;
}

int nw_path(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -EINVAL;
	return (size_t)n >= size ? -ENAMETOOLONG : 0;
}

int nw_mkdir_p(const char *path, unsigned mode)
{
	char tmp[4096];
	size_t len = strlen(path);

	if (len >= sizeof(tmp))
		return -ENAMETOOLONG;
	memcpy(tmp, path, len + 1);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(tmp, mode) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* Reads fd to its end into a NUL-terminated malloc'ed buffer; -EFBIG once it
 * holds more than max bytes. */
static int read_to_end(int fd, size_t max, char **out, size_t *outlen)
{
	char *buf = NULL;
	size_t len = 0, cap = 0;
	int err = 0;

	for (;;) {
		ssize_t n;

		if (len + 4096 + 1 > cap) {
			char *nb;

			cap = cap ? cap * 2 : 8192;
			nb = realloc(buf, cap);
			if (!nb) {
				err = -ENOMEM;
				goto cleanup;
			}
			buf = nb;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			goto cleanup;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > max) {
			err = -EFBIG;
			goto cleanup;
		}
	}
	if (!buf && !(buf = malloc(1))) {
		err = -ENOMEM;
		goto cleanup;
	}
	buf[len] = 0;
	*out = buf;
	if (outlen)
		*outlen = len;
	buf = NULL;
cleanup:
	free(buf);
	return err;
}

int nw_read_file(const char *path, char **out, size_t max)
{
	int fd, err;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	err = read_to_end(fd, max, out, NULL);
	close(fd);
	return err;
}

int nw_read_regular_file(const char *path, size_t max, char **out, size_t *len, char *err,
			 size_t errlen)
{
	struct stat st;
	int fd, r;

	*out = NULL;
	*len = 0;
	if (errlen)
		err[0] = 0;
	/* O_NONBLOCK: a FIFO put there does not hang the open */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		r = -errno;
		snprintf(err, errlen, "%s", strerror(-r));
		return r;
	}
	if (fstat(fd, &st) < 0) {
		r = -errno;
		snprintf(err, errlen, "%s", strerror(-r));
	} else if (!S_ISREG(st.st_mode)) {
		r = -EINVAL;
		snprintf(err, errlen, "not a regular file");
	} else if ((uint64_t)st.st_size > max) {
		r = -EFBIG;
		snprintf(err, errlen, "%lld bytes, at most %zu", (long long)st.st_size, max);
	} else if ((r = read_to_end(fd, max, out, len)) == -EFBIG) {
		/* it grew while it was read */
		snprintf(err, errlen, "more than %zu bytes", max);
	} else if (r == -ENOMEM) {
		snprintf(err, errlen, "%s", strerror(ENOMEM));
	} else if (r) {
		snprintf(err, errlen, "read: %s", strerror(-r));
	}
	close(fd);
	return r;
}

void nw_boot_id(char *out, size_t size)
{
	char *id = NULL;

	out[0] = 0;
	if (nw_read_file("/proc/sys/kernel/random/boot_id", &id, 64) == 0) {
		id[strcspn(id, "\n")] = 0;
		if (strlen(id) < size)
			memcpy(out, id, strlen(id) + 1);
	}
	free(id);
}

/* 8-4-4-4-12 hex digits */
bool nw_is_uuid(const char *s)
{
	static const int groups[] = { 8, 4, 4, 4, 12 };

	for (size_t g = 0; g < NW_ARRAY_SIZE(groups); g++) {
		for (int i = 0; i < groups[g]; i++, s++)
			if (!isxdigit((unsigned char)*s))
				return false;
		if (g + 1 < NW_ARRAY_SIZE(groups) && *s++ != '-')
			return false;
	}
	return *s == 0;
}

int nw_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	unsigned long long v;
	char *end;

	/* strtoull skips white space and takes a sign after it: digits only */
	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (*end)
		return -EINVAL;
	if (errno == ERANGE)
		return -ERANGE;
	if (errno)
		return -EINVAL;
	if (v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

/* Which of cgroup2 and bpf are mounted in the given mountinfo (bit 0, 1). */
static int mounted_fs(const char *mountinfo)
{
	char *line = NULL;
	size_t cap = 0;
	int found = 0;
	FILE *f = fopen(mountinfo, "re");

	if (!f)
		return -errno;
	while (getline(&line, &cap, f) > 0) {
		char *sep = strstr(line, " - ");
		char fstype[32];

		if (!sep || sscanf(sep + 3, "%31s", fstype) != 1)
			continue;
		if (!strcmp(fstype, "cgroup2"))
			found |= 1;
		else if (!strcmp(fstype, "bpf"))
			found |= 2;
	}
	free(line);
	fclose(f);
	return found;
}

static pid_t parent_of(pid_t pid)
{
	char path[64], *text = NULL, *p;
	int ppid = 0;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if (nw_read_file(path, &text, 4096) < 0)
		return 0;
	/* pid (comm) state ppid ...: comm may hold spaces and parentheses */
	if ((p = strrchr(text, ')')) && sscanf(p + 1, " %*c %d", &ppid) != 1)
		ppid = 0;
	free(text);
	return (pid_t)ppid;
}

int nw_mountns_fixup(void)
{
	struct stat self, other;
	char cwd[4096], path[64];
	pid_t pid = getpid();
	int fd, err = 0, ours;

	ours = mounted_fs("/proc/self/mountinfo");
	if (ours < 0 || ours == 3 || stat("/proc/self/ns/mnt", &self) < 0)
		return 0;
	/* the nearest ancestor in another mount namespace that has cgroup2:
	 * whoever ran `ip netns exec` (a shell, systemd) */
	for (int depth = 0; depth < 16 && (pid = parent_of(pid)) > 0; depth++) {
		snprintf(path, sizeof(path), "/proc/%d/ns/mnt", pid);
		if (stat(path, &other) < 0 || other.st_ino == self.st_ino)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/mountinfo", pid);
		if (mounted_fs(path) > 0 && (mounted_fs(path) & 1))
			break;
	}
	if (pid <= 0)
		return 0;
	if (!getcwd(cwd, sizeof(cwd)))
		cwd[0] = 0;
	snprintf(path, sizeof(path), "/proc/%d/ns/mnt", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (setns(fd, CLONE_NEWNS) < 0)
		err = -errno;
	close(fd);
	if (err)
		return err;
	if (cwd[0] && chdir(cwd) < 0)
		return 1;
	return 1;
}

int nw_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t w = write(fd, p, len);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

int nw_write_file_atomic(const char *dest, const void *buf, size_t len, unsigned mode,
			 bool must_sync_dir)
{
	const char *slash = strrchr(dest, '/');
	char dir[PATH_MAX], tmp[PATH_MAX];
	bool made = false;
	int fd = -1, dfd = -1, err;

	if (!slash)
		err = nw_path(dir, sizeof(dir), ".");
	else if (slash == dest)
		err = nw_path(dir, sizeof(dir), "/");
	else
		err = nw_path(dir, sizeof(dir), "%.*s", (int)(slash - dest), dest);
	if (!err)
		err = nw_path(tmp, sizeof(tmp), "%s/.%s.XXXXXX", dir, slash ? slash + 1 : dest);
	if (err)
		return err;
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	made = true;
	if ((err = nw_write_all(fd, buf, len)))
		goto cleanup;
	if (fchmod(fd, mode) < 0 || fsync(fd) < 0) {
		err = -errno;
		goto cleanup;
	}
	err = close(fd) < 0 ? -errno : 0;
	fd = -1;
	if (err)
		goto cleanup;
	if (rename(tmp, dest) < 0) {
		err = -errno;
		goto cleanup;
	}
	made = false;
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if ((dfd < 0 || fsync(dfd) < 0) && must_sync_dir)
		err = -errno;
cleanup:
	if (dfd >= 0)
		close(dfd);
	if (fd >= 0)
		close(fd);
	if (made)
		unlink(tmp);
	return err;
}
