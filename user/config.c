// SPDX-License-Identifier: GPL-2.0-only
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cjson/cJSON.h>

#include "cgroup.h"
#include "config.h"
#include "log.h"
#include "policy.h"
#include "util.h"

struct ctx {
	char *err;
	size_t errlen;
};

static int fail(struct ctx *c, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct ctx *c, const char *path, const char *fmt, ...)
{
	char msg[NW_ERR_LEN];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(c->err, c->errlen, "%s: %s", path, msg);
	return -EINVAL;
}

static const char *type_name(const cJSON *v)
{
	if (cJSON_IsString(v)) return "a string";
	if (cJSON_IsNumber(v)) return "a number";
	if (cJSON_IsBool(v)) return "a boolean";
	if (cJSON_IsNull(v)) return "null";
	if (cJSON_IsArray(v)) return "an array";
	if (cJSON_IsObject(v)) return "an object";
	return "invalid";
}

static void join(char *out, size_t size, const char *parent, const char *key)
{
	if (parent && *parent)
		snprintf(out, size, "%s.%s", parent, key);
	else
		snprintf(out, size, "%s", key);
}

/* Every key of obj must be in allowed; no key twice. */
static int check_keys(struct ctx *c, const cJSON *obj, const char *path,
		      const char *const *allowed)
{
	for (const cJSON *it = obj->child; it; it = it->next) {
		char p[256];
		bool ok = false;

		join(p, sizeof(p), path, it->string);
		for (const char *const *a = allowed; *a; a++)
			if (!strcmp(*a, it->string))
				ok = true;
		if (!ok)
			return fail(c, p, "unknown key");
		for (const cJSON *prev = obj->child; prev != it; prev = prev->next)
			if (!strcmp(prev->string, it->string))
				return fail(c, p, "key given twice");
	}
	return 0;
}

static int want_object(struct ctx *c, const cJSON *v, const char *path)
{
	if (!cJSON_IsObject(v))
		return fail(c, path, "expected an object, got %s", type_name(v));
	return 0;
}

static int get_string(struct ctx *c, const cJSON *v, const char *path, bool nullable,
		      char **out)
{
	if (nullable && cJSON_IsNull(v)) {
		free(*out);
		*out = NULL;
		return 0;
	}
	if (!cJSON_IsString(v))
		return fail(c, path, "expected a string, got %s", type_name(v));
	if (!*v->valuestring)
		return fail(c, path, "must not be empty");
	free(*out);
	if (!(*out = strdup(v->valuestring)))
		return -ENOMEM;
	return 0;
}

static int get_bool(struct ctx *c, const cJSON *v, const char *path, bool *out)
{
	if (!cJSON_IsBool(v))
		return fail(c, path, "expected true or false, got %s", type_name(v));
	*out = cJSON_IsTrue(v);
	return 0;
}

static int get_uint(struct ctx *c, const cJSON *v, const char *path, double min,
		    double max, uint64_t *out)
{
	double d;

	if (!cJSON_IsNumber(v))
		return fail(c, path, "expected a whole number, got %s", type_name(v));
	d = v->valuedouble;
	if (d != floor(d))
		return fail(c, path, "%g is not a whole number", d);
	if (d < min || d > max)
		return fail(c, path, "%.0f is out of range (%.0f-%.0f)", d, min, max);
	*out = (uint64_t)d;
	return 0;
}

static int get_action(struct ctx *c, const cJSON *v, const char *path, uint8_t *out)
{
	int a;

	if (!cJSON_IsString(v))
		return fail(c, path, "expected a string, got %s", type_name(v));
	a = nw_action_parse(v->valuestring);
	if (a < 0)
		return fail(c, path, "\"%s\" is not an action (allow, audit, deny, rewrite, kill)",
			    v->valuestring);
	*out = (uint8_t)a;
	return 0;
}

static int get_cgroup(struct ctx *c, const cJSON *v, const char *path, char **out)
{
	int err = get_string(c, v, path, false, out);

	if (err)
		return err;
	if (strstr(*out, "..") && (strstr(*out, "/../") || !strncmp(*out, "../", 3) ||
				   !strcmp(*out, "..") ||
				   !strcmp(*out + strlen(*out) - 3, "/..")))
		return fail(c, path, "\"%s\" must not contain \"..\"", v->valuestring);
	return 0;
}

static int parse_rule(struct ctx *c, const cJSON *o, const char *path,
		      struct nw_cfg_bind_rule *r)
{
	static const char *const keys[] = { "cgroup", "port", "proto", "family", "action", NULL };
	const cJSON *v;
	char p[256];
	uint64_t u;
	int err;

	if ((err = want_object(c, o, path)) || (err = check_keys(c, o, path, keys)))
		return err;
	if ((v = cJSON_GetObjectItemCaseSensitive(o, "cgroup"))) {
		join(p, sizeof(p), path, "cgroup");
		if (!cJSON_IsNull(v) && (err = get_cgroup(c, v, p, &r->cgroup)))
			return err;
	}
	if ((v = cJSON_GetObjectItemCaseSensitive(o, "port"))) {
		join(p, sizeof(p), path, "port");
		if ((err = get_uint(c, v, p, 0, 65535, &u)))
			return err;
		r->port = (uint16_t)u;
	}
	if ((v = cJSON_GetObjectItemCaseSensitive(o, "proto"))) {
		int pr;

		join(p, sizeof(p), path, "proto");
		if (!cJSON_IsString(v))
			return fail(c, p, "expected a string, got %s", type_name(v));
		if ((pr = nw_proto_parse(v->valuestring)) < 0)
			return fail(c, p, "\"%s\" is not tcp, udp or any", v->valuestring);
		r->proto = (uint8_t)pr;
	}
	if ((v = cJSON_GetObjectItemCaseSensitive(o, "family"))) {
		join(p, sizeof(p), path, "family");
		if (cJSON_IsString(v) && !strcmp(v->valuestring, "any")) {
			r->family = 0;
		} else if (cJSON_IsNumber(v) && (v->valuedouble == 4 || v->valuedouble == 6)) {
			r->family = (uint8_t)v->valuedouble;
		} else if (cJSON_IsNumber(v)) {
			return fail(c, p, "%g is not 4, 6 or \"any\"", v->valuedouble);
		} else {
			return fail(c, p, "expected 4, 6 or \"any\", got %s", type_name(v));
		}
	}
	join(p, sizeof(p), path, "action");
	if (!(v = cJSON_GetObjectItemCaseSensitive(o, "action")))
		return fail(c, p, "missing (allow, audit, deny, rewrite, kill)");
	return get_action(c, v, p, &r->action);
}

static int parse_binds(struct ctx *c, const cJSON *o, struct nw_cfg *cfg)
{
	static const char *const keys[] = { "cgroup", "default_action", "rules",
					    "scan_listeners", NULL };
	const cJSON *v;
	int err;

	if ((err = want_object(c, o, "binds")) || (err = check_keys(c, o, "binds", keys)))
		return err;
	if ((v = cJSON_GetObjectItemCaseSensitive(o, "cgroup")) &&
	    (err = get_cgroup(c, v, "binds.cgroup", &cfg->bind_cgroup)))
		return err;
	if ((v = cJSON_GetObjectItemCaseSensitive(o, "default_action"))) {
		if ((err = get_action(c, v, "binds.default_action", &cfg->bind_default)))
			return err;
	}
	if ((v = cJSON_GetObjectItemCaseSensitive(o, "scan_listeners")) &&
	    (err = get_bool(c, v, "binds.scan_listeners", &cfg->scan_listeners)))
		return err;
	if ((v = cJSON_GetObjectItemCaseSensitive(o, "rules"))) {
		int n = cJSON_GetArraySize(v);

		if (!cJSON_IsArray(v))
			return fail(c, "binds.rules", "expected an array, got %s", type_name(v));
		if (n > NW_BIND_POLICY_MAX / 4)
			return fail(c, "binds.rules", "%d rules, at most %d", n,
				    NW_BIND_POLICY_MAX / 4);
		cfg->rules = calloc((size_t)n + 1, sizeof(*cfg->rules));
		if (!cfg->rules)
			return -ENOMEM;
		for (int i = 0; i < n; i++) {
			char p[64];

			snprintf(p, sizeof(p), "binds.rules[%d]", i);
			cfg->n_rules++;
			err = parse_rule(c, cJSON_GetArrayItem(v, i), p, &cfg->rules[i]);
			if (err)
				return err;
		}
	}
	return 0;
}

static int parse_sections(struct ctx *c, const cJSON *root, struct nw_cfg *cfg)
{
	static const char *const top[] = { "netns", "bpf", "control", "binds", "routes",
					   "rules", "probes", "recovery", "tunnels", "segw",
					   "metrics", "log", NULL };
	/* in SPEC.md, handled by later versions: type-checked, then ignored */
	static const char *const later[] = { "routes", "rules", "probes", "recovery",
					     "tunnels", "segw", "metrics", NULL };
	const cJSON *v, *s;
	uint64_t u;
	int err;

	if (!cJSON_IsObject(root))
		return fail(c, "(top level)", "expected an object, got %s", type_name(root));
	if ((err = check_keys(c, root, "", top)))
		return err;

	if ((v = cJSON_GetObjectItemCaseSensitive(root, "netns"))) {
		if (!cJSON_IsString(v))
			return fail(c, "netns", "expected \"self\" or \"all\", got %s", type_name(v));
		if (strcmp(v->valuestring, "self") && strcmp(v->valuestring, "all"))
			return fail(c, "netns", "\"%s\" is not \"self\" or \"all\"", v->valuestring);
		cfg->netns_all = !strcmp(v->valuestring, "all");
	}
	if ((s = cJSON_GetObjectItemCaseSensitive(root, "bpf"))) {
		static const char *const keys[] = { "pin_dir", "keep_on_exit", NULL };

		if ((err = want_object(c, s, "bpf")) || (err = check_keys(c, s, "bpf", keys)))
			return err;
		if ((v = cJSON_GetObjectItemCaseSensitive(s, "pin_dir"))) {
			if ((err = get_string(c, v, "bpf.pin_dir", false, &cfg->pin_dir)))
				return err;
			if (cfg->pin_dir[0] != '/')
				return fail(c, "bpf.pin_dir", "\"%s\" is not an absolute path",
					    cfg->pin_dir);
		}
		if ((v = cJSON_GetObjectItemCaseSensitive(s, "keep_on_exit")) &&
		    (err = get_bool(c, v, "bpf.keep_on_exit", &cfg->keep_on_exit)))
			return err;
	}
	if ((s = cJSON_GetObjectItemCaseSensitive(root, "control"))) {
		static const char *const keys[] = { "socket", NULL };

		if ((err = want_object(c, s, "control")) ||
		    (err = check_keys(c, s, "control", keys)))
			return err;
		if ((v = cJSON_GetObjectItemCaseSensitive(s, "socket"))) {
			if ((err = get_string(c, v, "control.socket", false, &cfg->socket)))
				return err;
			if (cfg->socket[0] != '/')
				return fail(c, "control.socket", "\"%s\" is not an absolute path",
					    cfg->socket);
			if (strlen(cfg->socket) >= 108)
				return fail(c, "control.socket", "longer than 107 bytes");
		}
	}
	if ((s = cJSON_GetObjectItemCaseSensitive(root, "binds")) && (err = parse_binds(c, s, cfg)))
		return err;
	if ((s = cJSON_GetObjectItemCaseSensitive(root, "log"))) {
		static const char *const keys[] = { "level", "history", NULL };

		if ((err = want_object(c, s, "log")) || (err = check_keys(c, s, "log", keys)))
			return err;
		if ((v = cJSON_GetObjectItemCaseSensitive(s, "level"))) {
			if (!cJSON_IsString(v))
				return fail(c, "log.level", "expected a string, got %s", type_name(v));
			if ((cfg->log_level = nw_log_level_parse(v->valuestring)) < 0)
				return fail(c, "log.level",
					    "\"%s\" is not err, warning, notice, info or debug",
					    v->valuestring);
		}
		if ((v = cJSON_GetObjectItemCaseSensitive(s, "history"))) {
			if ((err = get_uint(c, v, "log.history", 1, 1000000, &u)))
				return err;
			cfg->history = (size_t)u;
		}
	}
	for (const char *const *l = later; *l; l++) {
		bool is_array = !strcmp(*l, "probes");

		if (!(v = cJSON_GetObjectItemCaseSensitive(root, *l)))
			continue;
		if (is_array ? !cJSON_IsArray(v) : !(cJSON_IsObject(v) || cJSON_IsNull(v)))
			return fail(c, *l, "expected %s, got %s", is_array ? "an array" : "an object",
				    type_name(v));
		snprintf(cfg->pending + strlen(cfg->pending),
			 sizeof(cfg->pending) - strlen(cfg->pending), "%s%s",
			 cfg->pending[0] ? ", " : "", *l);
	}
	return 0;
}

void nw_cfg_defaults(struct nw_cfg *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->bind_default = NW_ACT_AUDIT;
	cfg->scan_listeners = true;
	cfg->log_level = LOG_INFO;
	cfg->history = 1024;
}

void nw_cfg_free(struct nw_cfg *cfg)
{
	for (size_t i = 0; i < cfg->n_rules; i++)
		free(cfg->rules[i].cgroup);
	free(cfg->rules);
	free(cfg->pin_dir);
	free(cfg->socket);
	free(cfg->bind_cgroup);
	memset(cfg, 0, sizeof(*cfg));
}

static void where(const char *text, const char *at, int *line, int *col)
{
	*line = 1;
	*col = 1;
	for (const char *p = text; p < at && *p; p++) {
		if (*p == '\n') {
			(*line)++;
			*col = 1;
		} else {
			(*col)++;
		}
	}
}

int nw_cfg_parse(const char *text, struct nw_cfg *cfg, char *err, size_t errlen)
{
	struct ctx c = { err, errlen };
	const char *end = NULL;
	cJSON *root;
	int r;

	nw_cfg_defaults(cfg);
	root = cJSON_ParseWithOpts(text, &end, 1);
	if (!root) {
		int line, col;

		where(text, end ? end : text, &line, &col);
		snprintf(err, errlen, "line %d column %d: not valid JSON", line, col);
		return -EINVAL;
	}
	r = parse_sections(&c, root, cfg);
	cJSON_Delete(root);
	if (r)
		nw_cfg_free(cfg);
	return r;
}

static int check_one(struct ctx *c, const char *mount, const char *cg, const char *path,
		     bool must_exist)
{
	char abs[PATH_MAX];
	struct stat st;

	if (nw_cgroup_abs(mount, cg, abs, sizeof(abs)) < 0)
		return fail(c, path, "\"%s\" is not a valid cgroup path", cg);
	if (must_exist && (stat(abs, &st) < 0 || !S_ISDIR(st.st_mode)))
		return fail(c, path, "\"%s\": no such cgroup under %s", cg, mount);
	return 0;
}

int nw_cfg_check_cgroups(const struct nw_cfg *cfg, const char *mount, char *err, size_t errlen)
{
	struct ctx c = { err, errlen };
	int r;

	if (cfg->bind_cgroup && (r = check_one(&c, mount, cfg->bind_cgroup, "binds.cgroup", true)))
		return r;
	for (size_t i = 0; i < cfg->n_rules; i++) {
		char p[64];

		if (!cfg->rules[i].cgroup)
			continue;
		snprintf(p, sizeof(p), "binds.rules[%zu].cgroup", i);
		/* a rule's cgroup may not exist yet (a stopped service) */
		if ((r = check_one(&c, mount, cfg->rules[i].cgroup, p, false)))
			return r;
	}
	return 0;
}

int nw_cfg_load(const char *path, struct nw_cfg *cfg, char *err, size_t errlen)
{
	char msg[NW_ERR_LEN];
	char *text = NULL;
	int r;

	r = nw_read_file(path, &text, NW_CONFIG_MAX_BYTES);
	if (r < 0) {
		snprintf(err, errlen, "%s: %s", path,
			 r == -EFBIG ? "larger than 1 MiB" : strerror(-r));
		return r;
	}
	r = nw_cfg_parse(text, cfg, msg, sizeof(msg));
	free(text);
	if (r)
		snprintf(err, errlen, "%s: %s", path, msg);
	return r;
}
