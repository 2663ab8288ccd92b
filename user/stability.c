// SPDX-License-Identifier: GPL-2.0-only
/* The stability barrier of netwardctl wait-stable: see stability.h. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "stability.h"
#include "util.h"

struct nw_stability_waiter {
	struct nw_stability *s;
	struct nw_stability_waiter *prev, *next;
	sd_event_source *timer;
	uint64_t start_ns, quiet_ns, deadline_ns;	/* deadline UINT64_MAX: none */
	nw_stability_cb cb;
	void *ud;
};

struct nw_stability {
	sd_event *e;
	uint64_t last_ns;	/* CLOCK_MONOTONIC of the last change */
	uint64_t changes;
	struct nw_stability_waiter *waiters;
	unsigned n_waiters;
	uint64_t answered_stable, answered_timeout, cancelled;
};

static uint64_t mono_ns(void)
{
	return nw_now_ns(CLOCK_MONOTONIC);
}

static uint64_t sat_add(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* when the waiter must look again: the end of its window as of the last
 * change, or its deadline if that comes first */
static uint64_t due_ns(const struct nw_stability_waiter *w)
{
	uint64_t end = sat_add(w->s->last_ns, w->quiet_ns);

	return end < w->deadline_ns ? end : w->deadline_ns;
}

/* sd-event counts in microseconds: round up, so that the timer never fires
 * before the window is over (and then fires again at once) */
static uint64_t ns_to_usec_ceil(uint64_t ns)
{
	return ns / 1000 + (ns % 1000 != 0);
}

static void unlink_waiter(struct nw_stability_waiter *w)
{
	struct nw_stability *s = w->s;

	if (w->prev)
		w->prev->next = w->next;
	else
		s->waiters = w->next;
	if (w->next)
		w->next->prev = w->prev;
	w->prev = w->next = NULL;
	s->n_waiters--;
}

/* Unlinked first; sd-event defers freeing a source that is being
 * dispatched, so this is safe from the waiter's own timer callback. */
static void waiter_free(struct nw_stability_waiter *w)
{
	unlink_waiter(w);
	sd_event_source_disable_unref(w->timer);
	free(w);
}

static int on_timer(sd_event_source *src, uint64_t usec, void *ud)
{
	struct nw_stability_waiter *w = ud;
	struct nw_stability *s = w->s;
	uint64_t now = mono_ns(), quiet, waited;
	nw_stability_cb cb = w->cb;
	void *cb_ud = w->ud;
	bool stable;
	(void)usec;

	quiet = now > s->last_ns ? now - s->last_ns : 0;
	waited = now > w->start_ns ? now - w->start_ns : 0;
	stable = quiet >= w->quiet_ns;
	if (!stable && now < w->deadline_ns) {
		/* changes came in since the timer was armed: to the new end */
		if (sd_event_source_set_time(src, ns_to_usec_ceil(due_ns(w))) >= 0 &&
		    sd_event_source_set_enabled(src, SD_EVENT_ONESHOT) >= 0)
			return 0;
		/* cannot happen with a valid source; do not leave it hanging */
	}
	if (stable)
		s->answered_stable++;
	else
		s->answered_timeout++;
	/* gone before the callback: it may wait again, or cancel nothing */
	waiter_free(w);
	cb(cb_ud, stable, waited, quiet);
	return 0;
}

int nw_stability_new(struct nw_stability **out, sd_event *e, uint64_t start_ns)
{
	struct nw_stability *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	s->e = sd_event_ref(e);
	s->last_ns = start_ns;
	*out = s;
	return 0;
}

void nw_stability_free(struct nw_stability *s)
{
	if (!s)
		return;
	while (s->waiters)
		waiter_free(s->waiters);
	sd_event_unref(s->e);
	free(s);
}

void nw_stability_changed_at(struct nw_stability *s, uint64_t mono)
{
	if (!s)
		return;
	if (mono > s->last_ns)
		s->last_ns = mono;
	s->changes++;
}

void nw_stability_changed(struct nw_stability *s)
{
	nw_stability_changed_at(s, mono_ns());
}

int nw_stability_wait(struct nw_stability *s, uint64_t quiet_ns, uint64_t timeout_ns,
		      nw_stability_cb cb, void *ud, struct nw_stability_waiter **handle)
{
	struct nw_stability_waiter *w;
	int r;

	if (!s || !cb || !quiet_ns)
		return -EINVAL;
	if (!(w = calloc(1, sizeof(*w))))
		return -ENOMEM;
	w->s = s;
	w->start_ns = mono_ns();
	w->quiet_ns = quiet_ns;
	w->deadline_ns = timeout_ns == NW_STABILITY_NO_TIMEOUT ? UINT64_MAX
							       : sat_add(w->start_ns, timeout_ns);
	w->cb = cb;
	w->ud = ud;
	/* a due time in the past (already quiet, or timeout 0) fires on the
	 * next iteration; accuracy 1 us: the default would let it slip 250 ms */
	r = sd_event_add_time(s->e, &w->timer, CLOCK_MONOTONIC, ns_to_usec_ceil(due_ns(w)), 1,
			      on_timer, w);
	if (r < 0) {
		free(w);
		return r;
	}
	sd_event_source_set_description(w->timer, "wait-stable");
	w->next = s->waiters;
	if (s->waiters)
		s->waiters->prev = w;
	s->waiters = w;
	s->n_waiters++;
	if (handle)
		*handle = w;
	return 0;
}

void nw_stability_cancel(struct nw_stability_waiter *w)
{
	if (!w)
		return;
	w->s->cancelled++;
	waiter_free(w);
}

uint64_t nw_stability_quiet_ns(const struct nw_stability *s)
{
	uint64_t now = mono_ns();

	return now > s->last_ns ? now - s->last_ns : 0;
}

uint64_t nw_stability_changes(const struct nw_stability *s)
{
	return s->changes;
}

unsigned nw_stability_waiters(const struct nw_stability *s)
{
	return s->n_waiters;
}

void nw_stability_status(const struct nw_stability *s, cJSON *out)
{
	cJSON_AddNumberToObject(out, "last_change_ago_ms",
				(double)(nw_stability_quiet_ns(s) / 1000000ull));
	cJSON_AddNumberToObject(out, "changes", (double)s->changes);
	cJSON_AddNumberToObject(out, "waiters", s->n_waiters);
	cJSON_AddNumberToObject(out, "answered_stable", (double)s->answered_stable);
	cJSON_AddNumberToObject(out, "answered_timeout", (double)s->answered_timeout);
	cJSON_AddNumberToObject(out, "cancelled", (double)s->cancelled);
}
