#!/usr/bin/env bash
# make soak (issue 9): the chaos mix of tests/chaos/run.sh for an hour,
# with one netwardd the whole time (CHAOS_RESTARTS=0: a restart would reset
# what this measures), then its growth: VmRSS over the last tenth of the
# run against the tenth after the warm-up (the first fifth: the event
# history and the caches fill), which must grow by less than 1 %, and its
# open descriptors, which must not grow at all: the floor (the fewest open
# in a window; requests in flight come and go above it) of the last tenth
# is not above the floor after the warm-up. Every check of the chaos run
# applies as well.
#
# Usage: tests/chaos/soak.sh [SECONDS]   (root; default 3600)
# Environment: BUILD, CHAOS_SEED as for run.sh; SOAK_OUT (BENCHMARKS.md;
# empty: do not write) gets a "## Soak (make soak)" section; SOAK_REPORT:
# analyse that chaos report (CHAOS_REPORT of an earlier run) instead of
# running.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
SECONDS_WANTED=${1:-${SOAK_SECONDS:-3600}}
OUT=${SOAK_OUT-$TOP/BENCHMARKS.md}
SECTION="## Soak (make soak)"
[[ $SECONDS_WANTED =~ ^[0-9]+$ ]] && [ "$SECONDS_WANTED" -ge 60 ] ||
	{ echo "soak: SECONDS must be a whole number >= 60, got '$SECONDS_WANTED'" >&2; exit 2; }

WORK=$(mktemp -d /tmp/netward-soak.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
report=$WORK/report.json
if [ -n "${SOAK_REPORT:-}" ]; then
	cp "$SOAK_REPORT" "$report" || exit 1
	chaos_rc=$(jq '[.checks[] | select(.ok | not)] | length' "$report")
else
	CHAOS_RESTARTS=0 CHAOS_REPORT=$report "$HERE/run.sh" "$SECONDS_WANTED" | tee "$WORK/run.out"
	chaos_rc=${PIPESTATUS[0]}
fi
[ -s "$report" ] || { echo "soak: the chaos run wrote no report" >&2; exit 1; }

# growth over the samples [t, rss, fds] of the one incarnation
growth=$(jq -c '
	(.samples | map({t: .[0], rss: .[3], fds: .[4]})) as $s
	| ($s | length) as $n
	| def mean(f): (map(f) | add) / length;
	  ($s[($n * 0.2 | floor):($n * 0.3 | floor)]) as $early
	| ($s[($n * 0.9 | floor):]) as $late
	| { samples: $n, minutes: ((($s[-1].t - $s[0].t) / 60000) * 10 | round / 10),
	    rss_early_kb: ($early | mean(.rss) | round), rss_late_kb: ($late | mean(.rss) | round),
	    rss_first_kb: $s[0].rss, rss_max_kb: ($s | map(.rss) | max),
	    fds_early: ($early | map(.fds) | min), fds_late: ($late | map(.fds) | min),
	    fds_min: ($s | map(.fds) | min), fds_max: ($s | map(.fds) | max),
	    fds_last: $s[-1].fds }
	| .rss_growth_pct = ((.rss_late_kb - .rss_early_kb) * 10000 / .rss_early_kb | round / 100)' \
	"$report")
echo "soak: $growth"
pass=0 fail=0
verdict() {
	if [ "$2" = true ]; then echo "PASS $1"; pass=$((pass + 1)); else echo "FAIL $1"; fail=$((fail + 1)); fi
}
verdict "RSS growth below 1 %" "$(jq '.rss_growth_pct < 1' <<<"$growth")"
verdict "no descriptor growth" "$(jq '.fds_late <= .fds_early' <<<"$growth")"
verdict "the chaos checks" "$([ "$chaos_rc" = 0 ] && echo true || echo false)"

if [ -n "$OUT" ]; then
	# shellcheck source=../bench/lib/common.sh disable=SC1091
	. "$TOP/tests/bench/lib/common.sh"
	sec=$WORK/section
	{
		section_head "$SECTION"
		echo "Goal (issue 9): an hour of the chaos mix (tests/chaos/run.sh with one"
		echo "netwardd); VmRSS growth < 1 %, no descriptor growth."
		echo
		jq -r --argjson g "$growth" '
			"| run | samples | VmRSS at start | after warm-up (20-30 %) | last 10 % | growth | max | descriptors: floor after warm-up -> last 10 % (range, at the end) |",
			"| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
			"| \($g.minutes) min, seed \(.seed) | \($g.samples) | \($g.rss_first_kb) KB | \($g.rss_early_kb) KB | \($g.rss_late_kb) KB | \($g.rss_growth_pct) % | \($g.rss_max_kb) KB | \($g.fds_early) -> \($g.fds_late) (\($g.fds_min)-\($g.fds_max), \($g.fds_last)) |",
			"",
			"- CPU: \(.incarnations[0].cpu_pct) % of one CPU over the run.",
			"- Actions of the chaos actors: \(.actions); events recorded: \(.events | to_entries | map(.value) | add); lost in the kernel: \(.events_lost).",
			"- Chaos checks: \(.checks | map(select(.ok)) | length) of \(.checks | length) passed\(if (.checks | map(select(.ok | not)) | length) > 0 then " (failed: " + (.checks | map(select(.ok | not) | .check) | join("; ")) + ")" else "" end)."' \
			"$report"
		echo "- RSS growth below 1 %: $(jq -r 'if .rss_growth_pct < 1 then "met" else "MISSED" end' <<<"$growth");" \
			"no descriptor growth: $(jq -r 'if .fds_late <= .fds_early then "met" else "MISSED" end' <<<"$growth")."
	} >"$sec"
	write_section "$OUT" "$SECTION" "$sec"
fi
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
