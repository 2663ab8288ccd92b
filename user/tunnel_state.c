// SPDX-License-Identifier: GPL-2.0-only
/*
 * The backup units the tunnel poller started, kept in <state_dir>/tunnels.json
 * so that a netwardd started after a crash, a kill or a restart still stops
 * them on recovery (stop_on_recovery). The text is one JSON object:
 *
 *   { "version": 1, "boot_id": "5f0c…",
 *     "units": [ { "tunnel_id": "6ff42ae2-…", "unit": "cloudflared-backup.service",
 *                  "tunnel": "web", "started": "2026-01-05T10:12:03.123456Z" } ] }
 *
 * An entry is a claim: this unit was started by netwardd for that tunnel.
 * It is keyed by tunnel_id and unit (a tunnel whose service changed is not
 * the claim's any more); "tunnel" and "started" are for people. A claim
 * written in another boot (boot_id) is void: the unit did not survive it,
 * or something else started it. The parser is strict (unknown keys, wrong
 * types, a tunnel twice): a file it does not understand is not used.
 *
 * The first half is (de)serialisation, library-like: no logging, negative
 * errno, errors that name the JSON path. The second half is what the poller
 * does with it (restore at start, write when the set of claims changes),
 * and says so in the log.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <cjson/cJSON.h>

#include "config_json.h"
#include "log.h"
#include "tunnels_impl.h"
#include "units.h"
#include "util.h"

/* --- the file ------------------------------------------------------------------ */

void nw_tun_claims_free(struct nw_tun_claims *s)
{
	if (!s)
		return;
	free(s->c);
	memset(s, 0, sizeof(*s));
}

int nw_tun_claims_add(struct nw_tun_claims *s, const struct nw_tun_claim *c)
{
	struct nw_tun_claim *n;

	if (s->n >= NW_TUNNELS_MAX)
		return -E2BIG;
	if (!(n = realloc(s->c, (s->n + 1) * sizeof(*n))))
		return -ENOMEM;
	s->c = n;
	s->c[s->n++] = *c;
	return 0;
}

const struct nw_tun_claim *nw_tun_claims_find(const struct nw_tun_claims *s, const char *tunnel_id,
					      const char *unit)
{
	for (size_t i = 0; i < s->n; i++)
		if (!strcasecmp(s->c[i].tunnel_id, tunnel_id) &&
		    (!unit || !strcmp(s->c[i].unit, unit)))
			return &s->c[i];
	return NULL;
}

bool nw_tun_claims_same(const struct nw_tun_claims *a, const struct nw_tun_claims *b)
{
	/* neither holds a tunnel twice: equal counts and a inside b is enough */
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (!nw_tun_claims_find(b, a->c[i].tunnel_id, a->c[i].unit))
			return false;
	return true;
}

int nw_tun_claims_format(const struct nw_tun_claims *s, char **out)
{
	cJSON *root = cJSON_CreateObject(), *arr;
	char *text = NULL;
	size_t len;
	int r = -ENOMEM;

	*out = NULL;
	if (!root || !cJSON_AddNumberToObject(root, "version", NW_TUN_STATE_VERSION) ||
	    (s->boot_id[0] && !cJSON_AddStringToObject(root, "boot_id", s->boot_id)) ||
	    !(arr = cJSON_AddArrayToObject(root, "units")))
		goto cleanup;
	for (size_t i = 0; i < s->n; i++) {
		const struct nw_tun_claim *c = &s->c[i];
		cJSON *o = cJSON_CreateObject();

		if (!o)
			goto cleanup;
		cJSON_AddItemToArray(arr, o);
		if (!cJSON_AddStringToObject(o, "tunnel_id", c->tunnel_id) ||
		    !cJSON_AddStringToObject(o, "unit", c->unit) ||
		    (c->name[0] && !cJSON_AddStringToObject(o, "tunnel", c->name)) ||
		    (c->started[0] && !cJSON_AddStringToObject(o, "started", c->started)))
			goto cleanup;
	}
	if (!(text = cJSON_Print(root)))
		goto cleanup;
	/* one newline at the end, as a text file has */
	len = strlen(text);
	if (!(*out = malloc(len + 2)))
		goto cleanup;
	memcpy(*out, text, len);
	memcpy(*out + len, "\n", 2);
	r = 0;
cleanup:
	free(text);
	cJSON_Delete(root);
	return r;
}

/* 2026-01-05T10:12:03Z, with or without a fraction of a second */
static bool is_time(const char *s)
{
	struct tm tm = { 0 };
	const char *p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);

	if (!p)
		return false;
	if (*p == '.') {
		size_t n = strspn(++p, "0123456789");

		if (!n)
			return false;
		p += n;
	}
	return !strcmp(p, "Z");
}

/* a string member of 1 to max bytes into out (max + 1 bytes), when present */
static int get_str(struct nw_cfg_ctx *c, const cJSON *o, const char *path, const char *key,
		   bool required, char *out, size_t max)
{
	const char *v;
	int r = nw_cfg_get_text(c, o, path, key, required, max, &v);

	out[0] = 0;
	if (!r && v)
		memcpy(out, v, strlen(v) + 1);
	return r;
}

static int parse_claim(struct nw_cfg_ctx *c, const cJSON *o, const char *path, void *elem)
{
	static const char *const keys[] = { "tunnel_id", "unit", "tunnel", "started", NULL };
	struct nw_tun_claim *cl = elem;
	char p[96];
	int r;

	if ((r = nw_cfg_want_object(c, o, path)) || (r = nw_cfg_check_keys(c, o, path, keys)) ||
	    (r = get_str(c, o, path, "tunnel_id", true, cl->tunnel_id, sizeof(cl->tunnel_id) - 1)) ||
	    (r = get_str(c, o, path, "unit", true, cl->unit, sizeof(cl->unit) - 1)) ||
	    (r = get_str(c, o, path, "tunnel", false, cl->name, sizeof(cl->name) - 1)) ||
	    (r = get_str(c, o, path, "started", false, cl->started, sizeof(cl->started) - 1)))
		return r;
	nw_cfg_join(p, sizeof(p), path, "tunnel_id");
	if (!nw_is_uuid(cl->tunnel_id))
		return nw_cfg_fail(c, p, "\"%s\" is not a tunnel id (a UUID)", cl->tunnel_id);
	nw_cfg_join(p, sizeof(p), path, "unit");
	if (nw_unit_name_valid(cl->unit))
		return nw_cfg_fail(c, p, "\"%s\" is not a unit name", cl->unit);
	nw_cfg_join(p, sizeof(p), path, "started");
	if (cl->started[0] && !is_time(cl->started))
		return nw_cfg_fail(c, p, "\"%s\" is not a UTC time (2026-01-05T10:12:03Z)",
				   cl->started);
	return 0;
}

int nw_tun_claims_parse(const char *text, size_t len, struct nw_tun_claims *s, char *err,
			size_t errlen)
{
	static const char *const keys[] = { "version", "boot_id", "units", NULL };
	struct nw_cfg_ctx c = { err, errlen };
	const cJSON *v;
	cJSON *root;
	uint64_t version;
	int r;

	memset(s, 0, sizeof(*s));
	if (errlen)
		err[0] = 0;
	if (!(root = nw_json_parse_object(text, len, err, errlen)))
		return -EINVAL;
	if ((r = nw_cfg_check_keys(&c, root, "", keys)))
		goto cleanup;
	if (!(v = cJSON_GetObjectItemCaseSensitive(root, "version"))) {
		r = nw_cfg_fail(&c, "version", "missing");
		goto cleanup;
	}
	if ((r = nw_cfg_get_uint(&c, v, "version", 0, 1e9, &version)))
		goto cleanup;
	if (version != NW_TUN_STATE_VERSION) {
		r = nw_cfg_fail(&c, "version", "%llu is not supported (this netwardd reads %d)",
				(unsigned long long)version, NW_TUN_STATE_VERSION);
		goto cleanup;
	}
	if ((r = get_str(&c, root, "", "boot_id", false, s->boot_id, sizeof(s->boot_id) - 1)))
		goto cleanup;
	if (!(v = cJSON_GetObjectItemCaseSensitive(root, "units"))) {
		r = nw_cfg_fail(&c, "units", "missing");
		goto cleanup;
	}
	if ((r = nw_cfg_parse_list(&c, v, "units", NW_TUNNELS_MAX, "units",
				   sizeof(struct nw_tun_claim), (void **)&s->c, &s->n,
				   parse_claim)))
		goto cleanup;
	for (size_t i = 1; i < s->n; i++)
		for (size_t j = 0; j < i; j++)
			if (!strcasecmp(s->c[i].tunnel_id, s->c[j].tunnel_id)) {
				char p[64];

				snprintf(p, sizeof(p), "units[%zu].tunnel_id", i);
				r = nw_cfg_fail(&c, p, "%s is in units[%zu] already",
						s->c[i].tunnel_id, j);
				goto cleanup;
			}
	r = 0;
cleanup:
	cJSON_Delete(root);
	if (r)
		nw_tun_claims_free(s);
	return r;
}

int nw_tun_claims_load(const char *path, struct nw_tun_claims *s, char *err, size_t errlen)
{
	char *buf = NULL;
	size_t len;
	int r;

	memset(s, 0, sizeof(*s));
	if (!(r = nw_read_regular_file(path, NW_TUN_STATE_MAX_BYTES, &buf, &len, err, errlen)))
		r = nw_tun_claims_parse(buf, len, s, err, errlen);
	free(buf);
	return r;
}

int nw_tun_claims_save(const char *path, const struct nw_tun_claims *s)
{
	char *text = NULL;
	int r;

	if ((r = nw_tun_claims_format(s, &text)))
		return r;
	r = nw_write_file_atomic(path, text, strlen(text), 0600, false);
	free(text);
	return r;
}

/* --- what the poller does with it ---------------------------------------------------- */

/* The claims the poller holds now: every unit it started and did not stop. */
static int claims_now(struct nw_tunnels *t, struct nw_tun_claims *out)
{
	int r;

	memset(out, 0, sizeof(*out));
	memcpy(out->boot_id, t->boot_id, sizeof(out->boot_id));
	for (size_t i = 0; i < t->n; i++) {
		const struct tunnel *tun = t->tun[i];
		struct nw_tun_claim c = { 0 };

		if (!tun->started_by_netward || !tun->cfg.service[0])
			continue;
		memcpy(c.tunnel_id, tun->cfg.tunnel_id, sizeof(c.tunnel_id));
		memcpy(c.unit, tun->cfg.service, sizeof(c.unit));
		memcpy(c.name, tun->cfg.name, sizeof(c.name));
		memcpy(c.started, tun->unit_started, sizeof(c.started));
		if ((r = nw_tun_claims_add(out, &c)) < 0) {
			nw_tun_claims_free(out);
			return r;
		}
	}
	return 0;
}

void nw_tun_state_sync(struct nw_tunnels *t)
{
	struct nw_tun_claims now;
	int r;

	if (!t->state_path || t->dry_run)
		return;
	if ((r = claims_now(t, &now)) < 0)
		goto failed;
	/* the set, not the text: a claim's boot id, name and time do not count */
	if (nw_tun_claims_same(&now, &t->saved)) {
		nw_tun_claims_free(&now);
		return;
	}
	if ((r = nw_mkdir_p(t->state_dir, 0755)) < 0 ||
	    (r = nw_tun_claims_save(t->state_path, &now)) < 0) {
		nw_tun_claims_free(&now);
		goto failed;
	}
	nw_tun_claims_free(&t->saved);
	t->saved = now;
	if (t->state_warned)
		log_notice("tunnels: %s written again", t->state_path);
	t->state_warned = false;
	return;
failed:
	/* what it holds is written at the next change */
	if (!t->state_warned)
		log_warn("tunnels: %s: %s: the backup units netwardd started are not remembered "
			 "across a restart", t->state_path, strerror(-r));
	t->state_warned = true;
}

static struct tunnel *tunnel_by_id(struct nw_tunnels *t, const char *tunnel_id)
{
	for (size_t i = 0; i < t->n; i++)
		if (!strcasecmp(t->tun[i]->cfg.tunnel_id, tunnel_id))
			return t->tun[i];
	return NULL;
}

/* one claim of the file: the tunnel's again, or dropped (and said why) */
static void restore_one(struct nw_tunnels *t, const struct nw_tun_claim *c)
{
	struct tunnel *tun = tunnel_by_id(t, c->tunnel_id);
	const char *name = c->name[0] ? c->name : c->tunnel_id;

	if (!tun) {
		log_notice("tunnels: %s was started by an earlier netwardd for tunnel %s, which is "
			   "no longer configured: forgotten (it is left as it is)", c->unit, name);
		return;
	}
	if (strcmp(tun->cfg.service, c->unit)) {
		log_notice("tunnels: %s was started by an earlier netwardd for tunnel %s, whose "
			   "service is %s now: forgotten (it is left as it is)", c->unit,
			   tun->cfg.name, tun->cfg.service[0] ? tun->cfg.service : "none");
		return;
	}
	tun->started_by_netward = true;
	tun->inherited = true;
	tun->inherit_pending = true;
	memcpy(tun->unit_started, c->started, sizeof(tun->unit_started));
	log_notice("tunnels: %s: %s was started by an earlier netwardd%s%s%s", tun->cfg.name,
		   c->unit, c->started[0] ? " (at " : "", c->started, c->started[0] ? ")" : "");
	if (tun->cfg.stop_on_recovery)
		log_notice("tunnels: %s: %s is stopped once the tunnel is healthy (rise %u)",
			   tun->cfg.name, c->unit, tun->cfg.rise ? tun->cfg.rise : 2);
}

void nw_tun_state_restore(struct nw_tunnels *t, const char *state_dir)
{
	struct nw_tun_claims file = { 0 };
	char path[4096], err[256];
	int r;

	nw_boot_id(t->boot_id, sizeof(t->boot_id));
	if (!state_dir || !state_dir[0])
		return;
	if ((r = nw_path(path, sizeof(path), "%s/%s", state_dir, NW_TUN_STATE_FILE)) < 0) {
		log_warn("tunnels: state dir %s: %s: the backup units netwardd started are not "
			 "remembered across a restart", state_dir, strerror(-r));
		return;
	}
	if (!(t->state_path = strdup(path)) || !(t->state_dir = strdup(state_dir))) {
		free(t->state_path);
		t->state_path = NULL;
		log_warn("tunnels: %s: %s: the backup units netwardd started are not remembered "
			 "across a restart", path, strerror(ENOMEM));
		return;
	}
	r = nw_tun_claims_load(path, &file, err, sizeof(err));
	if (r == -ENOENT)
		goto sync;
	if (r < 0) {
		/* left as it is until the next change replaces it */
		log_warn("tunnels: %s: %s: ignored (no backup unit is known to be started by an "
			 "earlier netwardd)", path, err);
		goto sync;
	}
	t->saved = file;
	if (file.boot_id[0] && t->boot_id[0] && strcmp(file.boot_id, t->boot_id)) {
		if (file.n)
			log_notice("tunnels: %s: written before the last reboot (boot id %s): the "
				   "%zu backup unit%s listed %s not started in this boot: forgotten",
				   path, file.boot_id, file.n, file.n == 1 ? "" : "s",
				   file.n == 1 ? "was" : "were");
		goto sync;
	}
	for (size_t i = 0; i < file.n; i++)
		restore_one(t, &file.c[i]);
sync:
	/* dropped claims leave the file now (never under --dry-run) */
	nw_tun_state_sync(t);
}

void nw_tun_state_free(struct nw_tunnels *t)
{
	nw_tun_claims_free(&t->saved);
	free(t->state_path);
	free(t->state_dir);
	t->state_path = t->state_dir = NULL;
}
