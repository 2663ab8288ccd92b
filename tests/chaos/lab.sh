# shellcheck shell=bash
# The chaos lab (sourced by tests/chaos/run.sh after tests/integration/lib.sh):
# every namespace, cgroup, charon and stand-in of the run, made here with
# random names and removed by lib.sh's deferred cleanup whatever happens.
#
#   host H (netwardd runs here)
#     d0     192.0.2.10/24, 2001:db8::10/64 -> gateway namespace -> "internet"
#            (203.0.113.1 answers ping); default routes v4 and v6 via d0
#     flap0  192.0.3.10/24 -> gateway; 198.18.0.0/15 via 192.0.3.1 (protected)
#     eth0   10.66.0.10/24 on the strongSwan bridge (gateways gw1..gw3), when
#            charon is installed
#     tun devices wg-worker-1/2 (named by recovery.vpn_interfaces), wgkeep0,
#            other0 (not)
#     10.99.0.0/16 via 192.0.2.1: a route no selector names
#     rules: 10101 (protected), 20202 (named by nothing), the kernel's defaults
#   cgroups: binds (the bind guard's), del (the route deleter), r1..r3 (rule
#   churners), flap (the link flapper), vpn (re-creates wg-worker-*)
#   127.0.0.1 in H: the Cloudflare API stand-in; a private D-Bus with the
#   systemd1 stand-in (StartUnit/StopUnit of the backup unit are logged)

CHAOS_UNIT=cloudflared-backup.service
CHAOS_DENY_PORT=18443		# binds.rules: wildcard binds denied
CHAOS_REWRITE_PORT=18444	# binds.rules: wildcard binds rewritten to loopback

# chaos_lab: sets H GW NET, CG_* (cgroup dirs), SEGW (1 with charons), TN_*
chaos_lab() {
	local c
	if sw_available; then
		sw_lab
		H=$SW_NS_cl
		SEGW=1
	else
		log "strongSwan is not installed: no SEGW gateways in this run"
		new_netns H
		SEGW=0
	fi
	new_inet_lab LAB "$H"
	GW=$LAB_GW
	NET=$LAB_NET
	# as a network manager would: the flapper's d0 keeps its IPv6 address
	ip netns exec "$H" sysctl -qw net.ipv6.conf.d0.keep_addr_on_down=1

	ip -n "$H" link add flap0 type veth peer name flap0p netns "$GW" || fail "veth flap0"
	ip -n "$H" addr add 192.0.3.10/24 dev flap0
	ip -n "$GW" addr add 192.0.3.1/24 dev flap0p
	ip -n "$GW" link set flap0p up
	ip -n "$H" link set flap0 up
	ip -n "$H" route add 198.18.0.0/15 via 192.0.3.1 dev flap0 || fail "route 198.18.0.0/15"
	ip -n "$H" route add 10.99.0.0/16 via 192.0.2.1 dev d0 || fail "route 10.99.0.0/16"
	ip -n "$H" rule add priority 10101 table 101 uidrange 1101-1101 || fail "rule 10101"
	ip -n "$H" rule add priority 20202 table 202 uidrange 2202-2202 || fail "rule 20202"
	for c in wg-worker-1 wg-worker-2 wgkeep0 other0; do
		ip -n "$H" tuntap add mode tun name "$c" || fail "tun $c"
		ip -n "$H" link set "$c" up
	done

	new_cgroup CG_BIND
	for c in DEL R1 R2 R3 FLAP VPN; do new_cgroup "CG_$c"; done

	tn_api "$H"
	start_fake_bus systemd1
	if [ "$SEGW" = 1 ]; then
		sw_start cl "$H"
		sw_start gw1 "$SW_NS_gw1"
		sw_start gw2 "$SW_NS_gw2"
		sw_start gw3 "$SW_NS_gw3"
		install -m 600 /dev/null "$TMP/psk"
		printf '%s\n' "$SW_PSK" >"$TMP/psk"
	fi
}

# chaos_config FILE: netwardd's configuration for the lab; names exactly
# what the run may touch
chaos_config() {
	local segw='null'
	[ "$SEGW" = 1 ] && segw=$(cat <<JSON
{ "vici_socket": "unix://$(sw_dir cl)/charon.vici", "initiate_timeout_ms": 3000,
  "connections": [ $(sg_conn corp "10.66.0.1, 10.66.0.2, 10.66.0.3" 100) ] }
JSON
)
	printf 'nameserver 192.0.2.53\n' >"$TMP/resolv.conf"
	write_config "$1" <<JSON
{ "bpf": { "keep_on_exit": true },
  "binds": { "cgroup": "$CG_BIND", "default_action": "audit",
             "rules": [ { "port": $CHAOS_DENY_PORT, "proto": "tcp", "action": "deny" },
                        { "port": $CHAOS_REWRITE_PORT, "proto": "tcp", "action": "rewrite" } ] },
  "routes": { "learn_default": true, "protect": [ { "dst": "198.18.0.0/15" } ],
              "fallback": { "gateway": "192.0.3.1", "dev": "flap0", "metric": 1000 },
              "backoff_max_ms": 2000 },
  "rules": { "protect_defaults": true,
             "protect": [ { "priority": 10101, "table": 101, "uidrange": "1101-1101" } ],
             "storm_threshold": 50, "window_ms": 1000 },
  "probes": [
    { "name": "inet", "type": "icmp", "target": "203.0.113.1", "interval_ms": 500, "timeout_ms": 300 },
    { "name": "gw", "type": "icmp", "target": "192.0.2.1", "role": "gateway",
      "interval_ms": 500, "timeout_ms": 300 } ],
  "recovery": { "fail_threshold": 3, "emergency_threshold": 6, "main_interface": "d0",
                "vpn_interfaces": [ "wg-worker-*" ], "resolv_conf": "$TMP/resolv.conf" },
  "tunnels": { "api_base": "http://127.0.0.1:$TN_PORT/client/v4", "interval_ms": 200,
               "timeout_ms": 150,
               "watch": [ { "name": "web", "account_id": "$TN_ACCOUNT", "tunnel_id": "$TN_TUNNEL",
                            "token_file": "$TMP/cf.token", "service": "$CHAOS_UNIT",
                            "fall": 2, "rise": 2, "stop_on_recovery": true } ] },
  "segw": $segw,
  "metrics": { "textfile": "$TMP/netward.prom", "interval_ms": 1000 },
  "log": { "history": 4096 } }
JSON
}
