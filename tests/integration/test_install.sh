# shellcheck shell=bash
# make install / make uninstall into a DESTDIR: every file in place with its
# mode, the unit's ExecStart at the installed netwardd, the bash completion
# (parsed, then driven the way bash drives it: COMP_WORDS/COMP_CWORD and
# _netwardctl) offering what netwardctl accepts; uninstall leaves no file.
# Touches nothing outside $TMP; installs the binaries as built ($BUILD),
# never rebuilding them.

# nw_make ARGS...: make in the source tree with the binaries under test
nw_make() {
	make -C "$NW_ROOT" --no-print-directory BUILD="$BUILD" \
		-o "$BUILD/netwardd" -o "$BUILD/netwardctl" "$@"
}

# the files make install puts under PREFIX, with their modes
installed_files() {
	local p=$1
	cat <<EOF
0755 $p/sbin/netwardd
0755 $p/sbin/netwardctl
0644 $p/share/man/man8/netwardd.8
0644 $p/share/man/man8/netwardctl.8
0644 $p/share/man/man5/netward.json.5
0644 $p/lib/systemd/system/netwardd.service
0644 $p/share/doc/netward/netward.json.example
0644 $p/share/bash-completion/completions/netwardctl
EOF
}

# check_installed ROOT PREFIX: every file there, regular, with its mode
check_installed() {
	local root=$1 prefix=$2 mode f n=0
	while read -r mode f; do
		[ -f "$root$f" ] || fail "not installed: $f"
		expect_eq "$(stat -c %a "$root$f")" "${mode#0}" "mode of $f"
		n=$((n + 1))
	done < <(installed_files "$prefix")
	# nothing else
	expect_eq "$(find "$root" -type f | wc -l)" "$n" "files under DESTDIR"
}

# unit_execstart ROOT PREFIX: the installed unit's ExecStart binary
unit_execstart() {
	sed -n 's/^ExecStart=\([^ ]*\).*/\1/p' "$1$2/lib/systemd/system/netwardd.service"
}

# comp FILE WORD...: sources the completion FILE in a fresh bash, completes
# the last WORD (the one under the cursor; '' for a new word) of the command
# line WORD..., prints the candidates sorted, one a line
comp() {
	local file=$1
	shift
	bash -c '. "$1" || exit 9; shift
		COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
		COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
		_netwardctl netwardctl "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}" || exit 8
		[ ${#COMPREPLY[@]} -eq 0 ] || printf "%s\n" "${COMPREPLY[@]}"' \
		_ "$file" "$@" | sort
}
# words: stdin lines sorted, on one line
words() { sort -u | tr '\n' ' ' | sed 's/ $//'; }
# expect_comp EXPECTED FILE WORD...: the candidates are exactly EXPECTED
expect_comp() {
	local want got
	want=$(tr ' ' '\n' <<<"$1" | words)
	shift
	got=$(comp "$@" | words)
	expect_eq "$got" "$want" "completion of '${*:2}'"
}

# what netwardctl accepts, from its sources
src_verbs() { sed -n 's/^[[:space:]]*{ "\([a-z-]*\)", verb_[a-z_]* },.*/\1/p' "$NW_ROOT/user/netwardctl.c"; }
src_options() {
	sed -n 's/^[[:space:]]*{ "\([a-z-]*\)", \(no\|required\)_argument,.*/--\1/p' "$NW_ROOT/user/netwardctl.c"
}
# public event types: type_names[] but the internal ones (nw_event_type_public)
src_event_types() {
	sed -n 's/^[[:space:]]*\[NW_EV_[A-Z0-9_]*\] = "\([a-z0-9_]*\)",.*/\1/p' "$NW_ROOT/user/events.c" |
		grep -vxE 'none|rtnl_request|no_route_sample|cgroup_change'
}

test_install_prefix_usr_and_uninstall() {
	local root=$TMP/root p=/usr comp_file
	nw_make install DESTDIR="$root" PREFIX=$p >"$TMP/install.log" 2>&1 ||
		{ cat "$TMP/install.log" >&2; fail "make install"; }
	check_installed "$root" $p
	cmp -s "$BUILD/netwardd" "$root$p/sbin/netwardd" || fail "installed netwardd is not the one built"
	cmp -s "$BUILD/netwardctl" "$root$p/sbin/netwardctl" || fail "installed netwardctl is not the one built"
	"$root$p/sbin/netwardctl" --version | grep -q '^netwardctl ' || fail "installed netwardctl --version"
	"$root$p/sbin/netwardd" --version >/dev/null || fail "installed netwardd --version"

	# the unit starts the netwardd just installed; the rest of it as shipped
	expect_eq "$(unit_execstart "$root" $p)" "$p/sbin/netwardd" "ExecStart"
	[ -x "$root$(unit_execstart "$root" $p)" ] || fail "ExecStart's binary is not installed"
	expect_eq "$(grep -c '^ExecStart=' "$root$p/lib/systemd/system/netwardd.service")" 1 "ExecStart lines"
	diff <(grep -v '^ExecStart=' "$NW_ROOT/systemd/netwardd.service") \
		<(grep -v '^ExecStart=' "$root$p/lib/systemd/system/netwardd.service") >&2 ||
		fail "the installed unit differs from systemd/netwardd.service beyond ExecStart"
	cmp -s "$NW_ROOT/etc/netward.json.example" "$root$p/share/doc/netward/netward.json.example" ||
		fail "example config differs"

	# the installed completion parses and completes
	comp_file=$root$p/share/bash-completion/completions/netwardctl
	bash -n "$comp_file" || fail "bash -n $comp_file"
	expect_comp "$(src_verbs | words)" "$comp_file" netwardctl ''
	expect_comp "list add del" "$comp_file" netwardctl blocklist ''
	expect_comp "$(src_event_types | words)" "$comp_file" netwardctl events --type ''

	# a second install over the first is fine; uninstall removes every file
	nw_make install DESTDIR="$root" PREFIX=$p >"$TMP/install.log" 2>&1 || fail "make install again"
	check_installed "$root" $p
	nw_make uninstall DESTDIR="$root" PREFIX=$p >"$TMP/uninstall.log" 2>&1 ||
		{ cat "$TMP/uninstall.log" >&2; fail "make uninstall"; }
	[ -z "$(find "$root" ! -type d)" ] || { find "$root" ! -type d >&2; fail "left after uninstall"; }
	[ ! -e "$root$p/share/doc/netward" ] || fail "share/doc/netward left after uninstall"
	# and again: nothing to remove is not an error
	nw_make uninstall DESTDIR="$root" PREFIX=$p >/dev/null 2>&1 || fail "make uninstall twice"
}

test_install_other_prefixes() {
	local p
	# the default, /usr/local: the unit as shipped; and one the unit never names
	nw_make install DESTDIR="$TMP/local" >"$TMP/install.log" 2>&1 ||
		{ cat "$TMP/install.log" >&2; fail "make install (default PREFIX)"; }
	check_installed "$TMP/local" /usr/local
	cmp -s "$NW_ROOT/systemd/netwardd.service" "$TMP/local/usr/local/lib/systemd/system/netwardd.service" ||
		fail "PREFIX=/usr/local: the unit should be installed unchanged"
	p=/opt/netward
	nw_make install DESTDIR="$TMP/opt" PREFIX=$p >"$TMP/install.log" 2>&1 ||
		{ cat "$TMP/install.log" >&2; fail "make install PREFIX=$p"; }
	check_installed "$TMP/opt" $p
	expect_eq "$(unit_execstart "$TMP/opt" $p)" "$p/sbin/netwardd" "ExecStart (PREFIX=$p)"
	nw_make uninstall DESTDIR="$TMP/opt" PREFIX=$p >/dev/null 2>&1 || fail "make uninstall PREFIX=$p"
	nw_make uninstall DESTDIR="$TMP/local" >/dev/null 2>&1 || fail "make uninstall (default PREFIX)"
	[ -z "$(find "$TMP/opt" "$TMP/local" ! -type d)" ] || fail "left after uninstall"
}

test_install_completion_words() {
	local f=$NW_ROOT/completion/netwardctl.bash all
	bash -n "$f" || fail "bash -n $f"
	# verbs and sub-verbs
	expect_comp "$(src_verbs | words)" "$f" netwardctl ''
	expect_comp "wait-stable" "$f" netwardctl --json --socket /x wa
	expect_comp "list add del" "$f" netwardctl blocklist ''
	expect_comp "list add del" "$f" netwardctl --json quarantine ''
	expect_comp "list failover" "$f" netwardctl segw ''
	expect_comp "" "$f" netwardctl status ''
	expect_comp "" "$f" netwardctl blocklist list ''
	# option values
	expect_comp "$(src_event_types | words)" "$f" netwardctl events --type ''
	expect_comp "rule_storm" "$f" netwardctl events --follow --type rule_s
	expect_comp "rule_storm" "$f" netwardctl events --type = rule_s	# --type=rule_s
	expect_comp "allow audit deny rewrite kill" "$f" netwardctl blocklist add --action ''
	expect_comp "tcp udp any" "$f" netwardctl blocklist add --proto ''
	expect_comp "4 6 any" "$f" netwardctl blocklist del --family ''
	expect_comp "" "$f" netwardctl blocklist add --port ''
	# option values are not taken for verbs
	expect_comp "list add del" "$f" netwardctl --pin-dir /sys/fs/bpf/x blocklist ''
	# options per verb, as the usage text gives them
	expect_comp "--json --pin-dir --socket --help --version" "$f" netwardctl --
	expect_comp "--json --pin-dir --socket --help --version --action --cgroup --port --proto --family" \
		"$f" netwardctl blocklist add --
	expect_comp "--json --pin-dir --socket --help --version --cgroup --port --proto --family" \
		"$f" netwardctl blocklist del --
	expect_comp "--follow" "$f" netwardctl events --f
	expect_comp "--quiet" "$f" netwardctl wait-stable --q
	expect_comp "--now" "$f" netwardctl probes --n
	# every option netwardctl parses is offered somewhere
	all=$( { comp "$f" netwardctl --; comp "$f" netwardctl blocklist add --
		 comp "$f" netwardctl events --; comp "$f" netwardctl wait-stable --
		 comp "$f" netwardctl probes --; comp "$f" netwardctl quarantine --; } | words)
	expect_eq "$all" "$(src_options | words)" "options offered vs getopt's"
	# --cgroup: directories under the cgroup2 mount, relative to it
	if [ -n "$CG2" ]; then
		local cg
		new_cgroup cg
		comp "$f" netwardctl quarantine add --cgroup "${cg#"$CG2"/}" | grep -qx "${cg#"$CG2"/}/" ||
			fail "--cgroup does not complete $cg"
	fi
}

# a stand-in for netwardd's control socket answering every request with
# two SEGW connections, the way `netwardctl segw --json` reads them
fake_segw_daemon() {
	/usr/bin/python3 - "$1" <<'PY' &
import json, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1])
s.listen(8)
reply = {"ok": True, "segw": {"vici_socket": "/run/charon.vici", "connected": True,
         "working": 0, "connections": [
             {"name": "hq", "gateways": ["192.0.2.1", "192.0.2.2"], "gateway": "192.0.2.1",
              "state": "up", "attempts": 0, "max_retries": 3},
             {"name": "branch-2", "gateways": ["198.51.100.1"], "gateway": "198.51.100.1",
              "state": "down", "attempts": 1, "max_retries": 3}]}}
while True:
    c, _ = s.accept()
    f = c.makefile("rw")
    req = json.loads(f.readline())
    f.write(json.dumps(reply if req.get("cmd") == "segw" else {"ok": False}) + "\n")
    f.flush()
    c.close()
PY
	defer "kill $!"
	wait_until 5 test -S "$1" || fail "fake control socket did not start"
}

test_install_completion_segw_names() {
	local f=$NW_ROOT/completion/netwardctl.bash sock=$TMP/fake.sock err
	[ -x /usr/bin/python3 ] || skip "python3 is needed for the stand-in control socket"
	fake_segw_daemon "$sock"
	# the connection names come from `netwardctl --socket S segw --json`
	# (words[0], the netwardctl being completed, runs it)
	expect_comp "hq branch-2" "$f" "$NWCTL" --socket "$sock" segw failover ''
	expect_comp "branch-2" "$f" "$NWCTL" --socket = "$sock" segw failover b	# --socket=S
	expect_comp "" "$f" "$NWCTL" --socket "$sock" segw failover hq ''
	expect_comp "" "$f" "$NWCTL" --socket "$sock" segw list ''
	# no daemon: no names, and nothing on the terminal
	err=$(comp "$f" "$NWCTL" --socket "$TMP/none.sock" segw failover '' 2>&1)
	expect_eq "$err" "" "completion without a daemon"
}

test_install_help_examples() {
	local v help
	help=$("$NWCTL" --help) || fail "netwardctl --help"
	for v in $(src_verbs); do
		grep -qE "^  netwardctl $v( |\$)" <<<"$help" || fail "netwardctl --help: no example for $v"
	done
	for v in list add del; do
		grep -qE "^  netwardctl blocklist $v( |\$)" <<<"$help" || fail "no example for blocklist $v"
		grep -qE "^  netwardctl quarantine $v( |\$)" <<<"$help" || fail "no example for quarantine $v"
	done
	grep -qE '^  netwardctl segw failover ' <<<"$help" || fail "no example for segw failover"
	"$NWD" --help | grep -q '^  netwardd .*--dry-run' || fail "netwardd --help: no --dry-run example"
}
