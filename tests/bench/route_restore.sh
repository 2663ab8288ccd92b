#!/usr/bin/env bash
# make bench: how fast a deleted default route comes back.
#
# In a lab network namespace (veth d0, 192.0.2.10/24, whose peer d0p is in
# a second "gateway" namespace, 192.0.2.1; default route via 192.0.2.1 dev
# d0), build/route_latency deletes the main-table IPv4 default route over
# raw netlink, again and again, and times with a netlink listener of its own
# (independent of whoever restores) the time from the RTM_DELROUTE
# notification to the RTM_NEWROUTE that puts it back. Three peers take
# turns on the same lab, in the same run:
#   netwardd  the route guard (learn_default), run as users run it
#   shell     `ip monitor route` piped to a loop that runs
#             `ip route replace` on "Deleted default ..."
#   poll      a loop that checks `ip route show default` every second and
#             puts the route back when it is missing
# and netwardd's own latency_us (from its route_restored events) is shown
# next to the external figure. Prints a table and writes it to the
# "## Route restore latency (make bench)" section of BENCHMARKS.md.
# Goal: netwardd p50 < 1 ms, p99 < 5 ms, and >= 10x faster (p50) than the
# shell peer. Missing a goal is reported, not failed: this measures, it does
# not test.
#
# Runs as root. Creates two network namespaces and a cgroup (the bind guard
# must attach somewhere; nothing goes on the cgroup2 root) with random
# names, a random pin dir under /sys/fs/bpf and a temporary directory; every
# peer runs in a process group of its own. All of it is removed or killed
# on exit, whatever happens. Traffic: netlink inside the lab namespace only.
#
# Environment: BUILD (build), BENCH_N (1000 deletions for netwardd),
# BENCH_SHELL_N (1000), BENCH_POLL_N (20; each costs ~1 s: ~0.5 s of
# latency, ~0.5 s of random gap), BENCH_GAP_MS (2 ms between a restore and
# the next deletion), BENCH_TIMEOUT_MS (3000 per deletion), BENCH_OUT
# (BENCHMARKS.md; empty: do not write).
set -euo pipefail

# shellcheck source=SCRIPTDIR/lib/common.sh disable=SC1091
. "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
bench_top
N_NWD=${BENCH_N:-1000}
N_SHELL=${BENCH_SHELL_N:-1000}
N_POLL=${BENCH_POLL_N:-20}
GAP_MS=${BENCH_GAP_MS:-2}
TIMEOUT_MS=${BENCH_TIMEOUT_MS:-3000}
OUT=${BENCH_OUT-BENCHMARKS.md}
WARMUP=5		# untimed deletions before the timed ones (netwardd, shell)
POLL_JITTER_MS=1000	# poll: deletions at random phases of its 1 s period
GOAL_P50_US=1000
GOAL_P99_US=5000
GOAL_SPEEDUP=10
# Anti-flap: netwardd backs off past max_restores restores of one route
# within window_ms. The config allows at most 1000 and at least 100 ms:
# with >= GAP_MS between restores, at most 100 / GAP_MS restores fit in a
# window, far below 1000, so backoff never starts during the measurement.
MAX_RESTORES=1000
WINDOW_MS=100
SECTION="## Route restore latency (make bench)"

NWD=$BUILD/netwardd
NWCTL=$BUILD/netwardctl
LAT=$BUILD/route_latency

need_root "network namespaces, BPF, cgroups"
need_built "$NWD" "$NWCTL" "$LAT"
need_tools ip jq setsid mountpoint
for v in N_NWD N_SHELL N_POLL GAP_MS TIMEOUT_MS; do
	[[ ${!v} =~ ^[0-9]+$ ]] || die "$v: not a number: ${!v}"
done
[ "$GAP_MS" -ge 1 ] || die "BENCH_GAP_MS must be >= 1 (anti-flap headroom)"

# --- state that lab_cleanup undoes ---------------------------------------------
TMP='' PIN='' CG='' NS='' GW='' NET='' DAEMON_PID='' HELPER_PID=''
PEER_PGIDS=()

# --- scratch: cgroup, pin dir, lab, config ---------------------------------------------
lab_setup nwb

# history: every event of the run stays readable (2 per deletion, and then some)
cat >"$TMP/netward.json" <<EOF
{
  "binds": { "cgroup": "$CG" },
  "routes": {
    "learn_default": true,
    "max_restores": $MAX_RESTORES,
    "window_ms": $WINDOW_MS
  },
  "log": { "history": $((4 * (N_NWD + WARMUP) + 1000)) }
}
EOF

# run_lat LABEL N ARGS...: one route_latency run; its result line into RESULT
RESULT=''
run_lat() {
	local label=$1 n=$2
	shift 2
	ip netns exec "$NS" "$LAT" --label "$label" --count "$n" --timeout-ms "$TIMEOUT_MS" \
		--samples "$TMP/samples-$label" "$@" >"$TMP/out-$label" 2>"$TMP/err-$label" &
	HELPER_PID=$!
	wait "$HELPER_PID" || { cat "$TMP/err-$label" >&2; die "route_latency failed for $label"; }
	HELPER_PID=
	[ ! -s "$TMP/err-$label" ] || sed 's/^/  /' "$TMP/err-$label" >&2
	RESULT=$(grep '^result ' "$TMP/out-$label") || die "route_latency printed no result for $label"
}

# --- 1. netwardd ------------------------------------------------------------------
say "netwardd in $NS ..."
start_daemon ip netns exec "$NS"
STATUS=$("$NWCTL" --socket "$SOCK" status --json)
jq -e '[.routes.guard.protected[]? | select(.family == 4 and .dst == "default" and .state == "present")]
	| length == 1' >/dev/null <<<"$STATUS" ||
	die "netwardd does not protect the lab's default route: $(jq -c '.routes' <<<"$STATUS")"

say "netwardd: $N_NWD deletions (+$WARMUP untimed), ${GAP_MS} ms apart ..."
run_lat netwardd "$N_NWD" --warmup "$WARMUP" --gap-ms "$GAP_MS"
R_NWD=$RESULT

# netwardd's own view: latency_us of its route_restored events (deletion
# read -> restore acked, as it measures it), of the timed deletions only
"$NWCTL" --socket "$SOCK" events --json --type route_restored --limit 1000000 \
	>"$TMP/restored.json" || die "netwardctl events failed"
read -r EV_N EV_P50 EV_P99 EV_MAX < <(jq -s -r --argjson w "$WARMUP" '
	[.[] | select(.family == 4 and .dst == "default" and (.already_present | not)) | .latency_us]
	| .[$w:][]' "$TMP/restored.json" | pct_stats)
STATUS=$("$NWCTL" --socket "$SOCK" status --json)
FLAPS=$(jq -r '.routes.guard.flapping_episodes // 0' <<<"$STATUS")
NWD_ENOBUFS=$(jq -r '.routes.guard.enobufs // 0' <<<"$STATUS")
NWD_RESTORES=$(jq -r '.routes.guard.restores // 0' <<<"$STATUS")
[ "$FLAPS" = 0 ] || say "PROBLEM: netwardd saw $FLAPS flapping episodes: backoff distorts the figures"

end_daemon
restore_lab

# --- 2. shell peer -----------------------------------------------------------------
# monitor_listening PGID: a process of the group has a netlink socket
# subscribed to a multicast group (ip monitor is listening)
monitor_listening() {
	local pid fd ino
	for pid in $(pgrep -g "$1"); do
		[ "$(cat "/proc/$pid/comm" 2>/dev/null)" = ip ] || continue
		for fd in /proc/"$pid"/fd/*; do
			ino=$(readlink "$fd" 2>/dev/null) || continue
			[[ $ino = socket:\[*\] ]] || continue
			ino=${ino#socket:[}
			ino=${ino%]}
			# /proc/PID/net/netlink: sk Eth Pid Groups Rmem Wmem Dump Locks Drops Inode
			awk -v ino="$ino" '$1 != "sk" && $10 == ino && $2 == 0 && $4 != "00000000" { f = 1 }
				END { exit !f }' "/proc/$pid/net/netlink" && return 0
		done
	done
	return 1
}

say "shell peer (ip monitor route | ip route replace): $N_SHELL deletions (+$WARMUP untimed) ..."
# shellcheck disable=SC2016
start_peer "$TMP/peer.log" sh -c 'ip monitor route | while read -r line; do case "$line" in Deleted\ default*) ip route replace default via 192.0.2.1 dev d0;; esac; done'
wait_until 10 monitor_listening "$PEER" || die "ip monitor is not listening after 10 s"
run_lat shell "$N_SHELL" --warmup "$WARMUP" --gap-ms "$GAP_MS"
R_SHELL=$RESULT
stop_peer "$PEER"
restore_lab

# --- 3. polling loop ------------------------------------------------------------------
say "1 s polling loop: $N_POLL deletions at random phases ..."
start_peer "$TMP/peer.log" sh -c 'while sleep 1; do ip route show default | grep -q . || ip route replace default via 192.0.2.1 dev d0; done'
run_lat poll "$N_POLL" --gap-ms "$GAP_MS" --jitter-ms "$POLL_JITTER_MS"
R_POLL=$RESULT
stop_peer "$PEER"
restore_lab

# --- report ------------------------------------------------------------------------
fmt_us() {	# microseconds, printed in a readable unit
	awk -v v="$1" 'BEGIN {
		if (v == "nan" || v == "") print "-";
		else if (v < 1000) printf "%.0f us\n", v;
		else if (v < 1000000) printf "%.2f ms\n", v / 1000;
		else printf "%.2f s\n", v / 1000000 }'
}
NWD_P50=$(field p50_us "$R_NWD")
NWD_P99=$(field p99_us "$R_NWD")
ratio() { awk -v a="$1" -v b="$NWD_P50" 'BEGIN { if (a == "nan" || b == "nan" || b <= 0) print "-"; else printf "%.1fx\n", a / b }'; }
meets() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a != "nan" && a + 0 < b + 0) }'; }

if meets "$NWD_P50" $GOAL_P50_US; then g50="p50 < 1 ms: met"; else g50="p50 < 1 ms: MISSED"; fi
if meets "$NWD_P99" $GOAL_P99_US; then g99="p99 < 5 ms: met"; else g99="p99 < 5 ms: MISSED"; fi
SPEEDUP=$(ratio "$(field p50_us "$R_SHELL")")
if [ "$SPEEDUP" != - ] && awk -v s="${SPEEDUP%x}" -v g=$GOAL_SPEEDUP 'BEGIN { exit !(s >= g) }'; then
	gsp=">= ${GOAL_SPEEDUP}x faster than shell: met"
else
	gsp=">= ${GOAL_SPEEDUP}x faster than shell: MISSED"
fi
for r in "$R_NWD" "$R_SHELL" "$R_POLL"; do
	for k in errors enobufs dropped reinstalls; do
		v=$(field $k "$r")
		[ "$v" = 0 ] || say "$(field label "$r"): $k=$v"
	done
done

TABLE=()
printf '\n%-9s %5s %10s %10s %10s %10s %9s %12s  %s\n' peer N p50 p90 p99 max timeouts "vs netwardd" goal
for r in "$R_NWD" "$R_SHELL" "$R_POLL"; do
	label=$(field label "$r")
	case $label in
	netwardd) goal="$g50, $g99"; vs=1.0x ;;
	shell) goal=$gsp; vs="$(ratio "$(field p50_us "$r")") slower" ;;
	*) goal=-; vs="$(ratio "$(field p50_us "$r")") slower" ;;
	esac
	row=("$label" "$(field n "$r")" "$(fmt_us "$(field p50_us "$r")")" "$(fmt_us "$(field p90_us "$r")")"
		"$(fmt_us "$(field p99_us "$r")")" "$(fmt_us "$(field max_us "$r")")" "$(field timeouts "$r")"
		"$vs" "$goal")
	printf '%-9s %5s %10s %10s %10s %10s %9s %12s  %s\n' "${row[@]}"
	TABLE+=("| ${row[0]} | ${row[1]} | ${row[2]} | ${row[3]} | ${row[4]} | ${row[5]} | ${row[6]} | ${row[7]} | ${row[8]} |")
done
INTERNAL="its own latency_us (its read of the deletion -> its restore acked) over $EV_N route_restored events: p50 $(fmt_us "$EV_P50"), p99 $(fmt_us "$EV_P99"), max $(fmt_us "$EV_MAX")"
BOUND="counted from just before the deleting sendmsg() instead of the listener's read (an upper bound: it also counts any delay of route_latency itself in reading the deletion): p50 $(fmt_us "$(field req_p50_us "$R_NWD")"), p99 $(fmt_us "$(field req_p99_us "$R_NWD")"), max $(fmt_us "$(field req_max_us "$R_NWD")"); that sendmsg() itself: p50 $(fmt_us "$(field del_p50_us "$R_NWD")")"
ANTIFLAP="anti-flap: routes.max_restores $MAX_RESTORES (the most the config allows) within routes.window_ms $WINDOW_MS (the least): with >= $GAP_MS ms between deletions at most $((WINDOW_MS / GAP_MS)) restores fit in a window, so backoff cannot start (flapping episodes: $FLAPS; restores counted by netwardd: $NWD_RESTORES; its ENOBUFS: $NWD_ENOBUFS)"
echo
echo "netwardd, $INTERNAL"
echo "netwardd, $BOUND"
echo "netwardd, $ANTIFLAP"
echo

[ -n "$OUT" ] || exit 0

{
	section_head "$SECTION"
	echo "Goal: netwardd p50 < 1 ms, p99 < 5 ms, >= ${GOAL_SPEEDUP}x faster (p50) than the shell peer."
	echo
	echo "| peer | N | p50 | p90 | p99 | max | timeouts | vs netwardd (p50) | goal |"
	echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"
	printf '%s\n' "${TABLE[@]}"
	echo
	echo "netwardd, same run:"
	echo
	echo "- ${INTERNAL^}."
	echo "- ${BOUND^}."
	echo "- ${ANTIFLAP^}."
	echo
	echo "Latency: from the RTM_DELROUTE notification of the main-table IPv4 default"
	echo "route to the RTM_NEWROUTE that puts it back, both as read by a netlink"
	echo "listener of build/route_latency's own (RTNLGRP_IPV4_ROUTE, 4 MiB buffer),"
	echo "timed with CLOCK_MONOTONIC; the deletions are raw RTM_DELROUTE requests of"
	echo "the same process, in a lab network namespace (veth to a gateway namespace)."
	echo "The peers take turns on the same lab: netwardd (learn_default, run with ip"
	echo "netns exec), a shell peer (\`ip monitor route\` piped to a loop running \`ip"
	echo "route replace\` on \"Deleted default\"), and a loop that checks \`ip route show"
	echo "default\` every second. netwardd and the shell peer get $WARMUP untimed deletions"
	echo "first, then a deletion $GAP_MS ms after each restore; the polling loop gets one"
	echo "$GAP_MS ms + 0-$POLL_JITTER_MS ms (uniform) after each restore, so that deletions fall at"
	echo "random phases of its period rather than right after its own check. A timeout"
	echo "($TIMEOUT_MS ms without the route) is counted and the route put back by the bench."
	echo "On a virtual machine the figures grow with the gap (BENCH_GAP_MS): idle"
	echo "virtual CPUs take longer to wake up, for the listener and the peers alike."
	echo
} >"$TMP/section.md"

# replace our section (up to the next "## " heading), keep the rest
write_section "$OUT" "$SECTION" "$TMP/section.md"
