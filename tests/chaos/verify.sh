# shellcheck shell=bash
# The chaos run's checks (sourced by tests/chaos/run.sh). Each check prints
# PASS or FAIL with its figures; all of them run, whatever failed before.
#
# Bounds (environment): CHAOS_CPU_MAX_PCT (25: netwardd's CPU time over an
# incarnation's wall time, on one CPU), CHAOS_RSS_MAX_KB (65536: its VmRSS;
# the Makefile raises both for an ASan build).

# chaos_settled SECONDS: the lab as the config wants it
chaos_settled() { wait_until "$1" chaos_state_ok; }
chaos_state_ok() {
	has_route "$H" default via 192.0.2.1 dev d0 &&
		has_route6 "$H" default via 2001:db8::1 dev d0 &&
		has_route "$H" 198.18.0.0/15 via 192.0.3.1 dev flap0 &&
		chaos_rule_at 10101 && chaos_rule_at 0 && chaos_rule_at 32766 && chaos_rule_at 32767
}
chaos_rule_at() { ip -n "$H" rule | grep -q "^$1:"; }
chaos_show() {
	{ ip -n "$H" route; ip -n "$H" -6 route; ip -n "$H" rule; ctl status; } >&2 2>/dev/null
}

CHECKS_PASSED=0
CHECKS_FAILED=0
CHECKS=()
# check NAME FUNCTION: runs FUNCTION (it prints its figures as "# ..."
# lines), counts and prints the verdict
check() {
	if "$2"; then
		CHECKS_PASSED=$((CHECKS_PASSED + 1))
		echo "PASS $1"
		CHECKS+=("{\"check\":\"$1\",\"ok\":true}")
	else
		CHECKS_FAILED=$((CHECKS_FAILED + 1))
		echo "FAIL $1"
		CHECKS+=("{\"check\":\"$1\",\"ok\":false}")
	fi
}
say_fig() { echo "#   $*"; }

EV=		# $TMP/chaos/events.jsonl
# evq FILTER: jq over every recorded event (slurped)
evq() { jq -s -r "$1" "$EV"; }
rel() { echo "${1#"$CG2"}"; }
# n_act ACTOR PATTERN: actions in ACTOR's log whose "action result" matches
n_act() { grep -cE "^[0-9]+ ($2)\$" "$TMP/chaos/$1.log"; }

v_daemon_alive() {
	kill -0 "$DAEMON_PID" 2>/dev/null && ctl status >/dev/null ||
		{ say_fig "netwardd (pid ${DAEMON_PID:-none}) is not running"; return 1; }
	if grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$TMP/daemon.log"; then
		grep -hE -A12 'Sanitizer|runtime error:' "$TMP/daemon.log" | head -40
		return 1
	fi
	say_fig "netwardd pid $DAEMON_PID answers; $(grep -c ' ready ' "$TMP/chaos/incarnations.log") incarnations"
}

v_protected_back() {
	local t0=$SECONDS
	if ! chaos_settled 15; then
		chaos_show
		return 1
	fi
	say_fig "default v4 and v6, 198.18.0.0/15, rule 10101 and the kernel's rules present ($((SECONDS - t0)) s after the chaos stopped)"
}

v_enforcement() {
	local bad out fam
	for fam in 4 6; do
		out=$(nsenter --net="/run/netns/$H" "$BINDTEST" --cgroup "$CG_BIND" --family $fam \
			--port "$CHAOS_DENY_PORT") && { say_fig "a new IPv$fam wildcard bind went through: $out"; return 1; }
	done
	bad=$(grep -cE ' deny[46] ok$' "$TMP/chaos/binder.log")
	[ "$bad" = 0 ] || { say_fig "$bad wildcard binds to port $CHAOS_DENY_PORT went through"; return 1; }
	bad=$(grep -E ' rewrite[46] ' "$TMP/chaos/binder.log" | grep -cvE ' ok:(127\.0\.0\.1|::1)$')
	[ "$bad" = 0 ] || { say_fig "$bad rewritten binds not on loopback"; return 1; }
	bad=$(grep -E ' own[46] ' "$TMP/chaos/binder.log" | grep -cv ' ok$')
	[ "$bad" = 0 ] || { say_fig "$bad binds to the host's own address refused"; return 1; }
	say_fig "$(n_act binder 'deny[46] EPERM') wildcard binds refused, $(n_act binder 'rewrite[46] ok:.*') rewritten to loopback, $(n_act binder 'own[46] ok') to the host's address allowed, none otherwise; through every restart"
}

v_untouched() {
	local bad=0 n
	n=$(evq '[.[] | select(.type == "route_restored" and .dst != "default" and .dst != "198.18.0.0/15")] | length')
	[ "$n" = 0 ] || { say_fig "$n route_restored events for routes no selector names"; bad=1; }
	n=$(evq '[.[] | select(.type == "rule_restored" and ([.priority] | inside([0, 10101, 32766, 32767]) | not))] | length')
	[ "$n" = 0 ] || { say_fig "$n rule_restored events for rules no selector names"; bad=1; }
	n=$(evq '[.[] | select(.type == "recovery_step" and ((.detail // "") | test("other0|wgkeep0")))] | length')
	[ "$n" = 0 ] || { say_fig "recovery steps name other0 or wgkeep0"; bad=1; }
	for n in other0 wgkeep0 eth0; do
		ip -n "$H" link show "$n" >/dev/null 2>&1 || { say_fig "$n is gone"; bad=1; }
	done
	n=$(grep -E '^[A-Z][A-Za-z]+Unit ' "$FAKE_BUS_LOG" | grep -cv "^[A-Za-z]* $CHAOS_UNIT ")
	[ "$n" = 0 ] || { say_fig "$n unit calls for other units"; bad=1; }
	n=$(ctl quarantine list --json | jq length)
	[ "$n" = 0 ] || { say_fig "$n cgroups in quarantine (auto_quarantine is off)"; bad=1; }
	if [ "$SEGW" = 1 ]; then
		n=$(swanctl --list-conns --uri "unix://$(sw_dir cl)/charon.vici" 2>/dev/null |
			awk -F: '/^[^ ]/ { print $1 }' | grep -cvx corp)
		[ "$n" = 0 ] || { say_fig "$n connections other than corp loaded into charon"; bad=1; }
	fi
	[ $bad = 0 ] && say_fig "restores only of named routes and rules, other0/wgkeep0 kept, only $CHAOS_UNIT started/stopped, no quarantine, only connection corp"
	return $bad
}

chaos_tunnel_up() { [ "$(ctl tunnels --json | jq -r '.tunnels[0].down')" = false ]; }
chaos_backup_stopped() {
	local last
	last=$(grep -E "^(StartUnit|StopUnit) $CHAOS_UNIT " "$FAKE_BUS_LOG" | tail -1)
	[ -z "$last" ] || [ "${last%% *}" = StopUnit ]
}
chaos_segw_up() { [ "$(seg_field .state)" = up ]; }
v_services() {
	local bad=0
	wait_until 10 chaos_tunnel_up || { say_fig "tunnel web still down"; bad=1; }
	wait_until 10 chaos_backup_stopped || { say_fig "the backup unit was left running"; bad=1; }
	if [ "$SEGW" = 1 ]; then
		wait_until 20 chaos_segw_up || { ctl segw >&2; say_fig "SEGW corp not up"; bad=1; }
	fi
	[ $bad = 0 ] && say_fig "tunnel healthy and the backup stopped ($(grep -c "^StartUnit $CHAOS_UNIT " "$FAKE_BUS_LOG") starts, $(grep -c "^StopUnit $CHAOS_UNIT " "$FAKE_BUS_LOG") stops); SEGW up: $( [ "$SEGW" = 1 ] && seg_field .gateway || echo 'not in this run')"
	return $bad
}

# per incarnation: "pid seconds cpu_pct max_rss_kb first_fds last_fds"
chaos_usage() {
	awk '{ pid = $2
	       if (!(pid in t0)) { t0[pid] = $1; c0[pid] = $3; f0[pid] = $5; order[n++] = pid }
	       t1[pid] = $1; c1[pid] = $3; f1[pid] = $5; if ($4 > rss[pid]) rss[pid] = $4 }
	     END { for (i = 0; i < n; i++) { p = order[i]; s = (t1[p] - t0[p]) / 1000
	           cpu = s > 0 ? (c1[p] - c0[p]) / s : 0	# ticks of 10 ms per s = %
	           printf "%s %.1f %.1f %d %d %d\n", p, s, cpu, rss[p], f0[p], f1[p] } }' \
		"$TMP/chaos/samples"
}
v_bounds() {
	local max_cpu=${CHAOS_CPU_MAX_PCT:-25} max_rss=${CHAOS_RSS_MAX_KB:-65536} bad=0 pid s cpu rss f0 f1
	USAGE=$(chaos_usage)
	while read -r pid s cpu rss f0 f1; do
		[ "${s%.*}" -ge 3 ] || continue	# too short to say
		awk -v c="$cpu" -v m="$max_cpu" 'BEGIN { exit !(c > m) }' &&
			{ say_fig "pid $pid: CPU $cpu % over $s s (bound $max_cpu %)"; bad=1; }
		[ "$rss" -le "$max_rss" ] || { say_fig "pid $pid: VmRSS $rss KB (bound $max_rss KB)"; bad=1; }
	done <<<"$USAGE"
	[ $bad = 0 ] && say_fig "CPU max $(awk '$2 >= 3 { if ($3 > m) m = $3 } END { print m + 0 }' <<<"$USAGE") % (bound $max_cpu %), VmRSS max $(awk '{ if ($4 > m) m = $4 } END { print m + 0 }' <<<"$USAGE") KB (bound $max_rss KB) over $(wc -l <<<"$USAGE") incarnations"
	return $bad
}

# the incarnations' monitored spans "ready_ms kill_ms" (the last one ends
# when the actors stopped)
chaos_spans() {
	awk -v stop="$T_STOP" '$2 == "ready" { r = $1 } $2 == "kill" && r { print r, $1; r = 0 }
	     END { if (r) print r, stop }' "$TMP/chaos/incarnations.log"
}
# n_in_spans ACTOR PATTERN: actions matching while a netwardd watched
# (100 ms clear of each start and end)
n_in_spans() {
	chaos_spans | awk -v pat="^($2)\$" 'FNR == NR { a[n] = $1 + 100; b[n++] = $2 - 100; next }
		{ act = $2 " " $3; if (act !~ pat) next
		  for (i = 0; i < n; i++) if ($1 >= a[i] && $1 <= b[i]) { c++; break } }
		END { print c + 0 }' - "$TMP/chaos/$1.log"
}
counter_delta() {
	echo $(($(ctl counters --json | jq -r ".$1") - $(jq -r ".$1" <<<"$COUNTERS_START")))
}
v_accounted() {
	local bad=0 k refused ev lost dup n want got c untyped
	# bind_denied: the kernel's count, the binder's, the events
	refused=$(n_act binder 'deny[46] EPERM')
	k=$(counter_delta bind_denied)
	lost=$(counter_delta events_lost)
	ev=$(evq "[.[] | select(.type == \"bind_denied\" and .cgroup == \"$(rel "$CG_BIND")\")] | length")
	# the check's own two binds (v_enforcement) are in k and maybe in ev
	[ "$k" = $((refused + 2)) ] || { say_fig "kernel counted $k denied binds, the binder saw $refused (+2)"; bad=1; }
	[ $((ev + lost)) -ge "$refused" ] ||
		{ say_fig "$refused binds refused, $ev bind_denied events recorded, $lost lost"; bad=1; }
	dup=$((ev + lost - k))
	[ "$dup" -le "$(grep -c ' kill ' "$TMP/chaos/incarnations.log")" ] ||
		{ say_fig "$dup more bind_denied events than denials"; bad=1; }
	if [ "$lost" -gt 0 ]; then
		n=$(evq '[.[] | select(.type == "events_lost")] | map(.lost) | add // 0')
		[ "$n" -ge "$lost" ] || { say_fig "$lost events lost in the kernel, $n reported"; bad=1; }
	fi
	say_fig "bind_denied: $refused refused, kernel $k (incl. 2 of the checks), $ev events, $lost lost"
	# deletions of the protected default routes while a netwardd watched:
	# each one a route_deleted naming the deleter's cgroup
	for c in 4 6; do
		want=$(n_in_spans deleter "del$c ok")
		got=$(evq "[.[] | select(.type == \"route_deleted\" and .dst == \"default\" and .family == $c and .actor.cgroup == \"$(rel "$CG_DEL")\")] | length")
		[ "$got" -ge "$want" ] || { say_fig "IPv$c: $want default route deletions watched, $got route_deleted naming the deleter"; bad=1; }
		say_fig "IPv$c default: $(n_act deleter "del$c ok") deleted ($want while watched), $got route_deleted naming the deleter"
	done
	# the churners' rules while watched: each add and delete evented, named
	for c in 1 2 3; do
		local cg=CG_R$c
		want=$(n_in_spans "churn$c" 'add ok|del ok')
		got=$(evq "[.[] | select((.type == \"rule_added\" or .type == \"rule_deleted\") and .actor.cgroup == \"$(rel "${!cg}")\")] | length")
		[ "$got" -ge "$want" ] || { say_fig "churner $c: $want rule changes watched, $got events naming it"; bad=1; }
		say_fig "churner $c: $(n_act "churn$c" 'add ok|del ok') rule changes ($want while watched), $got events naming it"
	done
	# every recorded line is an event of a known type
	untyped=$(jq -r 'select((.type | type) != "string") | 1' "$EV" 2>&1 | wc -l)
	[ "$untyped" = 0 ] || { say_fig "$untyped recorded lines are not events"; bad=1; }
	say_fig "$(wc -l <"$EV") events recorded: $(evq 'group_by(.type) | map("\(.[0].type) \(length)") | join(", ")')"
	return $bad
}

# chaos_report FILE: the run's figures as JSON
chaos_report() {
	local usage
	usage=$(jq -R -s -c 'split("\n") | map(select(length > 0) | split(" ")
		| {pid: .[0] | tonumber, seconds: .[1] | tonumber, cpu_pct: .[2] | tonumber,
		   max_rss_kb: .[3] | tonumber, fds_first: .[4] | tonumber, fds_last: .[5] | tonumber})' <<<"$USAGE")
	jq -n --argjson seconds "$DURATION" --arg seed "$SEED" --argjson restarts "$RESTARTS" \
		--argjson usage "$usage" --argjson checks "[$(IFS=,; echo "${CHECKS[*]}")]" \
		--argjson kills "$(grep -c ' kill ' "$TMP/chaos/incarnations.log")" \
		--argjson events "$(evq 'group_by(.type) | map({(.[0].type): length}) | add // {}')" \
		--argjson actions "$(cat "$TMP"/chaos/{deleter,churn1,churn2,churn3,flapper,vpn,binder}.log | wc -l)" \
		--argjson lost "$(counter_delta events_lost)" \
		--argjson samples "$(jq -R -s -c 'split("\n") | map(select(length > 0) | split(" ") | map(tonumber))' "$TMP/chaos/samples")" \
		'{seconds: $seconds, seed: $seed, restarts: $restarts, kills: $kills, actions: $actions,
		  events: $events, events_lost: $lost, incarnations: $usage, checks: $checks,
		  samples: $samples}' >"$1"
}

chaos_verify() {
	EV=$TMP/chaos/events.jsonl
	log "chaos over: $(($(now_ms) - T_START)) ms; verifying"
	check "netwardd runs, no sanitizer report" v_daemon_alive
	check "protected routes and rules are back" v_protected_back
	check "wildcard binds refused the whole time" v_enforcement
	check "nothing the config does not name was touched" v_untouched
	check "tunnel and SEGW recovered" v_services
	check "CPU and RSS within bounds" v_bounds
	check "every event accounted for" v_accounted
	[ -z "${CHAOS_REPORT:-}" ] || chaos_report "$CHAOS_REPORT"
	echo "$CHECKS_PASSED passed, $CHECKS_FAILED failed"
	[ "$CHECKS_FAILED" = 0 ]
}
