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
