# shellcheck shell=bash
# Rule churn (shared/seeds/002): who changes rules and routes, how much, and
# when it is a storm.

# worker NS CGROUP K ROUNDS: the seed's per-worker pattern, as worker K in
# its own cgroup: uid-based rule and a route in its own table, added and
# removed ROUNDS times (2 rule ops + 2 route ops per round).
worker() {
	local ns=$1 cg=$2 k=$3 rounds=$4
	nsenter --net="/run/netns/$ns" sh -c '
		echo $$ > "$1/cgroup.procs" || exit 2
		k=$2; t=$((100 + k)); u=$((1000 + k))
		for i in $(seq 1 "$3"); do
			ip rule add uidrange $u-$u table $t prio $t || exit 3
			ip route add default via 192.0.2.1 dev d0 table $t || exit 4
			ip route del default table $t || exit 5
			ip rule del uidrange $u-$u table $t prio $t || exit 6
		done' worker "$cg" "$k" "$rounds"
}

test_churn_storm_from_eight_workers_counted_per_actor() {
	local ns parent k pids=() cgs=() rounds=5
	new_lab ns; new_cgroup parent
	for k in 0 1 2 3 4 5 6 7; do
		local c
		new_cgroup c "$parent"
		cgs+=("$c")
	done
	write_config "$TMP/cfg.json" <<JSON
{ "binds": { "cgroup": "$parent" }, "rules": { "storm_threshold": 20, "window_ms": 1000 } }
JSON
	start_daemon "$ns" "$TMP/cfg.json"
	for k in 0 1 2 3 4 5 6 7; do
		worker "$ns" "${cgs[$k]}" "$k" $rounds &
		pids+=($!)
	done
	for k in 0 1 2 3 4 5 6 7; do
		wait "${pids[$k]}" || fail "worker $k failed ($?)"
	done
	# every worker's count, per kind, is exactly what it did
	for k in 0 1 2 3 4 5 6 7; do
		ctl churn --json | jq -e --arg cg "${cgs[$k]#"$CG2"}" --argjson n $((2 * rounds)) \
			'any(.[]; .cgroup == $cg and .rule == $n and .route == $n and .link == 0 and .addr == 0)' >/dev/null ||
			fail "worker $k: $(ctl churn --json | jq -c --arg cg "${cgs[$k]#"$CG2"}" '.[] | select(.cgroup == $cg)')"
	done
	# the burst is a storm, named by its top actors (workers, comm "ip")
	wait_event '.type == "rule_storm" and .count >= 20 and .threshold == 20 and (.actors | length) >= 1 and all(.actors[]; .comm == "ip")'
	local cgpaths
	cgpaths=$(printf '%s\n' "${cgs[@]#"$CG2"}" | jq -R . | jq -s .)
	ctl events --json --type rule_storm | jq -e --argjson cgs "$cgpaths" \
		'all(.actors[]; .cgroup as $c | $cgs | index($c))' >/dev/null ||
		fail "storm actors are not the workers: $(ctl events --json --type rule_storm)"
	expect_eq "$(ctl counters --json | jq .events_lost)" 0 "events lost"
	# rule_added / rule_deleted name the actor too
	wait_event '.type == "rule_added" and .actor.comm == "ip"'
}

test_churn_no_storm_below_threshold() {
	local ns cg
	new_lab ns; new_cgroup cg
	write_config "$TMP/cfg.json" <<JSON
{ "binds": { "cgroup": "$cg" }, "rules": { "storm_threshold": 50, "window_ms": 1000 } }
JSON
	start_daemon "$ns" "$TMP/cfg.json"
	worker "$ns" "$cg" 1 3 || fail "worker"
	# a read (iproute2 sends a no-op RTM_NEWLINK probe first) is no link write
	nsenter --net="/run/netns/$ns" sh -c 'echo $$ > "$1/cgroup.procs"; exec ip link show' sh "$cg" >/dev/null ||
		fail "ip link show"
	ctl churn --json | jq -e --arg cg "${cg#"$CG2"}" 'any(.[]; .cgroup == $cg and .link == 0 and .rule == 6)' >/dev/null ||
		fail "churn counts: $(ctl churn --json)"
	ctl status --json | jq -e '.churn.in_window >= 12 and .churn.storms == 0' >/dev/null ||
		fail "churn status: $(ctl status --json | jq -c .churn)"
	expect_eq "$(count_events '.type == "rule_storm"')" 0 "storms below the threshold"
}

test_churn_auto_quarantine_stops_the_storming_cgroup() {
	local ns parent churner other rc
	new_lab ns; new_cgroup parent; new_cgroup churner "$parent"; new_cgroup other "$parent"
	write_config "$TMP/cfg.json" <<JSON
{ "binds": { "cgroup": "$parent" },
  "rules": { "storm_threshold": 20, "window_ms": 2000, "auto_quarantine": true } }
JSON
	start_daemon "$ns" "$TMP/cfg.json"
	# the churner keeps going until it is stopped: the storm gets it quarantined
	set +e
	worker "$ns" "$churner" 3 50
	rc=$?
	set -e
	# the worker script stops at the first ip that fails: killed (137 -> exit 3..6)
	[ "$rc" -ge 3 ] && [ "$rc" -le 6 ] || fail "the churner was not stopped (exit $rc)"
	wait_event ".type == \"quarantined\" and .action == \"auto_quarantined\" and .cgroup == \"${churner#"$CG2"}\""
	ctl quarantine list --json | jq -e --arg cg "${churner#"$CG2"}" 'any(.[]; .cgroup == $cg and .auto == true and .active == true)' >/dev/null ||
		fail "not in the quarantine list: $(ctl quarantine list --json)"
	# what it was doing when it was killed is undone: no rule of its table left
	wait_until 5 sh -c "! ip -n '$ns' rule show | grep -q 'lookup 103'" || fail "the churner's rule was left: $(ip -n "$ns" rule show)"
	# another cgroup is untouched
	worker "$ns" "$other" 4 1 || fail "the other cgroup's writes failed"
}
