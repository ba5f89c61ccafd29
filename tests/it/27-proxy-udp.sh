#!/usr/bin/env bash
# 27-proxy-udp: connredir-proxy relays redirected UDP (--udp-listen).
# 1. dig asks a local DNS server (dnsmasq) through two connredir-proxy
#    instances serving two UDP services of different weights: each logs the
#    query once (proto udp, chain in weight order, dns name, type and answer
#    code); the answer is right and comes from the server's own address;
# 2. block=dns: rules: a blocked name is answered REFUSED by the first
#    proxy and never reaches dnsmasq (or the second proxy); other names
#    resolve;
# 3. the flows end after --udp-idle-timeout, are logged then, and once the
#    proxies have closed their per-flow sockets the UDP maps are back to
#    their earlier sizes (the proxies still running).
. "$(dirname "$0")/../lib.sh"

PROXY=$BUILD/connredir-proxy
[ -x "$PROXY" ] || { fail "no $PROXY (run make)"; exit; }
command -v dnsmasq >/dev/null && command -v dig >/dev/null || { fail "dnsmasq and dig are needed"; exit; }

udp_maps() { crd status --json | python3 -c '
import json, sys
m = json.load(sys.stdin)["maps"]
print(" ".join(str(m.get(k, "?")) for k in ("crd_uflows_v3", "crd_urep_v3")))'; }
# qline LOG NAME: the log line of the query for NAME.
qline() { grep "\"dns_qname\":\"$2\"" "$WORK/$1.log" | head -n1; }

crd attach "$TEST_CG" >/dev/null || { fail "attach"; exit; }
before=$(udp_maps)

dnsmasq --keep-in-foreground --no-resolv --no-hosts --bind-interfaces \
	--listen-address=127.0.0.1 --port=5353 --user=root --pid-file= \
	--address=/example.test/192.0.2.7 --address=/example.org/192.0.2.8 \
	--log-queries --log-facility="$WORK/dnsmasq.log" &
PIDS+=($!)

crd service add UA --proto udp --proxy 127.0.0.1:16001 --weight 20 --owner-cgroup ua >/dev/null
crd service add UB --proto udp --proxy 127.0.0.1:16002 --weight 10 --owner-cgroup ub >/dev/null
UA=$(id_of UA) UB=$(id_of UB)
IDLE=1.5
start_cproxy ua pa --service UA --instance t27 --udp-listen 127.0.0.1:16001 \
	--udp-idle-timeout $IDLE --inspect log,dns,block=dns:ads.example,block=dns:*.ads.example || exit
start_cproxy ub pb --service UB --udp-listen 127.0.0.1:16002 --udp-idle-timeout $IDLE \
	--inspect dns,log || exit
sleep 0.3   # dnsmasq listening

ask() { # OUT NAME: dig in cgroup app, sets dig_pid
	bg app dig +tries=1 +time=3 @127.0.0.1 -p 5353 "$2" A >"$WORK/$1.out" 2>&1
	dig_pid=$BG_PID
	wait "$dig_pid"
}

# --- 1. dig through the chain ------------------------------------------------
ask d1 www.example.test
d1_pid=$dig_pid
check "dig got the answer 192.0.2.7 through two connredir-proxy instances" \
	grep -qE '^www\.example\.test\.[[:space:]]+[0-9]+[[:space:]]+IN[[:space:]]+A[[:space:]]+192\.0\.2\.7' "$WORK/d1.out"
check "the answer came from the server's own address (127.0.0.1#5353)" \
	grep -q ';; SERVER: 127.0.0.1#5353' "$WORK/d1.out"
check "dig saw no reply from an unexpected source" bash -c "! grep -qi 'unexpected source' '$WORK/d1.out'"

# --- 2. block=dns: --------------------------------------------------------------
ask d2 ads.example
check "ads.example: dig gets status REFUSED from the proxy" grep -q 'status: REFUSED' "$WORK/d2.out"
check "ads.example: the REFUSED answer came as from 127.0.0.1#5353" \
	grep -q ';; SERVER: 127.0.0.1#5353' "$WORK/d2.out"
check "ads.example: no reply from an unexpected source" bash -c "! grep -qi 'unexpected source' '$WORK/d2.out'"
ask d3 tracker.ads.example
check "tracker.ads.example (block=dns:*.ads.example): status REFUSED" grep -q 'status: REFUSED' "$WORK/d3.out"
ask d4 www.example.org
check "www.example.org is not blocked: NOERROR, 192.0.2.8" \
	bash -c "grep -q 'status: NOERROR' '$WORK/d4.out' && grep -qE 'IN[[:space:]]+A[[:space:]]+192\.0\.2\.8' '$WORK/d4.out'"

during=$(udp_maps)
check "while the flows are open the kernel tracks them ($before -> $during)" \
	[ "$(cut -d' ' -f1 <<<"$during")" -gt "$(cut -d' ' -f1 <<<"$before")" ]

# --- 3. idle time-out, logs, maps ------------------------------------------------
wait_lines "$WORK/pa.log" 4 10
wait_lines "$WORK/pb.log" 2 10
la=$(qline pa www.example.test) lb=$(qline pb www.example.test)
check "UA logged www.example.test once, first (chain=$UA)" \
	[ "$(grep -c '"dns_qname":"www.example.test"' "$WORK/pa.log")/$(jf "$la" chain)" = "1/$UA" ]
check "UB logged it once, second (chain=$UA,$UB)" \
	[ "$(grep -c '"dns_qname":"www.example.test"' "$WORK/pb.log")/$(jf "$lb" chain)" = "1/$UA,$UB" ]
for l in "$la" "$lb"; do
	check "$(jf "$l" service): proto udp, A, NOERROR, to 127.0.0.1:5353, app dig ($d1_pid), idle-timeout" \
		[ "$(jf "$l" proto) $(jf "$l" dns_qtype) $(jf "$l" dns_rcode) $(jf "$l" orig_dst) $(jf "$l" app_comm) $(jf "$l" app_pid) $(jf "$l" end_reason)" = \
		  "udp A NOERROR 127.0.0.1:5353 dig $d1_pid idle-timeout" ]
done
check "UA: the answer's bytes were counted both ways" \
	[ "$(jf "$la" bytes_up)" -gt 0 -a "$(jf "$la" bytes_down)" -gt 0 ]
lx=$(qline pa ads.example)
check "UA logged ads.example as blocked by block=dns:ads.example, nothing sent on" \
	[ "$(jf "$lx" verdict)/$(jf "$lx" reason)/$(jf "$lx" bytes_up)" = "block/dns name ads.example matches block=dns:ads.example/0" ]
lx=$(qline pa tracker.ads.example)
check "UA logged tracker.ads.example as blocked by block=dns:*.ads.example" \
	[ "$(jf "$lx" verdict)/$(jf "$lx" reason)" = "block/dns name tracker.ads.example matches block=dns:*.ads.example" ]
check "the blocked names never reached UB or dnsmasq" \
	bash -c "! grep -q 'ads\.example' '$WORK/pb.log' '$WORK/dnsmasq.log'"
check "dnsmasq answered www.example.test and www.example.org once each" \
	[ "$(grep -c 'query\[A\] www.example.test' "$WORK/dnsmasq.log")/$(grep -c 'query\[A\] www.example.org' "$WORK/dnsmasq.log")" = 1/1 ]
check "every log line is JSON" python3 -c 'import json,sys
for f in sys.argv[1:]:
    for l in open(f): json.loads(l)' "$WORK/pa.log" "$WORK/pb.log"
after=""
for _ in $(seq 1 50); do
	after=$(udp_maps)
	[ "$after" = "$before" ] && break
	sleep 0.1
done
check "after the idle time-out the UDP maps are back to their sizes ($before -> $after)" \
	[ "$after" = "$before" ]
check "the proxies are still running" kill -0 "$PX_PID"
