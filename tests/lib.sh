# shellcheck shell=bash
# tests/lib.sh - the sandbox every integration test runs in. Source it first.
#
# It re-runs the test in a fresh network namespace (loopback only), makes a
# child cgroup of the cgroup v2 hierarchy for the test's processes, gives the
# test its own connredir instance (pins under /sys/fs/bpf/connredir/NAME),
# and on every exit path kills what the test started (by pid), detaches the
# instance and removes the cgroups and the work directory.
#
# Results: pass "what" / fail "what" print "PASS|FAIL <test>: what"; the
# test exits 0 only if nothing failed. A test that cannot run calls
# skip "why", which the runner counts as a failure, never as a pass.

set -u
T_NAME=$(basename "$0" .sh)
T_ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# The build under test: CRD_BUILD (relative to the source tree or absolute;
# `make test` sets it), default build.
case ${CRD_BUILD:-build} in
/*) BUILD=$CRD_BUILD ;;
*) BUILD=$T_ROOT/${CRD_BUILD:-build} ;;
esac
CRD=$BUILD/connredir
TOOLS=$BUILD/tools

if [ "$(id -u)" != 0 ]; then
	echo "SKIP $T_NAME: needs root"
	exit 77
fi
if [ -z "${CRD_IN_NETNS:-}" ]; then
	export CRD_IN_NETNS=1
	exec unshare --net -- "$0" "$@"
fi
ip link set lo up

CG2=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/self/mounts)
if [ -z "$CG2" ]; then
	echo "SKIP $T_NAME: no cgroup v2 hierarchy"
	exit 77
fi
TEST_CG=$CG2/connredir-test-$T_NAME-$$
INST=t$$
WORK=$(mktemp -d "/tmp/crd-$T_NAME.XXXXXX")
PIDS=()
FAILED=0
mkdir "$TEST_CG"

crd() { "$CRD" --instance "$INST" "$@"; }

t_cleanup() {
	local p
	for p in "${PIDS[@]}"; do
		kill "$p" 2>/dev/null
	done
	for p in "${PIDS[@]}"; do
		wait "$p" 2>/dev/null
	done
	[ -d "/sys/fs/bpf/connredir/$INST" ] && "$CRD" --instance "$INST" detach >/dev/null
	# Any process of ours still in a test cgroup (a forked child) goes too.
	local procs
	procs=$(find "$TEST_CG" -name cgroup.procs -exec cat {} + 2>/dev/null)
	if [ -n "$procs" ]; then
		kill $procs 2>/dev/null
		sleep 0.2
	fi
	find "$TEST_CG" -depth -type d -exec rmdir {} \; 2>/dev/null
	[ -d "$TEST_CG" ] && echo "FAIL $T_NAME: could not remove $TEST_CG" && FAILED=1
	rm -rf "$WORK"
	exit $FAILED
}
trap t_cleanup EXIT
trap 'exit 1' INT TERM

pass() { echo "PASS $T_NAME: $*"; }
fail() {
	echo "FAIL $T_NAME: $*"
	FAILED=1
}
skip() {
	echo "SKIP $T_NAME: $*"
	FAILED=77
	exit 77
}
# check "what" CMD...: pass if CMD succeeds.
check() {
	local what=$1
	shift
	if "$@"; then pass "$what"; else fail "$what"; fi
}

# in_cg NAME CMD...: run CMD (exec, same pid) in the child cgroup NAME.
in_cg() {
	local cg=$TEST_CG/$1
	shift
	mkdir -p "$cg"
	(
		echo "$BASHPID" >"$cg/cgroup.procs" || exit 126
		exec "$@"
	)
}

# bg NAME CMD...: in_cg in the background, remembered for cleanup. Sets BG_PID.
bg() {
	local cg=$TEST_CG/$1
	shift
	mkdir -p "$cg"
	(
		echo "$BASHPID" >"$cg/cgroup.procs" || exit 126
		exec "$@"
	) &
	BG_PID=$!
	PIDS+=("$BG_PID")
}

# wait_file FILE [SECONDS]: wait until FILE exists.
wait_file() {
	local i n=$((${2:-10} * 20))
	for ((i = 0; i < n; i++)); do
		[ -e "$1" ] && return 0
		sleep 0.05
	done
	return 1
}

# wait_lines FILE N [SECONDS]: wait until FILE has at least N lines.
wait_lines() {
	local i n=$((${3:-10} * 20))
	for ((i = 0; i < n; i++)); do
		[ -e "$1" ] && [ "$(wc -l <"$1")" -ge "$2" ] && return 0
		sleep 0.05
	done
	return 1
}

# eventually CMD...: CMD succeeds within 5 seconds (for what another process
# logs after the test's own step has returned).
eventually() {
	local i
	for ((i = 0; i < 100; i++)); do
		"$@" && return 0
		sleep 0.05
	done
	return 1
}

# eventually_eq WANT CMD...: CMD's output is WANT within 5 seconds (CMD is
# run again each time; `eventually [ "$(CMD)" = WANT ]` would run it once).
eventually_eq() {
	local want=$1 i
	shift
	for ((i = 0; i < 100; i++)); do
		[ "$("$@")" = "$want" ] && return 0
		sleep 0.05
	done
	return 1
}
# eventually_ge MIN CMD...: CMD's output is a number >= MIN within 5 seconds.
eventually_ge() {
	local min=$1 i v
	shift
	for ((i = 0; i < 100; i++)); do
		v=$("$@")
		[ -n "$v" ] && [ "$v" -ge "$min" ] 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}

# field LINE KEY: the value of KEY=value in a log line.
field() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<" $1"; }

# start_proxy NAME LISTEN... : a crd-testproxy in cgroup NAME, log in $WORK/NAME.log
start_proxy() {
	local name=$1 args=() l
	shift
	for l in "$@"; do args+=(--listen "$l"); done
	bg "$name" "$TOOLS/crd-testproxy" ${PROXY_OPTS:-} --name "$name" "${args[@]}" \
		--log "$WORK/$name.log" --ready "$WORK/$name.ready"
	wait_file "$WORK/$name.ready" || fail "proxy $name did not start"
}

# start_origin ADDR:PORT... : crd-origin outside the test cgroup.
start_origin() {
	"$TOOLS/crd-origin" --ready "$WORK/origin.ready" --log "$WORK/origin.log" "$@" \
		>"$WORK/origin.out" 2>&1 &
	PIDS+=($!)
	wait_file "$WORK/origin.ready" || fail "origin did not start"
}

# map_counts: "pend flows sk conn" entries of the instance's per-flow maps
# ("null": not countable here, e.g. socket storage without BPF iterators).
map_counts() {
	crd status --json | python3 -c '
import json, sys
m = json.load(sys.stdin)["maps"]
print(" ".join("null" if m[k] is None else str(m[k])
               for k in ("crd_pend_v3", "crd_flows_v3", "crd_sk_v3", "crd_conn_v3")))'
}

# stat_counter NAME: a global counter from status --json.
stat_counter() {
	crd status --json | sed -n 's/.*"counters":{\([^}]*\)}.*/\1/p' | tr ',' '\n' |
		sed -n "s/^\"$1\":\([0-9]*\)$/\1/p"
}

# hops NAME: hop lines a test proxy (crd-testproxy, crd-udpproxy) logged.
hops() { grep -c '^hop' "$WORK/$1.log" 2>/dev/null; }

# svc_stat NAME KEY: a per-service counter from stats --json ("none": no such
# service).
svc_stat() {
	crd stats --json | python3 -c '
import json, sys
s = [x for x in json.load(sys.stdin)["services"] if x["name"] == sys.argv[1]]
print(s[0][sys.argv[2]] if s else "none")' "$1" "$2"
}

# stop PID [SIGNAL]: end a process this test started, reap it (its exit
# status in STOP_RC), forget it.
stop() {
	local p=$1 i
	kill "-${2:-TERM}" "$p" 2>/dev/null
	wait "$p" 2>/dev/null
	STOP_RC=$?
	for i in "${!PIDS[@]}"; do
		[ "${PIDS[$i]}" = "$p" ] && unset "PIDS[$i]"
	done
	PIDS=("${PIDS[@]}")
}

# id_of NAME: the id of service NAME.
id_of() { crd service list --json | tr '{' '\n' | sed -n "s/\"id\":\([0-9]*\),\"name\":\"$1\".*/\1/p"; }

# ---- connredir-proxy helpers (tests 2x) ------------------------------------

PROXY=$BUILD/connredir-proxy

# start_cproxy CGROUP NAME ARGS...: connredir-proxy in CGROUP, logging to
# $WORK/NAME.log, stderr in $WORK/NAME.err; waits for one "listening on" line
# per --listen or --udp-listen. Sets PX_PID.
start_cproxy() { # CGROUP NAME ARGS...
	local cg=$1 name=$2 i n
	shift 2
	n=$(grep -oE -- '--(udp-)?listen' <<<"$*" | wc -l)
	bg "$cg" "$PROXY" --log "$WORK/$name.log" "$@" 2>"$WORK/$name.err"
	PX_PID=$BG_PID
	for ((i = 0; i < 200; i++)); do
		[ "$(grep -c 'listening on' "$WORK/$name.err" 2>/dev/null)" -ge "$n" ] && return 0
		kill -0 "$PX_PID" 2>/dev/null || break
		sleep 0.05
	done
	fail "proxy $name did not start: $(cat "$WORK/$name.err")"
	return 1
}

# jf JSON KEY: the value of KEY in a flat JSON log line (string, array body or
# bare value).
jf() { sed -n "s/.*\"$2\":\(\"\([^\"]*\)\"\|\[\([^]]*\)\]\|\([^,}]*\)\).*/\2\3\4/p" <<<"$1"; }
