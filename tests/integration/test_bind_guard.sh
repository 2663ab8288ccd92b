# shellcheck shell=bash
# The wildcard-bind guard against the real kernel: real programs attached to
# cgroups made here, real sockets bound in namespaces made here.

# guard NS CG DEFAULT [RULES_JSON] [EXTRA_JSON]: config + daemon
guard() {
	local ns=$1 cg=$2 def=$3 rules=${4:-[]} extra=${5:-}
	write_config "$TMP/cfg.json" <<JSON
{ "binds": { "cgroup": "$cg", "default_action": "$def", "rules": $rules }$extra }
JSON
	start_daemon "$ns" "$TMP/cfg.json"
}

test_deny_wildcard_tcp_udp_v4_v6_mapped() {
	local ns cg out
	new_netns ns; new_cgroup cg
	guard "$ns" "$cg" deny
	for args in "--family 4" "--family 4 --proto udp" "--family 6" "--family 6 --proto udp" \
		    "--family 6 --addr ::ffff:0.0.0.0" "--family 6 --addr ::ffff:0.0.0.0 --proto udp"; do
		# shellcheck disable=SC2086
		out=$(nw_bind "$ns" "$cg" $args --port 18443) && fail "bind $args succeeded: $out"
		expect_eq "$(jfield "$out" .bind)" EPERM "bind $args"
	done
	wait_event '.type == "bind_denied" and .proto == "udp" and .addr == "::" and .port == 18443'
	wait_event '.type == "bind_denied" and .v4mapped == true and .family == 4'
	# the actor is named: pid, comm, uid, cgroup
	out=$(nw_bind "$ns" "$cg" --port 18444) || true
	local pid; pid=$(jfield "$out" .pid)
	wait_event ".type == \"bind_denied\" and .pid == $pid and .comm == \"bindtest\" and .uid == 0 and .cgroup == \"/${cg#"$CG2"/}\" and .action == \"deny\" and .rule == \"default\""
	expect_eq "$(count_events '.type == "bind_denied"')" 7 "bind_denied events"
	expect_eq "$(counter bind_denied)" 7 "bind_denied counter"
}

test_audit_allows_and_reports() {
	local ns cg out
	new_netns ns; new_cgroup cg
	guard "$ns" "$cg" audit
	out=$(nw_bind "$ns" "$cg" --port 18080) || fail "audit must allow: $out"
	expect_eq "$(jfield "$out" .addr)" 0.0.0.0 "audited bind address"
	out=$(nw_bind "$ns" "$cg" --family 6 --proto udp --port 18080) || fail "audit v6 udp: $out"
	expect_eq "$(jfield "$out" .addr)" :: "audited v6 bind address"
	wait_event '.type == "bind_audit" and .addr == "0.0.0.0" and .port == 18080 and .action == "audit"'
	wait_event '.type == "bind_audit" and .addr == "::" and .proto == "udp"'
	expect_eq "$(counter bind_audited)" 2 "bind_audited counter"
}

test_rewrite_to_loopback() {
	local ns cg out
	new_netns ns; new_cgroup cg
	guard "$ns" "$cg" rewrite
	for spec in "4 tcp 0.0.0.0 127.0.0.1" "4 udp 0.0.0.0 127.0.0.1" "6 tcp :: ::1" "6 udp :: ::1" \
		    "6 tcp ::ffff:0.0.0.0 ::ffff:127.0.0.1" "6 udp ::ffff:0.0.0.0 ::ffff:127.0.0.1"; do
		set -- $spec
		out=$(nw_bind "$ns" "$cg" --family "$1" --proto "$2" --addr "$3" --port 18443) ||
			fail "rewrite $spec: $out"
		expect_eq "$(jfield "$out" .addr)" "$4" "getsockname after rewrite of $3 ($2)"
		expect_eq "$(jfield "$out" .port)" 18443 "port kept after rewrite of $3 ($2)"
		wait_event ".type == \"bind_rewritten\" and .addr == \"$3\" and .new_addr == \"$4\" and .proto == \"$2\""
	done
	expect_eq "$(counter bind_rewritten)" 6 "bind_rewritten counter"
}

test_port_rule_beats_default() {
	local ns cg out
	new_netns ns; new_cgroup cg
	guard "$ns" "$cg" deny '[ { "port": 18443, "proto": "tcp", "family": 4, "action": "allow" },
	                          { "port": 18444, "action": "rewrite" } ]'
	out=$(nw_bind "$ns" "$cg" --port 18443) || fail "allowed port: $out"
	expect_eq "$(jfield "$out" .addr)" 0.0.0.0 "allowed port keeps the wildcard"
	out=$(nw_bind "$ns" "$cg" --port 18443 --proto udp) && fail "udp is not in the allow rule: $out"
	out=$(nw_bind "$ns" "$cg" --port 18443 --family 6) && fail "v6 is not in the allow rule: $out"
	out=$(nw_bind "$ns" "$cg" --port 18444 --family 6) || fail "rewrite port: $out"
	expect_eq "$(jfield "$out" .addr)" ::1 "rewrite rule for any family"
	out=$(nw_bind "$ns" "$cg" --port 18445) && fail "other port must get the default: $out"
	wait_event '.type == "bind_rewritten" and .port == 18444 and .rule == "port"'
	# allow is silent
	expect_eq "$(count_events '.port == 18443 and .proto == "tcp" and .family == 4')" 0 "events for allow"
	expect_eq "$(counter bind_allowed)" 1 "bind_allowed counter"
}

test_cgroup_rule_and_ancestor() {
	local ns parent a b child out rel
	new_netns ns; new_cgroup parent; new_cgroup a "$parent"; new_cgroup b "$parent"
	new_cgroup child "$a"
	rel=${a#"$CG2"}
	guard "$ns" "$parent" deny "[ { \"cgroup\": \"$rel\", \"action\": \"rewrite\" },
	                             { \"cgroup\": \"${b#"$CG2"/}\", \"port\": 18443, \"action\": \"audit\" } ]"
	out=$(nw_bind "$ns" "$a" --port 18443) || fail "cgroup rule: $out"
	expect_eq "$(jfield "$out" .addr)" 127.0.0.1 "rule for cgroup a"
	out=$(nw_bind "$ns" "$child" --port 18443) || fail "ancestor rule: $out"
	expect_eq "$(jfield "$out" .addr)" 127.0.0.1 "rule of the parent cgroup applies to its child"
	out=$(nw_bind "$ns" "$b" --port 18443) || fail "cgroup+port audit: $out"
	expect_eq "$(jfield "$out" .addr)" 0.0.0.0 "audit rule for cgroup b"
	out=$(nw_bind "$ns" "$b" --port 18444) && fail "cgroup b, other port: default deny expected: $out"
	out=$(nw_bind "$ns" "$parent" --port 18443) && fail "parent itself: default deny expected: $out"
	wait_event ".type == \"bind_rewritten\" and .cgroup == \"${child#"$CG2"}\" and .rule == \"cgroup\" and .rule_cgroup == \"$rel\""
	wait_event ".type == \"bind_audit\" and .rule == \"cgroup+port\""
}

test_non_wildcard_binds_untouched() {
	local ns cg out
	new_netns ns; new_cgroup cg
	guard "$ns" "$cg" deny
	out=$(nw_bind "$ns" "$cg" --addr 127.0.0.1 --port 18443) || fail "v4 loopback: $out"
	out=$(nw_bind "$ns" "$cg" --family 6 --addr ::1 --port 18443 --proto udp) || fail "v6 loopback: $out"
	out=$(nw_bind "$ns" "$cg" --family 6 --addr ::ffff:127.0.0.1 --port 18443) || fail "mapped loopback: $out"
	expect_eq "$(counter bind_wildcard)" 0 "wildcard counter"
	expect_eq "$(count_events '.type | startswith("bind_")')" 0 "bind events"
}

test_listen_without_bind_reported() {
	local ns cg out pid
	new_netns ns; new_cgroup cg
	guard "$ns" "$cg" deny
	coproc HOLD { nw_bind "$ns" "$cg" --no-bind --listen --hold; }
	defer "kill $HOLD_PID"
	read -r -u "${HOLD[0]}" out || fail "listener did not start"
	expect_eq "$(jfield "$out" .listen)" ok "listen without bind under deny is only reported"
	pid=$(jfield "$out" .pid)
	# the port the kernel picked after the tracepoint is found by the socket inode
	wait_event ".type == \"wildcard_listener\" and .source == \"autobind\" and .pid == $pid and .killed == false and .policy == \"deny\" and .port == $(jfield "$out" .port)"
	expect_eq "$(counter listen_autobind)" 1 "listen_autobind counter"
	# listen after an explicit bind is the bind hook's business, not reported twice
	out=$(nw_bind "$ns" "$cg" --addr 127.0.0.1 --listen) || fail "bound listen: $out"
	expect_eq "$(counter listen_autobind)" 1 "listen after bind is not an autobind"
}

test_listen_without_bind_killed() {
	local ns cg out rc
	new_netns ns; new_cgroup cg
	guard "$ns" "$cg" audit '[ { "proto": "tcp", "action": "kill" } ]'
	set +e
	out=$(nw_bind "$ns" "$cg" --no-bind --listen --hold </dev/null)
	rc=$?
	set -e
	expect_eq "$rc" 137 "exit status of the listener (SIGKILL)"
	[ -z "$out" ] || fail "the listener printed before dying: $out"
	wait_event '.type == "wildcard_listener" and .killed == true and .action == "kill"'
	expect_eq "$(counter listen_killed)" 1 "listen_killed counter"
	# kill at bind() means deny (bpf cannot signal from the bind hook)
	out=$(nw_bind "$ns" "$cg" --port 18443) && fail "kill rule must deny bind: $out"
	expect_eq "$(jfield "$out" .bind)" EPERM "bind under a kill rule"
	# udp is not covered by the tcp rule
	nw_bind "$ns" "$cg" --port 18443 --proto udp >/dev/null || fail "udp must stay audited"
}

test_startup_scan_finds_listener() {
	local ns cg out pid
	new_netns ns; new_cgroup cg
	coproc HOLD { nw_bind "$ns" "$cg" --port 18999 --listen --hold; }
	defer "kill $HOLD_PID"
	read -r -u "${HOLD[0]}" out || fail "holder did not start"
	pid=$(jfield "$out" .pid)
	guard "$ns" "$cg" audit
	wait_event ".type == \"wildcard_listener\" and .source == \"scan\" and .port == 18999 and .pid == $pid and .comm == \"bindtest\" and .cgroup == \"${cg#"$CG2"}\""
	# the scan sees only the guarded namespace
	expect_eq "$(count_events '.source == "scan"')" 1 "listeners found by the scan"
}

test_sigkill_keeps_enforcing_and_restart_adopts() {
	local ns cg out link4 linktp prog4
	new_netns ns; new_cgroup cg
	guard "$ns" "$cg" deny
	link4=$(ctl status --json | jq '.binds.programs[] | select(.name == "nw_bind4") | .link_id')
	linktp=$(ctl status --json | jq '.binds.programs[] | select(.name == "tp_inet_listen") | .link_id')
	kill -9 "$DAEMON_PID"; wait "$DAEMON_PID" 2>/dev/null
	out=$(nw_bind "$ns" "$cg" --port 18443) && fail "after SIGKILL the guard must still deny: $out"
	expect_eq "$(jfield "$out" .bind)" EPERM "bind after SIGKILL"
	expect_eq "$(counter bind_denied)" 1 "counters readable with the daemon dead"
	start_daemon "$ns" "$TMP/cfg.json"
	ctl status --json | jq -e '.binds.programs[] | select(.name == "nw_bind4") | .state | test("adopted")' >/dev/null ||
		fail "restart did not adopt the pinned link: $(ctl status --json)"
	expect_eq "$(ctl status --json | jq '.binds.programs[] | select(.name == "nw_bind4") | .link_id')" "$link4" "same link after restart"
	# exactly one program per hook on the cgroup
	expect_eq "$(bpftool cgroup show "$cg" | grep -c bind4)" 1 "bind4 programs on the cgroup"
	expect_eq "$(bpftool cgroup show "$cg" | grep -c bind6)" 1 "bind6 programs on the cgroup"
	# the tracepoint link cannot swap programs: a new one replaced it, the old is gone
	[ "$(ctl status --json | jq '.binds.programs[] | select(.name == "tp_inet_listen") | .link_id')" != "$linktp" ] ||
		fail "tracepoint link not replaced"
	bpftool link show id "$linktp" >/dev/null 2>&1 && fail "old tracepoint link $linktp still exists"
	prog4=$(ctl status --json | jq '.binds.programs[] | select(.name == "nw_bind4") | .prog_id')
	bpftool cgroup show "$cg" | grep -q "^$prog4 " || fail "the attached program is not the new one ($prog4)"
	out=$(nw_bind "$ns" "$cg" --port 18443) && fail "after restart: $out"
	expect_eq "$(counter bind_denied)" 2 "counters survive the restart (pinned map reused)"
}

test_sigterm_detaches_unless_keep_on_exit() {
	local ns cg out
	new_netns ns; new_cgroup cg
	guard "$ns" "$cg" deny '[]' ', "bpf": { "keep_on_exit": true }'
	stop_daemon || fail "netwardd exit status on SIGTERM"
	out=$(nw_bind "$ns" "$cg" --port 18443) && fail "keep_on_exit: still denied expected: $out"
	[ -e "$PIN/links/nw_bind4" ] || fail "keep_on_exit: link unpinned"
	guard "$ns" "$cg" deny
	stop_daemon || fail "netwardd exit status on SIGTERM"
	out=$(nw_bind "$ns" "$cg" --port 18443) || fail "after a detaching SIGTERM binds are free: $out"
	[ ! -e "$PIN" ] || fail "pin dir left behind: $(ls -R "$PIN")"
	[ -z "$(bpftool cgroup show "$cg" | tail -n +2)" ] || fail "programs left on the cgroup"
}

test_reload_good_and_bad() {
	local ns cg out
	new_netns ns; new_cgroup cg
	guard "$ns" "$cg" deny
	nw_bind "$ns" "$cg" --port 18443 >/dev/null && fail "deny before reload"
	write_config "$TMP/cfg.json" <<JSON
{ "binds": { "cgroup": "$cg", "default_action": "rewrite" } }
JSON
	kill -HUP "$DAEMON_PID"
	wait_until 5 sh -c "'$NWCTL' --socket '$SOCK' status --json | jq -e '.binds.default_action == \"rewrite\"' >/dev/null" ||
		fail "SIGHUP did not apply the new default"
	out=$(nw_bind "$ns" "$cg" --port 18443) || fail "after reload: $out"
	expect_eq "$(jfield "$out" .addr)" 127.0.0.1 "rewrite after reload"
	# a broken file is rejected, the running config stays
	write_config "$TMP/cfg.json" <<JSON
{ "binds": { "cgroup": "$cg", "default_action": "block" } }
JSON
	kill -HUP "$DAEMON_PID"
	wait_until 5 sh -c "'$NWCTL' --socket '$SOCK' status --json | jq -e '.reload_failures == 1' >/dev/null" ||
		fail "bad reload not counted"
	expect_eq "$(ctl status --json | jq -r .last_reload_error)" \
		"$TMP/cfg.json: binds.default_action: \"block\" is not an action (allow, audit, deny, rewrite, kill)" \
		"reload error message"
	grep -q 'reload rejected, keeping the running configuration' "$TMP/daemon.log" || fail "no log line for the rejected reload"
	out=$(nw_bind "$ns" "$cg" --port 18443) || fail "after bad reload: $out"
	expect_eq "$(jfield "$out" .addr)" 127.0.0.1 "running config kept"
	# a cgroup that does not exist is rejected too
	write_config "$TMP/cfg.json" <<JSON
{ "binds": { "cgroup": "$cg/nope", "default_action": "allow" } }
JSON
	out=$(ctl status >/dev/null; echo '{"cmd":"reload"}' | nsenter --net=/run/netns/"$ns" python3 -c "
import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect('$SOCK'); s.sendall(sys.stdin.read().encode()); print(s.makefile().readline().strip())")
	expect_eq "$(jfield "$out" .ok)" false "reload over the control socket"
	jfield "$out" .error | grep -q 'binds.cgroup: ".*/nope": no such cgroup under' || fail "reload error: $out"
	nw_bind "$ns" "$cg" --port 18443 | jq -e '.addr == "127.0.0.1"' >/dev/null || fail "config kept after bad cgroup"
}

test_two_instances_independent() {
	local ns1 ns2 cg1 cg2 pin1 sock1 pid1 out
	new_netns ns1; new_netns ns2; new_cgroup cg1; new_cgroup cg2
	guard "$ns1" "$cg1" deny
	pin1=$PIN sock1=$SOCK pid1=$DAEMON_PID
	PIN=/sys/fs/bpf/netward-test-$(rand) SOCK=$TMP/ctl2.sock
	write_config "$TMP/cfg2.json" <<JSON
{ "binds": { "cgroup": "$cg2", "default_action": "rewrite" } }
JSON
	start_daemon "$ns2" "$TMP/cfg2.json"
	nw_bind "$ns1" "$cg1" --port 18443 >/dev/null && fail "instance 1 must deny"
	nw_bind "$ns2" "$cg2" --port 18443 | jq -e '.addr == "127.0.0.1"' >/dev/null || fail "instance 2 must rewrite"
	# a process of instance 1's cgroup in instance 2's namespace: neither acts
	out=$(nw_bind "$ns2" "$cg1" --port 18443) || fail "cgroup 1 in netns 2 must be left alone: $out"
	expect_eq "$(jfield "$out" .addr)" 0.0.0.0 "foreign netns"
	stop_daemon || fail "stopping instance 2"
	nw_bind "$ns1" "$cg1" --port 18443 >/dev/null && fail "instance 1 must still deny after instance 2 stopped"
	[ -e "$pin1/bind_policy" ] || fail "instance 1's pins disturbed"
	"$NWCTL" --socket "$sock1" status >/dev/null || fail "instance 1 no longer answers"
	kill -0 "$pid1" || fail "instance 1 died"
}

test_dry_run_only_audits() {
	local ns cg out
	new_netns ns; new_cgroup cg
	write_config "$TMP/cfg.json" <<JSON
{ "binds": { "cgroup": "$cg", "default_action": "deny", "rules": [ { "port": 18444, "action": "rewrite" } ] } }
JSON
	start_daemon "$ns" "$TMP/cfg.json" --dry-run
	out=$(nw_bind "$ns" "$cg" --port 18443) || fail "dry-run must not deny: $out"
	out=$(nw_bind "$ns" "$cg" --port 18444) || fail "dry-run rewrite: $out"
	expect_eq "$(jfield "$out" .addr)" 0.0.0.0 "dry-run must not rewrite"
	wait_event '.type == "bind_audit" and .dry_run == true and .policy == "deny" and .port == 18443'
	wait_event '.type == "bind_audit" and .dry_run == true and .policy == "rewrite" and .port == 18444'
	expect_eq "$(counter dry_run)" 2 "dry_run counter"
	ctl status --json | jq -e '.dry_run == true' >/dev/null || fail "status must say dry-run"
}

test_netns_all_acts_everywhere() {
	local ns1 ns2 cg out
	new_netns ns1; new_netns ns2; new_cgroup cg
	guard "$ns1" "$cg" deny '[]' ', "netns": "all"'
	out=$(nw_bind "$ns2" "$cg" --port 18443) && fail "netns all: other namespace must be denied: $out"
	expect_eq "$(counter other_netns)" 0 "other_netns counter with netns all"
}

test_blocklist_cli_live_and_without_daemon() {
	local ns cg out
	new_netns ns; new_cgroup cg
	guard "$ns" "$cg" audit '[ { "port": 18500, "action": "allow" } ]' ', "bpf": { "keep_on_exit": true }'
	ctl blocklist add --cgroup "${cg#"$CG2"/}" --port 18443 --proto tcp --family 4 --action deny ||
		fail "blocklist add"
	nw_bind "$ns" "$cg" --port 18443 >/dev/null && fail "live deny entry not applied"
	nw_bind "$ns" "$cg" --port 18443 --family 6 >/dev/null || fail "entry was for family 4 only"
	ctl blocklist list --json | jq -e ".[] | select(.port == 18443 and .action == \"deny\" and .origin == \"cli\" and .cgroup == \"${cg#"$CG2"}\")" >/dev/null ||
		fail "blocklist list: $(ctl blocklist list --json)"
	# CLI entries survive a reload; config entries are re-synced
	kill -HUP "$DAEMON_PID"
	wait_until 5 sh -c "'$NWCTL' --socket '$SOCK' status --json | jq -e '.reloads == 1' >/dev/null" || fail "reload"
	nw_bind "$ns" "$cg" --port 18443 >/dev/null && fail "CLI entry lost on reload"
	# with the daemon gone (keep_on_exit), the CLI still reads and writes the pinned maps
	stop_daemon
	ctl blocklist del --cgroup "$(basename "$cg")" --port 18443 --proto tcp --family 4 || fail "blocklist del"
	nw_bind "$ns" "$cg" --port 18443 >/dev/null || fail "deleted entry still applied"
	ctl blocklist del --port 18443 && fail "deleting a missing entry must fail"
	ctl counters --json | jq -e '.bind_denied == 2' >/dev/null || fail "counters without daemon (2 denials: before and after the reload): $(ctl counters --json)"
	ctl status >/dev/null 2>&1; expect_eq $? 3 "status without daemon exit code"
	"$NWCTL" --pin-dir "$TMP/none" counters >/dev/null 2>&1; expect_eq $? 4 "counters without pins exit code"
	"$NWCTL" --pin-dir "$PIN" blocklist add --port 1 >/dev/null 2>&1; expect_eq $? 2 "add without --action"
	"$NWCTL" --pin-dir "$PIN" blocklist add --port 70000 --action deny >/dev/null 2>&1; expect_eq $? 2 "bad port"
	"$NWCTL" frobnicate >/dev/null 2>&1; expect_eq $? 2 "unknown verb"
}

test_events_follow_streams() {
	local ns cg line
	new_netns ns; new_cgroup cg
	guard "$ns" "$cg" deny
	coproc FOLLOW { ctl events --follow --json --type bind_denied; }
	defer "kill $FOLLOW_PID"
	# wait until the daemon has the follower, then cause an event
	wait_until 5 sh -c "'$NWCTL' --socket '$SOCK' status --json | jq -e '.events.followers == 1' >/dev/null" ||
		fail "follower not registered"
	nw_bind "$ns" "$cg" --port 18443 >/dev/null && fail "deny"
	nw_bind "$ns" "$cg" --addr 127.0.0.1 --port 18444 >/dev/null || fail "loopback bind"
	read -r -t 5 -u "${FOLLOW[0]}" line || fail "no streamed event"
	jq -e '.type == "bind_denied" and .port == 18443' <<<"$line" >/dev/null || fail "streamed: $line"
	# human output has the timestamp and the actor
	ctl events --type bind_denied | grep -Eq '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]{15}Z bind_denied: pid [0-9]+ \(bindtest\)' ||
		fail "human events output: $(ctl events)"
}

test_check_config_and_usage() {
	local out
	write_config "$TMP/bad.json" <<'JSON'
{ "binds": { "rules": [ { "port": 80, "action": "allow" }, { "port": 70000, "action": "deny" } ] } }
JSON
	out=$("$NWD" --check-config --config "$TMP/bad.json" 2>&1); expect_eq $? 1 "--check-config exit on a bad file"
	expect_eq "$out" "$TMP/bad.json: binds.rules[1].port: 70000 is out of range (0-65535)" "--check-config message"
	write_config "$TMP/good.json" <<'JSON'
{ "netns": "self", "binds": { "cgroup": "/", "default_action": "audit" }, "log": { "level": "info" } }
JSON
	out=$("$NWD" --check-config --config "$TMP/good.json" 2>&1) || fail "--check-config good: $out"
	out=$("$NWD" --check-config --config "$TMP/missing.json" 2>&1) && fail "missing explicit config must fail"
	expect_eq "$out" "$TMP/missing.json: No such file or directory" "missing config message"
	"$NWD" --bogus >/dev/null 2>&1; expect_eq $? 2 "unknown option exit code"
	"$NWD" --help | grep -q -- '--check-config' || fail "--help"
	"$NWCTL" --help | grep -q 'blocklist add' || fail "netwardctl --help"
}

test_control_socket_protocol() {
	local ns cg reply
	new_netns ns; new_cgroup cg
	guard "$ns" "$cg" audit
	expect_eq "$(stat -c %a "$SOCK")" 600 "control socket mode"
	reply=$(python3 - "$SOCK" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); f = s.makefile("rw")
for req in ['{"cmd":"ping"}', 'not json', '{"nocmd":1}', '{"cmd":"frob"}', '{"cmd":"events","type":"nope"}']:
    f.write(req + "\n"); f.flush(); print(f.readline().strip())
PY
)
	expect_eq "$(sed -n 1p <<<"$reply")" '{"ok":true}' "ping"
	expect_eq "$(sed -n 2p <<<"$reply")" '{"ok":false,"error":"request is not a JSON object"}' "bad json"
	expect_eq "$(sed -n 3p <<<"$reply")" '{"ok":false,"error":"request has no \"cmd\" string"}' "no cmd"
	expect_eq "$(sed -n 4p <<<"$reply")" '{"ok":false,"error":"unknown command \"frob\""}' "unknown cmd"
	expect_eq "$(sed -n 5p <<<"$reply")" '{"ok":false,"error":"type: \"nope\" is not an event type"}' "bad type"
	ctl status --json | jq -e '.binds.programs | length == 5 and all(.state == "attached")' >/dev/null ||
		fail "status programs: $(ctl status --json)"
}

test_sd_notify_ready_status_watchdog_reload() {
	local ns cg
	new_netns ns; new_cgroup cg
	python3 "$NW_ROOT/tests/helpers/notify_listen.py" "$TMP/notify.sock" "$TMP/notify.log" 30 &
	defer "kill $!"
	wait_until 5 test -e "$TMP/notify.log.ready" || fail "notify listener did not start"
	write_config "$TMP/cfg.json" <<JSON
{ "binds": { "cgroup": "$cg", "default_action": "deny" } }
JSON
	NOTIFY_SOCKET=$TMP/notify.sock WATCHDOG_USEC=200000 start_daemon "$ns" "$TMP/cfg.json"
	wait_until 5 grep -qx 'READY=1' "$TMP/notify.log" || fail "no READY=1: $(cat "$TMP/notify.log")"
	grep -q "^STATUS=guarding $cg: bind4/bind6/listen attached, default deny, 0 rules; 0 protected routes (tracepoints); no probes$" "$TMP/notify.log" ||
		fail "STATUS: $(cat "$TMP/notify.log")"
	# the loop sends WATCHDOG=1 every WATCHDOG_USEC/2
	wait_until 5 grep -qx 'WATCHDOG=1' "$TMP/notify.log" || fail "no WATCHDOG=1"
	kill -HUP "$DAEMON_PID"
	wait_until 5 grep -qx 'RELOADING=1' "$TMP/notify.log" || fail "no RELOADING=1 on SIGHUP"
	stop_daemon
	grep -qx 'STOPPING=1' "$TMP/notify.log" || fail "no STOPPING=1 on SIGTERM"
}

test_second_instance_refuses_busy_pin_dir_or_socket() {
	local ns cg out
	new_netns ns; new_cgroup cg
	guard "$ns" "$cg" deny
	# same pin dir, other socket
	out=$(ip netns exec "$ns" "$NWD" --config "$TMP/cfg.json" --pin-dir "$PIN" --socket "$TMP/other.sock" 2>&1) &&
		fail "a second netwardd on the same pin dir started"
	grep -q "pin dir $PIN: in use by another running netwardd" <<<"$out" || fail "message: $out"
	# same socket, other pin dir
	out=$(ip netns exec "$ns" "$NWD" --config "$TMP/cfg.json" --pin-dir "$PIN-2" --socket "$SOCK" 2>&1) &&
		fail "a second netwardd on the same socket started"
	[ ! -e "$PIN-2" ] || { rm -rf "$PIN-2"; fail "the failed instance left $PIN-2 behind"; }
	expect_eq "$(bpftool cgroup show "$cg" | grep -c bind4)" 1 "bind4 programs on the cgroup after the failed start"
	grep -q "control socket $SOCK: in use by another running netwardd" <<<"$out" || fail "message: $out"
	# the first is undisturbed
	ctl status >/dev/null || fail "first instance lost its socket"
	nw_bind "$ns" "$cg" --port 18443 >/dev/null && fail "first instance no longer denies"
	ctl status --json | jq -e '.binds.programs | all(.state == "attached")' >/dev/null || fail "links changed"
}

test_rule_follows_its_cgroup_when_made_anew() {
	local ns parent svc id1 id2
	new_netns ns; new_cgroup parent
	svc=$parent/svc.service
	defer "rmdir '$svc'"
	guard "$ns" "$parent" audit "[ { \"cgroup\": \"${svc#"$CG2"}\", \"port\": 18443, \"action\": \"deny\" } ]"
	# the service is not running: its rule waits
	expect_eq "$(ctl status --json | jq .binds.rules_waiting_for_cgroup)" 1 "rules waiting before the cgroup exists"
	grep -q "binds.rules\[0\].cgroup: \"${svc#"$CG2"}\": no such cgroup under $CG2 yet" "$TMP/daemon.log" ||
		fail "no warning for the waiting rule"
	mkdir "$svc"
	id1=$(stat -c %i "$svc")
	wait_until 5 sh -c "'$NWCTL' --socket '$SOCK' status --json | jq -e '.binds.rules_waiting_for_cgroup == 0' >/dev/null" ||
		fail "rule not applied when the cgroup appeared"
	nw_bind "$ns" "$svc" --port 18443 >/dev/null && fail "rule for the new cgroup not enforced"
	# the service restarts: its cgroup is removed and made again, with a new id
	rmdir "$svc"
	mkdir "$svc"
	id2=$(stat -c %i "$svc")
	[ "$id1" != "$id2" ] || fail "the kernel reused the cgroup id"
	wait_until 5 sh -c "'$NWCTL' --pin-dir '$PIN' blocklist list --json | jq -e 'any(.[]; .cgroup_id == $id2)' >/dev/null" ||
		fail "policy not rewritten for the re-made cgroup: $(ctl blocklist list --json)"
	nw_bind "$ns" "$svc" --port 18443 >/dev/null && fail "rule lost when the cgroup was made anew"
	ctl blocklist list --json | jq -e "all(.[]; .cgroup_id != $id1)" >/dev/null ||
		fail "entries of the removed cgroup left in the policy"
	nw_bind "$ns" "$svc" --port 18444 >/dev/null || fail "other ports stay audited"
}
