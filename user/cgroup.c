// SPDX-License-Identifier: GPL-2.0-only
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroup.h"
#include "util.h"

int nw_cgroup2_mount_from(FILE *f, char *buf, size_t size)
{
	char *line = NULL;
	size_t cap = 0;
	int err = -ENOENT;

	while (getline(&line, &cap, f) > 0) {
		/* id parent major:minor root mountpoint opts [tags] - fstype src opts */
		char *sep = strstr(line, " - ");
		char mnt[PATH_MAX], fstype[64];

		if (!sep || sscanf(sep + 3, "%63s", fstype) != 1 || strcmp(fstype, "cgroup2"))
			continue;
		if (sscanf(line, "%*s %*s %*s %*s %4095s", mnt) != 1)
			continue;
		/* mountinfo escapes spaces as \040; cgroup2 mounts do not use them */
		if (strlen(mnt) >= size) {
			err = -ENAMETOOLONG;
			break;
		}
		strcpy(buf, mnt);
		err = 0;
		break;
	}
	free(line);
	return err;
}

int nw_cgroup2_mount(char *buf, size_t size)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	int err;

	if (!f)
		return -errno;
	err = nw_cgroup2_mount_from(f, buf, size);
	fclose(f);
	return err;
}

int nw_cgroup_abs(const char *mount, const char *cgroup, char *out, size_t size)
{
	size_t mlen = strlen(mount);
	const char *rel = cgroup;

	if (strstr(cgroup, "/../") || !strcmp(cgroup, "..") || !strncmp(cgroup, "../", 3) ||
	    (strlen(cgroup) >= 3 && !strcmp(cgroup + strlen(cgroup) - 3, "/..")))
		return -EINVAL;
	if (!strncmp(cgroup, mount, mlen) && (cgroup[mlen] == '/' || !cgroup[mlen]))
		rel = cgroup + mlen;
	while (*rel == '/')
		rel++;
	if (!*rel)
		return nw_path(out, size, "%s", mount);
	return nw_path(out, size, "%s/%s", mount, rel);
}

int nw_cgroup_id(const char *abs_path, uint64_t *id)
{
	struct {
		struct file_handle fh;
		uint64_t cgid;
	} h = { .fh.handle_bytes = sizeof(uint64_t) };
	int mount_id;
	struct stat st;

	if (stat(abs_path, &st) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	if (name_to_handle_at(AT_FDCWD, abs_path, &h.fh, &mount_id, 0) == 0 &&
	    h.fh.handle_bytes == sizeof(uint64_t)) {
		memcpy(id, h.fh.f_handle, sizeof(*id));
		return 0;
	}
	*id = (uint64_t)st.st_ino;	/* same value on 64-bit kernels */
	return 0;
}

int nw_cgroup_path_from_id(const char *mount, uint64_t id, char *out, size_t size)
{
	struct {
		struct file_handle fh;
		uint64_t cgid;
	} h = { .fh.handle_bytes = sizeof(uint64_t), .fh.handle_type = 0xfe /* FILEID_KERNFS */ };
	char link[64], target[PATH_MAX];
	size_t mlen = strlen(mount);
	int mfd, fd, err;
	ssize_t n;

	memcpy(h.fh.f_handle, &id, sizeof(id));
	mfd = open(mount, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (mfd < 0)
		return -errno;
	fd = open_by_handle_at(mfd, &h.fh, O_RDONLY | O_CLOEXEC);
	err = fd < 0 ? -errno : 0;
	close(mfd);
	if (err)
		return err;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, target, sizeof(target) - 1);
	err = n < 0 ? -errno : 0;
	close(fd);
	if (err)
		return err;
	target[n] = 0;
	if (strncmp(target, mount, mlen))
		return nw_path(out, size, "%s", target);	/* outside our view */
	return nw_path(out, size, "%s", target[mlen] ? target + mlen : "/");
}

int nw_cgroup_parse_arg(const char *mount, const char *arg, uint64_t *id)
{
	char abs[PATH_MAX];
	uint64_t v;
	int err;

	if (nw_parse_u64(arg, 1, UINT64_MAX, &v) == 0) {
		*id = v;
		return 0;
	}
	err = nw_cgroup_abs(mount, arg, abs, sizeof(abs));
	if (err)
		return err;
	return nw_cgroup_id(abs, id);
}
