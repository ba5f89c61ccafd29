#!/usr/bin/env bash
# 05-original-dst: an unmodified transparent proxy that only reads
# SO_ORIGINAL_DST (SOL_IP) / IP6T_SO_ORIGINAL_DST (SOL_IPV6) gets the
# original destination, forwards there, and is not handed its own flow back.
. "$(dirname "$0")/../lib.sh"

crd attach "$TEST_CG" >/dev/null || { fail "attach"; exit; }
start_origin 127.0.0.1:8080 '[::1]:8080'
bg po "$TOOLS/crd-origdst" --forward 127.0.0.1:15010 >"$WORK/o4.out"
bg po "$TOOLS/crd-origdst" --forward '[::1]:15010' >"$WORK/o6.out"
wait_lines "$WORK/o4.out" 1 && wait_lines "$WORK/o6.out" 1 || fail "crd-origdst did not start"

# Before any service exists: a direct connection has no original destination.
bg app "$TOOLS/crd-client" --bytes 10 127.0.0.1 15010 >/dev/null 2>&1
wait $BG_PID
wait_lines "$WORK/o4.out" 2
check "not redirected: SO_ORIGINAL_DST keeps the kernel's error" \
	grep -q "^origdst-error " "$WORK/o4.out"

crd service add plain --proxy 127.0.0.1:15010 --proxy '[::1]:15010' --owner-cgroup po >/dev/null
bg app "$TOOLS/crd-client" --count 3 --bytes 5000 127.0.0.1 8080 >"$WORK/c4.out" 2>&1
wait $BG_PID
check "IPv4 client through the SO_ORIGINAL_DST proxy (echo intact)" [ $? = 0 ]
check "SO_ORIGINAL_DST gave 127.0.0.1:8080 three times, nothing else" \
	[ "$(grep -c '^origdst 127.0.0.1:8080$' "$WORK/o4.out")/$(grep -c '^origdst ' "$WORK/o4.out")" = 3/3 ]

bg app "$TOOLS/crd-client" -6 --bytes 5000 ::1 8080 >"$WORK/c6.out" 2>&1
wait $BG_PID
check "IPv6 client through the proxy (echo intact)" [ $? = 0 ]
check "IP6T_SO_ORIGINAL_DST gave [::1]:8080" grep -q '^origdst \[::1\]:8080$' "$WORK/o6.out"

bg app curl -s -o "$WORK/curl.out" --max-time 10 http://127.0.0.1:8080/x
wait $BG_PID
check "curl through the unmodified proxy" grep -q "origin ok" "$WORK/curl.out"
check "the proxy never got its own flow back (no ELOOP)" bash -c "! grep -q -i loop '$WORK/o4.out' '$WORK/o6.out'"
