#!/usr/bin/env bash
# 01-chain: curl and a C client reach a local origin through three proxies
# registered as services of distinct weights. Each proxy sees the flow once,
# in weight order; the origin gets the bytes unmodified; at each hop the
# state and the context (original destination, client pid and command) are
# right.
. "$(dirname "$0")/../lib.sh"

crd attach "$TEST_CG" >/dev/null || { fail "attach"; exit; }
start_origin 127.0.0.1:8080
start_proxy pa 127.0.0.1:15001
start_proxy pb 127.0.0.1:15002
start_proxy pc 127.0.0.1:15003
# Weights on purpose not in name or port order: b > c > a.
crd service add A --proxy 127.0.0.1:15001 --weight 100 --owner-cgroup pa >/dev/null
crd service add B --proxy 127.0.0.1:15002 --weight 300 --owner-cgroup pb >/dev/null
crd service add C --proxy 127.0.0.1:15003 --weight 200 --owner-cgroup pc >/dev/null
A=$(id_of A) B=$(id_of B) C=$(id_of C)
[ -n "$A" ] && [ -n "$B" ] && [ -n "$C" ] || fail "service ids A=$A B=$B C=$C"

# --- curl ---------------------------------------------------------------
bg app curl -s -o "$WORK/curl.out" --max-time 10 http://127.0.0.1:8080/hello
curl_pid=$BG_PID
wait "$curl_pid"
rc=$?
check "curl exits 0 through the chain (rc=$rc)" [ "$rc" = 0 ]
check "curl got the origin's answer" grep -q "origin ok local=127.0.0.1:8080" "$WORK/curl.out"

for p in pb pc pa; do wait_lines "$WORK/$p.log" 1; done
lb=$(head -n1 "$WORK/pb.log") lc=$(head -n1 "$WORK/pc.log") la=$(head -n1 "$WORK/pa.log")
check "B (weight 300) first: chain=$B" [ "$(field "$lb" chain)" = "$B" ]
check "C (weight 200) second: chain=$B,$C" [ "$(field "$lc" chain)" = "$B,$C" ]
check "A (weight 100) last: chain=$B,$C,$A" [ "$(field "$la" chain)" = "$B,$C,$A" ]
for l in "$lb" "$lc" "$la"; do
	p=$(field "$l" proxy)
	check "$p: state REDIRECTED_BY_SELF" [ "$(field "$l" state)" = REDIRECTED_BY_SELF ]
	check "$p: original destination 127.0.0.1:8080" [ "$(field "$l" orig)" = 127.0.0.1:8080 ]
	check "$p: original app pid $curl_pid" [ "$(field "$l" app_pid)" = "$curl_pid" ]
	check "$p: original app command curl" [ "$(field "$l" app_comm)" = curl ]
	check "$p: records set onward" [ "$(field "$l" set)" = ok ]
done
check "B's context is hop 0 of its own service" [ "$(field "$lb" hop)/$(field "$lb" service)" = "0/$B" ]
check "A's context is hop 2 of its own service" [ "$(field "$la" hop)/$(field "$la" service)" = "2/$A" ]
check "one flow id along the chain" [ "$(field "$lb" flow)" = "$(field "$la" flow)" ]
check "each proxy saw the curl flow exactly once" \
	[ "$(cat "$WORK/pa.log" "$WORK/pb.log" "$WORK/pc.log" | wc -l)" = 3 ]

# --- the C client: bytes unmodified, several connections -------------------
bg app "$TOOLS/crd-client" --count 5 --bytes 100000 127.0.0.1 8080
client_pid=$BG_PID
wait "$client_pid"
rc=$?
check "crd-client: 5 x 100000 bytes echoed unmodified through the chain (rc=$rc)" [ "$rc" = 0 ]
for p in pa pb pc; do wait_lines "$WORK/$p.log" 6; done
check "each proxy saw each client flow once (6 lines each)" \
	[ "$(wc -l <"$WORK/pa.log")/$(wc -l <"$WORK/pb.log")/$(wc -l <"$WORK/pc.log")" = 6/6/6 ]
check "client flows: app command crd-client at the last hop" \
	[ "$(tail -n 5 "$WORK/pa.log" | grep -c "app_comm=crd-client app_uid=0")" = 5 ]
check "client flows: app pid $client_pid at the last hop" \
	[ "$(tail -n 5 "$WORK/pa.log" | grep -c "app_pid=$client_pid ")" = 5 ]
wait_lines "$WORK/origin.log" 6
check "origin received every byte of each client flow" \
	[ "$(grep -c ' in=100000 ' "$WORK/origin.log")" = 5 ]
