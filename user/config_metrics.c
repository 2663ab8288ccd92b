// SPDX-License-Identifier: GPL-2.0-only
/*
 * netward.json "metrics" (issue 8):
 *
 * "metrics": { "textfile": "/var/lib/node_exporter/textfile_collector/netward.prom",
 *              "interval_ms": 10000 }
 *
 * textfile: an absolute path of a file (null or absent: no metrics), in a
 * directory that exists when netwardd writes (it is not made; a missing or
 * unwritable one is a counted write error, not a config error).
 * interval_ms: how often the file is rewritten, 1000-3600000; changes are
 * written sooner (at most once a second).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "config_json.h"

static int get_textfile(struct nw_cfg_ctx *c, const cJSON *v, char **out)
{
	static const char path[] = "metrics.textfile";
	const char *base;
	int err;

	if ((err = nw_cfg_get_string(c, v, path, true, out)) || !*out)
		return err;
	if ((*out)[0] != '/')
		return nw_cfg_fail(c, path, "\"%s\" is not an absolute path", *out);
	if (strlen(*out) >= PATH_MAX - 16)
		return nw_cfg_fail(c, path, "longer than %d bytes", PATH_MAX - 17);
	for (const char *s = *out; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return nw_cfg_fail(c, path, "\"%s\" contains a control character", *out);
	base = strrchr(*out, '/') + 1;
	if (!*base || !strcmp(base, ".") || !strcmp(base, ".."))
		return nw_cfg_fail(c, path, "\"%s\" names a directory, not a file (e.g. %s%snetward.prom)",
				   *out, *out, *base ? "/" : "");
	return 0;
}

int nw_cfg_parse_metrics(struct nw_cfg_ctx *c, const cJSON *o, struct nw_cfg *cfg)
{
	static const char *const keys[] = { "textfile", "interval_ms", NULL };
	const cJSON *v;
	int err;

	if (cJSON_IsNull(o))
		return 0;
	if ((err = nw_cfg_want_object(c, o, "metrics")) ||
	    (err = nw_cfg_check_keys(c, o, "metrics", keys)))
		return err;
	if ((v = cJSON_GetObjectItemCaseSensitive(o, "textfile")) &&
	    (err = get_textfile(c, v, &cfg->metrics.textfile)))
		return err;
	return nw_cfg_get_section_u32(c, o, "metrics", "interval_ms", 1000, 3600000,
				      &cfg->metrics.interval_ms);
}
