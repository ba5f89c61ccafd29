#!/usr/bin/env bash
# tests/run.sh - run every test and print "N passed, N failed".
#
#   tests/run.sh [PATTERN]   only tests whose file name contains PATTERN
#   tests/run.sh --load [PATTERN]   the load tests (tests/load/*.sh) instead
#
# Unit tests (build/unit/test_*), fuzz-corpus regressions (build/fuzz/*,
# each input of fuzz/corpus/ run once) and integration tests (tests/it/*.sh,
# as root, each in its own network namespace and cgroup). Each check a test
# prints as "PASS name" or "FAIL name" counts once; a test that exits
# non-zero without printing a FAIL counts as one failure; a SKIP is reported
# and counted as a failure, never as a pass.
#
# CONNREDIR_NO_OPTIONAL=1 (make test NO_OPTIONAL=1) runs every test with
# connredir's optional kernel features forced off, as on a kernel that
# refuses BPF iterators.
#
# CRD_BUILD=DIR tests the build in DIR (default build; `make test` sets it,
# to build/san with SANITIZE=1). On a sanitized build the first error stops
# a process, and every AddressSanitizer or LeakSanitizer report, of any
# process a test starts, is written to $CRD_BUILD/san-reports/ and fails the
# test even where the process's exit status is not looked at; an UBSan
# report fails it where it reaches the test's output.
set -u
cd "$(dirname "$0")/.." || exit 1
BUILD=${CRD_BUILD:-build}
load=0
[ "${1:-}" = --load ] && load=1 && shift
pattern=${1:-}
passed=0
failed=0
failures=()
LOG=$BUILD/test-logs
mkdir -p "$LOG"

# A sanitized build (make SANITIZE=1): reports go to $SAN/<test>/, the
# first error stops the process.
SAN=
if grep -q __asan_init "$BUILD/connredir" 2>/dev/null; then
	SAN=$(cd "$BUILD" && pwd)/san-reports
fi

[ -n "${CONNREDIR_NO_OPTIONAL:-}" ] && [ "$CONNREDIR_NO_OPTIONAL" != 0 ] &&
	echo "optional kernel features forced off (CONNREDIR_NO_OPTIONAL=$CONNREDIR_NO_OPTIONAL)"

bpffs_was_mounted=0
[ "$(stat -f -c %T /sys/fs/bpf 2>/dev/null)" = bpf_fs ] && bpffs_was_mounted=1

run_one() { # NAME CMD...
	local name=$1 out rc p f s sd r
	shift
	[ -n "$pattern" ] && [[ "$name" != *"$pattern"* ]] && return
	out=$LOG/$(echo "$name" | tr '/ ' '__').log
	if [ -n "$SAN" ]; then
		sd=$SAN/$(echo "$name" | tr '/ ' '__')
		rm -rf "$sd" && mkdir -p "$sd"
		ASAN_OPTIONS=log_path=$sd/asan:halt_on_error=1:detect_leaks=1${ASAN_OPTIONS:+:$ASAN_OPTIONS} \
		UBSAN_OPTIONS=log_path=$sd/ubsan:halt_on_error=1:print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS} \
			timeout 600 "$@" >"$out" 2>&1
		rc=$?
		for r in "$sd"/*; do
			[ -e "$r" ] || continue
			echo "FAIL $name: sanitizer report $r: $(grep -m1 -E 'ERROR|runtime error' "$r")" >>"$out"
		done
		# GCC's UBSan, next to ASan, ignores log_path: its reports go to
		# stderr (and the process exits 1).
		grep -m1 ': runtime error: ' "$out" | sed "s|^|FAIL $name: UBSan: |" >>"$out"
	else
		timeout 600 "$@" >"$out" 2>&1
		rc=$?
	fi
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

if [ "$load" = 1 ]; then
	echo "load tests"
	for t in tests/load/*.sh; do
		run_one "load/$(basename "$t" .sh)" bash "$t"
	done
else
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
			run_one "fuzz/$n" sh -c "'$f' -runs=0 -artifact_prefix='$LOG/$n-' '$corpus' && echo 'PASS $n: every corpus input runs clean'"
		done
	fi

	echo "integration tests"
	for t in tests/it/*.sh; do
		run_one "it/$(basename "$t" .sh)" bash "$t"
	done
fi

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
