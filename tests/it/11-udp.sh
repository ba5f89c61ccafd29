#!/usr/bin/env bash
# 11-udp: UDP redirection with records and context.
# 1. dig asks a local DNS server (dnsmasq) through a chain of two UDP
#    proxies: each logs the query once, in weight order; the answer is right
#    and comes from the server's own address;
# 2. one unconnected socket sends to three destinations: each reply is
#    attributed to its own destination;
# 3. connected UDP, IPv6 and IPv4-mapped destinations are redirected;
# 4. after the sockets close every UDP map is back to its earlier size.
. "$(dirname "$0")/../lib.sh"

crd attach "$TEST_CG" >/dev/null || { fail "attach"; exit; }
udp_maps() { crd status --json | python3 -c '
import json, sys
m = json.load(sys.stdin)["maps"]
print(" ".join(str(m.get(k, "?")) for k in ("crd_uflows_v3", "crd_ukey_v3", "crd_urep_v3", "crd_usk_v3")))'; }
before=$(udp_maps)

dnsmasq --keep-in-foreground --no-resolv --no-hosts --bind-interfaces \
	--listen-address=127.0.0.1 --port=5353 --user=root --pid-file= \
	--address=/example.test/192.0.2.7 --log-queries --log-facility="$WORK/dnsmasq.log" &
PIDS+=($!)
"$TOOLS/crd-udpecho" serve --ready "$WORK/echo.ready" 127.0.0.1:7001 127.0.0.1:7002 \
	127.0.0.1:7003 '[::1]:7004' >/dev/null 2>&1 &
PIDS+=($!)
wait_file "$WORK/echo.ready" || fail "udp echo server did not start"

PROXIES=()
udp_proxy() { # CGROUP LISTEN [LOGNAME]
	local log=${3:-$1}
	bg "$1" "$TOOLS/crd-udpproxy" --name "$1" --listen "$2" --log "$WORK/$log.log" \
		--ready "$WORK/$log.ready"
	PROXIES+=("$BG_PID")
	wait_file "$WORK/$log.ready" || fail "udp proxy $log did not start"
}
udp_proxy ua 127.0.0.1:16001
udp_proxy ua '[::1]:16001' ua6
udp_proxy ub 127.0.0.1:16002
crd service add UA --proto udp --proxy 127.0.0.1:16001 --proxy '[::1]:16001' --weight 20 --owner-cgroup ua >/dev/null
# UB has no IPv6 proxy: fail open skips it for IPv6 flows (fail closed
# would refuse them: tests/it/18-hostile.sh).
crd service add UB --proto udp --proxy 127.0.0.1:16002 --weight 10 --owner-cgroup ub --fail open >/dev/null
UA=$(crd service list --json | tr '{' '\n' | sed -n 's/"id":\([0-9]*\),"name":"UA".*/\1/p')
UB=$(crd service list --json | tr '{' '\n' | sed -n 's/"id":\([0-9]*\),"name":"UB".*/\1/p')
sleep 0.3   # dnsmasq listening

# --- 1. dig through the chain --------------------------------------------------
bg app dig +tries=1 +time=3 @127.0.0.1 -p 5353 www.example.test A >"$WORK/dig.out" 2>&1
dig_pid=$BG_PID
wait $dig_pid
check "dig got the answer 192.0.2.7 through two UDP proxies" \
	grep -qE '^www\.example\.test\.[[:space:]]+[0-9]+[[:space:]]+IN[[:space:]]+A[[:space:]]+192\.0\.2\.7' "$WORK/dig.out"
check "the answer came from the server's own address (127.0.0.1#5353)" \
	grep -q ';; SERVER: 127.0.0.1#5353' "$WORK/dig.out"
check "dig saw no reply from an unexpected source" bash -c "! grep -qi 'unexpected source' '$WORK/dig.out'"
wait_lines "$WORK/ua.log" 1
wait_lines "$WORK/ub.log" 1
la=$(grep '^hop' "$WORK/ua.log" | head -n1) lb=$(grep '^hop' "$WORK/ub.log" | head -n1)
check "UA (weight 20) logged the query once, first (chain=$UA)" \
	[ "$(grep -c '^hop' "$WORK/ua.log")/$(field "$la" chain)" = "1/$UA" ]
check "UB logged it once, second (chain=$UA,$UB)" \
	[ "$(grep -c '^hop' "$WORK/ub.log")/$(field "$lb" chain)" = "1/$UA,$UB" ]
for l in "$la" "$lb"; do
	p=$(field "$l" proxy)
	check "$p: state REDIRECTED_BY_SELF, destination 127.0.0.1:5353, app dig ($dig_pid)" \
		[ "$(field "$l" state) $(field "$l" orig) $(field "$l" app_comm) $(field "$l" app_pid)" = \
		  "REDIRECTED_BY_SELF 127.0.0.1:5353 dig $dig_pid" ]
done
check "UA set the records on its onward socket" [ "$(field "$la" set)" = ok ]
n=$(crd flows --json | python3 -c '
import json, sys
print(sum(1 for f in json.load(sys.stdin) if f["proto"] == "udp" and f["app_comm"] == "dig"
          and [c["name"] for c in f["chain"]] == ["UA", "UB"] and f["orig_dst"] == "127.0.0.1:5353"))')
check "flows lists the live UDP flow of dig with chain UA>UB" [ "$n" = 1 ]
check "dnsmasq answered exactly one query" [ "$(grep -c 'query\[A\] www.example.test' "$WORK/dnsmasq.log")" = 1 ]

# --- 2. one unconnected socket, three destinations -----------------------------
bg app "$TOOLS/crd-udpecho" send --count 2 127.0.0.1:7001 127.0.0.1:7002 127.0.0.1:7003 >"$WORK/multi.out"
wait $BG_PID
check "unconnected socket to three destinations: every reply from its own destination" \
	grep -q '^summary ok=6 bad=0 missing=0' "$WORK/multi.out"
n=$(grep -c 'orig=127.0.0.1:700[123]' "$WORK/ua.log")
check "UA saw three flows, one per destination ($n)" [ "$n" = 3 ]

# --- 3. connected, IPv6, IPv4-mapped ---------------------------------------------
bg app "$TOOLS/crd-udpecho" send --connect 127.0.0.1:7001 127.0.0.1:7002 >"$WORK/conn.out"
wait $BG_PID
check "connected UDP: replies from the destinations" grep -q '^summary ok=2 bad=0' "$WORK/conn.out"
check "connected UDP: getpeername shows the original destination" \
	grep -q 'from=127.0.0.1:7001 ok peer=127.0.0.1:7001' "$WORK/conn.out"
check "UA saw the two connected flows as connected" \
	[ "$(grep 'orig=127.0.0.1:700[12]' "$WORK/ua.log" | grep -c 'connected=1')" = 2 ]
bg app "$TOOLS/crd-udpecho" send '[::1]:7004' >"$WORK/v6.out"
wait $BG_PID
check "IPv6 destination through the proxy" grep -q '^summary ok=1 bad=0' "$WORK/v6.out"
check "UA's IPv6 listener saw the IPv6 flow" grep -q 'orig=\[::1\]:7004' "$WORK/ua6.log"
bg app "$TOOLS/crd-udpecho" send -6 127.0.0.1:7003 >"$WORK/mapped.out"
wait $BG_PID
check "IPv4-mapped destination from an AF_INET6 socket" grep -q '^summary ok=1 bad=0' "$WORK/mapped.out"
check "UA saw it as the IPv4 destination" [ "$(grep -c 'orig=127.0.0.1:7003' "$WORK/ua.log")" = 2 ]
check "no datagram reached a proxy without its flow handle" \
	bash -c "! grep -q unmarked '$WORK/ua.log' '$WORK/ub.log'"

# --- a handle is not a key to the application's identity ---------------------------
# The handle travels in every datagram's mark; the context it names goes only
# to the proxy of the service that has the flow now: not to a process of
# the subtree, nor to the proxy of an earlier hop.
: >"$WORK/ua.log"
: >"$WORK/ub.log"
(echo hello; sleep 3) | in_cg app socat -u - UDP:127.0.0.1:7001 &
hold_pid=$!
PIDS+=($hold_pid)
wait_lines "$WORK/ub.log" 1
h=$(field "$(grep '^hop' "$WORK/ub.log" | head -n1)" handle)
out=$(in_cg app "$TOOLS/crd-udpctx" "$h")
check "a process of the subtree asking for UB's flow $h's context gets EACCES ($out)" \
	[ "$out" = error=EACCES ]
out=$(in_cg ua "$TOOLS/crd-udpctx" "$h")
check "UA's proxy (the hop before) gets EACCES for it too ($out)" [ "$out" = error=EACCES ]
out=$(in_cg ub "$TOOLS/crd-udpctx" "$h")
check "UB's proxy identity gets it, with the application ($out)" \
	grep -q '^ok app_pid=[0-9]* app_comm=socat$' <<<"$out"
wait "$hold_pid"

# --- 4. state ends with the sockets ------------------------------------------------
during=$(udp_maps)
check "while the proxies hold their per-flow sockets, flows are tracked ($during)" \
	[ "$(cut -d' ' -f1 <<<"$during")" -gt 0 ]
for p in "${PROXIES[@]}"; do kill "$p"; wait "$p" 2>/dev/null; done
after=""
for _ in $(seq 1 50); do
	after=$(udp_maps)
	[ "$after" = "$before" ] && break
	sleep 0.1
done
check "every UDP map back to its size before once the sockets closed ($before -> $after)" \
	[ "$after" = "$before" ]
