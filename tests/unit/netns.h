/* SPDX-License-Identifier: GPL-2.0-only */
/* A network namespace of the test's own (root only): only lo there, up,
 * so that every other address has no route; and links set up by name. */
#ifndef NETWARD_TEST_NETNS_H
#define NETWARD_TEST_NETNS_H

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <unistd.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

/* 0, or -errno */
static inline int link_up(const char *name)
{
	struct ifreq ifr = { 0 };
	int fd, r = 0;

	if ((fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
		return -errno;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
		r = -errno;
	ifr.ifr_flags |= IFF_UP;
	if (!r && ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
		r = -errno;
	close(fd);
	return r;
}

/* moves the process into a new network namespace with lo up: 0, or -errno */
static inline int netns_unshare(void)
{
	if (unshare(CLONE_NEWNET) < 0)
		return -errno;
	return link_up("lo");
}

#endif
