#!/usr/bin/env bash
# 15-failure: listener ownership, the fail policy, restarts and coexistence
# (docs/DESIGN.md section 9).
# 1. a squatter (not the service's proxy identity: another cgroup, another
#    uid, or bound outside the subtree) holds a down proxy's address:port:
#    it gets no connection and no datagram; --fail open goes on to the next
#    service or the destination, --fail closed refuses with ECONNREFUSED
#    (TCP and UDP);
# 2. --fail open with two services: the heavier one down -> the lighter
#    one's proxy; both down -> the destination; restarted -> the very next
#    connection goes through it again;
# 3. --fail closed: connect() itself fails at once with ECONNREFUSED, and
#    stats and events count fail_closed;
# 4. killing one service's proxy leaves the other's open and new flows
#    intact; a restarted proxy is used at once; killing and restarting an
#    `events` reader changes nothing in the instance and no open flow;
# 5. two instances and a foreign program on one cgroup: killing one
#    instance's proxy and detaching that instance leave the other instance's
#    redirection and the foreign program working.
. "$(dirname "$0")/../lib.sh"

INST2=${INST}b
FOREIGN_PIN=/sys/fs/bpf/connredir-test-foreign-$$
t15_cleanup() {
	if [ -e "$FOREIGN_PIN" ]; then
		bpftool cgroup detach "$TEST_CG" connect4 pinned "$FOREIGN_PIN" 2>/dev/null
		rm -f "$FOREIGN_PIN"
	fi
	[ -d "/sys/fs/bpf/connredir/$INST2" ] && "$CRD" --instance "$INST2" detach >/dev/null
	t_cleanup
}
trap t15_cleanup EXIT

crd attach "$TEST_CG" >/dev/null || { fail "attach"; exit; }
crd2() { "$CRD" --instance "$INST2" "$@"; }
start_origin 127.0.0.1:8080 127.0.0.1:8081 127.0.0.1:8082
"$TOOLS/crd-udpecho" serve --ready "$WORK/echo.ready" 127.0.0.1:7001 >/dev/null 2>&1 &
PIDS+=($!)
wait_file "$WORK/echo.ready" || fail "udp echo server did not start"

# ---- helpers -------------------------------------------------------------------


# proxy NAME PORT: a crd-testproxy in cgroup NAME on 127.0.0.1:PORT (started
# again after a kill: the ready file goes first). Sets PX_NAME_PID.
proxy() {
	rm -f "$WORK/$1.ready"
	start_proxy "$1" "127.0.0.1:$2"
	printf -v "PX_$1_PID" %s "$BG_PID"
}
kill_proxy() { local v="PX_$1_PID"; stop "${!v}" KILL; }

# client NAME ARGS...: crd-client in cgroup app, output in $WORK/NAME.out.
client() {
	local out=$1
	shift
	bg app "$TOOLS/crd-client" --errno --timeout 5 "$@" >"$WORK/$out.out" 2>&1
	wait "$BG_PID"
}
# udp NAME ARGS...: crd-udpecho send in cgroup app, output in $WORK/NAME.out.
udp() {
	local out=$1
	shift
	bg app "$TOOLS/crd-udpecho" send "$@" >"$WORK/$out.out" 2>&1
	wait "$BG_PID"
}
lasthop() { grep '^hop' "$WORK/$1.log" | tail -n1; }
svc_id() { crd service list --json | tr '{' '\n' | sed -n "s/\"id\":\([0-9]*\),\"name\":\"$1\".*/\1/p"; }
# direct OUT PORT: did the client's one connection reach the origin on PORT
# itself (peer is the origin, and the origin saw the client's own address)?
direct() {
	local local_ep
	grep -q "^ok 0 .* peer=127.0.0.1:$2 " "$WORK/$1.out" || return 1
	local_ep=$(sed -n 's/^ok 0 local=\([^ ]*\) .*/\1/p' "$WORK/$1.out")
	eventually grep -q "^conn local=127.0.0.1:$2 peer=$local_ep " "$WORK/origin.log"
}

# The squatter: binds ADDR:PORT (TCP: and listens), as UID if given, and
# logs every connection, every read and every datagram it gets (it echoes).
# Its first line is "ready".
SQUAT_PY='
import os, select, socket, sys
proto, addr, port, uid = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
if uid:
    os.setgroups([]); os.setgid(uid); os.setuid(uid)
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM)
if proto == "tcp":   # (UDP: sharing the port is refused, tests/it/18-hostile.sh)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((addr, port))
if proto == "tcp":
    s.listen(64)
print("ready uid=%d" % os.getuid(), flush=True)
conns = []
while True:
    r, _, _ = select.select([s] + conns, [], [])
    for x in r:
        if x is s and proto == "tcp":
            c, peer = s.accept()
            print("conn peer=%s:%d" % peer, flush=True)
            conns.append(c)
        elif x is s:
            d, peer = s.recvfrom(65536)
            print("dgram peer=%s:%d bytes=%d" % (peer + (len(d),)), flush=True)
            s.sendto(d, peer)
        else:
            try:
                d = x.recv(65536)
            except OSError:
                d = b""
            print("data bytes=%d" % len(d), flush=True)
            if d:
                x.sendall(d)
            else:
                conns.remove(x); x.close()
'
# squat NAME CGROUP|- tcp|udp PORT [UID]: start a squatter on 127.0.0.1:PORT,
# in CGROUP (inside the subtree) or, with -, outside it. Log $WORK/NAME.log.
squat() {
	local name=$1 cg=$2
	shift 2
	if [ "$cg" = - ]; then
		python3 -c "$SQUAT_PY" "$1" 127.0.0.1 "$2" "${3:-0}" >"$WORK/$name.log" 2>&1 &
		BG_PID=$!
		PIDS+=("$BG_PID")
	else
		bg "$cg" python3 -c "$SQUAT_PY" "$1" 127.0.0.1 "$2" "${3:-0}" >"$WORK/$name.log" 2>&1
	fi
	SQ_PID=$BG_PID
	wait_lines "$WORK/$name.log" 1 && grep -q '^ready' "$WORK/$name.log" ||
		fail "squatter $name did not start: $(cat "$WORK/$name.log")"
}
# squatted NAME: what the squatter got (connections, datagrams, bytes).
squatted() { grep -c '^conn\|^dgram\|^data' "$WORK/$1.log"; }

# A long flow: the streamer opens N connections to ADDR PORT and exchanges
# 1000 bytes on each every 50 ms (each echo checked) until STOP exists, then
# half-closes and reads to EOF. It prints "open" once every connection has
# done one exchange, and at the end per connection "ok I rounds=R after=A"
# (A: rounds made once MARK existed) or "fail I reason", and a summary.
STREAM_PY='
import os, socket, sys, time
addr, port, n, stop, mark = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
conns, bad, rounds, after = [], {}, 0, 0
for i in range(n):
    conns.append(socket.create_connection((addr, port), timeout=5))
def exchange(i, s, r):
    data = bytes(((k * 7 + i + r) & 0xff) for k in range(1000))
    s.sendall(data)
    got = b""
    while len(got) < len(data):
        b = s.recv(len(data) - len(got))
        if not b:
            raise OSError("peer closed after %d of %d bytes" % (len(got), len(data)))
        got += b
    if got != data:
        raise OSError("echo mismatch")
while True:
    last = os.path.exists(stop)
    marked = os.path.exists(mark)
    for i, s in enumerate(conns):
        if i not in bad:
            try:
                exchange(i, s, rounds)
            except OSError as e:
                bad[i] = "round %d: %s" % (rounds, e)
    rounds += 1
    after += marked
    if rounds == 1:
        print("open", flush=True)
    if last:
        break
    time.sleep(0.05)
for i, s in enumerate(conns):
    if i in bad:
        continue
    try:
        s.shutdown(socket.SHUT_WR)
        if s.recv(1) != b"":
            bad[i] = "data after the echo"
    except OSError as e:
        bad[i] = "close: %s" % e
for i in range(n):
    print("fail %d %s" % (i, bad[i]) if i in bad else "ok %d rounds=%d after=%d" % (i, rounds, after))
print("summary ok=%d fail=%d" % (n - len(bad), len(bad)), flush=True)
'
# stream NAME PORT N: a streamer in cgroup app (stop file $WORK/NAME.stop,
# mark file $WORK/NAME.mark); waits until its flows are open. Sets ST_PID.
stream() {
	rm -f "$WORK/$1.stop" "$WORK/$1.mark"
	bg app python3 -c "$STREAM_PY" 127.0.0.1 "$2" "$3" "$WORK/$1.stop" "$WORK/$1.mark" \
		>"$WORK/$1.out" 2>&1
	ST_PID=$BG_PID
	wait_lines "$WORK/$1.out" 1 && grep -q '^open' "$WORK/$1.out" ||
		fail "streamer $1 did not open its flows: $(cat "$WORK/$1.out")"
}
# stream_end NAME PID: stop it; true if every flow ended intact.
stream_end() {
	touch "$WORK/$1.stop"
	wait "$2"
}
# streamed_after NAME: the fewest rounds any flow made after its mark.
streamed_after() { sed -n 's/^ok .* after=\([0-9]*\)$/\1/p' "$WORK/$1.out" | sort -n | head -n1; }

# ==== 1. squatters ===============================================================

# --- TCP, a squatter in another cgroup of the subtree (same uid) -------------------
crd service add S --proxy 127.0.0.1:15001 --owner-cgroup ps --dport 8080 --fail closed >/dev/null
squat sq1 squat tcp 15001
client sq1-closed --count 3 127.0.0.1 8080
check "squatter (other cgroup), --fail closed: 3 connects refused at connect() with ECONNREFUSED" \
	[ "$(grep -c '^fail .* errno=ECONNREFUSED in=connect ' "$WORK/sq1-closed.out")" = 3 ]
crd service del S >/dev/null
crd service add S --proxy 127.0.0.1:15001 --owner-cgroup ps --dport 8080 --fail open >/dev/null
client sq1-open 127.0.0.1 8080
check "squatter (other cgroup), --fail open: the connection goes to the destination itself" \
	direct sq1-open 8080
proxy pn 15002
crd service add N --proxy 127.0.0.1:15002 --owner-cgroup pn --dport 8080 --weight -1 >/dev/null
N=$(svc_id N)
client sq1-next 127.0.0.1 8080
check "squatter (other cgroup), --fail open: the connection goes to the next service's proxy" \
	eval 'grep -q "^ok 0 " "$WORK/sq1-next.out" && [ "$(hops pn)" = 1 ] &&
		lasthop pn | grep -q " chain=$N orig=127.0.0.1:8080 "'
check "the squatter in another cgroup got no connection and no byte ($(squatted sq1))" [ "$(squatted sq1)" = 0 ]
# It does accept what is sent to it (so 0 above means something).
"$TOOLS/crd-client" --bytes 10 127.0.0.1 15001 >/dev/null 2>&1
check "control: the squatter accepts a connection made to it directly" \
	eventually grep -q '^data bytes=10' "$WORK/sq1.log"
stop "$SQ_PID"
crd service del S >/dev/null
crd service del N >/dev/null
kill_proxy pn

# --- TCP, a squatter in the proxy's cgroup but of another uid (identity uid+cgroup) ---
crd service add U --proxy 127.0.0.1:15003 --owner-uid 0 --owner-cgroup pu --dport 8080 >/dev/null
squat sq2 pu tcp 15003 65534
check "the second squatter runs as uid 65534" grep -q '^ready uid=65534' "$WORK/sq2.log"
client sq2-closed 127.0.0.1 8080
check "squatter (proxy's cgroup, other uid), --fail closed: refused with ECONNREFUSED at connect()" \
	grep -q '^fail 0 .* errno=ECONNREFUSED in=connect ' "$WORK/sq2-closed.out"
check "the squatter of another uid got no connection and no byte ($(squatted sq2))" [ "$(squatted sq2)" = 0 ]
stop "$SQ_PID"
# The service's own proxy (uid 0 in pu) on the same port is the proxy.
proxy pu 15003
client sq2-proxy 127.0.0.1 8080
check "the same port bound by the service's identity (uid 0, cgroup pu) gets the flow" \
	eval 'grep -q "^ok 0 " "$WORK/sq2-proxy.out" && [ "$(hops pu)" = 1 ]'
kill_proxy pu
crd service del U >/dev/null

# --- TCP, a squatter outside the attached subtree ----------------------------------
crd service add O --proxy 127.0.0.1:15004 --owner-cgroup po --dport 8080 >/dev/null
squat sq3 - tcp 15004
client sq3-closed 127.0.0.1 8080
check "squatter outside the subtree, --fail closed: refused with ECONNREFUSED at connect()" \
	grep -q '^fail 0 .* errno=ECONNREFUSED in=connect ' "$WORK/sq3-closed.out"
check "the squatter outside the subtree got no connection and no byte ($(squatted sq3))" [ "$(squatted sq3)" = 0 ]
stop "$SQ_PID"
crd service del O >/dev/null

# --- TCP, a listener claimed for another service ---------------------------------
# Q's identity (uid 0 in cgroup pp) matches the binder of P's listener, but
# P's proxy claimed it for P: it is P's, and Q's proxy is down.
crd service add P --proxy 127.0.0.1:15005 --owner-cgroup pp --dport 9 --weight 1 >/dev/null
crd service add Q --proxy 127.0.0.1:15005 --owner-uid 0 --owner-cgroup pp --dport 8080 \
	--weight 10 >/dev/null
start_cproxy pp pp --service P --listen 127.0.0.1:15005 --inspect log || exit
client cl-claimed 127.0.0.1 8080
check "a listener claimed for P is not Q's proxy, though Q's identity bound it: refused" \
	grep -q '^fail 0 .* errno=ECONNREFUSED in=connect ' "$WORK/cl-claimed.out"
check "... and P's proxy got nothing of Q's flow" [ ! -s "$WORK/pp.log" ]
crd service del P >/dev/null
client cl-unclaimed 127.0.0.1 8080
check "P deleted: its claim names no service, the binder's identity counts: Q's flow goes there" \
	grep -q '^ok 0 ' "$WORK/cl-unclaimed.out"
stop "$PX_PID"
crd service del Q >/dev/null

# --- UDP, a squatter in another cgroup of the subtree ------------------------------
crd service add UA --proto udp --proxy 127.0.0.1:16001 --owner-cgroup pua --dport 7001 >/dev/null
squat sq4 squat udp 16001
udp sq4-closed 127.0.0.1:7001
check "UDP squatter, --fail closed: sendto() fails with ECONNREFUSED" \
	grep -q '^send-error 0 Connection refused' "$WORK/sq4-closed.out"
udp sq4-closed-c --connect 127.0.0.1:7001
check "UDP squatter, --fail closed: connect() fails with ECONNREFUSED" \
	grep -q '^connect: Connection refused' "$WORK/sq4-closed-c.out"
crd service del UA >/dev/null
crd service add UA --proto udp --proxy 127.0.0.1:16001 --owner-cgroup pua --dport 7001 --fail open >/dev/null
udp sq4-open 127.0.0.1:7001
check "UDP squatter, --fail open: the datagram reaches the destination and its answer comes back" \
	grep -q '^summary ok=1 bad=0 missing=0' "$WORK/sq4-open.out"
udp sq4-open-c --connect 127.0.0.1:7001
check "UDP squatter, --fail open: a connected socket reaches the destination" \
	grep -q '^summary ok=1 bad=0 missing=0' "$WORK/sq4-open-c.out"
bg pub "$TOOLS/crd-udpproxy" --name pub --listen 127.0.0.1:16002 --log "$WORK/pub.log" \
	--ready "$WORK/pub.ready"
pub_pid=$BG_PID
wait_file "$WORK/pub.ready" || fail "udp proxy pub did not start"
crd service add UB --proto udp --proxy 127.0.0.1:16002 --owner-cgroup pub --dport 7001 \
	--weight -1 >/dev/null
UB=$(svc_id UB)
udp sq4-next 127.0.0.1:7001
check "UDP squatter, --fail open: the datagram goes to the next service's proxy (chain=$UB)" \
	eval 'grep -q "^summary ok=1 bad=0" "$WORK/sq4-next.out" && [ "$(hops pub)" = 1 ] &&
		lasthop pub | grep -q " chain=$UB orig=127.0.0.1:7001 "'
check "the UDP squatter got no datagram ($(squatted sq4))" [ "$(squatted sq4)" = 0 ]
"$TOOLS/crd-udpecho" send 127.0.0.1:16001 >/dev/null 2>&1
check "control: the UDP squatter answers a datagram sent to it directly" \
	eventually grep -q '^dgram ' "$WORK/sq4.log"
stop "$SQ_PID"
stop "$pub_pid"
crd service del UA >/dev/null
crd service del UB >/dev/null

# ==== 2. --fail open, two services ================================================
proxy pa 15021
proxy pb 15022
crd service add A --proxy 127.0.0.1:15021 --owner-cgroup pa --dport 8080 --weight 20 --fail open >/dev/null
crd service add B --proxy 127.0.0.1:15022 --owner-cgroup pb --dport 8080 --weight 10 --fail open >/dev/null
A=$(svc_id A) B=$(svc_id B)
client fo-both 127.0.0.1 8080
# through PROXY N CHAIN OUT: client OUT worked, PROXY has seen N flows, the
# last with chain CHAIN.
through() {
	grep -q "^ok 0 " "$WORK/$4.out" && [ "$(hops "$1")" = "$2" ] &&
		lasthop "$1" | grep -q " chain=$3 orig="
}
check "both up: A then B (chain=$A,$B)" through pb 1 "$A,$B" fo-both
kill_proxy pa
na=$(hops pa) nb=$(hops pb)
client fo-a-down 127.0.0.1 8080
check "A's proxy down: the connection reaches B's proxy (chain=$B)" through pb $((nb + 1)) "$B" fo-a-down
kill_proxy pb
nb=$(hops pb)
client fo-none 127.0.0.1 8080
check "both down: the connection reaches the destination itself" direct fo-none 8080
check "both down: neither proxy saw it" [ "$(hops pa)/$(hops pb)" = "$na/$nb" ]
proxy pa 15021
client fo-a-back 127.0.0.1 8080
check "A restarted: the very next connection goes through A (chain=$A)" through pa $((na + 1)) "$A" fo-a-back
proxy pb 15022
client fo-b-back 127.0.0.1 8080
check "B restarted: the next connection goes through A then B again" through pb $((nb + 1)) "$A,$B" fo-b-back
# A down: skipped at the application's connect and at B's proxy's (2); both
# down: A and B skipped (1 + 1); B down: skipped at A's proxy's connect (1).
check "fail_open counted per service: A 3, B 2 (A $(svc_stat A fail_open), B $(svc_stat B fail_open))" \
	[ "$(svc_stat A fail_open)/$(svc_stat B fail_open)/$(svc_stat A fail_closed)" = 3/2/0 ]
kill_proxy pa
kill_proxy pb

# ==== 3. --fail closed: refused at once, counted ==================================
crd service del A >/dev/null
crd service del B >/dev/null
crd service add C --proxy 127.0.0.1:15031 --owner-cgroup pc --dport 8080 --fail closed >/dev/null
C=$(svc_id C)
fc0=$(stat_counter fail_closed)
bg events "$CRD" --instance "$INST" events --json --follow >"$WORK/fc-events.json"
evp=$BG_PID
cfg_events_pid() {
	bpftool -j map lookup pinned "/sys/fs/bpf/connredir/$1/crd_cfg_v3" key 0 0 0 0 2>/dev/null |
		python3 -c 'import json, sys; print(json.load(sys.stdin)["formatted"]["value"]["events_pid"])' 2>/dev/null
}
pid_registered() { [ "$(cfg_events_pid "$INST")" = "$1" ]; }
check "the events reader registered (pid $evp)" eventually pid_registered "$evp"
client fc --count 5 127.0.0.1 8080
n=$(grep -c '^fail .* errno=ECONNREFUSED in=connect ' "$WORK/fc.out")
check "--fail closed: 5 connects fail in connect() itself with ECONNREFUSED ($n)" [ "$n" = 5 ]
slow=$(sed -n 's/.* ms=\([0-9.]*\)$/\1/p' "$WORK/fc.out" | awk '$1 >= 500' | wc -l)
check "--fail closed: each refusal came at once (well under a second; $(sed -n 's/.* ms=\([0-9.]*\)$/\1/p' "$WORK/fc.out" | tr '\n' ' ')ms)" \
	[ "$slow" = 0 ]
check "stats: C fail_closed 5, redirected 0 ($(svc_stat C fail_closed), $(svc_stat C redirected))" \
	[ "$(svc_stat C fail_closed)/$(svc_stat C redirected)" = 5/0 ]
check "status: the global fail_closed counter rose by 5 ($fc0 -> $(stat_counter fail_closed))" \
	[ $(($(stat_counter fail_closed) - fc0)) = 5 ]
check "events: 5 fail-closed events for C, each ECONNREFUSED" eventually [ "$(grep '"event":"fail-closed"' \
	"$WORK/fc-events.json" | grep "\"service_id\":$C," | grep -c '"error":"ECONNREFUSED"')" = 5 ]
stop "$evp" INT
crd service del C >/dev/null

# ==== 4. restarts without losing flows ============================================
proxy pa 15021
proxy pb 15022
crd service add A --proxy 127.0.0.1:15021 --owner-cgroup pa --dport 8080 >/dev/null
crd service add B --proxy 127.0.0.1:15022 --owner-cgroup pb --dport 8081 >/dev/null
A=$(svc_id A) B=$(svc_id B)
stream sa 8080 2
sa_pid=$ST_PID
stream sb 8081 3
sb_pid=$ST_PID
chains() {
	crd flows --json | python3 -c '
import json, sys
print(" ".join(sorted(">".join(c["name"] for c in f["chain"]) for f in json.load(sys.stdin))))'
}
check "flows: 2 open through A, 3 through B ($(chains))" [ "$(chains)" = "A A B B B" ]
na=$(hops pa) nb=$(hops pb)
kill_proxy pa
touch "$WORK/sb.mark"
check "A's proxy killed: its flows are gone from the maps, B's 3 stay ($(chains))" \
	eventually [ "$(chains)" = "B B B" ]
client b-new 127.0.0.1 8081
check "A's proxy killed: a new flow through B works" through pb $((nb + 1)) "$B" b-new
client a-down 127.0.0.1 8080
check "A's proxy killed: A's new flows are refused (fail closed)" \
	grep -q '^fail 0 .* errno=ECONNREFUSED in=connect ' "$WORK/a-down.out"
proxy pa 15021
client a-back 127.0.0.1 8080
check "A's proxy restarted: a new flow through A works at once" through pa $((na + 1)) "$A" a-back
sleep 0.3   # a few more rounds on B's flows
stream_end sb "$sb_pid"
check "B's 3 open flows went on exchanging through A's death and restart, and ended intact" \
	eval 'grep -q "^summary ok=3 fail=0" "$WORK/sb.out" && [ "$(streamed_after sb)" -ge 2 ]'
stream_end sa "$sa_pid"   # these died with A's proxy; nothing to check

# --- events readers killed and started again ---------------------------------------
stream sc 8080 2
sc_pid=$ST_PID
stream sd 8081 2
sd_pid=$ST_PID
# snapshot NAME: status, services and flows, less what changes by itself
# (a flow's age) or is expected to change (which reader is registered).
snapshot() {
	crd status --json | python3 -c '
import json, sys
s = json.load(sys.stdin)
s.pop("events_reader_pid", None)
print(json.dumps(s, sort_keys=True))' >"$WORK/$1.status"
	crd service list --json >"$WORK/$1.services"
	crd flows --json | python3 -c '
import json, sys
for f in sorted(json.load(sys.stdin), key=lambda f: f["flow_id"]):
    f.pop("age_s", None)
    print(json.dumps(f, sort_keys=True))' >"$WORK/$1.flows"
}
snapshot before
check "4 flows open before the readers come and go" [ "$(wc -l <"$WORK/before.flows")" = 4 ]
bg events "$CRD" --instance "$INST" events --json --follow >"$WORK/r1.json"
r1=$BG_PID
check "events reader 1 registered" eventually pid_registered "$r1"
touch "$WORK/sc.mark" "$WORK/sd.mark"
stop "$r1" KILL
check "reader 1 killed with SIGKILL: its pid stays registered" pid_registered "$r1"
bg events "$CRD" --instance "$INST" events --json --follow >"$WORK/r2.json"
r2=$BG_PID
check "reader 2 takes over from the killed reader" eventually pid_registered "$r2"
snapshot after
same() { diff "$WORK/before.$1" "$WORK/after.$1" >&2; }
check "status --json is the same after the readers came and went" same status
check "service list --json is the same" same services
check "flows --json lists the same 4 flows" same flows
# Killed in the middle of a run of connections, and started again.
bg app "$TOOLS/crd-client" --count 300 --bytes 10 127.0.0.1 8081 >"$WORK/storm.out" 2>&1
storm=$BG_PID
check "reader 2 sees the decisions" eventually grep -q '"event":"redirected"' "$WORK/r2.json"
stop "$r2" KILL
bg events "$CRD" --instance "$INST" events --json --follow >"$WORK/r3.json"
r3=$BG_PID
check "reader 3 takes over during the connections" eventually pid_registered "$r3"
wait "$storm"
check "the 300 connections made while readers were killed all worked" grep -q '^summary ok=300 fail=0' "$WORK/storm.out"
client r3-probe 127.0.0.1 8080
check "reader 3 sees a new decision" eventually grep -q "\"event\":\"redirected\",\"service_id\":$A," "$WORK/r3.json"
stop "$r3" TERM
check "reader 3 exits 0 on SIGTERM (rc=$STOP_RC) and unregisters" \
	eval '[ "$STOP_RC" = 0 ] && [ "$(cfg_events_pid "$INST")" = 0 ]'
sleep 0.3
stream_end sc "$sc_pid"
stream_end sd "$sd_pid"
check "the flows open through A and B while readers were killed ended intact" \
	eval 'grep -q "^summary ok=2 fail=0" "$WORK/sc.out" && grep -q "^summary ok=2 fail=0" "$WORK/sd.out" &&
		[ "$(streamed_after sc)" -ge 2 ] && [ "$(streamed_after sd)" -ge 2 ]'
kill_proxy pa
kill_proxy pb
crd service del A >/dev/null
crd service del B >/dev/null

# ==== 5. two instances and a foreign program on one cgroup =========================
crd2 attach "$TEST_CG" >/dev/null || fail "attach instance 2"
bpftool prog load "$BUILD/tests/foreign.bpf.o" "$FOREIGN_PIN" type cgroup/connect4 &&
	bpftool cgroup attach "$TEST_CG" connect4 pinned "$FOREIGN_PIN" multi ||
	fail "attach the foreign program (9999 -> 8080)"
proxy px 15051
proxy py 15052
# Ports no other party touches: the foreign program's 9999 and 8080 match
# neither service, whatever order the programs run in.
crd service add X --proxy 127.0.0.1:15051 --owner-cgroup px --dport 8082 >/dev/null
crd2 service add Y --proxy 127.0.0.1:15052 --owner-cgroup py --dport 8081 >/dev/null
via() { # OUT PORT PROXY: one client flow to PORT went through PROXY
	local n
	n=$(hops "$3")
	client "$1" 127.0.0.1 "$2" && [ "$(hops "$3")" = $((n + 1)) ]
}
foreign() { client "$1" 127.0.0.1 9999 && grep -q '^ok 0 .* peer=127.0.0.1:8080 ' "$WORK/$1.out"; }
check "instance 1 redirects 8082 to X's proxy" via co-x 8082 px
check "instance 2 redirects 8081 to Y's proxy" via co-y 8081 py
check "the foreign program sends 9999 to 8080" foreign co-f
stream sy 8081 2
sy_pid=$ST_PID
touch "$WORK/sy.mark"
kill_proxy px
client co-x-down 127.0.0.1 8082
check "X's proxy killed: instance 1 refuses 8082" grep -q '^fail 0 .* errno=ECONNREFUSED in=connect ' "$WORK/co-x-down.out"
check "X's proxy killed: instance 2 still redirects 8081 to Y's proxy" via co-y2 8081 py
check "X's proxy killed: the foreign program still works" foreign co-f2
proxy px 15051
check "X's proxy restarted: instance 1 redirects 8082 to it again" via co-x3 8082 px
stream sx 8082 2
sx_pid=$ST_PID
svc2_before=$(crd2 service list --json)
nx=$(hops px)
touch "$WORK/sx.mark"
crd detach >/dev/null
check "instance 1 detached: its pins are gone, instance 2's stay" \
	eval '[ ! -e "/sys/fs/bpf/connredir/$INST" ] && [ -e "/sys/fs/bpf/connredir/$INST2/crd_svc_v3" ]'
check "instance 1 detached: instance 2's services are unchanged" [ "$(crd2 service list --json)" = "$svc2_before" ]
check "instance 1 detached: instance 2 still redirects 8081 to Y's proxy" via co-y4 8081 py
client co-x4 127.0.0.1 8082
check "instance 1 detached: 8082 goes to the destination itself, not to X's proxy" \
	eval 'direct co-x4 8082 && [ "$(hops px)" = "$nx" ]'
check "instance 1 detached: the foreign program still works" foreign co-f4
sleep 0.3
stream_end sx "$sx_pid"
stream_end sy "$sy_pid"
check "flows open through instance 1's proxy went on, intact, through its detach" \
	eval 'grep -q "^summary ok=2 fail=0" "$WORK/sx.out" && [ "$(streamed_after sx)" -ge 2 ]'
check "flows open through instance 2's proxy went on, intact, through all of it" \
	eval 'grep -q "^summary ok=2 fail=0" "$WORK/sy.out" && [ "$(streamed_after sy)" -ge 2 ]'
