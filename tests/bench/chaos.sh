#!/usr/bin/env bash
# make bench: one chaos run (tests/chaos/run.sh, 60 s: routes deleted,
# rules churned from three cgroups, links flapped, wildcard binds, netwardd
# killed and restarted, the tunnel stand-in down and up, SEGW gateways
# killed) and its figures: what the checks found, netwardd's CPU and RSS per
# incarnation, the events by type. Writes the "## Chaos run (make bench)"
# section of BENCHMARKS.md; a failed check is reported there and fails the
# bench.
#
# Environment: BUILD (build), BENCH_CHAOS_SECONDS (60), CHAOS_SEED,
# BENCH_OUT (BENCHMARKS.md; empty: do not write).
set -euo pipefail

# shellcheck source=SCRIPTDIR/lib/common.sh disable=SC1091
. "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
bench_top
need_root "the chaos run makes namespaces and cgroups and loads BPF"
SECS=${BENCH_CHAOS_SECONDS:-60}
OUT=${BENCH_OUT-BENCHMARKS.md}
SECTION="## Chaos run (make bench)"
need_positive SECS

TMP=$(mktemp -d /tmp/netward-bench-chaos.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
rc=0
BUILD=$BUILD CHAOS_REPORT=$TMP/report.json tests/chaos/run.sh "$SECS" >"$TMP/out" 2>"$TMP/err" || rc=$?
[ -s "$TMP/report.json" ] || { cat "$TMP/err" "$TMP/out" >&2; die "the chaos run wrote no report"; }

sec=$TMP/section
{
	section_head "$SECTION"
	echo "Goal (issue 9): after ${SECS} s of chaos the protected routes and rules are"
	echo "back, enforcement held, nothing the config does not name was touched,"
	echo "netwardd's CPU and RSS stayed within bounds and every event is accounted"
	echo "for. \`make check\` runs the same, plain and under ASan+UBSan."
	echo
	jq -r '"Seed \(.seed); \(.kills) kills of netwardd (\(.incarnations | length) incarnations); \(.actions) actions of the actors; \(.events | to_entries | map(.value) | add) events recorded, \(.events_lost) lost in the kernel."' \
		"$TMP/report.json"
	echo
	echo "| check | result |"
	echo "| --- | --- |"
	jq -r '.checks[] | "| \(.check) | \(if .ok then "pass" else "FAIL" end) |"' "$TMP/report.json"
	echo
	echo "What the checks measured:"
	echo
	sed -n 's/^#   /- /p' "$TMP/out"
	echo
	echo "| incarnation | seconds | CPU (of one CPU) | max VmRSS | descriptors first -> last |"
	echo "| ---: | ---: | ---: | ---: | ---: |"
	jq -r '.incarnations | to_entries[] | "| \(.key + 1) | \(.value.seconds) | \(.value.cpu_pct) % | \(.value.max_rss_kb) KB | \(.value.fds_first) -> \(.value.fds_last) |"' \
		"$TMP/report.json"
} >"$sec"
cat "$sec"
[ -z "$OUT" ] || write_section "$OUT" "$SECTION" "$sec"
[ "$rc" = 0 ] || { tail -n 30 "$TMP/err" >&2; die "chaos checks failed (exit $rc)"; }
