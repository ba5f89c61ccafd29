#!/usr/bin/env bash
# 18-hostile: a fail-closed service holds against a hostile, unprivileged
# process of the subtree (uid nobody, sometimes in its own user and network
# namespace), one check per attack class of docs/SECURITY.md; fail open is
# counted as bypassed; counters agree with what the destination and the
# proxies saw. Every attack is bounded in count and time and gives back what
# it took (its sockets close, its namespaces go with it).
#  1. option memory exhausted (TCP_MD5SIG keys, IPv6 memberships) before a
#     matched connect/sendto: refused (fail closed), direct + counted
#     (fail open), never counted as redirected;
#  2. table quotas: an attacker at its quota gets EDQUOT, a victim in
#     another cgroup is still redirected (TCP and UDP);
#  3. six fail-open services whose proxies are down ahead of a fail-closed
#     one: the fail-closed one is still considered;
#  4. a UDP flow whose application closes at once while its proxy forwards
#     it (20,000 datagrams): nothing escapes the later service;
#  5. the same 4-tuple built in another network namespace adopts nothing;
#  6. SO_REUSEPORT / SO_REUSEADDR on a proxy's port by a squatter: refused,
#     the proxy gets every flow, status counts the squatter;
#  7. 0.0.0.0, ::ffff:0.0.0.0, :: and 127.0.0.2 are caught by a filter on
#     127.0.0.1/32 or ::1/128;
#  8. a filter change applies to a live UDP flow at its next datagram.
. "$(dirname "$0")/../lib.sh"

NOBODY=65534
crd attach "$TEST_CG" >/dev/null || { fail "attach"; exit; }
start_origin 127.0.0.1:8080 127.0.0.1:8081 127.0.0.1:8082 [::1]:8083 127.0.0.1:8084 \
	127.0.0.1:8085

# as_nobody CGROUP CMD...: CMD as uid/gid nobody in child cgroup CGROUP.
as_nobody() {
	local cg=$1
	shift
	in_cg "$cg" setpriv --reuid=$NOBODY --regid=$NOBODY --clear-groups "$@"
}
counter() { stat_counter "$1"; }
pend_count() { map_counts | cut -d' ' -f1; }
origin_conns() { grep -c "^conn local=127.0.0.1:$1 " "$WORK/origin.log"; }

# ---- 1. option memory ------------------------------------------------------------

crd service add FC --proxy 127.0.0.1:15001 --owner-cgroup fc --dport 8080 --fail closed >/dev/null
crd service add FO --proxy 127.0.0.1:15002 --owner-cgroup fo --dport 8081 --fail open >/dev/null
start_proxy fc 127.0.0.1:15001
start_proxy fo 127.0.0.1:15002
"$CRD" --instance "$INST" events --json --follow >"$WORK/events1.json" 2>&1 &
EVP=$!
PIDS+=($EVP)
reader_on() { crd status --json | grep -q '"events_reader_pid":[1-9]'; }
eventually reader_on
red0=$(counter redirected)
ref0=$(counter refused_no_state)
byp0=$(counter bypassed_no_state)
o80=$(origin_conns 8080)
o81=$(origin_conns 8081)
out=$(as_nobody app "$TOOLS/crd-attack" optmem 127.0.0.1:8080)
check "optmem, fail closed: the option memory was filled ($out)" \
	[ "$(field "$out" filled)" -gt 0 ]
check "optmem, fail closed: connect refused with ECONNREFUSED ($out)" \
	[ "$(field "$out" result)" = ECONNREFUSED ]
sleep 0.3
check "optmem, fail closed: the destination saw nothing" [ "$(origin_conns 8080)" = "$o80" ]
check "optmem, fail closed: the proxy saw nothing" [ "$(hops fc)" = 0 ]
check "optmem, fail closed: counted refused_no_state, not redirected" \
	[ "$(counter refused_no_state)/$(counter redirected)" = "$((ref0 + 1))/$red0" ]
check "optmem, fail closed: per service refused_no_state 1" [ "$(svc_stat FC refused_no_state)" = 1 ]
out=$(as_nobody app "$TOOLS/crd-attack" optmem 127.0.0.1:8081)
check "optmem, fail open: connect went through ($out)" [ "$(field "$out" result)" = ok ]
check "optmem, fail open: it reached the destination directly" \
	eventually_eq "$((o81 + 1))" origin_conns 8081
check "optmem, fail open: counted bypassed_no_state, not redirected" \
	[ "$(counter bypassed_no_state)/$(counter redirected)" = "$((byp0 + 1))/$red0" ]
check "optmem, fail open: the proxy saw nothing" [ "$(hops fo)" = 0 ]
sleep 0.3
stop "$EVP"
check "optmem: events say no-state, ECONNREFUSED for FC and no error for FO" \
	[ "$(grep -c '"event":"no-state","service_id":[0-9]*,"service":"FC".*"error":"ECONNREFUSED"' "$WORK/events1.json")/$(grep -c '"event":"no-state","service_id":[0-9]*,"service":"FO".*"errno":0,' "$WORK/events1.json")" = 1/1 ]
check "optmem: every event has a wall-clock time and a flow id" python3 -c '
import json, re, sys
evs = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
sys.exit(not evs or any(not re.match(r"20\d\d-\d\d-\d\dT", e.get("time", "")) or
                        e["flow_id"] == "0" * 16 for e in evs))' "$WORK/events1.json"
check "optmem: no redirected event for either" \
	bash -c "! grep -q '\"event\":\"redirected\"' '$WORK/events1.json'"

"$TOOLS/crd-attack" sink -u 127.0.0.1:7100 60 >"$WORK/sink7100.out" &
SINK1=$!
PIDS+=($SINK1)
crd service add UC --proto udp --proxy 127.0.0.1:16001 --owner-cgroup uc --dport 7100 \
	--fail closed >/dev/null
bg uc "$TOOLS/crd-udpproxy" --name uc --listen 127.0.0.1:16001 --log "$WORK/uc.log" \
	--ready "$WORK/uc.ready"
wait_file "$WORK/uc.ready" || fail "udp proxy uc did not start"
ref0=$(counter refused_no_state)
out=$(as_nobody app "$TOOLS/crd-attack" optmem -u 127.0.0.1:7100)
check "optmem UDP, fail closed: the option memory was filled ($out)" \
	[ "$(field "$out" filled)" -gt 0 ]
check "optmem UDP, fail closed: sendto refused with ECONNREFUSED ($out)" \
	[ "$(field "$out" result)" = ECONNREFUSED ]
check "optmem UDP: counted refused_no_state" [ "$(counter refused_no_state)" = "$((ref0 + 1))" ]
check "optmem UDP: the proxy saw nothing" [ "$(hops uc)" = 0 ]

# ---- 3. every matching service is considered -------------------------------------

for i in 1 2 3 4 5 6; do
	crd service add D$i --proxy 127.0.0.1:1510$i --owner-cgroup d$i --dport 8082 \
		--weight $((900 - i)) --fail open >/dev/null
done
crd service add LAST --proxy 127.0.0.1:15109 --owner-cgroup last --dport 8082 --weight 1 \
	--fail closed >/dev/null
fo0=$(counter fail_open)
o82=$(origin_conns 8082)
out=$(as_nobody app "$TOOLS/crd-client" --errno --timeout 3 127.0.0.1 8082 2>&1)
check "six fail-open services down, then a fail-closed one: ECONNREFUSED ($out)" \
	grep -q 'errno=ECONNREFUSED' <<<"$out"
check "six fail-open services down: each skipped once" [ "$(counter fail_open)" = $((fo0 + 6)) ]
check "six fail-open services down: LAST counted fail_closed" [ "$(svc_stat LAST fail_closed)" = 1 ]
check "six fail-open services down: the destination saw nothing" \
	[ "$(origin_conns 8082)" = "$o82" ]
start_proxy last 127.0.0.1:15109
out=$(as_nobody app "$TOOLS/crd-client" --errno --timeout 3 127.0.0.1 8082 2>&1)
check "... with LAST's proxy up: LAST's proxy carries it ($out)" \
	eventually_eq 1 hops last

# ---- 7. aliases of loopback ------------------------------------------------------

crd service add LO4 --proxy 127.0.0.1:15201 --owner-cgroup lo4 --dst 127.0.0.1/32 --dport 8084 \
	--fail closed >/dev/null
crd service add LO6 --proxy [::1]:15202 --owner-cgroup lo6 --dst ::1/128 --dport 8083 \
	--fail closed >/dev/null
start_proxy lo4 127.0.0.1:15201
start_proxy lo6 [::1]:15202
n=0
for dst in 0.0.0.0 127.0.0.2 127.0.0.1; do
	as_nobody app "$TOOLS/crd-client" --timeout 3 "$dst" 8084 >/dev/null 2>&1
	n=$((n + 1))
	check "alias $dst:8084 is caught by --dst 127.0.0.1/32" eventually_eq $n hops lo4
done
as_nobody app "$TOOLS/crd-client" -6 --timeout 3 0.0.0.0 8084 >/dev/null 2>&1
check "alias ::ffff:0.0.0.0:8084 is caught by --dst 127.0.0.1/32" eventually_eq 4 hops lo4
check "the proxy sees 0.0.0.0 as the loopback address it reaches" \
	grep -q 'orig=127.0.0.1:8084 ' <(grep '^hop' "$WORK/lo4.log" | head -n1)
as_nobody app "$TOOLS/crd-client" --timeout 3 :: 8083 >/dev/null 2>&1
check "alias [::]:8083 is caught by --dst ::1/128" eventually_eq 1 hops lo6

crd service add V4 --proxy 127.0.0.1:15203 --owner-cgroup v4 --dport 8083 --weight 100 \
	--fail closed >/dev/null
start_proxy v4 127.0.0.1:15203
out=$(as_nobody app "$TOOLS/crd-client" --errno --timeout 3 ::1 8083 2>&1)
check "a fail-closed service with no IPv6 proxy refuses an IPv6 flow it matches ($out)" \
	grep -q 'errno=ECONNREFUSED' <<<"$out"
crd service del V4 >/dev/null

# ---- 6. port sharing -------------------------------------------------------------

crd service add RP --proxy 127.0.0.1:15301 --owner-cgroup rp --dport 8085 --fail closed >/dev/null
PROXY_OPTS=--reuseport start_proxy rp 127.0.0.1:15301
sq0=$(counter squatters_refused)
out=$(in_cg squat "$TOOLS/crd-attack" squat 127.0.0.1:15301 1)
check "a same-uid squatter with SO_REUSEPORT before bind: EPERM ($out)" \
	[ "$(field "$out" bind)/$(field "$out" got)" = EPERM/0 ]
crd service add RQ --proxy 127.0.0.1:15302 --owner-cgroup rq --dport 8087 >/dev/null
out=$(in_cg squat "$TOOLS/crd-attack" squat --after 127.0.0.1:15302 1)
check "... SO_REUSEPORT set after bind (proxy not there yet): EPERM ($out)" \
	[ "$(field "$out" bind)" = EPERM ]
out=$(as_nobody squat "$TOOLS/crd-attack" squat 0.0.0.0:15301 1)
check "... as nobody on the any-address: EPERM ($out)" [ "$(field "$out" bind)" = EPERM ]
check "status counts the squatters" [ "$(counter squatters_refused)" = $((sq0 + 3)) ]
in_cg rp "$TOOLS/crd-attack" squat 127.0.0.1:15301 4 >"$WORK/rp2.out" &
RP2=$!
PIDS+=($RP2)
sleep 0.3
for i in $(seq 20); do
	as_nobody app "$TOOLS/crd-client" --timeout 2 127.0.0.1 8085 >/dev/null 2>&1
done
rp_total() { echo $(($(hops rp) + $(field "$(cat "$WORK/rp2.out")" got))); }
wait "$RP2"
check "a second socket of the proxy's own identity may join ($(cat "$WORK/rp2.out"))" \
	grep -q '^bind=ok' "$WORK/rp2.out"
check "20 connections: all reach the service's proxies" \
	eventually_eq 20 rp_total
crd service add URP --proto udp --proxy 127.0.0.1:16301 --owner-cgroup urp --dport 7101 >/dev/null
out=$(in_cg squat "$TOOLS/crd-attack" squat -u 127.0.0.1:16301 1)
check "a UDP squatter with SO_REUSEPORT: EPERM ($out)" [ "$(field "$out" bind)" = EPERM ]
out=$(in_cg squat "$TOOLS/crd-attack" squat -u --reuseaddr 127.0.0.1:16301 1)
check "a UDP squatter with SO_REUSEADDR: EPERM ($out)" [ "$(field "$out" bind)" = EPERM ]
out=$(in_cg urp "$TOOLS/crd-attack" squat -u 127.0.0.1:16301 1)
check "the UDP proxy's own identity may bind it with SO_REUSEPORT ($out)" \
	[ "$(field "$out" bind)" = ok ]

# ---- 5. the same 4-tuple in another network namespace ----------------------------

# A claimed proxy listener that completes no handshake (its backlog is full):
# the victim's SYN stays pending, its records published.
cat >"$WORK/stuck.py" <<'EOF'
import socket, sys, time
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("127.0.0.1", 15401)); l.listen(0)
open(sys.argv[1], "w").write("ready\n")
time.sleep(30)
EOF
crd service add NS --proxy 127.0.0.1:15401 --owner-cgroup ns --dport 8086 >/dev/null
bg ns python3 "$WORK/stuck.py" "$WORK/stuck.ready"
wait_file "$WORK/stuck.ready" || fail "stuck listener did not start"
# fill its backlog from outside the subtree (not redirected)
"$TOOLS/crd-attack" pending 127.0.0.1:15401 45998 30 >"$WORK/filler.out" &
PIDS+=($!)
wait_lines "$WORK/filler.out" 1 5
sleep 0.5
bg victim "$TOOLS/crd-attack" pending 127.0.0.1:8086 45999 10 >"$WORK/pending.out"
wait_lines "$WORK/pending.out" 1 5
check "the victim's connection is pending, its records published ($(cat "$WORK/pending.out"))" \
	eventually_eq 1 pend_count
out=$(as_nobody att unshare -Urn sh -c "ip link set lo up && exec '$TOOLS/crd-attack' nsadopt 127.0.0.1:15401 45999" 2>&1)
check "own user+net namespace, same 4-tuple: the attack ran ($out)" grep -q '^origdst=' <<<"$out"
check "own user+net namespace, same 4-tuple: SO_ORIGINAL_DST not adopted ($out)" \
	bash -c "! grep -q '^origdst=127' <<<'$out'"
check "own user+net namespace, same 4-tuple: no context ($out)" \
	bash -c "grep -q 'context=' <<<'$out' && ! grep -q 'context=ok' <<<'$out'"

# ---- 2. quotas -------------------------------------------------------------------

crd set --quota-tcp 20 --quota-udp 40 >/dev/null
check "status shows the quotas" bash -c "'$CRD' --instance $INST status | grep -q 'quotas: *20 TCP sockets, 40 UDP flows'"
q0=$(counter refused_quota)
as_nobody att "$TOOLS/crd-attack" tcpfill 127.0.0.1:8080 30 6 >"$WORK/tcpfill.out" &
TF=$!
PIDS+=($TF)
wait_lines "$WORK/tcpfill.out" 1 20
out=$(cat "$WORK/tcpfill.out")
check "TCP: the attacker gets its quota and EDQUOT after it ($out)" \
	[ "$(field "$out" ok)/$(field "$out" EDQUOT)/$(field "$out" other)" = 20/10/0 ]
check "TCP: refused_quota counted" [ "$(counter refused_quota)" = $((q0 + 10)) ]
out=$(as_nobody att2 "$TOOLS/crd-attack" tcpfill 127.0.0.1:8080 1 0)
check "TCP: the same uid in another cgroup is at the uid's quota ($out)" \
	[ "$(field "$out" EDQUOT)" = 1 ]
h=$(hops fc)
out=$(in_cg victim "$TOOLS/crd-client" --errno --timeout 3 127.0.0.1 8080 2>&1)
check "TCP: a victim in another cgroup is still redirected ($out)" \
	eventually_eq $((h + 1)) hops fc
wait "$TF"

crd service add UF --proto udp --proxy 127.0.0.1:16601 --owner-cgroup uf --dport 7110-7125 \
	--fail closed >/dev/null
bg uf "$TOOLS/crd-udpproxy" --name uf --listen 127.0.0.1:16601 --log "$WORK/uf.log" \
	--ready "$WORK/uf.ready"
wait_file "$WORK/uf.ready" || fail "udp proxy uf did not start"
q0=$(counter refused_quota)
as_nobody att "$TOOLS/crd-attack" udpfill 127.0.0.1:7110 5 16 6 >"$WORK/udpfill.out" &
UF=$!
PIDS+=($UF)
wait_lines "$WORK/udpfill.out" 1 20
out=$(cat "$WORK/udpfill.out")
check "UDP: the attacker gets its quota and EDQUOT after it ($out)" \
	[ "$(field "$out" ok)/$(field "$out" EDQUOT)/$(field "$out" other)" = 40/40/0 ]
check "UDP: refused_quota counted" [ "$(counter refused_quota)" = $((q0 + 40)) ]
h=$(hops uf)
in_cg victim "$TOOLS/crd-udpecho" send 127.0.0.1:7110 >/dev/null 2>&1
check "UDP: a victim in another cgroup is still redirected" eventually_eq $((h + 1)) hops uf
wait "$UF"
stop "$SINK1"
check "UDP: nothing reached the fail-closed service's destination directly ($(cat "$WORK/sink7100.out"))" \
	grep -q ' got=0$' "$WORK/sink7100.out"

# ---- 4. the UDP vanishing race ----------------------------------------------------

# U1 forwards every datagram; U2 (fail closed, proxy down) filters on the
# application's cgroup: every onward datagram must be refused. One that
# reaches the sink escaped.
"$TOOLS/crd-attack" sink -u 127.0.0.1:7200 90 >"$WORK/sink7200.out" &
SINK=$!
PIDS+=($SINK)
crd set --quota-udp 100000 >/dev/null
crd service add U1 --proto udp --proxy 127.0.0.1:16401 --owner-cgroup u1 --dport 7200 \
	--weight 20 --fail closed >/dev/null
mkdir -p "$TEST_CG/burst"
crd service add U2 --proto udp --proxy 127.0.0.1:16402 --owner-cgroup u2 --dport 7200 \
	--weight 10 --app-cgroup burst --fail closed >/dev/null
start_cproxy u1 u1 --service U1 --instance "$INST" --udp-listen 127.0.0.1:16401 \
	--udp-idle-timeout 1 --max-flows 3000
for r in $(seq 1 10); do
	as_nobody burst "$TOOLS/crd-attack" udpburst 127.0.0.1:7200 2000 >>"$WORK/burst.out"
	sleep 1.2
done
sent=$(awk '{ split($1, a, "="); n += a[2] } END { print n }' "$WORK/burst.out")
sleep 1
stop "$SINK"
got=$(field "$(cat "$WORK/sink7200.out")" got)
fc2=$(svc_stat U2 fail_closed)
check "race: 20,000 datagrams sent ($sent)" [ "$sent" = 20000 ]
# (Most flows are gone before U1's proxy asks for their records: it drops
# those. The ones it forwards must all be refused by U2.)
check "race: U2 refused onward datagrams: the race was reached ($fc2)" [ "$fc2" -ge 100 ]
check "race: 0 escapes to the destination (got=$got)" [ "$got" = 0 ]

# ---- 8. a policy change applies to live UDP flows ---------------------------------

crd service add UP --proto udp --proxy 127.0.0.1:16501 --owner-cgroup up --dport 7300 \
	--fail closed >/dev/null
bg up "$TOOLS/crd-udpproxy" --name up --listen 127.0.0.1:16501 --log "$WORK/up.log" \
	--ready "$WORK/up.ready"
wait_file "$WORK/up.ready" || fail "udp proxy up did not start"
"$TOOLS/crd-udpecho" serve --ready "$WORK/e7300.ready" 127.0.0.1:7300 >/dev/null 2>&1 &
PIDS+=($!)
wait_file "$WORK/e7300.ready"
mkdir -p "$WORK/step"
bg app "$TOOLS/crd-udpecho" send --count 2 --step "$WORK/step" 127.0.0.1:7300 >"$WORK/step.out" 2>&1
STEP=$BG_PID
touch "$WORK/step/go.0"
wait_file "$WORK/step/done.0" 5
check "policy change: the first datagram went to the proxy" eventually_eq 1 hops up
crd service add UQ --proto udp --proxy 127.0.0.1:16502 --owner-cgroup uq --dport 7300 \
	--weight 1000 --fail closed >/dev/null
touch "$WORK/step/go.1"
wait "$STEP"
check "policy change: a new fail-closed service (proxy down) ahead refuses the live flow's next datagram" \
	eventually_ge 1 svc_stat UQ fail_closed
