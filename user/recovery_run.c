// SPDX-License-Identifier: GPL-2.0-only
/* Probes -> verdicts -> ladder -> steps -> re-probe, on the daemon's loop. */
#include <errno.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "events.h"
#include "log.h"
#include "reboot_guard.h"
#include "recovery_run.h"
#include "resolvconf.h"
#include "sysbus.h"
#include "util.h"

#define KICK_MERGE_NS (50 * 1000000ull)
#define LAST_STEPS 16
#define RESOLV_SAVE_EVERY_NS (30 * 1000000000ull)

struct last_step {
	unsigned step, level;
	enum nw_step_result result;
	uint64_t duration_us;
	uint64_t at_ns;		/* CLOCK_REALTIME */
	char detail[256];
};

struct prev {			/* what the last result of a probe said */
	bool known, up;
	uint64_t down_since_ns;
};

struct nw_recovery_run {
	sd_event *e;
	struct prev prev[NW_PROBES_MAX];
	uint32_t netns;
	struct nw_recovery_run_ops ops;
	void *ud;
	struct nw_probes *probes;
	struct nw_recovery_cfg cfg;
	struct nw_recovery_cfg next;	/* a reload waiting for the running step */
	bool has_next;
	struct nw_ladder ladder;
	struct nw_steps *steps;
	struct nw_steps_env env;
	sd_bus *bus;
	sd_event_source *kick_timer;
	uint64_t last_kick_ns;
	uint64_t kicks;
	char kick_why[64];
	struct nw_verdict verdict;
	unsigned outage_level;		/* highest level reached in this outage */
	unsigned outage_steps;
	uint64_t last_resolv_save_ns;
	struct last_step last[LAST_STEPS];
	size_t n_last, last_head;
};

static const char *const unknown = "unknown";

static cJSON *new_event(struct nw_recovery_run *r, unsigned type)
{
	return nw_event_new(type, r->netns);
}

static void emit(struct nw_recovery_run *r, unsigned type, cJSON *ev)
{
	if (!ev)
		return;
	r->ops.emit(r->ud, type, ev);
	cJSON_Delete(ev);
}

static const struct nw_probe_state *const *states(struct nw_recovery_run *r,
						  const struct nw_probe_state **buf)
{
	size_t n = nw_probes_count(r->probes);

	for (size_t i = 0; i < n; i++)
		buf[i] = nw_probes_state(r->probes, i);
	return buf;
}

static void compute(struct nw_recovery_run *r)
{
	const struct nw_probe_state *st[NW_PROBES_MAX];
	struct nw_probe_cfg cfgs[NW_PROBES_MAX];
	size_t n = r->probes ? nw_probes_count(r->probes) : 0;

	for (size_t i = 0; i < n; i++)
		cfgs[i] = *nw_probes_cfg(r->probes, i);
	if (!n) {
		memset(&r->verdict, 0, sizeof(r->verdict));
		r->verdict.connected = -1;
		r->verdict.gateway = -1;
		return;
	}
	nw_verdict_compute(cfgs, states(r, st), n, r->cfg.require_all, &r->verdict);
}

static const char *gateway_word(int g)
{
	return g == 1 ? "answers" : g == 0 ? "silent" : unknown;
}

static void start_step(struct nw_recovery_run *r, int step);

/* --- events the ladder reports -------------------------------------------- */

static void on_ladder_event(struct nw_recovery_run *r, enum nw_ladder_event ev)
{
	const struct nw_ladder *l = &r->ladder;
	char msg[256];
	cJSON *o;

	switch (ev) {
	case NW_LADDER_NONE:
		return;
	case NW_LADDER_LOST:
		r->outage_level = 0;
		r->outage_steps = 0;
		o = new_event(r, NW_EV_CONNECTIVITY_LOST);
		if (!o)
			return;
		cJSON_AddNumberToObject(o, "failures", r->verdict.failures);
		cJSON_AddNumberToObject(o, "probes_down", (double)r->verdict.probes_down);
		cJSON_AddStringToObject(o, "gateway", gateway_word(r->verdict.gateway));
		snprintf(msg, sizeof(msg), "the probes say this host is offline (gateway %s)%s",
			 gateway_word(r->verdict.gateway),
			 r->cfg.enabled ? "" : "; recovery is not configured");
		cJSON_AddStringToObject(o, "message", msg);
		emit(r, NW_EV_CONNECTIVITY_LOST, o);
		return;
	case NW_LADDER_RESTORED: {
		uint64_t down_ms = (nw_now_ns(CLOCK_MONOTONIC) - l->down_since_ns) / 1000000ull;

		o = new_event(r, NW_EV_CONNECTIVITY_RESTORED);
		if (!o)
			return;
		cJSON_AddNumberToObject(o, "down_ms", (double)down_ms);
		cJSON_AddNumberToObject(o, "level", r->outage_level);
		cJSON_AddNumberToObject(o, "steps", r->outage_steps);
		snprintf(msg, sizeof(msg), "connectivity back after %llu ms%s%u", (unsigned long long)down_ms,
			 r->outage_level ? ", recovered at level " : ", no step needed; level ",
			 r->outage_level);
		cJSON_AddStringToObject(o, "message", msg);
		emit(r, NW_EV_CONNECTIVITY_RESTORED, o);
		/* a good moment for a known-good resolv.conf */
		r->last_resolv_save_ns = 0;
		return;
	}
	case NW_LADDER_UPSTREAM:
		o = new_event(r, NW_EV_RECOVERY_STEP);
		if (!o)
			return;
		cJSON_AddNumberToObject(o, "level", 3);
		cJSON_AddStringToObject(o, "step", "escalate");
		cJSON_AddStringToObject(o, "result", "skipped");
		cJSON_AddNumberToObject(o, "attempt", l->attempt);
		cJSON_AddStringToObject(o, "detail", "the gateway answers: the fault is beyond it; "
					"level 3 (bounce, DHCP, kill) and reboots are held back");
		cJSON_AddStringToObject(o, "message", "level 3 held back: the gateway answers");
		emit(r, NW_EV_RECOVERY_STEP, o);
		return;
	case NW_LADDER_ATTEMPT_FAILED:
		o = new_event(r, NW_EV_RECOVERY_FAILED);
		if (!o)
			return;
		cJSON_AddNumberToObject(o, "attempt", l->attempt);
		cJSON_AddNumberToObject(o, "failed_attempts", l->failed_attempts);
		cJSON_AddNumberToObject(o, "reboot_after", r->cfg.reboot_after);
		cJSON_AddBoolToObject(o, "reboot_enabled", r->cfg.steps[NW_STEP_REBOOT]);
		snprintf(msg, sizeof(msg), "recovery attempt %u left the host offline (%u failed "
			 "attempt%s)", l->attempt, l->failed_attempts,
			 l->failed_attempts == 1 ? "" : "s");
		cJSON_AddStringToObject(o, "message", msg);
		emit(r, NW_EV_RECOVERY_FAILED, o);
		return;
	}
}

/* --- probes ------------------------------------------------------------------ */

static void save_resolv_conf(struct nw_recovery_run *r)
{
	uint64_t now = nw_now_ns(CLOCK_MONOTONIC);
	const char *path = r->cfg.resolv_conf ? r->cfg.resolv_conf : "/etc/resolv.conf";
	int err;

	if (!r->cfg.enabled || !r->cfg.steps[NW_STEP_RESTORE_DNS] || r->env.dry_run ||
	    !r->env.state_dir ||
	    (r->last_resolv_save_ns && now - r->last_resolv_save_ns < RESOLV_SAVE_EVERY_NS))
		return;
	r->last_resolv_save_ns = now;
	err = nw_resolvconf_save(path, r->env.state_dir);
	if (err == 1)
		log_info("recovery: saved %s as the known-good copy", path);
	else if (err < 0 && err != -ELOOP && err != -ENOENT)
		log_warn("recovery: cannot save %s: %s", path, strerror(-err));
}

static void probe_event(struct nw_recovery_run *r, const struct nw_probe_cfg *c,
			const struct nw_probe_state *st, const struct nw_probe_result *res,
			bool was_known, bool was_up, uint64_t down_ns)
{
	unsigned type = res->ok ? NW_EV_PROBE_OK : NW_EV_PROBE_FAILED;
	char msg[320], tgt[300];
	cJSON *o;

	if (res->ok && was_known && was_up)
		return;		/* only changes (and the first result) */
	if (!res->ok && st->consec_fail > 10 && st->consec_fail % 60)
		return;		/* a long outage: one a minute at 1 s intervals */
	if (!(o = new_event(r, type)))
		return;
	if (c->type == NW_PROBE_TCP)
		snprintf(tgt, sizeof(tgt), "%s%s%s:%u", c->family == AF_INET6 ? "[" : "", c->target,
			 c->family == AF_INET6 ? "]" : "", c->port);
	else
		snprintf(tgt, sizeof(tgt), "%s", c->target);
	cJSON_AddStringToObject(o, "probe", c->name);
	cJSON_AddStringToObject(o, "probe_type", nw_probe_type_name(c->type));
	cJSON_AddStringToObject(o, "role", nw_probe_role_name(c->role));
	cJSON_AddStringToObject(o, "target", tgt);
	cJSON_AddNumberToObject(o, "rtt_us", (double)res->rtt_us);
	if (res->ok) {
		if (was_known)
			cJSON_AddNumberToObject(o, "down_ms", (double)(down_ns / 1000000ull));
		snprintf(msg, sizeof(msg), "probe %s (%s %s) %s in %llu us: %s", c->name,
			 nw_probe_type_name(c->type), tgt, was_known ? "answers again" : "answers",
			 (unsigned long long)res->rtt_us, res->detail);
	} else {
		cJSON_AddNumberToObject(o, "consecutive", st->consec_fail);
		cJSON_AddBoolToObject(o, "timeout", res->timeout);
		if (res->err)
			cJSON_AddNumberToObject(o, "errno", res->err);
		if (res->http_status)
			cJSON_AddNumberToObject(o, "http_status", (double)res->http_status);
		snprintf(msg, sizeof(msg), "probe %s (%s %s) failed (%u in a row): %s", c->name,
			 nw_probe_type_name(c->type), tgt, st->consec_fail, res->detail);
	}
	cJSON_AddStringToObject(o, "detail", res->detail);
	if (st->method)
		cJSON_AddStringToObject(o, "method", st->method);
	cJSON_AddStringToObject(o, "message", msg);
	emit(r, type, o);
}

static void on_result(void *ud, size_t i, const struct nw_probe_cfg *c,
		      const struct nw_probe_state *st, const struct nw_probe_result *res)
{
	struct nw_recovery_run *r = ud;
	enum nw_ladder_event ev;
	struct prev *pv = &r->prev[i < NW_PROBES_MAX ? i : 0];
	bool was_known = pv->known, was_up = pv->up;
	uint64_t now = nw_now_ns(CLOCK_MONOTONIC), down_ns = 0;
	int step;

	if (was_known && !was_up && res->ok)
		down_ns = now - pv->down_since_ns;
	if (!res->ok && (!was_known || was_up))
		pv->down_since_ns = now;
	pv->known = true;
	pv->up = res->ok;
	probe_event(r, c, st, res, was_known, was_up, down_ns);
	compute(r);
	if (r->verdict.connected == 1)
		save_resolv_conf(r);
	step = nw_ladder_verdict(&r->ladder, &r->verdict, nw_now_ns(CLOCK_MONOTONIC), &ev);
	on_ladder_event(r, ev);
	if (step >= 0)
		start_step(r, step);
}

static const struct nw_probes_ops probe_ops = { .result = on_result };

/* --- steps ------------------------------------------------------------------- */

static void remember(struct nw_recovery_run *r, unsigned step, const struct nw_step_outcome *o)
{
	struct last_step *s = &r->last[r->last_head];

	s->step = step;
	s->level = nw_step_level(step);
	s->result = o->result;
	s->duration_us = o->duration_us;
	s->at_ns = nw_now_ns(CLOCK_REALTIME);
	snprintf(s->detail, sizeof(s->detail), "%s", o->detail);
	r->last_head = (r->last_head + 1) % LAST_STEPS;
	if (r->n_last < LAST_STEPS)
		r->n_last++;
}

static void step_event(struct nw_recovery_run *r, unsigned step, const struct nw_step_outcome *o)
{
	char msg[900];
	cJSON *ev = new_event(r, NW_EV_RECOVERY_STEP);

	if (!ev)
		return;
	cJSON_AddNumberToObject(ev, "level", nw_step_level(step));
	cJSON_AddStringToObject(ev, "step", nw_step_name(step));
	cJSON_AddStringToObject(ev, "result", nw_step_result_name(o->result));
	cJSON_AddNumberToObject(ev, "duration_us", (double)o->duration_us);
	cJSON_AddNumberToObject(ev, "attempt", r->ladder.attempt);
	cJSON_AddNumberToObject(ev, "changes", o->changes);
	cJSON_AddStringToObject(ev, "detail", o->detail);
	if (o->leftover[0])
		cJSON_AddStringToObject(ev, "leftover", o->leftover);
	if (r->env.dry_run)
		cJSON_AddBoolToObject(ev, "dry_run", 1);
	snprintf(msg, sizeof(msg), "L%u %s: %s in %llu us%s%s%s%s", nw_step_level(step),
		 nw_step_name(step), nw_step_result_name(o->result),
		 (unsigned long long)o->duration_us, o->detail[0] ? ": " : "", o->detail,
		 o->leftover[0] ? "; left over: " : "", o->leftover);
	cJSON_AddStringToObject(ev, "message", msg);
	emit(r, NW_EV_RECOVERY_STEP, ev);
}

static void apply_next_cfg(struct nw_recovery_run *r)
{
	if (!r->has_next)
		return;
	nw_recovery_cfg_free(&r->cfg);
	r->cfg = r->next;
	memset(&r->next, 0, sizeof(r->next));
	r->has_next = false;
	nw_ladder_set_cfg(&r->ladder, &r->cfg);
}

static void on_reprobed(void *ud)
{
	struct nw_recovery_run *r = ud;
	enum nw_ladder_event ev;
	int step;

	compute(r);
	step = nw_ladder_reprobed(&r->ladder, &r->verdict, nw_now_ns(CLOCK_MONOTONIC), &ev);
	on_ladder_event(r, ev);
	if (step >= 0)
		start_step(r, step);
}

static void step_finished(struct nw_recovery_run *r, unsigned step, const struct nw_step_outcome *o)
{
	enum nw_ladder_event ev;
	bool reprobe = false;
	int next;

	remember(r, step, o);
	step_event(r, step, o);
	apply_next_cfg(r);
	compute(r);
	next = nw_ladder_step_done(&r->ladder, step, o->result, &r->verdict, &reprobe, &ev);
	on_ladder_event(r, ev);
	if (reprobe) {
		if (nw_probes_run_now(r->probes, on_reprobed, r) < 0)
			on_reprobed(r);		/* judge on what we have */
		return;
	}
	if (next >= 0)
		start_step(r, next);
}

static void on_step_done(void *ud, unsigned step, const struct nw_step_outcome *o)
{
	step_finished(ud, step, o);
}

static void start_step(struct nw_recovery_run *r, int step)
{
	struct nw_step_outcome o = { .result = NW_STEP_FAILED };
	unsigned level = nw_step_level((unsigned)step);
	int err;

	if (level > r->outage_level)
		r->outage_level = level;
	r->outage_steps++;
	err = nw_steps_start(r->steps, (unsigned)step, on_step_done, r);
	if (!err)
		return;
	snprintf(o.detail, sizeof(o.detail), "could not start: %s", strerror(-err));
	step_finished(r, (unsigned)step, &o);
}

/* --- kicks ------------------------------------------------------------------- */

static void kick_now(struct nw_recovery_run *r)
{
	r->last_kick_ns = nw_now_ns(CLOCK_MONOTONIC);
	r->kicks++;
	log_debug("probes: run now (%s)", r->kick_why);
	nw_probes_run_now(r->probes, NULL, NULL);
}

static int on_kick_timer(sd_event_source *s, uint64_t usec, void *ud)
{
	(void)s;
	(void)usec;
	kick_now(ud);
	return 0;
}

void nw_recovery_run_kick(struct nw_recovery_run *r, const char *why)
{
	uint64_t now = nw_now_ns(CLOCK_MONOTONIC), at = now;
	int enabled = SD_EVENT_OFF;

	if (!r || !r->probes || !nw_probes_count(r->probes))
		return;
	sd_event_source_get_enabled(r->kick_timer, &enabled);
	if (enabled != SD_EVENT_OFF)
		return;		/* one is coming */
	snprintf(r->kick_why, sizeof(r->kick_why), "%s", why);
	if (r->last_kick_ns && now - r->last_kick_ns < KICK_MERGE_NS)
		at = r->last_kick_ns + KICK_MERGE_NS;
	/* never from inside the caller's dispatch: the loop first handles what
	 * is ready already (the route guard's notifications come first) */
	sd_event_source_set_time(r->kick_timer, at / 1000);
	sd_event_source_set_enabled(r->kick_timer, SD_EVENT_ONESHOT);
}

/* --- life cycle --------------------------------------------------------------- */

static int make_probes(struct nw_recovery_run *r, const struct nw_probe_cfg *probes, size_t n)
{
	struct nw_probes *p = NULL;
	int err;

	memset(r->prev, 0, sizeof(r->prev));
	if (n && (err = nw_probes_new(&p, r->e, probes, n, &probe_ops, r)))
		return err;
	if (r->probes) {
		nw_probes_cancel_done(r->probes, r);
		nw_probes_free(r->probes);
	}
	r->probes = p;
	if (r->ladder.reprobing) {
		/* the re-probe round went with the old probes: judge now */
		compute(r);
		on_reprobed(r);
	}
	return 0;
}

static void fill_env(struct nw_recovery_run *r)
{
	r->env.cfg = &r->cfg;
	r->env.bus = r->bus;
}

int nw_recovery_run_new(struct nw_recovery_run **out, sd_event *e, uint32_t netns,
			const struct nw_probe_cfg *probes, size_t n_probes,
			const struct nw_recovery_cfg *recovery, const struct nw_steps_env *env,
			const struct nw_recovery_run_ops *ops, void *ud)
{
	struct nw_recovery_run *r = calloc(1, sizeof(*r));
	int err;

	if (!r)
		return -ENOMEM;
	r->e = sd_event_ref(e);
	r->netns = netns;
	r->ops = *ops;
	r->ud = ud;
	r->env = *env;
	r->verdict.connected = -1;
	r->verdict.gateway = -1;
	if ((err = nw_recovery_cfg_copy(&r->cfg, recovery)))
		goto fail;
	nw_ladder_init(&r->ladder, &r->cfg);
	if (r->cfg.enabled) {
		err = nw_sysbus_open(e, &r->bus);
		if (err < 0) {
			log_info("recovery: no system bus (%s): steps use their fallbacks",
				 strerror(-err));
			r->bus = NULL;
		}
	}
	fill_env(r);
	if ((err = nw_steps_new(&r->steps, &r->env)))
		goto fail;
	if ((err = sd_event_add_time(e, &r->kick_timer, CLOCK_MONOTONIC, 0, 1000, on_kick_timer,
				     r)) < 0)
		goto fail;
	sd_event_source_set_enabled(r->kick_timer, SD_EVENT_OFF);
	if ((err = make_probes(r, probes, n_probes)))
		goto fail;
	*out = r;
	return 0;
fail:
	nw_recovery_run_free(r);
	return err;
}

int nw_recovery_run_reconfigure(struct nw_recovery_run *r, const struct nw_probe_cfg *probes,
				size_t n_probes, const struct nw_recovery_cfg *recovery)
{
	struct nw_recovery_cfg copy;
	int err;

	if ((err = nw_recovery_cfg_copy(&copy, recovery)))
		return err;
	if ((err = make_probes(r, probes, n_probes))) {
		nw_recovery_cfg_free(&copy);
		return err;
	}
	if (r->has_next)
		nw_recovery_cfg_free(&r->next);
	r->next = copy;
	r->has_next = true;
	if (nw_steps_running(r->steps) < 0) {
		apply_next_cfg(r);
		nw_steps_set_env(r->steps, &r->env);
	}
	if (r->cfg.enabled && !r->bus && nw_sysbus_open(r->e, &r->bus) == 0) {
		fill_env(r);
		nw_steps_set_env(r->steps, &r->env);
	}
	return 0;
}

void nw_recovery_run_free(struct nw_recovery_run *r)
{
	if (!r)
		return;
	if (r->probes) {
		nw_probes_cancel_done(r->probes, r);
		nw_probes_free(r->probes);
	}
	nw_steps_free(r->steps);
	sd_event_source_disable_unref(r->kick_timer);
	if (r->bus)
		sd_bus_flush_close_unref(r->bus);
	nw_recovery_cfg_free(&r->cfg);
	if (r->has_next)
		nw_recovery_cfg_free(&r->next);
	sd_event_unref(r->e);
	free(r);
}

/* --- status ------------------------------------------------------------------ */

static const char *state_word(const struct nw_recovery_run *r)
{
	return r->verdict.connected == 1 ? "connected" : r->verdict.connected == 0 ? "offline"
										: unknown;
}

void nw_recovery_run_status(struct nw_recovery_run *r, cJSON *out)
{
	const struct nw_ladder *l = &r->ladder;
	cJSON *arr, *o;
	unsigned reboots = 0;

	cJSON_AddStringToObject(out, "state", state_word(r));
	cJSON_AddBoolToObject(out, "recovery_enabled", r->cfg.enabled);
	cJSON_AddNumberToObject(out, "failures", r->verdict.failures);
	cJSON_AddStringToObject(out, "gateway", gateway_word(r->verdict.gateway));
	cJSON_AddNumberToObject(out, "level", l->level);
	cJSON_AddNumberToObject(out, "attempt", l->attempt);
	cJSON_AddNumberToObject(out, "failed_attempts", l->failed_attempts);
	cJSON_AddBoolToObject(out, "upstream", l->upstream);
	cJSON_AddStringToObject(out, "running_step",
				l->running >= 0 ? nw_step_name((unsigned)l->running) : "");
	if (l->down && l->down_since_ns)
		cJSON_AddNumberToObject(out, "down_ms",
					(double)((nw_now_ns(CLOCK_MONOTONIC) - l->down_since_ns) /
						 1000000ull));
	cJSON_AddNumberToObject(out, "fail_threshold", r->cfg.fail_threshold);
	cJSON_AddNumberToObject(out, "emergency_threshold", r->cfg.emergency_threshold);
	cJSON_AddNumberToObject(out, "losses", (double)l->losses);
	cJSON_AddNumberToObject(out, "recoveries", (double)l->recoveries);
	cJSON_AddNumberToObject(out, "steps_run", (double)l->steps_run);
	cJSON_AddNumberToObject(out, "kicks", (double)r->kicks);
	if (r->env.state_dir && nw_reboot_guard_count(r->env.state_dir, time(NULL), &reboots) == 0)
		cJSON_AddNumberToObject(out, "reboots_24h", reboots);
	cJSON_AddBoolToObject(out, "system_bus", r->bus != NULL);
	o = cJSON_AddObjectToObject(out, "steps");
	for (unsigned s = 0; o && s < NW_STEP__MAX; s++)
		cJSON_AddBoolToObject(o, nw_step_name(s), r->cfg.steps[s]);
	arr = cJSON_AddArrayToObject(out, "probes");
	if (arr && r->probes)
		nw_probes_status(r->probes, arr);
	arr = cJSON_AddArrayToObject(out, "last_steps");
	for (size_t i = 0; arr && i < r->n_last; i++) {
		size_t k = (r->last_head + LAST_STEPS - r->n_last + i) % LAST_STEPS;
		const struct last_step *s = &r->last[k];
		char ts[NW_TS_LEN];

		if (!(o = cJSON_CreateObject()))
			break;
		nw_format_realtime(s->at_ns, ts);
		cJSON_AddStringToObject(o, "ts", ts);
		cJSON_AddNumberToObject(o, "level", s->level);
		cJSON_AddStringToObject(o, "step", nw_step_name(s->step));
		cJSON_AddStringToObject(o, "result", nw_step_result_name(s->result));
		cJSON_AddNumberToObject(o, "duration_us", (double)s->duration_us);
		cJSON_AddStringToObject(o, "detail", s->detail);
		cJSON_AddItemToArray(arr, o);
	}
}

void nw_recovery_run_summary(struct nw_recovery_run *r, char *buf, size_t size)
{
	size_t n = r->probes ? nw_probes_count(r->probes) : 0;

	if (!n)
		snprintf(buf, size, "no probes");
	else
		snprintf(buf, size, "%zu probe%s: %s, recovery level %u", n, n == 1 ? "" : "s",
			 state_word(r), r->ladder.level);
}

int nw_recovery_run_probe_now(struct nw_recovery_run *r, void (*done)(void *ud), void *ud)
{
	if (!r->probes || !nw_probes_count(r->probes))
		return -ENOENT;
	r->kicks++;
	return nw_probes_run_now(r->probes, done, ud);
}

void nw_recovery_run_probe_cancel(struct nw_recovery_run *r, void *ud)
{
	if (r->probes)
		nw_probes_cancel_done(r->probes, ud);
}
