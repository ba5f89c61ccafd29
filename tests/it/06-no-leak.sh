#!/usr/bin/env bash
# 06-no-leak: no per-flow state outlives its sockets. After 10,000 redirected
# connections through a two-proxy chain, and connections whose proxy is down
# (refused), have closed, every per-flow map holds what it held before.
. "$(dirname "$0")/../lib.sh"

crd attach "$TEST_CG" >/dev/null || { fail "attach"; exit; }
start_origin 127.0.0.1:8080
start_proxy pa 127.0.0.1:15001
start_proxy pb 127.0.0.1:15002
crd service add A --proxy 127.0.0.1:15001 --weight 2 --owner-cgroup pa >/dev/null
crd service add B --proxy 127.0.0.1:15002 --weight 1 --owner-cgroup pb >/dev/null

before=$(map_counts)
check "maps readable before (pend flows sk conn = $before)" [ -n "$before" ]

bg app "$TOOLS/crd-client" --count 10000 --bytes 32 127.0.0.1 8080 >"$WORK/client.out" 2>&1
wait $BG_PID
check "10,000 connections through the chain succeeded" \
	grep -q "^summary ok=10000 fail=0" "$WORK/client.out"
check "A's proxy saw 10,000 flows" wait_lines "$WORK/pa.log" 10000 20
check "B's proxy saw 10,000 flows" wait_lines "$WORK/pb.log" 10000 20

# A service whose proxy is not running (--fail closed, the default):
# connections are refused at once.
crd service add down --proxy 127.0.0.1:15099 --weight 5 --owner-cgroup pdown --dport 9090 >/dev/null
bg app "$TOOLS/crd-client" --count 100 --bytes 1 127.0.0.1 9090 >"$WORK/refused.out" 2>&1
wait $BG_PID
check "connections to a down proxy fail (refused)" grep -q "^summary ok=0 fail=100" "$WORK/refused.out"

# While 100 flows are held open the maps do hold them (so the check below
# can fail): two accepted sockets per flow in crd_flows_v3.
bg app "$TOOLS/crd-client" --parallel 100 --hold 3 --bytes 8 127.0.0.1 8080 >"$WORK/held.out" 2>&1
held=$BG_PID
during=""
for _ in $(seq 1 50); do
	during=$(map_counts)
	[ "$(echo "$during" | awk '{ print $2 }')" -ge 200 ] 2>/dev/null && break
	sleep 0.1
done
check "while 100 flows are open, crd_flows_v3 holds 200 entries ($during)" \
	[ "$(echo "$during" | awk '{ print $2 }')" = 200 ]
wait $held
check "the 100 held flows completed" grep -q "^summary ok=100 fail=0" "$WORK/held.out"

after=""
for _ in $(seq 1 100); do
	after=$(map_counts)
	[ "$after" = "$before" ] && break
	sleep 0.1
done
check "every per-flow map is back to its size before (before: $before, after: $after)" \
	[ "$after" = "$before" ]
r=$(stat_counter redirected)
check "redirected counter counts every redirection (2 x 10,100 = $r)" [ "$r" = 20200 ]
r=$(stat_counter fail_closed)
check "fail_closed counts the 100 refused ($r)" [ "$r" = 100 ]
