#!/usr/bin/env bash
# 06-no-leak: no per-flow state outlives its sockets. After 10,000 redirected
# connections through a two-proxy chain, and connections whose proxy is down
# (refused), have closed, every per-flow map holds what it held before.
. "$(dirname "$0")/../lib.sh"

crd attach "$TEST_CG" >/dev/null || { fail "attach"; exit; }
start_origin 127.0.0.1:8080
start_proxy pa 127.0.0.1:15001
start_proxy pb 127.0.0.1:15002
crd service add A --proxy 127.0.0.1:15001 --weight 2 --owner-cgroup pa >/dev/null
crd service add B --proxy 127.0.0.1:15002 --weight 1 --owner-cgroup pb >/dev/null

before=$(map_counts)
check "maps readable before (pend flows sk conn = $before)" [ -n "$before" ]

bg app "$TOOLS/crd-client" --count 10000 --bytes 32 127.0.0.1 8080 >"$WORK/client.out" 2>&1
wait $BG_PID
check "10,000 connections through the chain succeeded" \
	grep -q "^summary ok=10000 fail=0" "$WORK/client.out"
check "A's proxy saw 10,000 flows" wait_lines "$WORK/pa.log" 10000 20
check "B's proxy saw 10,000 flows" wait_lines "$WORK/pb.log" 10000 20
sleep 2
echo "maps after: $(map_counts)"
crd flows --json | python3 -c '
import json,sys
fl=json.load(sys.stdin)
print(len(fl))
for f in fl[:5]: print(f)'
bpftool -j map dump pinned /sys/fs/bpf/connredir/$INST/crd_flows_v3 | python3 -c '
import json,sys
for e in json.load(sys.stdin)[:8]:
    v=[int(x,16) for x in e["value"]]
    c=int.from_bytes(bytes(v[-16:-8]),"little"); o=int.from_bytes(bytes(v[-8:-4]),"little")
    fl=v[:360]
    print("consumer=%x orphan=%d len=%d" % (c,o,len(v)))'
