#!/usr/bin/env bash
# 10-observe: flows, events and stats show what the kernel does.
# 1. three flows held open through a two-service chain: `flows --json`
#    lists exactly those three, with the right chain and application;
# 2. each decision kind produces its event, with its fields, in order;
# 3. per-service counters match the connections made, by service and state;
# 4. a flood of 100,000 connections with a slow events reader: no connection
#    is lost, and every event is either delivered or counted as lost.
. "$(dirname "$0")/../lib.sh"

crd attach "$TEST_CG" >/dev/null || { fail "attach"; exit; }
start_origin 127.0.0.1:8080 127.0.0.1:8081
mkdir -p "$WORK/blobs"
PROXY_OPTS="--blob-dir $WORK/blobs" start_proxy pa 127.0.0.1:15001
start_proxy pb 127.0.0.1:15002
crd service add A --proxy 127.0.0.1:15001 --weight 20 --owner-cgroup pa --dport 8080 >/dev/null
crd service add B --proxy 127.0.0.1:15002 --weight 10 --owner-cgroup pb --dport 8080 >/dev/null
svc_id() { crd service list --json | tr '{' '\n' | sed -n "s/\"id\":\([0-9]*\),\"name\":\"$1\".*/\1/p"; }
A=$(svc_id A) B=$(svc_id B)

# --- 1. flows ------------------------------------------------------------------
bg app "$TOOLS/crd-client" --parallel 3 --hold 3 --bytes 10 127.0.0.1 8080 >"$WORK/held.out"
held=$BG_PID
wait_lines "$WORK/pb.log" 3
crd flows --json >"$WORK/flows.json"
check "flows --json is valid JSON" python3 -m json.tool "$WORK/flows.json" >/dev/null
n=$(python3 -c '
import json, sys
flows = json.load(open(sys.argv[1]))
ok = [f for f in flows if [c["name"] for c in f["chain"]] == ["A", "B"]
      and f["app_comm"] == "crd-client" and f["app_pid"] == int(sys.argv[2])
      and f["orig_dst"] == "127.0.0.1:8080" and f["hop"] == 2 and f["accepted"] == 2]
print(len(flows), len(ok))' "$WORK/flows.json" "$held")
check "flows lists exactly the 3 held flows, each chain A>B, app crd-client/$held (got: total ok = $n)" [ "$n" = "3 3" ]
crd flows >"$WORK/flows.txt"
check "flows (table) shows a header and 3 rows with chain A>B" \
	[ "$(grep -c ' A>B ' "$WORK/flows.txt")/$(head -n1 "$WORK/flows.txt" | grep -c CHAIN)" = 3/1 ]
wait $held
check "the held flows completed" [ $? = 0 ]

# --- 2. events -----------------------------------------------------------------
bg events "$CRD" --instance "$INST" events --json --follow >"$WORK/events.json"
evp=$BG_PID
sleep 0.5   # registered
client() { bg app "$TOOLS/crd-client" --bytes 10 --timeout 3 "$@" >/dev/null 2>&1; wait $BG_PID; }
client 127.0.0.1 8080    # redirected A; at A's proxy redirected B; at B's passed (A: PREVIOUSLY)
crd set --hop-limit 1
client 127.0.0.1 8080    # redirected A; at A's proxy, hop guard for B
crd set --hop-limit 8
crd service add C --proxy 127.0.0.1:15003 --weight 30 --owner-cgroup pc --dport 8080 --fail open >/dev/null
C=$(svc_id C)
client 127.0.0.1 8080    # at each of the three connects C's proxy is down first
crd service del C >/dev/null
crd service add D --proxy 127.0.0.1:15004 --weight 30 --owner-cgroup pd --dport 8081 >/dev/null
D=$(svc_id D)
client 127.0.0.1 8081                                    # fail-closed D
blob=$(ls "$WORK/blobs"/*.blob | head -n1)
in_cg other "$TOOLS/crd-setrec" "$blob" >/dev/null        # set-refused (EACCES, stale)
sleep 0.5
kill -INT $evp
wait $evp
check "events exits 0 on SIGINT" [ $? = 0 ]
check "events --json: every line is JSON" python3 -c '
import json, sys
[json.loads(l) for l in open(sys.argv[1])]' "$WORK/events.json"
seq=$(python3 -c '
import json, sys
for l in open(sys.argv[1]):
    e = json.loads(l)
    print("%s:%s:%s" % (e["event"], e["service"], e["state"]))' "$WORK/events.json" | tr '\n' ' ')
want="redirected:A:NOT_REDIRECTED redirected:B:REDIRECTED_BY_OTHER passed:A:PREVIOUSLY_REDIRECTED_BY_SELF "
want+="redirected:A:NOT_REDIRECTED hop-guard:B:REDIRECTED_BY_OTHER "
want+="proxy-down:C:NOT_REDIRECTED redirected:A:NOT_REDIRECTED proxy-down:C:REDIRECTED_BY_OTHER redirected:B:REDIRECTED_BY_OTHER "
want+="proxy-down:C:REDIRECTED_BY_OTHER passed:A:PREVIOUSLY_REDIRECTED_BY_SELF "
want+="fail-closed:D:NOT_REDIRECTED set-refused:-:NOT_REDIRECTED "
check "the decisions, in order: $seq" [ "$seq" = "$want" ]
first=$(head -n1 "$WORK/events.json")
check "redirected event carries app, uid, destination and flow id" \
	python3 -c 'import json,sys; e=json.loads(sys.argv[1]); sys.exit(not (e["app_comm"]=="crd-client" and e["app_uid"]==0 and e["dst"]=="127.0.0.1:8080" and e["proto"]=="tcp" and e["service_id"]=='"$A"'))' "$first"
l=$(grep '"event":"redirected","service_id":'"$B" "$WORK/events.json" | head -n1)
check "B's redirected event shows the chain so far [$A]" grep -q "\"chain\":\[$A\]" <<<"$l"
l=$(grep '"fail-closed"' "$WORK/events.json")
check "fail-closed event names ECONNREFUSED and the destination" \
	bash -c 'grep -q "\"error\":\"ECONNREFUSED\"" <<<"$1" && grep -q "127.0.0.1:8081" <<<"$1"' _ "$l"
l=$(grep '"set-refused"' "$WORK/events.json")
check "set-refused event names the caller (crd-setrec) and why (EINVAL: stale blob)" \
	bash -c 'grep -q "\"app_comm\":\"crd-setrec\"" <<<"$1" && grep -q "\"error\":\"EINVAL\"" <<<"$1"' _ "$l"

# --- 3. counters ---------------------------------------------------------------
crd service del D >/dev/null
crd stats --json >"$WORK/stats0.json"
bg app "$TOOLS/crd-client" --count 25 --bytes 10 127.0.0.1 8080 >/dev/null 2>&1
wait $BG_PID
crd stats --json >"$WORK/stats1.json"
d=$(python3 -c '
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
def svc(s, n): return [x for x in s["services"] if x["name"] == n][0]
out = []
for n in ("A", "B"):
    x, y = svc(a, n), svc(b, n)
    out.append("%s:%d/%d/%d" % (n, y["redirected"] - x["redirected"],
        y["passed"]["by_self"] - x["passed"]["by_self"],
        y["passed"]["previously_by_self"] - x["passed"]["previously_by_self"]))
out.append("total:%d" % (b["totals"]["redirected"] - a["totals"]["redirected"]))
print(" ".join(out))' "$WORK/stats0.json" "$WORK/stats1.json")
check "25 flows: A redirected 25, passed its own 25 and B's 25; B 25/25/0 ($d)" \
	[ "$d" = "A:25/25/25 B:25/25/0 total:50" ]

# --- 4. flood with a slow reader --------------------------------------------------
crd service del B >/dev/null
lost0=$(stat_counter events_lost)
# The consumer reads nothing until the flood is over: the pipe and the ring
# buffer fill up, and the reader falls behind.
bg events "$CRD" --instance "$INST" events --json --follow \
	> >(while [ ! -e "$WORK/go" ]; do sleep 0.1; done; cat >"$WORK/flood.json")
evp=$BG_PID
sleep 0.5
bg app "$TOOLS/crd-client" --count 100000 --bytes 1 127.0.0.1 8080 >"$WORK/flood.out" 2>&1
wait $BG_PID
check "100,000 connections with a slow events reader: none lost" \
	grep -q "^summary ok=100000 fail=0" "$WORK/flood.out"
touch "$WORK/go"
sleep 1
kill -INT $evp
wait $evp
for _ in $(seq 1 100); do   # the consumer finishes after the reader exits
	tail -n1 "$WORK/flood.json" 2>/dev/null | grep -q '"lost"' && break
	sleep 0.1
done
got=$(grep -c '"event":"redirected"\|"event":"passed"' "$WORK/flood.json")
rep=$(python3 -c '
import json, sys
print(sum(json.loads(l).get("count", 0) for l in open(sys.argv[1]) if "\"lost\"" in l))' "$WORK/flood.json")
kern=$(( $(stat_counter events_lost) - lost0 ))
check "events were lost and reported ($rep reported, kernel counted $kern)" \
	[ "$rep" -gt 0 -a "$rep" = "$kern" ]
check "delivered + lost = the 200,000 decisions made ($got + $rep)" [ $((got + rep)) = 200000 ]
