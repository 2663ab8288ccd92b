# shellcheck shell=bash
# The chaos run's background actors (sourced by tests/chaos/run.sh). Each
# one is a shell of the run's own that first moves itself into its cgroup
# (so its commands carry that cgroup to netwardd's attribution), then acts
# at random intervals until $TMP/chaos/stop exists, and writes one line per
# action to $TMP/chaos/<name>.log: "<ms since epoch> <action> <ok|fail>".
# Actors only run ip(8) and bindtest in the lab's host namespace H.

now_ms() { local t=${EPOCHREALTIME/./}; echo "${t:0:13}"; }

# act NAME CMD...: runs CMD, logs "<ms> NAME ok|fail" to the actor's log
act() {
	local name=$1 t
	shift
	t=$(now_ms)
	if "$@" >/dev/null 2>&1; then echo "$t $name ok"; else echo "$t $name fail"; fi >>"$ACTOR_LOG"
}

# pause MIN_MS MAX_MS: the actor's random pace (what it waits for is its
# own next move, nothing it could poll)
pause() {
	local ms=$(($1 + RANDOM % ($2 - $1 + 1)))
	sleep "$((ms / 1000)).$(printf '%03d' $((ms % 1000)))"
}

chaos_stopped() { [ -e "$TMP/chaos/stop" ]; }

# start_actor NAME CGROUP_DIR SEED FUNCTION: FUNCTION in the background
start_actor() {
	local name=$1 cg=$2 seed=$3 fn=$4
	(
		trap - EXIT
		echo "$BASHPID" >"$cg/cgroup.procs" || exit 99
		RANDOM=$seed
		ACTOR_LOG=$TMP/chaos/$name.log
		: >"$ACTOR_LOG"
		while ! chaos_stopped; do "$fn"; done
	) &
	ACTOR_PIDS+=($!)
}

# deletes the protected default routes (v4 or v6) and the protected rule
# 10101, and churns 10.99.0.0/16 and rule 20202, which nothing protects
actor_deleter() {
	case $((RANDOM % 8)) in
	0 | 1 | 2) act del4 ip -n "$H" route del default ;;
	3 | 4) act del6 ip -n "$H" -6 route del default ;;
	5) act delrule ip -n "$H" rule del priority 10101 ;;
	6) act delfree ip -n "$H" route del 10.99.0.0/16
	   pause 50 200
	   act addfree ip -n "$H" route add 10.99.0.0/16 via 192.0.2.1 dev d0 ;;
	7) act delfreerule ip -n "$H" rule del priority 20202
	   pause 50 200
	   act addfreerule ip -n "$H" rule add priority 20202 table 202 uidrange 2202-2202 ;;
	esac
	pause 100 600
}

# adds and deletes rules of its own (30000 + N), in bursts: storms
actor_churner() {
	local prio=$((30000 + RANDOM % 100)) i n=$((1 + RANDOM % 20))
	for ((i = 0; i < n; i++)); do
		act add ip -n "$H" rule add priority "$prio" table "$((300 + RANDOM % 50))"
		act del ip -n "$H" rule del priority "$prio"
	done
	pause 100 1500
}

# takes flap0 (often) or d0 (seldom: the host is offline meanwhile) down
# and up again
actor_flapper() {
	local dev=flap0
	[ $((RANDOM % 5)) = 0 ] && dev=d0
	act "down-$dev" ip -n "$H" link set "$dev" down
	pause 100 1200
	act "up-$dev" ip -n "$H" link set "$dev" up
	pause 1000 4000
}

# a VPN worker: brings back wg-worker-1/2 when recovery removed them
actor_vpn() {
	local w
	for w in wg-worker-1 wg-worker-2; do
		ip -n "$H" link show "$w" >/dev/null 2>&1 && continue
		act "add-$w" ip -n "$H" tuntap add mode tun name "$w"
		ip -n "$H" link set "$w" up 2>/dev/null
	done
	pause 500 2000
}

# wildcard binds in the bind guard's cgroup: port 18443 must always be
# refused, 18444 rewritten to loopback, any other audited and allowed; a
# bind to the host's own address is never touched
actor_binder() {
	local out fam=4 addr=192.0.2.10
	[ $((RANDOM % 3)) = 0 ] && { fam=6; addr=2001:db8::10; }
	case $((RANDOM % 4)) in
	0 | 1) out=$(nsenter --net="/run/netns/$H" "$BINDTEST" --family $fam --port "$CHAOS_DENY_PORT")
	       echo "$(now_ms) deny$fam $(jq -r .bind <<<"$out" 2>/dev/null)" >>"$ACTOR_LOG" ;;
	2) out=$(nsenter --net="/run/netns/$H" "$BINDTEST" --family $fam --port "$CHAOS_REWRITE_PORT")
	   echo "$(now_ms) rewrite$fam $(jq -r '"\(.bind):\(.addr)"' <<<"$out" 2>/dev/null)" >>"$ACTOR_LOG" ;;
	3) out=$(nsenter --net="/run/netns/$H" "$BINDTEST" --family $fam --addr $addr --port "$CHAOS_DENY_PORT")
	   echo "$(now_ms) own$fam $(jq -r .bind <<<"$out" 2>/dev/null)" >>"$ACTOR_LOG" ;;
	esac
	pause 20 200
}

# stop_actors: asks them to stop and waits (each finishes its move)
stop_actors() {
	local p
	touch "$TMP/chaos/stop"
	for p in "${ACTOR_PIDS[@]}"; do
		wait_until 10 not_running "$p" || kill -9 "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	ACTOR_PIDS=()
}
not_running() { ! kill -0 "$1" 2>/dev/null; }
