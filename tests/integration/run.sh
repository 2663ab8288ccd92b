#!/usr/bin/env bash
# Runs netward's root integration tests: tests/integration/test_*.sh define
# functions named test_*; each runs in its own subshell with its own cleanup.
# Usage: run.sh [TEST_NAME_PATTERN...]   Prints "N passed, N failed" last.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"

nw_preflight "integration tests need root (they load BPF programs and make namespaces)"
setup_fs

for f in "$HERE"/test_*.sh; do
	# shellcheck disable=SC1090
	. "$f"
done

passed=0 failed=0 skipped=0 failed_names=()
for t in $(declare -F | awk '$3 ~ /^test_/ { print $3 }'); do
	if [ $# -gt 0 ]; then
		match=0
		for p in "$@"; do [[ $t == *$p* ]] && match=1; done
		[ $match = 1 ] || continue
	fi
	out=$(mktemp)
	start=$(date +%s%N)
	( nw_test_init; "$t" ) >"$out" 2>&1
	rc=$?
	ms=$((($(date +%s%N) - start) / 1000000))
	case $rc in
	0) passed=$((passed + 1)); printf 'PASS %-50s %6d ms\n' "$t" "$ms" ;;
	"$SKIP") skipped=$((skipped + 1)); printf 'SKIP %-50s %s\n' "$t" "$(grep -m1 '^SKIP' "$out")" ;;
	*) failed=$((failed + 1)); failed_names+=("$t")
	   printf 'FAIL %-50s %6d ms\n' "$t" "$ms"; sed 's/^/    | /' "$out" | tail -n 40 ;;
	esac
	rm -f "$out"
done
[ $failed -gt 0 ] && echo "failed: ${failed_names[*]}"
echo "$passed passed, $failed failed, $skipped skipped"
[ $failed -eq 0 ]
