#!/usr/bin/env bash
# 02-sequential: 100,000 TCP connections, one after the other, through a
# chain of two connredir-proxy services (app -> A0 -> B0 -> origin). Every
# one echoes its 64 bytes (a per-connection byte pattern, every byte
# compared by crd-client), both proxies log every one, and the redirected
# counter counts both hops of each. Afterwards every connredir map, each
# proxy's descriptors and its RSS are back to idle (see common.bash).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/common.bash"

N=100000
BYTES=64
load_setup 1
r0=$(stat_counter redirected)

start=$SECONDS
bg app "$TOOLS/crd-client" --count "$N" --bytes "$BYTES" --timeout 30 127.0.0.1 8080 \
	>"$WORK/c.out" 2>"$WORK/c.err"
wait "$BG_PID"
rc=$?
secs=$((SECONDS - start))
echo "client: $secs s, $(tail -n1 "$WORK/c.out")"
check "$N sequential connections through the chain all echo their $BYTES bytes intact, in $secs s (rc=$rc, $(tail -n1 "$WORK/c.out"))" \
	[ "$rc" = 0 -a "$(tail -n1 "$WORK/c.out")" = "summary ok=$N fail=0" ]
r=$(stat_counter redirected)
check "the redirected counter counts both hops of each ($((r - r0)) = 2 x $N)" [ $((r - r0)) = $((2 * N)) ]
logged_all "$N" "$BYTES"
load_back_to_idle "after $N sequential connections"
