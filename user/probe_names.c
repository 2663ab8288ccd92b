// SPDX-License-Identifier: GPL-2.0-only
/* Names of probe types and roles: shared by the daemon, the config parser
 * and netwardctl, so nothing else is linked in. */
#include <errno.h>
#include <string.h>

#include "probe.h"

static const char *const type_names[] = {
	[NW_PROBE_ICMP] = "icmp",
	[NW_PROBE_TCP] = "tcp",
	[NW_PROBE_HTTP] = "http",
	[NW_PROBE_HTTPS] = "https",
	[NW_PROBE_DNS] = "dns",
};

static const char *const role_names[] = {
	[NW_ROLE_INTERNET] = "internet",
	[NW_ROLE_GATEWAY] = "gateway",
};

static int lookup(const char *const *names, unsigned n, const char *name)
{
	if (!name)
		return -EINVAL;
	for (unsigned i = 0; i < n; i++)
		if (!strcmp(names[i], name))
			return (int)i;
	return -EINVAL;
}

const char *nw_probe_type_name(unsigned type)
{
	return type < sizeof(type_names) / sizeof(type_names[0]) ? type_names[type] : "unknown";
}

int nw_probe_type_parse(const char *name)
{
	return lookup(type_names, sizeof(type_names) / sizeof(type_names[0]), name);
}

const char *nw_probe_role_name(unsigned role)
{
	return role < sizeof(role_names) / sizeof(role_names[0]) ? role_names[role] : "unknown";
}

int nw_probe_role_parse(const char *name)
{
	return lookup(role_names, sizeof(role_names) / sizeof(role_names[0]), name);
}
