# shellcheck shell=bash
# netwardctl wait-stable against real churn in a lab namespace: 0 only once
# the namespace has been quiet for the window, 1 at the timeout while a loop
# keeps changing routes, at once when it is quiet already; many waiters at
# once; clients that go away while they wait.

# sguard NS: netwardd guarding NS, binds on a cgroup of the test's own
sguard() {
	local cg
	new_cgroup cg
	write_config "$TMP/cfg.json" <<JSON
{ "binds": { "cgroup": "$cg" }, "routes": { "learn_default": true } }
JSON
	start_daemon "$1" "$TMP/cfg.json"
}

# now_ms: CLOCK_REALTIME in ms, without forking date
now_ms() { local t=${EPOCHREALTIME//[.,]/}; echo $((t / 1000)); }

# churn NS MS ENDFILE: adds and deletes a route (not a protected one) in a
# loop for MS; then writes the time of its last change to ENDFILE
churn() {
	local ns=$1 end=$(($(now_ms) + $2))
	while [ "$(now_ms)" -lt $end ]; do
		ip -n "$ns" route add 10.99.0.0/24 via 192.0.2.1 dev d0
		ip -n "$ns" route del 10.99.0.0/24 via 192.0.2.1 dev d0
	done
	now_ms >"$3.tmp"
	mv "$3.tmp" "$3"
}
# start_churn NS MS ENDFILE: in the background, killed at the end of the test
start_churn() {
	churn "$@" &
	CHURN_PID=$!
	defer "kill $CHURN_PID"
	# it is changing things before the caller goes on
	wait_until 5 churned "$1" || fail "the churn loop made no change"
}
churned() { [ "$(ctl status --json | jq -r '.stability.changes')" -gt "${CHURN_BASE:-0}" ]; }

# settle: the lab is quiet (IPv6 duplicate address detection of d0's
# link-local address, the daemon's start) before a test measures
no_tentative() { [ -z "$(ip -n "$1" addr show tentative)" ]; }
settle() {
	wait_until 5 no_tentative "$1" || fail "addresses stay tentative"
	ctl wait-stable --quiet 300 --timeout 10000 >/dev/null || fail "lab never became quiet"
	CHURN_BASE=$(ctl status --json | jq -r '.stability.changes')
}

stability() { ctl status --json | jq -r ".stability.$1"; }
# waiters OP N: netwardd's count of waiting clients compares (for wait_until)
waiters() { test "$(stability waiters)" "$1" "$2"; }

# raw_request JSON...: each line to the control socket, one reply each
raw_request() {
	python3 - "$SOCK" "$@" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
f = s.makefile("rw")
for req in sys.argv[2:]:
    f.write(req + "\n"); f.flush()
    print(f.readline().strip())
PY
}

test_wait_stable_idle_answers_at_once() {
	local ns t0 t1 out
	new_lab ns
	sguard "$ns"
	# the daemon's start counts as a change: not quiet for a minute yet
	ctl wait-stable --quiet 60000 --timeout 0 >/dev/null
	expect_eq $? 1 "--timeout 0 right after the start"
	# IPv6 DAD of the link-local address ends with a real address change
	wait_until 5 no_tentative "$ns" || fail "addresses stay tentative"
	out=$(ctl wait-stable --quiet 1000 --timeout 10000) || fail "never quiet for 1000 ms"
	[[ $out == "stable: no change for "*" ms (waited "*" ms)" ]] || fail "human output: $out"
	# quiet for 1000 ms already: no waiting at all
	t0=$(now_ms)
	out=$(ctl wait-stable --quiet 1000 --json) || fail "not stable the second time"
	t1=$(now_ms)
	log "idle answer in $((t1 - t0)) ms: $out"
	[ $((t1 - t0)) -lt 200 ] || fail "took $((t1 - t0)) ms while idle"
	expect_eq "$(jfield "$out" '.stable')" true "stable"
	jq -e '.waited_ms < 50 and .quiet_ms >= 1000' <<<"$out" >/dev/null || fail "reply: $out"
	ctl wait-stable --quiet 500 --timeout 0 >/dev/null || fail "--timeout 0 while quiet"
	expect_eq "$(stability waiters)" 0 "waiters left"
}

test_wait_stable_returns_after_churn_ends() {
	local ns t0 t1 end rc out
	new_lab ns
	sguard "$ns"
	settle "$ns"
	start_churn "$ns" 2000 "$TMP/churn_end"
	t0=$(now_ms)
	out=$(ctl --json wait-stable --quiet 300 --timeout 20000)
	rc=$?
	t1=$(now_ms)
	expect_eq $rc 0 "wait-stable exit status"
	[ -s "$TMP/churn_end" ] || fail "wait-stable returned while the loop still churned: $out"
	end=$(cat "$TMP/churn_end")
	log "churn ended at +$((end - t0)) ms, wait-stable returned at +$((t1 - t0)) ms" \
	    "($((t1 - end)) ms after the last change): $out"
	# the last change is seen by netwardd a little before the loop notes
	# the time: allow 20 ms of that, and a slow (sanitized) daemon
	[ $((t1 - end)) -ge 280 ] || fail "returned $((t1 - end)) ms after the last change (< 300)"
	[ $((t1 - end)) -lt 800 ] || fail "returned $((t1 - end)) ms after the last change"
	jq -e '.stable and .quiet_ms >= 300 and .waited_ms >= 1000' <<<"$out" >/dev/null ||
		fail "reply: $out"
	[ "$(stability changes)" -gt $((CHURN_BASE + 100)) ] || fail "few changes counted"
}

test_wait_stable_times_out_while_churning() {
	local ns t0 t1 rc out
	new_lab ns
	sguard "$ns"
	settle "$ns"
	start_churn "$ns" 5000 "$TMP/churn_end"
	t0=$(now_ms)
	out=$(ctl wait-stable --quiet 300 --timeout 1000)
	rc=$?
	t1=$(now_ms)
	log "exit $rc after $((t1 - t0)) ms: $out"
	expect_eq $rc 1 "wait-stable exit status while churning"
	[ $((t1 - t0)) -ge 1000 ] || fail "gave up after $((t1 - t0)) ms (< 1000)"
	[ $((t1 - t0)) -lt 1500 ] || fail "gave up after $((t1 - t0)) ms"
	[[ $out == "not stable after "* ]] || fail "human output: $out"
	[ ! -e "$TMP/churn_end" ] || fail "the churn loop ended too early to tell"
	out=$(ctl --json wait-stable --quiet 300 --timeout 200)
	expect_eq $? 1 "--json exit status"
	jq -e '(.stable | not) and .waited_ms >= 200 and .quiet_ms < 300' <<<"$out" >/dev/null ||
		fail "reply: $out"
	[ "$(stability answered_timeout)" -ge 2 ] || fail "timeouts not counted"
}

test_wait_stable_many_concurrent_waiters() {
	local ns i end t rc q
	local quiet=(100 200 300 400 500)
	new_lab ns
	sguard "$ns"
	settle "$ns"
	start_churn "$ns" 1000 "$TMP/churn_end"
	for i in 0 1 2 3 4; do
		(
			ctl wait-stable --quiet "${quiet[$i]}" --timeout 20000 >"$TMP/w$i.out"
			echo "$? $(now_ms)" >"$TMP/w$i.rc"
		) &
	done
	# a sixth that gives up first, and one that asks while they all wait
	(ctl wait-stable --quiet 300 --timeout 300 >/dev/null; echo $? >"$TMP/w5.rc") &
	wait_until 5 waiters -ge 5 || fail "waiters: $(stability waiters)"
	ctl status >/dev/null || fail "status while clients wait"
	wait_until 10 test -e "$TMP/w4.rc" -a -e "$TMP/w5.rc" || fail "not every waiter answered"
	wait_until 5 test -e "$TMP/w0.rc" -a -e "$TMP/w1.rc" -a -e "$TMP/w2.rc" -a -e "$TMP/w3.rc" ||
		fail "not every waiter answered"
	end=$(cat "$TMP/churn_end")
	for i in 0 1 2 3 4; do
		read -r rc t <"$TMP/w$i.rc"
		q=${quiet[$i]}
		log "waiter $i (--quiet $q): exit $rc, $((t - end)) ms after the last change"
		expect_eq "$rc" 0 "waiter $i exit status"
		[ $((t - end)) -ge $((q - 20)) ] || fail "waiter $i answered $((t - end)) ms after the end"
		[ $((t - end)) -lt $((q + 500)) ] || fail "waiter $i answered $((t - end)) ms after the end"
	done
	expect_eq "$(cat "$TMP/w5.rc")" 1 "the waiter with --timeout 300"
	expect_eq "$(stability waiters)" 0 "waiters left"
}

test_wait_stable_clients_that_go_away() {
	local ns pid out
	new_lab ns
	sguard "$ns"
	settle "$ns"
	start_churn "$ns" 3000 "$TMP/churn_end"
	# killed while it waits: the waiter is cancelled
	"$NWCTL" --socket "$SOCK" wait-stable --quiet 5000 >/dev/null &
	pid=$!	# netwardctl itself, not a subshell running ctl
	wait_until 5 waiters -eq 1 || fail "waiter not registered"
	kill -9 $pid
	wait $pid 2>/dev/null
	wait_until 5 waiters -eq 0 || fail "a killed client's waiter stays"
	expect_eq "$(stability cancelled)" 1 "cancelled waiters"
	# a request and close at once; a half-closed client still gets its answer
	out=$(python3 - "$SOCK" <<'PY'
import socket, sys
for i in range(20):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sys.argv[1])
    s.sendall(b'{"cmd":"wait-stable","quiet_ms":100}\n')
    s.close()
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
s.sendall(b'{"cmd":"wait-stable","quiet_ms":100,"timeout_ms":10000}\n{"cmd":"ping"}\n')
s.shutdown(socket.SHUT_WR)
print(s.makefile().read().strip().replace("\n", " | "))
PY
	) || fail "half-closed client"
	log "half-closed client got: $out"
	[[ $out == '{"ok":true,"stable":true,'*' | {"ok":true}' ]] || fail "half-closed client: $out"
	[ -s "$TMP/churn_end" ] || fail "answered while the loop still churned"
	wait_until 5 waiters -eq 0 || fail "waiters left: $(stability waiters)"
	ctl status >/dev/null || fail "status after clients went away"
	# the daemon stops while one waits: the client learns it lost netwardd
	ip -n "$ns" route add 10.98.0.0/24 via 192.0.2.1 dev d0
	ctl wait-stable --quiet 60000 >/dev/null 2>"$TMP/lost.err" &
	pid=$!
	wait_until 5 waiters -eq 1 || fail "waiter not registered"
	stop_daemon || fail "netwardd exited with $? with a waiter pending"
	wait $pid
	expect_eq $? 3 "a waiter whose daemon stopped"
	grep -q "closed the connection" "$TMP/lost.err" || fail "message: $(cat "$TMP/lost.err")"
}

test_wait_stable_bad_requests() {
	local ns out
	new_lab ns
	sguard "$ns"
	out=$(raw_request '{"cmd":"wait-stable","quiet_ms":0}' '{"cmd":"wait-stable","quiet_ms":"5"}' \
		'{"cmd":"wait-stable","quiet_ms":1.5}' '{"cmd":"wait-stable","quiet_ms":86400001}' \
		'{"cmd":"wait-stable","timeout_ms":-1}' '{"cmd":"wait-stable","timeout_ms":true}' \
		'{"cmd":"wait-stable","quiet_ms":1,"timeout_ms":null}')
	log "$out"
	expect_eq "$(grep -c '"ok":false,"error":"quiet_ms: ' <<<"$out")" 4 "quiet_ms errors"
	expect_eq "$(grep -c '"ok":false,"error":"timeout_ms: ' <<<"$out")" 2 "timeout_ms errors"
	expect_eq "$(tail -1 <<<"$out" | jq -r .stable)" true "quiet_ms 1, timeout_ms null"
	ctl wait-stable extra 2>/dev/null
	expect_eq $? 2 "extra argument"
	ctl wait-stable --quiet 0 2>/dev/null
	expect_eq $? 2 "--quiet 0"
	ctl wait-stable --timeout x 2>/dev/null
	expect_eq $? 2 "--timeout x"
	"$NWCTL" --socket "$TMP/nothing.sock" wait-stable 2>/dev/null
	expect_eq $? 3 "no daemon"
}
