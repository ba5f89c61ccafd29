#!/usr/bin/env bash
# 25-proxy-signals: on SIGTERM connredir-proxy stops accepting at once,
# lets the open flows finish and exits 0; flows still open after
# --drain-timeout are reset and logged as "shutdown" (it still exits 0).
# SIGHUP reopens the log file (after logrotate moved it away).
. "$(dirname "$0")/../lib.sh"

PROXY=$BUILD/connredir-proxy
[ -x "$PROXY" ] || { fail "no $PROXY (run make)"; exit; }

# wait_conns N: until the origin has N connections established.
wait_conns() {
	local i
	for ((i = 0; i < 200; i++)); do
		[ "$(ss -Htn state established '( sport = :8080 )' | wc -l)" -ge "$1" ] && return 0
		sleep 0.05
	done
	return 1
}

crd attach "$TEST_CG" >/dev/null || { fail "attach"; exit; }
start_origin 127.0.0.1:8080
crd service add G --proxy 127.0.0.1:15001 --owner-cgroup pg >/dev/null

# --- SIGTERM: open flows finish -------------------------------------------------
start_cproxy pg pg --service G --listen 127.0.0.1:15001 --drain-timeout 10 || exit
px=$PX_PID
bg app "$TOOLS/crd-client" --parallel 5 --hold 2 --bytes 1000 127.0.0.1 8080 >"$WORK/c1.out" 2>&1
client=$BG_PID
wait_conns 5 || fail "the 5 held flows did not open"
kill -TERM "$px"
sleep 0.3
in_cg app curl -s -o /dev/null --max-time 5 http://127.0.0.1:8080/late
rc=$?
check "after SIGTERM no new flow is accepted (curl rc=$rc: refused)" [ "$rc" = 7 ]
check "the proxy is still running while flows are open" kill -0 "$px"
wait "$client"
rc=$?
check "the 5 open flows finished normally (crd-client rc=$rc)" [ "$rc" = 0 ]
wait "$px"
rc=$?
check "then the proxy exited 0 (rc=$rc)" [ "$rc" = 0 ]
check "it logged the 5 flows as closed" [ "$(grep -c '"end_reason":"closed"' "$WORK/pg.log")" = 5 ]
check "it said it was waiting for 5 flows" grep -q "waiting for 5 open flows" "$WORK/pg.err"

# --- SIGTERM: flows outlasting --drain-timeout are reset ------------------------------
start_cproxy pg pd --service G --listen 127.0.0.1:15001 --drain-timeout 1 || exit
px=$PX_PID
bg app "$TOOLS/crd-client" --parallel 3 --hold 6 --bytes 1000 127.0.0.1 8080 >"$WORK/c2.out" 2>&1
client=$BG_PID
wait_conns 3 || fail "the 3 held flows did not open"
t0=$(date +%s%N)
kill -TERM "$px"
wait "$px"
rc=$?
t=$((($(date +%s%N) - t0) / 1000000))
check "with flows held for 6 s, the proxy exits 0 after --drain-timeout 1 (rc=$rc, ${t} ms)" \
	[ "$rc" = 0 -a "$t" -ge 1000 -a "$t" -lt 5000 ]
check "the held flows were logged as ended by the shutdown" \
	[ "$(grep -c '"end_reason":"shutdown"' "$WORK/pd.log")" = 3 ]
wait "$client"
check "the client saw its flows reset" grep -q "^fail .*reset" "$WORK/c2.out"

# --- SIGHUP reopens the log -------------------------------------------------------------
start_cproxy pg ph --service G --listen 127.0.0.1:15001 || exit
px=$PX_PID
in_cg app "$TOOLS/crd-client" --count 2 --bytes 100 127.0.0.1 8080 >/dev/null
wait_lines "$WORK/ph.log" 2
mv "$WORK/ph.log" "$WORK/ph.log.1"
in_cg app "$TOOLS/crd-client" --bytes 100 127.0.0.1 8080 >/dev/null
wait_lines "$WORK/ph.log.1" 3
kill -HUP "$px"
sleep 0.2
in_cg app "$TOOLS/crd-client" --count 2 --bytes 100 127.0.0.1 8080 >/dev/null
wait_lines "$WORK/ph.log" 2
check "before SIGHUP the moved file got the lines (3)" [ "$(wc -l <"$WORK/ph.log.1")" = 3 ]
check "after SIGHUP a new log file gets them (2)" [ "$(wc -l <"$WORK/ph.log" 2>/dev/null)" = 2 ]
check "SIGHUP did not stop the proxy" kill -0 "$px"
kill -TERM "$px"
wait "$px"
rc=$?
check "idle proxy: SIGTERM exits 0 at once (rc=$rc)" [ "$rc" = 0 ]
