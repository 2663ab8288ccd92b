// SPDX-License-Identifier: GPL-2.0-only
/*
 * netward.json "tunnels" (issue 6):
 *
 * "tunnels": { "api_base": "https://api.cloudflare.com/client/v4",
 *              "interval_ms": 3000, "timeout_ms": 2000, "gateway": "192.0.2.1",
 *              "watch": [ { "name": "web", "account_id": "<32 hex>",
 *                           "tunnel_id": "<uuid>", "token_file": "/etc/netward/cf.token",
 *                           "service": "cloudflared-backup.service",
 *                           "ready_url": "http://127.0.0.1:20241/ready",
 *                           "fall": 2, "rise": 2, "degraded_is_down": false,
 *                           "stop_on_recovery": false } ] }
 *
 * Only the text is checked here; the token files are checked (owner-only,
 * readable, a plausible token) by nw_cfg_check_secrets.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "config_json.h"
#include "secret.h"
#include "units.h"
#include "util.h"

static bool all_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isxdigit((unsigned char)s[i]))
			return false;
	return s[n] == 0;
}

/* http:// or https:// and something after it, no whitespace */
static int get_url(struct nw_cfg_ctx *c, const cJSON *v, const char *path, char **out)
{
	int err = nw_cfg_get_string(c, v, path, false, out);
	const char *host;

	if (err)
		return err;
	host = !strncmp(*out, "https://", 8) ? *out + 8 :
			   !strncmp(*out, "http://", 7) ? *out + 7 : NULL;

	if (!host || !*host || strchr("/?#:", *host))
		return nw_cfg_fail(c, path, "\"%s\" is not an http:// or https:// URL with a host",
				   *out);
	if (strpbrk(*out, " \t\r\n"))
		return nw_cfg_fail(c, path, "\"%s\" contains whitespace", *out);
	return 0;
}

static int get_fixed(struct nw_cfg_ctx *c, const cJSON *o, const char *base, const char *key,
		     char *out, size_t size, bool (*valid)(const char *), const char *what)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	char path[96];

	nw_cfg_join(path, sizeof(path), base, key);
	if (!v)
		return nw_cfg_fail(c, path, "missing");
	if (!cJSON_IsString(v))
		return nw_cfg_fail(c, path, "expected a string, got %s", nw_json_type_name(v));
	if (strlen(v->valuestring) >= size || !valid(v->valuestring))
		return nw_cfg_fail(c, path, "\"%s\" is not %s", v->valuestring, what);
	snprintf(out, size, "%s", v->valuestring);
	return 0;
}

static bool valid_account(const char *s)
{
	return strlen(s) == 32 && all_hex(s, 32);
}

static bool valid_name(const char *s)
{
	if (!*s || strlen(s) > 63)
		return false;
	for (; *s; s++)
		if (!(isalnum((unsigned char)*s) || *s == '-' || *s == '_' || *s == '.'))
			return false;
	return true;
}

static bool valid_unit(const char *s)
{
	return nw_unit_name_valid(s) == 0;
}

static int parse_tunnel(struct nw_cfg_ctx *c, const cJSON *o, const char *path, void *elem)
{
	static const char *const keys[] = { "name", "account_id", "tunnel_id", "token_file",
					    "service", "ready_url", "fall", "rise",
					    "degraded_is_down", "stop_on_recovery", NULL };
	struct nw_tunnel_cfg *t = elem;
	const cJSON *v;
	char sub[96];
	int err;

	t->fall = 2;
	t->rise = 2;
	if ((err = nw_cfg_want_object(c, o, path)) || (err = nw_cfg_check_keys(c, o, path, keys)))
		return err;
	if ((err = get_fixed(c, o, path, "account_id", t->account_id, sizeof(t->account_id),
			     valid_account, "an account id (32 hex digits)")) ||
	    (err = get_fixed(c, o, path, "tunnel_id", t->tunnel_id, sizeof(t->tunnel_id),
			     nw_is_uuid, "a tunnel id (a UUID: 8-4-4-4-12 hex digits)")))
		return err;
	if (cJSON_GetObjectItemCaseSensitive(o, "name")) {
		if ((err = get_fixed(c, o, path, "name", t->name, sizeof(t->name), valid_name,
				     "a name (1-63 letters, digits, '-', '_', '.')")))
			return err;
	} else {
		snprintf(t->name, sizeof(t->name), "%s", t->tunnel_id);
	}
	nw_cfg_join(sub, sizeof(sub), path, "token_file");
	if (!(v = cJSON_GetObjectItemCaseSensitive(o, "token_file")))
		return nw_cfg_fail(c, sub, "missing (the API token is read from a file only "
				   "root can read, never from this file)");
	if ((err = nw_cfg_get_string(c, v, sub, false, &t->token_file)))
		return err;
	if (t->token_file[0] != '/')
		return nw_cfg_fail(c, sub, "\"%s\" is not an absolute path", t->token_file);
	if (cJSON_GetObjectItemCaseSensitive(o, "service") &&
	    (err = get_fixed(c, o, path, "service", t->service, sizeof(t->service), valid_unit,
			     "a unit name (such as cloudflared-backup.service)")))
		return err;
	if ((v = cJSON_GetObjectItemCaseSensitive(o, "ready_url"))) {
		nw_cfg_join(sub, sizeof(sub), path, "ready_url");
		if ((err = get_url(c, v, sub, &t->ready_url)))
			return err;
	}
	if ((err = nw_cfg_get_section_u32(c, o, path, "fall", 1, 100, &t->fall)) ||
	    (err = nw_cfg_get_section_u32(c, o, path, "rise", 1, 100, &t->rise)))
		return err;
	if ((v = cJSON_GetObjectItemCaseSensitive(o, "degraded_is_down"))) {
		nw_cfg_join(sub, sizeof(sub), path, "degraded_is_down");
		if ((err = nw_cfg_get_bool(c, v, sub, &t->degraded_is_down)))
			return err;
	}
	if ((v = cJSON_GetObjectItemCaseSensitive(o, "stop_on_recovery"))) {
		nw_cfg_join(sub, sizeof(sub), path, "stop_on_recovery");
		if ((err = nw_cfg_get_bool(c, v, sub, &t->stop_on_recovery)))
			return err;
		if (t->stop_on_recovery && !t->service[0])
			return nw_cfg_fail(c, sub, "true, but there is no \"service\" to stop");
	}
	return 0;
}

void nw_tunnels_cfg_free(struct nw_tunnels_cfg *c)
{
	for (size_t i = 0; i < c->n_watch; i++) {
		free(c->watch[i].token_file);
		free(c->watch[i].ready_url);
	}
	free(c->watch);
	free(c->api_base);
	memset(c, 0, sizeof(*c));
	c->interval_ms = 3000;
	c->timeout_ms = 2000;
}

int nw_cfg_parse_tunnels(struct nw_cfg_ctx *c, const cJSON *o, struct nw_cfg *cfg)
{
	static const char *const keys[] = { "api_base", "interval_ms", "timeout_ms", "gateway",
					    "watch", NULL };
	struct nw_tunnels_cfg *t = &cfg->tunnels;
	const cJSON *v;
	int err;

	if (cJSON_IsNull(o))
		return 0;
	if ((err = nw_cfg_want_object(c, o, "tunnels")) ||
	    (err = nw_cfg_check_keys(c, o, "tunnels", keys)))
		return err;
	if ((v = cJSON_GetObjectItemCaseSensitive(o, "api_base"))) {
		if ((err = get_url(c, v, "tunnels.api_base", &t->api_base)))
			return err;
		/* {api}/accounts/... : no trailing slash */
		while (strlen(t->api_base) > 8 && t->api_base[strlen(t->api_base) - 1] == '/')
			t->api_base[strlen(t->api_base) - 1] = 0;
	}
	if ((err = nw_cfg_get_section_u32(c, o, "tunnels", "interval_ms", 200, 3600000,
					  &t->interval_ms)))
		return err;
	/* not given: 2000, or half the interval when that is shorter */
	if (t->timeout_ms >= t->interval_ms)
		t->timeout_ms = t->interval_ms / 2;
	if ((err = nw_cfg_get_section_u32(c, o, "tunnels", "timeout_ms", 100, 60000, &t->timeout_ms)))
		return err;
	if (t->timeout_ms >= t->interval_ms)
		return nw_cfg_fail(c, "tunnels.timeout_ms", "%u must be less than interval_ms (%u)",
				   t->timeout_ms, t->interval_ms);
	if ((v = cJSON_GetObjectItemCaseSensitive(o, "gateway")) && !cJSON_IsNull(v)) {
		if (!cJSON_IsString(v))
			return nw_cfg_fail(c, "tunnels.gateway", "expected a string, got %s",
					   nw_json_type_name(v));
		if (nw_parse_ip(v->valuestring, &t->gateway_family, t->gateway))
			return nw_cfg_fail(c, "tunnels.gateway", "\"%s\" is not an IP address",
					   v->valuestring);
		t->has_gateway = true;
	}
	if (!(v = cJSON_GetObjectItemCaseSensitive(o, "watch")))
		return nw_cfg_fail(c, "tunnels.watch", "missing (the tunnels to poll)");
	if ((err = nw_cfg_parse_list(c, v, "tunnels.watch", NW_TUNNELS_MAX, "tunnels",
				     sizeof(*t->watch), (void **)&t->watch, &t->n_watch,
				     parse_tunnel)))
		return err;
	for (size_t i = 0; i < t->n_watch; i++)
		for (size_t j = 0; j < i; j++) {
			char p[64];

			snprintf(p, sizeof(p), "tunnels.watch[%zu]", i);
			if (!strcasecmp(t->watch[i].tunnel_id, t->watch[j].tunnel_id))
				return nw_cfg_fail(c, p, "tunnel_id %s is watched by "
						   "tunnels.watch[%zu] already",
						   t->watch[i].tunnel_id, j);
			if (!strcmp(t->watch[i].name, t->watch[j].name))
				return nw_cfg_fail(c, p, "name \"%s\" is the name of "
						   "tunnels.watch[%zu] already",
						   t->watch[i].name, j);
		}
	t->enabled = t->n_watch > 0;
	return 0;
}

int nw_cfg_check_secrets(const struct nw_cfg *cfg, char *err, size_t errlen)
{
	for (size_t i = 0; i < cfg->tunnels.n_watch; i++) {
		char msg[NW_ERR_LEN];
		int r = nw_secret_check(cfg->tunnels.watch[i].token_file, msg, sizeof(msg));

		if (r) {
			snprintf(err, errlen, "tunnels.watch[%zu].token_file: %s", i, msg);
			return r;
		}
	}
	for (size_t i = 0; i < cfg->segw.n_conns; i++) {
		char msg[NW_ERR_LEN];
		int r;

		if (!cfg->segw.conns[i].psk_file)
			continue;
		if ((r = nw_secret_check(cfg->segw.conns[i].psk_file, msg, sizeof(msg)))) {
			snprintf(err, errlen, "segw.connections[%zu].psk_file: %s", i, msg);
			return r;
		}
	}
	return 0;
}
