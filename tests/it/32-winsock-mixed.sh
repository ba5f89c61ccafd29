#!/usr/bin/env bash
# 32-winsock-mixed: the Windows-style sample proxy (examples/wfp-tcp-proxy.c,
# written only against connredir/winsock.h) and connredir-proxy chain in both
# orders, with curl through them; each sees the flow once, in weight order.
. "$(dirname "$0")/../lib.sh"

WSPROXY=$BUILD/examples/wfp-tcp-proxy
PROXY=$BUILD/connredir-proxy
crd attach "$TEST_CG" >/dev/null || { fail "attach"; exit; }
start_origin 127.0.0.1:8080

crd service add WS --proxy 127.0.0.1:15001 --weight 20 --owner-cgroup ws >/dev/null
crd service add CP --proxy 127.0.0.1:15002 --weight 10 --owner-cgroup cp >/dev/null
bg ws "$WSPROXY" --name ws --listen 127.0.0.1:15001 --log "$WORK/ws.log" --ready "$WORK/ws.ready"
wait_file "$WORK/ws.ready" || fail "the Windows-style proxy did not start"
bg cp "$PROXY" --service CP --listen 127.0.0.1:15002 --inspect log --log "$WORK/cp.log" \
	2>"$WORK/cp.err"
eventually grep -q 'listening on' "$WORK/cp.err" || fail "connredir-proxy did not start: $(cat "$WORK/cp.err")"
WS=$(crd service list --json | tr '{' '\n' | sed -n 's/"id":\([0-9]*\),"name":"WS".*/\1/p')
CP=$(crd service list --json | tr '{' '\n' | sed -n 's/"id":\([0-9]*\),"name":"CP".*/\1/p')

run_curl() { # N: the N-th request
	bg app curl -s -o "$WORK/curl$1.out" --max-time 10 "http://127.0.0.1:8080/r$1"
	wait $BG_PID && grep -q "origin ok" "$WORK/curl$1.out"
}
cp_chain() { # the chain in connredir-proxy's log line N
	sed -n "${1}p" "$WORK/cp.log" | python3 -c '
import json, sys
print(",".join(str(x) for x in json.loads(sys.stdin.read())["chain"]))' 2>/dev/null
}

# 1. Windows-style proxy first (weight 20), connredir-proxy second.
check "curl through wfp-tcp-proxy then connredir-proxy" run_curl 1
check "wfp-tcp-proxy saw it once" eventually bash -c "[ \"\$(grep -c '' '$WORK/ws.log')\" -ge 1 ]"
check "connredir-proxy logged it once with chain $WS,$CP" eventually bash -c "[ \"\$(wc -l <'$WORK/cp.log')\" = 1 ]"
check "chain at connredir-proxy is $WS,$CP" [ "$(cp_chain 1)" = "$WS,$CP" ]

# 2. The other order: connredir-proxy first.
crd service del CP >/dev/null
crd service add CP --proxy 127.0.0.1:15002 --weight 30 --owner-cgroup cp >/dev/null
CP=$(crd service list --json | tr '{' '\n' | sed -n 's/"id":\([0-9]*\),"name":"CP".*/\1/p')
n_ws=$(grep -c '' "$WORK/ws.log")
check "curl through connredir-proxy then wfp-tcp-proxy" run_curl 2
check "connredir-proxy logged it (2 lines now)" eventually bash -c "[ \"\$(wc -l <'$WORK/cp.log')\" = 2 ]"
check "chain at connredir-proxy is just $CP (it came first)" [ "$(cp_chain 2)" = "$CP" ]
check "wfp-tcp-proxy saw one more flow" eventually bash -c "[ \"\$(grep -c '' '$WORK/ws.log')\" -gt $n_ws ]"
flow2=$(sed -n 2p "$WORK/cp.log" | python3 -c 'import json,sys; print(json.load(sys.stdin)["flow_id"])')
check "wfp-tcp-proxy took the same flow second (hop 1 of 2, flow $flow2)" \
	grep -q "service=$WS hop=1 nhops=2 .*flow=$flow2 " "$WORK/ws.log"
check "the Windows-style calls answered by the rules (size query, tiny buffer, set)" \
	grep -q "size=ERROR_INSUFFICIENT_BUFFER/64 tiny=WSAEINVAL/0 .* set=ok/0 onward=ok" "$WORK/ws.log"
