// SPDX-License-Identifier: GPL-2.0-only
/* Unit tests for user/units.c: unit states, start and stop over a private
 * dbus-daemon, against the systemd1 stand-ins tests/helpers/fake_bus.py
 * (well-behaved) and tests/helpers/fake_units_errors.py (errors, replies
 * that never come). The loop runs until a deadline timer fires; nothing
 * sleeps. Skipped without dbus-daemon or python3 with dbus and gi. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <systemd/sd-event.h>

#include "loop.h"
#include "private_bus.h"
#include "units.h"

#ifndef PYTHON
#define PYTHON "/usr/bin/python3"
#endif
#define JOB_PREFIX "/org/freedesktop/systemd1/job/"

/* --- a private bus and a stand-in ------------------------------------------------------------ */

struct fx {
	struct private_bus pb;
	pid_t standin;
	sd_event *e;
	sd_bus *bus;
	sd_event_source *out_src;
	char out[65536];	/* what the stand-in printed (the tests print little) */
	size_t out_len;
	size_t mark;		/* where the current test's output starts */
};

static struct fx fx;

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static bool output_has(const void *needle)
{
	return memmem(fx.out + fx.mark, fx.out_len - fx.mark, needle, strlen(needle)) != NULL;
}

static int on_output(sd_event_source *s, int fd, uint32_t revents, void *ud)
{
	char scratch[512];
	size_t room = sizeof(fx.out) - 1 - fx.out_len;
	ssize_t n;

	(void)revents;
	(void)ud;
	/* when full, what comes is dropped (and output_has fails) */
	n = room ? read(fd, fx.out + fx.out_len, room) : read(fd, scratch, sizeof(scratch));
	if (n <= 0) {
		if (n == 0 || errno != EAGAIN)
			sd_event_source_set_enabled(s, SD_EVENT_OFF);
		return 0;
	}
	if (room) {
		fx.out_len += (size_t)n;
		fx.out[fx.out_len] = 0;
	}
	return 0;
}

/* 0 when argv[0] ran and exited 0 (its output discarded) */
static int run_quiet(char *const argv[])
{
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);

		dup2(null, 1);
		dup2(null, 2);
		execv(argv[0], argv);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &status, 0) < 0)
		return -1;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

/* the stand-in: PYTHON script addr, its output into out_fd */
static pid_t spawn_standin(const char *script, const char *addr, int out_fd)
{
	pid_t pid = fork();

	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		dup2(out_fd, 1);
		execl(PYTHON, PYTHON, test_helper(script), addr, (char *)NULL);
		_exit(127);
	}
	return pid;
}

/* Starts dbus-daemon and the stand-in script; *state stays NULL (the
 * tests skip) when either is missing. */
static int bus_setup(const char *script, const char *ready)
{
	char *py_check[] = { PYTHON, "-c", "import dbus, dbus.mainloop.glib; "
			     "from gi.repository import GLib", NULL };
	int ofd[2], r;

	memset(&fx, 0, sizeof(fx));
	if (access(PYTHON, X_OK) || run_quiet(py_check))
		return 0;
	if ((r = private_bus_start(&fx.pb)) < 0)
		return r == -ENOENT ? 0 : -1;
	if (pipe2(ofd, O_CLOEXEC))
		return -1;
	fx.standin = spawn_standin(script, fx.pb.addr, ofd[1]);
	close(ofd[1]);
	fcntl(ofd[0], F_SETFL, O_NONBLOCK);
	if (sd_event_new(&fx.e) < 0 ||
	    sd_event_add_io(fx.e, &fx.out_src, ofd[0], EPOLLIN, on_output, NULL) < 0 ||
	    sd_event_source_set_io_fd_own(fx.out_src, 1) < 0 ||
	    private_bus_connect(&fx.pb, fx.e, &fx.bus) < 0)
		return -1;
	if (!loop_until(fx.e, output_has, ready, 10000)) {
		fprintf(stderr, "%s did not start: %s\n", script, fx.out);
		return -1;
	}
	return 0;
}

static int bus_teardown(void **state);

static int fake_bus_setup(void **state)
{
	if (!bus_setup("fake_bus.py", "fake bus ready"))
		return 0;
	bus_teardown(state);
	return -1;
}

static int errors_setup(void **state)
{
	if (!bus_setup("fake_units_errors.py", "fake units ready"))
		return 0;
	bus_teardown(state);
	return -1;
}

static int bus_teardown(void **state)
{
	(void)state;
	fx.bus = sd_bus_flush_close_unref(fx.bus);
	fx.out_src = sd_event_source_disable_unref(fx.out_src);
	fx.e = sd_event_unref(fx.e);
	if (fx.standin > 0) {
		kill(fx.standin, SIGTERM);
		waitpid(fx.standin, NULL, 0);
	}
	private_bus_stop(&fx.pb);
	return 0;
}

/* every bus test starts here: skipped without a bus */
static void need_bus(void)
{
	if (!fx.bus)
		skip();
	fx.mark = fx.out_len;
}

/* --- what the callbacks got ------------------------------------------------------------------ */

struct res {
	int calls;
	int err;
	int state;
	char job[128];
	bool msg_null;
	char msg[512];
	uint64_t at;		/* now_ms() of the (last) callback */
	sd_bus_slot *slot;	/* the caller's slot */
	bool drop_slot;		/* the callback unrefs it (the usual pattern) */
};

static void got_msg(struct res *r, const char *msg)
{
	r->msg_null = !msg;
	snprintf(r->msg, sizeof(r->msg), "%s", msg ? msg : "");
	r->at = now_ms();
	r->calls++;
	if (r->drop_slot)
		r->slot = sd_bus_slot_unref(r->slot);
}

static void on_state(void *ud, int err, enum nw_unit_state state, const char *msg)
{
	struct res *r = ud;

	r->err = err;
	r->state = state;
	got_msg(r, msg);
}

static void on_job(void *ud, int err, const char *job, const char *msg)
{
	struct res *r = ud;

	r->err = err;
	snprintf(r->job, sizeof(r->job), "%s", job ? job : "(null)");
	got_msg(r, msg);
}

static bool called(const void *p)
{
	return ((const struct res *)p)->calls > 0;
}

static void get_state(const char *unit, uint64_t timeout_ms, struct res *r)
{
	memset(r, 0, sizeof(*r));
	r->drop_slot = true;
	assert_int_equal(nw_unit_get_state(fx.bus, unit, timeout_ms, on_state, r, &r->slot), 0);
	assert_non_null(r->slot);
	assert_true(loop_until(fx.e, called, r, 5000));
	assert_int_equal(r->calls, 1);
	assert_null(r->slot);
}

static void job(bool start, const char *unit, uint64_t timeout_ms, struct res *r)
{
	memset(r, 0, sizeof(*r));
	r->drop_slot = true;
	assert_int_equal((start ? nw_unit_start : nw_unit_stop)(fx.bus, unit, timeout_ms, on_job,
								  r, &r->slot), 0);
	assert_true(loop_until(fx.e, called, r, 5000));
	assert_int_equal(r->calls, 1);
}

/* --- names and states ------------------------------------------------------------------------ */

static void test_state_names(void **state)
{
	(void)state;
	assert_string_equal(nw_unit_state_name(NW_UNIT_UNKNOWN), "unknown");
	assert_string_equal(nw_unit_state_name(NW_UNIT_INACTIVE), "inactive");
	assert_string_equal(nw_unit_state_name(NW_UNIT_ACTIVATING), "activating");
	assert_string_equal(nw_unit_state_name(NW_UNIT_ACTIVE), "active");
	assert_string_equal(nw_unit_state_name(NW_UNIT_DEACTIVATING), "deactivating");
	assert_string_equal(nw_unit_state_name(NW_UNIT_FAILED), "failed");
	assert_string_equal(nw_unit_state_name(NW_UNIT_RELOADING), "reloading");
	assert_string_equal(nw_unit_state_name(99), "unknown");
	for (unsigned s = NW_UNIT_UNKNOWN; s <= NW_UNIT_RELOADING; s++)
		assert_int_equal(nw_unit_state_parse(nw_unit_state_name(s)), s);
	assert_int_equal(nw_unit_state_parse("maintenance"), -EINVAL);
	assert_int_equal(nw_unit_state_parse("Active"), -EINVAL);
	assert_int_equal(nw_unit_state_parse(""), -EINVAL);
	assert_int_equal(nw_unit_state_parse(NULL), -EINVAL);
}

static void test_unit_names(void **state)
{
	static const char *const good[] = {
		"cloudflared-backup.service", "a.service", "multi-user.target", "sshd.socket",
		"fstrim.timer", "x.path", "var-lib.mount", "run-r1.scope", "system.slice",
		"getty@tty1.service", "dev-disk-by\\x2duuid.mount", "a:b_c.d-e.service",
	};
	static const char *const bad[] = {
		"", "service", ".service", "a.servic", "a.service ", "a b.service", "a/b.service",
		"a.device.x", "getty@.service", "@tty1.service", "a@b@c.service", "ä.service",
		"a.Service", "a.service\n", "a;reboot.service", "a.swap",
	};
	char longname[300];
	(void)state;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (nw_unit_name_valid(good[i]))
			fail_msg("\"%s\" should be valid", good[i]);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (nw_unit_name_valid(bad[i]) != -EINVAL)
			fail_msg("\"%s\" should be invalid", bad[i]);
	assert_int_equal(nw_unit_name_valid(NULL), -EINVAL);
	memset(longname, 'a', sizeof(longname));
	strcpy(longname + 255 - strlen(".service"), ".service");
	assert_int_equal(strlen(longname), 255);
	assert_int_equal(nw_unit_name_valid(longname), 0);
	memset(longname, 'a', sizeof(longname));
	strcpy(longname + 256 - strlen(".service"), ".service");
	assert_int_equal(nw_unit_name_valid(longname), -EINVAL);
}

/* bad arguments: nothing is sent and no callback comes */
static void test_bad_arguments(void **state)
{
	sd_bus_slot *slot = (sd_bus_slot *)1;
	(void)state;

	assert_int_equal(nw_unit_get_state(NULL, "a.service", 100, on_state, NULL, &slot), -EINVAL);
	assert_null(slot);
	assert_int_equal(nw_unit_start(NULL, "a.service", 100, on_job, NULL, NULL), -EINVAL);
}

/* --- fake_bus.py: a well-behaved systemd ----------------------------------------------------- */

static void test_unknown_unit_inactive(void **state)
{
	struct res r;
	(void)state;

	need_bus();
	get_state("nosuch.service", 2000, &r);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.state, NW_UNIT_INACTIVE);
	assert_true(r.msg_null);
	assert_int_equal(nw_unit_get_state(fx.bus, "bad name", 2000, on_state, &r, NULL), -EINVAL);
}

static void test_start_state_stop(void **state)
{
	struct res r;
	(void)state;

	need_bus();
	job(true, "web-backup.service", 2000, &r);
	assert_int_equal(r.err, 0);
	assert_true(r.msg_null);
	assert_memory_equal(r.job, JOB_PREFIX, strlen(JOB_PREFIX));
	assert_true(strlen(r.job) > strlen(JOB_PREFIX));
	assert_true(loop_until(fx.e, output_has, "StartUnit web-backup.service replace", 2000));

	get_state("web-backup.service", 2000, &r);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.state, NW_UNIT_ACTIVE);
	assert_true(r.msg_null);

	job(false, "web-backup.service", 2000, &r);
	assert_int_equal(r.err, 0);
	assert_memory_equal(r.job, JOB_PREFIX, strlen(JOB_PREFIX));
	assert_true(loop_until(fx.e, output_has, "StopUnit web-backup.service replace", 2000));

	/* unloaded after the stop: NoSuchUnit, which is "inactive" */
	get_state("web-backup.service", 2000, &r);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.state, NW_UNIT_INACTIVE);
}

/* The caller keeps its slot past the callback and drops it later; and
 * without a slot (floating) the calls complete and free themselves. */
static void test_slot_kept_and_floating(void **state)
{
	struct res r = { 0 }, f = { 0 };
	(void)state;

	need_bus();
	assert_int_equal(nw_unit_start(fx.bus, "kept.service", 2000, on_job, &r, &r.slot), 0);
	assert_true(loop_until(fx.e, called, &r, 5000));
	assert_int_equal(nw_unit_get_state(fx.bus, "kept.service", 2000, on_state, &f, &f.slot), 0);
	assert_true(loop_until(fx.e, called, &f, 5000));
	assert_int_equal(f.state, NW_UNIT_ACTIVE);
	loop_for(fx.e, 50);	/* nothing more comes */
	assert_int_equal(f.calls, 1);
	sd_bus_slot_unref(f.slot);
	sd_bus_slot_unref(r.slot);

	memset(&f, 0, sizeof(f));
	assert_int_equal(nw_unit_get_state(fx.bus, "kept.service", 2000, on_state, &f, NULL), 0);
	assert_true(loop_until(fx.e, called, &f, 5000));
	assert_int_equal(f.state, NW_UNIT_ACTIVE);
	memset(&f, 0, sizeof(f));
	assert_int_equal(nw_unit_stop(fx.bus, "kept.service", 2000, on_job, &f, NULL), 0);
	assert_true(loop_until(fx.e, called, &f, 5000));
	assert_int_equal(f.err, 0);
	memset(&f, 0, sizeof(f));
	assert_int_equal(nw_unit_get_state(fx.bus, "kept.service", 2000, on_state, &f, NULL), 0);
	assert_true(loop_until(fx.e, called, &f, 5000));
	assert_int_equal(f.state, NW_UNIT_INACTIVE);
	loop_for(fx.e, 50);
	assert_int_equal(f.calls, 1);
}

/* --- fake_units_errors.py: errors and silence ------------------------------------------------ */

static void test_bus_error(void **state)
{
	struct res r;
	(void)state;

	need_bus();
	job(true, "denied.service", 2000, &r);
	assert_int_equal(r.err, -EACCES);
	assert_string_equal(r.job, "(null)");
	assert_string_equal(r.msg, "org.freedesktop.DBus.Error.AccessDenied: "
			    "Access denied to denied.service");
	job(false, "denied.service", 2000, &r);
	assert_int_equal(r.err, -EACCES);

	/* the second step fails: GetUnit's path has no object behind it */
	get_state("ghost.service", 2000, &r);
	assert_true(r.err < 0);
	assert_int_equal(r.state, NW_UNIT_UNKNOWN);
	assert_memory_equal(r.msg, "org.freedesktop.DBus.Error.", strlen("org.freedesktop.DBus.Error."));
	assert_non_null(strstr(r.msg, ": "));

	/* an answer of the wrong type */
	job(true, "badreply.service", 2000, &r);
	assert_true(r.err < 0);
	assert_string_equal(r.job, "(null)");
	assert_memory_equal(r.msg, "job: unexpected reply: ", strlen("job: unexpected reply: "));
}

static void test_loaded_states(void **state)
{
	static const struct {
		const char *unit;
		enum nw_unit_state state;
	} cases[] = {
		{ "failed.service", NW_UNIT_FAILED },
		{ "reloading.service", NW_UNIT_RELOADING },
		{ "inactive.service", NW_UNIT_INACTIVE },
		{ "maintenance.mount", NW_UNIT_UNKNOWN },	/* a state this version does not know */
	};
	struct res r;
	(void)state;

	need_bus();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		get_state(cases[i].unit, 2000, &r);
		assert_int_equal(r.err, 0);
		assert_true(r.msg_null);
		if (r.state != (int)cases[i].state)
			fail_msg("%s: %s, expected %s", cases[i].unit, nw_unit_state_name(r.state),
				 nw_unit_state_name(cases[i].state));
	}
	assert_true(loop_until(fx.e, output_has,
			       "Get failed org.freedesktop.systemd1.Unit ActiveState", 2000));
}

/* -ETIMEDOUT within the timeout (not before it, not long after) */
static void expect_timeout(const struct res *r, uint64_t start, uint64_t timeout_ms)
{
	uint64_t took = r->at - start;
	char msg[128];

	snprintf(msg, sizeof(msg), "org.freedesktop.DBus.Error.NoReply: no answer within %llu ms",
		 (unsigned long long)timeout_ms);
	assert_int_equal(r->err, -ETIMEDOUT);
	assert_string_equal(r->msg, msg);
	if (took + 2 < timeout_ms || took > timeout_ms + 150)
		fail_msg("answered after %llu ms, the timeout was %llu ms",
			 (unsigned long long)took, (unsigned long long)timeout_ms);
}

static void test_timeout(void **state)
{
	uint64_t start;
	struct res r;
	(void)state;

	need_bus();
	start = now_ms();
	job(true, "slow.service", 300, &r);
	expect_timeout(&r, start, 300);
	assert_string_equal(r.job, "(null)");

	start = now_ms();
	get_state("slow.service", 300, &r);
	expect_timeout(&r, start, 300);
	assert_int_equal(r.state, NW_UNIT_UNKNOWN);

	/* GetUnit answers at once, ActiveState never: the timeout covers both */
	start = now_ms();
	get_state("slowstate.service", 300, &r);
	expect_timeout(&r, start, 300);
	assert_true(loop_until(fx.e, output_has, "Get slowstate", 1000));

	/* an answer after the timeout is dropped, whether the caller still
	 * holds its slot or not */
	start = now_ms();
	memset(&r, 0, sizeof(r));
	assert_int_equal(nw_unit_start(fx.bus, "late.service", 100, on_job, &r, &r.slot), 0);
	assert_true(loop_until(fx.e, called, &r, 2000));
	expect_timeout(&r, start, 100);
	assert_true(loop_until(fx.e, output_has, "late answer late.service", 2000));
	loop_for(fx.e, 50);
	assert_int_equal(r.calls, 1);
	r.slot = sd_bus_slot_unref(r.slot);
	start = now_ms();
	memset(&r, 0, sizeof(r));
	assert_int_equal(nw_unit_stop(fx.bus, "late2.service", 100, on_job, &r, NULL), 0);
	assert_true(loop_until(fx.e, called, &r, 2000));
	expect_timeout(&r, start, 100);
	assert_true(loop_until(fx.e, output_has, "late answer late2.service", 2000));
	loop_for(fx.e, 50);
	assert_int_equal(r.calls, 1);
}

/* unref'ing the slot cancels: no callback, ever, and nothing leaks */
static void test_cancel(void **state)
{
	struct res a = { 0 }, b = { 0 }, c = { 0 };
	(void)state;

	need_bus();
	/* pending in GetUnit, and in StartUnit */
	assert_int_equal(nw_unit_get_state(fx.bus, "slow.service", 200, on_state, &a, &a.slot), 0);
	assert_int_equal(nw_unit_start(fx.bus, "slow.service", 200, on_job, &b, &b.slot), 0);
	assert_true(loop_until(fx.e, output_has, "StartUnit slow.service replace", 2000));
	a.slot = sd_bus_slot_unref(a.slot);
	b.slot = sd_bus_slot_unref(b.slot);

	/* pending in the second step, Properties.Get */
	assert_int_equal(nw_unit_get_state(fx.bus, "slowstate.service", 300, on_state, &c, &c.slot),
			 0);
	assert_true(loop_until(fx.e, output_has, "Get slowstate", 2000));
	c.slot = sd_bus_slot_unref(c.slot);

	/* past every timeout: a live call would have had -ETIMEDOUT by now */
	loop_for(fx.e, 500);
	assert_int_equal(a.calls, 0);
	assert_int_equal(b.calls, 0);
	assert_int_equal(c.calls, 0);

	/* cancelled straight away, before the loop ever ran */
	assert_int_equal(nw_unit_get_state(fx.bus, "failed.service", 200, on_state, &a, &a.slot), 0);
	a.slot = sd_bus_slot_unref(a.slot);
	loop_for(fx.e, 100);
	assert_int_equal(a.calls, 0);
}

/* Floating calls still pending when their bus goes: freed, never called
 * back (ASan's leak check sees the rest). */
static void test_floating_bus_freed(void **state)
{
	struct res r = { 0 };
	sd_bus *bus = NULL;
	(void)state;

	need_bus();
	assert_int_equal(private_bus_connect(&fx.pb, fx.e, &bus), 0);
	assert_int_equal(nw_unit_get_state(bus, "slow.service", 5000, on_state, &r, NULL), 0);
	assert_int_equal(nw_unit_stop(bus, "slow2.service", 5000, on_job, &r, NULL), 0);
	assert_int_equal(nw_unit_get_state(bus, "slowstate.service", 5000, on_state, &r, NULL), 0);
	assert_true(loop_until(fx.e, output_has, "Get slowstate", 2000));
	assert_true(loop_until(fx.e, output_has, "StopUnit slow2.service", 2000));
	sd_bus_flush_close_unref(bus);
	loop_for(fx.e, 50);
	assert_int_equal(r.calls, 0);
}

int main(void)
{
	const struct CMUnitTest pure[] = {
		cmocka_unit_test(test_state_names),
		cmocka_unit_test(test_unit_names),
		cmocka_unit_test(test_bad_arguments),
	};
	const struct CMUnitTest good[] = {
		cmocka_unit_test(test_unknown_unit_inactive),
		cmocka_unit_test(test_start_state_stop),
		cmocka_unit_test(test_slot_kept_and_floating),
	};
	const struct CMUnitTest bad[] = {
		cmocka_unit_test(test_bus_error),
		cmocka_unit_test(test_loaded_states),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_cancel),
		cmocka_unit_test(test_floating_bus_freed),
	};
	int failed = 0;

	signal(SIGPIPE, SIG_IGN);
	failed += cmocka_run_group_tests_name("units", pure, NULL, NULL);
	failed += cmocka_run_group_tests_name("units on fake_bus.py", good, fake_bus_setup,
					      bus_teardown);
	failed += cmocka_run_group_tests_name("units on fake_units_errors.py", bad, errors_setup,
					      bus_teardown);
	return failed;
}
