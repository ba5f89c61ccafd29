#!/usr/bin/env bash
# 01-concurrent: 10,000 TCP flows open at the same time, each through two
# connredir-proxy services (app -> A -> B -> origin). Every flow echoes its
# 4096 bytes (a per-flow byte pattern, every byte compared by crd-client);
# while they are held open, crd_flows_v3 holds, at one instant, both
# proxies' accepted sockets of all 10,000. After they end, every connredir
# map, each proxy's descriptors and its RSS are back to idle (common.bash).
#
# The flows go through one chain (services A0, B0) when a proxy may have the
# 60,000 descriptors 10,000 flows take (RLIMIT_NOFILE, raised if the test
# has CAP_SYS_RESOURCE); otherwise through K identical chains side by side,
# chain i for destination port 8080+i, each carrying 10,000/K of the flows.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/common.bash"

N=10000
BYTES=4096
HOLD=15
raise_nofile
K=$(chains_for "$N")
[ "$K" -gt 0 ] || { fail "RLIMIT_NOFILE $NOFILE is too low for $N flows"; exit; }
PER=$((N / K))
MAX_FLOWS=$((PER * 11 / 10))
echo "RLIMIT_NOFILE $NOFILE: $K chain(s) of $PER flows (--max-flows $MAX_FLOWS)"
load_setup "$K"
idle_flows=$(map_of "$IDLE_MAPS" crd_flows_v3)

start=$SECONDS
clients=()
for ((i = 0; i < K; i++)); do
	bg app "$TOOLS/crd-client" --parallel "$PER" --hold "$HOLD" --bytes "$BYTES" --timeout 60 \
		127.0.0.1 $((8080 + i)) >"$WORK/c$i.out" 2>"$WORK/c$i.err"
	clients+=("$BG_PID")
done
# Peaks while the clients run (their flows are all open during the hold).
peak_flows=0 peak_fds=()
for i in "${!PX[@]}"; do peak_fds+=(0); done
running() { local p; for p in "${clients[@]}"; do kill -0 "$p" 2>/dev/null && return 0; done; return 1; }
while running; do
	f=$(map_of "$(maps_all)" crd_flows_v3)
	[ -n "$f" ] && [ "$f" -gt "$peak_flows" ] && peak_flows=$f
	for i in "${!PX[@]}"; do
		f=$(fds "${PX[i]}")
		[ "$f" -gt "${peak_fds[i]}" ] && peak_fds[i]=$f
	done
	sleep 0.5
done
ok=0
for i in "${!clients[@]}"; do
	wait "${clients[i]}" && [ "$(tail -n1 "$WORK/c$i.out")" = "summary ok=$PER fail=0" ] &&
		ok=$((ok + PER))
done
echo "clients: $((SECONDS - start)) s (hold $HOLD s); peak crd_flows_v3 $peak_flows; peak descriptors ${peak_fds[*]}"
check "$N concurrent flows all echo their $BYTES bytes intact ($ok ok; $(cat "$WORK"/c*.out | grep -c '^fail ') failed)" \
	[ "$ok" = "$N" ]
check "all $N were open at once through both proxies: crd_flows_v3 peaked at $idle_flows + 2 x $N ($peak_flows)" \
	[ "$peak_flows" = $((idle_flows + 2 * N)) ]
for i in "${!PX[@]}"; do
	check "proxy ${PXN[i]} held its $PER flows at once (peak ${peak_fds[i]} descriptors, idle ${IDLE_FDS[i]})" \
		[ "${peak_fds[i]}" -ge $((IDLE_FDS[i] + 2 * PER)) ]
done
logged_all "$PER" "$BYTES"
load_back_to_idle "after $N concurrent flows"
