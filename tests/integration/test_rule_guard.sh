# shellcheck shell=bash
# Protected routing-policy rules against real rules in namespaces made here:
# the kernel's default rules and rules.protect selections are put back
# exactly, with their actor; every other rule change is reported, not undone.

# ruleguard NS [RULES_JSON_FIELDS] [ROUTES_JSON_FIELDS]: daemon guarding NS;
# binds are attached to a cgroup of the test's own (nothing on the root).
# Extra daemon arguments in RULEGUARD_ARGS.
ruleguard() {
	local ns=$1 rules=${2:-} routes=${3:-'"learn_default": true'} cg
	new_cgroup cg
	write_config "$TMP/cfg.json" <<JSON
{ "binds": { "cgroup": "$cg" }, "routes": { $routes }, "rules": { $rules } }
JSON
	start_daemon "$ns" "$TMP/cfg.json" "${RULEGUARD_ARGS[@]}"
}
RULEGUARD_ARGS=()

# has_rule NS ARGS...: `ip -n NS rule show ARGS` prints something
has_rule() { local ns=$1; shift; [ -n "$(ip -n "$ns" rule show "$@" 2>/dev/null)" ]; }
has_rule6() { local ns=$1; shift; [ -n "$(ip -n "$ns" -6 rule show "$@" 2>/dev/null)" ]; }
# every rule of NS, both families, with protocols
rules_of() { ip -n "$1" -d rule show; ip -n "$1" -d -6 rule show; }

# uidrule_lab NS_VAR: new_lab with the seed's browser workers' rule,
# ip rule add uidrange 1000-1000 table 100 prio 100
uidrule_lab() {
	local _ul_ns
	new_lab _ul_ns
	ip -n "$_ul_ns" rule add uidrange 1000-1000 table 100 prio 100 || fail "ip rule add"
	printf -v "$1" '%s' "$_ul_ns"
}

test_rule_default_main_v4_deleted_by_ip_is_restored_exactly() {
	local ns before
	new_lab ns
	ruleguard "$ns"
	before=$(rules_of "$ns")
	ip -n "$ns" rule del prio 32766 || fail "ip rule del prio 32766"
	wait_until 5 has_rule "$ns" prio 32766 || fail "main rule not restored"
	wait_event '.type == "rule_deleted" and .family == 4 and .priority == 32766 and .table == 254 and .action == "lookup" and .rule == "from all lookup main" and .protected == true and .response == "restore" and .origin == "learned" and .actor.comm == "ip" and .actor.uid == 0 and .comm == "ip"'
	wait_event '.type == "rule_restored" and .family == 4 and .priority == 32766 and .latency_us >= 0 and .protocol == "kernel"'
	# exactly: same priority, table, protocol (kernel), and the same order
	expect_eq "$(rules_of "$ns")" "$before" "rules after the restore"
	# the local rule (priority 0) too
	ip -n "$ns" rule del prio 0 || fail "ip rule del prio 0"
	wait_until 5 has_rule "$ns" prio 0 || fail "local rule not restored"
	wait_event '.type == "rule_restored" and .family == 4 and .priority == 0 and .table == 255'
	expect_eq "$(rules_of "$ns")" "$before" "rules after restoring the local rule"
	# our own restore is not reported as somebody's addition
	expect_eq "$(count_events '.type == "rule_added"')" 0 "rule_added events"
	ctl status --json | jq -e '.routes.guard.rules.restores == 2 and .routes.guard.rules.mode == "restore" and ([.routes.guard.rules.protected[] | select(.family == 4)] | length) == 3' >/dev/null ||
		fail "status: $(ctl status --json | jq -c .routes.guard.rules)"
}

test_rule_default_main_v6_is_restored_and_no_32767_invented() {
	local ns before
	new_lab ns
	ruleguard "$ns"
	before=$(rules_of "$ns")
	# IPv6 has no 32767 rule by default: only what exists at start is protected
	ctl status --json | jq -e '[.routes.guard.rules.protected[] | select(.family == 6) | .priority] == [0, 32766]' >/dev/null ||
		fail "v6 protected rules: $(ctl status --json | jq -c '[.routes.guard.rules.protected[] | select(.family == 6)]')"
	ip -n "$ns" -6 rule del prio 32766 || fail "ip -6 rule del"
	wait_until 5 has_rule6 "$ns" prio 32766 || fail "v6 main rule not restored"
	wait_event '.type == "rule_deleted" and .family == 6 and .priority == 32766 and .actor.comm == "ip"'
	wait_event '.type == "rule_restored" and .family == 6 and .priority == 32766'
	expect_eq "$(rules_of "$ns")" "$before" "rules after the v6 restore"
	has_rule6 "$ns" prio 32767 && fail "a v6 32767 rule appeared"
	true
}

# the seed's browser workers' rule (uidrule_lab)
test_rule_protect_uidrange_rule_is_restored() {
	local ns before
	uidrule_lab ns
	ruleguard "$ns" '"protect": [ { "uidrange": "1000-1000" }, { "uidrange": "1001-1001", "family": 4 } ]'
	before=$(rules_of "$ns")
	ip -n "$ns" rule del uidrange 1000-1000 table 100 prio 100 || fail "ip rule del"
	wait_until 5 has_rule "$ns" prio 100 || fail "uid rule not restored"
	wait_event '.type == "rule_deleted" and .priority == 100 and .table == 100 and .uidrange == "1000-1000" and .rule == "from all uidrange 1000-1000 lookup 100" and .origin == "config" and .actor.comm == "ip"'
	wait_event '.type == "rule_restored" and .priority == 100 and .uidrange == "1000-1000"'
	expect_eq "$(rules_of "$ns")" "$before" "rules after restoring the uid rule"
	# a rule a selector picks that appears later is protected from then on
	ip -n "$ns" rule add uidrange 1001-1001 table 101 prio 101 || fail "ip rule add 1001"
	wait_event '.type == "rule_added" and .priority == 101 and .protected == true and .actor.comm == "ip"'
	before=$(rules_of "$ns")
	ip -n "$ns" rule del prio 101 || fail "ip rule del prio 101"
	wait_until 5 has_rule "$ns" prio 101 || fail "later uid rule not restored"
	wait_event '.type == "rule_restored" and .priority == 101 and .uidrange == "1001-1001"'
	expect_eq "$(rules_of "$ns")" "$before" "rules after restoring the later uid rule"
	# the selector says IPv4: a v6 rule with that uid range is not protected
	ip -n "$ns" -6 rule add uidrange 1001-1001 table 101 prio 101 || fail "ip -6 rule add"
	ip -n "$ns" -6 rule del prio 101 || fail "ip -6 rule del"
	wait_event '.type == "rule_deleted" and .family == 6 and .priority == 101 and .protected == false'
	has_rule6 "$ns" prio 101 && fail "an unprotected v6 rule was restored"
	true
}

test_rule_dry_run_and_restore_false_change_nothing() {
	local ns
	new_lab ns
	RULEGUARD_ARGS=(--dry-run)
	ruleguard "$ns"
	RULEGUARD_ARGS=()
	ip -n "$ns" rule del prio 32766
	wait_event '.type == "rule_deleted" and .priority == 32766 and .response == "dry_run" and .dry_run == true'
	wait_event '.type == "rule_restored" and .priority == 32766 and .dry_run == true'
	sleep 0.2
	has_rule "$ns" prio 32766 && fail "dry-run restored the rule"
	ctl status --json | jq -e '.routes.guard.rules.mode == "dry_run" and .routes.guard.rules.restores == 0' >/dev/null ||
		fail "status: $(ctl status --json | jq -c .routes.guard.rules)"
	stop_daemon
	ip -n "$ns" rule add prio 32766 table main proto kernel
	ruleguard "$ns" '"restore": false'
	# routes are still restored: each section has its own restore (before
	# the main rule goes: without it the kernel cannot reach the gateway)
	ip -n "$ns" route del default
	wait_until 5 has_route "$ns" default via 192.0.2.1 dev d0 || fail "route not restored"
	ip -n "$ns" rule del prio 32766
	wait_event '.type == "rule_deleted" and .priority == 32766 and .response == "observe" and .protected == true'
	sleep 0.2
	has_rule "$ns" prio 32766 && fail "rules.restore false restored the rule"
	expect_eq "$(count_events '.type == "rule_restored"')" 0 "rule_restored events"
	stop_daemon
	ip -n "$ns" rule add prio 32766 table main proto kernel
	# protect_defaults false: the default rules are only watched
	ruleguard "$ns" '"protect_defaults": false'
	ip -n "$ns" rule del prio 32767
	wait_event '.type == "rule_deleted" and .priority == 32767 and .protected == false and .actor.comm == "ip"'
	sleep 0.2
	has_rule "$ns" prio 32767 && fail "an unprotected default rule was restored"
	true
}

test_rule_deletion_loop_is_bounded() {
	local ns pid restores
	new_lab ns
	ruleguard "$ns" '' '"max_restores": 5, "window_ms": 2000, "backoff_min_ms": 100, "backoff_max_ms": 2000'
	# a networkd-like fight: delete the main rule as fast as possible for 10 s
	ip netns exec "$ns" bash -c 'end=$((SECONDS + 10)); while [ $SECONDS -lt $end ]; do ip rule del prio 32766 2>/dev/null; done' &
	pid=$!
	defer "kill $pid"
	wait "$pid"
	restores=$(count_events '.type == "rule_restored" and .priority == 32766')
	[ "$restores" -ge 5 ] && [ "$restores" -le 60 ] || fail "restores in 10 s: $restores"
	wait_event '.type == "rule_flapping" and .priority == 32766 and .actor.comm == "ip" and .backoff_ms >= 100'
	expect_eq "$(count_events '.type == "rule_flapping"')" 1 "rule_flapping events (one per episode)"
	# once the fight stops, the rule comes back
	wait_until 5 has_rule "$ns" prio 32766 || fail "not restored after the loop"
}

test_rule_unprotected_changes_are_reported_not_undone() {
	local ns
	new_lab ns
	ruleguard "$ns"
	ip -n "$ns" rule add fwmark 7 table 7 prio 700 || fail "ip rule add"
	wait_event '.type == "rule_added" and .family == 4 and .priority == 700 and .table == 7 and .fwmark == 7 and .rule == "from all fwmark 0x7 lookup 7" and .protected == false and .actor.comm == "ip" and .pid > 0'
	ip -n "$ns" rule del fwmark 7 table 7 prio 700 || fail "ip rule del"
	wait_event '.type == "rule_deleted" and .priority == 700 and .protected == false and .actor.comm == "ip"'
	# the same over raw netlink: the actor is python3
	ip netns exec "$ns" python3 - <<'PY' || fail "raw netlink rule"
import socket, struct
def rule(typ, flags, prio, table):
    frh = struct.pack("BBBBBBBBI", socket.AF_INET6, 0, 0, 0, table, 0, 0, 1, 0)  # FR_ACT_TO_TBL
    attrs = struct.pack("=HHI", 8, 6, prio)                                     # FRA_PRIORITY
    body = frh + attrs
    return struct.pack("=IHHII", 16 + len(body), typ, flags, 1, 0) + body
REQ, ACK, CREATE, EXCL = 0x1, 0x4, 0x400, 0x200
s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)
for msg in (rule(32, REQ | ACK | CREATE | EXCL, 800, 8), rule(33, REQ | ACK, 800, 8)):
    s.sendto(msg, (0, 0))
    err = struct.unpack("=IHHIIi", s.recv(4096)[:20])[5]
    assert err == 0, err
PY
	wait_event '.type == "rule_added" and .family == 6 and .priority == 800 and .actor.comm == "python3"'
	wait_event '.type == "rule_deleted" and .family == 6 and .priority == 800 and .actor.comm == "python3"'
	sleep 0.2
	has_rule "$ns" prio 700 && fail "an unprotected rule was restored"
	has_rule6 "$ns" prio 800 && fail "an unprotected v6 rule was restored"
	expect_eq "$(count_events '.type == "rule_restored"')" 0 "rule_restored events"
	ctl status --json | jq -e '.routes.guard.rules.added == 2 and .routes.guard.rules.deleted == 2 and .routes.guard.rules.deletions == 0' >/dev/null ||
		fail "status: $(ctl status --json | jq -c .routes.guard.rules)"
}

# lost notifications: the resync dumps rules too and puts back what is gone
test_rule_enobufs_resync() {
	local ns i
	uidrule_lab ns
	ruleguard "$ns" '"protect": [ { "priority": 100 } ]' '"rcvbuf_bytes": 4096'
	for i in $(seq 0 1999); do
		printf 'rule add fwmark %d table 300 prio %d\nrule del fwmark %d table 300 prio %d\n' \
			$((i + 1)) $((1000 + i)) $((i + 1)) $((1000 + i))
	done >"$TMP/batch"
	echo "rule del prio 100" >>"$TMP/batch"
	kill -STOP "$DAEMON_PID"
	ip -n "$ns" -batch "$TMP/batch" || { kill -CONT "$DAEMON_PID"; fail "batch"; }
	kill -CONT "$DAEMON_PID"
	wait_until 10 has_rule "$ns" prio 100 uidrange 1000-1000 table 100 || fail "uid rule not restored after ENOBUFS"
	ctl status --json | jq -e '.routes.guard.enobufs >= 1 and .routes.guard.rules.resyncs >= 1' >/dev/null ||
		fail "no rule resync counted: $(ctl status --json | jq -c .routes.guard)"
	wait_event '.type == "rule_deleted" and .priority == 100 and .reason == "resync"'
}

# SIGHUP: a new rules section applies at once; the snapshot of what is kept
test_rule_reload_changes_protection() {
	local ns cg
	uidrule_lab ns
	ruleguard "$ns" '"protect_defaults": false'
	ctl status --json | jq -e '.routes.guard.rules.protected == []' >/dev/null ||
		fail "protected before the reload: $(ctl status --json | jq -c .routes.guard.rules.protected)"
	cg=$(jq -r .binds.cgroup "$TMP/cfg.json")
	write_config "$TMP/cfg.json" <<JSON
{ "binds": { "cgroup": "$cg" }, "rules": { "protect": [ { "priority": 100 } ] } }
JSON
	kill -HUP "$DAEMON_PID"
	wait_event '.type == "daemon" and (.message | startswith("configuration reloaded"))'
	ctl status --json | jq -e '[.routes.guard.rules.protected[] | .priority] == [0, 100, 32766, 32767, 0, 32766]' >/dev/null ||
		fail "protected after the reload: $(ctl status --json | jq -c '[.routes.guard.rules.protected[] | {family, priority}]')"
	ip -n "$ns" rule del prio 100
	wait_until 5 has_rule "$ns" prio 100 uidrange 1000-1000 || fail "uid rule not restored after the reload"
	ip -n "$ns" rule del prio 32766
	wait_until 5 has_rule "$ns" prio 32766 || fail "main rule not restored after the reload"
	# the selector goes: its rule is no longer protected
	write_config "$TMP/cfg.json" <<JSON
{ "binds": { "cgroup": "$cg" }, "rules": { "restore": true } }
JSON
	kill -HUP "$DAEMON_PID"
	wait_until 5 sh -c "[ \$('$NWCTL' --socket '$SOCK' events --json | jq -s '[.[] | select(.type == \"daemon\" and (.message | startswith(\"configuration reloaded\")))] | length') = 2 ]" ||
		fail "second reload"
	ip -n "$ns" rule del prio 100
	wait_event '.type == "rule_deleted" and .priority == 100 and .protected == false'
	sleep 0.2
	has_rule "$ns" prio 100 && fail "a rule no selector picks was restored"
	true
}

# everything a rule can say survives a delete and restore, byte for byte as
# `ip -d rule show` prints it
test_rule_exotic_rules_restored_exactly() {
	local ns before p
	new_lab ns
	ip -n "$ns" rule add not from 10.0.0.0/8 to 192.0.2.0/24 tos 0x10 table 101 prio 101 proto static || fail "rule 101"
	ip -n "$ns" rule add fwmark 0x10/0xff iif d0 oif lo table 102 prio 102 || fail "rule 102"
	ip -n "$ns" rule add ipproto tcp sport 1000-2000 dport 443 table 103 prio 103 || fail "rule 103"
	ip -n "$ns" rule add table main suppress_prefixlength 0 prio 104 || fail "rule 104"
	ip -n "$ns" rule add uidrange 1101-1108 goto 32000 prio 105 || fail "rule 105"
	ip -n "$ns" rule add prio 32000 table 200 || fail "rule 32000"
	ip -n "$ns" rule add to 198.51.100.0/24 blackhole prio 106 || fail "rule 106"
	ip -n "$ns" rule add iif wg-missing table 107 prio 107 || fail "rule 107"
	ip -n "$ns" -6 rule add from 2001:db8:1::/48 to 2001:db8:2::/64 table 108 prio 108 || fail "rule 108"
	ip -n "$ns" -6 rule add dport 53 ipproto udp unreachable prio 109 || fail "rule 109"
	ruleguard "$ns" '"protect": [ { "priority": 101 }, { "priority": 102 }, { "priority": 103 }, { "priority": 104 }, { "priority": 105 }, { "priority": 106 }, { "priority": 107 }, { "priority": 108 }, { "priority": 109 } ]'
	before=$(rules_of "$ns")
	for p in 101 102 103 104 105 106 107; do
		ip -n "$ns" rule del prio $p || fail "ip rule del prio $p"
	done
	ip -n "$ns" -6 rule del prio 108 || fail "ip -6 rule del prio 108"
	ip -n "$ns" -6 rule del prio 109 || fail "ip -6 rule del prio 109"
	wait_until 5 sh -c "[ \"\$(ip -n '$ns' -d rule show; ip -n '$ns' -d -6 rule show)\" = '$before' ]" ||
		fail "rules after the restores:
$(rules_of "$ns")
expected:
$before"
	expect_eq "$(count_events '.type == "rule_restored"')" 9 "rule_restored events"
	expect_eq "$(count_events '.type == "rule_restore_failed"')" 0 "rule_restore_failed events"
	wait_event '.type == "rule_deleted" and .priority == 105 and .action == "goto" and .goto == 32000'
	wait_event '.type == "rule_deleted" and .priority == 101 and .rule == "not from 10.0.0.0/8 to 192.0.2.0/24 tos 0x10 lookup 101"'
}

# --- the state file: rules deleted while no netwardd runs -------------------
# (the route tests' rstate_* helpers: the same file, $TMP/state/protected.json)

# rulestate_saved: the lab's default rules (3 IPv4, 2 IPv6) and the uid rule
# of the config are in the state file
rulestate_saved() {
	jq -e '([.rules[] | select(.origin == "learned")] | length) == 5 and
		([.rules[] | select(.origin == "config" and .uidrange == [1000, 1000])] | length) == 1' \
		"$TMP/state/protected.json" >/dev/null 2>&1
}
RULESTATE_PROTECT='"protect": [ { "uidrange": "1000-1000" } ]'

test_rule_state_deleted_while_down_is_restored_at_start() {
	local ns before
	uidrule_lab ns
	ruleguard "$ns" "$RULESTATE_PROTECT"
	before=$(rules_of "$ns")
	wait_until 5 rulestate_saved || fail "state file: $(cat "$TMP/state/protected.json" 2>&1)"
	rstate_crash
	# the main rules and the uid rule, and the default route (put back
	# after the main rule: without it the gateway is unreachable)
	ip -n "$ns" rule del prio 32766 || fail "ip rule del 32766"
	ip -n "$ns" -6 rule del prio 32766 || fail "ip -6 rule del 32766"
	ip -n "$ns" rule del prio 100 || fail "ip rule del 100"
	ip -n "$ns" route del default || fail "ip route del"
	ruleguard "$ns" "$RULESTATE_PROTECT"
	wait_until 5 has_rule "$ns" prio 32766 || fail "v4 main rule not put back at start"
	wait_until 5 has_rule6 "$ns" prio 32766 || fail "v6 main rule not put back at start"
	wait_until 5 has_rule "$ns" prio 100 || fail "uid rule not put back at start"
	expect_eq "$(rules_of "$ns")" "$before" "rules after the start"
	wait_until 5 has_route "$ns" default via 192.0.2.1 dev d0 || fail "default route not put back at start"
	wait_event '.type == "rule_deleted" and .family == 4 and .priority == 32766 and .protected == true and .reason == "missing_at_start" and .response == "restore" and .origin == "learned"'
	wait_event '.type == "rule_restored" and .family == 4 and .priority == 32766 and .reason == "missing_at_start" and .protocol == "kernel"'
	wait_event '.type == "rule_restored" and .family == 6 and .priority == 32766 and .reason == "missing_at_start"'
	wait_event '.type == "rule_restored" and .priority == 100 and .uidrange == "1000-1000" and .reason == "missing_at_start"'
	# the route did not have to wait for a retry
	expect_eq "$(count_events '.type == "route_restore_failed"')" 0 "route_restore_failed events"
	rstate_status '.routes.guard.rules.missing_at_start == 3 and .routes.guard.rules.restores == 3 and .routes.guard.missing_at_start == 1'
	# our own restores are not somebody's additions
	expect_eq "$(count_events '.type == "rule_added"')" 0 "rule_added events"
}

# SIGTERM without keep_on_exit forgets; a crash remembers, but what the
# configuration no longer protects stays deleted
test_rule_state_clean_stop_and_config_decide() {
	local ns
	uidrule_lab ns
	ruleguard "$ns" "$RULESTATE_PROTECT"
	wait_until 5 rulestate_saved || fail "no state file"
	stop_daemon || fail "netwardd exited with $?"
	[ ! -e "$TMP/state/protected.json" ] || fail "state file left after a clean stop"
	ip -n "$ns" rule del prio 32767 || fail "ip rule del 32767"
	ruleguard "$ns" "$RULESTATE_PROTECT"
	rstate_status '.routes.guard.rules.missing_at_start == 0'
	has_rule "$ns" prio 32767 && fail "a rule deleted after a clean stop was put back"
	# now a crash, with a configuration that protects neither the default
	# rules nor the uid rule any more
	wait_until 5 rstate_has '[.rules[] | select(.family == 4 and .origin == "learned")] | length == 2' ||
		fail "state file: $(cat "$(rstate_file)")"
	rstate_crash
	ip -n "$ns" rule del prio 32766 || fail "ip rule del 32766"
	ip -n "$ns" rule del prio 100 || fail "ip rule del 100"
	ip -n "$ns" route del default
	ruleguard "$ns" '"protect_defaults": false, "protect": [ { "uidrange": "1001-1001" } ]'
	rstate_status '.routes.guard.rules.missing_at_start == 0 and .routes.guard.missing_at_start == 1'
	has_rule "$ns" prio 32766 && fail "protect_defaults is off: the main rule came back"
	has_rule "$ns" prio 100 && fail "no selector picks the uid rule: it came back"
	expect_eq "$(count_events '.type == "rule_restored"')" 0 "rule_restored events"
	wait_until 5 rstate_has '.rules == []' || fail "state file: $(cat "$(rstate_file)")"
	true
}

# a corrupt state file: the daemon starts, says so, and guards the rules
test_rule_state_bad_file_is_ignored() {
	local ns
	new_lab ns
	mkdir -p "$TMP/state"
	printf '{"version":1,"netns":1,"routes":[],"rules":[{"origin":"learned","family":4,"priority":"x"}]}' \
		>"$TMP/state/protected.json"
	ruleguard "$ns" "$RULESTATE_PROTECT"
	grep -q 'ignored: rules\[0\].priority: expected a whole number' "$TMP/daemon.log" ||
		fail "no log line: $(grep route-guard "$TMP/daemon.log")"
	ip -n "$ns" rule del prio 32766 || fail "ip rule del"
	wait_until 5 has_rule "$ns" prio 32766 || fail "main rule not restored"
	wait_until 5 rstate_has '[.rules[] | select(.origin == "learned")] | length == 5' ||
		fail "no good state file written over the bad one"
}
