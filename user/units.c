// SPDX-License-Identifier: GPL-2.0-only
/*
 * systemd units over the bus, asynchronously. Library-like: no logging.
 *
 * Every request has a small context (struct call), reference-counted by
 * the bus slots that point at it: each slot drops its reference from its
 * destroy callback, so the context lives exactly as long as some slot
 * can still call into it.
 *
 * Start and stop are one call: the caller's slot is that call's slot.
 *
 * The state is two calls: GetUnit(unit) -> path, then
 * Properties.Get(Unit, ActiveState) on the path. The caller's slot is the
 * first call's slot; the context keeps the second call's slot, and the
 * first slot's destroy callback drops it. So unref'ing the caller's slot
 * cancels the whole chain, whichever step is pending, and frees it all;
 * unref'ing it from inside the callback is fine too.
 *
 * timeout_ms bounds both steps together (the second call gets what the
 * first left over; 0: sd-bus's default of 25 s per call). sd-bus checks
 * its call timeouts with sd-event's default accuracy of 250 ms, so when
 * the bus is attached to a loop the context also has a timer of its own,
 * accurate to 1 ms, that answers -ETIMEDOUT on time; a reply that comes
 * after that is dropped (done).
 *
 * Without a caller's slot (slot NULL) both calls are floating: the bus
 * owns them, and freeing the bus frees a pending chain without calling
 * back.
 *
 * The callback gets msg NULL when err is 0; job is NULL when err is not 0.
 * When a nw_unit_* call returns an error, nothing was sent and the
 * callback is never called.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "units.h"

#define SD_DEST "org.freedesktop.systemd1"
#define SD_PATH "/org/freedesktop/systemd1"
#define SD_MANAGER "org.freedesktop.systemd1.Manager"
#define SD_UNIT "org.freedesktop.systemd1.Unit"
#define SD_NO_SUCH_UNIT "org.freedesktop.systemd1.NoSuchUnit"
#define MSG_LEN 512

static const char *const state_names[] = {
	[NW_UNIT_UNKNOWN] = "unknown",
	[NW_UNIT_INACTIVE] = "inactive",
	[NW_UNIT_ACTIVATING] = "activating",
	[NW_UNIT_ACTIVE] = "active",
	[NW_UNIT_DEACTIVATING] = "deactivating",
	[NW_UNIT_FAILED] = "failed",
	[NW_UNIT_RELOADING] = "reloading",
};

const char *nw_unit_state_name(unsigned state)
{
	if (state >= sizeof(state_names) / sizeof(state_names[0]))
		return "unknown";
	return state_names[state];
}

int nw_unit_state_parse(const char *name)
{
	if (!name)
		return -EINVAL;
	for (size_t i = 0; i < sizeof(state_names) / sizeof(state_names[0]); i++)
		if (!strcmp(name, state_names[i]))
			return (int)i;
	return -EINVAL;
}

/* Plain names ("a.service") and instances ("getty@tty1.service"); not
 * templates ("getty@.service"), which cannot be started. */
int nw_unit_name_valid(const char *name)
{
	static const char *const types[] = { ".service", ".target", ".socket", ".timer",
					     ".path", ".mount", ".scope", ".slice" };
	const char *dot, *at;
	size_t len;

	if (!name || !(len = strlen(name)) || len > 255)
		return -EINVAL;
	if (strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
			 ":_.\\@-") != len)
		return -EINVAL;
	dot = strrchr(name, '.');
	if (!dot || dot == name)
		return -EINVAL;
	at = strchr(name, '@');
	if (at && (at == name || at + 1 == dot || strchr(at + 1, '@')))
		return -EINVAL;
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (!strcmp(dot, types[i]))
			return 0;
	return -EINVAL;
}

struct call {
	unsigned n_ref;
	uint64_t deadline;	/* CLOCK_MONOTONIC usec, 0 none (sd-bus's default) */
	uint64_t timeout_ms;
	bool floating;
	bool done;		/* the callback was called */
	sd_bus_slot *second;	/* not floating: the pending Properties.Get */
	sd_event_source *timer;	/* the deadline, when the bus has a loop, until done */
	nw_unit_state_fn state_cb;
	nw_unit_job_fn job_cb;
	void *ud;
};

static void call_unref(void *p)
{
	struct call *c = p;

	if (c && !--c->n_ref) {
		sd_event_source_disable_unref(c->timer);
		free(c);
	}
}

/* Calls the callback, once: false when it was called already. c may be
 * gone afterwards (the callback may unref the caller's slot). */
static bool finish(struct call *c, int err, enum nw_unit_state state, const char *job,
		   const char *msg)
{
	if (c->done)
		return false;
	c->done = true;
	/* safe from inside the timer's own callback too */
	c->timer = sd_event_source_disable_unref(c->timer);
	if (c->state_cb)
		c->state_cb(c->ud, err, state, err ? msg : NULL);
	else
		c->job_cb(c->ud, err, err ? NULL : job, err ? msg : NULL);
	return true;
}

/* the destroy callback of the slot the caller holds */
static void first_destroyed(void *p)
{
	struct call *c = p;

	c->second = sd_bus_slot_unref(c->second);	/* cancels the second step */
	call_unref(c);
}

static uint64_t now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* What is left of the deadline for the next call; 0 (sd-bus's default)
 * without one, -ETIMEDOUT when it has passed. */
static int64_t left_usec(const struct call *c)
{
	uint64_t now;

	if (!c->deadline)
		return 0;
	now = now_usec();
	return now >= c->deadline ? -ETIMEDOUT : (int64_t)(c->deadline - now);
}

/* Sends m with handler fn; the slot holds a reference on c. Floating
 * when c is, else the new slot goes to *out. */
static int send_call(sd_bus *bus, sd_bus_message *m, struct call *c,
		     sd_bus_message_handler_t fn, sd_bus_destroy_t destroy, sd_bus_slot **out)
{
	sd_bus_slot *s = NULL;
	int64_t usec = left_usec(c);
	int err;

	if (usec < 0)
		return (int)usec;
	if ((err = sd_bus_call_async(bus, &s, m, fn, c, (uint64_t)usec)) < 0)
		return err;
	c->n_ref++;
	sd_bus_slot_set_destroy_callback(s, destroy);
	if (c->floating) {
		/* the bus takes its own reference: drop ours */
		if ((err = sd_bus_slot_set_floating(s, 1)) < 0) {
			sd_bus_slot_unref(s);
			return err;
		}
		s = sd_bus_slot_unref(s);
	}
	*out = s;
	return 0;
}

/* 0, or -errno with "<name>: <message>" in msg, for an error reply */
static int reply_error(sd_bus_message *m, char *msg, size_t size)
{
	const sd_bus_error *e;
	int r;

	if (!sd_bus_message_is_method_error(m, NULL))
		return 0;
	e = sd_bus_message_get_error(m);
	r = sd_bus_error_get_errno(e);
	/* sd-bus answers pending calls of a closing connection with NoReply
	 * "Connection terminated": that is no timeout */
	if (r == ETIMEDOUT && !sd_bus_is_open(sd_bus_message_get_bus(m)))
		r = ECONNRESET;
	if (e && e->message)
		snprintf(msg, size, "%s: %s", e->name, e->message);
	else
		snprintf(msg, size, "%s", e && e->name ? e->name : "unknown bus error");
	return -(r > 0 ? r : EIO);
}

/* 0, or -errno with msg: the reply's arguments are not what was asked */
static int bad_reply(int r, const char *what, char *msg, size_t size)
{
	if (r >= 0)
		return 0;
	snprintf(msg, size, "%s: unexpected reply: %s", what, strerror(-r));
	return r;
}

static int on_state(sd_bus_message *m, void *ud, sd_bus_error *ret_error)
{
	struct call *c = ud;
	const char *s = NULL;
	char msg[MSG_LEN];
	int err, st;

	(void)ret_error;
	if (c->done)
		return 0;
	if ((err = reply_error(m, msg, sizeof(msg))) ||
	    (err = bad_reply(sd_bus_message_read(m, "v", "s", &s), "ActiveState", msg,
			     sizeof(msg)))) {
		finish(c, err, NW_UNIT_UNKNOWN, NULL, msg);
		return 0;
	}
	/* states this version does not know ("maintenance", "refreshing") */
	st = nw_unit_state_parse(s);
	finish(c, 0, st < 0 ? NW_UNIT_UNKNOWN : (enum nw_unit_state)st, NULL, NULL);
	return 0;	/* c may be gone: the caller may have dropped its slot */
}

static int on_get_unit(sd_bus_message *m, void *ud, sd_bus_error *ret_error)
{
	struct call *c = ud;
	sd_bus *bus = sd_bus_message_get_bus(m);
	sd_bus_message *get = NULL;
	const char *path = NULL;
	char msg[MSG_LEN];
	int err;

	(void)ret_error;
	if (c->done)
		return 0;
	if (sd_bus_message_is_method_error(m, SD_NO_SUCH_UNIT)) {
		/* not loaded: after StopUnit systemd unloads the unit */
		finish(c, 0, NW_UNIT_INACTIVE, NULL, NULL);
		return 0;
	}
	if ((err = reply_error(m, msg, sizeof(msg))) ||
	    (err = bad_reply(sd_bus_message_read(m, "o", &path), "GetUnit", msg, sizeof(msg))))
		goto fail;
	if ((err = sd_bus_message_new_method_call(bus, &get, SD_DEST, path,
						  "org.freedesktop.DBus.Properties", "Get")) < 0 ||
	    (err = sd_bus_message_append(get, "ss", SD_UNIT, "ActiveState")) < 0 ||
	    (err = send_call(bus, get, c, on_state, call_unref, &c->second)) < 0) {
		if (err == -ETIMEDOUT)	/* GetUnit answered just in time */
			snprintf(msg, sizeof(msg), SD_BUS_ERROR_NO_REPLY
				 ": no answer within %llu ms", (unsigned long long)c->timeout_ms);
		else
			snprintf(msg, sizeof(msg), "Properties.Get: %s", strerror(-err));
		goto fail;
	}
	sd_bus_message_unref(get);
	return 0;
fail:
	sd_bus_message_unref(get);
	finish(c, err, NW_UNIT_UNKNOWN, NULL, msg);
	return 0;
}

static int on_job(sd_bus_message *m, void *ud, sd_bus_error *ret_error)
{
	struct call *c = ud;
	const char *job = NULL;
	char msg[MSG_LEN];
	int err;

	(void)ret_error;
	if (c->done)
		return 0;
	err = reply_error(m, msg, sizeof(msg));
	if (!err)
		err = bad_reply(sd_bus_message_read(m, "o", &job), "job", msg, sizeof(msg));
	finish(c, err, NW_UNIT_UNKNOWN, job, msg);
	return 0;
}

/* The deadline passed: answer now. A pending second step (ours) is
 * dropped; the first (the caller's, or floating) ends with sd-bus's own
 * timeout, its reply ignored. */
static int on_deadline(sd_event_source *s, uint64_t usec, void *ud)
{
	struct call *c = ud;
	char msg[MSG_LEN];

	(void)s;
	(void)usec;
	snprintf(msg, sizeof(msg), SD_BUS_ERROR_NO_REPLY ": no answer within %llu ms",
		 (unsigned long long)c->timeout_ms);
	c->n_ref++;	/* dropping the second step must not free c here */
	c->second = sd_bus_slot_unref(c->second);
	c->n_ref--;
	finish(c, -ETIMEDOUT, NW_UNIT_UNKNOWN, NULL, msg);
	return 0;
}

/* Sends member(args) to the manager with a new context; on success the
 * context belongs to the slot. */
static int start_call(sd_bus *bus, const char *member, const char *unit, uint64_t timeout_ms,
		      sd_bus_message_handler_t fn, nw_unit_state_fn state_cb,
		      nw_unit_job_fn job_cb, void *ud, sd_bus_slot **slot)
{
	sd_bus_message *m = NULL;
	sd_bus_slot *s = NULL;
	struct call *c;
	int err;

	if (slot)
		*slot = NULL;
	if (!bus || nw_unit_name_valid(unit) || !(state_cb || job_cb))
		return -EINVAL;
	if (!(c = calloc(1, sizeof(*c))))
		return -ENOMEM;
	c->n_ref = 1;
	c->floating = !slot;
	c->state_cb = state_cb;
	c->job_cb = job_cb;
	c->ud = ud;
	c->timeout_ms = timeout_ms;
	if (timeout_ms) {
		sd_event *e = sd_bus_get_event(bus);

		c->deadline = now_usec() + timeout_ms * 1000;
		if (e && (err = sd_event_add_time(e, &c->timer, CLOCK_MONOTONIC, c->deadline,
						  1000, on_deadline, c)) < 0)
			goto cleanup;
	}
	if ((err = sd_bus_message_new_method_call(bus, &m, SD_DEST, SD_PATH, SD_MANAGER,
						  member)) < 0)
		goto cleanup;
	if (job_cb)
		err = sd_bus_message_append(m, "ss", unit, "replace");
	else
		err = sd_bus_message_append(m, "s", unit);
	if (err < 0 || (err = send_call(bus, m, c, fn, first_destroyed, &s)) < 0)
		goto cleanup;
	if (slot)
		*slot = s;
	err = 0;
cleanup:
	sd_bus_message_unref(m);
	call_unref(c);	/* the slot keeps its own reference */
	return err;
}

int nw_unit_get_state(sd_bus *bus, const char *unit, uint64_t timeout_ms, nw_unit_state_fn cb,
		      void *ud, sd_bus_slot **slot)
{
	return start_call(bus, "GetUnit", unit, timeout_ms, on_get_unit, cb, NULL, ud, slot);
}

int nw_unit_start(sd_bus *bus, const char *unit, uint64_t timeout_ms, nw_unit_job_fn cb, void *ud,
		  sd_bus_slot **slot)
{
	return start_call(bus, "StartUnit", unit, timeout_ms, on_job, NULL, cb, ud, slot);
}

int nw_unit_stop(sd_bus *bus, const char *unit, uint64_t timeout_ms, nw_unit_job_fn cb, void *ud,
		 sd_bus_slot **slot)
{
	return start_call(bus, "StopUnit", unit, timeout_ms, on_job, NULL, cb, ud, slot);
}
