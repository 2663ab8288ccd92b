/* SPDX-License-Identifier: GPL-2.0-only */
/* A private dbus-daemon for tests: its socket and its config
 * (tests/helpers/private_bus.conf: anyone connected may own and call
 * anything) in a temp dir of its own, and clients of it on a test's
 * sd-event loop. The stand-in for systemd & co. is each test's own. */
#ifndef NETWARD_TEST_PRIVATE_BUS_H
#define NETWARD_TEST_PRIVATE_BUS_H

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

struct private_bus {
	pid_t daemon;
	char dir[64];		/* bus (the socket) and bus.conf */
	char addr[128];		/* unix:path=<dir>/bus */
};

/* tests/helpers/NAME: from the repository (the working directory of make
 * unit), else beside the binary's directory (build/test_X); four static
 * buffers in turn */
static inline const char *test_helper(const char *name)
{
	static char path[4][PATH_MAX];
	static int next;
	char *p = path[next++ % 4], exe[PATH_MAX];
	ssize_t n;

	snprintf(p, PATH_MAX, "tests/helpers/%s", name);
	if (!access(p, R_OK))
		return p;
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	exe[n > 0 ? n : 0] = 0;
	for (int i = 0; i < 2 && strrchr(exe, '/'); i++)
		*strrchr(exe, '/') = 0;
	snprintf(p, PATH_MAX, "%s/tests/helpers/%s", exe, name);
	return p;
}

static inline const char *private_bus_daemon(void)
{
	static const char *const paths[] = { "/usr/bin/dbus-daemon", "/bin/dbus-daemon",
					     "/usr/local/bin/dbus-daemon" };

	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		if (!access(paths[i], X_OK))
			return paths[i];
	return NULL;
}

/* tests/helpers/private_bus.conf with every @SOCKET@ filled in, as conf */
static inline int private_bus_write_conf(const char *conf, const char *sock)
{
	FILE *in = fopen(test_helper("private_bus.conf"), "r"), *out;
	char text[4096], *p, *at;
	size_t n;

	if (!in)
		return -1;
	n = fread(text, 1, sizeof(text) - 1, in);
	fclose(in);
	text[n] = 0;
	if (!(out = fopen(conf, "w")))
		return -1;
	for (p = text; (at = strstr(p, "@SOCKET@")); p = at + strlen("@SOCKET@"))
		fprintf(out, "%.*s%s", (int)(at - p), p, sock);
	fputs(p, out);
	return fclose(out) ? -1 : 0;
}

/* Starts a dbus-daemon and returns once it listens on b->addr: 0,
 * -ENOENT without dbus-daemon, -EIO when it would not start.
 * private_bus_stop cleans up after either. */
static inline int private_bus_start(struct private_bus *b)
{
	const char *daemon = private_bus_daemon();
	char conf[96], sock[96], confarg[128], fdarg[32], line[256];
	int pfd[2];
	ssize_t n;

	memset(b, 0, sizeof(*b));
	if (!daemon)
		return -ENOENT;
	snprintf(b->dir, sizeof(b->dir), "/tmp/nw-bus-XXXXXX");
	if (!mkdtemp(b->dir)) {
		b->dir[0] = 0;
		return -EIO;
	}
	snprintf(conf, sizeof(conf), "%s/bus.conf", b->dir);
	snprintf(sock, sizeof(sock), "%s/bus", b->dir);
	if (private_bus_write_conf(conf, sock) || pipe2(pfd, O_CLOEXEC))
		return -EIO;
	snprintf(confarg, sizeof(confarg), "--config-file=%s", conf);
	snprintf(fdarg, sizeof(fdarg), "--print-address=%d", pfd[1]);
	if ((b->daemon = fork()) == 0) {
		int null = open("/dev/null", O_WRONLY | O_CLOEXEC);

		prctl(PR_SET_PDEATHSIG, SIGTERM);
		fcntl(pfd[1], F_SETFD, 0);	/* the write end survives exec */
		if (null >= 0)
			dup2(null, 2);	/* "Failed to set fd limit" and the like */
		execl(daemon, daemon, confarg, "--nofork", fdarg, (char *)NULL);
		_exit(127);
	}
	close(pfd[1]);
	/* the address is printed once it listens (EOF if it died) */
	n = b->daemon > 0 ? read(pfd[0], line, sizeof(line) - 1) : -1;
	close(pfd[0]);
	if (n <= 0)
		return -EIO;
	snprintf(b->addr, sizeof(b->addr), "unix:path=%s", sock);
	return 0;
}

static inline void private_bus_stop(struct private_bus *b)
{
	char p[128];

	if (b->daemon > 0) {
		kill(b->daemon, SIGTERM);
		waitpid(b->daemon, NULL, 0);
		b->daemon = 0;
	}
	if (b->dir[0]) {
		snprintf(p, sizeof(p), "%s/bus.conf", b->dir);
		unlink(p);
		snprintf(p, sizeof(p), "%s/bus", b->dir);
		unlink(p);
		rmdir(b->dir);
		b->dir[0] = 0;
	}
}

/* a client of b on e, as *out: 0, or -errno */
static inline int private_bus_connect(const struct private_bus *b, sd_event *e, sd_bus **out)
{
	sd_bus *bus = NULL;
	int r;

	if ((r = sd_bus_new(&bus)) < 0 || (r = sd_bus_set_address(bus, b->addr)) < 0 ||
	    (r = sd_bus_set_bus_client(bus, 1)) < 0 || (r = sd_bus_start(bus)) < 0 ||
	    (r = sd_bus_attach_event(bus, e, 0)) < 0) {
		sd_bus_unref(bus);
		return r;
	}
	*out = bus;
	return 0;
}

#endif
