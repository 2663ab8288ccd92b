// SPDX-License-Identifier: GPL-2.0-only
/*
 * bindtest: binds one real socket the way a test asks and prints what the
 * kernel answered as one JSON line:
 *   {"bind":"ok","errno":0,"addr":"127.0.0.1","port":8443,"listen":"ok"}
 * Usage: bindtest [--cgroup DIR] [--family 4|6] [--proto tcp|udp]
 *                 [--addr A] [--port N] [--no-bind] [--listen] [--hold]
 * --cgroup moves this process (only this one) into DIR first. --hold keeps
 * the socket open until stdin closes. Exit: 0 bind ok, 1 bind refused,
 * 2 usage or setup error.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int join_cgroup(const char *dir)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	f = fopen(path, "w");
	if (!f || fprintf(f, "%d\n", getpid()) < 0 || fclose(f) != 0) {
		fprintf(stderr, "bindtest: join %s: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "cgroup", required_argument, NULL, 'c' }, { "family", required_argument, NULL, 'f' },
		{ "proto", required_argument, NULL, 'p' },  { "addr", required_argument, NULL, 'a' },
		{ "port", required_argument, NULL, 'P' },   { "no-bind", no_argument, NULL, 'n' },
		{ "listen", no_argument, NULL, 'l' },       { "hold", no_argument, NULL, 'H' },
		{ 0 }
	};
	const char *cgroup = NULL, *addr = NULL;
	int family = 4, udp = 0, port = 0, no_bind = 0, do_listen = 0, hold = 0, o, fd, rc = 0;
	struct sockaddr_storage ss = { 0 };
	socklen_t len;
	char buf[INET6_ADDRSTRLEN];

	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'c': cgroup = optarg; break;
		case 'f': family = atoi(optarg); break;
		case 'p': udp = !strcmp(optarg, "udp"); break;
		case 'a': addr = optarg; break;
		case 'P': port = atoi(optarg); break;
		case 'n': no_bind = 1; break;
		case 'l': do_listen = 1; break;
		case 'H': hold = 1; break;
		default: return 2;
		}
	}
	if (cgroup && join_cgroup(cgroup))
		return 2;
	fd = socket(family == 6 ? AF_INET6 : AF_INET, udp ? SOCK_DGRAM : SOCK_STREAM, 0);
	if (fd < 0) {
		perror("bindtest: socket");
		return 2;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &(int){ 1 }, sizeof(int));
	if (family == 6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, addr ? addr : "::", &s6->sin6_addr) != 1)
			return 2;
		len = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		if (inet_pton(AF_INET, addr ? addr : "0.0.0.0", &s4->sin_addr) != 1)
			return 2;
		len = sizeof(*s4);
	}
	printf("{");
	if (!no_bind) {
		int err = bind(fd, (struct sockaddr *)&ss, len) < 0 ? errno : 0;

		printf("\"bind\":\"%s\",\"errno\":%d", err ? strerrorname_np(err) : "ok", err);
		rc = err ? 1 : 0;
	} else {
		printf("\"bind\":\"skipped\",\"errno\":0");
	}
	if (!rc && do_listen) {
		int err = listen(fd, 8) < 0 ? errno : 0;

		printf(",\"listen\":\"%s\"", err ? strerrorname_np(err) : "ok");
	}
	len = sizeof(ss);
	memset(&ss, 0, sizeof(ss));
	if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0) {
		if (ss.ss_family == AF_INET6) {
			struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

			inet_ntop(AF_INET6, &s6->sin6_addr, buf, sizeof(buf));
			printf(",\"addr\":\"%s\",\"port\":%u", buf, ntohs(s6->sin6_port));
		} else {
			struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

			inet_ntop(AF_INET, &s4->sin_addr, buf, sizeof(buf));
			printf(",\"addr\":\"%s\",\"port\":%u", buf, ntohs(s4->sin_port));
		}
	}
	printf(",\"pid\":%d}\n", getpid());
	fflush(stdout);
	if (hold) {
		char c;

		while (read(STDIN_FILENO, &c, 1) > 0)
			;
	}
	close(fd);
	return rc;
}
