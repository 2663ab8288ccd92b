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

# start_daemon [CMD...]: netwardd on $TMP/netward.json, $PIN and $SOCK, its
# output in $TMP/netwardd.log, run by CMD (e.g. ip netns exec NS) if given;
# returns once it answers on its control socket
daemon_ready() {
	alive "$DAEMON_PID" || die "netwardd exited before it was ready"
	"$NWCTL" --socket "$SOCK" status >/dev/null 2>&1
}
start_daemon() {
	"$@" "$NWD" --config "$TMP/netward.json" --pin-dir "$PIN" --socket "$SOCK" \
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

# --- set-up and clean-up -----------------------------------------------------------
# trap_exits: cleanup (the script's) on exit; INT, TERM and HUP exit with
# 128 + the signal's number, through it
trap_exits() {
	trap cleanup EXIT
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

# --- report ------------------------------------------------------------------------
# field KEY LINE: the value of " KEY=value" in LINE
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$2"; }

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
