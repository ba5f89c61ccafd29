#!/usr/bin/env bash
# 31-winsock-udp: UDP the Windows way (winsock.h). Two wfp-udp-proxy
# instances, UDP proxies that receive with WSARecvMsg and send onward with
# WSASendMsg, are two UDP services of a chain:
# 1. dig asks dnsmasq through both: each proxy gets the
#    IP_WFP_REDIRECT_RECORDS and IP_WFP_REDIRECT_CONTEXT control messages
#    on the flow's first datagram, hands the records on with WSASendMsg
#    (accepted), the answer is right and comes from 127.0.0.1#5353;
# 2. one flow of three datagrams: the control messages come exactly once,
#    on the first, and never the SO_MARK message the proxy did not ask for;
# 3. the proxies ask for the messages with setsockopt(IP_WFP_REDIRECT_*,
#    TRUE) as on Windows; a third one sets them FALSE and gets none.
. "$(dirname "$0")/../lib.sh"

WSUDP=$BUILD/examples/wfp-udp-proxy
CTX_SIZE=120   # sizeof(struct connredir_context), version 1

crd attach "$TEST_CG" >/dev/null || { fail "attach"; exit; }

dnsmasq --keep-in-foreground --no-resolv --no-hosts --bind-interfaces \
	--listen-address=127.0.0.1 --port=5353 --user=root --pid-file= \
	--address=/example.test/192.0.2.7 --log-queries --log-facility="$WORK/dnsmasq.log" &
PIDS+=($!)
"$TOOLS/crd-udpecho" serve --ready "$WORK/echo.ready" 127.0.0.1:7001 >/dev/null 2>&1 &
PIDS+=($!)
wait_file "$WORK/echo.ready" || fail "udp echo server did not start"

ws_udp_proxy() { # NAME LISTEN
	bg "$1" "$WSUDP" --name "$1" --listen "$2" --log "$WORK/$1.log" --ready "$WORK/$1.ready"
	wait_file "$WORK/$1.ready" || fail "proxy $1 did not start"
}
ws_udp_proxy wa 127.0.0.1:16101
ws_udp_proxy wb 127.0.0.1:16102
crd service add WA --proto udp --proxy 127.0.0.1:16101 --weight 20 --owner-cgroup wa >/dev/null
crd service add WB --proto udp --proxy 127.0.0.1:16102 --weight 10 --owner-cgroup wb >/dev/null
WA=$(id_of WA) WB=$(id_of WB)
[ -n "$WA" ] && [ -n "$WB" ] || fail "service ids WA=$WA WB=$WB"
sleep 0.3   # dnsmasq listening

# --- 1. dig through two Windows-style UDP proxies ------------------------------
bg app dig +tries=1 +time=3 @127.0.0.1 -p 5353 www.example.test A >"$WORK/dig.out" 2>&1
dig_pid=$BG_PID
wait $dig_pid
check "dig got the answer 192.0.2.7 through two Windows-style UDP proxies" \
	grep -qE '^www\.example\.test\.[[:space:]]+[0-9]+[[:space:]]+IN[[:space:]]+A[[:space:]]+192\.0\.2\.7' "$WORK/dig.out"
check "the answer came from the server's own address (127.0.0.1#5353)" \
	grep -q ';; SERVER: 127.0.0.1#5353' "$WORK/dig.out"
check "dig saw no reply from an unexpected source" bash -c "! grep -qi 'unexpected source' '$WORK/dig.out'"
check "dnsmasq answered exactly one query" \
	[ "$(grep -c 'query\[A\] www.example.test' "$WORK/dnsmasq.log")" = 1 ]
wait_lines "$WORK/wa.log" 2
wait_lines "$WORK/wb.log" 2
la=$(grep '^wfp' "$WORK/wa.log" | grep 'orig=127.0.0.1:5353' | head -n1)
lb=$(grep '^wfp' "$WORK/wb.log" | grep 'orig=127.0.0.1:5353' | head -n1)
check "WA (weight 20) got the WFP messages once, first (service=$WA hop=0)" \
	[ "$(grep -c '^wfp.*orig=127.0.0.1:5353' "$WORK/wa.log") $(field "$la" service) $(field "$la" hop)" = "1 $WA 0" ]
check "WB got them once, second (service=$WB hop=1 nhops=2)" \
	[ "$(grep -c '^wfp.*orig=127.0.0.1:5353' "$WORK/wb.log") $(field "$lb" service) $(field "$lb" hop) $(field "$lb" nhops)" = "1 $WB 1 2" ]
for l in "$la" "$lb"; do
	p=$(field "$l" proxy)
	check "$p: context of dig ($dig_pid) to 127.0.0.1:5353, $CTX_SIZE bytes, level ip" \
		[ "$(field "$l" orig) $(field "$l" app_comm) $(field "$l" app_pid) $(field "$l" context) $(field "$l" level)" = \
		  "127.0.0.1:5353 dig $dig_pid $CTX_SIZE ip" ]
	r=$(field "$l" records)
	check "$p: a records blob (1..1024 bytes: $r)" [ "${r:-0}" -gt 0 ] && [ "${r:-0}" -le 1024 ]
	check "$p: WSASendMsg with the records accepted (send=ok)" [ "$(field "$l" send)" = ok ]
done
check "WB's blob is at least as long as WA's" [ "$(field "$lb" records)" -ge "$(field "$la" records)" ]
n=$(crd flows --json | python3 -c '
import json, sys
print(sum(1 for f in json.load(sys.stdin) if f["proto"] == "udp" and f["app_comm"] == "dig"
          and [c["name"] for c in f["chain"]] == ["WA", "WB"] and f["orig_dst"] == "127.0.0.1:5353"))')
check "flows lists dig's UDP flow with chain WA>WB (records handed on by WSASendMsg)" [ "$n" = 1 ]

# --- 2. one flow, three datagrams ----------------------------------------------
bg app "$TOOLS/crd-udpecho" send --count 3 127.0.0.1:7001 >"$WORK/echo.out"
wait $BG_PID
check "three datagrams and their answers through the chain" grep -q '^summary ok=3 bad=0 missing=0' "$WORK/echo.out"
for p in wa wb; do
	w=$(grep -c '^wfp.*orig=127.0.0.1:7001' "$WORK/$p.log")
	d=$(grep '^dgram' "$WORK/$p.log" | tail -n3)
	check "$p: the WFP messages exactly once for the three-datagram flow ($w)" [ "$w" = 1 ]
	check "$p: on the first datagram only" \
		[ "$(awk '{print $5}' <<<"$d" | tr '\n' ' ')" = "wfp=1 wfp=0 wfp=0 " ]
	check "$p: no SO_MARK message, no MSG_CTRUNC" bash -c "! grep -qE '^dgram.*(ctrunc=1|mark=1)' '$WORK/$p.log'"
	check "$p: no datagram of an unknown flow" bash -c "! grep -q '^unknown' '$WORK/$p.log'"
done

# --- 3. setsockopt(IP_WFP_REDIRECT_*, FALSE) turns the messages off ---------------
# A third proxy, last in the chain, sets both options FALSE on its listening
# socket (IPPROTO_IP): its datagrams of the flow come without the messages,
# so it has no original destination and forwards nothing.
bg wc "$WSUDP" --name wc --listen 127.0.0.1:16103 --log "$WORK/wc.log" --ready "$WORK/wc.ready" --wfp-off
wait_file "$WORK/wc.ready" || fail "proxy wc did not start"
crd service add WC --proto udp --proxy 127.0.0.1:16103 --weight 5 --owner-cgroup wc >/dev/null
bg app "$TOOLS/crd-udpecho" send --count 1 127.0.0.1:7001 >"$WORK/echo3.out"
wait $BG_PID
wait_lines "$WORK/wc.log" 2
check "wc (messages off) got the flow's datagram: no WFP messages (wfp=0)" \
	grep -q '^dgram proxy=wc .* wfp=0 ' "$WORK/wc.log"
check "wc: so no original destination: the datagram of an unknown flow, nothing forwarded" \
	bash -c "grep -q '^unknown proxy=wc' '$WORK/wc.log' && ! grep -q '^wfp' '$WORK/wc.log'"
check "wa, the same proxy with the messages on, got this flow's messages" \
	[ "$(grep -c '^wfp.*orig=127.0.0.1:7001' "$WORK/wa.log")" = 2 ]
