#!/usr/bin/env bash
# 04-families: IPv6 and IPv4-mapped IPv6 destinations are redirected (an
# AF_INET6 socket connecting to ::ffff:a.b.c.d is treated as IPv4), and so
# are MPTCP and TCP Fast Open connections: every SOCK_STREAM path.
. "$(dirname "$0")/../lib.sh"

crd attach "$TEST_CG" >/dev/null || { fail "attach"; exit; }
start_origin 127.0.0.1:8080 '[::1]:8080'
start_proxy pa 127.0.0.1:15001 '[::1]:15001'
crd service add A --proxy 127.0.0.1:15001 --proxy '[::1]:15001' --owner-cgroup pa >/dev/null

client() { # NAME ARGS...: run crd-client in the app cgroup, echo its status
	local name=$1
	shift
	bg app "$TOOLS/crd-client" "$@" >"$WORK/client-$name.out" 2>&1
	wait "$BG_PID"
	echo $?
}
n=0
expect_hop() { # WHAT ORIG: the proxy logged one more flow, to ORIG
	n=$((n + 1))
	wait_lines "$WORK/pa.log" $n
	local l
	l=$(sed -n "${n}p" "$WORK/pa.log")
	check "$1: redirected once, original destination $2" \
		[ "$(field "$l" orig)/$(field "$l" state)" = "$2/REDIRECTED_BY_SELF" ]
}

check "IPv6 [::1]:8080 through the proxy" [ "$(client v6 -6 ::1 8080)" = 0 ]
expect_hop "IPv6" "[::1]:8080"
check "IPv4-mapped ::ffff:127.0.0.1 on an AF_INET6 socket" [ "$(client mapped -6 127.0.0.1 8080)" = 0 ]
expect_hop "IPv4-mapped" "127.0.0.1:8080"
bg app curl -s -o "$WORK/curl6.out" --max-time 10 'http://[::1]:8080/'
wait $BG_PID
check "curl over IPv6" grep -q "origin ok local=\[::1\]:8080" "$WORK/curl6.out"
expect_hop "curl IPv6" "[::1]:8080"

sysctl -qw net.mptcp.enabled=1 2>/dev/null
check "MPTCP client through the proxy" [ "$(client mptcp --mptcp 127.0.0.1 8080)" = 0 ]
expect_hop "MPTCP" "127.0.0.1:8080"

sysctl -qw net.ipv4.tcp_fastopen=3
check "TCP Fast Open (sendto MSG_FASTOPEN)" [ "$(client tfo --tfo 127.0.0.1 8080)" = 0 ]
expect_hop "TFO sendto" "127.0.0.1:8080"
check "TCP Fast Open (TCP_FASTOPEN_CONNECT)" [ "$(client tfoc --tfo-connect 127.0.0.1 8080)" = 0 ]
expect_hop "TFO connect" "127.0.0.1:8080"
