# shellcheck shell=bash
# The chaos run's scheduler (sourced by tests/chaos/run.sh): what happens at
# random times from the run's own shell, because it starts and stops
# processes that the run must clean up: netwardd (killed and restarted),
# SEGW gateways (stopped and started), the tunnel stand-in's answer (down,
# healthy). Also samples netwardd's CPU, RSS and descriptors once a second.
#
# Files in $TMP/chaos:
#   incarnations.log   "<ms> start|ready|kill|exit <pid> [SIGNAL]" per incarnation
#   samples      "<ms> <pid> <utime+stime ticks> <VmRSS KB> <fds>"
#   events.jsonl every event of every incarnation (netwardctl events
#                --follow --json from each start: history first, then live)
#   gateways.log, tunnel.log   "<ms> <what>"

# daemon_up: netwardd started (lib.sh start_daemon) and its events recorded
daemon_up() {
	echo "$(now_ms) start" >>"$TMP/chaos/incarnations.log"
	start_daemon "$H" "$TMP/cfg.json"
	echo "$(now_ms) ready $DAEMON_PID" >>"$TMP/chaos/incarnations.log"
	"$NWCTL" --socket "$SOCK" events --follow --json >>"$TMP/chaos/events.jsonl" 2>/dev/null &
	RECORDER_PID=$!
	defer "kill $RECORDER_PID"
	# the recorder has the history: nothing of this incarnation is missed
	wait_until 10 recorder_attached || fail "netwardctl events --follow did not attach"
}
recorder_attached() {
	[ "$(ctl status --json 2>/dev/null | jq -r '.events.followers')" -ge 1 ] 2>/dev/null
}

# daemon_kill SIGNAL: the incarnation ends (KILL: a crash; TERM: a clean
# stop, which keeps enforcement pinned under bpf.keep_on_exit)
daemon_kill() {
	sample_daemon
	echo "$(now_ms) kill $DAEMON_PID $1" >>"$TMP/chaos/incarnations.log"
	kill "-$1" "$DAEMON_PID" 2>/dev/null
	wait "$DAEMON_PID" 2>/dev/null
	echo "$(now_ms) exit $DAEMON_PID $?" >>"$TMP/chaos/incarnations.log"
	wait "$RECORDER_PID" 2>/dev/null
	DAEMON_PID=
}

# sample_daemon: one line of samples for the running netwardd
sample_daemon() {
	local stat rss fds
	[ -n "${DAEMON_PID:-}" ] || return 0
	stat=$(cat "/proc/$DAEMON_PID/stat" 2>/dev/null) || return 0
	stat=${stat##*) }
	rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$DAEMON_PID/status" 2>/dev/null)
	fds=$(find "/proc/$DAEMON_PID/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)
	# after ") ": state is field 1, utime 12, stime 13
	set -- $stat
	echo "$(now_ms) $DAEMON_PID $((${12} + ${13})) ${rss:-0} $fds" >>"$TMP/chaos/samples"
}

# in_ms MIN MAX: a time MIN..MAX ms from now
in_ms() { echo $(($(now_ms) + $1 + (RANDOM * 32768 + RANDOM) % ($2 - $1 + 1))); }

schedule_init() {
	NEXT_SAMPLE=0
	NEXT_KILL=$(in_ms 6000 12000)
	NEXT_GW=$(in_ms 3000 8000)
	NEXT_FLIP=$(in_ms 1000 4000)
	TUNNEL_STATE=healthy
	declare -gA GW_BACK=()
}

schedule_tick() {
	local now gw alive=() sig
	now=$(now_ms)
	if [ "$now" -ge "$NEXT_SAMPLE" ]; then
		sample_daemon
		NEXT_SAMPLE=$((now + 1000))
	fi
	if [ "$RESTARTS" = 1 ] && [ "$now" -ge "$NEXT_KILL" ]; then
		sig=KILL
		[ $((RANDOM % 2)) = 0 ] && sig=TERM
		daemon_kill $sig
		pause 0 1000	# nothing guards meanwhile but the pinned programs
		daemon_up
		NEXT_KILL=$(in_ms 6000 12000)
	fi
	if [ "$now" -ge "$NEXT_FLIP" ]; then
		if [ "$TUNNEL_STATE" = healthy ]; then TUNNEL_STATE=down; else TUNNEL_STATE=healthy; fi
		tn_script "[{\"status\": \"$TUNNEL_STATE\"}]"
		echo "$now $TUNNEL_STATE" >>"$TMP/chaos/tunnel.log"
		NEXT_FLIP=$(in_ms 1000 5000)
	fi
	[ "$SEGW" = 1 ] || return 0
	for gw in gw1 gw2 gw3; do
		if [ -n "${GW_BACK[$gw]:-}" ]; then
			if [ "$now" -ge "${GW_BACK[$gw]}" ]; then
				sw_start "$gw" "$(gw_ns "$gw")"
				echo "$now start $gw" >>"$TMP/chaos/gateways.log"
				unset "GW_BACK[$gw]"
			fi
		else
			alive+=("$gw")
		fi
	done
	if [ "$now" -ge "$NEXT_GW" ] && [ ${#alive[@]} -ge 2 ]; then
		gw=${alive[RANDOM % ${#alive[@]}]}
		sig=TERM
		[ $((RANDOM % 3)) = 0 ] && sig=KILL
		sw_stop "$gw" $sig
		echo "$now stop $gw $sig" >>"$TMP/chaos/gateways.log"
		GW_BACK[$gw]=$(in_ms 2000 6000)
		NEXT_GW=$(in_ms 3000 8000)
	fi
}
gw_ns() { local v=SW_NS_$1; echo "${!v}"; }

# schedule_quiesce: the chaos is over: gateways back, tunnel healthy,
# links up, a netwardd running (restarted if the run ended without one)
schedule_quiesce() {
	local gw
	if [ "$SEGW" = 1 ]; then
		for gw in "${!GW_BACK[@]}"; do
			sw_start "$gw" "$(gw_ns "$gw")"
			echo "$(now_ms) start $gw" >>"$TMP/chaos/gateways.log"
		done
		GW_BACK=()
	fi
	tn_script '[{"status": "healthy"}]'
	echo "$(now_ms) healthy" >>"$TMP/chaos/tunnel.log"
	ip -n "$H" link set d0 up
	ip -n "$H" link set flap0 up
	[ -n "${DAEMON_PID:-}" ] || daemon_up
	sample_daemon
}
