/* SPDX-License-Identifier: GPL-2.0-only */
/* What every section parser of netward.json shares: errors that name the
 * JSON path and the value ("probes[1].timeout_ms: 0 is out of range
 * (1-60000)"), unknown-key checks, and getters for the common value types.
 * Every getter returns 0 or -EINVAL (message in the context), -ENOMEM. */
#ifndef NETWARD_CONFIG_JSON_H
#define NETWARD_CONFIG_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>

struct nw_cfg_ctx {
	char *err;
	size_t errlen;
};

int nw_cfg_fail(struct nw_cfg_ctx *c, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
const char *nw_json_type_name(const cJSON *v);	/* "a string", "null", ... */
/* text (len bytes) as one JSON object, white space around it and nothing
 * else: the root (cJSON_Delete it), or NULL and the cause in err ("empty",
 * "a NUL byte at offset 3: not JSON text", "not valid JSON (9 bytes,
 * truncated?)", "data after the JSON object at byte 40", "expected a JSON
 * object, got an array"). For the state files. */
cJSON *nw_json_parse_object(const char *text, size_t len, char *err, size_t errlen);
/* "parent.key", or "key" at the top */
void nw_cfg_join(char *out, size_t size, const char *parent, const char *key);
/* Every key of obj must be in allowed (NULL-ended); no key twice. */
int nw_cfg_check_keys(struct nw_cfg_ctx *c, const cJSON *obj, const char *path,
		      const char *const *allowed);
int nw_cfg_want_object(struct nw_cfg_ctx *c, const cJSON *v, const char *path);
/* A non-empty string, strdup'ed into *out (the old value freed); null
 * allowed (-> NULL) when nullable. */
int nw_cfg_get_string(struct nw_cfg_ctx *c, const cJSON *v, const char *path, bool nullable,
		      char **out);
/* Member key of o: a string of 1 to max bytes, *out pointing into o;
 * NULL when absent (-EINVAL when required). Its path is "<path>.key". */
int nw_cfg_get_text(struct nw_cfg_ctx *c, const cJSON *o, const char *path, const char *key,
		    bool required, size_t max, const char **out);
int nw_cfg_get_bool(struct nw_cfg_ctx *c, const cJSON *v, const char *path, bool *out);
int nw_cfg_get_uint(struct nw_cfg_ctx *c, const cJSON *v, const char *path, double min,
		    double max, uint64_t *out);

/* A JSON array of at most max objects, each parsed by one() into element i
 * of *items (elem bytes each), its path "<path>[i]". *n counts the elements
 * handed to one(), so the owner frees what they allocated even on error. */
typedef int (*nw_cfg_elem_fn)(struct nw_cfg_ctx *c, const cJSON *o, const char *path,
			      void *elem);
int nw_cfg_parse_list(struct nw_cfg_ctx *c, const cJSON *v, const char *path, int max,
		      const char *noun, size_t elem, void **items, size_t *n, nw_cfg_elem_fn one);
/* "<section>.<key>": a whole number in [min, max], when present */
int nw_cfg_get_section_u32(struct nw_cfg_ctx *c, const cJSON *o, const char *section,
			   const char *key, double min, double max, uint32_t *out);
/* An IPv4 or IPv6 address; -EINVAL otherwise. */
int nw_parse_ip(const char *s, uint8_t *family, uint8_t addr[16]);
/* An interface name: 1-15 bytes, no '/', ':' or whitespace. */
int nw_cfg_get_dev(struct nw_cfg_ctx *c, const cJSON *v, const char *path, char out[16]);

#endif
