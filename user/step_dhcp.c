// SPDX-License-Identifier: GPL-2.0-only
/*
 * renew_dhcp (level 3): a new lease on the main interface, from whoever
 * manages it: systemd-networkd (RenewLink), NetworkManager (activate the
 * device again), else recovery.dhcp_command. The command runs as a child
 * in its own process group, stdin /dev/null, stdout and stderr into a pipe
 * whose tail goes into the detail; sd-event reaps it (sd_event_add_child;
 * SIGCHLD is blocked by nw_steps_new). At the deadline the group gets
 * SIGTERM, 500 ms later SIGKILL. The product never runs a shell itself:
 * the command is an argv, "{iface}" replaced in every argument.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "steps_impl.h"
#include "sysbus.h"

#define KILL_GRACE_US 500000
#define OUTPUT_TAIL 160

extern char **environ;

struct dhcp_run {
	struct step_run *r;
	pid_t pid;
	sd_event_source *child, *out_src, *kill_timer;
	int out_fd;
	bool exited, timed_out, killed;
	char tail[OUTPUT_TAIL + 1];	/* the last bytes the command wrote */
	size_t tail_len;
	char cmd[200];
	char *argv[NW_RECOVERY_ARGV_MAX + 1];
};

/* --- bus managers ----------------------------------------------------------------- */

static int on_renewed(sd_bus_message *m, void *ud, sd_bus_error *ret_error)
{
	struct step_run *r = ud;

	(void)ret_error;
	if (sd_bus_message_is_method_error(m, NULL)) {
		step_detail(r, "systemd-networkd could not renew %s: %s", r->main_if,
			    step_bus_error(m));
		step_complete(r, NW_STEP_FAILED);
		return 0;
	}
	r->out.changes = 1;
	step_detail(r, "systemd-networkd renews the DHCP lease of %s", r->main_if);
	step_complete(r, NW_STEP_CHANGED);
	return 0;
}

static int on_activated(sd_bus_message *m, void *ud, sd_bus_error *ret_error)
{
	struct step_run *r = ud;

	(void)ret_error;
	if (sd_bus_message_is_method_error(m, NULL)) {
		step_detail(r, "NetworkManager could not activate %s: %s", r->main_if,
			    step_bus_error(m));
		step_complete(r, NW_STEP_FAILED);
		return 0;
	}
	r->out.changes = 1;
	step_detail(r, "NetworkManager activates %s again", r->main_if);
	step_complete(r, NW_STEP_CHANGED);
	return 0;
}

static int on_device(sd_bus_message *m, void *ud, sd_bus_error *ret_error)
{
	struct step_run *r = ud;
	const char *dev = NULL;
	int err;

	(void)ret_error;
	if (sd_bus_message_is_method_error(m, NULL)) {
		step_detail(r, "NetworkManager does not know %s: %s", r->main_if,
			    step_bus_error(m));
		step_complete(r, NW_STEP_FAILED);
		return 0;
	}
	if ((err = sd_bus_message_read(m, "o", &dev)) < 0 ||
	    (err = step_bus_call(r, on_activated, r, NW_BUS_NM, "/org/freedesktop/NetworkManager",
				 "org.freedesktop.NetworkManager", "ActivateConnection", "ooo",
				 "/", dev, "/")) < 0) {
		step_detail(r, "NetworkManager: %s", strerror(-err));
		step_complete(r, NW_STEP_FAILED);
	}
	return 0;
}

/* --- dhcp_command -------------------------------------------------------------------- */

static void drain_output(struct dhcp_run *d)
{
	char buf[512];
	ssize_t n;

	if (d->out_fd < 0)
		return;
	while ((n = read(d->out_fd, buf, sizeof(buf))) > 0) {
		size_t k = (size_t)n;

		if (k >= OUTPUT_TAIL) {
			memcpy(d->tail, buf + k - OUTPUT_TAIL, OUTPUT_TAIL);
			d->tail_len = OUTPUT_TAIL;
			continue;
		}
		if (d->tail_len + k > OUTPUT_TAIL) {
			size_t drop = d->tail_len + k - OUTPUT_TAIL;

			memmove(d->tail, d->tail + drop, d->tail_len - drop);
			d->tail_len -= drop;
		}
		memcpy(d->tail + d->tail_len, buf, k);
		d->tail_len += k;
	}
	if (n == 0) {
		/* every writer closed it */
		d->out_src = sd_event_source_disable_unref(d->out_src);
		close(d->out_fd);
		d->out_fd = -1;
	}
}

/* the tail as one line: the last non-empty line, control characters replaced */
static void output_line(struct dhcp_run *d, char *buf, size_t size)
{
	char t[OUTPUT_TAIL + 1];
	char *p, *line;

	memcpy(t, d->tail, d->tail_len);
	t[d->tail_len] = 0;
	for (p = t + strlen(t); p > t && (p[-1] == '\n' || p[-1] == '\r' || p[-1] == ' '); p--)
		p[-1] = 0;
	line = strrchr(t, '\n');
	line = line ? line + 1 : t;
	for (p = line; *p; p++)
		if ((unsigned char)*p < 0x20)
			*p = ' ';
	snprintf(buf, size, "%s", line);
}

static int on_output(sd_event_source *src, int fd, uint32_t revents, void *ud)
{
	(void)src;
	(void)fd;
	(void)revents;
	drain_output(ud);
	return 0;
}

static int on_child(sd_event_source *src, const siginfo_t *si, void *ud)
{
	struct dhcp_run *d = ud;
	struct step_run *r;
	char out[OUTPUT_TAIL + 1];

	if (!d) {
		/* an orphan (SIGKILLed after the deadline, or abandoned): reaped now */
		sd_event_source_set_floating(src, 0);	/* drops the last reference */
		return 0;
	}
	r = d->r;
	d->exited = true;
	drain_output(d);
	output_line(d, out, sizeof(out));
	if (d->timed_out) {
		step_leftover(r, "dhcp_command pid %d killed after the deadline (%s)", (int)d->pid,
			      d->killed ? "SIGKILL" : "SIGTERM");
		step_complete(r, NW_STEP_TIMEOUT);
	} else if (si->si_code == CLD_EXITED && si->si_status == 0) {
		r->out.changes = 1;
		step_detail(r, "%s exited 0%s%s", d->cmd, out[0] ? ": " : "", out);
		step_complete(r, NW_STEP_CHANGED);
	} else if (si->si_code == CLD_EXITED) {
		step_detail(r, "dhcp_command exited %d%s%s", si->si_status, out[0] ? ": " : "",
			    out);
		step_complete(r, NW_STEP_FAILED);
	} else {
		step_detail(r, "dhcp_command killed by signal %d%s%s", si->si_status,
			    out[0] ? ": " : "", out);
		step_complete(r, NW_STEP_FAILED);
	}
	return 0;
}

/* The child source outlives the step: sd-event reaps the child when it
 * exits, or SIGKILLs and reaps it when the loop goes away. */
static void orphan_child(struct dhcp_run *d)
{
	if (!d->child)
		return;
	if (!d->exited) {
		kill(-d->pid, SIGKILL);
		sd_event_source_set_userdata(d->child, NULL);
		if (sd_event_source_set_floating(d->child, 1) >= 0) {
			sd_event_source_unref(d->child);
			d->child = NULL;
			return;
		}
	}
	d->child = sd_event_source_unref(d->child);
}

static int on_kill_timer(sd_event_source *src, uint64_t usec, void *ud)
{
	struct dhcp_run *d = ud;
	struct step_run *r = d->r;

	(void)src;
	(void)usec;
	d->killed = true;
	kill(-d->pid, SIGKILL);
	step_leftover(r, "dhcp_command pid %d killed after the deadline (SIGKILL)", (int)d->pid);
	step_complete(r, NW_STEP_TIMEOUT);	/* cleanup hands the child to sd-event */
	return 0;
}

static void dhcp_timeout(struct step_run *r)
{
	struct dhcp_run *d = r->priv;

	if (!d || !d->child || d->exited) {
		step_leftover(r, "no answer within %u ms", r->timeout_ms);
		step_complete(r, NW_STEP_TIMEOUT);
		return;
	}
	d->timed_out = true;
	step_detail(r, "%s did not finish within %u ms", d->cmd, r->timeout_ms);
	kill(-d->pid, SIGTERM);
	if (sd_event_add_time_relative(r->e, &d->kill_timer, CLOCK_MONOTONIC, KILL_GRACE_US, 1000,
				       on_kill_timer, d) < 0)
		on_kill_timer(NULL, 0, d);
}

/* argv with "{iface}" replaced; -ENXIO when it needs an interface there is none of */
static int build_argv(struct step_run *r, struct dhcp_run *d)
{
	for (size_t i = 0; i < NW_RECOVERY_ARGV_MAX && r->cfg.dhcp_command[i]; i++) {
		const char *a = r->cfg.dhcp_command[i], *p;
		size_t len = strlen(a) + 1, n = 0;
		char *out;

		for (p = a; (p = strstr(p, "{iface}")); p += 7)
			n++;
		if (n && !r->main_if[0])
			return -ENXIO;
		len += n * IF_NAMESIZE;
		if (!(out = malloc(len)))
			return -ENOMEM;
		d->argv[i] = out;
		for (p = a; *p;) {
			if (!strncmp(p, "{iface}", 7)) {
				out = stpcpy(out, r->main_if);
				p += 7;
			} else {
				*out++ = *p++;
			}
		}
		*out = 0;
		n = strlen(d->cmd);
		snprintf(d->cmd + n, sizeof(d->cmd) - n, "%s%s", n ? " " : "", d->argv[i]);
	}
	return 0;
}

/* The daemon's environment without what belongs to it alone: the
 * child must not notify or feed the watchdog in netward's name, nor take
 * its socket-activation fds. Pointers into environ. */
static char **child_env(void)
{
	static const char *const drop[] = { "NOTIFY_SOCKET=", "WATCHDOG_USEC=", "WATCHDOG_PID=",
					    "LISTEN_FDS=", "LISTEN_PID=", "LISTEN_FDNAMES=" };
	size_t n = 0, k = 0;
	char **v;

	while (environ[n])
		n++;
	if (!(v = calloc(n + 1, sizeof(*v))))
		return NULL;
	for (size_t i = 0; i < n; i++) {
		bool keep = true;

		for (size_t j = 0; keep && j < sizeof(drop) / sizeof(drop[0]); j++)
			keep = strncmp(environ[i], drop[j], strlen(drop[j])) != 0;
		if (keep)
			v[k++] = environ[i];
	}
	return v;
}

static int spawn(struct step_run *r, struct dhcp_run *d)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none, all;
	char **env = child_env();
	int pfd[2] = { -1, -1 }, err;
	bool fa_init = false, at_init = false;

	if (!env)
		return -ENOMEM;
	if (pipe2(pfd, O_CLOEXEC | O_NONBLOCK) < 0) {
		err = -errno;
		goto cleanup;
	}
	if ((err = -posix_spawn_file_actions_init(&fa)))
		goto cleanup;
	fa_init = true;
	if ((err = -posix_spawnattr_init(&at)))
		goto cleanup;
	at_init = true;
	sigemptyset(&none);
	sigfillset(&all);
	/* the loop blocks SIGCHLD, SIGTERM, ...: the child must not inherit that */
	if ((err = -posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0)) ||
	    (err = -posix_spawn_file_actions_adddup2(&fa, pfd[1], 1)) ||
	    (err = -posix_spawn_file_actions_adddup2(&fa, pfd[1], 2)) ||
	    (err = -posix_spawn_file_actions_addclosefrom_np(&fa, 3)) ||
	    (err = -posix_spawnattr_setsigmask(&at, &none)) ||
	    (err = -posix_spawnattr_setsigdefault(&at, &all)) ||
	    (err = -posix_spawnattr_setpgroup(&at, 0)) ||
	    (err = -posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
					     POSIX_SPAWN_SETPGROUP)))
		goto cleanup;
	if ((err = -posix_spawn(&d->pid, d->argv[0], &fa, &at, d->argv, env))) {
		step_detail(r, "cannot run %s: %s", d->argv[0], strerror(-err));
		goto cleanup;
	}
	close(pfd[1]);
	pfd[1] = -1;
	d->out_fd = pfd[0];
	pfd[0] = -1;
	if ((err = sd_event_add_child(r->e, &d->child, d->pid, WEXITED, on_child, d)) < 0) {
		kill(-d->pid, SIGKILL);
		waitpid(d->pid, NULL, 0);
		step_detail(r, "watching dhcp_command: %s", strerror(-err));
		goto cleanup;
	}
	sd_event_source_set_child_process_own(d->child, 1);
	if ((err = sd_event_add_io(r->e, &d->out_src, d->out_fd, EPOLLIN, on_output, d)) < 0)
		goto cleanup;
	err = 0;
cleanup:
	if (fa_init)
		posix_spawn_file_actions_destroy(&fa);
	if (at_init)
		posix_spawnattr_destroy(&at);
	if (pfd[0] >= 0)
		close(pfd[0]);
	if (pfd[1] >= 0)
		close(pfd[1]);
	free(env);
	return err;
}

static int command_start(struct step_run *r)
{
	struct dhcp_run *d = calloc(1, sizeof(*d));
	int err;

	if (!d)
		return -ENOMEM;
	d->r = r;
	d->out_fd = -1;
	r->priv = d;
	if ((err = build_argv(r, d)) == -ENXIO) {
		step_detail(r, "recovery.dhcp_command needs {iface} and there is no main "
			    "interface");
		step_complete(r, NW_STEP_SKIPPED);
		return 0;
	}
	if (err)
		return err;
	if (r->dry_run) {
		step_detail(r, "would run %s", d->cmd);
		step_complete(r, NW_STEP_DRY_RUN);
		return 0;
	}
	return spawn(r, d);
}

static int dhcp_start(struct step_run *r)
{
	int ifindex = r->main_if[0] ? (int)if_nametoindex(r->main_if) : 0;
	bool networkd = step_bus_has(r, NW_BUS_NETWORKD);
	bool nm = !networkd && step_bus_has(r, NW_BUS_NM);

	if (networkd || nm) {
		const char *who = networkd ? "systemd-networkd" : "NetworkManager";

		if (!r->main_if[0]) {
			step_detail(r, "no main interface for %s to renew", who);
			step_complete(r, NW_STEP_SKIPPED);
			return 0;
		}
		if (ifindex <= 0) {
			step_detail(r, "main interface %s not found", r->main_if);
			step_complete(r, NW_STEP_FAILED);
			return 0;
		}
		if (r->dry_run) {
			step_detail(r, "would ask %s to renew the DHCP lease of %s", who,
				    r->main_if);
			step_complete(r, NW_STEP_DRY_RUN);
			return 0;
		}
		if (networkd)
			return step_bus_call(r, on_renewed, r, NW_BUS_NETWORKD,
					     "/org/freedesktop/network1",
					     "org.freedesktop.network1.Manager", "RenewLink", "i",
					     (int32_t)ifindex);
		return step_bus_call(r, on_device, r, NW_BUS_NM, "/org/freedesktop/NetworkManager",
				     "org.freedesktop.NetworkManager", "GetDeviceByIpIface", "s",
				     r->main_if);
	}
	if (r->cfg.dhcp_command[0])
		return command_start(r);
	step_detail(r, "no systemd-networkd or NetworkManager on the bus and "
		    "recovery.dhcp_command is not set");
	step_complete(r, NW_STEP_SKIPPED);
	return 0;
}

static void dhcp_cleanup(struct step_run *r)
{
	struct dhcp_run *d = r->priv;

	if (!d)
		return;
	orphan_child(d);
	sd_event_source_disable_unref(d->kill_timer);
	sd_event_source_disable_unref(d->out_src);
	if (d->out_fd >= 0)
		close(d->out_fd);
	for (size_t i = 0; i < NW_RECOVERY_ARGV_MAX; i++)
		free(d->argv[i]);
	free(d);
}

const struct step_impl nw_step_renew_dhcp_impl = {
	.start = dhcp_start,
	.timeout = dhcp_timeout,
	.cleanup = dhcp_cleanup,
};
