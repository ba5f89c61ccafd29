#!/usr/bin/env bash
# 08-api: the socket-option API answers every case with the documented errno:
# never-redirected (ENOENT), unconnected (ENOTCONN), other protocols
# (EOPNOTSUPP), short buffers (ENOSPC, with the size needed through
# CONNREDIR_RECORDS_SIZE), contexts only for the service's own proxy
# (EACCES otherwise), and SO_ORIGINAL_DST.
. "$(dirname "$0")/../lib.sh"

crd attach "$TEST_CG" >/dev/null || { fail "attach"; exit; }
start_origin 127.0.0.1:8080

# No connredir on the socket's cgroup: the library says EOPNOTSUPP.
out=$("$TOOLS/crd-apicheck" local)
check "outside the attached cgroup: EOPNOTSUPP" grep -q "^direct_accepted_records=EOPNOTSUPP$" <<<"$out"

out=$(in_cg app "$TOOLS/crd-apicheck" local)
label=local
expect() { check "$label: $1" grep -qx "$1" <<<"$out"; }
expect "unconnected_records=ENOTCONN"
expect "unconnected_context=ENOTCONN"
expect "unconnected_state=ENOTCONN"
expect "direct_accepted_records=ENOENT"
expect "direct_accepted_context=ENOENT"
expect "direct_accepted_state=ENOENT"
expect "direct_connecting_records=ENOENT"
expect "listener_records=ENOTCONN"
expect "udp_records=EOPNOTSUPP"
expect "unix_records=EOPNOTSUPP"
expect "set_on_udp=EINVAL"

crd service add X --proxy 127.0.0.1:15050 --owner-cgroup px --owner-uid 0 >/dev/null
X=$(crd service list --json | sed -n 's/.*"id":\([0-9]*\),"name":"X".*/\1/p')

# 1. X's proxy accepts, then stops being X's identity (another uid).
bg px "$TOOLS/crd-apicheck" accept --drop-uid 65534 127.0.0.1:15050 >"$WORK/other.out"
wait_lines "$WORK/other.out" 1
bg app "$TOOLS/crd-client" --bytes 1 --timeout 2 127.0.0.1 8080 >/dev/null 2>&1
wait_lines "$WORK/other.out" 13
out=$(cat "$WORK/other.out")
label="not the proxy"
expect "raw_size=ok 64"
expect "raw_short=ENOSPC"
expect "raw_records=ok 64"
expect "raw_unknown_opt=ENOPROTOOPT"
expect "lib_short=ENOSPC needed=64"
expect "lib_records=ok size=64"
expect "decode=ok nhops=1 first=$X"
expect "decode_short=EINVAL"
expect "state=ok REDIRECTED_BY_OTHER service=0 nhops=1"
expect "context=EACCES"
expect "origdst=127.0.0.1:8080"

# 2. X's own proxy.
bg px "$TOOLS/crd-apicheck" accept 127.0.0.1:15050 >"$WORK/px.out"
wait_lines "$WORK/px.out" 1
bg app "$TOOLS/crd-client" --bytes 1 --timeout 2 127.0.0.1 8080 >/dev/null 2>&1
wait_lines "$WORK/px.out" 13
out=$(cat "$WORK/px.out")
label="X's proxy"
expect "state=ok REDIRECTED_BY_SELF service=$X nhops=1"
expect "context=ok dst=127.0.0.1:8080 comm=crd-client service=$X hop=0"

# Claiming a listener: only the service's proxy identity may.
out=$(in_cg px "$TOOLS/crd-apicheck" claim X 127.0.0.1:15051)
label="claim by X's proxy"
expect "claim=ok"
expect "claim_udp=EINVAL"
out=$(in_cg other "$TOOLS/crd-apicheck" claim X 127.0.0.1:15051)
label="claim by another process"
expect "claim=EACCES"
out=$(in_cg px "$TOOLS/crd-apicheck" claim nosuch 127.0.0.1:15051)
label="claim for an unknown service"
expect "claim=ENOENT"
