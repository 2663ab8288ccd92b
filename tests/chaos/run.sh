#!/usr/bin/env bash
# The chaos run (issue 9): netwardd guards a lab of network namespaces made
# here (tests/chaos/lab.sh) while, at random and all at once, other
# processes delete its default routes and protected rule, churn rules from
# three cgroups, flap links, bind wildcards, and the run kills (SIGKILL or
# SIGTERM, keep_on_exit) and restarts netwardd, takes the Cloudflare API
# stand-in's tunnel down and up, and kills and restarts SEGW gateways. Then
# tests/chaos/verify.sh checks that the protected routes and rules are
# back, enforcement held the whole time, nothing the config does not name
# was touched, CPU and RSS stayed in bounds, and every event is accounted
# for (ring buffer drops counted and reported).
#
# Usage: tests/chaos/run.sh [SECONDS]    (root; default 60)
# Environment:
#   BUILD            build directory (build)
#   CHAOS_SEED       seed of the random schedule (printed; default random)
#   CHAOS_RESTARTS   1: kill and restart netwardd (default); 0: one daemon
#                    for the whole run (the soak measures its growth)
#   CHAOS_REPORT     write the run's figures there as JSON
#   CHAOS_KEEP       copy the run's logs (actors, events, samples, netwardd's
#                    log, config) to this directory at the end
#   CHAOS_CPU_MAX_PCT, CHAOS_RSS_MAX_KB   the bounds (see verify.sh)
# Prints PASS/FAIL per check and "N passed, N failed" last; exit 0 when
# every check passed. Everything made is removed on exit, whatever happens.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../integration/lib.sh
. "$HERE/../integration/lib.sh"
# tn_api, tn_script, TN_ACCOUNT, TN_TUNNEL (tunnel stand-in); sg_conn (SEGW)
# shellcheck source=../integration/test_tunnels.sh
. "$HERE/../integration/test_tunnels.sh"
# shellcheck source=../integration/test_segw.sh
. "$HERE/../integration/test_segw.sh"
. "$HERE/lab.sh"
. "$HERE/actors.sh"
. "$HERE/schedule.sh"
. "$HERE/verify.sh"

DURATION=${1:-${CHAOS_SECONDS:-60}}
SEED=${CHAOS_SEED:-$((RANDOM * 32768 + RANDOM))}
RESTARTS=${CHAOS_RESTARTS:-1}
[[ $DURATION =~ ^[0-9]+$ ]] && [ "$DURATION" -ge 5 ] ||
	{ echo "chaos: SECONDS must be a whole number >= 5, got '$DURATION'" >&2; exit 2; }
nw_preflight "chaos: needs root (BPF, namespaces, cgroups)" "chaos: "
setup_fs

chaos_main() {
	local t_end
	nw_test_init
	mkdir -p "$TMP/chaos"
	[ -z "${CHAOS_KEEP:-}" ] || defer "chaos_keep '$CHAOS_KEEP'"
	log "chaos: ${DURATION} s, seed $SEED, restarts $RESTARTS, scratch $TMP"
	RANDOM=$SEED
	chaos_lab
	chaos_config "$TMP/cfg.json"
	daemon_up
	chaos_settled 20 || { chaos_show; fail "the lab did not settle before the run"; }
	COUNTERS_START=$(ctl counters --json) || fail "counters"
	T_START=$(now_ms)

	ACTOR_PIDS=()
	start_actor deleter "$CG_DEL" $((SEED + 1)) actor_deleter
	start_actor churn1 "$CG_R1" $((SEED + 2)) actor_churner
	start_actor churn2 "$CG_R2" $((SEED + 3)) actor_churner
	start_actor churn3 "$CG_R3" $((SEED + 4)) actor_churner
	start_actor flapper "$CG_FLAP" $((SEED + 5)) actor_flapper
	start_actor vpn "$CG_VPN" $((SEED + 6)) actor_vpn
	start_actor binder "$CG_BIND" $((SEED + 7)) actor_binder
	defer "touch '$TMP/chaos/stop'"

	t_end=$((T_START + DURATION * 1000))
	schedule_init
	while [ "$(now_ms)" -lt "$t_end" ]; do
		schedule_tick
		sleep 0.1
	done
	stop_actors
	T_STOP=$(now_ms)
	schedule_quiesce
	chaos_verify
}

chaos_keep() {
	rm -rf "$1"
	mkdir -p "$1"
	cp -r "$TMP/chaos/." "$TMP/cfg.json" "$1/" 2>/dev/null
	cp "$TMP/daemon.log" "$1/netwardd.log" 2>/dev/null
}

( chaos_main )
