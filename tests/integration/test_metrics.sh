# shellcheck shell=bash
# Prometheus metrics (issue 8): netwardd writes metrics.textfile, replaces it
# atomically, counts restores in it, keeps a running config when a reload
# names a bad path, and counts (never dies of) write errors.

# prom_py: a strict check of the text exposition format 0.0.4 (the unit test
# has the thorough one), and a reader that reads the file over and over
#   prom_py check FILE            exit 0 when valid (the reason on stderr)
#   prom_py get FILE SERIES       the value of SERIES, e.g. 'a{b="c"}'
#   prom_py loop FILE SECONDS     reads it for SECONDS: JSON {reads, inodes, bad, why}
prom_py() {
	python3 - "$@" <<'PY'
import json, os, re, sys, time
NAME = r'[a-zA-Z_:][a-zA-Z0-9_:]*'
LVAL = r'"(?:[^"\\\n]|\\[\\"n])*"'
LABELS = r'\{[a-zA-Z_][a-zA-Z0-9_]*=' + LVAL + r'(?:,[a-zA-Z_][a-zA-Z0-9_]*=' + LVAL + r')*\}'
SAMPLE = re.compile(r'^(' + NAME + r')(' + LABELS + r')? (NaN|[+-]Inf|[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)$')
HELP = re.compile(r'^# HELP (' + NAME + r') .*$')
TYPE = re.compile(r'^# TYPE (' + NAME + r') (counter|gauge|histogram|summary|untyped)$')

def parse(text):
    """series -> value; raises ValueError why"""
    if not text.endswith('\n'):
        raise ValueError('no newline at the end (%d bytes)' % len(text))
    lines = text[:-1].split('\n')
    if not lines[0].startswith('# HELP netward_up '):
        raise ValueError('first line: %r' % lines[0])
    if not lines[-1].startswith('netward_metrics_write_errors_total '):
        raise ValueError('last line: %r' % lines[-1])
    series, fams, cur = {}, set(), None
    for ln in lines:
        m = HELP.match(ln)
        if m:
            continue
        m = TYPE.match(ln)
        if m:
            if m.group(1) in fams:
                raise ValueError('TYPE twice: %s' % m.group(1))
            fams.add(m.group(1))
            cur = (m.group(1), m.group(2))
            continue
        m = SAMPLE.match(ln)
        if not m:
            raise ValueError('bad line %r' % ln)
        name = m.group(1)
        ok = cur and (name == cur[0] if cur[1] != 'histogram' else
                      name in (cur[0] + '_bucket', cur[0] + '_sum', cur[0] + '_count'))
        if not ok:
            raise ValueError('%s without its TYPE before it' % name)
        key = name + (m.group(2) or '')
        if key in series:
            raise ValueError('series twice: %s' % key)
        series[key] = float(m.group(3))
    h = 'netward_route_restore_latency_seconds'
    if series[h + '_bucket{le="+Inf"}'] != series[h + '_count']:
        raise ValueError('+Inf bucket is not _count')
    return series

mode, path = sys.argv[1], sys.argv[2]
if mode == 'check':
    try:
        parse(open(path).read())
    except (ValueError, KeyError, OSError) as e:
        print('%s: %s' % (path, e), file=sys.stderr)
        sys.exit(1)
elif mode == 'get':
    try:
        print('%.17g' % parse(open(path).read())[sys.argv[3]])
    except (ValueError, KeyError, OSError):
        sys.exit(1)
elif mode == 'loop':
    end, reads, inodes, bad, why = time.time() + float(sys.argv[3]), 0, set(), 0, None
    while time.time() < end:
        with open(path) as f:
            inodes.add(os.fstat(f.fileno()).st_ino)
            text = f.read()
        reads += 1
        try:
            parse(text)
        except (ValueError, KeyError) as e:
            bad += 1
            why = why or str(e)
    print(json.dumps({'reads': reads, 'inodes': len(inodes), 'bad': bad, 'why': why}))
PY
}

# metrics_lab NS TEXTFILE [INTERVAL_MS]: netwardd guarding NS's default
# routes (binds on a cgroup of the test's own) with metrics to TEXTFILE
metrics_lab() {
	local ns=$1 file=$2 interval=${3:-1000} cg
	new_cgroup cg
	METRICS_CG=$cg
	metrics_config "$file" "$interval"
	start_daemon "$ns" "$TMP/cfg.json"
}
metrics_config() {
	local file=$1 interval=${2:-1000}
	[ "$file" = null ] || file="\"$file\""
	write_config "$TMP/cfg.json" <<JSON
{ "binds": { "cgroup": "$METRICS_CG" }, "routes": { "learn_default": true },
  "metrics": { "textfile": $file, "interval_ms": $interval } }
JSON
}

# metric_at_least FILE SERIES N
metric_at_least() {
	local v
	v=$(prom_py get "$1" "$2") || return 1
	python3 -c "import sys; sys.exit(0 if float('$v') >= $3 else 1)"
}
metrics_status() { ctl status --json | jq -r ".metrics$1"; }

test_metrics_textfile_written_and_restores_counted() {
	local ns f
	new_lab ns
	mkdir "$TMP/prom"
	f=$TMP/prom/netward.prom
	metrics_lab "$ns" "$f"
	wait_until 5 test -f "$f" || fail "no $f: $(ctl status --json | jq -c .metrics)"
	prom_py check "$f" || fail "not valid exposition text: $(cat "$f")"
	expect_eq "$(stat -c %a "$f")" 644 "file mode"
	if command -v promtool >/dev/null; then
		promtool check metrics <"$f" || fail "promtool check metrics"
	else
		log "promtool not installed: the format was checked by this test's parser only"
	fi
	grep -q '^netward_up 1$' "$f" || fail "netward_up"
	grep -q '^netward_build_info{version="[^"]*"} 1$' "$f" || fail "build_info"
	grep -q '^netward_protected_routes 2$' "$f" || fail "protected routes: $(grep protected "$f")"
	grep -q '^netward_bpf_bind_wildcard_total ' "$f" || fail "no BPF counters"
	ip -n "$ns" route del default || fail "ip route del"
	wait_until 5 has_route "$ns" default via 192.0.2.1 dev d0 || fail "default route not restored"
	wait_event '.type == "route_restored"'
	wait_until 5 metric_at_least "$f" netward_route_restore_latency_seconds_count 1 ||
		fail "restore not in the histogram: $(grep latency "$f")"
	metric_at_least "$f" 'netward_events_total{type="route_restored"}' 1 || fail "events_total"
	metric_at_least "$f" 'netward_events_total{type="route_deleted"}' 1 || fail "events_total deleted"
	metric_at_least "$f" 'netward_route_restore_latency_seconds_bucket{le="1"}' 1 ||
		fail "a restore within 1 s is in the le=1 bucket"
	prom_py check "$f" || fail "not valid after the restore"
	expect_eq "$(metrics_status .textfile)" "$f" "status metrics.textfile"
	expect_eq "$(metrics_status .errors)" 0 "status metrics.errors"
	[ "$(metrics_status .writes)" -ge 2 ] || fail "writes: $(metrics_status '')"
	metrics_status .last_write | grep -qE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T' || fail "last_write"
	# the interval rewrites it with nothing happening
	local ino
	ino=$(stat -c %i "$f")
	wait_until 3 sh -c "[ \"\$(stat -c %i '$f')\" != $ino ]" || fail "not rewritten every interval_ms"
	stop_daemon || fail "netwardd exit status"
	[ ! -e "$f" ] || fail "the file outlives netwardd (stale values)"
	[ -z "$(ls -A "$TMP/prom")" ] || fail "left in the directory: $(ls -A "$TMP/prom")"
}

test_metrics_file_replaced_atomically() {
	local ns f out pid
	new_lab ns
	mkdir "$TMP/prom"
	f=$TMP/prom/netward.prom
	metrics_lab "$ns" "$f"
	wait_until 5 test -f "$f" || fail "no $f"
	prom_py loop "$f" 6 >"$TMP/loop.json" &
	pid=$!
	# interval_ms 1000, and every deletion and restore is a change: a
	# rewrite, at most one a second (5 restores in 10 s: no anti-flap backoff)
	for _ in 1 2 3 4; do
		sleep 1.2
		ip -n "$ns" route del default || fail "ip route del"
	done
	wait $pid || fail "reader failed"
	out=$(cat "$TMP/loop.json")
	log "reader: $out"
	[ "$(jfield "$out" .bad)" = 0 ] || fail "a read saw a partial or invalid file: $out"
	[ "$(jfield "$out" .reads)" -ge 100 ] || fail "too few reads: $out"
	[ "$(jfield "$out" .inodes)" -ge 4 ] || fail "not replaced (inode) often enough: $out"
	# changes are written at most once a second (6 s: the interval and changes)
	[ "$(jfield "$out" .inodes)" -le 8 ] || fail "written more than once a second: $out"
	wait_until 5 has_route "$ns" default via 192.0.2.1 dev d0 || fail "default route not restored"
	[ -z "$(ls -A "$TMP/prom" | grep -v '^netward.prom$')" ] ||
		fail "temp files left: $(ls -A "$TMP/prom")"
	wait_until 3 metric_at_least "$f" netward_route_restore_latency_seconds_count 4 ||
		fail "restores not counted: $(grep latency_seconds_count "$f")"
}

test_metrics_bad_path_on_reload_keeps_running_config() {
	local ns f ino
	new_lab ns
	mkdir "$TMP/prom"
	f=$TMP/prom/netward.prom
	metrics_lab "$ns" "$f"
	wait_until 5 test -f "$f" || fail "no $f"
	metrics_config relative/netward.prom
	"$NWD" --check-config --config "$TMP/cfg.json" 2>"$TMP/check.err" && fail "check-config accepted it"
	grep -q 'metrics.textfile: "relative/netward.prom" is not an absolute path' "$TMP/check.err" ||
		fail "unclear error: $(cat "$TMP/check.err")"
	kill -HUP "$DAEMON_PID"
	wait_until 5 sh -c "'$NWCTL' --socket '$SOCK' status --json | jq -e '.reload_failures == 1' >/dev/null" ||
		fail "reload not rejected"
	expect_eq "$(ctl status --json | jq -r .last_reload_error)" \
		"$TMP/cfg.json: metrics.textfile: \"relative/netward.prom\" is not an absolute path" \
		"reload error"
	expect_eq "$(metrics_status .textfile)" "$f" "running metrics config kept"
	metrics_config "$TMP/prom/x.prom" 999
	kill -HUP "$DAEMON_PID"
	wait_until 5 sh -c "'$NWCTL' --socket '$SOCK' status --json | jq -e '.reload_failures == 2' >/dev/null" ||
		fail "interval_ms 999 not rejected"
	grep -q 'metrics.interval_ms: 999 is out of range (1000-3600000)' "$TMP/daemon.log" ||
		fail "no log of the interval error"
	# still written where it was, and it says so
	wait_until 5 metric_at_least "$f" netward_reload_failures_total 2 ||
		fail "reload failures not in the file: $(grep reload "$f")"
	ino=$(stat -c %i "$f")
	wait_until 5 sh -c "[ \"\$(stat -c %i '$f')\" != $ino ]" || fail "no longer rewritten"
	[ ! -e "$TMP/prom/x.prom" ] || fail "the rejected path was written"
	# a good reload moves it: the old file goes
	metrics_config "$TMP/prom/moved.prom"
	kill -HUP "$DAEMON_PID"
	wait_until 5 test -f "$TMP/prom/moved.prom" || fail "not written at the new path"
	[ ! -e "$f" ] || fail "the old file stays with stale values"
	metric_at_least "$TMP/prom/moved.prom" netward_reloads_total 1 || fail "reloads_total"
	# and textfile null turns it off
	metrics_config null
	kill -HUP "$DAEMON_PID"
	wait_until 5 sh -c "[ ! -e '$TMP/prom/moved.prom' ]" || fail "textfile null: file not removed"
	expect_eq "$(metrics_status .textfile)" null "textfile null in status"
}

test_metrics_unwritable_dir_counts_errors() {
	local ns f n
	new_lab ns
	mkdir "$TMP/ro"
	if mount -t tmpfs -o ro,size=64k tmpfs "$TMP/ro" 2>/dev/null; then
		defer "umount '$TMP/ro'"
	else
		rmdir "$TMP/ro" && : >"$TMP/ro"	# ENOTDIR instead of EROFS
	fi
	f=$TMP/ro/netward.prom
	metrics_lab "$ns" "$f"
	# changes and the 1 s interval: a failed write a second
	wait_until 8 sh -c "[ \"\$('$NWCTL' --socket '$SOCK' status --json | jq -r .metrics.errors)\" -ge 3 ]" ||
		fail "errors not counted: $(metrics_status '')"
	kill -0 "$DAEMON_PID" || fail "netwardd died"
	metrics_status .last_error | grep -qE 'Read-only file system|Not a directory' ||
		fail "last_error: $(metrics_status .last_error)"
	expect_eq "$(metrics_status .writes)" 0 "no write succeeded"
	expect_eq "$(metrics_status .last_write)" null "last_write"
	n=$(grep -c "metrics: $f: " "$TMP/daemon.log")
	expect_eq "$n" 1 "the failure is logged once per spell"
	# the guard still works
	ip -n "$ns" route del default || fail "ip route del"
	wait_until 5 has_route "$ns" default via 192.0.2.1 dev d0 || fail "default route not restored"
	# a writable place: written, with the errors counted so far
	mkdir "$TMP/prom"
	metrics_config "$TMP/prom/netward.prom"
	kill -HUP "$DAEMON_PID"
	wait_until 5 test -f "$TMP/prom/netward.prom" || fail "not written after the reload"
	prom_py check "$TMP/prom/netward.prom" || fail "invalid"
	metric_at_least "$TMP/prom/netward.prom" netward_metrics_write_errors_total 3 ||
		fail "errors not in the file: $(grep errors "$TMP/prom/netward.prom")"
	kill -0 "$DAEMON_PID" || fail "netwardd died"
}
