/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Secrets read from files (tunnels.watch[].token_file, segw psk_file): the
 * file must be a regular file owned by root or by netwardd's user and
 * neither group- nor world-accessible. The value lives in its own mapping,
 * excluded from core dumps (MADV_DONTDUMP) and wiped when freed; it is
 * never logged: callers only ever print nw_secret_id().
 */
#ifndef NETWARD_SECRET_H
#define NETWARD_SECRET_H

#include <stddef.h>
#include <stdint.h>

#define NW_SECRET_MAX 4096

struct nw_secret;

/* Reads path. Surrounding whitespace (a trailing newline) is dropped; the
 * rest must be 1..NW_SECRET_MAX printable ASCII bytes without spaces.
 * -EPERM with err "<path> is readable by group or others (mode 0644): run
 * chmod 600 <path>", -EACCES owner, -EINVAL content ("is empty", "contains
 * a space or a control character" — never the value), -errno otherwise.
 * err gets "<path>: <problem>" without the field name; callers prefix it. */
int nw_secret_load(const char *path, struct nw_secret **out, char *err, size_t errlen);
/* Only checks what nw_secret_load checks (--check-config), keeping nothing. */
int nw_secret_check(const char *path, char *err, size_t errlen);
/* The value and its length; valid until nw_secret_free. */
const char *nw_secret_value(const struct nw_secret *s, size_t *len);
/* A stable, non-reversible id for logs and grouping: "sha256:" + the first
 * 12 hex digits of SHA-256 of the value (two files with the same token
 * share one request budget). */
const char *nw_secret_id(const struct nw_secret *s);
/* One more holder of s (many connections naming one file share one
 * mapping): each holder calls nw_secret_free once. Returns s. */
struct nw_secret *nw_secret_ref(struct nw_secret *s);
/* Drops one holder; the last wipes (explicit_bzero) and unmaps. NULL is fine. */
void nw_secret_free(struct nw_secret *s);

#endif
