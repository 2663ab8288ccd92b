#!/usr/bin/env bash
# make bench: every libFuzzer harness (tests/fuzz) for at least 10^6
# executions, through `make fuzz`, one harness at a time, and the figures
# libFuzzer reports for each: executions, rate, wall time, edge coverage,
# corpus size. A crash or undefined behaviour fails the run (make fuzz
# prints the report; the input lands in $BUILD/fuzz-<name>-crash-*, to be
# added to tests/fuzz/corpus/<name>/ as a regression seed).
#
# Writes the "## Fuzzing (make bench)" section of BENCHMARKS.md. Needs no
# root: the harnesses touch no namespace, cgroup or BPF object (fuzz_control
# talks to its own socket in a temporary directory).
#
# Environment: BUILD (build), BENCH_FUZZ_RUNS (1000000 per harness),
# BENCH_FUZZERS (all five), BENCH_OUT (BENCHMARKS.md; empty: do not write).
set -euo pipefail

# shellcheck source=SCRIPTDIR/lib/common.sh disable=SC1091
. "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
bench_top
RUNS=${BENCH_FUZZ_RUNS:-1000000}
FUZZERS=${BENCH_FUZZERS:-vici config events cf_api control}
OUT=${BENCH_OUT-BENCHMARKS.md}
SECTION="## Fuzzing (make bench)"
need_positive RUNS
need_tools clang make

declare -A what=(
	[vici]="VICI messages from charon (vici_codec.c)"
	[config]="the configuration file, every section (config*.c)"
	[events]="BPF ring buffer records and rtnetlink messages"
	[cf_api]="Cloudflare API replies (cf_api.c)"
	[control]="control socket requests (control.c)"
)

TMP=$(mktemp -d /tmp/netward-bench-fuzz.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
rows=$TMP/rows
: >"$rows"
total_s=0
for f in $FUZZERS; do
	say "fuzz_$f: $RUNS executions"
	t0=$(date +%s%N)
	make --no-print-directory -s fuzz FUZZERS="$f" FUZZ_RUNS="$RUNS" BUILD="$BUILD" >&2 ||
		die "fuzz_$f failed: see $BUILD/fuzz-$f.log"
	ms=$((($(date +%s%N) - t0) / 1000000))
	total_s=$((total_s + ms / 1000))
	log=$BUILD/fuzz-$f.log
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
	added=$(sed -n 's/^stat::new_units_added: *//p' "$log")
	rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$log")
	done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -1)
	cov=$(sed -n 's/.* cov: \([0-9]*\) .*/\1/p' <<<"$done_line")
	corp=$(sed -n 's/.* corp: \([0-9]*\)\/.*/\1/p' <<<"$done_line")
	seeds=$(find "tests/fuzz/corpus/$f" -type f | wc -l)
	[ "${execs:-0}" -ge "$RUNS" ] || die "fuzz_$f: only ${execs:-0} of $RUNS executions"
	printf '| fuzz_%s | %s | %s | %s | %d.%d s | %s | %s -> %s | %s | %s MB | 0 |\n' \
		"$f" "${what[$f]}" "$execs" "$rate" $((ms / 1000)) $((ms % 1000 / 100)) \
		"$cov" "$seeds" "$corp" "$added" "$rss" >>"$rows"
done

sec=$TMP/section
{
	section_head "$SECTION"
	echo "Goal (issue 9): at least 10^6 executions per harness, no crash, no"
	echo "undefined behaviour (ASan + UBSan, -fno-sanitize-recover). \`make check\`"
	echo "runs the same harnesses for 20000 executions each (the corpus first)."
	echo
	echo "| harness | input | executions | exec/s | wall | edges (cov) | corpus: seeds -> kept | new units | peak RSS | crashes |"
	echo "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
	cat "$rows"
	echo
	echo "- Total wall time ${total_s} s; clang $(clang -dumpversion), libFuzzer with -max_len=4096."
	echo "- Seeds are the files in tests/fuzz/corpus/<name> (regression inputs of the bugs found"
	echo "  included); \"kept\" is libFuzzer's in-memory corpus at the end, saved in"
	echo "  $(basename "$BUILD")/fuzz-corpus-<name> (not in the repository)."
	echo "- Bugs found by fuzzing so far, each with a regression seed and a unit test: a"
	echo "  use-after-free in the VICI decoder on a truncated nested section, and netlink"
	echo "  loops that trusted nlmsg_len of 2 GiB and more (libmnl 1.0.4 does)."
} >"$sec"
cat "$sec"
[ -z "$OUT" ] || write_section "$OUT" "$SECTION" "$sec"
