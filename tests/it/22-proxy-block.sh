#!/usr/bin/env bash
# 22-proxy-block: block= rules refuse flows by HTTP host (Host header or
# absolute-form target), TLS server name and original destination (address,
# prefix, address:port); a refused flow is reset, logged with its reason,
# and never reaches the origin (the proxy decides before connecting). With
# --peek-timeout 0 it connects at once, and then none of the refused flow's
# bytes reach the origin. Other flows pass.
. "$(dirname "$0")/../lib.sh"

PROXY=$BUILD/connredir-proxy
[ -x "$PROXY" ] || { fail "no $PROXY (run make)"; exit; }
command -v openssl >/dev/null || { fail "openssl is needed"; exit; }

crd attach "$TEST_CG" >/dev/null || { fail "attach"; exit; }
start_origin 127.0.0.1:8080 127.0.0.1:8081 127.0.0.2:8080 127.0.0.1:8443 127.0.0.5:8080 '[::1]:8080'
crd service add F --proxy 127.0.0.1:15001 --proxy '[::1]:15001' --owner-cgroup pf >/dev/null
start_cproxy pf pf --service F --listen 127.0.0.1:15001 --listen '[::1]:15001' \
	--inspect log,http,tls,block=host:evil.example,block=sni:*.ads.example \
	--inspect block=dst:127.0.0.2,block=dst:127.0.0.1:8081,block=dst:[::1]/128:8080 || exit

n=0
next_line() {
	n=$((n + 1))
	wait_lines "$WORK/pf.log" "$n"
	line=$(sed -n "${n}p" "$WORK/pf.log")
}
# get NAME URL [CURL ARGS...]: curl in cgroup app; sets rc, line.
get() {
	local name=$1 url=$2
	shift 2
	in_cg app curl -s -o "$WORK/$name.out" --max-time 10 "$@" "$url"
	rc=$?
	next_line
}
blocked() { # WHAT REASON
	check "$1: curl fails (rc=$rc)" [ "$rc" != 0 ]
	check "$1: verdict block by block, ended blocked" \
		[ "$(jf "$line" verdict)/$(jf "$line" blocked_by)/$(jf "$line" end_reason)" = block/block/blocked ]
	check "$1: reason '$2'" [ "$(jf "$line" reason)" = "$2" ]
	check "$1: nothing reached the origin (bytes_up 0)" [ "$(jf "$line" bytes_up)" = 0 ]
}
allowed() { # WHAT
	check "$1: curl gets the origin's answer" grep -q "^origin ok" "$WORK/$2.out"
	check "$1: verdict allow, ended closed" \
		[ "$(jf "$line" verdict)/$(jf "$line" end_reason)/$(jf "$line" reason)" = allow/closed/null ]
}

# --- HTTP host -------------------------------------------------------------
get h1 http://127.0.0.1:8080/a -H 'Host: evil.example'
blocked "Host evil.example" "host evil.example matches block=host:evil.example"
check "Host evil.example: the http inspector still logged the request" \
	[ "$(jf "$line" http_method)/$(jf "$line" http_host)" = GET/evil.example ]
get h2 http://127.0.0.1:8080/b -H 'Host: EVIL.Example.:8080'
blocked "Host EVIL.Example.:8080 (case, trailing dot, port)" \
	"host EVIL.Example. matches block=host:evil.example"
get h3 http://127.0.0.1:8080/c --request-target http://evil.example/c
blocked "absolute-form target http://evil.example/c" \
	"request target host evil.example matches block=host:evil.example"
get h4 http://127.0.0.1:8080/d -H 'Host: good.example'
allowed "Host good.example" h4
get h5 http://127.0.0.1:8080/e -H 'Host: notevil.example'
allowed "Host notevil.example (no partial match)" h5

# --- TLS server name ----------------------------------------------------------
ossl() { # SNI
	in_cg app timeout 10 openssl s_client -connect 127.0.0.1:8443 -servername "$1" \
		</dev/null >"$WORK/ossl.out" 2>&1
	next_line
}
ossl tracker.ads.example
check "SNI tracker.ads.example: blocked by block=sni:*.ads.example" \
	[ "$(jf "$line" verdict)/$(jf "$line" reason)" = "block/server name tracker.ads.example matches block=sni:*.ads.example" ]
check "SNI tracker.ads.example: logged by the tls inspector, nothing sent on" \
	[ "$(jf "$line" tls_sni)/$(jf "$line" bytes_up)" = tracker.ads.example/0 ]
ossl ads.example
check "SNI ads.example: '*.ads.example' does not cover it, allowed" \
	[ "$(jf "$line" verdict)/$(jf "$line" tls_sni)" = allow/ads.example ]
check "SNI ads.example: the ClientHello went on (bytes_up > 0)" [ "$(jf "$line" bytes_up)" -gt 0 ]

# --- destination --------------------------------------------------------------
get d1 http://127.0.0.2:8080/
blocked "dst 127.0.0.2:8080" "destination 127.0.0.2:8080 matches block=dst:127.0.0.2"
check "dst 127.0.0.2: refused before the HTTP request was even parsed" [ -z "$(jf "$line" http_method)" ]
get d2 http://127.0.0.1:8081/
blocked "dst 127.0.0.1:8081" "destination 127.0.0.1:8081 matches block=dst:127.0.0.1:8081"
get d3 -g 'http://[::1]:8080/'
blocked "dst [::1]:8080" "destination [::1]:8080 matches block=dst:[::1]/128:8080"
get d4 http://127.0.0.5:8080/
allowed "dst 127.0.0.5:8080" d4

# --- the origin's view ------------------------------------------------------------
sleep 0.3
check "the origin never saw a connection to a blocked destination" \
	bash -c "! grep -E -q 'local=(127.0.0.2:8080|127.0.0.1:8081|\[::1\]:8080) ' '$WORK/origin.log'"
check "the origin saw the 3 allowed HTTP flows and the allowed TLS one, nothing else" \
	[ "$(grep -c '^conn ' "$WORK/origin.log")/$(grep -c ' in=0 ' "$WORK/origin.log")" = 4/0 ]
# --- --peek-timeout 0: connect at once, hold the bytes ----------------------------
kill "$PX_PID"
wait "$PX_PID"
start_cproxy pf p0 --service F --listen 127.0.0.1:15001 --peek-timeout 0 \
	--inspect log,block=host:evil.example || exit
n=0
in_cg app curl -s -o /dev/null --max-time 10 -H 'Host: evil.example' http://127.0.0.1:8080/late
rc=$?
n=$((n + 1))
wait_lines "$WORK/p0.log" 1
line=$(head -n1 "$WORK/p0.log")
check "--peek-timeout 0: Host evil.example still refused (curl rc=$rc)" \
	[ "$rc" != 0 -a "$(jf "$line" verdict)" = block ]
sleep 0.3
check "--peek-timeout 0: the origin saw the connection but not one byte of it" \
	[ "$(grep -c ' in=0 ' "$WORK/origin.log")" = 1 ]
in_cg app "$TOOLS/crd-client" --bytes 50000 127.0.0.1 8080 >"$WORK/client.out" 2>&1
rc=$?
check "a crd-client echo flow passes the rules unharmed (rc=$rc)" [ "$rc" = 0 ]
