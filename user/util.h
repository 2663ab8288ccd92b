/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef NETWARD_UTIL_H
#define NETWARD_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NW_TS_LEN 40

uint64_t nw_now_ns(int clock_id);
/* CLOCK_BOOTTIME nanoseconds (what BPF's ktime_get_boot_ns gives) to an
 * RFC 3339 UTC time with microseconds: 2026-11-22T01:39:12.123456Z */
void nw_format_boot_ts(uint64_t boot_ns, char buf[NW_TS_LEN]);
void nw_format_realtime(uint64_t real_ns, char buf[NW_TS_LEN]);

/* Inode of the network namespace of this process (/proc/self/ns/net). */
int nw_self_netns(uint32_t *inum);

/* The netns cookie of this process's netns (SO_NETNS_COOKIE, 5.14+). */
int nw_self_netns_cookie(uint64_t *cookie);

/* snprintf that returns -ENAMETOOLONG on truncation */
int nw_path(char *buf, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* mkdir -p with mode for the directories it creates */
int nw_mkdir_p(const char *path, unsigned mode);

/* Reads a whole file into a NUL-terminated malloc'ed buffer. */
int nw_read_file(const char *path, char **out, size_t max);

/* Reads a regular file of at most max bytes (a FIFO does not block: it is
 * refused, as is anything else that is not a regular file) into a
 * NUL-terminated malloc'ed buffer, *len bytes. On failure -errno, *out NULL
 * and the cause in err: "not a regular file", "5000 bytes, at most 4096",
 * "read: Input/output error", strerror for the open. */
int nw_read_regular_file(const char *path, size_t max, char **out, size_t *len, char *err,
			 size_t errlen);

/* A boot id (a UUID) and its NUL */
#define NW_BOOT_ID_LEN 37

/* /proc/sys/kernel/random/boot_id without its newline; "" when it cannot be
 * read or does not fit in size bytes. */
void nw_boot_id(char *out, size_t size);

/* 8-4-4-4-12 hex digits, the whole string */
bool nw_is_uuid(const char *s);

/* write(2) until all of buf is written (EINTR retried): 0 or -errno. */
int nw_write_all(int fd, const void *buf, size_t len);

/* Replaces dest with buf atomically: a temp file beside it (mode),
 * fsync'ed, renamed over dest, then the directory fsync'ed. A failed
 * directory fsync is an error only when must_sync_dir (the caller relies
 * on the rename surviving a crash). 0 or -errno; nothing left behind. */
int nw_write_file_atomic(const char *dest, const void *buf, size_t len, unsigned mode,
			 bool must_sync_dir);

/* Parses a decimal unsigned number in [min, max]; the whole string. */
int nw_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);

#define NW_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* `ip netns exec` runs a command in a mount namespace with a fresh /sys:
 * no cgroup2, no bpffs. When ours lacks either, join the mount namespace of
 * the nearest ancestor process (whoever ran ip netns exec) that has cgroup2;
 * the network namespace is not touched; the working directory is kept. 1 joined, 0 not needed, -errno. */
int nw_mountns_fixup(void);

#endif
