# shellcheck shell=bash
# "Real systemd" tier: a throwaway Debian container booted with
# systemd-nspawn, whose system bus the host (and netwardd) can reach.
# Sourced by lib.sh; uses its defer, fail, skip, log, rand, wait_until, $TMP.
#
#   nspawn_available            skips the test unless debootstrap, systemd-nspawn,
#                               nsenter and busctl are there
#   nspawn_boot VAR [ARGS...]   boots the tree from tools/nspawn-rootfs.sh;
#                               VAR = the container's init (host pid); exports
#                               NSPAWN_BUS (unix:path=.../system_bus_socket),
#                               NSPAWN_LEADER, NSPAWN_MACHINE; ARGS go to nspawn
#   nspawn_exec CMD...          runs CMD inside (nsenter into its namespaces)
#   nspawn_unit_state UNIT      prints `systemctl is-active UNIT` inside
#   nspawn_busctl ARGS...       busctl on the container's system bus
#
# BPF inside the container (netwardd run there as a unit):
#   nspawn_bpf_available        nspawn_available, and skips unless the host
#                               has BTF, bpffs on /sys/fs/bpf and syscall
#                               tracepoints
#   nspawn_boot_bpf VAR [ARGS...]
#                               nspawn_boot with what loading and attaching
#                               BPF programs needs inside (see there); sets
#                               NSPAWN_BPFFS, the host directory behind the
#                               container's /sys/fs/bpf
#   nspawn_write PATH           stdin into PATH inside (parents made)
#   nspawn_host_pid CPID        the host's pid of the container's pid CPID
#
# Safety: systemd only ever runs inside the container, as its pid 1. The
# container boots from cgroups made here with random names (under the cgroup2
# mount and, on a hybrid host, the named systemd v1 hierarchy); only the
# subshell that becomes systemd-nspawn is moved there; cleanup stops the
# container, kills what is left in those cgroups (ours by construction) and
# removes them. --private-network: the container never sees the host's
# interfaces. --volatile=overlay: the cached tree stays pristine.

NSPAWN_BOOT_TIMEOUT=${NSPAWN_BOOT_TIMEOUT:-30}
NSPAWN_STOP_TIMEOUT=${NSPAWN_STOP_TIMEOUT:-20}

nspawn_available() {
	local t
	[ "$(id -u)" -eq 0 ] || skip "systemd-nspawn tests need root"
	for t in debootstrap systemd-nspawn nsenter busctl flock; do
		command -v "$t" >/dev/null || skip "$t is missing (tools/deps.sh installs debootstrap and systemd-container)"
	done
	[ -n "$CG2" ] || skip "no cgroup2 mount"
	grep -qw overlay /proc/filesystems || modprobe -q overlay 2>/dev/null ||
		skip "no overlayfs (--volatile=overlay needs it)"
	[ -e /proc/self/ns/cgroup ] || skip "no cgroup namespaces"
}

# The named systemd v1 hierarchy of a hybrid (or legacy) host, if any.
_nspawn_systemd_v1() {
	awk '{ for (i = 1; i < NF; i++) if ($i == "-") {
		if ($(i + 1) == "cgroup" && $(i + 3) ~ /(^|,)name=systemd(,|$)/) { print $5; exit }
		break } }' /proc/self/mountinfo
}

# The container's init: the child of nspawn in another pid namespace.
_nspawn_leader_of() {
	local c me
	me=$(readlink /proc/self/ns/pid)
	for c in $(pgrep -P "$1" 2>/dev/null); do
		[ "$(readlink "/proc/$c/ns/pid" 2>/dev/null)" != "$me" ] || continue
		echo "$c"
		return 0
	done
	return 1
}

# gone or a zombie (our child, not reaped yet)
_nspawn_pid_gone() {
	local st
	st=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) || return 0
	[ -z "$st" ] || [ "$st" = Z ]
}

# polled while booting: 0 when up (NSPAWN_STATE running/degraded) or when
# nspawn died (then NSPAWN_STATE=died)
_nspawn_booted() {
	if _nspawn_pid_gone "$1"; then
		NSPAWN_STATE=died
		return 0
	fi
	# a child of nspawn in another pid namespace can be a short-lived
	# helper, not the container's init: look again once it is gone
	if [ -n "$_nb_leader" ] && _nspawn_pid_gone "$_nb_leader"; then
		_nb_leader=
	fi
	[ -n "$_nb_leader" ] || _nb_leader=$(_nspawn_leader_of "$1") || return 1
	NSPAWN_STATE=$(timeout 5 nsenter -t "$_nb_leader" -m -u -i -n -p -- \
		systemctl is-system-running 2>/dev/null)
	case $NSPAWN_STATE in running | degraded) return 0 ;; esac
	return 1
}

# Pids in a cgroup tree (every level).
_nspawn_cgroup_pids() {
	[ -d "$1" ] || return 0
	find "$1" -name cgroup.procs -exec cat {} + 2>/dev/null
}

# nspawn_boot VAR [NSPAWN_ARGS...]
nspawn_boot() {
	local _nb_var=$1 _nb_root _nb_name _nb_dir _nb_v1 _nb_cg _nb_cgs=() _nb_pid _nb_t0 _nb_leader=
	shift
	if [ -z "${TMP:-}" ] || [ ! -d "$TMP" ]; then
		fail "nspawn_boot: no test scratch dir (\$TMP): call nw_test_init first"
	fi
	_nb_root=$("$NW_ROOT/tools/nspawn-rootfs.sh") || fail "could not build the container tree (tools/nspawn-rootfs.sh)"
	[ -d "$_nb_root" ] || fail "tools/nspawn-rootfs.sh printed no tree: '$_nb_root'"

	_nb_name=nwt-$(rand)
	_nb_dir=$TMP/nspawn-$_nb_name
	mkdir -p "$_nb_dir/bus" || fail "mkdir $_nb_dir"

	# the dedicated cgroups: named systemd v1 hierarchy (hybrid) and cgroup2
	_nb_cg=netward-test-nspawn-$(rand)
	_nb_v1=$(_nspawn_systemd_v1)
	[ -z "$_nb_v1" ] || _nb_cgs+=("$_nb_v1/$_nb_cg")
	_nb_cgs+=("$CG2/$_nb_cg")
	# registered before anything is started: runs last, after the stop
	defer "@_nspawn_cleanup '$_nb_dir'$(printf " '%s'" "${_nb_cgs[@]}")"
	for _nb_cg in "${_nb_cgs[@]}"; do
		mkdir "$_nb_cg" || fail "mkdir $_nb_cg"
	done

	local _nb_args=(-D "$_nb_root" --machine="$_nb_name"
		--register=no --keep-unit --console=passive
		--volatile=overlay --private-network
		--bind="$_nb_dir/bus:/run/dbus")
	[ -d "$BUILD" ] && _nb_args+=(--bind-ro="$BUILD:/opt/netward")
	# a sanitizer build needs its runtimes, which the tree does not have
	local _nb_lib
	for _nb_lib in $(ldd "$BUILD/netwardd" 2>/dev/null | awk '$1 ~ /^lib(asan|ubsan)\.so/ { print $3 }'); do
		_nb_args+=(--bind-ro="$_nb_lib")
	done

	_nb_t0=$(date +%s%N)
	(
		# only this subshell moves, then becomes systemd-nspawn
		for _nb_cg in "${_nb_cgs[@]}"; do
			echo "$BASHPID" >"$_nb_cg/cgroup.procs" || exit 97
		done
		exec systemd-nspawn "${_nb_args[@]}" "$@" --boot
	) </dev/null >"$_nb_dir/nspawn.log" 2>&1 &
	_nb_pid=$!
	echo "$_nb_pid" >"$_nb_dir/nspawn.pid"

	NSPAWN_STATE=
	if ! wait_until "$NSPAWN_BOOT_TIMEOUT" _nspawn_booted "$_nb_pid" || [ "$NSPAWN_STATE" = died ]; then
		tail -n 40 "$_nb_dir/nspawn.log" | sed 's/^/    nspawn: /' >&2
		[ "$NSPAWN_STATE" = died ] && fail "systemd-nspawn exited while container $_nb_name booted"
		[ -z "$_nb_leader" ] || nsenter -t "$_nb_leader" -m -u -i -n -p -- \
			systemctl --no-pager --failed >&2 2>/dev/null
		fail "container $_nb_name did not boot in ${NSPAWN_BOOT_TIMEOUT}s (state '${NSPAWN_STATE:-}')"
	fi
	[ -S "$_nb_dir/bus/system_bus_socket" ] ||
		wait_until 5 test -S "$_nb_dir/bus/system_bus_socket" ||
		fail "the container's system bus socket did not appear"
	echo "$_nb_leader" >"$_nb_dir/leader.pid"
	log "nspawn: $_nb_name booted ($NSPAWN_STATE) in $((($(date +%s%N) - _nb_t0) / 1000000)) ms, leader $_nb_leader"
	if [ "$NSPAWN_STATE" = degraded ]; then
		nsenter -t "$_nb_leader" -m -u -i -n -p -- \
			systemctl --no-pager --failed --plain --no-legend 2>/dev/null | sed 's/^/# failed inside: /' >&2
	fi

	# for the tests: the container's init, name, scratch dir, cgroup2 dir
	# shellcheck disable=SC2034
	{
		NSPAWN_LEADER=$_nb_leader
		NSPAWN_MACHINE=$_nb_name
		NSPAWN_DIR=$_nb_dir
		NSPAWN_CGROUP=${_nb_cgs[-1]}
	}
	export NSPAWN_BUS="unix:path=$_nb_dir/bus/system_bus_socket"
	printf -v "$_nb_var" '%s' "$_nb_leader"
}

# _nspawn_cleanup DIR CGROUP...: stops the container nspawn_boot started,
# whatever state it is in, and removes what it made.
_nspawn_cleanup() {
	local dir=$1 pid leader cg t0 p
	shift
	t0=$(date +%s%N)
	pid=$(cat "$dir/nspawn.pid" 2>/dev/null)
	if [ -n "$pid" ]; then
		# SIGTERM to nspawn: it halts the container in order (SIGRTMIN+3 to its init)
		kill -TERM "$pid" 2>/dev/null
		if ! wait_until "$NSPAWN_STOP_TIMEOUT" _nspawn_pid_gone "$pid"; then
			log "nspawn: container did not stop in ${NSPAWN_STOP_TIMEOUT}s: killing it"
			# its init first (that ends the whole pid namespace): nspawn
			# then reaps it and exits by itself
			leader=$(_nspawn_leader_of "$pid")
			[ -z "$leader" ] || kill -KILL "$leader" 2>/dev/null
			if ! wait_until 5 _nspawn_pid_gone "$pid"; then
				kill -KILL "$pid" 2>/dev/null
				wait_until 5 _nspawn_pid_gone "$pid"
			fi
		fi
		wait "$pid" 2>/dev/null
	fi
	# whatever is left in our cgroups was started by our nspawn
	for cg in "$@"; do
		for p in $(_nspawn_cgroup_pids "$cg"); do
			log "nspawn: killing leftover pid $p ($(cat "/proc/$p/comm" 2>/dev/null)) in $cg"
			kill -KILL "$p" 2>/dev/null
		done
	done
	for cg in "$@"; do
		wait_until 5 _nspawn_cgroup_empty "$cg" || log "nspawn: $cg is not empty"
		# the container's own cgroups below ours, innermost first
		[ -d "$cg" ] && find "$cg" -depth -type d -exec rmdir {} + 2>/dev/null
		[ ! -d "$cg" ] || log "nspawn: could not remove $cg"
	done
	# nspawn removes it when it exits normally, not when it had to be killed
	p=/run/systemd/nspawn/propagate/${dir##*/nspawn-}
	[ ! -d "$p" ] || rmdir "$p" || log "nspawn: could not remove $p"
	rm -rf "$dir"
	log "nspawn: stopped and cleaned up in $((($(date +%s%N) - t0) / 1000000)) ms"
}
_nspawn_cgroup_empty() { [ -z "$(_nspawn_cgroup_pids "$1")" ]; }

nspawn_exec() {
	[ -n "${NSPAWN_LEADER:-}" ] || fail "nspawn_exec: no container (nspawn_boot first)"
	nsenter -t "$NSPAWN_LEADER" -m -u -i -n -p -- "$@"
}

nspawn_unit_state() { nspawn_exec systemctl is-active "$1"; }

nspawn_busctl() { busctl --address="$NSPAWN_BUS" "$@"; }

# --- BPF inside the container -------------------------------------------------

nspawn_bpf_available() {
	nspawn_available
	[ -r /sys/kernel/btf/vmlinux ] || skip "no kernel BTF (/sys/kernel/btf/vmlinux)"
	[ "$(stat -f -c %T /sys/fs/bpf 2>/dev/null)" = bpf_fs ] || skip "no bpffs on /sys/fs/bpf"
	[ -d /sys/kernel/tracing/events/syscalls/sys_enter_sendmsg ] ||
		skip "no syscall tracepoints (tracefs on /sys/kernel/tracing, CONFIG_FTRACE_SYSCALLS)"
}

# nspawn_boot_bpf VAR [NSPAWN_ARGS...]: nspawn_boot, plus
#  - CAP_BPF, CAP_PERFMON, CAP_NET_ADMIN in the container's bounding set
#    (nspawn's default set has CAP_DAC_READ_SEARCH, CAP_SYS_PTRACE,
#    CAP_NET_RAW, CAP_KILL, CAP_SYS_ADMIN);
#  - bpf(2), perf_event_open(2) and open_by_handle_at(2) let through nspawn's
#    seccomp filter (it refuses them by default);
#  - /sys/fs/bpf: a directory with a random name on the host's bpffs, bound
#    there (nspawn mounts no bpffs, and /sys is a read-only tmpfs with
#    --private-network), removed with whatever is still pinned in it after
#    the container stopped;
#  - tracefs on /sys/kernel/tracing inside, mounted from here once booted
#    (systemd's sys-kernel-tracing.mount needs CAP_SYS_RAWIO; a --bind there
#    is covered by nspawn's own /sys/kernel mount). It lives in the
#    container's mount namespace and goes with it.
nspawn_boot_bpf() {
	local _nbb_var=$1 _nbb_dir _nbb_leader
	shift
	_nbb_dir=/sys/fs/bpf/netward-test-nspawn-$(rand)
	mkdir "$_nbb_dir" || fail "mkdir $_nbb_dir"
	# registered before the container's cleanup: runs after the stop
	defer "@_nspawn_bpffs_cleanup '$_nbb_dir'"
	nspawn_boot _nbb_leader \
		--capability=CAP_BPF,CAP_PERFMON,CAP_NET_ADMIN \
		--system-call-filter='bpf perf_event_open open_by_handle_at' \
		--bind="$_nbb_dir:/sys/fs/bpf" "$@"
	# shellcheck disable=SC2034 # for the tests
	NSPAWN_BPFFS=$_nbb_dir
	nspawn_exec mount -t tracefs -o nosuid,nodev,noexec tracefs /sys/kernel/tracing ||
		fail "could not mount tracefs inside the container"
	printf -v "$_nbb_var" '%s' "$_nbb_leader"
}

_nspawn_bpffs_cleanup() {
	local left
	[ -d "$1" ] || return 0
	left=$(find "$1" -mindepth 1 ! -type d 2>/dev/null | wc -l)
	[ "$left" -eq 0 ] || log "nspawn: removing $left pinned object(s) left in $1"
	rm -rf "$1" || log "nspawn: could not remove $1"
}

nspawn_write() {
	# shellcheck disable=SC2016 # expanded by the sh inside
	nspawn_exec sh -c 'mkdir -p "$(dirname "$1")" && cat >"$1"' sh "$1"
}

# The host's pid of the container's process CPID (NSpid: host first).
nspawn_host_pid() {
	local ns p
	ns=$(readlink "/proc/$NSPAWN_LEADER/ns/pid")
	for p in /proc/[0-9]*; do
		[ "$(readlink "$p/ns/pid" 2>/dev/null)" = "$ns" ] || continue
		if awk -v c="$1" '$1 == "NSpid:" { f = $NF == c } END { exit !f }' "$p/status" 2>/dev/null; then
			echo "${p#/proc/}"
			return 0
		fi
	done
	return 1
}
