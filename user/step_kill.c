// SPDX-License-Identifier: GPL-2.0-only
/*
 * kill_wildcard_owner (level 3, off by default): the processes the bind
 * guard reported holding a wildcard listener (seed 003: an admin service
 * on 0.0.0.0:8443 took the appliance down) are stopped, if they still
 * exist (never pid 1, never netward) and still listen on that port. A
 * process of a systemd service is stopped through systemd (StopUnit), so
 * that it is not restarted behind our back; any other gets SIGTERM through
 * a pidfd, which cannot hit a recycled pid. The pidfds tell, through the
 * loop, when each one is gone; what is still alive at the deadline gets
 * SIGKILL.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "listeners.h"
#include "steps_impl.h"
#include "sysbus.h"

#define OWNERS_MAX 32

enum { V_RUNNING, V_EXITED, V_FAILED };

struct victim {
	struct step_run *r;
	pid_t pid;
	char comm[16];
	uint16_t port;
	uint8_t proto;
	int pidfd;
	sd_event_source *src;
	char unit[128];		/* "" not a service's main cgroup */
	bool via_unit;		/* StopUnit asked */
	bool termed;		/* SIGTERM sent */
	bool killed;		/* SIGKILL at the deadline */
	int state;
	char err[96];
};

struct kill_run {
	struct victim v[OWNERS_MAX];
	size_t n;
	char skipped[200];
};

static int pidfd_open(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

static int pidfd_signal(int fd, int sig)
{
	return syscall(SYS_pidfd_send_signal, fd, sig, NULL, 0) < 0 ? -errno : 0;
}

/* pid has socket:[inode] among its file descriptors */
static bool holds_inode(pid_t pid, uint32_t inode)
{
	char path[64], target[64], want[40];
	struct dirent *de;
	bool found = false;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	snprintf(want, sizeof(want), "socket:[%u]", inode);
	if (!(d = opendir(path)))
		return false;
	while (!found && (de = readdir(d))) {
		char link[128];
		ssize_t n;

		if (de->d_name[0] == '.')
			continue;
		snprintf(link, sizeof(link), "%s/%s", path, de->d_name);
		n = readlink(link, target, sizeof(target) - 1);
		if (n <= 0)
			continue;
		target[n] = 0;
		found = !strcmp(target, want);
	}
	closedir(d);
	return found;
}

static bool still_listens(const struct victim *v, const struct nw_listener *l, int n)
{
	for (int i = 0; i < n; i++)
		if (l[i].port == v->port && (!v->proto || l[i].proto == v->proto) &&
		    (l[i].pid == v->pid || holds_inode(v->pid, l[i].inode)))
			return true;
	return false;
}

/* the systemd service whose cgroup the process is in: "foo.service", or "" */
static void service_of(pid_t pid, char *unit, size_t size)
{
	char path[64], line[512];
	FILE *f;

	unit[0] = 0;
	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	if (!(f = fopen(path, "re")))
		return;
	while (fgets(line, sizeof(line), f)) {
		const char *base;
		size_t n;

		if (strncmp(line, "0::", 3))
			continue;
		line[strcspn(line, "\n")] = 0;
		base = strrchr(line + 3, '/');
		base = base ? base + 1 : line + 3;
		n = strlen(base);
		if (n > 8 && !strcmp(base + n - 8, ".service"))
			snprintf(unit, size, "%s", base);
		break;
	}
	fclose(f);
}

static void victim_name(const struct victim *v, char *buf, size_t size)
{
	if (v->via_unit)
		snprintf(buf, size, "%s (pid %d %s, port %u)", v->unit, (int)v->pid, v->comm,
			 v->port);
	else
		snprintf(buf, size, "pid %d (%s, port %u)", (int)v->pid, v->comm, v->port);
}

static void kill_finish(struct step_run *r)
{
	struct kill_run *k = r->priv;
	char stopped[400] = "", killed[200] = "", failed[200] = "";
	unsigned n_stop = 0, n_kill = 0, n_fail = 0;

	for (size_t i = 0; i < k->n; i++) {
		struct victim *v = &k->v[i];
		char name[200];

		victim_name(v, name, sizeof(name));
		if (v->state == V_FAILED) {
			n_fail++;
			step_list_add(failed, sizeof(failed), "%s: %s", name, v->err);
		} else if (v->killed) {
			n_kill++;
			step_list_add(killed, sizeof(killed), "%s", name);
		} else if (v->state == V_EXITED) {
			n_stop++;
			step_list_add(stopped, sizeof(stopped), "%s", name);
		}
	}
	r->out.changes = n_stop + n_kill;
	if (n_stop && n_kill)
		step_detail(r, "stopped %s; SIGKILL to %s", stopped, killed);
	else if (n_stop)
		step_detail(r, "stopped %s", stopped);
	else if (n_kill)
		step_detail(r, "SIGKILL to %s", killed);
	else
		step_detail(r, "nothing stopped");
	if (n_kill || n_fail)
		step_leftover(r, "%s%s%s%s", n_kill ? "still alive at the deadline: " : "", killed,
			      n_kill && n_fail ? "; " : "", failed);
	step_complete(r, n_stop + n_kill ? NW_STEP_CHANGED : n_fail ? NW_STEP_FAILED :
		      NW_STEP_NOTHING);
}

static void check_all(struct step_run *r)
{
	struct kill_run *k = r->priv;

	for (size_t i = 0; i < k->n; i++)
		if (k->v[i].state == V_RUNNING)
			return;
	kill_finish(r);
}

static void victim_failed(struct victim *v, const char *what, int err)
{
	v->state = V_FAILED;
	snprintf(v->err, sizeof(v->err), "%s: %s", what, strerror(-err));
	v->src = sd_event_source_disable_unref(v->src);
}

static void send_term(struct victim *v)
{
	int err = pidfd_signal(v->pidfd, SIGTERM);

	v->termed = true;
	if (err == -ESRCH)
		v->state = V_EXITED;	/* gone meanwhile */
	else if (err)
		victim_failed(v, "SIGTERM", err);
}

static int on_exit_fd(sd_event_source *src, int fd, uint32_t revents, void *ud)
{
	struct victim *v = ud;

	(void)fd;
	(void)revents;
	v->src = sd_event_source_disable_unref(src);
	if (v->state == V_RUNNING)
		v->state = V_EXITED;
	check_all(v->r);
	return 0;
}

static int on_stopped(sd_bus_message *m, void *ud, sd_bus_error *ret_error)
{
	struct victim *v = ud;

	(void)ret_error;
	if (sd_bus_message_is_method_error(m, NULL) && v->state == V_RUNNING) {
		/* systemd would not: do it ourselves */
		v->via_unit = false;
		send_term(v);
		check_all(v->r);
	}
	/* else: the job is queued; the pidfd tells when the process is gone */
	return 0;
}

static void kill_timeout(struct step_run *r)
{
	struct kill_run *k = r->priv;

	for (size_t i = 0; k && i < k->n; i++) {
		struct victim *v = &k->v[i];
		int err;

		if (v->state != V_RUNNING)
			continue;
		err = pidfd_signal(v->pidfd, SIGKILL);
		if (!err)
			v->killed = true;
		else if (err == -ESRCH)
			v->state = V_EXITED;
		else
			victim_failed(v, "SIGKILL", err);
	}
	if (!k) {
		step_complete(r, NW_STEP_TIMEOUT);
		return;
	}
	kill_finish(r);
}

/* The owners worth stopping: alive, not pid 1 or us, still listening. */
static int pick(struct step_run *r, struct kill_run *k)
{
	const struct nw_steps_env *env = &r->s->env;
	struct nw_wildcard_owner own[OWNERS_MAX];
	struct nw_listener *l = NULL;
	size_t n = env->wildcard_owners(env->ud, own, OWNERS_MAX);
	int nl;

	for (size_t i = 0; i < n && i < OWNERS_MAX; i++) {
		struct victim *v = &k->v[k->n];
		bool dup = false;

		for (size_t j = 0; j < k->n; j++)
			dup |= k->v[j].pid == own[i].pid;
		if (dup)
			continue;
		if (own[i].pid <= 1 || own[i].pid == getpid()) {
			step_list_add(k->skipped, sizeof(k->skipped), "pid %d never",
				      (int)own[i].pid);
			continue;
		}
		memset(v, 0, sizeof(*v));
		v->r = r;
		v->pid = own[i].pid;
		v->port = own[i].port;
		v->proto = own[i].proto;
		snprintf(v->comm, sizeof(v->comm), "%s", own[i].comm);
		/* the pidfd first: from here on the pid cannot be recycled under us */
		if ((v->pidfd = pidfd_open(v->pid)) < 0) {
			step_list_add(k->skipped, sizeof(k->skipped), "pid %d gone", (int)v->pid);
			continue;
		}
		k->n++;
	}
	if (!k->n)
		return 0;
	if ((nl = nw_scan_wildcard_listeners(&l, 1)) < 0) {
		step_detail(r, "listing wildcard listeners: %s", strerror(-nl));
		return nl;
	}
	for (size_t i = 0; i < k->n;) {
		struct victim *v = &k->v[i];

		if (still_listens(v, l, nl)) {
			service_of(v->pid, v->unit, sizeof(v->unit));
			i++;
			continue;
		}
		step_list_add(k->skipped, sizeof(k->skipped), "pid %d (%s) no longer listens on %u",
			      (int)v->pid, v->comm, v->port);
		close(v->pidfd);
		k->v[i] = k->v[--k->n];
	}
	free(l);
	return 0;
}

static int kill_start(struct step_run *r)
{
	struct kill_run *k = calloc(1, sizeof(*k));
	char names[400] = "";
	bool systemd = false;
	int err;

	if (!k)
		return -ENOMEM;
	r->priv = k;
	if (!r->s->env.wildcard_owners) {
		step_detail(r, "no bind guard reports wildcard listeners");
		step_complete(r, NW_STEP_SKIPPED);
		return 0;
	}
	if ((err = pick(r, k)))
		return err;
	if (!k->n) {
		step_detail(r, "no wildcard listener to stop%s%s", k->skipped[0] ? ": " : "",
			    k->skipped);
		step_complete(r, NW_STEP_NOTHING);
		return 0;
	}
	for (size_t i = 0; i < k->n && !systemd; i++)
		systemd = k->v[i].unit[0] && step_bus_has(r, NW_BUS_SYSTEMD);
	for (size_t i = 0; i < k->n; i++) {
		struct victim *v = &k->v[i];
		char name[200];

		v->via_unit = systemd && v->unit[0];
		victim_name(v, name, sizeof(name));
		step_list_add(names, sizeof(names), "%s", name);
	}
	if (r->dry_run) {
		step_detail(r, "would stop %s", names);
		step_complete(r, NW_STEP_DRY_RUN);
		return 0;
	}
	for (size_t i = 0; i < k->n; i++) {
		struct victim *v = &k->v[i];

		if ((err = sd_event_add_io(r->e, &v->src, v->pidfd, EPOLLIN, on_exit_fd, v)) < 0) {
			victim_failed(v, "watching it", err);
			continue;
		}
		if (v->via_unit &&
		    step_bus_call(r, on_stopped, v, NW_BUS_SYSTEMD, "/org/freedesktop/systemd1",
				  "org.freedesktop.systemd1.Manager", "StopUnit", "ss", v->unit,
				  "replace") >= 0)
			continue;
		v->via_unit = false;
		send_term(v);
	}
	check_all(r);
	return 0;
}

static void kill_cleanup(struct step_run *r)
{
	struct kill_run *k = r->priv;

	if (!k)
		return;
	for (size_t i = 0; i < k->n; i++) {
		sd_event_source_disable_unref(k->v[i].src);
		if (k->v[i].pidfd >= 0)
			close(k->v[i].pidfd);
	}
	free(k);
}

const struct step_impl nw_step_kill_owner_impl = {
	.start = kill_start,
	.timeout = kill_timeout,
	.cleanup = kill_cleanup,
};
