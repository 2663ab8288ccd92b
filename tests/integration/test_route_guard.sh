# shellcheck shell=bash
# The route guard against real routes in namespaces made here: deletions by
# ip, by raw netlink and by the kernel itself, restored with their actor.

# rguard NS [ROUTES_JSON_FIELDS] [EXTRA]: daemon guarding NS; binds are
# attached to a cgroup of the test's own (nothing may go on the root).
rguard() {
	local ns=$1 routes=${2:-'"learn_default": true'} extra=${3:-} cg
	new_cgroup cg
	write_config "$TMP/cfg.json" <<JSON
{ "binds": { "cgroup": "$cg" }, "routes": { $routes }$extra }
JSON
	start_daemon "$ns" "$TMP/cfg.json" "${RGUARD_ARGS[@]}"
}
RGUARD_ARGS=()

# netlink_del_default NS FAMILY: RTM_DELROUTE over a raw NETLINK_ROUTE socket
netlink_del_default() {
	ip netns exec "$1" python3 - "$2" <<'PY'
import socket, struct, sys
fam = socket.AF_INET if sys.argv[1] == "4" else socket.AF_INET6
s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)  # NETLINK_ROUTE
rtm = struct.pack("BBBBBBBBI", fam, 0, 0, 0, 254, 0, 0, 1, 0)  # main, unicast
hdr = struct.pack("=IHHII", 16 + len(rtm), 25, 0x1 | 0x4, 1, 0)  # DELROUTE, REQUEST|ACK
s.sendto(hdr + rtm, (0, 0))
ln, typ, fl, seq, pid, err = struct.unpack("=IHHIIi", s.recv(4096)[:20])
sys.exit(0 if err == 0 else 1)
PY
}

test_route_default_v4_deleted_by_ip_is_restored_with_actor() {
	local ns pid
	new_lab ns
	rguard "$ns"
	ip -n "$ns" route del default || fail "ip route del"
	wait_until 5 has_route "$ns" default via 192.0.2.1 dev d0 || fail "default route not restored"
	wait_event '.type == "route_deleted" and .family == 4 and .dst == "default" and .actor.comm == "ip" and .actor.uid == 0 and (.actor.cgroup | type) == "string" and .cgroup == .actor.cgroup'
	wait_event '.type == "route_restored" and .family == 4 and .dst == "default" and .latency_us >= 0'
	# restored exactly: same gateway, device, protocol (boot) and metric
	expect_eq "$(ip -n "$ns" route show default)" "default via 192.0.2.1 dev d0 " "restored route"
}

test_route_default_v6_deleted_over_raw_netlink_is_restored() {
	local ns
	new_lab ns
	rguard "$ns"
	netlink_del_default "$ns" 6 || fail "raw netlink delete"
	wait_until 5 has_route6 "$ns" default via 2001:db8::1 dev d0 || fail "v6 default not restored"
	wait_event '.type == "route_deleted" and .family == 6 and .actor.comm == "python3"'
	wait_event '.type == "route_restored" and .family == 6'
	netlink_del_default "$ns" 4 || fail "raw netlink delete v4"
	wait_until 5 has_route "$ns" default via 192.0.2.1 || fail "v4 default not restored"
}

test_route_protected_table_100_and_multipath() {
	local ns
	new_lab ns
	ip -n "$ns" addr add 192.0.2.11/24 dev d0
	ip -n "$ns" route add 10.9.0.0/16 via 192.0.2.1 dev d0 table 100 metric 7 proto static
	ip -n "$ns" route add default table 200 nexthop via 192.0.2.1 dev d0 weight 1 nexthop via 192.0.2.2 dev d0 weight 3
	rguard "$ns" '"protect": [ { "dst": "10.9.0.0/16", "table": 100 }, { "dst": "default", "family": 4, "table": 200 } ]'
	local before100 before200
	before100=$(ip -n "$ns" route show table 100)
	before200=$(ip -n "$ns" route show table 200)
	ip -n "$ns" route del 10.9.0.0/16 table 100 || fail "del table 100"
	ip -n "$ns" route del default table 200 || fail "del multipath"
	wait_until 5 has_route "$ns" 10.9.0.0/16 table 100 || fail "table-100 route not restored"
	wait_until 5 has_route "$ns" default table 200 || fail "multipath route not restored"
	expect_eq "$(ip -n "$ns" route show table 100)" "$before100" "table 100 route restored exactly"
	expect_eq "$(ip -n "$ns" route show table 200)" "$before200" "multipath restored with every nexthop"
	wait_event '.type == "route_deleted" and .table == 100 and .dst == "10.9.0.0/16"'
}

test_route_link_down_then_up() {
	local ns
	new_lab ns
	# a server's static IPv6 address survives the link going down (by
	# default Linux drops it, and with it the gateway's on-link prefix)
	ip netns exec "$ns" sysctl -qw net.ipv6.conf.d0.keep_addr_on_down=1
	rguard "$ns"
	ip -n "$ns" link set d0 down
	# the kernel removes routes of a downed link without asking anyone
	wait_until 5 sh -c "! ip -n '$ns' route show default | grep -q ." || fail "route still there with the link down"
	wait_event '.type == "link_down" and .dev == "d0"'
	ip -n "$ns" link set d0 up
	wait_until 5 has_route "$ns" default via 192.0.2.1 dev d0 || fail "default not restored when the link came back"
	wait_until 5 has_route6 "$ns" default via 2001:db8::1 dev d0 || fail "v6 default not restored when the link came back"
}

test_route_silent_deletion_by_address_removal() {
	local ns
	new_lab ns
	rguard "$ns"
	ip -n "$ns" addr del 192.0.2.10/24 dev d0
	wait_until 5 sh -c "! ip -n '$ns' route show default | grep -q ." || fail "kernel kept the route"
	ip -n "$ns" addr add 192.0.2.10/24 dev d0
	wait_until 5 has_route "$ns" default via 192.0.2.1 dev d0 || fail "default not restored after the address came back"
	wait_event '.type == "route_restored" and .family == 4'
	ctl status --json | jq -e '.routes.guard.resyncs >= 0' >/dev/null || fail "status: $(ctl status --json | jq .routes)"
}

test_route_enobufs_resync() {
	local ns i
	new_lab ns
	rguard "$ns" '"rcvbuf_bytes": 4096'
	# a burst of route changes overflows the tiny receive buffer...
	for i in $(seq 0 4999); do
		printf 'route add 10.%d.%d.0/24 via 192.0.2.1 dev d0 table 300\nroute del 10.%d.%d.0/24 via 192.0.2.1 dev d0 table 300\n' \
			$((i / 250)) $((i % 250)) $((i / 250)) $((i % 250))
	done >"$TMP/batch"
	echo "route del default" >>"$TMP/batch"
	# the daemon cannot read while stopped: the 4 KiB buffer overflows for sure
	kill -STOP "$DAEMON_PID"
	ip -n "$ns" -batch "$TMP/batch" || { kill -CONT "$DAEMON_PID"; fail "batch"; }
	kill -CONT "$DAEMON_PID"
	# ...and the default route deleted at the end is still put back
	wait_until 10 has_route "$ns" default via 192.0.2.1 dev d0 || fail "default not restored after ENOBUFS"
	ctl status --json | jq -e '.routes.guard.enobufs >= 1 and .routes.guard.resyncs >= 1' >/dev/null ||
		fail "no ENOBUFS resync counted: $(ctl status --json | jq -c .routes.guard)"
}

test_route_adversary_loop_is_bounded() {
	local ns pid restores
	new_lab ns
	rguard "$ns" '"max_restores": 5, "window_ms": 2000, "backoff_min_ms": 100, "backoff_max_ms": 2000'
	# an adversary deletes the default route as fast as it can for 10 s
	ip netns exec "$ns" bash -c 'end=$((SECONDS + 10)); while [ $SECONDS -lt $end ]; do ip route del default 2>/dev/null; done' &
	pid=$!
	defer "kill $pid"
	wait "$pid"
	restores=$(count_events '.type == "route_restored" and .family == 4')
	# without backoff it would be thousands; with it, a few dozen at most
	[ "$restores" -ge 5 ] && [ "$restores" -le 60 ] || fail "restores in 10 s: $restores"
	wait_event '.type == "route_flapping" and .family == 4 and .actor.comm == "ip"'
	# once the adversary stops, the route comes back
	wait_until 5 has_route "$ns" default via 192.0.2.1 dev d0 || fail "not restored after the storm"
}

test_route_dry_run_and_restore_false_change_nothing() {
	local ns
	new_lab ns
	RGUARD_ARGS=(--dry-run)
	rguard "$ns"
	RGUARD_ARGS=()
	ip -n "$ns" route del default
	wait_event '.type == "route_deleted" and .family == 4'
	wait_event '.type == "route_restored" and .dry_run == true'
	has_route "$ns" default && fail "dry-run restored the route"
	stop_daemon
	ip -n "$ns" route add default via 192.0.2.1 dev d0
	rguard "$ns" '"restore": false'
	ip -n "$ns" route del default
	wait_event '.type == "route_deleted" and .family == 4'
	has_route "$ns" default && fail "restore false restored the route"
	true
}

test_no_route_event_names_the_process() {
	local ns
	new_lab ns
	rguard "$ns" '"learn_default": false'
	ip -n "$ns" route del default
	# a datagram to a global address with no default route fails in the kernel
	ip netns exec "$ns" python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
try:
    s.sendto(b"x", ("198.51.100.7", 9))
except OSError:
    pass'
	wait_event '.type == "no_route" and .dst == "198.51.100.7" and .table == 254 and .comm == "python3" and .failures >= 1'
	expect_eq "$(ctl counters --json | jq '.no_route_main >= 1')" true "no_route_main counter"
	# loopback and link-local destinations are not "the internet is gone"
	ip netns exec "$ns" python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.sendto(b"x", ("127.0.0.1", 9))'
	expect_eq "$(count_events '.type == "no_route"')" 1 "no_route events (rate-limited, global only)"
}

# one sendmsg buffer holding several rtnetlink messages: the deletion is the
# second one and its actor is still named; past the parse limit it counts
test_route_batch_messages_attributed() {
	local ns
	new_lab ns
	rguard "$ns"
	ip netns exec "$ns" python3 - <<'PY'
import socket, struct
def route(typ, flags, dst, plen, seq):
    rtm = struct.pack("BBBBBBBBI", socket.AF_INET, plen, 0, 0, 254, 4 if typ == 24 else 0, 0, 1, 0)
    attrs = b""
    if plen:
        attrs += struct.pack("=HH", 8, 1) + socket.inet_aton(dst)            # RTA_DST
        attrs += struct.pack("=HH", 8, 5) + socket.inet_aton("192.0.2.1")    # RTA_GATEWAY
    body = rtm + attrs
    return struct.pack("=IHHII", 16 + len(body), typ, flags, seq, 0) + body
REQ, ACK, CREATE, EXCL = 0x1, 0x4, 0x400, 0x200
s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)
buf = route(24, REQ | ACK | CREATE | EXCL, "10.77.0.0", 16, 1) + route(25, REQ | ACK, "0.0.0.0", 0, 2)
s.sendmsg([buf], [], 0, (0, 0))
s.recv(65536)
# six messages at once: more than the kernel side parses (4)
six = b"".join(route(24, REQ | CREATE, "10.78.%d.0" % i, 24, 10 + i) for i in range(6))
s.sendmsg([six], [], 0, (0, 0))
PY
	wait_until 5 has_route "$ns" default via 192.0.2.1 || fail "default not restored"
	wait_event '.type == "route_deleted" and .family == 4 and .actor.comm == "python3"'
	has_route "$ns" 10.77.0.0/16 || fail "the first message of the batch was not executed"
	expect_eq "$(ctl counters --json | jq '.rtnl_truncated >= 1')" true "truncated batch counted"
}

# --- the state file: what is deleted while no netwardd runs -----------------
# netwardd keeps the protected set in $TMP/state/protected.json (start_daemon
# passes --state-dir $TMP/state). Killed (watchdog, OOM) and started again by
# systemd, it puts back what was deleted in between.

# rstate_file: the state file of this test's daemon
rstate_file() { echo "$TMP/state/protected.json"; }
# rstate_has FILTER: the state file satisfies the jq filter
rstate_has() { jq -e "$1" "$(rstate_file)" >/dev/null 2>&1; }
# rstate_saved: both default routes of the lab are in the state file
rstate_saved() {
	rstate_has '[.routes[] | select(.origin == "learned" and (.dst == "0.0.0.0/0" or .dst == "::/0"))] | length == 2'
}
# rstate_crash: SIGKILL, as systemd's watchdog or the OOM killer would; the
# pins stay, the next start adopts them
rstate_crash() {
	kill -KILL "$DAEMON_PID" 2>/dev/null
	wait "$DAEMON_PID" 2>/dev/null
	DAEMON_PID=
}
# rstate_status FILTER: netwardctl status satisfies the jq filter
rstate_status() {
	ctl status --json | jq -e "$1" >/dev/null ||
		fail "status is not $1: $(ctl status --json | jq -c '.routes.guard | del(.rules)')"
}

test_route_state_deleted_while_down_is_restored_at_start() {
	local ns
	new_lab ns
	rguard "$ns"
	wait_until 5 rstate_saved || fail "state file: $(cat "$(rstate_file)" 2>&1)"
	[ "$(stat -c %a "$(rstate_file)")" = 600 ] || fail "state file mode $(stat -c %a "$(rstate_file)")"
	rstate_crash
	ip -n "$ns" route del default || fail "ip route del"
	ip -n "$ns" -6 route del default || fail "ip -6 route del"
	rguard "$ns"
	wait_until 5 has_route "$ns" default via 192.0.2.1 dev d0 || fail "v4 default not put back at start"
	wait_until 5 has_route6 "$ns" default via 2001:db8::1 dev d0 || fail "v6 default not put back at start"
	# exactly as it was (proto boot, metric 0)
	expect_eq "$(ip -n "$ns" route show default)" "default via 192.0.2.1 dev d0 " "restored route"
	wait_event '.type == "route_deleted" and .family == 4 and .dst == "default" and .reason == "missing_at_start" and .action == "restore" and .origin == "learned"'
	wait_event '.type == "route_restored" and .family == 4 and .dst == "default" and .reason == "missing_at_start" and .latency_us >= 0'
	wait_event '.type == "route_restored" and .family == 6 and .dst == "default" and .reason == "missing_at_start"'
	rstate_status '.routes.guard.missing_at_start == 2 and .routes.guard.restores == 2 and ([.routes.guard.protected[] | select(.state == "present")] | length) == 2'
	grep -q "state file $(rstate_file): 2 routes and .* missing now and still protected: 2 routes" "$TMP/daemon.log" ||
		fail "no log line about the state file: $(grep route-guard "$TMP/daemon.log")"
	# from now on a deletion is an ordinary one
	ip -n "$ns" route del default
	wait_until 5 has_route "$ns" default via 192.0.2.1 dev d0 || fail "v4 default not restored later"
	wait_event '.type == "route_restored" and .family == 4 and .restores == 2 and .reason == null'
}

# bpf.keep_on_exit (an upgrade): SIGTERM keeps the state file like a crash
test_route_state_keep_on_exit_stop_keeps_it() {
	local ns
	new_lab ns
	rguard "$ns" '"learn_default": true' ', "bpf": { "keep_on_exit": true }'
	wait_until 5 rstate_saved || fail "no state file"
	stop_daemon || fail "netwardd exited with $?"
	[ -s "$(rstate_file)" ] || fail "state file removed with keep_on_exit"
	ip -n "$ns" route del default || fail "ip route del"
	rguard "$ns" '"learn_default": true' ', "bpf": { "keep_on_exit": true }'
	wait_until 5 has_route "$ns" default via 192.0.2.1 dev d0 || fail "v4 default not put back at start"
	wait_event '.type == "route_restored" and .family == 4 and .reason == "missing_at_start"'
}

# SIGTERM without keep_on_exit: the operator stopped the guard; what he
# changes until the next start is his
test_route_state_clean_stop_forgets_it() {
	local ns
	new_lab ns
	rguard "$ns"
	wait_until 5 rstate_saved || fail "no state file"
	stop_daemon || fail "netwardd exited with $?"
	[ ! -e "$(rstate_file)" ] || fail "state file left after a clean stop"
	grep -q "state file $(rstate_file) removed" "$TMP/daemon.log" || fail "no log line about the removal"
	ip -n "$ns" route del default || fail "ip route del"
	rguard "$ns"
	# the start-up restores run before the control socket answers
	rstate_status '.routes.guard.missing_at_start == 0 and ([.routes.guard.protected[] | select(.family == 4)] | length) == 0'
	has_route "$ns" default && fail "a default route deleted after a clean stop was put back"
	expect_eq "$(count_events '.reason == "missing_at_start"')" 0 "missing_at_start events"
	# the new set is saved: the v6 default route alone
	wait_until 5 rstate_has '[.routes[] | .dst] == ["::/0"]' || fail "state file: $(cat "$(rstate_file)")"
}

# Only what the current configuration still protects comes back: not the
# learned default routes once learn_default is off, not a route no selector
# picks any more; a multipath route a selector still picks, exactly.
test_route_state_config_decides() {
	local ns before200
	new_lab ns
	ip -n "$ns" route add 10.9.0.0/16 via 192.0.2.1 dev d0 table 100 metric 7 proto static
	ip -n "$ns" route add default table 200 nexthop via 192.0.2.1 dev d0 weight 1 nexthop via 192.0.2.2 dev d0 weight 3
	ip -n "$ns" -6 route add 2001:db8:77::/48 table 200 nexthop via 2001:db8::1 dev d0 nexthop via 2001:db8::2 dev d0
	before200=$(ip -n "$ns" route show table 200; ip -n "$ns" -6 route show table 200)
	rguard "$ns" '"protect": [ { "dst": "10.9.0.0/16", "table": 100 }, { "dst": "default", "family": 4, "table": 200 }, { "dst": "2001:db8:77::/48", "table": 200 } ]'
	wait_until 5 rstate_has '(.routes | length) == 5 and ([.routes[] | select(.multipath)] | length) == 2' ||
		fail "state file: $(cat "$(rstate_file)" 2>&1)"
	rstate_crash
	ip -n "$ns" route del default
	ip -n "$ns" -6 route del default
	ip -n "$ns" route del 10.9.0.0/16 table 100
	ip -n "$ns" route del default table 200
	ip -n "$ns" -6 route del 2001:db8:77::/48 table 200
	rguard "$ns" '"learn_default": false, "protect": [ { "dst": "default", "family": 4, "table": 200 }, { "dst": "2001:db8:77::/48", "table": 200 } ]'
	wait_until 5 has_route "$ns" default table 200 || fail "multipath route not put back"
	wait_until 5 has_route6 "$ns" 2001:db8:77::/48 table 200 || fail "v6 multipath route not put back"
	expect_eq "$(ip -n "$ns" route show table 200; ip -n "$ns" -6 route show table 200)" "$before200" "multipath routes restored with every nexthop"
	rstate_status '.routes.guard.missing_at_start == 2'
	has_route "$ns" default && fail "learn_default is off: the v4 default route came back"
	has_route6 "$ns" default && fail "learn_default is off: the v6 default route came back"
	has_route "$ns" 10.9.0.0/16 table 100 && fail "no selector picks the table-100 route: it came back"
	wait_event '.type == "route_restored" and .table == 200 and .family == 4 and .reason == "missing_at_start" and (.nexthops | length) == 2'
	# what is no longer protected is dropped from the file
	wait_until 5 rstate_has '[.routes[] | .table] == [200, 200]' || fail "state file: $(cat "$(rstate_file)")"
}

# --dry-run reads the file, says what it would put back, writes nothing;
# restore false reports the missing route and leaves it missing
test_route_state_dry_run_and_observe_at_start() {
	local ns saved
	new_lab ns
	rguard "$ns"
	wait_until 5 rstate_saved || fail "no state file"
	rstate_crash
	ip -n "$ns" route del default || fail "ip route del"
	saved=$(cat "$(rstate_file)")
	RGUARD_ARGS=(--dry-run)
	rguard "$ns"
	RGUARD_ARGS=()
	wait_event '.type == "route_restored" and .family == 4 and .dry_run == true and .reason == "missing_at_start"'
	has_route "$ns" default && fail "dry-run put the route back"
	rstate_crash
	expect_eq "$(cat "$(rstate_file)")" "$saved" "state file after a dry run"
	rguard "$ns" '"restore": false'
	wait_event '.type == "route_deleted" and .family == 4 and .reason == "missing_at_start" and .action == "observe"'
	has_route "$ns" default && fail "restore false put the route back"
	rstate_status '([.routes.guard.protected[] | select(.family == 4 and .state == "missing")] | length) == 1'
}

# The device of a saved route is gone: the usual failure path (pending,
# route_restore_failed), and the route comes back with its device.
test_route_state_device_gone_is_pending() {
	local ns gw
	new_lab ns
	gw=$ns_GW
	rguard "$ns"
	wait_until 5 rstate_saved || fail "no state file"
	rstate_crash
	ip -n "$ns" link del d0 || fail "ip link del"
	rguard "$ns"
	wait_event '.type == "route_restore_failed" and .family == 4 and .reason == "missing_at_start" and .pending == true'
	rstate_status '([.routes.guard.protected[] | select(.state == "pending")] | length) == 2'
	# the device comes back (a new ifindex): the route follows its name
	lab_link "$ns" "$gw"
	wait_until 10 has_route "$ns" default via 192.0.2.1 dev d0 || fail "v4 default not restored with its device"
	wait_until 10 has_route6 "$ns" default via 2001:db8::1 dev d0 || fail "v6 default not restored with its device"
	wait_event '.type == "route_restored" and .family == 4 and .reason == "missing_at_start" and .pending_ms >= 0'
}

# rstate_bad_file NS LOG_TEXT CMD...: a state file made by CMD, then the
# daemon: it logs LOG_TEXT, starts, guards as usual and replaces the file
rstate_bad_file() {
	local ns=$1 what=$2
	shift 2
	mkdir -p "$TMP/state"
	"$@" >"$(rstate_file)"
	: >"$TMP/daemon.log"
	rguard "$ns"
	grep -q "state file $(rstate_file) ignored: $what" "$TMP/daemon.log" ||
		fail "no log line \"$what\": $(grep route-guard "$TMP/daemon.log")"
	rstate_status '.routes.guard.missing_at_start == 0 and ([.routes.guard.protected[] | select(.state == "present")] | length) == 2'
	# it guards, and writes a good file over the bad one
	ip -n "$ns" route del default || fail "ip route del"
	wait_until 5 has_route "$ns" default via 192.0.2.1 dev d0 || fail "default not restored ($what)"
	wait_until 5 rstate_saved || fail "no good state file written over the bad one ($what)"
	stop_daemon || fail "netwardd exited with $? ($what)"
}
rstate_truncated() { printf '{"version":1,"netns":4026531840,"routes":[{"origin":"lea'; }
rstate_garbage() { head -c 3000 /dev/urandom; }
rstate_oversized() { head -c $((5 << 20)) /dev/zero | tr '\0' ' '; }
rstate_wrong_type() { echo '{"version":1,"netns":1,"routes":{},"rules":[]}'; }
# a valid file from another namespace, whose route is missing here
rstate_elsewhere() {
	cat <<'JSON'
{"version":1,"netns":1,"routes":[{"origin":"learned","family":4,"dst":"0.0.0.0/0",
 "table":254,"protocol":3,"scope":0,"type":1,"metric":5,"multipath":false,
 "nexthops":[{"gateway":"192.0.2.99","dev":"d0","ifindex":2,"weight":1}]}],"rules":[]}
JSON
}

test_route_state_bad_file_is_ignored() {
	local ns
	new_lab ns
	rstate_bad_file "$ns" "not valid JSON" rstate_truncated
	rstate_bad_file "$ns" "" rstate_garbage
	rstate_bad_file "$ns" ".* bytes, at most" rstate_oversized
	rstate_bad_file "$ns" "routes: expected an array" rstate_wrong_type
	rstate_bad_file "$ns" "written in network namespace 1, this is" rstate_elsewhere
	has_route "$ns" default metric 5 && fail "a route of another namespace's file was put in"
	true
}
