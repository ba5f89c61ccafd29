#!/usr/bin/env bash
# 02-no-loop: a proxy that sets no records is never handed its own flow back
# (its connections count as BY_SELF for its service); with ten matching
# services and a hop limit of 8, a flow visits exactly the first eight in
# weight order and the hop guard's counter rises.
. "$(dirname "$0")/../lib.sh"

crd attach --hop-limit 8 "$TEST_CG" >/dev/null || { fail "attach"; exit; }
start_origin 127.0.0.1:8080

# --- one service whose proxy sets no records ------------------------------
PROXY_OPTS=--no-records start_proxy lone 127.0.0.1:14999
crd service add lone --proxy 127.0.0.1:14999 --owner-cgroup lone >/dev/null
bg app curl -s -o "$WORK/curl1.out" --max-time 10 http://127.0.0.1:8080/
wait $BG_PID
check "curl through a records-less proxy works (rc=$?)" grep -q "origin ok" "$WORK/curl1.out"
sleep 0.2
check "the records-less proxy saw the flow exactly once" [ "$(wc -l <"$WORK/lone.log")" = 1 ]
check "it did not set records" [ "$(field "$(cat "$WORK/lone.log")" set)" = skipped ]
crd service del lone >/dev/null

# --- two --implicit services whose proxies both set no records -------------------
# Each records-less proxy continues from its own service's place in the weight
# order: the flow visits the heavier, then the lighter, and never loops.
PROXY_OPTS=--no-records start_proxy nr1 127.0.0.1:14997
PROXY_OPTS=--no-records start_proxy nr2 127.0.0.1:14998
crd service add nr1 --proxy 127.0.0.1:14997 --weight 20 --owner-cgroup nr1 --implicit >/dev/null
crd service add nr2 --proxy 127.0.0.1:14998 --weight 10 --owner-cgroup nr2 --implicit >/dev/null
r0=$(stat_counter redirected)
bg app curl -s -o "$WORK/curl3.out" --max-time 10 http://127.0.0.1:8080/
wait $BG_PID
check "curl through two records-less proxies works" grep -q "origin ok" "$WORK/curl3.out"
sleep 0.2
check "each records-less proxy saw the flow exactly once (no loop)" \
	[ "$(wc -l <"$WORK/nr1.log")/$(wc -l <"$WORK/nr2.log")" = 1/1 ]
check "exactly two redirections were made" [ $(( $(stat_counter redirected) - r0 )) = 2 ]
crd service del nr1 >/dev/null
crd service del nr2 >/dev/null

# --- a heavier records-less proxy before a lighter one that sets records --------
# The records-less proxy's own service becomes the first hop of what it hands
# on, so the lighter proxy's records show it and the heavier never takes the
# flow again.
PROXY_OPTS=--no-records start_proxy hv 127.0.0.1:14995
start_proxy lt 127.0.0.1:14996
crd service add hv --proxy 127.0.0.1:14995 --weight 20 --owner-cgroup hv >/dev/null
crd service add lt --proxy 127.0.0.1:14996 --weight 10 --owner-cgroup lt >/dev/null
HV=$(crd service list --json | tr '{' '\n' | sed -n 's/"id":\([0-9]*\),"name":"hv".*/\1/p')
LT=$(crd service list --json | tr '{' '\n' | sed -n 's/"id":\([0-9]*\),"name":"lt".*/\1/p')
r0=$(stat_counter redirected)
bg app curl -s -o "$WORK/curl4.out" --max-time 10 http://127.0.0.1:8080/
wait $BG_PID
check "curl through a records-less heavy and a records-setting light proxy works" \
	grep -q "origin ok" "$WORK/curl4.out"
sleep 0.2
check "each saw the flow exactly once (no loop)" \
	[ "$(wc -l <"$WORK/hv.log")/$(wc -l <"$WORK/lt.log")" = 1/1 ]
check "the light proxy's records show the heavy service first (chain=$HV,$LT)" \
	[ "$(field "$(cat "$WORK/lt.log")" chain)" = "$HV,$LT" ]
check "exactly two redirections were made" [ $(( $(stat_counter redirected) - r0 )) = 2 ]
crd service del hv >/dev/null
crd service del lt >/dev/null

# --- ten services, hop limit 8 ---------------------------------------------
ids=()
for i in 0 1 2 3 4 5 6 7 8 9; do
	start_proxy "p$i" "127.0.0.1:$((15000 + i))"
	# weights 1000, 900, ..., 100: p0 heaviest
	crd service add "s$i" --proxy "127.0.0.1:$((15000 + i))" --weight $((1000 - 100 * i)) \
		--owner-cgroup "p$i" >/dev/null
	ids+=("$(crd service list --json | tr '{' '\n' | sed -n "s/\"id\":\([0-9]*\),\"name\":\"s$i\".*/\1/p")")
done
trips0=$(stat_counter hop_guard_trips)
bg app curl -s -o "$WORK/curl2.out" --max-time 10 http://127.0.0.1:8080/
wait $BG_PID
check "curl through eight proxies works" grep -q "origin ok" "$WORK/curl2.out"
sleep 0.3
want=""
for i in 0 1 2 3 4 5 6 7; do
	want="${want:+$want,}${ids[$i]}"
	l=$(cat "$WORK/p$i.log" 2>/dev/null)
	check "p$i saw the flow once, as hop $i, chain=$want" \
		[ "$(wc -l <"$WORK/p$i.log")/$(field "$l" chain)" = "1/$want" ]
done
for i in 8 9; do
	check "p$i (beyond the hop limit) never saw it" [ ! -s "$WORK/p$i.log" ]
done
trips1=$(stat_counter hop_guard_trips)
check "hop guard counter rose by one ($trips0 -> $trips1)" [ "$trips1" = $((trips0 + 1)) ]
check "status shows the trip for s8, the service refused" \
	bash -c "'$CRD' --instance $INST status | grep -E '^[0-9]+ +s8 ' | awk '{ exit \$NF != 1 }'"
