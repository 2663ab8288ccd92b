/* SPDX-License-Identifier: GPL-2.0-only */
/* Finds sockets already bound to the wildcard in this netns
 * (NETLINK_SOCK_DIAG) and the process owning each. */
#ifndef NETWARD_LISTENERS_H
#define NETWARD_LISTENERS_H

#include <stdint.h>
#include <sys/types.h>

struct nw_listener {
	uint8_t family;		/* 4 or 6: the wildcard's family */
	uint8_t sock_family;	/* AF_INET / AF_INET6 */
	uint8_t proto;		/* 6 or 17 */
	uint8_t addr[16];
	uint16_t port;
	uint32_t uid;
	uint32_t inode;
	pid_t pid;		/* 0 when no process could be found */
	char comm[16];
};

/* Fills a malloc'ed array; returns the count or -errno. with_owners: find
 * the owning process of each (one pass over /proc). */
int nw_scan_wildcard_listeners(struct nw_listener **out, int with_owners);

/* The local port of the wildcard TCP listener with this socket inode. */
int nw_listener_port(uint64_t inode, uint16_t *port);

#endif
