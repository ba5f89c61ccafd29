#!/usr/bin/env bash
# demo/demo.sh - `make demo`: three inspection services, each served by a
# connredir-proxy, chained on one real curl request: each sees the flow
# once, in weight order, with the original application and destination, and
# logs it as a JSON line (with what its http inspector read). Then a request
# the first service's block rule refuses.
#
# Everything happens in a private network namespace (loopback only) and a
# child cgroup made for the demo; both, the demo's connredir instance and
# every process it started are removed on exit, whatever happens.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CRD=$ROOT/build/connredir
PROXY=$ROOT/build/connredir-proxy
TOOLS=$ROOT/build/tools

if [ "$(id -u)" != 0 ]; then
	echo "make demo needs root (it loads BPF programs and makes a cgroup)" >&2
	exit 1
fi
if [ -z "${CRD_DEMO_NETNS:-}" ]; then
	export CRD_DEMO_NETNS=1
	exec unshare --net -- "$0" "$@"
fi
ip link set lo up

CG2=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/self/mounts)
[ -n "$CG2" ] || { echo "demo: no cgroup v2 hierarchy mounted" >&2; exit 1; }
CG=$CG2/connredir-demo-$$
INST=demo$$
WORK=$(mktemp -d /tmp/connredir-demo.XXXXXX)
PIDS=()
bpffs_was=$(stat -f -c %T /sys/fs/bpf 2>/dev/null)

cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
	[ -d "/sys/fs/bpf/connredir/$INST" ] && "$CRD" --instance "$INST" detach >/dev/null
	find "$CG" -depth -type d -exec rmdir {} \; 2>/dev/null
	rm -rf "$WORK"
	if [ "$bpffs_was" != bpf_fs ] &&
		[ -z "$(find /sys/fs/bpf -mindepth 1 ! -name '*.debug' 2>/dev/null)" ]; then
		umount /sys/fs/bpf 2>/dev/null
	fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM
mkdir "$CG"

crd() { "$CRD" --instance "$INST" "$@"; }
in_cg() { # NAME CMD...: start CMD in child cgroup NAME, in the background
	local cg=$CG/$1
	shift
	mkdir -p "$cg"
	(
		echo "$BASHPID" >"$cg/cgroup.procs" || exit 126
		exec "$@"
	) &
	PIDS+=($!)
}
wait_for() { local i; for ((i = 0; i < 100; i++)); do [ -e "$1" ] && return 0; sleep 0.05; done; return 1; }

echo "== connredir demo: a chain of three inspection services =="
echo
echo "-- attach to a fresh cgroup ($CG)"
crd attach "$CG" || exit 1

"$TOOLS/crd-origin" --ready "$WORK/origin.ready" 127.0.0.1:8080 >/dev/null 2>&1 &
PIDS+=($!)
wait_for "$WORK/origin.ready"

echo "-- register three redirect services (higher weight sees the flow first)"
crd service add firewall --proxy 127.0.0.1:15001 --weight 300 --owner-cgroup firewall
crd service add antivirus --proxy 127.0.0.1:15002 --weight 200 --owner-cgroup antivirus
crd service add dlp --proxy 127.0.0.1:15003 --weight 100 --owner-cgroup dlp
echo
crd service list
echo
echo "-- start a connredir-proxy for each, in its own cgroup (its identity)"
start_proxy() { # NAME PORT INSPECT
	in_cg "$1" "$PROXY" --service "$1" --instance "$INST" --listen "127.0.0.1:$2" \
		--inspect "$3" --log "$WORK/$1.log" 2>"$WORK/$1.err"
	for _ in $(seq 1 100); do grep -q "listening on" "$WORK/$1.err" && break; sleep 0.05; done
	printf '   %-10s 127.0.0.1:%s  --inspect %s\n' "$1" "$2" "$3"
}
start_proxy firewall 15001 log,http,tls,block=host:evil.example
start_proxy antivirus 15002 log,http
start_proxy dlp 15003 log
echo
echo "-- an unmodified application: curl http://127.0.0.1:8080/demo (in cgroup 'app')"
mkdir -p "$CG/app"
(
	echo "$BASHPID" >"$CG/app/cgroup.procs"
	exec curl -s --max-time 10 http://127.0.0.1:8080/demo
) >"$WORK/curl.out"
rc=$?
echo "   curl exit status: $rc"
echo "   curl received:    $(cat "$WORK/curl.out")"
echo
for n in firewall antivirus dlp; do
	for _ in $(seq 1 50); do [ -s "$WORK/$n.log" ] && break; sleep 0.05; done
done
jf() { sed -n "s/.*\"$2\":\(\"\([^\"]*\)\"\|\[\([^]]*\)\]\|\([^,}]*\)\).*/\2\3\4/p" <<<"$1"; }
echo "-- what each proxy saw (from the kernel's records and its context):"
hops=0
for n in firewall antivirus dlp; do
	l=$(head -n1 "$WORK/$n.log" 2>/dev/null)
	[ -n "$l" ] || continue
	hops=$((hops + 1))
	printf '   hop %d  %-10s chain=[%s] app=%s(pid %s) orig=%s verdict=%s http=%s\n' \
		"$(($(jf "$l" hop) + 1))" "$n" "$(jf "$l" chain)" "$(jf "$l" app_comm)" \
		"$(jf "$l" app_pid)" "$(jf "$l" orig_dst)" "$(jf "$l" verdict)" \
		"$(jf "$l" http_method) $(jf "$l" http_target) Host=$(jf "$l" http_host)"
done
echo
echo "-- their log lines (the log inspector's JSON, one per flow):"
for n in firewall antivirus dlp; do
	echo "   $n:"
	sed 's/^/     /' "$WORK/$n.log"
done
echo
echo "-- a request the firewall refuses: curl -H 'Host: evil.example' ..."
(
	echo "$BASHPID" >"$CG/app/cgroup.procs"
	exec curl -s --max-time 10 -H 'Host: evil.example' http://127.0.0.1:8080/demo
) >/dev/null
brc=$?
for _ in $(seq 1 50); do [ "$(wc -l <"$WORK/firewall.log")" -ge 2 ] && break; sleep 0.05; done
l=$(sed -n 2p "$WORK/firewall.log")
echo "   curl exit status: $brc (the connection was reset)"
echo "   firewall: verdict=$(jf "$l" verdict) reason=\"$(jf "$l" reason)\""
echo "   antivirus and dlp saw it: $(($(wc -l <"$WORK/antivirus.log") - 1)) and $(($(wc -l <"$WORK/dlp.log") - 1)) times"
echo
echo "-- status"
crd status
echo
if [ "$rc" = 0 ] && [ "$hops" = 3 ] && [ "$brc" != 0 ] && [ "$(jf "$l" verdict)" = block ] &&
	[ "$(cat "$WORK/antivirus.log" "$WORK/dlp.log" | wc -l)" = 2 ]; then
	echo "demo OK: one curl request, three services, each saw it once, in weight order;"
	echo "         one refused by the first, which the others never saw"
else
	echo "demo FAILED" >&2
	exit 1
fi
