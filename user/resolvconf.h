/* SPDX-License-Identifier: GPL-2.0-only */
/* A known-good copy of resolv.conf in the state dir (taken while the
 * probes pass) and putting it back (recovery step restore_dns when
 * systemd-resolved does not run). A resolv.conf that is a symlink belongs
 * to a resolver manager: it is neither saved nor overwritten. */
#ifndef NETWARD_RESOLVCONF_H
#define NETWARD_RESOLVCONF_H

#define NW_RESOLVCONF_SAVED "resolv.conf.good"

/* Copies path to state_dir/resolv.conf.good (atomically: temp + rename,
 * mode 0644) when it differs from the copy. 1 saved, 0 unchanged,
 * -ELOOP path is a symlink, -errno. */
int nw_resolvconf_save(const char *path, const char *state_dir);

/* Puts the saved copy back over path (temp file in path's directory +
 * rename) when path differs from it. 1 restored, 0 already equal,
 * -ENOENT no saved copy, -ELOOP path is a symlink, -errno.
 * dry_run: returns what it would do, changes nothing. */
int nw_resolvconf_restore(const char *path, const char *state_dir, int dry_run);

#endif
