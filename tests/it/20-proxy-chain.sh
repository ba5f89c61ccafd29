#!/usr/bin/env bash
# 20-proxy-chain: curl (and crd-client, IPv4 and IPv6) reach crd-origin
# through two connredir-proxy instances serving two services of different
# weights, each in its own identity cgroup. Both log one JSON line per
# flow, in weight order (the chain field), with the application (curl's
# pid and command), the original destination and the HTTP request; the
# bytes arrive unmodified. Then connredir-proxy as an unmodified
# SO_ORIGINAL_DST proxy behind iptables REDIRECT, outside connredir.
. "$(dirname "$0")/../lib.sh"

PROXY=$BUILD/connredir-proxy
[ -x "$PROXY" ] || { fail "no $PROXY (run make)"; exit; }
command -v python3 >/dev/null || { fail "python3 is needed to check JSON"; exit; }

# json_ok FILE: every line of FILE is a JSON object.
json_ok() { python3 -c 'import json,sys
for l in open(sys.argv[1]): json.loads(l)' "$1"; }

crd attach "$TEST_CG" >/dev/null || { fail "attach"; exit; }
start_origin 127.0.0.1:8080 '[::1]:8080'
# Weights on purpose not in name or port order: B (300) before A (100).
crd service add A --proxy 127.0.0.1:15001 --proxy '[::1]:15001' --weight 100 --owner-cgroup pa >/dev/null
crd service add B --proxy 127.0.0.1:15002 --proxy '[::1]:15002' --weight 300 --owner-cgroup pb >/dev/null
A=$(id_of A) B=$(id_of B)
[ -n "$A" ] && [ -n "$B" ] || fail "service ids A=$A B=$B"
start_cproxy pa pa --service A --instance t20 --listen 127.0.0.1:15001 --listen '[::1]:15001' \
	--inspect log,http || exit
start_cproxy pb pb --service B --listen 127.0.0.1:15002 --listen '[::1]:15002' \
	--inspect http,log,tls || exit

# --- curl ----------------------------------------------------------------
bg app curl -s -o "$WORK/curl.out" --max-time 10 http://127.0.0.1:8080/hello?x=1
curl_pid=$BG_PID
wait "$curl_pid"
rc=$?
check "curl exits 0 through the two proxies (rc=$rc)" [ "$rc" = 0 ]
check "curl got the origin's answer" grep -q "origin ok local=127.0.0.1:8080" "$WORK/curl.out"

wait_lines "$WORK/pa.log" 1
wait_lines "$WORK/pb.log" 1
lb=$(head -n1 "$WORK/pb.log") la=$(head -n1 "$WORK/pa.log")
check "each log line is valid JSON" json_ok "$WORK/pa.log"
check "... in both logs" json_ok "$WORK/pb.log"
check "B (weight 300) first: chain [$B]" [ "$(jf "$lb" chain)" = "$B" ]
check "A (weight 100) second: chain [$B,$A]" [ "$(jf "$la" chain)" = "$B,$A" ]
check "B's line: service B, hop 0" [ "$(jf "$lb" service)/$(jf "$lb" hop)" = B/0 ]
check "A's line: service A, hop 1, instance t20" \
	[ "$(jf "$la" service)/$(jf "$la" hop)/$(jf "$la" instance)" = A/1/t20 ]
check "one flow id along the chain" [ "$(jf "$la" flow_id)" = "$(jf "$lb" flow_id)" ]
for l in "$lb" "$la"; do
	p=$(jf "$l" service)
	check "$p: app pid $curl_pid, command curl, uid 0" \
		[ "$(jf "$l" app_pid)/$(jf "$l" app_comm)/$(jf "$l" app_uid)" = "$curl_pid/curl/0" ]
	check "$p: original destination 127.0.0.1:8080 (from the context)" \
		[ "$(jf "$l" orig_dst)/$(jf "$l" dst_from)" = 127.0.0.1:8080/context ]
	check "$p: http GET /hello?x=1 HTTP/1.1, Host 127.0.0.1:8080" \
		[ "$(jf "$l" http_method) $(jf "$l" http_target) $(jf "$l" http_version) $(jf "$l" http_host)" = \
		"GET /hello?x=1 HTTP/1.1 127.0.0.1:8080" ]
	check "$p: verdict allow, ended closed" \
		[ "$(jf "$l" verdict)/$(jf "$l" end_reason)/$(jf "$l" error)" = allow/closed/null ]
	check "$p: start, end and duration present" \
		[ -n "$(jf "$l" start)" -a -n "$(jf "$l" end)" -a -n "$(jf "$l" duration_ms)" ]
done
check "both proxies moved the same bytes each way (up $(jf "$la" bytes_up), down $(jf "$la" bytes_down))" \
	[ "$(jf "$la" bytes_up)/$(jf "$la" bytes_down)" = "$(jf "$lb" bytes_up)/$(jf "$lb" bytes_down)" ]
check "bytes down = the origin's whole answer" \
	[ "$(jf "$la" bytes_down)" -gt "$(wc -c <"$WORK/curl.out")" ]
check "B's client is the application's socket (app_src)" [ "$(jf "$lb" client)" = "$(jf "$lb" app_src)" ]
check "a tls inspector on a plain HTTP flow adds no tls field" bash -c "! grep -q tls_ '$WORK/pb.log'"
undoc=$(for k in $(grep -o '"[a-z_]*":' <<<"$la" | tr -d '":'); do
	sed 's/\\f[BIR]//g' "$T_ROOT/man/connredir-proxy.8" | grep -q "^\.B.* $k\b\|^\.B $k$\|, $k\b" || echo "$k"
done)
check "the man page documents every field of the line (missing: ${undoc:-none})" [ -z "$undoc" ]

# --- crd-client, IPv4 and IPv6: bytes unmodified ----------------------------
bg app "$TOOLS/crd-client" --count 5 --bytes 100000 127.0.0.1 8080 >"$WORK/c4.out" 2>&1
client_pid=$BG_PID
wait "$client_pid"
check "crd-client: 5 x 100000 bytes echoed unmodified through both proxies" [ $? = 0 ]
bg app "$TOOLS/crd-client" -6 --count 2 --bytes 300000 ::1 8080 >"$WORK/c6.out" 2>&1
wait $BG_PID
check "crd-client -6: 2 x 300000 bytes over IPv6 through both proxies" [ $? = 0 ]
wait_lines "$WORK/pa.log" 8
wait_lines "$WORK/pb.log" 8
check "each proxy logged each of the 8 flows once" \
	[ "$(wc -l <"$WORK/pa.log")/$(wc -l <"$WORK/pb.log")" = 8/8 ]
check "the client flows: app pid $client_pid, command crd-client, at both hops" \
	[ "$(grep -c "\"app_pid\":$client_pid,.*\"app_comm\":\"crd-client\"" "$WORK/pa.log" "$WORK/pb.log" |
		cut -d: -f2 | paste -sd/)" = 5/5 ]
check "IPv4 client flows: 100000 bytes each way at the last hop" \
	[ "$(grep -c '"orig_dst":"127.0.0.1:8080".*"bytes_up":100000,"bytes_down":100000,' "$WORK/pa.log")" = 5 ]
check "IPv6 client flows: orig_dst [::1]:8080, 300000 bytes each way" \
	[ "$(grep -c '"orig_dst":"\[::1\]:8080".*"bytes_up":300000,"bytes_down":300000,' "$WORK/pa.log")" = 2 ]
check "IPv6 flows are chained too: chain [$B,$A]" \
	[ "$(grep '"orig_dst":"\[::1\]' "$WORK/pa.log" | grep -c "\"chain\":\[$B,$A\]")" = 2 ]
wait_lines "$WORK/origin.log" 8
check "origin received every byte of each client flow" \
	[ "$(grep -c ' in=100000 ' "$WORK/origin.log")/$(grep -c ' in=300000 ' "$WORK/origin.log")" = 5/2 ]

# --- an unmodified SO_ORIGINAL_DST proxy behind iptables REDIRECT ----------
# Outside connredir's subtree (no records, no context), run as nobody so its
# own onward connection is not redirected again.
if iptables -t nat -A OUTPUT -p tcp -d 127.0.0.3 --dport 8080 -m owner ! --uid-owner 65534 \
	-j REDIRECT --to-ports 15009 2>"$WORK/ipt.err"; then
	"$TOOLS/crd-origin" 127.0.0.3:8080 >/dev/null 2>&1 &
	PIDS+=($!)
	setpriv --reuid=65534 --regid=65534 --clear-groups \
		"$PROXY" --no-claim --listen 127.0.0.1:15009 --inspect log,http --log - \
		>"$WORK/po.log" 2>"$WORK/po.err" &
	PIDS+=($!)
	for ((i = 0; i < 100; i++)); do grep -q 'listening on' "$WORK/po.err" 2>/dev/null && break; sleep 0.05; done
	curl -s -o "$WORK/curl3.out" --max-time 10 http://127.0.0.3:8080/nat
	check "curl through iptables REDIRECT and connredir-proxy --no-claim" \
		grep -q "origin ok local=127.0.0.3:8080" "$WORK/curl3.out"
	wait_lines "$WORK/po.log" 1
	l=$(head -n1 "$WORK/po.log")
	check "the destination came from SO_ORIGINAL_DST: 127.0.0.3:8080" \
		[ "$(jf "$l" orig_dst)/$(jf "$l" dst_from)" = 127.0.0.3:8080/so_original_dst ]
	check "no records, no context: chain [], app_pid null, http GET /nat" \
		[ "$(jf "$l" chain)/$(jf "$l" app_pid)/$(jf "$l" http_target)" = "/null//nat" ]
	iptables -t nat -F OUTPUT
else
	fail "iptables REDIRECT: $(cat "$WORK/ipt.err")"
fi
