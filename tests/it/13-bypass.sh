#!/usr/bin/env bash
# 13-bypass: no bypass. Every way a process in the attached subtree can open
# a TCP or UDP flow reaches the service's proxy and never the destination
# itself: one check per path (crd-bypass opens the flow), each proving that
# the proxy logged a hop from the application's own socket to the
# destination, that every byte came back, and that the destination's log
# shows the proxy's connections only, never the application's socket.
#
# Then sockets made OUTSIDE the subtree and used inside it (SCM_RIGHTS from
# an outside process, inherited by a child that moved in): the cgroup hooks
# run for the socket's cgroup, so they reach the destination directly; the
# test shows that documented gap (docs/DESIGN.md, "What the hooks cannot
# cover"), so a change in it is noticed.
. "$(dirname "$0")/../lib.sh"

BY=$TOOLS/crd-bypass
crd attach "$TEST_CG" >"$WORK/attach.out" 2>"$WORK/attach.err" ||
	{ fail "attach: $(cat "$WORK/attach.err")"; exit; }
sysctl -qw net.ipv4.tcp_fastopen=3
sysctl -qw net.mptcp.enabled=1

# The destinations: TCP and UDP echo on each, logging every peer. Outside
# the test cgroup.
"$BY" serve --ready "$WORK/origin.ready" --log "$WORK/origin.log" 127.0.0.1:8080 \
	'[::1]:8080' 127.0.0.1:7001 127.0.0.1:7002 127.0.0.1:7003 >"$WORK/origin.out" 2>&1 &
PIDS+=($!)
wait_file "$WORK/origin.ready" || fail "origin did not start: $(cat "$WORK/origin.out")"
touch "$WORK/origin.log"
start_proxy pa 127.0.0.1:15001 '[::1]:15001'
bg ua "$TOOLS/crd-udpproxy" --name ua --listen 127.0.0.1:16001 --log "$WORK/ua.log" \
	--ready "$WORK/ua.ready"
wait_file "$WORK/ua.ready" || fail "udp proxy did not start"
crd service add T --proxy 127.0.0.1:15001 --proxy '[::1]:15001' --owner-cgroup pa \
	--dport 8080 >/dev/null || fail "service add T"
crd service add U --proto udp --proxy 127.0.0.1:16001 --owner-cgroup ua \
	--dport 7001-7003 >/dev/null || fail "service add U"

re() { sed 's/[].[]/\\&/g' <<<"$1"; }   # an address as an extended regex
lport() { local p=${1##* local=}; p=${p%% *}; echo "${p##*:}"; }
origin_lines() { wc -l <"$WORK/origin.log"; }
n=0

# verify WHAT PROXYLOG OUT RC BEFORE: the one check of a path. OUT is
# crd-bypass's output, RC its status, BEFORE the origin's log length before.
verify() {
	local what=$1 plog=$2 out=$3 rc=$4 before=$5 why="" l port dst pid flows=0 now
	[ "$rc" = 0 ] || why="exit status $rc;"
	while read -r l; do
		flows=$((flows + 1))
		if [ "$(field "$l" result)" != ok ]; then
			why+=" $l;"
			continue
		fi
		port=$(lport "$l") dst=$(field "$l" dst) pid=$(field "$l" pid)
		eventually grep -qE "orig=$(re "$dst") src=[^ ]*:$port app_pid=$pid " "$plog" ||
			why+=" the proxy logged no hop from :$port (pid $pid) to $dst;"
		grep -qE " peer=[^ ]*:$port " "$WORK/origin.log" &&
			why+=" the destination saw the application's socket :$port;"
	done < <(grep 'result=' "$out")
	[ "$flows" -gt 0 ] || why+=" no flow reported: $(head -c 300 "$out");"
	now=$(origin_lines)
	[ "$((now - before))" = "$flows" ] ||
		why+=" the destination logged $((now - before)) flows, expected the proxy's $flows;"
	if [ -z "$why" ]; then
		pass "$what: $flows flow(s) through the proxy, none to the destination"
	else
		fail "$what:$why"
	fi
}

# path WHAT PROXYLOG ARGS...: crd-bypass ARGS in the app cgroup, then verify.
path() {
	local what=$1 plog=$2 before rc
	shift 2
	n=$((n + 1))
	before=$(origin_lines)
	bg app "$BY" --timeout 10 "$@" >"$WORK/by$n.out" 2>&1
	wait "$BG_PID"
	rc=$?
	verify "$what" "$plog" "$WORK/by$n.out" "$rc" "$before"
}

P=$WORK/pa.log U=$WORK/ua.log
path "TCP over IPv4" "$P" tcp 127.0.0.1 8080
path "TCP over IPv6" "$P" tcp ::1 8080
path "IPv4-mapped IPv6 (AF_INET6 socket to ::ffff:127.0.0.1)" "$P" mapped 127.0.0.1 8080
path "MPTCP" "$P" mptcp 127.0.0.1 8080
path "TCP Fast Open, sendto(MSG_FASTOPEN)" "$P" tfo-sendto 127.0.0.1 8080
path "TCP Fast Open, TCP_FASTOPEN_CONNECT" "$P" tfo-connect 127.0.0.1 8080
path "io_uring IORING_OP_CONNECT" "$P" iouring-connect 127.0.0.1 8080
path "socket inherited across fork, connected by the child" "$P" fork 127.0.0.1 8080
path "socket inherited across fork+exec, connected after execve" "$P" exec 127.0.0.1 8080
path "dup()'ed socket, original closed" "$P" dup 127.0.0.1 8080
path "socket passed over a Unix socket (SCM_RIGHTS) inside the subtree" "$P" \
	scm-rights 127.0.0.1 8080
path "connected UDP" "$U" udp-connected 127.0.0.1 7001
path "unconnected UDP, sendto()" "$U" udp-unconnected 127.0.0.1 7002
path "one sendmmsg() to three destinations" "$U" sendmmsg 127.0.0.1 7001 7002 7003
path "io_uring IORING_OP_SENDMSG with a destination" "$U" iouring-sendmsg 127.0.0.1 7003

# --- sockets made outside the subtree ------------------------------------------
check "attach printed no warning" [ ! -s "$WORK/attach.err" ]

# foreign WHAT STEP ARGS...: ARGS opens a flow on a socket made outside: the
# documented gap, the flow goes straight to the destination.
foreign() {
	local what=$1 l port why=""
	shift 2
	n=$((n + 1))
	"$@" >"$WORK/by$n.out" 2>&1
	l=$(grep 'result=' "$WORK/by$n.out" | head -n1)
	port=$(lport "$l")
	[ "$(field "$l" result)" = ok ] && grep -qE " peer=[^ ]*:$port " "$WORK/origin.log" ||
		why+=" expected the flow to reach the destination directly: $l;"
	what+=": not covered (documented), it reaches the destination directly"
	if [ -z "$why" ]; then pass "$what"; else fail "$what:$why"; fi
}

give() { # KIND: an outside process hands out one socket of KIND at $WORK/give.sock
	rm -f "$WORK/give.ready"
	"$BY" give --ready "$WORK/give.ready" "$WORK/give.sock" "$1" >"$WORK/give.out" 2>&1 &
	PIDS+=($!)
	wait_file "$WORK/give.ready" || fail "give $1 did not start: $(cat "$WORK/give.out")"
}
in_app() { in_cg app "$@"; }

give tcp4
foreign "TCP socket passed in by SCM_RIGHTS from a process outside" connect \
	in_app "$BY" --timeout 10 --from-unix "$WORK/give.sock" tcp 127.0.0.1 8080
give udp4
foreign "UDP socket passed in by SCM_RIGHTS from outside, sendto()" sendto \
	in_app "$BY" --timeout 3 --from-unix "$WORK/give.sock" udp-unconnected 127.0.0.1 7001
foreign "TCP socket made outside, inherited by a child that moved in" connect \
	"$BY" --timeout 10 --join "$TEST_CG/app" tcp 127.0.0.1 8080
foreign "TCP socket made outside, inherited, Fast Open sendto(MSG_FASTOPEN)" sendto \
	"$BY" --timeout 10 --join "$TEST_CG/app" tfo-sendto 127.0.0.1 8080
foreign "UDP socket made outside, inherited by a child that moved in, sendto()" sendto \
	"$BY" --timeout 3 --join "$TEST_CG/app" udp-unconnected 127.0.0.1 7001

# Outside, a socket of the outside goes straight to the destination; inside,
# sockets made inside still go through the proxies.
"$BY" --timeout 10 tcp 127.0.0.1 8080 >"$WORK/outside.out" 2>&1
l=$(grep 'result=' "$WORK/outside.out")
check "a process outside the subtree is not affected (its flow reaches the destination)" \
	bash -c "[ '$(field "$l" result)' = ok ] &&
		 grep -qE ' peer=[^ ]*:$(lport "$l") ' '$WORK/origin.log'"
path "afterwards, TCP made inside still goes through the proxy" "$P" tcp 127.0.0.1 8080
path "afterwards, UDP made inside still goes through the proxy" "$U" udp-unconnected 127.0.0.1 7001
