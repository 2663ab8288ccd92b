# shellcheck shell=bash
# SEGW failover (issue 7) against real strongSwan charon processes in
# namespaces made here (tests/integration/strongswan.sh): a client and three
# gateways on a bridge. netwardd runs in the client's namespace and talks
# to the client's charon over VICI.

# sg_start [CONNECTIONS_JSON] [SEGW_FIELDS]: netwardd with one connection
# "corp" over gw1, gw2, gw3 unless CONNECTIONS_JSON is given
sg_conn() {	# NAME ADDRS [MAX_RETRIES]: its own identity, client-NAME.lab
	cat <<JSON
{ "name": "$1", "remote_addrs": "$2", "max_retries": ${3:-5}, "psk_file": "$TMP/psk",
  "conn": { "version": 2, "local_addrs": "10.66.0.10", "proposals": "aes128-sha256-modp2048",
            "dpd_delay": "1s", "keyingtries": 1,
            "local": { "auth": "psk", "id": "client-$1.lab" },
            "remote": { "auth": "psk", "id": "%any" } } }
JSON
}
sg_start() {	# [CONNECTIONS_JSON] [SEGW_FIELDS] [NETWARDD_ARGS...]
	local conns=${1:-$(sg_conn corp "10.66.0.1, 10.66.0.2,10.66.0.3")} extra=${2:-} cg
	shift 2 2>/dev/null || shift $#
	new_cgroup cg
	install -m 600 /dev/null "$TMP/psk"
	printf '%s\n' "$SW_PSK" >"$TMP/psk"
	write_config "$TMP/cfg.json" <<JSON
{ "binds": { "cgroup": "$cg" },
  "segw": { "vici_socket": "unix://$(sw_dir cl)/charon.vici",
            "initiate_timeout_ms": ${SG_INITIATE_MS:-3000} $extra,
            "connections": [ $conns ] } }
JSON
	start_daemon "$SW_NS_cl" "$TMP/cfg.json" "$@"
}
# sg_lab: charons in the client and the three gateways
sg_lab() {
	sw_available || skip "strongSwan (charon, swanctl) is not installed"
	sw_lab
	sw_start cl "$SW_NS_cl"
	sw_start gw1 "$SW_NS_gw1"
	sw_start gw2 "$SW_NS_gw2"
	sw_start gw3 "$SW_NS_gw3"
}
seg_field() { ctl segw --json | jq -r ".connections[] | select(.name == \"${2:-corp}\") | $1"; }
sa_at() { [ "$(sw_sa_remote "${2:-corp}")" = "$1" ]; }

test_segw_gateway_stopped_moves_to_the_next() {
	sg_lab
	sg_start
	wait_event '.type == "segw_up" and .connection == "corp" and .gateway == "10.66.0.1"'
	sa_at 10.66.0.1 || fail "charon has no SA to gw1: $(sw_sa_remote)"
	sw_stop gw1		# SIGTERM: gw1 deletes the SA
	wait_event '.type == "segw_down" and .connection == "corp" and .gateway == "10.66.0.1"'
	wait_event '.type == "segw_failover" and .from == "10.66.0.1" and .to == "10.66.0.2" and .attempt == 1'
	wait_event '.type == "segw_up" and .gateway == "10.66.0.2" and .failover_ms >= 0'
	wait_until 5 sa_at 10.66.0.2 || fail "charon's SA is not at gw2: $(sw_sa_remote)"
	expect_eq "$(seg_field .attempts)" 0 "attempts reset once up"
	ctl segw >/dev/null || fail "netwardctl segw exits non-zero with the connection up"
}

test_segw_two_dead_gateways_reach_the_third() {
	sg_lab
	sw_stop gw2 KILL	# gone without a word: found out by retransmits
	sg_start
	wait_event '.type == "segw_up" and .gateway == "10.66.0.1"'
	sw_stop gw1
	wait_event '.type == "segw_failover" and .to == "10.66.0.2" and .attempt == 1'
	wait_until 10 events_match '.type == "segw_failover" and .from == "10.66.0.2" and .to == "10.66.0.3" and .attempt == 2' ||
		fail "no failover from the dead gw2"
	wait_until 10 events_match '.type == "segw_up" and .gateway == "10.66.0.3"' || fail "not up at gw3"
	sa_at 10.66.0.3 || fail "charon's SA is not at gw3"
}

test_segw_all_dead_stops_after_max_retries_with_the_seed_message() {
	sg_lab
	sw_stop gw1 KILL
	sw_stop gw2 KILL
	sw_stop gw3 KILL
	SG_INITIATE_MS=1000 sg_start "$(sg_conn corp "10.66.0.1,10.66.0.2, 10.66.0.3" 3)"
	wait_until 15 events_match '.type == "segw_retry_exhausted" and .connection == "corp" and .attempts == 3 and .message == "Max retry count exceeded for connection '"'corp'"'"' ||
		fail "no segw_retry_exhausted after 3 attempts"
	expect_eq "$(count_events '.type == "segw_failover"')" 2 "failovers before giving up"
	expect_eq "$(seg_field .state)" exhausted "state"
	grep -q "Max retry count exceeded for connection 'corp'" "$TMP/daemon.log" || fail "message not logged"
	ctl segw >/dev/null && fail "netwardctl segw exits 0 with the connection exhausted"
	# a gateway comes back and the user asks: the count starts over
	sw_start gw2 "$SW_NS_gw2"
	ctl segw failover corp >/dev/null
	wait_until 15 events_match '.type == "segw_up" and .gateway == "10.66.0.2"' || fail "not up after the manual failover"
	expect_eq "$(seg_field .attempts)" 0 "attempts after success"
}

test_segw_counter_resets_when_a_gateway_comes_back() {
	sg_lab
	sw_stop gw2 KILL
	sw_stop gw3 KILL
	SG_INITIATE_MS=1000 sg_start
	wait_event '.type == "segw_up" and .gateway == "10.66.0.1"'
	sw_stop gw1
	wait_until 10 events_match '.type == "segw_failover" and .attempt == 2' || fail "no second failover"
	sw_start gw1 "$SW_NS_gw1"	# back before the count runs out
	wait_until 15 events_match '.type == "segw_up" and .gateway == "10.66.0.1" and .failover_ms > 0' ||
		fail "not back at gw1"
	expect_eq "$(seg_field .attempts)" 0 "attempts reset"
	expect_eq "$(count_events '.type == "segw_retry_exhausted"')" 0 "exhausted"
}

test_segw_three_connections_fail_over_with_separate_counters() {
	local conns
	sg_lab
	conns="$(sg_conn a "10.66.0.1,10.66.0.2"), $(sg_conn b "10.66.0.1,10.66.0.3"), $(sg_conn c "10.66.0.2,10.66.0.3")"
	sg_start "$conns"
	for n in a b c; do
		wait_until 10 events_match ".type == \"segw_up\" and .connection == \"$n\"" || fail "$n not up"
	done
	sw_stop gw1		# a and b lose their SA at once; c is on gw2
	wait_until 10 events_match '.type == "segw_up" and .connection == "a" and .gateway == "10.66.0.2"' ||
		{ ctl events --json | grep segw >&2; ctl segw >&2; fail "a not moved to gw2"; }
	wait_until 10 events_match '.type == "segw_up" and .connection == "b" and .gateway == "10.66.0.3"' ||
		fail "b not moved to gw3"
	expect_eq "$(seg_field .failovers a),$(seg_field .failovers b),$(seg_field .failovers c)" "1,1,0" \
		"failovers per connection"
	expect_eq "$(count_events '.type == "segw_down" and .connection == "c"')" 0 "c untouched"
}

test_segw_reconnects_after_charon_restarts() {
	sg_lab
	sg_start
	wait_event '.type == "segw_up" and .gateway == "10.66.0.1"'
	sw_stop cl
	wait_until 5 sh -c "'$NWCTL' --socket '$SOCK' segw --json | jq -e '.connected == false' >/dev/null" ||
		fail "lost charon not noticed"
	sw_start cl "$SW_NS_cl"
	wait_until 15 sh -c "[ \$('$NWCTL' --socket '$SOCK' events --json --type segw_up | wc -l) -ge 2 ]" ||
		fail "not up again after charon restarted"
	# a stopping charon reports its SAs down before it closes the socket,
	# so netward may have moved on a gateway meanwhile: up again is what counts
	wait_until 5 sh -c "[ -n \"\$(swanctl --list-sas --ike corp --uri unix://$(sw_dir cl)/charon.vici 2>/dev/null | grep ESTABLISHED)\" ]" ||
		fail "no SA after the restart"
	expect_eq "$(seg_field .attempts)" 0 "a charon restart is no failure"
}

test_segw_manual_failover_and_listing() {
	local out
	sg_lab
	sg_start
	wait_event '.type == "segw_up" and .gateway == "10.66.0.1"'
	out=$(ctl segw) || fail "segw list: $out"
	grep -q "corp .*up .*10.66.0.1" <<<"$out" || fail "listing: $out"
	ctl segw failover corp >/dev/null || fail "failover refused"
	wait_event '.type == "segw_failover" and .manual == true and .to == "10.66.0.2"'
	wait_until 10 events_match '.type == "segw_up" and .gateway == "10.66.0.2"' || fail "not at gw2"
	out=$(ctl segw failover nosuch 2>&1) && fail "unknown connection accepted"
	grep -q 'no SEGW connection "nosuch"' <<<"$out" || fail "unclear error: $out"
}

test_segw_dry_run_watches_and_loads_nothing() {
	local d
	sg_lab
	d=$(sw_dir cl)
	# the connection is brought up by someone else (swanctl); netward watches
	sg_start "" "" --dry-run
	wait_until 5 sh -c "'$NWCTL' --socket '$SOCK' segw --json | jq -e '.connected' >/dev/null" ||
		fail "not connected to charon"
	[ -z "$(swanctl --list-conns --uri "unix://$d/charon.vici" 2>/dev/null | grep corp)" ] ||
		{ swanctl --list-conns --uri "unix://$d/charon.vici" >&2; fail "dry-run loaded the connection"; }
	expect_eq "$(count_events '.type == "segw_up" or .type == "segw_failover"')" 0 "actions in dry-run"
	ctl segw failover corp >/dev/null || fail "failover request"
	wait_event '.type == "segw_failover" and .dry_run == true and .manual == true'
	[ -z "$(swanctl --list-sas --uri "unix://$d/charon.vici" 2>/dev/null | grep ESTABLISHED)" ] ||
		fail "dry-run initiated an SA"
}

# sg_sa_uid [NAME]: the unique id (swanctl's "#N") of the client's
# ESTABLISHED IKE SA NAME (default corp), "" when none
sg_sa_uid() {
	swanctl --list-sas --ike "${1:-corp}" --uri "unix://$(sw_dir cl)/charon.vici" 2>/dev/null |
		awk '$3 == "ESTABLISHED," { id = $2; gsub(/[#,]/, "", id); print id; exit }'
}
# sg_sa_ids [NAME]: the unique ids of every IKE SA NAME (default corp) of
# the client's charon, in any state (one that is being made too)
sg_sa_ids() {
	swanctl --list-sas --ike "${1:-corp}" --uri "unix://$(sw_dir cl)/charon.vici" 2>/dev/null |
		awk '$1 == "'"${1:-corp}"':" { id = $2; gsub(/[#,]/, "", id); printf "%s%s", sep, id; sep = " " }'
}
# sg_operator_up GATEWAY_NUMBER: the operator brings "corp" up at that
# gateway with swanctl, before netwardd runs (the same definition as sg_conn)
sg_operator_up() {
	local d
	d=$(sw_dir cl)
	sw_swanctl_conf "$TMP/cl-swanctl.conf" corp 10.66.0.10 client-corp.lab "10.66.0.$1"
	swanctl --load-all --noprompt --file "$TMP/cl-swanctl.conf" --uri "unix://$d/charon.vici" \
		>>"$d/stdout.log" 2>&1 || fail "swanctl --load-all on the client"
	swanctl --initiate --ike corp --timeout 10 --uri "unix://$d/charon.vici" >>"$d/stdout.log" 2>&1 ||
		fail "swanctl --initiate corp"
	wait_until 5 sa_at "10.66.0.$1" || fail "the operator's SA is not at gw$1: $(sw_sa_remote)"
}

test_segw_restarted_netwardd_adopts_the_sa_and_fails_over_later() {
	local uid
	sg_lab
	sg_start
	wait_event '.type == "segw_up" and .connection == "corp" and .gateway == "10.66.0.1"'
	uid=$(sg_sa_uid)
	[ -n "$uid" ] || fail "no IKE SA at gw1"
	kill -KILL "$DAEMON_PID"
	wait "$DAEMON_PID" 2>/dev/null
	sg_start
	wait_event '.type == "segw_up" and .connection == "corp" and .adopted == true and .gateway == "10.66.0.1" and .uniqueid == "'"$uid"'" and .failover_ms == null'
	events_match '.type == "segw_up" and (.message | test("already up at 10.66.0.1 when netwardd connected to charon"))' ||
		fail "adoption message: $(ctl events --json --type segw_up)"
	expect_eq "$(seg_field .state),$(seg_field .gateway),$(seg_field .attempts)" "up,10.66.0.1,0" "state after adoption"
	sleep 1.5	# an initiate would have made a new IKE SA (a new unique id) by now
	expect_eq "$(sg_sa_ids)" "$uid" "the client's IKE SAs after the restart"
	expect_eq "$(count_events '.type == "segw_up"')" 1 "segw_up events of the new netwardd"
	# the adopted connection fails over as one netwardd brought up
	sw_stop gw1
	wait_event '.type == "segw_down" and .connection == "corp" and .gateway == "10.66.0.1"'
	wait_event '.type == "segw_failover" and .from == "10.66.0.1" and .to == "10.66.0.2" and .attempt == 1'
	wait_until 10 events_match '.type == "segw_up" and .gateway == "10.66.0.2" and .failover_ms >= 0 and .adopted == null' ||
		fail "not up at gw2 after the adopted SA was lost"
	wait_until 5 sa_at 10.66.0.2 || fail "charon's SA is not at gw2: $(sw_sa_remote)"
	expect_eq "$(seg_field .attempts)" 0 "attempts after the failover"
}

test_segw_sa_brought_up_by_the_operator_is_adopted_at_its_gateway() {
	local uid
	sg_lab
	sg_operator_up 2
	uid=$(sg_sa_uid)
	sg_start
	wait_event '.type == "segw_up" and .adopted == true and .gateway == "10.66.0.2" and .uniqueid == "'"$uid"'"'
	expect_eq "$(seg_field .state),$(seg_field .gateway),$(seg_field .attempts)" "up,10.66.0.2,0" "state after adoption"
	sleep 1.5
	expect_eq "$(sg_sa_ids)" "$uid" "the client's IKE SAs"
	# its next gateway is the one after gw2
	sw_stop gw2
	wait_event '.type == "segw_failover" and .from == "10.66.0.2" and .to == "10.66.0.3"'
	wait_until 10 events_match '.type == "segw_up" and .gateway == "10.66.0.3"' || fail "not up at gw3"
	wait_until 5 sa_at 10.66.0.3 || fail "charon's SA is not at gw3: $(sw_sa_remote)"
}

test_segw_sa_up_at_a_gateway_not_configured_is_initiated_again() {
	sg_lab
	sg_operator_up 3
	sg_start "$(sg_conn corp "10.66.0.1,10.66.0.2")"
	wait_event '.type == "segw_up" and .gateway == "10.66.0.1" and .adopted == null'
	expect_eq "$(count_events '.adopted == true')" 0 "adopted"
}

test_segw_dry_run_reports_an_sa_already_up() {
	local d uid
	sg_lab
	d=$(sw_dir cl)
	sg_operator_up 2
	uid=$(sg_sa_uid)
	sg_start "" "" --dry-run
	wait_event '.type == "segw_up" and .adopted == true and .dry_run == true and .gateway == "10.66.0.2"'
	expect_eq "$(seg_field .state),$(seg_field .gateway)" "up,10.66.0.2" "dry-run state"
	expect_eq "$(sg_sa_ids)" "$uid" "the client's IKE SAs"
	swanctl --list-conns --uri "unix://$d/charon.vici" 2>/dev/null | grep -q "10.66.0.2" ||
		fail "dry-run replaced the operator's definition"
}
