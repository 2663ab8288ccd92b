// SPDX-License-Identifier: GPL-2.0-only
/* The JSON helpers every config section parser shares. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "config_json.h"

int nw_cfg_fail(struct nw_cfg_ctx *c, const char *path, const char *fmt, ...)
{
	char msg[NW_ERR_LEN];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(c->err, c->errlen, "%s: %s", path, msg);
	return -EINVAL;
}

const char *nw_json_type_name(const cJSON *v)
{
	if (cJSON_IsString(v)) return "a string";
	if (cJSON_IsNumber(v)) return "a number";
	if (cJSON_IsBool(v)) return "a boolean";
	if (cJSON_IsNull(v)) return "null";
	if (cJSON_IsArray(v)) return "an array";
	if (cJSON_IsObject(v)) return "an object";
	return "invalid";
}

cJSON *nw_json_parse_object(const char *text, size_t len, char *err, size_t errlen)
{
	const char *end;
	cJSON *root;

	if (!len) {
		snprintf(err, errlen, "empty");
		return NULL;
	}
	if ((end = memchr(text, 0, len))) {
		snprintf(err, errlen, "a NUL byte at offset %zu: not JSON text", (size_t)(end - text));
		return NULL;
	}
	root = cJSON_ParseWithLengthOpts(text, len, &end, false);
	if (!root) {
		size_t last = len;

		/* a file cut off does not end with the object's brace */
		while (last && isspace((unsigned char)text[last - 1]))
			last--;
		snprintf(err, errlen, "not valid JSON (%zu bytes%s)", len,
			 last && text[last - 1] == '}' ? "" : ", truncated?");
		return NULL;
	}
	for (; end && end < text + len; end++)
		if (!isspace((unsigned char)*end)) {
			snprintf(err, errlen, "data after the JSON object at byte %zu",
				 (size_t)(end - text));
			cJSON_Delete(root);
			return NULL;
		}
	if (!cJSON_IsObject(root)) {
		snprintf(err, errlen, "expected a JSON object, got %s", nw_json_type_name(root));
		cJSON_Delete(root);
		return NULL;
	}
	return root;
}

void nw_cfg_join(char *out, size_t size, const char *parent, const char *key)
{
	if (parent && *parent)
		snprintf(out, size, "%s.%s", parent, key);
	else
		snprintf(out, size, "%s", key);
}

/* Every key of obj must be in allowed; no key twice. */
int nw_cfg_check_keys(struct nw_cfg_ctx *c, const cJSON *obj, const char *path,
		      const char *const *allowed)
{
	for (const cJSON *it = obj->child; it; it = it->next) {
		char p[256];
		bool ok = false;

		nw_cfg_join(p, sizeof(p), path, it->string);
		for (const char *const *a = allowed; *a; a++)
			if (!strcmp(*a, it->string))
				ok = true;
		if (!ok)
			return nw_cfg_fail(c, p, "unknown key");
		for (const cJSON *prev = obj->child; prev != it; prev = prev->next)
			if (!strcmp(prev->string, it->string))
				return nw_cfg_fail(c, p, "key given twice");
	}
	return 0;
}

int nw_cfg_want_object(struct nw_cfg_ctx *c, const cJSON *v, const char *path)
{
	if (!cJSON_IsObject(v))
		return nw_cfg_fail(c, path, "expected an object, got %s", nw_json_type_name(v));
	return 0;
}

int nw_cfg_get_string(struct nw_cfg_ctx *c, const cJSON *v, const char *path, bool nullable,
		      char **out)
{
	if (nullable && cJSON_IsNull(v)) {
		free(*out);
		*out = NULL;
		return 0;
	}
	if (!cJSON_IsString(v))
		return nw_cfg_fail(c, path, "expected a string, got %s", nw_json_type_name(v));
	if (!*v->valuestring)
		return nw_cfg_fail(c, path, "must not be empty");
	free(*out);
	if (!(*out = strdup(v->valuestring)))
		return -ENOMEM;
	return 0;
}

int nw_cfg_get_text(struct nw_cfg_ctx *c, const cJSON *o, const char *path, const char *key,
		    bool required, size_t max, const char **out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	char p[160];

	*out = NULL;
	nw_cfg_join(p, sizeof(p), path, key);
	if (!v)
		return required ? nw_cfg_fail(c, p, "missing") : 0;
	if (!cJSON_IsString(v))
		return nw_cfg_fail(c, p, "expected a string, got %s", nw_json_type_name(v));
	if (!v->valuestring[0] || strlen(v->valuestring) > max)
		return nw_cfg_fail(c, p, "expected 1 to %zu bytes, got %zu", max,
				   strlen(v->valuestring));
	*out = v->valuestring;
	return 0;
}

int nw_cfg_get_bool(struct nw_cfg_ctx *c, const cJSON *v, const char *path, bool *out)
{
	if (!cJSON_IsBool(v))
		return nw_cfg_fail(c, path, "expected true or false, got %s", nw_json_type_name(v));
	*out = cJSON_IsTrue(v);
	return 0;
}

int nw_cfg_get_uint(struct nw_cfg_ctx *c, const cJSON *v, const char *path, double min,
		    double max, uint64_t *out)
{
	double d;

	if (!cJSON_IsNumber(v))
		return nw_cfg_fail(c, path, "expected a whole number, got %s", nw_json_type_name(v));
	d = v->valuedouble;
	if (d != floor(d))
		return nw_cfg_fail(c, path, "%g is not a whole number", d);
	if (d < min || d > max)
		return nw_cfg_fail(c, path, "%.0f is out of range (%.0f-%.0f)", d, min, max);
	*out = (uint64_t)d;
	return 0;
}

/* A JSON array of at most max objects, each parsed by one() into element i
 * of *items (elem bytes each), its path "<path>[i]". *n counts the elements
 * handed to one(), so nw_cfg_free frees what they allocated even on error. */
int nw_cfg_parse_list(struct nw_cfg_ctx *c, const cJSON *v, const char *path, int max, const char *noun,
		      size_t elem, void **items, size_t *n, nw_cfg_elem_fn one)
{
	int count = cJSON_GetArraySize(v), err;

	if (!cJSON_IsArray(v))
		return nw_cfg_fail(c, path, "expected an array, got %s", nw_json_type_name(v));
	if (count > max)
		return nw_cfg_fail(c, path, "%d %s, at most %d", count, noun, max);
	if (!count)
		return 0;
	*items = calloc((size_t)count, elem);
	if (!*items)
		return -ENOMEM;
	for (int i = 0; i < count; i++) {
		char p[64];

		snprintf(p, sizeof(p), "%s[%d]", path, i);
		(*n)++;
		if ((err = one(c, cJSON_GetArrayItem(v, i), p, (char *)*items + (size_t)i * elem)))
			return err;
	}
	return 0;
}

/* "<section>.<key>": a whole number in [min, max], when present */
int nw_cfg_get_section_u32(struct nw_cfg_ctx *c, const cJSON *o, const char *section, const char *key,
			   double min, double max, uint32_t *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	char p[64];
	uint64_t u;
	int err;

	if (!v)
		return 0;
	nw_cfg_join(p, sizeof(p), section, key);
	if ((err = nw_cfg_get_uint(c, v, p, min, max, &u)))
		return err;
	*out = (uint32_t)u;
	return 0;
}

int nw_parse_ip(const char *s, uint8_t *family, uint8_t addr[16])
{
	memset(addr, 0, 16);
	if (inet_pton(AF_INET, s, addr) == 1) {
		*family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, s, addr) == 1) {
		*family = AF_INET6;
		return 0;
	}
	return -EINVAL;
}

int nw_cfg_get_dev(struct nw_cfg_ctx *c, const cJSON *v, const char *path, char out[16])
{
	const char *s;

	if (!cJSON_IsString(v))
		return nw_cfg_fail(c, path, "expected a string, got %s", nw_json_type_name(v));
	s = v->valuestring;
	if (!*s)
		return nw_cfg_fail(c, path, "must not be empty");
	if (strlen(s) > 15)
		return nw_cfg_fail(c, path, "\"%s\" is longer than 15 bytes", s);
	if (!strcmp(s, ".") || !strcmp(s, "..") || strpbrk(s, "/: \t\n"))
		return nw_cfg_fail(c, path, "\"%s\" is not an interface name", s);
	snprintf(out, 16, "%s", s);
	return 0;
}

