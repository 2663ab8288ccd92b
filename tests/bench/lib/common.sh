# shellcheck shell=bash
# What the benchmarks in tests/bench have in common. Sourced by them, never
# run: it only defines functions (sourcing it changes nothing); the scripts
# keep their own `set -euo pipefail`. It lives below tests/bench/lib so that
# `make bench` (every tests/bench/*.sh) does not take it for a benchmark.
#
# The functions share these globals with the scripts:
#   TOP BUILD            set by bench_top
#   CG2                  set by find_cgroup2
#   ID TMP PIN SOCK      set by make_scratch (TMP and PIN: cleanup undoes them)
#   NWD NWCTL            netwardd and netwardctl, set by the scripts
#   DAEMON_PID           set by start_daemon, cleared by stop_daemon
#   PEER_PGIDS PEER      the peers' process groups, added by start_peer (PEER:
#                        the last one), removed by stop_peer
# and, in the benchmarks on a lab of network namespaces (lab_setup):
#   CG                   the bench's cgroup, set by lab_setup
#   NS GW ROUTE_WANT     the lab's namespaces and default route, set by make_lab
#   NET                  a third namespace of the script's own (may be empty)
#   HELPER_PID           the measuring helper while it runs, set by the scripts

say() { echo "bench: $*" >&2; }
die() { say "$*"; exit 1; }

# bench_top: TOP is the source tree, and the working directory; BUILD
# (default build) is made absolute, relative to TOP
bench_top() {
	TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
	cd "$TOP" || exit
	BUILD=${BUILD:-build}
	[[ $BUILD = /* ]] || BUILD=$TOP/$BUILD
}

# --- checks ------------------------------------------------------------------------
# need_root WHY: dies unless root
need_root() {
	[ "$(id -u)" -eq 0 ] || die "must run as root ($1)"
}
# need_built FILE...: each one built (make)
need_built() {
	local f
	for f in "$@"; do
		[ -x "$f" ] || die "$f missing: run make first"
	done
}
# need_tools TOOL...: each one in PATH
need_tools() {
	local t
	for t in "$@"; do
		command -v "$t" >/dev/null || die "$t not found"
	done
}
# need_positive VAR...: each variable (named) holds a whole number >= 1
need_positive() {
	local v
	for v in "$@"; do
		if ! [[ ${!v} =~ ^[0-9]+$ ]] || [ "${!v}" -lt 1 ]; then
			die "$v: not a positive number: ${!v}"
		fi
	done
}

# --- processes ---------------------------------------------------------------------
# wait_until SECONDS CMD...: polls CMD until it succeeds or the deadline passes
wait_until() {
	local deadline=$((SECONDS + $1))
	shift
	until "$@"; do
		[ $SECONDS -lt $deadline ] || return 1
		sleep 0.02
	done
}
# alive PID: running (an exited child stays a zombie until waited for)
alive() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	[ "${stat%% *}" != Z ]
}
not_alive() { ! alive "$1"; }

# stop_child PID: a child of this shell still running (PID may be empty) is
# sent SIGTERM and waited for
stop_child() {
	if [ -n "$1" ] && alive "$1"; then
		kill -TERM "$1"
		wait "$1" 2>/dev/null
	fi
}

# group_gone PGID: no process of that group is left
group_gone() { ! pgrep -g "$1" >/dev/null 2>&1; }

# start_peer LOG CMD...: CMD in the lab (ip netns exec NS), its output in
# LOG, in a process group of its own whose id is PEER (added to PEER_PGIDS).
# setsid: the background job is not a group leader, so setsid does not fork
# and $! is the group's id
start_peer() {
	local log=$1
	shift
	setsid ip netns exec "$NS" "$@" </dev/null >"$log" 2>&1 &
	PEER=$!
	PEER_PGIDS+=("$PEER")
	[ "$(ps -o pgid= -p "$PEER" | tr -d ' ')" = "$PEER" ] ||
		die "peer $PEER is not its own process group leader"
}

# stop_peer PGID: the whole process group (a peer's children too), and out
# of PEER_PGIDS
stop_peer() {
	local pgid=$1 i
	kill -TERM -- "-$pgid" 2>/dev/null || true
	if ! wait_until 5 group_gone "$pgid"; then
		kill -KILL -- "-$pgid" 2>/dev/null || true
		wait_until 5 group_gone "$pgid" || say "process group $pgid does not go away"
	fi
	wait "$pgid" 2>/dev/null || true
	for i in "${!PEER_PGIDS[@]}"; do
		[ "${PEER_PGIDS[$i]}" != "$pgid" ] || unset 'PEER_PGIDS[i]'
	done
}

# start_daemon [CMD...]: netwardd on $TMP/netward.json, $PIN and $SOCK, its
# output in $TMP/netwardd.log, run by CMD (e.g. ip netns exec NS) if given;
# returns once it answers on its control socket
daemon_ready() {
	alive "$DAEMON_PID" || die "netwardd exited before it was ready"
	"$NWCTL" --socket "$SOCK" status >/dev/null 2>&1
}
start_daemon() {
	"$@" "$NWD" --config "$TMP/netward.json" --pin-dir "$PIN" --socket "$SOCK" \
		--state-dir "$TMP/state" \
		>"$TMP/netwardd.log" 2>&1 &
	DAEMON_PID=$!
	wait_until 15 daemon_ready || die "netwardd not ready after 15 s"
}
# stop_daemon: SIGTERM (SIGKILL after 10 s); returns netwardd's exit status
stop_daemon() {
	local rc=0
	kill -TERM "$DAEMON_PID" 2>/dev/null || true
	if ! wait_until 10 not_alive "$DAEMON_PID"; then
		say "netwardd ignored SIGTERM for 10 s: SIGKILL"
		kill -KILL "$DAEMON_PID" 2>/dev/null || true
	fi
	wait "$DAEMON_PID" 2>/dev/null || rc=$?
	DAEMON_PID=
	return $rc
}
# end_daemon: stop_daemon, which must end netwardd with status 0 and no pin
# dir left behind (one left is reported and removed)
end_daemon() {
	stop_daemon || die "netwardd exited with status $? after SIGTERM"
	[ ! -e "$PIN" ] || say "PROBLEM: netwardd left $PIN behind after SIGTERM (removed)"
	rm -rf "$PIN"
}

# --- set-up and clean-up -----------------------------------------------------------
# trap_exits [FUNC]: FUNC (default: cleanup, the script's) on exit; INT,
# TERM and HUP exit with 128 + the signal's number, through it
trap_exits() {
	# shellcheck disable=SC2064 # the function's name, expanded now
	trap "${1:-cleanup}" EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	trap 'exit 129' HUP
}

# mount_fs: bpffs and tracefs, where they are not mounted yet
mount_fs() {
	mountpoint -q /sys/fs/bpf || { say "mounting bpffs on /sys/fs/bpf"; mount -t bpf bpf /sys/fs/bpf; }
	mountpoint -q /sys/kernel/tracing ||
		{ say "mounting tracefs on /sys/kernel/tracing"; mount -t tracefs tracefs /sys/kernel/tracing; }
}

# find_cgroup2: CG2 is where cgroup2 is mounted
find_cgroup2() {
	# the file system type follows the " - " separator of a mountinfo line
	CG2=$(awk '{ for (i = 7; i < NF; i++) if ($i == "-") { if ($(i + 1) == "cgroup2") { print $5; exit } break } }' \
		/proc/self/mountinfo)
	[ -n "$CG2" ] || die "no cgroup2 mount in /proc/self/mountinfo"
}

# make_scratch: a random ID, a temporary directory TMP, the pin dir PIN
# (/sys/fs/bpf/netward-bench-ID, not created: netwardd makes it) and the
# control socket's path SOCK
make_scratch() {
	ID=$(printf '%04x%04x' $RANDOM $RANDOM)
	TMP=$(mktemp -d /tmp/netward-bench.XXXXXX)
	PIN=/sys/fs/bpf/netward-bench-$ID
	SOCK=$TMP/ctl.sock
}

# bpf_stats: kernel.bpf_stats_enabled, empty if it cannot be read
bpf_stats() { sysctl -n kernel.bpf_stats_enabled 2>/dev/null || echo; }
# restore_bpf_stats OLD: kernel.bpf_stats_enabled back to OLD (what bpf_stats
# said at the start) if it changed; nothing if OLD is empty
restore_bpf_stats() {
	if [ -n "$1" ] && [ "$(sysctl -n kernel.bpf_stats_enabled)" != "$1" ]; then
		sysctl -qw kernel.bpf_stats_enabled="$1"
	fi
}

# remove_pin DIR: the pin dir, if there is one (DIR may be empty). A daemon
# that died or was killed leaves its links pinned, and pinned links keep
# enforcing: unpinning detaches them
remove_pin() {
	if [ -n "$1" ] && [ -e "$1" ]; then
		rm -rf "$1"
	fi
}

# delete_netns NAME...: the network namespaces that exist (empty names skipped)
delete_netns() {
	local n
	for n in "$@"; do
		if [ -n "$n" ] && [ -e "/run/netns/$n" ]; then
			ip netns delete "$n" || say "could not delete network namespace $n"
		fi
	done
}

# remove_cgroups CGROUP...: those that exist (empty names skipped), in this
# order; their processes have exited, but the kernel may need a moment to
# notice
remove_cgroups() {
	local cg
	for cg in "$@"; do
		if [ -z "$cg" ] || [ ! -d "$cg" ]; then
			continue
		fi
		wait_until 5 rmdir "$cg" 2>/dev/null ||
			say "could not remove cgroup $cg (processes: $(tr '\n' ' ' <"$cg/cgroup.procs"))"
	done
}

# daemon_log_tail RC DAEMON_RAN: the script failed (RC != 0) while netwardd
# ran (DAEMON_RAN not empty): the end of its log may say why
daemon_log_tail() {
	if [ "$1" -ne 0 ] && [ -n "$2" ] && [ -s "$TMP/netwardd.log" ]; then
		say "netwardd's log (last 40 lines):"
		tail -40 "$TMP/netwardd.log" | sed 's/^/  /' >&2
	fi
}

# --- a lab of network namespaces --------------------------------------------------
# make_lab PREFIX: network namespaces NS (PREFIX-ID, the host: d0
# 192.0.2.10/24, default via 192.0.2.1 dev d0) and GW (PREFIX-ID-gw, the
# gateway: d0p 192.0.2.1/24, the other end of d0); ROUTE_WANT is NS's
# default route as ip shows it
make_lab() {
	NS=$1-$ID
	GW=$1-$ID-gw
	local n
	for n in "$NS" "$GW"; do
		ip netns add "$n"
		ip -n "$n" link set lo up
	done
	ip -n "$NS" link add d0 type veth peer name d0p netns "$GW"
	ip -n "$NS" addr add 192.0.2.10/24 dev d0
	ip -n "$GW" addr add 192.0.2.1/24 dev d0p
	ip -n "$GW" link set d0p up
	ip -n "$NS" link set d0 up
	ip -n "$NS" route add default via 192.0.2.1 dev d0
	ROUTE_WANT=$(ip -n "$NS" route show default)
}

# lab_ok: the lab is as it was, exactly the one default route
lab_ok() { [ "$(ip -n "$NS" route show default)" = "$ROUTE_WANT" ]; }
# restore_lab: the lab as it was, whatever a peer left
restore_lab() {
	lab_ok && return 0
	say "restoring the lab's default route (was: $(ip -n "$NS" route show default | tr '\n' ';'))"
	ip -n "$NS" route flush exact 0.0.0.0/0 table main 2>/dev/null || true
	ip -n "$NS" route add default via 192.0.2.1 dev d0
	lab_ok || die "cannot restore the lab's default route"
}

# lab_setup PREFIX: lab_cleanup on exit (trap_exits), the file systems, the
# scratch (make_scratch), the cgroup CG ($CG2/netward-bench-ID; netwardd's
# bind guard must attach somewhere, and not on the cgroup2 root) and the lab
# (make_lab PREFIX). The script sets what lab_cleanup undoes to '' (and
# PEER_PGIDS to ()) first.
lab_setup() {
	lab_scratch
	make_lab "$1"
}
# lab_scratch: lab_setup without the lab (a benchmark that makes its own)
lab_scratch() {
	trap_exits lab_cleanup
	mount_fs
	find_cgroup2
	make_scratch
	CG=$CG2/netward-bench-$ID
	mkdir "$CG"
}

# lab_cleanup: stops the helper (HELPER_PID), the peers and netwardd;
# removes the pin dir, the namespaces NS GW NET, the cgroup and TMP; shows
# the end of netwardd's log if the script failed while it ran; exits with
# the script's status
lab_cleanup() {
	local rc=$? pg daemon_ran=$DAEMON_PID
	set +e
	trap - EXIT INT TERM HUP
	stop_child "$HELPER_PID"
	for pg in "${PEER_PGIDS[@]}"; do
		stop_peer "$pg"
	done
	[ -z "$DAEMON_PID" ] || stop_daemon
	remove_pin "$PIN"
	delete_netns "$NS" "$GW" "$NET"
	remove_cgroups "$CG"	# the daemon has exited
	daemon_log_tail "$rc" "$daemon_ran"
	[ -z "$TMP" ] || rm -rf "$TMP"
	exit $rc
}

# --- report ------------------------------------------------------------------------
# field KEY LINE: the value of " KEY=value" in LINE
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$2"; }

# pct_stats: "n p50 p99 max" of the numbers on stdin (nearest rank; nan if none)
pct_stats() {
	jq -s -r 'sort | length as $n
		| if $n == 0 then "0 nan nan nan" else
		  def pct(p): .[([((p * $n / 100) | ceil), 1] | max) - 1];
		  "\($n) \(pct(50)) \(pct(99)) \(.[-1])" end'
}

# section_head HEADING: a BENCHMARKS.md section's first lines: the heading,
# then when and where it ran (date, kernel, CPU model and count)
section_head() {
	local cpu
	cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
	echo "$1"
	echo
	echo "$(date -u '+%Y-%m-%d %H:%M UTC'), kernel $(uname -r), ${cpu:-unknown CPU} ($(nproc) CPUs)."
}

# write_section OUT HEADING FILE: FILE (which starts with HEADING) replaces
# the section HEADING of OUT, up to the next "## " heading, and the rest is
# kept; appended if OUT has no such section, a new "# Benchmarks" file if
# there is no OUT. Works in FILE.new; no trailing blank lines.
write_section() {
	local out=$1 sec=$2 file=$3
	if [ -f "$out" ]; then
		awk -v sec="$sec" -v file="$file" '
			$0 == sec { while ((getline l < file) > 0) print l; skip = 1; done = 1; next }
			skip && /^## / { skip = 0 }
			!skip { print }
			END { if (!done) { print ""; while ((getline l < file) > 0) print l } }' \
			"$out" >"$file.new"
	else
		{ echo "# Benchmarks"; echo; cat "$file"; } >"$file.new"
	fi
	sed -e ':a' -e '/^\n*$/{$d;N;ba' -e '}' "$file.new" >"$out"
	say "results written to $out"
}
