#!/usr/bin/env bash
# make bench: the tunnel poller with 100 tunnels (issue 6).
#
# A network namespace of its own with a local stand-in for the Cloudflare
# API on 127.0.0.1 (tests/helpers/cf_mock.py, through
# tests/bench/lib/cf_mock_timed.py, which also logs when each request was
# read), and a systemd1 stand-in (tests/helpers/fake_bus.py) on a private
# D-Bus (tests/helpers/private_bus.conf), which logs when each StartUnit
# arrives; both logs are on the host's monotonic clock. 100 tunnels: 10 API
# tokens (accounts) of 10 tunnels each, so that no token's budget stretches
# the interval (10 x 300 s / 1080 requests = 2.8 s < 3 s), each with a
# backup unit of its own (backup-NN.service). Two pollers, one after the
# other, against the same stand-ins, in the same run:
#   netwardd  tunnels.interval_ms 3000, timeout_ms 2000, fall 1, rise 1 (run
#             with ip netns exec, its system bus the private one)
#   seed      a poller shaped like failover_monitor.py (shared/seeds/004):
#             the tunnels one after the other, one curl process a request;
#             a tunnel not "healthy" gets `busctl call ... StartUnit` (one
#             process) at once, every round; then it sleeps check_interval
#             (3 s, the seed's default)
# Measured for each:
#   cycle     from the first request of a round to the last answer of that
#             round (the stand-in's log: answers grouped into rounds by
#             gaps > 1 s between requests), over BENCH_ROUNDS rounds of 100
#             healthy tunnels, after one untimed round; p50 and max
#   reaction  20 tunnels turn "down" at once (the stand-in's script is
#             rewritten atomically between two rounds), BENCH_RUNS times,
#             other tunnels each time (2 of every token each time): per
#             tunnel, from the stand-in's log time of its first "down"
#             answer to the arrival of its StartUnit at the bus stand-in;
#             p50, p99 and max. netwardd's own unit_started reaction_us
#             (its read of the answer -> its StartUnit sent) is shown too.
# Prints a table and writes it to the "## Tunnel poller: 100 tunnels (make
# bench)" section of BENCHMARKS.md. Goals: a polling cycle < 1 s (netwardd,
# max) and a reaction < 10 ms (netwardd, p99). Missing a goal is reported,
# not failed: this measures, it does not test.
#
# Runs as root. Creates a network namespace and a cgroup (the bind guard
# must attach somewhere; nothing goes on the cgroup2 root) with random
# names, a random pin dir under /sys/fs/bpf and a temporary directory (API
# tokens, scripts, logs, the private bus's socket, netwardd's state dir);
# every helper runs in a process group of its own. All of it is removed or
# killed on exit, whatever happens. Traffic: HTTP on the namespace's
# loopback, D-Bus on the private bus only (never the machine's).
#
# Environment: BUILD (build), BENCH_ROUNDS (8 timed polling rounds),
# BENCH_RUNS (3 runs of 20 tunnels down), BENCH_SEED_SLEEP (3 s, the seed
# poller's check_interval), BENCH_PEERS ("netwardd seed": which pollers
# run), BENCH_PIN (1: with two CPUs or more, the stand-ins on one and the
# poller on the others; 0: not pinned), BENCH_OUT (BENCHMARKS.md; empty: do
# not write), BENCH_LOGS (a directory: the stand-ins' logs and netwardd's
# are copied there).
set -euo pipefail

# shellcheck source=SCRIPTDIR/lib/common.sh disable=SC1091
. "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
bench_top
ROUNDS=${BENCH_ROUNDS:-8}
RUNS=${BENCH_RUNS:-3}
SEED_SLEEP=${BENCH_SEED_SLEEP:-3}
PEERS=${BENCH_PEERS:-netwardd seed}
OUT=${BENCH_OUT-BENCHMARKS.md}
LOGS=${BENCH_LOGS:-}
TOKENS=10		# accounts, one API token each
PER_TOKEN=10		# tunnels per token
N=$((TOKENS * PER_TOKEN))
N_DOWN=$((2 * TOKENS))	# tunnels down at once: 2 of every token
INTERVAL_MS=3000
TIMEOUT_MS=2000
GAP_S=1			# requests further apart than this: another round
QUIET_S=0.3		# no answer for this long: a round has ended
GOAL_CYCLE_MS=1000
GOAL_REACT_MS=10
SECTION="## Tunnel poller: 100 tunnels (make bench)"
PY=/usr/bin/python3	# the distribution's: python3-dbus and python3-gi

NWD=$BUILD/netwardd
NWCTL=$BUILD/netwardctl

need_root "network namespaces, BPF, cgroups"
need_tools ip jq setsid nsenter mountpoint pgrep awk curl busctl dbus-daemon
need_positive ROUNDS RUNS SEED_SLEEP
[ "$RUNS" -le $((PER_TOKEN / 2)) ] || die "BENCH_RUNS: at most $((PER_TOKEN / 2)) (other tunnels each run)"
if ! [ -x $PY ] || ! $PY -c 'import dbus, gi' 2>/dev/null; then
	die "the D-Bus stand-in needs $PY with python3-dbus and python3-gi (tools/deps.sh)"
fi
for p in $PEERS; do
	case $p in netwardd | seed) ;; *) die "BENCH_PEERS: unknown poller $p" ;; esac
done
want() { [[ " $PEERS " = *" $1 "* ]]; }
! want netwardd || need_built "$NWD" "$NWCTL"

# --- state that lab_cleanup undoes ---------------------------------------------
TMP='' PIN='' CG='' NS='' GW='' NET='' DAEMON_PID='' HELPER_PID=''
PEER_PGIDS=()

# --- scratch: cgroup, pin dir, a namespace ------------------------------------------
# lab_scratch (lab_setup without make_lab's veth and gateway): one
# namespace, loopback only
lab_scratch
NS=ntun-$ID
ip netns add "$NS"
ip -n "$NS" link set lo up

# CPUs: the stand-ins (a Python HTTP server with a thread a connection, the
# D-Bus stand-in, dbus-daemon) on the first CPU this script may use, the
# poller under test (netwardd, or the seed poller and its curl and busctl)
# on the others, so that the stand-ins' work on 100 requests at once does
# not take the poller's CPU; all on all CPUs if there is only one, or with
# BENCH_PIN=0
read -r -a CPU_LIST < <($PY -c 'import os; print(*sorted(os.sched_getaffinity(0)))')
STANDIN_CPUS=() POLLER_CPUS=() PINNED=''
if [ "${BENCH_PIN:-1}" != 0 ] && [ ${#CPU_LIST[@]} -ge 2 ]; then
	need_tools taskset
	STANDIN_CPUS=(taskset -c "${CPU_LIST[0]}")
	POLLER_CPUS=(taskset -c "$(IFS=,; echo "${CPU_LIST[*]:1}")")
	PINNED="the stand-ins on CPU ${CPU_LIST[0]}, the poller on CPU $(IFS=,; echo "${CPU_LIST[*]:1}")"
fi

# spawn LOG CMD...: CMD in a process group of its own (PEER, also in
# PEER_PGIDS, which lab_cleanup stops), its output in LOG
spawn() {
	local log=$1
	shift
	: >"$log"
	setsid "$@" </dev/null >>"$log" 2>&1 &
	PEER=$!
	PEER_PGIDS+=("$PEER")
}

# --- the tunnels ---------------------------------------------------------------------
# tunnel i (0-99): token g = i / 10, its tunnel_id, account, token file, unit
TID=() ACC=() TOKF=() UNIT=()
for ((g = 0; g < TOKENS; g++)); do
	install -m 600 /dev/null "$TMP/token-$g"
	printf 'bench-%s-%04x%04x%04x%04x\n' "$ID" $RANDOM $RANDOM $RANDOM $RANDOM >"$TMP/token-$g"
done
for ((i = 0; i < N; i++)); do
	g=$((i / PER_TOKEN))
	ACC[i]=$(printf 'acc%s%019d%02d' "$ID" 0 "$g")
	TID[i]=$(printf '%s-765d-4adf-8112-%012d' "$ID" "$i")
	TOKF[i]=$TMP/token-$g
	UNIT[i]=$(printf 'backup-%02d.service' "$i")
done
# run k (0..RUNS-1) turns down tunnels 2k and 2k+1 of every token
run_tunnels() {
	local k=$1 g
	for ((g = 0; g < TOKENS; g++)); do
		echo $((g * PER_TOKEN + 2 * k)) $((g * PER_TOKEN + 2 * k + 1))
	done | tr ' ' '\n'
}

# the stand-in's script: every token, every tunnel healthy ...
for ((i = 0; i < N; i++)); do
	printf '%s %s %s\n' "${ACC[i]}" "$(cat "${TOKF[i]}")" "${TID[i]}"
done | jq -R -s 'split("\n") | map(select(length > 0) | split(" "))
	| { tokens: (map({key: .[0], value: .[1]}) | from_entries),
	    tunnels: (map({key: .[2], value: [{status: "healthy"}]}) | from_entries) }' >"$TMP/cf.base"
# set_down IDX...: ... but these, down; rewritten atomically
set_down() {
	local ids=() i
	for i in "$@"; do ids+=("${TID[i]}"); done
	jq --args '.tunnels |= with_entries(if (.key | IN($ARGS.positional[])) then .value = [{status: "down"}] else . end)' \
		"${ids[@]}" <"$TMP/cf.base" >"$TMP/cf.script.new"
	mv "$TMP/cf.script.new" "$TMP/cf.script"
}
set_down

# --- the stand-ins ---------------------------------------------------------------------
say "private D-Bus with the systemd1 stand-in, API stand-in in $NS ..."
BUS_SOCK=$TMP/bus.sock
BUS=unix:path=$BUS_SOCK
sed "s|@SOCKET@|$BUS_SOCK|" tests/helpers/private_bus.conf >"$TMP/bus.conf"
spawn "$TMP/dbus.log" "${STANDIN_CPUS[@]}" dbus-daemon --config-file="$TMP/bus.conf" --nofork
wait_until 5 test -S "$BUS_SOCK" || die "the private dbus-daemon did not start: $(cat "$TMP/dbus.log")"
TLOG=$TMP/bus.tlog
: >"$TLOG"
FAKE_BUS_TLOG=$TLOG spawn "$TMP/bus.out" "${STANDIN_CPUS[@]}" $PY tests/helpers/fake_bus.py "$BUS" systemd1
wait_until 5 grep -q "fake bus ready" "$TMP/bus.out" || die "the systemd1 stand-in did not start: $(cat "$TMP/bus.out")"

MLOG=$TMP/cf.log
: >"$MLOG"
spawn "$TMP/cf.out" "${STANDIN_CPUS[@]}" nsenter --net="/run/netns/$NS" $PY tests/bench/lib/cf_mock_timed.py \
	--script "$TMP/cf.script" --log "$MLOG"
wait_until 5 grep -q '^listening' "$TMP/cf.out" || die "the API stand-in did not start: $(cat "$TMP/cf.out")"
PORT=$(awk '/^listening/ { print $2 }' "$TMP/cf.out")
API=http://127.0.0.1:$PORT/client/v4

# both answer: a tunnel from inside the namespace, a StartUnit of a unit no
# poller has (left out of every figure)
st=$(ip netns exec "$NS" curl -s -m 5 -H "Authorization: Bearer $(cat "${TOKF[0]}")" \
	"$API/accounts/${ACC[0]}/cfd_tunnel/${TID[0]}" | jq -r .result.status)
[ "$st" = healthy ] || die "the API stand-in answers \"$st\", not healthy"
busctl --address="$BUS" call org.freedesktop.systemd1 /org/freedesktop/systemd1 \
	org.freedesktop.systemd1.Manager StartUnit ss bench-check.service replace >/dev/null ||
	die "busctl cannot call the systemd1 stand-in"

# --- helpers -----------------------------------------------------------------------
lines() { wc -l <"$1"; }
# slice FILE FROM [TO]: lines FROM+1 .. TO (default: the end)
slice() { sed -n "$(($2 + 1)),${3:-\$}p" "$1"; }
more_lines() { [ "$(lines "$1")" -gt "$2" ]; }
at_least() { [ "$(lines "$1")" -ge "$2" ]; }
# quiet FILE: no new line for QUIET_S
quiet() {
	local n
	n=$(lines "$1")
	sleep $QUIET_S
	[ "$(lines "$1")" -eq "$n" ]
}
# between_rounds: returns in the gap after the next round's answers
between_rounds() {
	local n
	n=$(lines "$MLOG")
	wait_until $((INTERVAL_MS / 1000 + SEED_SLEEP + 10)) more_lines "$MLOG" "$n" ||
		die "$POLLER stopped asking the API stand-in"
	wait_until 10 quiet "$MLOG" || die "$POLLER never paused between rounds"
}
# started FROM UNIT...: each UNIT has a StartUnit in the bus log after line FROM
started() {
	local from=$1
	shift
	[ "$(slice "$TLOG" "$from" | jq -r 'select(.call[0] == "StartUnit") | .call[1]' | sort -u |
		grep -cxF -f <(printf '%s\n' "$@"))" -eq $# ]
}

# measure LABEL: with POLLER polling (its first request not yet sent when
# M0 and B0 were taken): ROUNDS + 1 rounds of healthy tunnels, then RUNS
# runs of N_DOWN tunnels down; the stand-ins' logs of each part into
# $TMP/LABEL.{cycle,down,bus}.log and the down tunnels ("tunnel_id unit")
# into $TMP/LABEL.down
measure() {
	local label=$1 m1 k i units down=()
	say "$POLLER: $((ROUNDS + 1)) rounds of $N healthy tunnels ..."
	wait_until $(((ROUNDS + 2) * (INTERVAL_MS / 1000 + SEED_SLEEP) + 20)) at_least "$MLOG" $((M0 + (ROUNDS + 1) * N)) ||
		die "$POLLER: fewer than $(((ROUNDS + 1) * N)) answers in time ($(($(lines "$MLOG") - M0)))"
	wait_until 10 quiet "$MLOG" || die "$POLLER never paused between rounds"
	m1=$(lines "$MLOG")
	slice "$MLOG" "$M0" "$m1" >"$TMP/$label.cycle.log"
	: >"$TMP/$label.down"
	for ((k = 0; k < RUNS; k++)); do
		units=()
		for i in $(run_tunnels $k); do
			down+=("$i")
			units+=("${UNIT[i]}")
			echo "${TID[i]} ${UNIT[i]}" >>"$TMP/$label.down"
		done
		between_rounds
		say "$POLLER: run $((k + 1))/$RUNS: $N_DOWN tunnels down ($((${#down[@]})) in all) ..."
		set_down "${down[@]}"
		wait_until $((INTERVAL_MS / 1000 + SEED_SLEEP + 15)) started "$B0" "${units[@]}" ||
			die "$POLLER: not every backup unit of run $((k + 1)) was started"
	done
	between_rounds	# one more round: whatever the last one started has arrived
	slice "$MLOG" "$m1" >"$TMP/$label.down.log"
	slice "$TLOG" "$B0" >"$TMP/$label.bus.log"
	set_down
}

# cycles LOG: one JSON object a round: answers (n), first request to last
# answer (cycle_ms), first to last request (spread_ms); rounds are the
# answers grouped by their requests' times, a gap > GAP_S between two
# requests starting another
cycles() {
	jq -s -c --argjson gap $GAP_S '
		[.[] | select(.tunnel != null) | {t, t0: (.t0 // .t)}] | sort_by(.t0)
		| reduce .[] as $x ([]; if length == 0 or $x.t0 - .[length - 1][-1].t0 > $gap
			then . + [[$x]] else .[length - 1] += [$x] end)
		| .[] | {n: length, cycle_ms: (((map(.t) | max) - (map(.t0) | min)) * 1000),
			 spread_ms: (((map(.t0) | max) - (map(.t0) | min)) * 1000)}' "$1"
}
# reactions LABEL: per down tunnel, us from its first "down" answer to the
# first StartUnit of its unit ("miss" if there is none)
reactions() {
	jq -n -r --slurpfile m "$TMP/$1.down.log" --slurpfile b "$TMP/$1.bus.log" \
		--rawfile d "$TMP/$1.down" '
		$d | split("\n")[] | select(length > 0) | split(" ") as [$tid, $unit]
		| ([$m[] | select(.tunnel == $tid and .status == "down") | .t] | min) as $td
		| ([$b[] | select(.call[0] == "StartUnit" and .call[1] == $unit) | .t] | min) as $ts
		| if $td == null or $ts == null then "miss" else ($ts - $td) * 1e6 end'
}

# summarize LABEL: the figures of a poller, as shell variables LABEL_*
summarize() {
	local l=$1 r
	cycles "$TMP/$l.cycle.log" >"$TMP/$l.rounds"
	# the first round is untimed; an incomplete round (not N answers) is left out
	r=$(jq -s -c --argjson n $N '{all: length, sizes: (map(.n) | group_by(.) | map("\(length) x \(.[0])") | join(", ")),
		timed: (.[1:] | map(select(.n == $n)))}' "$TMP/$l.rounds")
	printf -v "${l}_ROUNDS" '%s' "$(jq '.timed | length' <<<"$r")"
	printf -v "${l}_SIZES" '%s' "$(jq -r .sizes <<<"$r")"
	printf -v "${l}_FIRST" '%s' "$(jq -r '.[0].cycle_ms // "nan"' <(jq -s . "$TMP/$l.rounds"))"
	read -r _ "${l}_C50" _ "${l}_CMAX" < <(jq -r '.timed[].cycle_ms' <<<"$r" | pct_stats)
	read -r _ "${l}_S50" _ "${l}_SMAX" < <(jq -r '.timed[].spread_ms' <<<"$r" | pct_stats)
	reactions "$l" >"$TMP/$l.react"
	printf -v "${l}_MISS" '%s' "$(grep -c miss "$TMP/$l.react" || true)"
	read -r "${l}_RN" "${l}_R50" "${l}_R99" "${l}_RMAX" < <(grep -v miss "$TMP/$l.react" | pct_stats)
	# per run (N_DOWN lines each, in order): "p50/max"
	local k rs='' n p50 max
	for ((k = 0; k < RUNS; k++)); do
		read -r n p50 _ max < <(sed -n "$((k * N_DOWN + 1)),$(((k + 1) * N_DOWN))p" "$TMP/$l.react" |
			grep -v miss | pct_stats)
		rs+="${rs:+, }run $((k + 1)) $(awk -v a="$p50" -v b="$max" 'BEGIN { if (a == "nan") print "-"; else printf "%.2f/%.2f ms\n", a / 1000, b / 1000 }')"
	done
	printf -v "${l}_RUNS" '%s' "$rs"
	printf -v "${l}_STARTS" '%s' "$(jq -s '[.[] | select(.call[0] == "StartUnit")] | length' "$TMP/$l.bus.log")"
	printf -v "${l}_UNITS" '%s' "$(jq -s '[.[] | select(.call[0] == "StartUnit") | .call[1]] | unique | length' "$TMP/$l.bus.log")"
	# the stand-in's own time per answer (request read -> answer sent), and answers other than 200
	read -r _ "${l}_SVC50" _ "${l}_SVCMAX" < <(cat "$TMP/$l.cycle.log" "$TMP/$l.down.log" |
		jq -r 'select(.t0 != null) | (.t - .t0) * 1e6' | pct_stats)
	printf -v "${l}_NON200" '%s' "$(cat "$TMP/$l.cycle.log" "$TMP/$l.down.log" | jq -s '[.[] | select(.code != 200)] | length')"
}

# --- 1. netwardd -----------------------------------------------------------------------
if want netwardd; then
	WATCH=$(for ((i = 0; i < N; i++)); do
		jq -n -c --arg name "$(printf 't%02d' $i)" --arg acc "${ACC[i]}" --arg tid "${TID[i]}" \
			--arg tok "${TOKF[i]}" --arg unit "${UNIT[i]}" \
			'{name: $name, account_id: $acc, tunnel_id: $tid, token_file: $tok, service: $unit,
			  fall: 1, rise: 1}'
	done | jq -s -c .)
	jq -n --arg cg "$CG" --arg api "$API" --argjson watch "$WATCH" \
		--argjson iv $INTERVAL_MS --argjson to $TIMEOUT_MS \
		'{binds: {cgroup: $cg}, log: {history: 100000},
		  tunnels: {api_base: $api, interval_ms: $iv, timeout_ms: $to, watch: $watch}}' >"$TMP/netward.json"
	"$NWD" --check-config --config "$TMP/netward.json" >/dev/null || die "netwardd rejects $TMP/netward.json"

	POLLER=netwardd
	M0=$(lines "$MLOG") B0=$(lines "$TLOG")
	say "netwardd in $NS, $N tunnels on $TOKENS tokens, every $INTERVAL_MS ms ..."
	DBUS_SYSTEM_BUS_ADDRESS=$BUS "${POLLER_CPUS[@]}" ip netns exec "$NS" "$NWD" --config "$TMP/netward.json" \
		--pin-dir "$PIN" --socket "$SOCK" --state-dir "$TMP/state" >"$TMP/netwardd.log" 2>&1 &
	DAEMON_PID=$!
	wait_until 15 daemon_ready || die "netwardd not ready after 15 s"
	TUN=$("$NWCTL" --socket "$SOCK" tunnels --json) || true
	NWD_TOKIV=$(jq -r '[.tokens[]? | "\(.interval_ms) ms x \(.tunnels)"] | group_by(.) | map("\(length) x (\(.[0]))") | join(", ")' <<<"$TUN")
	jq -e --argjson iv $INTERVAL_MS --argjson n $TOKENS \
		'[.tokens[]? | select(.interval_ms == $iv)] | length == $n' >/dev/null <<<"$TUN" ||
		say "PROBLEM: netwardd's token intervals are not all $INTERVAL_MS ms: $NWD_TOKIV"
	measure nwd
	"$NWCTL" --socket "$SOCK" events --json --type unit_started --limit 1000000 >"$TMP/nwd.events" ||
		die "netwardctl events failed"
	"$NWCTL" --socket "$SOCK" events --json --type tunnel_state --limit 1000000 >"$TMP/nwd.states" ||
		die "netwardctl events failed"
	"$NWCTL" --socket "$SOCK" tunnels --json >"$TMP/nwd.tunnels" || true
	# events carry CLOCK_REALTIME, the stand-ins' logs CLOCK_MONOTONIC
	CLOCK_OFF=$($PY -c 'import time; print(min((time.time() - time.monotonic() for _ in range(1000)), key=abs))')
	read -r NWD_EN NWD_E50 NWD_E99 NWD_EMAX < <(jq -r '.reaction_us' "$TMP/nwd.events" | pct_stats)
	NWD_REQ=$(jq '[.tunnels[]?.requests // 0] | add // 0' "$TMP/nwd.tunnels")
	end_daemon
	summarize nwd
	# where a reaction goes, per down tunnel: the answer sent by the stand-in ->
	# netwardd's tunnel_state "down" event (the answer read); netwardd's own
	# reaction_us; its StartUnit sent (event + reaction_us) -> its arrival at
	# the systemd1 stand-in
	jq -n -r --slurpfile m "$TMP/nwd.down.log" --slurpfile b "$TMP/nwd.bus.log" \
		--slurpfile st "$TMP/nwd.states" --slurpfile us "$TMP/nwd.events" \
		--rawfile d "$TMP/nwd.down" --argjson off "$CLOCK_OFF" '
		def mono: (.ts | capture("^(?<s>[^.]+)[.](?<f>[0-9]+)Z$")) as $c
			| (($c.s + "Z") | fromdateiso8601) + ("0." + $c.f | tonumber) - $off;
		$d | split("\n")[] | select(length > 0) | split(" ") as [$tid, $unit]
		| ([$m[] | select(.tunnel == $tid and .status == "down") | .t] | min) as $td
		| ([$st[] | select(.tunnel_id == $tid and .status == "down") | mono] | min) as $tr
		| ([$us[] | select(.unit == $unit) | .reaction_us] | first) as $r
		| ([$b[] | select(.call[0] == "StartUnit" and .call[1] == $unit) | .t] | min) as $ta
		| select($td != null and $tr != null and $r != null and $ta != null)
		| "\(($tr - $td) * 1e6) \(($ta - $tr) * 1e6 - $r)"' >"$TMP/nwd.split"
	read -r _ NWD_IN50 _ NWD_INMAX < <(awk '{ print $1 }' "$TMP/nwd.split" | pct_stats)
	read -r _ NWD_BUS50 _ NWD_BUSMAX < <(awk '{ print $2 }' "$TMP/nwd.split" | pct_stats)
	# between the pollers: the units back to inactive is not needed (the
	# seed never asks), the stand-in's script healthy again (measure did)
fi

# --- 2. the seed's poller ---------------------------------------------------------------
# shaped like failover_monitor.py (shared/seeds/004): the tunnels one after
# the other (requests.get -> one curl process each), status from
# result.status, a tunnel not healthy gets its service started at once
# (systemctl start -> one busctl process), every round; sleep check_interval
for ((i = 0; i < N; i++)); do
	echo "${ACC[i]} ${TID[i]} ${TOKF[i]} ${UNIT[i]}"
done >"$TMP/seed.tunnels"
cat >"$TMP/failover_monitor.sh" <<'EOF'
# usage: failover_monitor.sh TUNNELS API BUS CHECK_INTERVAL
ACC=() TID=() TOK=() UNIT=()
while read -r acc tid tokf unit; do
	ACC+=("$acc") TID+=("$tid") TOK+=("$(cat "$tokf")") UNIT+=("$unit")
done <"$1"
API=$2 BUS=$3 CHECK_INTERVAL=$4
echo "monitor started: ${#TID[@]} tunnels"
while :; do
	for i in "${!TID[@]}"; do
		out=$(curl -s -m 10 -H "Authorization: Bearer ${TOK[i]}" \
			"$API/accounts/${ACC[i]}/cfd_tunnel/${TID[i]}") || out=
		st=
		[[ $out =~ \"status\":\ *\"([A-Za-z_]+)\" ]] && st=${BASH_REMATCH[1]}
		if [ "$st" != healthy ]; then
			busctl --address="$BUS" call org.freedesktop.systemd1 /org/freedesktop/systemd1 \
				org.freedesktop.systemd1.Manager StartUnit ss "${UNIT[i]}" replace >/dev/null 2>&1 ||
				echo "start ${UNIT[i]} failed"
		fi
	done
	sleep "$CHECK_INTERVAL"
done
EOF
if want seed; then
	POLLER="seed poller"
	M0=$(lines "$MLOG") B0=$(lines "$TLOG")
	say "seed-shaped poller (curl + busctl, sequential, sleep $SEED_SLEEP s) in $NS ..."
	spawn "$TMP/seed.log" "${POLLER_CPUS[@]}" ip netns exec "$NS" bash "$TMP/failover_monitor.sh" "$TMP/seed.tunnels" "$API" "$BUS" "$SEED_SLEEP"
	SEED_PG=$PEER
	measure seed
	stop_peer "$SEED_PG"
	SEED_FAILED=$(grep -c '^start .* failed' "$TMP/seed.log" || true)
	summarize seed
fi

if [ -n "$LOGS" ]; then
	mkdir -p "$LOGS"
	cp "$TMP"/*.log "$TMP"/*.tlog "$TMP"/*.down "$TMP"/*.rounds "$TMP"/*.react "$TMP"/*.events "$TMP"/*.states "$TMP"/*.split "$TMP"/*.tunnels "$LOGS"/ 2>/dev/null || true
	say "logs copied to $LOGS"
fi

# --- report ------------------------------------------------------------------------
ms() { awk -v v="$1" 'BEGIN { if (v == "nan" || v == "") print "-"; else printf "%.1f ms\n", v }'; }
usms() { awk -v v="$1" 'BEGIN { if (v == "nan" || v == "") print "-"; else printf "%.2f ms\n", v / 1000 }'; }
# ratio A B: A / B as "N.Nx" (or "-")
ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN {
		if (a == "nan" || b == "nan" || a == "" || b == "" || b <= 0) { print "-"; exit }
		r = a / b
		if (r >= 100) printf "%.0fx\n", r; else printf "%.1fx\n", r }'
}
# below V GOAL: V < GOAL (V a number)
below() { awk -v v="$1" -v g="$2" 'BEGIN { exit !(v != "nan" && v != "" && v + 0 < g) }'; }
v() { local n=$1_$2; echo "${!n:-nan}"; }

TABLE=()
printf '\n%-34s %6s %10s %10s %7s %10s %10s %10s\n' poller rounds "cycle p50" "cycle max" \
	reacts "react p50" "react p99" "react max"
row() {	# LABEL PREFIX
	local r=("$1" "$(v "$2" ROUNDS)" "$(ms "$(v "$2" C50)")" "$(ms "$(v "$2" CMAX)")"
		"$(v "$2" RN)" "$(usms "$(v "$2" R50)")" "$(usms "$(v "$2" R99)")" "$(usms "$(v "$2" RMAX)")")
	[ "$(v "$2" MISS)" = nan ] || [ "$(v "$2" MISS)" = 0 ] || r[4]="${r[4]} (+$(v "$2" MISS) missed)"
	printf '%-34s %6s %10s %10s %7s %10s %10s %10s\n' "${r[@]}"
	TABLE+=("| ${r[0]} | ${r[1]} | ${r[2]} | ${r[3]} | ${r[4]} | ${r[5]} | ${r[6]} | ${r[7]} |")
}
ratio_row() {
	local r=("seed poller / netwardd" "" "$(ratio "$(v seed C50)" "$(v nwd C50)")"
		"$(ratio "$(v seed CMAX)" "$(v nwd CMAX)")" ""
		"$(ratio "$(v seed R50)" "$(v nwd R50)")" "$(ratio "$(v seed R99)" "$(v nwd R99)")"
		"$(ratio "$(v seed RMAX)" "$(v nwd RMAX)")")
	printf '%-34s %6s %10s %10s %7s %10s %10s %10s\n' "${r[@]}"
	TABLE+=("| ${r[0]} | | ${r[2]} | ${r[3]} | | ${r[5]} | ${r[6]} | ${r[7]} |")
}
want netwardd && row "netwardd" nwd
want seed && row "seed poller (curl + busctl)" seed
want netwardd && want seed && ratio_row

GOALS=()
if want netwardd; then
	if below "$(v nwd CMAX)" $GOAL_CYCLE_MS; then m=met; else m=MISSED; fi
	GOALS+=("Polling cycle < 1 s (netwardd, max over $(v nwd ROUNDS) rounds of $N tunnels: $(ms "$(v nwd CMAX)")): $m")
	if below "$(v nwd R99)" $((GOAL_REACT_MS * 1000)); then m=met; else m=MISSED; fi
	[ "$(v nwd MISS)" = 0 ] || m="$m, $(v nwd MISS) tunnels without a StartUnit"
	GOALS+=("Down answer to StartUnit < 10 ms (netwardd, p99 over $(v nwd RN) tunnels: $(usms "$(v nwd R99)")): $m")
fi
NOTES=()
if want netwardd; then
	NOTES+=("netwardd's reactions by run (p50/max; the tunnels of earlier runs are still down): $(v nwd RUNS)")
	NOTES+=("netwardd: its own unit_started reaction_us (its read of the answer -> its StartUnit sent) over $NWD_EN events: p50 $(usms "$NWD_E50"), p99 $(usms "$NWD_E99"), max $(usms "$NWD_EMAX"); StartUnit calls: $(v nwd STARTS) for $(v nwd UNITS) units (one each expected); token intervals (netwardctl tunnels): ${NWD_TOKIV:-?}; rounds found: $(v nwd SIZES) (answers each; the first, $(ms "$(v nwd FIRST)"), untimed); all $N requests of a round sent within $(ms "$(v nwd S50)") (p50, max $(ms "$(v nwd SMAX)")) of its first; requests counted by netwardd: $NWD_REQ")
	NOTES+=("netwardd's reactions, split (its events' CLOCK_REALTIME taken to CLOCK_MONOTONIC): from the stand-in's \"down\" answer sent to netwardd's tunnel_state event (the answer read, with 100 transfers on its loop and the stand-in busy) p50 $(usms "$NWD_IN50"), max $(usms "$NWD_INMAX"); netwardd's own reaction_us p50 $(usms "$NWD_E50"); from its StartUnit sent to the call's arrival in the systemd1 stand-in (dbus-daemon, then a Python handler serving one call at a time) p50 $(usms "$NWD_BUS50"), max $(usms "$NWD_BUSMAX")")
fi
if want seed; then
	NOTES+=("seed poller's reactions by run (p50/max): $(v seed RUNS)")
	NOTES+=("seed poller: shaped like failover_monitor.py (shared/seeds/004): the tunnels one after the other, one curl process a request, a tunnel not healthy gets \`busctl call ... StartUnit\` at once and again every round (the seed's \"duplicate starts\"; StartUnit calls: $(v seed STARTS) for $(v seed UNITS) units), then sleep ${SEED_SLEEP} s (its check_interval); its requests span a round: $(ms "$(v seed S50)") p50; rounds found: $(v seed SIZES)")
	[ "${SEED_FAILED:-0}" = 0 ] || NOTES[-1]+="; $SEED_FAILED busctl calls got an error: the systemd1 stand-in fails a StartUnit of a unit it has started before (it registers the unit's object again), after logging its arrival"
fi
SVC=""
want netwardd && SVC="netwardd's run p50 $(usms "$(v nwd SVC50)") (max $(usms "$(v nwd SVCMAX)")), $(v nwd NON200) answers not 200"
want seed && SVC="${SVC:+$SVC; }seed's run p50 $(usms "$(v seed SVC50)") (max $(usms "$(v seed SVCMAX)")), $(v seed NON200) answers not 200"
NOTES+=("CPUs: ${PINNED:-not pinned (one CPU, or BENCH_PIN=0): the stand-ins and the poller share them}")
NOTES+=("the API stand-in (Python, one thread a connection) from reading a request to having sent its answer: $SVC")
echo
printf '%s\n' "${GOALS[@]}"
printf -- '- %s\n' "${NOTES[@]}"
echo

[ -n "$OUT" ] || exit 0

{
	section_head "$SECTION"
	echo "Goals (issue 6): with 100 tunnels against the local API stand-in, a polling"
	echo "cycle < 1 s and < 10 ms from a \"down\" answer to StartUnit."
	echo
	echo "| poller | rounds | cycle p50 | cycle max | tunnels down | reaction p50 | reaction p99 | reaction max |"
	echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
	printf '%s\n' "${TABLE[@]}"
	echo
	for g in "${GOALS[@]}"; do echo "$g."; echo; done
	printf -- '- %s.\n' "${NOTES[@]}"
	echo
	echo "100 tunnels on 10 API tokens (10 each, so that no token's request budget"
	echo "stretches the interval), each with its own backup unit, polled in a network"
	echo "namespace of their own: the API stand-in (tests/helpers/cf_mock.py, through"
	echo "tests/bench/lib/cf_mock_timed.py: request times logged, a backlog of 1024,"
	echo "TCP_NODELAY) listens on its 127.0.0.1; the backup units are started on a systemd1 stand-in"
	echo "(tests/helpers/fake_bus.py) on a private D-Bus. netwardd: tunnels.interval_ms"
	echo "$INTERVAL_MS, timeout_ms $TIMEOUT_MS, fall 1, rise 1, no gateway, run with ip netns exec."
	echo "Cycle: from the first request of a round (when the stand-in read it) to the"
	echo "last answer of that round (when it had been sent), over $ROUNDS rounds of healthy"
	echo "tunnels after an untimed first one; a gap of more than ${GAP_S} s between two requests"
	echo "starts another round. Reaction: $RUNS times, $N_DOWN other tunnels (2 of every token)"
	echo "turn down at once, the stand-in's script rewritten between two rounds; per"
	echo "tunnel, from when the stand-in had sent its first \"down\" answer to when its"
	echo "StartUnit reached the systemd1 stand-in (both CLOCK_MONOTONIC). Tunnels of"
	echo "earlier runs stay down. Reactions include the stand-ins' own time: the"
	echo "systemd1 stand-in serves one call at a time, so 20 units started at once queue"
	echo "there. With two CPUs or more the stand-ins run on one CPU and the poller on"
	echo "the others (taskset): on a shared CPU, the stand-in's 100 Python threads of a"
	echo "round take the poller's CPU and its reactions measure them. Ratios are seed"
	echo "poller / netwardd."
	echo
} >"$TMP/section.md"

# replace our section (up to the next "## " heading), keep the rest
write_section "$OUT" "$SECTION" "$TMP/section.md"
