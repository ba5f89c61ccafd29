#!/usr/bin/env bash
# 03-set-records: setting records is refused for a process that is not the
# proxy identity (EACCES) and for forged, truncated, stale and replayed
# blobs (EINVAL), and for a socket already connected (EISCONN); in every
# case the connection is still redirected.
. "$(dirname "$0")/../lib.sh"

crd attach "$TEST_CG" >/dev/null || { fail "attach"; exit; }
start_origin 127.0.0.1:8080
mkdir -p "$WORK/blobs"
PROXY_OPTS="--blob-dir $WORK/blobs" start_proxy pa 127.0.0.1:15001
start_proxy pb 127.0.0.1:15002
crd service add A --proxy 127.0.0.1:15001 --weight 200 --owner-cgroup pa >/dev/null
crd service add B --proxy 127.0.0.1:15002 --weight 100 --owner-cgroup pb >/dev/null

# One live flow, held open: app -> A -> B -> origin.
bg app "$TOOLS/crd-client" --hold 4 --bytes 10 127.0.0.1 8080
client=$BG_PID
wait_lines "$WORK/pa.log" 1 && wait_file "$WORK/blobs"/*.blob 2>/dev/null
blob=$(ls "$WORK/blobs"/*.blob 2>/dev/null | head -n1)
[ -n "$blob" ] || { fail "proxy A wrote no blob"; exit; }
check "A set the records on its onward socket" [ "$(field "$(head -n1 "$WORK/pa.log")" set)" = ok ]

setrec() { # CGROUP ARGS... -> "set X|peer Y"
	local cg=$1
	shift
	in_cg "$cg" "$TOOLS/crd-setrec" "$@" | tr '\n' '|'
}
r=$(setrec other --connect 127.0.0.1:8080 "$blob")
check "not the proxy identity: EACCES, still redirected to A ($r)" [ "$r" = "set EACCES|peer 127.0.0.1:15001|" ]
r=$(setrec pa --flip token --connect 127.0.0.1:8080 "$blob")
check "forged token: EINVAL, still redirected (to B: A's own proxy) ($r)" [ "$r" = "set EINVAL|peer 127.0.0.1:15002|" ]
r=$(setrec pa --flip flow "$blob")
check "forged flow id: EINVAL ($r)" [ "$r" = "set EINVAL|" ]
r=$(setrec pa --flip hop "$blob")
check "forged hop list: EINVAL ($r)" [ "$r" = "set EINVAL|" ]
r=$(setrec pa --flip magic "$blob")
check "wrong magic: EINVAL ($r)" [ "$r" = "set EINVAL|" ]
r=$(setrec pa --flip size "$blob")
check "wrong size field: EINVAL ($r)" [ "$r" = "set EINVAL|" ]
r=$(setrec pa --truncate 40 "$blob")
check "truncated blob: EINVAL ($r)" [ "$r" = "set EINVAL|" ]
r=$(setrec pa --connect 127.0.0.1:8080 "$blob")
check "replayed blob (flow continued by A's live socket): EINVAL, still redirected ($r)" \
	[ "$r" = "set EINVAL|peer 127.0.0.1:15002|" ]
r=$(setrec pa --connect-first --connect 127.0.0.1:8080 "$blob")
check "set after connect: EISCONN ($r)" [ "$r" = "set EISCONN|" ]

wait "$client"
check "the held client flow completed" [ $? = 0 ]
sleep 0.3
r=$(setrec pa --connect 127.0.0.1:8080 "$blob")
check "stale blob (its flow has closed): EINVAL, still redirected ($r)" \
	[ "$r" = "set EINVAL|peer 127.0.0.1:15002|" ]
check "set_records_eacces counted once" [ "$(stat_counter set_records_eacces)" = 1 ]
check "set_records_einval counted for each refusal (9)" [ "$(stat_counter set_records_einval)" = 9 ]
