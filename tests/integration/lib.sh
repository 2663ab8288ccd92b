# shellcheck shell=bash
# Helpers for netward's root integration tests. Every test runs in its own
# subshell; what it creates is registered with `defer` and removed by the
# EXIT trap in reverse order, whether the test passed or not.
#
# Safety: only network namespaces and cgroups with random names made here
# are touched; nothing is ever attached to the cgroup2 root; only processes
# started here are moved between cgroups (bindtest moves itself).

NW_ROOT=${NW_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
BUILD=${BUILD:-build}
[[ $BUILD = /* ]] || BUILD=$NW_ROOT/$BUILD
NWD=$BUILD/netwardd
NWCTL=$BUILD/netwardctl
BINDTEST=$BUILD/bindtest
SKIP=77

CG2=$(awk '{ for (i = 1; i < NF; i++) if ($i == "-") { if ($(i + 1) == "cgroup2") { print $5; exit } break } }' /proc/self/mountinfo)

_deferred=()
defer() { _deferred+=("$*"); }
run_deferred() {
	local i
	for ((i = ${#_deferred[@]} - 1; i >= 0; i--)); do
		case ${_deferred[$i]} in
		@*) eval "${_deferred[$i]#@}" || true ;;	# may speak
		*) eval "${_deferred[$i]}" >/dev/null 2>&1 || true ;;
		esac
	done
	_deferred=()
}

# After the daemons stopped: any ASan/UBSan/LSan report in their logs fails
# the test, even when everything it asserted held.
_bad_logs=
check_daemon_logs() {
	if grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$TMP"/daemon*.log 2>/dev/null; then
		echo "FAIL: sanitizer report in netwardd's log:" >&2
		grep -hE -A12 'Sanitizer|runtime error:' "$TMP"/daemon*.log | head -40 >&2
		_bad_logs=1
	fi
}
nw_test_exit() {
	local rc=$?
	run_deferred
	[ -z "$_bad_logs" ] || exit 1
	exit $rc
}

fail() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "SKIP: $*" >&2; exit $SKIP; }
log() { echo "# $*" >&2; }

rand() { printf '%04x%04x' $RANDOM $RANDOM; }

# nw_preflight WHY [PREFIX]: a runner's first check. Unless it runs as root
# (else WHY) with netwardd, netwardctl and bindtest built (else PREFIX
# "missing FILE: run make first"), it says why on stderr and exits as one
# failed check: "0 passed, 1 failed".
nw_preflight() {
	local b
	if [ "$(id -u)" -ne 0 ]; then
		echo "$1" >&2
		echo "0 passed, 1 failed"
		exit 1
	fi
	for b in "$NWD" "$NWCTL" "$BINDTEST"; do
		[ -x "$b" ] || { echo "${2:-}missing $b: run make first" >&2; echo "0 passed, 1 failed"; exit 1; }
	done
}

# Mounts bpffs and tracefs when absent (the runner calls this once).
setup_fs() {
	mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
	mountpoint -q /sys/kernel/tracing || mount -t tracefs tracefs /sys/kernel/tracing
}

# Per-test scratch: $TMP, $PIN (pin dir), $SOCK (control socket).
nw_test_init() {
	TMP=$(mktemp -d /tmp/netward-test.XXXXXX)
	defer "rm -rf '$TMP'"
	defer "@check_daemon_logs"
	PIN=/sys/fs/bpf/netward-test-$(rand)
	SOCK=$TMP/ctl.sock
	trap nw_test_exit EXIT
}

# new_netns VAR: a network namespace with lo up.
new_netns() {
	local _nn_name=nwt-$(rand)
	ip netns add "$_nn_name" || fail "ip netns add $_nn_name"
	defer "ip netns del '$_nn_name'"
	ip -n "$_nn_name" link set lo up
	printf -v "$1" '%s' "$_nn_name"
}

# new_cgroup VAR [PARENT_DIR]: an empty cgroup under the cgroup2 mount.
new_cgroup() {
	local _nc_dir
	[ -n "$CG2" ] || skip "no cgroup2 mount"
	_nc_dir=${2:-$CG2}/netward-test-$(rand)
	mkdir "$_nc_dir" || fail "mkdir $_nc_dir"
	defer "kill_cgroup '$_nc_dir'; rmdir '$_nc_dir'"
	printf -v "$1" '%s' "$_nc_dir"
}

# Kills what is left in a cgroup this test made (only our own bindtests).
kill_cgroup() {
	local pid
	[ -f "$1/cgroup.procs" ] || return 0
	for pid in $(cat "$1/cgroup.procs"); do kill -9 "$pid" 2>/dev/null; done
	wait_until 5 cgroup_empty "$1"
}
cgroup_empty() { [ -z "$(cat "$1/cgroup.procs" 2>/dev/null)" ]; }

# wait_until SECONDS CMD...: polls CMD until it succeeds or the deadline.
wait_until() {
	local deadline=$((SECONDS + $1))
	shift
	while :; do
		"$@" && return 0
		[ $SECONDS -ge $deadline ] && return 1
		sleep 0.02
	done
}

# write_config FILE: the JSON on stdin.
write_config() { cat >"$1"; }

# start_daemon NS CONFIG [ARGS...]: netwardd inside NS the way users run it
# (ip netns exec), pinned in $PIN, socket $SOCK; waits until it answers.
start_daemon() {
	local ns=$1 cfg=$2
	shift 2
	# never the machine's system bus: a stand-in (start_fake_bus) or none
	DBUS_SYSTEM_BUS_ADDRESS=${NW_SYSTEM_BUS:-unix:path=$TMP/no-system-bus} \
		ip netns exec "$ns" "$NWD" --config "$cfg" --pin-dir "$PIN" --socket "$SOCK" \
		--state-dir "$TMP/state" "$@" >>"$TMP/daemon.log" 2>&1 &
	DAEMON_PID=$!
	defer "stop_daemon_hard $DAEMON_PID '$PIN'"
	wait_until 10 daemon_ready || { cat "$TMP/daemon.log" >&2; fail "netwardd did not become ready"; }
}
daemon_ready() {
	kill -0 "$DAEMON_PID" 2>/dev/null || return 1
	"$NWCTL" --socket "$SOCK" status >/dev/null 2>&1
}
# SIGTERM and wait: the daemon detaches unless keep_on_exit.
stop_daemon() {
	kill -TERM "$DAEMON_PID" 2>/dev/null
	wait "$DAEMON_PID" 2>/dev/null
	local rc=$?
	DAEMON_PID=
	return $rc
}
# cleanup: whatever state the daemon is in, leave nothing pinned.
stop_daemon_hard() {
	kill -TERM "$1" 2>/dev/null && wait "$1" 2>/dev/null
	rm -rf "$2"
}

# nw_bind NS CGROUP ARGS...: bindtest inside NS and CGROUP; prints its JSON.
nw_bind() {
	local ns=$1 cg=$2
	shift 2
	nsenter --net="/run/netns/$ns" "$BINDTEST" --cgroup "$cg" "$@"
}

ctl() { "$NWCTL" --socket "$SOCK" --pin-dir "$PIN" "$@"; }

# jfield JSON FILTER: one value (jq -r)
jfield() { jq -r "$2" <<<"$1"; }

expect_eq() { [ "$1" = "$2" ] || fail "$3: expected '$2', got '$1'"; }

# events_match FILTER: an event in the daemon's history satisfies the jq filter
events_match() {
	ctl events --json 2>/dev/null | jq -s -e "any(.[]; $1)" >/dev/null
}
# wait_event FILTER: with a deadline
wait_event() {
	wait_until 5 events_match "$1" || {
		ctl events --json >&2
		fail "no event matching $1"
	}
}
count_events() { ctl events --json 2>/dev/null | jq -c "select($1)" | wc -l; }

counter() { ctl counters --json | jq -r ".$1"; }

# new_lab VAR [HOST_NS]: a network namespace (HOST_NS when given: one this
# test made) with lo and a veth d0 (192.0.2.10/24, 2001:db8::10/64) whose
# peer d0p is in a second namespace, the "gateway" (192.0.2.1,
# 2001:db8::1); default routes v4 and v6 via the gateway.
# Sets ${VAR}_GW to the gateway namespace.
new_lab() {
	local _nl_ns=${2:-} _nl_gw
	[ -n "$_nl_ns" ] || new_netns _nl_ns
	new_netns _nl_gw
	lab_link "$_nl_ns" "$_nl_gw"
	ip -n "$_nl_ns" route add default via 192.0.2.1 dev d0
	ip -n "$_nl_ns" -6 route add default via 2001:db8::1 dev d0
	printf -v "$1" '%s' "$_nl_ns"
	printf -v "${1}_GW" '%s' "$_nl_gw"
}

# lab_link NS GW: new_lab's link, the veth d0 in NS (192.0.2.10/24,
# 2001:db8::10/64) whose peer d0p is in GW (192.0.2.1, 2001:db8::1), both up
lab_link() {
	ip -n "$1" link add d0 type veth peer name d0p netns "$2" || fail "veth"
	ip -n "$1" addr add 192.0.2.10/24 dev d0
	ip -n "$1" addr add 2001:db8::10/64 dev d0 nodad
	ip -n "$2" addr add 192.0.2.1/24 dev d0p
	ip -n "$2" addr add 2001:db8::1/64 dev d0p nodad
	ip -n "$2" link set d0p up
	ip -n "$1" link set d0 up
}

# has_route NS ARGS...: `ip -n NS route show ARGS` prints something
has_route() { local ns=$1; shift; [ -n "$(ip -n "$ns" route show "$@" 2>/dev/null)" ]; }
has_route6() { local ns=$1; shift; [ -n "$(ip -n "$ns" -6 route show "$@" 2>/dev/null)" ]; }

# new_inet_lab VAR [HOST_NS]: host ($VAR, or HOST_NS; d0 192.0.2.10/24) <->
# gateway (${VAR}_GW, d0p 192.0.2.1, forwarding) <-> "internet" (${VAR}_NET,
# u0p 198.51.100.2, and the responder address 203.0.113.1 on its lo). Host
# default via the gateway; the internet answers ping on 203.0.113.1.
new_inet_lab() {
	local _il_ns _il_gw _il_net
	new_lab _il_ns "${2:-}"
	_il_gw=$_il_ns_GW
	new_netns _il_net
	ip -n "$_il_gw" link add u0 type veth peer name u0p netns "$_il_net" || fail "veth u0"
	ip -n "$_il_gw" addr add 198.51.100.1/24 dev u0
	ip -n "$_il_gw" link set u0 up
	ip -n "$_il_net" addr add 198.51.100.2/24 dev u0p
	ip -n "$_il_net" addr add 203.0.113.1/32 dev lo
	ip -n "$_il_net" link set u0p up
	ip -n "$_il_net" route add default via 198.51.100.1
	ip -n "$_il_gw" route add 203.0.113.1/32 via 198.51.100.2
	ip netns exec "$_il_gw" sysctl -qw net.ipv4.ip_forward=1
	printf -v "$1" '%s' "$_il_ns"
	printf -v "${1}_GW" '%s' "$_il_gw"
	printf -v "${1}_NET" '%s' "$_il_net"
}

# start_fake_bus SERVICE...: a private dbus-daemon with stand-ins
# (tests/helpers/fake_bus.py: systemd1, network1, resolve1); daemons started
# afterwards use it as their system bus. Calls are logged to $FAKE_BUS_LOG.
start_fake_bus() {
	local sock=$TMP/fake-system-bus
	[ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import dbus, gi' 2>/dev/null ||
		skip "python3-dbus and python3-gi are needed for the D-Bus stand-in"
	command -v dbus-daemon >/dev/null || skip "dbus-daemon is needed for the D-Bus stand-in"
	sed "s|@SOCKET@|$sock|" "$NW_ROOT/tests/helpers/private_bus.conf" >"$TMP/bus.conf"
	dbus-daemon --config-file="$TMP/bus.conf" --nofork >"$TMP/dbus.log" 2>&1 &
	defer "kill $!"
	wait_until 5 test -S "$sock" || fail "private dbus-daemon did not start"
	NW_SYSTEM_BUS=unix:path=$sock
	FAKE_BUS_LOG=$TMP/fake-bus.log
	/usr/bin/python3 "$NW_ROOT/tests/helpers/fake_bus.py" "$NW_SYSTEM_BUS" "$@" >"$FAKE_BUS_LOG" 2>&1 &
	defer "kill $!"
	wait_until 5 grep -q "fake bus ready" "$FAKE_BUS_LOG" || fail "fake bus did not start"
}
. "$(dirname "${BASH_SOURCE[0]}")/nspawn.sh"
. "$(dirname "${BASH_SOURCE[0]}")/strongswan.sh"
