#!/usr/bin/env bash
# tests/run.sh - run every test and print "N passed, N failed".
#
#   tests/run.sh [PATTERN]   only tests whose file name contains PATTERN
#
# Unit tests (build/unit/test_*), fuzz-corpus regressions (build/fuzz/*,
# each input of fuzz/corpus/ run once) and integration tests (tests/it/*.sh,
# as root, each in its own network namespace and cgroup). Each check a test
# prints as "PASS name" or "FAIL name" counts once; a test that exits
# non-zero without printing a FAIL counts as one failure; a SKIP is reported
# and counted as a failure, never as a pass.
set -u
cd "$(dirname "$0")/.." || exit 1
BUILD=build
pattern=${1:-}
passed=0
failed=0
failures=()
LOG=$BUILD/test-logs
mkdir -p "$LOG"

bpffs_was_mounted=0
[ "$(stat -f -c %T /sys/fs/bpf 2>/dev/null)" = bpf_fs ] && bpffs_was_mounted=1

run_one() { # NAME CMD...
	local name=$1 out rc p f s
	shift
	[ -n "$pattern" ] && [[ "$name" != *"$pattern"* ]] && return
	out=$LOG/$(echo "$name" | tr '/ ' '__').log
	timeout 600 "$@" >"$out" 2>&1
	rc=$?
	p=$(grep -c '^PASS ' "$out")
	f=$(grep -c '^FAIL ' "$out")
	s=$(grep -c '^SKIP ' "$out")
	if [ "$rc" != 0 ] && [ "$f" = 0 ]; then
		f=1
		echo "FAIL $name: exited $rc without a FAIL line (log: $out)" >>"$out"
	fi
	f=$((f + s))
	passed=$((passed + p))
	failed=$((failed + f))
	if [ "$f" != 0 ]; then
		printf '  %-28s %4d passed, %d FAILED\n' "$name" "$p" "$f"
		grep -E '^(FAIL|SKIP) ' "$out" | sed 's/^/      /'
		failures+=("$name")
	else
		printf '  %-28s %4d passed\n' "$name" "$p"
	fi
}

echo "unit tests"
for t in "$BUILD"/unit/test_*; do
	[ -x "$t" ] && run_one "unit/$(basename "$t")" "$t"
done

if compgen -G "$BUILD/fuzz/fuzz_*" >/dev/null; then
	echo "fuzz corpus regressions"
	for f in "$BUILD"/fuzz/fuzz_*; do
		n=$(basename "$f")
		corpus=fuzz/corpus/${n#fuzz_}
		[ -d "$corpus" ] || continue
		run_one "fuzz/$n" sh -c "'$f' -runs=0 '$corpus' && echo 'PASS $n: every corpus input runs clean'"
	done
fi

echo "integration tests"
for t in tests/it/*.sh; do
	run_one "it/$(basename "$t" .sh)" bash "$t"
done

# A bpffs that connredir mounted for the tests goes again if nothing of
# anyone's is pinned in it.
if [ "$bpffs_was_mounted" = 0 ] && [ "$(stat -f -c %T /sys/fs/bpf 2>/dev/null)" = bpf_fs ] &&
	[ -z "$(find /sys/fs/bpf -mindepth 1 ! -name '*.debug' 2>/dev/null)" ]; then
	umount /sys/fs/bpf 2>/dev/null
fi

echo
[ ${#failures[@]} -gt 0 ] && echo "failed: ${failures[*]}"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
