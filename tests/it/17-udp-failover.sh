#!/usr/bin/env bash
# 17-udp-failover: the later datagrams of an unconnected UDP socket's flow go
# where the first went only while the service that took it and its proxy
# live. One socket sends a round to one destination at a time: its proxy
# dies (fail open: the next service takes the flow at once), the dead proxy
# comes back, a service is deleted: every round is answered, through the
# proxies the rules say.
. "$(dirname "$0")/../lib.sh"

crd attach "$TEST_CG" >/dev/null || { fail "attach"; exit; }
"$TOOLS/crd-udpecho" serve --ready "$WORK/echo.ready" 127.0.0.1:7001 >/dev/null 2>&1 &
PIDS+=($!)
wait_file "$WORK/echo.ready" || fail "udp echo server did not start"

udp_proxy() { # CGROUP LISTEN
	rm -f "$WORK/$1.ready"
	bg "$1" "$TOOLS/crd-udpproxy" --name "$1" --listen "$2" --log "$WORK/$1.log" \
		--ready "$WORK/$1.ready"
	UP_PID=$BG_PID
	wait_file "$WORK/$1.ready" || fail "udp proxy $1 did not start"
}
udp_proxy ua 127.0.0.1:16001
UA_PID=$UP_PID
udp_proxy ub 127.0.0.1:16002
crd service add UA --proto udp --proxy 127.0.0.1:16001 --weight 20 --owner-cgroup ua --fail open >/dev/null
crd service add UB --proto udp --proxy 127.0.0.1:16002 --weight 10 --owner-cgroup ub --fail open >/dev/null
UA=$(crd service list --json | tr '{' '\n' | sed -n 's/"id":\([0-9]*\),"name":"UA".*/\1/p')
UB=$(crd service list --json | tr '{' '\n' | sed -n 's/"id":\([0-9]*\),"name":"UB".*/\1/p')
last_chain() { field "$(grep '^hop' "$WORK/$1.log" | tail -n1)" chain; }

mkdir "$WORK/step"
bg app "$TOOLS/crd-udpecho" send --count 4 --step "$WORK/step" 127.0.0.1:7001 >"$WORK/send.out" 2>&1
send_pid=$BG_PID

# round 0: through UA then UB
wait_file "$WORK/step/done.0" || fail "round 0 was not answered"
check "round 0: UA took the flow (chain $(last_chain ua))" [ "$(last_chain ua)" = "$UA" ]
check "round 0: UB took it next (chain $(last_chain ub))" [ "$(last_chain ub)" = "$UA,$UB" ]
ua0=$(hops ua) ub0=$(hops ub)

# round 1: UA's proxy is dead; the flow's next datagram goes to UB at once
kill "$UA_PID"
wait "$UA_PID" 2>/dev/null
touch "$WORK/step/go.1"
wait_file "$WORK/step/done.1" || fail "round 1 was not answered"
check "round 1, UA down (fail open): UB took the socket's next datagram as a new flow (chain $(last_chain ub))" \
	[ "$(hops ub)/$(last_chain ub)" = "$((ub0 + 1))/$UB" ]
check "round 1 was answered" [ "$(grep -c '^reply .* ok$' "$WORK/send.out")" = 2 ]

# round 2: UA is back; the application's flow stays with UB while UB lives
: >"$WORK/ua.log"
udp_proxy ua 127.0.0.1:16001
UA_PID=$UP_PID
ub1=$(hops ub)
touch "$WORK/step/go.2"
wait_file "$WORK/step/done.2" || fail "round 2 was not answered"
check "round 2: the flow stays with UB, which is alive (no new flow)" [ "$(hops ub)" = "$ub1" ]
# UB's onward datagram (its per-flow socket's, passed while UA was down:
# passes are not cached) is decided again, and UA, up again and not yet in
# this flow's history, takes it at once.
check "round 2: UA's restarted proxy is used again at once, after UB (chain $(last_chain ua))" \
	[ "$(hops ua)/$(last_chain ua)" = "1/$UB,$UA" ]

# round 3: UB's service is deleted; the flow is decided again: UA takes it
crd service del UB >/dev/null
touch "$WORK/step/go.3"
wait "$send_pid"
rc=$?
check "round 3, UB deleted: UA took the flow again (chain $(last_chain ua))" \
	[ "$(hops ua)/$(last_chain ua)" = "2/$UA" ]
check "every round was answered from the destination's address (rc=$rc)" \
	grep -q '^summary ok=4 bad=0 missing=0' "$WORK/send.out"
# UA was down for two decisions: the application's datagram, and the one
# UB's per-flow socket sent on (UA's filter matches that one too).
fo=$(crd status --json | python3 -c '
import json, sys
print([s["fail_open"] for s in json.load(sys.stdin)["services"] if s["service"]["name"] == "UA"][0])')
check "stats: UA was skipped twice while its proxy was down (fail_open=$fo)" [ "$fo" = 2 ]

# --- connect() again: the old connected flow ends ----------------------------------
# A connected socket redirected to UC (port 7005 only) connects again to
# 7006, which no service takes: its old flow goes at once (not at close),
# and its datagrams to 7006 go there untagged.
"$TOOLS/crd-udpecho" serve --ready "$WORK/echo2.ready" 127.0.0.1:7005 127.0.0.1:7006 >/dev/null 2>&1 &
PIDS+=($!)
wait_file "$WORK/echo2.ready" || fail "second udp echo server did not start"
crd service del UA >/dev/null
udp_proxy uc 127.0.0.1:16003
UC_PID=$UP_PID
crd service add UC --proto udp --proxy 127.0.0.1:16003 --owner-cgroup uc --dport 7005 >/dev/null
uflows() { crd status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["maps"]["crd_uflows_v3"])'; }
u0=$(uflows)
mkfifo "$WORK/go"
bg app python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(5)
s.connect(("127.0.0.1", 7005)); s.send(b"a"); print("first", s.recv(200).decode(), flush=True)
open(sys.argv[1]).read()   # the test looked at the maps
s.connect(("127.0.0.1", 7006)); s.send(b"b"); print("second", s.recv(200).decode(), flush=True)
open(sys.argv[1]).read()
' "$WORK/go" >"$WORK/re.out" 2>&1
re_pid=$BG_PID
eventually grep -q '^first' "$WORK/re.out"
check "connected to 7005: through UC, answered ($(head -n1 "$WORK/re.out"))" \
	bash -c "grep -q '^first from=127.0.0.1:7005 a' '$WORK/re.out' && [ \$(grep -c '^hop' '$WORK/uc.log') = 1 ]"
u1=$(uflows)
check "while connected: one more UDP flow ($u0 -> $u1)" [ "$u1" = $((u0 + 1)) ]
echo >"$WORK/go"
eventually grep -q '^second' "$WORK/re.out"
check "connected again to 7006 (no service): answered directly ($(sed -n 2p "$WORK/re.out"))" \
	bash -c "grep -q '^second from=127.0.0.1:7006 b' '$WORK/re.out' && [ \$(grep -c '^hop' '$WORK/uc.log') = 1 ]"
u2=$(uflows)
# The flow's records stay while UC's proxy still continues them on its
# per-flow socket (docs/DESIGN.md, "Records that outlive their owner").
kill "$UC_PID"
wait "$UC_PID" 2>/dev/null
check "the old connected flow ended at the second connect, socket still open: gone once UC's proxy let go ($u1 -> $u2 -> $(uflows))" \
	eventually [ "$(uflows)" = "$u0" ]
echo >"$WORK/go"
wait "$re_pid"
