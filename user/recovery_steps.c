// SPDX-License-Identifier: GPL-2.0-only
/*
 * The recovery steps: one run at a time on the daemon's loop, each with a
 * deadline (an sd-event timer at cfg->step_timeout_ms), its duration
 * measured, and its done callback called exactly once from a deferred
 * event source. The steps themselves are in step_*.c; restore_routes,
 * the simplest, is here. Library-like: no logging.
 *
 * SIGCHLD: nw_steps_new blocks it in the calling thread (the loop's), so
 * that sd_event_add_child can watch renew_dhcp's child (sd-event refuses
 * otherwise); threads started afterwards inherit the mask. Threads started
 * before may still receive it: its default action is to ignore it, and
 * sd-event watches children through pidfds, so nothing is lost.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "recovery_steps.h"
#include "steps_impl.h"
#include "sysbus.h"

static const struct step_impl *const impls[NW_STEP__MAX] = {
	[NW_STEP_RESTORE_ROUTES] = &nw_step_restore_routes_impl,
	[NW_STEP_FLUSH_NEIGHBOUR] = &nw_step_flush_neighbour_impl,
	[NW_STEP_RESTORE_DNS] = &nw_step_restore_dns_impl,
	[NW_STEP_REMOVE_VPN_INTERFACES] = &nw_step_remove_vpn_impl,
	[NW_STEP_REMOVE_STALE] = &nw_step_remove_stale_impl,
	[NW_STEP_BOUNCE_INTERFACE] = &nw_step_bounce_impl,
	[NW_STEP_RENEW_DHCP] = &nw_step_renew_dhcp_impl,
	[NW_STEP_KILL_WILDCARD_OWNER] = &nw_step_kill_owner_impl,
	[NW_STEP_REBOOT] = &nw_step_reboot_impl,
};

/* --- helpers ------------------------------------------------------------------ */

uint64_t step_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

uint64_t step_remaining_ms(const struct step_run *r)
{
	uint64_t now = step_now_us();

	return now >= r->deadline_us ? 0 : (r->deadline_us - now + 999) / 1000;
}

uint64_t step_elapsed_ms(const struct step_run *r)
{
	return (step_now_us() - r->start_us) / 1000;
}

int step_dump_ms(const struct step_run *r)
{
	uint64_t ms = step_remaining_ms(r);

	return ms > STEP_DUMP_MS ? STEP_DUMP_MS : ms < 100 ? 100 : (int)ms;
}

void step_detail(struct step_run *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->out.detail, sizeof(r->out.detail), fmt, ap);
	va_end(ap);
}

void step_leftover(struct step_run *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->out.leftover, sizeof(r->out.leftover), fmt, ap);
	va_end(ap);
}

void step_list_add(char *buf, size_t size, const char *fmt, ...)
{
	size_t n = strnlen(buf, size);
	char item[256];
	va_list ap;

	if (size < 4 || n >= size - 1)
		return;
	if (n >= 3 && !strcmp(buf + n - 3, "..."))
		return;		/* full already */
	va_start(ap, fmt);
	vsnprintf(item, sizeof(item), fmt, ap);
	va_end(ap);
	if (n + (n ? 2 : 0) + strlen(item) + 1 > size) {
		/* room for ", ..." or "..." */
		size_t at = n + 5 < size ? n : size - 6;

		snprintf(buf + at, size - at, "%s...", at ? ", " : "");
		return;
	}
	snprintf(buf + n, size - n, "%s%s", n ? ", " : "", item);
}

/* --- bus ------------------------------------------------------------------------ */

bool step_bus_has(struct step_run *r, const char *name)
{
	uint64_t ms = step_remaining_ms(r);

	if (!r->bus)
		return false;
	if (ms > STEP_BUS_PROBE_MS)
		ms = STEP_BUS_PROBE_MS;
	return nw_sysbus_has_owner(r->bus, name, ms ? ms : 1);
}

int step_bus_call(struct step_run *r, sd_bus_message_handler_t cb, void *ud, const char *dest,
		  const char *path, const char *iface, const char *member, const char *types, ...)
{
	sd_bus_message *m = NULL;
	uint64_t ms = step_remaining_ms(r);
	va_list ap;
	int err;

	if (!r->bus)
		return -ENOTCONN;
	if (r->n_slots == STEP_SLOTS_MAX)
		return -E2BIG;
	if ((err = sd_bus_message_new_method_call(r->bus, &m, dest, path, iface, member)) < 0)
		goto cleanup;
	if (types) {
		va_start(ap, types);
		err = sd_bus_message_appendv(m, types, ap);
		va_end(ap);
		if (err < 0)
			goto cleanup;
	}
	/* the deadline timer ends the step anyway; this frees the slot */
	err = sd_bus_call_async(r->bus, &r->slots[r->n_slots], m, cb, ud,
				(ms ? ms : 1) * 1000);
	if (err >= 0) {
		r->n_slots++;
		err = 0;
	}
cleanup:
	sd_bus_message_unref(m);
	return err;
}

const char *step_bus_error(sd_bus_message *m)
{
	const sd_bus_error *e = sd_bus_message_get_error(m);

	if (!e)
		return "";
	return e->message ? e->message : e->name ? e->name : "error";
}

/* --- dumps ---------------------------------------------------------------------- */

struct link_dump {
	struct step_run *r;
	bool (*keep)(struct step_run *r, const struct nw_link *l);
	struct nw_link *v;
	size_t n, cap;
};

static int on_link(const struct nlmsghdr *nlh, void *data)
{
	struct link_dump *d = data;
	struct nw_link l;

	if (nw_link_parse(nlh, &l) || !l.name[0] || !d->keep(d->r, &l))
		return 0;
	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 16;
		struct nw_link *v = realloc(d->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		d->v = v;
		d->cap = cap;
	}
	d->v[d->n++] = l;
	return 0;
}

int step_dump_links(struct step_run *r, bool (*keep)(struct step_run *r, const struct nw_link *l),
		    struct nw_link **out)
{
	struct link_dump d = { .r = r, .keep = keep };
	int err = -EINTR;

	/* an interrupted dump (the links changed meanwhile) is read again */
	for (int tries = 0; err == -EINTR && tries < 3; tries++) {
		d.n = 0;
		err = nw_rtnl_dump_links(r->s->nl, step_dump_ms(r), on_link, &d);
	}
	if (err) {
		free(d.v);
		return err;
	}
	*out = d.v;
	return (int)d.n;
}

/* --- runs ------------------------------------------------------------------------ */

/* What a run holds besides the step's own state. */
static void run_release(struct step_run *r)
{
	for (size_t i = 0; i < r->n_slots; i++)
		r->slots[i] = sd_bus_slot_unref(r->slots[i]);
	r->n_slots = 0;
	nlw_close(&r->nlw);
	if (r->deadline)
		sd_event_source_set_enabled(r->deadline, SD_EVENT_OFF);
}

static void run_cleanup(struct step_run *r)
{
	if (r->impl->cleanup)
		r->impl->cleanup(r);
	r->priv = NULL;
	run_release(r);
}

static void run_free(struct step_run *r)
{
	if (!r)
		return;
	if (!r->completed)
		run_cleanup(r);
	sd_event_source_disable_unref(r->deadline);
	sd_event_source_disable_unref(r->defer);
	sd_bus_unref(r->bus);
	sd_event_unref(r->e);
	nw_recovery_cfg_free(&r->cfg);
	free(r);
}

void step_complete(struct step_run *r, enum nw_step_result res)
{
	if (r->completed)
		return;
	r->completed = true;
	r->out.result = res;
	r->out.duration_us = step_now_us() - r->start_us;
	run_cleanup(r);
	/* allocated at the start: enabling it cannot fail for want of memory */
	sd_event_source_set_enabled(r->defer, SD_EVENT_ONESHOT);
}

static int on_defer(sd_event_source *src, void *ud)
{
	struct step_run *r = ud;
	struct nw_steps *s = r->s;
	struct nw_step_outcome out = r->out;
	nw_step_done_fn done = r->done;
	void *done_ud = r->done_ud;
	unsigned step = r->step;

	(void)src;
	s->run = NULL;
	run_free(r);
	/* may start the next step, or free s: nothing of ours is touched after */
	done(done_ud, step, &out);
	return 0;
}

static int on_deadline(sd_event_source *src, uint64_t usec, void *ud)
{
	struct step_run *r = ud;

	(void)src;
	(void)usec;
	if (r->completed)
		return 0;
	if (r->impl->timeout) {
		r->impl->timeout(r);
		return 0;
	}
	step_leftover(r, "no answer within %u ms", r->timeout_ms);
	step_complete(r, NW_STEP_TIMEOUT);
	return 0;
}

static void capture_main(struct nw_steps *s, struct step_run *r)
{
	if (r->cfg.main_interface[0])
		snprintf(r->main_if, sizeof(r->main_if), "%s", r->cfg.main_interface);
	else if (s->env.main_interface)
		s->env.main_interface(s->env.ud, r->main_if);
	r->main_if[IF_NAMESIZE - 1] = 0;
}

int nw_steps_start(struct nw_steps *s, unsigned step, nw_step_done_fn done, void *ud)
{
	struct step_run *r;
	int err;

	if (!s || step >= NW_STEP__MAX || !done)
		return -EINVAL;
	if (s->run)
		return -EBUSY;
	if (!(r = calloc(1, sizeof(*r))))
		return -ENOMEM;
	r->s = s;
	r->step = step;
	r->impl = impls[step];
	r->done = done;
	r->done_ud = ud;
	r->e = sd_event_ref(s->env.e);
	r->bus = s->env.bus ? sd_bus_ref(s->env.bus) : NULL;
	r->dry_run = s->env.dry_run;
	r->nlw.fd = -1;
	if ((err = nw_recovery_cfg_copy(&r->cfg, s->env.cfg)))
		goto fail;
	r->timeout_ms = r->cfg.step_timeout_ms ? r->cfg.step_timeout_ms : 5000;
	r->start_us = step_now_us();
	r->deadline_us = r->start_us + (uint64_t)r->timeout_ms * 1000;
	if ((err = sd_event_add_time(r->e, &r->deadline, CLOCK_MONOTONIC, r->deadline_us, 1000,
				     on_deadline, r)) < 0 ||
	    (err = sd_event_add_defer(r->e, &r->defer, on_defer, r)) < 0 ||
	    (err = sd_event_source_set_enabled(r->defer, SD_EVENT_OFF)) < 0)
		goto fail;
	capture_main(s, r);
	s->run = r;
	err = r->impl->start(r);
	if (err < 0 && !r->completed) {
		if (!r->out.detail[0])
			step_detail(r, "%s", strerror(-err));
		step_complete(r, NW_STEP_FAILED);
	}
	return 0;
fail:
	run_free(r);
	return err;
}

int nw_steps_running(const struct nw_steps *s)
{
	return s && s->run ? (int)s->run->step : -1;
}

int nw_steps_new(struct nw_steps **out, const struct nw_steps_env *env)
{
	struct nw_steps *s = NULL;
	sigset_t ss;
	int err;

	if (!env || !env->e || !env->cfg)
		return -EINVAL;
	sigemptyset(&ss);
	sigaddset(&ss, SIGCHLD);
	if ((err = pthread_sigmask(SIG_BLOCK, &ss, NULL)))
		return -err;
	if (!(s = calloc(1, sizeof(*s))))
		return -ENOMEM;
	s->env = *env;
	if ((err = nw_rtnl_open(&s->nl)))
		goto cleanup;
	*out = s;
	return 0;
cleanup:
	nw_steps_free(s);
	return err;
}

void nw_steps_set_env(struct nw_steps *s, const struct nw_steps_env *env)
{
	if (s && env)
		s->env = *env;
}

void nw_steps_free(struct nw_steps *s)
{
	if (!s)
		return;
	/* a running step is abandoned: no done call, its worker finishes alone */
	run_free(s->run);
	nw_rtnl_close(s->nl);
	free(s);
}

/* --- restore_routes ---------------------------------------------------------------- */

static int restore_routes_start(struct step_run *r)
{
	const struct nw_steps_env *env = &r->s->env;
	int n;

	if (!env->restore_routes) {
		step_detail(r, "no route guard to ask");
		step_complete(r, NW_STEP_SKIPPED);
		return 0;
	}
	n = env->restore_routes(env->ud, r->dry_run, r->out.detail, sizeof(r->out.detail));
	r->out.detail[sizeof(r->out.detail) - 1] = 0;
	if (n < 0) {
		if (!r->out.detail[0])
			step_detail(r, "restoring routes: %s", strerror(-n));
		step_complete(r, NW_STEP_FAILED);
		return 0;
	}
	if (n == 0) {
		if (!r->out.detail[0])
			step_detail(r, "every protected route and rule is in place");
		step_complete(r, NW_STEP_NOTHING);
		return 0;
	}
	r->out.changes = (unsigned)n;
	step_complete(r, r->dry_run ? NW_STEP_DRY_RUN : NW_STEP_CHANGED);
	return 0;
}

const struct step_impl nw_step_restore_routes_impl = {
	.start = restore_routes_start,
};
