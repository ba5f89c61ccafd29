#!/usr/bin/env bash
# 23-proxy-relay: connredir-proxy carries half-closes (both ways) and resets
# (both ways) across; a 50 MB echo arrives intact and moves by splice(2)
# after the inspection window (the log's spliced_* counters), or entirely
# by copying with --copy-only; idle, connect-refused and connect time-outs
# end flows with the right end_reason.
. "$(dirname "$0")/../lib.sh"

PROXY=$BUILD/connredir-proxy
[ -x "$PROXY" ] || { fail "no $PROXY (run make)"; exit; }
command -v python3 >/dev/null || { fail "python3 is needed"; exit; }
WINDOW=16384   # INSPECT_WINDOW: bytes per direction copied for inspection, at most

n=0
next_line() {
	n=$((n + 1))
	wait_lines "$WORK/$1.log" "$n"
	line=$(sed -n "${n}p" "$WORK/$1.log")
}

# peer.py ROLE MODE PORT [FILE]: one-connection test peers.
#  server halfclose: send "banner", shut down writing, read to EOF, write
#                    the byte count to FILE
#  client halfclose: read to EOF (the banner), then send 100000 bytes, shut
#                    down, print "banner=B sent=N"
#  server watch:     read until EOF or reset; write "eof N" / "reset N" to FILE
#  client reset:     send 1000 bytes, wait, close with an RST
#  server reset:     read 1000 bytes, close with an RST
#  client watch:     send 1000 bytes, read: print "reset" or "eof"
#  client idle:      send 10 bytes, read them back, wait: print "reset",
#                    "eof" or "still open" after 5 s
#  server slow:      read nothing for 2 s, then read to EOF; write the byte
#                    count to FILE
#  client push:      send 100 MB in 1 MB writes, shut down, wait for EOF
cat >"$WORK/peer.py" <<'PY'
import socket, struct, sys, time
role, mode, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
out = sys.argv[4] if len(sys.argv) > 4 else None
def rst(s):
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
    s.close()
def drain(s):
    n = 0
    while True:
        b = s.recv(65536)
        if not b:
            return n
        n += len(b)
if role == 'server':
    l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    l.bind(('127.0.0.1', port)); l.listen(8)
    open(out + '.ready', 'w').close()
    c, _ = l.accept()
    if mode == 'halfclose':
        c.sendall(b'banner'); c.shutdown(socket.SHUT_WR)
        open(out, 'w').write('%d\n' % drain(c)); c.close()
    elif mode == 'watch':
        n = 0
        try:
            n = drain(c); r = 'eof'
        except ConnectionResetError:
            r = 'reset'
        open(out, 'w').write('%s\n' % r)
    elif mode == 'slow':
        time.sleep(2)
        open(out, 'w').write('%d\n' % drain(c)); c.close()
    elif mode == 'reset':
        got = 0
        while got < 1000:
            got += len(c.recv(1000 - got))
        rst(c)
else:
    s = socket.create_connection(('127.0.0.1', port), timeout=10)
    if mode == 'halfclose':
        banner = b''
        while True:
            b = s.recv(100)
            if not b: break
            banner += b
        s.sendall(b'x' * 100000); s.shutdown(socket.SHUT_WR)
        print('banner=%s sent=100000' % banner.decode())
    elif mode == 'reset':
        s.sendall(b'y' * 1000); time.sleep(0.5); rst(s)
    elif mode == 'watch':
        s.sendall(b'z' * 1000)
        try:
            print('eof' if drain(s) == 0 else 'data')
        except ConnectionResetError:
            print('reset')
    elif mode == 'push':
        chunk = b'p' * (1 << 20)
        for _ in range(100):
            s.sendall(chunk)
        s.shutdown(socket.SHUT_WR); drain(s)
    elif mode == 'idle':
        s.sendall(b'0123456789'); s.recv(10); s.settimeout(5)
        try:
            print('eof' if not s.recv(10) else 'data')
        except ConnectionResetError:
            print('reset')
        except socket.timeout:
            print('still open')
PY
peer_server() { # MODE PORT NAME
	rm -f "$WORK/$3" "$WORK/$3.ready"
	python3 "$WORK/peer.py" server "$1" "$2" "$WORK/$3" &
	PIDS+=($!)
	wait_file "$WORK/$3.ready" || fail "peer server $3 did not start"
}

crd attach "$TEST_CG" >/dev/null || { fail "attach"; exit; }
start_origin 127.0.0.1:8080
crd service add R --proxy 127.0.0.1:15001 --owner-cgroup pr >/dev/null
start_cproxy pr pr --service R --listen 127.0.0.1:15001 --inspect log,http,tls \
	--idle-timeout 1 --connect-timeout 0.5 --peek-timeout 0.3 || exit

# --- half-close -------------------------------------------------------------
out=$(in_cg app "$TOOLS/crd-client" --count 3 --bytes 1000 127.0.0.1 8080)
check "client half-close carried to the echo origin and its close back (crd-client)" \
	grep -q "summary ok=3 fail=0" <<<"$out"
n=3
peer_server halfclose 9001 hc
out=$(in_cg app python3 "$WORK/peer.py" client halfclose 9001)
wait_file "$WORK/hc"
check "server half-close: the client read the banner and EOF ($out)" [ "$out" = "banner=banner sent=100000" ]
check "... and could still send: the server got all 100000 bytes after its own FIN" \
	[ "$(cat "$WORK/hc" 2>/dev/null)" = 100000 ]
next_line pr
check "half-closed flow: ended closed, 100000 up, 6 down" \
	[ "$(jf "$line" end_reason)/$(jf "$line" bytes_up)/$(jf "$line" bytes_down)" = closed/100000/6 ]
check "the server spoke first: the proxy connected after --peek-timeout 0.3 (flow took $(jf "$line" duration_ms) ms)" \
	[ "$(jf "$line" duration_ms | cut -d. -f1)" -ge 300 ]

# --- resets -------------------------------------------------------------------
peer_server watch 9002 rw
in_cg app python3 "$WORK/peer.py" client reset 9002
wait_file "$WORK/rw"
check "client RST carried across: the server saw a reset" [ "$(cat "$WORK/rw" 2>/dev/null)" = reset ]
next_line pr
check "client RST: end_reason client-reset" [ "$(jf "$line" end_reason)" = client-reset ]
peer_server reset 9003 rs
out=$(in_cg app python3 "$WORK/peer.py" client watch 9003)
check "server RST carried across: the client saw a reset ($out)" [ "$out" = reset ]
next_line pr
check "server RST: end_reason server-reset" [ "$(jf "$line" end_reason)" = server-reset ]

# --- 50 MB, spliced after the window ----------------------------------------------
bg app "$TOOLS/crd-client" --bytes 50000000 --timeout 60 127.0.0.1 8080 >"$WORK/big.out" 2>&1
wait $BG_PID
rc=$?
check "50 MB echoed intact through the proxy (rc=$rc)" [ "$rc" = 0 ]
next_line pr
up=$(jf "$line" bytes_up) down=$(jf "$line" bytes_down)
sup=$(jf "$line" spliced_up) sdown=$(jf "$line" spliced_down)
check "50 MB: bytes_up = bytes_down = 50000000" [ "$up/$down" = 50000000/50000000 ]
check "50 MB: spliced after the window: copied up $((up - sup)), down $((down - sdown)) (<= $WINDOW each)" \
	[ "$sup" -gt 0 -a "$sdown" -gt 0 -a $((up - sup)) -le $WINDOW -a $((down - sdown)) -le $WINDOW ]

# --- time-outs and refusals -------------------------------------------------------
out=$(in_cg app python3 "$WORK/peer.py" client idle 8080)
check "idle flow (--idle-timeout 1): the client saw a reset ($out)" [ "$out" = reset ]
next_line pr
check "idle flow: end_reason idle-timeout" [ "$(jf "$line" end_reason)" = idle-timeout ]
in_cg app curl -s -o /dev/null --max-time 5 http://127.0.0.1:8089/
rc=$?
# The RST reaches curl before or after its connect completed: 7 or 56.
check "nothing listening at the destination: the refusal reaches the client (curl rc=$rc)" \
	[ "$rc" = 7 -o "$rc" = 56 ]
next_line pr
check "refused: end_reason connect-failed, error Connection refused" \
	[ "$(jf "$line" end_reason)/$(jf "$line" error)" = "connect-failed/Connection refused" ]
if iptables -A OUTPUT -p tcp -d 127.0.0.9 --dport 9999 -j DROP 2>"$WORK/ipt.err"; then
	in_cg app curl -s -o /dev/null --max-time 5 http://127.0.0.9:9999/
	rc=$?
	check "a black-holed destination: the client's connection is reset (curl rc=$rc)" [ "$rc" = 56 ]
	next_line pr
	check "black hole: end_reason connect-timeout after --connect-timeout 0.5 (took $(jf "$line" duration_ms) ms)" \
		[ "$(jf "$line" end_reason)" = connect-timeout -a "$(jf "$line" duration_ms | cut -d. -f1)" -ge 500 ]
	iptables -D OUTPUT -p tcp -d 127.0.0.9 --dport 9999 -j DROP
else
	fail "iptables: $(cat "$WORK/ipt.err")"
fi

# --- --copy-only: the same 50 MB, never spliced ---------------------------------------
kill "$PX_PID"
wait "$PX_PID"
start_cproxy pr pc --service R --listen 127.0.0.1:15001 --copy-only || exit
bg app "$TOOLS/crd-client" --bytes 50000000 --timeout 60 127.0.0.1 8080 >"$WORK/big2.out" 2>&1
wait $BG_PID
rc=$?
check "--copy-only: 50 MB echoed intact (rc=$rc)" [ "$rc" = 0 ]
n=0
next_line pc
check "--copy-only: 50000000 bytes each way, none spliced" \
	[ "$(jf "$line" bytes_up)/$(jf "$line" bytes_down)/$(jf "$line" spliced_up)/$(jf "$line" spliced_down)" = 50000000/50000000/0/0 ]

# --- back-pressure: a server that reads nothing for 2 s ----------------------------
# The copy path's buffers are 64 KiB a direction: while the server does not
# read, the proxy stops reading, and its memory does not grow with the
# 100 MB the client pushes.
rss() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
peer_server slow 9004 slow
rss0=$(rss "$PX_PID") peak=0
bg app python3 "$WORK/peer.py" client push 9004
push=$BG_PID
while kill -0 "$push" 2>/dev/null; do
	r=$(rss "$PX_PID")
	[ "${r:-0}" -gt "$peak" ] && peak=$r
	sleep 0.05
done
wait "$push"
rc=$?
wait_file "$WORK/slow"
check "back-pressure: all 100 MB reached the slow server (rc=$rc)" \
	[ "$rc" = 0 -a "$(cat "$WORK/slow" 2>/dev/null)" = 104857600 ]
check "back-pressure: the proxy's memory stayed bounded (RSS $rss0 KiB, at most $peak KiB)" \
	[ "$peak" -lt $((rss0 + 8192)) ]
