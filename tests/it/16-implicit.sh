#!/usr/bin/env bash
# 16-implicit: unmodified transparent proxies (they only read SO_ORIGINAL_DST
# and connect onward) join a chain as --implicit services. Debian's redsocks
# chains with connredir-proxy in both orders; two unmodified proxies chain
# without a loop and a later service still sees the original application;
# many concurrent flows to one destination keep their own applications; a
# proxy that reads nothing (socat) is continued first in, first out; flows,
# events and apply show implicit continuations.
. "$(dirname "$0")/../lib.sh"

command -v redsocks >/dev/null || { fail "redsocks is not installed (scripts/install-deps.sh)"; exit; }
command -v socat >/dev/null || { fail "socat is not installed (scripts/install-deps.sh)"; exit; }
listening() { ss -Htln "sport = :$1" | grep -q .; }
# lines FILE: how many lines FILE has (0 if missing)
lines() { [ -f "$1" ] && wc -l <"$1" || echo 0; }

crd attach "$TEST_CG" >/dev/null || { fail "attach"; exit; }
start_origin 127.0.0.1:8080

# An upstream SOCKS5 server for redsocks, outside the attached cgroup.
"$TOOLS/crd-socks" --listen 127.0.0.1:1080 --log "$WORK/socks.log" --ready "$WORK/socks.ready" \
	2>"$WORK/socks.err" &
PIDS+=($!)
wait_file "$WORK/socks.ready" || fail "crd-socks did not start"

cat >"$WORK/rs.conf" <<EOF
base {
	log_debug = off;
	log_info = on;
	log = "file:$WORK/rs.log";
	daemon = off;
	redirector = iptables;
}
redsocks {
	local_ip = 127.0.0.1;
	local_port = 12345;
	ip = 127.0.0.1;
	port = 1080;
	type = socks5;
}
EOF
bg rs redsocks -c "$WORK/rs.conf"
RS_PID=$BG_PID
eventually listening 12345 || fail "redsocks did not listen: $(cat "$WORK/rs.log" 2>/dev/null)"
# redsocks logs one "accepted" line per connection it takes.
rs_accepted() { grep -c 'accepted' "$WORK/rs.log" 2>/dev/null || true; }

# --- redsocks (heavier) then connredir-proxy -----------------------------------
crd service add RS --proxy 127.0.0.1:12345 --weight 200 --owner-cgroup rs --dport 8080 --implicit \
	>/dev/null || fail "service add RS"
crd service add CP --proxy 127.0.0.1:15002 --weight 100 --owner-cgroup cp >/dev/null ||
	fail "service add CP"
RS=$(id_of RS) CP=$(id_of CP)
start_cproxy cp cp --service CP --listen 127.0.0.1:15002 --inspect log || exit
"$CRD" --instance "$INST" events --json --follow >"$WORK/ev1.json" 2>&1 &
EV_PID=$!
PIDS+=($EV_PID)
eventually bash -c "$CRD --instance $INST status --json | grep -q '\"events_reader_pid\":$EV_PID,'" ||
	fail "the events reader did not register"


bg app curl -s -o "$WORK/curl1.out" --max-time 10 http://127.0.0.1:8080/one
curl_pid=$BG_PID
wait "$curl_pid"
rc=$?
check "curl through redsocks then connredir-proxy works (rc=$rc)" grep -q "origin ok" "$WORK/curl1.out"
wait_lines "$WORK/cp.log" 1
l=$(head -n1 "$WORK/cp.log")
check "redsocks took the flow once ($(rs_accepted))" [ "$(rs_accepted)" = 1 ]
check "connredir-proxy saw it once ($(lines "$WORK/cp.log"))" [ "$(lines "$WORK/cp.log")" = 1 ]
check "the SOCKS server was asked once, for the original destination" \
	[ "$(grep -c 'connect dst=127.0.0.1:8080 .*result=ok' "$WORK/socks.log")" = 1 ]
check "connredir-proxy's records: chain [$RS,$CP] (got $(jf "$l" chain))" [ "$(jf "$l" chain)" = "$RS,$CP" ]
check "connredir-proxy sees the original application: curl, pid $curl_pid" \
	[ "$(jf "$l" app_comm)/$(jf "$l" app_pid)" = "curl/$curl_pid" ]
check "... and where redsocks sends it: its upstream 127.0.0.1:1080" [ "$(jf "$l" orig_dst)" = 127.0.0.1:1080 ]
kill "$EV_PID" 2>/dev/null
wait "$EV_PID" 2>/dev/null
ev=$(grep '"event":"redirected"' "$WORK/ev1.json" | grep "\"service_id\":$CP,")
check "events: the redirection to CP continued redsocks' flow implicitly (via $(jf "$ev" via))" \
	[ "$(jf "$ev" via)" = implicit-thread ]
check "events: ... with curl as the application" [ "$(jf "$ev" app_comm)" = curl ]
ev=$(grep '"event":"redirected"' "$WORK/ev1.json" | grep "\"service_id\":$RS,")
check "events: the first redirection is the application's (via $(jf "$ev" via))" [ "$(jf "$ev" via)" = app ]
crd service del RS >/dev/null
crd service del CP >/dev/null
kill "$PX_PID" 2>/dev/null
wait "$PX_PID" 2>/dev/null

# --- connredir-proxy (heavier) then redsocks -----------------------------------
: >"$WORK/rs.log"
: >"$WORK/socks.log"
# CP2 has no port filter: were redsocks' connection to its upstream not
# known as a continuation, CP2 would take the flow a second time.
crd service add CP2 --proxy 127.0.0.1:15003 --weight 200 --owner-cgroup cp2 >/dev/null
crd service add RS2 --proxy 127.0.0.1:12345 --weight 100 --owner-cgroup rs --dport 8080 --implicit >/dev/null
start_cproxy cp2 cp2 --service CP2 --listen 127.0.0.1:15003 --inspect log || exit
o0=$(lines "$WORK/origin.log")
bg app curl -s -o "$WORK/curl2.out" --max-time 10 http://127.0.0.1:8080/two
wait $BG_PID
rc=$?
check "curl through connredir-proxy then redsocks works (rc=$rc)" grep -q "origin ok" "$WORK/curl2.out"
wait_lines "$WORK/cp2.log" 1
check "connredir-proxy saw the flow once ($(lines "$WORK/cp2.log"))" [ "$(lines "$WORK/cp2.log")" = 1 ]
check "redsocks took it once ($(rs_accepted))" [ "$(rs_accepted)" = 1 ]
check "the SOCKS server was asked once, for the original destination" \
	[ "$(grep -c 'connect dst=127.0.0.1:8080 .*result=ok' "$WORK/socks.log")" = 1 ]
check "the origin saw one connection ($o0 before, $(lines "$WORK/origin.log") after)" \
	[ "$(lines "$WORK/origin.log")" = $((o0 + 1)) ]
crd service del CP2 >/dev/null
crd service del RS2 >/dev/null
kill "$PX_PID" 2>/dev/null
wait "$PX_PID" 2>/dev/null

# --- two unmodified proxies, then a records-reading one ---------------------------
bg o1 "$TOOLS/crd-origdst" --forward 127.0.0.1:14001 >"$WORK/o1.out" 2>&1
bg o2 "$TOOLS/crd-origdst" --forward 127.0.0.1:14002 >"$WORK/o2.out" 2>&1
eventually listening 14001 && eventually listening 14002 || fail "crd-origdst did not listen"
start_proxy tp 127.0.0.1:14003
crd service add O1 --proxy 127.0.0.1:14001 --weight 30 --owner-cgroup o1 --dport 8080 --implicit >/dev/null
crd service add O2 --proxy 127.0.0.1:14002 --weight 20 --owner-cgroup o2 --dport 8080 --implicit >/dev/null
# TP matches only applications in cgroup "app": it takes the flows only if
# the implicit continuations carried the original application over.
crd service add TP --proxy 127.0.0.1:14003 --weight 10 --owner-cgroup tp --dport 8080 --app-cgroup app >/dev/null
O1=$(id_of O1) O2=$(id_of O2) TP=$(id_of TP)
r0=$(stat_counter redirected)
bg app curl -s -o "$WORK/curl3.out" --max-time 10 http://127.0.0.1:8080/three
curl_pid=$BG_PID
wait "$curl_pid"
check "curl through two unmodified proxies and a records-reading one works" grep -q "origin ok" "$WORK/curl3.out"
wait_lines "$WORK/tp.log" 1
o1n=$(grep -c '^origdst' "$WORK/o1.out") o2n=$(grep -c '^origdst' "$WORK/o2.out")
check "each unmodified proxy saw the flow once, no loop ($o1n/$o2n)" [ "$o1n/$o2n" = 1/1 ]
check "exactly three redirections ($(( $(stat_counter redirected) - r0 )))" \
	[ $(( $(stat_counter redirected) - r0 )) = 3 ]
l=$(head -n1 "$WORK/tp.log")
check "the last proxy's records: chain $O1,$O2,$TP (got $(field "$l" chain))" \
	[ "$(field "$l" chain)" = "$O1,$O2,$TP" ]
check "the last proxy sees the original application: curl, pid $curl_pid" \
	[ "$(field "$l" app_comm)/$(field "$l" app_pid)" = "curl/$curl_pid" ]
check "... and the original destination 127.0.0.1:8080" [ "$(field "$l" orig)" = 127.0.0.1:8080 ]

# flows: hold a flow open and look at it
bg app "$TOOLS/crd-client" --bytes 100 --hold 3 127.0.0.1 8080 >/dev/null 2>&1
hold_pid=$BG_PID
has_flow() { crd flows --json | grep -q "\"name\":\"TP\",\"via\":\"implicit-"; }
eventually has_flow
check "flows --json: the hop to TP is an implicit continuation" has_flow
fl=$(crd flows | grep 'O1~>O2~>TP')
check "flows: the chain reads O1~>O2~>TP" [ -n "$fl" ]
check "flows: ... with the application crd-client" grep -q "$hold_pid/crd-client" <<<"$fl"
wait "$hold_pid"

# --- many concurrent flows to one destination keep their applications ----------
: >"$WORK/tp.log"
N=40
cpids=()
for ((i = 0; i < N; i++)); do
	bg app "$TOOLS/crd-client" --bytes 2000 --hold 0.5 127.0.0.1 8080 >"$WORK/cc$i.out" 2>&1
	cpids+=("$BG_PID")
done
bad=0
for p in "${cpids[@]}"; do wait "$p" || bad=$((bad + 1)); done
check "$N concurrent clients through O1, O2 and TP all got their bytes back ($bad failed)" [ "$bad" = 0 ]
wait_lines "$WORK/tp.log" "$N"
got=$(sed -n 's/.* app_pid=\([0-9]*\) .*/\1/p' "$WORK/tp.log" | sort -n | tr '\n' ' ')
want=$(printf '%s\n' "${cpids[@]}" | sort -n | tr '\n' ' ')
check "each of the $N flows reached TP with its own application's pid" [ "$got" = "$want" ]
check "... all named crd-client" [ "$(grep -c 'app_comm=crd-client ' "$WORK/tp.log")" = "$N" ]
check "... all with the chain $O1,$O2,$TP" [ "$(grep -c " chain=$O1,$O2,$TP " "$WORK/tp.log")" = "$N" ]
crd service del O1 >/dev/null
crd service del O2 >/dev/null

# --- a proxy that reads nothing: first in, first out ------------------------------
bg so socat TCP-LISTEN:14004,bind=127.0.0.1,reuseaddr,fork TCP:127.0.0.1:8080
eventually listening 14004 || fail "socat did not listen"
crd service add SO --proxy 127.0.0.1:14004 --weight 30 --owner-cgroup so --dport 8080 --implicit >/dev/null
SO=$(id_of SO)
: >"$WORK/tp.log"
spids=()
for i in 1 2 3; do
	bg app "$TOOLS/crd-client" --bytes 500 127.0.0.1 8080 >/dev/null 2>&1
	spids+=("$BG_PID")
	wait "$BG_PID"
	check "client $i through socat (reads no original destination) and TP" [ $? = 0 ]
done
wait_lines "$WORK/tp.log" 3
got=$(sed -n 's/.* app_pid=\([0-9]*\) .*/\1/p' "$WORK/tp.log" | tr '\n' ' ')
check "socat's connections (it reads no original destination) continue the flows it accepted, found by destination: TP saw ${spids[*]}" \
	[ "$got" = "${spids[*]} " ]
check "... with the chain $SO,$TP" [ "$(grep -c " chain=$SO,$TP " "$WORK/tp.log")" = 3 ]
crd service del SO >/dev/null

# --- first in, first out, with flows queued -------------------------------------
# crd-batchproxy reads nothing: it accepts 6 connections, then connects
# onward once per accepted one, in the order it accepted them. Each onward
# connection must continue the flow accepted in the same place: TP sees, for
# the onward socket of the K-th accept, the application socket of the K-th
# accept.
bg bp "$TOOLS/crd-batchproxy" --listen 127.0.0.1:14005 --to 127.0.0.1:8080 --batch 6 \
	--log "$WORK/bp.log" --ready "$WORK/bp.ready"
wait_file "$WORK/bp.ready" || fail "crd-batchproxy did not start"
crd service add BP --proxy 127.0.0.1:14005 --weight 30 --owner-cgroup bp --dport 8080 --implicit >/dev/null
BP=$(id_of BP)
: >"$WORK/tp.log"
bpids=()
for i in 1 2 3 4 5 6; do
	bg app "$TOOLS/crd-client" --bytes 300 127.0.0.1 8080 >/dev/null 2>&1
	bpids+=("$BG_PID")
done
bad=0
for p in "${bpids[@]}"; do wait "$p" || bad=$((bad + 1)); done
check "6 concurrent clients through the batching proxy and TP all got their bytes ($bad failed)" [ "$bad" = 0 ]
wait_lines "$WORK/tp.log" 6
ok=0
for k in 0 1 2 3 4 5; do
	app=$(sed -n "s/^accept $k peer=//p" "$WORK/bp.log" | head -n1)
	onw=$(sed -n "s/^onward $k local=//p" "$WORK/bp.log" | head -n1)
	l=$(grep " peer=$onw\$" "$WORK/tp.log")
	[ -n "$app" ] && [ "$(field "$l" src)" = "$app" ] && [ "$(field "$l" chain)" = "$BP,$TP" ] &&
		ok=$((ok + 1))
done
check "each of the 6 onward connections continued the flow accepted in its place ($ok of 6)" [ "$ok" = 6 ]
crd service del BP >/dev/null
crd service del TP >/dev/null

# --- apply: implicit = yes ---------------------------------------------------------
cat >"$WORK/c.conf" <<EOF
[instance]
cgroup = $TEST_CG

[service unmodified]
proxy = 127.0.0.1:14001
owner-cgroup = o1
implicit = yes
EOF
crd apply "$WORK/c.conf" >/dev/null 2>"$WORK/apply.err"
check "apply takes implicit = yes ($(cat "$WORK/apply.err"))" \
	bash -c "$CRD --instance $INST service list --json | grep -q '\"name\":\"unmodified\".*\"implicit\":true'"
sed -i 's/implicit = yes/implicit = maybe/' "$WORK/c.conf"
out=$(crd apply "$WORK/c.conf" 2>&1)
check "apply refuses implicit = maybe, naming the line ($out)" grep -q 'c.conf:7.*implicit' <<<"$out"
