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
