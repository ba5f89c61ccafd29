#!/usr/bin/env bash
# 30-winsock: the Windows way (winsock.h). Two wfp-tcp-proxy instances, proxies
# written as Microsoft's WFP sample is (WSAIoctl QUERY records/context on the
# accepted socket, SET records on the outbound socket before connect), are
# two services of a chain: curl and a C client reach the origin through
# both, each proxy sees each flow once, in weight order, and every WSAIoctl
# answer follows the documented rules (size query, 2-byte buffer, short
# buffer, bad pointer, overlapped event and routine, SET argument checks,
# SET after connect). Sockets never redirected answer WSAENOPROTOOPT; a
# SET by a process that is not the flow's proxy answers WSAEACCES; forged
# and replayed blobs WSAEINVAL.
. "$(dirname "$0")/../lib.sh"

WSPROXY=$BUILD/examples/wfp-tcp-proxy
CTX_SIZE=120   # sizeof(struct connredir_context), version 1

# expect_field LINE KEY VALUE WHAT: pass if KEY=VALUE in the log line.
expect_field() {
	local got
	got=$(field "$1" "$2")
	if [ "$got" = "$3" ]; then
		pass "$4: $2=$3"
	else
		fail "$4: $2=$3 (got '$got')"
	fi
}

# expect_line OUTPUT LINE WHAT: pass if OUTPUT has LINE.
expect_line() {
	if grep -qx "$2" <<<"$1"; then pass "$3: $2"; else fail "$3: $2 (not in: $(tr '\n' ' ' <<<"$1"))"; fi
}

crd attach "$TEST_CG" >/dev/null || { fail "attach"; exit; }
start_origin 127.0.0.1:8080

# --- never redirected, before any service exists ---------------------------
out=$(in_cg app "$WSPROXY" --local)
label="never redirected, attached subtree"
expect_line "$out" "unconnected_records=WSAENOTCONN/0" "$label"
expect_line "$out" "unconnected_context=WSAENOTCONN/0" "$label"
expect_line "$out" "direct_accepted_size=WSAENOPROTOOPT/0" "$label"
expect_line "$out" "direct_accepted_records=WSAENOPROTOOPT/0" "$label"
expect_line "$out" "direct_accepted_context=WSAENOPROTOOPT/0" "$label"
expect_line "$out" "direct_accepted_tiny=WSAEINVAL/0" "$label"
expect_line "$out" "direct_connecting_records=WSAENOPROTOOPT/0" "$label"
expect_line "$out" "listener_records=WSAENOTCONN/0" "$label"
expect_line "$out" "set_garbage=WSAEINVAL/0" "$label"
expect_line "$out" "set_connected=WSAEISCONN/0" "$label"
expect_line "$out" "udp_records=WSAEINVAL/0" "$label"
expect_line "$out" "unix_records=WSAEOPNOTSUPP/0" "$label"
expect_line "$out" "pipe_records=WSAENOTSOCK/0" "$label"
expect_line "$out" "unknown_code=WSAEINVAL/0" "$label"
out=$("$WSPROXY" --local)
label="outside the attached subtree"
expect_line "$out" "direct_accepted_records=WSAEOPNOTSUPP/0" "$label"
expect_line "$out" "set_garbage=WSAEOPNOTSUPP/0" "$label"
expect_line "$out" "unconnected_records=WSAENOTCONN/0" "$label"

# --- two Windows-style proxies as two services ------------------------------
start_wsproxy() { # NAME LISTEN [OPTIONS...]
	local name=$1 listen=$2
	shift 2
	bg "$name" "$WSPROXY" --name "$name" --listen "$listen" \
		--log "$WORK/$name.log" --ready "$WORK/$name.ready" "$@"
	wait_file "$WORK/$name.ready" || fail "proxy $name did not start"
}
mkdir -p "$WORK/blobs"
start_wsproxy pa 127.0.0.1:15001 --blob-dir "$WORK/blobs"
start_wsproxy pb 127.0.0.1:15002
# Weights not in name or port order: B before A.
crd service add A --proxy 127.0.0.1:15001 --weight 100 --owner-cgroup pa >/dev/null
crd service add B --proxy 127.0.0.1:15002 --weight 200 --owner-cgroup pb >/dev/null
A=$(id_of A) B=$(id_of B)
[ -n "$A" ] && [ -n "$B" ] || fail "service ids A=$A B=$B"

bg app curl -s -o "$WORK/curl.out" --max-time 10 http://127.0.0.1:8080/hello
curl_pid=$BG_PID
wait "$curl_pid"
rc=$?
check "curl exits 0 through two Windows-style proxies (rc=$rc)" [ "$rc" = 0 ]
check "curl got the origin's answer" grep -q "origin ok local=127.0.0.1:8080" "$WORK/curl.out"
wait_lines "$WORK/pb.log" 1
wait_lines "$WORK/pa.log" 1
lb=$(head -n1 "$WORK/pb.log") la=$(head -n1 "$WORK/pa.log")
expect_field "$lb" service "$B" "B (weight 200) first"
expect_field "$lb" hop 0 "B (weight 200) first"
expect_field "$lb" nhops 1 "B (weight 200) first"
expect_field "$la" service "$A" "A (weight 100) second"
expect_field "$la" hop 1 "A (weight 100) second"
expect_field "$la" nhops 2 "A (weight 100) second"
check "one flow id along the chain" [ "$(field "$la" flow)" = "$(field "$lb" flow)" ]
for l in "$lb" "$la"; do
	p=$(field "$l" proxy)
	expect_field "$l" orig 127.0.0.1:8080 "$p: context"
	expect_field "$l" app_comm curl "$p: context"
	expect_field "$l" app_pid "$curl_pid" "$p: context"
	expect_field "$l" size ERROR_INSUFFICIENT_BUFFER/64 "$p: size query (NULL, 0)"
	expect_field "$l" tiny WSAEINVAL/0 "$p: 2-byte buffer"
	expect_field "$l" short ERROR_INSUFFICIENT_BUFFER/64 "$p: 8-byte buffer"
	expect_field "$l" badptr WSAEFAULT/0 "$p: output outside the address space"
	expect_field "$l" records ok/64 "$p: 8 KiB buffer (Microsoft's sample)"
	n=$(field "$l" context)
	n=${n#ok/}
	check "$p: context query: ok and the size of struct connredir_context ($n)" [ "$n" = "$CTX_SIZE" ]
	expect_field "$l" ctxsize "ERROR_INSUFFICIENT_BUFFER/$n" "$p: context size query"
	expect_field "$l" ovl ok/64/signalled "$p: overlapped with an event"
	expect_field "$l" routine ok/64/1 "$p: overlapped with a completion routine"
	expect_field "$l" out_query WSAENOTCONN/0 "$p: query on the unconnected outbound socket"
	expect_field "$l" set_cbout WSAEINVAL/0 "$p: SET with cbOutBuffer 4"
	expect_field "$l" set_empty WSAEINVAL/0 "$p: SET with cbInBuffer 0"
	expect_field "$l" set_badptr WSAEFAULT/0 "$p: SET from outside the address space"
	expect_field "$l" set ok/0 "$p: SET before connect"
	expect_field "$l" onward ok "$p: connected onward"
	expect_field "$l" set_after WSAEISCONN/0 "$p: SET after connect"
done
check "each proxy saw the curl flow exactly once" \
	[ "$(wc -l <"$WORK/pa.log")/$(wc -l <"$WORK/pb.log")" = 1/1 ]

# --- the C client: bytes unmodified, several flows ----------------------------
bg app "$TOOLS/crd-client" --count 3 --bytes 100000 127.0.0.1 8080 >"$WORK/client.out"
wait "$BG_PID"
rc=$?
check "crd-client: 3 x 100000 bytes echoed unmodified through the chain (rc=$rc)" [ "$rc" = 0 ]
wait_lines "$WORK/pa.log" 4
wait_lines "$WORK/pb.log" 4
check "each proxy saw each client flow once (4 lines each)" \
	[ "$(wc -l <"$WORK/pa.log")/$(wc -l <"$WORK/pb.log")" = 4/4 ]
check "client flows: B always first, A always second" \
	[ "$(grep -c " hop=0 nhops=1 " "$WORK/pb.log")/$(grep -c " hop=1 nhops=2 " "$WORK/pa.log")" = 4/4 ]

# --- a connection straight to a proxy's listener is never redirected ------------
bg app curl -s -o /dev/null --max-time 3 http://127.0.0.1:15001/
wait "$BG_PID"
wait_lines "$WORK/pa.log" 5
l=$(tail -n1 "$WORK/pa.log")
expect_field "$l" size WSAENOPROTOOPT/0 "never redirected (to A's listener)"
expect_field "$l" records WSAENOPROTOOPT/0 "never redirected (to A's listener)"
expect_field "$l" context WSAENOPROTOOPT/0 "never redirected (to A's listener)"
expect_field "$l" routine none "never redirected: failed at once, no completion routine"
expect_field "$l" onward none "never redirected: nowhere to go"

# --- SET by other processes, on a live flow ------------------------------------
bg app "$TOOLS/crd-client" --hold 4 --bytes 10 127.0.0.1 8080 >/dev/null
client=$BG_PID
wait_lines "$WORK/pa.log" 6
flow=$(field "$(tail -n1 "$WORK/pa.log")" flow)
blob=$WORK/blobs/$flow-2.blob
wait_file "$blob" || fail "proxy A wrote no blob for flow $flow"
setrec() { # CGROUP ARGS... -> "set=X|peer=Y|"
	local cg=$1
	shift
	in_cg "$cg" "$WSPROXY" --try-set "$@" | tr '\n' '|'
}
r=$(setrec other "$blob" --connect 127.0.0.1:8080)
check "SET by a process that is no proxy: WSAEACCES, still redirected to B ($r)" \
	[ "$r" = "set=WSAEACCES/0|peer=127.0.0.1:15002|" ]
r=$(setrec pb "$blob")
check "SET by B's proxy (not the last service): WSAEACCES ($r)" [ "$r" = "set=WSAEACCES/0|" ]
r=$(setrec pa "$blob" --connect 127.0.0.1:8080)
check "replayed blob (continued by A's live socket): WSAEINVAL ($r)" \
	[ "${r%%|*}" = "set=WSAEINVAL/0" ]
r=$(setrec pa "$blob" --flip 16)
check "forged flow id: WSAEINVAL ($r)" [ "$r" = "set=WSAEINVAL/0|" ]
r=$(setrec pa "$blob" --flip 0)
check "wrong magic: WSAEINVAL ($r)" [ "$r" = "set=WSAEINVAL/0|" ]
wait "$client"
check "the held client flow completed" [ $? = 0 ]
check "the kernel refused exactly the two SETs of non-proxies (set_records_eacces=2)" \
	[ "$(stat_counter set_records_eacces)" = 2 ]
