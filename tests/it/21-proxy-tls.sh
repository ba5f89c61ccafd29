#!/usr/bin/env bash
# 21-proxy-tls: the tls inspector logs a ClientHello's server name (SNI)
# and ALPN list: from openssl s_client, and from hand-made ClientHellos
# that arrive in small pieces, span two TLS records, or are malformed
# (logged as an error; the flow still passes, bytes intact).
. "$(dirname "$0")/../lib.sh"

PROXY=$BUILD/connredir-proxy
[ -x "$PROXY" ] || { fail "no $PROXY (run make)"; exit; }
command -v python3 >/dev/null || { fail "python3 is needed"; exit; }
command -v openssl >/dev/null || { fail "openssl is needed"; exit; }

# hello.py MODE SNI ALPN,...: send a hand-made ClientHello to the echo
# origin (127.0.0.1:8443), check the echo, print "echo ok LEN".
# MODE: pieces (7 bytes at a time, 20 ms apart), split (the handshake in
# two records), bad-sni (server_name list length too long), whole.
cat >"$WORK/hello.py" <<'PY'
import socket, struct, sys, time
mode, sni, alpn = sys.argv[1], sys.argv[2], [a for a in sys.argv[3].split(',') if a]
def ext(t, d): return struct.pack('!HH', t, len(d)) + d
exts = b''
if sni:
    n = sni.encode()
    entry = b'\x00' + struct.pack('!H', len(n)) + n
    exts += ext(0, struct.pack('!H', len(entry) + (3 if mode == 'bad-sni' else 0)) + entry)
if alpn:
    l = b''.join(bytes([len(a)]) + a.encode() for a in alpn)
    exts += ext(16, struct.pack('!H', len(l)) + l)
exts += ext(43, b'\x02\x03\x04')
body = (b'\x03\x03' + bytes(range(32)) + b'\x00' + b'\x00\x02\x13\x01' + b'\x01\x00'
        + struct.pack('!H', len(exts)) + exts)
hs = b'\x01' + struct.pack('!I', len(body))[1:] + body
parts = [hs[:10], hs[10:]] if mode == 'split' else [hs]
data = b''.join(b'\x16\x03\x01' + struct.pack('!H', len(p)) + p for p in parts)
s = socket.create_connection(('127.0.0.1', 8443), timeout=10)
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
step = 7 if mode == 'pieces' else len(data)
for i in range(0, len(data), step):
    s.sendall(data[i:i + step])
    if mode == 'pieces':
        time.sleep(0.02)
s.shutdown(socket.SHUT_WR)
got = b''
while True:
    b = s.recv(65536)
    if not b:
        break
    got += b
print('echo ok' if got == data else 'echo BAD', len(data))
PY

crd attach "$TEST_CG" >/dev/null || { fail "attach"; exit; }
start_origin 127.0.0.1:8443
crd service add T --proxy 127.0.0.1:15001 --owner-cgroup pt >/dev/null
start_cproxy pt pt --service T --listen 127.0.0.1:15001 --inspect log,tls,http || exit

# --- openssl s_client ---------------------------------------------------
# The origin echoes the ClientHello back, so the handshake fails; the
# proxy has seen the ClientHello by then.
n=0
ossl() { # ARGS...: one openssl s_client run in cgroup app
	in_cg app timeout 10 openssl s_client -connect 127.0.0.1:8443 "$@" </dev/null >"$WORK/ossl.out" 2>&1
	n=$((n + 1))
	wait_lines "$WORK/pt.log" "$n"
	line=$(sed -n "${n}p" "$WORK/pt.log")
}
ossl -servername x.example -alpn h2,http/1.1
check "openssl: SNI x.example" [ "$(jf "$line" tls_sni)" = x.example ]
check "openssl: ALPN [h2, http/1.1]" [ "$(jf "$line" tls_alpn)" = '"h2","http/1.1"' ]
check "openssl: app_comm openssl, verdict allow, no http fields" \
	[ "$(jf "$line" app_comm)/$(jf "$line" verdict)/$(jf "$line" http_method)" = openssl/allow/ ]
check "openssl: the ClientHello went on to the origin and came back (bytes_up = bytes_down > 0)" \
	[ "$(jf "$line" bytes_up)" -gt 0 -a "$(jf "$line" bytes_up)" = "$(jf "$line" bytes_down)" ]
ossl -noservername
check "openssl -noservername: tls_sni null, tls_alpn []" \
	[ "$(jf "$line" tls_sni)/$(jf "$line" tls_alpn)" = null/ ]
ossl -servername y.example -alpn spdy/3 -tls1_2
check "openssl -tls1_2: SNI y.example, ALPN [spdy/3]" \
	[ "$(jf "$line" tls_sni)/$(jf "$line" tls_alpn)" = 'y.example/"spdy/3"' ]

# --- hand-made ClientHellos -------------------------------------------------
hello() { # MODE SNI ALPN
	out=$(in_cg app python3 "$WORK/hello.py" "$@")
	n=$((n + 1))
	wait_lines "$WORK/pt.log" "$n"
	line=$(sed -n "${n}p" "$WORK/pt.log")
}
hello pieces pieces.example h2,acme-tls/1
check "in 7-byte pieces: echo intact ($out)" grep -q "^echo ok" <<<"$out"
check "in 7-byte pieces: SNI pieces.example, ALPN [h2, acme-tls/1]" \
	[ "$(jf "$line" tls_sni)/$(jf "$line" tls_alpn)" = 'pieces.example/"h2","acme-tls/1"' ]
check "in 7-byte pieces: every byte went on to the origin" \
	[ "$(jf "$line" bytes_up)" = "$(awk '{print $3}' <<<"$out")" ]
hello split split.example http/1.1
check "over two TLS records: SNI split.example, ALPN [http/1.1]" \
	[ "$(jf "$line" tls_sni)/$(jf "$line" tls_alpn)" = 'split.example/"http/1.1"' ]
hello bad-sni bad.example h2
check "malformed server_name: echo intact ($out)" grep -q "^echo ok" <<<"$out"
check "malformed server_name: tls_error logged, no SNI, verdict allow" \
	[ "$(jf "$line" tls_error)/$(jf "$line" tls_sni)/$(jf "$line" verdict)" = "bad server_name list length//allow" ]
hello whole "" ""
check "no SNI, no ALPN: tls_sni null, tls_alpn []" \
	[ "$(jf "$line" tls_sni)/$(jf "$line" tls_alpn)" = null/ ]
check "every flow was logged once ($n)" [ "$(wc -l <"$WORK/pt.log")" = "$n" ]
undoc=$(for k in $(grep -o '"[a-z_]*":' "$WORK/pt.log" | tr -d '":' | sort -u); do
	sed 's/\\f[BIR]//g' "$T_ROOT/man/connredir-proxy.8" | grep -q "^\.B.* $k\b\|^\.B $k$\|, $k\b" || echo "$k"
done)
check "the man page documents every field logged here (missing: ${undoc:-none})" [ -z "$undoc" ]
