# shellcheck shell=bash
# Probes and the recovery ladder (issue 5) in a lab made here: host <->
# gateway <-> "internet" namespaces. Breakages are real (deleted routes,
# VPN-style hijack routes into tun devices, a silent gateway, a dead
# upstream); so are the repairs. Reboots and unit calls only ever reach a
# D-Bus stand-in on a private bus.

# rlab NS RECOVERY_JSON [ROUTES_JSON] [ARGS...]: netwardd guarding NS with
# an internet probe (203.0.113.1) and a gateway probe (192.0.2.1), 200 ms
# apart; binds on a cgroup of the test's own.
rlab() {
	local ns=$1 rec=$2 routes=${3:-'"learn_default": true'} cg
	shift 3 2>/dev/null || shift $#
	new_cgroup cg
	RLAB_CG=$cg
	# never the machine's /etc/resolv.conf: restore_dns works on a copy
	[ -f "$TMP/resolv.conf" ] || printf 'nameserver 192.0.2.53\n' >"$TMP/resolv.conf"
	rec=$(jq -c --arg f "$TMP/resolv.conf" '{resolv_conf: $f} + .' <<<"$rec") || fail "bad recovery JSON"
	write_config "$TMP/cfg.json" <<JSON
{ "binds": { "cgroup": "$cg", "rules": ${RLAB_BIND_RULES:-[]} }, "routes": { $routes },
  "probes": [
    { "name": "inet", "type": "icmp", "target": "203.0.113.1", "interval_ms": 200, "timeout_ms": 150 },
    { "name": "gw", "type": "icmp", "target": "192.0.2.1", "role": "gateway",
      "interval_ms": 200, "timeout_ms": 150 } ],
  "recovery": $rec }
JSON
	start_daemon "$ns" "$TMP/cfg.json" "$@"
	wait_until 5 rl_connected || { ctl probes >&2; fail "the lab is not connected at start"; }
}

rl_connected() { [ "$(ctl probes --json 2>/dev/null | jq -r .connectivity.state)" = connected ]; }
rec_field() { ctl recovery --json | jq -r "$1"; }

# hijack NS: VPN-style workers: tun devices wg-worker-1/2 and wgkeep; all
# IPv4 traffic but the gateway's subnet goes into wg-worker-1 (no reader:
# dropped), uid 1000 looks up table 103 (all via wg-worker-2), and a rule
# for oif wg-worker-2; uid 2000's table 105 goes via d0 and must stay.
hijack() {
	local ns=$1 i
	for i in wg-worker-1 wg-worker-2 wgkeep; do
		ip -n "$ns" tuntap add mode tun name "$i" || fail "tuntap $i"
		ip -n "$ns" link set "$i" up
	done
	ip -n "$ns" route add 0.0.0.0/1 dev wg-worker-1
	ip -n "$ns" route add 128.0.0.0/1 dev wg-worker-1
	ip -n "$ns" route add default dev wg-worker-2 table 103
	ip -n "$ns" rule add uidrange 1000-1000 lookup 103 pref 1000
	ip -n "$ns" rule add oif wg-worker-2 lookup 104 pref 1001
	ip -n "$ns" route add default via 192.0.2.1 dev d0 table 105
	ip -n "$ns" rule add uidrange 2000-2000 lookup 105 pref 1002
}
rl_has_link() { ip -n "$1" link show "$2" >/dev/null 2>&1; }
rl_rule_at() { ip -n "$1" rule 2>/dev/null | grep "^$2:" >/dev/null; }
# show_state NS: what the lab looks like and what netwardd did (on failure)
show_state() {
	ip -n "$1" rule >&2
	ip -n "$1" -br link >&2
	ctl events --json --type recovery_step | jq -c '{step, result, detail}' >&2
}

test_probes_of_every_type_answer_in_the_lab() {
	local ns net out
	new_inet_lab ns
	net=$ns_NET
	nsenter --net="/run/netns/$net" python3 -m http.server --bind 203.0.113.1 18080 \
		>"$TMP/http.log" 2>&1 &
	defer "kill $!"
	wait_until 5 sh -c "ip netns exec '$net' ss -Hltn | grep -q ':18080'" || fail "http responder"
	new_cgroup cg
	write_config "$TMP/cfg.json" <<JSON
{ "binds": { "cgroup": "$cg" },
  "probes": [
    { "name": "inet", "type": "icmp", "target": "203.0.113.1" },
    { "name": "gw", "type": "icmp", "target": "192.0.2.1", "role": "gateway" },
    { "name": "gw6", "type": "icmp", "target": "2001:db8::1", "role": "gateway" },
    { "name": "tcp", "type": "tcp", "target": "203.0.113.1", "port": 18080 },
    { "name": "web", "type": "http", "target": "http://203.0.113.1:18080/", "expect_status": 200 },
    { "name": "web404", "type": "http", "target": "http://203.0.113.1:18080/nothing-here" },
    { "name": "name", "type": "dns", "target": "localhost" } ] }
JSON
	start_daemon "$ns" "$TMP/cfg.json"
	out=$(ctl probes --now --json) || fail "probes --now: exit $?: $out"
	expect_eq "$(jfield "$out" '[.probes[] | select(.state == "up") | .name] | join(",")')" \
		"inet,gw,gw6,tcp,web,name" "probes up"
	expect_eq "$(jfield "$out" '.probes[] | select(.name == "web404") | .state')" down "404 fails"
	jfield "$out" '.probes[] | select(.name == "web404") | .last_error' | grep -q 404 ||
		fail "404 not named: $out"
	# a new netns refuses ICMP datagram sockets (ping_group_range "1 0"): raw
	expect_eq "$(jfield "$out" '.probes[] | select(.name == "inet") | .method')" raw "icmp method"
	expect_eq "$(jfield "$out" .connectivity.state)" connected "verdict"
	wait_event '.type == "probe_ok" and .probe == "tcp" and .rtt_us > 0'
	# the responder goes: tcp and http fail with the reason, ping still answers
	kill %1 2>/dev/null; pkill -f "http.server --bind 203.0.113.1 18080"
	wait_until 5 sh -c "! ip netns exec '$net' ss -Hltn | grep -q ':18080'"
	out=$(ctl probes --now --json) || fail "still connected through icmp: $out"
	jfield "$out" '.probes[] | select(.name == "tcp") | .last_error' | grep -qi refused ||
		fail "tcp failure not explained: $out"
	wait_event '.type == "probe_failed" and .probe == "tcp" and .errno == 111'
	# with ping_group_range open, the ICMP datagram socket is used
	ip netns exec "$ns" sysctl -qw net.ipv4.ping_group_range="0 2147483647"
	stop_daemon
	start_daemon "$ns" "$TMP/cfg.json"
	out=$(ctl probes --now --json)
	expect_eq "$(jfield "$out" '.probes[] | select(.name == "inet") | .method')" dgram "icmp dgram"
}

test_deleted_default_route_is_back_before_a_probe_fails() {
	local ns
	new_inet_lab ns
	rlab "$ns" '{ "fail_threshold": 3 }'
	ip -n "$ns" route del default || fail "ip route del"
	wait_event '.type == "route_restored" and .dst == "default" and .family == 4'
	ctl probes --now >/dev/null || fail "offline after the restore"
	# the deletion made the probes run at once, and they never failed
	[ "$(rec_field .kicks)" -ge 1 ] || fail "no immediate probe run"
	expect_eq "$(count_events '.type == "connectivity_lost" or .type == "recovery_step"')" 0 \
		"no outage, no step"
}

test_observed_deletion_is_repaired_by_level_1_at_the_threshold() {
	local ns
	new_inet_lab ns
	rlab "$ns" '{ "fail_threshold": 3, "emergency_threshold": 5 }' \
		'"learn_default": true, "restore": false'
	ip -n "$ns" route del default || fail "ip route del"
	wait_event '.type == "connectivity_lost"'
	wait_event '.type == "recovery_step" and .level == 1 and .step == "restore_routes" and .result == "changed"'
	wait_event '.type == "connectivity_restored" and .level == 1'
	has_route "$ns" default via 192.0.2.1 dev d0 || fail "default route not back"
	# it waited for three failures in a row, then stopped climbing at once
	events_match '.type == "probe_failed" and .probe == "inet" and .consecutive == 3' ||
		fail "L1 before the threshold"
	expect_eq "$(count_events '.type == "recovery_step"')" 1 "steps run"
	expect_eq "$(rec_field '[.failures, .level, .attempt, .failed_attempts] | join(",")')" \
		"0,0,0,0" "counters reset after the recovery"
}

test_level_2_removes_only_matching_vpn_interfaces_and_their_rules() {
	local ns
	new_inet_lab ns
	rlab "$ns" '{ "fail_threshold": 2, "emergency_threshold": 4, "vpn_interfaces": ["wg-worker-*"] }'
	hijack "$ns"
	wait_event '.type == "connectivity_lost" and .gateway == "answers"'
	wait_event '.type == "recovery_step" and .step == "remove_vpn_interfaces" and .result == "changed"'
	wait_event '.type == "connectivity_restored" and .level == 2'
	# the stale rules go with the interfaces, before the re-probe
	wait_event '.type == "recovery_step" and .step == "remove_stale" and .result == "changed"'
	rl_has_link "$ns" wg-worker-1 && fail "wg-worker-1 left"
	rl_has_link "$ns" wg-worker-2 && fail "wg-worker-2 left"
	rl_has_link "$ns" wgkeep || fail "wgkeep (no match) was removed"
	rl_has_link "$ns" d0 || fail "d0 was removed"
	rl_rule_at "$ns" 1000 && fail "uid rule into the VPN's table left"
	rl_rule_at "$ns" 1001 && fail "oif wg-worker-2 rule left"
	rl_rule_at "$ns" 1002 || { show_state "$ns"; fail "uid 2000 rule (table via d0) was removed"; }
	has_route "$ns" default table 105 || fail "table 105 touched"
	# L1 came first and did not help: it ran before L2, L3 never ran
	events_match '.type == "recovery_step" and .step == "restore_routes" and .result == "nothing_to_do"' ||
		fail "L1 not tried first"
	expect_eq "$(count_events '.type == "recovery_step" and .level == 3')" 0 "no level 3"
}

test_hanging_interface_deletion_hits_its_deadline() {
	local ns out
	new_inet_lab ns
	NETWARD_FAULT_LINK_DEL_DELAY_MS=4000 rlab "$ns" '{ "fail_threshold": 1, "emergency_threshold": 50,
		"vpn_interfaces": ["wg-worker-*"], "step_timeout_ms": 400 }'
	hijack "$ns"
	wait_event '.type == "recovery_step" and .step == "remove_vpn_interfaces" and .result == "timeout"'
	out=$(ctl events --json --type recovery_step | jq -c 'select(.step == "remove_vpn_interfaces")' | head -1)
	jfield "$out" .leftover | grep -q wg-worker || fail "leftover not named: $out"
	[ "$(jfield "$out" .duration_us)" -lt 1500000 ] || fail "deadline not kept: $out"
	# the loop never blocked: the daemon answers at once
	ctl status >/dev/null || fail "daemon stuck"
}

test_silent_gateway_climbs_to_level_3_then_counters_reset() {
	local ns gw
	new_inet_lab ns
	gw=$ns_GW
	rlab "$ns" '{ "fail_threshold": 1, "emergency_threshold": 2, "main_interface": "d0",
		"step_timeout_ms": 500, "dhcp_command": ["/bin/sleep", "31.25"] }'
	ip -n "$gw" link set d0p down
	wait_event '.type == "connectivity_lost"'
	wait_event '.type == "recovery_step" and .level == 3 and .step == "renew_dhcp" and .result == "timeout"'
	wait_event '.type == "recovery_failed" and .failed_attempts == 1'
	events_match '.type == "recovery_step" and .step == "bounce_interface"' || fail "no bounce"
	pgrep -f "sleep 31.25" >/dev/null && fail "the hanging DHCP command was left running"
	ip -n "$gw" link set d0p up
	wait_event '.type == "connectivity_restored" and .level == 3'
	wait_until 5 has_route "$ns" default via 192.0.2.1 dev d0 || fail "default route not back"
	expect_eq "$(rec_field '[.failed_attempts, .attempt, .level] | join(",")')" "0,0,0" \
		"counters reset"
}

test_answering_gateway_holds_level_3_back() {
	local ns gw
	new_inet_lab ns
	gw=$ns_GW
	rlab "$ns" '{ "fail_threshold": 1, "emergency_threshold": 2, "step_timeout_ms": 500,
		"dhcp_command": ["/bin/true"] }'
	ip -n "$gw" route del 203.0.113.1/32	# the upstream is lost, the gateway is fine
	wait_event '.type == "recovery_step" and .step == "escalate" and .result == "skipped"'
	wait_event '.type == "probe_failed" and .probe == "inet" and .consecutive >= 6'
	expect_eq "$(count_events '.type == "recovery_step" and .level == 3 and .step != "escalate"')" 0 \
		"level 3 steps"
	expect_eq "$(count_events '.type == "recovery_failed"')" 0 "failed attempts"
	expect_eq "$(rec_field .upstream)" true "upstream diagnosis"
	ip -n "$gw" route add 203.0.113.1/32 via 198.51.100.2
	wait_event '.type == "connectivity_restored"'
}

test_dry_run_climbs_and_changes_nothing() {
	local ns
	new_inet_lab ns
	rlab "$ns" '{ "fail_threshold": 1, "emergency_threshold": 3, "vpn_interfaces": ["wg-worker-*"] }' \
		'"learn_default": true' --dry-run
	hijack "$ns"
	ip -n "$ns" route del default
	wait_event '.type == "recovery_step" and .step == "restore_routes" and .result == "dry_run" and (.detail | test("would restore default"))'
	wait_event '.type == "recovery_step" and .step == "remove_vpn_interfaces" and .result == "dry_run" and (.detail | test("wg-worker-1"))'
	wait_event '.type == "recovery_step" and .step == "escalate"'
	has_route "$ns" default && fail "dry-run restored the route"
	rl_has_link "$ns" wg-worker-1 || fail "dry-run removed wg-worker-1"
	rl_rule_at "$ns" 1000 || { show_state "$ns"; fail "dry-run removed a rule"; }
}

test_level_3_and_4_go_through_the_bus_and_reboots_are_budgeted() {
	local ns gw idx
	new_inet_lab ns
	gw=$ns_GW
	start_fake_bus systemd1 network1
	rlab "$ns" '{ "fail_threshold": 1, "emergency_threshold": 1, "main_interface": "d0",
		"steps": { "bounce_interface": false }, "reboot": true, "reboot_after": 1,
		"max_reboots": 1 }'
	idx=$(ip netns exec "$ns" cat /sys/class/net/d0/ifindex)
	ip -n "$gw" link set d0p down
	wait_event '.type == "recovery_step" and .step == "renew_dhcp" and .result == "changed"'
	grep -q "^RenewLink $idx$" "$FAKE_BUS_LOG" || fail "no RenewLink($idx): $(cat "$FAKE_BUS_LOG")"
	wait_event '.type == "recovery_step" and .step == "reboot" and .result == "changed"'
	wait_event '.type == "recovery_step" and .step == "reboot" and .result == "skipped" and (.detail | test("max_reboots"))'
	expect_eq "$(grep -c '^StartUnit reboot.target replace-irreversibly$' "$FAKE_BUS_LOG")" 1 \
		"reboots asked for"
	expect_eq "$(wc -l <"$TMP/state/reboots")" 1 "reboots recorded"
	[ "$(rec_field .reboots_24h)" = 1 ] || fail "status does not count the reboot"
}

test_level_3_stops_the_wildcard_listener_it_was_told_about() {
	local ns gw pid
	new_inet_lab ns
	gw=$ns_GW
	# only a listener an explicit rule reported is a suspect (not the
	# default action's: sshd on 0.0.0.0:22 would be one)
	RLAB_BIND_RULES='[ { "port": 18443, "action": "audit" } ]' \
	rlab "$ns" '{ "fail_threshold": 1, "emergency_threshold": 1, "main_interface": "d0",
		"steps": { "bounce_interface": false, "renew_dhcp": false },
		"kill_wildcard_owner": true }'
	sleep 600 | nsenter --net="/run/netns/$ns" "$BINDTEST" --cgroup "$RLAB_CG" --addr 0.0.0.0 \
		--port 18444 --listen --hold >"$TMP/bind2.out" 2>&1 &
	wait_event '.type == "bind_audit" and .port == 18444 and .rule == "default"'
	sleep 600 | nsenter --net="/run/netns/$ns" "$BINDTEST" --cgroup "$RLAB_CG" --addr 0.0.0.0 \
		--port 18443 --listen --hold >"$TMP/bind.out" 2>&1 &
	wait_event '.type == "bind_audit" and .port == 18443'
	pid=$(ctl events --json --type bind_audit | jq -r 'select(.port == 18443) | .pid' | head -1)
	kill -0 "$pid" || fail "listener not running"
	ip -n "$gw" link set d0p down
	wait_event ".type == \"recovery_step\" and .step == \"kill_wildcard_owner\" and .result == \"changed\" and (.detail | test(\"$pid\"))"
	wait_until 5 sh -c "! kill -0 $pid 2>/dev/null" || fail "listener $pid still alive"
	pid=$(ctl events --json --type bind_audit | jq -r 'select(.port == 18444) | .pid' | head -1)
	kill -0 "$pid" || fail "the default action's listener ($pid) was stopped too"
}

test_bad_recovery_config_on_reload_keeps_the_running_one() {
	local ns
	new_inet_lab ns
	rlab "$ns" '{ "fail_threshold": 2 }'
	jq '.recovery.vpn_interfaces = ["*"]' "$TMP/cfg.json" >"$TMP/cfg.new" && mv "$TMP/cfg.new" "$TMP/cfg.json"
	"$NWD" --check-config --config "$TMP/cfg.json" 2>"$TMP/check.err" && fail "check-config accepted *"
	grep -q 'recovery.vpn_interfaces\[0\]: "\*" must begin with a literal name prefix' "$TMP/check.err" ||
		fail "unclear error: $(cat "$TMP/check.err")"
	kill -HUP "$DAEMON_PID"
	wait_until 5 sh -c "'$NWCTL' --socket '$SOCK' status --json | jq -e '.reload_failures == 1' >/dev/null" ||
		fail "reload not rejected"
	expect_eq "$(rec_field .fail_threshold)" 2 "running recovery kept"
	rl_connected || fail "probes stopped"
}
