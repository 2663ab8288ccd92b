// SPDX-License-Identifier: GPL-2.0-only
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/inet_diag.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>

#include "listeners.h"
#include "rtnl.h"

#define TCP_LISTEN_STATE 10

struct scan {
	struct nw_listener *v;
	size_t n, cap;
	int err;
	uint8_t proto;
};

static int wildcard(const struct inet_diag_msg *m, uint8_t *family)
{
	static const uint8_t zero[16], mapped[12] = { [10] = 0xff, [11] = 0xff };
	const uint8_t *a = (const uint8_t *)m->id.idiag_src;

	if (m->idiag_family == AF_INET) {
		*family = 4;
		return !memcmp(a, zero, 4);
	}
	if (!memcmp(a, zero, 16)) {
		*family = 6;
		return 1;
	}
	if (!memcmp(a, mapped, 12) && !memcmp(a + 12, zero, 4)) {
		*family = 4;
		return 1;
	}
	return 0;
}

static int on_msg(const struct nlmsghdr *nlh, void *data)
{
	const struct inet_diag_msg *m = mnl_nlmsg_get_payload(nlh);
	struct scan *s = data;
	struct nw_listener *l;
	uint8_t family;

	if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(*m)))
		return MNL_CB_ERROR;
	if (!wildcard(m, &family) || m->id.idiag_dport)
		return MNL_CB_OK;
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		void *v = realloc(s->v, cap * sizeof(*s->v));

		if (!v) {
			s->err = -ENOMEM;
			return MNL_CB_ERROR;
		}
		s->v = v;
		s->cap = cap;
	}
	l = &s->v[s->n++];
	memset(l, 0, sizeof(*l));
	l->family = family;
	l->sock_family = m->idiag_family;
	l->proto = s->proto;
	memcpy(l->addr, m->id.idiag_src, 16);
	l->port = ntohs(m->id.idiag_sport);
	l->uid = m->idiag_uid;
	l->inode = m->idiag_inode;
	return MNL_CB_OK;
}

static int dump(struct mnl_socket *nl, struct scan *s, uint8_t family, uint8_t proto)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh;
	struct inet_diag_req_v2 *req;
	unsigned seq = (unsigned)time(NULL), portid = mnl_socket_get_portid(nl);
	ssize_t n;
	int r;

	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = SOCK_DIAG_BY_FAMILY;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = seq;
	req = mnl_nlmsg_put_extra_header(nlh, sizeof(*req));
	req->sdiag_family = family;
	req->sdiag_protocol = proto;
	/* TCP: listeners; UDP: every socket (bound ones are "closed") */
	req->idiag_states = proto == IPPROTO_TCP ? 1u << TCP_LISTEN_STATE : ~0u;
	s->proto = proto;
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	while ((n = mnl_socket_recvfrom(nl, buf, sizeof(buf))) > 0) {
		/* mnl_cb_run trusts lengths of 2 GiB and more: check them first */
		const struct nlmsghdr *m = (const struct nlmsghdr *)buf;
		int left = (int)n;

		for (; left > 0; m = mnl_nlmsg_next(m, &left))
			if (!nw_nlmsg_ok(m, left))
				return -EBADMSG;
		r = mnl_cb_run(buf, (size_t)n, seq, portid, on_msg, s);
		if (r == MNL_CB_STOP)
			return 0;
		if (r < 0)
			return s->err ? s->err : -errno;
	}
	return n < 0 ? -errno : 0;
}

/* One pass over /proc/<pid>/fd: owner of every socket inode we found. */
static void find_owners(struct nw_listener *v, size_t n)
{
	DIR *proc = opendir("/proc");
	struct dirent *pe;
	size_t left = n;

	if (!proc)
		return;
	while (left && (pe = readdir(proc))) {
		char path[300], target[64];
		struct dirent *fe;
		DIR *fds;
		pid_t pid = (pid_t)atoi(pe->d_name);

		if (pid <= 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/fd", pid);
		if (!(fds = opendir(path)))
			continue;
		while (left && (fe = readdir(fds))) {
			char link[300];
			unsigned long ino;
			ssize_t len;

			snprintf(link, sizeof(link), "/proc/%d/fd/%s", pid, fe->d_name);
			len = readlink(link, target, sizeof(target) - 1);
			if (len <= 0)
				continue;
			target[len] = 0;
			if (sscanf(target, "socket:[%lu]", &ino) != 1)
				continue;
			for (size_t i = 0; i < n; i++) {
				if (v[i].pid || v[i].inode != ino)
					continue;
				v[i].pid = pid;
				left--;
				snprintf(path, sizeof(path), "/proc/%d/comm", pid);
				FILE *f = fopen(path, "re");
				if (f) {
					if (fgets(v[i].comm, sizeof(v[i].comm), f))
						v[i].comm[strcspn(v[i].comm, "\n")] = 0;
					fclose(f);
				}
			}
		}
		closedir(fds);
	}
	closedir(proc);
}

int nw_scan_wildcard_listeners(struct nw_listener **out, int with_owners)
{
	static const uint8_t fams[] = { AF_INET, AF_INET6 };
	static const uint8_t protos[] = { IPPROTO_TCP, IPPROTO_UDP };
	struct scan s = { 0 };
	struct mnl_socket *nl;
	int err = 0;

	nl = mnl_socket_open(NETLINK_SOCK_DIAG);
	if (!nl)
		return -errno;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		err = -errno;
		goto cleanup;
	}
	for (size_t f = 0; f < 2; f++)
		for (size_t p = 0; p < 2; p++)
			if ((err = dump(nl, &s, fams[f], protos[p])))
				goto cleanup;
	if (with_owners)
		find_owners(s.v, s.n);
	*out = s.v;
	s.v = NULL;
	err = (int)s.n;
cleanup:
	free(s.v);
	mnl_socket_close(nl);
	return err;
}

int nw_listener_port(uint64_t inode, uint16_t *port)
{
	struct nw_listener *v = NULL;
	int n = nw_scan_wildcard_listeners(&v, 0), err = -ENOENT;

	for (int i = 0; i < n; i++)
		if (v[i].proto == IPPROTO_TCP && v[i].inode == inode) {
			*port = v[i].port;
			err = 0;
			break;
		}
	free(v);
	return n < 0 ? n : err;
}
