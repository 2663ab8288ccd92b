# shellcheck shell=bash
# Ring buffer drops (issue 9): when nobody reads the ring buffer (netwardd
# stopped) and events keep coming, the kernel counts what it could not
# queue in counters.events_lost; netwardd reports every increase as an
# events_lost event, so that no drop goes unreported.

# el_flood NS CGROUP PLAIN_CGROUP: thousands of audited wildcard binds, an
# event each (bind_bench moves only itself between the two cgroups)
el_flood() {
	nsenter --net="/run/netns/$1" "$BUILD/bind_bench" --guarded "$2" --plain "$3" \
		--wildcard --rounds 4 --iters 2000 >/dev/null || fail "bind_bench"
}

test_events_lost_while_netwardd_was_stopped_are_reported() {
	local ns cg plain lost
	new_netns ns
	new_cgroup cg
	new_cgroup plain
	write_config "$TMP/cfg.json" <<JSON
{ "binds": { "cgroup": "$cg", "default_action": "audit" } }
JSON
	start_daemon "$ns" "$TMP/cfg.json"
	expect_eq "$(counter events_lost)" 0 "lost before the flood"
	kill -STOP "$DAEMON_PID"
	defer "kill -CONT $DAEMON_PID"
	el_flood "$ns" "$cg" "$plain"
	lost=$(counter events_lost)	# from the pinned map: no daemon needed
	[ "$lost" -gt 0 ] || fail "8000 events into a 256 KiB ring buffer nobody reads: none lost"
	kill -CONT "$DAEMON_PID"
	wait_event ".type == \"events_lost\" and .lost == $lost and .total == $lost and .before_start == false"
	# what was queued before the buffer filled is delivered
	[ "$(count_events '.type == "bind_audit"')" -gt 100 ] || fail "the queued bind_audit events are missing"
	# a quiet counter raises nothing more
	expect_eq "$(count_events '.type == "events_lost"')" 1 "events_lost events"
	ctl status | grep -q "events lost $lost" || { ctl status >&2; fail "status does not show the loss"; }
}

test_events_lost_before_a_restart_are_reported_by_the_next_netwardd() {
	local ns cg plain lost
	new_netns ns
	new_cgroup cg
	new_cgroup plain
	write_config "$TMP/cfg.json" <<JSON
{ "bpf": { "keep_on_exit": true }, "binds": { "cgroup": "$cg", "default_action": "audit" } }
JSON
	start_daemon "$ns" "$TMP/cfg.json"
	kill -9 "$DAEMON_PID"
	wait "$DAEMON_PID" 2>/dev/null
	el_flood "$ns" "$cg" "$plain"	# the pinned programs run on
	lost=$(counter events_lost)
	[ "$lost" -gt 0 ] || fail "no event lost while no netwardd ran"
	start_daemon "$ns" "$TMP/cfg.json"
	wait_event ".type == \"events_lost\" and .lost == $lost and .before_start == true"
}
