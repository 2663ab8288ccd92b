# shellcheck shell=bash
# The tunnel poller (issue 6) against a local stand-in for the Cloudflare
# API (tests/helpers/cf_mock.py, on 127.0.0.1 inside the test's namespace:
# the public API cannot be reached from here), and systemd units through a
# D-Bus stand-in on a private bus, or a real systemd in systemd-nspawn.

TN_ACCOUNT=0123456789abcdef0123456789abcdef
TN_TUNNEL=6ff42ae2-765d-4adf-8112-31c55c1551ef
TN_UNIT=cloudflared-backup.service

# tn_script STEPS_JSON [TOKEN]: the stand-in answers the tunnel with these
# steps (see cf_mock.py); the account's token is TOKEN (default: ours)
tn_script() {
	jq -n --arg a "$TN_ACCOUNT" --arg t "$TN_TUNNEL" --arg tok "${2:-$TN_TOKEN}" \
		--argjson steps "$1" '{tokens: {($a): $tok}, tunnels: {($t): $steps}}' \
		>"$TMP/cf.script.new"
	mv "$TMP/cf.script.new" "$TMP/cf.script"
}

# tn_api NS: the API stand-in on 127.0.0.1:$TN_PORT in NS (a namespace this
# test made), the tunnel healthy, the account's token $TN_TOKEN in an
# owner-only token file $TMP/cf.token
tn_api() {
	TN_TOKEN=tok-$(rand)$(rand)
	install -m 600 /dev/null "$TMP/cf.token"
	printf '%s\n' "$TN_TOKEN" >"$TMP/cf.token"
	tn_script '[{"status": "healthy"}]'
	: >"$TMP/cf.log"
	nsenter --net="/run/netns/$1" python3 "$NW_ROOT/tests/helpers/cf_mock.py" \
		--script "$TMP/cf.script" --log "$TMP/cf.log" >"$TMP/cf.out" 2>&1 &
	defer "kill $!"
	wait_until 5 grep -qs '^listening' "$TMP/cf.out" || fail "API stand-in did not start"
	TN_PORT=$(awk '/^listening/ { print $2 }' "$TMP/cf.out")
}

# tn_lab NS_VAR: a new namespace with the API stand-in (tn_api)
tn_lab() {
	local _tl_ns
	new_netns _tl_ns
	tn_api "$_tl_ns"
	printf -v "$1" '%s' "$_tl_ns"
}

# tn_start NS [EXTRA_WATCH_FIELDS] [EXTRA_TUNNELS_FIELDS] [ARGS...]
tn_start() {
	local ns=$1 watch=${2:-} tunnels=${3:-} cg
	shift 3 2>/dev/null || shift $#
	new_cgroup cg
	write_config "$TMP/cfg.json" <<JSON
{ "binds": { "cgroup": "$cg" },
  "tunnels": { "api_base": "http://127.0.0.1:$TN_PORT/client/v4", "interval_ms": 200,
               "timeout_ms": 150 $tunnels,
               "watch": [ { "name": "web", "account_id": "$TN_ACCOUNT", "tunnel_id": "$TN_TUNNEL",
                            "token_file": "$TMP/cf.token", "service": "$TN_UNIT",
                            "fall": 2, "rise": 2 $watch } ] } }
JSON
	start_daemon "$ns" "$TMP/cfg.json" "$@"
}

# api_requests: answers the stand-in gave for our tunnel so far
api_requests() { grep -c "\"tunnel\": \"$TN_TUNNEL\"" "$TMP/cf.log"; }
# more_requests N: wait until N more API answers than now
more_requests() {
	local want=$(($(api_requests) + $1))
	wait_until 10 sh -c "[ \$(grep -c '\"tunnel\": \"$TN_TUNNEL\"' '$TMP/cf.log') -ge $want ]" ||
		fail "the poller stopped asking (wanted $want answers)"
}
# tn_event SECONDS FILTER: wait_event with a longer deadline
tn_event() {
	wait_until "$1" events_match "$2" || { ctl events --json >&2; fail "no event matching $2"; }
}
bus_calls() { grep -c "^$1 $TN_UNIT replace$" "$FAKE_BUS_LOG"; }
tunnel_field() { ctl tunnels --json | jq -r ".tunnels[0].$1"; }

test_tunnel_down_starts_the_backup_once_and_stops_it_on_recovery() {
	local ns
	tn_lab ns
	start_fake_bus systemd1
	tn_start "$ns" ', "stop_on_recovery": true'
	wait_event '.type == "tunnel_state" and .status == "healthy"'
	tn_script '[{"status": "down"}]'
	wait_event '.type == "unit_started" and .unit == "'$TN_UNIT'" and .tunnel == "web" and .reaction_us >= 0'
	wait_event '.type == "tunnel_state" and .status == "down" and .previous == "healthy"'
	more_requests 5		# down all along: never started again while active
	expect_eq "$(bus_calls StartUnit)" 1 "StartUnit calls"
	ctl tunnels >/dev/null && fail "netwardctl tunnels exits 0 with a tunnel down"
	expect_eq "$(tunnel_field started_by_netward)" true "started_by_netward"
	tn_script '[{"status": "healthy"}]'
	wait_event '.type == "unit_stopped" and .unit == "'$TN_UNIT'"'
	expect_eq "$(bus_calls StopUnit)" 1 "StopUnit calls"
	more_requests 3
	expect_eq "$(bus_calls StartUnit)" 1 "StartUnit calls after recovery"
	ctl tunnels >/dev/null || fail "netwardctl tunnels exits non-zero with the tunnel healthy"
}

test_tunnel_recovery_keeps_the_backup_unless_stop_on_recovery() {
	local ns
	tn_lab ns
	start_fake_bus systemd1
	tn_start "$ns" ', "degraded_is_down": true'
	tn_script '[{"status": "degraded"}]'
	wait_event '.type == "unit_started"'
	tn_script '[{"status": "healthy"}]'
	wait_event '.type == "tunnel_state" and .status == "healthy" and .down == false'
	more_requests 3
	expect_eq "$(bus_calls StopUnit)" 0 "StopUnit without stop_on_recovery"
}

test_tunnel_degraded_is_not_down_by_default() {
	local ns
	tn_lab ns
	start_fake_bus systemd1
	tn_start "$ns"
	tn_script '[{"status": "degraded"}]'
	wait_event '.type == "tunnel_state" and .status == "degraded"'
	more_requests 4
	expect_eq "$(bus_calls StartUnit)" 0 "StartUnit for degraded"
	expect_eq "$(tunnel_field down)" false "down"
}

test_tunnel_429_retry_after_is_honoured() {
	local ns n t429
	tn_lab ns
	start_fake_bus systemd1
	tn_script '[{"status": "healthy"}, {"code": 429, "retry_after": "2"}, {"status": "healthy"}]'
	tn_start "$ns"
	wait_event '.type == "tunnel_state" and .outcome == "rate"'
	t429=$(jq -r 'select(.code == 429) | .t' "$TMP/cf.log" | head -1)
	more_requests 1
	# the next request came no sooner than Retry-After (2 s) later
	n=$(jq -r --argjson t "$t429" 'select(.tunnel != null and .t > $t) | .t - $t' "$TMP/cf.log" | head -1)
	awk -v d="$n" 'BEGIN { exit !(d >= 1.95) }' || fail "asked again after ${n}s, Retry-After was 2"
	expect_eq "$(bus_calls StartUnit)" 0 "a rate limit is no outage"
}

test_tunnel_bad_token_raises_an_alarm_and_never_fails_over() {
	local ns
	tn_lab ns
	start_fake_bus systemd1
	tn_script '[{"status": "down"}]' "some-other-token"
	tn_start "$ns"
	wait_event '.type == "tunnel_state" and .outcome == "auth" and (.alarm | test("token"))'
	more_requests 4
	expect_eq "$(bus_calls StartUnit)" 0 "failover on a rejected token"
	expect_eq "$(count_events '.type == "tunnel_state" and .outcome == "auth"')" 1 "one alarm per spell"
}

test_tunnel_server_errors_garbage_and_slow_replies_are_reported() {
	local ns
	tn_lab ns
	start_fake_bus systemd1
	tn_script '[{"code": 500}]'
	tn_start "$ns"
	wait_event '.type == "tunnel_state" and .outcome == "server" and .http_status == 500'
	more_requests 1
	[ "$(ctl tunnels --json | jq '.tunnels[0].backoff_ms')" -gt 200 ] || fail "no backoff after 5xx"
	# the backoff doubles with each 5xx (556, 1112 ms, ...): the next
	# answers come later than the usual 200 ms rounds
	tn_script '[{"body": "<html>oops</html>"}]'
	tn_event 15 '.type == "tunnel_state" and .outcome == "bad_reply"'
	tn_script '[{"success": false, "error": [1003, "Invalid tunnel"]}]'
	tn_event 15 '.type == "tunnel_state" and .outcome == "api_error" and (.error | test("1003"))'
	tn_script '[{"status": "healthy", "delay_ms": 1000}]'
	tn_event 15 '.type == "tunnel_state" and .outcome == "transport"'
	expect_eq "$(bus_calls StartUnit)" 0 "errors are no outage"
}

test_tunnel_silent_gateway_skips_rounds_and_holds_failover() {
	local ns gw
	tn_lab ns
	# a gateway: a veth to a second namespace
	new_netns gw
	lab_link "$ns" "$gw"
	start_fake_bus systemd1
	tn_start "$ns" '' ', "gateway": "192.0.2.1"'
	wait_event '.type == "tunnel_state" and .status == "healthy"'
	ip -n "$gw" link set d0p down
	wait_until 5 sh -c "'$NWCTL' --socket '$SOCK' tunnels --json | jq -e '.gateway == \"silent\"' >/dev/null" ||
		fail "gateway not seen silent"
	tn_script '[{"status": "down"}]'
	wait_until 5 sh -c "'$NWCTL' --socket '$SOCK' tunnels --json | jq -e '.tunnels[0].skipped_rounds >= 3' >/dev/null" ||
		fail "rounds not skipped"
	expect_eq "$(bus_calls StartUnit)" 0 "failover while the gateway is silent"
	ip -n "$gw" link set d0p up
	wait_event '.type == "unit_started"'
}

test_tunnel_ready_endpoint_answers_first() {
	local ns
	tn_lab ns
	start_fake_bus systemd1
	jq '.ready = {"web": {"code": 200, "conns": 4}}' "$TMP/cf.script" >"$TMP/s" && mv "$TMP/s" "$TMP/cf.script"
	tn_start "$ns" ', "ready_url": "http://127.0.0.1:'"$TN_PORT"'/ready/web"'
	wait_until 5 sh -c "[ \$(grep -c '/ready/web' '$TMP/cf.log') -ge 3 ]" || fail "ready not polled"
	expect_eq "$(api_requests)" 0 "API calls while cloudflared is ready"
	jq '.ready.web.code = 503 | .ready.web.conns = 0' "$TMP/cf.script" >"$TMP/s" && mv "$TMP/s" "$TMP/cf.script"
	more_requests 2		# not ready locally: the API decides
	expect_eq "$(bus_calls StartUnit)" 0 "the API says healthy"
}

test_tunnel_tokens_shared_by_many_tunnels_stretch_the_interval() {
	local ns cg watch='' i id
	tn_lab ns
	new_cgroup cg
	for i in $(seq 10 19); do
		id=6ff42ae2-765d-4adf-8112-31c55c1551$i
		watch+="${watch:+,} { \"name\": \"t$i\", \"account_id\": \"$TN_ACCOUNT\", \"tunnel_id\": \"$id\", \"token_file\": \"$TMP/cf.token\" }"
	done
	write_config "$TMP/cfg.json" <<JSON
{ "binds": { "cgroup": "$cg" },
  "tunnels": { "api_base": "http://127.0.0.1:$TN_PORT/client/v4", "interval_ms": 200,
               "timeout_ms": 100, "watch": [ $watch ] } }
JSON
	start_daemon "$ns" "$TMP/cfg.json"
	# 10 tunnels on one token: 10 x 300 s / 1080 requests = 2778 ms
	expect_eq "$(ctl tunnels --json | jq -r '.tokens[0].interval_ms, .tokens[0].tunnels' | paste -sd,)" \
		"2778,10" "stretched interval"
	grep -q "shared by 10 tunnels" "$TMP/daemon.log" || fail "stretching not said"
}

test_tunnel_token_file_must_be_owner_only_and_never_shows() {
	local ns out
	tn_lab ns
	start_fake_bus systemd1
	tn_start "$ns"
	wait_event '.type == "tunnel_state" and .status == "healthy"'
	# the token is nowhere: log, events, status
	out=$(ctl status --json; ctl tunnels --json; ctl events --json)
	grep -qF "$TN_TOKEN" <<<"$out" && fail "token in status or events"
	grep -qF "$TN_TOKEN" "$TMP/daemon.log" && fail "token in the log"
	# group-readable: refused at check and at reload, the running config stays
	chmod 640 "$TMP/cf.token"
	out=$("$NWD" --check-config --config "$TMP/cfg.json" 2>&1) && fail "check-config accepted a 0640 token"
	grep -qF "tunnels.watch[0].token_file: $TMP/cf.token is readable by group or others (mode 0640): run chmod 600 $TMP/cf.token" <<<"$out" ||
		fail "unclear error: $out"
	grep -qF "$TN_TOKEN" <<<"$out" && fail "token in the error"
	kill -HUP "$DAEMON_PID"
	wait_until 5 sh -c "'$NWCTL' --socket '$SOCK' status --json | jq -e '.reload_failures == 1' >/dev/null" ||
		fail "reload not rejected"
	more_requests 2		# still polling with the running config
}

# The backup unit really becomes active in a real systemd, once, and stops
# on recovery (shared/labs/systemd: systemd-nspawn --boot).
test_tunnel_backup_unit_in_real_systemd() {
	local ns leader
	nspawn_available || skip "systemd-nspawn tier not available"
	tn_lab ns
	nspawn_boot leader
	NW_SYSTEM_BUS=$NSPAWN_BUS
	tn_start "$ns" ', "stop_on_recovery": true'
	wait_event '.type == "tunnel_state" and .status == "healthy"'
	expect_eq "$(nspawn_unit_state "$TN_UNIT")" inactive "unit before"
	tn_script '[{"status": "down"}]'
	wait_event '.type == "unit_started"'
	wait_until 10 sh -c "[ \"\$(nsenter -t $leader -m -u -i -n -p -- systemctl is-active $TN_UNIT)\" = active ]" ||
		fail "unit not active in the container"
	local inv
	inv=$(nspawn_exec systemctl show -p InvocationID --value "$TN_UNIT")
	more_requests 5
	expect_eq "$(nspawn_exec systemctl show -p InvocationID --value "$TN_UNIT")" "$inv" \
		"the unit was started once (same invocation)"
	tn_script '[{"status": "healthy"}]'
	wait_event '.type == "unit_stopped"'
	wait_until 10 sh -c "[ \"\$(nsenter -t $leader -m -u -i -n -p -- systemctl is-active $TN_UNIT)\" != active ]" ||
		fail "unit still active after recovery"
}

test_tunnel_dry_run_says_what_it_would_start_and_starts_nothing() {
	local ns
	tn_lab ns
	start_fake_bus systemd1
	tn_start "$ns" ', "stop_on_recovery": true' '' --dry-run
	tn_script '[{"status": "down"}]'
	wait_event '.type == "unit_started" and .dry_run == true and (.message | test("would start"))'
	more_requests 3
	expect_eq "$(count_events '.type == "unit_started"')" 1 "would-start events"
	tn_script '[{"status": "healthy"}]'
	wait_event '.type == "unit_stopped" and .dry_run == true'
	expect_eq "$(bus_calls StartUnit)$(bus_calls StopUnit)" 00 "bus calls in dry-run"
	[ -e "$TMP/state/tunnels.json" ] && fail "dry-run wrote $TMP/state/tunnels.json"
	return 0
}

# The backup units netwardd started are kept in <state_dir>/tunnels.json
# (start_daemon: --state-dir $TMP/state), so a netwardd that was killed
# (crash, watchdog, OOM) or restarted still stops them on recovery.
TN_STATE=tunnels.json
# tn_claims: "TUNNEL_ID UNIT" per unit the state file lists
tn_claims() { jq -r '.units[] | .tunnel_id + " " + .unit' "$TMP/state/$TN_STATE"; }

test_tunnel_backup_started_before_a_sigkill_is_stopped_on_recovery() {
	local ns
	tn_lab ns
	start_fake_bus systemd1
	tn_start "$ns" ', "stop_on_recovery": true'
	wait_event '.type == "tunnel_state" and .status == "healthy"'
	[ -e "$TMP/state/$TN_STATE" ] && fail "a state file before any unit was started"
	tn_script '[{"status": "down"}]'
	wait_event '.type == "unit_started" and .unit == "'$TN_UNIT'"'
	expect_eq "$(bus_calls StartUnit)" 1 "StartUnit calls"
	wait_until 5 sh -c "jq -e '.units | length == 1' '$TMP/state/$TN_STATE' >/dev/null 2>&1" ||
		fail "the started unit is not in $TMP/state/$TN_STATE"
	expect_eq "$(tn_claims)" "$TN_TUNNEL $TN_UNIT" "claim in the state file"
	expect_eq "$(stat -c %a "$TMP/state/$TN_STATE")" 600 "state file mode"

	kill -9 "$DAEMON_PID"
	wait "$DAEMON_PID" 2>/dev/null
	# a new netwardd, the tunnel still down: the unit is its own
	start_daemon "$ns" "$TMP/cfg.json"
	grep -qF "tunnels: web: $TN_UNIT was started by an earlier netwardd" "$TMP/daemon.log" ||
		fail "the restart does not say whose unit it is"
	expect_eq "$(tunnel_field started_by_netward)" true "started_by_netward after the restart"
	expect_eq "$(tunnel_field started_by_earlier_netwardd)" true "started_by_earlier_netwardd"
	tn_event 10 '.type == "tunnel_state" and .status == "down" and .down == true'
	more_requests 3		# still down, the unit active: never started again
	expect_eq "$(bus_calls StartUnit)" 1 "StartUnit calls after the restart"
	tn_script '[{"status": "healthy"}]'
	tn_event 10 '.type == "unit_stopped" and .unit == "'$TN_UNIT'" and .started_by_earlier_netwardd == true and (.message | test("earlier netwardd"))'
	expect_eq "$(bus_calls StopUnit)" 1 "StopUnit calls"
	grep -qF "tunnels: web is back: stopping $TN_UNIT (started by an earlier netwardd)" "$TMP/daemon.log" ||
		fail "the stop is not logged"
	wait_until 5 sh -c "jq -e '.units == []' '$TMP/state/$TN_STATE' >/dev/null" ||
		fail "the stopped unit is still in the state file: $(cat "$TMP/state/$TN_STATE")"
	expect_eq "$(tunnel_field started_by_netward)" false "started_by_netward after the stop"
}

# A clean stop forgets nothing: the tunnel recovers while no netwardd runs,
# and the next one stops the unit after rise healthy answers.
test_tunnel_backup_outlives_a_clean_stop_and_is_stopped_by_the_next_netwardd() {
	local ns
	tn_lab ns
	start_fake_bus systemd1
	tn_start "$ns" ', "stop_on_recovery": true'
	tn_script '[{"status": "down"}]'
	wait_event '.type == "unit_started"'
	wait_until 5 sh -c "jq -e '.units | length == 1' '$TMP/state/$TN_STATE' >/dev/null 2>&1" ||
		fail "no claim in the state file"
	stop_daemon || fail "netwardd did not stop cleanly"
	expect_eq "$(tn_claims)" "$TN_TUNNEL $TN_UNIT" "claim after a clean stop"
	expect_eq "$(bus_calls StopUnit)" 0 "StopUnit when netwardd stops"
	tn_script '[{"status": "healthy"}]'
	start_daemon "$ns" "$TMP/cfg.json"
	tn_event 10 '.type == "unit_stopped" and .unit == "'$TN_UNIT'" and .started_by_earlier_netwardd == true'
	expect_eq "$(bus_calls StopUnit)" 1 "StopUnit calls"
	expect_eq "$(bus_calls StartUnit)" 1 "StartUnit calls"
	# not before rise (2) healthy answers
	expect_eq "$(count_events '.type == "tunnel_state" and .status == "down"')" 0 "down answers"
	[ "$(tunnel_field good_in_a_row)" -ge 2 ] || fail "stopped before rise healthy answers"
	wait_until 5 sh -c "jq -e '.units == []' '$TMP/state/$TN_STATE' >/dev/null" ||
		fail "the stopped unit is still in the state file"
}

# A unit netwardd never started (the operator's) is not stopped on recovery,
# across a restart too; a state file it cannot read is ignored and said so.
test_tunnel_operator_backup_is_not_stopped_across_restarts() {
	local ns
	tn_lab ns
	start_fake_bus systemd1
	mkdir -p "$TMP/state"
	printf '{"version": 1, "units": [{"tunnel_id": 42}]}\n' >"$TMP/state/$TN_STATE"
	# the operator starts the backup
	dbus-send --bus="$NW_SYSTEM_BUS" --print-reply --dest=org.freedesktop.systemd1 \
		/org/freedesktop/systemd1 org.freedesktop.systemd1.Manager.StartUnit \
		string:"$TN_UNIT" string:replace >/dev/null || fail "dbus-send StartUnit"
	expect_eq "$(bus_calls StartUnit)" 1 "the operator's StartUnit"
	tn_start "$ns" ', "stop_on_recovery": true'
	grep -qF "tunnels: $TMP/state/$TN_STATE: units[0].tunnel_id: expected a string, got a number: ignored" \
		"$TMP/daemon.log" || fail "the bad state file is not named in the log"
	tn_script '[{"status": "down"}]'
	wait_event '.type == "tunnel_state" and .status == "down" and .down == true'
	more_requests 3
	expect_eq "$(bus_calls StartUnit)" 1 "StartUnit calls (the unit was active)"
	expect_eq "$(tunnel_field started_by_netward)" false "started_by_netward"
	kill -9 "$DAEMON_PID"
	wait "$DAEMON_PID" 2>/dev/null
	start_daemon "$ns" "$TMP/cfg.json"
	expect_eq "$(tunnel_field started_by_netward)" false "started_by_netward after the restart"
	tn_script '[{"status": "healthy"}]'
	tn_event 10 '.type == "tunnel_state" and .status == "healthy"'
	more_requests 4
	expect_eq "$(bus_calls StopUnit)" 0 "StopUnit of the operator's unit"
	expect_eq "$(count_events '.type == "unit_stopped"')" 0 "unit_stopped events"
}
