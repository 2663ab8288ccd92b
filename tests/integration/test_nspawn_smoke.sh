# shellcheck shell=bash
# Smoke test of the "real systemd" tier (nspawn.sh): a container boots, the
# host drives its systemd over the container's system bus, and everything
# is gone afterwards.

# ActiveState of UNIT over the container's bus; "inactive" when systemd
# answers NoSuchUnit (a stopped unit is unloaded: GetUnit no longer finds it).
_nss_active_state() {
	local out path err=$TMP/busctl.err
	if ! out=$(nspawn_busctl call org.freedesktop.systemd1 /org/freedesktop/systemd1 \
		org.freedesktop.systemd1.Manager GetUnit s "$1" 2>"$err"); then
		# busctl prints the error's message, not its name
		case $(cat "$err") in *NoSuchUnit* | *"not loaded"*) echo inactive; return 0 ;; esac
		echo "error: $(cat "$err")"
		return 1
	fi
	path=$(awk '$1 == "o" { gsub(/"/, "", $2); print $2 }' <<<"$out")
	nspawn_busctl get-property org.freedesktop.systemd1 "$path" \
		org.freedesktop.systemd1.Unit ActiveState 2>"$err" | sed -n 's/^s "\(.*\)"$/\1/p'
}
_nss_state_is() { [ "$(_nss_active_state "$1")" = "$2" ]; }

# Every process of the container (its pid namespace) is in our cgroup.
_nss_all_in_our_cgroup() {
	local ns p cg
	ns=$(readlink "/proc/$1/ns/pid")
	for p in /proc/[0-9]*; do
		[ "$(readlink "$p/ns/pid" 2>/dev/null)" = "$ns" ] || continue
		cg=$(sed -n 's/^0:://p' "$p/cgroup" 2>/dev/null) || continue
		[ -n "$cg" ] || continue	# exited meanwhile
		case $CG2$cg in "$NSPAWN_CGROUP"/*) ;; *)
			echo "pid ${p#/proc/} ($(cat "$p/comm" 2>/dev/null)) is in $cg" >&2
			return 1 ;;
		esac
	done
}

test_nspawn_systemd_start_stop_over_host_bus() {
	local leader unit=cloudflared-backup.service state
	nspawn_available
	nspawn_boot leader
	[ -d "/proc/${leader:-none}" ] || fail "no leader pid"
	log "bus: $NSPAWN_BUS"

	# the bus answers from the host: it is the container's systemd
	nspawn_busctl get-property org.freedesktop.systemd1 /org/freedesktop/systemd1 \
		org.freedesktop.systemd1.Manager Virtualization | grep -q systemd-nspawn ||
		fail "the bus at $NSPAWN_BUS is not the container's systemd"
	state=$(_nss_active_state "$unit")
	expect_eq "$state" inactive "$unit before StartUnit"

	nspawn_busctl call org.freedesktop.systemd1 /org/freedesktop/systemd1 \
		org.freedesktop.systemd1.Manager StartUnit ss "$unit" replace >/dev/null ||
		fail "StartUnit $unit"
	wait_until 10 _nss_state_is "$unit" active ||
		fail "$unit did not become active: $(_nss_active_state "$unit")"
	expect_eq "$(nspawn_unit_state "$unit")" active "systemctl is-active inside"
	# systemd inside manages its own subtree of our cgroup, nothing of the host's
	[ -n "$(find "$NSPAWN_CGROUP" -path "*/system.slice/$unit/cgroup.procs" -exec cat {} + 2>/dev/null)" ] ||
		fail "$unit's process is not in a cgroup below $NSPAWN_CGROUP"
	_nss_all_in_our_cgroup "$leader" || fail "a container process is outside $NSPAWN_CGROUP"

	nspawn_busctl call org.freedesktop.systemd1 /org/freedesktop/systemd1 \
		org.freedesktop.systemd1.Manager StopUnit ss "$unit" replace >/dev/null ||
		fail "StopUnit $unit"
	wait_until 10 _nss_state_is "$unit" inactive ||
		fail "$unit did not stop: $(_nss_active_state "$unit")"
	expect_eq "$(nspawn_unit_state "$unit")" inactive "systemctl is-active inside after StopUnit"
}
