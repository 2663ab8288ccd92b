// SPDX-License-Identifier: GPL-2.0-only
/*
 * netward.json "segw" (issue 7):
 *
 * "segw": { "vici_socket": "unix:///var/run/charon.vici", "initiate_timeout_ms": 10000,
 *           "connections": [ { "name": "corp", "remote_addrs": "10.0.0.1, 10.0.0.2",
 *                              "max_retries": 5, "psk_file": "/etc/netward/corp.psk",
 *                              "conn": { "version": 2, "local_addrs": "10.0.0.10",
 *                                        "proposals": "aes128-sha256-modp2048",
 *                                        "dpd_delay": "1s",
 *                                        "local": { "auth": "psk", "id": "client.lab" },
 *                                        "remote": { "auth": "psk", "id": "%any" },
 *                                        "children": { ... } } } ] }
 *
 * "conn" is shaped like a swanctl.conf connection (sections -> objects,
 * lists -> arrays of strings); netward adds remote_addrs (the current
 * gateway) when it loads it.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "config_json.h"
#include "segw.h"
#include "vici.h"

void nw_segw_cfg_free(struct nw_segw_cfg *c)
{
	for (size_t i = 0; i < c->n_conns; i++) {
		struct nw_segw_conn_cfg *k = &c->conns[i];

		for (size_t j = 0; j < k->n_gateways; j++)
			free(k->gateways[j]);
		free(k->gateways);
		free(k->psk_file);
		cJSON_Delete(k->conn);
	}
	free(c->conns);
	free(c->vici_socket);
	memset(c, 0, sizeof(*c));
	c->initiate_timeout_ms = 10000;
	c->retry_delay_ms = 1000;
}

int nw_segw_split_addrs(const char *list, char ***out, size_t *n, char *why, size_t whylen)
{
	char **gw = NULL;
	size_t count = 0;
	const char *p = list;
	int err = -EINVAL;

	*out = NULL;
	*n = 0;
	if (!list || !*list) {
		snprintf(why, whylen, "is empty: at least one gateway is needed");
		return -EINVAL;
	}
	for (;;) {
		const char *end = strchr(p, ','), *a = p, *b = end ? end : p + strlen(p);
		char **grown;

		while (a < b && isspace((unsigned char)*a))
			a++;
		while (b > a && isspace((unsigned char)b[-1]))
			b--;
		if (a == b) {
			snprintf(why, whylen, "entry %zu is empty", count + 1);
			goto fail;
		}
		if (b - a > 253) {
			snprintf(why, whylen, "entry %zu is longer than 253 bytes", count + 1);
			goto fail;
		}
		for (const char *q = a; q < b; q++)
			if (isspace((unsigned char)*q) || !isprint((unsigned char)*q)) {
				snprintf(why, whylen, "entry %zu \"%.*s\" contains a space or a "
					 "control character", count + 1, (int)(b - a), a);
				goto fail;
			}
		if (count == NW_SEGW_MAX_GATEWAYS) {
			snprintf(why, whylen, "more than %d gateways", NW_SEGW_MAX_GATEWAYS);
			goto fail;
		}
		if (!(grown = realloc(gw, (count + 1) * sizeof(*gw))) ||
		    !(grown[count] = strndup(a, (size_t)(b - a)))) {
			if (grown)
				gw = grown;
			err = -ENOMEM;
			snprintf(why, whylen, "out of memory");
			goto fail;
		}
		gw = grown;
		count++;
		if (!end)
			break;
		p = end + 1;
	}
	*out = gw;
	*n = count;
	return 0;
fail:
	for (size_t i = 0; i < count; i++)
		free(gw[i]);
	free(gw);
	return err;
}

/* conn: objects, strings, numbers, booleans and arrays of scalars only
 * (what VICI can carry), no remote_addrs (netward sets it), and no child
 * with dpd_action = restart. */
static int check_conn(struct nw_cfg_ctx *c, const cJSON *o, const char *path, int depth)
{
	const cJSON *it;

	if (depth > NW_VICI_MAX_DEPTH - 2)
		return nw_cfg_fail(c, path, "nested too deep");
	cJSON_ArrayForEach(it, o) {
		char p[256];

		nw_cfg_join(p, sizeof(p), path, it->string);
		if (strlen(it->string) > 255)
			return nw_cfg_fail(c, p, "key longer than 255 bytes");
		if (depth == 0 && !strcmp(it->string, "remote_addrs"))
			return nw_cfg_fail(c, p, "set by netward from remote_addrs (the current "
					   "gateway): leave it out here");
		if (cJSON_IsObject(it)) {
			int err = check_conn(c, it, p, depth + 1);

			if (err)
				return err;
		} else if (cJSON_IsArray(it)) {
			const cJSON *e;

			cJSON_ArrayForEach(e, it)
				if (!cJSON_IsString(e) && !cJSON_IsNumber(e))
					return nw_cfg_fail(c, p, "lists hold strings or numbers, got %s",
							   nw_json_type_name(e));
		} else if (cJSON_IsNull(it)) {
			return nw_cfg_fail(c, p, "null is not a value (leave the key out)");
		}
	}
	/* children.<name>.dpd_action = restart re-initiates to the same first
	 * address and fights the rotation */
	if (depth == 0) {
		const cJSON *ch = cJSON_GetObjectItemCaseSensitive(o, "children");

		cJSON_ArrayForEach(it, ch) {
			const cJSON *a = cJSON_GetObjectItemCaseSensitive(it, "dpd_action");
			char p[256];

			if (cJSON_IsString(a) && !strcmp(a->valuestring, "restart")) {
				snprintf(p, sizeof(p), "%s.children.%s.dpd_action", path, it->string);
				return nw_cfg_fail(c, p, "\"restart\" re-initiates to the same gateway "
						   "and fights netward's rotation: use \"clear\" "
						   "(netward does the retries)");
			}
		}
	}
	return 0;
}

static int parse_conn(struct nw_cfg_ctx *c, const cJSON *o, const char *path, void *elem)
{
	static const char *const keys[] = { "name", "remote_addrs", "max_retries", "psk_file",
					    "conn", NULL };
	struct nw_segw_conn_cfg *k = elem;
	const cJSON *v;
	char sub[96], why[160];
	int err;

	k->max_retries = 5;
	if ((err = nw_cfg_want_object(c, o, path)) || (err = nw_cfg_check_keys(c, o, path, keys)))
		return err;
	nw_cfg_join(sub, sizeof(sub), path, "name");
	if (!(v = cJSON_GetObjectItemCaseSensitive(o, "name")))
		return nw_cfg_fail(c, sub, "missing");
	if (!cJSON_IsString(v))
		return nw_cfg_fail(c, sub, "expected a string, got %s", nw_json_type_name(v));
	if (!*v->valuestring || strlen(v->valuestring) >= NW_SEGW_NAME_MAX)
		return nw_cfg_fail(c, sub, "\"%s\" must be 1-%d bytes", v->valuestring,
				   NW_SEGW_NAME_MAX - 1);
	for (const char *q = v->valuestring; *q; q++)
		if (!(isalnum((unsigned char)*q) || *q == '-' || *q == '_' || *q == '.'))
			return nw_cfg_fail(c, sub, "\"%s\": use letters, digits, '-', '_' and '.'",
					   v->valuestring);
	snprintf(k->name, sizeof(k->name), "%s", v->valuestring);

	nw_cfg_join(sub, sizeof(sub), path, "remote_addrs");
	v = cJSON_GetObjectItemCaseSensitive(o, "remote_addrs");
	if (!v || cJSON_IsNull(v))
		return nw_cfg_fail(c, sub, "missing: the gateways to rotate through");
	if (!cJSON_IsString(v))
		return nw_cfg_fail(c, sub, "expected a string such as \"10.0.0.1, 10.0.0.2\", got %s",
				   nw_json_type_name(v));
	if ((err = nw_segw_split_addrs(v->valuestring, &k->gateways, &k->n_gateways, why,
				       sizeof(why))))
		return err == -ENOMEM ? err : nw_cfg_fail(c, sub, "\"%s\": %s", v->valuestring, why);

	if ((err = nw_cfg_get_section_u32(c, o, path, "max_retries", 1, 100, &k->max_retries)))
		return err;
	if ((v = cJSON_GetObjectItemCaseSensitive(o, "psk_file"))) {
		nw_cfg_join(sub, sizeof(sub), path, "psk_file");
		if ((err = nw_cfg_get_string(c, v, sub, false, &k->psk_file)))
			return err;
		if (k->psk_file[0] != '/')
			return nw_cfg_fail(c, sub, "\"%s\" is not an absolute path", k->psk_file);
	}
	nw_cfg_join(sub, sizeof(sub), path, "conn");
	if (!(v = cJSON_GetObjectItemCaseSensitive(o, "conn")))
		return nw_cfg_fail(c, sub, "missing: the connection as swanctl.conf would define it");
	if ((err = nw_cfg_want_object(c, v, sub)) || (err = check_conn(c, v, sub, 0)))
		return err;
	if (!(k->conn = cJSON_Duplicate(v, 1)))
		return -ENOMEM;
	return 0;
}

int nw_cfg_parse_segw(struct nw_cfg_ctx *c, const cJSON *o, struct nw_cfg *cfg)
{
	static const char *const keys[] = { "vici_socket", "initiate_timeout_ms", "retry_delay_ms",
					    "connections", NULL };
	struct nw_segw_cfg *s = &cfg->segw;
	const cJSON *v;
	int err;

	if (cJSON_IsNull(o))
		return 0;
	if ((err = nw_cfg_want_object(c, o, "segw")) || (err = nw_cfg_check_keys(c, o, "segw", keys)))
		return err;
	if ((v = cJSON_GetObjectItemCaseSensitive(o, "vici_socket"))) {
		const char *p;

		if ((err = nw_cfg_get_string(c, v, "segw.vici_socket", false, &s->vici_socket)))
			return err;
		p = !strncmp(s->vici_socket, "unix://", 7) ? s->vici_socket + 7 : s->vici_socket;
		if (p[0] != '/')
			return nw_cfg_fail(c, "segw.vici_socket",
					   "\"%s\" is not unix:///absolute/path or an absolute path",
					   s->vici_socket);
		if (strlen(p) >= 108)
			return nw_cfg_fail(c, "segw.vici_socket", "longer than 107 bytes");
	}
	if ((err = nw_cfg_get_section_u32(c, o, "segw", "initiate_timeout_ms", 100, 600000,
					  &s->initiate_timeout_ms)) ||
	    (err = nw_cfg_get_section_u32(c, o, "segw", "retry_delay_ms", 0, 600000,
					  &s->retry_delay_ms)))
		return err;
	if (!(v = cJSON_GetObjectItemCaseSensitive(o, "connections")))
		return nw_cfg_fail(c, "segw.connections", "missing (the connections to fail over)");
	if ((err = nw_cfg_parse_list(c, v, "segw.connections", NW_SEGW_MAX_CONNECTIONS,
				     "connections", sizeof(*s->conns), (void **)&s->conns,
				     &s->n_conns, parse_conn)))
		return err;
	for (size_t i = 0; i < s->n_conns; i++)
		for (size_t j = 0; j < i; j++)
			if (!strcmp(s->conns[i].name, s->conns[j].name)) {
				char p[64];

				snprintf(p, sizeof(p), "segw.connections[%zu].name", i);
				return nw_cfg_fail(c, p, "\"%s\" is the name of "
						   "segw.connections[%zu] already",
						   s->conns[i].name, j);
			}
	s->enabled = s->n_conns > 0;
	return 0;
}
