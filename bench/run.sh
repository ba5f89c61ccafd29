#!/usr/bin/env bash
# bench/run.sh - the driver of `make bench`: runs the benchmark programs of
# bench/ against set-ups with and without connredir, nftables and iptables
# REDIRECT, prints a table on stdout and writes build/bench.json.
#
# The sandbox is the one of tests/lib.sh: the driver re-runs itself in a
# fresh network namespace (loopback only), makes a child cgroup of the
# cgroup v2 hierarchy (never attaching to the root), gives connredir its
# own instances, and on every exit path kills what it started (by pid),
# detaches the instances and removes the cgroups. Each nftables and
# iptables set-up gets a private network namespace of its own (made from
# inside the first one and held by a sleeping process of ours), so their
# rules, and the connection tracking they switch on, touch neither the
# direct and connredir set-ups nor each other.
#
# Compared set-ups alternate (A B A B ...) at two scales. Within one run a
# single client process interleaves every set-up of a benchmark in short
# slices (moving itself into each set-up's cgroup, its threads into each
# set-up's network namespace), so all of them see the same background load
# on a shared machine; a round is one such run, and rounds repeat it, the
# set-ups in reverse order on even rounds. (The events comparison, reader
# running or not, alternates whole runs instead, in more, shorter rounds.)
# Figures are medians over rounds, with p25-p75 and min-max; ratios are
# taken round by round against the baseline of the same round, and then
# their median. See docs/BENCHMARKS.md.
set -u

usage() {
	cat <<'EOF'
Usage: bench/run.sh [-h|--help]        (as root; `make bench` runs it)

Runs every benchmark of bench/ in a private network namespace and cgroup,
prints a table and writes build/bench.json. Set in the environment:

  BENCH_QUICK=1        a fast smoke run (2 rounds, short runs, 2,000 flows)
  BENCH_ROUNDS=N       runs of each benchmark (default 7; events 3x)
  BENCH_SECONDS=S      duration of every run, which the set-ups it
                       interleaves share (default: connect 4, rate 10,
                       throughput 10, latency 4, events 1)
  BENCH_FLOWS=N        open flows for the memory figures (default 100000)
  BENCH_CONCURRENCY=N  conn_rate threads of the rate benchmark (default 4)
  BENCH_CLIENTS=N      clients of the concurrent relay comparison (default 16)
  BENCH_ONLY="LIST"    some of: connect rate seq conc throughput latency memory
                       (the events comparison comes with connect; seq and
                       conc weigh connredir-proxy against nftables REDIRECT
                       + bench/min_relay, with 1 and BENCH_CLIENTS clients)
  BENCH_BUILD=DIR      take connredir and connredir-proxy from DIR
                       (default build/)
  BENCH_BASE_PROXY=FILE  another connredir-proxy (e.g. the previous commit's)
                       measured beside the one under test in seq and conc
                       (set-up crd1logbase, log on), in the same runs
  BENCH_BIN=DIR        take the benchmark programs from DIR
                       (default build/bench/)
  BENCH_JSON=FILE      where the JSON goes (default build/bench.json)
  BENCH_UID_BASE=UID   first of the uids the proxies run as (default 64100)
  BENCH_KEEP=1         keep the work directory (every run's JSON and stderr)
EOF
}
case "${1:-}" in
-h | --help)
	usage
	exit 0
	;;
"") ;;
*)
	usage >&2
	exit 2
	;;
esac

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${BENCH_BIN:-$ROOT/build/bench}
BUILD=${BENCH_BUILD:-$ROOT/build}
CRD=$BUILD/connredir
PROXY=$BUILD/connredir-proxy
BASE_PROXY=${BENCH_BASE_PROXY:-}
OUT_JSON=${BENCH_JSON:-$ROOT/build/bench.json}
QUICK=${BENCH_QUICK:-0}
[ "$QUICK" = 0 ] && QUICK=
UID0=${BENCH_UID_BASE:-64100}

say() { printf '%s\n' "$*" >&2; }
die() {
	say "bench: $*"
	exit 1
}

if [ "$(id -u)" != 0 ]; then
	die "needs root (network namespaces, cgroups, BPF)"
fi
if [ -z "${CRD_BENCH_IN_NETNS:-}" ]; then
	export CRD_BENCH_IN_NETNS=1
	exec unshare --net -- "$0" "$@"
fi

# ---- settings ------------------------------------------------------------------

# Durations are of one run, which all the set-ups of a benchmark share.
if [ -n "$QUICK" ]; then
	ROUNDS=${BENCH_ROUNDS:-2}
	D_CONN=${BENCH_SECONDS:-0.4}
	D_RATE=${BENCH_SECONDS:-1.4}
	D_TPUT=${BENCH_SECONDS:-1}
	D_RR=${BENCH_SECONDS:-0.4}
	D_EV=${BENCH_SECONDS:-0.2}
	SLICE_TPUT=0.1
	FLOWS=${BENCH_FLOWS:-2000}
else
	ROUNDS=${BENCH_ROUNDS:-7}
	D_CONN=${BENCH_SECONDS:-4}
	D_RATE=${BENCH_SECONDS:-10}
	D_TPUT=${BENCH_SECONDS:-10}
	D_RR=${BENCH_SECONDS:-4}
	D_EV=${BENCH_SECONDS:-1}
	SLICE_TPUT=0.3
	FLOWS=${BENCH_FLOWS:-100000}
fi
SLICE_RATE=0.1
SLICE_RR=0.1
# The events comparison runs a reader or not, which cannot be interleaved
# within one process: more, shorter rounds instead.
EV_ROUNDS=$((ROUNDS * 3))
CONC=${BENCH_CONCURRENCY:-4}
CLIENTS=${BENCH_CLIENTS:-16}
ONLY=${BENCH_ONLY:-connect rate seq conc throughput latency memory}
# Descriptors: a process may hold RLIMIT_NOFILE of them, and the hard limit
# cannot be raised without CAP_SYS_RESOURCE. connredir-proxy counts six per
# flow (two sockets, two pipes), so the memory figures spread the flows
# over as many proxies (and clients and origins) as they need.
ulimit -Hn "$(cat /proc/sys/fs/nr_open)" 2>/dev/null
ulimit -Sn "$(ulimit -Hn)"
NOFILE=$(ulimit -Hn)
[ "$NOFILE" = unlimited ] && NOFILE=1048576
PER_PROXY=$(((NOFILE - 64) / 6 - 16))
((PER_PROXY > 20000)) && PER_PROXY=20000
((PER_PROXY > 3000 && NOFILE <= 20000)) && PER_PROXY=3000
# Proxies per client process (and per origin process).
PER_GROUP=$(((NOFILE - 128) / PER_PROXY))
((PER_GROUP > 8)) && PER_GROUP=8
# The nftables comparison needs fewer flows: its cost is linear.
NFT_FLOWS=$((FLOWS < PER_PROXY ? FLOWS : PER_PROXY))
[[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]] || die "BENCH_ROUNDS '$ROUNDS': not a positive number"
[[ "$FLOWS" =~ ^[1-9][0-9]*$ ]] || die "BENCH_FLOWS '$FLOWS': not a positive number"
[[ "$CONC" =~ ^[1-9][0-9]*$ ]] || die "BENCH_CONCURRENCY '$CONC': not a positive number"
[[ "$CLIENTS" =~ ^[1-9][0-9]*$ ]] || die "BENCH_CLIENTS '$CLIENTS': not a positive number"
for k in $ONLY; do
	case $k in
	connect | rate | seq | conc | throughput | latency | memory) ;;
	*) die "BENCH_ONLY: unknown benchmark '$k' (connect rate seq conc throughput latency memory)" ;;
	esac
done
want() { [[ " $ONLY " == *" $1 "* ]]; }

# ---- what is needed ----------------------------------------------------------------

for p in connect_lat conn_rate throughput rr_lat hold_flows bench_server min_relay; do
	[ -x "$BIN/$p" ] || die "$BIN/$p: not built (run make)"
done
[ -x "$CRD" ] || die "$CRD: not built (run make)"
[ -x "$PROXY" ] || die "$PROXY: not built (run make; the proxy is in proxy/)"
[ -z "$BASE_PROXY" ] || [ -x "$BASE_PROXY" ] || die "BENCH_BASE_PROXY '$BASE_PROXY': not an executable"
for t in nft setpriv nsenter bpftool ss sysctl timeout; do
	command -v "$t" >/dev/null || die "$t: not installed"
done
IPT=iptables-legacy
command -v "$IPT" >/dev/null || IPT=iptables
command -v "$IPT" >/dev/null || die "iptables: not installed"

CG2=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/self/mounts)
[ -n "$CG2" ] || die "no cgroup v2 hierarchy"

# ---- the sandbox --------------------------------------------------------------------

BCG=$CG2/connredir-bench-$$
INST_R=b$$r        # the relay set-ups
INST_L=b$$l        # the connect-latency set-ups
INST_M=b$$m        # the memory figures
WORK=$(mktemp -d /tmp/crd-bench.XXXXXX)
# Files the unprivileged relays write themselves (ready files, a log).
PUB=$WORK/pub
mkdir -m 1777 "$PUB"
chmod 711 "$WORK"
PIDS=()
H_NFT1='' H_NFT2='' H_IPT1='' H_IPT2='' H_MIN1=''
declare -A PIDOF   # proxy name -> pid
mkdir "$BCG" || die "cannot make $BCG"

b_cleanup() {
	local rc=$? p procs i
	trap - EXIT
	for p in "${PIDS[@]}"; do
		kill "$p" 2>/dev/null
	done
	for p in "${PIDS[@]}"; do
		wait "$p" 2>/dev/null
	done
	for i in "$INST_R" "$INST_L" "$INST_M"; do
		[ -d "/sys/fs/bpf/connredir/$i" ] && "$CRD" --instance "$i" detach >/dev/null
	done
	# Anything of ours still in our cgroups (a forked child) goes too.
	procs=$(find "$BCG" -name cgroup.procs -exec cat {} + 2>/dev/null)
	if [ -n "$procs" ]; then
		# shellcheck disable=SC2086 # one pid per word
		kill $procs 2>/dev/null
		sleep 0.3
	fi
	find "$BCG" -depth -type d -exec rmdir {} \; 2>/dev/null
	[ -d "$BCG" ] && say "bench: could not remove $BCG" && rc=1
	for i in "$INST_R" "$INST_L" "$INST_M"; do
		[ -d "/sys/fs/bpf/connredir/$i" ] && say "bench: could not remove /sys/fs/bpf/connredir/$i" && rc=1
	done
	if [ -n "${BENCH_KEEP:-}" ]; then
		say "bench: kept $WORK"
	else
		rm -rf "$WORK"
	fi
	exit $rc
}
trap b_cleanup EXIT
trap 'exit 1' INT TERM HUP

# in_cg CG CMD...: run CMD (exec, same pid) in the child cgroup CG of ours.
in_cg() {
	local cg=$BCG/$1
	shift
	mkdir -p "$cg"
	(
		echo "$BASHPID" >"$cg/cgroup.procs" || exit 126
		exec "$@"
	)
}
# bg CG CMD...: in_cg in the background, remembered for cleanup; BG_PID.
bg() {
	local cg=$BCG/$1
	shift
	mkdir -p "$cg"
	(
		echo "$BASHPID" >"$cg/cgroup.procs" || exit 126
		exec "$@"
	) &
	BG_PID=$!
	PIDS+=("$BG_PID")
}
# stop_pid PID: SIGTERM, wait, forget.
stop_pid() {
	local p=$1 i
	kill "$p" 2>/dev/null
	wait "$p" 2>/dev/null
	for i in "${!PIDS[@]}"; do
		[ "${PIDS[$i]}" = "$p" ] && unset 'PIDS[$i]'
	done
}
# wait_file FILE [SECONDS]
wait_file() {
	local i n=$((${2:-10} * 20))
	for ((i = 0; i < n; i++)); do
		[ -e "$1" ] && return 0
		sleep 0.05
	done
	return 1
}
# wait_grep FILE PATTERN [SECONDS]
wait_grep() {
	local i n=$((${3:-10} * 20))
	for ((i = 0; i < n; i++)); do
		grep -q "$2" "$1" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}
# ns_prep [nsenter args...]: loopback up, ephemeral ports 10000-65535 (the
# fixed ports below are all under 10000), short conntrack TIME_WAIT.
ns_prep() {
	"$@" ip link set lo up || return 1
	"$@" sysctl -qw net.ipv4.ip_local_port_range="10000 65535" || return 1
	"$@" sysctl -qw net.netfilter.nf_conntrack_tcp_timeout_time_wait=1 2>/dev/null
	"$@" sysctl -qw net.netfilter.nf_conntrack_tcp_timeout_close=1 2>/dev/null
	return 0
}
# A holder process keeps one more private network namespace alive.
new_netns() {
	bg plain/holder unshare --net -- sleep 100000
	local h=$BG_PID i
	for ((i = 0; i < 100; i++)); do
		[ "$(readlink /proc/"$h"/ns/net)" != "$(readlink /proc/self/ns/net)" ] && break
		sleep 0.02
	done
	NEW_NS=$h
}

# proxy CG UID LOGNAME NSENTER-PREFIX... -- ARGS...: a connredir-proxy as UID.
proxy() {
	local cg=$1 uid=$2 name=$3 pre=() bin=$PROXY
	shift 3
	[ "$name" = p0l ] && bin=$BASE_PROXY
	while [ "$1" != -- ]; do
		pre+=("$1")
		shift
	done
	shift
	bg "$cg" "${pre[@]}" setpriv --reuid="$uid" --regid="$uid" --clear-groups -- \
		"$bin" --log /dev/null --drain-timeout 1 "$@" 2>"$WORK/$name.err"
	wait_grep "$WORK/$name.err" "listening on" 10 || {
		cat "$WORK/$name.err" >&2
		die "proxy $name did not start"
	}
	PIDOF[$name]=$BG_PID
}

# ---- machine ------------------------------------------------------------------------

CPU=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)
CORES=$(nproc)
KERNEL=$(uname -r)
DATE=$(date -u +%Y-%m-%dT%H:%M:%SZ)
GITREV=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
[ -n "$(git -C "$ROOT" status --porcelain 2>/dev/null)" ] && GITREV="$GITREV+dirty"
COMMAND="make bench${QUICK:+ BENCH_QUICK=1}"
for v in BENCH_ROUNDS BENCH_SECONDS BENCH_FLOWS BENCH_CONCURRENCY BENCH_CLIENTS BENCH_ONLY BENCH_BUILD BENCH_BIN BENCH_BASE_PROXY; do
	[ -n "${!v:-}" ] && COMMAND="$COMMAND $v='${!v}'"
done
say "bench: $CPU, $CORES cores, Linux $KERNEL; $ROUNDS rounds; work in $WORK"

# ---- set-up ---------------------------------------------------------------------------

U_P1=$((UID0 + 1)) U_P2=$((UID0 + 2)) U_C1=$((UID0 + 3)) U_C2=$((UID0 + 4))
U_N1=$((UID0 + 5)) U_N2=$((UID0 + 6)) U_PM=$((UID0 + 7)) U_L1=$((UID0 + 8)) U_L0=$((UID0 + 9))

ns_prep || die "cannot set up the network namespace"
mkdir -p "$BCG/plain/cli" "$BCG/relay/app" "$BCG/lat/app" "$BCG/lat/lsn" "$BCG/mem/app"

# Origins (no programs, outside both attached subtrees).
bg plain/srv "$BIN/bench_server" --threads 2 --ready "$WORK/srv.ready" \
	127.0.0.1:8080 127.0.0.1:8081 127.0.0.1:8082 127.0.0.1:8083 127.0.0.1:8084 127.0.0.1:8079 127.0.0.1:8078 \
	>"$WORK/srv.json" 2>"$WORK/srv.err"
wait_file "$WORK/srv.ready" 10 || die "bench_server did not start: $(cat "$WORK/srv.err")"

# connredir, relay set-ups: chains of one and two proxies (splice and copy).
"$CRD" --instance "$INST_R" attach "$BCG/relay" >/dev/null || die "connredir attach failed"
crd_r() { "$CRD" --instance "$INST_R" "$@" >/dev/null || die "connredir $*: failed"; }
crd_r service add s1 --proxy 127.0.0.1:7001 --weight 200 --owner-cgroup p1 --dport 8081 --dport 8082
crd_r service add s2 --proxy 127.0.0.1:7002 --weight 100 --owner-cgroup p2 --dport 8082
crd_r service add c1 --proxy 127.0.0.1:7003 --weight 200 --owner-cgroup p1c --dport 8083 --dport 8084
crd_r service add c2 --proxy 127.0.0.1:7004 --weight 100 --owner-cgroup p2c --dport 8084
# One proxy with its audit log on (a real file), for the relay comparison.
crd_r service add l1 --proxy 127.0.0.1:7007 --weight 200 --owner-cgroup p1l --dport 8079
proxy relay/p1 "$U_P1" p1 -- --service s1 --listen 127.0.0.1:7001
proxy relay/p2 "$U_P2" p2 -- --service s2 --listen 127.0.0.1:7002
proxy relay/p1c "$U_C1" p1c -- --service c1 --listen 127.0.0.1:7003 --copy-only
proxy relay/p2c "$U_C2" p2c -- --service c2 --listen 127.0.0.1:7004 --copy-only
proxy relay/p1l "$U_L1" p1l -- --service l1 --listen 127.0.0.1:7007 --log "$PUB/p1l.log"
if [ -n "$BASE_PROXY" ]; then
	crd_r service add l0 --proxy 127.0.0.1:7008 --weight 200 --owner-cgroup p0l --dport 8078
	proxy relay/p0l "$U_L0" p0l -- --service l0 --listen 127.0.0.1:7008 --log "$PUB/p0l.log"
fi

# connredir, connect-latency set-ups: one service, which matches only port
# 9200 and sends it to a listener bound in its identity cgroup (lat/lsn).
"$CRD" --instance "$INST_L" attach "$BCG/lat" >/dev/null || die "connredir attach failed"
"$CRD" --instance "$INST_L" service add sl --proxy 127.0.0.1:9201 --weight 10 \
	--owner-cgroup lsn --dport 9200 >/dev/null || die "connredir service add sl: failed"
mkdir -p "$BCG/lat/lsn" "$BCG/lat/app"

# nftables and iptables REDIRECT: each set-up in a namespace of its own
# (set-ups sharing one interfere: the NAT happens after the client picked
# its port, so chains leave TIME_WAIT and conntrack state behind that
# collide with the others'), with the same proxy binary, chained by uid,
# using SO_ORIGINAL_DST (--no-claim). The proxies' own connections are
# excluded by their uid. The one-proxy nftables namespace also serves the
# memory comparison (port 8091).
# nat_ns NAME TOOL HOPS PORT [min]: sets H_<NAME> to the namespace's
# holder; with "min", the relay is bench/min_relay instead of the proxy.
nat_ns() {
	local name=$1 tool=$2 hops=$3 port=$4 relay=${5:-proxy} h extra=()
	new_netns
	h=$NEW_NS
	eval "H_$name=$h"
	ns_prep nsenter -t "$h" -n || die "cannot set up the $name namespace"
	if [ "$tool" = nft ]; then
		{
			echo "table inet crdbench {"
			echo "	chain out {"
			echo "		type nat hook output priority -100; policy accept;"
			echo "		tcp dport { $port, 8091 } meta skuid != { $U_N1, $U_N2 } redirect to :7005"
			[ "$hops" = 2 ] && echo "		tcp dport $port meta skuid $U_N1 redirect to :7006"
			echo "	}"
			echo "}"
		} | nsenter -t "$h" -n nft -f - || die "nft: the ruleset was refused"
	else
		nsenter -t "$h" -n "$IPT" -t nat -A OUTPUT -p tcp -d 127.0.0.1 --dport "$port" \
			-m owner ! --uid-owner "$U_N1-$U_N2" -j REDIRECT --to-ports 7005 ||
			die "$IPT: the rule was refused"
		[ "$hops" = 2 ] && { nsenter -t "$h" -n "$IPT" -t nat -A OUTPUT -p tcp -d 127.0.0.1 \
			--dport "$port" -m owner --uid-owner "$U_N1" -j REDIRECT --to-ports 7006 ||
			die "$IPT: the rule was refused"; }
	fi
	[ "$name" = NFT1 ] && extra=(127.0.0.1:8091)
	bg plain/srv nsenter -t "$h" -n "$BIN/bench_server" --threads 2 --ready "$WORK/srv-$name.ready" \
		"127.0.0.1:$port" "${extra[@]}" >/dev/null 2>"$WORK/srv-$name.err"
	wait_file "$WORK/srv-$name.ready" 10 || die "bench_server ($name) did not start"
	if [ "$relay" = min ]; then
		bg "plain/${name}a" nsenter -t "$h" -n setpriv --reuid="$U_N1" --regid="$U_N1" \
			--clear-groups -- "$BIN/min_relay" --ready "$PUB/min-$name.ready" 127.0.0.1:7005 \
			2>"$WORK/${name}a.err"
		wait_file "$PUB/min-$name.ready" 10 || die "min_relay ($name) did not start: $(cat "$WORK/${name}a.err")"
		return 0
	fi
	proxy "plain/${name}a" "$U_N1" "${name}a" nsenter -t "$h" -n -- --no-claim \
		--listen 127.0.0.1:7005 --max-flows $((PER_PROXY + 10)) --idle-timeout 0
	[ "$hops" = 2 ] && proxy "plain/${name}b" "$U_N2" "${name}b" nsenter -t "$h" -n -- \
		--no-claim --listen 127.0.0.1:7006
	return 0
}
nat_ns NFT1 nft 1 8085
nat_ns NFT2 nft 2 8086
nat_ns IPT1 "$IPT" 1 8087
nat_ns IPT2 "$IPT" 2 8088
nat_ns MIN1 nft 1 8089 min

# ---- running one measurement --------------------------------------------------------

RESULTS=$WORK/results     # lines: KIND SETUP ROUND PATH VALUE
: >"$RESULTS"
FAILS=$WORK/fails         # lines: KIND SETUP ROUND why
: >"$FAILS"

# flatten: one JSON object per line on stdin -> "path value" lines.
flatten() {
	awk '
	function emit(k, v,   i, p) {
		p = ""
		for (i = 1; i <= d; i++) p = p stk[i] "."
		print p k, v
	}
	{
		s = $0; d = 0; k = ""; top = 1
		while (s != "") {
			c = substr(s, 1, 1)
			if (c == "{") { if (!top) stk[++d] = k; top = 0; s = substr(s, 2); continue }
			if (c == "}") { if (d > 0) d--; s = substr(s, 2); continue }
			if (c == "," || c == " ") { s = substr(s, 2); continue }
			if (match(s, /^"[^"]*":/)) { k = substr(s, 2, RLENGTH - 3); s = substr(s, RLENGTH + 1); continue }
			if (match(s, /^"([^"\\]|\\.)*"/)) { emit(k, substr(s, 2, RLENGTH - 2)); s = substr(s, RLENGTH + 1); continue }
			if (match(s, /^[^,}]+/)) { emit(k, substr(s, 1, RLENGTH)); s = substr(s, RLENGTH + 1); continue }
			s = substr(s, 2)
		}
	}'
}

EV_PID=
events_start() {
	local i
	bg plain/ev "$CRD" --instance "$INST_L" events --json --follow >/dev/null
	EV_PID=$BG_PID
	# Registered once crd_config.events_pid names it.
	for ((i = 0; i < 100; i++)); do
		bpftool -j map dump pinned "/sys/fs/bpf/connredir/$INST_L/crd_cfg_v3" 2>/dev/null |
			grep -q "\"events_pid\":${EV_PID}[,}]" && return 0
		sleep 0.02
	done
	say "bench: could not see the events reader register (going on after 2 s)"
}
events_stop() {
	[ -n "$EV_PID" ] && stop_pid "$EV_PID"
	EV_PID=
}

# setups_of KIND: the --setup specs of a kind's interleaved run, in order.
setups_of() {
	local c=$BCG/plain/cli a=$BCG/relay/app l=$BCG/lat/app
	local n1=/proc/$H_NFT1/ns/net n2=/proc/$H_NFT2/ns/net i1=/proc/$H_IPT1/ns/net i2=/proc/$H_IPT2/ns/net
	local m1=/proc/$H_MIN1/ns/net
	case $1 in
	connect)
		echo "none,cgroup=$c"
		echo "nomatch,cgroup=$l"
		echo "redirect,cgroup=$l,listen=127.0.0.1:9201,listen-cgroup=$BCG/lat/lsn,connect=127.0.0.1:9200"
		echo "two,cgroup=$c,pairs=2"
		;;
	events)
		echo "nomatch,cgroup=$l"
		echo "redirect,cgroup=$l,listen=127.0.0.1:9201,listen-cgroup=$BCG/lat/lsn,connect=127.0.0.1:9200"
		;;
	rate)
		echo "direct,target=127.0.0.1:8080,cgroup=$c"
		echo "crd1,target=127.0.0.1:8081,cgroup=$a"
		echo "crd2,target=127.0.0.1:8082,cgroup=$a"
		echo "nft1,target=127.0.0.1:8085,cgroup=$c,netns=$n1"
		echo "nft2,target=127.0.0.1:8086,cgroup=$c,netns=$n2"
		echo "ipt1,target=127.0.0.1:8087,cgroup=$c,netns=$i1"
		echo "ipt2,target=127.0.0.1:8088,cgroup=$c,netns=$i2"
		;;
	seq | conc)
		echo "direct,target=127.0.0.1:8080,cgroup=$c"
		echo "min1,target=127.0.0.1:8089,cgroup=$c,netns=$m1"
		echo "nft1,target=127.0.0.1:8085,cgroup=$c,netns=$n1"
		echo "crd1,target=127.0.0.1:8081,cgroup=$a"
		echo "crd1log,target=127.0.0.1:8079,cgroup=$a"
		[ -n "$BASE_PROXY" ] && echo "crd1logbase,target=127.0.0.1:8078,cgroup=$a"
		;;
	throughput)
		echo "direct,target=127.0.0.1:8080,cgroup=$c"
		echo "crd1,target=127.0.0.1:8081,cgroup=$a"
		echo "crd2,target=127.0.0.1:8082,cgroup=$a"
		echo "crd1copy,target=127.0.0.1:8083,cgroup=$a"
		echo "crd2copy,target=127.0.0.1:8084,cgroup=$a"
		;;
	latency)
		echo "direct,target=127.0.0.1:8080,cgroup=$c"
		echo "crd1,target=127.0.0.1:8081,cgroup=$a"
		echo "crd2,target=127.0.0.1:8082,cgroup=$a"
		echo "nft1,target=127.0.0.1:8085,cgroup=$c,netns=$n1"
		;;
	esac
}

# run_one KIND UNIT ROUND: one run, its JSON on stdout. Every run but the
# events reader's on/off interleaves all the set-ups of its kind in one
# process; on even rounds in reverse order.
run_one() {
	local kind=$1 unit=$2 round=$3 d rc spec args=() specs=()
	case $kind in
	connect) d=$D_CONN ;;
	events) d=$D_EV ;;
	rate | seq | conc) d=$D_RATE ;;
	throughput) d=$D_TPUT ;;
	latency) d=$D_RR ;;
	esac
	mapfile -t specs < <(setups_of "$kind")
	if ((round % 2 == 0)); then
		mapfile -t specs < <(printf '%s\n' "${specs[@]}" | tac)
	fi
	for spec in "${specs[@]}"; do args+=(--setup "$spec"); done
	local TO=(timeout -k 5 "$(awk -v t="$d" 'BEGIN { printf "%d", t * 2 + 60 }')")
	case $kind/$unit in
	connect/all | events/off)
		in_cg plain/cli "${TO[@]}" "$BIN/connect_lat" --duration "$d" --block 32 "${args[@]}"
		;;
	events/on)
		events_start >&2
		in_cg plain/cli "${TO[@]}" "$BIN/connect_lat" --duration "$d" --block 32 "${args[@]}"
		rc=$?
		events_stop
		return $rc
		;;
	rate/all)
		in_cg plain/cli "${TO[@]}" "$BIN/conn_rate" --duration "$d" --concurrency "$CONC" \
			--slice "$SLICE_RATE" "${args[@]}"
		;;
	seq/all | conc/all)
		in_cg plain/cli "${TO[@]}" "$BIN/conn_rate" --duration "$d" \
			--concurrency "$([ "$kind" = seq ] && echo 1 || echo "$CLIENTS")" \
			--slice "$SLICE_RATE" "${args[@]}"
		;;
	throughput/all)
		in_cg plain/cli "${TO[@]}" "$BIN/throughput" --duration "$d" --slice "$SLICE_TPUT" "${args[@]}"
		;;
	latency/all)
		in_cg plain/cli "${TO[@]}" "$BIN/rr_lat" --duration "$d" --slice "$SLICE_RR" "${args[@]}"
		;;
	*)
		say "bench: no run $kind/$unit"
		return 1
		;;
	esac
}

# rounds KIND N UNIT...: N rounds of runs; with several units (events off
# and on), their order alternates from round to round.
rounds() {
	local kind=$1 n=$2 r s order out rc
	shift 2
	local units=("$@")
	for ((r = 1; r <= n; r++)); do
		order=("${units[@]}")
		if ((r % 2 == 0)); then
			order=()
			for ((s = ${#units[@]} - 1; s >= 0; s--)); do order+=("${units[$s]}"); done
		fi
		say "bench: $kind, round $r/$n${order[1]:+: ${order[*]}}"
		for s in "${order[@]}"; do
			out=$WORK/$kind.$s.$r
			run_one "$kind" "$s" "$r" >"$out.json" 2>"$out.err"
			rc=$?
			if [ "$rc" != 0 ] || ! grep -q '^{.*}$' "$out.json"; then
				echo "$kind $s $r exit $rc: $(tr '\n' ' ' <"$out.err" | cut -c1-200)" >>"$FAILS"
				say "bench: $kind/$s round $r failed (exit $rc): $(head -c 300 "$out.err")"
				continue
			fi
			# An interleaved run reports its set-ups as "setups.NAME.PATH".
			flatten <"$out.json" | awk -v k="$kind" -v u="$s" -v r="$r" '
				$1 ~ /^setups\./ { split($1, a, "."); p = substr($1, length(a[2]) + 9)
					print k, (u == "all" ? a[2] : a[2] "_" u), r, p, $2; next }
				{ print k, u, r, $1, $2 }' >>"$RESULTS"
		done
	done
}

# ---- statistics ------------------------------------------------------------------------

# values KIND SETUP PATH: the per-round values, one per line ("round value").
values() { awk -v k="$1" -v s="$2" -v p="$3" '$1 == k && $2 == s && $4 == p && $5 != "null" { print $3, $5 }' "$RESULTS"; }

# qstats: numbers on stdin -> "n median p25 p75 min max" (linear quantiles).
qstats() {
	sort -g | awk '
	{ v[++n] = $1 }
	function q(f,   x, i) { x = 1 + (n - 1) * f; i = int(x); return i >= n ? v[n] : v[i] + (x - i) * (v[i + 1] - v[i]) }
	END { if (!n) { print "0 null null null null null"; exit }
	      printf "%d %.6g %.6g %.6g %.6g %.6g\n", n, q(0.5), q(0.25), q(0.75), v[1], v[n] }'
}

# stats KIND SETUP PATH [SCALE]: qstats of the per-round values / SCALE.
stats() { values "$1" "$2" "$3" | awk -v f="${4:-1}" '{ print $2 / f }' | qstats; }

# paired KIND SETUP BASE PATH OP [SCALE]: per round, SETUP op BASE of the same
# round (OP: ratio or diff), then qstats.
paired() {
	join <(values "$1" "$2" "$4" | sort -k1,1) <(values "$1" "$3" "$4" | sort -k1,1) |
		awk -v op="$5" -v f="${6:-1}" '{ if (op == "ratio") { if ($3 > 0) print $2 / $3 } else print ($2 - $3) / f }' |
		qstats
}

# ---- memory -------------------------------------------------------------------------------------

# mem_maps INSTANCE: "total_memlock flows_memlock" of its maps.
mem_maps() {
	local m total=0 v flows=0
	for m in /sys/fs/bpf/connredir/"$1"/crd_*; do
		v=$(bpftool -j map show pinned "$m" 2>/dev/null | sed -n 's/.*"bytes_memlock":\([0-9]*\).*/\1/p')
		total=$((total + ${v:-0}))
		case $m in */crd_flows_v3) flows=${v:-0} ;; esac
	done
	echo "$total $flows"
}
# mem_optmem: "sockets sockets_with_storage optmem_sum distinct_o_values" of
# the TCP sockets of this namespace.
mem_optmem() {
	ss -tmnH 2>/dev/null | awk '
		{ if (match($0, /,o[0-9]+,/)) { v = substr($0, RSTART + 2, RLENGTH - 3); n++; s += v; if (v > 0) { w++; c[v]++ } } }
		END { d = ""; for (k in c) d = d (d == "" ? "" : "/") k; printf "%d %d %.0f %s\n", n, w, s, d == "" ? "-" : d }'
}
# mem_kernel: Slab + Percpu + KernelStack + PageTables in bytes (context only).
mem_kernel() { awk '/^(Slab|Percpu|KernelStack|PageTables):/ { s += $2 } END { printf "%.0f\n", s * 1024 }' /proc/meminfo; }
rss_of() { # PID...: the sum of their VmRSS, bytes
	local p t=0 v
	for p in "$@"; do
		v=$(awk '/^VmRSS:/ { printf "%.0f\n", $2 * 1024 }' "/proc/$p/status" 2>/dev/null)
		t=$((t + ${v:-0}))
	done
	echo "$t"
}
flows_in_map() {
	"$CRD" --instance "$1" status --json 2>/dev/null |
		sed -n 's/.*"crd_flows_v3":\([0-9]*\).*/\1/p'
}

# hold_start CG N NAME PREFIX... -- TARGETS...: hold_flows in the background;
# its ready file is $WORK/NAME.ready. Remembered in HOLDS.
HOLDS=()
hold_start() {
	local cg=$1 n=$2 name=$3 pre=()
	shift 3
	while [ "$1" != -- ]; do
		pre+=("$1")
		shift
	done
	shift
	rm -f "$WORK/$name.ready"
	bg "$cg" "${pre[@]}" "$BIN/hold_flows" --count "$n" --ready "$WORK/$name.ready" "$@" \
		>"$WORK/$name.json" 2>"$WORK/$name.err"
	HOLDS+=("$BG_PID:$name")
}
# hold_wait: wait until every hold_flows of HOLDS is ready (or gone); sets
# HOLD_OPEN to the flows they hold. 0 if all got ready.
hold_wait() {
	local h p name i ok=0
	HOLD_OPEN=0
	for h in "${HOLDS[@]}"; do
		p=${h%%:*} name=${h#*:}
		for ((i = 0; i < 6000; i++)); do
			[ -s "$WORK/$name.ready" ] && break
			kill -0 "$p" 2>/dev/null || break
			sleep 0.1
		done
		if [ -s "$WORK/$name.ready" ]; then
			HOLD_OPEN=$((HOLD_OPEN + $(cat "$WORK/$name.ready")))
		else
			say "bench: $name did not get ready: $(head -c 300 "$WORK/$name.err")"
			ok=1
		fi
	done
	return $ok
}
hold_stop() {
	local h
	for h in "${HOLDS[@]}"; do kill "${h%%:*}" 2>/dev/null; done
	for h in "${HOLDS[@]}"; do stop_pid "${h%%:*}"; done
	HOLDS=()
}

MEM_JSON='null'
MEM_NFT_JSON='null'
MEM_NOTE=
# memory_phase: FLOWS flows, each through one connredir proxy, held open
# while the instance's map memory, the sockets' storage (optmem) and the
# proxies' RSS are read; then NFT_FLOWS through one nftables REDIRECT proxy.
memory_phase() {
	local m0_total m0_flows m1_total m1_flows o0_n o0_w o0_sum o1_n o1_w o1_sum o1_vals
	local k0 k1 r0 r1 f1 c0 c1 n ct_size i k g nprox ngroups per want_g ports targets
	local mpids=() spids=()
	nprox=$(((FLOWS + PER_PROXY - 1) / PER_PROXY))
	per=$(((FLOWS + nprox - 1) / nprox))
	ngroups=$(((nprox + PER_GROUP - 1) / PER_GROUP))
	if ((nprox > 48)); then
		MEM_NOTE="BENCH_FLOWS $FLOWS needs $nprox proxies of $PER_PROXY flows; at most 48"
		say "bench: memory: $MEM_NOTE"
		return
	fi
	((nprox > 1)) && MEM_NOTE="RLIMIT_NOFILE is $NOFILE per process (not raisable here): the flows were spread over $nprox proxies, $ngroups clients and $ngroups origins"
	say "bench: memory: $FLOWS flows through $nprox connredir prox$( ((nprox > 1)) && echo ies || echo y)"
	"$CRD" --instance "$INST_M" attach "$BCG/mem" >/dev/null || die "connredir attach failed"
	for ((k = 0; k < nprox; k++)); do
		"$CRD" --instance "$INST_M" service add "m$k" --proxy "127.0.0.1:$((7100 + k))" \
			--owner-cgroup "pm$k" --dport "$((8100 + k))" >/dev/null || die "service add m$k failed"
		proxy "mem/pm$k" "$U_PM" "pm$k" -- --service "m$k" --listen "127.0.0.1:$((7100 + k))" \
			--max-flows "$((per + 10))" --idle-timeout 0
		mpids+=("$BG_PID")
	done
	for ((g = 0; g < ngroups; g++)); do
		ports=()
		for ((k = g * PER_GROUP; k < nprox && k < (g + 1) * PER_GROUP; k++)); do
			ports+=("127.0.0.1:$((8100 + k))")
		done
		bg plain/srvm "$BIN/bench_server" --ready "$WORK/srvm$g.ready" "${ports[@]}" \
			>/dev/null 2>"$WORK/srvm$g.err"
		spids+=("$BG_PID")
		wait_file "$WORK/srvm$g.ready" 10 || die "bench_server (memory $g) did not start"
	done
	sleep 1
	read -r m0_total m0_flows <<<"$(mem_maps "$INST_M")"
	read -r o0_n o0_w o0_sum _ <<<"$(mem_optmem)"
	k0=$(mem_kernel)
	r0=$(rss_of "${mpids[@]}")
	for ((g = 0; g < ngroups; g++)); do
		targets=()
		for ((k = g * PER_GROUP; k < nprox && k < (g + 1) * PER_GROUP; k++)); do
			targets+=("127.0.0.1:$((8100 + k))")
		done
		want_g=$((per * ${#targets[@]}))
		((want_g > FLOWS - g * PER_GROUP * per)) && want_g=$((FLOWS - g * PER_GROUP * per))
		hold_start mem/app "$want_g" "hold$g" -- "${targets[@]}"
	done
	if hold_wait; then
		sleep 1
		read -r m1_total m1_flows <<<"$(mem_maps "$INST_M")"
		read -r o1_n o1_w o1_sum o1_vals <<<"$(mem_optmem)"
		k1=$(mem_kernel)
		r1=$(rss_of "${mpids[@]}")
		f1=$(flows_in_map "$INST_M")
		n=$HOLD_OPEN
		if [ "$n" -gt 0 ]; then
			MEM_JSON=$(awk -v n="$n" -v req="$FLOWS" -v dm="$((m1_total - m0_total))" \
				-v dfl="$((m1_flows - m0_flows))" -v dopt="$((o1_sum - o0_sum))" \
				-v dw="$((o1_w - o0_w))" -v dn="$((o1_n - o0_n))" -v ov="$o1_vals" \
				-v dk="$((k1 - k0))" -v dr="$((r1 - r0))" -v fixed="$m0_total" \
				-v ent="${f1:-0}" -v np="$nprox" 'BEGIN {
				printf "{\"flows_requested\":%d,\"flows_open\":%d,\"flows_map_entries\":%d,\"proxies\":%d,", req, n, ent, np
				printf "\"map_bytes_per_flow\":%.1f,\"flows_map_bytes_per_flow\":%.1f,", dm / n, dfl / n
				printf "\"storage_bytes_per_flow\":%.1f,\"sockets_with_storage_per_flow\":%.2f,", dopt / n, dw / n
				printf "\"storage_bytes_per_socket\":\"%s\",\"sockets_per_flow\":%.2f,", ov, dn / n
				printf "\"kernel_bytes_per_flow\":%.1f,\"fixed_map_bytes\":%d,", (dm + dopt) / n, fixed
				printf "\"all_kernel_bytes_per_flow_context\":%.0f,\"proxy_rss_bytes_per_flow\":%.1f}", dk / n, dr / n }')
		fi
	fi
	hold_stop
	for ((i = 0; i < 300; i++)); do
		[ "$(flows_in_map "$INST_M")" = 0 ] && break
		sleep 0.1
	done
	for k in "${mpids[@]}" "${spids[@]}"; do stop_pid "$k"; done
	"$CRD" --instance "$INST_M" detach >/dev/null

	# The nftables REDIRECT set-up: what conntrack keeps per flow.
	say "bench: memory: $NFT_FLOWS flows through one nftables REDIRECT proxy"
	ct_size=$(awk '$1 == "nf_conntrack" { print $4 }' /proc/slabinfo)
	c0=$(nsenter -t "$H_NFT1" -n cat /proc/sys/net/netfilter/nf_conntrack_count)
	k0=$(mem_kernel)
	r0=$(rss_of "${PIDOF[NFT1a]}")
	hold_start plain/cli "$NFT_FLOWS" holdnft nsenter -t "$H_NFT1" -n -- 127.0.0.1:8091
	if hold_wait; then
		sleep 1
		c1=$(nsenter -t "$H_NFT1" -n cat /proc/sys/net/netfilter/nf_conntrack_count)
		k1=$(mem_kernel)
		r1=$(rss_of "${PIDOF[NFT1a]}")
		n=$HOLD_OPEN
		if [ "$n" -gt 0 ]; then
			MEM_NFT_JSON=$(awk -v n="$n" -v dc="$((c1 - c0))" -v cs="${ct_size:-0}" \
				-v dk="$((k1 - k0))" -v dr="$((r1 - r0))" 'BEGIN {
				printf "{\"flows_open\":%d,\"conntrack_entries_per_flow\":%.2f,", n, dc / n
				printf "\"conntrack_object_bytes\":%d,\"conntrack_bytes_per_flow\":%.1f,", cs, dc * cs / n
				printf "\"all_kernel_bytes_per_flow_context\":%.0f,\"proxy_rss_bytes_per_flow\":%.1f}", dk / n, dr / n }')
		fi
	fi
	hold_stop
	sleep 2
}

# ---- the runs ------------------------------------------------------------------------------

T_START=$(date +%s)
want memory && memory_phase
want connect && rounds connect "$ROUNDS" all
want connect && rounds events "$EV_ROUNDS" off on
want rate && rounds rate "$ROUNDS" all
want seq && rounds seq "$ROUNDS" all
want conc && rounds conc "$ROUNDS" all
want throughput && rounds throughput "$ROUNDS" all
want latency && rounds latency "$ROUNDS" all

T_END=$(date +%s)

# ---- report -------------------------------------------------------------------------------------

TABLE=$WORK/table
JS=$WORK/json
: >"$TABLE"
: >"$JS"
# shellcheck disable=SC2059 # the format is the first argument
tab() { printf "$@" >>"$TABLE"; }

fmt() { # NUMBER [DECIMALS]: "n/a" for null
	if [ "$1" = null ]; then echo n/a; else awk -v v="$1" -v d="${2:-1}" 'BEGIN { printf "%.*f", d, v }'; fi
}
range() { if [ "$1" = null ]; then echo n/a; else echo "$(fmt "$1" "$3")-$(fmt "$2" "$3")"; fi; }
jnum() { if [ "$1" = null ]; then echo null; else awk -v v="$1" 'BEGIN { printf "%.6g", v }'; fi; }

# section KIND TITLE UNIT PATH SCALE DECIMALS BASELINE HIGHER_IS_BETTER LABELS...
# Prints the table rows and the JSON of one comparison.
section() {
	local kind=$1 title=$2 unit=$3 path=$4 scale=$5 dec=$6 base=$7 hib=$8 key=${9:-$1}
	shift 9
	local s label n med p25 p75 mn mx rmed r25 r75 rmin rmax vals first=1
	if [ -n "$title" ]; then
		tab '\n%s\n' "$title"
		tab '  %-34s %10s %21s %21s  %s\n' "set-up" "median" "p25-p75" "min-max" "ratio to $base: median (p25-p75)"
	fi
	printf '"%s":{"metric":"%s","unit":"%s","baseline":"%s","higher_is_better":%s,"setups":{' \
		"$key" "$path" "$unit" "$base" "$hib" >>"$JS"
	for s in "$@"; do
		label=${s#*=}
		s=${s%%=*}
		read -r n med p25 p75 mn mx <<<"$(stats "$kind" "$s" "$path" "$scale")"
		read -r _ rmed r25 r75 rmin rmax <<<"$(paired "$kind" "$s" "$base" "$path" ratio)"
		tab '  %-34s %10s %21s %21s  %s\n' "$s ($label)" "$(fmt "$med" "$dec")" \
			"$(range "$p25" "$p75" "$dec")" "$(range "$mn" "$mx" "$dec")" \
			"$([ "$rmed" = null ] && echo n/a || echo "x$(fmt "$rmed" 3) ($(fmt "$r25" 3)-$(fmt "$r75" 3))")"
		vals=$(values "$kind" "$s" "$path" | sort -n | awk -v f="$scale" '{ printf "%s%.6g", (NR > 1 ? "," : ""), $2 / f }')
		[ $first = 1 ] || printf ',' >>"$JS"
		first=0
		printf '"%s":{"label":"%s","rounds":[%s],"median":%s,"p25":%s,"p75":%s,"min":%s,"max":%s,"ratio":{"median":%s,"p25":%s,"p75":%s,"min":%s,"max":%s}}' \
			"$s" "$label" "$vals" "$(jnum "$med")" "$(jnum "$p25")" "$(jnum "$p75")" "$(jnum "$mn")" "$(jnum "$mx")" \
			"$(jnum "$rmed")" "$(jnum "$r25")" "$(jnum "$r75")" "$(jnum "$rmin")" "$(jnum "$rmax")" >>"$JS"
	done
	printf '}},' >>"$JS"
}

# Per-set-up medians and ratios, for the targets below.
pratio() { paired "$1" "$2" "$3" "$4" ratio | awk '{ print $2 }'; }
pdiff() { paired "$1" "$2" "$3" "$4" diff "${5:-1}" | awk '{ print $2 }'; }

TGT=$WORK/targets
: >"$TGT"
TGT_JSON=""
# target NAME VALUE OP LIMIT SHOWN: OP is le or ge. A missed target says
# by how much: the shortfall (ge) or excess (le), in percent of the limit.
target() {
	local name=$1 v=$2 op=$3 lim=$4 shown=$5 st by=null
	if [ "$v" = null ] || [ -z "$v" ]; then
		st="not measured"
	elif awk -v v="$v" -v l="$lim" -v op="$op" 'BEGIN { exit !(op == "le" ? v <= l : v >= l) }'; then
		st=met
	else
		by=$(awk -v v="$v" -v l="$lim" -v op="$op" 'BEGIN { printf "%.1f", (op == "le" ? v - l : l - v) * 100 / l }')
		st="missed by $by%"
	fi
	printf '  %-20s %s: %s\n' "[$st]" "$name" "$shown" >>"$TGT"
	TGT_JSON="$TGT_JSON${TGT_JSON:+,}{\"target\":\"$name\",\"value\":$(jnum "${v:-null}"),\"op\":\"$op\",\"limit\":$lim,\"status\":\"${st%% by*}\",\"missed_by_pct\":$by}"
}

tab 'connredir benchmarks: %s\n' "$DATE"
tab 'machine: %s, %s cores, Linux %s (shared with other work: figures are medians over rounds)\n' "$CPU" "$CORES" "$KERNEL"
tab 'command: %s; tree %s; %s rounds (events %s), set-ups interleaved within each; %s s\n' "$COMMAND" "$GITREV" "$ROUNDS" "$EV_ROUNDS" "$((T_END - T_START))"

if want connect; then
	section connect "1. Connect overhead: connect()+accept() to a local listener, median latency of each round (us)" \
		us lat_ns.p50 1000 2 none false connect \
		"none=no programs" "nomatch=connredir, service does not match" \
		"redirect=one redirect to the listener" "two=two local connections"
	redir_cost=$(pdiff connect redirect none lat_ns.p50 1000)
	redir_cost_nm=$(pdiff connect redirect nomatch lat_ns.p50 1000)
	conn_cost=$(pdiff connect two none lat_ns.p50 1000)
	tab '  a redirect adds %s us over no programs (%s us over no match); one more local connection adds %s us\n' \
		"$(fmt "$redir_cost" 2)" "$(fmt "$redir_cost_nm" 2)" "$(fmt "$conn_cost" 2)"
	printf '"connect_costs":{"redirect_minus_none_us":%s,"redirect_minus_nomatch_us":%s,"two_minus_none_us":%s},' \
		"$(jnum "$redir_cost")" "$(jnum "$redir_cost_nm")" "$(jnum "$conn_cost")" >>"$JS"
	v=$(pratio connect nomatch none lat_ns.p50)
	target "connect overhead (no match) within 3% of no programs (issue 19: >= 0.97x direct)" "$v" le 1.03 \
		"x$(fmt "$v" 3) (limit 1.03)"
	v=$(awk -v a="$redir_cost" -v b="$conn_cost" 'BEGIN { if (a == "null" || b == "null" || b <= 0) print "null"; else print a / b }')
	target "one redirect adds no more than one extra local connection" "$v" le 1 \
		"$(fmt "$redir_cost" 2) us vs $(fmt "$conn_cost" 2) us (x$(fmt "$v" 2), limit 1)"
	target "issue 19: a redirect adds <= 5 us over no programs (the BPF time, roughly)" "$redir_cost" le 5 \
		"$(fmt "$redir_cost" 2) us (limit 5)"
fi
if want rate; then
	section rate "2. Connection rate: new connections per second, one 64-byte request and reply each, $CONC threads" \
		conn/s rate_per_s 1 0 direct true rate \
		"direct=no proxy" "crd1=connredir, 1 proxy" "crd2=connredir, 2 proxies" \
		"nft1=nftables REDIRECT, 1 proxy" "nft2=nftables REDIRECT, 2 proxies" \
		"ipt1=$IPT REDIRECT, 1 proxy" "ipt2=$IPT REDIRECT, 2 proxies"
	v=$(pratio rate crd1 nft1 rate_per_s)
	v2=$(pratio rate crd2 nft2 rate_per_s)
	tab '  connredir vs nftables, same round: 1 proxy x%s, 2 proxies x%s\n' "$(fmt "$v" 3)" "$(fmt "$v2" 3)"
	printf '"rate_crd_vs_nft":{"one_proxy":%s,"two_proxies":%s},' "$(jnum "$v")" "$(jnum "$v2")" >>"$JS"
	target "connection rate through one proxy >= 1.2x nftables REDIRECT" "$v" ge 1.2 "x$(fmt "$v" 3) (limit 1.2)"
	v=$(pratio rate crd1 direct rate_per_s)
	target "connection rate through one proxy >= half of direct" "$v" ge 0.5 "x$(fmt "$v" 3) (limit 0.5)"
	errs=$(awk '$1 == "rate" && $4 == "errors" && $5 > 0 { printf "%s%s/%s:%s", sep, $2, $3, $5; sep = " " }' "$RESULTS")
	[ -n "$errs" ] && tab '  connection errors (set-up/round:count): %s\n' "$errs"
fi
# relay_section KIND TITLE WHAT: connredir-proxy against nftables + min_relay.
relay_section() {
	local kind=$1 v
	section "$kind" "$2" conn/s rate_per_s 1 0 min1 true "rate_$kind" \
		"direct=no relay" "min1=nftables REDIRECT + bench/min_relay" \
		"nft1=nftables REDIRECT + connredir-proxy" "crd1=connredir + connredir-proxy, no log" \
		"crd1log=connredir + connredir-proxy, log on" \
		${BASE_PROXY:+"crd1logbase=the same with BENCH_BASE_PROXY"}
	if [ -n "$BASE_PROXY" ]; then
		v=$(pratio "$kind" crd1log crd1logbase rate_per_s)
		tab '  this proxy vs BENCH_BASE_PROXY (%s), same round: x%s\n' "$BASE_PROXY" "$(fmt "$v" 3)"
	fi
	v=$(pratio "$kind" crd1log min1 rate_per_s)
	target "issue 19: connredir + proxy (log on) >= 1.25x nftables + min_relay, $3" "$v" ge 1.25 \
		"x$(fmt "$v" 3) (limit 1.25)"
	v=$(awk -v k="$kind" '$1 == k && $4 == "errors" && $5 > 0 { printf "%s%s/%s:%s", sep, $2, $3, $5; sep = " " }' "$RESULTS")
	[ -n "$v" ] && tab '  connection errors (set-up/round:count): %s\n' "$v"
	return 0
}
want seq && relay_section seq "2b. Relays, sequential: new connections per second, one client, a 64-byte request and reply each" \
	"sequential"
want conc && relay_section conc "2c. Relays, concurrent: new connections per second, $CLIENTS clients, a 64-byte request and reply each" \
	"$CLIENTS clients"
if want throughput; then
	section throughput "3. Throughput: one stream of bulk data, a new connection per ${SLICE_TPUT} s turn (Gbit/s)" Gbit/s gbit_per_s 1 2 direct true throughput \
		"direct=loopback" "crd1=1 proxy, splice" "crd2=2 proxies, splice" \
		"crd1copy=1 proxy, --copy-only" "crd2copy=2 proxies, --copy-only"
	v=$(pratio throughput crd2 direct gbit_per_s)
	target "throughput through two proxies >= 0.8x direct (splice)" "$v" ge 0.8 "x$(fmt "$v" 3) (limit 0.8)"
fi
if want latency; then
	section latency "4. Latency: request/reply round trip, 64 bytes each way, one connection per set-up; median of each round (us)" \
		us rtt_ns.p50 1000 1 direct false latency_p50 \
		"direct=no proxy" "crd1=connredir, 1 proxy" "crd2=connredir, 2 proxies" "nft1=nftables, 1 proxy"
	section latency "   ... and the 99th percentile of each round (us)" us rtt_ns.p99 1000 1 direct false latency_p99 \
		"direct=no proxy" "crd1=connredir, 1 proxy" "crd2=connredir, 2 proxies" "nft1=nftables, 1 proxy"
	v=$(pratio latency crd1 direct rtt_ns.p99)
	target "p99 latency through one proxy within 2x direct" "$v" le 2 "x$(fmt "$v" 3) (limit 2)"
	target "issue 19: p99 latency through one proxy <= 1.5x direct" "$v" le 1.5 "x$(fmt "$v" 3) (limit 1.5)"
fi
if want memory; then
	tab '\n5. Memory (one redirected flow = application socket -> proxy -> origin)\n'
	if [ "$MEM_JSON" != null ]; then
		mj=$(echo "$MEM_JSON" | flatten)
		mval() { awk -v k="$1" '$1 == k { print $2 }' <<<"$mj"; }
		tab '  flows open: %s of %s requested (%s entries in crd_flows_v3)\n' "$(mval flows_open)" "$(mval flows_requested)" "$(mval flows_map_entries)"
		[ -n "$MEM_NOTE" ] && tab '  note: %s\n' "$MEM_NOTE"
		tab '  kernel memory per tracked flow: %s bytes = maps %s (crd_flows_v3 %s) + socket storage %s (%s sockets x %s bytes)\n' \
			"$(mval kernel_bytes_per_flow)" "$(mval map_bytes_per_flow)" "$(mval flows_map_bytes_per_flow)" \
			"$(mval storage_bytes_per_flow)" "$(mval sockets_with_storage_per_flow)" "$(mval storage_bytes_per_socket)"
		tab '  fixed map memory of the instance (no flows): %s bytes\n' "$(mval fixed_map_bytes)"
		tab '  proxy resident memory per flow: %s bytes\n' "$(mval proxy_rss_bytes_per_flow)"
		tab '  context, all kernel memory per flow (%s sockets, slab; noisy on a shared machine): %s bytes\n' \
			"$(mval sockets_per_flow)" "$(mval all_kernel_bytes_per_flow_context)"
		v=$(mval kernel_bytes_per_flow)
		target "<= 512 bytes of kernel memory per tracked flow" "$v" le 512 "$(fmt "$v" 0) bytes (limit 512)"
		target "issue 19: <= 256 bytes of kernel memory per tracked flow" "$v" le 256 "$(fmt "$v" 0) bytes (limit 256)"
	else
		tab '  not measured: %s\n' "$(head -c 200 "$WORK/hold.err" 2>/dev/null)"
		target "<= 512 bytes of kernel memory per tracked flow" null le 512 "not measured"
		target "issue 19: <= 256 bytes of kernel memory per tracked flow" null le 256 "not measured"
	fi
	if [ "$MEM_NFT_JSON" != null ]; then
		mj=$(echo "$MEM_NFT_JSON" | flatten)
		tab '  nftables REDIRECT for comparison (%s flows): conntrack %s entries x %s bytes = %s bytes per flow; proxy RSS %s bytes per flow\n' \
			"$(mval flows_open)" "$(mval conntrack_entries_per_flow)" "$(mval conntrack_object_bytes)" \
			"$(mval conntrack_bytes_per_flow)" "$(mval proxy_rss_bytes_per_flow)"
	fi
	printf '"memory":%s,"memory_nftables":%s,"memory_note":"%s",' "$MEM_JSON" "$MEM_NFT_JSON" "$MEM_NOTE" >>"$JS"
fi
if want connect; then
	section events "6. Events: connect()+accept() with and without 'connredir events --json --follow' running (us)" \
		us lat_ns.p50 1000 2 nomatch_off false events_nomatch \
		"nomatch_off=no match, no reader" "nomatch_on=no match, reader on"
	section events "" us lat_ns.p50 1000 2 redirect_off false events_redirect \
		"redirect_off=one redirect, no reader" "redirect_on=one redirect, reader on"
	v=$(pratio events nomatch_on nomatch_off lat_ns.p50)
	v2=$(pratio events redirect_on redirect_off lat_ns.p50)
	tab '  an events reader costs: x%s without a match, x%s with one redirect per connection\n' "$(fmt "$v" 3)" "$(fmt "$v2" 3)"
fi
if [ -s "$FAILS" ]; then
	tab '\nRuns that failed (left out of the figures):\n'
	sed 's/^/  /' "$FAILS" >>"$TABLE"
fi
tab '\nTargets\n'
cat "$TGT" >>"$TABLE"

# The JSON: every section, the targets, the machine and the command.
{
	printf '{"schema":1,"date":"%s","command":"%s","tree":"%s",' "$DATE" "${COMMAND//\"/\\\"}" "$GITREV"
	printf '"machine":{"cpu":"%s","cores":%s,"kernel":"%s","shared":true},' "$CPU" "$CORES" "$KERNEL"
	printf '"settings":{"quick":%s,"rounds":%s,"events_rounds":%s,"seconds":{"connect":%s,"events":%s,"rate":%s,"throughput":%s,"latency":%s},"slices":{"rate":%s,"throughput":%s,"latency":%s},"concurrency":%s,"clients":%s,"flows":%s,"iptables":"%s"},' \
		"$([ -n "$QUICK" ] && echo true || echo false)" "$ROUNDS" "$EV_ROUNDS" "$D_CONN" "$D_EV" "$D_RATE" "$D_TPUT" "$D_RR" "$SLICE_RATE" "$SLICE_TPUT" "$SLICE_RR" "$CONC" "$CLIENTS" "$FLOWS" "$IPT"
	cat "$JS"
	printf '"failed_runs":%s,' "$(wc -l <"$FAILS")"
	printf '"elapsed_s":%s,"targets":[%s]}\n' "$((T_END - T_START))" "$TGT_JSON"
} >"$OUT_JSON.tmp" && mv "$OUT_JSON.tmp" "$OUT_JSON"

cat "$TABLE"
echo
echo "JSON: $OUT_JSON"
