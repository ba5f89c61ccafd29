#!/usr/bin/env bash
# 19-reattach: after `detach` and `attach` again, a running connredir-proxy
# claims its listener again by itself (no restart) and takes the flows;
# `status` shows each service's proxy as up or down, with its pid and, when
# down, why: nothing listens, or a listener bound before the attach (an
# unmodified proxy: restart it), or a squatter outside the proxy identity.
. "$(dirname "$0")/../lib.sh"

crd attach "$TEST_CG" >/dev/null || { fail "attach"; exit; }
start_origin 127.0.0.1:8080
add() {
	crd service add A --proxy 127.0.0.1:15001 --owner-cgroup pa --dport 8080 >/dev/null &&
		crd service add T --proxy 127.0.0.1:15002 --owner-cgroup pt --dport 8081 >/dev/null &&
		crd service add N --proxy 127.0.0.1:15003 --owner-cgroup pn --dport 8082 >/dev/null &&
		crd service add S --proxy 127.0.0.1:15004 --owner-cgroup ps --dport 8083 >/dev/null
}
add || fail "services"
start_cproxy pa pa --service A --listen 127.0.0.1:15001 || exit
PA=$PX_PID
start_proxy pt 127.0.0.1:15002
PT=$BG_PID
bg squat "$TOOLS/crd-attack" sink 127.0.0.1:15004 60 >/dev/null
SQ=$BG_PID
sleep 0.3
proxy_json() { # NAME KEY
	crd status --json | python3 -c '
import json, sys
for s in json.load(sys.stdin)["services"]:
    if s["service"]["name"] == sys.argv[1]:
        print(s["proxy"][sys.argv[2]])' "$1" "$2"
}
check "status: A's proxy is up, pid $PA" [ "$(proxy_json A up)/$(proxy_json A pid)" = "True/$PA" ]
check "status: T's (unmodified, bound by identity) proxy is up, pid $PT" \
	[ "$(proxy_json T up)/$(proxy_json T pid)" = "True/$PT" ]
check "status: N's proxy is down, nothing listens" \
	bash -c "'$CRD' --instance $INST status | grep -q '^  N  *down: nothing listens on its proxy address'"
check "status: S's address is held by a squatter, pid $SQ" \
	[ "$(proxy_json S up)/$(proxy_json S pid)" = "False/$SQ" ]
check "status text names the squatter's pid" \
	bash -c "'$CRD' --instance $INST status | grep -q '^  S  *down: pid $SQ holds its address, but .*squatter'"

bg app curl -s -o /dev/null --max-time 5 http://127.0.0.1:8080/
wait "$BG_PID"
check "before: curl goes through A's proxy" eventually_eq 1 grep -c . "$WORK/pa.log"

crd detach >/dev/null || fail "detach"
crd attach "$TEST_CG" >/dev/null || fail "attach again"
add || fail "services again"
# connredir-proxy claims again every 2 seconds: up within 10.
up_within() { local i; for ((i = 0; i < 50; i++)); do [ "$(proxy_json A up)" = True ] && return 0; sleep 0.2; done; return 1; }
check "after detach and attach: A's proxy claims again by itself and is up" up_within
bg app curl -s -o /dev/null --max-time 5 http://127.0.0.1:8080/
wait "$BG_PID"
check "after detach and attach: curl goes through A's proxy, not restarted" \
	eventually_eq 2 grep -c . "$WORK/pa.log"
check "status: T's proxy (bound before the attach) is down, and status says to restart it" \
	bash -c "'$CRD' --instance $INST status | grep -q '^  T  *down: pid $PT holds its address, but the listener was bound before this instance was attached'"
