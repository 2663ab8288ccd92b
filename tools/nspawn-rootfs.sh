#!/usr/bin/env bash
# Builds (once) the minimal Debian bookworm tree that netward's "real systemd"
# tests boot with systemd-nspawn, and prints its path on stdout.
#
#   tools/nspawn-rootfs.sh            -> /var/cache/netward-test/rootfs-bookworm-v2
#
# Idempotent: the first run debootstraps (~1 min, needs root and the network),
# customizes the tree for the tests, caches it as a tarball plus an extracted
# directory; later runs only print the path. A lock keeps two concurrent runs
# from both building. Boot the tree with --volatile=overlay so it stays
# pristine. Bump VERSION whenever what is put inside changes.
#
# Environment: NW_NSPAWN_CACHE (default /var/cache/netward-test),
#              NW_DEBIAN_MIRROR (default: the machine's first Debian mirror).
set -euo pipefail

VERSION=v2
# v2: the run-time libraries of build/netwardd and build/netwardctl (bound
#     read-only at /opt/netward: the tests run them inside as a unit) and
#     procps (/bin/kill: the unit's ExecReload=)
PACKAGES=systemd,systemd-sysv,dbus,procps,libbpf1,libelf1,zlib1g,libmnl0,libcjson1,libcurl4
SUITE=bookworm
CACHE=${NW_NSPAWN_CACHE:-/var/cache/netward-test}
NAME=rootfs-$SUITE-$VERSION
TAR=$CACHE/$NAME.tar
ROOT=$CACHE/$NAME
DONE=$ROOT/.netward-rootfs-complete	# written last: the tree is whole

log() { echo "nspawn-rootfs: $*" >&2; }

# fast path, no lock needed: the marker is only ever created last
if [ -e "$DONE" ]; then
	echo "$ROOT"
	exit 0
fi

[ "$(id -u)" -eq 0 ] || { log "building $ROOT needs root"; exit 1; }
mkdir -p "$CACHE"
exec 9>"$CACHE/.$NAME.lock"
flock 9
if [ -e "$DONE" ]; then	# built by a concurrent run while we waited
	echo "$ROOT"
	exit 0
fi

# The first deb.debian.org-like mirror this machine uses.
mirror() {
	local m=
	if [ -n "${NW_DEBIAN_MIRROR:-}" ]; then
		echo "$NW_DEBIAN_MIRROR"
		return
	fi
	if [ -r /etc/apt/sources.list.d/debian.sources ]; then
		m=$(awk 'tolower($1) == "uris:" { print $2; exit }' /etc/apt/sources.list.d/debian.sources)
	fi
	if [ -z "$m" ] && [ -r /etc/apt/sources.list ]; then
		# deb [options] URI suite ...: the first field that looks like a URI
		m=$(awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; exit } }' /etc/apt/sources.list)
	fi
	echo "${m:-http://deb.debian.org/debian}"
}

# Removes a half-made tree; never follows into something mounted below it
# (debootstrap mounts proc and sys inside the target while it works).
remove_tree() {
	local dir=$1 mp
	[ -d "$dir" ] || return 0
	# innermost first
	awk -v d="$dir/" 'index($5, d) == 1 { print $5 }' /proc/self/mountinfo | sort -r |
		while read -r mp; do umount -l "$mp" 2>/dev/null || true; done
	if awk -v d="$dir/" 'index($5, d) == 1 { f = 1 } END { exit !f }' /proc/self/mountinfo; then
		log "something is still mounted below $dir: not removing it"
		return 1
	fi
	rm -rf --one-file-system "$dir"
}

WORK=
cleanup() {
	[ -z "$WORK" ] || remove_tree "$WORK" || true
	rm -f "$TAR.tmp"
}
trap cleanup EXIT

# The units and settings the tests need inside.
customize() {
	local r=$1 u
	mkdir -p "$r/etc/systemd/system" "$r/opt/netward" "$r/run/dbus"

	cat >"$r/etc/systemd/system/cloudflared-backup.service" <<-'EOF'
		# netward tests: stands in for a tunnel's backup connector
		[Unit]
		Description=netward test: cloudflared backup stand-in

		[Service]
		Type=simple
		ExecStart=/bin/sleep infinity
	EOF
	cat >"$r/etc/systemd/system/netward-test-dummy.service" <<-'EOF'
		# netward tests: a second unit to start and stop
		[Unit]
		Description=netward test: dummy unit

		[Service]
		Type=simple
		ExecStart=/bin/sleep infinity
	EOF

	# Units that slow the boot down or fail in a container: masked when
	# the tree has them (a template is masked by its name with the @).
	for u in systemd-networkd-wait-online.service getty@.service \
		console-getty.service container-getty@.service serial-getty@.service \
		apt-daily.timer apt-daily-upgrade.timer dpkg-db-backup.timer \
		e2scrub_all.timer e2scrub_reap.service fstrim.timer \
		systemd-timesyncd.service systemd-firstboot.service; do
		if [ -e "$r/lib/systemd/system/$u" ] || [ -e "$r/usr/lib/systemd/system/$u" ]; then
			ln -sfn /dev/null "$r/etc/systemd/system/$u"
		fi
	done

	# a fixed machine-id: no first-boot logic, stable journal paths
	if command -v systemd-id128 >/dev/null; then
		systemd-id128 new >"$r/etc/machine-id"
	else
		tr -d '-' </proc/sys/kernel/random/uuid >"$r/etc/machine-id"
	fi
	# the D-Bus machine id must match or be a link to it
	rm -f "$r/var/lib/dbus/machine-id"
	mkdir -p "$r/var/lib/dbus"
	ln -s /etc/machine-id "$r/var/lib/dbus/machine-id"

	# journald: keep everything in memory
	mkdir -p "$r/etc/systemd/journald.conf.d"
	printf '[Journal]\nStorage=volatile\n' >"$r/etc/systemd/journald.conf.d/netward-test.conf"

	echo netward-test >"$r/etc/hostname"
	# smaller: no package caches
	rm -rf "$r"/var/cache/apt/*.bin "$r"/var/cache/apt/archives/*.deb "$r"/var/lib/apt/lists/*
	: >"$r/.netward-rootfs-$VERSION"
}

TAR_OPTS=(--numeric-owner --xattrs --xattrs-include='*' --acls)

if [ ! -s "$TAR" ]; then
	command -v debootstrap >/dev/null || { log "debootstrap is missing (tools/deps.sh installs it)"; exit 1; }
	M=$(mirror)
	WORK=$(mktemp -d "$CACHE/.build-$NAME.XXXXXX")
	chmod 755 "$WORK"
	log "debootstrap $SUITE from $M into $WORK (about a minute; log: $CACHE/$NAME.log)"
	t0=$SECONDS
	if ! debootstrap --variant=minbase --include="$PACKAGES" \
		"$SUITE" "$WORK" "$M" >"$CACHE/$NAME.log" 2>&1; then
		tail -n 30 "$CACHE/$NAME.log" >&2
		log "debootstrap failed"
		exit 1
	fi
	customize "$WORK"
	tar "${TAR_OPTS[@]}" -C "$WORK" -cf "$TAR.tmp" .
	mv -f "$TAR.tmp" "$TAR"
	log "built $TAR in $((SECONDS - t0)) s"
	remove_tree "$WORK"
	WORK=
fi

# the extracted tree, always from the tarball so both agree
if [ -e "$ROOT" ]; then
	remove_tree "$ROOT"	# incomplete: no marker
fi
WORK=$(mktemp -d "$CACHE/.extract-$NAME.XXXXXX")
chmod 755 "$WORK"
tar "${TAR_OPTS[@]}" -C "$WORK" -xpf "$TAR"
: >"$WORK/.netward-rootfs-complete"
mv -T "$WORK" "$ROOT"
WORK=
echo "$ROOT"
