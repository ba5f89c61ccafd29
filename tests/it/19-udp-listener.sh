#!/usr/bin/env bash
# 19-udp-listener: UDP proxies that answer from the socket they received on.
# 1. 8 threads x 2000 datagrams on one unconnected socket, each thread to its
#    own destination through one proxy: every datagram reaches the proxy
#    tagged with its own flow (the payload names the destination the flow's
#    context has), none untagged; a send that fails after the hook leaves
#    no handle for the socket's next datagram;
# 2. replies from the proxy's listening socket show the original destination
#    to unconnected sockets: IPv4, IPv6, IPv4-mapped, sendmmsg/recvmmsg;
# 3. one socket with two flows through that proxy: replies keep the proxy's
#    address (never another flow's destination) and are counted; answered
#    with the flow's records (a per-flow reply socket) they are translated;
# 4. dnsmasq, unmodified, as the service's proxy: dig and the glibc stub
#    resolver get answers from the original server, IPv4 and IPv6.
. "$(dirname "$0")/../lib.sh"

crd attach "$TEST_CG" >/dev/null || { fail "attach"; exit; }
ip addr add 10.53.0.1/32 dev lo
ip addr add fd00:53::1/128 dev lo nodad

lsn_proxy() { # CGROUP NAME ARGS...
	local cg=$1 name=$2
	shift 2
	bg "$cg" "$TOOLS/crd-udplsn" proxy --ready "$WORK/$name.ready" --log "$WORK/$name.log" "$@"
	wait_file "$WORK/$name.ready" || fail "proxy $name did not start"
}
lsn_proxy ps stress --no-reply 127.0.0.1:16009
stress_pid=$BG_PID
lsn_proxy pu lsn 127.0.0.1:16001 '[::1]:16001'
lsn_proxy pw perflow --reply-socket 127.0.0.1:16002
crd service add S --proto udp --dport 7200-7299 --proxy 127.0.0.1:16009 --owner-cgroup ps >/dev/null
crd service add U --proto udp --dport 7000-7099 --proxy 127.0.0.1:16001 --proxy '[::1]:16001' \
	--owner-cgroup pu >/dev/null
crd service add W --proto udp --dport 7100-7199 --proxy 127.0.0.1:16002 --owner-cgroup pw >/dev/null

# --- 1. concurrent sendto on one socket ------------------------------------------
dsts=()
for i in 1 2 3 4 5 6 7 8; do dsts+=("127.0.0.1:720$i"); done
# Datagrams the proxy's socket had no room for (this network namespace's
# UDP RcvbufErrors): lost, not mis-tagged, so they are accounted separately.
rcvbuf_errors() { awk '$1 == "Udp:" && !h { for (i = 2; i <= NF; i++) if ($i == "RcvbufErrors") c = i; h = 1; next }
	$1 == "Udp:" && h { print $c }' /proc/net/snmp; }
drops0=$(rcvbuf_errors)
bg app "$TOOLS/crd-udplsn" stress --threads 8 --count 2000 "${dsts[@]}" >"$WORK/stress.out"
wait_lines "$WORK/stress.out" 1 60
sleep 0.5
kill "$stress_pid"
wait "$stress_pid"
sum=$(grep '^summary' "$WORK/stress.log")
drops=$(($(rcvbuf_errors) - drops0))
okn=$(field "$sum" ok)
check "8 threads sent 16000 datagrams ($(cat "$WORK/stress.out"))" grep -q '^sent=16000 failed=0' "$WORK/stress.out"
check "every datagram that reached the proxy was tagged with its own flow ($sum)" \
	[ "${sum#* ok=$okn }" = "bad=0 unmarked=0 nocontext=0" ]
check "the rest were receive-buffer drops ($okn received + $drops dropped = 16000), at most a quarter" \
	[ "$((okn + drops))" = 16000 -a "$okn" -ge 12000 ]

# A send that fails after the sendmsg hook (bigger than the path MTU) leaves
# its flow's handle behind; the socket's next datagram, to a listener that is
# no proxy and without a hook (connected), must not carry that handle.
lsn_proxy po other 127.0.0.1:16005
other_pid=$BG_PID
ip link set lo mtu 1500
out=$(in_cg app "$TOOLS/crd-udplsn" stale 127.0.0.1:7001 127.0.0.1:16005)
ip link set lo mtu 65536
check "stale: the big datagram failed after the hook ($out)" [ "$out" = "first=ok big=EMSGSIZE other=ok" ]
kill "$other_pid"
wait "$other_pid"
sum=$(grep '^summary' "$WORK/other.log")
check "the next datagram, to another listener, left untagged ($sum)" \
	[ "$sum" = "summary ok=0 bad=0 unmarked=1 nocontext=0" ]

# --- 2. replies from the listening socket ----------------------------------------
q() { # NAME ARGS...: crd-udplsn query in cgroup app, output in $WORK/NAME.out
	local n=$1
	shift
	in_cg app "$TOOLS/crd-udplsn" query "$@" >"$WORK/$n.out"
	grep '^summary' "$WORK/$n.out"
}
u0=$(stat_counter udp_replies_untranslated)
s=$(q v4 127.0.0.1:7001 127.0.0.1:7002)
check "IPv4, a socket per destination: replies from the original destinations ($s)" \
	[ "$s" = "summary ok=2 wrong=0 untranslated=0 missing=0" ]
s=$(q v6 '[::1]:7004')
check "IPv6: the reply from the original destination ($s)" \
	[ "$s" = "summary ok=1 wrong=0 untranslated=0 missing=0" ]
s=$(q mapped -6 127.0.0.1:7003)
check "IPv4-mapped from an AF_INET6 socket ($s)" \
	[ "$s" = "summary ok=1 wrong=0 untranslated=0 missing=0" ]
s=$(q mmsg --mmsg --count 4 127.0.0.1:7005 '[::1]:7006')
check "sendmmsg/recvmmsg, 4 datagrams each, IPv4 and IPv6 ($s)" \
	[ "$s" = "summary ok=8 wrong=0 untranslated=0 missing=0" ]
check "no reply was left untranslated so far" [ "$(stat_counter udp_replies_untranslated)" = "$u0" ]

# --- 3. two flows of one socket through one proxy ---------------------------------
s=$(q shared --shared 127.0.0.1:7011 127.0.0.1:7012)
check "one socket, two flows, answered from the listener: no wrong source, both untranslated ($s)" \
	[ "$s" = "summary ok=0 wrong=0 untranslated=2 missing=0" ]
check "udp_replies_untranslated counted them" \
	[ "$(stat_counter udp_replies_untranslated)" = "$((u0 + 2))" ]
s=$(q shared-rec --shared --count 2 127.0.0.1:7111 127.0.0.1:7112 127.0.0.1:7113)
check "answered from per-flow sockets that carry the flows' records: each from its destination ($s)" \
	[ "$s" = "summary ok=6 wrong=0 untranslated=0 missing=0" ]

# --- 4. dnsmasq as the proxy -------------------------------------------------------
bg dns dnsmasq --keep-in-foreground --no-resolv --no-hosts --bind-interfaces \
	--listen-address=127.0.0.1 --listen-address=::1 --port=5353 --user=root --pid-file= \
	--address=/example.test/192.0.2.7 --address=/example.test/2001:db8::7 \
	--log-queries --log-facility="$WORK/dnsmasq.log"
crd service add DNS --proto udp --dport 53 --proxy 127.0.0.1:5353 --proxy '[::1]:5353' \
	--owner-cgroup dns >/dev/null
eventually grep -q 'started' "$WORK/dnsmasq.log" || fail "dnsmasq did not start"
sleep 0.3
for srv in 10.53.0.1 fd00:53::1; do
	in_cg app dig +tries=1 +time=3 @"$srv" www.example.test A >"$WORK/dig-$srv.out" 2>&1
	check "dig @$srv: answer 192.0.2.7 through dnsmasq" \
		grep -qE '^www\.example\.test\.[[:space:]]+[0-9]+[[:space:]]+IN[[:space:]]+A[[:space:]]+192\.0\.2\.7' \
		"$WORK/dig-$srv.out"
	check "dig @$srv: the answer came from $srv#53" grep -q ";; SERVER: $srv#53" "$WORK/dig-$srv.out"
	echo "nameserver $srv" >"$WORK/resolv-$srv.conf"
	out=$(in_cg app unshare -m sh -c "mount --bind '$WORK/resolv-$srv.conf' /etc/resolv.conf &&
		getent ahosts www.example.test" 2>&1)
	check "glibc's stub resolver via $srv gets 192.0.2.7 and 2001:db8::7" \
		bash -c "grep -q '^192.0.2.7 ' <<<'$out' && grep -q '^2001:db8::7 ' <<<'$out'"
done
check "dnsmasq answered the queries itself (it is the proxy)" \
	[ "$(grep -c 'query\[A\] www.example.test' "$WORK/dnsmasq.log")" -ge 4 ]
