// SPDX-License-Identifier: GPL-2.0-only
/* Unit tests for user/policy.c: names, rule expansion, and the sync of a
 * real BPF hash map shaped like the pinned bind_policy map. */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <cmocka.h>

#include "policy.h"
#include "util.h"

static void test_action_names(void **state)
{
	static const char *const names[] = {
		[NW_ACT_NONE] = "none", [NW_ACT_ALLOW] = "allow", [NW_ACT_AUDIT] = "audit",
		[NW_ACT_DENY] = "deny", [NW_ACT_REWRITE] = "rewrite", [NW_ACT_KILL] = "kill",
	};

	(void)state;
	assert_int_equal(NW_ARRAY_SIZE(names), NW_ACT__MAX);
	for (unsigned a = 0; a < NW_ACT__MAX; a++)
		assert_string_equal(nw_action_name(a), names[a]);
	/* every action but "none" round-trips */
	for (unsigned a = NW_ACT_ALLOW; a < NW_ACT__MAX; a++)
		assert_int_equal(nw_action_parse(nw_action_name(a)), a);
	assert_string_equal(nw_action_name(NW_ACT__MAX), "?");
	assert_string_equal(nw_action_name(255), "?");
	assert_string_equal(nw_action_name(~0u), "?");
}

static void test_action_parse_rejects(void **state)
{
	static const char *const bad[] = { "none", "block", "", "Deny", "DENY", "deny ", " deny",
					   "?", "den", "denyy", "1" };

	(void)state;
	for (size_t i = 0; i < NW_ARRAY_SIZE(bad); i++)
		if (nw_action_parse(bad[i]) != -EINVAL)
			fail_msg("\"%s\" taken as an action", bad[i]);
	assert_int_equal(nw_action_parse("allow"), NW_ACT_ALLOW);
	assert_int_equal(nw_action_parse("audit"), NW_ACT_AUDIT);
	assert_int_equal(nw_action_parse("deny"), NW_ACT_DENY);
	assert_int_equal(nw_action_parse("rewrite"), NW_ACT_REWRITE);
	assert_int_equal(nw_action_parse("kill"), NW_ACT_KILL);
}

static void test_proto(void **state)
{
	(void)state;
	assert_int_equal(nw_proto_parse("tcp"), 6);
	assert_int_equal(nw_proto_parse("udp"), 17);
	assert_int_equal(nw_proto_parse("any"), 0);
	assert_int_equal(nw_proto_parse("icmp"), -EINVAL);
	assert_int_equal(nw_proto_parse("TCP"), -EINVAL);
	assert_int_equal(nw_proto_parse(""), -EINVAL);
	assert_int_equal(nw_proto_parse("6"), -EINVAL);
	assert_string_equal(nw_proto_name(6), "tcp");
	assert_string_equal(nw_proto_name(17), "udp");
	assert_string_equal(nw_proto_name(0), "any");
	assert_string_equal(nw_proto_name(1), "?");
	assert_string_equal(nw_proto_name(256 + 6), "?");
	assert_int_equal(nw_proto_parse(nw_proto_name(NW_PROTO_UDP)), NW_PROTO_UDP);
}

static void test_origin_match_names(void **state)
{
	(void)state;
	assert_string_equal(nw_origin_name(NW_ORIGIN_CONFIG), "config");
	assert_string_equal(nw_origin_name(NW_ORIGIN_CLI), "cli");
	assert_string_equal(nw_origin_name(0), "?");
	assert_string_equal(nw_origin_name(3), "?");
	assert_string_equal(nw_match_name(NW_MATCH_DEFAULT), "default");
	assert_string_equal(nw_match_name(NW_MATCH_ANY), "any");
	assert_string_equal(nw_match_name(NW_MATCH_ANY_PORT), "port");
	assert_string_equal(nw_match_name(NW_MATCH_CGROUP), "cgroup");
	assert_string_equal(nw_match_name(NW_MATCH_CGROUP_PORT), "cgroup+port");
	assert_string_equal(nw_match_name(NW_MATCH_CGROUP_PORT + 1), "?");
	assert_string_equal(nw_match_name(~0u), "?");
}

static void assert_key(const struct nw_bind_key *k, uint64_t cg, uint16_t port, uint8_t proto,
		       uint8_t family)
{
	assert_true(k->cgroup_id == cg);
	assert_int_equal(k->port, port);
	assert_int_equal(k->proto, proto);
	assert_int_equal(k->family, family);
	assert_int_equal(k->_pad, 0);
}

/* keys[] is filled with garbage first: expand must clear the padding */
static int expand(const struct nw_bind_rule_spec *spec, struct nw_bind_key keys[4])
{
	memset(keys, 0xa5, 4 * sizeof(*keys));
	return nw_policy_expand(spec, keys);
}

static void test_expand(void **state)
{
	struct nw_bind_rule_spec spec = { .cgroup_id = 0x1234567890ull, .port = 8443,
					  .action = NW_ACT_DENY };
	struct nw_bind_key keys[4];

	(void)state;
	/* any proto, any family: tcp4 tcp6 udp4 udp6 */
	assert_int_equal(expand(&spec, keys), 4);
	assert_key(&keys[0], 0x1234567890ull, 8443, 6, 4);
	assert_key(&keys[1], 0x1234567890ull, 8443, 6, 6);
	assert_key(&keys[2], 0x1234567890ull, 8443, 17, 4);
	assert_key(&keys[3], 0x1234567890ull, 8443, 17, 6);

	spec.proto = NW_PROTO_TCP;
	assert_int_equal(expand(&spec, keys), 2);
	assert_key(&keys[0], 0x1234567890ull, 8443, 6, 4);
	assert_key(&keys[1], 0x1234567890ull, 8443, 6, 6);

	spec.proto = 0;
	spec.family = 6;
	assert_int_equal(expand(&spec, keys), 2);
	assert_key(&keys[0], 0x1234567890ull, 8443, 6, 6);
	assert_key(&keys[1], 0x1234567890ull, 8443, 17, 6);

	spec.proto = NW_PROTO_TCP;
	spec.family = 4;
	assert_int_equal(expand(&spec, keys), 1);
	assert_key(&keys[0], 0x1234567890ull, 8443, 6, 4);
	assert_int_equal(keys[1]._pad, 0xa5a5a5a5);	/* only one written */

	spec = (struct nw_bind_rule_spec){ .proto = NW_PROTO_UDP, .family = 4 };
	assert_int_equal(expand(&spec, keys), 1);
	assert_key(&keys[0], 0, 0, 17, 4);

	/* nothing matches an unknown proto or family */
	spec = (struct nw_bind_rule_spec){ .proto = 1 };
	assert_int_equal(expand(&spec, keys), 0);
	spec = (struct nw_bind_rule_spec){ .family = 5 };
	assert_int_equal(expand(&spec, keys), 0);
}

/* --- the map --------------------------------------------------------------- */

static int map_setup(void **state)
{
	int fd = bpf_map_create(BPF_MAP_TYPE_HASH, NULL, sizeof(struct nw_bind_key),
				sizeof(struct nw_bind_rule), NW_BIND_POLICY_MAX, NULL);

	if (fd < 0 && errno != EPERM)
		print_error("bpf_map_create: %s\n", strerror(errno));
	*state = (void *)(intptr_t)fd;
	return 0;
}

static int map_teardown(void **state)
{
	int fd = (int)(intptr_t)*state;

	if (fd >= 0)
		close(fd);
	return 0;
}

static int map_fd(void **state)
{
	int fd = (int)(intptr_t)*state;

	if (fd < 0)
		skip();	/* no BPF here (EPERM): nothing to test against */
	return fd;
}

/* rules in the map: the hint entry is not one */
static size_t map_count(int fd)
{
	struct nw_bind_key key, next;
	size_t n = 0;

	if (bpf_map_get_next_key(fd, NULL, &next))
		return 0;
	do {
		key = next;
		n += !nw_policy_is_hint(&key);
	} while (!bpf_map_get_next_key(fd, &key, &next));
	return n;
}

static int hint_of(int fd)
{
	struct nw_bind_key key = { .cgroup_id = NW_BIND_HINT_ID };
	struct nw_bind_rule r;

	if (bpf_map_lookup_elem(fd, &key, &r))
		return -1;
	assert_int_equal(r.origin, NW_ORIGIN_HINT);
	return r.action;
}

/* The hint tells the programs which lookups can match; it follows every
 * change made through sync, add and del. */
static void test_hint_follows_changes(void **state)
{
	int fd = *(int *)state;
	struct nw_bind_rule_spec any = { .port = 80, .action = NW_ACT_DENY };
	struct nw_bind_rule_spec cg = { .cgroup_id = 42, .action = NW_ACT_ALLOW };

	assert_int_equal(nw_policy_sync(fd, NULL, 0), 0);
	assert_int_equal(hint_of(fd), 0);
	assert_int_equal(nw_policy_sync(fd, &any, 1), 0);
	assert_int_equal(hint_of(fd), NW_HINT_ANY);
	assert_int_equal(nw_policy_add(fd, &cg, NW_ORIGIN_CLI), 0);
	assert_int_equal(hint_of(fd), NW_HINT_ANY | NW_HINT_CGROUP);
	assert_int_equal(nw_policy_sync(fd, NULL, 0), 0);
	assert_int_equal(hint_of(fd), NW_HINT_CGROUP);	/* the CLI entry stays */
	assert_int_equal(nw_policy_del(fd, &cg), 4);
	assert_int_equal(hint_of(fd), 0);
	/* a sync never deletes the hint as a stale config entry */
	assert_int_equal(nw_policy_sync(fd, &any, 1), 0);
	assert_int_equal(nw_policy_sync(fd, &any, 1), 0);
	assert_int_equal(hint_of(fd), NW_HINT_ANY);
}

static size_t map_count_origin(int fd, uint8_t origin)
{
	struct nw_bind_key key, next;
	struct nw_bind_rule r;
	size_t n = 0;

	if (bpf_map_get_next_key(fd, NULL, &next))
		return 0;
	do {
		key = next;
		if (!bpf_map_lookup_elem(fd, &key, &r) && r.origin == origin)
			n++;
	} while (!bpf_map_get_next_key(fd, &key, &next));
	return n;
}

static struct nw_bind_key mkkey(uint64_t cg, uint16_t port, uint8_t proto, uint8_t family)
{
	struct nw_bind_key k;

	memset(&k, 0, sizeof(k));
	k.cgroup_id = cg;
	k.port = port;
	k.proto = proto;
	k.family = family;
	return k;
}

/* the entry for the key must be there with this action and origin */
static void assert_entry(int fd, uint64_t cg, uint16_t port, uint8_t proto, uint8_t family,
			 uint8_t action, uint8_t origin)
{
	struct nw_bind_key k = mkkey(cg, port, proto, family);
	struct nw_bind_rule r;

	memset(&r, 0xff, sizeof(r));
	if (bpf_map_lookup_elem(fd, &k, &r))
		fail_msg("no entry for cgroup %llu port %u proto %u family %u: %s",
			 (unsigned long long)cg, port, proto, family, strerror(errno));
	assert_int_equal(r.action, action);
	assert_int_equal(r.origin, origin);
	assert_int_equal(r._pad0, 0);
	assert_int_equal(r._pad1, 0);
}

static void assert_no_entry(int fd, uint64_t cg, uint16_t port, uint8_t proto, uint8_t family)
{
	struct nw_bind_key k = mkkey(cg, port, proto, family);
	struct nw_bind_rule r;

	if (!bpf_map_lookup_elem(fd, &k, &r))
		fail_msg("unexpected entry for cgroup %llu port %u proto %u family %u: "
			 "action %u origin %u", (unsigned long long)cg, port, proto, family,
			 r.action, r.origin);
	assert_int_equal(errno, ENOENT);
}

static void test_sync_inserts(void **state)
{
	int fd = map_fd(state);
	const struct nw_bind_rule_spec rules[] = {
		{ .action = NW_ACT_DENY },				/* 4 keys */
		{ .cgroup_id = 123, .port = 8443, .proto = NW_PROTO_TCP, .family = 4,
		  .action = NW_ACT_ALLOW },				/* 1 */
		{ .cgroup_id = 77, .port = 53, .proto = NW_PROTO_UDP,
		  .action = NW_ACT_REWRITE },				/* 2 */
	};

	assert_int_equal(nw_policy_sync(fd, rules, NW_ARRAY_SIZE(rules)), 0);
	assert_int_equal(map_count(fd), 7);
	assert_int_equal(map_count_origin(fd, NW_ORIGIN_CONFIG), 7);
	assert_entry(fd, 0, 0, 6, 4, NW_ACT_DENY, NW_ORIGIN_CONFIG);
	assert_entry(fd, 0, 0, 6, 6, NW_ACT_DENY, NW_ORIGIN_CONFIG);
	assert_entry(fd, 0, 0, 17, 4, NW_ACT_DENY, NW_ORIGIN_CONFIG);
	assert_entry(fd, 0, 0, 17, 6, NW_ACT_DENY, NW_ORIGIN_CONFIG);
	assert_entry(fd, 123, 8443, 6, 4, NW_ACT_ALLOW, NW_ORIGIN_CONFIG);
	assert_no_entry(fd, 123, 8443, 6, 6);
	assert_entry(fd, 77, 53, 17, 4, NW_ACT_REWRITE, NW_ORIGIN_CONFIG);
	assert_entry(fd, 77, 53, 17, 6, NW_ACT_REWRITE, NW_ORIGIN_CONFIG);
	assert_no_entry(fd, 77, 53, 6, 4);

	/* the same rules again: nothing changes */
	assert_int_equal(nw_policy_sync(fd, rules, NW_ARRAY_SIZE(rules)), 0);
	assert_int_equal(map_count(fd), 7);
}

static void test_sync_deletes_stale(void **state)
{
	int fd = map_fd(state);
	const struct nw_bind_rule_spec first[] = {
		{ .action = NW_ACT_DENY },
		{ .cgroup_id = 123, .port = 8443, .proto = NW_PROTO_TCP, .family = 4,
		  .action = NW_ACT_ALLOW },
		{ .cgroup_id = 77, .port = 53, .proto = NW_PROTO_UDP, .action = NW_ACT_AUDIT },
	};
	const struct nw_bind_rule_spec second[] = {
		{ .cgroup_id = 77, .port = 53, .proto = NW_PROTO_UDP, .family = 6,
		  .action = NW_ACT_KILL },
	};

	assert_int_equal(nw_policy_sync(fd, first, NW_ARRAY_SIZE(first)), 0);
	assert_int_equal(map_count(fd), 7);

	assert_int_equal(nw_policy_sync(fd, second, NW_ARRAY_SIZE(second)), 0);
	assert_int_equal(map_count(fd), 1);
	assert_entry(fd, 77, 53, 17, 6, NW_ACT_KILL, NW_ORIGIN_CONFIG);
	assert_no_entry(fd, 77, 53, 17, 4);
	assert_no_entry(fd, 0, 0, 6, 4);
	assert_no_entry(fd, 123, 8443, 6, 4);

	/* no rules: the map is emptied of config entries */
	assert_int_equal(nw_policy_sync(fd, NULL, 0), 0);
	assert_int_equal(map_count(fd), 0);
	assert_int_equal(nw_policy_sync(fd, NULL, 0), 0);
	assert_int_equal(map_count(fd), 0);
}

static void test_sync_later_rule_wins(void **state)
{
	int fd = map_fd(state);
	const struct nw_bind_rule_spec rules[] = {
		{ .port = 80, .action = NW_ACT_DENY },
		{ .port = 80, .proto = NW_PROTO_TCP, .family = 6, .action = NW_ACT_ALLOW },
	};

	assert_int_equal(nw_policy_sync(fd, rules, NW_ARRAY_SIZE(rules)), 0);
	assert_int_equal(map_count(fd), 4);
	assert_entry(fd, 0, 80, 6, 6, NW_ACT_ALLOW, NW_ORIGIN_CONFIG);
	assert_entry(fd, 0, 80, 6, 4, NW_ACT_DENY, NW_ORIGIN_CONFIG);
	assert_entry(fd, 0, 80, 17, 4, NW_ACT_DENY, NW_ORIGIN_CONFIG);
	assert_entry(fd, 0, 80, 17, 6, NW_ACT_DENY, NW_ORIGIN_CONFIG);
}

static void test_cli_survives_sync(void **state)
{
	int fd = map_fd(state);
	const struct nw_bind_rule_spec cli = { .cgroup_id = 7, .port = 22,
					       .proto = NW_PROTO_TCP, .action = NW_ACT_ALLOW };
	const struct nw_bind_rule_spec rules[] = {
		/* same key as one of the CLI entries, another action */
		{ .cgroup_id = 7, .port = 22, .proto = NW_PROTO_TCP, .family = 4,
		  .action = NW_ACT_DENY },
		{ .port = 22, .proto = NW_PROTO_TCP, .family = 4, .action = NW_ACT_KILL },
	};

	assert_int_equal(nw_policy_add(fd, &cli, NW_ORIGIN_CLI), 0);
	assert_int_equal(map_count(fd), 2);
	assert_entry(fd, 7, 22, 6, 4, NW_ACT_ALLOW, NW_ORIGIN_CLI);
	assert_entry(fd, 7, 22, 6, 6, NW_ACT_ALLOW, NW_ORIGIN_CLI);

	assert_int_equal(nw_policy_sync(fd, rules, NW_ARRAY_SIZE(rules)), 0);
	assert_int_equal(map_count(fd), 3);
	assert_entry(fd, 7, 22, 6, 4, NW_ACT_ALLOW, NW_ORIGIN_CLI);	/* not overwritten */
	assert_entry(fd, 7, 22, 6, 6, NW_ACT_ALLOW, NW_ORIGIN_CLI);
	assert_entry(fd, 0, 22, 6, 4, NW_ACT_KILL, NW_ORIGIN_CONFIG);

	/* a sync without that rule leaves the CLI entries alone too */
	assert_int_equal(nw_policy_sync(fd, NULL, 0), 0);
	assert_int_equal(map_count(fd), 2);
	assert_int_equal(map_count_origin(fd, NW_ORIGIN_CLI), 2);
	assert_entry(fd, 7, 22, 6, 4, NW_ACT_ALLOW, NW_ORIGIN_CLI);

	/* once the CLI entry is gone, the config rule takes the key */
	assert_int_equal(nw_policy_del(fd, &cli), 2);
	assert_int_equal(nw_policy_sync(fd, rules, NW_ARRAY_SIZE(rules)), 0);
	assert_entry(fd, 7, 22, 6, 4, NW_ACT_DENY, NW_ORIGIN_CONFIG);
	assert_no_entry(fd, 7, 22, 6, 6);
	assert_int_equal(map_count(fd), 2);
}

static void test_add_overrides_config(void **state)
{
	int fd = map_fd(state);
	const struct nw_bind_rule_spec rule = { .port = 443, .proto = NW_PROTO_TCP,
						.family = 6, .action = NW_ACT_DENY };
	struct nw_bind_rule_spec cli = rule;

	assert_int_equal(nw_policy_sync(fd, &rule, 1), 0);
	assert_entry(fd, 0, 443, 6, 6, NW_ACT_DENY, NW_ORIGIN_CONFIG);
	cli.action = NW_ACT_AUDIT;
	assert_int_equal(nw_policy_add(fd, &cli, NW_ORIGIN_CLI), 0);
	assert_entry(fd, 0, 443, 6, 6, NW_ACT_AUDIT, NW_ORIGIN_CLI);
	/* a reload with the same config does not take it back */
	assert_int_equal(nw_policy_sync(fd, &rule, 1), 0);
	assert_entry(fd, 0, 443, 6, 6, NW_ACT_AUDIT, NW_ORIGIN_CLI);
	assert_int_equal(map_count(fd), 1);

	/* nw_policy_add with the config origin is overwritten by a sync */
	cli = (struct nw_bind_rule_spec){ .port = 1, .proto = NW_PROTO_UDP, .family = 4,
					  .action = NW_ACT_KILL };
	assert_int_equal(nw_policy_add(fd, &cli, NW_ORIGIN_CONFIG), 0);
	assert_entry(fd, 0, 1, 17, 4, NW_ACT_KILL, NW_ORIGIN_CONFIG);
	assert_int_equal(nw_policy_sync(fd, &rule, 1), 0);
	assert_no_entry(fd, 0, 1, 17, 4);
	assert_int_equal(map_count(fd), 1);
}

static void test_del(void **state)
{
	int fd = map_fd(state);
	struct nw_bind_rule_spec any = { .cgroup_id = 9, .action = NW_ACT_DENY };
	struct nw_bind_rule_spec tcp4 = { .cgroup_id = 9, .port = 80, .proto = NW_PROTO_TCP,
					  .family = 4, .action = NW_ACT_ALLOW };
	struct nw_bind_rule_spec tcp_any = { .cgroup_id = 9, .port = 80, .proto = NW_PROTO_TCP };

	assert_int_equal(nw_policy_add(fd, &any, NW_ORIGIN_CLI), 0);
	assert_int_equal(map_count(fd), 4);
	assert_int_equal(nw_policy_del(fd, &any), 4);
	assert_int_equal(map_count(fd), 0);
	assert_int_equal(nw_policy_del(fd, &any), 0);

	/* deleting "tcp any family" where only tcp/4 exists: one */
	assert_int_equal(nw_policy_add(fd, &tcp4, NW_ORIGIN_CLI), 0);
	assert_int_equal(nw_policy_add(fd, &any, NW_ORIGIN_CONFIG), 0);
	assert_int_equal(map_count(fd), 5);
	assert_int_equal(nw_policy_del(fd, &tcp_any), 1);
	assert_no_entry(fd, 9, 80, 6, 4);
	assert_int_equal(map_count(fd), 4);	/* the port-any entries stay */
	assert_int_equal(nw_policy_del(fd, &tcp_any), 0);

	/* a spec that expands to nothing deletes nothing */
	tcp_any.proto = 1;
	assert_int_equal(nw_policy_del(fd, &tcp_any), 0);
	assert_int_equal(map_count(fd), 4);
}

static void test_map_full(void **state)
{
	const struct nw_bind_rule_spec rules[] = {
		{ .port = 1, .action = NW_ACT_DENY },
		{ .port = 2, .action = NW_ACT_DENY },
	};
	int fd;

	(void)map_fd(state);	/* skips without BPF */
	fd = bpf_map_create(BPF_MAP_TYPE_HASH, NULL, sizeof(struct nw_bind_key),
			    sizeof(struct nw_bind_rule), 5, NULL);
	assert_true(fd >= 0);
	/* 8 keys into 5 slots: the kernel's error comes back */
	assert_int_equal(nw_policy_sync(fd, rules, NW_ARRAY_SIZE(rules)), -E2BIG);
	assert_int_equal(map_count(fd), 5);
	assert_int_equal(nw_policy_add(fd, &rules[1], NW_ORIGIN_CLI), -E2BIG);
	close(fd);

	/* not a map at all */
	assert_int_equal(nw_policy_sync(-1, rules, 1), -EBADF);
	assert_int_equal(nw_policy_add(-1, &rules[0], NW_ORIGIN_CLI), -EBADF);
	assert_int_equal(nw_policy_del(-1, &rules[0]), -EBADF);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_action_names),
		cmocka_unit_test(test_action_parse_rejects),
		cmocka_unit_test(test_proto),
		cmocka_unit_test(test_origin_match_names),
		cmocka_unit_test(test_expand),
		cmocka_unit_test_setup_teardown(test_sync_inserts, map_setup, map_teardown),
		cmocka_unit_test_setup_teardown(test_sync_deletes_stale, map_setup, map_teardown),
		cmocka_unit_test_setup_teardown(test_sync_later_rule_wins, map_setup, map_teardown),
		cmocka_unit_test_setup_teardown(test_cli_survives_sync, map_setup, map_teardown),
		cmocka_unit_test_setup_teardown(test_add_overrides_config, map_setup, map_teardown),
		cmocka_unit_test_setup_teardown(test_del, map_setup, map_teardown),
		cmocka_unit_test_setup_teardown(test_map_full, map_setup, map_teardown),
		cmocka_unit_test_setup_teardown(test_hint_follows_changes, map_setup, map_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
