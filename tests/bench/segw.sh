#!/usr/bin/env bash
# make bench: SEGW failover against real strongSwan charon processes (issue 7).
#
# The lab of tests/integration/strongswan.sh (sourced: its functions only):
# a bridge namespace and, hanging off it by veth, a client (10.66.0.10) and
# three gateways gw1..gw3 (10.66.0.1..3), each running charon with its own
# /run, fast retransmits (dead peer detection in ~4.4 s) and IKE-only
# connections (this kernel may have no ESP). netwardd runs in the client's
# namespace (ip netns exec) with one connection "corp" over gw1, gw2, gw3
# and talks to the client's charon over VICI.
#   TERM series  BENCH_N times (20): SIGTERM to the charon of the gateway the
#                connection is on (it sends DELETE, so the client's
#                ike-updown down comes at once); wait until the connection
#                is up at the next gateway; start the stopped gateway's
#                charon again, so that the ring stays full; repeat.
#   KILL series  BENCH_KILL_N times (3): the same with SIGKILL: no DELETE,
#                the client finds out by dead peer detection (dpd_delay 1 s,
#                then retransmits 1.0 + 1.4 + 1.96 s): bounded by the lab's
#                retransmit settings, not by netward; reported separately.
# Measured per failover:
#   netward      segw_down ts -> segw_up ts from `netwardctl events --json`
#                (the goal's figure), and netward's own failover_ms
#                (CLOCK_MONOTONIC, its read of the loss -> the initiate's
#                reply)
#   independent  from just before the signal is sent to `swanctl --list-sas`
#                on the client showing the IKE SA ESTABLISHED at the next
#                gateway; swanctl is run in a loop with a 5 ms sleep between
#                runs: the poll period (measured, shown) bounds its
#                resolution
#   success      up at the expected next gateway (swanctl and netward's
#                segw_up agree) within 5 s of the signal (KILL: 15 s)
#   CPU          netwardd's utime + stime (/proc/PID/stat) over the TERM
#                series, divided by the series' wall time (gateway restarts
#                included)
# Memory: netwardd with BENCH_CONNS (1000) connections configured (c0000..,
# each with two gateways 10.66.0.201, 10.66.0.202 that nobody has) and a
# vici_socket where nothing listens, so every connection stays idle; its
# VmRSS (/proc/PID/status, once it is ready and lists them all) against the
# same daemon with no "segw" section: (RSS_N - RSS_0) / N. Twice: without
# psk_file, and with a psk_file for each connection (one file: netwardd
# reads it once into one locked mapping they share). Each daemon BENCH_MEM_REPS (3) times, the median
# taken. With gdb installed, netward's own accounting too:
# nw_segw_conn_bytes() summed over the connections, called inside the
# running daemon (gdb attaches, calls it, detaches).
# Prints a table and writes it to the "## SEGW failover (make bench)"
# section of BENCHMARKS.md. Goals (issue 7): p50 < 100 ms from the down
# event to the new IKE SA up, 100 % success, < 8 KB per connection with
# 1000 configured; the seed's: failover < 5 s, < 100 KB per connection,
# < 10 % CPU. Missing a goal is reported, not failed: this measures, it
# does not test.
#
# Runs as root. Creates five network namespaces and a cgroup (the bind
# guard must attach somewhere; nothing goes on the cgroup2 root) with random
# names, a random pin dir under /sys/fs/bpf and a temporary directory (the
# charons' directories and /run, PSK files, netwardd's state dir; its
# system bus address points at nothing there). Every charon and netwardd is
# killed and every namespace removed on exit, whatever happens. Traffic:
# IKE on the lab's bridge only.
#
# Environment: BUILD (build), BENCH_N (20 SIGTERM failovers), BENCH_KILL_N
# (3 SIGKILL failovers, ~5 s each), BENCH_CONNS (1000), BENCH_MEM_REPS (3),
# BENCH_OUT (BENCHMARKS.md; empty: do not write).
set -euo pipefail
export LC_ALL=C		# EPOCHREALTIME with a dot

# shellcheck source=SCRIPTDIR/lib/common.sh disable=SC1091
. "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
bench_top
N_TERM=${BENCH_N:-20}
N_KILL=${BENCH_KILL_N:-3}
N_CONNS=${BENCH_CONNS:-1000}
MEM_REPS=${BENCH_MEM_REPS:-3}
OUT=${BENCH_OUT-BENCHMARKS.md}
TERM_DEADLINE_MS=5000	# success: up at the next gateway within this
KILL_DEADLINE_MS=15000
GIVE_UP_MS=30000	# a failover not done by then: the series stops
POLL_SLEEP=0.005	# between two swanctl runs
INITIATE_MS=3000	# segw.initiate_timeout_ms, as in the integration tests
GOAL_P50_MS=100
GOAL_CONN_BYTES=8192
SEED_FAILOVER_MS=5000
SEED_CONN_BYTES=102400
SEED_CPU_PCT=10
SECTION="## SEGW failover (make bench)"

NWD=$BUILD/netwardd
NWCTL=$BUILD/netwardctl

need_root "network namespaces, BPF, cgroups, charon"
need_built "$NWD" "$NWCTL"
need_tools ip jq awk swanctl unshare mountpoint
need_positive N_TERM N_CONNS MEM_REPS
[[ $N_KILL =~ ^[0-9]+$ ]] || die "BENCH_KILL_N: not a number: $N_KILL"
HAVE_GDB=1
command -v gdb >/dev/null || { HAVE_GDB=; say "gdb not found: netward's own per-connection accounting is skipped"; }

# --- the lab's functions (tests/integration/strongswan.sh) and what they need -----
# shellcheck source=SCRIPTDIR/../integration/strongswan.sh disable=SC1091
. "$TOP/tests/integration/strongswan.sh"
sw_available || die "strongSwan not installed ($SW_CHARON, swanctl)"
rand() { printf '%04x%04x' $RANDOM $RANDOM; }
fail() { die "$*"; }
# defer CMD: run by cleanup, last first (charons before their namespaces)
DEFERRED=()
defer() { DEFERRED+=("$*"); }

# --- state that cleanup undoes ---------------------------------------------------
TMP='' PIN='' CG='' DAEMON_PID=''
SW_NS_cl=''	# the client's namespace, set by sw_lab (as are SW_NS_gw1..3)
cleanup() {
	local rc=$? daemon_ran=$DAEMON_PID i
	set +e
	trap - EXIT INT TERM HUP
	[ -z "$DAEMON_PID" ] || stop_daemon
	remove_pin "$PIN"
	for ((i = ${#DEFERRED[@]} - 1; i >= 0; i--)); do
		eval "${DEFERRED[$i]}" >/dev/null 2>&1
	done
	remove_cgroups "$CG"
	daemon_log_tail "$rc" "$daemon_ran"
	[ -z "$TMP" ] || rm -rf "$TMP"
	exit $rc
}
trap_exits cleanup
mount_fs
find_cgroup2
make_scratch
CG=$CG2/netward-bench-$ID
mkdir "$CG"

# --- helpers -------------------------------------------------------------------------
now_us() { local t=$EPOCHREALTIME; echo "${t/./}"; }
ctl() { "$NWCTL" --socket "$SOCK" "$@"; }
events_all() { ctl events --json --limit 1000000 || die "netwardctl events failed"; }
# ISO ts -> microseconds since the epoch (jq)
# shellcheck disable=SC2016 # jq's variables
JQ_US='def us: (.ts | capture("^(?<s>[^.]+)[.](?<f>[0-9]+)Z$")) as $c
	| ((($c.s + "Z") | fromdateiso8601) * 1000000) + ((("0." + $c.f) | tonumber) * 1000000 | round);'

# conn_json NAME ADDRS [PSK_FILE]: one segw connection, shaped as the
# integration tests' (IKE only, its own identity client-NAME.lab)
conn_json() {
	local psk=''
	[ -z "${3:-}" ] || psk=", \"psk_file\": \"$3\""
	printf '{ "name": "%s", "remote_addrs": "%s", "max_retries": 5%s,
  "conn": { "version": 2, "local_addrs": "10.66.0.10", "proposals": "aes128-sha256-modp2048",
            "dpd_delay": "1s", "keyingtries": 1,
            "local": { "auth": "psk", "id": "client-%s.lab" },
            "remote": { "auth": "psk", "id": "%%any" } } }' "$1" "$2" "$psk" "$1"
}
# write_config FILE [SEGW_JSON]: the bench cgroup for binds, history room,
# the segw section if given
write_config() {
	{
		echo "{ \"binds\": { \"cgroup\": \"$CG\" }, \"log\": { \"history\": 100000 }"
		[ -z "${2:-}" ] || printf ', "segw": %s\n' "$2"
		echo "}"
	} >"$1"
	"$NWD" --check-config --config "$1" >/dev/null || die "netwardd rejects $1"
}
# start_sdaemon CONFIG: netwardd in the client's namespace, as users run it,
# with a state dir of the bench's own and no system bus
start_sdaemon() {
	echo "--- $1" >>"$TMP/netwardd.log"
	rm -rf "$TMP/state"
	DBUS_SYSTEM_BUS_ADDRESS=unix:path=$TMP/no-system-bus \
		ip netns exec "$SW_NS_cl" "$NWD" --config "$1" --pin-dir "$PIN" --socket "$SOCK" \
		--state-dir "$TMP/state" >>"$TMP/netwardd.log" 2>&1 &
	DAEMON_PID=$!
	wait_until 15 daemon_ready || die "netwardd not ready after 15 s"
}
cpu_ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$DAEMON_PID/stat"; }
rss_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }

# --- the lab ---------------------------------------------------------------------------
say "lab: a client and three gateways, each with its own charon ..."
sw_lab
sw_start cl "$SW_NS_cl"
for g in 1 2 3; do
	ns=SW_NS_gw$g
	sw_start "gw$g" "${!ns}"
done
install -m 600 /dev/null "$TMP/psk"
printf '%s\n' "$SW_PSK" >"$TMP/psk"
write_config "$TMP/lab.json" "{ \"vici_socket\": \"unix://$(sw_dir cl)/charon.vici\",
  \"initiate_timeout_ms\": $INITIATE_MS,
  \"connections\": [ $(conn_json corp "10.66.0.1, 10.66.0.2, 10.66.0.3" "$TMP/psk") ] }"
start_sdaemon "$TMP/lab.json"

seg_json() { ctl segw --json 2>/dev/null | jq -c '.connections[] | select(.name == "corp")'; }
seg_up_at() { [ "$(seg_json | jq -r 'select(.state == "up") | .gateway')" = "$1" ]; }
wait_until 15 seg_up_at 10.66.0.1 || die "corp not up at gw1: $(seg_json)"
sa_at() { [ "$(sw_sa_remote corp)" = "$1" ]; }
wait_until 5 sa_at 10.66.0.1 || die "charon has no IKE SA to gw1: $(sw_sa_remote corp)"
next_gw() { echo "10.66.0.$((${1##*.} % 3 + 1))"; }

# failover SIG DEADLINE_MS LABEL: one failover of corp away from the gateway
# it is on; a line "ok kill_obs_us polls poll_us down_up_us failover_ms
# kill_down_us up_obs_us failovers from to" appended to $TMP/LABEL.txt
# (nan where unknown); FO_UP is cleared if corp is not up anywhere after
# GIVE_UP_MS. Not called in a || list: set -e stays on inside.
FO_UP=1
failover() {
	local sig=$1 deadline=$2 label=$3 from to gw pid n0 t0 t1 tn r polls=0 ok=0 obs=nan ns
	local ev down_us up_us fo_ms fo_n
	from=$(seg_json | jq -r 'select(.state == "up") | .gateway')
	if [ -z "$from" ]; then
		say "corp is not up: $(seg_json)"
		FO_UP=
		return 0
	fi
	to=$(next_gw "$from")
	gw=gw${from##*.}
	pid=$(sw_pid "$gw")
	n0=$(events_all | wc -l)
	t0=$(now_us)
	kill "-$sig" "$pid"
	# the independent observer: swanctl on the client, in a loop
	while :; do
		polls=$((polls + 1))
		r=$(sw_sa_remote corp)
		t1=$(now_us)
		if [ "$r" = "$to" ]; then
			obs=$((t1 - t0))
			break
		fi
		[ $((t1 - t0)) -lt $((GIVE_UP_MS * 1000)) ] || break
		alive "$DAEMON_PID" || die "netwardd exited during a failover"
		alive "$(sw_pid cl)" || die "the client's charon exited during a failover"
		sleep $POLL_SLEEP
	done
	tn=$t1
	# reaps it (wait: its exit status; bash would say "Killed")
	{ sw_stop "$gw" "$sig"; } 2>/dev/null || true
	# netward's side: its segw_up at the next gateway may come a little
	# after swanctl saw the SA
	wait_until 5 sh -c "'$NWCTL' --socket '$SOCK' events --json --limit 1000000 | tail -n +$((n0 + 1)) |
		jq -e -s 'any(.[]; .type == \"segw_up\")' >/dev/null" || true
	ev=$(events_all | tail -n +$((n0 + 1)))
	read -r down_us up_us fo_ms fo_n < <(jq -r -s --arg from "$from" --arg to "$to" "$JQ_US"'
		(map(.type == "segw_down" and .gateway == $from) | index(true)) as $d
		| (if $d == null then null else
		   ([to_entries[] | select(.key > $d and .value.type == "segw_up")] | first | .value) end) as $u
		| [ (if $d == null then "nan" else (.[$d] | us) end),
		    (if $u == null or $u.gateway != $to then "nan" else ($u | us) end),
		    (if $u == null or $u.gateway != $to then "nan" else ($u.failover_ms // "nan") end),
		    (map(select(.type == "segw_failover")) | length) ] | @tsv' <<<"$ev")
	if [ "$obs" != nan ] && [ "$obs" -le $((deadline * 1000)) ] && [ "$up_us" != nan ] &&
		[ $((up_us - t0)) -le $((deadline * 1000)) ]; then
		ok=1
	fi
	printf '%s %s %s %s %s %s %s %s %s %s %s\n' "$ok" "$obs" "$polls" "$(((tn - t0) / polls))" \
		"$(if [ "$down_us" != nan ] && [ "$up_us" != nan ]; then echo $((up_us - down_us)); else echo nan; fi)" \
		"$fo_ms" \
		"$(if [ "$down_us" != nan ]; then echo $((down_us - t0)); else echo nan; fi)" \
		"$(if [ "$up_us" != nan ] && [ "$obs" != nan ]; then echo $((t0 + obs - up_us)); else echo nan; fi)" \
		"$fo_n" "$from" "$to" >>"$TMP/$label.txt"
	[ $ok = 1 ] || say "PROBLEM: failover $from -> $to ($sig) not done in $deadline ms: swanctl $r, $(seg_json)"
	# the ring stays full: the stopped gateway comes back
	ns=SW_NS_$gw
	sw_start "$gw" "${!ns}"
	# corp must be up somewhere before the next one
	wait_until $((GIVE_UP_MS / 1000)) sh -c "'$NWCTL' --socket '$SOCK' segw --json |
		jq -e '.connections[] | select(.name == \"corp\" and .state == \"up\")' >/dev/null" || {
		say "corp is not up again: $(seg_json)"
		FO_UP=
	}
}

# series SIG N DEADLINE_MS LABEL
series() {
	local i
	: >"$TMP/$4.txt"
	for ((i = 1; i <= $2; i++)); do
		failover "$1" "$3" "$4"
		[ -n "$FO_UP" ] || { say "PROBLEM: the $4 series stops at failover $i"; break; }
	done
}

say "$N_TERM failovers by SIGTERM (DELETE sent) ..."
CLK_TCK=$(getconf CLK_TCK)
C0=$(cpu_ticks)
W0=$(now_us)
series TERM "$N_TERM" $TERM_DEADLINE_MS term
W1=$(now_us)
C1=$(cpu_ticks)
CPU_MS=$(((C1 - C0) * 1000 / CLK_TCK))
WALL_MS=$(((W1 - W0) / 1000))
if [ "$N_KILL" -gt 0 ]; then
	say "$N_KILL failovers by SIGKILL (dead peer detection) ..."
	# bash reports each SIGKILLed charon ("... Killed ..."): not news here
	series KILL "$N_KILL" $KILL_DEADLINE_MS kill 2> >(grep --line-buffered -v '^.*: line [0-9]*: *[0-9]* Killed ' >&2)
else
	: >"$TMP/kill.txt"
fi
STATUS=$(seg_json)
end_daemon

# --- memory ------------------------------------------------------------------------------
# gdb_bytes: nw_segw_conn_bytes() summed over the running daemon's
# connections ("n total sizeof"), or "" when it cannot be had
gdb_bytes() {
	[ -n "$HAVE_GDB" ] || return 0
	cat >"$TMP/bytes.gdb" <<'EOF'
set pagination off
set confirm off
thread 1
frame function main
set $s = d.segw
set $n = $s->n_conns
set $t = 0
set $i = 0
while $i < $n
  set $t = $t + (unsigned long)nw_segw_conn_bytes($s, $i)
  set $i = $i + 1
end
printf "SEGW_BYTES %lu %lu %lu\n", $n, $t, sizeof(*$s->conns)
detach
EOF
	DEBUGINFOD_URLS='' timeout 120 gdb -nx -batch -p "$DAEMON_PID" -x "$TMP/bytes.gdb" 2>"$TMP/gdb.err" |
		awk '$1 == "SEGW_BYTES" { print $2, $3, $4 }' || true
}
segw_all_listed() { [ "$(ctl segw --json 2>/dev/null | jq '.connections | length')" = "$1" ]; }
# mem_run LABEL CONFIG N: MEM_REPS daemons on CONFIG; "rss_kb anon_kb" of
# each in $TMP/mem-LABEL.txt; the last one's gdb figures in
# $TMP/bytes-LABEL.txt
mem_run() {
	local i
	: >"$TMP/mem-$1.txt"
	for ((i = 1; i <= MEM_REPS; i++)); do
		start_sdaemon "$2"
		if [ "$3" -gt 0 ]; then
			wait_until 15 segw_all_listed "$3" || die "netwardd does not list $3 connections"
		fi
		sleep 1		# settled: its start-up, a few VICI reconnect attempts
		echo "$(rss_kb "$DAEMON_PID" VmRSS) $(rss_kb "$DAEMON_PID" RssAnon)" >>"$TMP/mem-$1.txt"
		if [ "$3" -gt 0 ] && [ $i = "$MEM_REPS" ]; then
			gdb_bytes >"$TMP/bytes-$1.txt"
			alive "$DAEMON_PID" || die "netwardd died under gdb"
			daemon_ready || die "netwardd does not answer after gdb"
		fi
		end_daemon
	done
}
median() { sort -n | awk '{ v[NR] = $1 } END { print NR ? v[int((NR + 1) / 2)] : "nan" }'; }
mem_col() { awk -v c="$2" '{ print $c }' "$TMP/mem-$1.txt" | median; }

say "memory: netwardd with 0 and $N_CONNS SEGW connections (idle: nothing listens on the VICI socket), $MEM_REPS times each ..."
mem_conns() {	# [PSK_FILE]
	local i sep=''
	for ((i = 0; i < N_CONNS; i++)); do
		printf '%s%s\n' "$sep" "$(conn_json "$(printf 'c%04d' "$i")" "10.66.0.201, 10.66.0.202" "${1:-}")"
		sep=,
	done
}
NOBODY="unix://$TMP/nobody.vici"
write_config "$TMP/mem0.json"
write_config "$TMP/memn.json" "{ \"vici_socket\": \"$NOBODY\", \"connections\": [ $(mem_conns) ] }"
write_config "$TMP/memp.json" "{ \"vici_socket\": \"$NOBODY\", \"connections\": [ $(mem_conns "$TMP/psk") ] }"
mem_run zero "$TMP/mem0.json" 0
mem_run nopsk "$TMP/memn.json" "$N_CONNS"
mem_run psk "$TMP/memp.json" "$N_CONNS"

# --- report ----------------------------------------------------------------------------
# stats FILE COLUMN [SCALE]: "n p50 p99 max" of a column (nan skipped), / SCALE
stats() {
	awk -v c="$2" -v s="${3:-1}" '$c != "nan" { print $c / s }' "$1" | pct_stats
}
fmt_ms() { awk -v v="$1" 'BEGIN { if (v == "nan" || v == "") print "-"; else if (v >= 100) printf "%.0f ms\n", v; else printf "%.1f ms\n", v }'; }
ok_count() { awk '$1 == 1 { n++ } END { print n + 0 }' "$1"; }
rows() { wc -l <"$1"; }

T=$TMP/term.txt
K=$TMP/kill.txt
T_OK=$(ok_count "$T") T_RUNS=$(rows "$T")
K_OK=$(ok_count "$K") K_RUNS=$(rows "$K")
read -r _ DU_P50 DU_P99 DU_MAX < <(stats "$T" 5 1000)
read -r _ FO_P50 FO_P99 FO_MAX < <(stats "$T" 6)
read -r _ OB_P50 OB_P99 OB_MAX < <(stats "$T" 2 1000)
read -r _ KD_P50 KD_P99 KD_MAX < <(stats "$T" 7 1000)
read -r _ UO_P50 UO_P99 UO_MAX < <(stats "$T" 8 1000)
read -r _ PP_P50 PP_P99 PP_MAX < <(stats "$T" 4 1000)
read -r _ KDU_P50 KDU_P99 KDU_MAX < <(stats "$K" 5 1000)
read -r _ KFO_P50 KFO_P99 KFO_MAX < <(stats "$K" 6)
read -r _ KOB_P50 KOB_P99 KOB_MAX < <(stats "$K" 2 1000)
read -r _ KKD_P50 KKD_P99 KKD_MAX < <(stats "$K" 7 1000)
T_EXTRA=$(awk '$9 != "nan" && $9 > 1 { n++ } END { print n + 0 }' "$T")
CPU_PCT=$(awk -v c="$CPU_MS" -v w="$WALL_MS" 'BEGIN { printf "%.2f\n", (w > 0 ? 100 * c / w : 0) }')
CPU_PER=$(awk -v c="$CPU_MS" -v n="$T_RUNS" 'BEGIN { printf "%.1f\n", (n > 0 ? c / n : 0) }')

RSS0=$(mem_col zero 1) RSSN=$(mem_col nopsk 1) RSSP=$(mem_col psk 1)
ANON0=$(mem_col zero 2) ANONN=$(mem_col nopsk 2) ANONP=$(mem_col psk 2)
per_conn() { awk -v a="$1" -v b="$2" -v n="$N_CONNS" 'BEGIN { printf "%.0f\n", (a - b) * 1024 / n }'; }
PER_N=$(per_conn "$RSSN" "$RSS0") PER_P=$(per_conn "$RSSP" "$RSS0")
APER_N=$(per_conn "$ANONN" "$ANON0") APER_P=$(per_conn "$ANONP" "$ANON0")
kb() { awk -v v="$1" 'BEGIN { if (v == "" || v == "nan") print "-"; else printf "%.1f KB\n", v / 1024 }'; }
own_bytes() {	# LABEL: netward's own figure per connection, "-" without gdb
	local n t s
	read -r n t s <"$TMP/bytes-$1.txt" 2>/dev/null || true
	if [ -n "${n:-}" ] && [ "$n" -gt 0 ]; then
		awk -v t="$t" -v n="$n" -v s="$s" 'BEGIN { printf "%.0f bytes (struct conn %d)\n", t / n, s }'
	else
		echo "-"
	fi
}
OWN_N=$(own_bytes nopsk) OWN_P=$(own_bytes psk)
[ -n "$HAVE_GDB" ] && [ "$OWN_N" = - ] && say "gdb gave no figures: $(tail -3 "$TMP/gdb.err" | tr '\n' ' ')"

verdict() { if awk -v v="$1" -v g="$2" 'BEGIN { exit !(v != "nan" && v != "" && v + 0 < g + 0) }'; then echo met; else echo MISSED; fi; }
G1="p50 < $GOAL_P50_MS ms from segw_down to segw_up (SIGTERM series, p50 $(fmt_ms "$DU_P50")): $(verdict "$DU_P50" $GOAL_P50_MS)"
if [ "$T_OK" = "$N_TERM" ] && [ "$T_RUNS" = "$N_TERM" ]; then S=met; else S=MISSED; fi
G2="100 % success (up at the next gateway within $((TERM_DEADLINE_MS / 1000)) s, $T_OK of $N_TERM): $S"
G3="< 8 KB per connection with $N_CONNS configured (VmRSS): $(verdict "$PER_N" $GOAL_CONN_BYTES) without psk_file ($(kb "$PER_N")), $(verdict "$PER_P" $GOAL_CONN_BYTES) with a psk_file each ($(kb "$PER_P"))"
S1="seed: failover < 5 s (SIGTERM, signal to SA seen, max $(fmt_ms "$OB_MAX")): $(verdict "$OB_MAX" $SEED_FAILOVER_MS); SIGKILL (bounded by the lab's dead peer detection, max $(fmt_ms "$KOB_MAX")): $(verdict "$KOB_MAX" $SEED_FAILOVER_MS)"
S2="seed: < 100 KB per connection: $(verdict "$PER_P" $SEED_CONN_BYTES) ($(kb "$PER_P") with a psk_file each)"
S3="seed: < 10 % CPU (netwardd over the SIGTERM series, $CPU_PCT %): $(verdict "$CPU_PCT" $SEED_CPU_PCT)"

TABLE=()
row() {	# LABEL N OK P50 P99 MAX
	printf '%-52s %5s %8s %10s %10s %10s\n' "$@"
	TABLE+=("| $1 | $2 | $3 | $4 | $5 | $6 |")
}
echo
printf '%-52s %5s %8s %10s %10s %10s\n' "SIGTERM failover (DELETE sent)" n success p50 p99 max
row "netward: segw_down ts -> segw_up ts" "$T_RUNS" "$T_OK" "$(fmt_ms "$DU_P50")" "$(fmt_ms "$DU_P99")" "$(fmt_ms "$DU_MAX")"
row "netward: its own failover_ms" "$T_RUNS" "$T_OK" "$(fmt_ms "$FO_P50")" "$(fmt_ms "$FO_P99")" "$(fmt_ms "$FO_MAX")"
row "independent: signal -> swanctl shows SA at next gw" "$T_RUNS" "$T_OK" "$(fmt_ms "$OB_P50")" "$(fmt_ms "$OB_P99")" "$(fmt_ms "$OB_MAX")"
row "  of which: signal -> segw_down" "$T_RUNS" - "$(fmt_ms "$KD_P50")" "$(fmt_ms "$KD_P99")" "$(fmt_ms "$KD_MAX")"
row "  of which: segw_up -> swanctl saw it (polling)" "$T_RUNS" - "$(fmt_ms "$UO_P50")" "$(fmt_ms "$UO_P99")" "$(fmt_ms "$UO_MAX")"
row "  swanctl poll period" "$T_RUNS" - "$(fmt_ms "$PP_P50")" "$(fmt_ms "$PP_P99")" "$(fmt_ms "$PP_MAX")"
TERM_ROWS=("${TABLE[@]}")
TABLE=()
echo
printf '%-52s %5s %8s %10s %10s %10s\n' "SIGKILL failover (dead peer detection)" n success p50 p99 max
row "netward: segw_down ts -> segw_up ts" "$K_RUNS" "$K_OK" "$(fmt_ms "$KDU_P50")" "$(fmt_ms "$KDU_P99")" "$(fmt_ms "$KDU_MAX")"
row "netward: its own failover_ms" "$K_RUNS" "$K_OK" "$(fmt_ms "$KFO_P50")" "$(fmt_ms "$KFO_P99")" "$(fmt_ms "$KFO_MAX")"
row "independent: signal -> swanctl shows SA at next gw" "$K_RUNS" "$K_OK" "$(fmt_ms "$KOB_P50")" "$(fmt_ms "$KOB_P99")" "$(fmt_ms "$KOB_MAX")"
row "  of which: signal -> segw_down (DPD)" "$K_RUNS" - "$(fmt_ms "$KKD_P50")" "$(fmt_ms "$KKD_P99")" "$(fmt_ms "$KKD_MAX")"
KILL_ROWS=("${TABLE[@]}")
MEM_ROWS=()
memrow() {	# LABEL RSS ANON PER APER OWN
	printf '%-40s %10s %10s %14s %14s %s\n' "$@"
	MEM_ROWS+=("| $1 | $2 | $3 | $4 | $5 | $6 |")
}
echo
printf '%-40s %10s %10s %14s %14s %s\n' "netwardd, median of $MEM_REPS" VmRSS RssAnon "VmRSS/conn" "RssAnon/conn" "nw_segw_conn_bytes/conn"
memrow "no segw section" "$RSS0 KB" "$ANON0 KB" - - -
memrow "$N_CONNS connections, no psk_file" "$RSSN KB" "$ANONN KB" "$(kb "$PER_N")" "$(kb "$APER_N")" "$OWN_N"
memrow "$N_CONNS connections, a psk_file each" "$RSSP KB" "$ANONP KB" "$(kb "$PER_P")" "$(kb "$APER_P")" "$OWN_P"
CPU_LINE="CPU: netwardd used $CPU_MS ms of CPU (utime + stime, in ticks of $((1000 / CLK_TCK)) ms) over the $WALL_MS ms of the SIGTERM series ($T_RUNS failovers, gateway restarts included): $CPU_PCT %, $CPU_PER ms per failover"
NOTE_T="SIGTERM series: p99 by nearest rank (below 100 runs: the max); failovers with more than one segw_failover event (a first attempt that failed): $T_EXTRA; netward's failover_ms runs from its read of the ike-updown down (CLOCK_MONOTONIC) to the initiate's reply, the events' ts are CLOCK_REALTIME at emission; the independent time also holds charon's DELETE and the client's ike-updown (signal -> segw_down) and the polling lag (segw_up -> swanctl saw it, at most one poll period: one swanctl run plus $POLL_SLEEP s)"
NOTE_K="SIGKILL series: the gateway is gone without a word; the client's charon finds out by dead peer detection (a DPD request after 1 s without traffic (dpd_delay), then retransmit_timeout 1.0 s, base 1.4, 2 tries: 1.0 + 1.4 + 1.96 = 4.4 s until it gives up, so 4.4-5.4 s after the gateway died), then netward fails over as with SIGTERM: bounded by the lab's DPD settings, not by netward; success = up at the next gateway within $((KILL_DEADLINE_MS / 1000)) s"
NOTE_M="memory: VmRSS and RssAnon (/proc/PID/status) 1 s after netwardd lists all its connections (vici_socket: a path in the temporary directory where nothing listens, so they stay idle and only the definitions are held), minus the same daemon with no segw section, / $N_CONNS; each connection has two gateways and the lab's conn definition (193 bytes as compact JSON). With psk_file (all naming one file), the PSK is read once into one locked anonymous mapping (2 pages for NW_SECRET_MAX 4096 + slack) that every connection shares"
[ -n "$HAVE_GDB" ] || NOTE_M="$NOTE_M; nw_segw_conn_bytes: gdb is not installed"
[ -z "$HAVE_GDB" ] || NOTE_M="$NOTE_M; nw_segw_conn_bytes: netward's own estimate of what the segw module holds (struct conn + twice the definition's JSON text + the gateway strings), summed in the running daemon through gdb; it counts neither the PSK mapping nor the parsed configuration, which netwardd keeps beside it (its d->cfg holds a copy of every definition of its own)"
echo
for l in "$G1" "$G2" "$G3" "$S1" "$S2" "$S3"; do echo "$l"; done
echo "- $CPU_LINE"
echo "- $NOTE_T"
echo "- $NOTE_K"
echo "- $NOTE_M"
echo "- last state of corp: $STATUS"
echo

[ -n "$OUT" ] || exit 0

{
	section_head "$SECTION"
	echo "Goals (issue 7): from the down event to the new IKE SA up p50 < $GOAL_P50_MS ms over"
	echo "$N_TERM failovers, 100 % success, < 8 KB per connection with $N_CONNS configured."
	echo "The seed's: failover < 5 s, < 100 KB per connection, < 10 % CPU."
	echo
	echo "| SIGTERM failover (DELETE sent) | n | success | p50 | p99 | max |"
	echo "| --- | ---: | ---: | ---: | ---: | ---: |"
	printf '%s\n' "${TERM_ROWS[@]}"
	echo
	echo "| SIGKILL failover (dead peer detection) | n | success | p50 | p99 | max |"
	echo "| --- | ---: | ---: | ---: | ---: | ---: |"
	printf '%s\n' "${KILL_ROWS[@]}"
	echo
	echo "| netwardd, median of $MEM_REPS | VmRSS | RssAnon | VmRSS / connection | RssAnon / connection | nw_segw_conn_bytes / connection |"
	echo "| --- | ---: | ---: | ---: | ---: | ---: |"
	printf '%s\n' "${MEM_ROWS[@]}"
	echo
	for l in "$G1" "$G2" "$G3" "$S1" "$S2" "$S3"; do echo "- $l."; done
	echo
	echo "- $CPU_LINE."
	echo "- $NOTE_T."
	echo "- $NOTE_K."
	echo "- $NOTE_M."
	echo
	echo "The lab is tests/integration/strongswan.sh's: a bridge namespace, a client"
	echo "(10.66.0.10) and gateways gw1..gw3 (10.66.0.1..3), each with a real charon"
	echo "(its own /run, strongswan.conf and VICI socket), IKEv2 with PSK,"
	echo "aes128-sha256-modp2048, IKE SAs only (no CHILD_SA: no ESP needed). netwardd"
	echo "runs in the client's namespace with one connection \"corp\" over gw1, gw2, gw3"
	echo "(initiate_timeout_ms $INITIATE_MS). Each failover signals the charon of the"
	echo "gateway the connection is on, waits until it is up at the next one, then"
	echo "starts the stopped charon again so that the ring stays full. The independent"
	echo "time runs from just before kill(1) to the first \`swanctl --list-sas --ike"
	echo "corp\` on the client that shows the IKE SA ESTABLISHED with the next gateway"
	echo "as its remote address (bash EPOCHREALTIME); a failover counts as a success when"
	echo "that and netward's segw_up at the next gateway both come within the deadline."
	echo
} >"$TMP/section.md"

write_section "$OUT" "$SECTION" "$TMP/section.md"
