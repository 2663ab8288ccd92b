/* SPDX-License-Identifier: GPL-2.0-only */
/* /etc/netward/netward.json: parse and validate. Errors name the JSON path
 * and the value: "binds.rules[0].action: \"block\" is not an action ...". */
#ifndef NETWARD_CONFIG_FILE_H
#define NETWARD_CONFIG_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>

#include "metrics.h"
#include "probe.h"
#include "recovery.h"
#include "route_guard.h"
#include "segw.h"
#include "tunnels.h"

#define NW_DEFAULT_CONFIG "/etc/netward/netward.json"
#define NW_DEFAULT_PIN_DIR "/sys/fs/bpf/netward"
#define NW_DEFAULT_SOCKET "/run/netward/netward.sock"
#define NW_DEFAULT_STATE_DIR "/var/lib/netward"
#define NW_CONFIG_MAX_BYTES (1024 * 1024)
#define NW_ERR_LEN 512
#define NW_ROUTES_PROTECT_MAX 256
#define NW_RULES_PROTECT_MAX 256

struct nw_cfg_bind_rule {
	char *cgroup;		/* NULL: any cgroup */
	uint16_t port;		/* 0: any */
	uint8_t proto;		/* 0: any */
	uint8_t family;		/* 0: any */
	uint8_t action;
};

/* "rules": rule churn (storm detection, auto-quarantine). What the route
 * guard protects (protect, protect_defaults, restore) goes to
 * nw_cfg.routes (protect_rules, protect_default_rules, restore_rules). */
struct nw_cfg_rules {
	uint32_t storm_threshold;	/* rule changes within window_ms: a rule_storm */
	uint32_t window_ms;
	bool auto_quarantine;		/* quarantine the cgroup behind a storm */
};

struct nw_cfg {
	bool netns_all;
	char *pin_dir;
	bool keep_on_exit;
	char *socket;
	char *bind_cgroup;
	uint8_t bind_default;
	bool scan_listeners;
	struct nw_cfg_bind_rule *rules;
	size_t n_rules;
	int log_level;
	size_t history;
	/* routes: the route guard's settings (dry_run comes from the command
	 * line); protect is malloc'ed. The rules section's protected rules
	 * are filled in here too (protect_rules is malloc'ed). */
	struct nw_route_guard_cfg routes;
	struct nw_cfg_rules rules_cfg;
	/* probes and recovery (issue 5): probe targets and the recovery
	 * section's strings are malloc'ed */
	struct nw_probe_cfg *probes;
	size_t n_probes;
	struct nw_recovery_cfg recovery;
	struct nw_tunnels_cfg tunnels;	/* issue 6; strings malloc'ed */
	struct nw_segw_cfg segw;	/* issue 7; malloc'ed */
	struct nw_metrics_cfg metrics;	/* issue 8; textfile malloc'ed */
	/* sections of SPEC.md accepted but not acted on by this version */
	char pending[128];
};

void nw_cfg_defaults(struct nw_cfg *cfg);
void nw_cfg_free(struct nw_cfg *cfg);

/* Parses text into cfg (defaults first). On error returns -EINVAL and
 * writes "<json path>: <problem>" (or "line L column C: ...") to err. */
int nw_cfg_parse(const char *text, struct nw_cfg *cfg, char *err, size_t errlen);

/* Checks that binds.cgroup exists under mount and that the rules' cgroups
 * are valid paths (they may not exist yet: netwardd waits for them). */
int nw_cfg_check_cgroups(const struct nw_cfg *cfg, const char *mount, char *err, size_t errlen);

/* Reads and parses a file. A missing file is -ENOENT. err carries the path:
 * "/etc/netward/netward.json: binds.default_action: ...". */
/* config_recovery.c: the "probes" array and the "recovery" object */
struct nw_cfg_ctx;
int nw_cfg_parse_probes(struct nw_cfg_ctx *c, const cJSON *v, struct nw_cfg *cfg);
int nw_cfg_parse_recovery(struct nw_cfg_ctx *c, const cJSON *v, struct nw_cfg *cfg);
void nw_cfg_free_probes(struct nw_cfg *cfg);
/* config_tunnels.c: the "tunnels" object */
int nw_cfg_parse_tunnels(struct nw_cfg_ctx *c, const cJSON *v, struct nw_cfg *cfg);
/* config_segw.c: the "segw" object */
int nw_cfg_parse_segw(struct nw_cfg_ctx *c, const cJSON *v, struct nw_cfg *cfg);
/* config_metrics.c: the "metrics" object */
int nw_cfg_parse_metrics(struct nw_cfg_ctx *c, const cJSON *v, struct nw_cfg *cfg);
/* The secret files the config names (tunnels.watch[].token_file,
 * segw.connections[].psk_file) exist,
 * are owner-only and hold a plausible token: 0, or -errno with
 * "tunnels.watch[0].token_file: <path> is readable by ..." in err. */
int nw_cfg_check_secrets(const struct nw_cfg *cfg, char *err, size_t errlen);

int nw_cfg_load(const char *path, struct nw_cfg *cfg, char *err, size_t errlen);

#endif
