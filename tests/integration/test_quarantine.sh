# shellcheck shell=bash
# Quarantine (issue 4): processes in a quarantined cgroup lose their network
# configuration writes; reads stay; other cgroups are untouched. Where BPF
# LSM is refused (here) the writer is killed in the kernel and netwardd
# reverts what its request did; with lsm/netlink_send it gets EPERM.
#
# Every process moved into a cgroup is a shell started here that moves
# itself (`q_in_cgroup`); cgroups and namespaces are the test's own.

# q_guard NS [EXTRA_JSON]: the daemon guarding NS, binds on a cgroup of ours
q_guard() {
	local ns=$1 extra=${2:-} bcg
	new_cgroup bcg
	write_config "$TMP/cfg.json" <<JSON
{ "binds": { "cgroup": "$bcg" }$extra }
JSON
	start_daemon "$ns" "$TMP/cfg.json"
	QPATH=$(ctl status --json | jq -r '.routes.watch.quarantine_path')
	[ -n "$QPATH" ] && [ "$QPATH" != null ] || fail "status names no quarantine path"
}

# q_in_cgroup NS CGROUP_DIR CMD...: CMD in NS, from a shell that first moves
# itself into CGROUP_DIR; returns CMD's status (137 when it was killed)
q_in_cgroup() {
	local ns=$1 cg=$2
	shift 2
	nsenter --net="/run/netns/$ns" sh -c 'echo $$ >"$1/cgroup.procs" || exit 99; shift; exec "$@"' \
		sh "$cg" "$@"
}

q_cg_id() { stat -c %i "$1"; }

# python3 -c "$Q_NL_LINK" add NAME | down IFINDEX: one RTM_NEWLINK over a raw
# socket, as iproute2 sends it minus the empty RTM_NEWLINK probe `ip link`
# sends first (which the kill path already answers)
Q_NL_LINK=$(cat <<'PY'
import socket, struct, sys
def attr(t, data):
    a = struct.pack("=HH", 4 + len(data), t) + data
    return a + b"\0" * ((4 - len(a) % 4) % 4)
s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)
if sys.argv[1] == "add":	# veth NAME, its peer named by the kernel
    ifi = struct.pack("=BxHiII", 0, 0, 0, 0, 0)
    body = ifi + attr(3, sys.argv[2].encode() + b"\0") + attr(18, attr(1, b"veth\0"))
    flags = 0x1 | 0x4 | 0x400 | 0x200		# REQUEST|ACK|CREATE|EXCL
else:				# down: ifi_change IFF_UP, ifi_flags 0
    body = struct.pack("=BxHiII", 0, 0, int(sys.argv[2]), 0, 1)
    flags = 0x1 | 0x4
s.sendto(struct.pack("=IHHII", 16 + len(body), 16, flags, 4242, 0) + body, (0, 0))
ln, typ, fl, seq, pid, err = struct.unpack("=IHHIIi", s.recv(4096)[:20])
sys.exit(0 if err == 0 else 1)
PY
)
q_has_rule() { ip -n "$1" rule show | grep -q "^$2:"; }
q_no_rule() { ! q_has_rule "$@"; }
q_has_addr() { ip -n "$1" addr show dev "$2" | grep -qF " $3 "; }
q_no_addr() { ! q_has_addr "$@"; }
q_has_link() { ip -n "$1" link show dev "$2" >/dev/null 2>&1; }
q_no_link() { ! q_has_link "$@"; }
q_link_up() { ip -n "$1" link show dev "$2" | grep -q '<[^>]*\bUP\b'; }

# q_expect_denied RC WHAT: the write failed the way the active path makes it fail
q_expect_denied() {
	case $QPATH in
	tracepoint-kill) [ "$1" = 137 ] || fail "$2: expected the writer killed (137), got $1" ;;
	lsm) [ "$1" != 0 ] && [ "$1" != 137 ] || fail "$2: expected EPERM, got exit $1" ;;
	*) fail "unknown quarantine path $QPATH" ;;
	esac
}
# q_wait_reverted REQUEST_FILTER: the follow-up event says it is back as it was
q_wait_reverted() {
	if [ "$QPATH" = lsm ]; then
		wait_event ".type == \"quarantined\" and .action == \"denied\" and $1"
	else
		wait_event ".type == \"quarantined\" and .action == \"reverted\" and .reverted == true and $1"
	fi
}

test_quarantine_rule_add_from_quarantined_cgroup_fails_and_is_undone() {
	local ns qcg id rc before
	new_lab ns
	new_cgroup qcg
	q_guard "$ns"
	id=$(q_cg_id "$qcg")
	ctl quarantine add --cgroup "$qcg" >/dev/null || fail "quarantine add"
	before=$(ip -n "$ns" rule show)
	q_in_cgroup "$ns" "$qcg" ip rule add prio 123 table 77 2>/dev/null
	rc=$?
	q_expect_denied $rc "ip rule add"
	wait_until 5 q_no_rule "$ns" 123 || fail "the rule stayed"
	if [ "$QPATH" = tracepoint-kill ]; then
		wait_event ".type == \"quarantined\" and .action == \"killed\" and .request == \"RTM_NEWRULE\" and .comm == \"ip\" and .uid == 0 and .cgroup_id == $id and (.cgroup | endswith(\"$(basename "$qcg")\")) and .priority == 123 and .table == 77 and .family == 4"
		[ "$(counter quarantine_kills)" -ge 1 ] || fail "quarantine_kills not counted"
	fi
	q_wait_reverted ".request == \"RTM_NEWRULE\" and .priority == 123 and .cgroup_id == $id"
	expect_eq "$(ip -n "$ns" rule show)" "$before" "rules after the quarantined write"
	[ "$(ctl status --json | jq -r '.quarantine.path')" = "$QPATH" ] || fail "status.quarantine.path"
}

test_quarantine_route_del_default_is_put_back() {
	local ns qcg id rc before4 before6
	new_lab ns
	new_cgroup qcg
	q_guard "$ns" ', "routes": { "learn_default": false }'
	id=$(q_cg_id "$qcg")
	ctl quarantine add --cgroup "$id" >/dev/null || fail "quarantine add by id"
	before4=$(ip -n "$ns" route show)
	before6=$(ip -n "$ns" -6 route show)
	q_in_cgroup "$ns" "$qcg" ip route del default 2>/dev/null
	rc=$?
	q_expect_denied $rc "ip route del default"
	wait_until 5 has_route "$ns" default via 192.0.2.1 dev d0 || fail "v4 default route not back"
	q_wait_reverted ".request == \"RTM_DELROUTE\" and .family == 4 and .dst == \"default\""
	q_in_cgroup "$ns" "$qcg" ip -6 route del default 2>/dev/null
	q_expect_denied $? "ip -6 route del default"
	wait_until 5 has_route6 "$ns" default via 2001:db8::1 dev d0 || fail "v6 default route not back"
	q_wait_reverted ".request == \"RTM_DELROUTE\" and .family == 6"
	expect_eq "$(ip -n "$ns" route show)" "$before4" "IPv4 routes"
	expect_eq "$(ip -n "$ns" -6 route show)" "$before6" "IPv6 routes"
	# an added route goes too
	q_in_cgroup "$ns" "$qcg" ip route add 10.77.0.0/16 via 192.0.2.1 table 100 2>/dev/null
	q_expect_denied $? "ip route add"
	wait_until 5 eval '! has_route "$ns" 10.77.0.0/16 table 100' || fail "added route stayed"
}

test_quarantine_reads_still_work() {
	local ns qcg out
	new_lab ns
	new_cgroup qcg
	q_guard "$ns"
	ctl quarantine add --cgroup "$qcg" >/dev/null || fail "quarantine add"
	out=$(q_in_cgroup "$ns" "$qcg" ip route show) || fail "ip route show failed: $?"
	grep -q "default via 192.0.2.1 dev d0" <<<"$out" || fail "ip route show: $out"
	q_in_cgroup "$ns" "$qcg" ip rule show >/dev/null || fail "ip rule show failed"
	q_in_cgroup "$ns" "$qcg" ip -6 route show >/dev/null || fail "ip -6 route show failed"
	q_in_cgroup "$ns" "$qcg" ip addr show dev d0 >/dev/null || fail "ip addr show failed"
	q_in_cgroup "$ns" "$qcg" ip neigh show >/dev/null || fail "ip neigh show failed"
	# iproute2's no-op RTM_NEWLINK probe (index 0, nothing to change) is not a write
	q_in_cgroup "$ns" "$qcg" ip link show >/dev/null || fail "ip link show failed: $?"
	[ "$(counter quarantine_kills)" = 0 ] || fail "a read was answered with a kill"
	[ "$(count_events '.type == "quarantined"')" = 0 ] || fail "quarantined event for reads"
}

test_quarantine_other_cgroups_untouched_and_children_covered() {
	local ns qcg ocg child
	new_lab ns
	new_cgroup qcg
	new_cgroup ocg
	new_cgroup child "$qcg"
	q_guard "$ns"
	ctl quarantine add --cgroup "$qcg" >/dev/null || fail "quarantine add"
	q_in_cgroup "$ns" "$ocg" ip rule add prio 124 table 78 || fail "another cgroup's ip rule add failed"
	q_in_cgroup "$ns" "$ocg" ip route add 10.78.0.0/16 via 192.0.2.1 || fail "another cgroup's ip route add"
	# the root namespace's own writes too
	ip -n "$ns" rule add prio 125 table 79 || fail "ip rule add outside any test cgroup"
	# a cgroup below a quarantined one is quarantined
	q_in_cgroup "$ns" "$child" ip rule add prio 126 table 80 2>/dev/null
	q_expect_denied $? "ip rule add from a child cgroup"
	wait_until 5 q_no_rule "$ns" 126 || fail "the child's rule stayed"
	q_wait_reverted ".priority == 126 and .cgroup_id == $(q_cg_id "$child")"
	sleep 1.2	# past the revert window: nothing of the others is touched
	q_has_rule "$ns" 124 || fail "another cgroup's rule was reverted"
	q_has_rule "$ns" 125 || fail "the host's rule was reverted"
	has_route "$ns" 10.78.0.0/16 || fail "another cgroup's route was reverted"
	[ "$(count_events ".type == \"quarantined\" and .cgroup_id == $(q_cg_id "$ocg")")" = 0 ] ||
		fail "quarantined events for another cgroup"
}

test_quarantine_del_restores_access() {
	local ns qcg rc
	new_lab ns
	new_cgroup qcg
	q_guard "$ns"
	ctl quarantine add --cgroup "$qcg" >/dev/null || fail "quarantine add"
	q_in_cgroup "$ns" "$qcg" ip rule add prio 123 table 77 2>/dev/null
	q_expect_denied $? "ip rule add while quarantined"
	wait_until 5 q_no_rule "$ns" 123 || fail "the rule stayed"
	ctl quarantine del --cgroup "$qcg" >/dev/null || fail "quarantine del"
	q_in_cgroup "$ns" "$qcg" ip rule add prio 123 table 77 || fail "ip rule add after del: $?"
	sleep 1.2
	q_has_rule "$ns" 123 || fail "the rule added after quarantine del was reverted"
	q_in_cgroup "$ns" "$qcg" ip route del default || fail "ip route del after del"
	ctl quarantine del --cgroup "$qcg" 2>"$TMP/err"
	rc=$?
	expect_eq "$rc" 1 "quarantine del of an entry not there"
	grep -q "not in quarantine" "$TMP/err" || fail "message: $(cat "$TMP/err")"
}

test_quarantine_addresses_and_links_are_undone() {
	local ns qcg
	new_lab ns
	new_cgroup qcg
	q_guard "$ns"
	ip -n "$ns" addr add 192.0.2.20/24 dev d0 || fail "setup: secondary address"
	ctl quarantine add --cgroup "$qcg" >/dev/null || fail "quarantine add"
	q_in_cgroup "$ns" "$qcg" ip addr add 198.51.100.7/24 dev d0 2>/dev/null
	q_expect_denied $? "ip addr add"
	wait_until 5 q_no_addr "$ns" d0 198.51.100.7/24 || fail "added address stayed"
	q_in_cgroup "$ns" "$qcg" ip addr del 192.0.2.20/24 dev d0 2>/dev/null
	q_expect_denied $? "ip addr del"
	wait_until 5 q_has_addr "$ns" d0 192.0.2.20/24 || fail "deleted address not back"
	q_wait_reverted ".request == \"RTM_DELADDR\" and .addr == \"192.0.2.20/24\""
	q_in_cgroup "$ns" "$qcg" ip link add qv0 type veth peer name qv1 2>/dev/null
	q_expect_denied $? "ip link add"
	wait_until 5 q_no_link "$ns" qv0 || fail "created link stayed"
	# the kernel gives up making a link for a task with SIGKILL pending:
	# nothing to revert then
	[ "$QPATH" = lsm ] ||
		wait_event '.type == "quarantined" and .request == "RTM_NEWLINK" and (.action == "reverted" or .action == "nothing_to_revert")'
	# the same over raw netlink: the link is made, then deleted
	q_in_cgroup "$ns" "$qcg" python3 -c "$Q_NL_LINK" add qv2 2>/dev/null
	q_expect_denied $? "RTM_NEWLINK (create)"
	wait_until 5 q_no_link "$ns" qv2 || fail "created link stayed"
	q_wait_reverted '.request == "RTM_NEWLINK" and .revert == "RTM_DELLINK"'
	q_in_cgroup "$ns" "$qcg" python3 -c "$Q_NL_LINK" down "$(ip -n "$ns" -j link show dev d0 | jq '.[0].ifindex')" 2>/dev/null
	q_expect_denied $? "RTM_NEWLINK (down)"
	wait_until 5 q_link_up "$ns" d0 || fail "link not up again"
	q_wait_reverted '.request == "RTM_NEWLINK" and .ifindex > 0 and .revert == "RTM_NEWLINK"'
}

test_quarantine_ctl_list_add_del() {
	local ns qcg gone gid out rc
	new_lab ns
	new_cgroup qcg
	new_cgroup gone
	q_guard "$ns"
	out=$(ctl quarantine list --json) || fail "list (empty)"
	expect_eq "$out" "[]" "empty list"
	ctl quarantine list | grep -q "no cgroup is in quarantine" || fail "empty list text"
	ctl quarantine add --cgroup "$qcg" >/dev/null || fail "add by absolute path"
	ctl quarantine add --cgroup "${qcg#"$CG2"}" >/dev/null || fail "add again by relative path"
	gid=$(q_cg_id "$gone")
	ctl quarantine add --cgroup "$gid" --json >"$TMP/add.json" || fail "add by id"
	jq -e ".cgroup_id == $gid and .flags == \"manual\" and .existed == false" "$TMP/add.json" >/dev/null ||
		fail "add --json: $(cat "$TMP/add.json")"
	out=$(ctl quarantine --json) || fail "list is the default"
	jq -e "length == 2 and any(.[]; .cgroup_id == $(q_cg_id "$qcg") and .cgroup == \"${qcg#"$CG2"}\" and .flags == \"manual\" and .auto == false)" \
		<<<"$out" >/dev/null || fail "list --json: $out"
	ctl quarantine list | grep -q "^${qcg#"$CG2"} .*manual" || fail "list text: $(ctl quarantine list)"
	# the map as bpftool sees it
	bpftool map dump pinned "$PIN/quarantine" | grep -q "$gid" || fail "bpftool dump"
	# a cgroup removed while quarantined: listed as gone, deleted by id
	rmdir "$gone" || fail "rmdir"
	ctl quarantine list --json | jq -e "any(.[]; .cgroup_id == $gid and .cgroup == \"(gone)\")" >/dev/null ||
		fail "gone cgroup: $(ctl quarantine list --json)"
	ctl quarantine del --cgroup "$gid" >/dev/null || fail "del by id of a gone cgroup"
	ctl quarantine del --cgroup "$qcg" >/dev/null || fail "del by path"
	expect_eq "$(ctl quarantine list --json)" "[]" "list after del"
	ctl quarantine frobnicate >/dev/null 2>&1
	expect_eq $? 2 "unknown subcommand"
	ctl quarantine add >/dev/null 2>&1
	expect_eq $? 2 "add without --cgroup"
	rc=0
	"$NWCTL" --pin-dir "$TMP/nowhere" quarantine list >/dev/null 2>&1 || rc=$?
	expect_eq $rc 4 "maps not pinned"
}

test_quarantine_ctl_refuses_root_unknown_and_daemon_cgroup() {
	local ns dcg rc root
	new_lab ns
	new_cgroup dcg
	q_guard "$ns"
	ctl quarantine add --cgroup / 2>"$TMP/err"
	rc=$?
	expect_eq $rc 2 "quarantine add /"
	grep -q "root" "$TMP/err" || fail "message: $(cat "$TMP/err")"
	root=$(q_cg_id "$CG2")
	ctl quarantine add --cgroup "$root" 2>/dev/null
	expect_eq $? 2 "quarantine add <root id>"
	ctl quarantine add --cgroup "$CG2" 2>/dev/null
	expect_eq $? 2 "quarantine add <mount point>"
	ctl quarantine add --cgroup /netward-test-nonexistent-$(rand) 2>"$TMP/err"
	expect_eq $? 2 "unknown cgroup path"
	grep -q "netward-test-nonexistent" "$TMP/err" || fail "message names the path: $(cat "$TMP/err")"
	ctl quarantine add --cgroup 999999999999 2>/dev/null
	expect_eq $? 2 "unknown cgroup id"
	ctl quarantine del --cgroup "$dcg" 2>/dev/null
	expect_eq $? 1 "del of an entry not there"
	# the daemon we started, moved into a cgroup of ours: quarantining it
	# (or a parent of it) would get it killed when it reverts
	echo "$DAEMON_PID" >"$dcg/cgroup.procs" || fail "move the daemon"
	ctl quarantine add --cgroup "$dcg" 2>"$TMP/err"
	expect_eq $? 2 "quarantine add of netwardd's cgroup"
	grep -q "netwardd" "$TMP/err" || fail "message: $(cat "$TMP/err")"
	expect_eq "$(ctl quarantine list --json)" "[]" "nothing added"
}

test_quarantine_status_names_the_path() {
	local ns st
	new_lab ns
	q_guard "$ns"
	st=$(ctl status --json)
	jq -e '.routes.watch.quarantine_path == .quarantine.path' <<<"$st" >/dev/null ||
		fail "status: $(jq -c '.routes.watch.quarantine_path, .quarantine' <<<"$st")"
	jq -e '.routes.watch.programs | any(.[]; .name == "lsm_netlink_send")' <<<"$st" >/dev/null ||
		fail "no lsm_netlink_send slot in the programs list"
	if [ "$QPATH" = tracepoint-kill ]; then
		jq -e '.routes.lsm_supported == false and (.routes.watch.programs[] | select(.name == "lsm_netlink_send") | .state) == "not used on this kernel"' \
			<<<"$st" >/dev/null || fail "lsm slot state: $(jq -c '.routes' <<<"$st")"
	fi
}

test_quarantine_enforced_with_daemon_down() {
	local ns qcg
	new_lab ns
	new_cgroup qcg
	q_guard "$ns" ', "bpf": { "keep_on_exit": true }'
	stop_daemon || fail "netwardd did not stop cleanly"
	# the pinned map is there: netwardctl works without the daemon
	ctl quarantine add --cgroup "$qcg" >/dev/null || fail "quarantine add with the daemon down"
	ctl quarantine list --json | jq -e 'length == 1' >/dev/null || fail "list with the daemon down"
	q_in_cgroup "$ns" "$qcg" ip rule add prio 123 table 77 2>/dev/null
	q_expect_denied $? "ip rule add with the daemon down"
	ctl quarantine del --cgroup "$qcg" >/dev/null || fail "quarantine del with the daemon down"
	q_in_cgroup "$ns" "$qcg" ip rule add prio 124 table 77 || fail "ip rule add after del"
}

# The module alone (tests/helpers/quarantine_run: no BPF, no ring buffer to
# drain), fed requests that arrive after the changes they made: the
# notifications kept for late requests are searched, and what matches is
# undone; what matches nothing is reported once the window has passed.
Q_NL_RULE=$(cat <<'PY'
import socket, struct, sys
def attr(t, data):
    return struct.pack("=HH", 4 + len(data), t) + data
s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)
frh = struct.pack("=BBBBBBBBI", 2, 0, 0, 0, 77, 0, 0, 1, 0)	# AF_INET, table 77, lookup
body = frh + attr(6, struct.pack("=I", int(sys.argv[1]))) + attr(15, struct.pack("=I", 77))
s.sendto(struct.pack("=IHHII", 16 + len(body), 32, 0x1 | 0x4 | 0x400 | 0x200, 4242, 0) + body, (0, 0))
ln, typ, fl, seq, pid, err = struct.unpack("=IHHIIi", s.recv(4096)[:20])
sys.exit(0 if err == 0 else 1)
PY
)
# RTM_DELROUTE of the IPv4 default route in main, sequence 4243
Q_NL_DELDEFAULT=$(cat <<'PY'
import socket, struct, sys
s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)
rtm = struct.pack("BBBBBBBBI", 2, 0, 0, 0, 254, 0, 0, 0, 0)
s.sendto(struct.pack("=IHHII", 16 + len(rtm), 25, 0x1 | 0x4, 4243, 0) + rtm, (0, 0))
ln, typ, fl, seq, pid, err = struct.unpack("=IHHIIi", s.recv(4096)[:20])
sys.exit(0 if err == 0 else 1)
PY
)

test_quarantine_module_reverts_late_requests() {
	local ns qrun=$BUILD/quarantine_run
	[ -x "$qrun" ] || skip "no $qrun (make helpers)"
	new_lab ns
	mkfifo "$TMP/qin"
	ip netns exec "$ns" "$qrun" --window-ms 300 <"$TMP/qin" >"$TMP/qrun.out" 2>"$TMP/daemon-qrun.log" &
	local qpid=$!
	exec 3>"$TMP/qin"
	defer "exec 3>&-; kill $qpid; wait $qpid"
	wait_until 5 grep -q '"ready"' "$TMP/qrun.out" || fail "quarantine_run did not start"
	qrun_event() { grep -q "$1" "$TMP/qrun.out"; }
	# a rule added (sequence 4242), reported afterwards
	ip netns exec "$ns" python3 -c "$Q_NL_RULE" 123 || fail "raw NEWRULE"
	q_has_rule "$ns" 123 || fail "setup: rule 123 not added"
	echo '{"type": "RTM_NEWRULE", "flags": 1541, "seq": 4242, "family": 4, "table": 77, "priority": 123, "comm": "python3", "age_ms": 900}' >&3
	wait_until 5 q_no_rule "$ns" 123 || fail "late NEWRULE not reverted: $(cat "$TMP/qrun.out")"
	wait_until 5 qrun_event '"action":"reverted".*"revert":"RTM_DELRULE"' || fail "no reverted event"
	# the default route deleted by a request that comes late
	ip netns exec "$ns" python3 -c "$Q_NL_DELDEFAULT" || fail "setup: raw DELROUTE"
	has_route "$ns" default && fail "setup: default route still there"
	echo '{"type": "RTM_DELROUTE", "seq": 4243, "family": 4, "table": 254, "age_ms": 900}' >&3
	wait_until 5 has_route "$ns" default via 192.0.2.1 dev d0 || fail "late DELROUTE not reverted"
	# a request that changed nothing: reported after the window, the rest untouched
	ip -n "$ns" rule add prio 124 table 78 || fail "setup: rule 124"
	echo '{"type": "RTM_NEWRULE", "seq": 1, "family": 4, "table": 79, "priority": 125}' >&3
	wait_until 5 qrun_event '"action":"nothing_to_revert"' || fail "no nothing_to_revert event"
	q_has_rule "$ns" 124 || fail "an unrelated rule was reverted"
	echo status >&3
	wait_until 5 qrun_event '"status":{.*"reverted":2' || fail "status: $(tail -1 "$TMP/qrun.out")"
}

test_quarantine_dry_run_only_reports() {
	local ns qcg cg
	new_lab ns
	new_cgroup qcg
	new_cgroup cg
	write_config "$TMP/cfg.json" <<JSON
{ "binds": { "cgroup": "$cg" } }
JSON
	start_daemon "$ns" "$TMP/cfg.json" --dry-run
	ctl quarantine add --cgroup "$qcg" >/dev/null || fail "quarantine add"
	q_in_cgroup "$ns" "$qcg" ip rule add prio 123 table 77 || fail "dry-run must not kill: $?"
	ip -n "$ns" rule show | grep -q "^123:" || fail "dry-run must not revert"
	wait_event '.type == "quarantined" and .action == "would_kill" and .killed == false'
	expect_eq "$(counter quarantine_kills)" 0 "kills in dry-run"
}
