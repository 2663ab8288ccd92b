#!/usr/bin/env bash
# One netwardd under valgrind (memcheck) through the integration scenario:
# every subsystem configured at once in a lab of namespaces and cgroups
# made here (tests/integration/lib.sh), each feature driven at least once,
# every netwardctl verb asked with --json, good and refused reloads, then
# SIGTERM. Passes when the functional checks held, valgrind reports no
# error and no definite, indirect or possible leak, and netwardd closed
# every descriptor it opened.
#
# Usage: BUILD=build tests/valgrind/scenario.sh      (root; `make valgrind`)
# Environment:
#   VG_WAIT=60        deadline in seconds of each polled condition (valgrind
#                     makes netwardd 20-50x slower)
#   VG_START_WAIT=240 deadline for netwardd to answer after its start
#   VG_DIR=$BUILD/valgrind   where the logs are kept (valgrind.log,
#                     daemon.log, events.jsonl, requests.log)
#   VG_OPTS=          more valgrind options, e.g. --track-origins=yes
#   VG_SUPP=tests/valgrind/netward.supp   the suppressions
# Prints PASS/FAIL per check and "N passed, N failed" last; exit 0 when
# all passed, 1 otherwise, 77 when it cannot run (no valgrind, not root).
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../integration/lib.sh
. "$HERE/../integration/lib.sh"

VG_WAIT=${VG_WAIT:-60}
VG_START_WAIT=${VG_START_WAIT:-240}
VG_DIR=${VG_DIR:-$BUILD/valgrind}
VG_SUPP=${VG_SUPP:-$HERE/netward.supp}
VG_LOG=$VG_DIR/valgrind.log
EVENTS=$VG_DIR/events.jsonl
REQS=$VG_DIR/requests.log

# --- reporting ---------------------------------------------------------------

vg_passed=0 vg_failed=0
vg_pass() { vg_passed=$((vg_passed + 1)); echo "PASS: $*"; }
vg_fail() { vg_failed=$((vg_failed + 1)); echo "FAIL: $*"; }
# check WHAT CMD...: CMD's status is the verdict
check() {
	local what=$1
	shift
	if "$@"; then vg_pass "$what"; else vg_fail "$what"; fi
}
# phase TEXT: what comes next, with the time since the start
phase() { printf '# [%4ds] %s\n' $((SECONDS - VG_T0)) "$*"; }
vg_skip_all() { echo "SKIP: $*" >&2; echo "0 passed, 0 failed"; exit "$SKIP"; }

# The daemon is slow under valgrind: poll it every 0.25 s, not every 20 ms.
vg_wait() {
	local deadline=$((SECONDS + $1))
	shift
	while :; do
		"$@" && return 0
		[ $SECONDS -ge $deadline ] && return 1
		sleep 0.25
	done
}

# --- the daemon's answers ----------------------------------------------------

# vctl ARGS...: netwardctl, each request recorded in requests.log
vctl() {
	echo "$*" >>"$REQS"
	"$NWCTL" --socket "$SOCK" --pin-dir "$PIN" "$@"
}
# vctl_json ARGS...: --json output that jq accepts
vctl_json() {
	local out
	out=$(vctl "$@" --json) || [ $? = 1 ] || return 1	# 1: "condition not met"
	jq -e . <<<"$out" >/dev/null
}
# vq ARGS...: vctl, its output thrown away
vq() { vctl "$@" >/dev/null; }
# raw LINE: one request line written straight to the control socket; prints
# the reply line
raw() {
	echo "raw $1" >>"$REQS"
	python3 - "$SOCK" "$1" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(120)
s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode() + b"\n")
buf = b""
while not buf.endswith(b"\n"):
    d = s.recv(65536)
    if not d:
        break
    buf += d
sys.stdout.write(buf.decode())
PY
}
# json_is TEXT FILTER: TEXT is JSON that satisfies the jq filter
json_is() { jq -e "$2" <<<"$1" >/dev/null 2>&1; }
# raw_close LINE: the request, then gone without reading the answer
raw_close() {
	echo "raw (then closed) $1" >>"$REQS"
	python3 -c 'import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode() + b"\n")
s.close()' "$SOCK" "$1"
}
# status_is FILTER: status --json satisfies the jq filter
status_is() { vctl status --json 2>/dev/null | jq -e "$1" >/dev/null; }
# reply_is VERB FILTER: VERB --json satisfies the jq filter
reply_is() { vctl "$1" --json 2>/dev/null | jq -e "$2" >/dev/null; }

# Events come from one `netwardctl events --follow --json` started with the
# daemon (history, then the stream): waiting reads the file, not the daemon.
has_event() { jq -e -n "any(inputs; $1)" "$EVENTS" >/dev/null 2>&1; }
# ev WHAT FILTER: a check that waits for an event matching FILTER
ev() { check "$1" vg_wait "$VG_WAIT" has_event "$2"; }

# --- lab -----------------------------------------------------------------------

TN_ACCOUNT=0123456789abcdef0123456789abcdef
TN_TUNNEL=6ff42ae2-765d-4adf-8112-31c55c1551ef
TN_UNIT=cloudflared-backup.service

# tn_script STEPS_JSON [TOKEN]: what the API stand-in answers about the
# tunnel (tests/helpers/cf_mock.py), and the token it expects (ours)
tn_script() {
	jq -n --arg a "$TN_ACCOUNT" --arg t "$TN_TUNNEL" --arg tok "${2:-$TN_TOKEN}" \
		--argjson steps "$1" '{tokens: {($a): $tok}, tunnels: {($t): $steps},
		  ready: {web: {code: 503, conns: 0}}}' >"$TMP/cf.script.new"
	mv "$TMP/cf.script.new" "$TMP/cf.script"
}
bus_calls() { grep -c "^$1 $TN_UNIT replace$" "$FAKE_BUS_LOG"; }

# in_cgroup CGROUP_DIR CMD...: CMD in the lab, from a shell that first moves
# itself into CGROUP_DIR (only processes started here are ever moved)
in_cgroup() {
	local cg=$1
	shift
	nsenter --net="/run/netns/$NS" sh -c 'echo $$ >"$1/cgroup.procs" || exit 99; shift; exec "$@"' \
		sh "$cg" "$@"
}

# the churner: rule add/del in its own cgroup until it is stopped (killed
# by the quarantine) or has done 2000 rounds
churner() {
	nsenter --net="/run/netns/$NS" sh -c '
		echo $$ >"$1/cgroup.procs" || exit 99
		i=0
		while [ $i -lt 2000 ]; do
			ip rule add uidrange 1103-1103 table 103 prio 103 || exit 3
			ip rule del uidrange 1103-1103 table 103 prio 103 || exit 4
			i=$((i + 1))
		done' sh "$CG_CHURN"
}

# config FILE [VARIANT]: the whole configuration; VARIANT "reloaded" is the
# good reload (other thresholds and intervals, one probe and one bind rule
# more, no ready_url)
config() {
	local f=$1 v=${2:-} storm=20 tint=1000 mint=1000 segw='' dnsprobe='' ready extra_rule=''
	ready=", \"ready_url\": \"http://127.0.0.1:$TN_PORT/ready/web\""
	if [ "$v" = reloaded ]; then
		storm=30 tint=1200 mint=1500 ready=''
		dnsprobe=', { "name": "name", "type": "dns", "target": "localhost", "interval_ms": 2000, "timeout_ms": 1500 }'
		extra_rule=', { "port": 18451, "proto": "udp", "action": "audit" }'
	fi
	if [ -n "$SEGW" ]; then
		segw=", \"segw\": { \"vici_socket\": \"unix://$(sw_dir cl)/charon.vici\",
		    \"initiate_timeout_ms\": $([ "$v" = reloaded ] && echo 6000 || echo 5000),
		    \"connections\": [ { \"name\": \"corp\", \"remote_addrs\": \"10.66.0.1,10.66.0.2,10.66.0.3\",
		      \"max_retries\": 5, \"psk_file\": \"$TMP/psk\",
		      \"conn\": { \"version\": 2, \"local_addrs\": \"10.66.0.10\",
		                  \"proposals\": \"aes128-sha256-modp2048\", \"dpd_delay\": \"1s\",
		                  \"keyingtries\": 1,
		                  \"local\": { \"auth\": \"psk\", \"id\": \"client-corp.lab\" },
		                  \"remote\": { \"auth\": \"psk\", \"id\": \"%any\" } } } ] }"
	fi
	write_config "$f" <<JSON
{ "binds": { "cgroup": "$CG", "default_action": "deny",
    "rules": [ { "cgroup": "${CG_APP#"$CG2"}", "port": 18443, "proto": "tcp", "family": 4,
                 "action": "rewrite" },
               { "cgroup": "${CG_LATER#"$CG2"}", "port": 18460, "action": "rewrite" },
               { "port": 18450, "action": "audit" } $extra_rule ] },
  "routes": { "learn_default": true,
    "protect": [ { "dst": "default", "family": 4, "table": 100 } ],
    "fallback": { "gateway": "192.0.2.1", "dev": "d0", "metric": 1000 } },
  "rules": { "protect": [ { "priority": 10101, "table": 101, "uidrange": "1101-1101" } ],
    "storm_threshold": $storm, "window_ms": 1000, "auto_quarantine": true },
  "probes": [
    { "name": "inet", "type": "icmp", "target": "203.0.113.1", "interval_ms": 1000, "timeout_ms": 800 },
    { "name": "gw", "type": "icmp", "target": "192.0.2.1", "role": "gateway",
      "interval_ms": 1000, "timeout_ms": 800 },
    { "name": "tcp", "type": "tcp", "target": "203.0.113.1", "port": 18080,
      "interval_ms": 1500, "timeout_ms": 1200 },
    { "name": "web", "type": "http", "target": "http://203.0.113.1:18080/", "expect_status": 200,
      "interval_ms": 1500, "timeout_ms": 1200 } $dnsprobe ],
  "recovery": { "fail_threshold": 2, "emergency_threshold": 50, "vpn_interfaces": ["wg-dead*"],
    "resolv_conf": "$TMP/resolv.conf", "step_timeout_ms": 5000 },
  "tunnels": { "api_base": "http://127.0.0.1:$TN_PORT/client/v4", "interval_ms": $tint,
    "timeout_ms": 800, "gateway": "192.0.2.1",
    "watch": [ { "name": "web", "account_id": "$TN_ACCOUNT", "tunnel_id": "$TN_TUNNEL",
                 "token_file": "$TMP/cf.token", "service": "$TN_UNIT", "fall": 2, "rise": 2,
                 "stop_on_recovery": true $ready } ] },
  "metrics": { "textfile": "$TMP/prom/netward.prom", "interval_ms": $mint } $segw }
JSON
}

# --- checks on valgrind's report -------------------------------------------------

vg_summary_errors() { sed -n 's/.*ERROR SUMMARY: \([0-9]*\) errors.*/\1/p' "$VG_LOG" | tail -1; }
vg_no_errors() { [ "$(vg_summary_errors)" = 0 ]; }
vg_no_leaks() {
	grep -q 'ERROR SUMMARY' "$VG_LOG" &&
		! grep -Eq '(definitely|indirectly|possibly) lost: [1-9]' "$VG_LOG" &&
		! grep -Eq 'are (definitely|indirectly|possibly) lost in loss record' "$VG_LOG"
}
# --track-fds: every descriptor open at exit came from the parent
vg_no_fd_leaks() {
	awk '/== Open .*(descriptor|socket) [0-9]+:/ { getline; if ($0 !~ /inherited from parent/) bad++ }
	     END { exit bad > 0 }' "$VG_LOG"
}
vg_no_fatal_signal() { ! grep -q 'Process terminating with default action of signal' "$VG_LOG"; }

# --- main ------------------------------------------------------------------------

[ "$(id -u)" -eq 0 ] || vg_skip_all "needs root (BPF programs, namespaces, cgroups)"
command -v valgrind >/dev/null || vg_skip_all "valgrind is not installed (apt-get install valgrind)"
# root already (a skip above): the binaries
nw_preflight "needs root (BPF programs, namespaces, cgroups)"
for t in jq python3 nsenter; do
	command -v "$t" >/dev/null || vg_skip_all "$t is needed"
done
setup_fs
VG_T0=$SECONDS
nw_test_init			# $TMP, $PIN, $SOCK; the EXIT trap runs the defers
rm -rf "$VG_DIR"
mkdir -p "$VG_DIR"
: >"$REQS"
: >"$EVENTS"

phase "lab: namespaces, cgroups, stand-ins"
new_inet_lab NS
NET=$NS_NET
new_cgroup CG
new_cgroup CG_APP "$CG"
new_cgroup CG_CHURN "$CG"
new_cgroup CG_QUAR "$CG"
CG_LATER=$CG/later-$(rand)	# made while the daemon runs: its rule waits for it
# vpn0: the device of the protected table-100 default route; down, its route
# cannot be put back and the fallback stands in
ip -n "$NS" tuntap add mode tun name vpn0 || fail "tuntap vpn0"
ip -n "$NS" link set vpn0 up
ip -n "$NS" route add default dev vpn0 table 100 || fail "table 100 route"
ip -n "$NS" rule add uidrange 1101-1101 lookup 101 pref 10101 || fail "protected rule"
printf 'nameserver 192.0.2.53\n' >"$TMP/resolv.conf"
mkdir "$TMP/prom"
# http and tcp probes: a responder in the "internet"
nsenter --net="/run/netns/$NET" python3 -m http.server --bind 203.0.113.1 18080 >"$TMP/http.log" 2>&1 &
defer "kill $!"
wait_until 10 sh -c "ip netns exec '$NET' ss -Hltn | grep -q ':18080'" || fail "http responder"
# a wildcard listener from before the start: the start-up scan reports it
# (listeners --hold until their stdin ends: a pipe this script keeps open)
mkfifo "$TMP/hold"
exec {HOLD_FD}<>"$TMP/hold"
nw_bind "$NS" "$CG" --port 18999 --listen --hold <&$HOLD_FD >"$TMP/scan.out" &
defer "kill $!"
wait_until 10 test -s "$TMP/scan.out" || fail "listener before the start"
# the Cloudflare API stand-in on the lab's loopback, its token owner-only
TN_TOKEN=tok-$(rand)$(rand)
install -m 600 /dev/null "$TMP/cf.token"
printf '%s\n' "$TN_TOKEN" >"$TMP/cf.token"
: >"$TMP/cf.log"
TN_PORT=0
tn_script '[{"status": "healthy"}]'
nsenter --net="/run/netns/$NS" python3 "$NW_ROOT/tests/helpers/cf_mock.py" \
	--script "$TMP/cf.script" --log "$TMP/cf.log" >"$TMP/cf.out" 2>&1 &
defer "kill $!"
wait_until 10 grep -q '^listening' "$TMP/cf.out" || fail "API stand-in did not start"
TN_PORT=$(awk '/^listening/ { print $2 }' "$TMP/cf.out")
# systemd on a private bus (the backup unit)
start_fake_bus systemd1
# strongSwan: a client charon and three gateways (skipped when not installed)
SEGW=
# shellcheck disable=SC2154 # SW_NS_*: set by sw_lab (tests/integration/strongswan.sh)
if sw_available; then
	sw_lab
	sw_start cl "$SW_NS_cl"
	sw_start gw1 "$SW_NS_gw1"
	sw_start gw2 "$SW_NS_gw2"
	sw_start gw3 "$SW_NS_gw3"
	install -m 600 /dev/null "$TMP/psk"
	printf '%s\n' "$SW_PSK" >"$TMP/psk"
	SEGW=1
else
	echo "SKIP: segw part: strongSwan (charon, swanctl) is not installed"
fi
config "$TMP/cfg.json"
"$NWD" --check-config --config "$TMP/cfg.json" >"$TMP/check.out" 2>&1 ||
	{ cat "$TMP/check.out" >&2; fail "the scenario's configuration is invalid"; }

phase "netwardd under valgrind"
# never the machine's system bus: the stand-in
# shellcheck disable=SC2086 # VG_OPTS: options, split on purpose
DBUS_SYSTEM_BUS_ADDRESS=$NW_SYSTEM_BUS ip netns exec "$NS" valgrind \
	--leak-check=full --show-leak-kinds=definite,indirect,possible \
	--errors-for-leak-kinds=definite,indirect,possible --error-exitcode=99 \
	--track-fds=yes --num-callers=30 --suppressions="$VG_SUPP" --log-file="$VG_LOG" \
	${VG_OPTS:-} \
	"$NWD" --config "$TMP/cfg.json" --pin-dir "$PIN" --socket "$SOCK" --state-dir "$TMP/state" \
	>"$VG_DIR/daemon.log" 2>&1 {HOLD_FD}>&- &
DAEMON_PID=$!
defer "stop_daemon_hard $DAEMON_PID '$PIN'"
if ! wait_until "$VG_START_WAIT" daemon_ready; then
	tail -n 30 "$VG_DIR/daemon.log" >&2
	vg_fail "netwardd answers within ${VG_START_WAIT}s"
	echo "$vg_passed passed, $vg_failed failed"
	exit 1
fi
vg_pass "netwardd answers after $((SECONDS - VG_T0))s"
# the event stream, from the history on
"$NWCTL" --socket "$SOCK" events --follow --json >"$EVENTS" 2>"$VG_DIR/follow.err" &
FOLLOW_PID=$!
defer "kill $FOLLOW_PID"
echo "events --follow --json" >>"$REQS"
ev "start-up event" '.type == "daemon" and (.message | test("started"))'
ev "start-up scan: the listener from before" \
	'.type == "wildcard_listener" and .source == "scan" and .port == 18999'

phase "every verb, --json"
for v in status counters churn probes recovery tunnels segw "quarantine list" "blocklist list"; do
	# shellcheck disable=SC2086
	check "netwardctl $v --json" vctl_json $v
done
check "netwardctl events --type daemon --limit 1 --json" \
	sh -c "[ \$('$NWCTL' --socket '$SOCK' events --type daemon --limit 1 --json | jq -c . | wc -l) = 1 ]"
echo "events --type daemon --limit 1" >>"$REQS"
check "probes connected" vg_wait "$VG_WAIT" reply_is probes '.connectivity.state == "connected"'

phase "binds"
out=$(nw_bind "$NS" "$CG" --port 18444)
check "wildcard bind denied (EPERM)" test "$(jfield "$out" .bind)" = EPERM
ev "bind_denied event" '.type == "bind_denied" and .port == 18444 and .action == "deny"'
out=$(nw_bind "$NS" "$CG_APP" --port 18443)
check "bind rewritten to 127.0.0.1 (cgroup rule)" test "$(jfield "$out" .addr)" = 127.0.0.1
ev "bind_rewritten event" '.type == "bind_rewritten" and .port == 18443 and .new_addr == "127.0.0.1"'
out=$(nw_bind "$NS" "$CG" --family 6 --proto udp --port 18450)
check "bind audited (port rule)" test "$(jfield "$out" .addr)" = ::
ev "bind_audit event" '.type == "bind_audit" and .port == 18450'
nw_bind "$NS" "$CG" --no-bind --listen --hold <&$HOLD_FD >"$TMP/autobind.out" &
defer "kill $!"
ev "listen() without bind() reported" '.type == "wildcard_listener" and .source == "autobind"'
mkdir "$CG_LATER" && defer "kill_cgroup '$CG_LATER'; rmdir '$CG_LATER'"
later_rewritten() { [ "$(nw_bind "$NS" "$CG_LATER" --port 18460 | jq -r .addr)" = 127.0.0.1 ]; }
check "the rule of a cgroup made later applies" vg_wait "$VG_WAIT" later_rewritten
check "blocklist add" vq blocklist add --cgroup "${CG#"$CG2"/}" --port 18470 --action audit
check "blocklist list --json shows it" sh -c "'$NWCTL' --pin-dir '$PIN' blocklist list --json | jq -e 'any(.[]; .port == 18470)' >/dev/null"
check "blocklist del" vq blocklist del --cgroup "${CG#"$CG2"/}" --port 18470

phase "routes"
ip -n "$NS" route del default
ev "deleted default route restored" '.type == "route_restored" and .dst == "default" and .family == 4 and .table == 254'
check "default route back" vg_wait "$VG_WAIT" has_route "$NS" default via 192.0.2.1 dev d0
ip -n "$NS" -6 route del default
ev "deleted IPv6 default route restored" '.type == "route_restored" and .dst == "default" and .family == 6'
ip -n "$NS" link set vpn0 down
ev "fallback installed for the table-100 route" '.type == "route_restored" and .fallback == true and .table == 100'
check "fallback route in table 100" vg_wait "$VG_WAIT" has_route "$NS" default via 192.0.2.1 table 100
ip -n "$NS" link set vpn0 up
check "table-100 route back on vpn0" vg_wait "$VG_WAIT" has_route "$NS" default dev vpn0 table 100
check "fallback removed" vg_wait "$VG_WAIT" eval '! has_route "$NS" default via 192.0.2.1 table 100'

phase "rules, churn, quarantine"
ip -n "$NS" rule del pref 10101
ev "protected rule restored" '.type == "rule_restored" and .priority == 10101'
# the restores above are rtnetlink writes too, counted when the slow daemon
# gets to them: a quiet network first, so the storm is the churner's alone
check "wait-stable --json" vctl_json wait-stable --quiet 1500 --timeout $((VG_WAIT * 1000))
churner 2>"$TMP/churn.err" &
CHURN_PID=$!
defer "kill $CHURN_PID"
ev "rule_storm" '.type == "rule_storm" and .count >= 20'
ev "storming cgroup auto-quarantined" \
	".type == \"quarantined\" and .action == \"auto_quarantined\" and .cgroup == \"${CG_CHURN#"$CG2"}\""
if vg_wait "$VG_WAIT" sh -c "! kill -0 $CHURN_PID 2>/dev/null"; then
	wait "$CHURN_PID"
	rc=$?
	check "the churner was stopped by the quarantine (exit $rc)" test "$rc" -ge 3 -a "$rc" -le 4
else
	vg_fail "the churner was stopped"
fi
check "quarantine list --json names it" sh -c "'$NWCTL' --pin-dir '$PIN' --socket '$SOCK' quarantine list --json | jq -e --arg cg '${CG_CHURN#"$CG2"}' 'any(.[]; .cgroup == \$cg and .auto == true)' >/dev/null"
check "quarantine add" vq quarantine add --cgroup "$CG_QUAR"
in_cgroup "$CG_QUAR" ip rule add prio 123 table 77 2>/dev/null
rc=$?
check "quarantined writer killed (exit $rc)" test "$rc" = 137
ev "quarantined write reverted" '.type == "quarantined" and .action == "reverted" and .priority == 123'
in_cgroup "$CG_QUAR" ip route add 10.77.0.0/16 via 192.0.2.1 table 100 2>/dev/null
rc=$?
check "quarantined route writer killed (exit $rc)" test "$rc" = 137
ev "quarantined route added is removed" '.type == "quarantined" and .action == "reverted" and .request == "RTM_NEWROUTE"'
check "quarantine del" vq quarantine del --cgroup "$CG_QUAR"
check "netwardctl churn --json counts the churner" sh -c "'$NWCTL' --pin-dir '$PIN' churn --json | jq -e --arg cg '${CG_CHURN#"$CG2"}' 'any(.[]; .cgroup == \$cg and .rule > 0)' >/dev/null"
check "wait-stable --json after the quarantine" vctl_json wait-stable --quiet 300 --timeout $((VG_WAIT * 1000))

phase "probes and recovery"
ip -n "$NS" tuntap add mode tun name wg-dead-1
ip -n "$NS" link set wg-dead-1 up
ip -n "$NS" route add 0.0.0.0/1 dev wg-dead-1
ip -n "$NS" route add 128.0.0.0/1 dev wg-dead-1
ip -n "$NS" rule add oif wg-dead-1 lookup 104 pref 1001	# left behind: remove_stale
ev "connectivity lost" '.type == "connectivity_lost"'
ev "recovery removed the dead VPN interface" \
	'.type == "recovery_step" and .step == "remove_vpn_interfaces" and .result == "changed"'
ev "connectivity restored" '.type == "connectivity_restored" and .level == 2'
ev "recovery removed the rule it left" '.type == "recovery_step" and .step == "remove_stale" and .result == "changed"'
check "wg-dead-1 gone" eval '! ip -n "$NS" link show wg-dead-1 >/dev/null 2>&1'
check "probes --now --json connected" vctl_json probes --now
check "recovery --json says connected" reply_is recovery '.state == "connected"'

phase "tunnels"
ev "tunnel healthy" '.type == "tunnel_state" and .status == "healthy"'
# what goes wrong with the API is reported, and is no outage
tn_script '[{"status": "down"}]' "some-other-token"
ev "tunnel: a refused token raises the alarm" '.type == "tunnel_state" and .outcome == "auth"'
tn_script '[{"body": "<html>oops</html>"}]'
ev "tunnel: a reply that is not JSON" '.type == "tunnel_state" and .outcome == "bad_reply"'
tn_script '[{"success": false, "error": [1003, "Invalid tunnel"]}]'
ev "tunnel: an API error" '.type == "tunnel_state" and .outcome == "api_error"'
tn_script '[{"code": 500}]'
ev "tunnel: a server error" '.type == "tunnel_state" and .outcome == "server"'
tn_script '[{"code": 429, "retry_after": "1"}]'
ev "tunnel: rate limited" '.type == "tunnel_state" and .outcome == "rate"'
check "no failover for any of them" test "$(bus_calls StartUnit)" = 0
tn_script '[{"status": "down"}]'
ev "tunnel down: backup unit started" ".type == \"unit_started\" and .unit == \"$TN_UNIT\""
check "tunnels --json says down" reply_is tunnels '.tunnels[0].down == true'
tn_script '[{"status": "healthy"}]'
ev "tunnel recovered: backup unit stopped" ".type == \"unit_stopped\" and .unit == \"$TN_UNIT\""
check "StartUnit once" test "$(bus_calls StartUnit)" = 1
check "StopUnit once" test "$(bus_calls StopUnit)" = 1

if [ -n "$SEGW" ]; then
	phase "segw"
	ev "segw up at gw1" '.type == "segw_up" and .connection == "corp" and .gateway == "10.66.0.1"'
	sw_stop gw1
	ev "gw1 killed: failover to gw2" '.type == "segw_failover" and .from == "10.66.0.1" and .to == "10.66.0.2"'
	ev "segw up at gw2" '.type == "segw_up" and .gateway == "10.66.0.2"'
	check "segw failover corp --json" vctl_json segw failover corp
	ev "manual failover to gw3" '.type == "segw_failover" and .manual == true and .to == "10.66.0.3"'
	ev "segw up at gw3" '.type == "segw_up" and .gateway == "10.66.0.3"'
	check "segw failover of an unknown connection refused" eval '! vctl segw failover nosuch --json >/dev/null 2>&1'
	check "segw --json says up" vg_wait "$VG_WAIT" reply_is segw '.connections[0].state == "up" and .connections[0].gateway == "10.66.0.3"'
fi

phase "metrics"
check "metrics textfile written" vg_wait "$VG_WAIT" grep -q '^netward_up 1' "$TMP/prom/netward.prom"
check "metrics count the restores" vg_wait "$VG_WAIT" \
	grep -Eq '^netward_route_restore_latency_seconds_count [1-9]' "$TMP/prom/netward.prom"

phase "reloads"
config "$TMP/cfg.json" reloaded
kill -HUP "$DAEMON_PID"
check "good reload (SIGHUP) applied" vg_wait "$VG_WAIT" status_is '.reloads == 1 and .reload_failures == 0'
ev "reload event" '.type == "daemon" and (.message | test("reloaded"))'
check "reloaded probes" vg_wait "$VG_WAIT" reply_is probes '[.probes[].name] | index("name")'
cp "$TMP/cfg.json" "$TMP/cfg.good"
jq '.recovery.vpn_interfaces = ["*"]' "$TMP/cfg.good" >"$TMP/cfg.json"
out=$(raw '{"cmd": "reload"}')
check "bad reload (socket) refused with its reason" json_is "$out" '.ok == false and (.error | test("vpn_interfaces"))'
printf '{ "binds": ' >"$TMP/cfg.json"
kill -HUP "$DAEMON_PID"
check "bad reload (SIGHUP) refused" vg_wait "$VG_WAIT" status_is '.reload_failures == 2 and (.last_reload_error | length) > 0'
check "running configuration kept" reply_is probes '[.probes[].name] | index("name")'
cp "$TMP/cfg.good" "$TMP/cfg.json"
chmod 640 "$TMP/cf.token"
out=$(raw '{"cmd": "reload"}')
check "reload with a group-readable token refused" json_is "$out" '.ok == false and (.error | test("token_file"))'
chmod 600 "$TMP/cf.token"
check "three reloads refused" status_is '.reload_failures == 3 and .reloads == 1'
out=$(raw '{"cmd": "reload"}')
check "good reload (socket)" json_is "$out" '.ok == true'

phase "control socket odds and ends"
check "ping" eval "raw '{\"cmd\": \"ping\"}' | jq -e '.ok == true' >/dev/null"
check "unknown command refused" eval "raw '{\"cmd\": \"nosuch\"}' | jq -e '.ok == false' >/dev/null"
check "bad JSON refused" eval "raw '{\"cmd\": ' | jq -e '.ok == false' >/dev/null"
out=$(vctl wait-stable --quiet 86400000 --timeout 200 --json)
check "wait-stable --timeout answers not stable" json_is "$out" '.stable == false'
# clients that go before their answer: a probe round, a wait
raw_close '{"cmd": "probes", "now": true}'
raw_close '{"cmd": "wait-stable", "quiet_ms": 86400000}'
raw_close '{"cmd": "events", "follow": true}'
check "daemon answers after clients left early" vq status
check "bad event type refused" eval "raw '{\"cmd\": \"events\", \"type\": \"nosuch\"}' | jq -e '.ok == false' >/dev/null"
for v in status counters probes recovery tunnels segw churn; do
	check "netwardctl $v (text)" eval "vctl $v >/dev/null; [ \$? -le 1 ]"
done
# waiters still connected at SIGTERM: one wait-stable, the event stream
"$NWCTL" --socket "$SOCK" wait-stable --quiet 86400000 >/dev/null 2>&1 &
WAITER_PID=$!
defer "kill $WAITER_PID"
echo "wait-stable --quiet 86400000 (left waiting)" >>"$REQS"
check "status --json" vctl_json status

phase "SIGTERM"
kill -TERM "$DAEMON_PID"
stopped() { ! kill -0 "$DAEMON_PID" 2>/dev/null; }
if wait_until $((VG_WAIT * 2)) stopped; then
	wait "$DAEMON_PID"
	rc=$?
	check "netwardd exited 0 (valgrind's error exit code is 99)" test "$rc" = 0
else
	vg_fail "netwardd stopped within $((VG_WAIT * 2))s of SIGTERM"
	kill -KILL "$DAEMON_PID" 2>/dev/null
fi
check "pin dir removed" test ! -e "$PIN"
wait "$WAITER_PID" 2>/dev/null
wait "$FOLLOW_PID" 2>/dev/null

phase "valgrind's report: $VG_LOG"
check "valgrind: no fatal signal" vg_no_fatal_signal
check "valgrind: ERROR SUMMARY is 0 (was $(vg_summary_errors))" vg_no_errors
check "valgrind: no definite, indirect or possible leaks" vg_no_leaks
check "valgrind: every descriptor netwardd opened is closed" vg_no_fd_leaks
grep -E 'in use at exit|total heap usage|ERROR SUMMARY|(definitely|indirectly|possibly) lost:|FILE DESCRIPTORS' \
	"$VG_LOG" | sed 's/^==[0-9]*== /# /'
printf '# %d requests, %d events, %ds\n' "$(wc -l <"$REQS")" "$(wc -l <"$EVENTS")" $((SECONDS - VG_T0))
if [ "$vg_failed" -gt 0 ]; then
	echo "# logs kept in $VG_DIR (valgrind.log, daemon.log, events.jsonl, requests.log)"
	# valgrind's findings (its notes on eBPF commands it cannot check left out)
	grep -v 'WARNING: unhandled eBPF command' "$VG_LOG" | sed -n '/^==[0-9]*== Parent PID/,$p' | head -150
fi
echo "$vg_passed passed, $vg_failed failed"
[ "$vg_failed" -eq 0 ]
